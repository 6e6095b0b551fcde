/* PyTorch's legacy formats.
 *
 * torch.save(..., _use_new_zipfile_serialization=False): five pickles back
 * to back (magic number, protocol version 1001, sys_info, the object, the
 * sorted list of storage keys), then for each key an 8-byte element count
 * and the raw storage bytes.  Every pickle is scanned (torch.load runs all of
 * them; a magic number "built" by REDUCE is no reason to trust the file);
 * the raw storage bytes are not pickles and are only checked for length.
 *
 * The older tar layout (members sys_info, pickle, storages, tensors) comes
 * here member by member from archive.c. */
#include "container.h"

#include <stdio.h>
#include <string.h>

/* ---- a tiny reader for the two trivial pickles whose values we need: an
 * int (a count) and a list of strings (storage keys).  Anything fancier is
 * left to the VM, which scans these pickles anyway. ---- */

typedef struct simple {
    uint64_t ival;     /* last int pushed */
    size_t strings;    /* strings pushed */
    bool have_int;
} simple;

static bool line_end(const uint8_t *d, size_t n, size_t *p)
{
    const uint8_t *nl = memchr(d + *p, '\n', n - *p);
    if (nl == NULL)
        return false;
    *p = (size_t)(nl - d) + 1;
    return true;
}

static bool skip_n(size_t n, size_t *p, uint64_t k)
{
    if (k > n - *p)
        return false;
    *p += (size_t)k;
    return true;
}

/* Walk one pickle from *p; true when STOP is reached with only the opcodes
 * these pickles use. */
static bool simple_pickle(const uint8_t *d, size_t n, size_t *p, simple *s)
{
    memset(s, 0, sizeof *s);
    while (*p < n) {
        uint8_t op = d[(*p)++];
        size_t at = *p;
        switch (op) {
        case '.': return true;                         /* STOP */
        case 0x80: if (!skip_n(n, p, 1)) return false; break;   /* PROTO */
        case 0x95: if (!skip_n(n, p, 8)) return false; break;   /* FRAME */
        case ']': case '(': case 'a': case 'e': case 'l': case 0x94: break;
        case 'q': if (!skip_n(n, p, 1)) return false; break;    /* BINPUT */
        case 'r': if (!skip_n(n, p, 4)) return false; break;    /* LONG_BINPUT */
        case 'p': if (!line_end(d, n, p)) return false; break;  /* PUT */
        case 'K': if (!skip_n(n, p, 1)) return false; s->ival = d[at]; s->have_int = true; break;
        case 'M': if (!skip_n(n, p, 2)) return false; s->ival = pj_le16(d + at); s->have_int = true; break;
        case 'J':
            if (!skip_n(n, p, 4)) return false;
            s->ival = (uint64_t)(int64_t)(int32_t)pj_le32(d + at);
            s->have_int = true;
            break;
        case 'I': {
            if (!line_end(d, n, p)) return false;
            uint64_t v = 0;
            for (size_t i = at; i < *p - 1 && d[i] >= '0' && d[i] <= '9'; i++)
                v = v * 10 + (uint64_t)(d[i] - '0');
            s->ival = v;
            s->have_int = true;
            break;
        }
        case 0x8c: if (!skip_n(n, p, 1) || !skip_n(n, p, d[at])) return false; s->strings++; break;
        case 'U': if (!skip_n(n, p, 1) || !skip_n(n, p, d[at])) return false; s->strings++; break;
        case 'X': case 'T':
            if (!skip_n(n, p, 4) || !skip_n(n, p, pj_le32(d + at))) return false;
            s->strings++;
            break;
        case 0x8d: if (!skip_n(n, p, 8) || !skip_n(n, p, pj_le64(d + at))) return false; s->strings++; break;
        case 'V': case 'S': if (!line_end(d, n, p)) return false; s->strings++; break;
        default: return false;
        }
    }
    return false;
}

/* ---- storage data: count + raw bytes per storage; the element size is
 * not in these bytes (it is in the main pickle's persistent ids), so find
 * sizes that make the storages tile the rest of the file exactly. ---- */

