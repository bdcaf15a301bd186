/*
 * subject.c: the plain-language phrase table (Bahasa Indonesia and English) and the
 * renderer of a data subject's report (subject.h). It shows only what the caller hands
 * it and never reads a ledger, prints or logs: the values in a report are personal data.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "subject.h"

/* ---- the table ---- */

struct sentence {
	const char *type;
	const char *t[SAKSI_LANG__COUNT];
};

/*
 * One sentence per event type, addressed to the participant ("you"). What follows
 * "On <when>, at branch <branch>, ". {f} is a field, [..] is left out when a field in
 * it is absent or withheld.
 */
static const struct sentence sentences[] = {
	{ "claim.approved", {
	    "klaim JHT Anda {claim_id} ({claim_kind}) disetujui untuk dibayar oleh petugas "
	    "{officer_id}[ dengan persetujuan {approver_id}][, sebesar {amount}]",
	    "your JHT claim {claim_id} ({claim_kind}) was approved for payment by officer "
	    "{officer_id}[ with the approval of {approver_id}][, for {amount}]" } },
	{ "claim.document.checked", {
	    "dokumen {document} untuk klaim Anda {claim_id} diperiksa ({method}) dengan hasil: "
	    "{result}[; petugas {officer_id}][; penerbit {employer_id}]",
	    "the document {document} of your claim {claim_id} was checked ({method}), with the "
	    "result: {result}[; officer {officer_id}][; issuer {employer_id}]" } },
	{ "claim.eligibility.checked", {
	    "kelayakan Anda untuk mengajukan klaim[ ({claim_kind})] diperiksa melalui {channel} "
	    "dengan hasil: {result}[ ({reason})][; perusahaan mitra {partner_id}]",
	    "your eligibility to claim[ ({claim_kind})] was checked through {channel}, with the "
	    "result: {result}[ ({reason})][; partner company {partner_id}]" } },
	{ "claim.identity.verified", {
	    "identitas Anda untuk klaim {claim_id} diverifikasi melalui {method} dengan hasil: "
	    "{result}[ ({fail_reason})][; petugas {officer_id}][; skor keaktifan "
	    "{liveness_score}][; skor kecocokan wajah {face_match_score}]",
	    "your identity for claim {claim_id} was verified by {method}, with the result: "
	    "{result}[ ({fail_reason})][; officer {officer_id}][; liveness score "
	    "{liveness_score}][; face match score {face_match_score}]" } },
	{ "claim.nik.checked", {
	    "NIK dan data Anda untuk klaim {claim_id} dicocokkan dengan data kependudukan "
	    "(Dukcapil) {source} dengan hasil: {result}[; yang berbeda: {mismatched}]",
	    "your NIK and data for claim {claim_id} were checked with the civil registry "
	    "(Dukcapil) {source}, with the result: {result}[; what differed: {mismatched}]" } },
	{ "claim.payment.failed", {
	    "pembayaran klaim Anda {claim_id}[ sebesar {amount}] ke bank {bank_code}[ rekening "
	    "{bank_account}] gagal (percobaan ke-{attempt}): {reason}; {will_retry}",
	    "a payment of your claim {claim_id}[ of {amount}] to bank {bank_code}[ account "
	    "{bank_account}] failed (attempt {attempt}): {reason}; {will_retry}" } },
	{ "claim.payment.sent", {
	    "manfaat klaim Anda {claim_id}[ sebesar {amount}] ditransfer ke bank {bank_code}"
	    "[ rekening {bank_account}] (referensi transfer {transfer_ref}, percobaan "
	    "ke-{attempt})",
	    "the benefit of your claim {claim_id}[ of {amount}] was transferred to bank "
	    "{bank_code}[ account {bank_account}] (transfer reference {transfer_ref}, attempt "
	    "{attempt})" } },
	{ "claim.rejected", {
	    "klaim Anda {claim_id} ditolak oleh {by}: {reason}[ (dokumen: {document})]"
	    "[; petugas {officer_id}]",
	    "your claim {claim_id} was rejected by {by}: {reason}[ (document: {document})]"
	    "[; officer {officer_id}]" } },
	{ "claim.submitted", {
	    "klaim JHT Anda {claim_id} ({claim_kind}) diajukan melalui {channel}[ oleh "
	    "perusahaan mitra {partner_id}][ untuk pemesanan {booking_id}][ dilayani petugas "
	    "{officer_id}], dengan dokumen: {documents}; pembayaran ke bank {bank_code}"
	    "[ rekening {bank_account}][ atas nama {account_holder}][; saldo {balance}]",
	    "your JHT claim {claim_id} ({claim_kind}) was submitted through {channel}[ by "
	    "partner company {partner_id}][ for booking {booking_id}][ served by officer "
	    "{officer_id}], with the documents: {documents}; payment to bank {bank_code}"
	    "[ account {bank_account}][ held by {account_holder}][; balance {balance}]" } },
	{ "queue.booking.cancelled", {
	    "pemesanan Anda {booking_id} untuk layanan {service} pada {slot_date} pukul "
	    "{slot_hour} dibatalkan oleh {cancelled_by}[ melalui {channel}]: {reason}; "
	    "{slot_released}",
	    "your booking {booking_id} for the {service} service on {slot_date} at {slot_hour} "
	    "was cancelled by {cancelled_by}[ through {channel}]: {reason}; {slot_released}" } },
	{ "queue.booking.created", {
	    "slot antrean layanan {service} pada {slot_date} pukul {slot_hour} dipesan atas "
	    "nama Anda melalui {channel} (pemesanan {booking_id})[; perusahaan mitra "
	    "{partner_id}]",
	    "a queue slot for the {service} service on {slot_date} at {slot_hour} was booked "
	    "for you through {channel} (booking {booking_id})[; partner company "
	    "{partner_id}]" } },
	{ "queue.booking.rescheduled", {
	    "pemesanan Anda {booking_id} untuk layanan {service} dipindahkan dari "
	    "{from_slot_date} pukul {from_slot_hour} ke {slot_date} pukul {slot_hour} oleh "
	    "{rescheduled_by}[ melalui {channel}]: {reason}",
	    "your booking {booking_id} for the {service} service was moved from "
	    "{from_slot_date} at {from_slot_hour} to {slot_date} at {slot_hour} by "
	    "{rescheduled_by}[ through {channel}]: {reason}" } },
	{ "queue.called", {
	    "nomor antrean Anda {ticket} (layanan {service}) dipanggil ke loket {counter_no} "
	    "oleh petugas {officer_id}[, prioritas: {priority}][; saat itu {waiting_before} "
	    "orang yang datang lebih dulu masih menunggu]",
	    "your ticket {ticket} ({service} service) was called to counter {counter_no} by "
	    "officer {officer_id}[, priority: {priority}][; {waiting_before} people who came "
	    "before you were still waiting]" } },
	{ "queue.checkin", {
	    "Anda mengambil nomor antrean {ticket} untuk layanan {service} melalui {channel}, "
	    "{walk_in}[ (pemesanan {booking_id})]; pemeriksaan identitas: {id_method}, "
	    "{id_result}",
	    "you took ticket {ticket} for the {service} service through {channel}, {walk_in}"
	    "[ (booking {booking_id})]; identity check: {id_method}, {id_result}" } },
	{ "queue.noshow", {
	    "Anda tercatat tidak hadir untuk pemesanan {booking_id} (layanan {service}, "
	    "{slot_date} pukul {slot_hour}): {stage}",
	    "you were recorded as absent for booking {booking_id} ({service} service, "
	    "{slot_date} at {slot_hour}): {stage}" } },
	{ "queue.service.ended", {
	    "layanan untuk nomor antrean Anda {ticket} ({service}) selesai oleh petugas "
	    "{officer_id} setelah {duration_s}, dengan hasil: {outcome}[; klaim {claim_id}]",
	    "the service of your ticket {ticket} ({service}) by officer {officer_id} ended "
	    "after {duration_s}, with the outcome: {outcome}[; claim {claim_id}]" } },
	{ "queue.service.started", {
	    "petugas {officer_id} mulai melayani nomor antrean Anda {ticket} (layanan "
	    "{service}) {mode}[ di loket {counter_no}][; klaim {claim_id}]",
	    "officer {officer_id} began serving your ticket {ticket} ({service} service) "
	    "{mode}[ at counter {counter_no}][; claim {claim_id}]" } },
	{ "queue.slot.opened", {
	    "jadwal pemesanan layanan {service} untuk tanggal {slot_date} dibuka "
	    "({capacity_per_hour} tempat per jam, melalui {channels})",
	    "the booking window of the {service} service for {slot_date} was opened "
	    "({capacity_per_hour} places an hour, through {channels})" } },
	{ "security.alert.acked", {
	    "petugas keamanan {officer_id} menindaklanjuti peringatan {alert_id}",
	    "security officer {officer_id} acknowledged alert {alert_id}" } },
	{ "staff.login", {
	    "petugas {officer_id} ({role}) masuk ke sistem dengan {method}: {result}",
	    "officer {officer_id} ({role}) logged in with {method}: {result}" } },
	{ "staff.priority.changed", {
	    "petugas {officer_id} mengubah prioritas nomor antrean Anda {ticket} (layanan "
	    "{service}) dari {priority_before} menjadi {priority_after}: {reason}"
	    "[; disetujui oleh {approver_id}]",
	    "officer {officer_id} changed the priority of your ticket {ticket} ({service} "
	    "service) from {priority_before} to {priority_after}: {reason}[; approved by "
	    "{approver_id}]" } },
	{ "staff.quota.override", {
	    "petugas {officer_id} mengubah jumlah tempat layanan {service} pada {slot_date}"
	    "[ pukul {slot_hour}] dari {quota_before} menjadi {quota_after}: {reason}"
	    "[; disetujui oleh {approver_id}]",
	    "officer {officer_id} changed the places of the {service} service on {slot_date}"
	    "[ at {slot_hour}] from {quota_before} to {quota_after}: {reason}[; approved by "
	    "{approver_id}]" } },
	{ "supervisor.access.logged", {
	    "seorang supervisor (kunci {key_id}) melihat data melalui {command}, "
	    "{results} entri; {revealed}[; kasus {case_ref}]",
	    "a supervisor (key {key_id}) looked at the records by {command}, {results} "
	    "entries; {revealed}[; case {case_ref}]" } },
	{ "supervisor.forget.requested", {
	    "supervisor {officer_id} meminta agar data pribadi Anda dihapus: {reason}"
	    "[ (kasus {case_id})]",
	    "supervisor {officer_id} asked for your personal data to be erased: {reason}"
	    "[ (case {case_id})]" } },
};

