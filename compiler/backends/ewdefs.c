/* The elementwise op table and its CUDA renderer (see ewdefs.h). */
#include "ewdefs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define X_IN                                                                                       \
    { SN_EWX_IN, 0, 0, 0, 0.0f, 0, 0, 0, 0 }
#define X_AUX                                                                                      \
    { SN_EWX_AUX, 0, 0, 0, 0.0f, 0, 0, 0, 0 }
#define X_CONST(v)                                                                                 \
    { SN_EWX_CONST, 0, 0, 0, (v), 0, 0, 0, 0 }
#define X_ATTR(i)                                                                                  \
    { SN_EWX_ATTR, 0, 0, 0, 0.0f, (i), 0, 0, 0 }
#define X_CHAN(p)                                                                                  \
    { SN_EWX_CHAN, 0, 0, 0, 0.0f, 0, (p), 0, 0 }
#define X_CHANK(p, stride, off)                                                                    \
    { SN_EWX_CHAN, 0, 0, 0, 0.0f, 0, (p), (stride), (off) }
#define X_OP1(k, a)                                                                                \
    { (k), (a), 0, 0, 0.0f, 0, 0, 0, 0 }
#define X_OP2(k, a, b)                                                                             \
    { (k), (a), (b), 0, 0.0f, 0, 0, 0, 0 }
#define X_SELECT(p, a, b)                                                                          \
    { SN_EWX_SELECT, (p), (a), (b), 0.0f, 0, 0, 0, 0 }
#define X_COUNT_GE(a, attr, param)                                                                 \
    { SN_EWX_COUNT_GE, (a), 0, 0, 0.0f, (attr), (param), 0, 0 }

/* Each definition is the reference op (runtime/ref) written as steps; the comments give the
 * step numbers of the intermediate values. */
static const sn_ewdef defs[SN_EWD_KIND_COUNT] = {
    [SN_EWD_RELU] = {SN_EWD_RELU,
                     "relu",
                     0,
                     0,
                     0,
                     {NULL},
                     4,
                     {X_IN, X_CONST(0.0f), X_OP2(SN_EWX_LE, 0, 1), X_SELECT(2, 1, 0)}},
    /* sn_ref_quant computes floor(2^k x + 1/2) in double. In float, t = 2^k clip(x) is exact
     * (a power-of-two scaling), f = floor(t) and t - f are exact, so f + (t - f >= 1/2) is
     * the same integer without the rounding a float t + 1/2 would make; the final scaling by
     * 2^-k is exact too. */
    [SN_EWD_QUANT] = {SN_EWD_QUANT,
                      "quant",
                      0,
                      0,
                      3,
                      {"B", "2^k", "2^-k"},
                      18,
                      {
                          X_IN,                      /* 0 x */
                          X_CONST(0.0f),             /* 1 */
                          X_OP2(SN_EWX_LT, 0, 1),    /* 2 x < 0 */
                          X_SELECT(2, 1, 0),         /* 3 max(x, 0), NaN kept */
                          X_ATTR(0),                 /* 4 B */
                          X_OP2(SN_EWX_GT, 3, 4),    /* 5 */
                          X_SELECT(5, 4, 3),         /* 6 clip(x, 0, B) */
                          X_ATTR(1),                 /* 7 2^k */
                          X_OP2(SN_EWX_MUL, 6, 7),   /* 8 t */
                          X_OP1(SN_EWX_FLOOR, 8),    /* 9 f */
                          X_OP2(SN_EWX_SUB, 8, 9),   /* 10 t - f */
                          X_CONST(0.5f),             /* 11 */
                          X_OP2(SN_EWX_GE, 10, 11),  /* 12 round up */
                          X_CONST(1.0f),             /* 13 */
                          X_SELECT(12, 13, 1),       /* 14 1 or 0 */
                          X_OP2(SN_EWX_ADD, 9, 14),  /* 15 the level */
                          X_ATTR(2),                 /* 16 2^-k */
                          X_OP2(SN_EWX_MUL, 15, 16), /* 17 */
                      }},
    [SN_EWD_BIAS] =
        {SN_EWD_BIAS, "bias", 1, 0, 0, {NULL}, 3, {X_IN, X_CHAN(0), X_OP2(SN_EWX_ADD, 0, 1)}},
    /* runtime/ref normalizes (x - mean) * invstd * g + b in double. In float, x - hi is exact
     * when x is within a factor of two of the mean (Sterbenz) and - lo adds the rest of the
     * double mean, so the value is centred to about an ulp of the spread, not of the mean;
     * then one rounding for the scale s = invstd * g (rounded once from double) and one for
     * the shift b = beta. */
    [SN_EWD_NORMALIZE] = {SN_EWD_NORMALIZE,
                          "normalize",
                          1,
                          0,
                          0,
                          {NULL},
                          9,
                          {
                              X_IN,                    /* 0 x */
                              X_CHANK(0, 4, 0),        /* 1 hi */
                              X_OP2(SN_EWX_SUB, 0, 1), /* 2 */
                              X_CHANK(0, 4, 1),        /* 3 lo */
                              X_OP2(SN_EWX_SUB, 2, 3), /* 4 x - mean */
                              X_CHANK(0, 4, 2),        /* 5 s */
                              X_OP2(SN_EWX_MUL, 4, 5), /* 6 */
                              X_CHANK(0, 4, 3),        /* 7 b */
                              X_OP2(SN_EWX_ADD, 6, 7), /* 8 */
                          }},
    [SN_EWD_SCALE] =
        {SN_EWD_SCALE, "scale", 0, 0, 1, {"s"}, 3, {X_IN, X_ATTR(0), X_OP2(SN_EWX_MUL, 0, 1)}},
    [SN_EWD_THRESHOLD] =
        {SN_EWD_THRESHOLD, "threshold", 1, 0, 1, {"U"}, 2, {X_IN, X_COUNT_GE(0, 0, 0)}},
    [SN_EWD_MASK_POS] = {SN_EWD_MASK_POS,
                         "mask_pos",
                         0,
                         1,
                         0,
                         {NULL},
                         5,
                         {X_IN, X_AUX, X_CONST(0.0f), X_OP2(SN_EWX_LE, 1, 2), X_SELECT(3, 2, 0)}},
    [SN_EWD_MASK_RANGE] = {SN_EWD_MASK_RANGE,
                           "mask_range",
                           0,
                           1,
                           1,
                           {"B"},
                           8,
                           {X_IN, X_AUX, X_CONST(0.0f), X_OP2(SN_EWX_GT, 1, 2), X_ATTR(0),
                            X_OP2(SN_EWX_LT, 1, 4), X_OP2(SN_EWX_AND, 3, 5), X_SELECT(6, 0, 2)}},
    [SN_EWD_ADD] = {SN_EWD_ADD, "add", 0, 1, 0, {NULL}, 3, {X_IN, X_AUX, X_OP2(SN_EWX_ADD, 0, 1)}},
};

