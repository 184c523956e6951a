/* snnc compile: ahead-of-time compilation of a model into a plan directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../ir/build.h"
#include "calib_int8.h"
#include "commands.h"
#include "session.h"
#ifdef SNNC_HAVE_LLVM
#include "../backends/llvm/aot.h"
#include "../deploy/artifact.h"
#endif
#ifdef SNNC_HAVE_CUDA
#include "../backends/cuda/cuda_backend.h"
#include "../backends/cuda/nvrtc.h"
#include "../passes/fusion.h"
#include "trainer.h"
#endif

static const sn_cmd compile_cmd = {
    .name = "compile",
    .usage = "MODEL.yaml -o DIR [options]\n"
             "       snnc compile MODEL.yaml --emit lib -o DIR [--weights W] [--batch N] [--cpu "
             "LIST]",
    .summary = "Compile a model ahead of time: a plan directory for 'snnc eval --plan', or a C "
               "library.",
    .details = "DIR receives the plan, every kernel's object code, LLVM IR and assembly;\n"
               "'snnc eval --plan DIR' then runs it without compiling.\n"
               "With --emit lib, DIR receives a C library for the model that any C program can\n"
               "link, with no snnc, LLVM or libyaml: NAME.h (the API and sizes), libNAME.a,\n"
               "libNAME.so (linked by the system C compiler: $SNNC_CC, $CC or cc), snnc_model.h\n"
               "and NAME.json (manifest); the weights are embedded unless --weights-file. The\n"
               "code is built for each CPU of --cpu (default x86-64-v3,host: a portable AVX2\n"
               "build and this machine's best), chosen at run time by cpuid. Spiking models\n"
               "run step-major, so NAME_step can stream one time step at a time.\n"
               "See docs/artifacts.md.\n"
               "With --target cuda, DIR receives cuda_plan.json (kernels, launch shapes, buffers)\n"
               "and kernels/NAME.cu, .ptx and .cubin for every kernel, compiled by NVRTC for\n"
               "--arch; no GPU or CUDA driver is needed.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"-o", "DIR", "output directory (created)", 0},
            {"--target", "TARGET",
             "cpu (default) or cuda (CUDA C compiled by NVRTC; no GPU needed)", 0},
            {"--arch", "ARCH",
             "cuda: GPU architecture, e.g. sm_80, sm_90 (default: this machine's GPU)", 0},
            {"--precision", "P",
             "fp32 (default); cpu: bf16 or int8 (post-training quantized convolutions, "
             "calibrated on --data; plans, not --emit lib); cuda: tf32 or bf16 (tensor cores, "
             "sm_80+)",
             0},
            {"--data", "DIR", "cpu int8: calibration dataset (default: data.path of the model)", 0},
            {"--calib", "N", "cpu int8: calibration images from the training split (default 512)",
             0},
            {"--percentile", "P", "cpu int8: activation scale percentile of |x| (default 99.99)",
             0},
            {"--mode", "infer|train", "cuda: the inference graph (default) or a training step", 0},
            {"--batch", "N", "batch size the plan is compiled for (default 64; 1 for --emit lib)",
             0},
            {"--fusion", "on|off", "fuse ops into kernels (default on)", 0},
            {"--emit", "plan|lib", "a plan directory (default) or a C library (cpu target)", 0},
            {"--weights", "FILE",
             "lib: the weights (safetensors) to build in (default: seeded); cpu int8: the "
             "weights the scales are calibrated with",
             0},
            {"--seed", "S", "lib: seed of the initial weights when no --weights (default 0)", 0},
            {"--name", "NAME", "lib: the C prefix of the API (default: the model's name)", 0},
            {"--cpu", "LIST",
             "lib: CPU variants, from host, x86-64, x86-64-v2, x86-64-v3, x86-64-v4 (default "
             "x86-64-v3,host)",
             0},
            {"--schedule", "auto|layer|step",
             "lib, spiking models: step-major (auto: streaming with NAME_step) or layer-major", 0},
            {"--weights-file", NULL, "lib: write DIR/NAME.weights instead of embedding them", 0},
            {"--conv", "auto|direct",
             "lib: convolution algorithm: the backend's choice (default) or direct only (no "
             "Winograd: less memory and a faster create, often faster at batch 1)",
             0},
            {"--shared", "on|off",
             "lib: also link libNAME.so with the system C compiler (default on)", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

/* --target cuda: every kernel rendered, compiled by NVRTC for --arch, written to dir. */
static int compile_cuda(const sn_args *a, const char *dir, int64_t batch, int fusion) {
    sn_status st;
    sn_status_init(&st);
#ifdef SNNC_HAVE_CUDA
    static const char *const modes[] = {"infer", "train", NULL};
    int prec = 0, mode = 0;
    if (sn_args_choice(a, "--precision", sn_cu_precision_names, 0, &prec, &st) ||
        sn_args_choice(a, "--mode", modes, 0, &mode, &st))
        return sn_report("compile", &st);
    char arch[32];
    const char *given = sn_args_str(a, "--arch", NULL);
    if (given) {
        sn_strlcpy(arch, given, sizeof arch);
    } else if (sn_cuda_device_arch(arch, sizeof arch, &st)) {
        sn_status_context(&st, "give --arch (e.g. --arch sm_90) to compile without a GPU");
        return sn_report("compile", &st);
    }
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_cu_program prog;
    memset(&prog, 0, sizeof prog);
    double t0 = sn_now();
    if (sn_session_spec(a, &spec, &st)) goto done;
    if (mode == 1) {
        if (sn_train_graph(&spec, batch, &g, &st)) goto done;
    } else {
        sn_build_opts bo = {.batch = batch, .with_loss = 0};
        if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    }
    sn_cu_options co = {(sn_cu_precision)prec};
    sn_cuda_compile_stats cs;
    if (sn_fuse(&g, fusion, &gs, &st) || sn_cuda_lower(&g, &gs, &co, &prog, &st) ||
        sn_cuda_compile(&prog, arch, 0, &cs, &st) || sn_cuda_write(&prog, arch, dir, &st))
        goto done;
    int launches = 0, gemms = 0, prep = 0;
    for (int i = 0; i < prog.nsteps; i++) {
        launches += prog.steps[i].kind == SN_CU_LAUNCH;
        gemms += prog.steps[i].kind == SN_CU_SGEMM;
        prep += prog.steps[i].prep;
    }
    printf("compiled %s for %s (%s, batch %lld, fusion %s, %s) in %.2f s\n", spec.name, arch,
           mode ? "training step" : "inference", (long long)batch, fusion ? "on" : "off",
           sn_cu_precision_names[prec], sn_now() - t0);
    printf("  %d kernels (%d from the cache) compiled by NVRTC %s in %.2f s\n", cs.kernels,
           cs.cached, sn_nvrtc_version(), cs.seconds);
    printf("  %d steps: %d kernel launches, %d cuBLAS GEMMs (%d run once, at weight binding)\n",
           prog.nsteps, launches, gemms, prep);
    printf("  PTX %.1f KiB, cubin %.1f KiB\n", (double)cs.ptx_bytes / 1024.0,
           (double)cs.cubin_bytes / 1024.0);
    printf("  wrote %s/cuda_plan.json, %s/kernels/*.{cu,ptx%s}\n", dir, dir,
           cs.cubin_bytes ? ",cubin" : "");
done:
    sn_cu_program_free(&prog);
    sn_groups_free(&gs);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return sn_report("compile", &st);
#else
    (void)a;
    (void)dir;
    (void)batch;
    (void)fusion;
    sn_fail(&st, SN_ERR_INPUT,
            "this snnc was built without the CUDA backend (no CUDA toolkit headers at build time)");
    return sn_report("compile", &st);
#endif
}

