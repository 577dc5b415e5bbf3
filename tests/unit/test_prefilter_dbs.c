/* How the prefilter lays its atoms into databases must never hide a match:
 * a field of many atoms scanned alone (its atoms then never fire on a
 * sibling's values), keyword atoms merged per class (an event's class scans
 * only its own groups' keywords). On random events built from the rules'
 * own literals, placed in every field, the rules the engine matches after
 * its scans are exactly those engine_eval_rule (no scan, each rule's whole
 * tree) says match, compiled and read back from the cache. */
#include "testutil.h"

#include "engine/engine.h"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_atoms_own_database),
        cmocka_unit_test(test_keyword_databases_per_class),
        cmocka_unit_test(test_short_values_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
