/* Per-layer timing of the spike-input int8 (VNNI) convolution against the fp32 kernels the
 * same layer gets as an ANN layer (Winograd F(2x2,3x3) where it applies, else direct), and
 * against the fp32 direct kernel, each followed by threshold units (U = 4; fused into the
 * convolution's epilogue where the kernel has it, a kernel of its own after Winograd).
 * The layers are the hidden convolutions of the seed-001 CIFAR-10 VGG (24x24 crops),
 * batch 64 by default.
 *
 * Build (from the repository root, after cmake --build build):
 *   cc -O2 -std=c11 -I. bench/conv_i8_bench.c build/libsnnc_core.a \
 *      $(llvm-config-14 --ldflags --libs --system-libs) -lyaml -lm -lpthread -o /tmp/conv_i8_bench
 * Run: /tmp/conv_i8_bench [batch] [reps]
 *
 * For each layer and variant it builds conv2d -> threshold -> flatten on a graph of its
 * own, lowers it with fusion on, binds whole-number weights (ternary) and thresholds,
 * feeds spike counts 0..4, runs `reps` timed batches after a warm-up and reports the
 * best batch's time of the convolution and threshold steps (the reorder of the plain test
 * input and the flatten are left out), and GFLOP/s as 2 x the layer's MACs / time. The
 * three variants run in interleaved rounds. It also checks that the variants' outputs are
 * identical. The last line sums the hidden convolutions of the network (conv2/3 twice). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/backends/llvm/cpu_backend.h"
#include "compiler/backends/llvm/jit.h"
#include "compiler/passes/fusion.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/exec/pool.h"

typedef struct layer {
    const char *name;
    int C, H, W, O, k, s, p;
    int count; /* times the network has it */
} layer;

static const layer layers[] = {
    {"conv2/3 64->64 3x3 24x24", 64, 24, 24, 64, 3, 1, 1, 2},
    {"P2 64 2x2/2 24->12", 64, 24, 24, 64, 2, 2, 0, 1},
    {"conv5 64->128 3x3 12x12", 64, 12, 12, 128, 3, 1, 1, 1},
    {"conv6 128->128 3x3 12x12", 128, 12, 12, 128, 3, 1, 1, 1},
    {"P2 128 2x2/2 12->6", 128, 12, 12, 128, 2, 2, 0, 1},
    {"conv8 128->256 3x3 6x6", 128, 6, 6, 256, 3, 1, 1, 1},
    {"conv9 256->256 3x3 6x6", 256, 6, 6, 256, 3, 1, 1, 1},
    {"P2 256 2x2/2 6->3", 256, 6, 6, 256, 2, 2, 0, 1},
    {"conv11 256->512 3x3 3x3", 256, 3, 3, 512, 3, 1, 1, 1},
    {"conv12 512->512 3x3 valid", 512, 3, 3, 512, 3, 1, 0, 1},
};

enum { V_INT8 = 0, V_FP32_AUTO, V_FP32_DIRECT, NV };
static const char *const vnames[NV] = {"int8 vnni", "fp32 (ANN)", "fp32 direct"};

