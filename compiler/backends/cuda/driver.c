/* libcuda and cuBLAS through dlopen (see driver.h). */
#define _POSIX_C_SOURCE 200809L
#include "driver.h"

#include <cublas_api.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "nvrtc.h"

struct sn_cuda_driver {
    void *h;
    CUdevice dev;
    CUcontext ctx;
    int cc;
    char name[256];
    CUresult (*Init)(unsigned);
    CUresult (*GetErrorName)(CUresult, const char **);
    CUresult (*GetErrorString)(CUresult, const char **);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*DeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*CtxSetCurrent)(CUcontext);
    CUresult (*CtxSynchronize)(void);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void **, void **);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    /* optional: events */
    CUresult (*EventCreate)(CUevent *, unsigned);
    CUresult (*EventDestroy)(CUevent);
    CUresult (*EventRecord)(CUevent, CUstream);
    CUresult (*EventSynchronize)(CUevent);
    CUresult (*EventElapsedTime)(float *, CUevent, CUevent);
};

/* Names of the results a user is likely to meet, for drivers (or stubs) whose
 * cuGetErrorName does not answer. */
static const char *known_result(CUresult r) {
    switch ((int)r) {
    case 1:
        return "CUDA_ERROR_INVALID_VALUE";
    case 2:
        return "CUDA_ERROR_OUT_OF_MEMORY";
    case 3:
        return "CUDA_ERROR_NOT_INITIALIZED";
    case 34:
        return "CUDA_ERROR_STUB_LIBRARY";
    case 35:
        return "CUDA_ERROR_INSUFFICIENT_DRIVER";
    case 100:
        return "CUDA_ERROR_NO_DEVICE";
    case 101:
        return "CUDA_ERROR_INVALID_DEVICE";
    case 209:
        return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case 218:
        return "CUDA_ERROR_INVALID_PTX";
    case 222:
        return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case 500:
        return "CUDA_ERROR_NOT_FOUND";
    case 700:
        return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case 701:
        return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    case 702:
        return "CUDA_ERROR_LAUNCH_TIMEOUT";
    case 719:
        return "CUDA_ERROR_LAUNCH_FAILED";
    }
    return NULL;
}

