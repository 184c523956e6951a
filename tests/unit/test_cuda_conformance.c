/* Conformance harness for the CUDA backend, the counterpart of test_cpu_conformance: every
 * op and fused group of the CPU harness's cases (conf_cases.h), training steps (forward,
 * backward, optimizer) and the ops only spiking conversion makes, run by the CUDA backend and
 * by the reference interpreter on the same weights and inputs, comparing every tensor the
 * GPU plan materializes (each kept and copied back: the fused intermediates that exist), in
 * fp32, TF32 and BF16, each with fusion on and off (off: im2col + cuBLAS). At the end, every
 * template in codegen-templates/ must have been launched.
 *
 * It runs wherever a CUDA driver opens: on a GPU, or (as ctest runs it) on the emulator of
 * tests/emu, which executes the very kernels NVRTC would compile, with device memory
 * fenced by guard pages (SNNC_CUDA_SEPARATE gives every buffer its own allocation, so a
 * kernel reading or writing past any buffer fails with its name), and runs the inference
 * cases again with the threads of each block scheduled in reverse and at random.
 *
 * Tolerances are test_cuda_gpu's, per tensor, relative to the tensor's largest reference
 * value: fp32 1e-3, TF32 3e-2, BF16 1e-1 (of the GEMMs' operands' rounding, 2^-11 and 2^-8,
 * accumulated over the layers); "exact" cases (dyadic data, every sum exact) bit for bit in
 * every precision. Training: the loss within 1e-4 (fp32) or the precision's tolerance; every
 * activation and gradient as above (plus 1e-6 absolute, for gradients that are rounding
 * noise around zero), where in TF32 / BF16 up to 5% of a tensor's elements may differ more:
 * a spike, a max-pool argmax or a quantizer level that the rounded sum tips, and what
 * follows from it; and in fp32 every updated weight, statistic and optimizer slot within
 * 1e-4 of its scale (reduced precision changes the GEMMs only; the optimizer kernels are
 * checked in fp32).
 *
 * Arguments select cases by name (all when none); SNNC_TEST_QUICK (the sanitizer build)
 * runs fp32 only, on one schedule. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/cuda/driver.h"
#include "compiler/backends/cuda/exec.h"
#include "compiler/backends/cuda/templates.h"
#include "compiler/backends/ref/ref_backend.h"
#include "compiler/driver/session.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "conf_cases.h"
#include "conf_train_cases.h"
#include "runtime/core/util.h"

static const char *const precs[] = {"fp32", "tf32", "bf16"};
static const double tols[] = {1e-3, 3e-2, 1e-1};

static int nsel, quick;
static char **sel;
static int compared, runs;
static char used[64][40]; /* templates launched */
static int nused;

static int selected(const char *name) {
    if (nsel == 0) return 1;
    for (int i = 0; i < nsel; i++)
        if (strstr(name, sel[i])) return 1;
    return 0;
}

static void note_templates(const sn_plan *p) {
    const sn_cu_program *prog = sn_cuda_plan_program(p);
    if (!prog) return;
    for (int k = 0; k < prog->nkernels; k++) {
        int have = 0;
        for (int i = 0; i < nused && !have; i++) have = strcmp(used[i], prog->kernels[k].tmpl) == 0;
        if (!have && nused < 64) sn_strlcpy(used[nused++], prog->kernels[k].tmpl, sizeof used[0]);
    }
}

/* Compares got with want (n floats): bit for bit when exact, else within tol of the
 * reference's largest magnitude plus `floor` (for tensors that are rounding noise around
 * zero, such as the gradient of a bias that a batch norm follows). At most `outliers` of
 * the elements (a fraction) may be off: discrete decisions a reduced-precision sum can tip
 * (a spike, a max-pool's argmax, a quantizer level); never a NaN the reference lacks. */
static void compare(const char *what, const char *name, const float *got, const float *want,
                    int64_t n, int exact, double tol, double floor, double outliers) {
    double scale = 0, maxd = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    int64_t bad = 0, first = -1, nan = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        int both_nan = isnan(got[i]) && isnan(want[i]);
        int ok = exact ? memcmp(&got[i], &want[i], sizeof(float)) == 0 || both_nan
                       : d <= tol * scale + floor || both_nan;
        nan += isnan(got[i]) && !both_nan;
        if (!ok) {
            if (first < 0) first = i;
            bad++;
        }
        if (d > maxd) maxd = d;
    }
    /* (one element at least, when any may differ: small tensors such as bias gradients) */
    int64_t allowed = outliers > 0 ? (int64_t)(outliers * (double)n) + 1 : 0;
    CHECK_MSG(nan == 0 && bad <= allowed,
              "%s tensor %s: %lld of %lld differ (max %.3g, scale %.3g; first at %lld: %g vs "
              "%g)",
              what, name, (long long)bad, (long long)n, maxd, scale, (long long)first,
              first >= 0 ? got[first] : 0.0, first >= 0 ? want[first] : 0.0);
    compared++;
}

