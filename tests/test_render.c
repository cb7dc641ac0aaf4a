/*
 * test_render.c - the Prometheus text 0.0.4 and OpenMetrics 1.0.0 renderers
 * against exact expected output, one test per rule of
 * shared/notes/exposition.md, on snapshots built by hand (render_fixture.h).
 */
#include "render_fixture.h"

START_TEST(content_types_are_exact)
{
    ck_assert_str_eq(fastprom_content_type(FASTPROM_FORMAT_TEXT), "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_str_eq(fastprom_content_type(FASTPROM_FORMAT_OPENMETRICS),
                     "application/openmetrics-text; version=1.0.0; charset=utf-8");
    ck_assert_str_eq(fastprom_content_type(FASTPROM_FORMAT_JSON), "application/json");
    ck_assert_ptr_null(fastprom_content_type((fastprom_format_t)3));
}
END_TEST

START_TEST(counter_names_family_after_total_in_text_only)
{
    fp_snap_family_t *f = family(FASTPROM_COUNTER, "http_requests", "Requests served.", LABELS("method", "code"));
    series(f, (const char *[]){"GET", "200"})->value = 1027;
    series(f, (const char *[]){"POST", "500"})->value = 3;
    family(FASTPROM_COUNTER, "jobs", "Jobs.", NO_LABELS)->nseries = 0;
    series(family(FASTPROM_COUNTER, "work_seconds", "Work.", NO_LABELS), NULL)->value = 0.5;

    assert_render(TEXT, NULL, 0,
                  "# HELP http_requests_total Requests served.\n"
                  "# TYPE http_requests_total counter\n"
                  "http_requests_total{method=\"GET\",code=\"200\"} 1027\n"
                  "http_requests_total{method=\"POST\",code=\"500\"} 3\n"
                  "# HELP jobs_total Jobs.\n"
                  "# TYPE jobs_total counter\n"
                  "# HELP work_seconds_total Work.\n"
                  "# TYPE work_seconds_total counter\n"
                  "work_seconds_total 0.5\n");
    assert_render(OM, NULL, 0,
                  "# TYPE http_requests counter\n"
                  "# HELP http_requests Requests served.\n"
                  "http_requests_total{method=\"GET\",code=\"200\"} 1027\n"
                  "http_requests_total{method=\"POST\",code=\"500\"} 3\n"
                  "# TYPE jobs counter\n"
                  "# HELP jobs Jobs.\n"
                  "# TYPE work_seconds counter\n"
                  "# HELP work_seconds Work.\n"
                  "work_seconds_total 0.5\n"
                  "# EOF\n");
}
END_TEST

START_TEST(gauge_modes)
{
    fp_snap_family_t *g = family(FASTPROM_GAUGE, "queue_depth", "Depth.", LABELS("queue"));
    g->gauge_mode = FASTPROM_GAUGE_MAX;
    series(g, (const char *[]){"a"})->value = 7;
    fp_snap_series_t *none = series(g, (const char *[]){"b"});
    none->has_value = 0; /* no process contributes: no sample at all */
    none->value = 99;

    fp_snap_family_t *all = family(FASTPROM_GAUGE, "worker_rss_bytes", "RSS.", LABELS("pool"));
    all->gauge_mode = FASTPROM_GAUGE_ALL;
    set_pids(series(all, (const char *[]){"web"}), 2, (fp_snap_pid_value_t[]){{101, 1500000}, {4294967295u, 2.5}});
    fp_snap_family_t *live = family(FASTPROM_GAUGE, "worker_up", "Up.", NO_LABELS);
    live->gauge_mode = FASTPROM_GAUGE_LIVEALL;
    set_pids(series(live, NULL), 1, (fp_snap_pid_value_t[]){{7, 1}});
    series(live, NULL); /* no live process: nothing */

    const char *samples = "queue_depth{queue=\"a\"} 7\n";
    const char *pid_samples = "worker_rss_bytes{pool=\"web\",pid=\"101\"} 1500000\n"
                              "worker_rss_bytes{pool=\"web\",pid=\"4294967295\"} 2.5\n";
    char text[1024], om[1024];
    snprintf(text, sizeof text,
             "# HELP queue_depth Depth.\n# TYPE queue_depth gauge\n%s"
             "# HELP worker_rss_bytes RSS.\n# TYPE worker_rss_bytes gauge\n%s"
             "# HELP worker_up Up.\n# TYPE worker_up gauge\nworker_up{pid=\"7\"} 1\n",
             samples, pid_samples);
    snprintf(om, sizeof om,
             "# TYPE queue_depth gauge\n# HELP queue_depth Depth.\n%s"
             "# TYPE worker_rss_bytes gauge\n# HELP worker_rss_bytes RSS.\n%s"
             "# TYPE worker_up gauge\n# HELP worker_up Up.\nworker_up{pid=\"7\"} 1\n# EOF\n",
             samples, pid_samples);
    assert_render(TEXT, NULL, 0, text);
    assert_render(OM, NULL, 0, om);
}
END_TEST

