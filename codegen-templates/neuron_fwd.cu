// neuron_fwd.cu: IF / LIF neuron dynamics fused over all T steps (layer-major): one
// thread per neuron keeps its membrane in a register from t = 0 to T-1. The arithmetic is
// sn_ref_neuron_forward's (runtime/ref/neuron.c), in float, the same operations in the
// same order; the explicitly rounded intrinsics keep NVRTC from contracting them.
//   charge (CHARGE slot)  IF: h = v + x;  LIF: h = v + (x - (v - vr)) / tau, or
//                         h = v - (v - vr) / tau + x without decay_input
//   fire                  s = (h - vth >= 0) ? 1 : 0
//   reset (RESET slot)    hard: v = h * (1 - s) + vr * s;  soft: v = h - vth * s
//
// Slots: KERNEL, NUMEL (neurons n), T, VR, VTH, TAU, CHARGE, RESET.
// Arguments: x and s are [T, n]; hseq ([T, n], receives h) and vstate (n, V[-1] in and
// V[T-1] out) may be null.

constexpr i64 NUMEL = {{NUMEL}};
constexpr int T = {{T}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ s,
                                      float *__restrict__ hseq, float *__restrict__ vstate) {
    const float vr = {{VR}}, vth = {{VTH}}, tau = {{TAU}};
    (void)tau;
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        float v = vstate ? vstate[i] : vr;
#pragma unroll 1
        for (int t = 0; t < T; t++) {
            const i64 k = (i64)t * NUMEL + i;
            const float xt = x[k];
            float h;
{{CHARGE}}
            const float sp = __fsub_rn(h, vth) >= 0.0f ? 1.0f : 0.0f;
{{RESET}}
            s[k] = sp;
            if (hseq) hseq[k] = h;
        }
        if (vstate) vstate[i] = v;
    }
}
