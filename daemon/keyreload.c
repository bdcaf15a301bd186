/*
 * keyreload.c: the keyring file read at start and on SIGHUP, compared with the keyring
 * in force, and handed to the server to be recorded and checked with. Must never let a
 * file that does not load replace the keyring in force, and never log a secret.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "ingest.h"
#include "keyreload.h"

saksi_err
saksid_keyfile_load(const char *path, saksid_keyfile *kf, char *errbuf, size_t errlen)
{
	char *buf;
	size_t len;
	saksi_err e;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (kf == NULL)
		return SAKSI_ERR_INVAL;
	memset(kf, 0, sizeof(*kf));
	if (path == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_keylog_read_file(path, &buf, &len, errbuf, errlen)) != SAKSI_OK)
		return e;
	/* One read for all four: what is recorded is what is checked with. */
	crypto_hash_sha256(kf->kf_sha256, (const uint8_t *)buf, len);
	if ((e = saksi_keyring_parse(buf, len, &kf->kf_kr, errbuf, errlen)) == SAKSI_OK &&
	    (e = saksi_keylog_split(buf, len, &kf->kf_parts, errbuf, errlen)) == SAKSI_OK)
		e = saksi_keylog_canon(buf, len, &kf->kf_canon, &kf->kf_canonlen, errbuf,
		                       errlen);
	free(buf);
	if (e != SAKSI_OK)
		saksid_keyfile_clear(kf);
	return e;
}

void
saksid_keyfile_clear(saksid_keyfile *kf)
{
	if (kf == NULL)
		return;
	saksi_keyring_free(kf->kf_kr);
	saksi_keylog_parts_free(&kf->kf_parts);
	free(kf->kf_canon);
	memset(kf, 0, sizeof(*kf));
}

saksi_err
saksid_keyreload_init(saksid_keyreload *kl, const saksid_keyreload_opts *o,
                      saksid_keyfile *kf, uint64_t entry, uint64_t now_ms)
{
	if (kl == NULL)
		return SAKSI_ERR_INVAL;
	memset(kl, 0, sizeof(*kl));
	if (o == NULL || o->ko_path == NULL || o->ko_sc == NULL || o->ko_box == NULL ||
	    kf == NULL || kf->kf_kr == NULL || kf->kf_canon == NULL)
		return SAKSI_ERR_INVAL;
	kl->kl_o = *o;
	kl->kl_canon = kf->kf_canon;
	kl->kl_canonlen = kf->kf_canonlen;
	kf->kf_canon = NULL;
	memcpy(kl->kl_sha256, kf->kf_sha256, sizeof(kl->kl_sha256));
	kl->kl_count = saksi_keyring_count(kf->kf_kr);
	kl->kl_entry = entry;
	kl->kl_nparts = kf->kf_parts.kp_n;
	kl->kl_loaded_ms = now_ms;
	return SAKSI_OK;
}

void
saksid_keyreload_clear(saksid_keyreload *kl)
{
	if (kl == NULL)
		return;
	free(kl->kl_canon);
	memset(kl, 0, sizeof(*kl));
}

saksi_err
saksid_keyreload_publish(const saksid_keyreload *kl, saksid_server *srv)
{
	char hex[65], *text;
	json_t *o, *rl;
	saksi_err e;

	if (kl == NULL || srv == NULL)
		return SAKSI_ERR_INVAL;
	sodium_bin2hex(hex, sizeof(hex), kl->kl_sha256, sizeof(kl->kl_sha256));
	if (!kl->kl_reloaded)
		rl = json_null();
	else if (kl->kl_reload_ok)
		rl = json_pack("{s:I, s:b, s:b}", "time_ms", (json_int_t)kl->kl_reload_ms, "ok",
		    1, "changed", kl->kl_reload_changed);
	else
		rl = json_pack("{s:I, s:b, s:b, s:s}", "time_ms", (json_int_t)kl->kl_reload_ms,
		    "ok", 0, "changed", 0, "error", kl->kl_reload_err);
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "file", kl->kl_o.ko_path,
	    "sha256", hex, "count", (json_int_t)kl->kl_count, "entry",
	    (json_int_t)kl->kl_entry, "entries", (json_int_t)kl->kl_nparts, "loaded_ms",
	    (json_int_t)kl->kl_loaded_ms, "last_reload", rl);
	text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	e = text != NULL ? saksid_server_keyring_info_set(srv, text) : SAKSI_ERR_NOMEM;
	free(text);
	json_decref(o);
	return e;
}

