/* The weight store: every parameter and buffer of a model as named host arrays, in
 * state_dict order. Filled by seeded initialization or from a safetensors file whose
 * names and layouts match the equivalent PyTorch module's state_dict(). */
#ifndef SN_WEIGHTS_H
#define SN_WEIGHTS_H

#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"
#include "safetensors.h"

typedef enum sn_param_role {
    SN_ROLE_WEIGHT = 0, /* conv / linear weight */
    SN_ROLE_BIAS,       /* conv / linear bias */
    SN_ROLE_BN_WEIGHT,  /* gamma */
    SN_ROLE_BN_BIAS,    /* beta */
    SN_ROLE_BN_MEAN,    /* running_mean (buffer) */
    SN_ROLE_BN_VAR,     /* running_var (buffer) */
    SN_ROLE_BN_COUNT,   /* num_batches_tracked (I64 scalar buffer) */
    SN_ROLE_THETA,      /* threshold units' thresholds [C, U] (buffer); initialized to
                           u + 0.5, the decision points of a unit-step quantizer */
    SN_ROLE_ONES,       /* a buffer initialized to 1 (scale, r, tau, v_threshold of nir_*
                           layers) */
    SN_ROLE_ZEROS,      /* a buffer initialized to 0 (v_leak, v_reset of nir_* layers) */
} sn_param_role;
#define SN_ROLE_LAST SN_ROLE_ZEROS

typedef enum sn_init_method {
    SN_INITM_TORCH_DEFAULT = 0, /* kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), +), bias too */
    SN_INITM_KAIMING_NORMAL,    /* N(0, 2/fan), bias 0 */
    SN_INITM_KAIMING_UNIFORM,   /* U(-sqrt(6/fan), +), bias 0 */
    SN_INITM_XAVIER_UNIFORM,    /* U(-sqrt(6/(fan_in+fan_out)), +), bias 0 */
} sn_init_method;

typedef struct sn_param_desc {
    char name[128];
    sn_dtype dtype; /* F32, or I64 for num_batches_tracked */
    sn_shape shape;
    sn_param_role role;
    int trainable; /* 1 for parameters, 0 for buffers */
    int64_t fan_in, fan_out;
} sn_param_desc;

typedef struct sn_weights {
    int n;
    sn_param_desc *desc;
    void **data; /* n arrays, 64-byte aligned: float (F32) or int64_t (I64) */
} sn_weights;

/* Allocates zeroed storage for the given parameters. */
sn_code sn_weights_create(sn_weights *w, const sn_param_desc *desc, int n, sn_status *st);
void sn_weights_free(sn_weights *w);
int sn_weights_find(const sn_weights *w, const char *name); /* index or -1 */
static inline float *sn_weights_f32(const sn_weights *w, int i) {
    return (float *)w->data[i];
}

/* Seeded initialization: weights by `method` (fan_out_mode selects fan_out for Kaiming),
 * BN gamma 1, beta 0, running mean 0, running var 1, count 0. */
void sn_weights_init(sn_weights *w, sn_init_method method, int fan_out_mode, uint64_t seed);

/* Loads a safetensors file. Every tensor must match a parameter by name and shape
 * (float dtypes are converted to F32). Missing, extra or mis-shaped tensors give one
 * SN_ERR_INPUT listing each of them. A missing num_batches_tracked is accepted (it does
 * not affect results). */
sn_code sn_weights_load(sn_weights *w, const char *path, sn_status *st);
/* Copies values from an already-parsed file (same rules as sn_weights_load). */
sn_code sn_weights_from_file(sn_weights *w, const sn_st_file *f, const char *path, sn_status *st);
/* Saves all parameters and buffers (atomically) with optional metadata. */
sn_code sn_weights_save(const sn_weights *w, const char *path, const sn_st_meta *meta, int nmeta,
                        sn_status *st);
/* Copies all values from src into dst (same layout required). */
void sn_weights_copy(sn_weights *dst, const sn_weights *src);

#endif
