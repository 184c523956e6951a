/* Recorded input sequences and per-step traces (snn_record.h). */
#include "snn_record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/cpu/layout.h"
#include "../../runtime/exec/plan.h"
#include "../../runtime/exec/pool.h"
#include "../../runtime/io/npy.h"
#include "../ir/build.h"

#define MAX_RECORD 4096

/* One traced tensor: where it lives in the plan and the full [T][N][E] array collected. */
typedef struct trace {
    char file[SN_IR_NAME_MAX + 8]; /* "net.2.v" */
    int tensor, buf;
    int C, H, W;
    int sample_rank; /* 1 or 3 */
    float *all;      /* [T][N][C*H*W] */
} trace;

/* Which of x's trailing dims are a sample of the model, and whether an N dim is there. */
static sn_code input_layout(const sn_model_spec *s, const sn_npy *x, const char *path, int *has_n,
                            int *srank, sn_status *st) {
    int64_t want3[3] = {s->in_channels, s->in_height, s->in_width};
    int flat = s->in_height == 1 && s->in_width == 1;
    for (int sr = 3; sr >= 1; sr -= 2) {
        if (sr == 1 && !flat) continue;
        int lead = x->rank - sr;
        if (lead < 1 || lead > 2) continue;
        int ok = 1;
        for (int i = 0; i < sr; i++) ok &= x->shape[lead + i] == want3[i];
        if (!ok) continue;
        *has_n = lead == 2;
        *srank = sr;
        return SN_OK;
    }
    char got[160] = "[";
    size_t o = 1;
    for (int i = 0; i < x->rank && o + 24 < sizeof got; i++)
        o += (size_t)snprintf(got + o, sizeof got - o, "%s%lld", i ? ", " : "",
                              (long long)x->shape[i]);
    snprintf(got + o, sizeof got - o, "]");
    if (flat)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: shape %s does not fit the model's input [%d] (%s): expected [T, %d] or "
                       "[T, N, %d] (time first)",
                       path, got, s->in_channels, s->name, s->in_channels, s->in_channels);
    return sn_fail(st, SN_ERR_INPUT,
                   "%s: shape %s does not fit the model's input [%d, %d, %d] (%s): expected [T, "
                   "%d, %d, %d] or [T, N, %d, %d, %d] (time first)",
                   path, got, s->in_channels, s->in_height, s->in_width, s->name, s->in_channels,
                   s->in_height, s->in_width, s->in_channels, s->in_height, s->in_width);
}

/* The layer names a model can record (every node built from a layer), for "all" and for
 * suggestions; the list points into g. */
static int recordable(const sn_graph *g, const char **names, int max) {
    int n = 0;
    for (int i = 0; i < g->nnodes && n < max; i++) {
        const sn_node *nd = &g->nodes[i];
        if (nd->layer < 0 || nd->op == SN_OP_TERNARY) continue;
        int dup = 0;
        for (int k = 0; k < n; k++) dup |= !strcmp(names[k], nd->name);
        if (!dup) names[n++] = nd->name;
    }
    return n;
}

static int find_node(const sn_graph *g, const char *name) {
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op != SN_OP_TERNARY && !strcmp(g->nodes[i].name, name)) return i;
    return -1;
}

/* The arena buffer holding tensor t in a lowered plan, or -1 (fused away). */
static int plan_buffer(const sn_plan *p, const sn_graph *g, int t) {
    int b = sn_plan_find_buffer(p, g->tensors[t].name);
    return b >= 0 && p->bufs[b].kind == SN_BUF_ARENA ? b : -1;
}

