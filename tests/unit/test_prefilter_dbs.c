/* How the prefilter lays its atoms into databases must never hide a match:
 * a field of many atoms scanned alone (its atoms then never fire on a
 * sibling's values), keyword atoms merged per class (an event's class scans
 * only its own groups' keywords). On random events built from the rules'
 * own literals, placed in every field, the rules the engine matches after
 * its scans are exactly those engine_eval_rule (no scan, each rule's whole
 * tree) says match, compiled and read back from the cache. */
#include "testutil.h"

#include "engine/engine.h"
#include "engine/scan_memo.h"
#include "rules/ruleset.h"

/* The rules loaded through a cache folder (NULL: none): the second load of
 * the same rules reads the ruleset file the first wrote. */
static struct stoat_ruleset *load(const char *dir, const char *const *texts, size_t n)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .cache_dir = dir};
    struct stoat_loader *l = NULL;
    assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%zu.yml", i);
        assert_int_equal(stoat_loader_add_text(l, name, texts[i], strlen(texts[i])), STOAT_OK);
    }
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    assert_non_null(rs);
    return rs;
}

static uint64_t next(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 33;
}

/* A value of one to three random pieces, or now and then none. */
static void random_value(uint64_t *seed, const char *const *pieces, size_t npieces, char *v, size_t cap)
{
    size_t n = 0, k = next(seed) % 4;
    for (size_t i = 0; i < k; i++) {
        const char *p = pieces[next(seed) % npieces];
        size_t pl = strlen(p);
        if (n + pl >= cap)
            break;
        memcpy(v + n, p, pl);
        n += pl;
    }
    v[n] = 0;
}

/* One event (channel, event id, then names with random values) on c:
 * every user rule the engine matches must be one of the event's logsource
 * (bits of reads) that engine_eval_rule matches, and the other way round.
 * Returns the matched rules as bits. */
static uint64_t agree(struct engine_ctx *c, const struct stoat_ruleset *rs, uint64_t reads, const char *channel,
                      const char *eid, const char *const *names, size_t nnames, uint64_t *seed,
                      const char *const *pieces, size_t npieces)
{
    engine_event_begin(c);
    engine_event_add(c, "Channel", 7, engine_field_id(c, "Channel", 7), channel, (uint32_t)strlen(channel),
                     STOAT_V_STRING);
    engine_event_add(c, "EventID", 7, engine_field_id(c, "EventID", 7), eid, (uint32_t)strlen(eid), STOAT_V_STRING);
    char v[8][200];
    for (size_t i = 0; i < nnames && i < 8; i++) {
        random_value(seed, pieces, npieces, v[i], sizeof(v[i]));
        uint32_t nl = (uint32_t)strlen(names[i]);
        engine_event_add(c, names[i], nl, engine_field_id(c, names[i], nl), v[i], (uint32_t)strlen(v[i]),
                         STOAT_V_STRING);
    }
    const uint32_t *hit;
    size_t n = engine_event_match(c, &hit);
    uint64_t got = 0;
    for (uint32_t r = 0; r < rs->nrules - rs->nhidden && r < 64; r++) {
        bool matched = false;
        for (size_t i = 0; i < n; i++)
            matched |= (hit[i] & ~ENGINE_DEFERRED) == r;
        if ((reads >> r & 1 && engine_eval_rule(c, r)) != matched) {
            for (size_t i = 0; i < nnames && i < 8; i++)
                fprintf(stderr, "  %s: '%s'\n", names[i], v[i]);
            fail_msg("rule %s on %s %s: %s", rs->rules[r].meta.title, channel, eid,
                     matched ? "matched after the scans only" : "hidden by the scans");
        }
        got |= (uint64_t)matched << r;
    }
    return got;
}

/* Whether some database of the group reads exactly the field fid. */
static bool alone(const struct rule_group *g, uint32_t fid)
{
    for (uint32_t d = 0; d < g->ndbs; d++)
        if (g->dbs[d].nfields == 1 && g->dbs[d].fields[0] == fid)
            return true;
    return false;
}

/* Image with 400 atoms has a database of its own; ParentImage,
 * OriginalFileName and User share one. Their atoms overlap (an image's
 * name is a parent's name too), and Security's 4688 reads Image from
 * NewProcessName: rules of one field must still match whatever the
 * others hold. */
