/* uint8 CHW images -> float batches. See transform.h for the order of operations. */
#include "transform.h"

#include <math.h>
#include <string.h>

#include "../core/rng.h"

/* Random draws: sn_rand_u01(seed, epoch * STREAMS + what, image index). */
enum { DRAW_CROP_Y = 0, DRAW_CROP_X, DRAW_FLIP, DRAW_BRIGHTNESS, DRAW_CONTRAST, STREAMS = 16 };

static float draw(uint64_t seed, uint64_t epoch, int what, int64_t index) {
    return sn_rand_u01(seed, epoch * STREAMS + (uint64_t)what, (uint64_t)index);
}

sn_code sn_transform_check(const sn_transform *tf, const sn_dataset *ds, sn_status *st) {
    const char *src = ds->source[0] ? ds->source : "the dataset";
    if (ds->n <= 0 || !ds->pixels)
        return sn_fail(st, SN_ERR_INPUT, "%s: the dataset holds no images", src);
    if (ds->c <= 0 || ds->h <= 0 || ds->w <= 0)
        return sn_fail(st, SN_ERR_INPUT, "%s: bad image size %dx%dx%d", src, ds->c, ds->h, ds->w);
    if (tf->out_h <= 0 || tf->out_w <= 0)
        return sn_fail(st, SN_ERR_INPUT, "input size %dx%d: both sides must be positive", tf->out_h,
                       tf->out_w);
    if (!(tf->scale > 0) || !isfinite(tf->scale))
        return sn_fail(
            st, SN_ERR_INPUT,
            "pixel scale %g must be a positive number (1 keeps 0..255, 1/255 gives 0..1)",
            (double)tf->scale);
    int random_crop = tf->train && tf->random_crop;
    if (random_crop) {
        if (tf->crop_padding < 0 || tf->crop_padding > 4096)
            return sn_fail(st, SN_ERR_INPUT, "crop padding %d must be in 0..4096",
                           tf->crop_padding);
        int ph = ds->h + 2 * tf->crop_padding, pw = ds->w + 2 * tf->crop_padding;
        if (tf->out_h > ph || tf->out_w > pw)
            return sn_fail(st, SN_ERR_INPUT,
                           "random crop %dx%d is larger than the %dx%d images of %s padded by %d "
                           "(%dx%d)",
                           tf->out_h, tf->out_w, ds->h, ds->w, src, tf->crop_padding, ph, pw);
    } else if (tf->out_h > ds->h || tf->out_w > ds->w) {
        return sn_fail(st, SN_ERR_INPUT, "center crop %dx%d is larger than the %dx%d images of %s",
                       tf->out_h, tf->out_w, ds->h, ds->w, src);
    }
    if (tf->nmean < 0 || tf->nmean > 4 || (tf->nmean > 1 && tf->nmean != ds->c))
        return sn_fail(st, SN_ERR_INPUT,
                       "normalization has %d mean value(s); expected 0, 1 or one per channel (%d)",
                       tf->nmean, ds->c);
    if (tf->nstd < 0 || tf->nstd > 4 || (tf->nstd > 1 && tf->nstd != ds->c))
        return sn_fail(st, SN_ERR_INPUT,
                       "normalization has %d std value(s); expected 0, 1 or one per channel (%d)",
                       tf->nstd, ds->c);
    for (int i = 0; i < tf->nmean; i++)
        if (!isfinite(tf->mean[i]))
            return sn_fail(st, SN_ERR_INPUT, "normalization mean[%d] is not a finite number", i);
    for (int i = 0; i < tf->nstd; i++)
        if (!(tf->std[i] > 0) || !isfinite(tf->std[i]))
            return sn_fail(st, SN_ERR_INPUT, "normalization std[%d] = %g must be positive", i,
                           (double)tf->std[i]);
    if (tf->train) {
        if (!(tf->brightness >= 0) || !isfinite(tf->brightness))
            return sn_fail(st, SN_ERR_INPUT,
                           "brightness %g must be >= 0 (a maximum delta in pixel units, 0 = off)",
                           (double)tf->brightness);
        int contrast = tf->contrast_lo != 0 || tf->contrast_hi != 0;
        if (contrast && (!(tf->contrast_lo >= 0) || !(tf->contrast_hi >= tf->contrast_lo) ||
                         !(tf->contrast_hi > 0) || !isfinite(tf->contrast_hi)))
            return sn_fail(
                st, SN_ERR_INPUT,
                "contrast range [%g, %g] must satisfy 0 <= lo <= hi, hi > 0 (0, 0 = off)",
                (double)tf->contrast_lo, (double)tf->contrast_hi);
    }
    return SN_OK;
}

