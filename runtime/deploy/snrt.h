/* The runtime inside every artifact that 'snnc compile --emit lib' writes: the functions
 * behind the NAME_* API of a generated NAME.h (the artifact's glue forwards each NAME_
 * function here, with its model description for NAME_create and NAME_get_info).
 *
 * A context is one allocation, sized from the model description: the context itself, the
 * plan's tables, packed weights, activations and spiking state, and (when the weights come
 * from a file) the weights; plus a thread pool. Creating it picks the CPU variant, builds
 * the plan in that block and packs the weights; running copies the input in, runs the plan
 * and copies the output out, allocating nothing. One thread at a time per context (a second
 * concurrent call fails with SNRT_ERR_STATE); contexts are independent of each other. */
#ifndef SN_SNRT_H
#define SN_SNRT_H

#include <stddef.h>
#include <stdint.h>

#include "../exec/plan.h"

/* Result codes (the same values as each NAME.h's NAME_OK, NAME_ERR_*). */
enum {
    SNRT_OK = 0,
    SNRT_ERR_ARG = 1,      /* a NULL pointer or a bad option */
    SNRT_ERR_SIZE = 2,     /* an input or output count the model does not take */
    SNRT_ERR_WEIGHTS = 3,  /* a weights file that cannot be read or is for another model */
    SNRT_ERR_CPU = 4,      /* no variant of the artifact runs on this CPU */
    SNRT_ERR_MEMORY = 5,   /* out of memory, or threads could not start */
    SNRT_ERR_INPUT = 6,    /* input values the model rejects (a Poisson encoder needs [0, 1]) */
    SNRT_ERR_STATE = 7,    /* not now: streaming past T, not a streaming model, or in use */
    SNRT_ERR_ARTIFACT = 8, /* the artifact itself is damaged */
    SNRT_ERR_COUNT
};

#define SNRT_MODEL_MAGIC 0x314c444d434e4e53ULL /* "SNNCMDL1" little-endian */

/* What the glue object of an artifact holds (every field 8 bytes wide, so snnc can emit it
 * as an LLVM constant without depending on C struct padding rules). */
typedef struct snrt_model {
    uint64_t magic;            /* SNRT_MODEL_MAGIC */
    uint64_t struct_size;      /* sizeof(snrt_model) */
    const unsigned char *desc; /* runtime/deploy/desc.h */
    uint64_t desc_size;
    uint64_t desc_hash;           /* sn_hash64 of desc: a damaged library is caught at create */
    const unsigned char *weights; /* embedded weight data, or NULL */
    uint64_t weights_size;
    uint64_t nvariants;
    const sn_cpu_fn *const *kernels; /* per variant, its generated kernels */
} snrt_model;

typedef struct snrt_options {
    int threads;              /* worker threads including the caller; 0 = one per core */
    const char *weights_path; /* a safetensors file to load instead of the embedded weights */
    const char *variant;      /* force a CPU variant by name (NULL: the best this CPU runs) */
} snrt_options;

typedef struct snrt_info {
    const char *name;
    int64_t batch; /* images per run (a run may take fewer) */
    int64_t channels, height, width;
    int64_t classes;
    int64_t time_steps;                                /* T (1 for ANNs) */
    int64_t streaming;                                 /* NAME_step / NAME_reset work */
    int64_t image_floats, input_floats, output_floats; /* per image, per full batch */
    int64_t variants;
    int64_t weights_embedded;
    int64_t weight_bytes;
} snrt_info;

typedef struct snrt_ctx snrt_ctx;

int snrt_create(const snrt_model *m, snrt_ctx **out, const snrt_options *opts, char *err,
                size_t err_size);
void snrt_free(snrt_ctx *c);
int snrt_get_info(const snrt_model *m, snrt_info *out);
/* n images (input: n * image_floats floats, 1 <= n <= batch) -> n * classes scores. */
int snrt_run(snrt_ctx *c, const float *input, size_t input_count, float *output,
             size_t output_count);
/* Streaming (step-major artifacts): time step t of the run since the last reset (or
 * create); output: the readout so far, equal to snrt_run's after the T-th step. */
int snrt_step(snrt_ctx *c, const float *input, size_t input_count, float *output,
              size_t output_count);
int snrt_reset(snrt_ctx *c);
int snrt_set_seed(snrt_ctx *c, uint64_t seed);
/* uint8 images [n][channels][h][w] (h, w at least the model's; centre-cropped) -> the
 * model's input floats, as 'snnc eval' prepares them. */
int snrt_preprocess(snrt_ctx *c, const uint8_t *images, size_t n, size_t channels, size_t height,
                    size_t width, float *input, size_t input_count);
const char *snrt_error(const snrt_ctx *c);
const char *snrt_strerror(int code);
const char *snrt_variant(const snrt_ctx *c);
/* The seed 'snnc eval --seed S' gives the batch that starts at image `first`. */
uint64_t snrt_batch_seed(uint64_t seed, uint64_t first);
/* Bytes a context of the model needs for variant v (0 if the description is damaged). */
uint64_t snrt_context_bytes(const snrt_model *m, int v, int weights_from_file);

#endif
