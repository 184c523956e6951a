/* NVRTC, loaded at run time (dlopen), so snnc runs where the CUDA toolkit is absent and
 * links no CUDA library. Compiles rendered kernels to PTX (and a cubin for a real
 * architecture, which also runs ptxas and so checks inline PTX), with the results cached
 * on disk (../cache.h, kind "cuda"; key: source, NVRTC version, architecture, options).
 *
 * Library search: $SNNC_NVRTC (a path), libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so, then
 * $CUDA_HOME/lib64 and /usr/local/cuda/lib64. Every failure names the NVRTC call, the
 * snnc source file:line, the kernel and the architecture, and carries NVRTC's log. */
#ifndef SN_CUDA_NVRTC_H
#define SN_CUDA_NVRTC_H

#include <stddef.h>

#include "../../../runtime/core/status.h"

/* Loads NVRTC once (thread-safe). Fails with SN_ERR_RUNTIME naming the libraries tried. */
sn_code sn_nvrtc_load(sn_status *st);
/* "13.0" once loaded, else "none". */
const char *sn_nvrtc_version(void);

/* An architecture as given to --arch: "sm_80", "sm_90", "sm_90a" (real: PTX and cubin) or
 * "compute_80" (virtual: PTX only). Checks the form and that NVRTC supports it (the
 * message lists what it supports); *cc receives the compute capability (80). */
sn_code sn_nvrtc_check_arch(const char *arch, int *cc, int *real, sn_status *st);

typedef struct sn_nvrtc_out {
    unsigned char *ptx; /* NUL-terminated text; malloc'd */
    size_t ptx_size;    /* without the NUL */
    unsigned char *cubin;
    size_t cubin_size; /* 0 for a virtual architecture */
    int cached;        /* came from the disk cache */
    double seconds;
} sn_nvrtc_out;

/* Compiles one kernel's complete source; `name` is the kernel (its program is NAME.cu in
 * NVRTC's messages). */
sn_code sn_nvrtc_compile(const char *name, const char *source, const char *arch, sn_nvrtc_out *out,
                         sn_status *st);
void sn_nvrtc_out_free(sn_nvrtc_out *o);

/* The snnc-relative path of a source file (__FILE__ without the build's prefix), for
 * messages. */
const char *sn_cu_srcfile(const char *file);

#endif