struct phrase {
	const char *field;
	const char *value;
	const char *t[SAKSI_LANG__COUNT];
};

static const struct phrase phrases[] = {
	/* channel (channels) */
	{ "channel", "web", { "situs web", "the website" } },
	{ "channel", "app", { "aplikasi seluler", "the mobile app" } },
	{ "channel", "kiosk", { "anjungan di kantor cabang", "a kiosk at the branch" } },
	{ "channel", "counter", { "loket layanan", "the service counter" } },
	{ "channel", "partner_hr", { "bagian SDM perusahaan (pengajuan kolektif)",
	    "an employer's HR office (collective filing)" } },
	/* service */
	{ "service", "jht_claim", { "klaim JHT", "JHT claim" } },
	{ "service", "jp_claim", { "klaim Jaminan Pensiun (JP)", "pension (JP) claim" } },
	{ "service", "jkk_claim", { "klaim Jaminan Kecelakaan Kerja (JKK)",
	    "work accident (JKK) claim" } },
	{ "service", "jkm_claim", { "klaim Jaminan Kematian (JKM)",
	    "death benefit (JKM) claim" } },
	{ "service", "membership", { "administrasi kepesertaan",
	    "membership administration" } },
	{ "service", "information", { "informasi", "information" } },
	{ "service", "complaint", { "pengaduan", "complaint" } },
	/* claim_kind */
	{ "claim_kind", "retirement", { "pensiun, usia 56 tahun", "retirement at 56" } },
	{ "claim_kind", "resignation", { "mengundurkan diri", "resignation" } },
	{ "claim_kind", "layoff", { "pemutusan hubungan kerja", "layoff" } },
	{ "claim_kind", "contract_end", { "kontrak kerja berakhir", "end of contract" } },
	{ "claim_kind", "emigration", { "meninggalkan Indonesia untuk selamanya",
	    "leaving Indonesia for good" } },
	{ "claim_kind", "disability", { "cacat total tetap",
	    "total permanent disability" } },
	{ "claim_kind", "death", { "meninggal dunia, dibayarkan kepada ahli waris",
	    "death, paid to the heirs" } },
	{ "claim_kind", "partial_10", { "sebagian 10 %", "partial, 10 %" } },
	{ "claim_kind", "partial_30", { "sebagian 30 % untuk perumahan",
	    "partial, 30 % for housing" } },
	/* document (documents) */
	{ "document", "ktp", { "e-KTP", "ID card (e-KTP)" } },
	{ "document", "kk", { "Kartu Keluarga", "family card (KK)" } },
	{ "document", "kpj_card", { "kartu peserta (KPJ)", "membership card (KPJ)" } },
	{ "document", "paklaring", { "surat keterangan kerja (paklaring)",
	    "work reference letter (paklaring)" } },
	{ "document", "layoff_letter", { "surat PHK", "layoff letter" } },
	{ "document", "bank_book", { "buku tabungan", "savings book" } },
	{ "document", "npwp", { "kartu NPWP", "tax number card (NPWP)" } },
	{ "document", "contract", { "kontrak kerja", "employment contract" } },
	{ "document", "court_ruling", { "putusan pengadilan", "court ruling" } },
	{ "document", "death_certificate", { "akta kematian", "death certificate" } },
	{ "document", "heir_statement", { "surat keterangan ahli waris",
	    "statement of heirs" } },
	{ "document", "disability_statement", { "surat keterangan cacat",
	    "disability statement" } },
	{ "document", "passport_visa", { "paspor dan visa", "passport and visa" } },
	/* method (documents, identity, login) */
	{ "method", "upload_review", { "pemeriksaan pindaian yang diunggah",
	    "review of the uploaded scan" } },
	{ "method", "video_shown", { "ditunjukkan dalam panggilan video",
	    "shown in a video call" } },
	{ "method", "counter_original", { "dokumen asli diperiksa di loket",
	    "original checked at the counter" } },
	{ "method", "ocr", { "pembacaan otomatis (OCR)", "automatic reading (OCR)" } },
	{ "method", "issuer_check", { "dikonfirmasi kepada penerbitnya",
	    "confirmed with its issuer" } },
	{ "method", "video_call", { "panggilan video", "a video call" } },
	{ "method", "selfie_liveness", { "swafoto dan uji keaktifan di aplikasi",
	    "the app's selfie and liveness check" } },
	{ "method", "password_otp", { "kata sandi dan kode OTP",
	    "password and one-time code" } },
	{ "method", "smartcard", { "kartu pintar", "smart card" } },
	{ "method", "sso", { "single sign-on", "single sign-on" } },
	/* result */
	{ "result", "valid", { "sah", "valid" } },
	{ "result", "invalid", { "tidak sah", "not valid" } },
	{ "result", "illegible", { "tidak terbaca", "illegible" } },
	{ "result", "missing", { "tidak ada", "missing" } },
	{ "result", "expired", { "kedaluwarsa", "expired" } },
	{ "result", "mismatch", { "tidak cocok", "did not match" } },
	{ "result", "suspected_forgery", { "diduga palsu", "suspected forgery" } },
	{ "result", "eligible", { "memenuhi syarat", "eligible" } },
	{ "result", "not_eligible", { "tidak memenuhi syarat", "not eligible" } },
	{ "result", "not_found", { "tidak ditemukan", "not found" } },
	{ "result", "data_mismatch", { "data tidak cocok", "the data did not match" } },
	{ "result", "malformed_input", { "nomor yang dimasukkan tidak valid",
	    "the numbers entered were not valid" } },
	{ "result", "rate_limited", { "ditolak karena terlalu banyak pemeriksaan",
	    "refused: too many checks" } },
	{ "result", "captcha_failed", { "ditolak karena CAPTCHA gagal",
	    "refused: the CAPTCHA failed" } },
	{ "result", "pass", { "lulus", "passed" } },
	{ "result", "fail", { "gagal", "failed" } },
	{ "result", "inconclusive", { "tidak dapat dipastikan", "inconclusive" } },
	{ "result", "abandoned", { "tidak diselesaikan", "abandoned" } },
	{ "result", "match", { "cocok", "matched" } },
	{ "result", "deceased", { "tercatat meninggal dunia", "recorded as deceased" } },
	{ "result", "unavailable", { "layanan Dukcapil tidak tersedia",
	    "the registry was unavailable" } },
	{ "result", "success", { "berhasil", "success" } },
	{ "result", "bad_credentials", { "kredensial salah", "wrong credentials" } },
	{ "result", "locked", { "akun terkunci", "account locked" } },
	{ "result", "outside_hours", { "di luar jam kerja", "outside working hours" } },
	/* reason (of every type that has one) */
	{ "reason", "active_member", { "Anda masih peserta aktif",
	    "you are still an active member" } },
	{ "reason", "waiting_period", { "masa tunggu satu bulan belum lewat",
	    "the one-month waiting period had not passed" } },
	{ "reason", "membership_too_short", { "masa kepesertaan terlalu singkat",
	    "the membership was too short" } },
	{ "reason", "age_not_reached", { "usia belum mencukupi",
	    "the age was not reached" } },
	{ "reason", "already_claimed", { "sudah pernah diklaim", "already claimed" } },
	{ "reason", "no_balance", { "tidak ada saldo", "no balance" } },
	{ "reason", "account_closed", { "rekening sudah ditutup",
	    "the account is closed" } },
	{ "reason", "account_not_found", { "rekening tidak ditemukan",
	    "the account was not found" } },
	{ "reason", "name_mismatch", { "nama pemilik rekening tidak cocok",
	    "the account holder's name did not match" } },
	{ "reason", "bank_rejected", { "ditolak oleh bank", "the bank refused it" } },
	{ "reason", "dormant_account", { "rekening tidak aktif", "the account is dormant" } },
	{ "reason", "limit_exceeded", { "melebihi batas", "a limit was exceeded" } },
	{ "reason", "timeout", { "bank tidak menjawab tepat waktu",
	    "the bank did not answer in time" } },
	{ "reason", "incomplete_documents", { "dokumen tidak lengkap",
	    "incomplete documents" } },
	{ "reason", "data_mismatch", { "data tidak cocok", "the data did not match" } },
	{ "reason", "nik_mismatch", { "NIK tidak cocok", "the NIK did not match" } },
	{ "reason", "not_eligible", { "tidak memenuhi syarat", "not eligible" } },
	{ "reason", "duplicate_claim", { "klaim ganda", "a duplicate claim" } },
	{ "reason", "identity_failed", { "verifikasi identitas gagal",
	    "the identity check failed" } },
	{ "reason", "account_not_own_name", { "rekening bukan atas nama sendiri",
	    "the account was not in your own name" } },
	{ "reason", "suspected_fraud", { "dugaan kecurangan", "suspected fraud" } },
	{ "reason", "withdrawn", { "ditarik kembali", "withdrawn" } },
	{ "reason", "participant_request", { "atas permintaan Anda", "at your request" } },
	{ "reason", "rescheduled_elsewhere", { "dipesan ulang pada jadwal lain",
	    "booked again for another slot" } },
	{ "reason", "duplicate_booking", { "pemesanan ganda", "a duplicate booking" } },
	{ "reason", "documents_missing", { "dokumen kurang", "documents missing" } },
	{ "reason", "branch_closed", { "kantor cabang tutup", "the branch was closed" } },
	{ "reason", "identity_mismatch", { "identitas tidak cocok",
	    "the identity did not match" } },
	{ "reason", "not_confirmed", { "tidak dikonfirmasi", "not confirmed" } },
	{ "reason", "officer_unavailable", { "petugas tidak tersedia",
	    "no officer was available" } },
	{ "reason", "system_outage", { "gangguan sistem", "a system outage" } },
	{ "reason", "quota_change", { "perubahan kuota", "a change of quota" } },
	{ "reason", "elderly", { "lanjut usia", "old age" } },
	{ "reason", "disability", { "disabilitas", "disability" } },
	{ "reason", "pregnant", { "kehamilan", "pregnancy" } },
	{ "reason", "illness", { "sakit", "illness" } },
	{ "reason", "return_visit", { "kunjungan ulang", "a return visit" } },
	{ "reason", "supervisor_request", { "permintaan atasan", "a supervisor's request" } },
	{ "reason", "other", { "alasan lain", "another reason" } },
	{ "reason", "extra_officer", { "ada petugas tambahan", "an extra officer" } },
	{ "reason", "officer_absent", { "petugas berhalangan", "an officer was absent" } },
	{ "reason", "rush", { "lonjakan pengunjung", "a rush of visitors" } },
	{ "reason", "head_office_instruction", { "instruksi kantor pusat",
	    "an instruction of the head office" } },
	{ "reason", "subject_request", { "atas permintaan Anda", "at your request" } },
	{ "reason", "retention_ended", { "masa penyimpanan berakhir",
	    "the retention period ended" } },
	{ "reason", "court_order", { "perintah pengadilan", "a court order" } },
	/* fail_reason */
	{ "fail_reason", "face_mismatch", { "wajah tidak cocok dengan foto e-KTP",
	    "the face did not match the e-KTP photo" } },
	{ "fail_reason", "liveness_failed", { "uji keaktifan gagal",
	    "the liveness check failed" } },
	{ "fail_reason", "document_not_shown", { "dokumen tidak ditunjukkan",
	    "the documents were not shown" } },
	{ "fail_reason", "poor_connection", { "koneksi buruk", "a poor connection" } },
	{ "fail_reason", "third_party_present", { "ada orang lain yang hadir",
	    "another person was present" } },
	{ "fail_reason", "coached", { "Anda tampak diarahkan orang lain",
	    "you appeared to be coached" } },
	/* source */
	{ "source", "dukcapil_online", { "secara daring", "online" } },
	{ "source", "dukcapil_batch", { "secara kolektif", "in a batch" } },
	{ "source", "manual", { "secara manual", "by hand" } },
	/* mismatched */
	{ "mismatched", "name", { "nama", "name" } },
	{ "mismatched", "birth_date", { "tanggal lahir", "date of birth" } },
	{ "mismatched", "birth_place", { "tempat lahir", "place of birth" } },
	{ "mismatched", "mother_name", { "nama ibu kandung", "mother's name" } },
	{ "mismatched", "family_card", { "kartu keluarga", "family card" } },
	{ "mismatched", "address", { "alamat", "address" } },
	{ "mismatched", "gender", { "jenis kelamin", "gender" } },
	/* by, cancelled_by, rescheduled_by */
	{ "by", "officer", { "petugas", "an officer" } },
	{ "by", "system", { "sistem", "the system" } },
	{ "by", "participant", { "Anda sendiri", "yourself" } },
	/* id_method, id_result */
	{ "id_method", "ektp_reader", { "pembaca e-KTP", "e-KTP card reader" } },
	{ "id_method", "visual", { "pemeriksaan visual", "a visual check" } },
	{ "id_method", "qr_only", { "hanya kode QR", "QR code only" } },
	{ "id_method", "none", { "tanpa pemeriksaan", "no check" } },
	{ "id_result", "match", { "cocok dengan NIK pemesanan",
	    "matched the booking's NIK" } },
	{ "id_result", "mismatch", { "tidak cocok dengan NIK pemesanan",
	    "did not match the booking's NIK" } },
	{ "id_result", "not_checked", { "tidak diperiksa", "not checked" } },
	/* mode */
	{ "mode", "in_person", { "secara langsung", "in person" } },
	{ "mode", "video", { "melalui panggilan video", "by video call" } },
	{ "mode", "video_at_branch", { "melalui video di kantor cabang",
	    "by video at the branch" } },
	{ "mode", "group_video", { "melalui panggilan video bersama (hingga tiga orang)",
	    "in a group video call (up to three people)" } },
	/* outcome */
	{ "outcome", "completed", { "selesai", "completed" } },
	{ "outcome", "documents_incomplete", { "dokumen belum lengkap",
	    "documents incomplete" } },
	{ "outcome", "referred", { "dirujuk ke layanan lain", "referred elsewhere" } },
	{ "outcome", "rejected", { "ditolak", "rejected" } },
	{ "outcome", "participant_left", { "Anda meninggalkan tempat", "you left" } },
	{ "outcome", "system_failure", { "gangguan sistem", "a system failure" } },
	/* priority (priority_before, priority_after) */
	{ "priority", "normal", { "biasa", "normal" } },
	{ "priority", "priority", { "prioritas", "priority" } },
	{ "priority", "urgent", { "mendesak", "urgent" } },
	/* role */
	{ "role", "frontliner", { "petugas layanan", "front-line officer" } },
	{ "role", "video_officer", { "petugas layanan video", "video officer" } },
	{ "role", "supervisor", { "supervisor", "supervisor" } },
	{ "role", "branch_head", { "kepala kantor cabang", "branch head" } },
	{ "role", "auditor", { "auditor", "auditor" } },
	{ "role", "admin", { "administrator", "administrator" } },
	/* stage */
	{ "stage", "not_checked_in", { "Anda tidak mengambil nomor antrean",
	    "you did not check in" } },
	{ "stage", "absent_when_called", { "Anda tidak ada saat dipanggil",
	    "you were not there when called" } },
	{ "stage", "left_before_service", { "Anda pergi sebelum dilayani",
	    "you left before being served" } },
	/* command of an access entry */
	{ "command", "query", { "pencarian (query)", "a query" } },
	{ "command", "timeline", { "riwayat (timeline)", "a timeline" } },
	{ "command", "bundle", { "ekspor berkas bukti (evidence bundle) untuk sebuah kasus",
	    "an evidence bundle exported for a case" } },
	{ "command", "subject-report", { "laporan subjek data seperti ini",
	    "a data subject's report like this one" } },
	/* booleans */
	{ "will_retry", "true", { "akan dicoba lagi", "another attempt will follow" } },
	{ "will_retry", "false", { "tidak akan dicoba lagi", "no further attempt" } },
	{ "walk_in", "true", { "tanpa pemesanan (datang langsung)",
	    "as a walk-in, without a booking" } },
	{ "walk_in", "false", { "dengan pemesanan", "with a booking" } },
	{ "slot_released", "true", { "tempatnya dikembalikan untuk dipesan orang lain",
	    "the place went back for others to book" } },
	{ "slot_released", "false", { "tempatnya tidak dilepas",
	    "the place was not released" } },
	{ "liveness_passed", "true", { "uji keaktifan lulus",
	    "the liveness check had passed" } },
	{ "liveness_passed", "false", { "uji keaktifan tidak lulus",
	    "the liveness check had not passed" } },
	{ "revealed", "true", { "data pribadi ditampilkan tanpa disamarkan",
	    "personal values were shown in clear" } },
	{ "revealed", "false", { "data pribadi ditampilkan tersamar",
	    "personal values were shown masked" } },
	{ "personal_filter", "true", { "dicari dengan data pribadi",
	    "searched by a personal value" } },
	{ "personal_filter", "false", { "dicari tanpa data pribadi",
	    "searched by no personal value" } },
};

