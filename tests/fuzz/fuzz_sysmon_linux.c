/* Fuzz harness for the Sysmon for Linux reader: the bytes are syslog or
 * journal text handed to a hunt (line splitting, the search for <Event>, the
 * XML reader with its entities and caps, EVTX naming, routing and matching).
 * A valid Sysmon line is put in front so that detection always picks this
 * reader; the input then decides everything else. */
#include "fuzz_hunt.h"

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rs = fuzz_ruleset(rules, sizeof(rules) - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_hunt(rs, (struct stoat_hunt_opts){.threads = 1, .all_events = true}, true, head, sizeof(head) - 1, data, size);
    return 0;
}
