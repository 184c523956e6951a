#include "calib_int8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/rng.h"
#include "../../runtime/core/util.h"
#include "../../runtime/cpu/pack.h"
#include "../../runtime/exec/evaluate.h"
#include "../ir/build.h"
#include "sampler.h"
#ifdef SNNC_HAVE_LLVM
#include "../backends/llvm/cpu_backend.h"
#include "../passes/fusion.h"
#endif

#ifdef SNNC_HAVE_LLVM

#define CALIB_SAMPLES 2000000
#define CALIB_BATCH   64

typedef struct point {
    int tensor, buf;
    double min;
    sn_sampler s; /* of |x| */
} point;

typedef struct calib {
    const sn_graph *g;
    const sn_plan *plan;
    point *pts;
    int n;
    float *tmp; /* one batch of the largest point, NCHW */
    int64_t prev;
    sn_progress prog;
    int quiet;
} calib;

/* Adds the first nb images of the batch the plan just ran. */
static void add_batch(calib *c, int64_t nb) {
    for (int i = 0; i < c->n; i++) {
        point *p = &c->pts[i];
        const sn_tensor *t = &c->g->tensors[p->tensor];
        const sn_buffer *b = &c->plan->bufs[p->buf];
        int C, H, W;
        sn_tensor_dims(t, &C, &H, &W);
        int64_t per = (int64_t)C * H * W, images = sn_tensor_images(t);
        /* a spiking graph's tensors hold T x batch images: all of them count */
        int64_t use = images / c->plan->batch * nb;
        sn_cpu_layout l = sn_lay_parse(b->layout, C, H, W);
        sn_layout_to_nchw(b->ptr, use, &l, c->tmp);
        for (int64_t j = 0; j < use * per; j++) {
            float v = c->tmp[j];
            if (v != v) continue;
            if (v < p->min) p->min = v;
            sn_sampler_add(&p->s, fabsf(v));
        }
    }
}

static void on_batch(void *arg, int64_t done, int64_t total, const sn_eval_result *r) {
    (void)r;
    calib *c = arg;
    add_batch(c, done - c->prev);
    c->prev = done;
    if (!c->quiet) sn_progress_update(&c->prog, done, NULL);
    (void)total;
}

sn_code sn_int8_calibrate(const sn_model_spec *spec, const sn_weights *w,
                          const sn_int8_calib_opts *o, sn_act_quant **out, int *nout,
                          sn_status *st) {
    *out = NULL;
    *nout = 0;
    sn_graph g;
    sn_graph_init(&g);
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_jit *jit = NULL;
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    sn_pool *pool = NULL;
    calib c;
    memset(&c, 0, sizeof c);
    sn_build_opts bo = {.batch = CALIB_BATCH};
    if (sn_graph_build(spec, &bo, &g, st) || sn_graph_verify(&g, st)) goto done;
    c.g = &g;
    c.quiet = o->quiet;
    c.pts = sn_calloc((size_t)g.nnodes + 1, sizeof *c.pts);
    if (!c.pts) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < g.nnodes; i++) {
        if (g.nodes[i].op != SN_OP_CONV2D) continue;
        int t = g.nodes[i].in[0], seen = 0;
        for (int k = 0; k < c.n; k++) seen |= c.pts[k].tensor == t;
        if (seen) continue;
        c.pts[c.n].tensor = t;
        c.pts[c.n].min = INFINITY;
        c.n++;
    }
    if (c.n == 0) goto done; /* nothing to calibrate */
    /* fp32, unfused: every convolution input is a buffer of its own */
    if (sn_jit_create(&jit, st) || sn_fuse(&g, 0, &gs, st)) goto done;
    sn_cpu_options co;
    memset(&co, 0, sizeof co);
    if (sn_lower_cpu(&g, &gs, jit, &co, &plan, NULL, st)) goto done;
    int64_t n = o->images, biggest = 0;
    sn_transform tf;
    if (!o->synthetic) {
        if (sn_session_data(spec, o->data_dir, SN_SPLIT_TRAIN, &ds, &tf, st) != SN_OK) {
            sn_status_context(st, "int8 calibration measures activation scales on the "
                                  "training split (--calib N images)");
            goto done;
        }
        if (n > ds.n) n = ds.n;
    }
    for (int i = 0; i < c.n; i++) {
        point *p = &c.pts[i];
        p->buf = sn_plan_find_buffer(&plan, g.tensors[p->tensor].name);
        if (p->tensor == g.input) p->buf = plan.in_buf;
        if (p->buf < 0) {
            sn_fail(st, SN_ERR_RUNTIME, "internal error: convolution input %s has no buffer",
                    g.tensors[p->tensor].name);
            goto done;
        }
        plan.bufs[p->buf].keep = 1;
        int64_t per = sn_shape_numel(&g.tensors[p->tensor].shape);
        if (per > biggest) biggest = per;
        sn_sampler_init(&p->s, per / CALIB_BATCH * n, CALIB_SAMPLES);
    }
    c.tmp = malloc((size_t)biggest * sizeof(float));
    if (!c.tmp) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    sn_plan_memplan(&plan);
    sn_weights wcopy = *w; /* binding does not modify the store */
    if (sn_plan_bind(&plan, &wcopy, st)) goto done;
    pool = sn_pool_create(o->threads);
    if (!pool) {
        sn_fail(st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    c.plan = &plan;
    if (!o->quiet) sn_progress_start(&c.prog, "int8 calibration", n);
    if (o->synthetic) {
        sn_rng r;
        sn_rng_seed(&r, 20261203);
        float *x = sn_plan_f32(&plan, plan.in_buf);
        int64_t nx = sn_shape_numel(&plan.bufs[plan.in_buf].shape);
        for (int64_t done = 0; done < n;) {
            for (int64_t i = 0; i < nx; i++) x[i] = sn_rng_uniform(&r);
            if (sn_plan_run(&plan, pool, (uint64_t)done, 0, st)) goto done;
            int64_t nb = n - done < CALIB_BATCH ? n - done : CALIB_BATCH;
            add_batch(&c, nb);
            done += nb;
            if (!o->quiet) sn_progress_update(&c.prog, done, NULL);
        }
    } else {
        sn_eval_result r;
        if (sn_evaluate(&plan, pool, &ds, &tf, n, 1, 0, NULL, &r, on_batch, &c, st)) goto done;
    }
    if (!o->quiet) sn_progress_end(&c.prog);
    sn_act_quant *aq = sn_calloc((size_t)c.n, sizeof *aq);
    if (!aq) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < c.n; i++) {
        point *p = &c.pts[i];
        double v = sn_sampler_percentile(&p->s, o->percentile);
        int signed_ = p->min < 0;
        if (!(v > 0) || !(v < INFINITY)) v = 1.0; /* an all-zero (or broken) input */
        sn_strlcpy(aq[i].name, g.tensors[p->tensor].name, sizeof aq[i].name);
        aq[i].zero = signed_ ? 128 : 0;
        aq[i].scale = (float)(v / (signed_ ? 127.0 : 255.0));
        if (!o->quiet)
            fprintf(stderr, "  %-28s %s, max |x| %.5g, p%g %.5g: step %.5g\n", aq[i].name,
                    signed_ ? "signed" : ">= 0", p->s.max, o->percentile, v, (double)aq[i].scale);
    }
    *out = aq;
    *nout = c.n;
done:
    if (c.pts)
        for (int i = 0; i < c.n; i++) sn_sampler_free(&c.pts[i].s);
    free(c.pts);
    free(c.tmp);
    sn_pool_destroy(pool);
    sn_plan_free(&plan);
    sn_groups_free(&gs);
    sn_jit_destroy(jit);
    sn_dataset_free(&ds);
    sn_graph_free(&g);
    return st->code;
}

