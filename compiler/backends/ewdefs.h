/* Elementwise op definitions shared by the backends: one definition of each op that a
 * kernel applies to a value before storing it (fused epilogues, standalone elementwise
 * kernels), written once as a short list of steps, and rendered by each backend.
 *
 * A definition is a straight-line program in SSA form: step i computes a float or a
 * predicate from earlier steps. The step kinds are few and exact on purpose, so that a
 * renderer has nothing to choose: float ADD/SUB/MUL are IEEE single-precision operations,
 * rounded to nearest and never contracted into fused multiply-adds; comparisons are
 * ordered (false when an operand is NaN); FLOOR rounds toward -inf. Every definition is the
 * same function as the reference interpreter's op (runtime/ref), bit for bit.
 *
 * Renderers: sn_ew_render_cuda (here) writes CUDA C statements for the codegen-templates
 * slots; the LLVM backend maps each step kind to one IR instruction (see
 * codegen-templates/README.md, "Shared elementwise definitions"). */
#ifndef SN_EWDEFS_H
#define SN_EWDEFS_H

#include "../../runtime/core/op_params.h"
#include "../../runtime/core/status.h"
#include "../../runtime/core/util.h"

typedef enum sn_ewd_kind {
    SN_EWD_RELU = 0,   /* v <= 0 ? 0 : v (NaN passes, as torch.relu) */
    SN_EWD_QUANT,      /* Q(k, B): floor(2^k * clip(v, 0, B) + 1/2) / 2^k, NaN passes */
    SN_EWD_BIAS,       /* v + p0[c] */
    SN_EWD_NORMALIZE,  /* ((v - hi) - lo) * s + b, with p0[4c .. 4c+3] = hi, lo, s, b: batch
                        * norm around its mean (hi + lo, a float pair holding the double mean),
                        * so a large mean cancels exactly instead of costing its ulp */
    SN_EWD_SCALE,      /* v * s (a constant: the direct encoder's input scale) */
    SN_EWD_THRESHOLD,  /* #{u < U : v >= p0[c*U + u]} (spatial threshold units) */
    SN_EWD_MASK_POS,   /* aux <= 0 ? 0 : v (ReLU backward; aux = the ReLU output) */
    SN_EWD_MASK_RANGE, /* 0 < aux < B ? v : 0 (Q(k,B) backward; aux = the quantizer input) */
    SN_EWD_ADD,        /* v + aux (gradient accumulation) */
    SN_EWD_KIND_COUNT
} sn_ewd_kind;

/* Step kinds. Operands a, b, c are indices of earlier steps. */
typedef enum sn_ewx_kind {
    SN_EWX_IN = 0,   /* the value entering the op */
    SN_EWX_AUX,      /* the element of the op's second input (same index as the value) */
    SN_EWX_CONST,    /* the literal imm */
    SN_EWX_ATTR,     /* attribute number `attr` of the instance (see sn_ew_inst) */
    SN_EWX_CHAN,     /* per-channel parameter array `param` at the element's channel c:
                      * param[c], or param[c * stride + offset] when stride > 0 */
    SN_EWX_ADD,      /* a + b */
    SN_EWX_SUB,      /* a - b */
    SN_EWX_MUL,      /* a * b */
    SN_EWX_FLOOR,    /* floor(a) */
    SN_EWX_LT,       /* a < b   (predicate) */
    SN_EWX_LE,       /* a <= b  (predicate) */
    SN_EWX_GT,       /* a > b   (predicate) */
    SN_EWX_GE,       /* a >= b  (predicate) */
    SN_EWX_AND,      /* a && b  (predicates) */
    SN_EWX_SELECT,   /* a ? b : c (a a predicate) */
    SN_EWX_COUNT_GE, /* number of u < attr U (attribute `attr`) with a >= param[chan*U + u] */
} sn_ewx_kind;

typedef struct sn_ewx {
    sn_ewx_kind kind;
    int a, b, c;
    float imm;
    int attr;
    int param;
    int stride, offset; /* CHAN: several values per channel */
} sn_ewx;

#define SN_EWD_MAX_STEPS  20
#define SN_EWD_MAX_ATTRS  4
#define SN_EWD_MAX_PARAMS 2

typedef struct sn_ewdef {
    sn_ewd_kind kind;
    const char *name;                         /* "relu", "quant", ... */
    int nparams;                              /* per-channel arrays read */
    int uses_aux;                             /* reads the second input */
    int nattrs;                               /* attributes of an instance */
    const char *attr_names[SN_EWD_MAX_ATTRS]; /* what each attribute is */
    int nsteps;                               /* the last step is the result */
    sn_ewx steps[SN_EWD_MAX_STEPS];
} sn_ewdef;

/* The definition of an op kind (never NULL for a valid kind). */
const sn_ewdef *sn_ewdef_get(sn_ewd_kind kind);
/* Checks a definition's structure (what a renderer relies on): every operand is an earlier
 * step of the right type (float or predicate), the result is a float, attributes and
 * per-channel arrays are in range, IN comes first. */
sn_code sn_ewdef_check(const sn_ewdef *d, sn_status *st);

/* One use of an op: its kind, attribute values, and which of the kernel's per-channel
 * arrays is its array 0 (param_base: 1 maps the op's p0 to the kernel's p1, so a bias and a
 * batch norm can share one epilogue). */
typedef struct sn_ew_inst {
    sn_ewd_kind kind;
    float attr[SN_EWD_MAX_ATTRS];
    int param_base;
} sn_ew_inst;

sn_ew_inst sn_ew_relu(void);
sn_ew_inst sn_ew_quant(const sn_quant_params *q); /* attrs: B, 2^k, 2^-k */
sn_ew_inst sn_ew_bias(void);
sn_ew_inst sn_ew_normalize(int param_base);
sn_ew_inst sn_ew_scale(float s);
sn_ew_inst sn_ew_threshold(int U);
sn_ew_inst sn_ew_mask_pos(void);
sn_ew_inst sn_ew_mask_range(float B);
sn_ew_inst sn_ew_add(void);

/* How a rendered op reaches its operands: C expressions of the kernel it is pasted into. */
typedef struct sn_ew_binding {
    const char *value;                     /* float lvalue read and updated, e.g. "v" */
    const char *chan;                      /* the element's channel, e.g. "c" */
    const char *aux;                       /* the second input's element, e.g. "aux[i]" */
    const char *params[SN_EWD_MAX_PARAMS]; /* per-channel arrays, e.g. "p0" */
} sn_ew_binding;

/* Appends one op as a CUDA C block: "{ /\* name *\/ const float t0 = v; ... v = tN; }",
 * each statement on its own line after `indent`. Arithmetic uses the __fadd_rn / __fsub_rn /
 * __fmul_rn intrinsics so that NVRTC never contracts it into FMAs. Fails (SN_ERR_RUNTIME)
 * when the binding lacks an operand the op reads. */
sn_code sn_ew_render_cuda(const sn_ew_inst *op, const sn_ew_binding *b, const char *indent,
                          sn_strbuf *out, sn_status *st);

/* A float as a CUDA/C literal that reads back as exactly the same float ("16.0f",
 * "0.0625f", "1.00000001e-07f"; infinities and NaN as bit casts). buf >= 48 bytes. */
const char *sn_cu_float_literal(float x, char *buf, size_t n);
/* The same for a double ("1.5707963267948966"). */
const char *sn_cu_double_literal(double x, char *buf, size_t n);

#endif
