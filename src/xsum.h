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
 *
 * Guarantee: while every term lies in [2^-76, 2^100) in magnitude (wide is
 * then 0), fp_xsum_value() is the exact sum rounded once to the nearest
 * double, ties to even: bit for bit the same for any order or grouping of
 * the same terms, and never smaller after any term grows. Smaller terms keep
 * both properties (each is rounded alone first, by at most 2^-129).
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

typedef unsigned __int128 fp_u128;

/* Adds (neg: subtracts) the 256-bit number whose halves are tl (low) and
 * th (high) to s. */
static inline void fp_xsum_add256(struct fp_xsum *s, fp_u128 tl, fp_u128 th, int neg)
{
    fp_u128 lo = (fp_u128)s->w[1] << 64 | s->w[0];
    fp_u128 hi = (fp_u128)s->w[3] << 64 | s->w[2];
    if (neg) {
        fp_u128 r = lo - tl;
        hi -= th + (r > lo);
        lo = r;
    } else {
        fp_u128 r = lo + tl;
        hi += th + (r < lo);
        lo = r;
    }
    s->w[0] = (uint64_t)lo, s->w[1] = (uint64_t)(lo >> 64);
    s->w[2] = (uint64_t)hi, s->w[3] = (uint64_t)(hi >> 64);
}

/* Rounds m * 2^-r (r > 0) to an integer, ties to even. */
static inline uint64_t fp_xsum_round_right(uint64_t m, int r)
{
    if (r >= 64)
        return 0; /* m < 2^53: below one half */
    uint64_t q = m >> r, rest = m & ((1ull << r) - 1), half = 1ull << (r - 1);
    return q + (rest > half || (rest == half && (q & 1)));
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
    int shift = (int)e - 947;
    fp_u128 tl = 0, th = 0;
    if (shift >= 128)
        th = (fp_u128)m << (shift - 128); /* shift <= 175: fits */
    else if (shift >= 0) {
        fp_u128 v = (fp_u128)m << (shift & 63);
        if (shift >= 64) {
            tl = v << 64;
            th = v >> 64;
        } else {
            tl = v;
        }
    } else {
        tl = fp_xsum_round_right(m, -shift);
    }
    fp_xsum_add256(s, tl, th, (int)(bits >> 63));
}

/* s += an integer (a counter's integral part). */
static inline void fp_xsum_add_u64(struct fp_xsum *s, uint64_t v)
{
    fp_xsum_add256(s, 0, v, 0);
}

/* s += the fixed-point words w (another sum's, as kept in the segment). */
static inline void fp_xsum_add_fixed(struct fp_xsum *s, const uint64_t *w)
{
    fp_xsum_add256(s, (fp_u128)w[1] << 64 | w[0], (fp_u128)w[3] << 64 | w[2], 0);
}

/* The sum rounded once to the nearest double (ties to even), then plus
 * `wide` (normally 0, which leaves it as it is). */
double fp_xsum_value(const struct fp_xsum *s);

/* Moves the fixed-point part into `wide` when it is 2^120 or more, so that a
 * total that keeps growing by folds can never wrap (only the retained
 * totals need it: a reader adds at most a few thousand cells to them). */
void fp_xsum_bound(struct fp_xsum *s);

#endif
