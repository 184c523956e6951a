/* The batch loader: epoch orders (identity, seeded Fisher-Yates), batching and drop_last,
 * resuming at a batch, background vs inline preparation, restarts and destroys while the
 * worker is busy, a start/next/destroy stress run, and the option checks. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/data/loader.h"

enum { K = 7 }; /* labels are index % K */

/* n images of c x h x w. Channel 0 starts with the index (low byte, high byte); the other
 * pixels are an index-dependent pattern so augmentation has something to move around. */
static sn_dataset make_ds(int64_t n, int c, int h, int w) {
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = n;
    ds.c = c;
    ds.h = h;
    ds.w = w;
    ds.num_classes = 10;
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    ds.pixels = malloc(per * (size_t)n);
    ds.labels = malloc(sizeof(int32_t) * (size_t)n);
    snprintf(ds.source, sizeof ds.source, "synthetic");
    for (int64_t i = 0; i < n; i++) {
        ds.labels[i] = (int32_t)(i % K);
        uint8_t *p = ds.pixels + (size_t)i * per;
        for (size_t k = 0; k < per; k++) p[k] = (uint8_t)((i * 31 + (int64_t)k * 7 + 3) & 255);
        p[0] = (uint8_t)(i & 255);
        p[1] = (uint8_t)((i >> 8) & 255);
    }
    return ds;
}

static void free_ds(sn_dataset *ds) {
    free(ds->pixels);
    free(ds->labels);
}

/* Keeps the image as is (pixel values survive as floats, so indices can be decoded). */
static sn_transform plain_tf(const sn_dataset *ds) {
    sn_transform tf;
    memset(&tf, 0, sizeof tf);
    tf.out_h = ds->h;
    tf.out_w = ds->w;
    tf.scale = 1.0f;
    return tf;
}

/* Random crop, flip, brightness and contrast, standardized: every random draw in play. */
static sn_transform aug_tf(int out_h, int out_w) {
    sn_transform tf;
    memset(&tf, 0, sizeof tf);
    tf.out_h = out_h;
    tf.out_w = out_w;
    tf.scale = 1.0f / 255.0f;
    tf.train = 1;
    tf.random_crop = 1;
    tf.crop_padding = 2;
    tf.hflip = 1;
    tf.brightness = 40.0f;
    tf.contrast_lo = 0.5f;
    tf.contrast_hi = 1.5f;
    tf.per_image_standardization = 1;
    return tf;
}

static sn_loader_opts opts(int64_t batch, int shuffle, int drop_last, uint64_t seed,
                           int background) {
    sn_loader_opts o;
    memset(&o, 0, sizeof o);
    o.batch = batch;
    o.shuffle = shuffle;
    o.drop_last = drop_last;
    o.seed = seed;
    o.background = background;
    return o;
}

static sn_loader *make_loader(const sn_dataset *ds, const sn_transform *tf,
                              const sn_loader_opts *o) {
    sn_status st;
    sn_status_init(&st);
    sn_loader *l = NULL;
    sn_code c = sn_loader_create(&l, ds, tf, o, &st);
    if (c != SN_OK) fprintf(stderr, "  create: %s\n", st.msg);
    CHECK(c == SN_OK && l != NULL);
    return l;
}

