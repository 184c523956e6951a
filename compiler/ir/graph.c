#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "ir.h"

static const char *const op_names[SN_OP_COUNT] = {
    [SN_OP_CONV2D] = "conv2d",
    [SN_OP_LINEAR] = "linear",
    [SN_OP_MAXPOOL] = "maxpool",
    [SN_OP_AVGPOOL] = "avgpool",
    [SN_OP_RELU] = "relu",
    [SN_OP_BATCHNORM] = "batchnorm",
    [SN_OP_DROPOUT] = "dropout",
    [SN_OP_FLATTEN] = "flatten",
    [SN_OP_QUANT] = "quant",
    [SN_OP_TERNARY] = "ternary",
    [SN_OP_NEURON] = "neuron",
    [SN_OP_THRESHOLD] = "threshold",
    [SN_OP_ENCODE_POISSON] = "encode_poisson",
    [SN_OP_ENCODE_DIRECT] = "encode_direct",
    [SN_OP_TIME_MEAN] = "time_mean",
    [SN_OP_SPIKE_DROP] = "spike_drop",
    [SN_OP_SOFTMAX_CE] = "softmax_ce",
    [SN_OP_MSE_ONEHOT] = "mse_onehot",
    [SN_OP_SCALE] = "scale",
    [SN_OP_SUMPOOL] = "sumpool",
    [SN_OP_NIR_NEURON] = "nir_neuron",
    [SN_OP_BATCHNORM_TRAIN] = "batchnorm_train",
    [SN_OP_CONV2D_BWD_DATA] = "conv2d_bwd_data",
    [SN_OP_CONV2D_BWD_WEIGHT] = "conv2d_bwd_weight",
    [SN_OP_LINEAR_BWD_DATA] = "linear_bwd_data",
    [SN_OP_LINEAR_BWD_WEIGHT] = "linear_bwd_weight",
    [SN_OP_POOL_BWD] = "pool_bwd",
    [SN_OP_RELU_BWD] = "relu_bwd",
    [SN_OP_QUANT_BWD] = "quant_bwd",
    [SN_OP_BATCHNORM_BWD] = "batchnorm_bwd",
    [SN_OP_DROPOUT_BWD] = "dropout_bwd",
    [SN_OP_FLATTEN_BWD] = "flatten_bwd",
    [SN_OP_SOFTMAX_CE_BWD] = "softmax_ce_bwd",
    [SN_OP_MSE_ONEHOT_BWD] = "mse_onehot_bwd",
    [SN_OP_NEURON_BWD] = "neuron_bwd",
    [SN_OP_TIME_MEAN_BWD] = "time_mean_bwd",
    [SN_OP_ENCODE_DIRECT_BWD] = "encode_direct_bwd",
    [SN_OP_ADD] = "add",
    [SN_OP_SGD_UPDATE] = "sgd_update",
    [SN_OP_ADAM_UPDATE] = "adam_update",
};

int sn_op_is_backward(sn_op op) {
    return op >= SN_OP_CONV2D_BWD_DATA && op < SN_OP_COUNT;
}

