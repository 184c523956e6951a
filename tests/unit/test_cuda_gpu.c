/* The CUDA backend on a GPU against the reference interpreter: every model in models/ and
 * a set of small nets covering the ops the models lack (spiking nets with gated pools,
 * threshold units, Poisson/LIF, odd convolution and pooling shapes, dropout), inference
 * with fusion on and off, plus training steps (forward, backward, optimizer) of the small
 * models compared step by step: losses, then every weight after the last step.
 *
 * Tolerances: fp32 logits within 1e-3 of their scale and the same top-1 wherever the
 * reference's top two differ by more than that; TF32 / BF16 tensor-core convolutions within
 * 3e-2 / 1e-1 of the scale; training steps (each from the reference's state) within 1e-4:
 * see compare_train.
 *
 * Needs a GPU or the CUDA emulator of tests/emu (ctest runs it both ways:
 * test_cuda_gpu_emulated sets SNNC_LIBCUDA, SNNC_CUBLAS and SNNC_NVRTC to the emulator);
 * skips (77) when no driver can be opened. Arguments select models by name. */
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
    const char *quick = getenv("SNNC_TEST_QUICK"); /* sanitizers: fp32 only */
    int nmodes = quick && *quick ? 2 : 4;
    for (int mode = 0; mode < nmodes && ref; mode++) {
        /* fp32 fused, fp32 unfused, tf32 fused, bf16 fused */
        int fusion = mode != 1, prec = mode < 2 ? 0 : mode - 1;
        set_precision(prec);
        float *gpu = infer(&spec, SN_TARGET_CUDA, fusion, x, &nc);
        if (!gpu) continue;
        CHECK_EQ_INT(nc, nr);
        double scale = 0, maxd = 0;
        for (int64_t i = 0; i < nr; i++) scale = fmax(scale, fabs(ref[i]));
        for (int64_t i = 0; i < nr; i++) {
            double d = fabs((double)gpu[i] - ref[i]);
            maxd = d != d ? INFINITY : fmax(maxd, d); /* a NaN is a failure */
        }
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

/* Copies every tensor of the stores of `from` into those of `to`. */
static void copy_state(sn_trainer *to, const sn_trainer *from) {
    sn_weights_copy(&to->w, &from->w);
    for (int k = 0; k < from->nslots; k++) sn_weights_copy(&to->slots[k], &from->slots[k]);
}

/* Largest difference of t's tensors from r's, relative to each tensor's scale; the worst
 * tensor's name in *worst_name. */
static double state_diff(const sn_trainer *t, const sn_trainer *r, const char **worst_name) {
    double worst = 0;
    *worst_name = "";
    for (int k = -1; k < r->nslots; k++) {
        const sn_weights *a = k < 0 ? &r->w : &r->slots[k], *b = k < 0 ? &t->w : &t->slots[k];
        for (int i = 0; i < a->n; i++) {
            if (a->desc[i].dtype != SN_F32) continue;
            const float *x = a->data[i], *y = b->data[i];
            int64_t n = sn_shape_numel(&a->desc[i].shape);
            double scale = 0, d = 0;
            for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(x[j]));
            for (int64_t j = 0; j < n; j++) {
                double e = fabs((double)x[j] - y[j]);
                d = e > d || e != e ? e : d; /* NaN counts */
            }
            double rel = d / fmax(scale, 1e-3);
            if (!(rel <= worst)) {
                worst = rel;
                *worst_name = a->desc[i].name;
            }
        }
    }
    return worst;
}

/* Where a training step's quantizer outputs first differ between the two targets (kept
 * intermediates of both plans, quantizers in graph order): the number of differing levels
 * in that first quantizer (later ones differ as a consequence), its size, and how many of
 * the differences are more than one level apart. 0 when all agree. */
static int64_t first_flips(const sn_trainer *r, const sn_trainer *t, int64_t *n_out, int64_t *far,
                           const char **where) {
    const sn_graph *g = &r->tg;
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].op != SN_OP_QUANT) continue;
        const char *name = g->tensors[g->nodes[i].out[0]].name;
        int a = sn_plan_find_buffer(&r->tp, name), b = sn_plan_find_buffer(&t->tp, name);
        if (a < 0 || b < 0) continue; /* fused away on one side */
        const float *x = r->tp.bufs[a].ptr, *y = t->tp.bufs[b].ptr;
        const float level = ldexpf(1.0f, -g->nodes[i].a.quant.k);
        int64_t n = sn_shape_numel(&r->tp.bufs[a].shape), flips = 0;
        *far = 0;
        for (int64_t j = 0; j < n; j++)
            if (memcmp(&x[j], &y[j], sizeof *x) != 0) {
                flips++;
                *far += !(fabsf(x[j] - y[j]) == level);
            }
        if (flips) {
            *n_out = n;
            *where = name;
            return flips;
        }
    }
    return 0;
}

