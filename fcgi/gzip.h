/*
 * gzip.h - gzip-encoding response bodies with zlib. One encoder per worker
 * thread: deflate's ~270 KB of state is allocated once and reset per
 * response instead of per request.
 */
#ifndef FCGI_GZIP_H
#define FCGI_GZIP_H

#include <stddef.h>

typedef struct fcgi_gzip fcgi_gzip_t;

fcgi_gzip_t *fcgi_gzip_new(void);
void fcgi_gzip_free(fcgi_gzip_t *gz);

/*
 * Compresses in[0..len) at level (1..9) into the encoder's buffer; *out and
 * *out_len stay valid until the next call. Returns 0, or -1 when zlib or
 * memory fails (the caller then sends the identity body).
 */
int fcgi_gzip_encode(fcgi_gzip_t *gz, const char *in, size_t len, int level, const char **out, size_t *out_len);

/* Gives back the output buffer's memory when it is much larger than the
 * last response needed (after a one-off huge scrape). */
void fcgi_gzip_trim(fcgi_gzip_t *gz);

#endif
