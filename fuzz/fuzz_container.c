/* libFuzzer harness: format detection and every container reader behind it
 * (loader/container.c and friends).  The first input byte picks a magic to
 * prepend (zip, gzip, bzip2, xz, lzma, zstd, zlib, joblib ZF, 7z, tar
 * header, npy, legacy torch, LFS, safetensors, or none) so each reader gets
 * inputs past its signature; the rest is the body. */
#include "container.h"
#include "fuzz.h"
#include "report.h"

#include <string.h>

static const struct {
    const char *magic;
    size_t len;
} prefixes[] = {
    {"", 0},
    {"PK\x03\x04", 4},
    {"\x1f\x8b\x08\x00", 4},
    {"BZh9", 4},
    {"\xfd" "7zXZ\x00", 6},
    {"\x5d\x00\x00\x80\x00\xff\xff\xff\xff\xff\xff\xff\xff", 13},
    {"\x28\xb5\x2f\xfd", 4},
    {"\x78\x9c", 2},
    {"ZF0x", 4},
    {"7z\xbc\xaf\x27\x1c\x00\x04", 8},
    {"\x93NUMPY\x01\x00", 8},
    {"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15},
    {"version https://git-lfs.github.com/spec/v1\n", 43},
    {"\x40\x00\x00\x00\x00\x00\x00\x00{\"", 10},
    {"\x04\x22\x4d\x18", 4},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 24))
        return 0;
    size_t k = data[0] % (sizeof prefixes / sizeof prefixes[0]);
    size_t pl = prefixes[k].len;
    uint8_t *buf = malloc(size - 1 + pl + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, prefixes[k].magic, pl);
    memcpy(buf + pl, data + 1, size - 1);
    size_t n = size - 1 + pl;
    pj_options o;
    pj_fuzz_options(&o);
    o.limits.max_container_depth = 4;
    pj_report *r = pj_report_new(o.limits.max_arena_bytes, o.limits.max_findings);
    if (r != NULL) {
        pj_scan_ctx ctx = {.report = r, .limits = &o.limits};
        pj_scan_container(&ctx, buf, n, "");
        PJ_FUZZ_ASSERT(ctx.depth == 0, "depth restored after the scan");
        PJ_FUZZ_ASSERT(ctx.decompressed_total <= o.limits.max_decompressed_bytes,
                       "decompressed budget respected");
        pj_fuzz_check_report(r, 0);
        pj_report_free(r);
    }
    free(buf);
    return 0;
}
