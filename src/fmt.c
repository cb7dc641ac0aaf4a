/*
 * fmt.c - every number in an exposition is written here: shortest
 * round-trip doubles, the canonical le=""/quantile="" bound layout of
 * prometheus_client, sample values and unsigned integers.
 *
 * Why its own algorithm: %.17g round-trips but is slow (~300 ns) and
 * prints 0.1 as 0.10000000000000001; %g loses digits. The shortest digits
 * come from a Schubfach-style search (R. Giulietti, "The Schubfach way to
 * render doubles"): scale the double's rounding interval by a power of ten
 * so it is between 1 and 10 units wide, then the answer is either the one
 * multiple of 10 inside it (one digit shorter) or the nearer of the two
 * integers around the value. The scaling multiplies by a 128-bit
 * over-estimate of 10^p and keeps only "floor + inexact bit" (round to
 * odd), which is all the comparisons need. That this is exact for every
 * double was checked when this was written: per exponent, a Euclid-style
 * search over all significands for a scaled value within 2^-64 of an
 * integer found a single one, whose floor is odd already (so no harm).
 * Integral sample values below 2^53 skip all of it (fp_fmt_value).
 *
 * The 617 powers are computed once, at first use, with exact big-integer
 * arithmetic (pthread_once, ~1.5 ms), so no opaque table is checked in.
 */
#include "fmt.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

__extension__ typedef unsigned __int128 fp_u128;

/* 10^p for p = -k, k = floor(log10(spacing)) over all doubles. */
#define POW10_MIN (-292)
#define POW10_MAX 324

typedef struct {
    fp_u128 g; /* ceil(10^p * 2^(127 - log2)), in [2^127, 2^128) */
    int log2;  /* floor(log2(10^p)) */
} pow10_entry;

static pow10_entry pow10_table[POW10_MAX - POW10_MIN + 1];
static pthread_once_t pow10_once = PTHREAD_ONCE_INIT;

/* ---- exact big integers, only for building the table -------------------- */

/* 10^324 < 2^1077: 34 limbs of 32 bits, plus room for one doubling. */
#define BIG_LIMBS 36

typedef struct {
    uint32_t w[BIG_LIMBS]; /* little-endian limbs */
    int n;                 /* limbs in use; the top one is non-zero */
} big_t;

static void big_set_pow2(big_t *b, int e)
{
    memset(b, 0, sizeof *b);
    b->w[e / 32] = UINT32_C(1) << (e % 32);
    b->n = e / 32 + 1;
}

static void big_mul10(big_t *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t t = (uint64_t)b->w[i] * 10 + carry;
        b->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry)
        b->w[b->n++] = (uint32_t)carry;
}

static int big_bitlen(const big_t *b)
{
    return 32 * (b->n - 1) + (32 - __builtin_clz(b->w[b->n - 1]));
}

static int big_bit(const big_t *b, int i)
{
    return i >= 0 && i / 32 < b->n && (b->w[i / 32] >> (i % 32) & 1);
}

static void big_shl1(big_t *b)
{
    uint32_t carry = 0;
    for (int i = 0; i < b->n; i++) {
        uint32_t top = b->w[i] >> 31;
        b->w[i] = b->w[i] << 1 | carry;
        carry = top;
    }
    if (carry)
        b->w[b->n++] = carry;
}

static int big_cmp(const big_t *a, const big_t *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

/* a -= b, with a >= b. */
static void big_sub(big_t *a, const big_t *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->w[i] - (i < b->n ? b->w[i] : 0) - borrow;
        borrow = t < 0;
        a->w[i] = (uint32_t)(t + (borrow << 32));
    }
    while (a->n > 0 && a->w[a->n - 1] == 0)
        a->n--;
}

/* 10^p, p >= 0: its top 128 bits, rounded up when bits are cut off. */
static void pow10_entry_positive(const big_t *pow, pow10_entry *e)
{
    int top = big_bitlen(pow) - 1;
    int cut = top - 127; /* lowest kept bit; negative: shift left, exact */
    fp_u128 g = 0;
    int inexact = 0;
    for (int i = top; i >= cut; i--)
        g = g << 1 | (fp_u128)big_bit(pow, i);
    for (int i = 0; i < cut && !inexact; i++)
        inexact = big_bit(pow, i);
    e->g = g + (fp_u128)inexact;
    e->log2 = top;
}

