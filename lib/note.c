/*
 * note.c: C2SP signed notes (Ed25519), tlog-checkpoint bodies and tlog-proof@v1 texts.
 * Every parser here reads hostile bytes: it checks caps first, the whole structure next,
 * and only then spends a signature check; it never trusts text it has not verified.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "note.h"

#define ED25519_ALG 0x01
#define SIG_LEN (4 + crypto_sign_BYTES)        /* key id || Ed25519 signature */
#define HASH_B64_LEN 44                        /* base64 of 32 bytes, padded */
#define U64_DIGITS_MAX 20                      /* 18446744073709551615 */
#define PROOF_MAGIC "c2sp.org/tlog-proof@v1"
#define PROOF_MAGIC_FAMILY "c2sp.org/tlog-proof@"

/* U+2014 EM DASH, then a space: the start of every signature line. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN (sizeof sig_prefix - 1)

/*
 * Decodes one UTF-8 sequence as Go's unicode/utf8 does: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Returns its length, or 0 if s does not start with a valid one.
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		n = 2, min = 0x80, c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, min = 0x800, c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, min = 0x10000, c &= 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Go's unicode.IsSpace: the Unicode White_Space property. */
static int
is_unicode_space(uint32_t c)
{
	switch (c) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return 1;
	}
	return c >= 0x2000 && c <= 0x200a;
}

/*
 * x/mod/sumdb/note's isValidName, plus no ASCII control character (a note may not carry
 * one anyway). No length cap here: other signers' names in a note may be longer than ours.
 */
static int
name_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	if (len == 0)
		return 0;
	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &c)) == 0)
			return 0;
		if (c < 0x20 || c == '+' || is_unicode_space(c))
			return 0;
		i += n;
	}
	return 1;
}

/* A NUL-terminated name of ours: valid and at most SAKSI_ORIGIN_MAX bytes. */
static int
own_name_ok(const char *name, size_t *lenp)
{
	size_t len;

	if (name == NULL)
		return 0;
	len = strnlen(name, SAKSI_ORIGIN_MAX + 1);
	if (len > SAKSI_ORIGIN_MAX || !name_ok(name, len))
		return 0;
	*lenp = len;
	return 1;
}

/* The whole of s must be valid UTF-8 without ASCII control characters other than LF. */
static int
text_chars_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t c;

	while (i < len) {
		if ((n = utf8_decode(p + i, len - i, &c)) == 0)
			return 0;
		if (c < 0x20 && c != '\n')
			return 0;
		i += n;
	}
	return 1;
}

/* Strict standard base64 (padded, canonical) of exactly all n chars. */
static int
b64_decode(const char *s, size_t n, uint8_t *out, size_t outmax, size_t *outlen)
{
	return saksi_base642bin(out, outmax, s, n, NULL, outlen, NULL,
	                         sodium_base64_VARIANT_ORIGINAL) == 0;
}

/* A hash line: exactly 44 base64 chars of 32 bytes. */
static int
hash_decode(const char *s, size_t n, saksi_hash out)
{
	size_t got;

	return n == HASH_B64_LEN && b64_decode(s, n, out, SAKSI_HASH_LEN, &got) &&
	       got == SAKSI_HASH_LEN;
}

/* ASCII decimal, no sign, no leading zero (except "0"), at most UINT64_MAX. */
static int
u64_parse(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > U64_DIGITS_MAX || (s[0] == '0' && n > 1))
		return 0;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*v = x;
	return 1;
}

/* The next line of [*pos, len) without its LF; 0 if there is no LF left. */
static int
next_line(const char *s, size_t len, size_t *pos, const char **line, size_t *n)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	nl = memchr(s + *pos, '\n', len - *pos);
	if (nl == NULL)
		return 0;
	*line = s + *pos;
	*n = (size_t)(nl - *line);
	*pos += *n + 1;
	return 1;
}

