/* The NVRTC half of the CUDA emulator (see emu.h): nvrtcCompileProgram compiles the
 * kernel's source as the real NVRTC would receive it, with cuda_emu.h pasted in front and
 * one SNEMU_ENTRY line per extern "C" __global__ function appended, using the host's C++17
 * compiler ($SNNC_EMU_CXX, else c++, g++ or clang++ on the PATH) into a shared object. The
 * object is the "cubin" (its bytes, an ELF image cuModuleLoadData loads); the "PTX" is a
 * short text naming what was built. Compiler diagnostics are the program log.
 *
 * nvrtcVersion reports 0.N with N a hash of the emulation header and the compiler command,
 * so snnc's kernel cache (keyed by the NVRTC version) never hands an object built for
 * another header or compiler to the emulator, nor an emulator object to a real GPU.
 *
 * $SNNC_EMU_MUTATE=FROM=>TO (with \n for a newline) replaces the first FROM in every
 * source that has one before compiling: a planted fault, to show that the conformance
 * tests catch it (the setting is part of the version, so mutated objects never meet
 * unmutated ones in the cache).
 *
 * Options: those snnc passes (--gpu-architecture=sm_NN or compute_NN, --std=c++17, --fmad,
 * --ftz, --prec-div, --prec-sqrt, --generate-line-info); others fail with
 * NVRTC_ERROR_INVALID_OPTION. --fmad=true allows the GPU to contract a * b + c into an FMA;
 * the host build never contracts (-ffp-contract=off), so such sums may differ from the
 * hardware's in the last bit. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <nvrtc.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "emu.h"

extern char **environ;

#ifndef SNNC_EMU_HEADER
#error "SNNC_EMU_HEADER must name tests/emu/cuda_emu.h"
#endif

typedef struct program {
    char *src, *name;
    char *log;
    unsigned char *obj;
    size_t nobj;
    char *ptx;
} program;

static struct {
    int loaded;
    char *header; /* cuda_emu.h */
    char cxx[256];
    char *from, *to;  /* $SNNC_EMU_MUTATE, decoded */
    unsigned version; /* hash of header, compiler and mutation */
    char error[512];
} E;

static const char *const cxx_flags[] = {"-x",
                                        "c++",
                                        "-std=c++17",
                                        "-O2",
                                        "-fPIC",
                                        "-shared",
                                        "-fvisibility=hidden",
                                        "-ffp-contract=off",
                                        "-fno-exceptions",
                                        "-fno-rtti",
                                        "-fno-threadsafe-statics",
                                        "-w",
                                        "-g0"};

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *g = realloc(buf, cap);
            if (!g) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096) break;
    }
    fclose(f);
    buf[len] = 0;
    if (n) *n = len;
    return buf;
}

static int on_path(const char *exe) {
    if (strchr(exe, '/')) return access(exe, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[4096];
    while (*path) {
        size_t l = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)l, path, exe);
        if (access(dir, X_OK) == 0) return 1;
        path += l + (path[l] == ':');
    }
    return 0;
}

static unsigned fnv(unsigned h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* n bytes of s with \n turned into a newline and \\ into a backslash */
static char *unescape(const char *s, size_t n) {
    char *o = malloc(n + 1), *w = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
            *w++ = s[i + 1] == 'n' ? '\n' : '\\';
            i++;
        } else {
            *w++ = s[i];
        }
    }
    *w = 0;
    return o;
}

