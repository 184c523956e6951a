/* sn_model_spec -> YAML (the explicit network: form), and spec comparison.
 *
 * The output names every resolved value, so it documents a run completely and parses
 * back into an equal spec (sn_spec_equal). Floats are written with the fewest digits that
 * read back as the same 32-bit value. Sections that switch behaviour on by being present
 * (quant:, snn:) are written only when the spec has them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "spec.h"

static const char *const KIND_NAMES[SN_LAYER_KIND_COUNT] = {
    "conv2d",  "linear",  "maxpool", "avgpool", "relu",         "batchnorm", "dropout",
    "flatten", "quant",   "if",      "lif",     "threshold",    "scale",     "sumpool",
    "nir_if",  "nir_lif", "nir_li",  "nir_i",   "nir_threshold"};

const char *sn_layer_kind_name(sn_layer_kind k) {
    return (unsigned)k < SN_LAYER_KIND_COUNT ? KIND_NAMES[k] : "unknown";
}

/* ---- scalars --------------------------------------------------------------------------- */

static void put_float(sn_strbuf *sb, float v) {
    char buf[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if ((float)strtod(buf, NULL) == v) break;
    }
    sn_sb_puts(sb, buf);
}

static void put_bool(sn_strbuf *sb, int v) {
    sn_sb_puts(sb, v ? "true" : "false");
}

