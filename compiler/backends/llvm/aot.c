#include "aot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/json.h"
#include "../../../runtime/core/util.h"
#include "../../../runtime/cpu/prep.h"

#define PLAN_FORMAT "snnc-plan-1"

static const char *kind_names[] = {"arena", "weight", "owned"};

static void put_shape(sn_strbuf *o, const sn_shape *s) {
    sn_sb_puts(o, "[");
    for (int i = 0; i < s->rank; i++) sn_sb_printf(o, i ? ", %lld" : "%lld", (long long)s->d[i]);
    sn_sb_puts(o, "]");
}

static void put_hex(sn_strbuf *o, const void *data, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    sn_sb_puts(o, "\"");
    for (size_t i = 0; i < n; i++) {
        char b[2] = {hex[p[i] >> 4], hex[p[i] & 15]};
        sn_sb_append(o, b, 2);
    }
    sn_sb_puts(o, "\"");
}

static void put_step(sn_strbuf *o, const sn_step *s) {
    sn_sb_puts(o, "    {\"name\": ");
    sn_sb_json_str(o, s->name);
    sn_sb_puts(o, ", \"kernel\": ");
    sn_sb_json_str(o, s->kernel);
    sn_sb_puts(o, ", \"params\": ");
    put_hex(o, s->params, s->params_size);
    sn_sb_puts(o, ", \"bufs\": [");
    for (int k = 0; k < s->nbufs; k++) sn_sb_printf(o, k ? ", %d" : "%d", s->bufs[k]);
    sn_sb_printf(o, "], \"tasks\": %lld, \"grain\": %lld, \"macs\": %lld}", (long long)s->ntasks,
                 (long long)s->grain, (long long)s->macs);
}

static sn_code write_file(const char *dir, const char *sub, const char *name, const void *data,
                          size_t len, sn_status *st) {
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s%s", dir, sub, name);
    if (w < 0 || (size_t)w >= sizeof path)
        return sn_fail(st, SN_ERR_INPUT, "%s: path too long", dir);
    return sn_write_file_atomic(path, data, len, st);
}

static sn_code write_text(const char *dir, const char *sub, const char *name, const char *text,
                          size_t len, sn_status *st) {
    return write_file(dir, sub, name, text, len, st);
}

