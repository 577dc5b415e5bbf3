/* The engine's fast paths against its slow path: what engine_event_match
 * decides with the event's scan (atoms seen or not, nodes dropped by their
 * required atom) must be what engine_eval_rule decides without any scan, on
 * rules compiled now and read back from the ruleset file alike. */
#include "testutil.h"

#include "engine/engine.h"
#include "engine/value_ops.h"
#include "rules/ruleset.h"
#include "util/text.h"

/* The rules loaded through a cache folder: the second load of the same
 * rules reads the ruleset file (snapshot.c) the first wrote. */
static struct stoat_ruleset *load_cached(const char *dir, const char *const *texts, size_t n)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .cache_dir = dir};
    struct stoat_loader *l = NULL;
    assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(stoat_loader_add_text(l, "m.yml", texts[i], strlen(texts[i])), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    assert_non_null(rs);
    return rs;
}

static uint32_t rule_by_id(const struct stoat_ruleset *rs, const char *id)
{
    for (uint32_t r = 0; r < rs->nrules; r++)
        if (rs->rules[r].meta.id && strcmp(rs->rules[r].meta.id, id) == 0)
            return r;
    fail_msg("no rule %s", id);
    return UINT32_MAX;
}

/* Nodes of the tree at n with a required atom; the two trees (compiled and
 * read back) must agree node by node. */
static unsigned count_req_atoms(const struct pnode *n, const struct pnode *m)
{
    assert_int_equal(n->op, m->op);
    assert_int_equal(n->req_atom, m->req_atom);
    unsigned k = n->req_atom != 0;
    if (n->op != N_TEST)
        for (uint32_t i = 0; i < n->n; i++)
            k += count_req_atoms(n->u.kids[i], m->u.kids[i]);
    return k;
}

static const char *const names[] = {"Cmd.Exe", "wmic.exe", "net.exe", "reg.exe", "sc.exe", "other.exe"};
static const char *const images[] = {"C:\\x\\cmd.exe", "C:\\x\\WMIC.EXE", "C:\\x\\net.exe", "C:\\x\\reg.exe",
                                     "C:\\x\\sc.exe",  "C:\\x\\a.exe",    "C:\\w\\netx.exe"};
static const char *const cmds[] = {"x", "x benignlit y", "whoami /all", "reg query hklm", "a kwalpha b", ""};

/* Begins c's event with the string values of kv's name/value pairs. */
static void begin_event(struct engine_ctx *c, const char *const *kv, size_t nkv)
{
    engine_event_begin(c);
    for (size_t i = 0; i + 1 < nkv; i += 2)
        engine_event_add(c, kv[i], (uint32_t)strlen(kv[i]), engine_field_id(c, kv[i], strlen(kv[i])), kv[i + 1],
                         (uint32_t)strlen(kv[i + 1]), STOAT_V_STRING);
}

/* Whether rule matches c's event, by engine_event_match (with the scan)
 * and by engine_eval_rule (no scan, no atom skips), which must agree;
 * what names the event in the failure. */
static bool agreed_match(struct engine_ctx *c, const struct stoat_ruleset *rs, uint32_t rule, const char *what)
{
    const uint32_t *rules;
    size_t n = engine_event_match(c, &rules);
    bool fast = false;
    for (size_t i = 0; i < n; i++)
        fast |= (rules[i] & ~ENGINE_DEFERRED) == rule;
    bool slow = engine_eval_rule(c, rule);
    if (fast != slow)
        fail_msg("rule %s on %s: %s with the scan, %s without", rs->rules[rule].meta.id, what,
                 fast ? "matches" : "no match", slow ? "matches" : "no match");
    return fast;
}

/* Whether engine_event_match reports rule for the event, checked against
 * engine_eval_rule on the same event. */
static bool match_both_ways(const struct stoat_ruleset *rs, uint32_t rule, const char *ofn, const char *image,
                            const char *cmd)
{
    const char *kv[] = {"Channel", TU_SYSMON, "EventID", "1",           "OriginalFileName",
                        ofn,       "Image",   image,     "CommandLine", cmd};
    struct engine_ctx *c = engine_ctx_create(rs);
    begin_event(c, kv, sizeof(kv) / sizeof(kv[0]));
    char what[512];
    snprintf(what, sizeof(what), "(%s, %s, %s)", ofn, image, cmd);
    bool hit = agreed_match(c, rs, rule, what);
    engine_ctx_destroy(c);
    return hit;
}

