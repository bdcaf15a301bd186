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

#endif
