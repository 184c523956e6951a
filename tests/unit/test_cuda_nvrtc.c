/* The CUDA backend without a GPU: every kernel of every model in models/ (inference and a
 * training step, fp32, and the tensor-core TF32 / BF16 convolutions) is rendered and
 * compiled by NVRTC for sm_80 and sm_90, so broken CUDA C is caught on any machine with
 * the toolkit. Kernels that differ only in their entry-point name (the same layer shape
 * in several VGGs) are compiled once. Also: NVRTC failures name the call, the file:line,
 * the kernel and carry the log; template slots are strict.
 *
 * Skips (exit 77) when NVRTC cannot be loaded. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/cuda/cuda_backend.h"
#include "compiler/backends/cuda/nvrtc.h"
#include "compiler/backends/cuda/templates.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "runtime/core/util.h"

#define CANON "snk_kernel"

/* Every distinct kernel (entry name replaced by CANON) of every program lowered so far. */
static sn_cu_program all;
static int total_kernels, models_seen;
static char templates_seen[64][32];
static int ntemplates_seen;

static char *canonical(const sn_cu_kernel *k) {
    sn_strbuf sb;
    sn_sb_init(&sb);
    size_t nl = strlen(k->name);
    for (const char *p = k->source; *p;) {
        const char *q = strstr(p, k->name);
        if (!q) {
            sn_sb_puts(&sb, p);
            break;
        }
        sn_sb_append(&sb, p, (size_t)(q - p));
        sn_sb_puts(&sb, CANON);
        p = q + nl;
    }
    char *s = sn_strdup(sn_sb_cstr(&sb));
    sn_sb_free(&sb);
    return s;
}

/* The kernel's parameter list as the source declares it matches what each launch passes:
 * the same count, names and order; pointers for buffers, u64 for the seed, int for the
 * training flag, float for the learning-rate scalars. (The executor fills the parameters
 * from the step's arguments, so a mismatch would pass garbage on a GPU.) */
static void check_signatures(const sn_cu_program *p) {
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        if (s->kind != SN_CU_LAUNCH) continue;
        const sn_cu_kernel *k = &p->kernels[s->kernel];
        char head[SN_CU_NAME_MAX + 32];
        snprintf(head, sizeof head, "%s(", k->name);
        const char *q = strstr(k->source, head);
        CHECK_MSG(q != NULL, "%s: no entry point in the source", k->name);
        if (!q) continue;
        q += strlen(head);
        const char *end = strchr(q, ')');
        int np = 0;
        while (q && end && q < end) {
            const char *c = memchr(q, ',', (size_t)(end - q));
            const char *pe = c ? c : end;
            char decl[256];
            size_t l = (size_t)(pe - q) < sizeof decl - 1 ? (size_t)(pe - q) : sizeof decl - 1;
            memcpy(decl, q, l);
            decl[l] = 0;
            char *nm = decl + l; /* the last identifier is the parameter's name */
            while (nm > decl && (nm[-1] == ' ' || nm[-1] == '\n')) *--nm = 0;
            while (nm > decl &&
                   (nm[-1] == '_' || (nm[-1] >= 'a' && nm[-1] <= 'z') ||
                    (nm[-1] >= 'A' && nm[-1] <= 'Z') || (nm[-1] >= '0' && nm[-1] <= '9')))
                nm--;
            if (np < s->nargs) {
                const sn_cu_arg *a = &s->args[np];
                CHECK_MSG(strcmp(nm, a->name) == 0, "%s: parameter %d is %s, the launch passes %s",
                          k->name, np, nm, a->name);
                int ptr = strchr(decl, '*') != NULL;
                int want_ptr = a->kind == SN_CU_ARG_BUF || a->kind == SN_CU_ARG_NULL;
                CHECK_MSG(ptr == want_ptr, "%s: parameter %s: pointer expected %d", k->name, nm,
                          want_ptr);
                if (a->kind == SN_CU_ARG_SEED)
                    CHECK_MSG(strstr(decl, "u64") || strstr(decl, "unsigned long long"),
                              "%s: %s is not 64-bit", k->name, nm);
                if (a->kind == SN_CU_ARG_TRAINING)
                    CHECK_MSG(strncmp(decl + strspn(decl, " \n"), "int ", 4) == 0,
                              "%s: %s is not an int", k->name, nm);
                if (a->kind == SN_CU_ARG_LR || a->kind == SN_CU_ARG_ADAM_STEP_SIZE ||
                    a->kind == SN_CU_ARG_ADAM_BC2_SQRT)
                    CHECK_MSG(strstr(decl, "float") != NULL, "%s: %s is not a float", k->name, nm);
            }
            np++;
            q = c ? c + 1 : NULL;
        }
        CHECK_MSG(np == s->nargs, "%s: %d parameters, the launch passes %d", k->name, np, s->nargs);
    }
}

