#include "irb.h"

#include <stdio.h>
#include <string.h>

void irb_begin(sn_irb *k, sn_jit *j, const char *fname, int vl) {
    memset(k, 0, sizeof *k);
    k->mod = sn_jit_new_module(j, fname, &k->ctx);
    k->b = LLVMCreateBuilderInContext(k->ctx);
    k->vl = vl;
    k->t_void = LLVMVoidTypeInContext(k->ctx);
    k->t_f32 = LLVMFloatTypeInContext(k->ctx);
    k->t_i8 = LLVMInt8TypeInContext(k->ctx);
    k->t_i32 = LLVMInt32TypeInContext(k->ctx);
    k->t_i64 = LLVMInt64TypeInContext(k->ctx);
    k->t_vf = vl > 1 ? LLVMVectorType(k->t_f32, (unsigned)vl) : k->t_f32;
    k->t_vi32 = vl > 1 ? LLVMVectorType(k->t_i32, (unsigned)vl) : k->t_i32;
    k->t_pf = LLVMPointerType(k->t_f32, 0);
    k->t_pi8 = LLVMPointerType(k->t_i8, 0);
    k->t_pi32 = LLVMPointerType(k->t_i32, 0);
    k->t_ppi8 = LLVMPointerType(k->t_pi8, 0);
    LLVMTypeRef params[5] = {k->t_pi8, k->t_pi8, k->t_ppi8, k->t_i64, k->t_i64};
    LLVMTypeRef fty = LLVMFunctionType(k->t_void, params, 5, 0);
    k->fn = LLVMAddFunction(k->mod, fname, fty);
    LLVMSetLinkage(k->fn, LLVMExternalLinkage);
    /* Buffers never alias within a kernel (the memory planner guarantees distinct live
     * ranges), which lets LLVM keep loads in registers. */
    k->a_ctx = LLVMGetParam(k->fn, 0);
    k->a_params = LLVMGetParam(k->fn, 1);
    k->a_ptrs = LLVMGetParam(k->fn, 2);
    k->a_lo = LLVMGetParam(k->fn, 3);
    k->a_hi = LLVMGetParam(k->fn, 4);
    unsigned kind = LLVMGetEnumAttributeKindForName("nounwind", 8);
    LLVMAddAttributeAtIndex(k->fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(k->ctx, kind, 0));
    k->entry = LLVMAppendBasicBlockInContext(k->ctx, k->fn, "entry");
    LLVMPositionBuilderAtEnd(k->b, k->entry);
}

void irb_end(sn_irb *k) {
    LLVMBuildRetVoid(k->b);
    LLVMDisposeBuilder(k->b);
    k->b = NULL;
}

LLVMValueRef irb_i64(sn_irb *k, int64_t v) {
    return LLVMConstInt(k->t_i64, (unsigned long long)v, 1);
}
LLVMValueRef irb_i32(sn_irb *k, int32_t v) {
    return LLVMConstInt(k->t_i32, (unsigned long long)(int64_t)v, 1);
}
LLVMValueRef irb_f32(sn_irb *k, float v) {
    return LLVMConstReal(k->t_f32, v);
}

LLVMValueRef irb_vsplat(sn_irb *k, float v) {
    LLVMValueRef s = irb_f32(k, v);
    if (k->vl == 1) return s;
    LLVMValueRef elems[64];
    for (int i = 0; i < k->vl; i++) elems[i] = s;
    return LLVMConstVector(elems, (unsigned)k->vl);
}

LLVMValueRef irb_add(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildAdd(k->b, a, b, "");
}
LLVMValueRef irb_mul(sn_irb *k, LLVMValueRef a, int64_t c) {
    return LLVMBuildMul(k->b, a, irb_i64(k, c), "");
}
LLVMValueRef irb_addc(sn_irb *k, LLVMValueRef a, int64_t c) {
    return c == 0 ? a : LLVMBuildAdd(k->b, a, irb_i64(k, c), "");
}
LLVMValueRef irb_divc(sn_irb *k, LLVMValueRef a, int64_t c) {
    return c == 1 ? a : LLVMBuildSDiv(k->b, a, irb_i64(k, c), "");
}
LLVMValueRef irb_remc(sn_irb *k, LLVMValueRef a, int64_t c) {
    return c == 1 ? irb_i64(k, 0) : LLVMBuildSRem(k->b, a, irb_i64(k, c), "");
}

LLVMValueRef irb_arg_buf(sn_irb *k, int i) {
    LLVMValueRef slot =
        LLVMBuildGEP2(k->b, k->t_pi8, k->a_ptrs, (LLVMValueRef[]){irb_i64(k, i)}, 1, "");
    LLVMValueRef p = LLVMBuildLoad2(k->b, k->t_pi8, slot, "");
    return LLVMBuildBitCast(k->b, p, k->t_pf, "");
}

LLVMValueRef irb_gep(sn_irb *k, LLVMValueRef fptr, LLVMValueRef idx) {
    return LLVMBuildInBoundsGEP2(k->b, k->t_f32, fptr, &idx, 1, "");
}

