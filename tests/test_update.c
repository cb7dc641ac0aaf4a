/*
 * test_update.c - the hot path's semantics: what inc, dec, set, observe,
 * state and the exemplar variants record, what they refuse (and that a
 * refused update records nothing), histogram bucket boundaries on both
 * bucket-search paths, summary totals, exemplars in OpenMetrics, and gauge
 * modes as one process sees them. Values are read back from the rendered
 * JSON (exact numbers) or the exposition text.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define N(a) (sizeof(a) / sizeof *(a))

static fastprom_t *fp;
static fastprom_error_t err;
static json_t *root; /* the last rendering, freed by the next one */

static void setup(void)
{
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fp = fastprom_open(&opt, &err);
    ck_assert_msg(fp != NULL, "%s", err.text);
}

static void teardown(void)
{
    json_decref(root);
    root = NULL;
    fastprom_close(fp);
}

/* A family without labels (bounds: histogram buckets or summary quantiles)
 * and its one series. */
static fastprom_series_t *make(fastprom_t *h, fastprom_type_t type, const char *name, unsigned flags,
                               const double *bounds, size_t nbounds)
{
    fastprom_family_def_t d = {.type = type, .name = name, .flags = flags, .buckets = bounds, .nbuckets = nbounds};
    if (type == FASTPROM_STATESET) {
        static const char *const states[] = {"a", "b"};
        d.states = states;
        d.nstates = 2;
    }
    fastprom_family_t *f = fastprom_family(h, &d, &err);
    ck_assert_msg(f != NULL, "%s: %s", name, err.text);
    fastprom_series_t *s = fastprom_series(f, NULL, NULL, &err);
    ck_assert_msg(s != NULL, "%s: %s", name, err.text);
    return s;
}

static fastprom_series_t *make_gauge(fastprom_t *h, const char *name, fastprom_gauge_mode_t mode)
{
    fastprom_family_def_t d = {.type = FASTPROM_GAUGE, .name = name, .gauge_mode = mode};
    fastprom_family_t *f = fastprom_family(h, &d, &err);
    ck_assert_msg(f != NULL, "%s: %s", name, err.text);
    return fastprom_series(f, NULL, NULL, &err);
}

/* The rendered series object of a family without labels. */
static json_t *rendered(fastprom_t *h, const char *family)
{
    json_decref(root);
    root = render_json(h);
    json_t *f = json_family(root, family);
    ck_assert_msg(f != NULL, "no family %s", family);
    json_t *s = json_array_get(json_object_get(f, "series"), 0);
    ck_assert_msg(s != NULL, "family %s has no series", family);
    return s;
}

static double value_of(const char *family)
{
    return json_member_number(rendered(fp, family), "value");
}

/* ---- counters ---------------------------------------------------------------- */

START_TEST(counter_adds_ones_and_integral_amounts_exactly)
{
    fastprom_series_t *s = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(fastprom_inc(s, 1), 0);
    ck_assert_int_eq(fastprom_inc(s, 5), 0);
    ck_assert_int_eq(fastprom_inc(s, 1e15), 0);
    ck_assert_int_eq(fastprom_inc(s, 0), 0);
    ck_assert_double_eq(value_of("c"), 1000000000001005.0);
}
END_TEST

/* Integral increments add as integers: in floating point, 2^53 + 1 would
 * round back to 2^53 twice here. */
START_TEST(counter_integral_increments_stay_exact_past_2_pow_53)
{
    fastprom_series_t *s = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    ck_assert_int_eq(fastprom_inc(s, 9007199254740991.0), 0); /* 2^53 - 1 */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fastprom_inc(s, 1), 0);
    ck_assert_double_eq(value_of("c"), 9007199254740994.0);
}
END_TEST

START_TEST(counter_adds_fractional_and_mixed_amounts)
{
    fastprom_series_t *s = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    fastprom_inc(s, 0.5), fastprom_inc(s, 1), fastprom_inc(s, 0.25), fastprom_inc(s, 2);
    ck_assert_double_eq(value_of("c"), 3.75);
    fastprom_inc(s, 1e-3);
    ck_assert_double_eq(value_of("c"), 3.75 + 1e-3);
}
END_TEST

