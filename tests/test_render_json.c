/*
 * test_render_json.c - the JSON renderer: its output read back with jansson
 * (json_loadb) and every field of the schema in render_json.c asserted, on
 * snapshots built by hand (render_fixture.h).
 */
#include <jansson.h>

#include "render_fixture.h"

static json_t *render_json(const char *prefix, unsigned flags)
{
    size_t len;
    char *out = render_n(JSON, prefix, flags, &len);
    json_error_t jerr;
    json_t *root = json_loadb(out, len, JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(root != NULL, "JSON does not parse: %s at %d: %.200s", jerr.text, jerr.position, out);
    free(out);
    return root;
}

static json_t *get(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "no \"%s\" in %s", key, json_dumps(obj, JSON_COMPACT));
    return v;
}

static json_t *at(json_t *arr, size_t i)
{
    ck_assert_msg(json_is_array(arr) && i < json_array_size(arr), "no [%zu]", i);
    return json_array_get(arr, i);
}

static void assert_json_str(json_t *v, const char *expected)
{
    ck_assert_msg(json_is_string(v), "not a string");
    ck_assert_str_eq(json_string_value(v), expected);
}

static void assert_json_int(json_t *v, json_int_t expected)
{
    ck_assert_msg(json_is_integer(v), "not an integer");
    ck_assert_int_eq(json_integer_value(v), expected);
}

static void assert_json_real(json_t *v, double expected)
{
    ck_assert_msg(json_is_real(v), "not a real");
    ck_assert_msg(json_real_value(v) == expected && signbit(json_real_value(v)) == signbit(expected), "%.17g != %.17g",
                  json_real_value(v), expected);
}

START_TEST(empty_snapshot_has_no_families)
{
    size_t len;
    char *out = render_n(JSON, NULL, 0, &len);
    ck_assert_str_eq(out, "{\"families\":[]}");
    free(out);
}
END_TEST

START_TEST(counter_family_and_series)
{
    fp_snap_family_t *f = family(FASTPROM_COUNTER, "http_requests", "Requests \"served\".", LABELS("method", "code"));
    f->unit = str("requests");
    f->flags = FASTPROM_EXEMPLARS;
    fp_snap_series_t *s = series(f, (const char *[]){"GET", "200"});
    s->value = 1027;
    s->created = 1700000000.5;
    set_exemplar(with_exemplars(f, s), 0.25, 1700000001, 1, (const char *[]){"trace_id"}, (const char *[]){"t"});
    series(f, (const char *[]){"POST", "500"})->value = 0.5;

    json_t *root = render_json("app_", FASTPROM_RENDER_CREATED);
    ck_assert_uint_eq(json_array_size(get(root, "families")), 1);
    json_t *fam = at(get(root, "families"), 0);
    assert_json_str(get(fam, "name"), "app_http_requests");
    assert_json_str(get(fam, "type"), "counter");
    assert_json_str(get(fam, "help"), "Requests \"served\".");
    assert_json_str(get(fam, "unit"), "requests");
    ck_assert_uint_eq(json_array_size(get(fam, "labels")), 2);
    assert_json_str(at(get(fam, "labels"), 0), "method");
    assert_json_str(at(get(fam, "labels"), 1), "code");
    ck_assert_ptr_null(json_object_get(fam, "gauge_mode"));
    json_t *list = get(fam, "series");
    ck_assert_uint_eq(json_array_size(list), 2);
    json_t *first = at(list, 0);
    assert_json_str(get(get(first, "labels"), "method"), "GET");
    assert_json_str(get(get(first, "labels"), "code"), "200");
    assert_json_int(get(first, "value"), 1027);
    assert_json_real(get(first, "created"), 1700000000.5);
    json_t *ex = get(first, "exemplar");
    assert_json_str(get(get(ex, "labels"), "trace_id"), "t");
    assert_json_real(get(ex, "value"), 0.25);
    assert_json_int(get(ex, "timestamp"), 1700000001);
    json_t *second = at(list, 1);
    assert_json_real(get(second, "value"), 0.5);
    ck_assert_ptr_null(json_object_get(second, "exemplar"));
    json_decref(root);

    root = render_json(NULL, 0);
    fam = at(get(root, "families"), 0);
    assert_json_str(get(fam, "name"), "http_requests");
    ck_assert_ptr_null(json_object_get(at(get(fam, "series"), 0), "created"));
    json_decref(root);
}
END_TEST

