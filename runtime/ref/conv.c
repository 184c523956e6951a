/* Reference 2-D convolution (NCHW activations, OIHW weights, zero padding) and its
 * gradients. Plain loops with double accumulators. */
#include "ref_ops.h"

#include <stddef.h>

static inline int64_t x_index(const sn_conv_params *p, int64_t n, int c, int h, int w) {
    return ((n * p->C + c) * p->H + h) * (int64_t)p->W + w;
}

static inline int64_t y_index(const sn_conv_params *p, int64_t n, int o, int h, int w) {
    return ((n * p->O + o) * p->OH + h) * (int64_t)p->OW + w;
}

static inline int64_t w_index(const sn_conv_params *p, int o, int c, int kh, int kw) {
    return (((int64_t)o * p->C + c) * p->KH + kh) * (int64_t)p->KW + kw;
}

void sn_ref_conv2d(const sn_conv_params *p, const float *x, const float *w, const float *b,
                   float *y) {
    for (int64_t n = 0; n < p->N; n++)
        for (int o = 0; o < p->O; o++)
            for (int oh = 0; oh < p->OH; oh++)
                for (int ow = 0; ow < p->OW; ow++) {
                    double acc = (p->has_bias && b) ? (double)b[o] : 0.0;
                    for (int c = 0; c < p->C; c++)
                        for (int kh = 0; kh < p->KH; kh++) {
                            int ih = oh * p->SH - p->PH + kh;
                            if (ih < 0 || ih >= p->H) continue;
                            for (int kw = 0; kw < p->KW; kw++) {
                                int iw = ow * p->SW - p->PW + kw;
                                if (iw < 0 || iw >= p->W) continue;
                                acc += (double)x[x_index(p, n, c, ih, iw)] *
                                       (double)w[w_index(p, o, c, kh, kw)];
                            }
                        }
                    y[y_index(p, n, o, oh, ow)] = (float)acc;
                }
}

/* Gather form: for each input position, sum over the (output, kernel) pairs that read it.
 * ih = oh*SH - PH + kh  <=>  oh = (ih + PH - kh) / SH when divisible. */
void sn_ref_conv2d_backward_data(const sn_conv_params *p, const float *dy, const float *w,
                                 float *dx) {
    for (int64_t n = 0; n < p->N; n++)
        for (int c = 0; c < p->C; c++)
            for (int ih = 0; ih < p->H; ih++)
                for (int iw = 0; iw < p->W; iw++) {
                    double acc = 0.0;
                    for (int o = 0; o < p->O; o++)
                        for (int kh = 0; kh < p->KH; kh++) {
                            int th = ih + p->PH - kh;
                            if (th < 0 || th % p->SH != 0) continue;
                            int oh = th / p->SH;
                            if (oh >= p->OH) continue;
                            for (int kw = 0; kw < p->KW; kw++) {
                                int tw = iw + p->PW - kw;
                                if (tw < 0 || tw % p->SW != 0) continue;
                                int ow = tw / p->SW;
                                if (ow >= p->OW) continue;
                                acc += (double)dy[y_index(p, n, o, oh, ow)] *
                                       (double)w[w_index(p, o, c, kh, kw)];
                            }
                        }
                    dx[x_index(p, n, c, ih, iw)] = (float)acc;
                }
}

void sn_ref_conv2d_backward_weight(const sn_conv_params *p, const float *x, const float *dy,
                                   float *dw, float *db) {
    for (int o = 0; o < p->O; o++)
        for (int c = 0; c < p->C; c++)
            for (int kh = 0; kh < p->KH; kh++)
                for (int kw = 0; kw < p->KW; kw++) {
                    double acc = 0.0;
                    for (int64_t n = 0; n < p->N; n++)
                        for (int oh = 0; oh < p->OH; oh++) {
                            int ih = oh * p->SH - p->PH + kh;
                            if (ih < 0 || ih >= p->H) continue;
                            for (int ow = 0; ow < p->OW; ow++) {
                                int iw = ow * p->SW - p->PW + kw;
                                if (iw < 0 || iw >= p->W) continue;
                                acc += (double)dy[y_index(p, n, o, oh, ow)] *
                                       (double)x[x_index(p, n, c, ih, iw)];
                            }
                        }
                    dw[w_index(p, o, c, kh, kw)] = (float)acc;
                }
    if (!db) return;
    for (int o = 0; o < p->O; o++) {
        double acc = 0.0;
        for (int64_t n = 0; n < p->N; n++)
            for (int oh = 0; oh < p->OH; oh++)
                for (int ow = 0; ow < p->OW; ow++) acc += (double)dy[y_index(p, n, o, oh, ow)];
        db[o] = (float)acc;
    }
}
