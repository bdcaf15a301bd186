/*
 * util.c: the CLI's exit-on-failure helpers (files, numbers, passphrases, keys, ledger).
 * Only the CLI may exit; every message names the file or argument and what to do.
 * Passphrases live only in sodium_malloc memory and are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "client.h"
#include "index.h"

#define PASS_MAX 1024

static void
vmsg(const char *fmt, va_list ap)
{
	fputs("saksi: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
xdie(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(SX_USAGE);
}

void
xfail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(SX_FAIL);
}

void
xusage(const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage);
	exit(SX_USAGE);
}

void
xdie_err(saksi_err e, const char *fmt, ...)
{
	va_list ap;

	fputs("saksi: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e != SAKSI_OK)
		fprintf(stderr, " (%s)", saksi_strerror(e));
	fputc('\n', stderr);
	exit(SX_USAGE);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		xdie("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		xdie("out of memory");
	return p;
}

char *
xread_file(const char *path, size_t max, size_t *len)
{
	int fd, own = 0;
	size_t cap = 4096, n = 0;
	char *buf;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			xdie("cannot open %s: %s", path, strerror(errno));
		own = 1;
	}
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= max)
				xdie("%s is larger than %zu bytes", path, max);
			cap = cap * 2 > max ? max : cap * 2;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				xdie("out of memory");
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			xdie("cannot read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (own)
		close(fd);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

void
xwrite_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			xdie("write failed: %s", strerror(errno));
		p += w;
		len -= (size_t)w;
	}
}

void
xwrite_file_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	char *tmp, *dcopy, *dir;
	size_t tl = strlen(path) + 16;
	int fd, dfd;

	tmp = xmalloc(tl);
	snprintf(tmp, tl, "%s.tmpXXXXXX", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		xdie("cannot create a temporary file next to %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0) {
		unlink(tmp);
		xdie("cannot set the mode of %s: %s", tmp, strerror(errno));
	}
	xwrite_all(fd, buf, len);
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(tmp);
		xdie("cannot write %s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0) {
		int err = errno;

		unlink(tmp);
		xdie("cannot rename %s to %s: %s", tmp, path, strerror(err));
	}
	/* The rename is durable only once the directory is synced. */
	dcopy = xstrdup(path);
	dir = dirname(dcopy);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dcopy);
	free(tmp);
}

uint64_t
xparse_u64(const char *s, const char *what)
{
	uint64_t v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		xdie("%s: expected a non-negative integer, got nothing", what);
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			xdie("%s: expected a non-negative integer, got \"%s\"", what, s);
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			xdie("%s: %s is too large", what, s);
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return v;
}

/*
 * The event schemas when no --schemas is given: the source tree's for a build run where it
 * was built (tests, the demo), else the packaged copy. A packaged binary built elsewhere
 * finds no source tree and so uses what the package installed.
 */
const char *
default_schemas_dir(void)
{
	struct stat st;

	if (stat(SAKSI_SOURCE_SCHEMA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
		return SAKSI_SOURCE_SCHEMA_DIR;
	return SAKSI_INSTALL_SCHEMA_DIR;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
xpass_free(char *p)
{
	if (p != NULL)
		sodium_free(p); /* sodium_free wipes before it frees */
}

char *
xpass_from_file(const char *path)
{
	char *raw, *p;
	size_t n;

	raw = xread_file(path, PASS_MAX, &n);
	/* A passphrase file holds one line; the newline an editor adds is not part of it. */
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	if (memchr(raw, '\n', n) != NULL || memchr(raw, '\0', n) != NULL) {
		sodium_memzero(raw, n);
		free(raw);
		xdie("passphrase file %s must hold a single line", path);
	}
	if ((p = sodium_malloc(n + 1)) == NULL)
		xdie("out of memory");
	memcpy(p, raw, n);
	p[n] = '\0';
	sodium_memzero(raw, n);
	free(raw);
	return p;
}

static char *
read_tty_line(int fd, const char *prompt)
{
	struct termios old, noecho;
	char *p;
	size_t n = 0;
	int restore = 0;

	if ((p = sodium_malloc(PASS_MAX + 1)) == NULL)
		xdie("out of memory");
	xwrite_all(fd, prompt, strlen(prompt));
	if (tcgetattr(fd, &old) == 0) {
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		noecho.c_lflag |= ECHONL;
		restore = tcsetattr(fd, TCSAFLUSH, &noecho) == 0;
	}
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n == PASS_MAX) {
			if (restore)
				tcsetattr(fd, TCSAFLUSH, &old);
			sodium_free(p);
			xdie("passphrase longer than %d bytes", PASS_MAX);
		}
		p[n++] = c;
	}
	p[n] = '\0';
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	return p;
}

char *
xpass_prompt(const char *prompt, int confirm)
{
	char *a, *b;
	int fd;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0)
		xdie("a passphrase is needed and there is no terminal to ask on; "
		    "use --passphrase-file FILE");
	a = read_tty_line(fd, prompt);
	if (confirm) {
		b = read_tty_line(fd, "Passphrase (again): ");
		if (strcmp(a, b) != 0) {
			sodium_free(a);
			sodium_free(b);
			close(fd);
			xdie("the passphrases do not match");
		}
		sodium_free(b);
	}
	close(fd);
	return a;
}

