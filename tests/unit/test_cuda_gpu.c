/* The CUDA backend on a GPU against the reference interpreter: every model in models/ and
 * a set of small nets covering the ops the models lack (spiking nets with gated pools,
 * threshold units, Poisson/LIF, odd convolution and pooling shapes, dropout), inference
 * with fusion on and off, plus training steps (forward, backward, optimizer) of the small
 * models compared step by step: losses, then every weight after the last step.
 *
 * Tolerances: fp32 logits within 1e-3 of their scale and the same top-1 wherever the
 * reference's top two differ by more than that; TF32 / BF16 tensor-core convolutions within
 * 3e-2 / 1e-1 of the scale; training losses within 1e-4 relative, weights within 1e-4 of
 * each tensor's scale after 3 steps.
 *
 * Needs a GPU: skips (77) when the driver cannot be opened or is the test mock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/cuda/driver.h"
#include "compiler/driver/session.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

#define BATCH 3

static const char *const sets[] = {"train.init=kaiming_normal"};

static const char *const NETS[][2] = {
    {"lifnet", "name: lifnet\ninput: {channels: 1, height: 6, width: 6}\nnum_classes: 4\n"
               "snn: {T: 7, encoder: poisson, neuron: {model: lif, tau: 2.0}}\n"
               "network:\n  - layer:\n      - flatten\n      - linear: {out_features: 12, bias: "
               "false}\n      - lif\n      - linear: {out_features: 4, bias: true}\n      - lif\n"},
    {"gated", "name: gated\ninput: {channels: 2, height: 8, width: 8}\nnum_classes: 3\n"
              "snn: {T: 6, encoder: direct, readout: membrane, neuron: {model: if, v_reset: "
              "none}}\nnetwork:\n  - features:\n      - conv2d: {out_channels: 5, kernel_size: 3, "
              "padding: 1}\n      - if\n      - maxpool: {kernel_size: 2, spike_gate: true}\n"
              "      - conv2d: {out_channels: 19, kernel_size: 3, padding: 1}\n      - if: "
              "{v_reset: 0.0}\n  - classifier:\n      - flatten\n      - linear: {out_features: "
              "3}\n"},
    {"thrnet", "name: thrnet\ninput: {channels: 3, height: 6, width: 6}\nnum_classes: 5\n"
               "snn: {T: 3, encoder: direct, input_scale: 2.0, readout: membrane}\n"
               "network:\n  - features:\n      - conv2d: {out_channels: 8, kernel_size: 3, "
               "padding: 1, bias: false}\n      - threshold: {units: 4}\n      - conv2d: "
               "{out_channels: 6, kernel_size: 2, stride: 2, bias: false}\n      - threshold: "
               "{units: 2}\n  - classifier:\n      - flatten\n      - linear: {out_features: 5}\n"},
    {"odd", "name: odd\ninput: {channels: 3, height: 12, width: 12}\nnum_classes: 10\n"
            "network:\n  - features:\n      - conv2d: {out_channels: 8, kernel_size: 5, stride: "
            "2, padding: 2}\n      - batchnorm\n      - relu\n      - avgpool: {kernel_size: [2, "
            "1]}\n      - conv2d: {out_channels: 9, kernel_size: 3, padding: 1, bias: false}\n"
            "      - relu\n      - maxpool: {kernel_size: 3}\n      - maxpool: {kernel_size: 2, "
            "stride: 1, padding: 1}\n  - classifier:\n      - flatten\n      - linear: "
            "{out_features: 20}\n      - dropout: {p: 0.3}\n      - linear: {out_features: 10}\n"
            "data: {dataset: cifar10, path: .}\n"
            "train: {optimizer: sgd, lr: 0.05, momentum: 0.9, nesterov: true, batch_size: 3}\n"},
};

static int load(const char *path, const char *text, sn_model_spec *spec, sn_status *st) {
    memset(spec, 0, sizeof *spec);
    if (text) return sn_spec_parse(path, text, strlen(text), sets, 1, spec, st);
    return sn_spec_load(path, sets, 1, spec, st);
}

/* The output of one inference batch on target, or NULL. */
static float *infer(const sn_model_spec *spec, sn_target target, int fusion, const float *x,
                    int64_t *nout) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    sn_graph_init(&g);
    sn_build_opts bo = {.batch = BATCH, .with_loss = 0, .schedule = 1};
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    float *out = NULL;
    if (sn_graph_build(spec, &bo, &g, &st) || sn_session_weights(&g, spec, NULL, 3, &w, &st) ||
        sn_session_lower(&g, target, fusion, 0, &plan, &be, &st) || sn_plan_bind(&plan, &w, &st)) {
        CHECK_MSG(0, "%s [%s]: %s", spec->name, sn_target_names[target], st.msg);
    } else {
        int64_t nx = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
        memcpy(sn_plan_f32(&plan, plan.in_buf), x, (size_t)nx * sizeof(float));
        if (sn_plan_run(&plan, NULL, 9, 0, &st)) {
            CHECK_MSG(0, "%s [%s]: %s", spec->name, sn_target_names[target], st.msg);
        } else {
            *nout = sn_shape_numel(&plan.bufs[plan.out_buf].shape);
            out = malloc((size_t)*nout * sizeof(float));
            memcpy(out, sn_plan_f32(&plan, plan.out_buf), (size_t)*nout * sizeof(float));
        }
    }
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_weights_free(&w);
    sn_graph_free(&g);
    return out;
}

