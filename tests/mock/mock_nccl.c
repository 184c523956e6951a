/* A stand-in for libnccl.so.2 ($SNNC_NCCL names it) for testing snnc's GPU gradient sums
 * (runtime/dist/nccl.c) under mpirun on machines without GPUs, next to the CUDA emulator
 * (tests/emu), whose device memory is host memory. It is not NCCL: the sums are
 * MPI_Allreduce calls on that memory, in the job snnc runs in.
 *
 *   - ncclGetUniqueId makes an id from the process id and a counter; ncclCommInitRank
 *     checks, over MPI, that every rank passes the same id, the job's size and its own MPI
 *     rank (so an id that was not broadcast, or a wrong rank, fails the call);
 *   - ncclAllReduce must be in-place float32 with ncclSum or an operator from
 *     ncclRedOpCreatePreMulSum (host scalar); it multiplies by the scalar and sums;
 *     group calls must balance, and operators must be destroyed before the communicator;
 *   - $MOCK_NCCL_LOG=FILE: one line per call is appended (rank, call, sizes, scalar);
 *   - $MOCK_NCCL_FAIL=NAME:K makes the K-th call of NAME fail on rank $MOCK_NCCL_FAIL_RANK
 *     (default 0) with ncclSystemError. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct mock_comm {
    int rank, size;
    float scalar[16];
    int live[16]; /* premul operators */
    int group;
} mock_comm;

enum { OK = 0, SYSTEM_ERROR = 2, INVALID_ARGUMENT = 4, INVALID_USAGE = 5, FIRST_OP = 5 };

static void logf_(const mock_comm *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void logf_(const mock_comm *c, const char *fmt, ...) {
    const char *path = getenv("MOCK_NCCL_LOG");
    if (!path || !*path) return;
    FILE *f = fopen(path, "a");
    if (!f) return;
    int rank = c ? c->rank : -1;
    if (!c) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(f, "rank %d: ", rank);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static int fail_now(const char *name) {
    static int calls[8];
    static const char *names[8];
    const char *spec = getenv("MOCK_NCCL_FAIL");
    if (!spec || !*spec) return 0;
    const char *colon = strchr(spec, ':');
    size_t l = colon ? (size_t)(colon - spec) : strlen(spec);
    if (strlen(name) != l || strncmp(spec, name, l) != 0) return 0;
    const char *fr = getenv("MOCK_NCCL_FAIL_RANK");
    int rank = 0, want = fr ? atoi(fr) : 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank != want) return 0;
    int k = colon ? atoi(colon + 1) : 1, i = 0;
    while (i < 8 && names[i] && strcmp(names[i], name) != 0) i++;
    if (i == 8) return 0;
    names[i] = name;
    return ++calls[i] == k;
}

EXPORT const char *ncclGetErrorString(int r) {
    switch (r) {
    case OK:
        return "no error";
    case SYSTEM_ERROR:
        return "unhandled system error (mock NCCL: injected failure)";
    case INVALID_ARGUMENT:
        return "invalid argument (mock NCCL)";
    case INVALID_USAGE:
        return "invalid usage (mock NCCL)";
    default:
        return "unknown mock NCCL error";
    }
}

EXPORT int ncclGetUniqueId(void *id) {
    if (fail_now("ncclGetUniqueId")) return SYSTEM_ERROR;
    static int counter;
    memset(id, 0, 128);
    snprintf(id, 128, "snnc-mock-nccl %ld %d", (long)getpid(), ++counter);
    logf_(NULL, "ncclGetUniqueId");
    return OK;
}

typedef struct id128 {
    char b[128];
} id128;

EXPORT int ncclCommInitRank(mock_comm **comm, int nranks, id128 id, int rank) {
    *comm = NULL;
    if (fail_now("ncclCommInitRank")) return SYSTEM_ERROR;
    int wr, ws;
    MPI_Comm_rank(MPI_COMM_WORLD, &wr);
    MPI_Comm_size(MPI_COMM_WORLD, &ws);
    id128 *all = calloc((size_t)ws, sizeof *all);
    if (!all) return SYSTEM_ERROR;
    MPI_Allgather(&id, 128, MPI_BYTE, all, 128, MPI_BYTE, MPI_COMM_WORLD);
    int same = 1;
    for (int r = 0; r < ws; r++) same &= memcmp(&all[r], &all[0], 128) == 0;
    free(all);
    if (!same || nranks != ws || rank != wr || strncmp(id.b, "snnc-mock-nccl ", 15) != 0) {
        fprintf(stderr, "mock NCCL: ncclCommInitRank(nranks %d, rank %d): %s\n", nranks, rank,
                !same ? "the ranks passed different unique ids" : "wrong rank or size");
        return INVALID_ARGUMENT;
    }
    mock_comm *c = calloc(1, sizeof *c);
    if (!c) return SYSTEM_ERROR;
    c->rank = rank;
    c->size = nranks;
    *comm = c;
    logf_(c, "ncclCommInitRank %d of %d, id \"%s\"", rank, nranks, id.b);
    return OK;
}

EXPORT int ncclRedOpCreatePreMulSum(int *op, void *scalar, int dtype, int residence, mock_comm *c) {
    if (fail_now("ncclRedOpCreatePreMulSum")) return SYSTEM_ERROR;
    if (!c || dtype != 7 || residence != 1) return INVALID_ARGUMENT;
    for (int i = 0; i < 16; i++)
        if (!c->live[i]) {
            c->live[i] = 1;
            c->scalar[i] = *(const float *)scalar;
            *op = FIRST_OP + i;
            return OK;
        }
    return INVALID_USAGE;
}

EXPORT int ncclRedOpDestroy(int op, mock_comm *c) {
    if (!c || op < FIRST_OP || op >= FIRST_OP + 16 || !c->live[op - FIRST_OP])
        return INVALID_ARGUMENT;
    c->live[op - FIRST_OP] = 0;
    return OK;
}

static int group_depth;

EXPORT int ncclGroupStart(void) {
    group_depth++;
    return OK;
}

EXPORT int ncclGroupEnd(void) {
    if (group_depth <= 0) return INVALID_USAGE;
    group_depth--;
    return OK;
}

EXPORT int ncclAllReduce(const void *send, void *recv, size_t count, int dtype, int op,
                         mock_comm *c, void *stream) {
    (void)stream;
    if (fail_now("ncclAllReduce")) return SYSTEM_ERROR;
    if (!c || send != recv || dtype != 7) return INVALID_ARGUMENT;
    float scalar = 1.0f;
    if (op >= FIRST_OP && op < FIRST_OP + 16 && c->live[op - FIRST_OP])
        scalar = c->scalar[op - FIRST_OP];
    else if (op != 0)
        return INVALID_ARGUMENT;
    float *x = recv;
    for (size_t i = 0; i < count; i++) x[i] *= scalar;
    if (MPI_Allreduce(MPI_IN_PLACE, x, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return SYSTEM_ERROR;
    logf_(c, "ncclAllReduce %zu floats, scalar %g, in group %d", count, (double)scalar,
          group_depth > 0);
    return OK;
}

EXPORT int ncclCommAbort(mock_comm *c) {
    logf_(c, "ncclCommAbort");
    free(c);
    return OK;
}

EXPORT int ncclCommDestroy(mock_comm *c) {
    if (!c) return INVALID_ARGUMENT;
    int live = 0;
    for (int i = 0; i < 16; i++) live += c->live[i];
    logf_(c, "ncclCommDestroy (%d operators left, group depth %d)", live, group_depth);
    free(c);
    return live || group_depth ? INVALID_USAGE : OK;
}
