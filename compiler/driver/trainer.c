#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/rng.h"
#include "../../runtime/core/util.h"
#include "../../runtime/data/loader.h"
#include "../../runtime/dist/nccl.h"
#include "../../runtime/ref/ref_ops.h"
#include "../ir/build.h"
#include "../passes/autodiff.h"

void sn_trainer_schedule(const sn_model_spec *spec, sn_lr_schedule *s) {
    const sn_train_spec *t = &spec->train;
    memset(s, 0, sizeof *s);
    s->kind = t->schedule == SN_SCHED_MULTISTEP ? SN_LR_MULTISTEP
              : t->schedule == SN_SCHED_COSINE  ? SN_LR_COSINE
                                                : SN_LR_CONSTANT;
    s->lr = t->lr;
    s->min_lr = t->min_lr;
    s->gamma = t->gamma;
    s->milestones = t->milestones;
    s->nmilestones = t->nmilestones;
    s->epochs = t->epochs;
    s->warmup_epochs = t->warmup_epochs;
    s->warmup_start_lr = t->warmup_start_lr;
}

sn_code sn_optimizer_stores(const sn_graph *tg, const sn_model_spec *spec, sn_weights slots[2],
                            const char *names[2], int *nslots, sn_status *st) {
    const sn_train_spec *ts = &spec->train;
    if (ts->optimizer == SN_OPT_ADAM) {
        *nslots = 2;
        names[0] = "exp_avg";
        names[1] = "exp_avg_sq";
    } else {
        *nslots = ts->momentum > 0 ? 1 : 0;
        names[0] = "momentum";
    }
    for (int k = 0; k < *nslots; k++) {
        sn_param_desc *d = NULL;
        int n = sn_graph_optstate_descs(tg, names[k], &d);
        if (n < 0) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        /* The store's names carry the "optimizer.<slot>." prefix the plan's buffers use. */
        for (int i = 0; i < n; i++) {
            char full[128];
            sn_fmt(full, sizeof full, "optimizer.%s.%s", names[k], d[i].name);
            sn_strlcpy(d[i].name, full, sizeof d[i].name);
        }
        sn_code c = sn_weights_create(&slots[k], d, n, st);
        free(d);
        if (c) return c;
    }
    return SN_OK;
}

sn_code sn_train_graph(const sn_model_spec *spec, int64_t batch, sn_graph *g, sn_status *st) {
    const sn_train_spec *ts = &spec->train;
    sn_build_opts tb = {.batch = batch, .with_loss = 1, .training = 1};
    sn_optim_opts oo;
    memset(&oo, 0, sizeof oo);
    oo.adam = ts->optimizer == SN_OPT_ADAM;
    oo.momentum = ts->momentum;
    oo.nesterov = ts->nesterov;
    oo.weight_decay = ts->weight_decay;
    oo.beta1 = ts->beta1;
    oo.beta2 = ts->beta2;
    oo.eps = ts->eps;
    if (sn_graph_build(spec, &tb, g, st) || sn_autodiff(g, &oo, st) || sn_graph_verify(g, st))
        return st->code;
    return SN_OK;
}

/* The CUDA plan's gradients, complete on the device: summed over the GPUs by NCCL */
static sn_code dev_grads(void *arg, sn_plan *p, const sn_dev_grad *g, int ng, void *stream,
                         sn_status *st) {
    sn_trainer *t = arg;
    double t0 = sn_now();
    sn_code c = sn_nccl_allreduce(t->nccl, g, ng, (float)((double)t->batch / (double)t->gbatch),
                                  t->bucket_bytes, stream, st);
    t->nccl_seconds += sn_now() - t0;
    return c;
}

