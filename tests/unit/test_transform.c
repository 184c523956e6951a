/* Image transforms: crops, padding, flips, brightness/contrast, standardization,
 * normalization, determinism of the random draws, and the checks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/data/transform.h"

/* n images of c x h x w; pixel value from fn(image, c, y, x). */
static sn_dataset make_ds(int64_t n, int c, int h, int w, int (*fn)(int64_t, int, int, int)) {
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = n;
    ds.c = c;
    ds.h = h;
    ds.w = w;
    ds.num_classes = 10;
    ds.pixels = malloc((size_t)(n * c * h * w));
    ds.labels = malloc(sizeof(int32_t) * (size_t)n);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    for (int64_t i = 0; i < n; i++) {
        ds.labels[i] = (int32_t)(i % 10);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    ds.pixels[((i * c + ch) * h + y) * w + x] = (uint8_t)fn(i, ch, y, x);
    }
    return ds;
}

static void free_ds(sn_dataset *ds) {
    free(ds->pixels);
    free(ds->labels);
}

static sn_transform eval_tf(int oh, int ow) {
    sn_transform tf;
    memset(&tf, 0, sizeof tf);
    tf.out_h = oh;
    tf.out_w = ow;
    tf.scale = 1.0f;
    return tf;
}

static int check_ok(const sn_transform *tf, const sn_dataset *ds) {
    sn_status st;
    sn_status_init(&st);
    sn_code c = sn_transform_check(tf, ds, &st);
    if (c != SN_OK) fprintf(stderr, "  check: %s\n", st.msg);
    return c == SN_OK;
}

static int pat_chw(int64_t i, int c, int y, int x) {
    return (int)((c * 100 + y * 10 + x + i) & 255);
}

static void test_center_crop(void) {
    sn_dataset ds = make_ds(2, 3, 5, 6, pat_chw);
    sn_transform tf = eval_tf(3, 4);
    CHECK(check_ok(&tf, &ds));
    float out[3 * 5 * 6];
    int32_t labels[2] = {-5, -5};
    int64_t idx[2] = {1, 0};
    sn_transform_batch(&tf, &ds, idx, 2, 1, 0, out, labels);
    CHECK(labels[0] == 1 && labels[1] == 0);
    /* offsets (5-3)/2 = 1, (6-4)/2 = 1 */
    int bad = 0;
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++)
                    bad += out[((b * 3 + c) * 3 + y) * 4 + x] !=
                           (float)pat_chw(idx[b], c, y + 1, x + 1);
    CHECK_EQ_INT(bad, 0);
    /* odd difference rounds the offset down: 5 -> 2 takes rows 1, 2 */
    tf = eval_tf(2, 6);
    sn_transform_batch(&tf, &ds, idx + 1, 1, 1, 0, out, NULL);
    CHECK(out[0] == (float)pat_chw(0, 0, 1, 0) && out[6] == (float)pat_chw(0, 0, 2, 0));
    /* equal sizes: identity; scale applies; the train flag without augmentation = eval */
    tf = eval_tf(5, 6);
    tf.scale = 0.5f;
    tf.train = 1;
    sn_transform_batch(&tf, &ds, idx + 1, 1, 99, 3, out, NULL);
    bad = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 6; x++)
                bad += out[(c * 5 + y) * 6 + x] != 0.5f * (float)pat_chw(0, c, y, x);
    CHECK_EQ_INT(bad, 0);
    free_ds(&ds);
}

static int pat_distinct(int64_t i, int c, int y, int x) {
    (void)i;
    return 1 + c * 16 + y * 4 + x; /* never 0: zeros in the output are padding */
}

/* Finds the crop offset (in padded coordinates) and flip that produced out (1 x 4 x 4 image
 * padded by pad, cropped to oh x ow), or returns 0. */
static int find_window(const float *out, int oh, int ow, int pad, int *oy, int *ox, int *flip) {
    for (int f = 0; f < 2; f++)
        for (int a = 0; a <= 4 + 2 * pad - oh; a++)
            for (int b = 0; b <= 4 + 2 * pad - ow; b++) {
                int match = 1;
                for (int y = 0; y < oh && match; y++)
                    for (int x = 0; x < ow && match; x++) {
                        int sy = a + y - pad, sx = b + (f ? ow - 1 - x : x) - pad;
                        int v = (sy >= 0 && sy < 4 && sx >= 0 && sx < 4)
                                    ? pat_distinct(0, 0, sy, sx)
                                    : 0;
                        match = out[y * ow + x] == (float)v;
                    }
                if (match) {
                    *oy = a;
                    *ox = b;
                    *flip = f;
                    return 1;
                }
            }
    return 0;
}

