#include "arena.h"

#include <stdlib.h>
#include <string.h>

struct pj_arena_chunk {
    pj_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t pos;
    _Alignas(16) unsigned char data[];
};

/* Chunks grow with the arena: a page's worth (PJ_ARENA_FIRST_CHUNK, with
 * malloc's header) until it holds 64 KiB, then PJ_ARENA_CHUNK up to
 * PJ_ARENA_CHUNK_MAX (an eighth of what it holds): a small scan takes a page
 * or two, a big one a few dozen chunks the allocator maps and unmaps whole
 * instead of thousands of heap chunks (each free trimming the heap with
 * brk). */
enum {
    PJ_ARENA_FIRST_CHUNK = 4096 - 64,
    PJ_ARENA_CHUNK = 64 * 1024,
    PJ_ARENA_CHUNK_MAX = 1024 * 1024
};

void pj_arena_init(pj_arena *a, size_t budget)
{
    a->head = NULL;
    a->used = 0;
    a->budget = budget;
    a->exhausted = false;
}

static size_t align16(size_t n) { return (n + 15u) & ~(size_t)15u; }

void *pj_arena_alloc(pj_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / 2) {
        a->exhausted = true;
        return NULL;
    }
    n = align16(n);
    pj_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->pos < n) {
        /* The first chunks are small: a small scan then writes to a few heap
         * pages, not to the headers of two 64 KiB chunks and of the heap top
         * beyond each (in a fresh sandbox child every page written costs a
         * page fault). */
        size_t base = a->used < PJ_ARENA_CHUNK ? PJ_ARENA_FIRST_CHUNK : PJ_ARENA_CHUNK;
        size_t want = n > base / 4 ? n : base;
        if (want == PJ_ARENA_CHUNK && a->used / 8 > PJ_ARENA_CHUNK)
            want = a->used / 8 < PJ_ARENA_CHUNK_MAX ? align16(a->used / 8) : PJ_ARENA_CHUNK_MAX;
        size_t cost = want + sizeof(pj_arena_chunk);
        if (cost > a->budget || a->used > a->budget - cost) {
            /* Near the budget: only what this allocation needs. */
            want = n > base / 4 ? n : base;
            cost = want + sizeof(pj_arena_chunk);
        }
        if (cost > a->budget || a->used > a->budget - cost) {
            a->exhausted = true;
            return NULL;
        }
        c = malloc(cost);
        if (c == NULL) {
            a->exhausted = true;
            return NULL;
        }
        a->used += cost;
        c->size = want;
        c->pos = 0;
        if (n > base / 4 && a->head != NULL) {
            /* Big block: keep the current chunk as the bump target. */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->pos;
    c->pos += n;
    memset(p, 0, n);
    return p;
}

void *pj_arena_array(pj_arena *a, size_t n, size_t sz)
{
    if (sz != 0 && n > SIZE_MAX / sz) {
        a->exhausted = true;
        return NULL;
    }
    return pj_arena_alloc(a, n * sz);
}

char *pj_arena_strndup(pj_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) {
        a->exhausted = true;
        return NULL;
    }
    char *p = pj_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void pj_arena_release(pj_arena *a)
{
    pj_arena_chunk *c = a->head;
    while (c != NULL) {
        pj_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
    a->exhausted = false;
}
