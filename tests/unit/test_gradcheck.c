/* Finite-difference check of whole-model gradients, on the reference interpreter and on the
 * CPU JIT backend (fused and unfused): for every parameter tensor, the gradient autodiff
 * computes (read from the training plan after one step with learning rate 0, so the
 * weights stay put) must match central differences of the loss,
 *     FD_i = (L(w + h e_i) - L(w - h e_i)) / 2h,   h = 1e-3,
 * at the two elements with the largest gradient and two random ones, to 5% of the element's
 * gradient + 1% of the tensor's largest + 6 ulps of the loss divided by the step.
 * One element at a time moves each unit's input by about h |x|, so few ReLU / max-pool
 * decisions flip (perturbing a whole tensor at once flips many and breaks the quotient). A
 * wrong gradient (a transposed or flipped kernel, a missing term, a wrong scale) misses its
 * largest elements by about their size.
 *
 * The models cover every op that has a derivative: convolution (padded, strided, 1x1,
 * Winograd-sized 3x3), linear, max and average pooling (padded), ReLU, batch norm in
 * training mode, dropout (the mask is a function of the run's seed, fixed here), flatten,
 * cross-entropy with and without label smoothing, and MSE. Quantizers and ternary weights
 * use straight-through estimators, which are not derivatives of their forward and are
 * checked against the spec's definition in test_ref_ops and by CPU-vs-reference
 * conformance instead; so is the spiking neuron's surrogate gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/driver/trainer.h"
#include "runtime/core/rng.h"

#ifndef FD_STEP
#define FD_STEP 1e-3 /* the finite-difference step */
#endif

typedef struct gc_case {
    const char *name;
    int batch;
    const char *yaml;
} gc_case;

#define HEAD(c, h, w, k)                                                                           \
    "input: {channels: " #c ", height: " #h ", width: " #w "}\nnum_classes: " #k "\n"

static const gc_case cases[] = {
    {"conv_bn_relu_maxpool_linear_ce", 3,
     "train: {optimizer: sgd, lr: 0.1, momentum: 0.9}\n" HEAD(
         3, 8, 8, 5) "network:\n  - f:\n    - conv2d: {out_channels: 20, kernel_size: 3, padding: "
                     "1, bias: false}\n    - batchnorm\n    - relu\n    - maxpool: {kernel_size: "
                     "2}\n  - c:\n    - flatten\n    - linear: {out_features: 5}\n"},
    {"wino_convs_avgpool_dropout_ce", 2,
     "train: {optimizer: adam, lr: 0.01}\n" HEAD(
         16, 6, 6, 4) "network:\n  - f:\n    - conv2d: {out_channels: 24, kernel_size: 3, padding: "
                      "1}\n    - relu\n    - conv2d: {out_channels: 32, kernel_size: 3, padding: "
                      "1}\n    - relu\n    - avgpool: {kernel_size: 2}\n  - c:\n    - flatten\n"
                      "    - linear: {out_features: 40}\n    - relu\n    - dropout: {p: 0.4}\n"
                      "    - linear: {out_features: 4}\n"},
    {"strided_conv_smoothing", 3,
     "train: {optimizer: sgd, lr: 0.02, label_smoothing: 0.2}\n" HEAD(
         5, 7, 7, 3) "network:\n  - f:\n    - conv2d: {out_channels: 17, kernel_size: 3, stride: "
                     "2, padding: 1}\n    - relu\n  - c:\n    - flatten\n    - linear: "
                     "{out_features: 3}\n"},
    {"k5_pad2_bn_avgpool_padded_1x1_mse", 2,
     "train: {optimizer: sgd, lr: 0.02, loss: mse}\n" HEAD(
         2, 9, 9, 6) "network:\n  - f:\n    - conv2d: {out_channels: 6, kernel_size: 5, padding: "
                     "2}\n    - batchnorm\n    - relu\n    - avgpool: {kernel_size: 3, stride: 2, "
                     "padding: 1}\n    - conv2d: {out_channels: 5, kernel_size: 1}\n    - relu\n"
                     "    - maxpool: {kernel_size: 3, stride: 2, padding: 1}\n  - c:\n    - "
                     "flatten\n    - linear: {out_features: 11}\n    - batchnorm\n    - relu\n"
                     "    - linear: {out_features: 6, bias: false}\n"},
};

static int checks;

static double loss_of(sn_trainer *t, sn_status *st) {
    sn_plan *p = &t->tp;
    if (sn_plan_prepare(p, t->pool, st) || sn_plan_run(p, t->pool, 77, 1, st)) return NAN;
    return (double)*(const float *)p->bufs[p->loss_buf].ptr;
}

/* A gradient tensor's values in plain (row-major) order, or NULL if the plan lacks it. */
static float *grad_values(const sn_plan *p, const sn_tensor *t) {
    int b = sn_plan_find_buffer(p, t->name);
    if (b < 0) return NULL;
    if (strcmp(p->bufs[b].layout, "plain") != 0 && t->lead != 0) return NULL;
    int64_t n = sn_shape_numel(&t->shape);
    float *v = malloc((size_t)n * sizeof(float));
    if (v) memcpy(v, p->bufs[b].ptr, (size_t)n * sizeof(float));
    return v;
}

