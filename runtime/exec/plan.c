#include "plan.h"

#include "memplan.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

void sn_plan_init(sn_plan *p) {
    memset(p, 0, sizeof *p);
    p->in_buf = p->out_buf = p->label_buf = p->loss_buf = -1;
    p->T = 1;
}

void sn_plan_free(sn_plan *p) {
    if (p->dev_free) p->dev_free(p->dev);
    for (int i = 0; i < p->nsteps; i++) free(p->steps[i].params);
    for (int i = 0; i < p->nprep; i++) free(p->prep[i].params);
    free(p->prep);
    free(p->grads);
    for (int i = 0; i < p->nbufs; i++) sn_aligned_free(p->bufs[i].owned);
    free(p->steps);
    free(p->bufs);
    sn_aligned_free(p->arena);
    free(p->step_seconds);
    memset(p, 0, sizeof *p);
}

int sn_plan_add_buffer(sn_plan *p, const char *name, sn_dtype dtype, const sn_shape *shape,
                       sn_buf_kind kind, sn_status *st) {
    if (!sn_grow((void **)&p->bufs, &p->cap_bufs, p->nbufs + 1, sizeof *p->bufs)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory building the plan");
        return -1;
    }
    sn_buffer *b = &p->bufs[p->nbufs];
    memset(b, 0, sizeof *b);
    sn_strlcpy(b->name, name, sizeof b->name);
    b->dtype = dtype;
    b->shape = *shape;
    b->bytes = sn_shape_numel(shape) * (int64_t)sn_dtype_size(dtype);
    b->kind = kind;
    b->offset = -1;
    b->weight = -1;
    sn_strlcpy(b->layout, "NCHW", sizeof b->layout);
    if (kind == SN_BUF_OWNED) {
        b->owned = sn_aligned_alloc((size_t)b->bytes);
        if (!b->owned) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory for %s (%lld bytes)", name,
                    (long long)b->bytes);
            return -1;
        }
        b->ptr = b->owned;
    }
    return p->nbufs++;
}

static int add_step(sn_step **arr, int *n, int *cap, const char *name, const char *kernel,
                    sn_cpu_fn fn, const void *params, size_t params_size, const int *bufs,
                    int nbufs, int64_t ntasks, sn_status *st) {
    if (nbufs > SN_STEP_MAX_BUFS) {
        sn_fail(st, SN_ERR_RUNTIME, "step %s uses %d buffers (max %d)", name, nbufs,
                SN_STEP_MAX_BUFS);
        return -1;
    }
    if (!sn_grow((void **)arr, cap, *n + 1, sizeof **arr)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory building the plan");
        return -1;
    }
    sn_step *s = &(*arr)[*n];
    memset(s, 0, sizeof *s);
    sn_strlcpy(s->name, name, sizeof s->name);
    sn_strlcpy(s->kernel, kernel, sizeof s->kernel);
    s->fn = fn;
    if (params_size) {
        s->params = malloc(params_size);
        if (!s->params) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory building the plan");
            return -1;
        }
        memcpy(s->params, params, params_size);
        s->params_size = params_size;
    }
    if (nbufs > 0) memcpy(s->bufs, bufs, sizeof(int) * (size_t)nbufs);
    s->nbufs = nbufs;
    s->ntasks = ntasks < 1 ? 1 : ntasks;
    return (*n)++;
}

int sn_plan_add_step(sn_plan *p, const char *name, const char *kernel, sn_cpu_fn fn,
                     const void *params, size_t params_size, const int *bufs, int nbufs,
                     int64_t ntasks, sn_status *st) {
    return add_step(&p->steps, &p->nsteps, &p->cap_steps, name, kernel, fn, params, params_size,
                    bufs, nbufs, ntasks, st);
}

int sn_plan_add_prep(sn_plan *p, const char *name, const char *kernel, sn_cpu_fn fn,
                     const void *params, size_t params_size, const int *bufs, int nbufs,
                     sn_status *st) {
    return add_step(&p->prep, &p->nprep, &p->cap_prep, name, kernel, fn, params, params_size, bufs,
                    nbufs, 1, st);
}