START_TEST(counter_adds_huge_integral_amounts)
{
    fastprom_series_t *a = make(fp, FASTPROM_COUNTER, "a", 0, NULL, 0);
    fastprom_series_t *b = make(fp, FASTPROM_COUNTER, "b", 0, NULL, 0);
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    fastprom_inc(a, 0x1p60), fastprom_inc(a, 0x1p60);
    ck_assert_double_eq(value_of("a"), 0x1p61);
    fastprom_inc(b, 1e19), fastprom_inc(b, 1e300);
    ck_assert_double_eq(value_of("b"), 1e19 + 1e300);
    fastprom_inc(c, 0x1p60), fastprom_inc(c, 4096);
    ck_assert_double_eq(value_of("c"), 0x1p60 + 4096);
}
END_TEST

START_TEST(counter_refuses_negative_and_nan_increments_and_records_nothing)
{
    fastprom_series_t *s = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    fastprom_series_t *never = make(fp, FASTPROM_COUNTER, "never", 0, NULL, 0);
    ck_assert_int_eq(fastprom_inc(s, 3), 0);
    const double bad[] = {-1, -0.5, -1e-300, -INFINITY, NAN, -NAN};
    for (size_t i = 0; i < N(bad); i++) {
        ck_assert_int_eq(fastprom_inc(s, bad[i]), FASTPROM_EINVAL);
        ck_assert_int_eq(fastprom_inc(never, bad[i]), FASTPROM_EINVAL);
    }
    ck_assert_double_eq(value_of("c"), 3);
    ck_assert_double_eq(value_of("never"), 0);
}
END_TEST

/* ---- every operation on every type it does not apply to ---------------------- */

enum op { INC, DEC, SET, OBSERVE, STATE, INC_EXEMPLAR, OBSERVE_EXEMPLAR, INFO, NOPS };
static const char *const op_names[NOPS] = {"inc", "dec", "set", "observe", "state", "inc_exemplar", "observe_exemplar",
                                           "info"};

static int apply(enum op op, fastprom_series_t *s)
{
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    const fastprom_label_t pairs[] = {{"version", "1"}};
    switch (op) {
    case INC: return fastprom_inc(s, 1);
    case DEC: return fastprom_dec(s, 1);
    case SET: return fastprom_set(s, 1);
    case OBSERVE: return fastprom_observe(s, 1);
    case STATE: return fastprom_state(s, 0);
    case INC_EXEMPLAR: return fastprom_inc_exemplar(s, 1, ex, 1, 1);
    case OBSERVE_EXEMPLAR: return fastprom_observe_exemplar(s, 1, ex, 1, 1);
    default: return fastprom_info(s, pairs, 1, &err);
    }
}

START_TEST(each_operation_refuses_types_it_does_not_apply_to)
{
    static const struct {
        fastprom_type_t type;
        const char *name;
        int allowed[NOPS];
    } types[] = {
        {FASTPROM_COUNTER, "c", {[INC] = 1, [INC_EXEMPLAR] = 1}},
        {FASTPROM_GAUGE, "g", {[INC] = 1, [DEC] = 1, [SET] = 1}},
        {FASTPROM_HISTOGRAM, "h", {[OBSERVE] = 1, [OBSERVE_EXEMPLAR] = 1}},
        {FASTPROM_SUMMARY, "s", {[OBSERVE] = 1}},
        {FASTPROM_INFO, "i", {[INFO] = 1}},
        {FASTPROM_STATESET, "st", {[STATE] = 1}},
    };
    fastprom_series_t *s[N(types)];
    for (size_t t = 0; t < N(types); t++) {
        int ex = types[t].type == FASTPROM_COUNTER || types[t].type == FASTPROM_HISTOGRAM;
        s[t] = make(fp, types[t].type, types[t].name, ex ? FASTPROM_EXEMPLARS : 0, NULL, 0);
    }
    json_t *before = render_json(fp);
    for (size_t t = 0; t < N(types); t++)
        for (int op = 0; op < NOPS; op++)
            if (!types[t].allowed[op])
                ck_assert_msg(apply((enum op)op, s[t]) == FASTPROM_EINVAL, "%s on a %s should be EINVAL", op_names[op],
                              fastprom_type_name(types[t].type));
    json_t *after = render_json(fp);
    ck_assert_msg(json_equal(before, after), "a refused operation changed the output");
    json_decref(before);
    json_decref(after);
    for (size_t t = 0; t < N(types); t++)
        for (int op = 0; op < NOPS; op++)
            if (types[t].allowed[op])
                ck_assert_msg(apply((enum op)op, s[t]) == 0, "%s on a %s should work", op_names[op],
                              fastprom_type_name(types[t].type));
}
END_TEST

