/*
 * bench_clock.h: the benchmarks' clocks, in seconds as a double: one way to read them.
 * Header-only; never used by the tests (tests never time anything) or the programs.
 */
#ifndef SAKSI_BENCH_CLOCK_H
#define SAKSI_BENCH_CLOCK_H

#include <time.h>

/* Clock id in seconds: CLOCK_MONOTONIC for elapsed time, CLOCK_THREAD_CPUTIME_ID for
 * the calling thread's CPU. */
static inline double
bench_clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Elapsed seconds since some fixed point: for differences only. */
static inline double
bench_now(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

#endif
