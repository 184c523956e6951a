#include "artifact.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../../runtime/deploy/cpu_features.h"
#include "../../runtime/deploy/desc.h"
#include "../../runtime/deploy/plan_blob.h"
#include "../../runtime/deploy/snrt.h"
#include "../../runtime/weights/safetensors.h"
#include "../backends/llvm/cpu_backend.h"
#include "../backends/llvm/glue.h"
#include "../ir/build.h"
#include "../passes/fusion.h"
#include "archive.h"
#include "header.h"
#include "rt_embed.h"
#include "stage.h"

const char *const sn_artifact_cpu_names[] = {"host",      "x86-64",    "x86-64-v2",
                                             "x86-64-v3", "x86-64-v4", NULL};

#define V2 "+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+sahf"
#define V3 V2 ",+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe,+xsave"
#define V4 V3 ",+avx512f,+avx512bw,+avx512cd,+avx512dq,+avx512vl"

/* The x86-64 micro-architecture levels (the psABI's), as LLVM CPU names with their
 * features spelled out (so the variant's feature mask is exactly what its code may use). */
static const struct {
    const char *name, *features;
} LEVELS[] = {{"x86-64", ""}, {"x86-64-v2", V2}, {"x86-64-v3", V3}, {"x86-64-v4", V4}};

typedef struct variant {
    char name[32];
    sn_jit *jit;
    sn_plan plan;
    sn_cpu_artifacts art;
    char prefix[32];
    uint64_t features;
    const char **ksyms;
    sn_bw blob;
    int64_t code_bytes;
    uint64_t context_bytes;
} variant;

void sn_artifact_default_name(const char *model, char *out, size_t n) {
    size_t j = 0;
    if (n == 0) return;
    if (isdigit((unsigned char)model[0]) && j + 1 < n) out[j++] = '_';
    for (size_t i = 0; model[i] && j + 1 < n && j < SN_ARTIFACT_NAME_MAX; i++)
        out[j++] = isalnum((unsigned char)model[i]) ? model[i] : '_';
    if (j == 0 && n > 1) out[j++] = 'm';
    out[j] = '\0';
}

static int valid_name(const char *s) {
    if (!*s || strlen(s) > SN_ARTIFACT_NAME_MAX || isdigit((unsigned char)s[0])) return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') return 0;
    return strncmp(s, "snrt_", 5) != 0 && strncmp(s, "sn_", 3) != 0;
}

/* --cpu list -> variant names (validated). */
static sn_code parse_cpus(const char *list, variant *v, int *n, sn_status *st) {
    *n = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item)
            return sn_fail(st, SN_ERR_INPUT, "--cpu %s: empty or overlong entry", list);
        memcpy(item, p, len);
        item[len] = '\0';
        int known = 0;
        for (int i = 0; sn_artifact_cpu_names[i]; i++)
            known |= !strcmp(item, sn_artifact_cpu_names[i]);
        if (!known) {
            const char *near = sn_suggest(item, sn_artifact_cpu_names);
            return sn_fail(st, SN_ERR_INPUT,
                           "--cpu: unknown CPU '%s'%s%s%s (give host, x86-64, x86-64-v2, "
                           "x86-64-v3 or x86-64-v4, comma-separated)",
                           item, near ? " (did you mean '" : "", near ? near : "",
                           near ? "'?)" : "");
        }
        for (int i = 0; i < *n; i++)
            if (!strcmp(v[i].name, item))
                return sn_fail(st, SN_ERR_INPUT, "--cpu %s: %s is listed twice", list, item);
        if (*n == SNRT_MAX_VARIANTS)
            return sn_fail(st, SN_ERR_INPUT, "--cpu %s: at most %d variants", list,
                           SNRT_MAX_VARIANTS);
        sn_strlcpy(v[(*n)++].name, item, sizeof v[0].name);
        p = e ? e + 1 : p + len;
    }
    if (*n == 0) return sn_fail(st, SN_ERR_INPUT, "--cpu: no CPU given");
    return SN_OK;
}

static int popcount64(uint64_t x) {
    int c = 0;
    for (; x; x &= x - 1) c++;
    return c;
}

