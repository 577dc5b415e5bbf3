/* `stoat watch --publish`: the watch's events and alerts to the fleet, and
 * its rules from the fleet's bucket.
 *
 * Detection stays local: the publisher never makes the sensor's thread wait
 * (a full queue goes to the spool), and the alerts' local sinks are added
 * before and regardless of the bus. The connection is made after the sensor
 * loaded, because loading it drops the process's capabilities and threads
 * started before would keep them. A new rule bundle in stoat_rules is
 * fetched and compiled on the watch's reload thread, as SIGHUP's rules are,
 * and swapped in between two polls: no event is lost to a reload. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "stoat/sinks.h"
#include "stoat/watch.h"
#include "util/fs.h"

struct watch_pub {
    struct stoat_bus_conn *conn;
    struct stoat_bus_pub *pub;
    struct stoat_bus_rules_watch *rules;
    char spool[1024];
    pthread_mutex_t mu; /* the heartbeat's figures, set by the watch loop */
    uint64_t lost;
    char rule_version[STOAT_BUS_VERSION_MAX + 8];
    char mode[64];
};

static void hb_extra(void *ctx, struct stoat_bus_hb_extra *x)
{
    struct watch_pub *wp = ctx;
    pthread_mutex_lock(&wp->mu);
    x->lost = wp->lost;
    snprintf(x->rule_version, sizeof x->rule_version, "%s", wp->rule_version);
    snprintf(x->sensor_mode, sizeof x->sensor_mode, "%s", wp->mode);
    pthread_mutex_unlock(&wp->mu);
}

bool watch_pub_prepare(const struct bus_args *b, const char *run_as)
{
    const char *dir = b->spool ? b->spool : CLI_SPOOL_DEFAULT;
    if (!run_as)
        return true; /* the publisher makes it itself, as the user it is */
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(run_as, &pw, buf, sizeof(buf), &res) != 0 || !res) {
        fprintf(stderr, "stoat watch: spool: no user %s to give %s to\n", run_as, dir);
        return false;
    }
    /* every missing folder of the path, the last one the watch's own */
    char path[1024];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "stoat watch: spool: cannot make %s: %s\n", path, strerror(errno));
            return false;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "stoat watch: spool: cannot make %s: %s\n", path, strerror(errno));
        return false;
    }
    if (chown(path, pw.pw_uid, pw.pw_gid) != 0) {
        fprintf(stderr, "stoat watch: spool: cannot give %s to %s: %s\n", path, run_as, strerror(errno));
        return false;
    }
    return true;
}

struct watch_pub *watch_pub_start(const struct bus_args *b, struct stoat_watch *w, struct diag_printer *dp)
{
    struct watch_pub *wp = calloc(1, sizeof *wp);
    if (!wp)
        return NULL;
    pthread_mutex_init(&wp->mu, NULL);
    snprintf(wp->rule_version, sizeof wp->rule_version, "local");
    const char *mode = stoat_watch_mode(w); /* its first part: what runs, not what it cannot see */
    snprintf(wp->mode, sizeof wp->mode, "%.*s", (int)strcspn(mode, ";"), mode);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (!(wp->conn = cli_bus_connect(b, host, dp)))
        goto fail;
    struct stoat_bus_pub_opts po;
    cli_bus_pub_opts(b, host, "watch", dp, &po);
    po.block = false; /* the sensor is never held up: a full queue spools */
    po.hb_extra = hb_extra;
    po.hb_ctx = wp;
    snprintf(wp->spool, sizeof wp->spool, "%s", po.spool_dir);
    char why[512];
    if (stoat_bus_pub_create(wp->conn, &po, &wp->pub, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "stoat watch: %s\n", why);
        goto fail;
    }
    struct stoat_sink sink;
    stoat_sink_lines(stoat_bus_pub_event_line, wp->pub, true, &sink);
    stoat_watch_add_event_sink(w, &sink);
    stoat_sink_lines(stoat_bus_pub_alert_line, wp->pub, false, &sink);
    stoat_watch_add_sink(w, &sink);
    if (stoat_bus_rules_watch_start(wp->conn, &wp->rules, why, sizeof why) != STOAT_OK)
        fprintf(stderr, "stoat watch: %s; rules come from the command line only\n", why);
    return wp;
fail:
    stoat_bus_close(wp->conn);
    pthread_mutex_destroy(&wp->mu);
    free(wp);
    return NULL;
}

void watch_pub_update(struct watch_pub *wp, uint64_t lost)
{
    pthread_mutex_lock(&wp->mu);
    wp->lost = lost;
    pthread_mutex_unlock(&wp->mu);
}

bool watch_pub_new_rules(struct watch_pub *wp, char *version, size_t vlen)
{
    return wp && wp->rules && stoat_bus_rules_watch_changed(wp->rules, version, vlen);
}

char *watch_pub_fetch_rules(struct watch_pub *wp, const char *version)
{
    char base[1100], dir[1200], tmp[1200], why[512], got[STOAT_BUS_VERSION_MAX];
    snprintf(base, sizeof base, "%s/rules", wp->spool);
    snprintf(dir, sizeof dir, "%s/%s", base, version);
    if (fs_is_dir(dir))
        return strdup(dir); /* fetched before: a version is its content's hash */
    mkdir(base, 0700);
    snprintf(tmp, sizeof tmp, "%s/fetch.XXXXXX", base);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "stoat watch: cannot make %s: %s\n", tmp, strerror(errno));
        return NULL;
    }
    if (stoat_bus_rules_fetch(wp->conn, tmp, got, sizeof got, why, sizeof why) != STOAT_OK || !got[0]) {
        fprintf(stderr, "stoat watch: rule bundle %s: %s\n", version, got[0] ? why : "gone from the bucket");
        return NULL;
    }
    if (strcmp(got, version) != 0) /* a newer one came meanwhile: the watcher says so next */
        snprintf(dir, sizeof dir, "%s/%s", base, got);
    return strdup(rename(tmp, dir) == 0 ? dir : tmp);
}

void watch_pub_rules_taken(struct watch_pub *wp, const char *dir)
{
    const char *v = strrchr(dir, '/');
    pthread_mutex_lock(&wp->mu);
    snprintf(wp->rule_version, sizeof wp->rule_version, "%s", v ? v + 1 : dir);
    pthread_mutex_unlock(&wp->mu);
}

void watch_pub_stop(struct watch_pub *wp, bool quiet)
{
    if (!wp)
        return;
    stoat_bus_rules_watch_stop(wp->rules);
    /* a moment for the last batches; what is not acknowledged stays in the spool */
    stoat_bus_pub_finish(wp->pub, 3000);
    struct stoat_bus_pub_stats st;
    stoat_bus_pub_stats(wp->pub, &st);
    if (!quiet || st.spool.events || st.spool.dropped_events)
        fprintf(stderr,
                "stoat watch: published %llu events and %llu alerts, %llu acknowledged; %llu events in the "
                "spool, %llu dropped from it\n",
                (unsigned long long)st.events, (unsigned long long)st.alerts,
                (unsigned long long)(st.acked_events + st.acked_alerts), (unsigned long long)st.spool.events,
                (unsigned long long)st.spool.dropped_events);
    stoat_bus_pub_destroy(wp->pub);
    stoat_bus_close(wp->conn);
    stoat_bus_shutdown();
    pthread_mutex_destroy(&wp->mu);
    free(wp);
}
