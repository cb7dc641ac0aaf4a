/*
 * support.h - small helpers shared by the unit tests (every tests/support C file is
 * linked into every test binary): unique segment paths that clean up after
 * themselves, and reading a segment back through fastprom_render so tests
 * assert on what an exporter would publish, never on internal cells.
 */
#ifndef FASTPROM_TEST_SUPPORT_H
#define FASTPROM_TEST_SUPPORT_H

#include <jansson.h>
#include <stddef.h>

#include "fastprom.h"

/* A path under /dev/shm that nothing uses yet. It (and what a creator may
 * leave beside it) is unlinked when the process that asked for it exits
 * normally; check's fork mode makes that the end of each test. */
const char *tmp_segment_path(void);

/* A writable segment of `size` bytes (0: FASTPROM_MIN_SIZE) at a new
 * tmp_segment_path(); the test fails if it cannot be opened. */
fastprom_t *open_tmp_segment(size_t size, const char **path);

/* Sleeps s seconds (fractions included). */
void sleep_seconds(double s);

/* The whole exposition in `format` (render flags as given), NUL-terminated
 * and malloc'd; the test fails if rendering fails. */
char *render_or_fail(fastprom_t *fp, fastprom_format_t format, unsigned flags);

/* The JSON view, parsed; json_decref it. */
json_t *render_json(fastprom_t *fp);
/* The family object named `name` (as rendered: counters without _total), or
 * NULL. */
json_t *json_family(json_t *root, const char *name);
/* The series of family `fam` whose labels are exactly the n name/value
 * pairs given as varargs (const char *name, const char *value, ...), or
 * NULL. */
json_t *json_series(json_t *fam, size_t n, ...);
/* A rendered number: JSON integer, real, or "NaN" / "+Inf" / "-Inf". */
double json_number(json_t *v);
/* json_number of member `key` of obj; the test fails if it is missing. */
double json_member_number(json_t *obj, const char *key);

/* The correctly rounded sum of x[0..n), whatever their order (an oracle
 * written independently of the library; fails the test past 128 partials). */
double exact_sum(const double *x, size_t n);

#endif
