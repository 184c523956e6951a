/* API checks of an artifact, built by tests/cli/test_artifact.sh against any artifact's
 * snnc_model.h with the system C compiler:
 *
 *   api_check [--poisson] [--wrong-weights FILE] [--truncated-weights FILE]
 *             [--good-weights FILE] [--threads N]
 *
 * Every misuse gives its error code and a message, never a crash: NULL pointers, wrong
 * input and output sizes, bad options, weights files for another model or truncated,
 * streaming past T or on a model that cannot stream, input values a Poisson encoder
 * rejects. Several contexts run concurrently from threads and give exactly the results of
 * one context run serially; two threads sharing one context never corrupt a result. A
 * short batch equals the same images in a full one; streaming equals a whole run. Exits 1
 * on the first failed check (printing it), else prints "api_check: N checks passed". */
#include "snnc_model.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "api_check: FAILED at line %d: %s: ", __LINE__, #cond);                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t rng_state = 88172645463325252ull;
static float urand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)(rng_state >> 40) / 16777216.0f;
}

/* inputs in [0, 1) (what a Poisson encoder takes; fine for the others) */
static void fill(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = urand();
}

static snnc_ctx *open_ctx(const snnc_options *o) {
    char err[2048];
    snnc_ctx *c = NULL;
    int rc = snnc_create(&c, o, err, sizeof err);
    EXPECT(rc == SNNC_OK && c, "create failed: %d %s", rc, err);
    return c;
}

static int expect_create_fails(const snnc_options *o, int code, const char *text) {
    char err[2048] = "untouched";
    snnc_ctx *c = (snnc_ctx *)&err; /* must be reset to NULL */
    int rc = snnc_create(&c, o, err, sizeof err);
    EXPECT(rc == code, "create returned %d (want %d): %s", rc, code, err);
    EXPECT(c == NULL, "a failed create left a context");
    EXPECT(strstr(err, text) != NULL, "the message lacks '%s': %s", text, err);
    printf("  create fails as expected (%s): %s\n", snnc_strerror(code), err);
    return 0;
}

#define RUNS 6
#define CTXS 4
typedef struct job {
    snnc_ctx *ctx;
    const float *in;
    float *out;
    int rc;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (int r = 0; r < RUNS && j->rc == SNNC_OK; r++)
        j->rc = snnc_run(j->ctx, j->in + (size_t)r * SNNC_INPUT_FLOATS, SNNC_INPUT_FLOATS,
                         j->out + (size_t)r * SNNC_OUTPUT_FLOATS, SNNC_OUTPUT_FLOATS);
    return NULL;
}

typedef struct shared_job {
    snnc_ctx *ctx;
    const float *in, *want;
    int ok, busy, wrong, other;
} shared_job;

static void *hammer(void *arg) {
    shared_job *j = arg;
    float *out = malloc(SNNC_OUTPUT_FLOATS * sizeof(float));
    for (int r = 0; r < 200; r++) {
        int rc = snnc_run(j->ctx, j->in, SNNC_INPUT_FLOATS, out, SNNC_OUTPUT_FLOATS);
        if (rc == SNNC_OK) {
            j->ok++;
            if (memcmp(out, j->want, SNNC_OUTPUT_FLOATS * sizeof(float)) != 0) j->wrong++;
        } else if (rc == SNNC_ERR_STATE) {
            j->busy++;
        } else {
            j->other++;
        }
    }
    free(out);
    return NULL;
}