static float *inputs(const sn_model_spec *spec, int64_t batch) {
    int64_t nx = batch * spec->in_channels * spec->in_height * spec->in_width;
    float *x = malloc((size_t)nx * sizeof(float));
    sn_rng r;
    sn_rng_seed(&r, 21);
    for (int64_t i = 0; i < nx; i++)
        x[i] =
            spec->snn.enabled ? (float)sn_rng_uniform(&r) : (float)(sn_rng_uniform(&r) * 4.0 - 2.0);
    return x;
}

/* --precision for the cuda plans made next (0 fp32, 1 tf32, 2 bf16), as the commands set it */
static void set_precision(int prec) {
    static const char *const precs[] = {"--precision=fp32", "--precision=tf32", "--precision=bf16"};
    sn_status st;
    sn_status_init(&st);
    sn_cmd cmd = {.name = "t", .opts = {{"--precision", "P", "", 0}}};
    sn_args a;
    char *argv[1] = {(char *)precs[prec]};
    if (sn_args_parse(&cmd, 1, argv, &a, &st) || sn_session_precision(&a, SN_TARGET_CUDA, &st))
        CHECK_MSG(0, "%s", st.msg);
}

static void compare_infer(const char *path, const char *text) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (load(path, text, &spec, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    float *x = inputs(&spec, BATCH);
    int64_t nr = 0, nc = 0;
    float *ref = infer(&spec, SN_TARGET_REF, 1, x, &nr);
    int ncls = spec.num_classes;
    static const char *const precs[] = {"fp32", "tf32", "bf16"};
    for (int mode = 0; mode < 4 && ref; mode++) {
        /* fp32 fused, fp32 unfused, tf32 fused, bf16 fused */
        int fusion = mode != 1, prec = mode < 2 ? 0 : mode - 1;
        set_precision(prec);
        float *gpu = infer(&spec, SN_TARGET_CUDA, fusion, x, &nc);
        if (!gpu) continue;
        CHECK_EQ_INT(nc, nr);
        double scale = 0, maxd = 0;
        for (int64_t i = 0; i < nr; i++) scale = fmax(scale, fabs(ref[i]));
        for (int64_t i = 0; i < nr; i++) maxd = fmax(maxd, fabs((double)gpu[i] - ref[i]));
        double tol = (prec == 0 ? 1e-3 : prec == 1 ? 3e-2 : 1e-1) * scale;
        /* spiking nets: a membrane within rounding of its threshold may fire on one side
         * only; the comparison is then of predictions */
        int spiking = spec.snn.enabled;
        if (!spiking)
            CHECK_MSG(maxd <= tol, "%s [%s, fusion %s]: outputs differ by %.3g (scale %.3g)",
                      spec.name, precs[prec], fusion ? "on" : "off", maxd, scale);
        int same = 0, decided = 0;
        for (int b = 0; b < BATCH; b++) {
            const float *r = ref + (int64_t)b * ncls, *c = gpu + (int64_t)b * ncls;
            int tr = 0, tc = 0;
            for (int k = 1; k < ncls; k++) {
                if (r[k] > r[tr]) tr = k;
                if (c[k] > c[tc]) tc = k;
            }
            double second = -INFINITY;
            for (int k = 0; k < ncls; k++)
                if (k != tr && r[k] > second) second = r[k];
            if (r[tr] - second <= tol) continue;
            decided++;
            same += tr == tc;
        }
        if (prec == 0) CHECK_MSG(same == decided, "%s: %d/%d same top-1", spec.name, same, decided);
        fprintf(stderr, "  %-26s %s fusion %-3s max |gpu - ref| %.2g (scale %.2g), %d/%d same\n",
                spec.name, precs[prec], fusion ? "on" : "off", maxd, scale, same, decided);
        free(gpu);
    }
    set_precision(0); /* back to fp32 for whatever runs next */
    free(ref);
    free(x);
    sn_spec_free(&spec);
}

/* Three training steps from the same weights on the same batch: losses, then weights. */
static void compare_train(const char *path, const char *text) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (load(path, text, &spec, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    sn_trainer t[2];
    memset(t, 0, sizeof t);
    sn_target targets[2] = {SN_TARGET_REF, SN_TARGET_CUDA};
    double loss[2][3];
    int ok = 1;
    int64_t batch = 4;
    float *x = inputs(&spec, batch);
    int32_t y[4] = {0, 1, 2, 3};
    for (int k = 0; k < 2 && ok; k++) {
        sn_trainer_opts o = {.target = targets[k],
                             .fusion = 1,
                             .batch = batch,
                             .eval_batch = 4,
                             .threads = 1,
                             .seed = 5};
        if (sn_trainer_create(&t[k], &spec, &o, &st)) {
            CHECK_MSG(0, "%s [%s]: %s", spec.name, sn_target_names[targets[k]], st.msg);
            ok = 0;
            break;
        }
        for (int s = 0; s < 3 && ok; s++) {
            int64_t correct;
            if (sn_trainer_step(&t[k], x, y, spec.train.lr, &loss[k][s], &correct, &st)) {
                CHECK_MSG(0, "%s [%s] step %d: %s", spec.name, sn_target_names[targets[k]], s,
                          st.msg);
                ok = 0;
            }
        }
    }
    if (ok && sn_plan_sync_weights(&t[1].tp, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        ok = 0;
    }
    if (ok) {
        for (int s = 0; s < 3; s++)
            CHECK_MSG(fabs(loss[1][s] - loss[0][s]) <= 1e-4 * fmax(1.0, fabs(loss[0][s])),
                      "%s step %d: loss %.9g on the GPU, %.9g on the reference", spec.name, s,
                      loss[1][s], loss[0][s]);
        double worst = 0;
        for (int i = 0; i < t[0].w.n; i++) {
            if (t[0].w.desc[i].dtype != SN_F32) continue;
            const float *a = t[0].w.data[i], *b = t[1].w.data[i];
            int64_t n = sn_shape_numel(&t[0].w.desc[i].shape);
            double scale = 0, d = 0;
            for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(a[j]));
            for (int64_t j = 0; j < n; j++) d = fmax(d, fabs((double)a[j] - b[j]));
            CHECK_MSG(d <= 1e-4 * fmax(scale, 1e-3), "%s: %s differs by %.3g (scale %.3g)",
                      spec.name, t[0].w.desc[i].name, d, scale);
            worst = fmax(worst, d / fmax(scale, 1e-3));
        }
        fprintf(stderr, "  %-26s train: losses %.6g %.6g %.6g (ref %.6g %.6g %.6g), weights %.2g\n",
                spec.name, loss[1][0], loss[1][1], loss[1][2], loss[0][0], loss[0][1], loss[0][2],
                worst);
    }
    for (int k = 0; k < 2; k++) sn_trainer_free(&t[k]);
    free(x);
    sn_spec_free(&spec);
}

static void test_models(void) {
    char *paths[64];
    int n = sn_test_models(paths, 64);
    for (int i = 0; i < n; i++) {
        const char *name = sn_test_basename(paths[i]);
        compare_infer(paths[i], NULL);
        if (strstr(name, "mnist") || strstr(name, "parity")) compare_train(paths[i], NULL);
        free(paths[i]);
    }
}

static void test_small_nets(void) {
    for (size_t i = 0; i < SN_ARRAY_LEN(NETS); i++) compare_infer(NETS[i][0], NETS[i][1]);
    compare_train("odd", NETS[3][1]);
}

int main(void) {
    sn_status st;
    sn_status_init(&st);
    sn_cuda_driver *d;
    if (sn_cuda_driver_open(0, &d, &st)) {
        printf("SKIP: no GPU: %s\n", st.msg);
        return 77;
    }
    int mock = strcmp(sn_cuda_driver_device(d), "snnc mock GPU") == 0;
    printf("GPU: %s (sm_%d)\n", sn_cuda_driver_device(d), sn_cuda_driver_cc(d));
    sn_cuda_driver_close(d);
    if (mock) {
        printf("SKIP: the driver is the test mock\n");
        return 77;
    }
    RUN(test_small_nets);
    RUN(test_models);
    return sn_test_result();
}
