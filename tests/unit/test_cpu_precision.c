/* Conformance of the reduced-precision CPU kernels (--precision bf16 | int8) against the
 * reference interpreter, on the op-conformance cases (conf_cases.h), for every instruction
 * path the host has: bf16 on AMX (tdpbf16ps), AVX512-BF16 (vdpbf16ps) and the fp32 FMA
 * units (rounded operands) at every vector width; int8 on AMX (tdpbusd), AVX512-VNNI
 * (vpdpbusd), AVX-512 without VNNI (vpmaddwd) and, below AVX-512, the fp32 fallback. Each
 * path is forced with SNNC_ISA (which removes the higher instructions from the target
 * machine); paths the host cannot run are skipped with the reason printed. Every group
 * output (the fused intermediates) is compared, fusion on and off.
 *
 * Tolerances:
 *   exact cases   dyadic data (conf_cases.h): inputs, weights, folded batch norm and every
 *                 quantizer level are bf16 numbers, and int8 represents them exactly (the
 *                 input step 1/4 with zero point 128, per-channel weight steps on which the
 *                 weights lie, quantizer levels on their own grid): bit for bit.
 *   bf16, one conv/linear layer with random data: each product takes two bf16 roundings,
 *                 relative error <= 2u + u^2 with u = 2^-8, so
 *                   |got - ref| <= (2^-7 + 2^-16) * A + 1e-4 * (1 + |ref|)
 *                 with A = the same network run by the reference on |x|, |w|, zero biases
 *                 and |gamma|, zero beta and mean (sum |x||w| through the epilogue: ReLU and
 *                 max pooling are 1-Lipschitz, average pooling and the batch-norm scale
 *                 linear), and the fp32 harness's allowance for summation order.
 *   int8, one conv layer with random data: the input step s_x = max|x| / 127 (no
 *                 clipping), channel o's weight step s_o, n = C*KH*KW products:
 *                   |got - ref| <= max_o (s_x/2 * sum|w_o| + s_o/2 * n max|x| + n s_x s_o/4)
 *                                 + 1e-4 * (1 + |ref|)
 *                 (|x - x^| <= s_x/2, |w - w^| <= s_o/2; sum |w_o| of the folded weights).
 *   Deeper float cases compound these errors layer by layer and are left to the exact cases
 *   and to the whole-model accuracy runs (bench/RESULTS.md).
 * bf16 training steps are compared with the reference interpreter in bf16 semantics
 * (sn_lower_ref_bf16: the same operands rounded, exact products summed in double), every
 * updated weight with the fp32 harness's training tolerance (2e-4, relative): what remains
 * is the order of the fp32 sums. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/llvm/cpu_backend.h"
#include "compiler/backends/llvm/jit.h"
#include "compiler/backends/ref/ref_backend.h"
#include "compiler/driver/cli.h"
#include "compiler/driver/session.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "conf_cases.h"
#include "runtime/core/util.h"
#include "runtime/cpu/pack.h"

static int compared, runs;

static int count_kernels(const sn_plan *p, const char *kind) {
    char pre[64];
    snprintf(pre, sizeof pre, "snk_%s_", kind);
    int n = 0;
    for (int i = 0; i < p->nsteps; i++) n += strncmp(p->steps[i].kernel, pre, strlen(pre)) == 0;
    return n;
}

static int count_ops(const sn_graph *g, sn_op op) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) n += g->nodes[i].op == op;
    return n;
}

/* The reference on |x|, |w|, zero biases, |gamma| and zero beta and mean: A of the bf16
 * bound. Fills `a` (the plan is bound to a copy of the weights it owns). */
static void abs_weights(sn_weights *w) {
    for (int i = 0; i < w->n; i++) {
        if (w->desc[i].dtype != SN_F32) continue;
        float *p = w->data[i];
        int64_t n = sn_shape_numel(&w->desc[i].shape);
        for (int64_t j = 0; j < n; j++) switch (w->desc[i].role) {
            case SN_ROLE_WEIGHT:
            case SN_ROLE_BN_WEIGHT:
                p[j] = fabsf(p[j]);
                break;
            case SN_ROLE_BIAS:
            case SN_ROLE_BN_BIAS:
            case SN_ROLE_BN_MEAN:
                p[j] = 0.0f;
                break;
            default:
                break;
            }
    }
}

