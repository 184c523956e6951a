/* snnc inspect: what a model is, at any stage of the pipeline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "../backends/ref/ref_backend.h"
#include "../passes/fusion.h"
#ifdef SNNC_HAVE_LLVM
#include "../backends/llvm/cpu_backend.h"
#endif
#ifdef SNNC_HAVE_CUDA
#include "../backends/cuda/program.h"
#endif
#include "../ir/build.h"
#include "commands.h"
#include "session.h"
#include "trainer.h"

static const sn_cmd inspect_cmd = {
    .name = "inspect",
    .usage = "MODEL.yaml [options]",
    .summary = "Show a model's layer table and totals, or one stage of the pipeline as text.",
    .details = "The table lists each layer's op, output shape, parameters and MACs.\n"
               "Stages: spec (the resolved YAML, every default filled in), ir (the graph),\n"
               "fused (the kernel groups of the fusion pass), plan (buffers with their layouts,\n"
               "arena offsets, preparation steps and kernel launches of the chosen target; for\n"
               "--target cuda the GPU program, its buffers' lifetimes and device arena, no GPU\n"
               "needed), llvm (the optimized LLVM IR of every CPU kernel).\n"
               "MACs are forward multiply-accumulates per sample (x T for spiking graphs).",
    .min_pos = 1,
    .max_pos = 1,
    .opts =
        {
            {"--json", NULL, "print the table as JSON ({params, macs, layers: [...]})", 0},
            {"--stage", "STAGE", "print one stage: spec, ir, fused, plan or llvm", 0},
            {"--dot", "FILE", "write the IR graph as Graphviz dot to FILE", 0},
            {"--batch", "N", "batch size the graph is built for (default 1)", 0},
            {"--target", "TARGET", "backend for --stage plan: cpu (default), ref or cuda", 0},
            {"--mode", "infer|train",
             "--stage plan: the inference graph (default) or a training step", 0},
            {"--fusion", "on|off", "fusion for --stage fused/plan/llvm (default on)", 0},
            {"--precision", "P",
             "fp32 (default); cpu plans: bf16 or int8 (int8 without calibration here: only "
             "convolutions whose inputs lie on a known grid are quantized); cuda: tf32 or bf16 "
             "GEMMs",
             0},
            {"--set", "KEY=VALUE", "override a YAML field, e.g. --set snn.T=8", 1},
        },
};

/* Parameters attributed to a node: its parameter inputs, looking through a ternary node
 * to the float weights it reads. */
static int64_t node_params(const sn_graph *g, const sn_node *n) {
    int64_t p = 0;
    for (int j = 0; j < n->nin; j++) {
        const sn_tensor *t = &g->tensors[n->in[j]];
        if (t->kind == SN_T_PARAM)
            p += sn_shape_numel(&t->shape);
        else if (t->producer >= 0 && g->nodes[t->producer].op == SN_OP_TERNARY)
            p += sn_shape_numel(&g->tensors[g->nodes[t->producer].in[0]].shape);
    }
    return p;
}

static int ternary_weights(const sn_graph *g, const sn_node *n) {
    return n->nin > 1 && g->tensors[n->in[1]].producer >= 0 &&
           g->nodes[g->tensors[n->in[1]].producer].op == SN_OP_TERNARY;
}