static sn_code make_jit(variant *v, sn_status *st) {
    if (!strcmp(v->name, "host")) return sn_jit_create_for(&v->jit, NULL, NULL, st);
    for (size_t i = 0; i < SN_ARRAY_LEN(LEVELS); i++)
        if (!strcmp(v->name, LEVELS[i].name))
            return sn_jit_create_for(&v->jit, LEVELS[i].name, LEVELS[i].features, st);
    return sn_fail(st, SN_ERR_RUNTIME, "internal error: no CPU named %s", v->name);
}

/* ------------------------------------------------------------------ building ---- */

static int weight_index(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

static void put_features(sn_strbuf *o, uint64_t m) {
    char buf[1024];
    sn_cpu_features_str(m, buf, sizeof buf);
    sn_sb_json_str(o, buf);
}

typedef struct build {
    const sn_model_spec *spec;
    const sn_weights *w;
    const sn_artifact_opts *o;
    sn_artifact_report *rep;
    sn_status *st;
    char name[SN_ARTIFACT_NAME_MAX + 1];
    variant v[SNRT_MAX_VARIANTS];
    int nv;
    sn_graph g;
    sn_groups gs;
    /* the weight table (names point into the plans) and its data */
    const char **wnames;
    sn_dtype *wdt;
    sn_shape *wsh;
    int nw;
    uint64_t wbytes;
    sn_bw wdata, desc;
    /* the library */
    unsigned char *glue, *lib;
    size_t glue_size, lib_size;
    sn_obj *objs, *rt;
    int nobjs, nrt;
    int *keep;        /* runtime members the library holds */
    char *unresolved; /* symbols left to the final link */
    sn_stage sg;
} build;

static void note(const build *b, const char *fmt, const char *x, const char *y) {
    if (!b->o->progress) return;
    char msg[256];
    snprintf(msg, sizeof msg, fmt, x, y);
    b->o->progress(b->o->progress_arg, msg);
}

static sn_code oom(build *b) {
    return sn_fail(b->st, SN_ERR_RUNTIME, "out of memory");
}

/* The graph (spiking models step-major unless --schedule says otherwise, so that NAME_step
 * can stream), and one plan per CPU variant from the CPU backend's ordinary lowering, best
 * variant first (the runtime takes the first one the CPU can run). */
static sn_code lower_variants(build *b) {
    const sn_artifact_opts *o = b->o;
    sn_status *st = b->st;
    if (parse_cpus(o->cpus ? o->cpus : "x86-64-v3,host", b->v, &b->nv, st)) return st->code;
    sn_build_opts bo = {.batch = o->batch,
                        .schedule = o->schedule == SN_SCHED_AUTO ? SN_SCHED_LAYER : o->schedule};
    if (sn_graph_build(b->spec, &bo, &b->g, st)) return st->code;
    int spiking = 0;
    for (int i = 0; i < b->g.nnodes; i++)
        spiking |=
            b->g.nodes[i].op == SN_OP_ENCODE_POISSON || b->g.nodes[i].op == SN_OP_ENCODE_DIRECT;
    if (o->schedule == SN_SCHED_AUTO && spiking) {
        sn_graph_free(&b->g);
        bo.schedule = SN_SCHED_STEP;
        if (sn_graph_build(b->spec, &bo, &b->g, st)) return st->code;
    }
    if (sn_graph_verify(&b->g, st) || sn_fuse(&b->g, o->fusion, &b->gs, st)) return st->code;
    variant *v = b->v;
    for (int i = 0; i < b->nv; i++) {
        if (make_jit(&v[i], st)) return st->code;
        v[i].features = sn_cpu_features_parse(sn_jit_features(v[i].jit));
    }
    for (int i = 1; i < b->nv; i++)
        for (int j = i; j > 0 && popcount64(v[j].features) > popcount64(v[j - 1].features); j--) {
            variant t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    /* kernel symbols get a prefix of this model and variant, so artifacts link together */
    uint64_t nh = sn_hash_str(SN_HASH_INIT, b->name);
    for (int i = 0; i < b->nv; i++) {
        snprintf(v[i].prefix, sizeof v[i].prefix, "sn%08llx_v%d", (unsigned long long)(nh >> 32),
                 i);
        note(b, "variant %s (%s): generating and compiling the kernels", v[i].name,
             sn_jit_cpu_name(v[i].jit));
        sn_cpu_options co = {.capture = SN_CAPTURE_OBJECT,
                             .symbol_prefix = v[i].prefix,
                             .direct_conv = o->direct_conv};
        if (sn_lower_cpu(&b->g, &b->gs, v[i].jit, &co, &v[i].plan, &v[i].art, st)) {
            sn_status_context(st, "while compiling variant %s", v[i].name);
            return st->code;
        }
        v[i].ksyms = calloc((size_t)(v[i].art.n ? v[i].art.n : 1), sizeof *v[i].ksyms);
        if (!v[i].ksyms) return oom(b);
        for (int k = 0; k < v[i].art.n; k++) {
            v[i].ksyms[k] = v[i].art.k[k].symbol;
            v[i].code_bytes += (int64_t)v[i].art.k[k].obj_size;
        }
    }
    b->rep->step_major = b->g.step_major;
    return SN_OK;
}

/* The weight table (every weight buffer of the plans, once) and the weight data laid out as
 * the model description says. */
static sn_code weight_table(build *b) {
    int maxw = 1;
    for (int i = 0; i < b->nv; i++) maxw += b->v[i].plan.nbufs;
    b->wnames = calloc((size_t)maxw, sizeof *b->wnames);
    b->wdt = calloc((size_t)maxw, sizeof *b->wdt);
    b->wsh = calloc((size_t)maxw, sizeof *b->wsh);
    if (!b->wnames || !b->wdt || !b->wsh) return oom(b);
    for (int i = 0; i < b->nv; i++)
        for (int k = 0; k < b->v[i].plan.nbufs; k++) {
            const sn_buffer *buf = &b->v[i].plan.bufs[k];
            if (buf->kind != SN_BUF_WEIGHT || weight_index(b->wnames, b->nw, buf->name) >= 0)
                continue;
            int j = sn_weights_find(b->w, buf->name);
            if (j < 0 || !sn_shape_eq(&b->w->desc[j].shape, &buf->shape) ||
                b->w->desc[j].dtype != buf->dtype)
                return sn_fail(b->st, SN_ERR_INPUT,
                               "the weights lack tensor %s or give it another shape", buf->name);
            b->wnames[b->nw] = buf->name;
            b->wdt[b->nw] = buf->dtype;
            b->wsh[b->nw] = buf->shape;
            b->nw++;
        }
    b->wbytes = snrt_desc_weight_total(b->wdt, b->wsh, b->nw);
    static const unsigned char zeros[64];
    for (int i = 0; i < b->nw; i++) {
        uint64_t off = snrt_desc_weight_offset(b->wdt, b->wsh, i);
        while (b->wdata.len < off) sn_bw_raw(&b->wdata, zeros, SN_MIN(64, off - b->wdata.len));
        int j = sn_weights_find(b->w, b->wnames[i]);
        sn_bw_raw(&b->wdata, b->w->data[j],
                  (size_t)sn_shape_numel(&b->wsh[i]) * sn_dtype_size(b->wdt[i]));
    }
    while (b->wdata.len < b->wbytes) sn_bw_raw(&b->wdata, zeros, 1);
    if (b->wdata.oom) return sn_fail(b->st, SN_ERR_RUNTIME, "out of memory for the weights");
    b->rep->weight_bytes = (int64_t)b->wbytes;
    return SN_OK;
}

/* The plans as descriptions, the model description, and the context size of each variant
 * (from the runtime's own reading of the description). */
static sn_code describe(build *b) {
    const sn_model_spec *spec = b->spec;
    snrt_desc_in din;
    memset(&din, 0, sizeof din);
    din.name = b->name;
    din.batch = b->o->batch;
    din.channels = spec->in_channels;
    din.height = spec->in_height;
    din.width = spec->in_width;
    din.classes = spec->num_classes;
    din.T = b->g.T;
    din.step_major = b->g.step_major;
    din.tf = b->o->tf;
    din.nweights = b->nw;
    din.weight_names = b->wnames;
    din.weight_dtypes = b->wdt;
    din.weight_shapes = b->wsh;
    din.nvariants = b->nv;
    for (int i = 0; i < b->nv; i++) {
        variant *v = &b->v[i];
        sn_bw_init(&v->blob);
        if (sn_plan_blob_write(&v->plan, v->ksyms, v->art.n, b->wnames, b->nw, &v->blob, b->st))
            return b->st->code;
        din.variants[i] = (snrt_variant_desc){v->name,
                                              sn_jit_cpu_name(v->jit),
                                              sn_jit_isa_name(sn_jit_isa(v->jit)),
                                              v->features,
                                              v->art.n,
                                              v->blob.data,
                                              v->blob.len};
    }
    if (snrt_desc_write(&din, &b->desc, b->st)) return b->st->code;
    static const sn_cpu_fn none[1];
    const sn_cpu_fn *tables[SNRT_MAX_VARIANTS];
    for (int i = 0; i < b->nv; i++) tables[i] = none;
    snrt_model m = {SNRT_MODEL_MAGIC,
                    sizeof(snrt_model),
                    b->desc.data,
                    b->desc.len,
                    sn_hash64(SN_HASH_INIT, b->desc.data, b->desc.len),
                    NULL,
                    0,
                    (uint64_t)b->nv,
                    tables};
    for (int i = 0; i < b->nv; i++) {
        b->v[i].context_bytes = snrt_context_bytes(&m, i, 0);
        if (!b->v[i].context_bytes)
            return sn_fail(b->st, SN_ERR_RUNTIME,
                           "internal error: the runtime rejects the description of variant %s",
                           b->v[i].name);
    }
    return SN_OK;
}

/* The glue object, then the archive: glue, kernels, and the runtime members they need. */
static sn_code make_library(build *b) {
    sn_status *st = b->st;
    note(b, "%s%s", "the glue object (descriptions", b->o->weights_file ? ")" : ", weights)");
    sn_glue_in gi;
    memset(&gi, 0, sizeof gi);
    gi.name = b->name;
    gi.desc = b->desc.data;
    gi.desc_size = b->desc.len;
    if (!b->o->weights_file) {
        gi.weights = b->wdata.data ? b->wdata.data : (const unsigned char *)"";
        gi.weights_size = b->wdata.len;
    }
    gi.nvariants = b->nv;
    int nk = 0;
    for (int i = 0; i < b->nv; i++) {
        gi.kernels[i] = b->v[i].ksyms;
        gi.nkernels[i] = b->v[i].art.n;
        nk += b->v[i].art.n;
    }
    if (sn_glue_emit(&gi, &b->glue, &b->glue_size, st)) return st->code;
    b->objs = calloc((size_t)(nk + 1), sizeof *b->objs);
    if (!b->objs) return oom(b);
    sn_obj *ob = &b->objs[b->nobjs++];
    snprintf(ob->name, sizeof ob->name, "%s_glue.o", b->name);
    ob->data = b->glue;
    ob->size = b->glue_size;
    for (int i = 0; i < b->nv; i++)
        for (int k = 0; k < b->v[i].art.n; k++) {
            ob = &b->objs[b->nobjs++];
            sn_fmt(ob->name, sizeof ob->name, "%s.o", b->v[i].art.k[k].symbol);
            ob->data = b->v[i].art.k[k].obj;
            ob->size = b->v[i].art.k[k].obj_size;
        }
    for (int i = 0; i < b->nobjs; i++)
        if (sn_obj_scan(&b->objs[i], st)) return st->code;
    size_t rt_size;
    const unsigned char *rt_data = sn_rt_deploy_archive(&rt_size);
    if (sn_ar_read("the embedded runtime", rt_data, rt_size, &b->rt, &b->nrt, st)) return st->code;
    b->keep = calloc((size_t)(b->nrt ? b->nrt : 1), sizeof *b->keep);
    if (!b->keep) return oom(b);
    for (int i = 0; i < b->nrt; i++)
        if (sn_obj_scan(&b->rt[i], st)) return st->code;
    if (sn_ar_select(b->objs, b->nobjs, b->rt, b->nrt, b->keep, &b->unresolved, st))
        return st->code;
    sn_obj *all = calloc((size_t)(b->nobjs + b->nrt), sizeof *all);
    if (!all) return oom(b);
    int na = 0;
    for (int i = 0; i < b->nobjs; i++) all[na++] = b->objs[i];
    for (int i = 0; i < b->nrt; i++)
        if (b->keep[i]) all[na++] = b->rt[i];
    sn_code c = sn_ar_write(all, na, &b->lib, &b->lib_size, st);
    free(all); /* (the scanned symbol lists stay owned by objs and rt) */
    b->rep->static_bytes = (int64_t)b->lib_size;
    return c;
}

static sn_code write_weights_file(build *b, const char *fname) {
    sn_st_tensor *ts = calloc((size_t)(b->nw ? b->nw : 1), sizeof *ts);
    if (!ts) return oom(b);
    for (int i = 0; i < b->nw; i++) {
        ts[i].name = (char *)b->wnames[i];
        ts[i].dtype = b->wdt[i];
        ts[i].shape = b->wsh[i];
        ts[i].data = b->wdata.data + snrt_desc_weight_offset(b->wdt, b->wsh, i);
        ts[i].nbytes = (size_t)sn_shape_numel(&b->wsh[i]) * sn_dtype_size(b->wdt[i]);
    }
    sn_st_meta meta[1] = {{"snnc_artifact", b->name}};
    char path[4400];
    sn_code c = sn_stage_path(&b->sg, fname, path, sizeof path, b->st);
    if (!c) c = sn_safetensors_write(path, ts, b->nw, meta, 1, b->st);
    if (!c) c = sn_stage_add(&b->sg, fname, b->st);
    free(ts);
    return c;
}

static void write_header(build *b, sn_strbuf *text) {
    const sn_model_spec *spec = b->spec;
    sn_header_in hi;
    memset(&hi, 0, sizeof hi);
    hi.name = b->name;
    hi.model = spec->name;
    hi.source = spec->source_path;
    hi.batch = b->o->batch;
    hi.channels = spec->in_channels;
    hi.height = spec->in_height;
    hi.width = spec->in_width;
    hi.classes = spec->num_classes;
    hi.T = b->g.T;
    hi.streaming = b->g.step_major;
    hi.embedded = !b->o->weights_file;
    hi.weight_bytes = b->wbytes;
    char vnames[SNRT_MAX_VARIANTS * 34] = "", vlines[SNRT_MAX_VARIANTS][2048];
    for (int i = 0; i < b->nv; i++) {
        const variant *v = &b->v[i];
        size_t l = strlen(vnames);
        sn_fmt(vnames + l, sizeof vnames - l, "%s%s", i ? "," : "", v->name);
        if (v->context_bytes > hi.context_bytes) hi.context_bytes = v->context_bytes;
        char feats[1024], wrapped[1400];
        sn_cpu_features_str(v->features, feats, sizeof feats);
        /* the feature list wrapped into comment lines */
        size_t wl = 0, col = 0;
        for (const char *p = feats; *p && wl + 16 < sizeof wrapped; p++) {
            if (*p == ',' && col > 70) {
                memcpy(wrapped + wl, ",\n *       ", 11);
                wl += 11;
                col = 0;
                continue;
            }
            wrapped[wl++] = *p;
            col++;
        }
        wrapped[wl] = '\0';
        sn_fmt(vlines[i], sizeof vlines[i],
               "%s: LLVM CPU %s, %s vectors%s, %d kernels (%.1f KiB of code), context %.1f "
               "MiB;\n *     needs %s",
               v->name, sn_jit_cpu_name(v->jit), sn_jit_isa_name(sn_jit_isa(v->jit)),
               sn_jit_vnni(v->jit) ? " + VNNI" : "", v->art.n, (double)v->code_bytes / 1024.0,
               (double)v->context_bytes / 1048576.0, feats[0] ? wrapped : "(baseline x86-64 only)");
        hi.variant_lines[i] = vlines[i];
    }
    hi.nvariants = b->nv;
    hi.variant_names = vnames;
    sn_header_write(&hi, text);
}

static void write_manifest(build *b, sn_strbuf *t) {
    const sn_model_spec *spec = b->spec;
    sn_sb_puts(t, "{\n  \"format\": \"snnc-artifact-1\",\n  \"name\": ");
    sn_sb_json_str(t, b->name);
    sn_sb_puts(t, ",\n  \"model\": ");
    sn_sb_json_str(t, spec->name);
    sn_sb_puts(t, ",\n  \"source\": ");
    sn_sb_json_str(t, spec->source_path);
    sn_sb_printf(t,
                 ",\n  \"snnc\": \"%s\",\n  \"batch\": %lld,\n  \"input\": [%lld, %lld, %lld, "
                 "%lld],\n  \"classes\": %d,\n  \"T\": %d,\n  \"streaming\": %s,\n",
                 SNNC_VERSION, (long long)b->o->batch, (long long)b->o->batch,
                 (long long)spec->in_channels, (long long)spec->in_height,
                 (long long)spec->in_width, spec->num_classes, b->g.T,
                 b->g.step_major ? "true" : "false");
    sn_sb_printf(t,
                 "  \"weights\": {\"embedded\": %s, \"tensors\": %d, \"bytes\": %llu},\n"
                 "  \"files\": {\"static\": {\"name\": \"lib%s.a\", \"bytes\": %lld}",
                 b->o->weights_file ? "false" : "true", b->nw, (unsigned long long)b->wbytes,
                 b->name, (long long)b->lib_size);
    if (b->o->shared)
        sn_sb_printf(t, ", \"shared\": {\"name\": \"lib%s.so\", \"bytes\": %lld}", b->name,
                     (long long)b->rep->shared_bytes);
    sn_sb_printf(t, ", \"header\": \"%s.h\"},\n  \"variants\": [\n", b->name);
    for (int i = 0; i < b->nv; i++) {
        const variant *v = &b->v[i];
        sn_sb_puts(t, "    {\"name\": ");
        sn_sb_json_str(t, v->name);
        sn_sb_puts(t, ", \"cpu\": ");
        sn_sb_json_str(t, sn_jit_cpu_name(v->jit));
        sn_sb_printf(t, ", \"isa\": \"%s\", \"vnni\": %s, \"features\": ",
                     sn_jit_isa_name(sn_jit_isa(v->jit)), sn_jit_vnni(v->jit) ? "true" : "false");
        put_features(t, v->features);
        sn_sb_printf(t,
                     ", \"kernels\": %d, \"code_bytes\": %lld, \"steps\": %d, \"prep_steps\": %d, "
                     "\"arena_bytes\": %lld, \"context_bytes\": %llu}%s\n",
                     v->art.n, (long long)v->code_bytes, v->plan.nsteps, v->plan.nprep,
                     (long long)v->plan.arena_bytes, (unsigned long long)v->context_bytes,
                     i + 1 < b->nv ? "," : "");
    }
    sn_sb_puts(t, "  ],\n  \"runtime_members\": [");
    int first = 1;
    for (int i = 0; i < b->nrt; i++)
        if (b->keep[i]) {
            sn_sb_puts(t, first ? "" : ", ");
            sn_sb_json_str(t, b->rt[i].name);
            first = 0;
        }
    sn_sb_puts(t, "],\n  \"link_needs\": [");
    first = 1;
    for (const char *u = b->unresolved; u && *u; u += strlen(u) + 1) {
        sn_sb_puts(t, first ? "" : ", ");
        sn_sb_json_str(t, u);
        first = 0;
    }
    sn_sb_puts(t, "]\n}\n");
}

/* Every file into the staging directory, then into DIR. */
static sn_code write_outputs(build *b) {
    sn_status *st = b->st;
    char fname[128];
    if (sn_stage_open(&b->sg, b->o->dir, b->name, st)) return st->code;
    note(b, "writing lib%s.a%s", b->name, b->o->shared ? " and linking the shared library" : "");
    if (b->o->shared) {
        /* the archive under a temporary name first: the C compiler reads it */
        char tpath[4400], so[4400];
        snprintf(fname, sizeof fname, "lib%s.so", b->name);
        if (sn_stage_path(&b->sg, "libtmp.a", tpath, sizeof tpath, st) ||
            sn_write_file_replace(tpath, b->lib, b->lib_size, st) ||
            sn_stage_link_shared(&b->sg, "libtmp.a", fname, b->name, st) ||
            sn_stage_path(&b->sg, fname, so, sizeof so, st))
            return st->code;
        struct stat sb;
        if (stat(so, &sb) == 0) b->rep->shared_bytes = (int64_t)sb.st_size;
    }
    snprintf(fname, sizeof fname, "lib%s.a", b->name);
    if (sn_stage_file(&b->sg, fname, b->lib, b->lib_size, st)) return st->code;
    if (b->o->weights_file) {
        snprintf(fname, sizeof fname, "%s.weights", b->name);
        if (write_weights_file(b, fname)) return st->code;
    }
    sn_strbuf text;
    sn_sb_init(&text);
    write_header(b, &text);
    snprintf(fname, sizeof fname, "%s.h", b->name);
    sn_code c = text.oom ? oom(b) : sn_stage_file(&b->sg, fname, text.data, text.len, st);
    sn_sb_free(&text);
    if (c) return c;
    sn_sb_init(&text);
    sn_header_generic(b->name, &text);
    c = text.oom ? oom(b) : sn_stage_file(&b->sg, "snnc_model.h", text.data, text.len, st);
    sn_sb_free(&text);
    if (c) return c;
    sn_sb_init(&text);
    write_manifest(b, &text);
    snprintf(fname, sizeof fname, "%s.json", b->name);
    c = text.oom ? oom(b) : sn_stage_file(&b->sg, fname, text.data, text.len, st);
    sn_sb_free(&text);
    if (c) return c;
    return sn_stage_commit(&b->sg, st);
}

static void report(build *b) {
    sn_artifact_report *rep = b->rep;
    for (int i = 0; i < b->nv; i++) {
        const variant *v = &b->v[i];
        sn_fmt(rep->variants[i], sizeof rep->variants[i],
               "%s (%s, %s%s): %d kernels, %.1f KiB code, context %.1f MiB", v->name,
               sn_jit_cpu_name(v->jit), sn_jit_isa_name(sn_jit_isa(v->jit)),
               sn_jit_vnni(v->jit) ? "+vnni" : "", v->art.n, (double)v->code_bytes / 1024.0,
               (double)v->context_bytes / 1048576.0);
        rep->code_bytes += v->code_bytes;
    }
    rep->nvariants = b->nv;
}

static void build_free(build *b) {
    sn_stage_close(&b->sg);
    free(b->unresolved);
    free(b->keep);
    for (int i = 0; i < b->nobjs; i++) sn_obj_free(&b->objs[i]);
    free(b->objs);
    for (int i = 0; i < b->nrt; i++) sn_obj_free(&b->rt[i]);
    free(b->rt);
    free(b->lib);
    free(b->glue);
    for (int i = 0; i < b->nv; i++) {
        sn_bw_free(&b->v[i].blob);
        free(b->v[i].ksyms);
        sn_plan_free(&b->v[i].plan);
        sn_cpu_artifacts_free(&b->v[i].art);
        sn_jit_destroy(b->v[i].jit);
    }
    free(b->wnames);
    free(b->wdt);
    free(b->wsh);
    sn_bw_free(&b->desc);
    sn_bw_free(&b->wdata);
    sn_groups_free(&b->gs);
    sn_graph_free(&b->g);
}

sn_code sn_artifact_write(const sn_model_spec *spec, const sn_weights *w, const sn_artifact_opts *o,
                          sn_artifact_report *rep, sn_status *st) {
    double t0 = sn_now();
    memset(rep, 0, sizeof *rep);
    build *b = calloc(1, sizeof *b);
    if (!b) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    b->spec = spec;
    b->w = w;
    b->o = o;
    b->rep = rep;
    b->st = st;
    sn_graph_init(&b->g);
    sn_bw_init(&b->desc);
    sn_bw_init(&b->wdata);
    if (o->name) {
        if (!valid_name(o->name))
            sn_fail(st, SN_ERR_INPUT,
                    "--name %s: give a C identifier of at most %d characters (letters, digits, "
                    "'_'; not starting with a digit, sn_ or snrt_)",
                    o->name, SN_ARTIFACT_NAME_MAX);
        else
            sn_strlcpy(b->name, o->name, sizeof b->name);
    } else {
        sn_artifact_default_name(spec->name, b->name, sizeof b->name);
        if (!valid_name(b->name))
            sn_fail(st, SN_ERR_INPUT, "model name '%s' makes no usable C prefix: give --name NAME",
                    spec->name);
    }
    sn_strlcpy(rep->name, b->name, sizeof rep->name);
    if (!st->code && !lower_variants(b) && !weight_table(b) && !describe(b) && !make_library(b) &&
        !write_outputs(b)) {
        report(b);
        rep->seconds = sn_now() - t0;
    }
    build_free(b);
    free(b);
    return st->code;
}
