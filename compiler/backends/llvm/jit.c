#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* syscall(2) for arch_prctl */
#include "jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "../../../runtime/core/util.h"
#include "../../../runtime/exec/pool.h"
#include "../cache.h"

#ifndef SNNC_LLVM_VERSION
#define SNNC_LLVM_VERSION "unknown"
#endif

struct sn_jit {
    LLVMOrcLLJITRef lljit;
    LLVMTargetRef target;
    LLVMTargetMachineRef tm;
    char *triple, *cpu, *features;
    sn_isa isa;
    sn_isa_level level, host_level;
    int forced;
    int vnni, bf16, amx;
    char amx_note[256];
    char target_id[4096];
    sn_jit_stats stats;
    pthread_mutex_t mu;
    /* content hashes of objects already linked (identical kernels are linked once) */
    uint64_t *linked;
    int nlinked, cap_linked;
};

static pthread_once_t llvm_once = PTHREAD_ONCE_INIT;
static int llvm_init_failed;

static void llvm_init(void) {
    llvm_init_failed = LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter() ||
                       LLVMInitializeNativeAsmParser();
}

static sn_code llvm_error(sn_status *st, LLVMErrorRef err, const char *what, const char *name) {
    char *msg = LLVMGetErrorMessage(err);
    sn_fail(st, SN_ERR_RUNTIME, "%s (%s): %s", what, name, msg);
    LLVMDisposeErrorMessage(msg);
    return st->code;
}

