/*
 * subject_test.c: the data subject's phrase table is complete (every event type in
 * schemas/events has a sentence in both languages, every enumerated and boolean value a
 * phrase, every personal field a label, every default rule plain words), every example
 * payload renders to a whole sentence, withheld values stay out, and the report renders
 * as self-contained HTML (escaped, no external resource) and as text, with its errors.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "rules.h"
#include "subject.h"

#define EVENTS_DIR SAKSI_SOURCE_DIR "/schemas/events"
#define CLEAR_DIR SAKSI_SOURCE_DIR "/schemas/examples/clear"
#define RULES_FILE SAKSI_SOURCE_DIR "/schemas/rules/default.rules"

static json_t *
load(const char *dir, const char *type)
{
	char path[512];
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s.json", dir, type);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		fail_msg("%s: %s", path, jerr.text);
	return j;
}

/* The event types of schemas/events, sorted. */
static size_t
schema_types(char types[64][80])
{
	DIR *d = opendir(EVENTS_DIR);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		assert_true(n < 64 && l - 5 < 80);
		snprintf(types[n++], 80, "%.*s", (int)(l - 5), de->d_name);
	}
	closedir(d);
	assert_true(n >= 24);
	return n;
}

/* Every {field} of template t is a property of schema props; brackets balance. */
static void
check_template(const char *type, const char *t, const json_t *props)
{
	int depth = 0;

	for (const char *s = t; *s != '\0'; s++) {
		if (*s == '[')
			depth++;
		if (*s == ']')
			depth--;
		if (depth < 0 || depth > 1)
			fail_msg("%s: unbalanced [ ] in \"%s\"", type, t);
		if (*s == '{') {
			const char *end = strchr(s, '}');
			char field[64];

			assert_non_null(end);
			snprintf(field, sizeof(field), "%.*s", (int)(end - s - 1), s + 1);
			if (json_object_get(props, field) == NULL)
				fail_msg("%s: template names {%s}, which the schema lacks", type, field);
			s = end;
		}
	}
	assert_int_equal(depth, 0);
}

static void
test_every_type_both_languages(void **state)
{
	char types[64][80];
	size_t n = schema_types(types), nt;
	const char *const *table = saksi_subject_types(&nt);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		json_t *sch = load(EVENTS_DIR, types[i]);
		json_t *props = json_object_get(sch, "properties");

		for (int l = 0; l < SAKSI_LANG__COUNT; l++) {
			const char *t = saksi_subject_template((saksi_lang)l, types[i]);

			if (t == NULL)
				fail_msg("event type %s has no sentence in %s", types[i],
				    l == SAKSI_LANG_ID ? "Bahasa Indonesia" : "English");
			check_template(types[i], t, props);
		}
		json_decref(sch);
	}
	/* And the table names no type the schemas lack. */
	for (size_t k = 0; k < nt; k++) {
		size_t i;

		for (i = 0; i < n && strcmp(types[i], table[k]) != 0; i++)
			;
		if (i == n)
			fail_msg("the sentence table has %s, which schemas/events lacks", table[k]);
		assert_non_null(saksi_subject_template(SAKSI_LANG_ID, table[k]));
	}
	assert_int_equal(nt, n);
	assert_null(saksi_subject_template(SAKSI_LANG_EN, "no.such.type"));
	assert_null(saksi_subject_template((saksi_lang)7, "claim.approved"));
	assert_null(saksi_subject_template(SAKSI_LANG_EN, NULL));
}

