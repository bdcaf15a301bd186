/*
 * config.c: reads saksid.conf. Strict by design: a typo must stop the daemon at start
 * with file:line, not run it with a default the operator did not mean. Never reads key
 * material: only paths to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

enum cf_type { CF_STR, CF_PATH, CF_URL, CF_UINT, CF_NAME, CF_BOOL };

struct cf_key {
	const char *k_name;
	enum cf_type k_type;
	int k_required;
	uint64_t k_min, k_max;   /* CF_UINT */
};

/* Index order matters: it is the `seen` array's order and the switch in cf_set. */
enum {
	K_ORIGIN, K_STATE_DIR, K_LISTEN, K_KEYRING, K_LOG_KEY, K_BOX_KEY, K_STORE_KEY,
	K_SCHEMAS_DIR, K_SKEW, K_GROUP_MAX, K_GROUP_WAIT, K_WORKERS, K_MAP_SIZE, K_DICT_AFTER,
	K_RULES, K_INDEX_KEY, K_ALERTS_LISTEN, K_ACK_TIMEOUT, K_EVENT_AGE, K_RETENTION_DAYS,
	K_RETENTION_KEY, K_ACCESS_KEY, K_QUERY_AGE,
	K_INFLIGHT, K_QUEUE_MB, K_QUEUE_REQS, K_MAX_CONNS, K_REF_WINDOW, K_REF_THRESHOLD,
	K_USER, K_GROUP, K_ALLOW_ROOT, K_SECCOMP, K_SNAP_EVENTS, K_SNAP_MS, K_INDEX_BATCH,
	K_TRACE, K__COUNT
};

static const struct cf_key cf_keys[K__COUNT] = {
	[K_ORIGIN] = { "origin", CF_STR, 1, 0, 0 },
	[K_STATE_DIR] = { "state_dir", CF_PATH, 1, 0, 0 },
	[K_LISTEN] = { "listen", CF_URL, 1, 0, 0 },
	[K_KEYRING] = { "keyring", CF_PATH, 1, 0, 0 },
	[K_LOG_KEY] = { "log_key", CF_PATH, 1, 0, 0 },
	[K_BOX_KEY] = { "box_key", CF_PATH, 1, 0, 0 },
	[K_STORE_KEY] = { "store_key", CF_PATH, 1, 0, 0 },
	[K_SCHEMAS_DIR] = { "schemas_dir", CF_PATH, 1, 0, 0 },
	[K_SKEW] = { "max_clock_skew_ms", CF_UINT, 0, 1, 31ull * 86400000 },
	[K_GROUP_MAX] = { "group_max", CF_UINT, 0, 1, SAKSID_GROUP_MAX_CAP },
	[K_GROUP_WAIT] = { "group_wait_us", CF_UINT, 0, 0, 1000000 },
	[K_WORKERS] = { "workers", CF_UINT, 0, 1, SAKSID_WORKERS_CAP },
	[K_MAP_SIZE] = { "map_size_mb", CF_UINT, 0, 1, 1ull << 24 },
	[K_DICT_AFTER] = { "dict_after", CF_UINT, 0, 1, 1000000000 },
	[K_RULES] = { "rules", CF_PATH, 0, 0, 0 },
	[K_INDEX_KEY] = { "index_key", CF_PATH, 0, 0, 0 },
	[K_ALERTS_LISTEN] = { "alerts_listen", CF_URL, 0, 0, 0 },
	[K_INFLIGHT] = { "max_inflight_per_key", CF_UINT, 0, 1, 1000000 },
	[K_QUEUE_MB] = { "queue_mb", CF_UINT, 0, 1, 65536 },
	[K_QUEUE_REQS] = { "queue_requests", CF_UINT, 0, 1, 1000000 },
	[K_MAX_CONNS] = { "max_connections", CF_UINT, 0, 16, 65536 },
	[K_REF_WINDOW] = { "refusal_alert_window_s", CF_UINT, 0, 1, 86400 },
	[K_REF_THRESHOLD] = { "refusal_alert_threshold", CF_UINT, 0, 0, 1000000000 },
	[K_ACK_TIMEOUT] = { "alert_ack_timeout_s", CF_UINT, 0, 0, 31ull * 86400 },
	[K_EVENT_AGE] = { "max_event_age_ms", CF_UINT, 0, 1, 366ull * 86400000 },
	[K_RETENTION_DAYS] = { "retention_days", CF_UINT, 0, 0, 36500 },
	[K_RETENTION_KEY] = { "retention_key", CF_PATH, 0, 0, 0 },
	[K_ACCESS_KEY] = { "access_key", CF_PATH, 0, 0, 0 },
	[K_QUERY_AGE] = { "max_query_age_ms", CF_UINT, 0, 1000, 3600000 },
	[K_USER] = { "user", CF_NAME, 0, 0, 0 },
	[K_GROUP] = { "group", CF_NAME, 0, 0, 0 },
	[K_ALLOW_ROOT] = { "allow_root", CF_BOOL, 0, 0, 0 },
	[K_SECCOMP] = { "seccomp", CF_BOOL, 0, 0, 0 },
	[K_SNAP_EVENTS] = { "rules_snapshot_events", CF_UINT, 0, 0, 100000000 },
	[K_SNAP_MS] = { "rules_snapshot_ms", CF_UINT, 0, 0, 86400000 },
	[K_INDEX_BATCH] = { "index_catchup_batch", CF_UINT, 0, 1, 1000000 },
	[K_TRACE] = { "trace_requests", CF_UINT, 0, 0, 1000000 },
};