START_TEST(gauges_by_mode)
{
    fp_snap_family_t *g = family(FASTPROM_GAUGE, "depth", "", LABELS("q"));
    g->gauge_mode = FASTPROM_GAUGE_MAX;
    series(g, (const char *[]){"a"})->value = 7;
    series(g, (const char *[]){"b"})->has_value = 0;
    fp_snap_family_t *all = family(FASTPROM_GAUGE, "rss", "", LABELS("pool"));
    all->gauge_mode = FASTPROM_GAUGE_ALL;
    set_pids(series(all, (const char *[]){"web"}), 2, (fp_snap_pid_value_t[]){{101, 1.5}, {202, 3}});

    json_t *root = render_json(NULL, 0);
    json_t *fams = get(root, "families");
    json_t *depth = at(fams, 0);
    assert_json_str(get(depth, "gauge_mode"), "max");
    ck_assert_uint_eq(json_array_size(get(depth, "series")), 1); /* b has no value */
    assert_json_int(get(at(get(depth, "series"), 0), "value"), 7);
    json_t *rss = at(fams, 1);
    assert_json_str(get(rss, "gauge_mode"), "all");
    json_t *list = get(rss, "series");
    ck_assert_uint_eq(json_array_size(list), 2);
    assert_json_str(get(get(at(list, 0), "labels"), "pool"), "web");
    assert_json_str(get(get(at(list, 0), "labels"), "pid"), "101");
    assert_json_real(get(at(list, 0), "value"), 1.5);
    assert_json_str(get(get(at(list, 1), "labels"), "pid"), "202");
    assert_json_int(get(at(list, 1), "value"), 3);
    json_decref(root);
}
END_TEST

START_TEST(histogram_buckets_are_cumulative)
{
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "lat_seconds", "", NO_LABELS);
    h->flags = FASTPROM_EXEMPLARS;
    set_bounds(h, 3, (double[]){1e-05, 0.5, 1});
    fp_snap_series_t *s = series(h, NULL);
    set_buckets(s, 4, (uint64_t[]){1, 2, 0, 3});
    s->count = 999; /* count is the +Inf bucket */
    s->sum = 0.30000000000000004;
    s->created = 12;
    set_exemplar(&with_exemplars(h, s)[3], 7, 1, 1, (const char *[]){"id"}, (const char *[]){"x"});

    json_t *root = render_json(NULL, FASTPROM_RENDER_CREATED);
    json_t *obj = at(get(at(get(root, "families"), 0), "series"), 0);
    json_t *buckets = get(obj, "buckets");
    ck_assert_uint_eq(json_array_size(buckets), 4);
    const char *le[] = {"1e-05", "0.5", "1.0", "+Inf"};
    const json_int_t cumulative[] = {1, 3, 3, 6};
    for (size_t i = 0; i < 4; i++) {
        assert_json_str(get(at(buckets, i), "le"), le[i]);
        assert_json_int(get(at(buckets, i), "count"), cumulative[i]);
        ck_assert(i == 3 || json_object_get(at(buckets, i), "exemplar") == NULL);
    }
    assert_json_str(get(get(get(at(buckets, 3), "exemplar"), "labels"), "id"), "x");
    assert_json_int(get(obj, "count"), 6);
    assert_json_real(get(obj, "sum"), 0.1 + 0.2);
    assert_json_int(get(obj, "created"), 12);
    json_decref(root);
}
END_TEST

START_TEST(summary_nan_quantiles_are_strings)
{
    fp_snap_family_t *f = family(FASTPROM_SUMMARY, "rpc", "", NO_LABELS);
    set_bounds(f, 2, (double[]){0.5, 0.99});
    fp_snap_series_t *s = series(f, NULL);
    s->quantiles[1] = 2.5;
    s->count = 3;
    s->sum = 4.5;

    json_t *root = render_json(NULL, 0);
    json_t *obj = at(get(at(get(root, "families"), 0), "series"), 0);
    assert_json_int(get(obj, "count"), 3);
    assert_json_real(get(obj, "sum"), 4.5);
    json_t *q = get(obj, "quantiles");
    ck_assert_uint_eq(json_array_size(q), 2);
    assert_json_str(get(at(q, 0), "quantile"), "0.5");
    assert_json_str(get(at(q, 0), "value"), "NaN");
    assert_json_str(get(at(q, 1), "quantile"), "0.99");
    assert_json_real(get(at(q, 1), "value"), 2.5);
    json_decref(root);
}
END_TEST

