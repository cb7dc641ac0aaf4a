/*
 * records.h - finding the registry's records in a segment: the family hash,
 * the series hash and id table, a series record by id, and the size of a
 * family's value entries. Read-only and lock-free; used by the registry
 * (registry.c, series.c), the folder, repair and the reader alike.
 */
#ifndef FASTPROM_RECORDS_H
#define FASTPROM_RECORDS_H

#include <stdint.h>

#include "handle.h"
#include "segment.h"

static inline _Atomic uint32_t *fp_family_table(const fastprom_t *fp)
{
    return (_Atomic uint32_t *)(fp->base + fp->geo.family_hash_off);
}

static inline _Atomic uint32_t *fp_series_table(const fastprom_t *fp)
{
    return (_Atomic uint32_t *)(fp->base + fp->geo.series_hash_off);
}

static inline _Atomic uint32_t *fp_series_ids(const fastprom_t *fp)
{
    return (_Atomic uint32_t *)(fp->base + fp->geo.series_ids_off);
}

/* The series record of id, bounds-checked (labels included), or NULL. */
const struct fp_series *fp_series_rec(const fastprom_t *fp, uint32_t id);

/* Bytes of one value entry of a family (fp_entry header included). */
uint32_t fp_entry_size(fastprom_type_t type, uint32_t nbounds, unsigned flags);

/* Modes that forget a process's gauge value when it dies. */
static inline int fp_gauge_mode_is_live(uint32_t mode)
{
    return mode == FASTPROM_GAUGE_LIVESUM || mode == FASTPROM_GAUGE_LIVEALL || mode == FASTPROM_GAUGE_LIVEMAX ||
           mode == FASTPROM_GAUGE_LIVEMIN || mode == FASTPROM_GAUGE_LIVEMOSTRECENT;
}

#endif