static unsigned storage_elsize(const char *name)
{
    static const struct {
        const char *n;
        unsigned s;
    } t[] = {{"DoubleStorage", 8}, {"FloatStorage", 4}, {"HalfStorage", 2},
             {"LongStorage", 8},   {"IntStorage", 4},   {"ShortStorage", 2},
             {"CharStorage", 1},   {"ByteStorage", 1},  {"BoolStorage", 1},
             {"BFloat16Storage", 2}, {"ComplexDoubleStorage", 16}, {"ComplexFloatStorage", 8},
             {"QUInt8Storage", 1}, {"QInt8Storage", 1}, {"QInt32Storage", 4},
             {"QUInt4x2Storage", 1}, {"QUInt2x4Storage", 1}, {"UntypedStorage", 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(name, t[i].n) == 0)
            return t[i].s;
    return 0;
}

static const unsigned elsizes[] = {4, 8, 2, 1, 16};

/* reached: smallest number of bytes left over after all storages (when
 * the storages end early), or SIZE_MAX; ran_out: some split needed more
 * bytes than the file has. */
static bool tile(const uint8_t *d, size_t end, size_t pos, size_t left, unsigned *budget,
                 size_t *leftover, bool *ran_out, unsigned mask)
{
    if (*budget == 0)
        return false;
    (*budget)--;
    if (left == 0) {
        if (pos < end && end - pos < *leftover)
            *leftover = end - pos;
        return pos == end;
    }
    if (end - pos < 8) {
        *ran_out = true;
        return false;
    }
    uint64_t numel = pj_le64(d + pos);
    for (size_t i = 0; i < sizeof elsizes / sizeof elsizes[0]; i++) {
        if (!(mask & elsizes[i]) || numel > UINT64_MAX / elsizes[i])
            continue;
        uint64_t nb = numel * elsizes[i];
        if (nb > end - pos - 8) {
            *ran_out = true;
            continue;
        }
        if (tile(d, end, pos + 8 + (size_t)nb, left - 1, budget, leftover, ran_out, mask))
            return true;
    }
    return false;
}

/* Element sizes of the storage types the object pickle names (a bit per
 * size), or every size when it names none we know. */
static unsigned storage_sizes(const pj_report *r, int32_t stream)
{
    unsigned mask = 0;
    for (size_t g = 0; g < r->n_globals; g++)
        if (r->globals[g].stream == stream && r->globals[g].name != NULL)
            mask |= storage_elsize(r->globals[g].name);
    return mask ? mask : (1u | 2u | 4u | 8u | 16u);
}

static void check_storages(pj_scan_ctx *ctx, const uint8_t *d, size_t n, size_t pos, size_t keys,
                           const char *loc, unsigned mask)
{
    char v[32];
    snprintf(v, sizeof v, "%zu", keys);
    pj_cmeta(ctx, loc, "torch.legacy.storages", v);
    unsigned budget = 20000;
    size_t leftover = SIZE_MAX;
    bool ran_out = false;
    if (tile(d, n, pos, keys, &budget, &leftover, &ran_out, mask))
        return;
    if (leftover != SIZE_MAX)
        pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, n - leftover,
                    "legacy torch file: the %zu bytes after the pickles do not split into %zu "
                    "storages (count + data): %zu bytes left over at offset %zu; trailing or "
                    "hidden data",
                    n - pos, keys, leftover, n - leftover);
    else if (ran_out) /* every pickle already ran before torch reads storages */
        pj_cfinding_sev(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, PJ_SEV_INFO, pos,
                        "legacy torch file: %zu storages need more bytes than the %zu left after "
                        "the pickles: truncated (torch raises: unexpected EOF)",
                        keys, n - pos);
    else
        pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                    "legacy torch file: storage data after offset %zu could not be checked", pos);
}

bool pj_torch_legacy_version_at(const uint8_t *d, size_t n, size_t off)
{
    simple s;
    size_t p = off;
    return off < n && simple_pickle(d, n, &p, &s) && s.have_int && s.ival == 1001;
}

static const char *const names[] = {"magic number", "protocol version", "sys_info", "object",
                                    "storage keys"};

void pj_scan_torch_legacy(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc)
{
    pj_arena a;
    pj_arena_init(&a, 1u << 20);
    size_t pos = 0;
    size_t keys = 0;
    bool keys_known = false;
    int32_t object_stream = -1;
    for (int i = 0; i < 5; i++) {
        if (pos >= n) {
            pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                        "legacy torch file ends before its %s pickle (pickle %d of 5): truncated",
                        names[i], i + 1);
            pj_arena_release(&a);
            return;
        }
        char step[32];
        snprintf(step, sizeof step, "pickle#%d", i + 1);
        const char *sloc = pj_loc_join(&a, loc, step);
        size_t end = pos;
        size_t sp = pos;
        simple s;
        bool simple_ok = simple_pickle(d, n, &sp, &s);
        if (i == 1 && simple_ok && s.have_int) {
            snprintf(step, sizeof step, "%llu", (unsigned long long)s.ival);
            pj_cmeta(ctx, loc, "torch.legacy.protocol_version", step);
            if (s.ival != 1001)
                pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                            "legacy torch protocol version is %llu, not 1001 (torch raises: "
                            "Invalid protocol version)",
                            (unsigned long long)s.ival);
        }
        if (i == 4 && simple_ok) {
            keys = s.strings;
            keys_known = true;
        }
        bool ok = pj_scan_one_pickle(ctx, d, n, pos, sloc, 0, &end);
        if (!ok || end <= pos) {
            /* Broken stream: torch.load stops here, but a payload may sit
             * behind deliberate garbage; let the generic walk resync. */
            if (end < n && end > pos) {
                const char *rest = pj_loc_join(&a, loc, "pickle#rest");
                pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                            "legacy torch %s pickle (pickle %d) is broken; the rest of the file "
                            "is scanned for further pickles",
                            names[i], i + 1);
                size_t from = end;
                pj_scan_pickles(ctx, d + from, n - from, rest, 0);
            }
            pj_arena_release(&a);
            return;
        }
        if (i == 3)
            object_stream = (int32_t)ctx->report->n_streams - 1;
        pos = end;
    }
    if (keys_known)
        check_storages(ctx, d, n, pos, keys, loc, storage_sizes(ctx->report, object_stream));
    else if (pos < n)
        pj_cfinding_sev(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, PJ_SEV_INFO, pos,
                        "legacy torch storage keys pickle not understood: %zu bytes of storage "
                        "data not checked",
                        n - pos);
    pj_arena_release(&a);
}