/* Every enumerated value, every boolean, every personal field of every schema. */
static void
test_every_value_both_languages(void **state)
{
	char types[64][80];
	size_t n = schema_types(types), checked = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		json_t *sch = load(EVENTS_DIR, types[i]);
		json_t *props = json_object_get(sch, "properties"), *p;
		const char *field;

		json_object_foreach(props, field, p) {
			json_t *en = json_object_get(p, "enum"), *v;
			const char *ty = json_string_value(json_object_get(p, "type"));
			size_t k;

			if (en == NULL && json_object_get(p, "items") != NULL)
				en = json_object_get(json_object_get(p, "items"), "enum");
			json_array_foreach(en, k, v) {
				for (int l = 0; l < SAKSI_LANG__COUNT; l++)
					if (saksi_subject_phrase((saksi_lang)l, field,
					    json_string_value(v)) == NULL)
						fail_msg("%s: %s = %s has no phrase in %s", types[i],
						    field, json_string_value(v), l == 0 ? "id" : "en");
				checked++;
			}
			if (ty != NULL && strcmp(ty, "boolean") == 0)
				for (int l = 0; l < SAKSI_LANG__COUNT; l++) {
					if (saksi_subject_phrase((saksi_lang)l, field, "true") == NULL ||
					    saksi_subject_phrase((saksi_lang)l, field, "false") == NULL)
						fail_msg("%s: boolean %s has no phrases", types[i], field);
					checked++;
				}
			if (json_is_true(json_object_get(p, "x-personal")))
				for (int l = 0; l < SAKSI_LANG__COUNT; l++)
					if (saksi_subject_label((saksi_lang)l, field) == NULL)
						fail_msg("%s: personal %s has no label", types[i], field);
		}
		json_decref(sch);
	}
	print_message("%zu enumerated and boolean values have phrases in both languages\n",
	    checked);
	assert_true(checked > 200);
	assert_null(saksi_subject_phrase(SAKSI_LANG_ID, "service", "no_such"));
	assert_null(saksi_subject_phrase(SAKSI_LANG_ID, NULL, "x"));
	assert_null(saksi_subject_label(SAKSI_LANG_EN, "branch"));
	assert_string_equal(saksi_subject_phrase(SAKSI_LANG_EN, "documents", "ktp"),
	    saksi_subject_phrase(SAKSI_LANG_EN, "document", "ktp"));
}

static void
test_every_rule_plain(void **state)
{
	saksi_rules *r;
	char err[256];
	int known;

	(void)state;
	assert_int_equal(saksi_rules_load(RULES_FILE, EVENTS_DIR, &r, err, sizeof(err)),
	    SAKSI_OK);
	for (size_t i = 0; i < saksi_rules_count(r); i++)
		for (int l = 0; l < SAKSI_LANG__COUNT; l++) {
			const char *p = saksi_subject_rule((saksi_lang)l, saksi_rules_id_at(r, i),
			    &known);

			if (!known)
				fail_msg("rule %s has no plain words in %s", saksi_rules_id_at(r, i),
				    l == 0 ? "id" : "en");
			/* Plain words, not the id again. */
			assert_null(strchr(p, '_'));
		}
	saksi_rules_free(r);
	assert_non_null(saksi_subject_rule(SAKSI_LANG_EN, "join:booking", &known));
	assert_false(known);
	assert_non_null(saksi_subject_rule(SAKSI_LANG_ID, NULL, NULL));
}

/* Every example payload gives a whole sentence, both languages, nothing left unfilled. */
static void
test_examples_render(void **state)
{
	char types[64][80];
	size_t n = schema_types(types);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		json_t *p = load(CLEAR_DIR, types[i]);

		for (int l = 0; l < SAKSI_LANG__COUNT; l++) {
			char *s;

			assert_int_equal(saksi_subject_sentence((saksi_lang)l, types[i],
			    1772504040000ull, 8 * 60, "WITA", p, &s), SAKSI_OK);
			if (strpbrk(s, "{}[]") != NULL || strstr(s, " - ") != NULL ||
			    strstr(s, "_") != NULL)
				fail_msg("%s (%s) is not plain: %s", types[i], l ? "en" : "id", s);
			assert_true(s[strlen(s) - 1] == '.');
			if (i == 0 || strcmp(types[i], "queue.booking.created") == 0)
				print_message("%s\n", s);
			free(s);
		}
		json_decref(p);
	}
}

