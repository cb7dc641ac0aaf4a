/*
 * test_fcgi_config.c - the worker's configuration: the shipped example
 * loads, defaults, flags override the file, and every mistake a user can
 * make is one line naming the key (or flag) and where it is.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static char err[1024];

static fcgi_config_t *parse(const char *text, const fcgi_overrides_t *ov)
{
    err[0] = '\0';
    return fcgi_config_parse(text, strlen(text), "test.json", ov, err, sizeof err);
}

/* The text must fail with a message starting with `prefix`. */
static void assert_fails(const char *text, const fcgi_overrides_t *ov, const char *prefix)
{
    fcgi_config_t *cfg = parse(text, ov);
    ck_assert_msg(cfg == NULL, "accepted: %s", text);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "message \"%s\" does not start with \"%s\"", err, prefix);
    ck_assert_msg(strchr(err, '\n') == NULL, "message is not one line: %s", err);
}

START_TEST(the_shipped_example_loads)
{
    fcgi_config_t *cfg = fcgi_config_load("conf/fastprom.json", NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->socket_path, "/run/fastprom/fastprom-fcgi.sock");
    ck_assert_uint_eq(cfg->socket_mode, 0660);
    ck_assert_ptr_null(cfg->user); /* "" means none */
    ck_assert_uint_eq(cfg->threads, 16);
    ck_assert_uint_eq(cfg->max_in_flight, 16);
    ck_assert_int_eq(cfg->gzip_level, 1);
    ck_assert_double_eq(cfg->health.stale_after_seconds, 300);
    fcgi_config_free(cfg);
}
END_TEST

START_TEST(defaults_without_a_file)
{
    fcgi_config_t *cfg = fcgi_config_load(NULL, NULL, err, sizeof err);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_str_eq(cfg->socket_path, FCGI_DEFAULT_SOCKET);
    ck_assert_ptr_null(cfg->segment_path);
    ck_assert_ptr_null(cfg->metric_prefix);
    ck_assert_str_eq(cfg->uri_prefix, "");
    ck_assert_uint_eq(cfg->max_in_flight, cfg->threads);
    ck_assert_double_eq(cfg->render_deadline_seconds, 5);
    fcgi_config_free(cfg);
}
END_TEST

START_TEST(values_and_comments_at_every_level)
{
    fcgi_config_t *cfg =
        parse("{\"_comment\": [1, {\"x\": 2}], \"threads\": 8, \"max_in_flight\": 3,\n"
              " \"namespace\": \"voice_agent\", \"uri_prefix\": \"/monitoring\",\n"
              " \"socket_mode\": \"0600\", \"openmetrics_created\": true,\n"
              " \"health\": {\"_why\": \"x\", \"stale_after_seconds\": 2.5, \"max_dropped_series\": 7}}",
              NULL);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->threads, 8);
    ck_assert_uint_eq(cfg->max_in_flight, 3);
    ck_assert_str_eq(cfg->metric_prefix, "voice_agent_");
    ck_assert_str_eq(cfg->uri_prefix, "/monitoring");
    ck_assert_uint_eq(cfg->socket_mode, 0600);
    ck_assert_int_eq(cfg->openmetrics_created, 1);
    ck_assert_double_eq(cfg->health.stale_after_seconds, 2.5);
    ck_assert_uint_eq(cfg->health.max_dropped_series, 7);
    fcgi_config_free(cfg);
}
END_TEST

START_TEST(a_namespace_ending_in_underscore_is_not_doubled)
{
    fcgi_config_t *cfg = parse("{\"namespace\": \"app_\"}", NULL);
    ck_assert_str_eq(cfg->metric_prefix, "app_");
    fcgi_config_free(cfg);
}
END_TEST

START_TEST(unknown_keys_name_the_key_and_its_position)
{
    assert_fails("{\n  \"threads\": 2,\n  \"thread\": 4\n}", NULL, "test.json:3:3: unknown key \"thread\"");
    ck_assert_ptr_nonnull(strstr(err, "threads")); /* the known keys are listed */
    assert_fails("{\"health\": {\n    \"stale_after\": 1}}", NULL, "test.json:2:5: unknown key \"stale_after\"");
    ck_assert_ptr_nonnull(strstr(err, "stale_after_seconds"));
}
END_TEST

START_TEST(wrong_types_point_at_the_value)
{
    assert_fails("{\"threads\": \"4\"}", NULL, "test.json:1:13: \"threads\" must be an integer, got a string");
    assert_fails("{\n\"threads\": 4.5}", NULL, "test.json:2:12: \"threads\" must be an integer, got a number");
    assert_fails("{\"socket\": 5}", NULL, "test.json:1:12: \"socket\" must be a string, got an integer");
    assert_fails("{\"openmetrics_created\": 1}", NULL, "test.json:1:25: \"openmetrics_created\" must be true or false");
    assert_fails("{\"health\": []}", NULL, "test.json:1:12: \"health\" must be an object, got an array");
    assert_fails("{\"health\": {\"min_writer_processes\": null}}", NULL,
                 "test.json:1:37: \"min_writer_processes\" must be an integer, got null");
    assert_fails("{\"socket_mode\": 660}", NULL, "test.json:1:17: \"socket_mode\" must be a string of octal digits");
}
END_TEST

START_TEST(positions_count_characters_not_bytes)
{
    /* jansson counts columns in characters; so do we: "é" is one. */
    assert_fails("{\"_c\": \"\xc3\xa9\xc3\xa9\", \"x\": 1}", NULL, "test.json:1:14: unknown key \"x\"");
}
END_TEST

