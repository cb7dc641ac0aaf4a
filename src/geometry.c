/*
 * geometry.c - computing a segment's layout from its size and slot count,
 * and checking a header against it.
 */
#include <stdbool.h>
#include <string.h>

#include "error.h"
#include "geometry.h"

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

bool fp_geometry_compute(uint64_t size, uint32_t max_slots, uint32_t family_limit, struct fp_geometry *g)
{
    if (size < FASTPROM_MIN_SIZE || size > FASTPROM_MAX_SIZE || size % 4096 || max_slots == 0 ||
        max_slots > FP_MAX_SLOTS)
        return false;
    memset(g, 0, sizeof *g);
    g->size = size;
    g->max_slots = max_slots;
    g->family_limit = family_limit;
    uint64_t cap = size / FP_BYTES_PER_SERIES;
    g->series_cap = (uint32_t)(cap < 64 ? 64 : cap > (1u << 24) ? (1u << 24) : cap);
    g->series_hash_cap = pow2_at_least(g->series_cap * 2);
    g->slots_off = FP_HEADER_REGION;
    g->family_hash_off = g->slots_off + max_slots * (uint32_t)sizeof(struct fp_slot);
    g->series_hash_off = g->family_hash_off + FP_FAMILY_HASH * 4;
    g->series_ids_off = g->series_hash_off + g->series_hash_cap * 4;
    uint64_t arena = ((uint64_t)g->series_ids_off + (uint64_t)g->series_cap * 4 + 63) & ~(uint64_t)63;
    uint64_t end = size - size % FP_BLOCK_SIZE;
    if (arena + 4 * (uint64_t)FP_BLOCK_SIZE + 65536 > end)
        return false;
    g->arena_off = (uint32_t)arena;
    g->arena_end = (uint32_t)end;
    return true;
}

void fp_geometry_store(struct fp_header *h, const struct fp_geometry *g)
{
    h->size = g->size;
    h->max_slots = g->max_slots;
    h->family_hash_cap = FP_FAMILY_HASH;
    h->series_cap = g->series_cap;
    h->series_hash_cap = g->series_hash_cap;
    h->family_limit = g->family_limit;
    h->slots_off = g->slots_off;
    h->family_hash_off = g->family_hash_off;
    h->series_hash_off = g->series_hash_off;
    h->series_ids_off = g->series_ids_off;
    h->arena_off = g->arena_off;
    h->arena_end = g->arena_end;
}

void fp_geometry_load(const struct fp_header *h, struct fp_geometry *g)
{
    *g = (struct fp_geometry){.size = h->size,
                              .max_slots = h->max_slots,
                              .series_cap = h->series_cap,
                              .series_hash_cap = h->series_hash_cap,
                              .family_limit = h->family_limit,
                              .slots_off = h->slots_off,
                              .family_hash_off = h->family_hash_off,
                              .series_hash_off = h->series_hash_off,
                              .series_ids_off = h->series_ids_off,
                              .arena_off = h->arena_off,
                              .arena_end = h->arena_end};
}

bool fp_geometry_equal(const struct fp_geometry *a, const struct fp_geometry *b)
{
    return a->size == b->size && a->max_slots == b->max_slots && a->series_cap == b->series_cap &&
           a->series_hash_cap == b->series_hash_cap && a->family_limit == b->family_limit &&
           a->slots_off == b->slots_off && a->family_hash_off == b->family_hash_off &&
           a->series_hash_off == b->series_hash_off && a->series_ids_off == b->series_ids_off &&
           a->arena_off == b->arena_off && a->arena_end == b->arena_end;
}

int fp_header_validate(const struct fp_header *h, uint64_t file_size, fastprom_error_t *err)
{
    if (file_size < FP_HEADER_REGION || h->magic != FP_MAGIC)
        return fp_fail(err, FASTPROM_ECORRUPT, "not a fastprom segment (bad magic or too small)");
    if (h->layout_version != FP_LAYOUT_VERSION)
        return fp_fail(err, FASTPROM_EVERSION,
                       "segment has layout version %u, this library reads version %u; "
                       "stop its writers and delete it, or run a fastprom built for version %u",
                       h->layout_version, FP_LAYOUT_VERSION, h->layout_version);
    if (h->header_size != sizeof(struct fp_header) || h->block_size != FP_BLOCK_SIZE)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header size or block size differs from this build's");
    if (h->size != file_size)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header says %llu bytes but the file has %llu",
                       (unsigned long long)h->size, (unsigned long long)file_size);
    struct fp_geometry want, have;
    fp_geometry_load(h, &have);
    if (!fp_geometry_compute(h->size, h->max_slots, h->family_limit, &want) || !fp_geometry_equal(&want, &have) ||
        h->family_hash_cap != FP_FAMILY_HASH)
        return fp_fail(err, FASTPROM_ECORRUPT, "segment header regions are inconsistent");
    return 0;
}
