/* Training parity with PyTorch (tests/golden/make_train_golden.py): from the same initial
 * weights, with no shuffling, no augmentation and no dropout, 20 optimizer steps of batch
 * 32 must give PyTorch's per-step losses to 1e-4 relative, and the evaluation-mode outputs
 * afterwards (running batch-norm statistics included) must match closely.
 *
 * CIFAR-10 models run on a synthetic CIFAR-format set regenerated here bit for bit (so the
 * test needs nothing outside the repository) and, when ../shared/data exists, on the first
 * images of the real data_batch_1.bin. The quantized model runs on the built-in MNIST
 * sample. Every model runs on the reference interpreter and on the CPU JIT backend.
 *
 * Each golden run also trains PyTorch's model in float64, with every batch reversed and with
 * channels-last kernels: the same computation summed in other orders. Training through max
 * pooling, ReLU and quantizer thresholds can amplify rounding once the weights move (a ReLU
 * input within an ulp of zero picks another pooling winner, a quantizer input at a level
 * boundary flips), so PyTorch reproduces itself only so far. The golden records the horizon
 * (steps on which every variant agrees to 1e-5) and each step's spread (the largest relative
 * difference of a variant from the golden loss). Each step must match to
 * max(1e-4, 3 x spread): exactly the 1e-4 requirement inside the horizon, and no further
 * from PyTorch than PyTorch is from itself beyond it. The SGD-momentum VGG (the issue's
 * parity model) has a 20-step horizon on both data sets, so all its steps are held to 1e-4. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/trainer.h"
#include "runtime/core/json.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

static sn_json golden;

/* The synthetic CIFAR records of make_train_golden.py. */
static void synthetic_cifar(int64_t n, sn_dataset *ds) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->c = 3;
    ds->h = ds->w = 32;
    ds->num_classes = 10;
    ds->pixels = malloc((size_t)n * 3072);
    ds->labels = malloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < 3072; j++)
            ds->pixels[i * 3072 + j] =
                (uint8_t)(sn_hash32((uint32_t)(i * 3072 + j + 0x51ed)) >> 24);
        ds->labels[i] = (int32_t)(sn_hash32((uint32_t)(i + 0x1abe1)) % 10);
    }
    snprintf(ds->source, sizeof ds->source, "synthetic");
}

static int load_data(const char *which, int train, sn_dataset *ds) {
    sn_status st;
    sn_status_init(&st);
    char path[1024];
    if (strcmp(which, "synthetic") == 0) {
        synthetic_cifar(20 * 32 + 16, ds);
        if (!train) { /* the 16 images after the training ones */
            memmove(ds->pixels, ds->pixels + (int64_t)640 * 3072, 16 * 3072);
            memmove(ds->labels, ds->labels + 640, 16 * sizeof(int32_t));
            ds->n = 16;
        }
        return 1;
    }
    if (strcmp(which, "cifar") == 0) {
        snprintf(path, sizeof path, "%s/../shared/data/cifar-10-batches-bin/data_batch_1.bin",
                 SNNC_SOURCE_DIR);
        if (!sn_file_exists(path)) return 0;
        if (sn_dataset_load(SN_FMT_CIFAR10, path, SN_SPLIT_TRAIN, ds, &st)) return 0;
        if (!train) {
            memmove(ds->pixels, ds->pixels + (int64_t)640 * 3072, 16 * 3072);
            memmove(ds->labels, ds->labels + 640, 16 * sizeof(int32_t));
        }
        sn_dataset_truncate(ds, train ? 640 : 16);
        return 1;
    }
    snprintf(path, sizeof path, "%s/models/data/mnist-sample", SNNC_SOURCE_DIR);
    if (sn_dataset_load(SN_FMT_MNIST, path, train ? SN_SPLIT_TRAIN : SN_SPLIT_TEST, ds, &st)) {
        fprintf(stderr, "%s\n", st.msg);
        return 0;
    }
    sn_dataset_truncate(ds, train ? 640 : 16);
    return 1;
}

