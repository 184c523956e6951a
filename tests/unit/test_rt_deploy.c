/* The artifact runtime on its own (runtime/deploy), linked with libsnnc_rt alone: no LLVM,
 * no libyaml, no compiler (tests/CMakeLists.txt links test_rt_* files that way, so a
 * runtime that reached into the compiler would not link).
 *
 * A small hand-made plan (a linear layer, batch norm folded by the built-in preparation
 * kernel, a stateful step-major accumulator over NT = 3, plain C kernels) is written as a
 * plan description and a model description, then:
 *   - read back, measured and built without allocation: it runs to the same numbers as
 *     the original plan bound the ordinary way;
 *   - every truncation and every single-byte corruption of both descriptions is an error or
 *     a plan that builds inside its measured block (never a wild write: ASan checks);
 *   - the snrt_* API on it: create, run, step, reset, preprocess, errors and their codes;
 *   - CPU feature strings: LLVM's implications, the host mask against the compiler's view. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/util.h"
#include "runtime/cpu/prep.h"
#include "runtime/deploy/cpu_features.h"
#include "runtime/deploy/desc.h"
#include "runtime/deploy/plan_blob.h"
#include "runtime/deploy/snrt.h"

#define NB 2
#define NK 3
#define NI 4
#define NT 3

/* ptrs: [0] x [NB][NI], [1] w [NK][NI], [2] b [NK], [3] h [NB][NK]; tasks: images */
static void k_linear(sn_kctx *ctx, const void *p, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)p;
    const float *x = ptrs[0], *w = ptrs[1], *b = ptrs[2];
    float *h = ptrs[3];
    for (int64_t n = lo; n < hi; n++)
        for (int k = 0; k < NK; k++) {
            float s = b[k];
            for (int i = 0; i < NI; i++) {
                if (x[n * NI + i] > 100.0f) atomic_fetch_add(&ctx->bad_input, 1);
                s += w[k * NI + i] * x[n * NI + i];
            }
            h[n * NK + k] = s;
        }
}

/* ptrs: [0] h, [1] scale, [2] shift, [3] state [NB][NK] (keep), [4] y; running mean over NT */
static void k_acc(sn_kctx *ctx, const void *p, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)p;
    const float *h = ptrs[0], *sc = ptrs[1], *sh = ptrs[2];
    float *state = ptrs[3], *y = ptrs[4];
    for (int64_t n = lo; n < hi; n++)
        for (int k = 0; k < NK; k++) {
            /* sn_prep_bn's form: ((x - mean hi) - lo) * scale + beta */
            float xc = (h[n * NK + k] - sh[NK + k]) - sh[2 * NK + k];
            float v = (xc * sc[k] + sh[k]) * (float)(ctx->t + 1);
            float *s = &state[n * NK + k];
            *s = ctx->t == 0 ? v : *s + v;
            y[n * NK + k] = *s / (float)NT;
        }
}

static const char *const KNAMES[] = {"k_linear", "k_acc"};
static const sn_cpu_fn KFNS[] = {k_linear, k_acc};
static const char *const WNAMES[] = {"fc.weight", "fc.bias",         "bn.weight",
                                     "bn.bias",   "bn.running_mean", "bn.running_var"};
#define NW 6

static sn_param_desc pdesc[NW];
static sn_weights store;

static void make_weights(void) {
    for (int i = 0; i < NW; i++) {
        memset(&pdesc[i], 0, sizeof pdesc[i]);
        sn_strlcpy(pdesc[i].name, WNAMES[i], sizeof pdesc[i].name);
        pdesc[i].dtype = SN_F32;
        pdesc[i].shape = i == 0 ? sn_shape2(NK, NI) : sn_shape1(NK);
    }
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_weights_create(&store, pdesc, NW, &st) == SN_OK);
    for (int i = 0; i < NW; i++) {
        float *d = store.data[i];
        int64_t n = sn_shape_numel(&pdesc[i].shape);
        for (int64_t j = 0; j < n; j++) d[j] = 0.25f * (float)((i * 7 + j * 3) % 9) - 0.5f;
        if (i == 5)
            for (int64_t j = 0; j < n; j++) d[j] = 1.0f + 0.5f * (float)j; /* var > 0 */
    }
}

