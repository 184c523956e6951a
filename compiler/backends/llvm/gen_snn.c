/* Kernels for spiking ops (neurons over time, encoders, time averages, threshold units)
 * and losses. Neuron and encoder arithmetic follows the reference interpreter operation
 * for operation (same divisions, same hash), so spikes match it exactly. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "../../../runtime/exec/plan.h"
#include "kernels.h"

#define CHUNK 4096 /* floats per task for the elementwise-over-M kernels */

int64_t sn_kctx_seed_offset(void) {
    return (int64_t)offsetof(sn_kctx, seed);
}
int64_t sn_kctx_bad_input_offset(void) {
    return (int64_t)offsetof(sn_kctx, bad_input);
}
int64_t sn_kctx_training_offset(void) {
    return (int64_t)offsetof(sn_kctx, training);
}
int64_t sn_kctx_lr_offset(void) {
    return (int64_t)offsetof(sn_kctx, lr);
}
int64_t sn_kctx_step_offset(void) {
    return (int64_t)offsetof(sn_kctx, step);
}
int64_t sn_kctx_sample0_offset(void) {
    return (int64_t)offsetof(sn_kctx, sample0);
}
int64_t sn_kctx_gbatch_offset(void) {
    return (int64_t)offsetof(sn_kctx, gbatch);
}

LLVMValueRef sn_gen_ctx_t(sn_irb *k) {
    LLVMValueRef t = sn_kctx_load(k, (int64_t)offsetof(sn_kctx, t), k->t_i32);
    return LLVMBuildSExt(k->b, t, k->t_i64, "");
}

LLVMValueRef sn_kctx_load(sn_irb *k, int64_t offset, LLVMTypeRef type) {
    LLVMValueRef p =
        LLVMBuildGEP2(k->b, k->t_i8, k->a_ctx, (LLVMValueRef[]){irb_i64(k, offset)}, 1, "");
    return LLVMBuildLoad2(k->b, type, LLVMBuildBitCast(k->b, p, LLVMPointerType(type, 0), ""), "");
}

static int64_t chunks(int64_t M) {
    return (M + CHUNK - 1) / CHUNK;
}

/* Runs body(k, offset, lanes) over [task*CHUNK, min(M, task*CHUNK+CHUNK)) in vectors,
 * with a masked tail, for tasks [lo, hi). */
typedef void (*vec_body)(sn_irb *k, const void *d, LLVMValueRef off, int lanes, void *state);

static void chunk_loop(sn_irb *k, int64_t M, const void *d, vec_body body, void *state) {
    int vl = k->vl;
    int64_t full_chunks = M / CHUNK, rem = M % CHUNK;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef start = irb_mul(k, t, CHUNK);
    LLVMValueRef is_full = irb_icmp_lt(k, t, irb_i64(k, full_chunks));
    LLVMBasicBlockRef cont = irb_if(k, is_full, "full");
    {
        irb_loop li;
        LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, CHUNK), vl, "i");
        body(k, d, irb_add(k, start, i), vl, state);
        irb_for_end(k, &li);
    }
    irb_endif(k, cont);
    if (rem > 0) {
        LLVMValueRef is_tail = LLVMBuildNot(k->b, is_full, "");
        cont = irb_if(k, is_tail, "tail");
        int64_t vfull = rem / vl * vl;
        if (vfull > 0) {
            irb_loop li;
            LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, vfull), vl, "i");
            body(k, d, irb_add(k, start, i), vl, state);
            irb_for_end(k, &li);
        }
        if (rem > vfull) body(k, d, irb_addc(k, start, vfull), (int)(rem - vfull), state);
        irb_endif(k, cont);
    }
    irb_for_end(k, &lt);
}

static LLVMValueRef load_n(sn_irb *k, LLVMValueRef p, int lanes) {
    return lanes == k->vl ? irb_vload(k, p, 4) : irb_vload_n(k, p, lanes);
}

static void store_n(sn_irb *k, LLVMValueRef v, LLVMValueRef p, int lanes) {
    if (lanes == k->vl)
        irb_vstore(k, v, p, 4);
    else
        irb_vstore_n(k, v, p, lanes);
}

/* ------------------------------------------------------------- time loops ---- */

/* A loop over the time steps t = 0 .. T-1 (reverse: T-1 .. 0) with t an IR value: unrolled
 * here while T is small (the offsets fold to constants), an IR loop beyond, so a kernel is
 * one step's code however long T is (T = 2000 unrolled took the optimizer minutes). Values
 * carried from step to step live in slots (entry-block allocas, registers again after SROA).
 *     tloop tl;
 *     for (LLVMValueRef t = tl_begin(k, &tl, T, 0); t; t = tl_next(k, &tl)) { ... } */
#define UNROLL_T_MAX 8

typedef struct tloop {
    irb_loop l;
    int T, reverse, i, rolled;
} tloop;

static LLVMValueRef tl_value(sn_irb *k, const tloop *tl, LLVMValueRef i) {
    return tl->reverse ? LLVMBuildSub(k->b, irb_i64(k, tl->T - 1), i, "") : i;
}

static LLVMValueRef tl_begin(sn_irb *k, tloop *tl, int T, int reverse) {
    tl->T = T;
    tl->reverse = reverse;
    tl->i = 0;
    tl->rolled = T > UNROLL_T_MAX;
    if (T <= 0) return NULL;
    if (!tl->rolled) return tl_value(k, tl, irb_i64(k, 0));
    return tl_value(k, tl, irb_for(k, &tl->l, irb_i64(k, 0), irb_i64(k, T), 1, "t"));
}

