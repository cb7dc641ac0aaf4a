/*
 * log.c - one-line, one-write log messages (log.h).
 */
#include <stdarg.h>

#include "log.h"
#include "service/logline.h"

void fcgi_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    svc_vlog("fastprom-fcgi", fmt, ap);
    va_end(ap);
}
