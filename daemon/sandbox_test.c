/*
 * sandbox_test.c: saksid's confinement, for real: the seccomp filter the daemon installs
 * kills a child that makes a forbidden call (SIGSYS) and lets it do what saksid does; root
 * is dropped for nobody and cannot come back; key memory is read-only; and the real
 * daemon, sandboxed, serves (no request before the sandbox is up), reloads and stops.
 * Parts that need root skip() without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <dirent.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <sodium.h>

#include "keys.h"
#include "note.h"
#include "sandbox.h"
#include "wire.h"
#include "../tests/testutil.h"

#define SAKSID SAKSI_BUILD_DIR "/saksid"
#define SAKSI SAKSI_BUILD_DIR "/saksi"
#define ORIGIN "saksi.test/sandbox"
#define NOBODY 65534

static char errbuf[512];
/* The daemon a test started, so that a failed test does not leave it running. */
static pid_t daemon_pid = -1;

/* How a forked child ended: the exit code, or 1000 + the signal that killed it. */
static int
child_end(pid_t pid)
{
	int st;

	assert_true(pid > 0);
	while (waitpid(pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	assert_true(WIFSIGNALED(st));
	return 1000 + WTERMSIG(st);
}

/* ---- the filter ---- */

enum forbidden {
	F_EXECVE, F_SOCKET_PACKET, F_SOCKET_NETLINK, F_OPEN_WRITE, F_OPEN_CREATE,
	F_MMAP_EXEC, F_MPROTECT_EXEC, F_SETUID, F_BIND, F_CHMOD, F_MOUNT_NS,
	F_FORK, F_PTRACE, F_KILL_OTHER,
	F__COUNT
};
static const char *const forbidden_name[F__COUNT] = {
	"execve", "socket(AF_PACKET)", "socket(AF_NETLINK)", "openat(O_WRONLY)",
	"openat(O_CREAT)", "mmap(PROT_EXEC)", "mprotect(PROT_EXEC)", "setuid", "bind",
	"chmod", "unshare", "fork", "ptrace", "kill(parent)",
};

static void
do_forbidden(enum forbidden f, const char *dir)
{
	char path[256];
	void *p;
	int s;

	snprintf(path, sizeof(path), "%s/x", dir);
	switch (f) {
	case F_EXECVE:
		execl("/bin/true", "true", (char *)NULL);
		break;
	case F_SOCKET_PACKET:
		(void)socket(AF_PACKET, SOCK_RAW, 0);
		break;
	case F_SOCKET_NETLINK:
		(void)socket(AF_NETLINK, SOCK_RAW, 0);
		break;
	case F_OPEN_WRITE:
		(void)open("/dev/null", O_WRONLY);
		break;
	case F_OPEN_CREATE:
		(void)open(path, O_RDONLY | O_CREAT, 0600);
		break;
	case F_MMAP_EXEC:
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		           0);
		break;
	case F_MPROTECT_EXEC:
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
		break;
	case F_SETUID:
		if (setuid(0) == 0)
			_exit(0);
		break;
	case F_BIND:
		if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0) {
			struct sockaddr_un a;

			memset(&a, 0, sizeof(a));
			a.sun_family = AF_UNIX;
			memcpy(a.sun_path, path, strlen(path) < sizeof(a.sun_path) ?
			       strlen(path) : sizeof(a.sun_path) - 1);
			(void)bind(s, (struct sockaddr *)&a, sizeof(a));
		}
		break;
	case F_CHMOD:
		(void)chmod(dir, 0777);
		break;
	case F_MOUNT_NS:
		(void)unshare(0);
		break;
	case F_FORK:
		if (fork() == 0)
			_exit(0);
		break;
	case F_PTRACE:
		(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		break;
	case F_KILL_OTHER:
		(void)kill(getppid(), 0);
		break;
	default:
		break;
	}
}

/* Forks; the child installs saksid's filter (the function the daemon calls), then makes
 * the forbidden call. Returns how the child ended. */
static int
forbidden_in_child(enum forbidden f, const char *dir)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (saksid_sandbox_seccomp(NULL, 0, errbuf, sizeof(errbuf)) != SAKSI_OK)
			_exit(3);
		do_forbidden(f, dir);
		_exit(0);  /* survived: the test fails */
	}
	return child_end(pid);
}

