// im2col.cu: the unfused convolution baseline's gather (fusion off): the patches of an
// NCHW input laid out as col [K][NP] (K = C*KH*KW patch elements, row k = (c*KH + kh)*KW
// + kw; NP = N*OH*OW output positions, column q = (n*OH + oh)*OW + ow), zeros where a
// window reaches into the padding. cuBLAS then computes the convolution as one GEMM and
// col2nchw.cu puts the result in NCHW order.
//
// Slots: KERNEL, N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW. Grid-stride over K * NP.

constexpr i64 N = {{N}};
constexpr int C = {{C}}, H = {{H}}, W = {{W}}, OH = {{OH}}, OW = {{OW}};
constexpr int KH = {{KH}}, KW = {{KW}}, SH = {{SH}}, SW = {{SW}}, PH = {{PH}}, PW = {{PW}};
constexpr i64 NP = N * OH * OW;
constexpr i64 K = (i64)C * KH * KW;

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ col) {
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < K * NP;
         i += (i64)gridDim.x * blockDim.x) {
        const i64 q = i % NP, k = i / NP;
        const int ow = (int)(q % OW), oh = (int)((q / OW) % OH);
        const i64 n = q / ((i64)OH * OW);
        const int kw = (int)(k % KW), kh = (int)((k / KW) % KH), c = (int)(k / ((i64)KH * KW));
        const int h = oh * SH - PH + kh, w = ow * SW - PW + kw;
        col[i] = (h >= 0 && h < H && w >= 0 && w < W)
                     ? x[((n * C + c) * H + h) * (i64)W + w]
                     : 0.0f;
    }
}