/* Code point at s (valid UTF-8), its byte length in *w. */
static unsigned decode_utf8(const unsigned char *s, int *w) {
    if (s[0] < 0x80) return *w = 1, s[0];
    if (s[0] < 0xE0 && s[1]) return *w = 2, ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
    if (s[0] < 0xF0 && s[1] && s[2])
        return *w = 3, ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
    if (s[1] && s[2] && s[3])
        return *w = 4, ((s[0] & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
                           (s[3] & 0x3Fu);
    return *w = 1, 0xFFFD;
}

/* A double-quoted YAML string; everything YAML does not allow raw is escaped. */
static void put_string(sn_strbuf *sb, const char *str) {
    sn_sb_puts(sb, "\"");
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        int w;
        unsigned cp = decode_utf8(s, &w);
        if (cp == '"')
            sn_sb_puts(sb, "\\\"");
        else if (cp == '\\')
            sn_sb_puts(sb, "\\\\");
        else if (cp >= 0x20 && cp <= 0x7E)
            sn_sb_append(sb, (const char *)s, 1);
        else if ((cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD && cp != 0xFEFF) ||
                 (cp >= 0x10000 && cp <= 0x10FFFF))
            sn_sb_append(sb, (const char *)s, (size_t)w);
        else if (cp <= 0xFF)
            sn_sb_printf(sb, "\\x%02x", cp);
        else
            sn_sb_printf(sb, "\\u%04x", cp);
        s += w;
    }
    sn_sb_puts(sb, "\"");
}

static void put_pair(sn_strbuf *sb, int h, int w) {
    if (h == w)
        sn_sb_printf(sb, "%d", h);
    else
        sn_sb_printf(sb, "[%d, %d]", h, w);
}

static void put_float_list(sn_strbuf *sb, const float *v, int n) {
    sn_sb_puts(sb, "[");
    for (int i = 0; i < n; i++) {
        if (i) sn_sb_puts(sb, ", ");
        put_float(sb, v[i]);
    }
    sn_sb_puts(sb, "]");
}

/* ---- sections -------------------------------------------------------------------------- */

static void put_neuron(sn_strbuf *sb, const sn_neuron_spec *n, int lif, int with_model,
                       sn_layer_kind model) {
    sn_sb_puts(sb, "{");
    if (with_model) sn_sb_printf(sb, "model: %s, ", model == SN_LAYER_LIF ? "lif" : "if");
    if (lif) {
        sn_sb_puts(sb, "tau: ");
        put_float(sb, n->tau);
        sn_sb_puts(sb, ", decay_input: ");
        put_bool(sb, n->decay_input);
        sn_sb_puts(sb, ", ");
    }
    sn_sb_puts(sb, "v_threshold: ");
    put_float(sb, n->v_threshold);
    sn_sb_puts(sb, ", v_reset: ");
    if (n->hard_reset)
        put_float(sb, n->v_reset);
    else
        sn_sb_puts(sb, "none");
    sn_sb_puts(sb, ", detach_reset: ");
    put_bool(sb, n->detach_reset);
    sn_sb_printf(sb,
                 ", surrogate: %s, alpha: ", n->surrogate == SN_SURR_SIGMOID ? "sigmoid" : "atan");
    put_float(sb, n->alpha);
    sn_sb_puts(sb, "}");
}

static void put_layer(sn_strbuf *sb, const sn_layer_spec *l) {
    sn_sb_puts(sb, sn_layer_kind_name(l->kind));
    const char *wq = l->weight_quant == SN_WQ_TERNARY   ? "ternary"
                     : l->weight_quant == SN_WQ_INTEGER ? "integer"
                                                        : "float";
    switch (l->kind) {
    case SN_LAYER_CONV2D:
        sn_sb_printf(sb, ": {out_channels: %d, kernel_size: ", l->out_channels);
        put_pair(sb, l->kernel_h, l->kernel_w);
        sn_sb_puts(sb, ", stride: ");
        put_pair(sb, l->stride_h, l->stride_w);
        sn_sb_puts(sb, ", padding: ");
        put_pair(sb, l->pad_h, l->pad_w);
        sn_sb_printf(sb, ", bias: %s, weights: %s}", l->bias ? "true" : "false", wq);
        break;
    case SN_LAYER_LINEAR:
        sn_sb_printf(sb, ": {out_features: %d, ", l->out_features);
        if (l->in_features > 0) sn_sb_printf(sb, "in_features: %d, ", l->in_features);
        sn_sb_printf(sb, "bias: %s, weights: %s}", l->bias ? "true" : "false", wq);
        break;
    case SN_LAYER_MAXPOOL:
    case SN_LAYER_AVGPOOL:
    case SN_LAYER_SUMPOOL:
        sn_sb_puts(sb, ": {kernel_size: ");
        put_pair(sb, l->kernel_h, l->kernel_w);
        sn_sb_puts(sb, ", stride: ");
        put_pair(sb, l->stride_h, l->stride_w);
        sn_sb_puts(sb, ", padding: ");
        put_pair(sb, l->pad_h, l->pad_w);
        if (l->spike_gate) sn_sb_puts(sb, ", spike_gate: true");
        sn_sb_puts(sb, "}");
        break;
    case SN_LAYER_BATCHNORM:
        sn_sb_puts(sb, ": {eps: ");
        put_float(sb, l->bn_eps);
        sn_sb_puts(sb, ", momentum: ");
        put_float(sb, l->bn_momentum);
        sn_sb_puts(sb, "}");
        break;
    case SN_LAYER_DROPOUT:
        sn_sb_puts(sb, ": {p: ");
        put_float(sb, l->dropout_p);
        sn_sb_puts(sb, "}");
        break;
    case SN_LAYER_QUANT:
        sn_sb_printf(sb, ": {k: %d, B: ", l->quant_k);
        put_float(sb, l->quant_B);
        sn_sb_puts(sb, "}");
        break;
    case SN_LAYER_IF:
    case SN_LAYER_LIF:
        sn_sb_puts(sb, ": ");
        put_neuron(sb, &l->neuron, l->kind == SN_LAYER_LIF, 0, SN_LAYER_IF);
        break;
    case SN_LAYER_THRESHOLD:
        sn_sb_printf(sb, ": {units: %d}", l->units);
        break;
    case SN_LAYER_NIR_LIF:
    case SN_LAYER_NIR_LI:
        sn_sb_puts(sb, ": {dt: ");
        put_float(sb, l->ct.dt);
        sn_sb_printf(sb, ", discretization: %s", l->ct.exact ? "exact" : "euler");
        if (l->kind == SN_LAYER_NIR_LIF)
            sn_sb_printf(sb, ", reset: %s, compare: %s", l->ct.subtract ? "subtract" : "value",
                         l->ct.ge ? "ge" : "gt");
        sn_sb_puts(sb, "}");
        break;
    case SN_LAYER_NIR_IF:
        sn_sb_printf(sb, ": {reset: %s, compare: %s}", l->ct.subtract ? "subtract" : "value",
                     l->ct.ge ? "ge" : "gt");
        break;
    case SN_LAYER_NIR_THRESHOLD:
        sn_sb_printf(sb, ": {compare: %s}", l->ct.ge ? "ge" : "gt");
        break;
    default:
        break;
    }
}

static void put_comment(sn_strbuf *sb, const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        sn_sb_printf(sb, "%c", ch < 0x20 || ch == 0x7F ? '?' : ch);
    }
}

