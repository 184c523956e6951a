#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "../../runtime/core/util.h"
#include "../../runtime/ref/ref_ops.h"
#include "../../runtime/train/checkpoint.h"
#include "../backends/ref/ref_backend.h"
#include "../passes/fusion.h"
#ifdef SNNC_HAVE_LLVM
#include "../backends/llvm/aot.h"
#include "../backends/llvm/cpu_backend.h"
#endif
#ifdef SNNC_HAVE_CUDA
#include "../backends/cuda/cuda_backend.h"
#include "../backends/cuda/exec.h"
#endif

const char *const sn_target_names[] = {"cpu", "ref", "cuda", NULL};
const char *const sn_precision_names[] = {"fp32", "tf32", "bf16", "int8", NULL};

/* --precision of the command (the cuda target's GEMM arithmetic, the cpu target's
 * convolutions and linear layers); read by sn_session_target */
static int g_precision;
/* int8 on the cpu target: the calibrated activation scales (sn_session_set_act_quant) */
static const struct sn_act_quant *g_act;
static int g_nact;

int sn_session_precision_index(void) {
    return g_precision;
}

void sn_session_set_act_quant(const struct sn_act_quant *act, int n) {
    g_act = act;
    g_nact = n;
}

sn_code sn_session_target(const sn_args *a, sn_target *target, int *fusion, sn_status *st) {
    static const char *const onoff[] = {"on", "off", NULL};
    int t = 0, f = 0;
    if (sn_args_choice(a, "--target", sn_target_names, 0, &t, st) ||
        sn_args_choice(a, "--fusion", onoff, 0, &f, st))
        return st->code;
    *target = (sn_target)t;
    *fusion = f == 0;
    return sn_session_precision(a, *target, st);
}

sn_code sn_session_precision(const sn_args *a, sn_target target, sn_status *st) {
    int p = 0;
    if (sn_args_choice(a, "--precision", sn_precision_names, 0, &p, st)) return st->code;
    return sn_session_use_precision(p, target, st);
}

sn_code sn_session_use_precision(int index, sn_target target, sn_status *st) {
    g_precision = index;
    const char *p = sn_precision_names[g_precision];
    if (g_precision == 1 && target != SN_TARGET_CUDA)
        return sn_fail(st, SN_ERR_INPUT, "--precision %s applies to --target cuda only", p);
    if (g_precision == 3 && target != SN_TARGET_CPU)
        return sn_fail(st, SN_ERR_INPUT, "--precision %s applies to --target cpu only", p);
    return SN_OK;
}

