/*
 * test_series.c - series as fastprom.h documents fastprom_series,
 * fastprom_remove, fastprom_clear, fastprom_info and fastprom_state: label
 * values (UTF-8, length, NUL), handle identity, the per-family series
 * limit, a full segment (nothing recorded is lost), removal, info pairs and
 * statesets. Values are read back through the rendered JSON.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "support.h"

#define N(a) (sizeof(a) / sizeof *(a))
#define V(...) ((const char *const[]){__VA_ARGS__})
/* Label names as def() takes them: the array and its length. */
#define L(...) V(__VA_ARGS__), N(V(__VA_ARGS__))
#define SET_STATES(d, ...) ((d).states = V(__VA_ARGS__), (d).nstates = N(V(__VA_ARGS__)))

static fastprom_t *fp;
static fastprom_error_t err;

static void setup(void)
{
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .size = FASTPROM_MIN_SIZE};
    fp = fastprom_open(&opt, &err);
    ck_assert_msg(fp != NULL, "%s", err.text);
}

static void teardown(void)
{
    fastprom_close(fp);
}

static fastprom_family_def_t def(fastprom_type_t type, const char *name, const char *const *labels, size_t nlabels)
{
    return (fastprom_family_def_t){.type = type, .name = name, .label_names = labels, .nlabels = nlabels};
}

static fastprom_family_t *make(const fastprom_family_def_t *d)
{
    fastprom_family_t *f = fastprom_family(fp, d, &err);
    ck_assert_msg(f != NULL, "family %s refused: %s", d->name, err.text);
    return f;
}

static fastprom_series_t *series(fastprom_family_t *f, const char *const *values)
{
    fastprom_series_t *s = fastprom_series(f, values, NULL, &err);
    ck_assert_msg(s != NULL, "series refused: %s", err.text);
    return s;
}

static double counter_value(const char *family, const char *label, const char *value)
{
    json_t *root = render_json(fp);
    json_t *s = json_series(json_family(root, family), label ? 1 : 0, label, value);
    ck_assert_msg(s != NULL, "no series %s{%s=%s}", family, label ? label : "", value ? value : "");
    double v = json_member_number(s, "value");
    json_decref(root);
    return v;
}

static size_t series_count(fastprom_t *h, const char *family)
{
    json_t *root = render_json(h);
    json_t *f = json_family(root, family);
    ck_assert_msg(f != NULL, "no family %s", family);
    size_t n = json_array_size(json_object_get(f, "series"));
    json_decref(root);
    return n;
}

static fastprom_stat_t stat_of(fastprom_t *h)
{
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(h, &st, &err), 0);
    return st;
}

/* ---- series ------------------------------------------------------------------ */

