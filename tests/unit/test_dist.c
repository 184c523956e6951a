/* Data-parallel training's pieces that need no MPI job: how a batch is split over ranks
 * (sn_loader_part and loaders that take one part: the parts put together are the whole
 * batch, augmentation included), global element indices (sn_batch_index) and the random
 * draws that use them (a rank's dropout masks and Poisson spikes are the corresponding
 * slice of the whole batch's), the gradient reducer against a stand-in communicator
 * (buckets, scaling, start after the step that completes a bucket, wait before the
 * optimizer step), the weight packing shared by a host's ranks, the collective plan step,
 * the launcher detection, and the one-rank communicator. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/data/loader.h"
#include "runtime/dist/comm.h"
#include "runtime/dist/prepshare.h"
#include "runtime/dist/reducer.h"
#include "runtime/exec/plan.h"
#include "runtime/ref/ref_ops.h"

static void test_parts(void) {
    for (int64_t batch = 1; batch <= 40; batch++)
        for (int ranks = 1; ranks <= 7 && ranks <= batch; ranks++) {
            int64_t next = 0, lo = batch, hi = 0;
            for (int r = 0; r < ranks; r++) {
                int64_t first, count;
                sn_loader_part(batch, r, ranks, &first, &count);
                CHECK_EQ_INT(first, next);
                CHECK(count >= 1);
                lo = SN_MIN(lo, count);
                hi = count > hi ? count : hi;
                next = first + count;
            }
            CHECK_EQ_INT(next, batch);
            CHECK(hi - lo <= 1);
        }
    int64_t f, c;
    sn_loader_part(16, 0, 3, &f, &c);
    CHECK(f == 0 && c == 6);
    sn_loader_part(16, 2, 3, &f, &c);
    CHECK(f == 11 && c == 5);
}

static sn_dataset make_ds(int64_t n) {
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = n;
    ds.c = 2;
    ds.h = ds.w = 6;
    ds.num_classes = 10;
    ds.pixels = malloc((size_t)n * 72);
    ds.labels = malloc(sizeof(int32_t) * (size_t)n);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    for (int64_t i = 0; i < n; i++) {
        ds.labels[i] = (int32_t)(i % 10);
        for (int k = 0; k < 72; k++) ds.pixels[i * 72 + k] = (uint8_t)((i * 37 + k * 11) & 255);
    }
    return ds;
}

/* every rank's loader, put together, gives the whole batch, augmented the same */
static void test_loader_parts(void) {
    sn_dataset ds = make_ds(53);
    sn_transform tf;
    memset(&tf, 0, sizeof tf);
    tf.out_h = tf.out_w = 6;
    tf.scale = 1.0f / 255.0f;
    tf.train = 1;
    tf.random_crop = 1;
    tf.crop_padding = 2;
    tf.hflip = 1;
    tf.brightness = 30.0f;
    sn_status st;
    sn_status_init(&st);
    const int64_t B = 10;
    sn_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = B;
    o.shuffle = 1;
    o.drop_last = 1;
    o.seed = 99;
    sn_loader *whole = NULL;
    CHECK(sn_loader_create(&whole, &ds, &tf, &o, &st) == SN_OK);
    for (int ranks = 2; ranks <= 4 && whole; ranks++) {
        sn_loader *part[4] = {NULL};
        int64_t first[4], count[4];
        for (int r = 0; r < ranks; r++) {
            sn_loader_opts po = o;
            po.background = r % 2; /* inline and threaded alike */
            sn_loader_part(B, r, ranks, &first[r], &count[r]);
            po.part_first = first[r];
            po.part_count = count[r];
            CHECK(sn_loader_create(&part[r], &ds, &tf, &po, &st) == SN_OK);
        }
        CHECK_MSG(sn_ok(&st), "%s", st.msg);
        for (int epoch = 0; epoch < 2; epoch++) {
            sn_loader_start(whole, (uint64_t)epoch, 1); /* a resumed epoch too */
            for (int r = 0; r < ranks; r++)
                if (part[r]) sn_loader_start(part[r], (uint64_t)epoch, 1);
            for (int b = 1; b < 5; b++) {
                const float *x;
                const int32_t *y;
                CHECK_EQ_INT(sn_loader_next(whole, &x, &y), B);
                for (int r = 0; r < ranks; r++) {
                    const float *px;
                    const int32_t *py;
                    if (!part[r]) continue;
                    CHECK_EQ_INT(sn_loader_next(part[r], &px, &py), count[r]);
                    CHECK(memcmp(px, x + first[r] * 72, (size_t)count[r] * 72 * sizeof(float)) ==
                          0);
                    CHECK(memcmp(py, y + first[r], (size_t)count[r] * sizeof(int32_t)) == 0);
                }
            }
        }
        for (int r = 0; r < ranks; r++) sn_loader_destroy(part[r]);
    }
    /* a part outside the batch is refused */
    sn_loader_opts bad = o;
    bad.part_first = 8;
    bad.part_count = 3;
    sn_loader *l = NULL;
    sn_status_init(&st);
    CHECK(sn_loader_create(&l, &ds, &tf, &bad, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "outside a batch of 10");
    sn_loader_destroy(whole);
    free(ds.pixels);
    free(ds.labels);
}

static void test_batch_index(void) {
    /* one process: the identity */
    for (uint64_t i = 0; i < 100; i++) CHECK(sn_batch_index(i, 5, 4, 0, 4) == i);
    /* [T = 2, nl = 3, per = 4] of a global batch of 10 from image 5: element (t, n, k) is
     * global element (t, 5 + n, k) of [2, 10, 4] */
    for (int t = 0; t < 2; t++)
        for (int n = 0; n < 3; n++)
            for (int k = 0; k < 4; k++) {
                uint64_t local = (uint64_t)((t * 3 + n) * 4 + k);
                uint64_t global = (uint64_t)((t * 10 + 5 + n) * 4 + k);
                CHECK(sn_batch_index(local, 4, 3, 5, 10) == global);
            }
}

/* A rank's dropout masks and Poisson spikes are the slices of the whole batch's. */
static void test_draws(void) {
    enum { NG = 7, PER = 5, T = 3 };
    float x[T * NG * PER], y[T * NG * PER], s[T * NG * PER];
    for (int i = 0; i < T * NG * PER; i++) x[i] = 0.05f + 0.9f * (float)((i * 7) % 11) / 10.0f;
    uint8_t mask[T * NG * PER];
    sn_ref_dropout_part(T * NG * PER, 0.4f, 1, 123, 9, PER, NG, 0, NG, x, y, mask);
    int64_t bad = sn_ref_encode_poisson_part(0, 0, T, NG * PER, 77, x, s);
    CHECK_EQ_INT(bad, 0);
    for (int ranks = 2; ranks <= 3; ranks++)
        for (int r = 0; r < ranks; r++) {
            int64_t s0, nl;
            sn_loader_part(NG, r, ranks, &s0, &nl);
            float px[T * NG * PER], py[T * NG * PER], ps[T * NG * PER];
            uint8_t pm[T * NG * PER];
            for (int t = 0; t < T; t++)
                memcpy(px + t * nl * PER, x + (t * NG + s0) * PER,
                       sizeof(float) * (size_t)(nl * PER));
            sn_ref_dropout_part(T * nl * PER, 0.4f, 1, 123, 9, PER, nl, s0, NG, px, py, pm);
            for (int t = 0; t < T; t++)
                CHECK(memcmp(pm + t * nl * PER, mask + (t * NG + s0) * PER, (size_t)(nl * PER)) ==
                      0);
            /* Poisson: the image [nl, PER] of one time step, T steps of spikes */
            sn_ref_encode_poisson_part((uint64_t)(s0 * PER), 0, T, nl * PER, 77, x + s0 * PER, ps);
            for (int t = 0; t < T; t++)
                CHECK(memcmp(ps + t * nl * PER, s + t * NG * PER + s0 * PER,
                             sizeof(float) * (size_t)(nl * PER)) == 0);
        }
}

/* ---- the reducer against a stand-in communicator of `size` ranks that all hold the same
 * values (a sum over them is size times the value) and records the calls ---- */

typedef struct fake {
    int starts, tests, waits, f64;
    int64_t started[16];
} fake;
static fake F;

struct sn_comm_req {
    float *buf;
    int64_t n;
    int size;
};

static sn_code f_iallreduce(sn_comm *c, float *buf, int64_t n, sn_comm_req **req, sn_status *st) {
    sn_comm_req *q = malloc(sizeof *q);
    q->buf = buf;
    q->n = n;
    q->size = c->size;
    if (F.starts < 16) F.started[F.starts] = n;
    F.starts++;
    *req = q;
    return SN_OK;
}
static void finish(sn_comm_req *q) {
    for (int64_t i = 0; i < q->n; i++) q->buf[i] *= (float)q->size;
    free(q);
}
static sn_code f_test(sn_comm *c, sn_comm_req *req, int *done, sn_status *st) {
    F.tests++;
    *done = F.tests % 2 == 0; /* every other test completes it */
    if (*done) finish(req);
    return SN_OK;
}
static sn_code f_wait(sn_comm *c, sn_comm_req *req, sn_status *st) {
    F.waits++;
    finish(req);
    return SN_OK;
}
static sn_code f_f64(sn_comm *c, double *buf, int64_t n, sn_status *st) {
    F.f64++;
    for (int64_t i = 0; i < n; i++) buf[i] *= (double)c->size;
    return SN_OK;
}
static sn_code f_i64(sn_comm *c, int64_t *buf, int64_t n, sn_status *st) {
    return SN_OK;
}
static sn_code f_bcast(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st) {
    return SN_OK;
}
static sn_code f_allgather(sn_comm *c, const void *mine, void *all, int64_t bytes, sn_status *st) {
    for (int r = 0; r < c->size; r++) memcpy((char *)all + r * bytes, mine, (size_t)bytes);
    return SN_OK;
}
static void f_abort(sn_comm *c, int code) {}
static void f_close(sn_comm *c) {}
/* shared memory of a host of local_size ranks, as this process sees it */
static struct {
    void *mem;
    int64_t bytes;
    int allocs, syncs, frees;
} SH;
struct sn_comm_shm {
    int unused;
};
static sn_comm_shm fake_shm;
static sn_code f_shm_alloc(sn_comm *c, int64_t bytes, sn_comm_shm **shm, void **ptr,
                           sn_status *st) {
    SH.allocs++;
    SH.bytes = bytes;
    SH.mem = sn_aligned_alloc((size_t)bytes);
    /* what another rank packed before this one attached */
    memset(SH.mem, 0x7f, (size_t)bytes);
    *shm = &fake_shm;
    *ptr = SH.mem;
    return SN_OK;
}
static sn_code f_shm_sync(sn_comm *c, sn_comm_shm *shm, sn_status *st) {
    SH.syncs++;
    return SN_OK;
}
static void f_shm_free(sn_comm *c, sn_comm_shm *shm) {
    SH.frees++;
    sn_aligned_free(SH.mem);
}
static const sn_comm_ops fake_ops = {f_iallreduce, f_test,      f_wait,      f_f64,
                                     f_i64,        f_bcast,     f_allgather, f_abort,
                                     f_close,      f_shm_alloc, f_shm_sync,  f_shm_free};

/* plan steps: "produce" writes gradient buffer b (value base + i), "update" checks it */
typedef struct step_p {
    float base;
} step_p;
static void k_produce(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const sn_plan *pl = c->plan;
    float *g = b[0];
    const step_p *sp = p;
    int64_t n = 0;
    for (int i = 0; i < pl->nbufs; i++)
        if (pl->bufs[i].ptr == b[0]) n = pl->bufs[i].bytes / 4;
    for (int64_t i = 0; i < n; i++) g[i] = sp->base + (float)i;
}
static void k_noop(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {}

static void test_reducer(void) {
    sn_status st;
    sn_status_init(&st);
    sn_plan p;
    sn_plan_init(&p);
    p.batch = 4;
    /* gradients of 3000, 10 and 2000 floats (and their parameters) */
    int64_t sizes[3] = {3000, 10, 2000};
    int g[3], w[3];
    for (int k = 0; k < 3; k++) {
        char name[32];
        sn_shape s = sn_shape1(sizes[k]);
        snprintf(name, sizeof name, "grad%d", k);
        g[k] = sn_plan_add_buffer(&p, name, SN_F32, &s, SN_BUF_ARENA, &st);
        snprintf(name, sizeof name, "w%d", k);
        w[k] = sn_plan_add_buffer(&p, name, SN_F32, &s, SN_BUF_ARENA, &st);
    }
    /* backward produces grad 2, then 1, then 0 (steps 0, 1, 2; step 3 touches nothing), the
     * updates (steps 4..6) read them in the plan's order 0, 1, 2 */
    step_p sp[3] = {{100.0f}, {200.0f}, {300.0f}};
    int order[3] = {2, 1, 0};
    for (int k = 0; k < 3; k++)
        sn_plan_add_step(&p, "backward", "produce", k_produce, &sp[order[k]], sizeof sp[0],
                         &g[order[k]], 1, 1, &st);
    sn_plan_add_step(&p, "other", "noop", k_noop, NULL, 0, NULL, 0, 1, &st);
    for (int k = 0; k < 3; k++) {
        int bufs[2] = {w[k], g[k]};
        int s = sn_plan_add_step(&p, "update", "noop", k_noop, NULL, 0, bufs, 2, 1, &st);
        CHECK(sn_plan_add_grad(&p, w[k], g[k], sizes[k], s, &st) == SN_OK);
    }
    CHECK(sn_plan_add_grad(&p, w[0], g[0], 1 << 20, 4, &st) == SN_ERR_RUNTIME); /* too big */
    sn_status_init(&st);
    CHECK(sn_plan_bind(&p, NULL, &st) == SN_OK);

    sn_comm c;
    memset(&c, 0, sizeof c);
    c.ops = &fake_ops;
    c.rank = 1;
    c.size = 3;
    memset(&F, 0, sizeof F);
    sn_reducer *r = NULL;
    /* 9000-byte buckets: {grad2 (8000 B)}, {grad1, grad0 (40 + 12000 B: over, alone after the
     * first)}: grad1 joins grad2's bucket if it fits (8040 <= 9000), then grad0 alone */
    sn_reducer_opts ro = {9000, 0.25, 0.0}; /* rank weight 0: 0.25 x 3 ranks */
    CHECK(sn_reducer_attach(&r, &p, &c, &ro, &st) == SN_OK);
    sn_reducer_stats rs;
    sn_reducer_stats_get(r, &rs);
    CHECK_EQ_INT(rs.nbuckets, 2);
    /* grad1's 10 floats take a 64-byte place after grad2's 2000 in their bucket */
    CHECK_EQ_INT(rs.floats, 5016);
    /* the kernels write the bucket's gradients in place: side by side in one buffer */
    void *home1 = NULL;
    CHECK((float *)p.bufs[g[1]].ptr == (float *)p.bufs[g[2]].ptr + 2000);
    home1 = (char *)p.arena + p.bufs[g[1]].offset;
    CHECK(p.bufs[g[1]].ptr != home1);
    CHECK(p.bufs[g[0]].ptr == (char *)p.arena + p.bufs[g[0]].offset); /* alone: its own */
    char desc[1024];
    sn_reducer_describe(r, desc, sizeof desc);
    CHECK_CONTAINS(desc, "bucket 0: 2 gradients");
    CHECK_CONTAINS(desc, "after step 1");
    CHECK_CONTAINS(desc, "bucket 1: 1 gradients");
    CHECK_CONTAINS(desc, "after step 2");
    for (int run = 0; run < 2; run++) {
        memset(&F, 0, sizeof F);
        CHECK(sn_plan_run(&p, NULL, 1, 1, &st) == SN_OK);
        CHECK_MSG(sn_ok(&st), "%s", st.msg);
        CHECK_EQ_INT(F.starts, 2);
        CHECK_EQ_INT(F.started[0], 2016);
        CHECK_EQ_INT(F.started[1], 3000);
        /* the sums: 3 ranks x 0.25 x the gradient */
        for (int k = 0; k < 3; k++) {
            const float *v = p.bufs[g[k]].ptr;
            float base = sp[k].base;
            for (int64_t i = 0; i < sizes[k]; i += 7)
                CHECK_CLOSE(v[i], 0.75f * (base + (float)i), 0, 1e-6);
        }
    }
    sn_reducer_stats_get(r, &rs);
    CHECK_EQ_INT(rs.steps, 2);
    /* the collective step (synchronized batch norm) through the reducer, rank-weighted: this
     * rank's weight is 0.25 x 3 */
    double sums[4] = {1, 2, 3, 4};
    sn_kctx kc;
    memset(&kc, 0, sizeof kc);
    kc.plan = &p;
    kc.st = &st;
    sn_coll_params cp = {4, 0};
    void *ptrs[1] = {sums};
    F.f64 = 0;
    sn_plan_collective_step(&kc, &cp, ptrs, 0, 1);
    CHECK(sums[3] == 12.0 && F.f64 == 1);
    cp.rank_weighted = 1;
    sn_plan_collective_step(&kc, &cp, ptrs, 0, 1);
    CHECK_CLOSE(sums[3], 36.0, 0, 1e-12); /* (12 * 0.75) * 3 / 0.75 */
    sn_reducer_free(r);
    CHECK(p.hook.before == NULL && p.coll.allreduce_f64 == NULL);
    /* the gradients are back in their own memory, with the last sums */
    CHECK(p.bufs[g[1]].ptr == home1);
    CHECK_CLOSE(((const float *)p.bufs[g[1]].ptr)[9], 0.75f * (200.0f + 9.0f), 0, 1e-6);
    /* without a communicator the collective step is the identity */
    sn_plan_collective_step(&kc, &cp, ptrs, 0, 1);
    CHECK(sums[3] == 36.0);
    /* a plan whose loss gradient is over the global batch (sn_plan.loss_over_gbatch): its
     * gradients are summed as they are, and its rank-weighted sums are already on the
     * common footing */
    sn_reducer_opts ro1 = {9000, 1.0, 1.0};
    CHECK(sn_reducer_attach(&r, &p, &c, &ro1, &st) == SN_OK);
    memset(&F, 0, sizeof F);
    CHECK(sn_plan_run(&p, NULL, 1, 1, &st) == SN_OK);
    for (int k = 0; k < 3; k++) {
        const float *v = p.bufs[g[k]].ptr;
        for (int64_t i = 0; i < sizes[k]; i += 7)
            CHECK_CLOSE(v[i], 3.0f * (sp[k].base + (float)i), 0, 1e-6);
    }
    sn_reducer_stats_get(r, &rs);
    CHECK(rs.scale_seconds == 0.0); /* nothing to scale */
    sn_plan_collective_step(&kc, &cp, ptrs, 0, 1);
    CHECK_CLOSE(sums[3], 108.0, 0, 1e-12); /* 36 * 3, unweighted */
    sn_reducer_free(r);
    /* a step-major plan cannot be reduced */
    p.step_major = 1;
    CHECK(sn_reducer_attach(&r, &p, &c, &ro, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "step-major");
    sn_plan_free(&p);
}

/* preparation steps: "pack" fills its output with the step's value and counts its runs */
static int packs[8];
static void k_pack(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const step_p *sp = p;
    const sn_plan *pl = c->plan;
    int k = (int)sp->base;
    packs[k]++;
    for (int i = 0; i < pl->nbufs; i++)
        if (pl->bufs[i].ptr == b[1])
            for (int64_t j = 0; j < pl->bufs[i].bytes / 4; j++) ((float *)b[1])[j] = sp->base;
}

/* The weight packing shared by a host's ranks, seen from local rank 1 of 2: which steps it
 * runs, the buffers in shared memory, the barriers around each preparation, the buffers
 * given back at free. */
static void test_prep_share(void) {
    sn_status st;
    sn_status_init(&st);
    sn_plan p;
    sn_plan_init(&p);
    sn_shape s1 = sn_shape1(16);
    int w = sn_plan_add_buffer(&p, "w", SN_F32, &s1, SN_BUF_ARENA, &st);
    /* outputs of 1000, 3000, 2000 and 500 floats; step 3's is also read by step 4 */
    int64_t sizes[4] = {1000, 3000, 2000, 500};
    int out[4];
    step_p sp[5] = {{0.0f}, {1.0f}, {2.0f}, {3.0f}, {4.0f}};
    for (int k = 0; k < 4; k++) {
        char name[32];
        snprintf(name, sizeof name, "packed%d", k);
        sn_shape s = sn_shape1(sizes[k]);
        out[k] = sn_plan_add_buffer(&p, name, SN_F32, &s, SN_BUF_OWNED, &st);
        int bufs[2] = {w, out[k]};
        int i = sn_plan_add_prep(&p, "layer", "pack", k_pack, &sp[k], sizeof sp[k], bufs, 2, &st);
        p.prep[i].out_mask = 1u << 1;
    }
    int bufs4[2] = {out[3], out[3]};
    sn_plan_add_prep(&p, "reader", "pack", k_pack, &sp[4], sizeof sp[4], bufs4, 2, &st);
    memset(packs, 0, sizeof packs);
    CHECK(sn_plan_bind(&p, NULL, &st) == SN_OK);
    for (int k = 0; k < 5; k++) CHECK_EQ_INT(packs[k], 1);

    sn_comm c;
    memset(&c, 0, sizeof c);
    c.ops = &fake_ops;
    c.rank = 3;
    c.size = 4;
    c.local_rank = 1;
    c.local_size = 2;
    memset(&SH, 0, sizeof SH);
    void *home[4];
    for (int k = 0; k < 4; k++) home[k] = p.bufs[out[k]].ptr;
    sn_prep_share *sh = NULL;
    CHECK(sn_prep_share_attach(&sh, &p, &c, &st) == SN_OK && sh);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    /* largest first to the least loaded rank: 3000 -> rank 0, 2000 -> 1, 1000 -> 1; the
     * output step 4 reads stays each rank's own */
    sn_prep_share_stats ps;
    sn_prep_share_stats_get(sh, &ps);
    CHECK_EQ_INT(ps.shared_steps, 3);
    CHECK_EQ_INT(ps.own_steps, 2);
    CHECK_EQ_INT(ps.bytes, 12032 + 8000 + 4032); /* 64-byte places */
    CHECK_EQ_INT(ps.own_bytes, 8000 + 4032);
    CHECK_EQ_INT(SH.allocs, 1);
    CHECK_EQ_INT(SH.bytes, ps.bytes);
    char *lo = SH.mem, *hi = lo + SH.bytes;
    for (int k = 0; k < 3; k++) {
        char *b = p.bufs[out[k]].ptr;
        CHECK(b >= lo && b + sizes[k] * 4 <= hi && ((uintptr_t)b & 63) == 0);
    }
    CHECK(p.bufs[out[3]].ptr == home[3]);
    /* this rank brought its own packed values; rank 0's buffer is as rank 0 left it */
    CHECK(((float *)p.bufs[out[2]].ptr)[1999] == 2.0f);
    CHECK(((float *)p.bufs[out[0]].ptr)[999] == 0.0f);
    CHECK(((unsigned char *)p.bufs[out[1]].ptr)[0] == 0x7f);
    CHECK_EQ_INT(SH.syncs, 1);
    /* a preparation: a barrier, this rank's steps and the unshared ones, a barrier */
    memset(packs, 0, sizeof packs);
    sp[0].base = 0.0f;
    CHECK(sn_plan_prepare(&p, NULL, &st) == SN_OK);
    CHECK(packs[0] == 1 && packs[1] == 0 && packs[2] == 1 && packs[3] == 1 && packs[4] == 1);
    CHECK_EQ_INT(SH.syncs, 3);
    /* free: the buffers go back to their own memory with what the shared memory held */
    ((float *)p.bufs[out[1]].ptr)[5] = 42.0f; /* rank 0's packing */
    sn_prep_share_free(sh);
    CHECK(p.prep_hook.skip == NULL);
    for (int k = 0; k < 4; k++) CHECK(p.bufs[out[k]].ptr == home[k]);
    CHECK(((float *)p.bufs[out[1]].ptr)[5] == 42.0f);
    CHECK(((float *)p.bufs[out[2]].ptr)[0] == 2.0f);
    CHECK_EQ_INT(SH.frees, 1);
    CHECK_EQ_INT(SH.syncs, 4);
    /* one rank on the host, or no sharable step: nothing shared, nothing allocated */
    c.local_size = 1;
    CHECK(sn_prep_share_attach(&sh, &p, &c, &st) == SN_OK && !sh);
    c.local_size = 2;
    for (int i = 0; i < p.nprep; i++) p.prep[i].out_mask = 0;
    CHECK(sn_prep_share_attach(&sh, &p, &c, &st) == SN_OK && !sh);
    CHECK_EQ_INT(SH.allocs, 1);
    memset(packs, 0, sizeof packs);
    CHECK(sn_plan_prepare(&p, NULL, &st) == SN_OK);
    for (int k = 0; k < 5; k++) CHECK_EQ_INT(packs[k], 1);
    sn_plan_free(&p);
}

static void test_self_and_launcher(void) {
    sn_status st;
    sn_status_init(&st);
    setenv("SNNC_MPI", "0", 1);
    CHECK(!sn_comm_launched());
    setenv("SNNC_MPI", "1", 1);
    CHECK(sn_comm_launched());
    unsetenv("SNNC_MPI");
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_RANK");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    unsetenv("MV2_COMM_WORLD_RANK");
    CHECK(!sn_comm_launched());
    setenv("PMIX_RANK", "0", 1);
    CHECK(sn_comm_launched());
    unsetenv("PMIX_RANK");
    sn_comm *c = NULL;
    CHECK(sn_comm_open(&c, &st) == SN_OK && c && c->size == 1 && c->rank == 0);
    CHECK(strcmp(c->kind, "self") == 0);
    CHECK(strcmp(sn_comm_prefix(c), "") == 0);
    float x[3] = {1, 2, 3};
    sn_comm_req *q = NULL;
    CHECK(sn_comm_iallreduce_f32(c, x, 3, &q, &st) == SN_OK);
    CHECK(sn_comm_wait(c, q, &st) == SN_OK && x[2] == 3.0f);
    int64_t a[2] = {5, 6}, all[2];
    CHECK(sn_comm_allgather(c, a, all, sizeof a[0], &st) == SN_OK && all[0] == 5);
    /* agreement on one rank: a failure is this rank's own, printed */
    int print = 0;
    CHECK(sn_comm_agree(c, &st, &print) == SN_OK && !print);
    sn_fail(&st, SN_ERR_INPUT, "bad thing");
    CHECK(sn_comm_agree(c, &st, &print) == SN_ERR_INPUT && print);
    sn_comm_close(c);
}

int main(void) {
    RUN(test_parts);
    RUN(test_loader_parts);
    RUN(test_batch_index);
    RUN(test_draws);
    RUN(test_reducer);
    RUN(test_prep_share);
    RUN(test_self_and_launcher);
    return sn_test_result();
}
