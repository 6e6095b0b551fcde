/* Finding-code statistics for the run summary (see summary.h). */
#include "summary.h"

#include <string.h>

void pj_file_codes_of(const pj_report *r, pj_file_codes *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        /* Informational findings are context, not problems to rank. */
        if (f->severity == PJ_SEV_INFO || (int)f->code < 0 || (int)f->code >= PJ_SUMMARY_CODES)
            continue;
        uint32_t k = 0;
        while (k < out->n && out->code[k] != (uint16_t)f->code)
            k++;
        if (k == out->n) {
            if (out->n == PJ_SUMMARY_FILE_CODES)
                continue;
            out->code[k] = (uint16_t)f->code;
            out->n++;
        }
        if (out->count[k] < UINT32_MAX)
            out->count[k]++;
    }
}

bool pj_summary_add(pj_summary *s, const pj_file_codes *fc)
{
    if (fc->n > PJ_SUMMARY_FILE_CODES)
        return false;
    for (uint32_t k = 0; k < fc->n; k++)
        if (fc->code[k] >= PJ_SUMMARY_CODES || !pj_code_valid(fc->code[k]) || fc->count[k] == 0)
            return false;
    for (uint32_t k = 0; k < fc->n; k++) {
        s->findings[fc->code[k]] += fc->count[k];
        s->files[fc->code[k]]++;
    }
    return true;
}

static bool before(const pj_summary *s, int a, int b)
{
    if (s->files[a] != s->files[b])
        return s->files[a] > s->files[b];
    if (s->findings[a] != s->findings[b])
        return s->findings[a] > s->findings[b];
    return a < b;
}

size_t pj_summary_top(const pj_summary *s, uint16_t *codes, size_t k)
{
    size_t n = 0;
    for (int c = 0; c < PJ_SUMMARY_CODES; c++) {
        if (s->files[c] == 0)
            continue;
        /* Insertion into the short sorted list. */
        size_t pos = n;
        while (pos > 0 && before(s, c, codes[pos - 1]))
            pos--;
        if (pos >= k)
            continue;
        size_t last = n < k ? n : k - 1;
        for (size_t i = last; i > pos; i--)
            codes[i] = codes[i - 1];
        codes[pos] = (uint16_t)c;
        if (n < k)
            n++;
    }
    return n;
}
