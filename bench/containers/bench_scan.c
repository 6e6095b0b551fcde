/* In-process timing of one scan (pj_scan_buffer on a read-only mapping of
 * the file): what the container readers and the VM cost, without process
 * start-up, policy loading or the sandbox.  Prints the median and minimum of
 * N runs in milliseconds and the peak RSS.  Usage: bench_scan FILE [N] */
#include "picklejail.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [N]\n", argv[0]);
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 11;
    if (n < 1 || n > 1000)
        n = 11;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 2;
    }
    const uint8_t *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    pj_options o;
    pj_options_default(&o);
    o.sandbox = false;
    double *ms = calloc((size_t)n, sizeof *ms);
    size_t streams = 0;
    const char *format = "?";
    for (int i = 0; i < n; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pj_report *r = pj_scan_buffer(p, (size_t)st.st_size, &o);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        if (r != NULL) {
            streams = r->n_streams;
            format = r->format; /* static strings */
            pj_report_free(r);
        }
    }
    qsort(ms, (size_t)n, sizeof *ms, cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s: %lld bytes, format %s, %zu streams: in-process scan median %.3f ms, min %.3f ms "
           "(%d runs), peak RSS %ld KiB\n",
           argv[1], (long long)st.st_size, format, streams, ms[n / 2], ms[0], n, ru.ru_maxrss);
    free(ms);
    munmap((void *)p, (size_t)st.st_size);
    close(fd);
    return 0;
}
