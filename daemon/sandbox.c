/*
 * sandbox.c: drops root, core dumps and every system call saksid does not make. The
 * allowlist is the daemon's steady state (serve, commit, reload rules, stop), found by
 * tracing its whole test suite; it must never grow a call that opens a new way out
 * (exec, ptrace, new files for writing, raw sockets) without a reason written next to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

__attribute__((format(printf, 4, 5))) static saksi_err
sb_fail(saksi_err e, char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return e;
}

saksi_err
saksid_sandbox_nodump(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return SAKSI_ERR_IO;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return SAKSI_ERR_IO;
	return SAKSI_OK;
}

saksi_err
saksid_sandbox_nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return SAKSI_ERR_IO;
	return SAKSI_OK;
}

saksi_err
saksid_sandbox_prepare(const char *user, const char *group, int allow_root,
                       saksid_sandbox *sb, char *errbuf, size_t errlen)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char buf[16384];
	int rc;

	if (sb == NULL)
		return SAKSI_ERR_INVAL;
	memset(sb, 0, sizeof(*sb));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	sb->sb_root = geteuid() == 0;
	if (!sb->sb_root)
		return SAKSI_OK;
	if (user == NULL) {
		if (allow_root)
			return SAKSI_OK;
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "started as root without "
		               "`user`: set user = ACCOUNT (an unprivileged account, e.g. saksi) "
		               "to drop root once the keys and sockets are open, or allow_root = "
		               "yes to keep root");
	}
	rc = getpwnam_r(user, &pw, buf, sizeof(buf), &pwp);
	if (pwp == NULL)
		return sb_fail(rc == 0 ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO, errbuf, errlen,
		               "user %s: %s", user, rc == 0 ? "no such account (create it, e.g. "
		               "useradd --system saksi)" : strerror(rc));
	if (pw.pw_uid == 0)
		return sb_fail(SAKSI_ERR_INVAL, errbuf, errlen, "user %s has uid 0: name an "
		               "unprivileged account", user);
	sb->sb_uid = pw.pw_uid;
	sb->sb_gid = pw.pw_gid;
	snprintf(sb->sb_user, sizeof(sb->sb_user), "%s", user);
	if (group != NULL) {
		rc = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
		if (grp == NULL)
			return sb_fail(rc == 0 ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO, errbuf,
			               errlen, "group %s: %s", group, rc == 0 ? "no such group" :
			               strerror(rc));
		sb->sb_gid = gr.gr_gid;
	}
	if (sb->sb_gid == 0)
		return sb_fail(SAKSI_ERR_INVAL, errbuf, errlen, "%s %s has gid 0: name an "
		               "unprivileged group", group != NULL ? "group" : "the group of user",
		               group != NULL ? group : user);
	sb->sb_drop = 1;
	return SAKSI_OK;
}

saksi_err
saksid_sandbox_chown(const saksid_sandbox *sb, const char *path, char *errbuf,
                     size_t errlen)
{
	if (sb == NULL || path == NULL)
		return SAKSI_ERR_INVAL;
	if (!sb->sb_drop)
		return SAKSI_OK;
	if (fchownat(AT_FDCWD, path, sb->sb_uid, sb->sb_gid, AT_SYMLINK_NOFOLLOW) != 0)
		return sb_fail(SAKSI_ERR_IO, errbuf, errlen, "cannot give %s to user %s: %s",
		               path, sb->sb_user, strerror(errno));
	return SAKSI_OK;
}

saksi_err
saksid_sandbox_drop(const saksid_sandbox *sb, char *errbuf, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (sb == NULL)
		return SAKSI_ERR_INVAL;
	if (!sb->sb_drop)
		return SAKSI_OK;
	/* Groups first: once the uid is gone, setgroups and setresgid are not allowed. glibc
	 * applies each of these to every thread of the process. */
	if (setgroups(1, &sb->sb_gid) != 0)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "setgroups: %s", strerror(errno));
	if (setresgid(sb->sb_gid, sb->sb_gid, sb->sb_gid) != 0)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "setresgid %u: %s",
		               (unsigned)sb->sb_gid, strerror(errno));
	if (setresuid(sb->sb_uid, sb->sb_uid, sb->sb_uid) != 0)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "setresuid %u: %s",
		               (unsigned)sb->sb_uid, strerror(errno));
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != sb->sb_uid || eu != sb->sb_uid || su != sb->sb_uid ||
	    rg != sb->sb_gid || eg != sb->sb_gid || sg != sb->sb_gid)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "the ids did not change to "
		               "%u:%u", (unsigned)sb->sb_uid, (unsigned)sb->sb_gid);
	/* The proof, not the hope: uid 0 must be out of reach now. */
	if (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "root could be regained after "
		               "dropping to user %s", sb->sb_user);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return sb_fail(SAKSI_ERR_PERM, errbuf, errlen, "PR_SET_DUMPABLE: %s",
		               strerror(errno));
	return SAKSI_OK;
}

