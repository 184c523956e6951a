/* Conformance harness for the CPU backend: every op and every fused group, run by the
 * LLVM JIT and by the reference interpreter on the same weights and inputs, compared
 * tensor by tensor (every group output, i.e. the fused intermediates that exist, and the
 * final output), with fusion on and off, for every vector ISA the host can run (AVX-512,
 * AVX2, SSE, scalar: the host's own level first, the narrower ones forced with SNNC_ISA,
 * which also removes the wider instructions from the target machine). bf16 and int8 are
 * tested by test_cpu_precision.c on the same cases (conf_cases.h).
 *
 * Tolerances: "float" cases use random real data and accept |jit - ref| <= 1e-4 * (1 +
 * |ref|) (the JIT sums in float in another order; the reference sums in double).
 * "exact" cases use dyadic data (inputs multiples of 1/4, weights of 1/8, batch-norm with
 * eps 0.25 and var 0.75 so the folded scale is a power of two): every sum is exact in both
 * implementations, so quantizer levels, ternary weights and spikes must match bit for bit. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/llvm/cpu_backend.h"
#include "compiler/backends/llvm/jit.h"
#include "compiler/backends/ref/ref_backend.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/cpu/pack.h"

#include "conf_cases.h"
#include "conf_train_cases.h"

static int compared, cases_run;

/* arguments select cases by name (a substring; all when none) */
static int nsel;
static char **sel;
static int selected(const char *name) {
    if (nsel == 0) return 1;
    for (int i = 0; i < nsel; i++)
        if (strstr(name, sel[i])) return 1;
    return 0;
}
static void compare_run(const conf_case *c, const sn_graph *gp, sn_plan *refp, sn_plan *cpup,
                        int fusion, const char *isa, int all, sn_rng *rp);

static void run_case(const conf_case *c, sn_jit *jit, int fusion, const char *isa) {
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = c->batch, .with_loss = c->with_loss};
    if (sn_graph_build(&spec, &bo, &g, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        sn_spec_free(&spec);
        return;
    }
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&g, &d);
    sn_weights w;
    CHECK_EQ_INT(sn_weights_create(&w, d, nd, &st), SN_OK);
    free(d);
    sn_rng r;
    sn_rng_seed(&r, 1234);
    randomize_weights(&w, c->exact, &r);
    sn_plan ref, cpu;
    sn_groups gs;
    CHECK_EQ_INT(sn_lower_ref(&g, &ref, &st), SN_OK);
    CHECK_EQ_INT(sn_fuse(&g, fusion, &gs, &st), SN_OK);
    sn_cpu_options o = {0};
    if (sn_lower_cpu(&g, &gs, jit, &o, &cpu, NULL, &st) != SN_OK) {
        CHECK_MSG(0, "%s [%s fusion %d]: %s", c->name, isa, fusion, st.msg);
        goto out_ref;
    }
    CHECK_EQ_INT(sn_plan_bind(&ref, &w, &st), SN_OK);
    /* First with the memory planner's buffer reuse: only the output survives the run. */
    CHECK_EQ_INT(sn_plan_bind(&cpu, &w, &st), SN_OK);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) { /* then every buffer kept, to compare the intermediates */
            sn_plan_disable_reuse(&cpu);
            CHECK_EQ_INT(sn_plan_bind(&cpu, &w, &st), SN_OK);
        }
        compare_run(c, &g, &ref, &cpu, fusion, isa, pass, &r);
    }
    sn_plan_free(&cpu);
out_ref:
    sn_plan_free(&ref);
    sn_groups_free(&gs);
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
}