struct cf_parse {
	const char *p_path;
	char *p_dir;              /* absolute directory of the file, no trailing slash */
	unsigned p_seen[K__COUNT]; /* line of the first occurrence, 0 if none */
	unsigned p_listen_line[SAKSID_LISTEN_MAX];
	char *p_err;
	size_t p_errlen;
};

__attribute__((format(printf, 2, 3))) static saksi_err
cf_fail(struct cf_parse *p, const char *fmt, ...)
{
	va_list ap;

	if (p->p_err != NULL && p->p_errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(p->p_err, p->p_errlen, fmt, ap);
		va_end(ap);
	}
	return SAKSI_ERR_FORMAT;
}

/* The absolute directory holding `path`, so that a daemon started from any cwd (or one
 * that later chdirs) finds the same files. */
static char *
cf_dirname(const char *path)
{
	char cwd[4096];
	const char *slash = strrchr(path, '/');
	char *dir;
	size_t n;

	if (path[0] == '/') {
		n = slash == path ? 1 : (size_t)(slash - path);
		dir = strndup(path, n);
		return dir;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (slash == NULL)
		return strdup(cwd);
	n = (size_t)(slash - path);
	dir = malloc(strlen(cwd) + 1 + n + 1);
	if (dir == NULL)
		return NULL;
	sprintf(dir, "%s/%.*s", cwd, (int)n, path);
	return dir;
}

static char *
cf_join(const struct cf_parse *p, const char *rel)
{
	char *out;
	size_t n;

	if (rel[0] == '/')
		return strdup(rel);
	n = strlen(p->p_dir) + 1 + strlen(rel) + 1;
	if ((out = malloc(n)) == NULL)
		return NULL;
	if (strcmp(p->p_dir, "/") == 0)
		snprintf(out, n, "/%s", rel);
	else
		snprintf(out, n, "%s/%s", p->p_dir, rel);
	return out;
}

/* A C2SP note key name: printable ASCII without space or '+'. */
static int
cf_origin_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c <= 0x20 || c >= 0x7f || c == '+')
			return 0;
	}
	return 1;
}

/* A user or group name as useradd(8) takes it: no path, no option, no number that
 * getpwnam could read as a uid. */
static int
cf_name_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 32 || v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
		      (c == '$' && i == n - 1)))
			return 0;
	}
	return 1;
}

static int
cf_uint(const char *v, uint64_t *out)
{
	uint64_t x = 0;

	if (*v == '\0')
		return 0;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return 0;
		if (x > (UINT64_MAX - (uint64_t)(*v - '0')) / 10)
			return 0;
		x = x * 10 + (uint64_t)(*v - '0');
	}
	*out = x;
	return 1;
}

