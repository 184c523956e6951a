#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include "snrt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../core/rng.h"
#include "../core/util.h"
#include "cpu_features.h"
#include "desc.h"
#include "plan_blob.h"
#include "weights_file.h"

struct snrt_ctx {
    const snrt_model *model;
    snrt_desc desc;
    int variant;
    sn_plan plan;
    sn_pool *pool;
    int t; /* time steps run since the last reset */
    uint64_t seed;
    int64_t image_floats;
    atomic_flag busy;
    size_t bytes; /* the whole mapping, this struct included */
    sn_status st;
};

static const char *const MESSAGES[SNRT_ERR_COUNT] = {
    "ok",
    "bad argument (a NULL pointer or a bad option)",
    "wrong size (an input or output count the model does not take)",
    "bad weights (a weights file that cannot be read or belongs to another model)",
    "no variant of this artifact runs on this CPU",
    "out of memory (or worker threads could not start)",
    "input values the model rejects",
    "not possible now (streaming past T, not a streaming model, or the context is in use)",
    "the artifact is damaged",
};

const char *snrt_strerror(int code) {
    return code >= 0 && code < SNRT_ERR_COUNT ? MESSAGES[code] : "unknown error code";
}

uint64_t snrt_batch_seed(uint64_t seed, uint64_t first) {
    return sn_mix64(seed ^ first);
}

static uint64_t align64(uint64_t v) {
    return (v + 63) & ~(uint64_t)63;
}

/* ----------------------------------------------------------- the description ---- */

static int weight_info(void *arg, int i, sn_dtype *dt, sn_shape *shape) {
    snrt_weight_desc w;
    if (!snrt_desc_weight(arg, i, &w)) return 0;
    *dt = w.dtype;
    *shape = w.shape;
    return 1;
}

/* Checks the model struct and its description; fills d. */
static int open_model(const snrt_model *m, snrt_desc *d, sn_status *st) {
    if (!m || m->magic != SNRT_MODEL_MAGIC || m->struct_size != sizeof(snrt_model)) {
        sn_fail(st, SN_ERR_INPUT, "not an snnc model (bad magic or struct size)");
        return SNRT_ERR_ARTIFACT;
    }
    if (!m->desc || sn_hash64(SN_HASH_INIT, m->desc, (size_t)m->desc_size) != m->desc_hash) {
        sn_fail(st, SN_ERR_INPUT, "the model description fails its checksum (damaged library)");
        return SNRT_ERR_ARTIFACT;
    }
    if (snrt_desc_parse("artifact", m->desc, (size_t)m->desc_size, d, st)) return SNRT_ERR_ARTIFACT;
    if (m->nvariants != (uint64_t)d->nvariants || !m->kernels ||
        (m->weights && m->weights_size != d->weight_bytes)) {
        sn_fail(st, SN_ERR_INPUT, "%s: the model's tables disagree with its description", d->name);
        return SNRT_ERR_ARTIFACT;
    }
    return SNRT_OK;
}

/* The plan of variant v measured and checked against the model's sizes. */
static int measure(const snrt_desc *d, int v, sn_plan_blob_size *sz, sn_status *st) {
    const snrt_variant_desc *vd = &d->variants[v];
    char what[160];
    snprintf(what, sizeof what, "%s (variant %s)", d->name, vd->name);
    if (sn_plan_blob_measure(what, vd->plan, vd->plan_size, d->nweights, weight_info, (void *)d,
                             vd->nkernels, sz, st))
        return SNRT_ERR_ARTIFACT;
    int64_t image = d->channels * d->height * d->width;
    if (sz->batch != d->batch || sz->num_classes != d->classes || sz->T != d->T ||
        sz->step_major != d->step_major || sz->in_floats != d->batch * image ||
        sz->out_floats != d->batch * d->classes) {
        sn_fail(st, SN_ERR_INPUT, "%s: its plan does not match the model's sizes", what);
        return SNRT_ERR_ARTIFACT;
    }
    return SNRT_OK;
}

static uint64_t block_bytes(const snrt_desc *d, const sn_plan_blob_size *sz, int from_file) {
    return align64(sizeof(snrt_ctx)) + align64((uint64_t)d->nweights * sizeof(void *)) +
           (uint64_t)(sz->tables + sz->owned + sz->arena) + (from_file ? d->weight_bytes : 0);
}

uint64_t snrt_context_bytes(const snrt_model *m, int v, int weights_from_file) {
    sn_status st;
    sn_status_init(&st);
    snrt_desc d;
    sn_plan_blob_size sz;
    if (open_model(m, &d, &st) || v < 0 || v >= d.nvariants || measure(&d, v, &sz, &st)) return 0;
    return block_bytes(&d, &sz, weights_from_file);
}

