/* Shapes and element types shared by every stage. */
#ifndef SN_TENSOR_H
#define SN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define SN_MAX_RANK 6

typedef enum sn_dtype {
    SN_F32 = 0,
    SN_F16,
    SN_BF16,
    SN_F64,
    SN_I64,
    SN_I32,
    SN_I8,
    SN_U8,
    SN_BOOL,
    SN_DTYPE_COUNT
} sn_dtype;

typedef struct sn_shape {
    int rank;
    int64_t d[SN_MAX_RANK];
} sn_shape;

size_t sn_dtype_size(sn_dtype t);
const char *sn_dtype_name(sn_dtype t); /* safetensors spelling: "F32", "I64", ... */
int sn_dtype_from_name(const char *name, sn_dtype *out); /* 1 on success */

sn_shape sn_shape_make(int rank, const int64_t *d);
sn_shape sn_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
sn_shape sn_shape2(int64_t a, int64_t b);
sn_shape sn_shape1(int64_t a);
int64_t sn_shape_numel(const sn_shape *s);
int sn_shape_eq(const sn_shape *a, const sn_shape *b);
/* Writes e.g. "[64, 3, 3, 3]" (or "[]" for a scalar). Returns buf. */
char *sn_shape_str(const sn_shape *s, char *buf, size_t n);

#endif