/* Fields that share another field's vocabulary. */
static const char *const aliases[][2] = {
	{ "channels", "channel" }, { "documents", "document" },
	{ "priority_before", "priority" }, { "priority_after", "priority" },
	{ "cancelled_by", "by" }, { "rescheduled_by", "by" },
};

struct label {
	const char *field;
	const char *t[SAKSI_LANG__COUNT];
};

/* The personal fields (schemas/README.md), as the details of an entry name them. */
static const struct label labels[] = {
	{ "nik", { "NIK", "NIK" } },
	{ "kpj", { "Nomor KPJ", "KPJ number" } },
	{ "name", { "Nama", "Name" } },
	{ "account_holder", { "Pemilik rekening", "Account holder" } },
	{ "phone", { "Nomor telepon", "Phone number" } },
	{ "email", { "Surel", "E-mail" } },
	{ "npwp", { "NPWP", "NPWP" } },
	{ "bank_account", { "Nomor rekening", "Bank account" } },
	{ "device_id", { "Perangkat", "Device" } },
	{ "ip", { "Alamat IP", "IP address" } },
	{ "balance", { "Saldo", "Balance" } },
	{ "amount", { "Jumlah", "Amount" } },
	{ "scan_sha256", { "Sidik dokumen pindaian (SHA-256)", "Scan fingerprint (SHA-256)" } },
};

