/*
 * test_fmt.c - the spec of src/fmt.c: shortest round-trip digits checked
 * against glibc's correctly rounded printf/strtod over ~2 million doubles
 * (random bit patterns, every exponent, subnormals, short decimals, powers
 * of ten, layout switch points), the le=""/quantile="" layout checked
 * against a line-by-line port of Python's repr + prometheus_client's
 * floatToGoString, and exact vectors produced by Python itself.
 *
 * FASTPROM_TEST_SCALE (a factor, default 1; 0.1 under ASan) scales the
 * random counts; FASTPROM_TEST_SEED changes the random seed.
 */
#include <check.h>
#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers ----------------------------------------------------------------- */

/* ck_assert records a checkpoint (a write to the parent) on every success:
 * far too slow for millions of values, so hot loops fail through this. */
#define expect(cond, ...)                                                                                              \
    do {                                                                                                               \
        if (!(cond))                                                                                                   \
            ck_abort_msg(__VA_ARGS__);                                                                                 \
    } while (0)

static long scaled(long n)
{
    const char *env = getenv("FASTPROM_TEST_SCALE");
    double scale = env && *env ? atof(env) : (UNDER_ASAN ? 0.1 : 1.0);
    long r = (long)(n * scale);
    return r > 0 ? r : 1;
}

static uint64_t rng_state;

static void rng_seed(uint64_t salt)
{
    const char *env = getenv("FASTPROM_TEST_SEED");
    rng_state = (env && *env ? strtoull(env, NULL, 0) : UINT64_C(0x5eed0f0f5eed)) ^ salt;
}

/* splitmix64: fast, and every bit pattern is reachable. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static int reads_back(const char *s, double v)
{
    return to_bits(strtod(s, NULL)) == to_bits(v);
}

static const uint64_t pow10_table[18] = {
    1,
    10,
    100,
    1000,
    10000,
    100000,
    1000000,
    10000000,
    100000000,
    1000000000,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
};

/*
 * Whether some decimal with at most m significant digits reads back as v
 * (v > 0). printf gives the nearest m-digit decimal d0; if any such
 * decimal reads back, the interval around v holds d0 or one of its two
 * neighbours (the interval is convex and d0 is the nearest). The property
 * only grows with m, so "true at n, false at n - 1" proves n minimal.
 */
static int some_decimal_reads_back(double v, int m)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", m - 1, v);
    if (reads_back(buf, v))
        return 1;
    uint64_t mant = 0;
    const char *p = buf;
    for (; *p != 'e'; p++)
        if (isdigit((unsigned char)*p))
            mant = mant * 10 + (uint64_t)(*p - '0');
    int unit = atoi(p + 1) - (m - 1);
    snprintf(buf, sizeof buf, "%" PRIu64 "e%d", mant + 1, unit);
    if (reads_back(buf, v))
        return 1;
    if (mant == pow10_table[m - 1]) /* below 10^E the spacing is finer */
        snprintf(buf, sizeof buf, "%" PRIu64 "e%d", pow10_table[m] - 1, unit - 1);
    else
        snprintf(buf, sizeof buf, "%" PRIu64 "e%d", mant - 1, unit);
    return reads_back(buf, v);
}

/*
 * The shortest-digits contract for one finite non-zero v: digits well
 * formed, read back as v, no shorter decimal reads back, and when the
 * nearest decimal of that length reads back it is the one chosen.
 */
static void check_shortest(double v)
{
    char digits[18], text[48], nearest[48];
    int exp10 = 12345;
    memset(digits, 'x', sizeof digits);
    int n = fp_fmt_shortest(v, digits, &exp10);
    double a = fabs(v);

    expect(n >= 1 && n <= 17, "%a: %d digits", v, n);
    for (int i = 0; i < n; i++)
        expect(isdigit((unsigned char)digits[i]), "%a: digit %d is %c", v, i, digits[i]);
    expect(digits[0] != '0' && digits[n - 1] != '0', "%a: digits %.*s", v, n, digits);

    snprintf(text, sizeof text, "0.%.*se%d", n, digits, exp10);
    expect(reads_back(text, a), "%a (%.17g): %s reads back as %.17g", v, v, text, strtod(text, NULL));
    expect(n == 1 || !some_decimal_reads_back(a, n - 1), "%a (%.17g): %s is not the shortest", v, v, text);

    snprintf(nearest, sizeof nearest, "%.*e", n - 1, a);
    if (reads_back(nearest, a)) {
        char want[18];
        int w = 0;
        for (const char *p = nearest; *p != 'e'; p++)
            if (isdigit((unsigned char)*p))
                want[w++] = *p;
        expect(w == n && memcmp(want, digits, (size_t)n) == 0 && exp10 == atoi(strchr(nearest, 'e') + 1) + 1,
               "%a (%.17g): %s, but the nearest is %s", v, v, text, nearest);
    }
}

