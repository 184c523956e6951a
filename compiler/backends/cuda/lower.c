/* Lowering of a fused graph to a CUDA program: one or a few kernels per fusion group,
 * each a codegen-templates/ file rendered with the group's shapes and its fused epilogue
 * (rendered from the shared elementwise definitions, ../ewdefs.h), plus cuBLAS GEMMs for
 * linear layers. Every shape is a compile-time constant of the kernel. */
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../ewdefs.h"
#include "../ref/ref_backend.h"
#include "program.h"
#include "templates.h"

const char *const sn_cu_precision_names[] = {"fp32", "tf32", "bf16", NULL};

typedef struct lower {
    const sn_graph *g;
    const sn_cu_options *o;
    sn_cu_program *p;
    sn_status *st;
    int *tbuf;     /* tensor -> buffer */
    int quantized; /* the graph has quantizers, ternary weights or threshold units */
} lower;

/* ---- where reduced precision applies --------------------------------------------------- */

/* Whether tensor t holds values that TF32 and BF16 represent exactly: quantizer levels,
 * spikes and spike counts, ternary or whole-number weights (small dyadic numbers), or a
 * pooling or view of such values. */
static int exact_operand(const sn_graph *g, int t, int depth) {
    const sn_tensor *x = &g->tensors[t];
    if (x->producer < 0 || depth > 64) return 0;
    const sn_node *n = &g->nodes[x->producer];
    switch (n->op) {
    case SN_OP_QUANT:
    case SN_OP_TERNARY:
    case SN_OP_THRESHOLD:
    case SN_OP_NEURON:
    case SN_OP_ENCODE_POISSON:
    case SN_OP_SPIKE_DROP:
        return 1;
    case SN_OP_MAXPOOL:
    case SN_OP_FLATTEN:
    case SN_OP_DROPOUT: /* identity at evaluation; training graphs are not exact anyway */
        return !g->training && exact_operand(g, n->in[0], depth + 1);
    default:
        return 0;
    }
}

/* Tensor cores for a GEMM of weights w and input x (graph tensors; -1: a gradient, never
 * exact)? Every GEMM when the precision asks for them, except in quantized networks: there
 * a GEMM runs on tensor cores only when both operands are exact in the reduced format (a
 * ternary or whole-number weight times quantized activations or spikes), since rounding a
 * float operand moves pre-activations across the quantizer's decision points, which changes
 * levels and predictions, not just the last digits. Such networks thus keep their
 * full-precision first layer and float-weight classifiers in fp32 under every precision. */
static int use_tensor_cores(const lower *L, int w, int x, int w_int) {
    if (L->o->precision == SN_CU_FP32) return 0;
    if (!L->quantized) return 1;
    int wexact = w_int || (w >= 0 && exact_operand(L->g, w, 0));
    return wexact && x >= 0 && exact_operand(L->g, x, 0);
}

/* A fused elementwise chain and the operands it reads. */
#define EPI_MAX 8
typedef struct epi {
    int n;
    sn_ew_inst ops[EPI_MAX];
    int p0, p1, aux; /* buffers, or -1 */
} epi;

static void epi_init(epi *e) {
    memset(e, 0, sizeof *e);
    e->p0 = e->p1 = e->aux = -1;
}

static int epi_push(lower *L, epi *e, sn_ew_inst op, const char *where) {
    if (e->n >= EPI_MAX) {
        sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: %s has too many fused elementwise ops",
                where);
        return -1;
    }
    e->ops[e->n++] = op;
    return 0;
}

static sn_code render_epi(lower *L, const epi *e, const char *chan, const char *aux,
                          const char *indent, sn_strbuf *out) {
    sn_ew_binding b = {"v", chan, e->aux >= 0 ? aux : NULL, {"p0", "p1"}};
    for (int i = 0; i < e->n; i++)
        if (sn_ew_render_cuda(&e->ops[i], &b, indent, out, L->st)) return L->st->code;
    return SN_OK;
}

/* ---- buffers, kernels and steps ------------------------------------------------------ */

