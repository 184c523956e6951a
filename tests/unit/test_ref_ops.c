/* Unit tests of the reference interpreter's ops (runtime/ref/ref_ops.h).
 *
 * Forward ops are checked against values worked out by hand (the arithmetic is in the
 * comments); a few of them (conv, BN running stats, label-smoothed CE) were also
 * cross-checked against PyTorch 1.13 while writing, and the numbers pasted in as literals.
 * Backward ops are checked by central finite differences on small random inputs, except the
 * neuron's BPTT (its surrogate is not the derivative of its forward), which is checked
 * against hand-derived chain-rule values on 2-3 step examples for every mode. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/rng.h"
#include "runtime/cpu/prep.h"
#include "runtime/ref/ref_ops.h"

#define LEN(a) ((int64_t)(sizeof(a) / sizeof((a)[0])))

/* Element-wise |got - want| <= atol + rtol * |want|, reporting the first few mismatches
 * with their index. */
static void check_array_(const char *file, int line, const char *what, const float *got,
                         const double *want, int64_t n, double atol, double rtol) {
    int shown = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = (double)got[i], w = want[i];
        int ok = (isnan(w) && isnan(g)) || fabs(g - w) <= atol + rtol * fabs(w);
        if (!ok) {
            if (shown++ < 8)
                fprintf(stderr, "%s:%d: [%s] %s[%lld] = %.9g, want %.9g\n", file, line,
                        sn_test_current, what, (long long)i, g, w);
            sn_test_failures++;
        }
    }
}
#define CHECK_ARRAY(got, want, n, atol)                                                            \
    check_array_(__FILE__, __LINE__, #got, (got), (want), (n), (atol), 0.0)

/* Same, gradient against gradient (both float). */
static void check_grad_(const char *file, int line, const char *what, const float *analytic,
                        const double *numeric, int64_t n, double atol, double rtol) {
    check_array_(file, line, what, analytic, numeric, n, atol, rtol);
}
#define CHECK_GRAD(analytic, numeric, n, atol, rtol)                                               \
    check_grad_(__FILE__, __LINE__, #analytic, (analytic), (numeric), (n), (atol), (rtol))

static void fill_uniform(sn_rng *r, float *a, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * sn_rng_uniform(r);
}

static double dot(const float *a, const float *b, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* ---- finite differences ----------------------------------------------------------------
 * A scalar loss of the current contents of some float arrays; numeric_grad perturbs one
 * array element by element (x +- h, rounded to float; the actual step is used in the
 * denominator) and takes central differences of the loss, all in double. The ops themselves
 * compute in float (with double accumulators), which is what the tolerances allow for. */
typedef double (*loss_fn)(void *ctx);

static void numeric_grad(loss_fn f, void *ctx, float *v, int64_t n, float h, double *out) {
    for (int64_t i = 0; i < n; i++) {
        float save = v[i];
        float xp = save + h, xm = save - h;
        v[i] = xp;
        double lp = f(ctx);
        v[i] = xm;
        double lm = f(ctx);
        v[i] = save;
        out[i] = (lp - lm) / ((double)xp - (double)xm);
    }
}

/* ======================================================================================
 * Convolution */

static void test_conv2d_hand(void) {
    /* N=2, C=2, H=3, W=4; O=2, KH=2, KW=3; stride 2x2, padding 1x1, bias.
     * OH = (3 + 2 - 2)/2 + 1 = 2, OW = (4 + 2 - 3)/2 + 1 = 2. Output (oh,ow) reads rows
     * r0 = 2*oh - 1 .. r0+1 and cols c0 = 2*ow - 1 .. c0+2 (out of range = 0). */
    sn_conv_params p = {.N = 2,
                        .C = 2,
                        .H = 3,
                        .W = 4,
                        .O = 2,
                        .OH = 2,
                        .OW = 2,
                        .KH = 2,
                        .KW = 3,
                        .SH = 2,
                        .SW = 2,
                        .PH = 1,
                        .PW = 1,
                        .has_bias = 1};
    const float x[] = {
        /* n0 c0 */ 1, 2, 3,  4, 5, 6,  7,  8, 9, 10, 11, 12,
        /* n0 c1 */ 1, 2, -1, 3, 2, -3, -2, 4, 5, 1,  0,  1,
        /* n1 c0 */ 2, 2, 2,  2, 2, 2,  2,  2, 2, 2,  2,  2,
        /* n1 c1 */ 1, 2, 3,  4, 5, 6,  7,  8, 9, 10, 11, 12,
    };
    const float w[] = {
        /* o0 c0 */ 1, 0, 0, 0, 1, 0, /* o0 c1 */ 0,  0, 1, 0, 0, 0,
        /* o1 c0 */ 0, 0, 0, 1, 1, 1, /* o1 c1 */ -1, 0, 0, 0, 0, 2,
    };
    const float b[] = {0.5f, -1.0f};
    /* o0: y = c0[r0][c0] + c0[r0+1][c0+1] + c1[r0][c0+2] + 0.5
     * o1: y = c0[r0+1][c0] + c0[r0+1][c0+1] + c0[r0+1][c0+2] - c1[r0][c0]
     *         + 2*c1[r0+1][c0+2] - 1
     * n0: (0,0) o0: 0 + 1 + 0 + .5 = 1.5        o1: (0+1+2) - 0 + 2*2 - 1 = 6
     *     (0,1) o0: 0 + 3 + 0 + .5 = 3.5        o1: (2+3+4) - 0 + 2*3 - 1 = 14
     *     (1,0) o0: 0 + 9 + (-3) + .5 = 6.5     o1: (0+9+10) - 0 + 2*1 - 1 = 20
     *     (1,1) o0: 6 + 11 + 4 + .5 = 21.5      o1: (10+11+12) - (-3) + 2*1 - 1 = 37
     * n1: (0,0) o0: 0 + 2 + 0 + .5 = 2.5        o1: (0+2+2) - 0 + 2*2 - 1 = 7
     *     (0,1) o0: 0 + 2 + 0 + .5 = 2.5        o1: (2+2+2) - 0 + 2*4 - 1 = 13
     *     (1,0) o0: 0 + 2 + 6 + .5 = 8.5        o1: (0+2+2) - 0 + 2*10 - 1 = 23
     *     (1,1) o0: 2 + 2 + 8 + .5 = 12.5       o1: (2+2+2) - 6 + 2*12 - 1 = 23
     * (PyTorch F.conv2d(stride=2, padding=1) gives the same.) */
    const double want[] = {1.5, 3.5, 6.5, 21.5, 6, 14, 20, 37, 2.5, 2.5, 8.5, 12.5, 7, 13, 23, 23};
    float y[16];
    sn_ref_conv2d(&p, x, w, b, y);
    CHECK_ARRAY(y, want, 16, 1e-6);

    /* Without bias (b NULL): every value 0.5 / -1 lower. */
    double want_nb[16];
    for (int i = 0; i < 16; i++) want_nb[i] = want[i] - ((i / 4) % 2 == 0 ? 0.5 : -1.0);
    p.has_bias = 0;
    sn_ref_conv2d(&p, x, w, NULL, y);
    CHECK_ARRAY(y, want_nb, 16, 1e-6);
}

static void test_conv2d_1x1_stride(void) {
    /* 1x1 kernel, stride 2, no padding on a 1x1x3x3 input: picks x[0][0], x[0][2], x[2][0],
     * x[2][2], times 3. */
    sn_conv_params p = {.N = 1,
                        .C = 1,
                        .H = 3,
                        .W = 3,
                        .O = 1,
                        .OH = 2,
                        .OW = 2,
                        .KH = 1,
                        .KW = 1,
                        .SH = 2,
                        .SW = 2,
                        .PH = 0,
                        .PW = 0,
                        .has_bias = 0};
    const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[] = {3};
    const double want[] = {3, 9, 21, 27};
    float y[4];
    sn_ref_conv2d(&p, x, w, NULL, y);
    CHECK_ARRAY(y, want, 4, 0);
}

typedef struct conv_ctx {
    sn_conv_params p;
    float *x, *w, *b, *y, *r;
    int64_t ny;
} conv_ctx;

static double conv_loss(void *vc) {
    conv_ctx *c = vc;
    sn_ref_conv2d(&c->p, c->x, c->w, c->b, c->y);
    return dot(c->y, c->r, c->ny);
}

static void conv_fd_case(sn_conv_params p, uint64_t seed) {
    sn_rng r;
    sn_rng_seed(&r, seed);
    int64_t nx = p.N * p.C * p.H * p.W, nw = (int64_t)p.O * p.C * p.KH * p.KW;
    int64_t ny = p.N * p.O * p.OH * p.OW;
    conv_ctx c = {.p = p, .ny = ny};
    c.x = malloc(sizeof(float) * nx);
    c.w = malloc(sizeof(float) * nw);
    c.b = malloc(sizeof(float) * p.O);
    c.y = malloc(sizeof(float) * ny);
    c.r = malloc(sizeof(float) * ny);
    float *dx = malloc(sizeof(float) * nx), *dw = malloc(sizeof(float) * nw);
    float *db = malloc(sizeof(float) * p.O);
    double *num = malloc(sizeof(double) * (nx > nw ? nx : nw));
    fill_uniform(&r, c.x, nx, -1, 1);
    fill_uniform(&r, c.w, nw, -1, 1);
    fill_uniform(&r, c.b, p.O, -1, 1);
    fill_uniform(&r, c.r, ny, -1, 1); /* L = sum r * y, so dL/dy = r */

    sn_ref_conv2d_backward_data(&c.p, c.r, c.w, dx);
    sn_ref_conv2d_backward_weight(&c.p, c.x, c.r, dw, db);
    /* The loss is linear in each argument: central differences are exact up to float
     * rounding of y (~6e-8 * |y| / h per term). */
    numeric_grad(conv_loss, &c, c.x, nx, 1.0f / 64, num);
    CHECK_GRAD(dx, num, nx, 1e-4, 1e-4);
    numeric_grad(conv_loss, &c, c.w, nw, 1.0f / 64, num);
    CHECK_GRAD(dw, num, nw, 1e-4, 1e-4);
    numeric_grad(conv_loss, &c, c.b, p.O, 1.0f / 64, num);
    CHECK_GRAD(db, num, p.O, 1e-4, 1e-4);

    /* db == NULL leaves dw the same. */
    float *dw2 = malloc(sizeof(float) * nw);
    sn_ref_conv2d_backward_weight(&c.p, c.x, c.r, dw2, NULL);
    CHECK(memcmp(dw, dw2, sizeof(float) * nw) == 0);
    free(dw2);
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db);
    free(num);
}

static void test_conv2d_backward_fd(void) {
    /* stride 2x1, padding 1x0, 3x2 kernel: OH = (5+2-3)/2+1 = 3, OW = (6-2)/1+1 = 5 */
    conv_fd_case((sn_conv_params){.N = 2,
                                  .C = 3,
                                  .H = 5,
                                  .W = 6,
                                  .O = 2,
                                  .OH = 3,
                                  .OW = 5,
                                  .KH = 3,
                                  .KW = 2,
                                  .SH = 2,
                                  .SW = 1,
                                  .PH = 1,
                                  .PW = 0,
                                  .has_bias = 1},
                 11);
    /* stride 2x2, padding 1x1, 2x3 kernel: OH = (6+2-2)/2+1 = 4, OW = (5+2-3)/2+1 = 3 */
    conv_fd_case((sn_conv_params){.N = 2,
                                  .C = 2,
                                  .H = 6,
                                  .W = 5,
                                  .O = 3,
                                  .OH = 4,
                                  .OW = 3,
                                  .KH = 2,
                                  .KW = 3,
                                  .SH = 2,
                                  .SW = 2,
                                  .PH = 1,
                                  .PW = 1,
                                  .has_bias = 1},
                 12);
    /* 1x1 kernel, stride 2: rows/cols 1 and 3 are never read, their gradient is 0 */
    conv_fd_case((sn_conv_params){.N = 1,
                                  .C = 2,
                                  .H = 5,
                                  .W = 5,
                                  .O = 2,
                                  .OH = 3,
                                  .OW = 3,
                                  .KH = 1,
                                  .KW = 1,
                                  .SH = 2,
                                  .SW = 2,
                                  .PH = 0,
                                  .PW = 0,
                                  .has_bias = 1},
                 13);
    /* trailing row 4 and column 7 are read by no window (OH = (5-2)/2+1 = 2 covers rows
     * 0..3, OW = (8-3)/2+1 = 3 covers cols 0..6): their gradient is 0 */
    conv_fd_case((sn_conv_params){.N = 2,
                                  .C = 2,
                                  .H = 5,
                                  .W = 8,
                                  .O = 2,
                                  .OH = 2,
                                  .OW = 3,
                                  .KH = 2,
                                  .KW = 3,
                                  .SH = 2,
                                  .SW = 2,
                                  .PH = 0,
                                  .PW = 0,
                                  .has_bias = 1},
                 15);
    /* padding 2 with a 3x3 kernel, stride 3: OH = OW = (4+4-3)/3+1 = 2 */
    conv_fd_case((sn_conv_params){.N = 1,
                                  .C = 1,
                                  .H = 4,
                                  .W = 4,
                                  .O = 1,
                                  .OH = 2,
                                  .OW = 2,
                                  .KH = 3,
                                  .KW = 3,
                                  .SH = 3,
                                  .SW = 3,
                                  .PH = 2,
                                  .PW = 2,
                                  .has_bias = 1},
                 14);
}

/* ======================================================================================
 * Linear */

static void test_linear_hand(void) {
    sn_linear_params p = {.N = 2, .K = 3, .M = 2, .has_bias = 1};
    const float x[] = {1, 2, 3, -1, 0, 2};
    const float w[] = {1, 0, -1, 0.5f, 2, 1};
    const float b[] = {0.25f, -1};
    /* y00 = 1*1 + 2*0 + 3*(-1) + 0.25 = -1.75     y01 = 1*0.5 + 2*2 + 3*1 - 1 = 6.5
     * y10 = -1*1 + 0*0 + 2*(-1) + 0.25 = -2.75    y11 = -1*0.5 + 0*2 + 2*1 - 1 = 0.5 */
    const double want[] = {-1.75, 6.5, -2.75, 0.5};
    float y[4];
    sn_ref_linear(&p, x, w, b, y);
    CHECK_ARRAY(y, want, 4, 0);
    p.has_bias = 0;
    const double want_nb[] = {-2, 7.5, -3, 1.5};
    sn_ref_linear(&p, x, w, NULL, y);
    CHECK_ARRAY(y, want_nb, 4, 0);
}

typedef struct linear_ctx {
    sn_linear_params p;
    float *x, *w, *b, *y, *r;
} linear_ctx;

static double linear_loss(void *vc) {
    linear_ctx *c = vc;
    sn_ref_linear(&c->p, c->x, c->w, c->b, c->y);
    return dot(c->y, c->r, c->p.N * c->p.M);
}

static void test_linear_backward_fd(void) {
    enum { N = 3, K = 4, M = 5 };
    float x[N * K], w[M * K], b[M], y[N * M], r[N * M], dx[N * K], dw[M * K], db[M];
    double num[M * K];
    sn_rng g;
    sn_rng_seed(&g, 21);
    fill_uniform(&g, x, N * K, -1, 1);
    fill_uniform(&g, w, M * K, -1, 1);
    fill_uniform(&g, b, M, -1, 1);
    fill_uniform(&g, r, N * M, -1, 1);
    linear_ctx c = {.p = {.N = N, .K = K, .M = M, .has_bias = 1}, x, w, b, y, r};
    sn_ref_linear_backward(&c.p, x, w, r, dx, dw, db);
    numeric_grad(linear_loss, &c, x, N * K, 1.0f / 64, num);
    CHECK_GRAD(dx, num, N * K, 1e-4, 1e-4);
    numeric_grad(linear_loss, &c, w, M * K, 1.0f / 64, num);
    CHECK_GRAD(dw, num, M * K, 1e-4, 1e-4);
    numeric_grad(linear_loss, &c, b, M, 1.0f / 64, num);
    CHECK_GRAD(db, num, M, 1e-4, 1e-4);
    /* Optional outputs: NULL ones are skipped, the others unchanged. */
    float dw2[M * K];
    sn_ref_linear_backward(&c.p, x, w, r, NULL, dw2, NULL);
    CHECK(memcmp(dw, dw2, sizeof dw) == 0);
}

/* ======================================================================================
 * Pooling */

static void test_pool_hand(void) {
    /* 3x3 input, 2x2 window, stride 2, padding 1: OH = OW = (3+2-2)/2+1 = 2.
     *    -1 -2  3
     *     4  5 -6
     *    -7  8  9
     * windows (in-bounds part): (0,0) {-1}; (0,1) {-2, 3}; (1,0) {4, -7};
     * (1,1) {5, -6, 8, 9}. */
    sn_pool_params p = {.N = 1,
                        .C = 1,
                        .H = 3,
                        .W = 3,
                        .OH = 2,
                        .OW = 2,
                        .KH = 2,
                        .KW = 2,
                        .SH = 2,
                        .SW = 2,
                        .PH = 1,
                        .PW = 1};
    const float x[] = {-1, -2, 3, 4, 5, -6, -7, 8, 9};
    float y[9];
    /* max: pads are -inf, so (0,0) is -1, not 0 */
    const double want_max[] = {-1, 3, 4, 9};
    sn_ref_maxpool2d(&p, x, y);
    CHECK_ARRAY(y, want_max, 4, 0);
    /* avg, pads counted: -1/4 = -0.25; (-2+3)/4 = 0.25; (4-7)/4 = -0.75; (5-6+8+9)/4 = 4 */
    const double want_avg[] = {-0.25, 0.25, -0.75, 4};
    sn_ref_avgpool2d(&p, x, y);
    CHECK_ARRAY(y, want_avg, 4, 0);

    /* 3x3 window, stride 1, padding 1 (3x3 output), divisor always 9:
     * (0,0): (-1-2+4+5)/9 = 6/9        (0,1): (-1-2+3+4+5-6)/9 = 3/9   (0,2): (-2+3+5-6)/9 = 0
     * (1,0): (-1-2+4+5-7+8)/9 = 7/9    (1,1): (sum all = 13)/9          (1,2): (-2+3+5-6+8+9)/9 =
     * 17/9 (2,0): (4+5-7+8)/9 = 10/9        (2,1): (4+5-6-7+8+9)/9 = 13/9    (2,2): (5-6+8+9)/9 =
     * 16/9 */
    sn_pool_params q = {.N = 1,
                        .C = 1,
                        .H = 3,
                        .W = 3,
                        .OH = 3,
                        .OW = 3,
                        .KH = 3,
                        .KW = 3,
                        .SH = 1,
                        .SW = 1,
                        .PH = 1,
                        .PW = 1};
    const double want_avg3[] = {6 / 9.0,  3 / 9.0,  0,        7 / 9.0, 13 / 9.0,
                                17 / 9.0, 10 / 9.0, 13 / 9.0, 16 / 9.0};
    sn_ref_avgpool2d(&q, x, y);
    CHECK_ARRAY(y, want_avg3, 9, 1e-6);
    /* max 3x3/1/1: (0,0) max{-1,-2,4,5} = 5, (0,1) 5, (0,2) 5, (1,*) 8 9 9, (2,*) 8 9 9 */
    const double want_max3[] = {5, 5, 5, 8, 9, 9, 8, 9, 9};
    sn_ref_maxpool2d(&q, x, y);
    CHECK_ARRAY(y, want_max3, 9, 0);

    /* Several planes (N=2, C=2), non-square window 1x3 stride 1x3, no padding, on 1x3:
     * each plane's output is its max / mean. */
    sn_pool_params r = {.N = 2,
                        .C = 2,
                        .H = 1,
                        .W = 3,
                        .OH = 1,
                        .OW = 1,
                        .KH = 1,
                        .KW = 3,
                        .SH = 1,
                        .SW = 3,
                        .PH = 0,
                        .PW = 0};
    const float x4[] = {1, 2, 3, -1, -5, -3, 0, 0, 6, 7, 7, 1};
    const double want_max4[] = {3, -1, 6, 7}, want_avg4[] = {2, -3, 2, 5};
    sn_ref_maxpool2d(&r, x4, y);
    CHECK_ARRAY(y, want_max4, 4, 0);
    sn_ref_avgpool2d(&r, x4, y);
    CHECK_ARRAY(y, want_avg4, 4, 0);

    /* NaN propagates through max pooling. */
    const float xn[] = {1, NAN, 3};
    sn_pool_params s = {.N = 1,
                        .C = 1,
                        .H = 1,
                        .W = 3,
                        .OH = 1,
                        .OW = 1,
                        .KH = 1,
                        .KW = 3,
                        .SH = 1,
                        .SW = 1,
                        .PH = 0,
                        .PW = 0};
    sn_ref_maxpool2d(&s, xn, y);
    CHECK(isnan(y[0]));
}

static void test_pool_ceil_windows(void) {
    /* Output sizes from ceil mode: the last window runs past the padded input. On the row
     * [1 2 3 4], window 1x3, stride 2, padding 1, OW = 3: windows cover cols -1..1, 1..3,
     * 3..5; the divisor counts the pad (col -1 or 4) but not what lies beyond the padded
     * input (col 5), as PyTorch (avg_pool2d(ceil_mode=True) gives [1, 3, 2]):
     *   avg: (0+1+2)/3 = 1;  (2+3+4)/3 = 3;  (4+0)/2 = 2     max: 2, 4, 4 */
    sn_pool_params p = {.N = 1,
                        .C = 1,
                        .H = 1,
                        .W = 4,
                        .OH = 1,
                        .OW = 3,
                        .KH = 1,
                        .KW = 3,
                        .SH = 1,
                        .SW = 2,
                        .PH = 0,
                        .PW = 1};
    const float x[] = {1, 2, 3, 4};
    float y[3], dx[4];
    const double want_avg[] = {1, 3, 2}, want_max[] = {2, 4, 4};
    sn_ref_avgpool2d(&p, x, y);
    CHECK_ARRAY(y, want_avg, 3, 1e-7);
    sn_ref_maxpool2d(&p, x, y);
    CHECK_ARRAY(y, want_max, 3, 0);
    /* avg backward with dy = [3, 6, 4]: dx0 = 3/3 = 1; dx1 = 3/3 + 6/3 = 3; dx2 = 6/3 = 2;
     * dx3 = 6/3 + 4/2 = 4 (PyTorch: [1, 3, 2, 4]) */
    const float dy[] = {3, 6, 4};
    const double want_dx[] = {1, 3, 2, 4};
    sn_ref_avgpool2d_backward(&p, dy, dx);
    CHECK_ARRAY(dx, want_dx, 4, 1e-7);
    /* max backward: col 1 (2) once, col 3 (4) twice */
    const double want_mdx[] = {0, 3, 0, 10};
    sn_ref_maxpool2d_backward(&p, x, dy, dx);
    CHECK_ARRAY(dx, want_mdx, 4, 0);
    /* Without padding: windows 0..2 and 2..4: (1+2+3)/3 = 2, (3+4)/2 = 3.5 */
    sn_pool_params q = p;
    q.PW = 0;
    q.OW = 2;
    const double want_avg0[] = {2, 3.5};
    sn_ref_avgpool2d(&q, x, y);
    CHECK_ARRAY(y, want_avg0, 2, 1e-7);
}

static void test_maxpool_backward_ties(void) {
    /* 2x2 window, stride 2 on a 2x4 input; the left window is all equal (the gradient goes
     * to the first, (0,0)), the right one has its max 7 twice, at (0,3) and (1,2): scan
     * order kh then kw reaches (0,3) first. */
    sn_pool_params p = {.N = 1,
                        .C = 1,
                        .H = 2,
                        .W = 4,
                        .OH = 1,
                        .OW = 2,
                        .KH = 2,
                        .KW = 2,
                        .SH = 2,
                        .SW = 2,
                        .PH = 0,
                        .PW = 0};
    const float x[] = {2, 2, 1, 7, 2, 2, 7, 3};
    const float dy[] = {0.5f, -3};
    float dx[8];
    sn_ref_maxpool2d_backward(&p, x, dy, dx);
    const double want[] = {0.5, 0, 0, -3, 0, 0, 0, 0};
    CHECK_ARRAY(dx, want, 8, 0);

    /* Overlapping windows (3x3, stride 1, pad 1) on the hand example above: 5 is the max
     * of three windows, 8 of two, 9 of four: dx = 1 per window with dy = 1. */
    sn_pool_params q = {.N = 1,
                        .C = 1,
                        .H = 3,
                        .W = 3,
                        .OH = 3,
                        .OW = 3,
                        .KH = 3,
                        .KW = 3,
                        .SH = 1,
                        .SW = 1,
                        .PH = 1,
                        .PW = 1};
    const float x3[] = {-1, -2, 3, 4, 5, -6, -7, 8, 9};
    const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    float dx3[9];
    sn_ref_maxpool2d_backward(&q, x3, ones, dx3);
    const double want3[] = {0, 0, 0, 0, 3, 0, 0, 2, 4};
    CHECK_ARRAY(dx3, want3, 9, 0);

    /* avg backward on the 2x2/2/1 example: each in-bounds element lies in one window,
     * gets dy/4. */
    sn_pool_params a = {.N = 1,
                        .C = 1,
                        .H = 3,
                        .W = 3,
                        .OH = 2,
                        .OW = 2,
                        .KH = 2,
                        .KW = 2,
                        .SH = 2,
                        .SW = 2,
                        .PH = 1,
                        .PW = 1};
    const float dya[] = {4, 8, -4, 2};
    float dxa[9];
    sn_ref_avgpool2d_backward(&a, dya, dxa);
    const double wanta[] = {1, 2, 2, -1, 0.5, 0.5, -1, 0.5, 0.5};
    CHECK_ARRAY(dxa, wanta, 9, 0);
}

typedef struct pool_ctx {
    sn_pool_params p;
    int max;
    float *x, *y, *r;
} pool_ctx;

static double pool_loss(void *vc) {
    pool_ctx *c = vc;
    if (c->max)
        sn_ref_maxpool2d(&c->p, c->x, c->y);
    else
        sn_ref_avgpool2d(&c->p, c->x, c->y);
    return dot(c->y, c->r, c->p.N * c->p.C * c->p.OH * c->p.OW);
}

static void pool_fd_case(sn_pool_params p, uint64_t seed) {
    sn_rng g;
    sn_rng_seed(&g, seed);
    int64_t nx = p.N * p.C * p.H * p.W, ny = p.N * p.C * p.OH * p.OW;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * ny);
    float *r = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    double *num = malloc(sizeof(double) * nx);
    /* Distinct values at least 0.05 apart (a shuffled ramp), so that no window has a tie
     * or a near-tie within the finite-difference step. */
    for (int64_t i = 0; i < nx; i++) x[i] = (float)i * 0.05f - 1.0f;
    for (int64_t i = nx - 1; i > 0; i--) {
        int64_t j = (int64_t)sn_rng_below(&g, (uint64_t)i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    fill_uniform(&g, r, ny, -1, 1);
    pool_ctx c = {.p = p, .x = x, .y = y, .r = r};
    for (int max = 0; max <= 1; max++) {
        c.max = max;
        if (max)
            sn_ref_maxpool2d_backward(&p, x, r, dx);
        else
            sn_ref_avgpool2d_backward(&p, r, dx);
        numeric_grad(pool_loss, &c, x, nx, 1.0f / 256, num);
        CHECK_GRAD(dx, num, nx, 1e-4, 1e-4);
    }
    free(x), free(y), free(r), free(dx), free(num);
}

static void test_pool_backward_fd(void) {
    pool_fd_case((sn_pool_params){.N = 2,
                                  .C = 2,
                                  .H = 5,
                                  .W = 6,
                                  .OH = 3,
                                  .OW = 3,
                                  .KH = 3,
                                  .KW = 2,
                                  .SH = 2,
                                  .SW = 2,
                                  .PH = 1,
                                  .PW = 0},
                 31);
    pool_fd_case((sn_pool_params){.N = 1,
                                  .C = 3,
                                  .H = 4,
                                  .W = 4,
                                  .OH = 4,
                                  .OW = 4,
                                  .KH = 3,
                                  .KW = 3,
                                  .SH = 1,
                                  .SW = 1,
                                  .PH = 1,
                                  .PW = 1},
                 32);
    pool_fd_case((sn_pool_params){.N = 1,
                                  .C = 1,
                                  .H = 6,
                                  .W = 6,
                                  .OH = 3,
                                  .OW = 3,
                                  .KH = 2,
                                  .KW = 2,
                                  .SH = 2,
                                  .SW = 2,
                                  .PH = 0,
                                  .PW = 0},
                 33);
}

/* ======================================================================================
 * ReLU */

static void test_relu(void) {
    float x[] = {-1.0f, 0.0f, 2.5f, -0.0f, 1e-30f, -3e38f, NAN};
    float y[LEN(x)];
    sn_ref_relu(LEN(x), x, y);
    const double want[] = {0, 0, 2.5, 0, 1e-30f, 0, NAN};
    CHECK_ARRAY(y, want, LEN(x), 0);
    sn_ref_relu(LEN(x), x, x); /* in place */
    CHECK_ARRAY(x, want, LEN(x), 0);

    /* backward: dy where x > 0 */
    const float xb[] = {-2, 0, 3, 0.5f}, dy[] = {1, 2, 3, 4};
    float dx[4];
    sn_ref_relu_backward(4, xb, dy, dx);
    const double wantb[] = {0, 0, 3, 4};
    CHECK_ARRAY(dx, wantb, 4, 0);
}

typedef struct relu_ctx {
    float *x, *y, *r;
    int64_t n;
} relu_ctx;

static double relu_loss(void *vc) {
    relu_ctx *c = vc;
    sn_ref_relu(c->n, c->x, c->y);
    return dot(c->y, c->r, c->n);
}

static void test_relu_backward_fd(void) {
    enum { n = 40 };
    float x[n], y[n], r[n], dx[n];
    double num[n];
    sn_rng g;
    sn_rng_seed(&g, 41);
    fill_uniform(&g, x, n, 0.1f, 1.0f);
    for (int i = 0; i < n; i += 2) x[i] = -x[i]; /* |x| >= 0.1, away from the kink */
    fill_uniform(&g, r, n, -1, 1);
    relu_ctx c = {x, y, r, n};
    sn_ref_relu_backward(n, x, r, dx);
    numeric_grad(relu_loss, &c, x, n, 1.0f / 1024, num);
    CHECK_GRAD(dx, num, n, 1e-5, 1e-5);
}

/* ======================================================================================
 * BatchNorm */

static void test_bn_infer(void) {
    /* N=2, C=2, HW=1, layout [n0c0, n0c1, n1c0, n1c1]; mean = [1, -1], var = [3, 3],
     * eps = 1 -> sqrt(var + eps) = 2; gamma = [2, -1], beta = [0.5, 0].
     * c0: (1-1)/2*2 + .5 = 0.5;   (3-1)/2*2 + .5 = 2.5
     * c1: (0+1)/2*(-1) = -0.5;    (-2+1)/2*(-1) = 0.5 */
    sn_bn_params p = {.N = 2, .C = 2, .HW = 1, .eps = 1.0f, .momentum = 0.1f};
    const float x[] = {1, 0, 3, -2}, gamma[] = {2, -1}, beta[] = {0.5f, 0};
    const float mean[] = {1, -1}, var[] = {3, 3};
    float y[4];
    sn_ref_batchnorm_infer(&p, x, gamma, beta, mean, var, y);
    const double want[] = {0.5, -0.5, 2.5, 0.5};
    CHECK_ARRAY(y, want, 4, 1e-7);
}

static void test_bn_train_hand(void) {
    /* N=2, C=2, HW=2; layout [n0c0 x2, n0c1 x2, n1c0 x2, n1c1 x2].
     * c0 = {1, 2, 3, 6}: mean 3, deviations -2 -1 0 3, sum of squares 14, biased var 3.5,
     *   unbiased 14/3; eps 0.5 -> invstd = 1/sqrt(4) = 0.5; gamma 2, beta 1:
     *   y = dev * 0.5 * 2 + 1 = {-1, 0, 1, 4}
     *   running_mean = 0.9*0 + 0.1*3 = 0.3; running_var = 0.9*1 + 0.1*14/3 = 1.3666667
     * c1 = {1, -1, 0, 0}: mean 0, sum of squares 2, biased var 0.5, unbiased 2/3;
     *   invstd = 1/sqrt(1) = 1; gamma 1, beta 0: y = {1, -1, 0, 0}
     *   running_mean = 0.9*1 + 0 = 0.9; running_var = 0.9*2 + 0.1*2/3 = 1.8666667
     * (PyTorch F.batch_norm(training=True, momentum=0.1, eps=0.5) agrees.) */
    sn_bn_params p = {.N = 2, .C = 2, .HW = 2, .eps = 0.5f, .momentum = 0.1f};
    const float x[] = {1, 2, 1, -1, 3, 6, 0, 0}, gamma[] = {2, 1}, beta[] = {1, 0};
    float rm[] = {0, 1}, rv[] = {1, 2}, y[8], sm[2], si[2];
    sn_ref_batchnorm_train_forward(&p, x, gamma, beta, rm, rv, y, sm, si);
    const double want_y[] = {-1, 0, 1, -1, 1, 4, 0, 0};
    CHECK_ARRAY(y, want_y, 8, 1e-6);
    const double want_rm[] = {0.3, 0.9}, want_rv[] = {1.3666667, 1.8666667};
    CHECK_ARRAY(rm, want_rm, 2, 1e-6);
    CHECK_ARRAY(rv, want_rv, 2, 1e-6);
    const double want_sm[] = {3, 0}, want_si[] = {0.5, 1};
    CHECK_ARRAY(sm, want_sm, 2, 1e-7);
    CHECK_ARRAY(si, want_si, 2, 1e-7);
    /* NULL running stats and save buffers are allowed. */
    float y2[8];
    sn_ref_batchnorm_train_forward(&p, x, gamma, beta, NULL, NULL, y2, NULL, NULL);
    CHECK(memcmp(y, y2, sizeof y) == 0);
}

typedef struct bn_ctx {
    sn_bn_params p;
    float *x, *gamma, *beta, *y, *r;
    int64_t n;
} bn_ctx;

static double bn_loss(void *vc) {
    bn_ctx *c = vc;
    sn_ref_batchnorm_train_forward(&c->p, c->x, c->gamma, c->beta, NULL, NULL, c->y, NULL, NULL);
    return dot(c->y, c->r, c->n);
}

static void test_bn_backward_fd(void) {
    enum { N = 3, C = 2, HW = 4, n = N * C * HW };
    float x[n], gamma[C], beta[C], y[n], r[n], dx[n], dg[C], db[C], sm[C], si[C];
    double num[n];
    sn_rng g;
    sn_rng_seed(&g, 51);
    fill_uniform(&g, x, n, -2, 2);
    fill_uniform(&g, gamma, C, 0.5f, 1.5f);
    fill_uniform(&g, beta, C, -1, 1);
    fill_uniform(&g, r, n, -1, 1);
    bn_ctx c = {
        .p = {.N = N, .C = C, .HW = HW, .eps = 1e-5f, .momentum = 0.1f}, x, gamma, beta, y, r, n};
    sn_ref_batchnorm_train_forward(&c.p, x, gamma, beta, NULL, NULL, y, sm, si);
    sn_ref_batchnorm_backward(&c.p, x, r, gamma, sm, si, dx, dg, db);
    /* Nonlinear in x: truncation O(h^2) ~ 1e-6, float rounding ~ 6e-8 * |y| / h ~ 1e-4. */
    numeric_grad(bn_loss, &c, x, n, 1.0f / 512, num);
    CHECK_GRAD(dx, num, n, 1e-3, 1e-3);
    numeric_grad(bn_loss, &c, gamma, C, 1.0f / 512, num);
    CHECK_GRAD(dg, num, C, 1e-3, 1e-3);
    numeric_grad(bn_loss, &c, beta, C, 1.0f / 512, num);
    CHECK_GRAD(db, num, C, 1e-3, 1e-3);
    /* The gradient w.r.t. x of a BN output sums to 0 over each channel (shift invariance). */
    for (int ch = 0; ch < C; ch++) {
        double s = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < HW; k++) s += dx[(i * C + ch) * HW + k];
        CHECK_CLOSE(s, 0.0, 1e-5, 0);
    }
}

/* ======================================================================================
 * Dropout */

static void test_dropout(void) {
    enum { n = 100000 };
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    float *y2 = malloc(sizeof(float) * n);
    uint8_t *mask = malloc(n), *mask2 = malloc(n);
    for (int i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7);

    /* Evaluation: identity, mask all ones. */
    sn_ref_dropout(n, 0.5f, 0, 7, 0, x, y, mask);
    CHECK(memcmp(x, y, sizeof(float) * n) == 0);
    int all = 1;
    for (int i = 0; i < n; i++) all &= mask[i] == 1;
    CHECK(all);

    /* Training, p = 0.25: kept elements are x / 0.75, dropped 0; the keep decision is
     * exactly sn_rand_u01(seed, stream, i) >= p; the keep rate is 0.75 within 0.01
     * (the standard deviation of the rate is sqrt(0.25*0.75/1e5) = 0.0014). */
    const float p = 0.25f, scale = 1.0f / (1.0f - 0.25f);
    sn_ref_dropout(n, p, 1, 7, 3, x, y, mask);
    int64_t kept = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        int keep = sn_rand_u01(7, 3, (uint64_t)i) >= p;
        kept += keep;
        if (mask[i] != keep) bad++;
        if (y[i] != (keep ? x[i] * scale : 0.0f)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_CLOSE((double)kept / n, 0.75, 0.01, 0);
    CHECK_CLOSE(scale, 1.3333334f, 0, 0);

    /* keep is u >= p: with p equal to element 5's u, element 5 is kept. */
    {
        float p5 = sn_rand_u01(7, 3, 5);
        float y5[6];
        uint8_t m5[6];
        sn_ref_dropout(6, p5, 1, 7, 3, x, y5, m5);
        CHECK(m5[5] == 1);
    }

    /* Same seed and stream: same output; another seed or stream: a different mask. */
    sn_ref_dropout(n, p, 1, 7, 3, x, y2, mask2);
    CHECK(memcmp(y, y2, sizeof(float) * n) == 0);
    CHECK(memcmp(mask, mask2, n) == 0);
    sn_ref_dropout(n, p, 1, 8, 3, x, y2, mask2);
    CHECK(memcmp(mask, mask2, n) != 0);
    sn_ref_dropout(n, p, 1, 7, 4, x, y2, mask2);
    CHECK(memcmp(mask, mask2, n) != 0);

    /* In place, mask NULL. */
    memcpy(y2, x, sizeof(float) * n);
    sn_ref_dropout(n, p, 1, 7, 3, y2, y2, NULL);
    CHECK(memcmp(y, y2, sizeof(float) * n) == 0);

    /* p = 0 keeps everything (u >= 0 always); p = 1 drops everything. */
    sn_ref_dropout(n, 0.0f, 1, 7, 3, x, y2, NULL);
    CHECK(memcmp(x, y2, sizeof(float) * n) == 0);
    sn_ref_dropout(n, 1.0f, 1, 7, 3, x, y2, mask2);
    int zeros = 1;
    for (int i = 0; i < n; i++) zeros &= y2[i] == 0.0f && mask2[i] == 0;
    CHECK(zeros);

    /* Backward: dy * mask / (1 - p); mask NULL (evaluation) is the identity. */
    const float dy[] = {1, 2, 3, 4};
    const uint8_t m4[] = {1, 0, 0, 1};
    float dx[4];
    sn_ref_dropout_backward(4, 0.5f, m4, dy, dx);
    const double want[] = {2, 0, 0, 8};
    CHECK_ARRAY(dx, want, 4, 0);
    sn_ref_dropout_backward(4, 0.5f, NULL, dy, dx);
    const double want_id[] = {1, 2, 3, 4};
    CHECK_ARRAY(dx, want_id, 4, 0);
    free(x), free(y), free(y2), free(mask), free(mask2);
}

/* ======================================================================================
 * Quantization and ternary weights */

static void test_quant(void) {
    /* k = 1, B = 2: y = floor(2*clip(x,0,2) + 0.5) / 2, levels 0, 0.5, 1, 1.5, 2.
     *  -1 -> clip 0 -> 0;  0 -> 0;  0.2 -> floor(0.9) = 0 -> 0
     *  0.25 -> floor(1.0) = 1 -> 0.5 (tie goes up);  0.3 -> floor(1.1) -> 0.5
     *  0.74 -> floor(1.98) -> 0.5;  0.75 -> floor(2.0) -> 1 (tie up);  1 -> floor(2.5) -> 1
     *  1.24 -> floor(2.98) -> 1;  1.25 -> floor(3.0) -> 1.5;  1.9 -> floor(4.3) -> 2
     *  2 -> 2;  2.3 -> clip 2 -> 2;  100 -> 2 */
    sn_quant_params q = {.k = 1, .B = 2.0f};
    float x[] = {-1, 0, 0.2f, 0.25f, 0.3f, 0.74f, 0.75f, 1, 1.24f, 1.25f, 1.9f, 2, 2.3f, 100};
    const double want[] = {0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1, 1.5, 2, 2, 2, 2};
    float y[LEN(x)];
    sn_ref_quant(LEN(x), &q, x, y);
    CHECK_ARRAY(y, want, LEN(x), 0);
    sn_ref_quant(LEN(x), &q, x, x); /* in place */
    CHECK_ARRAY(x, want, LEN(x), 0);

    /* A sweep over [-0.5, 2.5): every output is one of the 5 levels, within 1/4 of the
     * clipped input, and all 5 levels occur. */
    enum { n = 3001 };
    float xs[n], ys[n];
    for (int i = 0; i < n; i++) xs[i] = -0.5f + (float)i * 0.001f;
    sn_ref_quant(n, &q, xs, ys);
    int seen[5] = {0}, bad = 0;
    for (int i = 0; i < n; i++) {
        double l = ys[i] * 2.0;
        if (l != floor(l) || l < 0 || l > 4) {
            bad++;
            continue;
        }
        seen[(int)l] = 1;
        double c = xs[i] < 0 ? 0 : xs[i] > 2 ? 2 : xs[i];
        if (fabs(ys[i] - c) > 0.25 + 1e-6) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(seen[0] + seen[1] + seen[2] + seen[3] + seen[4], 5);

    /* k = 0, B = 1: levels 0, 1; 0.5 is the tie and goes up. */
    sn_quant_params q0 = {.k = 0, .B = 1.0f};
    const float x0[] = {-0.3f, 0.49f, 0.5f, 0.7f, 1.5f};
    const double want0[] = {0, 0, 1, 1, 1};
    sn_ref_quant(5, &q0, x0, y);
    CHECK_ARRAY(y, want0, 5, 0);
    /* k = 0, B = 4: 2.5 -> floor(3.0) = 3; 3.49 -> 3; 3.5 -> 4; 9 -> 4 */
    sn_quant_params q04 = {.k = 0, .B = 4.0f};
    const float x04[] = {2.5f, 3.49f, 3.5f, 9};
    const double want04[] = {3, 3, 4, 4};
    sn_ref_quant(4, &q04, x04, y);
    CHECK_ARRAY(y, want04, 4, 0);
    /* k = 2, B = 1: step 0.25; 0.125 -> floor(1.0) = 1 -> 0.25; 0.1 -> floor(0.9) -> 0 */
    sn_quant_params q2 = {.k = 2, .B = 1.0f};
    const float x2[] = {0.125f, 0.1f, 0.875f, 0.86f};
    const double want2[] = {0.25, 0, 1, 0.75};
    sn_ref_quant(4, &q2, x2, y);
    CHECK_ARRAY(y, want2, 4, 0);

    /* NaN propagates. */
    const float xn[] = {NAN};
    sn_ref_quant(1, &q, xn, y);
    CHECK(isnan(y[0]));

    /* Straight-through backward: dy where 0 < x < B (the quant input), else 0. */
    const float xb[] = {-1, 0, 0.1f, 1, 1.99f, 2, 3}, dy[] = {1, 2, 3, 4, 5, 6, 7};
    float dx[7];
    sn_ref_quant_backward(7, &q, xb, dy, dx);
    const double wantb[] = {0, 0, 3, 4, 5, 0, 0};
    CHECK_ARRAY(dx, wantb, 7, 0);
}

static void test_ternary(void) {
    /* mean|w| = (0.5 + 1.5 + 0.1 + 0.2 + 2.0 + 0) / 6 = 4.3 / 6 = 0.716667,
     * delta = 0.7 * 0.716667 = 0.501667: only |w| > 0.501667 survive, as sign(w). */
    const float w[] = {0.5f, -1.5f, 0.1f, -0.2f, 2.0f, 0.0f};
    float wt[6];
    sn_ref_ternary(6, 0.7f, w, wt);
    const double want[] = {0, -1, 0, 0, 1, 0};
    CHECK_ARRAY(wt, want, 6, 0);
    /* |w| all equal to the mean (1): factor 0.7 keeps all; factor 1 keeps none (strict >). */
    const float w1[] = {1, -1, -1, 1};
    float wt1[4];
    sn_ref_ternary(4, 0.7f, w1, wt1);
    const double want1[] = {1, -1, -1, 1};
    CHECK_ARRAY(wt1, want1, 4, 0);
    sn_ref_ternary(4, 1.0f, w1, wt1);
    const double want0[] = {0, 0, 0, 0};
    CHECK_ARRAY(wt1, want0, 4, 0);
}

/* ======================================================================================
 * Neurons: forward tables */

static sn_neuron_params neuron(sn_neuron_model m, int hard, float v_reset, float vth, float tau,
                               int decay_input) {
    sn_neuron_params p = {.model = m,
                          .tau = tau,
                          .v_threshold = vth,
                          .hard_reset = hard,
                          .v_reset = v_reset,
                          .decay_input = decay_input,
                          .detach_reset = 0,
                          .surrogate = SN_SG_ATAN,
                          .alpha = 2.0f};
    return p;
}

/* Runs one neuron over T steps from V[-1] = the reset value and compares S, H and V[T-1]. */
static void check_neuron_(int line, const sn_neuron_params *p, int T, const float *x,
                          const double *want_s, const double *want_h, double want_v) {
    float s[16], h[16], v[1];
    sn_ref_neuron_forward(p, T, 1, x, s, NULL, h);
    check_array_(__FILE__, line, "spikes", s, want_s, T, 0, 0);
    check_array_(__FILE__, line, "h_seq", h, want_h, T, 1e-6, 0);
    /* Same run with an explicit initial state equal to the reset value, and no h_seq. */
    v[0] = p->hard_reset ? p->v_reset : 0.0f;
    float s2[16];
    sn_ref_neuron_forward(p, T, 1, x, s2, v, NULL);
    check_array_(__FILE__, line, "spikes(v_state)", s2, want_s, T, 0, 0);
    check_array_(__FILE__, line, "v_final", v, &want_v, 1, 1e-6, 0);
}
#define CHECK_NEURON(p, x, ws, wh, wv) check_neuron_(__LINE__, (p), (int)LEN(x), x, ws, wh, wv)

static void test_if_neuron(void) {
    /* IF, hard reset to 0, V_th = 1: H = V + X; spike when H >= 1, then V = 0.
     *  t  X     H              S  V
     *  0  0.5   0 + 0.5 = 0.5  0  0.5
     *  1  0.7   0.5+0.7 = 1.2  1  0
     *  2  0.2   0.2            0  0.2
     *  3  1.5   1.7            1  0
     *  4 -0.3  -0.3            0 -0.3 */
    sn_neuron_params p = neuron(SN_NEURON_IF, 1, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0.5f, 0.7f, 0.2f, 1.5f, -0.3f};
        const double s[] = {0, 1, 0, 1, 0}, h[] = {0.5, 1.2, 0.2, 1.7, -0.3};
        CHECK_NEURON(&p, x, s, h, -0.3);
    }
    /* H exactly at the threshold fires (>=): 0.5 + 0.5 = 1.0 */
    {
        const float x[] = {0.5f, 0.5f};
        const double s[] = {0, 1}, h[] = {0.5, 1.0};
        CHECK_NEURON(&p, x, s, h, 0.0);
    }
    /* Hard reset to V_reset = -0.5 (also V[-1]):
     *  t  X    H                S  V
     *  0  0.5  -0.5 + 0.5 = 0   0  0
     *  1  1.2  1.2              1  -0.5
     *  2  0.3  -0.2             0  -0.2
     *  3  0.9  0.7              0  0.7 */
    p = neuron(SN_NEURON_IF, 1, -0.5f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0.5f, 1.2f, 0.3f, 0.9f};
        const double s[] = {0, 1, 0, 0}, h[] = {0, 1.2, -0.2, 0.7};
        CHECK_NEURON(&p, x, s, h, 0.7);
    }
    /* Soft reset, V_th = 1 (the v_reset field, 0.7 here, is ignored; V[-1] = 0):
     *  t  X    H              S  V = H - S
     *  0  0.6  0.6            0  0.6
     *  1  0.6  1.2            1  0.2
     *  2  0.6  0.8            0  0.8
     *  3  2.5  3.3            1  2.3
     *  4  0    2.3            1  1.3 */
    p = neuron(SN_NEURON_IF, 0, 0.7f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0.6f, 0.6f, 0.6f, 2.5f, 0.0f};
        const double s[] = {0, 1, 0, 1, 1}, h[] = {0.6, 1.2, 0.8, 3.3, 2.3};
        CHECK_NEURON(&p, x, s, h, 1.3);
    }
    /* Soft reset, V_th = 0.5:
     *  t  X    H    S  V = H - 0.5 S
     *  0  0.3  0.3  0  0.3
     *  1  0.3  0.6  1  0.1
     *  2  1.2  1.3  1  0.8 */
    p = neuron(SN_NEURON_IF, 0, 0.0f, 0.5f, 2.0f, 1);
    {
        const float x[] = {0.3f, 0.3f, 1.2f};
        const double s[] = {0, 1, 1}, h[] = {0.3, 0.6, 1.3};
        CHECK_NEURON(&p, x, s, h, 0.8);
    }
}

static void test_lif_neuron(void) {
    /* LIF tau = 2, decay_input, hard reset to 0: H = V + (X - V)/2 = (V + X)/2.
     *  t  X    H                 S  V
     *  0  1.0  (0 + 1)/2 = 0.5   0  0.5
     *  1  1.5  (0.5+1.5)/2 = 1   1  0
     *  2  2.0  (0 + 2)/2 = 1     1  0
     *  3  0.4  0.2               0  0.2
     *  4  3.0  (0.2+3)/2 = 1.6   1  0 */
    sn_neuron_params p = neuron(SN_NEURON_LIF, 1, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {1.0f, 1.5f, 2.0f, 0.4f, 3.0f};
        const double s[] = {0, 1, 1, 0, 1}, h[] = {0.5, 1.0, 1.0, 0.2, 1.6};
        CHECK_NEURON(&p, x, s, h, 0.0);
    }
    /* decay_input, hard reset to -0.5 (V[-1] = -0.5): H = V + (X - (V + 0.5))/2
     *  t  X    H                               S  V
     *  0  1.0  -0.5 + (1 - 0)/2 = 0            0  0
     *  1  2.5  0 + (2.5 - 0.5)/2 = 1           1  -0.5
     *  2  0.0  -0.5 + (0 - 0)/2 = -0.5         0  -0.5 */
    p = neuron(SN_NEURON_LIF, 1, -0.5f, 1.0f, 2.0f, 1);
    {
        const float x[] = {1.0f, 2.5f, 0.0f};
        const double s[] = {0, 1, 0}, h[] = {0, 1, -0.5};
        CHECK_NEURON(&p, x, s, h, -0.5);
    }
    /* no decay_input, hard reset to 0: H = V - V/2 + X = V/2 + X
     *  t  X    H                S  V
     *  0  0.6  0.6              0  0.6
     *  1  0.8  0.3 + 0.8 = 1.1  1  0
     *  2  0.2  0.2              0  0.2
     *  3  0.5  0.1 + 0.5 = 0.6  0  0.6 */
    p = neuron(SN_NEURON_LIF, 1, 0.0f, 1.0f, 2.0f, 0);
    {
        const float x[] = {0.6f, 0.8f, 0.2f, 0.5f};
        const double s[] = {0, 1, 0, 0}, h[] = {0.6, 1.1, 0.2, 0.6};
        CHECK_NEURON(&p, x, s, h, 0.6);
    }
    /* no decay_input, hard reset to -0.5: H = V - (V + 0.5)/2 + X
     *  t  X    H                                 S  V
     *  0  0.5  -0.5 - 0/2 + 0.5 = 0              0  0
     *  1  1.3  0 - 0.25 + 1.3 = 1.05             1  -0.5
     *  2  0.0  -0.5 - 0 + 0 = -0.5               0  -0.5 */
    p = neuron(SN_NEURON_LIF, 1, -0.5f, 1.0f, 2.0f, 0);
    {
        const float x[] = {0.5f, 1.3f, 0.0f};
        const double s[] = {0, 1, 0}, h[] = {0, 1.05, -0.5};
        CHECK_NEURON(&p, x, s, h, -0.5);
    }
    /* decay_input, soft reset (leak towards 0, v_reset field -0.5 ignored): H = (V + X)/2
     *  t  X    H                       S  V = H - S
     *  0  3.0  1.5                     1  0.5
     *  1  1.0  (0.5 + 1)/2 = 0.75      0  0.75
     *  2  1.5  (0.75 + 1.5)/2 = 1.125  1  0.125
     *  3  0.0  0.0625                  0  0.0625 */
    p = neuron(SN_NEURON_LIF, 0, -0.5f, 1.0f, 2.0f, 1);
    {
        const float x[] = {3.0f, 1.0f, 1.5f, 0.0f};
        const double s[] = {1, 0, 1, 0}, h[] = {1.5, 0.75, 1.125, 0.0625};
        CHECK_NEURON(&p, x, s, h, 0.0625);
    }
    /* no decay_input, soft reset: H = V/2 + X
     *  t  X    H                S  V
     *  0  1.2  1.2              1  0.2
     *  1  0.5  0.1 + 0.5 = 0.6  0  0.6
     *  2  0.3  0.3 + 0.3 = 0.6  0  0.6
     *  3  1.0  0.3 + 1.0 = 1.3  1  0.3 */
    p = neuron(SN_NEURON_LIF, 0, 0.0f, 1.0f, 2.0f, 0);
    {
        const float x[] = {1.2f, 0.5f, 0.3f, 1.0f};
        const double s[] = {1, 0, 0, 1}, h[] = {1.2, 0.6, 0.6, 1.3};
        CHECK_NEURON(&p, x, s, h, 0.3);
    }
    /* tau = 4, decay_input, hard reset to 0: H = V + (X - V)/4 = 0.75 V + 0.25 X
     *  t  X    H                        S  V
     *  0  2.0  0.5                      0  0.5
     *  1  3.0  0.375 + 0.75 = 1.125     1  0
     *  2  4.0  1.0                      1  0 */
    p = neuron(SN_NEURON_LIF, 1, 0.0f, 1.0f, 4.0f, 1);
    {
        const float x[] = {2.0f, 3.0f, 4.0f};
        const double s[] = {0, 1, 1}, h[] = {0.5, 1.125, 1.0};
        CHECK_NEURON(&p, x, s, h, 0.0);
    }
}

static void test_neuron_layout_and_state(void) {
    /* n = 3 neurons, T = 2, x is [T, n]; IF hard reset 0; v_state carries V in and out:
     *  neuron 0: V[-1]=0.75, X = 0.25, 0.5: H = 1.0 (S 1, V 0), 0.5 (S 0)    -> V = 0.5
     *  neuron 1: V[-1]=0,   X = 2, 0.5:    H = 2 (S 1, V 0),   0.5 (S 0)      -> V = 0.5
     *  neuron 2: V[-1]=-1,  X = 1, 1:      H = 0 (S 0),        1 (S 1, V 0)   -> V = 0 */
    sn_neuron_params p = neuron(SN_NEURON_IF, 1, 0.0f, 1.0f, 2.0f, 1);
    const float x[] = {0.25f, 2.0f, 1.0f, 0.5f, 0.5f, 1.0f};
    float v[] = {0.75f, 0.0f, -1.0f}, s[6], h[6];
    sn_ref_neuron_forward(&p, 2, 3, x, s, v, h);
    const double want_s[] = {1, 1, 0, 0, 0, 1}, want_h[] = {1.0, 2.0, 0.0, 0.5, 0.5, 1.0};
    const double want_v[] = {0.5, 0.5, 0.0};
    CHECK_ARRAY(s, want_s, 6, 0);
    CHECK_ARRAY(h, want_h, 6, 1e-7);
    CHECK_ARRAY(v, want_v, 3, 1e-7);
    /* Running T = 2 in two calls of T = 1 with the state carried gives the same. */
    float v2[] = {0.75f, 0.0f, -1.0f}, s2[6];
    sn_ref_neuron_forward(&p, 1, 3, x, s2, v2, NULL);
    sn_ref_neuron_forward(&p, 1, 3, x + 3, s2 + 3, v2, NULL);
    CHECK(memcmp(s, s2, sizeof s) == 0);
    CHECK(memcmp(v, v2, sizeof v) == 0);
}

/* ======================================================================================
 * Neurons: surrogate gradients and BPTT (hand-derived; see the derivation in neuron.c) */

/* ATan, alpha = 2: g(x) = 2 / (2 (1 + (pi x)^2)) = 1 / (1 + pi^2 x^2)
 *   g(0) = 1;  g(+-0.5) = 1 / (1 + pi^2/4) = 1 / 3.4674011 = 0.2884004 =: gA
 *   gA^2 = 0.0831748;  g(-0.25) = 1 / (1 + pi^2/16) = 1 / 1.6168503 = 0.6184865
 * Sigmoid, alpha = 4: g(x) = 4 sig(4x)(1 - sig(4x))
 *   g(0) = 4 * 0.25 = 1;  g(-0.5): sig(-2) = 0.1192029, 4 * 0.1192029 * 0.8807971 = 0.4199743 */
#define GA 0.28840044
static void test_surrogate(void) {
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_ATAN, 2.0f, 0.0), 1.0, 1e-12, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_ATAN, 2.0f, 0.5), GA, 1e-7, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_ATAN, 2.0f, -0.5), GA, 1e-7, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_ATAN, 2.0f, -0.25), 0.6184865, 1e-7, 0);
    /* ATan alpha = 4 at x = 0: alpha/2 = 2 */
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_ATAN, 4.0f, 0.0), 2.0, 1e-12, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_SIGMOID, 4.0f, 0.0), 1.0, 1e-12, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_SIGMOID, 4.0f, -0.5), 0.4199743, 1e-7, 0);
    CHECK_CLOSE(sn_ref_surrogate_grad(SN_SG_SIGMOID, 4.0f, 0.5), 0.4199743, 1e-7, 0);
    /* far tails: tiny, finite, non-negative */
    double t = sn_ref_surrogate_grad(SN_SG_SIGMOID, 4.0f, -1e4);
    CHECK(t >= 0 && t < 1e-30);
    t = sn_ref_surrogate_grad(SN_SG_ATAN, 2.0f, 1e4);
    CHECK(t > 0 && t < 1e-8);
}

