/*
 * test_registry.c - families as fastprom.h documents fastprom_family: every
 * definition it refuses (EINVAL) or finds under another definition
 * (EEXIST, also when two families would render the same sample name), name
 * normalisation (_total, units), handle identity across calls and across
 * attachments, and read-only handles. Series are in test_series.c.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define V(...) ((const char *const[]){__VA_ARGS__})
/* Label names as def() takes them: the array and its length. */
#define L(...) V(__VA_ARGS__), N(V(__VA_ARGS__))
#define SET_STATES(d, ...) ((d).states = V(__VA_ARGS__), (d).nstates = N(V(__VA_ARGS__)))

static fastprom_t *fp;
static fastprom_error_t err;

static void setup(void)
{
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fp = fastprom_open(&opt, &err);
    ck_assert_msg(fp != NULL, "%s", err.text);
}

static void teardown(void)
{
    fastprom_close(fp);
}

static fastprom_family_def_t def(fastprom_type_t type, const char *name, const char *const *labels, size_t nlabels)
{
    return (fastprom_family_def_t){.type = type, .name = name, .label_names = labels, .nlabels = nlabels};
}

static fastprom_family_t *make(const fastprom_family_def_t *d)
{
    fastprom_family_t *f = fastprom_family(fp, d, &err);
    ck_assert_msg(f != NULL, "family %s refused: %s", d->name, err.text);
    return f;
}

/* fastprom_family must refuse d with `code`, a one-line text holding
 * `fragment` (NULL: any non-empty text). */
static void refused(fastprom_t *h, const fastprom_family_def_t *d, int code, const char *fragment)
{
    memset(&err, 0, sizeof err);
    fastprom_family_t *f = fastprom_family(h, d, &err);
    ck_assert_msg(f == NULL, "family %.60s should be refused (%s)", d && d->name ? d->name : "NULL",
                  fragment ? fragment : "");
    ck_assert_int_eq(err.code, code);
    ck_assert_uint_gt(strlen(err.text), 0);
    ck_assert_ptr_null(strchr(err.text, '\n'));
    if (fragment)
        ck_assert_msg(strstr(err.text, fragment), "\"%s\" should mention \"%s\"", err.text, fragment);
}
#define EINVAL_FOR(d, fragment) refused(fp, d, FASTPROM_EINVAL, fragment)

static fastprom_series_t *series(fastprom_family_t *f, const char *const *values)
{
    fastprom_series_t *s = fastprom_series(f, values, NULL, &err);
    ck_assert_msg(s != NULL, "series refused: %s", err.text);
    return s;
}

static fastprom_stat_t stat_of(fastprom_t *h)
{
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(h, &st, &err), 0);
    return st;
}

/* ---- definitions refused ---------------------------------------------------- */

START_TEST(family_refuses_bad_metric_names)
{
    const char *bad[] = {"", "0abc", "a-b", "a b", "a.b", "caf\xc3\xa9", "a\n"};
    for (size_t i = 0; i < N(bad); i++) {
        fastprom_family_def_t d = def(FASTPROM_COUNTER, bad[i], NULL, 0);
        EINVAL_FOR(&d, NULL);
    }
    fastprom_family_def_t d = def(FASTPROM_GAUGE, "a-b", NULL, 0);
    EINVAL_FOR(&d, "a-b");
    d.name = NULL;
    EINVAL_FOR(&d, NULL);
    char name[FASTPROM_MAX_NAME + 2];
    memset(name, 'n', sizeof name - 1);
    name[FASTPROM_MAX_NAME + 1] = '\0';
    d.name = name;
    EINVAL_FOR(&d, NULL);
    name[FASTPROM_MAX_NAME] = '\0';
    make(&d);
}
END_TEST

/* The unit is appended to the name, so the name and unit together must
 * respect FASTPROM_MAX_NAME as well. */
