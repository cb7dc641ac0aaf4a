/*
 * fastprom.h - the public API of libfastprom.
 *
 * Many processes record Prometheus metrics into one bounded shared-memory
 * segment; one exporter renders the segment as Prometheus text 0.0.4,
 * OpenMetrics 1.0.0 or JSON. This is the only header the library installs.
 *
 * Conventions, as in every function below:
 *  - Functions that can fail for a reason a user can fix take a
 *    fastprom_error_t *err (may be NULL). On failure they return NULL or a
 *    negative fastprom_errcode and fill err->code and err->text with one line
 *    naming the thing that is wrong and how to fix it.
 *  - Update functions (the hot path) take no err: they return 0 or a negative
 *    fastprom_errcode; fastprom_strerror() describes the code.
 *  - The library never prints, never calls exit() or abort(), and never
 *    installs signal handlers.
 *  - Strings are UTF-8 and NUL-terminated unless a length is passed.
 */
#ifndef FASTPROM_H
#define FASTPROM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(FASTPROM_NO_VISIBILITY)
#define FASTPROM_API __attribute__((visibility("default")))
#else
#define FASTPROM_API
#endif

#define FASTPROM_VERSION "0.1.0"
#define FASTPROM_VERSION_MAJOR 0
#define FASTPROM_VERSION_MINOR 1
#define FASTPROM_VERSION_PATCH 0

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum fastprom_errcode {
    FASTPROM_OK = 0,
    FASTPROM_EINVAL = -1,   /* bad argument: name, label, value, wrong type */
    FASTPROM_ESYS = -2,     /* a system call failed; text carries errno's text */
    FASTPROM_ECORRUPT = -3, /* the segment's bytes fail validation */
    FASTPROM_EVERSION = -4, /* the segment has another layout version */
    FASTPROM_EFULL = -5,    /* the segment has no room left */
    FASTPROM_ELIMIT = -6,   /* a family's series limit was reached */
    FASTPROM_EEXIST = -7,   /* a family exists with another definition */
    FASTPROM_ENOENT = -8,   /* no such segment, family or series */
    FASTPROM_EBUSY = -9,    /* no consistent snapshot (folds kept happening) */
    FASTPROM_ENOMEM = -10,  /* process memory exhausted */
    FASTPROM_ERDONLY = -11  /* a write through a read-only attachment */
} fastprom_errcode;

#define FASTPROM_ERROR_TEXT_LENGTH 320

typedef struct fastprom_error {
    int code;                              /* a fastprom_errcode */
    char text[FASTPROM_ERROR_TEXT_LENGTH]; /* one line, no trailing newline */
} fastprom_error_t;

/* A static, one-line description of a fastprom_errcode. Never NULL. */
FASTPROM_API const char *fastprom_strerror(int code);

/* The library's version string, e.g. "0.1.0". */
FASTPROM_API const char *fastprom_version(void);

/* ------------------------------------------------------------------------ */
/* Segments                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct fastprom fastprom_t;

#define FASTPROM_DEFAULT_PATH "/dev/shm/fastprom"
#define FASTPROM_DEFAULT_SIZE (8u << 20)
#define FASTPROM_MIN_SIZE (256u << 10)
#define FASTPROM_MAX_SIZE 0xFFF00000u /* offsets inside are 32-bit */
#define FASTPROM_DEFAULT_SLOTS 1024u
#define FASTPROM_DEFAULT_FAMILY_LIMIT 10000u

/* fastprom_options_t.flags */
#define FASTPROM_READONLY 0x1u  /* map read-only; never create, never repair */
#define FASTPROM_PRIVATE 0x2u   /* an anonymous segment (memfd) for this process and its threads; path ignored */
#define FASTPROM_NO_CREATE 0x4u /* fail with ENOENT if the file is missing */
#define FASTPROM_FALLBACK 0x8u  /* never fail for the segment's sake: see fastprom_open */

/* Bytes of the private segment FASTPROM_FALLBACK opens. */
#define FASTPROM_FALLBACK_SIZE (1u << 20)