/* Runs forward then backward on one neuron; compares dX and dV[-1]. */
static void check_bptt_(int line, const sn_neuron_params *p, int T, const float *x, const float *ds,
                        float dv_in, const double *want_dx, double want_dv) {
    float s[8], h[8], dx[8], dv[1] = {dv_in};
    sn_ref_neuron_forward(p, T, 1, x, s, NULL, h);
    sn_ref_neuron_backward(p, T, 1, h, s, ds, dx, dv);
    check_array_(__FILE__, line, "dx", dx, want_dx, T, 2e-7, 0);
    check_array_(__FILE__, line, "dv", dv, &want_dv, 1, 2e-7, 0);
    if (dv_in == 0.0f) { /* dv_state NULL means dL/dV[T-1] = 0 */
        float dx2[8];
        sn_ref_neuron_backward(p, T, 1, h, s, ds, dx2, NULL);
        check_array_(__FILE__, line, "dx(NULL dv)", dx2, want_dx, T, 2e-7, 0);
    }
}
#define CHECK_BPTT(p, x, ds, dv_in, want_dx, want_dv)                                              \
    check_bptt_(__LINE__, (p), (int)LEN(x), x, ds, dv_in, want_dx, want_dv)

/* Recursion (neuron.c), per step from t = T-1 down, dV = dL/dV[t]:
 *   dS_tot = dS[t] + dV * dV/dS (0 if detach);  dH = dS_tot * g + dV * dV/dH|S
 *   dX[t] = b dH;  dV[t-1] = a dH
 * hard: dV/dH|S = 1 - S, dV/dS = vr - H;  soft: dV/dH|S = 1, dV/dS = -V_th.
 * IF: a = b = 1; LIF tau=2: a = 0.5, b = 0.5 (decay_input) or 1.
 * All examples except the last two have H = 0.5, 1.0, 0.5 (S = 0, 1, 0; g = gA, 1, gA),
 * dL/dS = 0.5, -1, 2 and dL/dV[2] = 0. */