sn_code sn_trainer_create(sn_trainer *t, const sn_model_spec *spec, const sn_trainer_opts *o,
                          sn_status *st) {
    memset(t, 0, sizeof *t);
    t->spec = spec;
    t->batch = t->gbatch = o->batch;
    t->eval_batch = o->eval_batch;
    t->seed = o->seed;
    if (o->comm && o->comm->size > 1) {
        t->comm = o->comm;
        if (o->batch < o->comm->size)
            return sn_fail(st, SN_ERR_INPUT,
                           "the global batch of %lld images is smaller than the %d ranks: raise "
                           "train.batch_size (--batch) or start fewer ranks",
                           (long long)o->batch, o->comm->size);
        if (spec->train.sync_bn && o->target != SN_TARGET_CPU)
            return sn_fail(st, SN_ERR_INPUT,
                           "train.sync_bn on several ranks is implemented for --target cpu only");
        sn_loader_part(o->batch, o->comm->rank, o->comm->size, &t->part_first, &t->batch);
    }
    sn_graph_init(&t->tg);
    sn_graph_init(&t->eg);
    sn_plan_init(&t->tp);
    sn_plan_init(&t->ep);
    sn_trainer_schedule(spec, &t->sched);
    sn_build_opts eb = {.batch = o->eval_batch, .with_loss = 0, .training = 0};
    if (sn_train_graph(spec, t->batch, &t->tg, st) || sn_graph_build(spec, &eb, &t->eg, st) ||
        sn_graph_verify(&t->eg, st))
        return st->code;
    if (sn_session_weights(&t->tg, spec, o->init_weights, o->seed, &t->w, st)) return st->code;
    if (sn_optimizer_stores(&t->tg, spec, t->slots, t->slot_names, &t->nslots, st)) return st->code;
    double t0 = sn_now();
    if (sn_session_lower(&t->tg, o->target, o->fusion, 0, &t->tp, &t->tbe, st) ||
        sn_session_lower(&t->eg, o->target, o->fusion, 0, &t->ep, &t->ebe, st))
        return st->code;
    t->compile_seconds = sn_now() - t0;
    sn_weights *stores[3] = {&t->w, &t->slots[0], &t->slots[1]};
    if (sn_plan_bind_stores(&t->tp, stores, 1 + t->nslots, st) || sn_plan_bind(&t->ep, &t->w, st))
        return st->code;
    t->pool = sn_pool_create(o->threads);
    if (!t->pool) return sn_fail(st, SN_ERR_RUNTIME, "cannot start worker threads");
    if (t->comm) {
        /* this rank's images of each step, and the gradient sums between backward and the
         * optimizer */
        t->tp.sample0 = t->part_first;
        t->tp.gbatch = t->gbatch;
        t->bucket_bytes = o->bucket_bytes;
        if (o->target != SN_TARGET_CUDA) { /* CUDA: sn_trainer_connect */
            /* a loss gradient over the global batch needs no scaling (a rank's gradients are
             * its share of the global batch's); one over the rank's own batch is scaled by
             * the rank's share */
            sn_reducer_opts ro = {o->bucket_bytes, (double)t->batch / (double)t->gbatch, 0.0};
            if (t->tp.loss_over_gbatch) ro.scale = ro.rank_weight = 1.0;
            if (sn_reducer_attach(&t->reducer, &t->tp, t->comm, &ro, st)) return st->code;
            const char *v = getenv("SNNC_VERBOSE");
            if (v && *v && strcmp(v, "0") != 0 && t->comm->rank == 0) {
                char desc[8192];
                sn_reducer_describe(t->reducer, desc, sizeof desc);
                fprintf(stderr, "gradient buckets (rank 0):\n%s", desc);
            }
        }
        /* per-rank batch norm: rank 0's running statistics are kept (sync_buffers) */
        for (int i = 0; i < t->w.n && !spec->train.sync_bn; i++)
            if (!t->w.desc[i].trainable) t->bcast_buffers = 1;
    }
    return SN_OK;
}

static size_t tensor_bytes(const sn_param_desc *d) {
    return (size_t)sn_shape_numel(&d->shape) * sn_dtype_size(d->dtype);
}

static sn_code bcast_store(sn_trainer *t, sn_weights *w, int buffers_only, sn_status *st) {
    for (int i = 0; i < w->n; i++) {
        if (buffers_only && w->desc[i].trainable) continue;
        if (sn_comm_bcast(t->comm, w->data[i], (int64_t)tensor_bytes(&w->desc[i]), 0, st))
            return st->code;
    }
    return SN_OK;
}

/* Per-rank batch norm: every rank updates its running statistics with its own images;
 * rank 0's are the run's (PyTorch DDP's broadcast_buffers). They do not enter a training
 * step, so they are made rank 0's only before they are read: evaluation and checkpoints. */
static sn_code sync_buffers(sn_trainer *t, sn_status *st) {
    if (!t->comm || !t->bcast_buffers) return SN_OK;
    /* a device plan's newer values come back first (and go up again at the next step) */
    if (sn_plan_sync_weights(&t->tp, st)) return st->code;
    return bcast_store(t, &t->w, 1, st);
}

sn_code sn_trainer_connect(sn_trainer *t, sn_status *st) {
    if (!t->comm) return SN_OK;
    const char *sp = getenv("SNNC_SHARE_PACKING");
    if (!t->share && (!sp || strcmp(sp, "0") != 0) &&
        sn_prep_share_attach(&t->share, &t->tp, t->comm, st))
        return st->code;
    if (t->nccl || t->tp.backend[0] == '\0' || strcmp(t->tp.backend, "cuda") != 0) return SN_OK;
    /* the gradients stay on the GPUs: NCCL sums them where the CUDA plan says they are
     * complete */
    if (sn_nccl_open(&t->nccl, t->comm, st)) return st->code;
    t->tp.dev_hook.fn = dev_grads;
    t->tp.dev_hook.arg = t;
    return SN_OK;
}

sn_code sn_trainer_broadcast(sn_trainer *t, sn_status *st) {
    if (!t->comm) return SN_OK;
    if (bcast_store(t, &t->w, 0, st)) return st->code;
    for (int k = 0; k < t->nslots; k++)
        if (bcast_store(t, &t->slots[k], 0, st)) return st->code;
    return sn_comm_bcast(t->comm, &t->step, sizeof t->step, 0, st);
}