static int add_buf(lower *L, const char *name, int64_t bytes, sn_dtype dtype, int tensor,
                   const char *role) {
    sn_cu_program *p = L->p;
    if (!sn_grow((void **)&p->bufs, &p->cap_bufs, p->nbufs + 1, sizeof *p->bufs)) {
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    sn_cu_buffer *b = &p->bufs[p->nbufs];
    memset(b, 0, sizeof *b);
    sn_strlcpy(b->name, name, sizeof b->name);
    b->bytes = bytes;
    b->dtype = dtype;
    b->tensor = tensor;
    b->alias_of = -1;
    b->role = role;
    return p->nbufs++;
}

static int temp_buf(lower *L, const char *owner, const char *what, int64_t bytes) {
    char name[SN_CU_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.%s", owner, what);
    return add_buf(L, name, bytes, SN_F32, -1, "temp");
}

static const char *tensor_role(sn_tensor_kind k) {
    switch (k) {
    case SN_T_INPUT:
        return "input";
    case SN_T_LABEL:
        return "label";
    case SN_T_PARAM:
        return "param";
    case SN_T_BUFFER:
        return "buffer";
    case SN_T_ACT:
        return "act";
    case SN_T_CONST:
        return "const";
    case SN_T_OPTSTATE:
        return "optstate";
    }
    return "act";
}

/* A kernel entry name from a group or node name: "snk_" + a C identifier, made unique. */
static void kernel_name(lower *L, const char *what, const char *name, char *out, size_t n) {
    char base[SN_CU_NAME_MAX];
    sn_fmt(base, sizeof base, "snk_%s_%s", what, name);
    for (char *c = base; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            *c = '_';
    sn_strlcpy(out, base, n);
    for (int k = 2;; k++) {
        int clash = 0;
        for (int i = 0; i < L->p->nkernels && !clash; i++)
            clash = strcmp(L->p->kernels[i].name, out) == 0;
        if (!clash) return;
        sn_fmt(out, n, "%s_%d", base, k);
    }
}

/* Renders template `tmpl` into a new kernel; returns its index or -1. */
static int add_kernel(lower *L, const char *tmpl, const char *what, const char *name,
                      sn_cu_slots *slots) {
    sn_cu_program *p = L->p;
    if (!sn_grow((void **)&p->kernels, &p->cap_kernels, p->nkernels + 1, sizeof *p->kernels)) {
        sn_cu_slots_free(slots);
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    sn_cu_kernel *k = &p->kernels[p->nkernels];
    memset(k, 0, sizeof *k);
    kernel_name(L, what, name, k->name, sizeof k->name);
    sn_strlcpy(k->tmpl, tmpl, sizeof k->tmpl);
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_code c = sn_cu_render_kernel(tmpl, k->name, slots, &sb, L->st);
    sn_cu_slots_free(slots);
    if (c) {
        sn_status_context(L->st, "while rendering kernel %s (%s)", k->name, name);
        sn_sb_free(&sb);
        return -1;
    }
    k->source = sn_strdup(sn_sb_cstr(&sb));
    sn_sb_free(&sb);
    if (!k->source) {
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    k->hash = sn_hash_str(SN_HASH_INIT, k->source);
    return p->nkernels++;
}

static sn_cu_step *new_step(lower *L, sn_cu_step_kind kind, const char *name) {
    sn_cu_program *p = L->p;
    if (!sn_grow((void **)&p->steps, &p->cap_steps, p->nsteps + 1, sizeof *p->steps)) {
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    sn_cu_step *s = &p->steps[p->nsteps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    sn_strlcpy(s->name, name, sizeof s->name);
    s->kernel = s->A = s->B = s->C = -1;
    return s;
}

/* Argument list builders: B(buf) a buffer (or NULL when buf < 0), R(kind) a run-time
 * scalar. */
typedef struct argv {
    int n;
    sn_cu_arg a[SN_CU_MAX_ARGS];
} argv;

static void arg_buf(argv *v, const char *name, int buf) {
    sn_cu_arg *a = &v->a[v->n++];
    a->kind = buf >= 0 ? SN_CU_ARG_BUF : SN_CU_ARG_NULL;
    a->buf = buf;
    a->name = name;
}

static void arg_run(argv *v, const char *name, sn_cu_arg_kind kind) {
    sn_cu_arg *a = &v->a[v->n++];
    a->kind = kind;
    a->buf = -1;
    a->name = name;
}

static sn_cu_step *launch(lower *L, const char *name, int kernel, uint64_t gx, unsigned gy,
                          unsigned block, const argv *args) {
    if (kernel < 0) return NULL;
    if (gx == 0) gx = 1;
    if (gx > 0x7fffffffULL || gy > 65535) {
        sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: %s needs a grid of %llu x %u blocks", name,
                (unsigned long long)gx, gy);
        return NULL;
    }
    sn_cu_step *s = new_step(L, SN_CU_LAUNCH, name);
    if (!s) return NULL;
    s->kernel = kernel;
    s->grid[0] = (unsigned)gx;
    s->grid[1] = gy ? gy : 1;
    s->grid[2] = 1;
    s->block[0] = block;
    s->block[1] = s->block[2] = 1;
    s->nargs = args->n;
    memcpy(s->args, args->a, sizeof args->a);
    return s;
}

/* The block size of the reduction templates (bn_train_stats.cu, bn_bwd_reduce.cu,
 * chan_sum.cu, ternary_absmean.cu): rendered into them (their shared scratch and reduction
 * tree) and used to launch them, from this one constant. */
#define REDUCE_THREADS 256

/* One thread adding parts[0 .. n) in order and storing through `finish` (ordered_sum.cu):
 * the deterministic last step of multi-block reductions. */
static sn_cu_step *ordered_sum(lower *L, const char *name, int parts, int64_t n, const char *out_t,
                               int out, const char *finish);

/* Blocks of 256 for a grid-stride loop over n elements. */
static uint64_t ew_blocks(int64_t n) {
    uint64_t b = (uint64_t)((n + 255) / 256);
    return b > (1u << 20) ? (1u << 20) : b ? b : 1;
}

static int64_t numel(lower *L, int t) {
    return sn_shape_numel(&L->g->tensors[t].shape);
}

/* Channels and spatial size of an activation [lead..., C, (H, W)]. */
static void chan_dims(const sn_tensor *t, int *C, int64_t *HW) {
    *C = t->shape.rank > t->lead ? (int)t->shape.d[t->lead] : 1;
    *HW = 1;
    for (int i = t->lead + 1; i < t->shape.rank; i++) *HW *= t->shape.d[i];
}

/* ---- elementwise kernels ---------------------------------------------------------------- */

/* y = epi(x) over a tensor with channels C of HW elements each (NCHW). */
static int eltwise(lower *L, const char *name, int x, int y, int64_t n, int C, int64_t HW,
                   const epi *e, int prep) {
    sn_strbuf code;
    sn_sb_init(&code);
    if (render_epi(L, e, "c", "aux[i]", "        ", &code)) {
        sn_sb_free(&code);
        return -1;
    }
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", n);
    sn_cu_slot_i64(&s, "C", C);
    sn_cu_slot_i64(&s, "HW", HW);
    sn_cu_slot(&s, "EPILOGUE", "%s", sn_sb_cstr(&code));
    sn_sb_free(&code);
    int k = add_kernel(L, "eltwise.cu", "ew", name, &s);
    argv a = {0};
    arg_buf(&a, "x", x);
    arg_buf(&a, "y", y);
    arg_buf(&a, "p0", e->p0);
    arg_buf(&a, "p1", e->p1);
    arg_buf(&a, "aux", e->aux);
    sn_cu_step *st = launch(L, name, k, ew_blocks(n), 1, 256, &a);
    if (!st) return -1;
    st->prep = prep;
    return 0;
}

/* Inference batch norm: a prep kernel computes the constants of the shared "normalize"
 * definition (bn_fold.cu); the epilogue adds the layer's bias, if any (p0), then
 * normalizes (p1, or p0 without a bias). */
static int bn_fold(lower *L, const sn_node *bn, int bias, epi *e) {
    int C = (int)L->g->tensors[bn->in[1]].shape.d[0];
    int bnp = temp_buf(L, bn->name, "bn_params", (int64_t)C * 16);
    if (bnp < 0) return -1;
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "C", C);
    sn_cu_slot_f64(&s, "EPS", (double)bn->a.eps);
    int k = add_kernel(L, "bn_fold.cu", "bnfold", bn->name, &s);
    argv a = {0};
    arg_buf(&a, "gamma", L->tbuf[bn->in[1]]);
    arg_buf(&a, "beta", L->tbuf[bn->in[2]]);
    arg_buf(&a, "mean", L->tbuf[bn->in[3]]);
    arg_buf(&a, "var", L->tbuf[bn->in[4]]);
    arg_buf(&a, "bnp", bnp);
    sn_cu_step *st = launch(L, bn->name, k, (uint64_t)(C + 255) / 256, 1, 256, &a);
    if (!st) return -1;
    st->prep = !L->g->training;
    if (bias >= 0) {
        e->p0 = bias;
        if (epi_push(L, e, sn_ew_bias(), bn->name)) return -1;
        e->p1 = bnp;
        return epi_push(L, e, sn_ew_normalize(1), bn->name);
    }
    e->p0 = bnp;
    return epi_push(L, e, sn_ew_normalize(0), bn->name);
}

/* Appends the elementwise members (relu, quant, evaluation dropout) of a group. */
static int push_member(lower *L, epi *e, const sn_node *n) {
    switch (n->op) {
    case SN_OP_RELU:
        return epi_push(L, e, sn_ew_relu(), n->name);
    case SN_OP_QUANT:
        return epi_push(L, e, sn_ew_quant(&n->a.quant), n->name);
    case SN_OP_DROPOUT:
        if (!n->a.training) return 0; /* identity at evaluation */
        break;
    default:
        break;
    }
    sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: op %s of %s cannot be fused here",
            sn_op_name(n->op), n->name);
    return -1;
}

/* ---- implicit GEMM kernels ---------------------------------------------------------------- */

typedef struct gemm {
    int64_t M, NCOL, K;
    int64_t span; /* the largest element index any operand or the output reaches */
    int taps;
    sn_strbuf a_elem, b_elem, out_index;
    const char *pool_init, *pool_acc, *pool_finish;
} gemm;

static void gemm_init(gemm *G) {
    memset(G, 0, sizeof *G);
    sn_sb_init(&G->a_elem);
    sn_sb_init(&G->b_elem);
    sn_sb_init(&G->out_index);
    G->taps = 1;
    G->pool_init = "";
    G->pool_acc = "            acc = v;";
    G->pool_finish = "";
}

static void gemm_free(gemm *G) {
    sn_sb_free(&G->a_elem);
    sn_sb_free(&G->b_elem);
    sn_sb_free(&G->out_index);
}

/* Renders and launches an implicit GEMM: a, b are the gather operands, y the output. */
static int gemm_kernel(lower *L, const char *what, const char *name, gemm *G, int a, int b, int y,
                       const epi *e, int tc) {
    sn_strbuf code;
    sn_sb_init(&code);
    if (render_epi(L, e, "m", "aux[oi]", "            ", &code)) {
        sn_sb_free(&code);
        return -1;
    }
    /* the store phase (epilogue and pooling), shared by both GEMM templates */
    sn_cu_slots ss;
    sn_cu_slots_init(&ss);
    sn_cu_slot(&ss, "EPILOGUE", "%s", sn_sb_cstr(&code));
    sn_cu_slot(&ss, "POOL_INIT", "%s", G->pool_init);
    sn_cu_slot(&ss, "POOL_ACC", "%s", G->pool_acc);
    sn_cu_slot(&ss, "POOL_FINISH", "%s", G->pool_finish);
    sn_sb_free(&code);
    sn_sb_init(&code);
    sn_code rc = sn_cu_render("igemm_store.cuh", &ss, &code, L->st);
    sn_cu_slots_free(&ss);
    if (rc) {
        sn_sb_free(&code);
        return -1;
    }

    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot(&s, "IDX", "%s", G->span < ((int64_t)1 << 31) ? "int" : "i64");
    sn_cu_slot_i64(&s, "M", G->M);
    sn_cu_slot_i64(&s, "NCOL", G->NCOL);
    sn_cu_slot_i64(&s, "KDIM", G->K);
    sn_cu_slot_i64(&s, "TAPS", G->taps);
    sn_cu_slot(&s, "A_ELEM", "%s", sn_sb_cstr(&G->a_elem));
    sn_cu_slot(&s, "B_ELEM", "%s", sn_sb_cstr(&G->b_elem));
    sn_cu_slot(&s, "OUT_INDEX", "%s", sn_sb_cstr(&G->out_index));
    /* without the fragment's last newline: the slot's own line ends it */
    size_t store_len =
        code.len && sn_sb_cstr(&code)[code.len - 1] == '\n' ? code.len - 1 : code.len;
    sn_cu_slot(&s, "STORE", "%.*s", (int)store_len, sn_sb_cstr(&code));
    if (tc) sn_cu_slot_bool(&s, "BF16", L->o->precision == SN_CU_BF16);
    sn_sb_free(&code);
    if (G->a_elem.oom || G->b_elem.oom || G->out_index.oom) {
        sn_cu_slots_free(&s);
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    int k = add_kernel(L, tc ? "igemm_tc.cu" : "igemm_fp32.cu", what, name, &s);
    argv av = {0};
    arg_buf(&av, "a", a);
    arg_buf(&av, "b", b);
    arg_buf(&av, "y", y);
    arg_buf(&av, "p0", e->p0);
    arg_buf(&av, "p1", e->p1);
    arg_buf(&av, "aux", e->aux);
    uint64_t gx = (uint64_t)((G->NCOL + 63) / 64), gy = (uint64_t)((G->M + 63) / 64);
    if (gy > 65535) {
        sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: %s has too many GEMM rows (%lld)", name,
                (long long)G->M);
        return -1;
    }
    sn_cu_step *st = launch(L, name, k, gx, (unsigned)gy, tc ? 128 : 256, &av);
    if (!st) return -1;
    st->macs = G->M * G->NCOL * G->K;
    st->tensor_cores = tc;
    return 0;
}

/* Code decoding a column j of a forward convolution into (n, oh, ow); with a fused pool of
 * pkh x pkw windows, columns are (pooled pixel q, window tap) and (ph, pw) is decoded too. */
static void decode_fwd_col(sn_strbuf *o, const sn_conv_params *p, int pkh, int pkw, const char *j) {
    if (pkh * pkw <= 1) {
        sn_sb_printf(o, "    const idx n = %s / %lld;\n", j, (long long)p->OH * p->OW);
        sn_sb_printf(o, "    const int pix = (int)(%s %% %lld);\n", j, (long long)p->OH * p->OW);
        sn_sb_printf(o, "    const int oh = pix / %d, ow = pix %% %d;\n", p->OW, p->OW);
        return;
    }
    int POH = p->OH / pkh, POW = p->OW / pkw, taps = pkh * pkw;
    sn_sb_printf(o, "    const idx q = %s / %d;\n", j, taps);
    sn_sb_printf(o, "    const int tap = (int)(%s %% %d);\n", j, taps);
    sn_sb_printf(o, "    const idx n = q / %lld;\n", (long long)POH * POW);
    sn_sb_printf(o, "    const int pp = (int)(q %% %lld);\n", (long long)POH * POW);
    sn_sb_printf(o, "    const int ph = pp / %d, pw = pp %% %d;\n", POW, POW);
    sn_sb_printf(o, "    const int oh = ph * %d + tap / %d, ow = pw * %d + tap %% %d;\n", pkh, pkw,
                 pkw, pkw);
}

/* Elements of the largest of a convolution's input, weights and output (and the GEMM
 * dimensions, which are smaller), for the choice of a 32-bit index type. */
static int64_t conv_span(const sn_conv_params *p) {
    int64_t x = p->N * p->C * p->H * p->W, y = p->N * p->O * p->OH * p->OW;
    int64_t w = (int64_t)p->O * p->C * p->KH * p->KW;
    return SN_MAX(SN_MAX(x, y), w);
}

/* Forward convolution: rows o, columns output pixels, K = (c, kh, kw). */
static void gemm_conv_fwd(gemm *G, const sn_conv_params *p, int pkh, int pkw) {
    int khw = p->KH * p->KW;
    G->M = p->O;
    G->K = (int64_t)p->C * khw;
    G->NCOL = p->N * p->OH * p->OW;
    G->span = conv_span(p);
    sn_sb_printf(&G->a_elem, "    return a[(idx)m * %lld + k];", (long long)G->K);
    decode_fwd_col(&G->b_elem, p, pkh, pkw, "j");
    sn_sb_printf(&G->b_elem, "    const int c = (int)(k / %d), r = (int)(k %% %d);\n", khw, khw);
    sn_sb_printf(&G->b_elem, "    const int ih = oh * %d - %d + r / %d;\n", p->SH, p->PH, p->KW);
    sn_sb_printf(&G->b_elem, "    const int iw = ow * %d - %d + r %% %d;\n", p->SW, p->PW, p->KW);
    sn_sb_printf(&G->b_elem, "    if (ih < 0 || ih >= %d || iw < 0 || iw >= %d) return 0.0f;\n",
                 p->H, p->W);
    sn_sb_printf(&G->b_elem, "    return b[((n * %d + c) * %d + ih) * (idx)%d + iw];", p->C, p->H,
                 p->W);
    if (pkh * pkw <= 1) {
        sn_sb_printf(&G->out_index, "    const idx n = q / %lld;\n", (long long)p->OH * p->OW);
        sn_sb_printf(&G->out_index, "    return (n * %d + m) * %lld + q %% %lld;", p->O,
                     (long long)p->OH * p->OW, (long long)p->OH * p->OW);
    } else {
        int64_t pp = (int64_t)(p->OH / pkh) * (p->OW / pkw);
        sn_sb_printf(&G->out_index, "    const idx n = q / %lld;\n", (long long)pp);
        sn_sb_printf(&G->out_index, "    return (n * %d + m) * %lld + q %% %lld;", p->O,
                     (long long)pp, (long long)pp);
    }
}

/* Data gradient: rows c (input channels), columns input pixels, K = (o, kh, kw); the
 * output pixel a tap reaches exists only where (ih + PH - kh) divides by the stride. */
static void gemm_conv_bwd_data(gemm *G, const sn_conv_params *p) {
    int khw = p->KH * p->KW;
    G->M = p->C;
    G->K = (int64_t)p->O * khw;
    G->NCOL = p->N * p->H * p->W;
    G->span = conv_span(p);
    sn_sb_printf(&G->a_elem, "    const int o = (int)(k / %d), r = (int)(k %% %d);\n", khw, khw);
    sn_sb_printf(&G->a_elem, "    return a[((idx)o * %d + m) * %d + r];", p->C, khw);
    sn_sb_printf(&G->b_elem, "    const idx n = j / %lld;\n", (long long)p->H * p->W);
    sn_sb_printf(&G->b_elem, "    const int pix = (int)(j %% %lld);\n", (long long)p->H * p->W);
    sn_sb_printf(&G->b_elem, "    const int ih = pix / %d, iw = pix %% %d;\n", p->W, p->W);
    sn_sb_printf(&G->b_elem, "    const int o = (int)(k / %d), r = (int)(k %% %d);\n", khw, khw);
    sn_sb_printf(&G->b_elem, "    const int th = ih + %d - r / %d, tw = iw + %d - r %% %d;\n",
                 p->PH, p->KW, p->PW, p->KW);
    sn_sb_printf(&G->b_elem,
                 "    if (th < 0 || tw < 0 || th %% %d != 0 || tw %% %d != 0) return 0.0f;\n",
                 p->SH, p->SW);
    sn_sb_printf(&G->b_elem, "    const int oh = th / %d, ow = tw / %d;\n", p->SH, p->SW);
    sn_sb_printf(&G->b_elem, "    if (oh >= %d || ow >= %d) return 0.0f;\n", p->OH, p->OW);
    sn_sb_printf(&G->b_elem, "    return b[((n * %d + o) * %d + oh) * (idx)%d + ow];", p->O, p->OH,
                 p->OW);
    sn_sb_printf(&G->out_index, "    const idx n = q / %lld;\n", (long long)p->H * p->W);
    sn_sb_printf(&G->out_index, "    return (n * %d + m) * %lld + q %% %lld;", p->C,
                 (long long)p->H * p->W, (long long)p->H * p->W);
}

/* Weight gradient: rows o, columns (c, kh, kw), K = (n, oh, ow); a = dy, b = x. */
static void gemm_conv_bwd_weight(gemm *G, const sn_conv_params *p) {
    int khw = p->KH * p->KW;
    int64_t ohw = (int64_t)p->OH * p->OW;
    G->M = p->O;
    G->NCOL = (int64_t)p->C * khw;
    G->K = p->N * ohw;
    G->span = conv_span(p);
    sn_sb_printf(&G->a_elem, "    return a[(k / %lld * %d + m) * %lld + k %% %lld];",
                 (long long)ohw, p->O, (long long)ohw, (long long)ohw);
    sn_sb_printf(&G->b_elem, "    const idx n = k / %lld;\n", (long long)ohw);
    sn_sb_printf(&G->b_elem, "    const int pix = (int)(k %% %lld);\n", (long long)ohw);
    sn_sb_printf(&G->b_elem, "    const int c = (int)(j / %d), r = (int)(j %% %d);\n", khw, khw);
    sn_sb_printf(&G->b_elem, "    const int ih = pix / %d * %d - %d + r / %d;\n", p->OW, p->SH,
                 p->PH, p->KW);
    sn_sb_printf(&G->b_elem, "    const int iw = pix %% %d * %d - %d + r %% %d;\n", p->OW, p->SW,
                 p->PW, p->KW);
    sn_sb_printf(&G->b_elem, "    if (ih < 0 || ih >= %d || iw < 0 || iw >= %d) return 0.0f;\n",
                 p->H, p->W);
    sn_sb_printf(&G->b_elem, "    return b[((n * %d + c) * %d + ih) * (idx)%d + iw];", p->C, p->H,
                 p->W);
    sn_sb_printf(&G->out_index, "    return (idx)m * %lld + q;", (long long)G->NCOL);
}

/* ---- pooling ------------------------------------------------------------------------------ */

/* The window geometry slots of the pooling and im2col templates. */
static void window_slots(sn_cu_slots *s, const sn_pool_params *pp) {
    sn_cu_slot_i64(s, "H", pp->H);
    sn_cu_slot_i64(s, "W", pp->W);
    sn_cu_slot_i64(s, "OH", pp->OH);
    sn_cu_slot_i64(s, "OW", pp->OW);
    sn_cu_slot_i64(s, "KH", pp->KH);
    sn_cu_slot_i64(s, "KW", pp->KW);
    sn_cu_slot_i64(s, "SH", pp->SH);
    sn_cu_slot_i64(s, "SW", pp->SW);
    sn_cu_slot_i64(s, "PH", pp->PH);
    sn_cu_slot_i64(s, "PW", pp->PW);
}

static int pool_kernel(lower *L, const char *name, const sn_pool_params *pp, int is_max, int bwd,
                       int x, int dy, int y) {
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "PLANES", (long long)(pp->N * pp->C));
    window_slots(&s, pp);
    sn_cu_slot_bool(&s, "IS_MAX", is_max);
    int k = add_kernel(L, bwd ? "pool_bwd.cu" : "pool.cu", bwd ? "poolbwd" : "pool", name, &s);
    argv a = {0};
    arg_buf(&a, "x", x);
    if (bwd) arg_buf(&a, "dy", dy);
    arg_buf(&a, bwd ? "dx" : "y", y);
    int64_t n = pp->N * pp->C * (bwd ? (int64_t)pp->H * pp->W : (int64_t)pp->OH * pp->OW);
    return launch(L, name, k, (uint64_t)(n + 255) / 256, 1, 256, &a) ? 0 : -1;
}

/* The gated spike max pool over x [T, N, C, H, W] (spike_pool.cu). */
static sn_code spike_pool(lower *L, const sn_node *n, const sn_pool_params *pp, int x, int y) {
    const sn_tensor *xt = &L->g->tensors[n->in[0]];
    int64_t T = xt->shape.d[0], planes = sn_tensor_images(xt) / T * pp->C;
    if ((int64_t)pp->KH * pp->KW > 64)
        return sn_fail(L->st, SN_ERR_RUNTIME,
                       "CUDA backend: %s: a gated spike pool window of %dx%d is larger than 64",
                       n->name, pp->KH, pp->KW);
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "T", (long long)T);
    sn_cu_slot_i64(&s, "PLANES", (long long)planes);
    window_slots(&s, pp);
    int k = add_kernel(L, "spike_pool.cu", "spikepool", n->name, &s);
    argv a = {0};
    arg_buf(&a, "x", x);
    arg_buf(&a, "y", y);
    int64_t cnt = planes * pp->OH * pp->OW;
    return launch(L, n->name, k, (uint64_t)(cnt + 255) / 256, 1, 256, &a) ? SN_OK : L->st->code;
}

/* ---- groups ------------------------------------------------------------------------------- */

/* The epilogue of a conv2d / linear group: the bias (folded into the batch norm's shift
 * when one follows), the batch norm, then ReLU / Q(k,B) in group order; the pool (conv
 * groups) is returned separately. */
static int anchor_epilogue(lower *L, const sn_group *grp, epi *e, const sn_node **pool) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    int bias = n->a.has_bias ? L->tbuf[n->in[2]] : -1;
    int bn = sn_group_find(g, grp, SN_OP_BATCHNORM);
    epi_init(e);
    if (bn >= 0) {
        if (bn_fold(L, &g->nodes[bn], bias, e)) return -1;
    } else if (bias >= 0) {
        e->p0 = bias;
        if (epi_push(L, e, sn_ew_bias(), n->name)) return -1;
    }
    for (int i = 1; i < grp->nnodes; i++) {
        const sn_node *m = &g->nodes[grp->nodes[i]];
        if (m->op == SN_OP_BATCHNORM) continue;
        if ((m->op == SN_OP_MAXPOOL || m->op == SN_OP_AVGPOOL) && pool && !m->a.spike_gate) {
            *pool = m;
            continue;
        }
        if (push_member(L, e, m)) return -1;
    }
    return 0;
}

static sn_cu_step *sgemm(lower *L, const char *name, int transa, int transb, int64_t m, int64_t n,
                         int64_t k, int A, int64_t lda, int B, int64_t ldb, int C, int64_t ldc,
                         int tc);

/* The unfused baseline (fusion off): im2col, one cuBLAS GEMM, back to NCHW, then the
 * conv's own epilogue (its bias) as an elementwise kernel. */
static sn_code conv_im2col(lower *L, const sn_node *n, const sn_conv_params *cp, const epi *e,
                           int y) {
    int64_t K = (int64_t)cp->C * cp->KH * cp->KW, P = (int64_t)cp->OH * cp->OW, NP = cp->N * P;
    int col = temp_buf(L, n->name, "col", K * NP * 4);
    int z = temp_buf(L, n->name, "gemm", (int64_t)cp->O * NP * 4);
    if (col < 0 || z < 0) return L->st->code;
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "N", (long long)cp->N);
    sn_cu_slot_i64(&s, "C", cp->C);
    sn_pool_params win = {cp->N,  cp->C,  cp->H,  cp->W,  cp->OH, cp->OW,
                          cp->KH, cp->KW, cp->SH, cp->SW, cp->PH, cp->PW};
    window_slots(&s, &win);
    int k = add_kernel(L, "im2col.cu", "im2col", n->name, &s);
    argv a = {0};
    arg_buf(&a, "x", L->tbuf[n->in[0]]);
    arg_buf(&a, "col", col);
    if (!launch(L, n->name, k, ew_blocks(K * NP), 1, 256, &a)) return L->st->code;
    /* z [O][NP] row-major = C (NP x O) column-major = col^T (NP x K) W^T (K x O) */
    sn_cu_step *g = sgemm(L, n->name, 0, 0, NP, cp->O, K, col, NP, L->tbuf[n->in[1]], K, z, NP,
                          use_tensor_cores(L, n->in[1], n->in[0], n->a.int_weights));
    if (!g) return L->st->code;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "N", (long long)cp->N);
    sn_cu_slot_i64(&s, "O", cp->O);
    sn_cu_slot_i64(&s, "P", (long long)P);
    k = add_kernel(L, "col2nchw.cu", "col2nchw", n->name, &s);
    argv b = {0};
    arg_buf(&b, "z", z);
    arg_buf(&b, "y", y);
    if (!launch(L, n->name, k, ew_blocks(cp->N * cp->O * P), 1, 256, &b)) return L->st->code;
    if (e->n > 0 && eltwise(L, n->name, y, y, cp->N * cp->O * P, cp->O, P, e, 0))
        return L->st->code;
    return SN_OK;
}