/* fastprom_series() returns NULL on an error; passing that straight to an
 * update must be a refused update, never a crash of the host. */
START_TEST(every_operation_refuses_a_null_series)
{
    for (int op = 0; op < NOPS; op++)
        ck_assert_msg(apply((enum op)op, NULL) == FASTPROM_EINVAL, "%s on NULL should be EINVAL", op_names[op]);
    ck_assert_int_eq(fastprom_inc(NULL, 2.5), FASTPROM_EINVAL);
}
END_TEST

/* A thread's first update of a series resolves its cells (under the segment
 * lock); fastprom_update_ready says so beforehand, and after it, never again
 * in that thread. */
static void *ready_in_new_thread(void *arg)
{
    fastprom_series_t *s = arg;
    intptr_t before = fastprom_update_ready(s);
    fastprom_inc(s, 1);
    return (void *)(before * 2 + fastprom_update_ready(s));
}

START_TEST(update_ready_is_false_until_the_threads_first_update)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "ready_c", 0, NULL, 0);
    fastprom_series_t *g = make(fp, FASTPROM_GAUGE, "ready_g", 0, NULL, 0);
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "ready_h", 0, NULL, 0);
    fastprom_series_t *e = make(fp, FASTPROM_STATESET, "ready_e", 0, NULL, 0);
    ck_assert_int_eq(fastprom_update_ready(c), 0);
    ck_assert_int_eq(fastprom_update_ready(g), 0);
    ck_assert_int_eq(fastprom_update_ready(h), 0);
    ck_assert_int_eq(fastprom_update_ready(e), 1); /* a stateset never takes the lock */
    ck_assert_int_eq(fastprom_update_ready(NULL), 1);
    fastprom_inc(c, 1), fastprom_set(g, 1), fastprom_observe(h, 1);
    ck_assert_int_eq(fastprom_update_ready(c), 1);
    ck_assert_int_eq(fastprom_update_ready(g), 1);
    ck_assert_int_eq(fastprom_update_ready(h), 1);
    /* Another thread has its own cells for the counter; the gauge cell is the process's. */
    pthread_t t;
    void *r;
    ck_assert_int_eq(pthread_create(&t, NULL, ready_in_new_thread, c), 0);
    pthread_join(t, &r);
    ck_assert_int_eq((intptr_t)r, 1); /* not ready before, ready after */
    ck_assert_int_eq(pthread_create(&t, NULL, ready_in_new_thread, g), 0);
    pthread_join(t, &r);
    ck_assert_int_eq((intptr_t)r, 3);
    ck_assert_double_eq(value_of("ready_c"), 2);
}
END_TEST

/* ---- gauges -------------------------------------------------------------------- */

START_TEST(gauge_inc_dec_set)
{
    fastprom_series_t *g = make(fp, FASTPROM_GAUGE, "g", 0, NULL, 0);
    ck_assert_double_eq(value_of("g"), 0);
    fastprom_set(g, 10), fastprom_inc(g, 2.5), fastprom_dec(g, 0.5);
    ck_assert_double_eq(value_of("g"), 12);
    fastprom_dec(g, -1), fastprom_inc(g, -3);
    ck_assert_double_eq(value_of("g"), 10);
    fastprom_set(g, -3.25);
    ck_assert_double_eq(value_of("g"), -3.25);
    fastprom_set(g, INFINITY);
    ck_assert(isinf(value_of("g")) && value_of("g") > 0);
    fastprom_set(g, NAN);
    ck_assert(isnan(value_of("g")));
    fastprom_set(g, 1e-300);
    ck_assert_double_eq(value_of("g"), 1e-300);
}
END_TEST

static void pause_a_little(void)
{
    nanosleep(&(struct timespec){0, 2000000}, NULL);
}

/* Two attachments in one process write two per-writer values, which each
 * mode combines as documented. */
