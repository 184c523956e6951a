/* Spiking model + weights -> NIR document (docs/nir.md).
 *
 * The model is built into its inference graph (batch 1) and each node becomes NIR nodes,
 * keyed by the layer name ("features.0"), chained by edges from "input" to "output":
 *   encode_direct     nothing, or Scale (input_scale != 1)
 *   conv2d (+ batchnorm folded)   Conv2d;  linear (+ batchnorm)   Affine / Linear
 *   avgpool / sumpool AvgPool2d / SumPool2d;   flatten   Flatten (start 0, end -1)
 *   if / lif          IF / LIF (tau = tau_snnc * dt, r, v_leak = the reset value)
 *   nir_*             IF / LIF / LI / I / Threshold with the stored arrays
 *   threshold units   U parallel Threshold nodes, summed by the next node
 *   scale             Scale
 * snnc fires at v >= theta, NIR at v > theta: the written threshold is the largest float32
 * below theta, which makes the strict test the same one in float32 arithmetic. Max pooling,
 * ReLU, quantizers have no NIR form and stop the export with the layer named. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/ref/ref_ops.h"
#include "../ir/build.h"
#include "nir.h"

typedef struct exp_ctx {
    const sn_model_spec *spec;
    const sn_weights *w;
    const sn_graph *g;
    sn_nir_graph *out;
    sn_strbuf *notes;
    sn_status *st;
    double dt;
    char open[SN_IR_MAX_IN * 64][SN_NIR_KEY_MAX]; /* keys whose outputs feed the next node */
    int nopen;
    int any_subtract, any_value, any_ge, any_gt, any_exact, any_euler;
} exp_ctx;

static sn_code lfail(exp_ctx *x, const sn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sn_code lfail(exp_ctx *x, const sn_node *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *kind = n->layer >= 0 && n->layer < x->spec->nlayers
                           ? sn_layer_kind_name(x->spec->layers[n->layer].kind)
                           : sn_op_name(n->op);
    return sn_fail(x->st, SN_ERR_INPUT, "%s: layer %s (%s): %s", x->spec->source_path, n->name,
                   kind, msg);
}

static const float *weight(exp_ctx *x, int t) {
    int i = sn_weights_find(x->w, x->g->tensors[t].name);
    if (i < 0 || x->w->desc[i].dtype != SN_F32) {
        sn_fail(x->st, SN_ERR_INPUT, "%s: the weights have no tensor %s", x->spec->source_path,
                x->g->tensors[t].name);
        return NULL;
    }
    return sn_weights_f32(x->w, i);
}

/* The per-sample shape of tensor t (its dims after the leading ones). */
static int sample_shape(const sn_graph *g, int t, int64_t *d) {
    const sn_tensor *x = &g->tensors[t];
    int r = x->shape.rank - x->lead;
    for (int i = 0; i < r; i++) d[i] = x->shape.d[x->lead + i];
    return r;
}

static int64_t numel(int r, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < r; i++) n *= d[i];
    return n;
}

/* Adds a node fed by every open key, which it then replaces. */
static sn_nir_node *add(exp_ctx *x, const char *key, const char *type) {
    sn_nir_node *n = sn_nir_add_node(x->out, key, type, x->st);
    if (!n) return NULL;
    for (int i = 0; i < x->nopen; i++)
        if (sn_nir_add_edge(x->out, x->open[i], key, x->st)) return NULL;
    sn_strlcpy(x->open[0], key, sizeof x->open[0]);
    x->nopen = 1;
    return n;
}

static sn_code ints(sn_nir_node *n, const char *name, int64_t a, int64_t b, sn_status *st) {
    int64_t v[2] = {a, b}, d[1] = {2};
    return sn_nir_add_ints(&n->fields, &n->nfields, name, 1, d, v, st);
}

static sn_code floats(sn_nir_node *n, const char *name, int r, const int64_t *d, const float *v,
                      sn_status *st) {
    return sn_nir_add_floats(&n->fields, &n->nfields, name, 32, r, d, v, st);
}

/* An array of one value. */
static sn_code fill(sn_nir_node *n, const char *name, int r, const int64_t *d, float v,
                    sn_status *st) {
    int64_t cnt = numel(r, d);
    float *a = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof *a);
    if (!a) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; i < cnt; i++) a[i] = v;
    sn_code c = floats(n, name, r, d, a, st);
    free(a);
    return c;
}

