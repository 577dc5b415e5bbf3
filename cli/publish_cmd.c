/* `stoat publish`: logs into the fleet. The hunt's readers (every format,
 * folders, .gz, standard input) turn the inputs into normalised events; a
 * sink of lines hands each, as `stoat dump` writes it, to the bus publisher
 * (src/bus/publish.h), which batches, publishes with acks and spools.
 *
 * --follow: the hunt reads a file to its end, so a growing file is tailed
 * here instead: every quarter second the complete new lines of each file are
 * cut off and read as one small input (a file in the spool folder, named as
 * the followed one), so line formats (JSON lines, auditd, Sysmon for Linux)
 * follow; EVTX cannot (Windows rewrites its chunks in place) and is refused.
 * A rotation (the path now names another file) reads the old file to its end
 * first; a truncation starts again at 0. Where each file stands is kept in
 * the spool folder once its lines are handed to the publisher (batches not
 * yet acknowledged are in the spool then), so a restart goes on from there
 * rather than sending the file again.
 *
 * Batches: a collector's file mixes many hosts (a Windows Event Forwarding
 * day of 2,000 hosts), and each host's events travel in messages of their
 * own. Sealed 200 ms after their first line (for `stoat watch`'s latency),
 * a file read at full speed went out as batches of two events: 30,000
 * messages for 60,000 events, where the cluster's cost per message (about
 * 100 us of CPU on three R3 nodes), not per byte, is what counted, and
 * compressing many small batches cost the publisher more than a few large
 * ones. Files that are there whole (regular files, not followed) keep a
 * batch open up to 2 s (or until it is full, or the publisher's cap of
 * open bytes makes it the oldest to go): five to ten times fewer messages,
 * while sending still overlaps reading. Standard input, pipes and
 * --follow keep the 200 ms. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "stoat/sinks.h"
#include "util/buf.h"

static void usage(FILE *f)
{
    fputs("usage: stoat publish [--host NAME] [--follow] [--wait S] [bus options] PATH...|-\n"
          "Reads logs in every format `stoat hunt` reads (EVTX, JSON lines and arrays as\n"
          "Winlogbeat, NXLog and Fluent Bit write them, auditd, Sysmon for Linux; folders; .gz;\n"
          "- for standard input) and publishes their normalised events to the fleet's\n"
          "JetStream (stoat.ev.<host>.<partition>). Prints `published: N events, M acknowledged`\n"
          "last; exits 0 when every event was acknowledged by the stream, 4 otherwise (what\n"
          "was not is in the spool, for the next run).\n"
          "  --host NAME        the host of events whose log names none, and of the heartbeat\n"
          "                     (default: this machine's name)\n"
          "  --follow           keep reading files as they grow, across rotation (line formats;\n"
          "                     and - until its end); stops on SIGINT or SIGTERM\n"
          "  --wait S           at the end, wait up to S seconds for acknowledgements and for\n"
          "                     the spool to drain (default 60)\n"
          "  --mapping FILE     the field mapping (as hunt)\n",
          f);
    cli_bus_options_help(f);
}

struct publish_args {
    struct rule_args ra;
    struct bus_args bus;
    const char *host;
    bool follow;
    int64_t wait_s;
    struct cli_paths paths;
};

#define PA(f) offsetof(struct publish_args, f)
static const struct cli_option options[] = {
    {CLI_HELP, "--help", "-h"},
    {CLI_STRING, "--host", NULL, PA(host)},
    {CLI_FLAG, "--follow", "-f", PA(follow)},
    {CLI_PARSE, "--wait", NULL, PA(wait_s), cli_parse_count},
    {CLI_STRING, "--mapping", NULL, PA(ra.mapping)},
    {CLI_GROUP, .off = PA(bus), .group = cli_bus_options},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat publish",
    .say = "stoat publish",
    .usage = usage,
    .options = options,
    .arg = cli_arg_path,
    .arg_off = PA(paths),
    .dash_is_arg = true,
};
#undef PA

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* One hunt over paths, its events to the publisher. */
static stoat_err publish_paths(const struct stoat_ruleset *rs, struct stoat_bus_pub *pub, const char *host,
                               struct diag_printer *dp, const char *const *paths, size_t n, struct stoat_hunt_stats *st)
{
    struct stoat_hunt_opts ho = {.all_events = true, .diag = cli_diag, .diag_ctx = dp, .host = host};
    struct stoat_hunt *h = NULL;
    stoat_err e = stoat_hunt_create(rs, &ho, &h);
    if (e != STOAT_OK)
        return e;
    struct stoat_sink sink;
    stoat_sink_lines(stoat_bus_pub_event_line, pub, true, &sink);
    stoat_hunt_add_sink(h, &sink);
    e = stoat_hunt_run(h, paths, n);
    struct stoat_hunt_stats s;
    stoat_hunt_stats(h, &s);
    st->files += s.files;
    st->files_failed += s.files_failed;
    st->events += s.events;
    st->skipped += s.skipped;
    stoat_hunt_destroy(h);
    return e;
}

