/* NIR interchange (compiler/interchange, runtime/io/nir_*): import, export, round trips.
 *
 *  - malformed graphs, built in memory (and, with libhdf5, also written to files and read
 *    back): each is rejected with a message that names the node and the field;
 *  - the committed malformed files (tests/corpus/nir, made by make_nir_corpus.py): rules of
 *    the file format;
 *  - grouped, dilated and 'same'-padded convolutions import as dense equivalents that give
 *    PyTorch's results (checked against a direct loop here);
 *  - the real files of ../shared/data/nir (skipped when that folder is absent): Norse's LIF
 *    trace is reproduced (spikes exactly, the potential to float rounding), snnTorch's is the
 *    same up to its scale; the Sinabs CNN and the two-neuron graph import and run;
 *  - round trips: snnc models exported and imported again give bit-identical outputs
 *    (lif_fc_mnist, a rate-converted IF network, an exactly converted threshold-unit network,
 *    a network of nir_* layers), and the written files follow the reference reader's rules
 *    (checked on the HDF5 structure: groups, datasets, dtypes, shapes, no attributes). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef SNNC_HAVE_HDF5
#include <hdf5.h>
#endif

#include "check.h"
#include "compiler/driver/session.h"
#include "compiler/interchange/nir.h"
#include "compiler/ir/build.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/cpu/layout.h"
#include "runtime/io/nir_doc.h"

#define SHARED_NIR SNNC_SOURCE_DIR "/../shared/data/nir"

/* ---- building documents ---------------------------------------------------------------- */

static sn_status g_st;

static sn_nir_node *node(sn_nir_doc *d, const char *key, const char *type) {
    return sn_nir_add_node(&d->g, key, type, &g_st);
}
static void edge(sn_nir_doc *d, const char *a, const char *b) {
    sn_nir_add_edge(&d->g, a, b, &g_st);
}
/* A float32 array of `n` values v0, v0 + step, ... (rank 1, or dims given) */
static void farr(sn_nir_node *n, const char *name, int rank, const int64_t *dims, float v0,
                 float step) {
    int64_t cnt = 1;
    for (int i = 0; i < rank; i++) cnt *= dims[i];
    float *v = calloc((size_t)(cnt ? cnt : 1), sizeof *v);
    for (int64_t i = 0; i < cnt; i++) v[i] = v0 + step * (float)i;
    sn_nir_add_floats(&n->fields, &n->nfields, name, 32, rank, dims, v, &g_st);
    free(v);
}
static void f1(sn_nir_node *n, const char *name, int64_t len, float v) {
    farr(n, name, 1, &len, v, 0.0f);
}
static void ishape(sn_nir_node *n, const char *name, int rank, const int64_t *v) {
    int64_t d[1] = {rank};
    sn_nir_add_ints(&n->fields, &n->nfields, name, 1, d, v, &g_st);
}
static void iscalar(sn_nir_node *n, const char *name, int64_t v) {
    sn_nir_add_ints(&n->fields, &n->nfields, name, 0, NULL, &v, &g_st);
}
static void pair(sn_nir_node *n, const char *name, int64_t a, int64_t b) {
    int64_t v[2] = {a, b};
    ishape(n, name, 2, v);
}
static sn_nir_node *lif(sn_nir_doc *d, const char *key, int64_t n, float tau) {
    sn_nir_node *x = node(d, key, "LIF");
    f1(x, "tau", n, tau);
    f1(x, "r", n, 1.0f);
    f1(x, "v_leak", n, 0.0f);
    f1(x, "v_threshold", n, 1.0f);
    f1(x, "v_reset", n, 0.0f);
    return x;
}

/* input [3] -> fc (Affine 2x3) -> lif (2) -> output [2] */
static void base_doc(sn_nir_doc *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->source, sizeof d->source, "mem.nir");
    snprintf(d->version, sizeof d->version, "1.0.7");
    int64_t three = 3, two = 2, w[2] = {2, 3};
    ishape(node(d, "input", "Input"), "shape", 1, &three);
    sn_nir_node *fc = node(d, "fc", "Affine");
    farr(fc, "weight", 2, w, 0.1f, 0.1f);
    f1(fc, "bias", 2, 0.5f);
    lif(d, "lif", 2, 0.01f);
    ishape(node(d, "output", "Output"), "shape", 1, &two);
    edge(d, "input", "fc");
    edge(d, "fc", "lif");
    edge(d, "lif", "output");
}

static sn_nir_field *fieldp(sn_nir_doc *d, const char *key, const char *name) {
    sn_nir_node *n = sn_nir_find_node(&d->g, key);
    for (int i = 0; n && i < n->nfields; i++)
        if (!strcmp(n->fields[i].name, name)) return &n->fields[i];
    return NULL;
}
static void drop_field(sn_nir_doc *d, const char *key, const char *name) {
    sn_nir_node *n = sn_nir_find_node(&d->g, key);
    for (int i = 0; n && i < n->nfields; i++)
        if (!strcmp(n->fields[i].name, name)) {
            sn_nir_field_free(&n->fields[i]);
            n->fields[i] = n->fields[--n->nfields];
            return;
        }
}

/* ---- malformed graphs ------------------------------------------------------------------ */

typedef void (*mutate_fn)(sn_nir_doc *d);

