#include "evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/util.h"
#include "../ref/ref_ops.h"

static sn_code evaluate(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                        int64_t limit, int topk, uint64_t seed, int part, int parts, float *logits,
                        sn_eval_result *r, sn_eval_progress_fn progress, void *progress_arg,
                        sn_status *st);

sn_code sn_evaluate(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                    int64_t limit, int topk, uint64_t seed, float *logits, sn_eval_result *r,
                    sn_eval_progress_fn progress, void *progress_arg, sn_status *st) {
    return evaluate(plan, pool, ds, tf, limit, topk, seed, 0, 1, logits, r, progress, progress_arg,
                    st);
}

sn_code sn_evaluate_part(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                         int64_t limit, int topk, uint64_t seed, int part, int parts,
                         sn_eval_result *r, sn_eval_progress_fn progress, void *progress_arg,
                         sn_status *st) {
    if (parts < 1 || part < 0 || part >= parts)
        return sn_fail(st, SN_ERR_RUNTIME, "internal error: evaluation part %d of %d", part, parts);
    return evaluate(plan, pool, ds, tf, limit, topk, seed, part, parts, NULL, r, progress,
                    progress_arg, st);
}

static sn_code evaluate(sn_plan *plan, sn_pool *pool, const sn_dataset *ds, const sn_transform *tf,
                        int64_t limit, int topk, uint64_t seed, int part, int parts, float *logits,
                        sn_eval_result *r, sn_eval_progress_fn progress, void *progress_arg,
                        sn_status *st) {
    memset(r, 0, sizeof *r);
    int64_t total = limit > 0 && limit < ds->n ? limit : ds->n;
    int64_t B = plan->batch;
    int K = plan->num_classes;
    r->k = topk < 1 ? 1 : topk > K ? K : topk;
    int64_t *idx = sn_calloc((size_t)B, sizeof *idx);
    int32_t *labels = sn_calloc((size_t)B, sizeof *labels);
    if (!idx || !labels) {
        free(idx);
        free(labels);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    float *x = sn_plan_f32(plan, plan->in_buf);
    const float *y = sn_plan_f32(plan, plan->out_buf);
    int64_t per_image = sn_shape_numel(&plan->bufs[plan->in_buf].shape) / B;
    double t0 = sn_now();
    int64_t mine = 0; /* images of this part */
    for (int64_t b = part, start = b * B; start < total; b += parts, start = b * B)
        mine += total - start < B ? total - start : B;
    for (int64_t start = part * B; start < total; start += parts * B) {
        int64_t nb = total - start < B ? total - start : B;
        for (int64_t i = 0; i < B; i++) idx[i] = start + (i < nb ? i : 0);
        sn_transform_batch(tf, ds, idx, nb, seed, 0, x, labels);
        /* A short last batch: the padding rows are zero images whose scores are ignored. */
        if (nb < B) memset(x + nb * per_image, 0, (size_t)((B - nb) * per_image) * sizeof(float));
        double t1 = sn_now();
        if (sn_plan_run(plan, pool, sn_mix64(seed ^ (uint64_t)start), 0, st) != SN_OK) {
            sn_status_context(st, "while evaluating images %lld..%lld of %s", (long long)start,
                              (long long)(start + nb - 1), ds->source);
            break;
        }
        r->run_seconds += sn_now() - t1;
        r->correct1 += sn_ref_topk_correct(nb, K, y, labels, 1);
        r->correctk += sn_ref_topk_correct(nb, K, y, labels, r->k);
        if (logits) memcpy(logits + start * K, y, (size_t)(nb * K) * sizeof(float));
        r->n += nb;
        r->seconds = sn_now() - t0;
        if (progress) progress(progress_arg, r->n, mine, r);
    }
    r->seconds = sn_now() - t0;
    free(idx);
    free(labels);
    return st->code;
}