/* Three training steps on the same batch, each taken by both targets from the same state
 * (the reference's): the losses, then every weight, batch-norm statistic and optimizer
 * slot after the step, within 1e-4 (relative to each tensor's scale).
 *
 * Comparing steps rather than trajectories matters for quantized nets: the reference sums
 * in double, the GPU in float, and a pre-activation within an ulp of a Q(k,B) decision
 * point then lands on different levels (the CPU backend, in float too, agrees with the
 * GPU there). Such a step is not comparable value by value (and Adam's first steps turn
 * the sign of any near-zero gradient into a full-size update), so each step's quantizer
 * outputs are compared first. A step whose first differing quantizer has a few values
 * exactly one level apart (at most 1 in 1000 of that quantizer's values: ties are rare) is
 * reported and not compared further; every step without flips must match, and at least
 * two of the three steps must be flip-free. */
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
    double loss[2][3], worst = 0;
    const char *worst_name = "";
    int ok = 1, made = 0, flip_steps = 0;
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
        made = k + 1;
        /* every intermediate kept (and, on the GPU, copied back) for the flip count */
        sn_plan *p = &t[k].tp;
        for (int b = 0; b < p->nbufs; b++) p->bufs[b].keep = 1;
        sn_plan_disable_reuse(p);
        sn_weights *stores[3] = {&t[k].w, &t[k].slots[0], &t[k].slots[1]};
        if (sn_plan_bind_stores(p, stores, 1 + t[k].nslots, &st)) {
            CHECK_MSG(0, "%s: %s", spec.name, st.msg);
            ok = 0;
        }
    }
    for (int s = 0; s < 3 && ok; s++) {
        /* the GPU starts the step from the reference's state */
        if (sn_plan_sync_weights(&t[1].tp, &st)) {
            CHECK_MSG(0, "%s", st.msg);
            ok = 0;
            break;
        }
        copy_state(&t[1], &t[0]);
        for (int k = 0; k < 2 && ok; k++) {
            int64_t correct;
            if (sn_trainer_step(&t[k], x, y, spec.train.lr, &loss[k][s], &correct, &st)) {
                CHECK_MSG(0, "%s [%s] step %d: %s", spec.name, sn_target_names[targets[k]], s,
                          st.msg);
                ok = 0;
            }
        }
        if (ok && sn_plan_sync_weights(&t[1].tp, &st)) {
            CHECK_MSG(0, "%s", st.msg);
            ok = 0;
        }
        if (!ok) break;
        int64_t quantized = 0, far = 0;
        const char *where = "";
        int64_t flips = first_flips(&t[0], &t[1], &quantized, &far, &where);
        if (flips > 0) {
            flip_steps++;
            CHECK_MSG(flips * 1000 <= quantized && far == 0,
                      "%s step %d: %lld of %lld levels of %s differ (%lld by more than one level)",
                      spec.name, s, (long long)flips, (long long)quantized, where, (long long)far);
            fprintf(stderr,
                    "  %-26s step %d: %lld of %lld levels of %s differ by one (ties): loss %.9g, "
                    "reference %.9g; not compared further\n",
                    spec.name, s, (long long)flips, (long long)quantized, where, loss[1][s],
                    loss[0][s]);
            continue;
        }
        CHECK_MSG(fabs(loss[1][s] - loss[0][s]) <= 1e-4 * fmax(1.0, fabs(loss[0][s])),
                  "%s step %d: loss %.9g on the GPU, %.9g on the reference", spec.name, s,
                  loss[1][s], loss[0][s]);
        const char *name;
        double d = state_diff(&t[1], &t[0], &name);
        CHECK_MSG(d <= 1e-4, "%s step %d: %s differs by %.3g of its scale", spec.name, s, name, d);
        if (!(d <= worst)) {
            worst = d;
            worst_name = name;
        }
    }
    CHECK_MSG(flip_steps <= 1, "%s: quantizer levels differ in %d of 3 steps", spec.name,
              flip_steps);
    if (ok)
        fprintf(stderr,
                "  %-26s train: losses %.6g %.6g %.6g (ref %.6g %.6g %.6g), state %.2g (%s)\n",
                spec.name, loss[1][0], loss[1][1], loss[1][2], loss[0][0], loss[0][1], loss[0][2],
                worst, worst_name);
    for (int k = 0; k < made; k++) sn_trainer_free(&t[k]);
    free(x);
    sn_spec_free(&spec);
}

/* Command-line arguments select models and nets by name (all when none); under the
 * sanitizers ($SNNC_TEST_QUICK) the CIFAR VGGs are left out. */
static int nsel;
static char **sel;

static int selected(const char *name) {
    if (nsel == 0) {
        const char *quick = getenv("SNNC_TEST_QUICK");
        return !(quick && *quick && strstr(name, "cifar"));
    }
    for (int i = 0; i < nsel; i++)
        if (strstr(name, sel[i])) return 1;
    return 0;
}

static void test_models(void) {
    char *paths[64];
    int n = sn_test_models(paths, 64);
    for (int i = 0; i < n; i++) {
        const char *name = sn_test_basename(paths[i]);
        if (selected(name)) {
            compare_infer(paths[i], NULL);
            if (strstr(name, "mnist") || strstr(name, "parity")) compare_train(paths[i], NULL);
        }
        free(paths[i]);
    }
}

static void test_small_nets(void) {
    for (size_t i = 0; i < SN_ARRAY_LEN(NETS); i++)
        if (selected(NETS[i][0])) compare_infer(NETS[i][0], NETS[i][1]);
    if (selected("odd")) compare_train("odd", NETS[3][1]);
}

int main(int argc, char **argv) {
    nsel = argc - 1;
    sel = argv + 1;
    sn_status st;
    sn_status_init(&st);
    sn_cuda_driver *d;
    if (sn_cuda_driver_open(0, &d, &st)) {
        printf("SKIP: no GPU: %s\n", st.msg);
        return 77;
    }
    printf("GPU: %s (sm_%d)\n", sn_cuda_driver_device(d), sn_cuda_driver_cc(d));
    sn_cuda_driver_close(d);
    RUN(test_small_nets);
    RUN(test_models);
    return sn_test_result();
}
