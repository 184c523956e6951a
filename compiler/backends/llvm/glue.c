#include "glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../../../runtime/deploy/snrt.h"
#include "jit.h"

typedef enum { T_VOID, T_I32, T_I64, T_PTR } ty;

/* NAME_<suffix> forwards to snrt_<suffix> (with the model first when `model`); the C
 * prototypes are in the header compiler/deploy/header.c writes. */
static const struct {
    const char *suffix;
    ty ret;
    int model;
    int n;
    ty params[8];
} API[] = {
    {"create", T_I32, 1, 4, {T_PTR, T_PTR, T_PTR, T_I64}},
    {"free", T_VOID, 0, 1, {T_PTR}},
    {"get_info", T_I32, 1, 1, {T_PTR}},
    {"run", T_I32, 0, 5, {T_PTR, T_PTR, T_I64, T_PTR, T_I64}},
    {"step", T_I32, 0, 5, {T_PTR, T_PTR, T_I64, T_PTR, T_I64}},
    {"reset", T_I32, 0, 1, {T_PTR}},
    {"set_seed", T_I32, 0, 2, {T_PTR, T_I64}},
    {"preprocess", T_I32, 0, 8, {T_PTR, T_PTR, T_I64, T_I64, T_I64, T_I64, T_PTR, T_I64}},
    {"error", T_PTR, 0, 1, {T_PTR}},
    {"strerror", T_PTR, 0, 1, {T_I32}},
    {"variant", T_PTR, 0, 1, {T_PTR}},
    {"batch_seed", T_I64, 0, 2, {T_I64, T_I64}},
};

typedef struct gl {
    LLVMContextRef c;
    LLVMModuleRef m;
    LLVMBuilderRef b;
    LLVMTypeRef i8, i32, i64, ptr, vd;
} gl;

static LLVMTypeRef type_of(gl *g, ty t) {
    switch (t) {
    case T_VOID:
        return g->vd;
    case T_I32:
        return g->i32;
    case T_I64:
        return g->i64;
    case T_PTR:
        return g->ptr;
    }
    return g->ptr;
}

/* A private constant byte array, as an i8*. */
static LLVMValueRef bytes(gl *g, const char *name, const unsigned char *data, size_t n,
                          unsigned align) {
    LLVMValueRef init = LLVMConstStringInContext(g->c, (const char *)data, (unsigned)n, 1);
    LLVMValueRef v = LLVMAddGlobal(g->m, LLVMTypeOf(init), name);
    LLVMSetInitializer(v, init);
    LLVMSetGlobalConstant(v, 1);
    LLVMSetLinkage(v, LLVMPrivateLinkage);
    LLVMSetAlignment(v, align);
    return LLVMConstBitCast(v, g->ptr);
}

static LLVMValueRef ptr_array(gl *g, const char *name, LLVMValueRef *items, unsigned n) {
    LLVMValueRef init = LLVMConstArray(g->ptr, items, n);
    LLVMValueRef v = LLVMAddGlobal(g->m, LLVMTypeOf(init), name);
    LLVMSetInitializer(v, init);
    LLVMSetGlobalConstant(v, 1);
    LLVMSetLinkage(v, LLVMPrivateLinkage);
    LLVMSetAlignment(v, 8);
    return LLVMConstBitCast(v, g->ptr);
}

