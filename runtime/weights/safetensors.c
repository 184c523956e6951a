/* safetensors reader and writer. See safetensors.h. */
#include "safetensors.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../core/util.h"

#define ST_MAX_HEADER (100ull * 1024 * 1024)
#define ST_META_KEY   "__metadata__"

static uint64_t rd_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void wr_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* numel of shape (dims >= 0) times elem, or -1 on overflow of int64 / size_t. */
static int64_t shape_bytes(const sn_shape *s, size_t elem, int64_t *numel_out) {
    int64_t numel = 1;
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->d[i];
        if (d < 0) return -1;
        if (d != 0 && numel > INT64_MAX / d) return -1;
        numel *= d;
    }
    if (numel_out) *numel_out = numel;
    if (elem && numel > INT64_MAX / (int64_t)elem) return -1;
    int64_t bytes = numel * (int64_t)elem;
    if ((uint64_t)bytes > (uint64_t)SIZE_MAX) return -1;
    return bytes;
}

void sn_st_free(sn_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->ntensors; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    memset(f, 0, sizeof *f);
}

const sn_st_tensor *sn_st_find(const sn_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->ntensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *sn_st_meta_get(const sn_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

/* ---- reading -------------------------------------------------------------------------- */

static int json_uint(const sn_json *j, int64_t *v) {
    if (j->type != SN_JSON_NUMBER || !j->is_int || j->integer < 0) return 0;
    *v = j->integer;
    return 1;
}

static sn_code parse_meta(const char *name, const sn_json *m, sn_st_file *out, sn_status *st) {
    if (m->type != SN_JSON_OBJECT)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: \"" ST_META_KEY "\" (byte %zu) must be an object mapping strings to "
                       "strings, found %s %s",
                       name, m->offset, m->type == SN_JSON_ARRAY ? "an" : "a",
                       sn_json_type_name(m->type));
    for (int i = 0; i < m->count; i++) {
        const sn_json *v = &m->items[i];
        if (v->type != SN_JSON_STRING)
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: \"" ST_META_KEY "\" entry \"%s\" (byte %zu) must be a string, "
                           "found %s %s",
                           name, m->keys[i], v->offset, v->type == SN_JSON_ARRAY ? "an" : "a",
                           sn_json_type_name(v->type));
    }
    if (m->count == 0) return SN_OK;
    out->meta = sn_calloc((size_t)m->count, sizeof *out->meta);
    if (!out->meta) return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", name);
    for (int i = 0; i < m->count; i++) {
        out->meta[i].key = sn_strdup(m->keys[i]);
        out->meta[i].value = sn_strdup(m->items[i].string);
        out->nmeta++;
        if (!out->meta[i].key || !out->meta[i].value)
            return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", name);
    }
    return SN_OK;
}

