/* snnc convert: ANN -> SNN conversion written to a directory (model.yaml + weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../ir/build.h"
#include "commands.h"
#include "session.h"
#include "snn_tools.h"

static const sn_cmd convert_cmd = {
    .name = "convert",
    .usage = "MODEL.yaml --weights ANN.safetensors -o SNN_DIR [options]",
    .summary = "Convert a trained ANN into a spiking network (model.yaml + weights.safetensors).",
    .details =
        "--mode exact (the default for networks with quant(k, B) activations): threshold units\n"
        "(2^k*B per neuron) with batch norm folded into the thresholds, the input scaled by\n"
        "2^k, integer spike counts between layers, the last layer read out as membrane\n"
        "potential; at T = 1 it predicts exactly the quantized ANN's class.\n"
        "--mode rate (the default otherwise): IF neurons with soft reset, batch norm folded into\n"
        "the weights, weights normalized by activation scales measured on --calib training\n"
        "images (--percentile 100 = max). Run the result with 'snnc snn SNN_DIR/model.yaml\n"
        "--weights SNN_DIR/weights.safetensors'.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--weights", "FILE", "the ANN's trained weights (safetensors)", 0},
            {"-o", "DIR", "output directory (created)", 0},
            {"--mode", "auto|exact|rate", "conversion (default auto: exact if quantized)", 0},
            {"--data", "DIR", "dataset for rate calibration (default: data.path)", 0},
            {"--calib", "N", "calibration images from the training split (default 512)", 0},
            {"--percentile", "P", "activation scale percentile for rate mode (default 99.99)", 0},
            {"--T", "N", "time steps written into the spiking model (default: 1 exact, 32 rate)",
             0},
            {"--target", "TARGET", "backend for calibration: cpu (default) or ref", 0},
            {"--batch", "N", "calibration batch size (default 64)", 0},
            {"--threads", "N", "worker threads (default: all cores)", 0},
            {"--quiet", NULL, "no progress output", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

static int run_convert(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    const char *out = sn_args_str(a, "-o", NULL);
    const char *wpath = sn_args_str(a, "--weights", NULL);
    int fusion;
    int64_t batch, threads, T;
    sn_target target;
    sn_convert_mode mode;
    sn_calib_opts co;
    memset(&co, 0, sizeof co);
    if (!out) return sn_fail(&st, SN_ERR_INPUT, "missing -o SNN_DIR"), sn_report("convert", &st);
    if (!wpath)
        return sn_fail(&st, SN_ERR_INPUT,
                       "missing --weights ANN.safetensors (conversion needs trained weights)"),
               sn_report("convert", &st);
    if (sn_snn_convert_args(a, &mode, &co, &st) ||
        sn_args_int(a, "--batch", 64, 1, 1 << 16, &batch, &st) ||
        sn_args_int(a, "--threads", 0, 0, 1024, &threads, &st) ||
        sn_args_int(a, "--T", 0, 0, 1000000, &T, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        return sn_report("convert", &st);
    int quiet = sn_args_has(a, "--quiet");
    sn_model_spec spec, snn;
    memset(&spec, 0, sizeof spec);
    memset(&snn, 0, sizeof snn);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w, sw;
    memset(&w, 0, sizeof w);
    memset(&sw, 0, sizeof sw);
    sn_convert_info info;
    memset(&info, 0, sizeof info);
    sn_strbuf yaml;
    sn_sb_init(&yaml);
    double t0 = sn_now();
    if (sn_session_spec(a, &spec, &st)) goto done;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    if (sn_session_weights(&g, &spec, wpath, 0, &w, &st)) goto done;
    co.batch = batch;
    co.target = target;
    co.threads = (int)threads;
    if (sn_snn_convert(&spec, &w, &mode, &co, quiet, &snn, &sw, &info, &st)) goto done;
    if (T > 0) snn.snn.T = (int)T;
    if (sn_mkdirs(out, &st)) goto done;
    char path[4096];
    sn_spec_print_yaml(&snn, &yaml);
    sn_path_join(path, sizeof path, out, "model.yaml");
    if (sn_write_file_atomic(path, sn_sb_cstr(&yaml), strlen(sn_sb_cstr(&yaml)), &st)) goto done;
    sn_path_join(path, sizeof path, out, "weights.safetensors");
    sn_st_meta meta[2] = {{(char *)"converted_from", spec.source_path},
                          {(char *)"mode", (char *)sn_convert_mode_names[mode]}};
    if (sn_weights_save(&sw, path, meta, 2, &st)) goto done;
    sn_path_join(path, sizeof path, out, "conversion.txt");
    const char *notes = sn_sb_cstr(&info.notes);
    if (sn_write_file_atomic(path, notes, strlen(notes), &st)) goto done;
    printf("converted %s -> %s (%d blocks, input scale %g) in %.2f s\n", spec.name, snn.name,
           info.blocks, (double)info.input_scale, sn_now() - t0);
    if (info.flipped_channels || info.constant_channels)
        printf("  %d channel(s) with gamma < 0 handled by negating their weights, %d with "
               "gamma = 0 (constant)\n",
               info.flipped_channels, info.constant_channels);
    printf("  wrote %s/model.yaml, %s/weights.safetensors, %s/conversion.txt\n", out, out, out);
done:
    sn_sb_free(&yaml);
    sn_sb_free(&info.notes);
    sn_weights_free(&w);
    sn_weights_free(&sw);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    sn_spec_free(&snn);
    return sn_report("convert", &st);
}

const sn_command sn_cmd_convert = {&convert_cmd, run_convert};
