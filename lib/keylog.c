/*
 * keylog.c: the keyring ledger entry (FORMATS.md 4, kind 4): canonical JSON, strict
 * parse, differences. Must never accept a second spelling of a keyring, nor crash or
 * abort on hostile bytes: an entry in the ledger is checked by people who trust nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "bytes.h"
#include "errbuf.h"
#include "keylog.h"

static int
cmp_entry(const void *a, const void *b)
{
	const saksi_keyring_entry *x = *(const saksi_keyring_entry *const *)a;
	const saksi_keyring_entry *y = *(const saksi_keyring_entry *const *)b;

	return memcmp(x->ke_pub.pk_id, y->ke_pub.pk_id, SAKSI_KEYID_LEN);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A role's patterns, sorted, each once: their order and repeats mean nothing. */
static json_t *
canon_patterns(json_t *arr)
{
	const char **v;
	json_t *out;
	size_t n = json_array_size(arr), i;

	if ((out = json_array()) == NULL)
		return NULL;
	if (n == 0)
		return out;
	if ((v = calloc(n, sizeof(*v))) == NULL) {
		json_decref(out);
		return NULL;
	}
	for (i = 0; i < n; i++)
		v[i] = json_string_value(json_array_get(arr, i));
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++) {
		if (v[i] == NULL || (i > 0 && strcmp(v[i], v[i - 1]) == 0))
			continue;
		if (json_array_append_new(out, json_string(v[i])) != 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(v);
	return out;
}

static json_t *
canon_key(const saksi_keyring_entry *ke)
{
	char hex[2 * SAKSI_KEYID_LEN + 1], b64[SAKSI_PUBKEY_B64_LEN + 1];

	sodium_bin2hex(hex, sizeof(hex), ke->ke_pub.pk_id, SAKSI_KEYID_LEN);
	if (saksi_pubkey_encode(&ke->ke_pub, b64, sizeof(b64)) != SAKSI_OK)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "branch", ke->ke_branch,
	    "key_id", hex, "name", ke->ke_name, "public_key", b64, "role", ke->ke_role,
	    "revoked_ms", ke->ke_revoked_ms < 0 ? json_null() :
	    json_integer((json_int_t)ke->ke_revoked_ms));
}