/* Validates one tensor entry and copies its data into t (owned). */
static sn_code parse_tensor(const char *name, const char *tname, const sn_json *v,
                            const unsigned char *data, size_t dsize, size_t data_start,
                            sn_st_tensor *t, int64_t off[2], sn_status *st) {
    if (v->type != SN_JSON_OBJECT)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\" (byte %zu): expected an object with \"dtype\", "
                       "\"shape\" and \"data_offsets\", found %s %s",
                       name, tname, v->offset, v->type == SN_JSON_ARRAY ? "an" : "a",
                       sn_json_type_name(v->type));
    for (int i = 0; i < v->count; i++) {
        const char *k = v->keys[i];
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets"))
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: tensor \"%s\" (byte %zu): unexpected key \"%s\" (expected only "
                           "\"dtype\", \"shape\" and \"data_offsets\")",
                           name, tname, v->items[i].offset, k);
    }
    const char *need[3] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!sn_json_get(v, need[i]))
            return sn_fail(st, SN_ERR_INPUT, "%s: tensor \"%s\" (byte %zu) has no \"%s\"", name,
                           tname, v->offset, need[i]);
    const sn_json *jd = sn_json_get(v, "dtype");
    const sn_json *js = sn_json_get(v, "shape");
    const sn_json *jo = sn_json_get(v, "data_offsets");

    if (jd->type != SN_JSON_STRING)
        return sn_fail(st, SN_ERR_INPUT, "%s: tensor \"%s\": \"dtype\" (byte %zu) must be a string",
                       name, tname, jd->offset);
    if (!sn_dtype_from_name(jd->string, &t->dtype))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": unknown dtype \"%s\" at byte %zu (known: F32 F16 BF16 "
                       "F64 I64 I32 I8 U8 BOOL)",
                       name, tname, jd->string, jd->offset);

    if (js->type != SN_JSON_ARRAY)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": \"shape\" (byte %zu) must be an array of non-negative "
                       "integers",
                       name, tname, js->offset);
    if (js->count > SN_MAX_RANK)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": shape at byte %zu has rank %d, more than the %d "
                       "supported",
                       name, tname, js->offset, js->count, SN_MAX_RANK);
    memset(&t->shape, 0, sizeof t->shape);
    t->shape.rank = js->count;
    for (int i = 0; i < js->count; i++) {
        if (!json_uint(&js->items[i], &t->shape.d[i]))
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: tensor \"%s\": shape[%d] at byte %zu must be a non-negative "
                           "integer",
                           name, tname, i, js->items[i].offset);
    }
    size_t esize = sn_dtype_size(t->dtype);
    int64_t numel = 0;
    int64_t nbytes = shape_bytes(&t->shape, esize, &numel);
    char sh[160];
    sn_shape_str(&t->shape, sh, sizeof sh);
    if (nbytes < 0)
        return sn_fail(st, SN_ERR_INPUT, "%s: tensor \"%s\": shape %s (byte %zu) is too large",
                       name, tname, sh, js->offset);

    if (jo->type != SN_JSON_ARRAY || jo->count != 2 || !json_uint(&jo->items[0], &off[0]) ||
        !json_uint(&jo->items[1], &off[1]))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": \"data_offsets\" (byte %zu) must be [begin, end] with "
                       "non-negative integers",
                       name, tname, jo->offset);
    if (off[0] > off[1])
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%lld, %lld] (byte %zu): begin is after "
                       "end",
                       name, tname, (long long)off[0], (long long)off[1], jo->offset);
    if ((uint64_t)off[1] > (uint64_t)dsize)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%lld, %lld] (byte %zu) reach past the "
                       "end of the %zu-byte data section (file offsets %zu..%zu)",
                       name, tname, (long long)off[0], (long long)off[1], jo->offset, dsize,
                       data_start, data_start + dsize);
    if (off[1] - off[0] != nbytes)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: tensor \"%s\": data_offsets [%lld, %lld] (byte %zu) hold %lld bytes, "
                       "but %s %s needs %lld (%lld elements of %zu bytes)",
                       name, tname, (long long)off[0], (long long)off[1], jo->offset,
                       (long long)(off[1] - off[0]), jd->string, sh, (long long)nbytes,
                       (long long)numel, esize);
    t->nbytes = (size_t)nbytes;
    t->data = malloc(t->nbytes ? t->nbytes : 1);
    if (!t->data)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: tensor \"%s\": out of memory for %zu bytes", name,
                       tname, t->nbytes);
    if (t->nbytes) memcpy(t->data, data + off[0], t->nbytes);
    return SN_OK;
}

