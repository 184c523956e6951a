/* snnc train: trains a model from its YAML recipe and leaves a run directory.
 *
 * RUNDIR/
 *   model.yaml         the resolved model (every default written out, --set applied, the
 *                      data path made absolute): `snnc train --resume` and `snnc eval` read it
 *   run.json           what the run was started with (data sizes, batches per epoch, seed)
 *   steps.csv          step, epoch, loss, lr, accuracy (one row per optimizer step)
 *   epochs.csv         epoch, train_loss, train_acc, test_top1, test_topk, seconds
 *   log.jsonl          one JSON object per event (start, epoch, checkpoint, stop, end)
 *   last.safetensors   the latest checkpoint (weights, optimizer state, step, seed)
 *   best.safetensors   the checkpoint with the best test (or holdout) top-1 so far
 *   loss.svg, accuracy.svg, lr.svg
 *
 * Every random choice (shuffling, augmentation, dropout masks, initialization) is a pure
 * function of the seed and the step, and the kernels reduce in a fixed order, so a run
 * resumed from any checkpoint repeats the uninterrupted run's losses exactly.
 *
 * Under an MPI launcher (mpirun -np N snnc train ...) every rank runs this command on its
 * part of each global batch (trainer.h); rank 0 alone writes the run directory, logs and
 * progress, and its checkpoints are those of a single process (a run resumes with any N).
 * Failures that any rank may meet alone (its data, its files, compiling) are agreed on at
 * the end of each setup phase, so every rank stops with one message; a rank that fails
 * during training ends the whole job (sn_comm_abort) rather than leave the others waiting. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../runtime/core/json.h"
#include "../../runtime/core/util.h"
#include "../../runtime/data/loader.h"
#include "../../runtime/dist/comm.h"
#include "../../runtime/train/checkpoint.h"
#include "../../runtime/train/report.h"
#include "commands.h"
#include "session.h"
#include "trainer.h"

static const sn_cmd train_cmd = {
    .name = "train",
    .usage = "MODEL.yaml [--data DIR] [--init W.safetensors] [--set KEY=VALUE]... [--out RUNDIR]\n"
             "            [--epochs N | --steps N] [options]\n"
             "       snnc train --resume RUNDIR [--epochs N | --steps N] [options]",
    .summary = "Train a model with its YAML recipe; write checkpoints, tables, a log and plots.",
    .details =
        "The run directory (default runs/NAME-YYYYmmdd-HHMMSS) receives model.yaml (the resolved\n"
        "model), run.json, steps.csv, epochs.csv, log.jsonl, last.safetensors, best.safetensors\n"
        "and loss/accuracy/lr plots as SVG. The test split is evaluated after every epoch, or "
        "with\n"
        "--holdout N the last N training images instead (they are then not trained on), so a\n"
        "recipe can be chosen without looking at the test set; the test_* columns of epochs.csv\n"
        "then hold the holdout's accuracy and run.json says \"eval_split\": \"holdout\".\n"
        "Checkpoints are written at every epoch end, every --checkpoint-every steps, and when\n"
        "the run is interrupted (Ctrl-C or SIGTERM finish the current step first); --resume\n"
        "continues from last.safetensors and repeats the uninterrupted run's losses exactly.\n"
        "A loss that becomes NaN or infinite stops the run (exit 1); last.safetensors keeps\n"
        "the last good weights.\n"
        "Data-parallel: `mpirun -np N snnc train ...` (or mpiexec, srun) trains on N ranks, each\n"
        "taking its part of every global batch (train.batch_size); gradients are summed over\n"
        "the ranks (NCCL on GPUs with --target cuda, one GPU per rank), rank 0 writes the run\n"
        "directory, and its checkpoints resume with any number of ranks. train.sync_bn: true\n"
        "normalizes batch norm over the global batch.",
    .min_pos = 0,
    .max_pos = 1,
    .opts =
        {
            {"--data", "DIR", "dataset directory (default: data.path of the model)", 0},
            {"--init", "FILE",
             "initial weights (safetensors or a checkpoint; default: seeded init)", 0},
            {"--out", "RUNDIR", "run directory (default runs/NAME-TIMESTAMP; must not exist)", 0},
            {"--resume", "RUNDIR", "continue the run in RUNDIR from its last checkpoint", 0},
            {"--epochs", "N", "train for N epochs (default: train.epochs of the model)", 0},
            {"--steps", "N", "stop after N optimizer steps in total (may end mid-epoch)", 0},
            {"--batch", "N", "images per step (default: train.batch_size of the model)", 0},
            {"--limit-train", "N", "use only the first N training images", 0},
            {"--holdout", "N",
             "evaluate on the last N training images (after --limit-train) instead of the test "
             "split, and train on the rest",
             0},
            {"--limit-test", "N", "evaluate on only the first N test images", 0},
            {"--topk", "K", "also report top-K test accuracy (default 5)", 0},
            {"--checkpoint-every", "N",
             "also write last.safetensors every N steps (default: only at epoch ends)", 0},
            {"--target", "TARGET",
             "backend: cpu (LLVM JIT, default), ref (reference interpreter) or cuda (GPU)", 0},
            {"--precision", "P",
             "fp32 (default) or bf16 (cpu: bf16 convolutions and linear layers, fp32 master "
             "weights; cuda: tensor cores), tf32 (cuda)",
             0},
            {"--fusion", "on|off", "fuse ops into kernels (default on; cpu target)", 0},
            {"--seed", "S", "seed for init, shuffling, augmentation, dropout (default: train.seed)",
             0},
            {"--threads", "N",
             "worker threads (default: all cores; under mpirun, the cores over the ranks on "
             "the host)",
             0},
            {"--bucket-mb", "MB",
             "under mpirun: gradients are summed over the ranks in buckets of about MB "
             "megabytes (default 4)",
             0},
            {"--quiet", NULL, "no progress line (epoch summaries are still printed)", 0},
            {"--set", "KEY=VALUE", "override a YAML field (not with --resume)", 1},
        },
};

static volatile sig_atomic_t g_signal;
static void on_signal(int s) {
    g_signal = s;
}

/* Everything a run holds; freed in one place. */
typedef struct run {
    char dir[2048];
    sn_model_spec spec;
    sn_dataset train, test;
    sn_transform ttf, etf;
    sn_trainer tr;
    int have_trainer;
    sn_loader *loader;
    sn_csv *steps_csv, *epochs_csv;
    sn_jsonl *log;
    int64_t spe;         /* steps per epoch */
    int64_t total_steps; /* where this invocation stops */
    int64_t epochs;      /* epochs the schedule spans */
    int topk;
    int64_t limit_test;
    int64_t holdout;       /* > 0: r->test holds the last `holdout` training images */
    const char *eval_name; /* "test" or "holdout", in printed lines */
    int64_t ckpt_every;
    double best;
    int quiet, tty;
    int collective_error; /* the failure happened on every rank alike (no abort needed) */
    /* time inside training steps (forward, backward, gradient sums, optimizer): all of them,
     * the first (warm-up) alone, and how many (the "end" log event reports them) */
    double step_seconds, first_step_seconds;
    int64_t steps_timed;
    sn_comm *comm; /* the job's ranks (a "self" communicator in a single process) */
    int rank0;     /* this process writes files and prints */
} run;

