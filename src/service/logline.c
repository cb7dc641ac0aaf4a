/*
 * logline.c - one-line, one-write log messages (logline.h).
 */
#include <stdio.h>
#include <unistd.h>

#include "logline.h"

void svc_vlog(const char *program, const char *fmt, va_list ap)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "%s: ", program);
    if (n < 0 || (size_t)n >= sizeof line / 2)
        n = 0;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored; /* nowhere left to report a failed log write */
}
