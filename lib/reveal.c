/*
 * reveal.c: counts the distinct participants of the entries a look revealed (reveal.h),
 * for the access entry's "participants" member.
 * It must never keep a personal value: each is hashed under this counter's own random key
 * at once, its normalised copy wiped, and the hashes are wiped when the counter goes.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "blind.h"
#include "reveal.h"

#define RV_HASH 16        /* 128 bits: collisions among 10^5 rows are out of reach */

struct saksi_reveal {
	uint8_t rv_key[crypto_generichash_KEYBYTES];
	uint8_t *rv_h;        /* n hashes of RV_HASH bytes, unsorted until counted */
	size_t rv_n;
	size_t rv_cap;
};

saksi_err
saksi_reveal_new(saksi_reveal **out)
{
	saksi_reveal *r;

	if (out == NULL)
		return SAKSI_ERR_INVAL;
	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SAKSI_ERR_NOMEM;
	/* A key of this counter alone: the hashes mean nothing outside it, not even
	 * against a guessed NIK. */
	randombytes_buf(r->rv_key, sizeof(r->rv_key));
	*out = r;
	return SAKSI_OK;
}

void
saksi_reveal_free(saksi_reveal *r)
{
	if (r == NULL)
		return;
	if (r->rv_h != NULL) {
		sodium_memzero(r->rv_h, r->rv_cap * RV_HASH);
		free(r->rv_h);
	}
	sodium_memzero(r, sizeof(*r));
	free(r);
}

