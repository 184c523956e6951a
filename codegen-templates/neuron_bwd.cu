// neuron_bwd.cu: BPTT through neuron_fwd.cu, one thread per neuron. The forward is
// recomputed (same CHARGE / RESET code, float) into hbuf [T, n] in global memory (a
// per-thread array of T values would not fit in local memory for T in the thousands; the
// spike S[t] is recomputed from H[t] as the forward fires); the backward then runs
// t = T-1 .. 0 in double, as sn_ref_neuron_backward
// (runtime/ref/neuron.c, where the derivation is written out):
//   dS_tot = dL/dS[t] + (detach_reset ? 0 : dV * dV/dS)
//   dH     = dS_tot * g(H[t] - vth) + dV * dV/dH
//   dL/dX  = B * dH,  dV <- A * dH
// with g the surrogate derivative (SURROGATE slot: ATan or sigmoid, alpha).
//
// Slots: KERNEL, NUMEL, T, VR, VTH, TAU, CHARGE, RESET, SURROGATE (statements setting
// double g from double xg), HARD (true|false), DETACH (true|false), A, B (doubles).
// Arguments: x, dspikes, dx and hbuf (scratch) are [T, n]; dvstate (n floats, dL/dV[T-1]
// in, dL/dV[-1] out) may be null.

constexpr i64 NUMEL = {{NUMEL}};
constexpr int T = {{T}};
constexpr bool HARD = {{HARD}};
constexpr bool DETACH = {{DETACH}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x,
                                      const float *__restrict__ dspikes,
                                      float *__restrict__ dx, float *__restrict__ dvstate,
                                      float *__restrict__ hbuf) {
    const float vr = {{VR}}, vth = {{VTH}}, tau = {{TAU}};
    (void)tau;
    const double dvr = (double)vr, dvth = (double)vth;
    const double A = {{A}}, B = {{B}};
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        float v = vr;
#pragma unroll 1
        for (int t = 0; t < T; t++) {
            const float xt = x[(i64)t * NUMEL + i];
            float h;
{{CHARGE}}
            const float sp = __fsub_rn(h, vth) >= 0.0f ? 1.0f : 0.0f;
{{RESET}}
            hbuf[(i64)t * NUMEL + i] = h;
        }
        double dv = dvstate ? (double)dvstate[i] : 0.0;
#pragma unroll 1
        for (int t = T - 1; t >= 0; t--) {
            const i64 k = (i64)t * NUMEL + i;
            const float hf = hbuf[k];
            const double h = (double)hf, s = __fsub_rn(hf, vth) >= 0.0f ? 1.0 : 0.0;
            const double xg = __dsub_rn(h, dvth);
            double g;
{{SURROGATE}}
            const double dvdh = HARD ? __dsub_rn(1.0, s) : 1.0;
            const double dvds = HARD ? __dsub_rn(dvr, h) : -dvth;
            const double ds = __dadd_rn((double)dspikes[k], DETACH ? 0.0 : __dmul_rn(dv, dvds));
            const double dh = __dadd_rn(__dmul_rn(ds, g), __dmul_rn(dv, dvdh));
            dx[k] = (float)__dmul_rn(B, dh);
            dv = __dmul_rn(A, dh);
        }
        if (dvstate) dvstate[i] = (float)dv;
    }
}
