#include "fusion.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"

static int is_eltwise(sn_op op) {
    return op == SN_OP_RELU || op == SN_OP_QUANT || op == SN_OP_DROPOUT;
}

/* The single consumer of tensor t (and the input slot it reads it through), or -1 when it
 * has none, several, or is an output. */
static int sole_consumer(const sn_graph *g, int t, int *slot) {
    if (t == g->output || t == g->loss) return -1;
    int who = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] == t) {
                if (who >= 0) return -1;
                who = i;
                *slot = j;
            }
    return who;
}

static int pool_fits(const sn_graph *g, const sn_node *pool) {
    const sn_attrs *a = &pool->a;
    const sn_tensor *x = &g->tensors[pool->in[0]];
    int64_t h = x->shape.d[x->lead + 1], w = x->shape.d[x->lead + 2];
    return a->kh == a->sh && a->kw == a->sw && a->ph == 0 && a->pw == 0 && h % a->kh == 0 &&
           w % a->kw == 0;
}

/* May node c, reading the group's output through input `slot`, extend the group? */
static int can_join(const sn_graph *g, const sn_group *grp, const sn_node *c, int slot) {
    const sn_node *anchor = &g->nodes[grp->nodes[0]];
    if (grp->kind == SN_G_BWD) /* R7: a data gradient masked by relu/quant backward */
        return grp->nnodes == 1 && slot == 1 &&
               (c->op == SN_OP_RELU_BWD || c->op == SN_OP_QUANT_BWD);
    if (slot != 0) return 0;
    /* training-mode dropout draws its mask: a kernel of its own (in both directions) */
    if (c->op == SN_OP_DROPOUT && c->a.training) return 0;
    if (anchor->op == SN_OP_DROPOUT && anchor->a.training) return 0;
    int anchored = grp->kind == SN_G_CONV || grp->kind == SN_G_LINEAR;
    int has_pool = 0, has_neuron = 0, has_act = 0;
    for (int i = 1; i < grp->nnodes; i++) {
        sn_op op = g->nodes[grp->nodes[i]].op;
        has_pool |= op == SN_OP_MAXPOOL || op == SN_OP_AVGPOOL;
        has_neuron |= op == SN_OP_NEURON;
        has_act |= op != SN_OP_DROPOUT;
    }
    if (has_neuron || has_pool) return 0;
    switch (c->op) {
    case SN_OP_BATCHNORM: /* R2: only right after the anchor (a standalone batchnorm starts
                             its own elementwise group, R5) */
        return anchored && grp->nnodes == 1;
    case SN_OP_RELU:
    case SN_OP_QUANT:
    case SN_OP_DROPOUT:
        return anchored || grp->kind == SN_G_ELTWISE; /* R3, R5 */
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL: /* R4 */
        return grp->kind == SN_G_CONV && g->tensors[anchor->out[0]].lead == 1 && pool_fits(g, c);
    case SN_OP_NEURON: /* R6: its own kernel, fused over T (see fusion.h) */
        (void)has_act;
        return 0;
    default:
        return 0;
    }
}

static void name_group(const sn_graph *g, sn_group *grp) {
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_sb_puts(&sb, g->nodes[grp->nodes[0]].name);
    for (int i = 1; i < grp->nnodes; i++) {
        const sn_node *n = &g->nodes[grp->nodes[i]];
        sn_sb_printf(&sb, "+%s",
                     n->op == SN_OP_NEURON ? (n->a.neuron.model == SN_NEURON_LIF ? "lif" : "if")
                                           : sn_op_name(n->op));
    }
    sn_strlcpy(grp->name, sn_sb_cstr(&sb), sizeof grp->name);
    sn_sb_free(&sb);
}

