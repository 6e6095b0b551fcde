/* What is this buffer?  Magic numbers and shapes of the formats a model file
 * can arrive as, and of the files that are not models at all (a Git LFS
 * pointer, an HTML or JSON error page, an empty download, safetensors,
 * GGUF).  Decided from bytes only, never from a file name. */
#include "container.h"

#include <stdio.h>
#include <string.h>

static bool starts(const uint8_t *d, size_t n, const char *magic, size_t ml)
{
    return n >= ml && memcmp(d, magic, ml) == 0;
}

static size_t skip_ws(const uint8_t *d, size_t n, size_t i)
{
    /* UTF-8 byte order mark, then ASCII white space. */
    if (i == 0 && n >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf)
        i = 3;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
        i++;
    return i;
}

/* POSIX ustar magic, or a v7 header whose checksum adds up. */
static bool is_tar(const uint8_t *d, size_t n)
{
    if (n < 512)
        return false;
    if (memcmp(d + 257, "ustar", 5) == 0)
        return true;
    /* v7: checksum field at 148 (octal, 8 bytes) over the header with the
     * field itself counted as spaces; name must be non-empty. */
    if (d[0] == 0)
        return false;
    unsigned long want = 0;
    int digits = 0;
    for (int i = 148; i < 156; i++) {
        if (d[i] >= '0' && d[i] <= '7') {
            want = want * 8 + (unsigned long)(d[i] - '0');
            digits++;
        } else if (d[i] != ' ' && d[i] != 0) {
            return false;
        }
    }
    if (digits == 0)
        return false;
    unsigned long sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : d[i];
    return sum == want;
}

/* The legacy torch.save magic number 0x1950a86a20f9469cfc6c as a LONG1
 * argument, near the start (after PROTO and maybe FRAME). */
