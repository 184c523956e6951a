// encode_direct.cu: the direct encoder, s[t, i] = ops(x[i]) for every t < T
// (runtime/ref/encode.c); the ops are the input scale of a converted network, if any,
// rendered from the shared elementwise definitions.
//
// Slots: KERNEL, NUMEL (elements of x), T, EPILOGUE (statements updating float v).

constexpr i64 NUMEL = {{NUMEL}};
constexpr int T = {{T}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ s) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < NUMEL;
         i += (i64)gridDim.x * blockDim.x) {
        float v = x[i];
{{EPILOGUE}}
        for (int t = 0; t < T; t++) s[(i64)t * NUMEL + i] = v;
    }
}
