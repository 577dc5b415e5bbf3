/* See program.h: what the program's own header promises beyond its
 * structs, the regex compiled on first use and the nodes' required atoms. */
#include "rules/program.h"

pcre2_code *program_regex_compile(const struct pattern *p)
{
    /* the pattern is the ruleset's, shared and otherwise read-only: this
     * slot is the one thing that changes, once, atomically */
    pcre2_code *_Atomic *slot = (pcre2_code * _Atomic *)&p->re;
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)p->lit, p->len, p->re_opts, &errcode, &erroff, NULL);
    if (!re) /* not what was compiled when the file was written: a damaged file; it matches nothing */
        re = pcre2_compile((PCRE2_SPTR) "(*FAIL)", PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);
    if (!re)
        return NULL;                           /* no memory: tried again next time */
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is absent */
    pcre2_code *was = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &was, re, memory_order_acq_rel, memory_order_acquire)) {
        pcre2_code_free(re); /* another thread's came first */
        return was;
    }
    return re;
}

void program_set_req_atoms(struct pnode *n, uint32_t natoms, int depth)
{
    if (depth > 1000) /* deeper than the compiler nests: no skip, never a wrong one */
        return;
    if (n->op != N_TEST)
        for (uint32_t i = 0; i < n->n; i++)
            program_set_req_atoms((struct pnode *)n->u.kids[i], natoms, depth + 1);
    n->req_atom = pnode_req_atom(n, natoms);
}