typedef struct fastprom_options {
    /* File path. NULL: $FASTPROM_PATH, else FASTPROM_DEFAULT_PATH. */
    const char *path;
    /* Total bytes when this call creates the segment. 0: $FASTPROM_SIZE
     * (bytes, or with a K/M/G suffix), else FASTPROM_DEFAULT_SIZE. Ignored
     * when attaching to an existing segment: the creator's size wins. */
    size_t size;
    /* Writer slots (one per writing thread) when creating. 0: default. */
    unsigned max_slots;
    /* Series a family may hold unless its definition says otherwise, when
     * creating. 0: $FASTPROM_FAMILY_LIMIT, else FASTPROM_DEFAULT_FAMILY_LIMIT. */
    unsigned family_limit;
    /* File mode when creating. 0: $FASTPROM_MODE (octal), else 0640. */
    unsigned mode;
    unsigned flags; /* FASTPROM_READONLY | FASTPROM_PRIVATE | FASTPROM_NO_CREATE | FASTPROM_FALLBACK */
} fastprom_options_t;

/*
 * Attaches to the segment at opt->path, creating it first when it does not
 * exist (unless READONLY or NO_CREATE). opt may be NULL for all defaults.
 *
 * Creation is race-free: the segment is built in a temporary file beside the
 * path and link()ed into place, so attachers only ever see a complete
 * segment; when two processes race, one wins and the other attaches to it.
 * Every attach validates the header (magic, layout version, sizes, region
 * offsets); a writer also repairs what a writer killed mid-change left.
 *
 * Errors: ENOENT (missing, with READONLY/NO_CREATE), ECORRUPT (not a fastprom
 * segment, or inconsistent header), EVERSION (another layout version: the
 * text names both versions), ESYS (open/mmap/fcntl failed), EINVAL (bad
 * option or environment value: a size out of range, unknown flags, a mode
 * beyond 0777, PRIVATE with READONLY), ELIMIT (this process already has 64
 * writable handles open: close one), ENOMEM.
 *
 * FASTPROM_FALLBACK (writers only; with READONLY it is EINVAL): monitoring
 * never takes the application down. When the segment cannot be created or
 * attached (no space, permission denied, another layout version, corrupt,
 * missing with NO_CREATE, a bad option or environment value, out of memory),
 * fastprom_open returns a private in-process segment of
 * FASTPROM_FALLBACK_SIZE bytes instead of NULL. err then holds the first
 * problem (err->code is its negative code, err->text names it and the fix,
 * and says metrics go to a private segment); the application logs it once.
 * The private segment counts the event in
 * fastprom_fallbacks_total{reason="no_space"|"permission"|"version"|
 * "corrupt"|"missing"|"config"|"memory"|"system"}, seen by whoever renders
 * it (fastprom-fcgi cannot). fastprom_path() of it is "<private>". NULL is
 * still possible (the private segment failed too, or ELIMIT), and every
 * function accepts a NULL handle, family or series without crashing, so the
 * documented usage pattern needs no error branch to stay up:
 *
 *     fastprom_error_t err;
 *     fastprom_options_t o = {.flags = FASTPROM_FALLBACK};
 *     fastprom_t *fp = fastprom_open(&o, &err);
 *     if (err.code)
 *         syslog(LOG_WARNING, "metrics: %s", err.text);
 *     fastprom_family_t *f = fastprom_family(fp, &def, NULL);
 *     fastprom_series_t *s = fastprom_series(f, values, NULL, NULL);
 *     fastprom_inc(s, 1);    (EINVAL, not a crash, if anything above failed)
 *
 * Thread safety: may be called from any thread. Fork safety: a handle stays
 * valid in a fork child; the child's first update claims its own writer slot.
 */
FASTPROM_API fastprom_t *fastprom_open(const fastprom_options_t *opt, fastprom_error_t *err);

/*
 * Detaches and frees the handle, its families and its series handles. The
 * segment and what was recorded stay; this process's writer slots are
 * released (their values are folded into the retained totals by the next
 * writer that attaches). No other thread may use the handle concurrently.
 * NULL is ignored.
 */
FASTPROM_API void fastprom_close(fastprom_t *fp);

/*
 * Checks that the handle's segment is still usable: the path still names the
 * mapped file (it was not deleted or replaced) and the header still
 * validates. Returns 0, or ENOENT (deleted or replaced: reopen), ECORRUPT,
 * EVERSION, EINVAL (fp is NULL). Costs one stat(2); meant for exporters,
 * once per scrape.
 */
FASTPROM_API int fastprom_check(fastprom_t *fp, fastprom_error_t *err);