static void test_random_crop(void) {
    const int N = 600, pad = 2;
    sn_dataset ds = make_ds(N, 1, 4, 4, pat_distinct);
    sn_transform tf = eval_tf(4, 4);
    tf.train = 1;
    tf.random_crop = 1;
    tf.crop_padding = pad;
    CHECK(check_ok(&tf, &ds));
    int64_t *idx = malloc(sizeof(int64_t) * N);
    for (int i = 0; i < N; i++) idx[i] = i;
    float *out = malloc(sizeof(float) * 16 * N), *out2 = malloc(sizeof(float) * 16 * N);
    sn_transform_batch(&tf, &ds, idx, N, 42, 7, out, NULL);
    int seen[5][5] = {{0}}, unmatched = 0, flips = 0;
    for (int i = 0; i < N; i++) {
        int oy, ox, f;
        if (!find_window(out + 16 * i, 4, 4, pad, &oy, &ox, &f)) {
            unmatched++;
            continue;
        }
        seen[oy][ox]++;
        flips += f;
    }
    CHECK_EQ_INT(unmatched, 0);
    CHECK_EQ_INT(flips, 0); /* hflip is off */
    int missing = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) missing += seen[a][b] == 0;
    CHECK_MSG(missing == 0, "%d of 25 offsets never drawn", missing);
    CHECK(seen[0][0] > 0 && seen[4][4] > 0); /* both extremes of the padded range */

    /* deterministic: same (seed, epoch, index) in any order/batching gives the same image */
    int64_t rev[3] = {17, 5, 300};
    float part[48];
    sn_transform_batch(&tf, &ds, rev, 3, 42, 7, part, NULL);
    for (int k = 0; k < 3; k++) CHECK(memcmp(part + 16 * k, out + 16 * rev[k], 64) == 0);
    sn_transform_batch(&tf, &ds, idx, N, 42, 7, out2, NULL);
    CHECK(memcmp(out, out2, sizeof(float) * 16 * N) == 0);
    /* another epoch or seed draws differently */
    sn_transform_batch(&tf, &ds, idx, N, 42, 8, out2, NULL);
    int diff = 0;
    for (int i = 0; i < N; i++) diff += memcmp(out + 16 * i, out2 + 16 * i, 64) != 0;
    CHECK(diff > N / 2);
    sn_transform_batch(&tf, &ds, idx, N, 43, 7, out2, NULL);
    diff = 0;
    for (int i = 0; i < N; i++) diff += memcmp(out + 16 * i, out2 + 16 * i, 64) != 0;
    CHECK(diff > N / 2);

    /* crop smaller than the image without padding: offsets 0..2 */
    tf.crop_padding = 0;
    tf.out_h = tf.out_w = 2;
    CHECK(check_ok(&tf, &ds));
    sn_transform_batch(&tf, &ds, idx, N, 1, 0, out, NULL);
    int seen2[3][3] = {{0}};
    unmatched = 0;
    for (int i = 0; i < N; i++) {
        int oy, ox, f;
        if (!find_window(out + 4 * i, 2, 2, 0, &oy, &ox, &f))
            unmatched++;
        else
            seen2[oy][ox]++;
    }
    CHECK_EQ_INT(unmatched, 0);
    missing = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) missing += seen2[a][b] == 0;
    CHECK_EQ_INT(missing, 0);
    free(idx);
    free(out);
    free(out2);
    free_ds(&ds);
}

