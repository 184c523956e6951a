/* A CPU plan as bytes, for an artifact: what 'snnc compile --emit lib' writes for each CPU
 * variant and what the artifact's runtime turns back into an sn_plan when a context is
 * created, with no allocation of its own (the caller provides one block of memory, sized
 * by sn_plan_blob_measure).
 *
 * The bytes hold the buffers (names, shapes, kinds, arena offsets, layouts), the
 * preparation steps and the steps (kernel, params, buffer indices, task counts). A
 * generated kernel is named by its index in the artifact's table of kernel functions for
 * that variant; a built-in one (runtime/cpu/prep.h) by name. A weight buffer is named by
 * its index in the model's weight table. Reading checks every count, index, size and
 * offset, so a damaged description is an error, not a wild write. */
#ifndef SN_PLAN_BLOB_H
#define SN_PLAN_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "../exec/plan.h"
#include "blob.h"

#define SN_PLAN_BLOB_MAGIC "SNNCPLN1"

/* Writes p. kernels[0..nkernels) are the symbols of the generated kernels (a step whose
 * kernel is not among them must be a built-in); weights[0..nweights) the names of the
 * model's weight table (every weight buffer must be among them). */
sn_code sn_plan_blob_write(const sn_plan *p, const char *const *kernels, int nkernels,
                           const char *const *weights, int nweights, sn_bw *out, sn_status *st);

/* What a blob's plan needs, in bytes (each a multiple of 64). */
typedef struct sn_plan_blob_size {
    int nbufs, nprep, nsteps;
    int64_t tables; /* sn_buffer and sn_step arrays and the steps' params */
    int64_t owned;  /* SN_BUF_OWNED data (packed weights) */
    int64_t arena;  /* activations and state */
    int64_t batch;
    int T, step_major, num_classes;
    int64_t in_floats, out_floats; /* the input and output buffers' element counts */
} sn_plan_blob_size;

/* What the reader checks weight buffers against: the dtype and shape of weight i. */
typedef int (*sn_plan_blob_weight_fn)(void *arg, int i, sn_dtype *dtype, sn_shape *shape);

/* Checks a blob (against nweights weights described by `weight`, and a table of nkernels
 * generated kernels) and measures it. `what` names it in messages. */
sn_code sn_plan_blob_measure(const char *what, const unsigned char *blob, size_t size, int nweights,
                             sn_plan_blob_weight_fn weight, void *weight_arg, int nkernels,
                             sn_plan_blob_size *out, sn_status *st);

/* Builds the plan of a measured blob in mem (64-byte aligned, sz.tables + sz.owned +
 * sz.arena bytes): buffers resolved (weight i at weight_ptrs[i], generated kernel k is
 * kernels[k]), nothing allocated. Release it by releasing mem, never with sn_plan_free.
 * The preparation steps are not run (sn_plan_prepare). */
sn_code sn_plan_blob_build(const char *what, const unsigned char *blob, size_t size,
                           const sn_plan_blob_size *sz, void *const *weight_ptrs,
                           sn_cpu_fn const *kernels, void *mem, sn_plan *p, sn_status *st);

#endif