static void test_many_atoms_own_database(void **state)
{
    (void)state;
    struct tu_str img = {0};
    tu_str_puts(&img, "title: images\nid: own-1\nlogsource: " TU_PROC "\ndetection:\n  s:\n    Image|endswith:\n");
    for (int i = 0; i < 400; i++)
        tu_str_printf(&img, "      - '\\owntool%03d.exe'\n", i);
    tu_str_puts(&img, "  condition: s\n");
    const char *texts[] = {
        img.p,
        "title: parent\nid: own-2\nlogsource: " TU_PROC "\ndetection:\n  s:\n    ParentImage|endswith:\n"
        "      - '\\owntool007.exe'\n      - '\\ownparent.exe'\n  condition: s\n",
        "title: pair\nid: own-3\nlogsource: " TU_PROC "\ndetection:\n  s:\n    Image|endswith: '\\owntool008.exe'\n"
        "    ParentImage|endswith: '\\owntool009.exe'\n  condition: s\n",
        "title: ofn\nid: own-4\nlogsource: " TU_PROC "\ndetection:\n  s:\n    OriginalFileName: 'owntool010.exe'\n"
        "    User|contains: 'ownuser'\n  condition: s\n",
        "title: notparent\nid: own-5\nlogsource: " TU_PROC
        "\ndetection:\n  s:\n    Image|endswith: '\\owntool011.exe'\n"
        "  f:\n    ParentImage|endswith: '\\owntool011.exe'\n  condition: s and not f\n",
    };
    const size_t nt = sizeof(texts) / sizeof(texts[0]);
    char *dir = tu_temp_dir();
    struct stoat_ruleset *sets[2] = {load(dir, texts, nt), load(dir, texts, nt)};
    assert_non_null(sets[1]->region); /* read from the ruleset file */
    static const char *const pieces[] = {
        "C:\\x",
        "\\owntool007.exe",
        "\\owntool008.exe",
        "\\owntool009.exe",
        "owntool010.exe",
        "\\owntool011.exe",
        "\\owntool399.exe",
        "\\ownparent.exe",
        "ownuser",
        ".exe",
        "\\",
        "owntool",
    };
    static const char *const sysmon[] = {"Image", "ParentImage", "OriginalFileName", "User", "CommandLine"};
    static const char *const security[] = {"NewProcessName", "ParentProcessName", "SubjectUserName"};
    for (int k = 0; k < 2; k++) {
        const struct stoat_ruleset *rs = sets[k];
        struct engine_ctx *c = engine_ctx_create(rs);
        size_t first = 0;
        while (first < rs->nrules && strcmp(rs->rules[first].meta.id, "own-1"))
            first++;
        assert_true(first < rs->nrules);
        const struct rule_group *g = &rs->groups[rs->rules[first].group];
        assert_true(alone(g, engine_field_id(c, "Image", 5)));
        assert_false(alone(g, engine_field_id(c, "ParentImage", 11)));
        uint64_t seed = 4242, seen = 0;
        for (int round = 0; round < 4000; round++) {
            if (round % 5)
                seen |= agree(c, rs, 0x1f, TU_SYSMON, "1", sysmon, 5, &seed, pieces, sizeof(pieces) / sizeof(*pieces));
            else
                seen |= agree(c, rs, 0x1f, "Security", "4688", security, 3, &seed, pieces,
                              sizeof(pieces) / sizeof(*pieces));
        }
        assert_int_equal(seen, 0x1f); /* every rule matched some events */
        engine_ctx_destroy(c);
    }
    stoat_ruleset_destroy(sets[1]);
    stoat_ruleset_destroy(sets[0]);
    tu_rm_rf(dir);
    free(dir);
    free(img.p);
}

/* Keyword atoms of small groups are merged per class: a class's keyword
 * database holds only its own groups' atoms, and the keywords of Windows,
 * of Security, of process starts and of Linux match where their logsource
 * reads the event, in any field, as engine_eval_rule says. */