/* Every tensor a GPU plan keeps (its host buffers: inputs, outputs and activations) against
 * the reference plan's buffer of the same name. */
static void compare_plans(const char *what, const sn_plan *ref, const sn_plan *gpu, int exact,
                          double tol, double floor, double outliers) {
    for (int b = 0; b < gpu->nbufs; b++) {
        const sn_buffer *gb = &gpu->bufs[b];
        if (gb->kind != SN_BUF_ARENA || gb->dtype != SN_F32 || b == gpu->in_buf) continue;
        int rb = sn_plan_find_buffer(ref, gb->name);
        if (rb < 0) continue;
        compare(what, gb->name, gb->ptr, ref->bufs[rb].ptr, sn_shape_numel(&gb->shape), exact, tol,
                floor, outliers);
    }
}

/* A GPU plan of g with every tensor kept and copied back after each run. */
static sn_code gpu_plan(const sn_graph *g, int fusion, int prec, sn_plan *plan, sn_groups *gs,
                        sn_status *st) {
    memset(gs, 0, sizeof *gs);
    if (sn_fuse(g, fusion, gs, st) || sn_cuda_plan(g, gs, (sn_cu_precision)prec, plan, NULL, st))
        return st->code;
    for (int b = 0; b < plan->nbufs; b++) plan->bufs[b].keep = 1;
    sn_plan_memplan(plan);
    return SN_OK;
}

/* A graph, its weights, and its reference and GPU plans (the inference and spiking runs). */
typedef struct plan_pair {
    sn_graph g;
    sn_weights w;
    sn_param_desc *d;
    sn_plan ref, gpu;
    sn_groups gs;
} plan_pair;

static void pair_init(plan_pair *pp) {
    memset(pp, 0, sizeof *pp);
    sn_graph_init(&pp->g);
    sn_plan_init(&pp->ref);
    sn_plan_init(&pp->gpu);
}

/* Weights for pp->g (filled by the caller after), then both plans. */
static sn_code pair_weights(plan_pair *pp, sn_status *st) {
    int nd = sn_graph_param_descs(&pp->g, &pp->d);
    return sn_weights_create(&pp->w, pp->d, nd, st);
}

static sn_code pair_plans(plan_pair *pp, int fusion, int prec, sn_status *st) {
    if (sn_lower_ref(&pp->g, &pp->ref, st)) return st->code;
    sn_plan_disable_reuse(&pp->ref);
    if (sn_plan_bind(&pp->ref, &pp->w, st) ||
        gpu_plan(&pp->g, fusion, prec, &pp->gpu, &pp->gs, st) || sn_plan_bind(&pp->gpu, &pp->w, st))
        return st->code;
    note_templates(&pp->gpu);
    return SN_OK;
}

/* Runs both plans on the same input (already in the reference's input buffer). */
static sn_code pair_run(plan_pair *pp, uint64_t seed, sn_status *st) {
    int64_t nin = sn_shape_numel(&pp->g.tensors[pp->g.input].shape);
    memcpy(sn_plan_f32(&pp->gpu, pp->gpu.in_buf), sn_plan_f32(&pp->ref, pp->ref.in_buf),
           (size_t)nin * sizeof(float));
    if (sn_plan_run(&pp->ref, NULL, seed, 0, st) || sn_plan_run(&pp->gpu, NULL, seed, 0, st))
        return st->code;
    return SN_OK;
}

static void pair_free(plan_pair *pp) {
    free(pp->d);
    sn_plan_free(&pp->gpu);
    sn_plan_free(&pp->ref);
    sn_groups_free(&pp->gs);
    sn_weights_free(&pp->w);
    sn_graph_free(&pp->g);
}

/* ---- inference: the CPU harness's cases ---- */

/* The CUDA backend refuses the continuous-time neurons of imported NIR graphs (nir_*
 * layers: CPU and reference only), naming the layer; their cases are the CPU's alone. */
static int cuda_lowers(const conf_case *c) {
    return strstr(c->yaml, "nir_") == NULL;
}

