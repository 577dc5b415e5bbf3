/* Fuzz harness for the auditd reader: the bytes are an audit log handed to a
 * hunt (the reading thread's line splitting, header reading and join window,
 * the worker's tokenizer, hex and argument decoding, sockaddr decoding, the
 * derived views, routing and matching). A valid first record is put in front
 * so that detection always picks the auditd reader; the input then decides
 * everything else, ausearch -i form included. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stoat/hunt.h"
#include "stoat/rules.h"
#include "stoat/sinks.h"

static const char rules[] =
    "title: a1\nlogsource: {product: linux, service: auditd}\ndetection:\n  sel:\n    type: EXECVE\n"
    "    a0|contains: 'id'\n    a1|re: '^-'\n  kw:\n    - 'password'\n  condition: sel or kw\nlevel: low\n"
    "---\ntitle: a2\nlogsource: {product: linux, service: auditd}\ndetection:\n  sel:\n    type: SYSCALL\n"
    "    SYSCALL: [execve, connect, syslog]\n    exe|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: p1\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n"
    "    CommandLine|contains|all: [curl, http]\n    ParentImage|endswith: sh\n  condition: sel\nlevel: high\n"
    "---\ntitle: n1\nlogsource: {product: linux, category: network_connection}\ndetection:\n  sel:\n"
    "    DestinationIp|cidr: 127.0.0.0/8\n  condition: sel\nlevel: low\n"
    "---\ntitle: f1\nlogsource: {product: linux, category: file_event}\ndetection:\n  sel:\n"
    "    TargetFilename|startswith: /tmp/\n  condition: sel\nlevel: low\n";

static const char head[] = "type=DAEMON_START msg=audit(1700000000.000:1): op=start ver=3.0.9 res=success\n";

static struct stoat_ruleset *rs;

static void quiet(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    (void)d;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = quiet};
    struct stoat_loader *l;
    if (stoat_loader_create(&o, &l))
        abort();
    stoat_loader_add_text(l, "fuzz-rules.yml", rules, sizeof(rules) - 1);
    if (stoat_loader_build(l, &rs))
        abort();
    stoat_loader_destroy(l);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-audit", 0);
    if (fd < 0)
        return 0;
    if (write(fd, head, sizeof(head) - 1) != (ssize_t)(sizeof(head) - 1) ||
        (size && write(fd, data, size) != (ssize_t)size)) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FILE *out = fopen("/dev/null", "w");
    struct stoat_hunt_opts ho = {.threads = 1, .diag = quiet, .all_events = true, .host = "fuzz"};
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink s;
    stoat_sink_dump(out, &s);
    stoat_hunt_add_sink(h, &s);
    const char *paths[1] = {path};
    stoat_hunt_run(h, paths, 1);
    stoat_hunt_destroy(h);
    fclose(out);
    close(fd);
    return 0;
}
