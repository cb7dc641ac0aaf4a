/*
 * test_nginxlog_config.c - fastprom-nginxlog's configuration: the shipped
 * example loads, defaults, flags override the file, and every mistake is
 * one line naming the file, the key and the fix.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "nginxlog/config.h"

static char err[1024];

static nl_config_t *parse(const char *text, const nl_overrides_t *ov)
{
    err[0] = '\0';
    return nl_config_parse(text, strlen(text), "t.json", ov, err, sizeof err);
}

static void assert_fails(const char *text, const nl_overrides_t *ov, const char *prefix)
{
    nl_config_t *cfg = parse(text, ov);
    ck_assert_msg(cfg == NULL, "accepted: %s", text);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "message \"%s\" does not start with \"%s\"", err, prefix);
    ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: %s", err);
}

START_TEST(the_shipped_example_loads)
{
    nl_config_t *cfg = nl_config_load("conf/nginxlog.json", NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->socket_path, "/run/fastprom/nginx-log.sock");
    ck_assert_uint_eq(cfg->socket_mode, 0660);
    ck_assert_ptr_null(cfg->user);
    ck_assert_str_eq(cfg->segment_path, "/run/fastprom/segment");
    ck_assert_str_eq(cfg->tag, "fastprom");
    ck_assert_uint_eq(cfg->nrules, 3);
    ck_assert_ptr_null(cfg->rules[0].server);
    ck_assert_str_eq(cfg->rules[1].server, "example.com");
    ck_assert_str_eq(cfg->rules[1].route, "/users/{id}");
    nl_config_free(cfg);
}
END_TEST

START_TEST(defaults_without_a_file)
{
    nl_config_t *cfg = nl_config_load(NULL, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->socket_path, NL_DEFAULT_SOCKET);
    ck_assert_ptr_null(cfg->segment_path);
    ck_assert_str_eq(cfg->unmatched_route, "unmatched");
    ck_assert_uint_eq(cfg->max_series, 2000);
    ck_assert_uint_eq(cfg->max_line_bytes, 16384);
    ck_assert_uint_eq(cfg->nrules, 0);
    ck_assert_uint_eq(cfg->receive_coalesce_ms, 2);
    ck_assert_uint_eq(cfg->receive_coalesce_lines, 64);
    nl_config_free(cfg);
}
END_TEST

START_TEST(flags_override_the_file)
{
    nl_overrides_t ov = {.socket = "/tmp/x.sock", .socket_mode = "0620", .group = "", .segment = "/dev/shm/s"};
    nl_config_t *cfg = parse("{\"socket\": \"/run/a.sock\", \"group\": \"root\", \"socket_mode\": \"0600\"}", &ov);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->socket_path, "/tmp/x.sock");
    ck_assert_uint_eq(cfg->socket_mode, 0620);
    ck_assert_ptr_null(cfg->group);
    ck_assert_str_eq(cfg->segment_path, "/dev/shm/s");
    nl_config_free(cfg);
}
END_TEST

START_TEST(mistakes_name_the_key_and_the_fix)
{
    assert_fails("{\"sokcet\": \"/x\"}", NULL, "t.json: unknown key \"sokcet\" (known: socket, socket_mode,");
    assert_fails("{\"socket\": \"x.sock\"}", NULL, "t.json: \"socket\" must be an absolute path, got \"x.sock\"");
    assert_fails("{\"socket_mode\": 660}", NULL, "t.json: \"socket_mode\" must be a string of octal digits");
    assert_fails("{\"socket_mode\": \"0999\"}", NULL, "t.json: \"socket_mode\" must be a string of octal digits");
    assert_fails("{\"max_series\": 0}", NULL, "t.json: \"max_series\" must be an integer from 1 to 1000000, got 0");
    assert_fails("{\"max_series\": 1.5}", NULL, "t.json: \"max_series\" must be an integer");
    assert_fails("{\"receive_coalesce_ms\": 51}", NULL,
                 "t.json: \"receive_coalesce_ms\" must be an integer from 0 to 50");
    assert_fails("{\"receive_coalesce_lines\": 0}", NULL,
                 "t.json: \"receive_coalesce_lines\" must be an integer from 1 to 4096, got 0");
    assert_fails("{\"max_line_bytes\": 100}", NULL, "t.json: \"max_line_bytes\" must be an integer from 512");
    assert_fails("{\"tag\": \"a-b\"}", NULL, "t.json: \"tag\" may only hold letters, digits and '_'");
    assert_fails("{\"unmatched_route\": \"\"}", NULL, "t.json: \"unmatched_route\" must not be empty");
    assert_fails("{\"user\": \"a b\"}", NULL, "t.json: \"user\" is not a user or group name");
    assert_fails("{\"rules\": {}}", NULL, "t.json: \"rules\" must be an array");
    assert_fails("{\"rules\": [1]}", NULL, "t.json: rules[0] must be an object");
    assert_fails("{\"rules\": [{\"match\": \"^/\", \"route\": \"/\"}, {\"match\": \"(\", \"route\": \"x\"}]}", NULL,
                 "t.json: rules[1].match is not a POSIX extended regex: ");
    assert_fails("{\"rules\": [{\"match\": \"^/\"}]}", NULL, "t.json: rules[0] needs \"match\"");
    assert_fails("{\"rules\": [{\"match\": \"^/\", \"route\": \"/\", \"servr\": \"a\"}]}", NULL,
                 "t.json: rules[0]: unknown key \"servr\" (known: server, match, route)");
    assert_fails("{\"rules\": [{\"match\": \"^/\", \"route\": 3}]}", NULL,
                 "t.json: rules[0].route must be a non-empty string");
    assert_fails("{\"socket\": ", NULL, "t.json:1:");
    assert_fails("[]", NULL, "t.json:1:1: the configuration must be a JSON object");
    assert_fails("{\"tag\": \"a\", \"tag\": \"b\"}", NULL, "t.json:1:");
    nl_overrides_t ov = {.socket_mode = "rw"};
    assert_fails("{}", &ov, "--socket-mode: \"socket_mode\" must be a string of octal digits");
}
END_TEST

START_TEST(comments_are_ignored_everywhere)
{
    nl_config_t *cfg =
        parse("{\"_c\": [1], \"rules\": [{\"_why\": \"x\", \"match\": \"^/a\", \"route\": \"/a\"}]}", NULL);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->nrules, 1);
    nl_config_free(cfg);
}
END_TEST

START_TEST(restart_keys_are_named)
{
    nl_config_t *a = parse("{\"socket\": \"/a\", \"max_series\": 10}", NULL);
    nl_config_t *b = parse("{\"socket\": \"/b\", \"max_series\": 10, \"tag\": \"x\"}", NULL);
    char out[128];
    nl_config_restart_keys(a, b, out, sizeof out);
    ck_assert_str_eq(out, "socket");
    nl_config_restart_keys(a, a, out, sizeof out);
    ck_assert_str_eq(out, "");
    nl_config_free(a);
    nl_config_free(b);
}
END_TEST

START_TEST(a_missing_file_says_so)
{
    ck_assert_ptr_null(nl_config_load("/nonexistent/nginxlog.json", NULL, err, sizeof err));
    ck_assert_str_eq(err, "/nonexistent/nginxlog.json: cannot open the configuration: No such file or directory "
                          "(check --config)");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("nginxlog_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, the_shipped_example_loads);
    tcase_add_test(tc, defaults_without_a_file);
    tcase_add_test(tc, flags_override_the_file);
    tcase_add_test(tc, mistakes_name_the_key_and_the_fix);
    tcase_add_test(tc, comments_are_ignored_everywhere);
    tcase_add_test(tc, restart_keys_are_named);
    tcase_add_test(tc, a_missing_file_says_so);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
