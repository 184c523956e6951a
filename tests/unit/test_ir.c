/* IR tests: every model in models/ builds, verifies, and matches the equivalent PyTorch
 * module's state_dict (names, shapes, order), parameter count and MACs
 * (tests/golden/state_dicts.json, made by tests/golden/make_torch_golden.py); shape
 * errors name the layer and its YAML position; printer and dot output. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/ir/build.h"
#include "runtime/core/json.h"
#include "runtime/core/util.h"

static const char *models[] = {"vgg11_cifar10",     "vgg13_cifar10",        "vgg16_cifar10",
                               "vgg19_cifar10",     "vgg16_narrow_cifar10", "vgg16_bn_cifar10",
                               "quant_vgg_cifar10", "quant_lenet_mnist",    "lif_fc_mnist"};

static sn_json golden;

static int build_model(const char *name, const char *const *sets, int nsets, sn_model_spec *spec,
                       sn_graph *g) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.yaml", SNNC_SOURCE_DIR, name);
    sn_status st;
    sn_status_init(&st);
    if (sn_spec_load(path, sets, nsets, spec, &st) != SN_OK) {
        fprintf(stderr, "%s\n", st.msg);
        return 0;
    }
    sn_build_opts o = {.batch = 1, .with_loss = 0};
    if (sn_graph_build(spec, &o, g, &st) != SN_OK || sn_graph_verify(g, &st) != SN_OK) {
        fprintf(stderr, "%s\n", st.msg);
        sn_spec_free(spec);
        return 0;
    }
    return 1;
}

static void test_models_match_pytorch(void) {
    for (size_t m = 0; m < SN_ARRAY_LEN(models); m++) {
        const char *name = models[m];
        /* The golden lif_fc_mnist module runs T = 4 steps. */
        const char *sets[] = {"snn.T=4"};
        int spiking = strcmp(name, "lif_fc_mnist") == 0;
        sn_model_spec spec;
        sn_graph g;
        CHECK_MSG(build_model(name, sets, spiking ? 1 : 0, &spec, &g), "%s builds", name);
        if (sn_test_failures) continue;
        const sn_json *gm = sn_json_get(&golden, name);
        CHECK_MSG(gm != NULL, "%s in state_dicts.json", name);
        if (!gm) continue;
        CHECK_EQ_INT(sn_graph_param_count(&g), sn_json_get(gm, "params")->integer);
        int64_t macs = 0;
        for (int i = 0; i < g.nnodes; i++) macs += sn_node_macs(&g, i);
        CHECK_EQ_INT(macs, sn_json_get(gm, "macs")->integer);
        sn_param_desc *d = NULL;
        int n = sn_graph_param_descs(&g, &d);
        const sn_json *sd = sn_json_get(gm, "state_dict");
        CHECK_MSG(n == sd->count, "%s: %d tensors, PyTorch state_dict has %d", name, n, sd->count);
        for (int i = 0; i < n && i < sd->count; i++) {
            const sn_json *e = &sd->items[i];
            CHECK_MSG(strcmp(d[i].name, e->items[0].string) == 0, "%s: tensor %d is %s, PyTorch %s",
                      name, i, d[i].name, e->items[0].string);
            const sn_json *shape = &e->items[1];
            int same = shape->count == d[i].shape.rank;
            for (int k = 0; same && k < shape->count; k++)
                same = shape->items[k].integer == d[i].shape.d[k];
            CHECK_MSG(same, "%s: shape of %s", name, d[i].name);
        }
        free(d);
        sn_graph_free(&g);
        sn_spec_free(&spec);
    }
}

static sn_code build_text(const char *yaml, sn_graph *g, sn_status *st) {
    sn_model_spec spec;
    if (sn_spec_parse("test.yaml", yaml, strlen(yaml), NULL, 0, &spec, st) != SN_OK)
        return st->code;
    sn_build_opts o = {.batch = 2, .with_loss = 1};
    sn_code c = sn_graph_build(&spec, &o, g, st);
    if (c == SN_OK) c = sn_graph_verify(g, st);
    sn_spec_free(&spec);
    return c;
}

static void test_shape_errors_name_the_layer(void) {
    sn_status st;
    sn_graph g;
    sn_status_init(&st);
    const char *too_big = "name: t\n"
                          "input: {channels: 1, height: 4, width: 4}\n"
                          "num_classes: 2\n"
                          "network:\n"
                          "  - features:\n"
                          "      - conv2d: {out_channels: 4, kernel_size: 3}\n"
                          "      - conv2d: {out_channels: 4, kernel_size: 3}\n"
                          "      - flatten\n"
                          "      - linear: {out_features: 2}\n";
    CHECK_EQ_INT(build_text(too_big, &g, &st), SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "test.yaml:7:");
    CHECK_CONTAINS(st.msg, "features.1");
    CHECK_CONTAINS(st.msg, "larger than its input 2x2");

    sn_status_init(&st);
    const char *no_fit = "name: t\n"
                         "input: {channels: 3, height: 64, width: 64}\n"
                         "num_classes: 10\n"
                         "vgg:\n"
                         "  cfg: [8, M, 16, M]\n"
                         "  classifier: {hidden: [32]}\n";
    CHECK_EQ_INT(build_text(no_fit, &g, &st), SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "classifier.0");
    CHECK_CONTAINS(st.msg, "does not fit");

    sn_status_init(&st);
    const char *bad_out = "name: t\n"
                          "input: {channels: 1, height: 4, width: 4}\n"
                          "num_classes: 3\n"
                          "network:\n"
                          "  - layer:\n"
                          "      - flatten\n"
                          "      - linear: {out_features: 5}\n";
    CHECK_EQ_INT(build_text(bad_out, &g, &st), SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "num_classes is 3");

    sn_status_init(&st);
    const char *flat_conv = "name: t\n"
                            "input: {channels: 1, height: 4, width: 4}\n"
                            "num_classes: 3\n"
                            "network:\n"
                            "  - layer:\n"
                            "      - flatten\n"
                            "      - conv2d: {out_channels: 2, kernel_size: 1}\n";
    CHECK_EQ_INT(build_text(flat_conv, &g, &st), SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "layer.1");
}

