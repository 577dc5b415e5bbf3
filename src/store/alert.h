/* What one alert and one incident write (alert.c). */
#ifndef STOAT_STORE_ALERT_H
#define STOAT_STORE_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

/* What an alert needs that is worked out from the alert alone: done by the
 * producer's thread (stoat_store_put_alert), so the writer's thread only
 * writes. */
#define PRE_ANC 64
struct pre {
    const char *rec; /* the event's record (a JSON object) */
    size_t recn;
    bool shared_ev; /* the same event as the alert before */
    const char *img, *cmd, *user;
    size_t imgn, cmdn, usern;
    bool from_anc;    /* all three from ancestry[0] (may then be left to its row) */
    const char *text; /* the searchable words */
    size_t textn;
    const char *evidence; /* a correlation's unreported matches, a JSON array (or NULL) */
    size_t evidencen;
    size_t nanc;
    uint64_t ph[PRE_ANC];      /* keyed hash of host and GUID per ancestor, 0 without a GUID */
    const char *guid[PRE_ANC]; /* the GUID, or pid@start made up */
};

/* Works out p for a; rec, text and gbuf hold what it points to. last_file
 * and last_record are the event of the alert before (updated). */
void store_alert_prepare(uint64_t seed, const struct stoat_alert *a, struct pre *p, struct buf *rec, struct buf *text,
                         char (*gbuf)[48], const char **last_file, uint64_t *last_record);
/* The writer's part of an alert and of an incident: their rows, in the
 * open transaction (begun when none is), committed when the batch is due. */
stoat_err store_alert_write(struct stoat_store *s, const struct stoat_alert *a, const struct pre *p);
stoat_err store_incident_write(struct stoat_store *s, const struct stoat_incident *inc);
/* A correlation's group as the correlations table keeps it (grp): a JSON
 * object of the group-by names and values, in the correlation's order. */
void store_corr_group_json(struct buf *b, const struct stoat_corr_detail *d);

#endif
