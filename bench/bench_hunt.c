/* Times whole stoat runs and reads their peak memory, for `make bench`.
 *
 *   bench_hunt [-n RUNS] [--events N] [--bytes N] [--less-load S] [--copies K] -- COMMAND ARGS...
 *   bench_hunt --ratio [-n ROUNDS] -- COMMAND_A ARGS... -- COMMAND_B ARGS...
 *   bench_hunt --scaling K [-n ROUNDS] -- ONE_THREAD ARGS... -- K_THREADS ARGS...
 *
 * Runs COMMAND RUNS times (default 3) as a child process, with its standard
 * output and error discarded, and prints the minimum and median wall time,
 * the largest peak RSS (ru_maxrss from wait4), and, when the work size is
 * given, events/s and MB/s of the fastest run. Timing the whole process is
 * deliberate: it is what a user waits for, loading the rules included. With
 * --less-load S (the time loading the rules takes alone), the rates are also
 * printed without it: the hunting speed on an input too small to hide it.
 * With --copies K, each run is K copies of COMMAND started together and
 * timed until the last ends, the rates counting K times the work: what the
 * machine's cores give to runs that share nothing, the ceiling against which
 * one run's scaling over threads is judged (on a virtual machine, cores that
 * share a host's caches and memory bus give less than K times one).
 * With --ratio, two commands run by turns and each round's ratio of their
 * times is printed (see ratio_rounds). With --scaling K, a one-thread and a
 * K-thread run are judged against the ceiling of the same minutes (see
 * scaling_rounds). */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Seconds for one run: copies of cmd started together, timed until the
 * last ends; the largest peak RSS goes to *max_rss_kb. Negative: failed. */