LLVMValueRef irb_gepc(sn_irb *k, LLVMValueRef fptr, int64_t idx) {
    return idx == 0 ? fptr : irb_gep(k, fptr, irb_i64(k, idx));
}

LLVMValueRef irb_load(sn_irb *k, LLVMValueRef fptr) {
    LLVMValueRef v = LLVMBuildLoad2(k->b, k->t_f32, fptr, "");
    LLVMSetAlignment(v, 4);
    return v;
}

void irb_store(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr) {
    LLVMValueRef s = LLVMBuildStore(k->b, v, fptr);
    LLVMSetAlignment(s, 4);
}

static LLVMValueRef vptr(sn_irb *k, LLVMValueRef fptr) {
    return k->vl == 1 ? fptr : LLVMBuildBitCast(k->b, fptr, LLVMPointerType(k->t_vf, 0), "");
}

LLVMValueRef irb_vload(sn_irb *k, LLVMValueRef fptr, int align) {
    LLVMValueRef v = LLVMBuildLoad2(k->b, k->t_vf, vptr(k, fptr), "");
    LLVMSetAlignment(v, (unsigned)(k->vl == 1 ? 4 : align));
    return v;
}

void irb_vstore(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr, int align) {
    LLVMValueRef s = LLVMBuildStore(k->b, v, vptr(k, fptr));
    LLVMSetAlignment(s, (unsigned)(k->vl == 1 ? 4 : align));
}

static LLVMValueRef call_intrinsic(sn_irb *k, const char *name, LLVMTypeRef *overload,
                                   int noverload, LLVMValueRef *args, int nargs) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, overload, (size_t)noverload);
    LLVMTypeRef fty = LLVMIntrinsicGetType(k->ctx, id, overload, (size_t)noverload);
    return LLVMBuildCall2(k->b, fty, fn, args, (unsigned)nargs, "");
}

static LLVMValueRef lane_mask(sn_irb *k, int n) {
    LLVMTypeRef i1 = LLVMInt1TypeInContext(k->ctx);
    LLVMValueRef bits[64];
    for (int i = 0; i < k->vl; i++) bits[i] = LLVMConstInt(i1, i < n ? 1 : 0, 0);
    return LLVMConstVector(bits, (unsigned)k->vl);
}

LLVMValueRef irb_vload_n(sn_irb *k, LLVMValueRef fptr, int n) {
    if (k->vl == 1) return irb_load(k, fptr);
    LLVMTypeRef pty = LLVMPointerType(k->t_vf, 0);
    LLVMTypeRef ov[2] = {k->t_vf, pty};
    LLVMValueRef args[4] = {vptr(k, fptr), irb_i32(k, 4), lane_mask(k, n), irb_vsplat(k, 0.0f)};
    return call_intrinsic(k, "llvm.masked.load", ov, 2, args, 4);
}

void irb_vstore_n(sn_irb *k, LLVMValueRef v, LLVMValueRef fptr, int n) {
    if (k->vl == 1) {
        irb_store(k, v, fptr);
        return;
    }
    LLVMTypeRef pty = LLVMPointerType(k->t_vf, 0);
    LLVMTypeRef ov[2] = {k->t_vf, pty};
    LLVMValueRef args[4] = {v, vptr(k, fptr), irb_i32(k, 4), lane_mask(k, n)};
    call_intrinsic(k, "llvm.masked.store", ov, 2, args, 4);
}

LLVMValueRef irb_bcast(sn_irb *k, LLVMValueRef s) {
    if (k->vl == 1) return s;
    LLVMValueRef undef = LLVMGetUndef(k->t_vf);
    LLVMValueRef v = LLVMBuildInsertElement(k->b, undef, s, irb_i32(k, 0), "");
    LLVMValueRef zeros = LLVMConstNull(k->t_vi32);
    return LLVMBuildShuffleVector(k->b, v, undef, zeros, "");
}

LLVMValueRef irb_bcast_i32(sn_irb *k, LLVMValueRef s) {
    if (k->vl == 1) return s;
    LLVMValueRef undef = LLVMGetUndef(k->t_vi32);
    LLVMValueRef v = LLVMBuildInsertElement(k->b, undef, s, irb_i32(k, 0), "");
    return LLVMBuildShuffleVector(k->b, v, undef, LLVMConstNull(k->t_vi32), "");
}

LLVMValueRef irb_bcast_load(sn_irb *k, LLVMValueRef fptr) {
    return irb_bcast(k, irb_load(k, fptr));
}

LLVMValueRef irb_slot_typed(sn_irb *k, LLVMTypeRef type, unsigned align) {
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(k->b);
    LLVMValueRef first = LLVMGetFirstInstruction(k->entry);
    if (first)
        LLVMPositionBuilderBefore(k->b, first);
    else
        LLVMPositionBuilderAtEnd(k->b, k->entry);
    LLVMValueRef a = LLVMBuildAlloca(k->b, type, "acc");
    LLVMSetAlignment(a, align);
    LLVMPositionBuilderAtEnd(k->b, cur);
    return a;
}