static const float *weight_of(const sn_weights *w, const char *name) {
    int i = sn_weights_find(w, name);
    return i >= 0 ? w->data[i] : NULL;
}

/* max over output channels of the int8 bound (see the top) for the graph's one conv. */
static double int8_bound(const sn_graph *g, const sn_plan *cpu, const sn_weights *w, float sx,
                         float xmax) {
    const sn_node *cv = NULL, *bn = NULL;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == SN_OP_CONV2D) cv = &g->nodes[i];
    if (!cv) return 0;
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == SN_OP_BATCHNORM && g->nodes[i].in[0] == cv->out[0]) bn = &g->nodes[i];
    const float *wt = weight_of(w, g->tensors[cv->in[1]].name);
    char name[SN_PLAN_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s.dequant", cv->name);
    int qb = sn_plan_find_buffer(cpu, name);
    if (!wt || qb < 0) return -1;
    const float *qs = cpu->bufs[qb].ptr; /* in_scale * s_o */
    const sn_tensor *wtt = &g->tensors[cv->in[1]];
    int O = (int)wtt->shape.d[0];
    int64_t n = sn_shape_numel(&wtt->shape) / O;
    double worst = 0;
    for (int o = 0; o < O; o++) {
        double scale = 1.0;
        if (bn) {
            const float *ga = weight_of(w, g->tensors[bn->in[1]].name),
                        *va = weight_of(w, g->tensors[bn->in[4]].name);
            scale = fabs((double)ga[o]) / sqrt((double)va[o] + (double)bn->a.eps);
        }
        double w1 = 0;
        for (int64_t i = 0; i < n; i++) w1 += fabs((double)wt[(int64_t)o * n + i]) * scale;
        double so = (double)qs[o] / sx;
        double b = sx / 2.0 * w1 + so / 2.0 * (double)n * xmax + (double)n * sx * so / 4.0;
        if (b > worst) worst = b;
    }
    return worst;
}

/* One case at one precision on one JIT: the CPU plan (every buffer kept) against the
 * reference, group output by group output. */
