/*
 * jsonpos.h - where a member sits in JSON text. jansson reports line and
 * column only for syntax errors; a configuration error about a key that
 * parsed fine (unknown key, wrong type) still deserves a position, so this
 * re-scans the (already valid) text for it.
 */
#ifndef FCGI_JSONPOS_H
#define FCGI_JSONPOS_H

#include <stddef.h>

typedef struct fcgi_json_pos {
    int line;   /* 1-based */
    int column; /* 1-based, in characters as jansson counts them */
} fcgi_json_pos_t;

/*
 * Finds the member named path[depth-1] in the object reached from the
 * top-level object through the members path[0..depth-2]. text must be valid
 * JSON. Fills *key with the position of the member's key and *value with the
 * position of its value. Returns 0, or -1 when there is no such member.
 */
int fcgi_json_locate(const char *text, size_t len, const char *const *path, size_t depth, fcgi_json_pos_t *key,
                     fcgi_json_pos_t *value);

#endif
