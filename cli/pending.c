/*
 * pending.c: an event the CLI signed and sent but whose receipt has not come back yet,
 * kept in a small file under the user's state so that the next run sends the very same
 * bytes (same seq, same time) and gets saksid's DUPLICATE answer instead of a second
 * event. It must never hold personal data: only events without disclosures use it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

#define PENDING_MAX 8192   /* a pending file is a few hundred bytes */

/* mkdir -p with mode 0700 for what it creates; dies on anything but EEXIST. */
static void
mkdirs(char *path)
{
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			xdie("cannot create %s: %s", path, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
}

char *
pending_path(const char *what, const uint8_t key_id[SAKSI_KEYID_LEN], const char *name)
{
	const char *base = getenv("SAKSI_STATE_DIR"), *xdg = getenv("XDG_STATE_HOME"),
	    *home = getenv("HOME");
	char hex[2 * SAKSI_KEYID_LEN + 1], *dir, *path;
	size_t len;

	/* The user's state (XDG base directories), or SAKSI_STATE_DIR to put it elsewhere. */
	if (base != NULL && base[0] != '\0') {
		dir = xmalloc(strlen(base) + sizeof("/pending"));
		sprintf(dir, "%s/pending", base);
	} else if (xdg != NULL && xdg[0] == '/') {
		dir = xmalloc(strlen(xdg) + sizeof("/saksi/pending"));
		sprintf(dir, "%s/saksi/pending", xdg);
	} else if (home != NULL && home[0] == '/') {
		dir = xmalloc(strlen(home) + sizeof("/.local/state/saksi/pending"));
		sprintf(dir, "%s/.local/state/saksi/pending", home);
	} else
		xdie("no place for the pending %s: set SAKSI_STATE_DIR, XDG_STATE_HOME or HOME",
		    what);
	mkdirs(dir);
	keyid_to_hex(key_id, hex);
	len = strlen(dir) + strlen(what) + strlen(hex) + strlen(name) + 16;
	path = xmalloc(len);
	snprintf(path, len, "%s/%s-%s-%s.json", dir, what, hex, name);
	free(dir);
	return path;
}

int
pending_load(const char *path, uint64_t *seq, uint64_t *time_ms, char **payload)
{
	json_t *root;
	json_int_t s, t;
	const char *p;
	char *text;
	size_t len;

	if (access(path, F_OK) != 0) {
		if (errno == ENOENT)
			return 0;
		xdie("cannot read %s: %s", path, strerror(errno));
	}
	text = xread_file(path, PENDING_MAX, &len);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (root == NULL || json_unpack(root, "{s:I, s:I, s:s}", "seq", &s, "time_ms", &t,
	    "payload", &p) != 0 || s < 1 || t < 0)
		xdie("%s is not a pending event this saksi wrote: look at it, then delete it",
		    path);
	*seq = (uint64_t)s;
	*time_ms = (uint64_t)t;
	*payload = xstrdup(p);
	json_decref(root);
	return 1;
}

void
pending_save(const char *path, uint64_t seq, uint64_t time_ms, const char *payload)
{
	json_t *o = json_pack("{s:I, s:I, s:s}", "seq", (json_int_t)seq, "time_ms",
	    (json_int_t)time_ms, "payload", payload);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text == NULL)
		xdie("out of memory");
	/* Durable before the send: a crash after it must not forget what was sent. */
	xwrite_file_atomic(path, text, strlen(text), 0600);
	free(text);
	json_decref(o);
}

void
pending_done(const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		fprintf(stderr, "saksi: cannot remove %s: %s (remove it: the event is "
		    "answered)\n", path, strerror(errno));
}