START_TEST(family_refuses_a_name_too_long_once_the_unit_is_appended)
{
    char name[FASTPROM_MAX_NAME + 1], unit[65];
    memset(name, 'n', FASTPROM_MAX_NAME);
    name[FASTPROM_MAX_NAME] = '\0';
    memset(unit, 'u', 64);
    unit[64] = '\0';
    fastprom_family_def_t d = def(FASTPROM_GAUGE, name, NULL, 0);
    d.unit = unit;
    EINVAL_FOR(&d, NULL);
}
END_TEST

START_TEST(family_refuses_reserved_double_underscore_names)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "__internal", NULL, 0);
    EINVAL_FOR(&d, "__internal");
    d = def(FASTPROM_COUNTER, "jobs", L("__meta"));
    EINVAL_FOR(&d, "__meta");
    d = def(FASTPROM_COUNTER, "_jobs", L("_meta"));
    make(&d);
}
END_TEST

START_TEST(family_refuses_le_quantile_and_own_name_where_reserved)
{
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "latency", L("route", "le"));
    EINVAL_FOR(&d, "le");
    d = def(FASTPROM_SUMMARY, "size", L("quantile"));
    EINVAL_FOR(&d, "quantile");
    d = def(FASTPROM_STATESET, "phase", L("svc", "phase"));
    SET_STATES(d, "a", "b");
    EINVAL_FOR(&d, "phase");
    /* Reserved only where the type uses them. */
    d = def(FASTPROM_COUNTER, "c", L("le", "quantile"));
    make(&d);
    d = def(FASTPROM_HISTOGRAM, "h", L("quantile"));
    make(&d);
    d = def(FASTPROM_SUMMARY, "s", L("le"));
    make(&d);
    d = def(FASTPROM_GAUGE, "g", L("g"));
    make(&d);
}
END_TEST

START_TEST(family_refuses_bad_duplicate_and_too_many_labels)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "c", L("method", "code", "method"));
    EINVAL_FOR(&d, "method");
    const char *bad[] = {"", "a:b", "1a", "a-b", "caf\xc3\xa9"};
    for (size_t i = 0; i < N(bad); i++) {
        const char *labels[] = {"ok", bad[i]};
        d = def(FASTPROM_COUNTER, "c", labels, 2);
        EINVAL_FOR(&d, NULL);
    }
    const char *with_null[] = {"ok", NULL};
    d = def(FASTPROM_COUNTER, "c", with_null, 2);
    EINVAL_FOR(&d, NULL);
    d = def(FASTPROM_COUNTER, "c", NULL, 1);
    EINVAL_FOR(&d, NULL);
    char longname[FASTPROM_MAX_NAME + 2];
    memset(longname, 'l', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *long_label[] = {longname};
    d = def(FASTPROM_COUNTER, "c", long_label, 1);
    EINVAL_FOR(&d, NULL);

    const char *many[FASTPROM_MAX_LABELS + 1] = {"l0", "l1", "l2", "l3", "l4", "l5",  "l6", "l7", "l8",
                                                 "l9", "la", "lb", "lc", "ld", "le_", "lf", "lg"};
    d = def(FASTPROM_COUNTER, "c17", many, FASTPROM_MAX_LABELS + 1);
    EINVAL_FOR(&d, "17");
    d = def(FASTPROM_COUNTER, "c16", many, FASTPROM_MAX_LABELS);
    fastprom_series_t *s = series(make(&d), many);
    ck_assert_int_eq(fastprom_inc(s, 1), 0);
}
END_TEST

START_TEST(histogram_refuses_bad_bucket_lists)
{
    const double unordered[] = {1, 3, 2}, equal[] = {1, 1}, zeros[] = {-0.0, 0.0}, with_nan[] = {1, NAN, 3},
                 with_minus_inf[] = {-INFINITY, 1}, inf_inside[] = {1, INFINITY, 2}, only_inf[] = {INFINITY};
    struct {
        const double *b;
        size_t n;
    } cases[] = {{unordered, 3},      {equal, 2},      {zeros, 2},    {with_nan, 3},
                 {with_minus_inf, 2}, {inf_inside, 3}, {only_inf, 1}, {NULL, 3}};
    for (size_t i = 0; i < N(cases); i++) {
        fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "latency", NULL, 0);
        d.buckets = cases[i].b;
        d.nbuckets = cases[i].n;
        EINVAL_FOR(&d, "latency");
    }
    double many[FASTPROM_MAX_BUCKETS + 1];
    for (size_t i = 0; i < N(many); i++)
        many[i] = (double)i;
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "latency", NULL, 0);
    d.buckets = many;
    d.nbuckets = FASTPROM_MAX_BUCKETS + 1;
    EINVAL_FOR(&d, NULL);
    d.nbuckets = FASTPROM_MAX_BUCKETS;
    make(&d);
}
END_TEST

