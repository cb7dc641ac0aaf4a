/*
 * str.h - fp_str_t, a byte string the reader copied out of the segment and
 * validated; what snapshots, orders and renderers pass around.
 */
#ifndef FASTPROM_STR_H
#define FASTPROM_STR_H

#include <stdint.h>

/* Valid UTF-8 (or a valid name, where the field says so); may hold NUL. */
typedef struct fp_str {
    const char *ptr;
    uint32_t len;
} fp_str_t;

#endif