/*
 * 10^-m = 1/d, m > 0: with 2^(b-1) < d < 2^b, floor(log2(1/d)) = -b and
 * g = ceil(2^(127+b) / d). Long division, starting where the quotient's
 * first bit appears (2^(b-1) < d); the remainder is never zero, d not
 * being a power of two.
 */
static void pow10_entry_negative(const big_t *d, pow10_entry *e)
{
    int b = big_bitlen(d);
    big_t r;
    fp_u128 q = 0;
    big_set_pow2(&r, b - 1);
    for (int i = 0; i < 128; i++) {
        big_shl1(&r);
        q <<= 1;
        if (big_cmp(&r, d) >= 0) {
            big_sub(&r, d);
            q |= 1;
        }
    }
    e->g = q + 1;
    e->log2 = -b;
}

static void pow10_build(void)
{
    big_t pow;
    big_set_pow2(&pow, 0);
    for (int p = 0; p <= POW10_MAX; p++) {
        if (p > 0)
            big_mul10(&pow);
        pow10_entry_positive(&pow, &pow10_table[p - POW10_MIN]);
        if (p > 0 && -p >= POW10_MIN)
            pow10_entry_negative(&pow, &pow10_table[-p - POW10_MIN]);
    }
}

/* ---- shortest digits ------------------------------------------------------ */

/*
 * floor(log10(2^q)) and floor(log10(3/4 * 2^q)) for |q| < 1100, as
 * fixed-point products (log10(2) * 2^20 and -log10(3/4) * 2^20, checked
 * exactly against rational arithmetic for every q in that range). The
 * bias keeps the shifted value non-negative, so the shift is a floor.
 */
#define LOG10_2_Q20 INT64_C(315653)
#define LOG10_4_3_Q20 INT64_C(131008)
#define LOG_BIAS 400

static int floor_log10_pow2(int q)
{
    return (int)(((int64_t)q * LOG10_2_Q20 + ((int64_t)LOG_BIAS << 20)) >> 20) - LOG_BIAS;
}

static int floor_log10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * LOG10_2_Q20 - LOG10_4_3_Q20 + ((int64_t)LOG_BIAS << 20)) >> 20) - LOG_BIAS;
}

/*
 * x * g / 2^128 rounded to odd: the floor, with the low bit set when the
 * exact scaled value is not an integer. g over-estimates by less than 1, so
 * the error is under x < 2^59 units of 2^-128: it stays in the low word,
 * and an exact integer leaves the middle word zero while a fraction of at
 * least 2^-64 does not (see the header for why nothing falls in between).
 */
static uint64_t round_to_odd(fp_u128 g, uint64_t x)
{
    fp_u128 low = (fp_u128)(uint64_t)g * x;
    fp_u128 high = (fp_u128)(uint64_t)(g >> 64) * x + (low >> 64);
    return (uint64_t)(high >> 64) | ((uint64_t)high != 0);
}

static uint64_t strip_trailing_zeros(uint64_t d, int *e10)
{
    while (d % 10 == 0) {
        d /= 10;
        (*e10)++;
    }
    return d;
}

/*
 * The shortest decimal D * 10^e10 inside the rounding interval of c * 2^q
 * (c > 0), the nearest one when several are as short.
 */