/* Long ORs of gated ANDs, nested, under NOT and 1 of: every mix of names,
 * images and command lines gives the same answer with the nodes' required
 * atoms as without, and some answers are yes. */
static void test_req_atoms_match_slow_path(void **state)
{
    (void)state;
    const char *texts[3] = {
        "title: renamed\nid: rn\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  n0:\n    OriginalFileName: 'Cmd.Exe'\n  a0:\n    Image|endswith: '\\cmd.exe'\n"
        "  n1:\n    OriginalFileName: 'wmic.exe'\n  a1:\n    Image|endswith: '\\wmic.exe'\n"
        "  n2:\n    OriginalFileName: 'net.exe'\n  a2:\n    Image|endswith: '\\net.exe'\n"
        "  n3:\n    OriginalFileName: 'reg.exe'\n    CommandLine|contains: 'query'\n"
        "  a3:\n    Image|endswith: '\\reg.exe'\n"
        "  f:\n    CommandLine|contains: 'benignlit'\n"
        "  condition: ((n0 and not a0) or (n1 and not a1) or (n2 and not a2) or (n3 and not a3)) and not f\n",
        "title: nested\nid: ns\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s1:\n    Image|endswith: '\\net.exe'\n  s2:\n    CommandLine|contains: 'whoami'\n"
        "  s3:\n    OriginalFileName: 'sc.exe'\n  s4:\n    CommandLine|contains: 'kwalpha'\n"
        "  condition: (s1 and (s2 or not s3)) or (s3 and not (s4 or s1)) or 1 of s*\n",
        "title: keywords\nid: kw\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  k:\n    - 'kwalpha'\n  s:\n    Image|endswith: '\\sc.exe'\n"
        "  condition: (k and not s) or (s and not k)\n",
    };
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load_cached(dir, texts, 3);
    struct stoat_ruleset *warm = load_cached(dir, texts, 3);
    assert_non_null(warm->region); /* read from the ruleset file */
    static const char *const ids[] = {"rn", "ns", "kw"};
    unsigned with_atom = 0;
    for (size_t i = 0; i < 3; i++)
        with_atom += count_req_atoms(rs->rules[rule_by_id(rs, ids[i])].prog.root,
                                     warm->rules[rule_by_id(warm, ids[i])].prog.root);
    assert_true(with_atom >= 10); /* the fast path is there to be checked */
    const struct stoat_ruleset *both[2] = {rs, warm};
    unsigned yes = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < 3; i++) {
            uint32_t rule = rule_by_id(both[k], ids[i]);
            for (size_t a = 0; a < sizeof(names) / sizeof(names[0]); a++)
                for (size_t b = 0; b < sizeof(images) / sizeof(images[0]); b++)
                    for (size_t d = 0; d < sizeof(cmds) / sizeof(cmds[0]); d++)
                        yes += match_both_ways(both[k], rule, names[a], images[b], cmds[d]);
        }
    assert_true(yes >= 50);
    stoat_ruleset_destroy(warm);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
}

/* Kinds of events, among them more than the route memo's slots, ids
 * written two ways, ids that are no number, channels cased otherwise and
 * unknown ones, and none. */
static const struct {
    const char *channel, *eid, *product;
} kinds[] = {
    {TU_SYSMON, "1", NULL},
    {TU_SYSMON, "01", NULL},
    {TU_SYSMON, "3", NULL},
    {TU_SYSMON, "5", NULL},
    {TU_SYSMON, "7", NULL},
    {TU_SYSMON, "11", NULL},
    {TU_SYSMON, "13", NULL},
    {TU_SYSMON, "22", NULL},
    {TU_SYSMON, "255", NULL},
    {TU_SYSMON, "x1", NULL},
    {"microsoft-windows-sysmon/operational", "1", NULL},
    {"Security", "4688", NULL},
    {"Security", "4624", NULL},
    {"Security", "4625", NULL},
    {"Security", "1", NULL},
    {"security", "4688", NULL},
    {"System", "7045", NULL},
    {"System", "1", NULL},
    {"Microsoft-Windows-PowerShell/Operational", "4104", NULL},
    {"Windows PowerShell", "400", NULL},
    {"Foo/Bar", "1", NULL},
    {"Foo/Bar", "1", "windows"},
    {"Foo/Bar", NULL, "windows"},
    {NULL, "1", "windows"},
    {NULL, NULL, NULL},
};

