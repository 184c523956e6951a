/* Whole-network inference throughput of a converted spiking network (T = 1, threshold
 * units, integer spike counts: the int8 VNNI convolutions where the CPU has them) against
 * the quantized ANN it was converted from (fp32 direct and Winograd convolutions), with the
 * same weights, batch and threads, plus each plan's per-kernel profile.
 *
 * Build (from the repository root, after cmake --build build):
 *   cc -O2 -std=c11 -I. bench/snn_vs_ann_bench.c build/libsnnc_core.a \
 *      $(llvm-config-14 --ldflags --libs --system-libs) -lyaml -lm -lpthread -o /tmp/snn_vs_ann
 * Run:
 *   build/snnc init models/quant_vgg_cifar10.yaml --out /tmp/ann.safetensors
 *   build/snnc convert models/quant_vgg_cifar10.yaml --weights /tmp/ann.safetensors -o /tmp/snn
 *   /tmp/snn_vs_ann models/quant_vgg_cifar10.yaml /tmp/ann.safetensors \
 *       /tmp/snn/model.yaml /tmp/snn/weights.safetensors [batch 64] [rounds 10]
 *
 * Both plans see the same random batch (standardized-image-like values); the two are run
 * in interleaved rounds of 5 batches and each keeps its best batch. It also reports how
 * many of the batch's predictions agree (all of them, for an exact conversion). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/backends/llvm/cpu_backend.h"
#include "compiler/backends/llvm/jit.h"
#include "compiler/frontend/spec.h"
#include "compiler/ir/build.h"
#include "compiler/passes/fusion.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/exec/pool.h"

typedef struct net {
    const char *label;
    sn_model_spec spec;
    sn_graph g;
    sn_groups gs;
    sn_plan plan;
    sn_weights w;
    double best;
} net;

static int open_net(net *m, const char *label, const char *yaml, const char *weights, int64_t batch,
                    sn_jit *jit, sn_status *st) {
    memset(m, 0, sizeof *m);
    m->label = label;
    sn_build_opts bo;
    memset(&bo, 0, sizeof bo);
    bo.batch = batch;
    if (sn_spec_load(yaml, NULL, 0, &m->spec, st) || sn_graph_build(&m->spec, &bo, &m->g, st) ||
        sn_fuse(&m->g, 1, &m->gs, st))
        return -1;
    sn_cpu_options o = {0};
    if (sn_lower_cpu(&m->g, &m->gs, jit, &o, &m->plan, NULL, st)) return -1;
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&m->g, &d);
    sn_code c = sn_weights_create(&m->w, d, nd, st);
    free(d);
    if (c || sn_weights_load(&m->w, weights, st) || sn_plan_bind(&m->plan, &m->w, st) ||
        sn_plan_enable_profiling(&m->plan, st))
        return -1;
    m->best = 1e30;
    return 0;
}

static void argmax(const float *s, int64_t n, int k, int *out) {
    for (int64_t i = 0; i < n; i++) {
        int b = 0;
        for (int j = 1; j < k; j++)
            if (s[i * k + j] > s[i * k + b]) b = j;
        out[i] = b;
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s ANN.yaml ANN.safetensors SNN.yaml SNN.safetensors [batch] "
                "[rounds]\n",
                argv[0]);
        return 2;
    }
    int64_t batch = argc > 5 ? atoll(argv[5]) : 64;
    int rounds = argc > 6 ? atoi(argv[6]) : 10;
    sn_status st;
    sn_status_init(&st);
    sn_jit *jit;
    if (sn_jit_create(&jit, &st)) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    sn_pool *pool = sn_pool_create(0);
    net nets[2];
    if (open_net(&nets[0], "ANN (fp32)", argv[1], argv[2], batch, jit, &st) ||
        open_net(&nets[1], "SNN T=1", argv[3], argv[4], batch, jit, &st)) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    int64_t nin = sn_shape_numel(&nets[0].g.tensors[nets[0].g.input].shape);
    if (nin != sn_shape_numel(&nets[1].g.tensors[nets[1].g.input].shape)) {
        fprintf(stderr, "the two models take different inputs\n");
        return 1;
    }
    float *x = malloc((size_t)nin * sizeof(float));
    sn_rng r;
    sn_rng_seed(&r, 3);
    for (int64_t i = 0; i < nin; i++) x[i] = 4.0f * sn_rng_uniform(&r) - 2.0f;
    for (int round = -1; round < rounds; round++)
        for (int k = 0; k < 2; k++) {
            net *m = &nets[k];
            for (int rep = 0; rep < 5; rep++) {
                memcpy(sn_plan_f32(&m->plan, m->plan.in_buf), x, (size_t)nin * sizeof(float));
                memset(m->plan.step_seconds, 0, sizeof(double) * (size_t)m->plan.nsteps);
                double t0 = sn_now();
                if (sn_plan_run(&m->plan, pool, 1, 0, &st)) {
                    fprintf(stderr, "%s: %s\n", m->label, st.msg);
                    return 1;
                }
                double t = sn_now() - t0;
                if (round >= 0 && t < m->best) m->best = t;
            }
        }
    int K = nets[0].g.num_classes;
    int *p0 = malloc((size_t)batch * sizeof(int)), *p1 = malloc((size_t)batch * sizeof(int));
    argmax(sn_plan_f32(&nets[0].plan, nets[0].plan.out_buf), batch, K, p0);
    argmax(sn_plan_f32(&nets[1].plan, nets[1].plan.out_buf), batch, K, p1);
    int agree = 0;
    for (int64_t i = 0; i < batch; i++) agree += p0[i] == p1[i];
    printf("batch %lld, %d threads, vnni %s; best of %d batches each\n", (long long)batch,
           sn_pool_size(pool), sn_jit_vnni(jit) ? "yes" : "no", rounds * 5);
    for (int k = 0; k < 2; k++)
        printf("  %-11s %8.3f ms/batch  %8.1f images/s\n", nets[k].label, nets[k].best * 1e3,
               (double)batch / nets[k].best);
    printf("  SNN / ANN images/s: %.2fx; predictions agree on %d of %lld images\n",
           nets[0].best / nets[1].best, agree, (long long)batch);
    for (int k = 0; k < 2; k++) {
        const sn_plan *p = &nets[k].plan;
        printf("\n%s, last batch by kernel:\n", nets[k].label);
        for (int s = 0; s < p->nsteps; s++)
            printf("  %-40s %-34s %7.3f ms\n", p->steps[s].name, p->steps[s].kernel,
                   p->step_seconds[s] * 1e3);
    }
    for (int k = 0; k < 2; k++) {
        sn_plan_free(&nets[k].plan);
        sn_groups_free(&nets[k].gs);
        sn_weights_free(&nets[k].w);
        sn_graph_free(&nets[k].g);
        sn_spec_free(&nets[k].spec);
    }
    free(p0);
    free(p1);
    free(x);
    sn_pool_destroy(pool);
    sn_jit_destroy(jit);
    return 0;
}