START_TEST(gauge_modes_combine_two_writers)
{
    const char *path;
    fastprom_t *one = open_tmp_segment(0, &path);
    fastprom_options_t opt = {.path = path};
    fastprom_t *two = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(two);
    static const struct {
        fastprom_gauge_mode_t mode;
        const char *name;
        double want;
    } modes[] = {
        {FASTPROM_GAUGE_LIVESUM, "livesum", 7},
        {FASTPROM_GAUGE_SUM, "sum", 7},
        {FASTPROM_GAUGE_MAX, "max", 4},
        {FASTPROM_GAUGE_LIVEMAX, "livemax", 4},
        {FASTPROM_GAUGE_MIN, "min", 3},
        {FASTPROM_GAUGE_LIVEMIN, "livemin", 3},
        {FASTPROM_GAUGE_MOSTRECENT, "mostrecent", 3},
        {FASTPROM_GAUGE_LIVEMOSTRECENT, "livemostrecent", 3},
    };
    for (size_t i = 0; i < N(modes); i++) {
        /* the second writer writes first: mostrecent must follow time, not
         * the order of the writers */
        ck_assert_int_eq(fastprom_set(make_gauge(two, modes[i].name, modes[i].mode), 4), 0);
        pause_a_little();
        ck_assert_int_eq(fastprom_set(make_gauge(one, modes[i].name, modes[i].mode), 3), 0);
    }
    for (size_t i = 0; i < N(modes); i++) {
        json_t *s = rendered(one, modes[i].name);
        ck_assert_msg(json_member_number(s, "value") == modes[i].want, "%s: got %g, want %g", modes[i].name,
                      json_member_number(s, "value"), modes[i].want);
        ck_assert_str_eq(json_string_value(json_object_get(json_family(root, modes[i].name), "gauge_mode")),
                         modes[i].name);
    }
    fastprom_close(two);
    fastprom_close(one);
}
END_TEST

START_TEST(gauge_mostrecent_follows_the_latest_write_of_any_writer)
{
    const char *path;
    fastprom_t *one = open_tmp_segment(0, &path);
    fastprom_options_t opt = {.path = path};
    fastprom_t *two = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(two);
    fastprom_series_t *a = make_gauge(one, "temp", FASTPROM_GAUGE_MOSTRECENT);
    fastprom_series_t *b = make_gauge(two, "temp", FASTPROM_GAUGE_MOSTRECENT);
    fastprom_set(a, 1);
    pause_a_little();
    fastprom_set(b, 2);
    ck_assert_double_eq(json_member_number(rendered(one, "temp"), "value"), 2);
    pause_a_little();
    fastprom_set(a, 3);
    ck_assert_double_eq(json_member_number(rendered(one, "temp"), "value"), 3);
    pause_a_little();
    fastprom_inc(b, 10); /* an add stamps the time too */
    ck_assert_double_eq(json_member_number(rendered(one, "temp"), "value"), 12);
    pause_a_little();
    fastprom_dec(a, 1);
    ck_assert_double_eq(json_member_number(rendered(two, "temp"), "value"), 2);
    fastprom_close(two);
    fastprom_close(one);
}
END_TEST

START_TEST(gauge_all_modes_label_the_value_with_the_pid)
{
    fastprom_series_t *all = make_gauge(fp, "all", FASTPROM_GAUGE_ALL);
    fastprom_series_t *live = make_gauge(fp, "liveall", FASTPROM_GAUGE_LIVEALL);
    fastprom_set(all, 5), fastprom_set(live, 6);
    char pid[16];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    json_t *s = rendered(fp, "all");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "labels"), "pid")), pid);
    ck_assert_double_eq(json_member_number(s, "value"), 5);
    s = rendered(fp, "liveall");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "labels"), "pid")), pid);
    ck_assert_double_eq(json_member_number(s, "value"), 6);
}
END_TEST

/* ---- histograms ----------------------------------------------------------------- */

/* The rendered cumulative bucket counts of the family's series. */
static void rendered_buckets(const char *family, uint64_t *cumulative, size_t n, double *count, double *sum)
{
    json_t *s = rendered(fp, family);
    json_t *b = json_object_get(s, "buckets");
    ck_assert_uint_eq(json_array_size(b), n);
    for (size_t i = 0; i < n; i++)
        cumulative[i] = (uint64_t)json_member_number(json_array_get(b, i), "count");
    *count = json_member_number(s, "count");
    *sum = json_member_number(s, "sum");
}

