/* int8 post-training quantization on the cpu target: the activation scales of the
 * convolution inputs, measured on calibration images.
 *
 * The fp32 model runs (unfused, every convolution input kept) on the first N images of the
 * training split (--calib N, default 512), or on uniform [0, 1) random images for 'snnc
 * bench', which has no data to read. For each convolution input x the scale is the
 * --percentile P of |x| (default 99.99, as rate conversion; 100 = the maximum) over up to
 * 2 million sampled values: a tensor that never goes negative gets q = round(x / s) in
 * [0, 255] with s = P / 255, a signed one q = round(x / s) + 128 in [1, 255] with
 * s = P / 127. Inputs on a known grid (quantizer levels, spike counts) are quantized
 * exactly by the lowering and ignore these scales. */
#ifndef SN_CALIB_INT8_H
#define SN_CALIB_INT8_H

#include "../frontend/spec.h"
#include "../../runtime/weights/weights.h"
#include "cli.h"
#include "session.h"

struct sn_act_quant; /* compiler/backends/llvm/cpu_backend.h */

typedef struct sn_int8_calib_opts {
    const char *data_dir; /* NULL: the spec's data.path */
    int64_t images;
    double percentile;
    int synthetic; /* random images instead of the training split */
    int threads;
    int quiet;
} sn_int8_calib_opts;

/* Measures the scales of every convolution input of spec's inference graph with weights w.
 * *out (malloc'd, *n entries) names each tensor as the graph builder does. */
sn_code sn_int8_calibrate(const sn_model_spec *spec, const sn_weights *w,
                          const sn_int8_calib_opts *o, struct sn_act_quant **out, int *n,
                          sn_status *st);

/* For a command that lowers with sn_session_lower: when its --precision is int8 (cpu
 * target), reads --calib, --percentile and --data, calibrates and hands the scales to the
 * session (*keep receives them; free it after the last sn_session_lower). A no-op otherwise. */
sn_code sn_session_int8(const sn_args *a, sn_target target, const sn_model_spec *spec,
                        const sn_weights *w, int synthetic, struct sn_act_quant **keep,
                        sn_status *st);

#endif
