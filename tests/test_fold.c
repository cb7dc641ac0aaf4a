/*
 * test_fold.c - folding dead writers into the retained totals (fold.c) never
 * changes a rendered value, fractional ones included.
 *
 * The bug these tests are named after: a counter's fractional increments, and
 * every histogram and summary _sum, were summed in floating point, and a fold
 * re-associates that sum (the dead writer's cell joins the retained total
 * before the live cells are added), so a value could read one ulp lower after
 * a worker was recycled: a counter reset to Prometheus, and a rate(_sum)
 * spike of the whole value. Here writers with awkward increments (0.1, 1e-3,
 * 1/3, 1e15 + 0.5, negatives for observations) die and are folded one by one
 * in several orders, and every rendered value must stay the same, bit for
 * bit, and equal the correctly rounded sum of the writers' cells. Also with
 * a segment short of writer slots, where the last writers (and the parent)
 * record in the series' shared fallback cells.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fastprom.h"
#include "support.h"

#define WRITERS 6
#define ORDERS 4

enum kind { COUNTER, HISTOGRAM, SUMMARY };

static const int orders[ORDERS][WRITERS] = {
    {0, 1, 2, 3, 4, 5},
    {5, 4, 3, 2, 1, 0},
    {2, 5, 0, 3, 1, 4},
    {3, 0, 4, 1, 5, 2},
};

/* Counter increments: integral ones go to the integer cell, the rest to the
 * floating-point one. (With these, today's floating-point sums changed in 11
 * of the 24 fold steps below.) */
static const double counter_incs[] = {0.1, 1e-3, 1.0 / 3, 1e15 + 0.5, 1, 0.7, 2.5e-7, 3, 0.0625};
/* Observations: any sign. */
static const double observations[] = {0.1, 1e-3, 1.0 / 3, 1e15 + 0.5, -0.3, 2.5e-7, 0.0625, -1e15, 7};
#define NINCS (sizeof counter_incs / sizeof counter_incs[0])
#define NOBS (sizeof observations / sizeof observations[0])

/* Writer w's i-th update (the parent is writer WRITERS). */
static double update_value(enum kind k, int w, int i)
{
    return k == COUNTER ? counter_incs[(i * (2 * w + 1) + w) % NINCS] : observations[(i * (2 * w + 1) + w) % NOBS];
}

static int updates_of(int w)
{
    return 40 + 13 * w;
}

static fastprom_series_t *define(fastprom_t *fp, enum kind k)
{
    static const double bounds[] = {0.01, 1};
    static const double quantiles[] = {0.5};
    fastprom_family_def_t d = {.help = "test"};
    switch (k) {
    case COUNTER: d.type = FASTPROM_COUNTER, d.name = "fold_total"; break;
    case HISTOGRAM: d.type = FASTPROM_HISTOGRAM, d.name = "fold_seconds", d.buckets = bounds, d.nbuckets = 2; break;
    case SUMMARY:
        d.type = FASTPROM_SUMMARY, d.name = "fold_summary_seconds", d.buckets = quantiles, d.nbuckets = 1;
        break;
    }
    fastprom_error_t err;
    fastprom_family_t *f = fastprom_family(fp, &d, &err);
    fastprom_series_t *s = f ? fastprom_series(f, NULL, NULL, &err) : NULL;
    if (!s) {
        fprintf(stderr, "define: %s\n", err.text);
        _exit(91);
    }
    return s;
}

static void record(fastprom_series_t *s, enum kind k, int w)
{
    for (int i = 0; i < updates_of(w); i++) {
        double v = update_value(k, w, i);
        int rc = k == COUNTER ? fastprom_inc(s, v) : fastprom_observe(s, v);
        if (rc) {
            fprintf(stderr, "update %g: %d\n", v, rc);
            _exit(92);
        }
    }
}

/* Adds writer w's updates to cells as update.c does: integral increments to
 * one integer, the rest left to right to one double. */
static void add_to_cells(enum kind k, int w, double *integral, double *fractional)
{
    for (int i = 0; i < updates_of(w); i++) {
        double v = update_value(k, w, i);
        if (k == COUNTER && v < 9007199254740992.0 && v == (double)(uint64_t)v)
            *integral += v;
        else
            *fractional += v;
    }
}

/* The value the reader must show: the correctly rounded sum of every
 * writer's cells (the integral parts are small integers, exact in a double).
 * Writers from `own` on found no slot: they, one after the other, and then
 * the parent updated the shared cells. */
static double expected(enum kind k, int own)
{
    double terms[2 * (WRITERS + 2)] = {0};
    size_t n = 0;
    for (int w = 0; w < own; w++, n += 2)
        add_to_cells(k, w, &terms[n], &terms[n + 1]);
    for (int w = own; w <= WRITERS; w++)
        add_to_cells(k, w, &terms[n], &terms[n + 1]);
    return exact_sum(terms, n + 2);
}

