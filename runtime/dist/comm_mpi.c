/* The MPI communicator (built when CMake finds MPI: SNNC_HAVE_MPI). See comm.h.
 *
 * Errors return (MPI_ERRORS_RETURN on the job's communicator) instead of aborting inside
 * MPI, so a failed call is reported with snnc's message and the rank; the launcher ends
 * the job when a rank dies. Non-blocking reductions progress when the caller tests them
 * (Open MPI and MPICH progress collectives inside MPI calls), so the gradient reducer
 * tests its requests between the steps of the backward pass. Waits poll with a short
 * sleep rather than spin in MPI_Wait: on a machine with as many ranks as cores, a
 * spinning rank would take the core another rank computes on. */
#ifdef SNNC_HAVE_MPI
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../core/util.h"
#include "comm_impl.h"

typedef struct mpi_comm {
    MPI_Comm world;
    MPI_Comm local; /* the ranks on this host */
    int finalize;   /* this communicator initialized MPI */
} mpi_comm;

struct sn_comm_req {
    MPI_Request r;
};

struct sn_comm_shm {
    MPI_Win win;
};

static sn_code mpi_err(sn_comm *c, int rc, const char *call, sn_status *st) {
    if (rc == MPI_SUCCESS) return SN_OK;
    char msg[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return sn_fail(st, SN_ERR_RUNTIME,
                   "%s failed on rank %d: %s (did another rank of the job fail?)", call, c->rank,
                   len ? msg : "unknown MPI error");
}

static MPI_Comm W(sn_comm *c) {
    return ((mpi_comm *)c->impl)->world;
}

/* MPI counts are ints: large buffers go in pieces. */
#define PIECE ((int64_t)1 << 30)

static sn_code m_iallreduce(sn_comm *c, float *buf, int64_t n, sn_comm_req **req, sn_status *st) {
    if (n > PIECE)
        return sn_fail(st, SN_ERR_RUNTIME, "a gradient bucket of %lld floats is too large for MPI",
                       (long long)n);
    sn_comm_req *q = malloc(sizeof *q);
    if (!q) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, W(c), &q->r);
    if (rc != MPI_SUCCESS) {
        free(q);
        return mpi_err(c, rc, "MPI_Iallreduce", st);
    }
    *req = q;
    return SN_OK;
}

static sn_code m_test(sn_comm *c, sn_comm_req *req, int *done, sn_status *st) {
    int flag = 0;
    int rc = MPI_Test(&req->r, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_err(c, rc, "MPI_Test", st);
    *done = flag;
    if (flag) free(req);
    return SN_OK;
}

static sn_code m_wait(sn_comm *c, sn_comm_req *req, sn_status *st) {
    /* test with a growing sleep (up to 0.2 ms) */
    long ns = 1000;
    for (;;) {
        int flag = 0;
        int rc = MPI_Test(&req->r, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            free(req);
            return mpi_err(c, rc, "MPI_Test", st);
        }
        if (flag) break;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 200000) ns *= 2;
    }
    free(req);
    return SN_OK;
}

static sn_code m_f64(sn_comm *c, double *buf, int64_t n, sn_status *st) {
    for (int64_t i = 0; i < n; i += PIECE) {
        int k = (int)SN_MIN(PIECE, n - i);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + i, k, MPI_DOUBLE, MPI_SUM, W(c));
        if (rc != MPI_SUCCESS) return mpi_err(c, rc, "MPI_Allreduce", st);
    }
    return SN_OK;
}

static sn_code m_i64(sn_comm *c, int64_t *buf, int64_t n, sn_status *st) {
    for (int64_t i = 0; i < n; i += PIECE) {
        int k = (int)SN_MIN(PIECE, n - i);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + i, k, MPI_INT64_T, MPI_MAX, W(c));
        if (rc != MPI_SUCCESS) return mpi_err(c, rc, "MPI_Allreduce", st);
    }
    return SN_OK;
}

static sn_code m_bcast(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st) {
    for (int64_t i = 0; i < bytes; i += PIECE) {
        int k = (int)SN_MIN(PIECE, bytes - i);
        int rc = MPI_Bcast((char *)buf + i, k, MPI_BYTE, root, W(c));
        if (rc != MPI_SUCCESS) return mpi_err(c, rc, "MPI_Bcast", st);
    }
    return SN_OK;
}

