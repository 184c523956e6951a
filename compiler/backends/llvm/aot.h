/* Ahead-of-time CPU plans: a directory holding everything needed to run a compiled model
 * without compiling it again.
 *
 *   DIR/plan.json            buffers (shapes, layouts, arena offsets), preparation steps
 *                            and kernel launches, the weight list, the target it was
 *                            compiled for, and a checksum of every object file
 *   DIR/model.yaml           the resolved model spec (data settings for eval)
 *   DIR/kernels/SYMBOL.o     object code of each kernel (linked by the JIT at load time)
 *   DIR/kernels/SYMBOL.ll    optimized LLVM IR of each kernel
 *   DIR/kernels/SYMBOL.s     its assembly
 *
 * A plan directory is code: load only plans you compiled. Loading checks the format, every
 * index and size in plan.json, the object checksums, and that this machine can run the
 * target's instructions. */
#ifndef SN_AOT_H
#define SN_AOT_H

#include "../../../runtime/exec/plan.h"
#include "../../../runtime/weights/weights.h"
#include "cpu_backend.h"
#include "jit.h"

sn_code sn_aot_write(const char *dir, const sn_plan *plan, const sn_cpu_artifacts *art,
                     const sn_param_desc *params, int nparams, const char *spec_yaml, sn_jit *jit,
                     sn_status *st);

/* Loads DIR into plan (kernels linked into jit) and returns the weight list (malloc'd). */
sn_code sn_aot_load(const char *dir, sn_jit *jit, sn_plan *plan, sn_param_desc **params,
                    int *nparams, sn_status *st);

#endif
