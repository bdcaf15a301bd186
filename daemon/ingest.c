/*
 * ingest.c: checks one submitted item against the keyring, its signature, the schemas and
 * its sealed disclosures, in the order of FORMATS.md 3.2. Runs on every worker thread at
 * once over an immutable context. Must never log or echo payloads or disclosures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "envelope.h"
#include "ingest.h"
#include "remoteq.h"
#include "shred.h"
#include "wire.h"

#define ACCESS_TYPE "supervisor.access.logged"

struct ig_key {
	uint8_t k_id[SAKSI_KEYID_LEN];
	const saksi_keyring_entry *k_entry;
	int k_disc_ok;       /* K could be computed (a valid Ed25519 point) */
};

struct saksid_ingest {
	const saksi_keyring *ig_kr;
	const saksi_schemas *ig_sc;
	struct ig_key *ig_keys;  /* sorted by k_id */
	size_t ig_nkeys;
	uint8_t *ig_disc_keys;   /* sodium_malloc: ig_nkeys x 32, read-only after start */
	const saksi_blind *ig_blind; /* detection on: prepare each accepted event */
	const saksi_blind *ig_ix_blind; /* indexing on: each accepted event's index keys */
	saksid_shred *ig_shred;  /* data keys: each accepted event's shred prep */
};

__attribute__((format(printf, 3, 4))) static int
refuse(saksid_item *it, int code, const char *fmt, ...)
{
	va_list ap;

	it->it_code = code;
	va_start(ap, fmt);
	vsnprintf(it->it_msg, sizeof(it->it_msg), fmt, ap);
	va_end(ap);
	/* One line: a message may quote a schema error that quotes input. */
	for (char *p = it->it_msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = ' ';
	return code;
}

__attribute__((format(printf, 3, 4))) static int
req_fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg != NULL && msglen > 0) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return 0;
}

int
saksid_submit_count(const uint8_t *body, size_t len, size_t *count, char *msg, size_t msglen)
{
	size_t n;

	if (len < 2) {
		req_fail(msg, msglen, "submit: body shorter than its count");
		return SAKSI_R_PARSE;
	}
	n = saksi_get_u16(body);
	if (n == 0) {
		req_fail(msg, msglen, "submit: count is 0");
		return SAKSI_R_PARSE;
	}
	if (n > SAKSI_WIRE_BATCH_MAX) {
		req_fail(msg, msglen, "submit: count %zu is over %d", n, SAKSI_WIRE_BATCH_MAX);
		return SAKSI_R_SIZE;
	}
	*count = n;
	return SAKSI_R_ACCEPTED;
}

/* Reads one length-prefixed field; returns a request-level status or 0. */
static int
frame_field(const uint8_t *body, size_t len, size_t *off, size_t cap, const char *what,
            size_t idx, const uint8_t **p, size_t *n, int *over, char *msg, size_t msglen)
{
	uint32_t l;

	if (len - *off < 4) {
		req_fail(msg, msglen, "submit: item %zu: %s length missing", idx, what);
		return SAKSI_R_PARSE;
	}
	l = saksi_get_u32(body + *off);
	*off += 4;
	*over = l > cap;
	if (l > len - *off) {
		req_fail(msg, msglen, "submit: item %zu: %s length %u runs past the message",
		         idx, what, l);
		return *over ? SAKSI_R_SIZE : SAKSI_R_PARSE;
	}
	*p = body + *off;
	*n = l;
	*off += l;
	return SAKSI_R_ACCEPTED;
}

