#include "snn_tools.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/cpu/layout.h"
#include "../../runtime/exec/evaluate.h"
#include "../ir/build.h"
#include "sampler.h"

const char *const sn_convert_mode_names[] = {"auto", "exact", "rate", NULL};

/* The buffer holding tensor t, looking through ops that only rename (flatten, dropout at
 * evaluation) when t itself got none. */
static int tensor_buffer(const sn_graph *g, const sn_plan *plan, int t) {
    for (int guard = 0; guard < 64 && t >= 0; guard++) {
        int b = sn_plan_find_buffer(plan, g->tensors[t].name);
        if (b >= 0 && plan->bufs[b].kind == SN_BUF_ARENA) return b;
        int prod = g->tensors[t].producer;
        if (prod < 0) return -1;
        const sn_node *n = &g->nodes[prod];
        if (n->op != SN_OP_FLATTEN && n->op != SN_OP_DROPOUT) return -1;
        t = n->in[0];
    }
    return -1;
}

/* ---- calibration -------------------------------------------------------------------------- */

#define CALIB_SAMPLES 2000000

typedef struct calib_pt {
    int buf;
    sn_sampler s;
} calib_pt;

typedef struct calib_ctx {
    calib_pt *pts;
    int n;
    const sn_plan *plan;
    int64_t prev;
    sn_progress prog;
    int quiet;
} calib_ctx;

static void calib_batch(void *arg, int64_t done, int64_t total, const sn_eval_result *r) {
    (void)r;
    calib_ctx *c = arg;
    int64_t nb = done - c->prev;
    c->prev = done;
    for (int i = 0; i < c->n; i++) {
        calib_pt *p = &c->pts[i];
        const sn_buffer *b = &c->plan->bufs[p->buf];
        int64_t per = b->bytes / (int64_t)sizeof(float) / c->plan->batch;
        const float *x = b->ptr;
        for (int64_t j = 0; j < nb * per; j++) {
            float v = x[j];
            if (!(v > 0.0f)) continue;
            sn_sampler_add(&p->s, v);
        }
    }
    if (!c->quiet) sn_progress_update(&c->prog, done, NULL);
    (void)total;
}

