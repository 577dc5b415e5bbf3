/* Fuzz harness for the auditd reader: the bytes are an audit log handed to a
 * hunt (the reading thread's line splitting, header reading and join window,
 * the worker's tokenizer, hex and argument decoding, sockaddr decoding, the
 * derived views, routing and matching). A valid first record is put in front
 * so that detection always picks the auditd reader; the input then decides
 * everything else, ausearch -i form included. */
#include "fuzz_hunt.h"

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rs = fuzz_ruleset(rules, sizeof(rules) - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stoat_hunt_opts o = {.threads = 1, .all_events = true, .host = "fuzz"};
    fuzz_hunt(rs, o, true, head, sizeof(head) - 1, data, size);
    return 0;
}
