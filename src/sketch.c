/*
 * sketch.c - table set-up, merging and quantile queries of the summary
 * sketch (see sketch.h for the design and its error bound).
 */
#include <math.h>
#include <pthread.h>

#include "sketch.h"

float fp_sketch_log2_table[(1 << FP_SKETCH_TABLE_BITS) + 1];
double fp_sketch_inv_log2_gamma;
double fp_sketch_log2_min;

static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (int i = 0; i <= (1 << FP_SKETCH_TABLE_BITS); i++)
        fp_sketch_log2_table[i] = (float)log2(1.0 + (double)i / (1 << FP_SKETCH_TABLE_BITS));
    fp_sketch_inv_log2_gamma = 1.0 / log2(FP_SKETCH_GAMMA);
    fp_sketch_log2_min = log2(FP_SKETCH_MIN);
}

void fp_sketch_init(void)
{
    pthread_once(&tables_once, build_tables);
}

void fp_sketch_merge(struct fp_sketch_merged *into, const struct fp_sketch *from)
{
    double mn = from->min, mx = from->max;
    if (mn < into->min)
        into->min = mn;
    if (mx > into->max)
        into->max = mx;
    into->below += from->below;
    for (int i = 0; i < FP_SKETCH_BUCKETS; i++)
        into->counts[i] += from->counts[i];
}

/* The value that represents bucket i: within (gamma-1)/(gamma+1) of every
 * value the bucket can hold. */
static double bucket_value(int i)
{
    double lower = FP_SKETCH_MIN * exp2(i / fp_sketch_inv_log2_gamma);
    return lower * 2.0 * FP_SKETCH_GAMMA / (FP_SKETCH_GAMMA + 1.0);
}

double fp_sketch_quantile(const struct fp_sketch_merged *s, double q)
{
    fp_sketch_init(); /* a reader may never have defined a summary itself */
    uint64_t n = s->below;
    for (int i = 0; i < FP_SKETCH_BUCKETS; i++)
        n += s->counts[i];
    if (n == 0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    uint64_t rank = (uint64_t)floor(q * (double)(n - 1));
    if (rank < s->below)
        return s->min;
    uint64_t seen = s->below;
    double v = s->max;
    for (int i = 0; i < FP_SKETCH_BUCKETS; i++) {
        seen += s->counts[i];
        if (rank < seen) {
            /* The top bucket also holds everything above the range. */
            v = i == FP_SKETCH_BUCKETS - 1 ? s->max : bucket_value(i);
            break;
        }
    }
    if (v < s->min)
        v = s->min;
    if (v > s->max)
        v = s->max;
    return v;
}
