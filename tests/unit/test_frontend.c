/* Frontend: YAML -> ModelSpec (VGG expansion, defaults, validation, overrides, printing). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/frontend/spec.h"
#include "compiler/frontend/yaml_dom.h"
#include "runtime/core/util.h"

#define MODELS_DIR SNNC_SOURCE_DIR "/models"

/* A small valid model; tests append sections to it. */
#define BASE                                                                                       \
    "name: t\n"                                                                                    \
    "input: {channels: 3, height: 32, width: 32}\n"                                                \
    "num_classes: 10\n"
#define BASE_VGG BASE "vgg: {cfg: [8, M]}\n"

static sn_code parse_sets(const char *yaml, const char *const *sets, int nsets, sn_model_spec *s,
                          sn_status *st) {
    sn_status_init(st);
    return sn_spec_parse("m.yaml", yaml, strlen(yaml), sets, nsets, s, st);
}

static sn_code parse(const char *yaml, sn_model_spec *s, sn_status *st) {
    return parse_sets(yaml, NULL, 0, s, st);
}

/* Expects SN_ERR_INPUT with a message holding `a` and (if non-NULL) `b`. */
static void expect_err_sets(const char *yaml, const char *const *sets, int nsets, const char *a,
                            const char *b, int line) {
    sn_model_spec s;
    sn_status st;
    sn_code rc = parse_sets(yaml, sets, nsets, &s, &st);
    CHECK_MSG(rc == SN_ERR_INPUT, "line %d: expected an input error, got %d (%s)", line, rc,
              st.msg);
    CHECK_MSG(strstr(st.msg, a) != NULL, "line %d: expected \"%s\" in: %s", line, a, st.msg);
    if (b) CHECK_MSG(strstr(st.msg, b) != NULL, "line %d: expected \"%s\" in: %s", line, b, st.msg);
    CHECK(s.layers == NULL && s.nlayers == 0);
    sn_spec_free(&s);
}
#define EXPECT_ERR(yaml, a, b) expect_err_sets(yaml, NULL, 0, a, b, __LINE__)
#define EXPECT_ERR_SET(yaml, set, a, b)                                                            \
    expect_err_sets(yaml, (const char *const[]){set}, 1, a, b, __LINE__)

/* Parameter count of the equivalent PyTorch module (weights, biases, BN gamma/beta), by
 * walking the layers with their shapes. Returns -1 on a shape the walk does not handle. */
static long long count_params(const sn_model_spec *s) {
    long long p = 0, C = s->in_channels, H = s->in_height, W = s->in_width;
    int flat = 0;
    for (int i = 0; i < s->nlayers; i++) {
        const sn_layer_spec *l = &s->layers[i];
        switch (l->kind) {
        case SN_LAYER_CONV2D:
            if (flat) return -1;
            p += C * l->out_channels * l->kernel_h * l->kernel_w + (l->bias ? l->out_channels : 0);
            C = l->out_channels;
            H = (H + 2 * l->pad_h - l->kernel_h) / l->stride_h + 1;
            W = (W + 2 * l->pad_w - l->kernel_w) / l->stride_w + 1;
            break;
        case SN_LAYER_MAXPOOL:
        case SN_LAYER_AVGPOOL:
            H = (H + 2 * l->pad_h - l->kernel_h) / l->stride_h + 1;
            W = (W + 2 * l->pad_w - l->kernel_w) / l->stride_w + 1;
            break;
        case SN_LAYER_BATCHNORM:
            p += 2 * C;
            break;
        case SN_LAYER_FLATTEN:
            C = C * H * W;
            H = W = 1;
            flat = 1;
            break;
        case SN_LAYER_LINEAR:
            if (!flat) return -1;
            if (l->in_features && l->in_features != C) return -1;
            p += C * l->out_features + (l->bias ? l->out_features : 0);
            C = l->out_features;
            break;
        default:
            break;
        }
        if (H < 1 || W < 1) return -1;
    }
    return C == s->num_classes ? p : -1;
}

/* "# Parameters: 15,106,240" in a model file's header. */
static long long header_params(const char *text) {
    const char *p = strstr(text, "# Parameters: ");
    if (!p) return -1;
    p += strlen("# Parameters: ");
    long long v = 0;
    int digits = 0;
    for (; (*p >= '0' && *p <= '9') || *p == ','; p++)
        if (*p != ',') v = v * 10 + (*p - '0'), digits++;
    return digits ? v : -1;
}