static LLVMValueRef tl_next(sn_irb *k, tloop *tl) {
    if (tl->rolled) {
        irb_for_end(k, &tl->l);
        return NULL;
    }
    return ++tl->i < tl->T ? tl_value(k, tl, irb_i64(k, tl->i)) : NULL;
}

/* element offset off + t * M */
static LLVMValueRef at_step(sn_irb *k, LLVMValueRef off, LLVMValueRef t, int64_t M) {
    return irb_add(k, off, irb_mul(k, t, M));
}

/* ------------------------------------------------------------------ neuron ---- */

int64_t sn_neuron_tasks(const sn_neuron_desc *d) {
    return chunks(d->M);
}

typedef struct neuron_state {
    LLVMValueRef x, s;
    LLVMValueRef state, first; /* stateful: potentials, ctx->t == 0 */
    LLVMValueRef vrec;         /* record: potentials of every step */
} neuron_state;

/* One step of the neuron from potential v and input xt (runtime/ref/neuron.c, operation for
 * operation): the charged potential *h, the spike *s, and the potential after reset. */
static LLVMValueRef neuron_step(sn_irb *k, const sn_neuron_params *p, LLVMValueRef v,
                                LLVMValueRef xt, LLVMValueRef *h_out, LLVMValueRef *s_out) {
    LLVMValueRef vrv = irb_vsplat(k, p->hard_reset ? p->v_reset : 0.0f),
                 vth = irb_vsplat(k, p->v_threshold), tau = irb_vsplat(k, p->tau);
    LLVMValueRef one = irb_vsplat(k, 1.0f), zero = irb_vsplat(k, 0.0f);
    LLVMValueRef h;
    if (p->model == SN_NEURON_IF)
        h = irb_fadd(k, v, xt);
    else if (p->decay_input)
        h = irb_fadd(k, v, irb_fdiv(k, irb_fsub(k, xt, irb_fsub(k, v, vrv)), tau));
    else
        h = irb_fadd(k, irb_fsub(k, v, irb_fdiv(k, irb_fsub(k, v, vrv), tau)), xt);
    LLVMValueRef s = irb_select_ge(k, irb_fsub(k, h, vth), zero, one, zero);
    *h_out = h;
    *s_out = s;
    if (p->hard_reset) return irb_fadd(k, irb_fmul(k, h, irb_fsub(k, one, s)), irb_fmul(k, vrv, s));
    return irb_fsub(k, h, irb_fmul(k, vth, s));
}

/* The neuron over the T steps of one chunk from potentials v0 (inputs x), storing where a
 * buffer is given the spikes into s, the charged potentials into h and the potentials
 * after reset into v; returns the potentials after the last step. */
static LLVMValueRef neuron_run(sn_irb *k, const sn_neuron_desc *d, LLVMValueRef off, int lanes,
                               LLVMValueRef x, LLVMValueRef v0, LLVMValueRef sbuf,
                               LLVMValueRef hbuf, LLVMValueRef vbuf) {
    LLVMValueRef vslot = irb_slot(k);
    irb_slot_set(k, vslot, v0);
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl)) {
        LLVMValueRef at = at_step(k, off, t, d->M);
        LLVMValueRef xt = load_n(k, irb_gep(k, x, at), lanes);
        LLVMValueRef h, s;
        LLVMValueRef v = neuron_step(k, &d->p, irb_slot_get(k, vslot), xt, &h, &s);
        if (sbuf) store_n(k, s, irb_gep(k, sbuf, at), lanes);
        if (hbuf) store_n(k, h, irb_gep(k, hbuf, at), lanes);
        if (vbuf) store_n(k, v, irb_gep(k, vbuf, at), lanes);
        irb_slot_set(k, vslot, v);
    }
    return irb_slot_get(k, vslot);
}

static void neuron_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_neuron_desc *d = vd;
    neuron_state *ns = vs;
    const sn_neuron_params *p = &d->p;
    LLVMValueRef vrv = irb_vsplat(k, p->hard_reset ? p->v_reset : 0.0f);
    LLVMValueRef v0 = vrv;
    if (d->stateful) /* (the state buffer is padded: whole vectors even in the tail) */
        v0 = LLVMBuildSelect(k->b, ns->first, vrv, irb_vload(k, irb_gep(k, ns->state, off), 4), "");
    LLVMValueRef v =
        neuron_run(k, d, off, lanes, ns->x, v0, ns->s, NULL, d->record ? ns->vrec : NULL);
    if (d->stateful) irb_vstore(k, v, irb_gep(k, ns->state, off), 4);
}

void sn_gen_neuron(sn_irb *k, const sn_neuron_desc *d) {
    neuron_state ns = {irb_arg_buf(k, 0), irb_arg_buf(k, 1), NULL, NULL, NULL};
    if (d->record) ns.vrec = irb_arg_buf(k, 2);
    if (d->stateful) {
        ns.state = irb_arg_buf(k, 2 + d->record);
        ns.first = LLVMBuildICmp(k->b, LLVMIntEQ, sn_gen_ctx_t(k), irb_i64(k, 0), "first");
    }
    chunk_loop(k, d->M, d, neuron_body, &ns);
}

/* ----------------------------------------------------------------- encoders ---- */

