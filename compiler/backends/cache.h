/* On-disk cache of compiled code (CPU objects, CUDA cubin/PTX).
 *
 * Entries are files "<dir>/<kind>-<16 hex digits of the key>.bin" holding a header (magic,
 * key, payload size, payload checksum) and the payload. The key is the caller's hash of
 * everything that determines the output (generated source or IR, compiler version, target,
 * flags). A missing, unreadable, read-only or corrupt cache is a miss, never an error:
 * lookups that fail validation return 0, stores that fail are silently skipped.
 *
 * Directory: $SNNC_CACHE_DIR, else $XDG_CACHE_HOME/snnc, else $HOME/.cache/snnc.
 * SNNC_NO_CACHE=1 disables both lookups and stores. */
#ifndef SN_CACHE_H
#define SN_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 and a malloc'd copy of the payload on a hit, 0 on a miss. */
int sn_cache_get(const char *kind, uint64_t key, unsigned char **data, size_t *size);
/* Stores a payload (atomically); failures are ignored. */
void sn_cache_put(const char *kind, uint64_t key, const void *data, size_t size);
/* The directory in use, or NULL when caching is disabled. */
const char *sn_cache_dir(void);

/* Counters since start (for compile-time reports). */
typedef struct sn_cache_stats {
    int hits, misses, stores;
} sn_cache_stats;
sn_cache_stats sn_cache_get_stats(void);

#endif
