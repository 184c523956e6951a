/* Running CUDA programs as plans (see exec.h). */
#include "exec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "cuda_backend.h"
#include "driver.h"
#include "nvrtc.h"

/* ---- the process's GPU: driver, cuBLAS handles, device copies of weights ---------------- */

/* The device copy of one weight tensor, shared by every plan bound to the same store. */
typedef struct mirror {
    const void *host;
    size_t bytes;
    CUdeviceptr dev;
    int refs;
    int dev_newer; /* a training run changed it on the device; the host copy is stale */
} mirror;

static struct {
    sn_cuda_driver *d;
    sn_cublas *blas[2]; /* pedantic fp32, TF32 */
    mirror *m;
    int nm, cap;
} R;

static sn_code rt_open(sn_status *st) {
    if (R.d) return sn_cuda_make_current(R.d, st);
    return sn_cuda_driver_open(0, &R.d, st);
}

static int mirror_find(const void *host, size_t bytes) {
    for (int i = 0; i < R.nm; i++)
        if (R.m[i].refs > 0 && R.m[i].host == host && R.m[i].bytes == bytes) return i;
    return -1;
}

/* A reference to the device copy of host[0, bytes): a new one is allocated and uploaded. */
static int mirror_acquire(const void *host, size_t bytes, const char *name, sn_status *st) {
    int i = mirror_find(host, bytes);
    if (i >= 0) {
        R.m[i].refs++;
        return i;
    }
    for (i = 0; i < R.nm && R.m[i].refs > 0; i++) {
    }
    if (i == R.nm) {
        if (!sn_grow((void **)&R.m, &R.cap, R.nm + 1, sizeof *R.m)) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            return -1;
        }
        R.nm++;
    }
    mirror *m = &R.m[i];
    memset(m, 0, sizeof *m);
    if (sn_cuda_alloc(R.d, bytes, &m->dev, st) || sn_cuda_upload(R.d, m->dev, host, bytes, st)) {
        if (m->dev) sn_cuda_free(R.d, m->dev, st);
        m->dev = 0;
        sn_status_context(st, "while copying weight %s to the GPU", name);
        return -1;
    }
    m->host = host;
    m->bytes = bytes;
    m->refs = 1;
    return i;
}

static void mirror_release(int i) {
    if (i < 0 || i >= R.nm || R.m[i].refs <= 0) return;
    if (--R.m[i].refs == 0) {
        sn_status st;
        sn_status_init(&st);
        sn_cuda_free(R.d, R.m[i].dev, &st);
        memset(&R.m[i], 0, sizeof R.m[i]);
    }
}

/* ---- one program ------------------------------------------------------------------------ */

typedef struct sn_cuda_exec {
    sn_cu_program prog;
    CUmodule *mods;
    CUfunction *fns;
    int nmods;
    CUdeviceptr arena;
    int64_t arena_bytes;
    int separate;        /* $SNNC_CUDA_SEPARATE: every buffer its own allocation, no reuse */
    CUdeviceptr *own;    /* per buffer in separate mode */
    int placed;          /* device memory laid out for the keep set below */
    unsigned char *keep; /* per program buffer: read after the run (the plan's keep flags) */
    CUdeviceptr *dev;    /* per program buffer (weights once acquired; views resolved) */
    int64_t *off;        /* arena offset per program buffer, -1 for none */
    int *host;           /* per program buffer: the plan's host buffer, or -1 */
    int *mir;            /* per program buffer: its weight mirror, or -1 */
    sn_cublas *blas[2];  /* pedantic fp32, TF32 (as the program's GEMM steps need them) */
    /* device timing while the plan profiles: an event before each run step and one after
     * the last, and the device time of each run step summed over the profiled runs */
    CUevent *ev;
    int nev;
    sn_dev_step *prof;
    int nprof;
    int sync_each;
} sn_cuda_exec;

static int is_weight(const sn_cu_buffer *b) {
    return strcmp(b->role, "param") == 0 || strcmp(b->role, "buffer") == 0 ||
           strcmp(b->role, "optstate") == 0;
}

static void release_memory(sn_cuda_exec *e) {
    sn_status st;
    sn_status_init(&st);
    if (e->arena) sn_cuda_free(R.d, e->arena, &st);
    e->arena = 0;
    for (int i = 0; e->own && i < e->prog.nbufs; i++) {
        if (e->own[i]) sn_cuda_free(R.d, e->own[i], &st);
        e->own[i] = 0;
    }
    e->placed = 0;
}