int sn_plan_find_buffer(const sn_plan *p, const char *name) {
    for (int i = 0; i < p->nbufs; i++)
        if (strcmp(p->bufs[i].name, name) == 0) return i;
    return -1;
}

sn_code sn_plan_add_grad(sn_plan *p, int param, int buf, int64_t n, int update, sn_status *st) {
    if (param < 0 || param >= p->nbufs || buf < 0 || buf >= p->nbufs || update < 0 ||
        update >= p->nsteps || n < 0 || n * 4 > p->bufs[buf].bytes)
        return sn_fail(st, SN_ERR_RUNTIME,
                       "internal error: bad gradient record (buffer %d of %d floats, step %d)", buf,
                       (int)n, update);
    if (!sn_grow((void **)&p->grads, &p->cap_grads, p->ngrads + 1, sizeof *p->grads))
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory building the plan");
    p->grads[p->ngrads++] = (sn_plan_grad){param, buf, n, update};
    return SN_OK;
}

void sn_plan_collective_step(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                             int64_t hi) {
    (void)lo;
    (void)hi;
    const sn_coll_params *c = params;
    const sn_plan *p = ctx->plan;
    if (!p->coll.allreduce_f64 || ctx->failed) return;
    if (p->coll.allreduce_f64(p->coll.arg, ptrs[0], c->n, c->rank_weighted, ctx->st))
        ctx->failed = 1;
}

void sn_plan_layout_sequential(sn_plan *p) {
    int64_t end = 0, naive = 0;
    for (int i = 0; i < p->nbufs; i++) {
        sn_buffer *b = &p->bufs[i];
        if (b->kind != SN_BUF_ARENA) continue;
        naive += (b->bytes + 63) & ~(int64_t)63;
        if (b->offset >= 0) {
            if (b->offset + b->bytes > end) end = b->offset + b->bytes;
        }
    }
    if (p->naive_bytes > naive) naive = p->naive_bytes;
    for (int i = 0; i < p->nbufs; i++) {
        sn_buffer *b = &p->bufs[i];
        if (b->kind != SN_BUF_ARENA || b->offset >= 0) continue;
        end = (end + 63) & ~(int64_t)63;
        b->offset = end;
        end += b->bytes;
    }
    if (end > p->arena_bytes) p->arena_bytes = end;
    p->naive_bytes = naive;
}

sn_code sn_plan_bind(sn_plan *p, sn_weights *w, sn_status *st) {
    sn_weights *const stores[1] = {w};
    return sn_plan_bind_stores(p, stores, w ? 1 : 0, st);
}

sn_code sn_plan_bind_stores(sn_plan *p, sn_weights *const *stores, int nstores, sn_status *st) {
    sn_plan_layout_sequential(p);
    sn_aligned_free(p->arena);
    p->arena = sn_aligned_alloc((size_t)(p->arena_bytes ? p->arena_bytes : 64));
    if (!p->arena)
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory: the plan's arena needs %lld bytes",
                       (long long)p->arena_bytes);
    p->weights = nstores ? stores[0] : NULL;
    for (int i = 0; i < p->nbufs; i++) {
        sn_buffer *b = &p->bufs[i];
        switch (b->kind) {
        case SN_BUF_ARENA:
            b->ptr = (char *)p->arena + b->offset;
            break;
        case SN_BUF_OWNED:
            b->ptr = b->owned;
            break;
        case SN_BUF_WEIGHT: {
            int j = -1, s = 0;
            for (; s < nstores && j < 0; s++) j = sn_weights_find(stores[s], b->name);
            if (j < 0)
                return sn_fail(st, SN_ERR_RUNTIME, "plan needs weight %s, which the store lacks",
                               b->name);
            const sn_weights *w = stores[s - 1];
            if (!sn_shape_eq(&w->desc[j].shape, &b->shape))
                return sn_fail(st, SN_ERR_RUNTIME, "weight %s has a different shape in the store",
                               b->name);
            b->weight = j;
            b->ptr = w->data[j];
            break;
        }
        }
    }
    return sn_plan_prepare(p, NULL, st);
}