static int has_feature(const char *features, const char *f) {
    size_t n = strlen(f);
    for (const char *p = features; (p = strstr(p, f)) != NULL; p += n) {
        if ((p == features || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    }
    return 0;
}

static const char *const level_names[SN_LEVEL_COUNT] = {
    "scalar", "sse", "avx2", "avx512", "avx512vnni", "avx512bf16", "amx"};

const char *sn_jit_level_name(sn_isa_level l) {
    return l >= 0 && l < SN_LEVEL_COUNT ? level_names[l] : "?";
}

int sn_jit_level_from_name(const char *s) {
    for (int i = 0; i < SN_LEVEL_COUNT; i++)
        if (strcmp(s, level_names[i]) == 0) return i;
    return -1;
}

/* AMX tile data is an XSAVE component that Linux (5.16+) hands out per process on request.
 * Asked once; the answer (0 granted, else errno) holds for every thread of the process. */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_errno;

static void amx_request(void) {
#if defined(__linux__) && defined(__x86_64__)
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    amx_errno = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 ? 0 : errno;
#else
    amx_errno = ENOSYS;
#endif
}

const char *sn_jit_isa_name(sn_isa isa) {
    switch (isa) {
    case SN_ISA_AVX512:
        return "avx512";
    case SN_ISA_AVX2:
        return "avx2";
    case SN_ISA_SSE:
        return "sse";
    case SN_ISA_SCALAR:
        return "scalar";
    }
    return "?";
}

/* A JIT for the host (cross_cpu NULL), or for the given CPU and features (code for another
 * machine); SNNC_ISA restricts it when isa_env. */
static sn_code jit_create(sn_jit **out, const char *cross_cpu, const char *cross_features,
                          int isa_env, sn_status *st) {
    *out = NULL;
    pthread_once(&llvm_once, llvm_init);
    if (llvm_init_failed)
        return sn_fail(st, SN_ERR_RUNTIME, "LLVM: cannot initialize the native target");
    sn_jit *j = calloc(1, sizeof *j);
    if (!j) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = cross_cpu ? LLVMCreateMessage(cross_cpu) : LLVMGetHostCPUName();
    char *features = cross_cpu ? LLVMCreateMessage(cross_features ? cross_features : "")
                               : LLVMGetHostCPUFeatures();
    /* LLVM 14 names some AVX-512 machines by an older core; the feature string is what
     * counts, so both are passed to the target machine. */
    sn_isa host = has_feature(features, "+avx512f")                                 ? SN_ISA_AVX512
                  : has_feature(features, "+avx2") && has_feature(features, "+fma") ? SN_ISA_AVX2
                  : has_feature(features, "+sse4.1")                                ? SN_ISA_SSE
                                                                                    : SN_ISA_SCALAR;
    /* the extensions count only on top of the AVX-512 subsets the kernels rely on */
    int avx512 = host == SN_ISA_AVX512 && has_feature(features, "+avx512bw") &&
                 has_feature(features, "+avx512vl") && has_feature(features, "+avx512dq");
    sn_isa_level hl = (sn_isa_level)host;
    if (avx512 && has_feature(features, "+avx512vnni")) {
        hl = SN_LEVEL_AVX512VNNI;
        if (has_feature(features, "+avx512bf16")) {
            hl = SN_LEVEL_AVX512BF16;
            if (has_feature(features, "+amx-tile") && has_feature(features, "+amx-bf16") &&
                has_feature(features, "+amx-int8")) {
                if (!cross_cpu) pthread_once(&amx_once, amx_request);
                if (cross_cpu || amx_errno == 0)
                    hl = SN_LEVEL_AMX;
                else
                    snprintf(j->amx_note, sizeof j->amx_note,
                             "the CPU has AMX, but Linux refused the tile state "
                             "(arch_prctl ARCH_REQ_XCOMP_PERM: %s): using avx512bf16",
                             strerror(amx_errno));
            }
        }
    }
    sn_isa_level level = hl;
    const char *want = isa_env ? getenv("SNNC_ISA") : NULL;
    if (want && *want) {
        int w = sn_jit_level_from_name(want);
        if (w < 0) {
            sn_fail(st, SN_ERR_INPUT,
                    "SNNC_ISA=%s: expected one of amx, avx512bf16, avx512vnni, avx512, avx2, sse, "
                    "scalar",
                    want);
            LLVMDisposeMessage(triple);
            LLVMDisposeMessage(cpu);
            LLVMDisposeMessage(features);
            sn_jit_destroy(j);
            return st->code;
        }
        j->forced = 1;
        if ((sn_isa_level)w < level) level = (sn_isa_level)w;
    }
    sn_isa isa = level >= SN_LEVEL_AVX512 ? SN_ISA_AVX512 : (sn_isa)level;
    /* A restricted level also restricts the target machine, so no instruction above it can
     * appear: this is how the lower paths are tested on a bigger machine. */
    sn_strbuf fs;
    sn_sb_init(&fs);
    sn_sb_puts(&fs, features);
    if (level < SN_LEVEL_AMX && has_feature(features, "+amx-tile"))
        sn_sb_puts(&fs, ",-amx-tile,-amx-bf16,-amx-int8");
    if (level < SN_LEVEL_AVX512BF16 && has_feature(features, "+avx512bf16"))
        sn_sb_puts(&fs, ",-avx512bf16");
    if (level < SN_LEVEL_AVX512VNNI && has_feature(features, "+avx512vnni"))
        sn_sb_puts(&fs, ",-avx512vnni");
    if (isa < SN_ISA_AVX512 && host >= SN_ISA_AVX512) sn_sb_puts(&fs, ",-avx512f");
    if (isa < SN_ISA_AVX2 && host >= SN_ISA_AVX2) sn_sb_puts(&fs, ",-avx2,-fma,-avx");
    j->triple = sn_strdup(triple);
    j->cpu = sn_strdup(cpu);
    j->features = sn_strdup(sn_sb_cstr(&fs));
    sn_sb_free(&fs);
    j->isa = isa;
    j->level = level;
    j->host_level = hl;
    j->vnni = level >= SN_LEVEL_AVX512VNNI;
    j->bf16 = level >= SN_LEVEL_AVX512BF16;
    j->amx = level >= SN_LEVEL_AMX;
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    snprintf(j->target_id, sizeof j->target_id, "llvm %s | %s | %s | %s | isa %s",
             SNNC_LLVM_VERSION, j->triple, j->cpu, j->features, sn_jit_level_name(level));

    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(j->triple, &target, &err)) {
        sn_fail(st, SN_ERR_RUNTIME, "LLVM: no target for %s: %s", j->triple, err ? err : "?");
        LLVMDisposeMessage(err);
        sn_jit_destroy(j);
        return st->code;
    }
    j->target = target;
    j->tm = LLVMCreateTargetMachine(target, j->triple, j->cpu, j->features,
                                    LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!j->tm) {
        sn_fail(st, SN_ERR_RUNTIME, "LLVM: cannot create a target machine for %s", j->triple);
        sn_jit_destroy(j);
        return st->code;
    }
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&j->lljit, NULL);
    if (e) {
        llvm_error(st, e, "LLVM: cannot create the ORC LLJIT", j->triple);
        j->lljit = NULL;
        sn_jit_destroy(j);
        return st->code;
    }
    /* Kernels may call libm (expf for sigmoid surrogates, ...): resolve from the process. */
    LLVMOrcDefinitionGeneratorRef gen;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &gen, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL);
    if (e) {
        llvm_error(st, e, "LLVM: cannot set up process symbols", j->triple);
        sn_jit_destroy(j);
        return st->code;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->lljit), gen);
    *out = j;
    return SN_OK;
}