int64_t sn_encode_tasks(const sn_encode_desc *d) {
    return chunks(d->M);
}

typedef struct encode_state {
    LLVMValueRef x, s;
    LLVMValueRef keys[1]; /* [T], placed in an array alloca */
    LLVMValueRef key_arr;
    LLVMValueRef bad; /* i64 slot counting bad inputs */
    LLVMTypeRef key_ty;
} encode_state;

/* sn_mix64 in IR (scalar i64). */
static LLVMValueRef mix64(sn_irb *k, LLVMValueRef x) {
    LLVMBuilderRef b = k->b;
    x = LLVMBuildAdd(b, x, LLVMConstInt(k->t_i64, 0x9e3779b97f4a7c15ULL, 0), "");
    x = LLVMBuildMul(b,
                     LLVMBuildXor(b, x, LLVMBuildLShr(b, x, LLVMConstInt(k->t_i64, 30, 0), ""), ""),
                     LLVMConstInt(k->t_i64, 0xbf58476d1ce4e5b9ULL, 0), "");
    x = LLVMBuildMul(b,
                     LLVMBuildXor(b, x, LLVMBuildLShr(b, x, LLVMConstInt(k->t_i64, 27, 0), ""), ""),
                     LLVMConstInt(k->t_i64, 0x94d049bb133111ebULL, 0), "");
    return LLVMBuildXor(b, x, LLVMBuildLShr(b, x, LLVMConstInt(k->t_i64, 31, 0), ""), "");
}

static LLVMValueRef vsplat_i32(sn_irb *k, uint32_t v) {
    LLVMValueRef s = LLVMConstInt(k->t_i32, v, 0);
    if (k->vl == 1) return s;
    LLVMValueRef e[64];
    for (int i = 0; i < k->vl; i++) e[i] = s;
    return LLVMConstVector(e, (unsigned)k->vl);
}

/* sn_hash32 on a vector of i32 */
static LLVMValueRef hash32(sn_irb *k, LLVMValueRef x) {
    LLVMBuilderRef b = k->b;
    x = LLVMBuildXor(b, x, LLVMBuildLShr(b, x, vsplat_i32(k, 16), ""), "");
    x = LLVMBuildMul(b, x, vsplat_i32(k, 0x7feb352dU), "");
    x = LLVMBuildXor(b, x, LLVMBuildLShr(b, x, vsplat_i32(k, 15), ""), "");
    x = LLVMBuildMul(b, x, vsplat_i32(k, 0x846ca68bU), "");
    return LLVMBuildXor(b, x, LLVMBuildLShr(b, x, vsplat_i32(k, 16), ""), "");
}

static void encode_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_encode_desc *d = vd;
    encode_state *es = vs;
    LLVMValueRef xv = load_n(k, irb_gep(k, es->x, off), lanes);
    if (!d->poisson) {
        if (d->scale != 0.0f && d->scale != 1.0f) xv = irb_fmul(k, xv, irb_vsplat(k, d->scale));
        tloop tl;
        for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl))
            store_n(k, xv, irb_gep(k, es->s, at_step(k, off, t, d->M)), lanes);
        return;
    }
    LLVMBuilderRef b = k->b;
    /* count x outside [0, 1] (NaN included) among the valid lanes */
    LLVMValueRef ok = LLVMBuildAnd(b, LLVMBuildFCmp(b, LLVMRealOGE, xv, irb_vsplat(k, 0.0f), ""),
                                   LLVMBuildFCmp(b, LLVMRealOLE, xv, irb_vsplat(k, 1.0f), ""), "");
    LLVMValueRef okf = LLVMBuildSelect(b, ok, irb_vsplat(k, 0.0f), irb_vsplat(k, 1.0f), "");
    LLVMValueRef nbad = irb_hsum(k, okf);
    /* (masked-out lanes of a tail load as 0, which is in range) */
    LLVMValueRef prev = LLVMBuildLoad2(b, k->t_i64, es->bad, "");
    LLVMBuildStore(b, LLVMBuildAdd(b, prev, LLVMBuildFPToSI(b, nbad, k->t_i64, ""), ""), es->bad);
    /* lane indices off + [0, vl) as i32 */
    LLVMValueRef base = LLVMBuildTrunc(b, off, k->t_i32, "");
    LLVMValueRef idx;
    if (k->vl == 1) {
        idx = base;
    } else {
        LLVMValueRef e[64];
        for (int i = 0; i < k->vl; i++) e[i] = LLVMConstInt(k->t_i32, (unsigned)i, 0);
        idx = LLVMBuildAdd(b, irb_bcast_i32(k, base), LLVMConstVector(e, (unsigned)k->vl), "");
    }
    LLVMValueRef scale = irb_vsplat(k, 1.0f / 16777216.0f);
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl)) {
        LLVMValueRef key = LLVMBuildLoad2(
            b, k->t_i32, LLVMBuildGEP2(b, k->t_i32, es->key_arr, (LLVMValueRef[]){t}, 1, ""), "");
        LLVMValueRef h = hash32(k, LLVMBuildAdd(b, idx, irb_bcast_i32(k, key), ""));
        LLVMValueRef u = LLVMBuildFMul(
            b, LLVMBuildUIToFP(b, LLVMBuildLShr(b, h, vsplat_i32(k, 8), ""), k->t_vf, ""), scale,
            "");
        LLVMValueRef sp = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLE, u, xv, ""),
                                          irb_vsplat(k, 1.0f), irb_vsplat(k, 0.0f), "");
        store_n(k, sp, irb_gep(k, es->s, at_step(k, off, t, d->M)), lanes);
    }
}

