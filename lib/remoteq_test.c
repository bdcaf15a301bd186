/*
 * remoteq_test.c: op 7 requests and replies byte by byte (remoteq.h, FORMATS.md 3.4):
 * round trips, every truncation and a seeded mutation of a real request, forged
 * signatures, sealed filters that do not open or are malformed, the stored form in an
 * access entry and each way an entry can disagree with its request, replies bound to
 * another request, forged or sealed to another key, and strict rows JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "keys.h"
#include "envelope.h"
#include "ledger.h"
#include "note.h"
#include "remoteq.h"
#include "verify.h"
#include "../tests/testutil.h"

#define NIK "7371014101900001"

struct fx {
	saksi_seckey *sp, *other, *box, *log;
	saksi_pubkey box_pub, sp_pub;
	saksi_keyring *kr;
	uint64_t seed;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char json[1024], b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17];
	const char *env = getenv("SAKSI_SEED");

	assert_non_null(f);
	f->seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &f->sp), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &f->other), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_BOX, &f->box), SAKSI_OK);
	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &f->log), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(f->box, &f->box_pub), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(f->sp, &f->sp_pub), SAKSI_OK);
	assert_int_equal(saksi_pubkey_encode(&f->sp_pub, b64, sizeof(b64)), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), f->sp_pub.pk_id, 8);
	snprintf(json, sizeof(json), "{\"saksi_keyring\":1,\"roles\":{\"supervisor\":"
	    "[\"supervisor.*\"]},\"keys\":[{\"name\":\"sp\",\"key_id\":\"%s\",\"public_key\":"
	    "\"%s\",\"role\":\"supervisor\",\"branch\":\"*\",\"revoked_ms\":null}]}", hex, b64);
	assert_int_equal(saksi_keyring_parse(json, strlen(json), &f->kr, NULL, 0), SAKSI_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	saksi_seckey_free(f->sp);
	saksi_seckey_free(f->other);
	saksi_seckey_free(f->box);
	saksi_seckey_free(f->log);
	saksi_keyring_free(f->kr);
	free(f);
	return 0;
}

static void
params(saksi_rq_params *p)
{
	memset(p, 0, sizeof(*p));
	p->rp_command = SAKSI_RQ_QUERY;
	p->rp_limit = 100;
	p->rp_time_ms = 1767225600000ULL;
	p->rp_value[SAKSI_IX_NIK] = NIK;
	p->rp_value[SAKSI_IX_PHONE] = "+6281234567890";
	p->rp_value[SAKSI_IX_OFFICER] = "OF-9";
	p->rp_value[SAKSI_IX_CLAIM] = "CL-1";
	p->rp_since_ms = 5;
	p->rp_has_since = 1;
	p->rp_reveal = 1;
	p->rp_case_ref = "CASE/1";
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	saksi_rq_params p;
	saksi_rq_request rq;
	saksi_rq_personal pp;
	uint8_t *req;
	size_t len;

	params(&p);
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	/* The clear values are not in the bytes. */
	assert_null(memmem(req, len, NIK, strlen(NIK)));
	assert_null(memmem(req, len, "6281234567890", 13));
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	assert_memory_equal(rq.rq_key_id, f->sp_pub.pk_id, 8);
	assert_int_equal(rq.rq_time_ms, p.rp_time_ms);
	assert_int_equal(rq.rq_command, SAKSI_RQ_QUERY);
	assert_int_equal(rq.rq_reveal, 1);
	assert_int_equal(rq.rq_has_since, 1);
	assert_int_equal(rq.rq_since_ms, 5);
	assert_int_equal(rq.rq_has_until, 0);
	assert_int_equal(rq.rq_limit, 100);
	assert_string_equal(rq.rq_case_ref, "CASE/1");
	assert_string_equal(rq.rq_plain[SAKSI_IX_OFFICER], "OF-9");
	assert_string_equal(rq.rq_plain[SAKSI_IX_CLAIM], "CL-1");
	assert_string_equal(rq.rq_plain[SAKSI_IX_BRANCH], "");
	assert_int_equal(rq.rq_personal, 1);
	assert_int_equal(saksi_rq_request_verify(&rq, f->sp_pub.pk_key), SAKSI_OK);
	assert_int_equal(saksi_rq_personal_open(&rq, f->box_pub.pk_key,
	    saksi_seckey_x25519(f->box), &pp), SAKSI_OK);
	assert_string_equal(pp.pp_value[SAKSI_IX_NIK], NIK);
	assert_string_equal(pp.pp_value[SAKSI_IX_PHONE], "+6281234567890");
	assert_null(pp.pp_value[SAKSI_IX_KPJ]);
	saksi_rq_personal_free(&pp);
	saksi_rq_personal_free(&pp);   /* twice is fine */
	{
		saksi_pubkey opub;

		assert_int_equal(saksi_seckey_public(f->other, &opub), SAKSI_OK);
		assert_int_equal(saksi_rq_request_verify(&rq, opub.pk_key), SAKSI_ERR_SIGNATURE);
	}
	free(req);

	/* No personal filter: no box; the box's hash is of the empty string. */
	p.rp_value[SAKSI_IX_NIK] = p.rp_value[SAKSI_IX_PHONE] = NULL;
	p.rp_case_ref = NULL;
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	assert_int_equal(rq.rq_personal, 0);
	assert_int_equal(rq.rq_sealed_len, 0);
	assert_int_equal(saksi_rq_request_verify(&rq, f->sp_pub.pk_key), SAKSI_OK);
	assert_int_equal(saksi_rq_personal_open(&rq, f->box_pub.pk_key,
	    saksi_seckey_x25519(f->box), &pp), SAKSI_OK);
	assert_null(pp.pp_value[SAKSI_IX_NIK]);
	free(req);
}