LLVMValueRef irb_slot(sn_irb *k) {
    return irb_slot_typed(k, k->t_vf, (unsigned)(k->vl * 4));
}

LLVMValueRef irb_slot_get(sn_irb *k, LLVMValueRef slot) {
    return LLVMBuildLoad2(k->b, k->t_vf, slot, "");
}
void irb_slot_set(sn_irb *k, LLVMValueRef slot, LLVMValueRef v) {
    LLVMBuildStore(k->b, v, slot);
}

LLVMValueRef irb_fma(sn_irb *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
    LLVMValueRef args[3] = {a, b, c};
    return call_intrinsic(k, "llvm.fma", &k->t_vf, 1, args, 3);
}

LLVMValueRef irb_fadd(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFAdd(k->b, a, b, "");
}
LLVMValueRef irb_fsub(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFSub(k->b, a, b, "");
}
LLVMValueRef irb_fmul(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFMul(k->b, a, b, "");
}
LLVMValueRef irb_fdiv(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFDiv(k->b, a, b, "");
}

LLVMValueRef irb_fmax(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    /* a < b ? b : a  -- keeps NaN in a (like torch.relu / max pooling). */
    LLVMValueRef lt = LLVMBuildFCmp(k->b, LLVMRealOLT, a, b, "");
    return LLVMBuildSelect(k->b, lt, b, a, "");
}

LLVMValueRef irb_fmin(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    LLVMValueRef gt = LLVMBuildFCmp(k->b, LLVMRealOGT, a, b, "");
    return LLVMBuildSelect(k->b, gt, b, a, "");
}

LLVMValueRef irb_unary(sn_irb *k, const char *base, LLVMValueRef a) {
    return call_intrinsic(k, base, &k->t_vf, 1, &a, 1);
}

LLVMValueRef irb_floor(sn_irb *k, LLVMValueRef a) {
    return irb_unary(k, "llvm.floor", a);
}

LLVMValueRef irb_select_ge(sn_irb *k, LLVMValueRef a, LLVMValueRef b, LLVMValueRef t,
                           LLVMValueRef f) {
    LLVMValueRef ge = LLVMBuildFCmp(k->b, LLVMRealOGE, a, b, "");
    return LLVMBuildSelect(k->b, ge, t, f, "");
}

LLVMValueRef irb_hsum(sn_irb *k, LLVMValueRef v) {
    if (k->vl == 1) return v;
    LLVMValueRef s = LLVMBuildExtractElement(k->b, v, irb_i32(k, 0), "");
    for (int i = 1; i < k->vl; i++)
        s = LLVMBuildFAdd(k->b, s, LLVMBuildExtractElement(k->b, v, irb_i32(k, i), ""), "");
    return s;
}

LLVMValueRef irb_for(sn_irb *k, irb_loop *l, LLVMValueRef start, LLVMValueRef end, int64_t step,
                     const char *name) {
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(k->b);
    l->head = LLVMAppendBasicBlockInContext(k->ctx, k->fn, name);
    l->body = LLVMAppendBasicBlockInContext(k->ctx, k->fn, name);
    l->exit = LLVMAppendBasicBlockInContext(k->ctx, k->fn, name);
    l->end = end;
    l->step = step;
    LLVMBuildBr(k->b, l->head);
    LLVMPositionBuilderAtEnd(k->b, l->head);
    l->iv = LLVMBuildPhi(k->b, k->t_i64, name);
    LLVMAddIncoming(l->iv, &start, &pre, 1);
    LLVMValueRef c = LLVMBuildICmp(k->b, LLVMIntSLT, l->iv, end, "");
    LLVMBuildCondBr(k->b, c, l->body, l->exit);
    LLVMPositionBuilderAtEnd(k->b, l->body);
    return l->iv;
}

void irb_for_end(sn_irb *k, irb_loop *l) {
    LLVMValueRef next = LLVMBuildAdd(k->b, l->iv, irb_i64(k, l->step), "");
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(k->b);
    LLVMBuildBr(k->b, l->head);
    LLVMAddIncoming(l->iv, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(k->b, l->exit);
}

LLVMBasicBlockRef irb_if(sn_irb *k, LLVMValueRef cond, const char *name) {
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(k->ctx, k->fn, name);
    LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(k->ctx, k->fn, name);
    LLVMBuildCondBr(k->b, cond, then, cont);
    LLVMPositionBuilderAtEnd(k->b, then);
    return cont;
}

void irb_endif(sn_irb *k, LLVMBasicBlockRef cont) {
    LLVMBuildBr(k->b, cont);
    LLVMPositionBuilderAtEnd(k->b, cont);
}

LLVMValueRef irb_icmp_eq(sn_irb *k, LLVMValueRef a, int64_t c) {
    return LLVMBuildICmp(k->b, LLVMIntEQ, a, irb_i64(k, c), "");
}

LLVMValueRef irb_icmp_lt(sn_irb *k, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildICmp(k->b, LLVMIntSLT, a, b, "");
}
