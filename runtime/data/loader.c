/* Training batches, double-buffered on one worker thread. See loader.h.
 *
 * Two buffer slots. A slot is FREE, FILLING (the worker writes it without the lock), READY
 * (holds batch `batch` of the current epoch) or HELD (returned to the caller by the last
 * sn_loader_next). The worker prepares batches in order, fill, fill+1, ..., into FREE slots,
 * so the READY slots always hold the batches want .. fill-1 the caller asks for next.
 *
 * Restarting: sn_loader_start bumps a generation counter (the worker polls it between chunks
 * of images and abandons a stale batch early), waits until the worker is idle, drops READY
 * slots and only then rewrites the order, so the worker never reads an order or epoch that
 * changes under it and a batch of the previous generation is never handed out. The HELD
 * slot is left alone until the next sn_loader_next, so the caller's pointers stay valid
 * until then even across a restart. */
#define _POSIX_C_SOURCE 200809L
#include "loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/util.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_HELD };
enum { NSLOTS = 2, CHUNK = 16 /* images between cancellation checks */ };

typedef struct slot {
    float *x;      /* [cap, C, out_h, out_w] */
    int32_t *y;    /* [cap] */
    int64_t n;     /* images in the batch */
    int64_t batch; /* its index in the epoch */
    int state;
} slot;

struct sn_loader {
    const sn_dataset *ds;
    const sn_transform *tf;
    sn_loader_opts o;
    int64_t n;        /* images in the dataset */
    int64_t nbatches; /* per epoch */
    size_t per;       /* floats per image */
    int64_t *order;   /* this epoch's order; written only while the worker is idle */
    uint64_t epoch;
    slot slots[NSLOTS];
    int64_t want; /* the batch the caller gets next */
    int64_t fill; /* the batch the worker prepares next */
    int64_t end;  /* batches in the started epoch (0 before the first start) */
    double waited;

    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* worker: a slot was freed, an epoch started, or quit */
    pthread_cond_t ready; /* caller: a batch became READY */
    pthread_cond_t idle;  /* start: the worker finished or dropped its batch */
    int busy;             /* the worker is filling a slot */
    int quit;
    atomic_uint_fast64_t gen; /* bumped by start and destroy; written under mu */
};

/* Writes batch b of the current epoch into s. With a cancellation generation (threaded),
 * stops early and returns 0 once the generation moves on. */
static int prepare(sn_loader *l, slot *s, int64_t b, int check, uint64_t g) {
    int64_t lo = b * l->o.batch;
    int64_t n = SN_MIN(l->o.batch, l->n - lo);
    if (l->o.part_count > 0) { /* this rank's part of the batch */
        int64_t a = SN_MIN(l->o.part_first, n), e = SN_MIN(l->o.part_first + l->o.part_count, n);
        lo += a;
        n = e - a;
    }
    for (int64_t i = 0; i < n; i += CHUNK) {
        if (check && atomic_load_explicit(&l->gen, memory_order_relaxed) != g) return 0;
        int64_t k = SN_MIN((int64_t)CHUNK, n - i);
        sn_transform_batch(l->tf, l->ds, l->order + lo + i, k, l->o.seed, l->epoch,
                           s->x + (size_t)i * l->per, s->y + i);
    }
    s->n = n;
    s->batch = b;
    return 1;
}

static int find_slot(const sn_loader *l, int state) {
    for (int i = 0; i < NSLOTS; i++)
        if (l->slots[i].state == state) return i;
    return -1;
}

