/* Reference IF / LIF neurons (spec-neurons.md, SpikingJelly 0.0.0.0.14 semantics), the
 * surrogate derivatives of the Heaviside step, and BPTT through the T steps.
 *
 * ---- Forward, per neuron, t = 0 .. T-1 ------------------------------------------------
 *   vr = V_reset under hard reset, 0 under soft reset (the leak and V[-1] use it)
 *   charge  IF:                  H[t] = V[t-1] + X[t]
 *           LIF, decay_input:    H[t] = V[t-1] + (X[t] - (V[t-1] - vr)) / tau
 *           LIF, no decay_input: H[t] = V[t-1] - (V[t-1] - vr) / tau + X[t]
 *   fire    S[t] = Theta(H[t] - V_th),  Theta(x) = 1 for x >= 0 else 0
 *   reset   hard: V[t] = H[t] * (1 - S[t]) + vr * S[t]
 *           soft: V[t] = H[t] - V_th * S[t]
 * The forward is computed in float with exactly these expressions, in this order.
 *
 * ---- Backward (BPTT) -------------------------------------------------------------------
 * Local partial derivatives:
 *   charge:  a = dH[t]/dV[t-1]:  IF 1;   LIF (either decay_input) 1 - 1/tau
 *            b = dH[t]/dX[t]:    IF 1;   LIF decay_input 1/tau;   LIF no decay_input 1
 *            (vr is a constant, so the leak's form does not change a or b)
 *   fire:    dS[t]/dH[t] ~ g[t] = surrogate'(H[t] - V_th)   (Theta' replaced)
 *   reset:   hard: dV/dH (S held fixed) = 1 - S[t],  dV/dS = vr - H[t]
 *            soft: dV/dH (S held fixed) = 1,         dV/dS = -V_th
 *            detach_reset: S is a constant inside the reset, so the dV/dS path is dropped
 *            (S still receives its gradient from the loss through dL/dS[t]).
 * H[t] influences the loss through S[t] (directly, dL/dS[t], and through the reset into V[t])
 * and through V[t] (which feeds H[t+1], and is the final state at t = T-1). With
 * dV[t] = dL/dV[t] (total), the chain rule gives, for t = T-1 down to 0:
 *   dS_tot[t] = dL/dS[t] + (detach_reset ? 0 : dV[t] * dV/dS)
 *   dH[t]     = dS_tot[t] * g[t] + dV[t] * dV/dH (S held fixed)
 *   dL/dX[t]  = b * dH[t]
 *   dV[t-1]   = a * dH[t]
 * starting from dV[T-1] = the caller's dv_state (0 when NULL); dV[-1] is returned in
 * dv_state. Written out for the four reset/model combinations (detach = 0):
 *   IF,  hard: dH = (dS + dV*(vr - H))*g + dV*(1 - S);   dX = dH;       dVprev = dH
 *   IF,  soft: dH = (dS - dV*V_th)*g + dV;               dX = dH;       dVprev = dH
 *   LIF, hard: dH as IF hard;  dX = dH/tau (decay_input) or dH;  dVprev = (1 - 1/tau)*dH
 *   LIF, soft: dH as IF soft;  dX = dH/tau (decay_input) or dH;  dVprev = (1 - 1/tau)*dH
 * With detach_reset the (vr - H) and -V_th terms vanish. The backward runs in double. */
#include "ref_ops.h"

#include <math.h>
#include <stddef.h>

#define SN_PI 3.14159265358979323846

double sn_ref_surrogate_grad(sn_surrogate_fn fn, float alpha, double x) {
    double a = (double)alpha;
    if (fn == SN_SG_SIGMOID) {
        double s = 1.0 / (1.0 + exp(-a * x));
        return a * s * (1.0 - s);
    }
    double u = SN_PI / 2.0 * a * x;
    return a / (2.0 * (1.0 + u * u));
}

static float reset_value(const sn_neuron_params *p) {
    return p->hard_reset ? p->v_reset : 0.0f;
}

void sn_ref_neuron_forward(const sn_neuron_params *p, int T, int64_t n, const float *x,
                           float *spikes, float *v_state, float *h_seq) {
    sn_ref_neuron_forward_v(p, T, n, x, spikes, v_state, h_seq, NULL);
}

void sn_ref_neuron_forward_v(const sn_neuron_params *p, int T, int64_t n, const float *x,
                             float *spikes, float *v_state, float *h_seq, float *v_seq) {
    const float vr = reset_value(p), vth = p->v_threshold, tau = p->tau;
    for (int64_t i = 0; i < n; i++) {
        float v = v_state ? v_state[i] : vr;
        for (int t = 0; t < T; t++) {
            int64_t k = (int64_t)t * n + i;
            float xt = x[k], h;
            if (p->model == SN_NEURON_IF)
                h = v + xt;
            else if (p->decay_input)
                h = v + (xt - (v - vr)) / tau;
            else
                h = v - (v - vr) / tau + xt;
            float s = (h - vth >= 0.0f) ? 1.0f : 0.0f;
            if (p->hard_reset)
                v = h * (1.0f - s) + vr * s;
            else
                v = h - vth * s;
            spikes[k] = s;
            if (h_seq) h_seq[k] = h;
            if (v_seq) v_seq[k] = v;
        }
        if (v_state) v_state[i] = v;
    }
}

void sn_ref_neuron_backward(const sn_neuron_params *p, int T, int64_t n, const float *h_seq,
                            const float *spikes, const float *dspikes, float *dx, float *dv_state) {
    const double vr = (double)reset_value(p), vth = (double)p->v_threshold;
    const double tau = (double)p->tau;
    const double a = p->model == SN_NEURON_IF ? 1.0 : 1.0 - 1.0 / tau;
    const double b = (p->model == SN_NEURON_LIF && p->decay_input) ? 1.0 / tau : 1.0;
    for (int64_t i = 0; i < n; i++) {
        double dv = dv_state ? (double)dv_state[i] : 0.0;
        for (int t = T - 1; t >= 0; t--) {
            int64_t k = (int64_t)t * n + i;
            double h = (double)h_seq[k], s = (double)spikes[k];
            double g = sn_ref_surrogate_grad(p->surrogate, p->alpha, h - vth);
            double dvdh, dvds;
            if (p->hard_reset) {
                dvdh = 1.0 - s;
                dvds = vr - h;
            } else {
                dvdh = 1.0;
                dvds = -vth;
            }
            double ds = (double)dspikes[k] + (p->detach_reset ? 0.0 : dv * dvds);
            double dh = ds * g + dv * dvdh;
            dx[k] = (float)(b * dh);
            dv = a * dh;
        }
        if (dv_state) dv_state[i] = (float)dv;
    }
}

void sn_ref_threshold_units(const sn_threshold_params *p, const float *v, const float *theta,
                            float *counts) {
    for (int64_t n = 0; n < p->N; n++)
        for (int c = 0; c < p->C; c++)
            for (int64_t s = 0; s < p->HW; s++) {
                int64_t k = (n * p->C + c) * p->HW + s;
                int cnt = 0;
                for (int u = 0; u < p->U; u++)
                    if (v[k] >= theta[(int64_t)c * p->U + u]) cnt++;
                counts[k] = (float)cnt;
            }
}