/* Appends n bytes to out at *off, leaving room for the final NUL. */
static int
put(char *out, size_t outlen, size_t *off, const void *p, size_t n)
{
	if (outlen == 0 || n > outlen - 1 - *off)
		return 0;
	memcpy(out + *off, p, n);
	*off += n;
	return 1;
}

static int
put_b64(char *out, size_t outlen, size_t *off, const uint8_t *bin, size_t n)
{
	size_t enc = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);

	/* enc counts the NUL, which lands where put() keeps room for ours. */
	if (outlen == 0 || enc - 1 > outlen - 1 - *off)
		return 0;
	sodium_bin2base64(out + *off, enc, bin, n, sodium_base64_VARIANT_ORIGINAL);
	*off += enc - 1;
	return 1;
}

static int
put_u64(char *out, size_t outlen, size_t *off, uint64_t v)
{
	char buf[U64_DIGITS_MAX + 1];
	int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);

	return n > 0 && put(out, outlen, off, buf, (size_t)n);
}

static void
keyid_compute(const char *name, size_t len, const uint8_t pk[32], uint8_t keyid[4])
{
	crypto_hash_sha256_state st;
	uint8_t sum[crypto_hash_sha256_BYTES];
	const uint8_t sep[2] = { '\n', ED25519_ALG };

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, len);
	crypto_hash_sha256_update(&st, sep, sizeof sep);
	crypto_hash_sha256_update(&st, pk, 32);
	crypto_hash_sha256_final(&st, sum);
	memcpy(keyid, sum, 4);
}

saksi_err
saksi_note_keyid(const char *name, const uint8_t pk[32], uint8_t keyid[4])
{
	size_t len;

	if (pk == NULL || keyid == NULL || !own_name_ok(name, &len))
		return SAKSI_ERR_INVAL;
	keyid_compute(name, len, pk, keyid);
	return SAKSI_OK;
}

saksi_err
saksi_note_vkey_format(const char *name, const uint8_t pk[32], char *out, size_t outlen)
{
	uint8_t keyid[4], key[1 + 32];
	char hex[2 * sizeof keyid + 1];
	size_t len, off = 0;

	if (pk == NULL || out == NULL || !own_name_ok(name, &len))
		return SAKSI_ERR_INVAL;
	keyid_compute(name, len, pk, keyid);
	sodium_bin2hex(hex, sizeof hex, keyid, sizeof keyid);
	key[0] = ED25519_ALG;
	memcpy(key + 1, pk, 32);
	if (!put(out, outlen, &off, name, len) || !put(out, outlen, &off, "+", 1) ||
	    !put(out, outlen, &off, hex, 8) || !put(out, outlen, &off, "+", 1) ||
	    !put_b64(out, outlen, &off, key, sizeof key))
		return SAKSI_ERR_TOO_LARGE;
	out[off] = '\0';
	return SAKSI_OK;
}

