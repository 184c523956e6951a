/* ANN -> SNN conversion.
 *
 * Exact (threshold units): on a small quantized net whose batch norms have gamma > 0,
 * gamma < 0 and gamma = 0 channels, ternary and float weights, conv and linear blocks, the
 * converted SNN at T = 1 gives exactly 2^k times the quantized ANN's logits (hence the same
 * class) on the reference interpreter, image by image, and on the CPU backend (fused and
 * unfused) the same classes. Also: the converted spec prints and parses back; bad networks
 * are rejected with messages naming the layer. Rate: BN folding and the lambda scaling. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/sampler.h"
#include "compiler/driver/session.h"
#include "compiler/ir/build.h"
#include "compiler/passes/convert.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

#define BATCH 16

static const char *QNET = "name: qnet\n"
                          "input: {channels: 3, height: 10, width: 10}\n"
                          "num_classes: 7\n"
                          "quant: {k: 1, B: 2}\n"
                          "network:\n"
                          "  - features:\n"
                          "      - conv2d: {out_channels: 12, kernel_size: 3, padding: 1, bias: "
                          "false}\n"
                          "      - batchnorm\n"
                          "      - relu\n"
                          "      - quant\n"
                          "      - conv2d: {out_channels: 20, kernel_size: 3, padding: 1, bias: "
                          "false, weights: ternary}\n"
                          "      - batchnorm\n"
                          "      - relu\n"
                          "      - quant\n"
                          "      - conv2d: {out_channels: 17, kernel_size: 2, stride: 2, bias: "
                          "true, weights: ternary}\n"
                          "      - batchnorm\n"
                          "      - relu\n"
                          "      - quant: {k: 2, B: 1}\n"
                          "      - maxpool: {kernel_size: 1}\n"
                          "  - classifier:\n"
                          "      - flatten\n"
                          "      - linear: {out_features: 24, bias: true, weights: ternary}\n"
                          "      - batchnorm\n"
                          "      - quant\n"
                          "      - linear: {out_features: 7, bias: true}\n";

static void fill_weights(sn_weights *w, uint64_t seed) {
    sn_rng r;
    sn_rng_seed(&r, seed);
    for (int i = 0; i < w->n; i++) {
        const sn_param_desc *d = &w->desc[i];
        if (d->dtype != SN_F32) continue;
        float *p = w->data[i];
        int64_t n = sn_shape_numel(&d->shape);
        for (int64_t j = 0; j < n; j++) {
            float u = sn_rng_uniform(&r);
            switch (d->role) {
            case SN_ROLE_WEIGHT:
                p[j] = (u * 2.0f - 1.0f) * 0.6f;
                break;
            case SN_ROLE_BIAS:
            case SN_ROLE_BN_MEAN:
                p[j] = (u * 2.0f - 1.0f) * 0.5f;
                break;
            case SN_ROLE_BN_WEIGHT: /* every 5th channel negative, every 7th zero */
                p[j] = j % 7 == 3 ? 0.0f : j % 5 == 1 ? -(0.3f + u) : 0.3f + u;
                break;
            case SN_ROLE_BN_BIAS:
                p[j] = u * 1.5f - 0.25f;
                break;
            case SN_ROLE_BN_VAR:
                p[j] = 0.2f + 2.0f * u;
                break;
            default:
                break;
            }
        }
    }
}