static void put_network(sn_strbuf *sb, const sn_model_spec *spec) {
    sn_sb_puts(sb, "network:\n");
    if (spec->from_vgg) {
        sn_sb_puts(sb, "  # expanded from vgg.cfg [");
        for (int i = 0; i < spec->vgg_cfg_len; i++) {
            if (i) sn_sb_puts(sb, ", ");
            if (spec->vgg_cfg[i])
                sn_sb_printf(sb, "%d", spec->vgg_cfg[i]);
            else
                sn_sb_puts(sb, "M");
        }
        sn_sb_puts(sb, "]\n");
    }
    const char *open = NULL; /* the container being written */
    for (int i = 0; i < spec->nlayers; i++) {
        const sn_layer_spec *l = &spec->layers[i];
        if (l->index < 0) {
            /* functional (no Sequential slot): between containers */
            sn_sb_printf(sb, "  - %s  # functional, no index\n", sn_layer_kind_name(l->kind));
            open = NULL;
            continue;
        }
        if (!open || strcmp(open, l->module) != 0) {
            sn_sb_printf(sb, "  - %s:\n", l->module);
            open = l->module;
        }
        sn_sb_puts(sb, "      - ");
        put_layer(sb, l);
        sn_sb_printf(sb, "  # %s.%d\n", l->module, l->index);
    }
}

static const char *dataset_word(sn_dataset_kind d) {
    switch (d) {
    case SN_DATA_CIFAR10:
        return "cifar10";
    case SN_DATA_CIFAR100:
        return "cifar100";
    case SN_DATA_MNIST:
        return "mnist";
    default:
        return "none";
    }
}

static void put_data(sn_strbuf *sb, const sn_data_spec *d) {
    sn_sb_printf(sb, "data:\n  dataset: %s\n", dataset_word(d->dataset));
    if (d->path[0]) {
        sn_sb_puts(sb, "  path: ");
        put_string(sb, d->path);
        sn_sb_puts(sb, "\n");
    }
    sn_sb_puts(sb, "  scale: ");
    put_float(sb, d->scale);
    sn_sb_puts(sb, "\n");
    if (d->nmean) {
        sn_sb_puts(sb, "  mean: ");
        put_float_list(sb, d->mean, d->nmean);
        sn_sb_puts(sb, "\n");
    }
    if (d->nstd) {
        sn_sb_puts(sb, "  std: ");
        put_float_list(sb, d->std, d->nstd);
        sn_sb_puts(sb, "\n");
    }
    sn_sb_puts(sb, "  per_image_standardization: ");
    put_bool(sb, d->per_image_standardization);
    const sn_augment_spec *a = &d->augment;
    sn_sb_puts(sb, "\n  augment:\n");
    if (a->random_crop_size || a->random_crop_padding) {
        sn_sb_puts(sb, "    random_crop: {");
        if (a->random_crop_size) sn_sb_printf(sb, "size: %d", a->random_crop_size);
        if (a->random_crop_size && a->random_crop_padding) sn_sb_puts(sb, ", ");
        if (a->random_crop_padding) sn_sb_printf(sb, "padding: %d", a->random_crop_padding);
        sn_sb_puts(sb, "}\n");
    }
    sn_sb_puts(sb, "    hflip: ");
    put_bool(sb, a->hflip);
    sn_sb_puts(sb, "\n    brightness: ");
    put_float(sb, a->brightness);
    sn_sb_puts(sb, "\n");
    if (a->contrast_hi > 0) {
        float r[2] = {a->contrast_lo, a->contrast_hi};
        sn_sb_puts(sb, "    contrast: ");
        put_float_list(sb, r, 2);
        sn_sb_puts(sb, "\n");
    }
}