/* The rules an event matches (ENGINE_DEFERRED kept) and its process
 * specification, with ctx c. */
static size_t kind_match(struct engine_ctx *c, size_t k, uint32_t *out, int *spec)
{
    const char *kv[8];
    size_t n = 0;
    if (kinds[k].channel) {
        kv[n++] = "Channel";
        kv[n++] = kinds[k].channel;
    }
    if (kinds[k].eid) {
        kv[n++] = "EventID";
        kv[n++] = kinds[k].eid;
    }
    kv[n++] = "Image";
    kv[n++] = "C:\\x\\routememo.exe";
    begin_event(c, kv, n);
    if (kinds[k].product)
        engine_event_product(c, kinds[k].product);
    const uint32_t *rules;
    size_t got = engine_event_match(c, &rules);
    assert_true(got <= 8);
    if (got)
        memcpy(out, rules, got * sizeof(*rules)); /* rules may be NULL when none */
    *spec = engine_event_procspec(c);
    return got;
}

/* The route memo (a context's last kinds of events: key and class) against
 * a fresh context per event: the same rules and process specification for
 * every event of a long mixed sequence. */
static void test_route_memo_matches_fresh(void **state)
{
    (void)state;
    const char *texts[3] = {
        "title: proc\nid: p\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image|endswith: '\\routememo.exe'\n  condition: s\n",
        "title: any\nid: a\nlogsource: {product: windows}\ndetection:\n"
        "  s:\n    Image|contains: 'routememo'\n  condition: s\n",
        "title: img\nid: i\nlogsource: {product: windows, category: image_load}\ndetection:\n"
        "  s:\n    Image|endswith: '.exe'\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 3};
    struct stoat_ruleset *rs = tu_build(&r, NULL, NULL);
    assert_non_null(rs);
    size_t nk = sizeof(kinds) / sizeof(kinds[0]);
    struct engine_ctx *kept = engine_ctx_create(rs);
    uint32_t seed = 7, a[8], b[8];
    unsigned matched = 0;
    for (int i = 0; i < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t k = i < (int)nk ? (size_t)i : (seed >> 8) % nk;
        int sa, sb;
        size_t na = kind_match(kept, k, a, &sa);
        struct engine_ctx *fresh = engine_ctx_create(rs);
        size_t nb = kind_match(fresh, k, b, &sb);
        engine_ctx_destroy(fresh);
        if (na != nb || memcmp(a, b, na * sizeof(*a)) != 0 || sa != sb)
            fail_msg("event %d (%s, %s): %zu rules, spec %d after others; %zu, spec %d fresh", i,
                     kinds[k].channel ? kinds[k].channel : "-", kinds[k].eid ? kinds[k].eid : "-", na, sa, nb, sb);
        matched += na > 0;
    }
    assert_true(matched > 500);
    engine_ctx_destroy(kept);
    stoat_ruleset_destroy(rs);
}

/* Whether rule matches a Sysmon process start whose only other value is
 * field's, by engine_event_match (scans first). */
static bool field_matches(const struct stoat_ruleset *rs, uint32_t rule, const char *field, const char *value)
{
    const char *kv[] = {"Channel", TU_SYSMON, "EventID", "1", field, value};
    struct engine_ctx *c = engine_ctx_create(rs);
    begin_event(c, kv, sizeof(kv) / sizeof(kv[0]));
    const uint32_t *rules;
    size_t n = engine_event_match(c, &rules);
    bool hit = false;
    for (size_t i = 0; i < n; i++)
        hit |= (rules[i] & ~ENGINE_DEFERRED) == rule;
    engine_ctx_destroy(c);
    return hit;
}

/* A value's byte set (which rare bytes it holds: no search when one is
 * missing) is marked eight bytes a turn and the rest one by one: a pattern
 * with rare bytes, at every place of values of every length around the
 * turns, matches exactly where a plain search finds it, upper-cased too. */
static void test_byte_set_every_place(void **state)
{
    (void)state;
    const char *text = "title: rare\nid: rb\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                       "  s:\n    CommandLine|contains: ['~q', 'x^w']\n  condition: s\n";
    struct stoat_ruleset *rs = tu_build1(text, NULL, NULL);
    assert_non_null(rs);
    uint32_t rule = rule_by_id(rs, "rb");
    char v[80];
    unsigned yes = 0;
    for (size_t len = 20; len < 60; len++)
        for (size_t at = 0; at + 1 < len; at++)
            for (int k = 0; k < 4; k++) {
                memset(v, 'a', len);
                v[len] = 0;
                static const char *const put[4] = {"~q", "~Q", "x^", "^w"};
                memcpy(v + at, put[k], 2);
                if (k == 2 && at + 2 < len)
                    v[at + 2] = 'w'; /* x^w whole */
                bool want = strstr(v, "~q") || strstr(v, "~Q") || strstr(v, "x^w");
                if (field_matches(rs, rule, "CommandLine", v) != want)
                    fail_msg("'%s': %s", v, want ? "no match" : "a match");
                yes += want;
            }
    assert_true(yes > 1000);
    stoat_ruleset_destroy(rs);
}

/* Whether rule matches an event whose only value is LogonId v, by
 * engine_eval_rule first (no scan: the value is not folded yet when the
 * rule reads it) and by engine_event_match, which must agree. */
static bool logon_matches(const struct stoat_ruleset *rs, uint32_t rule, const char *v)
{
    const char *kv[] = {"Channel", TU_SYSMON, "EventID", "1", "LogonId", v};
    struct engine_ctx *c = engine_ctx_create(rs);
    begin_event(c, kv, sizeof(kv) / sizeof(kv[0]));
    bool slow = engine_eval_rule(c, rule);
    engine_ctx_destroy(c);
    bool fast = field_matches(rs, rule, "LogonId", v);
    if (fast != slow)
        fail_msg("rule %s on '%s': %s with the scan, %s without", rs->rules[rule].meta.id, v,
                 fast ? "matches" : "no match", slow ? "matches" : "no match");
    return slow;
}

/* An equals, prefix or suffix test on a value not folded yet decides from
 * its ASCII bytes and leaves the rest to fold_case: on random values of
 * ASCII capitals, two-byte letters that fold (É to é), and stray lead and
 * continuation bytes, each answers as folding the whole value and
 * comparing would. */
static void test_affix_unfolded_as_folded(void **state)
{
    (void)state;
    static const char *const lits[] = {"aB\xc3\x89", "x\xc3\xa9Y", "0X", "\xc3\x89z"};
    static const char *const ops[] = {"", "|startswith", "|endswith"};
    static const char *const parts[] = {"a", "B", "x", "Y", "z", "0", "\xc3\x89", "\xc3\xa9", "\xc3", "\xa9", "X"};
    char rules[12][4096];
    const char *texts[12];
    for (size_t o = 0; o < 3; o++)
        for (size_t l = 0; l < 4; l++) {
            snprintf(rules[o * 4 + l], sizeof(rules[0]),
                     "title: affix\nid: af%zu%zu\nlogsource: {product: windows, category: process_creation}\n"
                     "detection:\n  s:\n    LogonId%s: '%s'\n  condition: s\n",
                     o, l, ops[o], lits[l]);
            texts[o * 4 + l] = rules[o * 4 + l];
        }
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load_cached(dir, texts, 12);
    uint64_t seed = 0x5eed;
    unsigned yes = 0;
    for (int round = 0; round < 6000; round++) {
        char v[64] = "";
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t nparts = (seed >> 33) % 6;
        for (size_t k = 0; k < nparts; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            strcat(v, parts[(seed >> 33) % (sizeof(parts) / sizeof(parts[0]))]);
        }
        size_t n = strlen(v);
        char fv[64];
        fold_case(v, n, fv);
        for (size_t o = 0; o < 3; o++)
            for (size_t l = 0; l < 4; l++) {
                size_t len = strlen(lits[l]);
                char fl[16];
                fold_case(lits[l], len, fl);
                bool want = o == 0   ? n == len && memcmp(fv, fl, len) == 0
                            : o == 1 ? n >= len && memcmp(fv, fl, len) == 0
                                     : n >= len && memcmp(fv + n - len, fl, len) == 0;
                char id[8];
                snprintf(id, sizeof(id), "af%zu%zu", o, l);
                if (logon_matches(rs, rule_by_id(rs, id), v) != want)
                    fail_msg("%s on '%s': %s", id, v, want ? "no match" : "a match");
                yes += want;
            }
    }
    assert_true(yes > 300);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
}

/* Whether rule matches a process start whose field is value, the event
 * handed over whole (engine_event_take, as the readers do) or field by
 * field (engine_event_add); with the scan and without it, which must agree.
 * *shown gets the value's length as the event then holds it. */
static bool padded_matches(const struct stoat_ruleset *rs, uint32_t rule, const char *field, const char *value,
                           bool whole, uint32_t *shown)
{
    const char *kv[] = {"Channel", TU_SYSMON, "EventID", "1", field, value};
    struct engine_ctx *c = engine_ctx_create(rs);
    struct ev_field fs[3];
    if (whole) {
        engine_event_begin(c);
        for (int i = 0; i < 3; i++)
            ev_field_set(&fs[i], kv[2 * i], (uint32_t)strlen(kv[2 * i]),
                         engine_field_id(c, kv[2 * i], strlen(kv[2 * i])), kv[2 * i + 1],
                         (uint32_t)strlen(kv[2 * i + 1]), STOAT_V_STRING);
        engine_event_take(c, fs, 3);
    } else {
        begin_event(c, kv, sizeof(kv) / sizeof(kv[0]));
    }
    bool hit = agreed_match(c, rs, rule, value);
    const struct ev_field *f = engine_event_get(c, engine_field_id(c, field, strlen(field)));
    *shown = f ? f->val_len : UINT32_MAX;
    engine_ctx_destroy(c);
    return hit;
}

/* The mapping's padded fields (LogonProcessName, which Windows pads to a
 * width: "NtLmSsp ") are compared and held without their trailing spaces,
 * whether the event comes whole or field by field and whether the rules
 * were compiled now or read back from the ruleset file; other fields keep
 * theirs. This failed before: SigmaHQ's LogonProcessName: 'NtLmSsp' never
 * matched an EVTX file's 4624. */
static void test_padded_fields_without_trailing_spaces(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "title: p\nid: pad-eq\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    LogonProcessName: 'NtLmSsp'\n  condition: s\n",
        "title: p\nid: pad-end\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    LogonProcessName|endswith: 'lmssp'\n  condition: s\n",
        "title: p\nid: unpadded\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    CommandLine: 'whoami'\n  condition: s\n",
    };
    char *dir = tu_temp_dir();
    for (int load = 0; load < 2; load++) { /* compiled, then read back */
        struct stoat_ruleset *rs = load_cached(dir, texts, 3);
        uint32_t eq = rule_by_id(rs, "pad-eq"), end = rule_by_id(rs, "pad-end"), cmd = rule_by_id(rs, "unpadded");
        for (int whole = 0; whole < 2; whole++) {
            uint32_t shown;
            assert_true(padded_matches(rs, eq, "LogonProcessName", "NtLmSsp ", whole, &shown));
            assert_int_equal(shown, 7);
            assert_true(padded_matches(rs, eq, "LogonProcessName", "NtLmSsp", whole, &shown));
            assert_true(padded_matches(rs, end, "LogonProcessName", "NtLmSsp   ", whole, &shown));
            assert_false(padded_matches(rs, eq, "LogonProcessName", " NtLmSsp", whole, &shown));
            assert_false(padded_matches(rs, eq, "LogonProcessName", "NtLmSsp x ", whole, &shown));
            assert_true(padded_matches(rs, eq, "LogonProcessName", "   ", whole, &shown) == false && shown == 0);
            assert_false(padded_matches(rs, cmd, "CommandLine", "whoami ", whole, &shown));
            assert_int_equal(shown, 7);
        }
        stoat_ruleset_destroy(rs);
    }
    tu_rm_rf(dir);
    free(dir);
}

