/* See units.h. One mutex guards the pool: a free list, a FIFO ring of units
 * for the workers, and the done slots the writer reads by sequence number
 * (slot seq % nunits, which cannot collide: at most nunits units are out).
 *
 * The writer is not a thread of its own but a role: the worker that parsed
 * a unit and finds no one writing writes every unit that is next in order
 * and done, then goes back to parsing. -j N is then N busy threads, not
 * N + 1 on N cores, which the scheduler had to slice (a writer switched out
 * left the pool full and the workers waiting; switched in, it found its
 * process tables gone from the cache). Only one worker holds the role at a
 * time, and one that holds it looks for the next unit again before letting
 * go, so a unit put down meanwhile is never left unwritten.
 *
 * The role has a home, the first worker: it writes after each unit it
 * parses, and the others write only while it waits for work or has ended.
 * The writer's state (process tables, chains, the sinks' buffers) then stays
 * in one core's cache; handed from core to core with every unit, it cost a
 * third more writing time at -j 2. A unit is still never left unwritten: put
 * down while the home parses, the home writes it next. */
#include "pipeline/units.h"

#include <pthread.h>
#include <stdlib.h>

#include "pipeline/records.h"
#include "pipeline/trace.h"
#include "util/mem.h"

struct worker {
    struct units *p;
    bool home; /* of the writer's role */
    struct unit_worker w;
    pthread_t th;
    struct engine_counters counters;
};

struct units {
    struct units_opts o;
    struct stoat_hunt_stats *stats;
    unsigned nthreads;
    bool threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_free;
    struct unit *units;
    size_t nunits;
    struct unit **freel;
    size_t nfree;
    struct unit **work; /* FIFO ring */
    size_t work_head, work_n;
    struct unit **done; /* slot seq % nunits */
    uint64_t next_seq;  /* to dispatch */
    bool producing_done;
    struct worker *workers;
    size_t started; /* threads running: workers[0..started) */
    bool writing;   /* a worker holds the writer's role */
    bool home_idle; /* the role's home waits for work or has ended */
    uint64_t next_write;
    /* The source is woken when this many units are free, not at each: it
     * fills units faster than the workers parse them, so it waits for a free
     * one after every unit, and each wake of a sleeping thread is a
     * cross-core interrupt that a virtual machine makes dear (at -j 2 a
     * realistic day woke it 900 times; half the pool: 3% less CPU, a quarter
     * less kernel time). The half still out keeps the workers busy meanwhile;
     * a source slower than the workers never waits, so is never kept. */
    size_t free_wake;
    bool source_waits, wake_source;
    struct unit_writer wr;
};

static void unit_reset(struct unit *u)
{
    if (u->cap > 4 * (size_t)UNIT_BYTES) {
        /* a huge record grew it: give the memory back */
        free(u->data);
        u->data = NULL;
        u->cap = 0;
    }
    u->len = 0;
    u->map = NULL;
    u->map_len = 0;
    u->part_begin = u->part_end = 0;
    u->last = false;
    u->note[0] = 0;
    u->note_line = 0;
    u->mode = 0;
    u->first_line = 0;
    u->file_offset = 0;
    u->range_begin = u->range_len = 0;
    u->lines_relative = false;
    u->lines = 0;
    u->read_failed = false;
    buf_clear(&u->out);
    u->records = u->events = u->skipped = 0;
}

/* The writer's part for one unit, on whichever thread writes. */
static void write_one(struct units *p, struct unit *u)
{
    unit_write(&p->wr, u);
    if (u->last && p->o.release)
        p->o.release(p->o.release_ctx, u->file);
}

/* The writer's role, entered and left with p->mu held: writes the units
 * that are next in order and done, the lock let go while each is written. */
static void write_ready(struct units *p)
{
    struct unit *u;
    while ((u = p->done[p->next_write % p->nunits]) && u->seq == p->next_write) {
        p->done[p->next_write % p->nunits] = NULL;
        pthread_mutex_unlock(&p->mu);
        struct trace_span ts;
        trace_start(&ts);
        write_one(p, u);
        trace_add(TRACE_WRITE, &ts);
        pthread_mutex_lock(&p->mu);
        p->next_write++;
        p->freel[p->nfree++] = u;
        if (p->source_waits && p->nfree >= p->free_wake) {
            p->source_waits = false; /* one wake, not one per unit freed after */
            p->wake_source = true;   /* by unlock_and_wake */
        }
    }
}

static bool next_is_done(const struct units *p)
{
    const struct unit *u = p->done[p->next_write % p->nunits];
    return u && u->seq == p->next_write;
}

/* Lets p->mu go, then wakes the source if the writer freed enough units:
 * woken while the mutex was still held, it found it taken and slept again
 * on the mutex, two more system calls and a wake. */
static void unlock_and_wake(struct units *p)
{
    bool wake = p->wake_source;
    p->wake_source = false;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        pthread_cond_signal(&p->cv_free);
}