static void path_in(const run *r, char *dst, size_t n, const char *name) {
    sn_path_join(dst, n, r->dir, name);
}

static sn_code log_event(run *r, const char *event, const char *fields, sn_status *st) {
    return r->log ? sn_jsonl_event(r->log, event, fields, st) : SN_OK;
}

static sn_opt_state opt_state(run *r) {
    sn_opt_state o;
    memset(&o, 0, sizeof o);
    o.nslots = r->tr.nslots;
    for (int k = 0; k < o.nslots; k++) {
        o.slot_names[k] = r->tr.slot_names[k];
        o.slots[k] = &r->tr.slots[k];
    }
    return o;
}

static sn_code save_ckpt(run *r, const char *name, sn_status *st) {
    char path[2304];
    path_in(r, path, sizeof path, name);
    sn_ckpt_meta m;
    memset(&m, 0, sizeof m);
    m.step = r->tr.step;
    m.epoch = r->tr.step / r->spe;
    m.rng[0] = r->tr.seed;
    m.best = r->best;
    sn_strlcpy(m.model, r->spec.name, sizeof m.model);
    sn_opt_state o = opt_state(r);
    /* every rank must hold rank 0's weights, which rank 0 writes */
    if (sn_trainer_check_ranks(&r->tr, st)) return st->code;
    if (!r->rank0) return SN_OK;
    /* weights a GPU plan trained are copied back first */
    if (sn_plan_sync_weights(&r->tr.tp, st) || sn_checkpoint_save(path, &r->tr.w, &o, &m, st))
        return st->code;
    char f[256];
    sn_fmt(f, sizeof f, "\"file\": \"%s\", \"step\": %lld", name, (long long)m.step);
    return log_event(r, "checkpoint", f, st);
}

static void fmt_duration(char *dst, size_t n, double s) {
    if (!(s >= 0) || s > 1e7) {
        sn_fmt(dst, n, "?");
        return;
    }
    long v = (long)(s + 0.5);
    if (v >= 3600)
        sn_fmt(dst, n, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else if (v >= 60)
        sn_fmt(dst, n, "%ldm%02lds", v / 60, v % 60);
    else
        sn_fmt(dst, n, "%lds", v);
}

/* ---- plots, redrawn from the CSV files after every epoch ---- */

static sn_code draw_plots(run *r, sn_status *st) {
    if (!r->rank0) return SN_OK;
    char path[2304], csv[2304];
    path_in(r, csv, sizeof csv, "steps.csv");
    static const char *const sc[] = {"step", "loss", "lr"};
    double **s = NULL;
    int ns = 0;
    if (sn_csv_read(csv, sc, 3, &s, &ns, st)) return st->code;
    path_in(r, csv, sizeof csv, "epochs.csv");
    static const char *const ec[] = {"epoch", "train_loss", "train_acc", "test_top1", "test_topk"};
    double **e = NULL;
    int ne = 0;
    if (sn_csv_read(csv, ec, 5, &e, &ne, st)) {
        sn_csv_free_columns(s, 3);
        return st->code;
    }
    /* an epoch's mean sits at the middle of its steps */
    double *eend = sn_calloc((size_t)ne + 1, sizeof(double));
    for (int i = 0; i < ne; i++) eend[i] = (e[0][i] - 0.5) * (double)r->spe + 0.5;
    char title[160], kname[32];
    sn_fmt(title, sizeof title, "%s: training loss", r->spec.name);
    sn_series ls[2] = {{"per step", s[0], s[1], ns}, {"epoch mean", eend, e[1], ne}};
    sn_chart lc = {title, "step", "loss", 1, 0};
    path_in(r, path, sizeof path, "loss.svg");
    sn_code c = sn_svg_lines(path, &lc, ls, 2, st);
    if (c == SN_OK) {
        sn_fmt(title, sizeof title, "%s: accuracy (%%)", r->spec.name);
        char t1name[32];
        sn_fmt(kname, sizeof kname, "%s top-%d", r->eval_name, r->topk);
        sn_fmt(t1name, sizeof t1name, "%s top-1", r->eval_name);
        sn_series as[3] = {
            {"train", e[0], e[2], ne}, {t1name, e[0], e[3], ne}, {kname, e[0], e[4], ne}};
        sn_chart ac = {title, "epoch", "accuracy (%)", 0, 0};
        path_in(r, path, sizeof path, "accuracy.svg");
        c = sn_svg_lines(path, &ac, as, 3, st);
    }
    if (c == SN_OK) {
        sn_fmt(title, sizeof title, "%s: learning rate", r->spec.name);
        sn_series rs = {"lr", s[0], s[2], ns};
        sn_chart rc = {title, "step", "learning rate", 0, 0};
        path_in(r, path, sizeof path, "lr.svg");
        c = sn_svg_lines(path, &rc, &rs, 1, st);
    }
    free(eend);
    sn_csv_free_columns(s, 3);
    sn_csv_free_columns(e, 5);
    return c;
}

/* ---- setup ---- */

static sn_code make_run_dir(run *r, const sn_args *a, sn_status *st) {
    const char *out = sn_args_str(a, "--out", NULL);
    if (out) {
        sn_strlcpy(r->dir, out, sizeof r->dir);
    } else {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
        sn_fmt(r->dir, sizeof r->dir, "runs/%s-%s", r->spec.name, stamp);
    }
    char probe[2304];
    path_in(r, probe, sizeof probe, "model.yaml");
    if (sn_file_exists(probe))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s already holds a run: continue it with --resume %s, or choose another "
                       "--out",
                       r->dir, r->dir);
    return sn_mkdirs(r->dir, st);
}

