/* A run's life in the file: its row, the lock that says its writer still
 * lives, and the runs whose writer is gone.
 *
 * Why it works this way:
 * - A writer that is killed (SIGKILL, the OOM killer, a power cut) cannot
 *   record its end, and its run would say "running" for ever. Whether a
 *   run's writer lives is asked of the kernel: for its run's life the
 *   writer holds a write lock on byte <run id> of a file beside the store
 *   ("<store>-runs"), and the kernel lets it go when the process ends,
 *   however it ends. There is no pid that may be reused, no clock to trust,
 *   no heartbeat to write every few seconds (a writer stopped in a debugger
 *   is still alive, not stale).
 * - The locks are open-file-description locks (F_OFD_SETLK): unlike
 *   classic fcntl locks they conflict between two handles of one process,
 *   and closing another descriptor of the file does not drop them. A child
 *   forked (not exec'd: the descriptor is close-on-exec) shares the lock and
 *   keeps the run alive while it lives.
 * - Every writer of a WAL store runs on the store's host (WAL needs shared
 *   memory), so the kernel that holds the locks sees every writer, in a
 *   container with its own pid namespace too, where a pid would mislead.
 * - The lock is taken inside the transaction that inserts the run, so no
 *   one sees the row before its lock is held; it is let go after the run's
 *   end is committed.
 * - A writer opening the store marks "aborted" the running runs whose byte
 *   no one holds (ended_ns stays empty: when the writer died is not known).
 *   A run whose writer could not take its lock (a lock file it may not
 *   create) is recorded without one (writer_lock NULL) and never judged;
 *   so are the runs of a stoat before schema 4. A store copied without its
 *   "-runs" file has no writer: its running runs are aborted, rightly.
 * - A run also records its writer's pid and host name, for a person. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/db.h"
#include "store/runs.h"
#include "store/writer.h"

/* ------------------------------------------------------------ the lock file */

/* The lock file, opened (made when missing) once per handle; -1 when it
 * cannot be. */
static int lock_fd(struct stoat_store *s)
{
    if (s->runs_fd >= 0)
        return s->runs_fd;
    char p[sizeof(s->path) + 8];
    snprintf(p, sizeof(p), "%s-runs", s->path);
    /* made as SQLite makes its -wal and -shm: with the store's mode, and
     * its owner when root makes it */
    struct stat st;
    bool have = stat(s->path, &st) == 0;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, have ? st.st_mode & 0666 : 0644);
    if (fd < 0)
        fd = open(p, O_RDONLY | O_CLOEXEC); /* enough to ask, not to hold */
    if (fd >= 0 && have && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0) {
        /* not fatal: the store's owner may then not take run locks */
    }
    return s->runs_fd = fd;
}

static bool run_lock(struct stoat_store *s, int64_t id)
{
    int fd = lock_fd(s);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)id, .l_len = 1};
    return fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

static void run_unlock(struct stoat_store *s)
{
    if (!s->run_locked || s->runs_fd < 0)
        return;
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = (off_t)s->run_id, .l_len = 1};
    fcntl(s->runs_fd, F_OFD_SETLK, &fl);
    s->run_locked = false;
}

/* 1: a process holds run id's lock; 0: no one does; -1: cannot tell. */
static int run_alive(struct stoat_store *s, int64_t id)
{
    int fd = lock_fd(s);
    if (fd < 0)
        return -1;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)id, .l_len = 1};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

void store_runs_close(struct stoat_store *s)
{
    if (s->runs_fd >= 0)
        close(s->runs_fd);
    s->runs_fd = -1;
    s->run_locked = false;
}

/* ------------------------------------------------------------ a run */

