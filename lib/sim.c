/*
 * sim.c: the traffic simulator (sim.h). One branch day is generated at a time, from a
 * generator seeded with (seed, branch, day), and sorted into the stream by producer time.
 * It must never read the clock, the environment or any global state: same options, same
 * stream.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sim.h"

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)
#define OPEN_HOUR 8    /* first slot hour */
#define NHOURS 7       /* slot hours 08..14 */
#define LEAD_DAYS 3    /* a day's slots open three days before, at 07:00 */
#define MAX_ENTRIES 4000
#define OFFICER_STREAM 0x6f66666963657231ULL /* "officer1": the insider's own generator */
#define EXTRA_OFFICER_STREAM 0x6578747261776b31ULL /* "extrawk1": extra-officer weeks */

/* ---- deterministic random numbers: splitmix64 seeding, xoshiro256** ---- */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(struct rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
	uint64_t x = seed;
	int i;

	x = splitmix64(&x) ^ (a * 0xd1342543de82ef95ULL);
	x = splitmix64(&x) ^ (b * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [lo, hi]; the modulo bias is far below anything a detector could notice. */
static int64_t
rr(struct rng *r, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static double
unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static int
chance(struct rng *r, double p)
{
	return unit(r) < p;
}

static double
expo(struct rng *r, double mean)
{
	return -mean * log(1.0 - unit(r));
}

static double
gauss(struct rng *r)
{
	double u1 = 1.0 - unit(r), u2 = unit(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int
weighted(struct rng *r, const int *w, int n)
{
	int i, sum = 0, x;

	for (i = 0; i < n; i++)
		sum += w[i];
	x = (int)rr(r, 0, sum - 1);
	for (i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

#define PICK(r, arr) ((arr)[rr((r), 0, (int64_t)(sizeof(arr) / sizeof((arr)[0])) - 1)])

/* ---- calendar (Howard Hinnant's civil-from-days) ---- */

static void
civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yy + (*m <= 2));
}

/* 0 = Sunday. Day 0 (1970-01-01) was a Thursday. */
static int
weekday(int64_t z)
{
	return (int)(((z % 7) + 11) % 7);
}

static void
fmt_date(int64_t day, char out[16])
{
	int y;
	unsigned m, d;

	civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02u-%02u", y % 10000, m % 100, d % 100);
}

/* Copies a NUL-terminated string, truncating to fit: every source here is short. */
static void
scopy(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* ---- static tables ---- */

enum {
	T_SLOT_OPENED, T_BOOKED, T_CANCELLED, T_RESCHEDULED, T_CHECKIN, T_CALLED,
	T_STARTED, T_ENDED, T_NOSHOW, T_ELIGIBILITY, T_SUBMITTED, T_NIK, T_DOCUMENT,
	T_IDENTITY, T_APPROVED, T_REJECTED, T_PAY_SENT, T_PAY_FAILED, T_LOGIN,
	T_PRIORITY, T_QUOTA, T__COUNT
};

static const char *const type_name[T__COUNT] = {
	"queue.slot.opened", "queue.booking.created", "queue.booking.cancelled",
	"queue.booking.rescheduled", "queue.checkin", "queue.called", "queue.service.started",
	"queue.service.ended", "queue.noshow", "claim.eligibility.checked", "claim.submitted",
	"claim.nik.checked", "claim.document.checked", "claim.identity.verified",
	"claim.approved", "claim.rejected", "claim.payment.sent", "claim.payment.failed",
	"staff.login", "staff.priority.changed", "staff.quota.override",
};

static const char *const scenario_name[SAKSI_SIM__COUNT] = {
	"broker.device_many_nik", "broker.phone_many_nik", "broker.account_many_claimants",
	"broker.cancel_rebook", "broker.bot_opening", "broker.out_of_order",
	"broker.served_without_booking", "broker.quota_override", "broker.nik_check_retry",
	"broker.noshow_source", "broker.bulk_probe", "broker.officer_shared_source",
	"honest.family_phone", "honest.internet_cafe", "honest.carrier_nat",
	"honest.hr_collective", "honest.officer_family",
};

static const char *const level_name[] = { "none", "low", "medium", "high" };
static const double level_rate[] = { 0.0, 0.1, 0.3, 1.0 };

/* National systems sign for any branch; each branch has four producers of its own. */
enum { P_PORTAL, P_APP, P_CLAIM_WEB, P_CLAIM_APP, P_HR, P_DUKCAPIL, P_PAY, P__NATIONAL };
static const struct {
	const char *name, *role;
} national[P__NATIONAL] = {
	{ "portal-web", "queue" },        /* web queue booking */
	{ "app-mobile", "queue" },        /* mobile app booking and check-in */
	{ "claim-web", "claim" },         /* contactless web claim and back office */
	{ "claim-app", "claim" },         /* mobile app claim */
	{ "hr-portal", "claim" },         /* partner HR offices' collective claims */
	{ "dukcapil-connector", "claim" },/* civil-registry NIK checks */
	{ "claim-payment", "claim" },     /* transfers to banks */
};
enum { PB_KIOSK, PB_COUNTER, PB_CLAIM, PB_STAFF, PB__COUNT };
static const struct {
	const char *prefix, *role;
} per_branch[PB__COUNT] = {
	{ "kiosk-", "queue" },          /* tickets and check-in */
	{ "counter-", "queue" },        /* calls, service, no-shows, counter bookings */
	{ "counter-claim-", "claim" },  /* claims taken at the counter */
	{ "staff-", "staff" },          /* officer logins, priority and quota changes */
};

/* Branch offices: code, short name for ids, home regency (NIK prefix), UTC offset. */
static const struct site {
	const char *code, *abbr, *regency;
	int tz;
} sites[] = {
	{ "KC-MAKASSAR", "MKS", "7371", 8 },
	{ "KC-JAKARTA-SELATAN", "JKS", "3171", 7 },
	{ "KC-BANDUNG", "BDG", "3273", 7 },
	{ "KC-SEMARANG", "SMG", "3374", 7 },
	{ "KC-SURABAYA", "SBY", "3578", 7 },
	{ "KC-DENPASAR", "DPS", "5171", 8 },
	{ "KC-TANGERANG", "TNG", "3671", 7 },
	{ "KC-MEDAN", "MDN", "1275", 7 },
	{ "KC-BEKASI", "BKS", "3275", 7 },
	{ "KC-GOWA", "GWA", "7306", 8 },
	{ "KC-MALANG", "MLG", "3573", 7 },
	{ "KC-BOGOR", "BGR", "3271", 7 },
	{ "KC-PALEMBANG", "PLB", "1671", 7 },
	{ "KC-BALIKPAPAN", "BPN", "6471", 8 },
	{ "KC-PAREPARE", "PRE", "7372", 8 },
	{ "KC-SURAKARTA", "SKT", "3372", 7 },
};
#define NSITES (sizeof(sites) / sizeof(sites[0]))

enum { SV_JHT, SV_JP, SV_JKK, SV_JKM, SV_MEMBER, SV_INFO, SV_COMPLAINT, SV__COUNT };
static const char *const service_name[SV__COUNT] = {
	"jht_claim", "jp_claim", "jkk_claim", "jkm_claim", "membership", "information",
	"complaint",
};
static const int other_service_w[SV__COUNT] = { 0, 25, 8, 7, 35, 18, 7 };

/* Queue lines: JHT at the counter, other benefits, administration, JHT by video. */
enum { L_JHT, L_BENEFIT, L_ADMIN, L_VIDEO, L__COUNT };
static const char *const line_prefix[L__COUNT] = { "A", "B", "C", "V" };

enum { CH_WEB, CH_APP, CH_KIOSK, CH_COUNTER, CH_HR };
static const char *const channel_name[] = { "web", "app", "kiosk", "counter", "partner_hr" };

enum { K_RETIRE, K_RESIGN, K_LAYOFF, K_CONTRACT, K_EMIGRATE, K_DISAB, K_DEATH, K_P10, K_P30,
	K__COUNT };
static const char *const kind_name[K__COUNT] = {
	"retirement", "resignation", "layoff", "contract_end", "emigration", "disability",
	"death", "partial_10", "partial_30",
};
static const int kind_w[K__COUNT] = { 9, 48, 20, 12, 1, 2, 2, 3, 3 };

enum { D_KTP, D_KK, D_KPJ, D_PAKLARING, D_LAYOFF, D_BANKBOOK, D_NPWP, D_CONTRACT,
	D_COURT, D_DEATHCERT, D_HEIR, D_DISAB, D_PASSPORT, D__COUNT };
static const char *const doc_name[D__COUNT] = {
	"ktp", "kk", "kpj_card", "paklaring", "layoff_letter", "bank_book", "npwp", "contract",
	"court_ruling", "death_certificate", "heir_statement", "disability_statement",
	"passport_visa",
};

enum { R_INCOMPLETE, R_DATA_MISMATCH, R_NIK, R_WAITING, R_NOT_OWN, R_IDENTITY, R__COUNT };
static const char *const reject_name[R__COUNT] = {
	"incomplete_documents", "data_mismatch", "nik_mismatch", "waiting_period",
	"account_not_own_name", "identity_failed",
};

static const struct {
	const char *code;
	int len, w;
} banks[] = {
	{ "002", 15, 30 }, /* BRI */
	{ "008", 13, 15 }, /* Mandiri */
	{ "009", 10, 15 }, /* BNI */
	{ "014", 10, 20 }, /* BCA */
	{ "200", 16, 5 },  /* BTN */
	{ "451", 10, 8 },  /* BSI */
	{ "022", 13, 3 },  /* CIMB Niaga */
	{ "126", 10, 4 },  /* Bank Sulselbar */
};
#define NBANKS (sizeof(banks) / sizeof(banks[0]))

static const char *const male_given[] = {
	"AHMAD", "MUHAMMAD", "ANDI", "RIZKY", "ARIF", "BUDI", "DEDI", "EKO", "FAJAR",
	"HENDRA", "IRWAN", "JOKO", "KURNIAWAN", "LUKMAN", "MUH.", "RAHMAT", "SYAHRUL",
	"TAUFIK", "WAHYU", "YUSUF", "ZAINAL", "AGUS", "BAMBANG", "DARMAWAN", "FIRMAN",
	"HASAN", "ILHAM", "IMAM", "RUDI", "SUPRIADI", "ADI", "ARDI", "BAHARUDDIN",
	"HAERUL", "JUMADI", "MASRI", "SUDIRMAN", "ABDUL", "IKHSAN", "SYAMSUL",
};
static const char *const female_given[] = {
	"SITI", "NUR", "DEWI", "SRI", "RINI", "FITRI", "ANDI", "AYU", "WULAN", "RATNA",
	"YULIANI", "HASNAH", "NURHAYATI", "MARDIANA", "SUKMAWATI", "INDAH", "PUTRI",
	"RAHMAWATI", "KARTIKA", "LESTARI", "NOVI", "DIAN", "EKA", "MEGA", "ASTUTI",
	"HARIANI", "SUARNI", "NURUL", "ST.", "WAHYUNI",
};
static const char *const family_name[] = {
	"PRATAMA", "SAPUTRA", "HIDAYAT", "SETIAWAN", "RAHMAN", "HASANUDDIN", "SYAMSUDDIN",
	"NUGROHO", "WIJAYA", "KUSUMA", "SANTOSO", "HAMZAH", "AMIR", "LATIF", "MAULANA",
	"RAMADHAN", "FIRDAUS", "HALIM", "SALEH", "MAKMUR", "AZIS", "BASRI", "HARAHAP",
	"SIREGAR", "NASUTION", "PUTRA", "SARI", "WATI", "ANGGRAINI", "PERMATASARI",
	"IBRAHIM", "SULAIMAN", "ARSYAD", "TAHIR", "KADIR", "MUSTAFA", "NURDIN", "RASYID",
};
static const char *const phone_prefix[] = {
	"811", "812", "813", "821", "822", "823", "851", "852", "853", "814", "815", "816",
	"855", "856", "857", "858", "817", "818", "819", "859", "877", "878", "831", "832",
	"833", "838", "895", "896", "897", "898", "899", "881", "882", "887", "888", "889",
};
static const char *const mail_domain[] = { "gmail.com", "gmail.com", "gmail.com",
	"yahoo.co.id", "yahoo.com", "outlook.com" };
/* Public IPv4 blocks of Indonesian carriers and fixed-line ISPs: first two octets. */
static const int mobile_block[][2] = {
	{ 114, 124 }, { 114, 125 }, { 114, 5 }, { 182, 0 }, { 182, 1 }, { 182, 2 },
	{ 112, 215 }, { 110, 136 }, { 110, 137 }, { 120, 188 }, { 139, 194 }, { 140, 213 },
};
static const int fixed_block[][2] = {
	{ 36, 68 }, { 36, 72 }, { 36, 79 }, { 180, 241 }, { 180, 244 }, { 180, 252 },
	{ 125, 164 }, { 125, 166 }, { 118, 96 }, { 103, 119 },
};
static const int hosting_block[][2] = {
	{ 103, 150 }, { 103, 152 }, { 103, 157 }, { 45, 77 }, { 149, 129 }, { 5, 181 },
};

/* ---- the simulator ---- */

struct rawev {
	int64_t t;
	uint64_t gen;      /* generation order: the tie-break that keeps the sort total */
	uint32_t prod;
	uint16_t type;
	int16_t scen;
	uint32_t inst;
	uint8_t sig;
	char *payload;
	size_t len;
};

struct idxv {
	uint64_t *v;
	size_t n, cap;
};

struct inst {
	int scen;
	unsigned branch;
	int64_t day;
	json_t *key;
	struct idxv ev, sg;
};

struct branch {
	char code[32], abbr[12], lc[40], ip[20];
	const struct site *site;
};

struct saksi_sim {
	saksi_sim_opts o;
	struct branch *br;
	saksi_sim_producer *prod;
	char **prodname;
	size_t nprod;
	int64_t *days;
	unsigned nextday;
	struct rawev *pend;
	size_t head, npend, cappend;
	uint64_t gen, emitted;
	struct inst *inst;
	size_t ninst, capinst;
	size_t counts[SAKSI_SIM__COUNT];
	uint64_t *niks;    /* every NIK given out so far (see nik_add) */
	size_t niks_n, niks_cap;
	saksi_err err;     /* sticky: once out of memory, always out of memory */
};

/* ---- one branch day ---- */

struct person {
	char nik[17], kpj[12], name[64], phone[16], email[80], npwp[17];
	char bank[4], account[21], holder[64], dev_app[40], dev_web[40], ip[40];
	char employer[16], region[5];
	int kind, female, age, months;
	int64_t end_day;   /* last day of employment, or -1 */
	uint64_t balance;
};

enum {
	SG_BOOK = 1, SG_CANCEL = 2, SG_NOSHOW = 4, SG_CALL = 8, SG_CLAIM = 16, SG_PAY = 32,
	SG_NIK = 64, SG_ELIG = 128,
};

/* How an entry reaches the branch. */
enum { E_BOOKED, E_WALKIN, E_APP_CLAIM, E_HR_CLAIM, E_COUNTER_ONLY };

struct entry {
	struct person p;
	int how, svc, line, chan, video;
	int scen;          /* -1: ordinary */
	uint32_t inst;
	unsigned sig;      /* which of its events show the pattern (SG_*) */
	/* booking */
	int64_t t_book;
	int pref_hour, force_hour, over_quota, deferred, hour, cancelled;
	int cancel_plan;   /* 0 none, 1 by the participant, 2 by the system */
	int64_t t_cancel;  /* 0: choose */
	int resched_plan;
	int rebook;        /* index of the entry that takes the slot right after the cancel */
	int64_t rebook_delay;
	int precheck;
	char booking_id[40], bdev[40], bip[40], terminal[24];
	/* the day */
	int noshow;        /* 1 not checked in, 2 absent when called */
	int64_t t_in, t_prio;
	int prio, app_checkin, ooo, seq, done;
	char ticket[16];
	/* claim */
	char claim_id[48], partner[16], batch[40];
	int reject, nik_fail, nik_typo, nik_unavail, pay_fail, missing_doc;
	int64_t t_claim;
	char officer[16];
};

struct counter {
	int line, no, lunch, active;
	const char *officer;
	int64_t free_at;
};

struct ctx {
	saksi_sim *s;
	struct rng r;
	unsigned b, dayidx;
	const struct branch *br;
	int tz, year;
	int64_t day, mid, lo, open;
	char date[16], ymd[16];
	struct entry *en;
	size_t nen, capen;
	int cap_h, quota, booked[24], video_booked[24], ov_delta;
	int64_t ov_t;      /* an approved quota increase for the day, or 0 */
	char roster[12][16], video[3][16], spv[16];
	int nvideo;
	uint32_t n_bk, n_claim, n_trf, n_batch;
	saksi_err err;
};

/* Local midnight of the service day plus an offset. */
static int64_t
at(const struct ctx *c, int dayoff, int h, int m, int sec)
{
	return c->mid + dayoff * DAY_MS + ((h * 60LL + m) * 60 + sec) * 1000;
}

static int
hour_of(const struct ctx *c, int64_t t)
{
	int64_t x = (t - c->mid) % DAY_MS;

	if (x < 0)
		x += DAY_MS;
	return (int)(x / HOUR_MS);
}

static void
fmt_local(const struct ctx *c, int64_t t, char out[32])
{
	int64_t sec = t / 1000 + c->tz * 3600LL, day = sec / 86400, rem = sec % 86400;
	int y;
	unsigned m, d;

	civil_from_days(day, &y, &m, &d);
	snprintf(out, 32, "%04d-%02u-%02uT%02d:%02d:%02d+%02d:00", y % 10000, m % 100,
	    d % 100, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), c->tz);
}

/* ---- JSON helpers: a failed allocation makes the whole day fail, never a crash ---- */

static void
jset(struct ctx *c, json_t *o, const char *k, json_t *v)
{
	if (o == NULL || v == NULL || json_object_set_new(o, k, v) != 0)
		c->err = SAKSI_ERR_NOMEM;
}

static void
js(struct ctx *c, json_t *o, const char *k, const char *v)
{
	jset(c, o, k, json_string(v));
}

static void
ji(struct ctx *c, json_t *o, const char *k, int64_t v)
{
	jset(c, o, k, json_integer(v));
}

static void
jb(struct ctx *c, json_t *o, const char *k, int v)
{
	jset(c, o, k, json_boolean(v));
}

static void
ju(struct ctx *c, json_t *o, const char *k, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	js(c, o, k, buf);
}

static json_t *
obj(struct ctx *c)
{
	json_t *o = json_object();

	if (o == NULL)
		c->err = SAKSI_ERR_NOMEM;
	else
		js(c, o, "branch", c->br->code);
	return o;
}

static int
idx_push(struct idxv *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? 2 * v->cap : 16;
		uint64_t *nv = realloc(v->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -1;
		v->v = nv;
		v->cap = nc;
	}
	v->v[v->n++] = x;
	return 0;
}

/* Queues one event; takes o. */
static void
emit_raw(struct ctx *c, int64_t t, size_t prod, int type, int scen, uint32_t inst, int sig,
    json_t *o)
{
	saksi_sim *s = c->s;
	struct rawev *ev;
	char *text;

	if (c->err != SAKSI_OK || o == NULL) {
		json_decref(o);
		return;
	}
	/* A day's events never start before its lower bound: the stream relies on it. */
	if (t < c->lo)
		t = c->lo;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL) {
		c->err = SAKSI_ERR_NOMEM;
		return;
	}
	if (s->npend == s->cappend) {
		size_t nc = s->cappend ? 2 * s->cappend : 4096;
		struct rawev *np = realloc(s->pend, nc * sizeof(*np));

		if (np == NULL) {
			free(text);
			c->err = SAKSI_ERR_NOMEM;
			return;
		}
		s->pend = np;
		s->cappend = nc;
	}
	ev = &s->pend[s->npend++];
	ev->t = t;
	ev->gen = s->gen++;
	ev->prod = (uint32_t)prod;
	ev->type = (uint16_t)type;
	ev->scen = (int16_t)scen;
	ev->inst = inst;
	ev->sig = sig != 0;
	ev->payload = text;
	ev->len = strlen(text);
}

static void
emit(struct ctx *c, const struct entry *e, unsigned bit, int64_t t, size_t prod, int type,
    json_t *o)
{
	if (e == NULL)
		emit_raw(c, t, prod, type, -1, 0, 0, o);
	else
		emit_raw(c, t, prod, type, e->scen, e->inst, (e->sig & bit) != 0, o);
}

static size_t
bprod(const struct ctx *c, int k)
{
	return P__NATIONAL + (size_t)c->b * PB__COUNT + (size_t)k;
}

/* A new scenario instance; takes key. Returns its id (1-based), 0 on failure. */
static uint32_t
new_inst(struct ctx *c, int scen, json_t *key)
{
	saksi_sim *s = c->s;
	struct inst *in;

	if (key == NULL || c->err != SAKSI_OK) {
		json_decref(key);
		c->err = SAKSI_ERR_NOMEM;
		return 0;
	}
	if (s->ninst == s->capinst) {
		size_t nc = s->capinst ? 2 * s->capinst : 64;
		struct inst *ni = realloc(s->inst, nc * sizeof(*ni));

		if (ni == NULL) {
			json_decref(key);
			c->err = SAKSI_ERR_NOMEM;
			return 0;
		}
		s->inst = ni;
		s->capinst = nc;
	}
	in = &s->inst[s->ninst++];
	memset(in, 0, sizeof(*in));
	in->scen = scen;
	in->branch = c->b;
	in->day = c->day;
	in->key = key;
	s->counts[scen]++;
	return (uint32_t)s->ninst;
}

/* ---- synthetic identities ---- */

static void
digits(struct rng *r, char *out, int n)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = (char)('0' + rr(r, 0, 9));
	out[n] = '\0';
	if (n > 0 && out[0] == '0')
		out[0] = (char)('1' + rr(r, 0, 8));
}

static void
hexid(struct rng *r, char *out, const char *prefix, int n)
{
	static const char hx[] = "0123456789abcdef";
	size_t p = strlen(prefix);
	int i;

	memcpy(out, prefix, p);
	for (i = 0; i < n; i++)
		out[p + (size_t)i] = hx[rr(r, 0, 15)];
	out[p + (size_t)n] = '\0';
}

static void
make_phone(struct rng *r, char out[16])
{
	char tail[12];

	digits(r, tail, (int)rr(r, 7, 9));
	snprintf(out, 16, "+62%s%s", PICK(r, phone_prefix), tail);
}

static void
ip_from(struct rng *r, const int blk[2], char out[40])
{
	snprintf(out, 40, "%d.%d.%d.%d", blk[0], blk[1], (int)rr(r, 0, 255),
	    (int)rr(r, 1, 254));
}

/* A participant's own connection: mostly a phone on a carrier, sometimes home broadband. */
static void
ordinary_ip(struct rng *r, char out[40])
{
	if (chance(r, 0.08)) {
		snprintf(out, 40, "2001:448a:%x:%x:%x:%x:%x:%x", (unsigned)rr(r, 0x1000, 0xffff),
		    (unsigned)rr(r, 0x1000, 0xffff), (unsigned)rr(r, 0x1000, 0xffff),
		    (unsigned)rr(r, 0x1000, 0xffff), (unsigned)rr(r, 0x1000, 0xffff),
		    (unsigned)rr(r, 0x1000, 0xffff));
		return;
	}
	if (chance(r, 0.7))
		ip_from(r, mobile_block[rr(r, 0, (int64_t)(sizeof(mobile_block) /
		    sizeof(mobile_block[0])) - 1)], out);
	else
		ip_from(r, fixed_block[rr(r, 0, (int64_t)(sizeof(fixed_block) /
		    sizeof(fixed_block[0])) - 1)], out);
}

/*
 * Every NIK of a run is unique: a number drawn twice by chance would look like one
 * person claiming twice, which is a fraud signal of its own. An open-addressing set of
 * the NIKs as integers (all 16 digits fit in 64 bits; 0 marks an empty slot).
 */
static uint64_t
nik_value(const char *nik)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = v * 10 + (uint64_t)(nik[i] - '0');
	return v;
}

static size_t
nik_slot(const saksi_sim *s, uint64_t v)
{
	size_t i = (size_t)((v * 0x9e3779b97f4a7c15ULL) >> 20) & (s->niks_cap - 1);

	while (s->niks[i] != 0 && s->niks[i] != v)
		i = (i + 1) & (s->niks_cap - 1);
	return i;
}

static int
nik_taken(const struct ctx *c, const char *nik)
{
	const saksi_sim *s = c->s;

	return s->niks_cap > 0 && s->niks[nik_slot(s, nik_value(nik))] != 0;
}

static void
nik_add(struct ctx *c, const char *nik)
{
	saksi_sim *s = c->s;
	size_t i;

	if (2 * (s->niks_n + 1) > s->niks_cap) {
		size_t nc = s->niks_cap ? 2 * s->niks_cap : 4096;
		uint64_t *old = s->niks, *nn = calloc(nc, sizeof(*nn));
		size_t oc = s->niks_cap;

		if (nn == NULL) {
			c->err = SAKSI_ERR_NOMEM;
			return;
		}
		s->niks = nn;
		s->niks_cap = nc;
		for (i = 0; i < oc; i++)
			if (old[i] != 0)
				s->niks[nik_slot(s, old[i])] = old[i];
		free(old);
	}
	i = nik_slot(s, nik_value(nik));
	if (s->niks[i] == 0) {
		s->niks[i] = nik_value(nik);
		s->niks_n++;
	}
}

static void
make_name(struct rng *r, int female, char out[64])
{
	const char *g = female ? PICK(r, female_given) : PICK(r, male_given);

	if (chance(r, 0.15))
		snprintf(out, 64, "%s", g);
	else if (chance(r, 0.25))
		snprintf(out, 64, "%s %s %s", g, PICK(r, family_name), PICK(r, family_name));
	else
		snprintf(out, 64, "%s %s", g, PICK(r, family_name));
}

static void
make_email(struct rng *r, const char *name, int birth_year, char out[80])
{
	char local[48];
	size_t i, n = 0;
	int dot = 0;

	for (i = 0; name[i] != '\0' && n < 30; i++) {
		if (name[i] >= 'A' && name[i] <= 'Z') {
			local[n++] = (char)(name[i] - 'A' + 'a');
			dot = 0;
		} else if (name[i] == ' ' && !dot && n > 0) {
			local[n++] = '.';
			dot = 1;
		}
	}
	if (n > 0 && local[n - 1] == '.')
		n--;
	if (n == 0)
		local[n++] = 'x';
	local[n] = '\0';
	/* Birth year and a few digits, as people pick them: two SITIs must not share one. */
	snprintf(out, 80, "%s%02d%d@%s", local, birth_year % 100, (int)rr(r, 10, 999),
	    PICK(r, mail_domain));
}

static void
make_account(struct ctx *c, struct person *p)
{
	int w[NBANKS];
	size_t i;
	int k;

	for (i = 0; i < NBANKS; i++)
		w[i] = banks[i].w;
	/* Bank Sulselbar is a South Sulawesi bank. */
	if (strncmp(c->br->site->regency, "73", 2) != 0)
		w[NBANKS - 1] = 0;
	k = weighted(&c->r, w, (int)NBANKS);
	scopy(p->bank, sizeof(p->bank), banks[k].code);
	digits(&c->r, p->account, banks[k].len);
}

/*
 * A participant. NIK = province, regency, district, birth day (+40 for women), month,
 * two-digit year, serial; unique within the day. local: lives in the branch's regency.
 */
static void
make_person(struct ctx *c, struct person *p, int kind, int local)
{
	struct rng *r = &c->r;
	const char *reg = c->br->site->regency;
	int by, bm, bd, serial, months;
	double bal;

	memset(p, 0, sizeof(*p));
	p->kind = kind >= 0 ? kind : weighted(r, kind_w, K__COUNT);
	p->female = chance(r, 0.45);
	if (p->kind == K_RETIRE)
		p->age = (int)rr(r, 56, 63);
	else if (p->kind == K_P10 || p->kind == K_P30)
		p->age = (int)rr(r, 32, 55);
	else
		p->age = 21 + (int)fmin(34.0, expo(r, 9.0));
	by = c->year - p->age;
	bm = (int)rr(r, 1, 12);
	bd = (int)rr(r, 1, 28);
	if (local || chance(r, 0.85))
		scopy(p->region, sizeof(p->region), reg);
	else
		snprintf(p->region, sizeof(p->region), "%.2s%02d", reg, (int)rr(r, 1, 24));
	do {
		char nik[40];

		serial = 1 + (int)fmin(9998.0, expo(r, 40.0));
		snprintf(nik, sizeof(nik), "%s%02d%02d%02d%02d%04d", p->region,
		    (int)rr(r, 1, 14), bd + (p->female ? 40 : 0), bm, by % 100, serial);
		scopy(p->nik, sizeof(p->nik), nik);
	} while (nik_taken(c, p->nik) && c->err == SAKSI_OK);
	nik_add(c, p->nik);
	snprintf(p->kpj, sizeof(p->kpj), "%02d", (int)((c->year - (int)rr(r, 1,
	    p->age - 19)) % 100));
	digits(r, p->kpj + 2, 9);
	make_name(r, p->female, p->name);
	scopy(p->holder, sizeof(p->holder), p->name);
	make_phone(r, p->phone);
	if (chance(r, 0.55))
		make_email(r, p->name, by, p->email);
	if (chance(r, 0.5)) {
		if (chance(r, 0.5))
			scopy(p->npwp, sizeof(p->npwp), p->nik);
		else
			digits(r, p->npwp, 15);
	}
	make_account(c, p);
	hexid(r, p->dev_app, "app-", 16);
	hexid(r, p->dev_web, "web-", 16);
	ordinary_ip(r, p->ip);
	/* Employers of the region: a pool, so that claimants share employers as they do. */
	snprintf(p->employer, sizeof(p->employer), "NPP%s%04d", reg, (int)rr(r, 1, 80));
	months = (int)rr(r, 12, (p->age - 19) * 12);
	if (p->kind == K_P10 || p->kind == K_P30)
		months = (int)rr(r, 120, (p->age - 19) * 12 > 120 ? (p->age - 19) * 12 : 121);
	p->months = months > 1200 ? 1200 : months;
	if (p->kind == K_RESIGN || p->kind == K_LAYOFF || p->kind == K_CONTRACT)
		p->end_day = c->day - rr(r, 35, 400);
	else
		p->end_day = -1;
	/* Balances: 70 % under Rp 10 million, a long tail above. */
	bal = exp(log(6.0e6) + 1.0 * gauss(r)) * (0.5 + p->months / 180.0);
	if (p->kind == K_RETIRE)
		bal *= 2.5;
	if (bal < 300000)
		bal = 300000 + rr(r, 0, 200000);
	if (bal > 900e6)
		bal = 900e6;
	p->balance = (uint64_t)bal;
}

static struct entry *
new_entry(struct ctx *c, int how, int svc, int scen, uint32_t inst, unsigned sig)
{
	struct entry *e;

	if (c->err != SAKSI_OK)
		return NULL;
	if (c->nen == c->capen) {
		size_t nc = c->capen ? 2 * c->capen : 512;
		struct entry *ne;

		if (nc > MAX_ENTRIES) {
			c->err = SAKSI_ERR_NOMEM;
			return NULL;
		}
		ne = realloc(c->en, nc * sizeof(*ne));
		if (ne == NULL) {
			c->err = SAKSI_ERR_NOMEM;
			return NULL;
		}
		c->en = ne;
		c->capen = nc;
	}
	e = &c->en[c->nen++];
	memset(e, 0, sizeof(*e));
	e->how = how;
	e->svc = svc;
	e->line = svc == SV_JHT ? L_JHT : svc <= SV_JKM ? L_BENEFIT : L_ADMIN;
	e->scen = scen;
	e->inst = inst;
	e->sig = sig;
	e->pref_hour = -1;
	e->force_hour = -1;
	e->hour = -1;
	e->rebook = -1;
	e->reject = -1;
	make_person(c, &e->p, -1, 0);
	return e;
}

/* An online booker: booking from their own phone or browser unless a scenario says not. */
static void
online(struct entry *e, int chan)
{
	e->chan = chan;
	scopy(e->bdev, sizeof(e->bdev), chan == CH_APP ? e->p.dev_app : e->p.dev_web);
	scopy(e->bip, sizeof(e->bip), e->p.ip);
}

/* When ordinary people book: a rush at the opening, then through the three days. */
static int64_t
ordinary_book_time(struct ctx *c)
{
	static const int hour_w[24] = { 1, 1, 0, 0, 1, 2, 4, 6, 8, 9, 9, 8, 8, 8, 8, 8, 8, 8,
		8, 9, 9, 8, 5, 2 };
	struct rng *r = &c->r;
	int64_t t;

	if (chance(r, 0.45)) {
		/* Filling NIK, KPJ, name and phone takes a person at least several seconds. */
		return c->open + 8000 + (int64_t)fmin(3.0 * HOUR_MS, expo(r, 300000.0));
	}
	t = at(c, -(int)rr(r, 1, LEAD_DAYS), weighted(r, hour_w, 24), (int)rr(r, 0, 59),
	    (int)rr(r, 0, 59)) + rr(r, 0, 999);
	if (t <= c->open)
		t = c->open + rr(r, 20000, 4 * HOUR_MS);
	return t;
}

/*
 * Scenario bookings come on the opening day, while there are places left: a broker who
 * books too late has nothing to sell, and the look-alikes must be in the data to be tested.
 */
static int64_t
early_book_time(struct ctx *c, int64_t within)
{
	return c->open + rr(&c->r, MIN_MS, within);
}

/* ---- the events themselves ---- */

static void
claim_new_id(struct ctx *c, struct entry *e, const char *what)
{
	snprintf(e->claim_id, sizeof(e->claim_id), "%s-%s-%s-%04u", what, c->br->abbr, c->ymd,
	    ++c->n_claim);
}

static uint64_t
amount_of(const struct entry *e)
{
	if (e->p.kind == K_P10)
		return e->p.balance / 10;
	if (e->p.kind == K_P30)
		return e->p.balance * 3 / 10;
	return e->p.balance;
}

static size_t
docs_for(const struct person *p, int *d)
{
	size_t n = 0;

	d[n++] = D_KTP;
	d[n++] = D_KK;
	d[n++] = D_KPJ;
	d[n++] = D_BANKBOOK;
	switch (p->kind) {
	case K_RESIGN: d[n++] = D_PAKLARING; break;
	case K_LAYOFF: d[n++] = D_LAYOFF; break;
	case K_CONTRACT: d[n++] = D_CONTRACT; break;
	case K_DEATH: d[n++] = D_DEATHCERT; d[n++] = D_HEIR; break;
	case K_DISAB: d[n++] = D_DISAB; break;
	case K_EMIGRATE: d[n++] = D_PASSPORT; break;
	default: break;
	}
	if (p->npwp[0] != '\0')
		d[n++] = D_NPWP;
	return n;
}

static void
eligibility(struct ctx *c, const struct entry *e, int64_t t, size_t prod, int chan,
    const char *result, const char *reason, const char *dev, const char *ip)
{
	json_t *o = obj(c);

	js(c, o, "channel", channel_name[chan]);
	js(c, o, "result", result);
	if (reason != NULL)
		js(c, o, "reason", reason);
	if (strcmp(result, "malformed_input") != 0) {
		js(c, o, "claim_kind", kind_name[e->p.kind]);
		js(c, o, "nik", e->p.nik);
		js(c, o, "kpj", e->p.kpj);
		js(c, o, "name", e->p.name);
		if (chan != CH_HR)
			js(c, o, "phone", e->p.phone);
	}
	if (dev != NULL && dev[0] != '\0')
		js(c, o, "device_id", dev);
	if (ip != NULL && ip[0] != '\0')
		js(c, o, "ip", ip);
	if (chan == CH_HR)
		js(c, o, "partner_id", e->partner);
	emit(c, e, SG_ELIG, t, prod, T_ELIGIBILITY, o);
}

static void
booking_created(struct ctx *c, struct entry *e, int64_t t)
{
	char opened[32];
	json_t *o = obj(c);
	size_t prod;

	snprintf(e->booking_id, sizeof(e->booking_id), "BK-%s-%s-%04u", c->br->abbr, c->ymd,
	    ++c->n_bk);
	js(c, o, "channel", channel_name[e->chan]);
	js(c, o, "booking_id", e->booking_id);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "slot_date", c->date);
	ji(c, o, "slot_hour", e->hour);
	js(c, o, "nik", e->p.nik);
	js(c, o, "kpj", e->p.kpj);
	js(c, o, "name", e->p.name);
	js(c, o, "phone", e->p.phone);
	if (e->p.email[0] != '\0' && e->chan != CH_COUNTER)
		js(c, o, "email", e->p.email);
	js(c, o, "region", c->br->site->regency);
	if (e->chan == CH_WEB || e->chan == CH_APP) {
		js(c, o, "device_id", e->bdev);
		js(c, o, "ip", e->bip);
		fmt_local(c, c->open, opened);
		js(c, o, "slot_opened_at", opened);
		prod = e->chan == CH_WEB ? P_PORTAL : P_APP;
	} else {
		js(c, o, "terminal_id", e->terminal);
		prod = bprod(c, e->chan == CH_KIOSK ? PB_KIOSK : PB_COUNTER);
	}
	/* Walk-in numbers are not the online places. */
	if (e->chan != CH_KIOSK)
		ji(c, o, "slot_remaining", c->cap_h > c->booked[e->hour] ?
		    c->cap_h - c->booked[e->hour] : 0);
	emit(c, e, SG_BOOK, t, prod, T_BOOKED, o);
}

static void
booking_cancelled(struct ctx *c, struct entry *e, int64_t t)
{
	json_t *o = obj(c);
	int by_system = e->cancel_plan == 2;

	js(c, o, "booking_id", e->booking_id);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "slot_date", c->date);
	ji(c, o, "slot_hour", e->hour);
	js(c, o, "cancelled_by", by_system ? "system" : "participant");
	js(c, o, "reason", by_system ? "not_confirmed" : "participant_request");
	jb(c, o, "slot_released", 1);
	if (!by_system) {
		js(c, o, "channel", channel_name[e->chan]);
		js(c, o, "device_id", e->bdev);
		js(c, o, "ip", e->bip);
	}
	emit(c, e, SG_CANCEL, t, e->chan == CH_APP ? P_APP : P_PORTAL, T_CANCELLED, o);
}