saksi_err
saksi_note_vkey_parse(const char *vkey, saksi_note_verifier *v)
{
	const char *p1, *p2, *key64;
	uint8_t keyid[4], key[SAKSI_VKEY_MAX];
	size_t len, namelen, keylen;
	saksi_note_verifier nv;

	if (vkey == NULL || v == NULL)
		return SAKSI_ERR_INVAL;
	len = strnlen(vkey, SAKSI_VKEY_MAX + 1);
	if (len > SAKSI_VKEY_MAX)
		return SAKSI_ERR_TOO_LARGE;
	/* As note.go: name up to the first '+', 8 hex digits, then base64 (which has '+'). */
	if ((p1 = memchr(vkey, '+', len)) == NULL)
		return SAKSI_ERR_FORMAT;
	namelen = (size_t)(p1 - vkey);
	p1++;
	if ((p2 = memchr(p1, '+', len - (size_t)(p1 - vkey))) == NULL || p2 - p1 != 8)
		return SAKSI_ERR_FORMAT;
	key64 = p2 + 1;
	if (namelen > SAKSI_ORIGIN_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (!name_ok(vkey, namelen))
		return SAKSI_ERR_FORMAT;
	/* 8 hex digits, either case (as strconv.ParseUint(hash16, 16, 32) takes them) */
	if (sodium_hex2bin(keyid, sizeof keyid, p1, 8, NULL, &keylen, NULL) != 0 ||
	    keylen != sizeof keyid)
		return SAKSI_ERR_FORMAT;
	if (!b64_decode(key64, len - (size_t)(key64 - vkey), key, sizeof key, &keylen) ||
	    keylen == 0)
		return SAKSI_ERR_FORMAT;
	if (key[0] != ED25519_ALG || keylen != 1 + 32)
		return SAKSI_ERR_KEY;
	memset(&nv, 0, sizeof nv);
	memcpy(nv.nv_name, vkey, namelen);
	memcpy(nv.nv_pk, key + 1, 32);
	keyid_compute(nv.nv_name, namelen, nv.nv_pk, nv.nv_keyid);
	if (memcmp(nv.nv_keyid, keyid, 4) != 0)
		return SAKSI_ERR_KEY;
	*v = nv;
	return SAKSI_OK;
}

/* Text of a note: non-empty, valid, every line LF-terminated and non-empty. */
static int
note_text_ok(const char *text, size_t len)
{
	return len > 0 && text[0] != '\n' && text[len - 1] == '\n' &&
	       memmem(text, len, "\n\n", 2) == NULL && text_chars_ok(text, len);
}

/*
 * Checks the structure of a signed note and, if v is not NULL, the signature lines of v's
 * name and key id. Every line is parsed before any signature is checked, so a malformed
 * note is SAKSI_ERR_FORMAT whatever its signatures.
 */
static saksi_err
note_check(const char *note, size_t len, const saksi_note_verifier *v, size_t *text_len)
{
	/* room for the largest signature a note of SAKSI_NOTE_MAX bytes can carry */
	uint8_t sig[SAKSI_NOTE_MAX / 4 * 3];
	size_t mine[SAKSI_NOTE_MAX_SIGS], n_mine = 0, n_sigs = 0;
	size_t vname_len = 0, tlen, pos, n, siglen, i;
	const char *sep, *line, *sp;

	if (len > SAKSI_NOTE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (v != NULL) {
		vname_len = strnlen(v->nv_name, sizeof v->nv_name);
		if (vname_len == sizeof v->nv_name || !name_ok(v->nv_name, vname_len))
			return SAKSI_ERR_INVAL;
	}
	if (!text_chars_ok(note, len))
		return SAKSI_ERR_FORMAT;
	/* The text has no blank line, so the first one is the separator. */
	if (len == 0 || note[0] == '\n' || (sep = memmem(note, len, "\n\n", 2)) == NULL)
		return SAKSI_ERR_FORMAT;
	tlen = (size_t)(sep - note) + 1;
	pos = tlen + 1;
	if (pos == len || note[len - 1] != '\n')
		return SAKSI_ERR_FORMAT;
	for (i = pos; i < len; i++)
		if (note[i] == '\n' && ++n_sigs > SAKSI_NOTE_MAX_SIGS)
			return SAKSI_ERR_TOO_LARGE;

	while (next_line(note, len, &pos, &line, &n)) {
		if (n < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
			return SAKSI_ERR_FORMAT;
		line += SIG_PREFIX_LEN;
		n -= SIG_PREFIX_LEN;
		if ((sp = memchr(line, ' ', n)) == NULL)
			return SAKSI_ERR_FORMAT;
		if (!name_ok(line, (size_t)(sp - line)) ||
		    !b64_decode(sp + 1, n - (size_t)(sp - line) - 1, sig, sizeof sig, &siglen) ||
		    siglen < 5)
			return SAKSI_ERR_FORMAT;
		if (v != NULL && (size_t)(sp - line) == vname_len &&
		    memcmp(line, v->nv_name, vname_len) == 0 && memcmp(sig, v->nv_keyid, 4) == 0)
			mine[n_mine++] = (size_t)(sp + 1 - note);
	}
	if (v == NULL) {
		*text_len = tlen;
		return SAKSI_OK;
	}

	/* Others' signatures are ignored; every one claiming to be v's must hold. */
	if (n_mine == 0)
		return SAKSI_ERR_SIGNATURE;
	for (i = 0; i < n_mine; i++) {
		const char *b64 = note + mine[i];
		const char *eol = memchr(b64, '\n', len - mine[i]);

		if (!b64_decode(b64, (size_t)(eol - b64), sig, sizeof sig, &siglen))
			return SAKSI_ERR_FORMAT; /* not reached: decoded above */
		if (siglen != SIG_LEN ||
		    crypto_sign_verify_detached(sig + 4, (const uint8_t *)note, tlen, v->nv_pk) != 0)
			return SAKSI_ERR_SIGNATURE;
	}
	*text_len = tlen;
	return SAKSI_OK;
}

saksi_err
saksi_note_open(const char *note, size_t len, const saksi_note_verifier *v, size_t *text_len)
{
	if (note == NULL || v == NULL || text_len == NULL)
		return SAKSI_ERR_INVAL;
	return note_check(note, len, v, text_len);
}

saksi_err
saksi_note_sign(const char *text, size_t textlen, const char *name, const uint8_t sk[64],
                char *out, size_t outlen, size_t *outlen_written)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sig[SIG_LEN];
	size_t namelen, total, off = 0;

	if (text == NULL || sk == NULL || out == NULL || outlen_written == NULL ||
	    !own_name_ok(name, &namelen))
		return SAKSI_ERR_INVAL;
	if (textlen > SAKSI_NOTE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (!note_text_ok(text, textlen))
		return SAKSI_ERR_INVAL;
	total = textlen + 1 + SIG_PREFIX_LEN + namelen + 1 +
	        sodium_base64_ENCODED_LEN(SIG_LEN, sodium_base64_VARIANT_ORIGINAL) - 1 + 1;
	if (total > SAKSI_NOTE_MAX || total >= outlen)
		return SAKSI_ERR_TOO_LARGE;

	crypto_sign_ed25519_sk_to_pk(pk, sk);
	keyid_compute(name, namelen, pk, sig);
	crypto_sign_detached(sig + 4, NULL, (const uint8_t *)text, textlen, sk);
	/*
	 * libsodium signs with the public half stored in sk; if it does not belong to the
	 * seed, the signature is garbage. Check it here rather than publish a bad checkpoint.
	 */
	if (crypto_sign_verify_detached(sig + 4, (const uint8_t *)text, textlen, pk) != 0)
		return SAKSI_ERR_KEY;

	if (!put(out, outlen, &off, text, textlen) || !put(out, outlen, &off, "\n", 1) ||
	    !put(out, outlen, &off, sig_prefix, SIG_PREFIX_LEN) ||
	    !put(out, outlen, &off, name, namelen) || !put(out, outlen, &off, " ", 1) ||
	    !put_b64(out, outlen, &off, sig, sizeof sig) || !put(out, outlen, &off, "\n", 1))
		return SAKSI_ERR_TOO_LARGE; /* not reached: total was checked */
	out[off] = '\0';
	*outlen_written = off;
	return SAKSI_OK;
}

saksi_err
saksi_checkpoint_format(const saksi_checkpoint *c, char *out, size_t outlen, size_t *written)
{
	size_t namelen, off = 0;

	if (c == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	if (strnlen(c->ck_origin, sizeof c->ck_origin) == sizeof c->ck_origin ||
	    !own_name_ok(c->ck_origin, &namelen))
		return SAKSI_ERR_INVAL;
	if (!put(out, outlen, &off, c->ck_origin, namelen) || !put(out, outlen, &off, "\n", 1) ||
	    !put_u64(out, outlen, &off, c->ck_size) || !put(out, outlen, &off, "\n", 1) ||
	    !put_b64(out, outlen, &off, c->ck_root, SAKSI_HASH_LEN) ||
	    !put(out, outlen, &off, "\n", 1))
		return SAKSI_ERR_TOO_LARGE;
	out[off] = '\0';
	*written = off;
	return SAKSI_OK;
}

saksi_err
saksi_checkpoint_parse(const char *text, size_t len, saksi_checkpoint *c)
{
	const char *line;
	size_t pos = 0, n;
	saksi_checkpoint ck;

	if (text == NULL || c == NULL)
		return SAKSI_ERR_INVAL;
	if (len > SAKSI_NOTE_MAX)
		return SAKSI_ERR_TOO_LARGE;
	memset(&ck, 0, sizeof ck);
	if (!next_line(text, len, &pos, &line, &n))
		return SAKSI_ERR_FORMAT;
	if (n > SAKSI_ORIGIN_MAX)
		return SAKSI_ERR_TOO_LARGE;
	if (!name_ok(line, n))
		return SAKSI_ERR_FORMAT;
	memcpy(ck.ck_origin, line, n);
	if (!next_line(text, len, &pos, &line, &n) || !u64_parse(line, n, &ck.ck_size))
		return SAKSI_ERR_FORMAT;
	if (!next_line(text, len, &pos, &line, &n) || !hash_decode(line, n, ck.ck_root))
		return SAKSI_ERR_FORMAT;
	/* Version 1 pins the body to these three lines: no extension lines. */
	if (pos != len)
		return SAKSI_ERR_FORMAT;
	*c = ck;
	return SAKSI_OK;
}

saksi_err
saksi_checkpoint_open(const char *note, size_t len, const saksi_note_verifier *v,
                      saksi_checkpoint *c)
{
	saksi_checkpoint ck;
	size_t tlen;
	saksi_err e;

	if (note == NULL || v == NULL || c == NULL)
		return SAKSI_ERR_INVAL;
	if ((e = note_check(note, len, v, &tlen)) != SAKSI_OK)
		return e;
	if ((e = saksi_checkpoint_parse(note, tlen, &ck)) != SAKSI_OK)
		return e;
	/* The origin names the log, and the log signs under its own name. */
	if (strcmp(ck.ck_origin, v->nv_name) != 0)
		return SAKSI_ERR_KEY;
	*c = ck;
	return SAKSI_OK;
}

/* A tlog-proof's note must be a well-formed signed checkpoint. */
static saksi_err
proof_note_check(const char *note, size_t len)
{
	saksi_checkpoint ck;
	size_t tlen;
	saksi_err e;

	if ((e = note_check(note, len, NULL, &tlen)) != SAKSI_OK)
		return e;
	return saksi_checkpoint_parse(note, tlen, &ck);
}

_Static_assert(sizeof(((saksi_proof_b64 *)0)->pb_b64[0]) ==
               sodium_base64_ENCODED_LEN(SAKSI_HASH_LEN, sodium_base64_VARIANT_ORIGINAL) - 1,
               "one path hash's base64, without its NUL");

static saksi_err
proof_format(const saksi_tlog_proof *p, char *out, size_t outlen, size_t *written,
             int check_note, saksi_proof_b64 *pb)
{
	size_t off = 0, i, k;

	if (p == NULL || out == NULL || written == NULL)
		return SAKSI_ERR_INVAL;
	if (p->tp_proof_len > SAKSI_MERKLE_MAX_PROOF || p->tp_note_len > SAKSI_NOTE_MAX ||
	    p->tp_extra_len > sizeof p->tp_extra ||
	    (p->tp_has_extra ? p->tp_extra_len == 0 : p->tp_extra_len != 0))
		return SAKSI_ERR_INVAL;
	if (check_note && proof_note_check(p->tp_note, p->tp_note_len) != SAKSI_OK)
		return SAKSI_ERR_INVAL;
	if (!put(out, outlen, &off, PROOF_MAGIC "\n", sizeof PROOF_MAGIC))
		return SAKSI_ERR_TOO_LARGE;
	if (p->tp_has_extra &&
	    (!put(out, outlen, &off, "extra ", 6) ||
	     !put_b64(out, outlen, &off, p->tp_extra, p->tp_extra_len) ||
	     !put(out, outlen, &off, "\n", 1)))
		return SAKSI_ERR_TOO_LARGE;
	if (!put(out, outlen, &off, "index ", 6) || !put_u64(out, outlen, &off, p->tp_index) ||
	    !put(out, outlen, &off, "\n", 1))
		return SAKSI_ERR_TOO_LARGE;
	for (i = 0; i < p->tp_proof_len; i++) {
		/* The same distance from the root: the same node, for leaves side by side. */
		k = pb != NULL && pb->pb_n <= SAKSI_MERKLE_MAX_PROOF &&
		    i + pb->pb_n >= p->tp_proof_len ? i + pb->pb_n - p->tp_proof_len : SIZE_MAX;
		if (pb != NULL && k < pb->pb_n &&
		    memcmp(pb->pb_hash[k], p->tp_proof[i], SAKSI_HASH_LEN) == 0) {
			if (!put(out, outlen, &off, pb->pb_b64[k], sizeof pb->pb_b64[k]))
				return SAKSI_ERR_TOO_LARGE;
		} else if (!put_b64(out, outlen, &off, p->tp_proof[i], SAKSI_HASH_LEN))
			return SAKSI_ERR_TOO_LARGE;
		if (!put(out, outlen, &off, "\n", 1))
			return SAKSI_ERR_TOO_LARGE;
	}
	if (!put(out, outlen, &off, "\n", 1) ||
	    !put(out, outlen, &off, p->tp_note, p->tp_note_len))
		return SAKSI_ERR_TOO_LARGE;
	out[off] = '\0';
	*written = off;
	if (pb != NULL) {
		/* The text holds each hash's base64 as its line: keep them for the next. */
		const char *line = out + off - p->tp_note_len - 1 -
		    p->tp_proof_len * (sizeof pb->pb_b64[0] + 1);

		for (i = 0; i < p->tp_proof_len; i++) {
			memcpy(pb->pb_hash[i], p->tp_proof[i], SAKSI_HASH_LEN);
			memcpy(pb->pb_b64[i], line + i * (sizeof pb->pb_b64[0] + 1),
			       sizeof pb->pb_b64[0]);
		}
		pb->pb_n = p->tp_proof_len;
	}
	return SAKSI_OK;
}

saksi_err
saksi_tlog_proof_format(const saksi_tlog_proof *p, char *out, size_t outlen, size_t *written)
{
	return proof_format(p, out, outlen, written, 1, NULL);
}

saksi_err
saksi_tlog_proof_format_samenote(const saksi_tlog_proof *p, saksi_proof_b64 *pb, char *out,
                                 size_t outlen, size_t *written)
{
	return proof_format(p, out, outlen, written, 0, pb);
}

/* "c2sp.org/tlog-proof@v<digits>": a tlog-proof of a version we do not speak. */
static int
is_other_version(const char *line, size_t n)
{
	const size_t fl = sizeof PROOF_MAGIC_FAMILY - 1;
	size_t i;

	if (n < fl + 2 || memcmp(line, PROOF_MAGIC_FAMILY, fl) != 0 || line[fl] != 'v')
		return 0;
	for (i = fl + 1; i < n; i++)
		if (line[i] < '0' || line[i] > '9')
			return 0;
	return 1;
}

saksi_err
saksi_tlog_proof_parse(const char *text, size_t len, saksi_tlog_proof *p)
{
	const size_t extra_b64_max =
	    sodium_base64_ENCODED_LEN(sizeof p->tp_extra, sodium_base64_VARIANT_ORIGINAL) - 1;
	const char *line;
	size_t pos = 0, n;
	saksi_err e;

	if (text == NULL || p == NULL)
		return SAKSI_ERR_INVAL;
	if (len > SAKSI_TLOG_PROOF_MAX)
		return SAKSI_ERR_TOO_LARGE;
	memset(p, 0, sizeof *p);

	if (!next_line(text, len, &pos, &line, &n))
		return SAKSI_ERR_FORMAT;
	if (n != sizeof PROOF_MAGIC - 1 || memcmp(line, PROOF_MAGIC, n) != 0)
		return is_other_version(line, n) ? SAKSI_ERR_VERSION : SAKSI_ERR_FORMAT;

	if (!next_line(text, len, &pos, &line, &n))
		return SAKSI_ERR_FORMAT;
	if (n >= 6 && memcmp(line, "extra ", 6) == 0) {
		/* 344 chars may hold up to 258 bytes: decode, then count. */
		uint8_t extra[sizeof p->tp_extra + 2];
		size_t extra_len;

		if (n - 6 > extra_b64_max)
			return SAKSI_ERR_TOO_LARGE;
		if (!b64_decode(line + 6, n - 6, extra, sizeof extra, &extra_len) || extra_len == 0)
			goto bad;
		if (extra_len > sizeof p->tp_extra) {
			e = SAKSI_ERR_TOO_LARGE;
			goto fail;
		}
		memcpy(p->tp_extra, extra, extra_len);
		p->tp_extra_len = extra_len;
		p->tp_has_extra = 1;
		if (!next_line(text, len, &pos, &line, &n))
			goto bad;
	}
	if (n < 6 || memcmp(line, "index ", 6) != 0 || !u64_parse(line + 6, n - 6, &p->tp_index))
		goto bad;

	for (;;) {
		if (!next_line(text, len, &pos, &line, &n))
			goto bad; /* no blank line before the checkpoint */
		if (n == 0)
			break;
		if (p->tp_proof_len == SAKSI_MERKLE_MAX_PROOF) {
			e = SAKSI_ERR_TOO_LARGE;
			goto fail;
		}
		if (!hash_decode(line, n, p->tp_proof[p->tp_proof_len++]))
			goto bad;
	}

	if (len - pos > SAKSI_NOTE_MAX) {
		e = SAKSI_ERR_TOO_LARGE;
		goto fail;
	}
	if ((e = proof_note_check(text + pos, len - pos)) != SAKSI_OK)
		goto fail;
	memcpy(p->tp_note, text + pos, len - pos);
	p->tp_note[len - pos] = '\0';
	p->tp_note_len = len - pos;
	return SAKSI_OK;

bad:
	e = SAKSI_ERR_FORMAT;
fail:
	memset(p, 0, sizeof *p);
	return e;
}

saksi_err
saksi_tlog_proof_verify(const saksi_tlog_proof *p, const saksi_note_verifier *v,
                        const saksi_hash leaf_hash, saksi_checkpoint *c)
{
	saksi_checkpoint ck;
	saksi_err e;

	if (p == NULL || v == NULL || leaf_hash == NULL)
		return SAKSI_ERR_INVAL;
	if (p->tp_note_len > SAKSI_NOTE_MAX || p->tp_proof_len > SAKSI_MERKLE_MAX_PROOF)
		return SAKSI_ERR_INVAL;
	if ((e = saksi_checkpoint_open(p->tp_note, p->tp_note_len, v, &ck)) != SAKSI_OK)
		return e;
	e = saksi_merkle_verify_inclusion(p->tp_index, ck.ck_size, leaf_hash,
	                                  (const saksi_hash *)p->tp_proof, p->tp_proof_len,
	                                  ck.ck_root);
	if (e != SAKSI_OK)
		return e;
	if (c != NULL)
		*c = ck;
	return SAKSI_OK;
}
