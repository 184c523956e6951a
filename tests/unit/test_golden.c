/* End-to-end golden tests against PyTorch: the YAML model, built into IR and run by the
 * reference backend with weights written by PyTorch (state_dict names and layouts
 * unchanged), must reproduce the module's outputs (tests/golden/make_torch_golden.py). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/ref/ref_backend.h"
#include "compiler/ir/build.h"
#include "runtime/core/util.h"

typedef struct golden_case {
    const char *name;
    const char *yaml; /* relative to the source root */
    const char *sets[4];
    int nsets;
    int64_t batch;
} golden_case;

static const golden_case cases[] = {
    {"tiny_vgg", "tests/golden/tiny_vgg.yaml", {0}, 0, 4},
    {"quant_lenet_mnist", "models/quant_lenet_mnist.yaml", {0}, 0, 8},
    {"lif_fc_mnist", "models/lif_fc_mnist.yaml", {"snn.encoder=direct", "snn.T=4"}, 2, 8},
};

static float *read_floats(const char *path, size_t expect) {
    unsigned char *buf;
    size_t n;
    sn_status st;
    sn_status_init(&st);
    if (sn_read_file(path, &buf, &n, &st) != SN_OK) {
        fprintf(stderr, "%s\n", st.msg);
        return NULL;
    }
    if (n != expect * sizeof(float)) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, n, expect * sizeof(float));
        free(buf);
        return NULL;
    }
    return (float *)buf;
}

static void run_case(const golden_case *c) {
    char path[1024];
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    snprintf(path, sizeof path, "%s/%s", SNNC_SOURCE_DIR, c->yaml);
    if (sn_spec_load(path, c->sets, c->nsets, &spec, &st) != SN_OK) {
        CHECK_MSG(0, "%s: %s", c->name, st.msg);
        return;
    }
    sn_graph g;
    sn_build_opts o = {.batch = c->batch, .with_loss = 0};
    CHECK_EQ_INT(sn_graph_build(&spec, &o, &g, &st), SN_OK);
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_param_desc *d = NULL;
    int nd = sn_graph_param_descs(&g, &d);
    CHECK_EQ_INT(sn_weights_create(&w, d, nd, &st), SN_OK);
    free(d);
    snprintf(path, sizeof path, "%s/golden/%s.safetensors", SNNC_TEST_DIR, c->name);
    CHECK_MSG(sn_weights_load(&w, path, &st) == SN_OK, "%s: %s", c->name, st.msg);
    sn_plan plan;
    CHECK_EQ_INT(sn_lower_ref(&g, &plan, &st), SN_OK);
    CHECK_EQ_INT(sn_plan_bind(&plan, &w, &st), SN_OK);
    int64_t nin = sn_shape_numel(&g.tensors[g.input].shape);
    int64_t nout = sn_shape_numel(&g.tensors[g.output].shape);
    snprintf(path, sizeof path, "%s/golden/%s.input.bin", SNNC_TEST_DIR, c->name);
    float *x = read_floats(path, (size_t)nin);
    snprintf(path, sizeof path, "%s/golden/%s.logits.bin", SNNC_TEST_DIR, c->name);
    float *y = read_floats(path, (size_t)nout);
    CHECK(x && y);
    if (x && y && st.code == SN_OK) {
        memcpy(sn_plan_f32(&plan, plan.in_buf), x, (size_t)nin * sizeof(float));
        CHECK_EQ_INT(sn_plan_run(&plan, NULL, 0, 0, &st), SN_OK);
        const float *got = sn_plan_f32(&plan, plan.out_buf);
        double maxdiff = 0;
        for (int64_t i = 0; i < nout; i++) {
            double diff = fabs((double)got[i] - (double)y[i]);
            if (diff > maxdiff) maxdiff = diff;
            CHECK_CLOSE(got[i], y[i], 1e-5, 1e-4);
        }
        fprintf(stderr, "  %s: %lld outputs, max |snnc - pytorch| = %.3g\n", c->name,
                (long long)nout, maxdiff);
    }
    free(x);
    free(y);
    sn_plan_free(&plan);
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
}

static void test_tiny_vgg(void) {
    run_case(&cases[0]);
}
static void test_quant_lenet(void) {
    run_case(&cases[1]);
}
static void test_lif_fc(void) {
    run_case(&cases[2]);
}

int main(void) {
    RUN(test_tiny_vgg);
    RUN(test_quant_lenet);
    RUN(test_lif_fc);
    return sn_test_result();
}
