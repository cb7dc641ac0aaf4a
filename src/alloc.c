/*
 * alloc.c - the metadata bump allocator and the value-block allocator of a
 * segment (callers hold the segment lock).
 *
 * The two grow towards each other: meta_top up from arena_off, block_floor
 * down from arena_end. Freed blocks go to a free list; metadata is never
 * freed (families and series records live as long as the segment).
 */
#include <stdbool.h>
#include <string.h>

#include "alloc.h"

uint32_t fp_meta_alloc(fastprom_t *fp, size_t n)
{
    struct fp_header *h = fp->hdr;
    uint32_t top = atomic_load_explicit(&h->meta_top, memory_order_relaxed);
    uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_relaxed);
    n = (n + 7) & ~(size_t)7;
    if (top < fp->geo.arena_off || top > floor || n > floor - top)
        return 0;
    memset(fp->base + top, 0, n);
    atomic_store_explicit(&h->meta_top, top + (uint32_t)n, memory_order_release);
    return top;
}

bool fp_block_valid(const fastprom_t *fp, uint32_t off)
{
    const struct fp_header *h = fp->hdr;
    uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_acquire);
    return off >= floor && off >= fp->geo.arena_off && off < fp->geo.arena_end &&
           (fp->geo.arena_end - off) % FP_BLOCK_SIZE == 0;
}

uint32_t fp_block_alloc(fastprom_t *fp, uint32_t owner, uint32_t gen)
{
    struct fp_header *h = fp->hdr;
    uint32_t off = atomic_load_explicit(&h->free_head, memory_order_relaxed);
    if (off && fp_block_valid(fp, off)) {
        struct fp_block *b = (struct fp_block *)(fp->base + off);
        atomic_store_explicit(&h->free_head, atomic_load_explicit(&b->next, memory_order_relaxed),
                              memory_order_relaxed);
        atomic_fetch_sub_explicit(&h->free_count, 1, memory_order_relaxed);
    } else {
        /* A bad free list (possible only after corruption) is abandoned
         * rather than followed; repair rebuilds it. */
        if (off)
            atomic_store_explicit(&h->free_head, 0, memory_order_relaxed);
        uint32_t floor = atomic_load_explicit(&h->block_floor, memory_order_relaxed);
        uint32_t top = atomic_load_explicit(&h->meta_top, memory_order_relaxed);
        if (floor < top || floor - top < FP_BLOCK_SIZE)
            return 0;
        off = floor - FP_BLOCK_SIZE;
        atomic_store_explicit(&h->block_floor, off, memory_order_release);
    }
    struct fp_block *b = (struct fp_block *)(fp->base + off);
    memset((unsigned char *)b + sizeof *b, 0, FP_BLOCK_SIZE - sizeof *b);
    b->owner = owner;
    b->owner_gen = gen;
    atomic_store_explicit(&b->next, 0, memory_order_relaxed);
    atomic_store_explicit(&b->used, (uint32_t)sizeof *b, memory_order_release);
    return off;
}

void fp_block_free(fastprom_t *fp, uint32_t off)
{
    struct fp_header *h = fp->hdr;
    struct fp_block *b = (struct fp_block *)(fp->base + off);
    b->owner = FP_OWNER_FREE;
    atomic_store_explicit(&b->used, (uint32_t)sizeof *b, memory_order_relaxed);
    atomic_store_explicit(&b->next, atomic_load_explicit(&h->free_head, memory_order_relaxed), memory_order_relaxed);
    atomic_store_explicit(&h->free_head, off, memory_order_release);
    atomic_fetch_add_explicit(&h->free_count, 1, memory_order_relaxed);
}

void fp_chain_free(fastprom_t *fp, uint32_t head)
{
    uint32_t left = fp_max_blocks(fp);
    while (head && left-- && fp_block_valid(fp, head)) {
        struct fp_block *b = (struct fp_block *)(fp->base + head);
        uint32_t next = atomic_load(&b->next);
        fp_block_free(fp, head);
        head = next;
    }
}
