/* Fuzz harness for the input side: the bytes are an event log handed to a
 * hunt (format detection, gzip, the JSON splitter and parser, flattening,
 * routing, matching and the JSON lines output). A small fixed ruleset is
 * built once; each input goes through a memfd so the real file path is used. */
#include "fuzz_hunt.h"

static const char rules[] =
    "title: t1\nid: 00000000-0000-4000-8000-000000000001\nlogsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel:\n    CommandLine|contains|all: [whoami, /all]\n    Image|endswith: '\\whoami.exe'\n"
    "  kw:\n    - 'mimikatz'\n  condition: sel or kw\nlevel: high\n"
    "---\ntitle: t2\nlogsource: {product: windows, service: security}\ndetection:\n"
    "  s:\n    EventID: 4624\n    IpAddress|cidr: 10.0.0.0/8\n    TargetUserName|re|i: '^adm_'\n  condition: s\n"
    "---\ntitle: t3\nlogsource: {product: linux, category: process_creation}\ndetection:\n"
    "  s:\n    CommandLine|base64offset|contains: 'bash -i'\n    User|fieldref: ParentUser\n  condition: not s\n";

static struct stoat_ruleset *rs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rs = fuzz_ruleset(rules, sizeof(rules) - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_hunt(rs, (struct stoat_hunt_opts){.threads = 1}, false, "", 0, data, size);
    return 0;
}
