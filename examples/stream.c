/* stream: runs a spiking snnc artifact one time step at a time.
 *
 *   snnc compile models/lif_fc_mnist.yaml --emit lib --weights W.safetensors -o out
 *   cc -O2 -I out examples/stream.c out/liblif_fc_mnist.a -lm -lpthread -o stream
 *   ./stream --idx mnist/t10k-images-idx3-ubyte --labels mnist/t10k-labels-idx1-ubyte
 *
 * For each batch of images it starts a sequence (snnc_reset) and feeds the time steps one
 * by one (snnc_step); the membrane potentials stay in the context between calls, and after
 * each step the scores are the readout so far. It reports, per image, the step from which
 * its predicted class no longer changed (how early a decision could be taken), and with
 * --check verifies that the streamed scores after T steps equal a whole run's (snnc_run)
 * bit for bit. The same input is fed at every step here; a program may feed each step its
 * own (a recorded event stream, say). */
#include "snnc_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: stream (--cifar FILE | --idx FILE [--labels FILE] | --u8 FILE | --f32 FILE) "
            "[options]\n"
            "Streams the spiking artifact " SNNC_MODEL_NAME
            " (%d time steps, %d images per sequence) step by step.\n"
            "  --limit N           the first N images only\n"
            "  --threads N         worker threads (default: one per core)\n"
            "  --weights FILE      safetensors weights instead of the embedded ones\n"
            "  --variant NAME      force a CPU variant (" SNNC_VARIANTS ")\n"
            "  --seed S            seed of stochastic encoders, per batch as 'snnc eval --seed S'\n"
            "  --every K           print image 0's scores every K steps of each sequence\n"
            "  --check             also run each batch whole and require identical scores\n"
            "  --dump-logits FILE  write the final scores as float32 [images][%d]\n"
            "  --quiet             only the summary\n",
            SNNC_TIME_STEPS, SNNC_BATCH, SNNC_CLASSES);
}

static int argmax(const float *s) {
    int b = 0;
    for (int c = 1; c < SNNC_CLASSES; c++)
        if (s[c] > s[b]) b = c;
    return b;
}

int main(int argc, char **argv) {
    const char *kind = NULL, *path = NULL, *labels = NULL, *dump = NULL;
    snnc_options opt = {0, NULL, NULL};
    size_t limit = 0;
    int every = 0, check = 0, quiet = 0;
    unsigned long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--check")) {
            check = 1;
            continue;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "stream: %s needs a value (see --help)\n", a);
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
        } else if (!strcmp(a, "--threads")) {
            opt.threads = atoi(v);
        } else if (!strcmp(a, "--weights")) {
            opt.weights_path = v;
        } else if (!strcmp(a, "--variant")) {
            opt.variant = v;
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--every")) {
            every = atoi(v);
        } else if (!strcmp(a, "--dump-logits")) {
            dump = v;
        } else {
            fprintf(stderr, "stream: unknown option %s (see --help)\n", a);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (!SNNC_STREAMING) {
        fprintf(stderr, "stream: %s cannot stream (not spiking, or compiled --schedule layer)\n",
                SNNC_MODEL_NAME);
        return 2;
    }
    char err[1024];
    snnc_ctx *ctx = NULL;
    if (snnc_create(&ctx, &opt, err, sizeof err) != SNNC_OK) {
        fprintf(stderr, "stream: %s\n", err);
        return 1;
    }
    images im;
    if (load_images(ctx, kind, path, labels, limit, &im)) {
        snnc_free(ctx);
        return 2;
    }
    float *scores = malloc(im.n * SNNC_CLASSES * sizeof(float));
    float *whole = malloc(SNNC_OUTPUT_FLOATS * sizeof(float));
    int *last = malloc(SNNC_BATCH * sizeof(int));
    int *stable = malloc(SNNC_BATCH * sizeof(int));
    if (!scores || !whole || !last || !stable) {
        fprintf(stderr, "stream: out of memory\n");
        return 1;
    }
    size_t correct = 0, mismatches = 0;
    double stable_sum = 0;
    int rc = 0;
    for (size_t start = 0; start < im.n && rc == 0; start += SNNC_BATCH) {
        size_t nb = im.n - start < SNNC_BATCH ? im.n - start : SNNC_BATCH;
        const float *x = im.input + start * SNNC_IMAGE_FLOATS;
        float *y = scores + start * SNNC_CLASSES;
        snnc_set_seed(ctx, snnc_batch_seed(seed, start));
        snnc_reset(ctx);
        for (int t = 0; t < SNNC_TIME_STEPS; t++) {
            if (snnc_step(ctx, x, nb * SNNC_IMAGE_FLOATS, y, nb * SNNC_CLASSES) != SNNC_OK) {
                fprintf(stderr, "stream: images %zu.., step %d: %s\n", start, t, snnc_error(ctx));
                rc = 1;
                break;
            }
            for (size_t i = 0; i < nb; i++) {
                int c = argmax(y + i * SNNC_CLASSES);
                if (t == 0 || c != last[i]) stable[i] = t;
                last[i] = c;
            }
            if (!quiet && every > 0 && (t % every == 0 || t == SNNC_TIME_STEPS - 1)) {
                printf("images %zu..: step %d: image %zu scores", start, t, start);
                for (int c = 0; c < SNNC_CLASSES; c++) printf(" %.3g", (double)y[c]);
                printf("\n");
            }
        }
        if (rc) break;
        for (size_t i = 0; i < nb; i++) {
            stable_sum += stable[i];
            if (im.labels && last[i] == im.labels[start + i]) correct++;
            if (!quiet)
                printf("image %zu: class %d, stable from step %d of %d\n", start + i, last[i],
                       stable[i], SNNC_TIME_STEPS);
        }
        if (check) {
            if (snnc_run(ctx, x, nb * SNNC_IMAGE_FLOATS, whole, nb * SNNC_CLASSES) != SNNC_OK) {
                fprintf(stderr, "stream: %s\n", snnc_error(ctx));
                rc = 1;
                break;
            }
            if (memcmp(whole, y, nb * SNNC_CLASSES * sizeof(float)) != 0) mismatches += nb;
        }
    }
    if (rc == 0) {
        printf("%s, variant %s: %zu images streamed over %d steps, decisions stable from step "
               "%.1f on average",
               SNNC_MODEL_NAME, snnc_variant(ctx), im.n, SNNC_TIME_STEPS,
               im.n ? stable_sum / (double)im.n : 0.0);
        if (im.labels) printf(", top-1 %.2f%%", 100.0 * (double)correct / (double)im.n);
        printf("\n");
        if (check) {
            printf("streamed == whole run: %s\n", mismatches ? "NO" : "identical, bit for bit");
            if (mismatches) rc = 1;
        }
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
    free(whole);
    free(last);
    free(stable);
    free_images(&im);
    snnc_free(ctx);
    return rc;
}
