// col2nchw.cu: the unfused convolution baseline's scatter: the GEMM result z [O][N*P]
// (output channel-major, as cuBLAS wrote it) to y [N][O][P] (NCHW, P = OH*OW). The bias
// and anything else of the conv's epilogue follow as an eltwise.cu kernel.
//
// Slots: KERNEL, N, O, P. Grid-stride over N * O * P.

constexpr i64 N = {{N}};
constexpr i64 O = {{O}}, P = {{P}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ z, float *__restrict__ y) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < N * O * P;
         i += (i64)gridDim.x * blockDim.x) {
        const i64 p = i % P, o = (i / P) % O, n = i / (O * P);
        y[i] = z[(o * N + n) * P + p];
    }
}