static sn_code lower_conv(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    sn_conv_params cp = sn_conv_params_of(g, n);
    epi e;
    const sn_node *pool = NULL;
    if (anchor_epilogue(L, grp, &e, &pool)) return L->st->code;
    if (!L->p->fusion && !pool && grp->nnodes == 1)
        return conv_im2col(L, n, &cp, &e, L->tbuf[grp->out]);
    int pkh = pool ? pool->a.kh : 1, pkw = pool ? pool->a.kw : 1;
    int fuse_pool = pool && 64 % (pkh * pkw) == 0;
    int y = L->tbuf[grp->out], conv_out = y;
    if (pool && !fuse_pool) {
        /* the window does not tile a GEMM block: full-resolution output, then a pool kernel */
        conv_out = temp_buf(L, n->name, "full", cp.N * cp.O * cp.OH * cp.OW * 4);
        if (conv_out < 0) return L->st->code;
    }
    gemm G;
    gemm_init(&G);
    gemm_conv_fwd(&G, &cp, fuse_pool ? pkh : 1, fuse_pool ? pkw : 1);
    if (fuse_pool) {
        G.taps = pkh * pkw;
        if (pool->op == SN_OP_MAXPOOL) {
            G.pool_init = "        acc = SN_NEG_INF;";
            G.pool_acc = "            if (v > acc || v != v) acc = v;";
            G.pool_finish = "";
        } else {
            G.pool_init = "        double pool_sum = 0.0;";
            G.pool_acc = "            pool_sum += (double)v;";
            G.pool_finish = "        acc = (float)(pool_sum / TAPS);";
        }
    }
    int tc = use_tensor_cores(L, n->in[1], n->in[0], n->a.int_weights);
    int rc = gemm_kernel(L, "conv", grp->name, &G, L->tbuf[n->in[1]], L->tbuf[n->in[0]], conv_out,
                         &e, tc);
    gemm_free(&G);
    if (rc) return L->st->code;
    if (pool && !fuse_pool) {
        sn_pool_params pp = sn_pool_params_of(g, pool);
        if (pool_kernel(L, pool->name, &pp, pool->op == SN_OP_MAXPOOL, 0, conv_out, -1, y))
            return L->st->code;
    }
    return SN_OK;
}

