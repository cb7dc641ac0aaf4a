/*
 * mem.h - the library's one allocator. Every allocation in src/ goes through
 * these functions, so a test can make the Nth allocation fail, for every N
 * over a sequence of public calls (SQLite's fault injection), and prove that
 * each call then fails cleanly with FASTPROM_ENOMEM, leaks nothing and leaves
 * the segment consistent.
 *
 * Outside tests they are malloc and friends behind one relaxed atomic load.
 */
#ifndef FASTPROM_MEM_H
#define FASTPROM_MEM_H

#include <stddef.h>
#include <stdint.h>

void *fp_malloc(size_t n);
void *fp_calloc(size_t count, size_t size); /* NULL on count * size overflow */
void *fp_realloc(void *p, size_t n);        /* p unchanged on failure */
char *fp_strdup(const char *s);
void fp_free(void *p);

/* Tests only. Makes the nth allocation from now fail (1 = the next one), and
 * with `persistent` every one after it too; 0 turns failures off. */
void fp_mem_fail_at(uint64_t nth, int persistent);
/* Allocations attempted since the process started (failed ones included). */
uint64_t fp_mem_allocations(void);
/* Allocations made to fail since the process started. */
uint64_t fp_mem_failures(void);

#endif