int snrt_get_info(const snrt_model *m, snrt_info *out) {
    if (!out) return SNRT_ERR_ARG;
    memset(out, 0, sizeof *out);
    sn_status st;
    sn_status_init(&st);
    snrt_desc d;
    int rc = open_model(m, &d, &st);
    if (rc) return rc;
    out->name = d.name;
    out->batch = d.batch;
    out->channels = d.channels;
    out->height = d.height;
    out->width = d.width;
    out->classes = d.classes;
    out->time_steps = d.T;
    out->streaming = d.step_major;
    out->image_floats = d.channels * d.height * d.width;
    out->input_floats = d.batch * out->image_floats;
    out->output_floats = d.batch * d.classes;
    out->variants = d.nvariants;
    out->weights_embedded = m->weights != NULL;
    out->weight_bytes = (int64_t)d.weight_bytes;
    return SNRT_OK;
}

/* ------------------------------------------------------------------ creating ---- */

static int create_fail(char *err, size_t n, const char *model, int code, const sn_status *st) {
    if (err && n) snprintf(err, n, "%s: %s", model ? model : "snnc artifact", st->msg);
    return code;
}

static int pick_variant(const snrt_desc *d, const char *want, sn_status *st) {
    uint64_t host = sn_cpu_host_features();
    char miss[512];
    if (want) {
        for (int v = 0; v < d->nvariants; v++) {
            if (strcmp(d->variants[v].name, want) != 0) continue;
            uint64_t lack = d->variants[v].features & ~host;
            if (lack) {
                sn_fail(st, SN_ERR_INPUT, "variant %s needs %s, which this CPU lacks", want,
                        sn_cpu_features_str(lack, miss, sizeof miss));
                return -SNRT_ERR_CPU;
            }
            return v;
        }
        char names[512] = "";
        for (int v = 0; v < d->nvariants; v++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", v ? ", " : "", d->variants[v].name);
        }
        sn_fail(st, SN_ERR_INPUT, "no variant named '%s' (the artifact holds: %s)", want, names);
        return -SNRT_ERR_ARG;
    }
    for (int v = 0; v < d->nvariants; v++)
        if (!(d->variants[v].features & ~host)) return v;
    sn_fail(st, SN_ERR_INPUT, "no variant of the artifact runs on this CPU:");
    for (int v = 0; v < d->nvariants; v++)
        sn_status_append(st, "\n  %s (%s) needs %s", d->variants[v].name, d->variants[v].cpu,
                         sn_cpu_features_str(d->variants[v].features & ~host, miss, sizeof miss));
    return -SNRT_ERR_CPU;
}

int snrt_create(const snrt_model *m, snrt_ctx **out, const snrt_options *opts, char *err,
                size_t err_size) {
    sn_status st;
    sn_status_init(&st);
    if (err && err_size) err[0] = '\0';
    if (!out) {
        sn_fail(&st, SN_ERR_INPUT, "create: the context pointer is NULL");
        return create_fail(err, err_size, NULL, SNRT_ERR_ARG, &st);
    }
    *out = NULL;
    snrt_options o = {0, NULL, NULL};
    if (opts) o = *opts;
    snrt_desc d;
    int rc = open_model(m, &d, &st);
    if (rc) return create_fail(err, err_size, NULL, rc, &st);
    if (o.threads < 0 || o.threads > 4096) {
        sn_fail(&st, SN_ERR_INPUT, "threads = %d: give 0 (one per core) or a count up to 4096",
                o.threads);
        return create_fail(err, err_size, d.name, SNRT_ERR_ARG, &st);
    }
    int v = pick_variant(&d, o.variant, &st);
    if (v < 0) return create_fail(err, err_size, d.name, -v, &st);
    int from_file = o.weights_path != NULL;
    if (!from_file && !m->weights) {
        sn_fail(&st, SN_ERR_INPUT,
                "the artifact holds no weights (compiled with --weights-file): set "
                "options.weights_path to its %s.weights file",
                d.name);
        return create_fail(err, err_size, d.name, SNRT_ERR_WEIGHTS, &st);
    }
    sn_plan_blob_size sz;
    if ((rc = measure(&d, v, &sz, &st))) return create_fail(err, err_size, d.name, rc, &st);
    uint64_t total = block_bytes(&d, &sz, from_file);
    if (total > (uint64_t)SIZE_MAX / 2) {
        sn_fail(&st, SN_ERR_RUNTIME, "a context needs %llu bytes", (unsigned long long)total);
        return create_fail(err, err_size, d.name, SNRT_ERR_MEMORY, &st);
    }
    /* the one allocation: anonymous memory comes zeroed, and only the pages the plan
     * touches are ever faulted in */
    void *mem =
        mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        sn_fail(&st, SN_ERR_RUNTIME, "out of memory: a context needs %.1f MiB (%s)",
                (double)total / 1048576.0, strerror(errno));
        return create_fail(err, err_size, d.name, SNRT_ERR_MEMORY, &st);
    }
