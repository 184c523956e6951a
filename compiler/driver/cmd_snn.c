/* snnc snn: run a spiking network (or convert an ANN on the fly) over the test split for a
 * list of time-step counts and noise levels, with spike and synaptic-operation counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/exec/evaluate.h"
#include "../../runtime/train/report.h"
#include "../ir/build.h"
#include "calib_int8.h"
#include "commands.h"
#include "session.h"
#include "snn_record.h"
#include "snn_tools.h"

#define MAX_RUNS 64

static const sn_cmd snn_cmd = {
    .name = "snn",
    .usage = "MODEL.yaml [--weights W.safetensors] [--data DIR] [--T 1,2,4,...] [options]\n"
             "       snnc snn MODEL.yaml --weights W --input X.npy [--record NAMES --out DIR]",
    .summary = "Run a spiking network over the test split: accuracy, spikes, firing rates, SOPs.",
    .details =
        "MODEL is a spiking model (e.g. written by 'snnc convert') or an ANN, which is then\n"
        "converted first (--mode: exact for quant(k, B) networks, rate otherwise; see\n"
        "'snnc convert --help'). For every T in --T and every P in --noise it prints the\n"
        "accuracy and, per layer, spikes per image, firing rate (spikes / (neurons x units x\n"
        "T)) and synaptic operations (each input spike times its fan-out, summed over T) next\n"
        "to the ANN's multiply-accumulates for the same layer. --noise P deletes each spike of\n"
        "the encoding layer (the first spiking layer) with probability P. --out DIR writes\n"
        "layers.csv, accuracy.csv and SVG charts (firing rate per layer, SOPs vs MACs,\n"
        "accuracy vs T, accuracy vs noise). --compare-ann also runs the ANN and counts the\n"
        "images where both predict the same class.\n"
        "--input X.npy runs the network on a recorded sequence instead of a dataset: X is\n"
        "[T, C, H, W] or [T, N, C, H, W] ([T, K] or [T, N, K] for a K x 1 x 1 input), float32,\n"
        "float64, uint8 or bool; --record NAMES (layer names as 'snnc inspect' shows them,\n"
        "comma-separated, or all) writes each layer's output per step to DIR/NAME.npy, and a\n"
        "spiking layer's membrane potential to DIR/NAME.v.npy, shaped [T, (N,) ...]; the\n"
        "readout goes to DIR/output.npy.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--weights", "FILE", "weights (of the SNN, or of the ANN to convert)", 0},
            {"--data", "DIR", "dataset directory (default: data.path of the model)", 0},
            {"--T", "LIST", "time steps, comma-separated (default: the model's snn.T)", 0},
            {"--noise", "LIST", "spike deletion probabilities, comma-separated (default 0)", 0},
            {"--mode", "auto|exact|rate", "conversion of an ANN (default auto)", 0},
            {"--calib", "N", "rate calibration images from the training split (default 512)", 0},
            {"--percentile", "P", "rate activation-scale percentile (default 99.99)", 0},
            {"--compare-ann", NULL, "also run the ANN and count agreeing predictions", 0},
            {"--target", "TARGET", "backend: cpu (default), ref or cuda (GPU, layer-major only)",
             0},
            {"--precision", "P",
             "fp32 (default); cpu: bf16 or int8 (quantized convolutions: spike inputs are exact, "
             "analog inputs calibrated with --calib); cuda: tf32 or bf16 (tensor cores)",
             0},
            {"--fusion", "on|off", "fuse ops into kernels (default on; cpu target)", 0},
            {"--batch", "N", "images per batch (default max(4, 64/T))", 0},
            {"--limit", "N", "evaluate only the first N test images", 0},
            {"--out", "DIR", "write layers.csv, accuracy.csv and charts here", 0},
            {"--dump-logits", "FILE", "write float32 scores [N, classes] (one T and noise only)",
             0},
            {"--no-metrics", NULL, "skip spike counting (faster; accuracy only)", 0},
            {"--schedule", "auto|layer|step",
             "layer-major (all T steps of a layer at once) or step-major (one step of every "
             "layer at a time, less memory); auto: layer-major unless it needs > 2 GiB",
             0},
            {"--seed", "S", "seed for Poisson encoding and noise (default 0)", 0},
            {"--threads", "N", "worker threads (default: all cores)", 0},
            {"--quiet", NULL, "no progress lines", 0},
            {"--input", "X.npy", "run on this recorded input sequence instead of a dataset", 0},
            {"--record", "NAMES", "with --input: layers whose per-step outputs go to --out", 1},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

/* "1,2,4" -> values; integers (is_int) or probabilities. */
static int parse_list(const char *s, const char *opt, int is_int, double *out, int max,
                      sn_status *st) {
    int n = 0;
    const char *p = s;
    while (*p) {
        char item[64];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item) {
            sn_fail(st, SN_ERR_INPUT, "%s: bad list '%s' (expected e.g. %s)", opt, s,
                    is_int ? "1,2,4,8" : "0,0.1,0.2");
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        double v;
        int64_t iv;
        if (is_int ? !sn_parse_i64(item, &iv) : !sn_parse_f64(item, &v)) {
            sn_fail(st, SN_ERR_INPUT, "%s: '%s' is not %s", opt, item,
                    is_int ? "a whole number" : "a number");
            return -1;
        }
        if (is_int) v = (double)iv;
        if (is_int ? (v < 1 || v > 100000) : !(v >= 0.0 && v <= 1.0)) {
            sn_fail(st, SN_ERR_INPUT, "%s: %s is out of range (%s)", opt, item,
                    is_int ? "1..100000" : "0..1");
            return -1;
        }
        if (n >= max) {
            sn_fail(st, SN_ERR_INPUT, "%s: at most %d values", opt, max);
            return -1;
        }
        out[n++] = v;
        p += len;
        if (*p == ',') p++;
    }
    if (n == 0) sn_fail(st, SN_ERR_INPUT, "%s: empty list", opt);
    return n ? n : -1;
}

