/*
 * hot.c - the update calls, the path every inc() and observe() takes.
 *
 * Each is one N-API entry: the series id and the amount are read, the table
 * entry bounds-checked, the C update made. Success returns undefined (no JS
 * value to create); a failure returns the negative fastprom_errcode, which
 * the JS layer counts or turns into an Error. Validation that prom-client
 * does (finite numbers, no negative counter increments) happens in JS before
 * the call, so these never throw.
 */
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef int (*update_fn)(fastprom_series_t *, double);

static napi_value code_value(napi_env env, int rc)
{
    napi_value out;
    napi_create_int32(env, rc, &out);
    return out;
}

static fastprom_series_t *series_of(const fpn_env_t *e, napi_env env, napi_value v)
{
    uint32_t i;
    if (napi_get_value_uint32(env, v, &i) != napi_ok || i >= e->nseries)
        return NULL;
    return e->series[i].s;
}

static inline napi_value update(napi_env env, napi_callback_info info, update_fn fn)
{
    size_t argc = 2;
    napi_value argv[2];
    void *data;
    double v;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok || argc < 2 ||
        napi_get_value_double(env, argv[1], &v) != napi_ok)
        return code_value(env, FASTPROM_EINVAL);
    int rc = fn(series_of(data, env, argv[0]), v);
    return rc ? code_value(env, rc) : NULL;
}

static napi_value js_inc(napi_env env, napi_callback_info info)
{
    return update(env, info, fastprom_inc);
}
static napi_value js_dec(napi_env env, napi_callback_info info)
{
    return update(env, info, fastprom_dec);
}
static napi_value js_set(napi_env env, napi_callback_info info)
{
    return update(env, info, fastprom_set);
}
static napi_value js_observe(napi_env env, napi_callback_info info)
{
    return update(env, info, fastprom_observe);
}

/* incExemplar / observeExemplar(series, value, {name: value, ...}) */
static napi_value exemplar(napi_env env, napi_callback_info info, int observe)
{
    enum { MAXPAIRS = 32 };
    size_t argc = 3;
    napi_value argv[3], keys;
    void *data;
    double v;
    uint32_t n = 0;
    if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok || argc < 3 ||
        napi_get_value_double(env, argv[1], &v) != napi_ok || napi_get_property_names(env, argv[2], &keys) != napi_ok ||
        napi_get_array_length(env, keys, &n) != napi_ok)
        return code_value(env, FASTPROM_EINVAL);
    if (n > MAXPAIRS)
        n = MAXPAIRS + 1; /* refused below, after the update */
    fastprom_label_t pairs[MAXPAIRS];
    char *owned[2 * MAXPAIRS];
    size_t nowned = 0;
    int bad = n > MAXPAIRS;
    for (uint32_t i = 0; !bad && i < n; i++) {
        napi_value k, val, str;
        if (napi_get_element(env, keys, i, &k) != napi_ok || napi_get_property(env, argv[2], k, &val) != napi_ok ||
            napi_coerce_to_string(env, val, &str) != napi_ok || !(owned[nowned] = fpn_string(env, k, NULL))) {
            bad = 1;
            break;
        }
        nowned++;
        if (!(owned[nowned] = fpn_string(env, str, NULL))) {
            bad = 1;
            break;
        }
        nowned++;
        pairs[i] = (fastprom_label_t){owned[nowned - 2], owned[nowned - 1]};
    }
    fastprom_series_t *s = series_of(data, env, argv[0]);
    int rc;
    if (bad) {
        /* The update itself stands; only the exemplar is refused. */
        bool pending = false;
        if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
            napi_value ignored;
            napi_get_and_clear_last_exception(env, &ignored);
        }
        rc = observe ? fastprom_observe(s, v) : fastprom_inc(s, v);
        if (!rc)
            rc = FASTPROM_EINVAL;
    } else {
        rc = observe ? fastprom_observe_exemplar(s, v, pairs, n, 0) : fastprom_inc_exemplar(s, v, pairs, n, 0);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return rc ? code_value(env, rc) : NULL;
}

static napi_value js_inc_exemplar(napi_env env, napi_callback_info info)
{
    return exemplar(env, info, 0);
}
static napi_value js_observe_exemplar(napi_env env, napi_callback_info info)
{
    return exemplar(env, info, 1);
}

int fpn_register_hot(napi_env env, napi_value exports, fpn_env_t *e)
{
    static const fpn_function_t fns[] = {
        {"inc", js_inc},
        {"dec", js_dec},
        {"set", js_set},
        {"observe", js_observe},
        {"incExemplar", js_inc_exemplar},
        {"observeExemplar", js_observe_exemplar},
    };
    return fpn_export(env, exports, e, fns, sizeof fns / sizeof fns[0]);
}
