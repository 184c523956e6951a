/* Communicators: launcher detection, the one-rank "self" communicator, the checked
 * wrappers every caller uses, and the agreement step. See comm.h; MPI is in comm_mpi.c. */
#define _POSIX_C_SOURCE 200809L
#include "comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "comm_impl.h"

int sn_comm_have_mpi(void) {
#ifdef SNNC_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int sn_comm_launched(void) {
    const char *force = getenv("SNNC_MPI");
    if (force && *force) return strcmp(force, "0") != 0;
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "PMIX_RANK",
                                       "MV2_COMM_WORLD_RANK"};
    for (size_t i = 0; i < SN_ARRAY_LEN(vars); i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* ---- self: one rank ---- */

static sn_code self_iallreduce(sn_comm *c, float *buf, int64_t n, sn_comm_req **req,
                               sn_status *st) {
    *req = NULL;
    return SN_OK;
}
static sn_code self_test(sn_comm *c, sn_comm_req *req, int *done, sn_status *st) {
    *done = 1;
    return SN_OK;
}
static sn_code self_wait(sn_comm *c, sn_comm_req *req, sn_status *st) {
    return SN_OK;
}
static sn_code self_f64(sn_comm *c, double *buf, int64_t n, sn_status *st) {
    return SN_OK;
}
static sn_code self_i64(sn_comm *c, int64_t *buf, int64_t n, sn_status *st) {
    return SN_OK;
}
static sn_code self_bcast(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st) {
    return SN_OK;
}
static sn_code self_allgather(sn_comm *c, const void *mine, void *all, int64_t bytes,
                              sn_status *st) {
    if (bytes > 0) memmove(all, mine, (size_t)bytes);
    return SN_OK;
}
static void self_abort(sn_comm *c, int code) {
    fflush(stdout);
    fflush(stderr);
    _exit(code);
}
static void self_close(sn_comm *c) {}

static const sn_comm_ops self_ops = {self_iallreduce, self_test,  self_wait,      self_f64,
                                     self_i64,        self_bcast, self_allgather, self_abort,
                                     self_close,      NULL,       NULL,           NULL};

sn_code sn_comm_open_self(sn_comm **out, sn_status *st) {
    sn_comm *c = sn_calloc(1, sizeof *c);
    if (!c) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    c->ops = &self_ops;
    sn_strlcpy(c->kind, "self", sizeof c->kind);
    c->rank = c->local_rank = 0;
    c->size = c->local_size = 1;
    if (gethostname(c->host, sizeof c->host) != 0) sn_strlcpy(c->host, "?", sizeof c->host);
    c->host[sizeof c->host - 1] = '\0';
    *out = c;
    return SN_OK;
}

sn_code sn_comm_open(sn_comm **out, sn_status *st) {
    *out = NULL;
    if (!sn_comm_launched()) return sn_comm_open_self(out, st);
#ifdef SNNC_HAVE_MPI
    return sn_comm_open_mpi(out, st);
#else
    return sn_fail(st, SN_ERR_INPUT,
                   "this process was started by an MPI launcher (mpirun, mpiexec or srun), but "
                   "this snnc was built without MPI: install libopenmpi-dev (or another MPI) and "
                   "rebuild, or run snnc without the launcher (SNNC_MPI=0 ignores it)");
#endif
}

void sn_comm_close(sn_comm *c) {
    if (!c) return;
    c->ops->close(c);
    free(c);
}

void sn_comm_abort(sn_comm *c, int code) {
    if (c) c->ops->abort(c, code);
    fflush(stdout);
    fflush(stderr);
    _exit(code); /* not reached for MPI: MPI_Abort ends the process */
}

sn_code sn_comm_iallreduce_f32(sn_comm *c, float *buf, int64_t n, sn_comm_req **req,
                               sn_status *st) {
    *req = NULL;
    return c->ops->iallreduce_f32(c, buf, n, req, st);
}

sn_code sn_comm_test(sn_comm *c, sn_comm_req *req, int *done, sn_status *st) {
    *done = 1;
    return req ? c->ops->test(c, req, done, st) : SN_OK;
}

sn_code sn_comm_wait(sn_comm *c, sn_comm_req *req, sn_status *st) {
    if (!req) return SN_OK;
    double t0 = sn_now();
    sn_code rc = c->ops->wait(c, req, st);
    c->wait_seconds += sn_now() - t0;
    return rc;
}

sn_code sn_comm_allreduce_f64(sn_comm *c, double *buf, int64_t n, sn_status *st) {
    return n > 0 ? c->ops->allreduce_f64(c, buf, n, st) : SN_OK;
}

sn_code sn_comm_allreduce_max_i64(sn_comm *c, int64_t *buf, int64_t n, sn_status *st) {
    return n > 0 ? c->ops->allreduce_max_i64(c, buf, n, st) : SN_OK;
}

sn_code sn_comm_bcast(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st) {
    return bytes > 0 ? c->ops->bcast(c, buf, bytes, root, st) : SN_OK;
}

sn_code sn_comm_allgather(sn_comm *c, const void *mine, void *all, int64_t bytes, sn_status *st) {
    return c->ops->allgather(c, mine, all, bytes, st);
}

sn_code sn_comm_shm_alloc(sn_comm *c, int64_t bytes, sn_comm_shm **shm, void **ptr, sn_status *st) {
    *shm = NULL;
    *ptr = NULL;
    if (c->local_size < 2 || !c->ops->shm_alloc || bytes <= 0) return SN_OK;
    return c->ops->shm_alloc(c, bytes, shm, ptr, st);
}

sn_code sn_comm_shm_sync(sn_comm *c, sn_comm_shm *shm, sn_status *st) {
    return shm ? c->ops->shm_sync(c, shm, st) : SN_OK;
}

void sn_comm_shm_free(sn_comm *c, sn_comm_shm *shm) {
    if (shm) c->ops->shm_free(c, shm);
}

sn_code sn_comm_agree(sn_comm *c, sn_status *st, int *print) {
    *print = st->code != SN_OK;
    if (c->size == 1) return st->code;
    /* every rank's code, and whether its message is rank 0's */
    int64_t mine[2] = {st->code, 0};
    int64_t *all = sn_calloc((size_t)c->size * 2, sizeof(int64_t));
    uint64_t h0 = sn_hash_str(SN_HASH_INIT, st->code ? st->msg : "");
    sn_status cs;
    sn_status_init(&cs);
    if (!all) sn_comm_abort(c, SN_ERR_RUNTIME);
    if (sn_comm_bcast(c, &h0, sizeof h0, 0, &cs) != SN_OK) goto broken;
    mine[1] = st->code != SN_OK && h0 == sn_hash_str(SN_HASH_INIT, st->msg);
    if (sn_comm_allgather(c, mine, all, sizeof mine, &cs) != SN_OK) goto broken;
    int worst = 0, first_bad = -1, nbad = 0;
    for (int r = 0; r < c->size; r++) {
        int code = (int)all[2 * r];
        if (code != SN_OK) {
            nbad++;
            if (first_bad < 0) first_bad = r;
            if (code == SN_ERR_INPUT || worst == 0) worst = code;
        }
    }
    free(all);
    if (st->code != SN_OK) {
        /* rank 0 prints its own; others print what rank 0 did not */
        *print = c->rank == 0 || !mine[1];
        return st->code;
    }
    *print = 0;
    if (worst)
        sn_fail(st, (sn_code)worst, "rank %d%s failed (see its message)", first_bad,
                nbad > 1 ? " and others" : "");
    return st->code;
broken:
    free(all);
    fprintf(stderr, "snnc: %s%s\n", sn_comm_prefix(c), cs.msg);
    sn_comm_abort(c, SN_ERR_RUNTIME);
}

const char *sn_comm_prefix(const sn_comm *c) {
    static char buf[128];
    if (!c || c->size <= 1) return "";
    snprintf(buf, sizeof buf, "rank %d/%d on %s: ", c->rank, c->size, c->host);
    return buf;
}