stoat_err store_run_start(struct stoat_store *s, const char *producer, const char *args)
{
    stoat_err e = store_tx_end(s);
    if (e != STOAT_OK)
        return e;
    store_run_abandon(s); /* one begun before and never ended */
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        host[0] = 0;
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "recording the run");
    sqlite3_stmt *st =
        store_prepare(s, "INSERT INTO runs(producer, args, started_ns, pid, host) VALUES(?1,?2,?3,?4,?5)");
    if (!st) {
        store_rollback(s);
        return STOAT_ERR_IO;
    }
    store_bind_text(st, 1, producer ? producer : "unknown");
    store_bind_text(st, 2, args);
    sqlite3_bind_int64(st, 3, store_now_ns());
    sqlite3_bind_int64(st, 4, (int64_t)getpid());
    store_bind_text(st, 5, host[0] ? host : NULL);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    bool locked = false;
    if (rc == SQLITE_DONE && (locked = run_lock(s, id))) {
        char sql[96];
        snprintf(sql, sizeof(sql), "UPDATE runs SET writer_lock = 1 WHERE id = %lld", (long long)id);
        rc = store_exec(s, sql) == SQLITE_OK ? SQLITE_DONE : SQLITE_ERROR;
    }
    if (rc == SQLITE_DONE)
        rc = store_exec(s, "COMMIT") == SQLITE_OK ? SQLITE_DONE : sqlite3_extended_errcode(s->db);
    s->run_id = id;
    s->run_locked = locked;
    if (rc != SQLITE_DONE) {
        e = store_fail(s, rc, "recording the run");
        store_rollback(s);
        run_unlock(s);
        s->run_id = 0;
        return e;
    }
    s->ev_id = 0;
    s->nseq = 0;
    s->seq_base = 0;
    return STOAT_OK;
}

stoat_err store_run_finish(struct stoat_store *s, const struct stoat_hunt_stats *stats)
{
    sqlite3_stmt *st = store_prepare(s, "UPDATE runs SET ended_ns=?2, files=?3, records=?4, events=?5, skipped=?6,"
                                        " alerts=?7, status='done' WHERE id=?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, store_now_ns());
    if (stats) {
        sqlite3_bind_int64(st, 3, (int64_t)stats->files);
        sqlite3_bind_int64(st, 4, (int64_t)stats->records);
        sqlite3_bind_int64(st, 5, (int64_t)stats->events);
        sqlite3_bind_int64(st, 6, (int64_t)stats->skipped);
        sqlite3_bind_int64(st, 7, (int64_t)stats->alerts);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, rc, "recording the run's end");
    run_unlock(s); /* after the end is in the file: never seen running and unheld */
    s->run_id = 0;
    return STOAT_OK;
}

void store_run_abandon(struct stoat_store *s)
{
    if (!s->run_id || s->readonly || !s->db)
        return;
    char sql[96];
    snprintf(sql, sizeof(sql), "UPDATE runs SET status = 'aborted' WHERE id = %lld AND status = 'running'",
             (long long)s->run_id);
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    run_unlock(s);
    s->run_id = 0;
}

/* ------------------------------------------------------------ stale runs */

/* The running runs with a lock that no one holds, at most max of them. */
static int stale_runs(struct stoat_store *s, int64_t *ids, int max, int *n)
{
    *n = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT id FROM runs WHERE status = 'running' AND writer_lock = 1");
    if (!st)
        return SQLITE_ERROR;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (id != s->run_id && run_alive(s, id) == 0)
            ids[(*n)++] = id;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int store_runs_reap(struct stoat_store *s)
{
    int64_t ids[64];
    int n = 0;
    /* looked for without the write lock, which a busy writer beside may
     * hold: most opens find nothing to mark */
    int rc = stale_runs(s, ids, 64, &n);
    if (rc != SQLITE_OK || !n)
        return rc == SQLITE_OK ? 0 : -1;
    if (store_exec(s, "BEGIN IMMEDIATE") != SQLITE_OK)
        return -1;
    /* again under the lock: another writer may have marked them */
    if ((rc = stale_runs(s, ids, 64, &n)) == SQLITE_OK) {
        for (int i = 0; i < n && rc == SQLITE_OK; i++) {
            char sql[96];
            snprintf(sql, sizeof(sql), "UPDATE runs SET status = 'aborted' WHERE id = %lld AND status = 'running'",
                     (long long)ids[i]);
            rc = store_exec(s, sql);
        }
    }
    if (rc != SQLITE_OK || store_exec(s, "COMMIT") != SQLITE_OK) {
        store_rollback(s);
        return -1;
    }
    return n;
}