/* The training transform: the evaluation one plus the recipe's augmentation. */
static void train_transform(const sn_model_spec *spec, const sn_transform *eval, sn_transform *t) {
    *t = *eval;
    const sn_augment_spec *au = &spec->data.augment;
    t->train = 1;
    t->random_crop = au->random_crop_size > 0 || au->random_crop_padding > 0;
    t->crop_padding = au->random_crop_padding;
    t->hflip = au->hflip;
    t->brightness = au->brightness;
    t->contrast_lo = au->contrast_lo;
    t->contrast_hi = au->contrast_hi;
}

static sn_code write_model_yaml(run *r, sn_status *st) {
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_spec_print_yaml(&r->spec, &sb);
    char path[2304];
    path_in(r, path, sizeof path, "model.yaml");
    sn_code c = sn_write_file_atomic(path, sn_sb_cstr(&sb), sb.len, st);
    sn_sb_free(&sb);
    return c;
}

static sn_code write_run_json(run *r, sn_status *st) {
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_sb_printf(&sb, "{\n  \"model\": ");
    sn_sb_json_str(&sb, r->spec.name);
    sn_sb_printf(&sb,
                 ",\n  \"train_images\": %lld,\n  \"test_images\": %lld,\n  \"batch\": %d,\n"
                 "  \"steps_per_epoch\": %lld,\n  \"seed\": %llu,\n  \"limit_test\": %lld,\n"
                 "  \"topk\": %d,\n  \"holdout\": %lld,\n  \"eval_split\": \"%s\",\n"
                 "  \"snnc\": \"%s\"\n}\n",
                 (long long)r->train.n, (long long)r->test.n, r->spec.train.batch_size,
                 (long long)r->spe, (unsigned long long)r->spec.train.seed,
                 (long long)r->limit_test, r->topk, (long long)r->holdout, r->eval_name,
                 SNNC_VERSION);
    char path[2304];
    path_in(r, path, sizeof path, "run.json");
    sn_code c = sn_write_file_atomic(path, sn_sb_cstr(&sb), sb.len, st);
    sn_sb_free(&sb);
    return c;
}

/* A resumed run must see the data it started with: the first train_images images of the
 * training split (fewer when it was started with --limit-train), and the holdout images
 * after them when it was started with --holdout; it evaluates as it did (--limit-test,
 * --topk) unless told otherwise. */
static sn_code resume_data(run *r, const sn_args *a, sn_status *st) {
    char path[2304];
    path_in(r, path, sizeof path, "run.json");
    unsigned char *text = NULL;
    size_t len = 0;
    if (sn_read_file(path, &text, &len, st)) return st->code;
    sn_json j;
    sn_code c = sn_json_parse(path, (const char *)text, len, &j, st);
    free(text);
    if (c) return c;
    const sn_json *v = sn_json_get(&j, "train_images"), *ho = sn_json_get(&j, "holdout");
    if (ho && (ho->type != SN_JSON_NUMBER || !ho->is_int || ho->integer < 0 ||
               ho->integer > INT64_MAX / 2))
        c = sn_fail(st, SN_ERR_INPUT, "%s: bad \"holdout\" (a count of images)", path);
    else if (!v || v->type != SN_JSON_NUMBER || !v->is_int || v->integer < 1 ||
             v->integer > INT64_MAX / 2)
        c = sn_fail(st, SN_ERR_INPUT, "%s: missing or bad \"train_images\"", path);
    if (c == SN_OK) {
        r->holdout = ho ? ho->integer : 0;
        int64_t need = v->integer + r->holdout;
        if (need > r->train.n)
            c = sn_fail(st, SN_ERR_INPUT,
                        "%s: the run was started with %lld training images (%lld of them held "
                        "out) but %s has only %lld; a resumed run must see the same data",
                        path, (long long)need, (long long)r->holdout, r->train.source,
                        (long long)r->train.n);
        else
            sn_dataset_truncate(&r->train, need);
    }
    const sn_json *lt = sn_json_get(&j, "limit_test"), *tk = sn_json_get(&j, "topk");
    if (c == SN_OK && !sn_args_has(a, "--limit-test") && lt && lt->is_int && lt->integer >= 0)
        r->limit_test = lt->integer;
    if (c == SN_OK && !sn_args_has(a, "--topk") && tk && tk->is_int && tk->integer >= 1 &&
        tk->integer <= 1000)
        r->topk = (int)tk->integer;
    sn_json_free(&j);
    return c;
}

static sn_code open_tables(run *r, int resume, sn_status *st) {
    if (!r->rank0) return SN_OK;
    char path[2304];
    static const char *const sc[] = {"step", "epoch", "loss", "lr", "accuracy"};
    static const char *const ec[] = {"epoch",     "train_loss", "train_acc",
                                     "test_top1", "test_topk",  "seconds"};
    path_in(r, path, sizeof path, "steps.csv");
    if (sn_csv_open(&r->steps_csv, path, sc, 5, st)) return st->code;
    path_in(r, path, sizeof path, "epochs.csv");
    if (sn_csv_open(&r->epochs_csv, path, ec, 6, st)) return st->code;
    path_in(r, path, sizeof path, "log.jsonl");
    if (sn_jsonl_open(&r->log, path, st)) return st->code;
    if (resume) {
        /* rows written after the checkpoint are redone */
        if (sn_csv_truncate_from(r->steps_csv, (double)r->tr.step + 1, st) ||
            sn_csv_truncate_from(r->epochs_csv, (double)(r->tr.step / r->spe) + 1, st))
            return st->code;
    }
    return SN_OK;
}

/* The loss and accuracy sums of the current epoch's steps already done (resume mid-epoch),
 * read back from steps.csv so the epoch's mean covers the whole epoch. */
