/* Placeholder diagnosis renderer (lead): lists load findings.  The diagnosis
 * owner replaces this file. */
#include "render_diagnose.h"

void pj_render_diagnosis(FILE *out, const char *path, const pj_report *r, bool color)
{
    (void)color;
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        n += r->findings[i].cls == PJ_CLASS_LOAD;
    fprintf(out, "%s: %s\n", path, n ? "will not load as is" : "no load problem found");
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].cls == PJ_CLASS_LOAD)
            fprintf(out, "  %s: %s\n", pj_code_id(r->findings[i].code), r->findings[i].message);
}