/* The order the contract prescribes, written out independently. */
static void ref_order(int64_t n, int shuffle, uint64_t seed, uint64_t epoch, int64_t *order) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
    if (!shuffle) return;
    sn_rng r;
    sn_rng_seed(&r, sn_mix64(seed ^ sn_mix64(epoch)));
    for (int64_t i = n - 1; i >= 1; i--) {
        int64_t j = (int64_t)sn_rng_below(&r, (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static int64_t decode(const float *img) {
    return (int64_t)img[0] + 256 * (int64_t)img[1];
}

/* What one epoch (from batch `first`) delivered, concatenated. */
typedef struct run {
    int64_t images, batches;
    int64_t sizes[256];
    float *x;
    int32_t *y;
} run;

static void run_free(run *r) {
    free(r->x);
    free(r->y);
}

/* Drains the loader (already started) into r; per = floats per image, cap = images room. */
static run drain(sn_loader *l, size_t per, int64_t cap) {
    run r;
    memset(&r, 0, sizeof r);
    r.x = malloc(sizeof(float) * per * (size_t)cap);
    r.y = malloc(sizeof(int32_t) * (size_t)cap);
    for (;;) {
        const float *x = (const float *)1;
        const int32_t *y = (const int32_t *)1;
        int64_t n = sn_loader_next(l, &x, &y);
        if (n == 0) {
            CHECK(x == NULL && y == NULL);
            break;
        }
        CHECK(n > 0 && x != NULL && y != NULL);
        if (n <= 0 || r.images + n > cap || r.batches >= 256) {
            CHECK_MSG(0, "too many images: %lld + %lld > %lld", (long long)r.images, (long long)n,
                      (long long)cap);
            break;
        }
        memcpy(r.x + (size_t)r.images * per, x, sizeof(float) * per * (size_t)n);
        memcpy(r.y + r.images, y, sizeof(int32_t) * (size_t)n);
        r.sizes[r.batches++] = n;
        r.images += n;
    }
    /* past the end it stays at the end */
    const float *x = NULL;
    const int32_t *y = NULL;
    CHECK_EQ_INT(sn_loader_next(l, &x, &y), 0);
    return r;
}

static run epoch_run(sn_loader *l, uint64_t epoch, int64_t first, size_t per, int64_t cap) {
    sn_loader_start(l, epoch, first);
    return drain(l, per, cap);
}

/* The images a run of the given order decodes to must be exactly that order, with the
 * planted labels. */
static int check_indices(const run *r, size_t per, const int64_t *order, int64_t n) {
    int bad = 0;
    if (r->images != n) return 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t idx = decode(r->x + (size_t)i * per);
        bad += idx != order[i];
        bad += r->y[i] != (int32_t)(order[i] % K);
    }
    return bad;
}

static void test_identity_order(void) {
    sn_dataset ds = make_ds(23, 1, 2, 3);
    sn_transform tf = plain_tf(&ds);
    size_t per = 6;
    int64_t order[23];
    ref_order(23, 0, 0, 0, order);
    for (int bg = 0; bg < 2; bg++) {
        sn_loader_opts o = opts(5, 0, 0, 123, bg);
        sn_loader *l = make_loader(&ds, &tf, &o);
        if (!l) continue;
        CHECK_EQ_INT(sn_loader_batches(l), 5);
        /* nothing before the first start */
        const float *x = (const float *)1;
        const int32_t *y = (const int32_t *)1;
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 0);
        CHECK(x == NULL && y == NULL);
        for (uint64_t e = 0; e < 3; e++) {
            run r = epoch_run(l, e * 7, 0, per, 100);
            CHECK_EQ_INT(r.batches, 5);
            for (int b = 0; b < 4; b++) CHECK_EQ_INT(r.sizes[b], 5);
            CHECK_EQ_INT(r.sizes[4], 3);
            CHECK_EQ_INT(check_indices(&r, per, order, 23), 0);
            /* the other pixels came through untouched */
            CHECK(r.x[22 * per + 5] == (float)((22 * 31 + 5 * 7 + 3) & 255));
            run_free(&r);
        }
        sn_loader_destroy(l);
    }
    free_ds(&ds);
}

static int is_permutation(const run *r, size_t per, int64_t n) {
    char *seen = calloc((size_t)n, 1);
    int ok = r->images == n;
    for (int64_t i = 0; i < r->images && ok; i++) {
        int64_t idx = decode(r->x + (size_t)i * per);
        ok = idx >= 0 && idx < n && !seen[idx] && r->y[i] == (int32_t)(idx % K);
        if (ok) seen[idx] = 1;
    }
    free(seen);
    return ok;
}

static int same_run(const run *a, const run *b, size_t per) {
    return a->images == b->images && a->batches == b->batches &&
           memcmp(a->sizes, b->sizes, sizeof(int64_t) * (size_t)a->batches) == 0 &&
           memcmp(a->x, b->x, sizeof(float) * per * (size_t)a->images) == 0 &&
           memcmp(a->y, b->y, sizeof(int32_t) * (size_t)a->images) == 0;
}

static void test_shuffle(void) {
    const int64_t N = 300; /* indices above 255 use the high byte */
    sn_dataset ds = make_ds(N, 2, 2, 2);
    sn_transform tf = plain_tf(&ds);
    size_t per = 8;
    int64_t order[300];
    for (int bg = 0; bg < 2; bg++) {
        sn_loader_opts o = opts(8, 1, 0, 42, bg);
        sn_loader *l = make_loader(&ds, &tf, &o), *l2 = make_loader(&ds, &tf, &o);
        o.seed = 43;
        sn_loader *l3 = make_loader(&ds, &tf, &o);
        if (!l || !l2 || !l3) continue;
        CHECK_EQ_INT(sn_loader_batches(l), 38);
        run r[4];
        for (int e = 0; e < 4; e++) {
            r[e] = epoch_run(l, (uint64_t)e, 0, per, N);
            CHECK_MSG(is_permutation(&r[e], per, N), "epoch %d is not a permutation", e);
            ref_order(N, 1, 42, (uint64_t)e, order);
            CHECK_EQ_INT(check_indices(&r[e], per, order, N), 0);
            CHECK_EQ_INT(r[e].batches, 38);
            CHECK_EQ_INT(r[e].sizes[37], 4);
        }
        for (int a = 0; a < 4; a++)
            for (int b = a + 1; b < 4; b++)
                CHECK_MSG(!same_run(&r[a], &r[b], per), "epochs %d and %d agree", a, b);
        /* a pure function of (seed, epoch): another loader, or the same one later */
        run again = epoch_run(l2, 2, 0, per, N);
        CHECK(same_run(&again, &r[2], per));
        run_free(&again);
        again = epoch_run(l, 1, 0, per, N);
        CHECK(same_run(&again, &r[1], per));
        run_free(&again);
        /* another seed, another order */
        again = epoch_run(l3, 2, 0, per, N);
        CHECK(is_permutation(&again, per, N));
        CHECK(!same_run(&again, &r[2], per));
        run_free(&again);
        for (int e = 0; e < 4; e++) run_free(&r[e]);
        sn_loader_destroy(l);
        sn_loader_destroy(l2);
        sn_loader_destroy(l3);
    }
    free_ds(&ds);
}

static void test_drop_last(void) {
    sn_dataset ds = make_ds(23, 1, 2, 2);
    sn_transform tf = plain_tf(&ds);
    size_t per = 4;
    int64_t order[23];
    ref_order(23, 1, 9, 4, order);
    struct {
        int64_t batch;
        int drop;
        int64_t nb, last, images;
    } cases[] = {
        {5, 1, 4, 5, 20},    {5, 0, 5, 3, 23},  {23, 1, 1, 23, 23}, {23, 0, 1, 23, 23},
        {100, 0, 1, 23, 23}, {1, 0, 23, 1, 23}, {1, 1, 23, 1, 23},  {22, 1, 1, 22, 22},
    };
    for (int bg = 0; bg < 2; bg++)
        for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++) {
            sn_loader_opts o = opts(cases[c].batch, 1, cases[c].drop, 9, bg);
            sn_loader *l = make_loader(&ds, &tf, &o);
            if (!l) continue;
            CHECK_EQ_INT(sn_loader_batches(l), cases[c].nb);
            run r = epoch_run(l, 4, 0, per, 23);
            CHECK_EQ_INT(r.batches, cases[c].nb);
            CHECK_EQ_INT(r.images, cases[c].images);
            for (int64_t b = 0; b + 1 < r.batches; b++) CHECK_EQ_INT(r.sizes[b], cases[c].batch);
            if (r.batches > 0) CHECK_EQ_INT(r.sizes[r.batches - 1], cases[c].last);
            /* a prefix of the epoch's order */
            CHECK_EQ_INT(check_indices(&r, per, order, r.images), 0);
            run_free(&r);
            sn_loader_destroy(l);
        }
    /* exact multiple: drop_last changes nothing */
    sn_dataset ds20 = make_ds(20, 1, 2, 2);
    sn_transform tf20 = plain_tf(&ds20);
    for (int drop = 0; drop < 2; drop++) {
        sn_loader_opts o = opts(5, 0, drop, 0, 1);
        sn_loader *l = make_loader(&ds20, &tf20, &o);
        if (!l) continue;
        CHECK_EQ_INT(sn_loader_batches(l), 4);
        run r = epoch_run(l, 0, 0, per, 20);
        CHECK_EQ_INT(r.images, 20);
        CHECK_EQ_INT(r.sizes[3], 5);
        run_free(&r);
        sn_loader_destroy(l);
    }
    free_ds(&ds20);
    free_ds(&ds);
}