static void
test_sentence_exact(void **state)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}",
	    "branch", "KC-MAKASSAR", "channel", "app", "booking_id", "B-0001", "service",
	    "jht_claim", "slot_date", "2026-03-05", "slot_hour", 10, "nik",
	    "7371054507880003", "kpj", "18045213577", "name", "SITI");
	char *s;

	(void)state;
	/* 2026-03-03 01:14 UTC is 09:14 WITA. */
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "queue.booking.created",
	    1772500440000ull, 480, "WITA", p, &s), SAKSI_OK);
	assert_string_equal(s, "On 3 March 2026 at 09:14 WITA, at branch KC-MAKASSAR, a "
	    "queue slot for the JHT claim service on 5 March 2026 at 10:00 was booked for you "
	    "through the mobile app (booking B-0001).");
	free(s);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_ID, "queue.booking.created",
	    1772500440000ull, 480, "WITA", p, &s), SAKSI_OK);
	assert_string_equal(s, "Pada 3 Maret 2026 pukul 09.14 WITA, di kantor cabang "
	    "KC-MAKASSAR, slot antrean layanan klaim JHT pada 5 Maret 2026 pukul 10.00 dipesan "
	    "atas nama Anda melalui aplikasi seluler (pemesanan B-0001).");
	free(s);
	json_decref(p);

	/* A withheld amount (a digest) leaves its segment out; a shown one is rupiah. */
	p = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:{s:s}, s:s, s:i}", "branch",
	    "KP-PUSAT", "claim_id", "C-77", "claim_kind", "layoff", "officer_id", "OF-1",
	    "amount", "_sd", "x", "bank_code", "002", "bank_account", "_sd", "y",
	    "transfer_ref", "TR-1", "attempt", 1);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.payment.sent",
	    1772500440000ull, 0, "UTC", p, &s), SAKSI_OK);
	assert_string_equal(s, "On 3 March 2026 at 01:14 UTC, through the head office's "
	    "service (KP-PUSAT), the benefit of your claim C-77 was transferred to bank 002 "
	    "(transfer reference TR-1, attempt 1).");
	free(s);
	json_object_set_new(p, "amount", json_string("12500000"));
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_ID, "claim.payment.sent",
	    1772500440000ull, 420, "WIB", p, &s), SAKSI_OK);
	assert_non_null(strstr(s, "sebesar Rp 12.500.000 ditransfer"));
	free(s);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.payment.sent",
	    1772500440000ull, 420, "WIB", p, &s), SAKSI_OK);
	assert_non_null(strstr(s, "of Rp 12,500,000 was"));
	free(s);

	/* Errors. */
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "no.such", 0, 0, "UTC", p, &s),
	    SAKSI_ERR_NOT_FOUND);
	assert_null(s);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.approved", 0, 0, "UTC",
	    NULL, &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.approved", 0, 0, NULL,
	    p, &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_sentence((saksi_lang)2, "claim.approved", 0, 0, "UTC",
	    p, &s), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.approved",
	    UINT64_MAX, 0, "UTC", p, &s), SAKSI_ERR_RANGE);
	json_decref(p);
	{
		json_t *arr = json_array();

		assert_int_equal(saksi_subject_sentence(SAKSI_LANG_EN, "claim.approved", 0, 0,
		    "UTC", arr, &s), SAKSI_ERR_INVAL);
		json_decref(arr);
	}
}

