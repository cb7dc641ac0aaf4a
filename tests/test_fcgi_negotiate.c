/*
 * test_fcgi_negotiate.c - which exposition each scraper gets for its exact
 * Accept header, the exact Content-Type strings, and which coding
 * Accept-Encoding asks for. q=0 refuses (RFC 9110): a header refusing
 * everything it names gets none (a 406); malformed headers never fail,
 * they fall back to text and identity.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "negotiate.h"

#define TEXT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define OM1_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define OM001_TYPE "application/openmetrics-text; version=0.0.1; charset=utf-8"

/* Prometheus 2.42 (the Debian package installed here), default settings. */
#define PROMETHEUS_2_42                                                                                                \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"                    \
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
/* Prometheus 2.42 with the protobuf feature flag: protobuf first (not
 * supported here), then the same order. */
#define PROMETHEUS_2_42_PROTOBUF                                                                                       \
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"                      \
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"              \
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
/* Prometheus 3.x. */
#define PROMETHEUS_3                                                                                                   \
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"                                           \
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"            \
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

#define EXPO(h) fcgi_negotiate_exposition(h)

START_TEST(prometheus_scrapers_get_openmetrics_1_0_0)
{
    ck_assert_int_eq(EXPO(PROMETHEUS_2_42), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO(PROMETHEUS_2_42_PROTOBUF), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO(PROMETHEUS_3), FCGI_EXPO_OPENMETRICS_1_0_0);
}
END_TEST

START_TEST(exact_content_types)
{
    ck_assert_str_eq(fcgi_exposition_content_type(FCGI_EXPO_TEXT), TEXT_TYPE);
    ck_assert_str_eq(fcgi_exposition_content_type(FCGI_EXPO_OPENMETRICS_1_0_0), OM1_TYPE);
    ck_assert_str_eq(fcgi_exposition_content_type(FCGI_EXPO_OPENMETRICS_0_0_1), OM001_TYPE);
    ck_assert_int_eq(fcgi_exposition_format(FCGI_EXPO_OPENMETRICS_0_0_1), FASTPROM_FORMAT_OPENMETRICS);
    ck_assert_int_eq(fcgi_exposition_format(FCGI_EXPO_TEXT), FASTPROM_FORMAT_TEXT);
    ck_assert_str_eq(fcgi_exposition_label(FCGI_EXPO_OPENMETRICS_0_0_1), "openmetrics");
    ck_assert_str_eq(fcgi_exposition_label(FCGI_EXPO_TEXT), "text");
}
END_TEST

