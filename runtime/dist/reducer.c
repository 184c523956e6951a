/* Bucketed gradient sums over the ranks, overlapped with backward. See reducer.h. */
#include "reducer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

enum { IDLE = 0, FLIGHT, DONE };

typedef struct bucket {
    int first, count; /* members: order[first .. first + count) */
    int64_t floats;
    float *buf; /* the flat buffer of a bucket of several gradients (NULL for one) */
    float *sum; /* what is being summed: buf, or the one gradient's own buffer */
    int ready;  /* start after this step */
    int need;   /* wait before this step */
    int state;
    sn_comm_req *req;
} bucket;

struct sn_reducer {
    sn_plan *p;
    sn_comm *c;
    float scale;
    double rank_weight;
    int *order;      /* gradient indices, in the order the backward pass completes them */
    int64_t *offset; /* per gradient: its offset in its bucket */
    void **home;     /* per gradient: its buffer's own memory, given back at free */
    bucket *b;
    int nb;
    sn_reducer_stats stats;
};

/* A gradient's place in a bucket of several: its whole buffer (kernels may write padded
 * lanes past its n floats), 64-byte aligned like the arena's buffers. The gaps (zeros) are
 * summed with the rest and never read as gradients. */
static int64_t room(const sn_plan *p, int g) {
    int64_t n = p->grads[g].n * 4, b = p->bufs[p->grads[g].buf].bytes;
    return ((n > b ? n : b) + 63) / 64 * 64;
}

static int last_touch_before(const sn_plan *p, int buf, int before) {
    for (int s = before - 1; s >= 0; s--)
        for (int k = 0; k < p->steps[s].nbufs; k++)
            if (p->steps[s].bufs[k] == buf) return s;
    return 0;
}

/* The kernels write each gradient straight into its bucket (a bucket of several gradients
 * has them side by side in its flat buffer, see sn_reducer_attach), so a bucket is summed
 * where it lies: only scaled first. */
static void scale_in(sn_reducer *r, bucket *b) {
    const sn_plan *p = r->p;
    b->sum = b->buf ? b->buf : p->bufs[p->grads[r->order[b->first]].buf].ptr;
    if (r->scale != 1.0f)
        for (int64_t i = 0; i < b->floats; i++) b->sum[i] *= r->scale;
}

static sn_code wait_bucket(sn_reducer *r, bucket *b, sn_status *st) {
    if (b->state != FLIGHT) return SN_OK;
    double t0 = sn_now();
    sn_code rc = sn_comm_wait(r->c, b->req, st);
    r->stats.wait_seconds += sn_now() - t0;
    b->req = NULL;
    b->state = DONE;
    return rc;
}

static sn_code hook_before(void *arg, sn_plan *p, int step, sn_status *st) {
    sn_reducer *r = arg;
    if (step == 0) { /* a run that failed half-way may have left sums in flight */
        for (int i = 0; i < r->nb; i++) {
            if (wait_bucket(r, &r->b[i], st)) return st->code;
            r->b[i].state = IDLE;
        }
    }
    for (int i = 0; i < r->nb; i++) {
        bucket *b = &r->b[i];
        if (b->need != step) continue;
        if (b->state == DONE) r->stats.overlapped++;
        if (b->state == IDLE)
            return sn_fail(st, SN_ERR_RUNTIME,
                           "internal error: gradient bucket %d was never started (step %d)", i,
                           step);
        if (wait_bucket(r, b, st)) return st->code;
        b->state = IDLE;
    }
    if (step == p->nsteps - 1) r->stats.steps++;
    return SN_OK;
}

static sn_code hook_after(void *arg, sn_plan *p, int step, sn_status *st) {
    sn_reducer *r = arg;
    for (int i = 0; i < r->nb; i++) {
        bucket *b = &r->b[i];
        if (b->ready == step && b->state == IDLE) {
            double t0 = sn_now();
            scale_in(r, b);
            double t1 = sn_now();
            if (r->scale != 1.0f) r->stats.scale_seconds += t1 - t0;
            sn_code rc = sn_comm_iallreduce_f32(r->c, b->sum, b->floats, &b->req, st);
            r->stats.progress_seconds += sn_now() - t1;
            if (rc) return rc;
            b->state = b->req ? FLIGHT : DONE;
        } else if (b->state == FLIGHT) {
            int done = 0;
            double t0 = sn_now();
            sn_code rc = sn_comm_test(r->c, b->req, &done, st);
            r->stats.progress_seconds += sn_now() - t0;
            if (rc) return rc;
            if (done) {
                b->req = NULL;
                b->state = DONE;
            }
        }
    }
    return SN_OK;
}

/* Synchronized batch norm's per-channel sums (see sn_plan_coll). A rank's dy is the
 * gradient of its own mean loss, so its sums are 1/w times what they would be with the
 * global mean (w = this rank's images * ranks / global batch; 1 for equal shares): they are
 * scaled to a common footing for the sum and back after it. */
static sn_code coll_f64(void *arg, double *buf, int64_t n, int rank_weighted, sn_status *st) {
    sn_reducer *r = arg;
    double w = r->rank_weight;
    int scaled = rank_weighted && w != 1.0;
    if (scaled)
        for (int64_t i = 0; i < n; i++) buf[i] *= w;
    double t0 = sn_now();
    sn_code rc = sn_comm_allreduce_f64(r->c, buf, n, st);
    r->stats.wait_seconds += sn_now() - t0;
    if (scaled)
        for (int64_t i = 0; i < n; i++) buf[i] /= w;
    return rc;
}

