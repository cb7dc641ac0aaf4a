/*
 * exact_sum.c - the correctly rounded sum of a list of doubles, computed the
 * way Python's math.fsum does (Shewchuk's non-overlapping partials, then one
 * rounding with the half-way correction). Tests compare the library's sums
 * with it: it shares no code or method with the library's fixed point.
 */
#include <check.h>
#include <math.h>

#include "support.h"

#define MAX_PARTIALS 128

double exact_sum(const double *x, size_t n)
{
    double p[MAX_PARTIALS];
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        size_t k = 0;
        for (size_t j = 0; j < np; j++) {
            double y = p[j];
            if (fabs(v) < fabs(y)) {
                double t = v;
                v = y;
                y = t;
            }
            double hi = v + y;
            double lo = y - (hi - v);
            if (lo != 0.0)
                p[k++] = lo;
            v = hi;
        }
        ck_assert_uint_lt(k, MAX_PARTIALS);
        np = k;
        p[np++] = v;
    }
    if (np == 0)
        return 0.0;
    /* From the largest partial down, until a rounding error appears; then
     * the next partial says whether that error was a tie to break away. */
    size_t j = np - 1;
    double hi = p[j], lo = 0.0;
    while (j > 0) {
        double v = hi, y = p[--j];
        hi = v + y;
        lo = y - (hi - v);
        if (lo != 0.0)
            break;
    }
    if (j > 0 && ((lo < 0 && p[j - 1] < 0) || (lo > 0 && p[j - 1] > 0))) {
        double y = lo * 2, v = hi + y;
        if (y == v - hi)
            hi = v;
    }
    return hi;
}
