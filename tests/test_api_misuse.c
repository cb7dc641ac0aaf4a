/*
 * test_api_misuse.c - every exported function called the wrong way: NULL
 * handles and pointers, zero, negative and huge sizes, unknown flags and
 * enum values. Each call must return the error fastprom.h documents (and
 * fill err with one line when err is given), never crash: a library inside
 * someone's web server cannot take it down over a bad argument.
 *
 * The last test reads include/fastprom.h and fails when an exported function
 * is missing from `covered` below, so a new function cannot ship without its
 * misuse cases.
 */
#include <check.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fastprom.h"
#include "support.h"

static const char *const covered[] = {
    "fastprom_strerror",
    "fastprom_version",
    "fastprom_open",
    "fastprom_close",
    "fastprom_check",
    "fastprom_path",
    "fastprom_collect_dead",
    "fastprom_gauge_mode_parse",
    "fastprom_gauge_mode_name",
    "fastprom_family",
    "fastprom_series",
    "fastprom_remove",
    "fastprom_clear",
    "fastprom_inc",
    "fastprom_dec",
    "fastprom_set",
    "fastprom_observe",
    "fastprom_inc_exemplar",
    "fastprom_observe_exemplar",
    "fastprom_state",
    "fastprom_info",
    "fastprom_content_type",
    "fastprom_buf_free",
    "fastprom_render",
    "fastprom_stat",
    "fastprom_type_name",
    "fastprom_update_ready",
    "fastprom_default_path",
};

/* The call returned `code` and, with an err, said so in one non-empty line. */
#define ASSERT_ERR(call, err, want)                                                                                    \
    do {                                                                                                               \
        memset(&(err), 0x5a, sizeof(err));                                                                             \
        int rc_ = (call);                                                                                              \
        ck_assert_int_eq(rc_, (want));                                                                                 \
        ck_assert_int_eq((err).code, (want));                                                                          \
        ck_assert_msg((err).text[0] && !strchr((err).text, '\n'), "error text missing: \"%.80s\"", (err).text);        \
    } while (0)

/* Same for functions that return a pointer: NULL and the code in err. */
#define ASSERT_NULL_ERR(call, err, want)                                                                               \
    do {                                                                                                               \
        memset(&(err), 0x5a, sizeof(err));                                                                             \
        ck_assert_ptr_null((void *)(call));                                                                            \
        ck_assert_int_eq((err).code, (want));                                                                          \
        ck_assert_msg((err).text[0], "error text missing");                                                            \
    } while (0)

static fastprom_family_t *family_of(fastprom_t *fp, fastprom_type_t type, const char *name, size_t nlabels)
{
    static const char *const labels[] = {"a", "b"};
    fastprom_family_def_t d = {.type = type, .name = name, .label_names = labels, .nlabels = nlabels};
    static const char *const states[] = {"on", "off"};
    if (type == FASTPROM_STATESET) {
        d.states = states;
        d.nstates = 2;
    }
    fastprom_error_t err;
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    ck_assert_msg(f, "%s", err.text);
    return f;
}

static fastprom_series_t *series_of(fastprom_family_t *f)
{
    fastprom_error_t err;
    fastprom_series_t *s = fastprom_series(f, NULL, NULL, &err);
    ck_assert_msg(s, "%s", err.text);
    return s;
}

