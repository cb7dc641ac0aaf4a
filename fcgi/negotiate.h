/*
 * negotiate.h - HTTP content negotiation for /metrics: which exposition
 * format an Accept header asks for, and whether Accept-Encoding allows gzip.
 * Pure functions over header strings, so every scraper's exact header can be
 * unit-tested.
 */
#ifndef FCGI_NEGOTIATE_H
#define FCGI_NEGOTIATE_H

#include "fastprom.h"

typedef enum fcgi_exposition {
    FCGI_EXPO_TEXT = 0,            /* text/plain; version=0.0.4 */
    FCGI_EXPO_OPENMETRICS_1_0_0 = 1,
    FCGI_EXPO_OPENMETRICS_0_0_1 = 2 /* same body; the Content-Type says 0.0.1 */
} fcgi_exposition_t;

/*
 * The format to answer with: the acceptable one with the highest q; on equal
 * q an explicitly named type beats a wildcard, then the one listed first.
 * Wildcards and anything unsupported or malformed mean text 0.0.4, which is
 * also the answer for NULL or "". Never fails: scrapers get an answer.
 */
fcgi_exposition_t fcgi_negotiate_exposition(const char *accept);

/* The renderer's format for an exposition. */
fastprom_format_t fcgi_exposition_format(fcgi_exposition_t expo);

/* The exact Content-Type to send. */
const char *fcgi_exposition_content_type(fcgi_exposition_t expo);

/* "text" or "openmetrics": the format label of the self-metrics. */
const char *fcgi_exposition_label(fcgi_exposition_t expo);

/*
 * 1 when the response may be gzip-encoded: gzip (or x-gzip, or "*") has
 * q > 0 and is not less preferred than identity. NULL or "" gives 0.
 */
int fcgi_negotiate_gzip(const char *accept_encoding);

#endif
