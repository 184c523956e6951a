/* ModelSpec: the typed, checked form of a model YAML (see docs/model-yaml.md).
 *
 * The frontend parses YAML into a small document tree (yaml_dom.h), applies `--set`
 * overrides to it, then converts it into this struct, filling defaults and validating
 * every value. A VGG cfg list is expanded here into the explicit layer list, so later
 * stages see one form only; `vgg_cfg` is kept for printing.
 *
 * Layers are grouped into named Sequential containers ("features", "classifier", ...)
 * so that parameter names match the equivalent PyTorch module's state_dict():
 * the parameter of layer `index` in container `module` is "<module>.<index>.weight".
 */
#ifndef SN_SPEC_H
#define SN_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/core/status.h"

#define SN_NAME_MAX 64
#define SN_PATH_MAX 1024
#define SN_MAX_LIST 64

typedef struct sn_src_loc {
    int line; /* 1-based; 0 when the value came from a default or a --set override */
    int col;  /* 1-based */
} sn_src_loc;

typedef enum sn_layer_kind {
    SN_LAYER_CONV2D,
    SN_LAYER_LINEAR,
    SN_LAYER_MAXPOOL,
    SN_LAYER_AVGPOOL,
    SN_LAYER_RELU,
    SN_LAYER_BATCHNORM,
    SN_LAYER_DROPOUT,
    SN_LAYER_FLATTEN,
    SN_LAYER_QUANT,     /* Q(k, B) activation quantizer (includes the clip to [0, B]) */
    SN_LAYER_IF,        /* integrate-and-fire neuron */
    SN_LAYER_LIF,       /* leaky integrate-and-fire neuron */
    SN_LAYER_THRESHOLD, /* spatial threshold units: `units` per neuron, thresholds from the
                           weights file (<module>.<index>.theta [C, units]); output = count */
    SN_LAYER_SCALE,     /* y = s * x elementwise; s (<module>.<index>.scale) has the layer's
                           per-sample shape (NIR Scale) */
    SN_LAYER_SUMPOOL,   /* window sum (NIR SumPool2d): kernel/stride/padding as avgpool */
    /* Continuous-time neurons with NIR semantics (docs/nir.md): per-neuron parameter arrays
     * of the layer's per-sample shape in the weights file, discretized at `ct.dt`, strict
     * threshold v > v_threshold. */
    SN_LAYER_NIR_IF,        /* dv/dt = r I; spike and reset (to v_reset, or subtract) */
    SN_LAYER_NIR_LIF,       /* tau dv/dt = (v_leak - v) + r I; spike and reset */
    SN_LAYER_NIR_LI,        /* tau dv/dt = (v_leak - v) + r I; output v (no spikes) */
    SN_LAYER_NIR_I,         /* dv/dt = r I; output v */
    SN_LAYER_NIR_THRESHOLD, /* z = [x > threshold], stateless */
    SN_LAYER_KIND_COUNT
} sn_layer_kind;

typedef enum sn_weight_quant {
    SN_WQ_NONE = 0,
    SN_WQ_TERNARY, /* W_t = sign(W) where |W| > t*mean|W| else 0 (seed 001) */
    SN_WQ_INTEGER, /* stored weights are whole numbers in [-127, 127] (checked at load; lets
                      the CPU backend use integer kernels) */
} sn_weight_quant;

typedef enum sn_surrogate { SN_SURR_ATAN = 0, SN_SURR_SIGMOID } sn_surrogate;

typedef struct sn_neuron_spec {
    float tau;         /* LIF only, > 1 */
    float v_threshold; /* > 0 */
    int hard_reset;    /* 1: hard reset to v_reset; 0: soft reset (v_reset = none) */
    float v_reset;     /* used when hard_reset */
    int decay_input;   /* LIF only */
    int detach_reset;
    sn_surrogate surrogate;
    float alpha; /* surrogate sharpness; default 2 (ATan) or 4 (Sigmoid) */
} sn_neuron_spec;

/* Discretization of a continuous-time (nir_*) neuron layer. */
typedef struct sn_ct_spec {
    float dt;     /* time step in seconds (> 0; nir_lif, nir_li) */
    int exact;    /* 0: forward Euler, k = dt/tau; 1: exact for input held over the step,
                     k = 1 - exp(-dt/tau) */
    int subtract; /* nir_if, nir_lif: 0: v <- v_reset after a spike; 1: v <- v - v_threshold */
    int ge;       /* nir_if, nir_lif, nir_threshold: fire at v >= v_threshold (snnc's and
                     SpikingJelly's test) instead of NIR's v > v_threshold */
} sn_ct_spec;