sn_code sn_reducer_attach(sn_reducer **out, sn_plan *p, sn_comm *c, const sn_reducer_opts *o,
                          sn_status *st) {
    *out = NULL;
    if (p->step_major)
        return sn_fail(st, SN_ERR_INPUT,
                       "a step-major plan cannot be trained on several ranks (use the layer-major "
                       "schedule)");
    sn_reducer *r = sn_calloc(1, sizeof *r);
    if (!r) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    r->p = p;
    r->c = c;
    r->scale = o && o->scale > 0 ? (float)o->scale : 1.0f;
    r->rank_weight = o && o->rank_weight > 0 ? o->rank_weight : (double)r->scale * (double)c->size;
    int64_t cap = o && o->bucket_bytes > 0 ? o->bucket_bytes : (int64_t)4 << 20;
    int ng = p->ngrads;
    r->order = sn_calloc((size_t)(ng ? ng : 1), sizeof *r->order);
    r->offset = sn_calloc((size_t)(ng ? ng : 1), sizeof *r->offset);
    r->home = sn_calloc((size_t)(ng ? ng : 1), sizeof *r->home);
    int *ready = sn_calloc((size_t)(ng ? ng : 1), sizeof *ready);
    r->b = sn_calloc((size_t)(ng ? ng : 1), sizeof *r->b);
    if (!r->order || !r->offset || !r->home || !ready || !r->b) {
        free(ready);
        sn_reducer_free(r);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    for (int g = 0; g < ng; g++) {
        ready[g] = last_touch_before(p, p->grads[g].buf, p->grads[g].update);
        r->order[g] = g;
    }
    /* completion order (stable: the plan's order among gradients completed by one step) */
    for (int i = 1; i < ng; i++)
        for (int j = i; j > 0 && ready[r->order[j]] < ready[r->order[j - 1]]; j--) {
            int t = r->order[j];
            r->order[j] = r->order[j - 1];
            r->order[j - 1] = t;
        }
    for (int i = 0; i < ng;) {
        bucket *b = &r->b[r->nb++];
        b->first = i;
        b->need = p->nsteps;
        int64_t bytes = 0;
        for (; i < ng && (bytes == 0 || bytes + room(p, r->order[i]) <= cap); i++) {
            const sn_plan_grad *g = &p->grads[r->order[i]];
            r->offset[r->order[i]] = bytes / 4;
            bytes += room(p, r->order[i]);
            b->count++;
            if (ready[r->order[i]] > b->ready) b->ready = ready[r->order[i]];
            if (g->update < b->need) b->need = g->update;
            if (bytes >= cap) {
                i++;
                break;
            }
        }
        /* one gradient: summed in its own buffer, its n floats */
        b->floats = b->count == 1 ? p->grads[r->order[b->first]].n : bytes / 4;
        if (b->count > 1 && !(b->buf = sn_aligned_alloc((size_t)bytes))) {
            free(ready);
            sn_reducer_free(r);
            return sn_fail(st, SN_ERR_RUNTIME, "out of memory for a gradient bucket of %lld bytes",
                           (long long)bytes);
        }
        if (b->buf) memset(b->buf, 0, (size_t)bytes); /* the gaps between members stay 0 */
        /* the members' buffers move into the bucket: the steps that write and read a
         * gradient find it through the plan's buffer, so they now use the bucket's memory
         * (its place in the arena stays unused) and nothing is copied in or out */
        for (int m = b->first; b->buf && m < b->first + b->count; m++) {
            sn_buffer *pb = &p->bufs[p->grads[r->order[m]].buf];
            r->home[r->order[m]] = pb->ptr;
            pb->ptr = b->buf + r->offset[r->order[m]];
        }
        r->stats.floats += b->floats;
    }
    free(ready);
    r->stats.nbuckets = r->nb;
    p->hook.before = hook_before;
    p->hook.after = hook_after;
    p->hook.arg = r;
    p->coll.allreduce_f64 = coll_f64;
    p->coll.arg = r;
    *out = r;
    return SN_OK;
}

void sn_reducer_free(sn_reducer *r) {
    if (!r) return;
    if (r->p && r->p->hook.arg == r) memset(&r->p->hook, 0, sizeof r->p->hook);
    if (r->p && r->p->coll.arg == r) memset(&r->p->coll, 0, sizeof r->p->coll);
    for (int i = 0; i < r->nb; i++) {
        bucket *b = &r->b[i];
        if (b->state == FLIGHT) { /* only after a failure: complete it before freeing */
            sn_status st;
            sn_status_init(&st);
            (void)sn_comm_wait(r->c, b->req, &st);
        }
        /* the plan's gradients go back to their own memory, with their values */
        for (int m = b->first; b->buf && m < b->first + b->count; m++) {
            const sn_plan_grad *g = &r->p->grads[r->order[m]];
            sn_buffer *pb = &r->p->bufs[g->buf];
            if (!r->home[r->order[m]]) continue;
            memcpy(r->home[r->order[m]], pb->ptr, (size_t)g->n * sizeof(float));
            pb->ptr = r->home[r->order[m]];
        }
        sn_aligned_free(b->buf);
    }
    free(r->b);
    free(r->order);
    free(r->offset);
    free(r->home);
    free(r);
}

void sn_reducer_stats_get(const sn_reducer *r, sn_reducer_stats *s) {
    *s = r->stats;
}

void sn_reducer_describe(const sn_reducer *r, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->nb && len + 1 < n; i++) {
        const bucket *b = &r->b[i];
        int w =
            snprintf(buf + len, n - len,
                     "bucket %d: %d gradients, %.2f MB, after step %d (%s), "
                     "needed by step %d (%s)\n",
                     i, b->count, (double)b->floats * 4 / 1e6, b->ready, r->p->steps[b->ready].name,
                     b->need, b->need < r->p->nsteps ? r->p->steps[b->need].name : "end");
        if (w < 0) break;
        len += (size_t)w;
    }
}
