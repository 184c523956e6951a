/* NumPy .npy files (format versions 1.0-3.0): a magic string, a little header holding a
 * Python dict literal ({'descr': '<f4', 'fortran_order': False, 'shape': (T, N, ...)}) and
 * the raw array in C order. Plain C, no dependency: recorded input sequences are read with
 * it and recorded traces written with it.
 *
 * Read: float32, float64, uint8 and bool arrays (either byte order), converted to float32;
 * anything else (Fortran order, other dtypes, object arrays, truncated data, a header that is
 * not the dict NumPy writes) is SN_ERR_INPUT with a message naming the file and the problem.
 * Write: float32, little-endian, version 1.0 (2.0 when the header needs it), atomically. */
#ifndef SN_NPY_H
#define SN_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "../core/status.h"

#define SN_NPY_MAX_RANK 8

typedef struct sn_npy {
    int rank;
    int64_t shape[SN_NPY_MAX_RANK];
    int64_t numel;
    char descr[8]; /* as written in the file, e.g. "<f4", "|b1" */
    float *data;   /* numel floats (malloc'd; at least one float even when numel == 0) */
} sn_npy;

/* Parses an .npy image held in memory (`name` is used in messages). */
sn_code sn_npy_parse(const char *name, const unsigned char *buf, size_t size, sn_npy *out,
                     sn_status *st);
/* Reads an .npy file. */
sn_code sn_npy_read(const char *path, sn_npy *out, sn_status *st);
void sn_npy_free(sn_npy *a);

/* Serializes a float32 array of the given shape (rank 0..SN_NPY_MAX_RANK) into a malloc'd
 * buffer (*out, *size). */
sn_code sn_npy_serialize(const float *data, int rank, const int64_t *shape, unsigned char **out,
                         size_t *size, sn_status *st);
/* Writes a float32 array as an .npy file (temporary file, fsync, rename). */
sn_code sn_npy_write(const char *path, const float *data, int rank, const int64_t *shape,
                     sn_status *st);

#endif
