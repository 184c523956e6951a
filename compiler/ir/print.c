/* Text and Graphviz views of a graph. */
#include <string.h>

#include "../../runtime/core/util.h"
#include "ir.h"

static void print_attrs(const sn_node *n, sn_strbuf *o) {
    const sn_attrs *a = &n->a;
    switch (n->op) {
    case SN_OP_CONV2D:
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL:
    case SN_OP_SUMPOOL:
        sn_sb_printf(o, " {kernel=%dx%d stride=%dx%d pad=%dx%d%s}", a->kh, a->kw, a->sh, a->sw,
                     a->ph, a->pw, n->op == SN_OP_CONV2D && a->has_bias ? " bias" : "");
        break;
    case SN_OP_LINEAR:
        if (a->has_bias) sn_sb_puts(o, " {bias}");
        break;
    default:
        break;
    }
    if ((n->op == SN_OP_CONV2D || n->op == SN_OP_LINEAR) && a->spike_input > 0)
        sn_sb_printf(o, " {spike_input=%d%s}", a->spike_input,
                     a->int_weights ? " int_weights" : "");
    switch (n->op) {
    case SN_OP_BATCHNORM:
        sn_sb_printf(o, " {eps=%g momentum=%g}", a->eps, a->momentum);
        break;
    case SN_OP_DROPOUT:
        sn_sb_printf(o, " {p=%g}", a->p);
        break;
    case SN_OP_QUANT:
        sn_sb_printf(o, " {k=%d B=%g}", a->quant.k, a->quant.B);
        break;
    case SN_OP_TERNARY:
        sn_sb_printf(o, " {threshold=%g*mean|w|}", a->ternary_threshold);
        break;
    case SN_OP_NEURON: {
        const sn_neuron_params *p = &a->neuron;
        sn_sb_printf(o, " {%s", p->model == SN_NEURON_LIF ? "lif" : "if");
        if (p->model == SN_NEURON_LIF)
            sn_sb_printf(o, " tau=%g decay_input=%d", p->tau, p->decay_input);
        sn_sb_printf(o, " v_th=%g", p->v_threshold);
        if (p->hard_reset)
            sn_sb_printf(o, " v_reset=%g", p->v_reset);
        else
            sn_sb_puts(o, " soft_reset");
        sn_sb_printf(o, " detach_reset=%d surrogate=%s(%g)}", p->detach_reset,
                     p->surrogate == SN_SG_SIGMOID ? "sigmoid" : "atan", p->alpha);
        break;
    }
    case SN_OP_THRESHOLD:
        sn_sb_printf(o, " {units=%d}", a->U);
        break;
    case SN_OP_NIR_NEURON: {
        static const char *const models[] = {"if", "lif", "li", "i", "threshold"};
        const sn_nir_neuron_params *p = &a->nir;
        sn_sb_printf(o, " {%s", models[(unsigned)p->model <= SN_NIR_THRESHOLD ? p->model : 0]);
        if (p->model == SN_NIR_LIF || p->model == SN_NIR_LI)
            sn_sb_printf(o, " dt=%g %s", (double)p->dt, p->exact ? "exact" : "euler");
        if (p->model == SN_NIR_LIF || p->model == SN_NIR_IF)
            sn_sb_puts(o, p->subtract ? " reset=subtract" : " reset=v_reset");
        if (p->ge) sn_sb_puts(o, " fire_at=ge");
        sn_sb_puts(o, "}");
        break;
    }
    case SN_OP_SPIKE_DROP:
        sn_sb_printf(o, " {p=%g, max=%d}", (double)a->p, a->U);
        break;
    case SN_OP_ENCODE_POISSON:
        sn_sb_printf(o, " {T=%d}", a->T);
        break;
    case SN_OP_ENCODE_DIRECT:
        if (a->input_scale != 0.0f && a->input_scale != 1.0f)
            sn_sb_printf(o, " {T=%d, scale=%g}", a->T, (double)a->input_scale);
        else
            sn_sb_printf(o, " {T=%d}", a->T);
        break;

    case SN_OP_SOFTMAX_CE:
        if (a->label_smoothing > 0) sn_sb_printf(o, " {label_smoothing=%g}", a->label_smoothing);
        break;
    default:
        break;
    }
}

