/* snnc bench: per-kernel timing of a compiled model, fused against unfused and (cpu) at
 * several precisions side by side, with the JIT compile time (cold and from the cache) and
 * the machine's measured peaks (fp32 FMA; vdpbf16ps and vpdpbusd where the CPU has them). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/core/rng.h"
#include "../../runtime/core/util.h"
#include "../ir/build.h"
#include "../passes/fusion.h"
#include "calib_int8.h"
#include "commands.h"
#include "session.h"
#include "trainer.h"
#ifdef SNNC_HAVE_LLVM
#include "../backends/llvm/kernels.h"
#endif

static const sn_cmd bench_cmd = {
    .name = "bench",
    .usage = "MODEL.yaml [options]",
    .summary = "Time a model kernel by kernel and per fusion mode, and its JIT compile time.",
    .details =
        "Reports ms per batch, GFLOP/s and share of the CPU's measured fp32 peak for every\n"
        "kernel, images/s for each fusion mode, the gain of fusion per fused group, and the\n"
        "JIT compile time cold and from the cache. With --target cuda every kernel launch\n"
        "and cuBLAS GEMM is a row, timed on the device with CUDA events.\n"
        "The peak is measured on this machine with a JIT-compiled FMA loop on all threads\n"
        "(and, where the CPU has them, vdpbf16ps and vpdpbusd loops: bf16 and int8 peaks).\n"
        "--precision fp32,bf16,int8 times the precisions in the same interleaved rounds.\n"
        "GFLOP/s and peak% count the arithmetic a kernel executes; direct-eq counts the\n"
        "2 x MACs of the layer it computes (Winograd kernels execute fewer multiplies).\n"
        "bench/ has the scripts that run PyTorch on the same network in the same run.",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--target", "TARGET", "cpu (default), ref or cuda", 0},
            {"--precision", "P[,P...]",
             "fp32 (default); cpu: bf16 or int8 (post-training quantized convolutions, "
             "calibrated on random images), or a list timed side by side; cuda: tf32 or bf16 "
             "(tensor cores)",
             0},
            {"--calib", "N", "int8: random calibration images (default 512)", 0},
            {"--mode", "MODE",
             "infer (default: a forward pass) or train (a full optimizer step of the model's "
             "recipe: forward in training mode, loss, backward, update, weight repacking)",
             0},
            {"--batch", "N", "batch size (default 64)", 0},
            {"--fusion", "MODE", "on, off or both (default both)", 0},
            {"--iters", "N", "timed batches per mode (default: enough for ~2 s, at least 5)", 0},
            {"--threads", "N", "worker threads (default: all cores)", 0},
            {"--json", NULL, "print the results as one JSON object", 0},
            {"--set", "KEY=VALUE", "override a YAML field", 1},
        },
};

#define MAX_PREC 3
#define MAX_CONF (2 * MAX_PREC) /* precisions x fusion on / off */

typedef struct mode_result {
    int fusion;
    int precision; /* index into sn_precision_names */
    double compile_cold, compile_cached;
    double sec_per_batch;
    int nsteps;
    char (*names)[SN_PLAN_NAME_MAX];
    char (*kernels)[SN_PLAN_NAME_MAX];
    double *ms;
    int64_t *flops; /* executed */
    int64_t *macs;  /* of the ops the kernel stands for (direct convolution) */
} mode_result;

static void mode_free(mode_result *m) {
    free(m->names);
    free(m->kernels);
    free(m->ms);
    free(m->flops);
    free(m->macs);
}