static void *worker(void *vp) {
    sn_loader *l = vp;
    pthread_mutex_lock(&l->mu);
    while (!l->quit) {
        int si = find_slot(l, SLOT_FREE);
        if (si < 0 || l->fill >= l->end) {
            pthread_cond_wait(&l->work, &l->mu);
            continue;
        }
        slot *s = &l->slots[si];
        int64_t b = l->fill;
        uint64_t g = atomic_load(&l->gen);
        s->state = SLOT_FILLING;
        l->busy = 1;
        pthread_mutex_unlock(&l->mu);
        int done = prepare(l, s, b, 1, g);
        pthread_mutex_lock(&l->mu);
        l->busy = 0;
        if (done && atomic_load(&l->gen) == g) {
            s->state = SLOT_READY;
            l->fill = b + 1;
            pthread_cond_broadcast(&l->ready);
        } else {
            s->state = SLOT_FREE; /* stale: a restart or destroy came in meanwhile */
        }
        pthread_cond_broadcast(&l->idle);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_loader(sn_loader *l) {
    for (int i = 0; i < NSLOTS; i++) {
        sn_aligned_free(l->slots[i].x);
        free(l->slots[i].y);
    }
    free(l->order);
    free(l);
}

sn_code sn_loader_create(sn_loader **out, const sn_dataset *ds, const sn_transform *tf,
                         const sn_loader_opts *o, sn_status *st) {
    *out = NULL;
    if (!ds || !tf || !o) return sn_fail(st, SN_ERR_INPUT, "data loader: missing arguments");
    const char *src = ds->source[0] ? ds->source : "the dataset";
    if (o->batch < 1)
        return sn_fail(st, SN_ERR_INPUT, "data loader: batch size %lld must be at least 1",
                       (long long)o->batch);
    if (ds->n <= 0 || !ds->pixels)
        return sn_fail(st, SN_ERR_INPUT, "data loader: %s holds no images", src);
    if (sn_transform_check(tf, ds, st) != SN_OK) {
        sn_status_context(st, "while setting up the data loader");
        return st->code;
    }
    if (o->part_count < 0 || o->part_first < 0 ||
        (o->part_count > 0 && o->part_first + o->part_count > o->batch))
        return sn_fail(st, SN_ERR_INPUT,
                       "data loader: part [%lld, +%lld) lies outside a batch of %lld images",
                       (long long)o->part_first, (long long)o->part_count, (long long)o->batch);
    if (o->drop_last && o->batch > ds->n)
        return sn_fail(st, SN_ERR_INPUT,
                       "data loader: batch size %lld with drop_last leaves no batch from the "
                       "%lld images of %s",
                       (long long)o->batch, (long long)ds->n, src);

    sn_loader *l = sn_calloc(1, sizeof *l);
    if (!l) return sn_fail(st, SN_ERR_RUNTIME, "data loader: out of memory");
    l->ds = ds;
    l->tf = tf;
    l->o = *o;
    l->n = ds->n;
    l->nbatches = o->drop_last ? ds->n / o->batch : (ds->n + o->batch - 1) / o->batch;
    l->per = (size_t)ds->c * (size_t)tf->out_h * (size_t)tf->out_w;
    atomic_init(&l->gen, 0);
    if ((uint64_t)l->n > SIZE_MAX / sizeof(int64_t)) goto oom;
    l->order = sn_calloc((size_t)l->n, sizeof(int64_t));
    if (!l->order) goto oom;
    for (int64_t i = 0; i < l->n; i++) l->order[i] = i;
    /* a batch never holds more than the whole dataset */
    size_t cap = (size_t)SN_MIN(o->part_count > 0 ? o->part_count : o->batch, l->n);
    int nslots = o->background ? NSLOTS : 1;
    for (int i = 0; i < nslots; i++) {
        if (l->per && cap > SIZE_MAX / sizeof(float) / l->per) goto oom;
        l->slots[i].x = sn_aligned_alloc(cap * l->per * sizeof(float));
        l->slots[i].y = sn_calloc(cap, sizeof(int32_t));
        if (!l->slots[i].x || !l->slots[i].y) goto oom;
    }

    if (o->background) {
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->work, NULL);
        pthread_cond_init(&l->ready, NULL);
        pthread_cond_init(&l->idle, NULL);
        if (pthread_create(&l->thread, NULL, worker, l) != 0) {
            pthread_mutex_destroy(&l->mu);
            pthread_cond_destroy(&l->work);
            pthread_cond_destroy(&l->ready);
            pthread_cond_destroy(&l->idle);
            free_loader(l);
            return sn_fail(st, SN_ERR_RUNTIME, "data loader: could not start its thread");
        }
        l->threaded = 1;
    }
    *out = l;
    return SN_OK;
oom:
    free_loader(l);
    return sn_fail(st, SN_ERR_RUNTIME,
                   "data loader: out of memory for %lld images of %lld floats in batches of %lld",
                   (long long)ds->n, (long long)(ds->c * (int64_t)tf->out_h * tf->out_w),
                   (long long)o->batch);
}

void sn_loader_destroy(sn_loader *l) {
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        atomic_fetch_add(&l->gen, 1);
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->work);
        pthread_cond_destroy(&l->ready);
        pthread_cond_destroy(&l->idle);
    }
    free_loader(l);
}