int
saksid_submit_frame(const uint8_t *body, size_t len, saksid_item *items, size_t count,
                    uint64_t recv_ms, char *msg, size_t msglen)
{
	size_t off = 2, n;
	int r, over_env, over_sealed;

	if ((r = saksid_submit_count(body, len, &n, msg, msglen)) != SAKSI_R_ACCEPTED)
		return r;
	if (n != count) {
		req_fail(msg, msglen, "submit: count changed");
		return SAKSI_R_PARSE;
	}
	memset(items, 0, count * sizeof(*items));
	for (size_t i = 0; i < count; i++) {
		saksid_item *it = &items[i];

		it->it_recv_ms = recv_ms;
		r = frame_field(body, len, &off, SAKSI_ENV_MAX, "envelope", i, &it->it_env,
		                &it->it_env_len, &over_env, msg, msglen);
		if (r != SAKSI_R_ACCEPTED)
			return r;
		r = frame_field(body, len, &off, SAKSI_SEALED_MAX, "sealed disclosures", i,
		                &it->it_sealed, &it->it_sealed_len, &over_sealed, msg, msglen);
		if (r != SAKSI_R_ACCEPTED)
			return r;
		if (over_env)
			refuse(it, SAKSI_R_SIZE, "envelope of %zu bytes is over the %d-byte cap",
			       it->it_env_len, SAKSI_ENV_MAX);
		else if (over_sealed)
			refuse(it, SAKSI_R_SIZE, "sealed disclosures of %zu bytes are over the "
			       "%d-byte cap", it->it_sealed_len, SAKSI_SEALED_MAX);
	}
	if (off != len) {
		req_fail(msg, msglen, "submit: %zu bytes after the last item", len - off);
		return SAKSI_R_PARSE;
	}
	return SAKSI_R_ACCEPTED;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ig_key *)a)->k_id, ((const struct ig_key *)b)->k_id,
	              SAKSI_KEYID_LEN);
}

void
saksid_ingest_free(saksid_ingest *ig)
{
	if (ig == NULL)
		return;
	sodium_free(ig->ig_disc_keys);   /* wipes */
	free(ig->ig_keys);
	free(ig);
}

saksi_err
saksid_ingest_new(const saksi_keyring *kr, const saksi_schemas *sc, const saksi_seckey *box,
                  saksid_ingest **out)
{
	saksid_ingest *ig;
	size_t n;

	*out = NULL;
	if (kr == NULL || sc == NULL || box == NULL)
		return SAKSI_ERR_INVAL;
	if (saksi_seckey_kind(box) != SAKSI_KEY_BOX)
		return SAKSI_ERR_KEY;
	if ((ig = calloc(1, sizeof(*ig))) == NULL)
		return SAKSI_ERR_NOMEM;
	ig->ig_kr = kr;
	ig->ig_sc = sc;
	n = saksi_keyring_count(kr);
	ig->ig_nkeys = n;
	/* Room for one even when empty, so that the pointers are never NULL. */
	ig->ig_keys = calloc(n + 1, sizeof(*ig->ig_keys));
	ig->ig_disc_keys = sodium_malloc((n + 1) * 32);
	if (ig->ig_keys == NULL || ig->ig_disc_keys == NULL) {
		saksid_ingest_free(ig);
		return SAKSI_ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const saksi_keyring_entry *e = saksi_keyring_at(kr, i);
		ig->ig_keys[i].k_entry = e;
		memcpy(ig->ig_keys[i].k_id, e->ke_pub.pk_id, SAKSI_KEYID_LEN);
	}
	qsort(ig->ig_keys, n, sizeof(*ig->ig_keys), key_cmp);
	/* One crypto_box_beforenm per producer now instead of one per event later. */
	for (size_t i = 0; i < n; i++) {
		struct ig_key *k = &ig->ig_keys[i];
		k->k_disc_ok = saksi_disclosures_key(box, k->k_entry->ke_pub.pk_key,
		                                     ig->ig_disc_keys + 32 * i) == SAKSI_OK;
		if (!k->k_disc_ok)
			sodium_memzero(ig->ig_disc_keys + 32 * i, 32);
	}
	sodium_mprotect_readonly(ig->ig_disc_keys);
	*out = ig;
	return SAKSI_OK;
}

void
saksid_ingest_detect(saksid_ingest *ig, const saksi_blind *b)
{
	if (ig != NULL)
		ig->ig_blind = b;
}

void
saksid_ingest_index(saksid_ingest *ig, const saksi_blind *b)
{
	if (ig != NULL)
		ig->ig_ix_blind = b;
}

/*
 * The event as the rules and the indexes will see it, from what the checks parsed and
 * opened. A failure (memory only: the checks passed) leaves it_prep or it_ixk NULL and
 * the committer makes it.
 */
static void
prepare(const saksid_ingest *ig, saksid_item *it, const saksi_envelope *ev,
        const json_t *root, char **names, char **values, size_t nd)
{
	if (ig->ig_blind != NULL &&
	    saksi_detect_prepare(ig->ig_blind, ev, root, names, values, nd, &it->it_prep) !=
	    SAKSI_OK)
		it->it_prep = NULL;
	if (ig->ig_ix_blind != NULL &&
	    saksi_index_keys_make(ig->ig_ix_blind, ev, root, names, values, nd, &it->it_ixk) !=
	    SAKSI_OK)
		it->it_ixk = NULL;
}