/* Checks a listen URL and returns it with an ipc:// path made absolute. */
static saksi_err
cf_url(struct cf_parse *p, unsigned line, const char *name, const char *v, char **out)
{
	const char *rest, *colon;
	uint64_t port;
	char *url, *path;

	*out = NULL;
	if (strncmp(v, "ipc://", 6) == 0) {
		rest = v + 6;
		if (*rest == '\0')
			return cf_fail(p, "%s:%u: %s: ipc:// URL has no path", p->p_path, line, name);
		if ((path = cf_join(p, rest)) == NULL)
			return SAKSI_ERR_NOMEM;
		if (strlen(path) + 6 >= SAKSID_URL_MAX) {
			free(path);
			return cf_fail(p, "%s:%u: %s: URL longer than %d bytes", p->p_path,
			               line, name, SAKSID_URL_MAX - 1);
		}
		if ((url = malloc(strlen(path) + 7)) == NULL) {
			free(path);
			return SAKSI_ERR_NOMEM;
		}
		sprintf(url, "ipc://%s", path);
		free(path);
		*out = url;
		return SAKSI_OK;
	}
	if (strncmp(v, "tcp://", 6) == 0) {
		rest = v + 6;
		colon = strrchr(rest, ':');
		if (colon == NULL || colon == rest)
			return cf_fail(p, "%s:%u: %s: tcp:// URL needs host:port", p->p_path,
			               line, name);
		if (!cf_uint(colon + 1, &port) || port < 1 || port > 65535)
			return cf_fail(p, "%s:%u: %s: bad port \"%s\"", p->p_path, line,
			               name, colon + 1);
		if (strlen(v) >= SAKSID_URL_MAX)
			return cf_fail(p, "%s:%u: %s: URL longer than %d bytes", p->p_path,
			               line, name, SAKSID_URL_MAX - 1);
		if ((*out = strdup(v)) == NULL)
			return SAKSI_ERR_NOMEM;
		return SAKSI_OK;
	}
	return cf_fail(p, "%s:%u: %s: \"%s\" is not an ipc:// or tcp:// URL", p->p_path,
	               line, name, v);
}

