/*
 * datakey.h: per-participant data keys and crypto-shredding (FORMATS.md 7.2, 7.3), and
 * disclosures at rest v2 (FORMATS.md 7.1). A data key lives only wrapped, in one fixed
 * slot of the slot file; forgetting a participant overwrites that slot in place, and a
 * master-key rotation makes every older copy of every slot useless. Nothing here ever
 * writes a data key or a master key in clear, prints, or logs.
 *
 * Files: the slot file (`datakeys`, next to data.mdb, so a backup carries it) and the
 * master file (`datakeys.master`, outside the ledger directory and never in a backup),
 * which holds the master key(s) wrapped by the store key.
 *
 * Threads: a saksi_datakeys is used by one thread at a time. Several processes may open
 * the same files: one writer (saksid), any number of readers (the CLI); a reader that
 * meets a slot wrapped by a master it has not loaded reloads the master file once.
 */
#ifndef SAKSI_DATAKEY_H
#define SAKSI_DATAKEY_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "merkle.h"
#include "saksi_error.h"

#define SAKSI_DK_KEYLEN 32
#define SAKSI_DK_SLOT_SIZE 128      /* never straddles a 512-byte sector */
#define SAKSI_DK_HDR_SIZE 128
#define SAKSI_DK_SLOTS_MAX (1ull << 32)
/* Disclosures at rest v2: version, key_kind, key_id, nonce, tag. */
#define SAKSI_DISC2_OVERHEAD (1 + 1 + 8 + 24 + 16)

enum saksi_dk_kind {
	SAKSI_DK_STORE = 1,   /* sealed with the store key itself (no participant) */
	SAKSI_DK_DATA = 2,    /* sealed with a participant's data key */
};

typedef struct saksi_datakeys saksi_datakeys;

/*
 * Opens the slot file and the master file. store (kind SYM, borrowed, must outlive the
 * handle) wraps the master key(s). With create = 1 a missing file is made (mode 0600,
 * O_EXCL|O_NOFOLLOW; a new master key is generated); otherwise a missing file is
 * SAKSI_ERR_NOT_FOUND. A writer (write = 1) finishes a rotation a crash interrupted.
 * Errors: SAKSI_ERR_KEY store is not a SYM key, or the master file was made under
 * another store key; SAKSI_ERR_DECRYPT a master does not open (tampered);
 * SAKSI_ERR_FORMAT / SAKSI_ERR_VERSION a malformed file; SAKSI_ERR_PERM a file readable
 * by others; SAKSI_ERR_IO; SAKSI_ERR_NOMEM.
 */
saksi_err saksi_dk_open(const char *slots_path, const char *master_path,
                        const saksi_seckey *store, int create, int write,
                        saksi_datakeys **out);
/* Wipes the masters and closes the files. NULL is fine. */
void saksi_dk_close(saksi_datakeys *dk);

/*
 * Makes a new random data key in slot (< SAKSI_DK_SLOTS_MAX), wrapped by the current
 * master, and writes the slot at the latest at the next saksi_dk_sync (call it before
 * anything that refers to the slot is committed): consecutive new slots wait and are
 * written together, and this handle reads them meanwhile; other handles see them once
 * written. key gets the clear data key (the caller keeps it in guarded memory and wipes
 * it). Overwrites whatever the slot held: the caller allocates slots. SAKSI_ERR_RANGE,
 * SAKSI_ERR_IO (also for slots that waited: they are then dropped), SAKSI_ERR_INVAL on a
 * read-only handle. saksi_dk_sync, saksi_dk_wipe of a waiting slot, a rotation and
 * saksi_dk_close write the waiting slots first.
 */
saksi_err saksi_dk_create(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN]);
/*
 * Makes n (1..SAKSI_DK_FILL_MAX) new random data keys in slots first..first+n-1, wrapped by
 * the current master, written with one pwrite and, with sync, synced (fdatasync) before it
 * returns: a pool of slots made ahead, so that handing one to a new participant needs no
 * write and no sync of its own (saksid's shred.c; FORMATS.md 7.3). Without sync, none of
 * them may be handed out before a saksi_dk_datasync (or saksi_dk_sync) that began after
 * this returned. Overwrites whatever the slots held (waiting new slots are written
 * first). Read a key back with saksi_dk_get. SAKSI_ERR_INVAL (n == 0, read-only handle),
 * SAKSI_ERR_RANGE, SAKSI_ERR_NOMEM, SAKSI_ERR_IO, SAKSI_ERR_FULL; on an error the slots
 * may be partly written, none synced: the caller hands none of them out.
 */
