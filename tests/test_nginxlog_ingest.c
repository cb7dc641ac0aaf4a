/*
 * test_nginxlog_ingest.c - datagrams in, segment out, read back as an
 * exporter would: exact counts by label, histograms of times and sizes,
 * one upstream observation per attempt, bad input counted by reason and
 * never recorded, series limits that count overflow without evicting,
 * label values the library refuses, and a reload that changes the rules.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nginxlog/ingest.h"
#include "support.h"

static fastprom_t *fp;
static nl_config_t *cfg;
static nl_ingest_t ing;

static void start(const char *json)
{
    char err[512];
    fp = open_tmp_segment(4u << 20, NULL);
    cfg = nl_config_parse(json, strlen(json), "t", NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_msg(nl_ingest_init(&ing, fp, cfg, err, sizeof err) == 0, "%s", err);
}

static void stop(void)
{
    nl_ingest_free(&ing);
    nl_config_free(cfg);
    fastprom_close(fp);
}

static int send_line(const char *server, const char *method, int status, const char *route, const char *uri,
                     const char *ups_times, const char *ups_addrs)
{
    char msg[2048];
    int n = snprintf(msg, sizeof msg,
                     "<190>Dec  6 19:48:30 fastprom: fp1\t%s\t%s\t%03d\t0.250\t%s\t%s\t1000\t300\t"
                     "1796586510.888\t%s\t%s",
                     server, method, status, ups_times, ups_addrs, route, uri);
    return nl_ingest_datagram(&ing, msg, (size_t)n, 0);
}

static int send_raw(const char *msg)
{
    return nl_ingest_datagram(&ing, msg, strlen(msg), 0);
}

/* The value of a counter/gauge series, or -1 when it does not exist. */
static double value(json_t *root, const char *family, size_t n, ...)
{
    json_t *fam = json_family(root, family);
    if (!fam)
        return -1;
    va_list ap;
    va_start(ap, n);
    const char *a[8] = {0};
    for (size_t i = 0; i < 2 * n && i < 8; i++)
        a[i] = va_arg(ap, const char *);
    va_end(ap);
    json_t *s = n == 0   ? json_series(fam, 0)
                : n == 1 ? json_series(fam, 1, a[0], a[1])
                : n == 3 ? json_series(fam, 3, a[0], a[1], a[2], a[3], a[4], a[5])
                         : json_series(fam, 4, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
    if (!s)
        return -1;
    json_t *v = json_object_get(s, "value");
    return v ? json_number(v) : json_member_number(s, "count");
}

static double requests(json_t *root, const char *server, const char *route, const char *method, const char *status)
{
    return value(root, "nginx_http_requests", 4, "server", server, "route", route, "method", method, "status", status);
}

START_TEST(exact_counts_by_label)
{
    start("{\"rules\": [{\"match\": \"^/users/[0-9]+$\", \"route\": \"/users/{id}\"}]}");
    for (int i = 0; i < 7; i++)
        ck_assert_int_eq(send_line("a.com", "GET", 200, "", "/users/1?x", "", ""), NL_OK);
    for (int i = 0; i < 3; i++)
        send_line("a.com", "POST", 201, "/orders", "/orders/9", "", "");
    send_line("a.com", "PROPFIND", 405, "", "/dav", "", "");
    send_line("b.com", "GET", 404, "", "/nothing", "", "");
    send_line("", "GET", 404, "", "/nothing", "", ""); /* no server_name */
    json_t *root = render_json(fp);
    ck_assert_double_eq(requests(root, "a.com", "/users/{id}", "GET", "200"), 7);
    ck_assert_double_eq(requests(root, "a.com", "/orders", "POST", "201"), 3);
    ck_assert_double_eq(requests(root, "a.com", "unmatched", "other", "405"), 1);
    ck_assert_double_eq(requests(root, "b.com", "unmatched", "GET", "404"), 1);
    ck_assert_double_eq(requests(root, "_", "unmatched", "GET", "404"), 1);
    json_t *d = json_series(json_family(root, "nginx_http_request_duration_seconds"), 3, "server", "a.com", "route",
                            "/users/{id}", "method", "GET");
    ck_assert_ptr_nonnull(d);
    ck_assert_double_eq(json_member_number(d, "count"), 7);
    ck_assert_double_eq_tol(json_member_number(d, "sum"), 7 * 0.25, 1e-9);
    json_t *sz = json_series(json_family(root, "nginx_http_response_size_bytes"), 3, "server", "a.com", "route",
                             "/orders", "method", "POST");
    ck_assert_double_eq(json_member_number(sz, "sum"), 3000);
    sz = json_series(json_family(root, "nginx_http_request_size_bytes"), 3, "server", "a.com", "route", "/orders",
                     "method", "POST");
    ck_assert_double_eq(json_member_number(sz, "sum"), 900);
    ck_assert_double_eq(value(root, "nginxlog_datagrams", 0), 13);
    ck_assert_double_eq(value(root, "nginxlog_lines_recorded", 0), 13);
    json_decref(root);
    stop();
}
END_TEST

START_TEST(one_upstream_observation_per_attempt)
{
    start("{}");
    send_line("a.com", "GET", 502, "/api", "/api", "0.010, 0.020 : 0.030", "10.0.0.1:80, 10.0.0.2:80 : unix:/x");
    send_line("a.com", "GET", 504, "/api", "/api", "-", "10.0.0.1:80");
    json_t *root = render_json(fp);
    json_t *fam = json_family(root, "nginx_http_upstream_response_duration_seconds");
    const char *addrs[] = {"10.0.0.1:80", "10.0.0.2:80", "unix:/x"};
    double sums[] = {0.010, 0.020, 0.030};
    for (int i = 0; i < 3; i++) {
        json_t *s = json_series(fam, 3, "server", "a.com", "route", "/api", "upstream", addrs[i]);
        ck_assert_msg(s != NULL, "no series for %s", addrs[i]);
        ck_assert_double_eq(json_member_number(s, "count"), 1); /* "-" is no observation */
        ck_assert_double_eq_tol(json_member_number(s, "sum"), sums[i], 1e-9);
    }
    ck_assert_double_eq(requests(root, "a.com", "/api", "GET", "504"), 1);
    json_decref(root);
    stop();
}
END_TEST

START_TEST(bad_input_is_counted_by_reason_and_never_recorded)
{
    start("{\"log_malformed_per_minute\": 2}");
    ck_assert_int_eq(send_raw("<13>Dec  6 19:48:31 sshd: Accepted publickey"), NL_ETAG);
    ck_assert_int_eq(send_raw("\xff\xfe not syslog"), NL_ESYSLOG);
    ck_assert_int_eq(send_raw("<190>Dec  6 19:48:30 fastprom: 127.0.0.1 - - \"GET / HTTP/1.1\" 200"), NL_EFORMAT);
    ck_assert_int_eq(send_raw("<190>Dec  6 19:48:30 fastprom: fp1\ts\tGET\t200\t0.1\t\t\t1\t1\t1.0"), NL_EFIELDS);
    ck_assert_int_eq(nl_ingest_datagram(&ing, "<190>Dec", 8, 1), NL_EOVERSIZED);
    json_t *root = render_json(fp);
    const char *reasons[] = {"foreign_tag", "syslog_header", "foreign_format", "field_count", "oversized"};
    for (int i = 0; i < 5; i++)
        ck_assert_double_eq(value(root, "nginxlog_malformed", 1, "reason", reasons[i]), 1);
    ck_assert_double_eq(value(root, "nginxlog_malformed", 1, "reason", "status"), 0);
    ck_assert_ptr_null(json_series(json_family(root, "nginx_http_requests"), 0));
    ck_assert_uint_eq(json_array_size(json_object_get(json_family(root, "nginx_http_requests"), "series")), 0);
    ck_assert_double_eq(value(root, "nginxlog_datagrams", 0), 5);
    ck_assert_uint_eq(ing.suppressed, 3); /* two logged, the rest counted only */
    json_decref(root);
    stop();
}
END_TEST

START_TEST(series_limits_count_overflow_and_keep_existing_series)
{
    start("{\"max_series\": 3}");
    for (int status = 200; status < 206; status++)
        send_line("a.com", "GET", status, "/r", "/r", "", "");
    send_line("a.com", "GET", 200, "/r", "/r", "", "");
    send_line("a.com", "GET", 205, "/r", "/r", "", "");
    json_t *root = render_json(fp);
    ck_assert_double_eq(requests(root, "a.com", "/r", "GET", "200"), 2);
    ck_assert_double_eq(requests(root, "a.com", "/r", "GET", "202"), 1);
    ck_assert_double_eq(requests(root, "a.com", "/r", "GET", "203"), -1);
    ck_assert_double_eq(value(root, "nginxlog_dropped", 1, "reason", "series_limit"), 4);
    ck_assert_double_eq(value(root, "nginxlog_lines_recorded", 0), 4);
    json_decref(root);
    fastprom_stat_t st;
    ck_assert_int_eq(fastprom_stat(fp, &st, NULL), 0);
    ck_assert_uint_ge(st.dropped_series, 3); /* the library's own count of refused series */
    stop();
}
END_TEST

START_TEST(label_values_the_library_refuses_are_dropped_not_fatal)
{
    start("{}");
    ck_assert_int_eq(send_line("a.com", "GET", 200, "/bad\xff", "/", "", ""), NL_OK);
    ck_assert_int_eq(send_line("a.com", "GET", 200, "/good", "/", "", ""), NL_OK);
    json_t *root = render_json(fp);
    ck_assert_double_eq(value(root, "nginxlog_dropped", 1, "reason", "invalid_label"), 1);
    ck_assert_double_eq(requests(root, "a.com", "/good", "GET", "200"), 1);
    json_decref(root);
    stop();
}
END_TEST

START_TEST(a_reload_changes_the_rules)
{
    start("{}");
    send_line("a.com", "GET", 200, "", "/x/1", "", "");
    char err[256];
    const char *json = "{\"rules\": [{\"match\": \"^/x/\", \"route\": \"/x/{n}\"}]}";
    nl_config_t *fresh = nl_config_parse(json, strlen(json), "t2", NULL, err, sizeof err);
    ck_assert_int_eq(nl_ingest_reconfigure(&ing, fresh), 0);
    nl_config_free(cfg);
    cfg = fresh;
    send_line("a.com", "GET", 200, "", "/x/2", "", "");
    json_t *root = render_json(fp);
    ck_assert_double_eq(requests(root, "a.com", "unmatched", "GET", "200"), 1);
    ck_assert_double_eq(requests(root, "a.com", "/x/{n}", "GET", "200"), 1);
    json_decref(root);
    stop();
}
END_TEST

START_TEST(lag_is_now_minus_the_newest_line)
{
    start("{}");
    send_line("a.com", "GET", 200, "/r", "/r", "", ""); /* $msec 1796586510.888 */
    nl_ingest_tick(&ing, 1796586512.888);
    json_t *root = render_json(fp);
    ck_assert_double_eq_tol(value(root, "nginxlog_lag_seconds", 0), 2.0, 1e-3);
    json_decref(root);
    stop();
}
END_TEST

static Suite *ingest_suite(void)
{
    Suite *s = suite_create("nginxlog_ingest");
    TCase *tc = tcase_create("ingest");
    tcase_set_timeout(tc, 60); /* ASan on a loaded 2-core host */
    tcase_add_test(tc, exact_counts_by_label);
    tcase_add_test(tc, one_upstream_observation_per_attempt);
    tcase_add_test(tc, bad_input_is_counted_by_reason_and_never_recorded);
    tcase_add_test(tc, series_limits_count_overflow_and_keep_existing_series);
    tcase_add_test(tc, label_values_the_library_refuses_are_dropped_not_fatal);
    tcase_add_test(tc, a_reload_changes_the_rules);
    tcase_add_test(tc, lag_is_now_minus_the_newest_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ingest_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
