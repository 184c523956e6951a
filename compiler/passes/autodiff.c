#include "autodiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"

typedef struct ad {
    sn_graph *g;
    sn_status *st;
    int *grad; /* tensor -> gradient tensor, -1 */
    char *rg;  /* tensor requires a gradient */
    int nt;    /* tensors before differentiation (the arrays' length) */
    int adds;
} ad;

static int node(ad *A, sn_op op, const int *in, int nin, const sn_attrs *a, const char *base,
                const char *suffix) {
    char name[SN_IR_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.%s", base, suffix);
    return sn_graph_add_node(A->g, op, in, nin, a, name, -1, NULL, A->st);
}

/* Adds gradient g to tensor t (summing when t already has one). */
static sn_code accumulate(ad *A, int t, int g) {
    if (g < 0) return A->st->code ? A->st->code : SN_ERR_RUNTIME;
    if (t >= A->nt || !A->rg[t]) return SN_OK;
    if (A->grad[t] < 0) {
        A->grad[t] = g;
        return SN_OK;
    }
    sn_attrs a;
    memset(&a, 0, sizeof a);
    int in[2] = {A->grad[t], g};
    char name[SN_IR_NAME_MAX];
    sn_fmt(name, sizeof name, "grad_sum.%d", A->adds++);
    int s = sn_graph_add_node(A->g, SN_OP_ADD, in, 2, &a, name, -1, NULL, A->st);
    if (s < 0) return A->st->code;
    A->grad[t] = s;
    return SN_OK;
}

/* The second output of the node that produced tensor t. */
static int out_n(const sn_graph *g, int t, int k) {
    int p = g->tensors[t].producer;
    return p >= 0 && g->nodes[p].nout > k ? g->nodes[p].out[k] : -1;
}

static sn_code backward_node(ad *A, int i) {
    sn_graph *g = A->g;
    sn_node n = g->nodes[i]; /* copy: adding nodes may move the array */
    int dy = A->grad[n.out[0]];
    if (dy < 0) return SN_OK;
    const char *nm = n.name;
    sn_attrs a = n.a;
    switch (n.op) {
    case SN_OP_CONV2D:
    case SN_OP_LINEAR: {
        int conv = n.op == SN_OP_CONV2D;
        int x = n.in[0], w = n.in[1];
        if (A->rg[x]) {
            int in[3] = {dy, w, x};
            int dx = node(A, conv ? SN_OP_CONV2D_BWD_DATA : SN_OP_LINEAR_BWD_DATA, in, 3, &a, nm,
                          "bwd_data");
            if (accumulate(A, x, dx)) return A->st->code;
        }
        if (A->rg[w] || (a.has_bias && A->rg[n.in[2]])) {
            int in[2] = {x, dy};
            int dw = node(A, conv ? SN_OP_CONV2D_BWD_WEIGHT : SN_OP_LINEAR_BWD_WEIGHT, in, 2, &a,
                          nm, "bwd_weight");
            if (accumulate(A, w, dw)) return A->st->code;
            if (a.has_bias && accumulate(A, n.in[2], out_n(g, dw, 1))) return A->st->code;
        }
        return SN_OK;
    }
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL: {
        if (!A->rg[n.in[0]]) return SN_OK;
        a.max = n.op == SN_OP_MAXPOOL;
        int in[2] = {n.in[0], dy};
        return accumulate(A, n.in[0], node(A, SN_OP_POOL_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_RELU: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {n.out[0], dy};
        return accumulate(A, n.in[0], node(A, SN_OP_RELU_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_QUANT: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {n.in[0], dy};
        return accumulate(A, n.in[0], node(A, SN_OP_QUANT_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_BATCHNORM_TRAIN: {
        int in[5] = {n.in[0], dy, n.in[1], n.out[1], n.out[2]};
        int dx = node(A, SN_OP_BATCHNORM_BWD, in, 5, &a, nm, "bwd");
        if (dx < 0) return A->st->code;
        if (accumulate(A, n.in[0], dx) || accumulate(A, n.in[1], out_n(g, dx, 1)) ||
            accumulate(A, n.in[2], out_n(g, dx, 2)))
            return A->st->code;
        return SN_OK;
    }
    case SN_OP_DROPOUT: {
        if (!A->rg[n.in[0]]) return SN_OK;
        return accumulate(A, n.in[0], node(A, SN_OP_DROPOUT_BWD, &dy, 1, &a, nm, "bwd"));
    }
    case SN_OP_FLATTEN: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {dy, n.in[0]};
        return accumulate(A, n.in[0], node(A, SN_OP_FLATTEN_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_TERNARY: /* straight through to the float weights */
        return accumulate(A, n.in[0], dy);
    case SN_OP_NEURON: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {n.in[0], dy};
        return accumulate(A, n.in[0], node(A, SN_OP_NEURON_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_TIME_MEAN: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {dy, n.in[0]};
        return accumulate(A, n.in[0], node(A, SN_OP_TIME_MEAN_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_ENCODE_DIRECT: {
        if (!A->rg[n.in[0]]) return SN_OK;
        int in[2] = {dy, n.in[0]};
        return accumulate(A, n.in[0], node(A, SN_OP_ENCODE_DIRECT_BWD, in, 2, &a, nm, "bwd"));
    }
    case SN_OP_ENCODE_POISSON:
        return SN_OK; /* its input is the image, which needs no gradient */
    case SN_OP_BATCHNORM:
    case SN_OP_THRESHOLD:
    case SN_OP_SPIKE_DROP:
        return sn_fail(
            A->st, SN_ERR_INPUT,
            "%s (%s) has no training form: it appears only in inference or converted graphs", nm,
            sn_op_name(n.op));
    case SN_OP_SCALE:
    case SN_OP_SUMPOOL:
    case SN_OP_NIR_NEURON:
        return sn_fail(A->st, SN_ERR_INPUT,
                       "%s (%s) has no training form: the layers NIR graphs import with run at "
                       "inference (docs/nir.md)",
                       nm, sn_op_name(n.op));
    default:
        return sn_fail(A->st, SN_ERR_RUNTIME, "autodiff: no gradient for op %s (%s)",
                       sn_op_name(n.op), nm);
    }
}

sn_code sn_autodiff(sn_graph *g, const sn_optim_opts *o, sn_status *st) {
    if (!g->training || g->loss < 0)
        return sn_fail(st, SN_ERR_RUNTIME, "autodiff needs a training graph with a loss");
    ad A;
    memset(&A, 0, sizeof A);
    A.g = g;
    A.st = st;
    A.nt = g->ntensors;
    A.grad = sn_calloc((size_t)A.nt, sizeof(int));
    A.rg = sn_calloc((size_t)A.nt, 1);
    if (!A.grad || !A.rg) {
        free(A.grad);
        free(A.rg);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    for (int t = 0; t < A.nt; t++) {
        A.grad[t] = -1;
        A.rg[t] = g->tensors[t].kind == SN_T_PARAM;
    }
    int nfwd = g->nnodes;
    int loss_node = g->tensors[g->loss].producer;
    for (int i = 0; i < nfwd; i++) {
        const sn_node *n = &g->nodes[i];
        int any = 0;
        for (int j = 0; j < n->nin; j++) any |= A.rg[n->in[j]];
        /* neither labels nor batch statistics carry gradients through themselves */
        if (n->op == SN_OP_ENCODE_POISSON) any = 0;
        for (int k = 0; k < n->nout; k++) A.rg[n->out[k]] = (char)any;
    }
    /* the seed: the loss's gradient with respect to the scores */
    sn_code rc = SN_OK;
    {
        const sn_node *ln = &g->nodes[loss_node];
        sn_attrs a = ln->a;
        int in[2] = {ln->in[0], ln->in[1]};
        sn_op op = ln->op == SN_OP_MSE_ONEHOT ? SN_OP_MSE_ONEHOT_BWD : SN_OP_SOFTMAX_CE_BWD;
        /* node() may move g->nodes: nothing reads ln after it */
        int d = node(&A, op, in, 2, &a, "loss", "bwd");
        rc = accumulate(&A, in[0], d);
    }
    for (int i = loss_node - 1; i >= 0 && rc == SN_OK; i--) rc = backward_node(&A, i);
    /* one optimizer update per parameter. The optimizer state is declared in parameter
     * order (the checkpoint's order); the updates run in the order the backward pass
     * completes the gradients (the last layer's first), so in a data-parallel step the
     * sums of the last gradients to complete (the first layers') are the last ones the
     * optimizer needs, and go on while it updates the others. */
    int *order = sn_calloc((size_t)(A.nt ? A.nt : 1), sizeof *order);
    int(*ins)[4] = sn_calloc((size_t)(A.nt ? A.nt : 1), sizeof *ins);
    int *nins = sn_calloc((size_t)(A.nt ? A.nt : 1), sizeof *nins);
    int nupd = 0;
    if (rc == SN_OK && (!order || !ins || !nins)) rc = sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (int t = 0; t < A.nt && rc == SN_OK; t++) {
        if (g->tensors[t].kind != SN_T_PARAM) continue;
        if (A.grad[t] < 0) continue; /* unused parameter */
        char name[SN_IR_NAME_MAX];
        sn_strlcpy(name, g->tensors[t].name, sizeof name);
        sn_shape shape = g->tensors[t].shape;
        int *in = ins[t];
        in[0] = t;
        in[1] = A.grad[t];
        in[2] = in[3] = -1;
        nins[t] = 2;
        const char *slots[2] = {o->adam ? "exp_avg" : "momentum", "exp_avg_sq"};
        int nslots = o->adam ? 2 : (o->momentum > 0 ? 1 : 0);
        for (int k = 0; k < nslots; k++) {
            char sname[SN_IR_NAME_MAX];
            sn_fmt(sname, sizeof sname, "optimizer.%s.%s", slots[k], name);
            int s = sn_graph_add_tensor(g, SN_T_OPTSTATE, SN_F32, &shape, 0, sname, st);
            if (s < 0) {
                rc = st->code;
                break;
            }
            in[nins[t]++] = s;
        }
        order[nupd++] = t;
    }
    /* completion order: the node that produces a parameter's whole gradient (stable) */
    for (int i = 1; i < nupd; i++)
        for (int j = i; j > 0 && g->tensors[A.grad[order[j]]].producer <
                                     g->tensors[A.grad[order[j - 1]]].producer;
             j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    sn_attrs a; /* the same hyperparameters for every update */
    memset(&a, 0, sizeof a);
    a.opt_momentum = o->adam ? 0.0f : o->momentum;
    a.nesterov = o->nesterov;
    a.weight_decay = o->weight_decay;
    a.beta1 = o->beta1;
    a.beta2 = o->beta2;
    a.opt_eps = o->eps;
    for (int i = 0; i < nupd && rc == SN_OK; i++) {
        int t = order[i];
        char uname[SN_IR_NAME_MAX];
        sn_fmt(uname, sizeof uname, "update.%s", g->tensors[t].name);
        if (sn_graph_add_node(g, o->adam ? SN_OP_ADAM_UPDATE : SN_OP_SGD_UPDATE, ins[t], nins[t],
                              &a, uname, -1, NULL, st) < 0)
            rc = st->code;
    }
    free(order);
    free(ins);
    free(nins);
    free(A.grad);
    free(A.rg);
    return rc;
}

int sn_autodiff_grad_of(const sn_graph *g, int param) {
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        if ((n->op == SN_OP_SGD_UPDATE || n->op == SN_OP_ADAM_UPDATE) && n->in[0] == param)
            return n->in[1];
    }
    return -1;
}
