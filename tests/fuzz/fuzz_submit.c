/*
 * fuzz_submit.c: libFuzzer target for the daemon's submit path without a ledger: request
 * framing (saksid_submit_count/frame) and the per-item checks (saksid_ingest_check) with
 * a real keyring, the real schemas and a real box key. Random bytes never carry a valid
 * signature, so each framed envelope is also re-signed with a keyring key (chosen by its
 * key id's first byte) and a sealed part that starts with '[' is sealed as its
 * disclosures: the fuzzer then reaches the role, branch, schema and disclosure checks.
 * Checks: framing tiles the message, codes are in range, a refusal message is one line
 * that never quotes a disclosed (personal) value, an accepted item is what the schema and
 * the disclosure check accept.
 */
#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "fuzz.h"
#include "ingest.h"
#include "keys.h"
#include "schema.h"
#include "wire.h"

#define FZ_KEYS 3
#define FZ_RESIGN_MAX 8          /* re-signed items per input (signing costs) */
#define FZ_NOW 1741564800000ull  /* the daemon's clock, fixed: runs must repeat */

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static saksi_seckey *fz_prod[FZ_KEYS];
static saksi_seckey *fz_box;
static saksi_pubkey fz_box_pub;
static saksi_keyring *fz_kr;
static saksi_schemas *fz_sc;
static saksid_ingest *fz_ig;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* key 0: every type, any branch; key 1: queue.* at KC-MAKASSAR; key 2: revoked. */
	static const char *const role[FZ_KEYS] = { "all", "queue", "all" };
	static const char *const branch[FZ_KEYS] = { "*", "KC-MAKASSAR", "*" };
	static const char *const revoked[FZ_KEYS] = { "null", "null", "1000" };
	char json[4096], b64[SAKSI_PUBKEY_B64_LEN + 1], id[2 * SAKSI_KEYID_LEN + 1], err[256];
	uint8_t secret[32];
	saksi_pubkey pub;
	size_t off;
	int i;

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	off = (size_t)snprintf(json, sizeof json,
	                       "{\"saksi_keyring\":1,\"roles\":{\"all\":[\"queue.*\",\"claim.*\","
	                       "\"staff.*\"],\"queue\":[\"queue.*\"]},\"keys\":[");
	for (i = 0; i < FZ_KEYS; i++) {
		memset(secret, 0x30 + i, sizeof secret);
		FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_SIGN, secret, &fz_prod[i]) ==
		           SAKSI_OK);
		FUZZ_SETUP(saksi_seckey_public(fz_prod[i], &pub) == SAKSI_OK);
		FUZZ_SETUP(saksi_pubkey_encode(&pub, b64, sizeof b64) == SAKSI_OK);
		sodium_bin2hex(id, sizeof id, pub.pk_id, SAKSI_KEYID_LEN);
		off += (size_t)snprintf(json + off, sizeof json - off,
		                        "%s{\"name\":\"p%d\",\"key_id\":\"%s\",\"public_key\":\"%s\","
		                        "\"role\":\"%s\",\"branch\":\"%s\",\"revoked_ms\":%s}",
		                        i ? "," : "", i, id, b64, role[i], branch[i], revoked[i]);
	}
	snprintf(json + off, sizeof json - off, "]}");
	FUZZ_SETUP(saksi_keyring_parse(json, strlen(json), &fz_kr, err, sizeof err) == SAKSI_OK);
	memset(secret, 0x44, sizeof secret);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_BOX, secret, &fz_box) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(fz_box, &fz_box_pub) == SAKSI_OK);
	sodium_memzero(secret, sizeof secret);
	FUZZ_SETUP(saksi_schemas_load(getenv("SAKSI_FUZZ_SCHEMA_DIR") ? getenv("SAKSI_FUZZ_SCHEMA_DIR")
	                                                               : SAKSI_SOURCE_SCHEMA_DIR,
	                              &fz_sc, err, sizeof err) == SAKSI_OK);
	FUZZ_SETUP(saksid_ingest_new(fz_kr, fz_sc, fz_box, &fz_ig) == SAKSI_OK);
	return 0;
}

/*
 * The clear values of the disclosures in plain (a JSON array of disclosure strings),
 * NULL-terminated and malloc'd; NULL when plain is not such a list.
 */
