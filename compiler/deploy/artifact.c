#define _GNU_SOURCE /* mkdtemp, posix_spawn */
#include "artifact.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

extern char **environ;

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

/* ------------------------------------------------------------ files and cc ---- */

typedef struct stage {
    char dir[4096]; /* DIR/.snnc-XXXXXX: everything is written here, then renamed */
    char names[16][128];
    int n;
} stage;

static sn_code stage_path(const stage *sg, const char *name, char *out, size_t n, sn_status *st) {
    int w = snprintf(out, n, "%s/%s", sg->dir, name);
    if (w < 0 || (size_t)w >= n) return sn_fail(st, SN_ERR_INPUT, "%s: path too long", sg->dir);
    return SN_OK;
}

static sn_code stage_file(stage *sg, const char *name, const void *data, size_t size,
                          sn_status *st) {
    char path[4352];
    if (stage_path(sg, name, path, sizeof path, st) || sn_write_file_atomic(path, data, size, st))
        return st->code;
    sn_strlcpy(sg->names[sg->n++], name, sizeof sg->names[0]);
    return SN_OK;
}

static void stage_remove(stage *sg) {
    if (!sg->dir[0]) return;
    const char *extra[] = {"cc.log", "exports.map", "libtmp.a"};
    char path[4352];
    for (int i = 0; i < sg->n; i++) {
        snprintf(path, sizeof path, "%s/%s", sg->dir, sg->names[i]);
        unlink(path);
    }
    for (size_t i = 0; i < SN_ARRAY_LEN(extra); i++) {
        snprintf(path, sizeof path, "%s/%s", sg->dir, extra[i]);
        unlink(path);
    }
    rmdir(sg->dir);
    sg->dir[0] = '\0';
}

/* Moves every staged file into out_dir (each rename is atomic). */
static sn_code stage_commit(stage *sg, const char *out_dir, sn_status *st) {
    for (int i = 0; i < sg->n; i++) {
        char from[4352], to[4352];
        snprintf(from, sizeof from, "%s/%s", sg->dir, sg->names[i]);
        int w = snprintf(to, sizeof to, "%s/%s", out_dir, sg->names[i]);
        if (w < 0 || (size_t)w >= sizeof to)
            return sn_fail(st, SN_ERR_INPUT, "%s: path too long", out_dir);
        if (rename(from, to) != 0)
            return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot move into place: %s", to,
                           strerror(errno));
    }
    sg->n = 0;
    return SN_OK;
}

/* The C compiler that links the shared library. */
static const char *c_compiler(void) {
    const char *cc = getenv("SNNC_CC");
    if (!cc || !*cc) cc = getenv("CC");
    return cc && *cc ? cc : "cc";
}

/* libNAME.so from libtmp.a: the system C compiler links it (snnc has no linker of its own);
 * only NAME_* is exported, and a symbol left undefined is an error here, not at load. */
