/*
 * bench_clock.h: the benchmarks' clocks (seconds as a double, or wall-clock ms): one way
 * to read them.
 * Header-only; never used by the tests (tests never time anything) or the programs.
 */
#ifndef SAKSI_BENCH_CLOCK_H
#define SAKSI_BENCH_CLOCK_H

#include <stdint.h>
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

/* The wall clock in milliseconds: event and request times saksid checks against its own
 * clock. */
static inline uint64_t
bench_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