static bool is_torch_legacy(const uint8_t *d, size_t n)
{
    static const uint8_t magic[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                    0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (n < 2 || d[0] != 0x80)
        return false;
    size_t lim = n < 32 ? n : 32;
    for (size_t i = 2; i + sizeof magic <= lim; i++)
        if (memcmp(d + i, magic, sizeof magic) == 0)
            return true;
    return false;
}

static bool is_safetensors(const uint8_t *d, size_t n)
{
    if (n < 10)
        return false;
    uint64_t hl = pj_le64(d);
    return hl >= 2 && d[8] == '{' && (d[9] == '"' || d[9] == '}' || d[9] == ' ' || d[9] == '\n');
}

static bool is_zlib(const uint8_t *d, size_t n)
{
    /* Only the 32 KiB window header (0x78): what zlib.compress and joblib
     * write.  Other CMF values include '(' (MARK) and would swallow
     * protocol-0 pickles. */
    return n >= 2 && d[0] == 0x78 && ((d[0] << 8) | d[1]) % 31 == 0 && (d[1] & 0x20) == 0;
}

static bool is_lzma_alone(const uint8_t *d, size_t n)
{
    /* properties byte (lc/lp/pb, 0x5d for the defaults), dictionary size,
     * then the uncompressed size (-1 when unknown, as Python writes it). */
    if (n < 13 || d[0] != 0x5d)
        return false;
    uint32_t dict = pj_le32(d + 1);
    uint64_t usize = pj_le64(d + 5);
    bool pow2ish = (dict & (dict - 1)) == 0 || (dict & (dict - 1) & (dict - 2)) == 0;
    return dict >= 4096 && pow2ish && (usize == UINT64_MAX || usize < ((uint64_t)1 << 48));
}

pj_fmt pj_sniff(const uint8_t *d, size_t n)
{
    if (n == 0)
        return PJ_FMT_EMPTY;
    if (starts(d, n, "PK\x03\x04", 4) || starts(d, n, "PK\x05\x06", 4) ||
        starts(d, n, "PK\x07\x08PK\x03\x04", 8))
        return PJ_FMT_ZIP;
    if (starts(d, n, "\x1f\x8b", 2))
        return PJ_FMT_GZIP;
    if (n >= 4 && starts(d, n, "BZh", 3) && d[3] >= '1' && d[3] <= '9')
        return PJ_FMT_BZ2;
    if (starts(d, n, "\xfd" "7zXZ\x00", 6))
        return PJ_FMT_XZ;
    if (starts(d, n, "\x28\xb5\x2f\xfd", 4))
        return PJ_FMT_ZSTD;
    if (starts(d, n, "\x04\x22\x4d\x18", 4))
        return PJ_FMT_LZ4;
    if (starts(d, n, "7z\xbc\xaf\x27\x1c", 6))
        return PJ_FMT_7Z;
    if (starts(d, n, "\x93NUMPY", 6))
        return PJ_FMT_NPY;
    if (starts(d, n, "ZF0x", 4))
        return PJ_FMT_ZFILE;
    if (starts(d, n, "GGUF", 4))
        return PJ_FMT_GGUF;
    if (starts(d, n, "version https://git-lfs", 23))
        return PJ_FMT_LFS;
    if (is_torch_legacy(d, n))
        return PJ_FMT_TORCH_LEGACY;
    if (is_tar(d, n))
        return PJ_FMT_TAR;
    if (is_zlib(d, n))
        return PJ_FMT_ZLIB;
    if (is_lzma_alone(d, n))
        return PJ_FMT_LZMA;
    if (is_safetensors(d, n))
        return PJ_FMT_SAFETENSORS;
    size_t i = skip_ws(d, n, 0);
    if (i + 1 < n && d[i] == '<') {
        uint8_t c = (uint8_t)(d[i + 1] | 0x20);
        if (d[i + 1] == '!' || d[i + 1] == '?' || (c >= 'a' && c <= 'z'))
            return PJ_FMT_HTML;
    }
    if (i < n && (d[i] == '{' || d[i] == '[')) {
        size_t j = skip_ws(d, n, i + 1);
        if (j < n && (d[j] == '"' || (d[i] == '{' && d[j] == '}') || (d[i] == '[' && d[j] == '{')))
            return PJ_FMT_JSON;
    }
    if (pj_pickle_start_plausible(d, n))
        return PJ_FMT_PICKLE;
    return PJ_FMT_UNKNOWN;
}

const char *pj_fmt_name(pj_fmt f)
{
    switch (f) {
    case PJ_FMT_EMPTY: return "empty";
    case PJ_FMT_ZIP: return "zip";
    case PJ_FMT_GZIP: return "gzip";
    case PJ_FMT_BZ2: return "bz2";
    case PJ_FMT_XZ: return "xz";
    case PJ_FMT_LZMA: return "xz";
    case PJ_FMT_ZSTD: return "zstd";
    case PJ_FMT_ZLIB: return "zlib";
    case PJ_FMT_ZFILE: return "zlib";
    case PJ_FMT_LZ4: return "lz4";
    case PJ_FMT_TAR: return "tar";
    case PJ_FMT_7Z: return "7z";
    case PJ_FMT_NPY: return "npy";
    case PJ_FMT_TORCH_LEGACY: return "torch-legacy";
    case PJ_FMT_LFS: return "lfs-pointer";
    case PJ_FMT_HTML: return "html";
    case PJ_FMT_JSON: return "json";
    case PJ_FMT_SAFETENSORS: return "safetensors";
    case PJ_FMT_GGUF: return "gguf";
    case PJ_FMT_PICKLE: return "pickle";
    case PJ_FMT_UNKNOWN: return "unknown";
    }
    return "unknown";
}

bool pj_fmt_is_container(pj_fmt f)
{
    switch (f) {
    case PJ_FMT_ZIP:
    case PJ_FMT_GZIP:
    case PJ_FMT_BZ2:
    case PJ_FMT_XZ:
    case PJ_FMT_LZMA:
    case PJ_FMT_ZSTD:
    case PJ_FMT_ZLIB:
    case PJ_FMT_ZFILE:
    case PJ_FMT_LZ4:
    case PJ_FMT_TAR:
    case PJ_FMT_7Z:
    case PJ_FMT_NPY:
    case PJ_FMT_TORCH_LEGACY:
        return true;
    default:
        return false;
    }
}

/* Copy a bounded, printable excerpt of a text field ("oid sha256:...") . */
static void text_field(const uint8_t *d, size_t n, const char *key, char *out, size_t outlen)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl <= n; i++) {
        if ((i == 0 || d[i - 1] == '\n') && memcmp(d + i, key, kl) == 0) {
            size_t o = 0;
            for (size_t j = i + kl; j < n && d[j] != '\n' && d[j] != '\r' && o + 1 < outlen; j++)
                out[o++] = (d[j] >= 0x20 && d[j] < 0x7f) ? (char)d[j] : '?';
            out[o] = '\0';
            return;
        }
    }
}

