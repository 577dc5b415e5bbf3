/* Where both capture modes end: an event is completed from the process
 * table and handed to the callback. The eBPF decoder (decode.c) and the
 * fallback (fallback.c) make events; what the sensor knows about processes
 * is added to them here.
 *
 * Why it works this way:
 * - A process the table does not know (began before the sensor, or was
 *   evicted) is read once from /proc if its start time still matches, so a
 *   reused pid never lends its details to another process. A replay has the
 *   live run's reads in its capture and never reads this host's /proc; a
 *   capture records each read before the record that needed it.
 * - Each table insert may evict: an event takes the table's string
 *   pointers only after the last insert made for it.
 * - Counting happens at delivery (events, by kind); a non-zero return of the
 *   callback is kept, and ends the batch.
 */
#include "sensor/sensor_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *sensor_join_argv(struct sensor *s, const char *argv, size_t len, uint32_t *argc)
{
	uint32_t n = 0;
	if (s->cmd_cap < len + 1) {
		size_t cap = len + 1 < 4096 ? 4096 : len + 1;
		char *nb = realloc(s->cmd, cap);
		if (!nb) {
			*argc = 0;
			return "";
		}
		s->cmd = nb;
		s->cmd_cap = cap;
	}
	while (len > 0 && argv[len - 1] == 0)
		len--;
	for (size_t i = 0; i < len; i++) {
		if (argv[i] == 0) {
			s->cmd[i] = ' ';
			n++;
		} else {
			s->cmd[i] = argv[i];
		}
	}
	s->cmd[len] = 0;
	*argc = len ? n + 1 : 0;
	return s->cmd;
}

/* A process we have no record of (began before the sensor, or evicted):
 * read it from /proc if it is the same process (start time within a tick). */
struct proc_info *sensor_proc_lookup(struct sensor *s, uint32_t tgid, uint64_t start_ns)
{
	struct proc_info *pi = proctab_get(s->pt, tgid, start_ns);
	struct procstat st;
	ssize_t n;
	/* a replay has the live run's /proc reads in the capture, applied
	 * before the record that needed them; this host's /proc is not that one */
	if (pi || tgid == 0 || s->rp)
		return pi;
	if (proc_read_stat((int)tgid, &st) < 0)
		return NULL;
	uint64_t pst = proc_ticks_to_ns(st.start_ticks);
	uint64_t tick = proc_ticks_to_ns(1);
	if (start_ns && (pst > start_ns + tick || start_ns > pst + tick))
		return NULL;   /* pid reused since */
	pi = proctab_put(s->pt, tgid, start_ns ? start_ns : pst);
	if (!pi)
		return NULL;
	pi->ppid = st.ppid;
	/* own buffers: the caller may hold pointers into image_buf and cmd */
	if (proc_readlink((int)tgid, "exe", s->lookup_buf, PATH_MAX) >= 0)
		proctab_set(&pi->image, s->lookup_buf, strlen(s->lookup_buf));
	n = proc_read_file((int)tgid, "cmdline", s->pbuf, SENSOR_CMDLINE_KEEP + 1);
	if (n > 0) {
		size_t len = (size_t)n;
		while (len > 0 && s->pbuf[len - 1] == 0)
			len--;
		for (size_t i = 0; i < len; i++)
			if (s->pbuf[i] == 0)
				s->pbuf[i] = ' ';
		proctab_set(&pi->cmdline, s->pbuf, len);
	}
	s->st.proc_lookups_from_proc++;
	if (s->cap)
		capture_proc(s, pi);
	return pi;
}

void sensor_enrich(struct sensor *s, struct sensor_event *ev)
{
	/* Each lookup may insert, and an insert into a full table may evict: take
	 * the scalars first, and the string pointers only after the last insert. */
	struct proc_info *pi = sensor_proc_lookup(s, ev->tgid, ev->start_time_ns);
	if (pi && !ev->ppid) {
		ev->ppid = pi->ppid;
		ev->parent_start_time_ns = pi->pstart_ns;
	}
	if (ev->ppid)
		sensor_proc_lookup(s, ev->ppid, ev->parent_start_time_ns);
	pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
	if (pi) {
		if (!ev->image)
			ev->image = pi->image;
		if (!ev->cmdline)
			ev->cmdline = pi->cmdline;
	}
	struct proc_info *pp = ev->ppid ? proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns) : NULL;
	if (pp && !ev->parent_image) {
		ev->parent_image = pp->image;
		ev->parent_cmdline = pp->cmdline;
	}
}

int sensor_deliver(struct sensor *s, struct sensor_event *ev)
{
	int r;
	if ((unsigned)ev->kind < SENSOR_KIND_MAX_)
		s->st.by_kind[ev->kind]++;
	s->st.events++;
	s->delivered++;
	if (!s->cb)
		return 0;
	r = s->cb(s->cbctx, ev);
	if (r)
		s->cbret = r;
	return r;
}
