/*
 * error.h - filling fastprom_error_t. Every user-facing failure goes through
 * fp_fail(), so the code and the one-line text are set in one place and a
 * NULL err is always allowed.
 */
#ifndef FASTPROM_ERROR_H
#define FASTPROM_ERROR_H

#include "fastprom.h"

/* Sets err (if not NULL) and returns code, so callers can `return fp_fail(...)`. */
int fp_fail(fastprom_error_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like fp_fail with ESYS, appending ": <strerror(errno)>" (errno as on entry). */
int fp_fail_errno(fastprom_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void fp_ok(fastprom_error_t *err)
{
    if (err) {
        err->code = FASTPROM_OK;
        err->text[0] = '\0';
    }
}

#endif
