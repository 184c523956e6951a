/* The worker pool (runtime/exec/pool.c): every task of every job runs exactly once and
 * sn_pool_for returns only after all have, and every worker takes part, whether the threads sleep
 * between jobs or spin (SNNC_SPIN_US), for pool sizes 1-4, job sizes 1-97 and every grain; jobs
 * back to back and a destroy right after a job. Built with the runtime library alone. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "runtime/exec/pool.h"

#define MAXN 97

typedef struct job {
    atomic_int count[MAXN];
    atomic_int finished; /* tasks whose work is complete */
    atomic_int nseen;    /* distinct threads that ran chunks */
    int id;              /* this job's number */
    int spin;            /* iterations of busy work per task */
} job;

static void note_thread(job *j) {
    static _Thread_local int last = -1; /* the last job this thread counted itself in */
    if (last == j->id) return;
    last = j->id;
    atomic_fetch_add(&j->nseen, 1);
}

static void body(void *arg, int64_t lo, int64_t hi) {
    job *j = arg;
    note_thread(j);
    for (int64_t i = lo; i < hi; i++) {
        /* busy work: the worker is still busy when the caller runs out of tasks */
        volatile int x = 0;
        for (int k = 0; k < j->spin; k++) x = x + k;
        (void)x;
        atomic_fetch_add(&j->count[i], 1);
        atomic_fetch_add(&j->finished, 1);
    }
}

static int job_id;

static void run_jobs(int threads, const char *spin_us) {
    setenv("SNNC_SPIN_US", spin_us, 1);
    sn_pool *p = sn_pool_create(threads);
    CHECK(p != NULL);
    if (!p) return;
    CHECK_EQ_INT(sn_pool_size(p), threads);
    job *j = calloc(1, sizeof *j);
    int bad = 0;
    for (int it = 0; it < 3000 && !bad; it++) {
        int64_t n = 1 + (it * 37) % MAXN;
        int64_t grain = it % 4 == 3 ? 5 : it % 4; /* 0: automatic */
        for (int i = 0; i < MAXN; i++) atomic_store(&j->count[i], 0);
        atomic_store(&j->finished, 0);
        atomic_store(&j->nseen, 0);
        j->spin = it % 3 == 0 ? 2000 : 0;
        j->id = job_id++;
        sn_pool_for(p, n, grain, body, j);
        /* on return every task has finished, once */
        int done = atomic_load(&j->finished);
        if (done != n) {
            CHECK_MSG(0, "%d threads, spin %s, job %d: returned after %d of %lld tasks", threads,
                      spin_us, it, done, (long long)n);
            bad = 1;
        }
        for (int64_t i = 0; i < n && !bad; i++)
            if (atomic_load(&j->count[i]) != 1) {
                CHECK_MSG(0, "%d threads, spin %s, job %d: task %lld ran %d times", threads,
                          spin_us, it, (long long)i, atomic_load(&j->count[i]));
                bad = 1;
            }
    }
    sn_pool_destroy(p); /* right after a job: the workers may still be spinning */
    free(j);
}

/* Each task waits (up to 10 s) until every thread of the pool has entered one: a job of
 * `threads` tasks completes only if all the workers take part. */
typedef struct gather {
    atomic_int entered, timed_out;
    int want, id;
} gather;

static void wait_all(void *arg, int64_t lo, int64_t hi) {
    gather *g = arg;
    static _Thread_local int last = -1;
    for (int64_t i = lo; i < hi; i++) {
        if (last != g->id) {
            last = g->id;
            atomic_fetch_add(&g->entered, 1);
        }
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (atomic_load(&g->entered) < g->want) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if (t.tv_sec - t0.tv_sec > 10) {
                atomic_store(&g->timed_out, 1);
                break;
            }
        }
    }
}

static void test_workers_take_part(void) {
    const char *spins[2] = {"0", "100"};
    for (int si = 0; si < 2; si++)
        for (int threads = 2; threads <= 4; threads++) {
            setenv("SNNC_SPIN_US", spins[si], 1);
            sn_pool *p = sn_pool_create(threads);
            CHECK(p != NULL);
            if (!p) continue;
            for (int rep = 0; rep < 20; rep++) {
                gather g;
                atomic_init(&g.entered, 0);
                atomic_init(&g.timed_out, 0);
                g.want = threads;
                g.id = job_id++;
                sn_pool_for(p, threads, 1, wait_all, &g);
                CHECK_MSG(!atomic_load(&g.timed_out) && atomic_load(&g.entered) == threads,
                          "%d threads, spin %s: %d took part", threads, spins[si],
                          atomic_load(&g.entered));
            }
            sn_pool_destroy(p);
        }
}

static void test_sleeping(void) {
    for (int t = 1; t <= 4; t++) run_jobs(t, "0");
}

static void test_spinning(void) {
    for (int t = 1; t <= 4; t++) run_jobs(t, "100");
    run_jobs(2, "5"); /* spins that run out between jobs */
}

static void test_bad_spin_setting(void) {
    /* not a number, negative, too large: the default is kept and the pool works */
    run_jobs(2, "fast");
    run_jobs(2, "-1");
    run_jobs(2, "99999999");
}

static void test_create_destroy(void) {
    setenv("SNNC_SPIN_US", "100", 1);
    for (int i = 0; i < 50; i++) {
        sn_pool *p = sn_pool_create(1 + i % 4);
        CHECK(p != NULL);
        if (i % 2) {
            job *j = calloc(1, sizeof *j);
            j->id = job_id++;
            sn_pool_for(p, 7, 0, body, j);
            CHECK_EQ_INT(atomic_load(&j->finished), 7);
            free(j);
        }
        sn_pool_destroy(p);
    }
    sn_pool_destroy(NULL);
    CHECK_EQ_INT(sn_pool_size(NULL), 1);
}

int main(void) {
    RUN(test_workers_take_part);
    RUN(test_sleeping);
    RUN(test_spinning);
    RUN(test_bad_spin_setting);
    RUN(test_create_destroy);
    return sn_test_result();
}