/* Detections of every kind of pattern and node, a rule each. */
static const char *const layout_dets[] = {
    "  s:\n    Image: 'C:\\x\\cmd.exe'\n  condition: s\n",
    "  s:\n    CommandLine|startswith: 'whoami'\n  condition: s\n",
    "  s:\n    Image|endswith: ['\\net.exe', '\\reg.exe', '\\sc.exe']\n  condition: s\n",
    "  s:\n    CommandLine|contains|all: ['reg', 'query']\n  condition: s\n",
    "  s:\n    CommandLine: '*kw?lpha*'\n  condition: s\n",
    "  s:\n    CommandLine|re: 'who[a-z]+ /all'\n  condition: s\n",
    "  s:\n    DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\n  condition: s\n",
    "  s:\n    DestinationPort|gt: 1000\n  condition: s\n",
    "  s:\n    User: null\n  condition: s\n",
    "  s:\n    ParentImage|exists: false\n  condition: s\n",
    "  s:\n    OriginalFileName|fieldref|contains: 'CommandLine'\n  condition: s\n",
    "  s:\n    Image|neq: 'C:\\x\\cmd.exe'\n  condition: s\n",
    "  k:\n    - 'kwalpha'\n    - 'hklm'\n  condition: k\n",
    "  a:\n    Image|endswith: '\\reg.exe'\n  b:\n    CommandLine|contains: 'query'\n"
    "  f:\n    User: null\n  condition: a and b and not f\n",
    "  a:\n    Image|endswith: '\\net.exe'\n  b:\n    CommandLine|contains: 'x'\n"
    "  c:\n    DestinationPort|lt: 100\n  condition: 2 of them\n",
    "  a:\n    OriginalFileName: 'net.exe'\n  b:\n    Image|endswith: '\\net.exe'\n"
    "  c:\n    OriginalFileName: 'Cmd.Exe'\n  d:\n    Image|endswith: '\\cmd.exe'\n"
    "  condition: (a and not b) or (c and not d)\n",
};

