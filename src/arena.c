/*
 * arena.c - chunked bump allocator used by snapshots.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "mem.h"

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct fp_arena {
    struct chunk *head;
};

struct fp_arena *fp_arena_new(void)
{
    return fp_calloc(1, sizeof(struct fp_arena));
}

void fp_arena_free(struct fp_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        fp_free(c);
    }
    fp_free(a);
}

void *fp_arena_alloc(struct fp_arena *a, size_t n)
{
    void *p = fp_arena_alloc_raw(a, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void *fp_arena_alloc_raw(struct fp_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = 64 * 1024;
        if (c && c->cap < (16u << 20))
            cap = c->cap * 2;
        if (cap < n)
            cap = n;
        struct chunk *nc = fp_malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->next = a->head;
        nc->used = 0;
        nc->cap = cap;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void fp_arena_reset(struct fp_arena *a)
{
    size_t total = 0;
    int chunks = 0;
    for (struct chunk *c = a->head; c; c = c->next, chunks++)
        total += c->used > c->cap ? c->cap : c->used;
    if (chunks == 1) {
        a->head->used = 0;
        return;
    }
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        fp_free(c);
    }
    a->head = NULL;
    /* One chunk with a quarter to spare; on failure we simply start empty. */
    total += total / 4;
    struct chunk *one = total ? fp_malloc(sizeof *one + total) : NULL;
    if (one) {
        one->next = NULL;
        one->used = 0;
        one->cap = total;
        a->head = one;
    }
}

char *fp_arena_strndup(struct fp_arena *a, const char *s, size_t n)
{
    char *p = fp_arena_alloc_raw(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
