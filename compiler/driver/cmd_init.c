/* snnc init: writes a model's seeded initial weights to a safetensors file. */
#include <stdio.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../ir/build.h"
#include "commands.h"
#include "session.h"

static const sn_cmd init_cmd = {
    .name = "init",
    .usage = "MODEL.yaml --out W.safetensors [--seed S] [--set KEY=VALUE]...",
    .summary =
        "Write a model's initial weights (its train.init initializer, seeded) as safetensors.",
    .details =
        "The file holds every parameter and buffer under its PyTorch state_dict name, so it\n"
        "loads with --weights / --init here and with load_state_dict in PyTorch. The same\n"
        "seed always gives the same weights.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--out", "FILE", "where to write the weights (required)", 0},
            {"--seed", "S", "initialization seed (default: train.seed of the model)", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

static int run_init(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int64_t seed;
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w;
    memset(&w, 0, sizeof w);
    const char *out = sn_args_str(a, "--out", NULL);
    if (!out) {
        sn_fail(&st, SN_ERR_INPUT, "--out FILE is required (where to write the weights)");
        goto done;
    }
    if (sn_args_int(a, "--seed", 0, 0, INT64_MAX, &seed, &st) || sn_session_spec(a, &spec, &st))
        goto done;
    uint64_t s = sn_args_has(a, "--seed") ? (uint64_t)seed : spec.train.seed;
    sn_build_opts bo = {.batch = 1, .with_loss = 0};
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st) ||
        sn_session_weights(&g, &spec, NULL, s, &w, &st))
        goto done;
    char seed_s[32];
    sn_fmt(seed_s, sizeof seed_s, "%llu", (unsigned long long)s);
    sn_st_meta meta[3] = {{(char *)"format", (char *)"snnc-weights"},
                          {(char *)"model", spec.name},
                          {(char *)"seed", seed_s}};
    if (sn_weights_save(&w, out, meta, 3, &st)) goto done;
    int64_t count = 0;
    for (int i = 0; i < w.n; i++) count += sn_shape_numel(&w.desc[i].shape);
    printf("%s: %d tensors, %lld values (seed %llu) -> %s\n", spec.name, w.n, (long long)count,
           (unsigned long long)s, out);
done:;
    int rc = sn_report("init", &st);
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return rc;
}

const sn_command sn_cmd_init = {&init_cmd, run_init};
