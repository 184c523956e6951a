/* snnc import: a NIR graph (written by Norse, snnTorch, Sinabs, ... or snnc export) into a
 * model YAML and a weights file that every snnc command runs (docs/nir.md). */
#include <stdio.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/io/nir_doc.h"
#include "../interchange/nir.h"
#include "commands.h"

static const char *const FORMATS[] = {"nir", NULL};
static const char *const RESETS[] = {"zero", "subtract", NULL};
static const char *const DISCRETIZATIONS[] = {"euler", "exact", NULL};

static const sn_cmd import_cmd = {
    .name = "import",
    .usage = "FILE.nir --dt SECONDS -o DIR [options]",
    .summary = "Import a NIR graph: writes DIR/model.yaml and DIR/weights.safetensors.",
    .details =
        "NIR is continuous-time: LIF and LI neurons are discretized at --dt (forward Euler,\n"
        "v <- v + dt/tau ((v_leak - v) + r x), or --discretization exact: the exact solution\n"
        "for an input held over the step, dt/tau replaced by 1 - exp(-dt/tau)); IF and I add\n"
        "r x per step. --dt may be left out when the graph has no LIF/LI node or the file\n"
        "records one (snnc export does). Spikes need v > v_threshold; after a spike v is set\n"
        "to v_reset. Files written before NIR 1.0.6 have no v_reset: --reset picks what to do\n"
        "for them (zero, the default, as the reference reader does, or subtract, what their\n"
        "authors meant). Supported nodes: Input, Output, Affine, Linear, Scale, Conv2d (any\n"
        "stride, padding, 'same'/'valid', dilation, groups), SumPool2d, AvgPool2d, Flatten, IF,\n"
        "LIF, LI, I, Threshold; parallel Threshold nodes summed by one node import as\n"
        "threshold units. Run the result with e.g.\n"
        "  snnc snn DIR/model.yaml --weights DIR/weights.safetensors --input X.npy --record all",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"-o", "DIR", "output directory (required; created if missing)", 0},
            {"--dt", "SECONDS", "time step to discretize LIF/LI neurons at", 0},
            {"--discretization", "euler|exact",
             "how (default: euler, or what a file snnc wrote records)", 0},
            {"--reset", "zero|subtract",
             "reset of IF/LIF nodes that have no v_reset (default zero)", 0},
            {"--T", "N",
             "time steps of the model when run over a dataset (default: the file's, else 100)", 0},
            {"--name", "NAME", "model name (default: the file name)", 0},
            {"--format", "nir", "input format (nir, the default)", 0},
        },
};

/* "dir/lif_norse.nir" -> "lif_norse" */
static void base_name(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    sn_strlcpy(out, b, n);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static int run_import(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int fmt = 0, reset = 0, disc = 0;
    int64_t T;
    double dt;
    sn_nir_doc doc;
    memset(&doc, 0, sizeof doc);
    sn_nir_imported m;
    memset(&m, 0, sizeof m);
    const char *file = a->pos[0], *dir = sn_args_str(a, "-o", NULL);
    if (sn_args_choice(a, "--format", FORMATS, 0, &fmt, &st) ||
        sn_args_choice(a, "--reset", RESETS, 0, &reset, &st) ||
        sn_args_choice(a, "--discretization", DISCRETIZATIONS, 0, &disc, &st) ||
        sn_args_int(a, "--T", 0, 1, 1000000, &T, &st) ||
        sn_args_float(a, "--dt", 0.0, 1e-30, 1e6, &dt, &st))
        goto done;
    if (!dir) {
        sn_fail(&st, SN_ERR_INPUT,
                "-o DIR is required (where to write model.yaml and "
                "weights.safetensors)");
        goto done;
    }
    if (sn_nir_read(file, &doc, &st)) goto done;
    char name[SN_NAME_MAX];
    base_name(file, name, sizeof name);
    sn_nir_import_opts o = {.dt = dt,
                            .reset = reset ? SN_NIR_RESET_SUBTRACT : SN_NIR_RESET_ZERO,
                            .reset_given = sn_args_has(a, "--reset"),
                            .exact = disc,
                            .exact_given = sn_args_has(a, "--discretization"),
                            .T = (int)T,
                            .name = sn_args_str(a, "--name", name)};
    char ypath[4096], wpath[4096];
    sn_path_join(ypath, sizeof ypath, dir, "model.yaml");
    sn_path_join(wpath, sizeof wpath, dir, "weights.safetensors");
    if (sn_nir_import(&doc, &o, ypath, &m, &st)) goto done;
    if (sn_mkdirs(dir, &st)) goto done;
    const char *text = sn_sb_cstr(&m.yaml);
    sn_st_meta meta[3] = {{(char *)"format", (char *)"snnc-weights"},
                          {(char *)"model", m.spec.name},
                          {(char *)"source", (char *)file}};
    if (sn_write_file_atomic(ypath, text, strlen(text), &st) ||
        sn_weights_save(&m.weights, wpath, meta, 3, &st))
        goto done;
    const char *notes = sn_sb_cstr(&m.notes);
    if (*notes) fputs(notes, stdout);
    int64_t values = 0;
    for (int i = 0; i < m.weights.n; i++) values += sn_shape_numel(&m.weights.desc[i].shape);
    printf("imported %s (NIR %s, %d nodes): %d layers, %d tensors (%lld values)\n", file,
           doc.version[0] ? doc.version : "?", m.nlayers_in, m.spec.nlayers, m.weights.n,
           (long long)values);
    printf("wrote %s and %s\n", ypath, wpath);
done:;
    int rc = sn_report("import", &st);
    sn_nir_imported_free(&m);
    sn_nir_doc_free(&doc);
    return rc;
}

const sn_command sn_cmd_import = {&import_cmd, run_import};