static void m_nan_tau(sn_nir_doc *d) {
    fieldp(d, "lif", "tau")->f[1] = NAN;
}
static void m_neg_tau(sn_nir_doc *d) {
    fieldp(d, "lif", "tau")->f[0] = -0.5;
}
static void m_inf_weight(sn_nir_doc *d) {
    fieldp(d, "fc", "weight")->f[3] = INFINITY;
}
static void m_no_threshold(sn_nir_doc *d) {
    drop_field(d, "lif", "v_threshold");
}
static void m_typo_field(sn_nir_doc *d) {
    sn_nir_node *n = sn_nir_find_node(&d->g, "lif");
    f1(n, "v_treshold", 2, 1.0f);
}
static void m_string_param(sn_nir_doc *d) {
    drop_field(d, "lif", "r");
    sn_nir_node *n = sn_nir_find_node(&d->g, "lif");
    sn_nir_add_string(&n->fields, &n->nfields, "r", "one", &g_st);
}
static void m_lif_shape(sn_nir_doc *d) {
    drop_field(d, "lif", "v_leak");
    f1(sn_nir_find_node(&d->g, "lif"), "v_leak", 3, 0.0f);
}
static void m_affine_chain(sn_nir_doc *d) {
    drop_field(d, "fc", "weight");
    int64_t w[2] = {2, 4};
    farr(sn_nir_find_node(&d->g, "fc"), "weight", 2, w, 0, 0);
}
static void m_bias_len(sn_nir_doc *d) {
    drop_field(d, "fc", "bias");
    f1(sn_nir_find_node(&d->g, "fc"), "bias", 5, 0);
}
static void m_output_shape(sn_nir_doc *d) {
    fieldp(d, "output", "shape")->f[0] = 7;
    fieldp(d, "output", "shape")->i[0] = 7;
}
static void m_unknown_type(sn_nir_doc *d) {
    snprintf(sn_nir_find_node(&d->g, "lif")->type, 64, "Izhikevich");
}
static void m_cubalif(sn_nir_doc *d) {
    snprintf(sn_nir_find_node(&d->g, "lif")->type, 64, "CubaLIF");
}
static void m_delay(sn_nir_doc *d) {
    snprintf(sn_nir_find_node(&d->g, "lif")->type, 64, "Delay");
}
static void m_recurrent(sn_nir_doc *d) {
    edge(d, "lif", "fc");
}
static void m_self_loop(sn_nir_doc *d) {
    edge(d, "lif", "lif");
}
static void m_edge_missing(sn_nir_doc *d) {
    edge(d, "lif", "nowhere");
}
static void m_no_input(sn_nir_doc *d) {
    snprintf(sn_nir_find_node(&d->g, "input")->type, 64, "Scale");
}
static void m_two_outputs(sn_nir_doc *d) {
    int64_t two = 2;
    ishape(node(d, "out2", "Output"), "shape", 1, &two);
    edge(d, "lif", "out2");
}
static void m_stray(sn_nir_doc *d) {
    lif(d, "stray", 2, 0.01f);
}
static void m_fan_in(sn_nir_doc *d) {
    edge(d, "input", "lif");
}
static void m_input_rank2(sn_nir_doc *d) {
    int64_t s[2] = {3, 1};
    drop_field(d, "input", "shape");
    ishape(sn_nir_find_node(&d->g, "input"), "shape", 2, s);
}
static void m_dup_key(sn_nir_doc *d) {
    lif(d, "fc", 2, 0.01f);
}
static void m_flatten_partial(sn_nir_doc *d) {
    /* input [2, 3, 4]: flatten dims 1..1 is a no-op; 0..1 gives [6, 4] */
    int64_t s[3] = {2, 3, 4};
    sn_nir_field *f = fieldp(d, "input", "shape");
    sn_nir_field_free(f);
    sn_nir_node *in = sn_nir_find_node(&d->g, "input");
    in->nfields = 0;
    ishape(in, "shape", 3, s);
    sn_nir_node *fl = node(d, "flat", "Flatten");
    iscalar(fl, "start_dim", 0);
    iscalar(fl, "end_dim", 1);
    d->g.edges[0].dst[0] = '\0';
    snprintf(d->g.edges[0].dst, SN_NIR_KEY_MAX, "flat");
    edge(d, "flat", "fc");
}
static void m_pool_padding(sn_nir_doc *d) {
    int64_t s[3] = {2, 6, 6};
    sn_nir_node *in = sn_nir_find_node(&d->g, "input");
    sn_nir_field_free(&in->fields[0]);
    in->nfields = 0;
    ishape(in, "shape", 3, s);
    sn_nir_node *p = node(d, "pool", "SumPool2d");
    pair(p, "kernel_size", 2, 2);
    pair(p, "stride", 2, 2);
    pair(p, "padding", 2, 0);
    snprintf(d->g.edges[0].dst, SN_NIR_KEY_MAX, "pool");
    edge(d, "pool", "fc");
}
static void m_conv_input_shape(sn_nir_doc *d) {
    int64_t s[3] = {2, 6, 6};
    sn_nir_node *in = sn_nir_find_node(&d->g, "input");
    sn_nir_field_free(&in->fields[0]);
    in->nfields = 0;
    ishape(in, "shape", 3, s);
    sn_nir_node *c = node(d, "conv", "Conv2d");
    int64_t w[4] = {3, 2, 3, 3};
    farr(c, "weight", 4, w, 0.0f, 0.01f);
    f1(c, "bias", 3, 0.0f);
    pair(c, "stride", 1, 1);
    pair(c, "padding", 1, 1);
    pair(c, "dilation", 1, 1);
    iscalar(c, "groups", 1);
    pair(c, "input_shape", 6, 5);
    snprintf(d->g.edges[0].dst, SN_NIR_KEY_MAX, "conv");
    edge(d, "conv", "fc");
}
static void m_no_dt(sn_nir_doc *d) {
    (void)d;
}

typedef struct bad_doc {
    const char *name;
    mutate_fn mutate;
    double dt;
    const char *expect1, *expect2;
} bad_doc;

static const bad_doc BAD[] = {
    {"nan_tau", m_nan_tau, 1e-4, "node 'lif' (LIF): field 'tau'", "is NaN"},
    {"negative_tau", m_neg_tau, 1e-4, "node 'lif' (LIF): field 'tau'", "must be > 0"},
    {"inf_weight", m_inf_weight, 1e-4, "node 'fc' (Affine): field 'weight'", "infinite"},
    {"missing_threshold", m_no_threshold, 1e-4, "node 'lif' (LIF): field 'v_threshold'", "missing"},
    {"unknown_field", m_typo_field, 1e-4, "node 'lif' (LIF): field 'v_treshold'",
     "did you mean 'v_threshold'"},
    {"string_param", m_string_param, 1e-4, "node 'lif' (LIF): field 'r'", "expected numbers"},
    {"lif_shape", m_lif_shape, 1e-4, "node 'lif' (LIF): field 'v_leak'", "do not chain"},
    {"affine_chain", m_affine_chain, 1e-4, "node 'fc' (Affine): field 'weight'", "do not chain"},
    {"bias_len", m_bias_len, 1e-4, "node 'fc' (Affine): field 'bias'", "does not match"},
    {"output_shape", m_output_shape, 1e-4, "node 'output' (Output): field 'shape'",
     "does not match the shape [2]"},
    {"unknown_type", m_unknown_type, 1e-4, "node 'lif' (Izhikevich)", "unknown node type"},
    {"cubalif", m_cubalif, 1e-4, "node 'lif' (CubaLIF)", "current-based neurons"},
    {"delay", m_delay, 1e-4, "node 'lif' (Delay)", "delays are not supported"},
    {"recurrent", m_recurrent, 1e-4, "node 'fc' (Affine)", "through edge 'lif' -> 'fc'"},
    {"self_loop", m_self_loop, 1e-4, "node 'lif' (LIF)", "recurrent"},
    {"edge_to_missing_node", m_edge_missing, 1e-4, "'nowhere'", "does not exist"},
    {"no_input", m_no_input, 1e-4, "no Input node", "mem.nir"},
    {"two_outputs", m_two_outputs, 1e-4, "two Output nodes", "'out2'"},
    {"stray_node", m_stray, 1e-4, "node 'stray' (LIF)", "not on the path"},
    {"fan_out", m_fan_in, 1e-4, "node 'input' (Input)", "feeds 2 nodes"},
    {"input_rank2", m_input_rank2, 1e-4, "node 'input' (Input): field 'shape'", "[C, H, W]"},
    {"duplicate_key", m_dup_key, 1e-4, "two nodes are named 'fc'", "mem.nir"},
    {"partial_flatten", m_flatten_partial, 1e-4, "node 'flat' (Flatten)", "multi-dimensional"},
    {"pool_padding", m_pool_padding, 1e-4, "node 'pool' (SumPool2d): field 'padding'",
     "more than half"},
    {"conv_input_shape", m_conv_input_shape, 1e-4, "node 'conv' (Conv2d): field 'input_shape'",
     "do not chain"},
    {"no_dt", m_no_dt, 0.0, "LIF/LI nodes", "--dt"},
};

