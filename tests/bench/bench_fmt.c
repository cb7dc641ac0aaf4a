/*
 * bench_fmt.c - what writing one sample value costs: fp_fmt_value against
 * snprintf("%.17g") (the correct-but-slow way, our anchor), measured in
 * the same run over the same numbers, for integers (counters) and for
 * non-integral doubles (sums, gauges, latencies).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fmt.h"

#define COUNT 16384
#define PASSES 40

static double numbers[COUNT];
static volatile size_t sink;

static uint64_t rng_state = UINT64_C(0x0123456789abcdef);

static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void fill_integers(void)
{
    for (int i = 0; i < COUNT; i++)
        numbers[i] = (double)(rng() % 10000000);
}

static void fill_random_bits(void)
{
    for (int i = 0; i < COUNT;) {
        uint64_t b = rng();
        double v;
        memcpy(&v, &b, sizeof v);
        if (isfinite(v) && v != nearbyint(v))
            numbers[i++] = v;
    }
}

static void fill_latencies(void)
{
    for (int i = 0; i < COUNT; i++)
        numbers[i] = (double)(rng() >> 11) / 9007199254740992.0 * 10.0;
}

static size_t format_fastprom(void)
{
    char out[FP_FMT_MAX];
    size_t total = 0;
    for (int i = 0; i < COUNT; i++)
        total += fp_fmt_value(numbers[i], out) + (size_t)out[0];
    return total;
}

static size_t format_printf(void)
{
    char out[32];
    size_t total = 0;
    for (int i = 0; i < COUNT; i++)
        total += (size_t)snprintf(out, sizeof out, "%.17g", numbers[i]) + (size_t)out[0];
    return total;
}

static double elapsed_ns(size_t (*format)(void))
{
    double start = now_ns();
    sink += format();
    return now_ns() - start;
}

/* Alternating passes, best of each: the least disturbed by other processes
 * on this machine, and both sides see the same conditions. */
static void measure(const char *what, void (*fill)(void))
{
    double ours = INFINITY, anchor = INFINITY;
    fill();
    for (int pass = 0; pass < PASSES; pass++) {
        ours = fmin(ours, elapsed_ns(format_fastprom));
        anchor = fmin(anchor, elapsed_ns(format_printf));
    }
    ours /= COUNT;
    anchor /= COUNT;
    printf("%-36s %9.1f %9.1f %8.1fx\n", what, ours, anchor, anchor / ours);
}

int main(void)
{
    char probe[FP_FMT_MAX];
    fp_fmt_value(0.1, probe); /* builds the power table outside the timing */
    printf("fp_fmt_value vs snprintf(\"%%.17g\"): ns per number, best of %d passes over %d numbers\n", PASSES, COUNT);
    printf("%-36s %9s %9s %9s\n", "numbers", "fastprom", "%.17g", "speedup");
    measure("integers below 1e7", fill_integers);
    measure("non-integral, random bit patterns", fill_random_bits);
    measure("non-integral, uniform in [0, 10)", fill_latencies);
    return 0;
}