typedef struct span {
    int64_t b, e;
    int idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

sn_code sn_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                             sn_st_file *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    if (!name) name = "safetensors data";
    if (size < 8)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: %zu bytes is too short for a safetensors file (it starts with an "
                       "8-byte little-endian header length)",
                       name, size);
    uint64_t n = rd_le64(buf);
    if (n > ST_MAX_HEADER)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the header length %llu (the u64 at offset 0) exceeds the 100 MB limit "
                       "(is this a safetensors file?)",
                       name, (unsigned long long)n);
    if (n > (uint64_t)(size - 8))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the header length %llu (the u64 at offset 0) is more than the %zu "
                       "bytes that follow it: the file is truncated or not a safetensors file",
                       name, (unsigned long long)n, size - 8);
    char what[1200];
    snprintf(what, sizeof what, "%s: safetensors header", name);
    sn_json root;
    if (sn_json_parse_at(what, (const char *)buf + 8, (size_t)n, 8, &root, st) != SN_OK)
        return st->code;
    if (root.type != SN_JSON_OBJECT) {
        sn_fail(st, SN_ERR_INPUT, "%s: the header at byte %zu is %s %s, expected a JSON object",
                name, root.offset, root.type == SN_JSON_ARRAY ? "an" : "a",
                sn_json_type_name(root.type));
        sn_json_free(&root);
        return st->code;
    }
    const unsigned char *data = buf + 8 + n;
    size_t data_start = 8 + (size_t)n, dsize = size - data_start;
    span *spans = NULL;
    int nspans = 0;
    if (root.count > 0) {
        out->tensors = sn_calloc((size_t)root.count, sizeof *out->tensors);
        spans = sn_calloc((size_t)root.count, sizeof *spans);
        if (!out->tensors || !spans) {
            sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", name);
            goto fail;
        }
    }
    for (int i = 0; i < root.count; i++) {
        const char *key = root.keys[i];
        if (strcmp(key, ST_META_KEY) == 0) {
            if (parse_meta(name, &root.items[i], out, st) != SN_OK) goto fail;
            continue;
        }
        sn_st_tensor *t = &out->tensors[out->ntensors];
        int64_t off[2] = {0, 0};
        t->name = sn_strdup(key);
        if (!t->name) {
            sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", name);
            goto fail;
        }
        out->ntensors++;
        if (parse_tensor(name, key, &root.items[i], data, dsize, data_start, t, off, st) != SN_OK)
            goto fail;
        if (off[1] > off[0]) {
            spans[nspans].b = off[0];
            spans[nspans].e = off[1];
            spans[nspans].idx = out->ntensors - 1;
            nspans++;
        }
    }
    if (nspans > 1) {
        qsort(spans, (size_t)nspans, sizeof *spans, span_cmp);
        for (int i = 1; i < nspans; i++) {
            if (spans[i].b < spans[i - 1].e) {
                const sn_st_tensor *a = &out->tensors[spans[i - 1].idx];
                const sn_st_tensor *b = &out->tensors[spans[i].idx];
                sn_fail(st, SN_ERR_INPUT,
                        "%s: tensors \"%s\" (data_offsets [%lld, %lld]) and \"%s\" (data_offsets "
                        "[%lld, %lld]) overlap in the data section (starting at file offset %zu)",
                        name, a->name, (long long)spans[i - 1].b, (long long)spans[i - 1].e,
                        b->name, (long long)spans[i].b, (long long)spans[i].e, data_start);
                goto fail;
            }
        }
    }
    free(spans);
    sn_json_free(&root);
    return SN_OK;
fail:
    free(spans);
    sn_json_free(&root);
    sn_st_free(out);
    return st->code;
}

sn_code sn_safetensors_read(const char *path, sn_st_file *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t size;
    if (sn_read_file(path, &buf, &size, st) != SN_OK) return st->code;
    sn_code rc = sn_safetensors_parse(path, buf, size, out, st);
    free(buf);
    return rc;
}

/* ---- conversion ----------------------------------------------------------------------- */

static uint16_t rd_le16(const unsigned char *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float sn_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    if (exp == 31) return bits_to_float(sign | 0x7f800000u | man << 13); /* inf / nan */
    float v = exp == 0 ? ldexpf((float)man, -24) : ldexpf((float)(man | 0x400u), (int)exp - 25);
    return sign ? -v : v;
}

sn_code sn_st_to_f32(const sn_st_tensor *t, float *dst, sn_status *st) {
    const char *tn = t->name ? t->name : "(unnamed)";
    size_t esize = sn_dtype_size(t->dtype);
    if (esize == 0)
        return sn_fail(st, SN_ERR_INPUT, "tensor \"%s\": unknown dtype %d", tn, (int)t->dtype);
    if (t->shape.rank < 0 || t->shape.rank > SN_MAX_RANK)
        return sn_fail(st, SN_ERR_INPUT, "tensor \"%s\": bad rank %d", tn, t->shape.rank);
    int64_t numel = 0;
    int64_t nbytes = shape_bytes(&t->shape, esize, &numel);
    char sh[160];
    sn_shape_str(&t->shape, sh, sizeof sh);
    if (nbytes < 0 || (size_t)nbytes != t->nbytes)
        return sn_fail(st, SN_ERR_INPUT, "tensor \"%s\": %zu bytes of data, but %s %s needs %lld",
                       tn, t->nbytes, sn_dtype_name(t->dtype), sh, (long long)nbytes);
    if (numel > 0 && !t->data) return sn_fail(st, SN_ERR_INPUT, "tensor \"%s\": no data", tn);
    const unsigned char *p = t->data;
    for (int64_t i = 0; i < numel; i++) {
        const unsigned char *q = p + (size_t)i * esize;
        float v = 0.0f;
        switch (t->dtype) {
        case SN_F32:
            v = bits_to_float(rd_le32(q));
            break;
        case SN_F16:
            v = sn_half_to_float(rd_le16(q));
            break;
        case SN_BF16:
            v = bits_to_float((uint32_t)rd_le16(q) << 16);
            break;
        case SN_F64: {
            uint64_t u = rd_le64(q);
            double d;
            memcpy(&d, &u, sizeof d);
            v = (float)d;
            break;
        }
        case SN_I64:
            v = (float)(int64_t)rd_le64(q);
            break;
        case SN_I32:
            v = (float)(int32_t)rd_le32(q);
            break;
        case SN_I8:
            v = (float)(int8_t)q[0];
            break;
        case SN_U8:
            v = (float)q[0];
            break;
        case SN_BOOL:
            v = q[0] ? 1.0f : 0.0f;
            break;
        case SN_DTYPE_COUNT:
            break;
        }
        dst[i] = v;
    }
    return SN_OK;
}