static void test_malformed_docs(void) {
    for (size_t i = 0; i < SN_ARRAY_LEN(BAD); i++) {
        const bad_doc *b = &BAD[i];
        sn_status_init(&g_st);
        sn_nir_doc d;
        base_doc(&d);
        b->mutate(&d);
        CHECK_EQ_INT(g_st.code, SN_OK);
        sn_nir_import_opts o = {.dt = b->dt, .T = 4, .name = b->name};
        sn_nir_imported m;
        sn_status st;
        sn_status_init(&st);
        CHECK_MSG(sn_nir_import(&d, &o, "m.yaml", &m, &st) == SN_ERR_INPUT, "%s: %s", b->name,
                  st.msg);
        CHECK_CONTAINS(st.msg, b->expect1);
        CHECK_CONTAINS(st.msg, b->expect2);
#ifdef SNNC_HAVE_HDF5
        /* the same through a file: written, read back, rejected alike (except the documents a
         * file cannot hold: a NaN survives, duplicate keys do not) */
        if (strcmp(b->name, "duplicate_key") != 0) {
            char path[1024];
            sn_fmt(path, sizeof path, "%s/%s.nir", sn_test_tmpdir(), b->name);
            sn_status ws;
            sn_status_init(&ws);
            CHECK_EQ_INT(sn_nir_write(path, &d, &ws), SN_OK);
            sn_nir_doc r;
            CHECK_EQ_INT(sn_nir_read(path, &r, &ws), SN_OK);
            sn_status_init(&st);
            CHECK_MSG(sn_nir_import(&r, &o, "m.yaml", &m, &st) == SN_ERR_INPUT, "%s (file)",
                      b->name);
            CHECK_CONTAINS(st.msg, b->expect1);
            CHECK_CONTAINS(st.msg, path);
            sn_nir_doc_free(&r);
        }
#endif
        sn_nir_doc_free(&d);
    }
    /* and the valid base document imports */
    sn_status_init(&g_st);
    sn_nir_doc d;
    base_doc(&d);
    sn_nir_import_opts o = {.dt = 1e-4, .T = 4, .name = "base"};
    sn_nir_imported m;
    CHECK_EQ_INT(sn_nir_import(&d, &o, "m.yaml", &m, &g_st), SN_OK);
    CHECK_CONTAINS(sn_sb_cstr(&m.yaml),
                   "nir_lif: {dt: 0.0001, discretization: euler, reset: value}");
    sn_nir_imported_free(&m);
    sn_nir_doc_free(&d);
}

/* The committed malformed files: rules of the file format. */
static void test_malformed_files(void) {
#ifdef SNNC_HAVE_HDF5
    static const char *const cases[][2] = {
        {"not_hdf5.nir", "not an HDF5 file"},
        {"truncated.nir", "cannot open the file"},
        {"no_node_group.nir", "no '/node' group"},
        {"top_not_a_graph.nir", "the top node is a LIF"},
        {"missing_type.nir", "/node/nodes/lif: the group has no 'type' dataset"},
        {"edges_numbers.nir", "/node/edges: expected an E x 2 array of strings"},
        {"lif_bool_r.nir", "/node/nodes/lif/r: unsupported HDF5 datatype"},
        {"nested_graph.nir", "node 'sub' (NIRGraph): cannot be imported: nested graphs"},
    };
    for (size_t i = 0; i < SN_ARRAY_LEN(cases); i++) {
        char path[1024];
        sn_fmt(path, sizeof path, "%s/corpus/nir/%s", SNNC_TEST_DIR, cases[i][0]);
        sn_status st;
        sn_status_init(&st);
        sn_nir_doc d;
        sn_code c = sn_nir_read(path, &d, &st);
        if (!c) {
            sn_nir_import_opts o = {.dt = 1e-4, .T = 4, .name = "x"};
            sn_nir_imported m;
            c = sn_nir_import(&d, &o, "m.yaml", &m, &st);
            if (!c) sn_nir_imported_free(&m);
        }
        sn_nir_doc_free(&d);
        CHECK_MSG(c == SN_ERR_INPUT, "%s: %s", cases[i][0], st.msg);
        CHECK_CONTAINS(st.msg, cases[i][1]);
        CHECK_CONTAINS(st.msg, cases[i][0]);
    }
#else
    fprintf(stderr, "  (built without HDF5: file tests skipped)\n");
#endif
}

/* ---- running imported models ----------------------------------------------------------- */

/* Runs spec on x [T][N][E] (a recorded sequence): readout [N][K]; the per-step output (and
 * potential, when v is not NULL) of layer `rec` into y / v, [T][N][layer elements]. */
static sn_code run_seq(const sn_model_spec *spec, const sn_weights *w, sn_target target, int T,
                       int N, const float *x, float *readout, const char *rec, float *y, float *v,
                       sn_status *st) {
    sn_graph g;
    sn_plan plan;
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_plan_init(&plan);
    const char *names[1] = {rec};
    sn_build_opts bo = {.batch = N, .T = T, .sequence = 1, .record = names, .nrecord = rec ? 1 : 0};
    if (sn_graph_build(spec, &bo, &g, st) || sn_graph_verify(&g, st)) return st->code;
    int bufs[2] = {-1, -1}, ts[2] = {-1, -1};
    if (sn_session_lower(&g, target, 1, 0, &plan, &be, st)) goto done;
    for (int i = 0; rec && i < g.nnodes; i++)
        if (!strcmp(g.nodes[i].name, rec))
            for (int o = 0; o < g.nodes[i].nout && o < 2; o++) {
                ts[o] = g.nodes[i].out[o];
                bufs[o] = sn_plan_find_buffer(&plan, g.tensors[ts[o]].name);
                if (bufs[o] >= 0) plan.bufs[bufs[o]].keep = 1;
            }
    if (rec && bufs[0] < 0) {
        sn_fail(st, SN_ERR_RUNTIME, "test: no buffer for %s", rec);
        goto done;
    }
    sn_plan_memplan(&plan);
    sn_weights wc = *w;
    if (sn_plan_bind(&plan, &wc, st)) goto done;
    int64_t in_n = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
    float *in = sn_plan_f32(&plan, plan.in_buf);
    memcpy(in, x, (size_t)in_n * sizeof(float));
    /* the direct encoder's scale, as snnc snn --input applies it */
    float sc = spec->snn.encoder == SN_ENC_DIRECT ? spec->snn.input_scale : 1.0f;
    if (sc != 1.0f && sc != 0.0f)
        for (int64_t i = 0; i < in_n; i++) in[i] *= sc;
    if (sn_plan_run(&plan, NULL, 1, 0, st)) goto done;
    memcpy(readout, sn_plan_f32(&plan, plan.out_buf),
           (size_t)N * (size_t)plan.num_classes * sizeof(float));
    for (int o = 0; o < 2; o++) {
        float *dst = o ? v : y;
        if (!dst || bufs[o] < 0) continue;
        const sn_tensor *t = &g.tensors[ts[o]];
        int C, H, W;
        sn_tensor_dims(t, &C, &H, &W);
        sn_cpu_layout l = sn_lay_parse(plan.bufs[bufs[o]].layout, C, H, W);
        const float *p = plan.bufs[bufs[o]].ptr;
        for (int64_t img = 0; img < (int64_t)T * N; img++)
            for (int c = 0; c < C; c++)
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++)
                        dst[((img * C + c) * H + yy) * W + xx] =
                            p[img * sn_lay_image(&l) + sn_lay_at(&l, c, yy, xx)];
    }
done:
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    return st->code;
}

