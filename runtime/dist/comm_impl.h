/* Between comm.c and the communicator implementations. */
#ifndef SN_COMM_IMPL_H
#define SN_COMM_IMPL_H

#include "comm.h"

#ifdef SNNC_HAVE_MPI
/* MPI_Init_thread (MPI_THREAD_SERIALIZED) and MPI_COMM_WORLD's ranks (comm_mpi.c). */
sn_code sn_comm_open_mpi(sn_comm **out, sn_status *st);
#endif

#endif
