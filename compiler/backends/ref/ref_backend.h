/* Lowering of a graph to a plan of reference-interpreter steps, and the helpers every
 * backend uses to turn IR nodes into resolved op parameters. */
#ifndef SN_REF_BACKEND_H
#define SN_REF_BACKEND_H

#include "../../../runtime/exec/plan.h"
#include "../../ir/ir.h"

sn_code sn_lower_ref(const sn_graph *g, sn_plan *plan, sn_status *st);
/* The same with bf16 semantics (--target ref --precision bf16): every conv/linear node,
 * forward and backward, reads its data operands and weights rounded to bf16 (nearest even)
 * and sums their exact products in double as always. The oracle of the CPU's bf16 training
 * steps (whose inference plans fold batch norm into the weights before rounding). */
sn_code sn_lower_ref_bf16(const sn_graph *g, sn_plan *plan, sn_status *st);

/* One plan buffer per graph tensor (tbuf[t] = buffer id); sets the plan's io buffers. */
int sn_plan_buffers_for_graph(const sn_graph *g, sn_plan *plan, int *tbuf, sn_status *st);

sn_conv_params sn_conv_params_of(const sn_graph *g, const sn_node *nd);
sn_pool_params sn_pool_params_of(const sn_graph *g, const sn_node *nd);
sn_linear_params sn_linear_params_of(const sn_graph *g, const sn_node *nd);
sn_bn_params sn_bn_params_of(const sn_graph *g, const sn_node *nd);

#endif
