/* A CUDA program: what the CUDA backend makes of a graph. Buffers (one per graph tensor,
 * plus temporaries), kernels (rendered CUDA C, compiled by NVRTC) and the ordered steps
 * that launch them or call cuBLAS. It is the GPU counterpart of a CPU plan and is written
 * out as cuda_plan.json by 'snnc compile --target cuda'. */
#ifndef SN_CUDA_PROGRAM_H
#define SN_CUDA_PROGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "../../../runtime/core/status.h"
#include "../../../runtime/core/tensor.h"
#include "../../../runtime/core/util.h"
#include "../../ir/ir.h"
#include "../../passes/fusion.h"

#define SN_CU_NAME_MAX 160
#define SN_CU_MAX_ARGS 12

/* The precision of GEMMs (convolutions and linear layers; everything else is fp32 or
 * double). In networks with quantizers, ternary weights or threshold units, TF32/BF16 apply
 * only to GEMMs whose operands the format holds exactly (see use_tensor_cores in lower.c);
 * the others stay fp32. */
typedef enum sn_cu_precision {
    SN_CU_FP32 = 0, /* fp32 FMA GEMMs (igemm_fp32.cu); cuBLAS in pedantic fp32 */
    SN_CU_TF32,     /* tensor cores, TF32 operands (igemm_tc.cu); cuBLAS TF32 */
    SN_CU_BF16,     /* tensor cores, BF16 operands (igemm_tc.cu); cuBLAS TF32 */
} sn_cu_precision;
extern const char *const sn_cu_precision_names[]; /* NULL-terminated */

typedef struct sn_cu_buffer {
    char name[SN_CU_NAME_MAX];
    int64_t bytes;
    sn_dtype dtype;
    int tensor;       /* graph tensor, or -1 for a temporary */
    int alias_of;     /* another buffer whose memory this one is (a flatten), or -1 */
    const char *role; /* "input", "label", "param", "buffer", "act", "const", "optstate", "temp",
                       * "counter" (an i64 the executor zeroes before and checks after a run:
                       * input values a kernel rejected) */
    int used;         /* read or written by a step (fused-away intermediates are not) */
} sn_cu_buffer;

typedef enum sn_cu_arg_kind {
    SN_CU_ARG_BUF = 0,        /* device pointer of buffer `buf` */
    SN_CU_ARG_NULL,           /* a null pointer (an optional operand left out) */
    SN_CU_ARG_SEED,           /* u64: the run's seed */
    SN_CU_ARG_TRAINING,       /* int: 1 in a training step, 0 in evaluation */
    SN_CU_ARG_LR,             /* float: the step's learning rate */
    SN_CU_ARG_ADAM_STEP_SIZE, /* float: lr / (1 - beta1^step), computed in double */
    SN_CU_ARG_ADAM_BC2_SQRT,  /* float: sqrt(1 - beta2^step), computed in double */
} sn_cu_arg_kind;

typedef struct sn_cu_arg {
    sn_cu_arg_kind kind;
    int buf;
    const char *name; /* the kernel parameter's name */
} sn_cu_arg;

typedef struct sn_cu_kernel {
    char name[SN_CU_NAME_MAX]; /* entry point (extern "C") and file name */
    char tmpl[32];             /* template file, "igemm_fp32.cu" */
    char *source;              /* complete translation unit */
    uint64_t hash;             /* of the source */
    /* filled by compilation */
    unsigned char *ptx, *cubin;
    size_t ptx_size, cubin_size;
    int cached;
    double seconds;
} sn_cu_kernel;

typedef enum sn_cu_step_kind {
    SN_CU_LAUNCH = 0, /* cuLaunchKernel */
    SN_CU_SGEMM,      /* cublasSgemm (column-major, as cuBLAS sees the row-major buffers) */
} sn_cu_step_kind;

typedef struct sn_cu_step {
    sn_cu_step_kind kind;
    char name[SN_CU_NAME_MAX]; /* the node or fused group it runs */
    int prep;                  /* runs once when weights are bound, not every step */
    /* launch */
    int kernel;
    unsigned grid[3], block[3];
    int nargs;
    sn_cu_arg args[SN_CU_MAX_ARGS];
    /* sgemm: C = alpha op(A) op(B) + beta C, column-major */
    int transa, transb;
    int64_t m, n, k, lda, ldb, ldc;
    int A, B, C;
    float alpha, beta;
    int64_t macs;
    int tensor_cores;   /* GEMMs: TF32/BF16 tensor cores (launch) or cuBLAS TF32 math (sgemm) */
    float beta1, beta2; /* Adam steps: for the bias corrections computed each step */
} sn_cu_step;

typedef struct sn_cu_program {
    char model[64];
    sn_cu_precision precision;
    int fusion;
    int training;
    int64_t batch;
    int T;
    sn_cu_buffer *bufs;
    int nbufs, cap_bufs;
    sn_cu_kernel *kernels;
    int nkernels, cap_kernels;
    sn_cu_step *steps;
    int nsteps, cap_steps;
    int in_buf, out_buf, label_buf, loss_buf;
} sn_cu_program;

typedef struct sn_cu_options {
    sn_cu_precision precision;
} sn_cu_options;

/* Lowers graph g, partitioned into groups gs, to a program (kernels rendered, not yet
 * compiled). Fails with SN_ERR_RUNTIME naming the node for an op the backend lacks. */
sn_code sn_cuda_lower(const sn_graph *g, const sn_groups *gs, const sn_cu_options *o,
                      sn_cu_program *p, sn_status *st);
void sn_cu_program_free(sn_cu_program *p);

/* ---- device memory (memplan.c) ----
 * Activations, temporaries and kept tensors live in one arena; buffers whose lifetimes do
 * not overlap share space (runtime/exec/memplan.h, as on the CPU). A lifetime is the span
 * of the run's steps (preparation steps excluded, counted from 0) that use a buffer or a
 * view of it; inputs are live from before the first step (-1), outputs, counters and kept
 * tensors to after the last (nsteps), and whatever a preparation step writes throughout.
 * Weights, optimizer state and views take no arena space. */
int sn_cu_in_arena(const sn_cu_buffer *b);
/* first[i], last[i] for every buffer (first > last: unused); keep (per buffer, may be NULL)
 * marks tensors read after the run. *nsteps receives the number of run steps. */
sn_code sn_cu_lifetimes(const sn_cu_program *p, const unsigned char *keep, int *first, int *last,
                        int *nsteps);

typedef struct sn_cu_memplan {
    int64_t *offset;     /* per buffer: its arena offset (256-byte aligned), -1 for none */
    int64_t arena_bytes; /* the arena: the most that is ever live at once */
    int64_t sum_bytes;   /* every arena buffer apart (the arena without reuse) */
} sn_cu_memplan;

/* Plans the arena; reuse 0 gives every buffer its own space. */
sn_code sn_cu_plan_memory(const sn_cu_program *p, const unsigned char *keep, int reuse,
                          sn_cu_memplan *m, sn_status *st);
void sn_cu_memplan_free(sn_cu_memplan *m);

/* cuda_plan.json: buffers (with their arena offsets when m is not NULL), kernels (with
 * their files under kernels/), steps with launch shapes and arguments, and the memory
 * totals. `arch` is recorded as given. */
void sn_cu_program_json(const sn_cu_program *p, const sn_cu_memplan *m, const char *arch,
                        sn_strbuf *out);

#endif