saksi_seckey *
xseckey_load(const char *path, const char *passfile)
{
	saksi_seckey *k = NULL;
	char *pass = NULL;
	int prot;
	saksi_err e;

	prot = saksi_seckey_file_is_protected(path);
	if (prot < 0) {
		if (access(path, F_OK) != 0)
			xdie("cannot open secret key %s: %s", path, strerror(errno));
		xdie("%s is not a saksi secret key file", path);
	}
	if (prot) {
		if (passfile != NULL)
			pass = xpass_from_file(passfile);
		else
			pass = xpass_prompt("Passphrase: ", 0);
	}
	e = saksi_seckey_load(path, pass, &k);
	xpass_free(pass);
	if (e == SAKSI_ERR_PERM)
		xdie("secret key %s is readable by others; run chmod 600 %s", path, path);
	if (e == SAKSI_ERR_PASSPHRASE)
		xdie("cannot decrypt %s: wrong passphrase or damaged file", path);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot load secret key %s", path);
	return k;
}

void
xpubkey_any(const char *path, const char *passfile, saksi_pubkey *pub)
{
	saksi_seckey *k;
	saksi_err e;

	e = saksi_pubkey_load(path, pub);
	if (e == SAKSI_OK)
		return;
	if (access(path, R_OK) != 0)
		xdie("cannot open %s: %s", path, strerror(errno));
	if (saksi_seckey_file_is_protected(path) < 0)
		xdie_err(e, "%s is neither a saksi public nor secret key file", path);
	k = xseckey_load(path, passfile);
	e = saksi_seckey_public(k, pub);
	saksi_seckey_free(k);
	if (e != SAKSI_OK)
		xdie_err(e, "%s has no public half", path);
}

void
xvkey(const char *vkey, const char *vkey_file, saksi_note_verifier *v)
{
	char *buf = NULL, *nl;
	saksi_err e;

	if (vkey != NULL && vkey_file != NULL)
		xdie("give either --vkey or --vkey-file, not both");
	if (vkey == NULL && vkey_file == NULL)
		xdie("the log's verifier key is needed: --vkey VKEY or --vkey-file FILE "
		    "(print it with saksi vkey)");
	if (vkey_file != NULL) {
		buf = xread_file(vkey_file, SAKSI_VKEY_MAX + 2, NULL);
		if ((nl = strchr(buf, '\n')) != NULL)
			*nl = '\0';
		vkey = buf;
	}
	e = saksi_note_vkey_parse(vkey, v);
	if (e != SAKSI_OK)
		xdie_err(e, "not a valid verifier key: %s", vkey);
	free(buf);
}

saksi_keyring *
xkeyring_load(const char *path)
{
	saksi_keyring *kr = NULL;
	char err[256] = "";
	saksi_err e;

	e = saksi_keyring_load(path, &kr, err, sizeof(err));
	if (e != SAKSI_OK) {
		if (err[0] != '\0')
			xdie("keyring %s: %s", path, err);
		xdie_err(e, "cannot load keyring %s", path);
	}
	return kr;
}

/* The keyring branch of sk's key (malloc'd): the scope of what it may query. */
char *
xkey_branch(const char *keyring, const saksi_seckey *sk)
{
	saksi_keyring *kr = xkeyring_load(keyring);
	const saksi_keyring_entry *ke = saksi_keyring_find(kr, saksi_seckey_id(sk));
	char hex[2 * SAKSI_KEYID_LEN + 1], *b;

	if (ke == NULL) {
		keyid_to_hex(saksi_seckey_id(sk), hex);
		xfail("key %s is not in the keyring %s: a supervisor's key must be "
		    "(saksi keyring add --role supervisor)", hex, keyring);
	}
	if ((b = strdup(ke->ke_branch)) == NULL)
		xdie("out of memory");
	saksi_keyring_free(kr);
	return b;
}

