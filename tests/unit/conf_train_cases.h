/* The training-step conformance cases, shared by test_cpu_conformance.c (every vector width)
 * and test_cuda_conformance.c (every precision): one optimizer step from identical weights,
 * every kept tensor and updated weight against the reference interpreter. */
#ifndef SN_TEST_CONF_TRAIN_CASES_H
#define SN_TEST_CONF_TRAIN_CASES_H

#include "conf_cases.h"

typedef struct train_case {
    const char *name;
    int64_t batch;
    float offset; /* added to every input (a batch norm's mean far from its spread) */
    const char *yaml;
} train_case;

/* The ops of training, and shapes that stress the kernels: a loss over more rows than a
 * CUDA block has threads, a ternary mean over many blocks, BPTT over thousands of steps,
 * batch norm of inputs whose mean is 10^4 times their spread (normalized around the mean on
 * both backends; folded into x * s + b it loses 1e-3). */
static const train_case train_cases[] = {
    {"train_conv_bn_relu_pool_linear_sgd", 4, 0.0f,
     "train: {optimizer: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.001}\n" HEAD(
         3, 8, 8, 5) "network:\n  - f:\n    - conv2d: {out_channels: 20, kernel_size: 3, padding: "
                     "1, bias: false}\n    - batchnorm\n    - relu\n    - maxpool: {kernel_size: "
                     "2}\n  - c:\n    - flatten\n    - linear: {out_features: 5}\n"},
    {"train_conv_dropout_adam_avgpool", 3, 0.0f,
     "train: {optimizer: adam, lr: 0.01}\n" HEAD(
         16, 6, 6, 4) "network:\n  - f:\n    - conv2d: {out_channels: 24, kernel_size: 3, padding: "
                      "1}\n    - relu\n    - conv2d: {out_channels: 32, kernel_size: 3, padding: "
                      "1}\n    - relu\n    - avgpool: {kernel_size: 2}\n  - c:\n    - flatten\n    "
                      "- linear: {out_features: 40}\n    - relu\n    - dropout: {p: 0.4}\n    - "
                      "linear: {out_features: 4}\n"},
    {"train_quant_ternary_strided_maxpool_pad", 3, 0.0f,
     "quant: {k: 1, B: 2}\ntrain: {optimizer: sgd, lr: 0.05, momentum: 0.5}\n" HEAD(
         2, 12, 12, 6) "network:\n  - f:\n    - conv2d: {out_channels: 8, kernel_size: 5, bias: "
                       "false}\n    - batchnorm\n    - relu\n    - quant\n    - conv2d: "
                       "{out_channels: 12, kernel_size: 2, stride: 2, bias: false, weights: "
                       "ternary}\n    - batchnorm\n    - relu\n    - quant\n    - maxpool: "
                       "{kernel_size: 3, stride: 2, padding: 1}\n  - c:\n    - flatten\n    - "
                       "linear: {out_features: 6, bias: false}\n"},
    {"train_linear_bn_quant_mse", 5, 0.0f,
     "quant: {k: 2, B: 1}\ntrain: {optimizer: adam, lr: 0.001, loss: mse, weight_decay: "
     "0.01}\n" HEAD(1, 3, 5,
                    7) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 19}\n    - "
                       "batchnorm\n    - relu\n    - quant\n    - linear: {out_features: 7}\n"},
    {"train_snn_poisson_linear_lif_atan_mse", 4, 0.0f,
     "snn: {T: 6, encoder: poisson}\ntrain: {optimizer: adam, lr: 0.01, loss: mse}\n" HEAD(
         1, 5, 5, 7) "network:\n  - l:\n    - flatten\n    - linear: {out_features: 7, bias: "
                     "false}\n    - lif: {tau: 2.0, surrogate: atan, alpha: 2.0}\n"},
    {"train_snn_direct_conv_if_sigmoid_soft_detach", 3, 0.0f,
     "snn: {T: 4, encoder: direct}\ntrain: {optimizer: sgd, lr: 0.05, momentum: 0.9}\n" HEAD(
         3, 6, 6, 5) "network:\n  - f:\n    - conv2d: {out_channels: 18, kernel_size: 3, padding: "
                     "1}\n    - if: {v_reset: null, surrogate: sigmoid, alpha: 4.0, detach_reset: "
                     "true}\n    - avgpool: {kernel_size: 2}\n  - c:\n    - flatten\n    - linear: "
                     "{out_features: 5}\n    - lif: {tau: 3.0, decay_input: false, v_threshold: "
                     "0.5, v_reset: 0.1}\n"},
    {"train_strided_padded_conv_smoothing", 2, 0.0f,
     "train: {optimizer: sgd, lr: 0.02, label_smoothing: 0.2}\n" HEAD(
         20, 7, 7, 3) "network:\n  - f:\n    - conv2d: {out_channels: 17, kernel_size: 3, stride: "
                      "2, padding: 1}\n    - relu\n  - c:\n    - flatten\n    - linear: "
                      "{out_features: 3}\n"},
    {"train_loss_rows_600_smoothing", 600, 0.0f,
     "train: {optimizer: sgd, lr: 0.1, label_smoothing: 0.1}\n" HEAD(
         2, 2, 2, 5) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 5}\n"},
    {"train_mse_rows_300", 300, 0.0f,
     "train: {optimizer: sgd, lr: 0.1, loss: mse}\n" HEAD(
         3, 1, 1, 4) "network:\n  - c:\n    - flatten\n    - linear: {out_features: 4}\n"},
    {"train_ternary_mean_many_blocks", 2, 0.0f,
     "quant: {k: 1, B: 2}\ntrain: {optimizer: sgd, lr: 0.05}\n" HEAD(
         64, 4, 4, 3) "network:\n  - f:\n    - conv2d: {out_channels: 96, kernel_size: 3, padding: "
                      "1, bias: false, weights: ternary}\n    - relu\n    - quant\n  - c:\n    - "
                      "flatten\n    - linear: {out_features: 3, bias: false}\n"},
    {"train_lif_T2000", 2, 0.0f,
     "snn: {T: 2000, encoder: direct}\ntrain: {optimizer: sgd, lr: 0.05}\n" HEAD(
         1, 2, 3, 4) "network:\n  - l:\n    - flatten\n    - linear: {out_features: 5}\n    - lif: "
                     "{tau: 2.0}\n    - linear: {out_features: 4}\n"},
    {"train_bn_input_mean_1e4", 8, 10000.0f,
     "train: {optimizer: sgd, lr: 0.01}\n" HEAD(
         3, 4, 4, 5) "network:\n  - f:\n    - batchnorm\n    - relu\n  - c:\n    - flatten\n    - "
                     "linear: {out_features: 5}\n"},
};

#endif
