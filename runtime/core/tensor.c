#include "tensor.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtype_info[SN_DTYPE_COUNT] = {
    [SN_F32] = {"F32", 4}, [SN_F16] = {"F16", 2}, [SN_BF16] = {"BF16", 2},
    [SN_F64] = {"F64", 8}, [SN_I64] = {"I64", 8}, [SN_I32] = {"I32", 4},
    [SN_I8] = {"I8", 1},   [SN_U8] = {"U8", 1},   [SN_BOOL] = {"BOOL", 1},
};

size_t sn_dtype_size(sn_dtype t) {
    return (unsigned)t < SN_DTYPE_COUNT ? dtype_info[t].size : 0;
}

const char *sn_dtype_name(sn_dtype t) {
    return (unsigned)t < SN_DTYPE_COUNT ? dtype_info[t].name : "?";
}

int sn_dtype_from_name(const char *name, sn_dtype *out) {
    for (int i = 0; i < SN_DTYPE_COUNT; i++) {
        if (strcmp(name, dtype_info[i].name) == 0) {
            *out = (sn_dtype)i;
            return 1;
        }
    }
    return 0;
}

sn_shape sn_shape_make(int rank, const int64_t *d) {
    sn_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank && i < SN_MAX_RANK; i++) s.d[i] = d[i];
    return s;
}

sn_shape sn_shape4(int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t v[4] = {a, b, c, d};
    return sn_shape_make(4, v);
}

sn_shape sn_shape2(int64_t a, int64_t b) {
    int64_t v[2] = {a, b};
    return sn_shape_make(2, v);
}

sn_shape sn_shape1(int64_t a) {
    return sn_shape_make(1, &a);
}

int64_t sn_shape_numel(const sn_shape *s) {
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->d[i];
    return n;
}

int sn_shape_eq(const sn_shape *a, const sn_shape *b) {
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

char *sn_shape_str(const sn_shape *s, char *buf, size_t n) {
    size_t used = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < s->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)s->d[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}
