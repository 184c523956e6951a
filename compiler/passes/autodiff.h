/* Reverse-mode automatic differentiation on the graph IR.
 *
 * Appends to a training graph (built with training = 1 and a loss) the backward ops that
 * compute the gradient of the mean loss with respect to every parameter, then one
 * optimizer update per parameter. Gradients flow only where they are needed: an input
 * image never gets one, so the first convolution has no data gradient. Straight-through
 * estimators (spec-spatiotemporal.md): ternary weights pass their gradient to the float
 * weights unchanged; Q(k, B) passes it where 0 < x < B. A tensor read by several ops
 * gets the sum of their gradients. */
#ifndef SN_AUTODIFF_H
#define SN_AUTODIFF_H

#include "../ir/ir.h"

typedef struct sn_optim_opts {
    int adam;       /* 0: SGD */
    float momentum; /* SGD */
    int nesterov;   /* SGD */
    float weight_decay;
    float beta1, beta2, eps; /* Adam */
} sn_optim_opts;

sn_code sn_autodiff(sn_graph *g, const sn_optim_opts *o, sn_status *st);

/* The gradient tensor of a parameter after sn_autodiff (for tests), or -1. */
int sn_autodiff_grad_of(const sn_graph *g, int param);

#endif
