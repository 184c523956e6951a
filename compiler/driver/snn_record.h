/* snnc snn --input X.npy [--record NAMES --out DIR]: a spiking model driven by a recorded
 * input sequence instead of a dataset, with per-step traces of named layers written as .npy
 * (docs/nir.md, "Recorded inputs and traces").
 *
 * X holds [T, C, H, W] or [T, N, C, H, W] (for a [K, 1, 1] input also [T, K] or [T, N, K]),
 * float32, float64, uint8 or bool; it is fed to the first layer as it is (times
 * snn.input_scale for the direct encoder), T steps, N samples in batches. Each recorded layer
 * L gives DIR/L.npy (its output at every step: spikes of a spiking layer, the potential of
 * nir_li / nir_i, the values of any other layer) and, for a spiking neuron, DIR/L.v.npy (the
 * membrane potential after every step, after the reset), shaped like X: [T, (N,) ...]. The
 * readout (the output averaged over T) goes to DIR/output.npy, [N, num_classes] or
 * [num_classes]. */
#ifndef SN_SNN_RECORD_H
#define SN_SNN_RECORD_H

#include "../frontend/spec.h"
#include "session.h"

typedef struct sn_record_opts {
    const char *input;         /* the .npy file */
    const char *const *record; /* layer names, or "all" */
    int nrecord;
    const char *out; /* directory for the traces (NULL: print the readout only) */
    sn_target target;
    int fusion;
    int64_t batch; /* 0: min(N, 64) */
    int threads;
    int quiet;
} sn_record_opts;

sn_code sn_snn_run_recorded(const sn_model_spec *spec, const sn_weights *w, const sn_record_opts *o,
                            sn_status *st);

#endif