/* Takes the writer's role, if free, and writes what is ready; p->mu held. */
static void write_if_free(struct units *p)
{
    if (p->writing)
        return;
    p->writing = true;
    write_ready(p);
    p->writing = false;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    struct units *p = wk->p;
    mem_thread_heap_on_huge_pages(); /* where the writer's tables grow, when it writes here */
    for (;;) {
        struct trace_span ts;
        trace_start(&ts);
        pthread_mutex_lock(&p->mu);
        if (wk->home && next_is_done(p)) {
            write_if_free(p); /* put down while the home was not waiting */
            if (p->wake_source) {
                p->wake_source = false;
                pthread_cond_signal(&p->cv_free); /* the wait below lets the mutex go */
            }
        }
        p->home_idle |= wk->home;
        while (p->work_n == 0 && !p->producing_done)
            pthread_cond_wait(&p->cv_work, &p->mu);
        trace_add(TRACE_WAIT_WORK, &ts);
        if (p->work_n == 0) {
            pthread_mutex_unlock(&p->mu);
            break; /* the home stays idle for good: the others write */
        }
        if (wk->home)
            p->home_idle = false;
        struct unit *u = p->work[p->work_head];
        p->work_head = (p->work_head + 1) % p->nunits;
        p->work_n--;
        pthread_mutex_unlock(&p->mu);
        trace_start(&ts);
        unit_parse(&wk->w, u);
        trace_add(TRACE_PARSE, &ts);
        pthread_mutex_lock(&p->mu);
        p->done[u->seq % p->nunits] = u;
        if (wk->home || p->home_idle)
            write_if_free(p);
        unlock_and_wake(p);
    }
    return NULL;
}

struct units *units_start(const struct stoat_ruleset *rs, const struct units_opts *o, struct consumer *con,
                          struct stoat_hunt_stats *stats)
{
    struct units *p = xcalloc(1, sizeof(*p));
    p->o = *o;
    p->stats = stats;
    p->nthreads = o->threads ? o->threads : 1;
    p->wr = (struct unit_writer){.con = con, .stats = stats, .diag = o->diag, .diag_ctx = o->diag_ctx};
    bool threaded = p->nthreads > 1;
    p->nunits = threaded ? 2 * (size_t)p->nthreads + 2 : 1;
    p->free_wake = p->nunits / 2;
    p->units = xcalloc(p->nunits, sizeof(*p->units));
    p->freel = xcalloc(p->nunits, sizeof(*p->freel));
    p->work = xcalloc(p->nunits, sizeof(*p->work));
    p->done = xcalloc(p->nunits, sizeof(*p->done));
    for (size_t i = 0; i < p->nunits; i++)
        p->freel[p->nfree++] = &p->units[i];
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_free, NULL);

    /* workers[0..started) are the threads running and the only workers set
     * up: one whose thread cannot be created is undone, its slot reused, so
     * units_finish joins and counts exactly those */
    p->workers = xcalloc(p->nthreads, sizeof(*p->workers));
    for (unsigned i = 0; threaded && i < p->nthreads; i++) {
        struct worker *wk = &p->workers[p->started];
        wk->p = p;
        wk->home = p->started == 0; /* the first that runs */
        unit_worker_init(&wk->w, rs, o->min_level, o->all_events);
        if (pthread_create(&wk->th, NULL, worker_main, wk) == 0) {
            p->started++;
        } else {
            struct engine_counters none;
            unit_worker_fini(&wk->w, &none);
        }
    }
    if (threaded && p->started == 0)
        threaded = false; /* no thread at all: the caller parses inline */
    if (!threaded) {
        p->workers[0].p = p;
        unit_worker_init(&p->workers[0].w, rs, o->min_level, o->all_events);
    }
    p->threaded = threaded;
    return p;
}

struct unit *units_take(struct units *p)
{
    struct unit *u;
    if (!p->threaded) {
        u = p->freel[--p->nfree];
    } else {
        struct trace_span ts;
        trace_start(&ts);
        pthread_mutex_lock(&p->mu);
        while (p->nfree == 0) {
            p->source_waits = true;
            pthread_cond_wait(&p->cv_free, &p->mu);
        }
        trace_add(TRACE_WAIT_FREE, &ts);
        u = p->freel[--p->nfree];
        pthread_mutex_unlock(&p->mu);
    }
    unit_reset(u);
    return u;
}

void units_send(struct units *p, struct unit *u)
{
    if (!p->threaded) {
        /* one thread: parse where we read */
        struct trace_span ts;
        trace_start(&ts);
        unit_parse(&p->workers[0].w, u);
        trace_add(TRACE_PARSE, &ts);
        trace_start(&ts);
        write_one(p, u);
        trace_add(TRACE_WRITE, &ts);
        p->freel[p->nfree++] = u;
        return;
    }
    pthread_mutex_lock(&p->mu);
    u->seq = p->next_seq++;
    p->work[(p->work_head + p->work_n) % p->nunits] = u;
    p->work_n++;
    pthread_mutex_unlock(&p->mu);
    pthread_cond_signal(&p->cv_work); /* after the unlock: see unlock_and_wake */
}

void units_finish(struct units *p)
{
    if (p->threaded) {
        struct trace_span ts;
        trace_start(&ts);
        pthread_mutex_lock(&p->mu);
        p->producing_done = true;
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->started; i++)
            pthread_join(p->workers[i].th, NULL);
        trace_add(TRACE_JOIN, &ts);
    }
    for (size_t i = 0; i < (p->threaded ? p->started : 1); i++) {
        engine_regex_limited_add(p->workers[i].w.m.eng, &p->wr.con->regex_limited);
        unit_worker_fini(&p->workers[i].w, &p->workers[i].counters);
        p->stats->unrouted += p->workers[i].counters.unrouted;
        p->stats->evaluated += p->workers[i].counters.evaluated;
        p->stats->candidates += p->workers[i].counters.candidates;
    }
    free(p->workers);
    for (size_t i = 0; i < p->nunits; i++) {
        free(p->units[i].data);
        buf_free(&p->units[i].out);
    }
    free(p->units);
    free(p->freel);
    free(p->work);
    free(p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_free);
    unit_writer_fini(&p->wr);
    free(p);
}