static void
booking_rescheduled(struct ctx *c, struct entry *e, int64_t t, int from)
{
	json_t *o = obj(c);

	js(c, o, "booking_id", e->booking_id);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "from_slot_date", c->date);
	ji(c, o, "from_slot_hour", from);
	js(c, o, "slot_date", c->date);
	ji(c, o, "slot_hour", e->hour);
	js(c, o, "rescheduled_by", "participant");
	js(c, o, "reason", "participant_request");
	js(c, o, "channel", channel_name[e->chan]);
	js(c, o, "device_id", e->bdev);
	js(c, o, "ip", e->bip);
	emit(c, e, SG_BOOK, t, e->chan == CH_APP ? P_APP : P_PORTAL, T_RESCHEDULED, o);
}

static void
nik_check(struct ctx *c, const struct entry *e, int64_t t, const char *result,
    const char *const *fields, size_t nf, int fail)
{
	json_t *o = obj(c), *a;
	size_t i;

	js(c, o, "claim_id", e->claim_id);
	js(c, o, "nik", e->p.nik);
	js(c, o, "source", "dukcapil_online");
	js(c, o, "result", result);
	if (nf > 0) {
		a = json_array();
		for (i = 0; i < nf; i++)
			if (a == NULL || json_array_append_new(a, json_string(fields[i])) != 0)
				c->err = SAKSI_ERR_NOMEM;
		jset(c, o, "mismatched", a);
	}
	emit(c, e, fail ? SG_NIK : 0, t, P_DUKCAPIL, T_NIK, o);
}

