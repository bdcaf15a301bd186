/* wire.c: names of the reason codes of FORMATS.md 3.2, as printed and counted. */
#include "wire.h"

const char *
saksi_reason_name(int reason)
{
	static const char *const names[SAKSI_R__COUNT] = {
		"accepted", "duplicate", "parse", "size", "unknown_key", "revoked_key",
		"signature", "role", "branch", "schema", "disclosure", "replay",
		"equivocation", "clock_skew", "unavailable",
	};
	if (reason < 0 || reason >= SAKSI_R__COUNT)
		return "unknown";
	return names[reason];
}
