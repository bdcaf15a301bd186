/*
 * fuzz_remoteq.c: libFuzzer target for lib/remoteq.c, wire op 7 (FORMATS.md 3.4): what
 * saksid parses from a supervisor's machine and what his client parses from saksid.
 * Byte 0 % 5 picks the input: 0 a request body; 1 a sealed-filter plaintext the harness
 * seals into a request it signs; 2 a reply body; 3 a reply plaintext the harness seals and
 * signs; 4 an access entry's payload (JSON). Fixed keys, so a saved input reproduces.
 * `SAKSI_FUZZ_REMOTEQ_SEEDS=DIR` writes seeds made with those keys into DIR and exits.
 */
#include <sodium.h>

#include "bytes.h"
#include "fuzz.h"
#include "remoteq.h"

static saksi_seckey *fz_sp, *fz_box, *fz_log;
static saksi_pubkey fz_sp_pub, fz_box_pub, fz_log_pub;
static saksi_keyring *fz_kr;
static const uint8_t fz_hash[32] = { 0x51, 0x52 };

static saksi_seckey *
key(int kind, uint8_t fill)
{
	uint8_t s[32];
	saksi_seckey *k = NULL;

	memset(s, fill, sizeof s);
	FUZZ_SETUP(saksi_seckey_from_secret(kind, s, &k) == SAKSI_OK);
	return k;
}

static void
seed_file(const char *dir, const char *name, uint8_t mode, const void *b, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	FUZZ_SETUP((f = fopen(path, "wb")) != NULL);
	fputc(mode, f);
	fwrite(b, 1, n, f);
	fclose(f);
}

/* Requests, plaintexts, replies and an access entry made with the fixed keys. */
static void
write_seeds(const char *dir)
{
	saksi_rq_params p;
	saksi_rq_request rq;
	uint8_t *req, *sealed, *rep;
	size_t len, slen, rlen;
	char *stored, entry[4096], hex[17];
	static const uint8_t plain[] = { 2, 1, 0, 16, '7', '3', '7', '1', '0', '1', '4', '1',
		'0', '1', '9', '0', '0', '0', '0', '1', 3, 0, 4, '+', '6', '2', '8' };
	static const char rows[] = "{\"entries\":[{\"forgotten\":false,\"index\":3,\"key_id\":"
	    "\"0011223344556677\",\"payload\":{\"branch\":\"KC-A\",\"nik\":\"7371********0001\"},"
	    "\"personal\":\"nik=7371********0001\",\"time_ms\":5,\"type\":\"queue.checkin\"}],"
	    "\"more\":true,\"revealed\":false,\"saksi_query_reply\":1}";

	memset(&p, 0, sizeof p);
	p.rp_command = SAKSI_RQ_TIMELINE;
	p.rp_limit = 1000;
	p.rp_reveal = 1;
	p.rp_value[SAKSI_IX_NIK] = "7371014101900001";
	p.rp_value[SAKSI_IX_BRANCH] = "KC-A";
	p.rp_has_since = 1;
	p.rp_since_ms = 1;
	p.rp_case_ref = "CASE-1";
	p.rp_time_ms = 1767225600000ULL;
	FUZZ_SETUP(saksi_rq_request_make(fz_sp, fz_box_pub.pk_key, &p, &req, &len) == SAKSI_OK);
	seed_file(dir, "request", 0, req, len);
	FUZZ_SETUP(saksi_rq_request_parse(req, len, &rq) == SAKSI_OK);
	FUZZ_SETUP(saksi_rq_request_stored(&rq, &stored) == SAKSI_OK);
	sodium_bin2hex(hex, sizeof hex, rq.rq_key_id, 8);
	snprintf(entry, sizeof entry, "{\"branch\":\"KP-PUSAT\",\"key_id\":\"%s\",\"command\":"
	    "\"timeline\",\"filter\":\"nik=WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8,branch=KC-A,"
	    "since=1,limit=1000\",\"personal_filter\":true,\"results\":2,\"revealed\":true,"
	    "\"case_ref\":\"CASE-1\",\"request\":\"%s\"}", hex, stored);
	seed_file(dir, "access", 4, entry, strlen(entry));
	free(stored);
	free(req);
	p.rp_value[SAKSI_IX_NIK] = NULL;
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_has_after = 1;
	p.rp_after = 99;
	FUZZ_SETUP(saksi_rq_request_make(fz_sp, fz_box_pub.pk_key, &p, &req, &len) == SAKSI_OK);
	seed_file(dir, "request-plain", 0, req, len);
	free(req);
	seed_file(dir, "plaintext", 1, plain, sizeof plain);
	seed_file(dir, "rows", 3, rows, strlen(rows));
	FUZZ_SETUP(saksi_rq_reply_seal(fz_sp_pub.pk_key, rows, strlen(rows), &sealed, &slen) ==
	    SAKSI_OK);
	FUZZ_SETUP(saksi_rq_reply_make(fz_log, fz_hash, 7, 6, sealed, slen, &rep, &rlen) ==
	    SAKSI_OK);
	seed_file(dir, "reply", 2, rep, rlen);
	free(sealed);
	free(rep);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char json[1024], b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17];
	const char *seeds = getenv("SAKSI_FUZZ_REMOTEQ_SEEDS");

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	fz_sp = key(SAKSI_KEY_SIGN, 0x11);
	fz_box = key(SAKSI_KEY_BOX, 0x22);
	fz_log = key(SAKSI_KEY_SIGN, 0x33);
	FUZZ_SETUP(saksi_seckey_public(fz_sp, &fz_sp_pub) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(fz_box, &fz_box_pub) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(fz_log, &fz_log_pub) == SAKSI_OK);
	FUZZ_SETUP(saksi_pubkey_encode(&fz_sp_pub, b64, sizeof b64) == SAKSI_OK);
	sodium_bin2hex(hex, sizeof hex, fz_sp_pub.pk_id, 8);
	snprintf(json, sizeof json, "{\"saksi_keyring\":1,\"roles\":{\"supervisor\":"
	    "[\"supervisor.*\"]},\"keys\":[{\"name\":\"sp\",\"key_id\":\"%s\",\"public_key\":"
	    "\"%s\",\"role\":\"supervisor\",\"branch\":\"*\",\"revoked_ms\":null}]}", hex, b64);
	FUZZ_SETUP(saksi_keyring_parse(json, strlen(json), &fz_kr, NULL, 0) == SAKSI_OK);
	if (seeds != NULL) {
		write_seeds(seeds);
		exit(0);
	}
	return 0;
}

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

