/*
 * app.c - the worker's shared state (app.h). The configuration sits behind
 * a writer-preferring rwlock that requests hold shared from start to end, so
 * a reload waits for running requests and never frees a configuration in
 * use; requests are short and bounded by the render deadline and I/O
 * timeouts, so the wait is too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "clock.h"

/* Idle render buffers kept for reuse; more concurrent renders than this
 * allocate and free their own. */
#define IDLE_SCRATCH_MAX 2
/* A buffer this large and over four times what its last answer needed is
 * given back rather than kept. */
#define TRIM_RENDER_ABOVE (1u << 20)

static void scratch_free(fcgi_scratch_t *sc)
{
    fastprom_buf_free(&sc->render);
    fcgi_gzip_free(sc->gzip);
    free(sc);
}

fcgi_scratch_t *fcgi_app_scratch_take(fcgi_app_t *app)
{
    pthread_mutex_lock(&app->scratch_lock);
    fcgi_scratch_t *sc = app->idle_scratch;
    if (sc) {
        app->idle_scratch = sc->next;
        app->nidle_scratch--;
    }
    pthread_mutex_unlock(&app->scratch_lock);
    if (sc)
        return sc;
    sc = calloc(1, sizeof *sc);
    if (sc && !(sc->gzip = fcgi_gzip_new())) {
        free(sc);
        sc = NULL;
    }
    return sc;
}

void fcgi_app_scratch_give(fcgi_app_t *app, fcgi_scratch_t *sc)
{
    if (!sc)
        return;
    if (sc->render.cap > TRIM_RENDER_ABOVE && sc->render.cap > 4 * sc->render.len)
        fastprom_buf_free(&sc->render);
    fcgi_gzip_trim(sc->gzip);
    pthread_mutex_lock(&app->scratch_lock);
    int keep = app->nidle_scratch < IDLE_SCRATCH_MAX;
    if (keep) {
        sc->next = app->idle_scratch;
        app->idle_scratch = sc;
        app->nidle_scratch++;
    }
    pthread_mutex_unlock(&app->scratch_lock);
    if (!keep)
        scratch_free(sc);
}

fcgi_app_t *fcgi_app_new(fcgi_config_t *cfg, char *err, size_t errlen)
{
    fcgi_app_t *app = calloc(1, sizeof *app);
    char self_err[FASTPROM_ERROR_TEXT_LENGTH + 64] = "out of memory";
    if (!app) {
        snprintf(err, errlen, "out of memory");
        fcgi_config_free(cfg);
        return NULL;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&app->config_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&app->error_lock, NULL);
    pthread_mutex_init(&app->scratch_lock, NULL);
    app->config = cfg;
    app->started_monotonic = fcgi_monotonic_seconds();
    app->source = fcgi_source_new();
    app->self = fcgi_selfmetrics_new(cfg->threads, self_err, sizeof self_err);
    app->share = fcgi_share_new(FCGI_SHARE_KEYS);
    if (!app->source || !app->self || !app->share) {
        snprintf(err, errlen, "cannot set up the worker: %s", app->self ? "out of memory" : self_err);
        fcgi_app_free(app);
        return NULL;
    }
    return app;
}

void fcgi_app_free(fcgi_app_t *app)
{
    if (!app)
        return;
    fcgi_selfmetrics_free(app->self);
    fcgi_share_free(app->share);
    while (app->idle_scratch) {
        fcgi_scratch_t *sc = app->idle_scratch;
        app->idle_scratch = sc->next;
        scratch_free(sc);
    }
    pthread_mutex_destroy(&app->scratch_lock);
    fcgi_source_free(app->source);
    fcgi_config_free(app->config);
    pthread_rwlock_destroy(&app->config_lock);
    pthread_mutex_destroy(&app->error_lock);
    free(app);
}

const fcgi_config_t *fcgi_app_config_acquire(fcgi_app_t *app)
{
    pthread_rwlock_rdlock(&app->config_lock);
    return app->config;
}

void fcgi_app_config_release(fcgi_app_t *app)
{
    pthread_rwlock_unlock(&app->config_lock);
}

void fcgi_app_config_replace(fcgi_app_t *app, fcgi_config_t *cfg)
{
    pthread_rwlock_wrlock(&app->config_lock);
    fcgi_config_t *old = app->config;
    app->config = cfg;
    pthread_rwlock_unlock(&app->config_lock);
    fcgi_config_free(old);
}

int fcgi_app_render_begin(fcgi_app_t *app, unsigned max_in_flight)
{
    unsigned now = atomic_fetch_add(&app->in_flight, 1);
    if (now >= max_in_flight) {
        atomic_fetch_sub(&app->in_flight, 1);
        return -1;
    }
    return 0;
}

void fcgi_app_render_end(fcgi_app_t *app)
{
    atomic_fetch_sub(&app->in_flight, 1);
}

void fcgi_app_render_outcome(fcgi_app_t *app, const char *error_line, int segment_attached)
{
    if (error_line)
        atomic_fetch_add(&app->render_errors, 1);
    if (error_line && !segment_attached)
        return;
    pthread_mutex_lock(&app->error_lock);
    snprintf(app->last_error, sizeof app->last_error, "%s", error_line ? error_line : "");
    pthread_mutex_unlock(&app->error_lock);
}

void fcgi_app_last_error(fcgi_app_t *app, char *out, size_t outlen)
{
    pthread_mutex_lock(&app->error_lock);
    snprintf(out, outlen, "%s", app->last_error);
    pthread_mutex_unlock(&app->error_lock);
}