static void
test_lang_zone_when(void **state)
{
	saksi_lang l;
	int off;
	const char *z;
	char buf[96];

	(void)state;
	assert_int_equal(saksi_subject_lang("en", &l), SAKSI_OK);
	assert_int_equal(l, SAKSI_LANG_EN);
	assert_int_equal(saksi_subject_lang("id", &l), SAKSI_OK);
	assert_int_equal(l, SAKSI_LANG_ID);
	assert_int_equal(saksi_subject_lang("fr", &l), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_lang(NULL, &l), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_zone("WIT", &off, &z), SAKSI_OK);
	assert_int_equal(off, 540);
	assert_string_equal(z, "WIT");
	assert_int_equal(saksi_subject_zone("CET", &off, &z), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_when(SAKSI_LANG_ID, 0, 420, "WIB", buf, sizeof(buf)),
	    SAKSI_OK);
	assert_string_equal(buf, "1 Januari 1970 pukul 07.00 WIB");
	assert_int_equal(saksi_subject_when(SAKSI_LANG_EN, 1798761599000ull, 0, "UTC", buf,
	    sizeof(buf)), SAKSI_OK);
	assert_string_equal(buf, "31 December 2026 at 23:59 UTC");
	assert_int_equal(saksi_subject_when(SAKSI_LANG_EN, 0, 0, "UTC", buf, 10),
	    SAKSI_ERR_INVAL);
}

/* A small report with hostile text in every string the caller hands over. */
static void
fill_report(saksi_subject_report *r, saksi_subject_event *ev, json_t **payloads,
            saksi_subject_access *ac, saksi_subject_alert *al)
{
	memset(r, 0, sizeof(*r));
	payloads[0] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s}",
	    "branch", "KC-MAKASSAR", "channel", "web", "booking_id", "B-<script>",
	    "service", "jht_claim", "slot_date", "2026-03-05", "slot_hour", 10, "nik",
	    "7371054507880003", "name", "SITI <b>R</b>", "phone", "+6281242317765");
	payloads[1] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:b, s:s, s:s, s:{s:s}}",
	    "branch", "KC-MAKASSAR", "channel", "kiosk", "queue_date", "2026-03-05",
	    "service", "jht_claim", "ticket", "A-042", "ticket_seq", 42, "booking_id",
	    "B-<script>", "walk_in", 0, "id_method", "visual", "id_result", "mismatch",
	    "nik", "_sd", "abc");
	memset(ev, 0, 2 * sizeof(*ev));
	ev[0].se_index = 5;
	ev[0].se_time_ms = 1772500440000ull;
	ev[0].se_type = "queue.booking.created";
	ev[0].se_payload = payloads[0];
	ev[0].se_state = SAKSI_SUBJ_SHOWN;
	ev[1].se_index = 9;
	ev[1].se_time_ms = 1772600440000ull;
	ev[1].se_type = "queue.checkin";
	ev[1].se_payload = payloads[1];
	ev[1].se_state = SAKSI_SUBJ_WITHHELD;
	memset(ac, 0, sizeof(*ac));
	ac->sa_index = 11;
	ac->sa_time_ms = 1772700440000ull;
	ac->sa_who = "spi-1 & co";
	ac->sa_command = "query";
	ac->sa_how = SAKSI_SUBJ_BY_ID;
	ac->sa_revealed = 1;
	ac->sa_results = 2;
	ac->sa_case_ref = "SPI/2026/1";
	memset(al, 0, sizeof(*al));
	al->sl_index = 10;
	al->sl_alert_id = 3;
	al->sl_time_ms = 1772600440000ull;
	al->sl_rule = "phone_many_nik";
	al->sl_severity = 3;
	al->sl_yours = 1;
	r->sr_lang = SAKSI_LANG_EN;
	r->sr_offset_min = 480;
	r->sr_zone = "WITA";
	r->sr_now_ms = 1772800440000ull;
	r->sr_subject = "NIK 7371********0003";
	r->sr_case_ref = "REQ-1";
	r->sr_controller = "saksi.example/log";
	r->sr_size = 12;
	r->sr_root_b64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
	r->sr_checkpoint = "saksi.example/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	    "\n\n\xe2\x80\x94 saksi.example/log AAAA\n";
	r->sr_access_index = 12;
	r->sr_events = ev;
	r->sr_nevents = 2;
	r->sr_access = ac;
	r->sr_naccess = 1;
	r->sr_alerts = al;
	r->sr_nalerts = 1;
}

