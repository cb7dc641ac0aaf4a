/*
 * sketch.h - the mergeable quantile sketch behind summaries.
 *
 * Log-spaced buckets (ratio gamma = 1.02 between bucket bounds, 2048 buckets
 * from 1e-9 up to about 4e8): a value's bucket depends only on the value, so
 * per-writer sketches merge by adding counts and the merged sketch answers
 * any quantile within (gamma-1)/(gamma+1) < 1% relative error of the exact
 * observation at that rank, for observations inside that range. Below-range
 * values (zero and negatives included) are counted apart and reported via
 * the exact minimum; above-range ones land in the top bucket and are clamped
 * to the exact maximum.
 *
 * The bucket index comes from the double's exponent bits and a table of
 * log2 over the mantissa, linearly interpolated (error < 2e-7 in log2 units,
 * far below the bucket width), so an observe costs a few nanoseconds, not a
 * call to log().
 */
#ifndef FASTPROM_SKETCH_H
#define FASTPROM_SKETCH_H

#include <stdint.h>
#include <string.h>

#define FP_SKETCH_BUCKETS 2048
#define FP_SKETCH_MIN 1e-9
#define FP_SKETCH_GAMMA 1.02
#define FP_SKETCH_TABLE_BITS 10

/* The per-writer cells that follow a summary's count and sum. */
struct fp_sketch {
    double min; /* +Inf until the first observation */
    double max; /* -Inf until the first observation */
    uint64_t below;
    uint32_t counts[FP_SKETCH_BUCKETS]; /* saturate at UINT32_MAX */
};

extern float fp_sketch_log2_table[(1 << FP_SKETCH_TABLE_BITS) + 1];
extern double fp_sketch_inv_log2_gamma;
extern double fp_sketch_log2_min;

/* Builds the tables; idempotent and thread-safe. Call before indexing. */
void fp_sketch_init(void);

/* Bucket of v >= FP_SKETCH_MIN (clamped to the top bucket); -1 below the
 * range or for NaN. */
static inline int fp_sketch_index(double v)
{
    if (!(v >= FP_SKETCH_MIN))
        return -1;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int exponent = (int)((bits >> 52) & 0x7FF) - 1023;
    uint64_t mantissa = bits & ((1ull << 52) - 1);
    unsigned top = (unsigned)(mantissa >> (52 - FP_SKETCH_TABLE_BITS));
    double frac = (double)(mantissa & ((1ull << (52 - FP_SKETCH_TABLE_BITS)) - 1)) *
                  (1.0 / (double)(1ull << (52 - FP_SKETCH_TABLE_BITS)));
    double lo = fp_sketch_log2_table[top], hi = fp_sketch_log2_table[top + 1];
    double log2v = exponent + lo + (hi - lo) * frac;
    double idx = (log2v - fp_sketch_log2_min) * fp_sketch_inv_log2_gamma;
    if (idx >= FP_SKETCH_BUCKETS - 1)
        return FP_SKETCH_BUCKETS - 1;
    return idx < 0 ? 0 : (int)idx;
}

static inline void fp_sketch_reset(struct fp_sketch *s)
{
    s->min = __builtin_inf();
    s->max = -__builtin_inf();
}

/* A merged sketch, in reader memory. */
struct fp_sketch_merged {
    double min, max;
    uint64_t below;
    uint64_t counts[FP_SKETCH_BUCKETS];
};

void fp_sketch_merge(struct fp_sketch_merged *into, const struct fp_sketch *from);
/* The q-quantile (0 <= q <= 1) of the rank floor(q * (n - 1)); NaN when empty. */
double fp_sketch_quantile(const struct fp_sketch_merged *s, double q);

#endif