const char *sn_op_name(sn_op op) {
    return (unsigned)op < SN_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

void sn_graph_init(sn_graph *g) {
    memset(g, 0, sizeof *g);
    g->input = g->output = g->label = g->loss = -1;
    g->T = 1;
}

void sn_graph_free(sn_graph *g) {
    free(g->tensors);
    free(g->nodes);
    memset(g, 0, sizeof *g);
}

int sn_graph_add_tensor(sn_graph *g, sn_tensor_kind kind, sn_dtype dtype, const sn_shape *shape,
                        int lead, const char *name, sn_status *st) {
    if (!sn_grow((void **)&g->tensors, &g->cap_tensors, g->ntensors + 1, sizeof *g->tensors)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory building the graph");
        return -1;
    }
    sn_tensor *t = &g->tensors[g->ntensors];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->dtype = dtype;
    t->shape = *shape;
    t->lead = lead;
    t->producer = -1;
    sn_strlcpy(t->name, name ? name : "", sizeof t->name);
    return g->ntensors++;
}

int sn_graph_add_node(sn_graph *g, sn_op op, const int *in, int nin, const sn_attrs *a,
                      const char *name, int layer, const char *where, sn_status *st) {
    sn_shape shapes[SN_IR_MAX_OUT];
    int leads[SN_IR_MAX_OUT];
    sn_dtype dtypes[SN_IR_MAX_OUT];
    int nout = 0;
    sn_status local;
    sn_status_init(&local);
    if (sn_infer_shapes(g, op, in, nin, a, shapes, leads, dtypes, &nout, &local) != SN_OK) {
        sn_fail(st, local.code, "%s%slayer %s (%s): %s", where ? where : "", where ? ": " : "",
                name, sn_op_name(op), local.msg);
        return -1;
    }
    if (!sn_grow((void **)&g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory building the graph");
        return -1;
    }
    int id = g->nnodes;
    sn_node *n = &g->nodes[id];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    n->a = *a;
    n->layer = layer;
    sn_strlcpy(n->name, name, sizeof n->name);
    g->nnodes++;
    int first = -1;
    for (int o = 0; o < nout; o++) {
        char tname[SN_IR_NAME_MAX];
        snprintf(tname, sizeof tname, o ? "%s:out%d" : "%s:out", name, o);
        int t = sn_graph_add_tensor(g, SN_T_ACT, dtypes[o], &shapes[o], leads[o], tname, st);
        if (t < 0) return -1;
        g->tensors[t].producer = id;
        g->nodes[id].out[o] = t;
        if (o == 0) first = t;
    }
    g->nodes[id].nout = nout;
    return nout ? first : 0; /* ops without outputs (optimizer updates) return 0 */
}

int sn_tensor_uses(const sn_graph *g, int t) {
    int uses = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t) uses++;
    return uses;
}

int64_t sn_graph_param_count(const sn_graph *g) {
    int64_t n = 0;
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i].kind == SN_T_PARAM) n += sn_shape_numel(&g->tensors[i].shape);
    return n;
}

int sn_graph_optstate_descs(const sn_graph *g, const char *slot, sn_param_desc **out) {
    char prefix[64];
    snprintf(prefix, sizeof prefix, "optimizer.%s.", slot);
    size_t pl = strlen(prefix);
    int n = 0;
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i].kind == SN_T_OPTSTATE && strncmp(g->tensors[i].name, prefix, pl) == 0)
            n++;
    sn_param_desc *d = sn_calloc((size_t)(n ? n : 1), sizeof *d);
    *out = d;
    if (!d) return -1;
    int k = 0;
    for (int i = 0; i < g->ntensors; i++) {
        const sn_tensor *t = &g->tensors[i];
        if (t->kind != SN_T_OPTSTATE || strncmp(t->name, prefix, pl) != 0) continue;
        sn_strlcpy(d[k].name, t->name + pl, sizeof d[k].name);
        d[k].dtype = t->dtype;
        d[k].shape = t->shape;
        d[k].role = t->role;
        d[k].trainable = 0;
        k++;
    }
    return n;
}

int sn_graph_param_descs(const sn_graph *g, sn_param_desc **out) {
    int n = 0;
    for (int i = 0; i < g->ntensors; i++)
        if (g->tensors[i].kind == SN_T_PARAM || g->tensors[i].kind == SN_T_BUFFER) n++;
    sn_param_desc *d = sn_calloc((size_t)(n ? n : 1), sizeof *d);
    *out = d;
    if (!d) return -1;
    int k = 0;
    for (int i = 0; i < g->ntensors; i++) {
        const sn_tensor *t = &g->tensors[i];
        if (t->kind != SN_T_PARAM && t->kind != SN_T_BUFFER) continue;
        sn_strlcpy(d[k].name, t->name, sizeof d[k].name);
        d[k].dtype = t->dtype;
        d[k].shape = t->shape;
        d[k].role = t->role;
        d[k].trainable = t->kind == SN_T_PARAM;
        d[k].fan_in = t->fan_in;
        d[k].fan_out = t->fan_out;
        k++;
    }
    return n;
}