START_TEST(series_refuses_invalid_utf8_naming_label_and_offset)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("method", "path"));
    fastprom_family_t *f = make(&d);
    ck_assert_ptr_null(fastprom_series(f, V("GET", "/ok\xff/x"), NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    ck_assert_msg(strstr(err.text, "path") && strstr(err.text, "offset 3"), "%s", err.text);
    ck_assert_ptr_null(fastprom_series(f, V("\xed\xa0\x80", "/"), NULL, &err));
    ck_assert_msg(strstr(err.text, "method") && strstr(err.text, "offset 0"), "%s", err.text);
    ck_assert_int_eq(fastprom_remove(f, V("GET", "\xc3"), NULL, &err), FASTPROM_EINVAL);
    ck_assert_uint_eq(stat_of(fp).series, 0);
}
END_TEST

START_TEST(series_refuses_values_over_4096_bytes)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("path"));
    fastprom_family_t *f = make(&d);
    static char v[FASTPROM_MAX_LABEL_VALUE + 2];
    memset(v, 'p', FASTPROM_MAX_LABEL_VALUE + 1);
    ck_assert_ptr_null(fastprom_series(f, (const char *const[]){v}, NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    ck_assert_msg(strstr(err.text, "path") && strstr(err.text, "4096"), "%s", err.text);
    v[FASTPROM_MAX_LABEL_VALUE] = '\0';
    ck_assert_int_eq(fastprom_inc(series(f, (const char *const[]){v}), 1), 0);
    json_t *root = render_json(fp);
    json_t *labels = json_object_get(json_array_get(json_object_get(json_family(root, "req"), "series"), 0), "labels");
    ck_assert_uint_eq(json_string_length(json_object_get(labels, "path")), FASTPROM_MAX_LABEL_VALUE);
    json_decref(root);
}
END_TEST

START_TEST(series_values_may_hold_nul_when_lengths_are_given)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("k"));
    fastprom_family_t *f = make(&d);
    const char *const ab[] = {"a\0b"}, *const ac[] = {"a\0c"};
    const size_t three[] = {3}, one[] = {1};
    fastprom_series_t *s_ab = fastprom_series(f, ab, three, &err), *s_ac = fastprom_series(f, ac, three, &err),
                      *s_a = fastprom_series(f, ab, one, &err);
    ck_assert_ptr_nonnull(s_ab);
    ck_assert_ptr_nonnull(s_ac);
    ck_assert_ptr_nonnull(s_a);
    ck_assert_ptr_ne(s_ab, s_ac);
    ck_assert_ptr_ne(s_ab, s_a);
    ck_assert_ptr_eq(fastprom_series(f, V("a"), NULL, &err), s_a); /* strlen("a") == 1 */
    fastprom_inc(s_ab, 1), fastprom_inc(s_ac, 2), fastprom_inc(s_a, 4);
    json_t *root = render_json(fp);
    json_t *list = json_object_get(json_family(root, "req"), "series");
    ck_assert_uint_eq(json_array_size(list), 3);
    double total_nul = 0;
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        json_t *v = json_object_get(json_object_get(s, "labels"), "k");
        if (json_string_length(v) == 3) {
            ck_assert(memcmp(json_string_value(v), "a\0", 2) == 0);
            total_nul += json_member_number(s, "value");
        } else {
            ck_assert_str_eq(json_string_value(v), "a");
            ck_assert_double_eq(json_member_number(s, "value"), 4);
        }
    }
    ck_assert_double_eq(total_nul, 3);
    json_decref(root);
}
END_TEST

