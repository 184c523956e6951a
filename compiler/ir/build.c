#include "build.h"

#include <stdio.h>
#include <string.h>

#include "../../runtime/core/util.h"

typedef struct builder {
    const sn_model_spec *spec;
    sn_graph *g;
    sn_status *st;
    int cur;          /* current activation tensor */
    int layer;        /* index of the spec layer being built */
    int spike_max;    /* the current activation holds whole numbers in [0, spike_max] (0: not
                         known to) */
    int spiking_seen; /* a spiking layer (neuron / threshold units) was built */
    const sn_build_opts *opts;
    char where[SN_PATH_MAX + 32];
    char name[SN_IR_NAME_MAX];
} builder;

static void set_layer(builder *b, int i) {
    const sn_layer_spec *l = &b->spec->layers[i];
    b->layer = i;
    if (l->loc.line > 0)
        snprintf(b->where, sizeof b->where, "%s:%d:%d", b->spec->source_path, l->loc.line,
                 l->loc.col);
    else
        snprintf(b->where, sizeof b->where, "%s", b->spec->source_path);
    if (l->index >= 0)
        snprintf(b->name, sizeof b->name, "%s.%d", l->module, l->index);
    else
        snprintf(b->name, sizeof b->name, "%s.%s", l->module, sn_layer_kind_name(l->kind));
}

static int add_param(builder *b, const char *suffix, sn_tensor_kind kind, sn_dtype dtype,
                     sn_shape shape, sn_param_role role, int64_t fan_in, int64_t fan_out) {
    char name[SN_IR_NAME_MAX];
    int w = snprintf(name, sizeof name, "%s.%s", b->name, suffix);
    if (w < 0 || (size_t)w >= sizeof name) {
        sn_fail(b->st, SN_ERR_INPUT, "%s: parameter name %s.%s is too long", b->where, b->name,
                suffix);
        return -1;
    }
    int t = sn_graph_add_tensor(b->g, kind, dtype, &shape, 0, name, b->st);
    if (t >= 0) {
        b->g->tensors[t].role = role;
        b->g->tensors[t].fan_in = fan_in;
        b->g->tensors[t].fan_out = fan_out;
    }
    return t;
}

static int add_node(builder *b, sn_op op, const int *in, int nin, const sn_attrs *a,
                    const char *name) {
    int t =
        sn_graph_add_node(b->g, op, in, nin, a, name ? name : b->name, b->layer, b->where, b->st);
    if (t >= 0) b->cur = t;
    return t;
}

static const sn_tensor *cur_t(builder *b) {
    return &b->g->tensors[b->cur];
}

/* Channel count of the current activation (the dim after the leading dims). */
static int64_t cur_channels(builder *b) {
    const sn_tensor *t = cur_t(b);
    return t->shape.rank > t->lead ? t->shape.d[t->lead] : 0;
}

sn_neuron_params sn_neuron_from_spec(const sn_layer_spec *l) {
    sn_neuron_params p;
    memset(&p, 0, sizeof p);
    p.model = l->kind == SN_LAYER_LIF ? SN_NEURON_LIF : SN_NEURON_IF;
    p.tau = l->neuron.tau;
    p.v_threshold = l->neuron.v_threshold;
    p.hard_reset = l->neuron.hard_reset;
    p.v_reset = l->neuron.hard_reset ? l->neuron.v_reset : 0.0f;
    p.decay_input = l->neuron.decay_input;
    p.detach_reset = l->neuron.detach_reset;
    p.surrogate = l->neuron.surrogate == SN_SURR_SIGMOID ? SN_SG_SIGMOID : SN_SG_ATAN;
    p.alpha = l->neuron.alpha;
    return p;
}

