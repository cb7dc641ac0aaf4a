/*
 * test_fcgi_share.c - identical scrapes sharing one render (fcgi/share.c):
 * a lone scrape leads; scrapes arriving during a render wait for the next
 * one, never take the one already running (their writes could be missing
 * from it); one of them leads it and the rest get its copy; kinds of answer
 * do not wait on each other; a wait ends at its deadline; a copy outlives
 * later rounds for as long as its holder keeps it.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"
#include "share.h"
#include "support.h"

static void publish_text(fcgi_share_t *sh, unsigned key, const char *text)
{
    fcgi_share_publish(sh, key, 200, "text/plain", 0, text, strlen(text));
}

/* Waits (bounded) until n scrapes wait on key. */
static void await_waiting(fcgi_share_t *sh, unsigned key, unsigned n)
{
    for (int i = 0; i < 5000 && fcgi_share_waiting(sh, key) < n; i++)
        sleep_seconds(0.001);
    ck_assert_uint_eq(fcgi_share_waiting(sh, key), n);
}

START_TEST(a_lone_scrape_leads_every_time)
{
    fcgi_share_t *sh = fcgi_share_new(2);
    fcgi_shared_answer_t *a;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
        ck_assert_ptr_null(a);
        publish_text(sh, 0, "body");
    }
    fcgi_share_free(sh);
}
END_TEST

typedef struct joiner {
    fcgi_share_t *sh;
    unsigned key;
    fcgi_share_role_t role;
    char body[64];
    int status;
} joiner_t;

static void *join_and_answer(void *arg)
{
    joiner_t *j = arg;
    fcgi_shared_answer_t *a;
    j->role = fcgi_share_join(j->sh, j->key, fcgi_monotonic_seconds() + 10, &a);
    if (j->role == FCGI_SHARE_LEAD) {
        snprintf(j->body, sizeof j->body, "round 2");
        publish_text(j->sh, j->key, j->body);
    } else if (j->role == FCGI_SHARE_FOLLOW) {
        snprintf(j->body, sizeof j->body, "%.*s", (int)fcgi_shared_len(a), fcgi_shared_body(a));
        j->status = fcgi_shared_status(a);
        fcgi_share_release(a);
    }
    return NULL;
}

START_TEST(scrapes_arriving_mid_render_share_the_next_render)
{
    enum { N = 5 };
    fcgi_share_t *sh = fcgi_share_new(1);
    fcgi_shared_answer_t *a;
    ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
    joiner_t j[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        j[i] = (joiner_t){.sh = sh, .key = 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, join_and_answer, &j[i]), 0);
    }
    await_waiting(sh, 0, N);
    publish_text(sh, 0, "round 1"); /* begun before they came: none of them may get it */
    int leads = 0, follows = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        leads += j[i].role == FCGI_SHARE_LEAD;
        follows += j[i].role == FCGI_SHARE_FOLLOW;
        ck_assert_str_eq(j[i].body, "round 2");
        if (j[i].role == FCGI_SHARE_FOLLOW)
            ck_assert_int_eq(j[i].status, 200);
    }
    ck_assert_int_eq(leads, 1);
    ck_assert_int_eq(follows, N - 1);
    ck_assert_uint_eq(fcgi_share_waiting(sh, 0), 0);
    fcgi_share_free(sh);
}
END_TEST

START_TEST(kinds_of_answer_do_not_wait_on_each_other)
{
    fcgi_share_t *sh = fcgi_share_new(FCGI_SHARE_KEYS);
    fcgi_shared_answer_t *a;
    for (unsigned k = 0; k < FCGI_SHARE_KEYS; k++)
        ck_assert_int_eq(fcgi_share_join(sh, k, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
    for (unsigned k = 0; k < FCGI_SHARE_KEYS; k++)
        publish_text(sh, k, "x");
    fcgi_share_free(sh);
}
END_TEST

START_TEST(a_wait_ends_at_its_deadline)
{
    fcgi_share_t *sh = fcgi_share_new(1);
    fcgi_shared_answer_t *a;
    ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
    double before = fcgi_monotonic_seconds();
    ck_assert_int_eq(fcgi_share_join(sh, 0, before + 0.1, &a), FCGI_SHARE_TIMEOUT);
    ck_assert_ptr_null(a);
    ck_assert_double_ge(fcgi_monotonic_seconds() - before, 0.1);
    ck_assert_uint_eq(fcgi_share_waiting(sh, 0), 0);
    publish_text(sh, 0, "late"); /* nobody waits: no copy is kept */
    ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
    publish_text(sh, 0, "x");
    fcgi_share_free(sh);
}
END_TEST

/* Leads round 2 when it gets to, else returns the copy it follows, held. */
static void *lead_or_hold(void *arg)
{
    joiner_t *j = arg;
    fcgi_shared_answer_t *a;
    j->role = fcgi_share_join(j->sh, j->key, fcgi_monotonic_seconds() + 10, &a);
    if (j->role == FCGI_SHARE_LEAD)
        fcgi_share_publish(j->sh, j->key, 503, "text/plain", 1, "round 2\n", 8);
    return a;
}

START_TEST(a_copy_outlives_later_rounds_and_the_share)
{
    fcgi_share_t *sh = fcgi_share_new(1);
    fcgi_shared_answer_t *a;
    ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
    joiner_t j[2] = {{.sh = sh, .key = 0}, {.sh = sh, .key = 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, lead_or_hold, &j[i]), 0);
    await_waiting(sh, 0, 2);
    publish_text(sh, 0, "round 1");
    void *held[2];
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], &held[i]);
    ck_assert_int_eq(j[0].role + j[1].role, FCGI_SHARE_LEAD + FCGI_SHARE_FOLLOW);
    fcgi_shared_answer_t *copy = held[0] ? held[0] : held[1];
    ck_assert_ptr_nonnull(copy);
    for (int round = 3; round < 6; round++) {
        ck_assert_int_eq(fcgi_share_join(sh, 0, fcgi_monotonic_seconds() + 1, &a), FCGI_SHARE_LEAD);
        publish_text(sh, 0, "later");
    }
    fcgi_share_free(sh);
    /* Everything the leader answered, intact. */
    ck_assert_int_eq(fcgi_shared_status(copy), 503);
    ck_assert_str_eq(fcgi_shared_content_type(copy), "text/plain");
    ck_assert_int_eq(fcgi_shared_gzip(copy), 1);
    ck_assert_uint_eq(fcgi_shared_len(copy), 8);
    ck_assert_int_eq(memcmp(fcgi_shared_body(copy), "round 2\n", 8), 0);
    fcgi_share_release(copy);
}
END_TEST

