/*
 * segment_image.h - a valid segment image holding every kind of record, and
 * a map of where its offsets and lengths sit, for the reader robustness
 * tests and the reader fuzzer (tests/fuzz/fuzz_reader.c includes this file
 * too, so it uses no check assertions: failures come back as NULL / -1).
 *
 * The map is built by walking the image with layout.h, so mutations can aim
 * at the fields a reader follows (hash entries, record links, string refs,
 * block chains, entry headers, exemplar lengths) instead of hoping random
 * bytes hit them.
 */
#ifndef FASTPROM_TEST_SEGMENT_IMAGE_H
#define FASTPROM_TEST_SEGMENT_IMAGE_H

#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fastprom.h"
#include "layout.h"

#define IMAGE_MAX_SLOTS 4u

/* ---- building ------------------------------------------------------------ */

static inline fastprom_series_t *image_series(fastprom_t *fp, const fastprom_family_def_t *d, const char *const *values)
{
    fastprom_error_t err;
    fastprom_family_t *f = fastprom_family(fp, d, &err);
    return f ? fastprom_series(f, values, NULL, &err) : NULL;
}

/* Every type, labels that need escaping, exemplars, both bucket-search
 * paths, sketches, info pairs set twice, a stateset, three gauge modes. */
static inline int image_write_a(fastprom_t *fp)
{
    static const char *const req_labels[] = {"method", "code"};
    static const double lat_bounds[] = {0.1, 0.5, 1};
    static const double q[] = {0.5, 0.9, 0.99};
    static const char *const states[] = {"starting", "ready"};
    double wide[20];
    for (int i = 0; i < 20; i++)
        wide[i] = i * 0.25;
    const fastprom_label_t ex[] = {{"trace_id", "4bf92f3577b34da6"}};
    fastprom_family_def_t req = {.type = FASTPROM_COUNTER,
                                 .name = "http_requests_total",
                                 .help = "Requests \"served\".\n",
                                 .label_names = req_labels,
                                 .nlabels = 2,
                                 .flags = FASTPROM_EXEMPLARS};
    fastprom_family_def_t lat = {.type = FASTPROM_HISTOGRAM,
                                 .name = "latency",
                                 .unit = "seconds",
                                 .label_names = (const char *const[]){"route"},
                                 .nlabels = 1,
                                 .buckets = lat_bounds,
                                 .nbuckets = 3,
                                 .flags = FASTPROM_EXEMPLARS};
    fastprom_family_def_t wide_h = {.type = FASTPROM_HISTOGRAM, .name = "wide", .buckets = wide, .nbuckets = 20};
    fastprom_family_def_t sz = {.type = FASTPROM_SUMMARY, .name = "size_bytes", .buckets = q, .nbuckets = 3};
    fastprom_family_def_t jobs = {.type = FASTPROM_SUMMARY, .name = "jobs"};
    fastprom_family_def_t inprog = {.type = FASTPROM_GAUGE,
                                    .name = "in_progress",
                                    .label_names = (const char *const[]){"route"},
                                    .nlabels = 1};
    fastprom_family_def_t rss = {.type = FASTPROM_GAUGE, .name = "rss_bytes", .gauge_mode = FASTPROM_GAUGE_ALL};
    fastprom_family_def_t temp = {.type = FASTPROM_GAUGE, .name = "temp", .gauge_mode = FASTPROM_GAUGE_MOSTRECENT};
    fastprom_family_def_t build = {.type = FASTPROM_INFO,
                                   .name = "build",
                                   .label_names = (const char *const[]){"service"},
                                   .nlabels = 1};
    fastprom_family_def_t phase = {.type = FASTPROM_STATESET, .name = "phase", .states = states, .nstates = 2};

    fastprom_series_t *s;
    int rc = 0;
    if (!(s = image_series(fp, &req, (const char *const[]){"GET", "200"})))
        return -1;
    rc |= fastprom_inc_exemplar(s, 5, ex, 1, 1700000000.5);
    if (!(s = image_series(fp, &req, (const char *const[]){"POST", "5\"0\\0\n"})))
        return -1;
    rc |= fastprom_inc(s, 1.5);
    if (!(s = image_series(fp, &req, (const char *const[]){"DELETE", "caf\xc3\xa9"})))
        return -1;
    rc |= fastprom_inc(s, 2);
    fastprom_error_t err;
    fastprom_remove(fastprom_family(fp, &req, &err), (const char *const[]){"DELETE", "caf\xc3\xa9"}, NULL, &err);
    if (!(s = image_series(fp, &lat, (const char *const[]){"/api"})))
        return -1;
    rc |= fastprom_observe(s, 0.05) | fastprom_observe(s, 0.7) | fastprom_observe_exemplar(s, 3, ex, 1, 1700000001);
    if (!(s = image_series(fp, &wide_h, NULL)))
        return -1;
    for (int i = 0; i < 30; i++)
        rc |= fastprom_observe(s, i * 0.2);
    if (!(s = image_series(fp, &sz, NULL)))
        return -1;
    for (int i = 1; i <= 50; i++)
        rc |= fastprom_observe(s, i);
    if (!(s = image_series(fp, &jobs, NULL)))
        return -1;
    rc |= fastprom_observe(s, 3);
    if (!(s = image_series(fp, &inprog, (const char *const[]){"/api"})))
        return -1;
    rc |= fastprom_set(s, 3);
    if (!(s = image_series(fp, &rss, NULL)))
        return -1;
    rc |= fastprom_set(s, 1e6);
    if (!(s = image_series(fp, &temp, NULL)))
        return -1;
    rc |= fastprom_set(s, 21.5);
    if (!(s = image_series(fp, &build, (const char *const[]){"api"})))
        return -1;
    rc |= fastprom_info(s, (const fastprom_label_t[]){{"version", "1.0"}}, 1, &err);
    rc |= fastprom_info(s, (const fastprom_label_t[]){{"version", "1.1"}, {"commit", "abc"}}, 2, &err);
    if (!(s = image_series(fp, &phase, NULL)))
        return -1;
    rc |= fastprom_state(s, 1);
    return rc ? -1 : 0;
}