static int load(void) {
    if (E.loaded) return E.error[0] ? -1 : 0;
    E.loaded = 1;
    const char *hp = getenv("SNNC_EMU_HEADER");
    if (!hp || !*hp) hp = SNNC_EMU_HEADER;
    E.header = read_all(hp, NULL);
    if (!E.header) {
        snprintf(E.error, sizeof E.error, "cannot read the emulation header %s: %s", hp,
                 strerror(errno));
        return -1;
    }
    const char *env = getenv("SNNC_EMU_CXX");
    const char *cands[] = {env && *env ? env : NULL, "c++", "g++", "clang++"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0] && !E.cxx[0]; i++)
        if (cands[i] && on_path(cands[i])) snprintf(E.cxx, sizeof E.cxx, "%s", cands[i]);
    if (!E.cxx[0]) {
        snprintf(E.error, sizeof E.error,
                 "no C++ compiler found (c++, g++, clang++; or set "
                 "SNNC_EMU_CXX)");
        return -1;
    }
    const char *mut = getenv("SNNC_EMU_MUTATE");
    if (mut && *mut) {
        const char *arrow = strstr(mut, "=>");
        if (!arrow) {
            snprintf(E.error, sizeof E.error, "SNNC_EMU_MUTATE=%s: expected FROM=>TO", mut);
            return -1;
        }
        E.from = unescape(mut, (size_t)(arrow - mut));
        E.to = unescape(arrow + 2, strlen(arrow + 2));
        if (!E.from || !E.to || !*E.from) {
            snprintf(E.error, sizeof E.error, "SNNC_EMU_MUTATE: empty FROM or out of memory");
            return -1;
        }
    }
    unsigned h = fnv(2166136261u, E.header);
    h = fnv(h, E.cxx);
    if (E.from) h = fnv(fnv(fnv(h, "mutate"), E.from), E.to);
    for (size_t i = 0; i < sizeof cxx_flags / sizeof cxx_flags[0]; i++) h = fnv(h, cxx_flags[i]);
    E.version = h % 100000u;
    return 0;
}

EMU_EXPORT const char *nvrtcGetErrorString(nvrtcResult r) {
    switch (r) {
    case NVRTC_SUCCESS:
        return "NVRTC_SUCCESS";
    case NVRTC_ERROR_OUT_OF_MEMORY:
        return "NVRTC_ERROR_OUT_OF_MEMORY";
    case NVRTC_ERROR_INVALID_INPUT:
        return "NVRTC_ERROR_INVALID_INPUT";
    case NVRTC_ERROR_INVALID_PROGRAM:
        return "NVRTC_ERROR_INVALID_PROGRAM";
    case NVRTC_ERROR_INVALID_OPTION:
        return "NVRTC_ERROR_INVALID_OPTION";
    case NVRTC_ERROR_COMPILATION:
        return "NVRTC_ERROR_COMPILATION";
    default:
        return "NVRTC_ERROR_INTERNAL_ERROR";
    }
}

EMU_EXPORT nvrtcResult nvrtcVersion(int *major, int *minor) {
    if (load()) {
        fprintf(stderr, "cuda emulator: %s\n", E.error);
        return NVRTC_ERROR_INTERNAL_ERROR;
    }
    *major = 0;
    *minor = (int)E.version;
    return NVRTC_SUCCESS;
}

static const int archs[] = {75, 80, 86, 89, 90};