/* ---- the layout oracle: Python, ported line by line -------------------------- */

/* repr(float) for finite v, from its shortest digits (float_repr_style
 * 'short': fixed when -4 < decpt <= 16). */
static void python_repr(double v, char *out)
{
    char d[18];
    int e;
    if (v == 0) {
        strcpy(out, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    int n = fp_fmt_shortest(v, d, &e);
    int decpt = e;
    char *p = out;
    if (v < 0)
        *p++ = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0)
            p += sprintf(p, "0.%.*s%.*s", -decpt, "0000", n, d);
        else if (decpt >= n)
            p += sprintf(p, "%.*s%.*s.0", n, d, decpt - n, "0000000000000000");
        else
            p += sprintf(p, "%.*s.%.*s", decpt, d, n - decpt, d + decpt);
    } else {
        p += sprintf(p, "%c", d[0]);
        if (n > 1)
            p += sprintf(p, ".%.*s", n - 1, d + 1);
        p += sprintf(p, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
    }
}

/*
 * prometheus_client 0.16 floatToGoString:
 *     s = repr(d); dot = s.find('.')
 *     if d > 0 and dot > 6:
 *         mantissa = f'{s[0]}.{s[1:dot]}{s[dot + 1:]}'.rstrip('0.')
 *         return f'{mantissa}e+0{dot - 1}'
 *     return s
 * except that fmt.h writes e+10..e+15 where Python writes e+010..e+015.
 */
static void go_string(double v, char out[64])
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char s[64];
    python_repr(v, s);
    const char *dotp = strchr(s, '.');
    int dot = dotp ? (int)(dotp - s) : -1;
    if (v > 0 && dot > 6) {
        char mantissa[64];
        snprintf(mantissa, sizeof mantissa, "%c.%.*s%s", s[0], dot - 1, s + 1, s + dot + 1);
        size_t len = strlen(mantissa);
        while (len > 0 && (mantissa[len - 1] == '0' || mantissa[len - 1] == '.'))
            mantissa[--len] = '\0';
        snprintf(out, 64, "%.30se+%02d", mantissa, dot - 1);
        return;
    }
    strcpy(out, s);
}

static void check_layouts(double v)
{
    char got[FP_FMT_MAX + 8], want[64];
    memset(got, 'x', sizeof got);
    size_t len = fp_fmt_bound(v, got);
    go_string(v, want);
    expect(len < FP_FMT_MAX && len == strlen(got), "%a: bound length %zu", v, len);
    expect(strcmp(got, want) == 0, "%a (%.17g): bound %s, want %s", v, v, got, want);
    if (!isnan(v))
        expect(reads_back(got, v), "%a: bound %s does not read back", v, got);

    memset(got, 'x', sizeof got);
    len = fp_fmt_value(v, got);
    if (fabs(v) < 9007199254740992.0 && v == nearbyint(v))
        snprintf(want, sizeof want, "%.0f", v); /* glibc prints -0.0 as "-0" */
    expect(len < FP_FMT_MAX && len == strlen(got), "%a: value length %zu", v, len);
    expect(strcmp(got, want) == 0, "%a (%.17g): value %s, want %s", v, v, got, want);
}

static void check_all(double v)
{
    if (isfinite(v) && v != 0)
        check_shortest(v);
    check_layouts(v);
}

/* ---- exact vectors ------------------------------------------------------------- */

static void expect_shortest(double v, const char *digits, int exp10)
{
    char got[18];
    int e;
    int n = fp_fmt_shortest(v, got, &e);
    ck_assert_msg(n == (int)strlen(digits) && memcmp(got, digits, (size_t)n) == 0 && e == exp10,
                  "%.17g: %.*s e%d, want %s e%d", v, n, got, e, digits, exp10);
}