#define SAKSI_DK_FILL_MAX (1u << 20)
saksi_err saksi_dk_fill(saksi_datakeys *dk, uint64_t first, uint64_t n, int sync);
/*
 * fdatasync of the slot file, nothing else (no waiting slot is written: saksi_dk_sync
 * does that). The one call that may run on another thread while the handle's user goes
 * on with any other call: it reads only what open set, and syncs through a file
 * description of its own, so that a writeback error reaches both it and the user's own
 * syncs (Linux reports such an error once per open file description). After a failure, what was written
 * before it is not known to be on disk even if a later sync succeeds (the kernel may have
 * dropped the pages): write it again. SAKSI_ERR_INVAL (read-only handle), SAKSI_ERR_IO.
 */
saksi_err saksi_dk_datasync(const saksi_datakeys *dk);
/*
 * The data key of slot. SAKSI_ERR_NOT_FOUND if the slot is wiped (the participant was
 * forgotten) or was never written; SAKSI_ERR_DECRYPT if it does not open (tampered,
 * or wrapped by a master that is destroyed: an old copy of the slot); SAKSI_ERR_IO.
 */
saksi_err saksi_dk_get(saksi_datakeys *dk, uint64_t slot, uint8_t key[SAKSI_DK_KEYLEN]);
/* Overwrites slot with zeros in place (not synced: saksi_dk_sync). SAKSI_ERR_IO. */
saksi_err saksi_dk_wipe(saksi_datakeys *dk, uint64_t slot);
/* Writes the waiting new slots, then fdatasync of the slot file. SAKSI_ERR_IO,
 * SAKSI_ERR_FULL. */
saksi_err saksi_dk_sync(saksi_datakeys *dk);

/*
 * Master-key rotation: a new master is written beside the current one (synced), every
 * live slot is re-wrapped under it in place (synced), then the old master is overwritten
 * with zeros (synced). A crash at any step is finished by the next saksi_dk_open with
 * write = 1. After it, a copy of the slot file taken earlier (a backup, a free block of a
 * copy-on-write filesystem) no longer opens with anything the appliance holds.
 * *rewrapped (may be NULL) gets the number of live slots. SAKSI_ERR_IO, SAKSI_ERR_NOMEM.
 */
saksi_err saksi_dk_rotate(saksi_datakeys *dk, uint64_t *rewrapped);
/*
 * Copies the slot file at src to dst (new, mode 0600, O_EXCL|O_NOFOLLOW, synced), for a
 * backup taken while saksid runs: a copy that caught a rotation half done (slots of two
 * generations) is taken again, up to 100 times (then SAKSI_ERR_IO). Slots are only ever
 * added, wiped or re-wrapped, so a copy made after the ledger's snapshot holds every slot
 * the snapshot refers to (saksid makes anew only slots made ahead, which no committed entry
 * names: FORMATS.md 7.3). SAKSI_ERR_NOT_FOUND no src; SAKSI_ERR_EXISTS dst exists;
 * SAKSI_ERR_FORMAT src is not a slot file; SAKSI_ERR_FULL; SAKSI_ERR_IO.
 */
saksi_err saksi_dk_copy(const char *src, const char *dst);
/* The generation of the current master (1 for a new file, +1 per rotation). */
uint64_t saksi_dk_generation(const saksi_datakeys *dk);
/* Number of slots the slot file has room for (written or wiped). */
uint64_t saksi_dk_slots(const saksi_datakeys *dk);

/*
 * Disclosures at rest v2 (FORMATS.md 7.1). The disclosures JSON array (as checked at
 * ingest) is stored compactly: each base64url disclosure decoded, the list zstd-compressed
 * when that is smaller, then sealed with key (32 bytes: the store key's for kind
 * SAKSI_DK_STORE, a data key for SAKSI_DK_DATA), key_id being the store key id or the
 * slot number (big-endian). out needs SAKSI_DISC2_OVERHEAD + 1 + 3 * len bytes at most
 * (saksi_disc2_bound). SAKSI_ERR_FORMAT if json is not an array of 1..32 canonical
 * base64url strings; SAKSI_ERR_INVAL for a small outlen.
 */
size_t saksi_disc2_bound(size_t json_len);
saksi_err saksi_disc2_seal(int key_kind, const uint8_t key_id[8],
                           const uint8_t key[SAKSI_DK_KEYLEN], uint64_t index,
                           const saksi_hash leaf_hash, const uint8_t *json, size_t len,
                           uint8_t *out, size_t outlen, size_t *written);
