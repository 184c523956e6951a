/* CUDA C templates (codegen-templates/, embedded at build time) and their renderer.
 *
 * A template is CUDA C with named slots written {{NAME}} (NAME: capital letters, digits
 * and underscores, starting with a letter). Rendering replaces every slot with its value,
 * verbatim; a slot without a value, and a value for a slot the template lacks, are errors
 * (they are lowering bugs). Anything else between braces is left alone, so "{{" in C++
 * aggregate initializers would only be a slot if followed by a slot name and "}}".
 * Rendered kernels start with prelude.cuh (shared device helpers), so each is a complete
 * translation unit for NVRTC. See codegen-templates/README.md. */
#ifndef SN_CUDA_TEMPLATES_H
#define SN_CUDA_TEMPLATES_H

#include <stddef.h>

#include "../../../runtime/core/status.h"
#include "../../../runtime/core/util.h"

typedef struct sn_cu_template {
    const char *name; /* file name, "igemm_fp32.cu" */
    const char *text;
    size_t size;
} sn_cu_template;

/* Generated table, terminated by a NULL name. */
extern const sn_cu_template sn_cu_templates[];

/* The embedded template named `name` ("pool.cu"), or NULL. */
const sn_cu_template *sn_cu_template_find(const char *name);

/* Slot values for one rendering (values are copied). */
#define SN_CU_MAX_SLOTS 32
typedef struct sn_cu_slots {
    int n;
    char *name[SN_CU_MAX_SLOTS];
    char *value[SN_CU_MAX_SLOTS];
    int used[SN_CU_MAX_SLOTS];
    int oom;
} sn_cu_slots;

void sn_cu_slots_init(sn_cu_slots *s);
void sn_cu_slots_free(sn_cu_slots *s);
/* Sets (or replaces) a slot's value, printf-style. */
void sn_cu_slot(sn_cu_slots *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sn_cu_slot_i64(sn_cu_slots *s, const char *name, long long v);
void sn_cu_slot_f32(sn_cu_slots *s, const char *name, float v);
void sn_cu_slot_f64(sn_cu_slots *s, const char *name, double v);
void sn_cu_slot_bool(sn_cu_slots *s, const char *name, int v);

/* Appends the rendering of template `name` to out (without the prelude). */
sn_code sn_cu_render(const char *name, sn_cu_slots *slots, sn_strbuf *out, sn_status *st);
/* A complete kernel source: a header comment naming the kernel and template, prelude.cuh,
 * then the rendered template. */
sn_code sn_cu_render_kernel(const char *name, const char *kernel, sn_cu_slots *slots,
                            sn_strbuf *out, sn_status *st);

#endif
