/* What any match of a regular expression must contain, for the prefilter
 * (regex_literal.h: regex_required_literal, regex_required_bytes).
 *
 * Why it works this way. A rule's atoms and a pattern's rare bytes may only
 * name text that every match holds, or the prefilter would hide a match; a
 * literal missed costs only speed. So this is no regex parser: it walks the
 * pattern once, keeps literal characters, skips what it can bound exactly
 * (escapes with arguments, classes, groups by their closing parenthesis) and
 * gives up, naming nothing, on what it does not understand: alternation at
 * the level it reads, extended mode, unbalanced text. Quantifiers that allow
 * zero take back the character before them. */
#include "rules/regex_literal.h"

#include <stdbool.h>
#include <string.h>

/* re[i] follows a backslash: the index of the escape's last character, so
 * that the arguments of \x41, \x{..}, \101, \cX, \k<n>, \g{1}, \pL, \p{..},
 * \N{..} and \o{..}, and the text of \Q..\E, are not taken for literals. */
static size_t escape_end(const char *re, size_t len, size_t i)
{
    char e = re[i];
    size_t j = i + 1;
    if (e == 'Q') {
        for (; j + 1 < len; j++)
            if (re[j] == '\\' && re[j + 1] == 'E')
                return j + 1;
        return len - 1;
    }
    if (j < len && (re[j] == '{' || ((e == 'k' || e == 'g') && (re[j] == '<' || re[j] == '\'')))) {
        char close = re[j] == '{' ? '}' : re[j] == '<' ? '>' : '\'';
        while (j < len && re[j] != close)
            j++;
        return j < len ? j : len - 1;
    }
    if (e >= '0' && e <= '9') {
        while (j < len && re[j] >= '0' && re[j] <= '9')
            j++;
        return j - 1;
    }
    if (e == 'x') {
        for (int k = 0;
             k < 2 && j < len && ((re[j] >= '0' && re[j] <= '9') || ((re[j] | 32) >= 'a' && (re[j] | 32) <= 'f')); k++)
            j++;
        return j - 1;
    }
    if (e == 'g') {
        if (j < len && (re[j] == '+' || re[j] == '-'))
            j++;
        while (j < len && re[j] >= '0' && re[j] <= '9')
            j++;
        return j - 1;
    }
    if ((e == 'c' || e == 'p' || e == 'P') && j < len)
        return j;
    return i;
}

/* The index of the ')' closing the group opened at re[open], or len. */
static size_t group_end(const char *re, size_t len, size_t open)
{
    int depth = 0;
    bool in_class = false;
    for (size_t i = open; i < len; i++) {
        if (re[i] == '\\' && i + 1 < len) {
            i = escape_end(re, len, i + 1);
        } else if (in_class) {
            if (re[i] == '[' && i + 1 < len && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
                for (size_t j = i + 2; j + 1 < len; j++)
                    if (re[j] == re[i + 1] && re[j + 1] == ']') {
                        i = j + 1;
                        break;
                    }
            } else if (re[i] == ']') {
                in_class = false;
            }
        } else if (re[i] == '[') {
            in_class = true;
            if (i + 1 < len && re[i + 1] == '^')
                i++;
            if (i + 1 < len && re[i + 1] == ']')
                i++;
        } else if (re[i] == '(') {
            depth++;
        } else if (re[i] == ')' && --depth == 0) {
            return i;
        }
    }
    return len;
}

/* Appends to out the literal characters that every match of re[0, len)
 * contains, from the top level and from the groups that must occur (not
 * optional, no alternation, not lookarounds). false: re has an alternation
 * at this level, so nothing is known; out[*n] is then as it was. */
