/*
 * test_cli.c - the fastprom command, run as a user runs it (fork/exec of
 * $FASTPROM_TEST_BUILD/fastprom) against a segment in a temp dir: every
 * command, and every error path's exit code and one-line message.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fastprom.h"

#define OUT_MAX (1 << 20)

typedef struct result {
    int status; /* exit code, or 128 + signal */
    char *out;
    char *err;
} result_t;

static char dir[64];
static char seg[128];
static char cli[256];
static result_t r;

static void setup(void)
{
    const char *build = getenv("FASTPROM_TEST_BUILD");
    snprintf(cli, sizeof cli, "%s/fastprom", build ? build : "build");
    ck_assert_msg(access(cli, X_OK) == 0, "%s is missing: run make", cli);
    snprintf(dir, sizeof dir, "/tmp/fastprom-cli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(seg, sizeof seg, "%s/seg", dir);
    memset(&r, 0, sizeof r);
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (e->d_name[0] != '.')
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    free(r.out);
    free(r.err);
}

/* Reads both pipes until they close, 20 s at most. */
static void collect(int out_fd, int err_fd, pid_t pid)
{
    size_t lens[2] = {0, 0};
    char *bufs[2] = {r.out, r.err};
    struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_fds = 2;
    time_t deadline = time(NULL) + 20;
    while (open_fds > 0) {
        ck_assert_msg(time(NULL) < deadline, "fastprom did not finish in 20 s");
        if (poll(fds, 2, 1000) < 0 && errno != EINTR)
            ck_abort_msg("poll: %s", strerror(errno));
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            ssize_t n = read(fds[i].fd, bufs[i] + lens[i], OUT_MAX - 1 - lens[i]);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            } else {
                lens[i] += (size_t)n;
            }
        }
    }
    r.out[lens[0]] = r.err[lens[1]] = '\0';
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs fastprom with FASTPROM_PATH set to the temp segment. */
static void run_argv(char *const *args)
{
    free(r.out);
    free(r.err);
    r.out = malloc(OUT_MAX);
    r.err = malloc(OUT_MAX);
    ck_assert(r.out && r.err);
    int out[2], err[2];
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        setenv("FASTPROM_PATH", seg, 1);
        char *argv[64] = {cli};
        for (int i = 0; args[i] && i < 62; i++)
            argv[i + 1] = args[i];
        execv(cli, argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    collect(out[0], err[0], pid);
}

#define run(...) run_argv((char *const[]){__VA_ARGS__, NULL})

/* Exit code and the exact single line on stderr. */
static void assert_error(int status, const char *line)
{
    ck_assert_msg(r.status == status, "exit %d, expected %d; stderr: %s", r.status, status, r.err);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s\n", line);
    ck_assert_str_eq(r.err, expected);
    ck_assert_str_eq(r.out, "");
}

/* Exit code, one line on stderr starting with prefix and holding part. */
static void assert_error_like(int status, const char *prefix, const char *part)
{
    ck_assert_msg(r.status == status, "exit %d, expected %d; stderr: %s", r.status, status, r.err);
    ck_assert_msg(strncmp(r.err, prefix, strlen(prefix)) == 0, "stderr: %s", r.err);
    ck_assert_msg(strstr(r.err, part) != NULL, "no \"%s\" in stderr: %s", part, r.err);
    ck_assert_msg(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
}

static void assert_ok(void)
{
    ck_assert_msg(r.status == 0, "exit %d; stderr: %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
}

static void assert_out_has(const char *part)
{
    ck_assert_msg(strstr(r.out, part) != NULL, "no \"%s\" in stdout:\n%s", part, r.out);
}

START_TEST(version_and_help)
{
    run("--version");
    assert_ok();
    ck_assert_str_eq(r.out, "fastprom " FASTPROM_VERSION "\n");
    run("--help");
    assert_ok();
    assert_out_has("usage: fastprom [--path P] COMMAND");
    const char *cmds[] = {"dump", "stat", "init", "inc", "dec", "set", "observe"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        run((char *)cmds[i], "--help");
        assert_ok();
        char usage[64];
        snprintf(usage, sizeof usage, "fastprom [--path P] %s", cmds[i]);
        assert_out_has(usage);
    }
    run("set", "--help");
    assert_out_has("Default mostrecent: this\n                      command exits at once");
    ck_assert_int_ne(access(seg, F_OK), 0); /* help touches nothing */
}
END_TEST

START_TEST(usage_errors)
{
    run_argv((char *const[]){NULL});
    assert_error(2, "fastprom: missing COMMAND: run fastprom --help for the list");
    run("frobnicate");
    assert_error(2, "fastprom: unknown command \"frobnicate\": run fastprom --help for the list");
    run("--bogus", "dump");
    assert_error(2, "fastprom: unknown option \"--bogus\": see fastprom --help");
    run("--path");
    assert_error(2, "fastprom: option \"--path\" needs a value: see fastprom --help");
    run("--path", "", "dump");
    assert_error(2, "fastprom: --path is empty: give the segment file, e.g. /dev/shm/fastprom");
    run("dump", "--yaml");
    assert_error(2, "fastprom: dump: unknown option \"--yaml\": see fastprom dump --help");
    run("dump", "--prefix");
    assert_error(2, "fastprom: dump: option \"--prefix\" needs a value: see fastprom dump --help");
    run("dump", "extra");
    assert_error(2, "fastprom: dump: unexpected argument \"extra\": see fastprom dump --help");
    run("stat", "extra");
    assert_error(2, "fastprom: stat: unexpected argument \"extra\": see fastprom stat --help");
    run("init", "extra");
    assert_error(2, "fastprom: init: unexpected argument \"extra\": see fastprom init --help");
    ck_assert_int_ne(access(seg, F_OK), 0);
}
END_TEST

START_TEST(read_commands_need_a_segment)
{
    run("dump");
    assert_error_like(1, "fastprom: dump: ", "");
    run("stat");
    assert_error_like(1, "fastprom: stat: ", "");
    ck_assert_int_ne(access(seg, F_OK), 0); /* read-only: never creates */
}
END_TEST

START_TEST(init_creates_and_keeps)
{
    run("init", "--size", "1M", "--mode", "0600", "--slots", "64", "--family-limit", "50");
    assert_ok();
    char line[256];
    snprintf(line, sizeof line, "%s\n", seg);
    ck_assert_str_eq(r.out, line);
    run("stat");
    assert_ok();
    json_error_t jerr;
    json_t *st = json_loads(r.out, 0, &jerr);
    ck_assert_msg(st != NULL, "stat output is not JSON: %s", jerr.text);
    ck_assert_int_eq(json_integer_value(json_object_get(st, "size")), 1 << 20);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "slots"), "total")), 64);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(st, "families"), "total")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(st, "path")), seg);
    const char *keys[] = {"layout_version",  "used",         "created", "series", "processes_live", "dropped_series",
                          "dropped_updates", "folded_slots", "repairs"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        ck_assert_msg(json_object_get(st, keys[i]) != NULL, "stat has no %s", keys[i]);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(st, "series"), "histogram"));
    const char *activity = json_string_value(json_object_get(st, "activity"));
    ck_assert_msg(activity != NULL && strlen(activity) == 16 && strspn(activity, "0123456789abcdef") == 16,
                  "activity is not 16 hex digits: %s", r.out);
    json_decref(st);

    run("init", "--size", "2M");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, line);
    char note[512];
    snprintf(note, sizeof note,
             "fastprom: init: %s already exists with size 1048576 bytes, not 2097152; kept it (delete the file to "
             "recreate it)\n",
             seg);
    ck_assert_str_eq(r.err, note);
}
END_TEST

