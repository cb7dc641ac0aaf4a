/*
 * gzip.c - the per-thread gzip encoder (gzip.h). The whole body is in memory
 * already, so deflate() runs with Z_FINISH into the output buffer, which
 * starts at a fraction of the input (expositions compress 10-20x) and
 * doubles only when that is not enough: a deflateBound()-sized buffer would
 * cost each thread as much memory as the identity body.
 */
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST /* next_in is const: the body is only read */
#include <zlib.h>

#include "gzip.h"

#define TRIM_ABOVE (1u << 20)
#define MIN_OUTPUT (64u << 10)

struct fcgi_gzip {
    z_stream zs;
    int ready; /* zs initialised */
    int level;
    unsigned char *buf;
    size_t cap;
    size_t last_len;
};

fcgi_gzip_t *fcgi_gzip_new(void)
{
    return calloc(1, sizeof(fcgi_gzip_t));
}

void fcgi_gzip_free(fcgi_gzip_t *gz)
{
    if (!gz)
        return;
    if (gz->ready)
        deflateEnd(&gz->zs);
    free(gz->buf);
    free(gz);
}

static int prepare(fcgi_gzip_t *gz, int level)
{
    if (gz->ready && gz->level == level)
        return deflateReset(&gz->zs) == Z_OK ? 0 : -1;
    if (gz->ready)
        deflateEnd(&gz->zs);
    memset(&gz->zs, 0, sizeof gz->zs);
    gz->ready = 0;
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
    if (deflateInit2(&gz->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    gz->ready = 1;
    gz->level = level;
    return 0;
}

static int grow(fcgi_gzip_t *gz, size_t cap)
{
    unsigned char *grown = realloc(gz->buf, cap);
    if (!grown)
        return -1;
    gz->buf = grown;
    gz->cap = cap;
    return 0;
}

int fcgi_gzip_encode(fcgi_gzip_t *gz, const char *in, size_t len, int level, const char **out, size_t *out_len)
{
    if (len > 0xFFFFFFFFu || prepare(gz, level) != 0) /* avail_in is a uInt */
        return -1;
    size_t want = len / 8 > MIN_OUTPUT ? len / 8 : MIN_OUTPUT;
    if (gz->cap < want && grow(gz, want) != 0)
        return -1;
    gz->zs.next_in = (const Bytef *)in;
    gz->zs.avail_in = (uInt)len;
    size_t done = 0;
    for (;;) {
        gz->zs.next_out = gz->buf + done;
        gz->zs.avail_out = (uInt)(gz->cap - done > 0xFFFFFFFFu ? 0xFFFFFFFFu : gz->cap - done);
        int rc = deflate(&gz->zs, Z_FINISH);
        done = (size_t)(gz->zs.next_out - gz->buf);
        if (rc == Z_STREAM_END)
            break;
        if ((rc != Z_OK && rc != Z_BUF_ERROR) || gz->cap > ((size_t)-1) / 2 || grow(gz, gz->cap * 2) != 0)
            return -1;
    }
    *out = (const char *)gz->buf;
    *out_len = gz->last_len = done;
    return 0;
}

void fcgi_gzip_trim(fcgi_gzip_t *gz)
{
    if (gz->cap > TRIM_ABOVE && gz->cap > 4 * gz->last_len) {
        free(gz->buf);
        gz->buf = NULL;
        gz->cap = 0;
    }
}