static void
test_make_refuses(void **state)
{
	struct fx *f = *state;
	saksi_rq_params p;
	uint8_t *req;
	size_t len;
	char big[600];

	params(&p);
	p.rp_limit = 0;
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	p.rp_command = 3;
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	p.rp_value[SAKSI_IX_OFFICER] = "a b";
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	p.rp_case_ref = "no spaces";
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	memset(big, '1', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	p.rp_value[SAKSI_IX_NIK] = big;
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	p.rp_value[SAKSI_IX_TIME] = "1";
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
	params(&p);
	assert_int_equal(saksi_rq_request_make(f->box, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_KEY);
	assert_int_equal(saksi_rq_request_make(NULL, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_ERR_INVAL);
}

/* Every prefix, a byte too many, and seeded byte flips: never accepted as the same
 * request with a valid signature, never a crash. */
static void
test_hostile_parse(void **state)
{
	struct fx *f = *state;
	saksi_rq_params p;
	saksi_rq_request rq;
	uint8_t *req, *buf;
	size_t len;
	uint64_t s = f->seed;

	print_message("seed %llu (set SAKSI_SEED to repeat)\n", (unsigned long long)f->seed);
	params(&p);
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(saksi_rq_request_parse(req, n, &rq), SAKSI_OK);
	buf = malloc(len + 1);
	memcpy(buf, req, len);
	buf[len] = 0;
	assert_int_equal(saksi_rq_request_parse(buf, len + 1, &rq), SAKSI_ERR_FORMAT);
	buf[0] = 2;
	assert_int_equal(saksi_rq_request_parse(buf, len, &rq), SAKSI_ERR_VERSION);
	memcpy(buf, req, len);
	buf[34] |= 0x10;   /* an unknown flag */
	assert_int_equal(saksi_rq_request_parse(buf, len, &rq), SAKSI_ERR_FORMAT);
	memcpy(buf, req, len);
	buf[51 + 7] = 1;   /* after set without its flag */
	assert_int_equal(saksi_rq_request_parse(buf, len, &rq), SAKSI_ERR_FORMAT);
	memcpy(buf, req, len);
	saksi_put_u32(buf + 59, SAKSI_QUERY_LIMIT_MAX + 1);
	assert_int_equal(saksi_rq_request_parse(buf, len, &rq), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_rq_request_parse(buf, SAKSI_RQ_REQUEST_MAX + 1, &rq),
	    SAKSI_ERR_TOO_LARGE);
	for (int i = 0; i < 20000; i++) {
		size_t at;

		memcpy(buf, req, len);
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		at = (size_t)(s >> 33) % len;
		buf[at] ^= (uint8_t)(1 + ((s >> 20) % 255));
		if (saksi_rq_request_parse(buf, len, &rq) == SAKSI_OK)
			assert_int_equal(saksi_rq_request_verify(&rq, f->sp_pub.pk_key),
			    SAKSI_ERR_SIGNATURE);
	}
	free(buf);
	free(req);
}

/* A request whose box holds plaintext of our choosing, signed properly. */
static void
seal_raw(struct fx *f, const uint8_t *plain, size_t plen, uint8_t **req, size_t *len)
{
	saksi_rq_params p;
	uint8_t *base, *m, hash[32];
	size_t blen, core, slen = plen + crypto_box_SEALBYTES;
	saksi_rq_request rq;

	memset(&p, 0, sizeof(p));
	p.rp_command = SAKSI_RQ_QUERY;
	p.rp_limit = 1;
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &base, &blen),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(base, blen, &rq), SAKSI_OK);
	core = rq.rq_core_len;
	*len = core + 2 + slen + 64;
	*req = malloc(*len);
	memcpy(*req, base, core);
	saksi_put_u16(*req + core, (uint16_t)slen);
	assert_int_equal(crypto_box_seal(*req + core + 2, plain, plen, f->box_pub.pk_key), 0);
	crypto_hash_sha256(hash, *req + core + 2, slen);
	m = malloc(23 + core + 32);
	memcpy(m, "saksi/query-request/v1\n", 23);
	memcpy(m + 23, base, core);
	memcpy(m + 23 + core, hash, 32);
	crypto_sign_detached(*req + core + 2 + slen, NULL, m, 23 + core + 32,
	    saksi_seckey_ed25519(f->sp));
	free(m);
	free(base);
}

static void
test_personal_hostile(void **state)
{
	struct fx *f = *state;
	static const struct { uint8_t b[16]; size_t n; } bad[] = {
		{ { 0 }, 1 },                                  /* count 0 */
		{ { 8, 1, 0, 1, 'x' }, 5 },                     /* count 8 */
		{ { 1, 8, 0, 1, 'x' }, 5 },                     /* not a personal tag */
		{ { 2, 2, 0, 1, 'x', 1, 0, 1, 'y' }, 9 },       /* tags descending */
		{ { 1, 1, 0, 0 }, 4 },                          /* empty value */
		{ { 1, 1, 0, 2, 'x' }, 5 },                     /* value runs past */
		{ { 1, 1, 0, 1, 'x', 0 }, 6 },                  /* a byte too many */
		{ { 1, 1, 0, 2, 'x', 0 }, 6 },                  /* a NUL in the value */
		{ { 1, 1, 2, 1, 'x' }, 5 },                     /* over 512 */
	};
	saksi_rq_request rq;
	saksi_rq_personal pp;
	saksi_rq_params p;
	uint8_t *req;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		seal_raw(f, bad[i].b, bad[i].n, &req, &len);
		if (bad[i].n < 5) {
			/* Too short for any list: refused before the box is opened. */
			assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_ERR_FORMAT);
			free(req);
			continue;
		}
		assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
		assert_int_equal(saksi_rq_request_verify(&rq, f->sp_pub.pk_key), SAKSI_OK);
		assert_int_equal(saksi_rq_personal_open(&rq, f->box_pub.pk_key,
		    saksi_seckey_x25519(f->box), &pp), SAKSI_ERR_FORMAT);
		assert_null(pp.pp_mem);
		free(req);
	}
	/* Sealed to another appliance. */
	{
		saksi_seckey *ob;
		saksi_pubkey opub;

		assert_int_equal(saksi_seckey_generate(SAKSI_KEY_BOX, &ob), SAKSI_OK);
		assert_int_equal(saksi_seckey_public(ob, &opub), SAKSI_OK);
		params(&p);
		assert_int_equal(saksi_rq_request_make(f->sp, opub.pk_key, &p, &req, &len),
		    SAKSI_OK);
		assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
		assert_int_equal(saksi_rq_personal_open(&rq, f->box_pub.pk_key,
		    saksi_seckey_x25519(f->box), &pp), SAKSI_ERR_DECRYPT);
		free(req);
		saksi_seckey_free(ob);
	}
}