/* Issue 12 point 2: a segment that shrinks under its writers kills them
 * (SIGBUS), so init never truncates, shrinks or rewrites an existing file,
 * whatever size it is asked for. */
START_TEST(init_never_shrinks_or_rewrites_a_file)
{
    run("init", "--size", "2M");
    assert_ok();
    run("inc", "kept_total");
    assert_ok();
    run("init", "--size", "256K");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "kept it"));
    struct stat st;
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_eq(st.st_size, 2 << 20);
    run("dump");
    assert_ok();
    assert_out_has("kept_total 1\n");
    /* A file that is not a segment is refused and left byte for byte. */
    static const char junk[] = "not a fastprom segment, but somebody's file\n";
    FILE *f = fopen(seg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(junk, f);
    fclose(f);
    run("init", "--size", "1M");
    ck_assert_int_ne(r.status, 0);
    ck_assert_int_eq(stat(seg, &st), 0);
    ck_assert_int_eq(st.st_size, (off_t)strlen(junk));
}
END_TEST

START_TEST(init_bad_values)
{
    const char *sizes[] = {"12X", "0", "-1", "", "1.5M"};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        run("init", "--size", (char *)sizes[i]);
        char line[256];
        snprintf(line, sizeof line,
                 "fastprom: init: bad --size \"%s\": write bytes with an optional K, M or G suffix, e.g. 64M",
                 sizes[i]);
        assert_error(2, line);
    }
    run("init", "--size", "5000G");
    assert_error(2, "fastprom: init: bad --size \"5000G\": at most 4293918720 bytes (4095M)");
    run("init", "--mode", "999");
    assert_error(2, "fastprom: init: bad --mode \"999\": write an octal number");
    run("init", "--slots", "-3");
    assert_error(2, "fastprom: init: bad --slots \"-3\": write a decimal number");
    run("init", "--family-limit", "99999999999");
    assert_error(2, "fastprom: init: bad --family-limit \"99999999999\": at most 4294967295");
    run("init", "--size", "1K"); /* the library's minimum */
    assert_error_like(2, "fastprom: init: ", "size");
    ck_assert_int_ne(access(seg, F_OK), 0);
}
END_TEST

