/*
 * fuzz_envelope.c: libFuzzer target for lib/envelope.c. The input is tried as an envelope,
 * as one disclosure string, and split at its first 0x00 byte as payload || 0x00 ||
 * disclosures JSON. Properties: a parsed envelope re-encodes field by field to the same
 * bytes and re-signs into one that parses to the same fields and verifies; what the
 * producer side (saksi_disclose_payload, saksi_disclosures_seal) makes, the appliance
 * side (saksi_disclosures_check, saksi_disclosures_open) takes back unchanged.
 */
#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "fuzz.h"
#include "keys.h"

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static saksi_seckey *fz_producer; /* SIGN */
static saksi_pubkey fz_producer_pub;
static saksi_seckey *fz_box;      /* BOX: the appliance */
static saksi_pubkey fz_box_pub;
static uint8_t fz_k[32];          /* K of FORMATS.md 2.2 for (fz_box, fz_producer) */

/* Personal fields for saksi_disclose_payload: the schemas' usual ones and short names. */
static const char *const fz_personal[] = {
	"nik", "kpj", "name", "phone", "email", "device_id", "ip", "a", "b", "x",
};
#define FZ_NPERSONAL (sizeof fz_personal / sizeof fz_personal[0])

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t secret[32];

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	/* Fixed keys: a run must be reproducible from the input alone. */
	memset(secret, 0x11, sizeof secret);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_SIGN, secret, &fz_producer) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(fz_producer, &fz_producer_pub) == SAKSI_OK);
	memset(secret, 0x22, sizeof secret);
	FUZZ_SETUP(saksi_seckey_from_secret(SAKSI_KEY_BOX, secret, &fz_box) == SAKSI_OK);
	FUZZ_SETUP(saksi_seckey_public(fz_box, &fz_box_pub) == SAKSI_OK);
	FUZZ_SETUP(saksi_disclosures_key(fz_box, fz_producer_pub.pk_key, fz_k) == SAKSI_OK);
	sodium_memzero(secret, sizeof secret);
	return 0;
}

/* Writes ev back field by field (FORMATS.md 2), as a second implementation would. */
static size_t
encode(const saksi_envelope *ev, uint8_t *out)
{
	size_t tlen = strlen(ev->ev_type), off = 0;

	out[off++] = 1;
	out[off++] = 1;
	memcpy(out + off, ev->ev_key_id, SAKSI_KEYID_LEN);
	off += SAKSI_KEYID_LEN;
	saksi_put_u64(out + off, ev->ev_seq);
	off += 8;
	saksi_put_u64(out + off, ev->ev_time_ms);
	off += 8;
	out[off++] = (uint8_t)tlen;
	memcpy(out + off, ev->ev_type, tlen);
	off += tlen;
	saksi_put_u32(out + off, (uint32_t)ev->ev_payload_len);
	off += 4;
	memcpy(out + off, ev->ev_payload, ev->ev_payload_len);
	off += ev->ev_payload_len;
	memcpy(out + off, ev->ev_sig, SAKSI_SIG_LEN);
	return off + SAKSI_SIG_LEN;
}