static void compare_run(const conf_case *c, const sn_graph *gp, sn_plan *refp, sn_plan *cpup,
                        int fusion, const char *isa, int all, sn_rng *rp) {
    const sn_graph g = *gp;
    sn_plan ref = *refp, cpu = *cpup;
    sn_rng r = *rp;
    sn_status st;
    sn_status_init(&st);
    /* input: Poisson needs [0, 1] */
    int64_t nin = sn_shape_numel(&g.tensors[g.input].shape);
    float *x = sn_plan_f32(&ref, ref.in_buf);
    int poisson = 0;
    for (int i = 0; i < g.nnodes; i++) poisson |= g.nodes[i].op == SN_OP_ENCODE_POISSON;
    fill(x, nin, c->exact, poisson ? 0.0f : -2.0f, poisson ? 1.0f : 2.0f, 0.25f, &r);
    memcpy(sn_plan_f32(&cpu, cpu.in_buf), x, (size_t)nin * sizeof(float));
    if (g.label >= 0) {
        int32_t *lr = ref.bufs[ref.label_buf].ptr, *lc = cpu.bufs[cpu.label_buf].ptr;
        for (int64_t i = 0; i < g.batch; i++) lr[i] = lc[i] = (int32_t)(i % g.num_classes);
    }
    CHECK_EQ_INT(sn_plan_run(&ref, NULL, 77, 0, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_run(&cpu, NULL, 77, 0, &st), SN_OK);
    cases_run += all;
    /* every tensor the CPU plan materialized (or only the output), against the reference's */
    for (int b = 0; b < cpu.nbufs; b++) {
        const sn_buffer *cb = &cpu.bufs[b];
        if (cb->kind != SN_BUF_ARENA || strchr(cb->name, '@')) continue;
        if (!all && b != cpu.out_buf && b != cpu.loss_buf) continue;
        int t = -1;
        for (int i = 0; i < g.ntensors; i++)
            if (strcmp(g.tensors[i].name, cb->name) == 0) t = i;
        if (t < 0 || g.tensors[t].kind == SN_T_LABEL) continue;
        int rb = sn_plan_find_buffer(&ref, cb->name);
        if (rb < 0) continue;
        const sn_tensor *tt = &g.tensors[t];
        int64_t n = sn_shape_numel(&tt->shape);
        float *got = malloc((size_t)(n ? n : 1) * sizeof(float));
        if (tt->shape.rank == 0 || tt == &g.tensors[g.input]) {
            memcpy(got, cb->ptr, (size_t)n * sizeof(float));
        } else {
            sn_cpu_layout l = parse_layout(cb->layout, tt);
            sn_layout_to_nchw(cb->ptr, sn_tensor_images(tt), &l, got);
        }
        const float *want = ref.bufs[rb].ptr;
        double maxdiff = 0;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++) {
            double diff = fabs((double)got[i] - (double)want[i]);
            double tol = c->exact ? 0.0 : 1e-4 * (1.0 + fabs((double)want[i]));
            if (!(diff <= tol)) {
                if (first < 0) first = i;
                bad++;
            }
            if (diff > maxdiff) maxdiff = diff;
        }
        CHECK_MSG(bad == 0,
                  "%s [%s, fusion %s, %s] tensor %s: %lld of %lld differ (max %.3g; first at %lld: "
                  "%g vs %g)",
                  c->name, isa, fusion ? "on" : "off", all ? "no reuse" : "reuse", cb->name,
                  (long long)bad, (long long)n, maxdiff, (long long)first,
                  first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
        compared++;
        free(got);
    }
}

/* Threshold units are created by ANN -> SNN conversion rather than written in YAML:
 * build the graph directly. */
static void run_threshold(sn_jit *jit, const char *isa) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    sn_graph_init(&g);
    g.batch = 2;
    g.num_classes = 20 * 3 * 3;
    sn_shape xs = sn_shape4(2, 20, 3, 3), ts = sn_shape2(20, 4);
    g.input = sn_graph_add_tensor(&g, SN_T_INPUT, SN_F32, &xs, 1, "input", &st);
    int th = sn_graph_add_tensor(&g, SN_T_BUFFER, SN_F32, &ts, 0, "theta", &st);
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.U = 4;
    int in[2] = {g.input, th};
    int y = sn_graph_add_node(&g, SN_OP_THRESHOLD, in, 2, &a, "units", -1, NULL, &st);
    memset(&a, 0, sizeof a);
    g.output = sn_graph_add_node(&g, SN_OP_FLATTEN, &y, 1, &a, "flat", -1, NULL, &st);
    CHECK_EQ_INT(sn_graph_verify(&g, &st), SN_OK);
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&g, &d);
    sn_weights w;
    CHECK_EQ_INT(sn_weights_create(&w, d, nd, &st), SN_OK);
    free(d);
    float *theta = w.data[0];
    for (int c = 0; c < 20; c++)
        for (int u = 0; u < 4; u++)
            theta[c * 4 + u] = -1.0f + 0.5f * (float)u + 0.125f * (float)(c % 3);
    sn_plan ref, cpu;
    sn_groups gs;
    CHECK_EQ_INT(sn_lower_ref(&g, &ref, &st), SN_OK);
    CHECK_EQ_INT(sn_fuse(&g, 1, &gs, &st), SN_OK);
    sn_cpu_options o = {0};
    CHECK_MSG(sn_lower_cpu(&g, &gs, jit, &o, &cpu, NULL, &st) == SN_OK, "threshold: %s", st.msg);
    CHECK_EQ_INT(sn_plan_bind(&ref, &w, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_bind(&cpu, &w, &st), SN_OK);
    sn_rng r;
    sn_rng_seed(&r, 5);
    float *x = sn_plan_f32(&ref, ref.in_buf);
    fill(x, 2 * 20 * 9, 1, -2.0f, 2.0f, 0.125f, &r);
    memcpy(sn_plan_f32(&cpu, cpu.in_buf), x, 2 * 20 * 9 * sizeof(float));
    CHECK_EQ_INT(sn_plan_run(&ref, NULL, 1, 0, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_run(&cpu, NULL, 1, 0, &st), SN_OK);
    const float *a1 = sn_plan_f32(&ref, ref.out_buf), *a2 = sn_plan_f32(&cpu, cpu.out_buf);
    int same = 1;
    for (int i = 0; i < 2 * 20 * 9; i++) same &= a1[i] == a2[i];
    CHECK_MSG(same, "threshold units [%s] differ from the reference", isa);
    compared++;
    sn_plan_free(&ref);
    sn_plan_free(&cpu);
    sn_groups_free(&gs);
    sn_weights_free(&w);
    sn_graph_free(&g);
}

/* ---- spike-count convolutions: conv2d nodes with spike_input and int_weights set, as
 * the SNN converter makes them (built directly), optionally followed by threshold units
 * (fused into the convolution's epilogue with fusion on) and a second spike convolution
 * reading the counts. Inputs are whole numbers in [0, S], weights whole numbers in
 * [-wmax, wmax], biases and thresholds on the 1/8 grid (with some ties, and +-inf): every
 * value is exact, so the CPU backend (the int8 VNNI kernel where the host has it, the fp32
 * kernels otherwise) must equal the reference bit for bit, fused and unfused alike. ---- */
typedef struct spike_case {
    const char *name;
    int N, C, H, W;
    int O, k, s, p;
    int bias;
    int U;         /* > 0: threshold units after the convolution */
    int O2;        /* > 0: then a 3x3 pad-1 spike convolution with O2 outputs */
    int S, wmax;   /* input counts in [0, S], weights in [-wmax, wmax] */
    int relu_pool; /* no threshold: relu and a 2x2 max pool after the convolution */
} spike_case;

static const spike_case spike_cases[] = {
    {"spike_conv3x3_c17_o40_bias", 3, 17, 7, 6, 40, 3, 1, 1, 1, 0, 0, 4, 1, 0},
    {"spike_conv3x3_c3_o17_nobias", 2, 3, 5, 5, 17, 3, 1, 1, 0, 0, 0, 4, 1, 0},
    {"spike_conv2x2_s2_c40_o24_bias", 2, 40, 8, 6, 24, 2, 2, 0, 1, 0, 0, 4, 1, 0},
    {"spike_conv1x1_c40_o3_bias", 3, 40, 3, 4, 3, 1, 1, 0, 1, 0, 0, 8, 1, 0},
    {"spike_conv3x3_c20_o50_tails_n7_13x11", 7, 20, 13, 11, 50, 3, 1, 1, 1, 0, 0, 2, 1, 0},
    {"spike_conv3x3_c16_o32_relu_maxpool", 3, 16, 8, 6, 32, 3, 1, 1, 1, 0, 0, 4, 1, 1},
    {"spike_conv3x3_c64_o64_threshold", 4, 64, 6, 6, 64, 3, 1, 1, 0, 4, 0, 4, 1, 0},
    {"spike_conv3x3_valid_c32_o80_threshold_1x1", 9, 32, 3, 3, 80, 3, 1, 0, 1, 2, 0, 2, 1, 0},
    {"spike_conv2x2_s2_c24_o33_threshold_s255_w127", 3, 24, 6, 6, 33, 2, 2, 0, 1, 3, 0, 255, 127,
     0},
    {"spike_conv_threshold_chain_c17_o40_o24", 2, 17, 6, 6, 40, 3, 1, 1, 1, 4, 24, 4, 1, 0},
};

static float *weight_named(sn_weights *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->desc[i].name, name) == 0) return w->data[i];
    return NULL;
}