/* Civil-registry checks of a claim; returns the time after the last one. */
static int64_t
nik_checks(struct ctx *c, const struct entry *e, int64_t t)
{
	static const char *const guessed[] = { "birth_date", "mother_name", "birth_place",
		"name", "address" };
	const char *f[2];
	int i;

	t += rr(&c->r, 4000, 25000);
	for (i = 0; i < e->nik_fail; i++) {
		/* Someone holding a stolen NIK guesses the data the registry asks for. */
		f[0] = guessed[rr(&c->r, 0, 4)];
		f[1] = guessed[rr(&c->r, 0, 4)];
		nik_check(c, e, t, "mismatch", f, f[0] == f[1] ? 1 : 2, 1);
		t += rr(&c->r, 20000, 150000);
	}
	if (e->nik_typo) {
		f[0] = "name";
		nik_check(c, e, t, "mismatch", f, 1, 0);
		t += rr(&c->r, 60000, 300000);
	}
	if (e->nik_unavail) {
		nik_check(c, e, t, "unavailable", NULL, 0, 0);
		t += rr(&c->r, 30000, 120000);
	}
	if (e->reject == R_NIK) {
		f[0] = "birth_date";
		nik_check(c, e, t, "mismatch", f, 1, 0);
	} else {
		nik_check(c, e, t, "match", NULL, 0, e->nik_fail > 0);
	}
	return t + rr(&c->r, 2000, 8000);
}

static void
scan_hash(struct ctx *c, char out[65])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < 64; i++)
		out[i] = hx[rr(&c->r, 0, 15)];
	out[64] = '\0';
}

/* Checks each document of a claim; returns the time after the last. */
static int64_t
doc_checks(struct ctx *c, struct entry *e, int64_t t, const char *method,
    const char *officer, size_t prod, int64_t step_lo, int64_t step_hi)
{
	int d[D__COUNT];
	size_t n = docs_for(&e->p, d), i, bad = n;
	char hash[65];

	if (e->reject == R_INCOMPLETE)
		bad = (size_t)rr(&c->r, 3, (int64_t)n - 1);
	else if (e->reject == R_NOT_OWN)
		bad = 3; /* the bank book */
	else if (e->reject == R_DATA_MISMATCH)
		bad = 1; /* the family card */
	for (i = 0; i < n; i++) {
		json_t *o = obj(c);
		const char *res = "valid";

		if (i == bad) {
			res = e->reject == R_INCOMPLETE ? "missing" : "mismatch";
			e->missing_doc = d[i];
		}
		else if (chance(&c->r, 0.01))
			res = "illegible"; /* checked again and accepted: see the next line */
		js(c, o, "claim_id", e->claim_id);
		js(c, o, "document", doc_name[d[i]]);
		js(c, o, "method", method);
		js(c, o, "result", res);
		if (officer != NULL)
			js(c, o, "officer_id", officer);
		if (d[i] == D_PAKLARING || d[i] == D_LAYOFF || d[i] == D_CONTRACT)
			js(c, o, "employer_id", e->p.employer);
		if (strcmp(method, "upload_review") == 0 && strcmp(res, "missing") != 0) {
			scan_hash(c, hash);
			js(c, o, "scan_sha256", hash);
		}
		emit(c, e, 0, t, prod, T_DOCUMENT, o);
		t += rr(&c->r, step_lo, step_hi);
		if (strcmp(res, "illegible") == 0) {
			o = obj(c);
			js(c, o, "claim_id", e->claim_id);
			js(c, o, "document", doc_name[d[i]]);
			js(c, o, "method", "counter_original");
			js(c, o, "result", "valid");
			if (officer != NULL)
				js(c, o, "officer_id", officer);
			emit(c, e, 0, t, prod, T_DOCUMENT, o);
			t += rr(&c->r, step_lo, step_hi);
		}
		if (i == bad)
			break; /* the officer stops at the first blocking document */
	}
	return t;
}

static void
submitted(struct ctx *c, struct entry *e, int64_t t, size_t prod, int chan,
    const char *officer)
{
	json_t *o = obj(c), *a;
	int d[D__COUNT];
	size_t n = docs_for(&e->p, d), i;
	char end[16];

	js(c, o, "channel", channel_name[chan]);
	js(c, o, "claim_id", e->claim_id);
	js(c, o, "claim_kind", kind_name[e->p.kind]);
	js(c, o, "nik", e->p.nik);
	js(c, o, "kpj", e->p.kpj);
	js(c, o, "name", e->p.name);
	js(c, o, "phone", e->p.phone);
	js(c, o, "bank_code", e->p.bank);
	js(c, o, "bank_account", e->p.account);
	js(c, o, "account_holder", e->p.holder);
	ju(c, o, "balance", e->p.balance);
	a = json_array();
	for (i = 0; i < n; i++)
		if (a == NULL || json_array_append_new(a, json_string(doc_name[d[i]])) != 0)
			c->err = SAKSI_ERR_NOMEM;
	jset(c, o, "documents", a);
	if (e->p.email[0] != '\0' && chan != CH_COUNTER)
		js(c, o, "email", e->p.email);
	if (e->p.npwp[0] != '\0')
		js(c, o, "npwp", e->p.npwp);
	if (chan == CH_WEB || chan == CH_APP || chan == CH_HR) {
		js(c, o, "device_id", e->bdev);
		js(c, o, "ip", e->bip);
	}
	if (e->booking_id[0] != '\0')
		js(c, o, "booking_id", e->booking_id);
	if (officer != NULL)
		js(c, o, "officer_id", officer);
	if (chan == CH_HR) {
		js(c, o, "partner_id", e->partner);
		js(c, o, "batch_id", e->batch);
	}
	js(c, o, "employer_id", e->p.employer);
	if (e->p.end_day >= 0) {
		fmt_date(e->p.end_day, end);
		js(c, o, "employment_end_date", end);
	}
	ji(c, o, "membership_months", e->p.months);
	if (chan == CH_APP)
		jb(c, o, "liveness_passed", 1);
	emit(c, e, SG_CLAIM, t, prod, T_SUBMITTED, o);
}

static void
decision(struct ctx *c, struct entry *e, int64_t t, size_t prod, const char *officer,
    int by_system)
{
	json_t *o = obj(c);

	js(c, o, "claim_id", e->claim_id);
	if (e->reject < 0) {
		uint64_t amt = amount_of(e);

		js(c, o, "claim_kind", kind_name[e->p.kind]);
		js(c, o, "officer_id", officer);
		ju(c, o, "amount", amt);
		/* Large payouts need a supervisor, except in a scenario that bypasses one. */
		if (amt >= 50000000 && e->scen != SAKSI_SIM_SERVED_WITHOUT_BOOKING)
			js(c, o, "approver_id", c->spv);
		emit(c, e, SG_CLAIM, t, prod, T_APPROVED, o);
		return;
	}
	js(c, o, "by", by_system ? "system" : "officer");
	js(c, o, "reason", reject_name[e->reject]);
	if (!by_system)
		js(c, o, "officer_id", officer);
	if (e->reject == R_INCOMPLETE)
		js(c, o, "document", doc_name[e->missing_doc]);
	emit(c, e, SG_CLAIM, t, prod, T_REJECTED, o);
}

static void
payment(struct ctx *c, struct entry *e, int64_t t)
{
	static const char *const failr[] = { "timeout", "bank_rejected", "limit_exceeded",
		"dormant_account", "account_closed", "name_mismatch" };
	char ref[48];
	json_t *o;
	int attempt = 1;
	uint64_t amt = amount_of(e);

	if (e->reject >= 0)
		return;
	if (e->pay_fail || chance(&c->r, 0.025)) {
		const char *why = PICK(&c->r, failr);
		int retry = strcmp(why, "timeout") == 0 || strcmp(why, "bank_rejected") == 0 ||
		    strcmp(why, "limit_exceeded") == 0;

		o = obj(c);
		js(c, o, "claim_id", e->claim_id);
		ju(c, o, "amount", amt);
		js(c, o, "bank_code", e->p.bank);
		js(c, o, "bank_account", e->p.account);
		js(c, o, "reason", why);
		ji(c, o, "attempt", 1);
		jb(c, o, "will_retry", retry);
		emit(c, e, SG_PAY, t, P_PAY, T_PAY_FAILED, o);
		if (!retry)
			return; /* the participant must give another account: not in this run */
		attempt = 2;
		t += rr(&c->r, 2 * HOUR_MS, 20 * HOUR_MS);
	}
	o = obj(c);
	snprintf(ref, sizeof(ref), "TRF-%s-%s-%05u", c->br->abbr, c->ymd, ++c->n_trf);
	js(c, o, "claim_id", e->claim_id);
	ju(c, o, "amount", amt);
	js(c, o, "bank_code", e->p.bank);
	js(c, o, "bank_account", e->p.account);
	js(c, o, "transfer_ref", ref);
	ji(c, o, "attempt", attempt);
	emit(c, e, SG_PAY, t, P_PAY, T_PAY_SENT, o);
}

