/*
 * sleep.c - fractional-second sleeps for tests that wait out a deadline or
 * pace a thread.
 */
#include <time.h>

#include "support.h"

void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) /* EINTR: sleep the rest */
        ;
}