/* Builds the case's graph; returns the number of spike convolutions. */
static int build_spike_graph(const spike_case *c, sn_graph *g, sn_status *st) {
    sn_graph_init(g);
    g->batch = c->N;
    sn_shape xs = sn_shape4(c->N, c->C, c->H, c->W);
    g->input = sn_graph_add_tensor(g, SN_T_INPUT, SN_F32, &xs, 1, "input", st);
    int cur = g->input, convs = 0, Cin = c->C, S = c->S;
    for (int layer = 0; layer < 2; layer++) {
        int O = layer == 0 ? c->O : c->O2, k = layer == 0 ? c->k : 3;
        if (O <= 0) break;
        char nm[64];
        sn_shape ws = sn_shape4(O, Cin, k, k), bs = sn_shape1(O);
        snprintf(nm, sizeof nm, "f.%d.weight", 2 * layer);
        int in[3] = {cur, sn_graph_add_tensor(g, SN_T_PARAM, SN_F32, &ws, 0, nm, st), -1};
        sn_attrs a;
        memset(&a, 0, sizeof a);
        a.kh = a.kw = k;
        a.sh = a.sw = layer == 0 ? c->s : 1;
        a.ph = a.pw = layer == 0 ? c->p : 1;
        a.has_bias = layer == 0 && c->bias;
        a.spike_input = S;
        a.int_weights = 1;
        if (a.has_bias) {
            snprintf(nm, sizeof nm, "f.%d.bias", 2 * layer);
            in[2] = sn_graph_add_tensor(g, SN_T_PARAM, SN_F32, &bs, 0, nm, st);
            g->tensors[in[2]].role = SN_ROLE_BIAS;
        }
        snprintf(nm, sizeof nm, "f.%d", 2 * layer);
        cur = sn_graph_add_node(g, SN_OP_CONV2D, in, a.has_bias ? 3 : 2, &a, nm, -1, NULL, st);
        convs++;
        Cin = O;
        if (layer == 0 && c->relu_pool) {
            memset(&a, 0, sizeof a);
            cur = sn_graph_add_node(g, SN_OP_RELU, &cur, 1, &a, "f.relu", -1, NULL, st);
            a.kh = a.kw = a.sh = a.sw = 2;
            cur = sn_graph_add_node(g, SN_OP_MAXPOOL, &cur, 1, &a, "f.pool", -1, NULL, st);
        }
        if (layer == 0 && c->U > 0) {
            sn_shape ts = sn_shape2(O, c->U);
            snprintf(nm, sizeof nm, "f.%d.theta", 2 * layer + 1);
            int tin[2] = {cur, sn_graph_add_tensor(g, SN_T_BUFFER, SN_F32, &ts, 0, nm, st)};
            g->tensors[tin[1]].role = SN_ROLE_THETA;
            memset(&a, 0, sizeof a);
            a.U = c->U;
            snprintf(nm, sizeof nm, "f.%d", 2 * layer + 1);
            cur = sn_graph_add_node(g, SN_OP_THRESHOLD, tin, 2, &a, nm, -1, NULL, st);
            S = c->U;
        } else {
            break; /* a second convolution reads threshold counts only */
        }
    }
    sn_attrs a;
    memset(&a, 0, sizeof a);
    g->output = sn_graph_add_node(g, SN_OP_FLATTEN, &cur, 1, &a, "flat", -1, NULL, st);
    if (g->output >= 0) g->num_classes = (int)g->tensors[g->output].shape.d[1];
    return convs;
}