static void one_image(const sn_transform *tf, const sn_dataset *ds, int64_t idx, uint64_t seed,
                      uint64_t epoch, float *o) {
    const int C = ds->c, H = ds->h, W = ds->w, oh = tf->out_h, ow = tf->out_w;
    const size_t plane = (size_t)oh * (size_t)ow;
    if (idx < 0 || idx >= ds->n) { /* caller bug: never read out of bounds */
        memset(o, 0, sizeof(float) * plane * (size_t)C);
        return;
    }
    const uint8_t *img = ds->pixels + (size_t)idx * (size_t)C * (size_t)H * (size_t)W;

    int oy, ox, pad = 0;
    if (tf->train && tf->random_crop) {
        pad = tf->crop_padding;
        int ry = H + 2 * pad - oh, rx = W + 2 * pad - ow;
        oy = (int)(draw(seed, epoch, DRAW_CROP_Y, idx) * (float)(ry + 1));
        ox = (int)(draw(seed, epoch, DRAW_CROP_X, idx) * (float)(rx + 1));
        if (oy > ry) oy = ry;
        if (ox > rx) ox = rx;
    } else {
        oy = (H - oh) / 2;
        ox = (W - ow) / 2;
    }
    int flip = tf->train && tf->hflip && draw(seed, epoch, DRAW_FLIP, idx) < 0.5f;
    float delta = 0.0f;
    if (tf->train && tf->brightness > 0)
        delta =
            (2.0f * draw(seed, epoch, DRAW_BRIGHTNESS, idx) - 1.0f) * tf->brightness * tf->scale;
    int contrast = tf->train && (tf->contrast_lo != 0 || tf->contrast_hi != 0);
    float factor = 1.0f;
    if (contrast)
        factor = tf->contrast_lo +
                 draw(seed, epoch, DRAW_CONTRAST, idx) * (tf->contrast_hi - tf->contrast_lo);

    for (int c = 0; c < C; c++) {
        const uint8_t *src = img + (size_t)c * (size_t)H * (size_t)W;
        float *dst = o + (size_t)c * plane;
        double sum = 0.0;
        for (int y = 0; y < oh; y++) {
            int sy = oy + y - pad;
            for (int x = 0; x < ow; x++) {
                int sx = ox + (flip ? ow - 1 - x : x) - pad;
                int p = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? src[(size_t)sy * W + sx] : 0;
                float v = (float)p * tf->scale + delta;
                dst[(size_t)y * ow + x] = v;
                sum += v;
            }
        }
        if (contrast) {
            float m = (float)(sum / (double)plane);
            for (size_t i = 0; i < plane; i++) dst[i] = (dst[i] - m) * factor + m;
        }
    }

    const size_t numel = plane * (size_t)C;
    if (tf->per_image_standardization) {
        double sum = 0.0;
        for (size_t i = 0; i < numel; i++) sum += o[i];
        double mean = sum / (double)numel, ss = 0.0;
        for (size_t i = 0; i < numel; i++) ss += ((double)o[i] - mean) * ((double)o[i] - mean);
        double sd = sqrt(ss / (double)numel), floor_sd = 1.0 / sqrt((double)numel);
        if (sd < floor_sd) sd = floor_sd;
        for (size_t i = 0; i < numel; i++) o[i] = (float)(((double)o[i] - mean) / sd);
    }
    if (tf->nmean > 0 || tf->nstd > 0) {
        for (int c = 0; c < C; c++) {
            float m = tf->nmean > 0 ? tf->mean[tf->nmean == 1 ? 0 : c] : 0.0f;
            float s = tf->nstd > 0 ? tf->std[tf->nstd == 1 ? 0 : c] : 1.0f;
            float *dst = o + (size_t)c * plane;
            for (size_t i = 0; i < plane; i++) dst[i] = (dst[i] - m) / s;
        }
    }
}

void sn_transform_batch(const sn_transform *tf, const sn_dataset *ds, const int64_t *indices,
                        int64_t n, uint64_t seed, uint64_t epoch, float *out, int32_t *labels) {
    const size_t per = (size_t)ds->c * (size_t)tf->out_h * (size_t)tf->out_w;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx = indices[i];
        one_image(tf, ds, idx, seed, epoch, out + (size_t)i * per);
        if (labels) labels[i] = (idx >= 0 && idx < ds->n && ds->labels) ? ds->labels[idx] : -1;
    }
}
