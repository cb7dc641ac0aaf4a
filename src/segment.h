/*
 * segment.h - the segment file: creating it, mapping it into a handle,
 * unmapping it, and bounds-checked access to what is mapped.
 */
#ifndef FASTPROM_SEGMENT_H
#define FASTPROM_SEGMENT_H

#include <stdint.h>

#include "handle.h"
#include "options.h"

/* Opens (creating it unless fp->flags forbid) or privately builds the
 * segment r describes, maps it and opens the descriptors a handle needs;
 * fills fp->fd, base, size, hdr, geo, dev, ino, probe_fd and lock_fd. On
 * failure what was set up stays in fp for fp_segment_unmap. */
int fp_segment_map(fastprom_t *fp, const struct fp_resolved *r, fastprom_error_t *err);
/* Undoes fp_segment_map, however far it got (fds of -1, base NULL). */
void fp_segment_unmap(fastprom_t *fp);

/* Bounds-checked pointer to n bytes at off, or NULL. */
static inline void *fp_at(const fastprom_t *fp, uint64_t off, uint64_t n)
{
    if (off == 0 || off > fp->size || n > fp->size - off)
        return NULL;
    return fp->base + off;
}

/* Like fp_at for a record or an array of numbers: also 8-byte aligned, as
 * the metadata allocator places them (a misaligned one is corrupt). */
static inline void *fp_rec(const fastprom_t *fp, uint64_t off, uint64_t n)
{
    return off % 8 ? NULL : fp_at(fp, off, n);
}

#endif