static void exec_free(void *arg) {
    sn_cuda_exec *e = arg;
    if (!e) return;
    sn_status st;
    sn_status_init(&st);
    if (R.d) sn_cuda_make_current(R.d, &st);
    for (int i = 0; i < e->nmods; i++)
        if (e->mods[i]) sn_cuda_module_unload(R.d, e->mods[i], &st);
    release_memory(e);
    for (int i = 0; i < e->nev; i++) sn_cuda_event_destroy(R.d, e->ev[i]);
    free(e->ev);
    free(e->prof);
    if (e->mir)
        for (int i = 0; i < e->prog.nbufs; i++) mirror_release(e->mir[i]);
    free(e->mods);
    free(e->fns);
    free(e->dev);
    free(e->off);
    free(e->host);
    free(e->mir);
    free(e->own);
    free(e->keep);
    sn_cu_program_free(&e->prog);
    free(e);
}

/* Device address of every buffer: arena slices, weight mirrors, views of either. */
static void resolve(sn_cuda_exec *e) {
    const sn_cu_program *p = &e->prog;
    for (int i = 0; i < p->nbufs; i++) {
        if (e->mir[i] >= 0)
            e->dev[i] = R.m[e->mir[i]].dev;
        else if (e->separate && e->own[i])
            e->dev[i] = e->own[i];
        else if (e->off[i] >= 0)
            e->dev[i] = e->arena + (CUdeviceptr)e->off[i];
    }
    for (int i = 0; i < p->nbufs; i++) {
        int a = i;
        for (int guard = 0; guard < 64 && p->bufs[a].alias_of >= 0; guard++)
            a = p->bufs[a].alias_of;
        if (a != i) e->dev[i] = e->dev[a];
    }
}

/* ---- data-parallel training: the point between backward and the optimizer ------------- */

static int is_update(const sn_cu_program *p, const sn_cu_step *s) {
    return s->kind == SN_CU_LAUNCH && (strcmp(p->kernels[s->kernel].tmpl, "sgd.cu") == 0 ||
                                       strcmp(p->kernels[s->kernel].tmpl, "adam.cu") == 0);
}

/* Hands the gradients' device addresses (each optimizer step's "grad", sized as its
 * "param") to the plan's device hook (a data-parallel trainer sums them over the GPUs). */
static sn_code grads_ready(sn_cuda_exec *e, const sn_kctx *ctx, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    sn_dev_grad *g = sn_calloc((size_t)(p->nsteps ? p->nsteps : 1), sizeof *g);
    if (!g) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    int ng = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        if (s->prep || !is_update(p, s)) continue;
        int gb = -1, pb = -1;
        for (int a = 0; a < s->nargs; a++) {
            if (s->args[a].kind != SN_CU_ARG_BUF) continue;
            if (strcmp(s->args[a].name, "grad") == 0) gb = s->args[a].buf;
            if (strcmp(s->args[a].name, "param") == 0) pb = s->args[a].buf;
        }
        if (gb < 0 || pb < 0) continue;
        g[ng].ptr = (uint64_t)e->dev[gb];
        g[ng++].n = p->bufs[pb].bytes / (int64_t)sizeof(float);
    }
    sn_code c =
        ctx->plan->dev_hook.fn(ctx->plan->dev_hook.arg, (sn_plan *)ctx->plan, g, ng, NULL, st);
    free(g);
    return c;
}