static uint64_t shortest_decimal(uint64_t c, int q, int irregular, int *e10)
{
    /* Integers below 2^53 are their own shortest form: a shorter decimal
     * is a multiple of 10 at least 1 away, the interval reaches 1/2. */
    if (q <= 0 && q >= -52 && (c & ((UINT64_C(1) << -q) - 1)) == 0) {
        *e10 = 0;
        return strip_trailing_zeros(c >> -q, e10);
    }

    pthread_once(&pow10_once, pow10_build);

    /* The interval [c - 1/2, c + 1/2] * 2^q, or [c - 1/4, c + 1/2] at a
     * power of two (the double below is twice as close); scaled by 10^-k
     * it is between 1 and 10 units wide. Everything is computed times 4 so
     * the bounds and the midpoint between two integers are integers. */
    int k = irregular ? floor_log10_three_quarters_pow2(q) : floor_log10_pow2(q);
    const pow10_entry *p = &pow10_table[-k - POW10_MIN];
    int h = q + p->log2 + 1; /* 1..4: puts 4 * v * 10^-k in the top word */
    uint64_t cb = c << 2;
    uint64_t vb = round_to_odd(p->g, cb << h);
    uint64_t vbl = round_to_odd(p->g, (cb - 2 + (uint64_t)irregular) << h);
    uint64_t vbr = round_to_odd(p->g, (cb + 2) << h);
    /* strtod rounds a midpoint to the even significand: bounds belong to
     * the interval only when c is even. In round-to-odd terms "4n is at or
     * above vbl" is 4n >= vbl + open, 4n being even. */
    uint64_t open = c & 1;
    uint64_t s = vb >> 2;

    /* A multiple of 10 inside: one digit shorter than anything else here,
     * and the only one (the interval is under 10 units). That needs s >= 10
     * to be shorter than s; s < 10 only for the two smallest subnormals,
     * 4.9 (no multiple inside) and 9.9 (10 inside, and also the nearest). */
    uint64_t down = s / 10 * 10, up = down + 10;
    int down_in = (down << 2) >= vbl + open;
    int up_in = (up << 2) + open <= vbr;
    if (down_in || up_in) {
        *e10 = k + 1;
        return strip_trailing_zeros((down_in ? down : up) / 10, e10);
    }

    /* Otherwise s or s + 1, whichever is inside, the nearer (ties to even)
     * when both are. Neither ends in 0, or it would have been found above. */
    uint64_t four_s = s << 2;
    int s_in = four_s >= vbl + open;
    int next_in = four_s + 4 + open <= vbr;
    int past_middle = vb > four_s + 2 || (vb == four_s + 2 && (s & 1));
    *e10 = k;
    /* Bitwise, not short-circuit: the outcome is data-dependent and a
     * mispredicted branch costs more than the arithmetic. */
    return s + (uint64_t)((s_in ^ 1) | (next_in & past_middle));
}

/* v finite and non-zero. */
static uint64_t shortest_of(double v, int *e10)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t fraction = bits & ((UINT64_C(1) << 52) - 1);
    int biased = (int)(bits >> 52 & 0x7ff);
    if (biased == 0)
        return shortest_decimal(fraction, -1074, 0, e10);
    return shortest_decimal(fraction | UINT64_C(1) << 52, biased - 1075, fraction == 0 && biased > 1, e10);
}

/* ---- decimal integers ----------------------------------------------------- */

