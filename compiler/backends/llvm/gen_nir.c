/* Kernels for the ops NIR graphs bring: elementwise scale and the continuous-time neurons
 * (op_params.h). Both work on plain maps without halo, so element e of an image is entry e
 * of the per-neuron parameter arrays. Tasks are (image, chunk of E) pairs; the neuron loops
 * over T inside a task, keeping v in a register, with the reference's arithmetic in the
 * reference's order (spikes and potentials match it bit for bit). */
#include <string.h>

#include "kernels.h"

#define CHUNK 2048 /* elements per task */

static int64_t nchunks(int64_t E) {
    return (E + CHUNK - 1) / CHUNK;
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

/* body(k, d, n, e, lanes, state) on every vector of image n's chunk, for tasks [lo, hi) */
typedef void (*elem_body)(sn_irb *k, const void *d, LLVMValueRef n, LLVMValueRef e, int lanes,
                          void *state);

static void image_chunks(sn_irb *k, int64_t E, const void *d, elem_body body, void *state) {
    int vl = k->vl;
    int64_t nch = nchunks(E), last = E - (nch - 1) * CHUNK; /* the last chunk's length */
    irb_loop lt;
    LLVMValueRef task = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_divc(k, task, nch), ch = irb_remc(k, task, nch);
    LLVMValueRef base = irb_mul(k, ch, CHUNK);
    LLVMValueRef full = irb_icmp_lt(k, ch, irb_i64(k, nch - 1));
    if (nch > 1) {
        LLVMBasicBlockRef cont = irb_if(k, full, "full");
        irb_loop li;
        LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, CHUNK), vl, "i");
        body(k, d, n, irb_add(k, base, i), vl, state);
        irb_for_end(k, &li);
        irb_endif(k, cont);
    }
    LLVMBasicBlockRef cont = irb_if(k, LLVMBuildNot(k->b, full, ""), "last");
    int64_t vfull = last / vl * vl;
    if (vfull > 0) {
        irb_loop li;
        LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, vfull), vl, "i");
        body(k, d, n, irb_add(k, base, i), vl, state);
        irb_for_end(k, &li);
    }
    if (last > vfull) body(k, d, n, irb_addc(k, base, vfull), (int)(last - vfull), state);
    irb_endif(k, cont);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------------- scale ---- */

int64_t sn_scale_tasks(const sn_scale_desc *d) {
    return d->N * nchunks(d->E);
}

static void scale_body(sn_irb *k, const void *vd, LLVMValueRef n, LLVMValueRef e, int lanes,
                       void *st) {
    const sn_scale_desc *d = vd;
    LLVMValueRef *p = st; /* x, s, y */
    LLVMValueRef at = irb_add(k, irb_mul(k, n, d->E), e);
    LLVMValueRef v =
        irb_fmul(k, load_n(k, irb_gep(k, p[0], at), lanes), load_n(k, irb_gep(k, p[1], e), lanes));
    store_n(k, v, irb_gep(k, p[2], at), lanes);
}

void sn_gen_scale(sn_irb *k, const sn_scale_desc *d) {
    LLVMValueRef p[3] = {irb_arg_buf(k, 0), irb_arg_buf(k, 1), irb_arg_buf(k, 2)};
    image_chunks(k, d->E, d, scale_body, p);
}

/* ------------------------------------------------------------------ neuron ---- */

int64_t sn_nir_neuron_tasks(const sn_nir_neuron_desc *d) {
    return d->N * nchunks(d->E);
}

typedef struct nir_state {
    LLVMValueRef x, y, leak, r, vleak, vth, vreset, state, vrec;
    LLVMValueRef first; /* stateful: ctx->t == 0 */
    LLVMValueRef vslot; /* v across the time loop */
} nir_state;

/* a > b, or a >= b (ge) */
static LLVMValueRef fires(sn_irb *k, int ge, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildFCmp(k->b, ge ? LLVMRealOGE : LLVMRealOGT, a, b, "");
}