START_TEST(histogram_value_on_a_bound_lands_in_that_bucket)
{
    const double b[] = {1, 2, 5};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "h", 0, b, 3);
    const double obs[] = {1, 2, 5, nextafter(1, 2), 0.5, -10, nextafter(5, 6), 1e300, nextafter(1, 0)};
    double sum = 0;
    for (size_t i = 0; i < N(obs); i++) {
        ck_assert_int_eq(fastprom_observe(h, obs[i]), 0);
        sum += obs[i];
    }
    uint64_t got[4];
    double count, got_sum;
    rendered_buckets("h", got, 4, &count, &got_sum);
    /* le=1: 1, 0.5, -10, 1-ulp; le=2: + 2, 1+ulp; le=5: + 5; +Inf: + 5+ulp, 1e300 */
    ck_assert_uint_eq(got[0], 4);
    ck_assert_uint_eq(got[1], 6);
    ck_assert_uint_eq(got[2], 7);
    ck_assert_uint_eq(got[3], 9);
    ck_assert_double_eq(count, 9);
    ck_assert_double_eq(got_sum, sum);
}
END_TEST

START_TEST(histogram_nan_and_infinities_land_at_the_ends)
{
    const double b[] = {1, 2, 5};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "h", 0, b, 3);
    fastprom_observe(h, NAN), fastprom_observe(h, INFINITY), fastprom_observe(h, -INFINITY);
    uint64_t got[4];
    double count, sum;
    rendered_buckets("h", got, 4, &count, &sum);
    ck_assert_uint_eq(got[0], 1);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[2], 1);
    ck_assert_uint_eq(got[3], 3);
    ck_assert_double_eq(count, 3);
    ck_assert(isnan(sum));
}
END_TEST

START_TEST(histogram_text_buckets_are_cumulative_and_inf_equals_count)
{
    const double b[] = {0.1, 1};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "rt", 0, b, 2);
    fastprom_observe(h, 0.05), fastprom_observe(h, 0.5), fastprom_observe(h, 0.5), fastprom_observe(h, 3);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE rt histogram\n"
                           "rt_bucket{le=\"0.1\"} 1\n"
                           "rt_bucket{le=\"1.0\"} 3\n"
                           "rt_bucket{le=\"+Inf\"} 4\n"
                           "rt_sum 4.05\n"
                           "rt_count 4\n");
    free(text);
}
END_TEST

/* The first bound >= v, as fastprom.h defines buckets; NaN goes to +Inf. */
static size_t reference_bucket(const double *b, size_t n, double v)
{
    for (size_t i = 0; i < n; i++)
        if (v <= b[i])
            return i;
    return n;
}

/* Bucket counts for bounds lists short enough for the linear search and
 * long enough for the binary one, on values at, just below and just above
 * every bound. */
START_TEST(linear_and_binary_bucket_search_agree_with_the_definition)
{
    const size_t sizes[] = {1, 2, 15, 16, 17, 18, 33, 63, FASTPROM_MAX_BUCKETS};
    for (size_t k = 0; k < N(sizes); k++) {
        size_t n = sizes[k];
        double b[FASTPROM_MAX_BUCKETS];
        for (size_t i = 0; i < n; i++)
            b[i] = (double)i * 1.5 - 7.25;
        char name[32];
        snprintf(name, sizeof name, "h%zu", n);
        fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, name, 0, b, n);
        uint64_t want[FASTPROM_MAX_BUCKETS + 1] = {0};
        double values[3 * FASTPROM_MAX_BUCKETS + 4];
        size_t nv = 0;
        for (size_t i = 0; i < n; i++) {
            values[nv++] = b[i];
            values[nv++] = nextafter(b[i], -INFINITY);
            values[nv++] = nextafter(b[i], INFINITY);
        }
        values[nv++] = -INFINITY, values[nv++] = INFINITY, values[nv++] = NAN, values[nv++] = 1e9;
        for (size_t i = 0; i < nv; i++) {
            ck_assert_int_eq(fastprom_observe(h, values[i]), 0);
            want[reference_bucket(b, n, values[i])]++;
        }
        uint64_t got[FASTPROM_MAX_BUCKETS + 1];
        double count, sum;
        rendered_buckets(name, got, n + 1, &count, &sum);
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= n; i++) {
            cumulative += want[i];
            ck_assert_msg(got[i] == cumulative, "%zu bounds, bucket %zu: got %llu, want %llu", n, i,
                          (unsigned long long)got[i], (unsigned long long)cumulative);
        }
        ck_assert_double_eq(count, (double)nv);
    }
}
END_TEST