static void run(const char *model, const char *dataset, sn_target target) {
    const sn_json *gm = sn_json_get(&golden, model);
    const sn_json *gd = gm ? sn_json_get(gm, dataset) : NULL;
    if (!gd) {
        fprintf(stderr, "  %s [%s]: no golden (skipped)\n", model, dataset);
        return;
    }
    sn_dataset train, test;
    if (!load_data(dataset, 1, &train)) {
        fprintf(stderr, "  %s [%s]: data not available (skipped)\n", model, dataset);
        return;
    }
    CHECK(load_data(dataset, 0, &test));
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/%s.yaml", SNNC_TEST_DIR, model);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    CHECK_EQ_INT(sn_spec_load(path, NULL, 0, &spec, &st), SN_OK);
    snprintf(path, sizeof path, "%s/golden/%s.init.safetensors", SNNC_TEST_DIR, model);
    sn_trainer_opts o = {target, 1, 32, 16, 0, path, 1, NULL, 0};
    sn_trainer t;
    if (sn_trainer_create(&t, &spec, &o, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", model, st.msg);
        sn_trainer_free(&t);
        sn_spec_free(&spec);
        sn_dataset_free(&train);
        sn_dataset_free(&test);
        return;
    }
    sn_transform tf;
    memset(&tf, 0, sizeof tf);
    tf.out_h = spec.in_height;
    tf.out_w = spec.in_width;
    tf.scale = spec.data.scale;
    tf.nmean = spec.data.nmean;
    tf.nstd = spec.data.nstd;
    memcpy(tf.mean, spec.data.mean, sizeof tf.mean);
    memcpy(tf.std, spec.data.std, sizeof tf.std);
    int64_t per = (int64_t)spec.in_channels * spec.in_height * spec.in_width;
    float *x = malloc((size_t)(32 * per) * sizeof(float));
    int32_t y[32];
    int64_t idx[32];
    const sn_json *gl = sn_json_get(gd, "losses"), *gs = sn_json_get(gd, "spread");
    int horizon = (int)sn_json_get(gd, "horizon")->integer;
    CHECK(gs && gs->count == gl->count);
    double worst = 0, beyond = 0, beyond_ratio = 0;
    int nsteps = sn_test_quick() ? 4 : gl->count; /* quick mode: the first steps only */
    for (int s = 0; s < nsteps; s++) {
        for (int i = 0; i < 32; i++) idx[i] = s * 32 + i;
        sn_transform_batch(&tf, &train, idx, 32, 0, 0, x, y);
        double loss;
        int64_t correct;
        CHECK_EQ_INT(sn_trainer_step(&t, x, y, spec.train.lr, &loss, &correct, &st), SN_OK);
        double want = gl->items[s].number;
        double rel = fabs(loss - want) / fabs(want), spread = gs->items[s].number;
        double bound = 3 * spread > 1e-4 ? 3 * spread : 1e-4;
        if (s >= horizon) {
            if (rel > beyond) beyond = rel;
            if (rel / bound > beyond_ratio) beyond_ratio = rel / bound;
        } else if (rel > worst) {
            worst = rel;
        }
        CHECK_MSG(rel <= bound,
                  "%s [%s, %s] step %d: loss %.7f, PyTorch %.7f (rel %.2g; bound %.2g from "
                  "PyTorch's own spread %.2g)",
                  model, dataset, sn_target_names[target], s + 1, loss, want, rel, bound, spread);
    }
    /* evaluation mode afterwards: running statistics and the trained weights */
    for (int i = 0; i < 16; i++) idx[i] = i;
    sn_transform_batch(&tf, &test, idx, 16, 0, 0, x, y);
    sn_plan *ep = &t.ep;
    CHECK_EQ_INT(sn_plan_prepare(ep, t.pool, &st), SN_OK);
    memcpy(sn_plan_f32(ep, ep->in_buf), x, (size_t)(16 * per) * sizeof(float));
    CHECK_EQ_INT(sn_plan_run(ep, t.pool, 0, 0, &st), SN_OK);
    const sn_json *ge = sn_json_get(gd, "eval_outputs");
    const float *out = sn_plan_f32(ep, ep->out_buf);
    double ewant = 0, emax = 0;
    for (int i = 0; i < ge->count; i++) {
        double d = fabs((double)out[i] - ge->items[i].number);
        if (d > emax) emax = d;
        if (fabs(ge->items[i].number) > ewant) ewant = fabs(ge->items[i].number);
    }
    /* quantized nets can flip a level after 20 steps of float-order differences */
    if (horizon == gl->count && nsteps == gl->count)
        CHECK_MSG(emax <= 1e-3 * (1 + ewant),
                  "%s [%s, %s] eval outputs differ by %.3g (scale %.3g)", model, dataset,
                  sn_target_names[target], emax, ewant);
    if (strcmp(model, "parity_vgg") == 0)
        CHECK_MSG(horizon == gl->count, "%s [%s]: the golden's horizon is %d steps, not %d", model,
                  dataset, horizon, gl->count);
    if (horizon > 0)
        fprintf(stderr, "  %s [%s, %s]: steps 1-%d match to %.2g (rel)", model, dataset,
                sn_target_names[target], horizon, worst);
    else
        fprintf(stderr, "  %s [%s, %s]: no step inside PyTorch's own agreement", model, dataset,
                sn_target_names[target]);
    if (horizon < gl->count)
        fprintf(stderr, "; steps %d-%d (past it) to %.2g, at most %.2f of the bound", horizon + 1,
                gl->count, beyond, beyond_ratio);
    fprintf(stderr, "; eval outputs max diff %.2g\n", emax);
    free(x);
    sn_trainer_free(&t);
    sn_spec_free(&spec);
    sn_dataset_free(&train);
    sn_dataset_free(&test);
}

static void targets_for(const char *model, const char *dataset) {
    run(model, dataset, SN_TARGET_REF);
#ifdef SNNC_HAVE_LLVM
    run(model, dataset, SN_TARGET_CPU);
#endif
}

static void test_sgd_momentum_vgg(void) {
    targets_for("parity_vgg", "synthetic");
    if (!sn_test_quick()) targets_for("parity_vgg", "cifar");
}

static void test_batchnorm_nesterov(void) {
    if (sn_test_quick()) {
        fprintf(stderr, "  (quick mode: skipped; the release build runs it)\n");
        return;
    }
    targets_for("parity_bn", "synthetic");
    targets_for("parity_bn", "cifar");
}

static void test_quant_ternary_adam(void) {
    if (sn_test_quick()) {
        fprintf(stderr, "  (quick mode: skipped; the release build runs it)\n");
        return;
    }
    targets_for("parity_quant", "mnist_sample");
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/train_golden.json", SNNC_TEST_DIR);
    unsigned char *buf;
    size_t n;
    sn_status st;
    sn_status_init(&st);
    if (sn_read_file(path, &buf, &n, &st) ||
        sn_json_parse(path, (const char *)buf, n, &golden, &st)) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    free(buf);
    RUN(test_sgd_momentum_vgg);
    RUN(test_batchnorm_nesterov);
    RUN(test_quant_ternary_adam);
    sn_json_free(&golden);
    return sn_test_result();
}
