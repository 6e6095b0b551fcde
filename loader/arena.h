/* Bounded bump allocator.  Every allocation the loader makes goes through an
 * arena with a byte budget, so hostile input can exhaust the budget (a
 * finding) but never the process. */
#ifndef PJ_ARENA_H
#define PJ_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pj_arena_chunk pj_arena_chunk;

typedef struct pj_arena {
    pj_arena_chunk *head;
    size_t used;      /* bytes handed out plus chunk overhead */
    size_t budget;    /* maximum for used */
    bool exhausted;   /* an allocation was refused */
} pj_arena;

void pj_arena_init(pj_arena *a, size_t budget);
/* Returns 16-byte aligned zeroed memory, or NULL when the budget is spent. */
void *pj_arena_alloc(pj_arena *a, size_t n);
/* n elements of size sz, overflow checked. */
void *pj_arena_array(pj_arena *a, size_t n, size_t sz);
char *pj_arena_strndup(pj_arena *a, const char *s, size_t n);
/* Free everything (the arena can be reused after). */
void pj_arena_release(pj_arena *a);

#endif
