/*
 * daemon_fixture.h: shared set-up of the daemon's tests: real keys derived from a printed
 * seed, a real keyring, the real schemas and example payloads of the source tree, and
 * signed, sealed items built with the library. Header-only (static functions) because
 * every *_test.c is its own program. Never used by the daemon itself.
 */
#ifndef SAKSID_DAEMON_FIXTURE_H
#define SAKSID_DAEMON_FIXTURE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "ingest.h"
#include "keys.h"
#include "note.h"
#include "schema.h"
#include "tmpdir.h"

#define FX_UNUSED __attribute__((unused))
#define FX_NOW 1750000000000ULL  /* the tests' daemon clock */
#define FX_BRANCH "KC-MAKASSAR"
#define FX_ORIGIN "saksi.test/kc-makassar"

/* The source tree: the tests get it from CMake; a bench finds it from this file's path. */
#ifndef SAKSI_SOURCE_DIR
#define SAKSI_SOURCE_DIR fx_source_dir()
static const char *
fx_source_dir(void)
{
	static char dir[1024];
	const char *tail = "/tests/daemon_fixture.h";
	size_t n = strlen(__FILE__);

	if (dir[0] == '\0' && n > strlen(tail) && n - strlen(tail) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(n - strlen(tail)), __FILE__);
	return dir;
}
#endif

/* The fixed producer keys; more (role queue, branch FX_BRANCH) follow them. */
enum {
	FX_QUEUE,          /* role queue, branch KC-MAKASSAR */
	FX_NATIONAL,       /* role queue, branch "*" */
	FX_REVOKED,        /* revoked at 1000 ms */
	FX_STAFF,          /* role staff */
	FX_LATER_REVOKED,  /* revoked one hour after FX_NOW */
	FX_NFIXED
};

struct fx {
	char dir[64];
	uint64_t seed;
	saksi_seckey *box, *other_box, *log, *store;
	saksi_pubkey box_pub, other_box_pub;
	saksi_seckey **prod;
	size_t nprod;
	char *keyring_json;
	saksi_keyring *kr;
	saksi_schemas *sc;
	saksid_ingest *ig;
	char vkey[SAKSI_VKEY_MAX + 1];
	saksi_note_verifier v;
};

/* A built item: the envelope, the sealed disclosures (may be empty) and the clear
 * disclosures JSON. */
struct fx_item {
	uint8_t *env;
	size_t env_len;
	uint8_t *sealed;
	size_t sealed_len;
	char *disc;
	size_t disc_len;
};

/* The secret of fx_key(seed, label, ...): SHA-256("saksid-test\n" || seed, big-endian ||
 * label), for a test that needs the raw key bytes too (the caller wipes them). */
FX_UNUSED static void
fx_secret(uint64_t seed, const char *label, uint8_t secret[32])
{
	crypto_hash_sha256_state st;
	uint8_t sb[8];

	for (int i = 0; i < 8; i++)
		sb[i] = (uint8_t)(seed >> (56 - 8 * i));
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)"saksid-test\n", 12);
	crypto_hash_sha256_update(&st, sb, 8);
	crypto_hash_sha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_hash_sha256_final(&st, secret);
}

FX_UNUSED static saksi_seckey *
fx_key(uint64_t seed, const char *label, int kind)
{
	uint8_t secret[32];
	saksi_seckey *k = NULL;

	fx_secret(seed, label, secret);
	if (saksi_seckey_from_secret(kind, secret, &k) != SAKSI_OK)
		abort();
	sodium_memzero(secret, sizeof(secret));
	return k;
}

FX_UNUSED static char *
fx_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* The keyring JSON of fx's producer keys. */
FX_UNUSED static char *
fx_keyring_json(const struct fx *fx)
{
	json_t *root = json_object(), *roles = json_object(), *keys = json_array();
	char *out;

	json_object_set_new(root, "saksi_keyring", json_integer(1));
	json_object_set_new(roles, "queue", json_pack("[s]", "queue.*"));
	json_object_set_new(roles, "claim", json_pack("[s]", "claim.*"));
	json_object_set_new(roles, "staff", json_pack("[s]", "staff.*"));
	json_object_set_new(root, "roles", roles);
	for (size_t i = 0; i < fx->nprod; i++) {
		saksi_pubkey pub;
		char b64[SAKSI_PUBKEY_B64_LEN + 1], hex[17], name[32];
		json_t *e;

		if (saksi_seckey_public(fx->prod[i], &pub) != SAKSI_OK ||
		    saksi_pubkey_encode(&pub, b64, sizeof(b64)) != SAKSI_OK)
			abort();
		sodium_bin2hex(hex, sizeof(hex), pub.pk_id, 8);
		snprintf(name, sizeof(name), "producer-%zu", i);
		e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", name, "key_id", hex,
		              "public_key", b64, "role", i == FX_STAFF ? "staff" : "queue",
		              "branch", i == FX_NATIONAL ? "*" : FX_BRANCH);
		if (i == FX_REVOKED)
			json_object_set_new(e, "revoked_ms", json_integer(1000));
		else if (i == FX_LATER_REVOKED)
			json_object_set_new(e, "revoked_ms", json_integer((json_int_t)FX_NOW + 3600000));
		else
			json_object_set_new(e, "revoked_ms", json_null());
		json_array_append_new(keys, e);
	}
	json_object_set_new(root, "keys", keys);
	out = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	return out;
}

