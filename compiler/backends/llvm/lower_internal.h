/* Internals of the CPU lowering shared by lower_cpu.c (inference ops) and lower_train.c
 * (the ops of a training step). */
#ifndef SN_LOWER_INTERNAL_H
#define SN_LOWER_INTERNAL_H

#include "cpu_backend.h"
#include "kernels.h"

enum { ALGO_AUTO = 0, ALGO_DIRECT = 1 };

typedef struct kentry {
    uint64_t key;
    char symbol[64];
    char kind[24];
} kentry;

typedef struct lower {
    const sn_graph *g;
    const sn_groups *gs;
    sn_jit *jit;
    sn_plan *plan;
    sn_status *st;
    sn_cpu_artifacts *art;
    int capture;
    const char *prefix; /* of kernel symbols */
    int vl, nregs, halo;
    int *buf;           /* tensor -> plan buffer, -1 if none */
    sn_cpu_layout *lay; /* tensor -> layout of buf[t] */
    int *wbuf;          /* tensor -> weight-store buffer, -1 */
    kentry *kern;
    int nkern, capkern;
    int algo;         /* convolution algorithm: ALGO_AUTO or ALGO_DIRECT (SNNC_CONV) */
    sn_jit_job *jobs; /* kernels generated but not compiled yet */
    int njobs, capjobs;
    int threads;
    /* reduced precision */
    sn_precision prec;
    sn_mm_path path;  /* the path of prec on this target */
    int dp_too;       /* bf16 on the FMA units: vdpbf16ps still takes non-Winograd convolutions */
    char *want_round; /* bf16: tensor t is the data operand of a convolution or linear layer */
    char *rounded;    /* bf16: the buffer of t holds bf16-rounded values */
    const sn_act_quant *act;
    int nact;
    char *u8; /* int8: the buffer of t is a u8 map (requantized by its producer's epilogue) */
} lower;

typedef void (*gen_fn)(sn_irb *k, const void *desc);

/* layouts */
sn_cpu_layout lw_blocked(lower *L, int C, int H, int W); /* with the plan's halo */
sn_cpu_layout lw_flat(int K);
int lw_lay_eq(const sn_cpu_layout *a, const sn_cpu_layout *b);

/* buffers: -1 (with L->st set) on failure */
int lw_new_act(lower *L, const char *name, const sn_cpu_layout *lay, int64_t images);
int lw_weight_buf(lower *L, int t);
int lw_owned_buf(lower *L, const char *name, int64_t floats);
/* the buffer of tensor t in layout `want` (a reorder step is added when needed) */
int lw_as_layout(lower *L, int t, const sn_cpu_layout *want);
/* the same for the data operand of a convolution or linear layer: in a bf16 plan, a buffer
 * holding t rounded to bf16 (its producer's store rounds, or a rounding step is added) */
int lw_operand(lower *L, int t, const sn_cpu_layout *want);
/* whether tensor t feeds bf16 layers; if so its producer must round what it stores, and t
 * counts as rounded from now on */
int lw_take_round(lower *L, int t);
/* an owned buffer of n elements of dtype */
int lw_owned_typed(lower *L, const char *name, sn_dtype dtype, int64_t n);
/* a new buffer for tensor t (the output of the group being lowered) */
int lw_set_output(lower *L, int t, const sn_cpu_layout *lay);

/* a step running a generated kernel (generation now, compilation at the end) */
int lw_step(lower *L, const char *name, const char *kind, const void *desc, size_t size, gen_fn gen,
            const int *bufs, int nbufs, int64_t ntasks, int64_t macs);
int lw_collect_epilogue(lower *L, const sn_group *grp, sn_epilogue *e, int *bn);
/* preparation step packing a conv/linear weight (transpose: 1 transposed, 2 transposed and
 * flipped, for data gradients) */
int lw_pack_weights(lower *L, const sn_node *anchor, int bn, int O, int C, int KH, int KW,
                    int winograd, int transpose, int *pw, int *pb);
int lw_conv_uses_wino(lower *L, const sn_conv_desc *d);
/* lowers a forward convolution described by d (direct or Winograd) reading xb */
sn_code lw_conv_kernel(lower *L, const char *name, sn_conv_desc *d, int xb, int pw, int pb, int yb,
                       int mask_buf, int64_t macs);

/* lower_train.c: lowers a group anchored by a training-step op; returns SN_OK, or
 * SN_ERR_INPUT with L->st untouched when the op is not one of them */
sn_code lw_lower_train(lower *L, const sn_group *grp, int *handled);

#endif
