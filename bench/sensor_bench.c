/* Sensor benchmark: figures, never pass/fail.
 *
 *   sensor_bench storm SECONDS [--sensor] [--fallback]
 *       every core forks+execs /bin/true (with a marker argument) as fast as it
 *       can for SECONDS; prints the processes spawned and the rate. With
 *       --sensor the sensor runs in a child process during the storm (watching
 *       one directory, so the open hooks are live too) and the events it got,
 *       the execs recorded with their argv, and its losses are printed.
 *   sensor_bench storm SECONDS --files [--sensor]
 *       the same, but each worker loops over file operations outside every
 *       watch (create+write, read of /etc/passwd, rename, chmod, unlink in
 *       /tmp): what the default file set's kernel filter costs the rest of
 *       the system; prints rounds/s (5 operations a round).
 *       env: STOAT_BENCH_NOWATCH=1 runs the sensor without its one watched
 *       directory, STOAT_BENCH_NODEFAULTS=1 without the default file set.
 *   sensor_bench watch [--fallback]
 *       runs the sensor until SIGTERM/SIGINT, then prints event and loss
 *       counts (used around a build, by bench/sensor_bench.sh).
 *
 * Why like this: the sensor runs in its own process, as `stoat watch` would,
 * so its consumer competes for the same two cores as the storm: the storm's
 * slowdown is the whole cost (kernel hooks + ring buffer + user-space
 * decoding). The marker argument lets us count exactly the storm's execs.
 */
#include "sensor/sensor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct counts {
    unsigned long long events, execs_marked, execs_argv_ok, forks, exits;
    const char *marker;
};

static int count_ev(void *ctx, const struct sensor_event *ev)
{
    struct counts *c = ctx;
    c->events++;
    if (ev->kind == SENSOR_FORK)
        c->forks++;
    else if (ev->kind == SENSOR_EXIT)
        c->exits++;
    else if (ev->kind == SENSOR_EXEC && ev->argv && ev->argc == 2) {
        const char *a1 = ev->argv + strlen(ev->argv) + 1;
        if ((size_t)(a1 - ev->argv) < ev->argv_len && strcmp(a1, c->marker) == 0) {
            c->execs_marked++;
            if (strcmp(ev->argv, "/bin/true") == 0 && ev->image)
                c->execs_argv_ok++;
        }
    }
    return 0;
}

/* runs the sensor until SIGTERM; writes "R" to ready_fd once capturing */
static int run_sensor(bool fallback, const char *marker, int ready_fd)
{
    static const char *watch[] = {"/tmp/stoat-bench-jewels"};
    struct sensor_opts o = {.watch_paths = watch,
                            .nwatch = getenv("STOAT_BENCH_NOWATCH") ? 0 : 1,
                            .force_fallback = fallback,
                            .no_default_files = getenv("STOAT_BENCH_NODEFAULTS") != NULL};
    struct sensor *s = NULL;
    struct sensor_stats st;
    struct counts c = {.marker = marker};
    char err[1024];
    int ret = 1;

    mkdir(watch[0], 0700);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    if (sensor_open(&o, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "sensor_open: %s\n", err);
        goto out;
    }
    if (ready_fd >= 0 && write(ready_fd, "R", 1) != 1)
        goto out;
    while (!stop)
        sensor_poll(s, 100, count_ev, &c);
    while (sensor_poll(s, 50, count_ev, &c) > 0)
        ;
    sensor_stats(s, &st);
    printf("sensor mode: %.40s\n", sensor_mode(s));
    printf("sensor events: %llu (exec with marker: %llu, with argv+image: %llu; fork %llu; exit %llu)\n", c.events,
           c.execs_marked, c.execs_argv_ok, c.forks, c.exits);
    printf("sensor lost: %llu", (unsigned long long)st.lost_total);
    for (int l = 0; l < SENSOR_LOST_MAX_; l++)
        if (st.lost[l])
            printf(" %s=%llu", sensor_loss_name(l), (unsigned long long)st.lost[l]);
    printf("\n");
    if (st.bpf_run_cnt)
        printf("sensor kernel programs: %llu runs, %.3f s, %.0f ns per run\n", (unsigned long long)st.bpf_run_cnt,
               (double)st.bpf_run_ns / 1e9, (double)st.bpf_run_ns / (double)st.bpf_run_cnt);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("sensor process cpu (including loading): user %.2f s, sys %.2f s\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    fflush(stdout);
    ret = 0;
out:
    sensor_close(s);
    return ret;
}

static double cpu_children(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static double storm_cpu; /* CPU seconds of the workers and their children */
static bool file_storm;  /* file operations instead of execs */

/* one round of file operations outside every watch (5 operations) */
static void file_round(const char *a, const char *b)
{
    int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1) {
        }
        close(fd);
    }
    fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0)
        close(fd);
    if (rename(a, b) == 0) {
        chmod(b, 0640);
        unlink(b);
    }
}