static void test_keyword_databases_per_class(void **state)
{
    (void)state;
    const char *texts[] = {
        "title: win\nid: kw-1\nlogsource: {product: windows}\ndetection:\n  k:\n    - 'kwwinword'\n"
        "  f:\n    EventID: 15\n  condition: k and not f\n",
        "title: sec\nid: kw-2\nlogsource: {product: windows, service: security}\ndetection:\n  k:\n"
        "    - 'kwsecword'\n    - 'kwbothword'\n  condition: k\n",
        "title: proc\nid: kw-3\nlogsource: " TU_PROC "\ndetection:\n  k:\n    - 'kwprocword'\n    - 'kwbothword'\n"
        "  condition: k\n",
        "title: lin\nid: kw-4\nlogsource: {product: linux}\ndetection:\n  k:\n    - 'kwlinword'\n  condition: k\n",
        "title: field\nid: kw-5\nlogsource: " TU_PROC "\ndetection:\n  s:\n    Image|endswith: '\\kwproc.exe'\n"
        "  condition: s\n",
    };
    const size_t nt = sizeof(texts) / sizeof(texts[0]);
    char *dir = tu_temp_dir();
    struct stoat_ruleset *sets[2] = {load(dir, texts, nt), load(dir, texts, nt)};
    assert_non_null(sets[1]->region);
    static const char *const pieces[] = {"kwwinword",    "kwsecword", "kwbothword", "kwprocword", "kwlinword",
                                         "\\kwproc.exe", "x",         "C:\\",       " "};
    static const char *const names[] = {"Image", "CommandLine", "Other", "TargetUserName"};
    static const struct {
        const char *channel, *eid;
        uint64_t reads; /* the rules of its logsource */
    } kinds[] = {{TU_SYSMON, "1", 0x15},
                 {TU_SYSMON, "15", 0x1},
                 {TU_SYSMON, "3", 0x1},
                 {"Security", "4688", 0x17},
                 {"Security", "4624", 0x3}};
    for (int k = 0; k < 2; k++) {
        const struct stoat_ruleset *rs = sets[k];
        bool *used = xcalloc(rs->nmdbs + 1, sizeof(*used));
        size_t keyword_dbs = 0;
        for (size_t ci = 0; ci < rs->nclasses; ci++) {
            const struct route_class *cls = &rs->classes[ci];
            for (uint32_t m = 0; m < cls->nmerges; m++) {
                if (cls->merges[m].nfields != 1 || cls->merges[m].fields[0] != FIELD_ANY)
                    continue;
                keyword_dbs += !used[cls->merges[m].db];
                used[cls->merges[m].db] = true;
                const struct merged_db *md = &rs->mdbs[cls->merges[m].db];
                for (uint32_t a = 0; a < md->natoms; a++) {
                    bool mine = false;
                    for (uint32_t gi = 0; gi < cls->ngroups; gi++)
                        mine |= cls->group[gi] == md->group[a];
                    assert_true(mine);
                }
            }
        }
        free(used);
        assert_true(keyword_dbs >= 3); /* Windows; with process starts; with Security; Linux */
        struct engine_ctx *c = engine_ctx_create(rs);
        uint64_t seed = 99, seen = 0;
        for (int round = 0; round < 3000; round++) {
            size_t w = next(&seed) % (sizeof(kinds) / sizeof(*kinds));
            seen |= agree(c, rs, kinds[w].reads, kinds[w].channel, kinds[w].eid, names, 4, &seed, pieces,
                          sizeof(pieces) / sizeof(*pieces));
        }
        assert_int_equal(seen, 0x17); /* every rule but Linux's */
        engine_ctx_destroy(c);
    }
    stoat_ruleset_destroy(sets[1]);
    stoat_ruleset_destroy(sets[0]);
    tu_rm_rf(dir);
    free(dir);
}

/* The values only keyword databases read (of fields no field database
 * scans) are left out of the scan when shorter than every keyword atom of
 * the class: a value of just the shortest keyword, in such a field, must
 * still match, and so must keywords at a value's start or end (atoms
 * carrying a NUL). */
