/*
 * route.h - what the worker answers: request routing (path under the
 * configured prefix, GET/HEAD only) and the four routes' handlers, writing
 * into an fcgi_response_t that server.c sends. No FastCGI types here, so the
 * handlers run the same from a test.
 */
#ifndef FCGI_ROUTE_H
#define FCGI_ROUTE_H

#include <stddef.h>

#include "app.h"
#include "fastprom.h"
#include "share.h"

typedef enum fcgi_route {
    FCGI_ROUTE_NONE = 0,
    FCGI_ROUTE_METRICS,      /* /metrics */
    FCGI_ROUTE_METRICS_JSON, /* /api/v1/metrics */
    FCGI_ROUTE_HEALTH,       /* /api/v1/health/prometheus */
    FCGI_ROUTE_LIVE          /* /api/v1/health/live */
} fcgi_route_t;

/* The route of uri (DOCUMENT_URI, no query) below prefix ("" or "/x"). */
fcgi_route_t fcgi_route_match(const char *uri, const char *prefix);

/* The request's FastCGI parameters; NULL when absent. */
typedef struct fcgi_request {
    const char *role;            /* FCGI_ROLE */
    const char *method;          /* REQUEST_METHOD */
    const char *uri;             /* DOCUMENT_URI, else SCRIPT_NAME */
    const char *query;           /* QUERY_STRING */
    const char *accept;          /* HTTP_ACCEPT */
    const char *accept_encoding; /* HTTP_ACCEPT_ENCODING */
} fcgi_request_t;

typedef struct fcgi_response {
    int status;
    const char *content_type;
    const char *allow; /* for 405 */
    int gzip;          /* body is gzip-encoded */
    int vary;          /* varies by Accept and Accept-Encoding */
    int head;          /* send the headers only */
    const char *body;
    size_t body_len;
    char *owned;                  /* free()d by fcgi_response_done */
    fcgi_shared_answer_t *shared; /* released by fcgi_response_done */
    fcgi_scratch_t *scratch;      /* the render's buffers, given back by fcgi_response_done */
    char text[FCGI_LINE_MAX + 2]; /* short bodies: error lines */
} fcgi_response_t;

/* Answers req into resp (which it initialises); resp->body stays valid
 * until fcgi_response_done. */
void fcgi_handle(fcgi_app_t *app, const fcgi_request_t *req, fcgi_response_t *resp);

/* Frees what resp owns and gives its render buffers back to the app. */
void fcgi_response_done(fcgi_app_t *app, fcgi_response_t *resp);

/* "OK", "Not Found", ... for a status code. */
const char *fcgi_status_reason(int status);

#endif
