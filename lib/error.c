/*
 * error.c: names for the saksi_err codes, and the one mapping of LMDB's return codes onto
 * them. Never prints and never decides what an error means to a caller.
 */
#include <errno.h>

#include <lmdb.h>

#include "saksi_error.h"

const char *
saksi_strerror(saksi_err err)
{
	static const char *const names[SAKSI_ERR__COUNT] = {
		[SAKSI_OK] = "success",
		[SAKSI_ERR_INVAL] = "invalid argument",
		[SAKSI_ERR_NOMEM] = "out of memory",
		[SAKSI_ERR_IO] = "input/output error",
		[SAKSI_ERR_FORMAT] = "malformed input",
		[SAKSI_ERR_VERSION] = "unsupported version or algorithm",
		[SAKSI_ERR_TOO_LARGE] = "input exceeds a size limit",
		[SAKSI_ERR_SIGNATURE] = "signature verification failed",
		[SAKSI_ERR_PROOF] = "Merkle proof verification failed",
		[SAKSI_ERR_NOT_FOUND] = "not found",
		[SAKSI_ERR_EXISTS] = "already exists",
		[SAKSI_ERR_KEY] = "bad or unknown key",
		[SAKSI_ERR_PASSPHRASE] = "wrong passphrase or damaged key file",
		[SAKSI_ERR_PERM] = "unsafe file permissions",
		[SAKSI_ERR_LEDGER] = "ledger database error",
		[SAKSI_ERR_FULL] = "ledger map or disk is full",
		[SAKSI_ERR_SCHEMA] = "payload does not match the event schema",
		[SAKSI_ERR_DECRYPT] = "decryption failed",
		[SAKSI_ERR_RANGE] = "index or size out of range",
		[SAKSI_ERR_NET] = "network (nanomsg) error",
		[SAKSI_ERR_TIMEOUT] = "timed out",
		[SAKSI_ERR_CORRUPT] = "stored data is inconsistent",
		[SAKSI_ERR_REFUSED] = "refused by the daemon",
	};
	if ((unsigned)err >= SAKSI_ERR__COUNT || names[err] == 0)
		return "unknown error";
	return names[err];
}

saksi_err
saksi_error_of_mdb(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return SAKSI_OK;
	case MDB_NOTFOUND:
	case ENOENT:
		return SAKSI_ERR_NOT_FOUND;
	/* A transaction with too many dirty pages is refused like a full map: retry smaller. */
	case MDB_MAP_FULL:
	case MDB_TXN_FULL:
	case ENOSPC:
	case EDQUOT:
		return SAKSI_ERR_FULL;
	case ENOMEM:
		return SAKSI_ERR_NOMEM;
	case EIO:
		return SAKSI_ERR_IO;
	case EACCES:
	case EPERM:
	case EROFS:
		return SAKSI_ERR_PERM;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
		return SAKSI_ERR_CORRUPT;
	case MDB_VERSION_MISMATCH:
		return SAKSI_ERR_VERSION;
	default:
		return SAKSI_ERR_LEDGER;
	}
}