typedef struct run_ctx {
    sn_spk_metrics *m;
    const sn_plan *plan;
    int64_t prev;
    sn_progress *prog;
} run_ctx;

static void run_batch(void *arg, int64_t done, int64_t total, const sn_eval_result *r) {
    run_ctx *c = arg;
    if (c->m) sn_spk_accumulate(c->m, c->plan, done - c->prev);
    c->prev = done;
    if (c->prog) {
        char extra[64];
        snprintf(extra, sizeof extra, "top-1 %.2f%%",
                 r->n ? 100.0 * (double)r->correct1 / (double)r->n : 0.0);
        sn_progress_update(c->prog, done, extra);
    }
    (void)total;
}

typedef struct run_result {
    int T;
    double noise;
    int64_t images;
    double top1, seconds;
    double spikes, sops, sops_no_out, macs;
    int64_t agree; /* with the ANN (-1: not compared) */
    int step_major;
    sn_spk_metrics m;
} run_result;

static void argmax_rows(const float *x, int64_t n, int K, int *out) {
    for (int64_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (x[i * K + k] > x[i * K + best]) best = k;
        out[i] = best;
    }
}

typedef struct eval_job {
    const sn_model_spec *spec;
    const sn_weights *w;
    sn_target target;
    int fusion;
    int64_t batch, limit;
    int T;
    float noise;
    uint64_t seed;
    int threads, quiet, metrics, schedule;
    const sn_dataset *ds;
    const sn_transform *tf;
    const char *label;
} eval_job;

