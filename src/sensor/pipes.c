/* Pipelines: which process writes the pipe a process reads on its standard
 * input (`curl ... | bash`, `tar ... | nc`).
 *
 * Why it works this way:
 * - The kernel reports, at each exec, the inode of the pipe on fd 0 and on
 *   fd 1 (sensor.bpf.c). A shell makes both ends before it forks the two
 *   sides, so the writer's fd 1 and the reader's fd 0 name the same inode;
 *   the join is here, in user space, in two small direct-mapped tables
 *   (inode modulo their size: a collision forgets the older pipe, which
 *   costs a link, never a wrong one, as the inode is compared).
 * - The two sides exec in either order. When the writer is known at the
 *   reader's exec, the reader's exec event carries StdinFrom* itself. When
 *   the reader came first, it waits in the readers table, and the writer's
 *   exec produces a pipeline event (EventID 1004) for the reader, carrying
 *   the same fields: each link is reported once, as soon as it is known.
 * - A link names the writer by id and program, never by command line: the
 *   writer's exec event has it, and a copy on the reader's events made every
 *   keyword or CommandLine rule that matched it match one pipeline twice.
 * - Each link is reported on its reader, not on the processes that inherit
 *   the pipe from it (the commands of a script piped into bash): an exec
 *   whose parent's stdin is the same pipe (the process table keeps it) is
 *   not a new reader.
 * - A side that never execs (a shell builtin such as `echo ... |`) is not
 *   seen; its pipe stays unlinked.
 */
#include "sensor/sensor_int.h"

#include <stdlib.h>
#include <string.h>

#define PIPE_STR_MAX 4096u /* bytes of a writer's image kept */

struct pipe_end {
    uint64_t ino;
    uint32_t dev, tgid;
    uint64_t start_ns;
    char *image;
};

struct pipes {
    size_t cap;
    struct pipe_end *writers, *readers;
};

struct pipes *pipes_new(size_t cap)
{
    struct pipes *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->cap = cap ? cap : 1024;
    p->writers = calloc(p->cap, sizeof(*p->writers));
    p->readers = calloc(p->cap, sizeof(*p->readers));
    if (!p->writers || !p->readers) {
        pipes_free(p);
        return NULL;
    }
    return p;
}

static void end_clear(struct pipe_end *e)
{
    free(e->image);
    memset(e, 0, sizeof(*e));
}

void pipes_free(struct pipes *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->writers && i < p->cap; i++)
        end_clear(&p->writers[i]);
    for (size_t i = 0; p->readers && i < p->cap; i++)
        end_clear(&p->readers[i]);
    free(p->writers);
    free(p->readers);
    free(p);
}

static char *dup_cap(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strnlen(s, PIPE_STR_MAX);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void end_set(struct pipe_end *e, uint64_t ino, uint32_t dev, const struct sensor_event *ev)
{
    end_clear(e);
    e->ino = ino;
    e->dev = dev;
    e->tgid = ev->tgid;
    e->start_ns = ev->start_time_ns;
    e->image = dup_cap(ev->image);
}

static bool same_pipe(const struct pipe_end *e, uint64_t ino, uint32_t dev)
{
    return e->ino == ino && e->dev == dev && ino != 0;
}

int pipes_exec(struct sensor *s, struct sensor_event *ev, uint64_t in_pipe, uint64_t out_pipe, uint32_t dev,
               struct sensor_event *link)
{
    struct pipes *p = s->pipes;
    int ret = 0;
    if (!p || (!in_pipe && !out_pipe))
        return 0;
    /* the writer side first: what the reader side then points at stays put */
    if (out_pipe) {
        struct pipe_end *r = &p->readers[out_pipe % p->cap];
        struct pipe_end *w = &p->writers[out_pipe % p->cap];
        end_set(w, out_pipe, dev, ev);
        if (same_pipe(r, out_pipe, dev) && !(r->tgid == ev->tgid && r->start_ns == ev->start_time_ns)) {
            /* the reader exec'd first: the link is news now */
            sensor_event_init(link, SENSOR_PIPELINE, ev->ts_ns, r->tgid, r->tgid);
            link->start_time_ns = r->start_ns;
            link->stdin_tgid = w->tgid;
            link->stdin_start_ns = w->start_ns;
            link->stdin_image = w->image;
            end_clear(r);
            ret = 1;
        }
    }
    /* a process whose parent read the same pipe inherited it (the commands of
     * a script piped into bash): the link was the parent's, and is not news */
    struct proc_info *pp = in_pipe ? proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns) : NULL;
    if (pp && pp->stdin_pipe == in_pipe)
        in_pipe = 0;
    if (in_pipe) {
        struct pipe_end *w = &p->writers[in_pipe % p->cap];
        if (same_pipe(w, in_pipe, dev) && !(w->tgid == ev->tgid && w->start_ns == ev->start_time_ns)) {
            ev->stdin_tgid = w->tgid;
            ev->stdin_start_ns = w->start_ns;
            ev->stdin_image = w->image;
        } else {
            end_set(&p->readers[in_pipe % p->cap], in_pipe, dev, ev);
        }
    }
    return ret;
}