/*
 * The freshness promise under contention: a writer keeps advancing a
 * version; each scrape notes the version when it arrives, a leader reads it
 * when its render starts, "renders" for a while and publishes what it read.
 * Every answer, led or shared, must carry a version no older than its
 * scrape's arrival.
 */
typedef struct race {
    fcgi_share_t *sh;
    atomic_ulong version;
    atomic_int stop;
    atomic_int stale, shared, led;
} race_t;

static void *advance(void *arg)
{
    race_t *r = arg;
    while (!atomic_load(&r->stop)) {
        atomic_fetch_add(&r->version, 1);
        sleep_seconds(0.00005);
    }
    return NULL;
}

static void *scrape_repeatedly(void *arg)
{
    race_t *r = arg;
    for (int i = 0; i < 300; i++) {
        unsigned long arrived = atomic_load(&r->version);
        fcgi_shared_answer_t *a;
        fcgi_share_role_t role = fcgi_share_join(r->sh, 0, fcgi_monotonic_seconds() + 10, &a);
        unsigned long got;
        if (role == FCGI_SHARE_FOLLOW) {
            char text[32];
            snprintf(text, sizeof text, "%.*s", (int)fcgi_shared_len(a), fcgi_shared_body(a));
            got = strtoul(text, NULL, 10);
            fcgi_share_release(a);
            atomic_fetch_add(&r->shared, 1);
        } else {
            ck_assert_int_eq(role, FCGI_SHARE_LEAD); /* a 10 s deadline does not pass */
            got = atomic_load(&r->version);
            sleep_seconds(0.0002); /* the render */
            char text[32];
            snprintf(text, sizeof text, "%lu", got);
            publish_text(r->sh, 0, text);
            atomic_fetch_add(&r->led, 1);
        }
        if (got < arrived)
            atomic_fetch_add(&r->stale, 1);
    }
    return NULL;
}

START_TEST(no_answer_predates_its_scrape)
{
    enum { SCRAPERS = 8 };
    race_t r = {.sh = fcgi_share_new(1)};
    pthread_t writer, scrapers[SCRAPERS];
    ck_assert_int_eq(pthread_create(&writer, NULL, advance, &r), 0);
    for (int i = 0; i < SCRAPERS; i++)
        ck_assert_int_eq(pthread_create(&scrapers[i], NULL, scrape_repeatedly, &r), 0);
    for (int i = 0; i < SCRAPERS; i++)
        pthread_join(scrapers[i], NULL);
    atomic_store(&r.stop, 1);
    pthread_join(writer, NULL);
    int stale = atomic_load(&r.stale), shared = atomic_load(&r.shared), led = atomic_load(&r.led);
    ck_assert_int_eq(stale, 0);
    ck_assert_int_gt(shared, 0); /* the race did share */
    ck_assert_int_eq(led + shared, SCRAPERS * 300);
    ck_assert_uint_eq(fcgi_share_waiting(r.sh, 0), 0);
    fcgi_share_free(r.sh);
}
END_TEST

static Suite *share_suite(void)
{
    Suite *s = suite_create("fcgi_share");
    TCase *tc = tcase_create("share");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_lone_scrape_leads_every_time);
    tcase_add_test(tc, scrapes_arriving_mid_render_share_the_next_render);
    tcase_add_test(tc, kinds_of_answer_do_not_wait_on_each_other);
    tcase_add_test(tc, a_wait_ends_at_its_deadline);
    tcase_add_test(tc, a_copy_outlives_later_rounds_and_the_share);
    tcase_add_test(tc, no_answer_predates_its_scrape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(share_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
