/* -j N: scan files in N worker processes.  The walk has already produced the
 * job list; worker w takes jobs w, w+N, w+2N, ... and sends each rendered
 * file back on its own pipe, so the parent can print them in walk order by
 * reading the worker that owns the next job (no reordering buffers needed).
 * Each worker still runs every file in its own sandboxed child. */
#include "cli.h"
#include "progress.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct record_head {
    uint64_t len;
    uint8_t verdict;
    uint8_t failing;
} record_head;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void pj_cli_add_job(cli *c, const char *path, const char *error, uint64_t size)
{
    if (c->n_jobs == c->cap_jobs) {
        size_t ncap = c->cap_jobs ? c->cap_jobs * 2 : 64;
        pj_cli_job *nj = realloc(c->job_list, ncap * sizeof *nj);
        if (nj == NULL) {
            fprintf(stderr, "picklejail: out of memory listing files\n");
            exit(EXIT_USAGE);
        }
        c->job_list = nj;
        c->cap_jobs = ncap;
    }
    pj_cli_job *j = &c->job_list[c->n_jobs++];
    j->path = strdup(path);
    j->error = dup_or_null(error);
    j->size = size;
    j->is_stdin = false;
    if (j->path == NULL || (error && j->error == NULL)) {
        fprintf(stderr, "picklejail: out of memory listing files\n");
        exit(EXIT_USAGE);
    }
}

void pj_cli_free_jobs(cli *c)
{
    for (size_t i = 0; i < c->n_jobs; i++) {
        free(c->job_list[i].path);
        free(c->job_list[i].error);
    }
    free(c->job_list);
    c->job_list = NULL;
    c->n_jobs = c->cap_jobs = 0;
    for (size_t i = 0; i < c->skipped.n; i++) {
        free(c->skipped.items[i].path);
        free(c->skipped.items[i].message);
    }
    free(c->skipped.items);
    memset(&c->skipped, 0, sizeof c->skipped);
}

unsigned pj_cli_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    /* A container or taskset may allow fewer CPUs than are online. */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 &&
        (n < 1 || CPU_COUNT(&set) < n))
        n = CPU_COUNT(&set);
    if (n < 1)
        n = 1;
    return n > 64 ? 64 : (unsigned)n;
}

void pj_cli_run_all(cli *c)
{
    if (c->jobs > 1 && c->n_jobs > 1) {
        pj_cli_run_parallel(c);
        return;
    }
    for (size_t i = 0; i < c->n_jobs; i++) {
        pj_cli_run_job(c, &c->job_list[i]);
        if (c->format == FMT_JSONL)
            fflush(stdout); /* streaming consumers see each file as it completes */
        pj_progress_file_done(c->progress, c->job_list[i].size);
    }
}

static bool write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Render one job into memory. */
static char *render_job(cli *c, const pj_cli_job *j, size_t *len)
{
    char *buf = NULL;
    FILE *mem = open_memstream(&buf, len);
    if (mem == NULL)
        return NULL;
    c->out = mem;
    pj_cli_run_job(c, j);
    c->out = NULL;
    if (fclose(mem) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void worker(cli *c, unsigned w, int fd)
{
    c->worker = true;
    for (size_t i = w; i < c->n_jobs; i += c->jobs) {
        size_t len = 0;
        char *buf = render_job(c, &c->job_list[i], &len);
        record_head h = {buf ? len : 0, (uint8_t)c->last_verdict, c->last_failing};
        if (buf == NULL) {
            h.verdict = PJ_VERDICT_ERROR;
            memset(&c->last_codes, 0, sizeof c->last_codes);
        }
        /* The file's finding codes follow the head, for the run summary. */
        bool ok = write_all(fd, &h, sizeof h) &&
                  write_all(fd, &c->last_codes, sizeof c->last_codes) &&
                  write_all(fd, buf ? buf : "", h.len);
        free(buf);
        if (!ok)
            break;
    }
    close(fd);
}

void pj_cli_run_parallel(cli *c)
{
    unsigned n = c->jobs;
    if (n > c->n_jobs)
        n = c->n_jobs ? (unsigned)c->n_jobs : 1;
    int fds[64];
    pid_t pids[64];
    bool alive[64];
    fflush(stdout);
    unsigned started = 0;
    c->jobs = n;
    for (unsigned w = 0; w < n; w++) {
        int p[2];
        if (pipe(p) != 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            break;
        }
        if (pid == 0) {
            close(p[0]);
            for (unsigned k = 0; k < started; k++)
                close(fds[k]);
            worker(c, w, p[1]);
            _exit(0);
        }
        close(p[1]);
        fds[w] = p[0];
        pids[w] = pid;
        alive[w] = true;
        started++;
    }
    if (started < n) {
        /* Could not start every worker: scan the jobs of the missing ones here. */
        for (unsigned w = started; w < n; w++)
            alive[w] = false;
    }
    bool printed = false;
    for (size_t i = 0; i < c->n_jobs; i++) {
        unsigned w = (unsigned)(i % n);
        record_head h;
        pj_file_codes fc;
        char *buf = NULL;
        size_t len = 0;
        if (alive[w] && read_all(fds[w], &h, sizeof h) && read_all(fds[w], &fc, sizeof fc) &&
            h.len < ((uint64_t)1 << 34) && h.verdict <= PJ_VERDICT_ERROR &&
            (buf = malloc(h.len + 1)) != NULL && read_all(fds[w], buf, h.len)) {
            len = (size_t)h.len;
            pj_summary_add(&c->codes, &fc); /* checked there: a bad record adds nothing */
        } else {
            free(buf);
            buf = NULL;
            if (w < started && alive[w]) {
                alive[w] = false;
                fprintf(stderr, "picklejail: scan worker %u ended early; scanning its files here\n", w);
            }
            /* Scan the job in this process instead (still sandboxed per file). */
            bool was_worker = c->worker;
            c->worker = true;
            buf = render_job(c, &c->job_list[i], &len);
            c->worker = was_worker;
            h.verdict = (uint8_t)c->last_verdict;
            h.failing = c->last_failing;
            if (buf == NULL)
                h.verdict = PJ_VERDICT_ERROR;
        }
        if (buf != NULL && len > 0) {
            pj_progress_clear(c->progress);
            if (printed && (c->format == FMT_JSON || c->format == FMT_SARIF))
                fputc(',', stdout);
            fwrite(buf, 1, len, stdout);
            if (c->format == FMT_JSONL)
                fflush(stdout);
            printed = true;
        }
        free(buf);
        c->counts[h.verdict]++;
        c->nfiles++;
        if (h.verdict == PJ_VERDICT_ERROR)
            c->any_error = true;
        if (h.failing)
            c->any_failing = true;
        pj_progress_file_done(c->progress, c->job_list[i].size);
    }
    for (unsigned w = 0; w < started; w++) {
        close(fds[w]);
        int st;
        while (waitpid(pids[w], &st, 0) < 0 && errno == EINTR) {
        }
    }
}
