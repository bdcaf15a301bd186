/*
 * wire.c: names of the reason codes of FORMATS.md 3.2, as printed and counted, and the
 * retry hint of a busy answer. Reads text from the network: never trusts its length.
 */
#include <string.h>

#include "wire.h"

const char *
saksi_reason_name(int reason)
{
	static const char *const names[SAKSI_R__COUNT] = {
		"accepted", "duplicate", "parse", "size", "unknown_key", "revoked_key",
		"signature", "role", "branch", "schema", "disclosure", "replay",
		"equivocation", "clock_skew", "unavailable", "busy",
	};
	if (reason < 0 || reason >= SAKSI_R__COUNT)
		return "unknown";
	return names[reason];
}

uint64_t
saksi_retry_after_ms(const char *text, size_t len)
{
	static const char pre[] = "retry after ";
	const size_t plen = sizeof(pre) - 1;
	uint64_t n;
	size_t i, j;

	if (text == NULL)
		return 0;
	for (i = 0; i + plen <= len; i++) {
		if (memcmp(text + i, pre, plen) != 0)
			continue;
		n = 0;
		/* At most 9 digits: a hint of more than ~11 days is no hint, and no overflow. */
		for (j = i + plen; j < len && j - (i + plen) < 10 && text[j] >= '0' &&
		     text[j] <= '9'; j++)
			n = n * 10 + (uint64_t)(text[j] - '0');
		if (j == i + plen || j - (i + plen) > 9)
			return 0;
		if (len - j < 3 || memcmp(text + j, " ms", 3) != 0)
			return 0;
		return n;
	}
	return 0;
}
