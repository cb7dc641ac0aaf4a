/*
 * guard.h - the check every FastCGI connection passes before libfcgi reads
 * it: the BEGIN_REQUEST record and the whole PARAMS stream must be present,
 * well formed and small, or the worker closes the connection unread. The
 * intake (intake.h) peeks at each connection and asks the guard.
 * libfcgi 2.4.2 trusts the peer's declared lengths (guard.c says how that
 * kills the worker), so nothing it would mis-read may reach it.
 */
#ifndef FCGI_GUARD_H
#define FCGI_GUARD_H

#include <stddef.h>

/* Bounds far above what nginx sends (its whole PARAMS stream is one record
 * of at most 65535 bytes; one header line is 8 KiB by default). */
#define FCGI_GUARD_MAX_PARAM (16u << 10)  /* one name, or one value */
#define FCGI_GUARD_MAX_PARAMS (64u << 10) /* the content of all PARAMS records */
/* Everything up to the end of the empty PARAMS record, headers and padding
 * included: many tiny records must not make the check buffer grow. */
#define FCGI_GUARD_MAX_STREAM (FCGI_GUARD_MAX_PARAMS + (16u << 10))

typedef enum fcgi_guard_verdict {
    FCGI_GUARD_OK = 0,    /* hand the connection to libfcgi */
    FCGI_GUARD_MORE,      /* fcgi_guard_scan only: the stream is fine so far */
    FCGI_GUARD_MALFORMED, /* not the start of one FastCGI request as web servers send it */
    FCGI_GUARD_TOO_LARGE, /* a name or value, all parameters, or the stream over the bounds */
    FCGI_GUARD_TRUNCATED, /* the peer closed (or the socket failed) before the PARAMS stream ended */
    FCGI_GUARD_TIMEOUT,   /* the PARAMS stream did not end before the deadline */
    FCGI_GUARD_EVICTED    /* closed by the intake (intake.h) to admit a newer connection */
} fcgi_guard_verdict_t;

/* The verdict on the first len bytes of a stream; FCGI_GUARD_MORE when they
 * are a valid beginning. detail (may be NULL) gets one line for a refusal. */
fcgi_guard_verdict_t fcgi_guard_scan(const unsigned char *buf, size_t len, char *detail, size_t detail_len);

/* "malformed", "too_large", "truncated", "timeout", "evicted":
 * the reason label of the worker's connection counters. */
const char *fcgi_guard_verdict_name(fcgi_guard_verdict_t v);

#endif
