/* The writer's transactions and what they keep between alerts: its
 * statements, the caches of rows written, the roll-ups.
 *
 * Why it works this way:
 * - Writes are grouped into transactions (batch_alerts or batch_ms, see
 *   queue.c for the timer) because a commit costs an fsync; per-alert
 *   commits would cap a hunt at a few hundred alerts per second. Each
 *   commit notes its last alert and time in `commits`, which is how
 *   retention by days finds what to delete (retention.c).
 * - A commit holds everything its alerts need: the open run of the search
 *   index, the roll-ups' additions and the event packs (the packer's too)
 *   go in before it. A commit that fails rolls all back and forgets the
 *   caches, which may name rows that are gone.
 * - The writer remembers the processes it has stored in a bounded
 *   two-generation table of keyed hashes (store_int.h), so no index has to
 *   be kept for them in the file (a fleet worker, whose hosts another worker
 *   may have stored before, asks the file on a miss: shared_processes); and
 *   a batch's additions to the roll-ups
 *   (count_hour, count_host, count_rule) in a small table, written once
 *   per batch rather than once per alert. */
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/packs.h"
#include "store/words.h"
#include "store/writer.h"
#include "util/mem.h"
#include "util/text.h"

static const char *const writer_sql[ST_COUNT] = {
    [ST_HOST_GET] = "SELECT id FROM hosts WHERE name = ?1",
    [ST_HOST_PUT] = "INSERT INTO hosts(name) VALUES(?1)",
    [ST_RULE_PUT] = "INSERT INTO rules(key, uid, title, kind, level, status, tags, techniques, tactics, product,"
                    " category, service, description, file) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
                    " ON CONFLICT(key) DO UPDATE SET title=excluded.title, level=excluded.level,"
                    " status=excluded.status, tags=excluded.tags, techniques=excluded.techniques,"
                    " tactics=excluded.tactics, description=excluded.description, file=excluded.file"
                    " RETURNING id",
    [ST_TACTIC_PUT] = "INSERT OR IGNORE INTO rule_tactics(tactic, rule_id) VALUES(?1, ?2)",
    [ST_TECH_PUT] = "INSERT OR IGNORE INTO rule_techniques(technique, rule_id) VALUES(?1, ?2)",
    [ST_PACK_PUT] = store_sql_pack_put,
    [ST_PROC_PUT] = "INSERT INTO processes(host_id, guid, pid, start_ns, image, command_line, user, parent_id)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [ST_PROC_LINK] = "UPDATE processes SET parent_id = ?2 WHERE id = ?1 AND parent_id IS NULL",
    [ST_PROC_FIND] = "SELECT id, parent_id IS NOT NULL FROM processes WHERE host_id = ?1 AND guid = ?2"
                     " ORDER BY id LIMIT 1",
    [ST_INC_ALERT_AT] = "INSERT OR IGNORE INTO incident_alerts(incident_id, alert_id)"
                        " SELECT ?1, id FROM alerts WHERE host_id = ?2 AND time_ns = ?3 AND seq = ?4",
    [ST_ALERT_PUT] =
        "INSERT INTO alerts(run_id, seq, time_ns, timestamp, host_id, rule_id, level, event_id,"
        " process_id, logon_id, image, command_line, user) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [ST_TEXT_PUT] = store_sql_words_put,
    [ST_INC_PUT] = "INSERT INTO incidents(run_id, seq, host_id, logon_id, title, score, level, first_ns, last_ns,"
                   " tactics, nalerts, evidence, rules, hosts, account, edges)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
    [ST_INC_ALERT] = "INSERT OR IGNORE INTO incident_alerts(incident_id, alert_id) VALUES(?1, ?2)",
    [ST_COMMIT_PUT] = "INSERT INTO commits(last_alert, at_ns) VALUES(?1, ?2)",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_COUNT_HOUR] = "INSERT INTO count_hour(hour, level, n) VALUES(?1,?2,?3)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [ST_COUNT_HOST] = "INSERT INTO count_host(host_id, level, n, first_ns, last_ns) VALUES(?1,?2,?3,?4,?5)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n, first_ns = min(first_ns, excluded.first_ns),"
                      " last_ns = max(last_ns, excluded.last_ns)",
    [ST_COUNT_RULE] = "INSERT INTO count_rule(rule_id, host_id, n) VALUES(?1,?2,?3)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [ST_CORR_PUT] = "INSERT INTO correlations(alert_id, type, value, first_ns, last_ns, grp, evidence)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_CORR_ALERT] = "INSERT OR IGNORE INTO correlation_alerts(corr_id, alert_id) VALUES(?1, ?2)",
};

