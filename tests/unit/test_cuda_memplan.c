/* The CUDA program's device arena (compiler/backends/cuda/memplan.c), no GPU needed:
 *   - VGG16's training step at batch 128 plans far less than the sum of its buffers (and
 *     its inference much less still), and without reuse exactly the sum;
 *   - no two buffers that are live at the same step share bytes, checked against
 *     lifetimes derived here independently, straight from the steps' operands (a view's
 *     uses count for the buffer it views; inputs live from before the first step,
 *     outputs and counters to after the last, preparation outputs throughout);
 *   - a kept buffer lives to the end and so never shares its space with a later buffer. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/backends/cuda/program.h"
#include "compiler/driver/session.h"
#include "compiler/driver/trainer.h"
#include "compiler/ir/build.h"
#include "compiler/passes/fusion.h"

static int base(const sn_cu_program *p, int b) {
    while (b >= 0 && p->bufs[b].alias_of >= 0) b = p->bufs[b].alias_of;
    return b;
}

/* live[s * nb + b]: buffer b is live at run step s (0 .. n+1 for before/after the run). */
static unsigned char *live_matrix(const sn_cu_program *p, const unsigned char *keep, int *nslots) {
    int n = 0;
    for (int i = 0; i < p->nsteps; i++) n += !p->steps[i].prep;
    int ns = n + 2, nb = p->nbufs;
    int *lo = malloc((size_t)nb * sizeof(int)), *hi = malloc((size_t)nb * sizeof(int));
    unsigned char *live = calloc((size_t)ns * (size_t)nb, 1);
    for (int b = 0; b < nb; b++) {
        lo[b] = ns;
        hi[b] = -1;
    }
#define USE(b, slot)                                                                               \
    do {                                                                                           \
        int b_ = base(p, (b));                                                                     \
        if (b_ >= 0) {                                                                             \
            if ((slot) < lo[b_]) lo[b_] = (slot);                                                  \
            if ((slot) > hi[b_]) hi[b_] = (slot);                                                  \
        }                                                                                          \
    } while (0)
    int s = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const sn_cu_step *st = &p->steps[i];
        int ops[SN_CU_MAX_ARGS + 3], no = 0;
        for (int a = 0; a < st->nargs; a++)
            if (st->args[a].kind == SN_CU_ARG_BUF) ops[no++] = st->args[a].buf;
        if (st->kind == SN_CU_SGEMM) {
            ops[no++] = st->A;
            ops[no++] = st->B;
            ops[no++] = st->C;
        }
        for (int k = 0; k < no; k++) {
            if (st->prep) {
                USE(ops[k], 0);
                USE(ops[k], ns - 1);
            } else {
                USE(ops[k], s + 1);
            }
        }
        s += !st->prep;
    }
    if (p->in_buf >= 0) USE(p->in_buf, 0);
    if (p->label_buf >= 0) USE(p->label_buf, 0);
    if (p->out_buf >= 0) USE(p->out_buf, ns - 1);
    if (p->loss_buf >= 0) USE(p->loss_buf, ns - 1);
    for (int b = 0; b < nb; b++)
        if ((keep && keep[b]) || strcmp(p->bufs[b].role, "counter") == 0) {
            USE(b, 0);
            USE(b, ns - 1);
        }
#undef USE
    for (int b = 0; b < nb; b++)
        for (int t = lo[b]; t <= hi[b]; t++) live[(size_t)t * nb + b] = 1;
    free(lo);
    free(hi);
    *nslots = ns;
    return live;
}

/* Returns the number of pairs of simultaneously live buffers that share bytes (reported
 * as failures when `report`). */
static int overlaps(const sn_cu_program *p, const sn_cu_memplan *m, const unsigned char *keep,
                    int report) {
    int ns, nb = p->nbufs, bad = 0;
    unsigned char *live = live_matrix(p, keep, &ns);
    for (int a = 0; a < nb; a++) {
        if (m->offset[a] < 0) continue;
        for (int b = a + 1; b < nb; b++) {
            if (m->offset[b] < 0) continue;
            int64_t a0 = m->offset[a], a1 = a0 + p->bufs[a].bytes;
            int64_t b0 = m->offset[b], b1 = b0 + p->bufs[b].bytes;
            if (a1 <= b0 || b1 <= a0) continue;
            for (int t = 0; t < ns; t++)
                if (live[(size_t)t * nb + a] && live[(size_t)t * nb + b]) {
                    if (report && bad < 5)
                        CHECK_MSG(0, "%s and %s share bytes and are both live at step %d",
                                  p->bufs[a].name, p->bufs[b].name, t - 1);
                    bad++;
                    break;
                }
        }
    }
    /* every buffer with a use has space, inside the arena */
    for (int b = 0; b < nb; b++) {
        if (m->offset[b] < 0) continue;
        CHECK(m->offset[b] % 256 == 0);
        CHECK(m->offset[b] + p->bufs[b].bytes <= m->arena_bytes);
    }
    free(live);
    return bad;
}