/*
 * The calls allowed without conditions. Grouped by who needs them; SCMP_SYS names a call
 * at compile time, so a typo does not build.
 */
static const int sb_plain[] = {
	/* glibc malloc, thread stacks, libsodium's guarded pages (sodium_malloc/free),
	 * LMDB's map (msync; munmap/mmap on a map resize). mmap and mprotect: below. */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mlock), SCMP_SYS(munlock), SCMP_SYS(msync),
	/* Threads and their synchronisation (pthread_create: clone below). */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	/* The ingest workers lower their own priority (server.c, worker_nice). */
	SCMP_SYS(getpriority), SCMP_SYS(setpriority),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(gettid), SCMP_SYS(getpid),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	/* Signals: sigwait on TERM/INT/HUP in main, glibc's internal setxid/cancel. */
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rt_sigtimedwait), SCMP_SYS(restart_syscall), SCMP_SYS(sigaltstack),
	/* Time (normally the vDSO; these when it falls back) and waits. */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	/* I/O on descriptors already open: the ledger (LMDB: pread/pwrite/fdatasync,
	 * fcntl locks), the sockets, stderr and syslog. */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fcntl), SCMP_SYS(flock),
	SCMP_SYS(fdatasync), SCMP_SYS(fsync),
	/* SIGHUP: the rules file and the schemas directory are read again. */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(getdents64),
	SCMP_SYS(stat), SCMP_SYS(lstat),
	/* nanomsg: its worker's epoll and eventfds, connections accepted and served. */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
	SCMP_SYS(epoll_pwait), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(eventfd2),
	SCMP_SYS(accept4), SCMP_SYS(accept), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
	SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown),
	/* syslog(3) reconnects to /dev/log after the log daemon restarted. */
	SCMP_SYS(connect),
	/* libsodium's randombytes. */
	SCMP_SYS(getrandom),
	/* glibc asks the machine's size: qsort (sysinfo, for its merge buffer; the crash
	 * test found it), sysconf (sched_getaffinity), LMDB and zstd (uname). */
	SCMP_SYS(sysinfo), SCMP_SYS(sched_getaffinity), SCMP_SYS(uname),
	/* The status op's disk headroom: statvfs(2) on state_dir. */
	SCMP_SYS(statfs), SCMP_SYS(fstatfs),
};

#ifdef SAKSI_SANITIZE
/*
 * Sanitizer builds only (cmake -DSAKSI_SANITIZE=ON): LeakSanitizer stops the world at exit
 * from a tracer task (clone without CLONE_THREAD, prctl PR_SET_PTRACER/PR_SET_DUMPABLE,
 * ptrace, wait4) and reads /proc/self; the ASan/UBSan runtimes read their own maps and
 * name themselves in reports. A release build never has these.
 */
static const int sb_sanitize[] = {
	SCMP_SYS(clone), SCMP_SYS(prctl), SCMP_SYS(ptrace), SCMP_SYS(wait4),
	SCMP_SYS(waitid), SCMP_SYS(kill), SCMP_SYS(tgkill), SCMP_SYS(getppid),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(getdents),
	SCMP_SYS(process_vm_readv), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(setrlimit), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(dup3), SCMP_SYS(pipe), SCMP_SYS(pipe2),
};
#endif

static int
sb_rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned nargs,
        const struct scmp_arg_cmp *args)
{
	/* A call this architecture does not have (a libseccomp pseudo number) needs no
	 * rule: nothing can make it. */
	if (nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, action, nr, nargs, args);
}