static saksi_err
cf_set(struct cf_parse *p, saksid_config *cf, int k, unsigned line, const char *v)
{
	const struct cf_key *key = &cf_keys[k];
	char **slot = NULL;
	char *s;
	uint64_t x;
	saksi_err e;

	if (k == K_LISTEN) {
		if (cf->cf_nlisten == SAKSID_LISTEN_MAX)
			return cf_fail(p, "%s:%u: more than %d listen URLs", p->p_path, line,
			               SAKSID_LISTEN_MAX);
		if ((e = cf_url(p, line, key->k_name, v, &s)) != SAKSI_OK)
			return e;
		for (size_t i = 0; i < cf->cf_nlisten; i++) {
			if (strcmp(cf->cf_listen[i], s) == 0) {
				free(s);
				return cf_fail(p, "%s:%u: listen URL already given on line %u",
				               p->p_path, line, p->p_listen_line[i]);
			}
		}
		p->p_listen_line[cf->cf_nlisten] = line;
		cf->cf_listen[cf->cf_nlisten++] = s;
		return SAKSI_OK;
	}
	if (p->p_seen[k] != 0)
		return cf_fail(p, "%s:%u: %s already set on line %u", p->p_path, line,
		               key->k_name, p->p_seen[k]);
	p->p_seen[k] = line;

	switch (key->k_type) {
	case CF_UINT:
		if (!cf_uint(v, &x) || x < key->k_min || x > key->k_max)
			return cf_fail(p, "%s:%u: %s: \"%s\" is not an integer in %llu..%llu",
			               p->p_path, line, key->k_name, v,
			               (unsigned long long)key->k_min,
			               (unsigned long long)key->k_max);
		switch (k) {
		case K_SKEW: cf->cf_max_clock_skew_ms = x; break;
		case K_EVENT_AGE: cf->cf_max_event_age_ms = x; break;
		case K_GROUP_MAX: cf->cf_group_max = (unsigned)x; break;
		case K_GROUP_WAIT: cf->cf_group_wait_us = (unsigned)x; break;
		case K_WORKERS: cf->cf_workers = (unsigned)x; break;
		case K_MAP_SIZE: cf->cf_map_size_mb = (size_t)x; break;
		case K_DICT_AFTER: cf->cf_dict_after = (unsigned)x; break;
		case K_INFLIGHT: cf->cf_max_inflight_per_key = (unsigned)x; break;
		case K_QUEUE_MB: cf->cf_queue_mb = (unsigned)x; break;
		case K_QUEUE_REQS: cf->cf_queue_requests = (unsigned)x; break;
		case K_MAX_CONNS: cf->cf_max_connections = (unsigned)x; break;
		case K_REF_WINDOW: cf->cf_refusal_alert_window_s = x; break;
		case K_REF_THRESHOLD: cf->cf_refusal_alert_threshold = x; break;
		case K_INDEX_BATCH: cf->cf_index_catchup_batch = (unsigned)x; break;
		case K_TRACE: cf->cf_trace_requests = (unsigned)x; break;
		case K_ACK_TIMEOUT: cf->cf_alert_ack_timeout_s = x; break;
		case K_RETENTION_DAYS: cf->cf_retention_days = (unsigned)x; break;
		case K_QUERY_AGE: cf->cf_max_query_age_ms = x; break;
		case K_SNAP_EVENTS: cf->cf_rules_snapshot_events = x; break;
		case K_SNAP_MS: cf->cf_rules_snapshot_ms = x; break;
		default: abort();
		}
		return SAKSI_OK;
	case CF_STR:
		if (!cf_origin_ok(v))
			return cf_fail(p, "%s:%u: origin: \"%s\" is not a valid log name (1..255 "
			               "printable ASCII characters, no space or '+')", p->p_path,
			               line, v);
		if ((cf->cf_origin = strdup(v)) == NULL)
			return SAKSI_ERR_NOMEM;
		return SAKSI_OK;
	case CF_PATH:
		switch (k) {
		case K_STATE_DIR: slot = &cf->cf_state_dir; break;
		case K_KEYRING: slot = &cf->cf_keyring; break;
		case K_LOG_KEY: slot = &cf->cf_log_key; break;
		case K_BOX_KEY: slot = &cf->cf_box_key; break;
		case K_STORE_KEY: slot = &cf->cf_store_key; break;
		case K_SCHEMAS_DIR: slot = &cf->cf_schemas_dir; break;
		case K_RULES: slot = &cf->cf_rules; break;
		case K_INDEX_KEY: slot = &cf->cf_index_key; break;
		case K_RETENTION_KEY: slot = &cf->cf_retention_key; break;
		case K_ACCESS_KEY: slot = &cf->cf_access_key; break;
		default: abort();
		}
		if (strlen(v) >= 4000)
			return cf_fail(p, "%s:%u: %s: path too long", p->p_path, line, key->k_name);
		if ((*slot = cf_join(p, v)) == NULL)
			return SAKSI_ERR_NOMEM;
		return SAKSI_OK;
	case CF_NAME:
		if (!cf_name_ok(v))
			return cf_fail(p, "%s:%u: %s: \"%s\" is not an account name (letters, "
			               "digits, '_', '-', '.'; not starting with a digit)",
			               p->p_path, line, key->k_name, v);
		if ((s = strdup(v)) == NULL)
			return SAKSI_ERR_NOMEM;
		if (k == K_USER)
			cf->cf_user = s;
		else
			cf->cf_group = s;
		return SAKSI_OK;
	case CF_BOOL:
		if (strcmp(v, "yes") == 0)
			x = 1;
		else if (strcmp(v, "no") == 0)
			x = 0;
		else
			return cf_fail(p, "%s:%u: %s: \"%s\" is not yes or no", p->p_path, line,
			               key->k_name, v);
		if (k == K_ALLOW_ROOT)
			cf->cf_allow_root = (int)x;
		else
			cf->cf_seccomp = (int)x;
		return SAKSI_OK;
	case CF_URL:
		/* alerts_listen: the only single-valued URL key. */
		return cf_url(p, line, key->k_name, v, &cf->cf_alerts_listen);
	}
	abort();
}

static int
cf_isblank(char c)
{
	return c == ' ' || c == '\t';
}