START_TEST(test_shortest_vectors)
{
    expect_shortest(0.1, "1", 0);
    expect_shortest(0.3, "3", 0);
    expect_shortest(1.0 / 3, "3333333333333333", 0);
    expect_shortest(2.0 / 3, "6666666666666666", 0);
    expect_shortest(5e-324, "5", -323);
    expect_shortest(1e-323, "1", -322);
    expect_shortest(DBL_MAX, "17976931348623157", 309);
    expect_shortest(DBL_MIN, "22250738585072014", -307);
    expect_shortest(9007199254740992.0, "9007199254740992", 16);
    expect_shortest(9007199254740994.0, "9007199254740994", 16);
    /* 2^53 + 1 is no double: the literal rounds (to even) to 2^53. */
    expect_shortest(9007199254740993.0, "9007199254740992", 16);
    expect_shortest(1e23, "1", 24);
    expect_shortest(123456.789, "123456789", 6);
    expect_shortest(-2.5, "25", 1);
    expect_shortest(1.0, "1", 1);
    expect_shortest(1e22, "1", 23);
    expect_shortest(5e-5, "5", -4);
    expect_shortest(0x1p-1022 - 0x1p-1074, "2225073858507201", -307); /* largest subnormal */
}
END_TEST

/*
 * Produced once with /usr/bin/python3 and python3-prometheus-client 0.16:
 *   from prometheus_client.utils import floatToGoString
 *   for v in VALUES: print(repr(v), repr(floatToGoString(v)))
 * Python's "1e+015" / "1e+010" / "9.007199254740992e+015" are written
 * with a two-digit exponent, as fmt.h documents.
 */
static const struct {
    double v;
    const char *bound;
} python_bounds[] = {
    /* prometheus_client's Histogram.DEFAULT_BUCKETS */
    {0.005, "0.005"},
    {0.01, "0.01"},
    {0.025, "0.025"},
    {0.05, "0.05"},
    {0.075, "0.075"},
    {0.1, "0.1"},
    {0.25, "0.25"},
    {0.5, "0.5"},
    {0.75, "0.75"},
    {1.0, "1.0"},
    {2.5, "2.5"},
    {5.0, "5.0"},
    {7.5, "7.5"},
    {10.0, "10.0"},
    {INFINITY, "+Inf"},
    /* quantiles and typical bounds */
    {0.9, "0.9"},
    {0.95, "0.95"},
    {0.99, "0.99"},
    {0.999, "0.999"},
    {1e-05, "1e-05"},
    {1e6, "1e+06"},
    {2.5e6, "2.5e+06"},
    {1e16, "1e+16"},
    {123456.5, "123456.5"},
    {0.0, "0.0"},
    {-0.0, "-0.0"},
    {NAN, "NaN"},
    {-INFINITY, "-Inf"},
    {0.0001, "0.0001"},
    {9.9e-05, "9.9e-05"},
    {999999.0, "999999.0"},
    {1e7, "1e+07"},
    {1e15, "1e+15"},
    {1e10, "1e+10"},
    {1.5e16, "1.5e+16"},
    {-1e16, "-1e+16"},
    {-1e-05, "-1e-05"},
    {-2500000.0, "-2500000.0"},
    {1234567.5, "1.2345675e+06"},
    {5e-324, "5e-324"},
    {DBL_MAX, "1.7976931348623157e+308"},
    {1.0 / 3, "0.3333333333333333"},
    {9007199254740992.0, "9.007199254740992e+15"},
    {123456.789, "123456.789"},
    {1e23, "1e+23"},
    {0.3, "0.3"},
    {100.0, "100.0"},
    {1e-07, "1e-07"},
    {0.0001234, "0.0001234"},
    {12345678901234567890.0, "1.2345678901234567e+19"},
    {0.000123456789012345678, "0.00012345678901234567"},
    {-0.001, "-0.001"},
    {3e-05, "3e-05"},
    {999999.9, "999999.9"},
    {100000.5, "100000.5"},
    {1e21, "1e+21"},
    {1e22, "1e+22"},
    {-1e22, "-1e+22"},
    {1e-300, "1e-300"},
};

START_TEST(test_bound_python_vectors)
{
    for (size_t i = 0; i < sizeof python_bounds / sizeof *python_bounds; i++) {
        char got[FP_FMT_MAX];
        size_t len = fp_fmt_bound(python_bounds[i].v, got);
        ck_assert_msg(strcmp(got, python_bounds[i].bound) == 0 && len == strlen(got), "%.17g: %s, want %s",
                      python_bounds[i].v, got, python_bounds[i].bound);
        check_layouts(python_bounds[i].v); /* the port agrees with Python too */
    }
}
END_TEST