/* A branch's zone from its region code: the province decides. */
static void
test_zone_of_region(void **state)
{
	static const struct { const char *region; const char *zone; int off; } ok[] = {
		{ "7371", "WITA", 480 },   /* Makassar */
		{ "73", "WITA", 480 },
		{ "3171", "WIB", 420 },    /* Jakarta Selatan */
		{ "1275", "WIB", 420 },    /* Medan */
		{ "5171", "WITA", 480 },   /* Denpasar */
		{ "6171", "WIB", 420 },    /* Pontianak: West Kalimantan keeps WIB */
		{ "6471", "WITA", 480 },   /* Balikpapan */
		{ "8171", "WIT", 540 },    /* Ambon */
		{ "9171", "WIT", 540 },    /* Jayapura */
	};
	const char *z = NULL;
	int off = -1;
	saksi_subject_report r;
	saksi_subject_event ev[2];
	saksi_subject_access ac;
	saksi_subject_alert al;
	json_t *p[2];
	char *doc;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(saksi_subject_zone_of_region(ok[i].region, &off, &z), SAKSI_OK);
		assert_string_equal(z, ok[i].zone);
		assert_int_equal(off, ok[i].off);
	}
	assert_int_equal(saksi_subject_zone_of_region("99", &off, &z), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_subject_zone_of_region("41", &off, &z), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_subject_zone_of_region("7", &off, &z), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_subject_zone_of_region("", &off, &z), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_subject_zone_of_region("x1", &off, &z), SAKSI_ERR_NOT_FOUND);
	assert_int_equal(saksi_subject_zone_of_region(NULL, &off, &z), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_zone_of_region("73", NULL, &z), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_subject_zone_of_region("73", &off, NULL), SAKSI_ERR_INVAL);

	/* An event with a zone of its own is told in it; one without, in the report's. */
	fill_report(&r, ev, p, &ac, &al);
	r.sr_zone = "WIB";
	r.sr_offset_min = 420;
	ev[0].se_zone = "WIT";
	ev[0].se_offset_min = 540;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_TEXT, &doc, &len), SAKSI_OK);
	/* 1772500440000 ms is 2026-03-03 01:14 UTC: 10:14 WIT, and ev[1] 1772600440000 is
	 * 2026-03-04 05:00:40 UTC: 12:00 WIB. */
	assert_non_null(strstr(doc, "10:14 WIT,"));
	assert_non_null(strstr(doc, "12:00 WIB,"));
	assert_null(strstr(doc, "09:14 WITA"));
	free(doc);
	json_decref(p[0]);
	json_decref(p[1]);
}

