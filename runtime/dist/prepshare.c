/* Weight packing shared by the ranks of one host. See prepshare.h. */
#define _DEFAULT_SOURCE /* madvise */
#include "prepshare.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "../core/util.h"

typedef struct out_buf {
    int buf;
    int owner;      /* the local rank whose step writes it */
    int64_t offset; /* in the shared memory */
    void *home;     /* the buffer's own memory, given back at free */
} out_buf;

struct sn_prep_share {
    sn_plan *p;
    sn_comm *c;
    sn_comm_shm *shm;
    char *mem;
    int *owner; /* per preparation step: the local rank that runs it, -1 = every rank */
    out_buf *outs;
    int nouts;
    sn_prep_share_stats stats;
};

/* While shared, a buffer's own memory is unused: its whole pages go back to the system (a
 * private mapping reads as zeros afterwards; sn_prep_share_free writes it again). */
static void release(void *home, int64_t bytes) {
#ifdef __linux__
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = (uintptr_t)home,
              lo = (a + pg - 1) / pg * pg, hi = (a + (uintptr_t)bytes) / pg * pg;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
#else
    (void)home;
    (void)bytes;
#endif
}

static int64_t room(const sn_plan *p, int buf) {
    return (p->bufs[buf].bytes + 63) / 64 * 64;
}

static int uses(const sn_step *s, int buf) {
    for (int k = 0; k < s->nbufs; k++)
        if (s->bufs[k] == buf) return 1;
    return 0;
}

/* Whether preparation step i can be shared: it has outputs, each an owned buffer that no
 * other preparation step touches (a step reading it could run before its owner packs it). */
static int sharable(const sn_plan *p, int i) {
    const sn_step *s = &p->prep[i];
    int any = 0;
    for (int k = 0; k < s->nbufs; k++) {
        if (!(s->out_mask >> k & 1u) || s->bufs[k] < 0) continue;
        const sn_buffer *b = &p->bufs[s->bufs[k]];
        if (b->kind != SN_BUF_OWNED || !b->ptr || b->bytes <= 0) return 0;
        for (int j = 0; j < p->nprep; j++)
            if (j != i && uses(&p->prep[j], s->bufs[k])) return 0;
        any = 1;
    }
    return any;
}

static int64_t out_bytes(const sn_plan *p, int i) {
    const sn_step *s = &p->prep[i];
    int64_t n = 0;
    for (int k = 0; k < s->nbufs; k++)
        if ((s->out_mask >> k & 1u) && s->bufs[k] >= 0) n += room(p, s->bufs[k]);
    return n;
}

static sn_code host_sync(sn_prep_share *s, sn_status *st) {
    double t0 = sn_now();
    sn_code rc = sn_comm_shm_sync(s->c, s->shm, st);
    s->stats.sync_seconds += sn_now() - t0;
    s->stats.syncs++;
    return rc;
}

static sn_code hook_begin(void *arg, sn_status *st) {
    return host_sync(arg, st);
}

static int hook_skip(void *arg, int i) {
    const sn_prep_share *s = arg;
    return s->owner[i] >= 0 && s->owner[i] != s->c->local_rank;
}

static sn_code hook_done(void *arg, sn_status *st) {
    return host_sync(arg, st);
}

static void share_free(sn_prep_share *s) {
    free(s->owner);
    free(s->outs);
    free(s);
}

