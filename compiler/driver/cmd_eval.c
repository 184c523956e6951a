/* snnc eval: accuracy of a model on the test split of its dataset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/exec/evaluate.h"
#include "../backends/ref/ref_backend.h"
#include "../ir/build.h"
#include "calib_int8.h"
#include "commands.h"
#include "session.h"

static const sn_cmd eval_cmd = {
    .name = "eval",
    .usage = "MODEL.yaml [--data DIR] [--weights W.safetensors] [options]\n"
             "       snnc eval --plan DIR [--data DIR] [--weights W.safetensors] [options]",
    .summary = "Run a model on the test split of its dataset and print top-1 and top-k accuracy.",
    .details = "Without --weights the model is initialized with seeded random weights (useful for\n"
               "checking a pipeline, not for accuracy). --dump-logits writes the raw scores as\n"
               "little-endian float32 [N, num_classes].",
    .min_pos = 0,
    .max_pos = 1,
    .opts =
        {
            {"--data", "DIR", "dataset directory (default: data.path of the model)", 0},
            {"--plan", "DIR", "run a plan compiled by 'snnc compile' (no model file, no compiling)",
             0},
            {"--weights", "FILE", "safetensors weights (names as in the PyTorch state_dict)", 0},
            {"--target", "TARGET",
             "backend: cpu (LLVM JIT, default), ref (reference interpreter) or cuda (GPU)", 0},
            {"--precision", "P",
             "fp32 (default); cpu: bf16 or int8 (post-training quantized convolutions); cuda: "
             "tf32 or bf16 (tensor cores)",
             0},
            {"--calib", "N", "int8: calibration images from the training split (default 512)", 0},
            {"--percentile", "P", "int8: activation scale percentile of |x| (default 99.99)", 0},
            {"--fusion", "on|off", "fuse ops into kernels (default on; cpu target)", 0},
            {"--batch", "N", "images per batch (default 64)", 0},
            {"--limit", "N", "evaluate only the first N test images", 0},
            {"--topk", "K", "also report top-K accuracy (default 5)", 0},
            {"--dump-logits", "FILE", "write raw float32 scores [N, num_classes] to FILE", 0},
            {"--seed", "S", "seed for random init and stochastic encoders (default 0)", 0},
            {"--threads", "N", "worker threads (default: all cores)", 0},
            {"--json", NULL, "print the result as one JSON object", 0},
            {"--quiet", NULL, "no progress line", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

static void eval_progress(void *arg, int64_t done, int64_t total, const sn_eval_result *r) {
    sn_progress *p = arg;
    char extra[64];
    snprintf(extra, sizeof extra, "top-1 %.2f%%",
             r->n ? 100.0 * (double)r->correct1 / (double)r->n : 0.0);
    sn_progress_update(p, done, extra);
}

static int run_eval(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int64_t batch, limit, topk, seed, threads;
    sn_target target;
    int fusion;
    if (sn_args_int(a, "--batch", 64, 1, 1 << 16, &batch, &st) ||
        sn_args_int(a, "--limit", 0, 0, INT64_MAX, &limit, &st) ||
        sn_args_int(a, "--topk", 5, 1, 1000, &topk, &st) ||
        sn_args_int(a, "--seed", 0, 0, INT64_MAX, &seed, &st) ||
        sn_args_int(a, "--threads", 0, 0, 1024, &threads, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        return sn_report("eval", &st);

    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    sn_pool *pool = NULL;
    float *logits = NULL;
    struct sn_act_quant *aq = NULL;
    int rc = 0;

    const char *plan_dir = sn_args_str(a, "--plan", NULL);
    if (!plan_dir && a->npos != 1) {
        sn_fail(&st, SN_ERR_INPUT, "give a MODEL.yaml or --plan DIR (see snnc eval --help)");
        goto done;
    }
    if (plan_dir && a->npos != 0) {
        sn_fail(&st, SN_ERR_INPUT, "--plan DIR replaces the MODEL.yaml argument: give one of them");
        goto done;
    }
    if (plan_dir) {
        char ypath[4096];
        snprintf(ypath, sizeof ypath, "%s/plan.json", plan_dir);
        if (!sn_file_exists(ypath)) {
            sn_fail(&st, SN_ERR_INPUT,
                    "%s: not a compiled plan (no plan.json; make one with 'snnc compile')",
                    plan_dir);
            goto done;
        }
        snprintf(ypath, sizeof ypath, "%s/model.yaml", plan_dir);
        if (sn_session_spec_path(a, ypath, &spec, &st)) goto done;
    } else {
        if (sn_session_spec(a, &spec, &st)) goto done;
        sn_build_opts bo = {.batch = batch, .with_loss = 0};
        if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    }
    sn_transform tf;
    if (sn_session_data(&spec, sn_args_str(a, "--data", NULL), SN_SPLIT_TEST, &ds, &tf, &st))
        goto done;
    const char *wpath = sn_args_str(a, "--weights", NULL);
    if (!wpath && !sn_args_has(a, "--quiet") && !sn_args_has(a, "--json"))
        fprintf(stderr,
                "note: no --weights given: using seeded random initialization (seed %lld)\n",
                (long long)seed);
    if (plan_dir) {
        if (sn_session_load_plan(a, plan_dir, &spec, wpath, (uint64_t)seed, &plan, &be, &w, &st))
            goto done;
        if (sn_args_has(a, "--batch") && batch != plan.batch) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--batch %lld differs from the batch %lld the plan was compiled for",
                    (long long)batch, (long long)plan.batch);
            goto done;
        }
    } else {
        if (sn_session_weights(&g, &spec, wpath, (uint64_t)seed, &w, &st) ||
            sn_session_int8(a, target, &spec, &w, 0, &aq, &st) ||
            sn_session_lower(&g, target, fusion, 0, &plan, &be, &st))
            goto done;
    }
    if (sn_plan_bind(&plan, &w, &st)) goto done;
    pool = sn_pool_create((int)threads);
    if (!pool) {
        sn_fail(&st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    int64_t n = limit > 0 && limit < ds.n ? limit : ds.n;
    const char *dump = sn_args_str(a, "--dump-logits", NULL);
    if (dump) {
        logits = sn_calloc((size_t)n * (size_t)spec.num_classes, sizeof(float));
        if (!logits) {
            sn_fail(&st, SN_ERR_RUNTIME, "out of memory for %lld logits", (long long)n);
            goto done;
        }
    }
    sn_progress prog;
    sn_progress_start(&prog, "eval", n);
    int quiet = sn_args_has(a, "--quiet") || sn_args_has(a, "--json");
    sn_eval_result r;
    if (sn_evaluate(&plan, pool, &ds, &tf, limit, (int)topk, (uint64_t)seed, logits, &r,
                    quiet ? NULL : eval_progress, &prog, &st))
        goto done;
    if (!quiet) sn_progress_end(&prog);
    if (dump && sn_write_file_atomic(dump, logits,
                                     (size_t)r.n * (size_t)spec.num_classes * sizeof(float), &st))
        goto done;
    double top1 = r.n ? 100.0 * (double)r.correct1 / (double)r.n : 0.0;
    double topk_acc = r.n ? 100.0 * (double)r.correctk / (double)r.n : 0.0;
    if (sn_args_has(a, "--json")) {
        printf("{\"model\": \"%s\", \"images\": %lld, \"top1\": %.4f, \"top%d\": %.4f, "
               "\"correct1\": %lld, "
               "\"correct%d\": %lld, \"seconds\": %.3f, \"images_per_second\": %.1f, \"target\": "
               "\"%s\"}\n",
               spec.name, (long long)r.n, top1, r.k, topk_acc, (long long)r.correct1, r.k,
               (long long)r.correctk, r.seconds, r.seconds > 0 ? (double)r.n / r.seconds : 0.0,
               sn_target_names[target]);
    } else {
        printf("%s on %s: %lld images\n", spec.name, ds.source, (long long)r.n);
        printf("top-1: %.2f%% (%lld/%lld)\n", top1, (long long)r.correct1, (long long)r.n);
        printf("top-%d: %.2f%% (%lld/%lld)\n", r.k, topk_acc, (long long)r.correctk,
               (long long)r.n);
        printf("time: %.2f s (%.1f images/s, target %s)\n", r.seconds,
               r.seconds > 0 ? (double)r.n / r.seconds : 0.0, sn_target_names[target]);
        if (dump)
            printf("logits: %s (float32 [%lld, %d])\n", dump, (long long)r.n, spec.num_classes);
    }
done:
    rc = sn_report("eval", &st);
    free(aq);
    free(logits);
    sn_pool_destroy(pool);
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_weights_free(&w);
    sn_dataset_free(&ds);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return rc;
}

const sn_command sn_cmd_eval = {&eval_cmd, run_eval};