static void
envelope(const uint8_t *buf, size_t len)
{
	static uint8_t out[SAKSI_ENV_MAX], signed_env[SAKSI_ENV_MAX];
	saksi_envelope ev, ev2;
	size_t n, w, i;
	saksi_err e;

	if (saksi_envelope_parse(buf, len, &ev) != SAKSI_OK)
		return;
	FUZZ_CHECK(ev.ev_bytes == buf && ev.ev_len == len, "ev_bytes/ev_len");
	FUZZ_CHECK(ev.ev_payload > buf && ev.ev_payload + ev.ev_payload_len == ev.ev_sig &&
	               ev.ev_sig + SAKSI_SIG_LEN == buf + len,
	           "payload/signature pointers do not tile the buffer");
	FUZZ_CHECK(ev.ev_seq != 0 && ev.ev_payload_len >= 2 &&
	               ev.ev_payload_len <= SAKSI_PAYLOAD_MAX,
	           "accepted out-of-range fields");
	n = strlen(ev.ev_type);
	FUZZ_CHECK(n >= 1 && n <= SAKSI_TYPE_MAX, "type length %zu", n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyz0123456789_.", ev.ev_type[i]) != NULL,
		           "type byte 0x%02x accepted", (unsigned char)ev.ev_type[i]);
	/* The differential check: re-encoding the parsed fields gives the input back. */
	FUZZ_CHECK(encode(&ev, out) == len && memcmp(out, buf, len) == 0,
	           "encode(parse(x)) != x");
	/* Nobody but us holds fz_producer: no input can carry its signature. */
	FUZZ_CHECK(saksi_envelope_verify(&ev, fz_producer_pub.pk_key) == SAKSI_ERR_SIGNATURE,
	           "a signature by a key the fuzzer cannot know verified");

	/* What parse accepts, sign accepts, and the signed result parses to the same. */
	e = saksi_envelope_sign(fz_producer, ev.ev_seq, ev.ev_time_ms, ev.ev_type, ev.ev_payload,
	                        ev.ev_payload_len, signed_env, sizeof signed_env, &w);
	FUZZ_CHECK(e == SAKSI_OK, "sign refused (%d) what parse accepted", e);
	FUZZ_CHECK(w == len, "signed envelope is %zu bytes, input %zu", w, len);
	FUZZ_CHECK(saksi_envelope_parse(signed_env, w, &ev2) == SAKSI_OK, "signed does not parse");
	FUZZ_CHECK(ev2.ev_seq == ev.ev_seq && ev2.ev_time_ms == ev.ev_time_ms &&
	               strcmp(ev2.ev_type, ev.ev_type) == 0 &&
	               ev2.ev_payload_len == ev.ev_payload_len &&
	               memcmp(ev2.ev_payload, ev.ev_payload, ev.ev_payload_len) == 0 &&
	               memcmp(ev2.ev_key_id, fz_producer_pub.pk_id, SAKSI_KEYID_LEN) == 0,
	           "parse(sign(fields)) != fields");
	FUZZ_CHECK(saksi_envelope_verify(&ev2, fz_producer_pub.pk_key) == SAKSI_OK,
	           "our own signature does not verify");
	/* Flip one signed bit chosen by the input: the signature must fail. */
	i = buf[len - 1] % (w - SAKSI_SIG_LEN);
	signed_env[i] ^= 0x01;
	if (saksi_envelope_parse(signed_env, w, &ev2) == SAKSI_OK)
		FUZZ_CHECK(saksi_envelope_verify(&ev2, fz_producer_pub.pk_key) ==
		               SAKSI_ERR_SIGNATURE,
		           "a tampered envelope verified (byte %zu)", i);
}

static void
disclosure(const uint8_t *data, size_t size)
{
	char *s, *name = NULL, *value = NULL;
	char digest[SAKSI_DIGEST_B64_LEN + 1];

	if ((s = fuzz_copy(data, size, 0)) == NULL)
		return;
	if (saksi_disclosure_decode(s, size, &name, &value) == SAKSI_OK) {
		FUZZ_CHECK(name != NULL && value != NULL && name[0] != '\0' &&
		               strcmp(name, "_sd") != 0 && strcmp(name, "...") != 0,
		           "decoded a reserved or empty name");
		saksi_disclosure_digest(s, size, digest);
		FUZZ_CHECK(strlen(digest) == SAKSI_DIGEST_B64_LEN, "digest length");
	} else
		FUZZ_CHECK(name == NULL && value == NULL, "outputs set on failure");
	free(name);
	free(value);
	free(s);
}

