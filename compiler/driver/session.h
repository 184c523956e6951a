/* What several commands share: loading the spec with --set overrides, building weights
 * (from a file or seeded), and opening the evaluation data a spec describes. */
#ifndef SN_SESSION_H
#define SN_SESSION_H

#include "../../runtime/data/dataset.h"
#include "../../runtime/data/transform.h"
#include "../../runtime/weights/weights.h"
#include "../frontend/spec.h"
#include "../ir/ir.h"
#include "../../runtime/exec/plan.h"
#include "cli.h"

/* Loads args->pos[0] (or `path` when not NULL) with every --set override. */
sn_code sn_session_spec(const sn_args *a, sn_model_spec *spec, sn_status *st);
sn_code sn_session_spec_path(const sn_args *a, const char *path, sn_model_spec *spec,
                             sn_status *st);
/* Creates the weight store for graph g; loads `path` if not NULL, else initializes with
 * the spec's initializer and `seed`. */
sn_code sn_session_weights(const sn_graph *g, const sn_model_spec *spec, const char *path,
                           uint64_t seed, sn_weights *w, sn_status *st);
/* The same from a parameter list (e.g. a compiled plan's). */
sn_code sn_session_weights_desc(const sn_param_desc *d, int n, const sn_model_spec *spec,
                                const char *path, uint64_t seed, sn_weights *w, sn_status *st);
/* Opens split `split` of the spec's dataset (dir overrides data.path) and sets up the
 * evaluation transform (center crop to the model input, scale, normalization). */
sn_code sn_session_data(const sn_model_spec *spec, const char *dir, sn_split split, sn_dataset *ds,
                        sn_transform *tf, sn_status *st);
sn_init_method sn_session_init_method(const sn_model_spec *spec);
/* The evaluation transform of the spec's data section (centre crop to the model's input,
 * scale, normalization), without opening the data. */
void sn_session_eval_transform(const sn_model_spec *spec, sn_transform *tf);

/* Backends a plan can be made for. */
typedef enum sn_target {
    SN_TARGET_CPU = 0, /* LLVM ORC JIT (default) */
    SN_TARGET_REF,     /* reference interpreter */
    SN_TARGET_CUDA,    /* NVRTC-compiled CUDA kernels ('snnc compile --target cuda') */
} sn_target;
extern const char *const sn_target_names[]; /* NULL-terminated, indexed by sn_target */
/* --precision values: fp32, tf32 (cuda: TF32 tensor cores), bf16 (cuda: tensor cores; cpu:
 * bf16 convolutions and linear layers), int8 (cpu: post-training quantized convolutions) */
extern const char *const sn_precision_names[];
/* The --precision the last sn_session_target / sn_session_precision read (an index into
 * sn_precision_names). */
int sn_session_precision_index(void);
/* int8 on the cpu target: the activation scales of the convolution inputs (calib_int8.h),
 * used by every following sn_session_lower; act must outlive those calls. */
struct sn_act_quant;
void sn_session_set_act_quant(const struct sn_act_quant *act, int n);

/* What a lowered plan depends on (the JIT holding its kernels, the fused groups). */
typedef struct sn_backend {
    sn_target target;
    int fusion;
    struct sn_jit *jit;
    struct sn_groups *groups;
    struct sn_cpu_artifacts *art; /* kernels' object code and IR, when captured */
    double compile_seconds;
} sn_backend;

/* Reads --target, --fusion and (for the cuda target) --precision. */
sn_code sn_session_target(const sn_args *a, sn_target *target, int *fusion, sn_status *st);
/* Reads --precision alone (commands that parse --target themselves). */
sn_code sn_session_precision(const sn_args *a, sn_target target, sn_status *st);
/* Sets the precision of the following sn_session_lower calls (an index into
 * sn_precision_names), with the same checks against the target. */
sn_code sn_session_use_precision(int index, sn_target target, sn_status *st);
/* Fuses (CPU) and lowers g into plan for the target. be must outlive plan. With capture,
 * be->art keeps every kernel's object code and LLVM IR. */
sn_code sn_session_lower(const sn_graph *g, sn_target target, int fusion, int capture,
                         sn_plan *plan, sn_backend *be, sn_status *st);
void sn_backend_free(sn_backend *be);
/* Loads a plan compiled by 'snnc compile' (kernels linked into be->jit) and its weights. */
sn_code sn_session_load_plan(const sn_args *a, const char *dir, const sn_model_spec *spec,
                             const char *weights, uint64_t seed, sn_plan *plan, sn_backend *be,
                             sn_weights *w, sn_status *st);

/* A progress line on stderr: redrawn in place on a terminal, printed every ~10% otherwise. */
typedef struct sn_progress {
    const char *what;
    int64_t total;
    double t0, last;
    int tty;
    int64_t last_pct;
} sn_progress;
void sn_progress_start(sn_progress *p, const char *what, int64_t total);
void sn_progress_update(sn_progress *p, int64_t done, const char *extra);
void sn_progress_end(sn_progress *p);

#endif