START_TEST(stateset_and_info)
{
    fp_snap_family_t *st = family(FASTPROM_STATESET, "mode", "", LABELS("unit"));
    set_states(st, 3, (const char *[]){"a", "b", "c"});
    series(st, (const char *[]){"u1"})->state = 1;
    series(st, (const char *[]){"u2"});
    fp_snap_family_t *info = family(FASTPROM_INFO, "build", "", NO_LABELS);
    set_info(series(info, NULL), 2, (const char *[]){"version", "commit"}, (const char *[]){"1.0", "abc"});

    json_t *root = render_json(NULL, 0);
    json_t *fams = get(root, "families");
    json_t *list = get(at(fams, 0), "series");
    json_t *states = get(at(list, 0), "states");
    assert_json_int(get(states, "a"), 0);
    assert_json_int(get(states, "b"), 1);
    assert_json_int(get(states, "c"), 0);
    ck_assert_uint_eq(json_object_size(states), 3);
    assert_json_int(get(get(at(list, 1), "states"), "b"), 0);
    json_t *b = at(fams, 1);
    assert_json_str(get(b, "name"), "build");
    assert_json_str(get(b, "type"), "info");
    json_t *pairs = get(at(get(b, "series"), 0), "info");
    assert_json_str(get(pairs, "version"), "1.0");
    assert_json_str(get(pairs, "commit"), "abc");
    json_decref(root);
}
END_TEST

START_TEST(special_values)
{
    fp_snap_family_t *f = family(FASTPROM_GAUGE, "v", "", LABELS("k"));
    const double values[] = {NAN, INFINITY, -INFINITY, -0.0, 0.1 + 0.2, 1e300, 123456789, 9007199254740992.0};
    const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (size_t i = 0; i < 8; i++)
        series(f, &keys[i])->value = values[i];
    json_t *root = render_json(NULL, 0);
    json_t *list = get(at(get(root, "families"), 0), "series");
    assert_json_str(get(at(list, 0), "value"), "NaN");
    assert_json_str(get(at(list, 1), "value"), "+Inf");
    assert_json_str(get(at(list, 2), "value"), "-Inf");
    assert_json_real(get(at(list, 3), "value"), -0.0);
    assert_json_real(get(at(list, 4), "value"), 0.1 + 0.2);
    assert_json_real(get(at(list, 5), "value"), 1e300);
    assert_json_int(get(at(list, 6), "value"), 123456789);
    assert_json_real(get(at(list, 7), "value"), 9007199254740992.0);
    json_decref(root);
}
END_TEST

START_TEST(label_values_with_nul_and_any_code_point_survive)
{
    static const char value[] = "nul\0quote\"back\\slash\nnl\x01\x1f\x7f é € 😀";
    size_t vlen = sizeof value - 1;
    fp_snap_family_t *f = family(FASTPROM_GAUGE, "g", "h\0elp", LABELS("k"));
    f->help.len = 5;
    fp_snap_series_t *s = series(f, (const char *[]){""});
    s->label_values[0] = (fp_str_t){value, (uint32_t)vlen};
    json_t *root = render_json(NULL, 0);
    json_t *fam = at(get(root, "families"), 0);
    json_t *help = get(fam, "help");
    ck_assert_uint_eq(json_string_length(help), 5);
    ck_assert_int_eq(memcmp(json_string_value(help), "h\0elp", 5), 0);
    json_t *k = get(get(at(get(fam, "series"), 0), "labels"), "k");
    ck_assert_uint_eq(json_string_length(k), vlen);
    ck_assert_int_eq(memcmp(json_string_value(k), value, vlen), 0);
    json_decref(root);
}
END_TEST

/* The exact bytes: compact, keys in schema order, JSON's short escapes,
 * seconds in fixed notation, -0 kept a real. */
START_TEST(compact_bytes_in_schema_order)
{
    fp_snap_family_t *f = family(FASTPROM_COUNTER, "c", "t\tr\rb\bf\f\x02/", LABELS("k"));
    fp_snap_series_t *s = series(f, (const char *[]){"\xc3\xa9\\"});
    s->value = -0.0;
    s->created = 1700000000.25;
    size_t len;
    char *out = render_n(JSON, "p_", FASTPROM_RENDER_CREATED, &len);
    ck_assert_str_eq(out, "{\"families\":[{\"name\":\"p_c\",\"type\":\"counter\","
                          "\"help\":\"t\\tr\\rb\\bf\\f\\u0002/\",\"unit\":\"\",\"labels\":[\"k\"],"
                          "\"series\":[{\"labels\":{\"k\":\"\xc3\xa9\\\\\"},\"value\":-0.0,"
                          "\"created\":1700000000.25}]}]}");
    ck_assert_uint_eq(len, strlen(out));
    free(out);
}
END_TEST

static Suite *render_json_suite(void)
{
    Suite *s = suite_create("render_json");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, empty_snapshot_has_no_families);
    tcase_add_test(tc, counter_family_and_series);
    tcase_add_test(tc, gauges_by_mode);
    tcase_add_test(tc, histogram_buckets_are_cumulative);
    tcase_add_test(tc, summary_nan_quantiles_are_strings);
    tcase_add_test(tc, stateset_and_info);
    tcase_add_test(tc, special_values);
    tcase_add_test(tc, label_values_with_nul_and_any_code_point_survive);
    tcase_add_test(tc, compact_bytes_in_schema_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(render_json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
