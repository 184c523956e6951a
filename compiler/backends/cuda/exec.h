/* Running CUDA programs: '--target cuda' for eval, train, snn and bench.
 *
 * sn_cuda_plan lowers a graph to a CUDA program, compiles its kernels with NVRTC for the
 * GPU present (through the disk cache), loads them, allocates device memory, and wraps the
 * whole as an ordinary sn_plan so that every command runs it like a CPU plan:
 *
 *   - the plan's buffers are the host side: the input, label, output and loss, the weights
 *     (bound to the weight stores as usual) and, for callers that read intermediate
 *     tensors (spike metrics), every activation a caller marks `keep` before binding;
 *   - its one preparation step copies the weights to the device (once; weights a training
 *     program updated stay on the device) and runs the program's weight-time kernels;
 *   - its one step uploads the input batch, launches the kernels and cuBLAS GEMMs in
 *     order, and downloads the output, loss and kept tensors;
 *   - sn_plan_sync_weights copies trained weights and optimizer state back to the stores.
 *
 * Plans bound to the same weight store share the device copy of each weight (a training
 * and an evaluation plan see the same parameters without copies). With $SNNC_CUDA_SYNC
 * set, every launch is followed by a synchronization, so an asynchronous fault is reported
 * with the kernel that caused it. */
#ifndef SN_CUDA_EXEC_H
#define SN_CUDA_EXEC_H

#include "../../../runtime/exec/plan.h"
#include "../../ir/ir.h"
#include "../../passes/fusion.h"
#include "program.h"

typedef struct sn_cuda_plan_info {
    char device[128]; /* "NVIDIA H100 80GB HBM3" */
    char arch[16];    /* "sm_90" */
    int kernels, cached;
    double compile_seconds;
    int64_t device_bytes; /* activations and temporaries (weights are counted apart) */
} sn_cuda_plan_info;

/* Lowers g (partitioned into gs) for the GPU and fills plan (see above). Fails with the
 * driver's message when there is no usable GPU. info may be NULL. */
sn_code sn_cuda_plan(const sn_graph *g, const sn_groups *gs, sn_cu_precision precision,
                     sn_plan *plan, sn_cuda_plan_info *info, sn_status *st);

/* The CUDA program behind a plan made by sn_cuda_plan (NULL for any other plan): its
 * kernels, templates and steps, for tests and reports. */
const sn_cu_program *sn_cuda_plan_program(const sn_plan *plan);

#endif