sn_code sn_session_int8(const sn_args *a, sn_target target, const sn_model_spec *spec,
                        const sn_weights *w, int synthetic, sn_act_quant **keep, sn_status *st) {
    *keep = NULL;
    sn_session_set_act_quant(NULL, 0);
    if (target != SN_TARGET_CPU || strcmp(sn_precision_names[sn_session_precision_index()], "int8"))
        return SN_OK;
    sn_int8_calib_opts o;
    memset(&o, 0, sizeof o);
    double pct;
    if (sn_args_int(a, "--calib", 512, 1, INT64_MAX, &o.images, st) ||
        sn_args_float(a, "--percentile", 99.99, 1.0, 100.0, &pct, st))
        return st->code;
    o.percentile = pct;
    o.data_dir = sn_args_str(a, "--data", NULL);
    o.synthetic = synthetic;
    o.quiet = sn_args_has(a, "--quiet") || sn_args_has(a, "--json");
    int64_t threads = 0;
    if (sn_args_int(a, "--threads", 0, 0, 1024, &threads, st)) return st->code;
    o.threads = (int)threads;
    if (!o.quiet)
        fprintf(stderr, "int8: calibrating the convolution inputs on %lld %s (p%g of |x|)\n",
                (long long)o.images, synthetic ? "random images" : "training images", o.percentile);
    int n = 0;
    if (sn_int8_calibrate(spec, w, &o, keep, &n, st)) return st->code;
    sn_session_set_act_quant(*keep, n);
    return SN_OK;
}

#else

sn_code sn_int8_calibrate(const sn_model_spec *spec, const sn_weights *w,
                          const sn_int8_calib_opts *o, struct sn_act_quant **out, int *n,
                          sn_status *st) {
    (void)spec;
    (void)w;
    (void)o;
    *out = NULL;
    *n = 0;
    return sn_fail(st, SN_ERR_INPUT, "this snnc was built without LLVM: no int8 cpu target");
}

sn_code sn_session_int8(const sn_args *a, sn_target target, const sn_model_spec *spec,
                        const sn_weights *w, int synthetic, struct sn_act_quant **keep,
                        sn_status *st) {
    (void)a;
    (void)target;
    (void)spec;
    (void)w;
    (void)synthetic;
    (void)st;
    *keep = NULL;
    return SN_OK;
}

#endif