/* A second writer adds to the same series from its own slot. */
static inline int image_write_b(fastprom_t *fp)
{
    static const char *const req_labels[] = {"method", "code"};
    fastprom_family_def_t req = {.type = FASTPROM_COUNTER,
                                 .name = "http_requests_total",
                                 .label_names = req_labels,
                                 .nlabels = 2,
                                 .flags = FASTPROM_EXEMPLARS};
    fastprom_family_def_t inprog = {.type = FASTPROM_GAUGE,
                                    .name = "in_progress",
                                    .label_names = (const char *const[]){"route"},
                                    .nlabels = 1};
    fastprom_family_def_t jobs = {.type = FASTPROM_SUMMARY, .name = "jobs"};
    fastprom_series_t *a = image_series(fp, &req, (const char *const[]){"GET", "200"});
    fastprom_series_t *b = image_series(fp, &inprog, (const char *const[]){"/api"});
    fastprom_series_t *c = image_series(fp, &jobs, NULL);
    if (!a || !b || !c)
        return -1;
    return fastprom_inc_exemplar(a, 1, (const fastprom_label_t[]){{"span", "x"}}, 1, 1700000002) | fastprom_set(b, 1) |
                   fastprom_observe(c, 4)
               ? -1
               : 0;
}

/* Builds the segment at path (which must not exist) with two writers, the
 * first closed (its values folded into the retained totals) and the second
 * still attached when the bytes are copied. Returns the malloc'd image of
 * *size bytes, or NULL. */