/* 64-bit hash of a store's bytes, eight at a time */
static uint64_t hash_store(uint64_t h, const sn_weights *w) {
    for (int i = 0; i < w->n; i++) {
        size_t n = tensor_bytes(&w->desc[i]);
        const unsigned char *p = w->data[i];
        size_t k = 0;
        for (; k + 8 <= n; k += 8) {
            uint64_t v;
            memcpy(&v, p + k, 8);
            h = (h ^ v) * 0x100000001b3ULL;
            h ^= h >> 29;
        }
        h = sn_hash64(h, p + k, n - k);
    }
    return h;
}

sn_code sn_trainer_check_ranks(sn_trainer *t, sn_status *st) {
    if (!t->comm) return SN_OK;
    if (sync_buffers(t, st) || sn_plan_sync_weights(&t->tp, st)) return st->code;
    uint64_t h = hash_store(SN_HASH_INIT, &t->w);
    for (int k = 0; k < t->nslots; k++) h = hash_store(h, &t->slots[k]);
    uint64_t *all = sn_calloc((size_t)t->comm->size, sizeof *all);
    if (!all) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_code rc = sn_comm_allgather(t->comm, &h, all, sizeof h, st);
    for (int r = 1; rc == SN_OK && r < t->comm->size; r++)
        if (all[r] != all[0])
            rc = sn_fail(st, SN_ERR_RUNTIME,
                         "rank %d's weights differ from rank 0's after step %lld: the ranks "
                         "diverged (the MPI library's sums differ between ranks?)",
                         r, (long long)t->step);
    free(all);
    return rc;
}

void sn_trainer_free(sn_trainer *t) {
    sn_prep_share_free(t->share);
    sn_reducer_free(t->reducer);
    sn_nccl_close(t->nccl);
    sn_pool_destroy(t->pool);
    sn_plan_free(&t->tp);
    sn_plan_free(&t->ep);
    sn_backend_free(&t->tbe);
    sn_backend_free(&t->ebe);
    for (int k = 0; k < 2; k++) sn_weights_free(&t->slots[k]);
    sn_weights_free(&t->w);
    sn_graph_free(&t->tg);
    sn_graph_free(&t->eg);
    memset(t, 0, sizeof *t);
}

sn_code sn_trainer_step(sn_trainer *t, const float *x, const int32_t *y, double lr, double *loss,
                        int64_t *correct, sn_status *st) {
    sn_plan *p = &t->tp;
    int64_t nx = sn_shape_numel(&p->bufs[p->in_buf].shape);
    memcpy(sn_plan_f32(p, p->in_buf), x, (size_t)nx * sizeof(float));
    memcpy(p->bufs[p->label_buf].ptr, y, (size_t)t->batch * sizeof(int32_t));
    p->lr = (float)lr;
    p->step = t->step + 1;
    /* the weights changed at the end of the last step: repack what the kernels read */
    if (sn_plan_prepare(p, t->pool, st)) return st->code;
    if (sn_plan_run(p, t->pool, sn_mix64(t->seed ^ sn_mix64((uint64_t)t->step + 1)), 1, st))
        return st->code;
    t->step++;
    *loss = *(const float *)p->bufs[p->loss_buf].ptr;
    *correct = sn_ref_topk_correct(t->batch, p->num_classes, sn_plan_f32(p, p->out_buf), y, 1);
    t->stop_agreed = t->stop_request;
    if (!t->comm) return SN_OK;
    /* the global batch's loss (each rank's is the mean over its images) and accuracy, and
     * whether any rank was asked to stop */
    double v[3] = {*loss * (double)t->batch, (double)*correct, t->stop_request ? 1.0 : 0.0};
    double t0 = sn_now();
    if (sn_comm_allreduce_f64(t->comm, v, 3, st)) return st->code;
    t->stats_seconds += sn_now() - t0;
    *loss = v[0] / (double)t->gbatch;
    *correct = (int64_t)v[1];
    t->stop_agreed = v[2] > 0;
    return SN_OK;
}

sn_code sn_trainer_evaluate(sn_trainer *t, const sn_dataset *ds, const sn_transform *tf,
                            int64_t limit, int topk, sn_eval_result *r, sn_eval_progress_fn fn,
                            void *arg, sn_status *st) {
    if (sync_buffers(t, st) || sn_plan_prepare(&t->ep, t->pool, st)) return st->code;
    if (!t->comm)
        return sn_evaluate(&t->ep, t->pool, ds, tf, limit, topk, t->seed, NULL, r, fn, arg, st);
    if (sn_evaluate_part(&t->ep, t->pool, ds, tf, limit, topk, t->seed, t->comm->rank,
                         t->comm->size, r, fn, arg, st))
        return st->code;
    double v[4] = {(double)r->n, (double)r->correct1, (double)r->correctk, r->run_seconds};
    if (sn_comm_allreduce_f64(t->comm, v, 4, st)) return st->code;
    r->n = (int64_t)v[0];
    r->correct1 = (int64_t)v[1];
    r->correctk = (int64_t)v[2];
    return SN_OK;
}