/* Runs spec with weights w on target over x; returns malloc'd logits [BATCH, K]. */
static float *run(const sn_model_spec *spec, sn_weights *w, sn_target target, int fusion,
                  const float *x) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    sn_build_opts bo = {.batch = BATCH};
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    float *out = NULL;
    if (sn_graph_build(spec, &bo, &g, &st) || sn_graph_verify(&g, &st) ||
        sn_session_lower(&g, target, fusion, 0, &plan, &be, &st) || sn_plan_bind(&plan, w, &st)) {
        CHECK_MSG(0, "%s [%s]: %s", spec->name, sn_target_names[target], st.msg);
    } else {
        int64_t nx = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
        memcpy(sn_plan_f32(&plan, plan.in_buf), x, (size_t)nx * sizeof(float));
        if (sn_plan_run(&plan, NULL, 1, 0, &st) != SN_OK) {
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

static int argmax(const float *x, int K) {
    int b = 0;
    for (int k = 1; k < K; k++)
        if (x[k] > x[b]) b = k;
    return b;
}

static int load_ann(sn_model_spec *spec, sn_weights *w, uint64_t seed) {
    sn_status st;
    sn_status_init(&st);
    if (sn_spec_parse("qnet.yaml", QNET, strlen(QNET), NULL, 0, spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return -1;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(spec, &bo, &g, &st) || sn_session_weights(&g, spec, NULL, 1, w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        sn_graph_free(&g);
        return -1;
    }
    sn_graph_free(&g);
    fill_weights(w, seed);
    return 0;
}

static void test_exact(void) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sn_status st;
        sn_status_init(&st);
        sn_model_spec ann, snn;
        sn_weights aw, sw;
        memset(&aw, 0, sizeof aw);
        if (load_ann(&ann, &aw, seed)) return;
        sn_convert_info info;
        if (sn_convert_exact(&ann, &aw, &snn, &sw, &info, &st) != SN_OK) {
            CHECK_MSG(0, "%s", st.msg);
            sn_weights_free(&aw);
            sn_spec_free(&ann);
            return;
        }
        CHECK_EQ_INT(info.blocks, 5);
        CHECK(info.flipped_channels > 0);
        CHECK(info.constant_channels > 0);
        CHECK(snn.snn.input_scale == 2.0f);
        /* the converted spec prints and parses back to the same spec */
        sn_strbuf y;
        sn_sb_init(&y);
        sn_spec_print_yaml(&snn, &y);
        sn_model_spec back;
        if (sn_spec_parse("snn.yaml", sn_sb_cstr(&y), strlen(sn_sb_cstr(&y)), NULL, 0, &back,
                          &st) != SN_OK) {
            CHECK_MSG(0, "%s\n%s", st.msg, sn_sb_cstr(&y));
        } else {
            char why[256];
            CHECK_MSG(sn_spec_equal(&snn, &back, why, sizeof why), "%s", why);
            sn_spec_free(&back);
        }
        sn_sb_free(&y);

        int64_t nx = (int64_t)BATCH * 3 * 10 * 10;
        float *x = malloc((size_t)nx * sizeof(float));
        sn_rng r;
        sn_rng_seed(&r, 100 + seed);
        for (int64_t i = 0; i < nx; i++) x[i] = sn_rng_uniform(&r) * 4.0f - 2.0f;
        float *a_ref = run(&ann, &aw, SN_TARGET_REF, 1, x);
        float *s_ref = run(&snn, &sw, SN_TARGET_REF, 1, x);
        if (a_ref && s_ref) {
            /* the readout scale of the last quant layer is 2^1 */
            int exact = 1;
            for (int64_t i = 0; i < BATCH * 7; i++)
                if (s_ref[i] != 2.0f * a_ref[i]) exact = 0;
            CHECK_MSG(exact, "seed %llu: SNN logits are not exactly 2 x the ANN's",
                      (unsigned long long)seed);
        }
#ifdef SNNC_HAVE_LLVM
        for (int fusion = 0; fusion <= 1; fusion++) {
            float *a_cpu = run(&ann, &aw, SN_TARGET_CPU, fusion, x);
            float *s_cpu = run(&snn, &sw, SN_TARGET_CPU, fusion, x);
            if (a_cpu && s_cpu && a_ref) {
                int same = 0;
                for (int i = 0; i < BATCH; i++)
                    same += argmax(a_cpu + i * 7, 7) == argmax(s_cpu + i * 7, 7) &&
                            argmax(s_cpu + i * 7, 7) == argmax(a_ref + i * 7, 7);
                CHECK_MSG(same == BATCH, "seed %llu fusion %d: %d/%d classes agree",
                          (unsigned long long)seed, fusion, same, BATCH);
            }
            free(a_cpu);
            free(s_cpu);
        }
#endif
        free(a_ref);
        free(s_ref);
        free(x);
        sn_sb_free(&info.notes);
        sn_weights_free(&aw);
        sn_weights_free(&sw);
        sn_spec_free(&ann);
        sn_spec_free(&snn);
    }
}

static void expect_reject(const char *yaml, const char *msg) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec, snn;
    if (sn_spec_parse("bad.yaml", yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    sn_weights w, sw;
    memset(&w, 0, sizeof w);
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_session_weights(&g, &spec, NULL, 1, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
    } else {
        sn_convert_info info;
        sn_code c = sn_convert_exact(&spec, &w, &snn, &sw, &info, &st);
        CHECK_EQ_INT(c, SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, msg);
        if (c == SN_OK) {
            sn_spec_free(&snn);
            sn_weights_free(&sw);
            sn_sb_free(&info.notes);
        }
        sn_graph_free(&g);
    }
    sn_weights_free(&w);
    sn_spec_free(&spec);
}

static void test_exact_rejects(void) {
    const char *head = "name: bad\ninput: {channels: 1, height: 4, width: 4}\nnum_classes: 2\n";
    char buf[1024];
    snprintf(buf, sizeof buf,
             "%snetwork:\n  - f:\n      - conv2d: {out_channels: 2, kernel_size: 3}\n"
             "      - relu\n      - flatten\n      - linear: {out_features: 2}\n",
             head);
    expect_reject(buf, "needs quant");
    snprintf(buf, sizeof buf,
             "%squant: {k: 0, B: 1}\nnetwork:\n  - f:\n      - conv2d: {out_channels: 2, "
             "kernel_size: 3}\n      - batchnorm\n      - relu\n      - flatten\n"
             "      - linear: {out_features: 2}\n      - quant\n      - linear: {out_features: "
             "2}\n",
             head);
    expect_reject(buf, "layer f.0: its batchnorm is not followed by quant");
    snprintf(buf, sizeof buf,
             "%squant: {k: 0, B: 1}\nnetwork:\n  - f:\n      - conv2d: {out_channels: 2, "
             "kernel_size: 3}\n      - quant\n      - flatten\n      - linear: {out_features: 2}\n"
             "      - quant\n",
             head);
    expect_reject(buf, "the last synaptic layer ends in quant");
}

static void test_rate_fold(void) {
    /* conv -> BN -> relu -> flatten -> linear: the converted weights are the BN-folded ones
     * scaled by lambda, the readout by the previous lambda */
    const char *y = "name: r\ninput: {channels: 1, height: 3, width: 3}\nnum_classes: 2\n"
                    "network:\n  - f:\n      - conv2d: {out_channels: 2, kernel_size: 3, bias: "
                    "true}\n      - batchnorm\n      - relu\n      - flatten\n"
                    "      - linear: {out_features: 2, bias: true}\n";
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec, snn;
    if (sn_spec_parse("r.yaml", y, strlen(y), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    sn_weights w, sw;
    memset(&w, 0, sizeof w);
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_session_weights(&g, &spec, NULL, 1, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        sn_spec_free(&spec);
        return;
    }
    sn_graph_free(&g);
    float *cw = sn_weights_f32(&w, sn_weights_find(&w, "f.0.weight"));
    float *cb = sn_weights_f32(&w, sn_weights_find(&w, "f.0.bias"));
    float *gm = sn_weights_f32(&w, sn_weights_find(&w, "f.1.weight"));
    float *bt = sn_weights_f32(&w, sn_weights_find(&w, "f.1.bias"));
    float *mu = sn_weights_f32(&w, sn_weights_find(&w, "f.1.running_mean"));
    float *vr = sn_weights_f32(&w, sn_weights_find(&w, "f.1.running_var"));
    float *lw = sn_weights_f32(&w, sn_weights_find(&w, "f.4.weight"));
    for (int i = 0; i < 18; i++) cw[i] = 0.25f * (float)(i % 5) - 0.5f;
    cb[0] = 0.5f;
    cb[1] = -1.0f;
    gm[0] = 2.0f;
    gm[1] = 0.5f;
    bt[0] = 0.25f;
    bt[1] = 0.0f;
    mu[0] = 1.0f;
    mu[1] = -1.0f;
    vr[0] = 4.0f - 1e-5f; /* sigma = 2 with the default eps */
    vr[1] = 1.0f - 1e-5f;
    double lambda = 4.0;
    sn_convert_info info;
    if (sn_convert_rate(&spec, &w, &lambda, 1, &snn, &sw, &info, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
    } else {
        CHECK_EQ_INT(snn.nlayers, 4); /* conv, if, flatten, linear */
        CHECK(snn.layers[1].kind == SN_LAYER_IF && !snn.layers[1].neuron.hard_reset);
        const float *ow = sn_weights_f32(&sw, sn_weights_find(&sw, "f.0.weight"));
        const float *ob = sn_weights_f32(&sw, sn_weights_find(&sw, "f.0.bias"));
        const float *olw = sn_weights_f32(&sw, sn_weights_find(&sw, "f.3.weight")); /* renumbered */
        /* channel 0: a = 2 / 2 = 1; shift = (0.5 - 1) * 1 + 0.25 = -0.25; / lambda */
        CHECK_CLOSE(ow[3], cw[3] * 1.0 / 4.0, 1e-6, 1e-5);
        CHECK_CLOSE(ob[0], -0.25 / 4.0, 1e-6, 1e-5);
        /* channel 1: a = 0.5; shift = (-1 + 1) * 0.5 + 0 = 0 */
        CHECK_CLOSE(ow[9 + 2], cw[9 + 2] * 0.5 / 4.0, 1e-6, 1e-5);
        CHECK_CLOSE(ob[1], 0.0, 1e-6, 0);
        CHECK_CLOSE(olw[1], lw[1] * 4.0, 1e-6, 1e-5);
        sn_spec_free(&snn);
        sn_weights_free(&sw);
        sn_sb_free(&info.notes);
    }
    sn_weights_free(&w);
    sn_spec_free(&spec);
}

/* the calibration sampler (rate conversion's lambda, int8's activation step) */
static void test_sampler(void) {
    sn_sampler s;
    /* 0..9999 in a scrambled order, every value kept: p99.9 is 9990 (rank ceil(0.999 * 9999)),
     * the maximum 9999 */
    sn_sampler_init(&s, 10000, 2000000);
    CHECK_EQ_INT((int)s.stride, 1);
    for (int i = 0; i < 10000; i++) sn_sampler_add(&s, (float)((i * 7919) % 10000));
    CHECK_EQ_INT((int)s.ns, 10000);
    CHECK_CLOSE(sn_sampler_percentile(&s, 100.0), 9999.0, 0, 0);
    CHECK_CLOSE(sn_sampler_percentile(&s, 99.9), 9990.0, 0, 0);
    CHECK_CLOSE(sn_sampler_percentile(&s, 50.0), 5000.0, 0, 0);
    sn_sampler_free(&s);
    /* strided: 10^6 values, about 10^4 kept; the maximum is still the true one */
    sn_sampler_init(&s, 1000000, 10000);
    CHECK_EQ_INT((int)s.stride, 100);
    for (int i = 0; i < 1000000; i++) sn_sampler_add(&s, i == 123457 ? 5e6f : (float)(i % 1000));
    CHECK_EQ_INT((int)s.ns, 10000);
    CHECK_CLOSE(s.max, 5e6, 0, 0);
    CHECK_CLOSE(sn_sampler_percentile(&s, 99.0), 900.0, 0, 0.02);
    /* nothing kept: the maximum (0) */
    sn_sampler_free(&s);
    sn_sampler_init(&s, 0, 100);
    CHECK_CLOSE(sn_sampler_percentile(&s, 99.0), 0.0, 0, 0);
    sn_sampler_free(&s);
}

int main(void) {
    RUN(test_sampler);
    RUN(test_exact);
    RUN(test_exact_rejects);
    RUN(test_rate_fold);
    return sn_test_result();
}