/* A cuBLAS GEMM step, column-major: C (m x n) = op(A) op(B). The row-major buffers appear
 * transposed to cuBLAS, so a linear layer Y[N][M] = X[N][K] W[M][K]^T is C = Y^T with
 * op(A) = W (A = W stored, transposed) and op(B) = X^T (B = X stored). */
static sn_cu_step *sgemm(lower *L, const char *name, int transa, int transb, int64_t m, int64_t n,
                         int64_t k, int A, int64_t lda, int B, int64_t ldb, int C, int64_t ldc,
                         int tc) {
    sn_cu_step *s = new_step(L, SN_CU_SGEMM, name);
    if (!s) return NULL;
    s->transa = transa;
    s->transb = transb;
    s->m = m;
    s->n = n;
    s->k = k;
    s->A = A;
    s->lda = lda;
    s->B = B;
    s->ldb = ldb;
    s->C = C;
    s->ldc = ldc;
    s->alpha = 1.0f;
    s->beta = 0.0f;
    s->macs = m * n * k;
    s->tensor_cores = tc;
    return s;
}

static sn_code lower_linear(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    sn_linear_params lp = sn_linear_params_of(g, n);
    epi e;
    if (anchor_epilogue(L, grp, &e, NULL)) return L->st->code;
    int y = L->tbuf[grp->out];
    if (!sgemm(L, n->name, 1, 0, lp.M, lp.N, lp.K, L->tbuf[n->in[1]], lp.K, L->tbuf[n->in[0]], lp.K,
               y, lp.M, use_tensor_cores(L, n->in[1], n->in[0], n->a.int_weights)))
        return L->st->code;
    if (e.n > 0 && eltwise(L, grp->name, y, y, lp.N * lp.M, lp.M, 1, &e, 0)) return L->st->code;
    return SN_OK;
}