stoat_err store_writer_prepare(struct stoat_store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (!(s->st[i] = store_prepare(s, writer_sql[i])))
            return STOAT_ERR_IO;
    return STOAT_OK;
}

void store_writer_close(struct stoat_store *s)
{
    for (int i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    strmap_free(&s->hosts);
    free(s->procs[0].slots);
    free(s->procs[1].slots);
    free(s->rules);
    free(s->counts);
    free(s->seq_rows);
    free(s->ev_file);
    buf_free(&s->scratch);
}

/* ------------------------------------------------------------ processes */

void store_procs_clear(struct stoat_store *s)
{
    for (int g = 0; g < 2; g++) {
        free(s->procs[g].slots);
        s->procs[g] = (struct proc_gen){0};
    }
}

static struct store_proc_slot *proc_find(struct proc_gen *g, uint64_t h)
{
    if (!g->slots)
        return NULL;
    for (size_t i = h & (PROC_SLOTS - 1);; i = (i + 1) & (PROC_SLOTS - 1)) {
        if (g->slots[i].h == h)
            return &g->slots[i];
        if (!g->slots[i].h)
            return NULL;
    }
}

struct store_proc_slot *store_proc_put(struct stoat_store *s, uint64_t h, int64_t row, bool has_parent)
{
    struct proc_gen *y = &s->procs[0];
    if (y->count >= PROC_SLOTS / 2) {
        /* the old generation goes; what is used from now on moves up */
        free(s->procs[1].slots);
        s->procs[1] = *y;
        *y = (struct proc_gen){0};
    }
    if (!y->slots)
        y->slots = xcalloc(PROC_SLOTS, sizeof(*y->slots));
    size_t i = h & (PROC_SLOTS - 1);
    while (y->slots[i].h && y->slots[i].h != h)
        i = (i + 1) & (PROC_SLOTS - 1);
    if (!y->slots[i].h)
        y->count++;
    y->slots[i] = (struct store_proc_slot){h, row, has_parent};
    return &y->slots[i];
}

struct store_proc_slot *store_proc_get(struct stoat_store *s, uint64_t h)
{
    struct store_proc_slot *p = proc_find(&s->procs[0], h);
    if (p)
        return p;
    if (!(p = proc_find(&s->procs[1], h)))
        return NULL;
    struct store_proc_slot keep = *p;
    return store_proc_put(s, h, keep.row, keep.has_parent);
}

/* ------------------------------------------------------------ roll-ups */

/* Adds the batch's counts to the roll-ups. */
static int counts_flush(struct stoat_store *s)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < STORE_COUNT_SLOTS && s->ncounts; i++) {
        struct count_slot *c = &s->counts[i];
        if (!c->n)
            continue;
        sqlite3_stmt *st = s->st[c->kind == 0 ? ST_COUNT_HOUR : c->kind == 1 ? ST_COUNT_HOST : ST_COUNT_RULE];
        sqlite3_bind_int64(st, 1, c->a);
        sqlite3_bind_int64(st, 2, c->b);
        sqlite3_bind_int64(st, 3, c->n);
        if (c->kind == 1) {
            sqlite3_bind_int64(st, 4, c->first);
            sqlite3_bind_int64(st, 5, c->last);
        }
        if (rc == SQLITE_OK)
            rc = store_step_done(st);
        c->n = 0;
    }
    s->ncounts = 0;
    return rc;
}

