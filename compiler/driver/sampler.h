/* A percentile of the values a tensor takes over a calibration run: every stride-th value
 * kept (memory stays bounded however many images run), the largest of all of them tracked.
 * Shared by rate conversion (snn_tools.c: the activation scale lambda) and int8 calibration
 * (calib_int8.c: the activation step). */
#ifndef SN_DRIVER_SAMPLER_H
#define SN_DRIVER_SAMPLER_H

#include <stdint.h>

typedef struct sn_sampler {
    double max; /* the largest value added (0 before any) */
    float *samp;
    int64_t ns, cap, stride, counter;
} sn_sampler;

/* Keeps about `target` of `total` values: every (total / target)-th. */
void sn_sampler_init(sn_sampler *s, int64_t total, int64_t target);
void sn_sampler_add(sn_sampler *s, float v);
/* The pct-th percentile (the value at rank ceil(pct/100 (n-1)) of the kept ones, sorted);
 * the maximum when pct >= 100 or nothing was kept. Sorts the samples in place. */
double sn_sampler_percentile(sn_sampler *s, double pct);
void sn_sampler_free(sn_sampler *s);

#endif
