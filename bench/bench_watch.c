/* The user-space side of `stoat watch` on its own: figures, never pass/fail.
 *
 *   bench_watch record DIR [--seconds S]     (root)
 *       Runs the live watch (eBPF sensor, the full ruleset, alerts to
 *       DIR/live-alerts.jsonl) capturing every ring-buffer record to
 *       DIR/capture, while a mixed workload made here runs for S seconds
 *       (default 8) in a network namespace of its own (loopback only), one
 *       worker per core: short processes with varied argv (some long enough
 *       to need several argv records), shell pipelines, a discovery burst now
 *       and then, opens and writes of files in a watched folder made under
 *       DIR (a few of them crown jewels), and loopback TCP connections with
 *       bytes both ways to a listener made here. Prints what was captured
 *       and what the sensor lost.
 *   bench_watch replay DIR [--events N] [--passes N]
 *       Replays DIR/capture once into DIR/replay-alerts.jsonl and says
 *       whether it equals the live run's alerts; then replays it, repeated
 *       to at least N events (default 1,500,000), through one watch in this
 *       one thread, alerts as JSON lines to /dev/null, and prints events/s
 *       (wall and CPU) and memory.
 *
 * Rules: stoat's rules/ and, when present, SigmaHQ's Linux rules from
 * ../shared/data/sigma/rules/linux, with DIR/jewels.yml; run from the
 * repository root (data/mapping.yml).
 *
 * Why like this: the replay drives the very code the live watch runs (the
 * sensor's record decoder, its process table and enrichment, field building,
 * the engine, process trees, correlations, behaviour, a sink), fed from a
 * file instead of the ring buffer, so the figure is the user-space cost per
 * event and nothing else; the first replay checks that it is also the same
 * work (the same alerts) as live. Passes after the first are moved later in
 * time by the sensor (see src/sensor/replay.c), so they are new processes,
 * not the same ones again. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "sensor/sensor.h"
#include "stoat/rules.h"
#include "stoat/sinks.h"
#include "stoat/watch.h"

#define SIGMA_LINUX "../shared/data/sigma/rules/linux"
#define NCONF       64
#define NJEWEL      8

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

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kb(const char *key)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
            v = atol(line + strlen(key) + 1);
    fclose(f);
    return v;
}

/* paths under DIR (main keeps DIR short enough for all of them) */
static void pf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

static void path(char *out, size_t n, const char *dir, const char *name)
{
    pf(out, n, "%s/%s", dir, name);
}

static void diag_print(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    if (d->severity == STOAT_SEV_ERROR && d->code != STOAT_ERR_UNSUPPORTED) {
        char b[1024];
        stoat_diag_format(d, b, sizeof(b));
        fprintf(stderr, "  %s\n", b);
    }
}

/* Every problem of starting a watch, whatever its code. */
static void diag_all(void *ctx, const struct stoat_diag *d)
{
    char b[1024];
    stoat_diag_format(d, b, sizeof(b));
    fprintf(stderr, "%s: %s\n", (const char *)ctx, b);
}

