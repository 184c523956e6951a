// eltwise.cu: y[i] = ops(x[i]) over a tensor, the ops a chain of shared elementwise
// definitions (compiler/backends/ewdefs.c) rendered into the EPILOGUE slot: ReLU, Q(k,B),
// bias, folded batch norm, threshold units, gradient masks, sums. The element's channel
// is c = (i / HW) % C (NCHW; HW = 1 after a linear layer, where c is the feature).
//
// Slots: KERNEL, NUMEL, C, HW, EPILOGUE (statements updating float v; i, c, p0, p1, aux
// in scope). Grid-stride loop; any grid works, the plan uses min(ceil(NUMEL / 256), 2^20).

constexpr i64 NUMEL = {{NUMEL}};
constexpr i64 HW = {{HW}};
constexpr int C = {{C}};

extern "C" __global__ void {{KERNEL}}(const float *x, float *y, const float *__restrict__ p0,
                                      const float *__restrict__ p1, const float *aux) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        const int c = (int)((i / HW) % C);
        float v = x[i];
{{EPILOGUE}}
        y[i] = v;
    }
}