/* Lowers with the cache in a fresh directory (cold), then again from it (cached). */
static sn_code compile_twice(const sn_graph *g, sn_target target, int fusion, sn_plan *plan,
                             sn_backend *be, mode_result *m, sn_status *st) {
    char tmpl[] = "/tmp/snnc-bench-cache-XXXXXX";
    const char *old = getenv("SNNC_CACHE_DIR");
    char *saved = old ? sn_strdup(old) : NULL;
    char *dir = mkdtemp(tmpl);
    if (dir) setenv("SNNC_CACHE_DIR", dir, 1);
    double t0 = sn_now();
    sn_code c = sn_session_lower(g, target, fusion, 0, plan, be, st);
    m->compile_cold = sn_now() - t0;
    if (c == SN_OK) {
        sn_plan_free(plan);
        sn_backend_free(be);
        t0 = sn_now();
        c = sn_session_lower(g, target, fusion, 0, plan, be, st);
        m->compile_cached = sn_now() - t0;
    }
    if (saved)
        setenv("SNNC_CACHE_DIR", saved, 1);
    else
        unsetenv("SNNC_CACHE_DIR");
    free(saved);
    if (dir) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) { /* a leftover temporary directory is harmless */
        }
    }
    return c;
}

#ifdef SNNC_HAVE_LLVM
typedef struct peak_probe {
    sn_cpu_fn fn;
    sn_kctx *ctx;
    void *ptrs[1];
} peak_probe;

static void peak_range(void *arg, int64_t lo, int64_t hi) {
    peak_probe *p = arg;
    p->fn(p->ctx, NULL, p->ptrs, lo, hi);
}

/* A peak of the machine, measured: a JIT-compiled loop of independent FMAs (or vdpbf16ps,
 * vpdpbusd: 16 lanes) on every thread of the pool (the best of three runs), in G operations
 * per second (2 per multiply-add). */
static double measure_peak(sn_pool *pool, sn_peak_kind kind, sn_status *st) {
    sn_jit *jit;
    if (sn_jit_create(&jit, st)) return 0;
    const int64_t iters = kind == SN_PEAK_FMA ? 20000000 : 4000000;
    int vl = kind == SN_PEAK_FMA ? sn_jit_vector_width(jit) : 16;
    double per_lane = kind == SN_PEAK_FMA ? 2.0 : kind == SN_PEAK_VDPBF16PS ? 4.0 : 8.0;
    if ((kind == SN_PEAK_VDPBF16PS && !sn_jit_bf16(jit)) ||
        (kind == SN_PEAK_VPDPBUSD && !sn_jit_vnni(jit))) {
        sn_jit_destroy(jit);
        return 0;
    }
    sn_irb k;
    irb_begin(&k, jit, "snnc_peak_probe", vl);
    sn_gen_peak_kind(&k, iters, kind);
    irb_end(&k);
    double peak = 0;
    int n = sn_pool_size(pool);
    float *out = sn_aligned_alloc((size_t)n * 64 * sizeof(float));
    if (out &&
        sn_jit_compile(jit, k.mod, k.ctx, "snnc_peak_probe", NULL, NULL, NULL, st) == SN_OK) {
        sn_kctx ctx;
        memset(&ctx, 0, sizeof ctx);
        peak_probe pr = {(sn_cpu_fn)sn_jit_lookup(jit, "snnc_peak_probe", st), &ctx, {out}};
        for (int rep = 0; pr.fn && rep < 3; rep++) {
            double t0 = sn_now();
            sn_pool_for(pool, n, 1, peak_range, &pr);
            double gf = (double)n * (double)iters * 12.0 * vl * per_lane / (sn_now() - t0) / 1e9;
            if (gf > peak) peak = gf;
        }
    }
    sn_aligned_free(out);
    sn_jit_destroy(jit);
    return peak;
}
#endif

/* One timed batch: a forward pass, or (train) a whole optimizer step, which starts by
 * repacking the weights the last step changed. Returns the seconds spent repacking. */
static double bench_batch(sn_plan *plan, sn_pool *pool, uint64_t seed, int train, sn_status *st) {
    double prep = 0;
    if (train) {
        plan->step++;
        double t0 = sn_now();
        if (sn_plan_prepare(plan, pool, st)) return 0;
        prep = sn_now() - t0;
    }
    sn_plan_run(plan, pool, seed, train, st);
    return prep;
}

