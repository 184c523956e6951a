/* Communicators for data-parallel training: the ranks of a job and the collective
 * operations between them.
 *
 * Two kinds: "self" (one process: every collective is the identity) and "mpi" (processes
 * on one or several hosts, started by mpirun, mpiexec or srun; MPI is linked when the
 * build found it, SNNC_HAVE_MPI). snnc never initializes MPI unless a launcher started it:
 * sn_comm_open looks for the environment variables launchers set (sn_comm_launched), so a
 * plain `snnc train` runs without any MPI runtime and a launched one joins its job.
 * (Singleton MPI_Init, the other choice, starts an MPI daemon behind the user's back and
 * fails in containers without one; the variables are what every launcher sets.)
 *
 * Every rank calls the collectives in the same order. Failures return SN_ERR_RUNTIME with
 * MPI's message; a rank that cannot go on calls sn_comm_abort, which ends every rank of the
 * job (the launcher reports which one aborted), so no rank waits forever on a dead peer. */
#ifndef SN_COMM_H
#define SN_COMM_H

#include <stdint.h>

#include "../core/status.h"

typedef struct sn_comm sn_comm;
typedef struct sn_comm_req sn_comm_req; /* a reduction in flight */
typedef struct sn_comm_shm sn_comm_shm; /* memory the ranks of one host share */

typedef struct sn_comm_ops {
    /* in-place sum of n floats over every rank, started without blocking */
    sn_code (*iallreduce_f32)(sn_comm *c, float *buf, int64_t n, sn_comm_req **req, sn_status *st);
    /* progress: *done = 1 (and req freed) once complete */
    sn_code (*test)(sn_comm *c, sn_comm_req *req, int *done, sn_status *st);
    sn_code (*wait)(sn_comm *c, sn_comm_req *req, sn_status *st); /* frees req */
    sn_code (*allreduce_f64)(sn_comm *c, double *buf, int64_t n, sn_status *st);
    sn_code (*allreduce_max_i64)(sn_comm *c, int64_t *buf, int64_t n, sn_status *st);
    sn_code (*bcast)(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st);
    /* every rank's `bytes` bytes, in rank order, into all (size * bytes) */
    sn_code (*allgather)(sn_comm *c, const void *mine, void *all, int64_t bytes, sn_status *st);
    void (*abort)(sn_comm *c, int code);
    void (*close)(sn_comm *c);
    /* optional (NULL: this kind of communicator cannot share memory), see sn_comm_shm_alloc */
    sn_code (*shm_alloc)(sn_comm *c, int64_t bytes, sn_comm_shm **shm, void **ptr, sn_status *st);
    sn_code (*shm_sync)(sn_comm *c, sn_comm_shm *shm, sn_status *st);
    void (*shm_free)(sn_comm *c, sn_comm_shm *shm);
} sn_comm_ops;

struct sn_comm {
    const sn_comm_ops *ops;
    void *impl;
    char kind[8]; /* "self" or "mpi" */
    int rank, size;
    int local_rank, local_size; /* among the ranks on this host */
    char host[64];
    double wait_seconds; /* spent blocked in sn_comm_wait (reports) */
};

/* Whether a launcher started this process as a rank of an MPI job: OMPI_COMM_WORLD_SIZE
 * (Open MPI), PMI_RANK / PMI_SIZE (MPICH's Hydra, Slurm's PMI2), PMIX_RANK (PMIx: Slurm,
 * Open MPI 5), MV2_COMM_WORLD_RANK (MVAPICH). SNNC_MPI=0 or 1 overrides the detection. */
int sn_comm_launched(void);
/* Whether this build links MPI. */
int sn_comm_have_mpi(void);

/* The job's communicator: MPI when launched (an error if this build has no MPI), else a
 * one-rank "self" communicator. */
sn_code sn_comm_open(sn_comm **out, sn_status *st);
/* A one-rank communicator (tests, single-process runs). */
sn_code sn_comm_open_self(sn_comm **out, sn_status *st);
/* Finalizes (MPI_Finalize) and frees; NULL is fine. */
void sn_comm_close(sn_comm *c);
/* Ends the whole job with exit code `code` (MPI_Abort); exits this process for "self". */
void sn_comm_abort(sn_comm *c, int code) __attribute__((noreturn));

sn_code sn_comm_iallreduce_f32(sn_comm *c, float *buf, int64_t n, sn_comm_req **req, sn_status *st);
sn_code sn_comm_test(sn_comm *c, sn_comm_req *req, int *done, sn_status *st);
/* Blocks until req completes (the time counts in c->wait_seconds). */
sn_code sn_comm_wait(sn_comm *c, sn_comm_req *req, sn_status *st);
sn_code sn_comm_allreduce_f64(sn_comm *c, double *buf, int64_t n, sn_status *st);
sn_code sn_comm_allreduce_max_i64(sn_comm *c, int64_t *buf, int64_t n, sn_status *st);
sn_code sn_comm_bcast(sn_comm *c, void *buf, int64_t bytes, int root, sn_status *st);
sn_code sn_comm_allgather(sn_comm *c, const void *mine, void *all, int64_t bytes, sn_status *st);

/* Memory shared by the ranks on this host (MPI-3 shared windows). Every rank of the host
 * calls it together, with the same size; *ptr is then the same `bytes` bytes in each of
 * them (64-byte aligned). Where the communicator cannot share memory (one rank, an MPI
 * without shared windows) *shm and *ptr are NULL and the result is SN_OK: the caller keeps
 * its own memory. */
sn_code sn_comm_shm_alloc(sn_comm *c, int64_t bytes, sn_comm_shm **shm, void **ptr, sn_status *st);
/* A barrier among the ranks of the host that also orders memory: what a rank wrote into the
 * shared memory before it, every rank of the host reads after it. */
sn_code sn_comm_shm_sync(sn_comm *c, sn_comm_shm *shm, sn_status *st);
/* Collective over the host's ranks, like the allocation; NULL is fine. */
void sn_comm_shm_free(sn_comm *c, sn_comm_shm *shm);

/* Agreement at the end of a phase that any rank may fail alone (reading its data, its
 * files, compiling). Every rank passes its own status; afterwards every rank's status says
 * whether any rank failed (the worst code wins). A failed rank keeps its own message; a
 * rank that succeeded gets "rank R failed (see its message)". *print tells whether this
 * rank should print its message: rank 0 prints its own; another rank prints only a failure
 * of its own whose message differs from rank 0's (so an error every rank shares, such as a
 * bad YAML file, is printed once). Returns st->code. */
sn_code sn_comm_agree(sn_comm *c, sn_status *st, int *print);

/* "rank R/N on HOST: " for messages of jobs with several ranks, "" otherwise. */
const char *sn_comm_prefix(const sn_comm *c);

#endif