/* A request that parsed: its fields are what FORMATS.md 3.4 allows, and a signed one
 * keeps its signature through the stored form. */
static void
check_request(const saksi_rq_request *rq, int sealed_by_us)
{
	saksi_rq_personal pp;
	uint8_t buf[SAKSI_RQ_STORED_MAX];
	saksi_rq_request back;
	char *stored;
	saksi_err e;

	FUZZ_CHECK(rq->rq_command == SAKSI_RQ_QUERY || rq->rq_command == SAKSI_RQ_TIMELINE,
	           "command %d", rq->rq_command);
	FUZZ_CHECK(rq->rq_limit >= 1 && rq->rq_limit <= SAKSI_QUERY_LIMIT_MAX, "limit %u",
	           rq->rq_limit);
	FUZZ_CHECK(rq->rq_has_since || rq->rq_since_ms == 0, "since without its flag");
	FUZZ_CHECK(rq->rq_has_after || rq->rq_after == 0, "after without its flag");
	FUZZ_CHECK(strlen(rq->rq_case_ref) <= SAKSI_RQ_CASE_MAX && printable(rq->rq_case_ref),
	           "case ref");
	for (int f = 0; f < SAKSI_IX__COUNT; f++) {
		size_t n = strlen(rq->rq_plain[f]);

		FUZZ_CHECK(n == 0 || (f >= SAKSI_IX_OFFICER && f <= SAKSI_IX_BOOKING), "plain %d",
		           f);
		FUZZ_CHECK(n <= SAKSI_QUERY_VALUE_MAX && printable(rq->rq_plain[f]) &&
		           strchr(rq->rq_plain[f], ',') == NULL &&
		           strchr(rq->rq_plain[f], '=') == NULL && strchr(rq->rq_plain[f], ' ') ==
		           NULL, "plain value %d", f);
	}
	FUZZ_CHECK(rq->rq_personal == (rq->rq_sealed_len > 0), "personal flag");
	e = saksi_rq_request_verify(rq, fz_sp_pub.pk_key);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_SIGNATURE, "verify %d", e);
	FUZZ_CHECK(!sealed_by_us || e == SAKSI_OK, "our own request does not verify");
	FUZZ_CHECK(saksi_rq_request_stored(rq, &stored) == SAKSI_OK, "stored form");
	FUZZ_CHECK(saksi_rq_stored_parse(stored, strlen(stored), buf, &back) == SAKSI_OK,
	           "stored form does not parse back");
	FUZZ_CHECK(back.rq_core_len == rq->rq_core_len &&
	           memcmp(back.rq_core, rq->rq_core, rq->rq_core_len) == 0 &&
	           memcmp(back.rq_sealed_hash, rq->rq_sealed_hash, 32) == 0 &&
	           back.rq_personal == rq->rq_personal, "stored form differs");
	FUZZ_CHECK(saksi_rq_request_verify(&back, fz_sp_pub.pk_key) == e,
	           "the stored form verifies differently");
	free(stored);
	e = saksi_rq_personal_open(rq, fz_box_pub.pk_key, saksi_seckey_x25519(fz_box), &pp);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_DECRYPT || e == SAKSI_ERR_FORMAT,
	           "personal open %d", e);
	FUZZ_CHECK(!sealed_by_us || e != SAKSI_ERR_DECRYPT, "our own box does not open");
	if (e == SAKSI_OK) {
		for (int f = 0; f < SAKSI_IX__COUNT; f++) {
			const char *v = pp.pp_value[f];

			FUZZ_CHECK(v == NULL || (f >= SAKSI_IX_NIK && f <= SAKSI_IX_IP), "field %d", f);
			FUZZ_CHECK(v == NULL || (strlen(v) >= 1 && strlen(v) <= SAKSI_BLIND_INPUT_MAX),
			           "value %d", f);
		}
		FUZZ_CHECK(rq->rq_sealed_len == 0 || pp.pp_mem != NULL, "no values kept");
	} else {
		FUZZ_CHECK(pp.pp_mem == NULL, "memory kept after %d", e);
	}
	saksi_rq_personal_free(&pp);
}