sn_code sn_prep_share_attach(sn_prep_share **out, sn_plan *p, sn_comm *c, sn_status *st) {
    *out = NULL;
    if (c->local_size < 2 || p->nprep == 0) return SN_OK;
    sn_prep_share *s = sn_calloc(1, sizeof *s);
    int n = p->nprep;
    if (s) s->owner = sn_calloc((size_t)n, sizeof *s->owner);
    if (s && s->owner) s->outs = sn_calloc((size_t)n * SN_STEP_MAX_BUFS, sizeof *s->outs);
    if (!s || !s->owner || !s->outs) {
        if (s) share_free(s);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    s->p = p;
    s->c = c;
    /* the sharable steps, largest output first (stable), each to the least loaded rank */
    int *order = sn_calloc((size_t)n, sizeof *order);
    int64_t *size = sn_calloc((size_t)n, sizeof *size);
    int64_t *load = sn_calloc((size_t)c->local_size, sizeof *load);
    if (!order || !size || !load) {
        free(order);
        free(size);
        free(load);
        share_free(s);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    int m = 0;
    for (int i = 0; i < n; i++) {
        s->owner[i] = -1;
        if (!sharable(p, i)) continue;
        order[m++] = i;
        size[i] = out_bytes(p, i);
    }
    for (int a = 1; a < m; a++)
        for (int b = a; b > 0 && size[order[b]] > size[order[b - 1]]; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    int64_t total = 0;
    for (int a = 0; a < m; a++) {
        int i = order[a], r = 0;
        for (int q = 1; q < c->local_size; q++)
            if (load[q] < load[r]) r = q;
        s->owner[i] = r;
        load[r] += size[i];
        if (r == c->local_rank) {
            s->stats.own_steps++;
            s->stats.own_bytes += size[i];
        }
        const sn_step *ps = &p->prep[i];
        for (int k = 0; k < ps->nbufs; k++) {
            if (!(ps->out_mask >> k & 1u) || ps->bufs[k] < 0) continue;
            out_buf *o = &s->outs[s->nouts++];
            o->buf = ps->bufs[k];
            o->owner = r;
            o->offset = total;
            total += room(p, ps->bufs[k]);
        }
    }
    s->stats.shared_steps = m;
    s->stats.bytes = total;
    free(order);
    free(size);
    free(load);
    if (m == 0) { /* every rank of the host finds the same: none allocates */
        share_free(s);
        return SN_OK;
    }
    void *mem = NULL;
    if (sn_comm_shm_alloc(c, total, &s->shm, &mem, st)) {
        share_free(s);
        return st->code;
    }
    if (!s->shm) {
        share_free(s);
        return SN_OK;
    }
    s->mem = mem;
    /* each buffer's owner brings what it holds (every rank packed it when the plan was
     * bound); from here on the plan's buffers are the shared ones */
    for (int a = 0; a < s->nouts; a++) {
        out_buf *o = &s->outs[a];
        sn_buffer *b = &p->bufs[o->buf];
        o->home = b->ptr;
        b->ptr = s->mem + o->offset;
        if (o->owner == c->local_rank) memcpy(b->ptr, o->home, (size_t)b->bytes);
        release(o->home, b->bytes);
    }
    if (sn_comm_shm_sync(c, s->shm, st)) { /* (not a preparation's: not in the stats) */
        sn_prep_share_free(s);
        return st->code;
    }
    p->prep_hook.begin = hook_begin;
    p->prep_hook.skip = hook_skip;
    p->prep_hook.done = hook_done;
    p->prep_hook.arg = s;
    *out = s;
    return SN_OK;
}

void sn_prep_share_free(sn_prep_share *s) {
    if (!s) return;
    sn_plan *p = s->p;
    if (p->prep_hook.arg == s) memset(&p->prep_hook, 0, sizeof p->prep_hook);
    /* no rank packs any more; each takes the packed values back into its own buffers */
    sn_status st;
    sn_status_init(&st);
    (void)sn_comm_shm_sync(s->c, s->shm, &st);
    for (int a = 0; a < s->nouts; a++) {
        sn_buffer *b = &p->bufs[s->outs[a].buf];
        if (!s->outs[a].home) continue;
        memcpy(s->outs[a].home, b->ptr, (size_t)b->bytes);
        b->ptr = s->outs[a].home;
    }
    sn_comm_shm_free(s->c, s->shm);
    share_free(s);
}

void sn_prep_share_stats_get(const sn_prep_share *s, sn_prep_share_stats *out) {
    if (s)
        *out = s->stats;
    else
        memset(out, 0, sizeof *out);
}
