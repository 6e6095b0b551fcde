/* Format detection and dispatch (placeholder until the container readers land:
 * everything is treated as raw pickle data). */
#include "scan.h"

void pj_scan_container(pj_scan_ctx *ctx, const uint8_t *data, size_t len, const char *location)
{
    if (ctx->depth == 0)
        ctx->report->format = "pickle";
    pj_scan_pickles(ctx, data, len, location, 0);
}