static void test_short_values_left_out(void **state)
{
    (void)state;
    const char *texts[] = {
        "title: short\nid: kl-1\nlogsource: {product: windows}\ndetection:\n  k:\n    - 'zq1'\n  condition: k\n",
        "title: long\nid: kl-2\nlogsource: {product: windows, service: security}\ndetection:\n  k:\n"
        "    - 'klongword'\n    - 'kend*'\n  condition: k\n",
        "title: field\nid: kl-3\nlogsource: {product: windows, service: security}\ndetection:\n  s:\n"
        "    TargetUserName: 'ab'\n  condition: s\n",
    };
    const size_t nt = sizeof(texts) / sizeof(texts[0]);
    char *dir = tu_temp_dir();
    struct stoat_ruleset *sets[2] = {load(dir, texts, nt), load(dir, texts, nt)};
    assert_non_null(sets[1]->region);
    static const char *const pieces[] = {"zq1", "zq", "q1", "klongword", "klongwor", "kend", "ken", "ab", "x", "a"};
    static const char *const names[] = {"Other", "TargetUserName", "Workstation", "Image"};
    for (int k = 0; k < 2; k++) {
        const struct stoat_ruleset *rs = sets[k];
        for (size_t ci = 0; ci < rs->nclasses; ci++)
            if (rs->classes[ci].scan_all)
                assert_int_equal(rs->classes[ci].keyword_min, 3); /* 'zq1' reaches every Windows class */
        struct engine_ctx *c = engine_ctx_create(rs);
        uint64_t seed = 7, seen = 0;
        for (int round = 0; round < 3000; round++)
            seen |= round % 2 ? agree(c, rs, 0x7, "Security", "4625", names, 4, &seed, pieces, 10)
                              : agree(c, rs, 0x1, TU_SYSMON, "1", names, 4, &seed, pieces, 10);
        assert_int_equal(seen, 0x7);
        engine_ctx_destroy(c);
    }
    stoat_ruleset_destroy(sets[1]);
    stoat_ruleset_destroy(sets[0]);
    tu_rm_rf(dir);
    free(dir);
}

/* The event's matched rules (at most cap) on c: a process start (Image,
 * ParentImage, CommandLine) or a registry write (TargetObject). */
static size_t memo_event(struct engine_ctx *c, bool process, const char *const *values, uint32_t *out, size_t cap)
{
    static const char *const proc_names[] = {"Image", "ParentImage", "CommandLine"};
    static const char *const reg_names[] = {"TargetObject"};
    const char *eid = process ? "1" : "13";
    engine_event_begin(c);
    engine_event_add(c, "Channel", 7, engine_field_id(c, "Channel", 7), TU_SYSMON, (uint32_t)strlen(TU_SYSMON),
                     STOAT_V_STRING);
    engine_event_add(c, "EventID", 7, engine_field_id(c, "EventID", 7), eid, 1 + !process, STOAT_V_STRING);
    for (size_t i = 0; i < (process ? 3u : 1u); i++) {
        const char *name = process ? proc_names[i] : reg_names[i];
        uint32_t nl = (uint32_t)strlen(name);
        engine_event_add(c, name, nl, engine_field_id(c, name, nl), values[i], (uint32_t)strlen(values[i]),
                         STOAT_V_STRING);
    }
    const uint32_t *hit;
    size_t n = engine_event_match(c, &hit);
    assert_true(n <= cap);
    if (n)
        memcpy(out, hit, n * sizeof(*out));
    return n;
}

/* The scan memo (engine/scan_memo.h) against a fresh context per event,
 * whose memo is empty: the same rules for every event of a long sequence
 * of values that mostly come back. Among them, a command line with 60
 * atoms (more than a slot keeps: each of the 60 rules needs its own), one
 * longer than a slot keeps, the same bytes in two fields of one database
 * and in two databases, and a registry key in a small group's merged
 * database. With a keyword rule, each class reads every value of its
 * events, in its layout, and the field scans' lookups are made ahead. */
