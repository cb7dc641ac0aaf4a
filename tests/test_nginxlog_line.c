/*
 * test_nginxlog_line.c - the access-log datagram parser: the lines nginx
 * really sends (captured from nginx 1.22 with the shipped log_format), every
 * way a datagram can fail to be one, upstream lists after retries and
 * redirects, escape=json undone, methods outside the standard set.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "nginxlog/line.h"

#define HDR "<190>Dec  6 19:48:30 fastprom: "
#define LINE(fields) HDR "fp1\t" fields

static int parse(const char *msg, nl_line_t *l)
{
    return nl_parse(msg, strlen(msg), "fastprom", l);
}

static int str_is(nl_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

START_TEST(a_line_as_nginx_sends_it)
{
    nl_line_t l;
    const char *m = LINE("ex.com\tGET\t201\t0.013\t\t\t154\t92\t1796586510.888\t/users/{id}\t/users/12?x=\\\"q");
    ck_assert_int_eq(parse(m, &l), NL_OK);
    ck_assert(str_is(l.tag, "fastprom"));
    ck_assert(str_is(l.server, "ex.com"));
    ck_assert(str_is(l.method, "GET"));
    ck_assert_uint_eq(l.status, 201);
    ck_assert_double_eq_tol(l.request_time, 0.013, 1e-12);
    ck_assert_uint_eq(l.upstream_times.len, 0);
    ck_assert_double_eq(l.bytes_sent, 154);
    ck_assert_double_eq(l.request_length, 92);
    ck_assert_double_eq_tol(l.msec, 1796586510.888, 1e-6);
    ck_assert(str_is(l.route, "/users/{id}"));
    ck_assert(str_is(l.uri, "/users/12?x=\\\"q"));
}
END_TEST

START_TEST(hostname_and_any_tag)
{
    nl_line_t l;
    const char *m = "<190>Dec 16 01:02:03 web1 nginx_a: fp1\ts\tPOST\t200\t1\t\t\t1\t1\t1.5\t\t/";
    ck_assert_int_eq(nl_parse(m, strlen(m), NULL, &l), NL_OK);
    ck_assert(str_is(l.tag, "nginx_a"));
    ck_assert_int_eq(nl_parse(m, strlen(m), "", &l), NL_OK);
    ck_assert_int_eq(nl_parse(m, strlen(m), "fastprom", &l), NL_ETAG);
    ck_assert_int_eq(nl_parse(m, strlen(m), "nginx_a", &l), NL_OK);
}
END_TEST

START_TEST(a_trailing_newline_is_tolerated)
{
    nl_line_t l;
    ck_assert_int_eq(parse(LINE("s\tGET\t200\t0.000\t\t\t1\t1\t1.0\t\t/x\n"), &l), NL_OK);
    ck_assert(str_is(l.uri, "/x"));
}
END_TEST

START_TEST(what_is_not_a_line)
{
    nl_line_t l;
    static const struct {
        const char *msg;
        int want;
    } cases[] = {
        {"", NL_ESYSLOG},
        {"garbage", NL_ESYSLOG},
        {"<190>", NL_ESYSLOG},
        {"<1900000>Dec  6 19:48:30 fastprom: fp1", NL_ESYSLOG},
        {"<190>December 6 19:48:30 fastprom: fp1", NL_ESYSLOG},
        {"<190>Dec  6 19:48:30 fastprom:", NL_ESYSLOG},
        {"<190>Dec  6 19:48:30 a b c: x", NL_ESYSLOG},
        {"<13>Dec  6 19:48:31 sshd: hello", NL_ETAG},
        {HDR "127.0.0.1 - - [06/Dec/2026:19:48:30 +0000] \"GET / HTTP/1.1\" 200 3", NL_EFORMAT},
        {HDR "fp2\ts\tGET\t200\t0\t\t\t1\t1\t1\t\t/", NL_EFORMAT},
        {HDR "fp1", NL_EFORMAT},
        {LINE("s\tGET\t200\t0.000\t\t\t1\t1\t1.0\t"), NL_EFIELDS}, /* cut before the URI */
        {LINE("s\tGET\t200\t0.000\t\t\t1\t1\t1.0\t\t/\textra"), NL_EFIELDS},
        {LINE("s\tGET\t20\t0.000\t\t\t1\t1\t1.0\t\t/"), NL_ESTATUS},
        {LINE("s\tGET\t2x0\t0.000\t\t\t1\t1\t1.0\t\t/"), NL_ESTATUS},
        {LINE("s\tGET\t200\t-1\t\t\t1\t1\t1.0\t\t/"), NL_ENUMBER},
        {LINE("s\tGET\t200\t0.\t\t\t1\t1\t1.0\t\t/"), NL_ENUMBER},
        {LINE("s\tGET\t200\t1e3\t\t\t1\t1\t1.0\t\t/"), NL_ENUMBER},
        {LINE("s\tGET\t200\t0.1\t\t\t\t1\t1.0\t\t/"), NL_ENUMBER},
        {LINE("s\tGET\t200\t0.1\t\t\t1\t1\t99999999999999999999999999\t\t/"), NL_ENUMBER},
        {LINE("s\tget\t200\t0.1\t\t\t1\t1\t1.0\t\t/"), NL_EMETHOD},
        {LINE("s\tG\\\"T\t200\t0.1\t\t\t1\t1\t1.0\t\t/"), NL_EMETHOD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(parse(cases[i].msg, &l) == cases[i].want, "case %zu \"%s\": got %s, want %s", i, cases[i].msg,
                      nl_error_name(parse(cases[i].msg, &l)), nl_error_name(cases[i].want));
}
END_TEST

