/* Learning-rate schedules, evaluated per optimizer step.
 *
 *   warmup:    for the first warmup_epochs, lr rises linearly (per step) from
 *              warmup_start_lr to the schedule's value at the end of the warmup
 *   constant:  lr
 *   multistep: lr * gamma^(number of milestones <= epoch)     (torch MultiStepLR, per epoch)
 *   cosine:    min_lr + (lr - min_lr) * (1 + cos(pi * e / E)) / 2 with e the epochs after
 *              warmup and E = epochs - warmup_epochs          (torch CosineAnnealingLR) */
#ifndef SN_SCHEDULE_H
#define SN_SCHEDULE_H

#include <stdint.h>

typedef enum sn_sched_kind { SN_LR_CONSTANT = 0, SN_LR_MULTISTEP, SN_LR_COSINE } sn_sched_kind;

typedef struct sn_lr_schedule {
    sn_sched_kind kind;
    double lr, min_lr, gamma;
    const int *milestones;
    int nmilestones;
    int epochs;
    int warmup_epochs;
    double warmup_start_lr;
} sn_lr_schedule;

/* The learning rate of the step at `step_in_epoch` (0-based) of `epoch` (0-based). */
double sn_lr_at(const sn_lr_schedule *s, int64_t epoch, int64_t step_in_epoch,
                int64_t steps_per_epoch);

#endif