static void run_case(const conf_case *c, sn_jit *jit, sn_precision prec, int fusion,
                     const char *path) {
    char yaml[4096], what[256];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    snprintf(what, sizeof what, "%s [%s %s, fusion %s]", c->name,
             prec == SN_PREC_BF16 ? "bf16" : "int8", path, fusion ? "on" : "off");
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = c->batch, .with_loss = c->with_loss};
    if (sn_graph_build(&spec, &bo, &g, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        sn_spec_free(&spec);
        return;
    }
    int convs = count_ops(&g, SN_OP_CONV2D), layers = convs + count_ops(&g, SN_OP_LINEAR);
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&g, &d);
    sn_weights w, wa;
    CHECK_EQ_INT(sn_weights_create(&w, d, nd, &st), SN_OK);
    CHECK_EQ_INT(sn_weights_create(&wa, d, nd, &st), SN_OK);
    free(d);
    sn_rng r;
    sn_rng_seed(&r, 1234);
    randomize_weights(&w, c->exact, &r);
    sn_weights_copy(&wa, &w);
    abs_weights(&wa);
    sn_plan ref, refa, cpu;
    sn_groups gs;
    CHECK_EQ_INT(sn_lower_ref(&g, &ref, &st), SN_OK);
    CHECK_EQ_INT(sn_lower_ref(&g, &refa, &st), SN_OK);
    CHECK_EQ_INT(sn_fuse(&g, fusion, &gs, &st), SN_OK);
    /* inputs: dyadic (exact) or uniform, in [0, 1] for a Poisson encoder */
    int64_t nin = sn_shape_numel(&g.tensors[g.input].shape);
    float *x = malloc((size_t)nin * sizeof(float));
    int poisson = count_ops(&g, SN_OP_ENCODE_POISSON) > 0;
    fill(x, nin, c->exact, poisson ? 0.0f : -2.0f, poisson ? 1.0f : 2.0f, 0.25f, &r);
    float xmax = 0;
    for (int64_t i = 0; i < nin; i++) xmax = fabsf(x[i]) > xmax ? fabsf(x[i]) : xmax;
    /* int8: every convolution input off a grid gets the input's scale (exact: step 1/4) */
    sn_act_quant *aq = sn_calloc((size_t)g.nnodes + 1, sizeof *aq);
    int naq = 0;
    float sx = c->exact ? 0.25f : xmax / 127.0f;
    for (int i = 0; i < g.nnodes; i++)
        if (g.nodes[i].op == SN_OP_CONV2D) {
            sn_strlcpy(aq[naq].name, g.tensors[g.nodes[i].in[0]].name, sizeof aq[naq].name);
            aq[naq].scale = sx;
            aq[naq++].zero = 128;
        }
    sn_cpu_options o = {.capture = 0, .precision = prec, .act = aq, .nact = naq};
    if (sn_lower_cpu(&g, &gs, jit, &o, &cpu, NULL, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        goto out_ref;
    }
    /* the precision's kernels are the ones that ran */
    sn_mm_path pth = sn_cpu_path(jit, prec, NULL);
    if (pth == SN_PATH_BF16_DP || pth == SN_PATH_BF16_AMX)
        CHECK_MSG(count_kernels(&cpu, "conv_bf16") + count_kernels(&cpu, "conv_amx") == convs,
                  "%s: %d of %d convolutions on bf16 kernels", what,
                  count_kernels(&cpu, "conv_bf16") + count_kernels(&cpu, "conv_amx"), convs);
    if (pth == SN_PATH_I8_VNNI || pth == SN_PATH_I8_EMU || pth == SN_PATH_I8_AMX)
        CHECK_MSG(count_kernels(&cpu, "conv_i8") + count_kernels(&cpu, "conv_amx") == convs,
                  "%s: %d of %d convolutions on int8 kernels", what,
                  count_kernels(&cpu, "conv_i8") + count_kernels(&cpu, "conv_amx"), convs);
    if ((pth == SN_PATH_I8_VNNI || pth == SN_PATH_I8_EMU) && fusion && strstr(c->name, "chain")) {
        int u8 = 0; /* fused, the chain's inner convolutions requantize in their epilogue */
        for (int i = 0; i < cpu.nbufs; i++) u8 += cpu.bufs[i].dtype == SN_U8;
        CHECK_MSG(u8 == 2, "%s: %d u8 maps, expected 2", what, u8);
    }
    if (prec == SN_PREC_BF16 && layers > 0) {
        int q = 0;
        for (int i = 0; i < cpu.nprep; i++) q += strcmp(cpu.prep[i].kernel, "cpu.prep_conv_q") == 0;
        CHECK_MSG(q == layers, "%s: %d of %d layers pack bf16 weights", what, q, layers);
    }
    sn_plan_disable_reuse(&cpu);
    CHECK_EQ_INT(sn_plan_bind(&ref, &w, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_bind(&refa, &wa, &st), SN_OK);
    if (sn_plan_bind(&cpu, &w, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        goto out_cpu;
    }
    memcpy(sn_plan_f32(&ref, ref.in_buf), x, (size_t)nin * sizeof(float));
    memcpy(sn_plan_f32(&cpu, cpu.in_buf), x, (size_t)nin * sizeof(float));
    for (int64_t i = 0; i < nin; i++) sn_plan_f32(&refa, refa.in_buf)[i] = fabsf(x[i]);
    if (g.label >= 0) {
        int32_t *lr = ref.bufs[ref.label_buf].ptr, *lc = cpu.bufs[cpu.label_buf].ptr,
                *la = refa.bufs[refa.label_buf].ptr;
        for (int64_t i = 0; i < g.batch; i++) lr[i] = lc[i] = la[i] = (int32_t)(i % g.num_classes);
    }
    CHECK_EQ_INT(sn_plan_run(&ref, NULL, 77, 0, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_run(&refa, NULL, 77, 0, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_run(&cpu, NULL, 77, 0, &st), SN_OK);
    /* int8 without an int8 path (below AVX-512): fp32 kernels, the fp32 harness's tolerance */
    int i8 = prec == SN_PREC_INT8 && pth != SN_PATH_I8_NONE;
    double ib = i8 && !c->exact && convs > 0 ? int8_bound(&g, &cpu, &w, sx, xmax) : 0;
    if (i8 && !c->exact && convs > 0)
        CHECK_MSG(ib > 0, "%s: no int8 bound (dequantization scales not found)", what);
    runs++;
    for (int b = 0; b < cpu.nbufs; b++) {
        const sn_buffer *cb = &cpu.bufs[b];
        /* u8 maps (int8 outputs requantized for int8 readers) are checked through them */
        if (cb->kind != SN_BUF_ARENA || strchr(cb->name, '@') || cb->dtype != SN_F32) continue;
        int t = -1;
        for (int i = 0; i < g.ntensors; i++)
            if (strcmp(g.tensors[i].name, cb->name) == 0) t = i;
        if (t < 0 || g.tensors[t].kind == SN_T_LABEL || t == g.input) continue;
        int rb = sn_plan_find_buffer(&ref, cb->name);
        if (rb < 0) continue;
        const sn_tensor *tt = &g.tensors[t];
        int64_t n = sn_shape_numel(&tt->shape);
        float *got = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (tt->shape.rank == 0) {
            memcpy(got, cb->ptr, (size_t)n * sizeof(float));
        } else {
            sn_cpu_layout l = parse_layout(cb->layout, tt);
            sn_layout_to_nchw(cb->ptr, sn_tensor_images(tt), &l, got);
        }
        const float *want = ref.bufs[rb].ptr, *A = refa.bufs[rb].ptr;
        int64_t bad = 0, first = -1;
        double maxdiff = 0;
        for (int64_t i = 0; i < n; i++) {
            double diff = fabs((double)got[i] - (double)want[i]), tol = 0;
            if (!c->exact) {
                double base = 1e-4 * (1.0 + fabs((double)want[i]));
                tol = prec == SN_PREC_BF16 ? (0x1p-7 + 0x1p-16) * fabs((double)A[i]) + base
                      : i8                 ? ib + base
                                           : base;
            }
            if (!(diff <= tol)) {
                if (first < 0) first = i;
                bad++;
            }
            if (diff > maxdiff) maxdiff = diff;
        }
        CHECK_MSG(
            bad == 0,
            "%s tensor %s: %lld of %lld outside the bound (max %.3g; first at %lld: %g vs %g)",
            what, cb->name, (long long)bad, (long long)n, maxdiff, (long long)first,
            first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
        compared++;
        free(got);
    }
out_cpu:
    sn_plan_free(&cpu);
out_ref:
    free(aq);
    free(x);
    sn_plan_free(&ref);
    sn_plan_free(&refa);
    sn_groups_free(&gs);
    sn_weights_free(&w);
    sn_weights_free(&wa);
    sn_graph_free(&g);
    sn_spec_free(&spec);
}

/* Whether a case is run at reduced precision: exact cases, and float cases with one conv
 * or linear layer and no loss (the bounds above). At int8, not the exact cases whose first
 * convolution reads a scaled input (an imported NIR graph's Scale): its values lie on a
 * finer grid than the exact check's u8 step of 1/4, so int8 is calibrated there, not
 * exact. */
static int case_applies(const conf_case *c, int int8) {
    if (c->exact) return !(int8 && strstr(c->yaml, "- scale\n"));
    if (c->with_loss) return 0;
    int layers = 0;
    for (const char *p = c->yaml; (p = strstr(p, "conv2d:")) != NULL; p++) layers++;
    for (const char *p = c->yaml; (p = strstr(p, "linear:")) != NULL; p++) layers++;
    return layers == 1 && !strstr(c->yaml, "vgg:");
}

/* ---- a bf16 training step against the reference (sanity bound) ---- */
static const conf_case train_cases[] = {
    {"train_bf16_conv_bn_relu_pool_linear_sgd", 0, 4, 1,
     "train: {optimizer: sgd, lr: 0.1, momentum: 0.9}\n" HEAD(
         3, 8, 8,
         5) "network:\n  - f:\n    - conv2d: {out_channels: 20, kernel_size: 3, padding: "
            "1, bias: false}\n    - batchnorm\n    - relu\n    - maxpool: {kernel_size: 2}\n"
            "    - conv2d: {out_channels: 24, kernel_size: 3, padding: 1}\n    - relu\n"
            "  - c:\n    - flatten\n    - linear: {out_features: 5}\n"},
    {"train_bf16_strided_dropout_sgd", 0, 3, 1,
     "train: {optimizer: sgd, lr: 0.05}\n" HEAD(
         16, 7, 7,
         4) "network:\n  - f:\n    - conv2d: {out_channels: 17, kernel_size: 3, stride: 2, "
            "padding: 1}\n    - relu\n  - c:\n    - flatten\n    - linear: {out_features: "
            "40}\n    - relu\n    - dropout: {p: 0.4}\n    - linear: {out_features: 4}\n"},
};

/* --precision for the plans sn_session_lower makes next, as the commands set it */
static void set_precision(const char *arg, sn_target target) {
    sn_status st;
    sn_status_init(&st);
    sn_cmd cmd = {.name = "t", .opts = {{"--precision", "P", "", 0}}};
    sn_args a;
    char *argv[1] = {(char *)arg};
    if (sn_args_parse(&cmd, 1, argv, &a, &st) || sn_session_precision(&a, target, &st))
        CHECK_MSG(0, "%s", st.msg);
}

static void run_train_case(const conf_case *c, sn_jit *jit, const char *path) {
    (void)jit; /* the trainer lowers with a JIT of its own (SNNC_ISA) */
    char yaml[4096], what[256];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    snprintf(what, sizeof what, "%s [bf16 %s]", c->name, path);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        return;
    }
    sn_trainer_opts ro = {SN_TARGET_REF, 1, c->batch, 1, 1, NULL, 5, NULL, 0};
    sn_trainer_opts co = ro;
    co.target = SN_TARGET_CPU;
    sn_trainer tr, tc;
    /* the reference with bf16 semantics (sn_lower_ref_bf16) against the CPU's bf16 plan */
    set_precision("--precision=bf16", SN_TARGET_REF);
    sn_code a = sn_trainer_create(&tr, &spec, &ro, &st);
    sn_code b = a ? a : sn_trainer_create(&tc, &spec, &co, &st);
    set_precision("--precision=fp32", SN_TARGET_CPU);
    if (a || b) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        if (!a) sn_trainer_free(&tr);
        sn_spec_free(&spec);
        return;
    }
    sn_rng r;
    sn_rng_seed(&r, 99);
    randomize_weights(&tr.w, 0, &r);
    sn_weights_copy(&tc.w, &tr.w);
    int64_t nx = sn_shape_numel(&tr.tg.tensors[tr.tg.input].shape);
    float *x = malloc((size_t)nx * sizeof(float));
    int32_t y[64];
    fill(x, nx, 0, -2.0f, 2.0f, 0.25f, &r);
    for (int i = 0; i < c->batch; i++) y[i] = (int32_t)(i * 7 % spec.num_classes);
    double lr_, lc;
    int64_t k1, k2;
    CHECK_EQ_INT(sn_trainer_step(&tr, x, y, spec.train.lr, &lr_, &k1, &st), SN_OK);
    CHECK_EQ_INT(sn_trainer_step(&tc, x, y, spec.train.lr, &lc, &k2, &st), SN_OK);
    CHECK_MSG(fabs(lc - lr_) <= 1e-4 * (fabs(lr_) + 1e-3), "%s: loss %g vs %g", what, lc, lr_);
    runs++;
    /* the updated weights, buffers and optimizer state, with the fp32 harness's training
     * tolerance: the reference has the same bf16 semantics, so what remains is the order of
     * the fp32 sums (bf16 products are exact) */
    for (int i = 0; i < tr.w.n; i++) {
        if (tr.w.desc[i].dtype != SN_F32) continue;
        const float *got = tc.w.data[i], *want = tr.w.data[i];
        int64_t n = sn_shape_numel(&tr.w.desc[i].shape);
        double scale = 0, maxdiff = 0;
        for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs((double)want[j]));
        int64_t bad = 0;
        for (int64_t j = 0; j < n; j++) {
            double dd = fabs((double)got[j] - (double)want[j]);
            maxdiff = fmax(maxdiff, dd);
            bad += !(dd <= 2e-4 * (fabs((double)want[j]) + 0.01 * scale) + 1e-7);
        }
        CHECK_MSG(bad == 0, "%s updated %s: %lld of %lld differ (max %.3g, scale %.3g)", what,
                  tr.w.desc[i].name, (long long)bad, (long long)n, maxdiff, scale);
        compared++;
    }
    free(x);
    sn_trainer_free(&tr);
    sn_trainer_free(&tc);
    sn_spec_free(&spec);
}

/* ---- every path ---- */

typedef struct path_run {
    const char *isa; /* SNNC_ISA */
    sn_precision prec;
} path_run;

static void test_paths(void) {
    int quick = sn_test_quick();
    sn_isa_level host;
    {
        sn_status st;
        sn_status_init(&st);
        unsetenv("SNNC_ISA");
        sn_jit *j;
        if (sn_jit_create(&j, &st) != SN_OK) {
            CHECK_MSG(0, "%s", st.msg);
            return;
        }
        host = sn_jit_level(j);
        const char *note = sn_jit_amx_note(j);
        if (note) fprintf(stderr, "  %s\n", note);
        sn_jit_destroy(j);
    }
    /* each (precision, path) once, at the highest level that takes it; the fp32 FMA path of
     * bf16 at every vector width */
    static const path_run all[] = {
        {"amx", SN_PREC_BF16},        {"amx", SN_PREC_INT8},        {"avx512bf16", SN_PREC_BF16},
        {"avx512vnni", SN_PREC_INT8}, {"avx512vnni", SN_PREC_BF16}, {"avx512", SN_PREC_INT8},
        {"avx2", SN_PREC_BF16},       {"avx2", SN_PREC_INT8},       {"sse", SN_PREC_BF16},
        {"scalar", SN_PREC_BF16},
    };
    for (size_t i = 0; i < SN_ARRAY_LEN(all); i++) {
        const path_run *pr = &all[i];
        const char *pn = pr->prec == SN_PREC_BF16 ? "bf16" : "int8";
        sn_isa_level want = (sn_isa_level)sn_jit_level_from_name(pr->isa);
        if (want > host) {
            fprintf(stderr, "  %s on %s: skipped (this CPU's level is %s%s)\n", pn, pr->isa,
                    sn_jit_level_name(host),
                    want == SN_LEVEL_AMX ? ": no AMX, or the tile state was refused" : "");
            continue;
        }
        if (quick && want < SN_LEVEL_AVX512 && !(pr->prec == SN_PREC_BF16 && want == SN_LEVEL_AVX2))
            continue; /* under the sanitizers: the AVX-512 paths and one narrow width */
        setenv("SNNC_ISA", pr->isa, 1);
        sn_status st;
        sn_status_init(&st);
        sn_jit *jit;
        if (sn_jit_create(&jit, &st) != SN_OK) {
            CHECK_MSG(0, "%s", st.msg);
            continue;
        }
        char note[512];
        sn_cpu_precision_note(jit, pr->prec, note, sizeof note);
        sn_mm_path path = sn_cpu_path(jit, pr->prec, NULL);
        char pname[96];
        snprintf(pname, sizeof pname, "%s: %s", pr->isa, sn_cpu_path_name(path));
        int before = sn_test_failures, r0 = runs;
        for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++) {
            if (!case_applies(&cases[c], pr->prec == SN_PREC_INT8)) continue;
            for (int f = 1; f >= (quick ? 1 : 0); f--) run_case(&cases[c], jit, pr->prec, f, pname);
        }
        if (pr->prec == SN_PREC_BF16 && (!quick || want >= SN_LEVEL_AVX512))
            for (size_t c = 0; c < SN_ARRAY_LEN(train_cases); c++)
                run_train_case(&train_cases[c], jit, pname);
        fprintf(stderr, "  %s on %-10s %-62s %3d runs: %s\n", pn, pr->isa, sn_cpu_path_name(path),
                runs - r0, sn_test_failures == before ? "all within the bounds" : "MISMATCHES");
        sn_jit_destroy(jit);
    }
    unsetenv("SNNC_ISA");
    fprintf(stderr, "  %d case runs, %d tensors compared\n", runs, compared);
}

/* ---- AMX without AMX: every applicable case lowered and compiled for a Sapphire Rapids
 * target (no kernel runs), its stride-1 convolutions on AMX kernels whose assembly holds the
 * tile instructions. Where the host has AMX, test_paths runs them too. ---- */
static void test_amx_compile(void) {
    sn_status st;
    sn_status_init(&st);
    unsetenv("SNNC_ISA");
    sn_jit *host;
    if (sn_jit_create(&host, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    if (sn_jit_isa(host) != SN_ISA_AVX512) {
        fprintf(stderr, "  AMX compile check skipped: the host has no AVX-512 to build it on\n");
        sn_jit_destroy(host);
        return;
    }
    sn_strbuf fs;
    sn_sb_init(&fs);
    sn_sb_puts(&fs, sn_jit_features(host));
    sn_sb_puts(&fs, ",+avx512vnni,+avx512bf16,+amx-tile,+amx-bf16,+amx-int8");
    sn_jit_destroy(host);
    sn_jit *jit;
    if (sn_jit_create_cross(&jit, "sapphirerapids", sn_sb_cstr(&fs), &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        sn_sb_free(&fs);
        return;
    }
    sn_sb_free(&fs);
    CHECK_EQ_INT(sn_jit_level(jit), SN_LEVEL_AMX);
    int kernels = 0, tiles = 0;
    for (int prec = SN_PREC_BF16; prec <= SN_PREC_INT8; prec++)
        for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++) {
            if (!case_applies(&cases[c], prec == SN_PREC_INT8)) continue;
            sn_status_init(&st);
            char yaml[4096];
            snprintf(yaml, sizeof yaml, "name: %s\n%s", cases[c].name, cases[c].yaml);
            sn_model_spec spec;
            sn_graph g;
            sn_groups gs;
            sn_build_opts bo = {.batch = cases[c].batch, .with_loss = cases[c].with_loss};
            if (sn_spec_parse(cases[c].name, yaml, strlen(yaml), NULL, 0, &spec, &st) ||
                sn_graph_build(&spec, &bo, &g, &st) || sn_fuse(&g, 1, &gs, &st)) {
                CHECK_MSG(0, "%s: %s", cases[c].name, st.msg);
                continue;
            }
            sn_act_quant *aq = sn_calloc((size_t)g.nnodes + 1, sizeof *aq);
            int naq = 0, s1 = 0;
            for (int i = 0; i < g.nnodes; i++)
                if (g.nodes[i].op == SN_OP_CONV2D) {
                    sn_strlcpy(aq[naq].name, g.tensors[g.nodes[i].in[0]].name, sizeof aq->name);
                    aq[naq].scale = 0.25f;
                    aq[naq++].zero = 128;
                    s1 += g.nodes[i].a.sh == 1 && g.nodes[i].a.sw == 1;
                }
            sn_cpu_options o = {
                .capture = SN_CAPTURE_ALL, .precision = (sn_precision)prec, .act = aq, .nact = naq};
            sn_plan plan;
            sn_cpu_artifacts art;
            memset(&art, 0, sizeof art);
            if (sn_lower_cpu(&g, &gs, jit, &o, &plan, &art, &st) != SN_OK) {
                CHECK_MSG(0, "%s [%s, amx]: %s", cases[c].name,
                          prec == SN_PREC_BF16 ? "bf16" : "int8", st.msg);
            } else {
                int amx = count_kernels(&plan, "conv_amx");
                CHECK_MSG(amx == s1, "%s [%s, amx]: %d of %d stride-1 convolutions on AMX",
                          cases[c].name, prec == SN_PREC_BF16 ? "bf16" : "int8", amx, s1);
                for (int i = 0; i < art.n; i++) {
                    if (strcmp(art.k[i].kind, "conv_amx") != 0) continue;
                    kernels++;
                    const char *as = art.k[i].asm_text ? art.k[i].asm_text : "";
                    int ok = strstr(as, prec == SN_PREC_BF16 ? "tdpbf16ps" : "tdpbusd") &&
                             strstr(as, "ldtilecfg") && strstr(as, "tilerelease");
                    tiles += ok;
                    CHECK_MSG(ok, "%s [amx]: no tile instructions in %s", cases[c].name,
                              art.k[i].symbol);
                }
                sn_plan_free(&plan);
            }
            sn_cpu_artifacts_free(&art);
            free(aq);
            sn_groups_free(&gs);
            sn_graph_free(&g);
            sn_spec_free(&spec);
        }
    fprintf(stderr,
            "  AMX compile check (sapphirerapids target, not run here): %d AMX kernels, %d with "
            "the tile instructions\n",
            kernels, tiles);
    CHECK_MSG(kernels > 0, "no AMX kernels compiled");
    sn_jit_destroy(jit);
}

int main(void) {
    RUN(test_amx_compile);
    RUN(test_paths);
    return sn_test_result();
}