START_TEST(out_of_range_values)
{
    assert_fails("{\"threads\": 0}", NULL, "test.json:1:13: \"threads\" must be from 1 to 256, got 0");
    assert_fails("{\"threads\": 100000}", NULL, "test.json:1:13: \"threads\" must be from 1 to 256");
    assert_fails("{\"gzip_level\": 10}", NULL, "test.json:1:16: \"gzip_level\" must be from 1 to 9");
    assert_fails("{\"render_deadline_seconds\": 0}", NULL, "test.json:1:29: \"render_deadline_seconds\" must be from");
    assert_fails("{\"socket_mode\": \"0999\"}", NULL, "test.json:1:17: \"socket_mode\" must be a string of octal");
    assert_fails("{\"socket_mode\": \"1777\"}", NULL, "test.json:1:17: \"socket_mode\"");
}
END_TEST

START_TEST(strings_are_checked_for_what_they_name)
{
    assert_fails("{\"socket\": \"relative.sock\"}", NULL, "test.json:1:12: \"socket\" must be an absolute path");
    char text[400];
    snprintf(text, sizeof text, "{\"socket\": \"/%0120d\"}", 0);
    assert_fails(text, NULL, "test.json:1:12: \"socket\" is longer than a unix socket path may be");
    assert_fails("{\"namespace\": \"voice-agent\"}", NULL, "test.json:1:15: \"namespace\" must match");
    assert_fails("{\"namespace\": \"9lives\"}", NULL, "test.json:1:15: \"namespace\" must match");
    assert_fails("{\"uri_prefix\": \"/monitoring/\"}", NULL, "test.json:1:16: \"uri_prefix\" must be empty or start");
    assert_fails("{\"uri_prefix\": \"monitoring\"}", NULL, "test.json:1:16: \"uri_prefix\"");
    assert_fails("{\"segment\": \"\"}", NULL, "test.json:1:13: \"segment\" must not be empty");
    assert_fails("{\"user\": \"a:b\"}", NULL, "test.json:1:10: \"user\" is not a user or group name");
}
END_TEST

START_TEST(syntax_errors_carry_janssons_line_and_column)
{
    assert_fails("{\n  \"threads\": 4,\n  \"x\": tru\n}", NULL, "test.json:3:10: invalid token near 'tru'");
    assert_fails("{\"threads\": 4,}", NULL, "test.json:1:15:");
    assert_fails("", NULL, "test.json:1:0:");
    assert_fails("[1, 2]", NULL, "test.json:1:1: the configuration must be a JSON object");
    assert_fails("{\"threads\": 4, \"threads\": 5}", NULL, "test.json:1:24: duplicate object key");
}
END_TEST

START_TEST(flags_override_the_file)
{
    fcgi_overrides_t ov = {0};
    ov.threads = "16";
    ov.metric_namespace = "shop";
    ov.socket = "/tmp/x.sock";
    ov.socket_mode = "600";
    ov.segment = "/dev/shm/other";
    ov.uri_prefix = "/m";
    ov.user = "nobody";
    ov.group = "nogroup";
    fcgi_config_t *cfg = parse("{\"threads\": 2, \"namespace\": \"app\", \"max_in_flight\": 0}", &ov);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_uint_eq(cfg->threads, 16);
    ck_assert_uint_eq(cfg->max_in_flight, 16);
    ck_assert_str_eq(cfg->metric_prefix, "shop_");
    ck_assert_str_eq(cfg->socket_path, "/tmp/x.sock");
    ck_assert_uint_eq(cfg->socket_mode, 0600);
    ck_assert_str_eq(cfg->segment_path, "/dev/shm/other");
    ck_assert_str_eq(cfg->uri_prefix, "/m");
    ck_assert_str_eq(cfg->user, "nobody");
    ck_assert_str_eq(cfg->group, "nogroup");
    fcgi_config_free(cfg);
}
END_TEST

START_TEST(bad_flags_name_the_flag)
{
    fcgi_overrides_t ov = {0};
    ov.threads = "four";
    assert_fails("{}", &ov, "--threads: must be an integer from 1 to 256, got \"four\"");
    ov.threads = "4x";
    assert_fails("{}", &ov, "--threads: must be an integer");
    ov.threads = NULL;
    ov.socket_mode = "rw-rw----";
    assert_fails("{}", &ov, "--socket-mode: must be octal digits");
    ov.socket_mode = NULL;
    ov.uri_prefix = "/x/";
    assert_fails("{}", &ov, "--uri-prefix: must be empty or start with '/'");
    ov.uri_prefix = NULL;
    ov.metric_namespace = "a b";
    assert_fails("{}", &ov, "--namespace: must match");
}
END_TEST

START_TEST(a_missing_file_says_so)
{
    fcgi_config_t *cfg = fcgi_config_load("/nonexistent/fastprom.json", NULL, err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, "/nonexistent/fastprom.json: cannot open the configuration: No such file or directory "
                          "(check --config)");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("fcgi_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, the_shipped_example_loads);
    tcase_add_test(tc, defaults_without_a_file);
    tcase_add_test(tc, values_and_comments_at_every_level);
    tcase_add_test(tc, a_namespace_ending_in_underscore_is_not_doubled);
    tcase_add_test(tc, unknown_keys_name_the_key_and_its_position);
    tcase_add_test(tc, wrong_types_point_at_the_value);
    tcase_add_test(tc, positions_count_characters_not_bytes);
    tcase_add_test(tc, out_of_range_values);
    tcase_add_test(tc, strings_are_checked_for_what_they_name);
    tcase_add_test(tc, syntax_errors_carry_janssons_line_and_column);
    tcase_add_test(tc, flags_override_the_file);
    tcase_add_test(tc, bad_flags_name_the_flag);
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