static fp_snap_series_t *latency_histogram(void)
{
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "request_latency_seconds", "Latency.", LABELS("route"));
    h->unit = str("seconds");
    set_bounds(h, 5, (double[]){1e-05, 0.005, 0.1, 1.0, 10.0});
    fp_snap_series_t *s = series(h, (const char *[]){"/a"});
    set_buckets(s, 6, (uint64_t[]){1, 0, 2, 3, 0, 4});
    s->sum = 12.5;
    return s;
}

static const char *latency_samples = "request_latency_seconds_bucket{route=\"/a\",le=\"1e-05\"} 1\n"
                                     "request_latency_seconds_bucket{route=\"/a\",le=\"0.005\"} 1\n"
                                     "request_latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 3\n"
                                     "request_latency_seconds_bucket{route=\"/a\",le=\"1.0\"} 6\n"
                                     "request_latency_seconds_bucket{route=\"/a\",le=\"10.0\"} 6\n"
                                     "request_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 10\n"
                                     "request_latency_seconds_sum{route=\"/a\"} 12.5\n"
                                     "request_latency_seconds_count{route=\"/a\"} 10\n";

START_TEST(histogram_is_cumulative_with_canonical_le)
{
    latency_histogram();
    char text[2048], om[2048];
    snprintf(text, sizeof text, "# HELP request_latency_seconds Latency.\n# TYPE request_latency_seconds histogram\n%s",
             latency_samples);
    snprintf(om, sizeof om,
             "# TYPE request_latency_seconds histogram\n# UNIT request_latency_seconds seconds\n"
             "# HELP request_latency_seconds Latency.\n%s# EOF\n",
             latency_samples);
    assert_render(TEXT, NULL, 0, text);
    assert_render(OM, NULL, 0, om);
}
END_TEST

START_TEST(histogram_count_is_the_inf_bucket)
{
    fp_snap_series_t *s = latency_histogram();
    s->count = 999; /* _count is the +Inf bucket, whatever count says */
    char *out = render(TEXT, NULL, 0);
    ck_assert_ptr_nonnull(strstr(out, "le=\"+Inf\"} 10\n"));
    ck_assert_ptr_nonnull(strstr(out, "request_latency_seconds_count{route=\"/a\"} 10\n"));
    ck_assert_ptr_null(strstr(out, "999"));
    free(out);
}
END_TEST

START_TEST(histogram_without_labels_or_bounds)
{
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "size_bytes", "Sizes.", NO_LABELS);
    fp_snap_series_t *s = series(h, NULL);
    set_buckets(s, 1, (uint64_t[]){3});
    s->sum = 0.30000000000000004;
    assert_render(TEXT, NULL, 0,
                  "# HELP size_bytes Sizes.\n# TYPE size_bytes histogram\n"
                  "size_bytes_bucket{le=\"+Inf\"} 3\nsize_bytes_sum 0.30000000000000004\nsize_bytes_count 3\n");
}
END_TEST

START_TEST(summary_quantiles_nan_without_data)
{
    fp_snap_family_t *f = family(FASTPROM_SUMMARY, "rpc_duration_seconds", "RPC time.", LABELS("service"));
    set_bounds(f, 2, (double[]){0.5, 0.99});
    fp_snap_series_t *a = series(f, (const char *[]){"a"});
    a->quantiles[0] = 0.25;
    a->quantiles[1] = 1.5;
    a->count = 4;
    a->sum = 3.5;
    series(f, (const char *[]){"b"});
    series(family(FASTPROM_SUMMARY, "payload_bytes", "Payloads.", NO_LABELS), NULL)->count = 2;

    const char *samples = "rpc_duration_seconds{service=\"a\",quantile=\"0.5\"} 0.25\n"
                          "rpc_duration_seconds{service=\"a\",quantile=\"0.99\"} 1.5\n"
                          "rpc_duration_seconds_sum{service=\"a\"} 3.5\n"
                          "rpc_duration_seconds_count{service=\"a\"} 4\n"
                          "rpc_duration_seconds{service=\"b\",quantile=\"0.5\"} NaN\n"
                          "rpc_duration_seconds{service=\"b\",quantile=\"0.99\"} NaN\n"
                          "rpc_duration_seconds_sum{service=\"b\"} 0\n"
                          "rpc_duration_seconds_count{service=\"b\"} 0\n";
    char text[2048], om[2048];
    snprintf(text, sizeof text,
             "# HELP payload_bytes Payloads.\n# TYPE payload_bytes summary\npayload_bytes_sum 0\npayload_bytes_count "
             "2\n"
             "# HELP rpc_duration_seconds RPC time.\n# TYPE rpc_duration_seconds summary\n%s",
             samples);
    snprintf(om, sizeof om,
             "# TYPE payload_bytes summary\n# HELP payload_bytes Payloads.\npayload_bytes_sum 0\npayload_bytes_count "
             "2\n"
             "# TYPE rpc_duration_seconds summary\n# HELP rpc_duration_seconds RPC time.\n%s# EOF\n",
             samples);
    /* The fixture appends families in call order; the snapshot sorts them. */
    fp_snap_family_t tmp = snap.families[0];
    snap.families[0] = snap.families[1];
    snap.families[1] = tmp;
    assert_render(TEXT, NULL, 0, text);
    assert_render(OM, NULL, 0, om);
}
END_TEST

