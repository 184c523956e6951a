#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include "util.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void *sn_calloc(size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    if (n == 0 || size == 0) return calloc(1, 1);
    return calloc(n, size);
}

/* Large buffers (packed weights, arenas) are asked for in 2 MiB pages: streaming VGG16's
 * 58 MB of weights at batch 1 otherwise misses the TLB every 4 KiB. */
#define HUGE_FROM ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

void *sn_aligned_alloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    if (rounded == 0) rounded = 64;
    size_t align = rounded >= HUGE_FROM ? HUGE_PAGE : 64;
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == HUGE_PAGE) madvise(p, rounded & ~(HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    memset(p, 0, rounded);
    return p;
}

void sn_aligned_free(void *p) {
    free(p);
}

int sn_grow(void **ptr, int *cap, int need, size_t elem_size) {
    if (need <= *cap) return 1;
    int nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > (1 << 29)) return 0;
        nc *= 2;
    }
    if ((size_t)nc > SIZE_MAX / elem_size) return 0;
    void *np = realloc(*ptr, (size_t)nc * elem_size);
    if (!np) return 0;
    memset((char *)np + (size_t)*cap * elem_size, 0, (size_t)(nc - *cap) * elem_size);
    *ptr = np;
    *cap = nc;
    return 1;
}

char *sn_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void sn_fmt(char *dst, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

void sn_strlcpy(char *dst, const char *src, size_t n) {
    if (n == 0) return;
    size_t i = 0;
    for (; i + 1 < n && src[i]; i++) dst[i] = src[i];
    dst[i] = '\0';
}

void sn_sb_init(sn_strbuf *sb) {
    memset(sb, 0, sizeof *sb);
}

void sn_sb_free(sn_strbuf *sb) {
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

static int sb_reserve(sn_strbuf *sb, size_t extra) {
    if (sb->oom) return 0;
    if (sb->len + extra + 1 <= sb->cap) return 1;
    size_t nc = sb->cap ? sb->cap : 256;
    while (nc < sb->len + extra + 1) nc *= 2;
    char *nd = realloc(sb->data, nc);
    if (!nd) {
        sb->oom = 1;
        return 0;
    }
    sb->data = nd;
    sb->cap = nc;
    return 1;
}

void sn_sb_append(sn_strbuf *sb, const char *s, size_t n) {
    if (!sb_reserve(sb, n)) return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sn_sb_puts(sn_strbuf *sb, const char *s) {
    sn_sb_append(sb, s, strlen(s));
}

void sn_sb_vprintf(sn_strbuf *sb, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || !sb_reserve(sb, (size_t)n)) return;
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void sn_sb_printf(sn_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sn_sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sn_sb_json_str(sn_strbuf *sb, const char *s) {
    sn_sb_puts(sb, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            sn_sb_puts(sb, "\\\"");
            break;
        case '\\':
            sn_sb_puts(sb, "\\\\");
            break;
        case '\n':
            sn_sb_puts(sb, "\\n");
            break;
        case '\t':
            sn_sb_puts(sb, "\\t");
            break;
        case '\r':
            sn_sb_puts(sb, "\\r");
            break;
        default:
            if (*p < 0x20)
                sn_sb_printf(sb, "\\u%04x", *p);
            else
                sn_sb_append(sb, (const char *)p, 1);
        }
    }
    sn_sb_puts(sb, "\"");
}

const char *sn_sb_cstr(sn_strbuf *sb) {
    return sb->data ? sb->data : "";
}

sn_code sn_read_file(const char *path, unsigned char **data, size_t *size, sn_status *st) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(st, SN_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sn_fail(st, SN_ERR_INPUT, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return sn_fail(st, SN_ERR_INPUT, "%s: read error (got %zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return SN_OK;
}

static sn_code write_file(const char *path, const void *data, size_t size, int sync, sn_status *st);

sn_code sn_write_file_atomic(const char *path, const void *data, size_t size, sn_status *st) {
    return write_file(path, data, size, 1, st);
}

sn_code sn_write_file_replace(const char *path, const void *data, size_t size, sn_status *st) {
    return write_file(path, data, size, 0, st);
}

static sn_code write_file(const char *path, const void *data, size_t size, int sync,
                          sn_status *st) {
    char tmp[4096];
    static atomic_uint counter;
    int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(),
                     atomic_fetch_add(&counter, 1));
    if (w < 0 || (size_t)w >= sizeof tmp)
        return sn_fail(st, SN_ERR_INPUT, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot create: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return sn_fail(st, SN_ERR_RUNTIME, "%s: write failed: %s", tmp, strerror(e));
        }
        p += k;
        left -= (size_t)k;
    }
    if (sync && fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: fsync failed: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        unlink(tmp);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: close failed: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: rename failed: %s", path, strerror(e));
    }
    return SN_OK;
}

sn_code sn_mkdirs(const char *path, sn_status *st) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return sn_fail(st, SN_ERR_INPUT, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot create directory: %s", buf,
                               strerror(errno));
            buf[i] = c;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sn_fail(st, SN_ERR_INPUT, "%s: not a directory", path);
    return SN_OK;
}

int sn_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

void sn_path_join(char *dst, size_t n, const char *dir, const char *name) {
    size_t dl = strlen(dir);
    if (dl > 0 && dir[dl - 1] == '/')
        snprintf(dst, n, "%s%s", dir, name);
    else
        snprintf(dst, n, "%s/%s", dir, name);
}

int sn_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 1000;
    int prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int v = prev[j - 1] + cost;
            if (prev[j] + 1 < v) v = prev[j] + 1;
            if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
            cur[j] = v;
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

const char *sn_suggest(const char *word, const char *const *candidates) {
    const char *best = NULL;
    int bestd = 1 << 30;
    for (int i = 0; candidates[i]; i++) {
        int d = sn_edit_distance(word, candidates[i]);
        if (d < bestd) {
            bestd = d;
            best = candidates[i];
        }
    }
    if (!best) return NULL;
    size_t wl = strlen(word);
    int limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}

uint64_t sn_hash64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t sn_hash_str(uint64_t h, const char *s) {
    return sn_hash64(h, s, strlen(s) + 1);
}

double sn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
