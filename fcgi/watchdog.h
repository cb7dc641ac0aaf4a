/*
 * watchdog.h - an absolute deadline on every FastCGI connection. Socket
 * timeouts bound each read or write, not a peer that keeps sending (libfcgi
 * drains a closing connection until it goes quiet) or reads one byte at a
 * time; past its deadline a connection is shut down in both directions so
 * whatever the thread is doing with it ends.
 */
#ifndef FCGI_WATCHDOG_H
#define FCGI_WATCHDOG_H

#include <stddef.h>

typedef struct fcgi_watchdog fcgi_watchdog_t;

/* One thread watching nslots slots (one per worker thread). Returns NULL
 * with one line in err. */
fcgi_watchdog_t *fcgi_watchdog_start(unsigned nslots, char *err, size_t errlen);

/* Stops the thread (armed slots are left alone) and frees the watchdog. */
void fcgi_watchdog_stop(fcgi_watchdog_t *wd);

/*
 * From now until fcgi_watchdog_disarm, shutdown(fd, SHUT_RDWR) once
 * deadline (fcgi_monotonic_seconds() time) passes. fd must stay open until
 * the slot is disarmed: give a dup() of the connection when other code may
 * close the connection's own descriptor, whose number could then be reused.
 */
void fcgi_watchdog_arm(fcgi_watchdog_t *wd, unsigned slot, int fd, double deadline);

/* Forgets the slot's descriptor; 1 when the deadline had cut it. */
int fcgi_watchdog_disarm(fcgi_watchdog_t *wd, unsigned slot);

#endif