#ifdef MADV_HUGEPAGE
    if (total >= ((uint64_t)8 << 20)) madvise(mem, (size_t)total, MADV_HUGEPAGE);
#endif
    snrt_ctx *c = mem;
    c->model = m;
    c->desc = d;
    c->variant = v;
    c->bytes = (size_t)total;
    c->image_floats = d.channels * d.height * d.width;
    atomic_flag_clear(&c->busy);
    sn_status_init(&c->st);
    char *at = (char *)mem + align64(sizeof *c);
    void **wptr = (void **)at;
    at += align64((uint64_t)d.nweights * sizeof(void *));
    char *plan_mem = at;
    unsigned char *wdata = (unsigned char *)plan_mem + sz.tables + sz.owned + sz.arena;
    for (int i = 0; i < d.nweights; i++) {
        snrt_weight_desc wd;
        snrt_desc_weight(&d, i, &wd);
        wptr[i] = (void *)((from_file ? wdata : m->weights) + wd.offset);
    }
    if (from_file && snrt_weights_file_read(&d, o.weights_path, wdata, &st)) {
        rc = SNRT_ERR_WEIGHTS;
        goto fail;
    }
    char what[160];
    snprintf(what, sizeof what, "%s (variant %s)", d.name, d.variants[v].name);
    if (sn_plan_blob_build(what, d.variants[v].plan, d.variants[v].plan_size, &sz, wptr,
                           m->kernels[v], plan_mem, &c->plan, &st)) {
        rc = SNRT_ERR_ARTIFACT;
        goto fail;
    }
    c->pool = sn_pool_create(o.threads);
    if (!c->pool) {
        sn_fail(&st, SN_ERR_RUNTIME, "cannot start %d worker threads", o.threads);
        rc = SNRT_ERR_MEMORY;
        goto fail;
    }
    /* pack the weights (on the pool) */
    if (sn_plan_prepare(&c->plan, c->pool, &st)) {
        rc = st.code == SN_ERR_INPUT ? SNRT_ERR_WEIGHTS : SNRT_ERR_MEMORY;
        goto fail;
    }
    *out = c;
    return SNRT_OK;
fail:
    create_fail(err, err_size, d.name, rc, &st);
    sn_pool_destroy(c->pool);
    munmap(mem, (size_t)total);
    return rc;
}

void snrt_free(snrt_ctx *c) {
    if (!c) return;
    sn_pool_destroy(c->pool);
    munmap(c, c->bytes);
}

/* ------------------------------------------------------------------- running ---- */

static int enter(snrt_ctx *c) {
    if (atomic_flag_test_and_set(&c->busy)) return 0;
    sn_status_init(&c->st);
    return 1;
}

static int leave(snrt_ctx *c, int rc) {
    atomic_flag_clear(&c->busy);
    return rc;
}