/* The canonical object of a keyring that saksi_keyring_parse accepted as kr. */
static json_t *
canon_object(const saksi_keyring *kr, json_t *src)
{
	const saksi_keyring_entry **ents = NULL;
	json_t *obj = NULL, *roles, *keys, *v;
	const char *name;
	size_t n = saksi_keyring_count(kr), i;

	if ((obj = json_object()) == NULL || (roles = json_object()) == NULL ||
	    json_object_set_new(obj, "roles", roles) != 0 || (keys = json_array()) == NULL ||
	    json_object_set_new(obj, "keys", keys) != 0 ||
	    json_object_set_new(obj, "saksi_keyring", json_integer(1)) != 0)
		goto fail;
	json_object_foreach(json_object_get(src, "roles"), name, v) {
		json_t *p = canon_patterns(v);
		if (p == NULL || json_object_set_new(roles, name, p) != 0)
			goto fail;
	}
	if (n > 0 && (ents = calloc(n, sizeof(*ents))) == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		ents[i] = saksi_keyring_at(kr, i);
	if (n > 0)
		qsort(ents, n, sizeof(*ents), cmp_entry);
	for (i = 0; i < n; i++) {
		json_t *k = canon_key(ents[i]);
		if (k == NULL || json_array_append_new(keys, k) != 0)
			goto fail;
	}
	free(ents);
	return obj;
fail:
	free(ents);
	json_decref(obj);
	return NULL;
}

saksi_err
saksi_keylog_canon(const char *json, size_t len, char **out, size_t *outlen, char *errbuf,
                   size_t errlen)
{
	saksi_keyring *kr = NULL;
	json_t *src, *obj;
	char *s;
	saksi_err e;

	if (out == NULL || outlen == NULL || (json == NULL && len > 0))
		return SAKSI_ERR_INVAL;
	*out = NULL;
	*outlen = 0;
	if ((e = saksi_keyring_parse(json, len, &kr, errbuf, errlen)) != SAKSI_OK)
		return e;
	/* The keyring parsed, so this does: only the roles' patterns are read from it. */
	src = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	obj = src != NULL ? canon_object(kr, src) : NULL;
	json_decref(src);
	saksi_keyring_free(kr);
	if (obj == NULL)
		return SAKSI_ERR_NOMEM;
	s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (s == NULL)
		return SAKSI_ERR_NOMEM;
	*out = s;
	*outlen = strlen(s);
	return SAKSI_OK;
}

saksi_err
saksi_keylog_encode(const char *json, size_t len, uint8_t **body, size_t *bodylen,
                    char *errbuf, size_t errlen)
{
	char *c;
	size_t clen;
	saksi_err e;

	if (body == NULL || bodylen == NULL)
		return SAKSI_ERR_INVAL;
	*body = NULL;
	*bodylen = 0;
	if ((e = saksi_keylog_canon(json, len, &c, &clen, errbuf, errlen)) != SAKSI_OK)
		return e;
	if (1 + clen > SAKSI_KEYLOG_MAX) {
		saksi_errbuf(errbuf, errlen, "the keyring's canonical form is %zu bytes, over the %d a "
		    "ledger entry holds", clen, SAKSI_KEYLOG_MAX - 1);
		free(c);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((*body = malloc(1 + clen)) == NULL) {
		free(c);
		return SAKSI_ERR_NOMEM;
	}
	(*body)[0] = SAKSI_KEYLOG_VERSION;
	memcpy(*body + 1, c, clen);
	*bodylen = 1 + clen;
	free(c);
	return SAKSI_OK;
}

saksi_err
saksi_keylog_parse(const uint8_t *body, size_t len, saksi_keyring **kr, char *errbuf,
                   size_t errlen)
{
	char *c = NULL;
	size_t clen;
	saksi_err e;

	if (kr != NULL)
		*kr = NULL;
	if (body == NULL && len > 0)
		return SAKSI_ERR_INVAL;
	if (len > SAKSI_KEYLOG_MAX) {
		saksi_errbuf(errbuf, errlen, "%zu bytes, over the %d of a ledger entry", len,
		    SAKSI_KEYLOG_MAX);
		return SAKSI_ERR_TOO_LARGE;
	}
	if (len < 1) {
		saksi_errbuf(errbuf, errlen, "empty");
		return SAKSI_ERR_FORMAT;
	}
	if (body[0] != SAKSI_KEYLOG_VERSION) {
		saksi_errbuf(errbuf, errlen, "unknown version %u", body[0]);
		return SAKSI_ERR_VERSION;
	}
	e = saksi_keylog_canon((const char *)body + 1, len - 1, &c, &clen, errbuf, errlen);
	if (e == SAKSI_ERR_NOMEM)
		return e;
	if (e != SAKSI_OK) {
		/* A keyring of another version is still a malformed entry of this one. */
		return SAKSI_ERR_FORMAT;
	}
	if (clen != len - 1 || memcmp(c, body + 1, clen) != 0) {
		free(c);
		saksi_errbuf(errbuf, errlen, "the keyring is not in its canonical form");
		return SAKSI_ERR_FORMAT;
	}
	free(c);
	if (kr != NULL)
		return saksi_keyring_parse((const char *)body + 1, len - 1, kr, errbuf, errlen);
	return SAKSI_OK;
}

/* Appends one line to out; counts it whether or not it fits. */
static void
addline(char *out, size_t outlen, size_t *used, int *n, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	size_t l;

	(*n)++;
	if (out == NULL || outlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l = strlen(line);
	if (*used + l + 2 > outlen) {
		if (*used + 4 <= outlen && (*used < 3 || strcmp(out + *used - 3, "...") != 0)) {
			memcpy(out + *used, "...", 4);
			*used += 3;
		}
		return;
	}
	memcpy(out + *used, line, l);
	out[*used + l] = '\n';
	out[*used + l + 1] = '\0';
	*used += l + 1;
}

static const char *
sget(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s != NULL ? s : "?";
}

static void
revoked_text(json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "revoked at %lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "not revoked");
}

static json_t *
find_key(json_t *keys, const char *id)
{
	json_t *k;
	size_t i;

	json_array_foreach(keys, i, k)
		if (strcmp(sget(k, "key_id"), id) == 0)
			return k;
	return NULL;
}

static void
diff_keys(json_t *ka, json_t *kb, char *out, size_t outlen, size_t *used, int *n)
{
	static const char *const fields[] = { "name", "public_key", "role", "branch" };
	json_t *a, *b;
	size_t i, f;

	json_array_foreach(ka, i, a) {
		const char *id = sget(a, "key_id");
		char ra[64], rb[64];

		if ((b = find_key(kb, id)) == NULL) {
			addline(out, outlen, used, n, "key %s (%s, role %s, branch %s): removed", id,
			    sget(a, "name"), sget(a, "role"), sget(a, "branch"));
			continue;
		}
		for (f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			if (strcmp(sget(a, fields[f]), sget(b, fields[f])) != 0)
				addline(out, outlen, used, n, "key %s (%s): %s %s -> %s", id,
				    sget(a, "name"), fields[f], sget(a, fields[f]),
				    sget(b, fields[f]));
		if (!json_equal(json_object_get(a, "revoked_ms"), json_object_get(b, "revoked_ms"))) {
			revoked_text(json_object_get(a, "revoked_ms"), ra, sizeof(ra));
			revoked_text(json_object_get(b, "revoked_ms"), rb, sizeof(rb));
			addline(out, outlen, used, n, "key %s (%s): %s -> %s%s", id, sget(a, "name"),
			    ra, rb, json_is_null(json_object_get(b, "revoked_ms")) ?
			    " (revocation removed)" : "");
		}
	}
	json_array_foreach(kb, i, b)
		if (find_key(ka, sget(b, "key_id")) == NULL)
			addline(out, outlen, used, n, "key %s (%s, role %s, branch %s): added",
			    sget(b, "key_id"), sget(b, "name"), sget(b, "role"), sget(b, "branch"));
}

static void
diff_roles(json_t *ra, json_t *rb, char *out, size_t outlen, size_t *used, int *n)
{
	const char *name;
	json_t *v, *w;

	json_object_foreach(ra, name, v) {
		if ((w = json_object_get(rb, name)) == NULL) {
			addline(out, outlen, used, n, "role %s: removed", name);
		} else if (!json_equal(v, w)) {
			char *sv = json_dumps(v, JSON_COMPACT), *sw = json_dumps(w, JSON_COMPACT);
			addline(out, outlen, used, n, "role %s: patterns %.200s -> %.200s", name,
			    sv != NULL ? sv : "?", sw != NULL ? sw : "?");
			free(sv);
			free(sw);
		}
	}
	json_object_foreach(rb, name, w)
		if (json_object_get(ra, name) == NULL) {
			char *sw = json_dumps(w, JSON_COMPACT);
			addline(out, outlen, used, n, "role %s: added, patterns %.200s", name,
			    sw != NULL ? sw : "?");
			free(sw);
		}
}

int
saksi_keylog_diff(const char *a, size_t alen, const char *b, size_t blen, char *out,
                  size_t outlen)
{
	json_t *ja, *jb;
	size_t used = 0;
	int n = 0;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (a == NULL || b == NULL)
		return -1;
	ja = json_loadb(a, alen, JSON_REJECT_DUPLICATES, NULL);
	jb = json_loadb(b, blen, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(ja) || !json_is_object(jb) ||
	    !json_is_array(json_object_get(ja, "keys")) ||
	    !json_is_array(json_object_get(jb, "keys")) ||
	    !json_is_object(json_object_get(ja, "roles")) ||
	    !json_is_object(json_object_get(jb, "roles"))) {
		json_decref(ja);
		json_decref(jb);
		return -1;
	}
	diff_keys(json_object_get(ja, "keys"), json_object_get(jb, "keys"), out, outlen, &used,
	    &n);
	diff_roles(json_object_get(ja, "roles"), json_object_get(jb, "roles"), out, outlen,
	    &used, &n);
	json_decref(ja);
	json_decref(jb);
	return n;
}

saksi_err
saksi_keylog_read_file(const char *path, char **buf, size_t *len, char *errbuf,
                       size_t errlen)
{
	FILE *f;
	size_t r;
	saksi_err e = SAKSI_OK;

	*buf = NULL;
	*len = 0;
	if ((f = fopen(path, "rbe")) == NULL) {
		saksi_errbuf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? SAKSI_ERR_NOT_FOUND : SAKSI_ERR_IO;
	}
	if ((*buf = malloc(SAKSI_KEYLOG_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return SAKSI_ERR_NOMEM;
	}
	while (*len <= SAKSI_KEYLOG_FILE_MAX &&
	    (r = fread(*buf + *len, 1, SAKSI_KEYLOG_FILE_MAX + 1 - *len, f)) > 0)
		*len += r;
	if (ferror(f)) {
		saksi_errbuf(errbuf, errlen, "%s: read error", path);
		e = SAKSI_ERR_IO;
	} else if (*len > SAKSI_KEYLOG_FILE_MAX) {
		saksi_errbuf(errbuf, errlen, "%s: over %u bytes", path, SAKSI_KEYLOG_FILE_MAX);
		e = SAKSI_ERR_TOO_LARGE;
	}
	fclose(f);
	if (e != SAKSI_OK) {
		free(*buf);
		*buf = NULL;
	}
	return e;
}

saksi_err
saksi_keylog_load(const char *path, saksi_keyring **kr, uint8_t **body, size_t *bodylen,
                  char *errbuf, size_t errlen)
{
	char *buf;
	size_t len;
	saksi_err e;

	if (path == NULL || kr == NULL || body == NULL || bodylen == NULL)
		return SAKSI_ERR_INVAL;
	*kr = NULL;
	*body = NULL;
	*bodylen = 0;
	if ((e = saksi_keylog_read_file(path, &buf, &len, errbuf, errlen)) != SAKSI_OK)
		return e;
	if ((e = saksi_keyring_parse(buf, len, kr, errbuf, errlen)) == SAKSI_OK &&
	    (e = saksi_keylog_encode(buf, len, body, bodylen, errbuf, errlen)) != SAKSI_OK) {
		saksi_keyring_free(*kr);
		*kr = NULL;
	}
	free(buf);
	return e;
}

saksi_err
saksi_keylog_load_parts(const char *path, saksi_keyring **kr, saksi_keylog_parts *p,
                        char *errbuf, size_t errlen)
{
	char *buf;
	size_t len;
	saksi_err e;

	if (path == NULL || kr == NULL || p == NULL)
		return SAKSI_ERR_INVAL;
	*kr = NULL;
	memset(p, 0, sizeof(*p));
	if ((e = saksi_keylog_read_file(path, &buf, &len, errbuf, errlen)) != SAKSI_OK)
		return e;
	if ((e = saksi_keyring_parse(buf, len, kr, errbuf, errlen)) == SAKSI_OK &&
	    (e = saksi_keylog_split(buf, len, p, errbuf, errlen)) != SAKSI_OK) {
		saksi_keyring_free(*kr);
		*kr = NULL;
	}
	free(buf);
	return e;
}

void
saksi_keylog_parts_free(saksi_keylog_parts *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->kp_n; i++)
		free(p->kp_body[i]);
	free(p->kp_body);
	free(p->kp_len);
	memset(p, 0, sizeof(*p));
}

static saksi_err
parts_add(saksi_keylog_parts *p, uint8_t *body, size_t len)
{
	uint8_t **nb;
	size_t *nl;

	if ((nb = realloc(p->kp_body, (p->kp_n + 1) * sizeof(*nb))) == NULL)
		goto nomem;
	p->kp_body = nb;
	if ((nl = realloc(p->kp_len, (p->kp_n + 1) * sizeof(*nl))) == NULL)
		goto nomem;
	p->kp_len = nl;
	p->kp_body[p->kp_n] = body;
	p->kp_len[p->kp_n] = len;
	p->kp_n++;
	return SAKSI_OK;
nomem:
	free(body);
	return SAKSI_ERR_NOMEM;
}

/* Dumped length of v, compact and sorted as the canonical form writes it. */
static size_t
dump_len(json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* One version 2 body: header || {"keys":[keys from..to),"roles":roles,...}. */
static saksi_err
part_body(json_t *roles, json_t *keys, size_t from, size_t to, uint8_t **body,
          size_t *bodylen)
{
	json_t *obj, *sub;
	char *s;
	size_t i, l;

	*body = NULL;
	if ((obj = json_object()) == NULL || (sub = json_array()) == NULL ||
	    json_object_set_new(obj, "keys", sub) != 0 ||
	    json_object_set(obj, "roles", roles) != 0 ||
	    json_object_set_new(obj, "saksi_keyring", json_integer(1)) != 0) {
		json_decref(obj);
		return SAKSI_ERR_NOMEM;
	}
	for (i = from; i < to; i++)
		if (json_array_append(sub, json_array_get(keys, i)) != 0) {
			json_decref(obj);
			return SAKSI_ERR_NOMEM;
		}
	s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (s == NULL)
		return SAKSI_ERR_NOMEM;
	l = strlen(s);
	if ((*body = malloc(SAKSI_KEYLOG_PART_HDR + l)) == NULL) {
		free(s);
		return SAKSI_ERR_NOMEM;
	}
	(*body)[0] = SAKSI_KEYLOG_VERSION_PART;
	memcpy(*body + SAKSI_KEYLOG_PART_HDR, s, l);
	free(s);
	*bodylen = SAKSI_KEYLOG_PART_HDR + l;
	return SAKSI_OK;
}

/* The canonical split of a canonical JSON c (already checked to load). */
static saksi_err
split_canon(const char *c, size_t clen, saksi_keylog_parts *p, char *errbuf, size_t errlen)
{
	json_t *obj, *roles, *keys, *empty;
	size_t room = SAKSI_KEYLOG_MAX - SAKSI_KEYLOG_PART_HDR, base, n, i, from, used, kl;
	uint8_t *b;
	size_t bl;
	saksi_err e = SAKSI_OK;

	memset(p, 0, sizeof(*p));
	if (1 + clen <= SAKSI_KEYLOG_MAX) {
		if ((b = malloc(1 + clen)) == NULL)
			return SAKSI_ERR_NOMEM;
		b[0] = SAKSI_KEYLOG_VERSION;
		memcpy(b + 1, c, clen);
		return parts_add(p, b, 1 + clen);
	}
	if ((obj = json_loadb(c, clen, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return SAKSI_ERR_NOMEM;
	roles = json_object_get(obj, "roles");
	keys = json_object_get(obj, "keys");
	n = json_array_size(keys);
	/* The part with no key: every part is that plus its keys and their commas. */
	if ((empty = json_object()) == NULL ||
	    json_object_set_new(empty, "keys", json_array()) != 0 ||
	    json_object_set(empty, "roles", roles) != 0 ||
	    json_object_set_new(empty, "saksi_keyring", json_integer(1)) != 0) {
		json_decref(empty);
		json_decref(obj);
		return SAKSI_ERR_NOMEM;
	}
	base = dump_len(empty);
	json_decref(empty);
	for (from = 0; from < n && e == SAKSI_OK; from = i) {
		used = base;
		for (i = from; i < n; i++) {
			kl = dump_len(json_array_get(keys, i)) + (i > from ? 1 : 0);
			if (used + kl > room)
				break;
			used += kl;
		}
		if (i == from) {
			saksi_errbuf(errbuf, errlen, "key %zu of the keyring does not fit in a ledger "
			    "entry with the roles", from + 1);
			e = SAKSI_ERR_TOO_LARGE;
			break;
		}
		if ((e = part_body(roles, keys, from, i, &b, &bl)) == SAKSI_OK)
			e = parts_add(p, b, bl);
	}
	json_decref(obj);
	if (e == SAKSI_OK && p->kp_n > SAKSI_KEYLOG_PARTS_MAX) {
		saksi_errbuf(errbuf, errlen, "the keyring needs %zu ledger entries, over %d", p->kp_n,
		    SAKSI_KEYLOG_PARTS_MAX);
		e = SAKSI_ERR_TOO_LARGE;
	}
	if (e != SAKSI_OK) {
		saksi_keylog_parts_free(p);
		return e;
	}
	for (i = 0; i < p->kp_n; i++) {
		saksi_put_u16(p->kp_body[i] + 1, (uint16_t)(i + 1));
		saksi_put_u16(p->kp_body[i] + 3, (uint16_t)p->kp_n);
	}
	return SAKSI_OK;
}

saksi_err
saksi_keylog_split(const char *json, size_t len, saksi_keylog_parts *p, char *errbuf,
                   size_t errlen)
{
	char *c;
	size_t clen;
	saksi_err e;

	if (p == NULL)
		return SAKSI_ERR_INVAL;
	memset(p, 0, sizeof(*p));
	if ((e = saksi_keylog_canon(json, len, &c, &clen, errbuf, errlen)) != SAKSI_OK)
		return e;
	e = split_canon(c, clen, p, errbuf, errlen);
	free(c);
	return e;
}

saksi_err
saksi_keylog_part_hdr(const uint8_t *body, size_t len, unsigned *index, unsigned *count,
                      char *errbuf, size_t errlen)
{
	unsigned ix, n;

	if (body == NULL && len > 0)
		return SAKSI_ERR_INVAL;
	if (len < 1) {
		saksi_errbuf(errbuf, errlen, "empty");
		return SAKSI_ERR_FORMAT;
	}
	if (body[0] == SAKSI_KEYLOG_VERSION) {
		ix = n = 1;
	} else if (body[0] == SAKSI_KEYLOG_VERSION_PART) {
		if (len < SAKSI_KEYLOG_PART_HDR + 1) {
			saksi_errbuf(errbuf, errlen, "a keyring part of %zu bytes", len);
			return SAKSI_ERR_FORMAT;
		}
		ix = saksi_get_u16(body + 1);
		n = saksi_get_u16(body + 3);
		if (n < 2 || ix < 1 || ix > n) {
			saksi_errbuf(errbuf, errlen, "keyring part %u of %u", ix, n);
			return SAKSI_ERR_FORMAT;
		}
	} else {
		saksi_errbuf(errbuf, errlen, "unknown version %u", body[0]);
		return SAKSI_ERR_VERSION;
	}
	if (index != NULL)
		*index = ix;
	if (count != NULL)
		*count = n;
	return SAKSI_OK;
}

/* Joins the parts' keys under part 1's roles; *bad set on a part at fault. */
static saksi_err
join_parts(const uint8_t *const *bodies, const size_t *lens, size_t n, char **out,
           size_t *outlen, size_t *bad, char *errbuf, size_t errlen)
{
	json_t *all = NULL, *keys, *roles = NULL, *o, *k;
	unsigned ix, cnt;
	size_t i, j;
	char *s;
	saksi_err e;

	if ((all = json_object()) == NULL || (keys = json_array()) == NULL ||
	    json_object_set_new(all, "keys", keys) != 0) {
		json_decref(all);
		return SAKSI_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		*bad = i;
		if (lens[i] > SAKSI_KEYLOG_MAX) {
			saksi_errbuf(errbuf, errlen, "%zu bytes, over the %d of a ledger entry", lens[i],
			    SAKSI_KEYLOG_MAX);
			e = SAKSI_ERR_TOO_LARGE;
			goto fail;
		}
		if ((e = saksi_keylog_part_hdr(bodies[i], lens[i], &ix, &cnt, errbuf,
		    errlen)) != SAKSI_OK)
			goto fail;
		if (cnt != n || ix != i + 1) {
			saksi_errbuf(errbuf, errlen, "keyring part %u of %u where part %zu of %zu belongs",
			    ix, cnt, i + 1, n);
			e = SAKSI_ERR_FORMAT;
			goto fail;
		}
		o = json_loadb((const char *)bodies[i] + SAKSI_KEYLOG_PART_HDR,
		    lens[i] - SAKSI_KEYLOG_PART_HDR, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(o) || !json_is_array(json_object_get(o, "keys")) ||
		    !json_is_object(json_object_get(o, "roles"))) {
			json_decref(o);
			saksi_errbuf(errbuf, errlen, "keyring part %zu is not a keyring", i + 1);
			e = SAKSI_ERR_FORMAT;
			goto fail;
		}
		if (roles == NULL) {
			roles = json_incref(json_object_get(o, "roles"));
		} else if (!json_equal(roles, json_object_get(o, "roles"))) {
			json_decref(o);
			saksi_errbuf(errbuf, errlen, "keyring part %zu has other roles than part 1", i + 1);
			e = SAKSI_ERR_FORMAT;
			goto fail;
		}
		json_array_foreach(json_object_get(o, "keys"), j, k)
			if (json_array_append(keys, k) != 0) {
				json_decref(o);
				e = SAKSI_ERR_NOMEM;
				goto fail;
			}
		json_decref(o);
	}
	if (json_object_set_new(all, "roles", roles) != 0 ||
	    json_object_set_new(all, "saksi_keyring", json_integer(1)) != 0) {
		roles = NULL;
		e = SAKSI_ERR_NOMEM;
		goto fail;
	}
	roles = NULL;
	s = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
	if (s == NULL)
		return SAKSI_ERR_NOMEM;
	*out = s;
	*outlen = strlen(s);
	return SAKSI_OK;
fail:
	json_decref(roles);
	json_decref(all);
	return e;
}

saksi_err
saksi_keylog_join(const uint8_t *const *bodies, const size_t *lens, size_t n,
                  saksi_keyring **kr, char **canon, size_t *canonlen, size_t *bad,
                  char *errbuf, size_t errlen)
{
	saksi_keylog_parts p;
	char *j = NULL, *c = NULL;
	size_t jlen, clen, i, badv = 0;
	saksi_err e;

	if (kr != NULL)
		*kr = NULL;
	if (canon != NULL)
		*canon = NULL;
	if (canonlen != NULL)
		*canonlen = 0;
	if (bad == NULL)
		bad = &badv;
	*bad = 0;
	if (bodies == NULL || lens == NULL || n == 0)
		return SAKSI_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (bodies[i] == NULL && lens[i] > 0)
			return SAKSI_ERR_INVAL;
	if (n == 1) {
		/* A set of one is a version 1 body; a lone version 2 part is incomplete. */
		if ((e = saksi_keylog_parse(bodies[0], lens[0], kr, errbuf, errlen)) != SAKSI_OK)
			return e;
		if (canon != NULL && (e = saksi_keylog_canon((const char *)bodies[0] + 1,
		    lens[0] - 1, canon, canonlen, NULL, 0)) != SAKSI_OK && kr != NULL) {
			saksi_keyring_free(*kr);
			*kr = NULL;
		}
		return e;
	}
	if ((e = join_parts(bodies, lens, n, &j, &jlen, bad, errbuf, errlen)) != SAKSI_OK)
		return e;
	e = saksi_keylog_canon(j, jlen, &c, &clen, errbuf, errlen);
	free(j);
	if (e == SAKSI_ERR_NOMEM)
		return e;
	if (e != SAKSI_OK) {
		*bad = n - 1;
		return SAKSI_ERR_FORMAT;
	}
	/* One spelling: the parts must be exactly the canonical split of what they join. */
	if ((e = split_canon(c, clen, &p, errbuf, errlen)) != SAKSI_OK) {
		free(c);
		return e == SAKSI_ERR_NOMEM ? e : SAKSI_ERR_FORMAT;
	}
	e = SAKSI_OK;
	for (i = 0; i < n || i < p.kp_n; i++)
		if (i >= n || i >= p.kp_n || p.kp_len[i] != lens[i] ||
		    memcmp(p.kp_body[i], bodies[i], lens[i]) != 0) {
			*bad = i < n ? i : n - 1;
			saksi_errbuf(errbuf, errlen, "keyring part %zu is not the canonical split of the "
			    "keyring (keys in ascending key_id, each part as full as it holds)",
			    *bad + 1);
			e = SAKSI_ERR_FORMAT;
			break;
		}
	saksi_keylog_parts_free(&p);
	if (e == SAKSI_OK && kr != NULL)
		e = saksi_keyring_parse(c, clen, kr, errbuf, errlen);
	if (e == SAKSI_OK && canon != NULL) {
		*canon = c;
		if (canonlen != NULL)
			*canonlen = clen;
		c = NULL;
	}
	free(c);
	return e;
}

saksi_err
saksi_keylog_read(saksi_ledger_txn *txn, uint64_t index, char **canon, size_t *canonlen,
                  size_t *nparts, char *errbuf, size_t errlen)
{
	uint8_t **leaf = NULL;
	const uint8_t **body = NULL;
	size_t *blen = NULL, llen, i, got = 0, bad;
	unsigned ix, cnt = 1;
	uint64_t ms = 0;
	saksi_leaf lf;
	saksi_err e;

	if (canon != NULL)
		*canon = NULL;
	if (canonlen != NULL)
		*canonlen = 0;
	if (nparts != NULL)
		*nparts = 0;
	if (txn == NULL || canon == NULL || canonlen == NULL)
		return SAKSI_ERR_INVAL;
	for (i = 0; i < cnt; i++) {
		uint8_t *b;

		if ((e = saksi_ledger_leaf(txn, index + i, &b, &llen)) != SAKSI_OK) {
			if (e == SAKSI_ERR_NOT_FOUND && i > 0) {
				saksi_errbuf(errbuf, errlen, "the keyring set at entry %llu is cut short at "
				    "%zu of %u parts", (unsigned long long)index, i, cnt);
				e = SAKSI_ERR_FORMAT;
			}
			goto out;
		}
		if (saksi_leaf_parse(b, llen, &lf) != SAKSI_OK || lf.lf_kind != SAKSI_LEAF_KEYRING) {
			free(b);
			saksi_errbuf(errbuf, errlen, "entry %llu is not a keyring entry%s",
			    (unsigned long long)(index + i), i > 0 ? " (the set is cut short)" : "");
			e = SAKSI_ERR_FORMAT;
			goto out;
		}
		if ((e = saksi_keylog_part_hdr(lf.lf_body, lf.lf_body_len, &ix, i == 0 ? &cnt :
		    NULL, errbuf, errlen)) != SAKSI_OK) {
			free(b);
			goto out;
		}
		if (i == 0) {
			if (ix != 1) {
				free(b);
				saksi_errbuf(errbuf, errlen, "entry %llu is keyring part %u, not the first",
				    (unsigned long long)index, ix);
				e = SAKSI_ERR_FORMAT;
				goto out;
			}
			ms = lf.lf_commit_ms;
			leaf = calloc(cnt, sizeof(*leaf));
			body = calloc(cnt, sizeof(*body));
			blen = calloc(cnt, sizeof(*blen));
			if (leaf == NULL || body == NULL || blen == NULL) {
				free(b);
				e = SAKSI_ERR_NOMEM;
				goto out;
			}
		} else if (lf.lf_commit_ms != ms) {
			free(b);
			saksi_errbuf(errbuf, errlen, "entry %llu: a keyring part of another commit time",
			    (unsigned long long)(index + i));
			e = SAKSI_ERR_FORMAT;
			goto out;
		}
		leaf[i] = b;
		body[i] = lf.lf_body;
		blen[i] = lf.lf_body_len;
		got = i + 1;
	}
	e = saksi_keylog_join(body, blen, cnt, NULL, canon, canonlen, &bad, errbuf, errlen);
	if (e == SAKSI_OK && nparts != NULL)
		*nparts = cnt;
out:
	for (i = 0; i < got; i++)
		free(leaf[i]);
	free(leaf);
	free(body);
	free(blen);
	return e;
}

saksi_err
saksi_keylog_entry_parse(const uint8_t *body, size_t len, size_t *json_off, char *errbuf,
                         size_t errlen)
{
	const char *j;
	char *c = NULL;
	size_t clen, jlen;
	saksi_err e;

	if (json_off != NULL)
		*json_off = 1;
	if (body == NULL && len > 0)
		return SAKSI_ERR_INVAL;
	if (len < 1 || body[0] != SAKSI_KEYLOG_VERSION_PART)
		return saksi_keylog_parse(body, len, NULL, errbuf, errlen);
	if (len > SAKSI_KEYLOG_MAX) {
		saksi_errbuf(errbuf, errlen, "%zu bytes, over the %d of a ledger entry", len,
		    SAKSI_KEYLOG_MAX);
		return SAKSI_ERR_TOO_LARGE;
	}
	if ((e = saksi_keylog_part_hdr(body, len, NULL, NULL, errbuf, errlen)) != SAKSI_OK)
		return e;
	j = (const char *)body + SAKSI_KEYLOG_PART_HDR;
	jlen = len - SAKSI_KEYLOG_PART_HDR;
	e = saksi_keylog_canon(j, jlen, &c, &clen, errbuf, errlen);
	if (e == SAKSI_ERR_NOMEM)
		return e;
	if (e != SAKSI_OK)
		return SAKSI_ERR_FORMAT;
	if (clen != jlen || memcmp(c, j, clen) != 0) {
		free(c);
		saksi_errbuf(errbuf, errlen, "the keyring part is not in its canonical form");
		return SAKSI_ERR_FORMAT;
	}
	free(c);
	if (jlen >= 10 && memcmp(j, "{\"keys\":[]", 10) == 0) {
		saksi_errbuf(errbuf, errlen, "a keyring part without a key");
		return SAKSI_ERR_FORMAT;
	}
	if (json_off != NULL)
		*json_off = SAKSI_KEYLOG_PART_HDR;
	return SAKSI_OK;
}
