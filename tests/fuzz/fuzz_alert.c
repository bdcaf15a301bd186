/*
 * fuzz_alert.c: libFuzzer target for the alert leaf body (FORMATS.md 4, kinds 1-5), which
 * saksi verify and saksi alerts read from a ledger that may have been tampered with.
 * Checks: saksi_alert_leaf_parse accepts exactly what a reference reading of FORMATS.md 4
 * (written here from the table, not from lib/verify.c) accepts; a parsed body encodes
 * back to the input byte for byte; encode refuses a buffer one byte short. Byte 0 of the
 * input picks the direction: even, the rest is a body; odd, the rest fills a saksi_alert
 * field by field, which encode must take exactly when the reference says its body is
 * valid, and whose body parses back to the same fields. Never a crash on either side.
 */
#include "fuzz.h"
#include "rules.h"
#include "verify.h"

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static int
ascii(const uint8_t *p, size_t n, uint8_t lo)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] < lo || p[i] > 0x7e)
			return 0;
	return 1;
}

/* The reference: 1 if b is a valid alert body by FORMATS.md 4 alone. */
static int
ref_valid(const uint8_t *b, size_t len)
{
	size_t rlen, glen, off, n, i;
	uint64_t kind, sev, extra, trigger;

	if (len < 11)
		return 0;
	kind = b[8];
	sev = b[9];
	rlen = b[10];
	if (get64(b) == 0 || kind < 1 || kind > 5 || sev < 1 || sev > 4)
		return 0;
	if (rlen < 1 || rlen > 53 || len < 11 + rlen + 2 || !ascii(b + 11, rlen, 0x21))
		return 0;
	off = 11 + rlen;
	glen = (size_t)b[off] << 8 | b[off + 1];
	off += 2;
	if (glen < 1 || glen > 1536 || len < off + glen + 53 || !ascii(b + off, glen, 0x20))
		return 0;
	off += glen;
	if (get64(b + off) > get64(b + off + 8))  /* first_ms <= last_ms */
		return 0;
	extra = get64(b + off + 32);
	trigger = get64(b + off + 40);
	n = b[off + 52];
	off += 53;
	if (n > 64 || len - off != 8 * n)
		return 0;
	for (i = 1; i < n; i++)
		if (get64(b + off + 8 * (i - 1)) >= get64(b + off + 8 * i))
			return 0;
	/* Kind 4, a re-raise: n = 1, trigger = evidence[0], extra 1..3, at least medium. */
	if (kind == 4 && (n != 1 || trigger != get64(b + off) || extra < 1 || extra > 3 ||
	                  sev < 2))
		return 0;
	return 1;
}

static void
check_body(const uint8_t *b, size_t len)
{
	static uint8_t out[SAKSI_ALERT_LEAF_MAX];
	saksi_alert a, a2;
	size_t w = 0;
	saksi_err e;
	int want = ref_valid(b, len);

	e = saksi_alert_leaf_parse(b, len, &a);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_FORMAT, "parse gave %d", e);
	FUZZ_CHECK((e == SAKSI_OK) == want, "parse %d, FORMATS.md 4 says %s", e,
	           want ? "valid" : "invalid");
	if (e != SAKSI_OK)
		return;
	FUZZ_CHECK(len <= SAKSI_ALERT_LEAF_MAX, "a valid body of %zu bytes", len);
	FUZZ_CHECK(saksi_alert_leaf_encode(&a, out, sizeof out, &w) == SAKSI_OK && w == len &&
	               memcmp(out, b, len) == 0,
	           "a parsed body does not encode back to itself");
	FUZZ_CHECK(saksi_alert_leaf_encode(&a, out, len - 1, &w) == SAKSI_ERR_INVAL,
	           "encode into a buffer one byte short");
	FUZZ_CHECK(saksi_alert_leaf_parse(out, len, &a2) == SAKSI_OK &&
	               memcmp(&a, &a2, sizeof a) == 0,
	           "the re-encoded body parses to other fields");
}