/* The YAML text without comments and comment-only lines. */
static char *strip_comments(const char *s) {
    char *out = malloc(strlen(s) + 1);
    if (!out) return NULL;
    size_t o = 0;
    while (*s) {
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        size_t keep = len;
        for (size_t i = 0; i < len; i++)
            if (s[i] == '#' && (i == 0 || s[i - 1] == ' ')) {
                keep = i;
                break;
            }
        while (keep > 0 && s[keep - 1] == ' ') keep--;
        if (keep > 0) {
            memcpy(out + o, s, keep);
            o += keep;
            out[o++] = '\n';
        }
        s += len + (eol ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

static void roundtrip(const sn_model_spec *s, const char *what) {
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_spec_print_yaml(s, &sb);
    CHECK(!sb.oom);
    sn_model_spec t;
    sn_status st;
    sn_status_init(&st);
    sn_code rc = sn_spec_parse("printed.yaml", sn_sb_cstr(&sb), sb.len, NULL, 0, &t, &st);
    CHECK_MSG(rc == SN_OK, "%s: printed spec does not parse: %s\n%s", what, st.msg,
              sn_sb_cstr(&sb));
    if (rc == SN_OK) {
        char why[256];
        CHECK_MSG(sn_spec_equal(s, &t, why, sizeof why), "%s: round trip differs: %s", what, why);
        /* printing is a fixed point (comments aside: they name the source and the VGG cfg) */
        sn_strbuf sb2;
        sn_sb_init(&sb2);
        sn_spec_print_yaml(&t, &sb2);
        char *a = strip_comments(sn_sb_cstr(&sb)), *b = strip_comments(sn_sb_cstr(&sb2));
        CHECK_MSG(a && b && strcmp(a, b) == 0, "%s: printing the reparsed spec differs", what);
        free(a);
        free(b);
        sn_sb_free(&sb2);
    }
    sn_spec_free(&t);
    sn_sb_free(&sb);
}

/* ---- models ---------------------------------------------------------------------------- */

static void test_models_parse_and_count(void) {
    DIR *d = opendir(MODELS_DIR);
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        char path[1024];
        sn_path_join(path, sizeof path, MODELS_DIR, e->d_name);
        sn_status st;
        sn_status_init(&st);
        unsigned char *text = NULL;
        size_t size = 0;
        CHECK(sn_read_file(path, &text, &size, &st) == SN_OK);
        sn_model_spec s;
        sn_code rc = sn_spec_load(path, NULL, 0, &s, &st);
        CHECK_MSG(rc == SN_OK, "%s: %s", e->d_name, st.msg);
        if (rc == SN_OK) {
            long long want = text ? header_params((const char *)text) : -1;
            long long got = count_params(&s);
            CHECK_MSG(want > 0, "%s: no '# Parameters: N' line in the header", e->d_name);
            CHECK_MSG(got == want, "%s: %lld parameters, header says %lld", e->d_name, got, want);
            CHECK_CONTAINS(s.source_path, e->d_name);
            roundtrip(&s, e->d_name);
            n++;
        }
        sn_spec_free(&s);
        free(text);
    }
    closedir(d);
    CHECK(n >= 9);
}

static const sn_layer_spec *find_layer(const sn_model_spec *s, const char *module, int index) {
    for (int i = 0; i < s->nlayers; i++)
        if (!strcmp(s->layers[i].module, module) && s->layers[i].index == index)
            return &s->layers[i];
    return NULL;
}

/* Seed 000's printed PyTorch module. */
static void test_vgg16_expansion_matches_seed000(void) {
    sn_model_spec s;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_spec_load(MODELS_DIR "/vgg16_cifar10.yaml", NULL, 0, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    CHECK_EQ_INT(s.from_vgg, 1);
    CHECK_EQ_INT(s.vgg_cfg_len, 18);
    CHECK_EQ_INT(s.vgg_cfg[2], 0);
    CHECK_EQ_INT(s.vgg_cfg[17], 0);
    /* features: 13 conv + 13 relu + 5 pool = 31 (indices 0..30) */
    static const int pools[] = {4, 9, 16, 23, 30};
    static const int convs[] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
    for (int i = 0; i < 5; i++) {
        const sn_layer_spec *l = find_layer(&s, "features", pools[i]);
        CHECK(l && l->kind == SN_LAYER_MAXPOOL && l->kernel_h == 2 && l->stride_h == 2 &&
              l->pad_h == 0);
    }
    for (int i = 0; i < 13; i++) {
        const sn_layer_spec *l = find_layer(&s, "features", convs[i]);
        CHECK(l && l->kind == SN_LAYER_CONV2D && l->kernel_h == 3 && l->kernel_w == 3 &&
              l->pad_h == 1 && l->stride_h == 1 && l->bias == 0);
        const sn_layer_spec *r = find_layer(&s, "features", convs[i] + 1);
        CHECK(r && r->kind == SN_LAYER_RELU);
    }
    CHECK(find_layer(&s, "features", 31) == NULL);
    CHECK_EQ_INT(find_layer(&s, "features", 28)->out_channels, 512);
    /* loc of an expanded layer = its cfg entry (line 10 of the file) */
    CHECK_EQ_INT(find_layer(&s, "features", 0)->loc.line, 10);
    /* flatten: no slot */
    const sn_layer_spec *fl = find_layer(&s, "classifier", -1);
    CHECK(fl && fl->kind == SN_LAYER_FLATTEN);
    static const sn_layer_kind cls[] = {SN_LAYER_LINEAR, SN_LAYER_RELU, SN_LAYER_DROPOUT,
                                        SN_LAYER_LINEAR, SN_LAYER_RELU, SN_LAYER_DROPOUT,
                                        SN_LAYER_LINEAR};
    static const int in_f[] = {512, 0, 0, 512, 0, 0, 256}, out_f[] = {512, 0, 0, 256, 0, 0, 10};
    for (int i = 0; i < 7; i++) {
        const sn_layer_spec *l = find_layer(&s, "classifier", i);
        CHECK(l && l->kind == cls[i]);
        if (l && l->kind == SN_LAYER_LINEAR) {
            CHECK_EQ_INT(l->in_features, in_f[i]);
            CHECK_EQ_INT(l->out_features, out_f[i]);
            CHECK_EQ_INT(l->bias, 0);
        }
        if (l && l->kind == SN_LAYER_DROPOUT) CHECK_CLOSE(l->dropout_p, 0.5, 0, 0);
    }
    CHECK(find_layer(&s, "classifier", 7) == NULL);
    CHECK_EQ_INT(s.nlayers, 31 + 1 + 7);
    /* the recipe */
    CHECK_EQ_INT(s.data.dataset, SN_DATA_CIFAR10);
    CHECK_EQ_INT(s.data.nmean, 3);
    CHECK_CLOSE(s.data.std[2], 0.2616, 1e-7, 0);
    CHECK_EQ_INT(s.data.augment.random_crop_padding, 4);
    CHECK_EQ_INT(s.data.augment.hflip, 1);
    CHECK_EQ_INT(s.train.optimizer, SN_OPT_SGD);
    CHECK_CLOSE(s.train.lr, 0.05, 1e-9, 0);
    CHECK_CLOSE(s.train.momentum, 0.9, 1e-7, 0);
    CHECK_CLOSE(s.train.weight_decay, 5e-4, 1e-10, 0);
    CHECK_EQ_INT(s.train.schedule, SN_SCHED_COSINE);
    CHECK_EQ_INT(s.train.epochs, 150);
    CHECK_EQ_INT(s.train.batch_size, 128);
    sn_spec_free(&s);
}

/* Seed 003's printed classifier: Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear. */
static void test_narrow_classifier_matches_seed003(void) {
    sn_model_spec s;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_spec_load(MODELS_DIR "/vgg16_narrow_cifar10.yaml", NULL, 0, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    static const sn_layer_kind cls[] = {SN_LAYER_DROPOUT, SN_LAYER_LINEAR, SN_LAYER_RELU,
                                        SN_LAYER_DROPOUT, SN_LAYER_LINEAR, SN_LAYER_RELU,
                                        SN_LAYER_LINEAR};
    for (int i = 0; i < 7; i++) {
        const sn_layer_spec *l = find_layer(&s, "classifier", i);
        CHECK(l && l->kind == cls[i]);
    }
    CHECK(find_layer(&s, "classifier", 7) == NULL);
    CHECK_EQ_INT(find_layer(&s, "classifier", 1)->in_features, 128);
    CHECK_CLOSE(find_layer(&s, "classifier", 0)->dropout_p, 0.4, 1e-7, 0);
    CHECK_EQ_INT(find_layer(&s, "features", 0)->bias, 1);
    CHECK_EQ_INT(find_layer(&s, "features", 30)->kind, SN_LAYER_MAXPOOL);
    CHECK_EQ_INT(s.train.optimizer, SN_OPT_ADAM);
    CHECK_CLOSE(s.train.lr, 1e-4, 0, 1e-7);
    CHECK_CLOSE(s.train.beta1, 0.9, 1e-7, 0);
    CHECK_CLOSE(s.train.beta2, 0.999, 1e-7, 0);
    CHECK_CLOSE(s.train.eps, 1e-8, 1e-15, 0);
    CHECK_EQ_INT(s.train.batch_size, 32);
    sn_spec_free(&s);
}

static void test_vgg_bn_and_recipe(void) {
    sn_model_spec s;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_spec_load(MODELS_DIR "/vgg16_bn_cifar10.yaml", NULL, 0, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    CHECK_EQ_INT(find_layer(&s, "features", 0)->kind, SN_LAYER_CONV2D);
    CHECK_EQ_INT(find_layer(&s, "features", 1)->kind, SN_LAYER_BATCHNORM);
    CHECK_EQ_INT(find_layer(&s, "features", 2)->kind, SN_LAYER_RELU);
    CHECK_EQ_INT(find_layer(&s, "features", 6)->kind, SN_LAYER_MAXPOOL);
    CHECK_EQ_INT(find_layer(&s, "features", 43)->kind, SN_LAYER_MAXPOOL);
    CHECK(find_layer(&s, "features", 44) == NULL);
    CHECK_CLOSE(find_layer(&s, "features", 1)->bn_eps, 1e-5, 1e-12, 0);
    CHECK_CLOSE(find_layer(&s, "features", 1)->bn_momentum, 0.1, 1e-7, 0);
    CHECK_EQ_INT(find_layer(&s, "features", 0)->pad_h, 1); /* padding: same */
    CHECK_EQ_INT(s.train.schedule, SN_SCHED_MULTISTEP);
    CHECK_EQ_INT(s.train.nmilestones, 4);
    CHECK_EQ_INT(s.train.milestones[3], 120);
    CHECK_EQ_INT(s.train.warmup_epochs, 5);
    CHECK_EQ_INT(s.train.init, SN_INIT_XAVIER_UNIFORM);
    sn_spec_free(&s);
}

static void test_quant_vgg_network_form(void) {
    sn_model_spec s;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_spec_load(MODELS_DIR "/quant_vgg_cifar10.yaml", NULL, 0, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    CHECK_EQ_INT(s.from_vgg, 0);
    int convs = 0, ternary = 0, quants = 0;
    for (int i = 0; i < s.nlayers; i++) {
        const sn_layer_spec *l = &s.layers[i];
        if (l->kind == SN_LAYER_CONV2D) {
            convs++;
            ternary += l->weight_quant == SN_WQ_TERNARY;
            CHECK_EQ_INT(l->bias, 0);
        }
        if (l->kind == SN_LAYER_QUANT) {
            quants++;
            CHECK_EQ_INT(l->quant_k, 1);
            CHECK_CLOSE(l->quant_B, 2, 0, 0);
        }
    }
    CHECK_EQ_INT(convs, 12);
    CHECK_EQ_INT(ternary, 11);
    CHECK_EQ_INT(quants, 12);
    CHECK_EQ_INT(find_layer(&s, "features", 0)->weight_quant, SN_WQ_NONE);
    CHECK_EQ_INT(find_layer(&s, "features", 12)->kernel_h, 2); /* the first P2 */
    CHECK_EQ_INT(find_layer(&s, "features", 12)->stride_h, 2);
    CHECK_EQ_INT(find_layer(&s, "features", 44)->pad_h, 0); /* conv 12: valid */
    /* classifier = nn.Sequential(nn.Flatten(), nn.Linear(512, 10, bias=False)) */
    const sn_layer_spec *fl = find_layer(&s, "classifier", 0);
    CHECK(fl && fl->kind == SN_LAYER_FLATTEN);
    const sn_layer_spec *out = find_layer(&s, "classifier", 1);
    CHECK(out && out->kind == SN_LAYER_LINEAR && out->bias == 0 && out->weight_quant == SN_WQ_NONE);
    CHECK_EQ_INT(s.quant.enabled, 1);
    CHECK_CLOSE(s.quant.ternary_threshold, 0.7, 1e-7, 0);
    CHECK_CLOSE(s.data.scale, 1, 0, 0);
    CHECK_EQ_INT(s.data.per_image_standardization, 1);
    CHECK_EQ_INT(s.data.augment.random_crop_size, 24);
    CHECK_CLOSE(s.data.augment.brightness, 63, 0, 0);
    CHECK_CLOSE(s.data.augment.contrast_lo, 0.2, 1e-7, 0);
    CHECK_CLOSE(s.data.augment.contrast_hi, 1.8, 1e-7, 0);
    CHECK_EQ_INT(s.train.nmilestones, 1);
    CHECK_EQ_INT(s.train.milestones[0], 200);
    CHECK_EQ_INT(s.snn.enabled, 0);
    sn_spec_free(&s);
}

static void test_lif_fc(void) {
    sn_model_spec s;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_spec_load(MODELS_DIR "/lif_fc_mnist.yaml", NULL, 0, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    CHECK_EQ_INT(s.nlayers, 3);
    const sn_layer_spec *lin = find_layer(&s, "layer", 1);
    CHECK(lin && lin->kind == SN_LAYER_LINEAR && lin->out_features == 10 && lin->bias == 0);
    const sn_layer_spec *lif = find_layer(&s, "layer", 2);
    CHECK(lif && lif->kind == SN_LAYER_LIF);
    if (lif) {
        CHECK_CLOSE(lif->neuron.tau, 2, 0, 0);
        CHECK_CLOSE(lif->neuron.v_threshold, 1, 0, 0);
        CHECK_EQ_INT(lif->neuron.hard_reset, 1);
        CHECK_CLOSE(lif->neuron.v_reset, 0, 0, 0);
        CHECK_EQ_INT(lif->neuron.decay_input, 1);
        CHECK_EQ_INT(lif->neuron.surrogate, SN_SURR_ATAN);
        CHECK_CLOSE(lif->neuron.alpha, 2, 0, 0);
    }
    CHECK_EQ_INT(s.snn.enabled, 1);
    CHECK_EQ_INT(s.snn.T, 50);
    CHECK_EQ_INT(s.snn.encoder, SN_ENC_POISSON);
    CHECK_EQ_INT(s.snn.readout, SN_READOUT_RATE);
    CHECK_EQ_INT(s.snn.neuron_kind, SN_LAYER_LIF);
    CHECK_EQ_INT(s.train.loss, SN_LOSS_MSE);
    CHECK_EQ_INT(s.data.nmean, 0);
    sn_spec_free(&s);
}

/* ---- defaults and forms ---------------------------------------------------------------- */

static void test_defaults(void) {
    sn_model_spec s;
    sn_status st;
    CHECK(parse(BASE_VGG, &s, &st) == SN_OK);
    if (!sn_ok(&st)) return;
    /* conv 3x3 pad 1 stride 1 bias, relu, maxpool 2/2, flatten, linear(8 -> 10) */
    CHECK_EQ_INT(s.nlayers, 5);
    const sn_layer_spec *c0 = &s.layers[0];
    CHECK(c0->kind == SN_LAYER_CONV2D && c0->out_channels == 8 && c0->kernel_h == 3 &&
          c0->pad_w == 1 && c0->stride_h == 1 && c0->bias == 1 && c0->weight_quant == SN_WQ_NONE);
    CHECK_EQ_INT(s.layers[4].in_features, 8);
    CHECK_EQ_INT(s.layers[4].bias, 1);
    CHECK_EQ_INT(s.quant.enabled, 0);
    CHECK_CLOSE(s.quant.ternary_threshold, 0.7, 1e-7, 0);
    CHECK_EQ_INT(s.snn.enabled, 0);
    CHECK_EQ_INT(s.snn.T, 1);
    CHECK_EQ_INT(s.snn.neuron_kind, SN_LAYER_IF);
    CHECK_CLOSE(s.snn.neuron.tau, 2, 0, 0);
    CHECK_EQ_INT(s.data.dataset, SN_DATA_NONE);
    CHECK_CLOSE(s.data.scale, 1.0 / 255, 1e-9, 0);
    CHECK_EQ_INT(s.train.optimizer, SN_OPT_SGD);
    CHECK_CLOSE(s.train.lr, 0.01, 1e-9, 0);
    CHECK_CLOSE(s.train.momentum, 0, 0, 0);
    CHECK_EQ_INT(s.train.epochs, 1);
    CHECK_EQ_INT(s.train.batch_size, 64);
    CHECK_EQ_INT(s.train.shuffle, 1);
    CHECK_EQ_INT(s.train.seed, 0);
    CHECK_EQ_INT(s.train.loss, SN_LOSS_CROSS_ENTROPY);
    roundtrip(&s, "defaults");
    sn_spec_free(&s);

    /* a UTF-8 byte-order mark and CRLF line ends are fine */
    CHECK(parse("\xef\xbb\xbfname: t\r\ninput: {channels: 3, height: 32, width: 32}\r\n"
                "num_classes: 10\r\nvgg: {cfg: [8, M]}\r\ntrain: {lrr: 1}\r\n",
                &s, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "m.yaml:5:9: unknown key 'lrr'");
    sn_spec_free(&s);

    /* an empty section is an empty mapping, and overrides can fill it */
    CHECK(parse(BASE_VGG "train:\ndata:\n", &s, &st) == SN_OK);
    CHECK_EQ_INT(s.train.batch_size, 64);
    sn_spec_free(&s);
    CHECK(parse_sets(BASE_VGG "train:\n", (const char *const[]){"train.lr=0.5"}, 1, &s, &st) ==
          SN_OK);
    CHECK_CLOSE(s.train.lr, 0.5, 0, 0);
    sn_spec_free(&s);
    /* "true\0x" is not true */
    {
        static const char y[] = BASE_VGG "train: {shuffle: \"false\\0x\"}\n";
        CHECK(parse(y, &s, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, "train.shuffle: expected true or false");
    }

    /* Adam's default lr is PyTorch's 1e-3 */
    CHECK(parse(BASE_VGG "train: {optimizer: adam}\n", &s, &st) == SN_OK);
    CHECK_CLOSE(s.train.lr, 1e-3, 1e-10, 0);
    sn_spec_free(&s);
}

static void test_vgg_activations(void) {
    sn_model_spec s;
    sn_status st;
    CHECK(parse(BASE
                "quant: {k: 2, B: 1}\n"
                "vgg: {cfg: [8, M], activation: quant, classifier: {hidden: [16], dropout: 0}}\n",
                &s, &st) == SN_OK);
    if (sn_ok(&st)) {
        /* conv relu quant pool | flatten linear relu quant linear */
        static const sn_layer_kind k[] = {SN_LAYER_CONV2D,  SN_LAYER_RELU,    SN_LAYER_QUANT,
                                          SN_LAYER_MAXPOOL, SN_LAYER_FLATTEN, SN_LAYER_LINEAR,
                                          SN_LAYER_RELU,    SN_LAYER_QUANT,   SN_LAYER_LINEAR};
        CHECK_EQ_INT(s.nlayers, 9);
        for (int i = 0; i < 9 && i < s.nlayers; i++) CHECK_EQ_INT(s.layers[i].kind, k[i]);
        CHECK_EQ_INT(s.layers[2].quant_k, 2);
        CHECK_CLOSE(s.layers[2].quant_B, 1, 0, 0);
        CHECK_EQ_INT(s.layers[8].index, 3);
        roundtrip(&s, "quant activation");
    }
    sn_spec_free(&s);

    CHECK(parse(BASE "snn: {T: 4, neuron: {v_reset: none, surrogate: sigmoid}}\n"
                     "vgg: {cfg: [8, M], activation: lif, pool: {type: avg}}\n",
                &s, &st) == SN_OK);
    if (sn_ok(&st)) {
        CHECK_EQ_INT(s.layers[1].kind, SN_LAYER_LIF);
        CHECK_EQ_INT(s.layers[1].neuron.hard_reset, 0);
        CHECK_EQ_INT(s.layers[1].neuron.surrogate, SN_SURR_SIGMOID);
        CHECK_CLOSE(s.layers[1].neuron.alpha, 4, 0, 0);
        CHECK_EQ_INT(s.layers[2].kind, SN_LAYER_AVGPOOL);
        roundtrip(&s, "lif activation");
    }
    sn_spec_free(&s);
    EXPECT_ERR(BASE "vgg: {cfg: [8, M], activation: quant}\n",
               "m.yaml:4:", "needs a top-level quant section");
}

static void test_network_form_details(void) {
    sn_model_spec s;
    sn_status st;
    const char *y =
        BASE "snn: {neuron: {surrogate: sigmoid, alpha: 5, tau: 3}}\n"
             "network:\n"
             "  - body:\n"
             "      - conv2d: {out_channels: 4, kernel_size: [3, 5], padding: same}\n"
             "      - conv2d: {out_channels: 4, kernel_size: 2, stride: [2, 1], padding: [0, 1]}\n"
             "      - avgpool: {kernel_size: 3, stride: 1, padding: 1}\n"
             "      - if\n"
             "      - lif: {surrogate: sigmoid}\n"
             "      - lif: {surrogate: atan}\n"
             "      - if: {v_reset: -0.5, detach_reset: true}\n"
             "      - batchnorm:\n"
             "      - dropout: {p: 0}\n"
             "      - flatten\n"
             "      - quant: {k: 0, B: 3}\n"
             "      - linear: {out_features: 10, weights: ternary}\n";
    CHECK(parse(y, &s, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    if (sn_ok(&st)) {
        CHECK_EQ_INT(s.nlayers, 12);
        CHECK_EQ_INT(s.layers[0].pad_h, 1);
        CHECK_EQ_INT(s.layers[0].pad_w, 2);
        CHECK_EQ_INT(s.layers[1].stride_h, 2);
        CHECK_EQ_INT(s.layers[1].stride_w, 1);
        CHECK_EQ_INT(s.layers[1].pad_w, 1);
        CHECK_EQ_INT(s.layers[2].stride_h, 1);
        /* if inherits snn.neuron (tau unused) */
        CHECK_CLOSE(s.layers[3].neuron.alpha, 5, 0, 0);
        CHECK_CLOSE(s.layers[3].neuron.tau, 3, 0, 0);
        /* same surrogate: inherits alpha; another surrogate: its own default */
        CHECK_CLOSE(s.layers[4].neuron.alpha, 5, 0, 0);
        CHECK_CLOSE(s.layers[5].neuron.alpha, 2, 0, 0);
        CHECK_EQ_INT(s.layers[6].neuron.hard_reset, 1);
        CHECK_CLOSE(s.layers[6].neuron.v_reset, -0.5, 0, 0);
        CHECK_EQ_INT(s.layers[6].neuron.detach_reset, 1);
        CHECK_CLOSE(s.layers[8].dropout_p, 0, 0, 0);
        CHECK_EQ_INT(s.layers[9].index, 9); /* flatten inside a container takes a slot */
        CHECK_EQ_INT(s.layers[10].quant_k, 0);
        CHECK_EQ_INT(s.layers[11].weight_quant, SN_WQ_TERNARY);
        CHECK_EQ_INT(s.layers[11].in_features, 0);
        CHECK_EQ_INT(s.layers[0].loc.line, 7);
        CHECK_EQ_INT(s.layers[0].loc.col, 9);
        roundtrip(&s, "network form");
    }
    sn_spec_free(&s);

    /* a trailing functional flatten belongs to the previous container */
    CHECK(parse(BASE "network:\n  - a: [relu]\n  - flatten\n", &s, &st) == SN_OK);
    if (sn_ok(&st)) {
        CHECK_EQ_INT(s.nlayers, 2);
        CHECK(!strcmp(s.layers[1].module, "a") && s.layers[1].index == -1);
        roundtrip(&s, "trailing flatten");
    }
    sn_spec_free(&s);
}

static void test_strings_roundtrip(void) {
    sn_model_spec s;
    sn_status st;
    CHECK(
        parse(
            BASE_VGG
            "data: {path: \"d\\u00e9j\\u00e0 \\\"q\\\" \\\\ \\t\\x01\\u0085\\ufeff\\U0001F600\"}\n",
            &s, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    if (sn_ok(&st)) {
        CHECK(!strcmp(s.data.path,
                      "d\xc3\xa9j\xc3\xa0 \"q\" \\ \t\x01\xc2\x85\xef\xbb\xbf\xf0\x9f\x98\x80"));
        roundtrip(&s, "strings");
    }
    sn_spec_free(&s);
    /* floats print with the fewest digits that read back identically */
    CHECK(parse(BASE_VGG "train: {lr: 0.1, weight_decay: 1.0e-7, label_smoothing: 0.333333343}\n",
                &s, &st) == SN_OK);
    if (sn_ok(&st)) {
        sn_strbuf sb;
        sn_sb_init(&sb);
        sn_spec_print_yaml(&s, &sb);
        CHECK_CONTAINS(sn_sb_cstr(&sb), "lr: 0.1\n");
        CHECK_CONTAINS(sn_sb_cstr(&sb), "weight_decay: 1e-07\n");
        CHECK_CONTAINS(sn_sb_cstr(&sb), "label_smoothing: 0.33333334\n");
        sn_sb_free(&sb);
        roundtrip(&s, "floats");
    }
    sn_spec_free(&s);
    CHECK(parse(BASE_VGG "train: {seed: 18446744073709551615}\n", &s, &st) == SN_OK);
    CHECK(s.train.seed == UINT64_MAX);
    roundtrip(&s, "seed");
    sn_spec_free(&s);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_yaml_level_errors(void) {
    EXPECT_ERR("", "m.yaml:1:1", "empty");
    EXPECT_ERR("# only a comment\n", "m.yaml:1:1", "empty");
    EXPECT_ERR("---\n", "m.yaml:1:1", "empty");
    EXPECT_ERR(BASE_VGG "---\nname: u\n", "m.yaml:5:1", "second YAML document");
    EXPECT_ERR(BASE_VGG "name: u\n", "m.yaml:5:1", "duplicate key 'name' (first given at line 1");
    EXPECT_ERR(BASE "vgg: &a {cfg: [8]}\n", "m.yaml:4:6", "anchors");
    EXPECT_ERR(BASE "x: &a 1\nvgg: *a\n", "m.yaml:4:4", "anchors");
    EXPECT_ERR(BASE "vgg: {cfg: !!seq [8]}\n", "m.yaml:4:12", "tags");
    EXPECT_ERR("name: t\ninput: {channels: 3\n", "m.yaml:3:1", "did not find expected ',' or '}'");
    EXPECT_ERR("name: t\n  bad: indent\n", "m.yaml:2:6", "mapping values are not allowed");
    EXPECT_ERR("name: \"t\xff\"\n", "m.yaml:1:9", "invalid UTF-8");
    EXPECT_ERR("name: \"t\xc0\xaf\"\n", "m.yaml:1:9", "invalid UTF-8");
    EXPECT_ERR("\xff\xfen\0a\0m\0e\0", "m.yaml:1:1", "invalid UTF-8");
    EXPECT_ERR("name: t\t\x01\n", "m.yaml:1:9", "control characters");
    EXPECT_ERR(BASE "vgg: {[1]: 2}\n", "m.yaml:4:7", "mapping keys must be plain strings");
    {
        sn_model_spec s;
        sn_status st;
        sn_status_init(&st);
        CHECK(sn_spec_parse("nul.yaml", "name: a\0b\n", 10, NULL, 0, &s, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, "nul.yaml:1:8: NUL byte");
    }
    /* deep nesting is bounded */
    {
        char buf[400];
        size_t o = (size_t)snprintf(buf, sizeof buf, "%s", "name: ");
        for (int i = 0; i < 100; i++) buf[o++] = '[';
        for (int i = 0; i < 100; i++) buf[o++] = ']';
        buf[o] = '\0';
        EXPECT_ERR(buf, "m.yaml:1:", "nesting too deep");
    }
    /* a missing file */
    {
        sn_model_spec s;
        sn_status st;
        sn_status_init(&st);
        CHECK(sn_spec_load("/nonexistent/x.yaml", NULL, 0, &s, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, "/nonexistent/x.yaml: cannot open");
    }
}

static void test_schema_errors(void) {
    /* top level */
    EXPECT_ERR("- a\n", "m.yaml:1:1", "top level must be a mapping");
    EXPECT_ERR(BASE_VGG "trian: {}\n", "m.yaml:5:1",
               "unknown key 'trian' at the top level; did you mean 'train'?");
    EXPECT_ERR("input: {channels: 3, height: 32, width: 32}\nnum_classes: 10\nvgg: {cfg: [8]}\n",
               "m.yaml:1:1", "missing required top-level key 'name'");
    EXPECT_ERR("name: t\nnum_classes: 10\nvgg: {cfg: [8]}\n", "m.yaml:1:1", "'input'");
    EXPECT_ERR("name: t\ninput: {channels: 3, width: 32}\nnum_classes: 10\nvgg: {cfg: [8]}\n",
               "m.yaml:2:8", "missing required key 'height' in input");
    EXPECT_ERR(BASE, "m.yaml:1:1", "give vgg: {cfg: [...]} or network: [...]");
    EXPECT_ERR(BASE_VGG "network: [{a: [relu]}]\n", "m.yaml:5:1", "not both");
    EXPECT_ERR("name: 'a b'\ninput: {channels: 3, height: 32, width: 32}\nnum_classes: 10\nvgg: "
               "{cfg: [8]}\n",
               "m.yaml:1:7", "only letters, digits");
    EXPECT_ERR("name: [a]\n", "m.yaml:1:7", "name: expected a string, got a list");
    EXPECT_ERR(
        "name: t\ninput: {channels: 3, height: 32, width: 32}\nnum_classes: 0\nvgg: {cfg: [8]}\n",
        "m.yaml:3:14", "num_classes must be at least 1, got 0");
    EXPECT_ERR(
        "name: t\ninput: {channels: 0, height: 32, width: 32}\nnum_classes: 10\nvgg: {cfg: [8]}\n",
        "m.yaml:2:19", "input.channels must be at least 1, got 0");
    EXPECT_ERR("name: t\ninput: {channels: abc, height: 32, width: 32}\nnum_classes: 10\nvgg: "
               "{cfg: [8]}\n",
               "m.yaml:2:19", "input.channels: expected an integer, got 'abc'");
    EXPECT_ERR(
        "name: t\ninput: {channels: 3, height: 99999999999999999999, width: 32}\nnum_classes: 10\n"
        "vgg: {cfg: [8]}\n",
        "m.yaml:2:30", "'99999999999999999999' is out of range");
    EXPECT_ERR(
        "name: t\ninput: {channels: 3, height: 3.5, width: 32}\nnum_classes: 10\nvgg: {cfg: [8]}\n",
        "m.yaml:2:30", "expected a whole number, got '3.5'");
    EXPECT_ERR("name: t\ninput: {channels: \"3\", height: 32, width: 32}\nnum_classes: 10\nvgg: "
               "{cfg: [8]}\n",
               "m.yaml:2:19", "input.channels: expected an integer, got '3'");

    /* vgg */
    EXPECT_ERR(BASE "vgg: {cfg: []}\n", "m.yaml:4:12", "vgg.cfg: the list is empty");
    EXPECT_ERR(BASE "vgg: {cfg: [8, m]}\n", "m.yaml:4:16",
               "expected a channel count or M (pooling), got 'm'");
    EXPECT_ERR(BASE "vgg: {cfg: [8, -4]}\n", "m.yaml:4:16",
               "vgg.cfg[1] must be at least 1, got -4");
    EXPECT_ERR(BASE "vgg: {cfg: 8}\n", "m.yaml:4:12", "vgg.cfg: expected a list");
    EXPECT_ERR(BASE "vgg: {cfgs: [8]}\n", "m.yaml:4:7",
               "unknown key 'cfgs' in vgg; did you mean 'cfg'?");
    EXPECT_ERR(BASE "vgg: {conv: {kernel_size: 4, padding: same}, cfg: [8]}\n", "m.yaml:4:39",
               "'same' needs an odd kernel size");
    EXPECT_ERR(BASE "vgg: {conv: {stride: 2, padding: same}, cfg: [8]}\n", "m.yaml:4:34",
               "'same' needs stride 1");
    EXPECT_ERR(BASE "vgg: {pool: {type: mean}, cfg: [8]}\n", "m.yaml:4:20",
               "vgg.pool.type: unknown value 'mean'; did you mean 'max'?");
    EXPECT_ERR(BASE "vgg: {pool: {type: mx}, cfg: [8]}\n", "m.yaml:4:20", "did you mean 'max'?");
    EXPECT_ERR(BASE "vgg: {classifier: {dropout: 1}, cfg: [8]}\n", "m.yaml:4:29",
               "vgg.classifier.dropout must be in [0, 1), got 1");
    EXPECT_ERR(BASE "vgg: {classifier: {dropout_position: middle}, cfg: [8]}\n", "m.yaml:4:38",
               "expected one of after or before");
    EXPECT_ERR(BASE "vgg: {classifier: {hidden: [0]}, cfg: [8]}\n", "m.yaml:4:29",
               "vgg.classifier.hidden must be at least 1");
    EXPECT_ERR(BASE "vgg: {cfg: [8], activation: relu6}\n", "m.yaml:4:29", "did you mean 'relu'?");
    {
        char buf[1024];
        size_t o = (size_t)snprintf(buf, sizeof buf, "%svgg: {cfg: [", BASE);
        for (int i = 0; i < SN_MAX_LIST + 1; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s8", i ? "," : "");
        snprintf(buf + o, sizeof buf - o, "]}\n");
        EXPECT_ERR(buf, "m.yaml:4:12", "at most 64 entries, got 65");
    }

    /* network */
    EXPECT_ERR(BASE "network: {a: [relu]}\n", "m.yaml:4:10", "expected a list of containers");
    EXPECT_ERR(BASE "network: []\n", "m.yaml:4:10", "empty");
    EXPECT_ERR(BASE "network:\n  - a: []\n", "m.yaml:5:8", "container 'a' is empty");
    EXPECT_ERR(BASE "network:\n  - a:\n", "m.yaml:5:5", "container 'a' is empty");
    EXPECT_ERR(BASE "network:\n  - a: [relu]\n  - a: [relu]\n", "m.yaml:6:5", "used twice");
    EXPECT_ERR(BASE "network:\n  - 1a: [relu]\n", "m.yaml:5:5", "must be an identifier");
    EXPECT_ERR(BASE "network:\n  - relu\n  - a: [relu]\n", "m.yaml:5:5",
               "only 'flatten' may stand between");
    EXPECT_ERR(BASE "network:\n  - a: [reul]\n", "m.yaml:5:9",
               "unknown op 'reul'; did you mean 'relu'?");
    EXPECT_ERR(BASE "network:\n  - a: [softmax]\n", "m.yaml:5:9",
               "unknown op 'softmax'; the ops are");
    EXPECT_ERR(BASE "network:\n  - a:\n    - conv2d:\n      out_channels: 8\n", "m.yaml:6:7",
               "indent the parameters");
    EXPECT_ERR(BASE "network:\n  - a:\n    - conv2d: {out_channels: 8}\n", "m.yaml:6:15",
               "missing required key 'kernel_size' in layer a.0 (conv2d)");
    EXPECT_ERR(BASE "network:\n  - a:\n    - relu\n    - conv2d\n", "m.yaml:7:7",
               "layer a.1 (conv2d) needs out_channels and kernel_size");
    EXPECT_ERR(BASE "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: 0}\n",
               "m.yaml:6:46", "layer a.0 (conv2d): kernel_size must be at least 1, got 0");
    EXPECT_ERR(BASE "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: [3, 3, 3]}\n",
               "m.yaml:6:46", "[height, width] of 2 integers, got a list of 3");
    EXPECT_ERR(BASE
               "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: 3, padding: -1}\n",
               "m.yaml:6:58", "layer a.0 (conv2d): padding must be at least 0, got -1");
    EXPECT_ERR(BASE
               "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: 3, stride: 0}\n",
               "m.yaml:6:57", "stride must be at least 1");
    EXPECT_ERR(BASE
               "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: 3, padding: full}\n",
               "m.yaml:6:58", "same or valid, got 'full'");
    EXPECT_ERR(BASE "network:\n  - a:\n    - conv2d: {out_channel: 8, kernel_size: 3}\n",
               "m.yaml:6:16",
               "unknown key 'out_channel' in layer a.0 (conv2d); did you mean 'out_channels'?");
    EXPECT_ERR(
        BASE "network:\n  - a:\n    - conv2d: {out_channels: 8, kernel_size: 3, weights: binary}\n",
        "m.yaml:6:58", "expected one of float, ternary or integer");
    EXPECT_ERR(BASE "network:\n  - a:\n    - linear: {out_features: 0}\n", "m.yaml:6:30",
               "layer a.0 (linear): out_features must be at least 1, got 0");
    EXPECT_ERR(BASE "network:\n  - a:\n    - maxpool: {kernel_size: 2, padding: 2}\n",
               "m.yaml:6:42", "more than half the kernel");
    EXPECT_ERR(BASE "network:\n  - a:\n    - dropout: {p: 1.5}\n", "m.yaml:6:20",
               "layer a.0 (dropout): p must be in [0, 1), got 1.5");
    EXPECT_ERR(BASE "network:\n  - a:\n    - dropout: {p: -0.1}\n", "m.yaml:6:20", "[0, 1)");
    EXPECT_ERR(BASE "network:\n  - a:\n    - batchnorm: {eps: 0}\n", "m.yaml:6:24",
               "eps must be greater than 0");
    EXPECT_ERR(BASE "network:\n  - a:\n    - relu: {inplace: true}\n", "m.yaml:6:14",
               "it takes no parameters");
    EXPECT_ERR(BASE "network:\n  - a:\n    - relu: 3\n", "m.yaml:6:13",
               "expected a mapping of parameters");
    EXPECT_ERR(
        BASE "network:\n  - a:\n    - quant\n", "m.yaml:6:7",
        "layer a.0 (quant): missing k: give k and B on the layer or in a top-level quant section");
    EXPECT_ERR(BASE "network:\n  - a:\n    - quant: {k: 1}\n", "m.yaml:6:14", "missing B");
    EXPECT_ERR(BASE "quant: {k: -1}\nnetwork: [{a: [relu]}]\n", "m.yaml:4:12",
               "quant.k must be at least 0, got -1");
    EXPECT_ERR(BASE "quant: {B: 0}\nnetwork: [{a: [relu]}]\n", "m.yaml:4:12",
               "quant.B must be greater than 0");
    EXPECT_ERR(BASE "quant: {k: 0, B: 1.5}\nnetwork: [{a: [relu]}]\n", "m.yaml:4:18",
               "2^k * B must be a whole number");
    EXPECT_ERR(BASE "network:\n  - a:\n    - if: {tau: 2}\n", "m.yaml:6:12",
               "unknown key 'tau' in layer a.0 (if)");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {tau: 1}\n", "m.yaml:6:18",
               "layer a.0 (lif): tau must be greater than 1, got 1");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {v_threshold: 0}\n", "m.yaml:6:26",
               "v_threshold must be greater than 0");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {v_reset: soft}\n", "m.yaml:6:22",
               "v_reset: expected a number (hard reset) or none (soft reset), got 'soft'");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {surrogate: atn}\n", "m.yaml:6:24",
               "did you mean 'atan'?");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {detach_reset: yes}\n", "m.yaml:6:27",
               "detach_reset: expected true or false, got 'yes'");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {alpha: .nan}\n", "m.yaml:6:20",
               "NaN and infinity are not allowed");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {alpha: -.inf}\n", "m.yaml:6:20",
               "NaN and infinity");
    EXPECT_ERR(BASE "network:\n  - a:\n    - lif: {alpha: 1e39}\n", "m.yaml:6:20",
               "out of range for a 32-bit float");

    EXPECT_ERR(BASE "network:\n  - flatten\n", "m.yaml:5:5", "needs a container next to it");
    EXPECT_ERR(BASE "network:\n  - a: relu\n", "m.yaml:5:8",
               "container 'a': expected a list of layers");
    EXPECT_ERR(BASE "network:\n  - a: [[relu]]\n", "m.yaml:5:9", "layer a.0: expected a layer");
    EXPECT_ERR(BASE "network:\n  - {a: [relu], b: [relu]}\n", "m.yaml:5:5", "several keys");
    EXPECT_ERR(BASE "network:\n  - a:\n    - maxpool\n", "m.yaml:6:7",
               "layer a.0 (maxpool) needs kernel_size");
    EXPECT_ERR(BASE "quant: {k: 16, B: 2}\nnetwork: [{a: [relu]}]\n", "m.yaml:4:19",
               "quantization levels is too many");
    EXPECT_ERR("name: .hidden\n", "m.yaml:1:7", "must not start with '.'");
    EXPECT_ERR("name: t\ninput: {channels: 65536, height: 65536, width: 65536}\n", "m.yaml:2:8",
               "values per image is too many");
    {
        /* more than 4096 layers */
        sn_strbuf sb;
        sn_sb_init(&sb);
        sn_sb_puts(&sb, BASE "network:\n  - a:\n");
        for (int i = 0; i < 4097; i++) sn_sb_puts(&sb, "      - relu\n");
        sn_model_spec s;
        sn_status st;
        CHECK(parse(sn_sb_cstr(&sb), &s, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, "the network has more than 4096 layers");
        sn_sb_free(&sb);
    }

    /* snn */
    EXPECT_ERR(BASE_VGG "snn: {T: 0}\n", "m.yaml:5:10", "snn.T must be at least 1, got 0");
    EXPECT_ERR(BASE_VGG "snn: {encoder: rate}\n", "m.yaml:5:16",
               "expected one of direct or poisson");
    EXPECT_ERR(BASE_VGG "snn: {neuron: {model: izhikevich}}\n", "m.yaml:5:23",
               "expected one of if or lif");
    EXPECT_ERR(BASE_VGG "snn: {neuron: {tau: 0.5}}\n", "m.yaml:5:21",
               "snn.neuron.tau must be greater than 1");
    EXPECT_ERR(BASE_VGG "snn: {encoder: poisson}\ndata: {mean: 0.5}\n", "m.yaml:5:16",
               "poisson needs inputs in [0, 1]");

    /* data */
    EXPECT_ERR(BASE_VGG "data: {dataset: imagenet}\n", "m.yaml:5:17",
               "expected one of none, cifar10, cifar100 or mnist");
    EXPECT_ERR(BASE_VGG "data: {dataset: mnist}\n", "m.yaml:5:17",
               "mnist images have 1 channel but input.channels is 3");
    EXPECT_ERR(BASE_VGG "data: {dataset: cifar100}\n", "m.yaml:3:14",
               "num_classes is 10 but cifar100 has 100 classes");
    EXPECT_ERR(BASE_VGG "data: {mean: [0.5, 0.5]}\n", "m.yaml:5:14",
               "1 entry or one per input channel (3), got 2");
    EXPECT_ERR(BASE_VGG "data: {std: [0.5, 0, 0.5]}\n", "m.yaml:5:19",
               "data.std must be greater than 0");
    EXPECT_ERR(BASE_VGG "data: {scale: 0}\n", "m.yaml:5:15", "data.scale must be greater than 0");
    EXPECT_ERR(BASE_VGG "data: {augment: {random_crop: {size: 24}}}\n", "m.yaml:5:38",
               "crops of 24 x 24 do not match the model input 32 x 32");
    EXPECT_ERR(BASE_VGG "data: {augment: {random_crop: {}}}\n", "m.yaml:5:31", "give size");
    EXPECT_ERR(BASE_VGG "data: {augment: {random_crop: 4}}\n", "m.yaml:5:31", "expected a mapping");
    EXPECT_ERR(BASE_VGG "data: {augment: {contrast: [1.8, 0.2]}}\n", "m.yaml:5:28", "low <= high");
    EXPECT_ERR(BASE_VGG "data: {augment: {contrast: 0.5}}\n", "m.yaml:5:28", "a list [low, high]");
    EXPECT_ERR(BASE_VGG "data: {augment: {flip: true}}\n", "m.yaml:5:18", "did you mean 'hflip'?");
    EXPECT_ERR(BASE_VGG "data: {path: ~}\n", "m.yaml:5:14",
               "data.path: expected a string, got an empty value");

    /* train */
    EXPECT_ERR(BASE_VGG "train: {lrr: 0.1}\n", "m.yaml:5:9",
               "unknown key 'lrr' in train; did you mean 'lr'?");
    EXPECT_ERR(BASE_VGG "train: {lr: 0}\n", "m.yaml:5:13",
               "train.lr must be greater than 0, got 0");
    EXPECT_ERR(BASE_VGG "train: {lr: \"0.1\"}\n", "m.yaml:5:13",
               "quoted string '0.1' (write numbers without quotes)");
    EXPECT_ERR(BASE_VGG "train: {lr: 1e-3x}\n", "m.yaml:5:13", "expected a number, got '1e-3x'");
    EXPECT_ERR(BASE_VGG "train: {batch_size: 0}\n", "m.yaml:5:21",
               "train.batch_size must be at least 1, got 0");
    EXPECT_ERR(BASE_VGG "train: {epochs: 0}\n", "m.yaml:5:17", "train.epochs must be at least 1");
    EXPECT_ERR(BASE_VGG "train: {label_smoothing: 1}\n", "m.yaml:5:26",
               "label_smoothing must be in [0, 1)");
    EXPECT_ERR(BASE_VGG "train: {optimizer: adam, momentum: 0.9}\n", "m.yaml:5:26",
               "train.momentum only applies to optimizer sgd");
    EXPECT_ERR(BASE_VGG "train: {betas: [0.9, 0.999]}\n", "m.yaml:5:9",
               "only applies to optimizer adam");
    EXPECT_ERR(BASE_VGG "train: {optimizer: adam, betas: [0.9, 1]}\n", "m.yaml:5:39",
               "train.betas must be in [0, 1)");
    EXPECT_ERR(BASE_VGG "train: {optimizer: adam, betas: 0.9}\n", "m.yaml:5:33",
               "a list [beta1, beta2]");
    EXPECT_ERR(BASE_VGG "train: {nesterov: true}\n", "m.yaml:5:19", "nesterov needs momentum > 0");
    EXPECT_ERR(BASE_VGG "train: {schedule: multistep}\n", "m.yaml:5:8",
               "missing required key 'milestones' in train (schedule multistep)");
    EXPECT_ERR(BASE_VGG "train: {schedule: multistep, milestones: [30, 20]}\n", "m.yaml:5:47",
               "must be increasing");
    EXPECT_ERR(BASE_VGG "train: {gamma: 0.5}\n", "m.yaml:5:9",
               "only applies to schedule multistep");
    EXPECT_ERR(BASE_VGG "train: {schedule: cosine, lr: 0.1, min_lr: 0.2}\n", "m.yaml:5:44",
               "larger than lr");
    EXPECT_ERR(BASE_VGG "train: {epochs: 3, warmup_epochs: 5}\n", "m.yaml:5:35",
               "more than epochs");
    EXPECT_ERR(BASE_VGG "train: {loss: mse, label_smoothing: 0.1}\n", "m.yaml:5:37",
               "only applies to loss cross_entropy");
    EXPECT_ERR(BASE_VGG "train: {init: xavier_uniform, init_mode: fan_out}\n", "m.yaml:5:31",
               "only applies to init kaiming");
    EXPECT_ERR(BASE_VGG "train: {init: kaiming}\n", "m.yaml:5:15", "expected one of torch_default");
    EXPECT_ERR(BASE_VGG "train: {seed: -1}\n", "m.yaml:5:15",
               "train.seed: expected a non-negative integer, got '-1'");
    EXPECT_ERR(BASE_VGG "train: {seed: 18446744073709551616}\n", "m.yaml:5:15", "too large");
    EXPECT_ERR(BASE_VGG "train: {shuffle: 1}\n", "m.yaml:5:18", "expected true or false, got '1'");
    EXPECT_ERR(BASE_VGG "train: [1]\n", "m.yaml:5:8", "train: expected a mapping");
}

/* ---- overrides ------------------------------------------------------------------------- */

static void test_overrides(void) {
    sn_model_spec s;
    sn_status st;
    const char *sets[] = {"vgg.cfg=[16,M,32]",       "train.lr=0.1",
                          "train.epochs = 3",        "quant.k=0",
                          "data.augment.hflip=true", "vgg.conv={kernel_size: 5, padding: same}"};
    CHECK(parse_sets(BASE_VGG, sets, 6, &s, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    if (sn_ok(&st)) {
        CHECK_EQ_INT(s.vgg_cfg_len, 3);
        CHECK_EQ_INT(s.vgg_cfg[2], 32);
        CHECK_CLOSE(s.train.lr, 0.1, 1e-8, 0);
        CHECK_EQ_INT(s.train.epochs, 3);
        CHECK_EQ_INT(s.quant.enabled, 1);
        CHECK_EQ_INT(s.quant.k, 0);
        CHECK_EQ_INT(s.data.augment.hflip, 1);
        CHECK_EQ_INT(s.layers[0].kernel_h, 5);
        CHECK_EQ_INT(s.layers[0].pad_h, 2);
        /* values from --set have no file position */
        CHECK_EQ_INT(s.layers[0].loc.line, 0);
    }
    sn_spec_free(&s);

    /* list indices reach into the network form; later overrides win */
    const char *y =
        BASE "network:\n  - a:\n      - conv2d: {out_channels: 8, kernel_size: 3}\n      - relu\n";
    const char *sets2[] = {"network.0.a.0.conv2d.out_channels=32", "network.0.a.1=flatten",
                           "network.0.a.0.conv2d.out_channels=16"};
    CHECK(parse_sets(y, sets2, 3, &s, &st) == SN_OK);
    if (sn_ok(&st)) {
        CHECK_EQ_INT(s.layers[0].out_channels, 16);
        CHECK_EQ_INT(s.layers[1].kind, SN_LAYER_FLATTEN);
    }
    sn_spec_free(&s);

    /* an empty value removes a key */
    const char *sets3[] = {"train.optimizer=adam", "train.momentum="};
    CHECK(parse_sets(BASE_VGG "train: {momentum: 0.9}\n", sets3, 2, &s, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(s.train.optimizer, SN_OPT_ADAM);
    sn_spec_free(&s);
    /* v_reset=none means soft reset */
    CHECK(parse_sets(BASE_VGG, (const char *const[]){"snn.neuron.v_reset=none"}, 1, &s, &st) ==
          SN_OK);
    CHECK_EQ_INT(s.snn.neuron.hard_reset, 0);
    sn_spec_free(&s);

    /* removing inside lists, and what cannot be removed */
    const char *y2 =
        BASE "network:\n  - a:\n      - conv2d: {out_channels: 8, kernel_size: 3, bias: false}\n";
    CHECK(parse_sets(y2, (const char *const[]){"network.0.a.0.conv2d.bias="}, 1, &s, &st) == SN_OK);
    CHECK_EQ_INT(s.layers[0].bias, 1);
    sn_spec_free(&s);
    EXPECT_ERR_SET(y2, "network.0=", "--set network.0=: list entries cannot be removed", NULL);
    EXPECT_ERR_SET(y2, "network.3.a=", "--set network.3.a=: 'network' has no entry '3'", NULL);
    EXPECT_ERR_SET(y2, "quant.k=", "--set quant.k=: there is no top-level key 'quant' to remove",
                   NULL);
    EXPECT_ERR_SET(y2, "train.lr x=1", "unexpected character ' ' in the key path", NULL);
    EXPECT_ERR_SET(y2, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q=1", "more than 16 components", NULL);
    EXPECT_ERR_SET("- 1\n", "a=1", "--set a: the model file's top level is not a mapping", NULL);

    /* errors name the override */
    EXPECT_ERR_SET(BASE_VGG, "train.lrr=0.1", "--set train.lrr: unknown key 'lrr' in train",
                   "did you mean 'lr'?");
    EXPECT_ERR_SET(BASE_VGG, "trian.lr=0.1", "--set trian.lr: unknown key 'trian'",
                   "did you mean 'train'?");
    EXPECT_ERR_SET(BASE_VGG, "train.lr=abc", "--set train.lr: expected a number, got 'abc'", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr=-1", "--set train.lr: must be greater than 0", NULL);
    EXPECT_ERR_SET(BASE_VGG, "vgg.cfg=[16,X]",
                   "--set vgg.cfg: vgg.cfg[1]: expected a channel count or M", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr", "--set train.lr: expected KEY=VALUE", NULL);
    EXPECT_ERR_SET(BASE_VGG, "=3", "--set =3: the key before '=' is empty", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train..lr=3", "--set train..lr: empty component", NULL);
    EXPECT_ERR_SET(BASE_VGG, "name.x=3", "--set name.x: 'name' is a single value, so it has no 'x'",
                   NULL);
    EXPECT_ERR_SET(BASE_VGG, "vgg.cfg.x=3",
                   "--set vgg.cfg.x: 'vgg.cfg' is a list: expected an index", NULL);
    EXPECT_ERR_SET(BASE_VGG, "vgg.cfg.7=3",
                   "--set vgg.cfg.7: index 7 is out of range: 'vgg.cfg' has 2 entries", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr=[1, 2", "--set train.lr: did not find expected ',' or ']'",
                   NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr=&a 1", "--set train.lr: YAML anchors", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr={a: 1, a: 2}", "--set train.lr: duplicate key 'a'", NULL);
    EXPECT_ERR_SET(BASE_VGG, "train.lr=1\n---\n2", "--set train.lr: expected a single value", NULL);
    EXPECT_ERR_SET(BASE_VGG "train: {lr: 0.1}\n", "train.momentun=",
                   "--set train.momentun=: 'train' has no key 'momentun' to remove", NULL);
    EXPECT_ERR_SET(BASE_VGG, "input={channels: 3}",
                   "--set input: missing required key 'height' in input", NULL);
}

int main(void) {
    RUN(test_models_parse_and_count);
    RUN(test_vgg16_expansion_matches_seed000);
    RUN(test_narrow_classifier_matches_seed003);
    RUN(test_vgg_bn_and_recipe);
    RUN(test_quant_vgg_network_form);
    RUN(test_lif_fc);
    RUN(test_defaults);
    RUN(test_vgg_activations);
    RUN(test_network_form_details);
    RUN(test_strings_roundtrip);
    RUN(test_yaml_level_errors);
    RUN(test_schema_errors);
    RUN(test_overrides);
    return sn_test_result();
}
