/*
 * names.c - name and label validation, UTF-8 checking, label encoding and
 * the hash used by the segment's lookup tables.
 */
#include <string.h>

#include "names.h"

static int name_start(unsigned char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int name_rest(unsigned char c, int colon)
{
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

static int valid_name(const char *s, size_t n, int colon)
{
    if (n == 0 || !name_start((unsigned char)s[0], colon))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!name_rest((unsigned char)s[i], colon))
            return 0;
    return 1;
}

int fp_valid_metric_name(const char *s, size_t n)
{
    return valid_name(s, n, 1);
}
int fp_valid_label_name(const char *s, size_t n)
{
    return valid_name(s, n, 0);
}

long fp_utf8_invalid_at(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        /* Label values are mostly ASCII: skip eight such bytes at a time. */
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return (long)i;
        }
        if (n - i < len)
            return (long)i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return (long)i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return (long)i;
        i += len;
    }
    return -1;
}

const char *const fp_sample_suffixes[7][6] = {
    {NULL},
    {"", "_total", "_created", NULL},
    {"", NULL},
    {"", "_bucket", "_count", "_sum", "_created", NULL},
    {"", "_count", "_sum", "_created", NULL},
    {"", "_info", NULL},
    {"", NULL},
};

uint32_t fp_hash(uint32_t seed, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    /* Finalise so linear probing sees the low bits well mixed. */
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    return h;
}

size_t fp_labels_encoded_size(const size_t *lens, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 2 + lens[i];
    return total;
}

void fp_labels_encode(unsigned char *out, const char *const *values, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[0] = (unsigned char)(lens[i] & 0xFF);
        out[1] = (unsigned char)(lens[i] >> 8);
        if (lens[i])
            memcpy(out + 2, values[i], lens[i]);
        out += 2 + lens[i];
    }
}

enum fp_found fp_labels_next(const unsigned char *blob, size_t blob_len, size_t *pos, const char **value, size_t *len)
{
    if (*pos == blob_len)
        return FP_ABSENT;
    if (*pos > blob_len || blob_len - *pos < 2)
        return FP_CORRUPT;
    size_t l = (size_t)blob[*pos] | ((size_t)blob[*pos + 1] << 8);
    if (blob_len - *pos - 2 < l)
        return FP_CORRUPT;
    *value = (const char *)blob + *pos + 2;
    *len = l;
    *pos += 2 + l;
    return FP_FOUND;
}