static void test_flip(void) {
    const int N = 400;
    sn_dataset ds = make_ds(N, 2, 3, 4, pat_chw);
    sn_transform tf = eval_tf(3, 4);
    tf.train = 1;
    tf.hflip = 1;
    CHECK(check_ok(&tf, &ds));
    int64_t *idx = malloc(sizeof(int64_t) * N);
    for (int i = 0; i < N; i++) idx[i] = i;
    float *out = malloc(sizeof(float) * 24 * N);
    sn_transform_batch(&tf, &ds, idx, N, 5, 0, out, NULL);
    int flipped = 0, plain = 0, other = 0;
    for (int i = 0; i < N; i++) {
        int is_plain = 1, is_flip = 1;
        for (int c = 0; c < 2; c++)
            for (int y = 0; y < 3; y++)
                for (int x = 0; x < 4; x++) {
                    float v = out[24 * i + (c * 3 + y) * 4 + x];
                    is_plain &= v == (float)pat_chw(i, c, y, x);
                    is_flip &= v == (float)pat_chw(i, c, y, 3 - x);
                }
        flipped += is_flip;
        plain += is_plain;
        other += !is_flip && !is_plain;
    }
    CHECK_EQ_INT(other, 0);
    CHECK_MSG(flipped > N / 2 - 60 && flipped < N / 2 + 60, "flipped %d of %d", flipped, N);
    CHECK_EQ_INT(flipped + plain, N);
    /* eval ignores the flag */
    tf.train = 0;
    sn_transform_batch(&tf, &ds, idx, N, 5, 0, out, NULL);
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 4; k++) bad += out[24 * i + k] != (float)pat_chw(i, 0, 0, k);
    CHECK_EQ_INT(bad, 0);
    free(idx);
    free(out);
    free_ds(&ds);
}

static int pat_small(int64_t i, int c, int y, int x) {
    return (int)(i + c * 50 + y * 2 + x);
}

static void test_normalization(void) {
    sn_dataset ds = make_ds(1, 3, 2, 2, pat_small);
    sn_transform tf = eval_tf(2, 2);
    tf.scale = 1.0f / 255.0f;
    tf.nmean = tf.nstd = 3;
    float mean[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    memcpy(tf.mean, mean, sizeof mean);
    memcpy(tf.std, sd, sizeof sd);
    CHECK(check_ok(&tf, &ds));
    float out[12];
    int64_t idx = 0;
    sn_transform_batch(&tf, &ds, &idx, 1, 0, 0, out, NULL);
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 4; k++) {
            float expect = ((float)pat_small(0, c, k / 2, k % 2) / 255.0f - mean[c]) / sd[c];
            CHECK_CLOSE(out[c * 4 + k], expect, 1e-6, 1e-6);
        }
    /* one entry = all channels; mean only */
    tf.nmean = 1;
    tf.nstd = 0;
    tf.mean[0] = 0.5f;
    tf.scale = 1.0f;
    CHECK(check_ok(&tf, &ds));
    sn_transform_batch(&tf, &ds, &idx, 1, 0, 0, out, NULL);
    CHECK_CLOSE(out[4 * 2 + 3], (float)pat_small(0, 2, 1, 1) - 0.5f, 0, 1e-7);
    free_ds(&ds);
}

static int pat_std(int64_t i, int c, int y, int x) {
    static const int v[3][4] = {{0, 2, 4, 6}, {10, 10, 10, 11}, {7, 7, 7, 7}};
    (void)c;
    return v[i][y * 2 + x];
}

static void test_standardization(void) {
    sn_dataset ds = make_ds(3, 1, 2, 2, pat_std);
    sn_transform tf = eval_tf(2, 2);
    tf.per_image_standardization = 1;
    CHECK(check_ok(&tf, &ds));
    float out[12];
    int64_t idx[3] = {0, 1, 2};
    sn_transform_batch(&tf, &ds, idx, 3, 0, 0, out, NULL);
    /* [0 2 4 6]: mean 3, population std sqrt(5) */
    for (int k = 0; k < 4; k++) CHECK_CLOSE(out[k], (2.0 * k - 3.0) / sqrt(5.0), 1e-6, 1e-6);
    /* [10 10 10 11]: mean 10.25, std 0.433 < 1/sqrt(4) = 0.5, so divide by 0.5 */
    CHECK_CLOSE(out[4], -0.5, 1e-6, 0);
    CHECK_CLOSE(out[6], -0.5, 1e-6, 0);
    CHECK_CLOSE(out[7], 1.5, 1e-6, 0);
    /* constant image: all zeros, no NaN */
    for (int k = 8; k < 12; k++) CHECK(out[k] == 0.0f);
    /* standardization happens before normalization */
    tf.nmean = 1;
    tf.nstd = 1;
    tf.mean[0] = 1.0f;
    tf.std[0] = 2.0f;
    sn_transform_batch(&tf, &ds, idx, 1, 0, 0, out, NULL);
    CHECK_CLOSE(out[3], (3.0 / sqrt(5.0) - 1.0) / 2.0, 1e-6, 1e-6);
    free_ds(&ds);
}