START_TEST(histogram_accepts_and_drops_a_trailing_inf_bound)
{
    const double with_inf[] = {-1, 0.5, 2, INFINITY}, without[] = {-1, 0.5, 2};
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "temp", NULL, 0);
    d.buckets = with_inf;
    d.nbuckets = 4;
    fastprom_family_t *a = make(&d);
    d.buckets = without;
    d.nbuckets = 3;
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), a);
    ck_assert_int_eq(fastprom_observe(series(a, NULL), 1), 0);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE temp histogram\n"
                           "temp_bucket{le=\"-1.0\"} 0\n"
                           "temp_bucket{le=\"0.5\"} 0\n"
                           "temp_bucket{le=\"2.0\"} 1\n"
                           "temp_bucket{le=\"+Inf\"} 1\n"
                           "temp_sum 1\n"
                           "temp_count 1\n");
    free(text);
}
END_TEST

START_TEST(histogram_without_buckets_gets_the_default_buckets)
{
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "rt", NULL, 0);
    series(make(&d), NULL);
    json_t *root = render_json(fp);
    json_t *buckets = json_object_get(json_array_get(json_object_get(json_family(root, "rt"), "series"), 0), "buckets");
    const char *want[] = {"0.005", "0.01", "0.025", "0.05", "0.075", "0.1",  "0.25", "0.5",
                          "0.75",  "1.0",  "2.5",   "5.0",  "7.5",   "10.0", "+Inf"};
    ck_assert_uint_eq(json_array_size(buckets), N(want));
    for (size_t i = 0; i < N(want); i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(buckets, i), "le")), want[i]);
    json_decref(root);
}
END_TEST

START_TEST(summary_refuses_bad_quantiles)
{
    const double above[] = {0.5, 1.5}, below[] = {-0.1}, with_nan[] = {NAN}, unordered[] = {0.9, 0.5},
                 equal[] = {0.5, 0.5};
    struct {
        const double *q;
        size_t n;
    } cases[] = {{above, 2}, {below, 1}, {with_nan, 1}, {unordered, 2}, {equal, 2}, {NULL, 1}};
    for (size_t i = 0; i < N(cases); i++) {
        fastprom_family_def_t d = def(FASTPROM_SUMMARY, "size", NULL, 0);
        d.buckets = cases[i].q;
        d.nbuckets = cases[i].n;
        EINVAL_FOR(&d, "size");
    }
    double many[FASTPROM_MAX_QUANTILES + 1];
    for (size_t i = 0; i < N(many); i++)
        many[i] = (double)i / FASTPROM_MAX_QUANTILES;
    fastprom_family_def_t d = def(FASTPROM_SUMMARY, "size", NULL, 0);
    d.buckets = many;
    d.nbuckets = N(many);
    EINVAL_FOR(&d, NULL);
    d.nbuckets = FASTPROM_MAX_QUANTILES; /* 0 and 1 included */
    make(&d);
}
END_TEST

START_TEST(buckets_and_states_only_where_the_type_has_them)
{
    const double b[] = {1};
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "c", NULL, 0);
    d.buckets = b;
    d.nbuckets = 1;
    EINVAL_FOR(&d, NULL);
    d.type = FASTPROM_GAUGE;
    EINVAL_FOR(&d, NULL);
    d = def(FASTPROM_INFO, "i", NULL, 0);
    SET_STATES(d, "x");
    EINVAL_FOR(&d, NULL);
}
END_TEST

