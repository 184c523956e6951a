/* The libcuda and cuBLAS halves of the CUDA emulator (see emu.h): the entry points snnc's
 * compiler/backends/cuda/driver.c looks up, with real effects on the CPU.
 *
 * Device memory: each cuMemAlloc is its own mapping, [guard page][slack][data][guard page],
 * the data ending where the trailing guard page begins (to 4 bytes), so a read or write past
 * the end faults at once; the slack in front is checked after every launch for writes.
 * Fresh allocations are filled with 0xff bytes (NaN as float or double, -1 as an integer),
 * so a kernel reading memory nothing wrote produces NaN. Copies and GEMM operands must lie
 * inside one allocation.
 *
 * Modules are the host shared objects made by the NVRTC stand-in; cuLaunchKernel runs the
 * launch at once (emu_launch.c), so kernels are synchronous and events carry host times.
 * cuBLAS GEMMs are computed in double and rounded once; in TF32 math mode the operands are
 * first rounded to TF32, as the tensor cores would.
 *
 * Test hooks: $SNNC_EMU_FAIL=NAME:K makes the K-th call of NAME fail (cuLaunchKernel,
 * cuMemAlloc_v2, cuModuleLoadData, cuCtxSynchronize, cublasSgemm_v2, cuInit);
 * emu_cuda_live() counts live allocations, emu_cuda_launches() / emu_cuda_gemms() the work
 * done. */
#define _GNU_SOURCE
#include <cublas_api.h>
#include <cuda.h>
#include <dlfcn.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"

snemu_abi *emu_abi(void);

/* ---- injected failures --------------------------------------------------------------------- */
int emu_fail_now(const char *name) {
    static char counted[64];
    static int calls;
    const char *spec = getenv("SNNC_EMU_FAIL");
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

/* ---- device memory -------------------------------------------------------------------------- */
static emu_alloc *allocs;
static int nallocs, cap_allocs;
static long launches, gemms;
static size_t page;

EMU_EXPORT int emu_cuda_live(void) {
    return nallocs;
}
EMU_EXPORT long emu_cuda_launches(void) {
    return launches;
}
EMU_EXPORT long emu_cuda_gemms(void) {
    return gemms;
}

const emu_alloc *emu_alloc_near(uintptr_t p) {
    for (int i = 0; i < nallocs; i++) {
        uintptr_t m = (uintptr_t)allocs[i].map;
        if (p >= m && p < m + allocs[i].map_size) return &allocs[i];
    }
    return NULL;
}

/* The allocation holding [p, p + n), or -1. */
static int find(uintptr_t p, size_t n) {
    for (int i = 0; i < nallocs; i++) {
        uintptr_t a = (uintptr_t)allocs[i].data;
        if (p >= a && p + n <= a + allocs[i].size && p + n >= p) return i;
    }
    return -1;
}

static CUresult bad(const char *what, unsigned long long p, size_t n) {
    fprintf(stderr, "cuda emulator: %s: [0x%llx, +%zu) is not inside one device allocation\n", what,
            p, n);
    return CUDA_ERROR_INVALID_VALUE;
}

static int untouched(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] != 0xff) return 0;
    return 1;
}

int emu_check_canaries(char *msg, size_t n) {
    for (int i = 0; i < nallocs; i++) {
        const emu_alloc *a = &allocs[i];
        char *rw = a->map + page, *end = a->map + a->map_size - page;
        char *tail = a->data + a->size;
        if (!untouched(rw, (size_t)(a->data - rw))) {
            snprintf(msg, n, "wrote before the start of a %zu-byte device allocation at %p",
                     a->size, (void *)a->data);
            return 1;
        }
        if (!untouched(tail, (size_t)(end - tail))) {
            snprintf(msg, n, "wrote past the end of a %zu-byte device allocation at %p", a->size,
                     (void *)a->data);
            return 1;
        }
    }
    return 0;
}