/* Branch claims are paid in the evening batch, or the next morning's. */
static int64_t
batch_pay_time(struct ctx *c, int64_t t)
{
	if (hour_of(c, t) < 14 && t < at(c, 1, 0, 0, 0))
		return at(c, 0, 15, 0, 0) + rr(&c->r, 0, 4 * HOUR_MS);
	return at(c, 1, 9, 0, 0) + rr(&c->r, 0, 4 * HOUR_MS);
}

/* A claim taken at a counter: returns when the officer is done. */
static int64_t
counter_claim(struct ctx *c, struct entry *e, int64_t t, const char *officer)
{
	size_t prod = bprod(c, PB_CLAIM);

	claim_new_id(c, e, "JHT");
	t += rr(&c->r, 60000, 240000);
	submitted(c, e, t, prod, CH_COUNTER, officer);
	t = nik_checks(c, e, t);
	if (e->reject != R_NIK)
		t = doc_checks(c, e, t, "counter_original", officer, prod, 20000, 75000);
	t += rr(&c->r, 30000, 150000);
	decision(c, e, t, prod, officer, 0);
	if (e->reject < 0)
		payment(c, e, batch_pay_time(c, t));
	return t + rr(&c->r, 20000, 90000);
}

/* The contactless claim: uploads reviewed before the video call. */
static void
video_preparation(struct ctx *c, struct entry *e)
{
	int64_t t, deadline = at(c, -1, 21, 0, 0), review;

	claim_new_id(c, e, "JHT");
	t = e->t_book + rr(&c->r, 10 * MIN_MS, 30 * HOUR_MS);
	if (t > deadline)
		t = e->t_book + rr(&c->r, 5 * MIN_MS, 40 * MIN_MS);
	submitted(c, e, t, P_CLAIM_WEB, CH_WEB, NULL);
	t = nik_checks(c, e, t);
	review = at(c, -1, 13, 0, 0) + rr(&c->r, 0, 4 * HOUR_MS);
	if (review < t + 10 * MIN_MS)
		review = at(c, 0, 7, 40, 0) + rr(&c->r, 0, 30 * MIN_MS);
	if (review < t + 10 * MIN_MS)
		review = t + rr(&c->r, 10 * MIN_MS, 30 * MIN_MS);
	if (e->reject != R_NIK && e->reject != R_IDENTITY)
		doc_checks(c, e, review, "upload_review", e->officer, P_CLAIM_WEB, 15000, 60000);
}

static int64_t
video_call(struct ctx *c, struct entry *e, int64_t t, const char *officer)
{
	json_t *o = obj(c);
	int fail = e->reject == R_IDENTITY;

	t += rr(&c->r, 2 * MIN_MS, 6 * MIN_MS);
	js(c, o, "claim_id", e->claim_id);
	js(c, o, "method", "video_call");
	js(c, o, "result", fail ? "fail" : "pass");
	if (fail)
		js(c, o, "fail_reason", chance(&c->r, 0.5) ? "third_party_present" :
		    "document_not_shown");
	js(c, o, "officer_id", officer);
	js(c, o, "device_id", e->bdev);
	js(c, o, "ip", e->p.ip);
	emit(c, e, 0, t, P_CLAIM_WEB, T_IDENTITY, o);
	if (!fail && e->reject != R_NIK) {
		t += rr(&c->r, 30000, 120000);
		o = obj(c);
		js(c, o, "claim_id", e->claim_id);
		js(c, o, "document", "ktp");
		js(c, o, "method", "video_shown");
		js(c, o, "result", "valid");
		js(c, o, "officer_id", officer);
		emit(c, e, 0, t, P_CLAIM_WEB, T_DOCUMENT, o);
	}
	t += rr(&c->r, 2 * MIN_MS, 8 * MIN_MS);
	decision(c, e, t, P_CLAIM_WEB, officer, 0);
	if (e->reject < 0)
		payment(c, e, batch_pay_time(c, t));
	return t + rr(&c->r, 20000, 60000);
}

/* A claim made entirely in the mobile app: selfie, checks, payout in minutes. */
static void
app_claim(struct ctx *c, struct entry *e)
{
	int64_t t = e->t_claim;
	json_t *o;
	int fail = e->reject == R_IDENTITY;

	eligibility(c, e, t - rr(&c->r, 60000, 10 * MIN_MS), P_CLAIM_APP, CH_APP, "eligible",
	    NULL, e->bdev, e->bip);
	claim_new_id(c, e, "JHTA");
	submitted(c, e, t, P_CLAIM_APP, CH_APP, NULL);
	t += rr(&c->r, 5000, 20000);
	o = obj(c);
	js(c, o, "claim_id", e->claim_id);
	js(c, o, "method", "selfie_liveness");
	js(c, o, "result", fail ? "fail" : "pass");
	if (fail)
		js(c, o, "fail_reason", chance(&c->r, 0.5) ? "face_mismatch" : "liveness_failed");
	js(c, o, "device_id", e->bdev);
	js(c, o, "ip", e->bip);
	ji(c, o, "liveness_score", fail ? rr(&c->r, 10, 60) : rr(&c->r, 80, 99));
	ji(c, o, "face_match_score", fail ? rr(&c->r, 20, 70) : rr(&c->r, 80, 99));
	emit(c, e, 0, t, P_CLAIM_APP, T_IDENTITY, o);
	if (!fail) {
		t = nik_checks(c, e, t);
		if (e->reject != R_NIK) {
			o = obj(c);
			js(c, o, "claim_id", e->claim_id);
			js(c, o, "document", "ktp");
			js(c, o, "method", "ocr");
			js(c, o, "result", "valid");
			emit(c, e, 0, t, P_CLAIM_APP, T_DOCUMENT, o);
		}
	}
	t += rr(&c->r, 40000, 4 * MIN_MS);
	decision(c, e, t, P_CLAIM_APP, "SYS-APP", 1);
	payment(c, e, t + rr(&c->r, 2 * MIN_MS, 15 * MIN_MS));
}

/* A claim filed by a partner HR office; the branch reviews it the next working hours. */
static void
hr_claim(struct ctx *c, struct entry *e)
{
	int64_t t = e->t_claim, rev;

	claim_new_id(c, e, "JHTK");
	submitted(c, e, t, P_HR, CH_HR, NULL);
	t = nik_checks(c, e, t);
	rev = at(c, 0, 8, 30, 0) + rr(&c->r, 0, 6 * HOUR_MS);
	if (rev < t)
		rev = t + rr(&c->r, 30 * MIN_MS, 2 * HOUR_MS);
	rev = doc_checks(c, e, rev, "upload_review", c->video[0], P_CLAIM_WEB, 10000, 45000);
	rev += rr(&c->r, 60000, 5 * MIN_MS);
	decision(c, e, rev, P_CLAIM_WEB, c->video[0], 0);
	payment(c, e, batch_pay_time(c, rev));
}

/* ---- booking allocation: bookings, cancellations and reschedules in time order ---- */

enum { A_ATTEMPT, A_CANCEL, A_RESCHED, A_QUOTA };

struct action {
	int64_t t;
	int kind;
	int e;
	uint32_t order;
};

struct actions {
	struct action *a;
	size_t n, cap;
	uint32_t order;
};

static void
act_add(struct ctx *c, struct actions *q, int64_t t, int kind, int e)
{
	if (q->n == q->cap) {
		size_t nc = q->cap ? 2 * q->cap : 256;
		struct action *na = realloc(q->a, nc * sizeof(*na));

		if (na == NULL) {
			c->err = SAKSI_ERR_NOMEM;
			return;
		}
		q->a = na;
		q->cap = nc;
	}
	q->a[q->n].t = t;
	q->a[q->n].kind = kind;
	q->a[q->n].e = e;
	q->a[q->n].order = q->order++;
	q->n++;
}

static int
act_pop(struct actions *q, struct action *out)
{
	size_t i, best = 0;

	if (q->n == 0)
		return 0;
	for (i = 1; i < q->n; i++)
		if (q->a[i].t < q->a[best].t ||
		    (q->a[i].t == q->a[best].t && q->a[i].order < q->a[best].order))
			best = i;
	*out = q->a[best];
	q->a[best] = q->a[--q->n];
	return 1;
}

static int
choose_hour(struct ctx *c, struct entry *e)
{
	static const int pref_w[NHOURS] = { 14, 18, 17, 13, 7, 14, 10 };
	int want, k, h;

	if (e->force_hour >= 0)
		return e->force_hour;
	want = e->pref_hour >= 0 ? e->pref_hour : OPEN_HOUR + weighted(&c->r, pref_w, NHOURS);
	for (k = 0; k < NHOURS; k++) {
		h = OPEN_HOUR + (want - OPEN_HOUR + k) % NHOURS;
		if (e->over_quota && h > hour_of(c, e->t_book))
			return h;
		if (c->booked[h] < c->cap_h)
			return h;
	}
	return -1;
}

static void
allocate(struct ctx *c)
{
	struct actions q = { 0 };
	struct action a;
	size_t i;

	for (i = 0; i < c->nen; i++)
		if (c->en[i].how == E_BOOKED && !c->en[i].deferred)
			act_add(c, &q, c->en[i].t_book, A_ATTEMPT, (int)i);
	if (c->ov_t != 0)
		act_add(c, &q, c->ov_t, A_QUOTA, -1);
	while (c->err == SAKSI_OK && act_pop(&q, &a)) {
		struct entry *e = a.e >= 0 ? &c->en[a.e] : NULL;

		if (a.kind == A_QUOTA) {
			/* An extra officer for the day: the supervisor opens more places, the head
			 * of the branch approves, and the portal sells them like any others. */
			json_t *o = obj(c);
			char head[16];

			snprintf(head, sizeof(head), "%s-401", c->br->abbr);
			js(c, o, "officer_id", c->spv);
			js(c, o, "service", "jht_claim");
			js(c, o, "slot_date", c->date);
			ji(c, o, "quota_before", c->quota);
			ji(c, o, "quota_after", c->quota + NHOURS * c->ov_delta);
			js(c, o, "reason", "extra_officer");
			js(c, o, "approver_id", head);
			emit(c, NULL, 0, a.t, bprod(c, PB_STAFF), T_QUOTA, o);
			c->cap_h += c->ov_delta;
			c->quota += NHOURS * c->ov_delta;
		} else if (a.kind == A_ATTEMPT) {
			int h = choose_hour(c, e);

			if (h < 0)
				continue; /* full: this person will not come */
			e->hour = h;
			c->booked[h]++;
			if (e->line == L_JHT && e->chan == CH_WEB && e->scen < 0 &&
			    c->video_booked[h] < 3 * c->nvideo && chance(&c->r, 0.3)) {
				e->video = 1;
				e->line = L_VIDEO;
			}
			if (e->video)
				c->video_booked[h]++;
			if (e->precheck)
				eligibility(c, e, e->t_book - rr(&c->r, 30000, 15 * MIN_MS),
				    e->chan == CH_APP ? P_CLAIM_APP : P_CLAIM_WEB, e->chan,
				    "eligible", NULL, e->bdev, e->bip);
			booking_created(c, e, e->t_book);
			if (e->cancel_plan) {
				int64_t t = e->t_cancel;

				if (t <= e->t_book) {
					t = e->t_book + rr(&c->r, 20 * MIN_MS, 40 * HOUR_MS);
					if (t > at(c, -1, 21, 0, 0))
						t = e->t_book + rr(&c->r, 5 * MIN_MS, 20 * MIN_MS);
				}
				if (e->cancel_plan == 2)
					t = at(c, -1, 18, 0, 0) + rr(&c->r, 0, 60000);
				if (t <= e->t_book)
					t = e->t_book + 60000;
				e->t_cancel = t;
				act_add(c, &q, t, A_CANCEL, a.e);
				if (e->rebook >= 0) {
					c->en[e->rebook].force_hour = h;
					c->en[e->rebook].t_book = t + e->rebook_delay;
					act_add(c, &q, t + e->rebook_delay, A_ATTEMPT, e->rebook);
				}
			} else if (e->resched_plan) {
				/* Moving needs a free hour: people fix the hour soon after booking. */
				int64_t t = e->t_book + rr(&c->r, 2 * MIN_MS, 40 * MIN_MS);

				if (t < at(c, -1, 22, 0, 0))
					act_add(c, &q, t, A_RESCHED, a.e);
			}
		} else if (a.kind == A_CANCEL) {
			c->booked[e->hour]--;
			if (e->video)
				c->video_booked[e->hour]--;
			e->cancelled = 1;
			booking_cancelled(c, e, a.t);
		} else {
			int from = e->hour, k, h = -1;

			for (k = 1; k < NHOURS; k++) {
				int cand = OPEN_HOUR + (from - OPEN_HOUR + k * 3) % NHOURS;

				if (cand != from && c->booked[cand] < c->cap_h &&
				    (!e->video || c->video_booked[cand] < 3 * c->nvideo)) {
					h = cand;
					break;
				}
			}
			if (h < 0)
				continue;
			c->booked[from]--;
			c->booked[h]++;
			if (e->video) {
				c->video_booked[from]--;
				c->video_booked[h]++;
			}
			e->hour = h;
			booking_rescheduled(c, e, a.t, from);
		}
	}
	free(q.a);
}

/* ---- the service day: tickets, calls, service ---- */

struct ticket {
	int e;
	int64_t t_in;
};

static int
ticket_cmp(const void *a, const void *b)
{
	const struct ticket *x = a, *y = b;

	if (x->t_in != y->t_in)
		return x->t_in < y->t_in ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

static void
called(struct ctx *c, const struct entry *e, int64_t t, const struct counter *k, int count,
    int waiting_before, int jumped)
{
	json_t *o = obj(c);

	js(c, o, "queue_date", c->date);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "ticket", e->ticket);
	ji(c, o, "ticket_seq", e->seq);
	js(c, o, "officer_id", k->officer);
	ji(c, o, "counter_no", k->no);
	ji(c, o, "call_count", count);
	if (e->booking_id[0] != '\0')
		js(c, o, "booking_id", e->booking_id);
	js(c, o, "priority", e->prio && t >= e->t_prio ? "priority" : "normal");
	ji(c, o, "waiting_before", waiting_before);
	emit(c, e, jumped ? SG_CALL : 0, t, bprod(c, PB_COUNTER), T_CALLED, o);
}

static void
service_event(struct ctx *c, const struct entry *e, int64_t t, const struct counter *k,
    int type, const char *outcome, int64_t start, int jumped)
{
	json_t *o = obj(c);

	js(c, o, "queue_date", c->date);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "ticket", e->ticket);
	js(c, o, "officer_id", k->officer);
	if (type == T_STARTED) {
		js(c, o, "mode", e->video ? "video" : "in_person");
	} else {
		js(c, o, "outcome", outcome);
		ji(c, o, "duration_s", (t - start) / 1000);
	}
	ji(c, o, "counter_no", k->no);
	if (e->booking_id[0] != '\0')
		js(c, o, "booking_id", e->booking_id);
	if (type == T_ENDED && e->claim_id[0] != '\0')
		js(c, o, "claim_id", e->claim_id);
	emit(c, e, jumped ? SG_CALL : 0, t, bprod(c, PB_COUNTER), type, o);
}

static void
noshow(struct ctx *c, const struct entry *e, int64_t t, const char *stage,
    const char *officer)
{
	json_t *o = obj(c);

	js(c, o, "booking_id", e->booking_id);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "slot_date", c->date);
	ji(c, o, "slot_hour", e->hour);
	js(c, o, "stage", stage);
	if (e->ticket[0] != '\0')
		js(c, o, "ticket", e->ticket);
	if (officer != NULL)
		js(c, o, "officer_id", officer);
	emit(c, e, SG_NOSHOW, t, bprod(c, PB_COUNTER), T_NOSHOW, o);
}