/* ---- writing -------------------------------------------------------------------------- */

/* 1 if s is valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). */
static int valid_utf8(const char *str) {
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned char c = *s;
        int n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) lo = 0xa0;
            if (c == 0xed) hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) lo = 0x90;
            if (c == 0xf4) hi = 0x8f;
        } else {
            return 0;
        }
        if (s[1] < lo || s[1] > hi) return 0;
        for (int i = 2; i < n; i++)
            if (s[i] < 0x80 || s[i] > 0xbf) return 0;
        s += n;
    }
    return 1;
}

static int str_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Name of the first repeated string in names[0..n), or NULL. */
static const char *first_repeat(const char **names, int n, int *oom) {
    *oom = 0;
    if (n < 2) return NULL;
    const char **s = malloc((size_t)n * sizeof *s);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, names, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, str_ptr_cmp);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(s[i], s[i - 1]) == 0) dup = s[i];
    free(s);
    return dup;
}

static sn_code check_unique(const char **names, int n, const char *what, sn_status *st) {
    int oom;
    const char *dup = first_repeat(names, n, &oom);
    if (oom) return sn_fail(st, SN_ERR_RUNTIME, "safetensors: out of memory");
    if (dup) return sn_fail(st, SN_ERR_INPUT, "safetensors: %s \"%s\" appears twice", what, dup);
    return SN_OK;
}

