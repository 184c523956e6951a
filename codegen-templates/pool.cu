// pool.cu: max or average pooling over NCHW planes, one thread per output element, with
// the reference's window rules (runtime/ref/pool.c): padded positions never win a max
// and a NaN in the window propagates; the average counts padding (count_include_pad) with
// PyTorch's divisor and sums in double.
//
// Slots: KERNEL, PLANES (N * C), H, W, OH, OW, KH, KW, SH, SW, PH, PW, IS_MAX (true|false).
// Grid: ceil(PLANES * OH * OW / 256) blocks of 256.

constexpr i64 PLANES = {{PLANES}};
constexpr int H = {{H}}, W = {{W}}, OH = {{OH}}, OW = {{OW}};
constexpr int KH = {{KH}}, KW = {{KW}}, SH = {{SH}}, SW = {{SW}}, PH = {{PH}}, PW = {{PW}};
constexpr bool IS_MAX = {{IS_MAX}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ y) {
    const i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= PLANES * OH * OW) return;
    const int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
    const i64 pl = i / ((i64)OH * OW);
    const float *plane = x + pl * ((i64)H * W);
    const int hs = oh * SH - PH, ws = ow * SW - PW;
    const int he = min(hs + KH, H + PH), we = min(ws + KW, W + PW);
    const int divisor = (he - hs) * (we - ws);
    const int h0 = max(hs, 0), w0 = max(ws, 0), h1 = min(he, H), w1 = min(we, W);
    if (IS_MAX) {
        float m = SN_NEG_INF;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) {
                const float v = plane[(i64)h * W + w];
                if (v > m || v != v) m = v;
            }
        y[i] = m;
    } else {
        double acc = 0.0;
        for (int h = h0; h < h1; h++)
            for (int w = w0; w < w1; w++) acc += (double)plane[(i64)h * W + w];
        y[i] = (float)(acc / divisor);
    }
}