const sn_ewdef *sn_ewdef_get(sn_ewd_kind kind) {
    if ((int)kind < 0 || kind >= SN_EWD_KIND_COUNT) return NULL;
    return &defs[kind];
}

static sn_ew_inst inst(sn_ewd_kind kind) {
    sn_ew_inst e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    return e;
}

sn_ew_inst sn_ew_relu(void) {
    return inst(SN_EWD_RELU);
}

sn_ew_inst sn_ew_quant(const sn_quant_params *q) {
    sn_ew_inst e = inst(SN_EWD_QUANT);
    e.attr[0] = q->B;
    e.attr[1] = ldexpf(1.0f, q->k);
    e.attr[2] = ldexpf(1.0f, -q->k);
    return e;
}

sn_ew_inst sn_ew_bias(void) {
    return inst(SN_EWD_BIAS);
}

sn_ew_inst sn_ew_normalize(int param_base) {
    sn_ew_inst e = inst(SN_EWD_NORMALIZE);
    e.param_base = param_base;
    return e;
}

sn_ew_inst sn_ew_scale(float s) {
    sn_ew_inst e = inst(SN_EWD_SCALE);
    e.attr[0] = s;
    return e;
}

sn_ew_inst sn_ew_threshold(int U) {
    sn_ew_inst e = inst(SN_EWD_THRESHOLD);
    e.attr[0] = (float)U;
    return e;
}

sn_ew_inst sn_ew_mask_pos(void) {
    return inst(SN_EWD_MASK_POS);
}

sn_ew_inst sn_ew_mask_range(float B) {
    sn_ew_inst e = inst(SN_EWD_MASK_RANGE);
    e.attr[0] = B;
    return e;
}

sn_ew_inst sn_ew_add(void) {
    return inst(SN_EWD_ADD);
}