START_TEST(stateset_refuses_bad_state_lists)
{
    fastprom_family_def_t d = def(FASTPROM_STATESET, "phase", NULL, 0);
    EINVAL_FOR(&d, "phase"); /* no states */
    SET_STATES(d, "up", "down", "up");
    EINVAL_FOR(&d, "up");
    SET_STATES(d, "up", "bad\xff");
    EINVAL_FOR(&d, NULL);
    const char *with_null[] = {"up", NULL};
    d.states = with_null;
    d.nstates = 2;
    EINVAL_FOR(&d, NULL);
    const char *many[FASTPROM_MAX_STATES + 1];
    char names[FASTPROM_MAX_STATES + 1][8];
    for (size_t i = 0; i < N(many); i++) {
        snprintf(names[i], sizeof names[i], "s%zu", i);
        many[i] = names[i];
    }
    d.states = many;
    d.nstates = N(many);
    EINVAL_FOR(&d, NULL);
    d.nstates = FASTPROM_MAX_STATES;
    make(&d);
}
END_TEST

START_TEST(units_are_refused_on_info_and_stateset_and_when_malformed)
{
    fastprom_family_def_t d = def(FASTPROM_INFO, "build", NULL, 0);
    d.unit = "seconds";
    EINVAL_FOR(&d, "unit");
    d = def(FASTPROM_STATESET, "phase", NULL, 0);
    SET_STATES(d, "a");
    d.unit = "seconds";
    EINVAL_FOR(&d, "unit");
    const char *bad[] = {"sec onds", "1s", "a-b", "a:b", "caf\xc3\xa9"};
    for (size_t i = 0; i < N(bad); i++) {
        d = def(FASTPROM_GAUGE, "x", NULL, 0);
        d.unit = bad[i];
        EINVAL_FOR(&d, NULL);
    }
    d = def(FASTPROM_GAUGE, "x", NULL, 0);
    d.unit = ""; /* the same as none */
    fastprom_family_t *none = make(&d);
    d.unit = NULL;
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), none);
}
END_TEST

START_TEST(family_refuses_unknown_flags_types_modes_and_exemplars_on_other_types)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "c", NULL, 0);
    d.flags = 0x2;
    EINVAL_FOR(&d, "flags");
    const char *const states[] = {"a"};
    fastprom_type_t no_exemplars[] = {FASTPROM_GAUGE, FASTPROM_SUMMARY, FASTPROM_INFO, FASTPROM_STATESET};
    for (size_t i = 0; i < N(no_exemplars); i++) {
        d = def(no_exemplars[i], "x", NULL, 0);
        d.states = states;
        d.nstates = no_exemplars[i] == FASTPROM_STATESET;
        d.flags = FASTPROM_EXEMPLARS;
        EINVAL_FOR(&d, "exemplars");
    }
    d = def(FASTPROM_COUNTER, "c", NULL, 0);
    d.flags = FASTPROM_EXEMPLARS;
    make(&d);
    d = def(FASTPROM_HISTOGRAM, "h", NULL, 0);
    d.flags = FASTPROM_EXEMPLARS;
    make(&d);

    d = def((fastprom_type_t)0, "t0", NULL, 0);
    EINVAL_FOR(&d, NULL);
    d = def((fastprom_type_t)7, "t7", NULL, 0);
    EINVAL_FOR(&d, NULL);
    d = def(FASTPROM_GAUGE, "g", NULL, 0);
    d.gauge_mode = (fastprom_gauge_mode_t)10;
    EINVAL_FOR(&d, "g");
    d.gauge_mode = (fastprom_gauge_mode_t)-1;
    EINVAL_FOR(&d, "g");
    EINVAL_FOR(NULL, NULL);
    refused(NULL, &d, FASTPROM_EINVAL, NULL);
}
END_TEST