/* Serves one ticket at counter k from time t; returns when the counter is free again. */
static int64_t
serve(struct ctx *c, struct entry *e, struct counter *k, int64_t t, int waiting_before,
    int jumped)
{
	int64_t start, end;
	const char *outcome = "completed";

	called(c, e, t, k, 1, waiting_before, jumped);
	if (e->noshow == 2) {
		called(c, e, t + rr(&c->r, 50000, 70000), k, 2, 0, 0);
		called(c, e, t + rr(&c->r, 110000, 130000), k, 3, 0, 0);
		noshow(c, e, t + rr(&c->r, 170000, 200000), "absent_when_called", k->officer);
		return t + rr(&c->r, 200000, 240000);
	}
	start = t + rr(&c->r, 15000, 90000);
	service_event(c, e, start, k, T_STARTED, NULL, start, jumped);
	switch (e->line) {
	case L_JHT:
		scopy(e->officer, sizeof(e->officer), k->officer);
		end = counter_claim(c, e, start, k->officer);
		if (e->reject == R_INCOMPLETE)
			outcome = "documents_incomplete";
		else if (e->reject >= 0)
			outcome = "rejected";
		break;
	case L_VIDEO:
		end = video_call(c, e, start, k->officer);
		if (e->reject >= 0)
			outcome = "rejected";
		break;
	default:
		end = start + rr(&c->r, e->line == L_BENEFIT ? 5 * MIN_MS : 3 * MIN_MS,
		    e->line == L_BENEFIT ? 15 * MIN_MS : 9 * MIN_MS);
		if (chance(&c->r, 0.04))
			outcome = "referred";
		else if (chance(&c->r, 0.04))
			outcome = "documents_incomplete";
		break;
	}
	service_event(c, e, end, k, T_ENDED, outcome, start, jumped);
	return end + rr(&c->r, 10000, 60000);
}

static int
may_serve(const struct counter *k, const struct entry *e, const char *ooo_officer)
{
	if (e->line != k->line || e->done)
		return 0;
	/* A broker's client is kept for the officer who was paid. */
	if (e->ooo && (ooo_officer == NULL || strcmp(k->officer, ooo_officer) != 0))
		return 0;
	return 1;
}

static void
run_queue(struct ctx *c, struct ticket *tk, size_t ntk, struct counter *k, size_t nk,
    const char *ooo_officer)
{
	size_t i, j;

	for (;;) {
		struct counter *cur = NULL;
		size_t pick = ntk, prio = ntk, mine = ntk;
		int64_t next = INT64_MAX;
		int waiting = 0;

		if (c->err != SAKSI_OK)
			return;
		for (i = 0; i < nk; i++)
			if (k[i].active && (cur == NULL || k[i].free_at < cur->free_at))
				cur = &k[i];
		if (cur == NULL)
			return;
		if (!cur->lunch && cur->free_at >= at(c, 0, 12, 0, 0)) {
			cur->lunch = 1;
			cur->free_at += rr(&c->r, 30 * MIN_MS, 45 * MIN_MS);
			continue;
		}
		for (i = 0; i < ntk; i++) {
			struct entry *e = &c->en[tk[i].e];

			if (!may_serve(cur, e, ooo_officer))
				continue;
			if (tk[i].t_in > cur->free_at) {
				if (tk[i].t_in < next)
					next = tk[i].t_in;
				continue;
			}
			if (pick == ntk)
				pick = i;
			if (prio == ntk && e->prio && cur->free_at >= e->t_prio)
				prio = i;
			if (mine == ntk && e->ooo)
				mine = i;
		}
		if (pick == ntk) {
			if (next == INT64_MAX)
				cur->active = 0;
			else
				cur->free_at = next + rr(&c->r, 5000, 40000);
			continue;
		}
		if (mine != ntk)
			pick = mine;
		else if (prio != ntk)
			pick = prio;
		for (j = 0; j < pick; j++)
			if (tk[j].t_in <= cur->free_at && c->en[tk[j].e].line == cur->line &&
			    !c->en[tk[j].e].done)
				waiting++;
		c->en[tk[pick].e].done = 1;
		cur->free_at = serve(c, &c->en[tk[pick].e], cur, cur->free_at, waiting,
		    mine != ntk && waiting > 0);
	}
}

static void
checkin(struct ctx *c, struct entry *e)
{
	json_t *o = obj(c);
	int app = e->app_checkin, reader = 0;

	js(c, o, "channel", app ? "app" : "kiosk");
	js(c, o, "queue_date", c->date);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "ticket", e->ticket);
	ji(c, o, "ticket_seq", e->seq);
	jb(c, o, "walk_in", e->how == E_WALKIN);
	if (app) {
		js(c, o, "id_method", "qr_only");
		js(c, o, "id_result", "not_checked");
	} else if (e->svc == SV_INFO && chance(&c->r, 0.5)) {
		js(c, o, "id_method", "none");
		js(c, o, "id_result", "not_checked");
	} else {
		reader = 1;
		js(c, o, "id_method", "ektp_reader");
		js(c, o, "id_result", "match");
	}
	if (e->booking_id[0] != '\0') {
		js(c, o, "booking_id", e->booking_id);
		ji(c, o, "slot_hour", e->hour);
	}
	if (reader)
		js(c, o, "nik", e->p.nik);
	if (!app) {
		char term[32];

		snprintf(term, sizeof(term), "%s-KIOSK-%d", c->br->abbr, (int)rr(&c->r, 1, 2));
		js(c, o, "terminal_id", e->terminal[0] != '\0' ? e->terminal : term);
	}
	emit(c, e, 0, e->t_in, app ? P_APP : bprod(c, PB_KIOSK), T_CHECKIN, o);
}

static void
staff_login(struct ctx *c, const char *officer, const char *role, const char *term,
    int64_t t)
{
	json_t *o;

	if (chance(&c->r, 0.03)) {
		o = obj(c);
		js(c, o, "officer_id", officer);
		js(c, o, "role", role);
		js(c, o, "method", "password_otp");
		js(c, o, "result", "bad_credentials");
		js(c, o, "terminal_id", term);
		js(c, o, "ip", c->br->ip);
		emit(c, NULL, 0, t - rr(&c->r, 20000, 90000), bprod(c, PB_STAFF), T_LOGIN, o);
	}
	o = obj(c);
	js(c, o, "officer_id", officer);
	js(c, o, "role", role);
	js(c, o, "method", chance(&c->r, 0.7) ? "password_otp" : "smartcard");
	js(c, o, "result", "success");
	js(c, o, "terminal_id", term);
	js(c, o, "ip", c->br->ip);
	emit(c, NULL, 0, t, bprod(c, PB_STAFF), T_LOGIN, o);
}

static void
priority_change(struct ctx *c, struct entry *e)
{
	json_t *o = obj(c);

	js(c, o, "officer_id", c->spv);
	js(c, o, "queue_date", c->date);
	js(c, o, "service", service_name[e->svc]);
	js(c, o, "ticket", e->ticket);
	js(c, o, "priority_before", "normal");
	js(c, o, "priority_after", "priority");
	js(c, o, "reason", e->p.age >= 60 ? "elderly" : e->p.female && e->p.age < 40 ?
	    "pregnant" : "disability");
	if (e->booking_id[0] != '\0')
		js(c, o, "booking_id", e->booking_id);
	js(c, o, "approver_id", c->spv);
	emit(c, e, 0, e->t_prio, bprod(c, PB_STAFF), T_PRIORITY, o);
}

static int
line_counters(size_t n, int minutes_each, int min)
{
	int k = (int)((n * (size_t)minutes_each + 399) / 400);

	return k < min ? min : k;
}

/* Arrival, tickets, calls and service for everyone who comes to the branch on the day. */
static void
service_day(struct ctx *c, const char *ooo_officer)
{
	struct ticket *tk;
	struct counter k[16];
	size_t ntk = 0, i, nk = 0, per[L__COUNT] = { 0 };
	int seq[L__COUNT] = { 0 }, l, n, r = 0;
	char term[L__COUNT][8][24];

	tk = calloc(c->nen + 1, sizeof(*tk));
	if (tk == NULL) {
		c->err = SAKSI_ERR_NOMEM;
		return;
	}
	for (i = 0; i < c->nen; i++) {
		struct entry *e = &c->en[i];

		if (e->how == E_BOOKED && (e->hour < 0 || e->cancelled))
			continue;
		if (e->how != E_BOOKED && e->how != E_WALKIN)
			continue;
		if (e->how == E_BOOKED && e->video) {
			/* The video room opens at the slot hour; people wait in it in order. */
			e->t_in = at(c, 0, e->hour, 0, 0) + rr(&c->r, 0, 20 * MIN_MS);
		} else if (e->how == E_BOOKED) {
			if (e->noshow == 1)
				continue;
			e->app_checkin = chance(&c->r, 0.15);
			e->t_in = at(c, 0, e->hour, 0, 0) + (int64_t)(gauss(&c->r) * 15 * MIN_MS) -
			    10 * MIN_MS;
			if (e->t_in < at(c, 0, e->hour - 1, 0, 0))
				e->t_in = at(c, 0, e->hour - 1, 0, 0) + rr(&c->r, 0, 600000);
			if (e->t_in > at(c, 0, e->hour, 50, 0))
				e->t_in = at(c, 0, e->hour, 50, 0) - rr(&c->r, 0, 600000);
			if (e->t_in < at(c, 0, 7, 30, 0))
				e->t_in = at(c, 0, 7, 30, 0) + rr(&c->r, 0, 900000);
		}
		tk[ntk].e = (int)i;
		tk[ntk].t_in = e->t_in;
		ntk++;
		per[e->line]++;
	}
	qsort(tk, ntk, sizeof(*tk), ticket_cmp);
	for (i = 0; i < ntk; i++) {
		struct entry *e = &c->en[tk[i].e];

		e->seq = ++seq[e->line];
		snprintf(e->ticket, sizeof(e->ticket), "%s-%03d", line_prefix[e->line], e->seq);
		/*
		 * A JHT claim is tied to the ID card: the kiosk registers a walk-in with the
		 * e-KTP as a booking for the current hour, so the claim has a booking too.
		 */
		if (e->how == E_WALKIN && e->svc == SV_JHT) {
			int h = hour_of(c, e->t_in);

			e->hour = h < OPEN_HOUR ? OPEN_HOUR : h > OPEN_HOUR + NHOURS - 1 ?
			    OPEN_HOUR + NHOURS - 1 : h;
			snprintf(e->terminal, sizeof(e->terminal), "%s-KIOSK-%d", c->br->abbr,
			    (int)rr(&c->r, 1, 2));
			booking_created(c, e, e->t_in - rr(&c->r, 20000, 90000));
		}
		if (e->line != L_VIDEO)
			checkin(c, e);
		if (e->line == L_JHT && e->scen < 0 && ((e->p.age >= 60 && chance(&c->r, 0.6)) ||
		    chance(&c->r, 0.02))) {
			e->prio = 1;
			e->t_prio = e->t_in + rr(&c->r, 30000, 180000);
			priority_change(c, e);
		}
	}
	/* Bookings nobody checked in for are marked after their hour. */
	for (i = 0; i < c->nen; i++) {
		struct entry *e = &c->en[i];

		if (e->how == E_BOOKED && e->hour >= 0 && !e->cancelled && e->noshow == 1 &&
		    !e->video)
			noshow(c, e, at(c, 0, e->hour + 1, 5, 0) + rr(&c->r, 0, 10 * MIN_MS),
			    "not_checked_in", NULL);
	}
	/* Counters, staffed for the day's load, and the officers' logins. */
	for (l = 0; l < L__COUNT; l++) {
		int want = l == L_JHT ? line_counters(per[l], 9, 3) :
		    l == L_BENEFIT ? line_counters(per[l], 10, 1) :
		    l == L_ADMIN ? line_counters(per[l], 6, 1) : c->nvideo;

		for (n = 0; n < want && nk < 16; n++) {
			struct counter *x = &k[nk];

			x->line = l;
			x->no = l == L_VIDEO ? 20 + n : (int)nk + 1;
			x->lunch = 0;
			x->active = 1;
			x->free_at = at(c, 0, 8, 0, 0) + rr(&c->r, 0, 120000);
			if (l == L_VIDEO) {
				x->officer = c->video[n % 3];
				snprintf(term[l][n % 8], sizeof(term[l][n % 8]), "%s-VB-%02d",
				    c->br->abbr, n + 1);
				staff_login(c, x->officer, "video_officer", term[l][n % 8],
				    at(c, 0, 7, 30, 0) + rr(&c->r, 0, 25 * MIN_MS));
			} else {
				x->officer = c->roster[r++ % 12];
				snprintf(term[l][n % 8], sizeof(term[l][n % 8]), "%s-PC-%02d",
				    c->br->abbr, x->no);
				staff_login(c, x->officer, "frontliner", term[l][n % 8],
				    at(c, 0, 7, 30, 0) + rr(&c->r, 0, 25 * MIN_MS));
			}
			nk++;
		}
	}
	snprintf(term[0][7], sizeof(term[0][7]), "%s-PC-SPV", c->br->abbr);
	staff_login(c, c->spv, "supervisor", term[0][7],
	    at(c, 0, 7, 20, 0) + rr(&c->r, 0, 30 * MIN_MS));
	run_queue(c, tk, ntk, k, nk, ooo_officer);
	free(tk);
}

/* ---- scenarios ---- */

struct scen_ctx {
	const char *ooo_officer;
	char ooo_buf[16];
};

static json_t *
key1(const char *k, const char *v)
{
	return json_pack("{ss}", k, v);
}

static void
sc_device_many(struct ctx *c)
{
	struct rng *r = &c->r;
	char dev[40], ips[4][40];
	int app = chance(r, 0.5), nip = (int)rr(r, 2, 4), k = (int)rr(r, 6, 14), i;
	int64_t t = c->open + rr(r, 2 * MIN_MS, HOUR_MS);
	uint32_t id;

	hexid(r, dev, app ? "app-" : "web-", 16);
	for (i = 0; i < nip; i++)
		ip_from(r, mobile_block[rr(r, 0, 5)], ips[i]);
	id = new_inst(c, SAKSI_SIM_DEVICE_MANY_NIK, key1("device_id", dev));
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_DEVICE_MANY_NIK, id,
		    SG_BOOK);

		if (e == NULL)
			return;
		online(e, app ? CH_APP : CH_WEB);
		scopy(e->bdev, sizeof(e->bdev), dev);
		scopy(e->bip, sizeof(e->bip), ips[i % nip]);
		/* A second session the next day, when the first one has used its clients. */
		if (k >= 12 && i == k / 2 && chance(r, 0.5))
			t = c->open + rr(r, HOUR_MS + 30 * MIN_MS, 2 * HOUR_MS);
		e->t_book = t;
		t += rr(r, 40000, 300000);
	}
}

static void
sc_phone_many(struct ctx *c)
{
	struct rng *r = &c->r;
	char phone[16], dev[3][40];
	int ndev = (int)rr(r, 1, 3), k = (int)rr(r, 5, 12), i;
	uint32_t id;

	make_phone(r, phone);
	for (i = 0; i < ndev; i++)
		hexid(r, dev[i], "web-", 16);
	id = new_inst(c, SAKSI_SIM_PHONE_MANY_NIK, key1("phone", phone));
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_PHONE_MANY_NIK, id,
		    SG_BOOK | SG_CLAIM);

		if (e == NULL)
			return;
		online(e, CH_WEB);
		/* The broker gives his own number, so the SMS with time and officer is his. */
		scopy(e->p.phone, sizeof(e->p.phone), phone);
		scopy(e->bdev, sizeof(e->bdev), dev[i % ndev]);
		e->t_book = early_book_time(c, 2 * HOUR_MS);
	}
}

static void
sc_account_many(struct ctx *c)
{
	struct rng *r = &c->r;
	struct person nominee;
	char dev[3][40];
	int ndev = (int)rr(r, 2, 3), k = (int)rr(r, 4, 10), i;
	json_t *key;
	uint32_t id;

	make_person(c, &nominee, -1, 1);
	for (i = 0; i < ndev; i++)
		hexid(r, dev[i], "app-", 16);
	key = json_pack("{ssss}", "bank_code", nominee.bank, "bank_account", nominee.account);
	id = new_inst(c, SAKSI_SIM_ACCOUNT_MANY_CLAIMANTS, key);
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_APP_CLAIM, SV_JHT,
		    SAKSI_SIM_ACCOUNT_MANY_CLAIMANTS, id, SG_CLAIM | SG_PAY);

		if (e == NULL)
			return;
		online(e, CH_APP);
		if (e->p.balance >= 15000000)
			e->p.balance = (uint64_t)rr(r, 2000000, 14900000);
		scopy(e->p.bank, sizeof(e->p.bank), nominee.bank);
		scopy(e->p.account, sizeof(e->p.account), nominee.account);
		/* The account "in the participant's name" the broker promised is not theirs. */
		if (chance(r, 0.5))
			scopy(e->p.holder, sizeof(e->p.holder), nominee.name);
		scopy(e->bdev, sizeof(e->bdev), dev[i % ndev]);
		e->t_claim = at(c, 0, 7, 0, 0) + rr(r, 0, 14 * HOUR_MS);
	}
}