static int n_targets(sn_target *t) {
    int n = 0;
    t[n++] = SN_TARGET_REF;
#ifdef SNNC_HAVE_LLVM
    t[n++] = SN_TARGET_CPU;
#endif
    return n;
}

/* ---- convolutions: dense equivalents ---------------------------------------------------- */

/* PyTorch's conv2d with groups, dilation and (top/left, bottom/right) padding. */
static void torch_conv(const float *x, int C, int H, int W, const float *w, const float *b, int O,
                       int KH, int KW, int groups, int sh, int sw, int dh, int dw, int pt, int pl,
                       int OH, int OW, float *y) {
    int Cg = C / groups, Og = O / groups;
    for (int o = 0; o < O; o++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = b ? b[o] : 0.0;
                int g = o / Og;
                for (int cg = 0; cg < Cg; cg++)
                    for (int kh = 0; kh < KH; kh++)
                        for (int kw = 0; kw < KW; kw++) {
                            int ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            acc += (double)x[((g * Cg + cg) * H + ih) * W + iw] *
                                   w[((o * Cg + cg) * KH + kh) * KW + kw];
                        }
                y[(o * OH + oh) * OW + ow] = (float)acc;
            }
}

static void conv_case(int C, int H, int W, int O, int KH, int KW, int groups, int sh, int sw,
                      int dh, int dw, const char *padding_word, int ph, int pw, int with_bias) {
    sn_status_init(&g_st);
    sn_nir_doc d;
    memset(&d, 0, sizeof d);
    snprintf(d.source, sizeof d.source, "conv.nir");
    int64_t s[3] = {C, H, W};
    ishape(node(&d, "input", "Input"), "shape", 3, s);
    sn_nir_node *c = node(&d, "conv", "Conv2d");
    int64_t wd[4] = {O, C / groups, KH, KW};
    sn_rng r;
    sn_rng_seed(&r, (uint64_t)(C * 131 + O));
    int64_t nw = wd[0] * wd[1] * KH * KW;
    float *w = malloc((size_t)nw * sizeof *w), *b = malloc((size_t)O * sizeof *b);
    for (int64_t i = 0; i < nw; i++) w[i] = sn_rng_uniform(&r) - 0.5f;
    for (int i = 0; i < O; i++) b[i] = sn_rng_uniform(&r) - 0.5f;
    sn_nir_add_floats(&c->fields, &c->nfields, "weight", 32, 4, wd, w, &g_st);
    if (with_bias) {
        int64_t ob = O;
        sn_nir_add_floats(&c->fields, &c->nfields, "bias", 32, 1, &ob, b, &g_st);
    }
    pair(c, "stride", sh, sw);
    pair(c, "dilation", dh, dw);
    iscalar(c, "groups", groups);
    if (padding_word)
        sn_nir_add_string(&c->fields, &c->nfields, "padding", padding_word, &g_st);
    else
        pair(c, "padding", ph, pw);
    /* PyTorch: 'same' puts the odd pixel of padding at the bottom / right */
    int eh = dh * (KH - 1) + 1, ew = dw * (KW - 1) + 1, pt = ph, pl = pw, pb = ph, pr = pw;
    if (padding_word && !strcmp(padding_word, "same")) {
        pt = (eh - 1) / 2;
        pb = eh - 1 - pt;
        pl = (ew - 1) / 2;
        pr = ew - 1 - pl;
    } else if (padding_word) {
        pt = pb = pl = pr = 0;
    }
    int OH = (H + pt + pb - eh) / sh + 1, OW = (W + pl + pr - ew) / sw + 1;
    int64_t os[3] = {O, OH, OW};
    ishape(node(&d, "output", "Output"), "shape", 3, os);
    edge(&d, "input", "conv");
    edge(&d, "conv", "output");
    sn_nir_import_opts o = {.T = 1, .name = "conv"};
    sn_nir_imported m;
    sn_status st;
    sn_status_init(&st);
    CHECK_MSG(sn_nir_import(&d, &o, "conv.yaml", &m, &st) == SN_OK, "%s", st.msg);
    if (!st.code) {
        int64_t E = (int64_t)C * H * W, K = (int64_t)O * OH * OW;
        float *x = malloc((size_t)E * sizeof *x), *want = malloc((size_t)K * sizeof *want);
        float *got = malloc((size_t)K * sizeof *got);
        for (int64_t i = 0; i < E; i++) x[i] = sn_rng_uniform(&r) * 2.0f - 1.0f;
        torch_conv(x, C, H, W, w, with_bias ? b : NULL, O, KH, KW, groups, sh, sw, dh, dw, pt, pl,
                   OH, OW, want);
        sn_target t[2];
        int nt = n_targets(t);
        for (int k = 0; k < nt; k++) {
            CHECK_EQ_INT(run_seq(&m.spec, &m.weights, t[k], 1, 1, x, got, NULL, NULL, NULL, &st),
                         SN_OK);
            double err = 0;
            for (int64_t i = 0; i < K; i++) err = fmax(err, fabs((double)got[i] - want[i]));
            CHECK_MSG(err < 1e-5, "groups %d dilation %dx%d padding %s: max error %g (target %d)",
                      groups, dh, dw, padding_word ? padding_word : "explicit", err, (int)t[k]);
        }
        free(x);
        free(want);
        free(got);
        sn_nir_imported_free(&m);
    }
    free(w);
    free(b);
    sn_nir_doc_free(&d);
}

static void test_conv_equivalents(void) {
    /* groups 2, dilation 2x1, 'same' with an even dilated width (asymmetric padding) */
    conv_case(4, 7, 6, 6, 3, 2, 2, 1, 1, 2, 1, "same", 0, 0, 1);
    /* depthwise (groups = channels), dilation 2, stride 2, explicit padding, no bias */
    conv_case(3, 9, 8, 3, 3, 3, 3, 2, 2, 2, 2, NULL, 2, 1, 0);
    /* 'valid', groups 3 with 2 outputs per group, an even kernel */
    conv_case(6, 6, 7, 6, 2, 4, 3, 1, 2, 1, 1, "valid", 0, 0, 1);
    /* 'same' with an even kernel and no dilation */
    conv_case(2, 5, 5, 3, 4, 4, 1, 1, 1, 1, 1, "same", 0, 0, 1);
}

/* ---- the real files ------------------------------------------------------------------- */

#ifdef SNNC_HAVE_HDF5
static int shared_file(const char *name, char *path, size_t n) {
    sn_fmt(path, n, "%s/%s", SHARED_NIR, name);
    return sn_file_exists(path);
}

/* "input, v, spike" rows */
static int read_csv(const char *path, float *in, float *v, float *s, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0;
    while (n < max && fscanf(f, "%f,%f,%f", &in[n], &v[n], &s[n]) == 3) n++;
    fclose(f);
    return n;
}
#endif