static unsigned long long storm(double secs, const char *marker)
{
    double cpu0 = cpu_children();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned long long *cnt = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    unsigned long long total = 0;
    if (cnt == MAP_FAILED)
        return 0;
    pid_t pids[64];
    if (ncpu < 1 || ncpu > 64)
        ncpu = 1;
    for (long w = 0; w < ncpu; w++) {
        pid_t p = pids[w] = fork();
        if (p == 0) {
            double end = now_s() + secs;
            unsigned long long n = 0;
            char *const av[] = {"/bin/true", (char *)marker, NULL};
            char *const envp[] = {NULL};
            char fa[64], fb[64];
            snprintf(fa, sizeof(fa), "/tmp/stoat-bench-%d-a", (int)getpid());
            snprintf(fb, sizeof(fb), "/tmp/stoat-bench-%d-b", (int)getpid());
            while (file_storm && now_s() < end) {
                for (int k = 0; k < 64; k++)
                    file_round(fa, fb);
                n += 64;
            }
            while (!file_storm && now_s() < end) {
                pid_t c = fork();
                if (c == 0) {
                    execve("/bin/true", av, envp);
                    _exit(127);
                }
                if (c < 0)
                    continue;
                waitpid(c, NULL, 0);
                n++;
            }
            cnt[w] = n;
            _exit(0);
        }
    }
    for (long w = 0; w < ncpu; w++)
        if (pids[w] > 0)
            waitpid(pids[w], NULL, 0);
    storm_cpu = cpu_children() - cpu0;
    for (long w = 0; w < ncpu; w++)
        total += cnt[w];
    munmap(cnt, 4096);
    return total;
}

int main(int argc, char **argv)
{
    char marker[64];
    bool with_sensor = false, fallback = false;
    double secs = 10;
    snprintf(marker, sizeof(marker), "stoat-storm-%d-%ld", (int)getpid(), (long)time(NULL));
    if (argc >= 2 && strcmp(argv[1], "watch") == 0) {
        fallback = argc >= 3 && strcmp(argv[2], "--fallback") == 0;
        return run_sensor(fallback, marker, -1);
    }
    if (argc < 3 || strcmp(argv[1], "storm") != 0) {
        fprintf(stderr, "usage: %s storm SECONDS [--sensor] [--fallback] [--files] | watch [--fallback]\n", argv[0]);
        return 2;
    }
    secs = atof(argv[2]);
    if (secs <= 0 || secs > 120)
        secs = 10;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--sensor") == 0)
            with_sensor = true;
        else if (strcmp(argv[i], "--fallback") == 0)
            with_sensor = fallback = true;
        else if (strcmp(argv[i], "--files") == 0)
            file_storm = true;
    }
    if (getenv("STOAT_BENCH_MARKER"))
        snprintf(marker, sizeof(marker), "%s", getenv("STOAT_BENCH_MARKER"));

    pid_t sp = -1;
    if (with_sensor) {
        int pfd[2];
        char b;
        if (pipe(pfd) < 0)
            return 1;
        fflush(stdout);
        sp = fork();
        if (sp == 0) {
            close(pfd[0]);
            _exit(run_sensor(fallback, marker, pfd[1]));
        }
        close(pfd[1]);
        if (read(pfd[0], &b, 1) != 1) {
            fprintf(stderr, "sensor did not start\n");
            waitpid(sp, NULL, 0);
            return 1;
        }
        close(pfd[0]);
    }
    printf("storm marker: %s\n", marker);
    double t0 = now_s();
    unsigned long long n = storm(secs, marker);
    double dt = now_s() - t0;
    if (file_storm)
        printf("storm: %llu file rounds in %.2f s = %.0f rounds/s (%ld workers)\n", n, dt, (double)n / dt,
               sysconf(_SC_NPROCESSORS_ONLN));
    else
        printf("storm: %llu processes in %.2f s = %.0f exec/s (%ld workers)\n", n, dt, (double)n / dt,
               sysconf(_SC_NPROCESSORS_ONLN));
    printf("storm cpu: %.1f us per process (user+sys of the workers and their children)\n",
           n ? storm_cpu * 1e6 / (double)n : 0.0);
    fflush(stdout);
    if (sp > 0) {
        usleep(300000);
        kill(sp, SIGTERM);
        waitpid(sp, NULL, 0);
    }
    return 0;
}
