#define _POSIX_C_SOURCE 200809L
#include "cache.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/core/util.h"

#define CACHE_MAGIC "SNNCC001"

static sn_cache_stats stats;

sn_cache_stats sn_cache_get_stats(void) {
    return stats;
}

const char *sn_cache_dir(void) {
    static char dir[2048];
    const char *no = getenv("SNNC_NO_CACHE");
    if (no && *no && strcmp(no, "0") != 0) return NULL;
    const char *d = getenv("SNNC_CACHE_DIR");
    if (d && *d)
        snprintf(dir, sizeof dir, "%s", d);
    else if ((d = getenv("XDG_CACHE_HOME")) && *d)
        snprintf(dir, sizeof dir, "%s/snnc", d);
    else if ((d = getenv("HOME")) && *d)
        snprintf(dir, sizeof dir, "%s/.cache/snnc", d);
    else
        return NULL;
    return dir;
}

static int entry_path(const char *kind, uint64_t key, char *path, size_t n) {
    const char *dir = sn_cache_dir();
    if (!dir) return 0;
    int w = snprintf(path, n, "%s/%s-%016llx.bin", dir, kind, (unsigned long long)key);
    return w > 0 && (size_t)w < n;
}

typedef struct header {
    char magic[8];
    uint64_t key;
    uint64_t size;
    uint64_t checksum;
} header;

int sn_cache_get(const char *kind, uint64_t key, unsigned char **data, size_t *size) {
    char path[2300];
    *data = NULL;
    *size = 0;
    if (!entry_path(kind, key, path, sizeof path)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        __atomic_fetch_add(&stats.misses, 1, __ATOMIC_RELAXED);
        return 0;
    }
    header h;
    int ok = fread(&h, sizeof h, 1, f) == 1 && memcmp(h.magic, CACHE_MAGIC, 8) == 0 &&
             h.key == key && h.size > 0 && h.size < ((uint64_t)1 << 32);
    unsigned char *buf = NULL;
    if (ok) {
        buf = malloc((size_t)h.size);
        ok = buf && fread(buf, 1, (size_t)h.size, f) == (size_t)h.size && fgetc(f) == EOF &&
             sn_hash64(SN_HASH_INIT, buf, (size_t)h.size) == h.checksum;
    }
    fclose(f);
    if (!ok) {
        free(buf);
        __atomic_fetch_add(&stats.misses, 1, __ATOMIC_RELAXED);
        return 0;
    }
    __atomic_fetch_add(&stats.hits, 1, __ATOMIC_RELAXED);
    *data = buf;
    *size = (size_t)h.size;
    return 1;
}

void sn_cache_put(const char *kind, uint64_t key, const void *data, size_t size) {
    char path[2300];
    if (!entry_path(kind, key, path, sizeof path)) return;
    sn_status st;
    sn_status_init(&st);
    if (sn_mkdirs(sn_cache_dir(), &st) != SN_OK) return;
    size_t total = sizeof(header) + size;
    unsigned char *buf = malloc(total);
    if (!buf) return;
    header h;
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.key = key;
    h.size = size;
    h.checksum = sn_hash64(SN_HASH_INIT, data, size);
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, data, size);
    if (sn_write_file_replace(path, buf, total, &st) == SN_OK)
        __atomic_fetch_add(&stats.stores, 1, __ATOMIC_RELAXED);
    free(buf);
}
