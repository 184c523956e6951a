/* The LLVM side of the CPU backend: the host target (CPU name and features from LLVM at
 * run time, never from how snnc was built), module -> object compilation with the disk
 * cache, and an ORC LLJIT instance that links the objects and resolves kernel symbols.
 *
 * The instruction-set level is a ladder, each rung including the ones below it:
 *   scalar < sse < avx2 < avx512 < avx512vnni < avx512bf16 < amx
 * (avx512vnni adds vpdpbusd, avx512bf16 adds vdpbf16ps and vcvtneps2bf16, amx the tile
 * instructions tdpbusd and tdpbf16ps). The host's level comes from LLVM's feature string;
 * AMX also needs Linux to grant the tile state (arch_prctl ARCH_REQ_XCOMP_PERM), requested
 * once per process, and counts as absent when refused (sn_jit_amx_note says why).
 * SNNC_ISA=LEVEL restricts the level (for testing the lower paths on a bigger machine): the
 * target machine loses every feature above it, so no such instruction can appear. An
 * unknown SNNC_ISA is an error. SNNC_DUMP=DIR writes every kernel's LLVM IR (.ll) and
 * assembly (.s). */
#ifndef SN_JIT_H
#define SN_JIT_H

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../runtime/core/status.h"

typedef enum sn_isa {
    SN_ISA_SCALAR = 0, /* 1 float per "vector" */
    SN_ISA_SSE,        /* 4 */
    SN_ISA_AVX2,       /* 8, with FMA */
    SN_ISA_AVX512,     /* 16 */
} sn_isa;

typedef enum sn_isa_level {
    SN_LEVEL_SCALAR = 0,
    SN_LEVEL_SSE,
    SN_LEVEL_AVX2,
    SN_LEVEL_AVX512,
    SN_LEVEL_AVX512VNNI,
    SN_LEVEL_AVX512BF16,
    SN_LEVEL_AMX,
    SN_LEVEL_COUNT
} sn_isa_level;

typedef struct sn_jit sn_jit;

typedef struct sn_jit_stats {
    int modules; /* modules compiled or loaded */
    int cache_hits;
    double ir_seconds; /* optimization passes */
    double codegen_seconds;
    double link_seconds;
} sn_jit_stats;

/* Creates the JIT for the host. */
sn_code sn_jit_create(sn_jit **out, sn_status *st);
/* The same for another x86 CPU (LLVM name, e.g. "x86-64-v3", and feature string such as
 * "+avx2,+fma"; NULL for the host): kernels are generated and compiled for it, and linked
 * (but never run here unless this CPU has those features). SNNC_ISA still restricts. */
sn_code sn_jit_create_for(sn_jit **out, const char *cpu, const char *features, sn_status *st);
/* A JIT for another CPU of the host's architecture (cpu name and LLVM feature string, e.g.
 * "sapphirerapids" and "+avx512f,...,+amx-tile,+amx-bf16,+amx-int8"), to compile kernels the
 * host may not run (tests of paths the host lacks); SNNC_ISA is not read, no AMX tile state
 * is requested. Run nothing it compiles unless the host has every feature. */
sn_code sn_jit_create_cross(sn_jit **out, const char *cpu, const char *features, sn_status *st);
void sn_jit_destroy(sn_jit *j);

