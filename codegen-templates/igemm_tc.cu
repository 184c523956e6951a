// igemm_tc.cu: implicit GEMM on tensor cores (sm_80 and later), TF32 or BF16 operands
// with fp32 accumulation, through the warp-level mma.sync instruction.
//
// The same contract as igemm_fp32.cu (the gather slots load_a / load_b, the epilogue and
// the fused pooling), with a different inner product: A and B tiles are staged in shared
// memory as fp32 and rounded to TF32 (cvt.rna) or BF16 (cvt.rn) while the fragments are
// built. Fragment layouts are those of the PTX ISA for mma.m16n8k8 (.tf32) and
// mma.m16n8k16 (.bf16), row-major A and column-major B; the instructions are the
// prelude's inline-PTX wrappers, so the kernel needs no CUDA headers.
//
// Block: 128 threads = 4 warps in 2 x 2, each computing 32 x 32 of a 64 x 64 block tile
// as 2 x 4 mma tiles of 16 x 8; K advances 16 at a time. Grid: (ceil(NCOL / 64),
// ceil(M / 64)).
//
// Slots: those of igemm_fp32.cu, and BF16 (true: BF16 operands, false: TF32).

typedef {{IDX}} idx;
constexpr idx GM = {{M}};
constexpr idx GN = {{NCOL}};
constexpr idx GK = {{KDIM}};
constexpr int TAPS = {{TAPS}};
constexpr bool USE_BF16 = {{BF16}};
constexpr int BM = 64, BN = 64, BK = 16, NT = 128;
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

extern "C" __global__ void __launch_bounds__(128)
{{KERNEL}}(const float *__restrict__ a, const float *__restrict__ b, float *__restrict__ y,
           const float *__restrict__ p0, const float *__restrict__ p1,
           const float *__restrict__ aux) {
    __shared__ float As[BM][BK + 4];
    __shared__ float Bs[BN][BK + 4];
    __shared__ float Cs[BM][BN + 1];
    const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
    const int wm = warp / 2, wn = warp % 2;
    const int g = lane / 4, t = lane % 4; // mma fragment coordinates
    const idx j0 = (idx)blockIdx.x * BN;
    const idx m0 = (idx)blockIdx.y * BM;
    float c[2][4][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++)
#pragma unroll
            for (int r = 0; r < 4; r++) c[mi][ni][r] = 0.0f;

    for (idx k0 = 0; k0 < GK; k0 += BK) {
        for (int e = tid; e < BM * BK; e += NT) {
            const int mm = e / BK, kk = e % BK;
            const idx m = m0 + mm, k = k0 + kk;
            As[mm][kk] = (m < GM && k < GK) ? load_a(a, m, k) : 0.0f;
        }
        for (int e = tid; e < BK * BN; e += NT) {
            const int kk = e / BN, jj = e % BN;
            const idx k = k0 + kk, j = j0 + jj;
            Bs[jj][kk] = (j < GN && k < GK) ? load_b(b, k, j) : 0.0f;
        }
        __syncthreads();
        if constexpr (USE_BF16) {
            u32 af[2][4], bf[4][2];
            const int kb = 2 * t;
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                const int r = wm * 32 + mi * 16 + g;
                af[mi][0] = sn_pack_bf16(As[r][kb], As[r][kb + 1]);
                af[mi][1] = sn_pack_bf16(As[r + 8][kb], As[r + 8][kb + 1]);
                af[mi][2] = sn_pack_bf16(As[r][kb + 8], As[r][kb + 9]);
                af[mi][3] = sn_pack_bf16(As[r + 8][kb + 8], As[r + 8][kb + 9]);
            }
#pragma unroll
            for (int ni = 0; ni < 4; ni++) {
                const int n = wn * 32 + ni * 8 + g;
                bf[ni][0] = sn_pack_bf16(Bs[n][kb], Bs[n][kb + 1]);
                bf[ni][1] = sn_pack_bf16(Bs[n][kb + 8], Bs[n][kb + 9]);
            }
#pragma unroll
            for (int mi = 0; mi < 2; mi++)
#pragma unroll
                for (int ni = 0; ni < 4; ni++) sn_mma_m16n8k16_bf16(c[mi][ni], af[mi], bf[ni]);
        } else {
#pragma unroll
            for (int ks = 0; ks < BK; ks += 8) {
                u32 af[2][4], bf[4][2];
                const int kb = ks + t;
#pragma unroll
                for (int mi = 0; mi < 2; mi++) {
                    const int r = wm * 32 + mi * 16 + g;
                    af[mi][0] = sn_to_tf32(As[r][kb]);
                    af[mi][1] = sn_to_tf32(As[r + 8][kb]);
                    af[mi][2] = sn_to_tf32(As[r][kb + 4]);
                    af[mi][3] = sn_to_tf32(As[r + 8][kb + 4]);
                }
#pragma unroll
                for (int ni = 0; ni < 4; ni++) {
                    const int n = wn * 32 + ni * 8 + g;
                    bf[ni][0] = sn_to_tf32(Bs[n][kb]);
                    bf[ni][1] = sn_to_tf32(Bs[n][kb + 4]);
                }
#pragma unroll
                for (int mi = 0; mi < 2; mi++)
#pragma unroll
                    for (int ni = 0; ni < 4; ni++) sn_mma_m16n8k8_tf32(c[mi][ni], af[mi], bf[ni]);
            }
        }
        __syncthreads();
    }
    // accumulator fragment -> shared tile: c0, c1 at (g, 2t), (g, 2t+1); c2, c3 eight rows down
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 4; ni++) {
            const int r = wm * 32 + mi * 16 + g, n = wn * 32 + ni * 8 + 2 * t;
            Cs[r][n] = c[mi][ni][0];
            Cs[r][n + 1] = c[mi][ni][1];
            Cs[r + 8][n] = c[mi][ni][2];
            Cs[r + 8][n + 1] = c[mi][ni][3];
        }
    __syncthreads();

{{STORE}}
}
