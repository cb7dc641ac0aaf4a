/*
 * chain.h - walking a chain of value blocks (a writer slot's, or the retained
 * totals') entry by entry, checking every offset and size on the way. Both
 * the reader and the folder use it: neither may follow a bad offset.
 */
#ifndef FASTPROM_CHAIN_H
#define FASTPROM_CHAIN_H

#include "alloc.h"
#include "handle.h"

struct fp_chain {
    const fastprom_t *fp;
    uint32_t block;       /* current block, 0 at the end */
    uint32_t pos, used;   /* within the current block */
    uint32_t blocks_left; /* bounds the walk: a cycle is an error */
    int corrupt;
};

static inline void fp_chain_enter(struct fp_chain *c, uint32_t block)
{
    c->block = block;
    c->pos = (uint32_t)sizeof(struct fp_block);
    c->used = 0;
    if (!block)
        return;
    if (!c->blocks_left-- || !fp_block_valid(c->fp, block)) {
        c->corrupt = 1;
        c->block = 0;
        return;
    }
    const struct fp_block *b = (const struct fp_block *)(c->fp->base + block);
    c->used = atomic_load_explicit(&b->used, memory_order_acquire);
    if (c->used < sizeof(struct fp_block) || c->used > FP_BLOCK_SIZE) {
        c->corrupt = 1;
        c->block = 0;
    }
}

static inline void fp_chain_begin(struct fp_chain *c, const fastprom_t *fp, uint32_t head)
{
    c->fp = fp;
    c->corrupt = 0;
    c->blocks_left = fp_max_blocks(fp);
    fp_chain_enter(c, head);
}

/* The next complete entry, or NULL at the end (check c->corrupt). */
static inline const struct fp_entry *fp_chain_next(struct fp_chain *c)
{
    while (c->block) {
        if (c->used - c->pos >= sizeof(struct fp_entry)) {
            const struct fp_entry *e = (const struct fp_entry *)(c->fp->base + c->block + c->pos);
            uint32_t size = e->size;
            if (size < sizeof *e || size % 8 || size > c->used - c->pos) {
                c->corrupt = 1;
                c->block = 0;
                return NULL;
            }
            c->pos += size;
            return e;
        }
        const struct fp_block *b = (const struct fp_block *)(c->fp->base + c->block);
        fp_chain_enter(c, atomic_load_explicit(&b->next, memory_order_acquire));
    }
    return NULL;
}

#endif