static int build(const layer *l, int64_t N, int variant, sn_graph *g, sn_status *st) {
    sn_graph_init(g);
    g->batch = N;
    sn_shape xs = sn_shape4(N, l->C, l->H, l->W);
    g->input = sn_graph_add_tensor(g, SN_T_INPUT, SN_F32, &xs, 1, "input", st);
    sn_shape ws = sn_shape4(l->O, l->C, l->k, l->k), ts = sn_shape2(l->O, 4);
    int in[2] = {g->input, sn_graph_add_tensor(g, SN_T_PARAM, SN_F32, &ws, 0, "f.0.weight", st)};
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.kh = a.kw = l->k;
    a.sh = a.sw = l->s;
    a.ph = a.pw = l->p;
    a.spike_input = variant == V_INT8 ? 4 : 0;
    a.int_weights = variant == V_INT8;
    int v = sn_graph_add_node(g, SN_OP_CONV2D, in, 2, &a, "f.0", -1, NULL, st);
    int tin[2] = {v, sn_graph_add_tensor(g, SN_T_BUFFER, SN_F32, &ts, 0, "f.1.theta", st)};
    g->tensors[tin[1]].role = SN_ROLE_THETA;
    memset(&a, 0, sizeof a);
    a.U = 4;
    int y = sn_graph_add_node(g, SN_OP_THRESHOLD, tin, 2, &a, "f.1", -1, NULL, st);
    memset(&a, 0, sizeof a);
    g->output = sn_graph_add_node(g, SN_OP_FLATTEN, &y, 1, &a, "flat", -1, NULL, st);
    if (g->output < 0) return -1;
    g->num_classes = (int)g->tensors[g->output].shape.d[1];
    return sn_graph_verify(g, st) == SN_OK ? 0 : -1;
}

