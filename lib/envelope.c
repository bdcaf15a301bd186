/*
 * envelope.c: the signed event envelope (FORMATS.md 2), SD-JWT-style disclosures (2.1) and
 * their sealing to the appliance (2.2). Parsers never read past the length they are given
 * and never accept trailing bytes; personal values never enter a signed payload in clear.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "b64.h"
#include "bytes.h"
#include "envelope.h"

#define SIG_DOMAIN "saksi/envelope/v1\n"
#define SIG_DOMAIN_LEN 18
#define SEAL_DOMAIN "saksi/disclosures/v1\n"
#define SEAL_DOMAIN_LEN 21
#define SEAL_HDR (1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
#define SEAL_OVERHEAD (SEAL_HDR + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define SEAL_PLAIN_MAX (SAKSI_SEALED_MAX - SEAL_OVERHEAD)
#define SALT_LEN 16
#define PAYLOAD_MIN 2

static int
type_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

/* The bytes Ed25519 signs: the domain prefix, then the envelope up to the signature. */
static uint8_t *
signed_message(const uint8_t *env, size_t body_len, size_t *mlen)
{
	uint8_t *m;

	if ((m = malloc(SIG_DOMAIN_LEN + body_len)) == NULL)
		return NULL;
	memcpy(m, SIG_DOMAIN, SIG_DOMAIN_LEN);
	memcpy(m + SIG_DOMAIN_LEN, env, body_len);
	*mlen = SIG_DOMAIN_LEN + body_len;
	return m;
}

