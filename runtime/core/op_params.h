/* Parameters of every op, with all shapes resolved: the one definition shared by the IR
 * lowering, the reference interpreter, the LLVM backend and the CUDA templates.
 * Tensor layouts are logical NCHW, weights OIHW, linear weights [out, in]. "N" is the
 * product of all leading batch-like dims (batch, or time x batch). */
#ifndef SN_OP_PARAMS_H
#define SN_OP_PARAMS_H

#include <stdint.h>

typedef struct sn_conv_params {
    int64_t N;
    int C, H, W;   /* input */
    int O, OH, OW; /* output */
    int KH, KW, SH, SW, PH, PW;
    int has_bias;
} sn_conv_params;

typedef struct sn_linear_params {
    int64_t N; /* rows */
    int K;     /* in features */
    int M;     /* out features */
    int has_bias;
} sn_linear_params;

typedef struct sn_pool_params {
    int64_t N;
    int C, H, W, OH, OW;
    int KH, KW, SH, SW, PH, PW;
} sn_pool_params;

typedef struct sn_bn_params {
    int64_t N;
    int C;
    int64_t HW; /* spatial size (1 after a linear layer) */
    float eps;
    float momentum; /* PyTorch convention, used in training */
} sn_bn_params;

typedef struct sn_quant_params {
    int k;   /* step 2^-k */
    float B; /* upper bound */
} sn_quant_params;

typedef enum sn_neuron_model { SN_NEURON_IF = 0, SN_NEURON_LIF = 1 } sn_neuron_model;
typedef enum sn_surrogate_fn { SN_SG_ATAN = 0, SN_SG_SIGMOID = 1 } sn_surrogate_fn;

/* spec-neurons.md: charge -> fire -> reset, SpikingJelly 0.0.0.0.14 semantics. */
typedef struct sn_neuron_params {
    sn_neuron_model model;
    float tau; /* LIF */
    float v_threshold;
    int hard_reset; /* 0 = soft reset (v_reset = none) */
    float v_reset;
    int decay_input; /* LIF */
    int detach_reset;
    sn_surrogate_fn surrogate;
    float alpha;
} sn_neuron_params;

/* Spatial threshold units (spec-spatiotemporal.md): U units per neuron, unit i of channel c
 * fires when V >= theta[c*U + i]; the output is the count of units that fired. */
typedef struct sn_threshold_params {
    int64_t N;
    int C;
    int64_t HW;
    int U;
} sn_threshold_params;

#endif