START_TEST(test_value_vectors)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {-3.0, "-3"},
        {1234567.0, "1234567"},
        {1.0, "1"},
        {1e15, "1000000000000000"},
        {9007199254740991.0, "9007199254740991"},
        {-9007199254740991.0, "-9007199254740991"},
        {9007199254740992.0, "9.007199254740992e+15"},
        {-9007199254740992.0, "-9007199254740992.0"},
        {0.5, "0.5"},
        {-0.25, "-0.25"},
        {1e16, "1e+16"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {2.5e6 + 0.5, "2.5000005e+06"},
        {-1e-5, "-1e-05"},
        {0.1 + 0.2, "0.30000000000000004"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char got[FP_FMT_MAX];
        size_t len = fp_fmt_value(cases[i].v, got);
        ck_assert_msg(strcmp(got, cases[i].text) == 0 && len == strlen(got), "%.17g: %s, want %s", cases[i].v, got,
                      cases[i].text);
    }
}
END_TEST

START_TEST(test_seconds_vectors)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {1700000000.25, "1700000000.25"},
        {1700000000.0, "1700000000"},
        {1700000000.123456, "1700000000.123456"},
        {0.5, "0.5"},
        {0.0001, "0.0001"},
        {0.00012, "0.00012"},
        {12.75, "12.75"},
        {99999999999999.5, "99999999999999.5"},
        {1e15 + 0.5, "1.0000000000000005e+15"}, /* past plausible times: as fp_fmt_value */
        {0.00005, "5e-05"},
        {-1.5, "-1.5"},
        {0.0, "0"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char got[FP_FMT_MAX];
        size_t len = fp_fmt_seconds(cases[i].v, got);
        ck_assert_msg(strcmp(got, cases[i].text) == 0 && len == strlen(got), "%.17g: %s, want %s", cases[i].v, got,
                      cases[i].text);
        ck_assert_msg(isnan(cases[i].v) || strtod(got, NULL) == cases[i].v, "%s does not read back", got);
    }
}
END_TEST

START_TEST(test_u64)
{
    char got[FP_FMT_MAX], want[32];
    uint64_t fixed[] = {0, 1, 9, 10, 99, 100, UINT64_MAX, UINT64_MAX - 1, UINT32_MAX, (uint64_t)UINT32_MAX + 1};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        snprintf(want, sizeof want, "%" PRIu64, fixed[i]);
        ck_assert_uint_eq(fp_fmt_u64(fixed[i], got), strlen(want));
        ck_assert_str_eq(got, want);
    }
    /* Every power of ten and its neighbours: the digit-count edges. */
    for (uint64_t p = 1; p <= UINT64_C(10000000000000000000); p *= 10) {
        for (int d = -1; d <= 1; d++) {
            snprintf(want, sizeof want, "%" PRIu64, p + (uint64_t)d);
            ck_assert_uint_eq(fp_fmt_u64(p + (uint64_t)d, got), strlen(want));
            ck_assert_str_eq(got, want);
        }
        if (p == UINT64_C(10000000000000000000))
            break;
    }
    rng_seed(1);
    for (long i = 0; i < scaled(200000); i++) {
        uint64_t v = rng() >> (rng() % 64);
        snprintf(want, sizeof want, "%" PRIu64, v);
        size_t len = fp_fmt_u64(v, got);
        expect(len == strlen(want) && strcmp(got, want) == 0, "%s, want %s", got, want);
    }
}
END_TEST

/* ---- round trips ------------------------------------------------------------------ */

START_TEST(test_random_bit_patterns)
{
    rng_seed(2);
    for (long i = 0; i < scaled(1000000); i++) {
        double v = from_bits(rng());
        if (!isnan(v))
            check_all(v);
    }
}
END_TEST

/* Decimals with 1..17 digits: inputs whose shortest form is short, where
 * the digit choice (and not only the length) is tested. */
START_TEST(test_random_short_decimals)
{
    rng_seed(3);
    char text[48];
    for (long i = 0; i < scaled(600000); i++) {
        int n = 1 + (int)(rng() % 17);
        uint64_t mant = rng() % pow10_table[n];
        int e = (int)(rng() % 650) - 340;
        snprintf(text, sizeof text, "%s%" PRIu64 "e%d", rng() & 1 ? "-" : "", mant, e);
        check_all(strtod(text, NULL));
    }
}
END_TEST

/* Significands at the ends of every binade, the power of two whose
 * interval is lopsided, and random ones, for every exponent. */