sn_code sn_aot_write(const char *dir, const sn_plan *plan, const sn_cpu_artifacts *art,
                     const sn_param_desc *params, int nparams, const char *spec_yaml, sn_jit *jit,
                     sn_status *st) {
    char kdir[4096];
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    if (sn_mkdirs(kdir, st)) return st->code;
    sn_strbuf o;
    sn_sb_init(&o);
    sn_sb_printf(&o, "{\n  \"format\": \"%s\",\n  \"model\": ", PLAN_FORMAT);
    sn_sb_json_str(&o, plan->model);
    sn_sb_printf(
        &o,
        ",\n  \"backend\": \"cpu\",\n  \"batch\": %lld,\n  \"T\": %d,\n  \"num_classes\": %d,\n",
        (long long)plan->batch, plan->T, plan->num_classes);
    sn_sb_puts(&o, "  \"target\": {\"triple\": ");
    sn_sb_json_str(&o, sn_jit_triple(jit));
    sn_sb_puts(&o, ", \"cpu\": ");
    sn_sb_json_str(&o, sn_jit_cpu_name(jit));
    sn_sb_printf(&o, ", \"isa\": \"%s\", \"vector_width\": %d},\n",
                 sn_jit_level_name(sn_jit_level(jit)), sn_jit_vector_width(jit));
    sn_sb_printf(&o, "  \"arena_bytes\": %lld,\n  \"naive_bytes\": %lld,\n",
                 (long long)plan->arena_bytes, (long long)plan->naive_bytes);
    sn_sb_printf(&o, "  \"io\": {\"input\": %d, \"output\": %d, \"label\": %d, \"loss\": %d},\n",
                 plan->in_buf, plan->out_buf, plan->label_buf, plan->loss_buf);
    sn_sb_puts(&o, "  \"params\": [\n");
    for (int i = 0; i < nparams; i++) {
        const sn_param_desc *d = &params[i];
        sn_sb_puts(&o, "    {\"name\": ");
        sn_sb_json_str(&o, d->name);
        sn_sb_printf(&o, ", \"dtype\": \"%s\", \"shape\": ", sn_dtype_name(d->dtype));
        put_shape(&o, &d->shape);
        sn_sb_printf(&o,
                     ", \"role\": %d, \"trainable\": %d, \"fan_in\": %lld, \"fan_out\": %lld}%s\n",
                     (int)d->role, d->trainable, (long long)d->fan_in, (long long)d->fan_out,
                     i + 1 < nparams ? "," : "");
    }
    sn_sb_puts(&o, "  ],\n  \"buffers\": [\n");
    for (int i = 0; i < plan->nbufs; i++) {
        const sn_buffer *b = &plan->bufs[i];
        sn_sb_puts(&o, "    {\"name\": ");
        sn_sb_json_str(&o, b->name);
        sn_sb_printf(&o, ", \"dtype\": \"%s\", \"shape\": ", sn_dtype_name(b->dtype));
        put_shape(&o, &b->shape);
        sn_sb_printf(&o, ", \"kind\": \"%s\", \"offset\": %lld, \"layout\": ", kind_names[b->kind],
                     (long long)b->offset);
        sn_sb_json_str(&o, b->layout);
        sn_sb_printf(&o, "}%s\n", i + 1 < plan->nbufs ? "," : "");
    }
    sn_sb_puts(&o, "  ],\n  \"prep\": [\n");
    for (int i = 0; i < plan->nprep; i++) {
        put_step(&o, &plan->prep[i]);
        sn_sb_puts(&o, i + 1 < plan->nprep ? ",\n" : "\n");
    }
    sn_sb_puts(&o, "  ],\n  \"steps\": [\n");
    for (int i = 0; i < plan->nsteps; i++) {
        put_step(&o, &plan->steps[i]);
        sn_sb_puts(&o, i + 1 < plan->nsteps ? ",\n" : "\n");
    }
    sn_sb_puts(&o, "  ],\n  \"kernels\": [\n");
    sn_code c = SN_OK;
    for (int i = 0; i < art->n && c == SN_OK; i++) {
        const sn_cpu_kernel_info *k = &art->k[i];
        if (!k->obj) {
            c = sn_fail(st, SN_ERR_RUNTIME, "internal error: kernel %s has no object code to write",
                        k->symbol);
            break;
        }
        char name[128];
        snprintf(name, sizeof name, "%s.o", k->symbol);
        c = write_file(dir, "kernels/", name, k->obj, k->obj_size, st);
        if (c == SN_OK && k->ir) {
            snprintf(name, sizeof name, "%s.ll", k->symbol);
            c = write_text(dir, "kernels/", name, k->ir, strlen(k->ir), st);
        }
        if (c == SN_OK && k->asm_text) {
            snprintf(name, sizeof name, "%s.s", k->symbol);
            c = write_text(dir, "kernels/", name, k->asm_text, strlen(k->asm_text), st);
        }
        sn_sb_puts(&o, "    {\"symbol\": ");
        sn_sb_json_str(&o, k->symbol);
        sn_sb_puts(&o, ", \"kind\": ");
        sn_sb_json_str(&o, k->kind);
        sn_sb_printf(&o, ", \"bytes\": %zu, \"checksum\": \"%016llx\"}%s\n", k->obj_size,
                     (unsigned long long)sn_hash64(SN_HASH_INIT, k->obj, k->obj_size),
                     i + 1 < art->n ? "," : "");
    }
    sn_sb_puts(&o, "  ]\n}\n");
    if (c == SN_OK && o.oom) c = sn_fail(st, SN_ERR_RUNTIME, "out of memory writing the plan");
    if (c == SN_OK && spec_yaml)
        c = write_text(dir, "", "model.yaml", spec_yaml, strlen(spec_yaml), st);
    if (c == SN_OK) c = write_text(dir, "", "plan.json", sn_sb_cstr(&o), o.len, st);
    sn_sb_free(&o);
    return c;
}

/* ------------------------------------------------------------------ loading ---- */

typedef struct loader {
    const char *path;
    sn_status *st;
} loader;

static sn_code bad(loader *L, const sn_json *at, const char *what) {
    return sn_fail(L->st, SN_ERR_INPUT, "%s: offset %zu: %s", L->path, at ? at->offset : (size_t)0,
                   what);
}

static const sn_json *member(loader *L, const sn_json *obj, const char *key, sn_json_type type) {
    const sn_json *v = obj && obj->type == SN_JSON_OBJECT ? sn_json_get(obj, key) : NULL;
    if (!v || v->type != type) {
        char msg[160];
        snprintf(msg, sizeof msg, "expected a %s member \"%s\"", sn_json_type_name(type), key);
        bad(L, obj, msg);
        return NULL;
    }
    return v;
}

static int get_int(loader *L, const sn_json *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out) {
    const sn_json *v = member(L, obj, key, SN_JSON_NUMBER);
    if (!v) return 0;
    if (!v->is_int || v->integer < lo || v->integer > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "\"%s\" must be an integer in [%lld, %lld]", key, (long long)lo,
                 (long long)hi);
        bad(L, v, msg);
        return 0;
    }
    *out = v->integer;
    return 1;
}