sn_code sn_glue_emit(const sn_glue_in *in, unsigned char **obj, size_t *size, sn_status *st) {
    *obj = NULL;
    *size = 0;
    if (in->desc_size > UINT32_MAX || in->weights_size > UINT32_MAX)
        return sn_fail(st, SN_ERR_INPUT,
                       "weights of %.1f GiB cannot be embedded (4 GiB at most): use "
                       "--weights-file",
                       (double)in->weights_size / 1073741824.0);
    /* a baseline CPU: this code runs before a variant is chosen */
    sn_jit *jit = NULL;
    if (sn_jit_create_for(&jit, "x86-64", "", st)) return st->code;
    gl g;
    char mname[160];
    snprintf(mname, sizeof mname, "%s_glue", in->name);
    g.m = sn_jit_new_module(jit, mname, &g.c);
    g.b = LLVMCreateBuilderInContext(g.c);
    g.i8 = LLVMInt8TypeInContext(g.c);
    g.i32 = LLVMInt32TypeInContext(g.c);
    g.i64 = LLVMInt64TypeInContext(g.c);
    g.ptr = LLVMPointerType(g.i8, 0);
    g.vd = LLVMVoidTypeInContext(g.c);

    LLVMValueRef desc = bytes(&g, "snnc.desc", in->desc, in->desc_size, 16);
    LLVMValueRef weights = in->weights
                               ? bytes(&g, "snnc.weights", in->weights, in->weights_size, 64)
                               : LLVMConstPointerNull(g.ptr);
    /* each variant's kernel table: the kernels are external functions */
    LLVMTypeRef kty =
        LLVMFunctionType(g.vd, (LLVMTypeRef[]){g.ptr, g.ptr, g.ptr, g.i64, g.i64}, 5, 0);
    LLVMValueRef tables[SNRT_MAX_VARIANTS];
    for (int v = 0; v < in->nvariants; v++) {
        int nk = in->nkernels[v];
        LLVMValueRef *fns = calloc((size_t)(nk ? nk : 1), sizeof *fns);
        if (!fns) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            goto fail;
        }
        for (int k = 0; k < nk; k++) {
            LLVMValueRef f = LLVMGetNamedFunction(g.m, in->kernels[v][k]);
            if (!f) f = LLVMAddFunction(g.m, in->kernels[v][k], kty);
            fns[k] = LLVMConstBitCast(f, g.ptr);
        }
        char tname[32];
        snprintf(tname, sizeof tname, "snnc.kernels.%d", v);
        tables[v] = ptr_array(&g, tname, fns, (unsigned)nk);
        free(fns);
    }
    LLVMValueRef ktables = ptr_array(&g, "snnc.kernel_tables", tables, (unsigned)in->nvariants);
    /* struct snrt_model: every field 8 bytes */
    LLVMValueRef fields[] = {
        LLVMConstInt(g.i64, SNRT_MODEL_MAGIC, 0),
        LLVMConstInt(g.i64, sizeof(snrt_model), 0),
        desc,
        LLVMConstInt(g.i64, in->desc_size, 0),
        LLVMConstInt(g.i64, sn_hash64(SN_HASH_INIT, in->desc, in->desc_size), 0),
        weights,
        LLVMConstInt(g.i64, in->weights ? in->weights_size : 0, 0),
        LLVMConstInt(g.i64, (unsigned long long)in->nvariants, 0),
        ktables,
    };
    LLVMValueRef minit = LLVMConstStructInContext(g.c, fields, sizeof fields / sizeof fields[0], 0);
    LLVMValueRef model = LLVMAddGlobal(g.m, LLVMTypeOf(minit), "snnc.model");
    LLVMSetInitializer(model, minit);
    LLVMSetGlobalConstant(model, 1);
    LLVMSetLinkage(model, LLVMPrivateLinkage);
    LLVMSetAlignment(model, 8);
    /* the API */
    for (size_t i = 0; i < sizeof API / sizeof API[0]; i++) {
        LLVMTypeRef ps[9];
        unsigned np = 0;
        if (API[i].model) ps[np++] = g.ptr;
        for (int k = 0; k < API[i].n; k++) ps[np++] = type_of(&g, API[i].params[k]);
        LLVMTypeRef rt = type_of(&g, API[i].ret);
        char name[200];
        snprintf(name, sizeof name, "snrt_%s", API[i].suffix);
        LLVMTypeRef callee_ty = LLVMFunctionType(rt, ps, np, 0);
        LLVMValueRef callee = LLVMAddFunction(g.m, name, callee_ty);
        LLVMTypeRef wty =
            LLVMFunctionType(rt, API[i].model ? ps + 1 : ps, API[i].model ? np - 1 : np, 0);
        snprintf(name, sizeof name, "%s_%s", in->name, API[i].suffix);
        LLVMValueRef w = LLVMAddFunction(g.m, name, wty);
        LLVMPositionBuilderAtEnd(g.b, LLVMAppendBasicBlockInContext(g.c, w, "entry"));
        LLVMValueRef args[9];
        unsigned na = 0;
        if (API[i].model) args[na++] = LLVMConstBitCast(model, g.ptr);
        for (int k = 0; k < API[i].n; k++) args[na++] = LLVMGetParam(w, (unsigned)k);
        LLVMValueRef r = LLVMBuildCall2(g.b, callee_ty, callee, args, na, "");
        LLVMSetTailCall(r, 1);
        if (API[i].ret == T_VOID)
            LLVMBuildRetVoid(g.b);
        else
            LLVMBuildRet(g.b, r);
    }
    LLVMDisposeBuilder(g.b);
    sn_code c = sn_jit_emit_object(jit, g.m, g.c, mname, obj, size, st);
    sn_jit_destroy(jit);
    return c;
fail:
    LLVMDisposeBuilder(g.b);
    LLVMDisposeModule(g.m);
    LLVMContextDispose(g.c);
    sn_jit_destroy(jit);
    return st->code;
}