sn_nir_neuron_params sn_nir_neuron_from_spec(const sn_layer_spec *l) {
    sn_nir_neuron_params p;
    memset(&p, 0, sizeof p);
    switch (l->kind) {
    case SN_LAYER_NIR_LIF:
        p.model = SN_NIR_LIF;
        break;
    case SN_LAYER_NIR_LI:
        p.model = SN_NIR_LI;
        break;
    case SN_LAYER_NIR_I:
        p.model = SN_NIR_I;
        break;
    case SN_LAYER_NIR_THRESHOLD:
        p.model = SN_NIR_THRESHOLD;
        break;
    default:
        p.model = SN_NIR_IF;
        break;
    }
    int leaky = p.model == SN_NIR_LIF || p.model == SN_NIR_LI;
    int spiking = p.model == SN_NIR_LIF || p.model == SN_NIR_IF;
    p.dt = leaky ? l->ct.dt : 0.0f;
    p.exact = leaky ? l->ct.exact : 0;
    p.subtract = spiking ? l->ct.subtract : 0;
    p.ge = spiking || p.model == SN_NIR_THRESHOLD ? l->ct.ge : 0;
    return p;
}

const char *sn_nir_param_name(sn_nir_model model, int which) {
    static const char *const names[SN_NIRP_COUNT] = {"tau", "r", "v_leak", "v_threshold",
                                                     "v_reset"};
    if (which == SN_NIRP_V_THRESHOLD && model == SN_NIR_THRESHOLD) return "threshold";
    return (unsigned)which < SN_NIRP_COUNT ? names[which] : "?";
}

static int want_record(const builder *b) {
    for (int i = 0; i < b->opts->nrecord; i++)
        if (!strcmp(b->opts->record[i], b->name)) return 1;
    return 0;
}

/* The per-sample shape of the current activation (its dims after the leading ones). */
static sn_shape cur_sample_shape(builder *b) {
    const sn_tensor *x = cur_t(b);
    return sn_shape_make(x->shape.rank - x->lead, x->shape.d + x->lead);
}

/* Weight (optionally ternarized) and bias of a conv/linear layer; returns the weight
 * tensor the op should read. */
static int weight_input(builder *b, const sn_layer_spec *l, sn_shape shape, int64_t fan_in,
                        int64_t fan_out) {
    int w = add_param(b, "weight", SN_T_PARAM, SN_F32, shape, SN_ROLE_WEIGHT, fan_in, fan_out);
    if (w < 0 || l->weight_quant != SN_WQ_TERNARY) return w;
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.ternary_threshold = b->spec->quant.ternary_threshold;
    char name[SN_IR_NAME_MAX];
    if (snprintf(name, sizeof name, "%s.ternary", b->name) >= (int)sizeof name) {
        sn_fail(b->st, SN_ERR_INPUT, "%s: layer name %s is too long", b->where, b->name);
        return -1;
    }
    int save = b->cur;
    int wt = sn_graph_add_node(b->g, SN_OP_TERNARY, &w, 1, &a, name, b->layer, b->where, b->st);
    b->cur = save;
    return wt;
}