static void
sc_cancel_rebook(struct ctx *c)
{
	struct rng *r = &c->r;
	char dev[40], ip[40];
	int pairs = (int)rr(r, 1, 3), i;
	uint32_t id;
	json_t *key;

	hexid(r, dev, "web-", 16);
	ip_from(r, mobile_block[rr(r, 0, 5)], ip);
	key = json_pack("{ssss}", "device_id", dev, "slot_date", c->date);
	id = new_inst(c, SAKSI_SIM_CANCEL_REBOOK, key);
	for (i = 0; i < pairs; i++) {
		struct entry *a = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_CANCEL_REBOOK, id,
		    SG_CANCEL);
		struct entry *b;
		int ai;

		if (a == NULL)
			return;
		ai = (int)(c->nen - 1);
		online(a, CH_WEB);
		scopy(a->bdev, sizeof(a->bdev), dev);
		scopy(a->bip, sizeof(a->bip), ip);
		a->t_book = c->open + rr(r, 20000, 2 * HOUR_MS);
		a->pref_hour = (int)rr(r, 8, 10);
		a->cancel_plan = 1;
		a->t_cancel = at(c, -2, 8, 0, 0) + rr(r, 0, 36 * HOUR_MS);
		b = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_CANCEL_REBOOK, id, SG_BOOK);
		if (b == NULL)
			return;
		a = &c->en[ai]; /* new_entry may have moved the array */
		online(b, CH_WEB);
		scopy(b->bdev, sizeof(b->bdev), dev);
		scopy(b->bip, sizeof(b->bip), chance(r, 0.5) ? ip : b->p.ip);
		b->deferred = 1;
		a->rebook = (int)(c->nen - 1);
		a->rebook_delay = rr(r, 300, 4000);
	}
}

static void
sc_bot_opening(struct ctx *c)
{
	struct rng *r = &c->r;
	char dev[3][40], ip[2][40];
	int ndev = (int)rr(r, 1, 3), nip = (int)rr(r, 1, 2), k = (int)rr(r, 10, 25), i;
	int64_t t = c->open + rr(r, 30, 120), step = 850 / k;
	json_t *key, *devs, *ips;
	uint32_t id;

	devs = json_array();
	ips = json_array();
	for (i = 0; i < ndev; i++) {
		hexid(r, dev[i], "web-", 16);
		json_array_append_new(devs, json_string(dev[i]));
	}
	for (i = 0; i < nip; i++) {
		ip_from(r, hosting_block[rr(r, 0, 5)], ip[i]);
		json_array_append_new(ips, json_string(ip[i]));
	}
	key = json_pack("{sssoso}", "slot_date", c->date, "device_ids", devs, "ips", ips);
	id = new_inst(c, SAKSI_SIM_BOT_OPENING, key);
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_BOT_OPENING, id,
		    SG_BOOK);

		if (e == NULL)
			return;
		online(e, CH_WEB);
		scopy(e->bdev, sizeof(e->bdev), dev[i % ndev]);
		scopy(e->bip, sizeof(e->bip), ip[i % nip]);
		e->t_book = t;
		e->pref_hour = (int)rr(r, 8, 10);
		if (chance(r, 0.2))
			e->noshow = 1;
		t += rr(r, 5, step > 5 ? step : 6);
	}
}

static void
sc_out_of_order(struct ctx *c, struct scen_ctx *sc)
{
	struct rng *r = &c->r;
	int k = (int)rr(r, 3, 6), i;
	/* They come when the morning queue is longest, and do not wait in it. */
	int64_t t = at(c, 0, 8, 10, 0) + rr(r, 0, 30 * MIN_MS);
	uint32_t id;

	if (sc->ooo_officer == NULL) {
		scopy(sc->ooo_buf, sizeof(sc->ooo_buf), c->roster[rr(r, 0, 2)]);
		sc->ooo_officer = sc->ooo_buf;
	}
	id = new_inst(c, SAKSI_SIM_OUT_OF_ORDER, key1("officer_id", sc->ooo_officer));
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_WALKIN, SV_JHT, SAKSI_SIM_OUT_OF_ORDER, id,
		    SG_CALL);

		if (e == NULL)
			return;
		e->ooo = 1;
		e->chan = CH_KIOSK;
		e->t_in = t;
		t += rr(r, 6 * MIN_MS, 15 * MIN_MS);
	}
}

static void
sc_served_without_booking(struct ctx *c)
{
	struct rng *r = &c->r;
	const char *officer = c->roster[rr(r, 0, 2)];
	int k = (int)rr(r, 2, 6), i;
	uint32_t id = new_inst(c, SAKSI_SIM_SERVED_WITHOUT_BOOKING, key1("officer_id", officer));

	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_COUNTER_ONLY, SV_JHT,
		    SAKSI_SIM_SERVED_WITHOUT_BOOKING, id, SG_CLAIM);

		if (e == NULL)
			return;
		scopy(e->officer, sizeof(e->officer), officer);
		e->t_claim = at(c, 0, 9, 0, 0) + rr(r, 0, 6 * HOUR_MS);
	}
}

static void
sc_quota_override(struct ctx *c)
{
	struct rng *r = &c->r;
	const char *officer = c->roster[rr(r, 0, 3)];
	int k = (int)rr(r, 3, 8), i;
	int64_t t = at(c, 0, 8, 5, 0) + rr(r, 0, 80 * MIN_MS);
	uint32_t id;
	json_t *o, *key;

	key = json_pack("{ssss}", "officer_id", officer, "slot_date", c->date);
	id = new_inst(c, SAKSI_SIM_QUOTA_OVERRIDE, key);
	o = obj(c);
	js(c, o, "officer_id", officer);
	js(c, o, "service", "jht_claim");
	js(c, o, "slot_date", c->date);
	ji(c, o, "quota_before", c->quota);
	ji(c, o, "quota_after", c->quota + k);
	js(c, o, "reason", chance(r, 0.5) ? "rush" : "other");
	emit_raw(c, t, bprod(c, PB_STAFF), T_QUOTA, SAKSI_SIM_QUOTA_OVERRIDE, id, 1, o);
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_QUOTA_OVERRIDE, id,
		    SG_BOOK);

		if (e == NULL)
			return;
		e->chan = CH_COUNTER;
		snprintf(e->terminal, sizeof(e->terminal), "%s-PC-%s", c->br->abbr, officer +
		    strlen(c->br->abbr) + 1);
		t += rr(r, 60000, 400000);
		e->t_book = t;
		e->over_quota = 1;
		e->pref_hour = hour_of(c, t) + 1 + (int)rr(r, 0, 2);
		if (e->pref_hour > OPEN_HOUR + NHOURS - 1)
			e->pref_hour = OPEN_HOUR + NHOURS - 1;
		e->force_hour = e->pref_hour;
	}
}

static void
sc_nik_retry(struct ctx *c)
{
	struct entry *e;
	uint32_t id;

	e = new_entry(c, E_APP_CLAIM, SV_JHT, SAKSI_SIM_NIK_CHECK_RETRY, 0, SG_NIK);
	if (e == NULL)
		return;
	id = new_inst(c, SAKSI_SIM_NIK_CHECK_RETRY, key1("nik", e->p.nik));
	e = &c->en[c->nen - 1];
	e->inst = id;
	online(e, CH_APP);
	if (e->p.balance >= 15000000)
		e->p.balance = (uint64_t)rr(&c->r, 2000000, 14900000);
	e->nik_fail = (int)rr(&c->r, 3, 6);
	e->t_claim = at(c, 0, 6, 0, 0) + rr(&c->r, 0, 16 * HOUR_MS);
}

static void
sc_noshow_source(struct ctx *c)
{
	struct rng *r = &c->r;
	char dev[40], ip[40];
	int k = (int)rr(r, 8, 15), i;
	uint32_t id;

	hexid(r, dev, "web-", 16);
	ip_from(r, mobile_block[rr(r, 0, 5)], ip);
	id = new_inst(c, SAKSI_SIM_NOSHOW_SOURCE, json_pack("{ssss}", "device_id", dev, "ip",
	    ip));
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_NOSHOW_SOURCE, id,
		    SG_BOOK | SG_NOSHOW);

		if (e == NULL)
			return;
		online(e, CH_WEB);
		scopy(e->bdev, sizeof(e->bdev), dev);
		scopy(e->bip, sizeof(e->bip), ip);
		e->t_book = early_book_time(c, 2 * HOUR_MS);
		if (chance(r, 0.85))
			e->noshow = 1;
	}
}

static void
sc_bulk_probe(struct ctx *c)
{
	static const char *const res[] = { "not_found", "data_mismatch", "not_eligible",
		"eligible", "rate_limited", "captcha_failed", "malformed_input" };
	static const int res_w[] = { 35, 28, 15, 10, 5, 5, 2 };
	static const int limited_w[] = { 10, 8, 4, 3, 45, 28, 2 };
	struct rng *r = &c->r;
	char ip[40], dev[40];
	int k = (int)rr(r, 40, 150), i, rotate = chance(r, 0.5), free_tries = (int)rr(r, 15, 30);
	int64_t t = at(c, -(int)rr(r, 1, 3), 0, 0, 0) + rr(r, 0, 22 * HOUR_MS);
	struct entry *e;
	uint32_t id;

	ip_from(r, hosting_block[rr(r, 0, 5)], ip);
	hexid(r, dev, "web-", 16);
	id = new_inst(c, SAKSI_SIM_BULK_PROBE, key1("ip", ip));
	/* One scratch entry carries each probed identity; none of them books or claims. */
	e = new_entry(c, E_COUNTER_ONLY, SV_INFO, SAKSI_SIM_BULK_PROBE, id, SG_ELIG);
	if (e == NULL)
		return;
	e->how = -1;
	for (i = 0; i < k && c->err == SAKSI_OK; i++) {
		/* After a few dozen requests the portal's limiter notices the address. */
		int w = weighted(r, i < free_tries ? res_w : limited_w, 7);

		make_person(c, &e->p, -1, 0);
		if (rotate)
			hexid(r, dev, "web-", 16);
		eligibility(c, e, t, P_CLAIM_WEB, CH_WEB, res[w],
		    w == 2 ? "active_member" : NULL, dev, ip);
		t += rr(r, 500, 6000);
	}
}

static void
sc_family(struct ctx *c)
{
	struct rng *r = &c->r;
	struct entry *head;
	int n = (int)rr(r, 2, 3), i, hi, chan = chance(r, 0.5) ? CH_APP : CH_WEB;
	int64_t t = early_book_time(c, HOUR_MS);
	uint32_t id;
	const char *sur;

	head = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_FAMILY_PHONE, 0, SG_BOOK);
	if (head == NULL)
		return;
	hi = (int)(c->nen - 1);
	id = new_inst(c, SAKSI_SIM_FAMILY_PHONE, key1("phone", head->p.phone));
	head = &c->en[hi];
	head->inst = id;
	online(head, chan);
	head->t_book = t;
	head->pref_hour = (int)rr(r, 8, 13);
	sur = PICK(r, family_name);
	for (i = 1; i < n; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_FAMILY_PHONE, id,
		    SG_BOOK);

		if (e == NULL)
			return;
		head = &c->en[hi];
		online(e, chan);
		/* Relatives: same village and family name, the head's phone and device. */
		memcpy(e->p.nik, head->p.nik, 6);
		while (nik_taken(c, e->p.nik) && c->err == SAKSI_OK)
			snprintf(e->p.nik + 12, 5, "%04d", (int)rr(r, 1, 9999));
		nik_add(c, e->p.nik);
		snprintf(e->p.name, sizeof(e->p.name), "%s %s", e->p.female ?
		    PICK(r, female_given) : PICK(r, male_given), sur);
		scopy(e->p.holder, sizeof(e->p.holder), e->p.name);
		scopy(e->p.region, sizeof(e->p.region), head->p.region);
		scopy(e->p.phone, sizeof(e->p.phone), head->p.phone);
		scopy(e->bdev, sizeof(e->bdev), head->bdev);
		scopy(e->bip, sizeof(e->bip), head->bip);
		e->t_book = t + i * rr(r, 60000, 400000);
		e->pref_hour = head->pref_hour;
	}
}

static void
sc_cafe(struct ctx *c)
{
	struct rng *r = &c->r;
	char ip[40], dev[3][40];
	int ndev = (int)rr(r, 1, 3), k = (int)rr(r, 6, 12), i, d;
	int64_t next[3];
	uint32_t id;

	ip_from(r, fixed_block[rr(r, 0, 8)], ip);
	for (i = 0; i < ndev; i++) {
		hexid(r, dev[i], "web-", 16);
		next[i] = at(c, -LEAD_DAYS, (int)rr(r, 8, 9), (int)rr(r, 0, 59), (int)rr(r, 0, 59));
	}
	id = new_inst(c, SAKSI_SIM_INTERNET_CAFE, key1("ip", ip));
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_INTERNET_CAFE, id,
		    SG_BOOK);

		if (e == NULL)
			return;
		online(e, CH_WEB);
		d = (int)rr(r, 0, ndev - 1);
		scopy(e->bdev, sizeof(e->bdev), dev[d]);
		scopy(e->bip, sizeof(e->bip), ip);
		/*
		 * One resident at a time on each computer: the helper fills in the form and
		 * uploads for each, 15 minutes or more (RULES.md 6, device_many_nik_fast).
		 */
		e->t_book = next[d];
		next[d] += rr(r, 15 * MIN_MS, 35 * MIN_MS);
	}
}

static void
sc_nat(struct ctx *c)
{
	struct rng *r = &c->r;
	char ip[40];
	int k = (int)rr(r, 8, 15), m = (int)rr(r, 5, 15), i;
	struct entry *e;
	uint32_t id;

	ip_from(r, mobile_block[rr(r, 0, 2)], ip);
	id = new_inst(c, SAKSI_SIM_CARRIER_NAT, key1("ip", ip));
	for (i = 0; i < k; i++) {
		e = new_entry(c, E_BOOKED, SV_JHT, SAKSI_SIM_CARRIER_NAT, id, SG_BOOK);
		if (e == NULL)
			return;
		online(e, chance(r, 0.6) ? CH_APP : CH_WEB);
		scopy(e->bip, sizeof(e->bip), ip);
		e->t_book = early_book_time(c, 3 * HOUR_MS);
	}
	/* Others behind the same address only ask whether they may claim. */
	e = new_entry(c, E_COUNTER_ONLY, SV_INFO, SAKSI_SIM_CARRIER_NAT, id, SG_ELIG);
	if (e == NULL)
		return;
	e->how = -1;
	for (i = 0; i < m && c->err == SAKSI_OK; i++) {
		int64_t t = at(c, -(int)rr(r, 0, LEAD_DAYS - 1), (int)rr(r, 6, 22),
		    (int)rr(r, 0, 59), 0) + rr(r, 0, 59999);

		make_person(c, &e->p, -1, 0);
		eligibility(c, e, t, P_CLAIM_APP, CH_APP, chance(r, 0.8) ? "eligible" :
		    "not_eligible", NULL, e->p.dev_app, ip);
	}
}

static void
sc_hr(struct ctx *c)
{
	struct rng *r = &c->r;
	char partner[16], employer[16], dev[40], ip[40], batch[40];
	int k = (int)rr(r, 10, 40), i;
	int64_t t = at(c, -(int)rr(r, 1, 2), 9, 0, 0) + rr(r, 0, 5 * HOUR_MS), t2;
	int64_t end_day = c->day - rr(r, 32, 60);
	uint32_t id;

	snprintf(partner, sizeof(partner), "HR-%06d", (int)rr(r, 1, 999999));
	snprintf(employer, sizeof(employer), "NPP%s%04d", c->br->site->regency,
	    (int)rr(r, 1, 80));
	hexid(r, dev, "web-", 16);
	ip_from(r, fixed_block[rr(r, 0, 8)], ip);
	snprintf(batch, sizeof(batch), "B-%s-%s-%02u", c->br->abbr, c->ymd, ++c->n_batch);
	id = new_inst(c, SAKSI_SIM_HR_COLLECTIVE, json_pack("{ssssss}", "partner_id", partner,
	    "ip", ip, "batch_id", batch));
	t2 = t + rr(r, HOUR_MS, 3 * HOUR_MS);
	for (i = 0; i < k; i++) {
		struct entry *e = new_entry(c, E_HR_CLAIM, SV_JHT, SAKSI_SIM_HR_COLLECTIVE, id,
		    SG_ELIG | SG_CLAIM);

		if (e == NULL)
			return;
		e->chan = CH_HR;
		e->p.kind = K_LAYOFF;
		e->p.end_day = end_day;
		scopy(e->p.employer, sizeof(e->p.employer), employer);
		scopy(e->partner, sizeof(e->partner), partner);
		scopy(e->batch, sizeof(e->batch), batch);
		scopy(e->bdev, sizeof(e->bdev), dev);
		scopy(e->bip, sizeof(e->bip), ip);
		/* The HR office checks everyone first, then files the whole batch. */
		eligibility(c, e, t, P_HR, CH_HR, "eligible", NULL, dev, ip);
		t += rr(r, 15000, 60000);
		e->t_claim = t2;
		t2 += rr(r, 60000, 240000);
	}
}