static void run_infer(const conf_case *c, int prec, int fusion, const char *sched) {
    char yaml[4096], what[256];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    snprintf(what, sizeof what, "%s [%s, fusion %s, %s]", c->name, precs[prec],
             fusion ? "on" : "off", sched);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    plan_pair pp;
    pair_init(&pp);
    sn_build_opts bo = {.batch = c->batch, .with_loss = c->with_loss};
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st)) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        return;
    }
    if (sn_graph_build(&spec, &bo, &pp.g, &st) || pair_weights(&pp, &st)) goto fail;
    sn_rng r;
    sn_rng_seed(&r, 1234);
    randomize_weights(&pp.w, c->exact, &r);
    if (pair_plans(&pp, fusion, prec, &st)) goto fail;
    const sn_graph *g = &pp.g;
    int64_t nin = sn_shape_numel(&g->tensors[g->input].shape);
    int poisson = 0;
    for (int i = 0; i < g->nnodes; i++) poisson |= g->nodes[i].op == SN_OP_ENCODE_POISSON;
    fill(sn_plan_f32(&pp.ref, pp.ref.in_buf), nin, c->exact, poisson ? 0.0f : -2.0f,
         poisson ? 1.0f : 2.0f, 0.25f, &r);
    if (g->label >= 0)
        for (int64_t i = 0; i < g->batch; i++)
            ((int32_t *)pp.ref.bufs[pp.ref.label_buf].ptr)[i] =
                ((int32_t *)pp.gpu.bufs[pp.gpu.label_buf].ptr)[i] = (int32_t)(i % g->num_classes);
    if (pair_run(&pp, 77, &st)) goto fail;
    compare_plans(what, &pp.ref, &pp.gpu, c->exact, tols[prec], 0.0, 0.0);
    runs++;
    goto done;
fail:
    CHECK_MSG(0, "%s: %s", what, st.msg);
done:
    pair_free(&pp);
    sn_spec_free(&spec);
}

/* ---- training steps ---- */

static void run_train(const train_case *c, int prec, int fusion) {
    char yaml[4096], what[256];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    snprintf(what, sizeof what, "%s [%s, fusion %s]", c->name, precs[prec], fusion ? "on" : "off");
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st)) {
        CHECK_MSG(0, "%s: %s", what, st.msg);
        return;
    }
    sn_trainer tr, tg;
    memset(&tr, 0, sizeof tr);
    memset(&tg, 0, sizeof tg);
    sn_trainer_opts ro = {.target = SN_TARGET_REF,
                          .fusion = fusion,
                          .batch = c->batch,
                          .eval_batch = 1,
                          .threads = 1,
                          .seed = 5};
    sn_trainer_opts go = ro;
    go.target = SN_TARGET_CUDA;
    int made = 0;
    float *x = NULL;
    int32_t *y = NULL;
    /* the trainers take the precision the commands set: the reference's fp32, the GPU's
     * --precision */
    if (sn_session_use_precision(0, SN_TARGET_REF, &st) || sn_trainer_create(&tr, &spec, &ro, &st))
        goto fail;
    made = 1;
    if (sn_session_use_precision(prec, SN_TARGET_CUDA, &st) ||
        sn_trainer_create(&tg, &spec, &go, &st))
        goto fail;
    made = 2;
    note_templates(&tg.tp);
    sn_rng r;
    sn_rng_seed(&r, 99);
    randomize_weights(&tr.w, 0, &r);
    sn_weights_copy(&tg.w, &tr.w);
    /* every intermediate kept on both sides */
    for (int k = 0; k < 2; k++) {
        sn_trainer *t = k ? &tg : &tr;
        for (int b = 0; b < t->tp.nbufs; b++) t->tp.bufs[b].keep = 1;
        sn_plan_disable_reuse(&t->tp);
        sn_weights *stores[3] = {&t->w, &t->slots[0], &t->slots[1]};
        if (sn_plan_bind_stores(&t->tp, stores, 1 + t->nslots, &st)) goto fail;
    }
    int64_t nx = sn_shape_numel(&tr.tg.tensors[tr.tg.input].shape);
    x = malloc((size_t)nx * sizeof(float));
    y = malloc((size_t)c->batch * sizeof(int32_t));
    if (strstr(c->yaml, "poisson"))
        fill(x, nx, 0, 0.0f, 1.0f, 0.0625f, &r);
    else
        fill(x, nx, 0, -2.0f, 2.0f, 0.25f, &r);
    for (int64_t i = 0; i < nx; i++) x[i] += c->offset;
    for (int64_t i = 0; i < c->batch; i++) y[i] = (int32_t)(i * 7 % spec.num_classes);
    double lr, lg;
    int64_t k1, k2;
    if (sn_trainer_step(&tr, x, y, spec.train.lr, &lr, &k1, &st) ||
        sn_trainer_step(&tg, x, y, spec.train.lr, &lg, &k2, &st) ||
        sn_plan_sync_weights(&tg.tp, &st))
        goto fail;
    double ltol = prec == 0 ? 1e-4 : tols[prec];
    CHECK_MSG(fabs(lg - lr) <= ltol * fmax(1.0, fabs(lr)), "%s: loss %.9g, reference %.9g", what,
              lg, lr);
    /* fp32: every element; TF32 / BF16: spikes, argmaxes and quantizer levels a rounded
     * sum tips, and what follows from them, in at most 5% of a tensor's elements */
    compare_plans(what, &tr.tp, &tg.tp, 0, tols[prec], 1e-6, prec == 0 ? 0.0 : 0.05);
    if (prec == 0) {
        char w2[300];
        snprintf(w2, sizeof w2, "%s updated", what);
        for (int s = -1; s < tr.nslots; s++) {
            const sn_weights *a1 = s < 0 ? &tr.w : &tr.slots[s], *a2 = s < 0 ? &tg.w : &tg.slots[s];
            for (int i = 0; i < a1->n; i++) {
                if (a1->desc[i].dtype != SN_F32) {
                    CHECK_MSG(*(int64_t *)a1->data[i] == *(int64_t *)a2->data[i], "%s: %s", w2,
                              a1->desc[i].name);
                    continue;
                }
                compare(w2, a1->desc[i].name, a2->data[i], a1->data[i],
                        sn_shape_numel(&a1->desc[i].shape), 0, 1e-4, 1e-7, 0.0);
            }
        }
    }
    runs++;
    goto done;