static sn_code lower_eltwise(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]];
    int C;
    int64_t HW;
    chan_dims(x, &C, &HW);
    int64_t cnt = numel(L, n->in[0]);
    epi e;
    epi_init(&e);
    if (n->op == SN_OP_DROPOUT && n->a.training) { /* draws its mask: a kernel of its own */
        float p = n->a.p;
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", cnt);
        sn_cu_slot_f32(&s, "P", p);
        sn_cu_slot_f32(&s, "SCALE", p < 1.0f ? 1.0f / (1.0f - p) : 0.0f);
        sn_cu_slot(
            &s, "STREAM", "0x%016llx",
            (unsigned long long)(n->a.stream ? n->a.stream : sn_hash_str(SN_HASH_INIT, n->name)));
        int k = add_kernel(L, "dropout.cu", "dropout", n->name, &s);
        argv a = {0};
        arg_buf(&a, "x", L->tbuf[n->in[0]]);
        arg_buf(&a, "y", L->tbuf[n->out[0]]);
        arg_run(&a, "seed", SN_CU_ARG_SEED);
        arg_run(&a, "training", SN_CU_ARG_TRAINING);
        if (!launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a)) return L->st->code;
        if (grp->nnodes > 1)
            return sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: ops fused after dropout in %s",
                           grp->name);
        return SN_OK;
    }
    int first = 0;
    if (n->op == SN_OP_BATCHNORM) {
        if (bn_fold(L, n, -1, &e)) return L->st->code;
        first = 1;
    } else if (n->op == SN_OP_BATCHNORM_TRAIN) {
        int bnp = temp_buf(L, n->name, "bn_params", (int64_t)C * 16);
        if (bnp < 0) return L->st->code;
        sn_bn_params bp = sn_bn_params_of(g, n);
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "N", (long long)bp.N);
        sn_cu_slot_i64(&s, "C", bp.C);
        sn_cu_slot_i64(&s, "HW", (long long)bp.HW);
        sn_cu_slot_f64(&s, "EPS", (double)bp.eps);
        sn_cu_slot_f64(&s, "MOMENTUM", (double)bp.momentum);
        sn_cu_slot_i64(&s, "THREADS", REDUCE_THREADS);
        int k = add_kernel(L, "bn_train_stats.cu", "bnstats", n->name, &s);
        argv a = {0};
        static const char *const in_names[6] = {"x",           "gamma", "beta", "running_mean",
                                                "running_var", "count"};
        for (int i = 0; i < 6; i++) arg_buf(&a, in_names[i], i < n->nin ? L->tbuf[n->in[i]] : -1);
        arg_buf(&a, "save_mean", L->tbuf[n->out[1]]);
        arg_buf(&a, "save_invstd", L->tbuf[n->out[2]]);
        arg_buf(&a, "bnp", bnp);
        if (!launch(L, n->name, k, (uint64_t)bp.C, 1, REDUCE_THREADS, &a)) return L->st->code;
        e.p0 = bnp;
        if (epi_push(L, &e, sn_ew_normalize(0), n->name)) return L->st->code;
        first = 1;
    }
    for (int i = first; i < grp->nnodes; i++)
        if (push_member(L, &e, &g->nodes[grp->nodes[i]])) return L->st->code;
    if (eltwise(L, grp->name, L->tbuf[n->in[0]], L->tbuf[grp->out], cnt, C, HW, &e, 0))
        return L->st->code;
    return SN_OK;
}

/* Data gradient of a convolution or linear layer, with the fused ReLU / Q(k,B) mask. */
static sn_code lower_bwd_data(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    epi e;
    epi_init(&e);
    for (int i = 1; i < grp->nnodes; i++) {
        const sn_node *m = &g->nodes[grp->nodes[i]];
        e.aux = L->tbuf[m->in[0]];
        if (m->op == SN_OP_RELU_BWD) {
            if (epi_push(L, &e, sn_ew_mask_pos(), m->name)) return L->st->code;
        } else if (m->op == SN_OP_QUANT_BWD) {
            if (epi_push(L, &e, sn_ew_mask_range(m->a.quant.B), m->name)) return L->st->code;
        } else {
            return sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: op %s cannot follow %s",
                           sn_op_name(m->op), n->name);
        }
    }
    int dx = L->tbuf[grp->out];
    if (n->op == SN_OP_CONV2D_BWD_DATA) {
        sn_node fwd = *n;
        fwd.in[0] = n->in[2];
        fwd.out[0] = n->in[0];
        sn_conv_params cp = sn_conv_params_of(g, &fwd);
        gemm G;
        gemm_init(&G);
        gemm_conv_bwd_data(&G, &cp);
        int rc = gemm_kernel(L, "convbwd", grp->name, &G, L->tbuf[n->in[1]], L->tbuf[n->in[0]], dx,
                             &e, use_tensor_cores(L, n->in[1], -1, 0));
        gemm_free(&G);
        return rc ? L->st->code : SN_OK;
    }
    /* linear: dx[N][K] = dy[N][M] W[M][K]; column-major dx^T = W^T-as-stored dy^T */
    const sn_tensor *xt = &g->tensors[n->in[2]], *yt = &g->tensors[n->in[0]];
    int64_t N = sn_tensor_images(xt), K = xt->shape.d[xt->lead], M = yt->shape.d[yt->lead];
    if (!sgemm(L, n->name, 0, 0, K, N, M, L->tbuf[n->in[1]], K, L->tbuf[n->in[0]], M, dx, K,
               use_tensor_cores(L, n->in[1], -1, 0)))
        return L->st->code;
    if (e.n > 0 && eltwise(L, grp->name, dx, dx, N * K, (int)K, 1, &e, 0)) return L->st->code;
    return SN_OK;
}

static int chan_sum(lower *L, const char *name, int64_t N, int C, int64_t HW, int x, int y) {
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "N", (long long)N);
    sn_cu_slot_i64(&s, "C", C);
    sn_cu_slot_i64(&s, "HW", (long long)HW);
    sn_cu_slot_i64(&s, "THREADS", REDUCE_THREADS);
    int k = add_kernel(L, "chan_sum.cu", "chansum", name, &s);
    argv a = {0};
    arg_buf(&a, "x", x);
    arg_buf(&a, "y", y);
    return launch(L, name, k, (uint64_t)C, 1, REDUCE_THREADS, &a) ? 0 : -1;
}