void sn_gen_encode(sn_irb *k, const sn_encode_desc *d) {
    encode_state es;
    memset(&es, 0, sizeof es);
    es.x = irb_arg_buf(k, 0);
    es.s = irb_arg_buf(k, 1);
    LLVMBuilderRef b = k->b;
    if (d->poisson) {
        /* keys: sn_rand_key(mix64(ctx->seed ^ stream), t) = mix64(seed' ^ mix64(t)) >> 32 */
        LLVMValueRef seedp = LLVMBuildGEP2(
            b, k->t_i8, k->a_ctx, (LLVMValueRef[]){irb_i64(k, sn_kctx_seed_offset())}, 1, "");
        LLVMValueRef seed = LLVMBuildLoad2(
            b, k->t_i64, LLVMBuildBitCast(b, seedp, LLVMPointerType(k->t_i64, 0), ""), "");
        LLVMValueRef s2 = mix64(k, LLVMBuildXor(b, seed, LLVMConstInt(k->t_i64, d->stream, 0), ""));
        es.key_arr = LLVMBuildArrayAlloca(b, k->t_i32, irb_i32(k, d->T), "keys");
        LLVMValueRef t0 = sn_gen_ctx_t(k); /* step-major runs: the global step */
        /* a rank's part of a global batch draws with global indices: hash32(key + base + i)
         * is hash32((key + base) + i), so the offset goes into the keys */
        LLVMValueRef base =
            LLVMBuildTrunc(b,
                           LLVMBuildMul(b, sn_kctx_load(k, sn_kctx_sample0_offset(), k->t_i64),
                                        irb_i64(k, d->image), ""),
                           k->t_i32, "");
        tloop tl;
        for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl)) {
            LLVMValueRef kt =
                mix64(k, LLVMBuildXor(b, s2, mix64(k, LLVMBuildAdd(b, t0, t, "")), ""));
            kt = LLVMBuildTrunc(b, LLVMBuildLShr(b, kt, LLVMConstInt(k->t_i64, 32, 0), ""),
                                k->t_i32, "");
            kt = LLVMBuildAdd(b, kt, base, "");
            LLVMBuildStore(b, kt,
                           LLVMBuildGEP2(b, k->t_i32, es.key_arr, (LLVMValueRef[]){t}, 1, ""));
        }
        es.bad = LLVMBuildAlloca(b, k->t_i64, "bad");
        LLVMBuildStore(b, irb_i64(k, 0), es.bad);
    }
    chunk_loop(k, d->M, d, encode_body, &es);
    if (d->poisson) {
        LLVMValueRef nbad = LLVMBuildLoad2(b, k->t_i64, es.bad, "");
        LLVMBasicBlockRef cont =
            irb_if(k, LLVMBuildICmp(b, LLVMIntNE, nbad, irb_i64(k, 0), ""), "bad");
        LLVMValueRef p = LLVMBuildGEP2(
            b, k->t_i8, k->a_ctx, (LLVMValueRef[]){irb_i64(k, sn_kctx_bad_input_offset())}, 1, "");
        p = LLVMBuildBitCast(b, p, LLVMPointerType(k->t_i64, 0), "");
        LLVMBuildAtomicRMW(b, LLVMAtomicRMWBinOpAdd, p, nbad, LLVMAtomicOrderingMonotonic, 0);
        irb_endif(k, cont);
    }
}

/* -------------------------------------------------------------- spike drop ---- */

int64_t sn_spike_drop_tasks(const sn_spike_drop_desc *d) {
    return chunks(d->M);
}

typedef struct drop_state {
    LLVMValueRef x, y, key, t;
} drop_state;

static void drop_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_spike_drop_desc *d = vd;
    drop_state *ds = vs;
    LLVMBuilderRef b = k->b;
    LLVMValueRef xv = load_n(k, irb_gep(k, ds->x, off), lanes);
    /* c = clamp(x, 0, U), whole spikes */
    LLVMValueRef c = irb_fmin(k, irb_fmax(k, xv, irb_vsplat(k, 0.0f)), irb_vsplat(k, (float)d->U));
    /* element i of step t is element t*M + i of the whole [T, ...] tensor */
    LLVMValueRef gi = LLVMBuildAdd(b, off, LLVMBuildMul(b, ds->t, irb_i64(k, d->M), ""), "");
    LLVMValueRef base = LLVMBuildMul(b, LLVMBuildTrunc(b, gi, k->t_i32, ""),
                                     LLVMConstInt(k->t_i32, (unsigned)d->U, 0), "");
    LLVMValueRef idx;
    if (k->vl == 1) {
        idx = base;
    } else {
        LLVMValueRef e[64];
        for (int i = 0; i < k->vl; i++) e[i] = LLVMConstInt(k->t_i32, (unsigned)(i * d->U), 0);
        idx = LLVMBuildAdd(b, irb_bcast_i32(k, base), LLVMConstVector(e, (unsigned)k->vl), "");
    }
    LLVMValueRef kept = irb_vsplat(k, 0.0f);
    for (int j = 0; j < d->U; j++) {
        LLVMValueRef u =
            sn_gen_rand_u01(k, ds->key, LLVMBuildAdd(b, idx, irb_bcast_i32(k, irb_i32(k, j)), ""));
        /* spike j exists when j + 1 <= c, and survives when u >= p */
        LLVMValueRef has = LLVMBuildFCmp(b, LLVMRealOLE, irb_vsplat(k, (float)(j + 1)), c, "");
        LLVMValueRef keep = LLVMBuildFCmp(b, LLVMRealOGE, u, irb_vsplat(k, d->p), "");
        kept = irb_fadd(k, kept,
                        LLVMBuildSelect(b, LLVMBuildAnd(b, has, keep, ""), irb_vsplat(k, 1.0f),
                                        irb_vsplat(k, 0.0f), ""));
    }
    store_n(k, kept, irb_gep(k, ds->y, off), lanes);
}