sn_code sn_jit_create(sn_jit **out, sn_status *st) {
    return jit_create(out, NULL, NULL, 1, st);
}

sn_code sn_jit_create_for(sn_jit **out, const char *cpu, const char *features, sn_status *st) {
    return jit_create(out, cpu, features, 1, st);
}

sn_code sn_jit_create_cross(sn_jit **out, const char *cpu, const char *features, sn_status *st) {
    return jit_create(out, cpu, features, 0, st);
}

void sn_jit_destroy(sn_jit *j) {
    if (!j) return;
    if (j->lljit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->lljit);
        if (e) LLVMConsumeError(e);
    }
    if (j->tm) LLVMDisposeTargetMachine(j->tm);
    free(j->triple);
    free(j->cpu);
    free(j->features);
    free(j->linked);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

sn_isa sn_jit_isa(const sn_jit *j) {
    return j->isa;
}
int sn_jit_vnni(const sn_jit *j) {
    return j->vnni;
}
int sn_jit_bf16(const sn_jit *j) {
    return j->bf16;
}
int sn_jit_amx(const sn_jit *j) {
    return j->amx;
}
sn_isa_level sn_jit_level(const sn_jit *j) {
    return j->level;
}
sn_isa_level sn_jit_host_level(const sn_jit *j) {
    return j->host_level;
}
int sn_jit_level_forced(const sn_jit *j) {
    return j->forced;
}
const char *sn_jit_amx_note(const sn_jit *j) {
    return j->amx_note[0] ? j->amx_note : NULL;
}

int sn_jit_vector_width(const sn_jit *j) {
    switch (j->isa) {
    case SN_ISA_AVX512:
        return 16;
    case SN_ISA_AVX2:
        return 8;
    case SN_ISA_SSE:
        return 4;
    case SN_ISA_SCALAR:
        return 1;
    }
    return 1;
}

const char *sn_jit_cpu_name(const sn_jit *j) {
    return j->cpu;
}
const char *sn_jit_features(const sn_jit *j) {
    return j->features;
}
const char *sn_jit_triple(const sn_jit *j) {
    return j->triple;
}
const char *sn_jit_target_id(const sn_jit *j) {
    return j->target_id;
}
sn_jit_stats sn_jit_get_stats(const sn_jit *j) {
    return j->stats;
}

