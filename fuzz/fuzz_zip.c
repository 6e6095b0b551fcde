/* libFuzzer harness: our zip reader (loader/zip.c) and the member logic on
 * top of it (loader/zipscan.c): end records, zip64, central directory, local
 * headers, gaps, miniz's sorted lookup, then member scanning.  Inputs that do
 * not start with a local header get one prepended half the time, so the
 * fuzzer spends its effort on the structures behind the magic. */
#include "container.h"
#include "fuzz.h"
#include "report.h"
#include "zip.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pj_options o;
    pj_fuzz_options(&o);
    uint8_t *buf = NULL;
    if (size > 0 && (data[0] & 1) && size < (1u << 24)) {
        buf = malloc(size + 4);
        if (buf == NULL)
            return 0;
        memcpy(buf, "PK\x03\x04", 4);
        memcpy(buf + 4, data + 1, size - 1);
        data = buf;
        size = size + 3;
    }
    pj_report *r = pj_report_new(o.limits.max_arena_bytes, o.limits.max_findings);
    if (r == NULL) {
        free(buf);
        return 0;
    }
    pj_scan_ctx ctx = {.report = r, .limits = &o.limits};

    /* The structure alone, and the two loaders' lookups. */
    pj_arena a;
    pj_arena_init(&a, 16u << 20);
    pj_zip z;
    if (pj_zip_parse(&ctx, &a, data, size, "", &z)) {
        PJ_FUZZ_ASSERT(z.n_cd <= z.n, "directory entries within entries");
        for (size_t i = 0; i < z.n; i++) {
            PJ_FUZZ_ASSERT(z.e[i].name_len == 0 || z.e[i].name != NULL, "entry name");
            if (z.e[i].local_ok)
                PJ_FUZZ_ASSERT(z.e[i].local_ofs < size, "local header inside input");
        }
        long m = pj_zip_miniz_locate(&z, "archive/data.pkl");
        PJ_FUZZ_ASSERT(m < (long)z.n_cd, "miniz lookup in range");
        if (z.n_cd > 0) {
            long c = pj_zip_cpython_locate(&z, z.e[0].name, z.e[0].name_len);
            PJ_FUZZ_ASSERT(c >= 0 && c < (long)z.n_cd, "CPython lookup finds entry 0's name");
            char nm[64];
            size_t l = z.e[0].name_len < sizeof nm - 1 ? z.e[0].name_len : sizeof nm - 1;
            memcpy(nm, z.e[0].name, l);
            nm[l] = '\0';
            long mm = pj_zip_miniz_locate(&z, nm);
            PJ_FUZZ_ASSERT(mm < (long)z.n_cd, "miniz lookup in range");
        }
    }
    pj_arena_release(&a);

    /* The whole zip scan (members, nested containers, pickles). */
    pj_scan_zip(&ctx, data, size, "");
    pj_fuzz_check_report(r, 0);
    pj_report_free(r);
    free(buf);
    return 0;
}
