/* safetensors files (https://github.com/huggingface/safetensors, format v0):
 * 8-byte little-endian header length, a JSON header mapping tensor names to
 * {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte after the
 * header) plus an optional "__metadata__" string->string map, then the raw little-endian
 * data. Reading validates everything (header size, JSON, dtypes, shapes, offsets inside
 * the file and matching numel * dtype size, duplicate names) and reports the file and what
 * is wrong. Writing is atomic (temporary file, fsync, rename). */
#ifndef SN_SAFETENSORS_H
#define SN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"

typedef struct sn_st_tensor {
    char *name;
    sn_dtype dtype;
    sn_shape shape;
    void *data; /* raw little-endian bytes, owned (for read results) */
    size_t nbytes;
} sn_st_tensor;

typedef struct sn_st_meta {
    char *key;
    char *value;
} sn_st_meta;

typedef struct sn_st_file {
    sn_st_tensor *tensors;
    int ntensors;
    sn_st_meta *meta;
    int nmeta;
} sn_st_file;

sn_code sn_safetensors_read(const char *path, sn_st_file *out, sn_status *st);
/* Same from memory (name used in messages). */
sn_code sn_safetensors_parse(const char *name, const unsigned char *buf, size_t size,
                             sn_st_file *out, sn_status *st);
void sn_st_free(sn_st_file *f);

const sn_st_tensor *sn_st_find(const sn_st_file *f, const char *name);
const char *sn_st_meta_get(const sn_st_file *f, const char *key);

/* Converts F32/F16/BF16/F64 (and integer types) to float32 into dst (numel floats). */
sn_code sn_st_to_f32(const sn_st_tensor *t, float *dst, sn_status *st);
/* IEEE 754 binary16 bits to float (subnormals, infinities and NaNs included). */
float sn_half_to_float(uint16_t h);

/* Writes tensors (data not owned by the file; shape and dtype as given) and metadata.
 * Tensors are written in the order given; names must be unique. */
sn_code sn_safetensors_write(const char *path, const sn_st_tensor *tensors, int ntensors,
                             const sn_st_meta *meta, int nmeta, sn_status *st);
/* Serializes to memory (caller frees *buf). */
sn_code sn_safetensors_serialize(const sn_st_tensor *tensors, int ntensors, const sn_st_meta *meta,
                                 int nmeta, unsigned char **buf, size_t *size, sn_status *st);

#endif