static int get_str(loader *L, const sn_json *obj, const char *key, char *out, size_t n) {
    const sn_json *v = member(L, obj, key, SN_JSON_STRING);
    if (!v) return 0;
    if (strlen(v->string) >= n) {
        bad(L, v, "string too long");
        return 0;
    }
    strcpy(out, v->string);
    return 1;
}

static int get_shape(loader *L, const sn_json *obj, sn_shape *s) {
    const sn_json *v = member(L, obj, "shape", SN_JSON_ARRAY);
    if (!v) return 0;
    if (v->count > SN_MAX_RANK) {
        bad(L, v, "shape has too many dims");
        return 0;
    }
    memset(s, 0, sizeof *s);
    s->rank = v->count;
    int64_t numel = 1;
    for (int i = 0; i < v->count; i++) {
        if (v->items[i].type != SN_JSON_NUMBER || !v->items[i].is_int || v->items[i].integer < 0 ||
            v->items[i].integer > ((int64_t)1 << 40)) {
            bad(L, &v->items[i], "bad dimension");
            return 0;
        }
        s->d[i] = v->items[i].integer;
        if (s->d[i] && numel > ((int64_t)1 << 40) / s->d[i]) {
            bad(L, v, "shape too large");
            return 0;
        }
        numel *= s->d[i];
    }
    return 1;
}