/* ---- summaries --------------------------------------------------------------------- */

START_TEST(summary_count_and_sum_are_exact)
{
    fastprom_series_t *s = make(fp, FASTPROM_SUMMARY, "s", 0, NULL, 0);
    const double q[] = {0.5, 0.9};
    fastprom_series_t *sq = make(fp, FASTPROM_SUMMARY, "sq", 0, q, 2);
    for (int i = 1; i <= 100; i++) {
        ck_assert_int_eq(fastprom_observe(s, i), 0);
        ck_assert_int_eq(fastprom_observe(sq, i), 0);
    }
    fastprom_observe(s, -0.5), fastprom_observe(s, 0.25);
    json_t *r = rendered(fp, "s");
    ck_assert_double_eq(json_member_number(r, "count"), 102);
    ck_assert_double_eq(json_member_number(r, "sum"), 5049.75);
    ck_assert_uint_eq(json_array_size(json_object_get(r, "quantiles")), 0);
    r = rendered(fp, "sq");
    ck_assert_double_eq(json_member_number(r, "count"), 100);
    ck_assert_double_eq(json_member_number(r, "sum"), 5050);
    json_t *qs = json_object_get(r, "quantiles");
    ck_assert_uint_eq(json_array_size(qs), 2);
    /* rank floor(q * (n - 1)): the 50th and 90th observations */
    ck_assert_double_le(fabs(json_member_number(json_array_get(qs, 0), "value") / 50 - 1), 0.01);
    ck_assert_double_le(fabs(json_member_number(json_array_get(qs, 1), "value") / 90 - 1), 0.01);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE s summary\ns_sum 5049.75\ns_count 102\n"));
    free(text);
}
END_TEST

/* ---- a full segment ------------------------------------------------------------------- */

/* A series' first update claims its cells; with no room left it goes to the
 * series' shared fallback cells (counted in fallback_updates, never
 * dropped). The thread's table of cells may have grown during that refused
 * claim: the thread's other series must keep updating their own cells. 1000
 * counters with 216-byte cells (exemplars) overflow a minimal segment's
 * blocks long before id 512, whose refused claim grows the table. */
START_TEST(refused_first_update_keeps_the_threads_other_cells)
{
    fastprom_family_def_t d = {.type = FASTPROM_COUNTER,
                               .name = "c",
                               .label_names = (const char *const[]){"k"},
                               .nlabels = 1,
                               .flags = FASTPROM_EXEMPLARS};
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    ck_assert_ptr_nonnull(f);
    enum { SERIES = 1000 };
    static fastprom_series_t *s[SERIES];
    for (int i = 0; i < SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "%03d", i);
        s[i] = fastprom_series(f, (const char *const[]){v}, NULL, &err);
        ck_assert_msg(s[i] != NULL, "%s", err.text);
    }
    for (int i = 0; i < SERIES; i++)
        ck_assert_int_eq(fastprom_inc(s[i], 1), 0);
    /* Once the blocks ran out, every later series' first update was refused
     * its own cells. */
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, &err), 0);
    int first_refused = SERIES - (int)st.fallback_updates;
    ck_assert_int_gt(first_refused, 0);
    ck_assert_int_lt(first_refused, 500); /* so id 512 grows the table in a refused claim */
    for (int i = 0; i < SERIES; i++)
        ck_assert_int_eq(fastprom_inc(s[i], 1), 0);
    json_decref(root);
    root = render_json(fp);
    json_t *fam = json_family(root, "c");
    for (int i = 0; i < SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "%03d", i);
        ck_assert_double_eq(json_member_number(json_series(fam, 1, "k", v), "value"), 2);
    }
    /* Series with cells of their own kept using them. */
    ck_assert_int_eq(fastprom_stat(fp, &st, &err), 0);
    ck_assert_uint_eq(st.fallback_updates, 2 * (uint64_t)(SERIES - first_refused));
    ck_assert_uint_eq(st.dropped_updates, 0);
}
END_TEST

