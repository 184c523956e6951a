// igemm_fp32.cu: implicit GEMM in fp32, tiled through shared memory.
//
// Y[m, j] = epilogue(sum_k A(m, k) * B(k, j)) for m < M rows and j < NCOL columns, where
// A and B are never materialized: the slot functions load_a / load_b gather their
// elements (a convolution's weights and its input windows, im2col on the fly). The same
// template computes forward convolutions (rows = output channels, columns = output
// pixels), data gradients (rows = input channels) and weight gradients (columns = filter
// taps), only the gather code differs.
//
// Block: 256 threads as 16 x 16, each accumulating a 4 x 4 micro-tile of a 64 x 64 block
// tile; K advances 8 at a time (a short unrolled inner loop also keeps NVRTC fast).
// Grid: (ceil(NCOL / 64), ceil(M / 64)).
//
// Pooling fused into the epilogue: columns come in groups of TAPS (the pool window of one
// pooled output, TAPS divides 64), each element passes the epilogue, then POOL_ACC
// reduces the group into one stored value. TAPS = 1 stores every column.
//
// Slots: KERNEL; IDX (the index type: int when every element index fits in 31 bits, else
// i64); M, NCOL, KDIM, TAPS; A_ELEM, B_ELEM (bodies returning A(m, k), B(k, j), called in
// range only); OUT_INDEX (body returning the y index of row m, column group q); STORE
// (igemm_store.cuh rendered with the fused epilogue and pooling: the store phase).

typedef {{IDX}} idx;
constexpr idx GM = {{M}};
constexpr idx GN = {{NCOL}};
constexpr idx GK = {{KDIM}};
constexpr int TAPS = {{TAPS}};
constexpr int BM = 64, BN = 64, BK = 8, NT = 256;
static_assert(BN % TAPS == 0, "a pool window must not straddle block tiles");

__device__ __forceinline__ float load_a(const float *__restrict__ a, idx m, idx k) {
{{A_ELEM}}
}

__device__ __forceinline__ float load_b(const float *__restrict__ b, idx k, idx j) {
{{B_ELEM}}
}

__device__ __forceinline__ idx out_index(idx m, idx q) {
{{OUT_INDEX}}
}

extern "C" __global__ void __launch_bounds__(256)
{{KERNEL}}(const float *__restrict__ a, const float *__restrict__ b, float *__restrict__ y,
           const float *__restrict__ p0, const float *__restrict__ p1,
           const float *__restrict__ aux) {
    __shared__ float As[BK][BM + 4];
    __shared__ float Bs[BK][BN + 4];
    __shared__ float Cs[BM][BN + 1];
    const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
    const idx j0 = (idx)blockIdx.x * BN;
    const idx m0 = (idx)blockIdx.y * BM;
    float racc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) racc[i][j] = 0.0f;

    for (idx k0 = 0; k0 < GK; k0 += BK) {
        for (int e = tid; e < BM * BK; e += NT) {
            const int mm = e / BK, kk = e % BK;
            const idx m = m0 + mm, k = k0 + kk;
            As[kk][mm] = (m < GM && k < GK) ? load_a(a, m, k) : 0.0f;
        }
        for (int e = tid; e < BK * BN; e += NT) {
            const int kk = e / BN, jj = e % BN;
            const idx k = k0 + kk, j = j0 + jj;
            Bs[kk][jj] = (j < GN && k < GK) ? load_b(b, k, j) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float ra[4], rb[4];
#pragma unroll
            for (int i = 0; i < 4; i++) ra[i] = As[kk][ty * 4 + i];
#pragma unroll
            for (int j = 0; j < 4; j++) rb[j] = Bs[kk][tx * 4 + j];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) racc[i][j] += ra[i] * rb[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) Cs[ty * 4 + i][tx * 4 + j] = racc[i][j];
    __syncthreads();

{{STORE}}
}