/* The path the handle was opened with ("<private>" for a PRIVATE one). */
FASTPROM_API const char *fastprom_path(const fastprom_t *fp);

/*
 * The segment path fastprom_open uses when options.path is NULL or empty:
 * $FASTPROM_PATH when it is set and not empty, else FASTPROM_DEFAULT_PATH.
 * Never NULL. The string is the environment's or a constant: valid until
 * the environment changes. Thread-safe as getenv(3) is.
 */
FASTPROM_API const char *fastprom_default_path(void);

/*
 * Folds the values of writer slots whose processes died into the retained
 * totals and frees the slots and their memory. Writers do this on attach and
 * whenever they need a slot; call it to do it now. Counters, histograms and
 * summaries never go backwards through a fold. Returns the number of slots
 * folded (>= 0) or a negative errcode (EINVAL when fp is NULL, ERDONLY on a
 * read-only handle, EFULL when the merged totals do not fit, ENOMEM; nothing
 * is lost then, the dead slots just stay until the next fold).
 */
FASTPROM_API int fastprom_collect_dead(fastprom_t *fp, fastprom_error_t *err);

/* ------------------------------------------------------------------------ */
/* Families                                                                 */
/* ------------------------------------------------------------------------ */

typedef enum fastprom_type {
    FASTPROM_COUNTER = 1,
    FASTPROM_GAUGE = 2,
    FASTPROM_HISTOGRAM = 3,
    FASTPROM_SUMMARY = 4,
    FASTPROM_INFO = 5,
    FASTPROM_STATESET = 6
} fastprom_type_t;

#define FASTPROM_NTYPES 7 /* index 0 unused; arrays indexed by type */

/*
 * How the per-process values of a gauge combine, as prometheus_client's
 * multiprocess_mode names them. "live" modes forget a process when it dies;
 * the others keep its last value.
 */
typedef enum fastprom_gauge_mode {
    FASTPROM_GAUGE_LIVESUM = 0, /* default: sum over live processes */
    FASTPROM_GAUGE_ALL,         /* one series per process (pid label), dead too */
    FASTPROM_GAUGE_LIVEALL,     /* one series per live process */
    FASTPROM_GAUGE_SUM,
    FASTPROM_GAUGE_MAX,
    FASTPROM_GAUGE_LIVEMAX,
    FASTPROM_GAUGE_MIN,
    FASTPROM_GAUGE_LIVEMIN,
    FASTPROM_GAUGE_MOSTRECENT, /* the value written last, by any process */
    FASTPROM_GAUGE_LIVEMOSTRECENT
} fastprom_gauge_mode_t;

/* Parses "livesum", "all", ... Returns the mode or -1. */
FASTPROM_API int fastprom_gauge_mode_parse(const char *name);
/* The name of a mode ("livesum"...), or NULL when out of range. */
FASTPROM_API const char *fastprom_gauge_mode_name(int mode);

/* fastprom_family_def_t.flags */
#define FASTPROM_EXEMPLARS 0x1u /* reserve room for exemplars (counters, histograms) */

#define FASTPROM_MAX_LABELS 16
#define FASTPROM_MAX_BUCKETS 64 /* histogram bounds, +Inf excluded */
#define FASTPROM_MAX_QUANTILES 16
#define FASTPROM_MAX_STATES 64
#define FASTPROM_MAX_LABEL_VALUE 4096    /* bytes */
#define FASTPROM_MAX_NAME 200            /* bytes, metric and label names */
#define FASTPROM_MAX_HELP 4096           /* bytes */
#define FASTPROM_MAX_EXEMPLAR_LABELS 128 /* bytes of names+values, as OpenMetrics */

/* prometheus_client's default histogram buckets (+Inf implied). */
/* clang-format off */
#define FASTPROM_DEFAULT_BUCKETS \
    { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0 }
/* clang-format on */
#define FASTPROM_DEFAULT_NBUCKETS 14