static void test_norse_trace(void) {
#ifdef SNNC_HAVE_HDF5
    char path[1024], csv[1024], csv2[1024];
    if (!shared_file("lif_norse.nir", path, sizeof path) ||
        !shared_file("lif_norse.csv", csv, sizeof csv) ||
        !shared_file("lif_snntorch.csv", csv2, sizeof csv2)) {
        fprintf(stderr, "  (%s not found: skipped)\n", SHARED_NIR);
        return;
    }
    enum { T = 1000 };
    static float in[T], v[T], s[T], in2[T], v2[T], s2[T], y[T], vv[T];
    CHECK_EQ_INT(read_csv(csv, in, v, s, T), T);
    CHECK_EQ_INT(read_csv(csv2, in2, v2, s2, T), T);
    sn_status st;
    sn_status_init(&st);
    sn_nir_doc d;
    CHECK_EQ_INT(sn_nir_read(path, &d, &st), SN_OK);
    CHECK(!strcmp(d.version, "0.1.1"));
    sn_nir_import_opts o = {.dt = 1e-4, .T = T, .name = "lif_norse"};
    sn_nir_imported m;
    CHECK_EQ_INT(sn_nir_import(&d, &o, "lif_norse.yaml", &m, &st), SN_OK);
    CHECK_CONTAINS(sn_sb_cstr(&m.notes), "has no v_reset");
    sn_target t[2];
    int nt = n_targets(t);
    for (int k = 0; k < nt && !st.code; k++) {
        float readout;
        CHECK_EQ_INT(run_seq(&m.spec, &m.weights, t[k], T, 1, in, &readout, "net.2", y, vv, &st),
                     SN_OK);
        int spikes = 0, diff = 0;
        double err = 0;
        for (int i = 0; i < T; i++) {
            spikes += y[i] != 0;
            diff += y[i] != s[i];
            err = fmax(err, fabs((double)vv[i] - v[i]));
        }
        CHECK_EQ_INT(spikes, 4);
        CHECK_EQ_INT(diff, 0);                                /* Norse's spike times, every one */
        CHECK_MSG(err < 1e-7, "max |v - v_norse| = %g", err); /* float rounding */
        /* snnTorch: the same spikes; its potential is Norse's times tau / (r dt) = 25 */
        int sdiff = 0;
        double rel = 0;
        for (int i = 0; i < T; i++) {
            sdiff += y[i] != s2[i];
            rel = fmax(rel, fabs((double)vv[i] * 25.0 - v2[i]));
        }
        CHECK_EQ_INT(sdiff, 0);
        CHECK_MSG(rel < 1e-5, "max |25 v - v_snntorch| = %g", rel);
        CHECK_CLOSE(readout, 4.0 / T, 1e-9, 0);
    }
    sn_nir_imported_free(&m);
    sn_nir_doc_free(&d);
#endif
}

static void test_sinabs_and_two_lif(void) {
#ifdef SNNC_HAVE_HDF5
    char path[1024];
    if (!shared_file("cnn_sinabs.nir", path, sizeof path)) {
        fprintf(stderr, "  (%s not found: skipped)\n", SHARED_NIR);
        return;
    }
    sn_status st;
    sn_status_init(&st);
    sn_nir_doc d;
    CHECK_EQ_INT(sn_nir_read(path, &d, &st), SN_OK);
    sn_nir_import_opts o = {.T = 8, .name = "cnn_sinabs"};
    sn_nir_imported m;
    CHECK_MSG(sn_nir_import(&d, &o, "cnn.yaml", &m, &st) == SN_OK, "%s", st.msg);
    if (!st.code) {
        /* the layer table: what each node produces */
        static const char *const want[][2] = {
            {"net.0", "[8, 2, 16, 16, 16]"}, {"net.1", "[8, 2, 16, 16, 16]"},
            {"net.4", "[8, 2, 16, 8, 8]"},   {"net.5", "[8, 2, 8, 8, 8]"},
            {"net.7", "[8, 2, 8, 4, 4]"},    {"net.8", "[8, 2, 128]"},
            {"net.9", "[8, 2, 256]"},        {"net.12", "[8, 2, 10]"}};
        sn_graph g;
        sn_build_opts bo = {.batch = 2, .T = 8, .sequence = 1};
        CHECK_EQ_INT(sn_graph_build(&m.spec, &bo, &g, &st), SN_OK);
        for (size_t i = 0; i < SN_ARRAY_LEN(want); i++) {
            int found = 0;
            for (int n = 0; n < g.nnodes; n++)
                if (!strcmp(g.nodes[n].name, want[i][0])) {
                    char b[96];
                    CHECK_CONTAINS(sn_shape_str(&g.tensors[g.nodes[n].out[0]].shape, b, sizeof b),
                                   want[i][1]);
                    found = 1;
                }
            CHECK_MSG(found, "layer %s", want[i][0]);
        }
        sn_graph_free(&g);
        /* random spike input, two samples: runs on each backend, outputs are spike rates */
        int64_t E = 2 * 34 * 34;
        float *x = malloc((size_t)(8 * 2 * E) * sizeof *x), out[2][20];
        sn_rng r;
        sn_rng_seed(&r, 5);
        for (int64_t i = 0; i < 8 * 2 * E; i++) x[i] = sn_rng_uniform(&r) < 0.3f ? 1.0f : 0.0f;
        sn_target t[2];
        int nt = n_targets(t);
        for (int k = 0; k < nt; k++) {
            CHECK_EQ_INT(run_seq(&m.spec, &m.weights, t[k], 8, 2, x, out[k], NULL, NULL, NULL, &st),
                         SN_OK);
            for (int i = 0; i < 20; i++)
                CHECK(out[k][i] >= 0.0f && out[k][i] <= 1.0f &&
                      out[k][i] * 8 == floorf(out[k][i] * 8));
        }
        free(x);
        sn_nir_imported_free(&m);
    }
    sn_nir_doc_free(&d);
    /* two LIF neurons: lif1 starts at its v_leak 1.2, above its threshold 1: it fires at once,
     * then on its own every tau ln(1.2 / 0.2) = 17.9 ms, 179 steps of forward Euler (0.99^179
     * < 1/6 < 0.99^178): 6 spikes in 100 ms */
    if (!shared_file("two_lif_neurons.nir", path, sizeof path)) return;
    CHECK_EQ_INT(sn_nir_read(path, &d, &st), SN_OK);
    sn_nir_import_opts o2 = {.dt = 1e-4, .T = 1000, .name = "two"};
    CHECK_EQ_INT(sn_nir_import(&d, &o2, "two.yaml", &m, &st), SN_OK);
    if (!st.code) {
        static float x[1000], y[1000], v[1000];
        float readout;
        CHECK_EQ_INT(
            run_seq(&m.spec, &m.weights, SN_TARGET_REF, 1000, 1, x, &readout, "net.2", y, v, &st),
            SN_OK);
        int spikes = 0, prev = -1;
        for (int i = 0; i < 1000; i++)
            if (y[i] != 0) {
                CHECK_MSG(prev < 0 ? i == 0 : i - prev == 179, "spike at step %d after %d", i,
                          prev);
                spikes++;
                prev = i;
            }
        CHECK_EQ_INT(spikes, 6);
        CHECK(readout == 0.0f); /* lif2 (threshold 20) never fires */
        sn_nir_imported_free(&m);
    }
    sn_nir_doc_free(&d);
#endif
}

/* ---- round trips ----------------------------------------------------------------------- */

static sn_code spec_from(const char *name, const char *yaml, sn_model_spec *s, sn_status *st) {
    return sn_spec_parse(name, yaml, strlen(yaml), NULL, 0, s, st);
}

