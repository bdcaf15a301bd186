/*
 * fuzz_note.c: libFuzzer target for lib/note.c: signed notes, checkpoint bodies and signed
 * checkpoints, tlog-proof@v1 texts and verifier keys, all fed the same bytes. Besides "no
 * crash, no leak, no UB" it checks that every text a parser accepts is the one text its
 * formatter writes back (a format has one reading), and that whatever saksi_note_sign
 * accepts, saksi_note_open and saksi_checkpoint_open accept back.
 */
#include <strings.h>

#include <sodium.h>

#include "fuzz.h"
#include "merkle.h"
#include "note.h"

/* Set once by LLVMFuzzerInitialize, read-only afterwards. */
static uint8_t fz_pk[32], fz_sk[64];
static saksi_note_verifier fz_v;        /* "fuzz.example/log" with the key above */
static saksi_note_verifier fz_spec_v;   /* the C2SP spec example key (seeds verify) */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t seed[32];
	char vkey[SAKSI_VKEY_MAX + 1];

	(void)argc;
	(void)argv;
	FUZZ_SETUP(sodium_init() >= 0);
	/* A fixed key: the run must be reproducible from the input alone. */
	memset(seed, 0x5a, sizeof seed);
	crypto_sign_seed_keypair(fz_pk, fz_sk, seed);
	FUZZ_SETUP(saksi_note_vkey_format("fuzz.example/log", fz_pk, vkey, sizeof vkey) ==
	           SAKSI_OK);
	FUZZ_SETUP(saksi_note_vkey_parse(vkey, &fz_v) == SAKSI_OK);
	FUZZ_SETUP(saksi_note_vkey_parse(
	               "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
	               &fz_spec_v) == SAKSI_OK);
	return 0;
}

/* A checkpoint body that parses must be exactly what saksi_checkpoint_format writes. */
static void
checkpoint_round_trip(const char *text, size_t len, const saksi_checkpoint *c)
{
	char out[SAKSI_NOTE_MAX + 1];
	size_t w;

	FUZZ_CHECK(saksi_checkpoint_format(c, out, sizeof out, &w) == SAKSI_OK,
	           "a parsed checkpoint does not format");
	FUZZ_CHECK(FUZZ_SAME_TEXT(text, len, out, w),
	           "checkpoint format(parse(x)) != x (%zu vs %zu bytes)", w, len);
}

/*
 * Signs the input as a note text with our key. If signing accepts it, opening must give
 * back the text, and opening it as a checkpoint must agree with saksi_checkpoint_parse.
 * When the text is a checkpoint, it is signed under its own origin, so that
 * saksi_checkpoint_open gets past the origin check and a tlog-proof can be built on it.
 */
static void
sign_then_open(const char *text, size_t len)
{
	static char note[SAKSI_NOTE_MAX + 1];
	saksi_checkpoint c, c2;
	saksi_note_verifier v = fz_v;
	saksi_err pe, oe;
	size_t nlen, tlen;

	pe = saksi_checkpoint_parse(text, len, &c);
	if (pe == SAKSI_OK) {
		memcpy(v.nv_name, c.ck_origin, sizeof v.nv_name);
		FUZZ_CHECK(saksi_note_keyid(v.nv_name, fz_pk, v.nv_keyid) == SAKSI_OK,
		           "a parsed origin is not a valid key name");
	}
	if (saksi_note_sign(text, len, v.nv_name, fz_sk, note, sizeof note, &nlen) != SAKSI_OK)
		return;
	FUZZ_CHECK(nlen <= SAKSI_NOTE_MAX && note[nlen] == '\0', "signed note too long");
	FUZZ_CHECK(saksi_note_open(note, nlen, &v, &tlen) == SAKSI_OK && tlen == len,
	           "a note we signed does not open");
	oe = saksi_checkpoint_open(note, nlen, &v, &c2);
	if (pe != SAKSI_OK) {
		FUZZ_CHECK(oe == pe, "checkpoint_open %d but checkpoint_parse %d", oe, pe);
		return;
	}
	FUZZ_CHECK(oe == SAKSI_OK && memcmp(&c, &c2, sizeof c) == 0,
	           "checkpoint_open (%d) disagrees with checkpoint_parse", oe);

	/* A tlog-proof around it, with index and proof taken from the text's bytes. */
	{
		static saksi_tlog_proof p, p2;
		static char out[SAKSI_TLOG_PROOF_MAX + 1];
		size_t w, i;
		saksi_hash leaf;

		memset(&p, 0, sizeof p);
		p.tp_index = c.ck_size ? c.ck_root[0] % c.ck_size : 0;
		p.tp_proof_len = c.ck_root[1] % (SAKSI_MERKLE_MAX_PROOF + 1);
		for (i = 0; i < p.tp_proof_len; i++)
			memset(p.tp_proof[i], (int)i, SAKSI_HASH_LEN);
		p.tp_has_extra = c.ck_root[2] & 1;
		p.tp_extra_len = p.tp_has_extra ? 1 + c.ck_root[3] % sizeof p.tp_extra : 0;
		memset(p.tp_extra, 0xe7, p.tp_extra_len);
		memcpy(p.tp_note, note, nlen + 1);
		p.tp_note_len = nlen;
		FUZZ_CHECK(saksi_tlog_proof_format(&p, out, sizeof out, &w) == SAKSI_OK,
		           "a tlog-proof over a good checkpoint does not format");
		FUZZ_CHECK(saksi_tlog_proof_parse(out, w, &p2) == SAKSI_OK &&
		               memcmp(&p, &p2, sizeof p) == 0,
		           "tlog-proof parse(format(p)) != p");
		memcpy(leaf, c.ck_root, sizeof leaf);
		oe = saksi_tlog_proof_verify(&p2, &v, leaf, &c2);
		/* OK is possible: size 1, no proof, and the leaf hash is the root. */
		FUZZ_CHECK(oe == SAKSI_OK || oe == SAKSI_ERR_PROOF || oe == SAKSI_ERR_RANGE,
		           "tlog_proof_verify %d on a good signature", oe);
	}
}

