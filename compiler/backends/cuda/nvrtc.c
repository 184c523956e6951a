/* NVRTC through dlopen (see nvrtc.h). */
#define _POSIX_C_SOURCE 200809L
#include "nvrtc.h"

#include <ctype.h>
#include <dlfcn.h>
#include <nvrtc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../cache.h"

typedef struct nvrtc_api {
    void *h;
    int major, minor;
    char version[32];
    char error[1024];
    const char *(*GetErrorString)(nvrtcResult);
    nvrtcResult (*Version)(int *, int *);
    nvrtcResult (*CreateProgram)(nvrtcProgram *, const char *, const char *, int,
                                 const char *const *, const char *const *);
    nvrtcResult (*DestroyProgram)(nvrtcProgram *);
    nvrtcResult (*CompileProgram)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*GetProgramLogSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetProgramLog)(nvrtcProgram, char *);
    nvrtcResult (*GetPTXSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetPTX)(nvrtcProgram, char *);
    nvrtcResult (*GetCUBINSize)(nvrtcProgram, size_t *);
    nvrtcResult (*GetCUBIN)(nvrtcProgram, char *);
    nvrtcResult (*GetNumSupportedArchs)(int *); /* optional */
    nvrtcResult (*GetSupportedArchs)(int *);    /* optional */
} nvrtc_api;

static nvrtc_api api;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

const char *sn_cu_srcfile(const char *file) {
    const char *best = file;
    for (const char *p = strstr(file, "compiler/"); p; p = strstr(p + 1, "compiler/")) best = p;
    return best;
}

static void *sym(const char *name, int required) {
    void *p = dlsym(api.h, name);
    if (!p && required && !api.error[0])
        snprintf(api.error, sizeof api.error, "symbol %s missing from NVRTC", name);
    return p;
}

static void load_once(void) {
    const char *env = getenv("SNNC_NVRTC");
    const char *home = getenv("CUDA_HOME");
    char home_path[1024] = "";
    if (home && *home) snprintf(home_path, sizeof home_path, "%s/lib64/libnvrtc.so", home);
    const char *names[] = {env && *env ? env : NULL,
                           "libnvrtc.so.13",
                           "libnvrtc.so.12",
                           "libnvrtc.so",
                           home_path[0] ? home_path : NULL,
                           "/usr/local/cuda/lib64/libnvrtc.so"};
    sn_strbuf tried;
    sn_sb_init(&tried);
    const char *last = "";
    for (size_t i = 0; i < SN_ARRAY_LEN(names) && !api.h; i++) {
        if (!names[i]) continue;
        api.h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!api.h) {
            const char *e = dlerror();
            last = e ? e : "";
            sn_sb_printf(&tried, "%s%s", tried.len ? ", " : "", names[i]);
        }
    }
    if (!api.h) {
        snprintf(api.error, sizeof api.error, "NVRTC not found (tried %s): %s", sn_sb_cstr(&tried),
                 last);
        sn_sb_free(&tried);
        return;
    }
    sn_sb_free(&tried);
    *(void **)&api.GetErrorString = sym("nvrtcGetErrorString", 1);
    *(void **)&api.Version = sym("nvrtcVersion", 1);
    *(void **)&api.CreateProgram = sym("nvrtcCreateProgram", 1);
    *(void **)&api.DestroyProgram = sym("nvrtcDestroyProgram", 1);
    *(void **)&api.CompileProgram = sym("nvrtcCompileProgram", 1);
    *(void **)&api.GetProgramLogSize = sym("nvrtcGetProgramLogSize", 1);
    *(void **)&api.GetProgramLog = sym("nvrtcGetProgramLog", 1);
    *(void **)&api.GetPTXSize = sym("nvrtcGetPTXSize", 1);
    *(void **)&api.GetPTX = sym("nvrtcGetPTX", 1);
    *(void **)&api.GetCUBINSize = sym("nvrtcGetCUBINSize", 1);
    *(void **)&api.GetCUBIN = sym("nvrtcGetCUBIN", 1);
    *(void **)&api.GetNumSupportedArchs = sym("nvrtcGetNumSupportedArchs", 0);
    *(void **)&api.GetSupportedArchs = sym("nvrtcGetSupportedArchs", 0);
    if (api.error[0]) {
        dlclose(api.h);
        api.h = NULL;
        return;
    }
    if (api.Version(&api.major, &api.minor) != NVRTC_SUCCESS) api.major = api.minor = 0;
    snprintf(api.version, sizeof api.version, "%d.%d", api.major, api.minor);
}