saksi_ledger *
xledger_open_ro(const char *dir)
{
	saksi_ledger_opts o;
	saksi_ledger *l = NULL;
	struct stat st;
	saksi_err e;

	if (stat(dir, &st) != 0)
		xdie("cannot open ledger %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		xdie("ledger %s is not a directory", dir);
	memset(&o, 0, sizeof(o));
	o.lo_readonly = 1;
	e = saksi_ledger_open(dir, NULL, NULL, &o, &l);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot open ledger %s", dir);
	return l;
}

saksi_client *
xreader(const char *url, uint64_t timeout, const saksi_note_verifier *v)
{
	saksi_client_opts co;
	saksi_client *cl = NULL;
	saksi_err e;

	memset(&co, 0, sizeof(co));
	co.co_url = url;
	co.co_log = v;
	co.co_timeout_ms = (int)timeout;
	if ((e = saksi_client_open(&co, &cl)) != SAKSI_OK)
		xdie_err(e, "cannot connect to %s", url);
	return cl;
}

void
keyid_to_hex(const uint8_t id[SAKSI_KEYID_LEN], char out[2 * SAKSI_KEYID_LEN + 1])
{
	sodium_bin2hex(out, 2 * SAKSI_KEYID_LEN + 1, id, SAKSI_KEYID_LEN);
}

char *
pubkey_text(const saksi_pubkey *pub, const char *comment)
{
	char b64[128], *out;
	size_t n;
	saksi_err e;

	if ((e = saksi_pubkey_encode(pub, b64, sizeof(b64))) != SAKSI_OK)
		xdie_err(e, "cannot encode the public key");
	n = strlen(comment) + strlen(b64) + 32;
	out = xmalloc(n);
	snprintf(out, n, "untrusted comment: %s\n%s\n", comment, b64);
	return out;
}

/*
 * query, timeline and bundle take personal filters; on the command line a NIK is in
 * /proc/PID/cmdline for every local user to read and in the shell's history, so, as for
 * forget and subject-report, "-" reads it from stdin instead.
 */
void
xfilter_stdin(const char **given, size_t n, char *buf, size_t len, const char *usage)
{
	size_t which = n;
	char *nl;

	for (size_t f = 0; f < n; f++) {
		if (given[f] == NULL || strcmp(given[f], "-") != 0)
			continue;
		if (!saksi_index_field_personal((saksi_index_field)f))
			xusage(usage, "--%s - : only a personal filter is read from stdin",
			    saksi_index_field_name((saksi_index_field)f));
		if (which != n)
			xusage(usage, "only one filter can be read from stdin (-)");
		which = f;
	}
	if (which == n)
		return;
	if (fgets(buf, (int)len, stdin) == NULL)
		xusage(usage, "--%s -: no value on stdin",
		    saksi_index_field_name((saksi_index_field)which));
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	given[which] = buf;
}

int
xfilter_opt(int c, const char *arg, int base, const char **given, const char *usage)
{
	saksi_index_field f;

	if (c < base + SAKSI_IX_NIK || c > base + SAKSI_IX_BOOKING)
		return 0;
	f = (saksi_index_field)(c - base);
	if (given[f] != NULL)
		xusage(usage, "--%s given twice", saksi_index_field_name(f));
	given[f] = arg;
	return 1;
}

uint64_t
xparse_time(const char *s, int end_of_day, const char *what, const char *usage)
{
	struct tm tm;
	const char *rest;
	time_t t;

	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s))
		return xparse_u64(s, what);
	memset(&tm, 0, sizeof(tm));
	if ((rest = strptime(s, "%Y-%m-%d", &tm)) == NULL)
		xusage(usage, "%s: give milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", what);
	if (*rest == '\0') {
		if ((t = timegm(&tm)) < 0)
			xusage(usage, "%s: a date after 1970", what);
		return (uint64_t)t * 1000 + (end_of_day ? 86399999u : 0);
	}
	rest = strptime(rest, "T%H:%M:%SZ", &tm);
	if (rest == NULL || *rest != '\0' || (t = timegm(&tm)) < 0)
		xusage(usage, "%s: give milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", what);
	return (uint64_t)t * 1000 + (end_of_day ? 999u : 0);
}

void
xcase_ref(const char *s, const char *usage)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_./-") != n)
		xusage(usage, "--case: 1 to 64 of A-Z a-z 0-9 _ . / -");
}
