/* Checkpoints: exact round trip of weights (F32 and I64), two optimizer slots and the
 * metadata; every kind of mismatch or damage is an SN_ERR_INPUT naming the file and the
 * tensor or key; load_weights ignores optimizer tensors; replacing a checkpoint is atomic. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "runtime/core/util.h"
#include "runtime/train/checkpoint.h"
#include "runtime/weights/safetensors.h"
#include "runtime/weights/weights.h"

static sn_param_desc D(const char *name, sn_dtype dt, sn_shape shape, sn_param_role role,
                       int trainable) {
    sn_param_desc d;
    memset(&d, 0, sizeof d);
    sn_strlcpy(d.name, name, sizeof d.name);
    d.dtype = dt;
    d.shape = shape;
    d.role = role;
    d.trainable = trainable;
    return d;
}

#define NPARAM 6

/* A small model: conv weight and bias, BN (gamma, running mean, I64 count), fc weight. */
static void model_descs(sn_param_desc *d) {
    d[0] = D("features.0.weight", SN_F32, sn_shape4(2, 1, 3, 3), SN_ROLE_WEIGHT, 1);
    d[1] = D("features.0.bias", SN_F32, sn_shape1(2), SN_ROLE_BIAS, 1);
    d[2] = D("features.1.weight", SN_F32, sn_shape1(2), SN_ROLE_BN_WEIGHT, 1);
    d[3] = D("features.1.running_mean", SN_F32, sn_shape1(2), SN_ROLE_BN_MEAN, 0);
    d[4] = D("features.1.num_batches_tracked", SN_I64, sn_shape_make(0, NULL), SN_ROLE_BN_COUNT, 0);
    d[5] = D("classifier.weight", SN_F32, sn_shape2(3, 2), SN_ROLE_WEIGHT, 1);
}

typedef struct fixture {
    sn_weights w, m, v; /* model; optimizer slots exp_avg and exp_avg_sq */
    sn_opt_state opt;
    sn_ckpt_meta meta;
} fixture;

