#include "desc.h"

#include <math.h>
#include <string.h>

#include "../core/util.h"

#define MAX_DIM ((int64_t)1 << 40)

static uint64_t tensor_bytes(sn_dtype dt, const sn_shape *s) {
    return (uint64_t)sn_shape_numel(s) * (uint64_t)sn_dtype_size(dt);
}

static uint64_t align64(uint64_t v) {
    return (v + 63) & ~(uint64_t)63;
}

uint64_t snrt_desc_weight_offset(const sn_dtype *dtypes, const sn_shape *shapes, int i) {
    uint64_t off = 0;
    for (int k = 0; k < i; k++) off += align64(tensor_bytes(dtypes[k], &shapes[k]));
    return off;
}

uint64_t snrt_desc_weight_total(const sn_dtype *dtypes, const sn_shape *shapes, int n) {
    return snrt_desc_weight_offset(dtypes, shapes, n);
}

static void put_shape(sn_bw *w, const sn_shape *s) {
    sn_bw_u32(w, (uint32_t)s->rank);
    for (int d = 0; d < s->rank; d++) sn_bw_i64(w, s->d[d]);
}

sn_code snrt_desc_write(const snrt_desc_in *in, sn_bw *w, sn_status *st) {
    if (in->nvariants < 1 || in->nvariants > SNRT_MAX_VARIANTS)
        return sn_fail(st, SN_ERR_INPUT, "an artifact holds 1 to %d CPU variants, not %d",
                       SNRT_MAX_VARIANTS, in->nvariants);
    sn_bw_raw(w, SNRT_DESC_MAGIC, 8);
    sn_bw_u32(w, 1);
    sn_bw_str(w, in->name);
    sn_bw_i64(w, in->batch);
    sn_bw_i64(w, in->channels);
    sn_bw_i64(w, in->height);
    sn_bw_i64(w, in->width);
    sn_bw_i64(w, in->classes);
    sn_bw_u32(w, (uint32_t)in->T);
    sn_bw_u32(w, (uint32_t)in->step_major);
    const sn_transform *tf = &in->tf;
    sn_bw_i32(w, tf->out_h);
    sn_bw_i32(w, tf->out_w);
    sn_bw_f32(w, tf->scale);
    sn_bw_u32(w, (uint32_t)tf->nmean);
    sn_bw_u32(w, (uint32_t)tf->nstd);
    for (int i = 0; i < 4; i++) sn_bw_f32(w, tf->mean[i]);
    for (int i = 0; i < 4; i++) sn_bw_f32(w, tf->std[i]);
    sn_bw_u32(w, (uint32_t)tf->per_image_standardization);
    sn_bw_u32(w, (uint32_t)in->nweights);
    uint64_t off = 0;
    for (int i = 0; i < in->nweights; i++) {
        uint64_t nb = tensor_bytes(in->weight_dtypes[i], &in->weight_shapes[i]);
        sn_bw_str(w, in->weight_names[i]);
        sn_bw_u32(w, (uint32_t)in->weight_dtypes[i]);
        put_shape(w, &in->weight_shapes[i]);
        sn_bw_u64(w, off);
        sn_bw_u64(w, nb);
        off += align64(nb);
    }
    sn_bw_u64(w, off);
    sn_bw_u32(w, (uint32_t)in->nvariants);
    for (int i = 0; i < in->nvariants; i++) {
        const snrt_variant_desc *v = &in->variants[i];
        sn_bw_str(w, v->name);
        sn_bw_str(w, v->cpu);
        sn_bw_str(w, v->isa);
        sn_bw_u64(w, v->features);
        sn_bw_u32(w, (uint32_t)v->nkernels);
        sn_bw_bytes(w, v->plan, v->plan_size);
    }
    sn_bw_raw(w, "END.", 4);
    if (w->oom) return sn_fail(st, SN_ERR_RUNTIME, "out of memory writing the model description");
    return SN_OK;
}

static sn_code damaged(const char *what, const sn_br *r, const char *msg, sn_status *st) {
    return sn_fail(st, SN_ERR_INPUT, "%s: the model description is damaged at byte %zu: %s", what,
                   r->pos, msg);
}

/* Reads one weight entry (checked); 0 on a damaged entry. */
static int read_weight(sn_br *r, snrt_weight_desc *o) {
    memset(o, 0, sizeof *o);
    o->name = sn_br_str(r);
    uint32_t dt = sn_br_u32(r), rank = sn_br_u32(r);
    if (r->bad || dt >= SN_DTYPE_COUNT || rank > SN_MAX_RANK) return 0;
    o->dtype = (sn_dtype)dt;
    o->shape.rank = (int)rank;
    int64_t numel = 1;
    for (uint32_t d = 0; d < rank; d++) {
        int64_t v = sn_br_i64(r);
        if (r->bad || v < 0 || v > MAX_DIM || (v && numel > MAX_DIM / v)) return 0;
        numel *= v;
        o->shape.d[d] = v;
    }
    o->offset = sn_br_u64(r);
    o->nbytes = sn_br_u64(r);
    return !r->bad && *o->name && o->offset % 64 == 0 &&
           o->nbytes == (uint64_t)numel * (uint64_t)sn_dtype_size(o->dtype);
}