static void
test_render_html(void **state)
{
	saksi_subject_report r;
	saksi_subject_event ev[2];
	saksi_subject_access ac;
	saksi_subject_alert al;
	json_t *p[2];
	char *doc;
	size_t len;

	(void)state;
	fill_report(&r, ev, p, &ac, &al);
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_HTML, &doc, &len), SAKSI_OK);
	assert_int_equal(strlen(doc), len);
	assert_true(strncmp(doc, "<!DOCTYPE html>", 15) == 0);
	/* Self-contained: nothing fetched from anywhere. */
	assert_null(strstr(doc, "http:"));
	assert_null(strstr(doc, "https:"));
	assert_null(strstr(doc, "src="));
	assert_null(strstr(doc, "<link"));
	/* Escaped. */
	assert_null(strstr(doc, "<script>"));
	assert_null(strstr(doc, "<b>R"));
	assert_non_null(strstr(doc, "B-&lt;script&gt;"));
	assert_non_null(strstr(doc, "spi-1 &amp; co"));
	/* The subject's own values, and the withheld entry's note. */
	assert_non_null(strstr(doc, "Phone number: +6281242317765"));
	assert_non_null(strstr(doc, "NIK: 7371054507880003"));
	assert_non_null(strstr(doc, "their personal data is not shown"));
	assert_non_null(strstr(doc, "[entry 5, queue.booking.created]"));
	assert_non_null(strstr(doc, "one phone number used by many people"));
	assert_non_null(strstr(doc, "a search by your data"));
	assert_non_null(strstr(doc, "Article 32"));
	assert_non_null(strstr(doc, "How to ask for a correction"));
	assert_non_null(strstr(doc, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
	assert_non_null(strstr(doc, "No erasure of your data is recorded."));
	sodium_memzero(doc, len);
	free(doc);

	/* Indonesian, text, erased. */
	r.sr_lang = SAKSI_LANG_ID;
	r.sr_erased = 1;
	r.sr_erased_ms = 1772700440000ull;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_TEXT, &doc, &len), SAKSI_OK);
	assert_null(strstr(doc, "<h2>"));
	assert_null(strstr(doc, "<li>"));
	assert_non_null(strstr(doc, "B-<script>"));   /* text is not escaped */
	assert_non_null(strstr(doc, "Pasal 32"));
	assert_non_null(strstr(doc, "Data pribadi Anda telah dihapus"));
	assert_non_null(strstr(doc, "satu nomor telepon dipakai oleh banyak orang"));
	assert_non_null(strstr(doc, "Nomor telepon: +6281242317765"));
	free(doc);

	/* Nothing at all: the honest "no data" report. */
	r.sr_nevents = r.sr_naccess = r.sr_nalerts = 0;
	r.sr_events = NULL;
	r.sr_access = NULL;
	r.sr_alerts = NULL;
	r.sr_erased = 0;
	r.sr_erased_hint = 1;
	r.sr_lang = SAKSI_LANG_EN;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_HTML, &doc, &len), SAKSI_OK);
	/* Part 1 does not say nothing was ever recorded: part 4 says it was erased. */
	assert_null(strstr(doc, "There is no record about you in this ledger"));
	assert_non_null(strstr(doc, "No record in this ledger can be linked to you any more"));
	assert_non_null(strstr(doc, "most likely erased"));
	assert_non_null(strstr(doc, "No anti-fraud alert involved your records."));
	free(doc);
	/* Never seen, nothing erased: there is no record. */
	r.sr_erased_hint = 0;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_HTML, &doc, &len), SAKSI_OK);
	assert_non_null(strstr(doc, "There is no record about you in this ledger"));
	assert_null(strstr(doc, "can be linked to you any more"));
	assert_non_null(strstr(doc, "No erasure of your data is recorded."));
	free(doc);
	r.sr_erased_hint = 1;

	/* Errors: nothing is returned. */
	assert_int_equal(saksi_subject_render(&r, 7, &doc, &len), SAKSI_ERR_INVAL);
	assert_null(doc);
	assert_int_equal(saksi_subject_render(NULL, SAKSI_SUBJ_HTML, &doc, &len),
	    SAKSI_ERR_INVAL);
	r.sr_nevents = 1;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_HTML, &doc, &len),
	    SAKSI_ERR_INVAL);
	r.sr_events = ev;
	ev[0].se_type = "no.such.type";
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_HTML, &doc, &len),
	    SAKSI_ERR_NOT_FOUND);
	assert_null(doc);
	r.sr_subject = NULL;
	assert_int_equal(saksi_subject_render(&r, SAKSI_SUBJ_TEXT, &doc, &len),
	    SAKSI_ERR_INVAL);
	json_decref(p[0]);
	json_decref(p[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_both_languages),
		cmocka_unit_test(test_every_value_both_languages),
		cmocka_unit_test(test_every_rule_plain),
		cmocka_unit_test(test_examples_render),
		cmocka_unit_test(test_sentence_exact),
		cmocka_unit_test(test_lang_zone_when),
		cmocka_unit_test(test_zone_of_region),
		cmocka_unit_test(test_render_html),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