static void put_key_float(sn_strbuf *sb, const char *key, float v) {
    sn_sb_printf(sb, "  %s: ", key);
    put_float(sb, v);
    sn_sb_puts(sb, "\n");
}

static void put_train(sn_strbuf *sb, const sn_train_spec *t) {
    static const char *const SCHED[] = {"constant", "multistep", "cosine"};
    static const char *const INIT[] = {"torch_default", "kaiming_normal", "kaiming_uniform",
                                       "xavier_uniform"};
    sn_sb_printf(sb, "train:\n  optimizer: %s\n", t->optimizer == SN_OPT_ADAM ? "adam" : "sgd");
    put_key_float(sb, "lr", t->lr);
    if (t->optimizer == SN_OPT_SGD) {
        put_key_float(sb, "momentum", t->momentum);
        sn_sb_printf(sb, "  nesterov: %s\n", t->nesterov ? "true" : "false");
    } else {
        float b[2] = {t->beta1, t->beta2};
        sn_sb_puts(sb, "  betas: ");
        put_float_list(sb, b, 2);
        sn_sb_puts(sb, "\n");
        put_key_float(sb, "eps", t->eps);
    }
    put_key_float(sb, "weight_decay", t->weight_decay);
    sn_sb_printf(sb, "  schedule: %s\n",
                 (unsigned)t->schedule < 3 ? SCHED[t->schedule] : "constant");
    if (t->schedule == SN_SCHED_MULTISTEP) {
        sn_sb_puts(sb, "  milestones: [");
        for (int i = 0; i < t->nmilestones; i++)
            sn_sb_printf(sb, "%s%d", i ? ", " : "", t->milestones[i]);
        sn_sb_puts(sb, "]\n");
        put_key_float(sb, "gamma", t->gamma);
    }
    if (t->schedule == SN_SCHED_COSINE) put_key_float(sb, "min_lr", t->min_lr);
    sn_sb_printf(sb, "  warmup_epochs: %d\n", t->warmup_epochs);
    put_key_float(sb, "warmup_start_lr", t->warmup_start_lr);
    sn_sb_printf(sb, "  epochs: %d\n  batch_size: %d\n", t->epochs, t->batch_size);
    put_key_float(sb, "label_smoothing", t->label_smoothing);
    sn_sb_printf(sb, "  loss: %s\n", t->loss == SN_LOSS_MSE ? "mse" : "cross_entropy");
    sn_sb_printf(sb, "  init: %s\n", (unsigned)t->init < 4 ? INIT[t->init] : "torch_default");
    if (t->init == SN_INIT_KAIMING_NORMAL || t->init == SN_INIT_KAIMING_UNIFORM)
        sn_sb_printf(sb, "  init_mode: %s\n", t->init_fan_out ? "fan_out" : "fan_in");
    sn_sb_printf(sb, "  seed: %llu\n", (unsigned long long)t->seed);
    sn_sb_printf(sb, "  shuffle: %s\n", t->shuffle ? "true" : "false");
    sn_sb_printf(sb, "  sync_bn: %s\n", t->sync_bn ? "true" : "false");
}

void sn_spec_print_yaml(const sn_model_spec *spec, sn_strbuf *sb) {
    sn_sb_puts(sb, "# Resolved model (every value explicit)");
    if (spec->source_path[0]) {
        sn_sb_puts(sb, " from ");
        put_comment(sb, spec->source_path);
    }
    sn_sb_puts(sb, "\nname: ");
    put_string(sb, spec->name);
    sn_sb_printf(sb, "\ninput: {channels: %d, height: %d, width: %d}\nnum_classes: %d\n",
                 spec->in_channels, spec->in_height, spec->in_width, spec->num_classes);
    if (spec->quant.enabled) {
        sn_sb_printf(sb, "quant: {k: %d, B: ", spec->quant.k);
        put_float(sb, spec->quant.B);
        sn_sb_puts(sb, ", ternary_threshold: ");
        put_float(sb, spec->quant.ternary_threshold);
        sn_sb_puts(sb, "}\n");
    }
    if (spec->snn.enabled) {
        sn_sb_printf(sb, "snn:\n  T: %d\n  encoder: %s\n", spec->snn.T,
                     spec->snn.encoder == SN_ENC_POISSON ? "poisson" : "direct");
        if (spec->snn.input_scale != 1.0f) {
            sn_sb_puts(sb, "  input_scale: ");
            put_float(sb, spec->snn.input_scale);
            sn_sb_puts(sb, "\n");
        }
        sn_sb_printf(sb, "  readout: %s\n  neuron: ",
                     spec->snn.readout == SN_READOUT_MEMBRANE ? "membrane" : "rate");
        put_neuron(sb, &spec->snn.neuron, 1, 1, spec->snn.neuron_kind);
        sn_sb_puts(sb, "\n");
    }
    put_network(sb, spec);
    put_data(sb, &spec->data);
    put_train(sb, &spec->train);
}