void
saksid_ingest_shred(saksid_ingest *ig, saksid_shred *s)
{
	if (ig != NULL)
		ig->ig_shred = s;
}

static const struct ig_key *
find_key(const saksid_ingest *ig, const uint8_t id[SAKSI_KEYID_LEN], size_t *pos)
{
	size_t lo = 0, hi = ig->ig_nkeys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(id, ig->ig_keys[mid].k_id, SAKSI_KEYID_LEN);
		if (c == 0) {
			*pos = mid;
			return &ig->ig_keys[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * The branch check on the parsed payload. Returns 1 if it passes, 0 if the payload names
 * another branch or none, -1 if the payload is not a JSON object at all (then the schema
 * check, which comes next, names the failure: it is a schema error, not a branch error).
 */
static int
branch_ok(const json_t *root, const char *want, char *got, size_t gotlen)
{
	json_t *b;
	int ok;

	if (root == NULL || !json_is_object(root))
		return -1;
	b = json_object_get(root, "branch");
	if (!json_is_string(b)) {
		snprintf(got, gotlen, "no branch");
		return 0;
	}
	ok = strcmp(json_string_value(b), want) == 0 && strlen(want) == json_string_length(b);
	/* A branch code is [A-Z0-9-]; anything else is cut short, not echoed. */
	snprintf(got, gotlen, "branch \"%.24s\"", json_string_value(b));
	for (char *p = got; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	return ok;
}

/*
 * The branch check of a payload the strict parse refused. Such a payload never passes
 * the schema check, but jansson alone may still read it (one nested deeper than the
 * schema cap), and then the branch check, which comes first, names the refusal. Only
 * hostile or broken input comes here.
 */
static int
branch_ok_unparsed(const saksi_envelope *ev, const char *want, char *got, size_t gotlen)
{
	json_t *root;
	int ok;

	root = json_loadb((const char *)ev->ev_payload, ev->ev_payload_len,
	                  JSON_REJECT_DUPLICATES, NULL);
	ok = branch_ok(root, want, got, gotlen);
	json_decref(root);
	return ok;
}

static int
unavailable(saksid_item *it)
{
	return refuse(it, SAKSI_R_UNAVAILABLE, "daemon out of memory; retry later");
}

/* Maps a schema error (errbuf as the schema module wrote it) to the refusal. */
static int
schema_refusal(saksid_item *it, const saksi_envelope *ev, saksi_err err, const char *errbuf)
{
	if (err == SAKSI_ERR_NOT_FOUND)
		return refuse(it, SAKSI_R_SCHEMA, "unknown event type %s", ev->ev_type);
	if (err == SAKSI_ERR_NOMEM)
		return unavailable(it);
	return refuse(it, SAKSI_R_SCHEMA, "%s: %s", ev->ev_type,
	              errbuf[0] != '\0' ? errbuf : saksi_strerror(err));
}

/* The checks on the payload, past role: branch, schema, disclosures (3.2's order). */
static int
check_payload(const saksid_ingest *ig, saksid_item *it, const saksi_envelope *ev,
              const struct ig_key *k, size_t pos, const char *hex, json_t *root,
              saksi_err perr, const char *perrbuf)
{
	const saksi_keyring_entry *e = k->k_entry;
	const char *kid;
	char errbuf[SAKSID_MSG_MAX];
	char got[64];
	uint8_t *plain = NULL, *list = NULL;
	char **names = NULL, **values = NULL;
	int pairs = ig->ig_blind != NULL || ig->ig_ix_blind != NULL || ig->ig_shred != NULL;
	char ***np = pairs ? &names : NULL;
	char ***vp = pairs ? &values : NULL;
	size_t plain_len = 0, nd = 0, list_len = 0;
	static const uint8_t none[] = "[]";
	saksi_err err;
	int b;

	if (strcmp(e->ke_branch, "*") != 0) {
		b = root != NULL ? branch_ok(root, e->ke_branch, got, sizeof(got)) :
		    perr == SAKSI_ERR_NOMEM ? -1 :
		    branch_ok_unparsed(ev, e->ke_branch, got, sizeof(got));
		if (b == 0)
			return refuse(it, SAKSI_R_BRANCH, "payload has %s, key %s is for branch %s",
			              got, hex, e->ke_branch);
	}

	/* The schema check: the parse's own refusal, unless the type is unknown. */
	if (root == NULL) {
		if (perr != SAKSI_ERR_NOMEM && !saksi_schemas_has(ig->ig_sc, ev->ev_type))
			perr = SAKSI_ERR_NOT_FOUND;
		return schema_refusal(it, ev, perr, perrbuf);
	}
	errbuf[0] = '\0';
	err = saksi_schemas_validate_json(ig->ig_sc, ev->ev_type, root, errbuf, sizeof(errbuf));
	if (err != SAKSI_OK)
		return schema_refusal(it, ev, err, errbuf);
	/* The rules count a supervisor's looks by the key_id his access entries name: a
	 * name of his own choosing would spread them thin (RULES.md 6). An entry saksid
	 * writes for a remote query names the requester instead, and carries his signed
	 * request to prove it (remoteq.h). */
	if (strcmp(ev->ev_type, ACCESS_TYPE) == 0) {
		const char *why = NULL;

		err = saksi_rq_access_check(root, ig->ig_kr, &why);
		if (err != SAKSI_ERR_NOT_FOUND && err != SAKSI_OK)
			return refuse(it, SAKSI_R_SCHEMA, "%s: %s", ev->ev_type, why);
		if (err == SAKSI_ERR_NOT_FOUND &&
		    ((kid = json_string_value(json_object_get(root, "key_id"))) == NULL ||
		    strcmp(kid, hex) != 0))
			return refuse(it, SAKSI_R_SCHEMA, "%s: key_id is not the signing key %s",
			              ev->ev_type, hex);
	}

	crypto_hash_sha256(it->it_env_hash, it->it_env, it->it_env_len);
	if (it->it_sealed_len > 0) {
		if (!k->k_disc_ok)
			return refuse(it, SAKSI_R_DISCLOSURE, "key %s has no disclosure key", hex);
		/* The box's AD holds SHA-256(envelope): the hash just taken, not a second one. */
		err = saksi_disclosures_open_hashed(ig->ig_disc_keys + 32 * pos, it->it_env_hash,
		                                    it->it_sealed, it->it_sealed_len, &plain,
		                                    &plain_len);
		if (err == SAKSI_ERR_NOMEM)
			return unavailable(it);
		if (err != SAKSI_OK)
			return refuse(it, SAKSI_R_DISCLOSURE, "sealed disclosures do not open "
			              "(%s)", saksi_strerror(err));
		if (ig->ig_shred != NULL)
			err = saksi_disclosures_check_list(root, plain, plain_len, np, vp, &nd,
			                                   &list, &list_len);
		else
			err = saksi_disclosures_check_json(root, plain, plain_len, np, vp, &nd);
	} else {
		err = saksi_disclosures_check_json(root, none, sizeof(none) - 1, np, vp, &nd);
	}
	/* The clear values are wiped as soon as they are blinded. */
	if (err == SAKSI_OK && pairs)
		prepare(ig, it, ev, root, names, values, nd);
	if (err == SAKSI_OK && list != NULL &&
	    saksid_shred_prepare(ig->ig_shred, ev, root, names, values, nd, list, list_len,
	                         &it->it_shprep) != SAKSI_OK)
		it->it_shprep = NULL;   /* the committer makes it */
	if (list != NULL) {
		sodium_memzero(list, list_len);
		free(list);
	}
	saksi_disclosures_free(names, values, nd);
	if (err != SAKSI_OK || nd == 0) {
		if (plain != NULL) {
			sodium_memzero(plain, plain_len);
			free(plain);
		}
		if (err == SAKSI_ERR_NOMEM)
			return unavailable(it);
		if (err == SAKSI_ERR_PROOF)
			return refuse(it, SAKSI_R_DISCLOSURE, "a disclosure is missing, extra, or "
			              "does not match its digest");
		if (err != SAKSI_OK)
			return refuse(it, SAKSI_R_DISCLOSURE, "disclosures are malformed (%s)",
			              saksi_strerror(err));
		return SAKSI_R_ACCEPTED;   /* no personal field: nothing to keep */
	}
	it->it_disc = plain;
	it->it_disc_len = plain_len;
	return SAKSI_R_ACCEPTED;
}

int
saksid_ingest_check(const saksid_ingest *ig, saksid_item *it, uint64_t now_ms)
{
	saksi_envelope ev;
	const struct ig_key *k;
	const saksi_keyring_entry *e;
	char hex[2 * SAKSI_KEYID_LEN + 1];
	char perrbuf[SAKSID_MSG_MAX];
	json_t *root = NULL;
	size_t pos = 0;
	saksi_err err;
	int r;

	it->it_disc = NULL;
	it->it_disc_len = 0;
	it->it_prep = NULL;
	it->it_ixk = NULL;
	it->it_shprep = NULL;
	/* The key id as claimed: readable only behind a version and alg we know. */
	if (it->it_env_len >= 2 + SAKSI_KEYID_LEN && it->it_env[0] == SAKSI_ENV_VERSION &&
	    it->it_env[1] == 1)
		memcpy(it->it_key_id, it->it_env + 2, SAKSI_KEYID_LEN);
	else
		memset(it->it_key_id, 0, SAKSI_KEYID_LEN);
	if (it->it_code != SAKSI_R_ACCEPTED)
		return it->it_code;   /* refused by the framing (size) */

	/* parse: envelope, then the sealed box's fixed part. */
	err = saksi_envelope_parse(it->it_env, it->it_env_len, &ev);
	if (err == SAKSI_ERR_TOO_LARGE)
		return refuse(it, SAKSI_R_SIZE, "envelope: a field is over its size cap");
	if (err != SAKSI_OK)
		return refuse(it, SAKSI_R_PARSE, "envelope: %s", saksi_strerror(err));
	memcpy(it->it_key_id, ev.ev_key_id, SAKSI_KEYID_LEN);
	it->it_seq = ev.ev_seq;
	it->it_time_ms = ev.ev_time_ms;
	if (it->it_sealed_len > 0) {
		if (it->it_sealed_len < 1 + 24 + 16)
			return refuse(it, SAKSI_R_PARSE, "sealed disclosures: %zu bytes is too "
			              "short", it->it_sealed_len);
		if (it->it_sealed[0] != 1)
			return refuse(it, SAKSI_R_PARSE, "sealed disclosures: unknown version %u",
			              it->it_sealed[0]);
	}
	sodium_bin2hex(hex, sizeof(hex), ev.ev_key_id, SAKSI_KEYID_LEN);

	if ((k = find_key(ig, ev.ev_key_id, &pos)) == NULL)
		return refuse(it, SAKSI_R_UNKNOWN_KEY, "key %s is not in the keyring", hex);
	e = k->k_entry;
	if (e->ke_revoked_ms >= 0 && (uint64_t)e->ke_revoked_ms <= now_ms)
		return refuse(it, SAKSI_R_REVOKED_KEY, "key %s (%s) was revoked at %lld", hex,
		              e->ke_name, (long long)e->ke_revoked_ms);
	if (e->ke_pub.pk_kind != SAKSI_KEY_SIGN ||
	    saksi_envelope_verify(&ev, e->ke_pub.pk_key) != SAKSI_OK)
		return refuse(it, SAKSI_R_SIGNATURE, "signature does not verify with key %s",
		              hex);
	if (!saksi_keyring_role_allows(ig->ig_kr, e->ke_role, ev.ev_type))
		return refuse(it, SAKSI_R_ROLE, "role %s of key %s may not sign %s", e->ke_role,
		              hex, ev.ev_type);

	/*
	 * One parse, as strict as the schema check's, serves branch, schema and disclosures:
	 * parsing is most of what these checks cost.
	 */
	perrbuf[0] = '\0';
	err = saksi_schemas_parse_payload((const char *)ev.ev_payload, ev.ev_payload_len, &root,
	                                  perrbuf, sizeof(perrbuf));
	r = check_payload(ig, it, &ev, k, pos, hex, err == SAKSI_OK ? root : NULL, err,
	                  perrbuf);
	json_decref(root);
	return r;
}

void
saksid_item_clear(saksid_item *it)
{
	if (it->it_disc != NULL) {
		sodium_memzero(it->it_disc, it->it_disc_len);
		free(it->it_disc);
	}
	it->it_disc = NULL;
	it->it_disc_len = 0;
	saksi_detect_event_free(it->it_prep);
	it->it_prep = NULL;
	saksi_index_keys_free(it->it_ixk);
	it->it_ixk = NULL;
	saksid_shred_prep_free(it->it_shprep);
	it->it_shprep = NULL;
}
