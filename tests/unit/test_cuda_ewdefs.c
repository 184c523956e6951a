/* The shared elementwise definitions (compiler/backends/ewdefs.h): every definition is
 * well formed, the CUDA renderer writes the expected text for each op, and float literals
 * read back as the same float. The definitions' semantics are checked against the
 * reference ops by evaluating them here with the C operators the renderer's intrinsics
 * stand for. Needs no CUDA toolkit. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/ewdefs.h"
#include "runtime/ref/ref_ops.h"

static void test_table(void) {
    for (int k = 0; k < SN_EWD_KIND_COUNT; k++) {
        const sn_ewdef *d = sn_ewdef_get((sn_ewd_kind)k);
        CHECK(d != NULL);
        if (!d) continue;
        CHECK_EQ_INT(d->kind, k);
        sn_status st;
        sn_status_init(&st);
        CHECK_MSG(sn_ewdef_check(d, &st) == SN_OK, "%s", st.msg);
        for (int j = 0; j < k; j++) CHECK(strcmp(sn_ewdef_get((sn_ewd_kind)j)->name, d->name) != 0);
    }
    CHECK(sn_ewdef_get(SN_EWD_KIND_COUNT) == NULL);
}

static sn_strbuf render(sn_ew_inst op, const char *aux) {
    sn_ew_binding b = {"v", "c", aux, {"p0", "p1"}};
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_status st;
    sn_status_init(&st);
    CHECK_MSG(sn_ew_render_cuda(&op, &b, "", &sb, &st) == SN_OK, "%s", st.msg);
    return sb;
}

static void expect(sn_ew_inst op, const char *aux, const char *want) {
    sn_strbuf sb = render(op, aux);
    CHECK_MSG(strcmp(sn_sb_cstr(&sb), want) == 0, "rendered:\n%s\nexpected:\n%s", sn_sb_cstr(&sb),
              want);
    sn_sb_free(&sb);
}

static void test_render(void) {
    expect(sn_ew_relu(), NULL,
           "{ /* relu */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = 0.0f;\n"
           "    const bool ew2 = ew0 <= ew1;\n"
           "    const float ew3 = ew2 ? ew1 : ew0;\n"
           "    v = ew3;\n"
           "}\n");
    sn_quant_params q = {4, 1.0f};
    expect(sn_ew_quant(&q), NULL,
           "{ /* quant */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = 0.0f;\n"
           "    const bool ew2 = ew0 < ew1;\n"
           "    const float ew3 = ew2 ? ew1 : ew0;\n"
           "    const float ew4 = 1.0f;\n"
           "    const bool ew5 = ew3 > ew4;\n"
           "    const float ew6 = ew5 ? ew4 : ew3;\n"
           "    const float ew7 = 16.0f;\n"
           "    const float ew8 = __fmul_rn(ew6, ew7);\n"
           "    const float ew9 = floorf(ew8);\n"
           "    const float ew10 = __fsub_rn(ew8, ew9);\n"
           "    const float ew11 = 0.5f;\n"
           "    const bool ew12 = ew10 >= ew11;\n"
           "    const float ew13 = 1.0f;\n"
           "    const float ew14 = ew12 ? ew13 : ew1;\n"
           "    const float ew15 = __fadd_rn(ew9, ew14);\n"
           "    const float ew16 = 0.0625f;\n"
           "    const float ew17 = __fmul_rn(ew15, ew16);\n"
           "    v = ew17;\n"
           "}\n");
    expect(sn_ew_bias(), NULL,
           "{ /* bias */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = p0[c];\n"
           "    const float ew2 = __fadd_rn(ew0, ew1);\n"
           "    v = ew2;\n"
           "}\n");
    expect(sn_ew_normalize(1), NULL,
           "{ /* normalize */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = p1[(c) * 4 + 0];\n"
           "    const float ew2 = __fsub_rn(ew0, ew1);\n"
           "    const float ew3 = p1[(c) * 4 + 1];\n"
           "    const float ew4 = __fsub_rn(ew2, ew3);\n"
           "    const float ew5 = p1[(c) * 4 + 2];\n"
           "    const float ew6 = __fmul_rn(ew4, ew5);\n"
           "    const float ew7 = p1[(c) * 4 + 3];\n"
           "    const float ew8 = __fadd_rn(ew6, ew7);\n"
           "    v = ew8;\n"
           "}\n");
    expect(sn_ew_scale(0.25f), NULL,
           "{ /* scale */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = 0.25f;\n"
           "    const float ew2 = __fmul_rn(ew0, ew1);\n"
           "    v = ew2;\n"
           "}\n");
    expect(sn_ew_threshold(3), NULL,
           "{ /* threshold */\n"
           "    const float ew0 = v;\n"
           "    int ew1n = 0;\n"
           "    for (int u = 0; u < 3; u++) ew1n += ew0 >= p0[(long long)(c) * 3 + u];\n"
           "    const float ew1 = (float)ew1n;\n"
           "    v = ew1;\n"
           "}\n");
    expect(sn_ew_mask_pos(), "m[i]",
           "{ /* mask_pos */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = (m[i]);\n"
           "    const float ew2 = 0.0f;\n"
           "    const bool ew3 = ew1 <= ew2;\n"
           "    const float ew4 = ew3 ? ew2 : ew0;\n"
           "    v = ew4;\n"
           "}\n");
    expect(sn_ew_mask_range(2.0f), "m[i]",
           "{ /* mask_range */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = (m[i]);\n"
           "    const float ew2 = 0.0f;\n"
           "    const bool ew3 = ew1 > ew2;\n"
           "    const float ew4 = 2.0f;\n"
           "    const bool ew5 = ew1 < ew4;\n"
           "    const bool ew6 = ew3 && ew5;\n"
           "    const float ew7 = ew6 ? ew0 : ew2;\n"
           "    v = ew7;\n"
           "}\n");
    expect(sn_ew_add(), "b[i]",
           "{ /* add */\n"
           "    const float ew0 = v;\n"
           "    const float ew1 = (b[i]);\n"
           "    const float ew2 = __fadd_rn(ew0, ew1);\n"
           "    v = ew2;\n"
           "}\n");
    /* indentation is applied to every line */
    sn_ew_binding b = {"acc", "ch", NULL, {"bias", NULL}};
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_status st;
    sn_status_init(&st);
    sn_ew_inst op = sn_ew_bias();
    CHECK(sn_ew_render_cuda(&op, &b, "    ", &sb, &st) == SN_OK);
    CHECK_CONTAINS(sn_sb_cstr(&sb), "    { /* bias */\n        const float ew0 = acc;\n");
    CHECK_CONTAINS(sn_sb_cstr(&sb), "        const float ew1 = bias[ch];\n");
    CHECK_CONTAINS(sn_sb_cstr(&sb), "        acc = ew2;\n    }\n");
    /* an operand the op reads but the binding lacks is an error */
    op = sn_ew_mask_pos();
    CHECK(sn_ew_render_cuda(&op, &b, "", &sb, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "mask_pos reads a second input");
    sn_status_init(&st);
    op = sn_ew_normalize(1);
    CHECK(sn_ew_render_cuda(&op, &b, "", &sb, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "per-channel array 1");
    sn_sb_free(&sb);
}

/* Evaluates a definition the way the rendered CUDA computes it (the intrinsics are single
 * IEEE operations, as C float arithmetic with FLT_EVAL_METHOD 0). */
static float eval(const sn_ew_inst *op, float v, float aux, const float *p0, const float *p1,
                  int c) {
    const sn_ewdef *d = sn_ewdef_get(op->kind);
    float f[SN_EWD_MAX_STEPS];
    int b[SN_EWD_MAX_STEPS];
    const float *params[2] = {p0, p1};
    for (int i = 0; i < d->nsteps; i++) {
        const sn_ewx *x = &d->steps[i];
        volatile float r = 0.0f; /* volatile: one rounding per step, no contraction */
        switch (x->kind) {
        case SN_EWX_IN:
            r = v;
            break;
        case SN_EWX_AUX:
            r = aux;
            break;
        case SN_EWX_CONST:
            r = x->imm;
            break;
        case SN_EWX_ATTR:
            r = op->attr[x->attr];
            break;
        case SN_EWX_CHAN: {
            const float *a = params[op->param_base + x->param];
            r = x->stride > 0 ? a[c * x->stride + x->offset] : a[c];
            break;
        }
        case SN_EWX_ADD:
            r = f[x->a] + f[x->b];
            break;
        case SN_EWX_SUB:
            r = f[x->a] - f[x->b];
            break;
        case SN_EWX_MUL:
            r = f[x->a] * f[x->b];
            break;
        case SN_EWX_FLOOR:
            r = floorf(f[x->a]);
            break;
        case SN_EWX_LT:
            b[i] = f[x->a] < f[x->b];
            break;
        case SN_EWX_LE:
            b[i] = f[x->a] <= f[x->b];
            break;
        case SN_EWX_GT:
            b[i] = f[x->a] > f[x->b];
            break;
        case SN_EWX_GE:
            b[i] = f[x->a] >= f[x->b];
            break;
        case SN_EWX_AND:
            b[i] = b[x->a] && b[x->b];
            break;
        case SN_EWX_SELECT:
            r = b[x->a] ? f[x->b] : f[x->c];
            break;
        case SN_EWX_COUNT_GE: {
            int U = (int)op->attr[x->attr], n = 0;
            for (int u = 0; u < U; u++)
                n += f[x->a] >= params[op->param_base + x->param][c * U + u];
            r = (float)n;
            break;
        }
        }
        f[i] = r;
    }
    return f[d->nsteps - 1];
}

static int same(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

/* Bit-exact agreement with the reference ops, including the quantizer's decision points
 * (the midpoints (i + 1/2) / 2^k and their float neighbours), NaN, infinities and -0. */
static void test_semantics(void) {
    float xs[4096];
    int n = 0;
    const float special[] = {0.0f, -0.0f,    1.0f,     -1.0f,   0.5f,     3.999f,
                             4.0f, 4.001f,   1e-30f,   -1e-30f, INFINITY, -INFINITY,
                             NAN,  0.03125f, 0.09375f, 2.96875f};
    for (size_t i = 0; i < SN_ARRAY_LEN(special); i++) xs[n++] = special[i];
    for (int i = -8; i < 72 && n < 4000; i++) {
        float mid = ((float)i + 0.5f) / 16.0f;
        xs[n++] = mid;
        xs[n++] = nextafterf(mid, INFINITY);
        xs[n++] = nextafterf(mid, -INFINITY);
    }
    unsigned s = 12345;
    while (n < 4096) {
        s = s * 1103515245u + 12345u;
        xs[n++] = ((float)(s >> 8) / 16777216.0f) * 10.0f - 3.0f;
    }
    sn_quant_params q = {4, 4.0f};
    sn_ew_inst qi = sn_ew_quant(&q), ri = sn_ew_relu();
    float yq[4096], yr[4096], yrb[4096], yqb[4096], ones[4096];
    for (int i = 0; i < n; i++) ones[i] = 1.0f;
    sn_ref_quant(n, &q, xs, yq);
    sn_ref_relu(n, xs, yr);
    sn_ref_relu_backward(n, xs, ones, yrb);
    sn_ref_quant_backward(n, &q, xs, ones, yqb);
    sn_ew_inst mp = sn_ew_mask_pos(), mr = sn_ew_mask_range(q.B);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float a = eval(&qi, xs[i], 0, NULL, NULL, 0), b = eval(&ri, xs[i], 0, NULL, NULL, 0);
        float c = eval(&mp, 1.0f, xs[i], NULL, NULL, 0), d = eval(&mr, 1.0f, xs[i], NULL, NULL, 0);
        if (!same(a, yq[i]) || !same(b, yr[i]) || !same(c, yrb[i]) || !same(d, yqb[i])) {
            if (bad++ < 5)
                CHECK_MSG(0,
                          "x = %.9g: quant %.9g vs %.9g, relu %.9g vs %.9g, masks %g/%g vs %g/%g",
                          (double)xs[i], (double)a, (double)yq[i], (double)b, (double)yr[i],
                          (double)c, (double)d, (double)yrb[i], (double)yqb[i]);
        }
    }
    /* threshold units against the reference */
    sn_threshold_params tp = {2, 3, 4, 5};
    float theta[15], v[24], want[24];
    for (int i = 0; i < 15; i++) theta[i] = 0.25f * (float)i - 1.0f;
    for (int i = 0; i < 24; i++) v[i] = 0.3f * (float)i - 3.0f;
    sn_ref_threshold_units(&tp, v, theta, want);
    sn_ew_inst th = sn_ew_threshold(5);
    for (int i = 0; i < 24; i++) {
        int c = (i / 4) % 3;
        CHECK(same(eval(&th, v[i], 0, theta, NULL, c), want[i]));
    }
}

/* Batch norm around its mean: the normalize definition with bn_fold.cu's constants
 * against the reference (double arithmetic), for channels whose mean is 0 to 10^5 times
 * their spread. The float result must be as good as rounding the reference's value allows
 * (a few ulps of the output); the form the backends used before, v * s + (b - mean * s) in
 * float, cancels the mean and loses its ulp: checked to fail here, so the comparison can
 * tell the two apart. */
static void test_normalize_large_mean(void) {
    enum { C = 4, HW = 256 };
    const float means[C] = {0.0f, 1000.0f, 10000.0f, 100000.0f};
    float x[C * HW], y[C * HW], gamma[C], beta[C], mean[C], var[C], bnp[4 * C];
    unsigned s = 7;
    for (int c = 0; c < C; c++) {
        gamma[c] = 0.75f + 0.25f * (float)c;
        beta[c] = 0.1f * (float)c - 0.2f;
        mean[c] = means[c] + 0.37f;
        var[c] = 1.3f;
        for (int i = 0; i < HW; i++) {
            s = s * 1103515245u + 12345u;
            x[c * HW + i] = mean[c] + ((float)(s >> 8) / 16777216.0f - 0.5f) * 4.0f;
        }
        const double invstd = 1.0 / sqrt((double)var[c] + 1e-5);
        bnp[4 * c] = mean[c];
        bnp[4 * c + 1] = 0.0f;
        bnp[4 * c + 2] = (float)(invstd * gamma[c]);
        bnp[4 * c + 3] = beta[c];
    }
    sn_bn_params bp = {1, C, HW, 1e-5f, 0.1f};
    sn_ref_batchnorm_infer(&bp, x, gamma, beta, mean, var, y);
    sn_ew_inst op = sn_ew_normalize(0);
    for (int c = 0; c < C; c++) {
        const double s_ = (double)bnp[4 * c + 2], sh = (double)beta[c] - (double)mean[c] * s_;
        double worst = 0, worst_folded = 0;
        for (int i = 0; i < HW; i++) {
            const float want = y[c * HW + i];
            const float got = eval(&op, x[c * HW + i], 0, bnp, NULL, c);
            volatile float t = x[c * HW + i] * (float)s_;
            const float folded = t + (float)sh;
            worst = fmax(worst, fabs((double)got - want));
            worst_folded = fmax(worst_folded, fabs((double)folded - want));
        }
        CHECK_MSG(worst <= 1e-6, "mean %g: normalize is off by %.3g", (double)means[c], worst);
        if (means[c] >= 10000.0f)
            CHECK_MSG(worst_folded > 1e-4, "mean %g: the folded form is off by only %.3g",
                      (double)means[c], worst_folded);
        fprintf(stderr, "  mean %-8g normalize max error %.2g, folded scale/shift %.2g\n",
                (double)means[c], worst, worst_folded);
    }
}

static void test_literals(void) {
    char buf[64];
    CHECK(strcmp(sn_cu_float_literal(16.0f, buf, sizeof buf), "16.0f") == 0);
    CHECK(strcmp(sn_cu_float_literal(0.0625f, buf, sizeof buf), "0.0625f") == 0);
    CHECK(strcmp(sn_cu_float_literal(-2.0f, buf, sizeof buf), "-2.0f") == 0);
    CHECK(strcmp(sn_cu_float_literal(INFINITY, buf, sizeof buf), "__int_as_float(0x7f800000)") ==
          0);
    CHECK(strcmp(sn_cu_double_literal(1.5707963267948966, buf, sizeof buf), "1.5707963267948966") ==
          0);
    CHECK(strcmp(sn_cu_double_literal(2.0, buf, sizeof buf), "2.0") == 0);
    /* every literal reads back as the same value */
    unsigned s = 99;
    for (int i = 0; i < 2000; i++) {
        s = s * 1664525u + 1013904223u;
        float x;
        memcpy(&x, &s, sizeof x);
        if (!isfinite(x)) continue;
        sn_cu_float_literal(x, buf, sizeof buf);
        size_t l = strlen(buf);
        CHECK(l > 1 && buf[l - 1] == 'f');
        buf[l - 1] = 0;
        CHECK_MSG(strtof(buf, NULL) == x, "%s", buf);
        double dx = (double)x * 1.000000123;
        sn_cu_double_literal(dx, buf, sizeof buf);
        CHECK_MSG(strtod(buf, NULL) == dx, "%s", buf);
    }
}

int main(void) {
    RUN(test_table);
    RUN(test_render);
    RUN(test_semantics);
    RUN(test_normalize_large_mean);
    RUN(test_literals);
    return sn_test_result();
}
