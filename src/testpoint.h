/*
 * testpoint.h - named steps of structural changes where a test can stop or
 * kill the process (and prove the segment survives it).
 *
 * Tests set fp_test_hook; it is NULL in production: one load and a branch,
 * on slow paths only.
 */
#ifndef FASTPROM_TESTPOINT_H
#define FASTPROM_TESTPOINT_H

enum {
    FP_POINT_LOCKED = 1,     /* segment lock just taken */
    FP_POINT_SERIES_ID,      /* series id published, not yet listed */
    FP_POINT_SERIES_LISTED,  /* listed in its family, not yet hashed */
    FP_POINT_FOLD_MERGED,    /* fold: merged in process memory */
    FP_POINT_FOLD_WRITTEN,   /* fold: new chain written, unpublished */
    FP_POINT_FOLD_PUBLISHED, /* fold: published, dead slots not freed */
    FP_POINT_FOLD_RELEASED,  /* fold: slots and old chain freed */
    FP_POINT_READ_RETIRED,   /* reader: retained totals read, slots not yet */
    FP_POINT_ATTACH_MAPPED,  /* open: segment mapped, header validated from pread */
};

extern void (*fp_test_hook)(int point);

static inline void fp_test_point(int point)
{
    if (__builtin_expect(fp_test_hook != NULL, 0))
        fp_test_hook(point);
}

#endif
