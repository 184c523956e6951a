/* Summing a training plan's gradients over the ranks of a job, overlapped with the
 * backward pass (the one seam between a single-process training step and data-parallel
 * training).
 *
 * The plan lists its gradients (sn_plan_grad: buffer, size, the optimizer step that reads
 * it). At attach time the reducer finds the step after which each gradient is complete
 * (the last step before its update that touches its buffer) and packs the gradients, in
 * the order the backward pass completes them, into buckets of about bucket_bytes (as
 * PyTorch DDP's reducer does). The gradients of a bucket of several move into the
 * bucket's flat buffer (the plan's buffers point there, so the kernels write them in place,
 * side by side, and nothing is copied in or out; sn_reducer_free moves them back); a
 * bucket of one gradient is that gradient's buffer. Through the plan's hooks, while the
 * plan runs:
 *
 *   - after the step that completes a bucket, it is scaled in place (by `scale`: this
 *     rank's share of the global batch, since each rank's loss is a mean over its own
 *     images) and a non-blocking sum over the ranks starts;
 *   - after every later step, the buckets in flight are tested (MPI progresses them then);
 *   - before the first optimizer step that reads a bucket's gradients, the reducer waits
 *     for it.
 *
 * The buckets, their order and their sizes are a function of the plan alone, so every
 * rank issues the same reductions in the same order, and a run repeated with the same
 * ranks sums the same numbers in the same order (bit-identical). The plan's collective
 * steps (synchronized batch norm) go through the same communicator (sn_plan_coll). */
#ifndef SN_REDUCER_H
#define SN_REDUCER_H

#include <stdint.h>

#include "../exec/plan.h"
#include "comm.h"

typedef struct sn_reducer sn_reducer;

typedef struct sn_reducer_opts {
    int64_t bucket_bytes; /* <= 0: 4 MiB */
    double scale;         /* gradients are multiplied by it before the sum (0: 1) */
    /* the factor that puts this rank's rank-weighted collective sums (synchronized batch
     * norm's sums over dy) on the ranks' common footing: 0 for scale x ranks (a rank's dy
     * is the gradient of its own mean loss); 1 when dy is already its share of the global
     * mean's (sn_plan.loss_over_gbatch) */
    double rank_weight;
} sn_reducer_opts;

typedef struct sn_reducer_stats {
    int nbuckets;
    int64_t floats;       /* reduced per step */
    int64_t steps;        /* plan runs reduced */
    double wait_seconds;  /* blocked waiting for sums (not overlapped with compute) */
    double scale_seconds; /* scaling the buckets before their sums */
    /* inside the communicator between the steps: starting the sums and testing them (MPI
     * moves and adds the data of the buckets in flight then, on this rank's thread) */
    double progress_seconds;
    int64_t overlapped; /* buckets found complete before they were needed */
} sn_reducer_stats;

/* Hooks the reducer into plan p (p->hook, p->coll); both p and c must outlive it. Fails
 * for a step-major plan (its steps run several times per step). */
sn_code sn_reducer_attach(sn_reducer **out, sn_plan *p, sn_comm *c, const sn_reducer_opts *o,
                          sn_status *st);
/* Unhooks and frees (NULL is fine). */
void sn_reducer_free(sn_reducer *r);
void sn_reducer_stats_get(const sn_reducer *r, sn_reducer_stats *s);
/* A text description of the buckets (sizes and the steps that start and need them). */
void sn_reducer_describe(const sn_reducer *r, char *buf, size_t n);

#endif