void sn_gen_spike_drop(sn_irb *k, const sn_spike_drop_desc *d) {
    drop_state ds = {irb_arg_buf(k, 0), irb_arg_buf(k, 1), NULL, sn_gen_ctx_t(k)};
    LLVMValueRef seed = sn_kctx_load(k, sn_kctx_seed_offset(), k->t_i64);
    ds.key = sn_gen_rand_key(k, seed, d->stream);
    chunk_loop(k, d->M, d, drop_body, &ds);
}

/* --------------------------------------------------------------- time mean ---- */

int64_t sn_time_mean_tasks(const sn_time_mean_desc *d) {
    return chunks(d->M);
}

typedef struct tm_state {
    LLVMValueRef acc, first; /* stateful: running sums (double), ctx->t == 0 */
    LLVMValueRef x, y;
    LLVMTypeRef vd; /* vector of doubles */
} tm_state;

static void time_mean_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_time_mean_desc *d = vd;
    tm_state *ts = vs;
    LLVMBuilderRef b = k->b;
    LLVMValueRef acc = LLVMConstNull(ts->vd);
    LLVMValueRef accp = NULL;
    if (d->stateful) { /* (padded: whole vectors even in the tail) */
        accp = LLVMBuildBitCast(b,
                                LLVMBuildGEP2(b, LLVMDoubleTypeInContext(k->ctx), ts->acc,
                                              (LLVMValueRef[]){off}, 1, ""),
                                LLVMPointerType(ts->vd, 0), "");
        LLVMValueRef prev = LLVMBuildLoad2(b, ts->vd, accp, "");
        LLVMSetAlignment(prev, 8);
        acc = LLVMBuildSelect(b, ts->first, acc, prev, "");
    }
    LLVMValueRef aslot = irb_slot_typed(k, ts->vd, (unsigned)(k->vl * 8));
    LLVMBuildStore(b, acc, aslot);
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->stateful ? 1 : d->T, 0); t; t = tl_next(k, &tl)) {
        LLVMValueRef xt = load_n(k, irb_gep(k, ts->x, at_step(k, off, t, d->M)), lanes);
        LLVMValueRef a = LLVMBuildLoad2(b, ts->vd, aslot, "");
        LLVMBuildStore(b, LLVMBuildFAdd(b, a, LLVMBuildFPExt(b, xt, ts->vd, ""), ""), aslot);
    }
    acc = LLVMBuildLoad2(b, ts->vd, aslot, "");
    LLVMValueRef tv = LLVMConstReal(LLVMDoubleTypeInContext(k->ctx), (double)d->T);
    if (k->vl > 1) {
        LLVMValueRef e[64];
        for (int i = 0; i < k->vl; i++) e[i] = tv;
        tv = LLVMConstVector(e, (unsigned)k->vl);
    }
    if (accp) LLVMSetAlignment(LLVMBuildStore(b, acc, accp), 8);
    LLVMValueRef y = LLVMBuildFPTrunc(b, LLVMBuildFDiv(b, acc, tv, ""), k->t_vf, "");
    store_n(k, y, irb_gep(k, ts->y, off), lanes);
}

void sn_gen_time_mean(sn_irb *k, const sn_time_mean_desc *d) {
    tm_state ts;
    memset(&ts, 0, sizeof ts);
    ts.x = irb_arg_buf(k, 0);
    ts.y = irb_arg_buf(k, 1);
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    ts.vd = k->vl > 1 ? LLVMVectorType(dbl, (unsigned)k->vl) : dbl;
    if (d->stateful) {
        ts.acc = LLVMBuildBitCast(k->b, irb_arg_buf(k, 2), LLVMPointerType(dbl, 0), "");
        ts.first = LLVMBuildICmp(k->b, LLVMIntEQ, sn_gen_ctx_t(k), irb_i64(k, 0), "first");
    }
    chunk_loop(k, d->M, d, time_mean_body, &ts);
}

/* --------------------------------------------------------- threshold units ---- */

int64_t sn_threshold_tasks(const sn_threshold_desc *d) {
    return d->N * sn_lay_cb(&d->lay);
}