EMU_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    if (emu_fail_now("cuMemAlloc_v2") || n == 0) return CUDA_ERROR_OUT_OF_MEMORY;
    if (!page) page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (n + page - 1) / page * page + page; /* a page of slack for the front */
    size_t total = body + 2 * page;
    char *m = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    if (mprotect(m + page, body, PROT_READ | PROT_WRITE) != 0) {
        munmap(m, total);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    memset(m + page, 0xff, body);
    char *end = m + page + body;
    char *data = (char *)((uintptr_t)(end - n) & ~(uintptr_t)3);
    if (nallocs == cap_allocs) {
        int cap = cap_allocs ? 2 * cap_allocs : 64;
        emu_alloc *g = realloc(allocs, (size_t)cap * sizeof *allocs);
        if (!g) {
            munmap(m, total);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        allocs = g;
        cap_allocs = cap;
    }
    allocs[nallocs++] = (emu_alloc){m, total, data, n};
    *p = (CUdeviceptr)(uintptr_t)data;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    for (int i = 0; i < nallocs; i++)
        if ((uintptr_t)allocs[i].data == (uintptr_t)p) {
            munmap(allocs[i].map, allocs[i].map_size);
            allocs[i] = allocs[--nallocs];
            return CUDA_SUCCESS;
        }
    return bad("cuMemFree", (unsigned long long)p, 0);
}

EMU_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    if (find((uintptr_t)dst, n) < 0) return bad("cuMemcpyHtoD", (unsigned long long)dst, n);
    memcpy((void *)(uintptr_t)dst, src, n);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    if (find((uintptr_t)src, n) < 0) return bad("cuMemcpyDtoH", (unsigned long long)src, n);
    memcpy(dst, (const void *)(uintptr_t)src, n);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    if (find((uintptr_t)src, n) < 0) return bad("cuMemcpyDtoD", (unsigned long long)src, n);
    if (find((uintptr_t)dst, n) < 0) return bad("cuMemcpyDtoD", (unsigned long long)dst, n);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) {
    if (find((uintptr_t)dst, n) < 0) return bad("cuMemsetD8", (unsigned long long)dst, n);
    memset((void *)(uintptr_t)dst, v, n);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    long pages = sysconf(_SC_PHYS_PAGES), ps = sysconf(_SC_PAGESIZE);
    *total = pages > 0 && ps > 0 ? (size_t)pages * (size_t)ps : (size_t)1 << 34;
    *free_bytes = *total / 2;
    return CUDA_SUCCESS;
}

/* ---- device, context ----------------------------------------------------------------------- */
EMU_EXPORT CUresult cuInit(unsigned flags) {
    (void)flags;
    return emu_fail_now("cuInit") ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

static const struct {
    int code;
    const char *name;
} results[] = {
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED"},
};

EMU_EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
        if (results[i].code == (int)r) {
            *s = results[i].name;
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_INVALID_VALUE;
}

EMU_EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
    (void)r;
    *s = "reported by the CUDA emulator: see its message above";
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGetCount(int *n) {
    *n = 1;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

/* The compute capability it claims: $SNNC_EMU_ARCH (sm_80, sm_90), default sm_90. */
static int emu_cc(void) {
    const char *a = getenv("SNNC_EMU_ARCH");
    if (a && strncmp(a, "sm_", 3) == 0 && atoi(a + 3) >= 50) return atoi(a + 3);
    return 90;
}

EMU_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
    (void)d;
    snprintf(name, (size_t)len, "snnc CUDA emulator");
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    (void)d;
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
        *v = emu_cc() / 10;
        break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
        *v = emu_cc() % 10;
        break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        *v = 1024;
        break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
        *v = 1;
        break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
        *v = 32;
        break;
    default:
        *v = 0;
    }
    return CUDA_SUCCESS;
}

static int ctx_token;

