/*
 * error.h - how the library reports failure, and filling fastprom_error_t.
 *
 * One convention per kind of function, everywhere in src/:
 *
 *  1. Anything that can fail for a reason a user must read - every public
 *     function and every internal step below one - returns int: 0 (OK) or
 *     a negative fastprom_errcode, having filled its fastprom_error_t *err
 *     (which may be NULL) through fp_fail. A caller passes the code up
 *     unchanged; a pointer-returning function returns NULL instead, with
 *     err filled the same way.
 *  2. The first error wins: fp_fail leaves err alone when it already holds
 *     one, so the message names the cause, not its last consequence. Every
 *     public function starts with fp_ok(err); code that recovers from a
 *     failure and carries on clears err again with fp_ok.
 *  3. Predicates return bool, true meaning what their name says
 *     (fp_slot_alive, definition_matches); never 0 for "yes".
 *  4. A search in the segment returns enum fp_found (FP_FOUND, FP_ABSENT,
 *     FP_CORRUPT) and the offset through a pointer; offsets are never
 *     overloaded with "absent" or "corrupt".
 *  5. Allocators in the segment return an offset, 0 when there is no room:
 *     0 is "none" everywhere in the layout (layout.h).
 *  6. The reader's pass (merge.h) keeps its first error in the pass
 *     (fp_pass_corrupt, fp_pass_nomem) and unwinds with it.
 */
#ifndef FASTPROM_ERROR_H
#define FASTPROM_ERROR_H

#include "fastprom.h"

/* Sets err (if not NULL and not already set) and returns code, so callers
 * can `return fp_fail(...)`. */
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

/* The result of a search in the segment (convention 4). */
enum fp_found { FP_FOUND, FP_ABSENT, FP_CORRUPT };

#endif
