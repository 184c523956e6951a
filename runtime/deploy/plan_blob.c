#include "plan_blob.h"

#include <string.h>

#include "../core/util.h"
#include "../cpu/prep.h"

#define MAX_BUFS     (1 << 20)
#define MAX_STEPS    (1 << 20)
#define MAX_DIM      ((int64_t)1 << 40)
#define MAX_TASKS    ((int64_t)1 << 40)
#define MAX_PARAMS   4096
#define KIND_BUILTIN -1

static int64_t align64(int64_t v) {
    return (v + 63) & ~(int64_t)63;
}

/* ------------------------------------------------------------------- writing ---- */

static int find(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

static void put_step(sn_bw *w, const sn_step *s, int index) {
    sn_bw_str(w, s->name);
    sn_bw_str(w, s->kernel);
    sn_bw_i32(w, index);
    sn_bw_u32(w, (uint32_t)s->nbufs);
    for (int k = 0; k < s->nbufs; k++) sn_bw_i32(w, s->bufs[k]);
    sn_bw_i64(w, s->ntasks);
    sn_bw_i64(w, s->grain);
    sn_bw_i64(w, s->macs);
    sn_bw_bytes(w, s->params, s->params_size);
}

sn_code sn_plan_blob_write(const sn_plan *p, const char *const *kernels, int nkernels,
                           const char *const *weights, int nweights, sn_bw *w, sn_status *st) {
    if (p->dev)
        return sn_fail(st, SN_ERR_INPUT, "plan %s runs on a device: only CPU plans can be written",
                       p->model);
    if (p->label_buf >= 0 || p->loss_buf >= 0)
        return sn_fail(st, SN_ERR_INPUT, "plan %s has a loss: only inference plans can be written",
                       p->model);
    sn_bw_raw(w, SN_PLAN_BLOB_MAGIC, 8);
    sn_bw_str(w, p->model);
    sn_bw_i64(w, p->batch);
    sn_bw_u32(w, (uint32_t)p->T);
    sn_bw_u32(w, (uint32_t)p->step_major);
    sn_bw_u32(w, (uint32_t)p->num_classes);
    sn_bw_i32(w, p->in_buf);
    sn_bw_i32(w, p->out_buf);
    sn_bw_i64(w, p->arena_bytes);
    sn_bw_i64(w, p->naive_bytes);
    sn_bw_u32(w, (uint32_t)p->nbufs);
    for (int i = 0; i < p->nbufs; i++) {
        const sn_buffer *b = &p->bufs[i];
        int wi = -1;
        if (b->kind == SN_BUF_WEIGHT && (wi = find(weights, nweights, b->name)) < 0)
            return sn_fail(st, SN_ERR_RUNTIME,
                           "internal error: weight buffer %s is not in the artifact's weights",
                           b->name);
        if (b->kind == SN_BUF_ARENA && b->offset < 0)
            return sn_fail(st, SN_ERR_RUNTIME, "internal error: buffer %s has no arena offset",
                           b->name);
        sn_bw_str(w, b->name);
        sn_bw_u32(w, (uint32_t)b->dtype);
        sn_bw_u32(w, (uint32_t)b->shape.rank);
        for (int d = 0; d < b->shape.rank; d++) sn_bw_i64(w, b->shape.d[d]);
        sn_bw_u32(w, (uint32_t)b->kind);
        sn_bw_i64(w, b->kind == SN_BUF_ARENA ? b->offset : -1);
        sn_bw_i32(w, wi);
        sn_bw_str(w, b->layout);
        sn_bw_u32(w, (uint32_t)b->keep);
    }
    for (int pass = 0; pass < 2; pass++) {
        const sn_step *arr = pass == 0 ? p->prep : p->steps;
        int n = pass == 0 ? p->nprep : p->nsteps;
        sn_bw_u32(w, (uint32_t)n);
        for (int i = 0; i < n; i++) {
            int k = find(kernels, nkernels, arr[i].kernel);
            if (k < 0 && sn_cpu_builtin_params_size(arr[i].kernel) == 0)
                return sn_fail(st, SN_ERR_RUNTIME,
                               "internal error: step %s runs kernel %s, which is neither "
                               "generated nor built in",
                               arr[i].name, arr[i].kernel);
            if (pass == 0 && k >= 0)
                return sn_fail(st, SN_ERR_RUNTIME,
                               "internal error: preparation step %s runs a generated kernel",
                               arr[i].name);
            put_step(w, &arr[i], k < 0 ? KIND_BUILTIN : k);
        }
    }
    sn_bw_raw(w, "END.", 4);
    if (w->oom) return sn_fail(st, SN_ERR_RUNTIME, "out of memory writing plan %s", p->model);
    return SN_OK;
}

/* ------------------------------------------------------------------- reading ---- */

typedef struct parser {
    const char *what;
    sn_br r;
    sn_status *st;
    /* measuring */
    int nweights;
    sn_plan_blob_weight_fn weight;
    void *weight_arg;
    int nkernels;
    /* building (NULL when measuring) */
    sn_plan *p;
    void *const *weight_ptrs;
    sn_cpu_fn const *kernels;
    char *params_at, *owned_at, *arena;
    int in, out; /* the input and output buffers */
    sn_plan_blob_size sz;
} parser;

static sn_code bad(parser *P, const char *fmt, const char *detail) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    return sn_fail(P->st, SN_ERR_INPUT, "%s: the plan description is damaged at byte %zu: %s",
                   P->what, P->r.pos, msg);
}

