/*
 * syncfault_shim.c: an LD_PRELOAD library for syncfault_test only: wraps fdatasync and
 * fsync so that a test can make the disk's sync of one file fail with EIO at a moment
 * of its choosing. It must never be linked into saksid, the CLI or libsaksi.
 *
 * Environment (read at every call: the daemon's environment does not change):
 *   SAKSI_SHIM_FILE     the file whose syncs may fail (data.mdb), compared by inode
 *   SAKSI_SHIM_TRIGGER  a path: nothing fails until a file exists there (stat)
 *   SAKSI_SHIM_MODE     "syncer": only descriptors opened read-only fail (the ledger's
 *                       own sync descriptor, l_sfd); "commit": only descriptors opened
 *                       for writing (LMDB's, inside mdb_txn_commit); "errseq": a
 *                       writeback error as Linux reports it, once to each open
 *                       descriptor's next sync (by descriptor number, < 1024); else
 *                       every descriptor
 *   SAKSI_SHIM_COUNT    how many calls fail after the trigger (default: every one)
 *   SAKSI_SHIM_HOLD     a path: a call that is to fail waits while a file exists there
 *                       (says "holding" once), so that a test can have requests queue
 *                       up behind a sync in progress; a condition, not a time
 * Every failure is written to stderr (the daemon's log in the tests), so a test can tell
 * that the fault was injected and not merely hoped for. Under saksid's seccomp filter it
 * needs only stat, fstat, fcntl(F_GETFL), nanosleep and write, all allowed (daemon/sandbox.c;
 * not readlink of /proc/self/fd, which only the sanitizers' builds allow);
 * the real call goes by syscall(2), which the filter sees as the same fdatasync/fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The shim's mutable state: failures injected so far (SAKSI_SHIM_COUNT), and the
 * descriptors that have reported the "errseq" error. */
static atomic_long shim_failed;
static atomic_ulong shim_reported[1024 / (8 * sizeof(unsigned long))];

int fdatasync(int fd);
int fsync(int fd);

/* 1 if this call on fd must fail. */
static int
shim_hit(int fd, const char *call)
{
	const char *file = getenv("SAKSI_SHIM_FILE"), *trig = getenv("SAKSI_SHIM_TRIGGER");
	const char *mode = getenv("SAKSI_SHIM_MODE"), *count = getenv("SAKSI_SHIM_COUNT");
	const char *hold = getenv("SAKSI_SHIM_HOLD");
	struct stat st, fst;
	char msg[512];
	int fl, len;
	long k;

	if (file == NULL || trig == NULL || stat(trig, &st) != 0)
		return 0;
	/* The same file by device and inode: fstat and stat pass the filter, readlink of
	 * /proc/self/fd does not (the sanitizers' builds alone allow it). */
	if (stat(file, &st) != 0 || fstat(fd, &fst) != 0 || st.st_dev != fst.st_dev ||
	    st.st_ino != fst.st_ino || (fl = fcntl(fd, F_GETFL)) < 0)
		return 0;
	if (mode != NULL && strcmp(mode, "syncer") == 0 && (fl & O_ACCMODE) != O_RDONLY)
		return 0;
	if (mode != NULL && strcmp(mode, "commit") == 0 && (fl & O_ACCMODE) == O_RDONLY)
		return 0;
	if (mode != NULL && strcmp(mode, "errseq") == 0) {
		unsigned long bit = 1UL << ((unsigned)fd % (8 * sizeof(unsigned long)));

		if (fd < 0 || fd >= 1024 || (atomic_fetch_or(&shim_reported[(unsigned)fd /
		    (8 * sizeof(unsigned long))], bit) & bit) != 0)
			return 0;
	}
	k = atomic_fetch_add(&shim_failed, 1);
	if (count != NULL && k >= atol(count))
		return 0;
	if (hold != NULL && stat(hold, &st) == 0) {
		static const char held[] = "syncfault shim: holding a sync\n";
		struct timespec ts = { 0, 1000 * 1000 };

		(void)!write(2, held, sizeof(held) - 1);
		while (stat(hold, &st) == 0)
			nanosleep(&ts, NULL);
	}
	len = snprintf(msg, sizeof(msg), "syncfault shim: %s(%d %s, %s) fails with EIO (%ld)\n",
	               call, fd, file, (fl & O_ACCMODE) == O_RDONLY ? "read-only" : "read-write",
	               k + 1);
	if (len > 0)
		(void)!write(2, msg, (size_t)len < sizeof(msg) ? (size_t)len : sizeof(msg) - 1);
	return 1;
}

int
fdatasync(int fd)
{
	if (shim_hit(fd, "fdatasync")) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fdatasync, fd);
}

int
fsync(int fd)
{
	if (shim_hit(fd, "fsync")) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}