START_TEST(family_refuses_help_that_is_not_short_utf8)
{
    fastprom_family_def_t d = def(FASTPROM_GAUGE, "g", NULL, 0);
    d.help = "bad \xc0\x80 help";
    EINVAL_FOR(&d, "help");
    static char help[FASTPROM_MAX_HELP + 2];
    memset(help, 'h', FASTPROM_MAX_HELP + 1);
    d.help = help;
    EINVAL_FOR(&d, "help");
    help[FASTPROM_MAX_HELP] = '\0';
    make(&d);
}
END_TEST

/* ---- names normalised ----------------------------------------------------- */

START_TEST(counter_total_suffix_is_stripped_and_added_back)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "jobs_total", NULL, 0);
    fastprom_family_t *a = make(&d);
    d.name = "jobs";
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), a);
    fastprom_family_def_t g = def(FASTPROM_GAUGE, "queue_total", NULL, 0); /* only counters */
    ck_assert_int_eq(fastprom_inc(series(a, NULL), 2), 0);
    ck_assert_int_eq(fastprom_set(series(make(&g), NULL), 4), 0);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE jobs_total counter\njobs_total 2\n# TYPE queue_total gauge\nqueue_total 4\n");
    free(text);
}
END_TEST

START_TEST(unit_is_appended_as_prometheus_client_does)
{
    struct {
        fastprom_type_t type;
        const char *name, *unit, *rendered;
    } cases[] = {
        {FASTPROM_GAUGE, "latency", "seconds", "latency_seconds"},
        {FASTPROM_GAUGE, "size_bytes", "bytes", "size_bytes"},
        {FASTPROM_COUNTER, "busy_seconds_total", "seconds", "busy_seconds"},
        {FASTPROM_COUNTER, "work_total", "seconds", "work_seconds"},
        {FASTPROM_HISTOGRAM, "seconds", "seconds", "seconds_seconds"},
        {FASTPROM_GAUGE, "x_secondsx", "seconds", "x_secondsx_seconds"},
        {FASTPROM_SUMMARY, "payloadbytes", "bytes", "payloadbytes_bytes"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        fastprom_family_def_t d = def(cases[i].type, cases[i].name, NULL, 0);
        d.unit = cases[i].unit;
        series(make(&d), NULL);
    }
    json_t *root = render_json(fp);
    for (size_t i = 0; i < N(cases); i++) {
        json_t *f = json_family(root, cases[i].rendered);
        ck_assert_msg(f != NULL, "%s + %s should render as %s", cases[i].name, cases[i].unit, cases[i].rendered);
        ck_assert_str_eq(json_string_value(json_object_get(f, "unit")), cases[i].unit);
    }
    json_decref(root);
    /* The appended name and the full one are the same family. */
    fastprom_family_def_t d = def(FASTPROM_GAUGE, "latency_seconds", NULL, 0);
    d.unit = "seconds";
    fastprom_family_t *full = make(&d);
    d.name = "latency";
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), full);
    char *om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_ptr_nonnull(strstr(om, "# TYPE latency_seconds gauge\n# UNIT latency_seconds seconds\n"));
    free(om);
}
END_TEST

/* ---- the same family again ------------------------------------------------- */

START_TEST(same_definition_returns_the_same_handle_and_first_help_wins)
{
    const double b[] = {0.1, 1};
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "rt", L("route"));
    d.buckets = b;
    d.nbuckets = 2;
    d.help = "First help.";
    fastprom_family_t *a = make(&d);
    d.help = "Other help.";
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), a);
    d.help = NULL;
    ck_assert_ptr_eq(fastprom_family(fp, &d, &err), a);
    series(a, V("/"));
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "# HELP rt First help.\n"));
    ck_assert_ptr_null(strstr(text, "Other"));
    free(text);
    ck_assert_uint_eq(stat_of(fp).families, 1);
}
END_TEST