typedef struct fastprom_family_def {
    fastprom_type_t type;
    /* Metric name, [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with "__". A
     * counter's trailing "_total" is stripped (it is added back on output);
     * when unit is set and the name does not end in "_<unit>", it is
     * appended, as prometheus_client does. */
    const char *name;
    const char *help; /* NULL or "": no HELP line */
    const char *unit; /* NULL or "": none */
    /* Label names, [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix, unique; "le" is
     * refused on histograms, "quantile" on summaries, and the family's own
     * name on statesets. */
    const char *const *label_names;
    size_t nlabels;
    /* HISTOGRAM: upper bounds, strictly ascending, finite (a final +Inf is
     * accepted and dropped). NULL with 0: FASTPROM_DEFAULT_BUCKETS.
     * SUMMARY: quantiles in [0,1], strictly ascending; 0: count and sum only
     * (no sketch is kept, as prometheus_client's Summary). */
    const double *buckets;
    size_t nbuckets;
    /* STATESET: the state names (at least one); the first is the one set
     * until fastprom_state() sets another, as prometheus_client's Enum. */
    const char *const *states;
    size_t nstates;
    fastprom_gauge_mode_t gauge_mode; /* GAUGE only */
    unsigned max_series;              /* 0: the segment's family limit */
    unsigned flags;                   /* FASTPROM_EXEMPLARS */
} fastprom_family_def_t;

typedef struct fastprom_family fastprom_family_t;

/*
 * Creates the family in the segment, or finds it when another process (or
 * an earlier call) created it with the same type, name, unit, label names,
 * buckets/quantiles/states, gauge mode and flags; help text may differ (the
 * first wins). Returns a handle owned by fp (freed by fastprom_close); the
 * same handle for repeated calls.
 *
 * Errors: EINVAL (bad name, label name, bucket list, ... the text names it),
 * EEXIST (same name, other definition: the text shows both), EFULL (segment
 * full; counted as a dropped series), ERDONLY, ECORRUPT, ENOMEM.
 * Thread-safe. Structural: takes the segment lock.
 */
FASTPROM_API fastprom_family_t *fastprom_family(fastprom_t *fp, const fastprom_family_def_t *def,
                                                fastprom_error_t *err);

/* ------------------------------------------------------------------------ */
/* Series                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct fastprom_series fastprom_series_t;

/*
 * Returns the series of `family` with these label values (one per label
 * name, in order; for a family without labels values may be NULL), creating
 * it if needed. lengths may be NULL (strlen is used) or give each value's
 * byte length, for values that contain NUL. The handle is owned by fp and
 * stays valid until fastprom_close; repeated calls return the same handle
 * without touching the segment lock.
 *
 * Label values must be valid UTF-8 (invalid UTF-8 is refused, not replaced:
 * an exposition must be UTF-8 and silent replacement would merge distinct
 * series) of at most FASTPROM_MAX_LABEL_VALUE bytes.
 *
 * Errors: EINVAL (bad value: the text names the label and the byte offset),
 * ELIMIT (the family holds max_series series; counted in the family's and the
 * segment's dropped-series counts; existing series keep working), EFULL
 * (segment full; counted likewise), ERDONLY, ECORRUPT, ENOMEM (the series
 * may exist in the segment already; the next call finds it).
 * Thread-safe.
 */
FASTPROM_API fastprom_series_t *fastprom_series(fastprom_family_t *family, const char *const *values,
                                                const size_t *lengths, fastprom_error_t *err);

/*
 * Removes one series (same arguments as fastprom_series). Its values vanish
 * from the output; handles to it keep accepting updates that go nowhere. A
 * later fastprom_series() with the same values starts a new series from zero.
 * The removed series' record and cells stay allocated until the segment is
 * re-created: a handle another process still holds may write to them at any
 * time, so they cannot be handed to another series. remove() suits label
 * sets that end now and then (a finished job); values that churn without
 * bound (request ids) belong in no label, removed or not.
 * Errors: ENOENT (no such series), EINVAL, ERDONLY, ENOMEM.
 */
FASTPROM_API int fastprom_remove(fastprom_family_t *family, const char *const *values, const size_t *lengths,
                                 fastprom_error_t *err);

/* Removes every series of the family. Errors: ERDONLY. */
FASTPROM_API int fastprom_clear(fastprom_family_t *family, fastprom_error_t *err);