const char *sn_cu_float_literal(float x, char *buf, size_t n) {
    if (isnan(x)) {
        snprintf(buf, n, "__int_as_float(0x7fc00000)");
        return buf;
    }
    if (isinf(x)) {
        snprintf(buf, n, x > 0 ? "__int_as_float(0x7f800000)" : "__int_as_float((int)0xff800000u)");
        return buf;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.9g", (double)x);
    snprintf(buf, n, "%s%sf", tmp, strpbrk(tmp, ".e") ? "" : ".0");
    return buf;
}

const char *sn_cu_double_literal(double x, char *buf, size_t n) {
    if (isnan(x)) {
        snprintf(buf, n, "__longlong_as_double(0x7ff8000000000000ll)");
        return buf;
    }
    if (isinf(x)) {
        snprintf(buf, n, "__longlong_as_double(%s)",
                 x > 0 ? "0x7ff0000000000000ll" : "(long long)0xfff0000000000000ull");
        return buf;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.17g", x);
    snprintf(buf, n, "%s%s", tmp, strpbrk(tmp, ".e") ? "" : ".0");
    return buf;
}

static int is_pred(sn_ewx_kind k) {
    return k == SN_EWX_LT || k == SN_EWX_LE || k == SN_EWX_GT || k == SN_EWX_GE || k == SN_EWX_AND;
}

sn_code sn_ewdef_check(const sn_ewdef *d, sn_status *st) {
    if (d->nsteps < 1 || d->nsteps > SN_EWD_MAX_STEPS || d->steps[0].kind != SN_EWX_IN)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: must start with IN and have 1..%d steps", d->name,
                       SN_EWD_MAX_STEPS);
    for (int i = 0; i < d->nsteps; i++) {
        const sn_ewx *x = &d->steps[i];
        int nops = 0, want_pred[3] = {0, 0, 0};
        switch (x->kind) {
        case SN_EWX_IN:
        case SN_EWX_AUX:
        case SN_EWX_CONST:
            break;
        case SN_EWX_ATTR:
            if (x->attr < 0 || x->attr >= d->nattrs)
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: attribute %d of %d", d->name, i,
                               x->attr, d->nattrs);
            break;
        case SN_EWX_CHAN:
            if (x->param < 0 || x->param >= d->nparams)
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: array %d of %d", d->name, i,
                               x->param, d->nparams);
            if (x->stride < 0 || x->offset < 0 || (x->stride ? x->offset >= x->stride : x->offset))
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: offset %d of stride %d", d->name, i,
                               x->offset, x->stride);
            break;
        case SN_EWX_FLOOR:
            nops = 1;
            break;
        case SN_EWX_ADD:
        case SN_EWX_SUB:
        case SN_EWX_MUL:
        case SN_EWX_LT:
        case SN_EWX_LE:
        case SN_EWX_GT:
        case SN_EWX_GE:
            nops = 2;
            break;
        case SN_EWX_AND:
            nops = 2;
            want_pred[0] = want_pred[1] = 1;
            break;
        case SN_EWX_SELECT:
            nops = 3;
            want_pred[0] = 1;
            break;
        case SN_EWX_COUNT_GE:
            nops = 1;
            if (x->attr < 0 || x->attr >= d->nattrs || x->param < 0 || x->param >= d->nparams)
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: bad count operands", d->name, i);
            break;
        }
        if (x->kind == SN_EWX_AUX && !d->uses_aux)
            return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: AUX without uses_aux", d->name, i);
        int ops[3] = {x->a, x->b, x->c};
        for (int k = 0; k < nops; k++) {
            if (ops[k] < 0 || ops[k] >= i)
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: operand %d is not an earlier step",
                               d->name, i, ops[k]);
            if (is_pred(d->steps[ops[k]].kind) != want_pred[k])
                return sn_fail(st, SN_ERR_RUNTIME, "%s step %d: operand %d is %s", d->name, i,
                               ops[k], want_pred[k] ? "not a predicate" : "a predicate");
        }
    }
    if (is_pred(d->steps[d->nsteps - 1].kind))
        return sn_fail(st, SN_ERR_RUNTIME, "%s: the result is a predicate", d->name);
    return SN_OK;
}