/* The detection rules of schemas/rules/default.rules, in words a participant follows. */
static const struct phrase rules[] = {
	{ "rule", "device_many_nik_fast", { "satu perangkat dipakai untuk banyak orang dalam "
	    "satu jam", "one device used for many people within an hour" } },
	{ "rule", "device_many_nik_day", { "satu perangkat dipakai untuk banyak orang dalam "
	    "satu hari", "one device used for many people in one day" } },
	{ "rule", "phone_many_nik", { "satu nomor telepon dipakai oleh banyak orang",
	    "one phone number used by many people" } },
	{ "rule", "email_many_nik", { "satu alamat surel dipakai oleh banyak orang",
	    "one e-mail address used by many people" } },
	{ "rule", "account_many_claimants", { "satu rekening bank menerima klaim banyak orang",
	    "one bank account receiving the claims of many people" } },
	{ "rule", "slot_rebooked_other_nik", { "jadwal yang dilepas langsung dipesan untuk "
	    "orang lain", "a released slot booked again at once for someone else" } },
	{ "rule", "slot_rebooked_same_device", { "jadwal dibatalkan lalu dipesan untuk orang "
	    "lain dari perangkat yang sama", "a slot cancelled and booked for someone else "
	    "from the same device" } },
	{ "rule", "opening_bookings_one_device", { "satu perangkat memesan untuk beberapa "
	    "orang begitu jadwal dibuka", "one device booking for several people the moment "
	    "slots opened" } },
	{ "rule", "opening_bookings_one_ip", { "banyak pemesanan dari satu alamat internet "
	    "begitu jadwal dibuka", "many bookings from one internet address the moment slots "
	    "opened" } },
	{ "rule", "queue_out_of_order", { "petugas memanggil nomor antrean tidak sesuai "
	    "urutan", "an officer calling tickets out of turn" } },
	{ "rule", "noshow_one_device", { "pemesanan dari satu perangkat untuk banyak orang "
	    "tidak dipakai", "bookings from one device for many people left unused" } },
	{ "rule", "counter_claims_without_booking", { "petugas mengajukan banyak klaim di "
	    "loket tanpa pemesanan", "an officer filing many claims at the counter without a "
	    "booking" } },
	{ "rule", "jht_daily_cap", { "lebih banyak klaim JHT dilayani daripada kuota harian "
	    "kantor cabang", "more JHT claims served in a day than the branch's quota" } },
	{ "rule", "quota_raised_without_approver", { "kuota dinaikkan tanpa persetujuan",
	    "a quota raised without approval" } },
	{ "rule", "quota_overrides_frequent", { "seorang petugas sering mengubah kuota",
	    "one officer changing quotas often" } },
	{ "rule", "priority_changes_frequent", { "seorang petugas sering menaikkan prioritas "
	    "tanpa alasan yang jelas", "one officer raising priorities often without a stated "
	    "need" } },
	{ "rule", "officer_shared_device", { "seorang petugas menyetujui klaim beberapa orang "
	    "yang diajukan dari satu perangkat", "one officer approving the claims of several "
	    "people filed from one device" } },
	{ "rule", "officer_shared_account", { "seorang petugas menyetujui klaim beberapa "
	    "orang yang dibayar ke satu rekening", "one officer approving the claims of "
	    "several people paid into one account" } },
	{ "rule", "nik_fails_then_matches", { "pencocokan NIK ke Dukcapil berulang kali gagal "
	    "lalu cocok", "repeated civil-registry failures for one NIK, then a match" } },
	{ "rule", "eligibility_probe_device", { "satu perangkat memeriksa kelayakan banyak "
	    "orang", "one device checking the eligibility of many people" } },
	{ "rule", "eligibility_refused_one_ip", { "pemeriksaan kelayakan massal dari satu "
	    "alamat internet ditolak", "bulk eligibility checks from one internet address "
	    "refused" } },
	{ "rule", "supervisor_reveals_many", { "seorang supervisor berulang kali membuka data "
	    "pribadi", "one supervisor opening personal data again and again" } },
	{ "rule", "supervisor_reveals_bulk", { "satu pencarian membuka data pribadi ratusan "
	    "entri", "one look opening the personal data of hundreds of entries" } },
	{ "rule", "late", { "data yang datang terlambat", "records that arrived late" } },
};

static const char *const generic_rule[SAKSI_LANG__COUNT] = {
	"pola lain yang dipantau sistem antikecurangan",
	"another pattern the anti-fraud system watches for",
};