/* Builds, lowers and runs one configuration; logits [n, K] when wanted. */
static sn_code run_one(const eval_job *j, float *logits, run_result *rr, sn_status *st) {
    sn_graph g;
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_pool *pool = NULL;
    sn_build_opts bo = {.batch = j->batch, .T = j->T, .noise = j->noise, .schedule = j->schedule};
    if (sn_graph_build(j->spec, &bo, &g, st) || sn_graph_verify(&g, st)) return st->code;
    if (sn_session_lower(&g, j->target, j->fusion, 0, &plan, &be, st)) goto done;
    if (j->metrics) {
        if (sn_spk_prepare(&g, &plan, &rr->m, st)) goto done;
        sn_plan_memplan(&plan);
    }
    rr->step_major = g.step_major;
    sn_weights wcopy = *j->w;
    if (sn_plan_bind(&plan, &wcopy, st)) goto done;
    pool = sn_pool_create(j->threads);
    if (!pool) {
        sn_fail(st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    int64_t n = j->limit > 0 && j->limit < j->ds->n ? j->limit : j->ds->n;
    sn_progress prog;
    run_ctx rc = {j->metrics ? &rr->m : NULL, &plan, 0, j->quiet ? NULL : &prog};
    if (!j->quiet) sn_progress_start(&prog, j->label, n);
    sn_eval_result r;
    if (sn_evaluate(&plan, pool, j->ds, j->tf, j->limit, 1, j->seed, logits, &r, run_batch, &rc,
                    st))
        goto done;
    if (!j->quiet) sn_progress_end(&prog);
    rr->images = r.n;
    rr->top1 = r.n ? 100.0 * (double)r.correct1 / (double)r.n : 0.0;
    rr->seconds = r.seconds;
    if (j->metrics) sn_spk_totals(&rr->m, &rr->spikes, &rr->sops, &rr->sops_no_out, &rr->macs);
done:
    sn_pool_destroy(pool);
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    return st->code;
}

static void print_layers(const run_result *rr) {
    const sn_spk_metrics *m = &rr->m;
    double n = m->images > 0 ? (double)m->images : 1.0;
    printf("  %-18s %-9s %9s %5s %12s %8s %12s %12s\n", "layer", "kind", "neurons", "units",
           "spikes/img", "rate", "SOPs/img", "ANN MACs");
    for (int i = 0; i < m->nrows; i++) {
        const sn_spk_row *r = &m->rows[i];
        if (r->syn) {
            char sops[32];
            if (r->spike_fed)
                snprintf(sops, sizeof sops, "%.4g", r->sops / n);
            else
                snprintf(sops, sizeof sops, "(analog in)");
            printf("  %-18s %-9s %9s %5s %12s %8s %12s %12.4g\n", r->name, "synaptic", "", "", "",
                   "", sops, r->macs);
        } else {
            double sp = r->spikes / n;
            double rate = sp / ((double)r->neurons * r->units * (double)m->T);
            printf("  %-18s %-9s %9lld %5d %12.5g %8.4f %12s %12s\n", r->name, "spiking",
                   (long long)r->neurons, r->units, sp, rate, "", "");
        }
    }
    printf("  total: %.5g spikes/img, %.5g SOPs/img (%.5g without the output layer) vs %.5g ANN "
           "MACs for the same layers\n",
           rr->spikes, rr->sops, rr->sops_no_out, rr->macs);
}

static sn_code write_outputs(const char *dir, const run_result *runs, int nruns, const double *Ts,
                             int nT, const double *noises, int nnoise, sn_status *st) {
    if (sn_mkdirs(dir, st)) return st->code;
    char path[4096];
    sn_strbuf sb;
    sn_sb_init(&sb);
    /* layers.csv */
    sn_sb_puts(&sb, "T,noise,layer,type,neurons,units,spikes_per_image,firing_rate,sops_per_image,"
                    "ann_macs_per_image\n");
    for (int k = 0; k < nruns; k++) {
        const run_result *rr = &runs[k];
        double n = rr->m.images > 0 ? (double)rr->m.images : 1.0;
        for (int i = 0; i < rr->m.nrows; i++) {
            const sn_spk_row *r = &rr->m.rows[i];
            if (r->syn)
                sn_sb_printf(&sb, "%d,%g,%s,%s,,,,,%.9g,%.9g\n", rr->T, rr->noise, r->name,
                             r->spike_fed ? "synaptic" : "synaptic_analog_input",
                             r->spike_fed ? r->sops / n : 0.0, r->macs);
            else
                sn_sb_printf(&sb, "%d,%g,%s,spiking,%lld,%d,%.9g,%.9g,,\n", rr->T, rr->noise,
                             r->name, (long long)r->neurons, r->units, r->spikes / n,
                             r->spikes / n / ((double)r->neurons * r->units * rr->m.T));
        }
    }
    sn_path_join(path, sizeof path, dir, "layers.csv");
    if (sn_write_file_atomic(path, sn_sb_cstr(&sb), strlen(sn_sb_cstr(&sb)), st)) goto done;
    sn_sb_free(&sb);
    sn_sb_puts(&sb, "T,noise,images,top1,spikes_per_image,sops_per_image,"
                    "sops_per_image_without_output,ann_macs_per_image,seconds,images_per_second,"
                    "agree_with_ann\n");
    for (int k = 0; k < nruns; k++) {
        const run_result *r = &runs[k];
        sn_sb_printf(&sb, "%d,%g,%lld,%.4f,%.9g,%.9g,%.9g,%.9g,%.4f,%.2f,%lld\n", r->T, r->noise,
                     (long long)r->images, r->top1, r->spikes, r->sops, r->sops_no_out, r->macs,
                     r->seconds, r->seconds > 0 ? (double)r->images / r->seconds : 0.0,
                     (long long)r->agree);
    }
    sn_path_join(path, sizeof path, dir, "accuracy.csv");
    if (sn_write_file_atomic(path, sn_sb_cstr(&sb), strlen(sn_sb_cstr(&sb)), st)) goto done;

    /* charts: firing rate per spiking layer (one bar series per T, noise 0 runs) */
    const run_result *base = &runs[0];
    int nsp = 0, nsyn = 0;
    for (int i = 0; i < base->m.nrows; i++) {
        if (!base->m.rows[i].syn) nsp++;
        if (base->m.rows[i].syn && base->m.rows[i].spike_fed) nsyn++;
    }
    const char **cats = calloc((size_t)(nsp + nsyn + 1), sizeof *cats);
    double *vals =
        calloc((size_t)(nsp + nsyn + 1) * (size_t)(nruns + 2) + 2 * (size_t)nruns, sizeof *vals);
    sn_series *ser = calloc((size_t)nruns + 2, sizeof *ser);
    char(*names)[48] = calloc((size_t)nruns + 2, sizeof *names);
    if (!cats || !vals || !ser || !names) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto charts_done;
    }
    if (nsp > 0) {
        int c = 0;
        for (int i = 0; i < base->m.nrows; i++)
            if (!base->m.rows[i].syn) cats[c++] = base->m.rows[i].name;
        int ns = 0;
        for (int k = 0; k < nruns; k++) {
            const run_result *r = &runs[k];
            if (r->noise != noises[0]) continue;
            double *y = vals + (size_t)ns * (size_t)(nsp + nsyn + 1);
            double n = r->m.images > 0 ? (double)r->m.images : 1.0;
            int j = 0;
            for (int i = 0; i < r->m.nrows; i++) {
                const sn_spk_row *row = &r->m.rows[i];
                if (!row->syn)
                    y[j++] = row->spikes / n / ((double)row->neurons * row->units * r->m.T);
            }
            snprintf(names[ns], sizeof names[ns], "T=%d", r->T);
            ser[ns] = (sn_series){names[ns], NULL, y, nsp};
            ns++;
        }
        sn_chart ch = {"Firing rate per spiking layer", "layer", "spikes / (neurons x units x T)",
                       0, 0};
        sn_path_join(path, sizeof path, dir, "firing_rate.svg");
        if (sn_svg_bars(path, &ch, cats, nsp, ser, ns, st)) goto charts_done;
    }
    if (nsyn > 0) {
        /* SOPs at the largest T (first noise level) vs ANN MACs */
        const run_result *r = base;
        for (int k = 0; k < nruns; k++)
            if (runs[k].noise == noises[0] && runs[k].T >= r->T) r = &runs[k];
        double *y0 = vals, *y1 = vals + (nsp + nsyn + 1);
        double n = r->m.images > 0 ? (double)r->m.images : 1.0;
        int c = 0;
        for (int i = 0; i < r->m.nrows; i++) {
            const sn_spk_row *row = &r->m.rows[i];
            if (!row->syn || !row->spike_fed) continue;
            cats[c] = row->name;
            y0[c] = row->sops / n;
            y1[c] = row->macs;
            c++;
        }
        snprintf(names[0], sizeof names[0], "SNN SOPs (T=%d)", r->T);
        snprintf(names[1], sizeof names[1], "ANN MACs");
        ser[0] = (sn_series){names[0], NULL, y0, nsyn};
        ser[1] = (sn_series){names[1], NULL, y1, nsyn};
        sn_chart ch = {"Synaptic operations vs ANN multiply-accumulates per image",
                       "layer (fed by spikes)", "operations per image", 1, 0};
        sn_path_join(path, sizeof path, dir, "sops_vs_macs.svg");
        if (sn_svg_bars(path, &ch, cats, nsyn, ser, 2, st)) goto charts_done;
    }
    if (nT > 1) { /* accuracy vs T, one line per noise level */
        double *xs = vals, *ys = vals + nruns;
        for (int q = 0; q < nnoise; q++) {
            for (int t = 0; t < nT; t++) {
                xs[q * nT + t] = Ts[t];
                ys[q * nT + t] = runs[t * nnoise + q].top1;
            }
            snprintf(names[q], sizeof names[q], "noise %g", noises[q]);
            ser[q] = (sn_series){names[q], xs + q * nT, ys + q * nT, nT};
        }
        sn_chart ch = {"Accuracy vs time steps", "T", "top-1 accuracy (%)", 0, 1};
        sn_path_join(path, sizeof path, dir, "accuracy_vs_T.svg");
        if (sn_svg_lines(path, &ch, ser, nnoise, st)) goto charts_done;
    }
    if (nnoise > 1) { /* accuracy vs noise, one line per T */
        double *xs = vals, *ys = vals + nruns;
        for (int t = 0; t < nT; t++) {
            for (int q = 0; q < nnoise; q++) {
                xs[t * nnoise + q] = noises[q];
                ys[t * nnoise + q] = runs[t * nnoise + q].top1;
            }
            snprintf(names[t], sizeof names[t], "T=%g", Ts[t]);
            ser[t] = (sn_series){names[t], xs + t * nnoise, ys + t * nnoise, nnoise};
        }
        sn_chart ch = {"Accuracy vs spike deletion in the encoding layer", "deletion probability",
                       "top-1 accuracy (%)", 0, 0};
        sn_path_join(path, sizeof path, dir, "accuracy_vs_noise.svg");
        if (sn_svg_lines(path, &ch, ser, nT, st)) goto charts_done;
    }
charts_done:
    free(cats);
    free(vals);
    free(ser);
    free(names);
done:
    sn_sb_free(&sb);
    return st->code;
}

static int run_snn(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int fusion, schedule = 0;
    int64_t batch_opt, limit, seed, threads;
    sn_target target;
    sn_convert_mode mode;
    sn_calib_opts co;
    memset(&co, 0, sizeof co);
    double Ts[MAX_RUNS], noises[MAX_RUNS];
    int nT = 0, nnoise = 1;
    noises[0] = 0.0;
    if (sn_snn_convert_args(a, &mode, &co, &st) ||
        sn_args_choice(a, "--schedule", sn_schedule_names, 0, &schedule, &st) ||
        sn_args_int(a, "--batch", 0, 1, 1 << 16, &batch_opt, &st) ||
        sn_args_int(a, "--limit", 0, 0, INT64_MAX, &limit, &st) ||
        sn_args_int(a, "--seed", 0, 0, INT64_MAX, &seed, &st) ||
        sn_args_int(a, "--threads", 0, 0, 1024, &threads, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        return sn_report("snn", &st);
    if (target == SN_TARGET_CUDA && schedule == 0) schedule = 1; /* the GPU runs layer-major */
    const char *tl = sn_args_str(a, "--T", NULL), *nl = sn_args_str(a, "--noise", NULL);
    if (tl && (nT = parse_list(tl, "--T", 1, Ts, MAX_RUNS, &st)) < 0) return sn_report("snn", &st);
    if (nl && (nnoise = parse_list(nl, "--noise", 0, noises, MAX_RUNS, &st)) < 0)
        return sn_report("snn", &st);
    const char *dump = sn_args_str(a, "--dump-logits", NULL);
    int quiet = sn_args_has(a, "--quiet");
    int metrics = !sn_args_has(a, "--no-metrics");

    sn_model_spec spec, snn;
    memset(&spec, 0, sizeof spec);
    memset(&snn, 0, sizeof snn);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w, sw;
    memset(&w, 0, sizeof w);
    memset(&sw, 0, sizeof sw);
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    sn_convert_info info;
    memset(&info, 0, sizeof info);
    run_result *runs = NULL;
    int nruns = 0;
    float *logits = NULL, *ann_logits = NULL;
    int *ann_cls = NULL, *cls = NULL;
    const sn_model_spec *net = &spec;
    const sn_weights *nw = &w;
    struct sn_act_quant *aq = NULL;

    if (sn_session_spec(a, &spec, &st)) goto done;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    const char *wpath = sn_args_str(a, "--weights", NULL);
    if (!wpath && !quiet)
        fprintf(stderr, "note: no --weights given: using seeded random initialization\n");
    if (sn_session_weights(&g, &spec, wpath, (uint64_t)seed, &w, &st)) goto done;
    int converted = !sn_spec_has_spiking(&spec);
    if (converted) {
        co.batch = 64;
        co.target = target;
        co.threads = (int)threads;
        if (sn_snn_convert(&spec, &w, &mode, &co, quiet, &snn, &sw, &info, &st)) goto done;
        net = &snn;
        nw = &sw;
        if (!quiet)
            printf("converted %s to a spiking network (%d blocks, %s, input scale %g)\n", spec.name,
                   info.blocks, sn_convert_mode_names[mode], (double)info.input_scale);
    } else if (sn_args_has(a, "--compare-ann")) {
        sn_fail(&st, SN_ERR_INPUT,
                "--compare-ann needs the ANN: give the ANN model and its weights (snnc snn "
                "converts it on the fly)");
        goto done;
    }
    if (sn_session_int8(a, target, net, nw, 0, &aq, &st)) goto done;
    if (sn_args_has(a, "--input")) { /* a recorded sequence instead of a dataset */
        if (tl || nl || dump || sn_args_has(a, "--compare-ann") || sn_args_has(a, "--limit")) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--input takes the time steps from the file and runs no dataset: %s does not "
                    "apply",
                    tl                          ? "--T"
                    : nl                        ? "--noise"
                    : dump                      ? "--dump-logits"
                    : sn_args_has(a, "--limit") ? "--limit"
                                                : "--compare-ann");
            goto done;
        }
        const char *const *recs = NULL;
        int nrecs = sn_args_all(a, "--record", &recs);
        sn_record_opts ro = {sn_args_str(a, "--input", NULL),
                             recs,
                             nrecs,
                             sn_args_str(a, "--out", NULL),
                             target,
                             fusion,
                             batch_opt,
                             (int)threads,
                             quiet};
        sn_snn_run_recorded(net, nw, &ro, &st);
        goto done;
    }
    if (sn_args_has(a, "--record")) {
        sn_fail(&st, SN_ERR_INPUT, "--record needs --input X.npy (a recorded input sequence)");
        goto done;
    }
    if (nT == 0) {
        Ts[0] = net->snn.T;
        nT = 1;
    }
    if (dump && (nT != 1 || nnoise != 1)) {
        sn_fail(&st, SN_ERR_INPUT, "--dump-logits needs a single --T value and noise level");
        goto done;
    }
    sn_transform tf;
    if (sn_session_data(net, sn_args_str(a, "--data", NULL), SN_SPLIT_TEST, &ds, &tf, &st))
        goto done;
    int64_t n = limit > 0 && limit < ds.n ? limit : ds.n;
    int K = net->num_classes;
    int compare = sn_args_has(a, "--compare-ann");
    if (dump || compare) {
        logits = sn_calloc((size_t)n * (size_t)K, sizeof(float));
        cls = sn_calloc((size_t)n, sizeof(int));
        if (!logits || !cls) {
            sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
    }
    if (compare) {
        ann_logits = sn_calloc((size_t)n * (size_t)K, sizeof(float));
        ann_cls = sn_calloc((size_t)n, sizeof(int));
        if (!ann_logits || !ann_cls) {
            sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
        eval_job j = {&spec,
                      &w,
                      target,
                      fusion,
                      batch_opt ? batch_opt : 64,
                      limit,
                      0,
                      0.0f,
                      (uint64_t)seed,
                      (int)threads,
                      quiet,
                      0,
                      0,
                      &ds,
                      &tf,
                      "ann"};
        run_result ar;
        memset(&ar, 0, sizeof ar);
        if (run_one(&j, ann_logits, &ar, &st)) goto done;
        argmax_rows(ann_logits, n, K, ann_cls);
        printf("ANN %s: top-1 %.2f%% (%lld images, %.1f images/s)\n", spec.name, ar.top1,
               (long long)ar.images, ar.seconds > 0 ? (double)ar.images / ar.seconds : 0.0);
    }
    runs = calloc((size_t)nT * (size_t)nnoise, sizeof *runs);
    if (!runs) {
        sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int t = 0; t < nT; t++)
        for (int q = 0; q < nnoise; q++) {
            run_result *rr = &runs[nruns++];
            rr->T = (int)Ts[t];
            rr->noise = noises[q];
            rr->agree = -1;
            int64_t batch = batch_opt ? batch_opt : (64 / rr->T > 4 ? 64 / rr->T : 4);
            char label[48];
            snprintf(label, sizeof label, "T=%d", rr->T);
            eval_job j = {net,
                          nw,
                          target,
                          fusion,
                          batch,
                          limit,
                          rr->T,
                          (float)rr->noise,
                          (uint64_t)seed,
                          (int)threads,
                          quiet,
                          metrics,
                          schedule,
                          &ds,
                          &tf,
                          label};
            if (run_one(&j, logits, rr, &st)) goto done;
            printf("%s T=%d noise=%g: top-1 %.2f%% (%lld images, %.2f s, %.1f images/s, %s)\n",
                   net->name, rr->T, rr->noise, rr->top1, (long long)rr->images, rr->seconds,
                   rr->seconds > 0 ? (double)rr->images / rr->seconds : 0.0,
                   rr->step_major ? "step-major" : "layer-major");
            if (compare) {
                argmax_rows(logits, n, K, cls);
                rr->agree = 0;
                for (int64_t i = 0; i < n; i++) rr->agree += cls[i] == ann_cls[i];
                printf("  same class as the ANN: %lld/%lld images\n", (long long)rr->agree,
                       (long long)n);
            }
            if (metrics) print_layers(rr);
        }
    if (dump && sn_write_file_atomic(dump, logits, (size_t)n * (size_t)K * sizeof(float), &st))
        goto done;
    const char *out = sn_args_str(a, "--out", NULL);
    if (out && metrics) {
        if (write_outputs(out, runs, nruns, Ts, nT, noises, nnoise, &st)) goto done;
        printf("wrote %s/layers.csv, %s/accuracy.csv and charts\n", out, out);
    }
done:
    for (int i = 0; i < nruns; i++) sn_spk_free(&runs[i].m);
    free(aq);
    free(runs);
    free(logits);
    free(ann_logits);
    free(cls);
    free(ann_cls);
    sn_sb_free(&info.notes);
    sn_dataset_free(&ds);
    sn_weights_free(&w);
    sn_weights_free(&sw);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    sn_spec_free(&snn);
    return sn_report("snn", &st);
}

const sn_command sn_cmd_snn = {&snn_cmd, run_snn};