static void test_neuron_backward(void) {
    const float ds[] = {0.5f, -1.0f, 2.0f};
    /* IF, hard reset 0, X = 0.5 0.5 0.5:
     *  t2: dS_tot = 2;  dH2 = 2 gA = 0.5768009;  dX2 = 0.5768009;  dV1 = 2 gA
     *  t1: dS_tot = -1 + 2gA (0 - 1) = -1 - 2gA;  dH1 = (-1 - 2gA) * 1 + 2gA * 0
     *      = -1.5768009;  dX1 = dV0 = -1.5768009
     *  t0: dS_tot = 0.5 + (-1 - 2gA)(0 - 0.5) = 1 + gA;  dH0 = (1 + gA) gA + (-1 - 2gA) * 1
     *      = gA^2 - gA - 1 = 0.0831748 - 0.2884004 - 1 = -1.2052256 = dX0 = dV[-1] */
    sn_neuron_params p = neuron(SN_NEURON_IF, 1, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0.5f, 0.5f, 0.5f};
        const double dx[] = {-1.2052256, -1.5768009, 0.5768009};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -1.2052256);
    }
    /* Same, detach_reset (no dV/dS path):
     *  t2: dH2 = 2gA = 0.5768009;  dV1 = 2gA
     *  t1: dS_tot = -1;  dH1 = -1 * 1 + 2gA * 0 = -1;  dV0 = -1
     *  t0: dS_tot = 0.5;  dH0 = 0.5 gA + (-1)(1) = -0.8557998 */
    p.detach_reset = 1;
    {
        const float x[] = {0.5f, 0.5f, 0.5f};
        const double dx[] = {-0.8557998, -1.0, 0.5768009};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.8557998);
    }
    /* IF, soft reset, V_th = 1, X = 0.5 0.5 0.5:
     *  t2: dH2 = 2gA = 0.5768009;  dV1 = 2gA
     *  t1: dS_tot = -1 + 2gA(-1);  dH1 = (-1 - 2gA) * 1 + 2gA * 1 = -1;  dV0 = -1
     *  t0: dS_tot = 0.5 + (-1)(-1) = 1.5;  dH0 = 1.5 gA + (-1)(1) = 0.4326007 - 1
     *      = -0.5673993 */
    p = neuron(SN_NEURON_IF, 0, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0.5f, 0.5f, 0.5f};
        const double dx[] = {-0.5673993, -1.0, 0.5768009};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.5673993);
    }
    /* LIF tau 2, decay_input, hard reset 0, X = 1 1.5 1 (H = 0.5 1 0.5); a = b = 0.5:
     *  t2: dH2 = 2gA;  dX2 = gA = 0.2884004;  dV1 = gA
     *  t1: dS_tot = -1 + gA(0 - 1);  dH1 = -1 - gA;  dX1 = dV0 = (-1 - gA)/2 = -0.6442002
     *  t0: dS_tot = 0.5 + (-1 - gA)/2 (-0.5) = 0.75 + gA/4;
     *      dH0 = (0.75 + gA/4) gA + (-1 - gA)/2 = gA^2/4 + gA/4 - 0.5
     *          = 0.0207937 + 0.0721001 - 0.5 = -0.4071062;  dX0 = dV[-1] = -0.2035531 */
    p = neuron(SN_NEURON_LIF, 1, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {1.0f, 1.5f, 1.0f};
        const double dx[] = {-0.2035531, -0.6442002, 0.2884004};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.2035531);
    }
    /* LIF tau 2, no decay_input, hard reset 0, X = 0.5 0.75 0.5 (H = 0.5 1 0.5); a = 0.5,
     * b = 1: the dH are those of the previous case:
     *  dX2 = dH2 = 2gA = 0.5768009;  dX1 = dH1 = -1 - gA = -1.2884004;
     *  dX0 = dH0 = -0.4071062;  dV[-1] = dH0/2 = -0.2035531 */
    p = neuron(SN_NEURON_LIF, 1, 0.0f, 1.0f, 2.0f, 0);
    {
        const float x[] = {0.5f, 0.75f, 0.5f};
        const double dx[] = {-0.4071062, -1.2884004, 0.5768009};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.2035531);
    }
    /* LIF tau 2, decay_input, soft reset, X = 1 1.5 1 (H = 0.5 1 0.5):
     *  t2: dH2 = 2gA;  dX2 = gA = 0.2884004;  dV1 = gA
     *  t1: dS_tot = -1 - gA;  dH1 = (-1 - gA) + gA * 1 = -1;  dX1 = dV0 = -0.5
     *  t0: dS_tot = 0.5 + (-0.5)(-1) = 1;  dH0 = gA + (-0.5) = -0.2115996;
     *      dX0 = dV[-1] = -0.1057998 */
    p = neuron(SN_NEURON_LIF, 0, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {1.0f, 1.5f, 1.0f};
        const double dx[] = {-0.1057998, -0.5, 0.2884004};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.1057998);
    }
    /* Same, detach_reset:
     *  t2: dH2 = 2gA;  dX2 = gA;  dV1 = gA
     *  t1: dS_tot = -1;  dH1 = -1 + gA;  dX1 = dV0 = (gA - 1)/2 = -0.3557998
     *  t0: dS_tot = 0.5;  dH0 = 0.5gA + (gA - 1)/2 = gA - 0.5 = -0.2115996;
     *      dX0 = dV[-1] = -0.1057998 */
    p.detach_reset = 1;
    {
        const float x[] = {1.0f, 1.5f, 1.0f};
        const double dx[] = {-0.1057998, -0.3557998, 0.2884004};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.1057998);
    }
    /* LIF tau 2, no decay_input, soft reset, X = 0.5 0.75 0.5: dH as in the decay_input
     * soft case (2gA, -1, gA - 0.5), b = 1: dX = -0.2115996, -1, 0.5768009;
     * dV[-1] = 0.5 * (gA - 0.5) = -0.1057998 */
    p = neuron(SN_NEURON_LIF, 0, 0.0f, 1.0f, 2.0f, 0);
    {
        const float x[] = {0.5f, 0.75f, 0.5f};
        const double dx[] = {-0.2115996, -1.0, 0.5768009};
        CHECK_BPTT(&p, x, ds, 0.0f, dx, -0.1057998);
    }
    /* IF, hard reset to -0.5, Sigmoid alpha 4, T = 2, X = 1.5 1.0, dL/dS = 1, 0.5 and an
     * incoming dL/dV[1] = 0.25:
     *  forward: H0 = -0.5 + 1.5 = 1 (S 1, V -0.5);  H1 = -0.5 + 1 = 0.5 (S 0)
     *  g0 = g(0) = 1,  g1 = g(-0.5) = gS = 0.4199743
     *  t1: dS_tot = 0.5 + 0.25 (-0.5 - 0.5) = 0.25;  dH1 = 0.25 gS + 0.25 * 1 = 0.3549936
     *      dX1 = dV0 = 0.3549936
     *  t0: dS_tot = 1 + 0.3549936 (-0.5 - 1) = 0.4675096;  dH0 = 0.4675096 * 1 + dV0 * 0
     *      dX0 = dV[-1] = 0.4675096 */
    p = neuron(SN_NEURON_IF, 1, -0.5f, 1.0f, 2.0f, 1);
    p.surrogate = SN_SG_SIGMOID;
    p.alpha = 4.0f;
    {
        const float x[] = {1.5f, 1.0f}, d[] = {1.0f, 0.5f};
        const double dx[] = {0.4675096, 0.3549936};
        CHECK_BPTT(&p, x, d, 0.25f, dx, 0.4675096);
    }
    /* IF, soft reset, V_th = 0.5, ATan alpha 2, T = 2, X = 0.5 0.25, dL/dS = 1, 1:
     *  forward: H0 = 0.5 (S 1, V 0);  H1 = 0.25 (S 0);  g0 = g(0) = 1, g1 = g(-0.25) = 0.6184865
     *  t1: dS_tot = 1;  dH1 = 0.6184865 = dX1 = dV0
     *  t0: dS_tot = 1 + 0.6184865 (-0.5) = 0.6907568;  dH0 = 0.6907568 + 0.6184865 = 1.3092432 */
    p = neuron(SN_NEURON_IF, 0, 0.0f, 0.5f, 2.0f, 1);
    {
        const float x[] = {0.5f, 0.25f}, d[] = {1.0f, 1.0f};
        const double dx[] = {1.3092432, 0.6184865};
        CHECK_BPTT(&p, x, d, 0.0f, dx, 1.3092432);
    }
    /* (All the values above were also reproduced with PyTorch autograd through an unrolled
     * loop with a custom surrogate Function, while writing this test.) */

    /* Layout: n = 2, neuron 1 is the first example, neuron 0 gets zeros and dL/dS = 0 (its
     * gradients must stay 0: no cross-talk between neurons). */
    p = neuron(SN_NEURON_IF, 1, 0.0f, 1.0f, 2.0f, 1);
    {
        const float x[] = {0, 0.5f, 0, 0.5f, 0, 0.5f}, d[] = {0, 0.5f, 0, -1, 0, 2};
        float s[6], h[6], dx[6], dv[2] = {0, 0};
        sn_ref_neuron_forward(&p, 3, 2, x, s, NULL, h);
        sn_ref_neuron_backward(&p, 3, 2, h, s, d, dx, dv);
        const double want_dx[] = {0, -1.2052256, 0, -1.5768009, 0, 0.5768009};
        const double want_dv[] = {0, -1.2052256};
        CHECK_ARRAY(dx, want_dx, 6, 2e-7);
        CHECK_ARRAY(dv, want_dv, 2, 2e-7);
    }
}

