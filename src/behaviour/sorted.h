/* qsort after a look at whether the array is in order already: records
 * come mostly in time order (a log is written as things happen), and a
 * merge sort of a sorted array still compares n log n times where the look
 * compares n - 1 times. For orders where any sort gives one result (a total
 * order, or ties already in input order: glibc's qsort is a merge sort). */
#ifndef STOAT_BEHAVIOUR_SORTED_H
#define STOAT_BEHAVIOUR_SORTED_H

#include <stdlib.h>

static inline void sort_unless_sorted(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    const char *p = base;
    size_t i = 1;
    while (i < n && cmp(p + (i - 1) * size, p + i * size) <= 0)
        i++;
    if (i < n)
        qsort(base, n, size, cmp);
}

#endif