START_TEST(inc_counter_with_labels)
{
    run("inc", "--help-text", "Requests.", "requests", "method=GET", "path=/a=b");
    assert_ok();
    run("inc", "requests", "method=GET", "path=/a=b", "2.5");
    assert_ok();
    run("inc", "requests_total", "method=POST", "path=\"q\\\n");
    assert_ok();
    run("dump");
    assert_ok();
    ck_assert_str_eq(r.out, "# HELP requests_total Requests.\n"
                            "# TYPE requests_total counter\n"
                            "requests_total{method=\"GET\",path=\"/a=b\"} 3.5\n"
                            "requests_total{method=\"POST\",path=\"\\\"q\\\\\\n\"} 1\n");
}
END_TEST

START_TEST(update_errors)
{
    run("inc", "x", "1abc=x");
    assert_error(2, "fastprom: inc: bad label \"1abc=x\": label names match [a-zA-Z_][a-zA-Z0-9_]*");
    run("inc", "x", "=x");
    assert_error(2, "fastprom: inc: bad label \"=x\": label names match [a-zA-Z_][a-zA-Z0-9_]*");
    run("inc", "x", "a", "b=1");
    assert_error(2, "fastprom: inc: bad label \"a\": write labels as name=value, before the value");
    run("inc", "x", "1x");
    assert_error(2, "fastprom: inc: bad value \"1x\": write a number such as 1, -2.5, 1e-3 or +Inf");
    run("inc", "x", "1e999");
    assert_error(2, "fastprom: inc: bad value \"1e999\": out of the range of a double");
    run("inc", "x", "-1");
    assert_error(2, "fastprom: inc: bad amount \"-1\": a counter only goes up (not NaN either); use a gauge (set, "
                    "dec) for values that fall");
    run("inc", "x", "nan");
    assert_error_like(2, "fastprom: inc: bad amount \"nan\"", "");
    run("inc");
    assert_error(2, "fastprom: inc: missing NAME: see fastprom inc --help");
    run("set", "g", "a=1");
    assert_error(2, "fastprom: set: missing VALUE after NAME and labels: see fastprom set --help");
    run("observe", "h");
    assert_error(2, "fastprom: observe: missing VALUE after NAME and labels: see fastprom observe --help");
    run("observe", "h", "NaN");
    assert_error(2, "fastprom: observe: bad value \"NaN\": a histogram cannot observe NaN");
    run("set", "--gauge-mode", "average", "g", "1");
    assert_error(2, "fastprom: set: bad --gauge-mode \"average\": use livesum, all, liveall, sum, max, livemax, min, "
                    "livemin, mostrecent or livemostrecent");
    run("inc", "--gauge-mode", "max", "c");
    assert_error(2, "fastprom: inc: --gauge-mode is for gauges: use it with dec or set");
    run("set", "--buckets", "1,2", "g", "1");
    assert_error(2, "fastprom: set: --buckets is for histograms: use it with observe");
    run("observe", "--buckets", "0.1,x", "h", "1");
    assert_error(2, "fastprom: observe: bad bucket bound \"x\": write a number such as 1, -2.5, 1e-3 or +Inf");
    run("observe", "--buckets", ",", "h", "1");
    assert_error(2, "fastprom: observe: bad --buckets \",\": give bounds separated by commas, e.g. 0.1,0.5,1");
    run("inc", "--nope", "c");
    assert_error(2, "fastprom: inc: unknown option \"--nope\": see fastprom inc --help");
    ck_assert_int_ne(access(seg, F_OK), 0); /* nothing reached the segment */

    /* Rules only the library knows: its message, after "fastprom: <cmd>: ". */
    run("inc", "1bad");
    assert_error_like(2, "fastprom: inc: ", "1bad");
    run("observe", "--buckets", "1,0.5", "h", "1");
    assert_error_like(2, "fastprom: observe: ", "");
    run("inc", "c", "a=1", "a=2");
    assert_error_like(2, "fastprom: inc: ", "");
    run("inc", "c", "a=ok\xff"); /* invalid UTF-8 is refused, not replaced */
    assert_error_like(2, "fastprom: inc: ", "");
    run("inc", "c", "a=1");
    assert_ok();
    run("inc", "c", "b=1");
    assert_error_like(1, "fastprom: inc: ", "");
    run("set", "c", "5");
    assert_error_like(1, "fastprom: set: ", "");
}
END_TEST