/* Seeded weights; thresholds of threshold units ascending; neuron arrays varied. */
static sn_code make_weights(const sn_model_spec *s, sn_weights *w, sn_status *st) {
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(s, &bo, &g, st)) return st->code;
    sn_param_desc *d;
    int n = sn_graph_param_descs(&g, &d);
    sn_code c = sn_weights_create(w, d, n, st);
    free(d);
    sn_graph_free(&g);
    if (c) return c;
    sn_weights_init(w, SN_INITM_KAIMING_UNIFORM, 0, 3);
    sn_rng r;
    sn_rng_seed(&r, 11);
    for (int i = 0; i < w->n; i++) {
        float *p = w->data[i];
        int64_t cnt = sn_shape_numel(&w->desc[i].shape);
        const char *nm = w->desc[i].name;
        size_t len = strlen(nm);
        if (w->desc[i].role == SN_ROLE_THETA) {
            int64_t U = w->desc[i].shape.d[1];
            for (int64_t j = 0; j < cnt; j++)
                p[j] = 0.3f * (float)(j % U) + 0.05f * (float)(j / U % 5);
        } else if (len > 4 && !strcmp(nm + len - 4, ".tau")) {
            for (int64_t j = 0; j < cnt; j++) p[j] = 2e-4f + 1e-4f * sn_rng_uniform(&r);
        } else if (len > 12 && !strcmp(nm + len - 12, ".v_threshold")) {
            for (int64_t j = 0; j < cnt; j++) p[j] = 0.2f + 0.5f * sn_rng_uniform(&r);
        } else if (w->desc[i].role == SN_ROLE_ONES || w->desc[i].role == SN_ROLE_ZEROS) {
            for (int64_t j = 0; j < cnt; j++)
                p[j] = w->desc[i].role == SN_ROLE_ONES ? 0.8f + 0.4f * sn_rng_uniform(&r)
                                                       : 0.2f * (sn_rng_uniform(&r) - 0.5f);
        }
    }
    return SN_OK;
}

/* Exports (through a file when libhdf5 is there), imports, and checks the imported model
 * gives the same readout and the same output of `rec`, bit for bit, on a random input:
 * spikes of height spike_amp, or (spike_amp 0) values in [-0.5, 1.5). */
static void roundtrip(const char *what, const sn_model_spec *s, const sn_weights *w, int T, int N,
                      float spike_amp, const char *rec_orig, const char *rec_new) {
    sn_status st;
    sn_status_init(&st);
    sn_nir_doc d;
    sn_strbuf notes;
    sn_sb_init(&notes);
    sn_nir_export_opts eo = {0};
    CHECK_MSG(sn_nir_export(s, w, &eo, &d, &notes, &st) == SN_OK, "%s: %s", what, st.msg);
    if (st.code) return;
    const sn_nir_doc *src = &d;
    sn_nir_doc back;
    memset(&back, 0, sizeof back);
#ifdef SNNC_HAVE_HDF5
    char path[1024];
    sn_fmt(path, sizeof path, "%s/%s.nir", sn_test_tmpdir(), what);
    CHECK_EQ_INT(sn_nir_write(path, &d, &st), SN_OK);
    CHECK_EQ_INT(sn_nir_read(path, &back, &st), SN_OK);
    src = &back;
#endif
    sn_nir_import_opts io = {.T = T, .name = what};
    sn_nir_imported m;
    CHECK_MSG(sn_nir_import(src, &io, "rt.yaml", &m, &st) == SN_OK, "%s: %s", what, st.msg);
    if (!st.code) {
        int64_t E = (int64_t)s->in_channels * s->in_height * s->in_width;
        int64_t K = s->num_classes;
        float *x = malloc((size_t)(T * N * E) * sizeof *x);
        sn_rng r;
        sn_rng_seed(&r, 99);
        for (int64_t i = 0; i < T * N * E; i++)
            x[i] = spike_amp > 0 ? (sn_rng_uniform(&r) < 0.4f ? spike_amp : 0.0f)
                                 : 2.0f * sn_rng_uniform(&r) - 0.5f;
        float *a = calloc((size_t)(N * K), sizeof *a), *b = calloc((size_t)(N * K), sizeof *b);
        size_t tn = (size_t)(T * N * 4096);
        float *ya = calloc(tn, sizeof *ya), *yb = calloc(tn, sizeof *yb);
        float *va = calloc(tn, sizeof *va), *vb = calloc(tn, sizeof *vb);
        sn_target t[2];
        int nt = n_targets(t);
        for (int k = 0; k < nt; k++) {
            CHECK_EQ_INT(run_seq(s, w, t[k], T, N, x, a, rec_orig, ya, va, &st), SN_OK);
            CHECK_EQ_INT(run_seq(&m.spec, &m.weights, t[k], T, N, x, b, rec_new, yb, vb, &st),
                         SN_OK);
            CHECK_MSG(memcmp(a, b, (size_t)(N * K) * sizeof *a) == 0,
                      "%s (target %d): the imported model's readout differs", what, (int)t[k]);
            if (rec_orig) {
                CHECK_MSG(memcmp(ya, yb, tn * sizeof *ya) == 0,
                          "%s: the output of %s differs from %s's", what, rec_new, rec_orig);
                /* the recorded membrane potentials too (snnc's if/lif against nir_if/nir_lif) */
                CHECK_MSG(memcmp(va, vb, tn * sizeof *va) == 0,
                          "%s: the potentials of %s differ from %s's", what, rec_new, rec_orig);
            }
            double sum = 0;
            for (int64_t i = 0; i < N * K; i++) sum += fabs(a[i]);
            CHECK_MSG(sum > 0, "%s: the readout is all zero (a test that cannot fail)", what);
        }
        free(x);
        free(a);
        free(b);
        free(ya);
        free(yb);
        free(va);
        free(vb);
        sn_nir_imported_free(&m);
    }
    sn_nir_doc_free(&back);
    sn_nir_doc_free(&d);
    sn_sb_free(&notes);
}

