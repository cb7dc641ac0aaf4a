/*
 * arena.h - a bump allocator for snapshots: one free() releases everything a
 * snapshot copied out of the segment, and the memory is kept for the next
 * one.
 */
#ifndef FASTPROM_ARENA_H
#define FASTPROM_ARENA_H

#include <stddef.h>

struct fp_arena;

struct fp_arena *fp_arena_new(void);
void fp_arena_free(struct fp_arena *a);
/* Zeroed, 16-byte aligned; NULL on out of memory. */
void *fp_arena_alloc(struct fp_arena *a, size_t n);
/* Like fp_arena_alloc without the zeroing, for memory the caller fills. */
void *fp_arena_alloc_raw(struct fp_arena *a, size_t n);
/* Forgets every allocation but keeps the memory, as one chunk as large as
 * everything used so far: the next snapshot of a similar segment then
 * touches no fresh pages (page faults dominated repeated scrapes). */
void fp_arena_reset(struct fp_arena *a);
/* Copies n bytes and NUL-terminates the copy. */
char *fp_arena_strndup(struct fp_arena *a, const char *s, size_t n);

#endif