int main(int argc, char **argv) {
    int64_t N = argc > 1 ? atoll(argv[1]) : 64;
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    sn_status st;
    sn_status_init(&st);
    sn_pool *pool = sn_pool_create(0);
    printf("batch %lld, %d threads, best of %d batches; ms = conv + threshold units (U = 4)\n\n",
           (long long)N, sn_pool_size(pool), reps);
    printf("%-28s | %-34s | %-34s | %-34s | %s\n", "layer", "int8 vnni  ms  GFLOP/s  kernels",
           "fp32 (ANN)  ms  GFLOP/s  kernels", "fp32 direct  ms  GFLOP/s  kernels", "ANN/int8");
    double total[NV] = {0};
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const layer *l = &layers[li];
        struct {
            sn_jit *jit;
            sn_graph g;
            sn_groups gs;
            sn_plan plan;
            sn_weights w;
            float *x;
            int64_t nin;
            double best;
            char kinds[64];
        } V[NV];
        double gflop = 0;
        /* every variant's plan first, then interleaved timing (this machine's background
         * load drifts; interleaving keeps the ratios fair) */
        for (int v = 0; v < NV; v++) {
            if (v == V_FP32_DIRECT)
                setenv("SNNC_CONV", "direct", 1);
            else
                unsetenv("SNNC_CONV");
            if (sn_jit_create(&V[v].jit, &st) != SN_OK) {
                fprintf(stderr, "%s\n", st.msg);
                return 1;
            }
            if (v == V_INT8 && !sn_jit_vnni(V[v].jit)) {
                fprintf(stderr, "this CPU has no AVX512-VNNI: nothing to compare\n");
                return 1;
            }
            sn_cpu_options o = {0};
            if (build(l, N, v, &V[v].g, &st) || sn_fuse(&V[v].g, 1, &V[v].gs, &st) ||
                sn_lower_cpu(&V[v].g, &V[v].gs, V[v].jit, &o, &V[v].plan, NULL, &st)) {
                fprintf(stderr, "%s: %s\n", l->name, st.msg);
                return 1;
            }
            sn_plan *plan = &V[v].plan;
            gflop = 2.0 * (double)sn_node_macs(&V[v].g, 0) / 1e9;
            sn_param_desc *d = NULL;
            int nd = sn_graph_param_descs(&V[v].g, &d);
            sn_weights *w = &V[v].w;
            if (sn_weights_create(w, d, nd, &st)) return 1;
            free(d);
            sn_rng r;
            sn_rng_seed(&r, 7);
            for (int i = 0; i < w->n; i++) {
                float *p = w->data[i];
                int64_t n = sn_shape_numel(&w->desc[i].shape);
                if (w->desc[i].role == SN_ROLE_THETA)
                    for (int64_t j = 0; j < n; j++) p[j] = (float)(j % 4) * 8.0f - 4.0f;
                else
                    for (int64_t j = 0; j < n; j++) p[j] = (float)((int)sn_rng_below(&r, 3) - 1);
            }
            if (sn_plan_bind(plan, w, &st) || sn_plan_enable_profiling(plan, &st)) {
                fprintf(stderr, "%s: %s\n", l->name, st.msg);
                return 1;
            }
            /* the input batch (refilled before every run: the memory planner lets later
             * steps reuse its space) */
            V[v].nin = sn_shape_numel(&V[v].g.tensors[V[v].g.input].shape);
            V[v].x = malloc((size_t)V[v].nin * sizeof(float));
            for (int64_t i = 0; i < V[v].nin; i++) V[v].x[i] = (float)sn_rng_below(&r, 5);
            V[v].kinds[0] = 0;
            for (int s = 0; s < plan->nsteps; s++) {
                const char *kn = plan->steps[s].kernel;
                if (strstr(kn, "reorder") || strstr(kn, "flatten")) continue;
                char kind[32];
                const char *end = strrchr(kn, '_');
                int len = end ? (int)(end - kn) - 4 : 0;
                snprintf(kind, sizeof kind, "%.*s", len > 0 ? len : 0, kn + 4);
                size_t at = strlen(V[v].kinds);
                snprintf(V[v].kinds + at, sizeof V[v].kinds - at, "%s%s", at ? "+" : "", kind);
            }
            V[v].best = 1e30;
        }
        for (int rep = -2; rep < reps; rep++)
            for (int v = 0; v < NV; v++) {
                sn_plan *plan = &V[v].plan;
                memset(plan->step_seconds, 0, sizeof(double) * (size_t)plan->nsteps);
                memcpy(sn_plan_f32(plan, plan->in_buf), V[v].x, (size_t)V[v].nin * sizeof(float));
                if (sn_plan_run(plan, pool, 1, 0, &st)) {
                    fprintf(stderr, "%s: %s\n", l->name, st.msg);
                    return 1;
                }
                double t = 0;
                for (int s = 0; s < plan->nsteps; s++) {
                    const char *kn = plan->steps[s].kernel;
                    if (!strstr(kn, "reorder") && !strstr(kn, "flatten"))
                        t += plan->step_seconds[s];
                }
                if (rep >= 0 && t < V[v].best) V[v].best = t;
            }
        int same = 1;
        int64_t nout = sn_shape_numel(&V[0].g.tensors[V[0].g.output].shape);
        const float *o0 = sn_plan_f32(&V[0].plan, V[0].plan.out_buf);
        for (int v = 1; v < NV; v++) {
            const float *ov = sn_plan_f32(&V[v].plan, V[v].plan.out_buf);
            int64_t nd = 0;
            for (int64_t i = 0; i < nout; i++) nd += o0[i] != ov[i];
            if (nd)
                fprintf(stderr, "%s: %s differs from int8 in %lld of %lld\n", l->name, vnames[v],
                        (long long)nd, (long long)nout);
            same &= nd == 0;
        }
        printf("%-28s |", l->name);
        for (int v = 0; v < NV; v++) {
            printf(" %7.3f %7.1f  %-17s|", V[v].best * 1e3, gflop / V[v].best, V[v].kinds);
            total[v] += l->count * V[v].best;
        }
        printf(" %.2fx%s\n", V[V_FP32_AUTO].best / V[V_INT8].best, same ? "" : "  OUTPUTS DIFFER");
        for (int v = 0; v < NV; v++) {
            free(V[v].x);
            sn_plan_free(&V[v].plan);
            sn_groups_free(&V[v].gs);
            sn_weights_free(&V[v].w);
            sn_graph_free(&V[v].g);
            sn_jit_destroy(V[v].jit);
        }
    }
    printf("\n%-28s |", "network (conv2/3 twice)");
    for (int v = 0; v < NV; v++) printf(" %7.3f ms %-24s|", total[v] * 1e3, vnames[v]);
    printf(" %.2fx\n", total[V_FP32_AUTO] / total[V_INT8]);
    sn_pool_destroy(pool);
    return 0;
}