sn_code sn_session_lower(const sn_graph *g, sn_target target, int fusion, int capture,
                         sn_plan *plan, sn_backend *be, sn_status *st) {
    memset(be, 0, sizeof *be);
    be->target = target;
    be->fusion = fusion;
    double t0 = sn_now();
    if (target == SN_TARGET_REF)
        return g_precision == 2 ? sn_lower_ref_bf16(g, plan, st) : sn_lower_ref(g, plan, st);
    if (target == SN_TARGET_CUDA) {
#ifdef SNNC_HAVE_CUDA
        (void)capture;
        be->groups = calloc(1, sizeof *be->groups);
        if (!be->groups) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        if (sn_fuse(g, fusion, be->groups, st)) return st->code;
        sn_cuda_plan_info info;
        sn_code c = sn_cuda_plan(g, be->groups, (sn_cu_precision)g_precision, plan, &info, st);
        be->compile_seconds = sn_now() - t0;
        if (!c)
            fprintf(stderr,
                    "cuda: %s (%s), %d kernels (%d cached) in %.2f s, %.1f MiB of activations\n",
                    info.device, info.arch, info.kernels, info.cached, info.compile_seconds,
                    (double)info.device_bytes / 1048576.0);
        return c;
#else
        return sn_fail(st, SN_ERR_INPUT, "this snnc was built without the CUDA backend");
#endif
    }
#ifdef SNNC_HAVE_LLVM
    be->groups = calloc(1, sizeof *be->groups);
    if (!be->groups) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    if (sn_fuse(g, fusion, be->groups, st)) return st->code;
    if (sn_jit_create(&be->jit, st)) return st->code;
    sn_cpu_options o = {
        .capture = capture, .precision = SN_PREC_FP32, .act = g_act, .nact = g_nact};
    if (g_precision == 2 || g_precision == 3) {
        o.precision = g_precision == 2 ? SN_PREC_BF16 : SN_PREC_INT8;
        for (int i = 0; i < g->nnodes && o.precision == SN_PREC_INT8; i++)
            if (g->nodes[i].op == SN_OP_CONV2D_BWD_WEIGHT ||
                g->nodes[i].op == SN_OP_LINEAR_BWD_WEIGHT)
                return sn_fail(st, SN_ERR_INPUT,
                               "--precision int8 is post-training quantization for inference: "
                               "train with fp32 or bf16");
        static int noted[3];
        if (!noted[o.precision]) { /* once per process: how this CPU runs the precision */
            char note[512];
            sn_cpu_precision_note(be->jit, o.precision, note, sizeof note);
            fprintf(stderr, "%s\n", note);
            noted[o.precision] = 1;
        }
    }
    if (capture) {
        be->art = calloc(1, sizeof *be->art);
        if (!be->art) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    sn_code c = sn_lower_cpu(g, be->groups, be->jit, &o, plan, be->art, st);
    be->compile_seconds = sn_now() - t0;
    return c;
#else
    (void)t0;
    (void)capture;
    return sn_fail(st, SN_ERR_INPUT,
                   "this snnc was built without LLVM: the cpu target is not available "
                   "(use --target ref)");
#endif
}

sn_code sn_session_load_plan(const sn_args *a, const char *dir, const sn_model_spec *spec,
                             const char *weights, uint64_t seed, sn_plan *plan, sn_backend *be,
                             sn_weights *w, sn_status *st) {
    (void)a;
    memset(be, 0, sizeof *be);
#ifdef SNNC_HAVE_LLVM
    be->target = SN_TARGET_CPU;
    be->fusion = 1;
    if (sn_jit_create(&be->jit, st)) return st->code;
    sn_param_desc *d = NULL;
    int n = 0;
    if (sn_aot_load(dir, be->jit, plan, &d, &n, st)) return st->code;
    sn_code c = sn_session_weights_desc(d, n, spec, weights, seed, w, st);
    free(d);
    return c;
#else
    (void)dir;
    (void)spec;
    (void)weights;
    (void)seed;
    (void)plan;
    (void)w;
    return sn_fail(st, SN_ERR_INPUT, "this snnc was built without LLVM: it cannot run CPU plans");
#endif
}

void sn_backend_free(sn_backend *be) {
#ifdef SNNC_HAVE_LLVM
    sn_jit_destroy(be->jit);
    if (be->art) sn_cpu_artifacts_free(be->art);
    free(be->art);
#endif
    if (be->groups) sn_groups_free(be->groups);
    free(be->groups);
    memset(be, 0, sizeof *be);
}

sn_code sn_session_spec_path(const sn_args *a, const char *path, sn_model_spec *spec,
                             sn_status *st) {
    const char *const *sets = NULL;
    int nsets = sn_args_all(a, "--set", &sets);
    return sn_spec_load(path, sets, nsets, spec, st);
}

sn_code sn_session_spec(const sn_args *a, sn_model_spec *spec, sn_status *st) {
    return sn_session_spec_path(a, a->pos[0], spec, st);
}

sn_init_method sn_session_init_method(const sn_model_spec *spec) {
    switch (spec->train.init) {
    case SN_INIT_KAIMING_NORMAL:
        return SN_INITM_KAIMING_NORMAL;
    case SN_INIT_KAIMING_UNIFORM:
        return SN_INITM_KAIMING_UNIFORM;
    case SN_INIT_XAVIER_UNIFORM:
        return SN_INITM_XAVIER_UNIFORM;
    case SN_INIT_TORCH_DEFAULT:
        break;
    }
    return SN_INITM_TORCH_DEFAULT;
}

sn_code sn_session_weights(const sn_graph *g, const sn_model_spec *spec, const char *path,
                           uint64_t seed, sn_weights *w, sn_status *st) {
    sn_param_desc *d = NULL;
    int n = sn_graph_param_descs(g, &d);
    if (n < 0) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_code c = sn_session_weights_desc(d, n, spec, path, seed, w, st);
    free(d);
    return c;
}

sn_code sn_session_weights_desc(const sn_param_desc *d, int n, const sn_model_spec *spec,
                                const char *path, uint64_t seed, sn_weights *w, sn_status *st) {
    sn_code c = sn_weights_create(w, d, n, st);
    if (c) return c;
    if (path) {
        if (sn_checkpoint_load_weights(path, w, st) != SN_OK) {
            sn_weights_free(w);
            return st->code;
        }
    } else {
        sn_weights_init(w, sn_session_init_method(spec), spec->train.init_fan_out, seed);
    }
    /* layers declared 'weights: integer': seeded weights are ternarized; loaded ones must be
     * whole numbers in [-127, 127] */
    for (int i = 0; i < spec->nlayers; i++) {
        const sn_layer_spec *l = &spec->layers[i];
        if (l->weight_quant != SN_WQ_INTEGER) continue;
        char name[SN_NAME_MAX + 32];
        sn_fmt(name, sizeof name, "%s.%d.weight", l->module, l->index);
        int j = sn_weights_find(w, name);
        if (j < 0) continue;
        float *p = sn_weights_f32(w, j);
        int64_t m = sn_shape_numel(&w->desc[j].shape);
        if (!path) {
            float *t = malloc((size_t)m * sizeof(float));
            if (!t) {
                sn_weights_free(w);
                return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            }
            sn_ref_ternary(m, spec->quant.ternary_threshold, p, t);
            memcpy(p, t, (size_t)m * sizeof(float));
            free(t);
            continue;
        }
        for (int64_t k = 0; k < m; k++)
            if (!(p[k] == floorf(p[k]) && p[k] >= -127.0f && p[k] <= 127.0f)) {
                sn_fail(st, SN_ERR_INPUT,
                        "%s: tensor %s, element %lld is %g, but layer %s.%d is declared "
                        "'weights: integer' (whole numbers in [-127, 127])",
                        path, name, (long long)k, (double)p[k], l->module, l->index);
                sn_weights_free(w);
                return st->code;
            }
    }
    return SN_OK;
}

void sn_session_eval_transform(const sn_model_spec *spec, sn_transform *tf) {
    memset(tf, 0, sizeof *tf);
    tf->out_h = spec->in_height;
    tf->out_w = spec->in_width;
    tf->scale = spec->data.scale;
    tf->nmean = spec->data.nmean;
    tf->nstd = spec->data.nstd;
    memcpy(tf->mean, spec->data.mean, sizeof tf->mean);
    memcpy(tf->std, spec->data.std, sizeof tf->std);
    tf->per_image_standardization = spec->data.per_image_standardization;
}

static sn_data_format data_format(sn_dataset_kind k) {
    switch (k) {
    case SN_DATA_CIFAR100:
        return SN_FMT_CIFAR100;
    case SN_DATA_MNIST:
        return SN_FMT_MNIST;
    default:
        return SN_FMT_CIFAR10;
    }
}

sn_code sn_session_data(const sn_model_spec *spec, const char *dir, sn_split split, sn_dataset *ds,
                        sn_transform *tf, sn_status *st) {
    memset(ds, 0, sizeof *ds);
    if (spec->data.dataset == SN_DATA_NONE)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the model names no dataset: add data.dataset (cifar10, cifar100 or "
                       "mnist) or --set data.dataset=...",
                       spec->source_path);
    const char *path = dir && *dir ? dir : spec->data.path;
    if (!path || !*path)
        return sn_fail(st, SN_ERR_INPUT,
                       "no data directory: pass --data DIR or set data.path in %s",
                       spec->source_path);
    if (sn_dataset_load(data_format(spec->data.dataset), path, split, ds, st) != SN_OK)
        return st->code;
    if (ds->c != spec->in_channels) {
        sn_fail(st, SN_ERR_INPUT, "%s: images have %d channels but model %s expects %d", ds->source,
                ds->c, spec->name, spec->in_channels);
        sn_dataset_free(ds);
        return st->code;
    }
    if (ds->num_classes != spec->num_classes) {
        sn_fail(st, SN_ERR_INPUT, "%s: the dataset has %d classes but model %s has num_classes %d",
                ds->source, ds->num_classes, spec->name, spec->num_classes);
        sn_dataset_free(ds);
        return st->code;
    }
    sn_session_eval_transform(spec, tf);
    if (sn_transform_check(tf, ds, st) != SN_OK) {
        sn_dataset_free(ds);
        return st->code;
    }
    return SN_OK;
}

void sn_progress_start(sn_progress *p, const char *what, int64_t total) {
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    p->t0 = p->last = sn_now();
    p->tty = sn_stderr_is_tty();
    p->last_pct = -1;
}

void sn_progress_update(sn_progress *p, int64_t done, const char *extra) {
    double now = sn_now();
    int64_t pct = p->total > 0 ? done * 100 / p->total : 0;
    if (p->tty) {
        if (now - p->last < 0.1 && done < p->total) return;
    } else if (pct / 10 == p->last_pct / 10 && done < p->total) {
        return;
    }
    p->last = now;
    p->last_pct = pct;
    double el = now - p->t0;
    double rate = el > 0 ? (double)done / el : 0.0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0.0;
    fprintf(stderr, "%s%s %lld/%lld (%lld%%) %.1f img/s ETA %.0fs%s%s%s", p->tty ? "\r\033[K" : "",
            p->what, (long long)done, (long long)p->total, (long long)pct, rate, eta,
            extra ? "  " : "", extra ? extra : "", p->tty ? "" : "\n");
    fflush(stderr);
}

void sn_progress_end(sn_progress *p) {
    if (p->tty) fputs("\r\033[K", stderr);
}
