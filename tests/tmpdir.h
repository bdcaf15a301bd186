/*
 * tmpdir.h: the one place the tests and benches make their scratch directory: mkdtemp()
 * below $TMPDIR (else /tmp), so a run can be pointed at another disk. Header-only, no
 * cmocka (the benches use it too); never used by the daemon or the CLI.
 */
#ifndef SAKSI_TMPDIR_H
#define SAKSI_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>

/* Makes $TMPDIR/NAME-XXXXXX in dir[0..len); 0, or -1 if the name does not fit or mkdtemp
 * fails. Keep dir short: saksid's ipc:// sockets live below it (108 bytes at most). */
__attribute__((unused)) static int
tmpdir_make(char *dir, size_t len, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(dir, len, "%s/%s-XXXXXX", tmp, name);
	if (n < 0 || (size_t)n >= len || mkdtemp(dir) == NULL)
		return -1;
	return 0;
}

#endif