static sn_code link_shared(stage *sg, const char *name, sn_status *st) {
    char a[4352], so[4352], map[4352], log[4352], mapopt[4400], soname[200], sofile[200];
    snprintf(sofile, sizeof sofile, "lib%s.so", name);
    if (stage_path(sg, "libtmp.a", a, sizeof a, st) || stage_path(sg, sofile, so, sizeof so, st) ||
        stage_path(sg, "exports.map", map, sizeof map, st) ||
        stage_path(sg, "cc.log", log, sizeof log, st))
        return st->code;
    char script[512];
    snprintf(script, sizeof script, "{\n  global: %s_*;\n  local: *;\n};\n", name);
    if (sn_write_file_replace(map, script, strlen(script), st)) return st->code;
    snprintf(mapopt, sizeof mapopt, "-Wl,--version-script=%s", map);
    snprintf(soname, sizeof soname, "-Wl,-soname,lib%s.so", name);
    const char *cc = c_compiler();
    char *argv[] = {(char *)cc,
                    "-shared",
                    "-o",
                    so,
                    "-Wl,--whole-archive",
                    a,
                    "-Wl,--no-whole-archive",
                    mapopt,
                    soname,
                    "-Wl,--no-undefined",
                    "-Wl,-z,noexecstack",
                    "-Wl,-z,relro",
                    "-Wl,-z,now",
                    "-lm",
                    "-lpthread",
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, cc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return sn_fail(st, SN_ERR_RUNTIME,
                       "cannot run the C compiler '%s' to link lib%s.so: %s (install gcc, set "
                       "SNNC_CC, or pass --shared off for the static library alone)",
                       cc, name, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        sn_fail(st, SN_ERR_RUNTIME, "'%s' failed to link lib%s.so (exit %d):", cc, name,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        unsigned char *text = NULL;
        size_t len = 0;
        sn_status ig;
        sn_status_init(&ig);
        if (sn_read_file(log, &text, &len, &ig) == SN_OK) {
            if (len > 2000) len = 2000;
            sn_status_append(st, "\n%.*s", (int)len, (const char *)text);
            free(text);
        }
        return st->code;
    }
    sn_strlcpy(sg->names[sg->n++], sofile, sizeof sg->names[0]);
    return SN_OK;
}

/* ------------------------------------------------------------------ writing ---- */

static void stage_note(const sn_artifact_opts *o, const char *fmt, const char *a, const char *b) {
    if (!o->progress) return;
    char msg[256];
    snprintf(msg, sizeof msg, fmt, a, b);
    o->progress(o->progress_arg, msg);
}

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

sn_code sn_artifact_write(const sn_model_spec *spec, const sn_weights *w, const sn_artifact_opts *o,
                          sn_artifact_report *rep, sn_status *st) {
    double t0 = sn_now();
    memset(rep, 0, sizeof *rep);
    char name[SN_ARTIFACT_NAME_MAX + 1];
    if (o->name) {
        if (!valid_name(o->name))
            return sn_fail(st, SN_ERR_INPUT,
                           "--name %s: give a C identifier of at most %d characters (letters, "
                           "digits, '_'; not starting with a digit, sn_ or snrt_)",
                           o->name, SN_ARTIFACT_NAME_MAX);
        sn_strlcpy(name, o->name, sizeof name);
    } else {
        sn_artifact_default_name(spec->name, name, sizeof name);
        if (!valid_name(name))
            return sn_fail(st, SN_ERR_INPUT,
                           "model name '%s' makes no usable C prefix: give --name NAME",
                           spec->name);
    }
    sn_strlcpy(rep->name, name, sizeof rep->name);
    variant v[SNRT_MAX_VARIANTS];
    memset(v, 0, sizeof v);
    int nv = 0;
    if (parse_cpus(o->cpus ? o->cpus : "x86-64-v3,host", v, &nv, st)) return st->code;

    sn_graph g;
    sn_graph_init(&g);
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_bw desc, wdata;
    sn_bw_init(&desc);
    sn_bw_init(&wdata);
    const char **wnames = NULL;
    sn_dtype *wdt = NULL;
    sn_shape *wsh = NULL;
    int nw = 0;
    unsigned char *glue = NULL, *lib = NULL;
    size_t glue_size = 0, lib_size = 0;
    sn_obj *objs = NULL, *rt = NULL;
    int nobjs = 0, nrt = 0;
    int *keep = NULL;
    char *unresolved = NULL;
    stage sg;
    memset(&sg, 0, sizeof sg);
    sn_strbuf text;
    sn_sb_init(&text);

    /* the graph: spiking models step-major unless --schedule says otherwise, so that
     * NAME_step can stream */
    sn_build_opts bo = {.batch = o->batch,
                        .schedule = o->schedule == SN_SCHED_AUTO ? SN_SCHED_LAYER : o->schedule};
    if (sn_graph_build(spec, &bo, &g, st)) goto done;
    int spiking = 0;
    for (int i = 0; i < g.nnodes; i++)
        spiking |= g.nodes[i].op == SN_OP_ENCODE_POISSON || g.nodes[i].op == SN_OP_ENCODE_DIRECT;
    if (o->schedule == SN_SCHED_AUTO && spiking) {
        sn_graph_free(&g);
        bo.schedule = SN_SCHED_STEP;
        if (sn_graph_build(spec, &bo, &g, st)) goto done;
    }
    if (sn_graph_verify(&g, st) || sn_fuse(&g, o->fusion, &gs, st)) goto done;
    rep->step_major = g.step_major;

    /* the targets, best first: the runtime takes the first variant the CPU can run */
    for (int i = 0; i < nv; i++) {
        if (make_jit(&v[i], st)) goto done;
        v[i].features = sn_cpu_features_parse(sn_jit_features(v[i].jit));
    }
    for (int i = 1; i < nv; i++)
        for (int j = i; j > 0 && popcount64(v[j].features) > popcount64(v[j - 1].features); j--) {
            variant t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    /* one plan per variant, from the CPU backend's ordinary lowering; kernel symbols get a
     * prefix of this model and variant */
    uint64_t nh = sn_hash_str(SN_HASH_INIT, name);
    for (int i = 0; i < nv; i++) {
        snprintf(v[i].prefix, sizeof v[i].prefix, "sn%08llx_v%d", (unsigned long long)(nh >> 32),
                 i);
        stage_note(o, "variant %s (%s): generating and compiling the kernels", v[i].name,
                   sn_jit_cpu_name(v[i].jit));
        sn_cpu_options co = {.capture = SN_CAPTURE_OBJECT,
                             .symbol_prefix = v[i].prefix,
                             .direct_conv = o->direct_conv};
        if (sn_lower_cpu(&g, &gs, v[i].jit, &co, &v[i].plan, &v[i].art, st)) {
            sn_status_context(st, "while compiling variant %s", v[i].name);
            goto done;
        }
    }

    /* the weight table: every weight buffer of the plans, once */
    int maxw = 1;
    for (int i = 0; i < nv; i++) maxw += v[i].plan.nbufs;
    wnames = calloc((size_t)maxw, sizeof *wnames);
    wdt = calloc((size_t)maxw, sizeof *wdt);
    wsh = calloc((size_t)maxw, sizeof *wsh);
    if (!wnames || !wdt || !wsh) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < nv; i++)
        for (int b = 0; b < v[i].plan.nbufs; b++) {
            const sn_buffer *buf = &v[i].plan.bufs[b];
            if (buf->kind != SN_BUF_WEIGHT || weight_index(wnames, nw, buf->name) >= 0) continue;
            int j = sn_weights_find(w, buf->name);
            if (j < 0 || !sn_shape_eq(&w->desc[j].shape, &buf->shape) ||
                w->desc[j].dtype != buf->dtype) {
                sn_fail(st, SN_ERR_INPUT, "the weights lack tensor %s or give it another shape",
                        buf->name);
                goto done;
            }
            wnames[nw] = buf->name;
            wdt[nw] = buf->dtype;
            wsh[nw] = buf->shape;
            nw++;
        }
    /* the weight data, laid out as the description says */
    uint64_t wbytes = snrt_desc_weight_total(wdt, wsh, nw);
    for (int i = 0; i < nw; i++) {
        uint64_t off = snrt_desc_weight_offset(wdt, wsh, i);
        static const unsigned char zeros[64];
        while (wdata.len < off) sn_bw_raw(&wdata, zeros, SN_MIN(64, off - wdata.len));
        int j = sn_weights_find(w, wnames[i]);
        sn_bw_raw(&wdata, w->data[j], (size_t)sn_shape_numel(&wsh[i]) * sn_dtype_size(wdt[i]));
    }
    while (wdata.len < wbytes) sn_bw_raw(&wdata, "\0", 1);
    if (wdata.oom) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory for the weights");
        goto done;
    }
    rep->weight_bytes = (int64_t)wbytes;

    /* plans and the model description */
    snrt_desc_in din;
    memset(&din, 0, sizeof din);
    din.name = name;
    din.batch = o->batch;
    din.channels = spec->in_channels;
    din.height = spec->in_height;
    din.width = spec->in_width;
    din.classes = spec->num_classes;
    din.T = g.T;
    din.step_major = g.step_major;
    din.tf = o->tf;
    din.nweights = nw;
    din.weight_names = wnames;
    din.weight_dtypes = wdt;
    din.weight_shapes = wsh;
    din.nvariants = nv;
    for (int i = 0; i < nv; i++) {
        v[i].ksyms = calloc((size_t)(v[i].art.n ? v[i].art.n : 1), sizeof *v[i].ksyms);
        if (!v[i].ksyms) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
        for (int k = 0; k < v[i].art.n; k++) {
            v[i].ksyms[k] = v[i].art.k[k].symbol;
            v[i].code_bytes += (int64_t)v[i].art.k[k].obj_size;
        }
        sn_bw_init(&v[i].blob);
        if (sn_plan_blob_write(&v[i].plan, v[i].ksyms, v[i].art.n, wnames, nw, &v[i].blob, st))
            goto done;
        snrt_variant_desc *vd = &din.variants[i];
        vd->name = v[i].name;
        vd->cpu = sn_jit_cpu_name(v[i].jit);
        vd->isa = sn_jit_isa_name(sn_jit_isa(v[i].jit));
        vd->features = v[i].features;
        vd->nkernels = v[i].art.n;
        vd->plan = v[i].blob.data;
        vd->plan_size = v[i].blob.len;
    }
    if (snrt_desc_write(&din, &desc, st)) goto done;

    /* sizes a context needs, from the runtime's own reading of the description */
    {
        static const sn_cpu_fn none[1];
        const sn_cpu_fn *tables[SNRT_MAX_VARIANTS];
        for (int i = 0; i < nv; i++) tables[i] = none;
        snrt_model m = {SNRT_MODEL_MAGIC,
                        sizeof(snrt_model),
                        desc.data,
                        desc.len,
                        sn_hash64(SN_HASH_INIT, desc.data, desc.len),
                        NULL,
                        0,
                        (uint64_t)nv,
                        tables};
        for (int i = 0; i < nv; i++) {
            v[i].context_bytes = snrt_context_bytes(&m, i, 0);
            if (!v[i].context_bytes) {
                sn_fail(st, SN_ERR_RUNTIME,
                        "internal error: the runtime rejects the description of variant %s",
                        v[i].name);
                goto done;
            }
        }
    }

    /* the glue object */
    stage_note(o, "%s%s", "the glue object (descriptions", o->weights_file ? ")" : ", weights)");
    sn_glue_in gi;
    memset(&gi, 0, sizeof gi);
    gi.name = name;
    gi.desc = desc.data;
    gi.desc_size = desc.len;
    gi.weights = o->weights_file ? NULL : wdata.data ? wdata.data : (const unsigned char *)"";
    gi.weights_size = o->weights_file ? 0 : wdata.len;
    gi.nvariants = nv;
    for (int i = 0; i < nv; i++) {
        gi.kernels[i] = v[i].ksyms;
        gi.nkernels[i] = v[i].art.n;
    }
    if (sn_glue_emit(&gi, &glue, &glue_size, st)) goto done;

    /* the archive: glue, kernels, and the runtime members they need */
    int nk = 0;
    for (int i = 0; i < nv; i++) nk += v[i].art.n;
    objs = calloc((size_t)(nk + 1), sizeof *objs);
    if (!objs) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    snprintf(objs[0].name, sizeof objs[0].name, "%s_glue.o", name);
    objs[0].data = glue;
    objs[0].size = glue_size;
    nobjs = 1;
    for (int i = 0; i < nv; i++)
        for (int k = 0; k < v[i].art.n; k++) {
            sn_obj *ob = &objs[nobjs++];
            sn_fmt(ob->name, sizeof ob->name, "%s.o", v[i].art.k[k].symbol);
            ob->data = v[i].art.k[k].obj;
            ob->size = v[i].art.k[k].obj_size;
        }
    for (int i = 0; i < nobjs; i++)
        if (sn_obj_scan(&objs[i], st)) goto done;
    size_t rt_size;
    const unsigned char *rt_data = sn_rt_deploy_archive(&rt_size);
    if (sn_ar_read("the embedded runtime", rt_data, rt_size, &rt, &nrt, st)) goto done;
    keep = calloc((size_t)(nrt ? nrt : 1), sizeof *keep);
    if (!keep) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < nrt; i++)
        if (sn_obj_scan(&rt[i], st)) goto done;
    if (sn_ar_select(objs, nobjs, rt, nrt, keep, &unresolved, st)) goto done;
    {
        sn_obj *all = calloc((size_t)(nobjs + nrt), sizeof *all);
        if (!all) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
        int na = 0;
        for (int i = 0; i < nobjs; i++) all[na++] = objs[i];
        for (int i = 0; i < nrt; i++)
            if (keep[i]) all[na++] = rt[i];
        sn_code c = sn_ar_write(all, na, &lib, &lib_size, st);
        free(all); /* (the scanned symbol lists stay owned by objs and rt) */
        if (c) goto done;
    }
    rep->static_bytes = (int64_t)lib_size;

    /* stage everything next to DIR's files, then move it into place */
    if (sn_mkdirs(o->dir, st)) goto done;
    {
        int wr = snprintf(sg.dir, sizeof sg.dir, "%s/.snnc-%s-XXXXXX", o->dir, name);
        if (wr < 0 || (size_t)wr >= sizeof sg.dir - 256) {
            sg.dir[0] = '\0';
            sn_fail(st, SN_ERR_INPUT, "%s: path too long", o->dir);
            goto done;
        }
        if (!mkdtemp(sg.dir)) {
            sn_fail(st, SN_ERR_RUNTIME, "%s: cannot create a staging directory: %s", o->dir,
                    strerror(errno));
            sg.dir[0] = '\0';
            goto done;
        }
    }
    char fname[128];
    stage_note(o, "writing lib%s.a%s", name, o->shared ? " and linking the shared library" : "");
    if (o->shared) {
        /* the archive under a temporary name first: the compiler reads it */
        char tpath[4352];
        if (stage_path(&sg, "libtmp.a", tpath, sizeof tpath, st) ||
            sn_write_file_replace(tpath, lib, lib_size, st) || link_shared(&sg, name, st))
            goto done;
        char so[4352];
        snprintf(fname, sizeof fname, "lib%s.so", name);
        struct stat sb;
        if (stage_path(&sg, fname, so, sizeof so, st)) goto done;
        if (stat(so, &sb) == 0) rep->shared_bytes = (int64_t)sb.st_size;
    }
    snprintf(fname, sizeof fname, "lib%s.a", name);
    if (stage_file(&sg, fname, lib, lib_size, st)) goto done;
    if (o->weights_file) {
        sn_st_tensor *ts = calloc((size_t)(nw ? nw : 1), sizeof *ts);
        if (!ts) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
        for (int i = 0; i < nw; i++) {
            ts[i].name = (char *)wnames[i];
            ts[i].dtype = wdt[i];
            ts[i].shape = wsh[i];
            ts[i].data = wdata.data + snrt_desc_weight_offset(wdt, wsh, i);
            ts[i].nbytes = (size_t)sn_shape_numel(&wsh[i]) * sn_dtype_size(wdt[i]);
        }
        sn_st_meta meta[1] = {{"snnc_artifact", name}};
        char wpath[4352];
        snprintf(fname, sizeof fname, "%s.weights", name);
        sn_code c = stage_path(&sg, fname, wpath, sizeof wpath, st);
        if (!c) c = sn_safetensors_write(wpath, ts, nw, meta, 1, st);
        free(ts);
        if (c) goto done;
        sn_strlcpy(sg.names[sg.n++], fname, sizeof sg.names[0]);
    }

    /* the header */
    sn_header_in hi;
    memset(&hi, 0, sizeof hi);
    hi.name = name;
    hi.model = spec->name;
    hi.source = spec->source_path;
    hi.batch = o->batch;
    hi.channels = spec->in_channels;
    hi.height = spec->in_height;
    hi.width = spec->in_width;
    hi.classes = spec->num_classes;
    hi.T = g.T;
    hi.streaming = g.step_major;
    hi.embedded = !o->weights_file;
    hi.weight_bytes = wbytes;
    char vnames[SNRT_MAX_VARIANTS * 34] = "", vlines[SNRT_MAX_VARIANTS][2048];
    for (int i = 0; i < nv; i++) {
        size_t l = strlen(vnames);
        sn_fmt(vnames + l, sizeof vnames - l, "%s%s", i ? "," : "", v[i].name);
        if (v[i].context_bytes > hi.context_bytes) hi.context_bytes = v[i].context_bytes;
        char feats[1024];
        sn_cpu_features_str(v[i].features, feats, sizeof feats);
        sn_fmt(vlines[i], sizeof vlines[i],
               "%s: LLVM CPU %s, %s vectors%s, %d kernels (%.1f KiB of code), context %.1f "
               "MiB;\n *     needs %s",
               v[i].name, sn_jit_cpu_name(v[i].jit), sn_jit_isa_name(sn_jit_isa(v[i].jit)),
               sn_jit_vnni(v[i].jit) ? " + VNNI" : "", v[i].art.n, (double)v[i].code_bytes / 1024.0,
               (double)v[i].context_bytes / 1048576.0, feats[0] ? feats : "(baseline x86-64 only)");
        hi.variant_lines[i] = vlines[i];
        sn_fmt(rep->variants[i], sizeof rep->variants[i],
               "%s (%s, %s%s): %d kernels, %.1f KiB code, context %.1f MiB", v[i].name,
               sn_jit_cpu_name(v[i].jit), sn_jit_isa_name(sn_jit_isa(v[i].jit)),
               sn_jit_vnni(v[i].jit) ? "+vnni" : "", v[i].art.n, (double)v[i].code_bytes / 1024.0,
               (double)v[i].context_bytes / 1048576.0);
        rep->code_bytes += v[i].code_bytes;
    }
    rep->nvariants = nv;
    hi.nvariants = nv;
    hi.variant_names = vnames;
    sn_header_write(&hi, &text);
    snprintf(fname, sizeof fname, "%s.h", name);
    if (text.oom || stage_file(&sg, fname, text.data, text.len, st)) goto done;
    sn_sb_free(&text);
    sn_sb_init(&text);
    sn_header_generic(name, &text);
    if (text.oom || stage_file(&sg, "snnc_model.h", text.data, text.len, st)) goto done;

    /* the manifest */
    sn_sb_free(&text);
    sn_sb_init(&text);
    sn_sb_puts(&text, "{\n  \"format\": \"snnc-artifact-1\",\n  \"name\": ");
    sn_sb_json_str(&text, name);
    sn_sb_puts(&text, ",\n  \"model\": ");
    sn_sb_json_str(&text, spec->name);
    sn_sb_puts(&text, ",\n  \"source\": ");
    sn_sb_json_str(&text, spec->source_path);
    sn_sb_printf(
        &text,
        ",\n  \"snnc\": \"%s\",\n  \"batch\": %lld,\n  \"input\": [%lld, %lld, %lld, %lld],\n"
        "  \"classes\": %d,\n  \"T\": %d,\n  \"streaming\": %s,\n",
        SNNC_VERSION, (long long)o->batch, (long long)o->batch, (long long)spec->in_channels,
        (long long)spec->in_height, (long long)spec->in_width, spec->num_classes, g.T,
        g.step_major ? "true" : "false");
    sn_sb_printf(&text,
                 "  \"weights\": {\"embedded\": %s, \"tensors\": %d, \"bytes\": %llu},\n"
                 "  \"files\": {\"static\": {\"name\": \"lib%s.a\", \"bytes\": %lld}",
                 o->weights_file ? "false" : "true", nw, (unsigned long long)wbytes, name,
                 (long long)lib_size);
    if (o->shared)
        sn_sb_printf(&text, ", \"shared\": {\"name\": \"lib%s.so\", \"bytes\": %lld}", name,
                     (long long)rep->shared_bytes);
    sn_sb_printf(&text, ", \"header\": \"%s.h\"},\n  \"variants\": [\n", name);
    for (int i = 0; i < nv; i++) {
        sn_sb_puts(&text, "    {\"name\": ");
        sn_sb_json_str(&text, v[i].name);
        sn_sb_puts(&text, ", \"cpu\": ");
        sn_sb_json_str(&text, sn_jit_cpu_name(v[i].jit));
        sn_sb_printf(&text, ", \"isa\": \"%s\", \"vnni\": %s, \"features\": ",
                     sn_jit_isa_name(sn_jit_isa(v[i].jit)),
                     sn_jit_vnni(v[i].jit) ? "true" : "false");
        put_features(&text, v[i].features);
        sn_sb_printf(&text,
                     ", \"kernels\": %d, \"code_bytes\": %lld, \"steps\": %d, \"prep_steps\": %d, "
                     "\"arena_bytes\": %lld, \"context_bytes\": %llu}%s\n",
                     v[i].art.n, (long long)v[i].code_bytes, v[i].plan.nsteps, v[i].plan.nprep,
                     (long long)v[i].plan.arena_bytes, (unsigned long long)v[i].context_bytes,
                     i + 1 < nv ? "," : "");
    }
    sn_sb_puts(&text, "  ],\n  \"runtime_members\": [");
    int first = 1;
    for (int i = 0; i < nrt; i++)
        if (keep[i]) {
            sn_sb_puts(&text, first ? "" : ", ");
            sn_sb_json_str(&text, rt[i].name);
            first = 0;
        }
    sn_sb_puts(&text, "],\n  \"link_needs\": [");
    first = 1;
    for (const char *u = unresolved; u && *u; u += strlen(u) + 1) {
        sn_sb_puts(&text, first ? "" : ", ");
        sn_sb_json_str(&text, u);
        first = 0;
    }
    sn_sb_puts(&text, "]\n}\n");
    snprintf(fname, sizeof fname, "%s.json", name);
    if (text.oom || stage_file(&sg, fname, text.data, text.len, st)) goto done;
    if (stage_commit(&sg, o->dir, st)) goto done;
    rep->seconds = sn_now() - t0;

done:
    stage_remove(&sg);
    sn_sb_free(&text);
    free(unresolved);
    free(keep);
    for (int i = 0; i < nobjs; i++) sn_obj_free(&objs[i]);
    free(objs);
    for (int i = 0; i < nrt; i++) sn_obj_free(&rt[i]);
    free(rt);
    free(lib);
    free(glue);
    for (int i = 0; i < nv; i++) {
        sn_bw_free(&v[i].blob);
        free(v[i].ksyms);
        sn_plan_free(&v[i].plan);
        sn_cpu_artifacts_free(&v[i].art);
        sn_jit_destroy(v[i].jit);
    }
    free(wnames);
    free(wdt);
    free(wsh);
    sn_bw_free(&desc);
    sn_bw_free(&wdata);
    sn_groups_free(&gs);
    sn_graph_free(&g);
    return st->code;
}