START_TEST(info_is_a_gauge_in_text)
{
    fp_snap_family_t *f = family(FASTPROM_INFO, "build", "Build.", LABELS("component"));
    set_info(series(f, (const char *[]){"api"}), 2, (const char *[]){"version", "commit"},
             (const char *[]){"1.2.3", "ab\"c"});
    series(f, (const char *[]){"db"});
    fp_snap_family_t *bare = family(FASTPROM_INFO, "host", "Host.", NO_LABELS);
    set_info(series(bare, NULL), 1, (const char *[]){"os"}, (const char *[]){"linux"});
    series(family(FASTPROM_INFO, "plain", "Plain.", NO_LABELS), NULL);

    const char *samples[] = {"build_info{component=\"api\",version=\"1.2.3\",commit=\"ab\\\"c\"} 1\n"
                             "build_info{component=\"db\"} 1\n",
                             "host_info{os=\"linux\"} 1\n", "plain_info 1\n"};
    char text[1024], om[1024];
    snprintf(text, sizeof text,
             "# HELP build_info Build.\n# TYPE build_info gauge\n%s# HELP host_info Host.\n# TYPE host_info gauge\n%s"
             "# HELP plain_info Plain.\n# TYPE plain_info gauge\n%s",
             samples[0], samples[1], samples[2]);
    snprintf(om, sizeof om,
             "# TYPE build info\n# HELP build Build.\n%s# TYPE host info\n# HELP host Host.\n%s"
             "# TYPE plain info\n# HELP plain Plain.\n%s# EOF\n",
             samples[0], samples[1], samples[2]);
    assert_render(TEXT, NULL, 0, text);
    assert_render(OM, NULL, 0, om);
}
END_TEST

START_TEST(stateset_is_a_gauge_in_text)
{
    fp_snap_family_t *f = family(FASTPROM_STATESET, "feature_state", "Feature.", LABELS("feature"));
    set_states(f, 3, (const char *[]){"on", "off", "a\"b"});
    series(f, (const char *[]){"f1"})->state = 1;
    series(f, (const char *[]){"f2"}); /* never set: every state 0 */
    fp_snap_family_t *bare = family(FASTPROM_STATESET, "mode", "Mode.", NO_LABELS);
    set_states(bare, 1, (const char *[]){"x"});
    series(bare, NULL)->state = 0;

    const char *samples = "feature_state{feature=\"f1\",feature_state=\"on\"} 0\n"
                          "feature_state{feature=\"f1\",feature_state=\"off\"} 1\n"
                          "feature_state{feature=\"f1\",feature_state=\"a\\\"b\"} 0\n"
                          "feature_state{feature=\"f2\",feature_state=\"on\"} 0\n"
                          "feature_state{feature=\"f2\",feature_state=\"off\"} 0\n"
                          "feature_state{feature=\"f2\",feature_state=\"a\\\"b\"} 0\n";
    char text[1024], om[1024];
    snprintf(text, sizeof text,
             "# HELP feature_state Feature.\n# TYPE feature_state gauge\n%s"
             "# HELP mode Mode.\n# TYPE mode gauge\nmode{mode=\"x\"} 1\n",
             samples);
    snprintf(om, sizeof om,
             "# TYPE feature_state stateset\n# HELP feature_state Feature.\n%s"
             "# TYPE mode stateset\n# HELP mode Mode.\nmode{mode=\"x\"} 1\n# EOF\n",
             samples);
    assert_render(TEXT, NULL, 0, text);
    assert_render(OM, NULL, 0, om);
}
END_TEST

START_TEST(help_escaping_differs_between_formats)
{
    series(family(FASTPROM_GAUGE, "g", "a\\b \"q\"\nc", NO_LABELS), NULL)->value = 1;
    series(family(FASTPROM_GAUGE, "no_help", NULL, NO_LABELS), NULL)->value = 2;
    assert_render(TEXT, NULL, 0,
                  "# HELP g a\\\\b \"q\"\\nc\n# TYPE g gauge\ng 1\n"
                  "# TYPE no_help gauge\nno_help 2\n");
    assert_render(OM, NULL, 0,
                  "# TYPE g gauge\n# HELP g a\\\\b \\\"q\\\"\\nc\ng 1\n"
                  "# TYPE no_help gauge\nno_help 2\n# EOF\n");
}
END_TEST

START_TEST(unit_only_in_openmetrics_after_type)
{
    fp_snap_family_t *f = family(FASTPROM_COUNTER, "io_bytes", "IO.", NO_LABELS);
    f->unit = str("bytes");
    series(f, NULL)->value = 4096;
    assert_render(TEXT, NULL, 0, "# HELP io_bytes_total IO.\n# TYPE io_bytes_total counter\nio_bytes_total 4096\n");
    assert_render(OM, NULL, 0,
                  "# TYPE io_bytes counter\n# UNIT io_bytes bytes\n# HELP io_bytes IO.\nio_bytes_total 4096\n# EOF\n");
}
END_TEST

