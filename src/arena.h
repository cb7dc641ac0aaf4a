/*
 * arena.h - a bump allocator for snapshots: one free() releases everything a
 * snapshot copied out of the segment.
 */
#ifndef FASTPROM_ARENA_H
#define FASTPROM_ARENA_H

#include <stddef.h>

struct fp_arena;

struct fp_arena *fp_arena_new(void);
void fp_arena_free(struct fp_arena *a);
/* Zeroed, 16-byte aligned; NULL on out of memory. */
void *fp_arena_alloc(struct fp_arena *a, size_t n);
/* Copies n bytes and NUL-terminates the copy. */
char *fp_arena_strndup(struct fp_arena *a, const char *s, size_t n);

#endif
