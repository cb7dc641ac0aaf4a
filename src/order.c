/*
 * order.c - remembered series orders (see order.h): sorting a family's
 * series by label values, validating and copying the values once, and
 * sharing the result between snapshots by reference count.
 */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "names.h"
#include "order.h"

int fp_labels_check(struct pass *p, const unsigned char *blob, uint32_t len, uint32_t n, fp_str_t *out,
                    bool names_every_other)
{
    size_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *v;
        size_t vl;
        enum fp_found found = fp_labels_next(blob, len, &pos, &v, &vl);
        if (found == FP_ABSENT)
            return fp_pass_corrupt(p, "a series has fewer label values than its family has labels");
        if (found == FP_CORRUPT)
            return fp_pass_corrupt(p, "encoded label values are truncated");
        int ok = names_every_other && i % 2 == 0 ? fp_valid_label_name(v, vl) : fp_utf8_invalid_at(v, vl) < 0;
        if (!ok)
            return fp_pass_corrupt(p, "a label value is not valid UTF-8");
        out[i].ptr = v;
        out[i].len = (uint32_t)vl;
    }
    return pos == len ? 0 : fp_pass_corrupt(p, "encoded label values have trailing bytes");
}

/* Orders series records by their label values, value by value. The blobs
 * are not validated yet: a value fp_labels_next does not find compares as
 * empty, and fp_labels_check refuses such a blob afterwards. */
static int record_cmp(const void *x, const void *y, void *nlabels)
{
    const struct fp_series *a = *(const struct fp_series *const *)x, *b = *(const struct fp_series *const *)y;
    size_t pa = 0, pb = 0;
    for (size_t i = 0; i < *(const uint32_t *)nlabels; i++) {
        const char *va = "", *vb = "";
        size_t la = 0, lb = 0;
        fp_labels_next(a->labels, a->labels_len, &pa, &va, &la);
        fp_labels_next(b->labels, b->labels_len, &pb, &vb, &lb);
        int c = memcmp(va, vb, la < lb ? la : lb);
        if (c || la != lb)
            return c ? c : (la > lb) - (la < lb);
    }
    return 0;
}

static void release(struct fp_order *o)
{
    if (o && --o->refs == 0)
        fp_free(o);
}

/* One allocation: the order, its record pointers, its label strings and
 * the copied label bytes. */
static struct fp_order *build(struct pass *p, uint32_t family, uint32_t nlabels, const struct fp_series **recs,
                              uint32_t n, uint64_t fingerprint)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += recs[i]->labels_len;
    size_t head = sizeof(struct fp_order), rec_bytes = (size_t)n * sizeof *recs,
           label_bytes = (size_t)n * nlabels * sizeof(fp_str_t);
    struct fp_order *o = fp_malloc(head + rec_bytes + label_bytes + bytes + 1);
    if (!o) {
        fp_pass_nomem(p);
        return NULL;
    }
    o->refs = 1;
    o->family = family;
    o->n = n;
    o->nlabels = nlabels;
    o->fingerprint = fingerprint;
    o->recs = (const struct fp_series **)(o + 1);
    o->labels = (fp_str_t *)((char *)o->recs + rec_bytes);
    unsigned char *data = (unsigned char *)o->labels + label_bytes;
    memcpy(o->recs, recs, rec_bytes);
    qsort_r(o->recs, n, sizeof *o->recs, record_cmp, &o->nlabels);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = o->recs[i]->labels_len;
        memcpy(data, o->recs[i]->labels, len);
        if (fp_labels_check(p, data, len, nlabels, &o->labels[(size_t)i * nlabels], false)) {
            fp_free(o);
            return NULL;
        }
        data += len;
    }
    return o;
}

struct fp_order *fp_order_get(struct pass *p, uint32_t family, uint32_t nlabels, const struct fp_series **recs,
                              uint32_t n, uint64_t fingerprint)
{
    fastprom_t *fp = p->fp;
    pthread_mutex_lock(&fp->order_mu);
    struct fp_order **slot = fp->orders ? &fp->orders[(family >> 3) % FP_ORDER_CACHE] : NULL;
    struct fp_order *o = slot ? *slot : NULL;
    if (o && o->family == family && o->n == n && o->nlabels == nlabels && o->fingerprint == fingerprint) {
        o->refs++;
        pthread_mutex_unlock(&fp->order_mu);
        return o;
    }
    pthread_mutex_unlock(&fp->order_mu);
    /* Built outside the lock: sorting a large family takes milliseconds. */
    if (!(o = build(p, family, nlabels, recs, n, fingerprint)))
        return NULL;
    pthread_mutex_lock(&fp->order_mu);
    if (!fp->orders)
        fp->orders = fp_calloc(FP_ORDER_CACHE, sizeof *fp->orders);
    if (fp->orders) {
        slot = &fp->orders[(family >> 3) % FP_ORDER_CACHE];
        release(*slot);
        *slot = o;
        o->refs++; /* the cache's reference */
    }
    pthread_mutex_unlock(&fp->order_mu);
    return o;
}

void fp_order_put(fastprom_t *fp, struct fp_order *o)
{
    pthread_mutex_lock(&fp->order_mu);
    release(o);
    pthread_mutex_unlock(&fp->order_mu);
}

void fp_order_cache_free(fastprom_t *fp)
{
    for (int i = 0; fp->orders && i < FP_ORDER_CACHE; i++)
        release(fp->orders[i]);
    fp_free(fp->orders);
    fp->orders = NULL;
}
