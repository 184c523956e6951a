/* Summing gradients on the GPUs with NCCL, one GPU per rank (data-parallel training with
 * --target cuda).
 *
 * libnccl is loaded at run time (dlopen "libnccl.so.2", or $SNNC_NCCL), like libcuda, so
 * the binary runs where NCCL is not installed; only a multi-rank CUDA run needs it. Rank 0
 * makes the NCCL unique id and the host communicator (MPI) broadcasts it; every rank then
 * joins the NCCL communicator with it. Sums are enqueued on the caller's CUDA stream, in
 * buckets of about bucket_bytes, each a group of in-place ncclAllReduce calls with a
 * pre-multiplying sum operator (each gradient times this rank's share of the global batch,
 * the same scaling the CPU reducer applies). A failed NCCL call is reported with its name
 * and NCCL's message, and the communicator is aborted so no rank waits forever. */
#ifndef SN_NCCL_H
#define SN_NCCL_H

#include <stdint.h>

#include "../core/status.h"
#include "../exec/plan.h" /* sn_dev_grad */
#include "comm.h"

typedef struct sn_nccl sn_nccl;

/* Joins the job's NCCL communicator (collective over host: every rank calls it). */
sn_code sn_nccl_open(sn_nccl **out, sn_comm *host, sn_status *st);
void sn_nccl_close(sn_nccl *n);

/* Sums g[0 .. ng) in place over the ranks, each multiplied by `scale` first, on `stream`
 * (a CUstream; NULL: the default stream). Returns once enqueued. */
sn_code sn_nccl_allreduce(sn_nccl *n, const sn_dev_grad *g, int ng, float scale,
                          int64_t bucket_bytes, void *stream, sn_status *st);

#endif