START_TEST(test_every_exponent)
{
    rng_seed(4);
    const uint64_t hidden = UINT64_C(1) << 52;
    long per = scaled(100);
    for (uint64_t biased = 0; biased < 2047; biased++) {
        uint64_t edge[] = {0, 1, 2, 3, hidden - 1, hidden - 2, hidden / 2, hidden / 2 + 1};
        for (size_t j = 0; j < sizeof edge / sizeof *edge; j++)
            check_all(from_bits(biased << 52 | edge[j]));
        for (long j = 0; j < per; j++)
            check_all(from_bits(biased << 52 | (rng() & (hidden - 1))));
    }
}
END_TEST

START_TEST(test_subnormals)
{
    rng_seed(5);
    for (uint64_t c = 1; c <= (uint64_t)scaled(50000); c++)
        check_all(from_bits(c));
    for (long i = 0; i < scaled(50000); i++)
        check_all(from_bits(rng() >> (12 + rng() % 52)));
}
END_TEST

/* The double nearest each power of ten and a few ulps around it. */
START_TEST(test_powers_of_ten)
{
    char text[16];
    for (int e = -323; e <= 308; e++) {
        snprintf(text, sizeof text, "1e%d", e);
        double p = strtod(text, NULL);
        for (int ulps = -3; ulps <= 3; ulps++)
            check_all(from_bits(to_bits(p) + (uint64_t)(int64_t)ulps));
    }
}
END_TEST

/* Where the layout switches (1e-4, 1e6 for positive bounds, 1e16) and
 * where value switches from integers (2^53): exact points, neighbours,
 * and random values close by. */
START_TEST(test_switch_points)
{
    rng_seed(6);
    const double points[] = {1e-4, 1e6, 1e16, 9007199254740992.0, 1e5, 1e15, 1.0, 0.001};
    for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            double p = sign * points[i];
            for (int ulps = -64; ulps <= 64; ulps++)
                check_all(from_bits(to_bits(p) + (uint64_t)(int64_t)ulps));
            for (long j = 0; j < scaled(20000); j++)
                check_all(p * (1 + ((double)(rng() >> 11) / 9007199254740992.0 - 0.5) * 1e-3));
        }
    }
    /* Integers near 2^53, on both sides, and integers below it. */
    for (long j = 0; j < scaled(50000); j++) {
        double near = 9007199254740992.0 + (double)((int64_t)(rng() % 4096) - 2048) * 2;
        check_all(near);
        check_all((double)(rng() >> (11 + rng() % 53)));
    }
}
END_TEST

/* ---- first use from several threads --------------------------------------------- */

static void *format_in_thread(void *arg)
{
    uint64_t state = (uint64_t)(uintptr_t)arg;
    long bad = 0;
    for (int i = 0; i < 2000; i++) {
        state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        double v = from_bits(state);
        char out[FP_FMT_MAX];
        if (isfinite(v) && fp_fmt_bound(v, out) > 0 && !reads_back(out, v))
            bad++;
    }
    return (void *)(intptr_t)bad;
}

/* The power table is built on first use; concurrent first users must all
 * see it complete (each checked test runs in a fresh fork). */
START_TEST(test_concurrent_first_use)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, format_in_thread, (void *)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        ck_assert_int_eq(pthread_join(t[i], &bad), 0);
        ck_assert_int_eq((intptr_t)bad, 0);
    }
}
END_TEST

static Suite *fmt_suite(void)
{
    Suite *s = suite_create("fmt");
    TCase *vectors = tcase_create("vectors");
    tcase_add_test(vectors, test_shortest_vectors);
    tcase_add_test(vectors, test_bound_python_vectors);
    tcase_add_test(vectors, test_value_vectors);
    tcase_add_test(vectors, test_seconds_vectors);
    tcase_add_test(vectors, test_u64);
    tcase_add_test(vectors, test_concurrent_first_use);
    tcase_set_timeout(vectors, 60);
    suite_add_tcase(s, vectors);

    TCase *round_trip = tcase_create("round_trip");
    tcase_add_test(round_trip, test_random_bit_patterns);
    tcase_add_test(round_trip, test_random_short_decimals);
    tcase_add_test(round_trip, test_every_exponent);
    tcase_add_test(round_trip, test_subnormals);
    tcase_add_test(round_trip, test_powers_of_ten);
    tcase_add_test(round_trip, test_switch_points);
    tcase_set_timeout(round_trip, 120);
    suite_add_tcase(s, round_trip);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fmt_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