static const char *const months[SAKSI_LANG__COUNT][12] = {
	{ "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
	  "September", "Oktober", "November", "Desember" },
	{ "January", "February", "March", "April", "May", "June", "July", "August",
	  "September", "October", "November", "December" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

saksi_err
saksi_subject_lang(const char *name, saksi_lang *out)
{
	if (name == NULL || out == NULL)
		return SAKSI_ERR_INVAL;
	if (strcmp(name, "id") == 0)
		*out = SAKSI_LANG_ID;
	else if (strcmp(name, "en") == 0)
		*out = SAKSI_LANG_EN;
	else
		return SAKSI_ERR_INVAL;
	return SAKSI_OK;
}

saksi_err
saksi_subject_zone(const char *name, int *offset_min, const char **canonical)
{
	static const struct { const char *name; int off; } zones[] = {
		{ "WIB", 7 * 60 }, { "WITA", 8 * 60 }, { "WIT", 9 * 60 }, { "UTC", 0 },
	};

	if (name == NULL || offset_min == NULL || canonical == NULL)
		return SAKSI_ERR_INVAL;
	for (size_t i = 0; i < NELEM(zones); i++)
		if (strcmp(name, zones[i].name) == 0) {
			*offset_min = zones[i].off;
			*canonical = zones[i].name;
			return SAKSI_OK;
		}
	return SAKSI_ERR_INVAL;
}

/*
 * Indonesia's provinces by their two-digit code (Kemendagri, the first two digits of a
 * NIK and of a region code) and the zone they keep: Sumatra, Java, West and Central
 * Kalimantan WIB; Bali, the Nusa Tenggaras, the rest of Kalimantan and Sulawesi WITA;
 * Maluku and Papua WIT. A code not listed has no zone here.
 */
saksi_err
saksi_subject_zone_of_region(const char *region, int *offset_min, const char **canonical)
{
	static const struct { int lo, hi; const char *zone; } provinces[] = {
		{ 11, 21, "WIB" },    /* Aceh .. Kepulauan Riau */
		{ 31, 36, "WIB" },    /* DKI Jakarta .. Banten */
		{ 51, 53, "WITA" },   /* Bali, NTB, NTT */
		{ 61, 62, "WIB" },    /* Kalimantan Barat, Kalimantan Tengah */
		{ 63, 65, "WITA" },   /* Kalimantan Selatan, Timur, Utara */
		{ 71, 76, "WITA" },   /* Sulawesi, Gorontalo */
		{ 81, 82, "WIT" },    /* Maluku, Maluku Utara */
		{ 91, 96, "WIT" },    /* the Papua provinces */
	};
	int code;

	if (region == NULL || offset_min == NULL || canonical == NULL)
		return SAKSI_ERR_INVAL;
	if (region[0] < '0' || region[0] > '9' || region[1] < '0' || region[1] > '9')
		return SAKSI_ERR_NOT_FOUND;
	code = (region[0] - '0') * 10 + (region[1] - '0');
	for (size_t i = 0; i < NELEM(provinces); i++)
		if (code >= provinces[i].lo && code <= provinces[i].hi)
			return saksi_subject_zone(provinces[i].zone, offset_min, canonical);
	return SAKSI_ERR_NOT_FOUND;
}

static int
lang_ok(saksi_lang lang)
{
	return (int)lang >= 0 && lang < SAKSI_LANG__COUNT;
}

const char *
saksi_subject_template(saksi_lang lang, const char *type)
{
	if (!lang_ok(lang) || type == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(sentences); i++)
		if (strcmp(sentences[i].type, type) == 0)
			return sentences[i].t[lang];
	return NULL;
}

const char *const *
saksi_subject_types(size_t *n)
{
	/* The type names, gathered once into a constant array of pointers. */
	static const char *const types[] = {
		"claim.approved", "claim.document.checked", "claim.eligibility.checked",
		"claim.identity.verified", "claim.nik.checked", "claim.payment.failed",
		"claim.payment.sent", "claim.rejected", "claim.submitted",
		"queue.booking.cancelled", "queue.booking.created", "queue.booking.rescheduled",
		"queue.called", "queue.checkin", "queue.noshow", "queue.service.ended",
		"queue.service.started", "queue.slot.opened", "security.alert.acked",
		"staff.login", "staff.priority.changed", "staff.quota.override",
		"supervisor.access.logged", "supervisor.forget.requested",
	};

	_Static_assert(NELEM(types) == NELEM(sentences), "types and sentences differ");
	*n = NELEM(types);
	return types;
}

const char *
saksi_subject_phrase(saksi_lang lang, const char *field, const char *value)
{
	if (!lang_ok(lang) || field == NULL || value == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(aliases); i++)
		if (strcmp(field, aliases[i][0]) == 0) {
			field = aliases[i][1];
			break;
		}
	for (size_t i = 0; i < NELEM(phrases); i++)
		if (strcmp(phrases[i].field, field) == 0 && strcmp(phrases[i].value, value) == 0)
			return phrases[i].t[lang];
	return NULL;
}

const char *
saksi_subject_label(saksi_lang lang, const char *field)
{
	if (!lang_ok(lang) || field == NULL)
		return NULL;
	for (size_t i = 0; i < NELEM(labels); i++)
		if (strcmp(labels[i].field, field) == 0)
			return labels[i].t[lang];
	return NULL;
}

const char *
saksi_subject_rule(saksi_lang lang, const char *rule, int *known)
{
	if (known != NULL)
		*known = 0;
	if (!lang_ok(lang))
		lang = SAKSI_LANG_ID;
	if (rule != NULL)
		for (size_t i = 0; i < NELEM(rules); i++)
			if (strcmp(rules[i].value, rule) == 0) {
				if (known != NULL)
					*known = 1;
				return rules[i].t[lang];
			}
	return generic_rule[lang];
}

/* ---- a growing text buffer ---- */

struct buf {
	char *p;
	size_t n, cap;
	int oom;
};

static void
b_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 1024 : b->cap;
		char *grown;

		while (cap < b->n + n + 1)
			cap *= 2;
		/* A copy, not realloc: the old block may hold personal values and is wiped. */
		if ((grown = malloc(cap)) == NULL) {
			b->oom = 1;
			return;
		}
		if (b->p != NULL) {
			memcpy(grown, b->p, b->n);
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = grown;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
b_str(struct buf *b, const char *s)
{
	b_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void
b_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	sodium_memzero(tmp, sizeof(tmp));
}

static void
b_wipe(struct buf *b)
{
	if (b->p != NULL) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* Text into HTML: the five characters that matter, everything else as it is. */
static void
b_html(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		size_t run = strcspn(s, "<>&\"'");

		b_add(b, s, run);
		s += run;
		switch (*s) {
		case '<': b_str(b, "&lt;"); break;
		case '>': b_str(b, "&gt;"); break;
		case '&': b_str(b, "&amp;"); break;
		case '"': b_str(b, "&quot;"); break;
		case '\'': b_str(b, "&#39;"); break;
		default: return;   /* the NUL */
		}
	}
}

/* ---- values in words ---- */

saksi_err
saksi_subject_when(saksi_lang lang, uint64_t time_ms, int offset_min, const char *zone,
                   char *out, size_t len)
{
	struct tm tm;
	time_t t;
	int64_t s;

	if (!lang_ok(lang) || out == NULL || len < 64 || zone == NULL)
		return SAKSI_ERR_INVAL;
	if (time_ms / 1000 > (uint64_t)INT64_MAX / 2)
		return SAKSI_ERR_RANGE;
	s = (int64_t)(time_ms / 1000) + (int64_t)offset_min * 60;
	t = (time_t)s;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999)
		return SAKSI_ERR_RANGE;
	if (lang == SAKSI_LANG_ID)
		snprintf(out, len, "%d %s %d pukul %02d.%02d %.8s", tm.tm_mday,
		    months[lang][tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, zone);
	else
		snprintf(out, len, "%d %s %d at %02d:%02d %.8s", tm.tm_mday,
		    months[lang][tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, zone);
	return SAKSI_OK;
}

static int
is_personal(const char *field)
{
	for (size_t i = 0; i < NELEM(labels); i++)
		if (strcmp(labels[i].field, field) == 0)
			return 1;
	return 0;
}

/* "2026-03-03" as "3 Maret 2026"; anything else as it is. */
static void
v_date(struct buf *b, saksi_lang lang, const char *s)
{
	int y, m, d;
	char tail;

	if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
	    m >= 1 && m <= 12 && d >= 1 && d <= 31)
		b_fmt(b, "%d %s %d", d, months[lang][m - 1], y);
	else
		b_str(b, s);
}

/* Rupiah with the language's thousands separator. */
static void
v_rupiah(struct buf *b, saksi_lang lang, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || strspn(s, "0123456789") != n) {
		b_str(b, s);
		return;
	}
	b_str(b, "Rp ");
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			b_str(b, lang == SAKSI_LANG_ID ? "." : ",");
		b_add(b, s + i, 1);
	}
}

static void
v_duration(struct buf *b, saksi_lang lang, json_int_t s)
{
	if (s < 60)
		b_fmt(b, "%lld %s", (long long)s, lang == SAKSI_LANG_ID ? "detik" : "seconds");
	else
		b_fmt(b, "%lld %s", (long long)((s + 30) / 60),
		    lang == SAKSI_LANG_ID ? "menit" : (s + 30) / 60 == 1 ? "minute" : "minutes");
}

/* One scalar of field in words. */
static void
v_scalar(struct buf *b, saksi_lang lang, const char *field, const json_t *v)
{
	const char *p;

	if (json_is_boolean(v)) {
		p = saksi_subject_phrase(lang, field, json_is_true(v) ? "true" : "false");
		b_str(b, p != NULL ? p : json_is_true(v) ? "true" : "false");
	} else if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (strcmp(field, "slot_hour") == 0 || strcmp(field, "from_slot_hour") == 0 ||
		    strcmp(field, "hours") == 0)
			b_fmt(b, lang == SAKSI_LANG_ID ? "%02lld.00" : "%02lld:00", (long long)i);
		else if (strcmp(field, "duration_s") == 0)
			v_duration(b, lang, i);
		else
			b_fmt(b, "%lld", (long long)i);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if ((p = saksi_subject_phrase(lang, field, s)) != NULL)
			b_str(b, p);
		else if (strcmp(field, "slot_date") == 0 || strcmp(field, "from_slot_date") == 0 ||
		    strcmp(field, "queue_date") == 0)
			v_date(b, lang, s);
		else if (strcmp(field, "amount") == 0 || strcmp(field, "balance") == 0)
			v_rupiah(b, lang, s);
		else
			b_str(b, s);
	} else if (json_is_real(v)) {
		b_fmt(b, "%g", json_real_value(v));
	}
}

/* The field's value in words; 0 if it is absent or withheld (the segment is left out). */
static int
v_field(struct buf *b, saksi_lang lang, const json_t *payload, const char *field)
{
	const json_t *v = json_object_get(payload, field);

	if (v == NULL || json_is_null(v))
		return 0;
	if (is_personal(field) && !json_is_string(v))
		return 0;   /* a digest: withheld or forgotten */
	if (json_is_array(v)) {
		size_t i;
		const json_t *it;

		if (json_array_size(v) == 0)
			return 0;
		json_array_foreach(v, i, it) {
			if (i > 0)
				b_str(b, ", ");
			v_scalar(b, lang, field, it);
		}
		return 1;
	}
	if (json_is_object(v))
		return 0;
	v_scalar(b, lang, field, v);
	return 1;
}

/*
 * Fills template t from payload into b. A segment [..] whose fields are not all there
 * is left out whole; a field missing outside any segment shows as "-".
 */
static void
fill(struct buf *b, saksi_lang lang, const char *t, const json_t *payload)
{
	struct buf seg = { 0 };
	int in_seg = 0, seg_ok = 1;

	for (const char *s = t; *s != '\0'; s++) {
		struct buf *to = in_seg ? &seg : b;

		if (*s == '[' && !in_seg) {
			in_seg = 1;
			seg_ok = 1;
			seg.n = 0;
			if (seg.p != NULL)
				seg.p[0] = '\0';
			continue;
		}
		if (*s == ']' && in_seg) {
			if (seg_ok && seg.n > 0)
				b_add(b, seg.p, seg.n);
			in_seg = 0;
			continue;
		}
		if (*s == '{') {
			const char *end = strchr(s, '}');
			char field[64];

			if (end == NULL || (size_t)(end - s - 1) >= sizeof(field)) {
				b_add(to, s, 1);
				continue;
			}
			memcpy(field, s + 1, (size_t)(end - s - 1));
			field[end - s - 1] = '\0';
			if (!v_field(to, lang, payload, field)) {
				if (in_seg)
					seg_ok = 0;
				else
					b_str(b, "-");
			}
			s = end;
			continue;
		}
		b_add(to, s, 1);
	}
	b->oom |= seg.oom;
	b_wipe(&seg);
}

