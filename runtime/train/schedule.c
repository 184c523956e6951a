#include "schedule.h"

#include <math.h>

static double base_at(const sn_lr_schedule *s, int64_t epoch) {
    switch (s->kind) {
    case SN_LR_MULTISTEP: {
        double lr = s->lr;
        for (int i = 0; i < s->nmilestones; i++)
            if (epoch >= s->milestones[i]) lr *= s->gamma;
        return lr;
    }
    case SN_LR_COSINE: {
        int64_t span = s->epochs - s->warmup_epochs;
        double e = (double)(epoch - s->warmup_epochs);
        if (span <= 0) return s->lr;
        if (e < 0) e = 0;
        if (e > (double)span) e = (double)span;
        return s->min_lr +
               (s->lr - s->min_lr) * (1.0 + cos(3.14159265358979323846 * e / (double)span)) / 2.0;
    }
    case SN_LR_CONSTANT:
        break;
    }
    return s->lr;
}

double sn_lr_at(const sn_lr_schedule *s, int64_t epoch, int64_t step_in_epoch,
                int64_t steps_per_epoch) {
    if (epoch < s->warmup_epochs && steps_per_epoch > 0) {
        double target = base_at(s, s->warmup_epochs);
        double done = (double)epoch + (double)step_in_epoch / (double)steps_per_epoch;
        return s->warmup_start_lr + (target - s->warmup_start_lr) * done / (double)s->warmup_epochs;
    }
    return base_at(s, epoch);
}