/* ---- comparison ------------------------------------------------------------------------ */

#define DIFF(cond, ...)                                                                            \
    do {                                                                                           \
        if (cond) {                                                                                \
            if (why && n) snprintf(why, n, __VA_ARGS__);                                           \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)

static int neuron_equal(const sn_neuron_spec *a, const sn_neuron_spec *b, const char *what,
                        char *why, size_t n) {
    DIFF(a->tau != b->tau, "%s: tau %g vs %g", what, (double)a->tau, (double)b->tau);
    DIFF(a->v_threshold != b->v_threshold, "%s: v_threshold differs", what);
    DIFF(a->hard_reset != b->hard_reset, "%s: hard_reset differs", what);
    DIFF(a->v_reset != b->v_reset, "%s: v_reset differs", what);
    DIFF(a->decay_input != b->decay_input, "%s: decay_input differs", what);
    DIFF(a->detach_reset != b->detach_reset, "%s: detach_reset differs", what);
    DIFF(a->surrogate != b->surrogate, "%s: surrogate differs", what);
    DIFF(a->alpha != b->alpha, "%s: alpha %g vs %g", what, (double)a->alpha, (double)b->alpha);
    return 1;
}

int sn_spec_equal(const sn_model_spec *a, const sn_model_spec *b, char *why, size_t n) {
    if (why && n) why[0] = '\0';
    DIFF(strcmp(a->name, b->name) != 0, "name '%s' vs '%s'", a->name, b->name);
    DIFF(a->in_channels != b->in_channels || a->in_height != b->in_height ||
             a->in_width != b->in_width,
         "input differs");
    DIFF(a->num_classes != b->num_classes, "num_classes differs");
    DIFF(a->nlayers != b->nlayers, "layer count %d vs %d", a->nlayers, b->nlayers);
    for (int i = 0; i < a->nlayers; i++) {
        const sn_layer_spec *x = &a->layers[i], *y = &b->layers[i];
        char what[128];
        snprintf(what, sizeof what, "layer %d (%s.%d %s)", i, x->module, x->index,
                 sn_layer_kind_name(x->kind));
        DIFF(x->kind != y->kind, "%s: kind differs", what);
        DIFF(strcmp(x->module, y->module) != 0, "%s: module '%s' vs '%s'", what, x->module,
             y->module);
        DIFF(x->index != y->index, "%s: index %d vs %d", what, x->index, y->index);
        DIFF(x->out_channels != y->out_channels, "%s: out_channels differs", what);
        DIFF(x->kernel_h != y->kernel_h || x->kernel_w != y->kernel_w, "%s: kernel differs", what);
        DIFF(x->stride_h != y->stride_h || x->stride_w != y->stride_w, "%s: stride differs", what);
        DIFF(x->pad_h != y->pad_h || x->pad_w != y->pad_w, "%s: padding differs", what);
        DIFF(x->in_features != y->in_features, "%s: in_features differs", what);
        DIFF(x->out_features != y->out_features, "%s: out_features differs", what);
        DIFF(x->bias != y->bias, "%s: bias differs", what);
        DIFF(x->weight_quant != y->weight_quant, "%s: weights differ", what);
        DIFF(x->bn_eps != y->bn_eps || x->bn_momentum != y->bn_momentum, "%s: batchnorm differs",
             what);
        DIFF(x->dropout_p != y->dropout_p, "%s: dropout p differs", what);
        DIFF(x->quant_k != y->quant_k || x->quant_B != y->quant_B, "%s: quant differs", what);
        DIFF(x->units != y->units, "%s: units differ", what);
        DIFF(x->spike_gate != y->spike_gate, "%s: spike_gate differs", what);
        DIFF(x->ct.dt != y->ct.dt || x->ct.exact != y->ct.exact ||
                 x->ct.subtract != y->ct.subtract || x->ct.ge != y->ct.ge,
             "%s: dt, discretization or reset differs", what);
        if (!neuron_equal(&x->neuron, &y->neuron, what, why, n)) return 0;
    }
    const sn_quant_spec *qa = &a->quant, *qb = &b->quant;
    DIFF(qa->enabled != qb->enabled || qa->k != qb->k || qa->B != qb->B ||
             qa->ternary_threshold != qb->ternary_threshold,
         "quant section differs");
    const sn_snn_spec *sa = &a->snn, *sb = &b->snn;
    DIFF(sa->enabled != sb->enabled || sa->T != sb->T || sa->encoder != sb->encoder ||
             sa->readout != sb->readout || sa->neuron_kind != sb->neuron_kind ||
             sa->input_scale != sb->input_scale,
         "snn section differs");
    if (!neuron_equal(&sa->neuron, &sb->neuron, "snn.neuron", why, n)) return 0;
    const sn_data_spec *da = &a->data, *db = &b->data;
    DIFF(da->dataset != db->dataset, "data.dataset differs");
    DIFF(strcmp(da->path, db->path) != 0, "data.path differs");
    DIFF(da->scale != db->scale, "data.scale %g vs %g", (double)da->scale, (double)db->scale);
    DIFF(da->nmean != db->nmean || da->nstd != db->nstd, "data.mean/std counts differ");
    for (int i = 0; i < da->nmean; i++) DIFF(da->mean[i] != db->mean[i], "data.mean differs");
    for (int i = 0; i < da->nstd; i++) DIFF(da->std[i] != db->std[i], "data.std differs");
    DIFF(da->per_image_standardization != db->per_image_standardization,
         "data.per_image_standardization differs");
    const sn_augment_spec *ga = &da->augment, *gb = &db->augment;
    DIFF(ga->random_crop_size != gb->random_crop_size ||
             ga->random_crop_padding != gb->random_crop_padding || ga->hflip != gb->hflip ||
             ga->brightness != gb->brightness || ga->contrast_lo != gb->contrast_lo ||
             ga->contrast_hi != gb->contrast_hi,
         "data.augment differs");
    const sn_train_spec *ta = &a->train, *tb = &b->train;
    DIFF(ta->optimizer != tb->optimizer, "train.optimizer differs");
    DIFF(ta->lr != tb->lr, "train.lr %g vs %g", (double)ta->lr, (double)tb->lr);
    DIFF(ta->momentum != tb->momentum || ta->nesterov != tb->nesterov, "train.momentum differs");
    DIFF(ta->weight_decay != tb->weight_decay, "train.weight_decay differs");
    DIFF(ta->beta1 != tb->beta1 || ta->beta2 != tb->beta2 || ta->eps != tb->eps,
         "train adam settings differ");
    DIFF(ta->schedule != tb->schedule || ta->nmilestones != tb->nmilestones ||
             ta->gamma != tb->gamma || ta->min_lr != tb->min_lr,
         "train schedule differs");
    for (int i = 0; i < ta->nmilestones; i++)
        DIFF(ta->milestones[i] != tb->milestones[i], "train.milestones differ");
    DIFF(ta->warmup_epochs != tb->warmup_epochs || ta->warmup_start_lr != tb->warmup_start_lr,
         "train warmup differs");
    DIFF(ta->epochs != tb->epochs || ta->batch_size != tb->batch_size, "train epochs/batch differ");
    DIFF(ta->label_smoothing != tb->label_smoothing || ta->loss != tb->loss, "train loss differs");
    DIFF(ta->init != tb->init || ta->init_fan_out != tb->init_fan_out, "train init differs");
    DIFF(ta->seed != tb->seed || ta->shuffle != tb->shuffle, "train seed/shuffle differ");
    DIFF(ta->sync_bn != tb->sync_bn, "train.sync_bn differs");
    return 1;
}
