/* ModelSpec -> Graph IR. */
#ifndef SN_IR_BUILD_H
#define SN_IR_BUILD_H

#include "../frontend/spec.h"
#include "ir.h"

enum { SN_SCHED_AUTO = 0, SN_SCHED_LAYER, SN_SCHED_STEP };
extern const char *const sn_schedule_names[]; /* "auto", "layer", "step", NULL */
/* Activation bytes above which the automatic schedule runs a spiking graph step-major. */
#define SN_LAYER_MAJOR_BUDGET ((int64_t)2 << 30)

typedef struct sn_build_opts {
    int64_t batch; /* N (>= 1) */
    int with_loss; /* add a label input and the recipe's loss */
    int training;  /* training forward: batch-norm batch statistics, dropout masks */
    int T;         /* > 0: overrides the spec's time steps */
    int schedule;  /* spiking graphs: SN_SCHED_AUTO (layer-major unless its activations
                      would exceed SN_LAYER_MAJOR_BUDGET), SN_SCHED_LAYER or SN_SCHED_STEP */
    float noise;   /* > 0: each spike of the first spiking layer (the encoding layer) is
                      deleted with this probability (spec-spatiotemporal.md, noise_ratio) */
    int sequence;  /* spiking graphs: the input is a recorded sequence [T, N, C, H, W] fed to
                      the first layer as it is (no encoder, no input scale); layer-major only */
    const char *const *record; /* layer names ("net.2") whose neurons also output their
                                  membrane potential (sn_attrs.record_v) */
    int nrecord;
} sn_build_opts;

/* Builds the forward graph of a model. Shape errors name the layer and its YAML position
 * ("model.yaml:12:7: layer features.3 (conv2d): kernel 3x3 is larger than ..."). */
sn_code sn_graph_build(const sn_model_spec *spec, const sn_build_opts *opts, sn_graph *g,
                       sn_status *st);

/* Neuron parameters of a spec layer, in the IR's form. */
sn_neuron_params sn_neuron_from_spec(const sn_layer_spec *l);
sn_nir_neuron_params sn_nir_neuron_from_spec(const sn_layer_spec *l);
/* The weights-file name of parameter array `which` (SN_NIRP_*) of a nir_* layer: "tau", "r",
 * "v_leak", "v_threshold" ("threshold" for nir_threshold, as in NIR), "v_reset". */
const char *sn_nir_param_name(sn_nir_model model, int which);

#endif