static int pat_const100(int64_t i, int c, int y, int x) {
    (void)i;
    (void)c;
    (void)y;
    (void)x;
    return 100;
}

static int pat_two(int64_t i, int c, int y, int x) {
    (void)i;
    (void)y;
    return x ? 60 + 10 * c : 20 + 10 * c; /* channel mean 40 + 10c, half-spread 20 */
}

static void test_brightness_contrast(void) {
    const int N = 500;
    sn_dataset ds = make_ds(N, 3, 2, 2, pat_const100);
    sn_transform tf = eval_tf(2, 2);
    tf.train = 1;
    tf.brightness = 63.0f;
    CHECK(check_ok(&tf, &ds));
    int64_t *idx = malloc(sizeof(int64_t) * N);
    for (int i = 0; i < N; i++) idx[i] = i;
    float *out = malloc(sizeof(float) * 12 * N);
    sn_transform_batch(&tf, &ds, idx, N, 11, 2, out, NULL);
    float lo = 1e9f, hi = -1e9f;
    int inconsistent = 0;
    for (int i = 0; i < N; i++) {
        float d = out[12 * i] - 100.0f;
        for (int k = 1; k < 12; k++) inconsistent += out[12 * i + k] != out[12 * i];
        lo = fminf(lo, d);
        hi = fmaxf(hi, d);
    }
    CHECK_EQ_INT(inconsistent, 0); /* one delta per image */
    CHECK_MSG(lo >= -63.0f && hi <= 63.0f, "delta range [%g, %g]", (double)lo, (double)hi);
    CHECK_MSG(lo < -55.0f && hi > 55.0f, "delta range [%g, %g] too narrow", (double)lo, (double)hi);
    /* brightness is in stored units: times scale */
    tf.scale = 1.0f / 255.0f;
    sn_transform_batch(&tf, &ds, idx, N, 11, 2, out, NULL);
    float hi2 = -1e9f;
    for (int i = 0; i < N; i++) hi2 = fmaxf(hi2, out[12 * i] - 100.0f / 255.0f);
    CHECK_CLOSE(hi2, hi / 255.0f, 1e-5, 0);
    free_ds(&ds);

    /* contrast: per-channel mean is kept, spread scales by f in [0.2, 1.8] */
    ds = make_ds(N, 3, 2, 2, pat_two);
    tf = eval_tf(2, 2);
    tf.train = 1;
    tf.contrast_lo = 0.2f;
    tf.contrast_hi = 1.8f;
    CHECK(check_ok(&tf, &ds));
    sn_transform_batch(&tf, &ds, idx, N, 3, 0, out, NULL);
    float flo = 1e9f, fhi = -1e9f;
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float f0 = (out[12 * i + 1] - out[12 * i]) / 40.0f;
        for (int c = 0; c < 3; c++) {
            const float *p = out + 12 * i + 4 * c;
            float m = (p[0] + p[1] + p[2] + p[3]) / 4.0f;
            bad += fabsf(m - (40.0f + 10.0f * (float)c)) > 1e-4f;
            bad += fabsf((p[1] - p[0]) / 40.0f - f0) > 1e-5f; /* same factor for all channels */
        }
        flo = fminf(flo, f0);
        fhi = fmaxf(fhi, f0);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_MSG(flo >= 0.2f - 1e-6f && fhi <= 1.8f + 1e-6f, "factor range [%g, %g]", (double)flo,
              (double)fhi);
    CHECK_MSG(flo < 0.3f && fhi > 1.7f, "factor range [%g, %g] too narrow", (double)flo,
              (double)fhi);
    free(idx);
    free(out);
    free_ds(&ds);
}

/* The seed-001 CIFAR-10 recipe on 32x32 images: 24x24 crops, standardized. */
static int pat_noise(int64_t i, int c, int y, int x) {
    return (int)((i * 7919 + c * 104729 + y * 1299709 + x * 15485863) % 251);
}

