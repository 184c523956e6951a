/* snnc export: a spiking model and its weights as a NIR graph (docs/nir.md). */
#include <stdio.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/io/nir_doc.h"
#include "../interchange/nir.h"
#include "../ir/build.h"
#include "commands.h"
#include "session.h"

static const char *const FORMATS[] = {"nir", NULL};

static const sn_cmd export_cmd = {
    .name = "export",
    .usage = "MODEL.yaml --weights W.safetensors --format nir -o FILE.nir [options]",
    .summary = "Export a spiking network as a NIR graph (HDF5), for other SNN frameworks.",
    .details =
        "MODEL is a spiking model: lif_fc_mnist, or one written by 'snnc convert' (rate: IF\n"
        "neurons; exact: threshold units, written as parallel NIR Threshold nodes), or one\n"
        "written by 'snnc import'. NIR is continuous-time: an if/lif layer's time constant is\n"
        "written as tau * dt, with dt from --dt (default: the model's nir_lif/nir_li layers'\n"
        "dt, else 1e-4 s); the file's metadata records dt, the reset rule and the threshold\n"
        "rule. snnc fires at v >= v_threshold, NIR at v > v_threshold: the file holds the\n"
        "largest float32 below each threshold, the same test. What NIR cannot express (max\n"
        "pooling, ReLU, quantizers, subtractive reset exactly) is refused or reported.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--weights", "FILE", "weights of the model (required)", 0},
            {"-o", "FILE", "the NIR file to write (required)", 0},
            {"--format", "nir", "output format (nir, the default)", 0},
            {"--dt", "SECONDS", "time step the model's if/lif layers step by", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

static int run_export(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int fmt = 0;
    double dt;
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_nir_doc doc;
    memset(&doc, 0, sizeof doc);
    sn_strbuf notes;
    sn_sb_init(&notes);
    const char *out = sn_args_str(a, "-o", NULL), *wpath = sn_args_str(a, "--weights", NULL);
    if (sn_args_choice(a, "--format", FORMATS, 0, &fmt, &st) ||
        sn_args_float(a, "--dt", 0.0, 1e-30, 1e6, &dt, &st))
        goto done;
    if (!out || !wpath) {
        sn_fail(&st, SN_ERR_INPUT, "%s is required", !out ? "-o FILE.nir" : "--weights FILE");
        goto done;
    }
    if (sn_session_spec(a, &spec, &st)) goto done;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st) ||
        sn_session_weights(&g, &spec, wpath, 0, &w, &st))
        goto done;
    sn_nir_export_opts o = {.dt = dt};
    if (sn_nir_export(&spec, &w, &o, &doc, &notes, &st) || sn_nir_write(out, &doc, &st)) goto done;
    fputs(sn_sb_cstr(&notes), stdout);
    printf("exported %s: %d NIR nodes, %d edges -> %s\n", spec.name, doc.g.nnodes, doc.g.nedges,
           out);
done:;
    int rc = sn_report("export", &st);
    sn_sb_free(&notes);
    sn_nir_doc_free(&doc);
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return rc;
}

const sn_command sn_cmd_export = {&export_cmd, run_export};
