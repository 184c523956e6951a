/* Reference max / average pooling (NCHW) and their gradients, following PyTorch CPU. */
#include "ref_ops.h"

#include <math.h>

/* The window of output (oh, ow): rows [h0, h1), cols [w0, w1) clipped to the input, and
 * the count_include_pad divisor, which is PyTorch's: the window clipped to the padded input
 * (H + PH, W + PW) but not to the unpadded one, i.e. KH*KW whenever the window lies inside
 * the padded input. */
typedef struct window {
    int h0, h1, w0, w1;
    int divisor;
} window;

static window pool_window(const sn_pool_params *p, int oh, int ow) {
    window r;
    int hs = oh * p->SH - p->PH, ws = ow * p->SW - p->PW;
    int he = hs + p->KH, we = ws + p->KW;
    if (he > p->H + p->PH) he = p->H + p->PH;
    if (we > p->W + p->PW) we = p->W + p->PW;
    r.divisor = (he - hs) * (we - ws);
    r.h0 = hs < 0 ? 0 : hs;
    r.w0 = ws < 0 ? 0 : ws;
    r.h1 = he > p->H ? p->H : he;
    r.w1 = we > p->W ? p->W : we;
    return r;
}

/* Index (within one H*W plane) of the element the max-pool forward picks, or -1 when the
 * window holds no input position. Scan order kh then kw; a strictly greater value or a NaN
 * replaces the current pick, so the first maximum wins and NaN propagates (PyTorch CPU).
 * The pick starts at the first in-bounds position with value -inf. */
static int64_t max_pick(const sn_pool_params *p, const float *plane, const window *win,
                        float *val) {
    if (win->h0 >= win->h1 || win->w0 >= win->w1) {
        *val = -INFINITY;
        return -1;
    }
    int64_t best = (int64_t)win->h0 * p->W + win->w0;
    float m = -INFINITY;
    for (int h = win->h0; h < win->h1; h++)
        for (int w = win->w0; w < win->w1; w++) {
            float v = plane[(int64_t)h * p->W + w];
            if (v > m || isnan(v)) {
                m = v;
                best = (int64_t)h * p->W + w;
            }
        }
    *val = m;
    return best;
}

void sn_ref_maxpool2d(const sn_pool_params *p, const float *x, float *y) {
    int64_t planes = p->N * p->C, in_sz = (int64_t)p->H * p->W, out_sz = (int64_t)p->OH * p->OW;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < p->OH; oh++)
            for (int ow = 0; ow < p->OW; ow++) {
                window win = pool_window(p, oh, ow);
                float v;
                (void)max_pick(p, x + pl * in_sz, &win, &v);
                y[pl * out_sz + (int64_t)oh * p->OW + ow] = v;
            }
}

void sn_ref_maxpool2d_backward(const sn_pool_params *p, const float *x, const float *dy,
                               float *dx) {
    int64_t planes = p->N * p->C, in_sz = (int64_t)p->H * p->W, out_sz = (int64_t)p->OH * p->OW;
    for (int64_t i = 0; i < planes * in_sz; i++) dx[i] = 0.0f;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < p->OH; oh++)
            for (int ow = 0; ow < p->OW; ow++) {
                window win = pool_window(p, oh, ow);
                float v;
                int64_t at = max_pick(p, x + pl * in_sz, &win, &v);
                if (at >= 0) dx[pl * in_sz + at] += dy[pl * out_sz + (int64_t)oh * p->OW + ow];
            }
}

void sn_ref_avgpool2d(const sn_pool_params *p, const float *x, float *y) {
    int64_t planes = p->N * p->C, in_sz = (int64_t)p->H * p->W, out_sz = (int64_t)p->OH * p->OW;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int oh = 0; oh < p->OH; oh++)
            for (int ow = 0; ow < p->OW; ow++) {
                window win = pool_window(p, oh, ow);
                double acc = 0.0;
                for (int h = win.h0; h < win.h1; h++)
                    for (int w = win.w0; w < win.w1; w++)
                        acc += (double)x[pl * in_sz + (int64_t)h * p->W + w];
                y[pl * out_sz + (int64_t)oh * p->OW + ow] = (float)(acc / win.divisor);
            }
}

/* Smallest o >= 0 with o*s >= a. */
static int first_out(int a, int s) {
    return a <= 0 ? 0 : (a + s - 1) / s;
}

void sn_ref_avgpool2d_backward(const sn_pool_params *p, const float *dy, float *dx) {
    int64_t planes = p->N * p->C, in_sz = (int64_t)p->H * p->W, out_sz = (int64_t)p->OH * p->OW;
    for (int64_t pl = 0; pl < planes; pl++)
        for (int ih = 0; ih < p->H; ih++)
            for (int iw = 0; iw < p->W; iw++) {
                /* Gather: every output whose window holds (ih, iw); only outputs with
                 * oh*SH - PH <= ih < oh*SH - PH + KH can (likewise ow), the window test
                 * below is the exact one. */
                int oh0 = first_out(ih + p->PH - p->KH + 1, p->SH);
                int oh1 = (ih + p->PH) / p->SH;
                int ow0 = first_out(iw + p->PW - p->KW + 1, p->SW);
                int ow1 = (iw + p->PW) / p->SW;
                if (oh1 >= p->OH) oh1 = p->OH - 1;
                if (ow1 >= p->OW) ow1 = p->OW - 1;
                double acc = 0.0;
                for (int oh = oh0; oh <= oh1; oh++)
                    for (int ow = ow0; ow <= ow1; ow++) {
                        window win = pool_window(p, oh, ow);
                        if (ih < win.h0 || ih >= win.h1 || iw < win.w0 || iw >= win.w1) continue;
                        acc += (double)dy[pl * out_sz + (int64_t)oh * p->OW + ow] / win.divisor;
                    }
                dx[pl * in_sz + (int64_t)ih * p->W + iw] = (float)acc;
            }
}
