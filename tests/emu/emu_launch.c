/* One kernel launch on the CPU (see emu.h). Blocks run one after another (in the order the
 * schedule gives); a block's threads are fibers with stacks of their own, and a thread runs
 * until it reaches a barrier, a warp rendezvous or its end. When every thread has stopped,
 * the scheduler releases a warp whose live lanes all wait at a rendezvous, or, once every
 * live thread of the block waits at __syncthreads(), the whole block, and resumes the
 * threads in schedule order: in order (thread 0 first), reversed, or a fresh random
 * permutation each round. A thread that waits at a barrier its block can never complete
 * (some threads at __syncthreads(), others at a warp rendezvous) ends the launch with an
 * error, as does a warp rendezvous with exited lanes.
 *
 * A fault (a read or write in a guard page of a device allocation, a fiber's stack
 * overflowing, a null pointer) is caught by a SIGSEGV handler that names the kernel, the
 * block, the thread and the allocation the address is next to, and the launch returns
 * CUDA_ERROR_ILLEGAL_ADDRESS. After the launch, the slack bytes around every allocation are
 * checked for writes. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "emu.h"

#define MAX_THREADS    1024
#define STACK_SIZE     (256 * 1024)
#define ALT_STACK_SIZE (64 * 1024)

enum { F_READY = 0, F_BARRIER, F_WARP, F_DONE };

typedef struct fiber {
    void *sp; /* saved stack pointer (x86-64) while switched out */
#if !defined(__x86_64__)
    ucontext_t uc;
#endif
    int state;
    snemu_thread t;
} fiber;

/* ---- context switching ---------------------------------------------------------------- */
#if defined(__x86_64__)
/* snemu_swap(&save, load): pushes the callee-saved registers and the SSE / x87 control
 * words, stores the stack pointer in *save, switches to `load` and pops the same from it.
 * No system call (ucontext's swapcontext saves the signal mask with one each time). */
__asm__(".text\n"
        ".globl snemu_swap\n"
        ".hidden snemu_swap\n"
        ".type snemu_swap,@function\n"
        "snemu_swap:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    stmxcsr (%rsp)\n"
        "    fnstcw 4(%rsp)\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    ldmxcsr (%rsp)\n"
        "    fldcw 4(%rsp)\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size snemu_swap, .-snemu_swap\n");
void snemu_swap(void **save, void *load);
#endif

/* ---- the launch in progress ------------------------------------------------------------ */
static struct {
    const emu_kernel *k;
    void **params;
    fiber *f;
    int nf;
    char *stacks; /* MAX_THREADS stacks, each with a guard page at its low end */
    fiber *cur;
    int *order;
    snemu_abi abi;
    snemu_warp_area warps[MAX_THREADS / 32];
#if defined(__x86_64__)
    void *sched_sp;
#else
    ucontext_t sched_uc;
#endif
    /* failure reporting */
    volatile sig_atomic_t active; /* a launch runs: faults are ours */
    sigjmp_buf jmp;
    char why[1200];
    int code;
    uint64_t rng;
} X;