saksi_err
saksi_subject_sentence(saksi_lang lang, const char *type, uint64_t time_ms, int offset_min,
                       const char *zone, const json_t *payload, char **out)
{
	const char *t, *branch;
	char when[96];
	struct buf b = { 0 };
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (!lang_ok(lang) || type == NULL || zone == NULL || !json_is_object(payload) ||
	    out == NULL)
		return SAKSI_ERR_INVAL;
	if ((t = saksi_subject_template(lang, type)) == NULL)
		return SAKSI_ERR_NOT_FOUND;
	if ((e = saksi_subject_when(lang, time_ms, offset_min, zone, when, sizeof(when))) !=
	    SAKSI_OK)
		return e;
	branch = json_string_value(json_object_get(payload, "branch"));
	if (branch == NULL)
		branch = "-";
	if (strcmp(branch, "KP-PUSAT") == 0)
		b_fmt(&b, lang == SAKSI_LANG_ID ? "Pada %s, melalui layanan kantor pusat "
		    "(KP-PUSAT), " : "On %s, through the head office's service (KP-PUSAT), ",
		    when);
	else
		b_fmt(&b, lang == SAKSI_LANG_ID ? "Pada %s, di kantor cabang %.24s, " :
		    "On %s, at branch %.24s, ", when, branch);
	fill(&b, lang, t, payload);
	b_str(&b, ".");
	if (b.oom) {
		b_wipe(&b);
		return SAKSI_ERR_NOMEM;
	}
	*out = b.p;
	return SAKSI_OK;
}

/* ---- the report ---- */

/* The report's fixed texts, in both languages. */
enum {
	T_TITLE, T_INTRO, T_SUBJECT, T_DATE, T_CASE, T_BASIS, T_BASIS_TEXT, T_CKPT,
	T_CKPT_TEXT, T_ORIGIN, T_SIZE, T_ROOT, T_OWN_ENTRY, T_EVENTS, T_EVENTS_N,
	T_NO_EVENTS, T_NO_EVENTS_ERASED, T_ENTRY, T_FORGOTTEN, T_WITHHELD, T_ACCESS, T_ACCESS_N, T_NO_ACCESS,
	T_ACCESS_KNOW, T_BY_ID, T_BY_RECORD, T_IN_RESULTS, T_WHO, T_ALERTS, T_NO_ALERTS,
	T_ALERTS_NOTE, T_ALERT_LINE, T_ERASURE, T_ERASED, T_NOT_ERASED, T_ERASED_HINT,
	T_CORRECT, T_CORRECT_TEXT, T_VERIFY_TEXT, T_SEV, T_CLEAR, T_MASKED, T_RESULTS,
	T__COUNT
};

static const char *const texts[T__COUNT][SAKSI_LANG__COUNT] = {
	[T_TITLE] = { "Laporan data pribadi dan rekam jejak pemrosesannya",
	    "Report of your personal data and its processing trail" },
	[T_INTRO] = { "Laporan ini berisi setiap catatan tentang Anda dalam buku besar audit "
	    "(ledger) layanan klaim dan antrean, setiap kali data Anda dilihat, dan setiap "
	    "peringatan antikecurangan yang melibatkan data Anda.",
	    "This report holds every record about you in the audit ledger of the claim and "
	    "queue service, every time your data was looked at, and every anti-fraud alert "
	    "that involved your data." },
	[T_SUBJECT] = { "Subjek data", "Data subject" },
	[T_DATE] = { "Tanggal laporan", "Date of the report" },
	[T_CASE] = { "Nomor permintaan", "Request reference" },
	[T_BASIS] = { "Dasar hukum", "Legal basis" },
	[T_BASIS_TEXT] = { "Undang-Undang Nomor 27 Tahun 2022 tentang Pelindungan Data "
	    "Pribadi: hak subjek data untuk mendapatkan akses dan salinan data pribadinya "
	    "(Pasal 7), dan kewajiban pengendali data untuk memberikan akses kepada subjek "
	    "data atas data pribadi yang diproses beserta rekam jejak pemrosesannya dalam "
	    "waktu paling lambat 3 x 24 jam (Pasal 32).",
	    "Indonesian Law No. 27 of 2022 on Personal Data Protection (UU PDP): the data "
	    "subject's right to access and obtain a copy of their personal data (Article 7), "
	    "and the controller's duty to give the data subject access to the personal data "
	    "processed and its processing trail within 3 x 24 hours (Article 32)." },
	[T_CKPT] = { "Bukti buku besar", "Proof of the ledger" },
	[T_CKPT_TEXT] = { "Laporan ini dibuat dari buku besar pada ukuran dan akar (root) di "
	    "bawah, yang ditandatangani oleh sistem. Simpan nilai ini: dengan nilai ini Anda "
	    "atau pihak pemeriksa (misalnya ombudsman) kelak dapat membuktikan bahwa setiap "
	    "catatan dalam laporan ini memang ada di buku besar dan tidak diubah.",
	    "This report was made from the ledger at the size and root below, which the "
	    "system signed. Keep these values: with them you, or a reviewer such as the "
	    "ombudsman, can later prove that every record in this report was in the ledger "
	    "and was not changed." },
	[T_ORIGIN] = { "Buku besar", "Ledger" },
	[T_SIZE] = { "Jumlah entri", "Entries" },
	[T_ROOT] = { "Akar (SHA-256)", "Root (SHA-256)" },
	[T_OWN_ENTRY] = { "Pembuatan laporan ini sendiri tercatat sebagai entri",
	    "The making of this report is itself recorded as entry" },
	[T_EVENTS] = { "1. Catatan tentang Anda", "1. Records about you" },
	[T_EVENTS_N] = { "Jumlah catatan", "Number of records" },
	[T_NO_EVENTS] = { "Tidak ada catatan tentang Anda di buku besar ini: tidak ada "
	    "pemesanan, klaim, atau pemeriksaan yang tercatat dengan NIK (atau nomor KPJ) "
	    "Anda.",
	    "There is no record about you in this ledger: no booking, claim or check was "
	    "recorded with your NIK (or KPJ number)." },
	/* Not "no record was recorded": after an erasure there were records, unlinked now. */
	[T_NO_EVENTS_ERASED] = { "Tidak ada lagi catatan di buku besar ini yang dapat "
	    "dikaitkan dengan Anda (lihat bagian 4, Penghapusan).",
	    "No record in this ledger can be linked to you any more (see part 4, Erasure)." },
	[T_ENTRY] = { "entri", "entry" },
	[T_FORGOTTEN] = { "Data pribadi dalam catatan ini telah dihapus; yang tersisa hanya "
	    "sidik acak (salted digest) yang tidak dapat dibuka kembali.",
	    "The personal data in this record was erased; only salted digests remain, which "
	    "cannot be opened again." },
	[T_WITHHELD] = { "Catatan ini juga menyangkut orang lain: data pribadinya tidak "
	    "ditampilkan.",
	    "This record also concerns another person: their personal data is not shown." },
	[T_ACCESS] = { "2. Siapa yang melihat data Anda", "2. Who looked at your data" },
	[T_ACCESS_N] = { "Jumlah akses", "Number of looks" },
	[T_NO_ACCESS] = { "Tidak ada catatan bahwa seseorang mencari atau melihat data Anda "
	    "(selain laporan ini).",
	    "There is no record of anyone searching for or looking at your data (besides "
	    "this report)." },
	[T_ACCESS_KNOW] = { "Setiap pencarian dengan data pribadi, dan setiap tampilan data "
	    "pribadi tanpa disamarkan, dicatat di buku besar sebelum hasilnya ditampilkan. "
	    "Yang dapat diketahui: pencarian yang menyebut NIK, KPJ, atau data Anda yang lain, "
	    "atau nomor klaim dan pemesanan Anda; dan pencarian lain yang hasilnya, bila "
	    "diulang pada buku besar yang sama, memuat catatan Anda. Pencarian tanpa data "
	    "pribadi yang hanya menampilkan data tersamar tidak dicatat, sehingga tidak muncul "
	    "di sini.",
	    "Every search by a personal value, and every display of personal data in clear, "
	    "is written to the ledger before its results are shown. What can be known: "
	    "searches that named your NIK, KPJ or other data of yours, or your claim and "
	    "booking numbers; and other searches whose results, run again over the same "
	    "ledger, hold records of yours. Searches by no personal value that showed only "
	    "masked data are not recorded, and so do not appear here." },
	[T_BY_ID] = { "pencarian dengan data Anda", "a search by your data" },
	[T_BY_RECORD] = { "pencarian dengan nomor klaim atau pemesanan Anda",
	    "a search by your claim or booking number" },
	[T_IN_RESULTS] = { "hasilnya memuat catatan Anda", "its results held your records" },
	[T_WHO] = { "oleh", "by" },
	[T_ALERTS] = { "3. Peringatan antikecurangan yang melibatkan data Anda",
	    "3. Anti-fraud alerts that involved your data" },
	[T_NO_ALERTS] = { "Tidak ada peringatan antikecurangan yang melibatkan catatan Anda.",
	    "No anti-fraud alert involved your records." },
	[T_ALERTS_NOTE] = { "Peringatan menandai pola (misalnya satu nomor telepon dipakai "
	    "banyak orang) yang diperiksa oleh tim keamanan. Peringatan tidak berarti Anda "
	    "berbuat salah: sering kali justru melindungi Anda dari calo.",
	    "An alert marks a pattern (for example one phone number used by many people) for "
	    "the security team to look into. It does not mean you did anything wrong: often "
	    "it protects you from brokers." },
	[T_ALERT_LINE] = { "catatan Anda termasuk bukti", "of your records were among the "
	    "evidence" },
	[T_ERASURE] = { "4. Penghapusan", "4. Erasure" },
	[T_ERASED] = { "Data pribadi Anda telah dihapus (kuncinya dimusnahkan). Catatan "
	    "layanannya tetap ada di buku besar agar buku besar tetap dapat diperiksa, tetapi "
	    "yang tersisa dari data pribadi Anda hanya sidik acak (salted digest) yang tidak "
	    "dapat dibuka oleh siapa pun.",
	    "Your personal data was erased (its key was destroyed). The service records stay "
	    "in the ledger so that the ledger can still be verified, but all that remains of "
	    "your personal data are salted digests that nobody can open." },
	[T_NOT_ERASED] = { "Tidak ada permintaan penghapusan data Anda yang tercatat.",
	    "No erasure of your data is recorded." },
	[T_ERASED_HINT] = { "Sebelumnya ada pencarian dengan data Anda yang menemukan catatan, "
	    "tetapi kini tidak ada catatan yang dapat dikaitkan dengan Anda: data pribadi Anda "
	    "kemungkinan besar telah dihapus. Setelah penghapusan, buku besar memang tidak "
	    "dapat lagi mengaitkan catatan mana pun dengan Anda; yang tersisa hanya sidik acak.",
	    "An earlier search by your data found records, but no record can be linked to you "
	    "now: your personal data was most likely erased. After an erasure the ledger can "
	    "no longer link any record to you; only salted digests remain." },
	[T_CORRECT] = { "Cara meminta perbaikan", "How to ask for a correction" },
	[T_CORRECT_TEXT] = { "Jika ada data yang salah atau tidak lengkap, Anda berhak "
	    "memintanya diperbaiki (UU PDP Pasal 6; pengendali wajib memperbaikinya paling "
	    "lambat 3 x 24 jam, Pasal 30). Ajukan permintaan di kantor cabang atau kepada "
	    "pejabat pelindungan data, dengan membawa laporan ini dan menyebut nomor entri dan "
	    "bukti buku besar di atas. Catatan di buku besar tidak pernah diubah: perbaikan "
	    "dicatat sebagai catatan baru oleh sistem yang menyimpan data Anda. Anda juga "
	    "berhak meminta pemrosesan dihentikan atau data Anda dihapus (Pasal 8).",
	    "If any of this data is wrong or incomplete, you have the right to have it "
	    "corrected (UU PDP Article 6; the controller must correct it within 3 x 24 hours, "
	    "Article 30). Ask at the branch office or the data protection officer, with this "
	    "report, naming the entry numbers and the proof of the ledger above. Records in "
	    "the ledger are never changed: a correction is recorded as a new record by the "
	    "system that holds your data. You may also ask for the processing to end or for "
	    "your data to be erased (Article 8)." },
	[T_VERIFY_TEXT] = { "Tanda tangan buku besar (catatan C2SP) pada saat laporan dibuat:",
	    "The ledger's signed checkpoint (a C2SP note) when the report was made:" },
	[T_SEV] = { "tingkat", "severity" },
	[T_CLEAR] = { "data pribadi ditampilkan tanpa disamarkan",
	    "personal values shown in clear" },
	[T_MASKED] = { "data pribadi ditampilkan tersamar", "personal values shown masked" },
	[T_RESULTS] = { "entri ditemukan", "entries found" },
};