/* payload || 0x00 || disclosures: the appliance-side check, then sealing both ways. */
static void
check_pair(const uint8_t *payload, size_t plen, const uint8_t *discs, size_t dlen)
{
	static uint8_t sealed[SAKSI_SEALED_MAX + 64];
	char **names = NULL, **values = NULL;
	uint8_t *plain = NULL;
	size_t n = 7, w, plain_len;
	saksi_err e;

	e = saksi_disclosures_check(payload, plen, discs, dlen, &names, &values, &n);
	if (e == SAKSI_OK)
		FUZZ_CHECK(n == 0 ? names == NULL && values == NULL : names != NULL && values != NULL,
		           "n=%zu with names %p", n, (void *)names);
	else
		FUZZ_CHECK(names == NULL && values == NULL && n == 0, "outputs set on error %d", e);
	saksi_disclosures_free(names, values, n);

	/* The disclosures sealed to the appliance under this "envelope" open unchanged. */
	e = saksi_disclosures_seal(fz_producer, fz_box_pub.pk_key, payload, plen, discs, dlen,
	                           sealed, sizeof sealed, &w);
	if (e != SAKSI_OK)
		return;
	FUZZ_CHECK(w == dlen + 41, "sealed size %zu for %zu bytes", w, dlen);
	e = saksi_disclosures_open(fz_k, payload, plen, sealed, w, &plain, &plain_len);
	FUZZ_CHECK(e == SAKSI_OK && plain_len == dlen && memcmp(plain, discs, dlen) == 0 &&
	               plain[plain_len] == '\0',
	           "open(seal(x)) != x (%d)", e);
	sodium_memzero(plain, plain_len);
	free(plain);
	/* Bound to the envelope: one more byte of envelope and it does not open. */
	if (plen > 0) {
		e = saksi_disclosures_open(fz_k, payload, plen - 1, sealed, w, &plain, &plain_len);
		FUZZ_CHECK(e == SAKSI_ERR_DECRYPT && plain == NULL,
		           "opened for another envelope (%d)", e);
	}
}

/*
 * The producer side in one step, then the appliance side: every personal value the
 * producer took out comes back from saksi_disclosures_check, name for name.
 */
static void
disclose_round_trip(const uint8_t *data, size_t size)
{
	char *pout = NULL, *dout = NULL, **names = NULL, **values = NULL;
	size_t plen, dlen, n = 0, i;
	const char *member;
	json_t *orig, *v;
	saksi_err e;

	e = saksi_disclose_payload((const char *)data, size, fz_personal, FZ_NPERSONAL, &pout,
	                           &plen, &dout, &dlen);
	if (e != SAKSI_OK) {
		FUZZ_CHECK(pout == NULL && dout == NULL, "outputs set on error %d", e);
		return;
	}
	FUZZ_CHECK(strlen(pout) == plen && strlen(dout) == dlen, "lengths");
	orig = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	FUZZ_CHECK(orig != NULL, "disclose accepted JSON that jansson does not");
	/* A member that already looks like {"_sd": ...} has no disclosure: not our case. */
	json_object_foreach(orig, member, v) {
		if (json_is_object(v) && json_object_get(v, "_sd") != NULL) {
			json_decref(orig);
			free(pout);
			free(dout);
			return;
		}
	}
	e = saksi_disclosures_check((const uint8_t *)pout, plen, (const uint8_t *)dout, dlen,
	                            &names, &values, &n);
	FUZZ_CHECK(e == SAKSI_OK, "check refused (%d) what disclose made: %s / %s", e, pout,
	           dout);
	for (i = 0; i < n; i++) {
		v = json_object_get(orig, names[i]);
		FUZZ_CHECK(json_is_string(v) && strcmp(json_string_value(v), values[i]) == 0,
		           "disclosed value of %s changed", names[i]);
	}
	json_decref(orig);
	saksi_disclosures_free(names, values, n);
	free(pout);
	free(dout);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *a, *b;
	size_t alen, blen;
	uint8_t *plain = NULL;
	size_t plain_len;
	uint8_t *copy;

	/* An exact-size copy, so that ASan catches a read one past the end. */
	if ((copy = (uint8_t *)fuzz_copy(data, size, 0)) == NULL)
		return 0;
	envelope(copy, size);
	disclosure(data, size);
	if (saksi_disclosures_open(fz_k, copy, size / 2, copy + size / 2, size - size / 2,
	                           &plain, &plain_len) == SAKSI_OK)
		free(plain);
	if (fuzz_split(copy, size, &a, &alen, &b, &blen))
		check_pair(a, alen, b, blen);
	disclose_round_trip(copy, size);
	free(copy);
	return 0;
}