#ifdef SNNC_HAVE_LLVM
/* The stage being worked on, redrawn in place on a terminal. */
static void lib_progress(void *arg, const char *stage) {
    (void)arg;
    if (!sn_stderr_is_tty()) return;
    if (stage)
        fprintf(stderr, "\r\033[Kcompile: %s", stage);
    else
        fputs("\r\033[K", stderr);
    fflush(stderr);
}
#endif

/* --emit lib: a C library for the model (compiler/deploy/artifact.h). */
static int compile_lib(const sn_args *a, const char *dir, int fusion) {
    sn_status st;
    sn_status_init(&st);
#ifdef SNNC_HAVE_LLVM
    static const char *const onoff[] = {"on", "off", NULL};
    int64_t batch, seed;
    static const char *const convs[] = {"auto", "direct", NULL};
    int schedule = 0, shared = 0, conv = 0;
    if (sn_args_int(a, "--batch", 1, 1, 1 << 16, &batch, &st) ||
        sn_args_int(a, "--seed", 0, 0, INT64_MAX, &seed, &st) ||
        sn_args_choice(a, "--schedule", sn_schedule_names, 0, &schedule, &st) ||
        sn_args_choice(a, "--shared", onoff, 0, &shared, &st) ||
        sn_args_choice(a, "--conv", convs, 0, &conv, &st))
        return sn_report("compile", &st);
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_weights w;
    memset(&w, 0, sizeof w);
    const char *wpath = sn_args_str(a, "--weights", NULL);
    if (sn_session_spec(a, &spec, &st)) goto done;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(&spec, &bo, &g, &st) ||
        sn_session_weights(&g, &spec, wpath, (uint64_t)seed, &w, &st))
        goto done;
    if (!wpath)
        fprintf(stderr,
                "note: no --weights given: the library holds seeded initial weights "
                "(seed %lld)\n",
                (long long)seed);
    sn_artifact_opts o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.name = sn_args_str(a, "--name", NULL);
    o.cpus = sn_args_str(a, "--cpu", NULL);
    o.batch = batch;
    o.fusion = fusion;
    o.schedule = schedule;
    o.direct_conv = conv == 1;
    o.weights_file = sn_args_has(a, "--weights-file");
    o.shared = shared == 0;
    sn_session_eval_transform(&spec, &o.tf);
    o.progress = lib_progress;
    sn_artifact_report r;
    sn_code c = sn_artifact_write(&spec, &w, &o, &r, &st);
    lib_progress(NULL, NULL);
    if (c) goto done;
    printf("compiled %s into the C library %s (batch %lld, fusion %s%s) in %.2f s\n", spec.name,
           r.name, (long long)batch, fusion ? "on" : "off",
           r.step_major ? ", step-major: streaming" : "", r.seconds);
    for (int i = 0; i < r.nvariants; i++) printf("  variant %s\n", r.variants[i]);
    printf("  weights %.1f MiB (%s), code %.1f KiB\n", (double)r.weight_bytes / 1048576.0,
           o.weights_file ? "in a separate file" : "embedded", (double)r.code_bytes / 1024.0);
    printf("  wrote %s/%s.h, %s/lib%s.a (%.1f MiB)", dir, r.name, dir, r.name,
           (double)r.static_bytes / 1048576.0);
    if (o.shared)
        printf(", %s/lib%s.so (%.1f MiB)", dir, r.name, (double)r.shared_bytes / 1048576.0);
    if (o.weights_file) printf(", %s/%s.weights", dir, r.name);
    printf(", %s/%s.json, %s/snnc_model.h\n", dir, r.name, dir);