sn_code sn_ew_render_cuda(const sn_ew_inst *op, const sn_ew_binding *b, const char *indent,
                          sn_strbuf *out, sn_status *st) {
    const sn_ewdef *d = sn_ewdef_get(op->kind);
    if (!d) return sn_fail(st, SN_ERR_RUNTIME, "elementwise op %d is not defined", (int)op->kind);
    if (!b->value) return sn_fail(st, SN_ERR_RUNTIME, "elementwise op %s: no value", d->name);
    if (d->uses_aux && !b->aux)
        return sn_fail(st, SN_ERR_RUNTIME, "elementwise op %s reads a second input: none bound",
                       d->name);
    const int base = op->param_base;
    if (base < 0 || base + d->nparams > SN_EWD_MAX_PARAMS)
        return sn_fail(st, SN_ERR_RUNTIME, "elementwise op %s: per-channel arrays from %d", d->name,
                       base);
    for (int p = 0; p < d->nparams; p++)
        if (!b->params[base + p] || !b->chan)
            return sn_fail(st, SN_ERR_RUNTIME,
                           "elementwise op %s reads per-channel array %d: none bound", d->name,
                           base + p);
    char lit[64];
    sn_sb_printf(out, "%s{ /* %s */\n", indent, d->name);
    for (int i = 0; i < d->nsteps; i++) {
        const sn_ewx *x = &d->steps[i];
        if (x->kind == SN_EWX_COUNT_GE) {
            int U = (int)op->attr[x->attr];
            sn_sb_printf(out, "%s    int ew%dn = 0;\n", indent, i);
            sn_sb_printf(out,
                         "%s    for (int u = 0; u < %d; u++) ew%dn += ew%d >= %s[(long long)(%s) * "
                         "%d + u];\n",
                         indent, U, i, x->a, b->params[base + x->param], b->chan, U);
            sn_sb_printf(out, "%s    const float ew%d = (float)ew%dn;\n", indent, i, i);
            continue;
        }
        sn_sb_printf(out, "%s    const %s ew%d = ", indent, is_pred(x->kind) ? "bool" : "float", i);
        switch (x->kind) {
        case SN_EWX_IN:
            sn_sb_puts(out, b->value);
            break;
        case SN_EWX_AUX:
            sn_sb_printf(out, "(%s)", b->aux);
            break;
        case SN_EWX_CONST:
            sn_sb_puts(out, sn_cu_float_literal(x->imm, lit, sizeof lit));
            break;
        case SN_EWX_ATTR:
            sn_sb_puts(out, sn_cu_float_literal(op->attr[x->attr], lit, sizeof lit));
            break;
        case SN_EWX_CHAN:
            if (x->stride > 0)
                sn_sb_printf(out, "%s[(%s) * %d + %d]", b->params[base + x->param], b->chan,
                             x->stride, x->offset);
            else
                sn_sb_printf(out, "%s[%s]", b->params[base + x->param], b->chan);
            break;
        case SN_EWX_ADD:
            sn_sb_printf(out, "__fadd_rn(ew%d, ew%d)", x->a, x->b);
            break;
        case SN_EWX_SUB:
            sn_sb_printf(out, "__fsub_rn(ew%d, ew%d)", x->a, x->b);
            break;
        case SN_EWX_MUL:
            sn_sb_printf(out, "__fmul_rn(ew%d, ew%d)", x->a, x->b);
            break;
        case SN_EWX_FLOOR:
            sn_sb_printf(out, "floorf(ew%d)", x->a);
            break;
        case SN_EWX_LT:
            sn_sb_printf(out, "ew%d < ew%d", x->a, x->b);
            break;
        case SN_EWX_LE:
            sn_sb_printf(out, "ew%d <= ew%d", x->a, x->b);
            break;
        case SN_EWX_GT:
            sn_sb_printf(out, "ew%d > ew%d", x->a, x->b);
            break;
        case SN_EWX_GE:
            sn_sb_printf(out, "ew%d >= ew%d", x->a, x->b);
            break;
        case SN_EWX_AND:
            sn_sb_printf(out, "ew%d && ew%d", x->a, x->b);
            break;
        case SN_EWX_SELECT:
            sn_sb_printf(out, "ew%d ? ew%d : ew%d", x->a, x->b, x->c);
            break;
        case SN_EWX_COUNT_GE:
            break;
        }
        sn_sb_puts(out, ";\n");
    }
    sn_sb_printf(out, "%s    %s = ew%d;\n%s}\n", indent, b->value, d->nsteps - 1, indent);
    if (out->oom) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    return SN_OK;
}