void sn_gen_threshold(sn_irb *k, const sn_threshold_desc *d) {
    int vl = k->vl;
    const sn_cpu_layout *l = &d->lay;
    int Cb = sn_lay_cb(l);
    LLVMValueRef v = irb_arg_buf(k, 0), th = irb_arg_buf(k, 1), y = irb_arg_buf(k, 2);
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_divc(k, t, Cb), cb = irb_remc(k, t, Cb);
    LLVMValueRef off = irb_add(k, irb_mul(k, n, sn_lay_image(l)), irb_mul(k, cb, sn_lay_plane(l)));
    LLVMValueRef vp = irb_gep(k, v, off), yp = irb_gep(k, y, off);
    LLVMValueRef thp = irb_gep(k, th, irb_mul(k, cb, (int64_t)d->U * vl));
    /* the whole padded plane: halo pixels get 0 */
    int64_t hp = sn_lay_hp(l), wp = sn_lay_wp(l);
    irb_loop lr, lc;
    LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, hp), 1, "r");
    LLVMValueRef c = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, wp), 1, "c");
    LLVMValueRef po = irb_add(k, irb_mul(k, r, sn_lay_row(l)), irb_mul(k, c, vl));
    LLVMValueRef x = irb_vload(k, irb_gep(k, vp, po), vl * 4);
    LLVMValueRef cnt = irb_vsplat(k, 0.0f);
    irb_loop lu;
    LLVMValueRef cslot = irb_slot(k);
    irb_slot_set(k, cslot, cnt);
    LLVMValueRef u = irb_for(k, &lu, irb_i64(k, 0), irb_i64(k, d->U), 1, "u");
    LLVMValueRef thv = irb_vload(k, irb_gep(k, thp, irb_mul(k, u, vl)), vl * 4);
    LLVMValueRef inc = irb_select_ge(k, x, thv, irb_vsplat(k, 1.0f), irb_vsplat(k, 0.0f));
    irb_slot_set(k, cslot, irb_fadd(k, irb_slot_get(k, cslot), inc));
    irb_for_end(k, &lu);
    LLVMBuilderRef b = k->b;
    int h = l->halo;
    LLVMValueRef inside =
        LLVMBuildAnd(b,
                     LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, r, irb_i64(k, h), ""),
                                  irb_icmp_lt(k, r, irb_i64(k, hp - h)), ""),
                     LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, c, irb_i64(k, h), ""),
                                  irb_icmp_lt(k, c, irb_i64(k, wp - h)), ""),
                     "");
    LLVMValueRef res = LLVMBuildSelect(b, inside, irb_slot_get(k, cslot), irb_vsplat(k, 0.0f), "");
    irb_vstore(k, res, irb_gep(k, yp, po), vl * 4);
    irb_for_end(k, &lc);
    irb_for_end(k, &lr);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------------ losses ---- */

static LLVMValueRef dcall(sn_irb *k, const char *name, LLVMValueRef x) {
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, &dbl, 1);
    LLVMTypeRef fty = LLVMIntrinsicGetType(k->ctx, id, &dbl, 1);
    return LLVMBuildCall2(k->b, fty, fn, &x, 1, "");
}

void sn_gen_loss(sn_irb *k, const sn_loss_desc *d) {
    LLVMBuilderRef b = k->b;
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    LLVMValueRef z = irb_arg_buf(k, 0), out = irb_arg_buf(k, 2);
    LLVMValueRef labp =
        LLVMBuildGEP2(b, k->t_pi8, k->a_ptrs, (LLVMValueRef[]){irb_i64(k, 1)}, 1, "");
    LLVMValueRef lab = LLVMBuildBitCast(b, LLVMBuildLoad2(b, k->t_pi8, labp, ""), k->t_pi32, "");
    LLVMValueRef total = LLVMBuildAlloca(b, dbl, "total");
    LLVMBuildStore(b, LLVMConstReal(dbl, 0.0), total);
    int K = d->K;
    irb_loop ln;
    LLVMValueRef n = irb_for(k, &ln, irb_i64(k, 0), irb_i64(k, d->N), 1, "n");
    LLVMValueRef zr = irb_gep(k, z, irb_mul(k, n, K));
    LLVMValueRef label = LLVMBuildSExt(
        b, LLVMBuildLoad2(b, k->t_i32, LLVMBuildGEP2(b, k->t_i32, lab, &n, 1, ""), ""), k->t_i64,
        "");
    LLVMValueRef zj[1024];
    int KK = K < 1024 ? K : 1024;
    for (int j = 0; j < KK; j++)
        zj[j] = LLVMBuildFPExt(b, irb_load(k, irb_gepc(k, zr, j)), dbl, "");
    LLVMValueRef loss;
    /* the label's score, selected without indexing out of range (a bad label reads 0; the
     * caller validates labels) */
    LLVMValueRef zl = LLVMConstReal(dbl, 0.0);
    for (int j = 0; j < KK; j++)
        zl = LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, label, irb_i64(k, j), ""), zj[j], zl,
                             "");
    if (!d->mse) {
        LLVMValueRef mx = LLVMConstReal(dbl, -INFINITY);
        for (int j = 0; j < KK; j++)
            mx = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, zj[j], mx, ""), zj[j], mx, "");
        LLVMValueRef se = LLVMConstReal(dbl, 0.0);
        for (int j = 0; j < KK; j++)
            se = LLVMBuildFAdd(b, se, dcall(k, "llvm.exp", LLVMBuildFSub(b, zj[j], mx, "")), "");
        LLVMValueRef lse = LLVMBuildFAdd(b, mx, dcall(k, "llvm.log", se), "");
        double eps = d->smoothing;
        loss = LLVMBuildFMul(b, LLVMConstReal(dbl, 1.0 - eps), LLVMBuildFSub(b, lse, zl, ""), "");
        if (eps > 0) {
            LLVMValueRef s = LLVMConstReal(dbl, 0.0);
            for (int j = 0; j < KK; j++)
                s = LLVMBuildFAdd(b, s, LLVMBuildFSub(b, lse, zj[j], ""), "");
            loss = LLVMBuildFAdd(b, loss,
                                 LLVMBuildFDiv(b, LLVMBuildFMul(b, LLVMConstReal(dbl, eps), s, ""),
                                               LLVMConstReal(dbl, (double)K), ""),
                                 "");
        }
    } else {
        loss = LLVMConstReal(dbl, 0.0);
        for (int j = 0; j < KK; j++) {
            LLVMValueRef oh =
                LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntEQ, label, irb_i64(k, j), ""),
                                LLVMConstReal(dbl, 1.0), LLVMConstReal(dbl, 0.0), "");
            LLVMValueRef e = LLVMBuildFSub(b, zj[j], oh, "");
            loss = LLVMBuildFAdd(b, loss, LLVMBuildFMul(b, e, e, ""), "");
        }
    }
    LLVMBuildStore(b, LLVMBuildFAdd(b, LLVMBuildLoad2(b, dbl, total, ""), loss, ""), total);
    irb_for_end(k, &ln);
    double denom = d->mse ? (double)d->N * d->K : (double)d->N;
    LLVMValueRef mean =
        LLVMBuildFDiv(b, LLVMBuildLoad2(b, dbl, total, ""), LLVMConstReal(dbl, denom), "");
    irb_store(k, LLVMBuildFPTrunc(b, mean, k->t_f32, ""), out);
}

