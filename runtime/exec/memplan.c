/* Lifetime-based placement (see memplan.h). */
#include "memplan.h"

#include <stdlib.h>

#include "../core/util.h"

int64_t sn_memplan_place(int n, const int64_t *bytes, const int *first, const int *last,
                         int64_t align, int64_t *offsets, int64_t *naive) {
    int *order = sn_calloc((size_t)(n ? n : 1), sizeof(int));
    if (!order) return -1;
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (first[i] > last[i]) {
            offsets[i] = -1;
            continue;
        }
        order[m++] = i;
    }
    /* largest first (a stable insertion sort: equal sizes keep buffer order) */
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && bytes[order[j]] > bytes[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    int64_t end = 0, sum = 0;
    for (int i = 0; i < m; i++) {
        int b = order[i];
        int64_t size = (bytes[b] + align - 1) & ~(align - 1);
        sum += size;
        int64_t off = 0;
        for (int again = 1; again;) {
            again = 0;
            for (int j = 0; j < i; j++) {
                int o = order[j];
                int overlap_time = !(last[b] < first[o] || last[o] < first[b]);
                int64_t osize = (bytes[o] + align - 1) & ~(align - 1);
                if (overlap_time && off < offsets[o] + osize && offsets[o] < off + size) {
                    off = offsets[o] + osize;
                    again = 1;
                }
            }
        }
        offsets[b] = off;
        if (off + size > end) end = off + size;
    }
    free(order);
    if (naive) *naive = sum;
    return end;
}
