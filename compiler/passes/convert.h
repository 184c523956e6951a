/* ANN -> SNN conversion (spec-spatiotemporal.md, spec-neurons.md).
 *
 * Two forms, both producing a new ModelSpec (with spiking layers) and its weight store:
 *
 * exact  For quantized ANNs (conv/linear -> [batchnorm] -> [relu] -> quant(k, B) blocks).
 *        Each block becomes the synaptic layer followed by a threshold-unit layer with
 *        U = 2^k * B units per neuron; the network input is multiplied by 2^k and layers
 *        pass integer spike counts; the last synaptic layer is read out as membrane
 *        potential. At T = 1 the SNN predicts exactly the quantized ANN's class.
 *
 *        Threshold u of channel c is the smallest float z (conv output, before batch norm)
 *        for which the ANN's own arithmetic (runtime/ref: batch norm in double rounded to
 *        float, relu, round(2^k * clip(y, 0, B))) gives a count >= u + 1, found by
 *        bisection over the ordered float values; it is then scaled by the layer's input
 *        scale (a power of two, so exactly). The count is monotone in z, so
 *        [V >= theta_u] equals [count(z) > u] for every float z, not just approximately.
 *        gamma < 0 makes the count decreasing in z: that channel's weights (and bias) are
 *        negated, which negates V exactly, and the thresholds are taken on -z. gamma = 0
 *        makes the count constant: its thresholds become -inf / +inf.
 *
 * rate   For ordinary ANNs (relu activations; a quant activation is treated as its relu).
 *        Batch norm is folded into the preceding conv/linear; each activation becomes an IF
 *        neuron with soft reset and threshold 1; weights are normalized layer by layer with
 *        the activation scales lambda (max or a percentile measured on calibration data):
 *        W_l <- W_l * lambda_{l-1} / lambda_l, b_l <- b_l / lambda_l, the last layer
 *        W_L <- W_L * lambda_{L-1}; read out as membrane potential averaged over T. */
#ifndef SN_CONVERT_H
#define SN_CONVERT_H

#include "../../runtime/core/util.h"
#include "../../runtime/weights/weights.h"
#include "../frontend/spec.h"

/* Deep copy (the layer array is duplicated). */
sn_code sn_spec_copy(const sn_model_spec *src, sn_model_spec *dst, sn_status *st);

/* 1 when the spec already has neurons or threshold units. */
int sn_spec_has_spiking(const sn_model_spec *s);
/* 1 when the spec has quant layers (exact conversion applies). */
int sn_spec_has_quant(const sn_model_spec *s);

/* What a conversion did, for reports. */
typedef struct sn_convert_info {
    int blocks;           /* synaptic+activation blocks converted */
    int flipped_channels; /* gamma < 0: weights negated */
    int constant_channels;
    float input_scale;
    sn_strbuf notes; /* one line per notable fact (caller frees with sn_sb_free) */
} sn_convert_info;

/* Exact conversion of a quantized ANN with weights aw. On success *snn and *sw are
 * filled (free with sn_spec_free / sn_weights_free). */
sn_code sn_convert_exact(const sn_model_spec *ann, const sn_weights *aw, sn_model_spec *snn,
                         sn_weights *sw, sn_convert_info *info, sn_status *st);

/* The activation layers rate conversion normalizes: indices into ann->layers of the last
 * layer of each synaptic layer's activation (the relu, or the quant after it). Returns the
 * count (at most max); -1 with st set when the network cannot be rate-converted. */
int sn_convert_rate_points(const sn_model_spec *ann, int *layer_idx, int max, sn_status *st);

/* Rate conversion given lambda[i] for each point of sn_convert_rate_points (in order). */
sn_code sn_convert_rate(const sn_model_spec *ann, const sn_weights *aw, const double *lambda,
                        int npoints, sn_model_spec *snn, sn_weights *sw, sn_convert_info *info,
                        sn_status *st);

#endif