LLVMValueRef sn_gen_rand_key(sn_irb *k, LLVMValueRef seed, uint64_t stream) {
    LLVMValueRef kt =
        mix64(k, LLVMBuildXor(k->b, seed, mix64(k, LLVMConstInt(k->t_i64, stream, 0)), ""));
    return LLVMBuildTrunc(k->b, LLVMBuildLShr(k->b, kt, LLVMConstInt(k->t_i64, 32, 0), ""),
                          k->t_i32, "");
}

LLVMValueRef sn_gen_rand_u01(sn_irb *k, LLVMValueRef key, LLVMValueRef idx) {
    LLVMValueRef h = hash32(k, LLVMBuildAdd(k->b, idx, irb_bcast_i32(k, key), ""));
    return LLVMBuildFMul(
        k->b, LLVMBuildUIToFP(k->b, LLVMBuildLShr(k->b, h, vsplat_i32(k, 8), ""), k->t_vf, ""),
        irb_vsplat(k, 1.0f / 16777216.0f), "");
}

/* ------------------------------------------------------------ SNN gradients ---- */

/* exp(x) for a float vector: Cody-Waite reduction by ln 2 and a degree-6 polynomial (Cephes
 * expf), within 2 ulp over the clamped range [-87.3, 88.7]. */
static LLVMValueRef vexp(sn_irb *k, LLVMValueRef x) {
    LLVMBuilderRef b = k->b;
    x = irb_fmin(k, irb_fmax(k, x, irb_vsplat(k, -87.3f)), irb_vsplat(k, 88.7f));
    LLVMValueRef n =
        irb_floor(k, irb_fma(k, x, irb_vsplat(k, 1.44269504088896341f), irb_vsplat(k, 0.5f)));
    LLVMValueRef r = irb_fsub(k, x, irb_fmul(k, n, irb_vsplat(k, 0.693359375f)));
    r = irb_fsub(k, r, irb_fmul(k, n, irb_vsplat(k, -2.12194440e-4f)));
    static const float c[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                               4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    LLVMValueRef p = irb_vsplat(k, c[0]);
    for (int i = 1; i < 6; i++) p = irb_fma(k, p, r, irb_vsplat(k, c[i]));
    p = irb_fadd(k, irb_fma(k, p, irb_fmul(k, r, r), r), irb_vsplat(k, 1.0f));
    /* 2^n from the exponent bits */
    LLVMTypeRef vi = k->vl > 1 ? LLVMVectorType(k->t_i32, (unsigned)k->vl) : k->t_i32;
    LLVMValueRef ni = LLVMBuildFPToSI(b, n, vi, "");
    LLVMValueRef e = LLVMBuildShl(b, LLVMBuildAdd(b, ni, irb_bcast_i32(k, irb_i32(k, 127)), ""),
                                  irb_bcast_i32(k, irb_i32(k, 23)), "");
    return irb_fmul(k, p, LLVMBuildBitCast(b, e, k->t_vf, ""));
}

/* The surrogate derivative of the Heaviside step at x = H - V_th (spec-neurons.md). */
static LLVMValueRef surrogate(sn_irb *k, const sn_neuron_params *p, LLVMValueRef x) {
    float a = p->alpha;
    if (p->surrogate == SN_SG_SIGMOID) {
        LLVMValueRef one = irb_vsplat(k, 1.0f);
        LLVMValueRef s =
            irb_fdiv(k, one, irb_fadd(k, one, vexp(k, irb_fmul(k, x, irb_vsplat(k, -a)))));
        return irb_fmul(k, irb_vsplat(k, a), irb_fmul(k, s, irb_fsub(k, one, s)));
    }
    LLVMValueRef u = irb_fmul(k, x, irb_vsplat(k, (float)(3.14159265358979323846 / 2.0) * a));
    return irb_fdiv(k, irb_vsplat(k, a),
                    irb_fmul(k, irb_vsplat(k, 2.0f), irb_fma(k, u, u, irb_vsplat(k, 1.0f))));
}

typedef struct neuron_bwd_state {
    LLVMValueRef x, ds, dx;
} neuron_bwd_state;

/* BPTT through the neuron (the derivation is in runtime/ref/neuron.c). The forward pass is
 * recomputed and its H[t] parked in dx[t]; the backward pass reads H[t] back from dx[t]
 * (S[t] = H[t] >= V_th) and overwrites it with dL/dX[t]. Computed in float. */
static void neuron_bwd_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_neuron_desc *d = vd;
    neuron_bwd_state *ns = vs;
    const sn_neuron_params *p = &d->p;
    float vr = p->hard_reset ? p->v_reset : 0.0f;
    LLVMValueRef vrv = irb_vsplat(k, vr), vth = irb_vsplat(k, p->v_threshold);
    LLVMValueRef one = irb_vsplat(k, 1.0f), zero = irb_vsplat(k, 0.0f);
    neuron_run(k, d, off, lanes, ns->x, vrv, NULL, ns->dx, NULL);
    int lif = p->model == SN_NEURON_LIF;
    float a = lif ? 1.0f - 1.0f / p->tau : 1.0f;             /* dH[t]/dV[t-1] */
    float bx = lif && p->decay_input ? 1.0f / p->tau : 1.0f; /* dH[t]/dX[t] */
    LLVMValueRef dvslot = irb_slot(k);
    irb_slot_set(k, dvslot, zero);
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->T, 1); t; t = tl_next(k, &tl)) {
        LLVMValueRef dv = irb_slot_get(k, dvslot);
        LLVMValueRef at = at_step(k, off, t, d->M);
        LLVMValueRef h = load_n(k, irb_gep(k, ns->dx, at), lanes);
        LLVMValueRef dst = load_n(k, irb_gep(k, ns->ds, at), lanes);
        LLVMValueRef x = irb_fsub(k, h, vth);
        LLVMValueRef s = irb_select_ge(k, x, zero, one, zero);
        LLVMValueRef g = surrogate(k, p, x);
        LLVMValueRef dstot = dst, dvdh;
        if (p->hard_reset) {
            if (!p->detach_reset) dstot = irb_fma(k, dv, irb_fsub(k, vrv, h), dst);
            dvdh = irb_fsub(k, one, s);
        } else {
            if (!p->detach_reset) dstot = irb_fsub(k, dst, irb_fmul(k, dv, vth));
            dvdh = one;
        }
        LLVMValueRef dh = irb_fadd(k, irb_fmul(k, dstot, g), irb_fmul(k, dv, dvdh));
        store_n(k, bx == 1.0f ? dh : irb_fmul(k, dh, irb_vsplat(k, bx)), irb_gep(k, ns->dx, at),
                lanes);
        irb_slot_set(k, dvslot, a == 1.0f ? dh : irb_fmul(k, dh, irb_vsplat(k, a)));
    }
}