/* Splits the --record values ("a,b" and repeated options) into names. */
static int split_names(const char *const *vals, int nvals, char (*out)[SN_IR_NAME_MAX], int max,
                       sn_status *st) {
    int n = 0;
    for (int v = 0; v < nvals; v++) {
        const char *p = vals[v];
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= SN_IR_NAME_MAX) {
                sn_fail(st, SN_ERR_INPUT,
                        "--record: bad list '%s' (layer names separated by "
                        "commas, e.g. net.1,net.2, or all)",
                        vals[v]);
                return -1;
            }
            if (n >= max) {
                sn_fail(st, SN_ERR_INPUT, "--record: at most %d layers", max);
                return -1;
            }
            memcpy(out[n], p, len);
            out[n][len] = '\0';
            n++;
            p += len;
            if (*p == ',') p++;
        }
    }
    return n;
}

sn_code sn_snn_run_recorded(const sn_model_spec *spec, const sn_weights *w, const sn_record_opts *o,
                            sn_status *st) {
    sn_npy x;
    memset(&x, 0, sizeof x);
    sn_graph probe, g;
    sn_graph_init(&probe);
    sn_graph_init(&g);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_pool *pool = NULL;
    trace *tr = NULL;
    int ntr = 0;
    char(*names)[SN_IR_NAME_MAX] = NULL;
    const char **rec = NULL, **all = NULL;
    float *readout = NULL;
    if (o->target == SN_TARGET_CUDA) {
        sn_fail(st, SN_ERR_INPUT,
                "--input runs on the cpu and ref targets (the cuda target runs "
                "datasets only)");
        goto done;
    }
    if (sn_npy_read(o->input, &x, st)) goto done;
    int has_n = 0, srank = 0;
    if (input_layout(spec, &x, o->input, &has_n, &srank, st)) goto done;
    int64_t T = x.shape[0], N = has_n ? x.shape[1] : 1;
    int64_t E = (int64_t)spec->in_channels * spec->in_height * spec->in_width;
    if (T < 1 || N < 1) {
        sn_fail(st, SN_ERR_INPUT, "%s: the array is empty (T = %lld, N = %lld)", o->input,
                (long long)T, (long long)N);
        goto done;
    }
    if (T > 1000000) {
        sn_fail(st, SN_ERR_INPUT, "%s: %lld time steps (at most 1,000,000)", o->input,
                (long long)T);
        goto done;
    }
    for (int64_t i = 0; i < x.numel; i++)
        if (!isfinite(x.data[i])) {
            sn_fail(st, SN_ERR_INPUT, "%s: element %lld is %s (inputs must be finite)", o->input,
                    (long long)i, isnan(x.data[i]) ? "NaN" : "infinite");
            goto done;
        }
    float scale = spec->snn.encoder == SN_ENC_DIRECT ? spec->snn.input_scale : 1.0f;
    if (scale != 1.0f && scale != 0.0f) {
        for (int64_t i = 0; i < x.numel; i++) x.data[i] *= scale;
        if (!o->quiet)
            printf("input multiplied by snn.input_scale %g (the direct encoder's scale)\n",
                   (double)scale);
    }
    /* which layers to record, checked against the model before building the real graph */
    names = calloc(MAX_RECORD, sizeof *names);
    rec = calloc(MAX_RECORD, sizeof *rec);
    all = calloc(MAX_RECORD, sizeof *all);
    if (!names || !rec || !all) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    sn_build_opts po = {.batch = 1, .T = 1, .sequence = 1};
    if (sn_graph_build(spec, &po, &probe, st)) goto done;
    int nall = recordable(&probe, all, MAX_RECORD - 1); /* (room for the NULL below) */
    int nnames = split_names(o->record, o->nrecord, names, MAX_RECORD, st);
    if (nnames < 0) goto done;
    int nrec = 0;
    for (int i = 0; i < nnames; i++) {
        if (!strcmp(names[i], "all")) {
            for (int k = 0; k < nall && nrec < MAX_RECORD; k++) rec[nrec++] = all[k];
            continue;
        }
        if (nrec >= MAX_RECORD) break;
        if (find_node(&probe, names[i]) < 0 || probe.nodes[find_node(&probe, names[i])].layer < 0) {
            const char *sug = NULL;
            all[nall] = NULL;
            sug = sn_suggest(names[i], all);
            sn_strbuf sb;
            sn_sb_init(&sb);
            for (int k = 0; k < nall && k < 40; k++)
                sn_sb_printf(&sb, "%s%s", k ? ", " : "", all[k]);
            sn_fail(st, SN_ERR_INPUT, "--record: %s has no layer '%s'%s%s%s (its layers: %s)",
                    spec->name, names[i], sug ? "; did you mean '" : "", sug ? sug : "",
                    sug ? "'?" : "", sn_sb_cstr(&sb));
            sn_sb_free(&sb);
            goto done;
        }
        rec[nrec++] = names[i];
    }
    if (nrec > 0 && !o->out) {
        sn_fail(st, SN_ERR_INPUT, "--record needs --out DIR (where the .npy traces go)");
        goto done;
    }
    int64_t B = o->batch > 0 ? o->batch : 64;
    if (B > N) B = N;
    sn_build_opts bo = {.batch = B, .T = (int)T, .sequence = 1, .record = rec, .nrecord = nrec};
    if (sn_graph_build(spec, &bo, &g, st) || sn_graph_verify(&g, st)) goto done;
    if (sn_session_lower(&g, o->target, o->fusion, 0, &plan, &be, st)) goto done;
    /* the traced tensors: each recorded layer's output, and the potentials of its neurons */
    tr = calloc((size_t)nrec * 2 + 1, sizeof *tr);
    if (!tr) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int r = 0; r < nrec; r++) {
        int ni = find_node(&g, rec[r]);
        const sn_node *nd = &g.nodes[ni];
        /* a layer built as several nodes (a name shared by none here) records its last */
        for (int k = ni + 1; k < g.nnodes; k++)
            if (!strcmp(g.nodes[k].name, rec[r])) ni = k, nd = &g.nodes[k];
        for (int out = 0; out < nd->nout && out < 2; out++) {
            trace *t = &tr[ntr];
            int dup = 0;
            for (int k = 0; k < ntr; k++) dup |= tr[k].tensor == nd->out[out];
            if (dup) continue;
            t->tensor = nd->out[out];
            sn_fmt(t->file, sizeof t->file, out ? "%s.v" : "%s", rec[r]);
            const sn_tensor *tt = &g.tensors[t->tensor];
            if (tt->lead != 2) {
                sn_fail(st, SN_ERR_INPUT, "--record: layer %s has no time axis to record", rec[r]);
                goto done;
            }
            sn_tensor_dims(tt, &t->C, &t->H, &t->W);
            t->sample_rank = tt->shape.rank - tt->lead;
            t->buf = plan_buffer(&plan, &g, t->tensor);
            if (t->buf < 0) {
                sn_fail(st, SN_ERR_INPUT,
                        "--record: the output of layer %s is computed inside a fused kernel and "
                        "never stored; add --fusion off to record it",
                        rec[r]);
                goto done;
            }
            plan.bufs[t->buf].keep = 1;
            int64_t cnt = T * N * t->C * t->H * t->W;
            t->all = sn_calloc((size_t)cnt, sizeof(float));
            if (!t->all) {
                sn_fail(st, SN_ERR_RUNTIME, "out of memory for the traces of %s", rec[r]);
                goto done;
            }
            ntr++;
        }
    }
    sn_plan_memplan(&plan);
    sn_weights wcopy = *w;
    if (sn_plan_bind(&plan, &wcopy, st)) goto done;
    pool = sn_pool_create(o->threads);
    if (!pool) {
        sn_fail(st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    int K = plan.num_classes;
    readout = sn_calloc((size_t)(N * K), sizeof(float));
    if (!readout) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    float *in = sn_plan_f32(&plan, plan.in_buf);
    double t0 = sn_now();
    for (int64_t n0 = 0; n0 < N; n0 += B) {
        int64_t nb = N - n0 < B ? N - n0 : B;
        for (int64_t t = 0; t < T; t++) {
            memcpy(in + (t * B) * E, x.data + (t * N + n0) * E, (size_t)(nb * E) * sizeof(float));
            if (nb < B) memset(in + (t * B + nb) * E, 0, (size_t)((B - nb) * E) * sizeof(float));
        }
        if (sn_plan_run(&plan, pool, (uint64_t)n0, 0, st)) {
            sn_status_context(st, "while running samples %lld..%lld of %s", (long long)n0,
                              (long long)(n0 + nb - 1), o->input);
            goto done;
        }
        memcpy(readout + n0 * K, sn_plan_f32(&plan, plan.out_buf),
               (size_t)(nb * K) * sizeof(float));
        for (int k = 0; k < ntr; k++) {
            trace *t = &tr[k];
            const sn_buffer *b = &plan.bufs[t->buf];
            sn_cpu_layout l = sn_lay_parse(b->layout, t->C, t->H, t->W);
            const float *p = b->ptr;
            int64_t per = (int64_t)t->C * t->H * t->W;
            for (int64_t tt = 0; tt < T; tt++)
                for (int64_t i = 0; i < nb; i++) {
                    const float *img = p + (tt * B + i) * sn_lay_image(&l);
                    float *dst = t->all + (tt * N + n0 + i) * per;
                    for (int c = 0; c < t->C; c++)
                        for (int y = 0; y < t->H; y++)
                            for (int xx = 0; xx < t->W; xx++)
                                dst[((int64_t)c * t->H + y) * t->W + xx] =
                                    img[sn_lay_at(&l, c, y, xx)];
                }
        }
    }
    double secs = sn_now() - t0;
    if (!o->quiet)
        printf("%s: %lld sample%s x %lld steps from %s in %.3f s (%s)\n", spec->name, (long long)N,
               N == 1 ? "" : "s", (long long)T, o->input, secs, sn_target_names[o->target]);
    /* the readout of the first samples */
    for (int64_t i = 0; i < N && i < 8 && !o->quiet; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (readout[i * K + k] > readout[i * K + best]) best = k;
        printf("  sample %lld: class %d, readout", (long long)i, best);
        for (int k = 0; k < K && k < 10; k++) printf(" %.5g", (double)readout[i * K + k]);
        printf("%s\n", K > 10 ? " ..." : "");
    }
    if (o->out) {
        if (sn_mkdirs(o->out, st)) goto done;
        char path[4096];
        for (int k = 0; k < ntr; k++) {
            trace *t = &tr[k];
            int64_t shape[6];
            int r = 0;
            shape[r++] = T;
            if (has_n) shape[r++] = N;
            if (t->sample_rank == 1) {
                shape[r++] = (int64_t)t->C * t->H * t->W;
            } else {
                shape[r++] = t->C;
                shape[r++] = t->H;
                shape[r++] = t->W;
            }
            char fname[SN_IR_NAME_MAX + 16];
            sn_fmt(fname, sizeof fname, "%s.npy", t->file);
            sn_path_join(path, sizeof path, o->out, fname);
            if (sn_npy_write(path, t->all, r, shape, st)) goto done;
            if (!o->quiet) {
                int64_t cnt = T * N * t->C * t->H * t->W;
                double sum = 0;
                for (int64_t i = 0; i < cnt; i++) sum += t->all[i];
                printf("  wrote %s (sum %.6g)\n", path, sum);
            }
        }
        int64_t shape[2] = {N, K};
        sn_path_join(path, sizeof path, o->out, "output.npy");
        if (sn_npy_write(path, readout, has_n ? 2 : 1, has_n ? shape : shape + 1, st)) goto done;
        if (!o->quiet) printf("  wrote %s (the readout, [%s%d])\n", path, has_n ? "N, " : "", K);
    }
done:
    for (int k = 0; k < ntr; k++) free(tr[k].all);
    free(tr);
    free(readout);
    free(names);
    free(rec);
    free(all);
    sn_pool_destroy(pool);
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    sn_graph_free(&probe);
    sn_npy_free(&x);
    return st->code;
}
