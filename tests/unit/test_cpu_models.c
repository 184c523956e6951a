/* Every model in models/: the CPU JIT backend (fused and unfused) gives the reference
 * interpreter's predictions. Seeded Kaiming-normal weights, inputs drawn like
 * normalized images, batch 3; the logits must agree to 1e-3 of their scale and the top-1
 * class must be the same wherever the reference's top two differ by more than that. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/session.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"

#define BATCH 3

/* Kaiming-normal weights keep activations at unit scale through the deep no-BN VGGs (with
 * PyTorch's default init their logits shrink to ~1e-6, too flat to rank classes) */
static const char *const sets[] = {"train.init=kaiming_normal"};

static int models_run;

static float *run_target(const char *path, sn_target target, int fusion, const float *x,
                         int64_t *nout, int *ncls) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_load(path, sets, 1, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return NULL;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = BATCH, .with_loss = 0};
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    float *out = NULL;
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_session_weights(&g, &spec, NULL, 3, &w, &st) ||
        sn_session_lower(&g, target, fusion, 0, &plan, &be, &st) || sn_plan_bind(&plan, &w, &st)) {
        CHECK_MSG(0, "%s [%s]: %s", path, sn_target_names[target], st.msg);
    } else {
        int64_t nx = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
        memcpy(sn_plan_f32(&plan, plan.in_buf), x, (size_t)nx * sizeof(float));
        if (sn_plan_run(&plan, NULL, 9, 0, &st) != SN_OK) {
            CHECK_MSG(0, "%s [%s]: %s", path, sn_target_names[target], st.msg);
        } else {
            *nout = sn_shape_numel(&plan.bufs[plan.out_buf].shape);
            *ncls = spec.num_classes;
            out = malloc((size_t)*nout * sizeof(float));
            memcpy(out, sn_plan_f32(&plan, plan.out_buf), (size_t)*nout * sizeof(float));
        }
    }
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return out;
}

static void compare_model(const char *path) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_load(path, sets, 1, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    int64_t nx = (int64_t)BATCH * spec.in_channels * spec.in_height * spec.in_width;
    /* inputs in [0, 1] for spiking models (Poisson encoders need them), else standardized */
    int unit = spec.snn.enabled;
    sn_spec_free(&spec);
    float *x = malloc((size_t)nx * sizeof(float));
    sn_rng r;
    sn_rng_seed(&r, 21);
    for (int64_t i = 0; i < nx; i++)
        x[i] = unit ? (float)sn_rng_uniform(&r) : (float)(sn_rng_uniform(&r) * 4.0 - 2.0);
    int64_t n_ref = 0, n_cpu = 0;
    int ncls = 0;
    float *ref = run_target(path, SN_TARGET_REF, 1, x, &n_ref, &ncls);
    for (int fusion = 1; fusion >= 0 && ref; fusion--) {
        float *cpu = run_target(path, SN_TARGET_CPU, fusion, x, &n_cpu, &ncls);
        if (!cpu) continue;
        CHECK_EQ_INT(n_cpu, n_ref);
        double scale = 0, maxd = 0;
        for (int64_t i = 0; i < n_ref; i++)
            if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        for (int64_t i = 0; i < n_ref; i++)
            if (fabs((double)cpu[i] - ref[i]) > maxd) maxd = fabs((double)cpu[i] - ref[i]);
        double tol = 1e-3 * scale;
        CHECK_MSG(maxd <= tol, "%s [fusion %s]: logits differ by %.3g (scale %.3g)", path,
                  fusion ? "on" : "off", maxd, scale);
        int same = 0, decided = 0;
        for (int b = 0; b < BATCH; b++) {
            const float *a = ref + (int64_t)b * ncls, *c = cpu + (int64_t)b * ncls;
            int ta = 0, tc = 0;
            for (int k = 1; k < ncls; k++) {
                if (a[k] > a[ta]) ta = k;
                if (c[k] > c[tc]) tc = k;
            }
            double second = -INFINITY;
            for (int k = 0; k < ncls; k++)
                if (k != ta && a[k] > second) second = a[k];
            if (a[ta] - second <= tol) continue; /* a near tie: either answer is right */
            decided++;
            same += ta == tc;
            CHECK_MSG(ta == tc, "%s [fusion %s] image %d: cpu predicts %d, ref %d", path,
                      fusion ? "on" : "off", b, tc, ta);
        }
        fprintf(stderr, "  %-28s fusion %-3s max |cpu - ref| %.2g (scale %.2g), %d/%d same top-1\n",
                strrchr(path, '/') + 1, fusion ? "on" : "off", maxd, scale, same, decided);
        free(cpu);
    }
    models_run++;
    free(ref);
    free(x);
}

static void test_all_models(void) {
    char *paths[64];
    int n = sn_test_models(paths, 64);
    for (int i = 0; i < n; i++) {
        const char *name = sn_test_basename(paths[i]);
        /* quick mode (sanitizers): one VGG, the narrow one */
        if (!sn_test_quick() || strncmp(name, "vgg", 3) != 0 ||
            strcmp(name, "vgg16_narrow_cifar10.yaml") == 0)
            compare_model(paths[i]);
        free(paths[i]);
    }
    CHECK_MSG(models_run >= (sn_test_quick() ? 4 : 10), "only %d models found in models/",
              models_run);
}

int main(void) {
#ifdef SNNC_HAVE_LLVM
    RUN(test_all_models);
#else
    fprintf(stderr, "built without LLVM: nothing to compare\n");
#endif
    return sn_test_result();
}