static bool required_bytes(const char *re, size_t len, char *out, size_t cap, size_t *n, int depth)
{
    size_t start = *n;
    bool last_lit = false; /* out[*n - 1] is the character just read */
    if (depth > 32)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = re[i];
        bool lit = false;
        switch (ch) {
        case '|': *n = start; return false;
        case '(': {
            size_t end = group_end(re, len, i);
            if (end >= len) {
                *n = start;
                return false;
            }
            size_t body = i + 1;
            bool skip = body < end && re[body] == '*'; /* (*UTF) and other verbs */
            if (!skip && body < end && re[body] == '?') {
                size_t j = body + 1;
                if (j < end && re[j] == ':') {
                    body = j + 1;
                } else if (j < end && (re[j] == '<' || re[j] == 'P' || re[j] == '\'') && j + 1 < end &&
                           re[j + 1] != '=' && re[j + 1] != '!') {
                    /* named group: its body follows the name */
                    char close = re[j] == '\'' ? '\'' : '>';
                    size_t k = j + 1 + (re[j] == 'P');
                    while (k < end && re[k] != close)
                        k++;
                    body = k + 1;
                    skip = k >= end;
                } else {
                    /* flags, (?i:..), lookarounds, comments, conditionals... */
                    while (j < end && ((re[j] >= 'a' && re[j] <= 'z') || (re[j] >= 'A' && re[j] <= 'Z') ||
                                       re[j] == '-' || re[j] == '^'))
                        j++;
                    if (j < end && re[j] == ':')
                        body = j + 1; /* (?i:...) */
                    else
                        skip = true; /* (?i) has no body; the rest may not be required */
                }
            }
            size_t q = end + 1;
            bool optional = q < len && (re[q] == '?' || re[q] == '*' ||
                                        (re[q] == '{' && q + 1 < len && (re[q + 1] == '0' || re[q + 1] == ',')));
            if (!skip && !optional && body <= end)
                required_bytes(re + body, end - body, out, cap, n, depth + 1);
            i = end;
            last_lit = false;
            continue;
        }
        case '[': {
            size_t j = i + 1;
            if (j < len && re[j] == '^')
                j++;
            if (j < len && re[j] == ']')
                j++; /* a ']' first in the class is a member */
            for (; j < len && re[j] != ']'; j++) {
                if (re[j] == '\\' && j + 1 < len) {
                    j = escape_end(re, len, j + 1);
                } else if (re[j] == '[' && j + 1 < len && (re[j + 1] == ':' || re[j + 1] == '.' || re[j + 1] == '=')) {
                    for (size_t k = j + 2; k + 1 < len; k++)
                        if (re[k] == re[j + 1] && re[k + 1] == ']') {
                            j = k + 1;
                            break;
                        }
                }
            }
            if (j >= len) {
                *n = start;
                return false;
            }
            i = j;
            last_lit = false;
            continue;
        }
        case '?':
        case '*':
            if (last_lit)
                (*n)--; /* the character before was optional */
            last_lit = false;
            continue;
        case '{':
            if (last_lit && i + 1 < len && (re[i + 1] == '0' || re[i + 1] == ','))
                (*n)--;
            while (i < len && re[i] != '}')
                i++;
            last_lit = false;
            continue;
        case '+':
        case '.':
        case '^':
        case '$': last_lit = false; continue;
        case '\\':
            if (i + 1 >= len) {
                last_lit = false;
                continue;
            }
            i++;
            if ((re[i] >= 'a' && re[i] <= 'z') || (re[i] >= 'A' && re[i] <= 'Z') || (re[i] >= '0' && re[i] <= '9')) {
                i = escape_end(re, len, i);
                last_lit = false;
                continue;
            }
            lit = true;
            ch = re[i];
            break;
        default: lit = true; break;
        }
        if (lit && *n < cap) {
            out[(*n)++] = ch;
            last_lit = true;
        } else {
            last_lit = false;
        }
    }
    return true;
}

size_t regex_required_bytes(const char *re, size_t len, char *out, size_t cap)
{
    for (size_t i = 0; i + 2 < len; i++)
        if (re[i] == '(' && re[i + 1] == '?')
            for (size_t j = i + 2; j < len && ((re[j] >= 'a' && re[j] <= 'z') || re[j] == '-'); j++)
                if (re[j] == 'x')
                    return 0; /* extended: blanks and # comments are not literals */
    size_t n = 0;
    return required_bytes(re, len, out, cap, &n, 0) ? n : 0;
}

