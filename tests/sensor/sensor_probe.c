/* Test driver for the sensor: opens it on the watched paths given, prints
 * "READY <mode>" once capture runs, then one line per event (the Sigma fields
 * the engine would see, tab-separated Name=Value, plus a few raw values), and
 * on SIGINT/SIGTERM the loss counters. tests/sensor/run.sh greps these lines.
 * Kept dumb on purpose: the assertions live in the script, next to the
 * commands they check.
 *
 * With --user, the probe then tries what the dropped privileges must refuse,
 * from inside the process that holds the sensor: creating a file in /etc
 * and attaching with ptrace to each --try-ptrace PID, and prints
 * "PRIVS etc=<result> ptrace:<pid>=<result>..." (OK or the errno's name)
 * before READY.
 *
 * --ringbuf KIB and --stall SECONDS (no reading for that long after READY)
 * make the kernel drop records, to check that losses are still counted after
 * the privileges are gone.
 *
 * usage: sensor_probe [--fallback] [--keep-privs] [--user NAME] [--try-ptrace PID]...
 *                     [--ringbuf KIB] [--stall SECONDS] [--quiet] [--watch PATH]...
 *                     [--watch-file PATH]... [--no-default-files]
 */
#include "sensor/sensor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

struct pctx {
    struct sensor *s;
    FILE *out;
    bool quiet;
    unsigned long long n;
};

static int emit(void *ctx, const char *name, const char *value)
{
    FILE *out = ctx;
    fputc('\t', out);
    fputs(name, out);
    fputc('=', out);
    for (const char *p = value; *p; p++)
        fputc(*p == '\t' || *p == '\n' ? ' ' : *p, out);
    return 0;
}

static int on_event(void *ctx, const struct sensor_event *ev)
{
    struct pctx *p = ctx;
    p->n++;
    if (p->quiet)
        return 0;
    fprintf(p->out, "EV %s\tpid=%u\tppid=%u\tstart=%llu\tpstart=%llu\targc=%u\targv_len=%zu\tflags=%#x",
            sensor_kind_name(ev->kind), ev->tgid, ev->ppid, (unsigned long long)ev->start_time_ns,
            (unsigned long long)ev->parent_start_time_ns, ev->argc, ev->argv_len, ev->flags);
    sensor_event_fields(p->s, ev, emit, p->out);
    fputc('\n', p->out);
    return 0;
}

static const char *result(int rc)
{
    if (rc == 0)
        return "OK";
    switch (errno) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    default: return strerror(errno);
    }
}

/* What the dropped privileges must refuse, tried for real. */
static void try_privs(const pid_t *targets, int ntargets)
{
    char path[64];
    snprintf(path, sizeof(path), "/etc/.stoat-probe-%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    printf("PRIVS etc=%s", result(fd < 0 ? -1 : 0));
    if (fd >= 0) {
        close(fd);
        unlink(path);
    }
    for (int i = 0; i < ntargets; i++) {
        long r = ptrace(PTRACE_ATTACH, targets[i], NULL, NULL);
        printf(" ptrace:%d=%s", (int)targets[i], result(r < 0 ? -1 : 0));
        if (r == 0) {
            waitpid(targets[i], NULL, __WALL);
            ptrace(PTRACE_DETACH, targets[i], NULL, NULL);
        }
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    pid_t targets[8];
    int ntargets = 0;
    unsigned stall = 0;
    const char *watch[64], *extra[64];
    struct sensor_opts o = {0};
    struct sensor *s = NULL;
    struct sensor_stats st;
    char err[2048];
    struct pctx p = {.out = stdout};
    int ret = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fallback") == 0)
            o.force_fallback = true;
        else if (strcmp(argv[i], "--keep-privs") == 0)
            o.keep_privileges = true;
        else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
            o.run_as = argv[++i];
        else if (strcmp(argv[i], "--try-ptrace") == 0 && i + 1 < argc && ntargets < 8)
            targets[ntargets++] = (pid_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--ringbuf") == 0 && i + 1 < argc)
            o.ringbuf_bytes = (size_t)atoi(argv[++i]) << 10;
        else if (strcmp(argv[i], "--stall") == 0 && i + 1 < argc)
            stall = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--quiet") == 0)
            p.quiet = true;
        else if (strcmp(argv[i], "--watch") == 0 && i + 1 < argc && o.nwatch < 64)
            watch[o.nwatch++] = argv[++i];
        else if (strcmp(argv[i], "--watch-file") == 0 && i + 1 < argc && o.nextra < 64)
            extra[o.nextra++] = argv[++i];
        else if (strcmp(argv[i], "--no-default-files") == 0)
            o.no_default_files = true;
        else {
            fprintf(stderr,
                    "usage: %s [--fallback] [--keep-privs] [--user NAME] [--try-ptrace PID]... "
                    "[--ringbuf KIB] [--stall SECONDS] [--quiet] [--watch PATH]... [--watch-file PATH]... "
                    "[--no-default-files]\n",
                    argv[0]);
            return 2;
        }
    }
    o.watch_paths = watch;
    o.extra_files = extra;
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    if (sensor_open(&o, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "sensor_open: %s\n", err);
        goto out;
    }
    p.s = s;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (o.run_as)
        try_privs(targets, ntargets);
    printf("READY %s\n", sensor_mode(s));
    if (stall)
        sleep(stall);
    while (!stop) {
        int r = sensor_poll(s, 100, on_event, &p);
        if (r < 0 && r != -4 /* EINTR */) {
            fprintf(stderr, "sensor_poll: %d\n", r);
            goto out;
        }
    }
    /* drain what is already queued */
    while (sensor_poll(s, 0, on_event, &p) > 0)
        ;
    sensor_stats(s, &st);
    printf("STATS events=%llu lost_total=%llu evictions=%llu from_proc=%llu", (unsigned long long)st.events,
           (unsigned long long)st.lost_total, (unsigned long long)st.proc_table_evictions,
           (unsigned long long)st.proc_lookups_from_proc);
    for (int l = 0; l < SENSOR_LOST_MAX_; l++)
        if (st.lost[l])
            printf(" %s=%llu", sensor_loss_name(l), (unsigned long long)st.lost[l]);
    printf("\n");
    ret = 0;
out:
    sensor_close(s);
    return ret;
}