START_TEST(same_values_give_the_same_handle)
{
    fastprom_family_def_t d = def(FASTPROM_GAUGE, "temp", L("room", "unit"));
    fastprom_family_t *f = make(&d);
    fastprom_series_t *a = series(f, V("kitchen", "c"));
    ck_assert_ptr_eq(series(f, V("kitchen", "c")), a);
    const size_t lens[] = {7, 1};
    ck_assert_ptr_eq(fastprom_series(f, V("kitchen", "c"), lens, &err), a);
    ck_assert_ptr_ne(series(f, V("kitchen", "f")), a);
    ck_assert_ptr_ne(series(f, V("kitche", "nc")), a); /* boundaries count */
    ck_assert_ptr_ne(series(f, V("", "kitchenc")), a);
    ck_assert_uint_eq(stat_of(fp).series, 4);

    fastprom_family_def_t nl = def(FASTPROM_COUNTER, "up", NULL, 0);
    fastprom_family_t *g = make(&nl);
    ck_assert_ptr_eq(series(g, NULL), series(g, NULL));
    ck_assert_ptr_null(fastprom_series(f, NULL, NULL, &err)); /* labels need values */
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    const char *with_null[] = {"kitchen", NULL};
    ck_assert_ptr_null(fastprom_series(f, with_null, NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
    ck_assert_ptr_null(fastprom_series(NULL, NULL, NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_EINVAL);
}
END_TEST

/* ---- limits ------------------------------------------------------------------- */

static uint64_t family_dropped(fastprom_t *h, const char *name)
{
    fp_snapshot_t snap;
    ck_assert_int_eq(fp_snapshot_take(h, &(fp_filter_t){.names = (const char *const[]){name}, .nnames = 1}, &snap,
                                      &err),
                     0);
    ck_assert_uint_eq(snap.nfamilies, 1);
    uint64_t n = snap.families[0].dropped_series;
    fp_snapshot_free(h, &snap);
    return n;
}

START_TEST(series_limit_refuses_new_values_and_keeps_existing_ones)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("user"));
    d.max_series = 3;
    fastprom_family_t *f = make(&d);
    fastprom_family_def_t o = def(FASTPROM_COUNTER, "other", L("k"));
    fastprom_family_t *other = make(&o);
    fastprom_series_t *s[3];
    const char *users[] = {"u0", "u1", "u2", "u3", "u4"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fastprom_inc(s[i] = series(f, &users[i]), i + 1), 0);
    ck_assert_ptr_null(fastprom_series(f, &users[3], NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_ELIMIT);
    ck_assert_msg(strstr(err.text, "req") && strstr(err.text, "3"), "%s", err.text);
    ck_assert_ptr_null(fastprom_series(f, &users[4], NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_ELIMIT);
    ck_assert_uint_eq(stat_of(fp).dropped_series, 2);
    ck_assert_uint_eq(family_dropped(fp, "req"), 2);
    ck_assert_uint_eq(family_dropped(fp, "other"), 0);
    /* Existing values still resolve and update; other families are not
     * limited by this one. */
    ck_assert_ptr_eq(series(f, &users[1]), s[1]);
    ck_assert_int_eq(fastprom_inc(s[1], 10), 0);
    for (int i = 0; i < 5; i++)
        series(other, &users[i]);
    ck_assert_double_eq(counter_value("req", "user", "u0"), 1);
    ck_assert_double_eq(counter_value("req", "user", "u1"), 12);
    ck_assert_double_eq(counter_value("req", "user", "u2"), 3);
    ck_assert_uint_eq(series_count(fp, "req"), 3);
    /* Removing one makes room for one. */
    ck_assert_int_eq(fastprom_remove(f, &users[0], NULL, &err), 0);
    series(f, &users[3]);
    ck_assert_ptr_null(fastprom_series(f, &users[4], NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_ELIMIT);
}
END_TEST

START_TEST(segment_family_limit_is_the_default_series_limit)
{
    fastprom_options_t opt = {.flags = FASTPROM_PRIVATE, .family_limit = 2};
    fastprom_t *h = fastprom_open(&opt, &err);
    ck_assert_ptr_nonnull(h);
    fastprom_family_def_t d = def(FASTPROM_GAUGE, "g", L("k"));
    fastprom_family_t *f = fastprom_family(h, &d, &err);
    ck_assert_ptr_nonnull(fastprom_series(f, V("a"), NULL, &err));
    ck_assert_ptr_nonnull(fastprom_series(f, V("b"), NULL, &err));
    ck_assert_ptr_null(fastprom_series(f, V("c"), NULL, &err));
    ck_assert_int_eq(err.code, FASTPROM_ELIMIT);
    d.name = "g_wide";
    d.max_series = 3;
    f = fastprom_family(h, &d, &err);
    for (const char *v = "abc"; *v; v++)
        ck_assert_ptr_nonnull(fastprom_series(f, (const char *const[]){(char[]){*v, 0}}, NULL, &err));
    fastprom_close(h);
}
END_TEST

/* Fills the metadata arena with series of long label values. */
START_TEST(full_segment_refuses_new_series_and_keeps_what_it_recorded)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("path"));
    fastprom_family_t *f = make(&d);
    static char v[3001];
    fastprom_series_t *made[200];
    int n = 0;
    for (;; n++) {
        ck_assert_int_lt(n, 200);
        char id[16];
        snprintf(id, sizeof id, "%05d/", n);
        memset(v, 'a' + n % 26, 3000);
        memcpy(v, id, 6);
        fastprom_series_t *s = fastprom_series(f, (const char *const[]){v}, NULL, &err);
        if (!s)
            break;
        ck_assert_int_eq(fastprom_inc(s, n + 1), 0);
        made[n] = s;
    }
    ck_assert_int_eq(err.code, FASTPROM_EFULL);
    ck_assert_msg(strstr(err.text, "full") && strstr(err.text, "req"), "%s", err.text);
    ck_assert_int_gt(n, 10);
    ck_assert_uint_eq(stat_of(fp).dropped_series, 1);
    ck_assert_uint_eq(family_dropped(fp, "req"), 0); /* a full segment is not the family's limit */
    /* Updating existing series still works; everything recorded renders. */
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(fastprom_inc(made[i], 1000), 0);
    json_t *root = render_json(fp);
    json_t *list = json_object_get(json_family(root, "req"), "series");
    ck_assert_uint_eq(json_array_size(list), (size_t)n);
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        int k = atoi(json_string_value(json_object_get(json_object_get(s, "labels"), "path")));
        ck_assert_double_eq(json_member_number(s, "value"), k + 1 + 1000);
    }
    json_decref(root);
}
END_TEST

/* Value blocks run out before series do: the updates that need a new cell
 * go to the series' shared fallback cells, counted, and nothing recorded
 * before or after is lost. */
START_TEST(full_segment_keeps_counting_in_shared_cells)
{
    double b[60];
    for (int i = 0; i < 60; i++)
        b[i] = i;
    fastprom_family_def_t d = def(FASTPROM_HISTOGRAM, "h", L("k"));
    d.buckets = b;
    d.nbuckets = 60;
    fastprom_family_t *f = make(&d);
    enum { MAX = 1000 };
    static fastprom_series_t *s[MAX];
    int n = 0;
    for (; n < MAX; n++) {
        char v[16];
        snprintf(v, sizeof v, "%d", n);
        if (!(s[n] = fastprom_series(f, (const char *const[]){v}, NULL, &err)))
            break;
    }
    ck_assert_int_eq(err.code, FASTPROM_EFULL);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(fastprom_observe(s[i], 0.5), 0);
    /* Series creation took every byte: no update found a block. */
    uint64_t shared = stat_of(fp).fallback_updates;
    ck_assert_uint_eq(shared, (uint64_t)n);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(fastprom_observe(s[i], 1.5), 0);
    ck_assert_uint_eq(stat_of(fp).fallback_updates, 2 * shared);
    ck_assert_uint_eq(stat_of(fp).dropped_updates, 0);
    json_t *root = render_json(fp);
    json_t *fam = json_family(root, "h");
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        json_t *ser = json_series(fam, 1, "k", v);
        ck_assert_ptr_nonnull(ser);
        ck_assert_double_eq(json_member_number(ser, "count"), 2);
        ck_assert_double_eq(json_member_number(ser, "sum"), 2);
    }
    json_decref(root);
}
END_TEST