static void print_table(const sn_model_spec *spec, const sn_graph *g) {
    char sb[96];
    printf("model %s  (%s)\n", spec->name, spec->source_path);
    printf("input [%d, %d, %d]%s", spec->in_channels, spec->in_height, spec->in_width,
           g->T > 1 || spec->snn.enabled ? "" : "\n");
    if (g->T > 1 || spec->snn.enabled) printf("  T=%d\n", g->T);
    printf("%-22s %-16s %-22s %12s %16s\n", "layer", "op", "output", "params", "MACs");
    int64_t tp = 0, tm = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        if (n->op == SN_OP_TERNARY) continue;
        int64_t p = node_params(g, n), m = sn_node_macs(g, i);
        tp += p;
        tm += m;
        char op[40];
        snprintf(op, sizeof op, "%s%s", sn_op_name(n->op), ternary_weights(g, n) ? "[tern]" : "");
        if (n->op == SN_OP_NEURON)
            snprintf(op, sizeof op, "%s", n->a.neuron.model == SN_NEURON_LIF ? "lif" : "if");
        if (n->op == SN_OP_NIR_NEURON && n->layer >= 0 && n->layer < spec->nlayers)
            snprintf(op, sizeof op, "%s", sn_layer_kind_name(spec->layers[n->layer].kind));
        printf("%-22s %-16s %-22s %12lld %16lld\n", n->name, op,
               sn_shape_str(&g->tensors[n->out[0]].shape, sb, sizeof sb), (long long)p,
               (long long)m);
    }
    int64_t buffers = 0;
    for (int t = 0; t < g->ntensors; t++)
        if (g->tensors[t].kind == SN_T_BUFFER) buffers += sn_shape_numel(&g->tensors[t].shape);
    printf("total: %lld parameters (%.2f M), %lld buffer values, %lld MACs (%.3f G) per sample\n",
           (long long)tp, (double)tp / 1e6, (long long)buffers, (long long)tm, (double)tm / 1e9);
}

static void print_json(const sn_model_spec *spec, const sn_graph *g) {
    sn_strbuf o;
    sn_sb_init(&o);
    int64_t tp = sn_graph_param_count(g), tm = 0, buffers = 0;
    for (int i = 0; i < g->nnodes; i++) tm += sn_node_macs(g, i);
    for (int t = 0; t < g->ntensors; t++)
        if (g->tensors[t].kind == SN_T_BUFFER) buffers += sn_shape_numel(&g->tensors[t].shape);
    sn_sb_puts(&o, "{\"model\": ");
    sn_sb_json_str(&o, spec->name);
    sn_sb_printf(&o,
                 ", \"input\": [%d, %d, %d], \"num_classes\": %d, \"T\": %d, \"params\": %lld, "
                 "\"buffers\": %lld, \"macs\": %lld, \"layers\": [",
                 spec->in_channels, spec->in_height, spec->in_width, spec->num_classes, g->T,
                 (long long)tp, (long long)buffers, (long long)tm);
    int first = 1;
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        if (n->op == SN_OP_TERNARY) continue;
        const sn_tensor *y = &g->tensors[n->out[0]];
        sn_sb_puts(&o, first ? "\n  {\"name\": " : ",\n  {\"name\": ");
        first = 0;
        sn_sb_json_str(&o, n->name);
        sn_sb_puts(&o, ", \"op\": ");
        sn_sb_json_str(&o, sn_op_name(n->op));
        sn_sb_puts(&o, ", \"output\": [");
        for (int d = 0; d < y->shape.rank; d++)
            sn_sb_printf(&o, d ? ", %lld" : "%lld", (long long)y->shape.d[d]);
        sn_sb_printf(&o, "], \"params\": %lld, \"macs\": %lld, \"ternary\": %s}",
                     (long long)node_params(g, n), (long long)sn_node_macs(g, i),
                     ternary_weights(g, n) ? "true" : "false");
    }
    sn_sb_puts(&o, "\n]}\n");
    fputs(sn_sb_cstr(&o), stdout);
    sn_sb_free(&o);
}

static void print_plan(const sn_plan *p) {
    char sb[96];
    printf("plan %s (backend %s, batch %lld)\n", p->model, p->backend, (long long)p->batch);
    printf("buffers:\n");
    for (int i = 0; i < p->nbufs; i++) {
        const sn_buffer *b = &p->bufs[i];
        const char *kind = b->kind == SN_BUF_ARENA    ? "arena"
                           : b->kind == SN_BUF_WEIGHT ? "weight"
                                                      : "const";
        printf("  b%-4d %-6s %-36s %s%s %s", i, kind, b->name, sn_dtype_name(b->dtype),
               sn_shape_str(&b->shape, sb, sizeof sb), b->layout);
        if (b->kind == SN_BUF_ARENA)
            printf(" @%lld +%lld", (long long)b->offset, (long long)b->bytes);
        printf("\n");
    }
    if (p->nprep) printf("preparation (when weights change):\n");
    for (int i = 0; i < p->nprep; i++) {
        const sn_step *s = &p->prep[i];
        printf("  %3d %-24s %-28s bufs=[", i, s->name, s->kernel);
        for (int k = 0; k < s->nbufs; k++) printf(k ? " %d" : "%d", s->bufs[k]);
        printf("]\n");
    }
    printf("steps:\n");
    for (int i = 0; i < p->nsteps; i++) {
        const sn_step *s = &p->steps[i];
        printf("  %3d %-24s %-28s tasks=%lld bufs=[", i, s->name, s->kernel, (long long)s->ntasks);
        for (int k = 0; k < s->nbufs; k++) printf(k ? " %d" : "%d", s->bufs[k]);
        printf("]\n");
    }
    printf("arena: %lld bytes planned, %lld bytes without reuse\n", (long long)p->arena_bytes,
           (long long)p->naive_bytes);
}