EMU_EXPORT nvrtcResult nvrtcGetNumSupportedArchs(int *n) {
    *n = (int)(sizeof archs / sizeof archs[0]);
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetSupportedArchs(int *out) {
    memcpy(out, archs, sizeof archs);
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name,
                                          int nheaders, const char *const *headers,
                                          const char *const *include_names) {
    (void)headers;
    (void)include_names;
    if (!prog || !src) return NVRTC_ERROR_INVALID_INPUT;
    if (nheaders != 0) return NVRTC_ERROR_INVALID_INPUT; /* snnc's kernels are self-contained */
    program *p = calloc(1, sizeof *p);
    if (!p) return NVRTC_ERROR_OUT_OF_MEMORY;
    p->src = strdup(src);
    p->name = strdup(name ? name : "kernel.cu");
    if (!p->src || !p->name) {
        free(p->src);
        free(p->name);
        free(p);
        return NVRTC_ERROR_OUT_OF_MEMORY;
    }
    *prog = (nvrtcProgram)p;
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog) {
    if (!prog || !*prog) return NVRTC_ERROR_INVALID_PROGRAM;
    program *p = (program *)*prog;
    free(p->src);
    free(p->name);
    free(p->log);
    free(p->obj);
    free(p->ptx);
    free(p);
    *prog = NULL;
    return NVRTC_SUCCESS;
}

static void set_log(program *p, const char *fmt, const char *a, const char *b) {
    free(p->log);
    size_t n = strlen(fmt) + (a ? strlen(a) : 0) + (b ? strlen(b) : 0) + 1;
    p->log = malloc(n);
    if (p->log) snprintf(p->log, n, fmt, a ? a : "", b ? b : "");
}

/* Appends "SNEMU_ENTRY(name, bounds)\n" for each extern "C" __global__ function of src. */
static int entries(const char *src, char *out, size_t n, char *names, size_t nn) {
    static const char marker[] = "extern \"C\" __global__";
    size_t len = 0, nlen = 0;
    int found = 0;
    out[0] = names[0] = 0;
    for (const char *p = strstr(src, marker); p; p = strstr(p + 1, marker)) {
        const char *q = p + sizeof marker - 1;
        int bounds = 0;
        char ident[256] = "";
        for (;;) {
            while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
            if (*q == '(') break;
            size_t l = 0;
            while ((q[l] >= 'a' && q[l] <= 'z') || (q[l] >= 'A' && q[l] <= 'Z') ||
                   (q[l] >= '0' && q[l] <= '9') || q[l] == '_')
                l++;
            if (!l || l >= sizeof ident) return -1;
            memcpy(ident, q, l);
            ident[l] = 0;
            q += l;
            if (strcmp(ident, "__launch_bounds__") == 0) {
                while (*q == ' ') q++;
                if (*q != '(') return -1;
                bounds = atoi(q + 1);
                q = strchr(q, ')');
                if (!q) return -1;
                q++;
                ident[0] = 0;
            }
        }
        if (!ident[0]) return -1;
        int w = snprintf(out + len, n - len, "SNEMU_ENTRY(%s, %d)\n", ident, bounds);
        if (w < 0 || (size_t)w >= n - len) return -1;
        len += (size_t)w;
        w = snprintf(names + nlen, nn - nlen, "%s%s", nlen ? " " : "", ident);
        if (w < 0 || (size_t)w >= nn - nlen) return -1;
        nlen += (size_t)w;
        found++;
    }
    return found;
}

static int known_option(const char *o, char *arch, size_t n) {
    static const char *const plain[] = {
        "--std=c++17",       "--fmad=true",          "--fmad=false",     "--ftz=false",
        "--ftz=true",        "--prec-div=true",      "--prec-sqrt=true", "--prec-div=false",
        "--prec-sqrt=false", "--generate-line-info", "-lineinfo"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(o, plain[i]) == 0) return 1;
    const char *a = NULL;
    if (strncmp(o, "--gpu-architecture=", 19) == 0) a = o + 19;
    if (strncmp(o, "-arch=", 6) == 0) a = o + 6;
    if (!a) return 0;
    int cc = 0;
    if (strncmp(a, "sm_", 3) == 0)
        cc = atoi(a + 3);
    else if (strncmp(a, "compute_", 8) == 0)
        cc = atoi(a + 8);
    int ok = 0;
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) ok |= archs[i] == cc;
    if (!ok) return 0;
    snprintf(arch, n, "%s", a);
    return 1;
}