static sn_code read_shape(parser *P, sn_shape *s) {
    memset(s, 0, sizeof *s);
    uint32_t rank = sn_br_u32(&P->r);
    if (P->r.bad || rank > SN_MAX_RANK) return bad(P, "%s", "bad rank");
    s->rank = (int)rank;
    int64_t numel = 1;
    for (uint32_t d = 0; d < rank; d++) {
        int64_t v = sn_br_i64(&P->r);
        if (P->r.bad || v < 0 || v > MAX_DIM) return bad(P, "%s", "bad dimension");
        if (v && numel > MAX_DIM / v) return bad(P, "%s", "shape too large");
        numel *= v;
        s->d[d] = v;
    }
    return SN_OK;
}

static sn_code read_buffers(parser *P) {
    sn_br *r = &P->r;
    uint32_t n = sn_br_u32(r);
    if (r->bad || n > MAX_BUFS) return bad(P, "%s", "bad buffer count");
    P->sz.nbufs = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = sn_br_str(r);
        uint32_t dt = sn_br_u32(r);
        if (r->bad || strlen(name) >= SN_PLAN_NAME_MAX) return bad(P, "%s", "bad buffer name");
        if (dt >= SN_DTYPE_COUNT) return bad(P, "buffer %s: bad dtype", name);
        sn_shape shape;
        if (read_shape(P, &shape)) return P->st->code;
        uint32_t kind = sn_br_u32(r);
        int64_t off = sn_br_i64(r);
        int32_t wi = sn_br_i32(r);
        const char *layout = sn_br_str(r);
        uint32_t keep = sn_br_u32(r);
        if (r->bad) return bad(P, "%s", "truncated buffer");
        if (kind > SN_BUF_OWNED || strlen(layout) >= 16 || keep > 1)
            return bad(P, "buffer %s: bad kind, layout or flag", name);
        int64_t bytes = sn_shape_numel(&shape) * (int64_t)sn_dtype_size((sn_dtype)dt);
        if (P->p) {
            sn_buffer *b = &P->p->bufs[i];
            memset(b, 0, sizeof *b);
            sn_strlcpy(b->name, name, sizeof b->name);
            b->dtype = (sn_dtype)dt;
            b->shape = shape;
            b->bytes = bytes;
            b->kind = (sn_buf_kind)kind;
            b->offset = off;
            b->weight = wi;
            sn_strlcpy(b->layout, layout, sizeof b->layout);
            b->keep = (int)keep;
            switch (b->kind) {
            case SN_BUF_ARENA:
                b->ptr = P->arena + off;
                break;
            case SN_BUF_WEIGHT:
                b->ptr = P->weight_ptrs[wi];
                break;
            case SN_BUF_OWNED:
                b->ptr = P->owned_at; /* b->owned stays NULL: the block owns it */
                P->owned_at += align64(bytes);
                break;
            }
            continue;
        }
        switch ((sn_buf_kind)kind) {
        case SN_BUF_ARENA:
            if (off < 0 || off > P->sz.arena || bytes > P->sz.arena - off)
                return bad(P, "arena buffer %s lies outside the arena", name);
            if (wi != -1) return bad(P, "arena buffer %s names a weight", name);
            break;
        case SN_BUF_WEIGHT: {
            if (wi < 0 || wi >= P->nweights)
                return bad(P, "weight buffer %s: bad weight index", name);
            sn_dtype wdt;
            sn_shape wsh;
            if (!P->weight(P->weight_arg, wi, &wdt, &wsh) || wdt != (sn_dtype)dt ||
                !sn_shape_eq(&wsh, &shape))
                return bad(P, "weight buffer %s does not match the model's weight table", name);
            break;
        }
        case SN_BUF_OWNED:
            if (wi != -1) return bad(P, "owned buffer %s names a weight", name);
            if (P->sz.owned > INT64_MAX / 2 - align64(bytes))
                return bad(P, "%s", "owned buffers too large");
            P->sz.owned += align64(bytes);
            break;
        }
        if ((int)i == P->in || (int)i == P->out) {
            /* the caller's input and output are copied in and out as plain NCHW floats */
            int blocked = strncmp(layout, "NCHW", 4) == 0 && layout[4] >= '0' && layout[4] <= '9';
            int halo = strchr(layout, 'h') && strcmp(strchr(layout, 'h'), "h0") != 0;
            if (kind != SN_BUF_ARENA || dt != SN_F32 || blocked || halo)
                return bad(P, "input or output buffer %s is not a plain float tensor", name);
            if ((int)i == P->in) P->sz.in_floats = sn_shape_numel(&shape);
            if ((int)i == P->out) P->sz.out_floats = sn_shape_numel(&shape);
        }
    }
    return SN_OK;
}

