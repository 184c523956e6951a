/* Weight packing shared by the ranks of one host during data-parallel training.
 *
 * Every rank of a data-parallel job holds the same weights after each optimizer step, so
 * every rank would repack the same bytes at the start of the next step (Winograd
 * transforms, channel blocking): for VGG16 about 50 ms of memory-bound work per step,
 * repeated by each rank. Instead the ranks of a host pack into memory they share (an MPI-3
 * shared window), each rank the preparation steps it owns:
 *
 *   - the sharable steps are the plan's preparation steps with an out_mask (outputs only
 *     they write and the run steps only read, e.g. packed convolution weights);
 *   - their outputs move into the shared memory (the plan's buffers point there; a copy of
 *     what they held goes with them, and sn_prep_share_free moves them back);
 *   - the steps are dealt to the host's ranks by output size, largest first, each to the
 *     rank with the fewest bytes so far: a function of the plan alone, so every rank
 *     computes the same owners;
 *   - sn_plan_prepare then begins with a barrier (no rank still reads the packed weights of
 *     the last step), runs this rank's own steps and the unshared ones, and ends with a
 *     barrier (every rank's packing is done and visible).
 *
 * The packed bytes are the same whichever rank packs them, so results are bit-identical to
 * per-rank packing. The weights themselves stay per rank (they are the optimizer's and the
 * checkpoints'). */
#ifndef SN_PREPSHARE_H
#define SN_PREPSHARE_H

#include <stdint.h>

#include "../exec/plan.h"
#include "comm.h"

typedef struct sn_prep_share sn_prep_share;

typedef struct sn_prep_share_stats {
    int shared_steps; /* sharable preparation steps */
    int own_steps;    /* of which this rank runs */
    int64_t bytes;    /* shared memory */
    int64_t own_bytes;
    int64_t syncs;       /* the preparations' barriers so far (two each) */
    double sync_seconds; /* spent in them (waiting for the host's other ranks) */
} sn_prep_share_stats;

/* Collective over the ranks of this host (they must attach the same plan together). *out
 * is NULL, and the plan unchanged, where there is nothing to share: one rank on the host,
 * no sharable step, or a communicator without shared memory. p and c must outlive it. */
sn_code sn_prep_share_attach(sn_prep_share **out, sn_plan *p, sn_comm *c, sn_status *st);
/* Collective like the attach; the plan's buffers get their own memory back, with the
 * packed values. NULL is fine. */
void sn_prep_share_free(sn_prep_share *s);
void sn_prep_share_stats_get(const sn_prep_share *s, sn_prep_share_stats *out);

#endif
