/*
 * fuzz_nginxlog_line.c - libFuzzer target for what fastprom-nginxlog does
 * with a datagram before it touches the segment: the syslog header and
 * field parser, escape=json undone, upstream lists walked, methods
 * classified, and routes resolved through rules (regexes and the result
 * table). Any crash, sanitizer report or out-of-bounds read is a bug.
 *
 *   make fuzz-smoke-nginxlog   (in make check)   make fuzz-nginxlog   (long)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nginxlog/config.h"
#include "nginxlog/line.h"
#include "nginxlog/route.h"

static nl_config_t *cfg;
static nl_router_t *router;

static void setup(void)
{
    static const char json[] = "{\"rules\": ["
                               "{\"server\": \"a.com\", \"match\": \"^/users/[0-9]+$\", \"route\": \"/users/{id}\"},"
                               "{\"match\": \"^/(static|assets)/.*\\\\.(css|js)$\", \"route\": \"/static\"},"
                               "{\"match\": \"^/$\", \"route\": \"/\"}]}";
    char err[256];
    cfg = nl_config_parse(json, sizeof json - 1, "fuzz", NULL, err, sizeof err);
    if (!cfg || !(router = nl_router_new(cfg)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!router)
        setup();
    /* An exact-size copy, so reading one byte past the datagram is caught. */
    char *msg = malloc(size ? size : 1);
    memcpy(msg, data, size);
    nl_line_t line;
    int rc = nl_parse(msg, size, size % 2 ? "fastprom" : NULL, &line);
    if (rc == NL_OK) {
        char server[64], route_buf[128];
        size_t server_len = nl_unescape(line.server, server, sizeof server);
        size_t len;
        nl_route_source_t source;
        const char *route = nl_route(router, &line, server, server_len, route_buf, sizeof route_buf, &len, &source);
        if (len > (source == NL_ROUTE_VARIABLE ? sizeof route_buf : 256u) || !route)
            abort();
        volatile const char *method = nl_method_label(line.method);
        (void)method;
        nl_upstream_iter_t it;
        double t;
        nl_str_t addr;
        int attempts = 0;
        nl_upstream_begin(&it, &line);
        while (nl_upstream_next(&it, &t, &addr))
            if (++attempts > (int)size + 1 || addr.len > line.upstream_addrs.len)
                abort(); /* the walk must end and stay inside the field */
    } else if (rc < 0 || rc >= NL_NERRORS) {
        abort();
    }
    free(msg);
    return 0;
}