/* ---- one branch day ---- */

/* Online demand: enough to fill the quota most days, and overflow some days. */
/*
 * An honest branch gets an extra officer on at most one working day of a week (Monday to
 * Friday, chosen once per week from its own stream), about one day in ten overall: so an
 * honest supervisor's approved overrides never reach quota_overrides_frequent's 4 in 7
 * days, which independent daily draws did now and then (1 seed in ~30 on 14 days).
 */
static int
extra_officer_day(const struct ctx *c)
{
	struct rng w;
	int64_t week = (c->day + 3) / 7, wday = (c->day + 3) % 7;   /* 1970-01-01: Thursday */

	rng_seed(&w, c->s->o.so_seed ^ EXTRA_OFFICER_STREAM, c->b + 1, (uint64_t)week);
	if (!chance(&w, 0.5))
		return 0;
	return rr(&w, 0, 4) == wday;
}

static void
ordinary_bookings(struct ctx *c)
{
	struct rng *r = &c->r;
	size_t i, booked = 0;
	int attempts, j;

	for (i = 0; i < c->nen; i++)
		if (c->en[i].how == E_BOOKED)
			booked++;
	attempts = (int)(c->quota * (1.0 + 0.25 * unit(r))) - (int)booked;
	/* Some days the branch gets an extra officer and opens more places the day before.
	 * The day's stream still draws once here, so that nothing else of the day moves. */
	(void)unit(r);
	if (extra_officer_day(c)) {
		c->ov_delta = (int)rr(r, 1, 2);
		c->ov_t = at(c, -1, 14, 0, 0) + rr(r, 0, 2 * HOUR_MS);
		attempts += NHOURS * c->ov_delta;
	}
	for (j = 0; j < attempts && c->err == SAKSI_OK; j++) {
		struct entry *e = new_entry(c, E_BOOKED, SV_JHT, -1, 0, 0);

		if (e == NULL)
			return;
		online(e, chance(r, 0.6) ? CH_WEB : CH_APP);
		e->t_book = ordinary_book_time(c);
		/* The news travels: the extra places go in the hours after they open. */
		if (c->ov_t != 0 && j < NHOURS * c->ov_delta)
			e->t_book = c->ov_t + 1000 + (int64_t)fmin(6.0 * HOUR_MS,
			    expo(r, 90 * MIN_MS));
		e->precheck = chance(r, 0.35);
		if (chance(r, 0.04))
			e->cancel_plan = 1;
		else if (chance(r, 0.01))
			e->cancel_plan = 2;
		else if (chance(r, 0.05))
			e->resched_plan = 1;
		if (chance(r, 0.09))
			e->noshow = 1;
		else if (chance(r, 0.03))
			e->noshow = 2;
	}
}

/* Walk-ins, other services and app claims, once the bookings are known. */
static void
ordinary_arrivals(struct ctx *c)
{
	struct rng *r = &c->r;
	size_t i, queued = 0;
	int walkins, apps, others, j;

	for (i = 0; i < c->nen; i++)
		if ((c->en[i].how == E_BOOKED && c->en[i].hour >= 0) ||
		    c->en[i].how == E_WALKIN)
			queued++;
	/* JHT walk-in numbers run out by mid-morning. */
	walkins = (int)rr(r, 8, 25);
	for (j = 0; j < walkins; j++) {
		struct entry *e = new_entry(c, E_WALKIN, SV_JHT, -1, 0, 0);

		if (e == NULL)
			return;
		e->chan = CH_KIOSK;
		e->t_in = at(c, 0, 7, 30, 0) + (int64_t)fmin(3.0 * HOUR_MS, expo(r, 50 * MIN_MS));
	}
	/* The other services fill the day to 150-300 queue entries. */
	others = (int)rr(r, 150, 300) - (int)queued - walkins;
	if (others < 20)
		others = 20;
	for (j = 0; j < others; j++) {
		int svc = weighted(r, other_service_w, SV__COUNT);
		struct entry *e = new_entry(c, E_WALKIN, svc, -1, 0, 0);

		if (e == NULL)
			return;
		e->chan = CH_KIOSK;
		e->t_in = at(c, 0, 7, 30, 0) + (int64_t)fmin(7.0 * HOUR_MS,
		    expo(r, 2.2 * HOUR_MS));
	}
	/* Small balances are claimed in the app, all day long. */
	apps = (int)rr(r, 15, 40);
	for (j = 0; j < apps; j++) {
		struct entry *e = new_entry(c, E_APP_CLAIM, SV_JHT, -1, 0, 0);

		if (e == NULL)
			return;
		online(e, CH_APP);
		if (e->p.kind == K_RETIRE || e->p.kind == K_DEATH)
			e->p.kind = K_RESIGN;
		if (e->p.balance >= 15000000)
			e->p.balance = (uint64_t)rr(r, 500000, 14900000);
		e->t_claim = at(c, 0, 6, 0, 0) + rr(r, 0, 17 * HOUR_MS);
	}
}

/* Claim outcomes of ordinary traffic: most pass; some are refused, with the reason. */
static void
outcomes(struct ctx *c)
{
	static const int w_counter[R__COUNT] = { 40, 20, 10, 15, 15, 0 };
	static const int w_video[R__COUNT] = { 30, 15, 10, 10, 10, 25 };
	struct rng *r = &c->r;
	size_t i;

	for (i = 0; i < c->nen; i++) {
		struct entry *e = &c->en[i];

		if (e->svc != SV_JHT)
			continue;
		if (chance(r, 0.015))
			e->nik_typo = 1;
		if (chance(r, 0.01))
			e->nik_unavail = 1;
		if (e->scen >= 0 && e->scen < SAKSI_SIM_HONEST_FIRST)
			continue; /* the brokers' clients get through: that is what they pay for */
		if (e->how == E_APP_CLAIM) {
			if (chance(r, 0.04))
				e->reject = chance(r, 0.7) ? R_IDENTITY : R_NIK;
		} else if (e->how == E_HR_CLAIM) {
			if (chance(r, 0.03))
				e->reject = R_INCOMPLETE;
		} else if (e->video) {
			if (chance(r, 0.08))
				e->reject = weighted(r, w_video, R__COUNT);
		} else if (chance(r, 0.06)) {
			e->reject = weighted(r, w_counter, R__COUNT);
		}
	}
}

static void
eligibility_only(struct ctx *c)
{
	static const char *const reason[] = { "active_member", "waiting_period",
		"membership_too_short", "already_claimed" };
	struct rng *r = &c->r;
	struct entry *e;
	int n = (int)rr(r, 5, 15), i;

	e = new_entry(c, E_COUNTER_ONLY, SV_INFO, -1, 0, 0);
	if (e == NULL)
		return;
	e->how = -1;
	for (i = 0; i < n && c->err == SAKSI_OK; i++) {
		int app = chance(r, 0.5);
		int64_t t = at(c, -(int)rr(r, 0, 2), (int)rr(r, 7, 22), (int)rr(r, 0, 59), 0) +
		    rr(r, 0, 59999);

		make_person(c, &e->p, -1, 0);
		eligibility(c, e, t, app ? P_CLAIM_APP : P_CLAIM_WEB, app ? CH_APP : CH_WEB,
		    "not_eligible", PICK(r, reason), app ? e->p.dev_app : e->p.dev_web, e->p.ip);
	}
}

/*
 * An insider: a video officer approves contactless web claims of 4-7 different people
 * that the broker filed from one browser, in about half the instances all paid into the
 * broker's nominee's account. No booking: the claims come through the upload review, and
 * the officer decides them without a call. The clients get through.
 */
static void
web_claim_by(struct ctx *c, struct entry *e)
{
	int64_t t = e->t_claim, rev;

	claim_new_id(c, e, "JHTW");
	submitted(c, e, t, P_CLAIM_WEB, CH_WEB, NULL);
	t = nik_checks(c, e, t);
	rev = at(c, 0, 8, 30, 0) + rr(&c->r, 0, 6 * HOUR_MS);
	if (rev < t)
		rev = t + rr(&c->r, 30 * MIN_MS, 2 * HOUR_MS);
	rev = doc_checks(c, e, rev, "upload_review", e->officer, P_CLAIM_WEB, 10000, 45000);
	rev += rr(&c->r, 60000, 5 * MIN_MS);
	decision(c, e, rev, P_CLAIM_WEB, e->officer, 0);
	payment(c, e, batch_pay_time(c, rev));
}

static void
sc_officer_shared(struct ctx *c)
{
	struct rng *r = &c->r;
	struct person nominee;
	const char *officer = c->video[rr(r, 0, 1)];
	char dev[40], ip[40];
	int k = (int)rr(r, 4, 7), acct = chance(r, 0.5), i;
	int64_t t = at(c, -1, 18, 0, 0) + rr(r, 0, 3 * HOUR_MS);
	json_t *key;
	uint32_t id;

	make_person(c, &nominee, -1, 1);
	hexid(r, dev, "web-", 16);
	ip_from(r, mobile_block[rr(r, 0, 5)], ip);
	key = acct ? json_pack("{ssssssss}", "officer_id", officer, "device_id", dev,
	    "bank_code", nominee.bank, "bank_account", nominee.account) :
	    json_pack("{ssss}", "officer_id", officer, "device_id", dev);
	id = new_inst(c, SAKSI_SIM_OFFICER_SHARED_SOURCE, key);
	for (i = 0; i < k && c->err == SAKSI_OK; i++) {
		struct entry *e = new_entry(c, E_COUNTER_ONLY, SV_JHT,
		    SAKSI_SIM_OFFICER_SHARED_SOURCE, id, SG_CLAIM | SG_PAY);

		if (e == NULL)
			return;
		e->how = -1;   /* handled here, not by the counter */
		e->chan = CH_WEB;
		scopy(e->bdev, sizeof(e->bdev), dev);
		scopy(e->bip, sizeof(e->bip), ip);
		scopy(e->officer, sizeof(e->officer), officer);
		if (acct) {
			scopy(e->p.bank, sizeof(e->p.bank), nominee.bank);
			scopy(e->p.account, sizeof(e->p.account), nominee.account);
			scopy(e->p.holder, sizeof(e->p.holder), nominee.name);
		}
		e->t_claim = t;
		t += rr(r, 3 * MIN_MS, 20 * MIN_MS);
		web_claim_by(c, e);
	}
}

/*
 * Honest: 2-3 relatives (one family name) file contactless claims from the head's
 * browser the same evening; one video officer reviews them all. Each is paid to an own
 * account, and three people are under officer_shared_device's four.
 */
static void
sc_officer_family(struct ctx *c)
{
	struct rng *r = &c->r;
	const char *officer = c->video[rr(r, 0, 1)], *sur = PICK(r, family_name);
	char dev[40], ip[40];
	int k = (int)rr(r, 2, 3), i;
	int64_t t = at(c, -1, 19, 0, 0) + rr(r, 0, 2 * HOUR_MS);
	uint32_t id;

	hexid(r, dev, "web-", 16);
	ordinary_ip(r, ip);
	id = new_inst(c, SAKSI_SIM_OFFICER_FAMILY, json_pack("{ssss}", "officer_id", officer,
	    "device_id", dev));
	for (i = 0; i < k && c->err == SAKSI_OK; i++) {
		struct entry *e = new_entry(c, E_COUNTER_ONLY, SV_JHT, SAKSI_SIM_OFFICER_FAMILY,
		    id, SG_CLAIM);

		if (e == NULL)
			return;
		e->how = -1;   /* handled here, not by the counter */
		e->chan = CH_WEB;
		snprintf(e->p.name, sizeof(e->p.name), "%s %s", e->p.female ?
		    PICK(r, female_given) : PICK(r, male_given), sur);
		scopy(e->p.holder, sizeof(e->p.holder), e->p.name);
		scopy(e->bdev, sizeof(e->bdev), dev);
		scopy(e->bip, sizeof(e->bip), ip);
		scopy(e->officer, sizeof(e->officer), officer);
		e->t_claim = t;
		t += rr(r, 5 * MIN_MS, 25 * MIN_MS);
		web_claim_by(c, e);
	}
}

static int
forced_here(const saksi_sim *s, int scen, unsigned b, unsigned d)
{
	/* The officer scenario came last: the others keep the branch day they had before. */
	unsigned k = scen == SAKSI_SIM_OFFICER_SHARED_SOURCE ? SAKSI_SIM_HR_COLLECTIVE :
	    (unsigned)(scen > SAKSI_SIM_OFFICER_SHARED_SOURCE && scen <= SAKSI_SIM_HR_COLLECTIVE ?
	    scen - 1 : scen);

	return k % s->o.so_branches == b && (k / s->o.so_branches) % s->o.so_days == d;
}

static int
instances_for(struct ctx *c, int scen)
{
	const saksi_sim *s = c->s;
	double rate;
	int n;

	if (scen < SAKSI_SIM_HONEST_FIRST) {
		if (s->o.so_level == SAKSI_SIM_NONE)
			return 0;
		rate = level_rate[s->o.so_level];
	} else {
		rate = scen == SAKSI_SIM_FAMILY_PHONE ? 2.5 : scen == SAKSI_SIM_INTERNET_CAFE ?
		    0.5 : scen == SAKSI_SIM_CARRIER_NAT ? 0.7 : scen == SAKSI_SIM_OFFICER_FAMILY ?
		    0.5 : 0.25;
	}
	n = (int)rate + chance(&c->r, rate - (int)rate);
	/* Every enabled scenario appears at least once in a run, on a branch day of its own. */
	if (n == 0 && forced_here(s, scen, c->b, c->dayidx))
		n = 1;
	return n;
}