#ifdef SNNC_HAVE_CUDA
/* The CUDA program of g: buffers with their roles, lifetimes and arena offsets, the
 * preparation and run steps, and the device memory the arena needs (no GPU involved). */
static sn_code print_cuda_plan(const sn_graph *g, int fusion, int training, sn_status *st) {
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_cu_program p;
    memset(&p, 0, sizeof p);
    sn_cu_memplan m;
    memset(&m, 0, sizeof m);
    sn_cu_options o = {(sn_cu_precision)sn_session_precision_index()};
    int *first = NULL, *last = NULL, n = 0;
    if (sn_fuse(g, fusion, &gs, st) || sn_cuda_lower(g, &gs, &o, &p, st) ||
        sn_cu_plan_memory(&p, NULL, 1, &m, st))
        goto done;
    first = calloc((size_t)(p.nbufs ? p.nbufs : 1), sizeof(int));
    last = calloc((size_t)(p.nbufs ? p.nbufs : 1), sizeof(int));
    if (!first || !last) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    sn_cu_lifetimes(&p, NULL, first, last, &n);
    printf("cuda plan %s (%s, batch %lld, %s, fusion %s): %d kernels, %d steps\n", p.model,
           training ? "training step" : "inference", (long long)p.batch,
           sn_cu_precision_names[p.precision], fusion ? "on" : "off", p.nkernels, p.nsteps);
    printf("buffers (arena buffers: @offset +bytes, live from step to step):\n");
    for (int i = 0; i < p.nbufs; i++) {
        const sn_cu_buffer *b = &p.bufs[i];
        if (!b->used) continue;
        printf("  b%-4d %-8s %-40s %-4s %12lld", i, b->role, b->name, sn_dtype_name(b->dtype),
               (long long)b->bytes);
        if (b->alias_of >= 0)
            printf("  view of b%d", b->alias_of);
        else if (m.offset[i] >= 0)
            printf("  @%lld, steps %d..%d", (long long)m.offset[i], first[i], last[i]);
        printf("\n");
    }
    for (int prep = 1; prep >= 0; prep--) {
        printf(prep ? "preparation (when weights change):\n" : "steps:\n");
        int k = 0;
        for (int i = 0; i < p.nsteps; i++) {
            const sn_cu_step *s = &p.steps[i];
            if (s->prep != prep) continue;
            if (s->kind == SN_CU_SGEMM)
                printf("  %3d %-30s cuBLAS sgemm %c%c m=%lld n=%lld k=%lld%s\n", k++, s->name,
                       s->transa ? 'T' : 'N', s->transb ? 'T' : 'N', (long long)s->m,
                       (long long)s->n, (long long)s->k, s->tensor_cores ? " (TF32)" : "");
            else
                printf("  %3d %-30s %s <<<(%u,%u), %u>>>%s\n", k++, s->name,
                       p.kernels[s->kernel].name, s->grid[0], s->grid[1], s->block[0],
                       s->tensor_cores ? " (tensor cores)" : "");
        }
    }
    printf("device arena: %lld bytes (%.1f MiB) planned, %lld bytes (%.1f MiB) without reuse\n",
           (long long)m.arena_bytes, (double)m.arena_bytes / 1048576.0, (long long)m.sum_bytes,
           (double)m.sum_bytes / 1048576.0);
done:
    free(first);
    free(last);
    sn_cu_memplan_free(&m);
    sn_cu_program_free(&p);
    sn_groups_free(&gs);
    return st->code;
}
#endif