static void collect(const sn_cu_program *p) {
    check_signatures(p);
    for (int i = 0; i < p->nkernels; i++) {
        const sn_cu_kernel *k = &p->kernels[i];
        total_kernels++;
        int seen = 0;
        for (int t = 0; t < ntemplates_seen; t++) seen |= strcmp(templates_seen[t], k->tmpl) == 0;
        if (!seen && ntemplates_seen < 64)
            sn_strlcpy(templates_seen[ntemplates_seen++], k->tmpl, 32);
        char *src = canonical(k);
        if (!src) {
            CHECK(0);
            return;
        }
        uint64_t h = sn_hash_str(SN_HASH_INIT, src);
        int dup = 0;
        for (int j = 0; j < all.nkernels && !dup; j++) dup = all.kernels[j].hash == h;
        if (dup) {
            free(src);
            continue;
        }
        if (!sn_grow((void **)&all.kernels, &all.cap_kernels, all.nkernels + 1,
                     sizeof *all.kernels)) {
            free(src);
            CHECK(0);
            return;
        }
        sn_cu_kernel *c = &all.kernels[all.nkernels++];
        memset(c, 0, sizeof *c);
        sn_strlcpy(c->name, k->name, sizeof c->name);
        sn_strlcpy(c->tmpl, k->tmpl, sizeof c->tmpl);
        c->source = src;
        c->hash = h;
    }
}

static void lower_model_fusion(const char *path, int train, sn_cu_precision prec, int fusion) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_cu_program p;
    memset(&p, 0, sizeof p);
    sn_cu_options o = {prec};
    sn_build_opts bo = {.batch = 8, .with_loss = 0};
    if (sn_spec_load(path, NULL, 0, &spec, &st) ||
        (train ? sn_train_graph(&spec, 8, &g, &st)
               : (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st))) ||
        sn_fuse(&g, fusion, &gs, &st) || sn_cuda_lower(&g, &gs, &o, &p, &st)) {
        CHECK_MSG(0, "%s (%s, %s): %s", path, train ? "train" : "infer",
                  sn_cu_precision_names[prec], st.msg);
    } else {
        CHECK(p.nkernels > 0);
        collect(&p);
    }
    sn_cu_program_free(&p);
    sn_groups_free(&gs);
    sn_graph_free(&g);
    sn_spec_free(&spec);
}

static void lower_model(const char *path, int train, sn_cu_precision prec) {
    lower_model_fusion(path, train, prec, 1);
}

/* Ops the inference graphs and small training graphs of models/ lack (a direct encoder
 * with an input scale, spike deletion, threshold units, a soft-reset LIF with the sigmoid
 * surrogate and detached reset, training-mode dropout) and their gradients, in a small
 * hand-built graph. */