sn_code snrt_desc_parse(const char *what, const unsigned char *blob, size_t size, snrt_desc *d,
                        sn_status *st) {
    memset(d, 0, sizeof *d);
    sn_br r;
    sn_br_init(&r, blob, size);
    const unsigned char *magic = sn_br_raw(&r, 8);
    if (!magic || memcmp(magic, SNRT_DESC_MAGIC, 8) != 0)
        return damaged(what, &r, "not an snnc model description (bad magic)", st);
    uint32_t version = sn_br_u32(&r);
    if (version != 1)
        return sn_fail(st, SN_ERR_INPUT, "%s: model description version %u; this runtime reads 1",
                       what, version);
    d->name = sn_br_str(&r);
    d->batch = sn_br_i64(&r);
    d->channels = sn_br_i64(&r);
    d->height = sn_br_i64(&r);
    d->width = sn_br_i64(&r);
    d->classes = sn_br_i64(&r);
    uint32_t T = sn_br_u32(&r), sm = sn_br_u32(&r);
    sn_transform *tf = &d->tf;
    tf->out_h = sn_br_i32(&r);
    tf->out_w = sn_br_i32(&r);
    tf->scale = sn_br_f32(&r);
    uint32_t nmean = sn_br_u32(&r), nstd = sn_br_u32(&r);
    for (int i = 0; i < 4; i++) tf->mean[i] = sn_br_f32(&r);
    for (int i = 0; i < 4; i++) tf->std[i] = sn_br_f32(&r);
    uint32_t pis = sn_br_u32(&r);
    if (r.bad) return damaged(what, &r, "truncated header", st);
    if (d->batch < 1 || d->batch > (1 << 24) || d->channels < 1 || d->height < 1 || d->width < 1 ||
        d->channels > (1 << 16) || d->height > (1 << 16) || d->width > (1 << 16) ||
        d->classes < 1 || d->classes > (1 << 24) || T < 1 || T > (1 << 20) || sm > 1 || nmean > 4 ||
        nstd > 4 || pis > 1 || tf->out_h != d->height || tf->out_w != d->width)
        return damaged(what, &r, "bad sizes", st);
    d->T = (int)T;
    d->step_major = (int)sm;
    tf->nmean = (int)nmean;
    tf->nstd = (int)nstd;
    tf->per_image_standardization = (int)pis;
    uint32_t nw = sn_br_u32(&r);
    if (r.bad || nw > SNRT_MAX_WEIGHTS) return damaged(what, &r, "bad weight count", st);
    d->nweights = (int)nw;
    d->blob = blob;
    d->blob_size = size;
    d->weights_pos = r.pos;
    uint64_t expect = 0;
    for (uint32_t i = 0; i < nw; i++) {
        snrt_weight_desc wd;
        if (!read_weight(&r, &wd) || wd.offset != expect)
            return damaged(what, &r, "bad weight entry", st);
        expect += align64(wd.nbytes);
    }
    d->weight_bytes = sn_br_u64(&r);
    if (r.bad || d->weight_bytes != expect) return damaged(what, &r, "bad weight total", st);
    uint32_t nv = sn_br_u32(&r);
    if (r.bad || nv < 1 || nv > SNRT_MAX_VARIANTS)
        return damaged(what, &r, "bad variant count", st);
    d->nvariants = (int)nv;
    for (uint32_t i = 0; i < nv; i++) {
        snrt_variant_desc *v = &d->variants[i];
        v->name = sn_br_str(&r);
        v->cpu = sn_br_str(&r);
        v->isa = sn_br_str(&r);
        v->features = sn_br_u64(&r);
        uint32_t nk = sn_br_u32(&r);
        v->plan = sn_br_bytes(&r, &v->plan_size);
        if (r.bad || nk > (1 << 20)) return damaged(what, &r, "bad variant entry", st);
        v->nkernels = (int)nk;
    }
    const unsigned char *end = sn_br_raw(&r, 4);
    if (!end || memcmp(end, "END.", 4) != 0 || r.pos != r.len)
        return damaged(what, &r, "missing end mark or trailing bytes", st);
    return SN_OK;
}

int snrt_desc_weight(const snrt_desc *d, int i, snrt_weight_desc *out) {
    if (i < 0 || i >= d->nweights) return 0;
    sn_br r;
    sn_br_init(&r, d->blob, d->blob_size);
    r.pos = d->weights_pos;
    for (int k = 0; k <= i; k++)
        if (!read_weight(&r, out)) return 0;
    return 1;
}
