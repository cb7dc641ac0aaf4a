/*
 * wallclock.h - the wall clock, as the segment stores it: Unix seconds as a
 * double (created times, gauge write times) and nanoseconds (header and
 * slot claim times).
 */
#ifndef FASTPROM_WALLCLOCK_H
#define FASTPROM_WALLCLOCK_H

#include <stdint.h>
#include <time.h>

static inline double fp_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline uint64_t fp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
