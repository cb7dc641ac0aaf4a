/*
 * query.h - the /metrics query string: name[]=<metric> filters, as
 * prometheus_client and Prometheus' `params:` use them. Pure, unit-tested.
 */
#ifndef FCGI_QUERY_H
#define FCGI_QUERY_H

#include <stddef.h>

#define FCGI_QUERY_MAX_NAMES 256

typedef struct fcgi_query {
    char **names; /* decoded metric names, in order of appearance */
    size_t nnames;
} fcgi_query_t;

/*
 * Parses a QUERY_STRING: "&"-separated key=value pairs, percent-decoded
 * ("+" is a space), in which every "name[]" value must be a metric name
 * ([a-zA-Z_:][a-zA-Z0-9_:]*). Other keys are ignored (Prometheus may add its
 * own). Returns 0, or -1 with one line in err for malformed percent-encoding,
 * an invalid name or more than FCGI_QUERY_MAX_NAMES names (the caller
 * answers 400 with that line). q is zeroed first; free it with
 * fcgi_query_free either way.
 */
int fcgi_query_parse(const char *query, fcgi_query_t *q, char *err, size_t errlen);

void fcgi_query_free(fcgi_query_t *q);

#endif
