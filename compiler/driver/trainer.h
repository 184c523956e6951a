/* Training a model: a training plan (forward in training mode, loss, backward, optimizer
 * updates) and an evaluation plan share one weight store, so evaluation always sees the
 * current weights. Optimizer state lives in its own stores, one per slot. */
#ifndef SN_TRAINER_H
#define SN_TRAINER_H

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
} sn_trainer;

typedef struct sn_trainer_opts {
    sn_target target;
    int fusion;
    int64_t batch, eval_batch;
    int threads;
    const char *init_weights; /* safetensors to start from, or NULL for seeded init */
    uint64_t seed;
} sn_trainer_opts;

sn_code sn_trainer_create(sn_trainer *t, const sn_model_spec *spec, const sn_trainer_opts *o,
                          sn_status *st);
void sn_trainer_free(sn_trainer *t);

/* One optimizer step on a full batch (x [batch, C, H, W], y [batch]). Returns the mean loss
 * and the number of correct top-1 predictions of the training forward pass. */
sn_code sn_trainer_step(sn_trainer *t, const float *x, const int32_t *y, double lr, double *loss,
                        int64_t *correct, sn_status *st);

/* Evaluates the current weights on a dataset split. */
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