done:
    sn_weights_free(&w);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return sn_report("compile", &st);
#else
    (void)a;
    (void)dir;
    (void)fusion;
    sn_fail(&st, SN_ERR_INPUT, "this snnc was built without LLVM: it cannot build C libraries");
    return sn_report("compile", &st);
#endif
}

/* Fails st naming the first of the n flags given, which apply to `where` only. */
static sn_code refuse_flags(const sn_args *a, const char *const *flags, size_t n, const char *where,
                            sn_status *st) {
    for (size_t i = 0; i < n; i++)
        if (sn_args_has(a, flags[i]))
            return sn_fail(st, SN_ERR_INPUT, "%s applies to %s only", flags[i], where);
    return SN_OK;
}

static int run_compile(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    static const char *const emits[] = {"plan", "lib", NULL};
    const char *dir = sn_args_str(a, "-o", NULL);
    int64_t batch;
    sn_target target;
    int fusion, emit = 0;
    if (!dir) sn_fail(&st, SN_ERR_INPUT, "missing -o DIR (where to write the compiled plan)");
    if (st.code || sn_args_choice(a, "--emit", emits, 0, &emit, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        return sn_report("compile", &st);
    if (emit == 1) {
        if (target != SN_TARGET_CPU) {
            sn_fail(&st, SN_ERR_INPUT, "--emit lib builds CPU code: --target %s does not apply",
                    sn_target_names[target]);
            return sn_report("compile", &st);
        }
        /* the library's kernels and packing are fp32: say so rather than ignore the flags */
        if (sn_session_precision_index() != 0) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--precision %s does not apply to --emit lib: C libraries compute in fp32 "
                    "(reduced precision runs from a plan directory: snnc compile --precision, "
                    "then snnc eval --plan)",
                    sn_precision_names[sn_session_precision_index()]);
            return sn_report("compile", &st);
        }
        static const char *const int8_only[] = {"--data", "--calib", "--percentile"};
        if (refuse_flags(a, int8_only, sizeof int8_only / sizeof *int8_only,
                         "--precision int8 plans", &st))
            return sn_report("compile", &st);
        return compile_lib(a, dir, fusion);
    }
    /* (--weights also serves int8 plans: the weights their scales are calibrated with) */
    static const char *const lib_only[] = {"--seed",     "--name",         "--cpu",
                                           "--schedule", "--weights-file", "--shared"};
    if (refuse_flags(a, lib_only, sizeof lib_only / sizeof *lib_only, "--emit lib", &st))
        return sn_report("compile", &st);
    if (sn_args_int(a, "--batch", 64, 1, 1 << 16, &batch, &st)) return sn_report("compile", &st);
    if (target == SN_TARGET_CUDA) return compile_cuda(a, dir, batch, fusion);
    if (target != SN_TARGET_CPU) {
        sn_fail(&st, SN_ERR_INPUT, "--target %s cannot be compiled ahead of time (use cpu)",
                sn_target_names[target]);
        return sn_report("compile", &st);
    }
#ifdef SNNC_HAVE_LLVM
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_plan plan;
    sn_plan_init(&plan);
    sn_backend be;
    memset(&be, 0, sizeof be);
    sn_param_desc *descs = NULL;
    struct sn_act_quant *aq = NULL;
    sn_weights w;
    memset(&w, 0, sizeof w);
    sn_strbuf yaml;
    sn_sb_init(&yaml);
    double t0 = sn_now();
    if (sn_session_spec(a, &spec, &st)) goto done;
    sn_build_opts bo = {.batch = batch, .with_loss = 0};
    if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    if (sn_session_precision_index() == 3) { /* int8: scales measured with the weights */
        const char *wpath = sn_args_str(a, "--weights", NULL);
        if (!wpath) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--precision int8 calibrates with the weights: give --weights W.safetensors");
            goto done;
        }
        if (sn_session_weights(&g, &spec, wpath, 0, &w, &st) ||
            sn_session_int8(a, target, &spec, &w, 0, &aq, &st))
            goto done;
    }
    if (sn_session_lower(&g, target, fusion, 1, &plan, &be, &st)) goto done;
    int nd = sn_graph_param_descs(&g, &descs);
    if (nd < 0) {
        sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    sn_spec_print_yaml(&spec, &yaml);
    if (sn_aot_write(dir, &plan, be.art, descs, nd, sn_sb_cstr(&yaml), be.jit, &st)) goto done;
    printf("compiled %s for %s (%s, batch %lld, fusion %s) in %.2f s\n", spec.name,
           sn_jit_cpu_name(be.jit), sn_jit_isa_name(sn_jit_isa(be.jit)), (long long)batch,
           fusion ? "on" : "off", sn_now() - t0);
    printf("  %d kernels, %d steps, %d preparation steps\n", be.art->n, plan.nsteps, plan.nprep);
    printf("  arena %.1f MiB (%.1f MiB without buffer reuse)\n",
           (double)plan.arena_bytes / 1048576.0, (double)plan.naive_bytes / 1048576.0);
    printf("  wrote %s/plan.json, %s/model.yaml, %s/kernels/*.{o,ll,s}\n", dir, dir, dir);
done:
    sn_sb_free(&yaml);
    free(aq);
    sn_weights_free(&w);
    free(descs);
    sn_plan_free(&plan);
    sn_backend_free(&be);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return sn_report("compile", &st);
#else
    (void)dir;
    sn_fail(&st, SN_ERR_INPUT,
            "this snnc was built without LLVM: nothing to compile for the cpu target");
    return sn_report("compile", &st);
#endif
}

const sn_command sn_cmd_compile = {&compile_cmd, run_compile};
