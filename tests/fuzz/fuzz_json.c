/* Fuzz harness for the input side: the bytes are an event log handed to a
 * hunt (format detection, gzip, the JSON splitter and parser, flattening,
 * routing, matching and the JSON lines output). A small fixed ruleset is
 * built once; each input goes through a memfd so the real file path is used. */
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
    "title: t1\nid: 00000000-0000-4000-8000-000000000001\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel:\n    CommandLine|contains|all: [whoami, /all]\n    Image|endswith: '\\whoami.exe'\n"
    "  kw:\n    - 'mimikatz'\n  condition: sel or kw\nlevel: high\n"
    "---\ntitle: t2\nlogsource: {product: windows, service: security}\ndetection:\n"
    "  s:\n    EventID: 4624\n    IpAddress|cidr: 10.0.0.0/8\n    TargetUserName|re|i: '^adm_'\n  condition: s\n"
    "---\ntitle: t3\nlogsource: {product: linux, category: process_creation}\ndetection:\n"
    "  s:\n    CommandLine|base64offset|contains: 'bash -i'\n    User|fieldref: ParentUser\n  condition: not s\n";

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
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0)
        return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FILE *out = fopen("/dev/null", "w");
    struct stoat_hunt_opts ho = {.threads = 1, .diag = quiet};
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink s;
    stoat_sink_jsonl(out, &s);
    stoat_hunt_add_sink(h, &s);
    const char *paths[1] = {path};
    stoat_hunt_run(h, paths, 1);
    stoat_hunt_destroy(h);
    fclose(out);
    close(fd);
    return 0;
}
