/*
 * blind_test.c: normalisation of every kind (good spellings to one canonical text, bad
 * ones refused), blind tokens against known answers computed outside libsodium (Python's
 * hashlib.blake2b) and against a direct crypto_generichash call, and the personal field
 * table against the schemas' x-personal members.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>

#include "blind.h"

static void
fixed_key(uint8_t key[32])
{
	int i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}

static saksi_blind *
new_blind(void)
{
	uint8_t key[32];
	saksi_blind *b;

	fixed_key(key);
	assert_int_equal(saksi_blind_new(key, &b), SAKSI_OK);
	sodium_memzero(key, sizeof(key));
	return b;
}

/* Known answers: key = 00 01 .. 1f, computed with Python's hashlib.blake2b(data,
 * digest_size=32, key=key) over "saksi/blind/v1\n" + kind + "\n" + canonical value. The
 * inputs are deliberately written the untidy way a form would give them. */
static const struct {
	saksi_blind_kind k;
	const char *in;
	const char *token;
} kat[] = {
	{ SAKSI_BLIND_NIK, " 3171 0141 0190 0001 ",
	  "WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8" },
	{ SAKSI_BLIND_KPJ, "123-4567-8901", "IMn-Po74u2D42t-U4w2-qDuvIckTjTs4E9c9_wiw54A" },
	{ SAKSI_BLIND_PHONE, "0812-3456-7890", "Usp2xaSwRcTiTKfCWMgt5WzsdEGV-JnUZAkB-8HylqA" },
	{ SAKSI_BLIND_PHONE, "+62 812 3456 7890",
	  "Usp2xaSwRcTiTKfCWMgt5WzsdEGV-JnUZAkB-8HylqA" },
	{ SAKSI_BLIND_EMAIL, "\tBudi.Santoso@Example.CO.ID\n",
	  "8HsR5gf48QKpRoicO472f1T-t6MdOg2-eUyzjRhkE50" },
	{ SAKSI_BLIND_ACCOUNT, "014:123-456-7890",
	  "lRLxWnsA74JWn3UfxmXOWGXEb3-eS9dFewwBQP-Gmxg" },
	{ SAKSI_BLIND_DEVICE, "  app-install-7f3a9c2e",
	  "Y3NTMtg5h3BwxnzBS9MLHuBFF800tNF33lMJlEoJUmg" },
	{ SAKSI_BLIND_IP, "2001:DB8:0:0:0:0:0:1", "uTG64TYQtITYOF9ohRwAi3Hl237wq2ZDlbTxgoHoYa4" },
	{ SAKSI_BLIND_IP, "::ffff:203.0.113.7", "_DU7GVGqQM5ZE1eJ0DnxMn05ywHb2JFGM-wYqovueFk" },
	{ SAKSI_BLIND_IP, "203.0.113.7", "_DU7GVGqQM5ZE1eJ0DnxMn05ywHb2JFGM-wYqovueFk" },
	{ SAKSI_BLIND_NPWP, "01.234.567.8-901.000",
	  "HnwjSwtr3eRobuZY0-y-GZSzhAl4DZu7jwNG4gUW-WE" },
	{ SAKSI_BLIND_NAME, "budi   Santoso", "fQrPoPgCb24uz1ARpvvYET-1xI7gpZjeTpmHIVL4Lp8" },
	{ SAKSI_BLIND_SCAN, "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB",
	  "bnUIVB0xIM6xKFG8E0hJnqsqZ2Oa1-cIQJe6U-nYmpg" },
};

static void
test_known_answers(void **state)
{
	saksi_blind *b = new_blind();
	char tok[SAKSI_BLIND_TOKEN_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		assert_int_equal(saksi_blind_token(b, kat[i].k, kat[i].in, strlen(kat[i].in), tok),
		    SAKSI_OK);
		assert_string_equal(tok, kat[i].token);
		assert_true(saksi_blind_is_token(tok));
	}
	assert_int_equal(saksi_blind_account(b, "014", "1234 567 890", tok), SAKSI_OK);
	assert_string_equal(tok, "lRLxWnsA74JWn3UfxmXOWGXEb3-eS9dFewwBQP-Gmxg");
	saksi_blind_free(b);
}

