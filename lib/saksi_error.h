/*
 * saksi_error.h: the one error type of libsaksi. Every library function that can fail
 * returns a saksi_err; the library never exits and never prints. Raw errno values are
 * never returned: they are mapped onto these codes (LMDB calls mixing them "a major mess").
 */
#ifndef SAKSI_ERROR_H
#define SAKSI_ERROR_H

typedef enum saksi_err {
	SAKSI_OK = 0,
	SAKSI_ERR_INVAL,      /* a caller passed an invalid argument (programming error) */
	SAKSI_ERR_NOMEM,      /* allocation failed */
	SAKSI_ERR_IO,         /* a file or socket operation failed */
	SAKSI_ERR_FORMAT,     /* input is malformed: bad length, bad encoding, trailing bytes */
	SAKSI_ERR_VERSION,    /* input carries a version or algorithm tag we do not know */
	SAKSI_ERR_TOO_LARGE,  /* input exceeds a documented size cap */
	SAKSI_ERR_SIGNATURE,  /* a signature does not verify */
	SAKSI_ERR_PROOF,      /* a Merkle proof or root does not verify */
	SAKSI_ERR_NOT_FOUND,  /* no such entry, key, file or record */
	SAKSI_ERR_EXISTS,     /* refusing to overwrite something that exists */
	SAKSI_ERR_KEY,        /* a key is malformed, of the wrong kind, or unknown */
	SAKSI_ERR_PASSPHRASE, /* a key file could not be decrypted with the passphrase given */
	SAKSI_ERR_PERM,       /* a key or state file has unsafe permissions */
	SAKSI_ERR_LEDGER,     /* the LMDB environment failed in an unexpected way */
	SAKSI_ERR_FULL,       /* the LMDB map or the disk is full; nothing was written */
	SAKSI_ERR_SCHEMA,     /* a payload does not match its event schema */
	SAKSI_ERR_DECRYPT,    /* authenticated decryption failed */
	SAKSI_ERR_RANGE,      /* an index or tree size is out of range */
	SAKSI_ERR_NET,        /* a nanomsg operation failed */
	SAKSI_ERR_TIMEOUT,    /* no answer in the time allowed */
	SAKSI_ERR_CORRUPT,    /* stored data contradicts itself (verification failure) */
	SAKSI_ERR_REFUSED,    /* the daemon refused a request; see its reason code */
	SAKSI_ERR__COUNT
} saksi_err;

/* A short English description of err; never NULL, static storage. */
const char *saksi_strerror(saksi_err err);

/* An LMDB call's return code (LMDB's own or an errno) as a saksi_err: 0 is SAKSI_OK, a
 * missing record NOT_FOUND, a full map, transaction or disk FULL, a damaged file CORRUPT,
 * a file of another LMDB version VERSION, and whatever else LEDGER. A file that is not
 * an LMDB environment (MDB_INVALID, MDB_INCOMPATIBLE) is LEDGER too: the caller says
 * what that means for its own files. */
saksi_err saksi_error_of_mdb(int rc);

#endif