START_TEST(no_read_past_the_length)
{
    /* The same bytes, cut at every length: never a crash, never NL_OK
     * except for the whole line (ASan watches the reads). */
    const char *m = LINE("s\tGET\t200\t0.000\t0.1\t1.2.3.4:80\t1\t1\t1.0\troute\t/uri");
    size_t n = strlen(m);
    for (size_t cut = 0; cut < n; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, m, cut);
        nl_line_t l;
        int rc = nl_parse(copy, cut, "fastprom", &l);
        ck_assert_msg(rc != NL_OK || cut >= n - 4, "cut at %zu parsed", cut); /* a shorter URI is still a URI */
        free(copy);
    }
}
END_TEST

START_TEST(methods_outside_the_standard_set_are_other)
{
    const char *standard[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"};
    for (size_t i = 0; i < 9; i++)
        ck_assert_str_eq(nl_method_label((nl_str_t){standard[i], strlen(standard[i])}), standard[i]);
    ck_assert_str_eq(nl_method_label((nl_str_t){"PROPFIND", 8}), "other");
    ck_assert_str_eq(nl_method_label((nl_str_t){"GETX", 4}), "other");
    ck_assert_str_eq(nl_method_label((nl_str_t){"GE", 2}), "other");
    ck_assert_str_eq(nl_method_label((nl_str_t){"", 0}), "other"); /* nginx's 400 for a broken request line */
}
END_TEST

START_TEST(escape_json_is_undone)
{
    char out[64];
    const char *in = "a\\\"b\\\\c\\u0009d\\u00e9\\x\\";
    size_t n = nl_unescape((nl_str_t){in, strlen(in)}, out, sizeof out);
    ck_assert_uint_eq(n, 12);
    ck_assert(memcmp(out, "a\"b\\c\td\xc3\xa9\\x\\", n) == 0);
    /* A cut escape is copied as it is; a full buffer stops cleanly. */
    n = nl_unescape((nl_str_t){"\\u00", 4}, out, sizeof out);
    ck_assert(n == 4 && memcmp(out, "\\u00", 4) == 0);
    n = nl_unescape((nl_str_t){"abcdef", 6}, out, 3);
    ck_assert(n == 3 && memcmp(out, "abc", 3) == 0);
    n = nl_unescape((nl_str_t){"ab\\u00e9", 8}, out, 3);
    ck_assert_uint_eq(n, 2); /* the 2-byte character does not fit: not split */
}
END_TEST

static int next(nl_upstream_iter_t *it, double *t, char *addr)
{
    nl_str_t a;
    int rc = nl_upstream_next(it, t, &a);
    if (rc) {
        memcpy(addr, a.p, a.len);
        addr[a.len] = '\0';
    }
    return rc;
}

START_TEST(upstream_lists_after_retries_and_redirects)
{
    nl_line_t l;
    const char *m = LINE("s\tGET\t502\t0.030\t0.010, 0.020 : -\t10.0.0.1:80, unix:/run/app.sock : "
                         "[::1]:8080\t1\t1\t1.0\t\t/");
    ck_assert_int_eq(parse(m, &l), NL_OK);
    nl_upstream_iter_t it;
    double t;
    char addr[64];
    nl_upstream_begin(&it, &l);
    ck_assert(next(&it, &t, addr));
    ck_assert_double_eq_tol(t, 0.010, 1e-12);
    ck_assert_str_eq(addr, "10.0.0.1:80");
    ck_assert(next(&it, &t, addr));
    ck_assert_double_eq_tol(t, 0.020, 1e-12);
    ck_assert_str_eq(addr, "unix:/run/app.sock");
    ck_assert(next(&it, &t, addr));
    ck_assert_double_eq(t, -1);
    ck_assert_str_eq(addr, "[::1]:8080");
    ck_assert(!next(&it, &t, addr));

    /* More times than addresses: the address is "" rather than a misread. */
    ck_assert_int_eq(parse(LINE("s\tGET\t504\t60.001\t60.000, 0.001\tbackend\t1\t1\t1.0\t\t/"), &l), NL_OK);
    nl_upstream_begin(&it, &l);
    ck_assert(next(&it, &t, addr) && strcmp(addr, "backend") == 0);
    ck_assert(next(&it, &t, addr) && strcmp(addr, "") == 0 && t > 0);
    ck_assert(!next(&it, &t, addr));

    /* No upstream: nothing. */
    ck_assert_int_eq(parse(LINE("s\tGET\t200\t0\t\t\t1\t1\t1.0\t\t/"), &l), NL_OK);
    nl_upstream_begin(&it, &l);
    ck_assert(!next(&it, &t, addr));
}
END_TEST

static Suite *line_suite(void)
{
    Suite *s = suite_create("nginxlog_line");
    TCase *tc = tcase_create("line");
    tcase_add_test(tc, a_line_as_nginx_sends_it);
    tcase_add_test(tc, hostname_and_any_tag);
    tcase_add_test(tc, a_trailing_newline_is_tolerated);
    tcase_add_test(tc, what_is_not_a_line);
    tcase_add_test(tc, no_read_past_the_length);
    tcase_add_test(tc, methods_outside_the_standard_set_are_other);
    tcase_add_test(tc, escape_json_is_undone);
    tcase_add_test(tc, upstream_lists_after_retries_and_redirects);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(line_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
