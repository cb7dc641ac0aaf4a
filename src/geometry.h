/*
 * geometry.h - where each region of a segment lies, as one struct.
 *
 * The whole layout follows from (size, max_slots): the creator computes it
 * and writes it into the header; an attacher reads it back, recomputes it
 * and refuses a header that disagrees. A handle keeps the copy it validated
 * and never re-reads these numbers from shared memory, where another
 * process could change them after the check.
 */
#ifndef FASTPROM_GEOMETRY_H
#define FASTPROM_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "fastprom.h"
#include "layout.h"

struct fp_geometry {
    uint64_t size;
    uint32_t max_slots, series_cap, series_hash_cap, family_limit;
    uint32_t slots_off, family_hash_off, series_hash_off, series_ids_off, arena_off, arena_end;
};

/* The layout of a segment of size bytes with max_slots writer slots; false
 * when no valid segment has that size and slot count. */
bool fp_geometry_compute(uint64_t size, uint32_t max_slots, uint32_t family_limit, struct fp_geometry *g);
/* Copies g into the header fields that describe it, and back. */
void fp_geometry_store(struct fp_header *h, const struct fp_geometry *g);
void fp_geometry_load(const struct fp_header *h, struct fp_geometry *g);
bool fp_geometry_equal(const struct fp_geometry *a, const struct fp_geometry *b);

/* Checks a private copy of a header against the file it came from: magic,
 * version, sizes and a geometry that matches its own recomputation. */
int fp_header_validate(const struct fp_header *h, uint64_t file_size, fastprom_error_t *err);

#endif