static saksi_err
cf_line(struct cf_parse *p, saksid_config *cf, unsigned line, char *s)
{
	char *end, *eq, *kend, *val;
	int k;

	for (char *q = s; *q != '\0'; q++) {
		if (*q == '\r')
			return cf_fail(p, "%s:%u: carriage return in line (save the file with "
			               "Unix line ends)", p->p_path, line);
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return cf_fail(p, "%s:%u: control character in line", p->p_path, line);
	}
	while (cf_isblank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && cf_isblank(end[-1]))
		*--end = '\0';
	if (*s == '\0' || *s == '#')
		return SAKSI_OK;
	if ((eq = strchr(s, '=')) == NULL)
		return cf_fail(p, "%s:%u: expected \"key = value\"", p->p_path, line);
	kend = eq;
	while (kend > s && cf_isblank(kend[-1]))
		kend--;
	*kend = '\0';
	val = eq + 1;
	while (cf_isblank(*val))
		val++;
	for (k = 0; k < K__COUNT; k++)
		if (strcmp(s, cf_keys[k].k_name) == 0)
			break;
	if (k == K__COUNT)
		return cf_fail(p, "%s:%u: unknown key \"%s\"", p->p_path, line, s);
	if (*val == '\0')
		return cf_fail(p, "%s:%u: %s has no value", p->p_path, line, s);
	return cf_set(p, cf, k, line, val);
}

void
saksid_config_free(saksid_config *cf)
{
	if (cf == NULL)
		return;
	free(cf->cf_path);
	free(cf->cf_origin);
	free(cf->cf_state_dir);
	for (size_t i = 0; i < cf->cf_nlisten; i++)
		free(cf->cf_listen[i]);
	free(cf->cf_keyring);
	free(cf->cf_log_key);
	free(cf->cf_box_key);
	free(cf->cf_store_key);
	free(cf->cf_schemas_dir);
	free(cf->cf_rules);
	free(cf->cf_index_key);
	free(cf->cf_retention_key);
	free(cf->cf_access_key);
	free(cf->cf_alerts_listen);
	free(cf->cf_user);
	free(cf->cf_group);
	memset(cf, 0, sizeof(*cf));
}