static int
sb_add(scmp_filter_ctx ctx, int nr, unsigned nargs, const struct scmp_arg_cmp *args)
{
	return sb_rule(ctx, SCMP_ACT_ALLOW, nr, nargs, args);
}

saksi_err
saksid_sandbox_seccomp(const int *dirs, size_t ndirs, char *errbuf, size_t errlen)
{
	/* Writing, creating or truncating through a new descriptor is never needed once
	 * started: the ledger's files are open. */
	const scmp_datum_t open_w = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	struct scmp_arg_cmp a[2];
	scmp_filter_ctx ctx;
	int rc = 0;

	if (ndirs > SAKSID_SANDBOX_DIRS_MAX || (ndirs > 0 && dirs == NULL))
		return SAKSI_ERR_INVAL;
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return SAKSI_ERR_NOMEM;
	/* Threads that exist already (nanomsg's worker, the server's threads) get the filter
	 * too; a 32-bit call on a 64-bit kernel kills as well. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) != 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0)
		goto fail;
	for (size_t i = 0; i < sizeof(sb_plain) / sizeof(sb_plain[0]) && rc == 0; i++)
		rc = sb_add(ctx, sb_plain[i], 0, NULL);
	/* No executable memory is ever made after start (W^X, as MemoryDenyWriteExecute). */
	a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(mmap), 1, a);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(mprotect), 1, a);
	/* Files are opened to read only (the rules reload). */
	a[0] = SCMP_A1(SCMP_CMP_MASKED_EQ, open_w, 0);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(open), 1, a);
	a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, open_w, 0);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(openat), 1, a);
#ifdef SAKSI_SANITIZE
	for (size_t i = 0; i < sizeof(sb_sanitize) / sizeof(sb_sanitize[0]) && rc == 0; i++)
		rc = sb_add(ctx, sb_sanitize[i], 0, NULL);
#else
	/* Threads only (CLONE_THREAD): never a new process. */
	a[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(clone), 1, a);
	/* abort() raises SIGABRT on itself: signals to this process only. */
	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid());
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(tgkill), 1, a);
#endif
	/* clone3 passes its flags in memory, which a filter cannot read: it fails with
	 * ENOSYS, and glibc then creates threads with clone. */
	if (rc == 0)
		rc = sb_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
	/* nanomsg removes an ipc socket's file by path when it closes it. A sandboxed
	 * daemon deletes nothing by path (not its ledger either): the call fails with
	 * ENOENT, the one error nanomsg accepts there (it asserts on any other). saksid
	 * removes the socket files itself, by unlinkat relative to the descriptors of their
	 * directories it opened before the filter, never a directory (no AT_REMOVEDIR). */
	if (rc == 0)
		rc = sb_rule(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(unlink), 0, NULL);
	/* An int argument: only its low 32 bits are defined. */
	a[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)AT_FDCWD);
	if (rc == 0)
		rc = sb_rule(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(unlinkat), 1, a);
	for (size_t i = 0; i < ndirs && rc == 0; i++) {
		int dup_fd = 0;

		/* The same directory twice (two sockets in it) needs one rule. */
		for (size_t j = 0; j < i; j++)
			dup_fd |= dirs[j] == dirs[i];
		if (dup_fd || dirs[i] < 0)
			continue;
		a[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)dirs[i]);
		a[1] = SCMP_A2(SCMP_CMP_MASKED_EQ, AT_REMOVEDIR, 0);
		rc = sb_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2, a);
	}
	/* Sockets of the families saksid listens on and logs to: no raw or packet sockets,
	 * no netlink. */
	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(socket), 1, a);
	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(socket), 1, a);
	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_INET6);
	if (rc == 0)
		rc = sb_add(ctx, SCMP_SYS(socket), 1, a);
	if (rc != 0)
		goto fail;
	if ((rc = seccomp_load(ctx)) != 0)
		goto fail;
	seccomp_release(ctx);
	return SAKSI_OK;
fail:
	seccomp_release(ctx);
	return sb_fail(rc == -ENOMEM ? SAKSI_ERR_NOMEM : SAKSI_ERR_IO, errbuf, errlen,
	               "seccomp filter not installed: %s (set seccomp = no to run without "
	               "it)", strerror(rc < 0 ? -rc : rc));
}
