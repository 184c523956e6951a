/* Preparation step of the CPU backend's continuous-time neurons: the leak factor of every
 * neuron from its time constant, with the reference interpreter's function (so the two
 * backends integrate with the same factors). */
#include "../ref/ref_ops.h"
#include "prep.h"

void sn_prep_nir_leak(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    const sn_prep_nir_leak_params *p = params;
    const float *tau = ptrs[0];
    float *k = ptrs[1];
    for (int64_t e = 0; e < p->E; e++) k[e] = sn_nir_leak(p->dt, tau[e], p->exact);
    (void)ctx;
    (void)lo;
    (void)hi;
}
