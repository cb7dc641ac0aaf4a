/*
 * clock.c - the worker's clocks (clock.h).
 */
#include <math.h>

#include "clock.h"

static double seconds_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double fcgi_monotonic_seconds(void)
{
    return seconds_of(CLOCK_MONOTONIC);
}

double fcgi_wall_seconds(void)
{
    return seconds_of(CLOCK_REALTIME);
}

struct timespec fcgi_seconds_timespec(double seconds)
{
    double whole = floor(seconds);
    struct timespec ts = {(time_t)whole, (long)((seconds - whole) * 1e9)};
    if (ts.tv_nsec >= 1000000000L) /* rounding of the fraction */
        ts.tv_nsec = 999999999L;
    return ts;
}

void fcgi_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}
