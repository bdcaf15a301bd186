/*
 * fuzz_config.c: libFuzzer target for daemon/config.c (saksid.conf). The input is parsed
 * from the buffer, and the same bytes are loaded from a file: both must agree. A config
 * that parses holds only what config.h allows (absolute paths, URLs under their cap,
 * numbers in range); a refusal names the file and fits on one line.
 */
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char fz_dir[64];
static char fz_file[96];

static void
cleanup(void)
{
	unlink(fz_file);
	rmdir(fz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	FUZZ_SCRATCH(fz_dir, sizeof fz_dir, "saksi-fuzz-config");
	snprintf(fz_file, sizeof fz_file, "%s/saksid.conf", fz_dir);
	atexit(cleanup);
	return 0;
}

static void
check_path(const char *what, const char *p)
{
	FUZZ_CHECK(p != NULL && p[0] == '/', "%s is not an absolute path: %s", what,
	           p ? p : "(null)");
}

static void
check_ok(const saksid_config *cf, const char *path)
{
	size_t i, j;

	FUZZ_CHECK(cf->cf_path != NULL && strcmp(cf->cf_path, path) == 0, "cf_path");
	FUZZ_CHECK(cf->cf_origin != NULL && cf->cf_origin[0] != '\0' &&
	               strlen(cf->cf_origin) <= 255 && strpbrk(cf->cf_origin, " +") == NULL,
	           "origin");
	for (i = 0; cf->cf_origin[i] != '\0'; i++)
		FUZZ_CHECK((unsigned char)cf->cf_origin[i] > 0x20 &&
		               (unsigned char)cf->cf_origin[i] < 0x7f,
		           "origin byte 0x%02x", (unsigned char)cf->cf_origin[i]);
	check_path("state_dir", cf->cf_state_dir);
	check_path("keyring", cf->cf_keyring);
	check_path("log_key", cf->cf_log_key);
	check_path("box_key", cf->cf_box_key);
	check_path("store_key", cf->cf_store_key);
	check_path("schemas_dir", cf->cf_schemas_dir);
	FUZZ_CHECK(cf->cf_nlisten >= 1 && cf->cf_nlisten <= SAKSID_LISTEN_MAX, "nlisten %zu",
	           cf->cf_nlisten);
	for (i = 0; i < cf->cf_nlisten; i++) {
		const char *u = cf->cf_listen[i];

		FUZZ_CHECK(u != NULL && strlen(u) < SAKSID_URL_MAX &&
		               (strncmp(u, "tcp://", 6) == 0 || strncmp(u, "ipc:///", 7) == 0),
		           "listen URL %s", u ? u : "(null)");
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cf->cf_listen[j], u) != 0, "listen URL twice: %s", u);
	}
	FUZZ_CHECK(cf->cf_max_clock_skew_ms >= 1 && cf->cf_max_clock_skew_ms <= 31ull * 86400000,
	           "max_clock_skew_ms %llu", (unsigned long long)cf->cf_max_clock_skew_ms);
	FUZZ_CHECK(cf->cf_group_max >= 1 && cf->cf_group_max <= SAKSID_GROUP_MAX_CAP,
	           "group_max %u", cf->cf_group_max);
	FUZZ_CHECK(cf->cf_group_wait_us <= 1000000, "group_wait_us %u", cf->cf_group_wait_us);
	FUZZ_CHECK(cf->cf_workers >= 1 && cf->cf_workers <= SAKSID_WORKERS_CAP, "workers %u",
	           cf->cf_workers);
	FUZZ_CHECK(cf->cf_map_size_mb <= (1ull << 24), "map_size_mb %zu", cf->cf_map_size_mb);
	FUZZ_CHECK(cf->cf_dict_after <= 1000000000, "dict_after %u", cf->cf_dict_after);
	/* The sandbox keys (daemon/sandbox.h): an account name is never a number, a path or
	 * an option; group needs user; user and allow_root = yes exclude each other. */
	for (i = 0; i < 2; i++) {
		const char *n = i == 0 ? cf->cf_user : cf->cf_group;

		if (n == NULL)
			continue;
		FUZZ_CHECK(n[0] != '\0' && strlen(n) <= 32 && n[0] != '-' &&
		               !(n[0] >= '0' && n[0] <= '9') && strpbrk(n, "/ :\t") == NULL,
		           "account name %s", n);
	}
	FUZZ_CHECK(cf->cf_group == NULL || cf->cf_user != NULL, "group without user");
	FUZZ_CHECK(cf->cf_allow_root == 0 || cf->cf_allow_root == 1, "allow_root %d",
	           cf->cf_allow_root);
	FUZZ_CHECK(cf->cf_seccomp == 0 || cf->cf_seccomp == 1, "seccomp %d", cf->cf_seccomp);
	FUZZ_CHECK(!(cf->cf_allow_root && cf->cf_user != NULL), "user with allow_root");
}

static void
check_err(saksi_err e, const char *err, size_t errlen, const char *path)
{
	size_t n = strnlen(err, errlen), i;

	FUZZ_CHECK(e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_TOO_LARGE, "unexpected code %d", e);
	FUZZ_CHECK(n < errlen && n > 0, "errbuf empty or not terminated");
	FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0 || strlen(path) >= n,
	           "errbuf does not start with the file: %s", err);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(err[i] != '\n' && err[i] != '\r', "line break in errbuf: %s", err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/etc/saksi/saksid.conf", "saksid.conf",
	                                     "/saksid.conf", "conf/../x/saksid.conf" };
	saksid_config cf, cf2;
	char err[512], err2[512];
	const char *path = paths[size % 4];
	char *text;
	saksi_err e, e2;
	int fd;

	if ((text = fuzz_copy(data, size, 0)) == NULL)
		return 0;
	memset(&cf, 0xa5, sizeof cf);
	memset(err, 'x', sizeof err);
	e = saksid_config_parse(path, text, size, &cf, err, sizeof err);
	if (e == SAKSI_OK) {
		check_ok(&cf, path);
		saksid_config_free(&cf);
	} else
		check_err(e, err, sizeof err, path);

	/* The same bytes from a file: saksid_config_load must say the same. */
	fd = open(fz_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_SETUP(fd >= 0);
	FUZZ_SETUP(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
	e = saksid_config_parse(fz_file, text, size, &cf, err, sizeof err);
	e2 = saksid_config_load(fz_file, &cf2, err2, sizeof err2);
	FUZZ_CHECK(e == e2, "parse %d (%s) but load %d (%s)", e, e == SAKSI_OK ? "" : err, e2,
	           e2 == SAKSI_OK ? "" : err2);
	if (e == SAKSI_OK) {
		FUZZ_CHECK(strcmp(cf.cf_origin, cf2.cf_origin) == 0 &&
		               strcmp(cf.cf_state_dir, cf2.cf_state_dir) == 0 &&
		               cf.cf_nlisten == cf2.cf_nlisten &&
		               cf.cf_group_max == cf2.cf_group_max,
		           "parse and load disagree");
		saksid_config_free(&cf);
		saksid_config_free(&cf2);
	} else
		FUZZ_CHECK(strcmp(err, err2) == 0, "messages differ: %s | %s", err, err2);
	free(text);
	return 0;
}