/* Before/expected: the printed IR of a small graph. */
static void test_printer(void) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    const char *yaml = "name: small\n"
                       "input: {channels: 1, height: 4, width: 4}\n"
                       "num_classes: 2\n"
                       "quant: {k: 1, B: 2}\n"
                       "network:\n"
                       "  - f:\n"
                       "      - conv2d: {out_channels: 2, kernel_size: 3, padding: 1, bias: false, "
                       "weights: ternary}\n"
                       "      - batchnorm\n"
                       "      - relu\n"
                       "      - quant\n"
                       "      - maxpool: {kernel_size: 2}\n"
                       "  - c:\n"
                       "      - flatten\n"
                       "      - linear: {out_features: 2}\n";
    CHECK_EQ_INT(build_text(yaml, &g, &st), SN_OK);
    if (st.code) {
        fprintf(stderr, "%s\n", st.msg);
        return;
    }
    sn_strbuf o;
    sn_sb_init(&o);
    sn_graph_print(&g, &o);
    const char *expected =
        "graph small (batch=2, T=1)\n"
        "  %0 = input \"input\" : F32[2, 1, 4, 4]\n"
        "  %1 = param \"f.0.weight\" : F32[2, 1, 3, 3]\n"
        "  %4 = param \"f.1.weight\" : F32[2]\n"
        "  %5 = param \"f.1.bias\" : F32[2]\n"
        "  %6 = buffer \"f.1.running_mean\" : F32[2]\n"
        "  %7 = buffer \"f.1.running_var\" : F32[2]\n"
        "  %8 = buffer \"f.1.num_batches_tracked\" : I64[]\n"
        "  %14 = param \"c.1.weight\" : F32[2, 8]\n"
        "  %15 = param \"c.1.bias\" : F32[2]\n"
        "  %17 = label \"label\" : I32[2]\n"
        "  %2 = ternary(%1) {threshold=0.7*mean|w|} : F32[2, 1, 3, 3]  # f.0.ternary\n"
        "  %3 = conv2d(%0, %2) {kernel=3x3 stride=1x1 pad=1x1} : F32[2, 2, 4, 4]  # f.0\n"
        "  %9 = batchnorm(%3, %4, %5, %6, %7) {eps=1e-05 momentum=0.1} : F32[2, 2, 4, 4]  # f.1\n"
        "  %10 = relu(%9) : F32[2, 2, 4, 4]  # f.2\n"
        "  %11 = quant(%10) {k=1 B=2} : F32[2, 2, 4, 4]  # f.3\n"
        "  %12 = maxpool(%11) {kernel=2x2 stride=2x2 pad=0x0} : F32[2, 2, 2, 2]  # f.4\n"
        "  %13 = flatten(%12) : F32[2, 8]  # c.0\n"
        "  %16 = linear(%13, %14, %15) {bias} : F32[2, 2]  # c.1\n"
        "  %18 = softmax_ce(%16, %17) : F32[]  # loss\n"
        "  return %16, loss %18\n";
    CHECK_MSG(strcmp(sn_sb_cstr(&o), expected) == 0, "printed IR:\n%s", sn_sb_cstr(&o));
    sn_sb_free(&o);
    sn_sb_init(&o);
    sn_graph_dot(&g, &o);
    CHECK_CONTAINS(sn_sb_cstr(&o), "digraph snnc {");
    CHECK_CONTAINS(sn_sb_cstr(&o), "n2 -> n3;");
    sn_sb_free(&o);
    sn_graph_free(&g);
}

static void test_verify_catches_broken_graphs(void) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    const char *yaml = "name: v\ninput: {channels: 1, height: 2, width: 2}\nnum_classes: 4\n"
                       "network:\n  - l: [flatten, relu]\n";
    CHECK_EQ_INT(build_text(yaml, &g, &st), SN_OK);
    if (st.code) return;
    /* An output shape that disagrees with inference. */
    g.tensors[g.nodes[1].out[0]].shape.d[1] = 5;
    sn_status_init(&st);
    CHECK_EQ_INT(sn_graph_verify(&g, &st), SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "inference says");
    g.tensors[g.nodes[1].out[0]].shape.d[1] = 4;
    /* A node reading a tensor produced later. */
    g.nodes[0].in[0] = g.nodes[1].out[0];
    sn_status_init(&st);
    CHECK_EQ_INT(sn_graph_verify(&g, &st), SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "not topological");
    sn_graph_free(&g);
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/golden/state_dicts.json", SNNC_TEST_DIR);
    unsigned char *buf;
    size_t n;
    sn_status st;
    sn_status_init(&st);
    if (sn_read_file(path, &buf, &n, &st) ||
        sn_json_parse(path, (const char *)buf, n, &golden, &st)) {
        fprintf(stderr, "%s\n", st.msg);
        return 1;
    }
    free(buf);
    RUN(test_models_match_pytorch);
    RUN(test_shape_errors_name_the_layer);
    RUN(test_printer);
    RUN(test_verify_catches_broken_graphs);
    sn_json_free(&golden);
    return sn_test_result();
}