static void make_plan(sn_plan *p) {
    sn_status st;
    sn_status_init(&st);
    sn_plan_init(p);
    sn_strlcpy(p->model, "tiny", sizeof p->model);
    p->batch = NB;
    p->T = NT;
    p->step_major = 1;
    p->num_classes = NK;
    sn_shape xs = sn_shape4(NB, 1, 2, 2), hs = sn_shape2(NB, NK);
    p->in_buf = sn_plan_add_buffer(p, "input", SN_F32, &xs, SN_BUF_ARENA, &st);
    int h = sn_plan_add_buffer(p, "h", SN_F32, &hs, SN_BUF_ARENA, &st);
    int state = sn_plan_add_buffer(p, "state", SN_F32, &hs, SN_BUF_ARENA, &st);
    p->bufs[state].keep = 1;
    p->out_buf = sn_plan_add_buffer(p, "out", SN_F32, &hs, SN_BUF_ARENA, &st);
    sn_strlcpy(p->bufs[p->out_buf].layout, "NC", sizeof p->bufs[0].layout);
    int w[NW];
    for (int i = 0; i < NW; i++)
        w[i] = sn_plan_add_buffer(p, WNAMES[i], SN_F32, &pdesc[i].shape, SN_BUF_WEIGHT, &st);
    sn_shape ks = sn_shape1(NK), ks3 = sn_shape1(3 * NK);
    int scale = sn_plan_add_buffer(p, "bn.scale", SN_F32, &ks, SN_BUF_OWNED, &st);
    int shift = sn_plan_add_buffer(p, "bn.shift_center", SN_F32, &ks3, SN_BUF_OWNED, &st);
    sn_prep_bn_params bp = {NK, 1, 1e-5f};
    int pb[6] = {w[2], w[3], w[4], w[5], scale, shift};
    CHECK(sn_plan_add_prep(p, "bn", "cpu.prep_bn", sn_prep_bn, &bp, sizeof bp, pb, 6, &st) >= 0);
    int b1[4] = {p->in_buf, w[0], w[1], h};
    CHECK(sn_plan_add_step(p, "fc", "k_linear", k_linear, NULL, 0, b1, 4, NB, &st) >= 0);
    int b2[5] = {h, scale, shift, state, p->out_buf};
    CHECK(sn_plan_add_step(p, "acc", "k_acc", k_acc, NULL, 0, b2, 5, NB, &st) >= 0);
    sn_plan_memplan(p);
    CHECK_MSG(st.code == SN_OK, "%s", st.msg);
}

static const float X[NB * NI] = {0.1f, 0.7f, 0.2f, 0.9f, 0.5f, 0.3f, 0.8f, 0.4f};

static int weight_info(void *arg, int i, sn_dtype *dt, sn_shape *shape) {
    (void)arg;
    if (i < 0 || i >= NW) return 0;
    *dt = SN_F32;
    *shape = pdesc[i].shape;
    return 1;
}

/* the model description of the plan (plan bytes in *pb, description in *db) */
static void describe(const sn_plan *p, sn_bw *pb, sn_bw *db) {
    sn_status st;
    sn_status_init(&st);
    sn_bw_init(pb);
    sn_bw_init(db);
    CHECK_MSG(sn_plan_blob_write(p, KNAMES, 2, WNAMES, NW, pb, &st) == SN_OK, "%s", st.msg);
    sn_dtype dts[NW];
    sn_shape shs[NW];
    for (int i = 0; i < NW; i++) {
        dts[i] = SN_F32;
        shs[i] = pdesc[i].shape;
    }
    snrt_desc_in in;
    memset(&in, 0, sizeof in);
    in.name = "tiny";
    in.batch = NB;
    in.channels = 1;
    in.height = 2;
    in.width = 2;
    in.classes = NK;
    in.T = NT;
    in.step_major = 1;
    in.tf.out_h = 2;
    in.tf.out_w = 2;
    in.tf.scale = 1.0f / 255.0f;
    in.nweights = NW;
    in.weight_names = WNAMES;
    in.weight_dtypes = dts;
    in.weight_shapes = shs;
    in.nvariants = 1;
    in.variants[0] = (snrt_variant_desc){"any", "x86-64", "scalar", 0, 2, pb->data, pb->len};
    CHECK_MSG(snrt_desc_write(&in, db, &st) == SN_OK, "%s", st.msg);
}

