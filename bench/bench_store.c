/* Store benchmark and synthetic store maker.
 *
 * Writes N made-up alerts (50 hosts, 40 rules across the ATT&CK tactics,
 * process ancestry 2-5 deep, an incident every 200 alerts joining alerts of
 * one host) through the public store API, the same calls any producer
 * makes, and prints the write rate, with the CPU time per alert of each
 * thread: the producer (this one: building and queueing the alerts), the
 * store's writer (SQLite and the kernel's side of its I/O) and its pack
 * compressor, and all of them. The wall rate depends on what else the
 * machine runs; the CPU times say what free cores would reach. With
 * --quiet it prints nothing: the web
 * tests use it to make stores with incidents and process trees, which real
 * hunts only produce once correlation lands; tests never read its timing.
 *
 * --start SECONDS puts the first alert at that time (the web tests cross a
 * new year with it); --big-incident adds one incident joining every alert
 * of the run (the paged and grouped incident views are tested on it), and
 * gives the oldest ancestor of every third alert no image and no start, as
 * a parent known only from its child's event.
 *
 *   bench_store [--alerts N] [--db FILE] [--keep] [--quiet] [--batch N]
 *               [--start SECONDS] [--big-incident]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "stoat/store.h"

static void print_diag(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    fprintf(stderr, "bench_store: %s%s%s\n", d->file ? d->file : "", d->file ? ": " : "", d->message);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_secs(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of this process's thread named name (0 when none), from
 * /proc: a thread's own getrusage is only open to that thread. */