/* Seeds from SAKSID_TEST_SEED or the clock, prints the seed, makes every key and the
 * ingest context. nextra queue keys follow the fixed ones. */
FX_UNUSED static void
fx_init(struct fx *fx, size_t nextra)
{
	const char *env = getenv("SAKSID_TEST_SEED");
	char err[256], label[32], dir[1100];
	saksi_pubkey pub;

	memset(fx, 0, sizeof(*fx));
	if (sodium_init() < 0)
		abort();
	fx->seed = env != NULL ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	printf("# seed %llu (set SAKSID_TEST_SEED to repeat)\n", (unsigned long long)fx->seed);
	if (tmpdir_make(fx->dir, sizeof(fx->dir), "saksid-test") != 0)
		abort();
	fx->box = fx_key(fx->seed, "box", SAKSI_KEY_BOX);
	fx->other_box = fx_key(fx->seed, "other-box", SAKSI_KEY_BOX);
	fx->log = fx_key(fx->seed, "log", SAKSI_KEY_SIGN);
	fx->store = fx_key(fx->seed, "store", SAKSI_KEY_SYM);
	if (saksi_seckey_public(fx->box, &fx->box_pub) != SAKSI_OK ||
	    saksi_seckey_public(fx->other_box, &fx->other_box_pub) != SAKSI_OK ||
	    saksi_seckey_public(fx->log, &pub) != SAKSI_OK)
		abort();
	if (saksi_note_vkey_format(FX_ORIGIN, pub.pk_key, fx->vkey, sizeof(fx->vkey)) !=
	        SAKSI_OK ||
	    saksi_note_vkey_parse(fx->vkey, &fx->v) != SAKSI_OK)
		abort();
	fx->nprod = FX_NFIXED + nextra;
	fx->prod = calloc(fx->nprod, sizeof(*fx->prod));
	for (size_t i = 0; i < fx->nprod; i++) {
		snprintf(label, sizeof(label), "producer-%zu", i);
		fx->prod[i] = fx_key(fx->seed, label, SAKSI_KEY_SIGN);
	}
	fx->keyring_json = fx_keyring_json(fx);
	if (saksi_keyring_parse(fx->keyring_json, strlen(fx->keyring_json), &fx->kr, err,
	                        sizeof(err)) != SAKSI_OK) {
		fprintf(stderr, "keyring: %s\n", err);
		abort();
	}
	snprintf(dir, sizeof(dir), "%s/schemas/events", SAKSI_SOURCE_DIR);
	if (saksi_schemas_load(dir, &fx->sc, err, sizeof(err)) != SAKSI_OK) {
		fprintf(stderr, "schemas %s: %s\n", dir, err);
		abort();
	}
	if (saksid_ingest_new(fx->kr, fx->sc, fx->box, &fx->ig) != SAKSI_OK)
		abort();
}

FX_UNUSED static void
fx_rmtree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

FX_UNUSED static void
fx_free(struct fx *fx)
{
	saksid_ingest_free(fx->ig);
	saksi_schemas_free(fx->sc);
	saksi_keyring_free(fx->kr);
	free(fx->keyring_json);
	for (size_t i = 0; i < fx->nprod; i++)
		saksi_seckey_free(fx->prod[i]);
	free(fx->prod);
	saksi_seckey_free(fx->box);
	saksi_seckey_free(fx->other_box);
	saksi_seckey_free(fx->log);
	saksi_seckey_free(fx->store);
	fx_rmtree(fx->dir);
}

FX_UNUSED static void
fx_item_free(struct fx_item *it)
{
	free(it->env);
	free(it->sealed);
	free(it->disc);
	memset(it, 0, sizeof(*it));
}

/*
 * The example clear payload of `example` (a type's file in schemas/examples/clear) with
 * string members replaced by the NULL-terminated (name, value) pairs in `set`
 * (value NULL removes the member; a value starting with '#' is a JSON literal).
 */
FX_UNUSED static char *
fx_payload(const char *example, const char *const *set)
{
	char path[1200];
	json_t *root;
	json_error_t jerr;
	char *out;

	snprintf(path, sizeof(path), "%s/schemas/examples/clear/%s.json", SAKSI_SOURCE_DIR,
	         example);
	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, jerr.text);
		abort();
	}
	for (size_t i = 0; set != NULL && set[i] != NULL; i += 2) {
		if (set[i + 1] == NULL)
			json_object_del(root, set[i]);
		else if (set[i + 1][0] == '#')
			json_object_set_new(root, set[i], json_loads(set[i + 1] + 1, JSON_DECODE_ANY,
			                                             &jerr));
		else
			json_object_set_new(root, set[i], json_string(set[i + 1]));
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return out;
}

