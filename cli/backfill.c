/*
 * backfill.c: saksi backfill-links, the one-time maintenance of a ledger written before
 * the data-key links (FORMATS.md 7.3): links made and store-key disclosures re-sealed
 * under their participant's data key (daemon/shred.h), then the file compacted so that
 * no store-key copy stays in its free pages. Runs only while saksid is stopped, and never
 * prints a disclosure or a token.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "datakey.h"
#include "ledger.h"
#include "shred.h"

/*
 * 1 if a process has the LMDB environment in dir open: each one holds a read lock on the
 * first byte of lock.mdb (LMDB's own check of whether it is alone). No lock file: none.
 */
static int
env_in_use(const char *dir)
{
	char *path = xmalloc(strlen(dir) + sizeof("/lock.mdb"));
	struct flock fl;
	int fd, busy;

	sprintf(path, "%s/lock.mdb", dir);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		xdie("cannot open %s: %s", path, strerror(errno));
	free(path);
	if (fd < 0)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	busy = fcntl(fd, F_GETLK, &fl) != 0 || fl.l_type != F_UNLCK;
	close(fd);
	return busy;
}

/* Removes the directory tmp of a compacted copy (data.mdb, lock.mdb), if it is there. */
static void
remove_dir(const char *tmp)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	char path[4200];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, names[i]);
		if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR)
			xdie("cannot remove %s: %s", path, strerror(errno));
	}
	if (rmdir(tmp) != 0 && errno != ENOENT)
		xdie("cannot remove %s (left by an interrupted run?): %s", tmp, strerror(errno));
}

/* What a compaction killed half way left in state_dir: its copy, and the temporary
 * sibling saksi_ledger_backup makes it in (".ledger.compact.backup-XXXXXX"). */
static void
remove_stale(const char *state_dir, const char *tmp)
{
	static const char pfx[] = ".ledger.compact.backup-";
	struct dirent *de;
	char path[4200];
	DIR *d;

	remove_dir(tmp);
	if ((d = opendir(state_dir)) == NULL)
		xdie("cannot read %s: %s", state_dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, pfx, sizeof(pfx) - 1) == 0) {
			snprintf(path, sizeof(path), "%s/%s", state_dir, de->d_name);
			remove_dir(path);
		}
	closedir(d);
}

static void
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0)
		xdie("cannot sync %s: %s", dir, strerror(errno));
	close(fd);
}

/*
 * The ledger's data.mdb replaced by a compacted copy of itself (LMDB copies live pages
 * only), with the old file's owner and mode, by one rename: a kill before it leaves the
 * old file, after it the new one, each a whole ledger. l is closed.
 */
static void
compact(saksi_ledger *l, const char *ledger_dir, const char *state_dir)
{
	char *tmp = xmalloc(strlen(state_dir) + sizeof("/ledger.compact"));
	char *from = xmalloc(strlen(state_dir) + sizeof("/ledger.compact/data.mdb"));
	char *to = xmalloc(strlen(ledger_dir) + sizeof("/data.mdb"));
	struct stat st;
	saksi_err e;

	sprintf(tmp, "%s/ledger.compact", state_dir);
	sprintf(from, "%s/data.mdb", tmp);
	sprintf(to, "%s/data.mdb", ledger_dir);
	remove_stale(state_dir, tmp);
	e = saksi_ledger_backup(l, tmp);
	saksi_ledger_close(l);
	if (e == SAKSI_ERR_FULL)
		xdie("cannot compact %s: the disk is full (the links are back-filled; free "
		    "space and run this again to compact)", ledger_dir);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot compact %s into %s", ledger_dir, tmp);
	if (stat(to, &st) != 0)
		xdie("%s: %s", to, strerror(errno));
	if (chown(from, st.st_uid, st.st_gid) != 0 || chmod(from, st.st_mode & 07777) != 0)
		xdie("cannot give %s the owner and mode of %s: %s", from, to, strerror(errno));
	if (rename(from, to) != 0)
		xdie("cannot move %s to %s: %s", from, to, strerror(errno));
	fsync_dir(ledger_dir);
	remove_dir(tmp);
	free(tmp);
	free(from);
	free(to);
}

