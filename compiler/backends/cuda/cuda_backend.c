/* Compiling and writing CUDA programs (see cuda_backend.h). */
#define _POSIX_C_SOURCE 200809L
#include "cuda_backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../runtime/core/util.h"
#include "../cache.h"
#include "driver.h"
#include "nvrtc.h"

/* Compiles kernel k; fills it on success. */
static sn_code compile_one(sn_cu_kernel *k, const char *arch, sn_status *st) {
    sn_nvrtc_out o;
    if (sn_nvrtc_compile(k->name, k->source, arch, &o, st)) return st->code;
    free(k->ptx);
    free(k->cubin);
    k->ptx = o.ptx;
    k->ptx_size = o.ptx_size;
    k->cubin = o.cubin;
    k->cubin_size = o.cubin_size;
    k->cached = o.cached;
    k->seconds = o.seconds;
    return SN_OK;
}

/* A helper process: compiles kernels w, w + jobs, ... into the disk cache and writes one
 * byte per kernel to fd (0 failed, 1 compiled, 2 found in the cache). */
static void helper(sn_cu_program *p, const char *arch, int w, int jobs, int fd) {
    sn_status *st = malloc(sizeof *st);
    for (int i = w; i < p->nkernels; i += jobs) {
        unsigned char r = 0;
        if (st) {
            sn_status_init(st);
            sn_nvrtc_out o;
            if (sn_nvrtc_compile(p->kernels[i].name, p->kernels[i].source, arch, &o, st) == SN_OK) {
                r = o.cached ? 2 : 1;
                sn_nvrtc_out_free(&o);
            }
        }
        if (write(fd, &r, 1) != 1) break;
    }
    _exit(0);
}

static void dump(const sn_cu_kernel *k) {
    const char *dir = getenv("SNNC_DUMP");
    if (!dir || !*dir) return;
    sn_status st;
    sn_status_init(&st);
    if (sn_mkdirs(dir, &st)) return;
    char path[4096], name[SN_CU_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s.cu", k->name);
    sn_path_join(path, sizeof path, dir, name);
    sn_write_file_replace(path, k->source, strlen(k->source), &st);
    snprintf(name, sizeof name, "%s.ptx", k->name);
    sn_path_join(path, sizeof path, dir, name);
    sn_write_file_replace(path, k->ptx, k->ptx_size, &st);
}

sn_code sn_cuda_compile(sn_cu_program *p, const char *arch, int jobs, sn_cuda_compile_stats *stats,
                        sn_status *st) {
    memset(stats, 0, sizeof *stats);
    int cc, real;
    if (sn_nvrtc_check_arch(arch, &cc, &real, st)) return st->code;
    if (p->precision != SN_CU_FP32 && cc < 80)
        return sn_fail(st, SN_ERR_INPUT,
                       "--precision %s needs tensor cores of sm_80 or later (got %s)",
                       sn_cu_precision_names[p->precision], arch);
    double t0 = sn_now();
    int n = p->nkernels;
    if (jobs <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = c > 0 ? (int)c : 1;
    }
    if (jobs > n) jobs = n;
    if (jobs > 64) jobs = 64;
    if (!sn_cache_dir()) jobs = 1; /* helpers hand their results over through the cache */
    /* NVRTC serializes compilations within a process, so the parallel workers are helper
     * processes: each compiles its share into the disk cache; this process compiles its own
     * share, then takes the helpers' kernels from the cache (compiling any a helper could
     * not, which also produces the error message). */
    unsigned char *helped = sn_calloc((size_t)(n ? n : 1), 1);
    if (!helped) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    pid_t pids[64];
    int fds[64], nh = 0, owner[64];
    fflush(stdout);
    fflush(stderr);
    for (int w = 1; w < jobs; w++) {
        int fd[2];
        if (pipe(fd) != 0) break;
        pid_t pid = fork();
        if (pid == 0) {
            close(fd[0]);
            helper(p, arch, w, jobs, fd[1]);
        }
        close(fd[1]);
        if (pid < 0) {
            close(fd[0]);
            break;
        }
        pids[nh] = pid;
        fds[nh] = fd[0];
        owner[nh++] = w;
    }
    sn_code c = SN_OK;
    for (int i = 0; i < n && !c; i += jobs) c = compile_one(&p->kernels[i], arch, st);
    for (int h = 0; h < nh; h++) {
        for (int i = owner[h]; i < n; i += jobs) {
            unsigned char r;
            if (read(fds[h], &r, 1) != 1) break;
            helped[i] = r;
        }
        close(fds[h]);
        while (waitpid(pids[h], NULL, 0) < 0 && errno == EINTR) {
        }
    }
    for (int i = 0; i < n && !c; i++) {
        if (p->kernels[i].ptx) continue;
        c = compile_one(&p->kernels[i], arch, st);
        if (!c && helped[i]) p->kernels[i].cached = helped[i] == 2;
    }
    free(helped);
    if (c) return c;
    for (int i = 0; i < p->nkernels; i++) {
        const sn_cu_kernel *k = &p->kernels[i];
        if (!k->ptx) return sn_fail(st, SN_ERR_RUNTIME, "kernel %s was not compiled", k->name);
        stats->kernels++;
        stats->cached += k->cached;
        stats->ptx_bytes += k->ptx_size;
        stats->cubin_bytes += k->cubin_size;
        dump(k);
    }
    stats->seconds = sn_now() - t0;
    return SN_OK;
}

static sn_code write_one(const char *dir, const char *name, const char *ext, const void *data,
                         size_t size, sn_status *st) {
    char path[4096], file[SN_CU_NAME_MAX + 16];
    snprintf(file, sizeof file, "%s.%s", name, ext);
    sn_path_join(path, sizeof path, dir, file);
    return sn_write_file_atomic(path, data, size, st);
}

sn_code sn_cuda_write(const sn_cu_program *p, const char *arch, const char *dir, sn_status *st) {
    char kdir[4096];
    sn_path_join(kdir, sizeof kdir, dir, "kernels");
    if (sn_mkdirs(kdir, st)) return st->code;
    for (int i = 0; i < p->nkernels; i++) {
        const sn_cu_kernel *k = &p->kernels[i];
        if (write_one(kdir, k->name, "cu", k->source, strlen(k->source), st) ||
            (k->ptx && write_one(kdir, k->name, "ptx", k->ptx, k->ptx_size, st)) ||
            (k->cubin_size && write_one(kdir, k->name, "cubin", k->cubin, k->cubin_size, st)))
            return st->code;
    }
    sn_cu_memplan m;
    if (sn_cu_plan_memory(p, NULL, 1, &m, st)) return st->code;
    sn_strbuf json;
    sn_sb_init(&json);
    sn_cu_program_json(p, &m, arch, &json);
    sn_cu_memplan_free(&m);
    char path[4096];
    sn_path_join(path, sizeof path, dir, "cuda_plan.json");
    sn_code c = json.oom ? sn_fail(st, SN_ERR_RUNTIME, "out of memory")
                         : sn_write_file_atomic(path, json.data, json.len, st);
    sn_sb_free(&json);
    return c;
}

sn_code sn_cuda_device_arch(char *arch, size_t n, sn_status *st) {
    sn_cuda_driver *d;
    if (sn_cuda_driver_open(0, &d, st)) return st->code;
    snprintf(arch, n, "sm_%d", sn_cuda_driver_cc(d));
    sn_cuda_driver_close(d);
    return SN_OK;
}
