/*
 * records.c - looking up registry records in the segment (records.h).
 */
#include "records.h"
#include "sketch.h"

const struct fp_series *fp_series_rec(const fastprom_t *fp, uint32_t id)
{
    if (id == 0 || id >= fp->geo.series_cap)
        return NULL;
    uint32_t off = atomic_load_explicit(&fp_series_ids(fp)[id], memory_order_acquire);
    const struct fp_series *s = fp_rec(fp, off, sizeof *s);
    if (!s || s->id != id || !fp_at(fp, off + sizeof *s, s->labels_len))
        return NULL;
    return s;
}

uint32_t fp_entry_size(fastprom_type_t type, uint32_t nbounds, unsigned flags)
{
    uint32_t ex = (flags & FASTPROM_EXEMPLARS) ? (uint32_t)sizeof(struct fp_exemplar) : 0;
    switch (type) {
    case FASTPROM_COUNTER: return (uint32_t)sizeof(struct fp_entry) + 8 * FP_COUNTER_CELLS + ex;
    case FASTPROM_GAUGE: return (uint32_t)sizeof(struct fp_entry) + 8 * FP_GAUGE_CELLS;
    case FASTPROM_HISTOGRAM: return (uint32_t)sizeof(struct fp_entry) + 8 * (nbounds + 1) + 8 + ex * (nbounds + 1);
    case FASTPROM_SUMMARY:
        return (uint32_t)sizeof(struct fp_entry) + 16 + (nbounds ? (uint32_t)sizeof(struct fp_sketch) : 0);
    default: return 0;
    }
}
