/* Per-file cost of the sandbox: scan every file given (or every file of a
 * directory) with pj_scan_fd, sandboxed and in-process, ROUNDS times each
 * (alternating), and print the medians.  Linked against the release library.
 *
 *   bench_sandbox [-r ROUNDS] DIR */
#include "picklejail.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process and its reaped children (the scanner
 * children and the fork server): less sensitive than wall time to other
 * load on a shared machine. */
static double cpu(void)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(s.ru_utime.tv_sec + s.ru_stime.tv_sec + c.ru_utime.tv_sec + c.ru_stime.tv_sec) +
           (double)(s.ru_utime.tv_usec + s.ru_stime.tv_usec + c.ru_utime.tv_usec +
                    c.ru_stime.tv_usec) / 1e6;
}

/* Minor page faults of this process and its reaped children: each costs
 * ~1.5 us here, and a fresh child takes one for every page it writes. */
static double faults(void)
{
    struct rusage s, c;
    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &c);
    return (double)(s.ru_minflt + c.ru_minflt);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Seconds for one pass over all files; counts reports with sandbox findings. */
static double pass(char **paths, size_t n, const pj_options *o, size_t *odd, double *cpu_s,
                   double *faults_out)
{
    double t0 = now(), c0 = cpu(), f0 = faults();
    for (size_t i = 0; i < n; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            perror(paths[i]);
            exit(2);
        }
        pj_report *r = pj_scan_fd(fd, o, NULL);
        close(fd);
        for (size_t k = 0; r != NULL && k < r->n_findings; k++)
            if (r->findings[k].code >= 400 && r->findings[k].code < 500) {
                (*odd)++;
                break;
            }
        pj_report_free(r);
    }
    /* Reap the fork server, so that its CPU time counts too (the next
     * sandboxed pass starts a new one). */
    if (o->sandbox)
        pj_sandbox_shutdown();
    *cpu_s = cpu() - c0;
    *faults_out = faults() - f0;
    return now() - t0;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    int a = 1;
    if (argc > 3 && strcmp(argv[1], "-r") == 0) {
        rounds = atoi(argv[2]);
        a = 3;
    }
    if (a >= argc || rounds < 1 || rounds > 100) {
        fprintf(stderr, "usage: bench_sandbox [-r ROUNDS] DIR\n");
        return 2;
    }
    const char *dir = argv[a];
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return 2;
    }
    size_t n = 0, cap = 0;
    char **paths = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            paths = realloc(paths, cap * sizeof *paths);
        }
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        paths[n] = malloc(l);
        snprintf(paths[n], l, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "no files in %s\n", dir);
        return 2;
    }
    pj_options sb, ns;
    pj_options_default(&sb);
    sb.sandbox = true;
    ns = sb;
    ns.sandbox = false;
    double *ts = calloc((size_t)rounds, sizeof *ts), *tn = calloc((size_t)rounds, sizeof *tn);
    double *cs = calloc((size_t)rounds, sizeof *cs), *cn = calloc((size_t)rounds, sizeof *cn);
    double *fs = calloc((size_t)rounds, sizeof *fs), *fn = calloc((size_t)rounds, sizeof *fn);
    size_t odd = 0;
    double dummy;
    pass(paths, n < 100 ? n : 100, &sb, &odd, &dummy, &dummy); /* warm up: page cache, filter */
    odd = 0;
    for (int r = 0; r < rounds; r++) {
        tn[r] = pass(paths, n, &ns, &odd, &cn[r], &fn[r]);
        ts[r] = pass(paths, n, &sb, &odd, &cs[r], &fs[r]);
    }
    double ms = median(ts, rounds), mn = median(tn, rounds);
    double mcs = median(cs, rounds), mcn = median(cn, rounds);
    double mfs = median(fs, rounds), mfn = median(fn, rounds);
    double us = 1e6 / (double)n;
    printf("files: %zu, rounds: %d (medians)\n", n, rounds);
    printf("no-sandbox: %8.1f us/file wall %8.1f us/file cpu  %8.0f files/s\n", mn * us, mcn * us,
           (double)n / mn);
    printf("sandbox:    %8.1f us/file wall %8.1f us/file cpu  %8.0f files/s\n", ms * us, mcs * us,
           (double)n / ms);
    printf("overhead:   %8.1f us/file wall %8.1f us/file cpu\n", (ms - mn) * us, (mcs - mcn) * us);
    printf("page faults per file: %.1f no-sandbox, %.1f sandbox (children included)\n",
           mfn / (double)n, mfs / (double)n);
    if (odd != 0)
        printf("WARNING: %zu scans ended with a sandbox finding\n", odd);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(ts);
    free(tn);
    free(cs);
    free(cn);
    free(fs);
    free(fn);
    return odd != 0;
}