static sn_code build_layer(builder *b, const sn_layer_spec *l) {
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.kh = l->kernel_h;
    a.kw = l->kernel_w;
    a.sh = l->stride_h;
    a.sw = l->stride_w;
    a.ph = l->pad_h;
    a.pw = l->pad_w;
    switch (l->kind) {
    case SN_LAYER_CONV2D: {
        const sn_tensor *x = cur_t(b);
        if (x->shape.rank != x->lead + 3)
            return sn_fail(b->st, SN_ERR_INPUT,
                           "%s: layer %s (conv2d) needs a [C, H, W] feature map, but its input "
                           "is already flat",
                           b->where, b->name);
        int64_t c = cur_channels(b);
        int64_t khw = (int64_t)l->kernel_h * l->kernel_w;
        int w = weight_input(b, l, sn_shape4(l->out_channels, c, l->kernel_h, l->kernel_w), c * khw,
                             l->out_channels * khw);
        if (w < 0) return b->st->code;
        int in[3] = {b->cur, w, -1};
        a.has_bias = l->bias;
        a.spike_input = b->g->training ? 0 : b->spike_max;
        a.int_weights = l->weight_quant == SN_WQ_INTEGER;
        if (l->bias) {
            in[2] = add_param(b, "bias", SN_T_PARAM, SN_F32, sn_shape1(l->out_channels),
                              SN_ROLE_BIAS, c * khw, l->out_channels * khw);
            if (in[2] < 0) return b->st->code;
        }
        return add_node(b, SN_OP_CONV2D, in, l->bias ? 3 : 2, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_LINEAR: {
        const sn_tensor *x = cur_t(b);
        char sb[96];
        if (x->shape.rank != x->lead + 1)
            return sn_fail(b->st, SN_ERR_INPUT,
                           "%s: layer %s (linear) needs a flat input but gets %s; add a flatten "
                           "layer before it",
                           b->where, b->name, sn_shape_str(&x->shape, sb, sizeof sb));
        int64_t k = x->shape.d[x->lead];
        if (l->in_features > 0 && l->in_features != k)
            return sn_fail(b->st, SN_ERR_INPUT,
                           "%s: layer %s (linear) expects %d input features but the layers "
                           "before it produce %lld: the classifier does not fit the feature size "
                           "(check the input size and the pooling layers)",
                           b->where, b->name, l->in_features, (long long)k);
        int w = weight_input(b, l, sn_shape2(l->out_features, k), k, l->out_features);
        if (w < 0) return b->st->code;
        int in[3] = {b->cur, w, -1};
        a.has_bias = l->bias;
        a.spike_input = b->g->training ? 0 : b->spike_max;
        a.int_weights = l->weight_quant == SN_WQ_INTEGER;
        if (l->bias) {
            in[2] = add_param(b, "bias", SN_T_PARAM, SN_F32, sn_shape1(l->out_features),
                              SN_ROLE_BIAS, k, l->out_features);
            if (in[2] < 0) return b->st->code;
        }
        return add_node(b, SN_OP_LINEAR, in, l->bias ? 3 : 2, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_SUMPOOL:
        return add_node(b, SN_OP_SUMPOOL, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_SCALE: {
        int in[2] = {b->cur, -1};
        sn_shape per = cur_sample_shape(b);
        int64_t n = sn_shape_numel(&per);
        in[1] = add_param(b, "scale", SN_T_BUFFER, SN_F32, per, SN_ROLE_ONES, n, n);
        if (in[1] < 0) return b->st->code;
        return add_node(b, SN_OP_SCALE, in, 2, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_NIR_IF:
    case SN_LAYER_NIR_LIF:
    case SN_LAYER_NIR_LI:
    case SN_LAYER_NIR_I:
    case SN_LAYER_NIR_THRESHOLD: {
        a.nir = sn_nir_neuron_from_spec(l);
        a.stateful = b->g->step_major && a.nir.model != SN_NIR_THRESHOLD;
        a.record_v = want_record(b);
        int in[SN_IR_MAX_IN] = {b->cur};
        int nin = 1;
        sn_shape per = cur_sample_shape(b);
        int64_t n = sn_shape_numel(&per);
        for (int k = 0; k < SN_NIRP_COUNT; k++) {
            if (!sn_nir_neuron_uses(&a.nir, k)) continue;
            sn_param_role role =
                k == SN_NIRP_V_LEAK || k == SN_NIRP_V_RESET ? SN_ROLE_ZEROS : SN_ROLE_ONES;
            in[nin] = add_param(b, sn_nir_param_name(a.nir.model, k), SN_T_BUFFER, SN_F32, per,
                                role, n, n);
            if (in[nin++] < 0) return b->st->code;
        }
        return add_node(b, SN_OP_NIR_NEURON, in, nin, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_MAXPOOL:
    case SN_LAYER_AVGPOOL:
        a.spike_gate = l->spike_gate && !b->g->training;
        a.stateful = a.spike_gate && b->g->step_major;
        return add_node(b, l->kind == SN_LAYER_MAXPOOL ? SN_OP_MAXPOOL : SN_OP_AVGPOOL, &b->cur, 1,
                        &a, NULL) < 0
                   ? b->st->code
                   : SN_OK;
    case SN_LAYER_RELU:
        return add_node(b, SN_OP_RELU, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_BATCHNORM: {
        const sn_tensor *x = cur_t(b);
        if (x->shape.rank != x->lead + 1 && x->shape.rank != x->lead + 3)
            return sn_fail(b->st, SN_ERR_INPUT,
                           "%s: layer %s (batchnorm) needs [C] or [C, H, W] features", b->where,
                           b->name);
        int64_t c = cur_channels(b);
        int in[5] = {b->cur};
        in[1] = add_param(b, "weight", SN_T_PARAM, SN_F32, sn_shape1(c), SN_ROLE_BN_WEIGHT, c, c);
        in[2] = add_param(b, "bias", SN_T_PARAM, SN_F32, sn_shape1(c), SN_ROLE_BN_BIAS, c, c);
        in[3] =
            add_param(b, "running_mean", SN_T_BUFFER, SN_F32, sn_shape1(c), SN_ROLE_BN_MEAN, c, c);
        in[4] =
            add_param(b, "running_var", SN_T_BUFFER, SN_F32, sn_shape1(c), SN_ROLE_BN_VAR, c, c);
        sn_shape scalar = sn_shape_make(0, NULL);
        int cnt = add_param(b, "num_batches_tracked", SN_T_BUFFER, SN_I64, scalar, SN_ROLE_BN_COUNT,
                            1, 1);
        if (in[1] < 0 || in[2] < 0 || in[3] < 0 || in[4] < 0 || cnt < 0) return b->st->code;
        a.eps = l->bn_eps;
        a.momentum = l->bn_momentum;
        if (b->g->training) {
            int tin[6] = {in[0], in[1], in[2], in[3], in[4], cnt};
            a.training = 1;
            a.sync = b->spec->train.sync_bn;
            return add_node(b, SN_OP_BATCHNORM_TRAIN, tin, 6, &a, NULL) < 0 ? b->st->code : SN_OK;
        }
        return add_node(b, SN_OP_BATCHNORM, in, 5, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_DROPOUT:
        a.p = l->dropout_p;
        a.training = b->g->training;
        a.stream = sn_hash_str(SN_HASH_INIT, b->name); /* shared with the backward pass */
        return add_node(b, SN_OP_DROPOUT, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_FLATTEN:
        return add_node(b, SN_OP_FLATTEN, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_QUANT:
        a.quant.k = l->quant_k;
        a.quant.B = l->quant_B;
        return add_node(b, SN_OP_QUANT, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_IF:
    case SN_LAYER_LIF:
        a.neuron = sn_neuron_from_spec(l);
        a.stateful = b->g->step_major;
        a.record_v = want_record(b);
        return add_node(b, SN_OP_NEURON, &b->cur, 1, &a, NULL) < 0 ? b->st->code : SN_OK;
    case SN_LAYER_THRESHOLD: {
        const sn_tensor *x = cur_t(b);
        if (x->shape.rank != x->lead + 1 && x->shape.rank != x->lead + 3)
            return sn_fail(b->st, SN_ERR_INPUT,
                           "%s: layer %s (threshold) needs [C] or [C, H, W] features", b->where,
                           b->name);
        int64_t c = cur_channels(b);
        int in[2] = {b->cur, -1};
        in[1] =
            add_param(b, "theta", SN_T_BUFFER, SN_F32, sn_shape2(c, l->units), SN_ROLE_THETA, c, c);
        if (in[1] < 0) return b->st->code;
        a.U = l->units;
        return add_node(b, SN_OP_THRESHOLD, in, 2, &a, NULL) < 0 ? b->st->code : SN_OK;
    }
    case SN_LAYER_KIND_COUNT:
        break;
    }
    return sn_fail(b->st, SN_ERR_INPUT, "%s: layer %s has an unknown kind", b->where, b->name);
}

static int spec_is_spiking(const sn_model_spec *spec) {
    if (spec->snn.enabled) return 1;
    for (int i = 0; i < spec->nlayers; i++)
        if (sn_layer_is_spiking(spec->layers[i].kind)) return 1;
    return 0;
}

/* What a layer leaves in the activation: whole numbers up to what bound (0: unknown). */
static int spike_bound_after(const sn_layer_spec *l, int before) {
    switch (l->kind) {
    case SN_LAYER_IF:
    case SN_LAYER_LIF:
    case SN_LAYER_NIR_IF:
    case SN_LAYER_NIR_LIF:
    case SN_LAYER_NIR_THRESHOLD:
        return 1;
    case SN_LAYER_THRESHOLD:
        return l->units;
    case SN_LAYER_SUMPOOL: /* window sums of counts: whole numbers up to before * window */
        return before > 0 && (int64_t)before * l->kernel_h * l->kernel_w <= 65535
                   ? before * l->kernel_h * l->kernel_w
                   : 0;
    case SN_LAYER_MAXPOOL:
    case SN_LAYER_FLATTEN:
    case SN_LAYER_DROPOUT: /* identity at evaluation (training graphs never see spikes here
                              as inputs of integer kernels) */
        return before;
    default:
        return 0;
    }
}

/* Spike deletion after the encoding layer (the first neuron / threshold-unit layer). */
static sn_code add_noise(builder *b, const sn_layer_spec *l) {
    sn_attrs a;
    memset(&a, 0, sizeof a);
    a.p = b->opts->noise;
    a.U = l->kind == SN_LAYER_THRESHOLD ? l->units : 1;
    char name[SN_IR_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.noise", b->name);
    a.stream = sn_hash_str(SN_HASH_INIT, name);
    return add_node(b, SN_OP_SPIKE_DROP, &b->cur, 1, &a, name) < 0 ? b->st->code : SN_OK;
}

const char *const sn_schedule_names[] = {"auto", "layer", "step", NULL};

static sn_code build_once(const sn_model_spec *spec, const sn_build_opts *opts, int step_major,
                          sn_graph *g, sn_status *st) {
    sn_graph_init(g);
    g->step_major = step_major;
    builder b;
    memset(&b, 0, sizeof b);
    b.opts = opts;
    b.spec = spec;
    b.g = g;
    b.st = st;
    b.layer = -1;
    snprintf(b.where, sizeof b.where, "%s", spec->source_path);
    sn_strlcpy(g->model, spec->name, sizeof g->model);
    if (opts->batch < 1) return sn_fail(st, SN_ERR_INPUT, "batch size must be >= 1");
    g->batch = opts->batch;
    g->num_classes = spec->num_classes;
    g->training = opts->training;

    int spiking = spec_is_spiking(spec);
    if (opts->sequence && (!spiking || step_major || opts->training)) {
        sn_fail(st, SN_ERR_INPUT,
                "%s: a recorded input sequence drives a spiking network at inference, all time "
                "steps of a layer at once (layer-major)",
                spec->source_path);
        goto fail;
    }
    if (opts->sequence) {
        int64_t T = opts->T > 0 ? opts->T : spec->snn.enabled ? spec->snn.T : 1;
        int64_t d[5] = {T, opts->batch, spec->in_channels, spec->in_height, spec->in_width};
        sn_shape in = sn_shape_make(5, d);
        g->input = sn_graph_add_tensor(g, SN_T_INPUT, SN_F32, &in, 2, "input", st);
        if (g->input < 0) goto fail;
        g->T = (int)T;
        b.cur = g->input;
    } else {
        sn_shape in = sn_shape4(opts->batch, spec->in_channels, spec->in_height, spec->in_width);
        g->input = sn_graph_add_tensor(g, SN_T_INPUT, SN_F32, &in, 1, "input", st);
        if (g->input < 0) goto fail;
        b.cur = g->input;
    }

    if (spiking && !opts->sequence) {
        sn_attrs a;
        memset(&a, 0, sizeof a);
        a.T = opts->T > 0 ? opts->T : spec->snn.enabled ? spec->snn.T : 1;
        a.input_scale = spec->snn.input_scale;
        g->T = a.T;
        if (step_major) a.T = 1; /* one step per run */
        b.spike_max = spec->snn.encoder == SN_ENC_POISSON ? 1 : 0;
        sn_op enc =
            spec->snn.encoder == SN_ENC_POISSON ? SN_OP_ENCODE_POISSON : SN_OP_ENCODE_DIRECT;
        if (add_node(&b, enc, &b.cur, 1, &a, "encoder") < 0) goto fail;
    }
    for (int i = 0; i < spec->nlayers; i++) {
        set_layer(&b, i);
        const sn_layer_spec *l = &spec->layers[i];
        if (build_layer(&b, l) != SN_OK) goto fail;
        b.spike_max = spike_bound_after(l, b.spike_max);
        if (sn_layer_is_spiking(l->kind) && l->kind != SN_LAYER_NIR_LI &&
            l->kind != SN_LAYER_NIR_I && !b.spiking_seen) {
            b.spiking_seen = 1;
            if (opts->noise > 0.0f && add_noise(&b, l) != SN_OK) goto fail;
        }
    }
    b.layer = -1;
    if (spiking) {
        sn_attrs a;
        memset(&a, 0, sizeof a);
        a.stateful = step_major;
        a.T = g->T;
        if (add_node(&b, SN_OP_TIME_MEAN, &b.cur, 1, &a, "readout") < 0) goto fail;
    }
    const sn_tensor *y = &g->tensors[b.cur];
    if (y->shape.rank != 2 || y->shape.d[1] != spec->num_classes) {
        char sb[96];
        const char *where = spec->nlayers ? b.where : spec->source_path;
        sn_fail(st, SN_ERR_INPUT,
                "%s: the network's output has shape %s but num_classes is %d: the last layer "
                "must produce [N, %d]",
                where, sn_shape_str(&y->shape, sb, sizeof sb), spec->num_classes,
                spec->num_classes);
        goto fail;
    }
    g->output = b.cur;
    if (opts->with_loss) {
        sn_shape ls = sn_shape1(opts->batch);
        g->label = sn_graph_add_tensor(g, SN_T_LABEL, SN_I32, &ls, 1, "label", st);
        if (g->label < 0) goto fail;
        sn_attrs a;
        memset(&a, 0, sizeof a);
        a.label_smoothing = spec->train.label_smoothing;
        int in2[2] = {g->output, g->label};
        sn_op op = spec->train.loss == SN_LOSS_MSE ? SN_OP_MSE_ONEHOT : SN_OP_SOFTMAX_CE;
        g->loss = sn_graph_add_node(g, op, in2, 2, &a, "loss", -1, spec->source_path, st);
        if (g->loss < 0) goto fail;
    }
    return SN_OK;
fail:
    sn_graph_free(g);
    sn_graph_init(g);
    return st->code ? st->code : SN_ERR_INPUT;
}

sn_code sn_graph_build(const sn_model_spec *spec, const sn_build_opts *opts, sn_graph *g,
                       sn_status *st) {
    int spiking = spec_is_spiking(spec);
    if (opts->schedule == SN_SCHED_STEP && (!spiking || opts->training))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the step-major schedule applies to spiking networks at inference "
                       "(training runs all time steps of a layer at once)",
                       spec->source_path);
    int step = opts->schedule == SN_SCHED_STEP;
    if (build_once(spec, opts, step, g, st) != SN_OK) return st->code;
    if (opts->schedule != SN_SCHED_AUTO || !spiking || opts->training || opts->sequence ||
        g->T == 1)
        return SN_OK;
    int64_t bytes = 0;
    for (int t = 0; t < g->ntensors; t++)
        if (g->tensors[t].kind == SN_T_ACT)
            bytes += sn_shape_numel(&g->tensors[t].shape) * (int64_t)sizeof(float);
    if (bytes <= SN_LAYER_MAJOR_BUDGET) return SN_OK;
    sn_graph_free(g);
    return build_once(spec, opts, 1, g, st);
}
