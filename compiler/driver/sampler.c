/* Strided percentile sampling. See sampler.h. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sn_sampler_init(sn_sampler *s, int64_t total, int64_t target) {
    memset(s, 0, sizeof *s);
    int64_t stride = target > 0 ? total / target : 1;
    s->stride = stride < 1 ? 1 : stride;
}

void sn_sampler_add(sn_sampler *s, float v) {
    if (v > s->max) s->max = v;
    if (s->counter++ % s->stride) return;
    if (s->ns == s->cap) {
        int64_t nc = s->cap ? s->cap * 2 : 4096;
        float *ns = realloc(s->samp, (size_t)nc * sizeof(float));
        if (!ns) return; /* keep what we have: the percentile gets coarser */
        s->samp = ns;
        s->cap = nc;
    }
    s->samp[s->ns++] = v;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double sn_sampler_percentile(sn_sampler *s, double pct) {
    if (pct >= 100.0 || s->ns == 0) return s->max;
    qsort(s->samp, (size_t)s->ns, sizeof(float), cmp_float);
    int64_t k = (int64_t)ceil(pct / 100.0 * (double)(s->ns - 1));
    return s->samp[k < s->ns ? k : s->ns - 1];
}

void sn_sampler_free(sn_sampler *s) {
    free(s->samp);
    memset(s, 0, sizeof *s);
}