/* The construction of RULES.md 1.2 done by hand with one crypto_generichash call. */
static void
test_direct_libsodium(void **state)
{
	static const char *const vals[] = { "3171014101900001", "7371054512880002" };
	saksi_blind *b = new_blind();
	char tok[SAKSI_BLIND_TOKEN_LEN + 1], want[SAKSI_BLIND_TOKEN_LEN + 1];
	uint8_t key[32], h[32], msg[128];
	size_t i, n;

	(void)state;
	fixed_key(key);
	for (i = 0; i < 2; i++) {
		n = (size_t)snprintf((char *)msg, sizeof(msg), "saksi/blind/v1\nnik\n%s", vals[i]);
		assert_int_equal(crypto_generichash(h, 32, msg, n, key, 32), 0);
		sodium_bin2base64(want, sizeof(want), h, 32,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NIK, vals[i], 16, tok), SAKSI_OK);
		assert_string_equal(tok, want);
	}
	saksi_blind_free(b);
}

/* Equal digits of two kinds, or one value under two keys, give unrelated tokens. */
static void
test_domain_and_key_separation(void **state)
{
	saksi_blind *b = new_blind(), *b2;
	char t1[SAKSI_BLIND_TOKEN_LEN + 1], t2[SAKSI_BLIND_TOKEN_LEN + 1];
	uint8_t key[32];

	(void)state;
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NIK, "3171014101900001", 16, t1),
	    SAKSI_OK);
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NPWP, "3171014101900001", 16, t2),
	    SAKSI_OK);
	assert_string_not_equal(t1, t2);
	fixed_key(key);
	key[31] ^= 1;
	assert_int_equal(saksi_blind_new(key, &b2), SAKSI_OK);
	assert_int_equal(saksi_blind_token(b2, SAKSI_BLIND_NIK, "3171014101900001", 16, t2),
	    SAKSI_OK);
	assert_string_not_equal(t1, t2);
	/* name and account_holder share a kind, so a holder can be compared with a name. */
	assert_int_equal(saksi_blind_field_kind("name"), saksi_blind_field_kind("account_holder"));
	saksi_blind_free(b2);
	saksi_blind_free(b);
}

