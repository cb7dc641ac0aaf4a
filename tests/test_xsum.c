/*
 * test_xsum.c - exact fixed-point sums of doubles (src/xsum.c): rounded once,
 * to the same bits in any order, equal to an independently computed
 * correctly rounded sum, monotone; values out of its range still show.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "support.h"
#include "xsum.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random double of either sign with a random 53-bit mantissa and a binary
 * exponent in [lo, hi]. */
static double random_double(int lo, int hi)
{
    double m = (double)(next_u64() >> 11) / 9007199254740992.0 + 1.0;
    double v = ldexp(m, lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)));
    return next_u64() & 1 ? -v : v;
}

static double sum_of(const double *x, size_t n)
{
    struct fp_xsum s = {0};
    for (size_t i = 0; i < n; i++)
        fp_xsum_add(&s, x[i]);
    return fp_xsum_value(&s);
}

static void assert_same_bits(double got, double want, const char *what)
{
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "%s: got %a, want %a", what, got, want);
}

START_TEST(two_terms_round_like_one_ieee_addition)
{
    for (int i = 0; i < 200000; i++) {
        double x[2] = {random_double(-74, 98), random_double(-74, 98)};
        if (i % 3 == 0) /* close exponents (still >= 2^-76): cancellation, carries */
            x[1] = ldexp(x[1], ilogb(x[0]) - ilogb(x[1]) - (int)(next_u64() % 3));
        assert_same_bits(sum_of(x, 2), x[0] + x[1], "a + b");
    }
}
END_TEST

START_TEST(any_order_gives_the_exact_sum)
{
    static const double awkward[] = {0.1, 1e-3, 1.0 / 3, 1e15 + 0.5, -0.3, 2.5e-7, 0.0625, -1e15, 7, 1e-20};
    double x[64];
    for (int round = 0; round < 2000; round++) {
        size_t n = 2 + next_u64() % 62;
        for (size_t i = 0; i < n; i++)
            x[i] = round % 2 ? awkward[next_u64() % 10] * (double)(1 + next_u64() % 1000)
                             : random_double(-60, 60 + round % 36);
        double want = exact_sum(x, n);
        for (int shuffle = 0; shuffle < 4; shuffle++) {
            assert_same_bits(sum_of(x, n), want, "shuffled sum");
            for (size_t i = n - 1; i > 0; i--) {
                size_t j = next_u64() % (i + 1);
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
            }
        }
    }
}
END_TEST

/* A tie at 53 bits is broken by what lies below it, however far below. */
START_TEST(a_tie_is_broken_by_the_lowest_bits)
{
    double two53 = 9007199254740992.0;
    assert_same_bits(sum_of((double[]){two53, 1}, 2), two53, "tie to even");
    assert_same_bits(sum_of((double[]){two53, 1, 0x1p-70}, 3), two53 + 2, "just above the tie");
    assert_same_bits(sum_of((double[]){two53, 1, -0x1p-70}, 3), two53, "just below the tie");
    assert_same_bits(sum_of((double[]){0x1p-70, two53, 3}, 3), two53 + 4, "above a tie");
    /* 1e15 + 0.5 + 0.0625 is halfway between two doubles. */
    assert_same_bits(sum_of((double[]){1e15 + 0.5, 0.0625}, 2), 1e15 + 0.5, "halfway, even");
    assert_same_bits(sum_of((double[]){1e15 + 0.5, 0.0625, 1e-19}, 3), 1e15 + 0.625, "past halfway");
}
END_TEST

/* Values below the last unit (2^-128) are rounded to it as they join, ties
 * to even: the same for every order. */
START_TEST(tiny_values_round_to_the_last_unit)
{
    assert_same_bits(sum_of((double[]){0x1p-128}, 1), 0x1p-128, "one unit");
    assert_same_bits(sum_of((double[]){0x1p-129}, 1), 0.0, "half a unit: even");
    assert_same_bits(sum_of((double[]){0x3p-129}, 1), 0x1p-127, "one and a half units: even");
    assert_same_bits(sum_of((double[]){0x1.8p-128, 0x1p-140}, 2), 0x1p-127, "1.5 units, then a sliver");
    assert_same_bits(sum_of((double[]){4.9e-324, 1e-310, -1e-300}, 3), 0.0, "subnormals and near them");
    assert_same_bits(sum_of((double[]){0x1.fffffffffffffp-76}, 1), 0x1.fffffffffffffp-76, "smallest exact, all bits");
    assert_same_bits(sum_of((double[]){0x1.fffffffffffffp-77}, 1), 0x1p-76, "one bit below the last unit");
    assert_same_bits(sum_of((double[]){-0.0, 0.0}, 2), 0.0, "zeros");
}
END_TEST

