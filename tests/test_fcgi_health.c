/*
 * test_fcgi_health.c - the health document's rules: pass/warn/fail and
 * their HTTP codes, every check the issue lists, the configured thresholds,
 * and the fields seed 003's users read (prometheus_enabled, namespace,
 * registered_metrics, version, uptime).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

static fcgi_health_limits_t limits;

static fcgi_health_input_t healthy(void)
{
    fcgi_health_input_t in;
    memset(&in, 0, sizeof in);
    limits.stale_after_seconds = 300;
    limits.min_writer_processes = 1;
    limits.max_dropped_series = 0;
    limits.max_dropped_updates = 0;
    in.now = 1700000000;
    in.uptime_seconds = 12.5;
    in.metric_namespace = "voice_agent";
    in.segment_path = "/dev/shm/fastprom";
    in.attached = 1;
    in.stat.layout_version = 3;
    in.stat.families_by_type[FASTPROM_COUNTER] = 3;
    in.stat.families_by_type[FASTPROM_GAUGE] = 2;
    in.stat.families_by_type[FASTPROM_HISTOGRAM] = 1;
    in.stat.processes_live = 4;
    in.last_write_age = 1.25;
    in.limits = &limits;
    return in;
}

/* Builds the document and returns it parsed; *status gets the status. */
static json_t *build(const fcgi_health_input_t *in, fcgi_health_status_t *status)
{
    char *body = NULL;
    *status = fcgi_health_build(in, &body);
    ck_assert_ptr_nonnull(body);
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    ck_assert_msg(doc != NULL, "not JSON (%s): %s", jerr.text, body);
    free(body);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), fcgi_health_status_name(*status));
    return doc;
}

/* The one entry of checks[key], asserting its status. */
static json_t *check_entry(json_t *doc, const char *key, const char *status)
{
    json_t *list = json_object_get(json_object_get(doc, "checks"), key);
    ck_assert_msg(json_is_array(list) && json_array_size(list) == 1, "no check %s", key);
    json_t *entry = json_array_get(list, 0);
    ck_assert_str_eq(json_string_value(json_object_get(entry, "status")), status);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(entry, "componentId")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(entry, "componentType")));
    ck_assert_str_eq(json_string_value(json_object_get(entry, "time")), "2023-11-14T22:13:20Z");
    return entry;
}

START_TEST(a_healthy_segment_passes_with_every_check)
{
    fcgi_health_input_t in = healthy();
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_PASS);
    ck_assert_int_eq(fcgi_health_http_status(st), 200);
    ck_assert_ptr_null(json_object_get(doc, "output"));
    ck_assert(json_is_true(json_object_get(check_entry(doc, "segment:attached", "pass"), "observedValue")));
    ck_assert_int_eq(json_integer_value(
                         json_object_get(check_entry(doc, "segment:layoutVersion", "pass"), "observedValue")),
                     3);
    json_t *age = check_entry(doc, "writes:age", "pass");
    ck_assert_double_eq(json_real_value(json_object_get(age, "observedValue")), 1.25);
    ck_assert_str_eq(json_string_value(json_object_get(age, "observedUnit")), "s");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(check_entry(doc, "writers:processes", "pass"), "observedValue")),
                     4);
    check_entry(doc, "series:dropped", "pass");
    check_entry(doc, "updates:dropped", "pass");
    check_entry(doc, "scrapes:errors", "pass");
    json_decref(doc);
}
END_TEST

START_TEST(seed_003_fields_are_there)
{
    fcgi_health_input_t in = healthy();
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert(json_is_true(json_object_get(doc, "prometheus_enabled")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "namespace")), "voice_agent");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "version")), FASTPROM_VERSION);
    ck_assert_double_eq(json_real_value(json_object_get(doc, "uptime")), 12.5);
    json_t *reg = json_object_get(doc, "registered_metrics");
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "counters")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "gauges")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "histograms")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "summaries")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "infos")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(reg, "statesets")), 0);
    json_decref(doc);
}
END_TEST

START_TEST(a_missing_segment_fails_with_503_and_the_reason)
{
    fcgi_health_input_t in = healthy();
    in.attached = 0;
    in.segment_error = FASTPROM_ENOENT;
    in.segment_reason = "segment /dev/shm/fastprom does not exist; start a writer first";
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_FAIL);
    ck_assert_int_eq(fcgi_health_http_status(st), 503);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "output")), in.segment_reason);
    json_t *attached = check_entry(doc, "segment:attached", "fail");
    ck_assert(json_is_false(json_object_get(attached, "observedValue")));
    ck_assert_str_eq(json_string_value(json_object_get(attached, "output")), in.segment_reason);
    ck_assert(json_is_false(json_object_get(doc, "prometheus_enabled")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "registered_metrics"), "counters")), 0);
    /* what cannot be observed is not reported as passing */
    ck_assert_ptr_null(json_object_get(json_object_get(doc, "checks"), "writers:processes"));
    json_decref(doc);
}
END_TEST