static sn_code epoch_so_far(run *r, int64_t epoch, double *loss, double *acc, int64_t *n,
                            sn_status *st) {
    *loss = *acc = 0;
    *n = 0;
    if (r->tr.step % r->spe == 0 || !r->rank0) return SN_OK;
    char path[2304];
    path_in(r, path, sizeof path, "steps.csv");
    static const char *const c3[] = {"step", "loss", "accuracy"};
    double **cols = NULL;
    int rows = 0;
    if (sn_csv_read(path, c3, 3, &cols, &rows, st)) return st->code;
    for (int i = 0; i < rows; i++) {
        int64_t s = (int64_t)cols[0][i];
        if (s > epoch * r->spe && s <= r->tr.step) {
            *loss += cols[1][i];
            *acc += cols[2][i];
            (*n)++;
        }
    }
    sn_csv_free_columns(cols, 3);
    if (*n != r->tr.step - epoch * r->spe)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: has %lld rows for the %lld steps of epoch %lld before the checkpoint",
                       path, (long long)*n, (long long)(r->tr.step - epoch * r->spe),
                       (long long)epoch + 1);
    return SN_OK;
}

/* ---- the loop ---- */

typedef struct progress {
    double t0, last_print;
    int64_t steps0; /* step count when timing started */
    double images, compute_s;
} progress;

static void show_progress(run *r, progress *p, int64_t epoch, int64_t b, double loss, double acc,
                          int force) {
    if (r->quiet) return;
    double now = sn_now();
    if (!force && now - p->last_print < (r->tty ? 0.25 : 30.0)) return;
    p->last_print = now;
    double el = now - p->t0;
    double ips = el > 0 ? p->images / el : 0;
    int64_t left = r->total_steps - r->tr.step;
    double done_steps = (double)(r->tr.step - p->steps0);
    char eta[32];
    fmt_duration(eta, sizeof eta, done_steps > 0 ? el / done_steps * (double)left : -1);
    fprintf(stderr,
            "%sepoch %lld/%lld  step %lld/%lld  loss %.4f  acc %.1f%%  %.0f img/s  ETA %s%s",
            r->tty ? "\r\033[K" : "", (long long)epoch + 1, (long long)r->epochs, (long long)b,
            (long long)r->spe, loss, 100.0 * acc, ips, eta, r->tty ? "" : "\n");
    fflush(stderr);
}

static void clear_progress(run *r) {
    if (!r->quiet && r->tty) fputs("\r\033[K", stderr);
}

typedef struct eval_prog {
    run *r;
    double last;
} eval_prog;

static void eval_progress(void *arg, int64_t done, int64_t total, const sn_eval_result *res) {
    eval_prog *e = arg;
    if (e->r->quiet || !e->r->tty) return;
    double now = sn_now();
    if (now - e->last < 0.25 && done < total) return;
    e->last = now;
    fprintf(stderr, "\r\033[Kevaluating %lld/%lld  top-1 %.2f%%", (long long)done, (long long)total,
            res->n ? 100.0 * (double)res->correct1 / (double)res->n : 0.0);
    fflush(stderr);
}

static sn_code end_epoch(run *r, int64_t epoch, double loss_sum, double acc_sum, int64_t nsteps,
                         double seconds, sn_status *st) {
    sn_eval_result er;
    eval_prog ep = {r, 0};
    if (sn_trainer_evaluate(&r->tr, &r->test, &r->etf, r->limit_test, r->topk, &er, eval_progress,
                            &ep, st))
        return st->code;
    clear_progress(r);
    double tl = nsteps ? loss_sum / (double)nsteps : NAN,
           ta = nsteps ? acc_sum / (double)nsteps : NAN;
    double t1 = er.n ? 100.0 * (double)er.correct1 / (double)er.n : 0;
    double tk = er.n ? 100.0 * (double)er.correctk / (double)er.n : 0;
    double row[6] = {(double)epoch + 1, tl, 100.0 * ta, t1, tk, seconds};
    if (r->rank0 && sn_csv_row(r->epochs_csv, row, st)) return st->code;
    int improved = t1 > r->best;
    if (r->rank0)
        printf("epoch %lld/%lld: train loss %.4f acc %.2f%% | %s top-1 %.2f%% top-%d %.2f%% | %.1f "
               "s%s\n",
               (long long)epoch + 1, (long long)r->epochs, tl, 100.0 * ta, r->eval_name, t1,
               r->topk, tk, seconds, improved ? " (best)" : "");
    fflush(stdout);
    char f[512];
    sn_fmt(f, sizeof f,
           "\"epoch\": %lld, \"step\": %lld, \"train_loss\": %.9g, \"train_acc\": %.9g, "
           "\"test_top1\": %.9g, \"test_topk\": %.9g, \"k\": %d, \"test_images\": %lld, "
           "\"seconds\": %.3f",
           (long long)epoch + 1, (long long)r->tr.step, tl, 100.0 * ta, t1, tk, r->topk,
           (long long)er.n, seconds);
    if (log_event(r, "epoch", f, st)) return st->code;
    if (improved) {
        r->best = t1;
        if (save_ckpt(r, "best.safetensors", st)) return st->code;
    }
    if (save_ckpt(r, "last.safetensors", st)) return st->code;
    return draw_plots(r, st);
}

/* Returns SN_OK when the run reached its end, SN_ERR_RUNTIME (with message) when it
 * diverged, and sets *interrupted when a signal stopped it after a checkpoint. */
