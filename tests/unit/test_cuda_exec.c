/* The CUDA executor's host side, on the CUDA emulator of tests/emu (no GPU needed: kernels
 * run on the CPU). What is checked:
 *   - a linear layer's output (a cuBLAS GEMM and its fused ReLU) equals the reference
 *     interpreter's, so inputs and weights reach the "device", GEMM operands and
 *     transposes are right, and outputs come back;
 *   - an intermediate tensor a caller keeps comes back too;
 *   - weights live on the device once per store, shared by plans bound to the same store;
 *     a training run makes the device copy newer (and equal to the reference's step),
 *     sn_plan_sync_weights copies it back exactly once, and weights changed on the host
 *     are uploaded at the next prepare;
 *   - every CUDA and cuBLAS failure names the call, the snnc file:line and the kernel or
 *     step; with $SNNC_CUDA_SYNC a fault is pinned to the kernel;
 *   - nothing is left allocated on the device once the plans are freed;
 *   - step-major spiking graphs are refused with a message.
 * Skips (77) without the emulator library ($SNNC_CUDA_EMU). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/session.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

static int (*emu_live)(void);
static long (*emu_gemms)(void);

static const char MLP[] = "name: mlp\n"
                          "input: {channels: 1, height: 4, width: 5}\n"
                          "num_classes: 10\n"
                          "network:\n"
                          "  - classifier:\n"
                          "      - flatten\n"
                          "      - linear: {out_features: 7, bias: false}\n"
                          "      - relu\n"
                          "      - linear: {out_features: 10, bias: false}\n"
                          "data: {dataset: mnist, path: .}\n"
                          "train: {optimizer: sgd, lr: 0.1, momentum: 0.9, batch_size: 3}\n";

#define BATCH 3

static int load_spec(sn_model_spec *spec) {
    sn_status st;
    sn_status_init(&st);
    memset(spec, 0, sizeof *spec);
    if (sn_spec_parse("mlp.yaml", MLP, sizeof MLP - 1, NULL, 0, spec, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        return -1;
    }
    return 0;
}

typedef struct net {
    sn_graph g;
    sn_plan plan;
    sn_backend be;
} net;

static sn_code make(net *n, const sn_model_spec *spec, sn_target target, int train, sn_status *st) {
    memset(n, 0, sizeof *n);
    sn_graph_init(&n->g);
    sn_plan_init(&n->plan);
    sn_build_opts bo = {.batch = BATCH, .with_loss = 0};
    if (train ? sn_train_graph(spec, BATCH, &n->g, st)
              : (sn_graph_build(spec, &bo, &n->g, st) || sn_graph_verify(&n->g, st)))
        return st->code;
    return sn_session_lower(&n->g, target, 1, 0, &n->plan, &n->be, st);
}

static void drop(net *n) {
    sn_plan_free(&n->plan);
    sn_backend_free(&n->be);
    sn_graph_free(&n->g);
}

static void fill_input(sn_plan *p) {
    sn_rng r;
    sn_rng_seed(&r, 5);
    float *x = sn_plan_f32(p, p->in_buf);
    int64_t nx = sn_shape_numel(&p->bufs[p->in_buf].shape);
    for (int64_t i = 0; i < nx; i++) x[i] = sn_rng_uniform(&r) - 0.5f;
}

/* The first linear layer's output: one GEMM. It comes back when kept, and
 * equals the reference interpreter's. */
