/* Checkpoints: one safetensors file holding everything needed to continue a run exactly:
 * the model's parameters and buffers (under their state_dict names), the optimizer state
 * (under "optimizer.<slot>.<param name>", e.g. optimizer.momentum.features.0.weight), and
 * metadata strings: format, epoch, step, rng, best metric, model name, and anything the
 * caller adds. Written to a temporary file, fsync'd and renamed: a crash or kill never
 * leaves a corrupt checkpoint. The model weights alone load with `--weights` (extra
 * optimizer tensors are ignored there by sn_checkpoint_load_weights). */
#ifndef SN_CHECKPOINT_H
#define SN_CHECKPOINT_H

#include <stdint.h>

#include "../core/status.h"
#include "../weights/weights.h"

typedef struct sn_ckpt_meta {
    int64_t epoch;   /* epochs completed */
    int64_t step;    /* optimizer steps completed */
    uint64_t rng[4]; /* the run's sequential RNG state */
    double best;     /* best test top-1 so far (-1: none) */
    char model[64];
} sn_ckpt_meta;

/* Optimizer state: named slots ("momentum", "exp_avg", "exp_avg_sq"), each a weight store
 * parallel to the trainable parameters. A store's tensors are named after their parameter,
 * with or without the "optimizer.<slot>." prefix (the trainer's stores carry it: they are the
 * training plan's buffer names); the file names each "optimizer.<slot>.<param>" either way.
 * Loading also accepts the doubled prefix that files written before 2026-12 hold
 * ("optimizer.momentum.optimizer.momentum.features.0.weight"). */
typedef struct sn_opt_state {
    int nslots;
    const char *slot_names[4];
    sn_weights *slots[4];
} sn_opt_state;

sn_code sn_checkpoint_save(const char *path, const sn_weights *w, const sn_opt_state *opt,
                           const sn_ckpt_meta *meta, sn_status *st);
/* Loads a checkpoint into w and opt (both already shaped for the model): every tensor must
 * be present and match; returns the metadata. */
sn_code sn_checkpoint_load(const char *path, sn_weights *w, sn_opt_state *opt, sn_ckpt_meta *meta,
                           sn_status *st);

/* Loads only the model tensors of a checkpoint (or of any safetensors weights file) into
 * w, with the rules of sn_weights_load; tensors named "optimizer.*" are ignored. This is
 * what `--weights` uses, so a checkpoint can be passed there. */
sn_code sn_checkpoint_load_weights(const char *path, sn_weights *w, sn_status *st);

#endif
