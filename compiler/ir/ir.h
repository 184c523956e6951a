/* Graph IR: ops over tensors with static shapes.
 *
 * A graph is a list of nodes in topological order (every input of node i is produced by
 * an earlier node or is a graph input/parameter). Tensors are values: each has exactly
 * one producer (or none, for inputs, labels, parameters and buffers). Activations carry
 * `lead` leading batch-like dims: 1 for [N, ...], 2 for time-major [T, N, ...] in spiking
 * graphs. Layout is logical NCHW; physical layout is chosen later by the scheduler.
 *
 * Parameters and buffers are named exactly as the equivalent PyTorch module's
 * state_dict() ("features.0.weight", "features.1.running_mean", ...). */
#ifndef SN_IR_H
#define SN_IR_H

#include <stdint.h>

#include "../../runtime/core/op_params.h"
#include "../../runtime/core/status.h"
#include "../../runtime/core/tensor.h"
#include "../../runtime/weights/weights.h"

#define SN_IR_NAME_MAX 128
#define SN_IR_MAX_IN   6
#define SN_IR_MAX_OUT  3

typedef enum sn_op {
    SN_OP_CONV2D = 0,     /* x, w, [b] -> y */
    SN_OP_LINEAR,         /* x, w, [b] -> y ; x [..., K] */
    SN_OP_MAXPOOL,        /* x -> y */
    SN_OP_AVGPOOL,        /* x -> y */
    SN_OP_RELU,           /* x -> y */
    SN_OP_BATCHNORM,      /* x, gamma, beta, running_mean, running_var -> y (inference form) */
    SN_OP_DROPOUT,        /* x -> y (identity at evaluation) */
    SN_OP_FLATTEN,        /* x [lead..., C, H, W] -> [lead..., C*H*W] */
    SN_OP_QUANT,          /* x -> Q(k,B)(x) */
    SN_OP_TERNARY,        /* w -> ternarized w */
    SN_OP_NEURON,         /* x [T, N, ...] -> spikes [T, N, ...] (IF or LIF) */
    SN_OP_THRESHOLD,      /* v, theta[C, U] -> counts */
    SN_OP_ENCODE_POISSON, /* x [N, ...] -> spikes [T, N, ...] */
    SN_OP_ENCODE_DIRECT,  /* x [N, ...] -> x repeated [T, N, ...] */
    SN_OP_TIME_MEAN,      /* x [T, N, ...] -> mean over T [N, ...] */
    SN_OP_SPIKE_DROP,     /* counts x (whole numbers in [0, U]) -> each spike kept with
                             probability 1 - p (the noise experiment) */
    SN_OP_SOFTMAX_CE,     /* logits [N, K], labels [N] (I32) -> loss [] */
    SN_OP_MSE_ONEHOT,     /* x [N, K], labels [N] (I32) -> loss [] */
    SN_OP_SCALE,          /* x, s (the per-sample shape of x) -> x * s */
    SN_OP_SUMPOOL,        /* x -> window sums (avgpool without the division) */
    SN_OP_NIR_NEURON,     /* x [T, N, ...], parameter arrays (sn_nir_neuron_uses) -> spikes or
                             membrane potentials [T, N, ...] (op_params.h) */
    /* training forward (a.training): batch statistics, running-stat update in place */
    SN_OP_BATCHNORM_TRAIN, /* x, gamma, beta, rmean, rvar, count -> y, save_mean, save_invstd */
    /* backward ops (reverse mode); "dy" is the gradient of the forward output */
    SN_OP_CONV2D_BWD_DATA,   /* dy, w, x (shape only) -> dx */
    SN_OP_CONV2D_BWD_WEIGHT, /* x, dy -> dw [, db] */
    SN_OP_LINEAR_BWD_DATA,   /* dy, w, x (shape only) -> dx */
    SN_OP_LINEAR_BWD_WEIGHT, /* x, dy -> dw [, db] */
    SN_OP_POOL_BWD,          /* x, dy -> dx (a.max: max pooling, else average) */
    SN_OP_RELU_BWD,          /* y (the relu output), dy -> dx */
    SN_OP_QUANT_BWD,         /* x (the quant input), dy -> dx: straight-through, 0 < x < B */
    SN_OP_BATCHNORM_BWD,     /* x, dy, gamma, save_mean, save_invstd -> dx, dgamma, dbeta */
    SN_OP_DROPOUT_BWD,       /* dy -> dx (the forward mask regenerated from the seed) */
    SN_OP_FLATTEN_BWD,       /* dy, x (shape only) -> dx */
    SN_OP_SOFTMAX_CE_BWD,    /* logits, labels -> d(mean loss)/d logits */
    SN_OP_MSE_ONEHOT_BWD,    /* x, labels -> d(mean loss)/dx */
    SN_OP_NEURON_BWD,        /* x (the neuron input), dspikes -> dx (BPTT over T) */
    SN_OP_TIME_MEAN_BWD,     /* dy, x (shape only) -> dx */
    SN_OP_ENCODE_DIRECT_BWD, /* ds [T, N, ...] -> dx [N, ...] (sum over T) */
    SN_OP_ADD,               /* a, b -> a + b (gradient accumulation) */
    /* optimizer updates: no outputs; update the parameter and state tensors in place, with
     * the learning rate and step count given at run time */
    SN_OP_SGD_UPDATE,  /* param, grad, momentum_buf (momentum > 0) */
    SN_OP_ADAM_UPDATE, /* param, grad, exp_avg, exp_avg_sq */
    SN_OP_COUNT
} sn_op;