/* ---- exemplars ------------------------------------------------------------------------ */

START_TEST(counter_exemplar_follows_the_total_in_openmetrics_only)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", FASTPROM_EXEMPLARS, NULL, 0);
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    ck_assert_int_eq(fastprom_inc_exemplar(c, 2, ex, 1, 1700000000.5), 0);
    char *om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_str_eq(om, "# TYPE c counter\nc_total 2 # {trace_id=\"abc\"} 2 1700000000.5\n# EOF\n");
    free(om);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE c_total counter\nc_total 2\n");
    free(text);
    const fastprom_label_t later[] = {{"trace_id", "def"}, {"span", "1"}};
    ck_assert_int_eq(fastprom_inc_exemplar(c, 0.5, later, 2, 1700000001), 0);
    om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_str_eq(om, "# TYPE c counter\nc_total 2.5 # {trace_id=\"def\",span=\"1\"} 0.5 1700000001\n# EOF\n");
    free(om);
}
END_TEST

START_TEST(histogram_exemplar_sits_on_the_observations_bucket)
{
    const double b[] = {1, 2, 5};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "h", FASTPROM_EXEMPLARS, b, 3);
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    ck_assert_int_eq(fastprom_observe_exemplar(h, 1.5, ex, 1, 1700000000), 0);
    ck_assert_int_eq(fastprom_observe(h, 0.5), 0);
    const fastprom_label_t top[] = {{"trace_id", "big"}};
    ck_assert_int_eq(fastprom_observe_exemplar(h, 7, top, 1, 1700000002.25), 0);
    char *om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_str_eq(om, "# TYPE h histogram\n"
                         "h_bucket{le=\"1.0\"} 1\n"
                         "h_bucket{le=\"2.0\"} 2 # {trace_id=\"abc\"} 1.5 1700000000\n"
                         "h_bucket{le=\"5.0\"} 2\n"
                         "h_bucket{le=\"+Inf\"} 3 # {trace_id=\"big\"} 7 1700000002.25\n"
                         "h_sum 9\n"
                         "h_count 3\n"
                         "# EOF\n");
    free(om);
}
END_TEST

START_TEST(exemplar_timestamp_zero_means_now)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", FASTPROM_EXEMPLARS, NULL, 0);
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    double before = (double)time(NULL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, ex, 1, 0), 0);
    double after = (double)time(NULL) + 1;
    double ts = json_member_number(json_object_get(rendered(fp, "c"), "exemplar"), "timestamp");
    ck_assert_double_ge(ts, before);
    ck_assert_double_le(ts, after);
}
END_TEST

/* A bad exemplar is refused, but the update it came with was valid and is
 * applied. */
START_TEST(bad_exemplar_is_refused_and_the_update_still_applied)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", FASTPROM_EXEMPLARS, NULL, 0);
    const double b[] = {1};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "h", FASTPROM_EXEMPLARS, b, 1);
    char v120[121], v121[122];
    memset(v120, 'v', 120), v120[120] = '\0';
    memset(v121, 'v', 121), v121[121] = '\0';
    const fastprom_label_t exactly_128[] = {{"trace_id", v120}}, too_long[] = {{"trace_id", v121}},
                           too_long_together[] = {{"trace_id", v120}, {"a", "b"}}, bad_name[] = {{"trace-id", "x"}},
                           bad_value[] = {{"trace_id", "\xff"}}, null_value[] = {{"trace_id", NULL}};
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, exactly_128, 1, 5), 0);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, too_long, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, too_long_together, 2, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, bad_name, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, bad_value, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, null_value, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, 1, NULL, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(h, 0.5, too_long, 1, 6), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(h, 0.5, bad_value, 1, 6), FASTPROM_EINVAL);
    json_t *s = rendered(fp, "c");
    ck_assert_double_eq(json_member_number(s, "value"), 7);
    json_t *ex = json_object_get(s, "exemplar");
    ck_assert_double_eq(json_member_number(ex, "timestamp"), 5); /* the last good one stays */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ex, "labels"), "trace_id")), v120);
    s = rendered(fp, "h");
    ck_assert_double_eq(json_member_number(s, "count"), 2);
    ck_assert_ptr_null(json_object_get(json_array_get(json_object_get(s, "buckets"), 0), "exemplar"));
}
END_TEST