/* Fills a from the input, field by field; strings get the length the input says. */
static void
fill(saksi_alert *a, const uint8_t *d, size_t n)
{
	size_t i = 0, j, k, rl, gl;

#define TAKE(x)                                                                       \
	do {                                                                          \
		for (j = 0; j < sizeof(x); j++)                                       \
			((uint8_t *)&(x))[j] = i < n ? d[i++] : 0;                    \
	} while (0)
	memset(a, 0, sizeof *a);
	TAKE(a->al_id);
	a->al_kind = i < n ? (int8_t)d[i++] : 0;      /* signed: negative kinds too */
	a->al_severity = i < n ? (int8_t)d[i++] : 0;
	rl = i < n ? d[i++] % sizeof a->al_rule : 0;  /* up to 53 chars + 1 without NUL */
	for (k = 0; k <= rl && k < sizeof a->al_rule; k++)
		a->al_rule[k] = k < rl && i < n ? (char)d[i++] : '\0';
	if (rl == sizeof a->al_rule - 1 && i < n && (d[i++] & 1))
		a->al_rule[rl] = 'x';                 /* no NUL at all */
	gl = i + 1 < n ? ((size_t)d[i] << 8 | d[i + 1]) % (sizeof a->al_group + 1) : 0;
	i += 2;
	for (k = 0; k < gl && k < sizeof a->al_group; k++)
		a->al_group[k] = i < n ? (char)d[i++] : 'g';
	TAKE(a->al_first_ms);
	TAKE(a->al_last_ms);
	TAKE(a->al_value);
	TAKE(a->al_threshold);
	TAKE(a->al_extra);
	TAKE(a->al_trigger);
	TAKE(a->al_total);
	TAKE(a->al_nevidence);
	if (i < n && (d[i++] & 1))
		a->al_nevidence %= SAKSI_ALERT_EVIDENCE_MAX + 2;
	for (k = 0; k < SAKSI_ALERT_EVIDENCE_MAX; k++)
		TAKE(a->al_evidence[k]);
#undef TAKE
}

static void
check_struct(const uint8_t *d, size_t n)
{
	static uint8_t out[SAKSI_ALERT_LEAF_MAX];
	saksi_alert a, b;
	size_t w = 0;
	saksi_err e;
	uint32_t k;

	fill(&a, d, n);
	e = saksi_alert_leaf_encode(&a, out, sizeof out, &w);
	FUZZ_CHECK(e == SAKSI_OK || e == SAKSI_ERR_INVAL, "encode gave %d", e);
	if (e != SAKSI_OK)
		return;
	FUZZ_CHECK(w <= sizeof out && ref_valid(out, w),
	           "encode wrote a body FORMATS.md 4 does not allow");
	FUZZ_CHECK(saksi_alert_leaf_parse(out, w, &b) == SAKSI_OK, "encoded body refused");
	FUZZ_CHECK(b.al_id == a.al_id && b.al_kind == a.al_kind &&
	               b.al_severity == a.al_severity && strcmp(b.al_rule, a.al_rule) == 0 &&
	               strcmp(b.al_group, a.al_group) == 0 && b.al_first_ms == a.al_first_ms &&
	               b.al_last_ms == a.al_last_ms && b.al_value == a.al_value &&
	               b.al_threshold == a.al_threshold && b.al_extra == a.al_extra &&
	               b.al_trigger == a.al_trigger && b.al_total == a.al_total &&
	               b.al_nevidence == a.al_nevidence,
	           "encode then parse changed a field");
	for (k = 0; k < a.al_nevidence; k++)
		FUZZ_CHECK(b.al_evidence[k] == a.al_evidence[k], "evidence %u changed", k);
	check_body(out, w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size < 1)
		return 0;
	/* An exact-size copy, so that ASan sees any read past the body's end. */
	if ((copy = (uint8_t *)fuzz_copy(data + 1, size - 1, 0)) == NULL)
		return 0;
	if (data[0] & 1)
		check_struct(copy, size - 1);
	else
		check_body(copy, size - 1);
	free(copy);
	return 0;
}