static sn_code run_steps(sn_cuda_exec *e, const sn_kctx *ctx, int prep, int timed, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    int k = 0; /* run steps so far */
    int hooked = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        if (s->prep != prep) continue;
        if (!prep && !hooked && ctx->plan->dev_hook.fn && is_update(p, s)) {
            hooked = 1;
            if (grads_ready(e, ctx, st)) return st->code;
        }
        if (timed && sn_cuda_event_record(R.d, e->ev[k++], st)) return st->code;
        if (s->kind == SN_CU_SGEMM) {
            if (sn_cublas_sgemm(e->blas[s->tensor_cores != 0], s->name, s->transa, s->transb, s->m,
                                s->n, s->k, s->alpha, e->dev[s->A], s->lda, e->dev[s->B], s->ldb,
                                s->beta, e->dev[s->C], s->ldc, st))
                return st->code;
            continue;
        }
        union {
            CUdeviceptr p;
            unsigned long long u;
            int i;
            float f;
        } val[SN_CU_MAX_ARGS];
        void *params[SN_CU_MAX_ARGS];
        double t = (double)(ctx->step > 0 ? ctx->step : 1);
        for (int a = 0; a < s->nargs; a++) {
            const sn_cu_arg *arg = &s->args[a];
            memset(&val[a], 0, sizeof val[a]);
            switch (arg->kind) {
            case SN_CU_ARG_BUF:
                val[a].p = e->dev[arg->buf];
                break;
            case SN_CU_ARG_NULL:
                val[a].p = 0;
                break;
            case SN_CU_ARG_SEED:
                val[a].u = (unsigned long long)ctx->seed;
                break;
            case SN_CU_ARG_TRAINING:
                val[a].i = ctx->training;
                break;
            case SN_CU_ARG_LR:
                val[a].f = ctx->lr;
                break;
            case SN_CU_ARG_ADAM_STEP_SIZE: /* as the CPU backend: in double, handed over as float */
                val[a].f = (float)((double)ctx->lr / (1.0 - pow((double)s->beta1, t)));
                break;
            case SN_CU_ARG_ADAM_BC2_SQRT:
                val[a].f = (float)sqrt(1.0 - pow((double)s->beta2, t));
                break;
            }
            params[a] = &val[a];
        }
        const char *kname = p->kernels[s->kernel].name;
        if (sn_cuda_launch(R.d, kname, e->fns[s->kernel], s->grid, s->block, params, st))
            return st->code;
        if (e->sync_each && sn_cuda_synchronize(R.d, st)) {
            sn_status_context(st, "in kernel %s (step %s)", kname, s->name);
            return st->code;
        }
    }
    return SN_OK;
}

/* Device memory for activations, temporaries and kept tensors, laid out from their
 * lifetimes once the caller's keep flags are known (the first prepare, and again if they
 * change): one arena whose buffers with disjoint lifetimes share space, or, with
 * $SNNC_CUDA_SEPARATE, one allocation per buffer (for memory checkers, which then see each
 * buffer's own bounds). */
static sn_code place(sn_cuda_exec *e, const sn_plan *plan, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    int same = e->placed;
    for (int i = 0; i < p->nbufs; i++) {
        unsigned char k = e->host[i] >= 0 && plan->bufs[e->host[i]].keep;
        same &= k == e->keep[i];
        e->keep[i] = k;
    }
    if (same) return SN_OK;
    release_memory(e);
    sn_cu_memplan m;
    if (sn_cu_plan_memory(p, e->keep, !e->separate, &m, st)) return st->code;
    int64_t total = e->separate ? m.sum_bytes : m.arena_bytes;
    sn_code c = SN_OK;
    for (int i = 0; i < p->nbufs; i++) e->off[i] = m.offset[i];
    if (e->separate) {
        for (int i = 0; i < p->nbufs && !c; i++)
            if (m.offset[i] >= 0) c = sn_cuda_alloc(R.d, (size_t)p->bufs[i].bytes, &e->own[i], st);
    } else if (m.arena_bytes > 0) {
        c = sn_cuda_alloc(R.d, (size_t)m.arena_bytes, &e->arena, st);
    }
    e->arena_bytes = total;
    sn_cu_memplan_free(&m);
    if (c) {
        release_memory(e);
        sn_status_context(st, "allocating %.1f MiB of GPU memory for %s's activations",
                          (double)total / 1048576.0, p->model);
        return st->code;
    }
    e->placed = 1;
    return SN_OK;
}

static sn_code exec_prepare(sn_cuda_exec *e, const sn_plan *plan, const sn_kctx *ctx,
                            sn_status *st) {
    const sn_cu_program *p = &e->prog;
    if (sn_cuda_make_current(R.d, st)) return st->code;
    for (int i = 0; i < p->nbufs; i++) {
        if (e->host[i] < 0 || !is_weight(&p->bufs[i])) continue;
        const sn_buffer *hb = &plan->bufs[e->host[i]];
        if (e->mir[i] >= 0 && R.m[e->mir[i]].host != hb->ptr) { /* bound to another store */
            mirror_release(e->mir[i]);
            e->mir[i] = -1;
        }
        if (e->mir[i] < 0) {
            e->mir[i] = mirror_acquire(hb->ptr, (size_t)hb->bytes, hb->name, st);
            if (e->mir[i] < 0) return st->code;
            continue;
        }
        /* the weights may have changed on the host, unless the device holds newer ones */
        mirror *m = &R.m[e->mir[i]];
        if (!m->dev_newer && sn_cuda_upload(R.d, m->dev, hb->ptr, m->bytes, st)) {
            sn_status_context(st, "while copying weight %s to the GPU", hb->name);
            return st->code;
        }
    }
    if (place(e, plan, st)) return st->code;
    resolve(e);
    return run_steps(e, ctx, 1, 0, st);
}