START_TEST(exemplar_on_a_family_without_the_flag_is_einval_and_the_update_applied)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", 0, NULL, 0);
    const double b[] = {1};
    fastprom_series_t *h = make(fp, FASTPROM_HISTOGRAM, "h", 0, b, 1);
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    ck_assert_int_eq(fastprom_inc_exemplar(c, 2, ex, 1, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_observe_exemplar(h, 0.5, ex, 1, 1), FASTPROM_EINVAL);
    ck_assert_double_eq(value_of("c"), 2);
    ck_assert_ptr_null(json_object_get(rendered(fp, "c"), "exemplar"));
    ck_assert_double_eq(json_member_number(rendered(fp, "h"), "count"), 1);
    char *om = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_ptr_null(strstr(om, " # {"));
    free(om);
}
END_TEST

START_TEST(refused_counter_exemplar_increment_records_nothing)
{
    fastprom_series_t *c = make(fp, FASTPROM_COUNTER, "c", FASTPROM_EXEMPLARS, NULL, 0);
    const fastprom_label_t ex[] = {{"trace_id", "abc"}};
    ck_assert_int_eq(fastprom_inc_exemplar(c, -1, ex, 1, 1), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_inc_exemplar(c, NAN, ex, 1, 1), FASTPROM_EINVAL);
    json_t *s = rendered(fp, "c");
    ck_assert_double_eq(json_member_number(s, "value"), 0);
    ck_assert_ptr_null(json_object_get(s, "exemplar"));
}
END_TEST

static Suite *update_suite(void)
{
    Suite *s = suite_create("update");
    TCase *tc = tcase_create("counter");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counter_adds_ones_and_integral_amounts_exactly);
    tcase_add_test(tc, counter_integral_increments_stay_exact_past_2_pow_53);
    tcase_add_test(tc, counter_adds_fractional_and_mixed_amounts);
    tcase_add_test(tc, counter_adds_huge_integral_amounts);
    tcase_add_test(tc, counter_refuses_negative_and_nan_increments_and_records_nothing);
    tcase_add_test(tc, each_operation_refuses_types_it_does_not_apply_to);
    tcase_add_test(tc, every_operation_refuses_a_null_series);
    tcase_add_test(tc, update_ready_is_false_until_the_threads_first_update);
    suite_add_tcase(s, tc);

    tc = tcase_create("gauge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, gauge_inc_dec_set);
    tcase_add_test(tc, gauge_modes_combine_two_writers);
    tcase_add_test(tc, gauge_mostrecent_follows_the_latest_write_of_any_writer);
    tcase_add_test(tc, gauge_all_modes_label_the_value_with_the_pid);
    suite_add_tcase(s, tc);

    tc = tcase_create("histogram_summary");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, histogram_value_on_a_bound_lands_in_that_bucket);
    tcase_add_test(tc, histogram_nan_and_infinities_land_at_the_ends);
    tcase_add_test(tc, histogram_text_buckets_are_cumulative_and_inf_equals_count);
    tcase_add_test(tc, linear_and_binary_bucket_search_agree_with_the_definition);
    tcase_add_test(tc, summary_count_and_sum_are_exact);
    suite_add_tcase(s, tc);

    tc = tcase_create("full");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* 1,000 series looked up in the JSON view: seconds under ASan on a busy host */
    tcase_add_test(tc, refused_first_update_keeps_the_threads_other_cells);
    suite_add_tcase(s, tc);

    tc = tcase_create("exemplars");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, counter_exemplar_follows_the_total_in_openmetrics_only);
    tcase_add_test(tc, histogram_exemplar_sits_on_the_observations_bucket);
    tcase_add_test(tc, exemplar_timestamp_zero_means_now);
    tcase_add_test(tc, bad_exemplar_is_refused_and_the_update_still_applied);
    tcase_add_test(tc, exemplar_on_a_family_without_the_flag_is_einval_and_the_update_applied);
    tcase_add_test(tc, refused_counter_exemplar_increment_records_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(update_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
