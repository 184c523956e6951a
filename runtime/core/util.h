/* Small helpers every stage uses: checked allocation, a growable string buffer,
 * whole-file I/O with atomic replacement, edit distance for "did you mean", hashing. */
#ifndef SN_UTIL_H
#define SN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "status.h"

#define SN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SN_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define SN_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* calloc with an overflow check; NULL when n*size overflows or memory is exhausted. */
void *sn_calloc(size_t n, size_t size);
/* 64-byte aligned, zeroed; free with sn_aligned_free. */
void *sn_aligned_alloc(size_t bytes);
void sn_aligned_free(void *p);
/* realloc-based growth of a dynamic array: ensures capacity >= need elements. */
int sn_grow(void **ptr, int *cap, int need, size_t elem_size);

char *sn_strdup(const char *s);
/* snprintf that may truncate (for display names); always terminates. */
void sn_fmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Copies at most n-1 bytes and always terminates. */
void sn_strlcpy(char *dst, const char *src, size_t n);

typedef struct sn_strbuf {
    char *data;
    size_t len, cap;
    int oom; /* set when an append could not allocate */
} sn_strbuf;

void sn_sb_init(sn_strbuf *sb);
void sn_sb_free(sn_strbuf *sb);
void sn_sb_printf(sn_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sn_sb_vprintf(sn_strbuf *sb, const char *fmt, va_list ap);
void sn_sb_append(sn_strbuf *sb, const char *s, size_t n);
void sn_sb_puts(sn_strbuf *sb, const char *s);
/* Appends s as a JSON string literal (with quotes and escapes). */
void sn_sb_json_str(sn_strbuf *sb, const char *s);
const char *sn_sb_cstr(sn_strbuf *sb); /* never NULL */

/* Reads a whole file. On failure returns SN_ERR_INPUT with "path: reason". */
sn_code sn_read_file(const char *path, unsigned char **data, size_t *size, sn_status *st);
/* Writes a file atomically: to "path.tmp.<pid>", fsync, rename over path. On any failure
 * the temporary is removed and path is left as it was. */
sn_code sn_write_file_atomic(const char *path, const void *data, size_t size, sn_status *st);
/* The same without fsync: the file is complete or absent, but may be lost on power
 * failure (for caches, whose entries are checksummed). */
sn_code sn_write_file_replace(const char *path, const void *data, size_t size, sn_status *st);
/* mkdir -p; ok if it exists. */
sn_code sn_mkdirs(const char *path, sn_status *st);
int sn_file_exists(const char *path);
/* dst = dir + "/" + name (truncates safely). */
void sn_path_join(char *dst, size_t n, const char *dir, const char *name);

/* Levenshtein distance (case-sensitive), for "did you mean" suggestions. */
int sn_edit_distance(const char *a, const char *b);
/* Returns the candidate closest to `word` when close enough to be a plausible typo, else
 * NULL. `candidates` is NULL-terminated. */
const char *sn_suggest(const char *word, const char *const *candidates);

/* 64-bit FNV-1a, chainable: h = sn_hash64(h, data, n). Start with SN_HASH_INIT. */
#define SN_HASH_INIT 0xcbf29ce484222325ULL
uint64_t sn_hash64(uint64_t h, const void *data, size_t n);
uint64_t sn_hash_str(uint64_t h, const char *s);

/* Monotonic wall clock in seconds. */
double sn_now(void);

#endif