/* ------------------------------------------------------------------------ */
/* Updates: the hot path                                                    */
/* ------------------------------------------------------------------------ */
/*
 * After the first update of a series from a thread, these do no system call,
 * take no lock and allocate nothing: each writing thread owns a slot of
 * cells in the segment, written with plain (relaxed atomic) stores, and the
 * exporter sums the slots. The first update from a thread (or after a fork)
 * claims the thread's slot and the series' cells, under the segment lock.
 *
 * A full segment (no bytes for new cells, or every writer slot taken) still
 * counts: counter, histogram and summary updates of a thread that cannot get
 * cells of its own go, exactly, to the series' shared fallback cells (atomic
 * read-modify-writes, slower under contention; no exemplar is kept and
 * summary quantiles leave them out) and are counted in
 * fastprom_stat_t.fallback_updates; they return 0. A gauge is one value per
 * process and has no shared cell: that update is dropped, counted in
 * dropped_updates, and EFULL returned.
 *
 * Return 0, or EINVAL (wrong type for the operation, negative or NaN counter
 * increment, or a NULL series: fastprom_inc(fastprom_series(...), 1) drops
 * the update when the series could not be made), EFULL (see above),
 * ENOMEM (a gauge's first update from a process out of memory; counting
 * updates go to the shared cells instead), ERDONLY. All are thread-safe and
 * fork-safe.
 */

/* COUNTER: adds v >= 0. GAUGE: adds v (any sign). */
FASTPROM_API int fastprom_inc(fastprom_series_t *s, double v);
/* GAUGE: subtracts v. */
FASTPROM_API int fastprom_dec(fastprom_series_t *s, double v);
/* GAUGE: sets the value. */
FASTPROM_API int fastprom_set(fastprom_series_t *s, double v);
/* HISTOGRAM, SUMMARY: records one observation. */
FASTPROM_API int fastprom_observe(fastprom_series_t *s, double v);

/*
 * 1 when the next update of s from the calling thread will not wait: its
 * cells are already resolved, so the update takes no lock and makes no
 * system call. 0 when it will take the segment lock to claim them (the
 * first update of a series from a thread, or after a fork). Meant for
 * bindings that hold an interpreter lock: they release it around the update
 * only when this returns 0. NULL: 1 (the update fails at once). Thread-safe,
 * lock-free.
 */
FASTPROM_API int fastprom_update_ready(const fastprom_series_t *s);

typedef struct fastprom_label {
    const char *name;
    const char *value;
} fastprom_label_t;

/*
 * Like fastprom_inc / fastprom_observe, and also records an exemplar (shown
 * in OpenMetrics after the counter's sample or the observation's bucket) for
 * a family created with FASTPROM_EXEMPLARS. timestamp is Unix seconds; 0
 * means now. Label names and values together are at most
 * FASTPROM_MAX_EXEMPLAR_LABELS bytes. Errors: EINVAL (no EXEMPLARS flag, bad
 * or too long labels; the update itself is still applied when it was valid).
 */
FASTPROM_API int fastprom_inc_exemplar(fastprom_series_t *s, double v, const fastprom_label_t *labels, size_t nlabels,
                                       double timestamp);
FASTPROM_API int fastprom_observe_exemplar(fastprom_series_t *s, double v, const fastprom_label_t *labels,
                                           size_t nlabels, double timestamp);

/* STATESET: makes state `index` (into the definition's states) the one that
 * is set. Shared by all processes: the last writer wins. */
FASTPROM_API int fastprom_state(fastprom_series_t *s, unsigned index);

/*
 * INFO: sets the series' key/value pairs, shown as extra labels of the
 * `<name>_info` sample. Shared by all processes: the last writer wins.
 * Setting the pairs the series already has costs no segment space; each
 * change stores the new pairs (a few bytes) for the segment's lifetime.
 * Keys are label names and may not repeat the family's label names.
 * Errors: EINVAL, EFULL, ERDONLY, ENOMEM.
 */
FASTPROM_API int fastprom_info(fastprom_series_t *s, const fastprom_label_t *pairs, size_t npairs,
                               fastprom_error_t *err);

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */
/* ------------------------------------------------------------------------ */

typedef enum fastprom_format {
    FASTPROM_FORMAT_TEXT = 0,        /* text/plain; version=0.0.4 */
    FASTPROM_FORMAT_OPENMETRICS = 1, /* application/openmetrics-text; version=1.0.0 */
    FASTPROM_FORMAT_JSON = 2         /* fastprom's JSON view (see README) */
} fastprom_format_t;

/* The exact Content-Type string for a format; NULL for an unknown one. */
FASTPROM_API const char *fastprom_content_type(fastprom_format_t format);

