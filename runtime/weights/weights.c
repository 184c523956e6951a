#include "weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/util.h"

sn_code sn_weights_create(sn_weights *w, const sn_param_desc *desc, int n, sn_status *st) {
    memset(w, 0, sizeof *w);
    w->desc = sn_calloc((size_t)n, sizeof *w->desc);
    w->data = sn_calloc((size_t)n, sizeof *w->data);
    if (!w->desc || !w->data) {
        sn_weights_free(w);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory allocating the weight store");
    }
    w->n = n;
    for (int i = 0; i < n; i++) {
        w->desc[i] = desc[i];
        size_t bytes = (size_t)sn_shape_numel(&desc[i].shape) * sn_dtype_size(desc[i].dtype);
        w->data[i] = sn_aligned_alloc(bytes);
        if (!w->data[i]) {
            sn_weights_free(w);
            return sn_fail(st, SN_ERR_RUNTIME, "out of memory allocating %s (%zu bytes)",
                           desc[i].name, bytes);
        }
    }
    return SN_OK;
}

void sn_weights_free(sn_weights *w) {
    if (w->data)
        for (int i = 0; i < w->n; i++) sn_aligned_free(w->data[i]);
    free(w->data);
    free(w->desc);
    memset(w, 0, sizeof *w);
}

int sn_weights_find(const sn_weights *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->desc[i].name, name) == 0) return i;
    return -1;
}

static void fill_uniform(float *p, int64_t n, float bound, sn_rng *r) {
    for (int64_t i = 0; i < n; i++) p[i] = (2.0f * sn_rng_uniform(r) - 1.0f) * bound;
}

void sn_weights_init(sn_weights *w, sn_init_method method, int fan_out_mode, uint64_t seed) {
    for (int i = 0; i < w->n; i++) {
        const sn_param_desc *d = &w->desc[i];
        int64_t n = sn_shape_numel(&d->shape);
        /* One stream per parameter, so adding a layer does not change the others. */
        sn_rng r;
        sn_rng_seed(&r, seed ^ sn_hash_str(SN_HASH_INIT, d->name));
        if (d->dtype == SN_I64) {
            memset(w->data[i], 0, (size_t)n * sizeof(int64_t));
            continue;
        }
        float *p = w->data[i];
        double fan_in = d->fan_in > 0 ? (double)d->fan_in : 1.0;
        double fan_out = d->fan_out > 0 ? (double)d->fan_out : 1.0;
        double fan = fan_out_mode ? fan_out : fan_in;
        switch (d->role) {
        case SN_ROLE_WEIGHT:
            switch (method) {
            case SN_INITM_TORCH_DEFAULT:
                fill_uniform(p, n, (float)(1.0 / sqrt(fan_in)), &r);
                break;
            case SN_INITM_KAIMING_NORMAL: {
                float std = (float)sqrt(2.0 / fan);
                for (int64_t j = 0; j < n; j++) p[j] = std * sn_rng_normal(&r);
                break;
            }
            case SN_INITM_KAIMING_UNIFORM:
                fill_uniform(p, n, (float)sqrt(6.0 / fan), &r);
                break;
            case SN_INITM_XAVIER_UNIFORM:
                fill_uniform(p, n, (float)sqrt(6.0 / (fan_in + fan_out)), &r);
                break;
            }
            break;
        case SN_ROLE_BIAS:
            if (method == SN_INITM_TORCH_DEFAULT)
                fill_uniform(p, n, (float)(1.0 / sqrt(fan_in)), &r);
            else
                memset(p, 0, (size_t)n * sizeof(float));
            break;
        case SN_ROLE_BN_WEIGHT:
        case SN_ROLE_BN_VAR:
        case SN_ROLE_ONES:
            for (int64_t j = 0; j < n; j++) p[j] = 1.0f;
            break;
        case SN_ROLE_BN_BIAS:
        case SN_ROLE_BN_MEAN:
        case SN_ROLE_BN_COUNT:
        case SN_ROLE_ZEROS:
            memset(p, 0, (size_t)n * sizeof(float));
            break;
        case SN_ROLE_THETA: {
            int64_t U = d->shape.rank == 2 ? d->shape.d[1] : 1;
            for (int64_t j = 0; j < n; j++) p[j] = (float)(j % U) + 0.5f;
            break;
        }
        }
    }
}

static int is_float_dtype(sn_dtype t) {
    return t == SN_F32 || t == SN_F16 || t == SN_BF16 || t == SN_F64;
}

