/*
 * u64sort.h: sorting sets of uint64_t (leaf indexes, ids) the one way: the qsort and
 * bsearch comparator, and sort-then-drop-repeats. Header-only, internal: never
 * installed, never part of a module's contract.
 */
#ifndef SAKSI_U64SORT_H
#define SAKSI_U64SORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int
saksi_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v[0..n) ascending and drops repeats; returns how many are left (v may be NULL
 * when n is 0). */
static inline size_t
saksi_u64_distinct(uint64_t *v, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), saksi_u64_cmp);
	for (size_t i = 0; i < n; i++)
		if (o == 0 || v[o - 1] != v[i])
			v[o++] = v[i];
	return o;
}

#endif
