/*
 * test_fcgi_query.c - name[]= filters from the query string: decoding,
 * validation, and one clear line for each malformed input.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "query.h"

static char err[256];

static void assert_names(const char *qs, size_t n, const char *const *want)
{
    fcgi_query_t q;
    ck_assert_msg(fcgi_query_parse(qs, &q, err, sizeof err) == 0, "\"%s\": %s", qs, err);
    ck_assert_uint_eq(q.nnames, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(q.names[i], want[i]);
    fcgi_query_free(&q);
}

static void assert_refused(const char *qs, const char *message)
{
    fcgi_query_t q;
    ck_assert_msg(fcgi_query_parse(qs, &q, err, sizeof err) != 0, "\"%s\" was accepted", qs);
    ck_assert_msg(strstr(err, message) != NULL, "\"%s\": message \"%s\" lacks \"%s\"", qs, err, message);
    fcgi_query_free(&q);
}

START_TEST(no_query_means_no_filter)
{
    assert_names(NULL, 0, NULL);
    assert_names("", 0, NULL);
    assert_names("&&&", 0, NULL);
    assert_names("debug=1&format=x", 0, NULL); /* other parameters are not ours */
}
END_TEST

START_TEST(names_in_order)
{
    const char *want[] = {"http_requests_total", "process_cpu_seconds_total", "up"};
    assert_names("name[]=http_requests_total&name[]=process_cpu_seconds_total&name[]=up", 3, want);
    assert_names("x=1&name[]=http_requests_total&y&name[]=process_cpu_seconds_total&name[]=up&", 3, want);
}
END_TEST

START_TEST(keys_and_values_are_percent_decoded)
{
    const char *want[] = {"ns:metric_total", "a_b"};
    assert_names("name%5B%5D=ns%3Ametric_total&name%5b%5d=a%5Fb", 2, want);
    const char *colon[] = {"a:b"};
    assert_names("name[]=a%3ab", 1, colon);
}
END_TEST

START_TEST(malformed_percent_encoding_is_refused)
{
    assert_refused("name[]=abc%", "malformed percent-encoding in a name[] value");
    assert_refused("name[]=abc%4", "malformed percent-encoding");
    assert_refused("name[]=abc%zz", "malformed percent-encoding");
    assert_refused("name[]=abc%g1", "malformed percent-encoding");
    assert_refused("name[]=ab%00c", "malformed percent-encoding"); /* would cut the name */
    assert_refused("name%5=x", "malformed percent-encoding in a query parameter name");
}
END_TEST

START_TEST(values_that_are_not_metric_names_are_refused)
{
    assert_refused("name[]=", "name[]=\"\" is not a metric name");
    assert_refused("name[]", "is not a metric name");
    assert_refused("name[]=9lives", "name[]=\"9lives\" is not a metric name");
    assert_refused("name[]=a+b", "name[]=\"a b\" is not a metric name");
    assert_refused("name[]=a-b", "is not a metric name");
    assert_refused("name[]=%C3%A9", "is not a metric name");
    assert_refused("name[]=a%22b%0A", "name[]=\"a\\x22b\\x0a\" is not a metric name"); /* shown safely */
}
END_TEST

START_TEST(too_many_names_are_refused)
{
    static char qs[FCGI_QUERY_MAX_NAMES * 16 + 64];
    size_t len = 0;
    for (int i = 0; i <= FCGI_QUERY_MAX_NAMES; i++)
        len += (size_t)snprintf(qs + len, sizeof qs - len, "name[]=m%d&", i);
    assert_refused(qs, "more than 256 name[] filters");
}
END_TEST

START_TEST(long_values_are_cut_in_the_message)
{
    char qs[2048] = "name[]=";
    memset(qs + 7, '-', 1500);
    qs[1507] = '\0';
    assert_refused(qs, "...\" is not a metric name");
    ck_assert_uint_lt(strlen(err), 200);
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("fcgi_query");
    TCase *tc = tcase_create("query");
    tcase_add_test(tc, no_query_means_no_filter);
    tcase_add_test(tc, names_in_order);
    tcase_add_test(tc, keys_and_values_are_percent_decoded);
    tcase_add_test(tc, malformed_percent_encoding_is_refused);
    tcase_add_test(tc, values_that_are_not_metric_names_are_refused);
    tcase_add_test(tc, too_many_names_are_refused);
    tcase_add_test(tc, long_values_are_cut_in_the_message);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(query_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