/* Whether a step belongs to a group/node: its name, or its name followed by " (part)". */
static int step_of(const char *step, const char *name) {
    size_t n = strlen(name);
    return strncmp(step, name, n) == 0 && (step[n] == '\0' || step[n] == ' ');
}

static int run_bench(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    int64_t batch, iters, threads;
    sn_target target;
    static const char *const fmodes[] = {"on", "off", "both", NULL};
    static const char *const modes[] = {"infer", "train", NULL};
    int fm = 2, mode = 0;
    if (sn_args_int(a, "--batch", 64, 1, 1 << 16, &batch, &st) ||
        sn_args_int(a, "--iters", 0, 0, 1 << 20, &iters, &st) ||
        sn_args_int(a, "--threads", 0, 0, 1024, &threads, &st) ||
        sn_args_choice(a, "--fusion", fmodes, 2, &fm, &st) ||
        sn_args_choice(a, "--mode", modes, 0, &mode, &st))
        return sn_report("bench", &st);
    /* --precision: one, or a comma list timed side by side */
    int precs[MAX_PREC], nprec = 0;
    {
        /* --target only (--fusion is handled above with its extra 'both') */
        int t = 0;
        if (sn_args_choice(a, "--target", sn_target_names, 0, &t, &st))
            return sn_report("bench", &st);
        target = (sn_target)t;
        const char *pl = sn_args_str(a, "--precision", "fp32");
        char item[32];
        for (const char *p = pl; *p && !st.code;) {
            size_t n = strcspn(p, ",");
            int k = -1;
            if (n < sizeof item) {
                memcpy(item, p, n);
                item[n] = '\0';
                for (int i = 0; sn_precision_names[i]; i++)
                    if (strcmp(item, sn_precision_names[i]) == 0) k = i;
            }
            if (k < 0)
                sn_fail(&st, SN_ERR_INPUT,
                        "--precision %s: expected fp32, tf32, bf16 or int8, or a comma list of "
                        "them",
                        pl);
            else if (nprec == MAX_PREC)
                sn_fail(&st, SN_ERR_INPUT, "--precision %s: at most %d precisions", pl, MAX_PREC);
            else if (sn_session_use_precision(k, target, &st) == SN_OK)
                precs[nprec++] = k;
            p += n + (p[n] == ',');
        }
        if (st.code) return sn_report("bench", &st);
    }
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_pool *pool = NULL;
    mode_result res[MAX_CONF];
    memset(res, 0, sizeof res);
    int nres = 0;
    double peak = 0, peak_bf16 = 0, peak_int8 = 0;
    char isa[32] = "";
    int train = mode == 1;
    struct sn_act_quant *aq = NULL;
    if (sn_session_spec(a, &spec, &st)) goto done;
    if (train) {
        if (sn_train_graph(&spec, batch, &g, &st)) goto done;
    } else {
        sn_build_opts bo = {.batch = batch, .with_loss = 0};
        if (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st)) goto done;
    }
    pool = sn_pool_create((int)threads);
    if (!pool) {
        sn_fail(&st, SN_ERR_RUNTIME, "cannot start worker threads");
        goto done;
    }
    for (int i = 0; i < nprec; i++) {
        if (precs[i] != 3) continue;
        if (train) {
            sn_fail(&st, SN_ERR_INPUT,
                    "--precision int8 is post-training quantization for inference: bench it "
                    "with --mode infer");
            goto done;
        }
        /* int8: scales for the seeded weights */
        sn_weights w0;
        if (sn_session_use_precision(3, target, &st) ||
            sn_session_weights(&g, &spec, NULL, 1, &w0, &st))
            goto done;
        sn_session_int8(a, target, &spec, &w0, 1, &aq, &st);
        sn_weights_free(&w0);
        if (st.code) goto done;
    }