/* ======================================================================================
 * Threshold units, encoders, time mean */

static void test_threshold_units(void) {
    /* N=1, C=2, HW=2, U=3; theta c0 = 0.5 1.5 2.5, c1 = 1 2 3.
     * c0: v = 1.5 -> {0.5, 1.5} -> 2;  v = 3.0 -> 3
     * c1: v = 0.9 -> 0;  v = 2.0 -> {1, 2} -> 2 (>=) */
    sn_threshold_params p = {.N = 1, .C = 2, .HW = 2, .U = 3};
    const float v[] = {1.5f, 3.0f, 0.9f, 2.0f}, theta[] = {0.5f, 1.5f, 2.5f, 1, 2, 3};
    float counts[4];
    sn_ref_threshold_units(&p, v, theta, counts);
    const double want[] = {2, 3, 0, 2};
    CHECK_ARRAY(counts, want, 4, 0);
    /* N = 2 repeats the per-channel thresholds for the second sample. */
    sn_threshold_params p2 = {.N = 2, .C = 2, .HW = 1, .U = 3};
    const float v2[] = {-1.0f, 2.5f, 2.5f, 10.0f};
    float c2[4];
    sn_ref_threshold_units(&p2, v2, theta, c2);
    const double want2[] = {0, 2, 3, 3};
    CHECK_ARRAY(c2, want2, 4, 0);
}

