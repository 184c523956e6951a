/* The op-conformance cases of the CPU backend, shared by test_cpu_conformance.c (fp32, every
 * vector width) and test_cpu_precision.c (bf16 and int8, every instruction path): small
 * models in YAML, and the weight and input fillers. "exact" cases use dyadic data (inputs
 * multiples of 1/4 in [-2, 2], weights of 1/8, batch norm with eps 0.25 and var 0.75 so the
 * folded scale is a power of two), on which every sum is exact. */
#ifndef SN_TEST_CONF_CASES_H
#define SN_TEST_CONF_CASES_H

#include <math.h>
#include <stdint.h>

#include "compiler/ir/ir.h"
#include "runtime/core/rng.h"
#include "runtime/cpu/layout.h"
#include "runtime/weights/weights.h"

typedef struct conf_case {
    const char *name;
    int exact;
    int64_t batch;
    int with_loss;
    const char *yaml; /* everything after name/num_classes; input given inside */
} conf_case;

#define HEAD(c, h, w, k)                                                                           \
    "input: {channels: " #c ", height: " #h ", width: " #w "}\nnum_classes: " #k "\n"

static const conf_case cases[] = {
    {"conv_plain_input_c3", 0, 2, 0,
     HEAD(3, 8, 8,
          16) "network:\n  - f:\n    - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n"
              "    - relu\n    - maxpool: {kernel_size: 8}\n    - flatten\n"},
    {"conv_c5_o7_valid_batch1", 0, 1, 0,
     HEAD(5, 5, 5,
          63) "network:\n  - f:\n    - conv2d: {out_channels: 7, kernel_size: 3}\n    - flatten\n"},
    {"conv_c20_o35_odd_map_pool_floor", 0, 3, 0,
     HEAD(20, 7, 9,
          420) "network:\n  - f:\n    - conv2d: {out_channels: 35, kernel_size: 3, padding: 1}\n"
               "    - relu\n    - maxpool: {kernel_size: 2}\n    - flatten\n"},
    {"conv_2x2_stride2", 0, 2, 0,
     HEAD(16, 6, 6,
          144) "network:\n  - f:\n    - conv2d: {out_channels: 16, kernel_size: 2, stride: 2}\n"
               "    - flatten\n"},
    {"conv_5x5_pad2_c1", 0, 2, 0,
     HEAD(1, 12, 12,
          864) "network:\n  - f:\n    - conv2d: {out_channels: 6, kernel_size: 5, padding: 2}\n"
               "    - flatten\n"},
    {"conv_7x7_pad3_stride2", 0, 2, 0,
     HEAD(4, 9, 9, 225) "network:\n  - f:\n    - conv2d: {out_channels: 9, kernel_size: 7, "
                        "padding: 3, stride: 2}\n"
                        "    - flatten\n"},
    {"conv_1x1_on_1x1", 0, 3, 0,
     HEAD(
         17, 1, 1,
         40) "network:\n  - f:\n    - conv2d: {out_channels: 40, kernel_size: 1}\n    - flatten\n"},
    {"conv_3x1_rect", 0, 2, 0,
     HEAD(8, 6, 5, 120) "network:\n  - f:\n    - conv2d: {out_channels: 4, kernel_size: [3, 1], "
                        "padding: [1, 0]}\n"
                        "    - flatten\n"},
    {"conv_bn_relu_maxpool", 0, 2, 0,
     HEAD(8, 8, 8,
          384) "network:\n  - f:\n    - conv2d: {out_channels: 24, kernel_size: 3, padding: 1}\n"
               "    - batchnorm\n    - relu\n    - maxpool: {kernel_size: 2}\n    - flatten\n"},
    {"conv_bn_relu_quant_maxpool_exact", 1, 2, 0,
     "quant: {k: 1, B: 2}\n" HEAD(
         8, 8, 8, 384) "network:\n  - f:\n"
                       "    - conv2d: {out_channels: 24, kernel_size: 3, padding: 1, bias: false}\n"
                       "    - batchnorm: {eps: 0.25}\n    - relu\n    - quant\n    - maxpool: "
                       "{kernel_size: 2}\n    - flatten\n"},
    {"conv_chain_quant_pool_exact", 1, 2, 0,
     "quant: {k: 2, B: 1}\n" HEAD(
         5, 8, 8, 192) "network:\n  - f:\n"
                       "    - conv2d: {out_channels: 20, kernel_size: 3, padding: 1}\n"
                       "    - relu\n    - quant\n    - maxpool: {kernel_size: 2}\n"
                       "    - conv2d: {out_channels: 24, kernel_size: 3, padding: 1, bias: false, "
                       "weights: ternary}\n"
                       "    - batchnorm: {eps: 0.25}\n    - relu\n    - quant\n"
                       "    - conv2d: {out_channels: 12, kernel_size: 1}\n    - flatten\n"},
    {"conv_ternary_bn_quant_exact", 1, 2, 0,
     "quant: {k: 0, B: 1}\n" HEAD(
         16, 6, 6, 720) "network:\n  - f:\n"
                        "    - conv2d: {out_channels: 20, kernel_size: 3, padding: 1, bias: false, "
                        "weights: ternary}\n"
                        "    - batchnorm: {eps: 0.25}\n    - relu\n    - quant\n    - flatten\n"},
    {"conv_relu_avgpool", 0, 2, 0,
     HEAD(6, 8, 8,
          160) "network:\n  - f:\n    - conv2d: {out_channels: 10, kernel_size: 3, padding: 1}\n"
               "    - relu\n    - avgpool: {kernel_size: 2}\n    - flatten\n"},
    {"maxpool_3x3_s2_p1", 0, 2, 0,
     HEAD(3, 9, 9,
          400) "network:\n  - f:\n    - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n"
               "    - maxpool: {kernel_size: 3, stride: 2, padding: 1}\n    - flatten\n"},
    {"avgpool_3x3_s1_p1", 0, 2, 0,
     HEAD(3, 5, 5, 125) "network:\n  - f:\n    - conv2d: {out_channels: 5, kernel_size: 1}\n"
                        "    - avgpool: {kernel_size: 3, stride: 1, padding: 1}\n    - flatten\n"},
    {"bn_standalone_relu_quant_exact", 1, 2, 0,
     "quant: {k: 2, B: 1}\n" HEAD(
         4, 8, 8, 320) "network:\n  - f:\n"
                       "    - conv2d: {out_channels: 20, kernel_size: 3, padding: 1}\n    - "
                       "maxpool: {kernel_size: 2}\n"
                       "    - batchnorm: {eps: 0.25}\n    - relu\n    - quant\n    - flatten\n"},
    {"flatten_linear_dropout_classifier", 0, 3, 0,
     HEAD(8, 3, 3, 3) "network:\n  - f:\n    - conv2d: {out_channels: 8, kernel_size: 1}\n  - c:\n "
                      "   - flatten\n"
                      "    - linear: {out_features: 35}\n    - relu\n    - dropout: {p: 0.3}\n    "
                      "- linear: {out_features: 3}\n"},
    {"linear_bn_relu_quant_exact", 1, 4, 0,
     "quant: {k: 1, B: 2}\n" HEAD(
         1, 4, 5, 10) "network:\n  - c:\n    - flatten\n"
                      "    - linear: {out_features: 24}\n    - batchnorm: {eps: 0.25}\n    - "
                      "relu\n    - quant\n    - linear: {out_features: 10}\n"},
    {"linear_batch1_k7_m3", 0, 1, 0,
     HEAD(7, 1, 1, 3) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 3}\n"},
    {"quant_on_flat_exact", 1, 3, 0,
     HEAD(1, 3, 3, 19) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 19}\n    - "
                       "quant: {k: 1, B: 4}\n"},
    {"snn_direct_conv_lif_if_exact", 1, 2, 0,
     "snn: {T: 3, encoder: direct}\n" HEAD(
         3, 6, 6,
         5) "network:\n  - f:\n"
            "    - conv2d: {out_channels: 12, kernel_size: 3, padding: 1}\n    - lif: {tau: 2.0}\n "
            "   - maxpool: {kernel_size: 2}\n"
            "  - c:\n    - flatten\n    - linear: {out_features: 5}\n    - if: {v_reset: null}\n"},
    {"snn_conv_if_gated_maxpool_exact", 1, 2, 0,
     "snn: {T: 6, encoder: direct}\n" HEAD(
         3, 7, 7,
         6) "network:\n  - f:\n"
            "    - conv2d: {out_channels: 20, kernel_size: 3, padding: 1}\n    - if: {v_reset: "
            "null}\n    - maxpool: {kernel_size: 2, spike_gate: true}\n"
            "    - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}\n    - if\n"
            "    - maxpool: {kernel_size: 3, stride: 1, padding: 1, spike_gate: true}\n"
            "  - c:\n    - flatten\n    - linear: {out_features: 6}\n"},
    {"snn_poisson_linear_lif_exact", 1, 3, 0,
     "snn: {T: 4, encoder: poisson}\n" HEAD(
         1, 4, 4, 7) "network:\n  - l:\n    - flatten\n"
                     "    - linear: {out_features: 7, bias: false}\n    - lif: {tau: 4.0, v_reset: "
                     "0.5, v_threshold: 0.75}\n"},
    {"snn_lif_no_decay_input_exact", 1, 2, 0,
     "snn: {T: 5, encoder: direct}\n" HEAD(2, 3, 3,
                                           6) "network:\n  - l:\n    - flatten\n"
                                              "    - linear: {out_features: 6}\n    - lif: {tau: "
                                              "2.0, decay_input: false, v_reset: null}\n"},
    {"nir_linear_lif_li_exact", 1, 3, 0,
     "snn: {T: 5, encoder: direct}\n" HEAD(2, 3, 3,
                                           4) "network:\n  - l:\n    - flatten\n"
                                              "    - linear: {out_features: 19}\n"
                                              "    - nir_lif: {dt: 0.25}\n"
                                              "    - linear: {out_features: 4}\n"
                                              "    - nir_li: {dt: 0.25, discretization: exact}\n"},
    {"nir_scale_conv_if_sumpool_lif_i_exact", 1, 2, 0,
     "snn: {T: 4, encoder: direct}\n" HEAD(
         3, 6, 6,
         5) "network:\n  - f:\n    - scale\n"
            "    - conv2d: {out_channels: 20, kernel_size: 3, padding: 1}\n"
            "    - nir_if: {reset: subtract}\n    - sumpool: {kernel_size: 2}\n"
            "    - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
            "    - nir_lif: {dt: 0.5, discretization: exact}\n    - sumpool: {kernel_size: 3, "
            "stride: 1, padding: 1}\n"
            "  - c:\n    - flatten\n    - linear: {out_features: 5}\n    - nir_i\n"},
    {"nir_threshold_if_value_reset_exact", 1, 2, 0,
     "snn: {T: 3, encoder: direct}\n" HEAD(1, 4, 5, 3) "network:\n  - c:\n    - flatten\n"
                                                       "    - linear: {out_features: 37}\n"
                                                       "    - nir_threshold\n"
                                                       "    - linear: {out_features: 7}\n"
                                                       "    - nir_if\n"
                                                       "    - linear: {out_features: 11}\n"
                                                       "    - nir_threshold: {compare: ge}\n"
                                                       "    - linear: {out_features: 3}\n"
                                                       "    - nir_if: {compare: ge, reset: "
                                                       "subtract}\n"},
    {"loss_softmax_ce_smoothing", 0, 5, 1,
     "train: {label_smoothing: 0.1}\n" HEAD(
         6, 1, 1, 4) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 4}\n"},
    {"loss_mse", 0, 5, 1,
     "train: {loss: mse, optimizer: adam}\n" HEAD(
         6, 1, 1, 4) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 4}\n"},
    {"wino_c32_o40_relu_maxpool", 0, 3, 0,
     HEAD(32, 8, 8,
          640) "network:\n  - f:\n    - conv2d: {out_channels: 40, kernel_size: 3, padding: 1}\n"
               "    - relu\n    - maxpool: {kernel_size: 2}\n    - flatten\n"},
    {"wino_valid_c20_o24", 0, 2, 0,
     HEAD(20, 10, 6, 768) "network:\n  - f:\n    - conv2d: {out_channels: 24, kernel_size: 3}\n    "
                          "- flatten\n"},
    {"wino_two_phase_o144_avgpool", 0, 3, 0,
     HEAD(24, 4, 6,
          864) "network:\n  - f:\n    - conv2d: {out_channels: 144, kernel_size: 3, padding: 1}\n"
               "    - relu\n    - avgpool: {kernel_size: 2}\n    - flatten\n"},
    {"wino_bn_quant_exact", 1, 2, 0,
     "quant: {k: 1, B: 2}\n" HEAD(
         16, 6, 6, 1296) "network:\n  - f:\n"
                         "    - conv2d: {out_channels: 36, kernel_size: 3, padding: 1, bias: "
                         "false, weights: ternary}\n"
                         "    - batchnorm: {eps: 0.25}\n    - relu\n    - quant\n    - flatten\n"},
    {"wino_chain_two_layers", 0, 2, 0,
     HEAD(16, 4, 4,
          10) "network:\n  - f:\n    - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}\n"
              "    - relu\n    - conv2d: {out_channels: 200, kernel_size: 3, padding: 1}\n    - "
              "relu\n"
              "    - maxpool: {kernel_size: 4}\n  - c:\n    - flatten\n    - linear: "
              "{out_features: 10}\n"},
    {"tiny_vgg_cfg", 0, 3, 0,
     HEAD(3, 8, 8,
          10) "vgg:\n  cfg: [8, M, 16, M, 16, M]\n  conv: {kernel_size: 3, padding: 1, bias: true, "
              "batch_norm: true}\n"
              "  classifier: {hidden: [32], dropout: 0.3, dropout_position: before, bias: true}\n"},
};