/* A node and what eval reads after it, in a ruleset read from its file:
 * the node on a line of its own making, its test or its children's
 * addresses right after it, a test's patterns after that (program.h: their
 * hot fields in one line). */
static void check_layout(const struct pnode *n)
{
    assert_int_equal((uintptr_t)n % 64, 0);
    if (n->op == N_TEST) {
        assert_ptr_equal(n->u.test, (const void *)(n + 1));
        assert_int_equal((uintptr_t)n->u.test->pat % 16, 0);
        return;
    }
    if (n->n)
        assert_ptr_equal(n->u.kids, (const void *)(n + 1));
    for (uint32_t i = 0; i < n->n; i++)
        check_layout(n->u.kids[i]);
}

/* What one event (a mix from the grid below) gets from rule: the same by
 * engine_event_match as by engine_eval_rule, whose answer it returns. */
static bool grid_eval(const struct stoat_ruleset *rs, uint32_t rule, unsigned mix)
{
    static const char *const img[] = {"C:\\x\\cmd.exe", "C:\\x\\NET.exe", "C:\\x\\reg.exe", "C:\\y\\a.exe"};
    static const char *const cmd[] = {"whoami /all", "reg query hklm", "x kwalpha y", "netcmd.exe", "", "q"};
    static const char *const ip[] = {"10.1.2.3", "fe80::1", "8.8.8.8"};
    static const char *const port[] = {"80", "4444", "x"};
    const char *kv[16] = {"Channel",
                          TU_SYSMON,
                          "EventID",
                          "1",
                          "Image",
                          img[mix % 4],
                          "CommandLine",
                          cmd[mix / 4 % 6],
                          "DestinationIp",
                          ip[mix / 24 % 3],
                          "DestinationPort",
                          port[mix / 72 % 3],
                          "OriginalFileName",
                          mix / 216 % 2 ? "net.exe" : "Cmd.Exe"};
    size_t n = 14;
    if (mix / 432 % 2) {
        kv[n++] = "ParentImage";
        kv[n++] = "C:\\x\\explorer.exe";
    }
    struct engine_ctx *c = engine_ctx_create(rs);
    begin_event(c, kv, n);
    bool null_user = mix / 864 % 2;
    engine_event_add(c, "User", 4, engine_field_id(c, "User", 4), null_user ? "" : "bob", null_user ? 0 : 3,
                     null_user ? STOAT_V_NULL : STOAT_V_STRING);
    const uint32_t *rules;
    size_t got = engine_event_match(c, &rules);
    bool fast = false;
    for (size_t i = 0; i < got; i++)
        fast |= (rules[i] & ~ENGINE_DEFERRED) == rule;
    bool slow = engine_eval_rule(c, rule);
    engine_ctx_destroy(c);
    if (fast != slow)
        fail_msg("rule %s, event %u: %d with the scan, %d without", rs->rules[rule].meta.id, mix, fast, slow);
    return slow;
}