/* Seals plain into a request the harness signs. */
static void
sealed_request(const uint8_t *plain, size_t plen)
{
	saksi_rq_params p;
	saksi_rq_request rq;
	uint8_t *base, *req, *m, hash[32];
	size_t blen, core, slen = plen + crypto_box_SEALBYTES, len;
	saksi_err e;

	if (plen > 4000)
		return;
	memset(&p, 0, sizeof p);
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_limit = 1;
	FUZZ_SETUP(saksi_rq_request_make(fz_sp, fz_box_pub.pk_key, &p, &base, &blen) ==
	           SAKSI_OK);
	FUZZ_SETUP(saksi_rq_request_parse(base, blen, &rq) == SAKSI_OK);
	core = rq.rq_core_len;
	len = core + 2 + slen + 64;
	FUZZ_SETUP((req = malloc(len)) != NULL && (m = malloc(23 + core + 32)) != NULL);
	memcpy(req, base, core);
	saksi_put_u16(req + core, (uint16_t)slen);
	FUZZ_SETUP(crypto_box_seal(req + core + 2, plain, plen, fz_box_pub.pk_key) == 0);
	crypto_hash_sha256(hash, req + core + 2, slen);
	memcpy(m, "saksi/query-request/v1\n", 23);
	memcpy(m + 23, base, core);
	memcpy(m + 23 + core, hash, 32);
	crypto_sign_detached(req + core + 2 + slen, NULL, m, 23 + core + 32,
	                     saksi_seckey_ed25519(fz_sp));
	e = saksi_rq_request_parse(req, len, &rq);
	FUZZ_CHECK(e == SAKSI_OK || (e == SAKSI_ERR_FORMAT && plen < 5) ||
	           (e == SAKSI_ERR_TOO_LARGE && len > SAKSI_RQ_REQUEST_MAX), "parse %d", e);
	if (e == SAKSI_OK)
		check_request(&rq, 1);
	free(m);
	free(req);
	free(base);
}

