/*
 * names.h - what a valid metric name, label name and label value is, and how
 * label values are encoded inside the segment. Writers validate with these
 * before anything enters the segment; the reader re-validates with the same
 * functions, because it never trusts the segment.
 */
#ifndef FASTPROM_NAMES_H
#define FASTPROM_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
int fp_valid_metric_name(const char *s, size_t n);
/* [a-zA-Z_][a-zA-Z0-9_]* */
int fp_valid_label_name(const char *s, size_t n);
/* Well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns -1
 * when valid, else the offset of the first bad byte. */
long fp_utf8_invalid_at(const char *s, size_t n);

/* The suffixes the exposition adds to a family's name for its samples, by
 * fastprom_type_t ("" first: the name itself; NULL-terminated). Used to
 * refuse families whose samples would collide and to match name[] filters. */
extern const char *const fp_sample_suffixes[7][6];

/* FNV-1a, 32 bits; seeded so family and series hashes differ. */
uint32_t fp_hash(uint32_t seed, const void *p, size_t n);

/* Encoded label values: for each value a little-endian u16 length and the
 * bytes. Returns the encoded size for these lengths. */
size_t fp_labels_encoded_size(const size_t *lens, size_t n);
void fp_labels_encode(unsigned char *out, const char *const *values, const size_t *lens, size_t n);
/* Walks an encoded blob (which may come from the segment: never trusted).
 * FP_FOUND: the value at *pos is in *value and *len, *pos is past it.
 * FP_ABSENT: *pos is at the end, no value is left. FP_CORRUPT: half a
 * length, a value cut short, or *pos past the end. *pos moves only on
 * FP_FOUND. */
enum fp_found fp_labels_next(const unsigned char *blob, size_t blob_len, size_t *pos, const char **value, size_t *len);

#endif
