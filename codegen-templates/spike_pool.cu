// spike_pool.cu: the gated spike max pool (maxpool with spike_gate) over spike trains
// x [T, N, C, H, W], as sn_ref's spike pool: at each step t the output is the spike, at t,
// of the window input with the most spikes in steps 0..t (the first in window order, row
// by row, on ties; padding never wins; a window with no input gives 0). One thread per
// output position keeps the running counts of its window in registers and walks the T
// steps.
//
// Slots: KERNEL, T, PLANES (N * C), H, W, OH, OW, KH, KW, SH, SW, PH, PW.
// Grid: ceil(PLANES * OH * OW / 256) blocks of 256.

constexpr int T = {{T}};
constexpr i64 PLANES = {{PLANES}};
constexpr int H = {{H}}, W = {{W}}, OH = {{OH}}, OW = {{OW}};
constexpr int KH = {{KH}}, KW = {{KW}}, SH = {{SH}}, SW = {{SW}}, PH = {{PH}}, PW = {{PW}};

extern "C" __global__ void {{KERNEL}}(const float *__restrict__ x, float *__restrict__ y) {
    const i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= PLANES * OH * OW) return;
    const int ow = (int)(i % OW), oh = (int)((i / OW) % OH);
    const i64 pl = i / ((i64)OH * OW);
    const int hs = oh * SH - PH, ws = ow * SW - PW;
    float cnt[KH * KW];
    int at[KH * KW];
    int n = 0;
    for (int kh = 0; kh < KH; kh++)
        for (int kw = 0; kw < KW; kw++) {
            const int h = hs + kh, w = ws + kw;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            at[n] = h * W + w;
            cnt[n++] = 0.0f;
        }
    for (int t = 0; t < T; t++) {
        const float *plane = x + ((i64)t * PLANES + pl) * ((i64)H * W);
        float *out = y + ((i64)t * PLANES + pl) * ((i64)OH * OW) + (i64)oh * OW + ow;
        if (n == 0) {
            *out = 0.0f;
            continue;
        }
        int best = 0;
        for (int k = 0; k < n; k++) {
            cnt[k] += plane[at[k]];
            if (k > 0 && cnt[k] > cnt[best]) best = k;
        }
        *out = plane[at[best]];
    }
}