static void test_linear_matches_reference(void) {
    sn_model_spec spec;
    if (load_spec(&spec)) return;
    sn_status st;
    sn_status_init(&st);
    net gpu, ref;
    sn_weights w;
    memset(&w, 0, sizeof w);
    if (make(&gpu, &spec, SN_TARGET_CUDA, 0, &st) || make(&ref, &spec, SN_TARGET_REF, 0, &st) ||
        sn_session_weights(&gpu.g, &spec, NULL, 3, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    CHECK(strcmp(gpu.plan.backend, "cuda") == 0);
    /* linear+relu is one group on the GPU, whose GEMM writes the relu's tensor (the relu
     * follows in place) */
    int kg = sn_plan_find_buffer(&gpu.plan, "classifier.2:out");
    int kr = sn_plan_find_buffer(&ref.plan, "classifier.2:out");
    CHECK_MSG(kg >= 0 && kr >= 0, "no buffer for the first linear layer (%d, %d)", kg, kr);
    if (kg < 0 || kr < 0) goto done;
    gpu.plan.bufs[kg].keep = 1;
    ref.plan.bufs[kr].keep = 1;
    sn_plan_memplan(&gpu.plan);
    sn_plan_memplan(&ref.plan);
    long g0 = emu_gemms();
    if (sn_plan_bind(&gpu.plan, &w, &st) || sn_plan_bind(&ref.plan, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    fill_input(&gpu.plan);
    fill_input(&ref.plan);
    if (sn_plan_run(&gpu.plan, NULL, 1, 0, &st) || sn_plan_run(&ref.plan, NULL, 1, 0, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    CHECK_MSG(emu_gemms() - g0 >= 2, "%ld GEMMs", emu_gemms() - g0);
    const float *a = sn_plan_f32(&gpu.plan, kg), *b = sn_plan_f32(&ref.plan, kr);
    int64_t n = sn_shape_numel(&gpu.plan.bufs[kg].shape);
    CHECK_EQ_INT(n, BATCH * 7);
    for (int64_t i = 0; i < n; i++) CHECK_CLOSE(a[i], b[i], 1e-6, 1e-5);
done:
    drop(&gpu);
    drop(&ref);
    sn_weights_free(&w);
    sn_spec_free(&spec);
    CHECK_EQ_INT(emu_live(), 0);
}

static int weights_equal(const sn_weights *w, const sn_weights *v) {
    for (int i = 0; i < w->n; i++)
        if (memcmp(w->data[i], v->data[i], (size_t)sn_shape_numel(&w->desc[i].shape) * 4) != 0)
            return 0;
    return 1;
}

static void scribble(sn_weights *w, float v) {
    for (int i = 0; i < w->n; i++) {
        float *d = w->data[i];
        for (int64_t j = 0; j < sn_shape_numel(&w->desc[i].shape); j++) d[j] = v;
    }
}

/* Device copies of weights: shared, made newer by training, synchronized back once. */
static void test_weights_on_device(void) {
    sn_model_spec spec;
    if (load_spec(&spec)) return;
    sn_status st;
    sn_status_init(&st);
    net tr, ev;
    sn_weights w, orig, slots[2];
    memset(&w, 0, sizeof w);
    memset(&orig, 0, sizeof orig);
    memset(slots, 0, sizeof slots);
    const char *names[2];
    int nslots = 0;
    memset(&ev, 0, sizeof ev);
    if (make(&tr, &spec, SN_TARGET_CUDA, 1, &st) ||
        sn_session_weights(&tr.g, &spec, NULL, 3, &w, &st) ||
        sn_session_weights(&tr.g, &spec, NULL, 3, &orig, &st) ||
        sn_optimizer_stores(&tr.g, &spec, slots, names, &nslots, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    CHECK_EQ_INT(nslots, 1); /* momentum */
    sn_weights *stores[2] = {&w, &slots[0]};
    int live0 = emu_live();
    if (sn_plan_bind_stores(&tr.plan, stores, 2, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    int live1 = emu_live();
    /* the evaluation plan shares the weights: only its activations are new */
    if (make(&ev, &spec, SN_TARGET_CUDA, 0, &st) || sn_plan_bind(&ev.plan, &w, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    CHECK_MSG(emu_live() - live1 == 1,
              "%d allocations for an evaluation plan whose weights are "
              "already on the device",
              emu_live() - live1);
    CHECK_MSG(live1 - live0 == w.n + slots[0].n + 1,
              "training plan: %d allocations (its weights and one arena)", live1 - live0);
    fill_input(&tr.plan);
    int32_t *y = tr.plan.bufs[tr.plan.label_buf].ptr;
    for (int i = 0; i < BATCH; i++) y[i] = i;
    tr.plan.lr = 0.1f;
    tr.plan.step = 1;
    if (sn_plan_prepare(&tr.plan, NULL, &st) || sn_plan_run(&tr.plan, NULL, 1, 1, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        goto done;
    }
    /* the device is newer: a sync brings its copy, the step the reference takes from the
     * same weights on the same batch */
    scribble(&w, 7.0f);
    if (sn_plan_sync_weights(&tr.plan, &st)) CHECK_MSG(0, "%s", st.msg);
    CHECK_MSG(!weights_equal(&w, &orig), "the training step left the weights as they were");
    {
        net rt;
        sn_weights rw, rslots[2];
        const char *rnames[2];
        int rn = 0;
        memset(&rw, 0, sizeof rw);
        memset(rslots, 0, sizeof rslots);
        if (make(&rt, &spec, SN_TARGET_REF, 1, &st) ||
            sn_session_weights(&rt.g, &spec, NULL, 3, &rw, &st) ||
            sn_optimizer_stores(&rt.g, &spec, rslots, rnames, &rn, &st)) {
            CHECK_MSG(0, "%s", st.msg);
        } else {
            sn_weights *rs[2] = {&rw, &rslots[0]};
            if (sn_plan_bind_stores(&rt.plan, rs, 2, &st)) CHECK_MSG(0, "%s", st.msg);
            fill_input(&rt.plan);
            int32_t *ry = rt.plan.bufs[rt.plan.label_buf].ptr;
            for (int i = 0; i < BATCH; i++) ry[i] = i;
            rt.plan.lr = 0.1f;
            rt.plan.step = 1;
            if (sn_plan_run(&rt.plan, NULL, 1, 1, &st)) CHECK_MSG(0, "%s", st.msg);
            for (int i = 0; i < w.n; i++) {
                const float *a = w.data[i], *b = rw.data[i];
                for (int64_t j = 0; j < sn_shape_numel(&w.desc[i].shape); j++)
                    CHECK_CLOSE(a[j], b[j], 1e-6, 1e-5);
            }
        }
        drop(&rt);
        sn_weights_free(&rw);
        for (int k = 0; k < 2; k++) sn_weights_free(&rslots[k]);
    }
    /* in sync now: a second sync copies nothing */
    scribble(&w, 7.0f);
    if (sn_plan_sync_weights(&tr.plan, &st)) CHECK_MSG(0, "%s", st.msg);
    CHECK(((float *)w.data[0])[0] == 7.0f);
    /* host changes reach the device at the next prepare; a training run makes them the
     * device's, and the evaluation plan's sync sees the same copies */
    if (sn_plan_prepare(&tr.plan, NULL, &st) || sn_plan_run(&tr.plan, NULL, 2, 1, &st))
        CHECK_MSG(0, "%s", st.msg);
    scribble(&w, -1.0f);
    if (sn_plan_sync_weights(&ev.plan, &st)) CHECK_MSG(0, "%s", st.msg);
    for (int i = 0; i < w.n; i++) { /* a step from 7.0 everywhere, not the host's -1 */
        const float *d = w.data[i];
        for (int64_t j = 0; j < sn_shape_numel(&w.desc[i].shape); j++)
            CHECK_MSG(fabsf(d[j] - 7.0f) < 1.0f, "%s[%lld] = %g after the sync", w.desc[i].name,
                      (long long)j, d[j]);
    }
    /* evaluation runs leave the device copy as it was */
    fill_input(&ev.plan);
    if (sn_plan_prepare(&ev.plan, NULL, &st) || sn_plan_run(&ev.plan, NULL, 1, 0, &st))
        CHECK_MSG(0, "%s", st.msg);
done:
    drop(&tr);
    drop(&ev);
    sn_weights_free(&w);
    sn_weights_free(&orig);
    for (int k = 0; k < 2; k++) sn_weights_free(&slots[k]);
    sn_spec_free(&spec);
    CHECK_EQ_INT(emu_live(), 0);
}

/* Failures name the call, the file:line and the kernel or step. */
static void expect_failure(const char *fail, const char *sync, const char *const *want, int nwant) {
    sn_model_spec spec;
    if (load_spec(&spec)) return;
    sn_status st;
    sn_status_init(&st);
    net n;
    sn_weights w;
    memset(&w, 0, sizeof w);
    if (sync) setenv("SNNC_CUDA_SYNC", sync, 1);
    setenv("SNNC_EMU_FAIL", fail, 1);
    sn_code c = make(&n, &spec, SN_TARGET_CUDA, 0, &st);
    if (!c) c = sn_session_weights(&n.g, &spec, NULL, 3, &w, &st);
    if (!c) c = sn_plan_bind(&n.plan, &w, &st);
    if (!c) {
        fill_input(&n.plan);
        c = sn_plan_run(&n.plan, NULL, 1, 0, &st);
    }
    unsetenv("SNNC_EMU_FAIL");
    unsetenv("SNNC_CUDA_SYNC");
    CHECK_MSG(c == SN_ERR_RUNTIME, "%s: expected a runtime error, got %d", fail, (int)c);
    for (int i = 0; i < nwant; i++) CHECK_CONTAINS(st.msg, want[i]);
    drop(&n);
    sn_weights_free(&w);
    sn_spec_free(&spec);
    CHECK_EQ_INT(emu_live(), 0);
}

static void test_failures_are_reported(void) {
    const char *launch[] = {"CUDA call cuLaunchKernel(", "CUDA_ERROR_LAUNCH_FAILED",
                            "compiler/backends/cuda/driver.c:", "kernel snk_"};
    expect_failure("cuLaunchKernel:1", NULL, launch, 4);
    const char *gemm[] = {"cuBLAS call cublasSgemm(", "CUBLAS_STATUS_EXECUTION_FAILED",
                          "compiler/backends/cuda/driver.c:", "step classifier."};
    expect_failure("cublasSgemm_v2:1", NULL, gemm, 4);
    const char *alloc[] = {"cuMemAlloc(", "CUDA_ERROR_OUT_OF_MEMORY", "GPU memory for mlp"};
    expect_failure("cuMemAlloc_v2:3", NULL, alloc, 3); /* two weights, then the arena */
    const char *walloc[] = {"cuMemAlloc(", "CUDA_ERROR_OUT_OF_MEMORY",
                            "while copying weight classifier.1.weight to the GPU"};
    expect_failure("cuMemAlloc_v2:1", NULL, walloc, 3);
    const char *load[] = {"cuModuleLoadData(", "CUDA_ERROR_INVALID_IMAGE", "kernel snk_"};
    expect_failure("cuModuleLoadData:1", NULL, load, 3);
    /* an asynchronous fault, pinned to its kernel by SNNC_CUDA_SYNC */
    const char *async[] = {"cuCtxSynchronize()", "CUDA_ERROR_LAUNCH_FAILED", "in kernel snk_"};
    expect_failure("cuCtxSynchronize:1", "1", async, 3);
}

static void test_step_major_refused(void) {
    static const char snn[] = "name: lifnet\ninput: {channels: 1, height: 4, width: 4}\n"
                              "num_classes: 3\nsnn: {T: 4, encoder: direct}\n"
                              "network:\n  - layer:\n      - flatten\n"
                              "      - linear: {out_features: 3}\n      - lif\n";
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_build_opts bo = {.batch = 2, .schedule = 2};
    if (sn_spec_parse("lifnet.yaml", snn, sizeof snn - 1, NULL, 0, &spec, &st) ||
        sn_graph_build(&spec, &bo, &g, &st)) {
        CHECK_MSG(0, "%s", st.msg);
    } else {
        CHECK(g.step_major);
        CHECK(sn_session_lower(&g, SN_TARGET_CUDA, 1, 0, &plan, &be, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, "layer-major");
    }
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    sn_spec_free(&spec);
}

int main(void) {
    const char *emu = getenv("SNNC_CUDA_EMU");
    if (!emu || !*emu) {
        printf("SKIP: no CUDA emulator library ($SNNC_CUDA_EMU)\n");
        return 77;
    }
    void *h = dlopen(emu, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("SKIP: %s\n", dlerror());
        return 77;
    }
    *(void **)&emu_live = dlsym(h, "emu_cuda_live");
    *(void **)&emu_gemms = dlsym(h, "emu_cuda_gemms");
    if (!emu_live || !emu_gemms) {
        printf("SKIP: %s is not the CUDA emulator\n", emu);
        return 77;
    }
    setenv("SNNC_LIBCUDA", emu, 1);
    setenv("SNNC_CUBLAS", emu, 1);
    setenv("SNNC_NVRTC", emu, 1);
    RUN(test_linear_matches_reference);
    RUN(test_weights_on_device);
    RUN(test_failures_are_reported);
    RUN(test_step_major_refused);
    return sn_test_result();
}