static void charge_reset(const sn_neuron_params *np, sn_cu_slots *s) {
    sn_cu_slot_f32(s, "VR", np->hard_reset ? np->v_reset : 0.0f);
    sn_cu_slot_f32(s, "VTH", np->v_threshold);
    sn_cu_slot_f32(s, "TAU", np->tau);
    if (np->model == SN_NEURON_IF)
        sn_cu_slot(s, "CHARGE", "            h = __fadd_rn(v, xt);");
    else if (np->decay_input)
        sn_cu_slot(
            s, "CHARGE",
            "            h = __fadd_rn(v, __fdiv_rn(__fsub_rn(xt, __fsub_rn(v, vr)), tau));");
    else
        sn_cu_slot(
            s, "CHARGE",
            "            h = __fadd_rn(__fsub_rn(v, __fdiv_rn(__fsub_rn(v, vr), tau)), xt);");
    if (np->hard_reset)
        sn_cu_slot(
            s, "RESET",
            "            v = __fadd_rn(__fmul_rn(h, __fsub_rn(1.0f, sp)), __fmul_rn(vr, sp));");
    else
        sn_cu_slot(s, "RESET", "            v = __fsub_rn(h, __fmul_rn(vth, sp));");
}

static sn_code lower_neuron(lower *L, const sn_node *n, int bwd) {
    const sn_tensor *x = &L->g->tensors[n->in[0]];
    int T = (int)x->shape.d[0];
    int64_t cnt = numel(L, n->in[0]) / T;
    const sn_neuron_params *np = &n->a.neuron;
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
    sn_cu_slot_i64(&s, "T", T);
    charge_reset(np, &s);
    argv a = {0};
    arg_buf(&a, "x", L->tbuf[n->in[0]]);
    if (bwd) {
        double alpha = (double)np->alpha;
        char lit[64];
        sn_cu_double_literal(alpha, lit, sizeof lit);
        if (np->surrogate == SN_SG_SIGMOID)
            sn_cu_slot(&s, "SURROGATE",
                       "            { const double sg = 1.0 / (1.0 + exp(-%s * xg));\n"
                       "              g = __dmul_rn(__dmul_rn(%s, sg), __dsub_rn(1.0, sg)); }",
                       lit, lit);
        else
            sn_cu_slot(&s, "SURROGATE",
                       "            { const double u = __dmul_rn(__dmul_rn(1.5707963267948966, "
                       "%s), xg);\n"
                       "              g = %s / __dmul_rn(2.0, __dadd_rn(1.0, __dmul_rn(u, u))); }",
                       lit, lit);
        double tau = (double)np->tau;
        sn_cu_slot_f64(&s, "A", np->model == SN_NEURON_IF ? 1.0 : 1.0 - 1.0 / tau);
        sn_cu_slot_f64(&s, "B", (np->model == SN_NEURON_LIF && np->decay_input) ? 1.0 / tau : 1.0);
        sn_cu_slot_bool(&s, "HARD", np->hard_reset);
        sn_cu_slot_bool(&s, "DETACH", np->detach_reset);
        arg_buf(&a, "dspikes", L->tbuf[n->in[1]]);
        arg_buf(&a, "dx", L->tbuf[n->out[0]]);
        arg_buf(&a, "dvstate", -1);
        int hbuf = temp_buf(L, n->name, "h", (int64_t)T * cnt * 4);
        if (hbuf < 0) {
            sn_cu_slots_free(&s);
            return L->st->code;
        }
        arg_buf(&a, "hbuf", hbuf);
    } else {
        arg_buf(&a, "s", L->tbuf[n->out[0]]);
        arg_buf(&a, "hseq", -1);
        arg_buf(&a, "vstate", -1);
    }
    int k = add_kernel(L, bwd ? "neuron_bwd.cu" : "neuron_fwd.cu", bwd ? "neuronbwd" : "neuron",
                       n->name, &s);
    /* one thread per neuron: small blocks keep every SM busy on small layers */
    return launch(L, n->name, k, (uint64_t)(cnt + 127) / 128, 1, 128, &a) ? SN_OK : L->st->code;
}

static sn_code time_reduce(lower *L, const sn_node *n, int T, int64_t cnt, int x, int y,
                           const char *body) {
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
    sn_cu_slot_i64(&s, "T", T);
    sn_cu_slot(&s, "BODY", "%s", body);
    int k = add_kernel(L, "time_reduce.cu", "time", n->name, &s);
    argv a = {0};
    arg_buf(&a, "x", x);
    arg_buf(&a, "y", y);
    return launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a) ? SN_OK : L->st->code;
}

static sn_code lower_loss(lower *L, const sn_node *n, int grad) {
    const sn_tensor *x = &L->g->tensors[n->in[0]];
    int64_t N = x->shape.d[0];
    int K = (int)x->shape.d[1];
    int ce = n->op == SN_OP_SOFTMAX_CE || n->op == SN_OP_SOFTMAX_CE_BWD;
    int rows = add_buf(L, "", N * 8, SN_F64, -1, "temp");
    if (rows < 0) return L->st->code;
    sn_fmt(L->p->bufs[rows].name, sizeof L->p->bufs[rows].name, "%s.row_loss", n->name);
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "N", (long long)N);
    sn_cu_slot_i64(&s, "K", K);
    if (ce) sn_cu_slot_f64(&s, "EPS", (double)n->a.label_smoothing);
    int k = add_kernel(L, ce ? "softmax_ce.cu" : "mse_onehot.cu", grad ? "lossgrad" : "loss",
                       n->name, &s);
    argv a = {0};
    arg_buf(&a, "logits", L->tbuf[n->in[0]]);
    arg_buf(&a, "labels", L->tbuf[n->in[1]]);
    arg_buf(&a, "grad", grad ? L->tbuf[n->out[0]] : -1);
    arg_buf(&a, "rowloss", rows);
    if (!launch(L, n->name, k, ew_blocks(N), 1, 256, &a)) return L->st->code;
    if (grad) return SN_OK;
    /* the mean: rows added in order, as the reference does */
    char finish[128], lit[64];
    sn_cu_double_literal(ce ? (double)N : (double)N * (double)K, lit, sizeof lit);
    sn_fmt(finish, sizeof finish, "    out[0] = (float)(total / %s);", lit);
    return ordered_sum(L, n->name, rows, N, "float", L->tbuf[n->out[0]], finish) ? SN_OK
                                                                                 : L->st->code;
}

static sn_cu_step *ordered_sum(lower *L, const char *name, int parts, int64_t n, const char *out_t,
                               int out, const char *finish) {
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "N", (long long)n);
    sn_cu_slot(&s, "OUT_T", "%s", out_t);
    sn_cu_slot(&s, "FINISH", "%s", finish);
    int k = add_kernel(L, "ordered_sum.cu", "sum", name, &s);
    argv a = {0};
    arg_buf(&a, "parts", parts);
    arg_buf(&a, "out", out);
    return launch(L, name, k, 1, 1, 1, &a);
}

static sn_code lower_optim(lower *L, const sn_node *n) {
    int64_t cnt = numel(L, n->in[0]);
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
    argv a = {0};
    arg_buf(&a, "param", L->tbuf[n->in[0]]);
    arg_buf(&a, "grad", L->tbuf[n->in[1]]);
    int k;
    if (n->op == SN_OP_SGD_UPDATE) {
        sn_cu_slot_f32(&s, "MOMENTUM", n->a.opt_momentum);
        sn_cu_slot_f32(&s, "WEIGHT_DECAY", n->a.weight_decay);
        sn_cu_slot_bool(&s, "NESTEROV", n->a.nesterov);
        k = add_kernel(L, "sgd.cu", "sgd", n->name, &s);
        arg_buf(&a, "buf", n->nin > 2 ? L->tbuf[n->in[2]] : -1);
        arg_run(&a, "lr", SN_CU_ARG_LR);
    } else {
        sn_cu_slot_f32(&s, "BETA1", n->a.beta1);
        sn_cu_slot_f32(&s, "BETA2", n->a.beta2);
        sn_cu_slot_f32(&s, "ONE_MINUS_BETA1", 1.0f - n->a.beta1);
        sn_cu_slot_f32(&s, "ONE_MINUS_BETA2", 1.0f - n->a.beta2);
        sn_cu_slot_f32(&s, "EPS", n->a.opt_eps);
        sn_cu_slot_f32(&s, "WEIGHT_DECAY", n->a.weight_decay);
        k = add_kernel(L, "adam.cu", "adam", n->name, &s);
        arg_buf(&a, "exp_avg", L->tbuf[n->in[2]]);
        arg_buf(&a, "exp_avg_sq", L->tbuf[n->in[3]]);
        arg_run(&a, "step_size", SN_CU_ARG_ADAM_STEP_SIZE);
        arg_run(&a, "bc2_sqrt", SN_CU_ARG_ADAM_BC2_SQRT);
    }
    sn_cu_step *step = launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a);
    if (!step) return L->st->code;
    step->beta1 = n->a.beta1;
    step->beta2 = n->a.beta2;
    return SN_OK;
}