static const char *const sev_words[SAKSI_LANG__COUNT][5] = {
	{ "?", "rendah", "sedang", "tinggi", "kritis" },
	{ "?", "low", "medium", "high", "critical" },
};

#define TX(r, k) (texts[(k)][(r)->sr_lang])

/* Output in the chosen format: text lines as they are, HTML escaped and tagged. */
struct out {
	struct buf b;
	int html;
};

static void
o_text(struct out *o, const char *s)
{
	if (o->html)
		b_html(&o->b, s);
	else
		b_str(&o->b, s);
}

/* Markup only in HTML. */
static void
o_tag(struct out *o, const char *s)
{
	if (o->html)
		b_str(&o->b, s);
}

/* Plain-text only. */
static void
o_plain(struct out *o, const char *s)
{
	if (!o->html)
		b_str(&o->b, s);
}

static void
o_heading(struct out *o, const char *s)
{
	o_tag(o, "<h2>");
	o_plain(o, "\n");
	o_text(o, s);
	o_tag(o, "</h2>\n");
	o_plain(o, "\n");
	if (!o->html) {
		for (size_t i = 0, n = strlen(s); i < n; i++)
			if (((unsigned char)s[i] & 0xC0) != 0x80)
				b_str(&o->b, "-");
		b_str(&o->b, "\n");
	}
}

static void
o_para(struct out *o, const char *s)
{
	o_tag(o, "<p>");
	o_text(o, s);
	o_tag(o, "</p>\n");
	o_plain(o, "\n\n");
}

/* A "label: value" line of the header. */
static void
o_field(struct out *o, const char *label, const char *value)
{
	o_tag(o, "<tr><th>");
	o_text(o, label);
	o_tag(o, "</th><td>");
	o_plain(o, ": ");
	o_text(o, value);
	o_tag(o, "</td></tr>");
	o_plain(o, "\n");
}

static const char css[] =
"body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;"
"color:#111;line-height:1.45}"
"h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #999}"
"table.h th{text-align:left;padding-right:1em;vertical-align:top}"
"ol.ev li,ul.ac li,ul.al li{margin-bottom:.8em}"
".d{color:#333;font-size:.92em}.n{color:#555;font-size:.85em}"
"pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.6em}"
"@media print{body{margin:0}}";

static void
r_header(const saksi_subject_report *r, struct out *o, const char *date)
{
	char tmp[64];

	if (o->html) {
		b_str(&o->b, "<!DOCTYPE html>\n<html lang=\"");
		b_str(&o->b, r->sr_lang == SAKSI_LANG_ID ? "id" : "en");
		b_str(&o->b, "\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
		    "content=\"width=device-width, initial-scale=1\">\n"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "style-src 'unsafe-inline'\">\n<title>");
		b_html(&o->b, TX(r, T_TITLE));
		b_str(&o->b, "</title>\n<style>");
		b_str(&o->b, css);
		b_str(&o->b, "</style>\n</head>\n<body>\n<h1>");
		b_html(&o->b, TX(r, T_TITLE));
		b_str(&o->b, "</h1>\n");
	} else {
		b_str(&o->b, TX(r, T_TITLE));
		b_str(&o->b, "\n");
		for (size_t i = 0, n = strlen(TX(r, T_TITLE)); i < n; i++)
			b_str(&o->b, "=");
		b_str(&o->b, "\n\n");
	}
	o_para(o, TX(r, T_INTRO));
	o_tag(o, "<table class=\"h\">");
	o_field(o, TX(r, T_SUBJECT), r->sr_subject);
	o_field(o, TX(r, T_DATE), date);
	if (r->sr_case_ref != NULL)
		o_field(o, TX(r, T_CASE), r->sr_case_ref);
	o_field(o, TX(r, T_BASIS), TX(r, T_BASIS_TEXT));
	o_tag(o, "</table>\n");
	o_plain(o, "\n");

	o_heading(o, TX(r, T_CKPT));
	o_para(o, TX(r, T_CKPT_TEXT));
	o_tag(o, "<table class=\"h\">");
	o_field(o, TX(r, T_ORIGIN), r->sr_controller);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, r->sr_size);
	o_field(o, TX(r, T_SIZE), tmp);
	o_field(o, TX(r, T_ROOT), r->sr_root_b64);
	snprintf(tmp, sizeof(tmp), "%" PRIu64, r->sr_access_index);
	o_field(o, TX(r, T_OWN_ENTRY), tmp);
	o_tag(o, "</table>\n");
	o_plain(o, "\n");
	if (r->sr_checkpoint != NULL) {
		o_tag(o, "<p class=\"n\">");
		o_text(o, TX(r, T_VERIFY_TEXT));
		o_tag(o, "</p>\n<pre>");
		o_plain(o, "\n\n");
		o_text(o, r->sr_checkpoint);
		o_tag(o, "</pre>\n");
		o_plain(o, "\n");
	}
}

/* The subject's own personal values of one event, "Label: value" each. */
static void
r_details(const saksi_subject_report *r, struct out *o, const json_t *payload)
{
	int first = 1;

	for (size_t k = 0; k < NELEM(labels); k++) {
		const json_t *v = json_object_get(payload, labels[k].field);
		struct buf val = { 0 };

		if (!json_is_string(v))
			continue;
		v_scalar(&val, r->sr_lang, labels[k].field, v);
		if (val.oom || val.p == NULL) {
			o->b.oom = 1;
			b_wipe(&val);
			return;
		}
		if (first) {
			o_tag(o, "<br><span class=\"d\">");
			o_plain(o, "     ");
		} else {
			o_text(o, "; ");
		}
		first = 0;
		o_text(o, labels[k].t[r->sr_lang]);
		o_text(o, ": ");
		o_text(o, val.p);
		b_wipe(&val);
	}
	if (!first) {
		o_tag(o, "</span>");
		o_plain(o, "\n");
	}
}