/* ---- removal ------------------------------------------------------------------ */

START_TEST(removed_series_vanishes_and_comes_back_from_zero)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("code"));
    fastprom_family_t *f = make(&d);
    fastprom_series_t *old = series(f, V("500")), *kept = series(f, V("200"));
    fastprom_inc(old, 5), fastprom_inc(kept, 7);
    ck_assert_int_eq(fastprom_remove(f, V("500"), NULL, &err), 0);
    ck_assert_uint_eq(stat_of(fp).series, 1);
    json_t *root = render_json(fp);
    ck_assert_ptr_null(json_series(json_family(root, "req"), 1, "code", "500"));
    json_decref(root);
    ck_assert_double_eq(counter_value("req", "code", "200"), 7);
    /* The old handle accepts updates that go nowhere. */
    ck_assert_int_eq(fastprom_inc(old, 100), 0);
    ck_assert_uint_eq(series_count(fp, "req"), 1);
    fastprom_series_t *again = series(f, V("500"));
    ck_assert_double_eq(counter_value("req", "code", "500"), 0);
    ck_assert_int_eq(fastprom_inc(old, 100), 0);
    ck_assert_int_eq(fastprom_inc(again, 2), 0);
    ck_assert_double_eq(counter_value("req", "code", "500"), 2);
    ck_assert_ptr_eq(series(f, V("500")), again);
}
END_TEST

START_TEST(removed_gauge_and_histogram_restart_empty)
{
    fastprom_family_def_t g = def(FASTPROM_GAUGE, "g", L("k")), h = def(FASTPROM_HISTOGRAM, "h", L("k"));
    fastprom_family_t *gf = make(&g), *hf = make(&h);
    fastprom_series_t *gs = series(gf, V("x")), *hs = series(hf, V("x"));
    fastprom_set(gs, 42), fastprom_observe(hs, 3);
    ck_assert_int_eq(fastprom_remove(gf, V("x"), NULL, &err), 0);
    ck_assert_int_eq(fastprom_remove(hf, V("x"), NULL, &err), 0);
    fastprom_set(gs, 43), fastprom_observe(hs, 4);
    fastprom_series_t *g2 = series(gf, V("x")), *h2 = series(hf, V("x"));
    fastprom_inc(g2, 1), fastprom_observe(h2, 0.001);
    json_t *root = render_json(fp);
    ck_assert_double_eq(json_member_number(json_series(json_family(root, "g"), 1, "k", "x"), "value"), 1);
    json_t *hx = json_series(json_family(root, "h"), 1, "k", "x");
    ck_assert_double_eq(json_member_number(hx, "count"), 1);
    ck_assert_double_eq(json_member_number(hx, "sum"), 0.001);
    json_decref(root);
}
END_TEST

