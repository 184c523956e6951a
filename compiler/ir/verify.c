/* Structural invariants of a graph. A failure here is a compiler bug (or a hand-built
 * graph in a test), so messages name the node and the broken rule. */
#include <string.h>

#include "../../runtime/core/util.h"
#include "ir.h"

sn_code sn_graph_verify(const sn_graph *g, sn_status *st) {
    char b1[96], b2[96];
    for (int t = 0; t < g->ntensors; t++) {
        const sn_tensor *x = &g->tensors[t];
        if (x->shape.rank < 0 || x->shape.rank > SN_MAX_RANK)
            return sn_fail(st, SN_ERR_RUNTIME, "verify: tensor %s has rank %d", x->name,
                           x->shape.rank);
        for (int i = 0; i < x->shape.rank; i++)
            if (x->shape.d[i] <= 0)
                return sn_fail(st, SN_ERR_RUNTIME, "verify: tensor %s has a non-positive dim %s",
                               x->name, sn_shape_str(&x->shape, b1, sizeof b1));
        if ((x->kind == SN_T_ACT) != (x->producer >= 0))
            return sn_fail(st, SN_ERR_RUNTIME,
                           "verify: tensor %s: activations (only) have a producer", x->name);
        if ((x->kind == SN_T_PARAM || x->kind == SN_T_BUFFER) && x->name[0] == '\0')
            return sn_fail(st, SN_ERR_RUNTIME, "verify: parameter %d has no name", t);
        for (int u = 0; u < t; u++)
            if (x->name[0] && strcmp(g->tensors[u].name, x->name) == 0)
                return sn_fail(st, SN_ERR_RUNTIME, "verify: two tensors are named %s", x->name);
    }
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        if ((unsigned)n->op >= SN_OP_COUNT)
            return sn_fail(st, SN_ERR_RUNTIME, "verify: node %s has an invalid op", n->name);
        for (int j = 0; j < n->nin; j++) {
            int t = n->in[j];
            if (t < 0 || t >= g->ntensors)
                return sn_fail(st, SN_ERR_RUNTIME, "verify: node %s input %d is out of range",
                               n->name, j);
            int p = g->tensors[t].producer;
            if (p >= i)
                return sn_fail(st, SN_ERR_RUNTIME,
                               "verify: node %s reads %s before it is produced (not topological)",
                               n->name, g->tensors[t].name);
        }
        sn_shape shapes[SN_IR_MAX_OUT];
        int leads[SN_IR_MAX_OUT], nout = 0;
        sn_dtype dtypes[SN_IR_MAX_OUT];
        sn_status local;
        sn_status_init(&local);
        if (sn_infer_shapes(g, n->op, n->in, n->nin, &n->a, shapes, leads, dtypes, &nout, &local))
            return sn_fail(st, SN_ERR_RUNTIME, "verify: node %s (%s): %s", n->name,
                           sn_op_name(n->op), local.msg);
        if (nout != n->nout)
            return sn_fail(st, SN_ERR_RUNTIME, "verify: node %s has %d outputs, expected %d",
                           n->name, n->nout, nout);
        for (int o = 0; o < nout; o++) {
            const sn_tensor *y = &g->tensors[n->out[o]];
            if (y->producer != i)
                return sn_fail(st, SN_ERR_RUNTIME, "verify: output %s of %s names another producer",
                               y->name, n->name);
            if (!sn_shape_eq(&y->shape, &shapes[o]) || y->lead != leads[o] || y->dtype != dtypes[o])
                return sn_fail(st, SN_ERR_RUNTIME,
                               "verify: node %s output %s is %s, inference says %s", n->name,
                               y->name, sn_shape_str(&y->shape, b1, sizeof b1),
                               sn_shape_str(&shapes[o], b2, sizeof b2));
        }
    }
    if (g->input < 0 || g->input >= g->ntensors || g->tensors[g->input].kind != SN_T_INPUT)
        return sn_fail(st, SN_ERR_RUNTIME, "verify: graph has no input tensor");
    if (g->output < 0 || g->output >= g->ntensors)
        return sn_fail(st, SN_ERR_RUNTIME, "verify: graph has no output tensor");
    return SN_OK;
}
