/* NCCL loaded at run time. See nccl.h.
 *
 * The few NCCL declarations needed are spelled here (NCCL 2.x ABI: ncclResult_t is an int
 * enum with ncclSuccess = 0, ncclUniqueId 128 bytes, ncclFloat32 = 7, ncclSum = 0,
 * ncclScalarHostImmediate = 1, ncclComm_t an opaque pointer), so no NCCL headers are needed
 * to build snnc. ncclRedOpCreatePreMulSum needs NCCL 2.11 or newer. */
#define _POSIX_C_SOURCE 200809L
#include "nccl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

typedef int nc_result;
typedef void *nc_comm;
typedef struct nc_id {
    char internal[128];
} nc_id;
typedef int nc_op;
enum { NC_SUCCESS = 0, NC_FLOAT32 = 7, NC_SCALAR_HOST = 1 };

struct sn_nccl {
    void *h;
    nc_comm comm;
    int rank, size;
    nc_result (*GetUniqueId)(nc_id *);
    nc_result (*CommInitRank)(nc_comm *, int, nc_id, int);
    nc_result (*CommDestroy)(nc_comm);
    nc_result (*CommAbort)(nc_comm);
    nc_result (*AllReduce)(const void *, void *, size_t, int, nc_op, nc_comm, void *);
    nc_result (*GroupStart)(void);
    nc_result (*GroupEnd)(void);
    nc_result (*RedOpCreatePreMulSum)(nc_op *, void *, int, int, nc_comm);
    nc_result (*RedOpDestroy)(nc_op, nc_comm);
    const char *(*GetErrorString)(nc_result);
};

static sn_code nc_failed(sn_nccl *n, const char *call, nc_result r, sn_status *st) {
    const char *msg = n->GetErrorString ? n->GetErrorString(r) : NULL;
    sn_fail(st, SN_ERR_RUNTIME, "%s failed on rank %d: %s (NCCL error %d)", call, n->rank,
            msg ? msg : "unknown error", r);
    if (n->comm && n->CommAbort) { /* no rank is left waiting on this communicator */
        n->CommAbort(n->comm);
        n->comm = NULL;
    }
    return st->code;
}

#define NC(n, call, args)                                                                          \
    do {                                                                                           \
        nc_result r_ = (n)->call args;                                                             \
        if (r_ != NC_SUCCESS) return nc_failed((n), "nccl" #call, r_, st);                         \
    } while (0)

static void *sym(void *h, const char *name, const char **missing) {
    void *p = dlsym(h, name);
    if (!p && !*missing) *missing = name;
    return p;
}

sn_code sn_nccl_open(sn_nccl **out, sn_comm *host, sn_status *st) {
    *out = NULL;
    const char *env = getenv("SNNC_NCCL");
    const char *lib = env && *env ? env : "libnccl.so.2";
    sn_nccl *n = sn_calloc(1, sizeof *n);
    if (!n) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    n->rank = host->rank;
    n->size = host->size;
    n->h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (n->h) {
        *(void **)&n->GetUniqueId = sym(n->h, "ncclGetUniqueId", &missing);
        *(void **)&n->CommInitRank = sym(n->h, "ncclCommInitRank", &missing);
        *(void **)&n->CommDestroy = sym(n->h, "ncclCommDestroy", &missing);
        *(void **)&n->CommAbort = sym(n->h, "ncclCommAbort", &missing);
        *(void **)&n->AllReduce = sym(n->h, "ncclAllReduce", &missing);
        *(void **)&n->GroupStart = sym(n->h, "ncclGroupStart", &missing);
        *(void **)&n->GroupEnd = sym(n->h, "ncclGroupEnd", &missing);
        *(void **)&n->RedOpCreatePreMulSum = sym(n->h, "ncclRedOpCreatePreMulSum", &missing);
        *(void **)&n->RedOpDestroy = sym(n->h, "ncclRedOpDestroy", &missing);
        *(void **)&n->GetErrorString = sym(n->h, "ncclGetErrorString", &missing);
    }
    /* every rank says whether it has NCCL before any waits on the unique id */
    int64_t bad = !n->h || missing;
    if (!n->h) {
        const char *e = dlerror();
        sn_fail(st, SN_ERR_RUNTIME,
                "--target cuda on several ranks needs NCCL: %s cannot be loaded (%s); install "
                "libnccl2 or point $SNNC_NCCL at it",
                lib, e ? e : "not found");
    } else if (missing) {
        sn_fail(st, SN_ERR_RUNTIME, "%s lacks %s (NCCL 2.11 or newer is needed)", lib, missing);
    }
    sn_status cs;
    sn_status_init(&cs);
    if (sn_comm_allreduce_max_i64(host, &bad, 1, &cs)) bad = 1;
    if (bad) {
        if (st->code == SN_OK)
            sn_fail(st, SN_ERR_RUNTIME, "another rank cannot load NCCL (see its message)%s%s",
                    cs.code ? ": " : "", cs.code ? cs.msg : "");
        sn_nccl_close(n);
        return st->code;
    }
    nc_id id;
    memset(&id, 0, sizeof id);
    nc_result r = NC_SUCCESS;
    if (host->rank == 0) r = n->GetUniqueId(&id);
    int64_t failed = r != NC_SUCCESS;
    if (sn_comm_allreduce_max_i64(host, &failed, 1, st) == SN_OK && failed)
        sn_fail(st, SN_ERR_RUNTIME, "ncclGetUniqueId failed on rank 0: %s",
                n->GetErrorString(r) ? n->GetErrorString(r) : "unknown error");
    if (st->code == SN_OK && sn_comm_bcast(host, &id, sizeof id, 0, st) == SN_OK) {
        r = n->CommInitRank(&n->comm, host->size, id, host->rank);
        if (r != NC_SUCCESS) {
            n->comm = NULL;
            nc_failed(n, "ncclCommInitRank", r, st);
        }
    }
    if (st->code != SN_OK) {
        sn_nccl_close(n);
        return st->code;
    }
    *out = n;
    return SN_OK;
}

void sn_nccl_close(sn_nccl *n) {
    if (!n) return;
    if (n->comm && n->CommDestroy) n->CommDestroy(n->comm);
    if (n->h) dlclose(n->h);
    free(n);
}

sn_code sn_nccl_allreduce(sn_nccl *n, const sn_dev_grad *g, int ng, float scale,
                          int64_t bucket_bytes, void *stream, sn_status *st) {
    if (!n->comm) return sn_fail(st, SN_ERR_RUNTIME, "the NCCL communicator was aborted");
    if (bucket_bytes <= 0) bucket_bytes = (int64_t)4 << 20;
    nc_op op;
    NC(n, RedOpCreatePreMulSum, (&op, &scale, NC_FLOAT32, NC_SCALAR_HOST, n->comm));
    for (int i = 0; i < ng;) {
        int64_t bytes = 0;
        NC(n, GroupStart, ());
        for (; i < ng && (bytes == 0 || bytes + g[i].n * 4 <= bucket_bytes); i++) {
            void *p = (void *)(uintptr_t)g[i].ptr;
            NC(n, AllReduce, (p, p, (size_t)g[i].n, NC_FLOAT32, op, n->comm, stream));
            bytes += g[i].n * 4;
        }
        NC(n, GroupEnd, ());
    }
    NC(n, RedOpDestroy, (op, n->comm));
    return SN_OK;
}