/* ---------------------------------------------------------------- follow */

struct follower {
    const char *path; /* "-": standard input */
    int fd;
    dev_t dev;
    ino_t ino;
    uint64_t off;     /* of fd: bytes consumed (handed on) */
    struct buf carry; /* a line not yet complete */
    char chunk_path[4200], pos_path[4200];
    bool done; /* standard input at its end */
};

static void pos_save(struct follower *f)
{
    if (f->fd == 0)
        return;
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.new", f->pos_path);
    FILE *o = fopen(tmp, "w");
    if (!o)
        return;
    fprintf(o, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", (uint64_t)f->dev, (uint64_t)f->ino, f->off);
    if (fclose(o) == 0)
        rename(tmp, f->pos_path);
}

/* Opens f's path; from the saved position when it names this file. */
static bool follow_open(struct follower *f, bool use_pos)
{
    if (strcmp(f->path, "-") == 0) {
        f->fd = 0;
        return true;
    }
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return false;
    struct stat sb;
    fstat(f->fd, &sb);
    f->dev = sb.st_dev;
    f->ino = sb.st_ino;
    f->off = 0;
    buf_clear(&f->carry);
    uint64_t d, i, o;
    FILE *p = use_pos ? fopen(f->pos_path, "r") : NULL;
    if (p && fscanf(p, "%" SCNu64 " %" SCNu64 " %" SCNu64, &d, &i, &o) == 3 && d == (uint64_t)sb.st_dev &&
        i == (uint64_t)sb.st_ino && o <= (uint64_t)sb.st_size)
        f->off = o;
    if (p)
        fclose(p);
    lseek(f->fd, (off_t)f->off, SEEK_SET);
    return true;
}

/* Appends what f has new to out, complete lines only unless final. */
static void follow_read(struct follower *f, struct buf *out, bool final)
{
    char block[65536];
    for (;;) {
        if (f->fd == 0) {
            struct pollfd pf = {.fd = 0, .events = POLLIN};
            if (poll(&pf, 1, 0) <= 0)
                break;
        }
        ssize_t r = read(f->fd, block, sizeof block);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0 && f->fd == 0)
                f->done = final = true;
            break;
        }
        buf_put(&f->carry, block, (size_t)r);
        if (out->len + f->carry.len > (8u << 20))
            break; /* a big backlog goes in several inputs */
    }
    const char *nl = f->carry.len ? memrchr(f->carry.p, '\n', f->carry.len) : NULL;
    size_t take = final ? f->carry.len : nl ? (size_t)(nl - f->carry.p) + 1 : 0;
    if (!take)
        return; /* nothing whole yet (and an empty carry has no buffer to move) */
    buf_put(out, f->carry.p, take);
    memmove(f->carry.p, f->carry.p + take, f->carry.len - take);
    f->carry.len -= take;
    f->off += take;
}

