/* A Plan: buffers plus an ordered list of kernel launches. It is what every backend
 * produces and what the runtime executes; it knows nothing of YAML or the IR.
 *
 * Buffers are either slices of one arena (activations; offsets come from the memory
 * planner, which lets buffers with disjoint lifetimes share space), views of the weight
 * store (parameters and buffers such as BN statistics), or external (bound by the caller,
 * e.g. the input batch). A CPU step calls fn(ctx, params, ptrs, lo, hi) over task ranges
 * [lo, hi) of [0, ntasks), spread over the thread pool. */
#ifndef SN_PLAN_H
#define SN_PLAN_H

#include <stdatomic.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"
#include "../weights/weights.h"
#include "pool.h"

#define SN_STEP_MAX_BUFS 12
#define SN_PLAN_NAME_MAX 128

typedef struct sn_kctx {
    uint64_t seed; /* per-run seed: encoders and dropout draw from it */
    int training;
    atomic_llong bad_input; /* kernels count inputs they must reject (e.g. Poisson x > 1) */
    atomic_int oom;         /* a kernel could not allocate scratch memory */
    float lr;               /* optimizer steps: the learning rate of this step */
    int64_t step;           /* optimizer steps: the step number, from 1 */
    int t;                  /* step-major plans: the time step of this run (else 0) */
    /* steps that run on another device (one task each) report failures here */
    const struct sn_plan *plan; /* the plan being run */
    sn_status *st;              /* set with sn_fail ... */
    int failed;                 /* ... and this set to 1 */
    /* data-parallel training: this run holds samples [sample0, sample0 + batch) of a global
     * batch of gbatch; random draws indexed by element (dropout masks, Poisson spikes) use
     * the element's index in the global batch (sn_batch_index), so a step draws the same
     * numbers whatever the number of ranks. 0 and the plan's batch in a single process. */
    int64_t sample0, gbatch;
} sn_kctx;

typedef void (*sn_cpu_fn)(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                          int64_t hi);

/* A parameter gradient of a training plan: buffer `buf` holds its n floats once the steps
 * before `update` have run, and step `update` (the optimizer) consumes it. Backends list
 * every one (sn_plan_add_grad); a data-parallel trainer sums them over the ranks in
 * between (runtime/dist), and nothing else in the plan knows about ranks. */
typedef struct sn_plan_grad {
    int param;  /* the parameter's weight buffer */
    int buf;    /* the gradient */
    int64_t n;  /* floats (the parameter's size; the buffer may be padded) */
    int update; /* the step that applies it */
} sn_plan_grad;

struct sn_plan;

/* Called by sn_plan_run on the calling thread before and after every step (each may be
 * NULL); a failure stops the run with its status. */
typedef struct sn_plan_hook {
    sn_code (*before)(void *arg, struct sn_plan *p, int step, sn_status *st);
    sn_code (*after)(void *arg, struct sn_plan *p, int step, sn_status *st);
    void *arg;
} sn_plan_hook;

/* Collective operations that steps of a plan may need (synchronized batch norm sums its
 * per-channel statistics over the ranks): a sum of n doubles in place over every rank.
 * With rank_weighted, each rank's values are multiplied by its weight before the sum and
 * the result divided by it after (see sn_plan_collective_step). Unset in a single
 * process, where a sum over one rank is the identity. */
typedef struct sn_plan_coll {
    sn_code (*allreduce_f64)(void *arg, double *buf, int64_t n, int rank_weighted, sn_status *st);
    void *arg;
} sn_plan_coll;

/* Preparation steps shared between processes that run the same plan on one host (see
 * runtime/dist/prepshare.h): sn_plan_prepare calls begin first, skips the steps skip says
 * another process runs (their outputs are in memory the processes share), and calls done
 * after its own steps. Any of them may be NULL. */
typedef struct sn_plan_prep_hook {
    sn_code (*begin)(void *arg, sn_status *st);
    int (*skip)(void *arg, int prep_step);
    sn_code (*done)(void *arg, sn_status *st);
    void *arg;
} sn_plan_prep_hook;

/* A gradient on a device (CUDA plans): its address (a CUdeviceptr) and size in floats. */
typedef struct sn_dev_grad {
    uint64_t ptr;
    int64_t n;
} sn_dev_grad;

