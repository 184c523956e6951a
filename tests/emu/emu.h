/* The CUDA emulator's internals, shared by its parts:
 *
 *   emu_nvrtc.c   an NVRTC stand-in: compiles a kernel's source, with cuda_emu.h in front,
 *                 into a host shared object (the "cubin" it hands back);
 *   emu_driver.c  a libcuda and cuBLAS stand-in: device memory fenced by guard pages and
 *                 filled with NaN, modules (the shared objects, dlopen'd), launches,
 *                 events, GEMMs, and the test hooks (injected failures, live allocations);
 *   emu_launch.c  runs one launch: blocks one after another, each block's threads as fibers
 *                 scheduled between barriers, faults caught and named.
 *
 * One library holds all three ($SNNC_NVRTC, $SNNC_LIBCUDA and $SNNC_CUBLAS all name it),
 * so they share state. Test-only: nothing in snnc refers to it. */
#ifndef SNNC_EMU_H
#define SNNC_EMU_H

#include <stddef.h>
#include <stdint.h>

#define SNEMU_ABI_ONLY
#include "cuda_emu.h"

#define EMU_EXPORT __attribute__((visibility("default")))

/* ---- device memory (emu_driver.c) ---- */
typedef struct emu_alloc {
    char *map; /* the whole mapping: guard page, slack, data, guard page */
    size_t map_size;
    char *data; /* what cuMemAlloc returned */
    size_t size;
} emu_alloc;

/* The allocation whose mapping (guard pages included) contains p, or NULL. */
const emu_alloc *emu_alloc_near(uintptr_t p);
/* Checks the unused bytes around every allocation for writes; on damage, describes it in
 * msg and returns 1. */
int emu_check_canaries(char *msg, size_t n);

/* ---- launches (emu_launch.c) ---- */
typedef void (*emu_entry)(void **params);

typedef struct emu_kernel {
    char name[256];
    emu_entry entry;
    int bounds; /* __launch_bounds__, 0 when not declared */
    char *shared_begin, *shared_end;
} emu_kernel;

typedef enum emu_schedule { EMU_IN_ORDER = 0, EMU_REVERSED, EMU_RANDOM } emu_schedule;

/* Runs a launch. Returns 0, or a CUresult with the reason written to stderr (kernel, block,
 * thread, address). */
int emu_launch(const emu_kernel *k, const unsigned grid[3], const unsigned block[3], void **params);
/* The schedule in effect ($SNNC_EMU_SCHEDULE: inorder, reversed, random or random:SEED). */
emu_schedule emu_schedule_get(uint64_t *seed);

/* ---- shared helpers ---- */
/* 1 when $SNNC_EMU_FAIL=NAME:K asks that this (the K-th) call of NAME fail. */
int emu_fail_now(const char *name);

#endif
