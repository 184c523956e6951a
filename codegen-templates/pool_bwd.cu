// pool_bwd.cu: the gradient of pool.cu in gather form, one thread per input element, so
// no atomics and a fixed summation order. Max: each output's gradient goes to the first
// maximum of its window in scan order (the last NaN if any, runtime/ref/pool.c); the
// outputs reaching an input are visited in (oh, ow) order, the order in which the
// reference scatters, so the float sums agree bit for bit. Average: dy / divisor summed
// in double.
//
// Slots: KERNEL, PLANES, H, W, OH, OW, KH, KW, SH, SW, PH, PW, IS_MAX.
// Grid: ceil(PLANES * H * W / 256) blocks of 256.

constexpr i64 PLANES = {{PLANES}};
constexpr int H = {{H}}, W = {{W}}, OH = {{OH}}, OW = {{OW}};
constexpr int KH = {{KH}}, KW = {{KW}}, SH = {{SH}}, SW = {{SW}}, PH = {{PH}}, PW = {{PW}};
constexpr bool IS_MAX = {{IS_MAX}};

__device__ __forceinline__ int first_out(int a, int s) {
    return a <= 0 ? 0 : (a + s - 1) / s;
}

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, const float *__restrict__ dy,
                                      float *__restrict__ dx) {
    const i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= PLANES * H * W) return;
    const int iw = (int)(i % W), ih = (int)((i / W) % H);
    const i64 pl = i / ((i64)H * W);
    const float *plane = x + pl * ((i64)H * W);
    const float *dyp = dy + pl * ((i64)OH * OW);
    const int oh0 = first_out(ih + PH - KH + 1, SH), oh1 = min((ih + PH) / SH, OH - 1);
    const int ow0 = first_out(iw + PW - KW + 1, SW), ow1 = min((iw + PW) / SW, OW - 1);
    float accf = 0.0f;
    double accd = 0.0;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            const int hs = oh * SH - PH, ws = ow * SW - PW;
            const int he = min(hs + KH, H + PH), we = min(ws + KW, W + PW);
            const int h0 = max(hs, 0), w0 = max(ws, 0), h1 = min(he, H), w1 = min(we, W);
            if (ih < h0 || ih >= h1 || iw < w0 || iw >= w1) continue;
            if (IS_MAX) {
                int best = h0 * W + w0;
                float m = SN_NEG_INF;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) {
                        const float v = plane[(i64)h * W + w];
                        if (v > m || v != v) {
                            m = v;
                            best = h * W + w;
                        }
                    }
                if (best == ih * W + iw) accf += dyp[(i64)oh * OW + ow];
            } else {
                const int divisor = (he - hs) * (we - ws);
                accd += (double)dyp[(i64)oh * OW + ow] / divisor;
            }
        }
    dx[i] = IS_MAX ? accf : (float)accd;
}