/* An access entry's payload for a request, as saksid writes it. */
static json_t *
entry_for(const saksi_rq_request *rq, const char *tok)
{
	char filter[512], hex[17], *stored;
	json_t *p;

	assert_int_equal(saksi_rq_request_stored(rq, &stored), SAKSI_OK);
	sodium_bin2hex(hex, sizeof(hex), rq->rq_key_id, 8);
	snprintf(filter, sizeof(filter), "nik=%s,phone=%s,officer=OF-9,claim=CL-1,since=5,"
	    "limit=100", tok, tok);
	p = json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:b, s:s, s:s}", "branch", "KP-PUSAT",
	    "key_id", hex, "command", "query", "filter", filter, "personal_filter", 1,
	    "results", 3, "revealed", 1, "request", stored, "case_ref", "CASE/1");
	free(stored);
	return p;
}

static void
test_access_check(void **state)
{
	struct fx *f = *state;
	const char *tok = "WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8";
	saksi_rq_params p;
	saksi_rq_request rq, back;
	uint8_t *req, buf[SAKSI_RQ_STORED_MAX];
	size_t len;
	const char *why;
	json_t *e;
	char *stored;

	params(&p);
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	/* The stored form parses back to the same request, without the box. */
	assert_int_equal(saksi_rq_request_stored(&rq, &stored), SAKSI_OK);
	assert_null(strstr(stored, NIK));
	assert_int_equal(saksi_rq_stored_parse(stored, strlen(stored), buf, &back), SAKSI_OK);
	assert_memory_equal(back.rq_sealed_hash, rq.rq_sealed_hash, 32);
	assert_int_equal(back.rq_personal, 1);
	assert_null(back.rq_sealed);
	assert_int_equal(saksi_rq_request_verify(&back, f->sp_pub.pk_key), SAKSI_OK);
	assert_int_equal(saksi_rq_stored_parse(stored, strlen(stored) - 4, buf, &back),
	    SAKSI_ERR_FORMAT);
	free(stored);

	e = entry_for(&rq, tok);
	assert_int_equal(saksi_rq_access_check(e, f->kr, &why), SAKSI_OK);
	/* Each way an entry can disagree with its request. */
	{
		static const char *const member[] = { "key_id", "command", "filter", "case_ref" };
		static const char *const value[] = { "0011223344556677", "timeline",
			"nik=WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8,limit=100", "CASE/2" };

		for (size_t i = 0; i < 4; i++) {
			json_t *c = json_deep_copy(e);

			json_object_set_new(c, member[i], json_string(value[i]));
			assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
			assert_non_null(strstr(why, "does not match"));
			json_decref(c);
		}
	}
	{
		json_t *c = json_deep_copy(e);

		json_object_set_new(c, "revealed", json_false());
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_object_set_new(c, "revealed", json_true());
		json_object_set_new(c, "personal_filter", json_false());
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_object_set_new(c, "personal_filter", json_true());
		json_object_del(c, "case_ref");
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_object_set_new(c, "request", json_string("AAAA"));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		assert_non_null(strstr(why, "does not parse"));
		json_object_del(c, "request");
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_NOT_FOUND);
		json_decref(c);
	}
	/* participants, local or remote: at most results, 0 unless revealed. */
	{
		json_t *c = json_deep_copy(e);
		json_int_t results = json_integer_value(json_object_get(c, "results"));

		json_object_set_new(c, "participants", json_integer(results));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_OK);
		json_object_set_new(c, "participants", json_integer(results + 1));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		assert_non_null(strstr(why, "participants"));
		json_object_set_new(c, "participants", json_integer(-1));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_object_set_new(c, "participants", json_string("1"));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_object_set_new(c, "participants", json_integer(0));
		json_object_set_new(c, "revealed", json_false());
		json_object_del(c, "request");
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_NOT_FOUND);
		json_object_set_new(c, "participants", json_integer(1));
		assert_int_equal(saksi_rq_access_check(c, f->kr, &why), SAKSI_ERR_FORMAT);
		json_decref(c);
	}
	json_decref(e);
	free(req);

	/* Another key's request, and a forged one. */
	assert_int_equal(saksi_rq_request_make(f->other, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	e = entry_for(&rq, tok);
	assert_int_equal(saksi_rq_access_check(e, f->kr, &why), SAKSI_ERR_KEY);
	json_decref(e);
	free(req);
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	req[len - 1] ^= 0x80;
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	e = entry_for(&rq, tok);
	assert_int_equal(saksi_rq_access_check(e, f->kr, &why), SAKSI_ERR_SIGNATURE);
	json_decref(e);
	free(req);
}

static void
test_reply(void **state)
{
	struct fx *f = *state;
	saksi_pubkey lp;
	uint8_t hash[32], other[32], *sealed, *rep;
	size_t slen, rlen, jlen;
	uint64_t access, size;
	char *json;
	const char *text = "{\"entries\":[],\"more\":false,\"revealed\":true,"
	    "\"saksi_query_reply\":1}";

	assert_int_equal(saksi_seckey_public(f->log, &lp), SAKSI_OK);
	memset(hash, 7, 32);
	memset(other, 8, 32);
	assert_int_equal(saksi_rq_reply_seal(f->sp_pub.pk_key, text, strlen(text), &sealed,
	    &slen), SAKSI_OK);
	assert_null(memmem(sealed, slen, "entries", 7));
	assert_int_equal(saksi_rq_reply_make(f->log, hash, 42, 40, sealed, slen, &rep, &rlen),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_reply_open(rep, rlen, lp.pk_key, hash, f->sp, &access, &size,
	    &json, &jlen), SAKSI_OK);
	assert_int_equal(access, 42);
	assert_int_equal(size, 40);
	assert_string_equal(json, text);
	free(json);
	/* Another request's reply, a reply not by the log key, not for this key. */
	assert_int_equal(saksi_rq_reply_open(rep, rlen, lp.pk_key, other, f->sp, &access, &size,
	    &json, &jlen), SAKSI_ERR_PROOF);
	assert_int_equal(saksi_rq_reply_open(rep, rlen, f->sp_pub.pk_key, hash, f->sp, &access,
	    &size, &json, &jlen), SAKSI_ERR_SIGNATURE);
	assert_int_equal(saksi_rq_reply_open(rep, rlen, lp.pk_key, hash, f->other, &access,
	    &size, &json, &jlen), SAKSI_ERR_DECRYPT);
	assert_null(json);
	rep[40] ^= 1;   /* the access index: under the signature */
	assert_int_equal(saksi_rq_reply_open(rep, rlen, lp.pk_key, hash, f->sp, &access, &size,
	    &json, &jlen), SAKSI_ERR_SIGNATURE);
	for (size_t n = 0; n < rlen; n++)
		assert_int_not_equal(saksi_rq_reply_open(rep, n, lp.pk_key, hash, f->sp, &access,
		    &size, &json, &jlen), SAKSI_OK);
	rep[0] = 2;
	assert_int_equal(saksi_rq_reply_open(rep, rlen, lp.pk_key, hash, f->sp, &access, &size,
	    &json, &jlen), SAKSI_ERR_VERSION);
	free(rep);
	assert_int_equal(saksi_rq_reply_make(f->box, hash, 1, 1, sealed, slen, &rep, &rlen),
	    SAKSI_ERR_KEY);
	free(sealed);
}

static void
test_result_json(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}",
		"{\"entries\":[],\"more\":false,\"revealed\":true}",
		"{\"entries\":[],\"more\":false,\"revealed\":true,\"saksi_query_reply\":2}",
		"{\"entries\":[],\"more\":0,\"revealed\":true,\"saksi_query_reply\":1}",
		"{\"entries\":{},\"more\":false,\"revealed\":true,\"saksi_query_reply\":1}",
		"{\"entries\":[],\"more\":false,\"revealed\":true,\"saksi_query_reply\":1,\"x\":1}",
		"{\"entries\":[],\"more\":false,\"more\":false,\"revealed\":true,"
		"\"saksi_query_reply\":1}",
		"{\"entries\":[{\"index\":1}],\"more\":false,\"revealed\":true,"
		"\"saksi_query_reply\":1}",
	};
	saksi_query_result r;
	char *text;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(saksi_rq_result_parse(bad[i], strlen(bad[i]), &r),
		    SAKSI_ERR_FORMAT);
	memset(&r, 0, sizeof(r));
	r.qr_more = 1;
	assert_int_equal(saksi_rq_result_json(&r, &text, &len), SAKSI_OK);
	assert_string_equal(text, "{\"entries\":[],\"more\":true,\"revealed\":false,"
	    "\"saksi_query_reply\":1}");
	assert_int_equal(saksi_rq_result_parse(text, len, &r), SAKSI_OK);
	assert_int_equal(r.qr_more, 1);
	assert_int_equal(r.qr_n, 0);
	free(text);

	/* A payload keeps its signed order through the reply (not sorted), and a row's
	 * members come in the documented order (FORMATS.md 3.4). */
	{
		saksi_query_row row;
		const char *want = "{\"entries\":[{\"index\":7,\"time_ms\":9,\"type\":"
		    "\"queue.booking.created\",\"key_id\":\"0011223344556677\",\"payload\":"
		    "{\"branch\":\"KC-MAKASSAR\",\"channel\":\"app\",\"booking_id\":\"B-1\"},"
		    "\"personal\":\"\",\"forgotten\":false}],\"more\":false,\"revealed\":false,"
		    "\"saksi_query_reply\":1}";

		memset(&r, 0, sizeof(r));
		memset(&row, 0, sizeof(row));
		row.qr_index = 7;
		row.qr_time_ms = 9;
		snprintf(row.qr_type, sizeof(row.qr_type), "queue.booking.created");
		snprintf(row.qr_key_id, sizeof(row.qr_key_id), "0011223344556677");
		row.qr_payload = json_loads("{\"branch\":\"KC-MAKASSAR\",\"channel\":\"app\","
		    "\"booking_id\":\"B-1\"}", 0, NULL);
		assert_non_null(row.qr_payload);
		r.qr_rows = &row;
		r.qr_n = 1;
		assert_int_equal(saksi_rq_result_json(&r, &text, &len), SAKSI_OK);
		assert_string_equal(text, want);
		json_decref(row.qr_payload);
		/* And back: the parsed payload iterates in that order too. */
		assert_int_equal(saksi_rq_result_parse(text, len, &r), SAKSI_OK);
		assert_int_equal(r.qr_n, 1);
		{
			char *again = json_dumps(r.qr_rows[0].qr_payload, JSON_COMPACT |
			    JSON_PRESERVE_ORDER);

			assert_string_equal(again, "{\"branch\":\"KC-MAKASSAR\",\"channel\":"
			    "\"app\",\"booking_id\":\"B-1\"}");
			free(again);
		}
		saksi_query_result_free(&r);
		free(text);
	}
}