static void test_poisson(void) {
    enum { T = 2000, n = 4 };
    const float x[n] = {0.0f, 1.0f, 0.3f, 0.7f};
    float *s = malloc(sizeof(float) * T * n);
    CHECK_EQ_INT(sn_ref_encode_poisson(T, n, 99, x, s), 0);
    double count[n] = {0};
    int mismatch = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++) {
            count[i] += s[t * n + i];
            float want = sn_rand_u01(99, (uint64_t)t, (uint64_t)i) <= x[i] ? 1.0f : 0.0f;
            if (s[t * n + i] != want) mismatch++;
        }
    CHECK_EQ_INT(mismatch, 0);
    /* x = 0 never fires (u = 0 exactly, probability 2^-24, does not occur for this seed);
     * x = 1 always; the rates of 0.3 and 0.7 within 0.04 (4 standard deviations). */
    CHECK_EQ_INT((int64_t)count[0], 0);
    CHECK_EQ_INT((int64_t)count[1], T);
    CHECK_CLOSE(count[2] / T, 0.3, 0.04, 0);
    CHECK_CLOSE(count[3] / T, 0.7, 0.04, 0);

    /* Spikes are drawn afresh each step: the 0.3 train is not constant. */
    int changes = 0;
    for (int t = 1; t < T; t++) changes += s[t * n + 2] != s[(t - 1) * n + 2];
    CHECK(changes > 100);

    /* Deterministic in the seed; another seed differs. */
    float *s2 = malloc(sizeof(float) * T * n);
    sn_ref_encode_poisson(T, n, 99, x, s2);
    CHECK(memcmp(s, s2, sizeof(float) * T * n) == 0);
    sn_ref_encode_poisson(T, n, 100, x, s2);
    CHECK(memcmp(s, s2, sizeof(float) * T * n) != 0);

    /* The comparison is u <= x: with x set to the very u drawn for step 0, step 0 fires. */
    float xe[n], se[2 * n];
    for (int i = 0; i < n; i++) xe[i] = sn_rand_u01(5, 0, (uint64_t)i);
    sn_ref_encode_poisson(2, n, 5, xe, se);
    CHECK(se[0] == 1 && se[1] == 1 && se[2] == 1 && se[3] == 1);

    /* Out of range: -0.1, 1.1 and NaN are counted (0.5 is fine). */
    const float bad[] = {-0.1f, 1.1f, 0.5f, NAN};
    CHECK_EQ_INT(sn_ref_encode_poisson(10, 4, 1, bad, s2), 3);
    int ok = 1;
    for (int t = 0; t < 10; t++)
        ok &= s2[t * 4 + 0] == 0 && s2[t * 4 + 1] == 1 && s2[t * 4 + 3] == 0;
    CHECK(ok);
    free(s), free(s2);
}