START_TEST(another_layout_version_fails_the_version_check)
{
    fcgi_health_input_t in = healthy();
    in.attached = 0;
    in.segment_error = FASTPROM_EVERSION;
    in.segment_reason = "segment has layout version 9, this build reads 3";
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_FAIL);
    json_t *version = check_entry(doc, "segment:layoutVersion", "fail");
    ck_assert_str_eq(json_string_value(json_object_get(version, "output")), in.segment_reason);
    json_decref(doc);
}
END_TEST

START_TEST(stale_writes_warn_after_the_configured_age)
{
    fcgi_health_input_t in = healthy();
    in.last_write_age = 301;
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_WARN);
    ck_assert_int_eq(fcgi_health_http_status(st), 200);
    json_t *age = check_entry(doc, "writes:age", "warn");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(age, "output")), "stale_after_seconds"));
    ck_assert_ptr_nonnull(json_object_get(doc, "output"));
    json_decref(doc);

    limits.stale_after_seconds = 0; /* 0 turns the check off */
    doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_PASS);
    json_decref(doc);
}
END_TEST

START_TEST(too_few_writers_warn)
{
    fcgi_health_input_t in = healthy();
    in.stat.processes_live = 0;
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_WARN);
    check_entry(doc, "writers:processes", "warn");
    json_decref(doc);
    limits.min_writer_processes = 0;
    doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_PASS);
    json_decref(doc);
}
END_TEST

START_TEST(dropped_series_and_updates_warn_above_their_limits)
{
    fcgi_health_input_t in = healthy();
    in.stat.dropped_series = 5;
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_WARN);
    json_t *dropped = check_entry(doc, "series:dropped", "warn");
    ck_assert_int_eq(json_integer_value(json_object_get(dropped, "observedValue")), 5);
    json_decref(doc);

    limits.max_dropped_series = 5;
    in.stat.dropped_updates = 1;
    doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_WARN);
    check_entry(doc, "series:dropped", "pass");
    check_entry(doc, "updates:dropped", "warn");
    json_decref(doc);
}
END_TEST

START_TEST(a_failed_scrape_warns_until_one_works)
{
    fcgi_health_input_t in = healthy();
    in.scrape_errors = 2;
    in.last_scrape_error = "cannot render the fastprom segment: busy";
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_WARN);
    json_t *errors = check_entry(doc, "scrapes:errors", "warn");
    ck_assert_int_eq(json_integer_value(json_object_get(errors, "observedValue")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "output")), in.last_scrape_error);
    json_decref(doc);

    in.last_scrape_error = NULL;
    doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_PASS);
    json_decref(doc);
}
END_TEST

START_TEST(fail_outranks_warn_in_the_output)
{
    fcgi_health_input_t in = healthy();
    in.last_scrape_error = "an earlier scrape failed";
    in.attached = 0;
    in.segment_error = FASTPROM_ECORRUPT;
    in.segment_reason = "segment is corrupt: bad magic";
    fcgi_health_status_t st;
    json_t *doc = build(&in, &st);
    ck_assert_int_eq(st, FCGI_HEALTH_FAIL);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "output")), in.segment_reason);
    json_decref(doc);
}
END_TEST

START_TEST(status_only_evaluation_needs_no_body)
{
    fcgi_health_input_t in = healthy();
    in.stat.processes_live = 0;
    ck_assert_int_eq(fcgi_health_build(&in, NULL), FCGI_HEALTH_WARN);
}
END_TEST

static Suite *health_suite(void)
{
    Suite *s = suite_create("fcgi_health");
    TCase *tc = tcase_create("health");
    tcase_add_test(tc, a_healthy_segment_passes_with_every_check);
    tcase_add_test(tc, seed_003_fields_are_there);
    tcase_add_test(tc, a_missing_segment_fails_with_503_and_the_reason);
    tcase_add_test(tc, another_layout_version_fails_the_version_check);
    tcase_add_test(tc, stale_writes_warn_after_the_configured_age);
    tcase_add_test(tc, too_few_writers_warn);
    tcase_add_test(tc, dropped_series_and_updates_warn_above_their_limits);
    tcase_add_test(tc, a_failed_scrape_warns_until_one_works);
    tcase_add_test(tc, fail_outranks_warn_in_the_output);
    tcase_add_test(tc, status_only_evaluation_needs_no_body);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(health_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