static char **
clear_values(const uint8_t *plain, size_t len)
{
	json_t *arr, *v;
	char **out, *name, *value;
	size_t i, n = 0;

	if ((arr = json_loadb((const char *)plain, len, 0, NULL)) == NULL)
		return NULL;
	if (!json_is_array(arr) || (out = calloc(json_array_size(arr) + 1, sizeof *out)) == NULL) {
		json_decref(arr);
		return NULL;
	}
	json_array_foreach(arr, i, v) {
		if (json_is_string(v) &&
		    saksi_disclosure_decode(json_string_value(v), json_string_length(v), &name,
		                            &value) == SAKSI_OK) {
			free(name);
			out[n++] = value;
		}
	}
	json_decref(arr);
	return out;
}

static void
free_values(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* What must hold for any checked item; `clear` are the values it may not leak. */
static void
check_item(const saksid_item *it, int code, char **clear)
{
	saksi_envelope ev;
	uint8_t h[32];
	size_t n, i;

	FUZZ_CHECK(code == it->it_code && code >= 0 && code < SAKSI_R__COUNT &&
	               code != SAKSI_R_DUPLICATE && code != SAKSI_R_REPLAY &&
	               code != SAKSI_R_EQUIVOCATION && code != SAKSI_R_CLOCK_SKEW,
	           "code %d (it_code %d) is not one ingest decides", code, it->it_code);
	n = strnlen(it->it_msg, sizeof it->it_msg);
	FUZZ_CHECK(n < sizeof it->it_msg, "it_msg not terminated");
	for (i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)it->it_msg[i] >= 0x20 && it->it_msg[i] != 0x7f,
		           "control byte in it_msg: %s", it->it_msg);
	/*
	 * A value that also stands in the signed bytes themselves (as a member name, say)
	 * was published by the producer: a message may show that part.
	 */
	for (i = 0; clear != NULL && clear[i] != NULL; i++)
		if (strlen(clear[i]) >= 6 &&
		    memmem(it->it_env, it->it_env_len, clear[i], strlen(clear[i])) == NULL)
			FUZZ_CHECK(strstr(it->it_msg, clear[i]) == NULL,
			           "it_msg quotes a disclosed value: %s", it->it_msg);
	if (code != SAKSI_R_ACCEPTED) {
		FUZZ_CHECK(n > 0 && it->it_disc == NULL, "refusal %d without reason or with data",
		           code);
		return;
	}
	FUZZ_CHECK(saksi_envelope_parse(it->it_env, it->it_env_len, &ev) == SAKSI_OK,
	           "accepted an envelope that does not parse");
	FUZZ_CHECK(it->it_seq == ev.ev_seq && it->it_time_ms == ev.ev_time_ms &&
	               memcmp(it->it_key_id, ev.ev_key_id, SAKSI_KEYID_LEN) == 0,
	           "item fields are not the envelope's");
	crypto_hash_sha256(h, it->it_env, it->it_env_len);
	FUZZ_CHECK(memcmp(h, it->it_env_hash, sizeof h) == 0, "it_env_hash");
	FUZZ_CHECK(saksi_schemas_validate(fz_sc, ev.ev_type, (const char *)ev.ev_payload,
	                                  ev.ev_payload_len, NULL, 0) == SAKSI_OK,
	           "accepted a payload its schema refuses");
	if (it->it_disc != NULL)
		FUZZ_CHECK(saksi_disclosures_check(ev.ev_payload, ev.ev_payload_len, it->it_disc,
		                                   it->it_disc_len, NULL, NULL, NULL) == SAKSI_OK,
		           "kept disclosures that do not match the payload");
	else
		FUZZ_CHECK(saksi_disclosures_check(ev.ev_payload, ev.ev_payload_len,
		                                   (const uint8_t *)"[]", 2, NULL, NULL, NULL) ==
		                   SAKSI_OK,
		           "accepted without disclosures a payload that has digests");
}

/*
 * Rebuilds item it as a producer would: the envelope's fields signed with a keyring key,
 * and a '['-led sealed part sealed as the disclosures. Then checks it.
 */