static void nir_body(sn_irb *k, const void *vd, LLVMValueRef n, LLVMValueRef e, int lanes,
                     void *vs) {
    const sn_nir_neuron_desc *d = vd;
    nir_state *s = vs;
    const sn_nir_neuron_params *p = &d->p;
    int leaky = p->model == SN_NIR_LIF || p->model == SN_NIR_LI;
    int spiking = p->model == SN_NIR_LIF || p->model == SN_NIR_IF;
    int thr_only = p->model == SN_NIR_THRESHOLD;
    LLVMValueRef zero = irb_vsplat(k, 0.0f), one = irb_vsplat(k, 1.0f);
    LLVMValueRef kv = leaky ? load_n(k, irb_gep(k, s->leak, e), lanes) : NULL;
    LLVMValueRef r = !thr_only ? load_n(k, irb_gep(k, s->r, e), lanes) : NULL;
    LLVMValueRef vl = leaky ? load_n(k, irb_gep(k, s->vleak, e), lanes) : NULL;
    LLVMValueRef th = spiking || thr_only ? load_n(k, irb_gep(k, s->vth, e), lanes) : NULL;
    LLVMValueRef vr = spiking && !p->subtract ? load_n(k, irb_gep(k, s->vreset, e), lanes) : NULL;
    /* the state index of (n, e) */
    LLVMValueRef ne = irb_add(k, irb_mul(k, n, d->E), e);
    if (!thr_only) {
        LLVMValueRef v0 = leaky ? vl : (spiking && !p->subtract) ? vr : zero;
        if (d->stateful) /* (a tail touches its own lanes only: the next image's follow) */
            v0 =
                LLVMBuildSelect(k->b, s->first, v0, load_n(k, irb_gep(k, s->state, ne), lanes), "");
        irb_slot_set(k, s->vslot, v0);
    }
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, irb_i64(k, 0), irb_i64(k, d->T), 1, "t");
    /* element (t, n, e) of [T][N][E] */
    LLVMValueRef at = irb_add(k, irb_mul(k, t, d->N * d->E), ne);
    LLVMValueRef x = load_n(k, irb_gep(k, s->x, at), lanes);
    if (thr_only) {
        store_n(k, LLVMBuildSelect(k->b, fires(k, p->ge, x, th), one, zero, ""),
                irb_gep(k, s->y, at), lanes);
    } else {
        LLVMValueRef v = irb_slot_get(k, s->vslot);
        LLVMValueRef h =
            leaky ? irb_fadd(k, v,
                             irb_fmul(k, kv, irb_fadd(k, irb_fsub(k, vl, v), irb_fmul(k, r, x))))
                  : irb_fadd(k, v, irb_fmul(k, r, x));
        LLVMValueRef out;
        if (spiking) {
            LLVMValueRef fire = fires(k, p->ge, h, th);
            out = LLVMBuildSelect(k->b, fire, one, zero, "");
            v = LLVMBuildSelect(k->b, fire, p->subtract ? irb_fsub(k, h, th) : vr, h, "");
        } else {
            v = h;
            out = v;
        }
        store_n(k, out, irb_gep(k, s->y, at), lanes);
        if (d->record) store_n(k, v, irb_gep(k, s->vrec, at), lanes);
        irb_slot_set(k, s->vslot, v);
    }
    irb_for_end(k, &lt);
    if (!thr_only && d->stateful)
        store_n(k, irb_slot_get(k, s->vslot), irb_gep(k, s->state, ne), lanes);
}

void sn_gen_nir_neuron(sn_irb *k, const sn_nir_neuron_desc *d) {
    nir_state s;
    memset(&s, 0, sizeof s);
    s.x = irb_arg_buf(k, 0);
    s.y = irb_arg_buf(k, 1);
    s.leak = irb_arg_buf(k, 2);
    s.r = irb_arg_buf(k, 3);
    s.vleak = irb_arg_buf(k, 4);
    s.vth = irb_arg_buf(k, 5);
    s.vreset = irb_arg_buf(k, 6);
    if (d->stateful) {
        s.state = irb_arg_buf(k, 7);
        s.first = LLVMBuildICmp(k->b, LLVMIntEQ, sn_gen_ctx_t(k), irb_i64(k, 0), "first");
    }
    if (d->record) s.vrec = irb_arg_buf(k, 8);
    s.vslot = irb_slot(k);
    image_chunks(k, d->E, d, nir_body, &s);
}