static sn_code read_steps(parser *P, int prep) {
    sn_br *r = &P->r;
    uint32_t n = sn_br_u32(r);
    if (r->bad || n > MAX_STEPS) return bad(P, "%s", "bad step count");
    if (prep)
        P->sz.nprep = (int)n;
    else
        P->sz.nsteps = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        const char *name = sn_br_str(r);
        const char *kernel = sn_br_str(r);
        int32_t index = sn_br_i32(r);
        uint32_t nb = sn_br_u32(r);
        if (r->bad || strlen(name) >= SN_PLAN_NAME_MAX || strlen(kernel) >= SN_PLAN_NAME_MAX)
            return bad(P, "%s", "bad step name");
        if (nb > SN_STEP_MAX_BUFS) return bad(P, "step %s: too many buffers", name);
        int bufs[SN_STEP_MAX_BUFS];
        for (uint32_t k = 0; k < nb; k++) {
            bufs[k] = sn_br_i32(r);
            if (bufs[k] < -1 || bufs[k] >= P->sz.nbufs)
                return bad(P, "step %s: buffer index out of range", name);
        }
        int64_t tasks = sn_br_i64(r), grain = sn_br_i64(r), macs = sn_br_i64(r);
        size_t plen;
        const unsigned char *params = sn_br_bytes(r, &plen);
        if (r->bad) return bad(P, "step %s: truncated", name);
        if (tasks < 1 || tasks > MAX_TASKS || grain < 0 || grain > MAX_TASKS || macs < 0 ||
            plen > MAX_PARAMS)
            return bad(P, "step %s: bad task count or params", name);
        if (!P->p) {
            if (index == KIND_BUILTIN) {
                size_t want = sn_cpu_builtin_params_size(kernel);
                if (want == 0) return bad(P, "step %s: unknown built-in kernel", name);
                if (plen != want) return bad(P, "step %s: params have the wrong size", name);
                if (tasks != sn_cpu_builtin_tasks(kernel, params))
                    return bad(P, "step %s: wrong task count", name);
                if (prep != (strcmp(kernel, "cpu.spike_maxpool") != 0))
                    return bad(P, "step %s: kernel in the wrong list", name);
            } else {
                if (prep || index < 0 || index >= P->nkernels)
                    return bad(P, "step %s: bad kernel index", name);
                if (plen) return bad(P, "step %s: generated kernels take no params", name);
            }
            P->sz.tables += (int64_t)((plen + 15) & ~(size_t)15);
            continue;
        }
        sn_step *s = prep ? &P->p->prep[i] : &P->p->steps[i];
        memset(s, 0, sizeof *s);
        sn_strlcpy(s->name, name, sizeof s->name);
        sn_strlcpy(s->kernel, kernel, sizeof s->kernel);
        s->fn = index == KIND_BUILTIN ? sn_cpu_builtin(kernel) : P->kernels[index];
        if (plen) {
            memcpy(P->params_at, params, plen);
            s->params = P->params_at;
            s->params_size = plen;
            P->params_at += (plen + 15) & ~(size_t)15;
        }
        memcpy(s->bufs, bufs, sizeof(int) * nb);
        s->nbufs = (int)nb;
        s->ntasks = tasks;
        s->grain = grain;
        s->macs = macs;
        s->flops = 2 * macs;
    }
    return SN_OK;
}