static void test_plan_round_trip(void) {
    sn_status st;
    sn_status_init(&st);
    sn_plan a;
    make_plan(&a);
    CHECK_MSG(sn_plan_bind(&a, &store, &st) == SN_OK, "%s", st.msg);
    memcpy(sn_plan_f32(&a, a.in_buf), X, sizeof X);
    CHECK_MSG(sn_plan_run(&a, NULL, 0, 0, &st) == SN_OK, "%s", st.msg);
    float want[NB * NK];
    memcpy(want, sn_plan_f32(&a, a.out_buf), sizeof want);

    sn_bw pb, db;
    describe(&a, &pb, &db);
    sn_plan_blob_size sz;
    CHECK_MSG(sn_plan_blob_measure("tiny", pb.data, pb.len, NW, weight_info, NULL, 2, &sz, &st) ==
                  SN_OK,
              "%s", st.msg);
    CHECK_EQ_INT(sz.nbufs, a.nbufs);
    CHECK_EQ_INT(sz.nsteps, 2);
    CHECK_EQ_INT(sz.nprep, 1);
    CHECK_EQ_INT(sz.in_floats, NB * NI);
    CHECK_EQ_INT(sz.out_floats, NB * NK);
    CHECK(sz.owned == 2 * 64 && sz.arena >= a.arena_bytes && sz.tables % 64 == 0);
    size_t bytes = (size_t)(sz.tables + sz.owned + sz.arena);
    void *mem = sn_aligned_alloc(bytes);
    void *wp[NW];
    for (int i = 0; i < NW; i++) wp[i] = store.data[i];
    sn_plan b;
    CHECK_MSG(sn_plan_blob_build("tiny", pb.data, pb.len, &sz, wp, KFNS, mem, &b, &st) == SN_OK,
              "%s", st.msg);
    CHECK_MSG(sn_plan_prepare(&b, NULL, &st) == SN_OK, "%s", st.msg);
    memcpy(sn_plan_f32(&b, b.in_buf), X, sizeof X);
    CHECK_MSG(sn_plan_run(&b, NULL, 0, 0, &st) == SN_OK, "%s", st.msg);
    CHECK(memcmp(want, sn_plan_f32(&b, b.out_buf), sizeof want) == 0);
    /* one time step at a time gives the same */
    for (int t = 0; t < NT; t++)
        CHECK_MSG(sn_plan_run_time_step(&b, NULL, 0, t, &st) == SN_OK, "%s", st.msg);
    CHECK(memcmp(want, sn_plan_f32(&b, b.out_buf), sizeof want) == 0);
    CHECK(sn_plan_run_time_step(&b, NULL, 0, NT, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "time step 3 cannot run");
    sn_aligned_free(mem);

    /* a generated kernel the table does not have, a weight the model does not have */
    sn_status_init(&st);
    CHECK(sn_plan_blob_measure("tiny", pb.data, pb.len, NW, weight_info, NULL, 1, &sz, &st) ==
          SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "bad kernel index");
    sn_status_init(&st);
    CHECK(sn_plan_blob_measure("tiny", pb.data, pb.len, NW - 1, weight_info, NULL, 2, &sz, &st) ==
          SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "weight index");
    sn_bw_free(&pb);
    sn_bw_free(&db);
    sn_plan_free(&a);
}

/* every prefix and every single-byte change of a description: an error, or a plan that
 * builds inside its block */
static void test_damaged_descriptions(void) {
    sn_plan a;
    make_plan(&a);
    sn_bw pb, db;
    describe(&a, &pb, &db);
    unsigned char *copy = malloc(pb.len > db.len ? pb.len : db.len);
    int refused = 0, built = 0, huge = 0;
    void *wp[NW];
    for (int i = 0; i < NW; i++) wp[i] = store.data[i];
    for (size_t len = 0; len < pb.len; len++) {
        sn_status st;
        sn_status_init(&st);
        sn_plan_blob_size sz;
        memcpy(copy, pb.data, len);
        refused += sn_plan_blob_measure("cut", copy, len, NW, weight_info, NULL, 2, &sz, &st) ==
                   SN_ERR_INPUT;
    }
    CHECK_EQ_INT(refused, (long long)pb.len);
    int step = sn_test_quick() ? 7 : 1;
    for (size_t pos = 0; pos < pb.len; pos += (size_t)step)
        for (int flip = 0; flip < 2; flip++) {
            sn_status st;
            sn_status_init(&st);
            memcpy(copy, pb.data, pb.len);
            copy[pos] ^= flip ? 0x80 : 0x01;
            sn_plan_blob_size sz;
            if (sn_plan_blob_measure("flip", copy, pb.len, NW, weight_info, NULL, 2, &sz, &st)) {
                CHECK(st.code == SN_ERR_INPUT && strstr(st.msg, "damaged") != NULL);
                continue;
            }
            /* still consistent: it must build within what was measured */
            size_t bytes = (size_t)(sz.tables + sz.owned + sz.arena);
            if (bytes > ((size_t)1 << 26)) { /* a huge arena: create would refuse to map it */
                huge++;
                continue;
            }
            void *mem = malloc(bytes ? bytes : 1);
            CHECK(mem != NULL);
            if (!mem) continue;
            sn_plan b;
            CHECK(sn_plan_blob_build("flip", copy, pb.len, &sz, wp, KFNS, mem, &b, &st) == SN_OK);
            for (int i = 0; i < b.nbufs; i++)
                if (b.bufs[i].kind != SN_BUF_WEIGHT)
                    CHECK((char *)b.bufs[i].ptr >= (char *)mem &&
                          (char *)b.bufs[i].ptr + b.bufs[i].bytes <= (char *)mem + bytes);
            free(mem);
            built++;
        }
    /* the model description likewise */
    int drefused = 0;
    for (size_t len = 0; len < db.len; len++) {
        sn_status st;
        sn_status_init(&st);
        snrt_desc d;
        memcpy(copy, db.data, len);
        drefused += snrt_desc_parse("cut", copy, len, &d, &st) == SN_ERR_INPUT;
    }
    CHECK_EQ_INT(drefused, (long long)db.len);
    fprintf(stderr,
            "  %zu plan prefixes refused; %d corrupted plans still consistent built in place "
            "(%d more claim a huge arena); %zu description prefixes refused\n",
            pb.len, built, huge, db.len);
    free(copy);
    sn_bw_free(&pb);
    sn_bw_free(&db);
    sn_plan_free(&a);
}

/* the snrt_* API on a model assembled here as snnc's glue would */
static void test_runtime_api(void) {
    sn_plan a;
    make_plan(&a);
    sn_bw pb, db;
    describe(&a, &pb, &db);
    sn_dtype dts[NW];
    sn_shape shs[NW];
    for (int i = 0; i < NW; i++) {
        dts[i] = SN_F32;
        shs[i] = pdesc[i].shape;
    }
    uint64_t wbytes = snrt_desc_weight_total(dts, shs, NW);
    unsigned char *wdata = sn_aligned_alloc((size_t)wbytes);
    for (int i = 0; i < NW; i++)
        memcpy(wdata + snrt_desc_weight_offset(dts, shs, i), store.data[i],
               (size_t)sn_shape_numel(&shs[i]) * 4);
    const sn_cpu_fn *tables[1] = {KFNS};
    snrt_model m = {SNRT_MODEL_MAGIC,
                    sizeof(snrt_model),
                    db.data,
                    db.len,
                    sn_hash64(SN_HASH_INIT, db.data, db.len),
                    wdata,
                    wbytes,
                    1,
                    tables};
    snrt_info info;
    CHECK(snrt_get_info(&m, &info) == SNRT_OK);
    CHECK(info.batch == NB && info.classes == NK && info.time_steps == NT && info.streaming == 1 &&
          info.image_floats == NI && !strcmp(info.name, "tiny"));
    CHECK(snrt_context_bytes(&m, 0, 0) > 0 && snrt_context_bytes(&m, 1, 0) == 0);

    char err[512];
    snrt_ctx *c = NULL;
    snrt_options o = {1, NULL, NULL};
    CHECK_MSG(snrt_create(&m, &c, &o, err, sizeof err) == SNRT_OK, "%s", err);
    float y[NB * NK], want[NB * NK];
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_plan_bind(&a, &store, &st) == SN_OK);
    memcpy(sn_plan_f32(&a, a.in_buf), X, sizeof X);
    CHECK(sn_plan_run(&a, NULL, 0, 0, &st) == SN_OK);
    memcpy(want, sn_plan_f32(&a, a.out_buf), sizeof want);
    CHECK(snrt_run(c, X, NB * NI, y, NB * NK) == SNRT_OK);
    CHECK(memcmp(y, want, sizeof y) == 0);
    CHECK(!strcmp(snrt_variant(c), "any"));
    /* streaming */
    CHECK(snrt_step(c, X, NB * NI, y, NB * NK) == SNRT_ERR_STATE); /* the run finished NT steps */
    CHECK(snrt_reset(c) == SNRT_OK);
    for (int t = 0; t < NT; t++) CHECK(snrt_step(c, X, NB * NI, y, NB * NK) == SNRT_OK);
    CHECK(memcmp(y, want, sizeof y) == 0);
    CHECK(snrt_step(c, X, NB * NI, y, NB * NK) == SNRT_ERR_STATE);
    CHECK_CONTAINS(snrt_error(c), "tiny_reset starts a new sequence");
    /* one image of two: its scores equal the first row of the full batch */
    float y1[NK];
    CHECK(snrt_run(c, X, NI, y1, NK) == SNRT_OK);
    CHECK(memcmp(y1, want, sizeof y1) == 0);
    /* sizes and pointers */
    CHECK(snrt_run(c, X, NB * NI + NI, y, NB * NK + NK) == SNRT_ERR_SIZE);
    CHECK_CONTAINS(snrt_error(c), "1 <= n <= 2");
    CHECK(snrt_run(c, X, NB * NI, y, NB * NK - 1) == SNRT_ERR_SIZE);
    CHECK(snrt_run(c, NULL, NB * NI, y, NB * NK) == SNRT_ERR_ARG);
    CHECK(snrt_run(NULL, X, NB * NI, y, NB * NK) == SNRT_ERR_ARG);
    /* bad input values */
    float bad[NB * NI];
    memcpy(bad, X, sizeof bad);
    bad[5] = 1000.0f;
    CHECK(snrt_run(c, bad, NB * NI, y, NB * NK) == SNRT_ERR_INPUT);
    CHECK_CONTAINS(snrt_error(c), "outside the range");
    /* preprocessing: uint8 4x4 images centre-cropped to 2x2, scaled by 1/255 */
    uint8_t img[2 * 16];
    for (int i = 0; i < 32; i++) img[i] = (uint8_t)(i * 8);
    float px[2 * NI];
    CHECK(snrt_preprocess(c, img, 2, 1, 4, 4, px, 2 * NI) == SNRT_OK);
    CHECK(px[0] == (float)img[5] * (1.0f / 255.0f) && px[3] == (float)img[10] * (1.0f / 255.0f));
    CHECK(snrt_preprocess(c, img, 2, 3, 4, 4, px, 2 * NI) == SNRT_ERR_SIZE);
    snrt_free(c);
    snrt_free(NULL);

    /* create: damaged libraries, bad options, CPUs */
    snrt_model bad_m = m;
    bad_m.desc_hash ^= 1;
    CHECK(snrt_create(&bad_m, &c, &o, err, sizeof err) == SNRT_ERR_ARTIFACT && c == NULL);
    CHECK_CONTAINS(err, "checksum");
    bad_m = m;
    bad_m.struct_size = 8;
    CHECK(snrt_create(&bad_m, &c, &o, err, sizeof err) == SNRT_ERR_ARTIFACT);
    bad_m = m;
    bad_m.weights_size = 4;
    CHECK(snrt_create(&bad_m, &c, &o, err, sizeof err) == SNRT_ERR_ARTIFACT);
    CHECK(snrt_create(&m, NULL, &o, err, sizeof err) == SNRT_ERR_ARG);
    snrt_options ov = {1, NULL, "avx9000"};
    CHECK(snrt_create(&m, &c, &ov, err, sizeof err) == SNRT_ERR_ARG);
    CHECK_CONTAINS(err, "the artifact holds: any");
    bad_m = m;
    bad_m.weights = NULL;
    CHECK(snrt_create(&bad_m, &c, &o, err, sizeof err) == SNRT_ERR_WEIGHTS);
    CHECK_CONTAINS(err, "holds no weights");

    /* a variant needing a feature no CPU has is never chosen */
    sn_bw db2;
    sn_bw_init(&db2);
    snrt_desc d;
    sn_status_init(&st);
    CHECK(snrt_desc_parse("tiny", db.data, db.len, &d, &st) == SN_OK);
    snrt_desc_in in;
    memset(&in, 0, sizeof in);
    in.name = "tiny";
    in.batch = NB;
    in.channels = 1;
    in.height = 2;
    in.width = 2;
    in.classes = NK;
    in.T = NT;
    in.step_major = 1;
    in.tf = d.tf;
    in.nweights = NW;
    in.weight_names = WNAMES;
    in.weight_dtypes = dts;
    in.weight_shapes = shs;
    in.nvariants = 1;
    in.variants[0] = (snrt_variant_desc){"future", "x", "y", (uint64_t)1 << 63, 2, pb.data, pb.len};
    CHECK(snrt_desc_write(&in, &db2, &st) == SN_OK);
    snrt_model fm = m;
    fm.desc = db2.data;
    fm.desc_size = db2.len;
    fm.desc_hash = sn_hash64(SN_HASH_INIT, db2.data, db2.len);
    CHECK(snrt_create(&fm, &c, &o, err, sizeof err) == SNRT_ERR_CPU);
    CHECK_CONTAINS(err, "no variant of the artifact runs on this CPU");
    sn_bw_free(&db2);

    sn_aligned_free(wdata);
    sn_bw_free(&pb);
    sn_bw_free(&db);
    sn_plan_free(&a);
}

