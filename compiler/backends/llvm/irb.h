/* Helpers for generating kernels as LLVM IR through the C API.
 *
 * Every generated kernel has the plan's CPU signature
 *     void kernel(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi)
 * and works on tasks [lo, hi). Shapes are compile-time constants baked into the IR.
 * Vectors are <vl x float> with vl = the target's vector width (a plain float when vl is
 * 1); loads and stores carry explicit alignment. Values that live across loop iterations
 * (accumulators) are kept in allocas, which SROA turns into registers. Only *2 builder
 * calls with explicit types are used, so the code works with LLVM 14's typed pointers
 * and with the opaque pointers of later releases. */
#ifndef SN_IRB_H
#define SN_IRB_H

#include <llvm-c/Core.h>
#include <stdint.h>

#include "jit.h"

typedef struct sn_irb {
    LLVMContextRef ctx;
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMValueRef fn;
    LLVMBasicBlockRef entry;
    int vl;
    LLVMTypeRef t_void, t_f32, t_i8, t_i32, t_i64, t_vf, t_vi32, t_pf, t_pi8, t_ppi8, t_pi32;
    LLVMValueRef a_ctx, a_params, a_ptrs, a_lo, a_hi;
} sn_irb;

/* Starts a module holding one kernel function named fname. */
void irb_begin(sn_irb *k, sn_jit *j, const char *fname, int vl);
/* Terminates the function (ret void) and disposes the builder; the module and context
 * are then handed to sn_jit_compile. */
void irb_end(sn_irb *k);

/* ---- constants and arithmetic ---- */
LLVMValueRef irb_i64(sn_irb *k, int64_t v);
LLVMValueRef irb_i32(sn_irb *k, int32_t v);
LLVMValueRef irb_f32(sn_irb *k, float v);
LLVMValueRef irb_vsplat(sn_irb *k, float v);                     /* constant vector */
LLVMValueRef irb_add(sn_irb *k, LLVMValueRef a, LLVMValueRef b); /* i64 */
LLVMValueRef irb_mul(sn_irb *k, LLVMValueRef a, int64_t c);      /* i64 * constant */
LLVMValueRef irb_addc(sn_irb *k, LLVMValueRef a, int64_t c);     /* i64 + constant */
LLVMValueRef irb_divc(sn_irb *k, LLVMValueRef a, int64_t c);     /* i64 / constant */
LLVMValueRef irb_remc(sn_irb *k, LLVMValueRef a, int64_t c);     /* i64 % constant */

/* ---- memory ---- */
/* float* view of ptrs[i] */
LLVMValueRef irb_arg_buf(sn_irb *k, int i);
/* float* + element offset */
LLVMValueRef irb_gep(sn_irb *k, LLVMValueRef fptr, LLVMValueRef idx);
LLVMValueRef irb_gepc(sn_irb *k, LLVMValueRef fptr, int64_t idx);
LLVMValueRef irb_load(sn_irb *k, LLVMValueRef fptr); /* scalar float */
void irb_store(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr);
LLVMValueRef irb_vload(sn_irb *k, LLVMValueRef fptr, int align); /* vl floats */
void irb_vstore(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr, int align);
/* The first n (< vl) lanes only (masked). */
LLVMValueRef irb_vload_n(sn_irb *k, LLVMValueRef fptr, int n);
void irb_vstore_n(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr, int n);
LLVMValueRef irb_bcast(sn_irb *k, LLVMValueRef scalar);
LLVMValueRef irb_bcast_load(sn_irb *k, LLVMValueRef fptr);
LLVMValueRef irb_bcast_i32(sn_irb *k, LLVMValueRef scalar); /* i32 -> <vl x i32> */
/* A stack slot for a vector (accumulator), placed in the entry block. */
LLVMValueRef irb_slot(sn_irb *k);
/* a slot of another type (double vectors, say), aligned to align bytes */
LLVMValueRef irb_slot_typed(sn_irb *k, LLVMTypeRef type, unsigned align);
LLVMValueRef irb_slot_get(sn_irb *k, LLVMValueRef slot);
void irb_slot_set(sn_irb *k, LLVMValueRef slot, LLVMValueRef v);

/* ---- vector math (vl-wide, or scalar when vl == 1) ---- */
LLVMValueRef irb_fma(sn_irb *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c); /* a*b+c */
LLVMValueRef irb_fadd(sn_irb *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef irb_fsub(sn_irb *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef irb_fmul(sn_irb *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef irb_fdiv(sn_irb *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef irb_fmax(sn_irb *k, LLVMValueRef a, LLVMValueRef b); /* max; NaN in a propagates */
LLVMValueRef irb_fmin(sn_irb *k, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef irb_floor(sn_irb *k, LLVMValueRef a);
LLVMValueRef irb_select_ge(sn_irb *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t,
                           LLVMValueRef f); /* a >= b ? t : f */
/* Horizontal sum of a vector (scalar result). */
LLVMValueRef irb_hsum(sn_irb *k, LLVMValueRef v);
/* Calls a unary float intrinsic by base name, e.g. "llvm.exp". */
LLVMValueRef irb_unary(sn_irb *k, const char *base, LLVMValueRef a);

/* ---- control flow ---- */
typedef struct irb_loop {
    LLVMBasicBlockRef head, body, exit;
    LLVMValueRef iv;   /* the induction variable (i64) */
    LLVMValueRef next; /* incoming value from the latch */
    LLVMValueRef end;
    int64_t step;
} irb_loop;

/* for (iv = start; iv < end; iv += step) { ...builder is placed in the body... } */
LLVMValueRef irb_for(sn_irb *k, irb_loop *l, LLVMValueRef start, LLVMValueRef end, int64_t step,
                     const char *name);
void irb_for_end(sn_irb *k, irb_loop *l);

/* if (cond) { ... } : irb_if returns the block to resume in; call irb_endif with it. */
LLVMBasicBlockRef irb_if(sn_irb *k, LLVMValueRef cond, const char *name);
void irb_endif(sn_irb *k, LLVMBasicBlockRef cont);
LLVMValueRef irb_icmp_eq(sn_irb *k, LLVMValueRef a, int64_t c);
LLVMValueRef irb_icmp_lt(sn_irb *k, LLVMValueRef a, LLVMValueRef b);

#endif