static void
norm_ok(saksi_blind_kind k, const char *in, const char *want)
{
	char out[SAKSI_BLIND_VALUE_MAX + 1];
	size_t n = 99;

	assert_int_equal(saksi_blind_normalise(k, in, strlen(in), out, sizeof(out), &n),
	    SAKSI_OK);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void
norm_bad(saksi_blind_kind k, const char *in)
{
	char out[SAKSI_BLIND_VALUE_MAX + 1];
	size_t n = 99;

	assert_int_equal(saksi_blind_normalise(k, in, strlen(in), out, sizeof(out), &n),
	    SAKSI_ERR_FORMAT);
	assert_int_equal(n, 0);
	assert_int_equal(out[0], '\0');
}

static void
test_normalise_digits(void **state)
{
	(void)state;
	norm_ok(SAKSI_BLIND_NIK, "3171014101900001", "3171014101900001");
	norm_ok(SAKSI_BLIND_NIK, "3171-0141-0190-0001", "3171014101900001");
	norm_ok(SAKSI_BLIND_NIK, "31.71.01.410190.0001", "3171014101900001");
	norm_bad(SAKSI_BLIND_NIK, "317101410190000");       /* 15 */
	norm_bad(SAKSI_BLIND_NIK, "31710141019000011");     /* 17 */
	norm_bad(SAKSI_BLIND_NIK, "3171  014101900001");    /* two separators */
	norm_bad(SAKSI_BLIND_NIK, "-3171014101900001");
	norm_bad(SAKSI_BLIND_NIK, "3171014101900001-");
	norm_bad(SAKSI_BLIND_NIK, "3171O14101900001");      /* letter O */
	norm_bad(SAKSI_BLIND_NIK, "");
	norm_bad(SAKSI_BLIND_NIK, "   ");
	norm_ok(SAKSI_BLIND_KPJ, " 12345678901 ", "12345678901");
	norm_bad(SAKSI_BLIND_KPJ, "1234567890");
	norm_bad(SAKSI_BLIND_KPJ, "+12345678901");
	norm_ok(SAKSI_BLIND_NPWP, "0123456789010000", "0123456789010000");
	norm_ok(SAKSI_BLIND_NPWP, "012345678901000", "012345678901000");
	norm_bad(SAKSI_BLIND_NPWP, "01234567890100");
	norm_bad(SAKSI_BLIND_NPWP, "01234567890100000");
}

static void
test_normalise_phone(void **state)
{
	(void)state;
	norm_ok(SAKSI_BLIND_PHONE, "+6281234567890", "+6281234567890");
	norm_ok(SAKSI_BLIND_PHONE, "6281234567890", "+6281234567890");
	norm_ok(SAKSI_BLIND_PHONE, "081234567890", "+6281234567890");
	norm_ok(SAKSI_BLIND_PHONE, "(0812) 3456.7890", "+6281234567890");
	norm_ok(SAKSI_BLIND_PHONE, "81234567890", "+6281234567890");
	norm_ok(SAKSI_BLIND_PHONE, "0812345678", "+62812345678");            /* 9-digit NSN */
	norm_ok(SAKSI_BLIND_PHONE, "0812345678901", "+62812345678901");      /* 12 */
	norm_bad(SAKSI_BLIND_PHONE, "081234567");                            /* 8 */
	norm_bad(SAKSI_BLIND_PHONE, "08123456789012");                       /* 13 */
	norm_bad(SAKSI_BLIND_PHONE, "+6521234567");                          /* Singapore */
	norm_bad(SAKSI_BLIND_PHONE, "+62 21 5551234");                       /* landline */
	norm_bad(SAKSI_BLIND_PHONE, "021 5551234");
	norm_bad(SAKSI_BLIND_PHONE, "0812+34567890");
	norm_bad(SAKSI_BLIND_PHONE, "0812/34567890");
	norm_bad(SAKSI_BLIND_PHONE, "+");
}

static void
test_normalise_email_name_scan(void **state)
{
	char big[300];

	(void)state;
	norm_ok(SAKSI_BLIND_EMAIL, "  SITI+claim@Mail.Example.ID ", "siti+claim@mail.example.id");
	norm_ok(SAKSI_BLIND_EMAIL, "a.b@c.d", "a.b@c.d");
	norm_bad(SAKSI_BLIND_EMAIL, "siti@localhost");
	norm_bad(SAKSI_BLIND_EMAIL, "siti@@example.id");
	norm_bad(SAKSI_BLIND_EMAIL, "@example.id");
	norm_bad(SAKSI_BLIND_EMAIL, "siti@example..id");
	norm_bad(SAKSI_BLIND_EMAIL, "siti@example.id.");
	norm_bad(SAKSI_BLIND_EMAIL, "si ti@example.id");
	norm_bad(SAKSI_BLIND_EMAIL, "siti@exa_mple.id");
	memset(big, 'a', 65);
	strcpy(big + 65, "@example.id");
	norm_bad(SAKSI_BLIND_EMAIL, big);                   /* local part of 65 */
	memset(big, 'a', 64);
	strcpy(big + 64, "@example.id");
	norm_ok(SAKSI_BLIND_EMAIL, big, big);
	norm_ok(SAKSI_BLIND_NAME, " siti  nur\tHALIZA ", "SITI NUR HALIZA");
	norm_ok(SAKSI_BLIND_NAME, "O'NEIL-PUTRA, S.E.", "O'NEIL-PUTRA, S.E.");
	norm_bad(SAKSI_BLIND_NAME, "-SITI");
	norm_bad(SAKSI_BLIND_NAME, "SITI 2");
	memset(big, 'A', 101);
	big[101] = '\0';
	norm_bad(SAKSI_BLIND_NAME, big);
	big[100] = '\0';
	norm_ok(SAKSI_BLIND_NAME, big, big);
	memset(big, 'F', 64);
	big[64] = '\0';
	memset(big + 100, 'f', 64);
	big[164] = '\0';
	norm_ok(SAKSI_BLIND_SCAN, big, big + 100);
	big[3] = 'g';
	norm_bad(SAKSI_BLIND_SCAN, big);
	norm_bad(SAKSI_BLIND_SCAN, "abcd");
}

static void
test_normalise_account_device_ip(void **state)
{
	char big[200];

	(void)state;
	norm_ok(SAKSI_BLIND_ACCOUNT, "008:1230-0045-6789", "008:123000456789");
	norm_ok(SAKSI_BLIND_ACCOUNT, "002:123456", "002:123456");
	norm_bad(SAKSI_BLIND_ACCOUNT, "002:12345");             /* 5 digits */
	norm_bad(SAKSI_BLIND_ACCOUNT, "002:123456789012345678901");
	norm_bad(SAKSI_BLIND_ACCOUNT, "02:1234567");
	norm_bad(SAKSI_BLIND_ACCOUNT, "0021234567");
	norm_bad(SAKSI_BLIND_ACCOUNT, "002: 1234567");
	norm_bad(SAKSI_BLIND_ACCOUNT, "abc:1234567");
	norm_ok(SAKSI_BLIND_DEVICE, " web-5f2c9e71 ", "web-5f2c9e71");
	norm_ok(SAKSI_BLIND_DEVICE, "App:Install.ID_1", "App:Install.ID_1");  /* case kept */
	norm_bad(SAKSI_BLIND_DEVICE, "short");
	norm_bad(SAKSI_BLIND_DEVICE, "has space in it");
	memset(big, 'x', 129);
	big[129] = '\0';
	norm_bad(SAKSI_BLIND_DEVICE, big);
	big[128] = '\0';
	norm_ok(SAKSI_BLIND_DEVICE, big, big);
	norm_ok(SAKSI_BLIND_IP, " 198.51.100.23 ", "198.51.100.23");
	norm_ok(SAKSI_BLIND_IP, "2001:0DB8:0000:0000:0000:ff00:0042:8329",
	    "2001:db8::ff00:42:8329");
	norm_ok(SAKSI_BLIND_IP, "2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1");
	norm_ok(SAKSI_BLIND_IP, "::FFFF:198.51.100.23", "198.51.100.23");
	norm_ok(SAKSI_BLIND_IP, "::1", "::1");
	norm_bad(SAKSI_BLIND_IP, "198.51.100");
	norm_bad(SAKSI_BLIND_IP, "198.51.100.256");
	norm_bad(SAKSI_BLIND_IP, "198.051.100.23");           /* octal-looking */
	norm_bad(SAKSI_BLIND_IP, "fe80::1%eth0");
	norm_bad(SAKSI_BLIND_IP, "2001:db8::1::2");
	norm_bad(SAKSI_BLIND_IP, "2001:db8:0:0:0:0:0:0:1:2:3:4:5:6:7:8:9:10:11:12:13");
	norm_bad(SAKSI_BLIND_IP, "example.id");
}

/* NUL, DEL, bytes of UTF-8 (a full-width digit), too long, bad arguments. */
static void
test_hostile_and_bad_args(void **state)
{
	saksi_blind *b = new_blind();
	char out[SAKSI_BLIND_VALUE_MAX + 1], tok[SAKSI_BLIND_TOKEN_LEN + 1];
	char big[SAKSI_BLIND_INPUT_MAX + 2];
	uint8_t key[32] = { 0 };
	saksi_blind *nb = (saksi_blind *)1;

	(void)state;
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, "31710141\0001900001", 16, out,
	    sizeof(out), NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_DEVICE, "abcdefgh\x7f", 9, out,
	    sizeof(out), NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, "317101410190000\xef\xbc\x91",
	    18, out, sizeof(out), NULL), SAKSI_ERR_FORMAT);
	memset(big, '1', sizeof(big));
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, big, SAKSI_BLIND_INPUT_MAX + 1,
	    out, sizeof(out), NULL), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, big, SAKSI_BLIND_INPUT_MAX,
	    out, sizeof(out), NULL), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NONE, "1", 1, out, sizeof(out), NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND__COUNT, "1", 1, out, sizeof(out),
	    NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, NULL, 0, out, sizeof(out), NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, "1", 1, NULL, 0, NULL),
	    SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_normalise(SAKSI_BLIND_NIK, "1", 1, out, 100, NULL),
	    SAKSI_ERR_INVAL);
	strcpy(tok, "x");
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NIK, "12", 2, tok), SAKSI_ERR_FORMAT);
	assert_string_equal(tok, "");
	assert_int_equal(saksi_blind_token(NULL, SAKSI_BLIND_NIK, "12", 2, tok), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_token(b, SAKSI_BLIND_NIK, "12", 2, NULL), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_blind_account(b, "14", "1234567", tok), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_account(b, " 014", "1234567", tok), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_account(b, "01a", "1234567", tok), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_account(b, "014", "12345", tok), SAKSI_ERR_FORMAT);
	assert_int_equal(saksi_blind_account(b, NULL, "12345", tok), SAKSI_ERR_INVAL);
	big[SAKSI_BLIND_INPUT_MAX + 1] = '\0';
	assert_int_equal(saksi_blind_account(b, "014", big, tok), SAKSI_ERR_TOO_LARGE);
	assert_int_equal(saksi_blind_new(NULL, &nb), SAKSI_ERR_INVAL);
	assert_null(nb);
	assert_int_equal(saksi_blind_new(key, NULL), SAKSI_ERR_INVAL);
	saksi_blind_free(NULL);
	saksi_blind_free(b);
}