static void run_case(const gc_case *c, sn_target target, int fusion) {
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "name: %s\n%s", c->name, c->yaml);
    const char *where = target == SN_TARGET_REF ? "ref" : fusion ? "cpu fused" : "cpu unfused";
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    if (sn_spec_parse(c->name, yaml, strlen(yaml), NULL, 0, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        return;
    }
    sn_trainer_opts o = {target, fusion, c->batch, 1, 1, NULL, 11, NULL, 0};
    sn_trainer t;
    if (sn_trainer_create(&t, &spec, &o, &st) != SN_OK) {
        CHECK_MSG(0, "%s [%s]: %s", c->name, where, st.msg);
        sn_trainer_free(&t);
        sn_spec_free(&spec);
        return;
    }
    sn_plan *p = &t.tp;
    sn_plan_disable_reuse(p); /* gradients stay readable after the step */
    sn_weights *stores[3] = {&t.w, &t.slots[0], &t.slots[1]};
    CHECK_EQ_INT(sn_plan_bind_stores(p, stores, 1 + t.nslots, &st), SN_OK);
    p->lr = 0.0f; /* the step computes gradients and leaves the weights where they are */
    p->step = 1;
    sn_rng r;
    sn_rng_seed(&r, 5);
    float *x = sn_plan_f32(p, p->in_buf);
    int64_t nx = sn_shape_numel(&p->bufs[p->in_buf].shape);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)(sn_rng_uniform(&r) * 2.0 - 1.0);
    int32_t *y = p->bufs[p->label_buf].ptr;
    for (int i = 0; i < c->batch; i++) y[i] = (int32_t)((i * 5 + 1) % spec.num_classes);
    double L0 = loss_of(&t, &st);
    CHECK_MSG(isfinite(L0), "%s [%s]: loss %g (%s)", c->name, where, L0, st.msg);
    const sn_graph *g = &t.tg;
    int tensors_checked = 0, last_producer = -1;
    double worst = 0;
    for (int ni = 0; ni < g->nnodes; ni++) {
        const sn_node *n = &g->nodes[ni];
        if (strncmp(n->name, "update.", 7) != 0) continue;
        const sn_tensor *pt = &g->tensors[n->in[0]], *gt = &g->tensors[n->in[1]];
        /* the updates follow the order the backward pass completes the gradients */
        CHECK_MSG(gt->producer >= last_producer,
                  "%s [%s]: %s comes after the update of a gradient completed later", c->name,
                  where, n->name);
        last_producer = gt->producer;
        int wi = sn_weights_find(&t.w, pt->name);
        float *gv = grad_values(p, gt);
        CHECK_MSG(wi >= 0 && gv, "%s [%s]: no parameter or gradient buffer for %s", c->name, where,
                  pt->name);
        if (wi < 0 || !gv) {
            free(gv);
            continue;
        }
        float *w = sn_weights_f32(&t.w, wi);
        int64_t nw = sn_shape_numel(&pt->shape);
        /* the two elements with the largest gradient, and two drawn at random */
        int64_t pick[4] = {0, 0, 0, 0};
        double gmax = 0;
        for (int64_t i = 0; i < nw; i++)
            if (fabs(gv[i]) > gmax) {
                gmax = fabs(gv[i]);
                pick[1] = pick[0];
                pick[0] = i;
            } else if (fabs(gv[i]) > fabs(gv[pick[1]]) || pick[1] == pick[0]) {
                pick[1] = i;
            }
        pick[2] = (int64_t)sn_rng_below(&r, (uint64_t)nw);
        pick[3] = (int64_t)sn_rng_below(&r, (uint64_t)nw);
        for (int k = 0; k < 4; k++) {
            int64_t i = pick[k];
            float save = w[i];
            float wp = (float)(save + FD_STEP), wm = (float)(save - FD_STEP);
            w[i] = wp;
            double lp = loss_of(&t, &st);
            w[i] = wm;
            double lm = loss_of(&t, &st);
            w[i] = save;
            double step = (double)wp - (double)wm; /* the step actually taken, in float */
            double fd = (lp - lm) / step, ad = gv[i];
            /* the loss's float rounding, amplified by the difference quotient */
            float lf = (float)fabs(L0);
            double noise = 6 * ((double)nextafterf(lf, INFINITY) - (double)lf) / step;
            double err = fabs(fd - ad), tol = 0.05 * fabs(ad) + 0.01 * gmax + noise;
            if (err / tol > worst) worst = err / tol;
            CHECK_MSG(err <= tol,
                      "%s [%s] %s[%lld]: finite difference %.6g, autodiff %.6g (largest |g| "
                      "%.3g, loss %.7g -> %.7g / %.7g)",
                      c->name, where, pt->name, (long long)i, fd, ad, gmax, L0, lp, lm);
            checks++;
        }
        tensors_checked++;
        free(gv);
    }
    CHECK_MSG(tensors_checked >= 2, "%s [%s]: only %d parameter tensors checked", c->name, where,
              tensors_checked);
    fprintf(stderr, "  %-36s %-11s %2d parameter tensors, worst error %.2f of the tolerance\n",
            c->name, where, tensors_checked, worst);

    sn_trainer_free(&t);
    sn_spec_free(&spec);
}

static void test_gradients_ref(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], SN_TARGET_REF, 1);
}

static void test_gradients_cpu(void) {
#ifdef SNNC_HAVE_LLVM
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_case(&cases[i], SN_TARGET_CPU, 1);
        run_case(&cases[i], SN_TARGET_CPU, 0);
    }
#else
    fprintf(stderr, "  built without LLVM: CPU backend not checked\n");
#endif
}

int main(void) {
    RUN(test_gradients_ref);
    RUN(test_gradients_cpu);
    fprintf(stderr, "%d gradient elements checked against finite differences\n", checks);
    return sn_test_result();
}