static void test_direct_and_time_mean(void) {
    const float x[] = {1.5f, -2.0f};
    float s[6];
    sn_ref_encode_direct(3, 2, x, s);
    const double want_s[] = {1.5, -2, 1.5, -2, 1.5, -2};
    CHECK_ARRAY(s, want_s, 6, 0);
    /* backward: sum over T: ds = [1 2; 3 4; 5 6] -> 1+3+5 = 9, 2+4+6 = 12 */
    const float ds[] = {1, 2, 3, 4, 5, 6};
    float dx[2];
    sn_ref_encode_direct_backward(3, 2, ds, dx);
    const double want_dx[] = {9, 12};
    CHECK_ARRAY(dx, want_dx, 2, 0);

    /* time mean, T = 3, n = 2: x = [1 2; 3 4; 5 9] -> (1+3+5)/3 = 3, (2+4+9)/3 = 5 */
    const float xt[] = {1, 2, 3, 4, 5, 9};
    float y[2];
    sn_ref_time_mean(3, 2, xt, y);
    const double want_y[] = {3, 5};
    CHECK_ARRAY(y, want_y, 2, 1e-7);
    /* backward: dy / T in every step */
    const float dy[] = {3, -6};
    float dxt[6];
    sn_ref_time_mean_backward(3, 2, dy, dxt);
    const double want_dxt[] = {1, -2, 1, -2, 1, -2};
    CHECK_ARRAY(dxt, want_dxt, 6, 0);
}

