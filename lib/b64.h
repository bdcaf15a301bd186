/*
 * b64.h: sodium_base642bin with one guard. libsodium 1.0.18 (Debian 12) keeps each input
 * byte in a signed char, so bytes >= 0x80 decode as '/' (or '_'): one value would have many
 * spellings, and our strict parsers would accept notes that other verifiers refuse. Every
 * base64 decode in saksi goes through here. Found by tests/fuzz (fuzz_note).
 */
#ifndef SAKSI_B64_H
#define SAKSI_B64_H

#include <stddef.h>

#include <sodium.h>

/* As sodium_base642bin; -1 (nothing decoded) if any input byte is not 7-bit ASCII. */
static inline int
saksi_base642bin(unsigned char *bin, size_t bin_maxlen, const char *b64, size_t b64_len,
                 const char *ignore, size_t *bin_len, const char **b64_end, int variant)
{
	for (size_t i = 0; i < b64_len; i++)
		if ((unsigned char)b64[i] >= 0x80) {
			if (bin_len != NULL)
				*bin_len = 0;
			if (b64_end != NULL)
				*b64_end = b64 + i;
			return -1;
		}
	return sodium_base642bin(bin, bin_maxlen, b64, b64_len, ignore, bin_len, b64_end, variant);
}

#endif
