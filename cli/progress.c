/* Progress bar (see progress.h).  One write(2) per redraw, so the line is
 * never interleaved with itself, and "\r...\033[K" so it redraws in place. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct pj_progress {
    size_t total_files, done_files;
    uint64_t total_bytes, done_bytes;
    uint64_t start_ms, last_draw_ms, delay_ms;
    bool drawn;       /* the bar is on the screen now */
    bool stdout_tty;  /* report lines go to the same terminal: erase first */
};

enum { REDRAW_MS = 100, DEFAULT_DELAY_MS = 700, BAR = 24 };

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

pj_progress *pj_progress_new(size_t total_files, uint64_t total_bytes, bool enabled)
{
    if (!enabled || !isatty(STDERR_FILENO))
        return NULL;
    pj_progress *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->total_files = total_files;
    p->total_bytes = total_bytes;
    p->start_ms = now_ms();
    p->delay_ms = DEFAULT_DELAY_MS;
    const char *d = getenv("PICKLEJAIL_PROGRESS_DELAY_MS");
    if (d != NULL && *d) {
        char *end;
        unsigned long long v = strtoull(d, &end, 10);
        if (*end == '\0' && v <= 86400000ull)
            p->delay_ms = v;
    }
    p->stdout_tty = isatty(STDOUT_FILENO);
    return p;
}

static void put_raw(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return; /* a progress bar is not worth retrying or failing for */
        s += w;
        n -= (size_t)w;
    }
}

static void human(char *buf, size_t cap, double bytes)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

static void draw(pj_progress *p, uint64_t now)
{
    double secs = (double)(now - p->start_ms) / 1000.0;
    double frac = p->total_files ? (double)p->done_files / (double)p->total_files : 0;
    /* Bytes measure the remaining work better than files when sizes differ. */
    double bfrac = p->total_bytes ? (double)p->done_bytes / (double)p->total_bytes : frac;
    if (bfrac > 1)
        bfrac = 1;
    char done[32], total[32], rate[32], eta[32] = "";
    human(done, sizeof done, (double)p->done_bytes);
    human(total, sizeof total, (double)p->total_bytes);
    human(rate, sizeof rate, secs > 0 ? (double)p->done_bytes / secs : 0);
    if (bfrac > 0 && bfrac < 1 && secs > 0) {
        double left = secs * (1 - bfrac) / bfrac;
        unsigned long s = left > 359999 ? 359999 : (unsigned long)left;
        snprintf(eta, sizeof eta, "  ETA %lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    }
    char info[192], extra[48];
    int n = snprintf(info, sizeof info, "%zu/%zu files  %s/%s  %s/s%s", p->done_files,
                     p->total_files, done, total, rate, eta);
    int ne = snprintf(extra, sizeof extra, "  %.0f files/s",
                      secs > 0 ? (double)p->done_files / secs : 0.0);
    if (n < 0 || ne < 0)
        return;
    size_t ilen = (size_t)n < sizeof info ? (size_t)n : sizeof info - 1;
    size_t elen = (size_t)ne < sizeof extra ? (size_t)ne : sizeof extra - 1;
    /* Never wider than the terminal (a wrapped line cannot be redrawn in
     * place): files/s goes first, then the bar shrinks and goes, then the
     * text is cut. */
    size_t cols = 80;
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        cols = ws.ws_col;
    size_t width = cols - 1, bar = 0;
    if (width >= ilen + elen + 3 + 8 && ilen + elen < sizeof info) {
        memcpy(info + ilen, extra, elen + 1);
        ilen += elen;
    }
    if (width > ilen + 3 + 8)
        bar = width - ilen - 3 < BAR ? width - ilen - 3 : BAR;
    char line[260];
    size_t len = 0;
    line[len++] = '\r';
    if (bar > 0) {
        size_t fill = (size_t)(frac * (double)bar);
        line[len++] = '[';
        for (size_t i = 0; i < bar; i++)
            line[len++] = i < fill ? '#' : '-';
        line[len++] = ']';
        line[len++] = ' ';
    }
    size_t room = width > len - 1 ? width - (len - 1) : 0;
    if (ilen > room)
        ilen = room;
    memcpy(line + len, info, ilen);
    len += ilen;
    memcpy(line + len, "\033[K", 3);
    put_raw(line, len + 3);
    p->drawn = true;
    p->last_draw_ms = now;
}

void pj_progress_file_done(pj_progress *p, uint64_t bytes)
{
    if (p == NULL)
        return;
    p->done_files++;
    p->done_bytes += bytes;
    uint64_t now = now_ms();
    if (now - p->start_ms < p->delay_ms)
        return;
    /* At most every 100 ms (also after report lines erased it). */
    if (p->last_draw_ms != 0 && now - p->last_draw_ms < REDRAW_MS &&
        p->done_files != p->total_files)
        return;
    draw(p, now);
}

void pj_progress_tick(pj_progress *p)
{
    if (p == NULL)
        return;
    uint64_t now = now_ms();
    if (now - p->start_ms < p->delay_ms ||
        (p->last_draw_ms != 0 && now - p->last_draw_ms < REDRAW_MS))
        return;
    draw(p, now);
}

void pj_progress_clear(pj_progress *p)
{
    if (p == NULL || !p->drawn || !p->stdout_tty)
        return;
    put_raw("\r\033[K", 4);
    p->drawn = false;
}

void pj_progress_free(pj_progress *p)
{
    if (p == NULL)
        return;
    if (p->drawn)
        put_raw("\r\033[K", 4);
    free(p);
}
