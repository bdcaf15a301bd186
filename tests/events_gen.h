/*
 * events_gen.h: realistic event payloads (personal values in clear, valid against
 * schemas/events) for the interop test and the ingest benchmark, from a seeded generator.
 * Every person is invented; never put a real identity in here.
 */
#ifndef SAKSI_EVENTS_GEN_H
#define SAKSI_EVENTS_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* splitmix64: seeded, so a run can be repeated from its printed seed. */
static inline uint64_t
gen_rnd(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static inline unsigned
gen_below(uint64_t *s, unsigned n)
{
	return (unsigned)(gen_rnd(s) % n);
}

static inline const char *
gen_pick(uint64_t *s, const char *const *v, size_t n)
{
	return v[gen_below(s, (unsigned)n)];
}

#define GEN_PICK(s, v) gen_pick((s), (v), sizeof(v) / sizeof((v)[0]))

/* digits random decimal digits (first one may be 0) into out. */
static inline void
gen_digits(uint64_t *s, char *out, unsigned digits)
{
	for (unsigned i = 0; i < digits; i++)
		out[i] = (char)('0' + gen_below(s, 10));
	out[digits] = '\0';
}

/* One invented participant. */
struct gen_person {
	char gp_nik[17];
	char gp_kpj[12];
	char gp_name[64];
	char gp_phone[20];
	char gp_email[80];
	char gp_device[40];
	char gp_ip[20];
	char gp_account[21];
	char gp_npwp[17];
};

static inline void
gen_person(uint64_t *s, struct gen_person *p)
{
	static const char *const given[] = { "SITI", "BUDI", "ANDI", "NUR", "MUHAMMAD", "DEWI",
		"AHMAD", "RINA", "YUSUF", "FITRIANI", "HASAN", "ST. NURHAYATI", "ARIF", "WAHYUNI",
		"DAENG", "IRWAN", "SRI", "ABDUL" };
	static const char *const family[] = { "RAHMAWATI", "SANTOSO", "MAPPAJANCI", "HIDAYAT",
		"SYAMSUDDIN", "KURNIAWAN", "SETIAWATI", "PRATAMA", "NURDIN", "SAPUTRA", "LESTARI",
		"RAUF", "PATANGARI", "O'NEAL-BASO" };
	static const char *const mail[] = { "gmail.com", "yahoo.co.id", "outlook.com",
		"telkom.net" };
	const char *g = GEN_PICK(s, given), *f = GEN_PICK(s, family);
	char seq[5], tail[10], id[17];
	unsigned day = 1 + gen_below(s, 28), female = gen_below(s, 2);
	size_t i, j;

	gen_digits(s, seq, 4);
	/* NIK: regency 7371 (Makassar), district, birth date (day + 40 for women), serial. */
	snprintf(p->gp_nik, sizeof(p->gp_nik), "7371%02u%02u%02u%02u%s", 1 + gen_below(s, 14),
	         day + (female ? 40 : 0), 1 + gen_below(s, 12), 60 + gen_below(s, 40), seq);
	gen_digits(s, p->gp_kpj, 11);
	p->gp_kpj[0] = '1';
	snprintf(p->gp_name, sizeof(p->gp_name), "%s %s", g, f);
	gen_digits(s, tail, 9);
	snprintf(p->gp_phone, sizeof(p->gp_phone), "+6281%s", tail);
	/* e-mail: lower-case given.family + two digits, letters only. */
	for (i = 0, j = 0; g[i] != '\0' && j < 30; i++)
		if (g[i] >= 'A' && g[i] <= 'Z')
			p->gp_email[j++] = (char)(g[i] - 'A' + 'a');
	p->gp_email[j++] = '.';
	for (i = 0; f[i] != '\0' && j < 60; i++)
		if (f[i] >= 'A' && f[i] <= 'Z')
			p->gp_email[j++] = (char)(f[i] - 'A' + 'a');
	snprintf(p->gp_email + j, sizeof(p->gp_email) - j, "%02u@%s", gen_below(s, 100),
	         GEN_PICK(s, mail));
	for (i = 0; i < 16; i++)
		id[i] = "0123456789abcdef"[gen_below(s, 16)];
	id[16] = '\0';
	snprintf(p->gp_device, sizeof(p->gp_device), "%s-%s", gen_below(s, 2) ? "app" : "web",
	         id);
	snprintf(p->gp_ip, sizeof(p->gp_ip), "114.125.%u.%u", gen_below(s, 256),
	         1 + gen_below(s, 254));
	gen_digits(s, p->gp_account, 10 + gen_below(s, 6));
	memcpy(p->gp_npwp, p->gp_nik, sizeof(p->gp_npwp));
}

enum gen_role {
	GEN_QUEUE,  /* signs queue.* */
	GEN_CLAIM,  /* signs claim.* */
};

/*
 * Writes one payload of a type the role may sign into out (personal values in clear) and
 * returns the type. n numbers the event (ids, tickets). 0-length out on overflow is the
 * caller's bug: out must hold 2048 bytes.
 */
static inline const char *
gen_event(uint64_t *s, int role, const char *branch, uint64_t n, char *out, size_t len)
{
	static const char *const services[] = { "jht_claim", "jht_claim", "jht_claim",
		"jp_claim", "jkk_claim", "jkm_claim", "membership", "information", "complaint" };
	static const char *const kinds[] = { "retirement", "resignation", "resignation",
		"layoff", "contract_end", "emigration", "disability", "death", "partial_10",
		"partial_30" };
	static const char *const banks[] = { "002", "008", "009", "014", "013", "022" };
	struct gen_person p;
	unsigned r = gen_below(s, 10), day = 10 + gen_below(s, 18);

	gen_person(s, &p);
	if (role == GEN_QUEUE && r < 5) {
		snprintf(out, len,
		    "{\"branch\":\"%s\",\"channel\":\"%s\",\"booking_id\":\"BK-202503%02u-%05llu\","
		    "\"service\":\"%s\",\"slot_date\":\"2025-03-%02u\",\"slot_hour\":%u,"
		    "\"nik\":\"%s\",\"kpj\":\"%s\",\"name\":\"%s\",\"phone\":\"%s\","
		    "\"email\":\"%s\",\"region\":\"7371\",\"device_id\":\"%s\",\"ip\":\"%s\","
		    "\"slot_opened_at\":\"2025-03-%02uT00:00:00+08:00\",\"slot_remaining\":%u}",
		    branch, r < 3 ? "web" : "app", day, (unsigned long long)(n % 100000),
		    GEN_PICK(s, services), day + 2, 8 + gen_below(s, 8), p.gp_nik, p.gp_kpj,
		    p.gp_name, p.gp_phone, p.gp_email, p.gp_device, p.gp_ip, day,
		    gen_below(s, 40));
		return "queue.booking.created";
	}
	if (role == GEN_QUEUE && r < 8) {
		snprintf(out, len,
		    "{\"branch\":\"%s\",\"channel\":\"kiosk\",\"queue_date\":\"2025-03-%02u\","
		    "\"service\":\"%s\",\"ticket\":\"A-%03llu\",\"ticket_seq\":%llu,"
		    "\"walk_in\":%s,\"id_method\":\"ektp_reader\",\"id_result\":\"%s\","
		    "\"booking_id\":\"BK-202503%02u-%05llu\",\"slot_hour\":%u,\"nik\":\"%s\","
		    "\"terminal_id\":\"kiosk-mks-%u\"}",
		    branch, day, GEN_PICK(s, services), (unsigned long long)(1 + n % 999),
		    (unsigned long long)(1 + n % 999), r == 7 ? "true" : "false",
		    gen_below(s, 50) ? "match" : "mismatch", day - 2,
		    (unsigned long long)(n % 100000), 8 + gen_below(s, 8), p.gp_nik,
		    1 + gen_below(s, 4));
		return "queue.checkin";
	}
	if (role == GEN_QUEUE) {
		snprintf(out, len,
		    "{\"branch\":\"%s\",\"queue_date\":\"2025-03-%02u\",\"service\":\"%s\","
		    "\"ticket\":\"A-%03llu\",\"ticket_seq\":%llu,\"officer_id\":\"MKS-%04u\","
		    "\"counter_no\":%u,\"call_count\":%u,\"priority\":\"normal\","
		    "\"waiting_before\":%u}",
		    branch, day, GEN_PICK(s, services), (unsigned long long)(1 + n % 999),
		    (unsigned long long)(1 + n % 999), gen_below(s, 300), 1 + gen_below(s, 12),
		    1 + gen_below(s, 3), gen_below(s, 30));
		return "queue.called";
	}
	if (r < 6) {
		snprintf(out, len,
		    "{\"branch\":\"%s\",\"channel\":\"%s\",\"claim_id\":\"CL-7371-2025-%07llu\","
		    "\"claim_kind\":\"%s\",\"nik\":\"%s\",\"kpj\":\"%s\",\"name\":\"%s\","
		    "\"phone\":\"%s\",\"bank_code\":\"%s\",\"bank_account\":\"%s\","
		    "\"account_holder\":\"%s\",\"balance\":\"%u%06u\","
		    "\"documents\":[\"ktp\",\"kk\",\"kpj_card\",\"paklaring\",\"bank_book\"],"
		    "\"npwp\":\"%s\",\"email\":\"%s\",\"device_id\":\"%s\",\"ip\":\"%s\","
		    "\"employer_id\":\"PT-MKS-%06u\",\"employment_end_date\":\"2025-01-31\","
		    "\"membership_months\":%u,\"liveness_passed\":true}",
		    branch, r < 2 ? "counter" : "app", (unsigned long long)(n % 10000000),
		    GEN_PICK(s, kinds), p.gp_nik, p.gp_kpj, p.gp_name, p.gp_phone,
		    GEN_PICK(s, banks), p.gp_account, p.gp_name, 1 + gen_below(s, 90),
		    gen_below(s, 1000000), p.gp_npwp, p.gp_email, p.gp_device, p.gp_ip,
		    gen_below(s, 1000000), 12 + gen_below(s, 300));
		return "claim.submitted";
	}
	snprintf(out, len,
	    "{\"branch\":\"%s\",\"claim_id\":\"CL-7371-2025-%07llu\",\"amount\":\"%u%06u\","
	    "\"bank_code\":\"%s\",\"bank_account\":\"%s\",\"transfer_ref\":\"TRF2025031%u%s%07u\","
	    "\"attempt\":%u}",
	    branch, (unsigned long long)(n % 10000000), 1 + gen_below(s, 90),
	    gen_below(s, 1000000), GEN_PICK(s, banks), p.gp_account, gen_below(s, 10),
	    GEN_PICK(s, banks), gen_below(s, 10000000), 1 + gen_below(s, 2));
	return "claim.payment.sent";
}

#endif