static int get_dtype(loader *L, const sn_json *obj, sn_dtype *t) {
    char name[16];
    if (!get_str(L, obj, "dtype", name, sizeof name)) return 0;
    if (!sn_dtype_from_name(name, t)) {
        bad(L, obj, "unknown dtype");
        return 0;
    }
    return 1;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int load_steps(loader *L, const sn_json *arr, sn_plan *plan, int prep, sn_jit *jit) {
    for (int i = 0; i < arr->count; i++) {
        const sn_json *e = &arr->items[i];
        char name[SN_PLAN_NAME_MAX], kernel[SN_PLAN_NAME_MAX];
        int64_t tasks = 1, grain = 0, macs = 0;
        if (!get_str(L, e, "name", name, sizeof name) ||
            !get_str(L, e, "kernel", kernel, sizeof kernel) ||
            !get_int(L, e, "tasks", 1, (int64_t)1 << 40, &tasks) ||
            !get_int(L, e, "grain", 0, (int64_t)1 << 40, &grain) ||
            !get_int(L, e, "macs", 0, INT64_MAX, &macs))
            return 0;
        const sn_json *pj = member(L, e, "params", SN_JSON_STRING);
        const sn_json *bj = member(L, e, "bufs", SN_JSON_ARRAY);
        if (!pj || !bj) return 0;
        size_t plen = strlen(pj->string);
        unsigned char params[256];
        if (plen % 2 || plen / 2 > sizeof params) return bad(L, pj, "bad params"), 0;
        for (size_t k = 0; k < plen / 2; k++) {
            int hi = hexval(pj->string[2 * k]), lo = hexval(pj->string[2 * k + 1]);
            if (hi < 0 || lo < 0) return bad(L, pj, "params must be hex"), 0;
            params[k] = (unsigned char)(hi * 16 + lo);
        }
        if (bj->count > SN_STEP_MAX_BUFS) return bad(L, bj, "too many buffers"), 0;
        int bufs[SN_STEP_MAX_BUFS];
        for (int k = 0; k < bj->count; k++) {
            const sn_json *b = &bj->items[k];
            if (b->type != SN_JSON_NUMBER || !b->is_int || b->integer < -1 ||
                b->integer >= plan->nbufs)
                return bad(L, b, "buffer index out of range"), 0;
            bufs[k] = (int)b->integer;
        }
        /* built-in kernels (preparation steps, and plain-C steps such as gated spike
         * pooling) by name, with their params; generated ones from the linked objects */
        sn_cpu_fn fn = sn_cpu_builtin(kernel);
        if (fn) {
            if (plen / 2 != sn_cpu_builtin_params_size(kernel))
                return bad(L, pj, "params have the wrong size"), 0;
        } else if (prep) {
            return bad(L, e, "unknown preparation kernel"), 0;
        } else {
            if (plen != 0) return bad(L, pj, "generated kernels take no params"), 0;
            fn = (sn_cpu_fn)sn_jit_lookup(jit, kernel, L->st);
            if (!fn) {
                sn_status_context(L->st, "while loading step %s of %s", name, L->path);
                return 0;
            }
        }
        if (sn_cpu_builtin(kernel) && tasks != sn_cpu_builtin_tasks(kernel, params))
            return bad(L, e, "a built-in step has the wrong task count"), 0;
        int s = prep ? sn_plan_add_prep(plan, name, kernel, fn, params, plen / 2, bufs, bj->count,
                                        L->st)
                     : sn_plan_add_step(plan, name, kernel, fn, plen ? params : NULL, plen / 2,
                                        bufs, bj->count, tasks, L->st);
        if (s < 0) return 0;
        if (prep) {
            plan->prep[s].ntasks = tasks;
        } else {
            plan->steps[s].grain = grain;
            plan->steps[s].macs = macs;
            plan->steps[s].flops = 2 * macs;
        }
    }
    return 1;
}

sn_code sn_aot_load(const char *dir, sn_jit *jit, sn_plan *plan, sn_param_desc **params,
                    int *nparams, sn_status *st) {
    *params = NULL;
    *nparams = 0;
    sn_plan_init(plan);
    char path[4096];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    unsigned char *text;
    size_t len;
    if (sn_read_file(path, &text, &len, st)) {
        sn_status_context(st, "(is %s a directory written by 'snnc compile'?)", dir);
        return st->code;
    }
    sn_json root;
    sn_code c = sn_json_parse(path, (const char *)text, len, &root, st);
    free(text);
    if (c) return c;
    loader L = {path, st};
    sn_param_desc *descs = NULL;
    char s[256];
    int64_t v;
    if (!get_str(&L, &root, "format", s, sizeof s)) goto fail;
    if (strcmp(s, PLAN_FORMAT) != 0) {
        sn_fail(st, SN_ERR_INPUT, "%s: format '%s' is not %s", path, s, PLAN_FORMAT);
        goto fail;
    }
    if (!get_str(&L, &root, "model", plan->model, sizeof plan->model)) goto fail;
    sn_strlcpy(plan->backend, "cpu", sizeof plan->backend);
    if (!get_int(&L, &root, "batch", 1, 1 << 24, &v)) goto fail;
    plan->batch = v;
    if (!get_int(&L, &root, "T", 1, 1 << 20, &v)) goto fail;
    plan->T = (int)v;
    if (!get_int(&L, &root, "num_classes", 1, 1 << 24, &v)) goto fail;
    plan->num_classes = (int)v;
    const sn_json *tgt = member(&L, &root, "target", SN_JSON_OBJECT);
    if (!tgt) goto fail;
    char triple[256], isa[32];
    if (!get_str(&L, tgt, "triple", triple, sizeof triple) ||
        !get_str(&L, tgt, "isa", isa, sizeof isa))
        goto fail;
    if (strcmp(triple, sn_jit_triple(jit)) != 0) {
        sn_fail(st, SN_ERR_INPUT, "%s: compiled for %s, but this machine is %s", path, triple,
                sn_jit_triple(jit));
        goto fail;
    }
    {
        /* the instruction-set level the kernels were compiled for (amx > avx512bf16 >
         * avx512vnni > avx512 > avx2 > sse > scalar) must not exceed this machine's */
        int need = sn_jit_level_from_name(isa);
        if (need < 0 || need > (int)sn_jit_level(jit)) {
            sn_fail(st, SN_ERR_INPUT,
                    "%s: compiled for %s instructions, which this CPU (%s) cannot run; recompile "
                    "with 'snnc compile' here",
                    path, isa, sn_jit_level_name(sn_jit_level(jit)));
            goto fail;
        }
    }
    /* weights */
    const sn_json *pj = member(&L, &root, "params", SN_JSON_ARRAY);
    if (!pj) goto fail;
    descs = sn_calloc((size_t)(pj->count ? pj->count : 1), sizeof *descs);
    if (!descs) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int i = 0; i < pj->count; i++) {
        const sn_json *e = &pj->items[i];
        sn_param_desc *d = &descs[i];
        int64_t role, tr, fi, fo;
        if (!get_str(&L, e, "name", d->name, sizeof d->name) || !get_dtype(&L, e, &d->dtype) ||
            !get_shape(&L, e, &d->shape) || !get_int(&L, e, "role", 0, SN_ROLE_LAST, &role) ||
            !get_int(&L, e, "trainable", 0, 1, &tr) ||
            !get_int(&L, e, "fan_in", 0, INT64_MAX, &fi) ||
            !get_int(&L, e, "fan_out", 0, INT64_MAX, &fo))
            goto fail;
        d->role = (sn_param_role)role;
        d->trainable = (int)tr;
        d->fan_in = fi;
        d->fan_out = fo;
    }
    /* buffers */
    const sn_json *bj = member(&L, &root, "buffers", SN_JSON_ARRAY);
    if (!bj) goto fail;
    for (int i = 0; i < bj->count; i++) {
        const sn_json *e = &bj->items[i];
        char name[SN_PLAN_NAME_MAX], kind[16], layout[16];
        sn_dtype dt;
        sn_shape sh;
        int64_t off;
        if (!get_str(&L, e, "name", name, sizeof name) || !get_dtype(&L, e, &dt) ||
            !get_shape(&L, e, &sh) || !get_str(&L, e, "kind", kind, sizeof kind) ||
            !get_int(&L, e, "offset", -1, INT64_MAX, &off) ||
            !get_str(&L, e, "layout", layout, sizeof layout))
            goto fail;
        int k = -1;
        for (int q = 0; q < 3; q++)
            if (strcmp(kind, kind_names[q]) == 0) k = q;
        if (k < 0) {
            bad(&L, e, "unknown buffer kind");
            goto fail;
        }
        int b = sn_plan_add_buffer(plan, name, dt, &sh, (sn_buf_kind)k, st);
        if (b < 0) goto fail;
        plan->bufs[b].offset = off;
        sn_strlcpy(plan->bufs[b].layout, layout, sizeof plan->bufs[b].layout);
    }
    if (!get_int(&L, &root, "arena_bytes", 0, INT64_MAX, &v)) goto fail;
    plan->arena_bytes = v;
    for (int i = 0; i < plan->nbufs; i++) {
        const sn_buffer *b = &plan->bufs[i];
        if (b->kind == SN_BUF_ARENA &&
            (b->offset < 0 || b->offset + b->bytes > plan->arena_bytes)) {
            sn_fail(st, SN_ERR_INPUT, "%s: buffer %s lies outside the arena", path, b->name);
            goto fail;
        }
    }
    if (!get_int(&L, &root, "naive_bytes", 0, INT64_MAX, &v)) goto fail;
    plan->naive_bytes = v;
    const sn_json *io = member(&L, &root, "io", SN_JSON_OBJECT);
    int64_t in, out, lab, loss;
    if (!io || !get_int(&L, io, "input", 0, plan->nbufs - 1, &in) ||
        !get_int(&L, io, "output", 0, plan->nbufs - 1, &out) ||
        !get_int(&L, io, "label", -1, plan->nbufs - 1, &lab) ||
        !get_int(&L, io, "loss", -1, plan->nbufs - 1, &loss))
        goto fail;
    plan->in_buf = (int)in;
    plan->out_buf = (int)out;
    plan->label_buf = (int)lab;
    plan->loss_buf = (int)loss;
    /* kernels: link the objects, checking their checksums */
    const sn_json *kj = member(&L, &root, "kernels", SN_JSON_ARRAY);
    if (!kj) goto fail;
    for (int i = 0; i < kj->count; i++) {
        const sn_json *e = &kj->items[i];
        char sym[128], sum[32];
        if (!get_str(&L, e, "symbol", sym, sizeof sym) ||
            !get_str(&L, e, "checksum", sum, sizeof sum))
            goto fail;
        if (strspn(sym, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(sym)) {
            bad(&L, e, "bad kernel symbol");
            goto fail;
        }
        char opath[4096];
        snprintf(opath, sizeof opath, "%s/kernels/%s.o", dir, sym);
        unsigned char *obj;
        size_t osize;
        if (sn_read_file(opath, &obj, &osize, st)) goto fail;
        char got[32];
        snprintf(got, sizeof got, "%016llx",
                 (unsigned long long)sn_hash64(SN_HASH_INIT, obj, osize));
        if (strcmp(got, sum) != 0) {
            free(obj);
            sn_fail(st, SN_ERR_INPUT, "%s: checksum mismatch (the file is corrupt or was changed)",
                    opath);
            goto fail;
        }
        c = sn_jit_add_object(jit, obj, osize, sym, st);
        free(obj);
        if (c) goto fail;
    }
    const sn_json *prep = member(&L, &root, "prep", SN_JSON_ARRAY);
    const sn_json *steps = member(&L, &root, "steps", SN_JSON_ARRAY);
    if (!prep || !steps || !load_steps(&L, prep, plan, 1, jit) ||
        !load_steps(&L, steps, plan, 0, jit))
        goto fail;
    *params = descs;
    *nparams = pj->count;
    sn_json_free(&root);
    return SN_OK;
fail:
    sn_json_free(&root);
    free(descs);
    sn_plan_free(plan);
    return st->code ? st->code : SN_ERR_INPUT;
}