typedef struct sn_layer_spec {
    sn_layer_kind kind;
    sn_src_loc loc;           /* where the layer was written (the cfg entry for VGG) */
    char module[SN_NAME_MAX]; /* container name, e.g. "features" */
    int index;                /* position inside the container (PyTorch Sequential index);
                                 -1: a functional op with no Sequential slot and no
                                 parameters (the flatten between features and classifier,
                                 torch.flatten in forward()) */

    /* conv2d */
    int out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w; /* symmetric zero padding */
    /* linear */
    int in_features; /* 0 = take the size of its input; else checked against it
                        (VGG form: the first classifier layer expects the last
                        cfg channel count, i.e. a 1x1 feature map, as in PyTorch) */
    /* conv2d / linear */
    int out_features;
    int bias; /* 0/1 */
    sn_weight_quant weight_quant;
    /* maxpool / avgpool: kernel_h/w, stride_h/w, pad_h/w above */
    int spike_gate; /* maxpool of spike trains: pass the spikes of the window's input with the
                       most spikes so far (not the OR of the window) */
    /* batchnorm */
    float bn_eps;      /* default 1e-5 */
    float bn_momentum; /* PyTorch convention: running = (1-m)*running + m*batch; default 0.1 */
    /* dropout */
    float dropout_p; /* in [0, 1) */
    /* quant: resolved from the top-level quant section unless given on the layer */
    int quant_k;   /* >= 0 */
    float quant_B; /* > 0 */
    /* if / lif */
    sn_neuron_spec neuron;
    /* threshold */
    int units;
    /* nir_lif, nir_li, nir_if */
    sn_ct_spec ct;
} sn_layer_spec;

/* nir_if, nir_lif, nir_li, nir_i, nir_threshold */
static inline int sn_layer_is_nir_neuron(sn_layer_kind k) {
    return k >= SN_LAYER_NIR_IF && k <= SN_LAYER_NIR_THRESHOLD;
}
/* Layers that make a network a spiking (time-stepped) one. */
static inline int sn_layer_is_spiking(sn_layer_kind k) {
    return k == SN_LAYER_IF || k == SN_LAYER_LIF || k == SN_LAYER_THRESHOLD ||
           sn_layer_is_nir_neuron(k);
}

typedef enum sn_encoder { SN_ENC_DIRECT = 0, SN_ENC_POISSON } sn_encoder;
typedef enum sn_readout {
    SN_READOUT_RATE = 0, /* output spikes counted over T, divided by T */
    SN_READOUT_MEMBRANE, /* last layer's accumulated input (no spikes) */
} sn_readout;

typedef enum sn_dataset_kind {
    SN_DATA_NONE = 0,
    SN_DATA_CIFAR10,
    SN_DATA_CIFAR100,
    SN_DATA_MNIST
} sn_dataset_kind;

typedef struct sn_augment_spec {
    int random_crop_size;           /* 0 = off; else crop this size (seed 001: 24) */
    int random_crop_padding;        /* pad then crop back to the input size (0 = off) */
    int hflip;                      /* random horizontal flip */
    float brightness;               /* max |delta| in pixel units of the 0..255 scale; 0 = off */
    float contrast_lo, contrast_hi; /* random contrast factor range; 0,0 = off */
} sn_augment_spec;

typedef struct sn_data_spec {
    sn_dataset_kind dataset;
    char path[SN_PATH_MAX];        /* directory holding the dataset files ("" = none given) */
    float scale;                   /* pixel multiplier before normalization: 1/255 or 1 */
    int nmean, nstd;               /* 0, 1 or C entries */
    float mean[4], std[4];         /* (x*scale - mean)/std per channel */
    int per_image_standardization; /* seed 001: (x - mean)/max(std, 1/sqrt(N)) */
    sn_augment_spec augment;       /* training only */
    /* evaluation: images larger than the model input are center-cropped */
} sn_data_spec;