#ifdef SNNC_HAVE_LLVM
    if (target == SN_TARGET_CPU) {
        sn_jit *lj;
        if (sn_jit_create(&lj, &st)) goto done;
        sn_strlcpy(isa, sn_jit_level_name(sn_jit_level(lj)), sizeof isa);
        sn_jit_destroy(lj);
        if (!sn_args_has(a, "--json")) fprintf(stderr, "measuring the peaks...\n");
        peak = measure_peak(pool, SN_PEAK_FMA, &st);
        if (!st.code) peak_bf16 = measure_peak(pool, SN_PEAK_VDPBF16PS, &st);
        if (!st.code) peak_int8 = measure_peak(pool, SN_PEAK_VPDPBUSD, &st);
        if (st.code) goto done;
    }
#endif
    /* compile and bind every mode first, then time them in interleaved rounds and keep each
     * mode's best round: the machine's background noise affects all modes alike */
    sn_plan plans[MAX_CONF];
    sn_backend bes[MAX_CONF];
    sn_weights ws[MAX_CONF][3];
    memset(plans, 0, sizeof plans);
    memset(bes, 0, sizeof bes);
    memset(ws, 0, sizeof ws);
    for (int c = 0; c < 2 * nprec; c++) {
        int fusion = c % 2 == 0, prec = precs[c / 2];
        if ((fm == 0 && !fusion) || (fm == 1 && fusion)) continue;
        mode_result *m = &res[nres];
        sn_plan *plan = &plans[nres];
        sn_plan_init(plan);
        nres++;
        m->fusion = fusion;
        m->precision = prec;
        if (sn_session_use_precision(prec, target, &st)) goto timing_done;
        if (!sn_args_has(a, "--json"))
            fprintf(stderr, "compiling (%s, fusion %s)...\n", sn_precision_names[prec],
                    fusion ? "on" : "off");
        sn_weights *w = ws[nres - 1];
        const char *slot_names[2];
        int nslots = 0;
        if (compile_twice(&g, target, fusion, plan, &bes[nres - 1], m, &st) ||
            sn_session_weights(&g, &spec, NULL, 1, &w[0], &st) ||
            (train && sn_optimizer_stores(&g, &spec, &w[1], slot_names, &nslots, &st)))
            goto timing_done;
        sn_weights *stores[3] = {&w[0], &w[1], &w[2]};
        if (sn_plan_bind_stores(plan, stores, 1 + nslots, &st) ||
            sn_plan_enable_profiling(plan, &st))
            goto timing_done;
        sn_rng r;
        sn_rng_seed(&r, 3);
        float *x = sn_plan_f32(plan, plan->in_buf);
        int64_t nx = sn_shape_numel(&plan->bufs[plan->in_buf].shape);
        for (int64_t i = 0; i < nx; i++) x[i] = sn_rng_uniform(&r);
        if (train) { /* random labels; the recipe's learning rate */
            int32_t *y = plan->bufs[plan->label_buf].ptr;
            for (int64_t i = 0; i < batch; i++)
                y[i] = (int32_t)(sn_rng_next(&r) % (uint64_t)spec.num_classes);
            plan->lr = spec.train.lr;
        }
        for (int i = 0; i < 2 && !st.code; i++) bench_batch(plan, pool, (uint64_t)i, train, &st);
        if (st.code) goto timing_done;
        /* rows: the plan's steps, or a device program's steps timed on the device */
        const sn_dev_step *dev = NULL;
        int ndev = plan->dev_steps ? plan->dev_steps(plan, &dev) : 0;
        int rows = dev ? ndev : plan->nsteps;
        m->nsteps = rows;
        m->names = calloc((size_t)rows + 1, sizeof *m->names);
        m->kernels = calloc((size_t)rows + 1, sizeof *m->kernels);
        m->ms = calloc((size_t)rows + 1, sizeof *m->ms);
        m->flops = calloc((size_t)rows + 1, sizeof *m->flops);
        m->macs = calloc((size_t)rows + 1, sizeof *m->macs);
        if (!m->names || !m->kernels || !m->ms || !m->flops || !m->macs) {
            sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
            goto timing_done;
        }
        for (int s = 0; s < rows; s++) {
            if (dev) { /* "features.0 (im2col)": a group may take several device steps */
                char kind[64];
                sn_strlcpy(kind, dev[s].kernel, sizeof kind);
                char *dot = strstr(kind, ".cu");
                if (dot) *dot = 0;
                sn_fmt(m->names[s], SN_PLAN_NAME_MAX, "%s (%s)", dev[s].name, kind);
            } else {
                sn_strlcpy(m->names[s], plan->steps[s].name, SN_PLAN_NAME_MAX);
            }
            sn_strlcpy(m->kernels[s], dev ? dev[s].kernel : plan->steps[s].kernel,
                       SN_PLAN_NAME_MAX);
            m->macs[s] = dev ? dev[s].macs : plan->steps[s].macs;
            m->flops[s] = dev ? 2 * dev[s].macs : plan->steps[s].flops;
        }
        if (train) { /* the repacking that starts every step, as one more row */
            strcpy(m->names[rows],
                   dev ? "(prepare: weights to the device)" : "(prepare: repack changed weights)");
            strcpy(m->kernels[rows], "prepare");
            m->nsteps++;
        }
    }
    {
        /* batches per round: about 0.4 s each (or --iters split over the rounds) */
        const int rounds = iters > 0 ? 1 : 5;
        int64_t per_round[MAX_CONF];
        for (int i = 0; i < MAX_CONF; i++) per_round[i] = 1;
        for (int i = 0; i < nres && !st.code; i++) {
            if (iters > 0) {
                per_round[i] = iters;
                continue;
            }
            double t0 = sn_now();
            bench_batch(&plans[i], pool, 7, train, &st);
            double one = sn_now() - t0;
            per_round[i] = one > 0 ? (int64_t)(0.4 / one) + 1 : 1;
            if (per_round[i] > 200) per_round[i] = 200;
        }
        for (int i = 0; i < nres; i++) res[i].sec_per_batch = 1e30;
        for (int rd = 0; rd < rounds && !st.code; rd++)
            for (int i = 0; i < nres && !st.code; i++) {
                sn_plan *plan = &plans[i];
                memset(plan->step_seconds, 0, sizeof(double) * (size_t)plan->nsteps);
                /* device-timed rows accumulate over runs: this round is the difference */
                const sn_dev_step *dev = NULL;
                int ndev = plan->dev_steps ? plan->dev_steps(plan, &dev) : 0;
                double *before = calloc((size_t)ndev + 1, sizeof(double));
                if (!before) {
                    sn_fail(&st, SN_ERR_RUNTIME, "out of memory");
                    break;
                }
                for (int s = 0; s < ndev; s++) before[s] = dev[s].ms;
                double t0 = sn_now(), prep = 0;
                for (int64_t k = 0; k < per_round[i] && !st.code; k++)
                    prep += bench_batch(plan, pool, (uint64_t)(rd * 1000 + k), train, &st);
                double spb = (sn_now() - t0) / (double)per_round[i];
                if (spb < res[i].sec_per_batch) {
                    res[i].sec_per_batch = spb;
                    int rows = dev ? ndev : plan->nsteps;
                    for (int s = 0; s < rows; s++)
                        res[i].ms[s] = dev ? (dev[s].ms - before[s]) / (double)per_round[i]
                                           : 1000.0 * plan->step_seconds[s] / (double)per_round[i];
                    if (train) res[i].ms[rows] = 1000.0 * prep / (double)per_round[i];
                }
                free(before);
            }
    }
