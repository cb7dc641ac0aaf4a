/*
 * test_nginxlog_route.c - the route label: $fastprom_route first, then the
 * configured rules in order (per server or for any server, on the path
 * without its query), then the unmatched route; the rule-result table
 * never answers for another (server, path).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "nginxlog/config.h"
#include "nginxlog/route.h"

static const char *rules_json = "{\"unmatched_route\": \"other\", \"rules\": ["
                                "{\"server\": \"a.com\", \"match\": \"^/users/[0-9]+$\", \"route\": \"/users/{id}\"},"
                                "{\"match\": \"^/users/\", \"route\": \"/users/*\"},"
                                "{\"server\": \"b.com\", \"match\": \"^/static/\", \"route\": \"/static\"}]}";

static nl_config_t *cfg;
static nl_router_t *router;

static void setup(void)
{
    char err[512];
    cfg = nl_config_parse(rules_json, strlen(rules_json), "t", NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    router = nl_router_new(cfg);
    ck_assert_ptr_nonnull(router);
}

static void teardown(void)
{
    nl_router_free(router);
    nl_config_free(cfg);
}

/* The route of a request to server for uri with $fastprom_route = var. */
static const char *route(const char *server, const char *uri, const char *var, nl_route_source_t *source)
{
    static char out[512];
    char buf[512];
    nl_line_t line;
    memset(&line, 0, sizeof line);
    line.uri = (nl_str_t){uri, strlen(uri)};
    line.route = (nl_str_t){var, strlen(var)};
    size_t len;
    nl_route_source_t ignored;
    const char *r = nl_route(router, &line, server, strlen(server), buf, sizeof buf, &len, source ? source : &ignored);
    snprintf(out, sizeof out, "%.*s", (int)len, r);
    return out;
}

START_TEST(the_variable_wins)
{
    nl_route_source_t src;
    ck_assert_str_eq(route("a.com", "/users/1", "/u/{id}", &src), "/u/{id}");
    ck_assert_int_eq(src, NL_ROUTE_VARIABLE);
    ck_assert_str_eq(route("a.com", "/x", "/q\\\"{id}", &src), "/q\"{id}"); /* unescaped */
}
END_TEST

START_TEST(rules_in_order_per_server)
{
    nl_route_source_t src;
    ck_assert_str_eq(route("a.com", "/users/12", "", &src), "/users/{id}");
    ck_assert_int_eq(src, NL_ROUTE_RULE);
    ck_assert_str_eq(route("b.com", "/users/12", "", NULL), "/users/*"); /* the a.com rule is not b.com's */
    ck_assert_str_eq(route("a.com", "/users/12/x", "", NULL), "/users/*");
    ck_assert_str_eq(route("b.com", "/static/app.css", "", NULL), "/static");
    ck_assert_str_eq(route("a.com", "/static/app.css", "", &src), "other");
    ck_assert_int_eq(src, NL_ROUTE_UNMATCHED);
}
END_TEST

START_TEST(the_query_is_not_part_of_the_path)
{
    ck_assert_str_eq(route("a.com", "/users/12?page=2", "", NULL), "/users/{id}");
    ck_assert_str_eq(route("a.com", "/static?/users/1", "", NULL), "other");
}
END_TEST

START_TEST(the_table_never_mixes_up_keys)
{
    /* Same path, other server; same server, other path; repeated many
     * times so every answer after the first comes from the table. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3000; i++) {
            char uri[64];
            snprintf(uri, sizeof uri, "/users/%d", i);
            ck_assert_str_eq(route("a.com", uri, "", NULL), "/users/{id}");
            ck_assert_str_eq(route("b.com", uri, "", NULL), "/users/*");
            snprintf(uri, sizeof uri, "/users/%dx", i);
            ck_assert_str_eq(route("a.com", uri, "", NULL), "/users/*");
        }
    }
}
END_TEST

START_TEST(odd_paths_are_matched_not_trusted)
{
    char long_uri[20000];
    memset(long_uri, 'a', sizeof long_uri - 1);
    long_uri[0] = '/';
    long_uri[sizeof long_uri - 1] = '\0';
    ck_assert_str_eq(route("a.com", long_uri, "", NULL), "other");
    memcpy(long_uri, "/users/", 7);
    ck_assert_str_eq(route("b.com", long_uri, "", NULL), "/users/*");
    ck_assert_str_eq(route("a.com", "/users/\xff\xfe", "", NULL), "/users/*");
    ck_assert_str_eq(route("a.com", "/users/1\\u0000", "", NULL), "/users/*"); /* NUL inside: not "/users/1" */
    ck_assert_str_eq(route("", "", "", NULL), "other");
}
END_TEST

START_TEST(without_rules_everything_is_unmatched)
{
    char err[256];
    nl_config_t *plain = nl_config_parse("{}", 2, "t", NULL, err, sizeof err);
    nl_router_t *r = nl_router_new(plain);
    nl_line_t line;
    memset(&line, 0, sizeof line);
    line.uri = (nl_str_t){"/x", 2};
    char buf[16];
    size_t len;
    nl_route_source_t src;
    const char *got = nl_route(r, &line, "s", 1, buf, sizeof buf, &len, &src);
    ck_assert(len == 9 && memcmp(got, "unmatched", 9) == 0 && src == NL_ROUTE_UNMATCHED);
    nl_router_free(r);
    nl_config_free(plain);
}
END_TEST

static Suite *route_suite(void)
{
    Suite *s = suite_create("nginxlog_route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60); /* ASan on a loaded 2-core host */
    tcase_add_test(tc, the_variable_wins);
    tcase_add_test(tc, rules_in_order_per_server);
    tcase_add_test(tc, the_query_is_not_part_of_the_path);
    tcase_add_test(tc, the_table_never_mixes_up_keys);
    tcase_add_test(tc, odd_paths_are_matched_not_trusted);
    tcase_add_test(tc, without_rules_everything_is_unmatched);
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