/* ======================================================================================
 * Losses and accuracy */

static void test_softmax_ce_hand(void) {
    /* Row 0: logits [0, ln 2, 0], label 1: exp = [1, 2, 1], softmax = [1/4, 1/2, 1/4],
     *   loss = -ln(1/2) = ln 2 = 0.6931472
     * Row 1: logits [1, 1, 1], label 0: softmax 1/3 each, loss = ln 3 = 1.0986123
     * Mean over N = 2: (ln 2 + ln 3)/2 = ln 6 / 2 = 0.8958797
     * grad = (softmax - onehot)/N: row 0 [0.25, -0.5, 0.25]/2 = [0.125, -0.25, 0.125];
     *   row 1 [1/3 - 1, 1/3, 1/3]/2 = [-1/3, 1/6, 1/6] */
    const float z[] = {0, (float)log(2.0), 0, 1, 1, 1};
    const int32_t lab[] = {1, 0};
    float g[6];
    double l = sn_ref_softmax_ce(2, 3, z, lab, 0.0f, g);
    CHECK_CLOSE(l, 0.8958797, 1e-7, 0);
    const double want_g[] = {0.125, -0.25, 0.125, -1 / 3.0, 1 / 6.0, 1 / 6.0};
    CHECK_ARRAY(g, want_g, 6, 1e-7);
    /* N = 1 */
    CHECK_CLOSE(sn_ref_softmax_ce(1, 3, z, lab, 0.0f, NULL), 0.6931472, 1e-7, 0);

    /* Label smoothing eps = 0.3, K = 3: q = (1 - 0.3) onehot + 0.1 = [0.1, 0.8, 0.1] (row 0)
     *   row 0: loss = -(0.1 ln 1/4 + 0.8 ln 1/2 + 0.1 ln 1/4) = 0.2 ln 4 + 0.8 ln 2
     *          = 1.2 ln 2 = 0.8317766
     *   row 1: uniform softmax, loss = ln 3 whatever q: 1.0986123
     *   mean = (0.8317766 + 1.0986123)/2 = 0.9651945   (PyTorch: 0.965194452670022)
     *   grad: row 0 (p - q)/2 = [0.15, -0.3, 0.15]/2 = [0.075, -0.15, 0.075]
     *         row 1 q = [0.8, 0.1, 0.1]: (1/3 - q)/2 = [-0.2333333, 0.1166667, 0.1166667] */
    l = sn_ref_softmax_ce(2, 3, z, lab, 0.3f, g);
    CHECK_CLOSE(l, 0.9651945, 1e-6, 0);
    const double want_gs[] = {0.075, -0.15, 0.075, -0.2333333, 0.1166667, 0.1166667};
    CHECK_ARRAY(g, want_gs, 6, 1e-6);
    CHECK_CLOSE(sn_ref_softmax_ce(1, 3, z, lab, 0.3f, NULL), 0.8317766, 1e-6, 0);

    /* Large logits do not overflow (log-sum-exp): [1000, 1000 + ln 2, 1000] is row 0. */
    const float zb[] = {1000, 1000 + (float)log(2.0), 1000};
    CHECK_CLOSE(sn_ref_softmax_ce(1, 3, zb, lab, 0.0f, NULL), 0.6931472, 1e-4, 0);
    /* -inf off the label without smoothing: finite (no 0 * inf). */
    const float zi[] = {-INFINITY, 0, 0};
    CHECK_CLOSE(sn_ref_softmax_ce(1, 3, zi, lab, 0.0f, NULL), 0.6931472, 1e-7, 0);
    /* An invalid label gives NaN. */
    const int32_t badlab[] = {3};
    CHECK(isnan(sn_ref_softmax_ce(1, 3, z, badlab, 0.0f, NULL)));
}