static void test_cpu_features(void) {
    uint64_t m = sn_cpu_features_parse("+avx512vnni");
    CHECK(m & ((uint64_t)1 << SN_CPUF_AVX512F));
    CHECK(m & ((uint64_t)1 << SN_CPUF_AVX2));
    CHECK(m & ((uint64_t)1 << SN_CPUF_SSE42));
    m = sn_cpu_features_parse("+avx512vnni,+avx512bw,+fma,-avx2");
    CHECK(!(m & ((uint64_t)1 << SN_CPUF_AVX512VNNI)) && !(m & ((uint64_t)1 << SN_CPUF_AVX512F)) &&
          !(m & ((uint64_t)1 << SN_CPUF_AVX512BW)));
    CHECK(m & ((uint64_t)1 << SN_CPUF_FMA));
    CHECK(sn_cpu_features_parse("+cmov,+sse2,+unknown-thing") == 0);
    char s[256];
    CHECK(
        !strcmp(sn_cpu_features_str(((uint64_t)1 << SN_CPUF_AVX2) | 1, s, sizeof s), "sse3,avx2"));
    CHECK(sn_cpu_feature_from_name("avx512fp16") == SN_CPUF_AVX512FP16);
    /* the host mask agrees with the compiler's own view */
    uint64_t h = sn_cpu_host_features();
#if defined(__x86_64__)
    __builtin_cpu_init();
    CHECK(!!(h & ((uint64_t)1 << SN_CPUF_AVX2)) == !!__builtin_cpu_supports("avx2"));
    CHECK(!!(h & ((uint64_t)1 << SN_CPUF_FMA)) == !!__builtin_cpu_supports("fma"));
    CHECK(!!(h & ((uint64_t)1 << SN_CPUF_AVX512F)) == !!__builtin_cpu_supports("avx512f"));
    CHECK(!!(h & ((uint64_t)1 << SN_CPUF_SSE42)) == !!__builtin_cpu_supports("sse4.2"));
    CHECK(!!(h & ((uint64_t)1 << SN_CPUF_BMI2)) == !!__builtin_cpu_supports("bmi2"));
#endif
}

int main(void) {
    make_weights();
    RUN(test_plan_round_trip);
    RUN(test_damaged_descriptions);
    RUN(test_runtime_api);
    RUN(test_cpu_features);
    sn_weights_free(&store);
    return sn_test_result();
}