EMU_EXPORT nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int nopts, const char *const *opts) {
    program *p = (program *)prog;
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    if (load()) {
        set_log(p, "cuda emulator: %s%s\n", E.error, NULL);
        return NVRTC_ERROR_COMPILATION;
    }
    char arch[32] = "sm_90";
    for (int i = 0; i < nopts; i++)
        if (!known_option(opts[i], arch, sizeof arch)) {
            set_log(p, "cuda emulator: option %s is not supported%s\n", opts[i], NULL);
            return NVRTC_ERROR_INVALID_OPTION;
        }
    char footer[8192], names[4096];
    if (entries(p->src, footer, sizeof footer, names, sizeof names) <= 0) {
        set_log(p, "cuda emulator: %s: no extern \"C\" __global__ function found%s\n", p->name,
                NULL);
        return NVRTC_ERROR_COMPILATION;
    }
    char dir[] = "/tmp/snnc-emu-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char dirbuf[4096];
    if (tmp && *tmp) {
        snprintf(dirbuf, sizeof dirbuf, "%s/snnc-emu-XXXXXX", tmp);
    } else {
        snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    }
    if (!mkdtemp(dirbuf)) {
        set_log(p, "cuda emulator: cannot make a temporary directory: %s%s\n", strerror(errno),
                NULL);
        return NVRTC_ERROR_INTERNAL_ERROR;
    }
    char src[4200], obj[4200], log[4200];
    snprintf(src, sizeof src, "%s/kernel.cpp", dirbuf);
    snprintf(obj, sizeof obj, "%s/kernel.so", dirbuf);
    snprintf(log, sizeof log, "%s/log.txt", dirbuf);
    nvrtcResult rc = NVRTC_ERROR_COMPILATION;
    FILE *f = fopen(src, "w");
    if (f) {
        const char *at = E.from ? strstr(p->src, E.from) : NULL;
        fprintf(f, "%s\n#line 1 \"%s\"\n", E.header, p->name);
        if (at) {
            fwrite(p->src, 1, (size_t)(at - p->src), f);
            fputs(E.to, f);
            fputs(at + strlen(E.from), f);
            fprintf(stderr, "cuda emulator: %s: planted fault (SNNC_EMU_MUTATE)\n", p->name);
        } else {
            fputs(p->src, f);
        }
        fprintf(f, "\n%s", footer);
        if (fclose(f) != 0) f = NULL;
    }
    if (!f) {
        set_log(p, "cuda emulator: cannot write %s%s\n", src, NULL);
        rc = NVRTC_ERROR_INTERNAL_ERROR;
        goto cleanup;
    }
    const char *argv[32];
    int na = 0;
    argv[na++] = E.cxx;
    for (size_t i = 0; i < sizeof cxx_flags / sizeof cxx_flags[0]; i++) argv[na++] = cxx_flags[i];
    argv[na++] = "-o";
    argv[na++] = obj;
    argv[na++] = src;
    argv[na++] = "-lm";
    argv[na] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int status = -1;
    int e = posix_spawnp(&pid, E.cxx, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    char *text = read_all(log, NULL);
    if (e != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        set_log(p, "cuda emulator: the host compiler failed on %s:\n%s", p->name,
                text ? text : strerror(e));
        free(text);
        goto cleanup;
    }
    free(text);
    p->obj = (unsigned char *)read_all(obj, &p->nobj);
    if (!p->obj) {
        set_log(p, "cuda emulator: cannot read %s%s\n", obj, NULL);
        rc = NVRTC_ERROR_INTERNAL_ERROR;
        goto cleanup;
    }
    size_t np = strlen(names) + strlen(p->name) + strlen(arch) + 128;
    p->ptx = malloc(np);
    if (!p->ptx) {
        rc = NVRTC_ERROR_OUT_OF_MEMORY;
        goto cleanup;
    }
    snprintf(p->ptx, np, "// snnc CUDA emulator: %s built for the host (as %s)\n// .entry %s\n",
             p->name, arch, names);
    set_log(p, "%s%s", "", NULL);
    rc = NVRTC_SUCCESS;
cleanup:
    unlink(src);
    unlink(obj);
    unlink(log);
    rmdir(dirbuf);
    return rc;
}

EMU_EXPORT nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *n) {
    program *p = (program *)prog;
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    *n = (p->log ? strlen(p->log) : 0) + 1;
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *out) {
    program *p = (program *)prog;
    if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
    strcpy(out, p->log ? p->log : "");
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *n) {
    program *p = (program *)prog;
    if (!p || !p->ptx) return NVRTC_ERROR_INVALID_PROGRAM;
    *n = strlen(p->ptx) + 1;
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *out) {
    program *p = (program *)prog;
    if (!p || !p->ptx) return NVRTC_ERROR_INVALID_PROGRAM;
    strcpy(out, p->ptx);
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *n) {
    program *p = (program *)prog;
    if (!p || !p->obj) return NVRTC_ERROR_INVALID_PROGRAM;
    *n = p->nobj;
    return NVRTC_SUCCESS;
}

EMU_EXPORT nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *out) {
    program *p = (program *)prog;
    if (!p || !p->obj) return NVRTC_ERROR_INVALID_PROGRAM;
    memcpy(out, p->obj, p->nobj);
    return NVRTC_SUCCESS;
}