fail:
    CHECK_MSG(0, "%s: %s", what, st.msg);
done:
    sn_session_use_precision(0, SN_TARGET_REF, &st);
    free(x);
    free(y);
    if (made > 1) sn_trainer_free(&tg);
    if (made > 0) sn_trainer_free(&tr);
    sn_spec_free(&spec);
}

/* ---- ops of converted spiking networks, built directly (as the converter does): threshold
 * units over a convolution of spike counts with whole-number weights, then spike deletion
 * (the noise experiment). Exact data: bit for bit in every precision. ---- */

static sn_code build_spiking(sn_graph *g, sn_status *st) {
    sn_graph_init(g);
    g->batch = 3;
    sn_shape xs = sn_shape4(3, 6, 5, 5), ws = sn_shape4(10, 6, 3, 3), ts = sn_shape2(10, 3);
    g->input = sn_graph_add_tensor(g, SN_T_INPUT, SN_F32, &xs, 1, "input", st);
    int in[2] = {g->input, sn_graph_add_tensor(g, SN_T_PARAM, SN_F32, &ws, 0, "f.0.weight", st)};
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.kh = a.kw = 3;
    a.sh = a.sw = 1;
    a.ph = a.pw = 1;
    a.spike_input = 4;
    a.int_weights = 1;
    int v = sn_graph_add_node(g, SN_OP_CONV2D, in, 2, &a, "f.0", -1, NULL, st);
    int tin[2] = {v, sn_graph_add_tensor(g, SN_T_BUFFER, SN_F32, &ts, 0, "f.1.theta", st)};
    if (tin[1] >= 0) g->tensors[tin[1]].role = SN_ROLE_THETA;
    memset(&a, 0, sizeof a);
    a.U = 3;
    int cnt = sn_graph_add_node(g, SN_OP_THRESHOLD, tin, 2, &a, "f.1", -1, NULL, st);
    memset(&a, 0, sizeof a);
    a.U = 3;
    a.p = 0.3f;
    a.stream = 0x1234;
    int kept = sn_graph_add_node(g, SN_OP_SPIKE_DROP, &cnt, 1, &a, "f.2", -1, NULL, st);
    memset(&a, 0, sizeof a);
    g->output = sn_graph_add_node(g, SN_OP_FLATTEN, &kept, 1, &a, "flat", -1, NULL, st);
    if (st->code) return st->code;
    g->num_classes = (int)g->tensors[g->output].shape.d[1];
    return sn_graph_verify(g, st);
}