void pj_scan_not_model(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc)
{
    char oid[100], size[32];
    switch (f) {
    case PJ_FMT_EMPTY:
        /* Nothing can run from an empty file: a load failure, not a risk. */
        pj_cfinding_sev(ctx, loc, PJ_EMPTY_FILE, PJ_SEV_INFO, 0,
                    "empty file: an interrupted download or write; pickle.load would raise "
                    "EOFError: Ran out of input");
        break;
    case PJ_FMT_LFS: {
        size_t lim = n < 1024 ? n : 1024;
        text_field(d, lim, "oid ", oid, sizeof oid);
        text_field(d, lim, "size ", size, sizeof size);
        pj_cfinding_sev(ctx, loc, PJ_NOT_A_MODEL, PJ_SEV_INFO, 0,
                        "Git LFS pointer (oid %s, real size %s bytes), not the model: run 'git lfs "
                        "pull'; no pickle data present (loaders raise: invalid load key, 'v')",
                        oid[0] ? oid : "?", size[0] ? size : "?");
        pj_cmeta(ctx, loc, "lfs.oid", oid);
        pj_cmeta(ctx, loc, "lfs.size", size);
        break;
    }
    case PJ_FMT_HTML:
        pj_cfinding_sev(ctx, loc, PJ_NOT_A_MODEL, PJ_SEV_INFO, 0,
                        "HTML page (%zu bytes), not a model: a failed download, login or quota "
                        "page; re-download (loaders raise: invalid load key, '<')",
                        n);
        break;
    case PJ_FMT_JSON:
        pj_cfinding_sev(ctx, loc, PJ_NOT_A_MODEL, PJ_SEV_INFO, 0,
                        "JSON document (%zu bytes), not a pickle: often an error body saved as "
                        "the model; re-download",
                        n);
        break;
    case PJ_FMT_SAFETENSORS: {
        uint64_t hl = pj_le64(d);
        if (hl > n - 8) {
            pj_cfinding(ctx, loc, PJ_NOT_A_MODEL, 0,
                        "safetensors header claims %llu bytes but only %zu follow: truncated or "
                        "not safetensors",
                        (unsigned long long)hl, n - 8);
        } else {
            pj_cfinding(ctx, loc, PJ_NO_CODE_FORMAT, 0,
                        "safetensors file (JSON header %llu bytes, %llu bytes of tensor data): "
                        "tensors only, carries no code",
                        (unsigned long long)hl, (unsigned long long)(n - 8 - hl));
        }
        break;
    }
    case PJ_FMT_GGUF: {
        char v[16] = "?";
        if (n >= 8)
            snprintf(v, sizeof v, "%u", pj_le32(d + 4));
        pj_cfinding(ctx, loc, PJ_NO_CODE_FORMAT, 0,
                    "GGUF file (version %s): tensors and key/value metadata, carries no code", v);
        pj_cmeta(ctx, loc, "gguf.version", v);
        break;
    }
    default:
        break;
    }
}