static void test_roundtrips(void) {
    sn_status st;
    sn_status_init(&st);
    /* lif_fc_mnist with its trained weights */
    sn_model_spec s;
    sn_weights w;
    char path[1024];
    sn_fmt(path, sizeof path, "%s/models/lif_fc_mnist.yaml", SNNC_SOURCE_DIR);
    CHECK_EQ_INT(sn_spec_load(path, NULL, 0, &s, &st), SN_OK);
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    CHECK_EQ_INT(sn_graph_build(&s, &bo, &g, &st), SN_OK);
    sn_param_desc *d;
    int n = sn_graph_param_descs(&g, &d);
    CHECK_EQ_INT(sn_weights_create(&w, d, n, &st), SN_OK);
    free(d);
    sn_graph_free(&g);
    sn_fmt(path, sizeof path, "%s/golden/lif_fc_mnist.safetensors", SNNC_TEST_DIR);
    CHECK_EQ_INT(sn_weights_load(&w, path, &st), SN_OK);
    /* (spikes of height 6: the weights are an initialization, small for unit spikes) */
    roundtrip("lif_fc_mnist", &s, &w, 12, 3, 6.0f, "layer.2", "net.2");
    sn_weights_free(&w);
    sn_spec_free(&s);

    /* a rate-converted network: IF with soft reset (subtract), average pooling */
    static const char *rate =
        "name: rate\ninput: {channels: 2, height: 6, width: 6}\nnum_classes: 5\n"
        "snn: {T: 6, neuron: {v_reset: none}}\nnetwork:\n"
        "  - f:\n    - conv2d: {out_channels: 6, kernel_size: 3, padding: 1}\n    - if\n"
        "    - avgpool: {kernel_size: 2}\n    - conv2d: {out_channels: 4, kernel_size: 3}\n"
        "    - if: {v_threshold: 0.5}\n  - flatten\n"
        "  - c:\n    - linear: {out_features: 5}\n    - if\n";
    CHECK_EQ_INT(spec_from("rate.yaml", rate, &s, &st), SN_OK);
    CHECK_EQ_INT(make_weights(&s, &w, &st), SN_OK);
    roundtrip("rate_if", &s, &w, 6, 2, 0, "f.1", "net.1");
    sn_weights_free(&w);
    sn_spec_free(&s);

    /* an exactly converted network: threshold units, input scale, membrane readout */
    static const char *exact =
        "name: exact\ninput: {channels: 1, height: 6, width: 6}\nnum_classes: 3\n"
        "snn: {T: 1, input_scale: 2, readout: membrane}\nnetwork:\n"
        "  - f:\n    - conv2d: {out_channels: 4, kernel_size: 3, bias: false}\n"
        "    - threshold: {units: 4}\n    - conv2d: {out_channels: 3, kernel_size: 2, stride: 2, "
        "bias: false}\n    - threshold: {units: 2}\n  - flatten\n"
        "  - c:\n    - linear: {out_features: 3, bias: false}\n";
    CHECK_EQ_INT(spec_from("exact.yaml", exact, &s, &st), SN_OK);
    CHECK_EQ_INT(make_weights(&s, &w, &st), SN_OK);
    roundtrip("exact_threshold_units", &s, &w, 2, 3, 0, "f.1", "net.2");
    sn_weights_free(&w);
    sn_spec_free(&s);

    /* nir_* layers of every kind, sum pooling and scale */
    static const char *nir =
        "name: nirnet\ninput: {channels: 2, height: 4, width: 4}\nnum_classes: 4\n"
        "snn: {T: 5}\nnetwork:\n"
        "  - f:\n    - scale\n    - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n"
        "    - nir_lif: {dt: 1.0e-4, reset: subtract}\n    - sumpool: {kernel_size: 2}\n"
        "    - nir_threshold: {compare: ge}\n  - flatten\n"
        "  - c:\n    - linear: {out_features: 6}\n    - nir_if: {compare: ge}\n"
        "    - linear: {out_features: 4}\n    - nir_li: {dt: 1.0e-4, discretization: exact}\n"
        "    - nir_i\n";
    CHECK_EQ_INT(spec_from("nir.yaml", nir, &s, &st), SN_OK);
    CHECK_EQ_INT(make_weights(&s, &w, &st), SN_OK);
    roundtrip("nir_layers", &s, &w, 5, 2, 0, "f.2", "net.2");
    sn_weights_free(&w);
    sn_spec_free(&s);

    /* what NIR cannot express is refused with the layer named */
    static const char *gated = "name: gated\ninput: {channels: 1, height: 4, width: 4}\n"
                               "num_classes: 4\nsnn: {T: 2}\nnetwork:\n  - f:\n"
                               "    - conv2d: {out_channels: 1, kernel_size: 1}\n    - if\n"
                               "    - maxpool: {kernel_size: 2, spike_gate: true}\n  - flatten\n";
    CHECK_EQ_INT(spec_from("gated.yaml", gated, &s, &st), SN_OK);
    CHECK_EQ_INT(make_weights(&s, &w, &st), SN_OK);
    sn_nir_doc dd;
    sn_strbuf notes;
    sn_sb_init(&notes);
    sn_status es;
    sn_status_init(&es);
    sn_nir_export_opts eo = {0};
    CHECK_EQ_INT(sn_nir_export(&s, &w, &eo, &dd, &notes, &es), SN_ERR_INPUT);
    CHECK_CONTAINS(es.msg, "layer f.2 (maxpool)");
    CHECK_CONTAINS(es.msg, "no max-pooling node");
    sn_sb_free(&notes);
    sn_weights_free(&w);
    sn_spec_free(&s);
}

/* ---- the written files follow the reference reader's rules ------------------------------ */

#ifdef SNNC_HAVE_HDF5
static herr_t count_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc;
    (void)name;
    (void)info;
    (*(int *)data)++;
    return 0;
}

static int attrs_of(hid_t obj) {
    int n = 0;
    hsize_t idx = 0;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, count_attr, &n);
    return n;
}

/* The fields each node type may hold (spec-nir.md); every listed one that is an array must be
 * float32 of the layer's per-sample shape for neurons, int64 for sizes. */
static const char *const *allowed_fields(const char *type) {
    static const char *const io[] = {"type", "shape", NULL};
    static const char *const affine[] = {"type", "weight", "bias", NULL};
    static const char *const linear[] = {"type", "weight", NULL};
    static const char *const conv[] = {"type",     "weight", "bias",        "stride", "padding",
                                       "dilation", "groups", "input_shape", NULL};
    static const char *const pool[] = {"type", "kernel_size", "stride", "padding", NULL};
    static const char *const flat[] = {"type", "start_dim", "end_dim", "input_type", NULL};
    static const char *const scale[] = {"type", "scale", NULL};
    static const char *const iff[] = {"type", "r", "v_threshold", "v_reset", "metadata", NULL};
    static const char *const lif[] = {"type",        "tau",     "r",        "v_leak",
                                      "v_threshold", "v_reset", "metadata", NULL};
    static const char *const li[] = {"type", "tau", "r", "v_leak", "metadata", NULL};
    static const char *const ii[] = {"type", "r", NULL};
    static const char *const th[] = {"type", "threshold", "metadata", NULL};
    if (!strcmp(type, "Input") || !strcmp(type, "Output")) return io;
    if (!strcmp(type, "Affine")) return affine;
    if (!strcmp(type, "Linear")) return linear;
    if (!strcmp(type, "Conv2d")) return conv;
    if (!strcmp(type, "SumPool2d") || !strcmp(type, "AvgPool2d")) return pool;
    if (!strcmp(type, "Flatten")) return flat;
    if (!strcmp(type, "Scale")) return scale;
    if (!strcmp(type, "IF")) return iff;
    if (!strcmp(type, "LIF")) return lif;
    if (!strcmp(type, "LI")) return li;
    if (!strcmp(type, "I")) return ii;
    if (!strcmp(type, "Threshold")) return th;
    return NULL;
}

static char *read_str(hid_t g, const char *name) {
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return NULL;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    char *out = NULL;
    if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 &&
        H5Sget_simple_extent_ndims(sp) == 0 && H5Tget_cset(t) == H5T_CSET_UTF8) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0 && s) {
            out = sn_strdup(s);
            H5free_memory(s);
        }
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(ds);
    return out;
}

/* A dataset's class, bit width and shape. */
static int ds_info(hid_t g, const char *name, H5T_class_t *cls, size_t *size, int *rank,
                   hsize_t *dims) {
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) return 0;
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    *cls = H5Tget_class(t);
    *size = H5Tget_size(t);
    *rank = H5Sget_simple_extent_ndims(sp);
    if (*rank > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    int attrs = attrs_of(ds);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(ds);
    return attrs == 0 ? 1 : -1;
}

