/*
 * order.h - each family's live series in sorted order, with their label
 * values validated and copied out of the segment, remembered per handle
 * between snapshots: a scrape of a family whose series did not change
 * neither sorts nor decodes nor validates again (that work was most of a
 * large render).
 *
 * An order is immutable once built and reference-counted: a snapshot holds
 * the orders it points into until fp_snapshot_free, even if a newer
 * snapshot replaced them in the handle's cache meanwhile.
 */
#ifndef FASTPROM_ORDER_H
#define FASTPROM_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "handle.h"
#include "merge.h"
#include "str.h"

struct fp_order {
    uint32_t refs; /* under fp->order_mu */
    uint32_t family;
    uint32_t n, nlabels;
    uint64_t fingerprint;
    const struct fp_series **recs; /* sorted */
    fp_str_t *labels;              /* n * nlabels, in recs' order */
};

/*
 * Splits an encoded blob of n values into out[] (pointing into blob) and
 * validates them: UTF-8 values, or, with names_every_other, alternating
 * label names and values (info pairs). Returns 0, or fails the pass p.
 */
int fp_labels_check(struct pass *p, const unsigned char *blob, uint32_t len, uint32_t n, fp_str_t *out,
                    bool names_every_other);

/*
 * The order of recs, the family's live series in list order (fingerprint
 * identifies that list), for the pass p over p->fp. Returns a reference to
 * release with fp_order_put, or NULL having failed the pass (corrupt label
 * values, or out of memory).
 */
struct fp_order *fp_order_get(struct pass *p, uint32_t family, uint32_t nlabels, const struct fp_series **recs,
                              uint32_t n, uint64_t fingerprint);
void fp_order_put(fastprom_t *fp, struct fp_order *o);
/* Drops the handle's cache (fastprom_close). */
void fp_order_cache_free(fastprom_t *fp);

#endif
