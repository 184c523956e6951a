/* Image input for the examples: reads a batch file and turns it into the model's input
 * floats with the artifact's own preprocessing (snnc_preprocess), so the numbers are the
 * ones 'snnc eval' computes for the same images.
 *
 *   --cifar FILE  CIFAR-10 binary records: 1 label byte + 3x32x32 pixels (a model taking
 *                 smaller images gets their centre crop); for models that are not 3-channel,
 *                 records of 1 label byte + the model's C*H*W pixels
 *   --idx FILE    MNIST IDX3 images (uint8 [n][rows][cols]); --labels FILE: IDX1 labels
 *   --u8 FILE     raw uint8 images [n][C][H][W]
 *   --f32 FILE    raw float32 input [n][C][H][W], already preprocessed
 *
 * Include after snnc_model.h. */
#ifndef SNNC_EXAMPLE_IMAGES_H
#define SNNC_EXAMPLE_IMAGES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct images {
    size_t n;     /* images */
    float *input; /* n * SNNC_IMAGE_FLOATS */
    int *labels;  /* n labels, or NULL */
} images;

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        perror(path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = len;
    return buf;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* kind: "cifar", "idx", "u8" or "f32". Returns 0, or 1 with a message on stderr. */
static int load_images(snnc_ctx *ctx, const char *kind, const char *path, const char *labels_path,
                       size_t limit, images *out) {
    memset(out, 0, sizeof *out);
    size_t size = 0;
    unsigned char *data = read_all(path, &size);
    if (!data) return 1;
    const size_t C = SNNC_CHANNELS, H = SNNC_HEIGHT, W = SNNC_WIDTH;
    size_t per = C * H * W, n = 0, h = H, w = W;
    const unsigned char *pixels = NULL;
    int rc = 1;
    if (!strcmp(kind, "f32")) {
        if (size == 0 || size % (per * sizeof(float))) {
            fprintf(stderr, "%s: %zu bytes is not a whole number of %zu-float images\n", path, size,
                    per);
            goto done;
        }
        n = size / (per * sizeof(float));
        if (limit && limit < n) n = limit;
        out->input = malloc(n * per * sizeof(float));
        if (!out->input) goto oom;
        memcpy(out->input, data, n * per * sizeof(float));
        out->n = n;
        rc = 0;
        goto done;
    }
    if (!strcmp(kind, "cifar")) {
        if (C == 3 && H <= 32 && W <= 32) h = w = 32; /* CIFAR-10 proper: centre-cropped */
        size_t rec = C * h * w;
        if (size == 0 || size % (rec + 1)) {
            fprintf(stderr,
                    "%s: %zu bytes is not a whole number of %zu-byte records (label + "
                    "%zux%zux%zu pixels)\n",
                    path, size, rec + 1, C, h, w);
            goto done;
        }
        n = size / (rec + 1);
        if (limit && limit < n) n = limit;
        unsigned char *px = malloc(n * rec);
        out->labels = malloc(n * sizeof(int));
        if (!px || !out->labels) {
            free(px);
            goto oom;
        }
        for (size_t i = 0; i < n; i++) {
            out->labels[i] = data[i * (rec + 1)];
            memcpy(px + i * rec, data + i * (rec + 1) + 1, rec);
        }
        free(data);
        data = px; /* freed below */
        pixels = px;
    } else if (!strcmp(kind, "idx")) {
        if (size < 16 || be32(data) != 0x803) {
            fprintf(stderr, "%s: not an IDX3 image file\n", path);
            goto done;
        }
        n = be32(data + 4);
        h = be32(data + 8);
        w = be32(data + 12);
        if (C != 1 || h == 0 || w == 0 || (size - 16) / (h * w) < n) {
            fprintf(stderr, "%s: %zu images of %zux%zu do not fit the file or the model\n", path, n,
                    h, w);
            goto done;
        }
        if (limit && limit < n) n = limit;
        pixels = data + 16;
        if (labels_path) {
            size_t ls = 0;
            unsigned char *lab = read_all(labels_path, &ls);
            if (!lab) goto done;
            if (ls < 8 || be32(lab) != 0x801 || be32(lab + 4) < n || ls - 8 < n) {
                fprintf(stderr, "%s: not an IDX1 label file for %zu images\n", labels_path, n);
                free(lab);
                goto done;
            }
            out->labels = malloc(n * sizeof(int));
            if (!out->labels) {
                free(lab);
                goto oom;
            }
            for (size_t i = 0; i < n; i++) out->labels[i] = lab[8 + i];
            free(lab);
        }
    } else if (!strcmp(kind, "u8")) {
        if (size == 0 || size % per) {
            fprintf(stderr, "%s: %zu bytes is not a whole number of %zu-byte images\n", path, size,
                    per);
            goto done;
        }
        n = size / per;
        if (limit && limit < n) n = limit;
        pixels = data;
    } else {
        fprintf(stderr, "unknown input kind %s\n", kind);
        goto done;
    }
    out->input = malloc(n * per * sizeof(float));
    if (!out->input) goto oom;
    if (snnc_preprocess(ctx, pixels, n, C, h, w, out->input, n * per) != SNNC_OK) {
        fprintf(stderr, "%s: %s\n", path, snnc_error(ctx));
        goto done;
    }
    out->n = n;
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "%s: out of memory\n", path);
done:
    free(data);
    if (rc) {
        free(out->input);
        free(out->labels);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

static void free_images(images *im) {
    free(im->input);
    free(im->labels);
    memset(im, 0, sizeof *im);
}

#endif