static void memo_matches_fresh(bool keywords)
{
    struct tu_str img = {0}, all = {0}, lng = {0};
    tu_str_puts(&img, "title: images\nid: memo-img\nlogsource: " TU_PROC "\ndetection:\n  s:\n    Image|endswith:\n");
    for (int i = 0; i < 400; i++)
        tu_str_printf(&img, "      - '\\memotool%03d.exe'\n", i);
    tu_str_puts(&img, "  condition: s\n");
    enum {
        WORDS = 60
    };
    char *texts[WORDS + 5];
    texts[0] = img.p;
    for (int i = 0; i < WORDS; i++) {
        struct tu_str t = {0};
        tu_str_printf(&t,
                      "title: word %d\nid: memo-w%02d\nlogsource: " TU_PROC
                      "\ndetection:\n  s:\n    CommandLine|contains: 'memoword%02dz'\n  condition: s\n",
                      i, i, i);
        texts[1 + i] = t.p;
        tu_str_printf(&all, "memoword%02dz ", i);
    }
    texts[WORDS + 1] = xstrdup("title: parent\nid: memo-p\nlogsource: " TU_PROC
                               "\ndetection:\n  s:\n    ParentImage|endswith: '\\memotool007.exe'\n  condition: s\n");
    texts[WORDS + 2] = xstrdup("title: key\nid: memo-k\nlogsource: {product: windows, category: registry_set}\n"
                               "detection:\n  s:\n    TargetObject|contains: '\\memokey'\n  condition: s\n");
    texts[WORDS + 3] = xstrdup("title: long\nid: memo-l\nlogsource: " TU_PROC
                               "\ndetection:\n  s:\n    CommandLine|endswith: 'memolongend'\n  condition: s\n");
    for (int i = 0; i < 120; i++)
        tu_str_puts(&lng, "memoword07z ");
    tu_str_puts(&lng, "memolongend");
    assert_true(lng.len > SCAN_MEMO_MAX_LEN);
    const char *const images[] = {"C:\\x\\memotool007.exe", "C:\\x\\memotool123.exe", "C:\\memotool399.exe",
                                  "C:\\Windows\\cmd.exe",   "memotool007.exe",        "\\memotool007.exe"};
    const char *const lines[] = {
        all.p,         lng.p,       "memoword03z", "x memoword59z y memoword00z", "C:\\x\\memotool007.exe", "",
        "MEMOWORD12Z", "memoword1", "\\memokey"};
    const char *const keys[] = {"HKLM\\memokey\\x", "HKLM\\memokeys", "HKLM\\other", "\\MEMOKEY", all.p};
    texts[WORDS + 4] = xstrdup("title: keyword\nid: memo-kw\nlogsource: {product: windows}\n"
                               "detection:\n  k:\n    - 'memonowhere'\n  condition: k\n");
    int ntexts = WORDS + 4 + keywords;
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load(dir, (const char *const *)texts, (size_t)ntexts);
    struct engine_ctx *kept = engine_ctx_create(rs);
    uint64_t seed = 77;
    uint32_t a[WORDS + 8], b[WORDS + 8];
    size_t matched = 0, most = 0;
    for (int round = 0; round < 3000; round++) {
        bool process = next(&seed) % 4 != 0;
        const char *v[3];
        if (process) {
            v[0] = images[next(&seed) % 6];
            v[1] = next(&seed) % 2 ? images[next(&seed) % 6] : lines[next(&seed) % 9];
            v[2] = next(&seed) % 3 ? lines[next(&seed) % 9] : images[next(&seed) % 6];
        } else {
            v[0] = keys[next(&seed) % 5];
        }
        size_t na = memo_event(kept, process, v, a, WORDS + 8);
        struct engine_ctx *fresh = engine_ctx_create(rs);
        size_t nb = memo_event(fresh, process, v, b, WORDS + 8);
        engine_ctx_destroy(fresh);
        if (na != nb || memcmp(a, b, na * sizeof(*a)) != 0)
            fail_msg("event %d (%s '%.40s' '%.40s' '%.40s'): %zu rules after others, %zu fresh", round,
                     process ? "process" : "registry", v[0], process ? v[1] : "", process ? v[2] : "", na, nb);
        matched += na > 0;
        most = na > most ? na : most;
    }
    struct engine_counters k;
    engine_counters(kept, &k);
    assert_true(matched > 1000);
    assert_true(most >= WORDS);                    /* the command line of 60 atoms matched all 60 rules */
    assert_true(k.scans_memo > k.field_scans / 2); /* most scans were answered by the memo */
    if (keywords)
        assert_true(k.scans_ahead > k.field_scans / 2);
    else
        assert_int_equal(k.scans_ahead, 0);
    engine_ctx_destroy(kept);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
    for (int i = 0; i < WORDS + 5; i++)
        free(texts[i]);
    free(all.p);
    free(lng.p);
}

static void test_scan_memo_matches_fresh(void **state)
{
    (void)state;
    memo_matches_fresh(false);
}

static void test_scan_memo_ahead_matches_fresh(void **state)
{
    (void)state;
    memo_matches_fresh(true);
}

