/*
 * xsum.h - exact sums of doubles, rounded once (xsum.c).
 *
 * Floating-point addition is not associative. A counter's fractional cells
 * and the _sum of a histogram or summary are one double per writer; summed
 * in floating point, the total depends on the order and grouping of the
 * additions, and folding a dead writer (its cell joins the retained total
 * before the live cells are added) changes the grouping: the value could
 * read one ulp lower, which Prometheus takes for a counter reset.
 *
 * So these totals are kept exactly, in fixed point, and rounded to a double
 * only when a value is shown. The rounded value is a function of the SET of
 * cells, whatever the order, grouping or folding, and it is monotone: a cell
 * that grows never makes it smaller.
 *
 * The fixed point is a 256-bit two's-complement integer counting units of
 * 2^-128, so it holds +-2^127. A double x joins it exactly when
 * 2^-76 <= |x| < 2^100 (its lowest bit is worth at least 2^-128); smaller
 * ones are rounded to the nearest multiple of 2^-128 (ties to even) as they
 * join, the same way every time, so sums stay order-independent. Sums of up
 * to 2^27 such values cannot overflow. |x| >= 2^100, infinities and NaN are
 * summed beside it in plain floating point (`wide`): no counter gets there,
 * and NaN or an infinity must still show.
 */
#ifndef FASTPROM_XSUM_H
#define FASTPROM_XSUM_H

#include <stdint.h>
#include <string.h>

#define FP_XSUM_WORDS 4

struct fp_xsum {
    uint64_t w[FP_XSUM_WORDS]; /* least significant word first */
    double wide;               /* the values the fixed point does not hold */
};

/* Adds the 256-bit magnitude t to s (neg: subtracts it). */
static inline void fp_xsum_add_words_signed(struct fp_xsum *s, const uint64_t *t, int neg)
{
    unsigned char carry = 0;
    for (int i = 0; i < FP_XSUM_WORDS; i++) {
        uint64_t a = s->w[i], b = t[i], r;
        if (neg) {
            unsigned char borrow = __builtin_sub_overflow(a, b, &r);
            borrow |= __builtin_sub_overflow(r, (uint64_t)carry, &r);
            carry = borrow;
        } else {
            unsigned char c = __builtin_add_overflow(a, b, &r);
            c |= __builtin_add_overflow(r, (uint64_t)carry, &r);
            carry = c;
        }
        s->w[i] = r;
    }
}

/* s += x, exactly when 2^-76 <= |x| < 2^100 (see above). */
static inline void fp_xsum_add(struct fp_xsum *s, double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint32_t e = (uint32_t)(bits >> 52) & 0x7ffu;
    uint64_t m = bits & 0xfffffffffffffull;
    if (e >= 1023 + 100) { /* |x| >= 2^100, inf, nan */
        s->wide += x;
        return;
    }
    if (e == 0) {
        if (m == 0)
            return; /* +-0 */
        e = 1;      /* subnormal: no implicit bit */
    } else {
        m |= 1ull << 52;
    }
    /* |x| = m * 2^(e - 1075) = m * 2^(e - 947) units of 2^-128. */
    uint64_t t[FP_XSUM_WORDS] = {0};
    int shift = (int)e - 947;
    if (shift >= 0) {
        int q = shift / 64, b = shift % 64;
        t[q] = m << b;
        if (b)
            t[q + 1] = m >> (64 - b); /* shift <= 175, so q + 1 <= 3 */
    } else {
        int r = -shift; /* below the last unit: round to nearest, ties to even */
        if (r < 64) {
            uint64_t q = m >> r, rest = m & ((1ull << r) - 1), half = 1ull << (r - 1);
            t[0] = q + (rest > half || (rest == half && (q & 1)));
        }
    }
    fp_xsum_add_words_signed(s, t, (int)(bits >> 63));
}

/* s += an integer (a counter's integral part). */
static inline void fp_xsum_add_u64(struct fp_xsum *s, uint64_t v)
{
    uint64_t t[FP_XSUM_WORDS] = {0, 0, v, 0};
    fp_xsum_add_words_signed(s, t, 0);
}

/* s += the fixed-point words w (another sum's, as kept in the segment). */
static inline void fp_xsum_add_fixed(struct fp_xsum *s, const uint64_t *w)
{
    fp_xsum_add_words_signed(s, w, 0);
}

/* The sum rounded once to the nearest double (ties to even), then plus
 * `wide` (normally 0, which leaves it as it is). */
double fp_xsum_value(const struct fp_xsum *s);

/* Moves the fixed-point part into `wide` when it is 2^120 or more, so that a
 * total that keeps growing by folds can never wrap (only the retained
 * totals need it: a reader adds at most a few thousand cells to them). */
void fp_xsum_bound(struct fp_xsum *s);

#endif