/* Another fastprom_open of the same path is what another process sees. */
START_TEST(same_definition_from_a_second_attachment_shares_the_family)
{
    const char *path;
    fastprom_t *one = open_tmp_segment(0, &path);
    fastprom_options_t opt = {.path = path};
    fastprom_t *two = fastprom_open(&opt, &err);
    ck_assert_msg(two != NULL, "%s", err.text);
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "http_requests_total", L("code"));
    fastprom_family_t *f1 = fastprom_family(one, &d, &err), *f2 = fastprom_family(two, &d, &err);
    ck_assert_ptr_nonnull(f1);
    ck_assert_ptr_nonnull(f2);
    ck_assert_int_eq(fastprom_inc(fastprom_series(f1, V("200"), NULL, &err), 2), 0);
    ck_assert_int_eq(fastprom_inc(fastprom_series(f2, V("200"), NULL, &err), 3), 0);
    ck_assert_uint_eq(stat_of(two).families, 1);
    ck_assert_uint_eq(stat_of(two).series, 1);
    json_t *root = render_json(two);
    ck_assert_double_eq(json_member_number(json_series(json_family(root, "http_requests"), 1, "code", "200"), "value"),
                        5);
    json_decref(root);

    fastprom_family_def_t other = def(FASTPROM_GAUGE, "http_requests", L("code"));
    refused(two, &other, FASTPROM_EEXIST, "http_requests");
    ck_assert_ptr_nonnull(strstr(err.text, "counter"));
    ck_assert_ptr_nonnull(strstr(err.text, "gauge"));
    fastprom_close(two);
    fastprom_close(one);
}
END_TEST

START_TEST(other_definition_of_a_name_is_eexist_naming_both)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "events", L("kind"));
    make(&d);
    fastprom_family_def_t other = def(FASTPROM_COUNTER, "events", L("source"));
    refused(fp, &other, FASTPROM_EEXIST, "events");
    ck_assert_msg(strstr(err.text, "kind") && strstr(err.text, "source"), "both label lists: %s", err.text);
    other = def(FASTPROM_HISTOGRAM, "events", L("kind"));
    refused(fp, &other, FASTPROM_EEXIST, "events");
    ck_assert_msg(strstr(err.text, "counter") && strstr(err.text, "histogram"), "both types: %s", err.text);
    other = def(FASTPROM_COUNTER, "events", L("kind"));
    other.flags = FASTPROM_EXEMPLARS;
    refused(fp, &other, FASTPROM_EEXIST, "events");

    const double b1[] = {1, 2}, b2[] = {1, 3};
    d = def(FASTPROM_HISTOGRAM, "rt", NULL, 0);
    d.buckets = b1;
    d.nbuckets = 2;
    make(&d);
    d.buckets = b2;
    refused(fp, &d, FASTPROM_EEXIST, "rt");

    d = def(FASTPROM_SUMMARY, "sz", NULL, 0);
    make(&d);
    const double q[] = {0.5};
    d.buckets = q, d.nbuckets = 1;
    refused(fp, &d, FASTPROM_EEXIST, "sz");

    d = def(FASTPROM_GAUGE, "g", NULL, 0);
    make(&d);
    d.gauge_mode = FASTPROM_GAUGE_MAX;
    refused(fp, &d, FASTPROM_EEXIST, "g");

    d = def(FASTPROM_STATESET, "phase", NULL, 0);
    SET_STATES(d, "a", "b");
    make(&d);
    SET_STATES(d, "a", "c");
    refused(fp, &d, FASTPROM_EEXIST, "phase");

    d = def(FASTPROM_GAUGE, "wait", NULL, 0);
    d.unit = "seconds";
    make(&d); /* named wait_seconds */
    d = def(FASTPROM_GAUGE, "wait_seconds", NULL, 0);
    refused(fp, &d, FASTPROM_EEXIST, "wait_seconds");
    ck_assert_uint_eq(stat_of(fp).families, 6);
}
END_TEST

/* Two families must never render the same sample name: promtool rejects
 * the whole exposition ("second TYPE line for metric name"), and
 * prometheus_client refuses such a registration too. */