LLVMModuleRef sn_jit_new_module(sn_jit *j, const char *name, LLVMContextRef *ctx) {
    *ctx = LLVMContextCreate();
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext(name, *ctx);
    LLVMSetTarget(m, j->triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(j->tm);
    char *layout = LLVMCopyStringRepOfTargetData(td);
    LLVMSetDataLayout(m, layout);
    LLVMDisposeMessage(layout);
    LLVMDisposeTargetData(td);
    return m;
}

static void dump_text(const char *name, const char *ext, const char *text, size_t len) {
    const char *dir = getenv("SNNC_DUMP");
    if (!dir || !*dir) return;
    sn_status st;
    sn_status_init(&st);
    if (sn_mkdirs(dir, &st) != SN_OK) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    sn_write_file_atomic(path, text, len, &st);
}

static int already_linked(sn_jit *j, uint64_t key) {
    for (int i = 0; i < j->nlinked; i++)
        if (j->linked[i] == key) return 1;
    return 0;
}

static sn_code link_object(sn_jit *j, uint64_t key, const unsigned char *obj, size_t size,
                           const char *name, sn_status *st) {
    pthread_mutex_lock(&j->mu);
    if (already_linked(j, key)) {
        pthread_mutex_unlock(&j->mu);
        return SN_OK;
    }
    double t0 = sn_now();
    LLVMMemoryBufferRef buf =
        LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)obj, size, name);
    LLVMErrorRef e =
        LLVMOrcLLJITAddObjectFile(j->lljit, LLVMOrcLLJITGetMainJITDylib(j->lljit), buf);
    if (e) {
        pthread_mutex_unlock(&j->mu);
        return llvm_error(st, e, "LLVM: cannot link object", name);
    }
    if (sn_grow((void **)&j->linked, &j->cap_linked, j->nlinked + 1, sizeof *j->linked))
        j->linked[j->nlinked++] = key;
    j->stats.link_seconds += sn_now() - t0;
    j->stats.modules++;
    pthread_mutex_unlock(&j->mu);
    return SN_OK;
}

sn_code sn_jit_add_object(sn_jit *j, const unsigned char *obj, size_t size, const char *name,
                          sn_status *st) {
    return link_object(j, sn_hash64(SN_HASH_INIT, obj, size), obj, size, name, st);
}

static sn_code emit(LLVMTargetMachineRef tm, LLVMModuleRef mod, LLVMCodeGenFileType type,
                    const char *name, LLVMMemoryBufferRef *out, sn_status *st) {
    char *err = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, type, &err, out)) {
        sn_fail(st, SN_ERR_RUNTIME, "LLVM: code generation failed for kernel %s: %s", name,
                err ? err : "?");
        LLVMDisposeMessage(err);
        return st->code;
    }
    return SN_OK;
}

sn_code sn_jit_emit_object(sn_jit *j, LLVMModuleRef mod, LLVMContextRef ctx, const char *name,
                           unsigned char **obj, size_t *size, sn_status *st) {
    *obj = NULL;
    *size = 0;
    char *verr = NULL;
    sn_code c = SN_OK;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &verr)) {
        c = sn_fail(st, SN_ERR_RUNTIME, "internal error: %s has invalid LLVM IR: %s", name,
                    verr ? verr : "?");
    } else {
        LLVMMemoryBufferRef buf;
        if ((c = emit(j->tm, mod, LLVMObjectFile, name, &buf, st)) == SN_OK) {
            *size = LLVMGetBufferSize(buf);
            *obj = malloc(*size ? *size : 1);
            if (*obj)
                memcpy(*obj, LLVMGetBufferStart(buf), *size);
            else
                c = sn_fail(st, SN_ERR_RUNTIME, "out of memory for %s", name);
            LLVMDisposeMemoryBuffer(buf);
        }
    }
    LLVMDisposeMessage(verr);
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    return c;
}