typedef enum sn_tensor_kind {
    SN_T_INPUT = 0, /* the image batch */
    SN_T_LABEL,     /* class indices, I32 [N] */
    SN_T_PARAM,     /* trainable parameter */
    SN_T_BUFFER,    /* persistent non-trainable state (BN running stats) */
    SN_T_ACT,       /* produced by a node */
    SN_T_CONST,     /* derived constant (e.g. folded thresholds) */
    SN_T_OPTSTATE,  /* optimizer state ("optimizer.<slot>.<param>"), persistent */
} sn_tensor_kind;

typedef struct sn_tensor {
    sn_tensor_kind kind;
    sn_dtype dtype;
    sn_shape shape;
    int lead;           /* leading batch-like dims (activations); 0 for params */
    int producer;       /* node index, or -1 */
    sn_param_role role; /* for params/buffers: how to initialize it */
    int64_t fan_in, fan_out;
    char name[SN_IR_NAME_MAX];
} sn_tensor;

typedef struct sn_attrs {
    int kh, kw, sh, sw, ph, pw; /* conv / pool */
    int has_bias;               /* conv / linear */
    float eps, momentum;        /* batchnorm */
    float p;                    /* dropout */
    sn_quant_params quant;      /* quant */
    float ternary_threshold;    /* ternary */
    sn_neuron_params neuron;    /* neuron */
    int T;                      /* encoders */
    int U;                      /* threshold units per neuron */
    int spike_input;            /* conv/linear: > 0 when the input is known to hold whole numbers in
                                   [0, spike_input] (spike counts; set by the SNN converter) */
    int int_weights;   /* conv/linear: the weights are known to be whole numbers in [-127, 127] */
    float input_scale; /* encode_direct: multiplier applied to the input (0 = 1) */
    int spike_gate;    /* maxpool over [T, N, ...] spike trains: out[t] = the spike at t of the
                          window input with the most spikes in steps 0..t (first in window order
                          on ties) */
    sn_nir_neuron_params nir; /* nir_neuron */
    int record_v; /* neuron, nir_neuron (spiking models): a second output holds the membrane
                     potential after every step (after the reset), [T, N, ...] */
    int stateful; /* neuron, time_mean in a step-major graph: state carried across the T
                          runs of the plan (membrane potential; the running sum, with T the
                          total step count) */
    float label_smoothing; /* softmax_ce */
    int training;          /* dropout, batchnorm_train: training semantics */
    int sync;              /* batchnorm_train (and its backward): statistics of the global batch
                              of a data-parallel job (train.sync_bn), summed over the ranks */
    uint64_t stream;       /* dropout: RNG stream (shared by forward and backward) */
    int max;               /* pool_bwd: max (1) or average (0) */
    /* optimizer */
    float opt_momentum, weight_decay, beta1, beta2, opt_eps;
    int nesterov;
} sn_attrs;

