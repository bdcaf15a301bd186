/*
 * blind.c: normalisation of personal values and their keyed blind tokens (RULES.md 1).
 * Every value passing through here is personal data: it is never printed, never kept,
 * and every local copy is wiped before returning; the key lives only in guarded memory.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "b64.h"
#include "blind.h"

#define BLIND_DOMAIN "saksi/blind/v1\n"

struct saksi_blind {
	uint8_t *bl_key;          /* sodium_malloc'd, read-only after saksi_blind_new */
};

static const char *const kind_names[SAKSI_BLIND__COUNT] = {
	[SAKSI_BLIND_NIK] = "nik",
	[SAKSI_BLIND_KPJ] = "kpj",
	[SAKSI_BLIND_PHONE] = "phone",
	[SAKSI_BLIND_EMAIL] = "email",
	[SAKSI_BLIND_ACCOUNT] = "account",
	[SAKSI_BLIND_DEVICE] = "device",
	[SAKSI_BLIND_IP] = "ip",
	[SAKSI_BLIND_NPWP] = "npwp",
	[SAKSI_BLIND_NAME] = "name",
	[SAKSI_BLIND_SCAN] = "scan",
};

/* Field name of the schemas -> kind. amount and balance are personal but never blinded:
 * a rule has no business grouping people by the size of their savings. */
static const struct {
	const char *f_name;
	saksi_blind_kind f_kind;
} fields[] = {
	{ "nik", SAKSI_BLIND_NIK },
	{ "kpj", SAKSI_BLIND_KPJ },
	{ "phone", SAKSI_BLIND_PHONE },
	{ "email", SAKSI_BLIND_EMAIL },
	{ "bank_account", SAKSI_BLIND_ACCOUNT },
	{ "device_id", SAKSI_BLIND_DEVICE },
	{ "ip", SAKSI_BLIND_IP },
	{ "npwp", SAKSI_BLIND_NPWP },
	{ "name", SAKSI_BLIND_NAME },
	{ "account_holder", SAKSI_BLIND_NAME },
	{ "scan_sha256", SAKSI_BLIND_SCAN },
	{ "amount", SAKSI_BLIND_NONE },
	{ "balance", SAKSI_BLIND_NONE },
};

saksi_err
saksi_blind_new(const uint8_t key[SAKSI_BLIND_KEYLEN], saksi_blind **out)
{
	saksi_blind *b;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return SAKSI_ERR_NOMEM;
	if ((b->bl_key = sodium_malloc(SAKSI_BLIND_KEYLEN)) == NULL) {
		free(b);
		return SAKSI_ERR_NOMEM;
	}
	memcpy(b->bl_key, key, SAKSI_BLIND_KEYLEN);
	sodium_mprotect_readonly(b->bl_key);
	*out = b;
	return SAKSI_OK;
}

void
saksi_blind_free(saksi_blind *b)
{
	if (b == NULL)
		return;
	sodium_free(b->bl_key);     /* makes it writable, wipes, unmaps */
	free(b);
}

const char *
saksi_blind_kind_name(saksi_blind_kind kind)
{
	if ((unsigned)kind >= SAKSI_BLIND__COUNT)
		return NULL;
	return kind_names[kind];
}

saksi_blind_kind
saksi_blind_field_kind(const char *field)
{
	size_t i;

	if (field == NULL)
		return SAKSI_BLIND_NONE;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].f_name, field) == 0)
			return fields[i].f_kind;
	return SAKSI_BLIND_NONE;
}

int
saksi_blind_field_personal(const char *field)
{
	size_t i;

	if (field == NULL)
		return 0;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].f_name, field) == 0)
			return 1;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Digits with optional single separators (space, hyphen, dot) strictly between two
 * digits, as numbers are printed on cards ("3171 0101 ...", "01.234.567.8-901.000").
 * Appends the digits to out at *o; returns the number of digits or -1.
 */
static int
digits_sep(const char *s, size_t n, char *out, size_t *o, size_t max)
{
	size_t i, nd = 0;

	for (i = 0; i < n; i++) {
		if (is_digit(s[i])) {
			if (nd == max)
				return -1;
			out[(*o)++] = s[i];
			nd++;
		} else if (s[i] == ' ' || s[i] == '-' || s[i] == '.') {
			if (i == 0 || i + 1 == n || !is_digit(s[i - 1]) || !is_digit(s[i + 1]))
				return -1;
		} else
			return -1;
	}
	return (int)nd;
}

static int
norm_digits(const char *s, size_t n, char *out, size_t *o, size_t lo, size_t hi)
{
	int nd = digits_sep(s, n, out, o, hi);

	return nd >= 0 && (size_t)nd >= lo && (size_t)nd <= hi ? 0 : -1;
}

/* Indonesian mobile numbers to E.164 (+628...), from the forms people write:
 * +62 812-..., 62812..., 0812 ..., (0812) ..., 812.... */