char *sn_jit_assembly(sn_jit *j, LLVMModuleRef mod, sn_status *st) {
    LLVMMemoryBufferRef buf;
    if (emit(j->tm, mod, LLVMAssemblyFile, LLVMGetModuleIdentifier(mod, &(size_t){0}), &buf, st))
        return NULL;
    size_t n = LLVMGetBufferSize(buf);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, LLVMGetBufferStart(buf), n);
        s[n] = '\0';
    }
    LLVMDisposeMemoryBuffer(buf);
    return s;
}

/* Phase 1 of a job (any thread): verify, hash, look up the cache, else optimize and
 * generate code. Touches no shared JIT state but the (thread-safe) cache. */
static void compile_job(sn_jit *j, sn_jit_job *jb) {
    sn_status *st = &jb->st;
    sn_status_init(st);
    LLVMModuleRef mod = jb->mod;
    LLVMContextRef ctx = jb->ctx;
    char *verr = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &verr)) {
        sn_fail(st, SN_ERR_RUNTIME, "internal error: kernel %s has invalid LLVM IR: %s", jb->name,
                verr ? verr : "?");
        LLVMDisposeMessage(verr);
        goto done;
    }
    LLVMDisposeMessage(verr);
    char *ir = LLVMPrintModuleToString(mod);
    jb->key = sn_hash_str(sn_hash_str(SN_HASH_INIT, j->target_id), ir);
    LLVMDisposeMessage(ir);
    int dumping = getenv("SNNC_DUMP") && *getenv("SNNC_DUMP");
    int text = jb->capture == SN_CAPTURE_ALL; /* IR and assembly wanted: compile afresh */
    if (!dumping && !text && sn_cache_get("cpu", jb->key, &jb->code, &jb->code_size)) {
        jb->hit = 1;
        goto done;
    }
    /* A target machine per job: they are not shared between threads. */
    LLVMTargetMachineRef tm =
        LLVMCreateTargetMachine(j->target, j->triple, j->cpu, j->features,
                                LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm) {
        sn_fail(st, SN_ERR_RUNTIME, "LLVM: cannot create a target machine for kernel %s", jb->name);
        goto done;
    }
    double t0 = sn_now();
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    /* The generators already emit vector code with explicit tiles: no auto-vectorizing or
     * unrolling on top. */
    LLVMPassBuilderOptionsSetLoopVectorization(opts, 0);
    LLVMPassBuilderOptionsSetSLPVectorization(opts, 0);
    LLVMPassBuilderOptionsSetLoopUnrolling(opts, 0);
    LLVMErrorRef e = LLVMRunPasses(mod, "default<O2>", tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (e) {
        llvm_error(st, e, "LLVM: optimization failed for kernel", jb->name);
        LLVMDisposeTargetMachine(tm);
        goto done;
    }
    double t1 = sn_now();
    jb->ir_s = t1 - t0;
    if (dumping || text) {
        char *opt = LLVMPrintModuleToString(mod);
        if (dumping) dump_text(jb->name, "ll", opt, strlen(opt));
        if (text) jb->ir = sn_strdup(opt);
        LLVMDisposeMessage(opt);
        LLVMMemoryBufferRef abuf;
        if (emit(tm, mod, LLVMAssemblyFile, jb->name, &abuf, st) == SN_OK) {
            if (dumping)
                dump_text(jb->name, "s", LLVMGetBufferStart(abuf), LLVMGetBufferSize(abuf));
            if (text) {
                size_t an = LLVMGetBufferSize(abuf);
                jb->asm_text = malloc(an + 1);
                if (jb->asm_text) {
                    memcpy(jb->asm_text, LLVMGetBufferStart(abuf), an);
                    jb->asm_text[an] = '\0';
                }
            }
            LLVMDisposeMemoryBuffer(abuf);
        }
    }
    LLVMMemoryBufferRef buf;
    if (emit(tm, mod, LLVMObjectFile, jb->name, &buf, st) == SN_OK) {
        jb->code_size = LLVMGetBufferSize(buf);
        jb->code = malloc(jb->code_size ? jb->code_size : 1);
        if (jb->code)
            memcpy(jb->code, LLVMGetBufferStart(buf), jb->code_size);
        else
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        LLVMDisposeMemoryBuffer(buf);
        if (jb->code) sn_cache_put("cpu", jb->key, jb->code, jb->code_size);
    }
    jb->cg_s = sn_now() - t1;
    LLVMDisposeTargetMachine(tm);
    if (getenv("SNNC_VERBOSE") && *getenv("SNNC_VERBOSE"))
        fprintf(stderr, "jit: %s compiled in %.3f s (optimize %.3f, codegen %.3f)\n", jb->name,
                jb->ir_s + jb->cg_s, jb->ir_s, jb->cg_s);
done:
    LLVMDisposeModule(mod);
    LLVMContextDispose(ctx);
    jb->mod = NULL;
    jb->ctx = NULL;
}