/* A rotation (the path names another file now) or a truncation. */
static void follow_check(struct follower *f, struct buf *out)
{
    if (f->fd == 0)
        return;
    struct stat now, cur;
    if (fstat(f->fd, &cur) == 0 && (uint64_t)cur.st_size < f->off) {
        lseek(f->fd, 0, SEEK_SET); /* truncated in place: from the start */
        f->off = 0;
        buf_clear(&f->carry);
    }
    if (stat(f->path, &now) != 0 || (now.st_ino == f->ino && now.st_dev == f->dev))
        return;
    follow_read(f, out, true); /* the old file to its end, first */
    close(f->fd);
    if (!follow_open(f, false))
        f->fd = -1;
}

static bool is_evtx(const char *path)
{
    char m[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool y = fd >= 0 && read(fd, m, 8) == 8 && memcmp(m, "ElfFile", 8) == 0;
    if (fd >= 0)
        close(fd);
    return y;
}

static int follow(const struct stoat_ruleset *rs, struct stoat_bus_pub *pub, struct publish_args *pa,
                  struct diag_printer *dp, const char *spool, struct stoat_hunt_stats *st)
{
    char dir[2048];
    if ((size_t)snprintf(dir, sizeof dir, "%s/follow", spool) >= sizeof dir) {
        fprintf(stderr, "stoat publish: the spool folder's name is too long\n");
        return EXIT_USAGE;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "stoat publish: cannot make %s: %s\n", dir, strerror(errno));
        return EXIT_FATAL;
    }
    struct follower *fs = calloc(pa->paths.n, sizeof *fs);
    int rc = EXIT_OK;
    for (size_t i = 0; i < pa->paths.n; i++) {
        struct follower *f = &fs[i];
        f->path = pa->paths.v[i];
        f->fd = -1;
        const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
        uint32_t h = stoat_bus_fnv1a(f->path, strlen(f->path));
        snprintf(f->chunk_path, sizeof f->chunk_path, "%s/%.1024s", dir, strcmp(f->path, "-") ? base : "stdin");
        snprintf(f->pos_path, sizeof f->pos_path, "%s/%08x.pos", dir, h);
        if (strcmp(f->path, "-") && is_evtx(f->path)) {
            fprintf(stderr,
                    "stoat publish: %s: EVTX files cannot be followed (Windows rewrites them in place); "
                    "publish closed .evtx files, or follow the JSON a shipper writes\n",
                    f->path);
            rc = EXIT_USAGE;
            goto out;
        }
        if (!follow_open(f, true))
            fprintf(stderr, "stoat publish: %s: %s; waiting for it\n", f->path, strerror(errno));
    }
    struct buf chunk = {0};
    bool live = true;
    while (live) {
        live = false;
        for (size_t i = 0; i < pa->paths.n; i++) {
            struct follower *f = &fs[i];
            if (f->done)
                continue;
            live = true;
            if (f->fd < 0 && !follow_open(f, false))
                continue;
            buf_clear(&chunk);
            follow_check(f, &chunk);
            if (f->fd >= 0)
                follow_read(f, &chunk, g_stop);
            if (!chunk.len)
                continue;
            FILE *o = fopen(f->chunk_path, "w");
            if (!o || fwrite(chunk.p, 1, chunk.len, o) != chunk.len || fclose(o) != 0) {
                fprintf(stderr, "stoat publish: cannot write %s: %s\n", f->chunk_path, strerror(errno));
                rc = EXIT_FATAL;
                g_stop = 1;
                break;
            }
            const char *one[1] = {f->chunk_path};
            publish_paths(rs, pub, pa->host, dp, one, 1, st);
            unlink(f->chunk_path);
            pos_save(f);
        }
        if (g_stop)
            break;
        struct timespec q = {0, 250 * 1000000L};
        nanosleep(&q, NULL);
    }
    buf_free(&chunk);
out:
    for (size_t i = 0; i < pa->paths.n; i++) {
        if (fs[i].fd > 0)
            close(fs[i].fd);
        buf_free(&fs[i].carry);
    }
    free(fs);
    return rc;
}

/* ---------------------------------------------------------------- main */