/* The ruleset stoat watch would load with --jewels DIR/jewels.yml -r SIGMA_LINUX. */
static struct stoat_ruleset *load_rules(const char *dir, bool say)
{
    char jewels[4096];
    path(jewels, sizeof(jewels), dir, "jewels.yml");
    struct stoat_load_opts lo = {.mapping_path = "data/mapping.yml", .jewels_path = jewels, .diag = diag_print};
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    struct stoat_load_stats st;
    if (stoat_loader_create(&lo, &l))
        return NULL;
    stoat_loader_add_path(l, "rules");
    struct stat sb;
    bool sigma = stat(SIGMA_LINUX, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (sigma)
        stoat_loader_add_path(l, SIGMA_LINUX);
    if (stoat_loader_build(l, &rs))
        rs = NULL;
    stoat_loader_stats(l, &st);
    stoat_loader_destroy(l);
    if (rs && say) {
        stoat_ruleset_stats(rs, &st);
        printf("rules: %zu detection rules and %zu correlations loaded (stoat's rules/%s, crown jewels of %s)\n",
               st.loaded, st.correlations, sigma ? " and SigmaHQ's rules/linux" : "", jewels);
        if (!sigma)
            printf("note: %s is absent: SigmaHQ's Linux rules are not part of this figure\n", SIGMA_LINUX);
    }
    return rs;
}

/* ---- the workload ---- */

static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static int devnull = -1;

static void run(char *const argv[])
{
    pid_t p = fork();
    if (p == 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char *const argv[] = {"/bin/sh", "-c", cmd, NULL};
    run(argv);
}

static const char *const words[] = {
    "--config",           "/etc/app/worker.conf", "-v",   "--user=svc", "worker", "--port=8080",      "-q", "--once",
    "/var/lib/app/cache", "--retries=3",          "sync", "--dry-run",  "status", "/srv/data/import", "-n", "--json",
};

/* /bin/true with an argv like a service's or a cron job's */
static void exec_varied(void)
{
    static char longarg[24 * 1024];
    char buf[16][64];
    char *argv[24];
    int n = 0;
    argv[n++] = "/bin/true";
    int k = 1 + (int)(rnd() % 12);
    for (int i = 0; i < k && i < 16; i++) {
        uint32_t r = rnd();
        if (r % 3 == 0)
            snprintf(buf[i], sizeof(buf[i]), "%s", words[r % (sizeof(words) / sizeof(words[0]))]);
        else if (r % 3 == 1)
            snprintf(buf[i], sizeof(buf[i]), "--id=%08x%04x", rnd(), rnd() & 0xffff);
        else
            snprintf(buf[i], sizeof(buf[i]), "/var/spool/job-%u/part-%u.dat", rnd() % 1000, rnd() % 100);
        argv[n++] = buf[i];
    }
    if (rnd() % 40 == 0) {
        /* a long one: several argv records, as a script with a long list of files makes */
        size_t len = 3000 + rnd() % (sizeof(longarg) - 3001);
        for (size_t i = 0; i < len; i++)
            longarg[i] = (char)('a' + (i * 7 + len) % 26);
        longarg[len] = 0;
        argv[n++] = longarg;
    }
    argv[n] = NULL;
    run(argv);
}

static void shell_op(const char *w)
{
    unsigned a = rnd() % NCONF;
    switch (rnd() % 10) {
    case 0: sh("echo %u | tr 0-9 a-j", rnd()); break;
    case 1: sh("date +%%s; true"); break;
    case 2: sh("ls -l %s/conf >/dev/null", w); break;
    case 3: sh("cat %s/conf/app-%u.conf | wc -l", w, a); break;
    case 4: sh("grep -c key %s/conf/app-%u.conf", w, a); break;
    case 5: sh("head -c 200 /dev/urandom | od -x | tail -1"); break;
    case 6: sh("sleep 0"); break;
    case 7: sh("cp %s/conf/app-%u.conf %s/conf/copy-%u.tmp", w, a, w, rnd() % 8); break;
    case 8: sh("sort %s/conf/app-%u.conf | uniq -c | head -3", w, a); break;
    default:
        /* now and then a jewel read by a tool that has no business reading it */
        if (rnd() % 4 == 0)
            sh("cat %s/jewels/layout-%u.gds > /dev/null", w, rnd() % NJEWEL);
        else
            sh("stat %s/conf/app-%u.conf", w, a);
        break;
    }
}

static void discovery_burst(void)
{
    sh("id; uname -a; whoami; hostname; cat /etc/passwd; ps aux; ss -tan; ip addr; cat /etc/os-release");
}

static void open_op(const char *w)
{
    char p[4096], b[4096];
    for (int i = 0; i < 4; i++) {
        pf(p, sizeof(p), "%s/conf/app-%u.conf", w, rnd() % NCONF);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            while (read(fd, b, sizeof(b)) > 0)
                ;
            close(fd);
        }
    }
    pf(p, sizeof(p), "%s/conf/state-%u.tmp", w, rnd() % 16);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (write(fd, b, 100 + rnd() % 1000) < 0)
            perror("write");
        close(fd);
    }
}

static void tcp_op(int port)
{
    static char data[65536];
    char b[4096];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        size_t n = 1 + rnd() % sizeof(data), off = 0;
        while (off < n) {
            ssize_t k = write(fd, data + off, n - off);
            if (k <= 0)
                break;
            off += (size_t)k;
        }
        shutdown(fd, SHUT_WR);
        while (read(fd, b, sizeof(b)) > 0)
            ;
    }
    close(fd);
}

/* reads each connection to its end, answers with a short line, closes */
static void tcp_server(int lfd)
{
    char b[65536];
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            _exit(0);
        }
        size_t total = 0;
        ssize_t k;
        while ((k = read(c, b, sizeof(b))) > 0)
            total += (size_t)k;
        int l = snprintf(b, sizeof(b), "OK %zu bytes\n", total);
        if (write(c, b, (size_t)l) < 0)
            perror("write");
        close(c);
    }
}

static int lo_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int ret = -1;
    if (fd < 0)
        return -1;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    close(fd);
    return ret;
}