static double time_run(char **cmd, int copies, long *max_rss_kb)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < copies; k++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return -1;
        }
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execvp(cmd[0], cmd);
            _exit(127);
        }
    }
    for (int k = 0; k < copies; k++) {
        int status;
        struct rusage ru;
        if (wait4(-1, &status, 0, &ru) < 0) {
            perror("wait4");
            return -1;
        }
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 1)) {
            fprintf(stderr, "bench_hunt: %s failed (status %d)\n", cmd[0], status);
            return -1;
        }
        if (ru.ru_maxrss > *max_rss_kb)
            *max_rss_kb = ru.ru_maxrss;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* --ratio: A and B run by turns (A B, then B A, ...: a drift of the
 * machine's speed falls on both alike), and what is printed is each round's
 * time of A over its time of B. On a virtual machine whose speed moves from
 * minute to minute, a ratio of two figures taken minutes apart says more
 * about the minutes than about the program; one of adjacent runs does not. */
static int ratio_rounds(char **a, char **b, int runs, const char *label)
{
    double *q = calloc((size_t)runs, sizeof(*q)), ta_min = 0, tb_min = 0;
    long rss = 0;
    for (int r = 0; r < runs; r++) {
        double ta, tb;
        if (r % 2 == 0) {
            ta = time_run(a, 1, &rss);
            tb = ta < 0 ? -1 : time_run(b, 1, &rss);
        } else {
            tb = time_run(b, 1, &rss);
            ta = tb < 0 ? -1 : time_run(a, 1, &rss);
        }
        if (ta <= 0 || tb <= 0) {
            free(q);
            return 1;
        }
        q[r] = ta / tb;
        ta_min = r && ta_min < ta ? ta_min : ta;
        tb_min = r && tb_min < tb ? tb_min : tb;
    }
    qsort(q, (size_t)runs, sizeof(*q), cmp_d);
    printf("%-44s ratio min %.2f  median %.2f  max %.2f  (%d rounds; min %.3f s over %.3f s)\n", label ? label : a[0],
           q[0], q[runs / 2], q[runs - 1], runs, ta_min, tb_min);
    free(q);
    return 0;
}

static void print_spread(const char *what, double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    printf("  %s min %.2f median %.2f max %.2f", what, v[0], v[n / 2], v[n - 1]);
}

/* --scaling K: each round runs the one-thread command alone, the K-thread
 * command alone and K copies of the one-thread command at once, in an order
 * that turns with the rounds. The speed-up is the one-thread time over the
 * K-thread time; the ceiling is what the cores gave K runs that share
 * nothing in the same minute (K times the one-thread time over the copies'
 * time). On a virtual machine the ceiling moves from minute to minute (its
 * cores share a host's caches and memory bus with other guests), so a
 * speed-up read without the ceiling of its own minute says little; their
 * quotient, the efficiency, is what the program's threading gives of what
 * the machine had to give. */
static int scaling_rounds(char **one, char **many, int k, int runs, const char *label)
{
    double *up = calloc((size_t)runs, sizeof(*up)), *ceil = calloc((size_t)runs, sizeof(*ceil));
    double *eff = calloc((size_t)runs, sizeof(*eff));
    long rss = 0;
    int ok = 1;
    for (int r = 0; r < runs && ok; r++) {
        double t[3] = {0, 0, 0}; /* one thread, K threads, K copies */
        for (int s = 0; s < 3 && ok; s++) {
            int which = (r + s) % 3;
            t[which] = time_run(which == 1 ? many : one, which == 2 ? k : 1, &rss);
            ok = t[which] > 0;
        }
        if (ok) {
            up[r] = t[0] / t[1];
            ceil[r] = k * t[0] / t[2];
            eff[r] = up[r] / ceil[r];
        }
    }
    if (ok) {
        printf("%-44s", label ? label : one[0]);
        print_spread("speed-up", up, runs);
        print_spread("ceiling", ceil, runs);
        print_spread("efficiency", eff, runs);
        printf("  (%d rounds)\n", runs);
    }
    free(up);
    free(ceil);
    free(eff);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int runs = 3, copies = 1, scaling = 0, i = 1;
    double events = 0, bytes = 0, load = 0;
    bool ratio = false;
    const char *label = NULL;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc)
            bytes = atof(argv[++i]);
        else if (!strcmp(argv[i], "--less-load") && i + 1 < argc)
            load = atof(argv[++i]);
        else if (!strcmp(argv[i], "--copies") && i + 1 < argc)
            copies = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--label") && i + 1 < argc)
            label = argv[++i];
        else if (!strcmp(argv[i], "--ratio"))
            ratio = true;
        else if (!strcmp(argv[i], "--scaling") && i + 1 < argc) {
            scaling = atoi(argv[++i]);
            scaling = scaling < 1 ? -1 : scaling; /* -1: refused below */
            ratio = true;                         /* two commands, as --ratio */
        }
    }
    char **cmd = argv + i + 1, **cmd_b = NULL;
    if (ratio && i < argc) { /* a second "--" ends A and starts B */
        for (int k = i + 1; k < argc; k++)
            if (!strcmp(argv[k], "--")) {
                argv[k] = NULL;
                cmd_b = argv + k + 1;
                break;
            }
    }
    if (i >= argc - 1 || runs < 1 || runs > 100 || copies < 1 || copies > 256 || scaling < 0 || scaling > 256 ||
        (ratio && (!cmd_b || !cmd_b[0] || !cmd[0]))) {
        fprintf(stderr,
                "usage: bench_hunt [-n RUNS] [--events N] [--bytes N] [--less-load S] [--copies K] [--label L] "
                "-- COMMAND ARGS...\n"
                "       bench_hunt --ratio [-n ROUNDS] [--label L] -- COMMAND_A ARGS... -- COMMAND_B ARGS...\n"
                "       bench_hunt --scaling K [-n ROUNDS] [--label L] -- ONE_THREAD ARGS... -- K_THREADS ARGS...\n");
        return 2;
    }
    if (scaling)
        return scaling_rounds(cmd, cmd_b, scaling, runs, label);
    if (ratio)
        return ratio_rounds(cmd, cmd_b, runs, label);
    double *t = calloc((size_t)runs, sizeof(*t));
    long max_rss_kb = 0;
    for (int r = 0; r < runs; r++) {
        t[r] = time_run(cmd, copies, &max_rss_kb);
        if (t[r] < 0) {
            free(t);
            return 1;
        }
    }
    events *= copies;
    bytes *= copies;
    qsort(t, (size_t)runs, sizeof(*t), cmp_d);
    printf("%-44s min %.3f s  median %.3f s  peak RSS %.1f MB", label ? label : cmd[0], t[0], t[runs / 2],
           (double)max_rss_kb / 1024.0);
    if (events > 0)
        printf("  %.0f events/s", events / t[0]);
    if (bytes > 0)
        printf("  %.1f MB/s", bytes / 1e6 / t[0]);
    if (load > 0 && t[0] > load && (events > 0 || bytes > 0)) {
        printf("\n%-44s", "  the same without loading the rules");
        if (events > 0)
            printf("  %.0f events/s", events / (t[0] - load));
        if (bytes > 0)
            printf("  %.1f MB/s", bytes / 1e6 / (t[0] - load));
    }
    printf("\n");
    free(t);
    return 0;
}
