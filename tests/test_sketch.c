/*
 * test_sketch.c - the summary sketch against its promises in sketch.h:
 * bucket index monotonic and log-spaced by gamma, quantiles within 1% of the
 * exact observation at rank floor(q * (n - 1)) on several distributions,
 * merging equal to sketching the concatenated data, below-range values
 * reported via the minimum, counts that saturate instead of wrapping, NaN
 * when empty; and the same accuracy end to end through a summary.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "writer.h"
#include "sketch.h"
#include "support.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define SAMPLES 100000

static const double quantiles[] = {0.01, 0.1, 0.5, 0.9, 0.99, 0.999};

/* ---- deterministic samples ------------------------------------------------- */

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double uniform(void)
{
    return ((double)(next_u64() >> 11) + 1.0) * 0x1p-53;
}

static double normal(void)
{
    return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

enum dist { UNIFORM, LOGNORMAL, EXPONENTIAL, BIMODAL };
static const char *const dist_names[] = {"uniform", "log-normal", "exponential", "bimodal"};

static double draw(enum dist d)
{
    switch (d) {
    case UNIFORM: return uniform() * 1000;
    case LOGNORMAL: return exp(normal() * 2);
    case EXPONENTIAL: return -log(uniform()) * 0.25;
    default: return uniform() < 0.7 ? fabs(0.005 + 0.001 * normal()) + 1e-6 : 30 + 3 * normal();
    }
}

static double *samples(enum dist d, size_t n)
{
    rng_state = 42 + (uint64_t)d;
    double *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++)
        v[i] = draw(d);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double exact_quantile(const double *sorted, size_t n, double q)
{
    return sorted[(size_t)floor(q * (double)(n - 1))];
}

/* ---- sketches built as a writer builds them ---------------------------------- */

/* What a writer does per observation, following the contract of sketch.h. */
static void add(struct fp_sketch *s, double v)
{
    int i = fp_sketch_index(v);
    if (i < 0)
        s->below++;
    else if (s->counts[i] != UINT32_MAX)
        s->counts[i]++;
    if (v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
}

static struct fp_sketch *new_sketch(void)
{
    fp_sketch_init();
    struct fp_sketch *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    fp_sketch_reset(s);
    return s;
}

static struct fp_sketch_merged *new_merged(void)
{
    struct fp_sketch_merged *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    m->min = INFINITY;
    m->max = -INFINITY;
    return m;
}

static struct fp_sketch_merged *sketch_of(const double *v, size_t n)
{
    struct fp_sketch *s = new_sketch();
    for (size_t i = 0; i < n; i++)
        add(s, v[i]);
    struct fp_sketch_merged *m = new_merged();
    fp_sketch_merge(m, s);
    free(s);
    return m;
}

/* ---- the index ------------------------------------------------------------------- */

START_TEST(index_is_monotonic_over_ascending_values)
{
    fp_sketch_init();
    int last = -1;
    /* (plain ifs: a check assertion per value would dominate the run time) */
    for (double v = 1e-10; v < 1e10; v *= 1.0001) {
        int i = fp_sketch_index(v);
        if (i < last)
            ck_abort_msg("index(%.17g) = %d after %d", v, i, last);
        last = i;
        /* and across the two neighbouring doubles */
        if (fp_sketch_index(nextafter(v, 0)) > i || fp_sketch_index(nextafter(v, INFINITY)) < i)
            ck_abort_msg("index is not monotonic around %.17g", v);
    }
    ck_assert_int_eq(last, FP_SKETCH_BUCKETS - 1);
}
END_TEST

/* Bucket i holds [1e-9 * gamma^i, 1e-9 * gamma^(i+1)), give or take the
 * table's tiny interpolation error at the edges. */
START_TEST(index_is_log_spaced_by_gamma)
{
    fp_sketch_init();
    for (double v = FP_SKETCH_MIN; v < 3e8; v *= 1.000731) {
        double exact = log(v / FP_SKETCH_MIN) / log(FP_SKETCH_GAMMA);
        int i = fp_sketch_index(v);
        if (fabs(i - floor(exact)) > (fabs(exact - nearbyint(exact)) < 1e-4 ? 1 : 0))
            ck_abort_msg("index(%.17g) = %d, log_gamma says %.6f", v, i, exact);
    }
}
END_TEST

START_TEST(index_of_out_of_range_values)
{
    fp_sketch_init();
    const double below[] = {0.0, -0.0, -1, -INFINITY, NAN, 1e-10, nextafter(FP_SKETCH_MIN, 0), 4.9e-324};
    for (size_t i = 0; i < N(below); i++)
        ck_assert_int_eq(fp_sketch_index(below[i]), -1);
    ck_assert_int_eq(fp_sketch_index(FP_SKETCH_MIN), 0);
    const double top[] = {1e9, 1e300, 1.7976931348623157e308, INFINITY};
    for (size_t i = 0; i < N(top); i++)
        ck_assert_int_eq(fp_sketch_index(top[i]), FP_SKETCH_BUCKETS - 1);
}
END_TEST

/* ---- quantiles ---------------------------------------------------------------------- */

static void check_accuracy(enum dist d)
{
    double *v = samples(d, SAMPLES);
    struct fp_sketch_merged *m = sketch_of(v, SAMPLES);
    qsort(v, SAMPLES, sizeof *v, cmp_double);
    for (size_t i = 0; i < N(quantiles); i++) {
        double want = exact_quantile(v, SAMPLES, quantiles[i]);
        double got = fp_sketch_quantile(m, quantiles[i]);
        ck_assert_msg(fabs(got - want) <= 0.01 * want, "%s q=%g: got %.17g, exact %.17g", dist_names[d], quantiles[i],
                      got, want);
    }
    /* the extremes: within 1% too, and never outside the observed range */
    ck_assert_double_le(fabs(fp_sketch_quantile(m, 0) / v[0] - 1), 0.01);
    ck_assert_double_ge(fp_sketch_quantile(m, 0), v[0]);
    ck_assert_double_le(fabs(fp_sketch_quantile(m, 1) / v[SAMPLES - 1] - 1), 0.01);
    ck_assert_double_le(fp_sketch_quantile(m, 1), v[SAMPLES - 1]);
    free(m);
    free(v);
}

START_TEST(quantiles_within_one_percent_uniform)
{
    check_accuracy(UNIFORM);
}
END_TEST
START_TEST(quantiles_within_one_percent_lognormal)
{
    check_accuracy(LOGNORMAL);
}
END_TEST
START_TEST(quantiles_within_one_percent_exponential)
{
    check_accuracy(EXPONENTIAL);
}
END_TEST
START_TEST(quantiles_within_one_percent_bimodal)
{
    check_accuracy(BIMODAL);
}
END_TEST

START_TEST(merged_sketches_equal_the_sketch_of_the_concatenation)
{
    double *v = samples(LOGNORMAL, SAMPLES);
    struct fp_sketch_merged *whole = sketch_of(v, SAMPLES);
    /* Uneven parts, one of them empty, as writers of a real segment are. */
    const size_t cuts[] = {0, 7, 7, 40000, 99999, SAMPLES};
    struct fp_sketch_merged *parts = new_merged();
    for (size_t k = 0; k + 1 < N(cuts); k++) {
        struct fp_sketch *s = new_sketch();
        for (size_t i = cuts[k]; i < cuts[k + 1]; i++)
            add(s, v[i]);
        fp_sketch_merge(parts, s);
        free(s);
    }
    ck_assert_double_eq(parts->min, whole->min);
    ck_assert_double_eq(parts->max, whole->max);
    ck_assert_uint_eq(parts->below, whole->below);
    ck_assert(memcmp(parts->counts, whole->counts, sizeof parts->counts) == 0);
    for (size_t i = 0; i < N(quantiles); i++)
        ck_assert_double_eq(fp_sketch_quantile(parts, quantiles[i]), fp_sketch_quantile(whole, quantiles[i]));
    free(parts);
    free(whole);
    free(v);
}
END_TEST

START_TEST(below_range_values_are_reported_via_the_minimum)
{
    const double v[] = {-5, 0, 1e-12, -0.5, 3, 4};
    struct fp_sketch_merged *m = sketch_of(v, N(v));
    ck_assert_uint_eq(m->below, 4);
    /* ranks 0..3 are below the range: the exact minimum stands for them */
    ck_assert_double_eq(fp_sketch_quantile(m, 0), -5);
    ck_assert_double_eq(fp_sketch_quantile(m, 0.5), -5);                 /* rank 2 */
    ck_assert_double_eq(fp_sketch_quantile(m, 0.6), -5);                 /* rank 3 */
    ck_assert_double_le(fabs(fp_sketch_quantile(m, 0.8) / 3 - 1), 0.01); /* rank 4 */
    ck_assert_double_eq(fp_sketch_quantile(m, 1), 4);
    free(m);
    const double negative[] = {-3, -2, -1};
    m = sketch_of(negative, N(negative));
    for (size_t i = 0; i < N(quantiles); i++)
        ck_assert_double_eq(fp_sketch_quantile(m, quantiles[i]), -3);
    free(m);
}
END_TEST

/* Answers are clamped to the exact extremes: one value is reported exactly,
 * and values above the range report the exact maximum. */
START_TEST(answers_are_clamped_to_the_exact_minimum_and_maximum)
{
    const double one[] = {0.123456789};
    struct fp_sketch_merged *m = sketch_of(one, 1);
    for (size_t i = 0; i < N(quantiles); i++)
        ck_assert_double_eq(fp_sketch_quantile(m, quantiles[i]), 0.123456789);
    free(m);
    const double huge[] = {1, 2e12, 3e12};
    m = sketch_of(huge, N(huge));
    ck_assert_double_eq(fp_sketch_quantile(m, 1), 3e12);
    ck_assert_double_eq(fp_sketch_quantile(m, 0.5), 3e12); /* 2e12 is above the range too */
    free(m);
}
END_TEST

START_TEST(empty_sketch_and_bad_q_give_nan)
{
    struct fp_sketch_merged *m = new_merged();
    for (size_t i = 0; i < N(quantiles); i++)
        ck_assert(isnan(fp_sketch_quantile(m, quantiles[i])));
    const double v[] = {1};
    free(m);
    m = sketch_of(v, 1);
    ck_assert(isnan(fp_sketch_quantile(m, -0.1)));
    ck_assert(isnan(fp_sketch_quantile(m, 1.1)));
    ck_assert(isnan(fp_sketch_quantile(m, NAN)));
    free(m);
}
END_TEST

START_TEST(merging_saturated_counts_does_not_wrap)
{
    fp_sketch_init();
    struct fp_sketch *s = new_sketch();
    int i = fp_sketch_index(1.0);
    s->counts[i] = UINT32_MAX;
    s->min = s->max = 1.0;
    struct fp_sketch_merged *m = new_merged();
    fp_sketch_merge(m, s);
    fp_sketch_merge(m, s);
    ck_assert_uint_eq(m->counts[i], 2ull * UINT32_MAX);
    ck_assert_double_eq(fp_sketch_quantile(m, 0.5), 1.0);
    free(m);
    free(s);
}
END_TEST

/* ---- through a summary in a segment -------------------------------------------------- */

static fastprom_series_t *summary(fastprom_t *fp, const char *name)
{
    fastprom_error_t err;
    fastprom_family_def_t d = {.type = FASTPROM_SUMMARY, .name = name, .buckets = quantiles, .nbuckets = N(quantiles)};
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    ck_assert_msg(f != NULL, "%s", err.text);
    return fastprom_series(f, NULL, NULL, &err);
}

static json_t *rendered_quantiles(fastprom_t *fp, const char *name, json_t **root)
{
    *root = render_json(fp);
    return json_object_get(json_array_get(json_object_get(json_family(*root, name), "series"), 0), "quantiles");
}

START_TEST(summary_quantiles_through_the_segment_within_one_percent)
{
    fastprom_error_t err;
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(fp);
    fastprom_series_t *s = summary(fp, "rt");
    double *v = samples(BIMODAL, SAMPLES);
    for (size_t i = 0; i < SAMPLES; i++)
        ck_assert_int_eq(fastprom_observe(s, v[i]), 0);
    qsort(v, SAMPLES, sizeof *v, cmp_double);
    json_t *root;
    json_t *qs = rendered_quantiles(fp, "rt", &root);
    ck_assert_uint_eq(json_array_size(qs), N(quantiles));
    for (size_t i = 0; i < N(quantiles); i++) {
        double want = exact_quantile(v, SAMPLES, quantiles[i]);
        double got = json_member_number(json_array_get(qs, i), "value");
        ck_assert_msg(fabs(got - want) <= 0.01 * want, "q=%g: got %.17g, exact %.17g", quantiles[i], got, want);
    }
    json_decref(root);
    free(v);
    fastprom_close(fp);
}
END_TEST

START_TEST(summary_without_observations_renders_nan_quantiles)
{
    fastprom_error_t err;
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(fp);
    summary(fp, "rt");
    json_t *root;
    json_t *qs = rendered_quantiles(fp, "rt", &root);
    ck_assert_uint_eq(json_array_size(qs), N(quantiles));
    for (size_t i = 0; i < N(quantiles); i++)
        ck_assert(isnan(json_member_number(json_array_get(qs, i), "value")));
    json_decref(root);
    fastprom_close(fp);
}
END_TEST

/* The writer's own bucket count must stop at UINT32_MAX: the cell is set
 * just below it through the writer's cells, then observed past it. */
START_TEST(observe_saturates_a_bucket_at_uint32_max)
{
    fastprom_error_t err;
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(fp);
    fastprom_series_t *s = summary(fp, "rt");
    ck_assert_int_eq(fastprom_observe(s, 1.0), 0);
    const struct fp_tls_ent *e = &fp_tls->ent[s->attach];
    ck_assert_uint_lt(s->id, e->cap);
    struct fp_sketch *sk = (struct fp_sketch *)((unsigned char *)e->cells[s->id] + 16);
    int i = fp_sketch_index(1.0);
    ck_assert_uint_eq(sk->counts[i], 1);
    sk->counts[i] = UINT32_MAX - 1;
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(fastprom_observe(s, 1.0), 0);
    ck_assert_uint_eq(sk->counts[i], UINT32_MAX);
    json_t *root;
    json_t *qs = rendered_quantiles(fp, "rt", &root);
    ck_assert_double_eq(json_member_number(json_array_get(qs, 2), "value"), 1.0);
    json_decref(root);
    fastprom_close(fp);
}
END_TEST

static Suite *sketch_suite(void)
{
    Suite *s = suite_create("sketch");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, index_is_monotonic_over_ascending_values);
    tcase_add_test(tc, index_is_log_spaced_by_gamma);
    tcase_add_test(tc, index_of_out_of_range_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("quantiles");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, quantiles_within_one_percent_uniform);
    tcase_add_test(tc, quantiles_within_one_percent_lognormal);
    tcase_add_test(tc, quantiles_within_one_percent_exponential);
    tcase_add_test(tc, quantiles_within_one_percent_bimodal);
    tcase_add_test(tc, merged_sketches_equal_the_sketch_of_the_concatenation);
    tcase_add_test(tc, below_range_values_are_reported_via_the_minimum);
    tcase_add_test(tc, answers_are_clamped_to_the_exact_minimum_and_maximum);
    tcase_add_test(tc, empty_sketch_and_bad_q_give_nan);
    tcase_add_test(tc, merging_saturated_counts_does_not_wrap);
    suite_add_tcase(s, tc);

    tc = tcase_create("summary");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, summary_quantiles_through_the_segment_within_one_percent);
    tcase_add_test(tc, summary_without_observations_renders_nan_quantiles);
    tcase_add_test(tc, observe_saturates_a_bucket_at_uint32_max);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sketch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
