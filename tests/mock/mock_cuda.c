/* A stand-in for libcuda.so.1 and libcublas.so for testing snnc's CUDA executor on machines
 * without a GPU ($SNNC_LIBCUDA and $SNNC_CUBLAS both name this library, so both halves
 * share its state). It is not an emulator: kernels are not run. What it does:
 *
 *   - "device" memory is host memory; allocations are tracked, and copies, GEMM operands
 *     and kernel launches are checked against them (a copy or GEMM reaching past an
 *     allocation, or a launch before any module was loaded, fails the call and prints why);
 *   - modules must be PTX or cubin images holding the requested entry point;
 *   - cublasSgemm is computed for real (column-major, as cuBLAS), so linear layers give
 *     true results;
 *   - $MOCK_CUDA_FAIL=NAME:K makes the K-th call of NAME (e.g. cuLaunchKernel:2) fail;
 *   - mock_cuda_live() reports live allocations (the tests check nothing leaks).
 *
 * Only the entry points snnc's driver.c looks up are provided. */
#include <cublas_api.h>
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct alloc {
    char *p;
    size_t n;
} alloc;

static alloc *allocs;
static int nallocs, cap_allocs;
static long launches, gemms;

static int fail_now(const char *name) {
    static char counted[64];
    static int calls;
    const char *spec = getenv("MOCK_CUDA_FAIL");
    if (!spec || !*spec) return 0;
    const char *colon = strchr(spec, ':');
    size_t l = colon ? (size_t)(colon - spec) : strlen(spec);
    if (strlen(name) != l || strncmp(spec, name, l) != 0) return 0;
    if (strcmp(counted, spec) != 0) { /* a new setting: count from zero */
        snprintf(counted, sizeof counted, "%s", spec);
        calls = 0;
    }
    return ++calls == (colon ? atoi(colon + 1) : 1);
}

/* The allocation holding [p, p + n), or -1. */
static int find(uintptr_t p, size_t n) {
    for (int i = 0; i < nallocs; i++) {
        uintptr_t a = (uintptr_t)allocs[i].p;
        if (p >= a && p + n <= a + allocs[i].n && p + n >= p) return i;
    }
    return -1;
}

static CUresult bad(const char *what, unsigned long long p, size_t n) {
    fprintf(stderr, "mock cuda: %s: [0x%llx, +%zu) is not inside one allocation\n", what, p, n);
    return CUDA_ERROR_INVALID_VALUE;
}

EXPORT int mock_cuda_live(void) {
    return nallocs;
}
EXPORT long mock_cuda_launches(void) {
    return launches;
}
EXPORT long mock_cuda_gemms(void) {
    return gemms;
}

