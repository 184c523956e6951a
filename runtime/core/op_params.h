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

/* Continuous-time neurons with NIR semantics (docs/nir.md), discretized at dt. Per neuron i,
 * with parameter arrays of the per-sample shape, k = dt/tau (Euler) or 1 - exp(-dt/tau)
 * (exact for an input held over the step), for every step:
 *   LIF, LI:  h = v + k * ((v_leak - v) + r * x)
 *   IF, I:    h = v + r * x
 *   IF, LIF:  s = [h > v_threshold]; v = s ? (subtract ? h - v_threshold : v_reset) : h; y = s
 *   LI, I:    v = h; y = v
 *   THRESHOLD: y = [x > v_threshold] (no state)
 * (with `ge`, every > above is >=)
 * starting from v = v_leak (LIF, LI), v_reset (IF; 0 when subtract) or 0 (I). */
typedef enum sn_nir_model {
    SN_NIR_IF = 0,
    SN_NIR_LIF,
    SN_NIR_LI,
    SN_NIR_I,
    SN_NIR_THRESHOLD,
} sn_nir_model;

typedef struct sn_nir_neuron_params {
    sn_nir_model model;
    float dt;
    int exact;    /* discretization: 0 Euler, 1 exact */
    int subtract; /* reset by subtraction instead of to v_reset */
    int ge;       /* fire (and threshold) at h >= v_threshold instead of h > v_threshold */
} sn_nir_neuron_params;

/* The parameter arrays, in the order they follow x among a node's inputs (those the model
 * reads: see sn_nir_neuron_uses). */
enum {
    SN_NIRP_TAU = 0,
    SN_NIRP_R,
    SN_NIRP_V_LEAK,
    SN_NIRP_V_THRESHOLD,
    SN_NIRP_V_RESET,
    SN_NIRP_COUNT
};

static inline int sn_nir_neuron_uses(const sn_nir_neuron_params *p, int which) {
    int leaky = p->model == SN_NIR_LIF || p->model == SN_NIR_LI;
    int spiking = p->model == SN_NIR_LIF || p->model == SN_NIR_IF;
    switch (which) {
    case SN_NIRP_TAU:
    case SN_NIRP_V_LEAK:
        return leaky;
    case SN_NIRP_R:
        return p->model != SN_NIR_THRESHOLD;
    case SN_NIRP_V_THRESHOLD:
        return spiking || p->model == SN_NIR_THRESHOLD;
    case SN_NIRP_V_RESET:
        return spiking && !p->subtract;
    default:
        return 0;
    }
}

/* Spatial threshold units (spec-spatiotemporal.md): U units per neuron, unit i of channel c
 * fires when V >= theta[c*U + i]; the output is the count of units that fired. */
typedef struct sn_threshold_params {
    int64_t N;
    int C;
    int64_t HW;
    int U;
} sn_threshold_params;

#endif