struct mix {
    unsigned long execs, shells, bursts, opens, conns;
};

/* One worker: ops in a fixed proportion, chosen at random, until `end`. */
static void worker(const char *w, int port, double end, unsigned seed, struct mix *m)
{
    rng_state = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0x100000001b3ull);
    unsigned long ops = 0;
    while (now_s() < end) {
        uint32_t r = rnd() % 100;
        if (r < 55) {
            exec_varied();
            m->execs++;
        } else if (r < 75) {
            shell_op(w);
            m->shells++;
        } else if (r < 85) {
            open_op(w);
            m->opens++;
        } else {
            tcp_op(port);
            m->conns++;
        }
        /* a discovery burst (about one a second per worker) */
        if (++ops % 400 == 0) {
            discovery_burst();
            m->bursts++;
        }
    }
}

/* In a network namespace of its own (only loopback): the listener, and one
 * worker per core. Prints what it did. */
static int workload(const char *dir, double secs)
{
    char w[4096];
    path(w, sizeof(w), dir, "watched");
    if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
        fprintf(stderr, "workload: a network namespace with loopback: %s\n", strerror(errno));
        return 1;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 256) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &al) < 0) {
        perror("workload: listener");
        return 1;
    }
    int port = ntohs(a.sin_port);
    pid_t srv = fork();
    if (srv == 0)
        tcp_server(lfd);
    close(lfd);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || ncpu > 64)
        ncpu = 1;
    int pfd[2];
    if (pipe(pfd) < 0)
        return 1;
    double end = now_s() + secs;
    pid_t wp[64];
    for (long i = 0; i < ncpu; i++) {
        if ((wp[i] = fork()) == 0) {
            struct mix m = {0};
            close(pfd[0]);
            worker(w, port, end, (unsigned)i + 1, &m);
            if (write(pfd[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
                _exit(1);
            _exit(0);
        }
    }
    close(pfd[1]);
    struct mix t = {0}, m;
    while (read(pfd[0], &m, sizeof(m)) == (ssize_t)sizeof(m)) {
        t.execs += m.execs;
        t.shells += m.shells;
        t.bursts += m.bursts;
        t.opens += m.opens;
        t.conns += m.conns;
    }
    for (long i = 0; i < ncpu; i++)
        if (wp[i] > 0)
            waitpid(wp[i], NULL, 0);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    printf("workload: %.0f s, %ld workers: %lu varied execs, %lu shell pipelines, %lu discovery bursts, "
           "%lu rounds of watched-file opens, %lu loopback connections\n",
           secs, ncpu, t.execs, t.shells, t.bursts, t.opens, t.conns);
    fflush(stdout);
    return 0;
}

static int make_fixtures(const char *dir)
{
    char p[4096], w[4096];
    path(w, sizeof(w), dir, "watched");
    mkdir(dir, 0700);
    mkdir(w, 0700);
    pf(p, sizeof(p), "%s/conf", w);
    mkdir(p, 0700);
    pf(p, sizeof(p), "%s/jewels", w);
    mkdir(p, 0700);
    for (int i = 0; i < NCONF + NJEWEL; i++) {
        if (i < NCONF)
            pf(p, sizeof(p), "%s/conf/app-%d.conf", w, i);
        else
            pf(p, sizeof(p), "%s/jewels/layout-%d.gds", w, i - NCONF);
        FILE *f = fopen(p, "w");
        if (!f)
            return -1;
        for (int k = 0; k < 40 + i; k++)
            fprintf(f, "key%d = value %d of %s\n", k, k * i, p);
        fclose(f);
    }
    path(p, sizeof(p), dir, "jewels.yml");
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    fprintf(f, "paths: ['%s/jewels/*']\nextensions: [gds]\ntransfer_window: 1h\n", w);
    fclose(f);
    return 0;
}

/* The live watch, in its own process, capturing; "R" on ready_fd once it runs. */
static int live_watch(const char *dir, int ready_fd)
{
    char w[4096], cap[4096], alerts[4096];
    path(w, sizeof(w), dir, "watched");
    path(cap, sizeof(cap), dir, "capture");
    path(alerts, sizeof(alerts), dir, "live-alerts.jsonl");
    struct stoat_ruleset *rs = load_rules(dir, true);
    struct stoat_watch *wt = NULL;
    FILE *out = fopen(alerts, "w");
    int rc = 1;
    if (!rs || !out)
        goto out;
    const char *paths[] = {w};
    struct stoat_watch_opts wo = {
        .watch_paths = paths, .nwatch = 1, .capture_path = cap, .diag = diag_all, .diag_ctx = "watch"};
    if (stoat_watch_create(rs, &wo, &wt))
        goto out;
    printf("live: %s\n", stoat_watch_mode(wt));
    fflush(stdout);
    struct stoat_sink sink;
    stoat_sink_jsonl(out, &sink);
    stoat_watch_add_sink(wt, &sink);
    signal(SIGTERM, on_sig);
    if (write(ready_fd, "R", 1) != 1)
        goto out;
    while (!stop)
        if (stoat_watch_poll(wt, 200) < 0)
            break;
    stoat_watch_poll(wt, 0);
    stoat_watch_finish(wt);
    struct stoat_watch_stats st;
    stoat_watch_stats(wt, &st);
    printf("live: %llu events, %llu lost%s%s%s, %llu alerts, %llu incidents%s%s\n", (unsigned long long)st.events,
           (unsigned long long)st.lost, st.lost_detail[0] ? " (" : "", st.lost_detail, st.lost_detail[0] ? ")" : "",
           (unsigned long long)st.alerts, (unsigned long long)st.incidents,
           st.capture_error ? "; capture failed: " : "", st.capture_error ? strerror(st.capture_error) : "");
    rc = st.capture_error ? 1 : 0;
out:
    stoat_watch_destroy(wt);
    if (out)
        fclose(out);
    stoat_ruleset_destroy(rs);
    return rc;
}

static int cmd_record(const char *dir, double secs)
{
    if (geteuid() != 0) {
        printf("bench_watch record: needs root (eBPF, a network namespace): skipped\n");
        return 0;
    }
    if (make_fixtures(dir) < 0) {
        perror(dir);
        return 1;
    }
    int pfd[2];
    char b;
    if (pipe(pfd) < 0)
        return 1;
    fflush(stdout);
    pid_t wp = fork();
    if (wp == 0) {
        close(pfd[0]);
        int rc = live_watch(dir, pfd[1]);
        fflush(stdout);
        _exit(rc);
    }
    close(pfd[1]);
    if (read(pfd[0], &b, 1) != 1) {
        fprintf(stderr, "bench_watch: the live watch did not start\n");
        waitpid(wp, NULL, 0);
        return 1;
    }
    close(pfd[0]);
    pid_t wl = fork();
    if (wl == 0) {
        int rc = workload(dir, secs);
        fflush(stdout);
        _exit(rc);
    }
    int st = 0;
    waitpid(wl, &st, 0);
    usleep(500000); /* the sensor's poll slice, and then some */
    kill(wp, SIGTERM);
    int wst = 0;
    waitpid(wp, &wst, 0);
    char cap[4096];
    path(cap, sizeof(cap), dir, "capture");
    struct stat sb;
    if (stat(cap, &sb) == 0)
        printf("capture: %s, %.1f MB\n", cap, (double)sb.st_size / 1e6);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0 ? 0 : 1;
}

/* ---- replay ---- */

static int count_kinds(void *ctx, const struct sensor_event *ev)
{
    (void)ctx;
    (void)ev;
    return 0;
}

/* What the capture holds, by kind (the sensor alone, no rules). */
static uint64_t capture_mix(const char *cap)
{
    struct sensor_opts so = {.replay_path = cap};
    struct sensor *s = NULL;
    struct sensor_stats st;
    char err[512];
    if (sensor_open(&so, &s, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return 0;
    }
    while (sensor_poll(s, 0, count_kinds, NULL) >= 0)
        ;
    sensor_stats(s, &st);
    printf("capture: %llu events:", (unsigned long long)st.events);
    for (int k = 1; k < SENSOR_KIND_MAX_; k++)
        printf(" %s %.1f%%", sensor_kind_name((enum sensor_kind)k),
               st.events ? 100.0 * (double)st.by_kind[k] / (double)st.events : 0.0);
    printf("\n");
    sensor_close(s);
    return st.events;
}

struct run_result {
    uint64_t events, alerts, incidents, lost;
    double wall, cpu;
};

static int replay_run(const struct stoat_ruleset *rs, const char *cap, unsigned passes, FILE *out,
                      struct run_result *res)
{
    struct stoat_watch *w = NULL;
    struct stoat_watch_opts wo = {.replay_path = cap, .replay_passes = passes, .diag = diag_all, .diag_ctx = "replay"};
    if (stoat_watch_create(rs, &wo, &w))
        return -1;
    struct stoat_sink sink;
    stoat_sink_jsonl(out, &sink);
    stoat_watch_add_sink(w, &sink);
    double t0 = now_s(), c0 = cpu_s();
    int n;
    while ((n = stoat_watch_poll(w, 0)) >= 0)
        ;
    stoat_watch_finish(w);
    fflush(out);
    res->wall = now_s() - t0;
    res->cpu = cpu_s() - c0;
    struct stoat_watch_stats st;
    stoat_watch_stats(w, &st);
    res->events = st.events;
    res->alerts = st.alerts;
    res->incidents = st.incidents;
    res->lost = st.lost;
    stoat_watch_destroy(w);
    return n == STOAT_WATCH_END ? 0 : -1;
}

static bool same_file(const char *a, const char *b, long *lines)
{
    FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
    bool same = fa && fb;
    int ca, cb;
    *lines = 0;
    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        if (ca != cb)
            same = false;
        if (ca == EOF)
            break;
        if (ca == '\n')
            (*lines)++;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static int cmd_replay(const char *dir, uint64_t want, unsigned passes)
{
    char cap[4096], live[4096], rep[4096];
    path(cap, sizeof(cap), dir, "capture");
    path(live, sizeof(live), dir, "live-alerts.jsonl");
    path(rep, sizeof(rep), dir, "replay-alerts.jsonl");
    if (access(cap, R_OK) != 0) {
        printf("bench_watch replay: no capture in %s (bench_watch record makes one, as root): skipped\n", dir);
        return 0;
    }
    uint64_t per_pass = capture_mix(cap);
    struct stoat_ruleset *rs = load_rules(dir, true);
    if (!rs || !per_pass)
        return 1;
    long rss_loaded = status_kb("VmRSS");
    struct run_result r;
    FILE *f = fopen(rep, "w");
    if (!f || replay_run(rs, cap, 1, f, &r) < 0)
        return 1;
    fclose(f);
    long lines;
    if (access(live, R_OK) == 0) {
        bool same = same_file(live, rep, &lines);
        printf("replay of the capture: %llu events, %llu alerts, %llu incidents: %s the live run's alerts\n",
               (unsigned long long)r.events, (unsigned long long)r.alerts, (unsigned long long)r.incidents,
               same ? "byte for byte" : "DIFFERENT FROM");
    }
    if (!passes)
        passes = (unsigned)((want + per_pass - 1) / per_pass);
    if (passes < 1)
        passes = 1;
    f = fopen("/dev/null", "w");
    if (!f || replay_run(rs, cap, passes, f, &r) < 0)
        return 1;
    fclose(f);
    long rss_end = status_kb("VmRSS"), hwm = status_kb("VmHWM");
    printf("replay, 1 thread, %u passes: %llu events in %.2f s wall, %.2f s CPU: %.0f events/s (wall), "
           "%.0f events/s (CPU); %llu alerts, %llu incidents, %llu lost\n",
           passes, (unsigned long long)r.events, r.wall, r.cpu, (double)r.events / r.wall, (double)r.events / r.cpu,
           (unsigned long long)r.alerts, (unsigned long long)r.incidents, (unsigned long long)r.lost);
    printf("memory: peak RSS %.1f MB (rule loading included); %.1f MB after loading the rules, %.1f MB after "
           "the replay\n",
           (double)hwm / 1024, (double)rss_loaded / 1024, (double)rss_end / 1024);
    stoat_ruleset_destroy(rs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "record") && strcmp(argv[1], "replay"))) {
        fprintf(stderr, "usage: %s record DIR [--seconds S] | replay DIR [--events N] [--passes N]\n", argv[0]);
        return 2;
    }
    double secs = 8;
    uint64_t want = 1500000;
    unsigned passes = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds"))
            secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--events"))
            want = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--passes"))
            passes = (unsigned)atoi(argv[i + 1]);
    }
    if (secs <= 0 || secs > 600)
        secs = 8;
    if (strlen(argv[2]) > 1024) {
        fprintf(stderr, "bench_watch: DIR must be shorter than 1024 bytes\n");
        return 2;
    }
    /* absolute: the watched paths and the jewels config name files under it */
    char dir[4096];
    if (!strcmp(argv[1], "record"))
        mkdir(argv[2], 0700);
    if (!realpath(argv[2], dir)) {
        if (!strcmp(argv[1], "replay")) {
            printf("bench_watch replay: no capture in %s (bench_watch record makes one, as root): skipped\n", argv[2]);
            return 0;
        }
        perror(argv[2]);
        return 1;
    }
    if (!strcmp(argv[1], "record"))
        return cmd_record(dir, secs);
    return cmd_replay(dir, want, passes);
}