static uint64_t next_rand(void) {
    uint64_t x = (X.rng += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

emu_schedule emu_schedule_get(uint64_t *seed) {
    const char *s = getenv("SNNC_EMU_SCHEDULE");
    *seed = 1;
    if (!s || !*s || strcmp(s, "inorder") == 0) return EMU_IN_ORDER;
    if (strcmp(s, "reversed") == 0) return EMU_REVERSED;
    if (strncmp(s, "random", 6) == 0) {
        if (s[6] == ':') *seed = strtoull(s + 7, NULL, 10);
        return EMU_RANDOM;
    }
    fprintf(stderr,
            "cuda emulator: SNNC_EMU_SCHEDULE=%s: expected inorder, reversed or "
            "random[:SEED]; running in order\n",
            s);
    return EMU_IN_ORDER;
}

static void where(char *buf, size_t n) {
    const fiber *f = X.cur;
    if (f)
        snprintf(buf, n, "kernel %s, block (%u,%u,%u), thread (%u,%u,%u)", X.k->name,
                 X.abi.block_idx.x, X.abi.block_idx.y, X.abi.block_idx.z, f->t.idx.x, f->t.idx.y,
                 f->t.idx.z);
    else
        snprintf(buf, n, "kernel %s", X.k->name);
}

/* Ends the launch from inside a thread (or the scheduler) with an error. */
static void fail_launch(int code, const char *fmt, ...) {
    char at[400], msg[512];
    where(at, sizeof at);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(X.why, sizeof X.why, "%s: %s", at, msg);
    X.code = code;
    siglongjmp(X.jmp, 1);
}

/* ---- faults -------------------------------------------------------------------------------- */
static struct sigaction old_segv, old_bus;

static void describe_address(uintptr_t a, int write, char *buf, size_t n) {
    const char *rw = write < 0 ? "access" : write ? "write" : "read";
    const emu_alloc *al = emu_alloc_near(a);
    uintptr_t stacks = (uintptr_t)X.stacks;
    if (al) {
        uintptr_t d = (uintptr_t)al->data;
        if (a >= d + al->size)
            snprintf(buf, n,
                     "out-of-bounds %s at %#lx, %lu bytes past the end of a %zu-byte "
                     "device allocation at %#lx",
                     rw, (unsigned long)a, (unsigned long)(a - d - al->size), al->size,
                     (unsigned long)d);
        else
            snprintf(buf, n,
                     "out-of-bounds %s at %#lx, %lu bytes before a %zu-byte device "
                     "allocation at %#lx",
                     rw, (unsigned long)a, (unsigned long)(d - a), al->size, (unsigned long)d);
    } else if (X.stacks && a >= stacks && a < stacks + (size_t)MAX_THREADS * STACK_SIZE) {
        snprintf(buf, n, "a thread's stack overflowed (%d KiB of local memory per thread)",
                 STACK_SIZE / 1024);
    } else if (a < 65536) {
        snprintf(buf, n,
                 "%s through a null pointer (address %#lx): an optional operand "
                 "passed as null?",
                 rw, (unsigned long)a);
    } else {
        snprintf(buf, n,
                 "%s at %#lx, which is in no device allocation (a host pointer or a "
                 "wild index)",
                 rw, (unsigned long)a);
    }
}

static void on_fault(int sig, siginfo_t *si, void *ucv) {
    if (!X.active) { /* not ours: the previous handler takes it */
        sigaction(SIGSEGV, &old_segv, NULL);
        sigaction(SIGBUS, &old_bus, NULL);
        return;
    }
    int write = -1;
#if defined(__x86_64__) && defined(REG_ERR)
    ucontext_t *uc = ucv;
    write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
#else
    (void)ucv;
#endif
    char what[480];
    describe_address((uintptr_t)si->si_addr, write, what, sizeof what);
    char at[400];
    where(at, sizeof at);
    snprintf(X.why, sizeof X.why, "%s: %s (signal %d)", at, what, sig);
    X.code = 700; /* CUDA_ERROR_ILLEGAL_ADDRESS */
    siglongjmp(X.jmp, 1);
}

/* The fault handlers run on an alternate signal stack (a fiber's stack may be the one that
 * overflowed). No thread-local state: this library is dlopen'd and may be dlclose'd, so the
 * destructor below puts back the handlers and the signal stack it replaced. */
static char *alt_stack;
static stack_t old_ss;
static int ss_replaced, handlers_installed;

static int install_handlers(void) {
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0) return -1;
    if ((cur.ss_flags & SS_DISABLE) || cur.ss_size < ALT_STACK_SIZE) {
        if (!alt_stack) {
            void *m = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED) return -1;
            alt_stack = m;
        }
        stack_t ss = {.ss_sp = alt_stack, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
        if (sigaltstack(&ss, ss_replaced ? NULL : &old_ss) != 0) return -1;
        ss_replaced = 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    struct sigaction now;
    if (sigaction(SIGSEGV, NULL, &now) == 0 && now.sa_sigaction != on_fault) {
        sigaction(SIGSEGV, &sa, &old_segv);
        sigaction(SIGBUS, &sa, &old_bus);
        handlers_installed = 1;
    }
    return 0;
}

__attribute__((destructor)) static void uninstall_handlers(void) {
    struct sigaction now;
    if (handlers_installed && sigaction(SIGSEGV, NULL, &now) == 0 && now.sa_sigaction == on_fault) {
        sigaction(SIGSEGV, &old_segv, NULL);
        sigaction(SIGBUS, &old_bus, NULL);
    }
    stack_t cur;
    if (ss_replaced && sigaltstack(NULL, &cur) == 0 && cur.ss_sp == alt_stack) {
        if (old_ss.ss_flags & SS_DISABLE) old_ss = (stack_t){.ss_flags = SS_DISABLE};
        if (sigaltstack(&old_ss, NULL) == 0) {
            munmap(alt_stack, ALT_STACK_SIZE);
            alt_stack = NULL;
        }
    }
}

/* ---- threads --------------------------------------------------------------------------- */
static void to_scheduler(void) {
    fiber *f = X.cur;
#if defined(__x86_64__)
    snemu_swap(&f->sp, X.sched_sp);
#else
    swapcontext(&f->uc, &X.sched_uc);
#endif
}

static void fiber_main(void) {
    X.k->entry(X.params);
    X.cur->state = F_DONE;
    to_scheduler();
    abort(); /* a finished thread is never resumed */
}

static void syncthreads_impl(void) {
    X.cur->state = F_BARRIER;
    to_scheduler();
}

static void warp_rendezvous_impl(void) {
    X.cur->state = F_WARP;
    to_scheduler();
}

static snemu_warp_area *warp_area_impl(void) {
    return &X.warps[X.cur->t.warp];
}

static void fail_impl(const char *what) {
    fail_launch(719 /* CUDA_ERROR_LAUNCH_FAILED */, "%s", what);
}

static char *stack_top(int i) {
    return X.stacks + (size_t)(i + 1) * STACK_SIZE;
}

static void start_fiber(fiber *f, int i) {
#if defined(__x86_64__)
    /* the frame snemu_swap pops: control words, r15..rbp, then fiber_main as the return
     * address, placed so that fiber_main starts with rsp = 8 (mod 16), as after a call */
    uint64_t *top = (uint64_t *)stack_top(i);
    uint64_t *sp = top - 2; /* 16-byte aligned slot for the return address */
    sp[0] = (uint64_t)(uintptr_t)fiber_main;
    sp[1] = 0;
    sp -= 6;
    memset(sp, 0, 6 * sizeof *sp);
    sp -= 1;
    uint32_t ctl[2] = {0x1f80u, 0x037fu}; /* MXCSR and x87 control word at process start */
    memcpy(sp, ctl, sizeof ctl);
    f->sp = sp;
#else
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = X.stacks + (size_t)i * STACK_SIZE + 4096;
    f->uc.uc_stack.ss_size = STACK_SIZE - 4096;
    f->uc.uc_link = NULL;
    makecontext(&f->uc, fiber_main, 0);
#endif
    f->state = F_READY;
}

static void resume(fiber *f) {
    X.cur = f;
    X.abi.cur = &f->t;
#if defined(__x86_64__)
    snemu_swap(&X.sched_sp, f->sp);
#else
    swapcontext(&X.sched_uc, &f->uc);
#endif
    X.cur = NULL;
}

static int ensure_stacks(void) {
    if (X.stacks) return 0;
    size_t total = (size_t)MAX_THREADS * STACK_SIZE;
    char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED) return -1;
    for (int i = 0; i < MAX_THREADS; i++) /* a guard page under each stack */
        if (mprotect(m + (size_t)i * STACK_SIZE, 4096, PROT_NONE) != 0) return -1;
    X.stacks = m;
    X.f = calloc(MAX_THREADS, sizeof *X.f);
    X.order = calloc(MAX_THREADS, sizeof *X.order);
    return X.f && X.order ? 0 : -1;
}

static void shuffle(int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(next_rand() % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* Runs the threads of the current block to their end. */
static void run_block(emu_schedule sched) {
    const int n = X.nf;
    const unsigned bx = X.abi.block_dim.x, by = X.abi.block_dim.y;
    for (int i = 0; i < n; i++) {
        fiber *f = &X.f[i];
        f->t.idx.x = (unsigned)i % bx;
        f->t.idx.y = ((unsigned)i / bx) % by;
        f->t.idx.z = (unsigned)i / (bx * by);
        f->t.linear = i;
        f->t.lane = i % 32;
        f->t.warp = i / 32;
        start_fiber(f, i);
        X.order[i] = sched == EMU_REVERSED ? n - 1 - i : i;
    }
    if (X.k->shared_end > X.k->shared_begin) /* uninitialized shared memory reads as NaN */
        memset(X.k->shared_begin, 0xff, (size_t)(X.k->shared_end - X.k->shared_begin));
    for (;;) {
        if (sched == EMU_RANDOM) shuffle(X.order, n);
        for (int i = 0; i < n; i++)
            if (X.f[X.order[i]].state == F_READY) resume(&X.f[X.order[i]]);
        int done = 0, barrier = 0, released = 0;
        for (int i = 0; i < n; i++) {
            done += X.f[i].state == F_DONE;
            barrier += X.f[i].state == F_BARRIER;
        }
        if (done == n) return;
        /* warps whose live lanes all wait at a rendezvous go on */
        for (int w = 0; w * 32 < n; w++) {
            int lo = w * 32, hi = lo + 32 < n ? lo + 32 : n, waiting = 0, live = 0;
            for (int i = lo; i < hi; i++) {
                waiting += X.f[i].state == F_WARP;
                live += X.f[i].state != F_DONE;
            }
            if (!waiting || waiting != live) continue;
            if (live != 32) {
                X.cur = &X.f[lo];
                fail_launch(719,
                            "a warp-level operation (mma.sync) in warp %d with %d of 32 "
                            "lanes present",
                            w, live);
            }
            for (int i = lo; i < hi; i++) X.f[i].state = F_READY;
            released = 1;
        }
        if (released) continue;
        if (barrier + done == n) {
            for (int i = 0; i < n; i++)
                if (X.f[i].state == F_BARRIER) X.f[i].state = F_READY;
            continue;
        }
        X.cur = NULL;
        fail_launch(719,
                    "deadlock: %d threads wait at __syncthreads() while %d wait at a "
                    "warp-level operation their warp cannot complete",
                    barrier, n - done - barrier);
    }
}

int emu_launch(const emu_kernel *k, const unsigned grid[3], const unsigned block[3],
               void **params) {
    uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    if (!grid[0] || !grid[1] || !grid[2] || !threads || threads > MAX_THREADS || block[2] > 64 ||
        grid[1] > 65535 || grid[2] > 65535) {
        fprintf(stderr, "cuda emulator: kernel %s: bad launch shape %ux%ux%u blocks of %ux%ux%u\n",
                k->name, grid[0], grid[1], grid[2], block[0], block[1], block[2]);
        return 1; /* CUDA_ERROR_INVALID_VALUE */
    }
    if (k->bounds > 0 && threads > (uint64_t)k->bounds) {
        fprintf(stderr,
                "cuda emulator: kernel %s: %llu threads per block, more than its "
                "__launch_bounds__(%d)\n",
                k->name, (unsigned long long)threads, k->bounds);
        return 701; /* CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES */
    }
    if (k->shared_end - k->shared_begin > 48 * 1024) {
        fprintf(stderr,
                "cuda emulator: kernel %s: %ld bytes of static shared memory (48 KiB "
                "at most)\n",
                k->name, (long)(k->shared_end - k->shared_begin));
        return 701;
    }
    if (ensure_stacks() || install_handlers()) {
        fprintf(stderr, "cuda emulator: cannot set up thread stacks: %s\n", strerror(errno));
        return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    }
    uint64_t seed;
    emu_schedule sched = emu_schedule_get(&seed);
    X.k = k;
    X.params = params;
    X.nf = (int)threads;
    X.cur = NULL;
    X.code = 0;
    X.why[0] = 0;
    X.abi.version = SNEMU_ABI_VERSION;
    X.abi.block_dim = (snemu_uint3){block[0], block[1], block[2]};
    X.abi.grid_dim = (snemu_uint3){grid[0], grid[1], grid[2]};
    X.abi.syncthreads = syncthreads_impl;
    X.abi.warp_rendezvous = warp_rendezvous_impl;
    X.abi.warp_area = warp_area_impl;
    X.abi.fail = fail_impl;
    static uint64_t launches;
    X.rng = seed * 0x2545f4914f6cdd1dull + ++launches;
    if (sigsetjmp(X.jmp, 1) == 0) {
        X.active = 1;
        uint64_t nb = (uint64_t)grid[0] * grid[1] * grid[2];
        /* random: the blocks in the order id = (a b + c) mod nb, a permutation for the prime
         * a = 2654435761 (coprime to any grid size a launch can have), c fixed per launch */
        const uint64_t c = next_rand() % nb;
        for (uint64_t b = 0; b < nb; b++) {
            uint64_t id = sched == EMU_REVERSED ? nb - 1 - b : b;
            if (sched == EMU_RANDOM) id = (b * 2654435761ull % nb + c) % nb;
            X.abi.block_idx.x = (unsigned)(id % grid[0]);
            X.abi.block_idx.y = (unsigned)(id / grid[0] % grid[1]);
            X.abi.block_idx.z = (unsigned)(id / ((uint64_t)grid[0] * grid[1]));
            run_block(sched);
        }
    }
    X.active = 0;
    X.cur = NULL;
    if (X.code) {
        fprintf(stderr, "cuda emulator: %s\n", X.why);
        return X.code;
    }
    char damage[512];
    if (emu_check_canaries(damage, sizeof damage)) {
        fprintf(stderr, "cuda emulator: kernel %s: %s\n", k->name, damage);
        return 700;
    }
    return 0;
}

snemu_abi *emu_abi(void);
snemu_abi *emu_abi(void) {
    return &X.abi;
}