static sn_code cu_failed(sn_cuda_driver *d, sn_status *st, const char *call, int line, CUresult r,
                         const char *kernel) {
    const char *name = NULL, *text = NULL;
    if (!d->GetErrorName || d->GetErrorName(r, &name) != CUDA_SUCCESS) name = NULL;
    if (!d->GetErrorString || d->GetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
    if (!name) name = known_result(r);
    char code[64];
    if (!name) {
        snprintf(code, sizeof code, "CUresult %d", (int)r);
        name = code;
    }
    sn_fail(st, SN_ERR_RUNTIME, "CUDA call %s failed: %s%s%s%s at %s:%d%s%s", call, name,
            text ? " (" : "", text ? text : "", text ? ")" : "", sn_cu_srcfile(__FILE__), line,
            kernel ? ", kernel " : "", kernel ? kernel : "");
    return st->code;
}

#define CU_CALL(d, fn, args, kernel)                                                               \
    do {                                                                                           \
        CUresult r_ = (d)->fn args;                                                                \
        if (r_ != CUDA_SUCCESS) return cu_failed((d), st, "cu" #fn #args, __LINE__, r_, (kernel)); \
    } while (0)

static void *need(void *h, const char *name, const char **missing) {
    void *p = dlsym(h, name);
    if (!p && !*missing) *missing = name;
    return p;
}

sn_code sn_cuda_driver_open(int ordinal, sn_cuda_driver **out, sn_status *st) {
    *out = NULL;
    const char *env = getenv("SNNC_LIBCUDA");
    const char *lib = env && *env ? env : "libcuda.so.1";
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        return sn_fail(st, SN_ERR_RUNTIME, "no CUDA driver found (%s): %s", lib,
                       e ? e : "cannot be loaded");
    }
    sn_cuda_driver *d = calloc(1, sizeof *d);
    if (!d) {
        dlclose(h);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    d->h = h;
    const char *missing = NULL;
    *(void **)&d->Init = need(h, "cuInit", &missing);
    *(void **)&d->GetErrorName = need(h, "cuGetErrorName", &missing);
    *(void **)&d->GetErrorString = need(h, "cuGetErrorString", &missing);
    *(void **)&d->DeviceGetCount = need(h, "cuDeviceGetCount", &missing);
    *(void **)&d->DeviceGet = need(h, "cuDeviceGet", &missing);
    *(void **)&d->DeviceGetName = need(h, "cuDeviceGetName", &missing);
    *(void **)&d->DeviceGetAttribute = need(h, "cuDeviceGetAttribute", &missing);
    *(void **)&d->DevicePrimaryCtxRetain = need(h, "cuDevicePrimaryCtxRetain", &missing);
    *(void **)&d->DevicePrimaryCtxRelease = need(h, "cuDevicePrimaryCtxRelease_v2", &missing);
    *(void **)&d->CtxSetCurrent = need(h, "cuCtxSetCurrent", &missing);
    *(void **)&d->CtxSynchronize = need(h, "cuCtxSynchronize", &missing);
    *(void **)&d->ModuleLoadData = need(h, "cuModuleLoadData", &missing);
    *(void **)&d->ModuleUnload = need(h, "cuModuleUnload", &missing);
    *(void **)&d->ModuleGetFunction = need(h, "cuModuleGetFunction", &missing);
    *(void **)&d->LaunchKernel = need(h, "cuLaunchKernel", &missing);
    *(void **)&d->MemAlloc = need(h, "cuMemAlloc_v2", &missing);
    *(void **)&d->MemFree = need(h, "cuMemFree_v2", &missing);
    *(void **)&d->MemcpyHtoD = need(h, "cuMemcpyHtoD_v2", &missing);
    *(void **)&d->MemcpyDtoH = need(h, "cuMemcpyDtoH_v2", &missing);
    *(void **)&d->EventCreate = dlsym(h, "cuEventCreate");
    *(void **)&d->EventDestroy = dlsym(h, "cuEventDestroy_v2");
    *(void **)&d->EventRecord = dlsym(h, "cuEventRecord");
    *(void **)&d->EventSynchronize = dlsym(h, "cuEventSynchronize");
    *(void **)&d->EventElapsedTime = dlsym(h, "cuEventElapsedTime_v2"); /* CUDA 12.8+ */
    if (!d->EventElapsedTime) *(void **)&d->EventElapsedTime = dlsym(h, "cuEventElapsedTime");
    if (missing) {
        sn_fail(st, SN_ERR_RUNTIME, "CUDA driver %s lacks %s (driver too old?)", lib, missing);
        sn_cuda_driver_close(d);
        return st->code;
    }
    sn_code c = SN_OK;
    int count = 0, major = 0, minor = 0;
    CUresult r;
#define OPEN_CALL(fn, args)                                                                        \
    if (!c && (r = d->fn args) != CUDA_SUCCESS)                                                    \
        c = cu_failed(d, st, "cu" #fn #args, __LINE__, r, NULL);
    OPEN_CALL(Init, (0));
    OPEN_CALL(DeviceGetCount, (&count));
    if (!c && ordinal >= count)
        c = sn_fail(st, SN_ERR_RUNTIME, "CUDA device %d requested, %d present", ordinal, count);
    OPEN_CALL(DeviceGet, (&d->dev, ordinal));
    OPEN_CALL(DeviceGetName, (d->name, (int)sizeof d->name, d->dev));
    OPEN_CALL(DeviceGetAttribute, (&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->dev));
    OPEN_CALL(DeviceGetAttribute, (&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->dev));
    OPEN_CALL(DevicePrimaryCtxRetain, (&d->ctx, d->dev));
    OPEN_CALL(CtxSetCurrent, (d->ctx));
#undef OPEN_CALL
    if (c) {
        sn_cuda_driver_close(d);
        return c;
    }
    d->cc = major * 10 + minor;
    *out = d;
    return SN_OK;
}

void sn_cuda_driver_close(sn_cuda_driver *d) {
    if (!d) return;
    if (d->ctx && d->DevicePrimaryCtxRelease) d->DevicePrimaryCtxRelease(d->dev);
    if (d->h) dlclose(d->h);
    free(d);
}

int sn_cuda_driver_cc(const sn_cuda_driver *d) {
    return d->cc;
}

const char *sn_cuda_driver_device(const sn_cuda_driver *d) {
    return d->name;
}

sn_code sn_cuda_module_load(sn_cuda_driver *d, const char *kernel, const void *image, CUmodule *mod,
                            CUfunction *fn, sn_status *st) {
    CU_CALL(d, ModuleLoadData, (mod, image), kernel);
    CU_CALL(d, ModuleGetFunction, (fn, *mod, kernel), kernel);
    return SN_OK;
}

sn_code sn_cuda_module_unload(sn_cuda_driver *d, CUmodule mod, sn_status *st) {
    CU_CALL(d, ModuleUnload, (mod), NULL);
    return SN_OK;
}

sn_code sn_cuda_launch(sn_cuda_driver *d, const char *kernel, CUfunction fn, const unsigned grid[3],
                       const unsigned block[3], void **params, sn_status *st) {
    CU_CALL(d, LaunchKernel,
            (fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, NULL, params, NULL),
            kernel);
    return SN_OK;
}

sn_code sn_cuda_alloc(sn_cuda_driver *d, size_t bytes, CUdeviceptr *p, sn_status *st) {
    CU_CALL(d, MemAlloc, (p, bytes ? bytes : 1), NULL);
    return SN_OK;
}

sn_code sn_cuda_free(sn_cuda_driver *d, CUdeviceptr p, sn_status *st) {
    CU_CALL(d, MemFree, (p), NULL);
    return SN_OK;
}

sn_code sn_cuda_upload(sn_cuda_driver *d, CUdeviceptr dst, const void *src, size_t bytes,
                       sn_status *st) {
    CU_CALL(d, MemcpyHtoD, (dst, src, bytes), NULL);
    return SN_OK;
}

sn_code sn_cuda_download(sn_cuda_driver *d, void *dst, CUdeviceptr src, size_t bytes,
                         sn_status *st) {
    CU_CALL(d, MemcpyDtoH, (dst, src, bytes), NULL);
    return SN_OK;
}

sn_code sn_cuda_synchronize(sn_cuda_driver *d, sn_status *st) {
    CU_CALL(d, CtxSynchronize, (), NULL);
    return SN_OK;
}

sn_code sn_cuda_event_create(sn_cuda_driver *d, CUevent *e, sn_status *st) {
    *e = NULL;
    if (!d->EventCreate || !d->EventDestroy || !d->EventRecord || !d->EventSynchronize ||
        !d->EventElapsedTime)
        return sn_fail(st, SN_ERR_RUNTIME,
                       "the CUDA driver has no event functions (cuEvent*): "
                       "cannot time kernels");
    CU_CALL(d, EventCreate, (e, CU_EVENT_DEFAULT), NULL);
    return SN_OK;
}

void sn_cuda_event_destroy(sn_cuda_driver *d, CUevent e) {
    if (e && d->EventDestroy) d->EventDestroy(e);
}

sn_code sn_cuda_event_record(sn_cuda_driver *d, CUevent e, sn_status *st) {
    CU_CALL(d, EventRecord, (e, NULL), NULL);
    return SN_OK;
}

sn_code sn_cuda_event_elapsed(sn_cuda_driver *d, CUevent start, CUevent end, float *ms,
                              sn_status *st) {
    CU_CALL(d, EventSynchronize, (end), NULL);
    CU_CALL(d, EventElapsedTime, (ms, start, end), NULL);
    return SN_OK;
}

sn_code sn_cuda_make_current(sn_cuda_driver *d, sn_status *st) {
    CU_CALL(d, CtxSetCurrent, (d->ctx), NULL);
    return SN_OK;
}

/* ---- cuBLAS ------------------------------------------------------------------------------ */

struct sn_cublas {
    void *h;
    cublasHandle_t handle;
    cublasStatus_t (*Create)(cublasHandle_t *);
    cublasStatus_t (*Destroy)(cublasHandle_t);
    cublasStatus_t (*SetMathMode)(cublasHandle_t, cublasMath_t);
    const char *(*GetStatusName)(cublasStatus_t);
    cublasStatus_t (*Sgemm)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const float *, const float *, int, const float *, int, const float *,
                            float *, int);
};

static sn_code blas_failed(sn_cublas *b, sn_status *st, const char *call, int line,
                           cublasStatus_t r, const char *step) {
    const char *name = b->GetStatusName ? b->GetStatusName(r) : NULL;
    sn_fail(st, SN_ERR_RUNTIME, "cuBLAS call %s failed: %s (status %d) at %s:%d%s%s", call,
            name ? name : "?", (int)r, sn_cu_srcfile(__FILE__), line, step ? ", step " : "",
            step ? step : "");
    return st->code;
}

#define BLAS_CALL(b, fn, args, step)                                                               \
    do {                                                                                           \
        cublasStatus_t r_ = (b)->fn args;                                                          \
        if (r_ != CUBLAS_STATUS_SUCCESS)                                                           \
            return blas_failed((b), st, "cublas" #fn #args, __LINE__, r_, (step));                 \
    } while (0)

sn_code sn_cublas_open(int tf32, sn_cublas **out, sn_status *st) {
    *out = NULL;
    const char *env = getenv("SNNC_CUBLAS");
    const char *names[] = {env && *env ? env : NULL, "libcublas.so.13", "libcublas.so.12",
                           "libcublas.so", "/usr/local/cuda/lib64/libcublas.so"};
    void *h = NULL;
    const char *err = "";
    for (size_t i = 0; i < SN_ARRAY_LEN(names) && !h; i++) {
        if (!names[i]) continue;
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            err = e ? e : "";
        }
    }
    if (!h) return sn_fail(st, SN_ERR_RUNTIME, "cuBLAS not found (libcublas.so.13): %s", err);
    sn_cublas *b = calloc(1, sizeof *b);
    if (!b) {
        dlclose(h);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    b->h = h;
    const char *missing = NULL;
    *(void **)&b->Create = need(h, "cublasCreate_v2", &missing);
    *(void **)&b->Destroy = need(h, "cublasDestroy_v2", &missing);
    *(void **)&b->SetMathMode = need(h, "cublasSetMathMode", &missing);
    *(void **)&b->GetStatusName = need(h, "cublasGetStatusName", &missing);
    *(void **)&b->Sgemm = need(h, "cublasSgemm_v2", &missing);
    if (missing) {
        sn_fail(st, SN_ERR_RUNTIME, "cuBLAS lacks %s", missing);
        sn_cublas_close(b);
        return st->code;
    }
    cublasStatus_t r = b->Create(&b->handle);
    if (r != CUBLAS_STATUS_SUCCESS) {
        blas_failed(b, st, "cublasCreate_v2(&handle)", __LINE__, r, NULL);
        b->handle = NULL;
        sn_cublas_close(b);
        return st->code;
    }
    r = b->SetMathMode(b->handle, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH);
    if (r != CUBLAS_STATUS_SUCCESS) {
        blas_failed(b, st, "cublasSetMathMode(handle, mode)", __LINE__, r, NULL);
        sn_cublas_close(b);
        return st->code;
    }
    *out = b;
    return SN_OK;
}

void sn_cublas_close(sn_cublas *b) {
    if (!b) return;
    if (b->handle && b->Destroy) b->Destroy(b->handle);
    if (b->h) dlclose(b->h);
    free(b);
}

sn_code sn_cublas_sgemm(sn_cublas *b, const char *step, int transa, int transb, long long m,
                        long long n, long long k, float alpha, CUdeviceptr A, long long lda,
                        CUdeviceptr B, long long ldb, float beta, CUdeviceptr C, long long ldc,
                        sn_status *st) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX)
        return sn_fail(st, SN_ERR_RUNTIME, "cuBLAS GEMM of step %s is too large for 32-bit sizes",
                       step);
    BLAS_CALL(b, Sgemm,
              (b->handle, transa ? CUBLAS_OP_T : CUBLAS_OP_N, transb ? CUBLAS_OP_T : CUBLAS_OP_N,
               (int)m, (int)n, (int)k, &alpha, (const float *)(uintptr_t)A, (int)lda,
               (const float *)(uintptr_t)B, (int)ldb, &beta, (float *)(uintptr_t)C, (int)ldc),
              step);
    return SN_OK;
}