static void
test_is_token(void **state)
{
	(void)state;
	assert_true(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8"));
	/* Spare bits set: the same digest spelt differently is refused. */
	assert_false(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz9"));
	assert_false(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz"));
	assert_false(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz8A"));
	assert_false(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AE+8"));
	assert_false(saksi_blind_is_token("WpryLLlsNWUn7KMXLAMbcEz3PVYYsUpwmE8J9m7AEz="));
	assert_false(saksi_blind_is_token("3171014101900001"));
	assert_false(saksi_blind_is_token(""));
	assert_false(saksi_blind_is_token(NULL));
}

static void
test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(saksi_blind_kind_name(SAKSI_BLIND_NIK), "nik");
	assert_string_equal(saksi_blind_kind_name(SAKSI_BLIND_ACCOUNT), "account");
	assert_string_equal(saksi_blind_kind_name(SAKSI_BLIND_SCAN), "scan");
	assert_null(saksi_blind_kind_name(SAKSI_BLIND_NONE));
	assert_null(saksi_blind_kind_name(SAKSI_BLIND__COUNT));
	assert_int_equal(saksi_blind_field_kind("bank_account"), SAKSI_BLIND_ACCOUNT);
	assert_int_equal(saksi_blind_field_kind("device_id"), SAKSI_BLIND_DEVICE);
	assert_int_equal(saksi_blind_field_kind("amount"), SAKSI_BLIND_NONE);
	assert_int_equal(saksi_blind_field_kind("officer_id"), SAKSI_BLIND_NONE);
	assert_int_equal(saksi_blind_field_kind(NULL), SAKSI_BLIND_NONE);
	assert_true(saksi_blind_field_personal("amount"));
	assert_false(saksi_blind_field_personal("officer_id"));
	assert_false(saksi_blind_field_personal(NULL));
}

/* Every x-personal member of every schema is known here, and every name known here is
 * personal in some schema: a new personal field cannot slip past the detectors in clear. */
static void
test_table_matches_schemas(void **state)
{
	static const char *const known[] = { "nik", "kpj", "phone", "email", "bank_account",
	    "device_id", "ip", "npwp", "name", "account_holder", "scan_sha256", "amount",
	    "balance" };
	int seen[sizeof(known) / sizeof(known[0])] = { 0 };
	DIR *d = opendir(SAKSI_SOURCE_SCHEMA_DIR);
	struct dirent *de;
	size_t i, files = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char p[1024];
		json_t *root, *props, *v;
		const char *name;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", SAKSI_SOURCE_SCHEMA_DIR, de->d_name);
		root = json_load_file(p, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(root);
		props = json_object_get(root, "properties");
		json_object_foreach(props, name, v) {
			int personal = json_is_true(json_object_get(v, "x-personal"));

			assert_int_equal(saksi_blind_field_personal(name), personal);
			for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (strcmp(known[i], name) == 0)
					seen[i] = 1;
		}
		json_decref(root);
		files++;
	}
	closedir(d);
	assert_true(files >= 20);
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_true(saksi_blind_field_personal(known[i]));
		assert_int_equal(seen[i], 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_direct_libsodium),
		cmocka_unit_test(test_domain_and_key_separation),
		cmocka_unit_test(test_normalise_digits),
		cmocka_unit_test(test_normalise_phone),
		cmocka_unit_test(test_normalise_email_name_scan),
		cmocka_unit_test(test_normalise_account_device_ip),
		cmocka_unit_test(test_hostile_and_bad_args),
		cmocka_unit_test(test_is_token),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_table_matches_schemas),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