START_TEST(browsers_curl_and_nothing_get_text)
{
    ck_assert_int_eq(EXPO(NULL), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO(""), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("*/*"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
                     FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain;version=0.0.4"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("application/json"), FCGI_EXPO_TEXT);
}
END_TEST

START_TEST(openmetrics_when_asked_in_either_version)
{
    ck_assert_int_eq(EXPO("application/openmetrics-text"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text; version=1.0.0; charset=utf-8"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=0.0.1"), FCGI_EXPO_OPENMETRICS_0_0_1);
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=\"0.0.1\""), FCGI_EXPO_OPENMETRICS_0_0_1);
    ck_assert_int_eq(EXPO("APPLICATION/OpenMetrics-Text; Version=1.0.0"), FCGI_EXPO_OPENMETRICS_1_0_0);
    /* prometheus_client's own scrape test asks this way */
    ck_assert_int_eq(EXPO("application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                     FCGI_EXPO_OPENMETRICS_0_0_1);
}
END_TEST

START_TEST(highest_q_wins_then_named_over_wildcard_then_order)
{
    ck_assert_int_eq(EXPO("text/plain;q=0.9,application/openmetrics-text;q=0.8"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain;q=0.5,application/openmetrics-text;q=0.8"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text,text/plain"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("text/plain,application/openmetrics-text"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("*/*,application/openmetrics-text"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("*/*;q=1,application/openmetrics-text;q=0.5"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=0.0.1;q=0.9,application/openmetrics-text;q=0.3"),
                     FCGI_EXPO_OPENMETRICS_0_0_1);
}
END_TEST

START_TEST(q_zero_refuses_even_through_a_wildcard)
{
    ck_assert_int_eq(EXPO("text/plain;q=0,*/*"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=0,text/plain;q=0.1"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=0,*/*;q=0.5"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/*;q=0,*/*"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=1.0.0;q=0,application/openmetrics-text"),
                     FCGI_EXPO_OPENMETRICS_0_0_1);
    /* a more specific element overrides a refusing wildcard */
    ck_assert_int_eq(EXPO("*/*;q=0,application/openmetrics-text;version=0.0.1"), FCGI_EXPO_OPENMETRICS_0_0_1);
    ck_assert_int_eq(EXPO("application/*;q=0.2,text/plain;q=0.1"), FCGI_EXPO_OPENMETRICS_1_0_0);
}
END_TEST

/* Everything the header names is refused: nothing may be sent (406). */
START_TEST(refusing_everything_named_is_none)
{
    ck_assert_int_eq(EXPO("text/plain;q=0"), FCGI_EXPO_NONE);
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=0"), FCGI_EXPO_NONE);
    ck_assert_int_eq(EXPO("*/*;q=0"), FCGI_EXPO_NONE);
    ck_assert_int_eq(EXPO("text/plain;q=0, application/json"), FCGI_EXPO_NONE);
    ck_assert_int_eq(EXPO("text/plain;version=0.0.4;q=0.000, text/html"), FCGI_EXPO_NONE);
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=1.0.0;q=0,text/*;q=0"), FCGI_EXPO_NONE);
    ck_assert_str_eq(fcgi_exposition_label(FCGI_EXPO_NONE), "none");
}
END_TEST

/* A header naming nothing offered is disregarded, as RFC 9110 allows. */
START_TEST(naming_nothing_offered_gets_text)
{
    ck_assert_int_eq(EXPO("application/json"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/html;q=0"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain;version=1.0.0"), FCGI_EXPO_TEXT);
}
END_TEST

/* RFC 9110 weights run from 0 to 1; a decimal above 1 is read as 1,
 * extra decimals kept; what is no number disqualifies its element. */
START_TEST(out_of_range_weights_are_recovered)
{
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=1.5"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=1.01"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO("application/openmetrics-text;q=0.1234"), FCGI_EXPO_OPENMETRICS_1_0_0);
    /* read as 1, so no higher than a plain text/plain listed first */
    ck_assert_int_eq(EXPO("text/plain,application/openmetrics-text;q=7"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain;q=0.0004,application/openmetrics-text;q=0.0003"), FCGI_EXPO_TEXT);
}
END_TEST

START_TEST(unsupported_versions_are_not_taken)
{
    ck_assert_int_eq(EXPO("application/openmetrics-text;version=2.0.0"), FCGI_EXPO_TEXT);
    ck_assert_int_eq(EXPO("text/plain;version=1.0.0;q=0.9,application/openmetrics-text;q=0.2"),
                     FCGI_EXPO_OPENMETRICS_1_0_0);
}
END_TEST

START_TEST(malformed_accept_headers_fall_back_quietly)
{
    const char *junk[] = {
        ",,,",
        ";;;",
        "application/openmetrics-text;q=abc",
        "application/openmetrics-text;q=.5",
        "application/openmetrics-text;q=0.5.5",
        "application/openmetrics-text;q=",
        "application/openmetrics-text;q=-1",
        "\"",
        "application/openmetrics-text;version=\"1.0.0",
        "=;=,=",
        "\t \t",
        "application/openmetrics-text;q=1e3",
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        ck_assert_msg(EXPO(junk[i]) == FCGI_EXPO_TEXT, "\"%s\" should give text", junk[i]);
    /* a bad element does not spoil the good ones */
    ck_assert_int_eq(EXPO("foo/bar;q=zz, application/openmetrics-text;version=1.0.0, ;;"), FCGI_EXPO_OPENMETRICS_1_0_0);
    ck_assert_int_eq(EXPO(" application/openmetrics-text ; q=0.7 , text/plain ; q=0.3 "), FCGI_EXPO_OPENMETRICS_1_0_0);
}
END_TEST

START_TEST(huge_accept_headers_cost_bounded_time)
{
    size_t n = 1 << 20;
    char *h = malloc(n + 64);
    for (size_t i = 0; i < n; i += 2)
        memcpy(h + i, "a,", 2);
    strcpy(h + n, "application/openmetrics-text");
    /* past the element limit: ignored, text */
    ck_assert_int_eq(EXPO(h), FCGI_EXPO_TEXT);
    free(h);
}
END_TEST

#define CODING(h) fcgi_negotiate_coding(h)

START_TEST(gzip_when_accept_encoding_prefers_it)
{
    ck_assert_int_eq(CODING("gzip"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("gzip, deflate, br"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("deflate, gzip;q=1.0, *;q=0.5"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("x-gzip"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("GZIP"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("*"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("gzip;q=0.5, identity;q=0.5"), FCGI_CODING_GZIP);
    /* identity unlisted has no weight of its own: any listed gzip wins */
    ck_assert_int_eq(CODING("gzip;q=0.5"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("br;q=x, gzip"), FCGI_CODING_GZIP);
}
END_TEST

START_TEST(identity_when_gzip_is_not_wanted)
{
    ck_assert_int_eq(CODING(NULL), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING(""), FCGI_CODING_IDENTITY); /* RFC 9110: no content coding wanted */
    ck_assert_int_eq(CODING("identity"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("deflate, br"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("gzip;q=0"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("gzip;q=0.000"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("*, gzip;q=0"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("gzip;q=0.2, identity"), FCGI_CODING_IDENTITY);
    ck_assert_int_eq(CODING("gzip;q=0.2, *;q=0.3"), FCGI_CODING_IDENTITY);
}
END_TEST

/* q=0 on identity (or "*" without identity listed) refuses it. */
START_TEST(refused_identity_means_gzip_or_none)
{
    ck_assert_int_eq(CODING("identity;q=0, gzip"), FCGI_CODING_GZIP_ONLY);
    ck_assert_int_eq(CODING("gzip;q=0.1, *;q=0"), FCGI_CODING_GZIP_ONLY);
    ck_assert_int_eq(CODING("*;q=0, x-gzip;q=0.5"), FCGI_CODING_GZIP_ONLY);
    ck_assert_int_eq(CODING("identity;q=0"), FCGI_CODING_NONE); /* gzip unlisted is not acceptable either */
    ck_assert_int_eq(CODING("*;q=0"), FCGI_CODING_NONE);
    ck_assert_int_eq(CODING("identity;q=0, *;q=0"), FCGI_CODING_NONE);
    ck_assert_int_eq(CODING("identity;q=0, gzip;q=0, br"), FCGI_CODING_NONE);
    ck_assert_int_eq(CODING("*;q=0, identity;q=0.1"), FCGI_CODING_IDENTITY); /* the more specific entry wins */
}
END_TEST

/* gzip;q=1.5: RFC 9110 weights run from 0 to 1; read as 1, the most preferred. */
START_TEST(weights_above_one_read_as_one)
{
    ck_assert_int_eq(CODING("gzip;q=1.5"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("gzip;q=2"), FCGI_CODING_GZIP);
    ck_assert_int_eq(CODING("identity;q=1, gzip;q=1.5"), FCGI_CODING_GZIP); /* a tie at 1: gzip */
    ck_assert_int_eq(CODING("identity;q=0, gzip;q=1.5"), FCGI_CODING_GZIP_ONLY);
}
END_TEST

START_TEST(malformed_accept_encoding_means_identity)
{
    const char *junk[] = {"gzip;q=abc", "gzip;q=-1", ";gzip", ",,,", "gzip;q=", "g zip", "gzip;q=0.5.5"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        ck_assert_msg(CODING(junk[i]) == FCGI_CODING_IDENTITY, "\"%s\" should mean identity", junk[i]);
}
END_TEST

static Suite *negotiate_suite(void)
{
    Suite *s = suite_create("fcgi_negotiate");
    TCase *tc = tcase_create("accept");
    tcase_add_test(tc, prometheus_scrapers_get_openmetrics_1_0_0);
    tcase_add_test(tc, exact_content_types);
    tcase_add_test(tc, browsers_curl_and_nothing_get_text);
    tcase_add_test(tc, openmetrics_when_asked_in_either_version);
    tcase_add_test(tc, highest_q_wins_then_named_over_wildcard_then_order);
    tcase_add_test(tc, q_zero_refuses_even_through_a_wildcard);
    tcase_add_test(tc, refusing_everything_named_is_none);
    tcase_add_test(tc, naming_nothing_offered_gets_text);
    tcase_add_test(tc, out_of_range_weights_are_recovered);
    tcase_add_test(tc, unsupported_versions_are_not_taken);
    tcase_add_test(tc, malformed_accept_headers_fall_back_quietly);
    tcase_add_test(tc, huge_accept_headers_cost_bounded_time);
    suite_add_tcase(s, tc);
    tc = tcase_create("accept_encoding");
    tcase_add_test(tc, gzip_when_accept_encoding_prefers_it);
    tcase_add_test(tc, identity_when_gzip_is_not_wanted);
    tcase_add_test(tc, refused_identity_means_gzip_or_none);
    tcase_add_test(tc, weights_above_one_read_as_one);
    tcase_add_test(tc, malformed_accept_encoding_means_identity);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(negotiate_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
