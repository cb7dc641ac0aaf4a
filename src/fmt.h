/*
 * fmt.h - number formatting for expositions: shortest round-trip doubles
 * (the fewest significant digits that strtod() reads back as the same
 * double), never printf's %g.
 */
#ifndef FASTPROM_FMT_H
#define FASTPROM_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for any output of the functions below, NUL included. out must
 * really have it: fp_fmt_bound/fp_fmt_value may write all FP_FMT_MAX
 * bytes (bytes after the NUL are scratch). */
#define FP_FMT_MAX 32

/*
 * Shortest round-trip digits of a finite, non-zero |v|: writes the decimal
 * digits (no dot, no sign, no trailing zeros) to digits and returns their
 * count (1..17); *exp10 is set so that |v| == 0.d1d2d3... * 10^(*exp10).
 */
int fp_fmt_shortest(double v, char digits[18], int *exp10);

/*
 * A bound for an le="" or quantile="" label, in the canonical form Python's
 * prometheus_client writes (floatToGoString): "NaN", "+Inf", "-Inf";
 * otherwise Python's repr() of the shortest round-trip digits, i.e. with
 * x the decimal exponent of v = d.ddd * 10^x:
 *   fixed notation, always with a fractional part ("1.0", "0.005",
 *   "123456.5", "-2500000.0"), when -4 <= x < 16, and for positive v only
 *   when x < 6;
 *   scientific otherwise: the digits with a dot after the first only when
 *   there are more ("1e-05", "2.5e+06", "1e+16"), exponent signed and at
 *   least two digits.
 * (prometheus_client writes "e+010" for 1e10..1e15: a bug not copied.)
 * Returns the length; NUL-terminates.
 */
size_t fp_fmt_bound(double v, char out[FP_FMT_MAX]);

/*
 * A sample value: integral values with |v| < 2^53 as integers ("0", "-3",
 * "1234567"; -0.0 as "-0"), everything else exactly as fp_fmt_bound.
 */
size_t fp_fmt_value(double v, char out[FP_FMT_MAX]);

/* Unsigned decimal. */
size_t fp_fmt_u64(uint64_t v, char out[FP_FMT_MAX]);

/*
 * Unix seconds (_created, exemplar timestamps): the shortest round-trip
 * digits in fixed notation ("1700000000.25"), as readers of timestamps
 * expect, where fp_fmt_value would switch to an exponent. Integral values,
 * and values outside [1e-4, 1e15) (no plausible time), as fp_fmt_value.
 */
size_t fp_fmt_seconds(double v, char out[FP_FMT_MAX]);

#endif