size_t regex_required_literal(const char *re, size_t len, char *out, size_t outcap)
{
    /* Walk the top level only: literal characters extend the current run; any
     * construct we do not fully understand ends it. Top-level alternation
     * means no single literal is required. */
    char cur[512];
    size_t ncur = 0, nbest = 0;
    int depth = 0;
    bool in_class = false;
    for (size_t i = 0; i + 2 < len; i++)
        if (re[i] == '(' && re[i + 1] == '?') {
            /* inline flags: with x, blanks in the pattern are not literals */
            for (size_t j = i + 2; j < len && ((re[j] >= 'a' && re[j] <= 'z') || re[j] == '-'); j++)
                if (re[j] == 'x')
                    return 0;
        }
    for (size_t i = 0; i < len; i++) {
        if (in_class) {
            if (re[i] == '\\' && i + 1 < len) {
                i = escape_end(re, len, i + 1);
            } else if (re[i] == '[' && i + 1 < len && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
                /* [:alpha:] inside a class: its ']' does not close the class */
                const char *e = NULL;
                for (size_t j = i + 2; j + 1 < len && !e; j++)
                    if (re[j] == re[i + 1] && re[j + 1] == ']')
                        e = re + j + 1;
                if (e)
                    i = (size_t)(e - re);
            } else if (re[i] == ']') {
                in_class = false;
            }
            continue;
        }
        if (depth > 0) {
            if (re[i] == '\\' && i + 1 < len)
                i = escape_end(re, len, i + 1);
            else if (re[i] == '[') {
                in_class = true;
                if (i + 1 < len && re[i + 1] == '^')
                    i++;
                if (i + 1 < len && re[i + 1] == ']')
                    i++;
            } else if (re[i] == '(')
                depth++;
            else if (re[i] == ')')
                depth--;
            continue;
        }
        char ch = re[i];
        bool literal = false;
        char lit = 0;
        switch (ch) {
        case '|': return 0;
        case '(': depth = 1; goto brk;
        case '[':
            in_class = true;
            if (i + 1 < len && re[i + 1] == '^')
                i++;
            if (i + 1 < len && re[i + 1] == ']')
                i++;
            goto brk;
        case '?':
        case '*':
            if (ncur)
                ncur--; /* the previous character was optional */
            goto brk;
        case '{':
            if (i + 1 < len && (re[i + 1] == '0' || re[i + 1] == ',') && ncur)
                ncur--; /* {0,n}, and {,n} (PCRE2 10.43 and later): optional */
            while (i < len && re[i] != '}')
                i++;
            goto brk;
        case '+': goto brk; /* keep the character, but what follows is not adjacent */
        case '.':
        case '^':
        case '$': goto brk;
        case '\\':
            if (i + 1 >= len)
                goto brk;
            i++;
            if ((re[i] >= 'a' && re[i] <= 'z') || (re[i] >= 'A' && re[i] <= 'Z') || (re[i] >= '0' && re[i] <= '9')) {
                i = escape_end(re, len, i);
                goto brk; /* \d \s \x41 \1 ...: not a plain literal */
            }
            literal = true;
            lit = re[i];
            break;
        default:
            literal = true;
            lit = ch;
            break;
        }
        if (literal) {
            /* a quantifier after this char may make it optional: handled above
             * by dropping it from the run */
            if (ncur < sizeof(cur))
                cur[ncur++] = lit;
            if (ncur > nbest && ncur <= outcap) {
                /* run may still shrink if a quantifier follows; commit at break */
            }
            continue;
        }
    brk:
        if (ncur > nbest && ncur <= outcap) {
            memcpy(out, cur, ncur);
            nbest = ncur;
        }
        ncur = 0;
    }
    if (depth != 0 || in_class)
        return 0;
    if (ncur > nbest && ncur <= outcap) {
        memcpy(out, cur, ncur);
        nbest = ncur;
    }
    return nbest;
}
