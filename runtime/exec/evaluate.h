/* Running a plan over a dataset: batches through the transform, the plan, and the top-k
 * bookkeeping. Used by eval, train (per-epoch evaluation) and snn. */
#ifndef SN_EVALUATE_H
#define SN_EVALUATE_H

#include <stdint.h>

#include "../data/dataset.h"
#include "../data/transform.h"
#include "plan.h"

typedef struct sn_eval_result {
    int64_t n;        /* images evaluated */
    int64_t correct1; /* top-1 hits */
    int64_t correctk; /* top-k hits */
    int k;
    double seconds;     /* wall time of the whole loop */
    double run_seconds; /* time spent inside the plan */
} sn_eval_result;

/* Called after each batch with the number of images done so far. */
typedef void (*sn_eval_progress_fn)(void *arg, int64_t done, int64_t total,
                                    const sn_eval_result *sofar);

/* Evaluates the first `limit` images (all when limit <= 0). logits (may be NULL) receives
 * [n, num_classes] scores. seed varies per batch for stochastic encoders. */
sn_code sn_evaluate(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                    int64_t limit, int topk, uint64_t seed, float *logits, sn_eval_result *r,
                    sn_eval_progress_fn progress, void *progress_arg, sn_status *st);
/* The same over batches part, part + parts, part + 2 * parts, ... only (one rank's share of
 * a sharded evaluation: each batch is computed exactly as sn_evaluate computes it, so the
 * ranks' summed counts are sn_evaluate's). Progress counts this part's images. */
sn_code sn_evaluate_part(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                         int64_t limit, int topk, uint64_t seed, int part, int parts,
                         sn_eval_result *r, sn_eval_progress_fn progress, void *progress_arg,
                         sn_status *st);

#endif
