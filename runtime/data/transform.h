/* Turning stored uint8 images into the float batches a model consumes.
 *
 * Order of operations per image (training adds the random ones):
 *   1. crop: evaluation takes the central out_h x out_w window (images must be at least
 *      that large); training with random_crop takes a uniformly random window, after
 *      zero-padding each side by crop_padding pixels (padding 0 and equal sizes = no crop);
 *   2. horizontal flip with probability 1/2 (training, hflip);
 *   3. to float: v = pixel * scale;
 *   4. brightness: v += delta, delta ~ U[-brightness, +brightness] * scale (training);
 *   5. contrast: v = (v - m_c) * f + m_c, f ~ U[contrast_lo, contrast_hi], m_c the mean of
 *      channel c of this image (training; tf.image.random_contrast);
 *   6. per-image standardization: v = (v - mean) / max(std, 1/sqrt(numel)) over the whole
 *      image (tf.image.per_image_standardization), if enabled;
 *   7. normalization: v = (v - mean[c]) / std[c], if nmean/nstd > 0 (1 entry = all channels).
 * Random draws are a pure function of (seed, epoch, image index), so a batch can be
 * prepared on any thread, in any order, and a resumed run sees the same augmentation. */
#ifndef SN_TRANSFORM_H
#define SN_TRANSFORM_H

#include <stdint.h>

#include "dataset.h"

typedef struct sn_transform {
    int out_h, out_w;
    float scale;
    int nmean, nstd;
    float mean[4], std[4];
    int per_image_standardization;
    /* training-only augmentation */
    int train;
    int random_crop;
    int crop_padding;
    int hflip;
    float brightness;               /* in stored pixel units (0..255); 0 = off */
    float contrast_lo, contrast_hi; /* 0,0 = off */
} sn_transform;

/* Checks the transform against the dataset (crop sizes fit, channel counts of mean/std). */
sn_code sn_transform_check(const sn_transform *tf, const sn_dataset *ds, sn_status *st);

/* Writes n images ds[indices[i]] as floats [n, c, out_h, out_w] and their labels. */
void sn_transform_batch(const sn_transform *tf, const sn_dataset *ds, const int64_t *indices,
                        int64_t n, uint64_t seed, uint64_t epoch, float *out, int32_t *labels);

#endif