static sn_code lower_single(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]];
    int xb = L->tbuf[n->in[0]], yb = n->nout > 0 ? L->tbuf[n->out[0]] : -1;
    int64_t cnt = numel(L, n->in[0]);
    int C;
    int64_t HW;
    chan_dims(x, &C, &HW);
    switch (n->op) {
    case SN_OP_TERNARY: {
        /* delta = FACTOR * mean |w|: per-block sums, then their ordered sum */
        int64_t nparts = (cnt + 8 * REDUCE_THREADS - 1) / (8 * REDUCE_THREADS);
        if (nparts > 1024) nparts = 1024;
        int parts = add_buf(L, "", nparts * 8, SN_F64, -1, "temp");
        int delta = add_buf(L, "", 8, SN_F64, -1, "temp");
        if (parts < 0 || delta < 0) return L->st->code;
        sn_fmt(L->p->bufs[parts].name, sizeof L->p->bufs[parts].name, "%s.abs_sums", n->name);
        sn_fmt(L->p->bufs[delta].name, sizeof L->p->bufs[delta].name, "%s.delta", n->name);
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        sn_cu_slot_i64(&s, "THREADS", REDUCE_THREADS);
        int k = add_kernel(L, "ternary_absmean.cu", "ternmean", n->name, &s);
        argv a = {0};
        arg_buf(&a, "w", xb);
        arg_buf(&a, "parts", parts);
        sn_cu_step *st = launch(L, n->name, k, (uint64_t)nparts, 1, REDUCE_THREADS, &a);
        if (!st) return L->st->code;
        st->prep = !g->training;
        char finish[160], f[64], nl[64];
        sn_cu_double_literal((double)n->a.ternary_threshold, f, sizeof f);
        sn_cu_double_literal((double)cnt, nl, sizeof nl);
        sn_fmt(finish, sizeof finish, "    out[0] = %s * (total / %s);", f, nl);
        st = ordered_sum(L, n->name, parts, nparts, "double", delta, finish);
        if (!st) return L->st->code;
        st->prep = !g->training;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        k = add_kernel(L, "ternary_apply.cu", "ternary", n->name, &s);
        argv b = {0};
        arg_buf(&b, "w", xb);
        arg_buf(&b, "delta", delta);
        arg_buf(&b, "wt", yb);
        st = launch(L, n->name, k, ew_blocks(cnt), 1, 256, &b);
        if (!st) return L->st->code;
        st->prep = !g->training;
        return SN_OK;
    }
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL: {
        sn_pool_params pp = sn_pool_params_of(g, n);
        if (n->a.spike_gate) return spike_pool(L, n, &pp, xb, yb);
        return pool_kernel(L, n->name, &pp, n->op == SN_OP_MAXPOOL, 0, xb, -1, yb) ? L->st->code
                                                                                   : SN_OK;
    }
    case SN_OP_POOL_BWD: {
        sn_node fwd = *n;
        fwd.out[0] = n->in[1];
        sn_pool_params pp = sn_pool_params_of(g, &fwd);
        return pool_kernel(L, n->name, &pp, n->a.max, 1, xb, L->tbuf[n->in[1]], yb) ? L->st->code
                                                                                    : SN_OK;
    }
    case SN_OP_FLATTEN:
    case SN_OP_FLATTEN_BWD: /* a view: the same memory under the new shape */
        L->p->bufs[yb].alias_of = xb;
        return SN_OK;
    case SN_OP_RELU:
    case SN_OP_QUANT:
    case SN_OP_DROPOUT:
    case SN_OP_BATCHNORM:
    case SN_OP_BATCHNORM_TRAIN:
        return lower_eltwise(L, grp);
    case SN_OP_THRESHOLD:
    case SN_OP_RELU_BWD:
    case SN_OP_QUANT_BWD:
    case SN_OP_ADD: {
        epi e;
        epi_init(&e);
        int in = xb;
        if (n->op == SN_OP_THRESHOLD) {
            e.p0 = L->tbuf[n->in[1]];
            e.ops[e.n++] = sn_ew_threshold(n->a.U);
        } else if (n->op == SN_OP_ADD) {
            e.aux = L->tbuf[n->in[1]];
            e.ops[e.n++] = sn_ew_add();
        } else { /* masks: the value is dy (input 1), the saved activation is the aux */
            in = L->tbuf[n->in[1]];
            e.aux = xb;
            e.ops[e.n++] =
                n->op == SN_OP_RELU_BWD ? sn_ew_mask_pos() : sn_ew_mask_range(n->a.quant.B);
        }
        return eltwise(L, n->name, in, yb, cnt, C, HW, &e, 0) ? L->st->code : SN_OK;
    }
    case SN_OP_DROPOUT_BWD: {
        float p = n->a.p;
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        sn_cu_slot_f32(&s, "P", p);
        sn_cu_slot_f32(&s, "SCALE", p < 1.0f ? 1.0f / (1.0f - p) : 0.0f);
        sn_cu_slot(&s, "STREAM", "0x%016llx", (unsigned long long)n->a.stream);
        int k = add_kernel(L, "dropout.cu", "dropoutbwd", n->name, &s);
        argv a = {0};
        arg_buf(&a, "x", xb); /* the forward kernel's parameters: x = dy, y = dx */
        arg_buf(&a, "y", yb);
        arg_run(&a, "seed", SN_CU_ARG_SEED);
        arg_run(&a, "training", SN_CU_ARG_TRAINING);
        return launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a) ? SN_OK : L->st->code;
    }
    case SN_OP_ENCODE_DIRECT: {
        epi e;
        epi_init(&e);
        float sc = n->a.input_scale;
        if (sc != 0.0f && sc != 1.0f) e.ops[e.n++] = sn_ew_scale(sc);
        sn_strbuf code;
        sn_sb_init(&code);
        if (render_epi(L, &e, NULL, NULL, "        ", &code)) {
            sn_sb_free(&code);
            return L->st->code;
        }
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        sn_cu_slot_i64(&s, "T", n->a.T);
        sn_cu_slot(&s, "EPILOGUE", "%s", sn_sb_cstr(&code));
        sn_sb_free(&code);
        int k = add_kernel(L, "encode_direct.cu", "encode", n->name, &s);
        argv a = {0};
        arg_buf(&a, "x", xb);
        arg_buf(&a, "s", yb);
        return launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a) ? SN_OK : L->st->code;
    }
    case SN_OP_ENCODE_POISSON: {
        int bad = add_buf(L, "", 8, SN_I64, -1, "counter");
        if (bad < 0) return L->st->code;
        sn_fmt(L->p->bufs[bad].name, sizeof L->p->bufs[bad].name, "%s.bad_inputs", n->name);
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        sn_cu_slot_i64(&s, "T", n->a.T);
        sn_cu_slot(&s, "STREAM", "0x%016llx",
                   (unsigned long long)sn_hash_str(SN_HASH_INIT, n->name));
        int k = add_kernel(L, "encode_poisson.cu", "encode", n->name, &s);
        argv a = {0};
        arg_buf(&a, "x", xb);
        arg_buf(&a, "s", yb);
        arg_buf(&a, "bad", bad);
        arg_run(&a, "seed", SN_CU_ARG_SEED);
        return launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a) ? SN_OK : L->st->code;
    }
    case SN_OP_SPIKE_DROP: {
        sn_cu_slots s;
        sn_cu_slots_init(&s);
        sn_cu_slot_i64(&s, "NUMEL", (long long)cnt);
        sn_cu_slot_i64(&s, "U", n->a.U);
        sn_cu_slot_f32(&s, "P", n->a.p);
        sn_cu_slot(&s, "STREAM", "0x%016llx", (unsigned long long)n->a.stream);
        int k = add_kernel(L, "spike_drop.cu", "spikedrop", n->name, &s);
        argv a = {0};
        arg_buf(&a, "x", xb);
        arg_buf(&a, "y", yb);
        arg_run(&a, "seed", SN_CU_ARG_SEED);
        return launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a) ? SN_OK : L->st->code;
    }
    case SN_OP_NEURON:
        return lower_neuron(L, n, 0);
    case SN_OP_NEURON_BWD:
        return lower_neuron(L, n, 1);
    case SN_OP_TIME_MEAN: {
        int T = (int)x->shape.d[0];
        return time_reduce(L, n, T, cnt / T, xb, yb,
                           "        double acc = 0.0;\n"
                           "        for (int t = 0; t < T; t++) acc += (double)x[(i64)t * NUMEL "
                           "+ i];\n"
                           "        y[i] = (float)(acc / T);");
    }
    case SN_OP_TIME_MEAN_BWD: {
        const sn_tensor *tt = &g->tensors[n->in[1]];
        int T = (int)tt->shape.d[0];
        return time_reduce(L, n, T, numel(L, n->in[1]) / T, xb, yb,
                           "        const float d = (float)((double)x[i] / T);\n"
                           "        for (int t = 0; t < T; t++) y[(i64)t * NUMEL + i] = d;");
    }
    case SN_OP_ENCODE_DIRECT_BWD: {
        int T = (int)x->shape.d[0];
        return time_reduce(L, n, T, cnt / T, xb, yb,
                           "        double acc = 0.0;\n"
                           "        for (int t = 0; t < T; t++) acc += (double)x[(i64)t * NUMEL "
                           "+ i];\n"
                           "        y[i] = (float)acc;");
    }
    case SN_OP_SOFTMAX_CE:
    case SN_OP_MSE_ONEHOT:
        return lower_loss(L, n, 0);
    case SN_OP_SOFTMAX_CE_BWD:
    case SN_OP_MSE_ONEHOT_BWD:
        return lower_loss(L, n, 1);
    case SN_OP_BATCHNORM_BWD: {
        sn_bn_params bp = sn_bn_params_of(g, n);
        int sums = add_buf(L, "", (int64_t)bp.C * 16, SN_F64, -1, "temp");
        if (sums < 0) return L->st->code;
        sn_fmt(L->p->bufs[sums].name, sizeof L->p->bufs[sums].name, "%s.sums", n->name);
        for (int pass = 0; pass < 2; pass++) {
            sn_cu_slots s;
            sn_cu_slots_init(&s);
            sn_cu_slot_i64(&s, "N", (long long)bp.N);
            sn_cu_slot_i64(&s, "C", bp.C);
            sn_cu_slot_i64(&s, "HW", (long long)bp.HW);
            argv a = {0};
            arg_buf(&a, "x", xb);
            arg_buf(&a, "dy", L->tbuf[n->in[1]]);
            int k;
            sn_cu_step *st;
            if (pass == 0) {
                sn_cu_slot_i64(&s, "THREADS", REDUCE_THREADS);
                k = add_kernel(L, "bn_bwd_reduce.cu", "bnbwdsum", n->name, &s);
                arg_buf(&a, "save_mean", L->tbuf[n->in[3]]);
                arg_buf(&a, "save_invstd", L->tbuf[n->in[4]]);
                arg_buf(&a, "dgamma", n->nout > 1 ? L->tbuf[n->out[1]] : -1);
                arg_buf(&a, "dbeta", n->nout > 2 ? L->tbuf[n->out[2]] : -1);
                arg_buf(&a, "sums", sums);
                st = launch(L, n->name, k, (uint64_t)bp.C, 1, REDUCE_THREADS, &a);
            } else {
                k = add_kernel(L, "bn_bwd_dx.cu", "bnbwd", n->name, &s);
                arg_buf(&a, "gamma", L->tbuf[n->in[2]]);
                arg_buf(&a, "save_mean", L->tbuf[n->in[3]]);
                arg_buf(&a, "save_invstd", L->tbuf[n->in[4]]);
                arg_buf(&a, "sums", sums);
                arg_buf(&a, "dx", yb);
                st = launch(L, n->name, k, ew_blocks(cnt), 1, 256, &a);
            }
            if (!st) return L->st->code;
        }
        return SN_OK;
    }
    case SN_OP_CONV2D_BWD_WEIGHT: {
        sn_node fwd = *n;
        fwd.out[0] = n->in[1];
        sn_conv_params cp = sn_conv_params_of(g, &fwd);
        gemm G;
        gemm_init(&G);
        gemm_conv_bwd_weight(&G, &cp);
        epi e;
        epi_init(&e);
        int rc = gemm_kernel(L, "convwgrad", n->name, &G, L->tbuf[n->in[1]], xb, yb, &e,
                             use_tensor_cores(L, -1, n->in[0], 0));
        gemm_free(&G);
        if (rc) return L->st->code;
        if (n->a.has_bias && n->nout > 1 &&
            chan_sum(L, n->name, cp.N, cp.O, (int64_t)cp.OH * cp.OW, L->tbuf[n->in[1]],
                     L->tbuf[n->out[1]]))
            return L->st->code;
        return SN_OK;
    }
    case SN_OP_LINEAR_BWD_WEIGHT: {
        /* dW[M][K] = dy^T x: column-major dW^T (K x M) = x^T-as-stored (K x N) dy (N x M) */
        const sn_tensor *yt = &g->tensors[n->in[1]];
        int64_t N = sn_tensor_images(x), K = x->shape.d[x->lead], M = yt->shape.d[yt->lead];
        if (!sgemm(L, n->name, 0, 1, K, M, N, xb, K, L->tbuf[n->in[1]], M, yb, K,
                   use_tensor_cores(L, -1, n->in[0], 0)))
            return L->st->code;
        if (n->a.has_bias && n->nout > 1 &&
            chan_sum(L, n->name, N, (int)M, 1, L->tbuf[n->in[1]], L->tbuf[n->out[1]]))
            return L->st->code;
        return SN_OK;
    }
    case SN_OP_SGD_UPDATE:
    case SN_OP_ADAM_UPDATE:
        return lower_optim(L, n);
    default:
        break;
    }
    return sn_fail(L->st, SN_ERR_RUNTIME, "CUDA backend: op %s of %s is not supported",
                   sn_op_name(n->op), n->name);
}