sn_code sn_weights_from_file(sn_weights *w, const sn_st_file *f, const char *path, sn_status *st) {
    sn_strbuf problems;
    sn_sb_init(&problems);
    int nproblems = 0;
    char a[128], b[128];
    for (int i = 0; i < f->ntensors; i++) {
        const sn_st_tensor *t = &f->tensors[i];
        int j = sn_weights_find(w, t->name);
        if (j < 0) {
            sn_sb_printf(&problems, "\n  extra: %s %s%s is not a parameter of this model", t->name,
                         sn_dtype_name(t->dtype), sn_shape_str(&t->shape, a, sizeof a));
            nproblems++;
            continue;
        }
        const sn_param_desc *d = &w->desc[j];
        /* PyTorch stores num_batches_tracked as a scalar; accept [] or [1]. */
        int shape_ok = sn_shape_eq(&t->shape, &d->shape) ||
                       (d->role == SN_ROLE_BN_COUNT && sn_shape_numel(&t->shape) == 1);
        if (!shape_ok) {
            sn_sb_printf(&problems, "\n  mis-shaped: %s is %s, expected %s", t->name,
                         sn_shape_str(&t->shape, a, sizeof a),
                         sn_shape_str(&d->shape, b, sizeof b));
            nproblems++;
            continue;
        }
        if (d->dtype == SN_F32 && !is_float_dtype(t->dtype)) {
            sn_sb_printf(&problems, "\n  wrong dtype: %s is %s, expected a float type", t->name,
                         sn_dtype_name(t->dtype));
            nproblems++;
        }
    }
    for (int j = 0; j < w->n; j++) {
        if (sn_st_find(f, w->desc[j].name) || w->desc[j].role == SN_ROLE_BN_COUNT) continue;
        sn_sb_printf(&problems, "\n  missing: %s (expected %s%s)", w->desc[j].name,
                     sn_dtype_name(w->desc[j].dtype), sn_shape_str(&w->desc[j].shape, a, sizeof a));
        nproblems++;
    }
    if (nproblems) {
        sn_fail(st, SN_ERR_INPUT, "%s: %d tensor(s) do not match the model:%s", path, nproblems,
                sn_sb_cstr(&problems));
        sn_sb_free(&problems);
        return st->code;
    }
    sn_sb_free(&problems);
    for (int j = 0; j < w->n; j++) {
        const sn_st_tensor *t = sn_st_find(f, w->desc[j].name);
        if (!t) continue;
        if (w->desc[j].dtype == SN_I64) {
            int64_t v = 0;
            if (t->dtype == SN_I64 && t->nbytes >= 8) memcpy(&v, t->data, 8);
            *(int64_t *)w->data[j] = v;
            continue;
        }
        if (sn_st_to_f32(t, w->data[j], st) != SN_OK) {
            sn_status_context(st, "while reading %s from %s", t->name, path);
            return st->code;
        }
        const float *p = w->data[j];
        int64_t n = sn_shape_numel(&w->desc[j].shape);
        for (int64_t k = 0; k < n; k++) {
            if (!isfinite(p[k]))
                return sn_fail(st, SN_ERR_INPUT,
                               "%s: tensor %s holds a non-finite value at element %lld", path,
                               t->name, (long long)k);
        }
    }
    return SN_OK;
}

sn_code sn_weights_load(sn_weights *w, const char *path, sn_status *st) {
    sn_st_file f;
    if (sn_safetensors_read(path, &f, st) != SN_OK) return st->code;
    sn_code c = sn_weights_from_file(w, &f, path, st);
    sn_st_free(&f);
    return c;
}

sn_code sn_weights_save(const sn_weights *w, const char *path, const sn_st_meta *meta, int nmeta,
                        sn_status *st) {
    sn_st_tensor *ts = sn_calloc((size_t)w->n, sizeof *ts);
    if (!ts) return sn_fail(st, SN_ERR_RUNTIME, "out of memory saving %s", path);
    for (int i = 0; i < w->n; i++) {
        ts[i].name = w->desc[i].name;
        ts[i].dtype = w->desc[i].dtype;
        ts[i].shape = w->desc[i].shape;
        ts[i].data = w->data[i];
        ts[i].nbytes = (size_t)sn_shape_numel(&w->desc[i].shape) * sn_dtype_size(w->desc[i].dtype);
    }
    sn_code c = sn_safetensors_write(path, ts, w->n, meta, nmeta, st);
    free(ts);
    return c;
}

void sn_weights_copy(sn_weights *dst, const sn_weights *src) {
    for (int i = 0; i < dst->n && i < src->n; i++) {
        size_t bytes =
            (size_t)sn_shape_numel(&dst->desc[i].shape) * sn_dtype_size(dst->desc[i].dtype);
        memcpy(dst->data[i], src->data[i], bytes);
    }
}