static void print_type(const sn_tensor *t, sn_strbuf *o) {
    char b[96];
    sn_sb_printf(o, "%s%s", sn_dtype_name(t->dtype), sn_shape_str(&t->shape, b, sizeof b));
}

static const char *kind_word(sn_tensor_kind k) {
    switch (k) {
    case SN_T_INPUT:
        return "input";
    case SN_T_LABEL:
        return "label";
    case SN_T_PARAM:
        return "param";
    case SN_T_BUFFER:
        return "buffer";
    case SN_T_CONST:
        return "const";
    case SN_T_ACT:
        return "act";
    case SN_T_OPTSTATE:
        return "optstate";
    }
    return "?";
}

void sn_graph_print(const sn_graph *g, sn_strbuf *o) {
    sn_sb_printf(o, "graph %s (batch=%lld, T=%d)\n", g->model, (long long)g->batch, g->T);
    for (int t = 0; t < g->ntensors; t++) {
        const sn_tensor *x = &g->tensors[t];
        if (x->kind == SN_T_ACT) continue;
        sn_sb_printf(o, "  %%%d = %s \"%s\" : ", t, kind_word(x->kind), x->name);
        print_type(x, o);
        sn_sb_puts(o, "\n");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        sn_sb_puts(o, "  ");
        for (int j = 0; j < n->nout; j++) sn_sb_printf(o, j ? ", %%%d" : "%%%d", n->out[j]);
        sn_sb_printf(o, " = %s(", sn_op_name(n->op));
        for (int j = 0; j < n->nin; j++) sn_sb_printf(o, j ? ", %%%d" : "%%%d", n->in[j]);
        sn_sb_puts(o, ")");
        print_attrs(n, o);
        sn_sb_puts(o, " : ");
        print_type(&g->tensors[n->out[0]], o);
        sn_sb_printf(o, "  # %s\n", n->name);
    }
    sn_sb_printf(o, "  return %%%d", g->output);
    if (g->loss >= 0) sn_sb_printf(o, ", loss %%%d", g->loss);
    sn_sb_puts(o, "\n");
}

void sn_graph_dot(const sn_graph *g, sn_strbuf *o) {
    char b[96];
    sn_sb_puts(o, "digraph snnc {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (int t = 0; t < g->ntensors; t++) {
        const sn_tensor *x = &g->tensors[t];
        if (x->kind == SN_T_ACT) continue;
        const char *shape = x->kind == SN_T_PARAM || x->kind == SN_T_BUFFER ? "note" : "ellipse";
        sn_sb_printf(o, "  t%d [shape=%s, label=", t, shape);
        char label[256];
        snprintf(label, sizeof label, "%s\n%s", x->name, sn_shape_str(&x->shape, b, sizeof b));
        sn_sb_json_str(o, label);
        sn_sb_puts(o, "];\n");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        char label[256];
        snprintf(label, sizeof label, "%s\n%s\n%s", n->name, sn_op_name(n->op),
                 sn_shape_str(&g->tensors[n->out[0]].shape, b, sizeof b));
        sn_sb_printf(o, "  n%d [shape=box, style=rounded, label=", i);
        sn_sb_json_str(o, label);
        sn_sb_puts(o, "];\n");
        for (int j = 0; j < n->nin; j++) {
            int t = n->in[j];
            int p = g->tensors[t].producer;
            if (p >= 0)
                sn_sb_printf(o, "  n%d -> n%d;\n", p, i);
            else
                sn_sb_printf(o, "  t%d -> n%d;\n", t, i);
        }
    }
    sn_sb_puts(o, "}\n");
}