sn_code sn_nvrtc_load(sn_status *st) {
    pthread_once(&api_once, load_once);
    if (!api.h) return sn_fail(st, SN_ERR_RUNTIME, "%s", api.error);
    return SN_OK;
}

const char *sn_nvrtc_version(void) {
    return api.h ? api.version : "none";
}

sn_code sn_nvrtc_check_arch(const char *arch, int *cc, int *real, sn_status *st) {
    const char *p = arch;
    if (strncmp(p, "sm_", 3) == 0) {
        *real = 1;
        p += 3;
    } else if (strncmp(p, "compute_", 8) == 0) {
        *real = 0;
        p += 8;
    } else {
        p = NULL;
    }
    int v = 0, digits = 0;
    while (p && isdigit((unsigned char)*p) && digits < 4) v = v * 10 + (*p++ - '0'), digits++;
    if (p && (*p == 'a' || *p == 'f')) p++;
    if (!p || digits < 2 || *p)
        return sn_fail(st, SN_ERR_INPUT,
                       "--arch %s: expected sm_NN or compute_NN (e.g. sm_80, sm_90)", arch);
    *cc = v;
    if (sn_nvrtc_load(st)) return st->code;
    if (api.GetNumSupportedArchs && api.GetSupportedArchs) {
        int n = 0;
        if (api.GetNumSupportedArchs(&n) == NVRTC_SUCCESS && n > 0 && n < 1024) {
            int *list = sn_calloc((size_t)n, sizeof(int));
            if (!list) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            int ok = 0;
            sn_strbuf sb;
            sn_sb_init(&sb);
            if (api.GetSupportedArchs(list) == NVRTC_SUCCESS) {
                for (int i = 0; i < n; i++) {
                    ok |= list[i] == v;
                    sn_sb_printf(&sb, "%s%d", i ? " " : "", list[i]);
                }
            } else {
                ok = 1;
            }
            free(list);
            if (!ok) {
                sn_fail(st, SN_ERR_INPUT, "--arch %s: NVRTC %s does not support it (supported: %s)",
                        arch, api.version, sn_sb_cstr(&sb));
                sn_sb_free(&sb);
                return st->code;
            }
            sn_sb_free(&sb);
        }
    }
    return SN_OK;
}

void sn_nvrtc_out_free(sn_nvrtc_out *o) {
    free(o->ptx);
    free(o->cubin);
    memset(o, 0, sizeof *o);
}

/* Cache payload: "SNCU", ptx size, cubin size (little-endian u64), PTX, cubin. */
static int unpack(const unsigned char *d, size_t n, sn_nvrtc_out *o) {
    uint64_t ps, cs;
    if (n < 20 || memcmp(d, "SNCU", 4) != 0) return 0;
    memcpy(&ps, d + 4, 8);
    memcpy(&cs, d + 12, 8);
    if (ps > n || cs > n || 20 + ps + cs != n) return 0;
    o->ptx = malloc((size_t)ps + 1);
    o->cubin = cs ? malloc((size_t)cs) : NULL;
    if (!o->ptx || (cs && !o->cubin)) {
        sn_nvrtc_out_free(o);
        return 0;
    }
    memcpy(o->ptx, d + 20, (size_t)ps);
    o->ptx[ps] = 0;
    if (cs) memcpy(o->cubin, d + 20 + ps, (size_t)cs);
    o->ptx_size = (size_t)ps;
    o->cubin_size = (size_t)cs;
    return 1;
}

static void store(uint64_t key, const sn_nvrtc_out *o) {
    size_t n = 20 + o->ptx_size + o->cubin_size;
    unsigned char *d = malloc(n);
    if (!d) return;
    uint64_t ps = o->ptx_size, cs = o->cubin_size;
    memcpy(d, "SNCU", 4);
    memcpy(d + 4, &ps, 8);
    memcpy(d + 12, &cs, 8);
    memcpy(d + 20, o->ptx, o->ptx_size);
    if (cs) memcpy(d + 20 + ps, o->cubin, o->cubin_size);
    sn_cache_put("cuda", key, d, n);
    free(d);
}