/* A ruleset read from its file lays each rule's nodes, tests and patterns
 * out afresh (snapshot.c: side by side, as eval reads them): every rule
 * decides every event of a grid as the rules compiled now do, with and
 * without the scan. */
static void test_read_layout_evaluates_as_compiled(void **state)
{
    (void)state;
    enum {
        NDET = sizeof(layout_dets) / sizeof(layout_dets[0]),
        NMIX = 1728
    };
    char *texts[NDET];
    for (size_t i = 0; i < NDET; i++) {
        char buf[1024];
        snprintf(buf, sizeof(buf),
                 "title: layout %zu\nid: l%zu\nlogsource: {product: windows, category: process_creation}\n"
                 "detection:\n%s",
                 i, i, layout_dets[i]);
        texts[i] = strdup(buf);
    }
    char *dir = tu_temp_dir();
    struct stoat_ruleset *cold = load_cached(dir, (const char *const *)texts, NDET);
    struct stoat_ruleset *warm = load_cached(dir, (const char *const *)texts, NDET);
    assert_null(cold->region);
    assert_non_null(warm->region); /* read from the ruleset file */
    unsigned yes = 0, no = 0;
    for (size_t i = 0; i < NDET; i++) {
        char id[16];
        snprintf(id, sizeof(id), "l%zu", i);
        uint32_t rc = rule_by_id(cold, id), rw = rule_by_id(warm, id);
        check_layout(warm->rules[rw].prog.root);
        unsigned rule_yes = 0;
        for (unsigned mix = 0; mix < NMIX; mix++) {
            bool a = grid_eval(cold, rc, mix), b = grid_eval(warm, rw, mix);
            if (a != b)
                fail_msg("rule %s, event %u: %d compiled, %d read back", id, mix, a, b);
            rule_yes += a;
        }
        if (!rule_yes || rule_yes == NMIX)
            fail_msg("rule %s decides every event alike (%u of %u)", id, rule_yes, NMIX);
        yes += rule_yes;
        no += NMIX - rule_yes;
    }
    assert_true(yes > 1000 && no > 1000);
    stoat_ruleset_destroy(warm);
    stoat_ruleset_destroy(cold);
    for (size_t i = 0; i < NDET; i++)
        free(texts[i]);
    tu_rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------- globs with a dash class */

/* Whether tokens ti.. of p match s[si..n), trying every split a star may
 * make (at character starts, as the matcher steps): the definition the
 * matcher's one-backtrack walk and its jumps must agree with. */
static bool glob_ref(const struct pattern *p, uint32_t ti, const unsigned char *s, size_t si, size_t n)
{
    if (ti == p->ntoks)
        return si == n;
    const struct glob_tok *k = &p->toks[ti];
    switch (k->kind) {
    case G_STAR:
        for (size_t at = si;; at += utf8_char_len(s + at, n - at)) {
            if (glob_ref(p, ti + 1, s, at, n))
                return true;
            if (at >= n)
                return false;
        }
    case G_LIT:
        return n - si >= k->len && memcmp(s + si, p->lit + k->off, k->len) == 0 &&
               glob_ref(p, ti + 1, s, si + k->len, n);
    case G_ONE: return si < n && glob_ref(p, ti + 1, s, si + utf8_char_len(s + si, n - si), n);
    default:
        if (si < n && (s[si] == '-' || s[si] == '/'))
            return glob_ref(p, ti + 1, s, si + 1, n);
        return n - si >= 3 && s[si] == 0xE2 && s[si + 1] == 0x80 && s[si + 2] >= 0x93 && s[si + 2] <= 0x95 &&
               glob_ref(p, ti + 1, s, si + 3, n);
    }
}

static uint32_t glob_rand(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*seed >> 33);
}

