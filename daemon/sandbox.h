/*
 * sandbox.h: saksid's own confinement, applied by main.c in this order: no core dump before
 * a key is read; the account to drop to, looked up while the account files are readable;
 * once every key, file and bound socket is there (the server threads start after it): drop root, no_new_privs, and a seccomp
 * allowlist whose default is to kill the process. Never relaxes anything once applied.
 */
#ifndef SAKSID_SANDBOX_H
#define SAKSID_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "saksi_error.h"

typedef struct saksid_sandbox {
	int sb_root;       /* 1: started with effective uid 0 */
	int sb_drop;       /* 1: drop to sb_uid/sb_gid (root, with `user`) */
	uid_t sb_uid;
	gid_t sb_gid;
	char sb_user[33];  /* the account's name, for messages */
} saksid_sandbox;

/*
 * No core file (RLIMIT_CORE 0, soft and hard) and not dumpable (no core, no ptrace by
 * another process of the same user, /proc/PID owned by root). Call before any secret is
 * in memory. SAKSI_ERR_IO if the kernel refuses.
 */
saksi_err saksid_sandbox_nodump(void);

/*
 * Decides what saksid will be. Not root: no change (sb_drop 0), whatever user says; the
 * service manager chose the account. Root with user: looks up the account (and group,
 * else the user's own group) now. Root without user: SAKSI_ERR_PERM unless allow_root.
 * SAKSI_ERR_NOT_FOUND for an account that does not exist, SAKSI_ERR_INVAL for a user or
 * group that is root (uid or gid 0). errbuf says what to do.
 */
saksi_err saksid_sandbox_prepare(const char *user, const char *group, int allow_root,
                                 saksid_sandbox *sb, char *errbuf, size_t errlen);

/*
 * Gives path (never followed if a symbolic link) to the drop account: user sb_uid, group
 * sb_gid. No-op without a drop. SAKSI_ERR_IO (errbuf names the path) if chown fails.
 */
saksi_err saksid_sandbox_chown(const saksid_sandbox *sb, const char *path, char *errbuf,
                               size_t errlen);

/*
 * Drops root for good, in every thread: supplementary groups to sb_gid alone, then real,
 * effective and saved gid and uid; then checks that uid 0 cannot be had back and makes the
 * process not dumpable again (a credential change resets that flag). No-op without a
 * drop. SAKSI_ERR_PERM (errbuf says which step) on any failure: saksid must then stop.
 */
saksi_err saksid_sandbox_drop(const saksid_sandbox *sb, char *errbuf, size_t errlen);

/* PR_SET_NO_NEW_PRIVS: no exec can ever add a privilege. SAKSI_ERR_IO if refused. */
saksi_err saksid_sandbox_nnp(void);

/*
 * Installs saksid's system call allowlist in every thread of the process (TSYNC) and in
 * every thread started later; any other call kills the whole process with SIGSYS. Sets
 * no_new_privs too. Built with SAKSI_SANITIZE, the list also has what the ASan/LSan/UBSan
 * runtimes call (LeakSanitizer's stop-the-world at exit). unlink(2) fails with ENOENT;
 * unlinkat(2) of a file (not a directory) is allowed only relative to one of the ndirs
 * directory descriptors in dirs (the ipc sockets' directories: saksid removes its socket
 * files at stop). SAKSI_ERR_INVAL for more than SAKSID_SANDBOX_DIRS_MAX dirs,
 * SAKSI_ERR_NOMEM, or SAKSI_ERR_IO (errbuf says why) if the kernel refuses the filter.
 */
#define SAKSID_SANDBOX_DIRS_MAX 16
saksi_err saksid_sandbox_seccomp(const int *dirs, size_t ndirs, char *errbuf,
                                 size_t errlen);

#endif