timing_done:
    for (int i = 0; i < MAX_CONF; i++) {
        sn_plan_free(&plans[i]);
        sn_backend_free(&bes[i]);
        for (int k = 0; k < 3; k++) sn_weights_free(&ws[i][k]);
    }
    if (st.code) goto done;
    if (sn_args_has(a, "--json")) {
        sn_strbuf o;
        sn_sb_init(&o);
        sn_sb_puts(&o, "{\"model\": ");
        sn_sb_json_str(&o, spec.name);
        sn_sb_printf(&o,
                     ", \"batch\": %lld, \"threads\": %d, \"target\": \"%s\", \"mode\": \"%s\", "
                     "\"peak_gflops\": %.2f, \"peak_bf16_gflops\": %.2f, \"peak_int8_gops\": %.2f, "
                     "\"isa\": \"%s\", \"results\": [",
                     (long long)batch, sn_pool_size(pool), sn_target_names[target], modes[mode],
                     peak, peak_bf16, peak_int8, isa);
        for (int i = 0; i < nres; i++) {
            mode_result *m = &res[i];
            sn_sb_printf(
                &o,
                "%s\n  {\"fusion\": \"%s\", \"precision\": \"%s\", \"images_per_second\": %.2f, "
                "\"ms_per_batch\": %.3f, \"compile_cold_s\": %.4f, \"compile_cached_s\": %.4f, "
                "\"kernels\": [",
                i ? "," : "", m->fusion ? "on" : "off", sn_precision_names[m->precision],
                (double)batch / m->sec_per_batch, 1000.0 * m->sec_per_batch, m->compile_cold,
                m->compile_cached);
            for (int s = 0; s < m->nsteps; s++) {
                double gf = m->ms[s] > 0 ? (double)m->flops[s] / (m->ms[s] * 1e6) : 0.0;
                sn_sb_printf(&o, "%s\n    {\"name\": ", s ? "," : "");
                sn_sb_json_str(&o, m->names[s]);
                sn_sb_puts(&o, ", \"kernel\": ");
                sn_sb_json_str(&o, m->kernels[s]);
                double eq = m->ms[s] > 0 ? 2.0 * (double)m->macs[s] / (m->ms[s] * 1e6) : 0.0;
                sn_sb_printf(
                    &o,
                    ", \"ms\": %.4f, \"gflops\": %.2f, \"direct_equivalent_gflops\": %.2f, "
                    "\"peak_share\": %.4f}",
                    m->ms[s], gf, eq, peak > 0 ? gf / peak : 0.0);
            }
            sn_sb_puts(&o, "]}");
        }
        sn_sb_puts(&o, "\n]}\n");
        fputs(sn_sb_cstr(&o), stdout);
        sn_sb_free(&o);
    } else {
        printf("%s: batch %lld, %d threads, target %s, mode %s", spec.name, (long long)batch,
               sn_pool_size(pool), sn_target_names[target], modes[mode]);
        if (peak > 0) printf(", fp32 peak %.1f GFLOP/s (measured)", peak);
        printf("\n");
        if (target == SN_TARGET_CPU)
            printf("instruction set %s; peaks measured: fp32 FMA %.1f GFLOP/s, vdpbf16ps %.1f "
                   "GFLOP/s, vpdpbusd %.1f GOP/s (0: not on this CPU)\n",
                   isa, peak, peak_bf16, peak_int8);
        for (int i = 0; i < nres; i++) {
            mode_result *m = &res[i];
            printf("\n%s%sfusion %s: %d kernels, compile %.3f s cold, %.3f s cached\n",
                   nprec > 1 || m->precision ? sn_precision_names[m->precision] : "",
                   nprec > 1 || m->precision ? ", " : "", m->fusion ? "on" : "off", m->nsteps,
                   m->compile_cold, m->compile_cached);
            printf("  %-40s %10s %10s %7s %10s %7s\n", "kernel", "ms/batch", "GFLOP/s", "peak%",
                   "direct-eq", "time%");
            double sum = 0;
            for (int s = 0; s < m->nsteps; s++) sum += m->ms[s];
            for (int s = 0; s < m->nsteps; s++) {
                double gf = m->ms[s] > 0 ? (double)m->flops[s] / (m->ms[s] * 1e6) : 0.0;
                double eq = m->ms[s] > 0 ? 2.0 * (double)m->macs[s] / (m->ms[s] * 1e6) : 0.0;
                char pk[16] = "      -";
                if (peak > 0) snprintf(pk, sizeof pk, "%6.1f%%", 100.0 * gf / peak);
                printf("  %-40.40s %10.3f %10.1f %s %10.1f %6.1f%%\n", m->names[s], m->ms[s], gf,
                       pk, eq, sum > 0 ? 100.0 * m->ms[s] / sum : 0.0);
            }
            double tf = 0, tm = 0;
            for (int s = 0; s < m->nsteps; s++) {
                tf += (double)m->flops[s];
                tm += (double)m->macs[s];
            }
            printf("  %-40s %10.3f %10.1f %6.1f%% %10.1f\n", "total", 1000.0 * m->sec_per_batch,
                   tf / m->sec_per_batch / 1e9,
                   peak > 0 ? 100.0 * tf / m->sec_per_batch / 1e9 / peak : 0.0,
                   2.0 * tm / m->sec_per_batch / 1e9);
            printf("  %.1f images/s\n", (double)batch / m->sec_per_batch);
        }
        for (int pi = 0; pi < nprec; pi++) {
            /* this precision's fused (f) and unfused (u) results */
            int f = -1, u = -1;
            for (int i = 0; i < nres; i++)
                if (res[i].precision == precs[pi]) *(res[i].fusion ? &f : &u) = i;
            if (f < 0 || u < 0) continue;
            printf("\n%s%sfused vs unfused: %.3fx images/s (%.1f vs %.1f)\n",
                   nprec > 1 ? sn_precision_names[precs[pi]] : "", nprec > 1 ? ", " : "",
                   res[u].sec_per_batch / res[f].sec_per_batch,
                   (double)batch / res[f].sec_per_batch, (double)batch / res[u].sec_per_batch);
            /* where fusion gains: each fused kernel against the unfused kernels of its ops */
            sn_groups gs;
            if (sn_fuse(&g, 1, &gs, &st) == SN_OK) {
                printf("  %-34s %10s %10s %10s\n", "fused group", "fused ms", "unfused ms",
                       "saved ms");
                for (int gi = 0; gi < gs.n; gi++) {
                    const sn_group *grp = &gs.g[gi];
                    if (grp->nnodes < 2) continue;
                    double fused = 0, unfused = 0;
                    for (int s = 0; s < res[f].nsteps; s++)
                        if (step_of(res[f].names[s], grp->name)) fused += res[f].ms[s];
                    for (int s = 0; s < res[u].nsteps; s++)
                        for (int k = 0; k < grp->nnodes; k++)
                            if (step_of(res[u].names[s], g.nodes[grp->nodes[k]].name))
                                unfused += res[u].ms[s];
                    printf("  %-34.34s %10.3f %10.3f %10.3f\n", grp->name, fused, unfused,
                           unfused - fused);
                }
                sn_groups_free(&gs);
            }
        }
        if (nprec > 1) { /* the precisions against the first, per fusion mode */
            printf("\nprecisions (same interleaved rounds):\n");
            for (int i = 0; i < nres; i++) {
                int base = -1;
                for (int j = 0; j < nres && base < 0; j++)
                    if (res[j].fusion == res[i].fusion && res[j].precision == precs[0]) base = j;
                printf("  %-5s fusion %-3s %10.1f images/s  %.2fx %s\n",
                       sn_precision_names[res[i].precision], res[i].fusion ? "on" : "off",
                       (double)batch / res[i].sec_per_batch,
                       base >= 0 ? res[base].sec_per_batch / res[i].sec_per_batch : 0.0,
                       sn_precision_names[precs[0]]);
            }
        }
    }
done:
    free(aq);
    for (int i = 0; i < MAX_CONF; i++) mode_free(&res[i]);
    sn_pool_destroy(pool);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return sn_report("bench", &st);
}

const sn_command sn_cmd_bench = {&bench_cmd, run_bench};
