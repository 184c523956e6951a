/* Layer-major and step-major schedules of spiking networks give identical results.
 *
 * Layer-major runs all T steps of a layer before the next layer (neuron dynamics fused over
 * T, convolutions batched over T x N); step-major runs every layer for one step, T times,
 * carrying membrane potentials and the readout's running sum between runs. On a Poisson /
 * LIF / linear net, a direct-encoded conv net with IF neurons (soft and hard reset), max
 * pooling and spike deletion, a threshold-unit net and a net of NIR layers, both schedules
 * must give bit-identical outputs on the reference interpreter and on the CPU backend (fused
 * and unfused), and step-major must need less activation memory. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/session.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

#define BATCH 5

static const char *NETS[] = {
    /* Poisson encoder, LIF, linear (seed 004 in small) */
    "name: lifnet\ninput: {channels: 1, height: 6, width: 6}\nnum_classes: 4\n"
    "snn: {T: 7, encoder: poisson, neuron: {model: lif, tau: 2.0}}\n"
    "network:\n  - layer:\n      - flatten\n      - linear: {out_features: 12, bias: false}\n"
    "      - lif\n      - linear: {out_features: 4, bias: true}\n      - lif\n",
    /* direct encoder, conv + IF (soft reset) + maxpool, hard-reset IF, membrane readout */
    "name: convnet\ninput: {channels: 2, height: 8, width: 8}\nnum_classes: 3\n"
    "snn: {T: 6, encoder: direct, readout: membrane, neuron: {model: if, v_reset: none}}\n"
    "network:\n  - features:\n      - conv2d: {out_channels: 5, kernel_size: 3, padding: 1}\n"
    "      - if\n      - maxpool: {kernel_size: 2, spike_gate: true}\n"
    "      - conv2d: {out_channels: 19, kernel_size: 3, padding: 1}\n"
    "      - if: {v_reset: 0.0}\n  - classifier:\n      - flatten\n"
    "      - linear: {out_features: 3}\n",
    /* threshold units with a scaled direct input */
    "name: thrnet\ninput: {channels: 3, height: 6, width: 6}\nnum_classes: 5\n"
    "snn: {T: 3, encoder: direct, input_scale: 2.0, readout: membrane}\n"
    "network:\n  - features:\n      - conv2d: {out_channels: 8, kernel_size: 3, padding: 1, bias: "
    "false}\n      - threshold: {units: 4}\n      - conv2d: {out_channels: 6, kernel_size: 2, "
    "stride: 2, bias: false}\n      - threshold: {units: 2}\n  - classifier:\n      - flatten\n"
    "      - linear: {out_features: 5}\n",
    /* NIR layers: scale, LIF with subtractive reset, window sums, threshold, IF, LI */
    "name: nirnet\ninput: {channels: 2, height: 6, width: 6}\nnum_classes: 3\n"
    "snn: {T: 5, encoder: direct}\n"
    "network:\n  - features:\n      - scale\n"
    "      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
    "      - nir_lif: {dt: 0.2, reset: subtract}\n      - sumpool: {kernel_size: 2}\n"
    "      - nir_threshold\n  - classifier:\n      - flatten\n"
    "      - linear: {out_features: 6}\n      - nir_if\n      - linear: {out_features: 3}\n"
    "      - nir_li: {dt: 0.2, discretization: exact}\n",
};

static float *run(const sn_model_spec *spec, sn_weights *w, sn_target target, int fusion,
                  int schedule, float noise, const float *x, int64_t *arena, int *step_major) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    sn_build_opts bo = {.batch = BATCH, .schedule = schedule, .noise = noise};
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    float *out = NULL;
    if (sn_graph_build(spec, &bo, &g, &st) || sn_graph_verify(&g, &st) ||
        sn_session_lower(&g, target, fusion, 0, &plan, &be, &st) || sn_plan_bind(&plan, w, &st)) {
        CHECK_MSG(0, "%s [%s]: %s", spec->name, sn_target_names[target], st.msg);
    } else {
        *step_major = g.step_major;
        int64_t nx = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
        memcpy(sn_plan_f32(&plan, plan.in_buf), x, (size_t)nx * sizeof(float));
        *arena = 0;
        for (int i = 0; i < g.ntensors; i++)
            if (g.tensors[i].kind == SN_T_ACT)
                *arena += sn_shape_numel(&g.tensors[i].shape) * (int64_t)sizeof(float);
        if (sn_plan_run(&plan, NULL, 77, 0, &st) != SN_OK) {
            CHECK_MSG(0, "%s: %s", spec->name, st.msg);
        } else {
            int64_t n = sn_shape_numel(&plan.bufs[plan.out_buf].shape);
            out = malloc((size_t)n * sizeof(float));
            memcpy(out, sn_plan_f32(&plan, plan.out_buf), (size_t)n * sizeof(float));
        }
    }
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    return out;
}

