/*
 * snapshot.h - a consistent, private copy of a segment's families and merged
 * values: what the segment reader (snapshot.c) produces and the renderers
 * (render_*.c) consume.
 *
 * The reader takes every string and number out of the shared mapping into
 * process memory, validated (UTF-8, lengths, names), so renderers never touch
 * shared memory and never see untrusted bytes. Families are sorted by name,
 * series by label values, so output is stable.
 */
#ifndef FASTPROM_SNAPSHOT_H
#define FASTPROM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "fastprom.h"
#include "str.h"

typedef struct fp_snap_exemplar {
    int present;
    double value;
    double timestamp; /* Unix seconds */
    size_t nlabels;
    fp_str_t *names;  /* valid label names */
    fp_str_t *values; /* valid UTF-8 */
} fp_snap_exemplar_t;

/* One process's value of a gauge in mode ALL or LIVEALL. */
typedef struct fp_snap_pid_value {
    uint32_t pid;
    double value;
} fp_snap_pid_value_t;

typedef struct fp_snap_series {
    fp_str_t *label_values; /* family->nlabels entries */
    double created;         /* Unix seconds */

    /* COUNTER: the total. GAUGE (modes other than ALL/LIVEALL): the combined
     * value (0 when no process contributes). has_value is 1 for these. */
    double value;
    int has_value;

    /* HISTOGRAM, SUMMARY. For histograms count is the sum of buckets. */
    uint64_t count;
    double sum;

    /* The fields of one type only: read them for that type alone. */
    union {
        /* GAUGE in ALL / LIVEALL: one value per process, sorted by pid. */
        struct {
            size_t npids;
            fp_snap_pid_value_t *pids;
        };
        /* HISTOGRAM: family->nbounds + 1 NON-cumulative counts, the last
         * for +Inf; renderers accumulate, so the +Inf bucket equals count
         * by construction. */
        uint64_t *buckets;
        /* SUMMARY with quantiles: family->nbounds values, NaN without data. */
        double *quantiles;
        /* STATESET: index of the state that is set (the first until one is). */
        int state;
        /* INFO: key/value pairs (may be none). */
        struct {
            size_t ninfo;
            fp_str_t *info_keys;
            fp_str_t *info_values;
        };
    };

    /* Exemplars: COUNTER 1 entry, HISTOGRAM nbounds + 1 (per bucket, +Inf
     * last); NULL when the family has no FASTPROM_EXEMPLARS flag. */
    fp_snap_exemplar_t *exemplars;
} fp_snap_series_t;

typedef struct fp_snap_family {
    fastprom_type_t type;
    fastprom_gauge_mode_t gauge_mode;
    unsigned flags; /* FASTPROM_EXEMPLARS */
    fp_str_t name;  /* counters: without "_total" */
    fp_str_t help;  /* len 0: none */
    fp_str_t unit;  /* len 0: none */
    size_t nlabels;
    fp_str_t *label_names;
    /* HISTOGRAM: upper bounds, ascending, finite (+Inf implied).
     * SUMMARY: quantiles. */
    size_t nbounds;
    double *bounds;
    /* STATESET */
    size_t nstates;
    fp_str_t *states;
    double created;
    uint64_t dropped_series; /* refused by this family's limit */
    uint32_t max_series;
    size_t nseries;
    fp_snap_series_t *series; /* sorted by label values */
} fp_snap_family_t;

typedef struct fp_snapshot {
    size_t nfamilies;
    fp_snap_family_t *families; /* sorted by name */
    fastprom_stat_t stat;
    struct fp_arena *arena;   /* owns every pointer above but label values */
    struct fp_order **orders; /* hold the label values (order.h) */
    size_t norders;
} fp_snapshot_t;

/* Which families a snapshot keeps (as fastprom_render_options_t describes
 * names, prefix and exclude). NULL: all. */
typedef struct fp_filter {
    const char *prefix;
    const char *const *names;
    size_t nnames;
    const char *const *exclude;
    size_t nexclude;
} fp_filter_t;

/*
 * Takes a snapshot of fp's segment (bounds-checked, lock-free, retried when
 * a fold ran concurrently), keeping the families filter lets through.
 * Returns 0 or a negative errcode with err filled.
 */
int fp_snapshot_take(fastprom_t *fp, const fp_filter_t *filter, fp_snapshot_t *snap, fastprom_error_t *err);
/* Releases snap; its memory is kept for fp's next snapshot. */
void fp_snapshot_free(fastprom_t *fp, fp_snapshot_t *snap);

#endif