static void
test_exchange_errors(void **state)
{
	uint8_t req[4] = { 1, 2, 3, 4 }, *body;
	size_t blen;
	int status;
	char url[128];

	(void)state;
	assert_int_equal(saksi_rq_exchange("nonsense", 100, req, 4, &status, &body, &blen),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_rq_exchange(NULL, 100, req, 4, &status, &body, &blen),
	    SAKSI_ERR_INVAL);
	/* Nobody listens: a bounded wait, then a timeout. */
	snprintf(url, sizeof(url), "ipc:///tmp/saksi-remoteq-nobody-%d.sock", (int)getpid());
	assert_int_equal(saksi_rq_exchange(url, 100, req, 4, &status, &body, &blen),
	    SAKSI_ERR_TIMEOUT);
}

/*
 * saksi verify over a ledger holding access entries: one saksid would write (signed by
 * an access key, naming the requester, carrying his request) verifies; one whose filter
 * was changed after the request was signed does not (SAKSI_V_ACCESS).
 */
static saksi_err
verify_with_entry(struct fx *f, json_t *entry, const saksi_seckey *acc,
                  saksi_keyring *kr, saksi_verify_report *vr)
{
	static const char origin[] = "bpjs.example/saksi/rq";
	char dir[64], vkey[SAKSI_VKEY_MAX + 1], body[512], note[1024], *payload;
	uint8_t env[SAKSI_ENV_MAX];
	size_t elen, bl, nl;
	saksi_pubkey lp;
	saksi_note_verifier v;
	saksi_ledger *l;
	saksi_ledger_txn *t;
	saksi_checkpoint c;
	saksi_verify_opts vo;
	saksi_err e;

	assert_int_equal(tmpdir_make(dir, sizeof(dir), "saksi-rqv"), 0);
	assert_int_equal(saksi_seckey_public(f->log, &lp), SAKSI_OK);
	assert_int_equal(saksi_note_vkey_format(origin, lp.pk_key, vkey, sizeof(vkey)),
	    SAKSI_OK);
	assert_int_equal(saksi_note_vkey_parse(vkey, &v), SAKSI_OK);
	assert_int_equal(saksi_ledger_open(dir, origin, vkey, NULL, &l), SAKSI_OK);
	payload = json_dumps(entry, JSON_COMPACT);
	assert_int_equal(saksi_envelope_sign(acc, 1, 1767225600000ULL,
	    "supervisor.access.logged", (const uint8_t *)payload, strlen(payload), env,
	    sizeof(env), &elen), SAKSI_OK);
	free(payload);
	assert_int_equal(saksi_ledger_begin(l, 1, &t), SAKSI_OK);
	assert_int_equal(saksi_ledger_append(t, SAKSI_LEAF_EVENT, 1767225600000ULL, env, elen,
	    NULL, NULL), SAKSI_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.ck_origin, sizeof(c.ck_origin), "%s", origin);
	c.ck_size = 1;
	assert_int_equal(saksi_ledger_root(t, 1, c.ck_root), SAKSI_OK);
	assert_int_equal(saksi_checkpoint_format(&c, body, sizeof(body), &bl), SAKSI_OK);
	assert_int_equal(saksi_note_sign(body, bl, origin, saksi_seckey_ed25519(f->log), note,
	    sizeof(note), &nl), SAKSI_OK);
	assert_int_equal(saksi_ledger_ckpt_put(t, 1, note, nl), SAKSI_OK);
	assert_int_equal(saksi_ledger_commit(t), SAKSI_OK);
	memset(&vo, 0, sizeof(vo));
	vo.vo_log = &v;
	vo.vo_keyring = kr;
	e = saksi_verify_ledger(l, &vo, vr);
	saksi_ledger_close(l);
	rm_rf(dir);
	return e;
}