/* Whole-number weights, 1/8-grid biases, ascending thresholds spread over the range of v. */
static void fill_spike_weights(const spike_case *c, sn_weights *w, sn_rng *r) {
    for (int i = 0; i < w->n; i++) {
        const sn_param_desc *d = &w->desc[i];
        float *p = w->data[i];
        int64_t n = sn_shape_numel(&d->shape);
        if (d->role == SN_ROLE_THETA) {
            int64_t U = d->shape.d[1];
            float fan = (float)c->C * (float)(c->k * c->k);
            float spread = floorf(sqrtf(fan) * (float)c->S * 0.25f * (float)c->wmax) + 1.0f;
            for (int64_t j = 0; j < n; j += U) {
                float t = -spread + 0.125f * (float)sn_rng_below(r, (uint32_t)(16 * spread));
                for (int64_t u = 0; u < U; u++) {
                    p[j + u] = t;
                    t += 0.125f * (float)(1 + sn_rng_below(r, (uint32_t)(8 * spread)));
                }
            }
            p[0] = -INFINITY; /* a unit that always fires, one that never does */
            p[2 * U - 1] = INFINITY;
        } else if (d->role == SN_ROLE_BIAS) {
            for (int64_t j = 0; j < n; j++) p[j] = 0.125f * (float)((int)sn_rng_below(r, 33) - 16);
        } else {
            for (int64_t j = 0; j < n; j++)
                p[j] = (float)((int)sn_rng_below(r, (uint32_t)(2 * c->wmax + 1)) - c->wmax);
        }
    }
}

