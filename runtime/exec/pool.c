#define _GNU_SOURCE
#include "pool.h"

#include "../core/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Between jobs a worker spins this long for the next one before it sleeps, and the caller
 * spins as long for the workers to finish before it sleeps: waking a sleeping thread costs
 * tens of microseconds, about a whole kernel's time at batch 1 (VGG16 runs 21 kernels in
 * about 3 ms). SNNC_SPIN_US overrides it (0: sleep at once). */
#define SPIN_US_DEFAULT 100

struct sn_pool {
    int nthreads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    double spin_s;
    /* the current job */
    atomic_ullong generation; /* written under mu, read by spinning workers without it */
    int quit;
    atomic_int active; /* workers still inside the current job */
    sn_range_fn fn;
    void *arg;
    int64_t n, grain;
    atomic_llong next;
};

static void run_chunks(sn_pool *p) {
    for (;;) {
        int64_t lo = atomic_fetch_add(&p->next, p->grain);
        if (lo >= p->n) break;
        int64_t hi = lo + p->grain < p->n ? lo + p->grain : p->n;
        p->fn(p->arg, lo, hi);
    }
}

/* Spins up to p->spin_s for the next job (generation past seen: returns 1) or, with
 * gen 0, for the workers to finish (active 0: returns 1). */
static int spin_for(sn_pool *p, unsigned long long seen, int gen) {
    if (p->spin_s <= 0) return 0;
    double end = sn_now() + p->spin_s;
    for (;;) {
        for (int i = 0; i < 32; i++) {
            if (gen ? atomic_load_explicit(&p->generation, memory_order_acquire) != seen
                    : atomic_load_explicit(&p->active, memory_order_acquire) == 0)
                return 1;
            cpu_relax();
        }
        if (sn_now() > end) return 0;
    }
}

static void *worker(void *vp) {
    sn_pool *p = vp;
    unsigned long long seen = 0;
    for (;;) {
        /* the job's fields are written before generation is (release), so a worker that
         * sees the new generation (acquire) sees them */
        if (!spin_for(p, seen, 1)) {
            pthread_mutex_lock(&p->mu);
            while (!p->quit && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            int quit = p->quit;
            pthread_mutex_unlock(&p->mu);
            if (quit) break;
        }
        seen = atomic_load(&p->generation);
        run_chunks(p);
        if (atomic_fetch_sub(&p->active, 1) == 1) { /* the last one out wakes the caller */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

sn_pool *sn_pool_create(int nthreads) {
    if (nthreads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? (int)n : 1;
    }
    sn_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = nthreads;
    p->spin_s = SPIN_US_DEFAULT * 1e-6;
    const char *e = getenv("SNNC_SPIN_US");
    if (e && *e) {
        char *end;
        long us = strtol(e, &end, 10);
        if (*end == 0 && us >= 0 && us <= 1000000) p->spin_s = (double)us * 1e-6;
    }
    atomic_init(&p->generation, 0);
    atomic_init(&p->active, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nthreads > 1) {
        p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
        if (!p->threads) {
            sn_pool_destroy(p);
            return NULL;
        }
        for (int i = 0; i < nthreads - 1; i++) {
            if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
                p->nthreads = i + 1; /* only join the ones that started */
                sn_pool_destroy(p);
                return NULL;
            }
        }
    }
    return p;
}

void sn_pool_destroy(sn_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    if (p->threads)
        for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p);
}

int sn_pool_size(const sn_pool *p) {
    return p ? p->nthreads : 1;
}

void sn_pool_for(sn_pool *p, int64_t n, int64_t grain, sn_range_fn fn, void *arg) {
    if (n <= 0) return;
    if (!p || p->nthreads <= 1 || n == 1) {
        fn(arg, 0, n);
        return;
    }
    if (grain <= 0) {
        grain = n / (p->nthreads * 4);
        if (grain < 1) grain = 1;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    atomic_store(&p->active, p->nthreads - 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p);
    if (spin_for(p, 0, 0)) return;
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->active) > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