/*
 * The same with a compression context kept between calls (a one-shot zstd call sets up
 * its context each time: several times the cost of compressing a few hundred bytes).
 * A context is used by one thread at a time. new: SAKSI_ERR_NOMEM.
 */
typedef struct saksi_disc2_ctx saksi_disc2_ctx;
saksi_err saksi_disc2_ctx_new(saksi_disc2_ctx **out);
void saksi_disc2_ctx_free(saksi_disc2_ctx *ctx);
saksi_err saksi_disc2_seal_ctx(saksi_disc2_ctx *ctx, int key_kind, const uint8_t key_id[8],
                               const uint8_t key[SAKSI_DK_KEYLEN], uint64_t index,
                               const saksi_hash leaf_hash, const uint8_t *json, size_t len,
                               uint8_t *out, size_t outlen, size_t *written);

/*
 * saksi_disc2_seal_ctx in its two halves, so that the half that does not depend on the
 * entry's place in the ledger (the compact list, compressed: most of the cost) can be
 * done before that place is known, on another thread than the ledger's writer.
 * saksi_disc2_pack writes the plaintext that seal encrypts (codec (1) || list) into pt
 * (ptcap >= saksi_disc2_pack_bound(len)), *ptlen its length; its errors are seal's
 * (SAKSI_ERR_FORMAT for len, SAKSI_ERR_INVAL for a small ptcap, SAKSI_ERR_NOMEM); ctx
 * may be NULL. saksi_disc2_seal_packed seals such a plaintext: out needs
 * SAKSI_DISC2_OVERHEAD + ptlen bytes (else SAKSI_ERR_INVAL); SAKSI_ERR_FORMAT for a
 * plaintext no pack makes. seal_ctx(json) is seal_packed(pack(json)), byte for byte but
 * for the random nonce. pt holds personal data: the caller wipes it.
 */
size_t saksi_disc2_pack_bound(size_t json_len);
saksi_err saksi_disc2_pack(saksi_disc2_ctx *ctx, const uint8_t *json, size_t len,
                           uint8_t *pt, size_t ptcap, size_t *ptlen);
/*
 * saksi_disc2_pack from the compact list itself (saksi_disclosures_check_list hands it
 * out at ingest), so that nothing is parsed or decoded twice: the same plaintext as
 * saksi_disc2_pack of the JSON the list was decoded from. pt needs 1 + len bytes (else
 * SAKSI_ERR_INVAL); SAKSI_ERR_FORMAT for a list that is not count (1..32) non-empty
 * entries filling len exactly.
 */
saksi_err saksi_disc2_pack_list(saksi_disc2_ctx *ctx, const uint8_t *list, size_t len,
                                uint8_t *pt, size_t ptcap, size_t *ptlen);
saksi_err saksi_disc2_seal_packed(int key_kind, const uint8_t key_id[8],
                                  const uint8_t key[SAKSI_DK_KEYLEN], uint64_t index,
                                  const saksi_hash leaf_hash, const uint8_t *pt,
                                  size_t ptlen, uint8_t *out, size_t outlen,
                                  size_t *written);

/*
 * Opens a stored blob of version 1 (store key only) or 2, for any reader: store (SYM)
 * opens kind 1 blobs; dk (may be NULL) opens kind 2 ones. *json is the disclosures JSON
 * array (compact, one string per disclosure, NUL-terminated, malloc'd: wipe and free it).
 * SAKSI_ERR_NOT_FOUND: the participant's data key is destroyed (forgotten): the
 * disclosures are gone for good; this is a state to show, not a failure.
 * SAKSI_ERR_KEY: kind 2 without dk, or a kind 1 blob under another store key;
 * SAKSI_ERR_DECRYPT: does not open (other index or leaf hash, tampered);
 * SAKSI_ERR_FORMAT / SAKSI_ERR_VERSION: malformed.
 */
saksi_err saksi_disc_open_any(const saksi_seckey *store, saksi_datakeys *dk, uint64_t index,
                              const saksi_hash leaf_hash, const uint8_t *blob, size_t len,
                              char **json, size_t *json_len);
/* The key kind and key id (store key id or slot) of a v2 blob: SAKSI_ERR_VERSION for v1,
 * SAKSI_ERR_FORMAT if malformed. */
saksi_err saksi_disc2_key(const uint8_t *blob, size_t len, int *key_kind, uint64_t *key_id);

#endif