/* ---- the tar layout ---- */

/* The element size named by the storage type global the last stream
 * referenced (the VM records it). */
static unsigned last_stream_elsize(const pj_report *r)
{
    if (r->n_streams == 0)
        return 0;
    int32_t sidx = (int32_t)r->n_streams - 1;
    for (size_t g = r->n_globals; g-- > 0;) {
        if (r->globals[g].stream != sidx)
            break;
        if (r->globals[g].name != NULL) {
            unsigned s = storage_elsize(r->globals[g].name);
            if (s)
                return s;
        }
    }
    return 0;
}

static bool one(pj_scan_ctx *ctx, const uint8_t *d, size_t n, size_t *pos, const char *mloc,
                int nth, pj_arena *a)
{
    char step[48];
    const char *sloc = mloc;
    if (nth > 1) {
        snprintf(step, sizeof step, "#%d@%zu", nth, *pos);
        size_t l = strlen(mloc);
        char *s = pj_arena_alloc(a, l + strlen(step) + 1);
        if (s != NULL) {
            memcpy(s, mloc, l);
            strcpy(s + l, step);
            sloc = s;
        }
    }
    size_t end = *pos;
    bool ok = pj_scan_one_pickle(ctx, d, n, *pos, sloc, 0, &end);
    if (!ok || end <= *pos) {
        /* Scanned already: continue behind it, never rescan it. */
        *pos = end > *pos ? end : *pos + 1;
        return false;
    }
    *pos = end;
    return true;
}

void pj_scan_torch_tar_member(pj_scan_ctx *ctx, const char *name, const uint8_t *d, size_t n,
                              const char *loc)
{
    pj_arena a;
    pj_arena_init(&a, 1u << 20);
    const char *mloc = pj_loc_join(&a, loc, name);
    bool storages = strcmp(name, "storages") == 0, tensors = strcmp(name, "tensors") == 0;
    if (!storages && !tensors) {
        /* sys_info and pickle: one pickle each, read by pickle.load. */
        if (strcmp(name, "sys_info") == 0 || strcmp(name, "pickle") == 0)
            pj_scan_pickles(ctx, d, n, mloc, PJ_PICKLES_EXPECT_ONE);
        else
            pj_scan_member(ctx, d, n, mloc, false, PJ_SNIFF_ANY);
        pj_arena_release(&a);
        return;
    }
    size_t pos = 0, sp = 0;
    simple s;
    int nth = 1;
    bool counted = simple_pickle(d, n, &sp, &s) && s.have_int;
    if (!one(ctx, d, n, &pos, mloc, nth++, &a) || !counted)
        goto broken;
    for (uint64_t i = 0; i < s.ival; i++) {
        if (!one(ctx, d, n, &pos, mloc, nth++, &a))
            goto broken;
        if (storages) {
            unsigned es = last_stream_elsize(ctx->report);
            if (es == 0 || n - pos < 8)
                goto broken;
            uint64_t numel = pj_le64(d + pos);
            if (numel > (n - pos - 8) / es)
                goto broken;
            pos += 8 + (size_t)(numel * es);
        } else {
            if (n - pos < 8)
                goto broken;
            uint32_t ndim = pj_le32(d + pos);
            if (ndim > 64 || n - pos - 8 < (size_t)ndim * 16 + 8)
                goto broken;
            pos += 8 + (size_t)ndim * 16 + 8;
        }
    }
    if (storages && pos < n && !one(ctx, d, n, &pos, mloc, nth++, &a))
        goto broken; /* storage views */
    if (pos < n)
        pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                    "%zu bytes after the end of torch tar member '%s' (hidden data?)", n - pos, name);
    pj_arena_release(&a);
    return;
broken:
    pj_cfinding(ctx, loc, PJ_TORCH_LEGACY_MALFORMED, pos,
                "torch tar member '%s' does not follow the legacy layout at offset %zu; the rest "
                "is scanned for pickles",
                name, pos);
    if (pos < n) {
        char step[300];
        snprintf(step, sizeof step, "%.250s@%zu", mloc, pos);
        pj_scan_pickles(ctx, d + pos, n - pos, step, 0);
    }
    pj_arena_release(&a);
}
