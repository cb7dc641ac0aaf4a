/*
 * alloc.h - the two allocators inside a segment's arena: metadata (family
 * and series records, strings) bumped up from the bottom, 16 KiB value
 * blocks carved down from the top and recycled through a free list.
 *
 * Every function but fp_block_valid runs under the segment lock (lock.h).
 */
#ifndef FASTPROM_ALLOC_H
#define FASTPROM_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "handle.h"

/* n zeroed bytes, 8-aligned; the offset, or 0 when the arena is full. */
uint32_t fp_meta_alloc(fastprom_t *fp, size_t n);
/* An empty block owned by (owner, gen); its offset, or 0 when full. */
uint32_t fp_block_alloc(fastprom_t *fp, uint32_t owner, uint32_t gen);
void fp_block_free(fastprom_t *fp, uint32_t off);
/* Frees every block of the chain at head, stopping at a bad offset. */
void fp_chain_free(fastprom_t *fp, uint32_t head);
/* Whether off is the start of a carved block (no lock needed). */
bool fp_block_valid(const fastprom_t *fp, uint32_t off);
/* Bounds walks of block chains: more steps than this is a cycle. */
static inline uint32_t fp_max_blocks(const fastprom_t *fp)
{
    return (fp->geo.arena_end - fp->geo.arena_off) / FP_BLOCK_SIZE + 1;
}

#endif