/* Fills tensors: dyadic values in exact mode. */
static inline void fill(float *p, int64_t n, int exact, float lo, float hi, float step, sn_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        float u = lo + (hi - lo) * sn_rng_uniform(r);
        p[i] = exact ? (float)(int)(u / step) * step : u;
    }
}

static inline void randomize_weights(sn_weights *w, int exact, sn_rng *r) {
    for (int i = 0; i < w->n; i++) {
        const sn_param_desc *d = &w->desc[i];
        int64_t n = sn_shape_numel(&d->shape);
        if (d->dtype != SN_F32) continue;
        float *p = w->data[i];
        float bound = d->fan_in > 0 ? 1.5f / sqrtf((float)d->fan_in) : 0.5f;
        switch (d->role) {
        case SN_ROLE_WEIGHT:
            fill(p, n, exact, -bound - 0.125f, bound + 0.125f, 0.125f, r);
            break;
        case SN_ROLE_BIAS:
            fill(p, n, exact, -0.5f, 0.5f, 0.125f, r);
            break;
        case SN_ROLE_BN_WEIGHT:
            for (int64_t j = 0; j < n; j++)
                p[j] = exact ? (j % 3 == 0   ? 0.5f
                                : j % 3 == 1 ? 1.0f
                                             : 2.0f)
                             : 0.5f + sn_rng_uniform(r);
            break;
        case SN_ROLE_BN_BIAS:
        case SN_ROLE_BN_MEAN:
            fill(p, n, exact, -0.5f, 0.5f, 0.125f, r);
            break;
        case SN_ROLE_BN_VAR:
            for (int64_t j = 0; j < n; j++) p[j] = exact ? 0.75f : 0.5f + sn_rng_uniform(r);
            break;
        case SN_ROLE_BN_COUNT:
            break;
        case SN_ROLE_ONES: /* scale, and tau, r, v_threshold of nir_* neurons: positive */
            fill(p, n, exact, 0.5f, 1.5f, 0.125f, r);
            break;
        case SN_ROLE_ZEROS: /* v_leak, v_reset of nir_* neurons */
            fill(p, n, exact, -0.5f, 0.5f, 0.125f, r);
            break;
        case SN_ROLE_THETA: { /* ascending per channel, on the 1/8 grid when exact */
            int64_t U = d->shape.rank == 2 ? d->shape.d[1] : 1;
            for (int64_t j = 0; j < n; j += U) {
                float t = exact ? -1.0f + 0.125f * (float)sn_rng_below(r, 16)
                                : -1.0f + 2.0f * sn_rng_uniform(r);
                for (int64_t u = 0; u < U; u++) {
                    p[j + u] = t;
                    t += exact ? 0.125f * (float)(1 + sn_rng_below(r, 8))
                               : 0.05f + sn_rng_uniform(r);
                }
            }
            break;
        }
        }
    }
}

/* The layout a CPU plan buffer records, rebuilt from its name ("NCHW16c+h1", "NC", ...). */
static inline sn_cpu_layout parse_layout(const char *s, const sn_tensor *t) {
    int C, H, W;
    sn_tensor_dims(t, &C, &H, &W);
    return sn_lay_parse(s, C, H, W);
}

#endif