/* fastprom_render_options_t.flags */
#define FASTPROM_RENDER_CREATED 0x1u /* OpenMetrics: emit <name>_created samples */
#define FASTPROM_RENDER_NO_EOF 0x2u  /* OpenMetrics: leave out "# EOF" (the caller appends more families) */

typedef struct fastprom_render_options {
    fastprom_format_t format;
    /* Only families one of whose sample names (with the prefix applied, e.g.
     * "http_requests_total", "latency_seconds_bucket") or whose family name
     * is in names[]. NULL/0: all families. */
    const char *const *names;
    size_t nnames;
    /* Prepended to every family name, e.g. "voice_agent_". NULL: none.
     * Must itself be a valid metric-name prefix. */
    const char *prefix;
    unsigned flags;
    /* Leaves out families whose name (prefix applied) starts with one of
     * these, e.g. {"process_", "fastprom_"} when the caller appends its own
     * families of those names and a duplicate family would make the whole
     * exposition invalid. NULL/0: none. */
    const char *const *exclude;
    size_t nexclude;
    /* If not NULL, filled as fastprom_stat() would, from the same pass over
     * the segment (an exporter then reads it once per scrape, not twice). */
    struct fastprom_stat *stat;
} fastprom_render_options_t;

/* A growable output buffer. Zero-initialise; free with fastprom_buf_free. */
typedef struct fastprom_buf {
    char *data;
    size_t len;
    size_t cap;
} fastprom_buf_t;

FASTPROM_API void fastprom_buf_free(fastprom_buf_t *buf);

/*
 * Appends the segment's families, sorted by name, series sorted by label
 * values, to out. The segment is read without locks and never trusted:
 * every offset and length is checked, so arbitrary bytes give ECORRUPT, not
 * a crash. Counters, histograms and summaries include the retained totals of
 * dead processes; live gauges only live processes.
 *
 * Errors: ECORRUPT, EBUSY (the segment changed under every retry, which only
 * sustained folding can cause), EINVAL (fp or out NULL; unknown format or
 * flags; names or exclude NULL with a count, or holding NULL; bad prefix),
 * ENOMEM. On error out
 * keeps its previous length.
 * Thread-safe; works on read-only and writable handles.
 */
FASTPROM_API int fastprom_render(fastprom_t *fp, const fastprom_render_options_t *opt, fastprom_buf_t *out,
                                 fastprom_error_t *err);

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

typedef struct fastprom_stat {
    uint32_t layout_version;
    uint64_t size;  /* bytes */
    uint64_t used;  /* bytes in use (headers, metadata, value blocks) */
    double created; /* Unix seconds the segment was created */
    uint32_t families;
    uint32_t families_by_type[FASTPROM_NTYPES];
    uint32_t series; /* live series */
    uint32_t series_by_type[FASTPROM_NTYPES];
    uint32_t series_capacity;
    uint32_t slots_total;
    uint32_t slots_live;      /* claimed by a running process */
    uint32_t slots_dead;      /* owner died, values not folded yet */
    uint32_t processes_live;  /* distinct running writer processes */
    uint64_t dropped_series;  /* series refused: family limit or segment full */
    uint64_t dropped_updates; /* gauge updates refused: no room for a new cell */
    uint64_t folded_slots;    /* dead slots folded since creation */
    uint64_t repairs;         /* recoveries from a writer killed holding the lock */
    /* Changes whenever any recorded value changes; compare two readings to
     * learn whether anything was written in between. */
    uint64_t activity;
    /* Updates of counters, histograms and summaries recorded in their
     * series' shared fallback cells because the writing thread could not get
     * cells of its own (segment full by bytes, or every writer slot taken).
     * Nothing was lost; non-zero means the segment is too small. Each series
     * counts its own (no count is shared between processes); this is their
     * sum when read, removed series included, and never decreases. */
    uint64_t fallback_updates;
} fastprom_stat_t;

/* Fills st. Errors: EINVAL (fp or st NULL), ECORRUPT, EBUSY, ENOMEM. Thread-safe,
 * lock-free. */
FASTPROM_API int fastprom_stat(fastprom_t *fp, fastprom_stat_t *st, fastprom_error_t *err);

/* The name of a type ("counter", ...), or NULL when out of range. */
FASTPROM_API const char *fastprom_type_name(int type);

#ifdef __cplusplus
}
#endif

#endif /* FASTPROM_H */
