/* Training a model: a training plan (forward in training mode, loss, backward, optimizer
 * updates) and an evaluation plan share one weight store, so evaluation always sees the
 * current weights. Optimizer state lives in its own stores, one per slot.
 *
 * Data-parallel (a communicator with several ranks): the training plan is compiled for this
 * rank's part of the global batch (sn_loader_part) and a gradient reducer (runtime/dist)
 * sums the gradients over the ranks between backward and the optimizer; the step's loss and
 * accuracy are those of the global batch. The evaluation plan keeps the global batch size
 * and each rank evaluates every size-th batch, so the combined counts equal a single
 * process's. */
#ifndef SN_TRAINER_H
#define SN_TRAINER_H

#include "../../runtime/dist/comm.h"
#include "../../runtime/dist/prepshare.h"
#include "../../runtime/dist/reducer.h"
#include "../../runtime/exec/evaluate.h"
#include "../../runtime/exec/plan.h"
#include "../../runtime/train/schedule.h"
#include "../../runtime/weights/weights.h"
#include "../frontend/spec.h"
#include "../ir/ir.h"
#include "session.h"

typedef struct sn_trainer {
    const sn_model_spec *spec;
    int64_t batch, eval_batch;
    sn_graph tg, eg;
    sn_plan tp, ep;
    sn_backend tbe, ebe;
    sn_weights w;        /* parameters and buffers (state_dict) */
    sn_weights slots[2]; /* optimizer state */
    const char *slot_names[2];
    int nslots;
    sn_pool *pool;
    sn_lr_schedule sched;
    uint64_t seed;
    int64_t step; /* optimizer steps done */
    double compile_seconds;
    /* data-parallel training (comm NULL or one rank: a single process) */
    sn_comm *comm;
    sn_reducer *reducer;
    sn_prep_share *share; /* the host's ranks share the weight packing (CPU plans) */
    int64_t gbatch;       /* the global batch; batch is this rank's part of it */
    int64_t part_first;   /* this rank's first image in each global batch */
    int bcast_buffers;    /* per-rank batch norm: rank 0's running statistics are kept */
    struct sn_nccl *nccl; /* --target cuda: gradients summed on the GPUs */
    int64_t bucket_bytes;
    double nccl_seconds;  /* enqueuing the GPU sums */
    double stats_seconds; /* summing each step's loss and accuracy over the ranks (a wait for
                             the slowest rank) */
    int stop_request;     /* in: this rank wants to stop after the step (a signal) */
    int stop_agreed;      /* out of sn_trainer_step: some rank asked to stop */
} sn_trainer;

typedef struct sn_trainer_opts {
    sn_target target;
    int fusion;
    int64_t batch, eval_batch;
    int threads;
    const char *init_weights; /* safetensors to start from, or NULL for seeded init */
    uint64_t seed;
    sn_comm *comm;        /* the job's ranks (NULL: a single process); not owned */
    int64_t bucket_bytes; /* gradient bucket size (0: the reducer's default) */
} sn_trainer_opts;

sn_code sn_trainer_create(sn_trainer *t, const sn_model_spec *spec, const sn_trainer_opts *o,
                          sn_status *st);
void sn_trainer_free(sn_trainer *t);

/* One optimizer step on a full batch (x [batch, C, H, W], y [batch]: with several ranks
 * this rank's part of the global batch). Returns the mean loss and the number of correct
 * top-1 predictions of the training forward pass over the (global) batch. */
sn_code sn_trainer_step(sn_trainer *t, const float *x, const int32_t *y, double lr, double *loss,
                        int64_t *correct, sn_status *st);

/* Collective (every rank calls it, after every rank created its trainer): joins the GPUs'
 * NCCL communicator for --target cuda on several ranks; for CPU plans, the ranks of each
 * host share the weight packing (sn_prep_share; SNNC_SHARE_PACKING=0 turns it off). */
sn_code sn_trainer_connect(sn_trainer *t, sn_status *st);
/* Makes every rank's weights, optimizer state and step rank 0's (after rank 0 loaded a
 * checkpoint or initial weights). A no-op in a single process. */
sn_code sn_trainer_broadcast(sn_trainer *t, sn_status *st);
/* Checks that every rank holds the same weights and optimizer state (a hash of each
 * rank's, compared): a divergence names the first rank that differs. */
sn_code sn_trainer_check_ranks(sn_trainer *t, sn_status *st);

/* Evaluates the current weights on a dataset split (sharded over the ranks, combined). */
sn_code sn_trainer_evaluate(sn_trainer *t, const sn_dataset *ds, const sn_transform *tf,
                            int64_t limit, int topk, sn_eval_result *r, sn_eval_progress_fn fn,
                            void *arg, sn_status *st);

/* The training graph of a spec: forward in training mode, loss, backward, optimizer. */
sn_code sn_train_graph(const sn_model_spec *spec, int64_t batch, sn_graph *g, sn_status *st);
/* The optimizer's state stores for training graph tg (none for plain SGD, "momentum", or
 * Adam's "exp_avg" and "exp_avg_sq"), zero-filled. */
sn_code sn_optimizer_stores(const sn_graph *tg, const sn_model_spec *spec, sn_weights slots[2],
                            const char *names[2], int *nslots, sn_status *st);

/* The recipe's learning-rate schedule (from the spec's train section). */
void sn_trainer_schedule(const sn_model_spec *spec, sn_lr_schedule *s);

#endif