static inline unsigned char *segment_image_build(const char *path, size_t *size)
{
    fastprom_options_t opt = {.path = path, .size = FASTPROM_MIN_SIZE, .max_slots = IMAGE_MAX_SLOTS};
    fastprom_error_t err;
    fastprom_t *a = fastprom_open(&opt, &err);
    if (!a || image_write_a(a)) {
        fastprom_close(a);
        return NULL;
    }
    fastprom_close(a);
    fastprom_t *b = fastprom_open(&opt, &err);
    unsigned char *img = malloc(FASTPROM_MIN_SIZE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int ok = b && img && fd >= 0 && image_write_b(b) == 0 &&
             pread(fd, img, FASTPROM_MIN_SIZE, 0) == (ssize_t)FASTPROM_MIN_SIZE;
    if (fd >= 0)
        close(fd);
    fastprom_close(b);
    /* As if a writer had used shared fallback cells: readers then walk every
     * series' cells (all zero here, so the values stay as written). */
    if (ok)
        atomic_store(&((struct fp_header *)img)->fallback_used, 1);
    if (!ok) {
        free(img);
        return NULL;
    }
    *size = FASTPROM_MIN_SIZE;
    return img;
}

/* ---- the map of offset and length fields ---------------------------------- */

struct image_field {
    uint32_t pos;  /* byte position in the image */
    uint8_t width; /* 2, 4 or 8 */
};

struct image_map {
    struct image_field fields[4096];
    size_t nfields;
    uint32_t records[1024]; /* offsets of records: families, series, strings, info, blocks, entries */
    size_t nrecords;
};

static inline void map_field(struct image_map *m, size_t pos, unsigned width)
{
    if (m->nfields < sizeof m->fields / sizeof *m->fields)
        m->fields[m->nfields++] = (struct image_field){(uint32_t)pos, (uint8_t)width};
}

static inline void map_record(struct image_map *m, uint32_t off)
{
    if (off && m->nrecords < sizeof m->records / sizeof *m->records)
        m->records[m->nrecords++] = off;
}

#define MAP_MEMBER(m, base, type, member) map_field(m, (base) + offsetof(type, member), sizeof(((type *)0)->member))

static inline uint32_t image_u32(const unsigned char *img, size_t pos)
{
    uint32_t v;
    memcpy(&v, img + pos, 4);
    return v;
}

static inline void map_strrefs(struct image_map *m, const unsigned char *img, size_t size, uint32_t off, uint32_t n)
{
    for (uint32_t i = 0; off && i < n && off + 8 * (i + 1) <= size; i++) {
        map_field(m, off + 8 * i, 4);
        map_field(m, off + 8 * i + 4, 4);
        map_record(m, image_u32(img, off + 8 * i));
    }
}

/* u16 lengths of an encoded label blob. */
static inline void map_blob(struct image_map *m, const unsigned char *img, size_t start, size_t len)
{
    for (size_t pos = 0; pos + 2 <= len;) {
        map_field(m, start + pos, 2);
        pos += 2 + (size_t)(img[start + pos] | (img[start + pos + 1] << 8));
    }
}

static inline void map_family(struct image_map *m, const unsigned char *img, size_t size, uint32_t off)
{
    if (off + sizeof(struct fp_family) > size)
        return;
    struct fp_family f;
    memcpy(&f, img + off, sizeof f);
    map_record(m, off);
    MAP_MEMBER(m, off, struct fp_family, series_head);
    MAP_MEMBER(m, off, struct fp_family, nseries);
    MAP_MEMBER(m, off, struct fp_family, type);
    MAP_MEMBER(m, off, struct fp_family, gauge_mode);
    MAP_MEMBER(m, off, struct fp_family, flags);
    MAP_MEMBER(m, off, struct fp_family, name.off);
    MAP_MEMBER(m, off, struct fp_family, name.len);
    MAP_MEMBER(m, off, struct fp_family, help.off);
    MAP_MEMBER(m, off, struct fp_family, help.len);
    MAP_MEMBER(m, off, struct fp_family, unit.off);
    MAP_MEMBER(m, off, struct fp_family, unit.len);
    MAP_MEMBER(m, off, struct fp_family, nlabels);
    MAP_MEMBER(m, off, struct fp_family, labels_off);
    MAP_MEMBER(m, off, struct fp_family, nbounds);
    MAP_MEMBER(m, off, struct fp_family, bounds_off);
    MAP_MEMBER(m, off, struct fp_family, nstates);
    MAP_MEMBER(m, off, struct fp_family, states_off);
    MAP_MEMBER(m, off, struct fp_family, entry_size);
    MAP_MEMBER(m, off, struct fp_family, max_series);
    map_record(m, f.name.off), map_record(m, f.help.off), map_record(m, f.unit.off), map_record(m, f.bounds_off);
    map_record(m, f.labels_off), map_record(m, f.states_off);
    map_strrefs(m, img, size, f.labels_off, f.nlabels);
    map_strrefs(m, img, size, f.states_off, f.nstates);
}

static inline void map_series(struct image_map *m, const unsigned char *img, size_t size, uint32_t off)
{
    if (off + sizeof(struct fp_series) > size)
        return;
    struct fp_series s;
    memcpy(&s, img + off, sizeof s);
    map_record(m, off);
    MAP_MEMBER(m, off, struct fp_series, state);
    MAP_MEMBER(m, off, struct fp_series, next);
    MAP_MEMBER(m, off, struct fp_series, family);
    MAP_MEMBER(m, off, struct fp_series, id);
    MAP_MEMBER(m, off, struct fp_series, labels_len);
    MAP_MEMBER(m, off, struct fp_series, aux);
    if (off + sizeof s + s.labels_len <= size)
        map_blob(m, img, off + sizeof s, s.labels_len);
    /* An info record hangs off aux; a stateset's aux is a small index. */
    uint32_t aux = atomic_load(&s.aux);
    if (aux > 64 && aux + sizeof(struct fp_info) <= size) {
        map_record(m, aux);
        map_field(m, aux + offsetof(struct fp_info, npairs), 4);
        map_field(m, aux + offsetof(struct fp_info, len), 4);
        uint32_t len = image_u32(img, aux + offsetof(struct fp_info, len));
        if (aux + sizeof(struct fp_info) + len <= size)
            map_blob(m, img, aux + sizeof(struct fp_info), len);
    }
}

/* A chain of value blocks: block headers, entry headers, and the sequence
 * counts and lengths of exemplar records (found through the entry's family). */
static inline void map_chain(struct image_map *m, const unsigned char *img, size_t size, uint32_t block)
{
    const struct fp_header *h = (const struct fp_header *)img;
    for (int n = 0; block && block + FP_BLOCK_SIZE <= size && n < 64; n++) {
        map_record(m, block);
        MAP_MEMBER(m, block, struct fp_block, next);
        MAP_MEMBER(m, block, struct fp_block, used);
        MAP_MEMBER(m, block, struct fp_block, owner);
        uint32_t used = image_u32(img, block + offsetof(struct fp_block, used));
        for (uint32_t pos = sizeof(struct fp_block); used <= FP_BLOCK_SIZE && pos + sizeof(struct fp_entry) <= used;) {
            uint32_t e = block + pos, series = image_u32(img, e), esize = image_u32(img, e + 4);
            if (esize < sizeof(struct fp_entry) || esize > used - pos)
                break;
            map_record(m, e);
            map_field(m, e, 4);
            map_field(m, e + 4, 4);
            if (series == FP_ENTRY_FOLDED) {
                for (uint32_t k = 8; k + 4 <= esize; k += 4)
                    map_field(m, e + k, 4);
            } else if (series && series < h->series_cap) {
                uint32_t rec = image_u32(img, h->series_ids_off + 4 * series);
                uint32_t fam = rec + sizeof(struct fp_series) <= size
                                   ? image_u32(img, rec + offsetof(struct fp_series, family))
                                   : 0;
                if (fam && fam + sizeof(struct fp_family) <= size) {
                    struct fp_family f;
                    memcpy(&f, img + fam, sizeof f);
                    size_t first = 0, n_ex = 0;
                    if ((f.flags & FASTPROM_EXEMPLARS) && f.type == FASTPROM_COUNTER)
                        first = 8 + 8 * FP_COUNTER_CELLS, n_ex = 1;
                    else if ((f.flags & FASTPROM_EXEMPLARS) && f.type == FASTPROM_HISTOGRAM)
                        first = 8 + 8 * ((size_t)f.nbounds + 2), n_ex = f.nbounds + 1;
                    for (size_t k = 0; k < n_ex && first + (k + 1) * sizeof(struct fp_exemplar) <= esize; k++) {
                        size_t x = e + first + k * sizeof(struct fp_exemplar);
                        map_field(m, x + offsetof(struct fp_exemplar, seq), 4);
                        map_field(m, x + offsetof(struct fp_exemplar, len), 4);
                        map_field(m, x + offsetof(struct fp_exemplar, data), 2); /* first label's lengths */
                    }
                }
            }
            pos += esize;
        }
        block = image_u32(img, block + offsetof(struct fp_block, next));
    }
}

/* Fills m from a valid image; returns 0, or -1 if img is not one. */
static inline int image_map_build(struct image_map *m, const unsigned char *img, size_t size)
{
    const struct fp_header *h = (const struct fp_header *)img;
    memset(m, 0, sizeof *m);
    if (size < sizeof *h || h->magic != FP_MAGIC || h->size != size || h->arena_end > size)
        return -1;
    static const size_t header_fields[][2] = {
        {offsetof(struct fp_header, size), 8},           {offsetof(struct fp_header, max_slots), 4},
        {offsetof(struct fp_header, series_cap), 4},     {offsetof(struct fp_header, series_hash_cap), 4},
        {offsetof(struct fp_header, slots_off), 4},      {offsetof(struct fp_header, family_hash_off), 4},
        {offsetof(struct fp_header, series_ids_off), 4}, {offsetof(struct fp_header, arena_off), 4},
        {offsetof(struct fp_header, arena_end), 4},      {offsetof(struct fp_header, meta_top), 4},
        {offsetof(struct fp_header, block_floor), 4},    {offsetof(struct fp_header, free_head), 4},
        {offsetof(struct fp_header, free_count), 4},     {offsetof(struct fp_header, nfamilies), 4},
        {offsetof(struct fp_header, next_series_id), 4}, {offsetof(struct fp_header, retired_head), 4},
        {offsetof(struct fp_header, reclaim_gen), 8},    {offsetof(struct fp_header, fallback_used), 4},
    };
    for (size_t i = 0; i < sizeof header_fields / sizeof *header_fields; i++)
        map_field(m, header_fields[i][0], (unsigned)header_fields[i][1]);
    for (uint32_t i = 0; i < h->max_slots; i++) {
        size_t s = h->slots_off + (size_t)i * sizeof(struct fp_slot);
        MAP_MEMBER(m, s, struct fp_slot, state);
        MAP_MEMBER(m, s, struct fp_slot, gen);
        MAP_MEMBER(m, s, struct fp_slot, pid);
        MAP_MEMBER(m, s, struct fp_slot, flags);
        MAP_MEMBER(m, s, struct fp_slot, head);
        MAP_MEMBER(m, s, struct fp_slot, primary);
        map_chain(m, img, size, image_u32(img, s + offsetof(struct fp_slot, head)));
    }
    map_chain(m, img, size, atomic_load(&h->retired_head));
    for (uint32_t i = 0; i < FP_FAMILY_HASH; i++) {
        uint32_t off = image_u32(img, h->family_hash_off + 4 * i);
        if (off) {
            map_field(m, h->family_hash_off + 4 * i, 4);
            map_family(m, img, size, off);
        }
    }
    for (uint32_t i = 0; i < h->series_hash_cap; i++)
        if (image_u32(img, h->series_hash_off + 4 * i))
            map_field(m, h->series_hash_off + 4 * i, 4);
    uint32_t next_id = atomic_load(&h->next_series_id);
    for (uint32_t id = 1; id < next_id && id < h->series_cap; id++) {
        map_field(m, h->series_ids_off + 4 * id, 4);
        map_series(m, img, size, image_u32(img, h->series_ids_off + 4 * id));
    }
    return 0;
}

/* Regions of the image, for random mutations spread over all of them. */
enum {
    REGION_HEADER,
    REGION_SLOTS,
    REGION_FAMILY_HASH,
    REGION_SERIES_HASH,
    REGION_SERIES_IDS,
    REGION_METADATA,
    REGION_BLOCKS,
    REGION_ANY,
    NREGIONS
};

static inline void image_region(const unsigned char *img, size_t size, int region, size_t *start, size_t *len)
{
    const struct fp_header *h = (const struct fp_header *)img;
    size_t b[NREGIONS][2] = {
        {0, sizeof *h},
        {h->slots_off, (size_t)h->max_slots * sizeof(struct fp_slot)},
        {h->family_hash_off, 4 * (size_t)FP_FAMILY_HASH},
        {h->series_hash_off, 4 * (size_t)h->series_hash_cap},
        {h->series_ids_off, 4 * (size_t)atomic_load(&h->next_series_id)},
        {h->arena_off, atomic_load(&h->meta_top) - h->arena_off},
        {atomic_load(&h->block_floor), h->arena_end - atomic_load(&h->block_floor)},
        {0, size},
    };
    *start = b[region][0];
    *len = b[region][1] ? b[region][1] : 1;
}

#endif
