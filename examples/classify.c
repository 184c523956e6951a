/* classify: runs an snnc artifact on a file of images and prints the top classes.
 *
 *   snnc compile models/vgg16_cifar10.yaml --emit lib --weights W.safetensors -o out
 *   cc -O2 -I out examples/classify.c out/libvgg16_cifar10.a -lm -lpthread -o classify
 *   ./classify --cifar cifar-10-batches-bin/test_batch.bin --limit 10
 *
 * It is written against snnc_model.h (the artifact under generic names), so it builds
 * against any artifact; the image formats are in images.h. No snnc, LLVM or libyaml is
 * involved: the artifact is all it links. */
#include "snnc_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "images.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: classify (--cifar FILE | --idx FILE [--labels FILE] | --u8 FILE | --f32 "
            "FILE) [options]\n"
            "Runs the artifact " SNNC_MODEL_NAME " (%d images per run) and prints each image's top "
            "classes.\n"
            "  --limit N           the first N images only\n"
            "  --top K             classes printed per image (default 3)\n"
            "  --threads N         worker threads (default: one per core)\n"
            "  --weights FILE      safetensors weights instead of the embedded ones\n"
            "  --variant NAME      force a CPU variant (" SNNC_VARIANTS ")\n"
            "  --seed S            seed of stochastic encoders, per batch as 'snnc eval --seed S'\n"
            "  --dump-logits FILE  write the scores as float32 [images][%d]\n"
            "  --quiet             only the summary\n",
            SNNC_BATCH, SNNC_CLASSES);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *kind = NULL, *path = NULL, *labels = NULL, *dump = NULL;
    snnc_options opt = {0, NULL, NULL};
    size_t limit = 0;
    int top = 3, quiet = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "classify: %s needs a value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--cifar") || !strcmp(a, "--idx") || !strcmp(a, "--u8") ||
            !strcmp(a, "--f32")) {
            kind = a + 2;
            path = v;
        } else if (!strcmp(a, "--labels")) {
            labels = v;
        } else if (!strcmp(a, "--limit")) {
            limit = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--top")) {
            top = atoi(v);
        } else if (!strcmp(a, "--threads")) {
            opt.threads = atoi(v);
        } else if (!strcmp(a, "--weights")) {
            opt.weights_path = v;
        } else if (!strcmp(a, "--variant")) {
            opt.variant = v;
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--dump-logits")) {
            dump = v;
        } else {
            fprintf(stderr, "classify: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (top < 1) top = 1;
    if (top > SNNC_CLASSES) top = SNNC_CLASSES;

    char err[1024];
    snnc_ctx *ctx = NULL;
    double t0 = now();
    if (snnc_create(&ctx, &opt, err, sizeof err) != SNNC_OK) {
        fprintf(stderr, "classify: %s\n", err);
        return 1;
    }
    double t_create = now() - t0;
    images im;
    if (load_images(ctx, kind, path, labels, limit, &im)) {
        snnc_free(ctx);
        return 2;
    }
    float *scores = malloc(im.n * SNNC_CLASSES * sizeof(float));
    if (!scores) {
        fprintf(stderr, "classify: out of memory\n");
        return 1;
    }
    size_t correct = 0;
    double t_run = 0;
    int rc = 0;
    for (size_t start = 0; start < im.n && rc == 0; start += SNNC_BATCH) {
        size_t nb = im.n - start < SNNC_BATCH ? im.n - start : SNNC_BATCH;
        snnc_set_seed(ctx, snnc_batch_seed(seed, start));
        double t1 = now();
        if (snnc_run(ctx, im.input + start * SNNC_IMAGE_FLOATS, nb * SNNC_IMAGE_FLOATS,
                     scores + start * SNNC_CLASSES, nb * SNNC_CLASSES) != SNNC_OK) {
            fprintf(stderr, "classify: images %zu..%zu: %s\n", start, start + nb - 1,
                    snnc_error(ctx));
            rc = 1;
            break;
        }
        t_run += now() - t1;
    }
    for (size_t i = 0; i < im.n && rc == 0; i++) {
        const float *s = scores + i * SNNC_CLASSES;
        int best[SNNC_CLASSES];
        int nbest = 0;
        for (int k = 0; k < top; k++) { /* the k-th best: first index among equals */
            int b = -1;
            for (int c = 0; c < SNNC_CLASSES; c++) {
                int taken = 0;
                for (int j = 0; j < nbest; j++) taken |= best[j] == c;
                if (!taken && (b < 0 || s[c] > s[b])) b = c;
            }
            best[nbest++] = b;
        }
        if (im.labels && best[0] == im.labels[i]) correct++;
        if (quiet) continue;
        printf("image %zu", i);
        if (im.labels) printf(" (label %d)", im.labels[i]);
        printf(":");
        for (int k = 0; k < nbest; k++) printf(" %d (%.4g)", best[k], (double)s[best[k]]);
        printf("\n");
    }
    if (rc == 0) {
        printf("%s, variant %s: %zu images, create %.1f ms, run %.1f ms (%.1f images/s)",
               SNNC_MODEL_NAME, snnc_variant(ctx), im.n, 1e3 * t_create, 1e3 * t_run,
               t_run > 0 ? (double)im.n / t_run : 0.0);
        if (im.labels) printf(", top-1 %.2f%%", 100.0 * (double)correct / (double)im.n);
        printf("\n");
    }
    if (rc == 0 && dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(scores, sizeof(float), im.n * SNNC_CLASSES, f) != im.n * SNNC_CLASSES) {
            perror(dump);
            rc = 1;
        }
        if (f && fclose(f) != 0) rc = 1;
    }
    free(scores);
    free_images(&im);
    snnc_free(ctx);
    return rc;
}
