/*
 * error.c - fastprom_error_t filling and the static code descriptions.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static void set_text(fastprom_error_t *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    /* One line, always: a message never carries the caller's newlines. */
    for (char *p = err->text; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

int fp_fail(fastprom_error_t *err, int code, const char *fmt, ...)
{
    if (err && err->code == FASTPROM_OK) {
        va_list ap;
        va_start(ap, fmt);
        set_text(err, code, fmt, ap);
        va_end(ap);
    }
    return code;
}

int fp_fail_errno(fastprom_error_t *err, const char *fmt, ...)
{
    int saved = errno;
    if (err && err->code == FASTPROM_OK) {
        va_list ap;
        va_start(ap, fmt);
        set_text(err, FASTPROM_ESYS, fmt, ap);
        va_end(ap);
        size_t n = strlen(err->text);
        snprintf(err->text + n, sizeof err->text - n, ": %s", strerror(saved));
    }
    errno = saved;
    return FASTPROM_ESYS;
}

const char *fastprom_strerror(int code)
{
    switch (code) {
    case FASTPROM_OK: return "success";
    case FASTPROM_EINVAL: return "invalid argument (name, label, value or type)";
    case FASTPROM_ESYS: return "a system call failed";
    case FASTPROM_ECORRUPT: return "the segment is corrupt";
    case FASTPROM_EVERSION: return "the segment has another layout version";
    case FASTPROM_EFULL: return "the segment is full; create it larger (FASTPROM_SIZE)";
    case FASTPROM_ELIMIT: return "the family reached its series limit";
    case FASTPROM_EEXIST: return "a family of that name exists with another definition";
    case FASTPROM_ENOENT: return "no such segment, family or series";
    case FASTPROM_EBUSY: return "the segment kept changing during the snapshot";
    case FASTPROM_ENOMEM: return "out of memory";
    case FASTPROM_ERDONLY: return "the handle is read-only";
    default: return "unknown fastprom error";
    }
}