/* Whether [line, end) holds needle. */
static int
has(const char *line, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; end - line >= (ptrdiff_t)n; line++)
		if (memcmp(line, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * The reload's lines: one with the totals by kind of change, then one per change as
 * saksi_keylog_diff words it (key id, name, what changed), the first 32 of them.
 */
static void
log_changes(const saksid_keyreload *kl, const char *diff, int n, const char *hex)
{
	const char *line, *end;
	size_t added = 0, revoked = 0, removed = 0, changed = 0, shown = 0;

	for (line = diff; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (end - line >= 8 && memcmp(end - 8, "): added", 8) == 0)
			added++;
		else if (end - line >= 10 && memcmp(end - 10, "): removed", 10) == 0)
			removed++;
		else if (has(line, end, "-> revoked"))
			revoked++;
		else if (end > line)
			changed++;
	}
	saksid_logf(kl->kl_o.ko_log, LOG_NOTICE, "keyring %s reloaded: recorded at entry %llu "
	            "(%zu keys; sha256 %s); %d change%s: %zu added, %zu revoked, %zu changed, "
	            "%zu removed", kl->kl_o.ko_path, (unsigned long long)kl->kl_entry,
	            kl->kl_count, hex, n, n == 1 ? "" : "s", added, revoked, changed, removed);
	for (line = diff; *line != '\0' && shown < 32; line = *end != '\0' ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		if (end > line) {
			saksid_logf(kl->kl_o.ko_log, LOG_NOTICE, "keyring %s: %.*s", kl->kl_o.ko_path,
			            (int)(end - line), line);
			shown++;
		}
	}
	if ((int)shown < n)
		saksid_logf(kl->kl_o.ko_log, LOG_NOTICE, "keyring %s: %d more change(s); saksi "
		            "keyring-history shows them all", kl->kl_o.ko_path, n - (int)shown);
}

/*
 * saksid's own keys in kr as the start requires them (main.c), and not revoked: the
 * entries they sign (access entries, retention's forgets) must verify. 0, or -1 with
 * why in err.
 */
static int
own_keys_ok(const saksid_keyreload *kl, const saksi_keyring *kr, char *err, size_t errlen)
{
	const saksi_keyring_entry *e;
	char hex[2 * SAKSI_KEYID_LEN + 1];

	if (kl->kl_o.ko_access_id != NULL) {
		sodium_bin2hex(hex, sizeof(hex), kl->kl_o.ko_access_id, SAKSI_KEYID_LEN);
		e = saksi_keyring_find(kr, kl->kl_o.ko_access_id);
		if (e == NULL || e->ke_revoked_ms >= 0 || strcmp(e->ke_branch, "*") != 0 ||
		    !saksi_keyring_role_allows(kr, e->ke_role, "supervisor.access.logged")) {
			snprintf(err, errlen, "the access_key %s must stay in it, not revoked, with "
			         "role supervisor and branch \"*\"", hex);
			return -1;
		}
	}
	if (kl->kl_o.ko_retention_id != NULL) {
		sodium_bin2hex(hex, sizeof(hex), kl->kl_o.ko_retention_id, SAKSI_KEYID_LEN);
		e = saksi_keyring_find(kr, kl->kl_o.ko_retention_id);
		if (e == NULL || e->ke_revoked_ms >= 0) {
			snprintf(err, errlen, "the retention_key %s must stay in it, not revoked",
			         hex);
			return -1;
		}
	}
	return 0;
}

saksi_err
saksid_keyreload_run(saksid_keyreload *kl, saksid_server *srv, uint64_t now_ms)
{
	saksid_keyfile kf;
	saksid_ingest *ig = NULL;
	char err[256], hex[65], *diff = NULL;
	uint64_t idx;
	int n;
	saksi_err e;

	if (kl == NULL || srv == NULL)
		return SAKSI_ERR_INVAL;
	kl->kl_reloaded = 1;
	kl->kl_reload_ms = now_ms;
	kl->kl_reload_ok = 0;
	kl->kl_reload_changed = 0;
	kl->kl_reload_err[0] = '\0';
	err[0] = '\0';
	if ((e = saksid_keyfile_load(kl->kl_o.ko_path, &kf, err, sizeof(err))) != SAKSI_OK) {
		snprintf(kl->kl_reload_err, sizeof(kl->kl_reload_err), "%s",
		         err[0] != '\0' ? err : saksi_strerror(e));
		goto fail;
	}
	if (own_keys_ok(kl, kf.kf_kr, kl->kl_reload_err, sizeof(kl->kl_reload_err)) != 0) {
		e = SAKSI_ERR_KEY;
		goto fail_kf;
	}
	sodium_bin2hex(hex, sizeof(hex), kf.kf_sha256, sizeof(kf.kf_sha256));
	if (kf.kf_canonlen == kl->kl_canonlen &&
	    memcmp(kf.kf_canon, kl->kl_canon, kl->kl_canonlen) == 0) {
		/* The same keyring, perhaps spelt otherwise: nothing to record. */
		memcpy(kl->kl_sha256, kf.kf_sha256, sizeof(kl->kl_sha256));
		kl->kl_reload_ok = 1;
		saksid_logf(kl->kl_o.ko_log, LOG_INFO, "keyring %s reloaded: unchanged, nothing "
		            "recorded (%zu keys at entry %llu; sha256 %s)", kl->kl_o.ko_path,
		            kl->kl_count, (unsigned long long)kl->kl_entry, hex);
		saksid_keyfile_clear(&kf);
		(void)saksid_keyreload_publish(kl, srv);
		return SAKSI_OK;
	}
	e = SAKSI_ERR_NOMEM;
	if ((diff = malloc(8192)) == NULL)
		goto fail_kf;
	n = saksi_keylog_diff(kl->kl_canon, kl->kl_canonlen, kf.kf_canon, kf.kf_canonlen,
	                      diff, 8192);
	/* The checking context as at start: the new keys' disclosure keys derived now. */
	if ((e = saksid_ingest_new(kf.kf_kr, kl->kl_o.ko_sc, kl->kl_o.ko_box, &ig)) !=
	    SAKSI_OK)
		goto fail_kf;
	if (kl->kl_o.ko_detect != NULL)
		saksid_ingest_detect(ig, kl->kl_o.ko_detect);
	if (kl->kl_o.ko_index != NULL)
		saksid_ingest_index(ig, kl->kl_o.ko_index);
	if (kl->kl_o.ko_shred != NULL)
		saksid_ingest_shred(ig, kl->kl_o.ko_shred);
	e = saksid_server_keyring_swap(srv, ig, kf.kf_kr,
	                               (const uint8_t *const *)kf.kf_parts.kp_body,
	                               kf.kf_parts.kp_len, kf.kf_parts.kp_n, now_ms, &idx);
	if (e != SAKSI_OK) {
		snprintf(kl->kl_reload_err, sizeof(kl->kl_reload_err), "the keyring entry was "
		         "not written: %s", saksi_strerror(e));
		saksid_ingest_free(ig);
		goto fail_kf;
	}
	kl->kl_count = saksi_keyring_count(kf.kf_kr);
	kf.kf_kr = NULL;   /* the server's now */
	free(kl->kl_canon);
	kl->kl_canon = kf.kf_canon;
	kl->kl_canonlen = kf.kf_canonlen;
	kf.kf_canon = NULL;
	memcpy(kl->kl_sha256, kf.kf_sha256, sizeof(kl->kl_sha256));
	kl->kl_entry = idx;
	kl->kl_nparts = kf.kf_parts.kp_n;
	kl->kl_loaded_ms = now_ms;
	kl->kl_reload_ok = 1;
	kl->kl_reload_changed = 1;
	log_changes(kl, n >= 0 ? diff : "", n, hex);
	free(diff);
	saksid_keyfile_clear(&kf);
	(void)saksid_keyreload_publish(kl, srv);
	return SAKSI_OK;

fail_kf:
	if (kl->kl_reload_err[0] == '\0')
		snprintf(kl->kl_reload_err, sizeof(kl->kl_reload_err), "%s", saksi_strerror(e));
	free(diff);
	saksid_keyfile_clear(&kf);
fail:
	saksid_logf(kl->kl_o.ko_log, LOG_ERR, "keyring %s not reloaded: %s; the keyring in "
	            "force stays (entry %llu, %zu keys)", kl->kl_o.ko_path, kl->kl_reload_err,
	            (unsigned long long)kl->kl_entry, kl->kl_count);
	(void)saksid_keyreload_publish(kl, srv);
	return e;
}