static sn_code m_allgather(sn_comm *c, const void *mine, void *all, int64_t bytes, sn_status *st) {
    if (bytes > PIECE)
        return sn_fail(st, SN_ERR_RUNTIME, "allgather of %lld bytes is too large",
                       (long long)bytes);
    int rc = MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, W(c));
    return mpi_err(c, rc, "MPI_Allgather", st);
}

/* Free bytes where MPI puts the windows' backing files (-1: not a writable directory). The
 * allocation is only tried where it can succeed: a file system too small for the window (a
 * container's 64 MB /dev/shm) does not fail it, the process dies of SIGBUS when it first
 * touches a page past the end; and a backing file that cannot be made fails it on the
 * host's first rank alone, while Open MPI's other ranks wait for that rank forever. */
static int64_t shm_room(void) {
    const char *dir = getenv("OMPI_MCA_osc_sm_backing_directory");
    if (!dir || !*dir) dir = "/dev/shm";
    struct statvfs v;
    if (access(dir, W_OK | X_OK) != 0 || statvfs(dir, &v) != 0) return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

/* *all = whether every rank of the host passes ok != 0 */
static sn_code local_all(sn_comm *c, int ok, int *all, sn_status *st) {
    int rc = MPI_Allreduce(&ok, all, 1, MPI_INT, MPI_MIN, ((mpi_comm *)c->impl)->local);
    return mpi_err(c, rc, "MPI_Allreduce", st);
}

/* The window's memory is the host's first rank's: the others map it (MPI_Win_shared_query).
 * Accesses are ordered by MPI_Win_sync around a barrier inside a passive-target epoch that
 * stays open for the window's life (MPI-3's shared-memory model). */
static sn_code m_shm_alloc(sn_comm *c, int64_t bytes, sn_comm_shm **shm, void **ptr,
                           sn_status *st) {
    mpi_comm *m = c->impl;
    /* every rank of the host decides the same: share only if each sees room for the window
     * (with a margin for MPI's own segments) */
    int64_t room = shm_room();
    int all = 0;
    if (local_all(c, room >= bytes + bytes / 8 + ((int64_t)16 << 20), &all, st)) return st->code;
    if (!all) {
        if (c->local_rank == 0 && getenv("SNNC_VERBOSE"))
            fprintf(stderr,
                    "snnc: no shared weight packing: %lld MB free for shared memory (-1: no "
                    "writable directory), %lld MB needed\n",
                    (long long)(room < 0 ? -1 : room >> 20), (long long)(bytes >> 20));
        return SN_OK;
    }
    sn_comm_shm *h = sn_calloc(1, sizeof *h);
    if (!h) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    void *base = NULL;
    MPI_Aint size = 0;
    int disp = 1;
    int rc = MPI_Win_allocate_shared(c->local_rank == 0 ? (MPI_Aint)bytes + 64 : 0, 1,
                                     MPI_INFO_NULL, m->local, &base, &h->win);
    /* an MPI that cannot make the window (no shared-memory component, no backing directory)
     * fails it on every rank of the host: they go on without sharing */
    if (local_all(c, rc == MPI_SUCCESS, &all, st) || !all) {
        if (rc == MPI_SUCCESS) MPI_Win_free(&h->win);
        free(h);
        if (st->code) return st->code;
        if (c->local_rank == 0 && getenv("SNNC_VERBOSE")) {
            char msg[MPI_MAX_ERROR_STRING + 1];
            int len = 0;
            if (rc == MPI_SUCCESS || MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
            msg[len] = '\0';
            fprintf(stderr, "snnc: no shared weight packing: MPI_Win_allocate_shared failed%s%s\n",
                    len ? ": " : "", msg);
        }
        return SN_OK;
    }
    rc = MPI_Win_shared_query(h->win, 0, &size, &disp, &base);
    if (rc == MPI_SUCCESS) rc = MPI_Win_lock_all(MPI_MODE_NOCHECK, h->win);
    if (rc != MPI_SUCCESS || !base || size < (MPI_Aint)bytes + 64) {
        MPI_Win_free(&h->win);
        free(h);
        return rc != MPI_SUCCESS
                   ? mpi_err(c, rc, "MPI_Win_shared_query", st)
                   : sn_fail(st, SN_ERR_RUNTIME, "MPI gave a shared window of %lld bytes, not %lld",
                             (long long)size, (long long)bytes + 64);
    }
    *shm = h;
    *ptr = (void *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
    return SN_OK;
}

static sn_code m_shm_sync(sn_comm *c, sn_comm_shm *shm, sn_status *st) {
    mpi_comm *m = c->impl;
    int rc = MPI_Win_sync(shm->win);
    if (rc == MPI_SUCCESS) rc = MPI_Barrier(m->local);
    if (rc == MPI_SUCCESS) rc = MPI_Win_sync(shm->win);
    return mpi_err(c, rc, "MPI_Barrier (shared memory)", st);
}

static void m_shm_free(sn_comm *c, sn_comm_shm *shm) {
    MPI_Win_unlock_all(shm->win);
    MPI_Win_free(&shm->win);
    free(shm);
}

static void m_abort(sn_comm *c, int code) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(W(c), code);
}

static void m_close(sn_comm *c) {
    mpi_comm *m = c->impl;
    if (!m) return;
    int fin = 0;
    if (m->local != MPI_COMM_NULL) MPI_Comm_free(&m->local);
    if (m->world != MPI_COMM_NULL && m->world != MPI_COMM_WORLD) MPI_Comm_free(&m->world);
    if (m->finalize && MPI_Finalized(&fin) == MPI_SUCCESS && !fin) MPI_Finalize();
    free(m);
    c->impl = NULL;
}

static const sn_comm_ops mpi_ops = {m_iallreduce, m_test,      m_wait,      m_f64,
                                    m_i64,        m_bcast,     m_allgather, m_abort,
                                    m_close,      m_shm_alloc, m_shm_sync,  m_shm_free};

sn_code sn_comm_open_mpi(sn_comm **out, sn_status *st) {
    *out = NULL;
    int inited = 0;
    MPI_Initialized(&inited);
    /* Open MPI's non-blocking all-reduce (libnbc) takes its binomial tree for an in-place sum
     * over fewer than 4 ranks: every bucket goes to rank 0 and back, which costs each rank
     * about twice the time inside MPI of the blocking sum (2 ranks, 9 MB: 3.4 against 1.3
     * ms). Reduce-scatter then all-gather (Rabenseifner's) moves each byte once and is as
     * fast as the blocking sum; libnbc falls back to the tree itself where it does not
     * apply. A value the user set (environment or mpirun --mca) wins; other MPIs ignore it. */
    if (!inited) setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "3", 0);
    int provided = 0;
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return sn_fail(st, SN_ERR_RUNTIME, "MPI_Init_thread failed");
    sn_comm *c = sn_calloc(1, sizeof *c);
    mpi_comm *m = sn_calloc(1, sizeof *m);
    if (!c || !m) {
        free(c);
        free(m);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    c->ops = &mpi_ops;
    c->impl = m;
    m->finalize = !inited;
    m->world = m->local = MPI_COMM_NULL;
    sn_strlcpy(c->kind, "mpi", sizeof c->kind);
    /* our own communicator, returning errors */
    int rc = MPI_Comm_dup(MPI_COMM_WORLD, &m->world);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(m->world, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(m->world, &c->rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(m->world, &c->size);
    if (rc == MPI_SUCCESS)
        rc = MPI_Comm_split_type(m->world, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &m->local);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(m->local, MPI_ERRORS_RETURN);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(m->local, &c->local_rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(m->local, &c->local_size);
    char host[MPI_MAX_PROCESSOR_NAME + 1];
    int hl = 0;
    if (rc == MPI_SUCCESS && MPI_Get_processor_name(host, &hl) == MPI_SUCCESS) {
        host[hl] = '\0';
        sn_strlcpy(c->host, host, sizeof c->host);
    }
    if (rc != MPI_SUCCESS) {
        mpi_err(c, rc, "setting up MPI", st);
        m_close(c);
        free(c);
        return st->code;
    }
    if (!inited && provided < MPI_THREAD_SERIALIZED) {
        /* only the main thread calls MPI, except a plan's collective steps, which run on the
         * calling thread too (sn_plan_run): FUNNELED suffices in practice; say so */
        if (c->rank == 0 && getenv("SNNC_VERBOSE"))
            fprintf(stderr, "snnc: MPI provides thread level %d (< SERIALIZED)\n", provided);
    }
    *out = c;
    return SN_OK;
}
#else
typedef int sn_comm_mpi_unused; /* ISO C: a translation unit needs a declaration */
#endif