void sn_plan_memplan(sn_plan *p) {
    int nb = p->nbufs;
    int *first = sn_calloc((size_t)(nb ? nb : 1), sizeof(int));
    int *last = sn_calloc((size_t)(nb ? nb : 1), sizeof(int));
    int64_t *bytes = sn_calloc((size_t)(nb ? nb : 1), sizeof(int64_t));
    int64_t *off = sn_calloc((size_t)(nb ? nb : 1), sizeof(int64_t));
    if (!first || !last || !bytes || !off) {
        free(first);
        free(last);
        free(bytes);
        free(off);
        return; /* sn_plan_layout_sequential will place everything */
    }
    for (int i = 0; i < nb; i++) {
        first[i] = p->nsteps;
        last[i] = -1;
    }
    for (int s = 0; s < p->nsteps; s++)
        for (int k = 0; k < p->steps[s].nbufs; k++) {
            int b = p->steps[s].bufs[k];
            if (b < 0) continue;
            if (s < first[b]) first[b] = s;
            if (s > last[b]) last[b] = s;
        }
    int io[4] = {p->in_buf, p->out_buf, p->label_buf, p->loss_buf};
    for (int i = 0; i < 4; i++) {
        if (io[i] < 0) continue;
        if (i == 0 || i == 2)
            first[io[i]] = -1;
        else
            last[io[i]] = p->nsteps;
        if (i == 0 || i == 2) {
            if (last[io[i]] < 0) last[io[i]] = 0;
        } else if (first[io[i]] > p->nsteps) {
            first[io[i]] = p->nsteps;
        }
    }
    for (int i = 0; i < nb; i++)
        if (p->bufs[i].keep) {
            first[i] = -1;
            last[i] = p->nsteps;
        }
    /* step-major: the steps run T times over the same input */
    if (p->step_major && p->in_buf >= 0) last[p->in_buf] = p->nsteps;
    for (int i = 0; i < nb; i++) {
        bytes[i] = p->bufs[i].bytes;
        if (p->bufs[i].kind != SN_BUF_ARENA) first[i] = 1, last[i] = 0; /* not in the arena */
    }
    int64_t naive = 0, end = sn_memplan_place(nb, bytes, first, last, 64, off, &naive);
    if (end >= 0) {
        for (int i = 0; i < nb; i++)
            if (p->bufs[i].kind == SN_BUF_ARENA)
                p->bufs[i].offset = off[i] >= 0 ? off[i] : 0; /* untouched: the arena's start */
        p->arena_bytes = end;
        p->naive_bytes = naive;
    }
    free(first);
    free(last);
    free(bytes);
    free(off);
}

void sn_plan_disable_reuse(sn_plan *p) {
    for (int i = 0; i < p->nbufs; i++)
        if (p->bufs[i].kind == SN_BUF_ARENA) p->bufs[i].offset = -1;
    p->arena_bytes = 0;
    p->naive_bytes = 0;
    sn_plan_layout_sequential(p);
}

typedef struct step_job {
    const sn_step *s;
    sn_kctx *ctx;
    void *ptrs[SN_STEP_MAX_BUFS];
} step_job;

static void run_range(void *arg, int64_t lo, int64_t hi) {
    step_job *j = arg;
    j->s->fn(j->ctx, j->s->params, j->ptrs, lo, hi);
}

sn_code sn_plan_sync_weights(sn_plan *p, sn_status *st) {
    return p->dev_sync ? p->dev_sync(p, st) : SN_OK;
}