static void make_stores(fixture *fx, const sn_param_desc *d, int n) {
    sn_status st;
    sn_status_init(&st);
    memset(fx, 0, sizeof *fx);
    CHECK(sn_weights_create(&fx->w, d, n, &st) == SN_OK);
    sn_param_desc tr[NPARAM + 2];
    int nt = 0;
    for (int i = 0; i < n; i++)
        if (d[i].trainable) tr[nt++] = d[i];
    CHECK(sn_weights_create(&fx->m, tr, nt, &st) == SN_OK);
    CHECK(sn_weights_create(&fx->v, tr, nt, &st) == SN_OK);
    fx->opt.nslots = 2;
    fx->opt.slot_names[0] = "exp_avg";
    fx->opt.slot_names[1] = "exp_avg_sq";
    fx->opt.slots[0] = &fx->m;
    fx->opt.slots[1] = &fx->v;
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void fill(sn_weights *w, float base) {
    for (int i = 0; i < w->n; i++) {
        int64_t n = sn_shape_numel(&w->desc[i].shape);
        if (w->desc[i].dtype == SN_I64) {
            for (int64_t k = 0; k < n; k++) ((int64_t *)w->data[i])[k] = 9007199254740993LL + k;
        } else {
            float *p = w->data[i];
            for (int64_t k = 0; k < n; k++) p[k] = base + 0.1f * (float)(i * 100 + k) - 3.3f;
        }
    }
}

static void free_fixture(fixture *fx) {
    sn_weights_free(&fx->w);
    sn_weights_free(&fx->m);
    sn_weights_free(&fx->v);
}

static void make_fixture(fixture *fx) {
    sn_param_desc d[NPARAM];
    model_descs(d);
    make_stores(fx, d, NPARAM);
    fill(&fx->w, 1.0f);
    fill(&fx->m, 2.0f);
    fill(&fx->v, 3.0f);
    fx->meta.epoch = 17;
    fx->meta.step = 123456789012LL;
    fx->meta.rng[0] = 0x0123456789abcdefULL;
    fx->meta.rng[1] = 0xfedcba9876543210ULL;
    fx->meta.rng[2] = 0;
    fx->meta.rng[3] = UINT64_MAX;
    fx->meta.best = 0.1 + 0.2; /* not representable in 15 digits */
    sn_strlcpy(fx->meta.model, "vgg_cifar", sizeof fx->meta.model);
}

static int stores_equal(const sn_weights *a, const sn_weights *b) {
    if (a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++) {
        size_t bytes = (size_t)sn_shape_numel(&a->desc[i].shape) * sn_dtype_size(a->desc[i].dtype);
        if (memcmp(a->data[i], b->data[i], bytes) != 0) return 0;
    }
    return 1;
}

static void path_for(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", sn_test_tmpdir(), name);
}

static void test_round_trip(void) {
    fixture a, b;
    make_fixture(&a);
    make_fixture(&b);
    fill(&b.w, 0.0f); /* different values to be overwritten */
    fill(&b.m, 0.0f);
    fill(&b.v, 0.0f);
    ((float *)a.w.data[0])[3] = -0.0f;
    char path[1200];
    path_for(path, sizeof path, "rt.ckpt.safetensors");
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    /* the file itself */
    sn_st_file f;
    CHECK(sn_safetensors_read(path, &f, &st) == SN_OK);
    CHECK_EQ_INT(f.ntensors, NPARAM + 2 * 4);
    const char *fmt = sn_st_meta_get(&f, "format");
    CHECK(fmt && strcmp(fmt, "snnc-checkpoint-1") == 0);
    const char *rng = sn_st_meta_get(&f, "rng");
    CHECK(rng && strcmp(rng, "0123456789abcdef fedcba9876543210 0000000000000000 "
                             "ffffffffffffffff") == 0);
    CHECK(sn_st_meta_get(&f, "epoch") && strcmp(sn_st_meta_get(&f, "epoch"), "17") == 0);
    CHECK(sn_st_meta_get(&f, "step") && strcmp(sn_st_meta_get(&f, "step"), "123456789012") == 0);
    CHECK(sn_st_meta_get(&f, "model") && strcmp(sn_st_meta_get(&f, "model"), "vgg_cifar") == 0);
    const sn_st_tensor *t = sn_st_find(&f, "features.1.num_batches_tracked");
    CHECK(t && t->dtype == SN_I64 && t->shape.rank == 0 && t->nbytes == 8);
    t = sn_st_find(&f, "optimizer.exp_avg_sq.classifier.weight");
    CHECK(t && t->dtype == SN_F32 && t->shape.rank == 2 && t->shape.d[0] == 3);
    CHECK(sn_st_find(&f, "optimizer.exp_avg.features.1.running_mean") == NULL); /* buffer */
    CHECK(strcmp(f.tensors[0].name, "features.0.weight") == 0);                 /* order */
    sn_st_free(&f);

    sn_ckpt_meta m;
    memset(&m, 0x55, sizeof m);
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(stores_equal(&a.w, &b.w));
    CHECK(stores_equal(&a.m, &b.m));
    CHECK(stores_equal(&a.v, &b.v));
    CHECK(signbit(((float *)b.w.data[0])[3]));
    CHECK(*(int64_t *)b.w.data[4] == 9007199254740993LL);
    CHECK_EQ_INT(m.epoch, 17);
    CHECK_EQ_INT(m.step, 123456789012LL);
    CHECK(m.best == 0.1 + 0.2);
    CHECK(memcmp(m.rng, a.meta.rng, sizeof m.rng) == 0);
    CHECK(strcmp(m.model, "vgg_cifar") == 0);

    /* best = -1 (none), epoch 0; NaN best survives too */
    a.meta.best = -1;
    a.meta.epoch = 0;
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK(m.best == -1 && m.epoch == 0);
    a.meta.best = NAN;
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK(isnan(m.best));
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    /* no optimizer (evaluation-only checkpoints): opt NULL on both sides */
    CHECK(sn_checkpoint_save(path, &a.w, NULL, &a.meta, &st) == SN_OK);
    CHECK(sn_checkpoint_load(path, &b.w, NULL, &m, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    free_fixture(&a);
    free_fixture(&b);
}

/* Slot stores named like the trainer's ("optimizer.<slot>.<param>", the plan's buffer
 * names) are written under the documented name, once prefixed; files that hold the prefix
 * twice (written before the fix) still load, into either kind of store. */
static void prefix_stores(fixture *fx) {
    for (int s = 0; s < fx->opt.nslots; s++) {
        sn_weights *w = fx->opt.slots[s];
        for (int i = 0; i < w->n; i++) {
            char name[300];
            snprintf(name, sizeof name, "optimizer.%s.%s", fx->opt.slot_names[s], w->desc[i].name);
            sn_strlcpy(w->desc[i].name, name, sizeof w->desc[i].name);
        }
    }
}

static void test_slot_names(void) {
    fixture a, b, c;
    make_fixture(&a);
    prefix_stores(&a);
    make_fixture(&b);
    prefix_stores(&b);
    make_fixture(&c); /* plain parameter names */
    fill(&b.m, 0.0f);
    fill(&c.m, 0.0f);
    fill(&c.v, 0.0f);
    char path[1200];
    path_for(path, sizeof path, "names.ckpt.safetensors");
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    sn_st_file f;
    CHECK(sn_safetensors_read(path, &f, &st) == SN_OK);
    CHECK(sn_st_find(&f, "optimizer.exp_avg.features.0.weight") != NULL);
    CHECK(sn_st_find(&f, "optimizer.exp_avg_sq.classifier.weight") != NULL);
    for (int i = 0; i < f.ntensors; i++)
        CHECK_MSG(strstr(f.tensors[i].name + 1, "optimizer.") == NULL, "doubled prefix: %s",
                  f.tensors[i].name);
    sn_ckpt_meta m;
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK(sn_checkpoint_load(path, &c.w, &c.opt, &m, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(stores_equal(&a.m, &b.m) && stores_equal(&a.v, &b.v));
    CHECK(stores_equal(&a.m, &c.m) && stores_equal(&a.v, &c.v));

    /* the legacy form: the same file with every optimizer tensor's prefix doubled */
    char legacy[1200];
    path_for(legacy, sizeof legacy, "legacy.ckpt.safetensors");
    char names[64][160];
    char *orig[64];
    CHECK(f.ntensors <= 64);
    for (int i = 0; i < f.ntensors && i < 64; i++) {
        const char *nm = orig[i] = f.tensors[i].name;
        const char *slots[2] = {"optimizer.exp_avg_sq.", "optimizer.exp_avg."};
        snprintf(names[i], sizeof names[i], "%s", nm);
        for (int k = 0; k < 2; k++)
            if (strncmp(nm, slots[k], strlen(slots[k])) == 0) {
                snprintf(names[i], sizeof names[i], "%s%s", slots[k], nm);
                break;
            }
        f.tensors[i].name = names[i];
    }
    CHECK(sn_safetensors_write(legacy, f.tensors, f.ntensors, f.meta, f.nmeta, &st) == SN_OK);
    for (int i = 0; i < f.ntensors && i < 64; i++) f.tensors[i].name = orig[i];
    sn_st_free(&f);
    sn_st_file g;
    CHECK(sn_safetensors_read(legacy, &g, &st) == SN_OK);
    CHECK(sn_st_find(&g, "optimizer.exp_avg.optimizer.exp_avg.features.0.weight") != NULL);
    sn_st_free(&g);
    fill(&b.m, 0.0f);
    fill(&c.v, 0.0f);
    CHECK(sn_checkpoint_load(legacy, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK(sn_checkpoint_load(legacy, &c.w, &c.opt, &m, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(stores_equal(&a.m, &b.m) && stores_equal(&a.v, &b.v));
    CHECK(stores_equal(&a.m, &c.m) && stores_equal(&a.v, &c.v));
    free_fixture(&a);
    free_fixture(&b);
    free_fixture(&c);
}

/* Loading `path` into a fresh full fixture fails with SN_ERR_INPUT naming the file and
 * each of the substrings; the destination stores are left untouched. */
static void expect_load_error(const char *path, const char *sub1, const char *sub2) {
    fixture b;
    make_fixture(&b);
    fill(&b.w, 5.0f);
    fill(&b.m, 5.0f);
    fixture ref;
    make_fixture(&ref);
    fill(&ref.w, 5.0f);
    fill(&ref.m, 5.0f);
    sn_status st;
    sn_status_init(&st);
    sn_ckpt_meta m;
    memset(&m, 0, sizeof m);
    CHECK_MSG(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_ERR_INPUT, "loaded %s", path);
    CHECK_EQ_INT(st.code, SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
    if (sub1) CHECK_CONTAINS(st.msg, sub1);
    if (sub2) CHECK_CONTAINS(st.msg, sub2);
    CHECK(stores_equal(&b.w, &ref.w));
    CHECK(stores_equal(&b.m, &ref.m));
    CHECK_EQ_INT(m.epoch, 0);
    free_fixture(&b);
    free_fixture(&ref);
}

static void test_mismatch(void) {
    sn_status st;
    sn_status_init(&st);
    char path[1200];
    sn_param_desc d[NPARAM];

    /* a model tensor missing (and so its optimizer tensors) */
    model_descs(d);
    fixture a;
    make_stores(&a, d, NPARAM - 1); /* no classifier.weight */
    sn_ckpt_meta meta = {0};
    sn_strlcpy(meta.model, "m", sizeof meta.model);
    path_for(path, sizeof path, "missing.safetensors");
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &meta, &st) == SN_OK);
    expect_load_error(path, "missing tensor: classifier.weight",
                      "missing tensor: optimizer.exp_avg_sq.classifier.weight");
    free_fixture(&a);

    /* an optimizer slot missing: saved with one slot, loaded expecting two */
    make_fixture(&a);
    a.opt.nslots = 1;
    path_for(path, sizeof path, "oneslot.safetensors");
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    expect_load_error(path, "optimizer.exp_avg_sq.features.0.weight", "4 problems");
    free_fixture(&a);

    /* wrong shape and wrong dtype */
    model_descs(d);
    d[1].shape = sn_shape1(3);
    d[4].dtype = SN_F32;
    make_stores(&a, d, NPARAM);
    path_for(path, sizeof path, "shape.safetensors");
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &meta, &st) == SN_OK);
    expect_load_error(path, "features.0.bias is F32[3], expected F32[2]",
                      "features.1.num_batches_tracked is F32[], expected I64[]");
    free_fixture(&a);

    /* an extra tensor (a different model) */
    sn_param_desc d7[NPARAM + 1];
    model_descs(d7);
    d7[NPARAM] = D("extra.weight", SN_F32, sn_shape1(1), SN_ROLE_WEIGHT, 0);
    make_stores(&a, d7, NPARAM + 1);
    path_for(path, sizeof path, "extra.safetensors");
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &meta, &st) == SN_OK);
    expect_load_error(path, "unexpected tensor: extra.weight", NULL);
    free_fixture(&a);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

/* Writes the fixture's tensors with hand-made metadata. */
static void write_with_meta(const char *path, const sn_st_meta *md, int nmd) {
    fixture a;
    make_fixture(&a);
    sn_st_tensor ts[NPARAM + 8];
    char names[8][160];
    int k = 0;
    for (int i = 0; i < a.w.n; i++, k++) {
        memset(&ts[k], 0, sizeof ts[k]);
        ts[k].name = a.w.desc[i].name;
        ts[k].dtype = a.w.desc[i].dtype;
        ts[k].shape = a.w.desc[i].shape;
        ts[k].data = a.w.data[i];
        ts[k].nbytes =
            (size_t)sn_shape_numel(&a.w.desc[i].shape) * sn_dtype_size(a.w.desc[i].dtype);
    }
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < a.opt.slots[s]->n; i++, k++) {
            const sn_param_desc *pd = &a.opt.slots[s]->desc[i];
            snprintf(names[s * 4 + i], sizeof names[0], "optimizer.%s.%s", a.opt.slot_names[s],
                     pd->name);
            memset(&ts[k], 0, sizeof ts[k]);
            ts[k].name = names[s * 4 + i];
            ts[k].dtype = pd->dtype;
            ts[k].shape = pd->shape;
            ts[k].data = a.opt.slots[s]->data[i];
            ts[k].nbytes = (size_t)sn_shape_numel(&pd->shape) * sn_dtype_size(pd->dtype);
        }
    }
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, k, md, nmd, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    free_fixture(&a);
}

static void test_bad_metadata(void) {
    char path[1200];
    path_for(path, sizeof path, "meta.safetensors");
    const char *rng = "0123456789abcdef 0123456789abcdef 0123456789abcdef 0123456789abcdef";
    sn_st_meta good[6] = {{"format", "snnc-checkpoint-1"},
                          {"epoch", "3"},
                          {"step", "300"},
                          {"best", "0.5"},
                          {"rng", NULL},
                          {"model", "net"}};
    good[4].value = (char *)rng;
    /* sanity: the hand-made file loads */
    write_with_meta(path, good, 6);
    fixture b;
    make_fixture(&b);
    sn_status st;
    sn_status_init(&st);
    sn_ckpt_meta m;
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(m.epoch == 3 && m.step == 300 && m.best == 0.5 && m.rng[2] == 0x0123456789abcdefULL);
    free_fixture(&b);

    struct {
        int key;
        const char *value, *expect;
    } cases[] = {
        {1, "12x", "\"epoch\""},
        {1, "-1", "\"epoch\""},
        {1, "", "\"epoch\""},
        {1, " 3", "\"epoch\""},
        {1, "99999999999999999999", "\"epoch\""},
        {2, "3.5", "\"step\""},
        {3, "abc", "\"best\""},
        {3, "0.5 ", "\"best\""},
        {3, "1e999", "\"best\""},
        {4, "0123456789abcdef", "\"rng\""},
        {4, "0123456789abcdeg 0123456789abcdef 0123456789abcdef 0123456789abcdef", "\"rng\""},
        {4, "0123456789abcdef,0123456789abcdef 0123456789abcdef 0123456789abcdef", "\"rng\""},
        {5, "a-model-name-that-is-far-too-long-for-the-sixty-four-byte-field-of-the-meta",
         "\"model\""},
    };
    for (size_t c = 0; c < SN_ARRAY_LEN(cases); c++) {
        sn_st_meta md[6];
        memcpy(md, good, sizeof md);
        md[cases[c].key].value = (char *)cases[c].value;
        write_with_meta(path, md, 6);
        expect_load_error(path, cases[c].expect, "bad metadata");
    }
    /* a key missing */
    sn_st_meta md[6];
    memcpy(md, good, sizeof md);
    md[2] = md[5]; /* "step" dropped: format, epoch, model, best, rng */
    write_with_meta(path, md, 5);
    expect_load_error(path, "missing metadata \"step\"", NULL);

    /* format: wrong, missing */
    memcpy(md, good, sizeof md);
    md[0].value = "snnc-checkpoint-2";
    write_with_meta(path, md, 6);
    expect_load_error(path, "\"format\"", "snnc-checkpoint-2");
    write_with_meta(path, md + 1, 5);
    expect_load_error(path, "\"format\" is missing", NULL);

    /* a plain weights file is not a checkpoint */
    fixture a;
    make_fixture(&a);
    CHECK(sn_weights_save(&a.w, path, NULL, 0, &st) == SN_OK);
    expect_load_error(path, "not an snnc checkpoint", NULL);
    free_fixture(&a);
}

static void test_damaged(void) {
    fixture a;
    make_fixture(&a);
    char path[1200], cut[1200];
    path_for(path, sizeof path, "whole.safetensors");
    path_for(cut, sizeof cut, "cut.safetensors");
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    unsigned char *raw;
    size_t size;
    CHECK(sn_read_file(path, &raw, &size, &st) == SN_OK);
    size_t cuts[] = {0, 5, 8, 40, size / 2, size - 1};
    for (size_t i = 0; i < SN_ARRAY_LEN(cuts); i++) {
        CHECK(sn_write_file_atomic(cut, raw, cuts[i], &st) == SN_OK);
        expect_load_error(cut, NULL, NULL);
        fixture b;
        make_fixture(&b);
        sn_status s2;
        sn_status_init(&s2);
        CHECK(sn_checkpoint_load_weights(cut, &b.w, &s2) == SN_ERR_INPUT);
        CHECK_CONTAINS(s2.msg, cut);
        free_fixture(&b);
    }
    free(raw);
    path_for(cut, sizeof cut, "does-not-exist.safetensors");
    expect_load_error(cut, NULL, NULL);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    free_fixture(&a);
}

static void test_load_weights(void) {
    fixture a, b;
    make_fixture(&a);
    make_fixture(&b);
    fill(&b.w, 7.0f);
    fill(&b.m, 7.0f);
    char path[1200];
    path_for(path, sizeof path, "lw.safetensors");
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    CHECK(sn_checkpoint_load_weights(path, &b.w, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(stores_equal(&a.w, &b.w));
    CHECK(*(int64_t *)b.w.data[4] == 9007199254740993LL);
    CHECK(!stores_equal(&a.m, &b.m)); /* optimizer state untouched */
    /* a plain weights file loads too */
    fill(&b.w, 7.0f);
    CHECK(sn_weights_save(&a.w, path, NULL, 0, &st) == SN_OK);
    CHECK(sn_checkpoint_load_weights(path, &b.w, &st) == SN_OK);
    CHECK(stores_equal(&a.w, &b.w));
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    /* a model tensor missing is still an error */
    sn_param_desc d[NPARAM];
    model_descs(d);
    fixture c;
    make_stores(&c, d, NPARAM - 1);
    CHECK(sn_checkpoint_save(path, &c.w, &c.opt, &a.meta, &st) == SN_OK);
    CHECK(sn_checkpoint_load_weights(path, &b.w, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
    CHECK_CONTAINS(st.msg, "classifier.weight");
    free_fixture(&a);
    free_fixture(&b);
    free_fixture(&c);
}

static int count_temporaries(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    size_t pl = strlen(prefix);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, pl) == 0 && strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void test_atomic_replace(void) {
    fixture a;
    make_fixture(&a);
    char path[1200];
    path_for(path, sizeof path, "replace.safetensors");
    sn_status st;
    sn_status_init(&st);
    a.meta.epoch = 1;
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    unsigned char *old;
    size_t old_size;
    CHECK(sn_read_file(path, &old, &old_size, &st) == SN_OK);
    int fd = open(path, O_RDONLY); /* a reader holding the old checkpoint */
    CHECK(fd >= 0);

    /* a failing save (a tensor name that is not UTF-8) leaves the old file as it was */
    sn_strlcpy(a.w.desc[1].name, "bad\xff", sizeof a.w.desc[1].name);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
    sn_status_init(&st);
    sn_strlcpy(a.w.desc[1].name, "features.0.bias", sizeof a.w.desc[1].name);
    unsigned char *now;
    size_t now_size;
    CHECK(sn_read_file(path, &now, &now_size, &st) == SN_OK);
    CHECK(now_size == old_size && memcmp(now, old, old_size) == 0);
    free(now);

    /* a successful save replaces it; the reader still sees the complete old version */
    a.meta.epoch = 2;
    fill(&a.w, 9.0f);
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_OK);
    unsigned char *buf = malloc(old_size + 16);
    ssize_t got = fd >= 0 ? pread(fd, buf, old_size + 16, 0) : -1;
    CHECK(got == (ssize_t)old_size && memcmp(buf, old, old_size) == 0);
    sn_st_file f;
    CHECK(sn_safetensors_parse("old", buf, (size_t)(got > 0 ? got : 0), &f, &st) == SN_OK);
    CHECK(sn_st_meta_get(&f, "epoch") && strcmp(sn_st_meta_get(&f, "epoch"), "1") == 0);
    sn_st_free(&f);
    free(buf);
    free(old);
    if (fd >= 0) close(fd);
    fixture b;
    make_fixture(&b);
    sn_ckpt_meta m;
    CHECK(sn_checkpoint_load(path, &b.w, &b.opt, &m, &st) == SN_OK);
    CHECK_EQ_INT(m.epoch, 2);
    CHECK(stores_equal(&a.w, &b.w));
    CHECK_EQ_INT(count_temporaries(sn_test_tmpdir(), "replace.safetensors"), 0);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    free_fixture(&a);
    free_fixture(&b);
}

static void test_bad_arguments(void) {
    fixture a;
    make_fixture(&a);
    char path[1200];
    path_for(path, sizeof path, "args.safetensors");
    sn_status st;
    sn_status_init(&st);
    a.opt.slot_names[1] = "exp_avg"; /* twice */
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "exp_avg");
    sn_status_init(&st);
    a.opt.slot_names[1] = "a.b";
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    a.opt.slot_names[1] = "exp_avg_sq";
    a.meta.step = -5;
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_ERR_INPUT);
    CHECK(!sn_file_exists(path));
    sn_status_init(&st);
    /* a directory that does not exist */
    a.meta.step = 5;
    path_for(path, sizeof path, "no/such/dir/x.safetensors");
    CHECK(sn_checkpoint_save(path, &a.w, &a.opt, &a.meta, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "no/such/dir");
    free_fixture(&a);
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_slot_names);
    RUN(test_mismatch);
    RUN(test_bad_metadata);
    RUN(test_damaged);
    RUN(test_load_weights);
    RUN(test_atomic_replace);
    RUN(test_bad_arguments);
    return sn_test_result();
}