static int fail(snrt_ctx *c, int rc, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(snrt_ctx *c, int rc, const char *fn, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sn_fail(&c->st, rc == SNRT_ERR_INPUT ? SN_ERR_INPUT : SN_ERR_RUNTIME, "%s_%s: %s", c->desc.name,
            fn, msg);
    return leave(c, rc);
}

/* Checks the buffers of run/step and copies the input in; the image count, or -code. */
static int64_t take_input(snrt_ctx *c, const char *fn, const float *input, size_t nin,
                          const float *output, size_t nout) {
    const snrt_desc *d = &c->desc;
    if (!input || !output) {
        fail(c, SNRT_ERR_ARG, fn, "the %s pointer is NULL", input ? "output" : "input");
        return -SNRT_ERR_ARG;
    }
    int64_t img = c->image_floats;
    if (nin == 0 || nin % (size_t)img != 0 || nin / (size_t)img > (size_t)d->batch) {
        fail(c, SNRT_ERR_SIZE, fn,
             "the input holds %zu floats; give n images of %lld floats each, 1 <= n <= %lld", nin,
             (long long)img, (long long)d->batch);
        return -SNRT_ERR_SIZE;
    }
    int64_t n = (int64_t)(nin / (size_t)img);
    if (nout < (size_t)(n * d->classes)) {
        fail(c, SNRT_ERR_SIZE, fn,
             "the output holds %zu floats; %lld images x %lld classes = %lld are needed", nout,
             (long long)n, (long long)d->classes, (long long)(n * d->classes));
        return -SNRT_ERR_SIZE;
    }
    float *x = sn_plan_f32(&c->plan, c->plan.in_buf);
    memcpy(x, input, (size_t)(n * img) * sizeof(float));
    /* a short batch: zero images fill it (their scores are dropped) */
    if (n < d->batch) memset(x + n * img, 0, (size_t)((d->batch - n) * img) * sizeof(float));
    return n;
}

static int run_failed(snrt_ctx *c, const char *fn) {
    sn_status_context(&c->st, "in %s_%s", c->desc.name, fn);
    return leave(c, c->st.code == SN_ERR_INPUT ? SNRT_ERR_INPUT : SNRT_ERR_MEMORY);
}

int snrt_run(snrt_ctx *c, const float *input, size_t nin, float *output, size_t nout) {
    if (!c) return SNRT_ERR_ARG;
    if (!enter(c)) return SNRT_ERR_STATE;
    int64_t n = take_input(c, "run", input, nin, output, nout);
    if (n < 0) return (int)-n;
    c->t = 0;
    if (sn_plan_run(&c->plan, c->pool, c->seed, 0, &c->st)) return run_failed(c, "run");
    c->t = c->desc.T;
    memcpy(output, sn_plan_f32(&c->plan, c->plan.out_buf),
           (size_t)(n * c->desc.classes) * sizeof(float));
    return leave(c, SNRT_OK);
}

int snrt_step(snrt_ctx *c, const float *input, size_t nin, float *output, size_t nout) {
    if (!c) return SNRT_ERR_ARG;
    if (!enter(c)) return SNRT_ERR_STATE;
    if (!c->desc.step_major)
        return fail(c, SNRT_ERR_STATE, "step",
                    "this artifact runs all time steps at once (compiled with --schedule layer "
                    "or not spiking): use %s_run",
                    c->desc.name);
    if (c->t >= c->desc.T)
        return fail(c, SNRT_ERR_STATE, "step",
                    "all %d time steps have run: %s_reset starts a new sequence", c->desc.T,
                    c->desc.name);
    int64_t n = take_input(c, "step", input, nin, output, nout);
    if (n < 0) return (int)-n;
    if (sn_plan_run_time_step(&c->plan, c->pool, c->seed, c->t, &c->st))
        return run_failed(c, "step");
    c->t++;
    memcpy(output, sn_plan_f32(&c->plan, c->plan.out_buf),
           (size_t)(n * c->desc.classes) * sizeof(float));
    return leave(c, SNRT_OK);
}

int snrt_reset(snrt_ctx *c) {
    if (!c) return SNRT_ERR_ARG;
    if (!enter(c)) return SNRT_ERR_STATE;
    c->t = 0;
    return leave(c, SNRT_OK);
}

int snrt_set_seed(snrt_ctx *c, uint64_t seed) {
    if (!c) return SNRT_ERR_ARG;
    if (!enter(c)) return SNRT_ERR_STATE;
    c->seed = seed;
    return leave(c, SNRT_OK);
}

int snrt_preprocess(snrt_ctx *c, const uint8_t *images, size_t n, size_t ch, size_t h, size_t w,
                    float *input, size_t nin) {
    if (!c) return SNRT_ERR_ARG;
    if (!enter(c)) return SNRT_ERR_STATE;
    const snrt_desc *d = &c->desc;
    if (!images || !input)
        return fail(c, SNRT_ERR_ARG, "preprocess", "the %s pointer is NULL",
                    images ? "input" : "images");
    if (ch != (size_t)d->channels || h < (size_t)d->height || w < (size_t)d->width ||
        h > (1u << 16) || w > (1u << 16))
        return fail(c, SNRT_ERR_SIZE, "preprocess",
                    "images of %zu x %zu x %zu: the model takes %lld channels of at least %lld x "
                    "%lld pixels (larger images are centre-cropped)",
                    ch, h, w, (long long)d->channels, (long long)d->height, (long long)d->width);
    if (n == 0 || n > ((size_t)1 << 30) || nin != n * (size_t)c->image_floats)
        return fail(c, SNRT_ERR_SIZE, "preprocess",
                    "%zu images need %zu input floats, not %zu (1 <= images <= 2^30)", n,
                    n * (size_t)c->image_floats, nin);
    sn_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = (int64_t)n;
    ds.c = (int)ch;
    ds.h = (int)h;
    ds.w = (int)w;
    ds.pixels = (uint8_t *)images;
    for (size_t i = 0; i < n; i++) {
        int64_t idx = (int64_t)i;
        sn_transform_batch(&d->tf, &ds, &idx, 1, 0, 0, input + i * (size_t)c->image_floats, NULL);
    }
    return leave(c, SNRT_OK);
}

const char *snrt_error(const snrt_ctx *c) {
    return c ? c->st.msg : "no context (NULL)";
}

const char *snrt_variant(const snrt_ctx *c) {
    return c ? c->desc.variants[c->variant].name : "";
}