EXPORT CUresult cuInit(unsigned flags) {
    (void)flags;
    return fail_now("cuInit") ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
    switch ((int)r) {
    case CUDA_ERROR_INVALID_VALUE:
        *s = "CUDA_ERROR_INVALID_VALUE";
        break;
    case CUDA_ERROR_OUT_OF_MEMORY:
        *s = "CUDA_ERROR_OUT_OF_MEMORY";
        break;
    case CUDA_ERROR_NO_DEVICE:
        *s = "CUDA_ERROR_NO_DEVICE";
        break;
    case CUDA_ERROR_NOT_FOUND:
        *s = "CUDA_ERROR_NOT_FOUND";
        break;
    case CUDA_ERROR_INVALID_IMAGE:
        *s = "CUDA_ERROR_INVALID_IMAGE";
        break;
    case CUDA_ERROR_LAUNCH_FAILED:
        *s = "CUDA_ERROR_LAUNCH_FAILED";
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
    (void)r;
    *s = "reported by the mock driver";
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *n) {
    *n = 1;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    (void)d;
    snprintf(name, (size_t)len, "snnc mock GPU");
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    (void)d;
    if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        *v = 9;
    else if (a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        *v = 0;
    else
        *v = 0;
    return CUDA_SUCCESS;
}

static int ctx_token;

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
    (void)d;
    *c = (CUcontext)&ctx_token;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    (void)d;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext c) {
    return c == (CUcontext)&ctx_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

EXPORT CUresult cuCtxSynchronize(void) {
    return fail_now("cuCtxSynchronize") ? CUDA_ERROR_LAUNCH_FAILED : CUDA_SUCCESS;
}

typedef struct module {
    char *image; /* a NUL-terminated copy of PTX, or a cubin's bytes */
    size_t size;
} module;

EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    if (fail_now("cuModuleLoadData")) return CUDA_ERROR_INVALID_IMAGE;
    const unsigned char *b = image;
    size_t size;
    if (b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F') {
        /* ELF64: the section header table ends the file */
        uint64_t shoff;
        uint16_t shentsize, shnum;
        memcpy(&shoff, b + 0x28, 8);
        memcpy(&shentsize, b + 0x3a, 2);
        memcpy(&shnum, b + 0x3c, 2);
        size = (size_t)(shoff + (uint64_t)shentsize * shnum);
    } else if (strstr((const char *)image, ".version") && strstr((const char *)image, ".entry")) {
        size = strlen((const char *)image) + 1;
    } else {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    module *mod = calloc(1, sizeof *mod);
    mod->image = malloc(size + 1);
    memcpy(mod->image, image, size);
    mod->image[size] = 0;
    mod->size = size;
    *m = (CUmodule)mod;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule m) {
    module *mod = (module *)m;
    free(mod->image);
    free(mod);
    return CUDA_SUCCESS;
}

typedef struct function {
    char name[256];
} function;

EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    module *mod = (module *)m;
    size_t l = strlen(name);
    int found = 0;
    for (size_t i = 0; i + l <= mod->size && !found; i++)
        found = memcmp(mod->image + i, name, l) == 0;
    if (!found) return CUDA_ERROR_NOT_FOUND;
    /* one function object per module, freed with the process (modules are few) */
    static function fns[4096];
    static int nfns;
    if (nfns == 4096) return CUDA_ERROR_OUT_OF_MEMORY;
    snprintf(fns[nfns].name, sizeof fns[nfns].name, "%s", name);
    *f = (CUfunction)&fns[nfns++];
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shmem, CUstream s, void **params,
                               void **extra) {
    (void)shmem;
    (void)s;
    (void)extra;
    if (!f || !params) return CUDA_ERROR_INVALID_VALUE;
    if (!gx || !gy || !gz || !bx || !by || !bz || (unsigned long long)bx * by * bz > 1024 ||
        gy > 65535 || gz > 65535) {
        fprintf(stderr, "mock cuda: %s: bad launch shape %ux%ux%u / %ux%ux%u\n",
                ((function *)f)->name, gx, gy, gz, bx, by, bz);
        return CUDA_ERROR_INVALID_VALUE;
    }
    launches++;
    return fail_now("cuLaunchKernel") ? CUDA_ERROR_LAUNCH_FAILED : CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    if (fail_now("cuMemAlloc_v2") || n == 0) return CUDA_ERROR_OUT_OF_MEMORY;
    char *m = malloc(n);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    memset(m, 0xa5, n); /* neither zeros nor a plausible float */
    if (nallocs == cap_allocs) {
        cap_allocs = cap_allocs ? 2 * cap_allocs : 64;
        allocs = realloc(allocs, (size_t)cap_allocs * sizeof *allocs);
    }
    allocs[nallocs].p = m;
    allocs[nallocs++].n = n;
    *p = (CUdeviceptr)(uintptr_t)m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    for (int i = 0; i < nallocs; i++)
        if ((uintptr_t)allocs[i].p == (uintptr_t)p) {
            free(allocs[i].p);
            allocs[i] = allocs[--nallocs];
            return CUDA_SUCCESS;
        }
    return bad("cuMemFree", (unsigned long long)p, 0);
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    if (find((uintptr_t)dst, n) < 0) return bad("cuMemcpyHtoD", (unsigned long long)dst, n);
    memcpy((void *)(uintptr_t)dst, src, n);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    if (find((uintptr_t)src, n) < 0) return bad("cuMemcpyDtoH", (unsigned long long)src, n);
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return CUDA_SUCCESS;
}

/* ---- cuBLAS ---------------------------------------------------------------------------- */

static int blas_token;

EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    *h = (cublasHandle_t)&blas_token;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    (void)h;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
    (void)h;
    (void)m;
    return CUBLAS_STATUS_SUCCESS;
}

EXPORT const char *cublasGetStatusName(cublasStatus_t s) {
    return s == CUBLAS_STATUS_INVALID_VALUE ? "CUBLAS_STATUS_INVALID_VALUE"
                                            : "CUBLAS_STATUS_EXECUTION_FAILED";
}

/* An operand of rows x cols (column-major, leading dimension ld) lies inside one allocation. */
static int operand_ok(const char *what, const float *p, int rows, int cols, int ld) {
    if (ld < rows || ld < 1) {
        fprintf(stderr, "mock cublas: %s: leading dimension %d < %d rows\n", what, ld, rows);
        return 0;
    }
    size_t n = ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * sizeof(float);
    if (find((uintptr_t)p, n) < 0) {
        bad(what, (unsigned long long)(uintptr_t)p, n);
        return 0;
    }
    return 1;
}

EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                     int m, int n, int k, const float *alpha, const float *A,
                                     int lda, const float *B, int ldb, const float *beta, float *C,
                                     int ldc) {
    if (h != (cublasHandle_t)&blas_token || m <= 0 || n <= 0 || k <= 0)
        return CUBLAS_STATUS_INVALID_VALUE;
    int at = ta != CUBLAS_OP_N, bt = tb != CUBLAS_OP_N;
    if (!operand_ok("sgemm A", A, at ? k : m, at ? m : k, lda) ||
        !operand_ok("sgemm B", B, bt ? n : k, bt ? k : n, ldb) ||
        !operand_ok("sgemm C", C, m, n, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (fail_now("cublasSgemm_v2")) return CUBLAS_STATUS_EXECUTION_FAILED;
    gemms++;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0;
            for (int l = 0; l < k; l++) {
                float a = at ? A[(size_t)i * lda + l] : A[(size_t)l * lda + i];
                float b = bt ? B[(size_t)l * ldb + j] : B[(size_t)j * ldb + l];
                acc += (double)a * b;
            }
            float *c = &C[(size_t)j * ldc + i];
            *c = (float)(*alpha * acc + (*beta != 0.0f ? *beta * *c : 0.0f));
        }
    return CUBLAS_STATUS_SUCCESS;
}