/* Every batch the loader hands out is sn_transform_batch of the epoch's order with the
 * loader's (seed, epoch): augmentation included, byte for byte. */
static void expect_reference(const run *r, const sn_dataset *ds, const sn_transform *tf,
                             const sn_loader_opts *o, uint64_t epoch, int64_t first) {
    size_t per = (size_t)ds->c * (size_t)tf->out_h * (size_t)tf->out_w;
    int64_t *order = malloc(sizeof(int64_t) * (size_t)ds->n);
    ref_order(ds->n, o->shuffle, o->seed, epoch, order);
    int64_t lo = SN_MIN(first * o->batch, ds->n);
    int64_t n = o->drop_last ? (ds->n / o->batch) * o->batch - lo : ds->n - lo;
    if (n < 0) n = 0;
    float *x = malloc(sizeof(float) * per * (size_t)(n + 1));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)(n + 1));
    sn_transform_batch(tf, ds, order + lo, n, o->seed, epoch, x, y);
    CHECK_EQ_INT(r->images, n);
    if (r->images == n) {
        CHECK(memcmp(r->x, x, sizeof(float) * per * (size_t)n) == 0);
        CHECK(memcmp(r->y, y, sizeof(int32_t) * (size_t)n) == 0);
    }
    free(order);
    free(x);
    free(y);
}