static sn_code train_loop(run *r, int *interrupted, sn_status *st) {
    progress p;
    memset(&p, 0, sizeof p);
    p.t0 = p.last_print = sn_now();
    p.steps0 = r->tr.step;
    p.last_print = 0;
    int64_t last_ckpt = r->tr.step;
    int stop = 0; /* some rank was asked to stop (Ctrl-C, SIGTERM): agreed in each step */
    while (r->tr.step < r->total_steps) {
        int64_t epoch = r->tr.step / r->spe, b0 = r->tr.step % r->spe;
        double loss_sum, acc_sum;
        int64_t nsteps;
        if (epoch_so_far(r, epoch, &loss_sum, &acc_sum, &nsteps, st)) return st->code;
        double te0 = sn_now();
        sn_loader_start(r->loader, (uint64_t)epoch, b0);
        for (int64_t b = b0; b < r->spe && r->tr.step < r->total_steps; b++) {
            const float *x;
            const int32_t *y;
            int64_t n = sn_loader_next(r->loader, &x, &y);
            if (n != r->tr.batch)
                return sn_fail(st, SN_ERR_RUNTIME, "data loader returned %lld images at batch %lld",
                               (long long)n, (long long)b);
            double lr = sn_lr_at(&r->tr.sched, epoch, b, r->spe);
            double loss;
            int64_t correct;
            double ts = sn_now();
            r->tr.stop_request = g_signal != 0;
            if (sn_trainer_step(&r->tr, x, y, lr, &loss, &correct, st)) return st->code;
            double step_s = sn_now() - ts;
            p.compute_s += step_s;
            if (r->steps_timed++ == 0) r->first_step_seconds = step_s;
            r->step_seconds += step_s;
            p.images += (double)r->tr.gbatch;
            double acc = (double)correct / (double)r->tr.gbatch;
            /* several ranks stop together after the step some rank was signalled in */
            stop = r->comm->size > 1 ? r->tr.stop_agreed : g_signal != 0;
            if (!isfinite(loss)) { /* the global loss: every rank stops here */
                r->collective_error = 1;
                clear_progress(r);
                char f[256];
                sn_fmt(
                    f, sizeof f, "\"step\": %lld, \"epoch\": %lld, \"lr\": %.9g, \"loss\": \"%s\"",
                    (long long)r->tr.step, (long long)epoch + 1, lr, isnan(loss) ? "nan" : "inf");
                sn_status ig;
                sn_status_init(&ig);
                (void)log_event(r, "diverged", f, &ig);
                char ck[2304];
                path_in(r, ck, sizeof ck, "last.safetensors");
                return sn_fail(st, SN_ERR_RUNTIME,
                               "the loss became %s at step %lld (epoch %lld, batch %lld, lr %.3g): "
                               "training diverged.\n"
                               "The last good weights are in %s (step %lld); try a smaller "
                               "train.lr (--set train.lr=...) or another initialization.",
                               isnan(loss) ? "NaN" : "infinite", (long long)r->tr.step,
                               (long long)epoch + 1, (long long)b + 1, lr, ck,
                               (long long)last_ckpt);
            }
            double row[5] = {(double)r->tr.step, (double)epoch + 1, loss, lr, acc};
            if (r->rank0 && sn_csv_row(r->steps_csv, row, st)) return st->code;
            loss_sum += loss;
            acc_sum += acc;
            nsteps++;
            show_progress(r, &p, epoch, b + 1, loss, acc, b + 1 == r->spe);
            int epoch_done = b + 1 == r->spe;
            if (stop && !epoch_done) {
                clear_progress(r);
                if (save_ckpt(r, "last.safetensors", st)) return st->code;
                *interrupted = 1;
                return SN_OK;
            }
            if (!epoch_done && r->ckpt_every > 0 && r->tr.step - last_ckpt >= r->ckpt_every) {
                if (save_ckpt(r, "last.safetensors", st)) return st->code;
                last_ckpt = r->tr.step;
            }
        }
        if (r->tr.step % r->spe == 0) {
            clear_progress(r);
            if (end_epoch(r, epoch, loss_sum, acc_sum, nsteps, sn_now() - te0, st)) return st->code;
            last_ckpt = r->tr.step;
            if (stop && r->tr.step < r->total_steps) {
                *interrupted = 1;
                return SN_OK;
            }
        }
    }
    if (r->tr.step % r->spe != 0) { /* --steps ended mid-epoch: checkpoint and evaluate */
        clear_progress(r);
        sn_eval_result er;
        eval_prog ep = {r, 0};
        if (sn_trainer_evaluate(&r->tr, &r->test, &r->etf, r->limit_test, r->topk, &er,
                                eval_progress, &ep, st))
            return st->code;
        clear_progress(r);
        double t1 = er.n ? 100.0 * (double)er.correct1 / (double)er.n : 0;
        if (r->rank0)
            printf("step %lld (mid-epoch %lld): %s top-1 %.2f%% top-%d %.2f%%\n",
                   (long long)r->tr.step, (long long)(r->tr.step / r->spe) + 1, r->eval_name, t1,
                   r->topk, er.n ? 100.0 * (double)er.correctk / (double)er.n : 0.0);
        if (save_ckpt(r, "last.safetensors", st) || draw_plots(r, st)) return st->code;
    }
    return SN_OK;
}

static void run_free(run *r) {
    sn_loader_destroy(r->loader);
    sn_csv_close(r->steps_csv);
    sn_csv_close(r->epochs_csv);
    sn_jsonl_close(r->log);
    if (r->have_trainer) sn_trainer_free(&r->tr);
    sn_dataset_free(&r->train);
    sn_dataset_free(&r->test);
    sn_spec_free(&r->spec);
}