/* Device plans run a whole training step in one plan step with the gradients on the
 * device: such a backend calls fn once all of them are complete, before its first optimizer
 * update, with their addresses (in update order) and the stream its kernels run on. */
typedef struct sn_plan_dev_hook {
    sn_code (*fn)(void *arg, struct sn_plan *p, const sn_dev_grad *g, int ng, void *stream,
                  sn_status *st);
    void *arg;
} sn_plan_dev_hook;

typedef enum sn_buf_kind {
    SN_BUF_ARENA = 0, /* activation in the arena */
    SN_BUF_WEIGHT,    /* a tensor of the weight store */
    SN_BUF_OWNED,     /* constant data owned by the plan (e.g. folded weights) */
} sn_buf_kind;

typedef struct sn_buffer {
    char name[SN_PLAN_NAME_MAX];
    sn_dtype dtype;
    sn_shape shape; /* logical shape */
    int64_t bytes;
    sn_buf_kind kind;
    int64_t offset;  /* arena offset (SN_BUF_ARENA), -1 until planned */
    int weight;      /* weight store index (SN_BUF_WEIGHT) */
    void *owned;     /* SN_BUF_OWNED data (64-byte aligned, freed with the plan) */
    char layout[16]; /* physical layout, e.g. "NCHW", "NCHW16c" */
    int keep;        /* memory planning keeps it live to the end of the run (read afterwards) */
    void *ptr;       /* resolved address */
} sn_buffer;

typedef struct sn_step {
    char name[SN_PLAN_NAME_MAX];   /* the node or fused group it runs */
    char kernel[SN_PLAN_NAME_MAX]; /* kernel name (ref.conv2d, a JIT symbol, ...) */
    sn_cpu_fn fn;
    void *params; /* owned copy */
    size_t params_size;
    int bufs[SN_STEP_MAX_BUFS];
    int nbufs;
    int64_t ntasks;
    int64_t grain; /* tasks per chunk (0 = automatic) */
    int64_t macs;  /* multiply-accumulates, for reports */
    int64_t flops; /* floating-point operations, for reports */
    /* preparation steps: bit k set when bufs[k] is an output only this step writes and the
     * run steps only read (packed weights), so processes running the same plan can share
     * it (runtime/dist/prepshare.h); 0 = not known */
    unsigned out_mask;
} sn_step;

/* A step of a device program, timed on the device while the plan profiles (see dev_steps
 * below): what 'snnc bench' shows per kernel for the CUDA target. */
typedef struct sn_dev_step {
    const char *name;   /* the node or fused group it runs */
    const char *kernel; /* the kernel's template ("igemm_fp32.cu"), or "cuBLAS sgemm" */
    double ms;          /* device time, summed over the profiled runs */
    int64_t macs;
} sn_dev_step;

typedef struct sn_plan {
    char model[64];
    char backend[16];
    sn_buffer *bufs;
    int nbufs, cap_bufs;
    sn_step *steps;
    int nsteps, cap_steps;
    sn_step *prep; /* run once when weights are bound or change (packing, folding) */
    int nprep, cap_prep;
    int64_t arena_bytes; /* planned arena size */
    int64_t naive_bytes; /* sum of all arena buffers (what no reuse would need) */
    void *arena;
    int in_buf, out_buf, label_buf, loss_buf;
    int64_t batch;
    int T;
    int step_major; /* sn_plan_run runs the steps T times, ctx.t = 0 .. T-1 */
    int num_classes;
    sn_weights *weights;  /* bound store (not owned) */
    double *step_seconds; /* per-step accumulated time when profiling (NULL otherwise) */
    float lr;             /* handed to kernels through sn_kctx by sn_plan_run */
    int64_t step;
    /* A backend whose buffers live elsewhere (the CUDA device) keeps its state here. The
     * plan's own buffers are then the host side of the inputs and outputs; weights may be
     * newer on the device until sn_plan_sync_weights copies them back. */
    void *dev;
    void (*dev_free)(void *dev);
    sn_code (*dev_sync)(struct sn_plan *p, sn_status *st);
    /* with profiling enabled, the device program's steps and their device times (NULL for
     * CPU plans); returns how many */
    int (*dev_steps)(const struct sn_plan *p, const sn_dev_step **steps);
    /* training plans: the parameter gradients (see sn_plan_grad) */
    sn_plan_grad *grads;
    int ngrads, cap_grads;
    /* data-parallel training (see sn_kctx): set by the trainer, 0 = a single process */
    int64_t sample0, gbatch;
    /* set by a backend whose loss gradient divides by the global batch (ctx->gbatch) rather
     * than the plan's own: a rank's gradients are then its share of the global batch's,
     * and the ranks' gradients add up without scaling */
    int loss_over_gbatch;
    sn_plan_hook hook;
    sn_plan_coll coll;
    sn_plan_dev_hook dev_hook;
    sn_plan_prep_hook prep_hook;
} sn_plan;