static void check_net(const char *yaml) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse("net.yaml", yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    sn_weights w;
    memset(&w, 0, sizeof w);
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_session_weights(&g, &spec, NULL, 5, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        sn_spec_free(&spec);
        return;
    }
    sn_graph_free(&g);
    /* weights large enough that neurons fire often; thresholds ascending */
    for (int i = 0; i < w.n; i++) {
        float *p = w.data[i];
        int64_t n = sn_shape_numel(&w.desc[i].shape);
        if (w.desc[i].role == SN_ROLE_WEIGHT)
            for (int64_t j = 0; j < n; j++) p[j] *= 8.0f;
        if (w.desc[i].role == SN_ROLE_THETA)
            for (int64_t j = 0; j < n; j++) p[j] = 0.3f * p[j] - 0.2f;
    }
    int K = spec.num_classes;
    int64_t nx = (int64_t)BATCH * spec.in_channels * spec.in_height * spec.in_width;
    float *x = malloc((size_t)nx * sizeof(float));
    sn_rng r;
    sn_rng_seed(&r, 3);
    for (int64_t i = 0; i < nx; i++) x[i] = sn_rng_uniform(&r);
    for (int target = 0; target < 2; target++) {
#ifndef SNNC_HAVE_LLVM
        if (target == SN_TARGET_CPU) continue;
#endif
        for (int fusion = 0; fusion <= (target == SN_TARGET_CPU); fusion++)
            for (int noisy = 0; noisy <= 1; noisy++) {
                float noise = noisy ? 0.3f : 0.0f;
                int64_t a_layer = 0, a_step = 0;
                int sm_layer = -1, sm_step = -1;
                float *yl = run(&spec, &w, (sn_target)target, fusion, SN_SCHED_LAYER, noise, x,
                                &a_layer, &sm_layer);
                float *ys = run(&spec, &w, (sn_target)target, fusion, SN_SCHED_STEP, noise, x,
                                &a_step, &sm_step);
                if (yl && ys) {
                    CHECK(sm_layer == 0 && sm_step == 1);
                    int same = memcmp(yl, ys, (size_t)BATCH * K * sizeof(float)) == 0;
                    double maxd = 0, scale = 0;
                    for (int i = 0; i < BATCH * K; i++) {
                        double d = yl[i] - ys[i];
                        if (d < 0) d = -d;
                        if (d > maxd) maxd = d;
                        scale += yl[i] < 0 ? -yl[i] : yl[i];
                    }
                    CHECK_MSG(same, "%s [%s fusion %d noise %g]: outputs differ (max %g)",
                              spec.name, sn_target_names[target], fusion, (double)noise, maxd);
                    CHECK_MSG(scale > 0, "%s: the network never fired (a vacuous comparison)",
                              spec.name);
                    CHECK_MSG(a_step < a_layer, "%s: step-major %lld bytes, layer-major %lld",
                              spec.name, (long long)a_step, (long long)a_layer);
                }
                free(yl);
                free(ys);
            }
    }
    free(x);
    sn_weights_free(&w);
    sn_spec_free(&spec);
}

static void test_schedules_agree(void) {
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++) check_net(NETS[i]);
}

static void test_auto_and_training(void) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse("net.yaml", NETS[0], strlen(NETS[0]), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    sn_graph g;
    /* small: auto stays layer-major */
    sn_build_opts bo = {.batch = 2};
    CHECK(sn_graph_build(&spec, &bo, &g, &st) == SN_OK && g.step_major == 0);
    sn_graph_free(&g);
    /* activations over the budget: auto picks step-major */
    sn_build_opts big = {.batch = 2, .T = 5000000};
    if (sn_graph_build(&spec, &big, &g, &st) == SN_OK) {
        CHECK(g.step_major == 1);
        sn_graph_free(&g);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
    /* training graphs cannot be step-major */
    sn_status_init(&st);
    sn_build_opts tr = {.batch = 2, .training = 1, .with_loss = 1, .schedule = SN_SCHED_STEP};
    CHECK(sn_graph_build(&spec, &tr, &g, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "step-major schedule applies to spiking networks at inference");
    sn_spec_free(&spec);
}

int main(void) {
    RUN(test_schedules_agree);
    RUN(test_auto_and_training);
    return sn_test_result();
}
