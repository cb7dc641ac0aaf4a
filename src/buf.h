/*
 * buf.h - appending to a fastprom_buf_t. Renderers write through these; an
 * allocation failure is sticky (fp_buf_failed) so a renderer checks once at
 * the end instead of after every append.
 */
#ifndef FASTPROM_BUF_H
#define FASTPROM_BUF_H

#include <stddef.h>
#include <string.h>

#include "fastprom.h"

typedef struct fp_out {
    fastprom_buf_t *buf;
    size_t start; /* length on entry: restored on failure */
    int failed;
} fp_out_t;

void fp_out_begin(fp_out_t *o, fastprom_buf_t *buf);
/* Ensures room for n more bytes; returns a pointer to write them or NULL. */
char *fp_out_reserve(fp_out_t *o, size_t n);
static inline void fp_out_commit(fp_out_t *o, size_t n)
{
    o->buf->len += n;
}
void fp_out_mem(fp_out_t *o, const void *p, size_t n);
static inline void fp_out_str(fp_out_t *o, const char *s)
{
    fp_out_mem(o, s, strlen(s));
}
void fp_out_char(fp_out_t *o, char c);
/* Returns 0, or ENOMEM after restoring the buffer's length on entry. */
int fp_out_end(fp_out_t *o);

#endif
