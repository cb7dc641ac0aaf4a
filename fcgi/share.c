/*
 * share.c - one render per round of identical scrapes (share.h).
 *
 * Each kind of answer has a round counter: `started` counts renders begun,
 * `finished` the round of the last one published. A scrape arriving while
 * round r renders needs round r + 1 (r began before it arrived, so r's
 * values could miss a write the scrape's client made just before asking);
 * the first waiter to see the slot idle leads r + 1 and the others take its
 * copy. The copy is made only when someone waits, so a lone scraper costs
 * one uncontended mutex, and the slot drops its reference as soon as the
 * last waiter took one, so no answer stays in memory between scrapes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "share.h"

struct fcgi_shared_answer {
    atomic_uint refs;
    int status;
    const char *content_type;
    int gzip;
    size_t len;
    char body[];
};

typedef struct share_slot {
    pthread_mutex_t lock;
    pthread_cond_t done;
    uint64_t started;             /* rounds begun */
    uint64_t finished;            /* the round `latest` holds (or would have held) */
    int busy;                     /* a round renders now */
    unsigned waiting;             /* scrapes waiting for a round */
    fcgi_shared_answer_t *latest; /* NULL when nobody waits */
} share_slot_t;

struct fcgi_share {
    unsigned nkeys;
    share_slot_t slots[];
};

fcgi_share_t *fcgi_share_new(unsigned nkeys)
{
    fcgi_share_t *sh = calloc(1, sizeof *sh + nkeys * sizeof sh->slots[0]);
    if (!sh)
        return NULL;
    sh->nkeys = nkeys;
    for (unsigned i = 0; i < nkeys; i++) {
        pthread_mutex_init(&sh->slots[i].lock, NULL);
        fcgi_cond_init_monotonic(&sh->slots[i].done); /* deadlines are fcgi_monotonic_seconds() */
    }
    return sh;
}

void fcgi_share_release(fcgi_shared_answer_t *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1)
        free(a);
}

void fcgi_share_free(fcgi_share_t *sh)
{
    if (!sh)
        return;
    for (unsigned i = 0; i < sh->nkeys; i++) {
        fcgi_share_release(sh->slots[i].latest);
        pthread_mutex_destroy(&sh->slots[i].lock);
        pthread_cond_destroy(&sh->slots[i].done);
    }
    free(sh);
}

/* One waiter fewer; the slot lets go of its copy once nobody waits. Locked. */
static void stop_waiting(share_slot_t *s)
{
    if (--s->waiting == 0 && s->latest) {
        fcgi_share_release(s->latest);
        s->latest = NULL;
    }
}

fcgi_share_role_t fcgi_share_join(fcgi_share_t *sh, unsigned key, double deadline, fcgi_shared_answer_t **answer)
{
    share_slot_t *s = &sh->slots[key];
    *answer = NULL;
    pthread_mutex_lock(&s->lock);
    if (!s->busy) {
        s->busy = 1;
        s->started++;
        pthread_mutex_unlock(&s->lock);
        return FCGI_SHARE_LEAD;
    }
    uint64_t want = s->started + 1;
    struct timespec until = fcgi_seconds_timespec(deadline);
    fcgi_share_role_t role;
    s->waiting++;
    for (;;) {
        if (s->finished >= want && s->latest) {
            atomic_fetch_add(&s->latest->refs, 1);
            *answer = s->latest;
            role = FCGI_SHARE_FOLLOW;
            break;
        }
        if (!s->busy) { /* round want is due, or ended without a copy */
            s->busy = 1;
            s->started++;
            role = FCGI_SHARE_LEAD;
            break;
        }
        int rc = pthread_cond_timedwait(&s->done, &s->lock, &until);
        if (rc == ETIMEDOUT) {
            role = FCGI_SHARE_TIMEOUT;
            break;
        }
    }
    stop_waiting(s);
    pthread_mutex_unlock(&s->lock);
    return role;
}

static fcgi_shared_answer_t *copy_answer(int status, const char *content_type, int gzip, const char *body, size_t len)
{
    fcgi_shared_answer_t *a = malloc(sizeof *a + len);
    if (!a)
        return NULL;
    atomic_init(&a->refs, 1); /* the slot's */
    a->status = status;
    a->content_type = content_type;
    a->gzip = gzip;
    a->len = len;
    if (len)
        memcpy(a->body, body, len);
    return a;
}

void fcgi_share_publish(fcgi_share_t *sh, unsigned key, int status, const char *content_type, int gzip,
                        const char *body, size_t len)
{
    share_slot_t *s = &sh->slots[key];
    pthread_mutex_lock(&s->lock);
    uint64_t round = s->started; /* only the leader begins a round, so it is ours */
    int wanted = s->waiting > 0;
    pthread_mutex_unlock(&s->lock);
    /* Copied outside the lock: waiters that give up meanwhile only make the
     * copy unneeded, and those arriving meanwhile want the next round. */
    fcgi_shared_answer_t *copy = wanted ? copy_answer(status, content_type, gzip, body, len) : NULL;
    pthread_mutex_lock(&s->lock);
    s->finished = round;
    s->busy = 0;
    fcgi_share_release(s->latest);
    s->latest = s->waiting ? copy : NULL;
    if (!s->waiting)
        fcgi_share_release(copy);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
}

unsigned fcgi_share_waiting(fcgi_share_t *sh, unsigned key)
{
    pthread_mutex_lock(&sh->slots[key].lock);
    unsigned n = sh->slots[key].waiting;
    pthread_mutex_unlock(&sh->slots[key].lock);
    return n;
}

int fcgi_shared_status(const fcgi_shared_answer_t *a)
{
    return a->status;
}
const char *fcgi_shared_content_type(const fcgi_shared_answer_t *a)
{
    return a->content_type;
}
int fcgi_shared_gzip(const fcgi_shared_answer_t *a)
{
    return a->gzip;
}
const char *fcgi_shared_body(const fcgi_shared_answer_t *a)
{
    return a->body;
}
size_t fcgi_shared_len(const fcgi_shared_answer_t *a)
{
    return a->len;
}
