/*
 * mem.c - the library's one allocator and its fault injection (mem.h).
 */
#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static _Atomic uint64_t attempts;  /* allocations attempted */
static _Atomic uint64_t fail_from; /* attempt number that fails first; 0: none */
static _Atomic int fail_persistent;
static _Atomic uint64_t failures;

void fp_mem_fail_at(uint64_t nth, int persistent)
{
    atomic_store(&fail_persistent, persistent);
    atomic_store(&fail_from, nth ? atomic_load(&attempts) + nth : 0);
}

uint64_t fp_mem_allocations(void)
{
    return atomic_load(&attempts);
}

uint64_t fp_mem_failures(void)
{
    return atomic_load(&failures);
}

/* Counts an attempt; 1 when it is to fail. */
static int injected(void)
{
    uint64_t n = atomic_fetch_add_explicit(&attempts, 1, memory_order_relaxed) + 1;
    uint64_t from = atomic_load_explicit(&fail_from, memory_order_relaxed);
    if (__builtin_expect(from == 0, 1) || n < from)
        return 0;
    if (n > from && !atomic_load_explicit(&fail_persistent, memory_order_relaxed))
        return 0;
    atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
    return 1;
}

void *fp_malloc(size_t n)
{
    return injected() ? NULL : malloc(n);
}

void *fp_calloc(size_t count, size_t size)
{
    return injected() ? NULL : calloc(count, size);
}

void *fp_realloc(void *p, size_t n)
{
    return injected() ? NULL : realloc(p, n);
}

char *fp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = fp_malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

void fp_free(void *p)
{
    free(p);
}
