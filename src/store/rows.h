/* The JSON rows the store's readers write, each in one place: the
 * dashboard's documents (query.c, overview.c) and the report's parts
 * (export.c) take their alerts, rules, incidents, processes, triage and
 * correlations from here, so the browser code reads one shape of each. */
#ifndef STOAT_STORE_ROWS_H
#define STOAT_STORE_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store_int.h"

/* Column values as JSON: a string (escaped; invalid UTF-8 becomes U+FFFD)
 * or null; an integer or null; text we wrote as JSON, or fallback when
 * there is none. */
void json_col_text(struct buf *b, sqlite3_stmt *st, int col);
void json_col_int(struct buf *b, sqlite3_stmt *st, int col);
void json_col_raw(struct buf *b, sqlite3_stmt *st, int col, const char *fallback);

/* An alert list item from the columns of ALERT_COLS at col. An alert's
 * image, command line and user are NULL when its process row holds them
 * (alert.c), hence the join. */
#define ALERT_COLS                                                                                          \
    "a.id, a.time_ns, a.timestamp, h.name, a.level, a.rule_id, r.title, coalesce(a.image, ap.image),"       \
    " coalesce(a.command_line, ap.command_line), coalesce(a.user, ap.user), a.state, a.logon_id, a.run_id," \
    " a.process_id, a.event_id, r.kind"
#define ALERT_JOINS                                                      \
    " JOIN hosts h ON h.id = a.host_id JOIN rules r ON r.id = a.rule_id" \
    " LEFT JOIN processes ap ON ap.id = a.process_id"
#define ALERT_NCOLS 16
void store_alert_item(struct buf *b, sqlite3_stmt *st, int col);
/* A rule object from the columns of RULE_COLS. */
#define RULE_COLS \
    "r.id, r.uid, r.title, r.level, r.status, r.tags, r.techniques, r.tactics, r.product, r.category, r.service, r.description, r.file, r.kind"
void store_rule_item(struct buf *b, sqlite3_stmt *st, int col);
/* The incident list item from INCIDENT_COLS. */
#define INCIDENT_COLS                                                                                    \
    "i.id, h.name, i.logon_id, i.title, i.score, i.level, i.first_ns, i.last_ns, i.tactics, i.nalerts, " \
    "i.state, i.run_id, i.hosts, i.account"
#define INCIDENT_NCOLS 14
void store_incident_item(struct buf *b, sqlite3_stmt *st, int col);
/* A process from PROC_COLS. */
#define PROC_COLS "p.id, p.parent_id, p.image, p.command_line, p.user, p.pid, p.start_ns, p.guid"
void store_proc_item(struct buf *b, sqlite3_stmt *st, int col);
/* A run from RUN_COLS (table runs): {id, producer, args, started, ended,
 * alerts, status, pid, host}; status "running", "done" or "aborted". */
#define RUN_COLS "id, producer, args, started_ns, ended_ns, alerts, status, pid, host"
void store_run_item(struct buf *b, sqlite3_stmt *st, int col);
/* A triage entry from TRIAGE_COLS: {state, note, who, at}. */
#define TRIAGE_COLS "state, note, who, at_ns"
void store_triage_item(struct buf *b, sqlite3_stmt *st, int col);
/* A correlation from CORR_COLS (table correlations as c), its object left open
 * for its alerts: {"type":..,"value":..,"first":..,"last":..,"group":..,
 * "evidence":.. */
#define CORR_COLS                                                                                                         \
    "c.type, c.value, c.first_ns, c.last_ns, CASE WHEN json_valid(c.grp) AND json_type(c.grp) = 'object' THEN c.grp END," \
    " CASE WHEN json_valid(c.evidence) AND json_type(c.evidence) = 'array' THEN c.evidence END"
void store_corr_head(struct buf *b, sqlite3_stmt *st, int col);

/* Runs st (bound by the caller) and appends each row with emit, as a JSON
 * array. SQLITE_OK or the error; the caller finalizes st. */
int store_rows(sqlite3_stmt *st, struct buf *b, void (*emit)(struct buf *, sqlite3_stmt *, int));
/* Gives b's text to the caller of a *_json function (b is left empty). */
stoat_err store_hand_over(struct buf *b, char **json, size_t *len);
/* A read that failed: the error (in s->errmsg), st finalized, b freed. */
stoat_err store_read_fail(struct stoat_store *s, sqlite3_stmt *st, int rc, struct buf *b);

#endif