int
cmd_backfill_links(int argc, char **argv)
{
	static const char usage[] = "saksi backfill-links [--config FILE] [--batch N] "
	    "[--steps N] [--no-compact]";
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'b' },
		{ "steps", required_argument, NULL, 's' },
		{ "no-compact", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = "/etc/saksi/saksid.conf";
	saksid_config cf;
	saksi_ledger_opts lo;
	saksi_ledger *l;
	saksi_ledger_txn *txn;
	saksi_seckey *store;
	saksi_datakeys *dk = NULL;
	saksid_shred *s = NULL;
	saksid_backfill_stats bst;
	char err[512] = "", *ledger_dir, *slots, *master;
	uint64_t batch = 512, steps = 0, taken = 0, mark = 0, from = 0, size = 0;
	int c, no_compact = 0, done = 0;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'b':
			batch = xparse_u64(optarg, "--batch");
			if (batch == 0 || batch > 1000000)
				xusage(usage, "--batch must be 1..1000000 entries");
			break;
		case 's':
			steps = xparse_u64(optarg, "--steps");
			if (steps == 0)
				xusage(usage, "--steps must be 1 or more");
			break;
		case 'n': no_compact = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);

	memset(&cf, 0, sizeof(cf));
	if ((e = saksid_config_load(config, &cf, err, sizeof(err))) != SAKSI_OK)
		xdie("%s", err[0] != '\0' ? err : saksi_strerror(e));
	ledger_dir = xmalloc(strlen(cf.cf_state_dir) + sizeof("/ledger"));
	sprintf(ledger_dir, "%s/ledger", cf.cf_state_dir);
	/* One writer, and the compaction replaces the file under it: saksid must be
	 * stopped (and so must anything else that has the ledger open). */
	if (env_in_use(ledger_dir))
		xdie("the ledger %s is open in another process (saksid?): stop saksid "
		    "(systemctl stop saksid) and run this again", ledger_dir);
	store = xseckey_load(cf.cf_store_key, NULL);
	if (saksi_seckey_kind(store) != SAKSI_KEY_SYM)
		xdie("store_key %s is not a symmetric key", cf.cf_store_key);
	slots = xmalloc(strlen(ledger_dir) + sizeof("/datakeys"));
	master = xmalloc(strlen(cf.cf_state_dir) + sizeof("/datakeys.master"));
	sprintf(slots, "%s/datakeys", ledger_dir);
	sprintf(master, "%s/datakeys.master", cf.cf_state_dir);
	e = saksi_dk_open(slots, master, store, 0, 0, &dk);
	if (e == SAKSI_ERR_NOT_FOUND)
		xdie("%s has no data keys (%s): start saksid once, which makes them, and "
		    "stop it", ledger_dir, slots);
	if (e == SAKSI_ERR_KEY)
		xdie("the data keys %s do not open with store_key %s", master, cf.cf_store_key);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot read the data keys %s, %s", slots, master);
	memset(&lo, 0, sizeof(lo));
	lo.lo_map_size = cf.cf_map_size_mb << 20;
	lo.lo_dict_after = cf.cf_dict_after;
	if ((e = saksi_ledger_open(ledger_dir, NULL, NULL, &lo, &l)) != SAKSI_OK)
		xdie_err(e, "cannot open the ledger %s", ledger_dir);
	if ((e = saksid_shred_new(dk, store, &s)) != SAKSI_OK)
		xdie_err(e, "cannot use the data keys");

	memset(&bst, 0, sizeof(bst));
	while (!done && (steps == 0 || taken < steps)) {
		if ((e = saksi_ledger_begin(l, 1, &txn)) != SAKSI_OK)
			xdie_err(e, "ledger %s", ledger_dir);
		size = saksi_ledger_size(txn);
		if (taken == 0 && (e = saksid_shred_backfill_mark(txn, &from)) != SAKSI_OK) {
			saksi_ledger_abort(txn);
			xdie_err(e, "ledger %s", ledger_dir);
		}
		e = saksid_shred_backfill_step(s, txn, (unsigned)batch, &mark, &done, &bst);
		if (e != SAKSI_OK) {
			saksi_ledger_abort(txn);
			xdie_err(e, "back-fill at entry %" PRIu64 " of %s (what was done stays "
			    "done: run this again to go on)", mark, ledger_dir);
		}
		if (done) {
			saksi_ledger_abort(txn);
			break;
		}
		if ((e = saksi_ledger_commit(txn)) != SAKSI_OK)
			xdie_err(e, "back-fill at entry %" PRIu64 " of %s (what was done stays done: "
			    "run this again to go on)", mark, ledger_dir);
		taken++;
		fprintf(stderr, "saksi: links back-filled below entry %" PRIu64 " of %" PRIu64
		    "\n", mark, size);
	}
	printf("links back-filled from entry %" PRIu64 " to %" PRIu64 " of %" PRIu64 ": %"
	    PRIu64 " events, %" PRIu64 " ids linked, %" PRIu64 " disclosures re-sealed from "
	    "the store key under their participant's data key, %" PRIu64 " left under the "
	    "store key (no participant with a data key), %" PRIu64 " forgotten\n", from,
	    mark, size, bst.bf_events, bst.bf_links, bst.bf_resealed, bst.bf_store_left,
	    bst.bf_unopened);
	saksid_shred_free(s);
	saksi_dk_close(dk);
	if (!done) {
		saksi_ledger_close(l);
		printf("stopped after %" PRIu64 " step(s): run this again to go on\n", taken);
	} else if (no_compact) {
		saksi_ledger_close(l);
		printf("done; not compacted: the store-key copies of what was re-sealed stay "
		    "in free pages until LMDB reuses them\n");
	} else {
		/* Again, just before the file is replaced: a saksid started meanwhile would
		 * keep writing to the old one (F_GETLK sees other processes' locks only). */
		if (env_in_use(ledger_dir))
			xdie("the ledger %s was opened by another process (saksid?) while the "
			    "links were back-filled: stop it and run this again to compact",
			    ledger_dir);
		compact(l, ledger_dir, cf.cf_state_dir);
		printf("done; %s compacted: no free page holds an old copy\n", ledger_dir);
	}
	saksi_seckey_free(store);
	free(slots);
	free(master);
	free(ledger_dir);
	saksid_config_free(&cf);
	return SX_OK;
}