typedef struct sn_node {
    sn_op op;
    int in[SN_IR_MAX_IN];
    int nin;
    int out[SN_IR_MAX_OUT];
    int nout;
    sn_attrs a;
    char name[SN_IR_NAME_MAX]; /* "features.0" */
    int layer;                 /* index of the spec layer it came from, or -1 */
} sn_node;

typedef struct sn_graph {
    char model[64];
    sn_tensor *tensors;
    int ntensors, cap_tensors;
    sn_node *nodes;
    int nnodes, cap_nodes;
    int64_t batch; /* N */
    int T;         /* time steps (1 for ANNs) */
    int input;     /* tensor id of the image batch */
    int output;    /* tensor id of the logits / rates [N, num_classes] */
    int label;     /* -1 when the graph has no loss */
    int loss;      /* -1 when the graph has no loss */
    int num_classes;
    int training;   /* built for training (batch statistics, dropout masks) */
    int step_major; /* one time step per plan run (the time axis has length 1; the plan runs
                       T times per batch, neurons keep their state between runs) */
} sn_graph;

/* ---- construction ---- */
void sn_graph_init(sn_graph *g);
void sn_graph_free(sn_graph *g);
/* Adds a tensor; returns its id or -1 (out of memory, recorded in st). */
int sn_graph_add_tensor(sn_graph *g, sn_tensor_kind kind, sn_dtype dtype, const sn_shape *shape,
                        int lead, const char *name, sn_status *st);
/* Adds a node whose output shapes are inferred from its inputs; returns the id of its
 * first output tensor or -1 with a message naming the node (and `where`, e.g. the YAML
 * position of the layer, if not NULL). */
int sn_graph_add_node(sn_graph *g, sn_op op, const int *in, int nin, const sn_attrs *a,
                      const char *name, int layer, const char *where, sn_status *st);

/* ---- op information ---- */
const char *sn_op_name(sn_op op);
/* Infers the output shapes of a node (writes shapes and lead of each output). Returns
 * SN_ERR_INPUT with a description of the mismatch. */
sn_code sn_infer_shapes(const sn_graph *g, sn_op op, const int *in, int nin, const sn_attrs *a,
                        sn_shape *out_shapes, int *out_lead, sn_dtype *out_dtype, int *nout,
                        sn_status *st);
/* Multiply-accumulates of one execution of node i (all batch elements). */
int64_t sn_node_macs(const sn_graph *g, int i);
/* Images in an activation: the product of its leading dims (N, or T x N). */
int64_t sn_tensor_images(const sn_tensor *t);
/* The map dims of an activation [lead..., C, H, W] or [lead..., K] (then H = W = 1). */
void sn_tensor_dims(const sn_tensor *t, int *C, int *H, int *W);

/* ---- checks and views ---- */
/* Verifies structural invariants (topological order, arity, single producer, shape
 * inference agrees, names unique, dtypes). */
sn_code sn_graph_verify(const sn_graph *g, sn_status *st);
/* Number of nodes reading tensor t. */
int sn_tensor_uses(const sn_graph *g, int t);
int64_t sn_graph_param_count(const sn_graph *g); /* trainable parameters */

struct sn_strbuf;
/* Text form: one line per node, "%3 = conv2d(%0, %1) {k=3x3 s=1 p=1} : f32[1, 64, 32, 32]". */
void sn_graph_print(const sn_graph *g, struct sn_strbuf *out);
/* Graphviz dot. */
void sn_graph_dot(const sn_graph *g, struct sn_strbuf *out);

/* Parameter/buffer descriptions (state_dict order) for the weight store. Returns count;
 * *out is malloc'd (free with free()). */
int sn_graph_param_descs(const sn_graph *g, sn_param_desc **out);
/* Optimizer-state descriptions of one slot ("momentum", "exp_avg", ...): named like the
 * parameters they belong to (without the "optimizer.<slot>." prefix). */
int sn_graph_optstate_descs(const sn_graph *g, const char *slot, sn_param_desc **out);
/* Whether an op is a backward or optimizer op (part of the training step). */
int sn_op_is_backward(sn_op op);

#endif