/* Seals `disc` (a JSON array) for the box key box_pk, bound to it->env. */
FX_UNUSED static void
fx_seal(const saksi_seckey *k, const uint8_t box_pk[32], struct fx_item *it, const char *disc)
{
	free(it->sealed);
	it->sealed = malloc(SAKSI_SEALED_MAX);
	if (saksi_disclosures_seal(k, box_pk, it->env, it->env_len, (const uint8_t *)disc,
	                           strlen(disc), it->sealed, SAKSI_SEALED_MAX,
	                           &it->sealed_len) != SAKSI_OK)
		abort();
}

/*
 * Seals any bytes (also ones the library would refuse to seal) straight from FORMATS.md
 * 2.2 with libsodium: K = crypto_box_beforenm(box pk, X25519 of the producer's key),
 * AD = "saksi/disclosures/v1\n" || SHA-256(envelope).
 */
FX_UNUSED static void
fx_seal_raw(const saksi_seckey *k, const uint8_t box_pk[32], struct fx_item *it,
            const void *plain, size_t len)
{
	uint8_t xsk[32], key[32], ad[21 + 32];
	unsigned long long clen;

	if (crypto_sign_ed25519_sk_to_curve25519(xsk, saksi_seckey_ed25519(k)) != 0 ||
	    crypto_box_beforenm(key, box_pk, xsk) != 0)
		abort();
	memcpy(ad, "saksi/disclosures/v1\n", 21);
	crypto_hash_sha256(ad + 21, it->env, it->env_len);
	free(it->sealed);
	it->sealed = malloc(1 + 24 + len + 16);
	it->sealed[0] = 1;
	randombytes_buf(it->sealed + 1, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(it->sealed + 25, &clen, plain, len, ad,
	                                           sizeof(ad), NULL, it->sealed + 1, key);
	it->sealed_len = 25 + (size_t)clen;
	sodium_memzero(xsk, sizeof(xsk));
	sodium_memzero(key, sizeof(key));
}

/* Builds an item as a producer does: digests for personal fields, signature, seal. */
FX_UNUSED static void
fx_build(const struct fx *fx, const saksi_seckey *k, const char *type, const char *clear,
         uint64_t seq, uint64_t time_ms, struct fx_item *it)
{
	const char *const *personal = saksi_schemas_personal(fx->sc, type);
	size_t np = 0, plen;
	char *payload;
	saksi_err e;

	memset(it, 0, sizeof(*it));
	while (personal != NULL && personal[np] != NULL)
		np++;
	e = saksi_disclose_payload(clear, strlen(clear), personal, np, &payload, &plen,
	                           &it->disc, &it->disc_len);
	if (e != SAKSI_OK) {
		fprintf(stderr, "disclose: %s\n", saksi_strerror(e));
		abort();
	}
	it->env = malloc(SAKSI_ENV_MAX);
	e = saksi_envelope_sign(k, seq, time_ms, type, (const uint8_t *)payload, plen, it->env,
	                        SAKSI_ENV_MAX, &it->env_len);
	if (e != SAKSI_OK) {
		fprintf(stderr, "sign: %s\n", saksi_strerror(e));
		abort();
	}
	free(payload);
	if (strcmp(it->disc, "[]") != 0)
		fx_seal(k, fx->box_pub.pk_key, it, it->disc);
}

/* The usual event: a queue booking with every personal field. */
FX_UNUSED static void
fx_booking(const struct fx *fx, size_t prod, uint64_t seq, uint64_t time_ms,
           struct fx_item *it)
{
	char *p = fx_payload("queue.booking.created", NULL);
	fx_build(fx, fx->prod[prod], "queue.booking.created", p, seq, time_ms, it);
	free(p);
}

/* Points a daemon item at a built one, as the framing would. */
FX_UNUSED static void
fx_frame1(const struct fx_item *fi, saksid_item *it)
{
	memset(it, 0, sizeof(*it));
	it->it_env = fi->env;
	it->it_env_len = fi->env_len;
	it->it_sealed = fi->sealed;
	it->it_sealed_len = fi->sealed_len;
	it->it_recv_ms = FX_NOW;
}

/* Writes a file with the given mode. */
FX_UNUSED static void
fx_write(const char *path, const void *data, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
	chmod(path, mode);
}

/* 1 if needle occurs in the file's bytes. */
FX_UNUSED static int
fx_file_contains(const char *path, const char *needle)
{
	size_t len, nl = strlen(needle);
	char *buf = fx_read(path, &len);
	int found = 0;

	if (buf == NULL)
		return -1;
	for (size_t i = 0; i + nl <= len && !found; i++)
		found = memcmp(buf + i, needle, nl) == 0;
	free(buf);
	return found;
}

#endif
