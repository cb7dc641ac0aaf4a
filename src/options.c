/*
 * options.c - resolving fastprom_options_t: explicit fields win, then the
 * FASTPROM_* environment (so an operator can resize or move the segment of
 * an application without touching its code), then the defaults.
 */
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "error.h"
#include "layout.h"
#include "options.h"

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    unsigned long long mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1ull << 20, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1ull << 30, end++;
    if (*end == 'i' || *end == 'B')
        end += (end[0] == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end || v > ULLONG_MAX / mult)
        return false;
    *out = (size_t)(v * mult);
    return true;
}

static bool parse_uint(const char *s, int base, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || end == s || *end || v > UINT_MAX)
        return false;
    *out = (unsigned)v;
    return true;
}

const char *fastprom_default_path(void)
{
    const char *env = getenv("FASTPROM_PATH");
    return env && *env ? env : FASTPROM_DEFAULT_PATH;
}

int fp_options_resolve(const fastprom_options_t *opt, struct fp_resolved *r, fastprom_error_t *err)
{
    const char *env;
    r->path = opt->path && *opt->path ? opt->path : fastprom_default_path();
    r->size = opt->size;
    if (r->size > FASTPROM_MAX_SIZE)
        return fp_fail(err, FASTPROM_EINVAL, "segment size %zu is out of range; use %u bytes to %u bytes", r->size,
                       FASTPROM_MIN_SIZE, FASTPROM_MAX_SIZE);
    if (!r->size) {
        r->size = FASTPROM_DEFAULT_SIZE;
        if ((env = getenv("FASTPROM_SIZE")) && *env && !parse_size(env, &r->size))
            return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_SIZE=\"%s\" is not a size; use bytes or e.g. 16M", env);
    }
    r->size = (r->size + 4095) & ~(size_t)4095;
    if (r->size < FASTPROM_MIN_SIZE || r->size > FASTPROM_MAX_SIZE)
        return fp_fail(err, FASTPROM_EINVAL, "segment size %zu is out of range; use %u bytes to %u bytes", r->size,
                       FASTPROM_MIN_SIZE, FASTPROM_MAX_SIZE);
    r->max_slots = opt->max_slots ? opt->max_slots : FASTPROM_DEFAULT_SLOTS;
    if ((env = getenv("FASTPROM_SLOTS")) && *env && !opt->max_slots && !parse_uint(env, 10, &r->max_slots))
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_SLOTS=\"%s\" is not a number", env);
    if (r->max_slots == 0 || r->max_slots > FP_MAX_SLOTS)
        return fp_fail(err, FASTPROM_EINVAL, "max_slots %u is out of range; use 1 to %u", r->max_slots, FP_MAX_SLOTS);
    r->family_limit = opt->family_limit ? opt->family_limit : FASTPROM_DEFAULT_FAMILY_LIMIT;
    if ((env = getenv("FASTPROM_FAMILY_LIMIT")) && *env && !opt->family_limit &&
        (!parse_uint(env, 10, &r->family_limit) || r->family_limit == 0))
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_FAMILY_LIMIT=\"%s\" is not a positive number", env);
    if (opt->mode > 0777)
        return fp_fail(err, FASTPROM_EINVAL,
                       "file mode %#o is not a permission mode like 0660 (no set-id or sticky bits)", opt->mode);
    r->mode = opt->mode ? opt->mode : 0640;
    if ((env = getenv("FASTPROM_MODE")) && *env && !opt->mode && (!parse_uint(env, 8, &r->mode) || r->mode > 0777))
        return fp_fail(err, FASTPROM_EINVAL, "FASTPROM_MODE=\"%s\" is not an octal file mode like 0660", env);
    /* Writers refuse a world-writable segment (segment.c says why): never
     * make one. */
    if (r->mode & 0002)
        return fp_fail(err, FASTPROM_EINVAL,
                       "file mode %04o lets every user write the segment and so stop its writers; use 0660 and a "
                       "group shared by the applications",
                       r->mode);
    return 0;
}
