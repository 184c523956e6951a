/* The CUDA driver API and cuBLAS, loaded at run time (dlopen), so one snnc binary runs on
 * machines with and without a GPU: nothing here is linked. Without libcuda.so.1 opening
 * fails with "no CUDA driver found (libcuda.so.1): <the loader's reason>" (SN_ERR_RUNTIME,
 * exit code 1). Every failing driver or cuBLAS call reports the call, the snnc file:line
 * and, where one is involved, the kernel.
 *
 * $SNNC_LIBCUDA names another driver library (tests use the toolkit's stub, whose calls
 * all fail with CUDA_ERROR_STUB_LIBRARY); $SNNC_CUBLAS another cuBLAS. */
#ifndef SN_CUDA_DRIVER_H
#define SN_CUDA_DRIVER_H

#include <cuda.h>
#include <stddef.h>

#include "../../../runtime/core/status.h"

typedef struct sn_cuda_driver sn_cuda_driver;

/* Loads libcuda, initializes it and makes device `ordinal`'s primary context current. */
sn_code sn_cuda_driver_open(int ordinal, sn_cuda_driver **out, sn_status *st);
void sn_cuda_driver_close(sn_cuda_driver *d);
/* Compute capability as a number (80, 90) and the device's name. */
int sn_cuda_driver_cc(const sn_cuda_driver *d);
const char *sn_cuda_driver_device(const sn_cuda_driver *d);

/* Loads a cubin or PTX image and finds entry point `kernel` in it. */
sn_code sn_cuda_module_load(sn_cuda_driver *d, const char *kernel, const void *image, CUmodule *mod,
                            CUfunction *fn, sn_status *st);
sn_code sn_cuda_module_unload(sn_cuda_driver *d, CUmodule mod, sn_status *st);
sn_code sn_cuda_launch(sn_cuda_driver *d, const char *kernel, CUfunction fn, const unsigned grid[3],
                       const unsigned block[3], void **params, sn_status *st);
sn_code sn_cuda_alloc(sn_cuda_driver *d, size_t bytes, CUdeviceptr *p, sn_status *st);
sn_code sn_cuda_free(sn_cuda_driver *d, CUdeviceptr p, sn_status *st);
sn_code sn_cuda_upload(sn_cuda_driver *d, CUdeviceptr dst, const void *src, size_t bytes,
                       sn_status *st);
sn_code sn_cuda_download(sn_cuda_driver *d, void *dst, CUdeviceptr src, size_t bytes,
                         sn_status *st);
sn_code sn_cuda_synchronize(sn_cuda_driver *d, sn_status *st);
/* Events, for timing kernels on the device (optional in a driver: without them, creating
 * one fails with a message). sn_cuda_event_elapsed waits for `end` and gives the
 * milliseconds between the two events. */
sn_code sn_cuda_event_create(sn_cuda_driver *d, CUevent *e, sn_status *st);
void sn_cuda_event_destroy(sn_cuda_driver *d, CUevent e);
sn_code sn_cuda_event_record(sn_cuda_driver *d, CUevent e, sn_status *st);
sn_code sn_cuda_event_elapsed(sn_cuda_driver *d, CUevent start, CUevent end, float *ms,
                              sn_status *st);
/* Makes the device's context current on the calling thread. */
sn_code sn_cuda_make_current(sn_cuda_driver *d, sn_status *st);

/* ---- cuBLAS (linear layers) ---- */
typedef struct sn_cublas sn_cublas;
/* Loads cuBLAS and creates a handle on the current context; tf32 allows TF32 tensor-core
 * math, otherwise pedantic fp32. */
sn_code sn_cublas_open(int tf32, sn_cublas **out, sn_status *st);
void sn_cublas_close(sn_cublas *b);
/* Column-major C = alpha op(A) op(B) + beta C (cublasSgemm); `step` names the plan step. */
sn_code sn_cublas_sgemm(sn_cublas *b, const char *step, int transa, int transb, long long m,
                        long long n, long long k, float alpha, CUdeviceptr A, long long lda,
                        CUdeviceptr B, long long ldb, float beta, CUdeviceptr C, long long ldc,
                        sn_status *st);

#endif