static int64_t count_kernels(const sn_plan *p, const char *kind) {
    char pre[64];
    snprintf(pre, sizeof pre, "snk_%s_", kind);
    int64_t n = 0;
    for (int i = 0; i < p->nsteps; i++) n += strncmp(p->steps[i].kernel, pre, strlen(pre)) == 0;
    return n;
}

/* Every group output the CPU plan keeps (all: reuse disabled) or only the output, exactly
 * against the reference's. */
static void compare_exact(const char *what, const sn_graph *g, const sn_plan *ref,
                          const sn_plan *cpu, int all) {
    for (int b = 0; b < cpu->nbufs; b++) {
        const sn_buffer *cb = &cpu->bufs[b];
        if (cb->kind != SN_BUF_ARENA || strchr(cb->name, '@')) continue;
        if (!all && b != cpu->out_buf) continue;
        int t = -1;
        for (int i = 0; i < g->ntensors; i++)
            if (strcmp(g->tensors[i].name, cb->name) == 0) t = i;
        int rb = sn_plan_find_buffer(ref, cb->name);
        if (t < 0 || rb < 0 || t == g->input) continue;
        const sn_tensor *tt = &g->tensors[t];
        int64_t n = sn_shape_numel(&tt->shape);
        float *got = malloc((size_t)n * sizeof(float));
        sn_cpu_layout l = parse_layout(cb->layout, tt);
        sn_layout_to_nchw(cb->ptr, sn_tensor_images(tt), &l, got);
        const float *want = ref->bufs[rb].ptr;
        int64_t bad = 0, first = -1;
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                if (first < 0) first = i;
                bad++;
            }
        CHECK_MSG(bad == 0, "%s tensor %s: %lld of %lld differ (first at %lld: %g vs %g)", what,
                  cb->name, (long long)bad, (long long)n, (long long)first,
                  first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
        compared++;
        free(got);
    }
}

