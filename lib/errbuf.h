/*
 * errbuf.h: the library's one way of writing a message into a caller's optional error
 * buffer (errbuf, errlen; NULL or 0: no message wanted). Header-only, internal: never
 * installed, never part of a module's contract.
 */
#ifndef SAKSI_ERRBUF_H
#define SAKSI_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void
saksi_errbuf_v(char *errbuf, size_t errlen, const char *fmt, va_list ap)
{
	if (errbuf == NULL || errlen == 0)
		return;
	vsnprintf(errbuf, errlen, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static inline void
saksi_errbuf(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	saksi_errbuf_v(errbuf, errlen, fmt, ap);
	va_end(ap);
}

#endif