static int
norm_phone(const char *s, size_t n, char *out, size_t *o)
{
	char d[SAKSI_BLIND_INPUT_MAX];
	size_t i, nd = 0, off;
	int plus = 0;

	if (n > 0 && s[0] == '+') {
		plus = 1;
		s++;
		n--;
	}
	for (i = 0; i < n; i++) {
		if (is_digit(s[i]))
			d[nd++] = s[i];
		else if (s[i] != ' ' && s[i] != '-' && s[i] != '.' && s[i] != '(' && s[i] != ')')
			goto bad;
	}
	if (nd >= 2 && d[0] == '6' && d[1] == '2')
		off = 2;
	else if (plus)
		goto bad;           /* another country: the schemas know only +62 */
	else if (nd >= 1 && d[0] == '0')
		off = 1;
	else
		off = 0;
	/* The national significant number of a mobile starts with 8: 9 to 12 digits. */
	if (nd - off < 9 || nd - off > 12 || d[off] != '8')
		goto bad;
	memcpy(out + *o, "+62", 3);
	*o += 3;
	memcpy(out + *o, d + off, nd - off);
	*o += nd - off;
	sodium_memzero(d, sizeof(d));
	return 0;
bad:
	sodium_memzero(d, sizeof(d));
	return -1;
}

static int
is_email_local(char c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c) || c == '.' || c == '_' || c == '%' ||
	    c == '+' || c == '-';
}

/* Lower case, then the schema's shape: local@label(.label){1,8}, at most 254 bytes.
 * Nothing provider-specific (no dropping of dots or +tags): that would join addresses
 * that are different mailboxes at most providers. */
static int
norm_email(const char *s, size_t n, char *out, size_t *o)
{
	size_t i, at = n, local = 0, label = 0, labels = 1;

	if (n > 254)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[*o + i] = c;
		if (at == n) {
			if (c == '@') {
				at = i;
				continue;
			}
			if (!is_email_local(c) || ++local > 64)
				return -1;
		} else if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			labels++;
		} else if ((c >= 'a' && c <= 'z') || is_digit(c) || c == '-') {
			if (++label > 63)
				return -1;
		} else
			return -1;
	}
	if (at == n || local == 0 || label == 0 || labels < 2 || labels > 9)
		return -1;
	*o += n;
	return 0;
}

static int
norm_account(const char *s, size_t n, char *out, size_t *o)
{
	if (n < 4 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || s[3] != ':')
		return -1;
	memcpy(out + *o, s, 4);
	*o += 4;
	return norm_digits(s + 4, n - 4, out, o, 6, 20);
}

static int
norm_device(const char *s, size_t n, char *out, size_t *o)
{
	size_t i;

	if (n < 8 || n > 128)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
		    c == '_' || c == ':' || c == '.' || c == '-'))
			return -1;
	}
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

/* The text inet_ntop prints, so that 2001:DB8:0:0::1 and 2001:db8::1 are one address;
 * an IPv4-mapped IPv6 address is the IPv4 host it maps. */
static int
norm_ip(const char *s, size_t n, char *out, size_t *o)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned char a[16];
	const char *p;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		p = inet_ntop(AF_INET, a, buf, sizeof(buf));
	else if (inet_pton(AF_INET6, buf, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a))
			p = inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
		else
			p = inet_ntop(AF_INET6, a, buf, sizeof(buf));
	} else
		p = NULL;
	if (p == NULL) {
		sodium_memzero(buf, sizeof(buf));
		return -1;
	}
	n = strlen(buf);
	memcpy(out + *o, buf, n);
	*o += n;
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(a, sizeof(a));
	return 0;
}

/* Names as printed on the e-KTP: capitals, one space between words. */
static int
norm_name(const char *s, size_t n, char *out, size_t *o)
{
	size_t i, start = *o;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (is_space(c)) {
			if (out[*o - 1] == ' ')
				continue;   /* trimmed: never the first character */
			c = ' ';
		} else if (!((c >= 'A' && c <= 'Z') || c == '.' || c == ',' || c == '\'' ||
		    c == '-'))
			return -1;
		if (*o == start && !(c >= 'A' && c <= 'Z'))
			return -1;
		if (*o - start == 100)
			return -1;
		out[(*o)++] = c;
	}
	return *o > start ? 0 : -1;
}

static int
norm_scan(const char *s, size_t n, char *out, size_t *o)
{
	size_t i;

	if (n != 64)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!(is_digit(c) || (c >= 'a' && c <= 'f')))
			return -1;
		out[(*o)++] = c;
	}
	return 0;
}

