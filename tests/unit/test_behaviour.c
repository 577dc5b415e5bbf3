/* src/behaviour/behaviour.c: what it keeps per rule of the ruleset (the
 * chains' id of the rule and its tactics, worked out at the rule's first
 * alert) gives every alert the tactics the rule's tags say, whatever order
 * the rules' alerts come in; a meta not of the ruleset is worked out anew.
 * The host it keeps for an event's alerts is that event's: the next event
 * may name another host from the same buffer. */
#include "testutil.h"

#include "behaviour/behaviour.h"
#include "behaviour/chains.h"
#include "behaviour/cross.h"
#include "behaviour/proctree.h"
#include "rules/ruleset.h"

#define T0 1790000000000000000LL

struct seen {
    size_t n;
    uint32_t tactics;
    const void *meta;
};

static void on_fact(void *ctx, const struct cross_fact *f)
{
    struct seen *s = ctx;
    assert_int_equal(f->kind, CROSS_FACT_ALERT);
    s->n++;
    s->tactics = f->alert.tactics;
    s->meta = f->alert.rule_meta;
}

static const char *rule_text(int i)
{
    static const char *const tags[] = {
        "    - attack.discovery\n    - attack.t1087\n",
        "    - attack.credential-access\n    - attack.collection\n",
        "    - attack.exfiltration\n",
        "    - attack.t1005\n",
        "    - attack.lateral-movement\n    - attack.defense-evasion\n    - attack.discovery\n",
    };
    static char text[5][1024];
    snprintf(text[i], sizeof(text[i]),
             "title: rule %d\nid: 7a1c0000-0000-4000-8000-00000000000%d\nstatus: test\nlevel: high\n"
             "tags:\n%slogsource:\n    product: windows\n    category: process_creation\n"
             "detection:\n    sel:\n        Image|endswith: '\\x%d.exe'\n    condition: sel\n",
             i, i, tags[i], i);
    return text[i];
}

static void alert_once(struct behaviour *b, struct seen *s, const struct stoat_rule_meta *m, uint64_t id)
{
    struct stoat_alert a = {.id = id, .rule = m, .host = "h", .time_ns = T0 + (int64_t)id};
    size_t before = s->n;
    behaviour_alert(b, &a);
    if (m->level <= STOAT_LEVEL_INFORMATIONAL) {
        assert_int_equal(s->n, before);
        return;
    }
    assert_int_equal(s->n, before + 1);
    assert_ptr_equal(s->meta, m);
    assert_int_equal(s->tactics, chain_tactics_of((const char *const *)m->attack_tactics.items, m->attack_tactics.n));
}

static void test_rule_memo_tactics(void **state)
{
    (void)state;
    const char *texts[5];
    for (int i = 0; i < 5; i++)
        texts[i] = rule_text(i);
    struct tu_rules r = {.texts = texts, .ntexts = 5};
    struct tu_diags ds = {0};
    struct stoat_ruleset *rs = tu_build(&r, &ds, NULL);
    assert_non_null(rs);
    struct seen s = {0};
    struct behaviour *b = behaviour_create(rs, NULL, &(struct behaviour_out){.ctx = &s});
    behaviour_send_facts(b, on_fact);
    uint64_t id = 0;
    size_t tagged = 0;
    for (int round = 0; round < 4; round++)
        for (size_t k = 0; k < rs->nrules; k++) {
            size_t i = round % 2 ? rs->nrules - 1 - k : k;
            const struct stoat_rule_meta *m = &rs->rules[i].meta;
            tagged += round == 0 && m->level > STOAT_LEVEL_INFORMATIONAL && m->attack_tactics.n;
            alert_once(b, &s, m, ++id);
            /* a copy of the meta (not the ruleset's) with other tactics */
            struct stoat_rule_meta other = *m;
            other.attack_tactics = rs->rules[(i + 1) % rs->nrules].meta.attack_tactics;
            alert_once(b, &s, &other, ++id);
        }
    assert_true(tagged >= 4);
    behaviour_destroy(b);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

/* Two hosts each with a process of the same GUID (different programs);
 * events alternate between them, their host names written into one buffer
 * in turn (the address alike, the serial new), each event's alerts
 * enriched twice; an alert of a new serial but the same name at another
 * address, and one of no serial. Each finds its own host's process. */
static void test_host_per_event(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = tu_build1(rule_text(0), NULL, NULL);
    assert_non_null(rs);
    struct behaviour *b = behaviour_create(rs, NULL, &(struct behaviour_out){0});
    const char *hosts[] = {"alpha.corp", "bravo.corp", "charlie.corp"};
    const char *images[] = {"C:\\a.exe", "C:\\b.exe", "C:\\c.exe"};
    for (int h = 0; h < 3; h++)
        behaviour_proc_start(b, &(struct proc_start){.host = hosts[h],
                                                     .guid = "{G-1}",
                                                     .pid = 10,
                                                     .ppid = -1,
                                                     .time_ns = T0,
                                                     .image = images[h],
                                                     .command_line = images[h]});
    char name[32], other[32];
    uint64_t serial = 1000;
    struct actor who = {.guid = "{G-1}", .pid = 10};
    for (int ev = 0; ev < 30; ev++) {
        int h = (ev * 7 + ev / 3) % 3;
        snprintf(name, sizeof(name), "%s", hosts[h]);
        struct stoat_alert a = {.host = name, .time_ns = T0 + 1, .event_serial = ev % 4 == 3 ? 0 : ++serial};
        for (int twice = 0; twice < 2; twice++) {
            behaviour_enrich(b, &a, &who);
            assert_int_equal(a.nancestry, 1);
            assert_string_equal(a.ancestry[0].image, images[h]);
        }
        /* the same serial, another address with another name */
        int o = (h + 1) % 3;
        snprintf(other, sizeof(other), "%s", hosts[o]);
        a.host = other;
        behaviour_enrich(b, &a, &who);
        assert_int_equal(a.nancestry, 1);
        assert_string_equal(a.ancestry[0].image, images[o]);
    }
    behaviour_destroy(b);
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_memo_tactics),
        cmocka_unit_test(test_host_per_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