sn_isa sn_jit_isa(const sn_jit *j);
int sn_jit_vector_width(const sn_jit *j); /* floats per vector register */
int sn_jit_vnni(const sn_jit *j);         /* AVX512-VNNI available (and allowed) */
int sn_jit_bf16(const sn_jit *j);         /* AVX512-BF16 available (and allowed) */
int sn_jit_amx(const sn_jit *j);          /* AMX-BF16 and AMX-INT8 usable (and allowed) */
sn_isa_level sn_jit_level(const sn_jit *j);
sn_isa_level sn_jit_host_level(const sn_jit *j); /* before SNNC_ISA */
int sn_jit_level_forced(const sn_jit *j);        /* SNNC_ISA was set */
/* Why AMX is not used although the CPU has it (the OS refused the tile state), or NULL. */
const char *sn_jit_amx_note(const sn_jit *j);
const char *sn_jit_isa_name(sn_isa isa);
const char *sn_jit_level_name(sn_isa_level l);
/* The level named s ("amx", "avx512bf16", ...); -1 when s names none. */
int sn_jit_level_from_name(const char *s);
const char *sn_jit_cpu_name(const sn_jit *j);
const char *sn_jit_features(const sn_jit *j);
const char *sn_jit_triple(const sn_jit *j);
/* A string identifying everything about the target that changes generated code
 * (LLVM version, triple, CPU, features, ISA); part of every cache key. */
const char *sn_jit_target_id(const sn_jit *j);
sn_jit_stats sn_jit_get_stats(const sn_jit *j);

/* A fresh module in a fresh context, set up for the host (triple + data layout). */
LLVMModuleRef sn_jit_new_module(sn_jit *j, const char *name, LLVMContextRef *ctx);

/* Verifies, optimizes and compiles `mod` to an object (or takes it from the cache), then
 * links it into the JIT. Takes ownership of mod and ctx. `name` is used in messages and
 * SNNC_DUMP file names. If obj/obj_size are not NULL they receive a malloc'd copy of the
 * object code (for ahead-of-time output); if ir_text is not NULL it receives the
 * optimized IR (only when compiled, else NULL). */
sn_code sn_jit_compile(sn_jit *j, LLVMModuleRef mod, LLVMContextRef ctx, const char *name,
                       unsigned char **obj, size_t *obj_size, char **ir_text, sn_status *st);
/* Several modules at once: optimized and compiled in parallel on up to nthreads threads
 * (each module has its own context), then linked. Per-job results are filled in; the
 * first failure is returned. */
/* What a compiled job keeps (sn_jit_job.capture). */
enum {
    SN_CAPTURE_NONE = 0,
    SN_CAPTURE_ALL,    /* object code, optimized IR and assembly (always compiled afresh) */
    SN_CAPTURE_OBJECT, /* object code only (may come from the cache) */
};

typedef struct sn_jit_job {
    LLVMModuleRef mod;  /* consumed */
    LLVMContextRef ctx; /* consumed */
    char name[64];
    int capture;        /* SN_CAPTURE_*: keep object code (and optimized IR, assembly) */
    unsigned char *obj; /* out (capture) */
    size_t obj_size;    /* out (capture) */
    char *ir;           /* out (capture, when compiled rather than cached) */
    char *asm_text;     /* out (capture): assembly */
    /* internal */
    uint64_t key;
    sn_status st;
    unsigned char *code;
    size_t code_size;
    int hit;
    double ir_s, cg_s;
} sn_jit_job;
sn_code sn_jit_compile_batch(sn_jit *j, sn_jit_job *jobs, int n, int nthreads, sn_status *st);

/* Links an object file produced earlier (e.g. from a compiled plan directory). */
sn_code sn_jit_add_object(sn_jit *j, const unsigned char *obj, size_t size, const char *name,
                          sn_status *st);
/* Address of a linked function. */
void *sn_jit_lookup(sn_jit *j, const char *symbol, sn_status *st);

/* Object code of a module for the JIT's target, without optimization passes, caching or
 * linking (the glue of an artifact); consumes mod and ctx; *obj malloc'd. */
sn_code sn_jit_emit_object(sn_jit *j, LLVMModuleRef mod, LLVMContextRef ctx, const char *name,
                           unsigned char **obj, size_t *size, sn_status *st);

/* Assembly text of a module (for --stage llvm / SNNC_DUMP); malloc'd. */
char *sn_jit_assembly(sn_jit *j, LLVMModuleRef mod, sn_status *st);

#endif
