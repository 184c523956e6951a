/* The description of a model inside an artifact: its name, input and output sizes, time
 * steps, the evaluation preprocessing of 8-bit images, the weight table (name, dtype,
 * shape and place of every tensor the plans read) and, per CPU variant, the features its
 * code needs and its plan (runtime/deploy/plan_blob.h). snnc writes it with
 * snrt_desc_write; the artifact's runtime reads it in place, allocating nothing. */
#ifndef SN_DEPLOY_DESC_H
#define SN_DEPLOY_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"
#include "../data/transform.h"
#include "blob.h"

#define SNRT_DESC_MAGIC   "SNNCART1"
#define SNRT_MAX_VARIANTS 8
#define SNRT_MAX_WEIGHTS  (1 << 20)

typedef struct snrt_weight_desc {
    const char *name;
    sn_dtype dtype;
    sn_shape shape;
    uint64_t offset; /* in the weight data: tensors in table order, each 64-byte aligned */
    uint64_t nbytes;
} snrt_weight_desc;

typedef struct snrt_variant_desc {
    const char *name;  /* "x86-64-v3", "host (sapphirerapids)", ... */
    const char *cpu;   /* the LLVM CPU the code was generated for */
    const char *isa;   /* vector instructions the kernels use: avx512, avx2, sse, scalar */
    uint64_t features; /* runtime/deploy/cpu_features.h bits the code may use */
    int nkernels;      /* entries of the variant's kernel table */
    const unsigned char *plan;
    size_t plan_size;
} snrt_variant_desc;

typedef struct snrt_desc {
    const char *name;
    int64_t batch, channels, height, width, classes;
    int T;           /* time steps (1 for ANNs) */
    int step_major;  /* the plans run one time step per pass: streaming is possible */
    sn_transform tf; /* evaluation preprocessing of uint8 images (out_h, out_w = the input) */
    int nweights;
    uint64_t weight_bytes; /* size of the weight data */
    int nvariants;
    snrt_variant_desc variants[SNRT_MAX_VARIANTS];
    /* where the weight table starts (for snrt_desc_weight) */
    const unsigned char *blob;
    size_t blob_size, weights_pos;
} snrt_desc;

/* What snnc writes. */
typedef struct snrt_desc_in {
    const char *name;
    int64_t batch, channels, height, width, classes;
    int T, step_major;
    sn_transform tf;
    int nweights;
    const char *const *weight_names;
    const sn_dtype *weight_dtypes;
    const sn_shape *weight_shapes;
    int nvariants;
    snrt_variant_desc variants[SNRT_MAX_VARIANTS]; /* plan and plan_size: the plan bytes */
} snrt_desc_in;

/* Writes a description; the weight offsets are assigned here (table order, 64-aligned):
 * snrt_desc_weight_offset gives them back for laying out the data. */
sn_code snrt_desc_write(const snrt_desc_in *in, sn_bw *out, sn_status *st);
/* Offset and total size of the weight data for a list of tensors (as snrt_desc_write lays
 * it out). */
uint64_t snrt_desc_weight_offset(const sn_dtype *dtypes, const sn_shape *shapes, int i);
uint64_t snrt_desc_weight_total(const sn_dtype *dtypes, const sn_shape *shapes, int n);

/* Reads and checks a description in place (the strings and plans point into blob). */
sn_code snrt_desc_parse(const char *what, const unsigned char *blob, size_t size, snrt_desc *d,
                        sn_status *st);
/* Weight i of a parsed description; 0 when i is out of range. */
int snrt_desc_weight(const snrt_desc *d, int i, snrt_weight_desc *out);

#endif
