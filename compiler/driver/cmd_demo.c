/* snnc demo: the main job on the built-in default: trains the demo CNN (models/lenet_mnist.yaml)
 * on the MNIST sample shipped in models/data/mnist-sample, then evaluates the best checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../runtime/core/util.h"
#include "commands.h"

static const sn_cmd demo_cmd = {
    .name = "demo",
    .usage = "[--out RUNDIR] [--epochs N] [--target cpu|ref] [--threads N]",
    .summary = "Train the demo CNN on the built-in MNIST sample and evaluate it (about 10 s).",
    .details =
        "Runs 'snnc train models/lenet_mnist.yaml --data models/data/mnist-sample' from the\n"
        "source tree this binary was built from, then 'snnc eval' on the best checkpoint.\n"
        "The run directory holds the tables, log, checkpoints and plots of a normal run.",
    .min_pos = 0,
    .max_pos = 0,
    .opts =
        {
            {"--out", "RUNDIR", "run directory (default runs/demo-TIMESTAMP)", 0},
            {"--epochs", "N", "epochs (default: the model's 15)", 0},
            {"--target", "TARGET", "backend: cpu (LLVM JIT, default) or ref", 0},
            {"--threads", "N", "worker threads (default: all cores)", 0},
        },
};

/* Runs another command with the given arguments. */
static int run_command(const sn_command *c, int argc, char **argv) {
    sn_args args;
    sn_status st;
    sn_status_init(&st);
    if (sn_args_parse(c->spec, argc, argv, &args, &st) != SN_OK)
        return sn_report(c->spec->name, &st);
    return c->run(&args);
}

static int run_demo(const sn_args *a) {
    char model[2048], data[2048], out[2048];
    sn_fmt(model, sizeof model, "%s/models/lenet_mnist.yaml", SNNC_SOURCE_DIR);
    sn_fmt(data, sizeof data, "%s/models/data/mnist-sample", SNNC_SOURCE_DIR);
    if (!sn_file_exists(model) || !sn_file_exists(data)) {
        sn_status st;
        sn_status_init(&st);
        sn_fail(&st, SN_ERR_INPUT,
                "the demo needs the source tree this snnc was built from (%s): %s or %s is "
                "missing",
                SNNC_SOURCE_DIR, model, data);
        return sn_report("demo", &st);
    }
    const char *o = sn_args_str(a, "--out", NULL);
    if (o) {
        sn_strlcpy(out, o, sizeof out);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
        sn_fmt(out, sizeof out, "runs/demo-%s", stamp);
    }
    char *targv[16];
    int n = 0;
    targv[n++] = model;
    targv[n++] = (char *)"--data";
    targv[n++] = data;
    targv[n++] = (char *)"--out";
    targv[n++] = out;
    static const char *const pass[] = {"--epochs", "--target", "--threads"};
    for (size_t i = 0; i < SN_ARRAY_LEN(pass); i++)
        if (sn_args_has(a, pass[i])) {
            targv[n++] = (char *)pass[i];
            targv[n++] = (char *)sn_args_str(a, pass[i], NULL);
        }
    printf("== snnc demo: training %s on the built-in MNIST sample\n", model);
    fflush(stdout);
    int rc = run_command(&sn_cmd_train, n, targv);
    if (rc) return rc;
    char best[2304], yaml[2304];
    sn_path_join(best, sizeof best, out, "best.safetensors");
    sn_path_join(yaml, sizeof yaml, out, "model.yaml");
    char *eargv[] = {yaml, (char *)"--weights", best, (char *)"--quiet"};
    printf("\n== evaluating the best checkpoint: snnc eval %s --weights %s\n", yaml, best);
    fflush(stdout);
    rc = run_command(&sn_cmd_eval, 4, eargv);
    if (rc) return rc;
    printf("\n== done. In %s: steps.csv, epochs.csv, log.jsonl, loss.svg, accuracy.svg, lr.svg,\n"
           "   last.safetensors and best.safetensors. Next: snnc train --help, snnc bench "
           "models/vgg16_cifar10.yaml\n",
           out);
    return 0;
}

const sn_command sn_cmd_demo = {&demo_cmd, run_demo};