/* Grows by copying, so that no old buffer is left unwiped by realloc. */
static saksi_err
grow(saksi_reveal *r)
{
	size_t cap = r->rv_cap == 0 ? 64 : 2 * r->rv_cap;
	uint8_t *nh;

	if (cap > SIZE_MAX / RV_HASH || (nh = malloc(cap * RV_HASH)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (r->rv_h != NULL) {
		memcpy(nh, r->rv_h, r->rv_n * RV_HASH);
		sodium_memzero(r->rv_h, r->rv_cap * RV_HASH);
		free(r->rv_h);
	}
	r->rv_h = nh;
	r->rv_cap = cap;
	return SAKSI_OK;
}

/* Hashes kind || normalised value (or the raw text, apart, if it does not normalise). */
static saksi_err
add_value(saksi_reveal *r, saksi_blind_kind kind, const char *name, const char *v)
{
	char norm[SAKSI_BLIND_VALUE_MAX + 1];
	crypto_generichash_state st;
	size_t nl = 0;
	saksi_err e;
	int raw;

	if (r->rv_n == r->rv_cap && (e = grow(r)) != SAKSI_OK)
		return e;
	raw = saksi_blind_normalise(kind, v, strlen(v), norm, sizeof(norm), &nl) != SAKSI_OK;
	crypto_generichash_init(&st, r->rv_key, sizeof(r->rv_key), RV_HASH);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
	crypto_generichash_update(&st, (const uint8_t *)(raw ? "raw" : "norm"), raw ? 4 : 5);
	if (raw)
		crypto_generichash_update(&st, (const uint8_t *)v, strlen(v));
	else
		crypto_generichash_update(&st, (const uint8_t *)norm, nl);
	crypto_generichash_final(&st, r->rv_h + r->rv_n * RV_HASH, RV_HASH);
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(&st, sizeof(st));
	r->rv_n++;
	return SAKSI_OK;
}

saksi_err
saksi_reveal_add(saksi_reveal *r, const char *nik, const char *kpj)
{
	if (r == NULL)
		return SAKSI_ERR_INVAL;
	if (nik != NULL)
		return add_value(r, SAKSI_BLIND_NIK, "nik", nik);
	if (kpj != NULL)
		return add_value(r, SAKSI_BLIND_KPJ, "kpj", kpj);
	return SAKSI_OK;
}

saksi_err
saksi_reveal_add_row(saksi_reveal *r, const saksi_query_row *row)
{
	if (r == NULL || row == NULL)
		return SAKSI_ERR_INVAL;
	if (row->qr_forgotten || !json_is_object(row->qr_payload))
		return SAKSI_OK;
	return saksi_reveal_add(r,
	    json_string_value(json_object_get(row->qr_payload, "nik")),
	    json_string_value(json_object_get(row->qr_payload, "kpj")));
}

/* One disclosure, base64url of ["salt", "name", "value"]: its name and value if it is a
 * nik or a kpj (into the caller's buffers, wiped by the caller). */
static saksi_err
disclosure(const char *b64, size_t b64len, char *nik, char *kpj, size_t sz)
{
	uint8_t *bin;
	size_t bl = 0;
	json_t *a;
	const char *name, *value;
	saksi_err e = SAKSI_ERR_FORMAT;

	if ((bin = malloc(b64len + 1)) == NULL)
		return SAKSI_ERR_NOMEM;
	if (sodium_base642bin(bin, b64len + 1, b64, b64len, NULL, &bl, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		goto out;
	a = json_loadb((const char *)bin, bl, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_array(a) && json_array_size(a) == 3 &&
	    (name = json_string_value(json_array_get(a, 1))) != NULL) {
		e = SAKSI_OK;
		value = json_string_value(json_array_get(a, 2));
		if (value != NULL && strlen(value) < sz) {
			if (strcmp(name, "nik") == 0)
				strcpy(nik, value);
			else if (strcmp(name, "kpj") == 0)
				strcpy(kpj, value);
		}
	}
	/* jansson keeps its own copy of the value: it is freed with a, unwiped, as every
	 * caller of json_loadb on disclosures does (query.c, bundle.c). */
	json_decref(a);
out:
	sodium_memzero(bin, b64len + 1);
	free(bin);
	return e;
}

saksi_err
saksi_reveal_add_disclosures(saksi_reveal *r, const char *json, size_t len)
{
	char nik[SAKSI_BLIND_INPUT_MAX + 1] = "", kpj[SAKSI_BLIND_INPUT_MAX + 1] = "";
	json_t *a;
	size_t i;
	saksi_err e = SAKSI_OK;

	if (r == NULL || json == NULL)
		return SAKSI_ERR_INVAL;
	a = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return SAKSI_ERR_FORMAT;
	}
	for (i = 0; i < json_array_size(a) && e == SAKSI_OK; i++) {
		json_t *d = json_array_get(a, i);

		if (!json_is_string(d))
			e = SAKSI_ERR_FORMAT;
		else
			e = disclosure(json_string_value(d), json_string_length(d), nik, kpj,
			    sizeof(nik));
	}
	json_decref(a);
	if (e == SAKSI_OK)
		e = saksi_reveal_add(r, nik[0] != '\0' ? nik : NULL, kpj[0] != '\0' ? kpj : NULL);
	sodium_memzero(nik, sizeof(nik));
	sodium_memzero(kpj, sizeof(kpj));
	return e;
}

static int
cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, RV_HASH);
}

uint64_t
saksi_reveal_count(saksi_reveal *r)
{
	size_t i, o;

	if (r == NULL || r->rv_n == 0)
		return 0;
	/* Sorted and made distinct in place: later adds append, and the next count sorts
	 * again. */
	qsort(r->rv_h, r->rv_n, RV_HASH, cmp_hash);
	for (i = 1, o = 1; i < r->rv_n; i++)
		if (memcmp(r->rv_h + i * RV_HASH, r->rv_h + (o - 1) * RV_HASH, RV_HASH) != 0)
			memmove(r->rv_h + o++ * RV_HASH, r->rv_h + i * RV_HASH, RV_HASH);
	sodium_memzero(r->rv_h + o * RV_HASH, (r->rv_n - o) * RV_HASH);
	r->rv_n = o;
	return o;
}

saksi_err
saksi_reveal_result(const saksi_query_result *res, uint64_t *n)
{
	saksi_reveal *r;
	saksi_err e = SAKSI_OK;
	size_t i;

	if (res == NULL || n == NULL)
		return SAKSI_ERR_INVAL;
	*n = 0;
	if (!res->qr_revealed)
		return SAKSI_OK;
	if ((e = saksi_reveal_new(&r)) != SAKSI_OK)
		return e;
	for (i = 0; i < res->qr_n && e == SAKSI_OK; i++)
		e = saksi_reveal_add_row(r, &res->qr_rows[i]);
	if (e == SAKSI_OK)
		*n = saksi_reveal_count(r);
	saksi_reveal_free(r);
	return e;
}