static void run_spike_case(const spike_case *c, sn_jit *jit, const char *isa) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    int convs = build_spike_graph(c, &g, &st);
    if (st.code || sn_graph_verify(&g, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        sn_graph_free(&g);
        return;
    }
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&g, &d);
    sn_weights w;
    CHECK_EQ_INT(sn_weights_create(&w, d, nd, &st), SN_OK);
    free(d);
    sn_rng r;
    sn_rng_seed(&r, 4242);
    fill_spike_weights(c, &w, &r);
    sn_plan ref;
    CHECK_EQ_INT(sn_lower_ref(&g, &ref, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_bind(&ref, &w, &st), SN_OK);
    int64_t nin = sn_shape_numel(&g.tensors[g.input].shape);
    float *x = sn_plan_f32(&ref, ref.in_buf);
    for (int64_t i = 0; i < nin; i++) x[i] = (float)sn_rng_below(&r, (uint32_t)c->S + 1);
    CHECK_EQ_INT(sn_plan_run(&ref, NULL, 1, 0, &st), SN_OK);
    int64_t nout = sn_shape_numel(&g.tensors[g.output].shape);
    float *fused_out = malloc((size_t)nout * sizeof(float));
    int int8 = sn_jit_vnni(jit) && sn_jit_vector_width(jit) == 16;
    for (int fusion = 1; fusion >= 0; fusion--) {
        char what[160];
        snprintf(what, sizeof what, "%s [%s, fusion %s]", c->name, isa, fusion ? "on" : "off");
        sn_groups gs;
        sn_plan cpu;
        CHECK_EQ_INT(sn_fuse(&g, fusion, &gs, &st), SN_OK);
        sn_cpu_options o = {0};
        if (sn_lower_cpu(&g, &gs, jit, &o, &cpu, NULL, &st) != SN_OK) {
            CHECK_MSG(0, "%s: %s", what, st.msg);
            sn_groups_free(&gs);
            continue;
        }
        /* the integer kernel runs every spike convolution where the host has VNNI */
        if (int8) CHECK_MSG(count_kernels(&cpu, "conv_i8") == convs, "%s: no int8 kernel", what);
        /* fused threshold units leave no kernel of their own, except after a Winograd
         * convolution (which has no threshold epilogue) */
        if (fusion && c->U > 0)
            CHECK_MSG(count_kernels(&cpu, "threshold") == (count_kernels(&cpu, "wino") > 0),
                      "%s: %lld threshold kernels", what,
                      (long long)count_kernels(&cpu, "threshold"));
        if (!fusion && c->U > 0)
            CHECK_MSG(count_kernels(&cpu, "threshold") == 1, "%s: no threshold kernel", what);
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) sn_plan_disable_reuse(&cpu);
            CHECK_EQ_INT(sn_plan_bind(&cpu, &w, &st), SN_OK);
            memcpy(sn_plan_f32(&cpu, cpu.in_buf), x, (size_t)nin * sizeof(float));
            CHECK_EQ_INT(sn_plan_run(&cpu, NULL, 1, 0, &st), SN_OK);
            compare_exact(what, &g, &ref, &cpu, pass);
        }
        const float *out = sn_plan_f32(&cpu, cpu.out_buf);
        if (fusion)
            memcpy(fused_out, out, (size_t)nout * sizeof(float));
        else
            CHECK_MSG(memcmp(fused_out, out, (size_t)nout * sizeof(float)) == 0,
                      "%s: fused and unfused outputs differ", what);
        cases_run++;
        /* the packing rejects weights the integer kernel cannot take */
        if (int8 && fusion) {
            float *w0 = weight_named(&w, "f.0.weight");
            float keep = w0[1];
            const float bad[3] = {0.5f, 128.0f, NAN};
            for (int b = 0; b < 3; b++) {
                w0[1] = bad[b];
                CHECK_MSG(sn_plan_bind(&cpu, &w, &st) != SN_OK,
                          "%s: weight %g accepted by the int8 packing", what, bad[b]);
                sn_status_init(&st);
            }
            w0[1] = keep;
        }
        sn_plan_free(&cpu);
        sn_groups_free(&gs);
    }
    free(fused_out);
    sn_plan_free(&ref);
    sn_weights_free(&w);
    sn_graph_free(&g);
}

/* ---- training steps: one optimizer step through the JIT and through the reference, from
 * identical weights; every tensor the CPU plan keeps (activations, saved statistics,
 * gradients) and every updated weight and optimizer state compared (conf_train_cases.h). ---- */

static void load_layout_nchw(const sn_buffer *b, const sn_tensor *t, float *out) {
    int64_t n = sn_shape_numel(&t->shape);
    if (strcmp(b->layout, "plain") == 0 || t->shape.rank == 0 || t->lead == 0 ||
        t->kind == SN_T_INPUT) {
        memcpy(out, b->ptr, (size_t)n * sizeof(float));
        return;
    }
    sn_cpu_layout l = parse_layout(b->layout, t);
    sn_layout_to_nchw(b->ptr, sn_tensor_images(t), &l, out);
}