static void lower_synthetic(void) {
    sn_status st;
    sn_status_init(&st);
    sn_graph g;
    sn_graph_init(&g);
    g.batch = 2;
    g.T = 4;
    sn_strlcpy(g.model, "synthetic_snn", sizeof g.model);
    sn_shape xs = sn_shape4(2, 3, 6, 6), ts = sn_shape2(3, 5);
    sn_attrs a;
    memset(&a, 0, sizeof a);
    int x = sn_graph_add_tensor(&g, SN_T_INPUT, SN_F32, &xs, 1, "input", &st);
    int theta = sn_graph_add_tensor(&g, SN_T_BUFFER, SN_F32, &ts, 0, "layer.1.theta", &st);
    g.input = x;
    a.T = 4;
    a.input_scale = 4.0f;
    int s = sn_graph_add_node(&g, SN_OP_ENCODE_DIRECT, &x, 1, &a, "encoder", -1, NULL, &st);
    memset(&a, 0, sizeof a);
    a.neuron.model = SN_NEURON_LIF;
    a.neuron.tau = 2.0f;
    a.neuron.v_threshold = 1.0f;
    a.neuron.detach_reset = 1;
    a.neuron.surrogate = SN_SG_SIGMOID;
    a.neuron.alpha = 4.0f;
    int v = s >= 0 ? sn_graph_add_node(&g, SN_OP_NEURON, &s, 1, &a, "layer.0", 0, NULL, &st) : -1;
    memset(&a, 0, sizeof a);
    a.U = 5;
    int in2[2] = {s, theta};
    int c =
        v >= 0 ? sn_graph_add_node(&g, SN_OP_THRESHOLD, in2, 2, &a, "layer.1", 1, NULL, &st) : -1;
    a.p = 0.25f;
    a.stream = 7;
    int d = c >= 0
                ? sn_graph_add_node(&g, SN_OP_SPIKE_DROP, &c, 1, &a, "layer.1.noise", 1, NULL, &st)
                : -1;
    int in3[2] = {v, d};
    int sum = d >= 0 ? sn_graph_add_node(&g, SN_OP_ADD, in3, 2, &a, "sum", -1, NULL, &st) : -1;
    int m = sum >= 0 ? sn_graph_add_node(&g, SN_OP_TIME_MEAN, &sum, 1, &a, "readout", -1, NULL, &st)
                     : -1;
    int ds =
        m >= 0 ? sn_graph_add_node(&g, SN_OP_NEURON_BWD, (int[]){s, v}, 2,
                                   &g.nodes[g.tensors[v].producer].a, "layer.0.bwd", -1, NULL, &st)
               : -1;
    int dx = ds >= 0 ? sn_graph_add_node(&g, SN_OP_ENCODE_DIRECT_BWD, (int[]){ds, x}, 2, &a,
                                         "encoder.bwd", -1, NULL, &st)
                     : -1;
    memset(&a, 0, sizeof a);
    a.p = 0.5f;
    a.training = 1;
    a.stream = 11;
    int dr =
        dx >= 0 ? sn_graph_add_node(&g, SN_OP_DROPOUT, &m, 1, &a, "dropout", -1, NULL, &st) : -1;
    int drb =
        dr >= 0 ? sn_graph_add_node(&g, SN_OP_DROPOUT_BWD, &dr, 1, &a, "dropout.bwd", -1, NULL, &st)
                : -1;
    g.output = dr;
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_cu_program p;
    memset(&p, 0, sizeof p);
    sn_cu_options o = {SN_CU_FP32};
    if (drb < 0 || sn_graph_verify(&g, &st) || sn_fuse(&g, 1, &gs, &st) ||
        sn_cuda_lower(&g, &gs, &o, &p, &st))
        CHECK_MSG(0, "synthetic graph: %s", st.msg);
    else
        collect(&p);
    sn_cu_program_free(&p);
    sn_groups_free(&gs);
    sn_graph_free(&g);
}

/* Shapes the models lack: a strided 5x5 convolution, a 2x1 average pool fused into its
 * epilogue, a 3x3 pool too large to fuse (the conv writes full resolution, then a pool
 * kernel), an overlapping padded max pool, a bias-free conv, standalone batch norm in the
 * conv epilogue, evaluation dropout between linear layers. */