saksi_err
saksid_config_parse(const char *path, const char *text, size_t len, saksid_config *out,
                    char *errbuf, size_t errlen)
{
	struct cf_parse p;
	saksid_config cf;
	char *buf = NULL;
	size_t off = 0;
	unsigned line = 0;
	long ncpu;
	saksi_err e = SAKSI_OK;

	if (path == NULL || text == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	memset(&p, 0, sizeof(p));
	memset(&cf, 0, sizeof(cf));
	p.p_path = path;
	p.p_err = errbuf;
	p.p_errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (len > SAKSID_CONF_FILE_MAX) {
		cf_fail(&p, "%s: larger than %u bytes", path, SAKSID_CONF_FILE_MAX);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((p.p_dir = cf_dirname(path)) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((cf.cf_path = strdup(path)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	cf.cf_max_clock_skew_ms = 300000;
	cf.cf_max_event_age_ms = 86400000;
	cf.cf_max_query_age_ms = 300000;
	cf.cf_group_max = 512;
	cf.cf_group_wait_us = 1000;
	cf.cf_max_inflight_per_key = 1024;
	cf.cf_queue_mb = 256;
	cf.cf_queue_requests = 4096;
	cf.cf_max_connections = 1024;
	cf.cf_refusal_alert_window_s = 600;
	cf.cf_refusal_alert_threshold = 100;
	cf.cf_alert_ack_timeout_s = 3600;
	cf.cf_seccomp = 1;
	cf.cf_rules_snapshot_events = 10000;
	cf.cf_rules_snapshot_ms = 5000;
	cf.cf_index_catchup_batch = 512;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cf.cf_workers = ncpu < 1 ? 1 : ncpu > SAKSID_WORKERS_CAP ? SAKSID_WORKERS_CAP
	                                                          : (unsigned)ncpu;

	if ((buf = malloc(SAKSID_CONF_LINE_MAX + 1)) == NULL) {
		e = SAKSI_ERR_NOMEM;
		goto out;
	}
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - (text + off)) : len - off;

		line++;
		if (n > SAKSID_CONF_LINE_MAX) {
			e = cf_fail(&p, "%s:%u: line longer than %u bytes", path, line,
			            SAKSID_CONF_LINE_MAX);
			goto out;
		}
		if (memchr(text + off, '\0', n) != NULL) {
			e = cf_fail(&p, "%s:%u: NUL byte in line", path, line);
			goto out;
		}
		memcpy(buf, text + off, n);
		buf[n] = '\0';
		if ((e = cf_line(&p, &cf, line, buf)) != SAKSI_OK)
			goto out;
		off += n + (nl != NULL);
	}
	for (int k = 0; k < K__COUNT; k++) {
		int have = k == K_LISTEN ? cf.cf_nlisten > 0 : p.p_seen[k] != 0;
		if (cf_keys[k].k_required && !have) {
			e = cf_fail(&p, "%s: missing required key \"%s\"", path, cf_keys[k].k_name);
			goto out;
		}
	}
	/* Rules group events by blind tokens of personal values: no key, no tokens. */
	if (p.p_seen[K_RULES] != 0 && p.p_seen[K_INDEX_KEY] == 0) {
		e = cf_fail(&p, "%s:%u: rules needs index_key (the key of the blind tokens)",
		            path, p.p_seen[K_RULES]);
		goto out;
	}
	/* Every shred is a signed ledger entry: no key, no retention. */
	if (cf.cf_retention_days != 0 && p.p_seen[K_RETENTION_KEY] == 0) {
		e = cf_fail(&p, "%s:%u: retention_days needs retention_key (it signs the "
		            "ledger entry of every shred)", path, p.p_seen[K_RETENTION_DAYS]);
		goto out;
	}
	/* Remote queries (op 7) run on the indexes: no index key, no queries. */
	if (p.p_seen[K_ACCESS_KEY] != 0 && p.p_seen[K_INDEX_KEY] == 0) {
		e = cf_fail(&p, "%s:%u: access_key needs index_key (remote queries run on the "
		            "indexes)", path, p.p_seen[K_ACCESS_KEY]);
		goto out;
	}
	if (p.p_seen[K_ALERTS_LISTEN] != 0 && p.p_seen[K_RULES] == 0) {
		e = cf_fail(&p, "%s:%u: alerts_listen without rules: there would be no alerts",
		            path, p.p_seen[K_ALERTS_LISTEN]);
		goto out;
	}
	if (p.p_seen[K_GROUP] != 0 && p.p_seen[K_USER] == 0) {
		e = cf_fail(&p, "%s:%u: group without user: saksid changes its group only when "
		            "it drops root for user", path, p.p_seen[K_GROUP]);
		goto out;
	}
	if (p.p_seen[K_USER] != 0 && cf.cf_allow_root) {
		e = cf_fail(&p, "%s:%u: allow_root = yes with user: choose one (user drops root, "
		            "allow_root keeps it)", path, p.p_seen[K_ALLOW_ROOT]);
		goto out;
	}
	/* Refusal alerts are alert entries: without detection there is no alert log. */
	for (int k = K_REF_WINDOW; k <= K_REF_THRESHOLD; k++) {
		if (p.p_seen[k] != 0 && p.p_seen[K_RULES] == 0) {
			e = cf_fail(&p, "%s:%u: %s without rules: refusal alerts are alert "
			            "entries, which need detection on", path, p.p_seen[k],
			            cf_keys[k].k_name);
			goto out;
		}
	}
	if (cf.cf_alerts_listen != NULL) {
		for (size_t i = 0; i < cf.cf_nlisten; i++) {
			if (strcmp(cf.cf_listen[i], cf.cf_alerts_listen) == 0) {
				e = cf_fail(&p, "%s:%u: alerts_listen is also a listen URL", path,
				            p.p_seen[K_ALERTS_LISTEN]);
				goto out;
			}
		}
	}
out:
	free(buf);
	free(p.p_dir);
	if (e != SAKSI_OK) {
		saksid_config_free(&cf);
		return e;
	}
	*out = cf;
	return SAKSI_OK;
}

saksi_err
saksid_config_load(const char *path, saksid_config *cf, char *errbuf, size_t errlen)
{
	struct stat st;
	char *text;
	size_t got = 0;
	ssize_t r;
	saksi_err e;
	int fd;

	if (path == NULL || cf == NULL)
		return SAKSI_ERR_INVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "%s: not a regular file", path);
		close(fd);
		return SAKSI_ERR_IO;
	}
	if ((uint64_t)st.st_size > SAKSID_CONF_FILE_MAX) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "%s: larger than %u bytes", path,
			         SAKSID_CONF_FILE_MAX);
		close(fd);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return SAKSI_ERR_NOMEM;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, text + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "%s: read failed", path);
		free(text);
		return SAKSI_ERR_IO;
	}
	e = saksid_config_parse(path, text, got, cf, errbuf, errlen);
	free(text);
	return e;
}