sn_code sn_plan_prepare(sn_plan *p, sn_pool *pool, sn_status *st) {
    sn_kctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.plan = p;
    ctx.st = st;
    atomic_init(&ctx.bad_input, 0);
    atomic_init(&ctx.oom, 0);
    const sn_plan_prep_hook *h = &p->prep_hook;
    if (h->begin && h->begin(h->arg, st)) return st->code;
    for (int i = 0; i < p->nprep; i++) {
        const sn_step *s = &p->prep[i];
        if (h->skip && h->skip(h->arg, i)) continue;
        step_job j;
        j.s = s;
        j.ctx = &ctx;
        for (int k = 0; k < s->nbufs; k++)
            j.ptrs[k] = s->bufs[k] >= 0 ? p->bufs[s->bufs[k]].ptr : NULL;
        sn_pool_for(pool, s->ntasks, 1, run_range, &j);
        if (ctx.failed) return st->code;
        if (atomic_load(&ctx.bad_input) > 0)
            return sn_fail(st, SN_ERR_INPUT,
                           "preparation step %s (%s): the weights hold values this kernel cannot "
                           "take (layers declared 'weights: integer' need whole numbers in "
                           "[-127, 127]; int8 weights must be finite)",
                           s->name, s->kernel);
        if (atomic_load(&ctx.oom))
            return sn_fail(st, SN_ERR_RUNTIME, "out of memory in preparation step %s (%s)", s->name,
                           s->kernel);
    }
    return h->done ? h->done(h->arg, st) : SN_OK;
}

sn_code sn_plan_enable_profiling(sn_plan *p, sn_status *st) {
    free(p->step_seconds);
    p->step_seconds = sn_calloc((size_t)(p->nsteps ? p->nsteps : 1), sizeof(double));
    if (!p->step_seconds) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    return SN_OK;
}

/* Runs the steps for time steps [t0, t1) (one pass when the plan is layer-major). */
static sn_code run_steps(sn_plan *p, sn_pool *pool, uint64_t seed, int training, int t0, int t1,
                         sn_status *st) {
    sn_kctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.plan = p;
    ctx.st = st;
    ctx.seed = seed;
    ctx.training = training;
    ctx.lr = p->lr;
    ctx.step = p->step;
    ctx.sample0 = p->sample0;
    ctx.gbatch = p->gbatch > 0 ? p->gbatch : p->batch;
    atomic_init(&ctx.bad_input, 0);
    atomic_init(&ctx.oom, 0);
    for (int r = t0 * p->nsteps; r < t1 * p->nsteps; r++) {
        int i = r % p->nsteps;
        ctx.t = r / p->nsteps;
        const sn_step *s = &p->steps[i];
        if (p->hook.before && p->hook.before(p->hook.arg, p, i, st)) return st->code;
        step_job j;
        j.s = s;
        j.ctx = &ctx;
        for (int k = 0; k < s->nbufs; k++)
            j.ptrs[k] = s->bufs[k] >= 0 ? p->bufs[s->bufs[k]].ptr : NULL;
        double t0s = p->step_seconds ? sn_now() : 0.0;
        if (s->fn == sn_plan_collective_step) /* communication stays on the calling thread */
            s->fn(&ctx, s->params, j.ptrs, 0, s->ntasks);
        else
            sn_pool_for(pool, s->ntasks, s->grain, run_range, &j);
        if (p->step_seconds) p->step_seconds[i] += sn_now() - t0s;
        if (ctx.failed) return st->code;
        if (atomic_load(&ctx.oom))
            return sn_fail(st, SN_ERR_RUNTIME, "out of memory in step %s (%s)", s->name, s->kernel);
        if (atomic_load(&ctx.bad_input) > 0)
            return sn_fail(st, SN_ERR_INPUT,
                           "step %s (%s): %lld input values are outside the range the op accepts "
                           "(a Poisson encoder needs inputs in [0, 1]: check the data scale and "
                           "normalization)",
                           s->name, s->kernel, (long long)atomic_load(&ctx.bad_input));
        if (p->hook.after && p->hook.after(p->hook.arg, p, i, st)) return st->code;
    }
    return SN_OK;
}

sn_code sn_plan_run(sn_plan *p, sn_pool *pool, uint64_t seed, int training, sn_status *st) {
    return run_steps(p, pool, seed, training, 0, p->step_major ? p->T : 1, st);
}

sn_code sn_plan_run_time_step(sn_plan *p, sn_pool *pool, uint64_t seed, int t, sn_status *st) {
    if (!p->step_major || t < 0 || t >= p->T)
        return sn_fail(st, SN_ERR_INPUT,
                       "plan %s: time step %d cannot run on its own (the plan is %s, T = %d)",
                       p->model, t, p->step_major ? "step-major" : "layer-major", p->T);
    return run_steps(p, pool, seed, 0, t, t + 1, st);
}