static void test_augmented_modes_agree(void) {
    sn_dataset ds = make_ds(45, 3, 12, 12);
    sn_transform tf = aug_tf(10, 10);
    size_t per = 300;
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        sn_loader_opts oi = opts(8, shuffle, 0, 77, 0), ob = opts(8, shuffle, 0, 77, 1);
        sn_loader *li = make_loader(&ds, &tf, &oi), *lb = make_loader(&ds, &tf, &ob);
        if (!li || !lb) continue;
        run prev;
        memset(&prev, 0, sizeof prev);
        for (uint64_t e = 0; e < 3; e++) {
            run ri = epoch_run(li, e, 0, per, 45), rb = epoch_run(lb, e, 0, per, 45);
            CHECK_MSG(same_run(&ri, &rb, per), "inline and background differ (epoch %d)", (int)e);
            expect_reference(&rb, &ds, &tf, &ob, e, 0);
            /* augmentation is live: the next epoch draws other crops/flips */
            if (e > 0 && shuffle == 0) CHECK(!same_run(&ri, &prev, per));
            run_free(&prev);
            prev = ri;
            run_free(&rb);
        }
        run_free(&prev);
        sn_loader_destroy(li);
        sn_loader_destroy(lb);
    }
    free_ds(&ds);
}

static void test_resume(void) {
    sn_dataset ds = make_ds(37, 3, 8, 8);
    sn_transform tf = aug_tf(6, 6);
    size_t per = 108;
    for (int drop = 0; drop < 2; drop++) {
        sn_loader_opts oi = opts(6, 1, drop, 5, 0), ob = opts(6, 1, drop, 5, 1);
        sn_loader *li = make_loader(&ds, &tf, &oi), *lb = make_loader(&ds, &tf, &ob);
        if (!li || !lb) continue;
        int64_t nb = sn_loader_batches(lb);
        CHECK_EQ_INT(nb, drop ? 6 : 7);
        run full = epoch_run(lb, 2, 0, per, 37);
        expect_reference(&full, &ds, &tf, &ob, 2, 0);
        for (int bg = 0; bg < 2; bg++)
            for (int64_t first = 0; first <= nb + 2; first++) {
                run r = epoch_run(bg ? lb : li, 2, first, per, 37);
                int64_t skip = SN_MIN(first, nb);
                int64_t off = 0;
                for (int64_t b = 0; b < skip; b++) off += full.sizes[b];
                CHECK_EQ_INT(r.batches, nb - skip);
                CHECK_EQ_INT(r.images, full.images - off);
                if (r.images == full.images - off) {
                    CHECK(memcmp(r.x, full.x + (size_t)off * per,
                                 sizeof(float) * per * (size_t)r.images) == 0);
                    CHECK(memcmp(r.y, full.y + off, sizeof(int32_t) * (size_t)r.images) == 0);
                    CHECK(memcmp(r.sizes, full.sizes + skip, sizeof(int64_t) * (size_t)r.batches) ==
                          0);
                }
                run_free(&r);
            }
        run_free(&full);
        sn_loader_destroy(li);
        sn_loader_destroy(lb);
    }
    free_ds(&ds);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Large enough batches that the worker is usually mid-batch when the caller restarts. */
static void test_restart_mid_epoch(void) {
    sn_dataset ds = make_ds(96, 3, 32, 32);
    sn_transform tf = aug_tf(24, 24);
    size_t per = 3 * 24 * 24;
    sn_loader_opts o = opts(16, 1, 0, 11, 1);
    sn_loader *l = make_loader(&ds, &tf, &o);
    if (!l) {
        free_ds(&ds);
        return;
    }
    const float *x;
    const int32_t *y;
    for (int rep = 0; rep < 5; rep++) {
        /* restart into another epoch after one batch */
        sn_loader_start(l, 0, 0);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 16);
        sn_loader_start(l, 1, 0);
        run r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 1, 0);
        run_free(&r);
        /* restart once the worker has finished batches ahead (they must be dropped) */
        sn_loader_start(l, 0, 0);
        sleep_ms(20); /* batches 0 and 1 ready */
        sn_loader_start(l, 2, 0);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 2, 0);
        run_free(&r);
        sn_loader_start(l, 0, 0);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 16);
        sleep_ms(20); /* holding batch 0, batch 1 ready */
        sn_loader_start(l, 2, 0);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 2, 0);
        run_free(&r);
        /* restart the same epoch at a later batch after two */
        sn_loader_start(l, 3, 0);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 16);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 16);
        sn_loader_start(l, 3, 4);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 3, 4);
        run_free(&r);
        /* back to an earlier batch of the same epoch */
        sn_loader_start(l, 3, 5);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 16);
        sn_loader_start(l, 3, 1);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 3, 1);
        run_free(&r);
        /* restarts back to back, without taking anything */
        sn_loader_start(l, 5, 0);
        sn_loader_start(l, 6, 2);
        sn_loader_start(l, 7, 0);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 7, 0);
        run_free(&r);
        /* restart after the end, and again at the very end */
        sn_loader_start(l, 8, 6);
        CHECK_EQ_INT(sn_loader_next(l, &x, &y), 0);
        sn_loader_start(l, 8, 5);
        r = drain(l, per, 96);
        expect_reference(&r, &ds, &tf, &o, 8, 5);
        run_free(&r);
    }
    sn_loader_destroy(l);
    free_ds(&ds);
}

