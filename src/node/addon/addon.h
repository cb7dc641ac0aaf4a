/*
 * addon.h - what the addon's two files share: the per-environment handle
 * tables (addon.c owns them) and the registration of the update calls
 * (hot.c).
 */
#ifndef FASTPROM_NODE_ADDON_H
#define FASTPROM_NODE_ADDON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>

#include "fastprom.h"

typedef struct fpn_family {
    fastprom_family_t *f; /* NULL once its segment is closed */
    uint32_t seg;
} fpn_family_t;

typedef struct fpn_series {
    fastprom_series_t *s; /* NULL: id 0, or its segment was closed */
    uint32_t seg;
} fpn_series_t;

/* One per Node environment (napi instance data): handles by small id. */
typedef struct fpn_env {
    fastprom_t **segs;
    uint32_t nsegs, capsegs;
    fpn_family_t *fams;
    uint32_t nfams, capfams;
    fpn_series_t *series; /* [0] is "no series" */
    uint32_t nseries, capseries;
} fpn_env_t;

fpn_env_t *fpn_args(napi_env env, napi_callback_info info, size_t max, napi_value *argv);
char *fpn_string(napi_env env, napi_value v, size_t *len);
napi_value fpn_throw(napi_env env, int code, const char *text);
napi_value fpn_throw_err(napi_env env, const fastprom_error_t *err);

typedef struct fpn_function {
    const char *name;
    napi_callback fn;
} fpn_function_t;

/* Adds each function to exports, with e as its data. Returns 0, or -1 with
 * an exception pending. */
int fpn_export(napi_env env, napi_value exports, fpn_env_t *e, const fpn_function_t *fns, size_t n);

/* Adds inc, dec, set, observe, incExemplar, observeExemplar to exports.
 * Returns 0, or -1 with an exception pending. */
int fpn_register_hot(napi_env env, napi_value exports, fpn_env_t *e);

#endif