static void
test_verify(void **state)
{
	struct fx *f = *state;
	const char *tok = "WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8";
	char json[2048], b64[2][SAKSI_PUBKEY_B64_LEN + 1], hex[2][17];
	saksi_pubkey pub[2];
	saksi_keyring *kr;
	saksi_rq_params p;
	saksi_rq_request rq;
	saksi_verify_report vr;
	uint8_t *req;
	size_t len;
	json_t *e;
	saksi_seckey *acc;

	assert_int_equal(saksi_seckey_generate(SAKSI_KEY_SIGN, &acc), SAKSI_OK);
	assert_int_equal(saksi_seckey_public(acc, &pub[0]), SAKSI_OK);
	pub[1] = f->sp_pub;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(saksi_pubkey_encode(&pub[i], b64[i], sizeof(b64[i])), SAKSI_OK);
		sodium_bin2hex(hex[i], sizeof(hex[i]), pub[i].pk_id, 8);
	}
	snprintf(json, sizeof(json), "{\"saksi_keyring\":1,\"roles\":{\"supervisor\":"
	    "[\"supervisor.*\"]},\"keys\":[{\"name\":\"access\",\"key_id\":\"%s\","
	    "\"public_key\":\"%s\",\"role\":\"supervisor\",\"branch\":\"*\","
	    "\"revoked_ms\":null},{\"name\":\"sp\",\"key_id\":\"%s\",\"public_key\":"
	    "\"%s\",\"role\":\"supervisor\",\"branch\":\"*\",\"revoked_ms\":null}]}",
	    hex[0], b64[0], hex[1], b64[1]);
	assert_int_equal(saksi_keyring_parse(json, strlen(json), &kr, NULL, 0), SAKSI_OK);
	params(&p);
	assert_int_equal(saksi_rq_request_make(f->sp, f->box_pub.pk_key, &p, &req, &len),
	    SAKSI_OK);
	assert_int_equal(saksi_rq_request_parse(req, len, &rq), SAKSI_OK);
	e = entry_for(&rq, tok);
	assert_int_equal(verify_with_entry(f, e, acc, kr, &vr), SAKSI_OK);
	assert_int_equal(vr.vr_reason, SAKSI_V_OK);
	/* The filter changed after the request was signed: a look hidden. */
	json_object_set_new(e, "filter", json_string("nik=WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7"
	    "AEz8,phone=WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8,officer=OF-9,claim=CL-1,"
	    "since=5,limit=1"));
	assert_int_equal(verify_with_entry(f, e, acc, kr, &vr), SAKSI_ERR_CORRUPT);
	assert_int_equal(vr.vr_reason, SAKSI_V_ACCESS);
	assert_int_equal(vr.vr_index, 0);
	assert_non_null(strstr(vr.vr_message, "does not match its request"));
	json_decref(e);
	free(req);
	saksi_keyring_free(kr);
	saksi_seckey_free(acc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_personal_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exchange_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