/* snnc's v >= theta as NIR's v > theta': theta' = the largest float32 below theta. */
static float strict_threshold(float th) {
    return nextafterf(th, -INFINITY);
}

static sn_code node_meta(exp_ctx *x, sn_nir_node *n, int subtract, int ge) {
    if (subtract && sn_nir_add_string(&n->meta, &n->nmeta, "reset", "subtract", x->st))
        return x->st->code;
    if (sn_nir_add_string(&n->meta, &n->nmeta, "threshold", ge ? "ge" : "gt", x->st))
        return x->st->code;
    x->any_subtract |= subtract;
    x->any_value |= !subtract;
    x->any_ge |= ge;
    x->any_gt |= !ge;
    return SN_OK;
}

/* conv2d / linear, with a batchnorm right after it folded in. Returns the number of extra
 * nodes consumed (0 or 1), or -1. */
static int exp_synapse(exp_ctx *x, int i) {
    const sn_graph *g = x->g;
    const sn_node *n = &g->nodes[i];
    int conv = n->op == SN_OP_CONV2D;
    const sn_tensor *wt = &g->tensors[n->in[1]];
    int wsrc = n->in[1];
    float ternary = 0.0f;
    if (wt->producer >= 0 && g->nodes[wt->producer].op == SN_OP_TERNARY) {
        ternary = g->nodes[wt->producer].a.ternary_threshold;
        wsrc = g->nodes[wt->producer].in[0];
    }
    const float *w = weight(x, wsrc);
    const float *b = n->a.has_bias ? weight(x, n->in[2]) : NULL;
    if (!w || (n->a.has_bias && !b)) return -1;
    int64_t O = wt->shape.d[0], per = sn_shape_numel(&wt->shape) / O;
    float *wv = malloc((size_t)(O * per) * sizeof *wv), *bv = calloc((size_t)O, sizeof *bv);
    if (!wv || !bv) {
        free(wv);
        free(bv);
        sn_fail(x->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    if (ternary > 0.0f)
        sn_ref_ternary(O * per, ternary, w, wv);
    else
        memcpy(wv, w, (size_t)(O * per) * sizeof *wv);
    if (b) memcpy(bv, b, (size_t)O * sizeof *bv);
    int used = 0;
    /* a batchnorm reading this node's output only: folded (inference form) */
    if (i + 1 < g->nnodes && g->nodes[i + 1].op == SN_OP_BATCHNORM &&
        g->nodes[i + 1].in[0] == n->out[0] && sn_tensor_uses(g, n->out[0]) == 1) {
        const sn_node *bn = &g->nodes[i + 1];
        const float *gm = weight(x, bn->in[1]), *bt = weight(x, bn->in[2]),
                    *mu = weight(x, bn->in[3]), *var = weight(x, bn->in[4]);
        if (!gm || !bt || !mu || !var) {
            free(wv);
            free(bv);
            return -1;
        }
        for (int64_t o = 0; o < O; o++) {
            double s = (double)gm[o] / sqrt((double)var[o] + (double)bn->a.eps);
            for (int64_t k = 0; k < per; k++) wv[o * per + k] = (float)(wv[o * per + k] * s);
            bv[o] = (float)(((double)bv[o] - mu[o]) * s + bt[o]);
        }
        sn_sb_printf(x->notes,
                     "layer %s: batch norm %s folded into the weights and bias (rounding differs "
                     "from snnc's)\n",
                     n->name, bn->name);
        used = 1;
    }
    sn_nir_node *nn = add(x, n->name, conv ? "Conv2d" : (b || used ? "Affine" : "Linear"));
    sn_code c = nn ? SN_OK : x->st->code;
    if (!c) c = floats(nn, "weight", wt->shape.rank, wt->shape.d, wv, x->st);
    if (!c && (conv || b || used)) {
        int64_t d[1] = {O};
        c = floats(nn, "bias", 1, d, bv, x->st);
    }
    if (!c && conv) {
        const sn_tensor *in = &g->tensors[n->in[0]];
        int64_t sd[3] = {1, 1, 1};
        sample_shape(g, n->in[0], sd);
        int64_t one = 1, scal[1] = {0};
        (void)in;
        c = ints(nn, "stride", n->a.sh, n->a.sw, x->st);
        if (!c) c = ints(nn, "padding", n->a.ph, n->a.pw, x->st);
        if (!c) c = ints(nn, "dilation", 1, 1, x->st);
        if (!c) c = sn_nir_add_ints(&nn->fields, &nn->nfields, "groups", 0, scal, &one, x->st);
        if (!c) c = ints(nn, "input_shape", sd[1], sd[2], x->st);
    }
    free(wv);
    free(bv);
    return c ? -1 : used;
}

/* SpikingJelly-style if / lif layer as NIR IF / LIF. */
static sn_code exp_neuron(exp_ctx *x, const sn_node *n) {
    const sn_neuron_params *p = &n->a.neuron;
    int64_t d[3] = {1, 1, 1};
    int r = sample_shape(x->g, n->in[0], d);
    int lif = p->model == SN_NEURON_LIF;
    float vr = p->hard_reset ? p->v_reset : 0.0f;
    if (!isfinite(strict_threshold(p->v_threshold)))
        return lfail(x, n, "v_threshold %g has no strict float32 equivalent",
                     (double)p->v_threshold);
    sn_nir_node *nn = add(x, n->name, lif ? "LIF" : "IF");
    if (!nn) return x->st->code;
    sn_status *st = x->st;
    x->any_euler |= lif; /* SpikingJelly's update is forward Euler of the NIR equation */
    if (lif) {
        /* H = V + (X - (V - vr)) / tau is forward Euler of tau' dv/dt = (vr - v) + r x with
         * dt / tau' = 1 / tau: tau' = tau * dt, v_leak = vr, r = 1 (decay_input) or tau */
        if (fill(nn, "tau", r, d, (float)((double)p->tau * x->dt), st) ||
            fill(nn, "r", r, d, p->decay_input ? 1.0f : p->tau, st) ||
            fill(nn, "v_leak", r, d, vr, st))
            return st->code;
    } else if (fill(nn, "r", r, d, 1.0f, st)) {
        return st->code;
    }
    if (fill(nn, "v_threshold", r, d, strict_threshold(p->v_threshold), st) ||
        fill(nn, "v_reset", r, d, vr, st))
        return st->code;
    if (!p->hard_reset)
        sn_sb_printf(x->notes,
                     "layer %s: soft reset (v <- v - v_threshold) has no NIR form: written with "
                     "v_reset = 0 and metadata reset = subtract (snnc import honours it; other "
                     "readers reset to 0)\n",
                     n->name);
    return node_meta(x, nn, !p->hard_reset, 1);
}

static sn_code exp_nir_neuron(exp_ctx *x, const sn_node *n) {
    static const char *const types[] = {"IF", "LIF", "LI", "I", "Threshold"};
    const sn_nir_neuron_params *p = &n->a.nir;
    int64_t d[3] = {1, 1, 1};
    int r = sample_shape(x->g, n->in[0], d);
    int64_t E = numel(r, d);
    int leaky = p->model == SN_NIR_LIF || p->model == SN_NIR_LI;
    int spiking = p->model == SN_NIR_LIF || p->model == SN_NIR_IF;
    if (leaky && (double)p->dt != (double)(float)x->dt)
        return lfail(x, n,
                     "its dt %g differs from the file's %g: a NIR file holds continuous-time "
                     "parameters for one time step",
                     (double)p->dt, x->dt);
    sn_nir_node *nn = add(x, n->name, types[p->model]);
    if (!nn) return x->st->code;
    if (leaky) {
        x->any_exact |= p->exact;
        x->any_euler |= !p->exact;
        if (sn_nir_add_string(&nn->meta, &nn->nmeta, "discretization", p->exact ? "exact" : "euler",
                              x->st))
            return x->st->code;
    }
    int slot = 1;
    for (int k = 0; k < SN_NIRP_COUNT; k++) {
        if (!sn_nir_neuron_uses(p, k)) continue;
        const float *v = weight(x, n->in[slot++]);
        if (!v) return x->st->code;
        const char *name = sn_nir_param_name(p->model, k);
        if (k == SN_NIRP_V_THRESHOLD && p->ge) {
            float *t = malloc((size_t)(E > 0 ? E : 1) * sizeof *t);
            if (!t) return sn_fail(x->st, SN_ERR_RUNTIME, "out of memory");
            int bad = 0;
            for (int64_t e = 0; e < E; e++) bad |= !isfinite(t[e] = strict_threshold(v[e]));
            sn_code c = bad ? lfail(x, n, "a threshold has no strict float32 equivalent")
                            : floats(nn, name, r, d, t, x->st);
            free(t);
            if (c) return c;
        } else if (floats(nn, name, r, d, v, x->st)) {
            return x->st->code;
        }
    }
    if (spiking && p->subtract) {
        if (fill(nn, "v_reset", r, d, 0.0f, x->st)) return x->st->code;
        sn_sb_printf(x->notes,
                     "layer %s: subtractive reset has no NIR form: written with v_reset = 0 and "
                     "metadata reset = subtract\n",
                     n->name);
    }
    if (spiking || p->model == SN_NIR_THRESHOLD) return node_meta(x, nn, p->subtract, p->ge);
    return SN_OK;
}

/* Threshold units: U parallel Threshold nodes on the same input, summed by the next node. */
static sn_code exp_units(exp_ctx *x, const sn_node *n) {
    int64_t d[3] = {1, 1, 1};
    int r = sample_shape(x->g, n->in[0], d);
    int64_t C = d[0], plane = numel(r, d) / C, E = numel(r, d);
    int U = n->a.U;
    const float *theta = weight(x, n->in[1]);
    if (!theta) return x->st->code;
    if (U > 64)
        return lfail(x, n, "%d threshold units would be %d NIR nodes (at most 64 are written)", U,
                     U);
    float *t = malloc((size_t)E * sizeof *t);
    if (!t) return sn_fail(x->st, SN_ERR_RUNTIME, "out of memory");
    char feeds[SN_IR_MAX_IN * 64][SN_NIR_KEY_MAX];
    int nfeeds = x->nopen;
    memcpy(feeds, x->open, sizeof feeds);
    char keys[64][SN_NIR_KEY_MAX];
    sn_code c = SN_OK;
    for (int u = 0; u < U && !c; u++) {
        sn_fmt(keys[u], sizeof keys[u], "%s.unit%d", n->name, u);
        memcpy(x->open, feeds, sizeof feeds);
        x->nopen = nfeeds;
        sn_nir_node *nn = add(x, keys[u], "Threshold");
        if (!nn) {
            c = x->st->code;
            break;
        }
        for (int64_t e = 0; e < E; e++) {
            t[e] = strict_threshold(theta[(e / plane) * U + u]);
            if (!isfinite(t[e])) c = lfail(x, n, "a threshold has no strict float32 equivalent");
        }
        if (!c) c = floats(nn, "threshold", r, d, t, x->st);
        if (!c) c = node_meta(x, nn, 0, 1);
    }
    free(t);
    if (c) return c;
    for (int u = 0; u < U; u++) sn_strlcpy(x->open[u], keys[u], sizeof x->open[u]);
    x->nopen = U;
    return SN_OK;
}

sn_code sn_nir_export(const sn_model_spec *spec, const sn_weights *w, const sn_nir_export_opts *o,
                      sn_nir_doc *out, sn_strbuf *notes, sn_status *st) {
    memset(out, 0, sizeof *out);
    int spiking = 0;
    for (int i = 0; i < spec->nlayers; i++) spiking |= sn_layer_is_spiking(spec->layers[i].kind);
    if (!spiking)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: %s is an ANN; NIR describes spiking networks: convert it first "
                       "(snnc convert MODEL --weights W -o DIR) and export the result",
                       spec->source_path, spec->name);
    exp_ctx *x = calloc(1, sizeof *x);
    if (!x) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_graph g;
    sn_graph_init(&g);
    x->spec = spec;
    x->w = w;
    x->g = &g;
    x->out = &out->g;
    x->notes = notes;
    x->st = st;
    /* the time step: the model's continuous-time layers set it, else --dt, else 1e-4 */
    double mdt = 0;
    for (int i = 0; i < spec->nlayers; i++) {
        const sn_layer_spec *l = &spec->layers[i];
        if (l->kind == SN_LAYER_NIR_LIF || l->kind == SN_LAYER_NIR_LI) {
            if (mdt == 0) mdt = l->ct.dt;
        }
    }
    x->dt = o && o->dt > 0 ? o->dt : mdt > 0 ? mdt : 1e-4;
    sn_build_opts bo = {.batch = 1, .T = 1, .schedule = SN_SCHED_LAYER};
    sn_code c = SN_OK;
    if (sn_graph_build(spec, &bo, &g, st) || sn_graph_verify(&g, st)) {
        c = st->code;
        goto done;
    }
    snprintf(out->version, sizeof out->version, "1.0.7");
    snprintf(out->source, sizeof out->source, "%s", spec->source_path);
    /* Input: [C, H, W], or [K] when the model flattens a K x 1 x 1 input first */
    int64_t d[3] = {1, 1, 1};
    int r = sample_shape(&g, g.input, d);
    int first = 0;
    while (first < g.nnodes &&
           (g.nodes[first].op == SN_OP_ENCODE_DIRECT || g.nodes[first].op == SN_OP_ENCODE_POISSON))
        first++;
    int skip_flatten = -1;
    if (d[1] == 1 && d[2] == 1 && first < g.nnodes && g.nodes[first].op == SN_OP_FLATTEN) {
        r = 1;
        skip_flatten = first;
    }
    sn_nir_node *in = sn_nir_add_node(x->out, "input", "Input", st);
    if (!in || sn_nir_add_ints(&in->fields, &in->nfields, "shape", 1, (int64_t[]){r}, d, st)) {
        c = st->code;
        goto done;
    }
    sn_strlcpy(x->open[0], "input", sizeof x->open[0]);
    x->nopen = 1;
    int last = g.input; /* the tensor the Output receives */
    for (int i = 0; i < g.nnodes && !c; i++) {
        const sn_node *n = &g.nodes[i];
        switch (n->op) {
        case SN_OP_TERNARY:
        case SN_OP_DROPOUT:
            break;
        case SN_OP_ENCODE_DIRECT:
            if (n->a.input_scale != 0.0f && n->a.input_scale != 1.0f) {
                int64_t sd[3] = {1, 1, 1};
                int sr = r;
                memcpy(sd, d, sizeof sd);
                sn_nir_node *nn = add(x, "input_scale", "Scale");
                if (!nn || fill(nn, "scale", sr, sd, n->a.input_scale, st)) c = st->code;
            }
            break;
        case SN_OP_ENCODE_POISSON:
            sn_sb_puts(notes,
                       "the model encodes images as Poisson spike trains, which NIR cannot "
                       "express: the file's Input receives the spike trains (metadata encoder = "
                       "poisson)\n");
            break;
        case SN_OP_CONV2D:
        case SN_OP_LINEAR: {
            int used = exp_synapse(x, i);
            if (used < 0) c = st->code;
            i += used;
            break;
        }
        case SN_OP_BATCHNORM:
            c = lfail(x, n,
                      "batch norm that does not follow a conv2d/linear layer has no NIR form");
            break;
        case SN_OP_AVGPOOL:
        case SN_OP_SUMPOOL: {
            sn_nir_node *nn = add(x, n->name, n->op == SN_OP_AVGPOOL ? "AvgPool2d" : "SumPool2d");
            if (!nn || ints(nn, "kernel_size", n->a.kh, n->a.kw, st) ||
                ints(nn, "stride", n->a.sh, n->a.sw, st) ||
                ints(nn, "padding", n->a.ph, n->a.pw, st))
                c = st->code;
            break;
        }
        case SN_OP_MAXPOOL:
            c = lfail(x, n,
                      "NIR has no max-pooling node%s; rate conversion of a network with average "
                      "pooling exports",
                      n->a.spike_gate ? " (nor a way to gate spikes by a running count)" : "");
            break;
        case SN_OP_RELU:
        case SN_OP_QUANT:
            c = lfail(x, n, "NIR has no %s: export a spiking model (snnc convert first)",
                      n->op == SN_OP_RELU ? "ReLU" : "quantizer");
            break;
        case SN_OP_FLATTEN: {
            if (i == skip_flatten) break;
            int64_t fd[3] = {1, 1, 1};
            int fr = sample_shape(&g, n->in[0], fd);
            if (fr == 1) break;
            sn_nir_node *nn = add(x, n->name, "Flatten");
            int64_t zero = 0, minus1 = -1, rd[1] = {fr};
            if (!nn ||
                sn_nir_add_ints(&nn->fields, &nn->nfields, "start_dim", 0, NULL, &zero, st) ||
                sn_nir_add_ints(&nn->fields, &nn->nfields, "end_dim", 0, NULL, &minus1, st) ||
                sn_nir_add_ints(&nn->fields, &nn->nfields, "input_type", 1, rd, fd, st))
                c = st->code;
            break;
        }
        case SN_OP_SCALE: {
            int64_t sd[3] = {1, 1, 1};
            int sr = sample_shape(&g, n->in[0], sd);
            const float *v = weight(x, n->in[1]);
            sn_nir_node *nn = v ? add(x, n->name, "Scale") : NULL;
            if (!nn || floats(nn, "scale", sr, sd, v, st)) c = st->code;
            break;
        }
        case SN_OP_NEURON:
            c = exp_neuron(x, n);
            break;
        case SN_OP_NIR_NEURON:
            c = exp_nir_neuron(x, n);
            break;
        case SN_OP_THRESHOLD:
            c = exp_units(x, n);
            break;
        case SN_OP_TIME_MEAN:
            break; /* the readout: the Output receives what it averages */
        default:
            c = lfail(x, n, "op %s has no NIR form", sn_op_name(n->op));
            break;
        }
        if (!c && n->op != SN_OP_TIME_MEAN && n->op != SN_OP_TERNARY && n->nout > 0)
            last = n->out[0];
    }
    if (c) goto done;
    {
        int64_t od[3] = {1, 1, 1};
        int orank = sample_shape(&g, last, od);
        sn_nir_node *nn = add(x, "output", "Output");
        if (!nn ||
            sn_nir_add_ints(&nn->fields, &nn->nfields, "shape", 1, (int64_t[]){orank}, od, st)) {
            c = st->code;
            goto done;
        }
    }
    /* metadata: what a reader needs to reproduce snnc's numbers */
    {
        sn_nir_field **mf = &out->g.meta;
        int *mn = &out->g.nmeta;
        char writer[64];
        snprintf(writer, sizeof writer, "snnc %s", SNNC_VERSION);
        double dtv = x->dt;
        c = sn_nir_add_string(mf, mn, "writer", writer, st);
        if (!c) c = sn_nir_add_string(mf, mn, "model", spec->name, st);
        if (!c) c = sn_nir_add_doubles(mf, mn, "dt", 64, 0, NULL, &dtv, st);
        if (!c)
            c = sn_nir_add_string(mf, mn, "reset",
                                  x->any_subtract ? (x->any_value ? "mixed" : "subtract") : "value",
                                  st);
        if (!c)
            c = sn_nir_add_string(mf, mn, "threshold",
                                  x->any_ge ? (x->any_gt ? "mixed" : "ge") : "gt", st);
        if (!c && (x->any_exact || x->any_euler))
            c = sn_nir_add_string(mf, mn, "discretization",
                                  x->any_exact ? (x->any_euler ? "mixed" : "exact") : "euler", st);
        int64_t T = spec->snn.enabled ? spec->snn.T : 1;
        if (!c) c = sn_nir_add_ints(mf, mn, "T", 0, NULL, &T, st);
        if (!c)
            c = sn_nir_add_string(mf, mn, "encoder",
                                  spec->snn.encoder == SN_ENC_POISSON ? "poisson" : "direct", st);
        if (!c)
            c = sn_nir_add_string(mf, mn, "readout",
                                  spec->snn.readout == SN_READOUT_MEMBRANE ? "membrane" : "rate",
                                  st);
    }
    if (x->any_ge)
        sn_sb_puts(notes, "thresholds: snnc fires at v >= theta, NIR at v > theta; the file holds "
                          "the largest float32 below each theta, so the strict test is the same "
                          "(metadata threshold = ge)\n");
done:
    sn_graph_free(&g);
    free(x);
    if (c) sn_nir_doc_free(out);
    return c;
}
