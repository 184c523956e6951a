/* Device memory of a CUDA program (see program.h): lifetimes over the program's steps and
 * placement in one arena with runtime/exec's planner, as the CPU plan does. */
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/exec/memplan.h"
#include "program.h"

int sn_cu_in_arena(const sn_cu_buffer *b) {
    if (!b->used || b->alias_of >= 0) return 0;
    return strcmp(b->role, "param") != 0 && strcmp(b->role, "buffer") != 0 &&
           strcmp(b->role, "optstate") != 0;
}

/* The buffer whose memory b is (following views). */
static int base_of(const sn_cu_program *p, int b) {
    for (int guard = 0; guard < 64 && b >= 0 && p->bufs[b].alias_of >= 0; guard++)
        b = p->bufs[b].alias_of;
    return b;
}

static void touch(const sn_cu_program *p, int b, int s, int *first, int *last) {
    b = base_of(p, b);
    if (b < 0) return;
    if (s < first[b]) first[b] = s;
    if (s > last[b]) last[b] = s;
}

sn_code sn_cu_lifetimes(const sn_cu_program *p, const unsigned char *keep, int *first, int *last,
                        int *nsteps) {
    int n = 0;
    for (int i = 0; i < p->nsteps; i++) n += !p->steps[i].prep;
    for (int i = 0; i < p->nbufs; i++) {
        first[i] = n + 1;
        last[i] = -1;
    }
    int s = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *st = &p->steps[i];
        /* what a preparation step writes is read by every run: live throughout */
        int at = st->prep ? -1 : s;
        for (int a = 0; a < st->nargs; a++)
            if (st->args[a].kind == SN_CU_ARG_BUF) {
                touch(p, st->args[a].buf, at, first, last);
                if (st->prep) touch(p, st->args[a].buf, n, first, last);
            }
        if (st->kind == SN_CU_SGEMM) {
            int ops[3] = {st->A, st->B, st->C};
            for (int k = 0; k < 3; k++) {
                touch(p, ops[k], at, first, last);
                if (st->prep) touch(p, ops[k], n, first, last);
            }
        }
        s += !st->prep;
    }
    /* inputs arrive before the first step, outputs leave after the last; counters are
     * zeroed before and read after; kept tensors are read after the run */
    int ins[2] = {p->in_buf, p->label_buf}, outs[2] = {p->out_buf, p->loss_buf};
    for (int k = 0; k < 2; k++) {
        if (ins[k] >= 0) touch(p, ins[k], -1, first, last);
        if (outs[k] >= 0) touch(p, outs[k], n, first, last);
    }
    for (int i = 0; i < p->nbufs; i++)
        if (strcmp(p->bufs[i].role, "counter") == 0 || (keep && keep[i])) {
            touch(p, i, -1, first, last);
            touch(p, i, n, first, last);
        }
    *nsteps = n;
    return SN_OK;
}

sn_code sn_cu_plan_memory(const sn_cu_program *p, const unsigned char *keep, int reuse,
                          sn_cu_memplan *m, sn_status *st) {
    memset(m, 0, sizeof *m);
    int nb = p->nbufs ? p->nbufs : 1, n;
    int *first = calloc((size_t)nb, sizeof(int)), *last = calloc((size_t)nb, sizeof(int));
    int64_t *bytes = calloc((size_t)nb, sizeof(int64_t));
    m->offset = calloc((size_t)nb, sizeof(int64_t));
    if (!first || !last || !bytes || !m->offset) goto oom;
    sn_cu_lifetimes(p, keep, first, last, &n);
    for (int i = 0; i < p->nbufs; i++) {
        bytes[i] = p->bufs[i].bytes;
        if (!sn_cu_in_arena(&p->bufs[i])) {
            first[i] = 1; /* no space */
            last[i] = 0;
        } else if (first[i] > last[i]) { /* used only through another path: keep it anyway */
            first[i] = -1;
            last[i] = n;
        } else if (!reuse) {
            first[i] = -1;
            last[i] = n;
        }
    }
    m->arena_bytes = sn_memplan_place(p->nbufs, bytes, first, last, 256, m->offset, &m->sum_bytes);
    if (m->arena_bytes < 0) goto oom;
    free(first);
    free(last);
    free(bytes);
    return SN_OK;
oom:
    free(first);
    free(last);
    free(bytes);
    sn_cu_memplan_free(m);
    return sn_fail(st, SN_ERR_RUNTIME, "out of memory planning device memory");
}

void sn_cu_memplan_free(sn_cu_memplan *m) {
    free(m->offset);
    memset(m, 0, sizeof *m);
}