typedef struct batch_arg {
    sn_jit *j;
    sn_jit_job *jobs;
} batch_arg;

static void batch_range(void *arg, int64_t lo, int64_t hi) {
    batch_arg *b = arg;
    for (int64_t i = lo; i < hi; i++) compile_job(b->j, &b->jobs[i]);
}

sn_code sn_jit_compile_batch(sn_jit *j, sn_jit_job *jobs, int n, int nthreads, sn_status *st) {
    batch_arg arg = {j, jobs};
    sn_pool *pool = nthreads > 1 && n > 1 ? sn_pool_create(nthreads) : NULL;
    sn_pool_for(pool, n, 1, batch_range, &arg);
    sn_pool_destroy(pool);
    sn_code rc = SN_OK;
    for (int i = 0; i < n; i++) {
        sn_jit_job *jb = &jobs[i];
        j->stats.ir_seconds += jb->ir_s;
        j->stats.codegen_seconds += jb->cg_s;
        if (jb->hit) j->stats.cache_hits++;
        if (jb->st.code) {
            if (rc == SN_OK) rc = sn_fail(st, jb->st.code, "%s", jb->st.msg);
        } else if (rc == SN_OK) {
            rc = link_object(j, jb->key, jb->code, jb->code_size, jb->name, st);
        }
        if (jb->capture && rc == SN_OK) {
            jb->obj = jb->code;
            jb->obj_size = jb->code_size;
        } else {
            free(jb->code);
        }
        jb->code = NULL;
    }
    return rc;
}

sn_code sn_jit_compile(sn_jit *j, LLVMModuleRef mod, LLVMContextRef ctx, const char *name,
                       unsigned char **obj_out, size_t *obj_size, char **ir_text, sn_status *st) {
    sn_jit_job jb;
    memset(&jb, 0, sizeof jb);
    jb.mod = mod;
    jb.ctx = ctx;
    sn_strlcpy(jb.name, name, sizeof jb.name);
    jb.capture = obj_out != NULL || ir_text != NULL ? SN_CAPTURE_ALL : SN_CAPTURE_NONE;
    sn_code c = sn_jit_compile_batch(j, &jb, 1, 1, st);
    if (obj_out) {
        *obj_out = jb.obj;
        *obj_size = jb.obj_size;
    } else {
        free(jb.obj);
    }
    if (ir_text)
        *ir_text = jb.ir;
    else
        free(jb.ir);
    free(jb.asm_text);
    return c;
}

void *sn_jit_lookup(sn_jit *j, const char *symbol, sn_status *st) {
    LLVMOrcExecutorAddress addr = 0;
    pthread_mutex_lock(&j->mu);
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->lljit, &addr, symbol);
    pthread_mutex_unlock(&j->mu);
    if (e) {
        llvm_error(st, e, "LLVM: kernel symbol not found", symbol);
        return NULL;
    }
    return (void *)(uintptr_t)addr;
}
