/* The CUDA backend's entry points for the driver: compile a lowered program with NVRTC
 * (in parallel, through the disk cache), write it out for 'snnc compile --target cuda',
 * and answer '--target cuda' runs. */
#ifndef SN_CUDA_BACKEND_H
#define SN_CUDA_BACKEND_H

#include "../../../runtime/core/status.h"
#include "program.h"

typedef struct sn_cuda_compile_stats {
    int kernels;
    int cached;     /* from the disk cache */
    double seconds; /* wall time */
    size_t ptx_bytes, cubin_bytes;
} sn_cuda_compile_stats;

/* Checks `arch` (sn_nvrtc_check_arch), then compiles every kernel of p for it with up to
 * `jobs` NVRTC compilations at once (0: the number of CPUs; helper processes, since NVRTC
 * compiles one program at a time per process, handing results over through the disk
 * cache, so a disabled cache means one at a time). A failing kernel is reported with its
 * NVRTC log. With $SNNC_DUMP set, each kernel's .cu and .ptx
 * are also written there. */
sn_code sn_cuda_compile(sn_cu_program *p, const char *arch, int jobs, sn_cuda_compile_stats *stats,
                        sn_status *st);

/* Writes DIR/cuda_plan.json and DIR/kernels/NAME.{cu,ptx[,cubin]} (DIR is created). */
sn_code sn_cuda_write(const sn_cu_program *p, const char *arch, const char *dir, sn_status *st);

/* The compute capability of the machine's GPU as "sm_NN" (for a default --arch); fails
 * with the driver's message when there is none. */
sn_code sn_cuda_device_arch(char *arch, size_t n, sn_status *st);

#endif
