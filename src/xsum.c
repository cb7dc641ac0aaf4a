/*
 * xsum.c - rounding an exact fixed-point sum to a double (xsum.h).
 */
#include "xsum.h"

/* The fixed-point part rounded to the nearest double, ties to even. */
static double fixed_value(const struct fp_xsum *s)
{
    uint64_t a[FP_XSUM_WORDS];
    memcpy(a, s->w, sizeof a);
    int neg = (int64_t)a[FP_XSUM_WORDS - 1] < 0;
    if (neg) { /* two's complement: the magnitude is ~a + 1 */
        unsigned char carry = 1;
        for (int i = 0; i < FP_XSUM_WORDS; i++)
            carry = __builtin_add_overflow(~a[i], (uint64_t)carry, &a[i]);
    }
    int i = FP_XSUM_WORDS - 1;
    while (i >= 0 && !a[i])
        i--;
    if (i < 0)
        return 0.0;
    /* The 64 bits from the leading one down, and whether anything below them
     * is non-zero: folded into the lowest of the 64 bits, it breaks a tie at
     * 53 bits the way the full value would (11 bits lie in between). */
    int lz = __builtin_clzll(a[i]);
    uint64_t top = a[i] << lz, sticky = 0;
    if (i > 0) {
        top |= lz ? a[i - 1] >> (64 - lz) : 0;
        sticky = lz ? a[i - 1] << lz : a[i - 1];
        for (int j = 0; j < i - 1; j++)
            sticky |= a[j];
    }
    top |= sticky != 0;
    /* One rounding (the conversion), then an exact scaling by a power of
     * two (2^-191 .. 2^64: normal doubles). */
    uint64_t scale_bits = (uint64_t)(1023 + 64 * i - lz - 128) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    double v = (double)top * scale;
    return neg ? -v : v;
}

double fp_xsum_value(const struct fp_xsum *s)
{
    double v = fixed_value(s);
    return s->wide != 0 ? v + s->wide : v; /* NaN != 0 too */
}

void fp_xsum_bound(struct fp_xsum *s)
{
    int64_t high = (int64_t)s->w[FP_XSUM_WORDS - 1] >> 56; /* 2^120 is bit 248 */
    if (high == 0 || high == -1)
        return;
    s->wide += fixed_value(s);
    memset(s->w, 0, sizeof s->w);
}
