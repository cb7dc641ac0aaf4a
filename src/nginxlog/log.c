/*
 * log.c - log lines and making untrusted bytes safe to log (log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

void nl_log(const char *fmt, ...)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "fastprom-nginxlog: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored; /* nowhere left to report a failed log write */
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
