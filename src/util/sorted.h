/* qsort after a look at whether the array is in order already: records
 * come mostly in time order (a log is written as things happen), and a
 * merge sort of a sorted array still compares n log n times where the look
 * compares n - 1 times. For orders where any sort gives one result (a total
 * order, or ties already in input order: glibc's qsort is a merge sort).
 *
 * Nearly in order (an attack's events each alert several times at one time,
 * their alerts ordered among themselves by a tie-break, not as they came):
 * each element out of place goes back the few places it belongs, as in an
 * insertion sort, which is stable too. A budget of places moved keeps an
 * order far from sorted from costing n * n: past it, qsort sorts what is
 * left (the array a permutation of the input all along, ties still in input
 * order, so the result is the same). */
#ifndef STOAT_UTIL_SORTED_H
#define STOAT_UTIL_SORTED_H

#include <stdlib.h>
#include <string.h>

#define SORTED_ELEM_MAX 256 /* larger elements go to qsort straight away */

static inline void sort_unless_sorted(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char *p = base;
    size_t i = 1;
    while (i < n && cmp(p + (i - 1) * size, p + i * size) <= 0)
        i++;
    if (i >= n)
        return;
    if (size > SORTED_ELEM_MAX) {
        qsort(base, n, size, cmp);
        return;
    }
    char x[SORTED_ELEM_MAX];
    size_t budget = 2 * n; /* places moved, in all */
    for (; i < n; i++) {
        char *at = p + i * size;
        if (cmp(at - size, at) <= 0)
            continue;
        /* where it goes: after the last element not greater (stable) */
        size_t j = i - 1;
        while (j > 0 && cmp(p + (j - 1) * size, at) > 0 && i - j < budget)
            j--;
        if (i - j >= budget) {
            qsort(base, n, size, cmp);
            return;
        }
        budget -= i - j;
        memcpy(x, at, size);
        memmove(p + (j + 1) * size, p + j * size, (i - j) * size);
        memcpy(p + j * size, x, size);
    }
}

#endif