static void check_close(const char *what, const char *name, const float *got, const float *want,
                        int64_t n, double rtol) {
    double scale = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)want[i]) > scale) scale = fabs((double)want[i]);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > maxdiff) maxdiff = d;
        if (!(d <= rtol * (fabs((double)want[i]) + 0.01 * scale) + 1e-7)) {
            if (first < 0) first = i;
            bad++;
        }
    }
    CHECK_MSG(bad == 0,
              "%s %s: %lld of %lld differ (max %.3g, scale %.3g; first at %lld: %g vs %g)", what,
              name, (long long)bad, (long long)n, maxdiff, scale, (long long)first,
              first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
    compared++;
}

static void run_train_case(const train_case *c, sn_jit *jit, int fusion, const char *isa) {
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        return;
    }
    sn_trainer_opts ro = {SN_TARGET_REF, fusion, c->batch, 1, 1, NULL, 5, NULL, 0};
    sn_trainer_opts co = ro;
    co.target = SN_TARGET_CPU;
    sn_trainer tr, tc;
    sn_code a = sn_trainer_create(&tr, &spec, &ro, &st);
    sn_code b = a ? a : sn_trainer_create(&tc, &spec, &co, &st);
    if (a || b) {
        CHECK_MSG(0, "%s [%s]: %s", c->name, isa, st.msg);
        if (!a) sn_trainer_free(&tr);
        sn_spec_free(&spec);
        return;
    }
    /* identical weights; every CPU buffer kept to compare intermediates */
    sn_rng r;
    sn_rng_seed(&r, 99);
    randomize_weights(&tr.w, 0, &r);
    sn_weights_copy(&tc.w, &tr.w);
    sn_plan_disable_reuse(&tc.tp);
    sn_weights *stores[3] = {&tc.w, &tc.slots[0], &tc.slots[1]};
    CHECK_EQ_INT(sn_plan_bind_stores(&tc.tp, stores, 1 + tc.nslots, &st), SN_OK);
    int64_t nx = sn_shape_numel(&tr.tg.tensors[tr.tg.input].shape);
    float *x = malloc((size_t)nx * sizeof(float));
    int32_t *y = malloc((size_t)c->batch * sizeof(int32_t));
    if (strstr(c->yaml, "poisson")) /* a Poisson encoder takes [0, 1] */
        fill(x, nx, 0, 0.0f, 1.0f, 0.0625f, &r);
    else
        fill(x, nx, 0, -2.0f, 2.0f, 0.25f, &r);
    for (int64_t i = 0; i < nx; i++) x[i] += c->offset;
    for (int i = 0; i < c->batch; i++) y[i] = (int32_t)(i * 7 % spec.num_classes);
    double lr_, lc;
    int64_t k1, k2;
    CHECK_EQ_INT(sn_trainer_step(&tr, x, y, spec.train.lr, &lr_, &k1, &st), SN_OK);
    CHECK_EQ_INT(sn_trainer_step(&tc, x, y, spec.train.lr, &lc, &k2, &st), SN_OK);
    CHECK_CLOSE(lc, lr_, 1e-6, 1e-4);
    cases_run++;
    const sn_graph *g = &tc.tg;
    for (int bi = 0; bi < tc.tp.nbufs; bi++) {
        const sn_buffer *cb = &tc.tp.bufs[bi];
        if (cb->kind != SN_BUF_ARENA || strchr(cb->name, '@')) continue;
        int t = -1;
        for (int i = 0; i < g->ntensors; i++)
            if (strcmp(g->tensors[i].name, cb->name) == 0) t = i;
        if (t < 0 || g->tensors[t].kind == SN_T_LABEL || g->tensors[t].dtype != SN_F32) continue;
        int rb = sn_plan_find_buffer(&tr.tp, cb->name);
        if (rb < 0) continue;
        int64_t n = sn_shape_numel(&g->tensors[t].shape);
        float *got = malloc((size_t)(n ? n : 1) * sizeof(float));
        load_layout_nchw(cb, &g->tensors[t], got);
        char what[160];
        snprintf(what, sizeof what, "%s [%s, fusion %s] tensor", c->name, isa,
                 fusion ? "on" : "off");
        check_close(what, cb->name, got, tr.tp.bufs[rb].ptr, n, 2e-4);
        free(got);
    }
    /* the updated weights, buffers and optimizer state */
    for (int i = 0; i < tr.w.n; i++) {
        if (tr.w.desc[i].dtype != SN_F32) {
            CHECK_EQ_INT(*(int64_t *)tc.w.data[i], *(int64_t *)tr.w.data[i]);
            continue;
        }
        char what[160];
        snprintf(what, sizeof what, "%s [%s, fusion %s] updated", c->name, isa,
                 fusion ? "on" : "off");
        check_close(what, tr.w.desc[i].name, tc.w.data[i], tr.w.data[i],
                    sn_shape_numel(&tr.w.desc[i].shape), 2e-4);
    }
    for (int s = 0; s < tr.nslots; s++)
        for (int i = 0; i < tr.slots[s].n; i++) {
            char what[160];
            snprintf(what, sizeof what, "%s [%s, fusion %s] optimizer", c->name, isa,
                     fusion ? "on" : "off");
            check_close(what, tr.slots[s].desc[i].name, tc.slots[s].data[i], tr.slots[s].data[i],
                        sn_shape_numel(&tr.slots[s].desc[i].shape), 2e-4);
        }
    free(x);
    free(y);
    sn_trainer_free(&tr);
    sn_trainer_free(&tc);
    sn_spec_free(&spec);
}