static void check_structure(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK_MSG(f >= 0, "%s", path);
    if (f < 0) return;
    CHECK_EQ_INT(attrs_of(f), 0);
    char *v = read_str(f, "version");
    CHECK_MSG(v && !strcmp(v, "1.0.7"), "/version is a scalar UTF-8 string");
    free(v);
    hid_t g = H5Gopen2(f, "node", H5P_DEFAULT);
    CHECK(g >= 0 && attrs_of(g) == 0);
    char *t = read_str(g, "type");
    CHECK(t && !strcmp(t, "NIRGraph"));
    free(t);
    /* edges: E x 2 variable-length strings */
    H5T_class_t cls;
    size_t size;
    int rank;
    hsize_t dims[8];
    CHECK_EQ_INT(ds_info(g, "edges", &cls, &size, &rank, dims), 1);
    CHECK(cls == H5T_STRING && rank == 2 && dims[1] == 2);
    hid_t nodes = H5Gopen2(g, "nodes", H5P_DEFAULT);
    H5G_info_t gi;
    H5Gget_info(nodes, &gi);
    int inputs = 0, outputs = 0;
    for (hsize_t i = 0; i < gi.nlinks; i++) {
        char key[256];
        H5Lget_name_by_idx(nodes, ".", H5_INDEX_NAME, H5_ITER_INC, i, key, sizeof key, H5P_DEFAULT);
        CHECK(strchr(key, '/') == NULL);
        hid_t n = H5Gopen2(nodes, key, H5P_DEFAULT);
        CHECK_EQ_INT(attrs_of(n), 0);
        char *type = read_str(n, "type");
        CHECK_MSG(type != NULL, "node %s has a type string", key);
        const char *const *allowed = type ? allowed_fields(type) : NULL;
        CHECK_MSG(allowed != NULL, "node %s: type %s", key, type ? type : "?");
        inputs += type && !strcmp(type, "Input");
        outputs += type && !strcmp(type, "Output");
        H5G_info_t ni;
        H5Gget_info(n, &ni);
        for (hsize_t k = 0; allowed && k < ni.nlinks; k++) {
            char fname[256];
            H5Lget_name_by_idx(n, ".", H5_INDEX_NAME, H5_ITER_INC, k, fname, sizeof fname,
                               H5P_DEFAULT);
            int ok = 0;
            for (int a = 0; allowed[a]; a++) ok |= !strcmp(allowed[a], fname);
            CHECK_MSG(ok, "node %s (%s): field %s is not one the reference reader takes", key, type,
                      fname);
            if (!strcmp(fname, "type") || !strcmp(fname, "metadata")) continue;
            CHECK_EQ_INT(ds_info(n, fname, &cls, &size, &rank, dims), 1);
            int int_field = !strcmp(fname, "shape") || !strcmp(fname, "stride") ||
                            !strcmp(fname, "padding") || !strcmp(fname, "dilation") ||
                            !strcmp(fname, "groups") || !strcmp(fname, "input_shape") ||
                            !strcmp(fname, "kernel_size") || !strcmp(fname, "start_dim") ||
                            !strcmp(fname, "end_dim") || !strcmp(fname, "input_type");
            if (int_field) {
                CHECK_MSG(cls == H5T_INTEGER && size == 8, "%s/%s is int64", key, fname);
            } else {
                CHECK_MSG(cls == H5T_FLOAT && size == 4, "%s/%s is float32", key, fname);
                CHECK_MSG(rank >= 1, "%s/%s is an array, not a scalar", key, fname);
            }
        }
        free(type);
        H5Gclose(n);
    }
    CHECK_EQ_INT(inputs, 1);
    CHECK_EQ_INT(outputs, 1);
    H5Gclose(nodes);
    H5Gclose(g);
    H5Fclose(f);
    /* and the semantic rules, through the reader: Input/Output shapes equal their edges'
     * (the import checks that the shapes chain end to end), neuron arrays per-sample */
    sn_status st;
    sn_status_init(&st);
    sn_nir_doc d;
    CHECK_EQ_INT(sn_nir_read(path, &d, &st), SN_OK);
    sn_nir_import_opts o = {.T = 2, .name = "s"};
    sn_nir_imported m;
    CHECK_MSG(sn_nir_import(&d, &o, "s.yaml", &m, &st) == SN_OK, "%s", st.msg);
    if (!st.code) sn_nir_imported_free(&m);
    for (int i = 0; i < d.g.nnodes; i++) {
        const sn_nir_node *n = &d.g.nodes[i];
        if (strcmp(n->type, "LIF") && strcmp(n->type, "IF") && strcmp(n->type, "Threshold"))
            continue;
        int64_t numel = -1;
        for (int k = 0; k < n->nfields; k++) {
            if (numel < 0) numel = n->fields[k].numel;
            CHECK_MSG(n->fields[k].numel == numel && n->fields[k].rank >= 1,
                      "%s: the parameters of a neuron share the per-sample shape", n->key);
        }
    }
    sn_nir_doc_free(&d);
}
#endif

static void test_file_structure(void) {
#ifdef SNNC_HAVE_HDF5
    /* the files test_roundtrips wrote */
    static const char *const names[] = {"lif_fc_mnist", "rate_if", "exact_threshold_units",
                                        "nir_layers"};
    for (size_t i = 0; i < SN_ARRAY_LEN(names); i++) {
        char path[1024];
        sn_fmt(path, sizeof path, "%s/%s.nir", sn_test_tmpdir(), names[i]);
        check_structure(path);
    }
    /* a document written and read back is the same document */
    sn_status_init(&g_st);
    sn_nir_doc d, r;
    base_doc(&d);
    sn_nir_add_string(&d.g.meta, &d.g.nmeta, "writer", "test", &g_st);
    char path[1024];
    sn_fmt(path, sizeof path, "%s/base.nir", sn_test_tmpdir());
    CHECK_EQ_INT(sn_nir_write(path, &d, &g_st), SN_OK);
    CHECK_EQ_INT(sn_nir_read(path, &r, &g_st), SN_OK);
    CHECK_EQ_INT(r.g.nnodes, d.g.nnodes);
    CHECK_EQ_INT(r.g.nedges, d.g.nedges);
    CHECK(!strcmp(r.version, "1.0.7"));
    for (int i = 0; i < d.g.nnodes; i++) {
        const sn_nir_node *a = &d.g.nodes[i], *b = sn_nir_find_node(&r.g, a->key);
        CHECK_MSG(b && !strcmp(a->type, b->type) && a->nfields == b->nfields, "node %s", a->key);
        for (int k = 0; b && k < a->nfields; k++) {
            const sn_nir_field *x = &a->fields[k],
                               *y = sn_nir_find_field(b->fields, b->nfields, x->name);
            CHECK(y && y->kind == x->kind && y->numel == x->numel && y->bits == x->bits);
            for (int64_t j = 0; y && x->f && j < x->numel; j++) CHECK(x->f[j] == y->f[j]);
        }
    }
    CHECK(r.g.nmeta == 1 && !strcmp(r.g.meta[0].s[0], "test"));
    sn_nir_doc_free(&r);
    sn_nir_doc_free(&d);
#endif
}

int main(void) {
    RUN(test_malformed_docs);
    RUN(test_malformed_files);
    RUN(test_conv_equivalents);
    RUN(test_norse_trace);
    RUN(test_sinabs_and_two_lif);
    RUN(test_roundtrips);
    RUN(test_file_structure);
    if (!sn_nir_hdf5_available() && sn_test_result() == 0) {
        fprintf(stderr, "built without HDF5: the tests of NIR files were skipped\n");
        return 77;
    }
    return sn_test_result();
}
