/*
 * watchdog.c - connection deadlines (watchdog.h).
 *
 * One thread sleeps on a CLOCK_MONOTONIC condition variable until the
 * earliest armed deadline; arming a sooner one wakes it. Slots are read and
 * shut down under the same mutex that disarming takes, so once disarm
 * returns the watchdog can no longer touch that descriptor, and the caller
 * may close it without a reused number ever being shut down by mistake.
 * shutdown(SHUT_RDWR) rather than close: the descriptor stays valid for the
 * thread using it, its blocked calls wake up, its reads end (a unix peer can
 * send no more; a TCP peer that does gets a reset) and its writes fail.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "watchdog.h"

typedef struct slot {
    int fd; /* -1: disarmed */
    int fired;
    double deadline;
} slot_t;

struct fcgi_watchdog {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int stopping;
    double next_check; /* when the thread wakes by itself; INFINITY: only when woken */
    unsigned nslots;
    slot_t slots[];
};

/* Shuts down the overdue slots; returns the next deadline, or INFINITY. */
static double cut_overdue(fcgi_watchdog_t *wd)
{
    double now = fcgi_monotonic_seconds(), next = INFINITY;
    for (unsigned i = 0; i < wd->nslots; i++) {
        slot_t *s = &wd->slots[i];
        if (s->fd < 0 || s->fired)
            continue;
        if (s->deadline <= now) {
            shutdown(s->fd, SHUT_RDWR);
            s->fired = 1;
        } else if (s->deadline < next) {
            next = s->deadline;
        }
    }
    return next;
}

static void *watch(void *arg)
{
    fcgi_watchdog_t *wd = arg;
    pthread_mutex_lock(&wd->lock);
    while (!wd->stopping) {
        wd->next_check = cut_overdue(wd);
        if (isinf(wd->next_check)) {
            pthread_cond_wait(&wd->wake, &wd->lock);
        } else {
            struct timespec at = fcgi_seconds_timespec(wd->next_check);
            pthread_cond_timedwait(&wd->wake, &wd->lock, &at);
        }
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

fcgi_watchdog_t *fcgi_watchdog_start(unsigned nslots, char *err, size_t errlen)
{
    fcgi_watchdog_t *wd = calloc(1, sizeof *wd + nslots * sizeof wd->slots[0]);
    if (!wd) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    wd->nslots = nslots;
    wd->next_check = INFINITY;
    for (unsigned i = 0; i < nslots; i++)
        wd->slots[i].fd = -1;
    fcgi_cond_init_monotonic(&wd->wake);
    pthread_mutex_init(&wd->lock, NULL);
    int rc = pthread_create(&wd->thread, NULL, watch, wd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the connection watchdog thread: %s", strerror(rc));
        pthread_cond_destroy(&wd->wake);
        pthread_mutex_destroy(&wd->lock);
        free(wd);
        return NULL;
    }
    return wd;
}

void fcgi_watchdog_stop(fcgi_watchdog_t *wd)
{
    if (!wd)
        return;
    pthread_mutex_lock(&wd->lock);
    wd->stopping = 1;
    pthread_cond_signal(&wd->wake);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->wake);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
}

void fcgi_watchdog_arm(fcgi_watchdog_t *wd, unsigned slot, int fd, double deadline)
{
    pthread_mutex_lock(&wd->lock);
    wd->slots[slot] = (slot_t){fd, 0, deadline};
    if (deadline < wd->next_check)
        pthread_cond_signal(&wd->wake);
    pthread_mutex_unlock(&wd->lock);
}

int fcgi_watchdog_disarm(fcgi_watchdog_t *wd, unsigned slot)
{
    pthread_mutex_lock(&wd->lock);
    int fired = wd->slots[slot].fired;
    wd->slots[slot].fd = -1;
    pthread_mutex_unlock(&wd->lock);
    return fired;
}
