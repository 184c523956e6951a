/* Reference versions of the ops NIR graphs bring (docs/nir.md): elementwise scale, window
 * sums, and the continuous-time neurons (op_params.h, sn_nir_neuron_params) discretized at
 * dt. Plain loops in float, in the order the comments state; the CPU backend matches them
 * operation for operation. */
#include <math.h>

#include "ref_ops.h"

float sn_nir_leak(float dt, float tau, int exact) {
    double r = (double)dt / (double)tau;
    return exact ? (float)-expm1(-r) : (float)r;
}

void sn_ref_scale(int64_t N, int64_t E, const float *x, const float *s, float *y) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t e = 0; e < E; e++) y[n * E + e] = x[n * E + e] * s[e];
}

void sn_ref_sumpool2d(const sn_pool_params *p, const float *x, float *y) {
    for (int64_t n = 0; n < p->N; n++)
        for (int c = 0; c < p->C; c++) {
            const float *xi = x + (n * p->C + c) * (int64_t)p->H * p->W;
            float *yo = y + (n * p->C + c) * (int64_t)p->OH * p->OW;
            for (int oh = 0; oh < p->OH; oh++)
                for (int ow = 0; ow < p->OW; ow++) {
                    float acc = 0.0f;
                    for (int kh = 0; kh < p->KH; kh++) {
                        int ih = oh * p->SH - p->PH + kh;
                        if (ih < 0 || ih >= p->H) continue;
                        for (int kw = 0; kw < p->KW; kw++) {
                            int iw = ow * p->SW - p->PW + kw;
                            if (iw < 0 || iw >= p->W) continue;
                            acc += xi[(int64_t)ih * p->W + iw];
                        }
                    }
                    yo[(int64_t)oh * p->OW + ow] = acc;
                }
        }
}

float sn_nir_initial_v(const sn_nir_neuron_params *p, const float *const *prm, int64_t e) {
    switch (p->model) {
    case SN_NIR_LIF:
    case SN_NIR_LI:
        return prm[SN_NIRP_V_LEAK][e];
    case SN_NIR_IF:
        return p->subtract ? 0.0f : prm[SN_NIRP_V_RESET][e];
    default:
        return 0.0f;
    }
}

void sn_ref_nir_neuron(const sn_nir_neuron_params *p, int T, int64_t N, int64_t E, const float *x,
                       const float *const *prm, float *y, float *v_state, float *v_seq) {
    int leaky = p->model == SN_NIR_LIF || p->model == SN_NIR_LI;
    int spiking = p->model == SN_NIR_LIF || p->model == SN_NIR_IF;
    for (int64_t n = 0; n < N; n++)
        for (int64_t e = 0; e < E; e++) {
            if (p->model == SN_NIR_THRESHOLD) {
                float th = prm[SN_NIRP_V_THRESHOLD][e];
                for (int t = 0; t < T; t++) {
                    int64_t i = ((int64_t)t * N + n) * E + e;
                    y[i] = (p->ge ? x[i] >= th : x[i] > th) ? 1.0f : 0.0f;
                }
                continue;
            }
            float k = leaky ? sn_nir_leak(p->dt, prm[SN_NIRP_TAU][e], p->exact) : 0.0f;
            float r = prm[SN_NIRP_R][e];
            float vl = leaky ? prm[SN_NIRP_V_LEAK][e] : 0.0f;
            float th = spiking ? prm[SN_NIRP_V_THRESHOLD][e] : 0.0f;
            float vr = spiking && !p->subtract ? prm[SN_NIRP_V_RESET][e] : 0.0f;
            float v = v_state ? v_state[n * E + e] : sn_nir_initial_v(p, prm, e);
            for (int t = 0; t < T; t++) {
                int64_t i = ((int64_t)t * N + n) * E + e;
                float h = leaky ? v + k * ((vl - v) + r * x[i]) : v + r * x[i];
                if (spiking) {
                    int fire = p->ge ? h >= th : h > th;
                    v = fire ? (p->subtract ? h - th : vr) : h;
                    y[i] = fire ? 1.0f : 0.0f;
                } else {
                    v = h;
                    y[i] = v;
                }
                if (v_seq) v_seq[i] = v;
            }
            if (v_state) v_state[n * E + e] = v;
        }
}