static void
resign(const saksid_item *orig)
{
	static uint8_t env[SAKSI_ENV_MAX], sealed[SAKSI_SEALED_MAX];
	saksi_envelope ev;
	saksid_item it;
	const saksi_seckey *k;
	char **clear = NULL;
	size_t elen, slen = 0;
	int code;

	if (saksi_envelope_parse(orig->it_env, orig->it_env_len, &ev) != SAKSI_OK)
		return;
	k = fz_prod[ev.ev_key_id[0] % FZ_KEYS];
	FUZZ_CHECK(saksi_envelope_sign(k, ev.ev_seq, ev.ev_time_ms, ev.ev_type, ev.ev_payload,
	                               ev.ev_payload_len, env, sizeof env, &elen) == SAKSI_OK,
	           "sign refused a parsed envelope");
	memset(&it, 0, sizeof it);
	it.it_env = env;
	it.it_env_len = elen;
	if (orig->it_sealed_len > 0 && orig->it_sealed[0] == '[') {
		if (saksi_disclosures_seal(k, fz_box_pub.pk_key, env, elen, orig->it_sealed,
		                           orig->it_sealed_len, sealed, sizeof sealed,
		                           &slen) != SAKSI_OK)
			return;
		clear = clear_values(orig->it_sealed, orig->it_sealed_len);
		it.it_sealed = sealed;
		it.it_sealed_len = slen;
	} else {
		it.it_sealed = orig->it_sealed;
		it.it_sealed_len = orig->it_sealed_len;
	}
	code = saksid_ingest_check(fz_ig, &it, FZ_NOW);
	check_item(&it, code, clear);
	/* Signed by us, so never these; revoked key 2 is refused as revoked. */
	FUZZ_CHECK(code != SAKSI_R_UNKNOWN_KEY && code != SAKSI_R_SIGNATURE,
	           "our own signature refused: %s", it.it_msg);
	/* The sealed box's fixed part is parsed before the key is looked at. */
	if (k == fz_prod[2] && code != SAKSI_R_PARSE)
		FUZZ_CHECK(code == SAKSI_R_REVOKED_KEY, "revoked key gave %d", code);
	saksid_item_clear(&it);
	free_values(clear);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static saksid_item items[SAKSI_WIRE_BATCH_MAX];
	char msg[256];
	uint8_t *body;
	size_t count = 0, i, total;
	int r, code;

	if ((body = (uint8_t *)fuzz_copy(data, size, 0)) == NULL)
		return 0;
	memset(msg, 'x', sizeof msg);
	r = saksid_submit_count(body, size, &count, msg, sizeof msg);
	if (r != SAKSI_R_ACCEPTED) {
		FUZZ_CHECK(r == SAKSI_R_PARSE || r == SAKSI_R_SIZE, "count gave %d", r);
		FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL, "msg not terminated");
		goto out;
	}
	FUZZ_CHECK(count >= 1 && count <= SAKSI_WIRE_BATCH_MAX, "count %zu", count);
	r = saksid_submit_frame(body, size, items, count, FZ_NOW, msg, sizeof msg);
	if (r != SAKSI_R_ACCEPTED) {
		FUZZ_CHECK(r == SAKSI_R_PARSE || r == SAKSI_R_SIZE, "frame gave %d", r);
		FUZZ_CHECK(memchr(msg, '\0', sizeof msg) != NULL, "msg not terminated");
		goto out;
	}
	/* The items tile the message: 2-byte count, then 4 + env + 4 + sealed each. */
	total = 2;
	for (i = 0; i < count; i++) {
		FUZZ_CHECK(items[i].it_env == body + total + 4 &&
		               items[i].it_sealed == items[i].it_env + items[i].it_env_len + 4,
		           "item %zu is not where its lengths put it", i);
		total += 8 + items[i].it_env_len + items[i].it_sealed_len;
		FUZZ_CHECK(items[i].it_recv_ms == FZ_NOW, "recv_ms");
	}
	FUZZ_CHECK(total == size, "items cover %zu of %zu bytes", total, size);
	for (i = 0; i < count; i++) {
		code = saksid_ingest_check(fz_ig, &items[i], FZ_NOW);
		check_item(&items[i], code, NULL);
		saksid_item_clear(&items[i]);
		if (i < FZ_RESIGN_MAX)
			resign(&items[i]);
	}
out:
	free(body);
	return 0;
}
