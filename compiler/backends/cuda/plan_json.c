/* cuda_plan.json: a CUDA program as text (see program.h). */
#include <string.h>

#include "program.h"

static const char *arg_kind_name(sn_cu_arg_kind k) {
    switch (k) {
    case SN_CU_ARG_BUF:
        return "buffer";
    case SN_CU_ARG_NULL:
        return "null";
    case SN_CU_ARG_SEED:
        return "seed";
    case SN_CU_ARG_TRAINING:
        return "training";
    case SN_CU_ARG_LR:
        return "lr";
    case SN_CU_ARG_ADAM_STEP_SIZE:
        return "adam_step_size";
    case SN_CU_ARG_ADAM_BC2_SQRT:
        return "adam_bc2_sqrt";
    }
    return "?";
}

static void buf_ref(sn_strbuf *o, const sn_cu_program *p, int b) {
    if (b < 0)
        sn_sb_puts(o, "null");
    else
        sn_sb_json_str(o, p->bufs[b].name);
}

void sn_cu_program_json(const sn_cu_program *p, const sn_cu_memplan *m, const char *arch,
                        sn_strbuf *o) {
    sn_sb_puts(o, "{\n  \"format\": \"snnc-cuda-plan-1\",\n  \"model\": ");
    sn_sb_json_str(o, p->model);
    sn_sb_puts(o, ",\n  \"arch\": ");
    sn_sb_json_str(o, arch);
    sn_sb_printf(o,
                 ",\n  \"precision\": \"%s\",\n  \"fusion\": %s,\n  \"training\": %s,\n"
                 "  \"batch\": %lld,\n  \"T\": %d,\n",
                 sn_cu_precision_names[p->precision], p->fusion ? "true" : "false",
                 p->training ? "true" : "false", (long long)p->batch, p->T);
    sn_sb_puts(o, "  \"io\": {\"input\": ");
    buf_ref(o, p, p->in_buf);
    sn_sb_puts(o, ", \"output\": ");
    buf_ref(o, p, p->out_buf);
    sn_sb_puts(o, ", \"label\": ");
    buf_ref(o, p, p->label_buf);
    sn_sb_puts(o, ", \"loss\": ");
    buf_ref(o, p, p->loss_buf);
    sn_sb_puts(o, "},\n");
    if (m)
        sn_sb_printf(o,
                     "  \"memory\": {\"arena_bytes\": %lld, \"buffer_bytes\": %lld, "
                     "\"reuse\": \"buffers with disjoint lifetimes share arena space\"},\n",
                     (long long)m->arena_bytes, (long long)m->sum_bytes);
    sn_sb_puts(o, "  \"buffers\": [\n");
    for (int i = 0; i < p->nbufs; i++) {
        const sn_cu_buffer *b = &p->bufs[i];
        sn_sb_puts(o, "    {\"name\": ");
        sn_sb_json_str(o, b->name);
        sn_sb_printf(o, ", \"role\": \"%s\", \"dtype\": \"%s\", \"bytes\": %lld", b->role,
                     sn_dtype_name(b->dtype), (long long)b->bytes);
        if (b->alias_of >= 0) {
            sn_sb_puts(o, ", \"alias_of\": ");
            buf_ref(o, p, b->alias_of);
        }
        if (!b->used) sn_sb_puts(o, ", \"unused\": true");
        if (m && m->offset[i] >= 0)
            sn_sb_printf(o, ", \"arena_offset\": %lld", (long long)m->offset[i]);
        sn_sb_printf(o, "}%s\n", i + 1 < p->nbufs ? "," : "");
    }
    sn_sb_puts(o, "  ],\n  \"kernels\": [\n");
    for (int i = 0; i < p->nkernels; i++) {
        const sn_cu_kernel *k = &p->kernels[i];
        sn_sb_printf(o,
                     "    {\"name\": \"%s\", \"template\": \"%s\", \"source\": \"kernels/%s.cu\", "
                     "\"ptx\": \"kernels/%s.ptx\"",
                     k->name, k->tmpl, k->name, k->name);
        if (k->cubin_size) sn_sb_printf(o, ", \"cubin\": \"kernels/%s.cubin\"", k->name);
        sn_sb_printf(o, ", \"source_hash\": \"%016llx\"}%s\n", (unsigned long long)k->hash,
                     i + 1 < p->nkernels ? "," : "");
    }
    sn_sb_puts(o, "  ],\n  \"steps\": [\n");
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *s = &p->steps[i];
        sn_sb_puts(o, "    {\"name\": ");
        sn_sb_json_str(o, s->name);
        if (s->prep) sn_sb_puts(o, ", \"prep\": true");
        switch (s->kind) {
        case SN_CU_LAUNCH:
            sn_sb_printf(o,
                         ", \"kind\": \"launch\", \"kernel\": \"%s\", \"grid\": [%u, %u, %u], "
                         "\"block\": [%u, %u, %u], \"shared_bytes\": 0, \"args\": [",
                         p->kernels[s->kernel].name, s->grid[0], s->grid[1], s->grid[2],
                         s->block[0], s->block[1], s->block[2]);
            for (int a = 0; a < s->nargs; a++) {
                const sn_cu_arg *ar = &s->args[a];
                int is_buf = ar->kind == SN_CU_ARG_BUF || ar->kind == SN_CU_ARG_NULL;
                sn_sb_printf(o, "%s{\"param\": \"%s\", \"%s\": ", a ? ", " : "", ar->name,
                             is_buf ? "buffer" : "value");
                if (is_buf)
                    buf_ref(o, p, ar->kind == SN_CU_ARG_BUF ? ar->buf : -1);
                else
                    sn_sb_printf(o, "\"%s\"", arg_kind_name(ar->kind));
                sn_sb_puts(o, "}");
            }
            sn_sb_puts(o, "]");
            if (s->kernel >= 0 && strstr(p->kernels[s->kernel].tmpl, "igemm"))
                sn_sb_printf(o, ", \"math\": \"%s\"",
                             !s->tensor_cores             ? "fp32"
                             : p->precision == SN_CU_BF16 ? "bf16"
                                                          : "tf32");
            break;
        case SN_CU_SGEMM:
            sn_sb_printf(o,
                         ", \"kind\": \"sgemm\", \"transa\": \"%s\", \"transb\": \"%s\", "
                         "\"m\": %lld, \"n\": %lld, \"k\": %lld, \"alpha\": %g, \"beta\": %g, "
                         "\"math\": \"%s\", \"A\": ",
                         s->transa ? "T" : "N", s->transb ? "T" : "N", (long long)s->m,
                         (long long)s->n, (long long)s->k, (double)s->alpha, (double)s->beta,
                         s->tensor_cores ? "tf32" : "fp32");
            buf_ref(o, p, s->A);
            sn_sb_printf(o, ", \"lda\": %lld, \"B\": ", (long long)s->lda);
            buf_ref(o, p, s->B);
            sn_sb_printf(o, ", \"ldb\": %lld, \"C\": ", (long long)s->ldb);
            buf_ref(o, p, s->C);
            sn_sb_printf(o, ", \"ldc\": %lld", (long long)s->ldc);
            break;
        }
        if (s->macs) sn_sb_printf(o, ", \"macs\": %lld", (long long)s->macs);
        sn_sb_printf(o, "}%s\n", i + 1 < p->nsteps ? "," : "");
    }
    sn_sb_puts(o, "  ]\n}\n");
}