/* 64-bit hash of a dataset's images and labels */
static uint64_t hash_data(uint64_t h, const sn_dataset *ds) {
    size_t bytes = (size_t)ds->n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w, k = 0;
    for (; k + 8 <= bytes; k += 8) {
        uint64_t v;
        memcpy(&v, ds->pixels + k, 8);
        h = (h ^ v) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    h = sn_hash64(h, ds->pixels + k, bytes - k);
    return sn_hash64(h, ds->labels, (size_t)ds->n * sizeof *ds->labels);
}

/* Every rank must train the same model on the same data with the same options: a hash of
 * each (the resolved model without its file and data paths, which may differ between
 * hosts; the images and labels; the options that shape the run), compared with rank 0's.
 * Every rank reaches the same verdict. */
static sn_code check_same_job(run *r, const int64_t *opts, int nopts, sn_status *st) {
    sn_comm *c = r->comm;
    if (c->size == 1) return SN_OK;
    char path[sizeof r->spec.data.path], src[sizeof r->spec.source_path];
    memcpy(path, r->spec.data.path, sizeof path);
    memcpy(src, r->spec.source_path, sizeof src);
    r->spec.data.path[0] = r->spec.source_path[0] = '\0';
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_spec_print_yaml(&r->spec, &sb);
    memcpy(r->spec.data.path, path, sizeof path);
    memcpy(r->spec.source_path, src, sizeof src);
    uint64_t mine[3] = {sn_hash_str(SN_HASH_INIT, sn_sb_cstr(&sb)),
                        hash_data(hash_data(SN_HASH_INIT, &r->train), &r->test),
                        sn_hash64(SN_HASH_INIT, opts, (size_t)nopts * sizeof *opts)};
    sn_sb_free(&sb);
    uint64_t *all = sn_calloc((size_t)c->size * 3, sizeof *all);
    if (!all) sn_comm_abort(c, SN_ERR_RUNTIME);
    if (sn_comm_allgather(c, mine, all, sizeof mine, st)) {
        free(all);
        return st->code;
    }
    static const char *const what[3] = {
        "model (the resolved YAML with every --set applied)",
        "data (the training and test images and labels)",
        ("options (--batch, --steps, --epochs, --limit-*, --holdout, --topk, --checkpoint-every, "
         "--target, --fusion, --resume)")};
    for (int k = 0; k < 3; k++) {
        int bad = 0;
        char ranks[256] = "";
        for (int q = 1; q < c->size; q++)
            if (all[3 * q + k] != all[k]) {
                if (bad++ < 8) {
                    size_t l = strlen(ranks);
                    snprintf(ranks + l, sizeof ranks - l, "%s%d", l ? ", " : "", q);
                }
            }
        if (bad)
            sn_fail(st, SN_ERR_INPUT,
                    "the ranks of this job do not train the same thing: the %s of rank%s %s%s "
                    "differ%s from rank 0's. Start every rank with the same command, model and "
                    "data.",
                    what[k], bad > 1 ? "s" : "", ranks, bad > 8 ? ", ..." : "", bad > 1 ? "" : "s");
    }
    free(all);
    return st->code;
}

/* One GPU per rank: the local rank's entry of $CUDA_VISIBLE_DEVICES (or GPU number
 * local rank) becomes the only visible one, before the CUDA driver is loaded. */
static void bind_gpu(const sn_comm *c) {
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    char pick[64];
    if (vis && *vis) {
        int n = 1;
        for (const char *p = vis; *p; p++) n += *p == ',';
        int want = c->local_rank % n, k = 0;
        const char *p = vis;
        while (k < want && (p = strchr(p, ',')) != NULL) {
            p++;
            k++;
        }
        size_t len = p ? strcspn(p, ",") : 0;
        if (!p || len == 0 || len >= sizeof pick) return;
        memcpy(pick, p, len);
        pick[len] = '\0';
    } else {
        snprintf(pick, sizeof pick, "%d", c->local_rank);
    }
    setenv("CUDA_VISIBLE_DEVICES", pick, 1);
}

/* Prints a failure: "snnc train: error: rank R/N on HOST: ..." in a job of several ranks. */
static int report(const run *r, const sn_status *st) {
    if (!r->comm || r->comm->size == 1 || st->code == SN_OK) return sn_report("train", st);
    sn_status ps;
    sn_status_init(&ps);
    sn_fail(&ps, st->code, "%s%s", sn_comm_prefix(r->comm), st->msg);
    return sn_report("train", &ps);
}

static int train_ranks(const sn_args *a, sn_comm *comm) {
    sn_status st;
    sn_status_init(&st);
    int print = 1, in_loop = 0;
    int64_t epochs_opt = 0, steps_opt = 0, batch_opt = 0, limit_train = 0, limit_test = 0, topk = 5,
            seed = 0, threads = 0, every = 0, holdout = 0, bucket_mb = 0;
    sn_target target = SN_TARGET_CPU;
    int fusion = 1;
    int interrupted = 0;
    run *r = sn_calloc(1, sizeof *r);
    if (!r) {
        sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
        return sn_report("train", &st);
    }
    r->comm = comm;
    r->rank0 = comm->rank == 0;
    if (sn_args_int(a, "--epochs", 0, 1, 1000000, &epochs_opt, &st) ||
        sn_args_int(a, "--steps", 0, 1, INT64_MAX / 4, &steps_opt, &st) ||
        sn_args_int(a, "--batch", 0, 1, 1 << 16, &batch_opt, &st) ||
        sn_args_int(a, "--limit-train", 0, 1, INT64_MAX, &limit_train, &st) ||
        sn_args_int(a, "--limit-test", 0, 1, INT64_MAX, &limit_test, &st) ||
        sn_args_int(a, "--holdout", 0, 1, INT64_MAX / 2, &holdout, &st) ||
        sn_args_int(a, "--topk", 5, 1, 1000, &topk, &st) ||
        sn_args_int(a, "--seed", 0, 0, INT64_MAX, &seed, &st) ||
        sn_args_int(a, "--threads", 0, 0, 1024, &threads, &st) ||
        sn_args_int(a, "--checkpoint-every", 0, 1, INT64_MAX, &every, &st) ||
        sn_args_int(a, "--bucket-mb", 4, 1, 1024, &bucket_mb, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        goto fail;
    const char *resume = sn_args_str(a, "--resume", NULL);
    r->topk = (int)topk;
    r->limit_test = limit_test;
    r->holdout = holdout;
    r->ckpt_every = every;
    r->best = -1;
    r->quiet = sn_args_has(a, "--quiet") || !r->rank0; /* rank 0 shows the progress */
    r->tty = sn_stderr_is_tty();
    const char *const *sets = NULL;
    int nsets = sn_args_all(a, "--set", &sets);
    if (threads == 0 && comm->size > 1) { /* the host's cores shared by its ranks */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = ncpu > comm->local_size ? ncpu / comm->local_size : 1;
    }

    if (sn_args_has(a, "--epochs") && sn_args_has(a, "--steps")) {
        sn_fail(&st, SN_ERR_INPUT, "give --epochs or --steps, not both");
        goto fail;
    }
    if (resume) {
        if (a->npos != 0 || nsets > 0 || sn_args_has(a, "--init") || sn_args_has(a, "--out") ||
            sn_args_has(a, "--seed") || sn_args_has(a, "--batch") ||
            sn_args_has(a, "--limit-train") || sn_args_has(a, "--holdout")) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--resume continues a run as it was started: it takes no MODEL.yaml, --set, "
                    "--init, --out, --seed, --batch, --limit-train or --holdout (start a new run "
                    "with --init "
                    "%s/last.safetensors to change them)",
                    resume);
            goto fail;
        }
        sn_strlcpy(r->dir, resume, sizeof r->dir);
        char yp[2304];
        path_in(r, yp, sizeof yp, "model.yaml");
        if (!sn_file_exists(yp)) {
            sn_fail(&st, SN_ERR_INPUT, "%s: not a run directory (no model.yaml)", resume);
            goto fail;
        }
        if (sn_spec_load(yp, NULL, 0, &r->spec, &st)) goto fail;
    } else {
        if (a->npos != 1) {
            sn_fail(&st, SN_ERR_INPUT,
                    "give a MODEL.yaml or --resume RUNDIR (see snnc train --help)");
            goto fail;
        }
        if (sn_session_spec(a, &r->spec, &st)) goto fail;
        if (sn_args_has(a, "--seed")) r->spec.train.seed = (uint64_t)seed;
        if (batch_opt) r->spec.train.batch_size = (int)batch_opt;
    }
    if (epochs_opt) r->spec.train.epochs = (int)epochs_opt;

    /* data */
    if (sn_session_data(&r->spec, sn_args_str(a, "--data", NULL), SN_SPLIT_TRAIN, &r->train,
                        &r->etf, &st) ||
        sn_session_data(&r->spec, sn_args_str(a, "--data", NULL), SN_SPLIT_TEST, &r->test, &r->etf,
                        &st))
        goto fail;
    if (limit_train) sn_dataset_truncate(&r->train, limit_train);
    if (resume && resume_data(r, a, &st)) goto fail;
    if (r->holdout > 0) {
        /* the evaluation split becomes the last training images; the test split is unused */
        sn_dataset_free(&r->test);
        if (sn_dataset_split_tail(&r->train, r->holdout, &r->test, &st)) goto fail;
    }
    r->eval_name = r->holdout > 0 ? "holdout" : "test";
    train_transform(&r->spec, &r->etf, &r->ttf);
    if (sn_transform_check(&r->ttf, &r->train, &st)) goto fail;
    int64_t batch = r->spec.train.batch_size;
    if (r->train.n < batch) {
        sn_fail(&st, SN_ERR_INPUT,
                "%s: %lld training images are fewer than one batch of %lld (lower --batch)",
                r->train.source, (long long)r->train.n, (long long)batch);
        goto fail;
    }
    r->spe = r->train.n / batch; /* the last short batch is dropped */
    if (sn_comm_agree(comm, &st, &print)) goto out;
    {
        int64_t opts[] = {batch,  steps_opt, r->spec.train.epochs, limit_test, topk, holdout, every,
                          target, fusion,    resume != NULL};
        if (check_same_job(r, opts, (int)SN_ARRAY_LEN(opts), &st)) {
            print = r->rank0; /* every rank reached the same verdict */
            goto out;
        }
    }
    if (!resume) {
        /* the resolved model records the data it trained on */
        const char *dd = sn_args_str(a, "--data", NULL);
        char *abs = realpath(dd ? dd : r->spec.data.path, NULL);
        if (abs) {
            sn_strlcpy(r->spec.data.path, abs, sizeof r->spec.data.path);
            free(abs);
        }
    }

    if (r->rank0) {
        if (!resume &&
            (make_run_dir(r, a, &st) || write_model_yaml(r, &st) || write_run_json(r, &st)))
            goto fail;
        if (resume && epochs_opt && write_model_yaml(r, &st)) goto fail;
    }
    if (sn_comm_agree(comm, &st, &print)) goto out;

    if (target == SN_TARGET_CUDA && comm->size > 1) bind_gpu(comm);
    /* compile */
    if (!r->quiet) {
        if (comm->size > 1)
            fprintf(stderr,
                    "compiling %s for training (target %s, global batch %lld over %d ranks, "
                    "%lld threads each)...",
                    r->spec.name, sn_target_names[target], (long long)batch, comm->size,
                    (long long)threads);
        else
            fprintf(stderr, "compiling %s for training (target %s, batch %lld)...", r->spec.name,
                    sn_target_names[target], (long long)batch);
        fflush(stderr);
    }
    sn_trainer_opts to = {target,
                          fusion,
                          batch,
                          batch,
                          (int)threads,
                          resume ? NULL : sn_args_str(a, "--init", NULL),
                          r->spec.train.seed,
                          comm,
                          bucket_mb << 20};
    sn_code tc = sn_trainer_create(&r->tr, &r->spec, &to, &st);
    r->have_trainer = 1;
    if (!r->quiet) fprintf(stderr, tc ? "\n" : " %.2f s\n", r->tr.compile_seconds);
    if (tc) goto fail;
    if (sn_comm_agree(comm, &st, &print)) goto out;
    /* collective (the ranks reach it together); a rank that cannot join ends the job: the
     * others may be waiting in NCCL for it */
    if (sn_trainer_connect(&r->tr, &st)) goto broken;

    /* rank 0 reads the checkpoint; every rank starts from rank 0's weights and step */
    if (resume && r->rank0) {
        char cp[2304];
        path_in(r, cp, sizeof cp, "last.safetensors");
        sn_ckpt_meta m;
        sn_opt_state o = opt_state(r);
        if (sn_checkpoint_load(cp, &r->tr.w, &o, &m, &st)) goto fail;
        if (m.rng[0] != r->spec.train.seed) {
            sn_fail(&st, SN_ERR_INPUT, "%s: seed %llu differs from the run's train.seed %llu", cp,
                    (unsigned long long)m.rng[0], (unsigned long long)r->spec.train.seed);
            goto fail;
        }
        r->tr.step = m.step;
        r->best = m.best;
    }
    if (sn_comm_agree(comm, &st, &print)) goto out;
    if (sn_trainer_broadcast(&r->tr, &st) || sn_comm_bcast(comm, &r->best, sizeof r->best, 0, &st))
        goto broken;
    int64_t step0 = r->tr.step;
    r->epochs = r->spec.train.epochs;
    r->total_steps = steps_opt ? steps_opt : r->epochs * r->spe;
    if (steps_opt) r->epochs = (steps_opt + r->spe - 1) / r->spe;
    if (r->total_steps <= step0) {
        sn_fail(&st, SN_ERR_INPUT,
                "the run is already at step %lld (epoch %lld): nothing to do (raise --epochs or "
                "--steps)",
                (long long)step0, (long long)(step0 / r->spe));
        print = r->rank0; /* every rank knows */
        goto out;
    }
    if (open_tables(r, resume != NULL, &st)) goto fail;
    sn_loader_opts lo = {batch, r->spec.train.shuffle, 1, r->spec.train.seed, 1, 0, 0};
    if (comm->size > 1) { /* this rank's part of every batch */
        lo.part_first = r->tr.part_first;
        lo.part_count = r->tr.batch;
    }
    if (sn_loader_create(&r->loader, &r->train, &r->ttf, &lo, &st)) goto fail;
    if (sn_comm_agree(comm, &st, &print)) goto out;

    in_loop = 1; /* from here, a rank that fails alone ends the job */
    print = 1;
    char f[2048];
    sn_fmt(
        f, sizeof f,
        "\"model\": \"%s\", \"resume\": %s, \"step\": %lld, \"target\": \"%s\", \"batch\": %lld, "
        "\"train_images\": %lld, \"test_images\": %lld, \"steps_per_epoch\": %lld, "
        "\"total_steps\": %lld, \"compile_seconds\": %.3f, \"ranks\": %d, \"threads\": %lld",
        r->spec.name, resume ? "true" : "false", (long long)step0, sn_target_names[target],
        (long long)batch, (long long)r->train.n, (long long)r->test.n, (long long)r->spe,
        (long long)r->total_steps, r->tr.compile_seconds, comm->size, (long long)threads);
    if (log_event(r, "start", f, &st)) goto out;
    if (!resume && save_ckpt(r, "last.safetensors", &st)) goto out; /* step 0 */
    if (r->rank0) {
        printf("%s %s: %lld training images (%s), %lld %s, %lld steps/epoch, run directory %s\n",
               resume ? "resuming" : "training", r->spec.name, (long long)r->train.n,
               r->train.source, (long long)r->test.n, r->eval_name, (long long)r->spe, r->dir);
        if (comm->size > 1) {
            printf("%d ranks (%s): %lld images per step, ", comm->size, comm->kind,
                   (long long)batch);
            for (int q = 0; q < comm->size && q < 16; q++) {
                int64_t first, count;
                sn_loader_part(batch, q, comm->size, &first, &count);
                printf("%s%lld", q ? " + " : "", (long long)count);
            }
            printf("%s\n", comm->size > 16 ? " + ..." : "");
        }
        if (resume)
            printf("continuing at step %lld (epoch %lld, batch %lld)\n", (long long)step0,
                   (long long)(step0 / r->spe) + 1, (long long)(step0 % r->spe));
        fflush(stdout);
    }

    g_signal = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    double t0 = sn_now();
    sn_code lc = train_loop(r, &interrupted, &st);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (lc) goto out;
    double secs = sn_now() - t0;
    char fr[1024] = "";
    if (r->tr.reducer) {
        sn_reducer_stats rs;
        sn_reducer_stats_get(r->tr.reducer, &rs);
        double ps = rs.steps > 0 ? 1.0 / (double)rs.steps : 0.0;
        /* blocked on other ranks: the gradient buckets (and synchronized batch norm) not done
         * when needed, and the step's loss and accuracy sum; comm_copy (the key's name from
         * when buckets were copied) is the time scaling them */
        sn_fmt(fr, sizeof fr,
               ", \"comm_wait_s_per_step\": %.6f, \"bucket_wait_s_per_step\": %.6f, "
               "\"comm_copy_s_per_step\": %.6f, \"comm_progress_s_per_step\": %.6f, "
               "\"buckets\": %d, \"buckets_overlapped\": %lld, \"gradient_floats\": %lld",
               (rs.wait_seconds + r->tr.stats_seconds) * ps, rs.wait_seconds * ps,
               rs.scale_seconds * ps, rs.progress_seconds * ps, rs.nbuckets,
               (long long)rs.overlapped, (long long)rs.floats);
    }
    if (r->tr.share) { /* the host's ranks pack the weights into shared memory */
        sn_prep_share_stats ps;
        sn_prep_share_stats_get(r->tr.share, &ps);
        size_t len = strlen(fr);
        sn_fmt(fr + len, sizeof fr - len,
               ", \"packing_shared_bytes\": %lld, \"packing_steps\": %d, \"packing_own_steps\": "
               "%d, \"packing_own_bytes\": %lld, \"packing_sync_s_per_step\": %.6f",
               (long long)ps.bytes, ps.shared_steps, ps.own_steps, (long long)ps.own_bytes,
               ps.syncs > 0 ? ps.sync_seconds * 2.0 / (double)ps.syncs : 0.0);
    }
    sn_fmt(f, sizeof f,
           "\"step\": %lld, \"seconds\": %.3f, \"best_top1\": %.9g, \"interrupted\": %s, "
           "\"steps_timed\": %lld, \"step_seconds\": %.6f, \"first_step_seconds\": %.6f%s",
           (long long)r->tr.step, secs, r->best, interrupted ? "true" : "false",
           (long long)r->steps_timed, r->step_seconds, r->first_step_seconds, fr);
    if (log_event(r, interrupted ? "stop" : "end", f, &st)) goto out;
    if (!r->rank0) {
    } else if (interrupted) {
        fprintf(stderr,
                "interrupted at step %lld: checkpoint written; continue with\n  snnc train "
                "--resume %s\n",
                (long long)r->tr.step, r->dir);
    } else {
        if (r->best >= 0)
            printf("done: %lld steps in %.1f s; best %s top-1 %.2f%% (best.safetensors); run "
                   "directory %s\n",
                   (long long)(r->tr.step - step0), secs, r->eval_name, r->best, r->dir);
        else
            printf("done: %lld steps in %.1f s (no whole epoch, so no best.safetensors); run "
                   "directory %s\n",
                   (long long)(r->tr.step - step0), secs, r->dir);
    }
    goto out;

fail: /* a failure this rank may meet alone, before training: agreed with the others */
    sn_comm_agree(comm, &st, &print);
    goto out;
broken: /* a collective failed: the job cannot go on */
    in_loop = 1;
out:;
    int rc = (int)st.code;
    if (rc && comm->size > 1 && in_loop && !r->collective_error) {
        /* the other ranks may be waiting for this one: end the whole job */
        report(r, &st);
        sn_comm_abort(comm, rc);
    }
    if (rc && r->collective_error && !r->rank0) print = 0; /* rank 0 says it */
    if (rc && print) report(r, &st);
    run_free(r);
    free(r);
    if (rc == 0 && interrupted) rc = 130;
    return rc;
}

static int run_train(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    sn_comm *comm = NULL;
    if (sn_comm_open(&comm, &st)) return sn_report("train", &st);
    int rc = train_ranks(a, comm);
    sn_comm_close(comm);
    return rc;
}

const sn_command sn_cmd_train = {&train_cmd, run_train};
