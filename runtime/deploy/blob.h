/* Little-endian byte streams for the descriptions an artifact carries (the model and its
 * plans, runtime/deploy/desc.h): a growable writer, used by snnc when it builds an
 * artifact, and a bounds-checked reader, used by the artifact's runtime. The reader never
 * allocates and never reads past the end: a short or malformed stream sets `bad`, and every
 * later read returns zeros, so a parser checks once at the end of a record. */
#ifndef SN_BLOB_H
#define SN_BLOB_H

#include <stddef.h>
#include <stdint.h>

typedef struct sn_bw {
    unsigned char *data;
    size_t len, cap;
    int oom; /* set when a write could not allocate (the stream is then unusable) */
} sn_bw;

void sn_bw_init(sn_bw *w);
void sn_bw_free(sn_bw *w);
void sn_bw_raw(sn_bw *w, const void *p, size_t n);
void sn_bw_u32(sn_bw *w, uint32_t v);
void sn_bw_i32(sn_bw *w, int32_t v);
void sn_bw_u64(sn_bw *w, uint64_t v);
void sn_bw_i64(sn_bw *w, int64_t v);
void sn_bw_f32(sn_bw *w, float v);
/* u32 length including the terminating NUL, the bytes, the NUL */
void sn_bw_str(sn_bw *w, const char *s);
/* u64 length, the bytes */
void sn_bw_bytes(sn_bw *w, const void *p, size_t n);

typedef struct sn_br {
    const unsigned char *p;
    size_t len, pos;
    int bad; /* a read ran past the end or met a malformed value */
} sn_br;

void sn_br_init(sn_br *r, const void *p, size_t len);
const unsigned char *sn_br_raw(sn_br *r, size_t n); /* NULL (and bad) past the end */
uint32_t sn_br_u32(sn_br *r);
int32_t sn_br_i32(sn_br *r);
uint64_t sn_br_u64(sn_br *r);
int64_t sn_br_i64(sn_br *r);
float sn_br_f32(sn_br *r);
/* A NUL-terminated string inside the stream (no NUL before its end), or "" (and bad). The
 * pointer stays valid as long as the stream's memory. */
const char *sn_br_str(sn_br *r);
/* Bytes inside the stream, or NULL (and bad); *n receives their count. */
const unsigned char *sn_br_bytes(sn_br *r, size_t *n);

#endif
