/* Text output of `picklejail diagnose` (owned by the diagnosis work). */
#ifndef PJ_CLI_RENDER_DIAGNOSE_H
#define PJ_CLI_RENDER_DIAGNOSE_H

#include "picklejail.h"

#include <stdbool.h>
#include <stdio.h>

void pj_render_diagnosis(FILE *out, const char *path, const pj_report *r, bool color);

#endif