static sn_code calibrate(const sn_model_spec *ann, const sn_weights *aw, const int *points,
                         int npoints, const sn_calib_opts *co, int quiet, double *lambda,
                         sn_status *st) {
    sn_graph g;
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    sn_pool *pool = NULL;
    calib_ctx cc;
    memset(&cc, 0, sizeof cc);
    sn_build_opts bo = {.batch = co->batch};
    if (sn_graph_build(ann, &bo, &g, st) || sn_graph_verify(&g, st)) return st->code;
    sn_transform tf;
    if (sn_session_data(ann, co->data_dir, SN_SPLIT_TRAIN, &ds, &tf, st)) {
        sn_status_context(st, "rate conversion measures activation scales on the training split");
        goto done;
    }
    /* unfused, so every activation is materialized */
    if (sn_session_lower(&g, co->target, 0, 0, &plan, &be, st)) goto done;
    cc.pts = calloc((size_t)npoints, sizeof *cc.pts);
    if (!cc.pts) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    cc.n = npoints;
    int64_t n = co->images < ds.n ? co->images : ds.n;
    for (int i = 0; i < npoints; i++) {
        int t = -1;
        for (int j = 0; j < g.nnodes; j++)
            if (g.nodes[j].layer == points[i]) t = g.nodes[j].out[0];
        int b = t >= 0 ? tensor_buffer(&g, &plan, t) : -1;
        if (b < 0) {
            sn_fail(st, SN_ERR_RUNTIME, "internal error: activation of layer %d has no buffer",
                    points[i]);
            goto done;
        }
        plan.bufs[b].keep = 1;
        cc.pts[i].buf = b;
        int64_t per = sn_shape_numel(&g.tensors[t].shape) / co->batch;
        sn_sampler_init(&cc.pts[i].s, per * n, CALIB_SAMPLES);
    }
    sn_plan_memplan(&plan);
    sn_weights wcopy = *aw; /* binding does not modify the store */
    if (sn_plan_bind(&plan, &wcopy, st)) goto done;
    pool = sn_pool_create(co->threads);
    if (!pool) {
        sn_fail(st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    cc.plan = &plan;
    cc.quiet = quiet;
    if (!quiet) sn_progress_start(&cc.prog, "calibrate", n);
    sn_eval_result r;
    if (sn_evaluate(&plan, pool, &ds, &tf, n, 1, 0, NULL, &r, calib_batch, &cc, st)) goto done;
    if (!quiet) sn_progress_end(&cc.prog);
    for (int i = 0; i < npoints; i++) {
        calib_pt *p = &cc.pts[i];
        lambda[i] = sn_sampler_percentile(&p->s, co->percentile);
        if (!quiet)
            printf("  %s.%d: max %.5g, p%g %.5g (%lld samples)\n", ann->layers[points[i]].module,
                   ann->layers[points[i]].index, p->s.max, co->percentile, lambda[i],
                   (long long)p->s.ns);
    }
done:
    if (cc.pts)
        for (int i = 0; i < cc.n; i++) sn_sampler_free(&cc.pts[i].s);
    free(cc.pts);
    sn_pool_destroy(pool);
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_dataset_free(&ds);
    sn_graph_free(&g);
    return st->code;
}

sn_code sn_snn_convert_args(const sn_args *a, sn_convert_mode *mode, sn_calib_opts *co,
                            sn_status *st) {
    int m = 0;
    if (sn_args_choice(a, "--mode", sn_convert_mode_names, 0, &m, st) ||
        sn_args_int(a, "--calib", 512, 1, INT64_MAX, &co->images, st) ||
        sn_args_float(a, "--percentile", 99.99, 1.0, 100.0, &co->percentile, st))
        return st->code;
    *mode = (sn_convert_mode)m;
    co->data_dir = sn_args_str(a, "--data", NULL);
    return SN_OK;
}

sn_code sn_snn_convert(const sn_model_spec *ann, const sn_weights *aw, sn_convert_mode *mode,
                       const sn_calib_opts *co, int quiet, sn_model_spec *snn, sn_weights *sw,
                       sn_convert_info *info, sn_status *st) {
    if (*mode == SN_CONV_AUTO) *mode = sn_spec_has_quant(ann) ? SN_CONV_EXACT : SN_CONV_RATE;
    if (*mode == SN_CONV_EXACT) return sn_convert_exact(ann, aw, snn, sw, info, st);
    int *points = calloc((size_t)ann->nlayers + 1, sizeof *points);
    double *lambda = calloc((size_t)ann->nlayers + 1, sizeof *lambda);
    if (!points || !lambda) {
        free(points);
        free(lambda);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    int np = sn_convert_rate_points(ann, points, ann->nlayers + 1, st);
    if (np >= 0) {
        if (!quiet)
            printf("rate conversion: measuring %d activation scales (p%g) on %lld training "
                   "images\n",
                   np, co->percentile, (long long)co->images);
        if (calibrate(ann, aw, points, np, co, quiet, lambda, st) == SN_OK)
            sn_convert_rate(ann, aw, lambda, np, snn, sw, info, st);
    }
    free(points);
    free(lambda);
    return st->code;
}

/* ---- spike metrics ------------------------------------------------------------------------ */

static sn_spk_row *add_row(sn_spk_metrics *m, int *cap, sn_status *st) {
    if (!sn_grow((void **)&m->rows, cap, m->nrows + 1, sizeof *m->rows)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    sn_spk_row *r = &m->rows[m->nrows++];
    memset(r, 0, sizeof *r);
    r->buf = -1;
    return r;
}

/* Output positions of a conv that input position i (along one axis) feeds. */
static int fan_axis(int i, int out, int k, int s, int p) {
    int n = 0;
    for (int o = 0; o < out; o++) {
        int d = i + p - o * s;
        if (d >= 0 && d < k) n++;
    }
    return n;
}

sn_code sn_spk_prepare(const sn_graph *g, sn_plan *plan, sn_spk_metrics *m, sn_status *st) {
    memset(m, 0, sizeof *m);
    m->T = g->T;
    m->batch = g->batch;
    int cap = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        if (n->op == SN_OP_THRESHOLD || n->op == SN_OP_NEURON) {
            sn_spk_row *r = add_row(m, &cap, st);
            if (!r) return st->code;
            /* after spike deletion (the noise experiment), the spikes that remain */
            int out = n->out[0];
            for (int j = i + 1; j < g->nnodes; j++)
                if (g->nodes[j].op == SN_OP_SPIKE_DROP && g->nodes[j].in[0] == out)
                    out = g->nodes[j].out[0];
            const sn_tensor *t = &g->tensors[out];
            sn_strlcpy(r->name, n->name, sizeof r->name);
            r->units = n->op == SN_OP_THRESHOLD ? n->a.U : 1;
            r->T = t->lead == 2 ? t->shape.d[0] : 1;
            sn_tensor_dims(t, &r->C, &r->H, &r->W);
            r->neurons = (int64_t)r->C * r->H * r->W;
            r->buf = tensor_buffer(g, plan, out);
            if (r->buf < 0)
                return sn_fail(st, SN_ERR_RUNTIME, "internal error: %s has no output buffer",
                               n->name);
            plan->bufs[r->buf].keep = 1;
        } else if (n->op == SN_OP_CONV2D || n->op == SN_OP_LINEAR) {
            sn_spk_row *r = add_row(m, &cap, st);
            if (!r) return st->code;
            const sn_tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out[0]];
            sn_strlcpy(r->name, n->name, sizeof r->name);
            r->syn = 1;
            r->spike_fed = n->a.spike_input > 0;
            int64_t O = y->shape.d[y->lead];
            int64_t per_out = sn_shape_numel(&y->shape) / sn_tensor_images(y);
            int64_t K = sn_shape_numel(&x->shape) / sn_tensor_images(x);
            if (n->op == SN_OP_CONV2D) {
                int64_t C = x->shape.d[x->lead];
                r->macs = (double)per_out * (double)C * n->a.kh * n->a.kw;
            } else {
                r->macs = (double)O * (double)K;
            }
            if (!r->spike_fed) continue;
            r->T = x->lead == 2 ? x->shape.d[0] : 1;
            sn_tensor_dims(x, &r->C, &r->H, &r->W);
            r->buf = tensor_buffer(g, plan, n->in[0]);
            if (r->buf < 0)
                return sn_fail(st, SN_ERR_RUNTIME, "internal error: the input of %s has no buffer",
                               n->name);
            plan->bufs[r->buf].keep = 1;
            int H = r->H, W = r->W;
            r->fan = malloc((size_t)H * (size_t)W * sizeof(double));
            if (!r->fan) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            if (n->op == SN_OP_CONV2D) {
                int OH = (int)y->shape.d[y->lead + 1], OW = (int)y->shape.d[y->lead + 2];
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++)
                        r->fan[yy * W + xx] = (double)O *
                                              fan_axis(yy, OH, n->a.kh, n->a.sh, n->a.ph) *
                                              fan_axis(xx, OW, n->a.kw, n->a.sw, n->a.pw);
            } else {
                for (int j = 0; j < H * W; j++) r->fan[j] = (double)O;
            }
        }
    }
    return SN_OK;
}

void sn_spk_accumulate(sn_spk_metrics *m, const sn_plan *plan, int64_t nb) {
    for (int i = 0; i < m->nrows; i++) {
        sn_spk_row *r = &m->rows[i];
        if (r->buf < 0) continue;
        const sn_buffer *b = &plan->bufs[r->buf];
        /* (CPU buffers are shaped [images, floats]: the map comes from the graph) */
        sn_cpu_layout l = sn_lay_parse(b->layout, r->C, r->H, r->W);
        const float *p = b->ptr;
        double acc = 0.0;
        for (int64_t t = 0; t < r->T; t++)
            for (int64_t n = 0; n < nb; n++) {
                const float *img = p + (t * m->batch + n) * sn_lay_image(&l);
                for (int c = 0; c < l.C; c++)
                    for (int y = 0; y < l.H; y++)
                        for (int x = 0; x < l.W; x++) {
                            double v = (double)img[sn_lay_at(&l, c, y, x)];
                            acc += r->syn ? v * r->fan[y * l.W + x] : v;
                        }
            }
        if (r->syn)
            r->sops += acc;
        else
            r->spikes += acc;
    }
    m->images += nb;
}

void sn_spk_totals(const sn_spk_metrics *m, double *spikes, double *sops, double *sops_no_out,
                   double *macs) {
    double sp = 0, so = 0, mc = 0, last = 0;
    double n = m->images > 0 ? (double)m->images : 1.0;
    for (int i = 0; i < m->nrows; i++) {
        const sn_spk_row *r = &m->rows[i];
        if (!r->syn) {
            sp += r->spikes / n;
        } else if (r->spike_fed) {
            so += r->sops / n;
            mc += r->macs;
            last = r->sops / n;
        }
    }
    *spikes = sp;
    *sops = so;
    *sops_no_out = so - last;
    *macs = mc;
}

void sn_spk_free(sn_spk_metrics *m) {
    for (int i = 0; i < m->nrows; i++) free(m->rows[i].fan);
    free(m->rows);
    memset(m, 0, sizeof *m);
}
