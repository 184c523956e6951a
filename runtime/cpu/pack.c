#include "pack.h"

#include "../ref/ref_ops.h"

#include <math.h>
#include <string.h>

void sn_bn_fold(int C, const float *gamma, const float *beta, const float *mean, const float *var,
                float eps, float *scale, float *shift) {
    for (int c = 0; c < C; c++) {
        double s = (double)gamma[c] / sqrt((double)var[c] + (double)eps);
        scale[c] = (float)s;
        shift[c] = (float)((double)beta[c] - (double)mean[c] * s);
    }
}

void sn_ternarize(int64_t n, float threshold_factor, const float *w, float *out) {
    /* one definition: the reference op's */
    sn_ref_ternary(n, threshold_factor, w, out);
}

void sn_layout_from_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst) {
    memset(dst, 0, (size_t)sn_layout_floats(l, N) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < l->C; c++)
            for (int y = 0; y < l->H; y++)
                for (int x = 0; x < l->W; x++)
                    dst[n * sn_lay_image(l) + sn_lay_at(l, c, y, x)] =
                        src[((n * l->C + c) * l->H + y) * l->W + x];
}

void sn_layout_to_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst) {
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < l->C; c++)
            for (int y = 0; y < l->H; y++)
                for (int x = 0; x < l->W; x++)
                    dst[((n * l->C + c) * l->H + y) * l->W + x] =
                        src[n * sn_lay_image(l) + sn_lay_at(l, c, y, x)];
}