saksi_err
saksi_blind_normalise(saksi_blind_kind kind, const char *in, size_t len, char *out,
                      size_t outsz, size_t *outlen)
{
	size_t i, o = 0;
	int rc;

	if (outlen != NULL)
		*outlen = 0;
	if (in == NULL || out == NULL || outsz < SAKSI_BLIND_VALUE_MAX + 1 ||
	    kind <= SAKSI_BLIND_NONE || kind >= SAKSI_BLIND__COUNT)
		return SAKSI_ERR_INVAL;
	out[0] = '\0';
	if (len > SAKSI_BLIND_INPUT_MAX)
		return SAKSI_ERR_TOO_LARGE;
	/* Only printable ASCII and blanks: a NUL or a UTF-8 look-alike digit must never
	 * become a second spelling of one value. */
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x7f ||
		    ((unsigned char)in[i] < 0x20 && !is_space(in[i])))
			return SAKSI_ERR_FORMAT;
	while (len > 0 && is_space(in[0])) {
		in++;
		len--;
	}
	while (len > 0 && is_space(in[len - 1]))
		len--;
	if (len == 0)
		return SAKSI_ERR_FORMAT;
	switch (kind) {
	case SAKSI_BLIND_NIK:
		rc = norm_digits(in, len, out, &o, 16, 16);
		break;
	case SAKSI_BLIND_KPJ:
		rc = norm_digits(in, len, out, &o, 11, 11);
		break;
	case SAKSI_BLIND_NPWP:
		rc = norm_digits(in, len, out, &o, 15, 16);
		break;
	case SAKSI_BLIND_PHONE:
		rc = norm_phone(in, len, out, &o);
		break;
	case SAKSI_BLIND_EMAIL:
		rc = norm_email(in, len, out, &o);
		break;
	case SAKSI_BLIND_ACCOUNT:
		rc = norm_account(in, len, out, &o);
		break;
	case SAKSI_BLIND_DEVICE:
		rc = norm_device(in, len, out, &o);
		break;
	case SAKSI_BLIND_IP:
		rc = norm_ip(in, len, out, &o);
		break;
	case SAKSI_BLIND_NAME:
		rc = norm_name(in, len, out, &o);
		break;
	case SAKSI_BLIND_SCAN:
		rc = norm_scan(in, len, out, &o);
		break;
	default:
		return SAKSI_ERR_INVAL;
	}
	if (rc != 0 || o > SAKSI_BLIND_VALUE_MAX) {
		sodium_memzero(out, SAKSI_BLIND_VALUE_MAX + 1);
		return SAKSI_ERR_FORMAT;
	}
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return SAKSI_OK;
}

saksi_err
saksi_blind_token(const saksi_blind *b, saksi_blind_kind kind, const char *in, size_t len,
                  char token[SAKSI_BLIND_TOKEN_LEN + 1])
{
	crypto_generichash_state st;
	char norm[SAKSI_BLIND_VALUE_MAX + 1];
	uint8_t h[32];
	const char *kn;
	size_t n;
	saksi_err err;

	if (token != NULL)
		token[0] = '\0';
	if (b == NULL || token == NULL)
		return SAKSI_ERR_INVAL;
	if ((err = saksi_blind_normalise(kind, in, len, norm, sizeof(norm), &n)) != SAKSI_OK)
		return err;
	kn = kind_names[kind];
	crypto_generichash_init(&st, b->bl_key, SAKSI_BLIND_KEYLEN, sizeof(h));
	crypto_generichash_update(&st, (const uint8_t *)BLIND_DOMAIN, strlen(BLIND_DOMAIN));
	crypto_generichash_update(&st, (const uint8_t *)kn, strlen(kn));
	crypto_generichash_update(&st, (const uint8_t *)"\n", 1);
	crypto_generichash_update(&st, (const uint8_t *)norm, n);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2base64(token, SAKSI_BLIND_TOKEN_LEN + 1, h, sizeof(h),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(h, sizeof(h));
	return SAKSI_OK;
}

saksi_err
saksi_blind_account(const saksi_blind *b, const char *bank_code, const char *bank_account,
                    char token[SAKSI_BLIND_TOKEN_LEN + 1])
{
	char buf[SAKSI_BLIND_INPUT_MAX + 1];
	size_t lc, la;
	saksi_err err;

	if (token != NULL)
		token[0] = '\0';
	if (b == NULL || bank_code == NULL || bank_account == NULL || token == NULL)
		return SAKSI_ERR_INVAL;
	lc = strlen(bank_code);
	la = strlen(bank_account);
	if (lc + 1 + la > SAKSI_BLIND_INPUT_MAX)
		return SAKSI_ERR_TOO_LARGE;
	/* The bank code is a non-personal field on its own: no trimming or separators. */
	if (lc != 3 || !is_digit(bank_code[0]) || !is_digit(bank_code[1]) ||
	    !is_digit(bank_code[2]))
		return SAKSI_ERR_FORMAT;
	memcpy(buf, bank_code, lc);
	buf[lc] = ':';
	memcpy(buf + lc + 1, bank_account, la);
	err = saksi_blind_token(b, SAKSI_BLIND_ACCOUNT, buf, lc + 1 + la, token);
	sodium_memzero(buf, sizeof(buf));
	return err;
}

int
saksi_blind_is_token(const char *s)
{
	uint8_t h[32];
	size_t n;
	const char *end;

	if (s == NULL || strlen(s) != SAKSI_BLIND_TOKEN_LEN)
		return 0;
	/* libsodium refuses non-zero spare bits, so one digest has one spelling. */
	if (saksi_base642bin(h, sizeof(h), s, SAKSI_BLIND_TOKEN_LEN, NULL, &n, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	return n == sizeof(h) && end == s + SAKSI_BLIND_TOKEN_LEN;
}