static void test_destroy_anytime(void) {
    sn_dataset ds = make_ds(96, 3, 32, 32);
    sn_transform tf = aug_tf(24, 24);
    const float *x;
    const int32_t *y;
    for (int bg = 0; bg < 2; bg++) {
        sn_loader_opts o = opts(32, 1, 0, 3, bg);
        sn_loader *l = make_loader(&ds, &tf, &o); /* never started */
        sn_loader_destroy(l);
        l = make_loader(&ds, &tf, &o); /* started, nothing taken */
        if (l) sn_loader_start(l, 0, 0);
        sn_loader_destroy(l);
        l = make_loader(&ds, &tf, &o); /* mid-epoch, holding a batch */
        if (l) {
            sn_loader_start(l, 0, 0);
            CHECK_EQ_INT(sn_loader_next(l, &x, &y), 32);
        }
        sn_loader_destroy(l);
        l = make_loader(&ds, &tf, &o); /* right after a restart */
        if (l) {
            sn_loader_start(l, 0, 1);
            CHECK_EQ_INT(sn_loader_next(l, &x, &y), 32);
            sn_loader_start(l, 1, 0);
        }
        sn_loader_destroy(l);
        l = make_loader(&ds, &tf, &o); /* after the end */
        if (l) {
            sn_loader_start(l, 0, 0);
            while (sn_loader_next(l, &x, &y) > 0) {
            }
        }
        sn_loader_destroy(l);
    }
    sn_loader_destroy(NULL);
    free_ds(&ds);
}