static saksi_err
r_events(const saksi_subject_report *r, struct out *o)
{
	char tmp[96];

	o_heading(o, TX(r, T_EVENTS));
	if (r->sr_nevents == 0) {
		o_para(o, TX(r, r->sr_erased || r->sr_erased_hint ? T_NO_EVENTS_ERASED :
		    T_NO_EVENTS));
		return SAKSI_OK;
	}
	snprintf(tmp, sizeof(tmp), "%s: %zu", TX(r, T_EVENTS_N), r->sr_nevents);
	o_para(o, tmp);
	o_tag(o, "<ol class=\"ev\">\n");
	for (size_t i = 0; i < r->sr_nevents; i++) {
		const saksi_subject_event *ev = &r->sr_events[i];
		char *s;
		saksi_err e;

		/* Each event in its branch's own time, when the caller knows it. */
		e = saksi_subject_sentence(r->sr_lang, ev->se_type, ev->se_time_ms,
		    ev->se_zone != NULL ? ev->se_offset_min : r->sr_offset_min,
		    ev->se_zone != NULL ? ev->se_zone : r->sr_zone, ev->se_payload, &s);
		if (e != SAKSI_OK)
			return e;
		o_tag(o, "<li>");
		if (!o->html) {
			snprintf(tmp, sizeof(tmp), "%3zu. ", i + 1);
			b_str(&o->b, tmp);
		}
		o_text(o, s);
		sodium_memzero(s, strlen(s));
		free(s);
		o_tag(o, " <span class=\"n\">");
		snprintf(tmp, sizeof(tmp), " [%s %" PRIu64 ", %s]", TX(r, T_ENTRY), ev->se_index,
		    ev->se_type);
		o_text(o, tmp);
		o_tag(o, "</span>");
		o_plain(o, "\n");
		if (ev->se_state == SAKSI_SUBJ_SHOWN)
			r_details(r, o, ev->se_payload);
		else if (ev->se_state == SAKSI_SUBJ_FORGOTTEN || ev->se_state ==
		    SAKSI_SUBJ_WITHHELD) {
			o_tag(o, "<br><span class=\"d\">");
			o_plain(o, "     ");
			o_text(o, TX(r, ev->se_state == SAKSI_SUBJ_FORGOTTEN ? T_FORGOTTEN :
			    T_WITHHELD));
			o_tag(o, "</span>");
			o_plain(o, "\n");
		}
		o_tag(o, "</li>\n");
	}
	o_tag(o, "</ol>\n");
	o_plain(o, "\n");
	return SAKSI_OK;
}

static saksi_err
r_access(const saksi_subject_report *r, struct out *o)
{
	char tmp[160], when[96];
	saksi_err e;

	o_heading(o, TX(r, T_ACCESS));
	o_para(o, TX(r, T_ACCESS_KNOW));
	if (r->sr_naccess == 0) {
		o_para(o, TX(r, T_NO_ACCESS));
		return SAKSI_OK;
	}
	snprintf(tmp, sizeof(tmp), "%s: %zu", TX(r, T_ACCESS_N), r->sr_naccess);
	o_para(o, tmp);
	o_tag(o, "<ul class=\"ac\">\n");
	for (size_t i = 0; i < r->sr_naccess; i++) {
		const saksi_subject_access *a = &r->sr_access[i];
		const char *cmd = saksi_subject_phrase(r->sr_lang, "command", a->sa_command);
		int how = a->sa_how == SAKSI_SUBJ_BY_ID ? T_BY_ID : a->sa_how ==
		    SAKSI_SUBJ_BY_RECORD ? T_BY_RECORD : T_IN_RESULTS;

		if ((e = saksi_subject_when(r->sr_lang, a->sa_time_ms, r->sr_offset_min,
		    r->sr_zone, when, sizeof(when))) != SAKSI_OK)
			return e;
		o_tag(o, "<li>");
		o_plain(o, "  - ");
		o_text(o, when);
		o_text(o, ": ");
		o_text(o, cmd != NULL ? cmd : a->sa_command);
		o_text(o, " ");
		o_text(o, TX(r, T_WHO));
		o_text(o, " ");
		o_text(o, a->sa_who);
		o_text(o, " (");
		o_text(o, TX(r, how));
		snprintf(tmp, sizeof(tmp), "; %" PRIu64 " %s; %s", a->sa_results,
		    TX(r, T_RESULTS), TX(r, a->sa_revealed ? T_CLEAR : T_MASKED));
		o_text(o, tmp);
		if (a->sa_case_ref != NULL) {
			o_text(o, "; ");
			o_text(o, TX(r, T_CASE));
			o_text(o, " ");
			o_text(o, a->sa_case_ref);
		}
		o_text(o, ")");
		o_tag(o, " <span class=\"n\">");
		snprintf(tmp, sizeof(tmp), " [%s %" PRIu64 "]", TX(r, T_ENTRY), a->sa_index);
		o_text(o, tmp);
		o_tag(o, "</span></li>");
		o_plain(o, "\n");
	}
	o_tag(o, "</ul>\n");
	o_plain(o, "\n");
	return SAKSI_OK;
}

static saksi_err
r_alerts(const saksi_subject_report *r, struct out *o)
{
	char tmp[160], when[96];
	saksi_err e;

	o_heading(o, TX(r, T_ALERTS));
	if (r->sr_nalerts == 0) {
		o_para(o, TX(r, T_NO_ALERTS));
		return SAKSI_OK;
	}
	o_para(o, TX(r, T_ALERTS_NOTE));
	o_tag(o, "<ul class=\"al\">\n");
	for (size_t i = 0; i < r->sr_nalerts; i++) {
		const saksi_subject_alert *a = &r->sr_alerts[i];
		int sev = a->sl_severity >= 1 && a->sl_severity <= 4 ? a->sl_severity : 0;

		if ((e = saksi_subject_when(r->sr_lang, a->sl_time_ms, r->sr_offset_min,
		    r->sr_zone, when, sizeof(when))) != SAKSI_OK)
			return e;
		o_tag(o, "<li>");
		o_plain(o, "  - ");
		o_text(o, when);
		o_text(o, ": ");
		o_text(o, saksi_subject_rule(r->sr_lang, a->sl_rule, NULL));
		snprintf(tmp, sizeof(tmp), " (%s %s; %zu %s)", TX(r, T_SEV),
		    sev_words[r->sr_lang][sev], a->sl_yours, TX(r, T_ALERT_LINE));
		o_text(o, tmp);
		o_tag(o, " <span class=\"n\">");
		snprintf(tmp, sizeof(tmp), " [%s %" PRIu64 ", %s %" PRIu64 "]",
		    r->sr_lang == SAKSI_LANG_ID ? "peringatan" : "alert", a->sl_alert_id,
		    TX(r, T_ENTRY), a->sl_index);
		o_text(o, tmp);
		o_tag(o, "</span></li>");
		o_plain(o, "\n");
	}
	o_tag(o, "</ul>\n");
	o_plain(o, "\n");
	return SAKSI_OK;
}

saksi_err
saksi_subject_render(const saksi_subject_report *r, int format, char **out, size_t *len)
{
	struct out o;
	char date[96];
	saksi_err e;

	if (out != NULL)
		*out = NULL;
	if (len != NULL)
		*len = 0;
	if (r == NULL || out == NULL || len == NULL || !lang_ok(r->sr_lang) ||
	    (format != SAKSI_SUBJ_HTML && format != SAKSI_SUBJ_TEXT) || r->sr_zone == NULL ||
	    r->sr_subject == NULL || r->sr_controller == NULL || r->sr_root_b64 == NULL ||
	    (r->sr_nevents > 0 && r->sr_events == NULL) ||
	    (r->sr_naccess > 0 && r->sr_access == NULL) ||
	    (r->sr_nalerts > 0 && r->sr_alerts == NULL))
		return SAKSI_ERR_INVAL;
	if ((e = saksi_subject_when(r->sr_lang, r->sr_now_ms, r->sr_offset_min, r->sr_zone,
	    date, sizeof(date))) != SAKSI_OK)
		return e;
	memset(&o, 0, sizeof(o));
	o.html = format == SAKSI_SUBJ_HTML;
	r_header(r, &o, date);
	if ((e = r_events(r, &o)) == SAKSI_OK &&
	    (e = r_access(r, &o)) == SAKSI_OK)
		e = r_alerts(r, &o);
	if (e != SAKSI_OK) {
		b_wipe(&o.b);
		return e;
	}
	o_heading(&o, TX(r, T_ERASURE));
	if (r->sr_erased) {
		o_para(&o, TX(r, T_ERASED));
		if (r->sr_erased_ms != 0 && saksi_subject_when(r->sr_lang, r->sr_erased_ms,
		    r->sr_offset_min, r->sr_zone, date, sizeof(date)) == SAKSI_OK)
			o_para(&o, date);
	} else if (r->sr_erased_hint) {
		o_para(&o, TX(r, T_ERASED_HINT));
	} else {
		o_para(&o, TX(r, T_NOT_ERASED));
	}
	o_heading(&o, TX(r, T_CORRECT));
	o_para(&o, TX(r, T_CORRECT_TEXT));
	o_tag(&o, "</body>\n</html>\n");
	if (o.b.oom) {
		b_wipe(&o.b);
		return SAKSI_ERR_NOMEM;
	}
	*out = o.b.p;
	*len = o.b.n;
	return SAKSI_OK;
}
