/* What 'snnc convert' and 'snnc snn' share: converting a model on the fly (exact or rate
 * with calibration), and counting spikes and synaptic operations while a spiking plan runs.
 *
 * Conventions (docs/snn.md):
 *   spikes of a layer   sum of its output counts (threshold units: 0..U per neuron; IF/LIF:
 *                       0/1) over all time steps, per image;
 *   firing rate         spikes / (neurons x units x T);
 *   SOPs of a synaptic  every spike reaching a conv/linear layer's input, times the number of
 *   layer               (output position, output channel) pairs it feeds (its fan-out; border
 *                       positions of a padded conv feed fewer), summed over T, per image;
 *                       layers fed by the analog image (the encoding layer) have none;
 *   ANN MACs            multiply-accumulates of the same layer in the ANN, per image. */
#ifndef SN_SNN_TOOLS_H
#define SN_SNN_TOOLS_H

#include "../../runtime/exec/plan.h"
#include "../../runtime/exec/pool.h"
#include "../ir/ir.h"
#include "../passes/convert.h"
#include "session.h"

typedef enum sn_convert_mode { SN_CONV_AUTO = 0, SN_CONV_EXACT, SN_CONV_RATE } sn_convert_mode;
extern const char *const sn_convert_mode_names[]; /* "auto", "exact", "rate", NULL */

typedef struct sn_calib_opts {
    const char *data_dir; /* NULL: the spec's data.path */
    int64_t images;       /* calibration images from the training split */
    double percentile;    /* 100 = max */
    int64_t batch;
    sn_target target;
    int threads;
} sn_calib_opts;

/* Reads the conversion options 'convert' and 'snn' share: --mode, --calib, --percentile
 * and --data (the caller sets co->batch, co->target and co->threads). */
sn_code sn_snn_convert_args(const sn_args *a, sn_convert_mode *mode, sn_calib_opts *co,
                            sn_status *st);

/* Converts ann (weights aw) by *mode (auto resolves to exact when it has quant layers, else
 * rate, and is written back); rate conversion first measures activation scales with `co`.
 * Prints one line per step unless quiet. */
sn_code sn_snn_convert(const sn_model_spec *ann, const sn_weights *aw, sn_convert_mode *mode,
                       const sn_calib_opts *co, int quiet, sn_model_spec *snn, sn_weights *sw,
                       sn_convert_info *info, sn_status *st);

/* ---- spike metrics ---- */

typedef struct sn_spk_row {
    char name[64];   /* the layer ("features.1") */
    int syn;         /* 1: a synaptic layer row (conv/linear), 0: a spiking layer row */
    int spike_fed;   /* synaptic: its input is spikes */
    int64_t neurons; /* spiking: neurons per image and step */
    int units;       /* spiking: units per neuron (threshold units) or 1 */
    double spikes;   /* spiking: total over the images seen */
    double sops;     /* synaptic: total over the images seen */
    double macs;     /* synaptic: ANN MACs per image */
    /* where to read */
    int buf;
    int64_t T;   /* time steps held by the buffer read (1 without a time axis) */
    int C, H, W; /* its map (C = K, H = W = 1 for flat [T, N, K]) */
    double *fan; /* synaptic: fan-out per input position [H*W] */
} sn_spk_row;

typedef struct sn_spk_metrics {
    sn_spk_row *rows;
    int nrows;
    int T;
    int64_t batch;  /* the plan's N */
    int64_t images; /* images counted */
} sn_spk_metrics;

/* Finds the spiking and synaptic layers of g in plan and marks the buffers they read as
 * kept (call before sn_plan_memplan / sn_plan_bind). */
sn_code sn_spk_prepare(const sn_graph *g, sn_plan *plan, sn_spk_metrics *m, sn_status *st);
/* Adds the first nb images of the batch the plan just ran. */
void sn_spk_accumulate(sn_spk_metrics *m, const sn_plan *plan, int64_t nb);
void sn_spk_free(sn_spk_metrics *m);
/* Totals per image: spikes of all spiking layers, SOPs of all synaptic layers fed by spikes
 * (and the same without the output layer, the seed's convention), ANN MACs of those layers. */
void sn_spk_totals(const sn_spk_metrics *m, double *spikes, double *sops, double *sops_no_out,
                   double *macs);

#endif