/* The sample line of the counter's total or the _sum, as rendered. */
static void rendered_line(fastprom_t *fp, enum kind k, char *out, size_t cap)
{
    static const char *const prefix[] = {"fold_total ", "fold_seconds_sum ", "fold_summary_seconds_sum "};
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    const char *at = strstr(text, prefix[k]);
    for (; at && at != text && at[-1] != '\n'; at = strstr(at + 1, prefix[k]))
        ;
    ck_assert_msg(at, "no line %s in:\n%s", prefix[k], text);
    size_t len = strcspn(at, "\n");
    ck_assert_uint_lt(len, cap);
    memcpy(out, at, len);
    out[len] = 0;
    free(text);
}

static double line_value(const char *line)
{
    return strtod(strchr(line, ' ') + 1, NULL);
}

static void kill_and_reap(pid_t pid)
{
    int status;
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Writers 0..WRITERS-1 record, one after the other (so slot order, and the
 * order a floating-point reader would add them in, is fixed), and wait to be
 * killed; the parent records as writer WRITERS and stays live. Then they die in `order`, and each is
 * folded on its own: before the fold (a dead, unfolded slot), after it, and
 * at every step the line must be exactly what it was with all live. */
static void run_order(enum kind k, const int *order, uint32_t slots)
{
    fastprom_options_t opt = {.path = tmp_segment_path(), .size = FASTPROM_MIN_SIZE, .max_slots = slots};
    fastprom_error_t err;
    fastprom_t *fp = fastprom_open(&opt, &err);
    ck_assert_msg(fp, "open: %s", err.text);
    fastprom_series_t *s = define(fp, k);
    int ready[2], hold[2];
    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(hold), 0);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        if ((pids[w] = fork()) == 0) {
            close(hold[1]);
            record(s, k, w);
            char x = 1;
            if (write(ready[1], &x, 1) != 1)
                _exit(93);
            for (;;)
                if (read(hold[0], &x, 1) <= 0)
                    pause(); /* the parent never writes: wait for SIGKILL */
        }
        ck_assert_int_gt(pids[w], 0);
        char x;
        ck_assert_int_eq(read(ready[0], &x, 1), 1);
    }
    record(s, k, WRITERS);

    char first[256], line[256];
    rendered_line(fp, k, first, sizeof first);
    int own = slots && slots < WRITERS ? (int)slots : WRITERS;
    double want = expected(k, own), got = line_value(first);
    ck_assert_msg(memcmp(&got, &want, sizeof got) == 0, "all live: %s, the exact sum of the cells is %.17g", first,
                  want);
    for (int j = 0; j < WRITERS; j++) {
        kill_and_reap(pids[order[j]]);
        rendered_line(fp, k, line, sizeof line);
        ck_assert_msg(!strcmp(line, first), "writer %d dead, not folded: %s, was %s", order[j], line, first);
        int folded = fastprom_collect_dead(fp, &err);
        ck_assert_msg(folded == (order[j] < own), "fold of writer %d: %d (%s)", order[j], folded, err.text);
        rendered_line(fp, k, line, sizeof line);
        ck_assert_msg(!strcmp(line, first), "writer %d folded (step %d): %s, was %s", order[j], j, line, first);
    }
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, &err), 0);
    ck_assert_msg((st.fallback_updates > 0) == (own < WRITERS), "fallback updates: %llu",
                  (unsigned long long)st.fallback_updates);
    close(ready[0]), close(ready[1]), close(hold[0]), close(hold[1]);
    fastprom_close(fp);
    unlink(opt.path);
}

/* Every order with a slot for everyone, then with slots for only three
 * writers (the others and the parent use the shared fallback cells). */
static void run_all_orders(enum kind k)
{
    for (int o = 0; o < ORDERS; o++) {
        run_order(k, orders[o], 0);
        run_order(k, orders[o], 3);
    }
}

START_TEST(fold_does_not_lower_fractional_counter)
{
    run_all_orders(COUNTER);
}
END_TEST

START_TEST(fold_does_not_lower_histogram_sum)
{
    run_all_orders(HISTOGRAM);
}
END_TEST

START_TEST(fold_does_not_lower_summary_sum)
{
    run_all_orders(SUMMARY);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fold");
    TCase *t = tcase_create("fold");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, fold_does_not_lower_fractional_counter);
    tcase_add_test(t, fold_does_not_lower_histogram_sum);
    tcase_add_test(t, fold_does_not_lower_summary_sum);
    suite_add_tcase(s, t);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
