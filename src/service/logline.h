/*
 * logline.h - a daemon's log lines on stderr (the journal under systemd):
 * "<program>: <message>", each written with one write(2) so lines from
 * several threads never interleave.
 */
#ifndef SERVICE_LOGLINE_H
#define SERVICE_LOGLINE_H

#include <stdarg.h>

void svc_vlog(const char *program, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