EMU_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
    (void)d;
    *c = (CUcontext)&ctx_token;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    (void)d;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuCtxSetCurrent(CUcontext c) {
    return c == (CUcontext)&ctx_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

EMU_EXPORT CUresult cuCtxSynchronize(void) {
    return emu_fail_now("cuCtxSynchronize") ? CUDA_ERROR_LAUNCH_FAILED : CUDA_SUCCESS;
}

/* ---- modules: host shared objects ------------------------------------------------------------ */
typedef struct module {
    void *h;
    emu_kernel *k;
    int nk, capk;
} module;

/* Size of an ELF64 image: its section header table ends it. */
static size_t elf_size(const unsigned char *b) {
    Elf64_Ehdr e;
    memcpy(&e, b, sizeof e);
    return (size_t)(e.e_shoff + (uint64_t)e.e_shentsize * e.e_shnum);
}

EMU_EXPORT CUresult cuModuleLoadData(CUmodule *m, const void *image) {
    if (emu_fail_now("cuModuleLoadData")) return CUDA_ERROR_INVALID_IMAGE;
    const unsigned char *b = image;
    if (memcmp(b, ELFMAG, SELFMAG) != 0 || b[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "cuda emulator: cuModuleLoadData: not a host object (PTX text or a "
                        "foreign image); the emulator runs what its own NVRTC stand-in made: "
                        "set SNNC_NVRTC to the emulator library too\n");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    Elf64_Ehdr e;
    memcpy(&e, b, sizeof e);
    if (e.e_machine == EM_CUDA) {
        fprintf(stderr, "cuda emulator: cuModuleLoadData: a real GPU cubin; set SNNC_NVRTC to "
                        "the emulator library so kernels are compiled for the host\n");
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    /* a file of its own for every module: the dynamic loader identifies objects by name,
     * so a reused name (as /proc/self/fd/N would be) could hand back an older module */
    size_t size = elf_size(b);
    const char *tmp = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/snnc-emu-module-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "cuda emulator: cuModuleLoadData: cannot create %s\n", path);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, b + off, size - off);
        if (w <= 0) {
            close(fd);
            unlink(path);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        off += (size_t)w;
    }
    close(fd);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    unlink(path);
    if (!h) {
        fprintf(stderr, "cuda emulator: cuModuleLoadData: %s\n", dlerror());
        return CUDA_ERROR_INVALID_IMAGE;
    }
    int (*bind)(snemu_abi *) = (int (*)(snemu_abi *))dlsym(h, "snemu_bind");
    if (!bind || bind(emu_abi()) != SNEMU_ABI_VERSION) {
        fprintf(stderr, "cuda emulator: cuModuleLoadData: the object was built for another "
                        "version of the emulator (clear the kernel cache)\n");
        dlclose(h);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    module *mod = calloc(1, sizeof *mod);
    if (!mod) {
        dlclose(h);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    mod->h = h;
    *m = (CUmodule)mod;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuModuleUnload(CUmodule m) {
    module *mod = (module *)m;
    if (!mod) return CUDA_ERROR_INVALID_HANDLE;
    dlclose(mod->h);
    free(mod->k);
    free(mod);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    module *mod = (module *)m;
    char sym[320];
    snprintf(sym, sizeof sym, "snemu_entry_%s", name);
    emu_entry entry = (emu_entry)dlsym(mod->h, sym);
    if (!entry) return CUDA_ERROR_NOT_FOUND;
    if (mod->nk == mod->capk) {
        /* kernels are few per module: a fixed block, never moved once handed out */
        if (mod->capk) return CUDA_ERROR_OUT_OF_MEMORY;
        mod->capk = 16;
        mod->k = calloc((size_t)mod->capk, sizeof *mod->k);
        if (!mod->k) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    emu_kernel *k = &mod->k[mod->nk++];
    snprintf(k->name, sizeof k->name, "%s", name);
    k->entry = entry;
    snprintf(sym, sizeof sym, "snemu_bounds_%s", name);
    const int *bounds = dlsym(mod->h, sym);
    k->bounds = bounds ? *bounds : 0;
    void (*range)(char **, char **) =
        (void (*)(char **, char **))dlsym(mod->h, "snemu_shared_range");
    if (range) range(&k->shared_begin, &k->shared_end);
    *f = (CUfunction)k;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                   unsigned by, unsigned bz, unsigned shmem, CUstream s,
                                   void **params, void **extra) {
    (void)s;
    if (!f || (!params && !extra)) return CUDA_ERROR_INVALID_VALUE;
    if (extra) {
        fprintf(stderr, "cuda emulator: cuLaunchKernel: the 'extra' argument form is not "
                        "emulated\n");
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (shmem) {
        fprintf(stderr, "cuda emulator: cuLaunchKernel: dynamic shared memory is not emulated\n");
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (emu_fail_now("cuLaunchKernel")) return CUDA_ERROR_LAUNCH_FAILED;
    launches++;
    unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
    return (CUresult)emu_launch((const emu_kernel *)f, grid, block, params);
}

/* ---- events: launches are synchronous, so an event is the host time it was recorded ------ */
typedef struct event {
    double t;
    int recorded;
} event;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

EMU_EXPORT CUresult cuEventCreate(CUevent *e, unsigned flags) {
    (void)flags;
    event *ev = calloc(1, sizeof *ev);
    if (!ev) return CUDA_ERROR_OUT_OF_MEMORY;
    *e = (CUevent)ev;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuEventDestroy_v2(CUevent e) {
    free(e);
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuEventRecord(CUevent e, CUstream s) {
    (void)s;
    event *ev = (event *)e;
    if (!ev) return CUDA_ERROR_INVALID_HANDLE;
    ev->t = now_ms();
    ev->recorded = 1;
    return CUDA_SUCCESS;
}

EMU_EXPORT CUresult cuEventSynchronize(CUevent e) {
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EMU_EXPORT CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
    const event *x = (const event *)a, *y = (const event *)b;
    if (!x || !y) return CUDA_ERROR_INVALID_HANDLE;
    if (!x->recorded || !y->recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)(y->t - x->t);
    return CUDA_SUCCESS;
}

/* ---- cuBLAS -----------------------------------------------------------------------------------
 */
typedef struct blas {
    int tf32;
} blas;

EMU_EXPORT cublasStatus_t cublasCreate_v2(cublasHandle_t *h) {
    blas *b = calloc(1, sizeof *b);
    if (!b) return CUBLAS_STATUS_ALLOC_FAILED;
    *h = (cublasHandle_t)b;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasDestroy_v2(cublasHandle_t h) {
    free(h);
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    ((blas *)h)->tf32 = m == CUBLAS_TF32_TENSOR_OP_MATH;
    return CUBLAS_STATUS_SUCCESS;
}

EMU_EXPORT const char *cublasGetStatusName(cublasStatus_t s) {
    switch (s) {
    case CUBLAS_STATUS_SUCCESS:
        return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE:
        return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
        return "CUBLAS_STATUS_ALLOC_FAILED";
    default:
        return "CUBLAS_STATUS_EXECUTION_FAILED";
    }
}

/* An operand of rows x cols (column-major, leading dimension ld) lies inside one allocation. */
static int operand_ok(const char *what, const float *p, int rows, int cols, int ld) {
    if (ld < rows || ld < 1) {
        fprintf(stderr, "cuda emulator: %s: leading dimension %d < %d rows\n", what, ld, rows);
        return 0;
    }
    size_t n = ((size_t)(cols - 1) * (size_t)ld + (size_t)rows) * sizeof(float);
    if (find((uintptr_t)p, n) < 0) {
        bad(what, (unsigned long long)(uintptr_t)p, n);
        return 0;
    }
    return 1;
}

/* TF32 as the tensor cores take an fp32 operand: the significand rounded to 10 bits. */
static float tf32(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    memcpy(&x, &u, 4);
    return x;
}

EMU_EXPORT cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta,
                                         cublasOperation_t tb, int m, int n, int k,
                                         const float *alpha, const float *A, int lda,
                                         const float *B, int ldb, const float *beta, float *C,
                                         int ldc) {
    if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (m <= 0 || n <= 0 || k <= 0) return CUBLAS_STATUS_INVALID_VALUE;
    int at = ta != CUBLAS_OP_N, bt = tb != CUBLAS_OP_N, t = ((blas *)h)->tf32;
    if (!operand_ok("sgemm A", A, at ? k : m, at ? m : k, lda) ||
        !operand_ok("sgemm B", B, bt ? n : k, bt ? k : n, ldb) ||
        !operand_ok("sgemm C", C, m, n, ldc))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (emu_fail_now("cublasSgemm_v2")) return CUBLAS_STATUS_EXECUTION_FAILED;
    gemms++;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            double acc = 0;
            for (int l = 0; l < k; l++) {
                float a = at ? A[(size_t)i * lda + l] : A[(size_t)l * lda + i];
                float b = bt ? B[(size_t)l * ldb + j] : B[(size_t)j * ldb + l];
                if (t) {
                    a = tf32(a);
                    b = tf32(b);
                }
                acc += (double)a * b;
            }
            float *c = &C[(size_t)j * ldc + i];
            *c = (float)(*alpha * acc + (*beta != 0.0f ? *beta * *c : 0.0f));
        }
    return CUBLAS_STATUS_SUCCESS;
}