static void test_spec_recipe(void) {
    sn_dataset ds = make_ds(8, 3, 32, 32, pat_noise);
    sn_transform tf = eval_tf(24, 24);
    tf.train = 1;
    tf.random_crop = 1;
    tf.hflip = 1;
    tf.brightness = 63.0f;
    tf.contrast_lo = 0.2f;
    tf.contrast_hi = 1.8f;
    tf.per_image_standardization = 1;
    CHECK(check_ok(&tf, &ds));
    int64_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    static float out[8 * 3 * 24 * 24];
    sn_transform_batch(&tf, &ds, idx, 8, 1, 0, out, NULL);
    for (int i = 0; i < 8; i++) {
        double s = 0, ss = 0;
        for (int k = 0; k < 3 * 576; k++) {
            s += out[i * 1728 + k];
            ss += (double)out[i * 1728 + k] * out[i * 1728 + k];
        }
        CHECK_CLOSE(s / 1728, 0.0, 1e-4, 0);
        CHECK_CLOSE(ss / 1728, 1.0, 1e-3, 0);
    }
    free_ds(&ds);
}

static void expect_check_err(const sn_transform *tf, const sn_dataset *ds, const char *sub) {
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_transform_check(tf, ds, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, sub);
}

static void test_checks(void) {
    sn_dataset ds = make_ds(1, 3, 32, 32, pat_noise);
    snprintf(ds.source, sizeof ds.source, "data/cifar");
    sn_transform tf = eval_tf(33, 24);
    expect_check_err(&tf, &ds, "center crop 33x24 is larger than the 32x32 images of data/cifar");
    tf = eval_tf(36, 36);
    tf.train = tf.random_crop = 1;
    tf.crop_padding = 1;
    expect_check_err(&tf, &ds,
                     "random crop 36x36 is larger than the 32x32 images of data/cifar "
                     "padded by 1 (34x34)");
    tf.crop_padding = 2;
    CHECK(check_ok(&tf, &ds));
    tf.crop_padding = -1;
    expect_check_err(&tf, &ds, "crop padding -1");
    tf = eval_tf(0, 24);
    expect_check_err(&tf, &ds, "must be positive");
    tf = eval_tf(24, 24);
    tf.scale = 0;
    expect_check_err(&tf, &ds, "scale 0 must be a positive number");
    tf = eval_tf(24, 24);
    tf.nmean = 2;
    expect_check_err(&tf, &ds, "2 mean value(s); expected 0, 1 or one per channel (3)");
    tf.nmean = 5;
    expect_check_err(&tf, &ds, "5 mean value(s)");
    tf = eval_tf(24, 24);
    tf.nstd = 3;
    tf.std[0] = tf.std[2] = 1.0f;
    tf.std[1] = 0.0f;
    expect_check_err(&tf, &ds, "std[1] = 0 must be positive");
    tf.std[1] = -2.0f;
    expect_check_err(&tf, &ds, "std[1] = -2 must be positive");
    tf.std[1] = NAN;
    expect_check_err(&tf, &ds, "std[1]");
    tf = eval_tf(24, 24);
    tf.nmean = 1;
    tf.mean[0] = INFINITY;
    expect_check_err(&tf, &ds, "mean[0] is not a finite number");
    tf = eval_tf(24, 24);
    tf.train = 1;
    tf.contrast_lo = 1.8f;
    tf.contrast_hi = 0.2f;
    expect_check_err(&tf, &ds, "contrast range [1.8, 0.2]");
    tf.contrast_lo = -0.5f;
    tf.contrast_hi = 1.0f;
    expect_check_err(&tf, &ds, "contrast range");
    tf.contrast_lo = tf.contrast_hi = 0;
    tf.brightness = -1;
    expect_check_err(&tf, &ds, "brightness -1");
    tf = eval_tf(24, 24);
    tf.nmean = tf.nstd = 1;
    tf.mean[0] = 0.5f;
    tf.std[0] = 0.25f;
    CHECK(check_ok(&tf, &ds));
    sn_dataset empty;
    memset(&empty, 0, sizeof empty);
    expect_check_err(&tf, &empty, "no images");
    free_ds(&ds);
}

int main(void) {
    RUN(test_center_crop);
    RUN(test_random_crop);
    RUN(test_flip);
    RUN(test_normalization);
    RUN(test_standardization);
    RUN(test_brightness_contrast);
    RUN(test_spec_recipe);
    RUN(test_checks);
    return sn_test_result();
}