static sn_code call_failed(sn_status *st, const char *call, int line, nvrtcResult r,
                           const char *name, const char *arch, nvrtcProgram prog) {
    sn_fail(st, SN_ERR_RUNTIME, "NVRTC call %s failed (%s) at %s:%d, kernel %s (%s)", call,
            api.GetErrorString(r), sn_cu_srcfile(__FILE__), line, name, arch);
    size_t n = 0;
    if (prog && api.GetProgramLogSize(prog, &n) == NVRTC_SUCCESS && n > 1) {
        char *log = malloc(n + 1);
        if (log && api.GetProgramLog(prog, log) == NVRTC_SUCCESS) {
            log[n] = 0;
            sn_status_append(st, "NVRTC log:\n%s", log);
        }
        free(log);
    }
    return st->code;
}

/* Calls nvrtc<fn><args>; on failure records the call, the line, the kernel and the log. */
#define NVRTC_CALL(fn, args)                                                                       \
    do {                                                                                           \
        nvrtcResult r_ = api.fn args;                                                              \
        if (r_ != NVRTC_SUCCESS) {                                                                 \
            rc = call_failed(st, "nvrtc" #fn #args, __LINE__, r_, name, arch, prog);               \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

sn_code sn_nvrtc_compile(const char *name, const char *source, const char *arch, sn_nvrtc_out *out,
                         sn_status *st) {
    memset(out, 0, sizeof *out);
    if (sn_nvrtc_load(st)) return st->code;
    double t0 = sn_now();
    int real = strncmp(arch, "sm_", 3) == 0;
    char opt_arch[64];
    snprintf(opt_arch, sizeof opt_arch, "--gpu-architecture=%s", arch);
    /* IEEE float semantics wherever the source does not say otherwise (the elementwise
     * definitions and neuron updates use explicitly rounded intrinsics; GEMM inner products
     * may contract into FMAs) */
    const char *opts[] = {
        opt_arch,          "--std=c++17",      "--fmad=true",         "--ftz=false",
        "--prec-div=true", "--prec-sqrt=true", "--generate-line-info"};
    int nopts = (int)SN_ARRAY_LEN(opts);
    uint64_t key = sn_hash_str(SN_HASH_INIT, "snnc-cuda-1");
    key = sn_hash_str(key, api.version);
    for (int i = 0; i < nopts; i++) key = sn_hash_str(key, opts[i]);
    key = sn_hash_str(key, source);
    unsigned char *cached = NULL;
    size_t csize = 0;
    if (sn_cache_get("cuda", key, &cached, &csize)) {
        int ok = unpack(cached, csize, out);
        free(cached);
        if (ok) {
            out->cached = 1;
            out->seconds = sn_now() - t0;
            return SN_OK;
        }
    }
    nvrtcProgram prog = NULL;
    sn_code rc = SN_OK;
    char pname[256];
    snprintf(pname, sizeof pname, "%s.cu", name);
    NVRTC_CALL(CreateProgram, (&prog, source, pname, 0, NULL, NULL));
    NVRTC_CALL(CompileProgram, (prog, nopts, opts));
    size_t n = 0;
    NVRTC_CALL(GetPTXSize, (prog, &n));
    out->ptx = malloc(n + 1);
    if (!out->ptx) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "out of memory for the PTX of %s", name);
        goto done;
    }
    NVRTC_CALL(GetPTX, (prog, (char *)out->ptx));
    out->ptx[n] = 0;
    out->ptx_size = strlen((const char *)out->ptx);
    if (real) {
        NVRTC_CALL(GetCUBINSize, (prog, &n));
        out->cubin = malloc(n ? n : 1);
        if (!out->cubin) {
            rc = sn_fail(st, SN_ERR_RUNTIME, "out of memory for the cubin of %s", name);
            goto done;
        }
        NVRTC_CALL(GetCUBIN, (prog, (char *)out->cubin));
        out->cubin_size = n;
    }
    store(key, out);
done:
    if (prog) api.DestroyProgram(&prog);
    if (rc) {
        sn_nvrtc_out_free(out);
        return rc;
    }
    out->seconds = sn_now() - t0;
    return SN_OK;
}