int store_count_add(struct stoat_store *s, int kind, int64_t a, int64_t b, int64_t t)
{
    if (!s->counts)
        s->counts = xcalloc(STORE_COUNT_SLOTS, sizeof(*s->counts));
    uint64_t h = hash_mix((uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)kind);
    for (size_t k = 0; k < STORE_COUNT_SLOTS; k++) {
        struct count_slot *c = &s->counts[(h + k) & (STORE_COUNT_SLOTS - 1)];
        if (c->n && c->kind == kind && c->a == a && c->b == b) {
            c->n++;
            if (t && (!c->first || t < c->first))
                c->first = t;
            if (t > c->last)
                c->last = t;
            return SQLITE_OK;
        }
        if (!c->n) {
            *c = (struct count_slot){a, b, 1, t, t, kind};
            if (++s->ncounts >= STORE_COUNT_SLOTS * 3 / 4)
                return counts_flush(s);
            return SQLITE_OK;
        }
    }
    return SQLITE_INTERNAL;
}

/* ------------------------------------------------------------ transactions */

stoat_err store_tx_begin(struct stoat_store *s)
{
    if (s->in_tx)
        return STOAT_OK;
    int rc = store_step_done(s->st[ST_BEGIN]);
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "starting a transaction");
    s->in_tx = true;
    s->pending = 0;
    s->tx_started_ns = store_mono_ms();
    /* another writer (a hunt beside a watch) may have added packs since:
     * numbers are taken from the file under the write lock */
    int64_t next = 0;
    if ((rc = store_packs_next(s, &next)) != SQLITE_OK) {
        stoat_err e = store_fail(s, rc, "reading the event packs");
        store_rollback(s);
        s->in_tx = false;
        return e;
    }
    if (next > s->next_event)
        s->next_event = next;
    s->tx_next_event = s->next_event;
    return STOAT_OK;
}

stoat_err store_tx_end(struct stoat_store *s)
{
    if (!s->in_tx)
        return STOAT_OK;
    /* a run never spans two transactions: retention and readers see whole runs */
    int rc = store_words_flush(s, s->st[ST_TEXT_PUT]);
    if (rc == SQLITE_OK)
        rc = counts_flush(s);
    if (rc == SQLITE_OK)
        rc = store_pack_flush(s, false); /* and the packer's: all in before the commit */
    if (rc == SQLITE_OK && s->pending) {
        sqlite3_bind_int64(s->st[ST_COMMIT_PUT], 1, (int64_t)s->last_alert_id);
        sqlite3_bind_int64(s->st[ST_COMMIT_PUT], 2, store_now_ns());
        rc = store_step_done(s->st[ST_COMMIT_PUT]);
    }
    if (rc == SQLITE_OK)
        rc = store_step_done(s->st[ST_COMMIT]);
    if (rc != SQLITE_OK) {
        stoat_err e = store_fail(s, rc, "committing");
        store_rollback(s);
        s->in_tx = false;
        store_packs_drop(s);
        store_words_drop(s);
        /* the caches may name rows that were rolled back */
        strmap_free(&s->hosts);
        strmap_init(&s->hosts);
        store_procs_clear(s);
        s->nrules = 0;
        s->ev_id = 0;
        if (s->counts)
            memset(s->counts, 0, STORE_COUNT_SLOTS * sizeof(*s->counts));
        s->ncounts = 0;
        return e;
    }
    s->in_tx = false;
    s->commits++;
    return STOAT_OK;
}

stoat_err store_tx_maybe_end(struct stoat_store *s)
{
    if (s->pending >= s->batch_alerts || store_mono_ms() - s->tx_started_ns >= (int64_t)s->batch_ms)
        return store_tx_end(s);
    return STOAT_OK;
}
