/* Training batches prepared on a background thread.
 *
 * Each epoch visits the dataset in an order that is a pure function of (seed, epoch):
 * the identity without shuffling, else a Fisher-Yates permutation drawn from an sn_rng
 * seeded with sn_mix64(seed ^ sn_mix64(epoch)). Batches are the consecutive runs of that
 * order (the last one short unless drop_last). Images go through the transform with
 * (seed, epoch) so augmentation is reproducible, and a resumed run can start an epoch at
 * any batch and see exactly the batches an uninterrupted run would have seen.
 *
 * While the caller trains on batch b, the loader thread prepares batch b+1 (double
 * buffering), so compute does not wait for data unless data preparation is slower.
 *
 * Data-parallel training: every rank runs a loader over the same data with the same seed
 * and takes its part of each batch (part_first, part_count; sn_loader_part), so the images
 * of a step and their augmentation do not depend on the number of ranks. */
#ifndef SN_LOADER_H
#define SN_LOADER_H

#include <stdint.h>

#include "../core/status.h"
#include "dataset.h"
#include "transform.h"

typedef struct sn_loader sn_loader;

typedef struct sn_loader_opts {
    int64_t batch; /* images per batch, >= 1 */
    int shuffle;
    int drop_last; /* skip the final short batch */
    uint64_t seed;
    int background; /* 1: prepare on a worker thread (default); 0: inline (tests) */
    /* only images [part_first, part_first + part_count) of each batch (a rank's part);
     * part_count 0: the whole batch */
    int64_t part_first, part_count;
} sn_loader_opts;

/* Rank `rank` of `ranks`' part of a batch of `batch` images: consecutive, as equal as can
 * be (the first batch % ranks ranks get one image more). */
void sn_loader_part(int64_t batch, int rank, int ranks, int64_t *first, int64_t *count);

/* ds and tf must outlive the loader. */
sn_code sn_loader_create(sn_loader **out, const sn_dataset *ds, const sn_transform *tf,
                         const sn_loader_opts *o, sn_status *st);
void sn_loader_destroy(sn_loader *l);

/* Batches in an epoch. */
int64_t sn_loader_batches(const sn_loader *l);

/* Starts epoch `epoch` at batch `first` (0 normally; > 0 when resuming). */
void sn_loader_start(sn_loader *l, uint64_t epoch, int64_t first);

/* The next batch of the epoch: *x -> floats [n, C, H, W], *y -> labels [n], valid until the
 * next call. Returns the number of images n, or 0 at the end of the epoch. */
int64_t sn_loader_next(sn_loader *l, const float **x, const int32_t **y);

/* Seconds the caller spent blocked in sn_loader_next waiting for data (for reports). */
double sn_loader_wait_seconds(const sn_loader *l);

#endif