START_TEST(gauges_keep_the_last_value)
{
    run("set", "--help-text", "Temperature.", "temp", "room=a", "-5");
    assert_ok();
    run("dec", "temp", "room=a");
    assert_ok();
    run("dec", "temp", "room=a", "0.5");
    assert_ok();
    run("set", "temp", "room=b", "NaN");
    assert_ok();
    run("set", "--gauge-mode", "max", "peak", "1e300");
    assert_ok();
    run("dump");
    assert_ok();
    ck_assert_str_eq(r.out, "# TYPE peak gauge\npeak 1e+300\n"
                            "# HELP temp Temperature.\n# TYPE temp gauge\n"
                            "temp{room=\"a\"} -6.5\ntemp{room=\"b\"} NaN\n");
    run("set", "temp", "room=a", "1"); /* default mode mostrecent: matches */
    assert_ok();
    run("set", "--gauge-mode", "livesum", "temp", "room=a", "1");
    assert_error_like(1, "fastprom: set: ", "temp");
}
END_TEST

START_TEST(observe_histogram)
{
    run("observe", "--buckets", "0.1,0.5,1", "--unit", "seconds", "--help-text", "Latency.", "lat", "route=/", "0.1");
    assert_ok();
    run("observe", "--buckets", "0.1,0.5,1", "--unit", "seconds", "lat_seconds", "route=/", "0.2");
    assert_ok();
    run("observe", "--buckets", "0.1,0.5,1", "--unit", "seconds", "lat_seconds", "route=/", "7");
    assert_ok();
    run("observe", "plain", "0.003");
    assert_ok();
    run("dump", "--name", "lat_seconds");
    assert_ok();
    ck_assert_str_eq(r.out, "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
                            "lat_seconds_bucket{route=\"/\",le=\"0.1\"} 1\n"
                            "lat_seconds_bucket{route=\"/\",le=\"0.5\"} 2\n"
                            "lat_seconds_bucket{route=\"/\",le=\"1.0\"} 2\n"
                            "lat_seconds_bucket{route=\"/\",le=\"+Inf\"} 3\n"
                            "lat_seconds_sum{route=\"/\"} 7.3\n"
                            "lat_seconds_count{route=\"/\"} 3\n");
    run("dump", "--openmetrics", "--name", "plain_bucket");
    assert_ok();
    assert_out_has("# TYPE plain histogram\nplain_bucket{le=\"0.005\"} 1\nplain_bucket{le=\"0.01\"} 1\n");
    assert_out_has("plain_bucket{le=\"10.0\"} 1\nplain_bucket{le=\"+Inf\"} 1\nplain_sum 0.003\nplain_count 1\n# EOF\n");
    ck_assert_ptr_null(strstr(r.out, "lat_seconds"));
}
END_TEST

START_TEST(dump_formats_and_options)
{
    run("inc", "--help-text", "Jobs.", "jobs", "kind=a");
    assert_ok();
    run("dump", "--openmetrics", "--prefix", "app_");
    assert_ok();
    ck_assert_str_eq(r.out, "# TYPE app_jobs counter\n# HELP app_jobs Jobs.\napp_jobs_total{kind=\"a\"} 1\n# EOF\n");
    run("dump", "--openmetrics", "--created");
    assert_ok();
    assert_out_has("jobs_created{kind=\"a\"} ");
    run("dump", "--json");
    assert_ok();
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    ck_assert_msg(root != NULL, "not JSON: %s", jerr.text);
    json_t *fam = json_array_get(json_object_get(root, "families"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(fam, "name")), "jobs");
    json_t *s = json_array_get(json_object_get(fam, "series"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "value")), 1);
    json_decref(root);
    run("dump", "--name", "nothing");
    assert_ok();
    ck_assert_str_eq(r.out, "");
    run("dump", "--prefix", "9x");
    assert_error(2, "fastprom: dump: render prefix \"9x\": a prefix matches [a-zA-Z_:][a-zA-Z0-9_:]*");

    char other[160];
    snprintf(other, sizeof other, "%s/other", dir);
    run("--path", other, "inc", "elsewhere");
    assert_ok();
    run("--path", other, "dump");
    assert_ok();
    ck_assert_str_eq(r.out, "# TYPE elsewhere_total counter\nelsewhere_total 1\n");
    run("dump");
    ck_assert_ptr_null(strstr(r.out, "elsewhere"));
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, version_and_help);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, read_commands_need_a_segment);
    tcase_add_test(tc, init_never_shrinks_or_rewrites_a_file);
    tcase_add_test(tc, init_creates_and_keeps);
    tcase_add_test(tc, init_bad_values);
    tcase_add_test(tc, inc_counter_with_labels);
    tcase_add_test(tc, update_errors);
    tcase_add_test(tc, gauges_keep_the_last_value);
    tcase_add_test(tc, observe_histogram);
    tcase_add_test(tc, dump_formats_and_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(cli_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
