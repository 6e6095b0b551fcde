/* -j N: scan files in N worker processes.  The walk has already produced the
 * job list; the parent hands job indices to the workers with the shortest
 * queues on their command pipes, each worker sends the rendered files back
 * on its result pipe, and the parent prints results in list order (a
 * bounded window of finished jobs waits for its turn).  Each worker still
 * runs every file in its own sandboxed child. */
#include "cli.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct record_head {
    uint64_t index; /* the job this answers */
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
    j->walked = false;
    j->root_len = 0;
    j->unsized = false;
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

/* Is another job already waiting on the command pipe? */
static bool command_waiting(int cmd)
{
    struct pollfd p = {.fd = cmd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

enum { QUEUE_MAX = 16, QUEUE_BYTES = 1 << 20 };

/* A worker: reads job indices from cmd until EOF, answers each with a
 * record (head, the file's codes, the rendered text) on res. */
static void worker(cli *c, int cmd, int res)
{
    c->worker = true;
    c->progress = NULL; /* the parent owns the terminal */
    /* Finished records are sent in small batches while more jobs are
     * queued: every write wakes the parent, and on this kind of machine a
     * wake-up costs as much as a tenth of a small file's scan.  A batch
     * goes out when no job is waiting (the worker would block) or at half
     * the queue, so the parent refills it while the rest is scanned. */
    char *batch = NULL;
    size_t batch_len = 0;
    FILE *pending = open_memstream(&batch, &batch_len);
    unsigned batched = 0;
    bool ok = pending != NULL;
    uint64_t i;
    while (ok && read_all(cmd, &i, sizeof i) && i < c->n_jobs) {
        size_t len = 0;
        char *buf = render_job(c, &c->job_list[i], &len);
        record_head h;
        memset(&h, 0, sizeof h); /* no uninitialised padding on the pipe */
        h.index = i;
        h.len = buf ? len : 0;
        h.verdict = (uint8_t)c->last_verdict;
        h.failing = c->last_failing;
        if (buf == NULL) {
            h.verdict = PJ_VERDICT_ERROR;
            memset(&c->last_codes, 0, sizeof c->last_codes);
        }
        /* The file's finding codes follow the head, for the run summary. */
        ok = fwrite(&h, sizeof h, 1, pending) == 1 &&
             fwrite(&c->last_codes, sizeof c->last_codes, 1, pending) == 1 &&
             (h.len == 0 || fwrite(buf, h.len, 1, pending) == 1);
        free(buf);
        batched++;
        if (ok && (batched >= QUEUE_MAX / 2 || !command_waiting(cmd))) {
            ok = fflush(pending) == 0 && write_all(res, batch, batch_len);
            rewind(pending);
            batched = 0;
        }
    }
    if (ok && batched > 0 && fflush(pending) == 0)
        (void)write_all(res, batch, batch_len);
    if (pending != NULL)
        fclose(pending);
    free(batch);
    close(cmd);
    close(res);
}

/* A finished job waiting for its turn to be printed. */
typedef struct done_job {
    char *buf;
    size_t len;
    uint8_t verdict;
    bool failing;
    bool done;
} done_job;

/* Finished jobs waiting to be printed: at most this many, and no new job is
 * handed out while their text holds more than WINDOW_BYTES. */
enum { WINDOW_JOBS = 4096 };
#define WINDOW_BYTES ((size_t)256 << 20)

typedef struct pool {
    unsigned n;
    int cmd[64], res[64];
    pid_t pid[64];
    bool alive[64];
    /* Jobs sent to each worker and not yet answered, oldest first: a
     * worker finds its next job already queued instead of waiting for the
     * parent to wake up (which costs most on a loaded machine). */
    uint64_t queue[64][QUEUE_MAX];
    unsigned q_head[64], q_n[64];
    uint64_t q_bytes[64];
    unsigned q_unsized[64]; /* queued jobs of unknown size (stdin, fifos) */
    size_t held; /* bytes of finished text not yet printed */
} pool;

/* May job j go to worker w now?  An idle worker takes anything; behind a
 * queued job only small files queue (up to QUEUE_MAX, QUEUE_BYTES in all),
 * so no file waits behind a big one while another worker is free. */
static bool can_queue(const pool *p, unsigned w, const pj_cli_job *j)
{
    if (!p->alive[w] || p->q_n[w] >= QUEUE_MAX)
        return false;
    if (p->q_n[w] == 0)
        return true;
    return !j->unsized && p->q_unsized[w] == 0 && p->q_bytes[w] + j->size <= QUEUE_BYTES;
}

/* Scan job i in this process (a worker died or none could start). */
static void scan_here(cli *c, pool *p, size_t i, done_job *d)
{
    bool was_worker = c->worker;
    c->worker = true;
    d->buf = render_job(c, &c->job_list[i], &d->len);
    c->worker = was_worker;
    d->verdict = d->buf ? (uint8_t)c->last_verdict : PJ_VERDICT_ERROR;
    d->failing = d->buf ? c->last_failing : false;
    d->done = true;
    p->held += d->len;
    pj_progress_file_done(c->progress, c->job_list[i].size); /* done, maybe not printed yet */
}

/* Reads worker w's answer; false if the worker is gone or sent garbage. */
static bool read_record(cli *c, pool *p, unsigned w, done_job *ring, size_t window)
{
    record_head h;
    pj_file_codes fc;
    char *buf = NULL;
    if (!read_all(p->res[w], &h, sizeof h) || !read_all(p->res[w], &fc, sizeof fc) ||
        p->q_n[w] == 0 || h.index != p->queue[w][p->q_head[w]] || h.len >= ((uint64_t)1 << 34) ||
        h.verdict > PJ_VERDICT_ERROR || (buf = malloc(h.len + 1)) == NULL ||
        !read_all(p->res[w], buf, h.len)) {
        free(buf);
        return false;
    }
    pj_summary_add(&c->codes, &fc); /* checked there: a bad record adds nothing */
    done_job *d = &ring[h.index % window];
    d->buf = buf;
    d->len = (size_t)h.len;
    d->verdict = h.verdict;
    d->failing = h.failing;
    d->done = true;
    p->held += d->len;
    pj_progress_file_done(c->progress, c->job_list[h.index].size);
    p->q_bytes[w] -= c->job_list[h.index].size;
    p->q_unsized[w] -= c->job_list[h.index].unsized;
    p->q_head[w] = (p->q_head[w] + 1) % QUEUE_MAX;
    p->q_n[w]--;
    return true;
}

static void worker_lost(cli *c, pool *p, unsigned w, done_job *ring, size_t window)
{
    fprintf(stderr, "picklejail: scan worker %u ended early; its file is scanned here, the others go on\n", w);
    p->alive[w] = false;
    close(p->cmd[w]);
    close(p->res[w]);
    for (; p->q_n[w] > 0; p->q_n[w]--) {
        uint64_t i = p->queue[w][p->q_head[w]];
        scan_here(c, p, (size_t)i, &ring[i % window]);
        p->q_head[w] = (p->q_head[w] + 1) % QUEUE_MAX;
    }
    p->q_bytes[w] = 0;
    p->q_unsized[w] = 0;
}

static void print_done(cli *c, done_job *d, bool *printed)
{
    if (d->buf != NULL && d->len > 0) {
        pj_progress_clear(c->progress);
        if (*printed && (c->format == FMT_JSON || c->format == FMT_SARIF))
            fputc(',', stdout);
        fwrite(d->buf, 1, d->len, stdout);
        if (c->format == FMT_JSONL)
            fflush(stdout); /* streaming consumers see each file as it completes */
        *printed = true;
    }
    free(d->buf);
    c->counts[d->verdict]++;
    c->nfiles++;
    if (d->verdict == PJ_VERDICT_ERROR)
        c->any_error = true;
    if (d->failing)
        c->any_failing = true;
    memset(d, 0, sizeof *d);
}

void pj_cli_run_parallel(cli *c)
{
    unsigned n = c->jobs;
    if (n > c->n_jobs)
        n = c->n_jobs ? (unsigned)c->n_jobs : 1;
    if (n > 64)
        n = 64;
    pool p;
    memset(&p, 0, sizeof p);
    fflush(stdout);
    c->jobs = n;
    /* A worker dying must not kill the parent on its next write. */
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);
    for (unsigned w = 0; w < n; w++) {
        int cp[2], rp[2];
        if (pipe2(cp, O_CLOEXEC) != 0)
            break;
        if (pipe2(rp, O_CLOEXEC) != 0) {
            close(cp[0]);
            close(cp[1]);
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            close(cp[0]);
            close(cp[1]);
            close(rp[0]);
            close(rp[1]);
            break;
        }
        if (pid == 0) {
            sigaction(SIGPIPE, &old_pipe, NULL);
            close(cp[1]);
            close(rp[0]);
            for (unsigned k = 0; k < p.n; k++) {
                close(p.cmd[k]);
                close(p.res[k]);
            }
            worker(c, cp[0], rp[1]);
            _exit(0);
        }
        close(cp[0]);
        close(rp[1]);
        p.cmd[w] = cp[1];
        p.res[w] = rp[0];
        p.pid[w] = pid;
        p.alive[w] = true;
        p.n++;
    }
    /* Jobs are handed to whichever worker is free (a large file does not hold
     * up the files after it), and printed in input order: finished jobs wait
     * in a ring of WINDOW slots, and no job more than WINDOW past the next one
     * to print is handed out, which bounds the memory held. */
    size_t window = WINDOW_JOBS;
    done_job *ring = calloc(window, sizeof *ring);
    if (ring == NULL) {
        fprintf(stderr, "picklejail: out of memory\n");
        exit(EXIT_USAGE);
    }
    size_t next_job = 0, next_print = 0;
    bool printed = false;
    while (next_print < c->n_jobs) {
        /* Hand out work, each job to the live worker with the shortest queue. */
        while (next_job < c->n_jobs && next_job < next_print + window &&
               p.held < WINDOW_BYTES) {
            unsigned best = p.n;
            for (unsigned w = 0; w < p.n; w++)
                if (can_queue(&p, w, &c->job_list[next_job]) &&
                    (best == p.n || p.q_n[w] < p.q_n[best]))
                    best = w;
            if (best == p.n)
                break;
            uint64_t idx = next_job++;
            p.queue[best][(p.q_head[best] + p.q_n[best]) % QUEUE_MAX] = idx;
            p.q_n[best]++;
            p.q_bytes[best] += c->job_list[idx].size;
            p.q_unsized[best] += c->job_list[idx].unsized;
            if (!write_all(p.cmd[best], &idx, sizeof idx))
                worker_lost(c, &p, best, ring, window);
        }
        /* Print what is ready, in order. */
        while (next_print < c->n_jobs && ring[next_print % window].done) {
            p.held -= ring[next_print % window].len;
            print_done(c, &ring[next_print % window], &printed);
            next_print++;
        }
        if (next_print >= c->n_jobs)
            break;
        struct pollfd pfd[64];
        unsigned who[64], np = 0;
        for (unsigned w = 0; w < p.n; w++) {
            if (p.alive[w] && p.q_n[w] > 0) {
                pfd[np].fd = p.res[w];
                pfd[np].events = POLLIN;
                who[np++] = w;
            }
        }
        if (np == 0) {
            /* No worker left (or none started): scan the next job here. */
            if (next_job < c->n_jobs && next_job < next_print + window) {
                scan_here(c, &p, next_job, &ring[next_job % window]);
                next_job++;
            }
            continue;
        }
        /* With a progress bar, wake now and then to redraw its rate and ETA
         * while long files are scanned. */
        int pr = poll(pfd, np, c->progress ? 250 : -1);
        if (pr == 0) {
            pj_progress_tick(c->progress);
            continue;
        }
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            for (unsigned k = 0; k < np; k++)
                worker_lost(c, &p, who[k], ring, window);
            continue;
        }
        for (unsigned k = 0; k < np; k++) {
            if (pfd[k].revents == 0)
                continue;
            if (!read_record(c, &p, who[k], ring, window))
                worker_lost(c, &p, who[k], ring, window);
        }
    }
    free(ring);
    for (unsigned w = 0; w < p.n; w++) {
        if (p.alive[w]) {
            close(p.cmd[w]); /* EOF: the worker exits */
            close(p.res[w]);
        }
        int st;
        while (waitpid(p.pid[w], &st, 0) < 0 && errno == EINTR) {
        }
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
}
