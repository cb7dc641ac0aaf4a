/*
 * log.c - log lines and making untrusted bytes safe to log (log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "service/logline.h"

void nl_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    svc_vlog("fastprom-nginxlog", fmt, ap);
    va_end(ap);
}

void nl_printable(const char *data, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c == '\t') {
            out[o++] = '\\';
            out[o++] = 't';
        } else if (c < 0x20 || c >= 0x7f || c == '\\') {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
}
