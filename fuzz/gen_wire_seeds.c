/* Seed generator for fuzz_wire: scans each input file in-process and writes
 * the wire message its report encodes to (what a sandboxed child would send),
 * so the decoder fuzzer starts from valid messages.
 *   gen_wire_seeds OUTDIR FILE...   (writes OUTDIR/wire-<n>) */
#include <stdio.h>
#include <stdlib.h>

#include "picklejail.h"
#include "wire.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUTDIR FILE...\n", argv[0]);
        return 2;
    }
    pj_options o;
    pj_options_default(&o);
    o.sandbox = false;
    int made = 0;
    for (int i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL)
            continue;
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        pj_report *r = pj_scan_buffer(buf, n, &o);
        if (r == NULL)
            continue;
        size_t len = 0;
        uint8_t *msg = pj_wire_encode(r, &len);
        pj_report_free(r);
        if (msg == NULL)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/wire-%d", argv[1], made++);
        FILE *out = fopen(path, "wb");
        if (out != NULL) {
            fwrite(msg, 1, len, out);
            fclose(out);
        }
        free(msg);
    }
    fprintf(stderr, "%d wire seeds\n", made);
    return 0;
}
