/*
 * route.h - the `route` label of a request, never its raw URI (one series
 * per URI would be unbounded). In order:
 *   1. $fastprom_route, when nginx's location set it;
 *   2. the first rule of the configuration whose server matches (or has
 *      none) and whose regex matches the path (the URI without its query);
 *   3. the configured unmatched route ("unmatched").
 * Rule results are remembered per (server, path) in a small fixed-size
 * table, so a busy path pays for the regexes once.
 */
#ifndef NGINXLOG_ROUTE_H
#define NGINXLOG_ROUTE_H

#include <stddef.h>

#include "config.h"
#include "line.h"

typedef enum nl_route_source { NL_ROUTE_VARIABLE, NL_ROUTE_RULE, NL_ROUTE_UNMATCHED } nl_route_source_t;

typedef struct nl_router nl_router_t;

/* A router for cfg's rules; cfg must outlive it. NULL when out of memory. */
nl_router_t *nl_router_new(const nl_config_t *cfg);
void nl_router_free(nl_router_t *r);

/*
 * The route of `line` on `server` (already unescaped). The returned bytes
 * are either in buf (the variable's value, unescaped, at most cap bytes) or
 * owned by the configuration; *len is their length. *source says which.
 */
const char *nl_route(nl_router_t *r, const nl_line_t *line, const char *server, size_t server_len, char *buf,
                     size_t cap, size_t *len, nl_route_source_t *source);

#endif