static void
test_forbidden_calls_kill(void **state)
{
	struct scratch *f = *state;

	for (int i = 0; i < F__COUNT; i++) {
		int end;

#ifdef SAKSI_SANITIZE
		/* The sanitizer runtimes need these (sandbox.c, sb_sanitize). */
		if (i == F_FORK || i == F_PTRACE || i == F_KILL_OTHER) {
			print_message("sanitizer build: %s is allowed, not tested\n",
			              forbidden_name[i]);
			continue;
		}
#endif
		end = forbidden_in_child((enum forbidden)i, f->dir);
		if (end != 1000 + SIGSYS)
			fail_msg("%s: child ended with %d, want SIGSYS (%d)", forbidden_name[i],
			         end, 1000 + SIGSYS);
	}
	/* Nothing was created or changed by the calls that were killed. */
	assert_int_equal(access(P(f, 0, "x"), F_OK), -1);
}

static void *
late_thread(void *arg)
{
	int *fds = arg;
	char c;

	/* Waits until the main thread has installed the filter, then asks for a packet
	 * socket (forbidden in every build). */
	if (read(fds[0], &c, 1) != 1)
		return NULL;
	(void)socket(AF_PACKET, SOCK_RAW, 0);
	return NULL;
}

/* A thread that existed before the filter has it too (TSYNC): its forbidden call kills
 * the whole process. */
static void
test_tsync(void **state)
{
	pid_t pid;
	(void)state;

	pid = fork();
	if (pid == 0) {
		pthread_t t;
		int fds[2];

		if (pipe(fds) != 0 || pthread_create(&t, NULL, late_thread, fds) != 0)
			_exit(4);
		if (saksid_sandbox_seccomp(NULL, 0, errbuf, sizeof(errbuf)) != SAKSI_OK)
			_exit(3);
		if (write(fds[1], "x", 1) != 1)
			_exit(5);
		pthread_join(t, NULL);
		_exit(0);
	}
	assert_int_equal(child_end(pid), 1000 + SIGSYS);
}

static void *
thread_ok(void *arg)
{
	*(int *)arg = 1;
	return NULL;
}

/* What saksid does after start keeps working under the filter: threads, memory, random
 * bytes, sockets of its families, read-only opens, time, signals to itself; unlink
 * fails with ENOENT and deletes nothing. */
static void
test_allowed_calls(void **state)
{
	struct scratch *f = *state;
	pid_t pid;

	spit(P(f, 1, "keep"), "k", 1);
	pid = fork();
	if (pid == 0) {
		struct timespec ts;
		pthread_t t;
		uint8_t rnd[16];
		void *p;
		char buf[4];
		int fd, ran = 0;

		if (saksid_sandbox_seccomp(NULL, 0, errbuf, sizeof(errbuf)) != SAKSI_OK)
			_exit(3);
		if (pthread_create(&t, NULL, thread_ok, &ran) != 0 ||
		    pthread_join(t, NULL) != 0 || !ran)
			_exit(10);
		if ((p = malloc(1 << 20)) == NULL)
			_exit(11);
		free(p);
		if ((p = sodium_malloc(64)) == NULL)
			_exit(12);
		sodium_mprotect_readonly(p);
		sodium_free(p);
		randombytes_buf(rnd, sizeof(rnd));
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			_exit(13);
		close(fd);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			_exit(14);
		close(fd);
		if ((fd = open(f->path[1], O_RDONLY | O_CLOEXEC)) < 0 ||
		    read(fd, buf, sizeof(buf)) != 1)
			_exit(15);
		close(fd);
		if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
			_exit(16);
		if (unlink(f->path[1]) != -1 || errno != ENOENT)
			_exit(17);
		if (getuid() != geteuid())
			_exit(18);
		_exit(0);
	}
	assert_int_equal(child_end(pid), 0);
	/* unlink was refused: the file is still there. */
	assert_int_equal(access(f->path[1], F_OK), 0);

	/* unlinkat: a file in a directory named by its descriptor goes; by path it does
	 * not (ENOENT); a directory never, and another descriptor kills. */
	assert_int_equal(mkdir(P(f, 2, "d"), 0700), 0);
	assert_int_equal(mkdir(P(f, 3, "d/sub"), 0700), 0);
	spit(P(f, 4, "d/sock"), "s", 1);
	spit(P(f, 5, "d/kept"), "k", 1);
	for (int step = 0; step < 3; step++) {
		int dfd = open(f->path[2], O_PATH | O_DIRECTORY | O_CLOEXEC);

		assert_true(dfd >= 0);
		pid = fork();
		if (pid == 0) {
			int other = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (other < 0 || saksid_sandbox_seccomp(&dfd, 1, errbuf,
			                                        sizeof(errbuf)) != SAKSI_OK)
				_exit(3);
			if (step == 0) {
				if (unlinkat(dfd, "sock", 0) != 0)
					_exit(20);
				if (unlinkat(AT_FDCWD, f->path[5], 0) != -1 || errno != ENOENT)
					_exit(21);
				_exit(0);
			}
			if (step == 1)
				(void)unlinkat(dfd, "sub", AT_REMOVEDIR);
			else
				(void)unlinkat(other, "kept", 0);
			_exit(0);
		}
		assert_int_equal(child_end(pid), step == 0 ? 0 : 1000 + SIGSYS);
		close(dfd);
	}
	assert_int_equal(access(f->path[4], F_OK), -1);
	assert_int_equal(access(f->path[5], F_OK), 0);
	assert_int_equal(access(f->path[3], F_OK), 0);
	{
		int many[SAKSID_SANDBOX_DIRS_MAX + 1] = { 0 };

		assert_int_equal(saksid_sandbox_seccomp(many, SAKSID_SANDBOX_DIRS_MAX + 1, errbuf,
		                                        sizeof(errbuf)), SAKSI_ERR_INVAL);
		assert_int_equal(saksid_sandbox_seccomp(NULL, 1, errbuf, sizeof(errbuf)),
		                 SAKSI_ERR_INVAL);
	}

	/* abort() still ends the process by SIGABRT (tgkill to itself is allowed). */
	pid = fork();
	if (pid == 0) {
		if (saksid_sandbox_seccomp(NULL, 0, errbuf, sizeof(errbuf)) != SAKSI_OK)
			_exit(3);
		signal(SIGABRT, SIG_DFL);
		abort();
	}
	assert_int_equal(child_end(pid), 1000 + SIGABRT);
}