/* Windash globs ('*' then a dash class then a literal, as |windash|contains
 * makes, and other orders) on values of dashes, slashes, the three long
 * dashes and their lookalikes, broken characters and letters: the jumps to
 * a dash's next possible place (engine_glob_match) decide as trying every
 * place does. */
static void test_glob_dash_jumps_match_every_place(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "-",    "/",        "a",    "fo",       "x",   "\xe2\x80\x93", "\xe2\x80\x95", "\xe2\x80\x92",
        "\xe2", "\xe2\x80", "\x80", "\xc3\xa9", "-fo", "/fo"};
    static const char *const lits[] = {"fo", "a", "-", "o", "fox"};
    const size_t npieces = sizeof(pieces) / sizeof(pieces[0]), nlits = sizeof(lits) / sizeof(lits[0]);
    uint64_t seed = 7;
    unsigned yes = 0, no = 0;
    for (int round = 0; round < 20000; round++) {
        struct glob_tok toks[6];
        char lit[32];
        uint32_t nt = 0, off = 0;
        /* mostly the windash shape, else tokens at random */
        bool shaped = glob_rand(&seed) % 2;
        uint32_t want = shaped ? 4 : 1 + glob_rand(&seed) % 6;
        for (uint32_t i = 0; i < want; i++) {
            uint8_t kind = shaped ? (uint8_t[]){G_STAR, G_DASH, G_LIT, G_STAR}[i] : (uint8_t)(glob_rand(&seed) % 4);
            if (shaped && i == 3 && glob_rand(&seed) % 3 == 0)
                break; /* no trailing star: the literal must end the value */
            toks[nt] = (struct glob_tok){.kind = kind};
            if (kind == G_LIT) {
                const char *l = lits[glob_rand(&seed) % nlits];
                size_t len = strlen(l);
                memcpy(lit + off, l, len);
                toks[nt].off = off;
                toks[nt].len = (uint32_t)len;
                off += (uint32_t)len;
            }
            nt++;
        }
        struct pattern p = {.op = P_GLOB, .lit = lit, .len = off, .toks = toks, .ntoks = nt, .atom = NO_ATOM};
        char val[128];
        size_t n = 0;
        for (uint32_t k = glob_rand(&seed) % 12; k > 0; k--) {
            const char *pc = pieces[glob_rand(&seed) % npieces];
            memcpy(val + n, pc, strlen(pc));
            n += strlen(pc);
        }
        bool want_match = glob_ref(&p, 0, (const unsigned char *)val, 0, n);
        if (engine_glob_match(&p, val, n) != want_match)
            fail_msg("round %d: glob of %u tokens on a value of %zu bytes: %d, not %d", round, nt, n, !want_match,
                     want_match);
        want_match ? yes++ : no++;
    }
    assert_true(yes > 2000 && no > 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_req_atoms_match_slow_path),
        cmocka_unit_test(test_route_memo_matches_fresh),
        cmocka_unit_test(test_byte_set_every_place),
        cmocka_unit_test(test_read_layout_evaluates_as_compiled),
        cmocka_unit_test(test_glob_dash_jumps_match_every_place),
        cmocka_unit_test(test_affix_unfolded_as_folded),
        cmocka_unit_test(test_padded_fields_without_trailing_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