void sn_loader_part(int64_t batch, int rank, int ranks, int64_t *first, int64_t *count) {
    if (ranks < 1) ranks = 1;
    int64_t base = batch / ranks, extra = batch % ranks;
    *first = (int64_t)rank * base + SN_MIN((int64_t)rank, extra);
    *count = base + (rank < extra ? 1 : 0);
}

int64_t sn_loader_batches(const sn_loader *l) {
    return l->nbatches;
}

/* The identity, or a Fisher-Yates permutation drawn from the (seed, epoch) generator. */
static void make_order(sn_loader *l, uint64_t epoch) {
    for (int64_t i = 0; i < l->n; i++) l->order[i] = i;
    if (!l->o.shuffle) return;
    sn_rng r;
    sn_rng_seed(&r, sn_mix64(l->o.seed ^ sn_mix64(epoch)));
    for (int64_t i = l->n - 1; i > 0; i--) {
        int64_t j = (int64_t)sn_rng_below(&r, (uint64_t)i + 1);
        int64_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

void sn_loader_start(sn_loader *l, uint64_t epoch, int64_t first) {
    if (first < 0) first = 0;
    if (first > l->nbatches) first = l->nbatches;
    if (l->threaded) {
        pthread_mutex_lock(&l->mu);
        atomic_fetch_add(&l->gen, 1);
        while (l->busy) pthread_cond_wait(&l->idle, &l->mu);
        for (int i = 0; i < NSLOTS; i++)
            if (l->slots[i].state == SLOT_READY) l->slots[i].state = SLOT_FREE;
    }
    make_order(l, epoch);
    l->epoch = epoch;
    l->want = l->fill = first;
    l->end = l->nbatches;
    if (l->threaded) {
        pthread_cond_signal(&l->work);
        pthread_mutex_unlock(&l->mu);
    }
}

int64_t sn_loader_next(sn_loader *l, const float **x, const int32_t **y) {
    if (x) *x = NULL;
    if (y) *y = NULL;
    slot *s = NULL;
    if (!l->threaded) {
        if (l->want >= l->end) return 0;
        s = &l->slots[0];
        double t0 = sn_now();
        prepare(l, s, l->want, 0, 0);
        l->waited += sn_now() - t0;
        l->want++;
    } else {
        pthread_mutex_lock(&l->mu);
        int held = find_slot(l, SLOT_HELD);
        if (held >= 0) {
            l->slots[held].state = SLOT_FREE;
            pthread_cond_signal(&l->work);
        }
        if (l->want >= l->end) {
            pthread_mutex_unlock(&l->mu);
            return 0;
        }
        double t0 = 0.0;
        int blocked = 0;
        for (;;) {
            for (int i = 0; i < NSLOTS && !s; i++)
                if (l->slots[i].state == SLOT_READY && l->slots[i].batch == l->want)
                    s = &l->slots[i];
            if (s) break;
            if (!blocked) t0 = sn_now();
            blocked = 1;
            pthread_cond_wait(&l->ready, &l->mu);
        }
        if (blocked) l->waited += sn_now() - t0;
        s->state = SLOT_HELD;
        l->want++;
        pthread_mutex_unlock(&l->mu);
    }
    if (x) *x = s->x;
    if (y) *y = s->y;
    return s->n;
}

double sn_loader_wait_seconds(const sn_loader *l) {
    return l->waited;
}