static const char odd_yaml[] = "name: odd_shapes\n"
                               "input: {channels: 3, height: 12, width: 12}\n"
                               "num_classes: 10\n"
                               "network:\n"
                               "  - features:\n"
                               "      - conv2d: {out_channels: 8, kernel_size: 5, stride: 2, "
                               "padding: 2}\n"
                               "      - batchnorm\n"
                               "      - relu\n"
                               "      - avgpool: {kernel_size: [2, 1]}\n"
                               "      - conv2d: {out_channels: 9, kernel_size: 3, padding: 1, "
                               "bias: false}\n"
                               "      - relu\n"
                               "      - maxpool: {kernel_size: 3}\n"
                               "      - maxpool: {kernel_size: 2, stride: 1, padding: 1}\n"
                               "  - classifier:\n"
                               "      - flatten\n"
                               "      - linear: {out_features: 20}\n"
                               "      - dropout: {p: 0.3}\n"
                               "      - linear: {out_features: 10}\n"
                               "data: {dataset: cifar10, path: .}\n"
                               "train: {optimizer: sgd, lr: 0.05, momentum: 0.9, nesterov: true, "
                               "batch_size: 4}\n";

static const char gated_yaml[] = "name: gated_pool\n"
                                 "input: {channels: 3, height: 6, width: 6}\n"
                                 "num_classes: 10\n"
                                 "snn: {T: 3, encoder: direct, readout: rate}\n"
                                 "network:\n"
                                 "  - features:\n"
                                 "      - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
                                 "      - if: {}\n"
                                 "      - maxpool: {kernel_size: 2, spike_gate: true}\n"
                                 "      - maxpool: {kernel_size: 3, stride: 1, padding: 1, "
                                 "spike_gate: true}\n"
                                 "  - classifier:\n"
                                 "      - flatten\n"
                                 "      - linear: {out_features: 10}\n"
                                 "data: {dataset: cifar10, path: .}\n";