static void print_llvm(const sn_backend *be) {
#ifdef SNNC_HAVE_LLVM
    if (!be->art) return;
    for (int i = 0; i < be->art->n; i++)
        printf("; ---- kernel %s (%s) ----\n%s\n", be->art->k[i].symbol, be->art->k[i].kind,
               be->art->k[i].ir ? be->art->k[i].ir : "");
#else
    (void)be;
#endif
}

static int run_inspect(const sn_args *a) {
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    int64_t batch;
    static const char *const stages[] = {"spec", "ir", "fused", "plan", "llvm", NULL};
    static const char *const modes[] = {"infer", "train", NULL};
    int stage = -1, fusion, mode = 0;
    sn_target target;
    if (sn_args_int(a, "--batch", 1, 1, 1 << 20, &batch, &st) ||
        sn_args_choice(a, "--stage", stages, -1, &stage, &st) ||
        sn_args_choice(a, "--mode", modes, 0, &mode, &st) ||
        sn_session_target(a, &target, &fusion, &st))
        return sn_report("inspect", &st);
    if (mode == 1 && stage != 3) {
        sn_fail(&st, SN_ERR_INPUT, "--mode train applies to --stage plan");
        return sn_report("inspect", &st);
    }
    if (sn_session_spec(a, &spec, &st)) return sn_report("inspect", &st);
    if (stage == 0) {
        sn_strbuf o;
        sn_sb_init(&o);
        sn_spec_print_yaml(&spec, &o);
        fputs(sn_sb_cstr(&o), stdout);
        sn_sb_free(&o);
        sn_spec_free(&spec);
        return 0;
    }
    sn_graph g;
    sn_build_opts bo = {.batch = batch, .with_loss = 0};
    if (mode == 1 ? sn_train_graph(&spec, batch, &g, &st)
                  : (sn_graph_build(&spec, &bo, &g, &st) || sn_graph_verify(&g, &st))) {
        sn_spec_free(&spec);
        return sn_report("inspect", &st);
    }
    int rc = 0;
    const char *dot = sn_args_str(a, "--dot", NULL);
    if (dot) {
        sn_strbuf o;
        sn_sb_init(&o);
        sn_graph_dot(&g, &o);
        if (sn_write_file_atomic(dot, sn_sb_cstr(&o), o.len, &st)) rc = sn_report("inspect", &st);
        sn_sb_free(&o);
    }
    if (rc == 0) {
        if (stage == 1) {
            sn_strbuf o;
            sn_sb_init(&o);
            sn_graph_print(&g, &o);
            fputs(sn_sb_cstr(&o), stdout);
            sn_sb_free(&o);
        } else if (stage == 2) {
            sn_groups gs;
            if (sn_fuse(&g, fusion, &gs, &st))
                rc = sn_report("inspect", &st);
            else {
                sn_strbuf o;
                sn_sb_init(&o);
                sn_groups_print(&g, &gs, &o);
                fputs(sn_sb_cstr(&o), stdout);
                sn_sb_free(&o);
                sn_groups_free(&gs);
            }
        } else if (stage == 3 && target == SN_TARGET_CUDA) {
#ifdef SNNC_HAVE_CUDA
            if (print_cuda_plan(&g, fusion, mode == 1, &st)) rc = sn_report("inspect", &st);
#else
            sn_fail(&st, SN_ERR_RUNTIME, "snnc was built without the CUDA backend");
            rc = sn_report("inspect", &st);
#endif
        } else if (stage == 3 || stage == 4) {
            sn_plan plan;
            sn_backend be;
            if (stage == 4) target = SN_TARGET_CPU;
            if (sn_session_lower(&g, target, fusion, stage == 4, &plan, &be, &st)) {
                rc = sn_report("inspect", &st);
            } else {
                sn_plan_layout_sequential(&plan);
                if (stage == 3)
                    print_plan(&plan);
                else
                    print_llvm(&be);
                sn_plan_free(&plan);
            }
            sn_backend_free(&be);
        } else if (sn_args_has(a, "--json")) {
            print_json(&spec, &g);
        } else if (!dot) {
            print_table(&spec, &g);
        }
    }
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return rc;
}

const sn_command sn_cmd_inspect = {&inspect_cmd, run_inspect};
