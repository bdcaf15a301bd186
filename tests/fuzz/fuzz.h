/*
 * fuzz.h: helpers shared by the libFuzzer targets in tests/fuzz. A property that does not
 * hold stops the run with a message (libFuzzer then saves the input as crash-*); the
 * harness itself must never be the thing that crashes on hostile input.
 */
#ifndef SAKSI_FUZZ_H
#define SAKSI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>

#include "../tmpdir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property: print where and why, then abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                         \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,     \
			        __LINE__, #cond);                                     \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			abort();                                                      \
		}                                                                     \
	} while (0)

/* The harness's own set-up failed (not a finding): say so and stop. */
#define FUZZ_SETUP(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: fuzz set-up failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                                     \
			exit(2);                                                      \
		}                                                                     \
	} while (0)

/*
 * An exact-size heap copy of the input, so that ASan sees any read past its end (the
 * buffer libFuzzer passes is exact too, but a copy lets the harness NUL-terminate it).
 * nul: append a NUL (not counted in size). Returns NULL only if malloc fails.
 */
static inline char *
fuzz_copy(const uint8_t *data, size_t size, int nul)
{
	char *p = malloc(size + (nul ? 1 : 0) + (size == 0 && !nul));

	if (p == NULL)
		return NULL;
	if (size > 0)
		memcpy(p, data, size);
	if (nul)
		p[size] = '\0';
	return p;
}

/* The harness's scratch directory, $TMPDIR/NAME-XXXXXX (tests/tmpdir.h) in dir[0..len);
 * keep len small: paths below it must fit the harness's buffers. */
#define FUZZ_SCRATCH(dir, len, name) FUZZ_SETUP(tmpdir_make((dir), (len), (name)) == 0)

static inline int
fuzz_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the tree at dir (a harness's scratch directory, at exit), not following links. */
static inline void
fuzz_rmtree(const char *dir)
{
	nftw(dir, fuzz_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Splits data at the first byte 0x00: the parts before and after it. 0 if there is none. */
static inline int
fuzz_split(const uint8_t *data, size_t size, const uint8_t **a, size_t *alen,
           const uint8_t **b, size_t *blen)
{
	const uint8_t *z = memchr(data, 0, size);

	if (z == NULL)
		return 0;
	*a = data;
	*alen = (size_t)(z - data);
	*b = z + 1;
	*blen = size - *alen - 1;
	return 1;
}

/*
 * libsodium 1.0.18 (Debian 12) decodes every byte >= 0x80 in base64 text as '/' (or '_'
 * in base64url): sodium_base642bin keeps the byte in a plain, signed `char` and its
 * constant-time range checks misread negative values. So a parser that leaves the
 * charset to libsodium accepts several spellings of one value. Until every parser checks
 * its charset itself, the round-trip checks report this one difference only when
 * SAKSI_FUZZ_STRICT_B64=1 is set (docs/fuzzing.md); any other difference always stops.
 * fuzz_b64_alias: 1 if got and want differ only where got has such a byte and want the
 * character libsodium took it for.
 */
static inline int
fuzz_b64_alias(const void *got, const void *want, size_t n)
{
	const unsigned char *g = got, *w = want;
	static int strict = -1;
	size_t i;

	if (strict < 0) {
		const char *e = getenv("SAKSI_FUZZ_STRICT_B64");

		strict = e != NULL && strcmp(e, "1") == 0;
	}
	if (strict)
		return 0;
	for (i = 0; i < n; i++)
		if (g[i] != w[i] && !(g[i] >= 0x80 && (w[i] == '/' || w[i] == '_')))
			return 0;
	return 1;
}

/* got (the input) is what a formatter wrote (want), but for the alias above. */
#define FUZZ_SAME_TEXT(got, gotlen, want, wantlen)                                    \
	((gotlen) == (wantlen) && (memcmp((got), (want), (gotlen)) == 0 ||            \
	                           fuzz_b64_alias((got), (want), (gotlen))))

#endif