static double thread_cpu(const char *name)
{
    double t = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], comm[64] = "", stat[1024];
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof(comm), f))
            comm[0] = 0;
        fclose(f);
        comm[strcspn(comm, "\n")] = 0;
        if (strcmp(comm, name))
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        size_t n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
        stat[n] = 0;
        /* after the name in parentheses: state is field 3, utime 14, stime 15 */
        const char *p = strrchr(stat, ')');
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            t += (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (d)
        closedir(d);
    return t;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define NRULES 40
#define NHOSTS 50

static const char *const tactics[] = {"initial-access",  "execution",           "persistence",  "privilege-escalation",
                                      "defense-evasion", "credential-access",   "discovery",    "lateral-movement",
                                      "collection",      "command-and-control", "exfiltration", "impact"};
static const char *const images[] = {"C:\\Windows\\System32\\cmd.exe",
                                     "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                     "C:\\Windows\\System32\\certutil.exe",
                                     "C:\\Windows\\System32\\ntdsutil.exe",
                                     "C:\\Windows\\System32\\wbem\\WMIC.exe",
                                     "C:\\Windows\\System32\\netsh.exe",
                                     "/usr/bin/curl",
                                     "/usr/bin/tar",
                                     "/usr/bin/base64",
                                     "/bin/bash"};

int main(int argc, char **argv)
{
    uint64_t n = 1000000;
    const char *db = NULL;
    bool keep = false, quiet = false, big = false;
    unsigned batch = 0;
    int64_t start_s = 1795000000LL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--alerts") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--start") && i + 1 < argc)
            start_s = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--big-incident"))
            big = true;
        else if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else {
            fprintf(stderr, "usage: bench_store [--alerts N] [--db FILE] [--keep] [--quiet] [--batch N]"
                            " [--start SECONDS] [--big-incident]\n");
            return 2;
        }
    }
    char tmp[] = "/tmp/stoat-bench-XXXXXX";
    char path[600];
    if (!db) {
        if (!mkdtemp(tmp)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(path, sizeof(path), "%s/bench.db", tmp);
        db = path;
    }
    unlink(db);

    /* rules */
    static struct stoat_rule_meta rules[NRULES];
    static char titles[NRULES][64], ids[NRULES][40], tacbuf[NRULES][2][32], techbuf[NRULES][2][16];
    static const char *tac_items[NRULES][2], *tech_items[NRULES][2];
    for (int r = 0; r < NRULES; r++) {
        snprintf(titles[r], sizeof(titles[r]), "Synthetic Living-Off-The-Land Rule %02d", r);
        snprintf(ids[r], sizeof(ids[r]), "00000000-0000-4000-8000-%012d", r);
        snprintf(tacbuf[r][0], 32, "%s", tactics[r % 12]);
        snprintf(tacbuf[r][1], 32, "%s", tactics[(r * 7 + 3) % 12]);
        snprintf(techbuf[r][0], 16, "T1%03d", 100 + r * 17 % 900);
        snprintf(techbuf[r][1], 16, "T1%03d.%03d", 100 + r * 17 % 900, 1 + r % 5);
        tac_items[r][0] = tacbuf[r][0], tac_items[r][1] = tacbuf[r][1];
        tech_items[r][0] = techbuf[r][0], tech_items[r][1] = techbuf[r][1];
        rules[r] = (struct stoat_rule_meta){.id = ids[r],
                                            .title = titles[r],
                                            .level = (enum stoat_level)(r % 10 == 0 ? 5 : 2 + r % 3),
                                            .status = STOAT_STATUS_TEST,
                                            .product = r % 2 ? "linux" : "windows",
                                            .category = "process_creation",
                                            .attack_tactics = {tac_items[r], r % 3 ? 2 : 1},
                                            .attack_ids = {tech_items[r], 2},
                                            .description = "A synthetic rule of the store benchmark."};
    }
    char hosts[NHOSTS][48];
    for (int h = 0; h < NHOSTS; h++)
        snprintf(hosts[h], sizeof(hosts[h]), h % 2 ? "srv%02d.corp.example" : "ws%02d.corp.example", h);

    struct stoat_store *s = NULL;
    uint64_t *all_ids = NULL;
    struct stoat_store_opts so = {.create = true, .batch_alerts = batch, .diag = print_diag};
    if (stoat_store_open(db, &so, &s) != STOAT_OK)
        return 1;
    if (stoat_store_run_begin(s, "bench", "bench_store") != STOAT_OK)
        goto fail;
    int64_t t0 = start_s * 1000000000LL;
    all_ids = big ? calloc(n ? n : 1, sizeof(*all_ids)) : NULL;
    uint64_t per_rule[NRULES] = {0};
    char ts[40], cmd[200], guid[5][48], imgs[5][80];
    struct stoat_process anc[5];
    struct stoat_field fields[10];
    uint64_t inc_ids[8];
    size_t ninc = 0;
    uint64_t incidents = 0;
    double start = now(), cpu0 = cpu_secs(RUSAGE_SELF), main0 = cpu_secs(RUSAGE_THREAD);
    for (uint64_t i = 1; i <= n; i++) {
        int h = (int)(rnd() % NHOSTS), r = (int)(rnd() % NRULES);
        int64_t t = t0 + (int64_t)i * 2500000000LL; /* an alert every 2.5 s of log time */
        time_t sec = (time_t)(t / 1000000000LL);
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        const char *img = images[rnd() % 10];
        snprintf(cmd, sizeof(cmd), "%s /c whoami /all & net group \"Domain Admins\" /domain %llu", img,
                 (unsigned long long)(i % 9973));
        size_t depth = 2 + (size_t)(rnd() % 4);
        for (size_t k = 0; k < depth; k++) {
            /* ancestors are shared: a host's tree has a few roots and branches */
            uint64_t lineage = k == 0 ? i : (uint64_t)h * 1000 + (i / (1000 * k)) % 50 + k * 100;
            snprintf(guid[k], sizeof(guid[k]), "{%08x-0000-0000-0000-%012llx}", (unsigned)h,
                     (unsigned long long)lineage);
            snprintf(imgs[k], sizeof(imgs[k]), "%s",
                     k == 0           ? img
                     : k == depth - 1 ? "C:\\Windows\\explorer.exe"
                                      : images[(lineage + k) % 10]);
            anc[k] = (struct stoat_process){.image = imgs[k],
                                            .command_line = k == 0 ? cmd : imgs[k],
                                            .user = "CORP\\a.chen",
                                            .guid = guid[k],
                                            .pid = (int64_t)(lineage % 30000),
                                            .start_ns = t - (int64_t)k * 60000000000LL};
        }
        if (big && i % 3 == 0) {
            /* a parent seen only as a child's parent: pid, nothing else */
            anc[depth - 1].image = NULL;
            anc[depth - 1].command_line = NULL;
            anc[depth - 1].user = NULL;
            anc[depth - 1].start_ns = INT64_MIN;
        }
        const char *names[10] = {"Image",     "CommandLine",      "ParentImage",    "User",   "ProcessGuid",
                                 "ProcessId", "CurrentDirectory", "IntegrityLevel", "Hashes", "UtcTime"};
        const char *vals[10] = {img,
                                cmd,
                                imgs[1],
                                "CORP\\a.chen",
                                guid[0],
                                "4242",
                                "C:\\Users\\a.chen\\",
                                "High",
                                "SHA256=0123456789abcdef0123456789abcdef",
                                ts};
        for (int k = 0; k < 10; k++)
            fields[k] = (struct stoat_field){.name = names[k],
                                             .value = vals[k],
                                             .name_len = (uint32_t)strlen(names[k]),
                                             .value_len = (uint32_t)strlen(vals[k])};
        struct stoat_alert a = {.id = i,
                                .rule = &rules[r],
                                .pos = {.file = "synthetic.evtx", .format = "evtx", .record = i, .offset = i * 1024},
                                .timestamp = ts,
                                .time_ns = t,
                                .host = hosts[h],
                                .channel = "Microsoft-Windows-Sysmon/Operational",
                                .event_id = "1",
                                .logon_id = "0x3e7",
                                .fields = fields,
                                .nfields = 10,
                                .ancestry = anc,
                                .nancestry = depth};
        if (stoat_store_put_alert(s, &a) != STOAT_OK)
            goto fail;
        if (big) {
            all_ids[i - 1] = i;
            per_rule[r]++;
        }
        if (h == 7 && ninc < 8)
            inc_ids[ninc++] = i;
        if (i % 200 == 0 && ninc) {
            const char *itac[3] = {"discovery", "credential-access", "exfiltration"};
            char title[96];
            snprintf(title, sizeof(title), "Discovery, credential theft and exfiltration on %s", hosts[7]);
            struct stoat_incident inc = {.id = ++incidents,
                                         .host = hosts[7],
                                         .logon_id = "0x3e7",
                                         .title = title,
                                         .score = 40 + (double)(incidents % 60),
                                         .level = STOAT_LEVEL_HIGH,
                                         .first_ns = t - 600000000000LL,
                                         .last_ns = t,
                                         .tactics = itac,
                                         .ntactics = 3,
                                         .alert_ids = inc_ids,
                                         .nalerts = ninc};
            if (stoat_store_put_incident(s, &inc) != STOAT_OK)
                goto fail;
            ninc = 0;
        }
    }
    if (big && n) {
        struct stoat_incident_rule ir[NRULES];
        size_t nir = 0;
        for (int r = 0; r < NRULES; r++)
            if (per_rule[r])
                ir[nir++] = (struct stoat_incident_rule){
                    .id = ids[r], .title = titles[r], .level = rules[r].level, .alerts = per_rule[r]};
        const char *itac[2] = {"discovery", "credential-access"};
        struct stoat_incident inc = {.id = ++incidents,
                                     .host = hosts[7],
                                     .title = "Big synthetic incident",
                                     .score = 90,
                                     .level = STOAT_LEVEL_CRITICAL,
                                     .first_ns = t0 + 2500000000LL,
                                     .last_ns = t0 + (int64_t)n * 2500000000LL,
                                     .tactics = itac,
                                     .ntactics = 2,
                                     .alert_ids = all_ids,
                                     .nalerts = n,
                                     .rules = ir,
                                     .nrules = nir};
        if (stoat_store_put_incident(s, &inc) != STOAT_OK)
            goto fail;
    }
    free(all_ids);
    all_ids = NULL;
    if (stoat_store_run_end(s, NULL) != STOAT_OK)
        goto fail;
    double secs = now() - start;
    double mainc = cpu_secs(RUSAGE_THREAD) - main0;
    /* the store's threads are still there (run_end has committed all) */
    double writer = thread_cpu("stoat-store"), packer = thread_cpu("stoat-pack");
    stoat_store_close(s);
    double all = cpu_secs(RUSAGE_SELF) - cpu0;
    if (!quiet && n) {
        printf("store: %llu alerts (%llu incidents, ancestry 2-5 deep) written in %.2f s: %.0f alerts/s\n",
               (unsigned long long)n, (unsigned long long)incidents, secs, (double)n / secs);
        printf("store: CPU per alert: producer %.2f us, writer %.2f us, pack compressor %.2f us, all %.2f us"
               " (the writer alone: %.0f alerts/s a core)\n",
               mainc * 1e6 / (double)n, writer * 1e6 / (double)n, packer * 1e6 / (double)n, all * 1e6 / (double)n,
               writer > 0 ? (double)n / writer : 0.0);
    }
    if (!keep && db == path) {
        unlink(path);
        char w[640];
        snprintf(w, sizeof(w), "%s-wal", path);
        unlink(w);
        snprintf(w, sizeof(w), "%s-shm", path);
        unlink(w);
        rmdir(tmp);
    }
    return 0;
fail:
    free(all_ids);
    fprintf(stderr, "bench_store: %s\n", stoat_store_errmsg(s));
    stoat_store_close(s);
    return 1;
}