static saksi_err
gen_chunk(saksi_sim *s, unsigned b, unsigned dayidx)
{
	struct ctx cx, *c = &cx;
	struct scen_ctx sc = { NULL, "" };
	unsigned m, d;
	int sidx, n, i, y;
	size_t j;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->b = b;
	c->dayidx = dayidx;
	c->br = &s->br[b];
	c->tz = c->br->site->tz;
	c->day = s->days[dayidx];
	rng_seed(&c->r, s->o.so_seed, b + 1, (uint64_t)c->day);
	c->mid = (c->day * 86400 - c->tz * 3600LL) * 1000;
	c->lo = (c->day * 86400 - 8 * 3600LL) * 1000 - (LEAD_DAYS + 1) * DAY_MS;
	c->open = at(c, -LEAD_DAYS, 7, 0, 0);
	civil_from_days(c->day, &y, &m, &d);
	c->year = y;
	fmt_date(c->day, c->date);
	snprintf(c->ymd, sizeof(c->ymd), "%04d%02u%02u", y % 10000, m % 100, d % 100);
	/* The day's roster: frontliners shuffled from the branch's staff, two video officers. */
	for (i = 0; i < 12; i++)
		snprintf(c->roster[i], sizeof(c->roster[i]), "%s-%03d", c->br->abbr, 101 + i);
	for (i = 11; i > 0; i--) {
		char tmp[16];
		int k = (int)rr(&c->r, 0, i);

		memcpy(tmp, c->roster[i], 16);
		memcpy(c->roster[i], c->roster[k], 16);
		memcpy(c->roster[k], tmp, 16);
	}
	c->nvideo = 2;
	for (i = 0; i < 3; i++)
		snprintf(c->video[i], sizeof(c->video[i]), "%s-%03d", c->br->abbr, 201 + i);
	snprintf(c->spv, sizeof(c->spv), "%s-301", c->br->abbr);
	c->cap_h = (int)rr(&c->r, 14, 16);
	c->quota = c->cap_h * NHOURS;

	/* The booking window for this date opens three days before. */
	{
		json_t *o = obj(c), *h = json_array(), *ch = json_array();

		for (i = 0; i < NHOURS; i++)
			if (h == NULL || json_array_append_new(h, json_integer(OPEN_HOUR + i)) != 0)
				c->err = SAKSI_ERR_NOMEM;
		if (ch == NULL || json_array_append_new(ch, json_string("web")) != 0 ||
		    json_array_append_new(ch, json_string("app")) != 0)
			c->err = SAKSI_ERR_NOMEM;
		js(c, o, "service", "jht_claim");
		js(c, o, "slot_date", c->date);
		jset(c, o, "hours", h);
		ji(c, o, "capacity_per_hour", c->cap_h);
		jset(c, o, "channels", ch);
		emit(c, NULL, 0, c->open, P_PORTAL, T_SLOT_OPENED, o);
	}

	for (sidx = 0; sidx < SAKSI_SIM__COUNT && c->err == SAKSI_OK; sidx++) {
		if (sidx == SAKSI_SIM_OFFICER_SHARED_SOURCE || sidx == SAKSI_SIM_OFFICER_FAMILY)
			continue;
		n = instances_for(c, sidx);
		for (i = 0; i < n && c->err == SAKSI_OK; i++) {
			switch (sidx) {
			case SAKSI_SIM_DEVICE_MANY_NIK: sc_device_many(c); break;
			case SAKSI_SIM_PHONE_MANY_NIK: sc_phone_many(c); break;
			case SAKSI_SIM_ACCOUNT_MANY_CLAIMANTS: sc_account_many(c); break;
			case SAKSI_SIM_CANCEL_REBOOK: sc_cancel_rebook(c); break;
			case SAKSI_SIM_BOT_OPENING: sc_bot_opening(c); break;
			case SAKSI_SIM_OUT_OF_ORDER: sc_out_of_order(c, &sc); break;
			case SAKSI_SIM_SERVED_WITHOUT_BOOKING: sc_served_without_booking(c); break;
			case SAKSI_SIM_QUOTA_OVERRIDE: sc_quota_override(c); break;
			case SAKSI_SIM_NIK_CHECK_RETRY: sc_nik_retry(c); break;
			case SAKSI_SIM_NOSHOW_SOURCE: sc_noshow_source(c); break;
			case SAKSI_SIM_BULK_PROBE: sc_bulk_probe(c); break;
			case SAKSI_SIM_OFFICER_SHARED_SOURCE: break; /* below, own stream */
			case SAKSI_SIM_OFFICER_FAMILY: break;
			case SAKSI_SIM_FAMILY_PHONE: sc_family(c); break;
			case SAKSI_SIM_INTERNET_CAFE: sc_cafe(c); break;
			case SAKSI_SIM_CARRIER_NAT: sc_nat(c); break;
			case SAKSI_SIM_HR_COLLECTIVE: sc_hr(c); break;
			}
		}
	}
	if (c->err == SAKSI_OK)
		ordinary_bookings(c);
	if (c->err == SAKSI_OK)
		allocate(c);
	if (c->err == SAKSI_OK)
		ordinary_arrivals(c);
	if (c->err == SAKSI_OK)
		outcomes(c);
	/* Video claimants upload their documents before the call. */
	for (j = 0; j < c->nen && c->err == SAKSI_OK; j++) {
		struct entry *e = &c->en[j];

		if (e->how == E_BOOKED && e->video && e->hour >= 0 && !e->cancelled) {
			scopy(e->officer, sizeof(e->officer), c->video[e->hour % 2]);
			if (e->noshow == 1)
				e->noshow = 2; /* a booked video call cannot be "not checked in" */
			video_preparation(c, e);
		}
	}
	if (c->err == SAKSI_OK)
		service_day(c, sc.ooo_officer);
	for (j = 0; j < c->nen && c->err == SAKSI_OK; j++) {
		struct entry *e = &c->en[j];

		if (e->how == E_APP_CLAIM)
			app_claim(c, e);
		else if (e->how == E_HR_CLAIM)
			hr_claim(c, e);
		else if (e->how == E_COUNTER_ONLY)
			(void)counter_claim(c, e, e->t_claim, e->officer);
	}
	if (c->err == SAKSI_OK)
		eligibility_only(c);
	/*
	 * The corrupt officer comes last, from a generator of its own: added after the other
	 * scenarios, it leaves every other event of a seed as it was (claim numbers included).
	 */
	if (c->err == SAKSI_OK) {
		struct rng keep = c->r;

		rng_seed(&c->r, s->o.so_seed ^ OFFICER_STREAM, b + 1, (uint64_t)c->day);
		n = instances_for(c, SAKSI_SIM_OFFICER_SHARED_SOURCE);
		for (i = 0; i < n && c->err == SAKSI_OK; i++)
			sc_officer_shared(c);
		n = instances_for(c, SAKSI_SIM_OFFICER_FAMILY);
		for (i = 0; i < n && c->err == SAKSI_OK; i++)
			sc_officer_family(c);
		c->r = keep;
	}
	free(c->en);
	return c->err;
}

/* ---- the stream ---- */

static int
rawev_cmp(const void *a, const void *b)
{
	const struct rawev *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* The earliest time any event of service day `day` may have (see emit_raw). */
static int64_t
day_lower_bound(int64_t day)
{
	return (day * 86400 - 8 * 3600LL) * 1000 - (LEAD_DAYS + 1) * DAY_MS;
}

saksi_err
saksi_sim_open(const saksi_sim_opts *o, saksi_sim **out)
{
	saksi_sim *s;
	int64_t day;
	unsigned i, k;
	size_t p;

	if (out != NULL)
		*out = NULL;
	if (o == NULL || out == NULL || o->so_branches < 1 ||
	    o->so_branches > SAKSI_SIM_BRANCHES_MAX || o->so_days < 1 ||
	    o->so_days > SAKSI_SIM_DAYS_MAX || o->so_level < SAKSI_SIM_NONE ||
	    o->so_level > SAKSI_SIM_HIGH || o->so_start_day < 10 ||
	    o->so_start_day > 2932896 /* 9999-12-31 */)
		return SAKSI_ERR_INVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return SAKSI_ERR_NOMEM;
	s->o = *o;
	s->br = calloc(o->so_branches, sizeof(*s->br));
	s->days = calloc(o->so_days, sizeof(*s->days));
	s->nprod = P__NATIONAL + (size_t)o->so_branches * PB__COUNT;
	s->prod = calloc(s->nprod, sizeof(*s->prod));
	s->prodname = calloc(s->nprod, sizeof(*s->prodname));
	if (s->br == NULL || s->days == NULL || s->prod == NULL || s->prodname == NULL)
		goto nomem;
	for (i = 0; i < o->so_branches; i++) {
		struct branch *br = &s->br[i];
		const struct site *st = &sites[i % NSITES];
		unsigned rep = i / (unsigned)NSITES;
		char *q;

		br->site = st;
		if (rep == 0) {
			scopy(br->code, sizeof(br->code), st->code);
			scopy(br->abbr, sizeof(br->abbr), st->abbr);
		} else {
			snprintf(br->code, sizeof(br->code), "%s-%u", st->code, rep + 1);
			snprintf(br->abbr, sizeof(br->abbr), "%s%u", st->abbr, rep + 1);
		}
		scopy(br->lc, sizeof(br->lc), br->code);
		for (q = br->lc; *q != '\0'; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		/* The branch office's own public address, for staff logins. */
		snprintf(br->ip, sizeof(br->ip), "202.%u.%u.%u", 146 + i % 8, (i * 37) % 256,
		    10 + i % 200);
	}
	for (p = 0; p < s->nprod; p++) {
		const char *name, *role, *branch;
		char buf[64];

		if (p < P__NATIONAL) {
			name = national[p].name;
			role = national[p].role;
			branch = "*";
		} else {
			size_t b = (p - P__NATIONAL) / PB__COUNT, k2 = (p - P__NATIONAL) % PB__COUNT;

			snprintf(buf, sizeof(buf), "%s%s", per_branch[k2].prefix, s->br[b].lc);
			name = buf;
			role = per_branch[k2].role;
			branch = s->br[b].code;
		}
		s->prodname[p] = strdup(name);
		if (s->prodname[p] == NULL)
			goto nomem;
		s->prod[p].sp_name = s->prodname[p];
		s->prod[p].sp_role = role;
		s->prod[p].sp_branch = branch;
	}
	for (day = o->so_start_day, k = 0; k < o->so_days; day++) {
		int wd = weekday(day);

		if (wd != 0 && wd != 6)
			s->days[k++] = day;
	}
	*out = s;
	return SAKSI_OK;
nomem:
	saksi_sim_close(s);
	return SAKSI_ERR_NOMEM;
}

void
saksi_sim_close(saksi_sim *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = s->head; i < s->npend; i++)
		free(s->pend[i].payload);
	free(s->pend);
	for (i = 0; i < s->ninst; i++) {
		json_decref(s->inst[i].key);
		free(s->inst[i].ev.v);
		free(s->inst[i].sg.v);
	}
	free(s->inst);
	free(s->niks);
	if (s->prodname != NULL)
		for (i = 0; i < s->nprod; i++)
			free(s->prodname[i]);
	free(s->prodname);
	free(s->prod);
	free(s->days);
	free(s->br);
	free(s);
}

/* Generates the next service day of every branch and sorts it into the pending events. */
static saksi_err
next_day(saksi_sim *s)
{
	unsigned b;
	saksi_err e;

	if (s->head > 0) {
		memmove(s->pend, s->pend + s->head, (s->npend - s->head) * sizeof(*s->pend));
		s->npend -= s->head;
		s->head = 0;
	}
	for (b = 0; b < s->o.so_branches; b++) {
		e = gen_chunk(s, b, s->nextday);
		if (e != SAKSI_OK)
			return e;
	}
	s->nextday++;
	qsort(s->pend, s->npend, sizeof(*s->pend), rawev_cmp);
	return SAKSI_OK;
}

saksi_err
saksi_sim_next(saksi_sim *s, saksi_sim_event *ev)
{
	struct rawev *r;
	struct inst *in;

	if (s == NULL || ev == NULL)
		return SAKSI_ERR_INVAL;
	memset(ev, 0, sizeof(*ev));
	if (s->err != SAKSI_OK)
		return s->err;
	/* Nothing later generated can sort before the next day's lower bound. */
	while (s->nextday < s->o.so_days && (s->head == s->npend ||
	    s->pend[s->head].t >= day_lower_bound(s->days[s->nextday]))) {
		s->err = next_day(s);
		if (s->err != SAKSI_OK)
			return s->err;
	}
	if (s->head == s->npend)
		return SAKSI_ERR_NOT_FOUND;
	r = &s->pend[s->head];
	if (r->inst != 0) {
		in = &s->inst[r->inst - 1];
		if (idx_push(&in->ev, s->emitted) != 0 ||
		    (r->sig && idx_push(&in->sg, s->emitted) != 0)) {
			s->err = SAKSI_ERR_NOMEM;
			return s->err;
		}
	}
	ev->se_index = s->emitted++;
	ev->se_producer = r->prod;
	ev->se_producer_name = s->prod[r->prod].sp_name;
	ev->se_type = type_name[r->type];
	ev->se_payload = r->payload;
	ev->se_payload_len = r->len;
	ev->se_time_ms = (uint64_t)r->t;
	ev->se_scenario = r->scen;
	ev->se_instance = r->inst;
	ev->se_signal = r->sig;
	r->payload = NULL;
	s->head++;
	return SAKSI_OK;
}

void
saksi_sim_event_clear(saksi_sim_event *ev)
{
	if (ev == NULL)
		return;
	free(ev->se_payload);
	memset(ev, 0, sizeof(*ev));
}

size_t
saksi_sim_producer_count(const saksi_sim *s)
{
	return s == NULL ? 0 : s->nprod;
}

const saksi_sim_producer *
saksi_sim_producer_at(const saksi_sim *s, size_t i)
{
	return s == NULL || i >= s->nprod ? NULL : &s->prod[i];
}

const char *
saksi_sim_branch_at(const saksi_sim *s, size_t i)
{
	return s == NULL || i >= s->o.so_branches ? NULL : s->br[i].code;
}

int64_t
saksi_sim_day(const saksi_sim *s, size_t i)
{
	return s == NULL || i >= s->o.so_days ? -1 : s->days[i];
}

size_t
saksi_sim_instances(const saksi_sim *s, int scenario)
{
	if (s == NULL || scenario < 0 || scenario >= SAKSI_SIM__COUNT)
		return 0;
	return s->counts[scenario];
}

static json_t *
idx_array(const struct idxv *v)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < v->n; i++)
		if (json_array_append_new(a, json_integer((json_int_t)v->v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

saksi_err
saksi_sim_truth_json(const saksi_sim *s, char **json, size_t *len)
{
	json_t *root, *br, *days, *counts, *insts;
	char seed[24], date[16];
	size_t i;
	int ok = 1;

	if (s == NULL || json == NULL)
		return SAKSI_ERR_INVAL;
	*json = NULL;
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->o.so_seed);
	root = json_object();
	br = json_array();
	days = json_array();
	counts = json_object();
	insts = json_array();
	if (root == NULL || br == NULL || days == NULL || counts == NULL || insts == NULL) {
		json_decref(root);
		json_decref(br);
		json_decref(days);
		json_decref(counts);
		json_decref(insts);
		return SAKSI_ERR_NOMEM;
	}
	ok &= json_object_set_new(root, "saksi_sim_truth", json_integer(1)) == 0;
	ok &= json_object_set_new(root, "seed", json_string(seed)) == 0;
	ok &= json_object_set_new(root, "level", json_string(level_name[s->o.so_level])) == 0;
	for (i = 0; i < s->o.so_branches; i++)
		ok &= json_array_append_new(br, json_string(s->br[i].code)) == 0;
	for (i = 0; i < s->o.so_days; i++) {
		fmt_date(s->days[i], date);
		ok &= json_array_append_new(days, json_string(date)) == 0;
	}
	ok &= json_object_set_new(root, "branches", br) == 0;
	ok &= json_object_set_new(root, "days", days) == 0;
	ok &= json_object_set_new(root, "events", json_integer((json_int_t)s->emitted)) == 0;
	for (i = 0; i < SAKSI_SIM__COUNT; i++)
		ok &= json_object_set_new(counts, scenario_name[i],
		    json_integer((json_int_t)s->counts[i])) == 0;
	ok &= json_object_set_new(root, "counts", counts) == 0;
	for (i = 0; i < s->ninst && ok; i++) {
		const struct inst *in = &s->inst[i];

		fmt_date(in->day, date);
		ok &= json_array_append_new(insts, json_pack("{sIsssbsssssOsoso}",
		    "id", (json_int_t)(i + 1), "scenario", scenario_name[in->scen],
		    "broker", in->scen < SAKSI_SIM_HONEST_FIRST, "branch", s->br[in->branch].code,
		    "date", date, "key", in->key, "events", idx_array(&in->ev),
		    "signal", idx_array(&in->sg))) == 0;
	}
	ok &= json_object_set_new(root, "instances", insts) == 0;
	if (ok)
		*json = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	if (*json == NULL)
		return SAKSI_ERR_NOMEM;
	if (len != NULL)
		*len = strlen(*json);
	return SAKSI_OK;
}

const char *
saksi_sim_scenario_name(int scenario)
{
	if (scenario < 0 || scenario >= SAKSI_SIM__COUNT)
		return NULL;
	return scenario_name[scenario];
}

int
saksi_sim_scenario_is_broker(int scenario)
{
	return scenario >= 0 && scenario < SAKSI_SIM_HONEST_FIRST;
}

saksi_err
saksi_sim_level_parse(const char *name, int *level)
{
	int i;

	if (name == NULL || level == NULL)
		return SAKSI_ERR_INVAL;
	for (i = 0; i <= SAKSI_SIM_HIGH; i++)
		if (strcmp(name, level_name[i]) == 0) {
			*level = i;
			return SAKSI_OK;
		}
	return SAKSI_ERR_NOT_FOUND;
}

const char *
saksi_sim_level_name(int level)
{
	if (level < SAKSI_SIM_NONE || level > SAKSI_SIM_HIGH)
		return NULL;
	return level_name[level];
}