int main(int argc, char **argv) {
    const char *wrong = NULL, *truncated = NULL, *good = NULL;
    int poisson = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--poisson"))
            poisson = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--wrong-weights"))
            wrong = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--truncated-weights"))
            truncated = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--good-weights"))
            good = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "api_check: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    printf("api_check on %s (batch %d, %d classes, T %d, streaming %d, variants %s)\n",
           SNNC_MODEL_NAME, SNNC_BATCH, SNNC_CLASSES, SNNC_TIME_STEPS, SNNC_STREAMING,
           SNNC_VARIANTS);

    /* the sizes at run time agree with the header */
    snnc_info info;
    EXPECT(snnc_get_info(NULL) == SNNC_ERR_ARG, "get_info(NULL)");
    EXPECT(snnc_get_info(&info) == SNNC_OK, "get_info");
    EXPECT(!strcmp(info.name, SNNC_MODEL_NAME) && info.batch == SNNC_BATCH &&
               info.channels == SNNC_CHANNELS && info.height == SNNC_HEIGHT &&
               info.width == SNNC_WIDTH && info.classes == SNNC_CLASSES &&
               info.time_steps == SNNC_TIME_STEPS && info.streaming == SNNC_STREAMING &&
               info.image_floats == SNNC_IMAGE_FLOATS && info.input_floats == SNNC_INPUT_FLOATS &&
               info.output_floats == SNNC_OUTPUT_FLOATS &&
               info.weights_embedded == SNNC_WEIGHTS_EMBEDDED &&
               (uint64_t)info.weight_bytes == SNNC_WEIGHT_BYTES,
           "info disagrees with the header");
    for (int c = 0; c <= SNNC_ERR_ARTIFACT; c++)
        EXPECT(snnc_strerror(c) && *snnc_strerror(c), "strerror(%d)", c);
    EXPECT(strstr(snnc_strerror(99), "unknown") != NULL, "strerror(99)");

    /* bad creates */
    EXPECT(snnc_create(NULL, NULL, NULL, 0) == SNNC_ERR_ARG, "create(NULL)");
    snnc_options o = {-1, NULL, NULL};
    expect_create_fails(&o, SNNC_ERR_ARG, "threads");
    snnc_options ov = {1, NULL, "no-such-cpu"};
    expect_create_fails(&ov, SNNC_ERR_ARG, "no variant named");
    snnc_options ow = {1, "/nonexistent/weights.safetensors", NULL};
    expect_create_fails(&ow, SNNC_ERR_WEIGHTS, "No such file");
    if (wrong) {
        snnc_options x = {1, wrong, NULL};
        expect_create_fails(&x, SNNC_ERR_WEIGHTS, "does not fit");
    }
    if (truncated) {
        snnc_options x = {1, truncated, NULL};
        expect_create_fails(&x, SNNC_ERR_WEIGHTS, "truncated");
    }
    if (!SNNC_WEIGHTS_EMBEDDED) {
        snnc_options x = {1, NULL, NULL};
        expect_create_fails(&x, SNNC_ERR_WEIGHTS, "holds no weights");
    }

    /* a good context */
    snnc_options og = {threads, good, NULL};
    snnc_ctx *c = open_ctx(&og);
    printf("  variant %s\n", snnc_variant(c));
    size_t nin = SNNC_INPUT_FLOATS, nout = SNNC_OUTPUT_FLOATS;
    float *x = malloc(RUNS * CTXS * nin * sizeof(float));
    float *y = malloc(RUNS * CTXS * nout * sizeof(float));
    float *y2 = malloc(RUNS * CTXS * nout * sizeof(float));
    EXPECT(x && y && y2, "out of memory");
    fill(x, RUNS * CTXS * nin);

    /* bad runs */
    EXPECT(snnc_run(NULL, x, nin, y, nout) == SNNC_ERR_ARG, "run(NULL ctx)");
    EXPECT(snnc_run(c, NULL, nin, y, nout) == SNNC_ERR_ARG, "run(NULL input)");
    EXPECT(strstr(snnc_error(c), "NULL") != NULL, "message: %s", snnc_error(c));
    EXPECT(snnc_run(c, x, nin, NULL, nout) == SNNC_ERR_ARG, "run(NULL output)");
    EXPECT(snnc_run(c, x, 0, y, nout) == SNNC_ERR_SIZE, "run(0 floats)");
    EXPECT(snnc_run(c, x, nin - 1, y, nout) == SNNC_ERR_SIZE, "run(a partial image)");
    EXPECT(strstr(snnc_error(c), "floats") != NULL, "message: %s", snnc_error(c));
    EXPECT(snnc_run(c, x, nin + SNNC_IMAGE_FLOATS, y, nout + SNNC_CLASSES) == SNNC_ERR_SIZE,
           "run(batch + 1 images)");
    EXPECT(snnc_run(c, x, nin, y, nout - 1) == SNNC_ERR_SIZE, "run(output too small)");
    EXPECT(snnc_run(c, x, nin, y, nout) == SNNC_OK, "run: %s", snnc_error(c));
    EXPECT(snnc_error(c)[0] == '\0', "a success leaves a message: %s", snnc_error(c));
    printf("  bad sizes and NULL pointers rejected\n");

    /* preprocess */
    uint8_t px[3 * 64 * 64];
    memset(px, 7, sizeof px);
    EXPECT(snnc_preprocess(NULL, px, 1, SNNC_CHANNELS, SNNC_HEIGHT, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS) == SNNC_ERR_ARG,
           "preprocess(NULL ctx)");
    EXPECT(snnc_preprocess(c, NULL, 1, SNNC_CHANNELS, SNNC_HEIGHT, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS) == SNNC_ERR_ARG,
           "preprocess(NULL images)");
    EXPECT(snnc_preprocess(c, px, 1, SNNC_CHANNELS + 1, SNNC_HEIGHT, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS) == SNNC_ERR_SIZE,
           "preprocess(wrong channels)");
    EXPECT(snnc_preprocess(c, px, 1, SNNC_CHANNELS, SNNC_HEIGHT - 1, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS) == SNNC_ERR_SIZE,
           "preprocess(too small)");
    EXPECT(snnc_preprocess(c, px, 1, SNNC_CHANNELS, SNNC_HEIGHT, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS + 1) == SNNC_ERR_SIZE,
           "preprocess(wrong output count)");
    EXPECT(snnc_preprocess(c, px, 1, SNNC_CHANNELS, SNNC_HEIGHT, SNNC_WIDTH, y,
                           SNNC_IMAGE_FLOATS) == SNNC_OK,
           "preprocess: %s", snnc_error(c));
    printf("  preprocess checks its sizes\n");

    /* reference results, one context, serially */
    for (int r = 0; r < RUNS * CTXS; r++)
        EXPECT(snnc_run(c, x + r * nin, nin, y + r * nout, nout) == SNNC_OK, "run: %s",
               snnc_error(c));
    int nonzero = 0;
    for (size_t i = 0; i < RUNS * CTXS * nout; i++) nonzero += y[i] != 0.0f;
    EXPECT(nonzero > 0, "every output is zero: the comparisons below would prove nothing");
    /* a short batch equals the same images in a full one */
    if (SNNC_BATCH > 1) {
        size_t k = SNNC_BATCH / 2;
        memset(y2, 0xff, nout * sizeof(float));
        EXPECT(snnc_run(c, x, k * SNNC_IMAGE_FLOATS, y2, k * SNNC_CLASSES) == SNNC_OK,
               "short run: %s", snnc_error(c));
        EXPECT(memcmp(y, y2, k * SNNC_CLASSES * sizeof(float)) == 0,
               "a short batch differs from the full one");
        printf("  a batch of %zu equals the same images in a full batch\n", k);
    }

    /* streaming */
    if (SNNC_STREAMING) {
        EXPECT(snnc_reset(NULL) == SNNC_ERR_ARG, "reset(NULL)");
        /* the runs above completed their sequences: a step needs a reset first */
        EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_ERR_STATE, "a step after a run");
        EXPECT(snnc_reset(c) == SNNC_OK, "reset");
        for (int t = 0; t < SNNC_TIME_STEPS; t++)
            EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_OK, "step %d: %s", t, snnc_error(c));
        EXPECT(memcmp(y, y2, nout * sizeof(float)) == 0, "streaming differs from a whole run");
        EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_ERR_STATE, "a step past T");
        EXPECT(strstr(snnc_error(c), "reset") != NULL, "message: %s", snnc_error(c));
        EXPECT(snnc_reset(c) == SNNC_OK, "reset");
        EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_OK, "step after reset: %s", snnc_error(c));
        /* after a whole run the sequence is complete too */
        EXPECT(snnc_run(c, x, nin, y2, nout) == SNNC_OK, "run: %s", snnc_error(c));
        EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_ERR_STATE, "a step after a run");
        printf("  %d steps streamed equal a whole run; a step past T is refused\n",
               SNNC_TIME_STEPS);
    } else {
        EXPECT(snnc_step(c, x, nin, y2, nout) == SNNC_ERR_STATE, "step on a whole-run model");
        EXPECT(strstr(snnc_error(c), "_run") != NULL, "message: %s", snnc_error(c));
        printf("  step refused: %s\n", snnc_error(c));
        EXPECT(snnc_reset(c) == SNNC_OK, "reset");
    }
    if (poisson) {
        float *bad = malloc(nin * sizeof(float));
        memcpy(bad, x, nin * sizeof(float));
        bad[3] = 2.0f;
        EXPECT(snnc_run(c, bad, nin, y2, nout) == SNNC_ERR_INPUT, "Poisson input 2.0");
        EXPECT(strstr(snnc_error(c), "[0, 1]") != NULL, "message: %s", snnc_error(c));
        printf("  out-of-range input refused: %s\n", snnc_error(c));
        free(bad);
        /* the seed changes Poisson spikes */
        EXPECT(snnc_set_seed(c, 12345) == SNNC_OK, "set_seed");
        EXPECT(snnc_run(c, x, nin, y2, nout) == SNNC_OK, "run: %s", snnc_error(c));
        EXPECT(memcmp(y, y2, nout * sizeof(float)) != 0, "another seed gives the same spikes");
        EXPECT(snnc_set_seed(c, 0) == SNNC_OK, "set_seed");
    }

    /* several contexts, concurrently */
    snnc_ctx *cs[CTXS];
    pthread_t th[CTXS];
    job jobs[CTXS];
    snnc_options o1 = {1, good, NULL};
    for (int k = 0; k < CTXS; k++) {
        cs[k] = open_ctx(&o1);
        jobs[k] = (job){cs[k], x + (size_t)k * RUNS * nin, y2 + (size_t)k * RUNS * nout, SNNC_OK};
    }
    memset(y2, 0, RUNS * CTXS * nout * sizeof(float));
    for (int k = 0; k < CTXS; k++) pthread_create(&th[k], NULL, run_job, &jobs[k]);
    for (int k = 0; k < CTXS; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < CTXS; k++) EXPECT(jobs[k].rc == SNNC_OK, "context %d failed", k);
    EXPECT(memcmp(y, y2, RUNS * CTXS * nout * sizeof(float)) == 0,
           "concurrent contexts differ from one context run serially");
    printf("  %d contexts on %d threads: identical to serial runs\n", CTXS, CTXS);
    for (int k = 0; k < CTXS; k++) snnc_free(cs[k]);

    /* two threads on one context: each call either runs alone or is refused */
    shared_job sj[2] = {{c, x, y, 0, 0, 0, 0}, {c, x, y, 0, 0, 0, 0}};
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, hammer, &sj[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    EXPECT(sj[0].wrong + sj[1].wrong == 0, "a shared context gave a wrong result");
    EXPECT(sj[0].other + sj[1].other == 0, "a shared context gave an unexpected error");
    EXPECT(sj[0].ok + sj[1].ok > 0, "no call on the shared context ran");
    printf("  one context shared by 2 threads: %d runs, %d refused as busy, none wrong\n",
           sj[0].ok + sj[1].ok, sj[0].busy + sj[1].busy);

    snnc_free(c);
    snnc_free(NULL);
    free(x);
    free(y);
    free(y2);
    printf("api_check: %d checks passed\n", checks);
    return 0;
}