/* Whole files (regular, or folders of them) only: nothing live to wait for. */
static bool all_whole(const struct publish_args *pa)
{
    if (pa->follow)
        return false;
    for (size_t i = 0; i < pa->paths.n; i++) {
        struct stat sb;
        if (strcmp(pa->paths.v[i], "-") == 0 || stat(pa->paths.v[i], &sb) != 0 ||
            !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)))
            return false;
    }
    return true;
}

int cmd_publish(int argc, char **argv)
{
    struct publish_args pa = {.wait_s = 60};
    pa.paths.v = calloc((size_t)argc + 1, sizeof(*pa.paths.v));
    struct stoat_bus_conn *conn = NULL;
    struct stoat_bus_pub *pub = NULL;
    struct stoat_ruleset *rs = NULL;
    int rc = cli_parse(&command, argc, argv, 1, &pa);
    if (rc != CLI_GO)
        goto out;
    rc = EXIT_OK;
    if (!pa.paths.n) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    /* from the start: a stop asked for while connecting still ends in the summary */
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char self[256] = "";
    if (!pa.host) {
        gethostname(self, sizeof self - 1);
        pa.host = self;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_notes = true, .max_input_errors = 50};
    pa.ra.no_default_rules = true;
    rc = EXIT_FATAL;
    if (!(rs = cli_load_rules(&pa.ra, &dp, NULL, false)))
        goto out;
    if (!(conn = cli_bus_connect(&pa.bus, pa.host, &dp)))
        goto out;
    struct stoat_bus_pub_opts po;
    cli_bus_pub_opts(&pa.bus, pa.host, "publish", &dp, &po);
    po.block = true;
    if (all_whole(&pa))
        po.flush_ms = 2000; /* larger batches (why: at the top) */
    char why[512];
    if (stoat_bus_pub_create(conn, &po, &pub, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "stoat publish: %s\n", why);
        goto out;
    }
    struct stoat_hunt_stats st = {0};
    rc = EXIT_OK;
    if (pa.follow)
        rc = follow(rs, pub, &pa, &dp, po.spool_dir, &st);
    else if (publish_paths(rs, pub, pa.host, &dp, pa.paths.v, pa.paths.n, &st) != STOAT_OK)
        rc = EXIT_FATAL;
    bool all = stoat_bus_pub_finish(pub, pa.wait_s * 1000);
    struct stoat_bus_pub_stats ps;
    stoat_bus_pub_stats(pub, &ps);
    if (ps.spool.dropped_events)
        fprintf(stderr, "stoat publish: %" PRIu64 " events (%" PRIu64 " batches) dropped: the spool was full\n",
                ps.spool.dropped_events, ps.spool.dropped_batches);
    if (ps.spooled_events)
        fprintf(stderr, "stoat publish: %" PRIu64 " events went through the spool (%" PRIu64 " batches resent)\n",
                ps.spooled_events, ps.resent);
    if (ps.duplicates)
        fprintf(stderr, "stoat publish: %" PRIu64 " batches were duplicates the stream already held\n", ps.duplicates);
    if (ps.earlier_acked_events)
        fprintf(stderr, "stoat publish: %" PRIu64 " events of an earlier run, left in the spool, acknowledged\n",
                ps.earlier_acked_events);
    if (!all)
        fprintf(stderr,
                "stoat publish: not everything was acknowledged within %" PRId64 " s; %" PRIu64
                " events wait in the spool (%s) for the next run\n",
                pa.wait_s, ps.spool.events, po.spool_dir);
    printf("published: %" PRIu64 " events, %" PRIu64 " acknowledged\n", ps.events, ps.acked_events);
    fflush(stdout);
    if (rc == EXIT_OK && (st.files_failed || ps.acked_events != ps.events))
        rc = EXIT_PARTIAL;
out:
    stoat_bus_pub_destroy(pub);
    stoat_bus_close(conn);
    if (conn)
        stoat_bus_shutdown();
    stoat_ruleset_destroy(rs);
    free(pa.paths.v);
    return rc;
}