START_TEST(label_values_escape_backslash_quote_newline)
{
    fp_snap_family_t *f = family(FASTPROM_GAUGE, "g", "G.", LABELS("a", "b"));
    series(f, (const char *[]){"x\"y\\z\nw", "\\n\"\""})->value = 1;
    assert_render(TEXT, NULL, 0, "# HELP g G.\n# TYPE g gauge\ng{a=\"x\\\"y\\\\z\\nw\",b=\"\\\\n\\\"\\\"\"} 1\n");
}
END_TEST

/* Appends the UTF-8 encoding of code point cp. */
static size_t put_utf8(char *w, unsigned cp)
{
    if (cp < 0x80) {
        w[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (char)(0xC0 | cp >> 6);
        w[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (char)(0xE0 | cp >> 12);
        w[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        w[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    w[0] = (char)(0xF0 | cp >> 18);
    w[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    w[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    w[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Every byte valid UTF-8 can hold: all of ASCII (NUL and every control
 * included), every 2-byte code point (all lead bytes C2-DF with every
 * continuation byte), the edges of each 3-byte lead (E0-EF, around the
 * surrogate gap) and of each 4-byte lead (F0-F4).
 */
static size_t every_utf8_byte(char *w)
{
    size_t n = 0;
    for (unsigned cp = 0; cp < 0x800; cp++)
        n += put_utf8(w + n, cp);
    for (unsigned lead = 0; lead < 16; lead++) {
        unsigned lo = lead << 12, hi = lo | 0xFFF;
        if (lead == 0)
            lo = 0x800;
        if (lead == 0xD)
            hi = 0xD7FF;
        n += put_utf8(w + n, lo);
        n += put_utf8(w + n, hi);
    }
    n += put_utf8(w + n, 0xE000);
    for (unsigned cp = 0x10000; cp <= 0x10FFFF; cp += 0x40000) {
        n += put_utf8(w + n, cp);
        n += put_utf8(w + n, cp + 0x3FFFF > 0x10FFFF ? 0x10FFFF : cp + 0x3FFFF);
    }
    return n;
}

/* The label line the rule asks for: only \\ " and newline escaped. */
static size_t expected_labels(char *w, const char *const *names, const char *const *values, const size_t *lens,
                              size_t n)
{
    size_t len = 0;
    for (size_t l = 0; l < n; l++) {
        len += (size_t)sprintf(w + len, "%s%s=\"", l ? "," : "", names[l]);
        for (size_t i = 0; i < lens[l]; i++) {
            char ch = values[l][i];
            if (ch == '\\' || ch == '"')
                w[len++] = '\\';
            if (ch == '\n') {
                w[len++] = '\\';
                w[len++] = 'n';
            } else {
                w[len++] = ch;
            }
        }
        w[len++] = '"';
    }
    return len;
}

START_TEST(label_values_pass_every_other_byte_through)
{
    static char bytes[8192];
    size_t total = every_utf8_byte(bytes);
    /* Two values, each within FASTPROM_MAX_LABEL_VALUE, split between code
     * points (U+0400 starts 2-byte sequences at offset 1920). */
    size_t split = 128 + 2 * (0x400 - 0x80);
    const char *values[2] = {bytes, bytes + split};
    size_t lens[2] = {split, total - split};
    ck_assert_uint_le(lens[1], FASTPROM_MAX_LABEL_VALUE);
    fp_snap_family_t *f = family(FASTPROM_COUNTER, "c", "", LABELS("v", "w"));
    fp_snap_series_t *s = series(f, (const char *[]){"", ""});
    for (int l = 0; l < 2; l++)
        s->label_values[l] = (fp_str_t){values[l], (uint32_t)lens[l]};
    s->value = 1;

    static char expected[16384];
    size_t n = (size_t)sprintf(expected, "c_total{");
    n += expected_labels(expected + n, (const char *[]){"v", "w"}, values, lens, 2);
    n += (size_t)sprintf(expected + n, "} 1\n");

    for (int om = 0; om <= 1; om++) {
        size_t len;
        char *out = render_n(om ? OM : TEXT, NULL, 0, &len);
        const char *head = om ? "# TYPE c counter\n" : "# TYPE c_total counter\n";
        size_t hlen = strlen(head);
        ck_assert_uint_eq(len, hlen + n + (om ? 6 : 0));
        ck_assert_int_eq(memcmp(out, head, hlen), 0);
        ck_assert_msg(memcmp(out + hlen, expected, n) == 0, "label value bytes changed (%s)", om ? "om" : "text");
        free(out);
    }
}
END_TEST

START_TEST(special_sample_values)
{
    fp_snap_family_t *f = family(FASTPROM_GAUGE, "v", "V.", LABELS("k"));
    const double values[] = {NAN, INFINITY, -INFINITY, -0.0, 0.1 + 0.2, 1e300, 123456789, -2.5, 5e-324};
    const char *keys[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    for (size_t i = 0; i < 9; i++)
        series(f, &keys[i])->value = values[i];
    assert_render(TEXT, NULL, 0,
                  "# HELP v V.\n# TYPE v gauge\n"
                  "v{k=\"a\"} NaN\nv{k=\"b\"} +Inf\nv{k=\"c\"} -Inf\nv{k=\"d\"} -0\n"
                  "v{k=\"e\"} 0.30000000000000004\nv{k=\"f\"} 1e+300\nv{k=\"g\"} 123456789\n"
                  "v{k=\"h\"} -2.5\nv{k=\"i\"} 5e-324\n");
}
END_TEST

START_TEST(prefix_applies_to_every_family_name)
{
    series(family(FASTPROM_COUNTER, "req", "R.", NO_LABELS), NULL)->value = 1;
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "lat", "L.", NO_LABELS);
    set_buckets(series(h, NULL), 1, (uint64_t[]){2});
    fp_snap_family_t *st = family(FASTPROM_STATESET, "st", "S.", NO_LABELS);
    set_states(st, 1, (const char *[]){"up"});
    series(st, NULL)->state = 0;
    series(family(FASTPROM_INFO, "ver", "V.", NO_LABELS), NULL);
    assert_render(TEXT, "app_", 0,
                  "# HELP app_req_total R.\n# TYPE app_req_total counter\napp_req_total 1\n"
                  "# HELP app_lat L.\n# TYPE app_lat histogram\n"
                  "app_lat_bucket{le=\"+Inf\"} 2\napp_lat_sum 0\napp_lat_count 2\n"
                  "# HELP app_st S.\n# TYPE app_st gauge\napp_st{app_st=\"up\"} 1\n"
                  "# HELP app_ver_info V.\n# TYPE app_ver_info gauge\napp_ver_info 1\n");
    assert_render(OM, "app_", 0,
                  "# TYPE app_req counter\n# HELP app_req R.\napp_req_total 1\n"
                  "# TYPE app_lat histogram\n# HELP app_lat L.\n"
                  "app_lat_bucket{le=\"+Inf\"} 2\napp_lat_sum 0\napp_lat_count 2\n"
                  "# TYPE app_st stateset\n# HELP app_st S.\napp_st{app_st=\"up\"} 1\n"
                  "# TYPE app_ver info\n# HELP app_ver V.\napp_ver_info 1\n# EOF\n");
}
END_TEST

START_TEST(prefix_must_be_a_metric_name_prefix)
{
    const char *bad[] = {"1app", "a-b", "__x", "a b", "é"};
    fastprom_error_t err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fastprom_render_options_t opt = {TEXT, NULL, 0, bad[i], 0};
        ck_assert_int_eq(fp_render_check_options(&opt, &err), FASTPROM_EINVAL);
        ck_assert_int_eq(err.code, FASTPROM_EINVAL);
        ck_assert_msg(strstr(err.text, "prefix") != NULL, "%s", err.text);
    }
    const char *good[] = {"", "a", "ns:", "_x", "A9_:"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        fastprom_render_options_t opt = {TEXT, NULL, 0, good[i], 0};
        ck_assert_int_eq(fp_render_check_options(&opt, &err), 0);
    }
}
END_TEST

START_TEST(colon_prefix_refused_with_statesets_and_output_kept)
{
    fp_snap_family_t *st = family(FASTPROM_STATESET, "st", "S.", NO_LABELS);
    set_states(st, 1, (const char *[]){"up"});
    series(st, NULL);
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    fastprom_render_options_t ok = {TEXT, NULL, 0, "pre_", 0}, bad = {OM, NULL, 0, "ns:", 0};
    ck_assert_int_eq(fp_render_snapshot(&snap, &ok, &buf, &err), 0);
    size_t len = buf.len;
    char *copy = strdup(buf.data);
    ck_assert_int_eq(fp_render_snapshot(&snap, &bad, &buf, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "stateset \"st\""));
    ck_assert_uint_eq(buf.len, len);
    ck_assert_str_eq(buf.data, copy);
    free(copy);
    fastprom_buf_free(&buf);
    /* JSON has no stateset label: the prefix is fine there. */
    char *json = render(JSON, "ns:", 0);
    ck_assert_ptr_nonnull(strstr(json, "\"name\":\"ns:st\""));
    free(json);
}
END_TEST

START_TEST(render_appends_to_the_buffer)
{
    series(family(FASTPROM_GAUGE, "g", "", NO_LABELS), NULL)->value = 1;
    fastprom_buf_t buf = {0};
    fastprom_error_t err;
    fastprom_render_options_t opt = {OM, NULL, 0, NULL, FASTPROM_RENDER_NO_EOF};
    ck_assert_int_eq(fp_render_snapshot(&snap, &opt, &buf, &err), 0);
    opt.prefix = "x_";
    opt.flags = 0;
    ck_assert_int_eq(fp_render_snapshot(&snap, &opt, &buf, &err), 0);
    ck_assert_str_eq(buf.data, "# TYPE g gauge\ng 1\n# TYPE x_g gauge\nx_g 1\n# EOF\n");
    fastprom_buf_free(&buf);
}
END_TEST

START_TEST(eof_only_in_openmetrics_and_not_with_no_eof)
{
    series(family(FASTPROM_GAUGE, "g", "", NO_LABELS), NULL)->value = 1;
    assert_render(OM, NULL, 0, "# TYPE g gauge\ng 1\n# EOF\n");
    assert_render(OM, NULL, FASTPROM_RENDER_NO_EOF, "# TYPE g gauge\ng 1\n");
    assert_render(TEXT, NULL, 0, "# TYPE g gauge\ng 1\n");
    assert_render(TEXT, NULL, FASTPROM_RENDER_NO_EOF, "# TYPE g gauge\ng 1\n");
}
END_TEST

START_TEST(created_only_in_openmetrics_with_the_flag)
{
    fp_snap_family_t *c = family(FASTPROM_COUNTER, "c", "", LABELS("k"));
    fp_snap_series_t *cs = series(c, (const char *[]){"v"});
    cs->value = 2;
    cs->created = 1700000000.25;
    fp_snap_family_t *g = family(FASTPROM_GAUGE, "g", "", NO_LABELS);
    series(g, NULL)->created = 5;
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "h", "", NO_LABELS);
    series(h, NULL)->created = 1700000000;
    fp_snap_family_t *s = family(FASTPROM_SUMMARY, "s", "", NO_LABELS);
    series(s, NULL)->created = 1500000000.125;

    const char *samples = "c_total{k=\"v\"} 2\n"
                          "%s"
                          "# TYPE g gauge\ng 0\n"
                          "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"
                          "%s"
                          "# TYPE s summary\ns_sum 0\ns_count 0\n"
                          "%s";
    char with[1024], without[1024];
    snprintf(with, sizeof with, samples, "c_created{k=\"v\"} 1700000000.25\n", "h_created 1700000000\n",
             "s_created 1500000000.125\n");
    snprintf(without, sizeof without, samples, "", "", "");
    char om_with[1100], om_without[1100];
    snprintf(om_with, sizeof om_with, "# TYPE c counter\n%s# EOF\n", with);
    snprintf(om_without, sizeof om_without, "# TYPE c counter\n%s# EOF\n", without);
    assert_render(OM, NULL, FASTPROM_RENDER_CREATED, om_with);
    assert_render(OM, NULL, 0, om_without);
    char *text = render(TEXT, NULL, FASTPROM_RENDER_CREATED);
    ck_assert_ptr_null(strstr(text, "_created"));
    free(text);
}
END_TEST

START_TEST(exemplars_follow_total_and_buckets_in_openmetrics_only)
{
    fp_snap_family_t *c = family(FASTPROM_COUNTER, "c", "", NO_LABELS);
    c->flags = FASTPROM_EXEMPLARS;
    fp_snap_series_t *cs = series(c, NULL);
    cs->value = 5;
    set_exemplar(with_exemplars(c, cs), 1, 1700000000.5, 1, (const char *[]){"trace_id"}, (const char *[]){"a\"b"});
    fp_snap_series_t *quiet = series(c, NULL); /* exemplar array, none recorded */
    quiet->value = 1;
    with_exemplars(c, quiet);

    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "h", "", LABELS("r"));
    h->flags = FASTPROM_EXEMPLARS;
    set_bounds(h, 2, (double[]){0.1, 1});
    fp_snap_series_t *hs = series(h, (const char *[]){"/"});
    set_buckets(hs, 3, (uint64_t[]){0, 2, 1});
    hs->sum = 3.5;
    fp_snap_exemplar_t *ex = with_exemplars(h, hs);
    set_exemplar(&ex[1], 0.5, 1700000001, 2, (const char *[]){"trace_id", "span"}, (const char *[]){"t1", "s1"});
    set_exemplar(&ex[2], 2.25, 0.001, 0, NULL, NULL);

    assert_render(OM, NULL, 0,
                  "# TYPE c counter\n"
                  "c_total 5 # {trace_id=\"a\\\"b\"} 1 1700000000.5\n"
                  "c_total 1\n"
                  "# TYPE h histogram\n"
                  "h_bucket{r=\"/\",le=\"0.1\"} 0\n"
                  "h_bucket{r=\"/\",le=\"1.0\"} 2 # {trace_id=\"t1\",span=\"s1\"} 0.5 1700000001\n"
                  "h_bucket{r=\"/\",le=\"+Inf\"} 3 # {} 2.25 0.001\n"
                  "h_sum{r=\"/\"} 3.5\nh_count{r=\"/\"} 3\n# EOF\n");
    assert_render(TEXT, NULL, 0,
                  "# TYPE c_total counter\nc_total 5\nc_total 1\n"
                  "# TYPE h histogram\n"
                  "h_bucket{r=\"/\",le=\"0.1\"} 0\nh_bucket{r=\"/\",le=\"1.0\"} 2\nh_bucket{r=\"/\",le=\"+Inf\"} 3\n"
                  "h_sum{r=\"/\"} 3.5\nh_count{r=\"/\"} 3\n");
}
END_TEST

START_TEST(empty_snapshot)
{
    assert_render(TEXT, NULL, 0, "");
    assert_render(OM, NULL, 0, "# EOF\n");
    assert_render(OM, NULL, FASTPROM_RENDER_NO_EOF, "");
}
END_TEST

START_TEST(openmetrics_leaves_out_what_it_forbids)
{
    fp_snap_family_t *neg = family(FASTPROM_HISTOGRAM, "delta", "", NO_LABELS);
    set_bounds(neg, 2, (double[]){-1, 1});
    fp_snap_series_t *ns = series(neg, NULL);
    set_buckets(ns, 3, (uint64_t[]){1, 1, 0});
    ns->sum = -1.5;
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "h", "", LABELS("k"));
    set_bounds(h, 1, (double[]){1});
    fp_snap_series_t *hs = series(h, (const char *[]){"neg"});
    set_buckets(hs, 2, (uint64_t[]){1, 0});
    hs->sum = -3;
    set_buckets(series(h, (const char *[]){"pos"}), 2, (uint64_t[]){0, 1});
    h->series[1].sum = 2;
    fp_snap_family_t *s = family(FASTPROM_SUMMARY, "s", "", NO_LABELS);
    set_bounds(s, 2, (double[]){0.5, 0.9});
    fp_snap_series_t *ss = series(s, NULL);
    ss->quantiles[0] = -2;
    ss->quantiles[1] = 4;
    ss->sum = -1;
    ss->count = 3;

    assert_render(OM, NULL, 0,
                  "# TYPE delta histogram\n"
                  "delta_bucket{le=\"-1.0\"} 1\ndelta_bucket{le=\"1.0\"} 2\ndelta_bucket{le=\"+Inf\"} 2\n"
                  "# TYPE h histogram\n"
                  "h_bucket{k=\"neg\",le=\"1.0\"} 1\nh_bucket{k=\"neg\",le=\"+Inf\"} 1\n"
                  "h_bucket{k=\"pos\",le=\"1.0\"} 0\nh_bucket{k=\"pos\",le=\"+Inf\"} 1\n"
                  "h_sum{k=\"pos\"} 2\nh_count{k=\"pos\"} 1\n"
                  "# TYPE s summary\ns{quantile=\"0.9\"} 4\ns_count 3\n# EOF\n");
    assert_render(TEXT, NULL, 0,
                  "# TYPE delta histogram\n"
                  "delta_bucket{le=\"-1.0\"} 1\ndelta_bucket{le=\"1.0\"} 2\ndelta_bucket{le=\"+Inf\"} 2\n"
                  "delta_sum -1.5\ndelta_count 2\n"
                  "# TYPE h histogram\n"
                  "h_bucket{k=\"neg\",le=\"1.0\"} 1\nh_bucket{k=\"neg\",le=\"+Inf\"} 1\n"
                  "h_sum{k=\"neg\"} -3\nh_count{k=\"neg\"} 1\n"
                  "h_bucket{k=\"pos\",le=\"1.0\"} 0\nh_bucket{k=\"pos\",le=\"+Inf\"} 1\n"
                  "h_sum{k=\"pos\"} 2\nh_count{k=\"pos\"} 1\n"
                  "# TYPE s summary\ns{quantile=\"0.5\"} -2\ns{quantile=\"0.9\"} 4\ns_sum -1\ns_count 3\n");
}
END_TEST

/* Long label values make the buffer grow between a series' first line and
 * the later lines that copy its labels from the buffer. */
START_TEST(long_label_values_survive_buffer_growth)
{
    static char big[FASTPROM_MAX_LABEL_VALUE + 1];
    memset(big, '"', FASTPROM_MAX_LABEL_VALUE);
    fp_snap_family_t *h = family(FASTPROM_HISTOGRAM, "h", "", LABELS("a", "b"));
    set_bounds(h, FASTPROM_MAX_BUCKETS, (double[FASTPROM_MAX_BUCKETS]){0});
    for (size_t i = 0; i < FASTPROM_MAX_BUCKETS; i++)
        h->bounds[i] = (double)i;
    for (int i = 0; i < 3; i++)
        set_buckets(series(h, (const char *[]){big, "x"}), 1, (uint64_t[]){1});
    char *out = render(TEXT, NULL, 0);
    size_t lines = 0;
    char escaped_prefix[32];
    snprintf(escaped_prefix, sizeof escaped_prefix, "{a=\"\\\"\\\"");
    for (char *line = out; *line; line = strchr(line, '\n') + 1) {
        if (line[0] == '#')
            continue;
        lines++;
        char *brace = strchr(line, '{');
        ck_assert_int_eq(strncmp(brace, escaped_prefix, strlen(escaped_prefix)), 0);
        ck_assert_int_eq(strncmp(brace + 4 + 2 * FASTPROM_MAX_LABEL_VALUE, "\",b=\"x\"", 7), 0);
    }
    ck_assert_uint_eq(lines, 3 * (FASTPROM_MAX_BUCKETS + 1 + 2));
    free(out);
}
END_TEST

/* Structure rules on a snapshot holding every type: no blank line, final
 * newline, no CR, one HELP and one TYPE per family before its samples, and
 * every sample line belongs to the family declared last. */
START_TEST(structure_of_a_mixed_exposition)
{
    fp_snap_family_t *f;
    f = family(FASTPROM_COUNTER, "a_total_things", "A.", LABELS("x"));
    series(f, (const char *[]){"1"})->value = 1;
    series(f, (const char *[]){"2"})->value = 2;
    f = family(FASTPROM_GAUGE, "b", "B.", LABELS("x"));
    f->gauge_mode = FASTPROM_GAUGE_LIVEALL;
    set_pids(series(f, (const char *[]){"1"}), 2, (fp_snap_pid_value_t[]){{1, 1}, {2, 2}});
    f = family(FASTPROM_HISTOGRAM, "c", "C.", NO_LABELS);
    set_bounds(f, 2, (double[]){1, 2});
    series(f, NULL);
    f = family(FASTPROM_INFO, "d", "D.", NO_LABELS);
    series(f, NULL);
    f = family(FASTPROM_STATESET, "e", "E.", NO_LABELS);
    set_states(f, 2, (const char *[]){"p", "q"});
    series(f, NULL);
    f = family(FASTPROM_SUMMARY, "s", "S.", NO_LABELS);
    set_bounds(f, 1, (double[]){0.5});
    series(f, NULL);

    for (int om = 0; om <= 1; om++) {
        char *out = render(om ? OM : TEXT, NULL, FASTPROM_RENDER_CREATED);
        size_t len = strlen(out);
        ck_assert_uint_gt(len, 0);
        ck_assert_int_eq(out[len - 1], '\n');
        ck_assert_ptr_null(strstr(out, "\n\n"));
        ck_assert_ptr_null(strchr(out, '\r'));
        char family_name[64] = "", help_name[64] = "";
        int types = 0, helps = 0;
        for (char *line = out; *line; line = strchr(line, '\n') + 1) {
            char name[64];
            if (sscanf(line, "# TYPE %63s", name) == 1) {
                types++;
                if (!om) /* text: HELP comes first, for the same name */
                    ck_assert_str_eq(name, help_name);
                snprintf(family_name, sizeof family_name, "%s", name);
            } else if (sscanf(line, "# HELP %63s", name) == 1) {
                helps++;
                if (om) /* OpenMetrics: TYPE comes first */
                    ck_assert_str_eq(name, family_name);
                snprintf(help_name, sizeof help_name, "%s", name);
            } else if (line[0] != '#') {
                ck_assert_msg(strncmp(line, family_name, strlen(family_name)) == 0, "sample outside %s: %.40s",
                              family_name, line);
            }
        }
        ck_assert_int_eq(types, 6);
        ck_assert_int_eq(helps, 6);
        free(out);
    }
}
END_TEST

START_TEST(bad_options_are_refused)
{
    fastprom_error_t err;
    fastprom_render_options_t opt = {(fastprom_format_t)7, NULL, 0, NULL, 0};
    ck_assert_int_eq(fp_render_check_options(&opt, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "format 7"));
    opt = (fastprom_render_options_t){OM, NULL, 0, NULL, 0x80};
    ck_assert_int_eq(fp_render_check_options(&opt, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "flags 0x80"));
    opt = (fastprom_render_options_t){TEXT, NULL, 2, NULL, 0};
    ck_assert_int_eq(fp_render_check_options(&opt, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "names"));
    opt = (fastprom_render_options_t){TEXT, (const char *[]){"a", NULL}, 2, NULL, 0};
    ck_assert_int_eq(fp_render_check_options(&opt, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "names[1]"));

    fastprom_buf_t buf = {0};
    ck_assert_int_eq(fastprom_render(NULL, NULL, &buf, &err), FASTPROM_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.text, "fp is NULL"));
    ck_assert_uint_eq(buf.len, 0);
}
END_TEST

static Suite *render_suite(void)
{
    Suite *s = suite_create("render");
    TCase *tc = tcase_create("text");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, content_types_are_exact);
    tcase_add_test(tc, counter_names_family_after_total_in_text_only);
    tcase_add_test(tc, gauge_modes);
    tcase_add_test(tc, histogram_is_cumulative_with_canonical_le);
    tcase_add_test(tc, histogram_count_is_the_inf_bucket);
    tcase_add_test(tc, histogram_without_labels_or_bounds);
    tcase_add_test(tc, summary_quantiles_nan_without_data);
    tcase_add_test(tc, info_is_a_gauge_in_text);
    tcase_add_test(tc, stateset_is_a_gauge_in_text);
    tcase_add_test(tc, help_escaping_differs_between_formats);
    tcase_add_test(tc, unit_only_in_openmetrics_after_type);
    tcase_add_test(tc, label_values_escape_backslash_quote_newline);
    tcase_add_test(tc, label_values_pass_every_other_byte_through);
    tcase_add_test(tc, special_sample_values);
    tcase_add_test(tc, prefix_applies_to_every_family_name);
    tcase_add_test(tc, prefix_must_be_a_metric_name_prefix);
    tcase_add_test(tc, colon_prefix_refused_with_statesets_and_output_kept);
    tcase_add_test(tc, render_appends_to_the_buffer);
    tcase_add_test(tc, eof_only_in_openmetrics_and_not_with_no_eof);
    tcase_add_test(tc, created_only_in_openmetrics_with_the_flag);
    tcase_add_test(tc, exemplars_follow_total_and_buckets_in_openmetrics_only);
    tcase_add_test(tc, empty_snapshot);
    tcase_add_test(tc, openmetrics_leaves_out_what_it_forbids);
    tcase_add_test(tc, long_label_values_survive_buffer_growth);
    tcase_add_test(tc, structure_of_a_mixed_exposition);
    tcase_add_test(tc, bad_options_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(render_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