/* ---- no core, no ptrace ---- */

static void
test_nodump(void **state)
{
	pid_t pid;
	(void)state;

	pid = fork();
	if (pid == 0) {
		struct rlimit rl;

		if (saksid_sandbox_nodump() != SAKSI_OK)
			_exit(3);
		if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(4);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(5);
		if (saksid_sandbox_nnp() != SAKSI_OK ||
		    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(6);
		_exit(0);
	}
	assert_int_equal(child_end(pid), 0);
}

/* ---- root, user, drop ---- */

static void
skip_unless_root(void)
{
	if (geteuid() != 0) {
		print_message("not root: the privilege drop cannot be tested here\n");
		skip();
	}
}

static void
test_prepare(void **state)
{
	saksid_sandbox sb;
	struct passwd *pw;
	pid_t pid;
	(void)state;

	assert_int_equal(saksid_sandbox_prepare(NULL, NULL, 0, NULL, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_INVAL);
	if (geteuid() != 0) {
		/* Not root: no change, whatever the config says. */
		assert_int_equal(saksid_sandbox_prepare("no-such-account-x", NULL, 0, &sb,
		                 errbuf, sizeof(errbuf)), SAKSI_OK);
		assert_int_equal(sb.sb_root, 0);
		assert_int_equal(sb.sb_drop, 0);
		skip_unless_root();
	}
	assert_int_equal(saksid_sandbox_prepare(NULL, NULL, 0, &sb, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_PERM);
	assert_string_equal(errbuf, "started as root without `user`: set user = ACCOUNT (an "
	                    "unprivileged account, e.g. saksi) to drop root once the keys and "
	                    "sockets are open, or allow_root = yes to keep root");
	assert_int_equal(saksid_sandbox_prepare(NULL, NULL, 1, &sb, errbuf, sizeof(errbuf)),
	                 SAKSI_OK);
	assert_int_equal(sb.sb_root, 1);
	assert_int_equal(sb.sb_drop, 0);
	assert_int_equal(saksid_sandbox_prepare("no-such-account-x", NULL, 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_ERR_NOT_FOUND);
	assert_non_null(strstr(errbuf, "user no-such-account-x: no such account"));
	assert_int_equal(saksid_sandbox_prepare("root", NULL, 0, &sb, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_INVAL);
	assert_string_equal(errbuf, "user root has uid 0: name an unprivileged account");
	assert_int_equal(saksid_sandbox_prepare("nobody", "no-such-group-x", 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_ERR_NOT_FOUND);
	assert_string_equal(errbuf, "group no-such-group-x: no such group");
	assert_int_equal(saksid_sandbox_prepare("nobody", "root", 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_ERR_INVAL);
	assert_string_equal(errbuf, "group root has gid 0: name an unprivileged group");
	pw = getpwnam("nobody");
	assert_non_null(pw);
	assert_int_equal(saksid_sandbox_prepare("nobody", NULL, 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_OK);
	assert_int_equal(sb.sb_drop, 1);
	assert_int_equal(sb.sb_uid, pw->pw_uid);
	assert_int_equal(sb.sb_gid, pw->pw_gid);
	assert_string_equal(sb.sb_user, "nobody");

	/* Started as root, then made non-root by the service manager: no change. */
	pid = fork();
	if (pid == 0) {
		if (setresgid(NOBODY, NOBODY, NOBODY) != 0 || setresuid(NOBODY, NOBODY, NOBODY))
			_exit(3);
		if (saksid_sandbox_prepare(NULL, NULL, 0, &sb, NULL, 0) != SAKSI_OK ||
		    sb.sb_root || sb.sb_drop)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(child_end(pid), 0);
}

static void *
drop_watcher(void *arg)
{
	int *fds = arg;
	uid_t r, e, s;
	char c = 0;

	if (read(fds[0], &c, 1) != 1)
		return NULL;
	/* This thread did not call setresuid: glibc changed it with the others. */
	c = getresuid(&r, &e, &s) == 0 && r == NOBODY && e == NOBODY && s == NOBODY &&
	    setuid(0) == -1 ? 'y' : 'n';
	if (write(fds[1], &c, 1) != 1)
		return NULL;
	return NULL;
}

static void
test_drop(void **state)
{
	saksid_sandbox sb;
	pid_t pid;
	(void)state;

	memset(&sb, 0, sizeof(sb));
	assert_int_equal(saksid_sandbox_drop(NULL, errbuf, sizeof(errbuf)), SAKSI_ERR_INVAL);
	/* No drop asked: nothing happens. */
	assert_int_equal(saksid_sandbox_drop(&sb, errbuf, sizeof(errbuf)), SAKSI_OK);
	skip_unless_root();
	assert_int_equal(getuid(), 0);

	assert_int_equal(saksid_sandbox_prepare("nobody", NULL, 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_OK);
	pid = fork();
	if (pid == 0) {
		int to[2], from[2], fds[2];
		gid_t groups[8];
		pthread_t t;
		uid_t r, e, s;
		char c;

		if (pipe(to) != 0 || pipe(from) != 0)
			_exit(3);
		fds[0] = to[0];
		fds[1] = from[1];
		if (pthread_create(&t, NULL, drop_watcher, fds) != 0)
			_exit(4);
		if (saksid_sandbox_drop(&sb, errbuf, sizeof(errbuf)) != SAKSI_OK)
			_exit(5);
		if (getresuid(&r, &e, &s) != 0 || r != NOBODY || e != NOBODY || s != NOBODY)
			_exit(6);
		if (getgroups(8, groups) != 1 || groups[0] != sb.sb_gid)
			_exit(7);
		if (setuid(0) != -1 || errno != EPERM || seteuid(0) != -1 || setgid(0) != -1)
			_exit(8);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(9);
		/* Root's files are out of reach now. */
		if (open("/etc/shadow", O_RDONLY) != -1 || errno != EACCES)
			_exit(10);
		if (write(to[1], "x", 1) != 1 || read(from[0], &c, 1) != 1 || c != 'y')
			_exit(11);
		pthread_join(t, NULL);
		/* Dropping twice is not possible: the second setgroups fails. */
		if (saksid_sandbox_drop(&sb, errbuf, sizeof(errbuf)) != SAKSI_ERR_PERM ||
		    strncmp(errbuf, "setgroups: ", 11) != 0)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(child_end(pid), 0);
}

static void
test_chown(void **state)
{
	struct scratch *f = *state;
	saksid_sandbox sb;
	struct stat st;

	memset(&sb, 0, sizeof(sb));
	spit(P(f, 2, "own"), "x", 1);
	/* No drop: no change. */
	assert_int_equal(saksid_sandbox_chown(&sb, f->path[2], errbuf, sizeof(errbuf)),
	                 SAKSI_OK);
	assert_int_equal(saksid_sandbox_chown(&sb, NULL, errbuf, sizeof(errbuf)),
	                 SAKSI_ERR_INVAL);
	skip_unless_root();
	assert_int_equal(saksid_sandbox_prepare("nobody", NULL, 0, &sb, errbuf,
	                 sizeof(errbuf)), SAKSI_OK);
	assert_int_equal(saksid_sandbox_chown(&sb, f->path[2], errbuf, sizeof(errbuf)),
	                 SAKSI_OK);
	assert_int_equal(stat(f->path[2], &st), 0);
	assert_int_equal(st.st_uid, sb.sb_uid);
	assert_int_equal(st.st_gid, sb.sb_gid);
	/* A symbolic link is given away itself; its target is not touched. */
	spit(P(f, 3, "target"), "t", 1);
	assert_int_equal(symlink(f->path[3], P(f, 4, "link")), 0);
	assert_int_equal(saksid_sandbox_chown(&sb, f->path[4], errbuf, sizeof(errbuf)),
	                 SAKSI_OK);
	assert_int_equal(lstat(f->path[4], &st), 0);
	assert_int_equal(st.st_uid, sb.sb_uid);
	assert_int_equal(stat(f->path[3], &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(saksid_sandbox_chown(&sb, P(f, 5, "missing"), errbuf,
	                 sizeof(errbuf)), SAKSI_ERR_IO);
	assert_non_null(strstr(errbuf, "/missing to user nobody: No such file or directory"));
}

/* ---- secrets ---- */

/* A write to a loaded key's memory faults: it is read-only while idle. */
static void
test_keys_readonly(void **state)
{
	static const int kinds[] = { SAKSI_KEY_SIGN, SAKSI_KEY_BOX, SAKSI_KEY_SYM };
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		saksi_seckey *k = NULL;
		pid_t pid;

		assert_int_equal(saksi_seckey_generate(kinds[i], &k), SAKSI_OK);
		pid = fork();
		if (pid == 0) {
			const uint8_t *p = kinds[i] == SAKSI_KEY_SIGN ? saksi_seckey_ed25519(k) :
			    kinds[i] == SAKSI_KEY_BOX ? saksi_seckey_x25519(k) :
			    saksi_seckey_sym(k);
			/* Deliberately writes through a const pointer: the page must refuse it.
			 * (cmocka catches SIGSEGV; the child must die of it.) */
			signal(SIGSEGV, SIG_DFL);
			*(volatile uint8_t *)(uintptr_t)p ^= 1;
			_exit(0);
		}
		assert_int_equal(child_end(pid), 1000 + SIGSEGV);
		/* sodium_free makes the page writable again to wipe it. */
		saksi_seckey_free(k);
	}
}

/* ---- the real daemon, sandboxed ---- */

static void
cli(struct scratch *f, struct run *r, int want, ...)
{
	va_list ap;

	va_start(ap, want);
	run_v(SAKSI, f->dir, r, NULL, ap);
	va_end(ap);
	if (r->status != want)
		fail_msg("saksi exit %d, want %d\nstdout: %s\nstderr: %s", r->status, want,
		         r->out, r->err);
}

/* Waits (bounded) until the daemon's log holds `what`; fails if it exits first. */
static void
wait_log(pid_t pid, const char *log, const char *what)
{
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		char *text = slurp(log, NULL);
		int found = strstr(text, what) != NULL, st;

		free(text);
		if (found)
			return;
		if (waitpid(pid, &st, WNOHANG) == pid)
			fail_msg("saksid ended before logging \"%s\"", what);
		nanosleep(&ts, NULL);
	}
	fail_msg("saksid never logged \"%s\"", what);
}

/* The value of `key:` in a /proc status file, tabs and all. */
static void
status_value(const char *path, const char *key, char *out, size_t outlen)
{
	char text[8192], *p;
	size_t n = 0;
	ssize_t got;
	int fd;

	/* Read, not slurp: a /proc file has no size to seek to. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	while (n < sizeof(text) - 1 && (got = read(fd, text + n, sizeof(text) - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	text[n] = '\0';
	p = strstr(text, key);
	if (p == NULL)
		fail_msg("no %s in %s", key, path);
	p += strlen(key);
	snprintf(out, outlen, "%.*s", (int)strcspn(p, "\n"), p);
}

/* The value of `key:` in /proc/PID/status. */
static void
proc_status(pid_t pid, const char *key, char *out, size_t outlen)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	status_value(path, key, out, outlen);
}

/*
 * Every thread of pid (/proc/PID/task/TID/status) is under the filter, with no_new_privs,
 * and, if root, as nobody. Returns how many threads it saw.
 */
static int
threads_confined(pid_t pid, int root)
{
	char dir[64], path[384], v[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dir, de->d_name);
		status_value(path, "Seccomp:", v, sizeof(v));
		if (strcmp(v, "\t2") != 0)
			fail_msg("thread %s: Seccomp:%s", de->d_name, v);
		status_value(path, "NoNewPrivs:", v, sizeof(v));
		assert_string_equal(v, "\t1");
		if (root) {
			status_value(path, "Uid:", v, sizeof(v));
			if (strcmp(v, "\t65534\t65534\t65534\t65534") != 0)
				fail_msg("thread %s: Uid:%s", de->d_name, v);
		}
		n++;
	}
	closedir(d);
	return n;
}

/*
 * saksid with the sandbox on (and, as root, user = nobody): submits, a checkpoint, both
 * proofs, get, a SIGHUP rules reload and a clean SIGTERM; then the ledger verifies.
 */
static void
test_daemon_sandboxed(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char vkey[SAKSI_VKEY_MAX + 1], url[256], sock[256], *conf, *line, *log, v[64];
	char *argv[] = { (char *)SAKSID, (char *)"-d", (char *)"-c", NULL, NULL };
	static const uint8_t ckreq[2] = { 1, SAKSI_OP_CHECKPOINT };
	struct stat st;
	int root = geteuid() == 0, early, n;
	void *reply = NULL;
	pid_t pid;
	FILE *cf;

	if (access(SAKSID, X_OK) != 0) {
		print_message("saksid is not built here\n");
		skip();
	}
	/* nobody must reach the state dir: the scratch dir is root's 0700. */
	assert_int_equal(chmod(f->dir, 0755), 0);
	state_init(SAKSI, f, ORIGIN, vkey, sizeof(vkey));
	cli(f, &r, 0, "keygen", "--kind", "sign", "-o", P(f, 1, "p.key"), "--no-passphrase",
	    (char *)NULL);
	run_free(&r);
	cli(f, &r, 0, "keyring", "add", "-r", P(f, 2, "st/keyring.json"), "--name", "kiosk",
	    "--pub", P(f, 8, "p.pub"), "--role", "queue", "--branch", "KC-MAKASSAR",
	    (char *)NULL);
	run_free(&r);
	state_listen(f, url, sizeof(url), sock, sizeof(sock));
	conf = slurp(f->path[4], NULL);
	if (root) {
		/* saksi init ran as root and allowed root: drop to nobody instead. */
		line = strstr(conf, "allow_root = yes\n");
		assert_non_null(line);
		memcpy(line, "#", 1);
	}
	cf = fopen(f->path[4], "w");
	assert_non_null(cf);
	fprintf(cf, "%s%s", conf, root ? "user = nobody\n" : "");
	assert_int_equal(fclose(cf), 0);
	free(conf);

	/* The socket's directory is the drop account's, as systemd's RuntimeDirectory= is:
	 * saksid removes the socket file at stop (and without the filter nanomsg does, and
	 * aborts if it may not). */
	if (root)
		assert_int_equal(chown(P(f, 6, "st"), NOBODY, NOBODY), 0);
	argv[3] = f->path[4];
	/* Issue #6: a client that is there first (it connects as soon as the socket file
	 * exists, so its request reaches saksid before the sandbox is up) is answered only
	 * once saksid serves, after the sandbox line, by threads all under the filter. */
	early = nn_socket(AF_SP, NN_REQ);
	assert_true(early >= 0);
	nn_setsockopt(early, NN_SOL_SOCKET, NN_RECONNECT_IVL, &(int){ 1 }, sizeof(int));
	nn_setsockopt(early, NN_SOL_SOCKET, NN_RCVTIMEO, &(int){ 30000 }, sizeof(int));
	assert_true(nn_connect(early, url) >= 0);
	assert_int_equal(nn_send(early, ckreq, sizeof(ckreq), 0), (int)sizeof(ckreq));
	daemon_pid = pid = spawn_ready(argv, P(f, 5, "saksid.log"), O_TRUNC, sock);
	n = nn_recv(early, &reply, NN_MSG, 0);
	if (n < 3)
		fail_msg("no early reply: %s", nn_strerror(nn_errno()));
	assert_int_equal(((uint8_t *)reply)[1], SAKSI_OP_CHECKPOINT);
	assert_int_equal(((uint8_t *)reply)[2], 0);
	/* Size 1: the keyring entry saksid writes before it serves (FORMATS.md 4, kind 4). */
	assert_true((size_t)n - 3 > strlen(ORIGIN "\n1\n"));
	assert_memory_equal((char *)reply + 3, ORIGIN "\n1\n", strlen(ORIGIN "\n1\n"));
	nn_freemsg(reply);
	nn_close(early);
	wait_log(pid, f->path[5], "serving");
	log = slurp(f->path[5], NULL);
	assert_non_null(strstr(log, root ? "sandbox: dropped root for user nobody, "
	                        "no_new_privs, no core dumps, seccomp on" : "seccomp on"));
	assert_true(strstr(log, "sandbox: ") < strstr(log, "serving"));
	free(log);
	/* main, nanomsg's worker, the receiver, the committer and at least one worker. */
	assert_true(threads_confined(pid, root) >= 5);
	proc_status(pid, "Seccomp:", v, sizeof(v));
	assert_string_equal(v, "\t2");
	proc_status(pid, "NoNewPrivs:", v, sizeof(v));
	assert_string_equal(v, "\t1");
	if (root) {
		proc_status(pid, "Uid:", v, sizeof(v));
		assert_string_equal(v, "\t65534\t65534\t65534\t65534");
		proc_status(pid, "CapEff:", v, sizeof(v));
		assert_string_equal(v, "\t0000000000000000");
		/* The ledger and the socket are nobody's now; the keys stay root's. */
		assert_int_equal(stat(P(f, 6, "st/ledger/data.mdb"), &st), 0);
		assert_int_equal(st.st_uid, NOBODY);
		assert_int_equal(stat(sock, &st), 0);
		assert_int_equal(st.st_uid, NOBODY);
		assert_int_equal(stat(P(f, 6, "st/log.key"), &st), 0);
		assert_int_equal(st.st_uid, 0);
	}

	for (int seq = 1; seq <= 3; seq++) {
		char s[8];

		snprintf(s, sizeof(s), "%d", seq);
		cli(f, &r, 0, "submit", "--url", url, "-k", f->path[1], "--box-pub",
		    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", "queue.checkin", "--seq", s,
		    "--payload", SAKSI_SOURCE_DIR "/schemas/examples/clear/queue.checkin.json",
		    "--schemas", SAKSI_SOURCE_DIR "/schemas/events", "--timeout", "30000",
		    (char *)NULL);
		assert_memory_equal(r.out, "c2sp.org/tlog-proof@v1\n", 23);
		run_free(&r);
	}
	cli(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey, (char *)NULL);
	assert_non_null(strstr(r.out, ORIGIN "\n4\n"));   /* the keyring entry and 3 events */
	run_free(&r);
	cli(f, &r, 0, "prove", "inclusion", "--url", url, "--vkey", vkey, "1", (char *)NULL);
	run_free(&r);
	cli(f, &r, 0, "prove", "consistency", "--url", url, "--vkey", vkey, "1", "3",
	    (char *)NULL);
	run_free(&r);
	cli(f, &r, 0, "get", "--url", url, "--vkey", vkey, "2", (char *)NULL);
	run_free(&r);

	/* SIGHUP: the rules file is read again under the filter (and as nobody). */
	assert_int_equal(kill(pid, SIGHUP), 0);
	wait_log(pid, f->path[5], "reloaded");
	cli(f, &r, 0, "submit", "--url", url, "-k", f->path[1], "--box-pub",
	    P(f, 6, "st/box.pub"), "--vkey", vkey, "--type", "queue.checkin", "--seq", "4",
	    "--payload", SAKSI_SOURCE_DIR "/schemas/examples/clear/queue.checkin.json",
	    "--schemas", SAKSI_SOURCE_DIR "/schemas/events", "--timeout", "30000",
	    (char *)NULL);
	run_free(&r);
	stop_clean(pid);
	/* The socket file is gone, removed through its directory's descriptor. */
	assert_int_equal(access(sock, F_OK), -1);
	log = slurp(f->path[5], NULL);
	assert_non_null(strstr(log, "stopped: "));
	assert_null(strstr(log, "error"));
	free(log);

	cli(f, &r, 0, "verify", "--ledger", P(f, 7, "st/ledger"), "--vkey", vkey, "--keyring",
	    f->path[2], (char *)NULL);
	assert_non_null(strstr(r.out, "ledger intact"));
	run_free(&r);

	/* A second start on the same state, with seccomp = no (the operator's diagnosis):
	 * the ledger (now nobody's) opens, root is still dropped and no_new_privs still
	 * set. */
	cf = fopen(f->path[4], "a");
	assert_non_null(cf);
	fputs("seccomp = no\n", cf);
	assert_int_equal(fclose(cf), 0);
	daemon_pid = pid = spawn_ready(argv, P(f, 5, "saksid.log"), O_TRUNC, sock);
	wait_log(pid, f->path[5], "sandbox: ");
	log = slurp(f->path[5], NULL);
	assert_non_null(strstr(log, "no core dumps, seccomp OFF"));
	assert_null(strstr(log, "may not write the directory"));
	free(log);
	proc_status(pid, "Seccomp:", v, sizeof(v));
	assert_string_equal(v, "\t0");
	proc_status(pid, "NoNewPrivs:", v, sizeof(v));
	assert_string_equal(v, "\t1");
	if (root) {
		proc_status(pid, "Uid:", v, sizeof(v));
		assert_string_equal(v, "\t65534\t65534\t65534\t65534");
	}
	cli(f, &r, 0, "checkpoint", "--url", url, "--vkey", vkey, (char *)NULL);
	/* The same keyring: no second keyring entry. */
	assert_non_null(strstr(r.out, ORIGIN "\n5\n"));
	run_free(&r);
	stop_clean(pid);
}

/* The refusals at start, with their messages: root without user, an unknown user. */
static void
test_daemon_refusals(void **state)
{
	struct scratch *f = *state;
	struct run r;
	char text[1024];
	FILE *cf;

	if (access(SAKSID, X_OK) != 0)
		skip();
	skip_unless_root();
	cli(f, &r, 0, "init", "--dir", P(f, 0, "st"), "--origin", ORIGIN, (char *)NULL);
	run_free(&r);
	snprintf(text, sizeof(text), "origin = %s\nstate_dir = .\nlisten = ipc://x.sock\n"
	         "keyring = keyring.json\nlog_key = log.key\nbox_key = box.key\n"
	         "store_key = store.key\nschemas_dir = %s/schemas/events\n", ORIGIN,
	         SAKSI_SOURCE_DIR);
	cf = fopen(P(f, 1, "st/root.conf"), "w");
	assert_non_null(cf);
	fputs(text, cf);
	assert_int_equal(fclose(cf), 0);
	run_expect(SAKSID, f->dir, &r, 1, NULL, "-d", "-c", f->path[1], (char *)NULL);
	assert_non_null(strstr(r.err, "root.conf: started as root without `user`: set "
	                       "user = ACCOUNT"));
	run_free(&r);
	cf = fopen(P(f, 2, "st/nouser.conf"), "w");
	assert_non_null(cf);
	fprintf(cf, "%suser = no-such-account-x\n", text);
	assert_int_equal(fclose(cf), 0);
	run_expect(SAKSID, f->dir, &r, 1, NULL, "-d", "-c", f->path[2], (char *)NULL);
	assert_non_null(strstr(r.err, "user no-such-account-x: no such account"));
	run_free(&r);
	/* Nothing was made: the refusals come before the ledger. */
	assert_int_equal(access(P(f, 3, "st/ledger"), F_OK), -1);
}

static int
setup(void **state)
{
	return scratch_setup(state, "sandbox");
}

static int
teardown(void **state)
{
	if (daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
	}
	daemon_pid = -1;
	return scratch_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forbidden_calls_kill, setup,
		                                teardown),
		cmocka_unit_test(test_tsync),
		cmocka_unit_test_setup_teardown(test_allowed_calls, setup, teardown),
		cmocka_unit_test(test_nodump),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_drop),
		cmocka_unit_test_setup_teardown(test_chown, setup, teardown),
		cmocka_unit_test(test_keys_readonly),
		cmocka_unit_test_setup_teardown(test_daemon_sandboxed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_daemon_refusals, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
