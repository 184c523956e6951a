/* Fusion: partitions a graph's nodes into kernel groups, each run as one kernel.
 *
 * Rules (applied greedily in graph order; a node joins the group before it only if it is
 * the sole consumer of that group's output and the output is not a graph output):
 *
 *   R1  conv2d / linear anchor a group.
 *   R2  batchnorm directly after a conv2d/linear anchor is folded into it (inference:
 *       w' = w * gamma/sqrt(var+eps), b' = (b - mean) * gamma/sqrt(var+eps) + beta).
 *   R3  relu, quant and dropout (identity at inference) after an anchor join its
 *       epilogue, in graph order.
 *   R4  a max/avg pool after a conv2d group joins its epilogue when the window is
 *       non-overlapping (kernel == stride), unpadded, and tiles the map exactly; the
 *       conv then never writes its full-resolution output.
 *   R5  a chain of elementwise ops (relu, quant, dropout, standalone batchnorm) that no
 *       anchor absorbed forms one elementwise group.
 *   R6  spiking neuron dynamics are one kernel over all T steps of a layer (layer-major:
 *       the producing conv2d/linear runs once over T*N images, then the neuron kernel
 *       integrates every element over T with its membrane in a register).
 *   R7  in a training step, the relu or quant backward that masks a conv2d/linear data
 *       gradient joins it: the mask (saved activation > 0, or inside (0, B)) is applied
 *       in the epilogue, before the gradient is stored.
 *   R8  (backends whose convolution kernels have a threshold-unit epilogue opt in with
 *       sn_fuse_thresholds; the CPU backend does) threshold units (the spike counts of a
 *       converted network) that are the sole consumer of a conv2d group join it as its
 *       last op: the membrane potential v is compared with the channel's thresholds in
 *       registers and only the counts are stored. Nothing joins after them (a following
 *       pool is a kernel of its own). The CPU backend still runs them as a kernel of their
 *       own after a Winograd convolution. Threshold units after a linear layer, or after
 *       a conv2d group ending in a pool, stay a group of their own.
 *   Training-mode dropout is always a kernel of its own (it draws a mask), and a tensor
 *   read again by a backward op is materialized (a group ends wherever its output has
 *   a second consumer), so training graphs keep exactly what the backward pass reads.
 *   Everything else (flatten, pools not absorbed, encoders, time_mean, threshold units
 *   (but R8), losses, ternary weight transforms) is a group of one.
 *
 * With fusion off every node is its own group (dropout included), which is what the
 * fused/unfused benchmark compares. */
#ifndef SN_FUSION_H
#define SN_FUSION_H

#include "../ir/ir.h"

#define SN_GROUP_MAX 8

typedef enum sn_group_kind {
    SN_G_CONV = 0, /* conv2d [+bn] [+relu|quant|dropout]* [+pool | +threshold (R8)] */
    SN_G_LINEAR,   /* linear [+bn] [+relu|quant|dropout]* [+neuron] */
    SN_G_ELTWISE,  /* relu|quant|dropout|batchnorm chain */
    SN_G_SINGLE,   /* any other op alone */
    SN_G_BWD,      /* conv2d/linear data gradient [+relu_bwd|quant_bwd mask] */
} sn_group_kind;

typedef struct sn_group {
    sn_group_kind kind;
    int nodes[SN_GROUP_MAX]; /* execution order; nodes[0] is the anchor */
    int nnodes;
    int in;  /* main input tensor (the anchor's first input) */
    int out; /* tensor the group produces */
    char name[SN_IR_NAME_MAX * 2];
} sn_group;

typedef struct sn_groups {
    sn_group *g;
    int n;
    int fused; /* fusion was on */
} sn_groups;

sn_code sn_fuse(const sn_graph *g, int enable, sn_groups *out, sn_status *st);
/* R8 on fused groups: `out` is a copy of `in` (free with sn_groups_free) in which every
 * threshold-unit group that directly follows a conv2d group has joined it. A plain copy
 * when fusion was off. */
sn_code sn_fuse_thresholds(const sn_graph *g, const sn_groups *in, sn_groups *out, sn_status *st);
void sn_groups_free(sn_groups *gs);
/* Text form for `snnc inspect --stage fused`. */
struct sn_strbuf;
void sn_groups_print(const sn_graph *g, const sn_groups *gs, struct sn_strbuf *out);
/* The node of a given op inside a group, or -1. */
int sn_group_find(const sn_graph *g, const sn_group *grp, sn_op op);

#endif
