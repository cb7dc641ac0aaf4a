/*
 * arena.c - chunked bump allocator used by snapshots.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

struct fp_arena {
    struct chunk *head;
};

struct fp_arena *fp_arena_new(void) { return calloc(1, sizeof(struct fp_arena)); }

void fp_arena_free(struct fp_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

void *fp_arena_alloc(struct fp_arena *a, size_t n)
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
        struct chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->next = a->head;
        nc->used = 0;
        nc->cap = cap;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *fp_arena_strndup(struct fp_arena *a, const char *s, size_t n)
{
    char *p = fp_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}