START_TEST(remove_of_an_unknown_series_is_enoent)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("code"));
    fastprom_family_t *f = make(&d);
    ck_assert_int_eq(fastprom_remove(f, V("404"), NULL, &err), FASTPROM_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.text, "req"));
    series(f, V("404"));
    ck_assert_int_eq(fastprom_remove(f, V("404"), NULL, &err), 0);
    ck_assert_int_eq(fastprom_remove(f, V("404"), NULL, &err), FASTPROM_ENOENT);
    ck_assert_int_eq(fastprom_remove(f, V("\xff"), NULL, &err), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_remove(NULL, V("404"), NULL, &err), FASTPROM_EINVAL);
}
END_TEST

START_TEST(clear_removes_every_series_of_the_family_only)
{
    fastprom_family_def_t d = def(FASTPROM_COUNTER, "req", L("code")), o = def(FASTPROM_COUNTER, "keep", NULL, 0);
    fastprom_family_t *f = make(&d), *other = make(&o);
    const char *codes[] = {"200", "404", "500"};
    for (int i = 0; i < 3; i++)
        fastprom_inc(series(f, &codes[i]), 1);
    fastprom_inc(series(other, NULL), 9);
    ck_assert_int_eq(fastprom_clear(f, &err), 0);
    ck_assert_uint_eq(series_count(fp, "req"), 0);
    ck_assert_uint_eq(stat_of(fp).series, 1);
    ck_assert_double_eq(counter_value("keep", NULL, NULL), 9);
    fastprom_inc(series(f, &codes[1]), 3);
    ck_assert_double_eq(counter_value("req", "code", "404"), 3);
    ck_assert_uint_eq(series_count(fp, "req"), 1);
    ck_assert_int_eq(fastprom_clear(NULL, &err), FASTPROM_EINVAL);
}
END_TEST

/* ---- info and stateset ----------------------------------------------------------- */

START_TEST(info_pairs_are_shown_and_repeats_cost_no_space)
{
    fastprom_family_def_t d = def(FASTPROM_INFO, "build", L("service"));
    fastprom_family_t *f = make(&d);
    fastprom_series_t *s = series(f, V("api"));
    const fastprom_label_t v1[] = {{"version", "1.2.3"}, {"commit", "abc"}};
    ck_assert_int_eq(fastprom_info(s, v1, 2, &err), 0);
    uint64_t used = stat_of(fp).used;
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(fastprom_info(s, v1, 2, &err), 0);
    ck_assert_uint_eq(stat_of(fp).used, used);
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE build_info gauge\nbuild_info{service=\"api\",version=\"1.2.3\",commit=\"abc\"} 1\n");
    free(text);

    const fastprom_label_t v2[] = {{"version", "1.2.4"}, {"commit", "abd"}};
    ck_assert_int_eq(fastprom_info(s, v2, 2, &err), 0);
    ck_assert_uint_gt(stat_of(fp).used, used);
    json_t *root = render_json(fp);
    json_t *info = json_object_get(json_series(json_family(root, "build"), 1, "service", "api"), "info");
    ck_assert_uint_eq(json_object_size(info), 2);
    ck_assert_str_eq(json_string_value(json_object_get(info, "version")), "1.2.4");
    ck_assert_str_eq(json_string_value(json_object_get(info, "commit")), "abd");
    json_decref(root);
    ck_assert_int_eq(fastprom_info(s, NULL, 0, &err), 0);
    text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_str_eq(text, "# TYPE build_info gauge\nbuild_info{service=\"api\"} 1\n");
    free(text);
}
END_TEST

