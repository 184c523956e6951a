/* Times an snnc artifact from C, for bench/artifact_vs_ort.py (built against the
 * artifact's snnc_model.h with the system C compiler):
 *
 *   artifact_bench --startup [--threads N]
 *       one process, one measurement: create + first run of a full batch (JSON)
 *   artifact_bench --iters N [--rounds R] [--threads N] [--input FILE]
 *       R rounds of N timed runs of a full batch after a warm-up run: every run's latency
 *       (JSON); with --input, the scores of that float32 input are written to --output
 *
 * Inputs are uniform in [0, 1) from a fixed seed unless --input gives them. */
#include "snnc_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int startup = 0, iters = 20, rounds = 1;
    snnc_options o = {0, NULL, NULL};
    const char *input = NULL, *output = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--startup"))
            startup = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--iters"))
            iters = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            o.threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--variant"))
            o.variant = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--input"))
            input = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--output"))
            output = argv[++i];
        else {
            fprintf(stderr, "usage: artifact_bench [--startup] [--iters N] [--rounds R] "
                            "[--threads N] [--variant V] [--input F32 --output F32]\n");
            return 2;
        }
    }
    float *x = malloc(SNNC_INPUT_FLOATS * sizeof(float));
    float *y = malloc(SNNC_OUTPUT_FLOATS * sizeof(float));
    if (!x || !y) return 1;
    uint64_t s = 12345;
    for (size_t i = 0; i < SNNC_INPUT_FLOATS; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)(s >> 40) / 16777216.0f;
    }
    if (input) {
        FILE *f = fopen(input, "rb");
        if (!f || fread(x, sizeof(float), SNNC_INPUT_FLOATS, f) != SNNC_INPUT_FLOATS) {
            fprintf(stderr, "artifact_bench: %s: cannot read %d floats\n", input,
                    SNNC_INPUT_FLOATS);
            return 2;
        }
        fclose(f);
    }
    char err[1024];
    snnc_ctx *c = NULL;
    double t0 = now();
    if (snnc_create(&c, &o, err, sizeof err) != SNNC_OK) {
        fprintf(stderr, "artifact_bench: %s\n", err);
        return 1;
    }
    double t1 = now();
    if (snnc_run(c, x, SNNC_INPUT_FLOATS, y, SNNC_OUTPUT_FLOATS) != SNNC_OK) {
        fprintf(stderr, "artifact_bench: %s\n", snnc_error(c));
        return 1;
    }
    double t2 = now();
    if (startup) {
        printf("{\"model\": \"%s\", \"batch\": %d, \"variant\": \"%s\", \"create_ms\": %.3f, "
               "\"first_run_ms\": %.3f, \"startup_ms\": %.3f}\n",
               SNNC_MODEL_NAME, SNNC_BATCH, snnc_variant(c), 1e3 * (t1 - t0), 1e3 * (t2 - t1),
               1e3 * (t2 - t0));
        snnc_free(c);
        return 0;
    }
    if (output) {
        FILE *f = fopen(output, "wb");
        if (!f || fwrite(y, sizeof(float), SNNC_OUTPUT_FLOATS, f) != SNNC_OUTPUT_FLOATS ||
            fclose(f) != 0) {
            fprintf(stderr, "artifact_bench: cannot write %s\n", output);
            return 1;
        }
    }
    printf("{\"model\": \"%s\", \"batch\": %d, \"variant\": \"%s\", \"latency_ms\": [", SNNC_MODEL_NAME,
           SNNC_BATCH, snnc_variant(c));
    for (int r = 0; r < rounds * iters; r++) {
        double a = now();
        if (snnc_run(c, x, SNNC_INPUT_FLOATS, y, SNNC_OUTPUT_FLOATS) != SNNC_OK) {
            fprintf(stderr, "artifact_bench: %s\n", snnc_error(c));
            return 1;
        }
        printf("%s%.4f", r ? ", " : "", 1e3 * (now() - a));
    }
    printf("]}\n");
    snnc_free(c);
    free(x);
    free(y);
    return 0;
}
