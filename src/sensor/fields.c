/* The sensor's events as Sigma-taxonomy fields, named as Sysmon for Linux
 * names them, so rules written for Sysmon (process_creation,
 * network_connection, file_event, process_termination on linux) match the live
 * sensor unchanged.
 *
 *   kind         EventID  fields (besides Channel, EventID, EventType, Computer, UtcTime)
 *   exec         1        ProcessGuid ProcessId Image CommandLine CurrentDirectory User UserId
 *                         LogonId TerminalSessionId Tty ParentProcessGuid ParentProcessId
 *                         ParentImage ParentCommandLine CgroupId [ArgvTruncated]
 *   exit         5        ProcessGuid ProcessId Image User ExitCode
 *   connect/     3        ProcessGuid ProcessId Image User Protocol Initiated SourceIsIpv6 SourceIp
 *   accept/close          SourcePort DestinationIsIpv6 DestinationIp DestinationPort NetworkEvent
 *                         [BytesSent BytesReceived at close] [ConnectionFailed]
 *   open         11       ProcessGuid ProcessId Image User TargetFilename AccessMode WatchedPath
 *   fork         1001     ProcessGuid ProcessId Image CommandLine ParentProcessGuid
 *                         ParentProcessId ParentImage
 *   sock_stdio   1002     ProcessGuid ProcessId Image CommandLine User StdioFds Protocol
 *                         SourceIp SourcePort DestinationIp DestinationPort
 *
 * Why it works this way: values are formatted into one scratch buffer owned by
 * the sensor, so emitting costs no allocation; user names are resolved once
 * per uid and cached (a fixed table, replaced round-robin), because
 * getpwuid per event would read /etc/passwd per event. ProcessGuid is made
 * from 32 bits of the boot id, the start time and the pid: the same process
 * always gets the same id, two processes never share one within a boot.
 */
#include "sensor/sensor_int.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

const char *sensor_user_name(struct sensor *s, uint32_t uid)
{
	size_t slot = uid % SENSOR_USER_CACHE;
	if (s->users[slot].used && s->users[slot].uid == uid)
		return s->users[slot].name;
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
		snprintf(s->users[slot].name, sizeof(s->users[slot].name), "%s", res->pw_name);
	else
		snprintf(s->users[slot].name, sizeof(s->users[slot].name), "%u", uid);
	s->users[slot].uid = uid;
	s->users[slot].used = true;
	return s->users[slot].name;
}

struct fctx {
	struct sensor *s;
	int (*emit)(void *ctx, const char *name, const char *value);
	void *ctx;
	int n;
	int ret;
};

static void put(struct fctx *f, const char *name, const char *value)
{
	if (f->ret || !value)
		return;
	int r = f->emit(f->ctx, name, value);
	if (r)
		f->ret = r;
	else
		f->n++;
}