sn_code sn_safetensors_serialize(const sn_st_tensor *tensors, int ntensors, const sn_st_meta *meta,
                                 int nmeta, unsigned char **buf, size_t *size, sn_status *st) {
    *buf = NULL;
    *size = 0;
    if (ntensors < 0 || nmeta < 0 || (ntensors > 0 && !tensors) || (nmeta > 0 && !meta))
        return sn_fail(st, SN_ERR_INPUT, "safetensors: bad tensor/metadata list");
    /* validate */
    for (int i = 0; i < nmeta; i++) {
        if (!meta[i].key || !meta[i].value)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: metadata entry %d has no key or value",
                           i);
        if (!valid_utf8(meta[i].key) || !valid_utf8(meta[i].value))
            return sn_fail(st, SN_ERR_INPUT, "safetensors: metadata \"%s\" is not valid UTF-8",
                           meta[i].key);
    }
    uint64_t total = 0;
    for (int i = 0; i < ntensors; i++) {
        const sn_st_tensor *t = &tensors[i];
        if (!t->name || !*t->name)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensor %d has no name", i);
        const char *tn = t->name;
        if (strcmp(tn, ST_META_KEY) == 0)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: a tensor may not be named \"%s\"", tn);
        if (!valid_utf8(tn))
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensor name \"%s\" is not valid UTF-8",
                           tn);
        size_t esize = sn_dtype_size(t->dtype);
        if (esize == 0)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensor \"%s\" has unknown dtype %d", tn,
                           (int)t->dtype);
        if (t->shape.rank < 0 || t->shape.rank > SN_MAX_RANK)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensor \"%s\" has rank %d (0..%d)", tn,
                           t->shape.rank, SN_MAX_RANK);
        int64_t nbytes = shape_bytes(&t->shape, esize, NULL);
        char sh[160];
        sn_shape_str(&t->shape, sh, sizeof sh);
        if (nbytes < 0)
            return sn_fail(st, SN_ERR_INPUT,
                           "safetensors: tensor \"%s\" has a negative or too large shape %s", tn,
                           sh);
        if ((size_t)nbytes != t->nbytes)
            return sn_fail(st, SN_ERR_INPUT,
                           "safetensors: tensor \"%s\": %zu bytes of data, but %s %s needs %lld",
                           tn, t->nbytes, sn_dtype_name(t->dtype), sh, (long long)nbytes);
        if (nbytes > 0 && !t->data)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensor \"%s\" has no data", tn);
        if ((uint64_t)nbytes > UINT64_MAX - total)
            return sn_fail(st, SN_ERR_INPUT, "safetensors: tensors too large");
        total += (uint64_t)nbytes;
    }
    {
        const char **names =
            sn_calloc((size_t)(ntensors > nmeta ? ntensors : nmeta), sizeof *names);
        if (!names) return sn_fail(st, SN_ERR_RUNTIME, "safetensors: out of memory");
        for (int i = 0; i < ntensors; i++) names[i] = tensors[i].name;
        sn_code rc = check_unique(names, ntensors, "tensor name", st);
        for (int i = 0; i < nmeta && rc == SN_OK; i++) names[i] = meta[i].key;
        if (rc == SN_OK) rc = check_unique(names, nmeta, "metadata key", st);
        free(names);
        if (rc != SN_OK) return rc;
    }

    /* header */
    sn_strbuf h;
    sn_sb_init(&h);
    sn_sb_puts(&h, "{");
    int first = 1;
    if (nmeta > 0) {
        sn_sb_puts(&h, "\"" ST_META_KEY "\":{");
        for (int i = 0; i < nmeta; i++) {
            if (i) sn_sb_puts(&h, ",");
            sn_sb_json_str(&h, meta[i].key);
            sn_sb_puts(&h, ":");
            sn_sb_json_str(&h, meta[i].value);
        }
        sn_sb_puts(&h, "}");
        first = 0;
    }
    uint64_t at = 0;
    for (int i = 0; i < ntensors; i++) {
        const sn_st_tensor *t = &tensors[i];
        if (!first) sn_sb_puts(&h, ",");
        first = 0;
        sn_sb_json_str(&h, t->name);
        sn_sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", sn_dtype_name(t->dtype));
        for (int d = 0; d < t->shape.rank; d++)
            sn_sb_printf(&h, d ? ",%lld" : "%lld", (long long)t->shape.d[d]);
        sn_sb_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                     (unsigned long long)(at + t->nbytes));
        at += t->nbytes;
    }
    sn_sb_puts(&h, "}");
    while (h.len % 8 != 0 && !h.oom) sn_sb_puts(&h, " ");
    if (h.oom || total > (uint64_t)(SIZE_MAX - 8 - h.len)) {
        sn_sb_free(&h);
        return sn_fail(st, SN_ERR_RUNTIME, "safetensors: out of memory building the header");
    }
    size_t n = 8 + h.len + (size_t)total;
    unsigned char *out = malloc(n);
    if (!out) {
        sn_sb_free(&h);
        return sn_fail(st, SN_ERR_RUNTIME, "safetensors: out of memory for %zu bytes", n);
    }
    wr_le64(out, (uint64_t)h.len);
    memcpy(out + 8, h.data, h.len);
    size_t pos = 8 + h.len;
    for (int i = 0; i < ntensors; i++) {
        if (tensors[i].nbytes) memcpy(out + pos, tensors[i].data, tensors[i].nbytes);
        pos += tensors[i].nbytes;
    }
    sn_sb_free(&h);
    *buf = out;
    *size = n;
    return SN_OK;
}

sn_code sn_safetensors_write(const char *path, const sn_st_tensor *tensors, int ntensors,
                             const sn_st_meta *meta, int nmeta, sn_status *st) {
    unsigned char *buf;
    size_t size;
    if (sn_safetensors_serialize(tensors, ntensors, meta, nmeta, &buf, &size, st) != SN_OK) {
        sn_status_context(st, "while writing %s", path);
        return st->code;
    }
    sn_code rc = sn_write_file_atomic(path, buf, size, st);
    free(buf);
    return rc;
}