sn_code sn_fuse(const sn_graph *g, int enable, sn_groups *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    out->fused = enable;
    out->g = sn_calloc((size_t)(g->nnodes ? g->nnodes : 1), sizeof *out->g);
    char *taken = sn_calloc((size_t)(g->nnodes ? g->nnodes : 1), 1);
    if (!out->g || !taken) {
        free(taken);
        sn_groups_free(out);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    for (int i = 0; i < g->nnodes; i++) {
        if (taken[i]) continue;
        const sn_node *n = &g->nodes[i];
        sn_group *grp = &out->g[out->n++];
        grp->kind =
            n->op == SN_OP_CONV2D   ? SN_G_CONV
            : n->op == SN_OP_LINEAR ? SN_G_LINEAR
            : is_eltwise(n->op) || n->op == SN_OP_BATCHNORM || n->op == SN_OP_BATCHNORM_TRAIN
                ? SN_G_ELTWISE
            : n->op == SN_OP_CONV2D_BWD_DATA || n->op == SN_OP_LINEAR_BWD_DATA ? SN_G_BWD
                                                                               : SN_G_SINGLE;
        grp->nodes[0] = i;
        grp->nnodes = 1;
        grp->in = n->in[0];
        grp->out = n->out[0];
        taken[i] = 1;
        if (enable && grp->kind != SN_G_SINGLE) {
            for (;;) {
                if (grp->nnodes >= SN_GROUP_MAX) break;
                int slot = 0;
                int c = sole_consumer(g, grp->out, &slot);
                if (c < 0 || taken[c] || !can_join(g, grp, &g->nodes[c], slot)) break;
                grp->nodes[grp->nnodes++] = c;
                grp->out = g->nodes[c].out[0];
                taken[c] = 1;
            }
        }
        name_group(g, grp);
    }
    free(taken);
    return SN_OK;
}

sn_code sn_fuse_thresholds(const sn_graph *g, const sn_groups *in, sn_groups *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    out->fused = in->fused;
    out->g = sn_calloc((size_t)(in->n ? in->n : 1), sizeof *out->g);
    if (!out->g) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    memcpy(out->g, in->g, (size_t)in->n * sizeof *out->g);
    out->n = in->n;
    if (!in->fused) return SN_OK;
    for (int i = 0; i < out->n; i++) {
        sn_group *grp = &out->g[i];
        if (grp->kind != SN_G_CONV || grp->nnodes >= SN_GROUP_MAX) continue;
        int ends_open = 1; /* nothing after a pool (R4) or threshold units (R8) */
        for (int k = 1; k < grp->nnodes; k++) {
            sn_op op = g->nodes[grp->nodes[k]].op;
            ends_open &= op != SN_OP_MAXPOOL && op != SN_OP_AVGPOOL && op != SN_OP_NEURON &&
                         op != SN_OP_THRESHOLD;
        }
        int slot = 0;
        int c = ends_open ? sole_consumer(g, grp->out, &slot) : -1;
        if (c < 0 || slot != 0 || g->nodes[c].op != SN_OP_THRESHOLD) continue;
        /* the threshold units' own group (a group of one, later in the list) */
        int j = -1;
        for (int k = i + 1; k < out->n && j < 0; k++)
            if (out->g[k].nnodes == 1 && out->g[k].nodes[0] == c) j = k;
        if (j < 0) continue;
        grp->nodes[grp->nnodes++] = c;
        grp->out = g->nodes[c].out[0];
        name_group(g, grp);
        memmove(&out->g[j], &out->g[j + 1], (size_t)(out->n - j - 1) * sizeof *out->g);
        out->n--;
    }
    return SN_OK;
}

void sn_groups_free(sn_groups *gs) {
    free(gs->g);
    memset(gs, 0, sizeof *gs);
}

int sn_group_find(const sn_graph *g, const sn_group *grp, sn_op op) {
    for (int i = 0; i < grp->nnodes; i++)
        if (g->nodes[grp->nodes[i]].op == op) return grp->nodes[i];
    return -1;
}

void sn_groups_print(const sn_graph *g, const sn_groups *gs, sn_strbuf *o) {
    static const char *kinds[] = {"conv", "linear", "eltwise", "single", "bwd"};
    char sb[96];
    sn_sb_printf(o, "groups of %s (fusion %s): %d kernels for %d ops\n", g->model,
                 gs->fused ? "on" : "off", gs->n, g->nnodes);
    for (int i = 0; i < gs->n; i++) {
        const sn_group *grp = &gs->g[i];
        sn_sb_printf(o, "  g%-3d %-8s %-40s -> %%%d %s\n", i, kinds[grp->kind], grp->name, grp->out,
                     sn_shape_str(&g->tensors[grp->out].shape, sb, sizeof sb));
    }
}
