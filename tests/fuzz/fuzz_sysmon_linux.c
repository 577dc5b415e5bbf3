/* Fuzz harness for the Sysmon for Linux reader: the bytes are syslog or
 * journal text handed to a hunt (line splitting, the search for <Event>, the
 * XML reader with its entities and caps, EVTX naming, routing and matching).
 * A valid Sysmon line is put in front so that detection always picks this
 * reader; the input then decides everything else. */
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
    "title: s1\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n"
    "    Image|endswith: [/curl, /wget]\n    CommandLine|contains: http\n  condition: sel\nlevel: low\n"
    "---\ntitle: s2\nlogsource: {product: linux, category: network_connection}\ndetection:\n  sel:\n"
    "    DestinationIp|cidr: 10.0.0.0/8\n    Initiated: 'true'\n  condition: sel\nlevel: low\n"
    "---\ntitle: s3\nlogsource: {product: linux, service: sysmon}\ndetection:\n  kw:\n    - '&'\n"
    "  condition: kw\nlevel: low\n";

static const char head[] =
    "Nov 19 21:37:05 h sysmon: <Event><System><Provider Name=\"Linux-Sysmon\" Guid=\"{ff032593-a8d3-4f13-b0d6-"
    "01fc615a0f97}\"/><EventID>4</EventID><Channel>Linux-Sysmon/Operational</Channel><Computer>h</Computer>"
    "</System><EventData><Data Name=\"State\">Started</Data></EventData></Event>\n";

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
    int fd = memfd_create("fuzz-sysmon", 0);
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
    struct stoat_hunt_opts ho = {.threads = 1, .diag = quiet, .all_events = true};
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