static void
tlog_proof(const char *text, size_t len)
{
	/* ~37 KiB each: static, since a fuzz target has one thread. */
	static saksi_tlog_proof p;
	static char out[SAKSI_TLOG_PROOF_MAX + 1];
	saksi_hash leaf;
	size_t w;
	saksi_err e;

	if (saksi_tlog_proof_parse(text, len, &p) != SAKSI_OK)
		return;
	FUZZ_CHECK(p.tp_note_len <= SAKSI_NOTE_MAX && p.tp_note[p.tp_note_len] == '\0' &&
	               p.tp_proof_len <= SAKSI_MERKLE_MAX_PROOF &&
	               p.tp_extra_len <= sizeof p.tp_extra &&
	               (p.tp_has_extra != 0) == (p.tp_extra_len != 0),
	           "parsed tlog-proof is inconsistent");
	/* The differential check: a parsed proof formats back to the very same bytes. */
	FUZZ_CHECK(saksi_tlog_proof_format(&p, out, sizeof out, &w) == SAKSI_OK,
	           "a parsed tlog-proof does not format");
	FUZZ_CHECK(FUZZ_SAME_TEXT(text, len, out, w),
	           "tlog-proof format(parse(x)) != x (%zu vs %zu bytes)", w, len);
	memset(leaf, 0, sizeof leaf);
	e = saksi_tlog_proof_verify(&p, &fz_spec_v, leaf, NULL);
	FUZZ_CHECK(e != SAKSI_OK && e != SAKSI_ERR_INVAL, "verify of a parsed proof: %d", e);
}

static void
vkey(const uint8_t *data, size_t size)
{
	saksi_note_verifier v, v2;
	char *s, out[SAKSI_VKEY_MAX + 1];
	saksi_err e;

	if ((s = fuzz_copy(data, size, 1)) == NULL)
		return;
	e = saksi_note_vkey_parse(s, &v);
	if (e == SAKSI_OK) {
		size_t n, name_len;

		/* Formatting writes lowercase hex; the parser also takes uppercase. */
		FUZZ_CHECK(saksi_note_vkey_format(v.nv_name, v.nv_pk, out, sizeof out) ==
		               SAKSI_OK,
		           "a parsed vkey does not format");
		n = strlen(s);
		name_len = strlen(v.nv_name);
		FUZZ_CHECK(strlen(out) == n && n > name_len + 10 &&
		               memcmp(out, s, name_len + 1) == 0 &&
		               strncasecmp(out + name_len + 1, s + name_len + 1, 9) == 0 &&
		               FUZZ_SAME_TEXT(s + name_len + 10, n - name_len - 10,
		                              out + name_len + 10, n - name_len - 10),
		           "vkey format(parse(x)) != x: %s vs %s", out, s);
		FUZZ_CHECK(saksi_note_vkey_parse(out, &v2) == SAKSI_OK &&
		               memcmp(&v, &v2, sizeof v) == 0,
		           "vkey parse(format(v)) != v");
	}
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	saksi_checkpoint c;
	size_t tlen;
	char *text;
	saksi_err e;

	/* An exact copy: no NUL after it, so a parser that runs past len is caught. */
	if ((text = fuzz_copy(data, size, 0)) == NULL)
		return 0;

	e = saksi_note_open(text, size, &fz_spec_v, &tlen);
	if (e == SAKSI_OK)
		FUZZ_CHECK(tlen > 0 && tlen < size && text[tlen - 1] == '\n' &&
		               text[tlen] == '\n',
		           "note_open: bad text_len %zu of %zu", tlen, size);
	e = saksi_note_open(text, size, &fz_v, &tlen);
	FUZZ_CHECK(e != SAKSI_OK, "a note opened with a key the fuzzer cannot know");

	if (saksi_checkpoint_parse(text, size, &c) == SAKSI_OK)
		checkpoint_round_trip(text, size, &c);
	e = saksi_checkpoint_open(text, size, &fz_spec_v, &c);
	FUZZ_CHECK(e != SAKSI_OK, "a checkpoint opened with the spec key (none exists)");

	tlog_proof(text, size);
	vkey(data, size);
	sign_then_open(text, size);
	free(text);
	return 0;
}