START_TEST(info_refuses_bad_keys_and_values)
{
    fastprom_family_def_t d = def(FASTPROM_INFO, "build", L("service"));
    fastprom_series_t *s = series(make(&d), V("api"));
    const fastprom_label_t good[] = {{"version", "1"}};
    ck_assert_int_eq(fastprom_info(s, good, 1, &err), 0);
    const fastprom_label_t clash[] = {{"service", "x"}}, bad_key[] = {{"1x", "v"}}, reserved[] = {{"__x", "v"}},
                           twice[] = {{"a", "1"}, {"a", "2"}}, bad_value[] = {{"a", "\xc0\xaf"}},
                           null_value[] = {{"a", NULL}}, null_key[] = {{NULL, "v"}};
    struct {
        const fastprom_label_t *p;
        size_t n;
        const char *fragment;
    } cases[] = {{clash, 1, "service"}, {bad_key, 1, "1x"},    {reserved, 1, "__x"}, {twice, 2, "a"},
                 {bad_value, 1, "a"},   {null_value, 1, NULL}, {null_key, 1, NULL}};
    for (size_t i = 0; i < N(cases); i++) {
        ck_assert_int_eq(fastprom_info(s, cases[i].p, cases[i].n, &err), FASTPROM_EINVAL);
        ck_assert_uint_gt(strlen(err.text), 0);
        if (cases[i].fragment)
            ck_assert_msg(strstr(err.text, cases[i].fragment), "%s", err.text);
    }
    char *text = render_or_fail(fp, FASTPROM_FORMAT_TEXT, 0);
    ck_assert_ptr_nonnull(strstr(text, "build_info{service=\"api\",version=\"1\"} 1\n"));
    free(text);
    fastprom_family_def_t c = def(FASTPROM_COUNTER, "c", NULL, 0);
    /* Regression: NULL pairs with a count crashed instead of refusing. */
    ck_assert_int_eq(fastprom_info(s, NULL, 2, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "NULL"));
    ck_assert_int_eq(fastprom_info(series(make(&c), NULL), good, 1, &err), FASTPROM_EINVAL);
}
END_TEST

START_TEST(stateset_shows_exactly_the_state_set_last)
{
    fastprom_family_def_t d = def(FASTPROM_STATESET, "phase", L("svc"));
    SET_STATES(d, "starting", "ready", "draining");
    fastprom_series_t *s = series(make(&d), V("api"));
    /* Until a state is set, the first one is (prometheus_client's Enum). */
    char *text = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_str_eq(text, "# TYPE phase stateset\n"
                           "phase{svc=\"api\",phase=\"starting\"} 1\n"
                           "phase{svc=\"api\",phase=\"ready\"} 0\n"
                           "phase{svc=\"api\",phase=\"draining\"} 0\n"
                           "# EOF\n");
    free(text);
    ck_assert_int_eq(fastprom_state(s, 1), 0);
    ck_assert_int_eq(fastprom_state(s, 2), 0);
    ck_assert_int_eq(fastprom_state(s, 3), FASTPROM_EINVAL);
    ck_assert_int_eq(fastprom_state(s, UINT32_MAX), FASTPROM_EINVAL);
    text = render_or_fail(fp, FASTPROM_FORMAT_OPENMETRICS, 0);
    ck_assert_str_eq(text, "# TYPE phase stateset\n"
                           "phase{svc=\"api\",phase=\"starting\"} 0\n"
                           "phase{svc=\"api\",phase=\"ready\"} 0\n"
                           "phase{svc=\"api\",phase=\"draining\"} 1\n"
                           "# EOF\n");
    free(text);
    fastprom_family_def_t c = def(FASTPROM_COUNTER, "c", NULL, 0);
    ck_assert_int_eq(fastprom_state(series(make(&c), NULL), 0), FASTPROM_EINVAL);
}
END_TEST

static Suite *series_suite(void)
{
    Suite *s = suite_create("series");
    TCase *tc = tcase_create("series");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, series_refuses_invalid_utf8_naming_label_and_offset);
    tcase_add_test(tc, series_refuses_values_over_4096_bytes);
    tcase_add_test(tc, series_values_may_hold_nul_when_lengths_are_given);
    tcase_add_test(tc, same_values_give_the_same_handle);
    tcase_add_test(tc, series_limit_refuses_new_values_and_keeps_existing_ones);
    tcase_add_test(tc, segment_family_limit_is_the_default_series_limit);
    tcase_add_test(tc, full_segment_refuses_new_series_and_keeps_what_it_recorded);
    tcase_add_test(tc, full_segment_keeps_counting_in_shared_cells);
    tcase_add_test(tc, removed_series_vanishes_and_comes_back_from_zero);
    tcase_add_test(tc, removed_gauge_and_histogram_restart_empty);
    tcase_add_test(tc, remove_of_an_unknown_series_is_enoent);
    tcase_add_test(tc, clear_removes_every_series_of_the_family_only);
    tcase_add_test(tc, info_pairs_are_shown_and_repeats_cost_no_space);
    tcase_add_test(tc, info_refuses_bad_keys_and_values);
    tcase_add_test(tc, stateset_shows_exactly_the_state_set_last);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(series_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
