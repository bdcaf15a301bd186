/*
 * backup.c: saksi backup, an online copy of a ledger (lib/ledger.c's compacted LMDB copy
 * of one read snapshot) that saksi verify accepts, taken while saksid keeps appending.
 * It must never write into the live ledger or over an existing copy.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "datakey.h"

int
cmd_backup(int argc, char **argv)
{
	static const char usage[] = "saksi backup --ledger DIR -o OUTDIR";
	static const struct option opts[] = {
		{ "ledger", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *out = NULL;
	saksi_ledger_txn *txn = NULL;
	saksi_ledger *l;
	uint64_t size, ck_size = 0;
	char *note = NULL;
	size_t len;
	saksi_err e;
	int c, have_ck, have_dk = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'l': dir = optarg; break;
		case 'o': out = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || out == NULL)
		xusage(usage, "give both --ledger and -o");

	l = xledger_open_ro(dir);
	e = saksi_ledger_backup(l, out);
	saksi_ledger_close(l);
	if (e == SAKSI_ERR_EXISTS)
		xdie("%s exists and is not an empty directory; give a new one", out);
	if (e == SAKSI_ERR_PERM)
		xdie("cannot back up %s to %s: make sure the parent of %s is writable and run "
		    "as the ledger's owner (the copy must register with saksid's lock file)",
		    dir, out, out);
	if (e == SAKSI_ERR_FULL)
		xdie("cannot back up %s to %s: the disk is full; nothing was left behind",
		    dir, out);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot back up %s to %s", dir, out);

	/*
	 * The participants' data-key slots go with it, copied after the snapshot so that
	 * every slot the copy refers to is there; the master file never does (FORMATS.md
	 * 7.2): the copy's personal data opens only while the appliance's master is the one
	 * that wrapped it, which is what makes a later forget reach old backups too.
	 */
	{
		char src[4096], dst[4096];

		snprintf(src, sizeof(src), "%s/datakeys", dir);
		snprintf(dst, sizeof(dst), "%s/datakeys", out);
		e = saksi_dk_copy(src, dst);
		if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
			xdie_err(e, "the ledger is copied to %s, but its data keys %s are not; "
			    "remove %s and run the backup again", out, src, out);
		have_dk = e == SAKSI_OK;
	}

	/* Describe what was written, read back from the copy itself. */
	l = xledger_open_ro(out);
	if ((e = saksi_ledger_begin(l, 0, &txn)) != SAKSI_OK)
		xdie_err(e, "cannot read the copy %s", out);
	size = saksi_ledger_size(txn);
	e = saksi_ledger_ckpt_latest(txn, &ck_size, &note, &len);
	saksi_ledger_abort(txn);
	saksi_ledger_close(l);
	free(note);
	if (e != SAKSI_OK && e != SAKSI_ERR_NOT_FOUND)
		xdie_err(e, "cannot read the latest checkpoint of the copy %s", out);
	have_ck = e == SAKSI_OK;
	printf("backup: %s\n", out);
	printf("entries: %" PRIu64 "\n", size);
	if (have_ck)
		printf("latest checkpoint: size %" PRIu64 "\n", ck_size);
	else
		printf("latest checkpoint: none\n");
	printf("data keys: %s\n", have_dk ? "copied (they open only with this appliance's "
	    "current datakeys.master)" : "none (a ledger without per-participant keys)");
	return SX_OK;
}