static void
check_rows(const char *json, size_t len)
{
	saksi_query_result r, back;
	char *text;
	size_t tlen;
	saksi_err e = saksi_rq_result_parse(json, len, &r);

	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT, "rows parse %d", e);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(r.qr_n == 0 && r.qr_rows == NULL, "rows kept after %d", e);
		return;
	}
	FUZZ_CHECK(saksi_rq_result_json(&r, &text, &tlen) == SAKSI_OK, "rows to JSON");
	FUZZ_CHECK(saksi_rq_result_parse(text, tlen, &back) == SAKSI_OK, "rows do not re-parse");
	FUZZ_CHECK(back.qr_n == r.qr_n && back.qr_more == r.qr_more &&
	           back.qr_revealed == r.qr_revealed, "rows differ after a round trip");
	for (size_t i = 0; i < r.qr_n; i++)
		FUZZ_CHECK(back.qr_rows[i].qr_index == r.qr_rows[i].qr_index &&
		           strcmp(back.qr_rows[i].qr_personal, r.qr_rows[i].qr_personal) == 0,
		           "row %zu differs", i);
	free(text);
	saksi_query_result_free(&back);
	saksi_query_result_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	saksi_rq_request rq;
	uint8_t *sealed, *rep;
	size_t slen, rlen, jlen;
	uint64_t access, tsize;
	char *json, *text;
	json_t *payload;
	const char *why;
	saksi_err e;

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		e = saksi_rq_request_parse(data + 1, size - 1, &rq);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
		           e == SAKSI_ERR_TOO_LARGE, "parse %d", e);
		if (e == SAKSI_OK)
			check_request(&rq, 0);
		break;
	case 1:
		sealed_request(data + 1, size - 1);
		break;
	case 2:
		e = saksi_rq_reply_open(data + 1, size - 1, fz_log_pub.pk_key, fz_hash, fz_sp,
		                        &access, &tsize, &json, &jlen);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT || e == SAKSI_ERR_VERSION ||
		           e == SAKSI_ERR_PROOF || e == SAKSI_ERR_SIGNATURE || e == SAKSI_ERR_DECRYPT,
		           "reply open %d", e);
		if (e != SAKSI_OK) {
			FUZZ_CHECK(json == NULL, "json kept after %d", e);
			break;
		}
		FUZZ_CHECK(json[jlen] == '\0', "json not NUL-terminated");
		check_rows(json, jlen);
		free(json);
		break;
	case 3:
		if (size - 1 > 1 << 20)
			break;
		if ((text = fuzz_copy(data + 1, size - 1, 1)) == NULL)
			break;
		FUZZ_CHECK(saksi_rq_reply_seal(fz_sp_pub.pk_key, text, size - 1, &sealed, &slen) ==
		           SAKSI_OK, "seal");
		FUZZ_CHECK(saksi_rq_reply_make(fz_log, fz_hash, 1, 1, sealed, slen, &rep, &rlen) ==
		           SAKSI_OK, "make");
		e = saksi_rq_reply_open(rep, rlen, fz_log_pub.pk_key, fz_hash, fz_sp, &access,
		                        &tsize, &json, &jlen);
		FUZZ_CHECK(e == SAKSI_OK && jlen == size - 1 && memcmp(json, text, jlen) == 0 &&
		           access == 1 && tsize == 1, "our own reply does not open to itself");
		check_rows(json, jlen);
		free(json);
		free(rep);
		free(sealed);
		free(text);
		break;
	default:
		payload = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
		if (payload == NULL)
			break;
		why = NULL;
		e = saksi_rq_access_check(payload, fz_kr, &why);
		FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND || e == SAKSI_ERR_FORMAT ||
		           e == SAKSI_ERR_KEY || e == SAKSI_ERR_SIGNATURE, "access check %d", e);
		FUZZ_CHECK((e == SAKSI_OK || e == SAKSI_ERR_NOT_FOUND) == (why == NULL),
		           "a reason exactly when refused");
		FUZZ_CHECK(e != SAKSI_ERR_NOT_FOUND || json_object_get(payload, "request") == NULL,
		           "not found with a request");
		json_decref(payload);
		break;
	}
	return 0;
}