static void run_spiking(int prec, int fusion) {
    char what[128];
    snprintf(what, sizeof what, "spike_conv_threshold_drop [%s, fusion %s]", precs[prec],
             fusion ? "on" : "off");
    sn_status st;
    sn_status_init(&st);
    plan_pair pp;
    pair_init(&pp);
    if (build_spiking(&pp.g, &st) || pair_weights(&pp, &st)) goto fail;
    sn_rng r;
    sn_rng_seed(&r, 4242);
    for (int i = 0; i < pp.w.n; i++) {
        float *p = pp.w.data[i];
        int64_t n = sn_shape_numel(&pp.w.desc[i].shape);
        if (pp.w.desc[i].role == SN_ROLE_THETA) {
            for (int64_t j = 0; j < n; j += 3)
                for (int u = 0; u < 3; u++)
                    p[j + u] = -8.0f + 0.125f * (float)sn_rng_below(&r, 64) + 6.0f * (float)u;
        } else {
            for (int64_t j = 0; j < n; j++) p[j] = (float)((int)sn_rng_below(&r, 3) - 1);
        }
    }
    if (pair_plans(&pp, fusion, prec, &st)) goto fail;
    int64_t nin = sn_shape_numel(&pp.g.tensors[pp.g.input].shape);
    float *x = sn_plan_f32(&pp.ref, pp.ref.in_buf);
    for (int64_t i = 0; i < nin; i++) x[i] = (float)sn_rng_below(&r, 5);
    if (pair_run(&pp, 11, &st)) goto fail;
    compare_plans(what, &pp.ref, &pp.gpu, 1, 0.0, 0.0, 0.0);
    runs++;
    goto done;
fail:
    CHECK_MSG(0, "%s: %s", what, st.msg);
done:
    pair_free(&pp);
}

/* ---- the runs ---- */

static void test_inference(void) {
    int nprec = quick ? 1 : 3;
    for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++) {
        if (!selected(cases[c].name) || !cuda_lowers(&cases[c])) continue;
        for (int prec = 0; prec < nprec; prec++)
            for (int f = 1; f >= 0; f--) run_infer(&cases[c], prec, f, "in order");
    }
    if (selected("spike_conv_threshold_drop"))
        for (int prec = 0; prec < nprec; prec++)
            for (int f = 1; f >= 0; f--) run_spiking(prec, f);
}

static void test_training(void) {
    int nprec = quick ? 1 : 3;
    for (size_t c = 0; c < SN_ARRAY_LEN(train_cases); c++) {
        if (!selected(train_cases[c].name)) continue;
        if (quick && strstr(train_cases[c].name, "T2000")) continue;
        for (int prec = 0; prec < nprec; prec++)
            for (int f = 1; f >= 0; f--) run_train(&train_cases[c], prec, f);
    }
}

/* Barriers and shared memory under other thread orders (the emulator's schedules; a GPU
 * ignores the variable): a kernel that misses a __syncthreads() gives different results. */
static void test_schedules(void) {
    if (quick) return;
    const char *scheds[] = {"reversed", "random:7"};
    for (int k = 0; k < 2; k++) {
        setenv("SNNC_EMU_SCHEDULE", scheds[k], 1);
        for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++)
            if (selected(cases[c].name) && cuda_lowers(&cases[c]))
                for (int prec = 0; prec < 2; prec++) run_infer(&cases[c], prec, 1, scheds[k]);
    }
    unsetenv("SNNC_EMU_SCHEDULE");
}

static void test_every_template_ran(void) {
    if (nsel || quick) return; /* only meaningful for the whole suite */
    for (const sn_cu_template *t = sn_cu_templates; t->name; t++) {
        size_t l = strlen(t->name);
        if (l < 3 || strcmp(t->name + l - 3, ".cu") != 0) continue; /* fragments: in kernels */
        int have = 0;
        for (int i = 0; i < nused && !have; i++) have = strcmp(used[i], t->name) == 0;
        CHECK_MSG(have, "template %s was never launched by the conformance cases", t->name);
    }
}

int main(int argc, char **argv) {
    nsel = argc - 1;
    sel = argv + 1;
    const char *q = getenv("SNNC_TEST_QUICK");
    quick = q && *q;
    sn_status st;
    sn_status_init(&st);
    sn_cuda_driver *d;
    if (sn_cuda_driver_open(0, &d, &st)) {
        printf("SKIP: no GPU or CUDA emulator: %s\n", st.msg);
        return 77;
    }
    printf("device: %s (sm_%d)\n", sn_cuda_driver_device(d), sn_cuda_driver_cc(d));
    sn_cuda_driver_close(d);
    RUN(test_inference);
    RUN(test_training);
    RUN(test_schedules);
    RUN(test_every_template_ran);
    fprintf(stderr, "  %d runs, %d tensors compared, %d templates launched\n", runs, compared,
            nused);
    return sn_test_result();
}