static void putf(struct fctx *f, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void putf(struct fctx *f, const char *name, const char *fmt, ...)
{
	char v[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	put(f, name, v);
}

static void guid(struct fctx *f, const char *name, uint32_t pid, uint64_t start)
{
	if (!pid)
		return;
	putf(f, name, "{%08x-%04x-%04x-%04x-%04x%08x}", f->s->boot_tag,
	     (unsigned)(start >> 48) & 0xffff, (unsigned)(start >> 32) & 0xffff,
	     (unsigned)(start >> 16) & 0xffff, (unsigned)start & 0xffff, pid);
}

static void addr(struct fctx *f, const char *isv6, const char *ip, const char *port,
		 const struct sensor_addr *a)
{
	char buf[INET6_ADDRSTRLEN];
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (a->family == AF_INET6 && memcmp(a->addr, mapped, 12) == 0) {
		inet_ntop(AF_INET, a->addr + 12, buf, sizeof(buf));
		put(f, isv6, "false");
	} else if (a->family == AF_INET6) {
		inet_ntop(AF_INET6, a->addr, buf, sizeof(buf));
		put(f, isv6, "true");
	} else {
		inet_ntop(AF_INET, a->addr, buf, sizeof(buf));
		put(f, isv6, "false");
	}
	put(f, ip, buf);
	putf(f, port, "%u", a->port);
}

static const char *access_mode(char *buf, size_t len, uint32_t fl, bool guess)
{
	const char *acc = (fl & O_ACCMODE) == O_RDONLY ? "read" : (fl & O_ACCMODE) == O_WRONLY ? "write" : "readwrite";
	snprintf(buf, len, "%s%s%s%s", acc, !guess && (fl & O_CREAT) ? "|create" : "",
		 !guess && (fl & O_TRUNC) ? "|truncate" : "", (fl & O_APPEND) ? "|append" : "");
	return buf;
}

int sensor_event_fields(struct sensor *s, const struct sensor_event *ev,
			int (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
	struct fctx f = { .s = s, .emit = emit, .ctx = ctx };
	char tbuf[64], mbuf[64];
	if (!s || !ev || !emit)
		return -1;
	time_t secs = (time_t)(ev->ts_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t tl = strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(tbuf + tl, sizeof(tbuf) - tl, ".%03u", (unsigned)(ev->ts_ns / 1000000ull % 1000));

	put(&f, "Channel", "stoat-sensor");
	switch (ev->kind) {
	case SENSOR_EXEC: put(&f, "EventID", "1"); break;
	case SENSOR_EXIT: put(&f, "EventID", "5"); break;
	case SENSOR_OPEN: put(&f, "EventID", "11"); break;
	case SENSOR_FORK: put(&f, "EventID", "1001"); break;
	case SENSOR_SOCK_STDIO: put(&f, "EventID", "1002"); break;
	default: put(&f, "EventID", "3"); break;
	}
	put(&f, "EventType", sensor_kind_name(ev->kind));
	put(&f, "Computer", s->hostname);
	put(&f, "UtcTime", tbuf);
	guid(&f, "ProcessGuid", ev->tgid, ev->start_time_ns);
	putf(&f, "ProcessId", "%u", ev->tgid);
	if (ev->pid != ev->tgid)
		putf(&f, "ThreadId", "%u", ev->pid);
	put(&f, "Image", ev->image ? ev->image : ev->comm);

	switch (ev->kind) {
	case SENSOR_EXEC:
	case SENSOR_FORK:
		put(&f, "CommandLine", ev->cmdline);
		if (ev->kind == SENSOR_EXEC) {
			put(&f, "CurrentDirectory", ev->cwd);
			put(&f, "User", sensor_user_name(s, ev->uid));
			putf(&f, "UserId", "%u", ev->uid);
			if (ev->euid != ev->uid)
				put(&f, "EffectiveUser", sensor_user_name(s, ev->euid));
			if (ev->sessionid != (uint32_t)-1)
				putf(&f, "LogonId", "%u", ev->sessionid);
			putf(&f, "TerminalSessionId", "%u", ev->sid);
			put(&f, "Tty", ev->tty);
			putf(&f, "CgroupId", "%llu", (unsigned long long)ev->cgroup_id);
			if (ev->flags & (SENSOR_EF_ARGV_TRUNC | SENSOR_EF_ARGV_MISSING))
				put(&f, "ArgvTruncated", "true");
		}
		guid(&f, "ParentProcessGuid", ev->ppid, ev->parent_start_time_ns);
		putf(&f, "ParentProcessId", "%u", ev->ppid);
		put(&f, "ParentImage", ev->parent_image);
		put(&f, "ParentCommandLine", ev->parent_cmdline);
		break;
	case SENSOR_EXIT:
		put(&f, "User", sensor_user_name(s, ev->uid));
		putf(&f, "ExitCode", "%d", ev->exit_code);
		break;
	case SENSOR_OPEN:
		put(&f, "User", sensor_user_name(s, ev->uid));
		put(&f, "TargetFilename", ev->path);
		put(&f, "AccessMode", access_mode(mbuf, sizeof(mbuf), ev->open_flags,
						  (ev->flags & SENSOR_EF_FLAGS_GUESS) != 0));
		if (ev->watch_index >= 0 && (size_t)ev->watch_index < s->nwatch)
			put(&f, "WatchedPath", s->watch[ev->watch_index]);
		break;
	case SENSOR_CONNECT:
	case SENSOR_ACCEPT:
	case SENSOR_CLOSE_STATS:
	case SENSOR_SOCK_STDIO:
		put(&f, "User", sensor_user_name(s, ev->uid));
		put(&f, "Protocol", ev->protocol == 6 ? "tcp" : ev->protocol == 17 ? "udp" : "other");
		if (ev->kind == SENSOR_SOCK_STDIO) {
			put(&f, "CommandLine", ev->cmdline);
			putf(&f, "StdioFds", "%s%s%s", ev->fd & 1 ? "0" : "", ev->fd & 2 ? (ev->fd & 1 ? ",1" : "1") : "",
			     ev->fd & 4 ? (ev->fd & 3 ? ",2" : "2") : "");
		} else {
			put(&f, "Initiated", ev->initiated ? "true" : "false");
			put(&f, "NetworkEvent", sensor_kind_name(ev->kind));
		}
		addr(&f, "SourceIsIpv6", "SourceIp", "SourcePort", &ev->src);
		addr(&f, "DestinationIsIpv6", "DestinationIp", "DestinationPort", &ev->dst);
		if (ev->kind == SENSOR_CLOSE_STATS) {
			putf(&f, "BytesSent", "%llu", (unsigned long long)ev->bytes_sent);
			putf(&f, "BytesReceived", "%llu", (unsigned long long)ev->bytes_received);
		}
		if (ev->flags & SENSOR_EF_FAILED)
			put(&f, "ConnectionFailed", "true");
		break;
	default:
		break;
	}
	return f.ret ? f.ret : f.n;
}