START_TEST(values_out_of_range_still_show)
{
    double big = 0x1p100;
    assert_same_bits(sum_of((double[]){big, 1}, 2), big + 1, "2^100 beside one");
    assert_same_bits(sum_of((double[]){0x1.fffffffffffffp99, 0x1.fffffffffffffp99}, 2), 0x1.fffffffffffffp100,
                     "the largest exact values, twice");
    ck_assert(isinf(sum_of((double[]){1, INFINITY}, 2)));
    ck_assert(sum_of((double[]){1, -INFINITY}, 2) < 0);
    ck_assert(isnan(sum_of((double[]){1, NAN, 2}, 3)));
    ck_assert(isnan(sum_of((double[]){INFINITY, -INFINITY}, 2)));
    assert_same_bits(sum_of((double[]){-1e30, 1e-3, -1e-3}, 3), -1e30, "large negative");
}
END_TEST

/* Growing any one term never lowers the rounded sum. */
START_TEST(a_growing_term_never_lowers_the_sum)
{
    double x[16];
    for (int round = 0; round < 20000; round++) {
        size_t n = 2 + next_u64() % 14;
        for (size_t i = 0; i < n; i++)
            x[i] = fabs(random_double(-40, 50));
        size_t k = next_u64() % n;
        double before = sum_of(x, n);
        x[k] = nextafter(x[k], INFINITY);
        double after = sum_of(x, n);
        ck_assert_msg(after >= before, "%a -> %a", before, after);
    }
}
END_TEST

/* Sums kept as words (the retained totals) add up like their terms. */
START_TEST(fixed_words_and_integers_add_exactly)
{
    double x[40];
    for (int round = 0; round < 2000; round++) {
        struct fp_xsum a = {0}, b = {0}, all = {0};
        for (int i = 0; i < 40; i++) {
            x[i] = random_double(-70, 70);
            fp_xsum_add(i < 20 ? &a : &b, x[i]);
            fp_xsum_add(&all, x[i]);
        }
        fp_xsum_add_fixed(&a, b.w);
        assert_same_bits(fp_xsum_value(&a), fp_xsum_value(&all), "merged words");
        assert_same_bits(fp_xsum_value(&a), exact_sum(x, 40), "merged words, exact");
    }
    struct fp_xsum c = {0};
    fp_xsum_add_u64(&c, UINT64_MAX);
    fp_xsum_add(&c, 0.5);
    assert_same_bits(fp_xsum_value(&c), 0x1p64, "2^64 - 0.5");
    fp_xsum_add_u64(&c, UINT64_MAX);
    assert_same_bits(fp_xsum_value(&c), 0x1p65, "carried into the top word");
}
END_TEST

START_TEST(a_total_past_2_120_moves_to_floating_point)
{
    struct fp_xsum s = {0};
    for (int i = 0; i < 1 << 20; i++)
        fp_xsum_add(&s, 0x1.fp99);
    double before = fp_xsum_value(&s);
    fp_xsum_bound(&s);
    ck_assert_double_eq(s.wide, 0);
    for (int i = 0; i < 1 << 20; i++)
        fp_xsum_add(&s, 0x1.fp99);
    fp_xsum_bound(&s);
    ck_assert_double_ne(s.wide, 0);
    ck_assert_uint_eq(s.w[0] | s.w[1] | s.w[2] | s.w[3], 0);
    ck_assert_double_eq_tol(fp_xsum_value(&s), 2 * before, before * 1e-15);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xsum");
    TCase *t = tcase_create("xsum");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, two_terms_round_like_one_ieee_addition);
    tcase_add_test(t, any_order_gives_the_exact_sum);
    tcase_add_test(t, a_tie_is_broken_by_the_lowest_bits);
    tcase_add_test(t, tiny_values_round_to_the_last_unit);
    tcase_add_test(t, values_out_of_range_still_show);
    tcase_add_test(t, a_growing_term_never_lowers_the_sum);
    tcase_add_test(t, fixed_words_and_integers_add_exactly);
    tcase_add_test(t, a_total_past_2_120_moves_to_floating_point);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