START_TEST(a_family_whose_samples_clash_with_another_familys_is_eexist)
{
    struct {
        fastprom_type_t first;
        const char *first_name;
        fastprom_type_t second;
        const char *second_name;
    } cases[] = {
        {FASTPROM_COUNTER, "jobs", FASTPROM_GAUGE, "jobs_total"},
        {FASTPROM_GAUGE, "queue_total", FASTPROM_COUNTER, "queue"},
        {FASTPROM_HISTOGRAM, "rt", FASTPROM_GAUGE, "rt_bucket"},
        {FASTPROM_HISTOGRAM, "rt", FASTPROM_GAUGE, "rt_count"},
        {FASTPROM_SUMMARY, "sz", FASTPROM_GAUGE, "sz_sum"},
        {FASTPROM_INFO, "build", FASTPROM_GAUGE, "build_info"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        fastprom_family_def_t a = def(cases[i].first, cases[i].first_name, NULL, 0);
        fastprom_family_def_t b = def(cases[i].second, cases[i].second_name, NULL, 0);
        fastprom_family(fp, &a, &err); /* may already exist from an earlier case */
        refused(fp, &b, FASTPROM_EEXIST, cases[i].second_name);
    }
}
END_TEST

/* ---- read-only ---------------------------------------------------------------------- */

START_TEST(read_only_handle_refuses_writes_with_erdonly)
{
    const char *path;
    fastprom_t *w = open_tmp_segment(0, &path);
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", NULL, 0);
    fastprom_inc(fastprom_series(fastprom_family(w, &d, &err), NULL, NULL, &err), 4);
    fastprom_options_t opt = {.path = path, .flags = FASTPROM_READONLY};
    fastprom_t *ro = fastprom_open(&opt, &err);
    ck_assert_msg(ro != NULL, "%s", err.text);
    refused(ro, &d, FASTPROM_ERDONLY, path);
    fastprom_family_def_t fresh = def(FASTPROM_GAUGE, "new_gauge", NULL, 0);
    refused(ro, &fresh, FASTPROM_ERDONLY, NULL);
    ck_assert_int_eq(fastprom_collect_dead(ro, &err), FASTPROM_ERDONLY);
    ck_assert_uint_eq(stat_of(ro).families, 1);
    char *text = render_or_fail(ro, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE req_total counter\nreq_total 4\n");
    free(text);
    fastprom_close(ro);
    fastprom_close(w);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("families");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, family_refuses_bad_metric_names);
    tcase_add_test(tc, family_refuses_a_name_too_long_once_the_unit_is_appended);
    tcase_add_test(tc, family_refuses_reserved_double_underscore_names);
    tcase_add_test(tc, family_refuses_le_quantile_and_own_name_where_reserved);
    tcase_add_test(tc, family_refuses_bad_duplicate_and_too_many_labels);
    tcase_add_test(tc, histogram_refuses_bad_bucket_lists);
    tcase_add_test(tc, histogram_accepts_and_drops_a_trailing_inf_bound);
    tcase_add_test(tc, histogram_without_buckets_gets_the_default_buckets);
    tcase_add_test(tc, summary_refuses_bad_quantiles);
    tcase_add_test(tc, buckets_and_states_only_where_the_type_has_them);
    tcase_add_test(tc, stateset_refuses_bad_state_lists);
    tcase_add_test(tc, units_are_refused_on_info_and_stateset_and_when_malformed);
    tcase_add_test(tc, family_refuses_unknown_flags_types_modes_and_exemplars_on_other_types);
    tcase_add_test(tc, family_refuses_help_that_is_not_short_utf8);
    tcase_add_test(tc, counter_total_suffix_is_stripped_and_added_back);
    tcase_add_test(tc, unit_is_appended_as_prometheus_client_does);
    tcase_add_test(tc, same_definition_returns_the_same_handle_and_first_help_wins);
    tcase_add_test(tc, same_definition_from_a_second_attachment_shares_the_family);
    tcase_add_test(tc, other_definition_of_a_name_is_eexist_naming_both);
    tcase_add_test(tc, a_family_whose_samples_clash_with_another_familys_is_eexist);
    tcase_add_test(tc, read_only_handle_refuses_writes_with_erdonly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