static void test_all_isas(void) {
    const char *isas[] = {"avx512", "avx2", "sse", "scalar"};
    sn_isa host = SN_ISA_SCALAR;
    {
        sn_status st;
        sn_status_init(&st);
        unsetenv("SNNC_ISA");
        sn_jit *j;
        if (sn_jit_create(&j, &st) != SN_OK) {
            CHECK_MSG(0, "%s", st.msg);
            return;
        }
        host = sn_jit_isa(j);
        sn_jit_destroy(j);
    }
    for (int i = 0; i < 4; i++) {
        sn_isa want = i == 0   ? SN_ISA_AVX512
                      : i == 1 ? SN_ISA_AVX2
                      : i == 2 ? SN_ISA_SSE
                               : SN_ISA_SCALAR;
        if (want > host) {
            fprintf(stderr, "  (host cannot run %s: skipped)\n", isas[i]);
            continue;
        }
        /* the widest vectors at the host's own level (its int8 spike kernels included:
         * SNNC_ISA=avx512 would also turn VNNI off), the narrower ones forced */
        if (i == 0)
            unsetenv("SNNC_ISA");
        else
            setenv("SNNC_ISA", isas[i], 1);
        sn_status st;
        sn_status_init(&st);
        sn_jit *jit;
        CHECK_EQ_INT(sn_jit_create(&jit, &st), SN_OK);
        CHECK_EQ_INT(sn_jit_isa(jit), want);
        if (i == 0) isas[0] = sn_jit_level_name(sn_jit_level(jit));
        int before = sn_test_failures;
        for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++)
            if (selected(cases[c].name))
                for (int f = 1; f >= 0; f--) run_case(&cases[c], jit, f, isas[i]);
        for (size_t c = 0; c < SN_ARRAY_LEN(train_cases); c++)
            if (selected(train_cases[c].name))
                for (int f = 1; f >= 0; f--) run_train_case(&train_cases[c], jit, f, isas[i]);
        run_threshold(jit, isas[i]);
        for (size_t c = 0; c < SN_ARRAY_LEN(spike_cases); c++)
            run_spike_case(&spike_cases[c], jit, isas[i]);
        fprintf(stderr, "  %-6s (vector width %2d): %s\n", isas[i], sn_jit_vector_width(jit),
                sn_test_failures == before ? "all cases match" : "MISMATCHES");
        sn_jit_destroy(jit);
    }
    unsetenv("SNNC_ISA");
    fprintf(stderr, "  %d case runs, %d tensors compared\n", cases_run, compared);
}

int main(int argc, char **argv) {
    nsel = argc - 1;
    sel = argv + 1;
    RUN(test_all_isas);
    return sn_test_result();
}