typedef struct loss_ctx {
    int64_t N;
    int K;
    float *x;
    const int32_t *lab;
    float smoothing;
    int mse;
} loss_ctx;

static double loss_eval(void *vc) {
    loss_ctx *c = vc;
    return c->mse ? sn_ref_mse_onehot(c->N, c->K, c->x, c->lab, NULL)
                  : sn_ref_softmax_ce(c->N, c->K, c->x, c->lab, c->smoothing, NULL);
}

static void test_loss_grad_fd(void) {
    enum { N = 3, K = 5 };
    float x[N * K], g[N * K];
    double num[N * K];
    const int32_t lab[N] = {2, 0, 4};
    sn_rng r;
    sn_rng_seed(&r, 61);
    fill_uniform(&r, x, N * K, -2, 2);
    loss_ctx c = {N, K, x, lab, 0.0f, 0};
    /* The losses are computed in double from the float inputs: truncation O(h^2) only. */
    for (int k = 0; k < 3; k++) {
        c.mse = k == 2;
        c.smoothing = k == 1 ? 0.1f : 0.0f;
        if (c.mse)
            sn_ref_mse_onehot(N, K, x, lab, g);
        else
            sn_ref_softmax_ce(N, K, x, lab, c.smoothing, g);
        numeric_grad(loss_eval, &c, x, N * K, 1.0f / 1024, num);
        CHECK_GRAD(g, num, N * K, 1e-6, 1e-5);
    }
}

static void test_mse_onehot(void) {
    /* Row 0 [0.2, 0.9, 0], label 1: d = [0.2, -0.1, 0], d^2 = 0.04 + 0.01 + 0 = 0.05
     * Row 1 [0.5, 0.5, 1], label 2: d = [0.5, 0.5, 0], d^2 = 0.25 + 0.25 + 0 = 0.5
     * loss = 0.55 / 6 = 0.0916667;  grad = 2 d / 6 = d / 3:
     *   [0.0666667, -0.0333333, 0, 0.1666667, 0.1666667, 0] */
    const float x[] = {0.2f, 0.9f, 0, 0.5f, 0.5f, 1};
    const int32_t lab[] = {1, 2};
    float g[6];
    CHECK_CLOSE(sn_ref_mse_onehot(2, 3, x, lab, g), 0.0916667, 1e-7, 0);
    const double want[] = {0.0666667, -0.0333333, 0, 0.1666667, 0.1666667, 0};
    CHECK_ARRAY(g, want, 6, 1e-7);
}

static void test_topk(void) {
    /* row 0 [1, 3, 3, 2], label 2: index 1 ties with it and ranks first (lower index), so
     *   rank 1: top-1 no, top-2 yes
     * row 1 [2, 2, 2, 2], label 3: rank 3: only top-4
     * row 2 [0.5, 5, 1], label 1: rank 0 (K = 3 < 4: the row is padded with -inf here)
     * top1: 0+0+1 = 1; top2: 1+0+1 = 2; top3: 2; top4: 3 */
    const float z[] = {1, 3, 3, 2, 2, 2, 2, 2, 0.5f, 5, 1, -INFINITY};
    const int32_t lab[] = {2, 3, 1};
    CHECK_EQ_INT(sn_ref_topk_correct(3, 4, z, lab, 1), 1);
    CHECK_EQ_INT(sn_ref_topk_correct(3, 4, z, lab, 2), 2);
    CHECK_EQ_INT(sn_ref_topk_correct(3, 4, z, lab, 3), 2);
    CHECK_EQ_INT(sn_ref_topk_correct(3, 4, z, lab, 4), 3);
    /* label 1 in row 0 (tied, lower index) is top-1 */
    const int32_t lab1[] = {1};
    CHECK_EQ_INT(sn_ref_topk_correct(1, 4, z, lab1, 1), 1);
    /* NaN ranks above everything (torch.topk); an invalid label never counts. */
    const float zn[] = {NAN, 5, 1};
    const int32_t l1[] = {1}, l0[] = {0}, lbad[] = {7};
    CHECK_EQ_INT(sn_ref_topk_correct(1, 3, zn, l1, 1), 0);
    CHECK_EQ_INT(sn_ref_topk_correct(1, 3, zn, l0, 1), 1);
    CHECK_EQ_INT(sn_ref_topk_correct(1, 3, zn, lbad, 3), 0);
}

/* Gated spike max pooling: the window passes the spikes of its input with the most spikes so
 * far (first in window order on ties), not the OR of the window; spike deletion keeps a
 * count's spikes independently. */
static void test_spike_maxpool_and_drop(void) {
    /* T = 3, one 2x2 map -> 1x1; step inputs (window order) and the expected output:
     * t0 [1 0 0 0]: counts 1 0 0 0 -> input 0 -> 1
     * t1 [0 1 1 0]: counts 1 1 1 0 -> tie, input 0 -> 0 (the OR would give 1)
     * t2 [0 1 0 0]: counts 1 2 1 0 -> input 1 -> 1 */
    float x[12] = {1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0}, y[3] = {-1, -1, -1}, cnt[4];
    sn_spike_pool_params p;
    memset(&p, 0, sizeof p);
    p.N = 1;
    p.T = 3;
    p.KH = p.KW = p.SH = p.SW = 2;
    p.in = (sn_cpu_layout){0, 1, 1, 2, 2, 0};
    p.out = (sn_cpu_layout){0, 1, 1, 1, 1, 0};
    sn_kctx ctx;
    memset(&ctx, 0, sizeof ctx);
    void *ptrs[3] = {x, y, cnt};
    sn_spike_maxpool(&ctx, &p, ptrs, 0, 1);
    CHECK(y[0] == 1.0f && y[1] == 0.0f && y[2] == 1.0f);
    /* the same one step at a time (step-major): counts carried over */
    p.T = 1;
    p.stateful = 1;
    for (int t = 0; t < 3; t++) {
        ctx.t = t;
        void *pt[3] = {x + 4 * t, y + t, cnt};
        sn_spike_maxpool(&ctx, &p, pt, 0, 1);
    }
    CHECK(y[0] == 1.0f && y[1] == 0.0f && y[2] == 1.0f);
    /* spike deletion: P = 0 keeps every spike, P = 1 none, counts clamp to [0, U] */
    float c[4] = {0, 2, 4, 9}, k[4];
    sn_ref_spike_drop(4, 4, 0.0f, 123, c, k);
    CHECK(k[0] == 0 && k[1] == 2 && k[2] == 4 && k[3] == 4);
    sn_ref_spike_drop(4, 4, 1.0f, 123, c, k);
    CHECK(k[0] == 0 && k[1] == 0 && k[2] == 0 && k[3] == 0);
    /* P = 0.5 over many counts of 4: about half survive */
    static float many[4000], kept[4000];
    for (int i = 0; i < 4000; i++) many[i] = 4;
    sn_ref_spike_drop(4000, 4, 0.5f, 7, many, kept);
    double s = 0;
    for (int i = 0; i < 4000; i++) s += kept[i];
    CHECK_CLOSE(s / 16000.0, 0.5, 0.02, 0);
}

int main(void) {
    RUN(test_spike_maxpool_and_drop);
    RUN(test_conv2d_hand);
    RUN(test_conv2d_1x1_stride);
    RUN(test_conv2d_backward_fd);
    RUN(test_linear_hand);
    RUN(test_linear_backward_fd);
    RUN(test_pool_hand);
    RUN(test_pool_ceil_windows);
    RUN(test_maxpool_backward_ties);
    RUN(test_pool_backward_fd);
    RUN(test_relu);
    RUN(test_relu_backward_fd);
    RUN(test_bn_infer);
    RUN(test_bn_train_hand);
    RUN(test_bn_backward_fd);
    RUN(test_dropout);
    RUN(test_quant);
    RUN(test_ternary);
    RUN(test_if_neuron);
    RUN(test_lif_neuron);
    RUN(test_neuron_layout_and_state);
    RUN(test_surrogate);
    RUN(test_neuron_backward);
    RUN(test_threshold_units);
    RUN(test_poisson);
    RUN(test_direct_and_time_mean);
    RUN(test_softmax_ce_hand);
    RUN(test_loss_grad_fd);
    RUN(test_mse_onehot);
    RUN(test_topk);
    return sn_test_result();
}