/* A slot is held only for the same database and the same bytes, even when
 * the hash agrees (values are outside input: a collision can be made). */
static void test_scan_memo_compares_bytes(void **state)
{
    (void)state;
    struct scan_memo m = {0};
    int db1 = 1, db2 = 2;
    uint64_t h, h2;
    bool held;
    const uint32_t ids[2] = {7, 9};
    struct scan_memo_slot *s = scan_memo_find(&m, &db1, "abcd", 4, &h, &held);
    assert_non_null(s);
    assert_false(held);
    scan_memo_keep(&m, s, &db1, h, "abcd", 4, ids, 2);
    assert_ptr_equal(scan_memo_find(&m, &db1, "abcd", 4, &h2, &held), s);
    assert_true(held);
    assert_int_equal(s->nids, 2);
    assert_int_equal(scan_memo_ids(s)[1], 9);
    /* other bytes, or another database, filed under the kept hash */
    struct scan_memo_slot *t = scan_memo_find(&m, &db1, "abce", 4, &h2, &held);
    scan_memo_keep(&m, t, &db1, h2, "abcd", 4, ids, 2);
    assert_ptr_equal(scan_memo_find(&m, &db1, "abce", 4, &h2, &held), t);
    assert_false(held);
    t = scan_memo_find(&m, &db1, "abc", 3, &h2, &held);
    scan_memo_keep(&m, t, &db1, h2, "abcd", 4, ids, 2);
    assert_ptr_equal(scan_memo_find(&m, &db1, "abc", 3, &h2, &held), t);
    assert_false(held);
    t = scan_memo_find(&m, &db2, "abcd", 4, &h2, &held);
    scan_memo_keep(&m, t, &db1, h2, "abcd", 4, ids, 2);
    assert_ptr_equal(scan_memo_find(&m, &db2, "abcd", 4, &h2, &held), t);
    assert_false(held);
    char big[SCAN_MEMO_MAX_LEN + 1];
    memset(big, 'a', sizeof(big));
    assert_null(scan_memo_find(&m, &db1, big, sizeof(big), &h, &held));
    assert_false(held);
    scan_memo_free(&m);
}

/* The slots' rooms stay within SCAN_MEMO_MAX_BYTES however many long
 * values come; a slot that cannot grow keeps what it held, still right. */
static void test_scan_memo_bytes_held(void **state)
{
    (void)state;
    struct scan_memo m = {0};
    int db = 1;
    const uint32_t ids[1] = {3};
    char v[SCAN_MEMO_MAX_LEN];
    size_t refused = 0;
    for (uint32_t i = 0; i < 3 * SCAN_MEMO_SLOTS; i++) {
        memset(v, 'a' + i % 26, sizeof(v));
        memcpy(v, &i, sizeof(i));
        size_t len = i % 2 ? sizeof(v) : 16;
        uint64_t h;
        bool held;
        struct scan_memo_slot *s = scan_memo_find(&m, &db, v, len, &h, &held);
        assert_false(held);
        struct scan_memo_slot before = *s;
        scan_memo_keep(&m, s, &db, h, v, len, ids, 1);
        assert_true(m.bytes <= SCAN_MEMO_MAX_BYTES);
        bool now;
        assert_ptr_equal(scan_memo_find(&m, &db, v, len, &h, &now), s);
        if (!now) { /* refused: the slot holds what it held */
            refused++;
            assert_true(s->db == before.db && s->check == before.check && s->len == before.len &&
                        s->data == before.data && s->cap == before.cap);
        }
    }
    assert_true(refused > 0);
    size_t rooms = 0; /* what is counted is what the slots hold */
    for (size_t i = 0; i < SCAN_MEMO_SLOTS; i++)
        rooms += m.slots[i].cap;
    assert_int_equal(rooms, m.bytes);
    scan_memo_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_atoms_own_database),       cmocka_unit_test(test_keyword_databases_per_class),
        cmocka_unit_test(test_short_values_left_out),         cmocka_unit_test(test_scan_memo_matches_fresh),
        cmocka_unit_test(test_scan_memo_ahead_matches_fresh), cmocka_unit_test(test_scan_memo_compares_bytes),
        cmocka_unit_test(test_scan_memo_bytes_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
