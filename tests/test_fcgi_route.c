/*
 * test_fcgi_route.c - the worker's handlers on a real segment, without
 * FastCGI: routing under a prefix, status codes and headers, negotiated
 * formats, gzip round trips, HEAD, name[] filters, the self-metrics behind
 * the application's families, limits (in-flight, deadline), and recovery
 * when the segment disappears and comes back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "app.h"
#include "clock.h"
#include "route.h"
#include "support.h"

static fcgi_app_t *app;
static fastprom_t *writer;
static const char *segment;
static fastprom_family_t *requests;

static void setup(void)
{
    writer = open_tmp_segment(16u << 20, &segment);
    static const char *const labels[] = {"method", "status"};
    fastprom_family_def_t def = {.type = FASTPROM_COUNTER,
                                 .name = "http_requests_total",
                                 .help = "Requests.",
                                 .label_names = labels,
                                 .nlabels = 2};
    fastprom_error_t err;
    requests = fastprom_family(writer, &def, &err);
    ck_assert_msg(requests != NULL, "%s", err.text);
    const char *values[] = {"GET", "200"};
    ck_assert_int_eq(fastprom_inc(fastprom_series(requests, values, NULL, NULL), 7), 0);
}

static void start_app(const char *json)
{
    char err[512];
    fcgi_overrides_t ov = {.segment = segment};
    fcgi_config_t *cfg = fcgi_config_parse(json, strlen(json), "test", &ov, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    app = fcgi_app_new(cfg, err, sizeof err);
    ck_assert_msg(app != NULL, "%s", err);
}

static void teardown(void)
{
    fcgi_app_free(app);
    fastprom_close(writer);
}

/* Handles one request; the body is copied out NUL-terminated (free it). */
static char *request(const char *method, const char *uri, const char *query, const char *accept, const char *encoding,
                     fcgi_response_t *r)
{
    fcgi_request_t req = {"RESPONDER", method, uri, query, accept, encoding};
    fcgi_handle(app, &req, r);
    char *body = malloc(r->body_len + 1);
    memcpy(body, r->body, r->body_len);
    body[r->body_len] = '\0';
    fcgi_response_done(app, r);
    r->body = NULL; /* gone with the render buffers */
    return body;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

START_TEST(routes_live_under_the_configured_prefix)
{
    ck_assert_int_eq(fcgi_route_match("/metrics", ""), FCGI_ROUTE_METRICS);
    ck_assert_int_eq(fcgi_route_match("/api/v1/metrics", ""), FCGI_ROUTE_METRICS_JSON);
    ck_assert_int_eq(fcgi_route_match("/api/v1/health/prometheus", ""), FCGI_ROUTE_HEALTH);
    ck_assert_int_eq(fcgi_route_match("/api/v1/health/live", ""), FCGI_ROUTE_LIVE);
    ck_assert_int_eq(fcgi_route_match("/mon/metrics", "/mon"), FCGI_ROUTE_METRICS);
    ck_assert_int_eq(fcgi_route_match("/metrics", "/mon"), FCGI_ROUTE_NONE);
    ck_assert_int_eq(fcgi_route_match("/monmetrics", "/mon"), FCGI_ROUTE_NONE);
    ck_assert_int_eq(fcgi_route_match("/metrics/", ""), FCGI_ROUTE_NONE);
    ck_assert_int_eq(fcgi_route_match("/metricsx", ""), FCGI_ROUTE_NONE);
    ck_assert_int_eq(fcgi_route_match(NULL, ""), FCGI_ROUTE_NONE);
}
END_TEST

START_TEST(text_exposition_has_the_app_then_the_worker)
{
    start_app("{\"namespace\": \"shop\"}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_int_eq(r.vary, 1);
    ck_assert_int_eq(r.gzip, 0);
    char *app_line = strstr(body, "shop_http_requests_total{method=\"GET\",status=\"200\"} 7\n");
    char *self_line = strstr(body, "fastprom_segment_up 1\n");
    ck_assert_msg(app_line && self_line && app_line < self_line, "%s", body);
    ck_assert_ptr_nonnull(strstr(body, "fastprom_build_info{version=\"" FASTPROM_VERSION "\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(body, "\nprocess_resident_memory_bytes "));
    ck_assert_ptr_nonnull(strstr(body, "\nprocess_open_fds "));
    ck_assert_ptr_nonnull(strstr(body, "fastprom_series{type=\"counter\"} 1\n"));
    ck_assert_ptr_null(strstr(body, "shop_fastprom")); /* the worker's names are never prefixed */
    ck_assert_ptr_null(strstr(body, "# EOF"));
    free(body);
}
END_TEST

START_TEST(openmetrics_has_exactly_one_eof_at_the_end)
{
    start_app("{}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", NULL, "application/openmetrics-text;version=1.0.0", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    ck_assert_uint_eq(count(body, "# EOF"), 1);
    ck_assert_str_eq(body + strlen(body) - 6, "# EOF\n");
    ck_assert_ptr_nonnull(strstr(body, "http_requests_total{method=\"GET\",status=\"200\"} 7\n"));
    free(body);

    body = request("GET", "/metrics", NULL, "application/openmetrics-text;version=0.0.1", NULL, &r);
    ck_assert_str_eq(r.content_type, "application/openmetrics-text; version=0.0.1; charset=utf-8");
    ck_assert_uint_eq(count(body, "# EOF"), 1);
    free(body);
}
END_TEST

START_TEST(created_samples_when_configured)
{
    start_app("{\"openmetrics_created\": true}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", "name[]=http_requests_total", "application/openmetrics-text", NULL, &r);
    ck_assert_ptr_nonnull(strstr(body, "http_requests_created{method=\"GET\",status=\"200\"} "));
    free(body);
    body = request("GET", "/metrics", "name[]=http_requests_total", NULL, NULL, &r); /* text has no _created */
    ck_assert_ptr_null(strstr(body, "_created"));
    free(body);
}
END_TEST

/* Inflates a gzip body. */
static char *gunzip(const char *in, size_t len)
{
    size_t cap = 1 << 22;
    char *out = malloc(cap);
    z_stream zs = {0};
    ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap - 1;
    ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
    out[zs.total_out] = '\0';
    inflateEnd(&zs);
    return out;
}

/* Asks for the application's counter with Accept-Encoding `encoding`: the
 * answer must be gzip and inflate to the identity answer. */
static void assert_gzip_of_identity(const char *encoding)
{
    fcgi_response_t r;
    /* name[] keeps the ever-changing self-metrics out of the comparison */
    char *plain = request("GET", "/metrics", "name[]=http_requests_total", NULL, "identity", &r);
    ck_assert_int_eq(r.gzip, 0);
    fcgi_request_t req = {"RESPONDER", "GET", "/metrics", "name[]=http_requests_total", NULL, encoding};
    fcgi_handle(app, &req, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.gzip, 1);
    char *inflated = gunzip(r.body, r.body_len);
    fcgi_response_done(app, &r);
    ck_assert_str_eq(inflated, plain);
    ck_assert_ptr_nonnull(strstr(plain, "http_requests_total{"));
    free(inflated);
    free(plain);
}

START_TEST(gzip_decompresses_to_the_identity_body)
{
    start_app("{\"gzip_min_bytes\": 0}");
    assert_gzip_of_identity("gzip, deflate");
}
END_TEST

START_TEST(small_bodies_are_not_compressed)
{
    start_app("{\"gzip_min_bytes\": 100000}");
    fcgi_response_t r;
    free(request("GET", "/metrics", NULL, NULL, "gzip", &r));
    ck_assert_int_eq(r.gzip, 0);
}
END_TEST

/* A client that refuses identity gets gzip however small the body. */
START_TEST(refused_identity_is_gzip_even_for_small_bodies)
{
    start_app("{\"gzip_min_bytes\": 100000}");
    assert_gzip_of_identity("identity;q=0, gzip");
}
END_TEST

/* q=0 is "not acceptable" (RFC 9110): a scrape refusing everything offered
 * gets a 406 naming what is offered, and it is counted. */
START_TEST(nothing_acceptable_is_406)
{
    start_app("{}");
    fcgi_response_t r;
    const struct {
        const char *accept, *encoding, *says;
    } cases[] = {
        {"text/plain;q=0", NULL, "Accept refuses"},
        {"application/openmetrics-text;q=0, text/plain;q=0", "gzip", "Accept refuses"},
        {NULL, "identity;q=0", "Accept-Encoding refuses"},
        {"application/openmetrics-text", "*;q=0", "Accept-Encoding refuses"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *body = request("GET", "/metrics", NULL, cases[i].accept, cases[i].encoding, &r);
        ck_assert_int_eq(r.status, 406);
        ck_assert_int_eq(r.vary, 1);
        ck_assert_int_eq(r.gzip, 0);
        ck_assert_msg(strstr(body, cases[i].says) != NULL, "%s", body);
        free(body);
    }
    char *body = request("GET", "/api/v1/metrics", NULL, "text/plain;q=0", NULL, &r);
    ck_assert_int_eq(r.status, 200); /* the JSON view has one format: Accept is not consulted */
    free(body);
    free(request("GET", "/api/v1/metrics", NULL, NULL, "identity;q=0", &r));
    ck_assert_int_eq(r.status, 406);
    body = request("GET", "/metrics", "name[]=fastprom_scrapes_total", NULL, NULL, &r);
    ck_assert_msg(strstr(body, "fastprom_scrapes_total{format=\"none\",code=\"406\"} 2\n") != NULL, "%s", body);
    free(body);
}
END_TEST

START_TEST(head_has_the_get_headers_and_no_body)
{
    start_app("{}");
    fcgi_response_t get, head;
    free(request("GET", "/metrics", "name[]=http_requests_total", NULL, NULL, &get));
    free(request("HEAD", "/metrics", "name[]=http_requests_total", NULL, NULL, &head));
    ck_assert_int_eq(head.status, 200);
    ck_assert_int_eq(head.head, 1);
    ck_assert_int_eq(get.head, 0);
    ck_assert_uint_eq(head.body_len, get.body_len); /* Content-Length of the GET */
    ck_assert_str_eq(head.content_type, get.content_type);
}
END_TEST

START_TEST(errors_404_405_403)
{
    start_app("{\"uri_prefix\": \"/mon\"}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_ptr_nonnull(strstr(body, "/mon/metrics"));
    free(body);
    body = request("POST", "/mon/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(r.allow, "GET, HEAD");
    free(body);
    free(request("DELETE", "/mon/api/v1/health/live", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 405);
    free(request(NULL, "/mon/metrics", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 405);
    fcgi_request_t req = {"AUTHORIZER", "GET", "/mon/metrics", NULL, NULL, NULL};
    fcgi_handle(app, &req, &r);
    ck_assert_int_eq(r.status, 403);
    fcgi_response_done(app, &r);
    free(request("GET", "/mon/api/v1/health/live", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(name_filters_and_malformed_queries)
{
    start_app("{}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", "name[]=fastprom_segment_up", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(body, "fastprom_segment_up 1\n"));
    ck_assert_ptr_null(strstr(body, "http_requests_total"));
    ck_assert_ptr_null(strstr(body, "process_"));
    free(body);
    body = request("GET", "/metrics", "name[]=bad%zz", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(body, "malformed percent-encoding"));
    free(body);
    /* the 400 was counted under its format */
    body = request("GET", "/metrics", "name[]=fastprom_scrapes_total", NULL, NULL, &r);
    ck_assert_ptr_nonnull(strstr(body, "fastprom_scrapes_total{format=\"text\",code=\"400\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(body, "fastprom_scrapes_total{format=\"text\",code=\"200\"} 1\n"));
    free(body);
}
END_TEST

START_TEST(json_view_of_the_app_segment)
{
    start_app("{}");
    fcgi_response_t r;
    char *body = request("GET", "/api/v1/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.content_type, fastprom_content_type(FASTPROM_FORMAT_JSON));
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    ck_assert_msg(doc != NULL, "%s: %s", jerr.text, body);
    json_t *series = json_series(json_family(doc, "http_requests"), 2, "method", "GET", "status", "200");
    ck_assert_ptr_nonnull(series);
    ck_assert_double_eq(json_member_number(series, "value"), 7);
    ck_assert_ptr_null(json_family(doc, "fastprom_segment_up")); /* the app's families only */
    json_decref(doc);
    free(body);
}
END_TEST

START_TEST(a_vanished_segment_is_a_503_and_comes_back_by_itself)
{
    start_app("{}");
    fcgi_response_t r;
    free(request("GET", "/metrics", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);

    ck_assert_int_eq(unlink(segment), 0);
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    ck_assert_uint_eq(count(body, "\n"), 1); /* one line */
    ck_assert_ptr_nonnull(strstr(body, segment));
    free(body);
    free(request("GET", "/api/v1/health/prometheus", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.content_type, "application/health+json");
    free(request("GET", "/api/v1/health/live", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);

    /* a new valid segment at the same path: picked up within the retry second */
    fastprom_close(writer);
    fastprom_options_t opt = {.path = segment, .size = FASTPROM_MIN_SIZE};
    fastprom_error_t err;
    writer = fastprom_open(&opt, &err);
    ck_assert_msg(writer != NULL, "%s", err.text);
    int status = 0;
    for (int i = 0; i < 40 && status != 200; i++) {
        usleep(50000);
        free(request("GET", "/metrics", NULL, NULL, NULL, &r));
        status = r.status;
    }
    ck_assert_int_eq(status, 200);
    body = request("GET", "/metrics", "name[]=fastprom_render_errors_total", NULL, NULL, &r);
    ck_assert_ptr_nonnull(strstr(body, "fastprom_render_errors_total{reason=\"missing\"} "));
    free(body);
}
END_TEST

START_TEST(renders_past_max_in_flight_get_503)
{
    start_app("{\"threads\": 4, \"max_in_flight\": 1}");
    ck_assert_int_eq(fcgi_app_render_begin(app, 1), 0); /* another thread is rendering */
    fcgi_response_t r;
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(body, "max_in_flight is 1"));
    free(body);
    free(request("GET", "/api/v1/health/prometheus", NULL, NULL, NULL, &r)); /* health is not a render */
    ck_assert_int_ne(r.status, 503);
    fcgi_app_render_end(app);
    free(request("GET", "/metrics", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
}
END_TEST

START_TEST(renders_past_the_deadline_get_503)
{
    /* 20000 series take far more than the 1 ms deadline to render */
    static const char *const labels[] = {"id"};
    fastprom_family_def_t def = {.type = FASTPROM_GAUGE,
                                 .name = "many",
                                 .label_names = labels,
                                 .nlabels = 1,
                                 .max_series = 30000};
    fastprom_family_t *many = fastprom_family(writer, &def, NULL);
    ck_assert_ptr_nonnull(many);
    for (int i = 0; i < 20000; i++) {
        char id[16];
        const char *v = id;
        snprintf(id, sizeof id, "%d", i);
        fastprom_error_t err;
        ck_assert_msg(fastprom_series(many, &v, NULL, &err) != NULL, "series %d: %s", i, err.text);
    }
    start_app("{\"render_deadline_seconds\": 0.001}");
    fcgi_response_t r;
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_ptr_nonnull(strstr(body, "render_deadline_seconds"));
    free(body);
}
END_TEST

/* A scrape waiting to share an identical scrape's next render gives up at
 * the render deadline with a 503 rather than wait on; a different kind of
 * answer (here gzip) and a filtered scrape do not wait at all. */
START_TEST(a_scrape_waiting_past_the_deadline_for_a_shared_render_gets_503)
{
    start_app("{\"render_deadline_seconds\": 0.2, \"gzip_min_bytes\": 0}");
    fcgi_shared_answer_t *none;
    unsigned text_identity = 0; /* route.c's key: text 0.0.4, identity */
    ck_assert_int_eq(fcgi_share_join(app->share, text_identity, fcgi_monotonic_seconds() + 1, &none),
                     FCGI_SHARE_LEAD); /* another scrape renders and never finishes */
    fcgi_response_t r;
    double before = fcgi_monotonic_seconds();
    char *body = request("GET", "/metrics", NULL, NULL, NULL, &r);
    ck_assert_double_ge(fcgi_monotonic_seconds() - before, 0.2);
    ck_assert_int_eq(r.status, 503);
    ck_assert_msg(strstr(body, "another scrape's render") != NULL, "%s", body);
    free(body);
    free(request("GET", "/metrics", NULL, NULL, "gzip", &r));
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.gzip, 1);
    free(request("GET", "/metrics", "name[]=http_requests_total", NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
    fcgi_share_publish(app->share, text_identity, 200, "text/plain", 0, "", 0);
    free(request("GET", "/metrics", NULL, NULL, NULL, &r));
    ck_assert_int_eq(r.status, 200);
}
END_TEST

static Suite *route_suite(void)
{
    Suite *s = suite_create("fcgi_route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, routes_live_under_the_configured_prefix);
    tcase_add_test(tc, text_exposition_has_the_app_then_the_worker);
    tcase_add_test(tc, openmetrics_has_exactly_one_eof_at_the_end);
    tcase_add_test(tc, created_samples_when_configured);
    tcase_add_test(tc, gzip_decompresses_to_the_identity_body);
    tcase_add_test(tc, small_bodies_are_not_compressed);
    tcase_add_test(tc, refused_identity_is_gzip_even_for_small_bodies);
    tcase_add_test(tc, nothing_acceptable_is_406);
    tcase_add_test(tc, head_has_the_get_headers_and_no_body);
    tcase_add_test(tc, errors_404_405_403);
    tcase_add_test(tc, name_filters_and_malformed_queries);
    tcase_add_test(tc, json_view_of_the_app_segment);
    tcase_add_test(tc, a_vanished_segment_is_a_503_and_comes_back_by_itself);
    tcase_add_test(tc, renders_past_max_in_flight_get_503);
    tcase_add_test(tc, renders_past_the_deadline_get_503);
    tcase_add_test(tc, a_scrape_waiting_past_the_deadline_for_a_shared_render_gets_503);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(route_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