typedef enum sn_optimizer { SN_OPT_SGD = 0, SN_OPT_ADAM } sn_optimizer;
typedef enum sn_schedule {
    SN_SCHED_CONSTANT = 0,
    SN_SCHED_MULTISTEP,
    SN_SCHED_COSINE,
} sn_schedule;
typedef enum sn_loss { SN_LOSS_CROSS_ENTROPY = 0, SN_LOSS_MSE } sn_loss;
typedef enum sn_init {
    SN_INIT_TORCH_DEFAULT = 0, /* PyTorch's reset_parameters(): kaiming_uniform(a=sqrt(5)) */
    SN_INIT_KAIMING_NORMAL,
    SN_INIT_KAIMING_UNIFORM,
    SN_INIT_XAVIER_UNIFORM,
} sn_init;

typedef struct sn_train_spec {
    sn_optimizer optimizer;
    float lr;
    float momentum; /* SGD */
    int nesterov;   /* SGD */
    float weight_decay;
    float beta1, beta2, eps; /* Adam */
    sn_schedule schedule;
    int milestones[SN_MAX_LIST]; /* epochs, for multistep */
    int nmilestones;
    float gamma;       /* multistep factor */
    float min_lr;      /* cosine floor */
    int warmup_epochs; /* linear warmup from warmup_start_lr to lr */
    float warmup_start_lr;
    int epochs;
    int batch_size;
    float label_smoothing; /* [0, 1) */
    sn_loss loss;
    sn_init init;
    int init_fan_out; /* kaiming mode: 0 = fan_in, 1 = fan_out */
    uint64_t seed;
    int shuffle;
    int sync_bn; /* data-parallel training: batch norm over the global batch, not per rank */
} sn_train_spec;

typedef struct sn_quant_spec {
    int enabled; /* a top-level quant section was given */
    int k;       /* default for quant layers */
    float B;
    float ternary_threshold; /* 0.7 */
} sn_quant_spec;

typedef struct sn_snn_spec {
    int enabled; /* a top-level snn section was given */
    int T;       /* time steps, >= 1 */
    sn_encoder encoder;
    float input_scale; /* direct encoder: the image is multiplied by this (default 1; 2^k in a
                          converted threshold network) */
    sn_readout readout;
    sn_neuron_spec neuron;     /* defaults for if/lif layers */
    sn_layer_kind neuron_kind; /* snn.neuron.model: SN_LAYER_IF (default) or SN_LAYER_LIF, the
                                  neuron an ANN->SNN conversion puts in place of each ReLU */
} sn_snn_spec;

typedef struct sn_model_spec {
    char name[SN_NAME_MAX];
    char source_path[SN_PATH_MAX]; /* the YAML file (for messages) */

    int in_channels, in_height, in_width;
    int num_classes;

    /* Provenance when the network came from a VGG cfg list (printing only). */
    int from_vgg;
    int vgg_cfg[SN_MAX_LIST]; /* channel counts; 0 means 'M' (pool) */
    int vgg_cfg_len;

    sn_layer_spec *layers; /* explicit, expanded, in execution order */
    int nlayers;

    sn_quant_spec quant;
    sn_snn_spec snn;
    sn_data_spec data;
    sn_train_spec train;
} sn_model_spec;

/* Parses a model YAML file, applies overrides ("key.path=value", may be NULL/0), fills
 * defaults and validates. On error returns SN_ERR_INPUT with a message of the form
 * "FILE:LINE:COL: what was expected" (or "--set KEY: ..." for an override). */
sn_code sn_spec_load(const char *path, const char *const *overrides, int noverrides,
                     sn_model_spec *out, sn_status *st);
/* Same, from a string in memory (`name` is used in messages). */
sn_code sn_spec_parse(const char *name, const char *text, size_t len, const char *const *overrides,
                      int noverrides, sn_model_spec *out, sn_status *st);
void sn_spec_free(sn_model_spec *spec);

/* Writes the resolved spec as YAML in the explicit (network:) form, every field
 * with its value; parsing the output gives back the same spec. */
struct sn_strbuf;
void sn_spec_print_yaml(const sn_model_spec *spec, struct sn_strbuf *out);

const char *sn_layer_kind_name(sn_layer_kind k); /* the YAML spelling: "conv2d", ... */

/* Compares two specs field by field, ignoring where things were written (layer loc,
 * source_path) and the VGG provenance (from_vgg, vgg_cfg), which the network: form that
 * sn_spec_print_yaml writes does not carry. Returns 1 when equal; otherwise 0, with the
 * first difference described in `why` (may be NULL). */
int sn_spec_equal(const sn_model_spec *a, const sn_model_spec *b, char *why, size_t n);

#endif
