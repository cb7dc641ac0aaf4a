/*
 * clock.h - the worker's clocks: one monotonic clock for every deadline,
 * timeout and age the worker computes, the wall clock for timestamps it
 * reports, and condition variables that wait on the monotonic one. Kept
 * apart so the modules that only need time (guard, watchdog, share,
 * source) depend on nothing else of the worker.
 */
#ifndef FCGI_CLOCK_H
#define FCGI_CLOCK_H

#include <pthread.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds: deadlines anywhere in the worker are times
 * on this clock. */
double fcgi_monotonic_seconds(void);

/* CLOCK_REALTIME in seconds since the epoch, for reports only. */
double fcgi_wall_seconds(void);

/* A monotonic time as the absolute timespec pthread_cond_timedwait takes on
 * a condition variable made by fcgi_cond_init_monotonic. */
struct timespec fcgi_seconds_timespec(double seconds);

/* Initialises cond to time its waits on the monotonic clock, so a wall
 * clock step neither shortens nor stretches a deadline. */
void fcgi_cond_init_monotonic(pthread_cond_t *cond);

#endif