saksi_err
saksi_envelope_sign(const saksi_seckey *sk, uint64_t seq, uint64_t time_ms, const char *type,
                    const uint8_t *payload, size_t payload_len, uint8_t *out, size_t outlen,
                    size_t *written)
{
	const uint8_t *edsk;
	uint8_t *m, *p;
	size_t tlen, total, mlen, i;

	if (sk == NULL || type == NULL || (payload == NULL && payload_len > 0) || out == NULL ||
	    written == NULL)
		return SAKSI_ERR_INVAL;
	if ((edsk = saksi_seckey_ed25519(sk)) == NULL)
		return SAKSI_ERR_KEY;
	tlen = strlen(type);
	if (tlen > SAKSI_TYPE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (tlen == 0 || seq == 0)
		return SAKSI_ERR_FORMAT;
	for (i = 0; i < tlen; i++)
		if (!type_char_ok((uint8_t)type[i]))
			return SAKSI_ERR_FORMAT;
	if (payload_len > SAKSI_PAYLOAD_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (payload_len < PAYLOAD_MIN)
		return SAKSI_ERR_FORMAT;
	total = SAKSI_ENV_HDR + tlen + 4 + payload_len + SAKSI_SIG_LEN;
	if (outlen < total)
		return SAKSI_ERR_INVAL;

	p = out;
	*p++ = SAKSI_ENV_VERSION;
	*p++ = 1; /* alg: Ed25519 */
	memcpy(p, saksi_seckey_id(sk), SAKSI_KEYID_LEN);
	p += SAKSI_KEYID_LEN;
	saksi_put_u64(p, seq);
	p += 8;
	saksi_put_u64(p, time_ms);
	p += 8;
	*p++ = (uint8_t)tlen;
	memcpy(p, type, tlen);
	p += tlen;
	saksi_put_u32(p, (uint32_t)payload_len);
	p += 4;
	memcpy(p, payload, payload_len);
	p += payload_len;

	if ((m = signed_message(out, (size_t)(p - out), &mlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	crypto_sign_detached(p, NULL, m, mlen, edsk);
	free(m);
	*written = total;
	return SAKSI_OK;
}

saksi_err
saksi_envelope_parse(const uint8_t *buf, size_t len, saksi_envelope *ev)
{
	size_t tlen, plen, off, i;

	if (buf == NULL || ev == NULL)
		return SAKSI_ERR_INVAL;
	if (len < 2)
		return SAKSI_ERR_FORMAT;
	if (buf[0] != SAKSI_ENV_VERSION || buf[1] != 1)
		return SAKSI_ERR_VERSION;
	if (len > SAKSI_ENV_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (len < SAKSI_ENV_HDR)
		return SAKSI_ERR_FORMAT;
	tlen = buf[26];
	if (tlen > SAKSI_TYPE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (tlen == 0 || len < SAKSI_ENV_HDR + tlen + 4)
		return SAKSI_ERR_FORMAT;
	for (i = 0; i < tlen; i++)
		if (!type_char_ok(buf[SAKSI_ENV_HDR + i]))
			return SAKSI_ERR_FORMAT;
	off = SAKSI_ENV_HDR + tlen;
	plen = saksi_get_u32(buf + off);
	off += 4;
	if (plen > SAKSI_PAYLOAD_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (plen < PAYLOAD_MIN || len - off < plen || len - off - plen != SAKSI_SIG_LEN)
		return SAKSI_ERR_FORMAT;

	memcpy(ev->ev_key_id, buf + 2, SAKSI_KEYID_LEN);
	ev->ev_seq = saksi_get_u64(buf + 10);
	ev->ev_time_ms = saksi_get_u64(buf + 18);
	if (ev->ev_seq == 0)
		return SAKSI_ERR_FORMAT;
	memcpy(ev->ev_type, buf + SAKSI_ENV_HDR, tlen);
	ev->ev_type[tlen] = '\0';
	ev->ev_payload = buf + off;
	ev->ev_payload_len = plen;
	ev->ev_sig = buf + off + plen;
	ev->ev_bytes = buf;
	ev->ev_len = len;
	return SAKSI_OK;
}

saksi_err
saksi_envelope_verify(const saksi_envelope *ev, const uint8_t pk[32])
{
	uint8_t *m;
	size_t mlen;
	int r;

	if (ev == NULL || pk == NULL || ev->ev_len < SAKSI_SIG_LEN)
		return SAKSI_ERR_INVAL;
	if ((m = signed_message(ev->ev_bytes, ev->ev_len - SAKSI_SIG_LEN, &mlen)) == NULL)
		return SAKSI_ERR_NOMEM;
	r = crypto_sign_verify_detached(ev->ev_sig, m, mlen, pk);
	free(m);
	return r == 0 ? SAKSI_OK : SAKSI_ERR_SIGNATURE;
}

/* ---- disclosures ---- */

static int
claim_name_ok(const char *name)
{
	/* SD-JWT reserves these; an empty name could not be looked up. */
	return name[0] != '\0' && strcmp(name, "_sd") != 0 && strcmp(name, "...") != 0;
}

static char *
b64url(const uint8_t *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s;

	if ((s = malloc(n)) == NULL)
		return NULL;
	sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

/* Decodes exactly the len chars of s (base64url, no padding); *out malloc'd. */
static saksi_err
b64url_decode(const char *s, size_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *b;
	const char *end;

	if ((b = malloc(len / 4 * 3 + 3)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (saksi_base642bin(b, len / 4 * 3 + 3, s, len, NULL, outlen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + len) {
		free(b);
		return SAKSI_ERR_FORMAT;
	}
	*out = b;
	return SAKSI_OK;
}

saksi_err
saksi_disclosure_make_salted(const char *name, const char *value, const uint8_t salt[16],
                             char **out)
{
	json_t *arr = NULL;
	char *salt64 = NULL, *json = NULL, *d;
	saksi_err err = SAKSI_ERR_FORMAT;

	if (name == NULL || value == NULL || salt == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if (!claim_name_ok(name))
		return SAKSI_ERR_FORMAT;
	if ((salt64 = b64url(salt, SALT_LEN)) == NULL)
		return SAKSI_ERR_NOMEM;
	/* json_string() refuses invalid UTF-8: that is our FORMAT case. */
	if ((arr = json_array()) == NULL ||
	    json_array_append_new(arr, json_string(salt64)) != 0 ||
	    json_array_append_new(arr, json_string(name)) != 0 ||
	    json_array_append_new(arr, json_string(value)) != 0)
		goto out;
	err = SAKSI_ERR_NOMEM;
	if ((json = json_dumps(arr, JSON_COMPACT)) == NULL)
		goto out;
	if ((d = b64url((const uint8_t *)json, strlen(json))) == NULL)
		goto out;
	*out = d;
	err = SAKSI_OK;
out:
	if (json != NULL) {
		sodium_memzero(json, strlen(json));
		free(json);
	}
	json_decref(arr);
	free(salt64);
	return err;
}

saksi_err
saksi_disclosure_make(const char *name, const char *value, char **out)
{
	uint8_t salt[SALT_LEN];

	randombytes_buf(salt, sizeof(salt));
	return saksi_disclosure_make_salted(name, value, salt, out);
}

void
saksi_disclosure_digest(const char *disclosure, size_t len, char *digest_out)
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const uint8_t *)disclosure, len);
	sodium_bin2base64(digest_out, SAKSI_DIGEST_B64_LEN + 1, h, sizeof(h),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Room on the stack for the usual disclosure (a few hundred bytes); larger ones malloc. */
#define DECODE_STACK 512

/* Wipes the personal value inside a parsed disclosure, then drops it. */
static void
disclosure_drop(json_t *arr)
{
	json_t *v;

	if (arr == NULL)
		return;
	if ((v = json_array_get(arr, 2)) != NULL && json_is_string(v))
		sodium_memzero((char *)json_string_value(v), json_string_length(v));
	json_decref(arr);
}

/*
 * Decodes a disclosure into its parsed [salt, name, value] array (*arr, a new reference),
 * checked as saksi_disclosure_decode documents. name and value stay inside *arr, so a
 * caller that only compares them copies nothing.
 */
static saksi_err
disclosure_parse(const char *disclosure, size_t len, json_t **arr, uint8_t *rawout,
                 size_t *rawout_len)
{
	uint8_t stack[DECODE_STACK], *raw = stack, salt[DECODE_STACK], *bigsalt = NULL;
	size_t cap = len / 4 * 3 + 3, rawlen = 0, saltlen = 0, slen;
	const char *end;
	json_t *a = NULL, *s, *n, *v;
	saksi_err err = SAKSI_ERR_FORMAT;

	*arr = NULL;
	if (len > SAKSI_DISCLOSURE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (cap > sizeof(stack) && (raw = malloc(cap)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (saksi_base642bin(raw, cap, disclosure, len, NULL, &rawlen, &end,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != disclosure + len)
		goto out;
	if ((a = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		goto out;
	if (!json_is_array(a) || json_array_size(a) != 3)
		goto out;
	s = json_array_get(a, 0);
	n = json_array_get(a, 1);
	v = json_array_get(a, 2);
	if (!json_is_string(s) || !json_is_string(n) || !json_is_string(v))
		goto out;
	if (!claim_name_ok(json_string_value(n)))
		goto out;
	/* The salt is what keeps a digest of a guessable value (a NIK) from being brute-forced. */
	slen = json_string_length(s);
	if (slen / 4 * 3 + 3 > sizeof(salt))
		err = b64url_decode(json_string_value(s), slen, &bigsalt, &saltlen);
	else if (saksi_base642bin(salt, sizeof(salt), json_string_value(s), slen, NULL,
	                           &saltlen, &end,
	                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	         end != json_string_value(s) + slen)
		err = SAKSI_ERR_FORMAT;
	else
		err = SAKSI_OK;
	free(bigsalt);
	if (err != SAKSI_OK)
		goto out;
	err = SAKSI_ERR_FORMAT;
	if (saltlen < SALT_LEN)
		goto out;
	/* The caller's room is len / 4 * 3 + 3, which rawlen never exceeds. */
	if (rawout != NULL) {
		memcpy(rawout, raw, rawlen);
		*rawout_len = rawlen;
	}
	*arr = a;
	a = NULL;
	err = SAKSI_OK;
out:
	/* Personal data: wipe all that base642bin may have written, failed or not. */
	sodium_memzero(raw, cap);
	if (raw != stack)
		free(raw);
	disclosure_drop(a);
	return err;
}

saksi_err
saksi_disclosure_decode(const char *disclosure, size_t len, char **name, char **value)
{
	json_t *arr;
	saksi_err err;

	if (disclosure == NULL || name == NULL || value == NULL)
		return SAKSI_ERR_INVAL;
	*name = *value = NULL;
	if ((err = disclosure_parse(disclosure, len, &arr, NULL, NULL)) != SAKSI_OK)
		return err;
	if ((*name = strdup(json_string_value(json_array_get(arr, 1)))) == NULL ||
	    (*value = strdup(json_string_value(json_array_get(arr, 2)))) == NULL) {
		free(*name);
		*name = NULL;
		err = SAKSI_ERR_NOMEM;
	}
	disclosure_drop(arr);
	return err;
}

saksi_err
saksi_disclose_payload(const char *payload_json, size_t len, const char *const *personal,
                       size_t n_personal, char **payload_out, size_t *payload_len,
                       char **disclosures_out, size_t *disclosures_len)
{
	json_t *obj = NULL, *discs = NULL, *v, *sd;
	char *d = NULL, digest[SAKSI_DIGEST_B64_LEN + 1];
	char *pout = NULL, *dout = NULL;
	size_t i, j;
	saksi_err err;

	if (payload_json == NULL || (personal == NULL && n_personal > 0) ||
	    payload_out == NULL || payload_len == NULL || disclosures_out == NULL ||
	    disclosures_len == NULL)
		return SAKSI_ERR_INVAL;
	*payload_out = *disclosures_out = NULL;
	if (n_personal > SAKSI_DISCLOSURES_MAX)
		return SAKSI_ERR_TOO_LARGE;
	for (i = 0; i < n_personal; i++) {
		if (personal[i] == NULL)
			return SAKSI_ERR_INVAL;
		for (j = 0; j < i; j++)
			if (strcmp(personal[i], personal[j]) == 0)
				return SAKSI_ERR_INVAL;
	}
	if ((obj = json_loadb(payload_json, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(obj)) {
		json_decref(obj);
		return SAKSI_ERR_FORMAT;
	}
	err = SAKSI_ERR_NOMEM;
	if ((discs = json_array()) == NULL)
		goto out;
	for (i = 0; i < n_personal; i++) {
		if ((v = json_object_get(obj, personal[i])) == NULL)
			continue;
		if (!json_is_string(v)) {
			err = SAKSI_ERR_FORMAT;
			goto out;
		}
		if ((err = saksi_disclosure_make(personal[i], json_string_value(v), &d)) !=
		    SAKSI_OK)
			goto out;
		saksi_disclosure_digest(d, strlen(d), digest);
		err = SAKSI_ERR_NOMEM;
		if (json_array_append_new(discs, json_string(d)) != 0)
			goto out;
		free(d);
		d = NULL;
		if ((sd = json_pack("{s:s}", "_sd", digest)) == NULL)
			goto out;
		if (json_object_set_new(obj, personal[i], sd) != 0)
			goto out;
	}
	if ((pout = json_dumps(obj, JSON_COMPACT)) == NULL ||
	    (dout = json_dumps(discs, JSON_COMPACT)) == NULL)
		goto out;
	*payload_out = pout;
	*payload_len = strlen(pout);
	*disclosures_out = dout;
	*disclosures_len = strlen(dout);
	pout = dout = NULL;
	err = SAKSI_OK;
out:
	free(d);
	free(pout);
	free(dout);
	json_decref(discs);
	json_decref(obj);
	return err;
}

/* ---- sealing ---- */

static void
seal_ad(const uint8_t *envelope, size_t env_len, uint8_t ad[SEAL_DOMAIN_LEN + 32])
{
	memcpy(ad, SEAL_DOMAIN, SEAL_DOMAIN_LEN);
	crypto_hash_sha256(ad + SEAL_DOMAIN_LEN, envelope, env_len);
}

/* A JSON array of at most SAKSI_DISCLOSURES_MAX strings. */
static saksi_err
check_disclosure_list(const uint8_t *plain, size_t len, json_t **out)
{
	json_t *arr, *v;
	size_t i;

	if ((arr = json_loadb((const char *)plain, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return SAKSI_ERR_FORMAT;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return SAKSI_ERR_FORMAT;
	}
	if (json_array_size(arr) > SAKSI_DISCLOSURES_MAX) {
		json_decref(arr);
		return SAKSI_ERR_TOO_LARGE;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			json_decref(arr);
			return SAKSI_ERR_FORMAT;
		}
	}
	if (out != NULL)
		*out = arr;
	else
		json_decref(arr);
	return SAKSI_OK;
}

saksi_err
saksi_disclosures_seal(const saksi_seckey *producer, const uint8_t appliance_box_pk[32],
                       const uint8_t *envelope, size_t env_len, const uint8_t *plain,
                       size_t plain_len, uint8_t *out, size_t outlen, size_t *written)
{
	uint8_t ad[SEAL_DOMAIN_LEN + 32];
	uint8_t *xsk = NULL, *k = NULL;
	const uint8_t *edsk;
	unsigned long long clen;
	saksi_err err;

	if (producer == NULL || appliance_box_pk == NULL || envelope == NULL ||
	    plain == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	if ((edsk = saksi_seckey_ed25519(producer)) == NULL)
		return SAKSI_ERR_KEY;
	if (plain_len > SEAL_PLAIN_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (outlen < SEAL_OVERHEAD + plain_len)
		return SAKSI_ERR_INVAL;
	if ((err = check_disclosure_list(plain, plain_len, NULL)) != SAKSI_OK)
		return err;

	xsk = sodium_malloc(crypto_scalarmult_curve25519_BYTES);
	k = sodium_malloc(crypto_box_BEFORENMBYTES);
	if (xsk == NULL || k == NULL) {
		err = SAKSI_ERR_NOMEM;
		goto out;
	}
	/* Cannot fail for a key libsodium made; a failure would be a broken key. */
	if (crypto_sign_ed25519_sk_to_curve25519(xsk, edsk) != 0 ||
	    crypto_box_beforenm(k, appliance_box_pk, xsk) != 0) {
		err = SAKSI_ERR_KEY;
		goto out;
	}
	seal_ad(envelope, env_len, ad);
	out[0] = 1;
	randombytes_buf(out + 1, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_HDR, &clen, plain, plain_len, ad,
	                                           sizeof(ad), NULL, out + 1, k);
	*written = SEAL_HDR + (size_t)clen;
	err = SAKSI_OK;
out:
	sodium_free(k);
	sodium_free(xsk);
	return err;
}

saksi_err
saksi_disclosures_key(const saksi_seckey *appliance_box, const uint8_t producer_ed25519_pk[32],
                      uint8_t key[32])
{
	uint8_t xpk[crypto_scalarmult_curve25519_BYTES];
	const uint8_t *xsk;

	if (appliance_box == NULL || producer_ed25519_pk == NULL || key == NULL)
		return SAKSI_ERR_INVAL;
	if ((xsk = saksi_seckey_x25519(appliance_box)) == NULL)
		return SAKSI_ERR_KEY;
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, producer_ed25519_pk) != 0)
		return SAKSI_ERR_KEY;
	if (crypto_box_beforenm(key, xpk, xsk) != 0) {
		sodium_memzero(key, 32);
		return SAKSI_ERR_KEY;
	}
	return SAKSI_OK;
}

static saksi_err
disclosures_open(const uint8_t key[32], const uint8_t ad[SEAL_DOMAIN_LEN + 32],
                 const uint8_t *sealed, size_t sealed_len, uint8_t **plain, size_t *plain_len)
{
	uint8_t *p;
	unsigned long long plen;

	*plain = NULL;
	if (sealed_len < SEAL_OVERHEAD)
		return SAKSI_ERR_FORMAT;
	if (sealed_len > SAKSI_SEALED_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (sealed[0] != 1)
		return SAKSI_ERR_VERSION;
	if ((p = malloc(sealed_len - SEAL_OVERHEAD + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, sealed + SEAL_HDR,
	                                               sealed_len - SEAL_HDR, ad,
	                                               SEAL_DOMAIN_LEN + 32, sealed + 1,
	                                               key) != 0) {
		free(p);
		return SAKSI_ERR_DECRYPT;
	}
	p[plen] = '\0';
	*plain = p;
	*plain_len = (size_t)plen;
	return SAKSI_OK;
}

saksi_err
saksi_disclosures_open(const uint8_t key[32], const uint8_t *envelope, size_t env_len,
                       const uint8_t *sealed, size_t sealed_len, uint8_t **plain,
                       size_t *plain_len)
{
	uint8_t ad[SEAL_DOMAIN_LEN + 32];

	if (key == NULL || envelope == NULL || sealed == NULL || plain == NULL ||
	    plain_len == NULL)
		return SAKSI_ERR_INVAL;
	*plain = NULL;
	/* The size checks come before the hash: they need no AD. */
	if (sealed_len < SEAL_OVERHEAD)
		return SAKSI_ERR_FORMAT;
	if (sealed_len > SAKSI_SEALED_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (sealed[0] != 1)
		return SAKSI_ERR_VERSION;
	seal_ad(envelope, env_len, ad);
	return disclosures_open(key, ad, sealed, sealed_len, plain, plain_len);
}

saksi_err
saksi_disclosures_open_hashed(const uint8_t key[32], const uint8_t env_hash[32],
                              const uint8_t *sealed, size_t sealed_len, uint8_t **plain,
                              size_t *plain_len)
{
	uint8_t ad[SEAL_DOMAIN_LEN + 32];

	if (key == NULL || env_hash == NULL || sealed == NULL || plain == NULL ||
	    plain_len == NULL)
		return SAKSI_ERR_INVAL;
	memcpy(ad, SEAL_DOMAIN, SEAL_DOMAIN_LEN);
	memcpy(ad + SEAL_DOMAIN_LEN, env_hash, 32);
	return disclosures_open(key, ad, sealed, sealed_len, plain, plain_len);
}

/* ---- checking disclosures against a payload ---- */

struct disc {
	char d_digest[SAKSI_DIGEST_B64_LEN + 1];
	json_t *d_arr;     /* [salt, name, value]: name and value are read in place */
	int d_used;
};

#define D_NAME(d) json_string_value(json_array_get((d)->d_arr, 1))
#define D_VALUE(d) json_array_get((d)->d_arr, 2)

static saksi_err
check_json(const json_t *payload, const uint8_t *disclosures_json, size_t disclosures_len,
           char ***names, char ***values, size_t *n, uint8_t **list, size_t *list_len)
{
	json_t *arr = NULL, *v, *sd;
	struct disc *ds = NULL, dstack[8];
	size_t nd = 0, dcap, next = 0, i, j, lcap = 0, loff = 1, rl;
	const char *member, *dg;
	char **outn = NULL, **outv = NULL;
	uint8_t *lb = NULL;
	saksi_err err;

	if (names != NULL)
		*names = NULL;
	if (values != NULL)
		*values = NULL;
	if (n != NULL)
		*n = 0;
	if (list != NULL)
		*list = NULL;
	if (list_len != NULL)
		*list_len = 0;
	if (payload == NULL || disclosures_json == NULL)
		return SAKSI_ERR_INVAL;
	if (!json_is_object(payload))
		return SAKSI_ERR_FORMAT;
	if ((err = check_disclosure_list(disclosures_json, disclosures_len, &arr)) != SAKSI_OK)
		return err;
	nd = json_array_size(arr);
	/* The usual event has a handful of personal fields: no allocation for those. */
	ds = dstack;
	dcap = sizeof(dstack) / sizeof(dstack[0]);
	if (nd > dcap) {
		if ((ds = malloc(nd * sizeof(*ds))) == NULL) {
			err = SAKSI_ERR_NOMEM;
			goto out;
		}
		dcap = nd;
	}
	memset(ds, 0, dcap * sizeof(*ds));
	if (list != NULL && nd > 0) {
		/* Each decoded disclosure is shorter than its base64url: room for all. */
		json_array_foreach(arr, i, v)
			lcap += 2 + json_string_length(v) / 4 * 3 + 3;
		if ((lb = malloc(1 + lcap)) == NULL) {
			err = SAKSI_ERR_NOMEM;
			goto out;
		}
		lcap++;
	}
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		size_t slen = json_string_length(v);

		uint8_t *rp = lb != NULL ? lb + loff + 2 : NULL;

		if ((err = disclosure_parse(s, slen, &ds[i].d_arr, rp, &rl)) != SAKSI_OK)
			goto out;
		if (lb != NULL) {
			saksi_put_u16(lb + loff, (uint16_t)rl);
			loff += 2 + rl;
		}
		saksi_disclosure_digest(s, slen, ds[i].d_digest);
		for (j = 0; j < i; j++)
			if (strcmp(ds[j].d_digest, ds[i].d_digest) == 0) {
				err = SAKSI_ERR_PROOF;
				goto out;
			}
	}

	json_object_foreach((json_t *)payload, member, v) {
		if (!json_is_object(v) || (sd = json_object_get(v, "_sd")) == NULL)
			continue;
		err = SAKSI_ERR_FORMAT;
		if (json_object_size(v) != 1 || !json_is_string(sd) ||
		    json_string_length(sd) != SAKSI_DIGEST_B64_LEN)
			goto out;
		dg = json_string_value(sd);
		/*
		 * Producers list disclosures in member order, so the search starts after the
		 * last match: one comparison per member instead of n/2.
		 */
		for (j = 0; j < nd; j++) {
			i = (next + j) % nd;
			if (sodium_memcmp(ds[i].d_digest, dg, SAKSI_DIGEST_B64_LEN) == 0)
				break;
		}
		err = SAKSI_ERR_PROOF;
		if (j == nd || ds[i].d_used || strcmp(D_NAME(&ds[i]), member) != 0)
			goto out;
		ds[i].d_used = 1;
		next = i + 1;
	}
	err = SAKSI_ERR_PROOF;
	for (i = 0; i < nd; i++)
		if (!ds[i].d_used)
			goto out;

	if (names != NULL && values != NULL && nd > 0) {
		err = SAKSI_ERR_NOMEM;
		if ((outn = calloc(nd, sizeof(char *))) == NULL ||
		    (outv = calloc(nd, sizeof(char *))) == NULL) {
			free(outn);
			goto out;
		}
		for (i = 0; i < nd; i++) {
			if ((outn[i] = strdup(D_NAME(&ds[i]))) == NULL ||
			    (outv[i] = strdup(json_string_value(D_VALUE(&ds[i])))) == NULL) {
				saksi_disclosures_free(outn, outv, nd);
				goto out;
			}
		}
		*names = outn;
		*values = outv;
	}
	if (n != NULL)
		*n = nd;
	if (lb != NULL) {
		lb[0] = (uint8_t)nd;
		*list = lb;
		*list_len = loff;
		lb = NULL;
	}
	err = SAKSI_OK;
out:
	if (ds != NULL) {
		for (i = 0; i < nd; i++)
			disclosure_drop(ds[i].d_arr);
		if (ds != dstack)
			free(ds);
	}
	if (lb != NULL) {
		sodium_memzero(lb, lcap);
		free(lb);
	}
	json_decref(arr);
	return err;
}

saksi_err
saksi_disclosures_check_json(const json_t *payload, const uint8_t *disclosures_json,
                             size_t disclosures_len, char ***names, char ***values,
                             size_t *n)
{
	return check_json(payload, disclosures_json, disclosures_len, names, values, n, NULL,
	                  NULL);
}

saksi_err
saksi_disclosures_check_list(const json_t *payload, const uint8_t *disclosures_json,
                             size_t disclosures_len, char ***names, char ***values,
                             size_t *n, uint8_t **list, size_t *list_len)
{
	if (list == NULL || list_len == NULL) {
		if (names != NULL)
			*names = NULL;
		if (values != NULL)
			*values = NULL;
		if (n != NULL)
			*n = 0;
		return SAKSI_ERR_INVAL;
	}
	return check_json(payload, disclosures_json, disclosures_len, names, values, n, list,
	                  list_len);
}

saksi_err
saksi_disclosures_check(const uint8_t *payload, size_t payload_len,
                        const uint8_t *disclosures_json, size_t disclosures_len, char ***names,
                        char ***values, size_t *n)
{
	json_t *obj;
	saksi_err err;

	if (payload == NULL || disclosures_json == NULL)
		return SAKSI_ERR_INVAL;
	if (names != NULL)
		*names = NULL;
	if (values != NULL)
		*values = NULL;
	if (n != NULL)
		*n = 0;
	if ((obj = json_loadb((const char *)payload, payload_len, JSON_REJECT_DUPLICATES,
	                      NULL)) == NULL || !json_is_object(obj)) {
		json_decref(obj);
		return SAKSI_ERR_FORMAT;
	}
	err = saksi_disclosures_check_json(obj, disclosures_json, disclosures_len, names,
	                                   values, n);
	json_decref(obj);
	return err;
}

void
saksi_disclosures_free(char **names, char **values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (names != NULL)
			free(names[i]);
		if (values != NULL && values[i] != NULL) {
			sodium_memzero(values[i], strlen(values[i]));
			free(values[i]);
		}
	}
	free(names);
	free(values);
}