START_TEST(descriptions_and_names_take_any_number)
{
    const int codes[] = {INT_MIN, -1000, -12, -11, -1, 0, 1, 12, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = fastprom_strerror(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_int_gt((int)strlen(s), 0);
    }
    for (int c = FASTPROM_ERDONLY; c <= 0; c++)
        ck_assert_str_ne(fastprom_strerror(c), "unknown fastprom error");
    ck_assert_str_eq(fastprom_version(), FASTPROM_VERSION);
    setenv("FASTPROM_PATH", "/dev/shm/elsewhere", 1);
    ck_assert_str_eq(fastprom_default_path(), "/dev/shm/elsewhere");
    setenv("FASTPROM_PATH", "", 1);
    ck_assert_str_eq(fastprom_default_path(), FASTPROM_DEFAULT_PATH);
    unsetenv("FASTPROM_PATH");
    ck_assert_str_eq(fastprom_default_path(), FASTPROM_DEFAULT_PATH);
    const int bad[] = {INT_MIN, -1, 0, FASTPROM_NTYPES, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_ptr_null(fastprom_type_name(bad[i]));
    ck_assert_str_eq(fastprom_type_name(FASTPROM_STATESET), "stateset");
    ck_assert_ptr_null(fastprom_gauge_mode_name(-1));
    ck_assert_ptr_null(fastprom_gauge_mode_name(INT_MIN));
    ck_assert_ptr_null(fastprom_gauge_mode_name(INT_MAX));
    ck_assert_ptr_null(fastprom_gauge_mode_name(FASTPROM_GAUGE_LIVEMOSTRECENT + 1));
    ck_assert_int_eq(fastprom_gauge_mode_parse(NULL), -1);
    ck_assert_int_eq(fastprom_gauge_mode_parse(""), -1);
    ck_assert_int_eq(fastprom_gauge_mode_parse("LIVESUM"), -1);
    ck_assert_ptr_null(fastprom_content_type((fastprom_format_t)-1));
    ck_assert_ptr_null(fastprom_content_type((fastprom_format_t)3));
    ck_assert_ptr_null(fastprom_content_type((fastprom_format_t)INT_MAX));
}
END_TEST

START_TEST(null_handles_are_refused_or_ignored)
{
    fastprom_error_t err;
    fastprom_close(NULL);
    fastprom_buf_free(NULL);
    ck_assert_ptr_null(fastprom_path(NULL));
    ASSERT_ERR(fastprom_check(NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_collect_dead(NULL, &err), err, FASTPROM_EINVAL);
    fastprom_stat_t st;
    ASSERT_ERR(fastprom_stat(NULL, &st, &err), err, FASTPROM_EINVAL);
    fastprom_buf_t buf = {0};
    ASSERT_ERR(fastprom_render(NULL, NULL, &buf, &err), err, FASTPROM_EINVAL);
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "x"};
    ASSERT_NULL_ERR(fastprom_family(NULL, &d, &err), err, FASTPROM_EINVAL);
    ASSERT_NULL_ERR(fastprom_series(NULL, NULL, NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_remove(NULL, NULL, NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_clear(NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_info(NULL, NULL, 0, &err), err, FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc(NULL, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc(NULL, 2.5), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_dec(NULL, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_set(NULL, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe(NULL, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(NULL, 1, NULL, 0, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(NULL, 1, NULL, 0, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(NULL, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_update_ready(NULL), 1); /* the update itself then fails at once */
    /* A NULL err is always allowed. */
    ck_assert_int_eq(fastprom_check(NULL, NULL), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_collect_dead(NULL, NULL), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_stat(NULL, NULL, NULL), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_render(NULL, NULL, NULL, NULL), FASTPROM_EINVAL);
    ck_assert_ptr_null(fastprom_family(NULL, NULL, NULL));
}
END_TEST

START_TEST(open_refuses_bad_options)
{
    fastprom_error_t err;
    const char *path = tmp_segment_path();
    fastprom_options_t o = {.path = path, .size = SIZE_MAX};
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    ck_assert_msg(strstr(err.text, "out of range"), "%s", err.text);
    o.size = SIZE_MAX - 4000; /* rounding up to a page must not wrap */
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.size = 1;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.size = 0;
    o.max_slots = UINT_MAX;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.max_slots = 0;
    o.mode = 04777; /* never a set-uid segment */
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.mode = UINT_MAX;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.mode = 0;
    o.flags = 0x80000000u;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    o.flags = FASTPROM_PRIVATE | FASTPROM_READONLY;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_EINVAL);
    /* A path longer than the system allows is the system's error. */
    char *longpath = malloc(PATH_MAX * 2);
    memset(longpath, 'a', PATH_MAX * 2 - 1);
    longpath[0] = '/';
    longpath[PATH_MAX * 2 - 1] = '\0';
    o.flags = 0;
    o.path = longpath;
    ASSERT_NULL_ERR(fastprom_open(&o, &err), err, FASTPROM_ESYS);
    ck_assert_ptr_null(fastprom_open(&o, NULL)); /* a NULL err is allowed */
    free(longpath);
    /* Nothing was created by any refused call. */
    ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(family_refuses_bad_definitions_and_huge_counts)
{
    fastprom_t *fp = open_tmp_segment(0, NULL);
    fastprom_error_t err;
    static const char *const labels[] = {"a"};
    static const double bounds[] = {1, 2};
    ASSERT_NULL_ERR(fastprom_family(fp, NULL, &err), err, FASTPROM_EINVAL);
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER};
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL); /* name NULL */
    d.name = "";
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.name = "ok";
    const int types[] = {0, -1, FASTPROM_NTYPES, INT_MAX};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        d.type = (fastprom_type_t)types[i];
        ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    }
    d.type = FASTPROM_COUNTER;
    d.nlabels = SIZE_MAX;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.label_names = labels;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.nlabels = FASTPROM_MAX_LABELS + 1;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.nlabels = 0;
    d.flags = 0x80000000u;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.flags = 0;
    d.type = FASTPROM_HISTOGRAM;
    d.nbuckets = SIZE_MAX; /* must be refused before any bound is read */
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.buckets = bounds;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.nbuckets = (SIZE_MAX / sizeof(double)) + 2; /* wraps when scaled to bytes */
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.type = FASTPROM_SUMMARY;
    d.nbuckets = SIZE_MAX;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.buckets = NULL;
    d.nbuckets = 0;
    d.type = FASTPROM_STATESET;
    d.nstates = SIZE_MAX;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.states = labels;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.nstates = 0;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.states = NULL;
    d.type = FASTPROM_GAUGE;
    d.gauge_mode = (fastprom_gauge_mode_t)-1;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.gauge_mode = (fastprom_gauge_mode_t)INT_MAX;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    /* A name as long as memory allows is refused by its length. */
    size_t big = (size_t)16 << 20;
    char *name = malloc(big + 1);
    memset(name, 'n', big);
    name[big] = '\0';
    d.gauge_mode = FASTPROM_GAUGE_LIVESUM;
    d.name = name;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    d.name = "ok";
    d.help = name;
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_EINVAL);
    free(name);
    /* None of it reached the segment. */
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, &err), 0);
    ck_assert_uint_eq(st.families, 0);
    fastprom_close(fp);
}
END_TEST

START_TEST(series_remove_and_clear_refuse_bad_values)
{
    fastprom_t *fp = open_tmp_segment(0, NULL);
    fastprom_error_t err;
    fastprom_family_t *f = family_of(fp, FASTPROM_COUNTER, "c", 2);
    ASSERT_NULL_ERR(fastprom_series(f, NULL, NULL, &err), err, FASTPROM_EINVAL);
    const char *one_null[] = {"x", NULL};
    ASSERT_NULL_ERR(fastprom_series(f, one_null, NULL, &err), err, FASTPROM_EINVAL);
    const char *vals[] = {"x", "y"};
    const size_t huge[] = {SIZE_MAX, 1};
    ASSERT_NULL_ERR(fastprom_series(f, vals, huge, &err), err, FASTPROM_EINVAL);
    const size_t over[] = {1, FASTPROM_MAX_LABEL_VALUE + 1};
    ASSERT_NULL_ERR(fastprom_series(f, vals, over, &err), err, FASTPROM_EINVAL);
    const char *bad_utf8[] = {"x", "\xff"};
    ASSERT_NULL_ERR(fastprom_series(f, bad_utf8, NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_remove(f, NULL, NULL, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_remove(f, vals, huge, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_remove(f, vals, NULL, &err), err, FASTPROM_ENOENT);
    ck_assert_int_eq(fastprom_clear(f, NULL), 0);
    /* Zero lengths are empty values, not "use strlen". */
    const size_t zero[] = {0, 0};
    fastprom_series_t *s = fastprom_series(f, vals, zero, &err);
    ck_assert_msg(s, "%s", err.text);
    const char *empty[] = {"", ""};
    ck_assert_ptr_eq(fastprom_series(f, empty, NULL, &err), s);
    fastprom_close(fp);
}
END_TEST

START_TEST(updates_refuse_wrong_types_and_values)
{
    fastprom_t *fp = open_tmp_segment(0, NULL);
    fastprom_series_t *c = series_of(family_of(fp, FASTPROM_COUNTER, "c", 0));
    fastprom_series_t *g = series_of(family_of(fp, FASTPROM_GAUGE, "g", 0));
    fastprom_series_t *i = series_of(family_of(fp, FASTPROM_INFO, "i", 0));
    fastprom_series_t *e = series_of(family_of(fp, FASTPROM_STATESET, "e", 0));
    ck_assert_int_eq(fastprom_inc(c, -1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc(c, NAN), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc(c, -INFINITY), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_dec(c, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_set(c, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe(c, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe(g, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc(i, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_set(e, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(c, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(e, 2), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(e, UINT_MAX), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(e, 1), 0);
    /* Exemplars on a family without FASTPROM_EXEMPLARS, or with NULL or
     * huge label arrays: refused (the counter increment itself counts). */
    fastprom_label_t one = {"k", "v"};
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, &one, 1, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(g, 1, &one, 1, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(c, 1, &one, 1, 0), FASTPROM_EINVAL);
    fastprom_error_t err;
    fastprom_family_def_t d = {.type = FASTPROM_HISTOGRAM, .name = "h", .flags = FASTPROM_EXEMPLARS};
    fastprom_series_t *h = series_of(fastprom_family(fp, &d, &err));
    d = (fastprom_family_def_t){.type = FASTPROM_COUNTER, .name = "x", .flags = FASTPROM_EXEMPLARS};
    fastprom_series_t *x = series_of(fastprom_family(fp, &d, &err));
    ck_assert_int_eq(fastprom_inc_exemplar(x, 1, NULL, 1, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(x, 1, &one, SIZE_MAX, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(h, 1, NULL, 1, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(h, 1, &one, SIZE_MAX, 0), FASTPROM_EINVAL);
    fastprom_label_t nulls = {NULL, NULL};
    ck_assert_int_eq(fastprom_inc_exemplar(x, 1, &nulls, 1, 0), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(x, 1, NULL, 0, 0), 0);
    ck_assert_int_eq(fastprom_inc_exemplar(x, -1, &one, 1, 0), FASTPROM_EINVAL);
    /* info: NULL pairs, huge counts, NULL members. */
    ASSERT_ERR(fastprom_info(i, NULL, 1, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_info(i, &one, SIZE_MAX, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_info(i, &nulls, 1, &err), err, FASTPROM_EINVAL);
    ASSERT_ERR(fastprom_info(c, &one, 1, &err), err, FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_info(i, NULL, 0, &err), 0);
    fastprom_close(fp);
}
END_TEST

START_TEST(render_and_stat_refuse_bad_options)
{
    fastprom_t *fp = open_tmp_segment(0, NULL);
    fastprom_inc(series_of(family_of(fp, FASTPROM_COUNTER, "c", 0)), 1);
    fastprom_error_t err;
    fastprom_buf_t buf = {0};
    ASSERT_ERR(fastprom_render(fp, NULL, NULL, &err), err, FASTPROM_EINVAL);
    fastprom_render_options_t o = {.format = (fastprom_format_t)3};
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.format = (fastprom_format_t)-1;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.format = FASTPROM_FORMAT_TEXT;
    o.flags = 0x80000000u;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.flags = 0;
    o.nnames = SIZE_MAX;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    const char *nulls[] = {NULL};
    o.names = nulls;
    o.nnames = 1;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.names = NULL;
    o.nnames = 0;
    o.nexclude = 2; /* issue 12: exclude NULL with nexclude > 0 segfaulted */
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.nexclude = SIZE_MAX;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.exclude = nulls;
    o.nexclude = 1;
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.exclude = NULL;
    o.nexclude = 0;
    o.prefix = "9bad";
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    o.prefix = "__x";
    ASSERT_ERR(fastprom_render(fp, &o, &buf, &err), err, FASTPROM_EINVAL);
    /* Every refusal left the buffer untouched. */
    ck_assert_uint_eq(buf.len, 0);
    o.prefix = NULL;
    ck_assert_int_eq(fastprom_render(fp, &o, &buf, &err), 0);
    ck_assert_ptr_nonnull(strstr(buf.data, "c_total 1\n"));
    fastprom_buf_free(&buf);
    fastprom_buf_free(&buf); /* twice is harmless */
    ASSERT_ERR(fastprom_stat(fp, NULL, &err), err, FASTPROM_EINVAL);
    fastprom_close(fp);
}
END_TEST

START_TEST(read_only_handles_refuse_writes)
{
    const char *path;
    fastprom_t *w = open_tmp_segment(0, &path);
    fastprom_error_t err;
    fastprom_options_t o = {.path = path, .flags = FASTPROM_READONLY};
    fastprom_t *fp = fastprom_open(&o, &err);
    ck_assert_msg(fp, "%s", err.text);
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER, .name = "c"};
    ASSERT_NULL_ERR(fastprom_family(fp, &d, &err), err, FASTPROM_ERDONLY);
    ASSERT_ERR(fastprom_collect_dead(fp, &err), err, FASTPROM_ERDONLY);
    ck_assert_int_eq(fastprom_check(fp, &err), 0);
    fastprom_close(fp);
    fastprom_close(w);
}
END_TEST

/* Every FASTPROM_API function of the header is in `covered`. */
START_TEST(every_exported_function_is_covered)
{
    FILE *f = fopen("include/fastprom.h", "r");
    ck_assert_msg(f, "run from the repository root");
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "FASTPROM_API ", 13))
            continue;
        char *paren = strchr(line, '(');
        ck_assert_ptr_nonnull(paren);
        char *start = paren;
        while (start > line && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z')))
            start--;
        *paren = '\0';
        int ok = 0;
        for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++)
            ok |= !strcmp(covered[i], start);
        ck_assert_msg(ok, "%s has no misuse test in test_api_misuse.c", start);
        found++;
    }
    fclose(f);
    ck_assert_int_eq(found, (int)(sizeof covered / sizeof covered[0]));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("api_misuse");
    TCase *t = tcase_create("api_misuse");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, descriptions_and_names_take_any_number);
    tcase_add_test(t, null_handles_are_refused_or_ignored);
    tcase_add_test(t, open_refuses_bad_options);
    tcase_add_test(t, family_refuses_bad_definitions_and_huge_counts);
    tcase_add_test(t, series_remove_and_clear_refuse_bad_values);
    tcase_add_test(t, updates_refuse_wrong_types_and_values);
    tcase_add_test(t, render_and_stat_refuse_bad_options);
    tcase_add_test(t, read_only_handles_refuse_writes);
    tcase_add_test(t, every_exported_function_is_covered);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