static const char two_digits[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                    "8081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

static int decimal_length(uint64_t d)
{
    if (d == 0)
        return 1;
    /* floor(bits * log10(2)) is the length or one less. */
    int guess = ((64 - __builtin_clzll(d)) * 1233) >> 12;
    return guess + (d >= pow10_u64[guess]);
}

/* Exactly eight digits of v < 10^8, split in halves and quarters so the
 * divisions do not wait on each other. */
static void write_eight_digits(char *p, uint32_t v)
{
    uint32_t high = v / 10000, low = v % 10000;
    memcpy(p, two_digits + 2 * (high / 100), 2);
    memcpy(p + 2, two_digits + 2 * (high % 100), 2);
    memcpy(p + 4, two_digits + 2 * (low / 100), 2);
    memcpy(p + 6, two_digits + 2 * (low % 100), 2);
}

/* Writes the decimal digits of d so that they end just before end: eight
 * at a time, then two per table lookup. */
static void write_digits_backward(char *end, uint64_t d)
{
    while (d >= 100000000) {
        end -= 8;
        write_eight_digits(end, (uint32_t)(d % 100000000));
        d /= 100000000;
    }
    uint32_t rest = (uint32_t)d;
    while (rest >= 100) {
        end -= 2;
        memcpy(end, two_digits + 2 * (rest % 100), 2);
        rest /= 100;
    }
    if (rest >= 10) {
        end -= 2;
        memcpy(end, two_digits + 2 * rest, 2);
    } else {
        *--end = (char)('0' + rest);
    }
}

size_t fp_fmt_u64(uint64_t v, char out[FP_FMT_MAX])
{
    int n = decimal_length(v);
    write_digits_backward(out + n, v);
    out[n] = '\0';
    return (size_t)n;
}

/* fp_fmt_shortest without the NUL. */
static int shortest_digits(double v, char *digits, int *exp10)
{
    int e10;
    uint64_t d = shortest_of(fabs(v), &e10);
    int n = decimal_length(d);
    write_digits_backward(digits + n, d);
    *exp10 = e10 + n;
    return n;
}

int fp_fmt_shortest(double v, char digits[18], int *exp10)
{
    int n = shortest_digits(v, digits, exp10);
    digits[n] = '\0';
    return n;
}

/* ---- layouts ---------------------------------------------------------------- */

/* Python's repr exponent: signed, at least two digits. */
static char *write_exponent(char *p, int x)
{
    *p++ = 'e';
    *p++ = x < 0 ? '-' : '+';
    unsigned a = (unsigned)(x < 0 ? -x : x);
    if (a >= 100)
        *p++ = (char)('0' + a / 100);
    memcpy(p, two_digits + 2 * (a % 100), 2);
    return p + 2;
}

/*
 * The layouts copy fixed-size blocks (inlined moves) instead of exact
 * lengths (library calls): digit buffers are padded to DIGITS_ROOM and the
 * text is built in scratch space first.
 */
#define DIGITS_ROOM 32
#define SCRATCH_ROOM 48

/*
 * The digits d[0..n) of d.ddd * 10^x laid out as fmt.h describes for
 * fp_fmt_bound, at p (at most scratch + 1); returns the end.
 */
static char *layout_digits(char *p, const char d[DIGITS_ROOM], int n, int x, int negative)
{
    if (x >= -4 && x < 16 && (negative || x < 6)) {
        if (x < 0) { /* "0." and up to three zeros, then every digit */
            memcpy(p, "0.0000", 6);
            memcpy(p + 1 - x, d, 17);
            return p + 1 - x + n;
        }
        int whole = x + 1; /* 1..16 */
        if (n <= whole) {  /* an integer: pad with zeros, then ".0" */
            memcpy(p, d, 16);
            memset(p + n, '0', 16);
            memcpy(p + whole, ".0", 2);
            return p + whole + 2;
        }
        memcpy(p, d, 16);
        p[whole] = '.';
        memcpy(p + whole + 1, d + whole, 16);
        return p + n + 1;
    }
    p[0] = d[0];
    p[1] = '.';
    memcpy(p + 2, d + 1, 16);
    return write_exponent(p + (n > 1 ? n + 1 : 1), x);
}

static size_t copy_literal(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return n;
}

size_t fp_fmt_bound(double v, char out[FP_FMT_MAX])
{
    if (isnan(v))
        return copy_literal(out, "NaN");
    if (isinf(v))
        return copy_literal(out, v > 0 ? "+Inf" : "-Inf");
    int negative = signbit(v) != 0;
    if (v == 0)
        return copy_literal(out, negative ? "-0.0" : "0.0");

    char digits[DIGITS_ROOM], scratch[SCRATCH_ROOM];
    int exp10;
    int n = shortest_digits(v, digits, &exp10);
    scratch[0] = '-';
    char *end = layout_digits(scratch + negative, digits, n, exp10 - 1, negative);
    *end = '\0';
    memcpy(out, scratch, FP_FMT_MAX);
    return (size_t)(end - scratch);
}

size_t fp_fmt_value(double v, char out[FP_FMT_MAX])
{
    /* The comparison is false for NaN, and bounds the conversion. */
    if (fabs(v) < 9007199254740992.0) {
        int64_t i = (int64_t)v;
        if ((double)i == v) {
            char *p = out;
            if (signbit(v))
                *p++ = '-';
            return (size_t)(p - out) + fp_fmt_u64((uint64_t)(i < 0 ? -i : i), p);
        }
    }
    return fp_fmt_bound(v, out);
}

size_t fp_fmt_seconds(double v, char out[FP_FMT_MAX])
{
    if (!(v >= 1e-4 && v < 1e15) || v == floor(v))
        return fp_fmt_value(v, out);
    char digits[18];
    int exp10;
    int ndigits = fp_fmt_shortest(v, digits, &exp10);
    size_t n = 0;
    if (exp10 <= 0) {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = exp10; i < 0; i++)
            out[n++] = '0';
        memcpy(out + n, digits, (size_t)ndigits);
        n += (size_t)ndigits;
    } else { /* not integral, so ndigits > exp10 */
        memcpy(out, digits, (size_t)exp10);
        n = (size_t)exp10;
        out[n++] = '.';
        memcpy(out + n, digits + exp10, (size_t)(ndigits - exp10));
        n += (size_t)(ndigits - exp10);
    }
    out[n] = '\0';
    return n;
}
