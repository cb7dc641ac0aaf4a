/*
 * procstat.h - the worker's own process figures for the standard process_*
 * metrics, read from /proc/self the way prometheus_client does.
 */
#ifndef FCGI_PROCSTAT_H
#define FCGI_PROCSTAT_H

typedef struct fcgi_procstat {
    double cpu_seconds; /* user + system */
    double virtual_bytes;
    double resident_bytes;
    double start_time_seconds; /* Unix time */
    double open_fds;
    double max_fds; /* soft RLIMIT_NOFILE */
} fcgi_procstat_t;

/* Fills ps; returns 0, or -1 when /proc cannot be read (ps is then zeroed). */
int fcgi_procstat_read(fcgi_procstat_t *ps);

#endif