static int lower(const char *model, int train, int64_t batch, sn_cu_program *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/../models/%s.yaml", SNNC_TEST_DIR, model);
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    memset(&spec, 0, sizeof spec);
    sn_graph g;
    sn_graph_init(&g);
    sn_groups gs;
    memset(&gs, 0, sizeof gs);
    sn_build_opts bo = {.batch = batch, .with_loss = 0};
    sn_cu_options o = {SN_CU_FP32};
    int ok =
        !sn_spec_load(path, NULL, 0, &spec, &st) &&
        !(train ? sn_train_graph(&spec, batch, &g, &st) : sn_graph_build(&spec, &bo, &g, &st)) &&
        !sn_fuse(&g, 1, &gs, &st) && !sn_cuda_lower(&g, &gs, &o, p, &st);
    if (!ok) CHECK_MSG(0, "%s: %s", model, st.msg);
    sn_groups_free(&gs);
    sn_graph_free(&g);
    sn_spec_free(&spec);
    return ok;
}

static void check_model(const char *model, int train, int64_t batch, double max_ratio) {
    sn_cu_program p;
    memset(&p, 0, sizeof p);
    if (!lower(model, train, batch, &p)) return;
    sn_status st;
    sn_status_init(&st);
    sn_cu_memplan m, none;
    CHECK_EQ_INT(sn_cu_plan_memory(&p, NULL, 1, &m, &st), SN_OK);
    CHECK_EQ_INT(sn_cu_plan_memory(&p, NULL, 0, &none, &st), SN_OK);
    double ratio = (double)m.arena_bytes / (double)m.sum_bytes;
    fprintf(stderr, "  %-22s %-5s batch %3lld: arena %7.1f MiB, buffers %7.1f MiB (%.2f)\n", model,
            train ? "train" : "infer", (long long)batch, (double)m.arena_bytes / 1048576.0,
            (double)m.sum_bytes / 1048576.0, ratio);
    CHECK_MSG(ratio <= max_ratio, "%s: the arena is %.2f of the buffers' sum", model, ratio);
    CHECK(none.arena_bytes == none.sum_bytes && none.sum_bytes == m.sum_bytes);
    CHECK_EQ_INT(overlaps(&p, &m, NULL, 1), 0);
    /* the check itself: everything at offset 0 must be caught */
    sn_cu_memplan zero = none;
    zero.offset = calloc((size_t)p.nbufs, sizeof(int64_t));
    for (int b = 0; b < p.nbufs; b++) zero.offset[b] = none.offset[b] < 0 ? -1 : 0;
    CHECK(overlaps(&p, &zero, NULL, 0) > 0);
    free(zero.offset);
    /* keeping every activation: none may share space with anything any more */
    unsigned char *keep = calloc((size_t)p.nbufs, 1);
    for (int b = 0; b < p.nbufs; b++) keep[b] = strcmp(p.bufs[b].role, "act") == 0;
    sn_cu_memplan mk;
    CHECK_EQ_INT(sn_cu_plan_memory(&p, keep, 1, &mk, &st), SN_OK);
    CHECK_EQ_INT(overlaps(&p, &mk, keep, 1), 0);
    CHECK(mk.arena_bytes >= m.arena_bytes);
    free(keep);
    sn_cu_memplan_free(&m);
    sn_cu_memplan_free(&none);
    sn_cu_memplan_free(&mk);
    sn_cu_program_free(&p);
}

static void test_vgg16(void) {
    check_model("vgg16_cifar10", 1, 128, 0.6);
    check_model("vgg16_cifar10", 0, 128, 0.5);
    check_model("vgg16_bn_cifar10", 1, 32, 0.6);
}

static void test_small_models(void) {
    check_model("lenet_mnist", 1, 16, 1.0);
    check_model("quant_lenet_mnist", 1, 8, 1.0);
    check_model("lif_fc_mnist", 1, 8, 1.0);
}

int main(void) {
    RUN(test_vgg16);
    RUN(test_small_models);
    return sn_test_result();
}