/* Events and rows for device timing, made at the first profiled run. */
static sn_code profile_setup(sn_cuda_exec *e, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    if (e->ev) return SN_OK;
    int n = 0;
    for (int i = 0; i < p->nsteps; i++) n += !p->steps[i].prep;
    e->ev = sn_calloc((size_t)n + 1, sizeof *e->ev);
    e->prof = sn_calloc((size_t)(n ? n : 1), sizeof *e->prof);
    if (!e->ev || !e->prof) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (e->nev = 0; e->nev < n + 1; e->nev++)
        if (sn_cuda_event_create(R.d, &e->ev[e->nev], st)) return st->code;
    int k = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        if (s->prep) continue;
        e->prof[k].name = s->name;
        e->prof[k].kernel = s->kind == SN_CU_SGEMM ? "cuBLAS sgemm" : p->kernels[s->kernel].tmpl;
        e->prof[k].macs = s->macs;
        k++;
    }
    e->nprof = n;
    return SN_OK;
}

/* After a profiled run: each step's time between its event and the next. */
static sn_code profile_collect(sn_cuda_exec *e, sn_status *st) {
    for (int i = 0; i < e->nprof; i++) {
        float ms = 0;
        if (sn_cuda_event_elapsed(R.d, e->ev[i], e->ev[i + 1], &ms, st)) return st->code;
        e->prof[i].ms += ms;
    }
    return SN_OK;
}

static sn_code exec_run(sn_cuda_exec *e, const sn_plan *plan, const sn_kctx *ctx, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    if (sn_cuda_make_current(R.d, st)) return st->code;
    for (int i = 0; i < p->nbufs; i++)
        if (e->mir[i] < 0 && e->host[i] >= 0 && is_weight(&p->bufs[i]))
            return sn_fail(st, SN_ERR_RUNTIME, "CUDA plan run before its weights were bound");
    if (!e->placed) return sn_fail(st, SN_ERR_RUNTIME, "CUDA plan run before it was prepared");
    int ins[2] = {p->in_buf, p->label_buf};
    for (int k = 0; k < 2; k++) {
        int b = ins[k];
        if (b < 0) continue;
        if (sn_cuda_upload(R.d, e->dev[b], plan->bufs[e->host[b]].ptr, (size_t)p->bufs[b].bytes,
                           st))
            return st->code;
    }
    static const long long zero = 0;
    for (int i = 0; i < p->nbufs; i++)
        if (strcmp(p->bufs[i].role, "counter") == 0 &&
            sn_cuda_upload(R.d, e->dev[i], &zero, sizeof zero, st))
            return st->code;
    int timed = plan->step_seconds != NULL;
    if (timed && profile_setup(e, st)) return st->code;
    if (run_steps(e, ctx, 0, timed, st)) return st->code;
    if (timed && (sn_cuda_event_record(R.d, e->ev[e->nprof], st) || profile_collect(e, st)))
        return st->code;
    /* outputs, and what the caller keeps (the copies wait for the kernels) */
    for (int i = 0; i < p->nbufs; i++) {
        if (e->host[i] < 0 || is_weight(&p->bufs[i])) continue;
        const sn_buffer *hb = &plan->bufs[e->host[i]];
        if (i != p->out_buf && i != p->loss_buf && !hb->keep) continue;
        if (sn_cuda_download(R.d, hb->ptr, e->dev[i], (size_t)p->bufs[i].bytes, st)) {
            sn_status_context(st, "while reading %s back from the GPU", hb->name);
            return st->code;
        }
    }
    for (int i = 0; i < p->nbufs; i++) {
        if (strcmp(p->bufs[i].role, "counter") != 0) continue;
        long long bad = 0;
        if (sn_cuda_download(R.d, &bad, e->dev[i], sizeof bad, st)) return st->code;
        if (bad > 0)
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: %lld input values are outside the range the op accepts (a "
                           "Poisson encoder needs inputs in [0, 1]: check the data scale and "
                           "normalization)",
                           p->bufs[i].name, bad);
    }
    if (p->training)
        for (int i = 0; i < p->nbufs; i++)
            if (e->mir[i] >= 0) R.m[e->mir[i]].dev_newer = 1;
    return SN_OK;
}