static sn_code parse(parser *P) {
    sn_br *r = &P->r;
    const unsigned char *magic = sn_br_raw(r, 8);
    if (!magic || memcmp(magic, SN_PLAN_BLOB_MAGIC, 8) != 0)
        return bad(P, "%s", "not a plan description (bad magic)");
    const char *model = sn_br_str(r);
    int64_t batch = sn_br_i64(r);
    uint32_t T = sn_br_u32(r), step_major = sn_br_u32(r), classes = sn_br_u32(r);
    int32_t in = sn_br_i32(r), out = sn_br_i32(r);
    int64_t arena = sn_br_i64(r), naive = sn_br_i64(r);
    if (r->bad) return bad(P, "%s", "truncated header");
    if (strlen(model) >= sizeof P->p->model || batch < 1 || batch > (1 << 24) || T < 1 ||
        T > (1 << 20) || step_major > 1 || classes < 1 || classes > (1 << 24) || arena < 0 ||
        arena > ((int64_t)1 << 50) || naive < 0)
        return bad(P, "%s", "bad header values");
    if (P->p) {
        sn_plan *p = P->p;
        sn_strlcpy(p->model, model, sizeof p->model);
        sn_strlcpy(p->backend, "cpu", sizeof p->backend);
        p->batch = batch;
        p->T = (int)T;
        p->step_major = (int)step_major;
        p->num_classes = (int)classes;
        p->in_buf = in;
        p->out_buf = out;
        p->label_buf = p->loss_buf = -1;
        p->arena_bytes = arena;
        p->naive_bytes = naive;
        p->arena = P->arena;
    } else {
        P->sz.batch = batch;
        P->sz.T = (int)T;
        P->sz.step_major = (int)step_major;
        P->sz.num_classes = (int)classes;
        P->sz.arena = align64(arena ? arena : 64);
        P->in = in;
        P->out = out;
    }
    if (read_buffers(P)) return P->st->code;
    if (!P->p) {
        if (in < 0 || in >= P->sz.nbufs || out < 0 || out >= P->sz.nbufs)
            return bad(P, "%s", "input or output buffer index out of range");
    }
    if (read_steps(P, 1) || read_steps(P, 0)) return P->st->code;
    const unsigned char *end = sn_br_raw(r, 4);
    if (!end || memcmp(end, "END.", 4) != 0 || r->pos != r->len)
        return bad(P, "%s", "missing end mark or trailing bytes");
    return SN_OK;
}

sn_code sn_plan_blob_measure(const char *what, const unsigned char *blob, size_t size, int nweights,
                             sn_plan_blob_weight_fn weight, void *weight_arg, int nkernels,
                             sn_plan_blob_size *out, sn_status *st) {
    parser P;
    memset(&P, 0, sizeof P);
    P.what = what;
    sn_br_init(&P.r, blob, size);
    P.st = st;
    P.nweights = nweights;
    P.weight = weight;
    P.weight_arg = weight_arg;
    P.nkernels = nkernels;
    memset(out, 0, sizeof *out);
    P.in = P.out = -1;
    if (parse(&P)) return st->code;
    P.sz.tables += align64((int64_t)P.sz.nbufs * (int64_t)sizeof(sn_buffer)) +
                   align64((int64_t)(P.sz.nprep + P.sz.nsteps) * (int64_t)sizeof(sn_step));
    P.sz.tables = align64(P.sz.tables);
    *out = P.sz;
    return SN_OK;
}

sn_code sn_plan_blob_build(const char *what, const unsigned char *blob, size_t size,
                           const sn_plan_blob_size *sz, void *const *weight_ptrs,
                           sn_cpu_fn const *kernels, void *mem, sn_plan *p, sn_status *st) {
    parser P;
    memset(&P, 0, sizeof P);
    P.what = what;
    sn_br_init(&P.r, blob, size);
    P.st = st;
    P.sz = *sz;
    P.in = P.out = -1;
    P.p = p;
    P.weight_ptrs = weight_ptrs;
    P.kernels = kernels;
    char *m = mem;
    sn_plan_init(p);
    p->bufs = (sn_buffer *)m;
    p->nbufs = p->cap_bufs = sz->nbufs;
    m += align64((int64_t)sz->nbufs * (int64_t)sizeof(sn_buffer));
    p->prep = (sn_step *)m;
    p->nprep = p->cap_prep = sz->nprep;
    p->steps = p->prep + sz->nprep;
    p->nsteps = p->cap_steps = sz->nsteps;
    m += align64((int64_t)(sz->nprep + sz->nsteps) * (int64_t)sizeof(sn_step));
    P.params_at = m;
    P.owned_at = (char *)mem + sz->tables;
    P.arena = (char *)mem + sz->tables + sz->owned;
    return parse(&P);
}