/* Random start/next/destroy sequences; every batch checked against the prescribed order. */
static void test_stress(void) {
    enum { N = 50, EPOCHS = 4, ITERS = 200 };
    sn_dataset ds = make_ds(N, 1, 6, 6);
    sn_transform tf = plain_tf(&ds);
    size_t per = 36;
    static int64_t orders[2][EPOCHS][N];
    for (int s = 0; s < 2; s++)
        for (int e = 0; e < EPOCHS; e++) ref_order(N, s, 99, (uint64_t)e, orders[s][e]);
    sn_rng r;
    sn_rng_seed(&r, 2024);
    int bad = 0, batches_seen = 0;
    for (int it = 0; it < ITERS; it++) {
        int64_t batch = 1 + (int64_t)sn_rng_below(&r, 12);
        int shuffle = (int)sn_rng_below(&r, 2), drop = (int)sn_rng_below(&r, 2);
        int bg = sn_rng_below(&r, 8) != 0; /* mostly background */
        sn_loader_opts o = opts(batch, shuffle, drop, 99, bg);
        sn_loader *l = make_loader(&ds, &tf, &o);
        if (!l) break;
        int64_t nb = sn_loader_batches(l);
        CHECK_EQ_INT(nb, drop ? N / batch : (N + batch - 1) / batch);
        int started = 0, epoch = 0;
        int64_t pos = 0;
        int ops = (int)sn_rng_below(&r, 16);
        for (int op = 0; op < ops; op++) {
            if (!started || sn_rng_below(&r, 3) == 0) {
                epoch = (int)sn_rng_below(&r, EPOCHS);
                pos = (int64_t)sn_rng_below(&r, (uint64_t)nb + 2);
                sn_loader_start(l, (uint64_t)epoch, pos);
                if (pos > nb) pos = nb;
                started = 1;
                continue;
            }
            const float *x;
            const int32_t *y;
            int64_t n = sn_loader_next(l, &x, &y);
            int64_t expect = pos >= nb ? 0 : SN_MIN(batch, N - pos * batch);
            if (n != expect) {
                bad++;
                break;
            }
            for (int64_t i = 0; i < n; i++) {
                int64_t want = orders[shuffle][epoch][pos * batch + i];
                bad += decode(x + (size_t)i * per) != want || y[i] != (int32_t)(want % K);
            }
            if (n > 0) pos++;
            batches_seen += n > 0;
        }
        sn_loader_destroy(l);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(batches_seen > 200);
    free_ds(&ds);
}

static void test_wait_seconds(void) {
    sn_dataset ds = make_ds(256, 3, 32, 32);
    sn_transform tf = aug_tf(28, 28);
    const float *x;
    const int32_t *y;
    for (int bg = 0; bg < 2; bg++) {
        sn_loader_opts o = opts(128, 1, 0, 1, bg);
        sn_loader *l = make_loader(&ds, &tf, &o);
        if (!l) continue;
        CHECK(sn_loader_wait_seconds(l) == 0.0);
        double prev = 0.0;
        int grew = 0;
        for (int rep = 0; rep < 5; rep++) {
            /* the first batch cannot be ready the moment the epoch starts */
            sn_loader_start(l, (uint64_t)rep, 0);
            while (sn_loader_next(l, &x, &y) > 0) {
            }
            double w = sn_loader_wait_seconds(l);
            CHECK(isfinite(w) && w >= prev);
            grew += w > prev;
            prev = w;
        }
        CHECK(grew > 0);
        sn_loader_destroy(l);
    }
    free_ds(&ds);
}

static void expect_create_err(const sn_dataset *ds, const sn_transform *tf, const sn_loader_opts *o,
                              sn_code code, const char *sub) {
    sn_status st;
    sn_status_init(&st);
    sn_loader *l = (sn_loader *)&st; /* must be reset */
    CHECK(sn_loader_create(&l, ds, tf, o, &st) == code);
    CHECK(st.code == code);
    CHECK(l == NULL);
    CHECK_CONTAINS(st.msg, sub);
}

static void test_errors(void) {
    sn_dataset ds = make_ds(10, 1, 4, 4);
    sn_transform tf = plain_tf(&ds);
    sn_loader_opts o = opts(0, 0, 0, 0, 1);
    expect_create_err(&ds, &tf, &o, SN_ERR_INPUT, "batch size 0 must be at least 1");
    o.batch = -3;
    expect_create_err(&ds, &tf, &o, SN_ERR_INPUT, "batch size -3 must be at least 1");
    o.batch = 11;
    o.drop_last = 1;
    expect_create_err(&ds, &tf, &o, SN_ERR_INPUT,
                      "batch size 11 with drop_last leaves no batch from the 10 images of "
                      "synthetic");
    o.drop_last = 0;
    sn_dataset empty;
    memset(&empty, 0, sizeof empty);
    snprintf(empty.source, sizeof empty.source, "data/none");
    expect_create_err(&empty, &tf, &o, SN_ERR_INPUT, "data/none holds no images");
    sn_transform big = tf;
    big.out_h = 5;
    expect_create_err(&ds, &big, &o, SN_ERR_INPUT, "center crop 5x4 is larger");
    /* more images than memory can index: out of memory, not an abort */
    sn_dataset huge = ds;
    huge.n = (int64_t)1 << 61;
    o.batch = 1;
    expect_create_err(&huge, &tf, &o, SN_ERR_RUNTIME, "out of memory");
    o.background = 0;
    expect_create_err(&huge, &tf, &o, SN_ERR_RUNTIME, "out of memory");
    free_ds(&ds);
}

int main(void) {
    RUN(test_identity_order);
    RUN(test_shuffle);
    RUN(test_drop_last);
    RUN(test_augmented_modes_agree);
    RUN(test_resume);
    RUN(test_restart_mid_epoch);
    RUN(test_destroy_anytime);
    RUN(test_stress);
    RUN(test_wait_seconds);
    RUN(test_errors);
    return sn_test_result();
}