void sn_cu_program_free(sn_cu_program *p) {
    for (int i = 0; i < p->nkernels; i++) {
        free(p->kernels[i].source);
        free(p->kernels[i].ptx);
        free(p->kernels[i].cubin);
    }
    free(p->kernels);
    free(p->bufs);
    free(p->steps);
    memset(p, 0, sizeof *p);
}

sn_code sn_cuda_lower(const sn_graph *g, const sn_groups *gs, const sn_cu_options *o,
                      sn_cu_program *p, sn_status *st) {
    memset(p, 0, sizeof *p);
    if (g->step_major)
        return sn_fail(st, SN_ERR_INPUT,
                       "the CUDA backend runs spiking graphs layer-major (all T steps of a layer "
                       "at once): use --schedule layer or auto");
    sn_strlcpy(p->model, g->model, sizeof p->model);
    p->precision = o->precision;
    p->fusion = gs->fused;
    p->training = g->training;
    p->batch = g->batch;
    p->T = g->T;
    lower L = {g, o, p, st, sn_calloc((size_t)(g->ntensors ? g->ntensors : 1), sizeof(int)), 0};
    if (!L.tbuf) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < g->nnodes; i++) {
        sn_op op = g->nodes[i].op;
        L.quantized |= op == SN_OP_QUANT || op == SN_OP_TERNARY || op == SN_OP_THRESHOLD;
    }
    for (int t = 0; t < g->ntensors; t++) {
        const sn_tensor *x = &g->tensors[t];
        int64_t bytes = sn_shape_numel(&x->shape) * (int64_t)sn_dtype_size(x->dtype);
        L.tbuf[t] = add_buf(&L, x->name, bytes, x->dtype, t, tensor_role(x->kind));
        if (L.tbuf[t] < 0) goto fail;
    }
    p->in_buf = L.tbuf[g->input];
    p->out_buf = L.tbuf[g->output];
    p->label_buf = g->label >= 0 ? L.tbuf[g->label] : -1;
    p->loss_buf = g->loss >= 0 ? L.tbuf[g->loss] : -1;
    for (int i = 0; i < gs->n; i++) {
        const sn_group *grp = &gs->g[i];
        sn_code c;
        switch (grp->kind) {
        case SN_G_CONV:
            c = lower_conv(&L, grp);
            break;
        case SN_G_LINEAR:
            c = lower_linear(&L, grp);
            break;
        case SN_G_ELTWISE:
            c = lower_eltwise(&L, grp);
            break;
        case SN_G_BWD:
            c = lower_bwd_data(&L, grp);
            break;
        default:
            c = lower_single(&L, grp);
            break;
        }
        if (c) {
            sn_status_context(st, "while lowering %s for CUDA", grp->name);
            goto fail;
        }
    }
    /* buffers some step touches (directly or through a view), and the program's inputs and
     * outputs; the rest are fused-away intermediates that need no memory */
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        for (int a = 0; a < s->nargs; a++)
            if (s->args[a].kind == SN_CU_ARG_BUF) p->bufs[s->args[a].buf].used = 1;
        if (s->kind == SN_CU_SGEMM)
            p->bufs[s->A].used = p->bufs[s->B].used = p->bufs[s->C].used = 1;
    }
    int io[4] = {p->in_buf, p->out_buf, p->label_buf, p->loss_buf};
    for (int i = 0; i < 4; i++)
        if (io[i] >= 0) p->bufs[io[i]].used = 1;
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].used && p->bufs[i].alias_of >= 0) p->bufs[p->bufs[i].alias_of].used = 1;
    free(L.tbuf);
    return SN_OK;
fail:
    free(L.tbuf);
    sn_cu_program_free(p);
    return st->code;
}