static sn_cuda_exec *exec_of(const void *params) {
    sn_cuda_exec *e;
    memcpy(&e, params, sizeof e);
    return e;
}

static void prep_fn(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)ptrs;
    (void)lo;
    (void)hi;
    if (exec_prepare(exec_of(params), ctx->plan, ctx, ctx->st)) ctx->failed = 1;
}

static void run_fn(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi) {
    (void)ptrs;
    (void)lo;
    (void)hi;
    if (exec_run(exec_of(params), ctx->plan, ctx, ctx->st)) ctx->failed = 1;
}

static int exec_dev_steps(const sn_plan *plan, const sn_dev_step **steps) {
    const sn_cuda_exec *e = plan->dev;
    *steps = e->prof;
    return e->prof ? e->nprof : 0;
}

static sn_code exec_sync(sn_plan *plan, sn_status *st) {
    sn_cuda_exec *e = plan->dev;
    const sn_cu_program *p = &e->prog;
    if (sn_cuda_make_current(R.d, st)) return st->code;
    for (int i = 0; i < p->nbufs; i++) {
        if (e->mir[i] < 0) continue;
        mirror *m = &R.m[e->mir[i]];
        if (!m->dev_newer) continue;
        if (sn_cuda_download(R.d, (void *)m->host, m->dev, m->bytes, st)) {
            sn_status_context(st, "while copying weight %s back from the GPU", p->bufs[i].name);
            return st->code;
        }
        m->dev_newer = 0;
    }
    return SN_OK;
}

/* Loads every kernel's image (cubin where NVRTC made one, else PTX for the driver's JIT). */
static sn_code load_kernels(sn_cuda_exec *e, sn_status *st) {
    sn_cu_program *p = &e->prog;
    int n = p->nkernels;
    e->mods = sn_calloc((size_t)(n ? n : 1), sizeof *e->mods);
    e->fns = sn_calloc((size_t)(n ? n : 1), sizeof *e->fns);
    if (!e->mods || !e->fns) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (int i = 0; i < n; i++) {
        sn_cu_kernel *k = &p->kernels[i];
        const void *image = k->cubin_size ? (const void *)k->cubin : (const void *)k->ptx;
        if (sn_cuda_module_load(R.d, k->name, image, &e->mods[i], &e->fns[i], st)) return st->code;
        e->nmods = i + 1;
    }
    return SN_OK;
}

/* The host side: inputs, outputs and readable activations as arena buffers, weights bound
 * to the stores; one preparation step and one run step. */
static sn_code host_plan(sn_cuda_exec *e, const sn_graph *g, sn_plan *plan, sn_status *st) {
    const sn_cu_program *p = &e->prog;
    for (int i = 0; i < p->nbufs; i++) {
        const sn_cu_buffer *b = &p->bufs[i];
        e->host[i] = -1;
        if (b->tensor < 0 || !b->used) continue;
        int w = is_weight(b);
        if (!w && strcmp(b->role, "input") != 0 && strcmp(b->role, "label") != 0 &&
            strcmp(b->role, "act") != 0)
            continue;
        const sn_tensor *t = &g->tensors[b->tensor];
        e->host[i] = sn_plan_add_buffer(plan, t->name, t->dtype, &t->shape,
                                        w ? SN_BUF_WEIGHT : SN_BUF_ARENA, st);
        if (e->host[i] < 0) return st->code;
    }
    plan->in_buf = p->in_buf >= 0 ? e->host[p->in_buf] : -1;
    plan->out_buf = p->out_buf >= 0 ? e->host[p->out_buf] : -1;
    plan->label_buf = p->label_buf >= 0 ? e->host[p->label_buf] : -1;
    plan->loss_buf = p->loss_buf >= 0 ? e->host[p->loss_buf] : -1;
    int io[4], nio = 0;
    int cand[4] = {plan->in_buf, plan->label_buf, plan->out_buf, plan->loss_buf};
    for (int k = 0; k < 4; k++)
        if (cand[k] >= 0) io[nio++] = cand[k];
    if (sn_plan_add_prep(plan, "cuda", "cuda.prepare", prep_fn, &e, sizeof e, NULL, 0, st) < 0)
        return st->code;
    int s = sn_plan_add_step(plan, p->model, "cuda.run", run_fn, &e, sizeof e, io, nio, 1, st);
    if (s < 0) return st->code;
    for (int i = 0; i < p->nsteps; i++) plan->steps[s].macs += p->steps[i].macs;
    plan->steps[s].flops = 2 * plan->steps[s].macs;
    return SN_OK;
}