static void lower_odd_shapes(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/odd_shapes.yaml", sn_test_tmpdir());
    sn_status st;
    sn_status_init(&st);
    if (sn_write_file_replace(path, odd_yaml, sizeof odd_yaml - 1, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    lower_model(path, 0, SN_CU_FP32);
    lower_model(path, 1, SN_CU_FP32);
    lower_model(path, 1, SN_CU_TF32);
    /* a spiking net with a gated spike max pool (rate conversion's pools) */
    snprintf(path, sizeof path, "%s/gated_pool.yaml", sn_test_tmpdir());
    if (sn_write_file_replace(path, gated_yaml, sizeof gated_yaml - 1, &st)) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    lower_model(path, 0, SN_CU_FP32);
}

static void test_every_model_every_kernel(void) {
    char *paths[256];
    int n = sn_test_models(paths, 256);
    /* every model's inference kernels; training steps and tensor-core convolutions of the
     * small models (the large ones add only more shapes of the same templates; set
     * SNNC_TEST_CUDA_ALL=1 for all of them, about 2.5 minutes on 2 cores without a cache) */
    const char *all_env = getenv("SNNC_TEST_CUDA_ALL");
    int everything = all_env && *all_env && strcmp(all_env, "0") != 0;
    for (int i = 0; i < n; i++) {
        const char *path = paths[i];
        int small = strstr(sn_test_basename(path), "mnist") != NULL;
        lower_model(path, 0, SN_CU_FP32);
        if (everything || small) lower_model(path, 1, SN_CU_FP32);
        if (everything || small) {
            lower_model_fusion(path, 0, SN_CU_FP32, 0); /* the unfused baseline: im2col + GEMM */
            lower_model(path, 0, SN_CU_TF32);
            lower_model(path, 0, SN_CU_BF16);
        }
        models_seen++;
        free(paths[i]);
    }
    CHECK(models_seen >= 5);
    lower_synthetic();
    lower_odd_shapes();
    /* under the sanitizers (SNNC_TEST_QUICK) one architecture exercises the same C code */
    const char *archs[] = {"sm_90", "sm_80"};
    for (int a = 0; a < (sn_test_quick() ? 1 : 2); a++) {
        sn_status st;
        sn_status_init(&st);
        sn_cuda_compile_stats cs;
        for (int i = 0; i < all.nkernels; i++) {
            free(all.kernels[i].ptx);
            free(all.kernels[i].cubin);
            all.kernels[i].ptx = all.kernels[i].cubin = NULL;
        }
        if (sn_cuda_compile(&all, archs[a], 0, &cs, &st)) {
            CHECK_MSG(0, "%s: %s", archs[a], st.msg);
            continue;
        }
        CHECK_EQ_INT(cs.kernels, all.nkernels);
        for (int i = 0; i < all.nkernels; i++) {
            const sn_cu_kernel *k = &all.kernels[i];
            CHECK_MSG(k->ptx_size > 0 && strstr((const char *)k->ptx, ".entry " CANON),
                      "%s: no entry point in the PTX", k->name);
            CHECK_MSG(k->cubin_size > 0, "%s: no cubin", k->name);
        }
        if (getenv("SNNC_TEST_VERBOSE"))
            for (int t = 0; t < ntemplates_seen; t++) {
                double sum = 0;
                int cnt = 0;
                for (int i = 0; i < all.nkernels; i++)
                    if (strcmp(all.kernels[i].tmpl, templates_seen[t]) == 0) {
                        sum += all.kernels[i].seconds;
                        cnt++;
                    }
                printf("  %-20s %4d kernels %7.2f s\n", templates_seen[t], cnt, sum);
            }
        printf("%s: %d kernels of %d models (%d distinct sources, %d templates) compiled by "
               "NVRTC %s in %.1f s (%d from the cache)\n",
               archs[a], total_kernels, models_seen, all.nkernels, ntemplates_seen,
               sn_nvrtc_version(), cs.seconds, cs.cached);
    }
    /* every kernel template is used by some model; every fragment (.cuh, pasted into
     * kernels) is in some kernel's source (its first line, which names it) */
    for (const sn_cu_template *t = sn_cu_templates; t->name; t++) {
        int used = 0;
        size_t nl = strlen(t->name);
        if (nl > 4 && strcmp(t->name + nl - 4, ".cuh") == 0) {
            char first[256];
            const char *eol = memchr(t->text, '\n', t->size);
            size_t fl = eol ? (size_t)(eol - t->text) : t->size;
            sn_fmt(first, sizeof first, "%.*s", (int)(fl < 255 ? fl : 255), t->text);
            for (int i = 0; i < all.nkernels && !used; i++)
                used = strstr(all.kernels[i].source, first) != NULL;
        } else {
            for (int i = 0; i < ntemplates_seen; i++)
                used |= strcmp(templates_seen[i], t->name) == 0;
        }
        CHECK_MSG(used, "template %s is not used by any model", t->name);
    }
    sn_cu_program_free(&all);
}

/* A compile error names the NVRTC call, this file:line, the kernel and the architecture,
 * and carries NVRTC's log. */
static void test_compile_error(void) {
    sn_status st;
    sn_status_init(&st);
    sn_nvrtc_out o;
    const char *src = "extern \"C\" __global__ void snk_broken(float *y) { y[0] = undefined_x; }\n";
    CHECK(sn_nvrtc_compile("snk_broken", src, "sm_80", &o, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "nvrtcCompileProgram");
    CHECK_CONTAINS(st.msg, "compiler/backends/cuda/nvrtc.c:");
    CHECK_CONTAINS(st.msg, "kernel snk_broken (sm_80)");
    CHECK_CONTAINS(st.msg, "NVRTC log:");
    CHECK_CONTAINS(st.msg, "snk_broken.cu(1): error");
    CHECK_CONTAINS(st.msg, "undefined_x");
    /* ptxas errors (inline PTX the architecture lacks) are reported the same way */
    sn_status_init(&st);
    const char *tc = "extern \"C\" __global__ void snk_tc(float *y) { unsigned r;\n"
                     "  asm(\"cvt.rna.tf32.f32 %0, %1;\" : \"=r\"(r) : \"f\"(y[0]));\n"
                     "  y[1] = __uint_as_float(r); }\n";
    CHECK(sn_nvrtc_compile("snk_tc", tc, "sm_75", &o, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "kernel snk_tc (sm_75)");
    CHECK_CONTAINS(st.msg, "ptxas");
    sn_status_init(&st);
    CHECK(sn_nvrtc_compile("snk_tc", tc, "sm_80", &o, &st) == SN_OK);
    sn_nvrtc_out_free(&o);
}

static void test_arch_check(void) {
    sn_status st;
    int cc, real;
    sn_status_init(&st);
    CHECK(sn_nvrtc_check_arch("sm_90", &cc, &real, &st) == SN_OK);
    CHECK(cc == 90 && real == 1);
    CHECK(sn_nvrtc_check_arch("compute_80", &cc, &real, &st) == SN_OK);
    CHECK(cc == 80 && real == 0);
    CHECK(sn_nvrtc_check_arch("sm_90a", &cc, &real, &st) == SN_OK);
    CHECK(sn_nvrtc_check_arch("90", &cc, &real, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "expected sm_NN");
    sn_status_init(&st);
    CHECK(sn_nvrtc_check_arch("sm_10", &cc, &real, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "does not support it (supported:");
    CHECK_CONTAINS(st.msg, "80");
}

static void test_template_slots(void) {
    sn_status st;
    sn_status_init(&st);
    sn_strbuf out;
    sn_sb_init(&out);
    sn_cu_slots s;
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", 10);
    sn_cu_slot_i64(&s, "T", 4);
    sn_cu_slot(&s, "KERNEL", "k");
    /* BODY missing */
    CHECK(sn_cu_render("time_reduce.cu", &s, &out, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "codegen-templates/time_reduce.cu:");
    CHECK_CONTAINS(st.msg, "slot {{BODY}} has no value");
    sn_status_init(&st);
    sn_cu_slot(&s, "BODY", "y[i] = x[i];");
    sn_cu_slot(&s, "EXTRA", "1");
    out.len = 0;
    CHECK(sn_cu_render("time_reduce.cu", &s, &out, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "no slot {{EXTRA}}");
    sn_cu_slots_free(&s);
    sn_status_init(&st);
    sn_cu_slots_init(&s);
    sn_cu_slot_i64(&s, "NUMEL", 10);
    sn_cu_slot_i64(&s, "T", 4);
    sn_cu_slot(&s, "BODY", "        y[i] = x[i];");
    out.len = 0;
    CHECK(sn_cu_render_kernel("time_reduce.cu", "snk_t", &s, &out, &st) == SN_OK);
    CHECK_CONTAINS(sn_sb_cstr(&out), "constexpr i64 NUMEL = 10;");
    CHECK_CONTAINS(sn_sb_cstr(&out), "__global__ void snk_t(");
    CHECK_CONTAINS(sn_sb_cstr(&out), "sn_rand_u01_key"); /* the prelude */
    CHECK(strstr(sn_sb_cstr(&out), "{{") == NULL);
    sn_cu_slots_free(&s);
    CHECK(sn_cu_render("nonexistent.cu", &s, &out, &st) == SN_ERR_RUNTIME);
    sn_sb_free(&out);
}

int main(void) {
    sn_status st;
    sn_status_init(&st);
    if (sn_nvrtc_load(&st)) {
        printf("SKIP: %s\n", st.msg);
        return 77;
    }
    RUN(test_template_slots);
    RUN(test_arch_check);
    RUN(test_compile_error);
    RUN(test_every_model_every_kernel);
    return sn_test_result();
}
