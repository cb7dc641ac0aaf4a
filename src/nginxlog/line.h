/*
 * line.h - one nginx access-log datagram, parsed without copying.
 *
 * nginx sends `access_log syslog:server=unix:...,nohostname,tag=T fastprom;`
 * as one datagram per request: an RFC 3164 header "<PRI>Mmm dd hh:mm:ss
 * [host ]T: " and the line written by the shipped log_format:
 *
 *   fp1 \t $server_name \t $request_method \t $status \t $request_time \t
 *   $upstream_response_time \t $upstream_addr \t $bytes_sent \t
 *   $request_length \t $msec \t $fastprom_route \t $request_uri
 *
 * escape=json makes the tab a safe separator: every variable's control bytes
 * (tabs included), '"' and '\' arrive escaped, and a missing variable is "".
 * The request URI is last because it is the one unbounded field.
 *
 * Everything here works on untrusted bytes of any length and content; it
 * never allocates and never reads past `len`.
 */
#ifndef NGINXLOG_LINE_H
#define NGINXLOG_LINE_H

#include <stddef.h>

#define NL_FORMAT_MARKER "fp1"

typedef struct nl_str {
    const char *p;
    size_t len;
} nl_str_t;

/* Slices point into the datagram; strings are still JSON-escaped. */
typedef struct nl_line {
    nl_str_t tag;
    nl_str_t server;
    nl_str_t method;
    unsigned status;         /* 0..999 */
    double request_time;     /* seconds */
    nl_str_t upstream_times; /* "" without an upstream; a list after retries */
    nl_str_t upstream_addrs;
    double bytes_sent;
    double request_length;
    double msec;    /* Unix seconds when nginx logged the request */
    nl_str_t route; /* $fastprom_route, "" when not set */
    nl_str_t uri;   /* $request_uri, query included */
} nl_line_t;

/* Why a datagram is not a line; also the `reason` label of the daemon's
 * malformed counter (nl_error_name). */
typedef enum nl_error {
    NL_OK = 0,
    NL_ESYSLOG,    /* no RFC 3164 header */
    NL_ETAG,       /* another program's tag: a foreign syslog message */
    NL_EFORMAT,    /* our tag but not the fastprom log_format (version marker) */
    NL_EFIELDS,    /* wrong number of fields: truncated or edited format */
    NL_ESTATUS,    /* $status is not three digits */
    NL_ENUMBER,    /* a time or size is not a number */
    NL_EMETHOD,    /* $request_method with bytes no method has */
    NL_EOVERSIZED, /* longer than max_line_bytes (set by the receiver) */
    NL_NERRORS
} nl_error_t;

/* "syslog_header", "foreign_tag", ... (label values), or "ok". */
const char *nl_error_name(int e);

/*
 * Parses one datagram. tag: the syslog tag the line must carry (NULL or "":
 * any). Returns NL_OK and fills *out, or an nl_error_t.
 */
int nl_parse(const char *msg, size_t len, const char *tag, nl_line_t *out);

/*
 * Undoes nginx's escape=json (\" \\ \/ \b \f \n \r \t \uXXXX) into out.
 * Stops when out is full. Returns the bytes written. Malformed escapes are
 * copied as they are: the result is only used for matching or as a label
 * value that the library validates again.
 */
size_t nl_unescape(nl_str_t in, char *out, size_t cap);

/*
 * Walks $upstream_response_time and $upstream_addr together: one call per
 * attempt nginx made (lists are separated by ", " for retries and " : " for
 * internal redirects). *time is -1 when the attempt has no time ("-"). A
 * missing address is "". Returns 1 per attempt, 0 at the end.
 */
typedef struct nl_upstream_iter {
    nl_str_t times, addrs;
    size_t tpos, apos;
} nl_upstream_iter_t;

void nl_upstream_begin(nl_upstream_iter_t *it, const nl_line_t *line);
int nl_upstream_next(nl_upstream_iter_t *it, double *time, nl_str_t *addr);

/* The standard method for m ("GET" ... "PATCH"), or "other". */
const char *nl_method_label(nl_str_t m);

#endif