void sn_gen_neuron_bwd(sn_irb *k, const sn_neuron_desc *d) {
    neuron_bwd_state ns = {irb_arg_buf(k, 0), irb_arg_buf(k, 1), irb_arg_buf(k, 2)};
    chunk_loop(k, d->M, d, neuron_bwd_body, &ns);
}

typedef struct tmb_state {
    LLVMValueRef in, out;
    LLVMTypeRef vd;
} tmb_state;

/* time mean backward: dx[t] = dy / T for every t */
static void time_mean_bwd_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_time_mean_desc *d = vd;
    tmb_state *ts = vs;
    LLVMValueRef g =
        irb_fdiv(k, load_n(k, irb_gep(k, ts->in, off), lanes), irb_vsplat(k, (float)d->T));
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl))
        store_n(k, g, irb_gep(k, ts->out, at_step(k, off, t, d->M)), lanes);
}

/* direct encoder backward: dx = sum over t of ds[t], in double like the reference */
static void direct_bwd_body(sn_irb *k, const void *vd, LLVMValueRef off, int lanes, void *vs) {
    const sn_time_mean_desc *d = vd;
    tmb_state *ts = vs;
    LLVMBuilderRef b = k->b;
    LLVMValueRef aslot = irb_slot_typed(k, ts->vd, (unsigned)(k->vl * 8));
    LLVMBuildStore(b, LLVMConstNull(ts->vd), aslot);
    tloop tl;
    for (LLVMValueRef t = tl_begin(k, &tl, d->T, 0); t; t = tl_next(k, &tl)) {
        LLVMValueRef x = load_n(k, irb_gep(k, ts->in, at_step(k, off, t, d->M)), lanes);
        LLVMValueRef acc = LLVMBuildLoad2(b, ts->vd, aslot, "");
        LLVMBuildStore(b, LLVMBuildFAdd(b, acc, LLVMBuildFPExt(b, x, ts->vd, ""), ""), aslot);
    }
    LLVMValueRef acc = LLVMBuildLoad2(b, ts->vd, aslot, "");
    store_n(k, LLVMBuildFPTrunc(b, acc, k->t_vf, ""), irb_gep(k, ts->out, off), lanes);
}

void sn_gen_time_bwd(sn_irb *k, const sn_time_mean_desc *d, int direct_encoder) {
    tmb_state ts = {irb_arg_buf(k, 0), irb_arg_buf(k, 1), NULL};
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    ts.vd = k->vl > 1 ? LLVMVectorType(dbl, (unsigned)k->vl) : dbl;
    chunk_loop(k, d->M, d, direct_encoder ? direct_bwd_body : time_mean_bwd_body, &ts);
}
