/*
 * negotiate.h - HTTP content negotiation for /metrics: which exposition
 * format an Accept header asks for, and whether Accept-Encoding wants gzip,
 * identity, or refuses both.
 * Pure functions over header strings, so every scraper's exact header can be
 * unit-tested.
 */
#ifndef FCGI_NEGOTIATE_H
#define FCGI_NEGOTIATE_H

#include "fastprom.h"

typedef enum fcgi_exposition {
    FCGI_EXPO_NONE = -1, /* every exposition the header names is refused: 406 */
    FCGI_EXPO_TEXT = 0,  /* text/plain; version=0.0.4 */
    FCGI_EXPO_OPENMETRICS_1_0_0 = 1,
    FCGI_EXPO_OPENMETRICS_0_0_1 = 2 /* same body; the Content-Type says 0.0.1 */
} fcgi_exposition_t;

/*
 * The exposition to answer an Accept header with (RFC 9110 12.5.1). Each
 * exposition takes its weight from the most specific element naming it
 * (application/openmetrics-text;version=1.0.0 over
 * application/openmetrics-text over the application/ wildcard over the
 * any-type wildcard); the acceptable one (q > 0) with the highest weight
 * wins, then the one named more specifically, then the one named first,
 * then text over OpenMetrics 1.0.0 over 0.0.1. A q above 1 is read as 1.
 * When none is acceptable:
 *  - FCGI_EXPO_NONE when the header names an exposition and refuses (q=0)
 *    every one it names, e.g. "text/plain;q=0" (a 406);
 *  - FCGI_EXPO_TEXT when it names none (NULL, "", "application/json",
 *    unsupported versions, malformed elements): RFC 9110 lets a server
 *    disregard such a header, and scrapers then still read the metrics.
 */
fcgi_exposition_t fcgi_negotiate_exposition(const char *accept);

/* The renderer's format for an exposition (not FCGI_EXPO_NONE). */
fastprom_format_t fcgi_exposition_format(fcgi_exposition_t expo);

/* The exact Content-Type to send (not for FCGI_EXPO_NONE). */
const char *fcgi_exposition_content_type(fcgi_exposition_t expo);

/* "text", "openmetrics" or "none": the format label of the self-metrics. */
const char *fcgi_exposition_label(fcgi_exposition_t expo);

typedef enum fcgi_coding {
    FCGI_CODING_IDENTITY = 0, /* send the body as it is */
    FCGI_CODING_GZIP,         /* gzip preferred, identity acceptable (bodies too small to gain go as they are) */
    FCGI_CODING_GZIP_ONLY,    /* gzip whatever the size: identity is refused */
    FCGI_CODING_NONE          /* neither is acceptable: 406 */
} fcgi_coding_t;

/*
 * The content coding to answer an Accept-Encoding header with (RFC 9110
 * 12.5.3). gzip (or x-gzip) is acceptable when it, else "*", is listed with
 * q > 0; identity when it, else "*", is listed with q > 0, or when neither
 * is listed. gzip wins when acceptable and weighted at least as much as
 * identity (an identity without a weight of its own is weighted least).
 * NULL and "" give identity. A q above 1 ("gzip;q=1.5") is read as 1.
 * "identity;q=0" alone and "*;q=0" refuse both: FCGI_CODING_NONE.
 */
fcgi_coding_t fcgi_negotiate_coding(const char *accept_encoding);

#endif
