/*
 * log.h - the worker's log lines on stderr (the journal under systemd):
 * "fastprom-fcgi: <message>", each written with one write(2) so lines from
 * several threads never interleave.
 */
#ifndef FCGI_LOG_H
#define FCGI_LOG_H

void fcgi_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