void sn_plan_init(sn_plan *p);
void sn_plan_free(sn_plan *p);
int sn_plan_add_buffer(sn_plan *p, const char *name, sn_dtype dtype, const sn_shape *shape,
                       sn_buf_kind kind, sn_status *st);
int sn_plan_add_step(sn_plan *p, const char *name, const char *kernel, sn_cpu_fn fn,
                     const void *params, size_t params_size, const int *bufs, int nbufs,
                     int64_t ntasks, sn_status *st);
/* Same for a preparation step (see sn_plan_prepare). */
int sn_plan_add_prep(sn_plan *p, const char *name, const char *kernel, sn_cpu_fn fn,
                     const void *params, size_t params_size, const int *bufs, int nbufs,
                     sn_status *st);
int sn_plan_find_buffer(const sn_plan *p, const char *name);
/* Records that buffer `buf` holds the gradient (n floats) of weight buffer `param`, which
 * step `update` applies. */
sn_code sn_plan_add_grad(sn_plan *p, int param, int buf, int64_t n, int update, sn_status *st);

/* A plan step that sums a buffer of doubles over the ranks through p->coll (a no-op
 * without one): params is an sn_coll_params, ptrs[0] the buffer. */
typedef struct sn_coll_params {
    int64_t n;         /* doubles */
    int rank_weighted; /* see sn_plan_coll */
} sn_coll_params;
void sn_plan_collective_step(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo,
                             int64_t hi);

/* Lays out arena buffers that the memory planner did not place (one after another). */
void sn_plan_layout_sequential(sn_plan *p);
/* Assigns arena offsets from buffer lifetimes (first write .. last read over the steps):
 * buffers whose lifetimes do not overlap share space. The input stays live from the start
 * and the outputs (out, loss) to the end; `keep` buffers live through the whole run; a
 * buffer that no step touches and nothing keeps gets no space. */
void sn_plan_memplan(sn_plan *p);
/* Gives every arena buffer its own space (no reuse): for inspecting intermediates. */
void sn_plan_disable_reuse(sn_plan *p);
/* Allocates the arena, resolves every buffer address against the weight store, and runs
 * the preparation steps. */
sn_code sn_plan_bind(sn_plan *p, sn_weights *w, sn_status *st);
/* The same with several stores (model weights, optimizer slots): a weight buffer named N
 * binds to tensor N of the first store that has it. */
sn_code sn_plan_bind_stores(sn_plan *p, sn_weights *const *stores, int nstores, sn_status *st);
/* Re-runs the preparation steps (after the weights changed). */
sn_code sn_plan_prepare(sn_plan *p, sn_pool *pool, sn_status *st);
/* Runs all steps in order (T times over for a step-major plan). Fails (SN_ERR_INPUT) if a
 * kernel flagged bad input. */
sn_code sn_plan_run(sn_plan *p, sn_pool *pool, uint64_t seed, int training, sn_status *st);
/* Step-major plans: runs the steps once, as time step t (0 <= t < T): the kernels' state
 * (membrane potentials, the readout's running sums) starts over at t = 0 and carries on
 * from step t - 1 otherwise, so t = 0, 1, ..., T-1 in turn equal one sn_plan_run. */
sn_code sn_plan_run_time_step(sn_plan *p, sn_pool *pool, uint64_t seed, int t, sn_status *st);
/* Makes the bound weight stores current: a backend that updates weights on its own device
 * (CUDA training) copies them back. Call it before reading or saving weights a plan has
 * trained. A no-op for CPU plans. */
sn_code sn_plan_sync_weights(sn_plan *p, sn_status *st);
/* Enables per-step timing (accumulated into p->step_seconds). */
sn_code sn_plan_enable_profiling(sn_plan *p, sn_status *st);

static inline float *sn_plan_f32(const sn_plan *p, int buf) {
    return (float *)p->bufs[buf].ptr;
}

#endif