sn_code sn_cuda_plan(const sn_graph *g, const sn_groups *gs, sn_cu_precision precision,
                     sn_plan *plan, sn_cuda_plan_info *info, sn_status *st) {
    sn_plan_init(plan);
    if (rt_open(st)) return st->code;
    char arch[16];
    int cc = sn_cuda_driver_cc(R.d);
    snprintf(arch, sizeof arch, "sm_%d", cc);
    int acc, real;
    if (sn_nvrtc_check_arch(arch, &acc, &real, st)) {
        sn_status_context(st, "the GPU is %s (compute capability %d.%d)",
                          sn_cuda_driver_device(R.d), cc / 10, cc % 10);
        return st->code;
    }
    sn_cuda_exec *e = calloc(1, sizeof *e);
    if (!e) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    const char *sync = getenv("SNNC_CUDA_SYNC");
    e->sync_each = sync && *sync && strcmp(sync, "0") != 0;
    const char *sep = getenv("SNNC_CUDA_SEPARATE");
    e->separate = sep && *sep && strcmp(sep, "0") != 0;
    sn_cu_options o = {precision};
    sn_cuda_compile_stats cs;
    memset(&cs, 0, sizeof cs);
    if (sn_cuda_lower(g, gs, &o, &e->prog, st)) {
        free(e);
        return st->code;
    }
    int nb = e->prog.nbufs ? e->prog.nbufs : 1, gemms[2] = {0, 0};
    e->dev = sn_calloc((size_t)nb, sizeof *e->dev);
    e->off = sn_calloc((size_t)nb, sizeof *e->off);
    e->host = sn_calloc((size_t)nb, sizeof *e->host);
    e->mir = sn_calloc((size_t)nb, sizeof *e->mir);
    e->own = sn_calloc((size_t)nb, sizeof *e->own);
    e->keep = sn_calloc((size_t)nb, 1);
    for (int i = 0; i < e->prog.nsteps; i++)
        if (e->prog.steps[i].kind == SN_CU_SGEMM) gemms[e->prog.steps[i].tensor_cores != 0]++;
    sn_code c = SN_OK;
    if (!e->dev || !e->off || !e->host || !e->mir || !e->own || !e->keep)
        c = sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    for (int i = 0; !c && i < nb; i++) {
        e->mir[i] = -1;
        e->off[i] = -1;
    }
    if (!c) c = sn_cuda_compile(&e->prog, arch, 0, &cs, st);
    if (!c) c = load_kernels(e, st);
    for (int tf32 = 0; tf32 < 2 && !c; tf32++) {
        if (!gemms[tf32]) continue;
        if (!R.blas[tf32]) c = sn_cublas_open(tf32, &R.blas[tf32], st);
        e->blas[tf32] = R.blas[tf32];
    }
    sn_cu_memplan m;
    memset(&m, 0, sizeof m);
    if (!c) c = sn_cu_plan_memory(&e->prog, NULL, !e->separate, &m, st);
    int64_t planned = e->separate ? m.sum_bytes : m.arena_bytes;
    sn_cu_memplan_free(&m);
    if (c) {
        exec_free(e);
        return c;
    }
    sn_strlcpy(plan->backend, "cuda", sizeof plan->backend);
    sn_strlcpy(plan->model, g->model, sizeof plan->model);
    plan->batch = g->batch;
    plan->T = g->T;
    plan->num_classes = g->num_classes;
    plan->dev = e;
    plan->dev_free = exec_free;
    plan->dev_sync = exec_sync;
    plan->dev_steps = exec_dev_steps;
    if (host_plan(e, g, plan, st)) return st->code; /* e is freed with the plan */
    resolve(e);
    sn_plan_memplan(plan);
    if (info) {
        memset(info, 0, sizeof *info);
        sn_strlcpy(info->device, sn_cuda_driver_device(R.d), sizeof info->device);
        sn_strlcpy(info->arch, arch, sizeof info->arch);
        info->kernels = cs.kernels;
        info->cached = cs.cached;
        info->compile_seconds = cs.seconds;
        info->device_bytes = planned;
    }
    return SN_OK;
}

const sn_cu_program *sn_cuda_plan_program(const sn_plan *plan) {
    if (!plan->dev || plan->dev_free != exec_free) return NULL;
    return &((const sn_cuda_exec *)plan->dev)->prog;
}
