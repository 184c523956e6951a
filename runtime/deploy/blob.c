#include "blob.h"

#include <stdlib.h>
#include <string.h>

void sn_bw_init(sn_bw *w) {
    memset(w, 0, sizeof *w);
}

void sn_bw_free(sn_bw *w) {
    free(w->data);
    memset(w, 0, sizeof *w);
}

void sn_bw_raw(sn_bw *w, const void *p, size_t n) {
    if (w->oom) return;
    if (w->len + n < w->len) {
        w->oom = 1;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n) {
            if (cap > SIZE_MAX / 2) {
                w->oom = 1;
                return;
            }
            cap *= 2;
        }
        unsigned char *d = realloc(w->data, cap);
        if (!d) {
            w->oom = 1;
            return;
        }
        w->data = d;
        w->cap = cap;
    }
    if (n) memcpy(w->data + w->len, p, n);
    w->len += n;
}

void sn_bw_u32(sn_bw *w, uint32_t v) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
    sn_bw_raw(w, b, 4);
}

void sn_bw_i32(sn_bw *w, int32_t v) {
    sn_bw_u32(w, (uint32_t)v);
}

void sn_bw_u64(sn_bw *w, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    sn_bw_raw(w, b, 8);
}

void sn_bw_i64(sn_bw *w, int64_t v) {
    sn_bw_u64(w, (uint64_t)v);
}

void sn_bw_f32(sn_bw *w, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    sn_bw_u32(w, u);
}

void sn_bw_str(sn_bw *w, const char *s) {
    size_t n = strlen(s) + 1;
    if (n > UINT32_MAX) {
        w->oom = 1;
        return;
    }
    sn_bw_u32(w, (uint32_t)n);
    sn_bw_raw(w, s, n);
}

void sn_bw_bytes(sn_bw *w, const void *p, size_t n) {
    sn_bw_u64(w, (uint64_t)n);
    sn_bw_raw(w, p, n);
}

void sn_br_init(sn_br *r, const void *p, size_t len) {
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
    r->bad = 0;
}

const unsigned char *sn_br_raw(sn_br *r, size_t n) {
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->pos;
    r->pos += n;
    return q;
}

uint32_t sn_br_u32(sn_br *r) {
    const unsigned char *b = sn_br_raw(r, 4);
    uint32_t v = 0;
    if (b)
        for (int i = 3; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

int32_t sn_br_i32(sn_br *r) {
    return (int32_t)sn_br_u32(r);
}

uint64_t sn_br_u64(sn_br *r) {
    const unsigned char *b = sn_br_raw(r, 8);
    uint64_t v = 0;
    if (b)
        for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

int64_t sn_br_i64(sn_br *r) {
    return (int64_t)sn_br_u64(r);
}

float sn_br_f32(sn_br *r) {
    uint32_t u = sn_br_u32(r);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

const char *sn_br_str(sn_br *r) {
    uint32_t n = sn_br_u32(r);
    const unsigned char *s = n ? sn_br_raw(r, n) : NULL;
    if (!s || s[n - 1] != '\0' || memchr(s, '\0', n - 1) != NULL) {
        r->bad = 1;
        return "";
    }
    return (const char *)s;
}

const unsigned char *sn_br_bytes(sn_br *r, size_t *n) {
    uint64_t len = sn_br_u64(r);
    *n = 0;
    if (r->bad || len > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    *n = (size_t)len;
    return sn_br_raw(r, (size_t)len);
}
