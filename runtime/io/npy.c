#include "npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define NPY_MAX_ELEMS ((int64_t)1 << 40)

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

typedef struct hdr_parser {
    const char *start, *p, *end;
    const char *name;
    sn_status *st;
} hdr_parser;

static void skip_ws(hdr_parser *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static sn_code bad_header(hdr_parser *h, const char *what) {
    return sn_fail(h->st, SN_ERR_INPUT,
                   "%s: not a valid .npy header: %s (at header byte %ld; expected the dict NumPy "
                   "writes, {'descr': '<f4', 'fortran_order': False, 'shape': (T, N, ...)})",
                   h->name, what, (long)(h->p - h->start));
}

static int eat(hdr_parser *h, char c) {
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string literal without escapes (all .npy keys and dtypes are plain). */
static int read_str(hdr_parser *h, char *out, size_t n) {
    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    char q = *h->p++;
    size_t len = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || len + 1 >= n) return 0;
        out[len++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    out[len] = '\0';
    return 1;
}

static int read_word(hdr_parser *h, const char *w) {
    skip_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        h->p += n;
        return 1;
    }
    return 0;
}

static sn_code parse_header(hdr_parser *h, sn_npy *out, int *fortran) {
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!eat(h, '{')) return bad_header(h, "it does not start with '{'");
    for (;;) {
        if (eat(h, '}')) break;
        char key[32];
        if (!read_str(h, key, sizeof key)) return bad_header(h, "expected a quoted key");
        if (!eat(h, ':')) return bad_header(h, "expected ':' after a key");
        if (!strcmp(key, "descr")) {
            if (!read_str(h, out->descr, sizeof out->descr))
                return bad_header(h, "'descr' must be a simple dtype string such as '<f4' "
                                     "(structured dtypes are not supported)");
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (read_word(h, "False"))
                *fortran = 0;
            else if (read_word(h, "True"))
                *fortran = 1;
            else
                return bad_header(h, "'fortran_order' must be True or False");
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (!eat(h, '(')) return bad_header(h, "'shape' must be a tuple");
            out->rank = 0;
            for (;;) {
                if (eat(h, ')')) break;
                skip_ws(h);
                int64_t v = 0;
                int digits = 0;
                while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
                    if (v > NPY_MAX_ELEMS) return bad_header(h, "a dimension is too large");
                    v = v * 10 + (*h->p++ - '0');
                    digits++;
                }
                if (h->p < h->end && *h->p == 'L') h->p++; /* Python 2 longs */
                if (!digits) return bad_header(h, "a shape entry is not a whole number");
                if (out->rank >= SN_NPY_MAX_RANK)
                    return sn_fail(h->st, SN_ERR_INPUT, "%s: the array has more than %d dimensions",
                                   h->name, SN_NPY_MAX_RANK);
                out->shape[out->rank++] = v;
                if (eat(h, ')')) break;
                if (!eat(h, ',')) return bad_header(h, "expected ',' or ')' in the shape");
            }
            have_shape = 1;
        } else {
            return bad_header(h, "unknown key");
        }
        if (eat(h, '}')) break;
        if (!eat(h, ',')) return bad_header(h, "expected ',' or '}' after a value");
    }
    skip_ws(h);
    if (h->p != h->end) return bad_header(h, "text after the closing '}'");
    if (!have_descr || !have_fortran || !have_shape)
        return bad_header(h, !have_descr     ? "no 'descr' key"
                             : !have_fortran ? "no 'fortran_order' key"
                                             : "no 'shape' key");
    return SN_OK;
}

typedef enum { K_F32, K_F64, K_U8, K_BOOL } npy_kind;

sn_code sn_npy_parse(const char *name, const unsigned char *buf, size_t size, sn_npy *out,
                     sn_status *st) {
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(buf, MAGIC, sizeof MAGIC) != 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: not a NumPy .npy file (it does not start with \\x93NUMPY; save arrays "
                       "with numpy.save)",
                       name);
    int major = buf[6];
    size_t hlen, off;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return sn_fail(st, SN_ERR_INPUT, "%s: truncated .npy header", name);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        off = 12;
    } else {
        return sn_fail(st, SN_ERR_INPUT, "%s: unsupported .npy format version %d.%d", name, major,
                       buf[7]);
    }
    if (hlen > size - off)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: truncated .npy file (the header says %zu bytes, the file has %zu after "
                       "the preamble)",
                       name, hlen, size - off);
    for (size_t i = 0; i < hlen; i++)
        if (buf[off + i] == 0)
            return sn_fail(st, SN_ERR_INPUT, "%s: the .npy header holds a NUL byte", name);
    hdr_parser h = {(const char *)buf + off, (const char *)buf + off,
                    (const char *)buf + off + hlen, name, st};
    int fortran = 0;
    if (parse_header(&h, out, &fortran)) return st->code;
    const char *d = out->descr;
    npy_kind kind;
    int swap = 0;
    size_t isz;
    if ((d[0] == '<' || d[0] == '>') && !strcmp(d + 1, "f4")) {
        kind = K_F32, isz = 4, swap = d[0] == '>';
    } else if ((d[0] == '<' || d[0] == '>') && !strcmp(d + 1, "f8")) {
        kind = K_F64, isz = 8, swap = d[0] == '>';
    } else if ((d[0] == '|' || d[0] == '<' || d[0] == '>') && !strcmp(d + 1, "u1")) {
        kind = K_U8, isz = 1;
    } else if ((d[0] == '|' || d[0] == '<' || d[0] == '>') && !strcmp(d + 1, "b1")) {
        kind = K_BOOL, isz = 1;
    } else {
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: unsupported dtype '%s' (snnc reads float32, float64, uint8 and bool "
                       "arrays: convert with x.astype(numpy.float32))",
                       name, d);
    }
    if (fortran)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the array is stored in Fortran order; save a C-ordered array "
                       "(numpy.ascontiguousarray(x))",
                       name);
    int64_t numel = 1;
    for (int i = 0; i < out->rank; i++) {
        if (out->shape[i] > NPY_MAX_ELEMS ||
            (out->shape[i] > 0 && numel > NPY_MAX_ELEMS / out->shape[i]))
            return sn_fail(st, SN_ERR_INPUT, "%s: the array is too large", name);
        numel *= out->shape[i];
    }
    size_t avail = size - off - hlen;
    if ((uint64_t)numel > avail / isz)
        return sn_fail(
            st, SN_ERR_INPUT,
            "%s: truncated .npy file: the shape needs %lld bytes of data, the file holds "
            "%zu",
            name, (long long)numel * (long long)isz, avail);
    if ((uint64_t)numel * isz != avail)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: %zu bytes after the array data (the shape needs %lld): not a plain "
                       ".npy array",
                       name, avail - (size_t)numel * isz, (long long)numel * (long long)isz);
    out->numel = numel;
    out->data = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(float));
    if (!out->data) return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", name);
    const unsigned char *p = buf + off + hlen;
    for (int64_t i = 0; i < numel; i++) {
        const unsigned char *e = p + (size_t)i * isz;
        unsigned char b[8];
        for (size_t j = 0; j < isz; j++) b[j] = swap ? e[isz - 1 - j] : e[j];
        switch (kind) {
        case K_F32: {
            uint32_t u =
                (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
            float f;
            memcpy(&f, &u, 4);
            out->data[i] = f;
            break;
        }
        case K_F64: {
            uint64_t u = 0;
            for (int j = 7; j >= 0; j--) u = u << 8 | b[j];
            double v;
            memcpy(&v, &u, 8);
            out->data[i] = (float)v;
            break;
        }
        case K_U8:
            out->data[i] = (float)b[0];
            break;
        case K_BOOL:
            out->data[i] = b[0] ? 1.0f : 0.0f;
            break;
        }
    }
    return SN_OK;
}

sn_code sn_npy_read(const char *path, sn_npy *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t size = 0;
    if (sn_read_file(path, &buf, &size, st)) return st->code;
    sn_npy_parse(path, buf, size, out, st);
    free(buf);
    if (st->code) sn_npy_free(out);
    return st->code;
}

void sn_npy_free(sn_npy *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

sn_code sn_npy_serialize(const float *data, int rank, const int64_t *shape, unsigned char **out,
                         size_t *size, sn_status *st) {
    *out = NULL;
    *size = 0;
    if (rank < 0 || rank > SN_NPY_MAX_RANK)
        return sn_fail(st, SN_ERR_RUNTIME, "npy: rank %d is not supported", rank);
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    int64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)shape[i],
                      i + 1 < rank ? " " : "");
        numel *= shape[i];
    }
    if (rank > 1) n--; /* (3, 4) rather than (3, 4,); a single entry keeps its comma */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* preamble + header padded with spaces and ended by '\n' to a multiple of 64 bytes */
    size_t pre = 10, hlen = (size_t)n + 1;
    size_t total = (pre + hlen + 63) / 64 * 64;
    size_t bytes = (size_t)numel * 4;
    unsigned char *b = malloc(total + bytes);
    if (!b) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    memcpy(b, MAGIC, 6);
    b[6] = 1;
    b[7] = 0;
    size_t h = total - pre;
    b[8] = (unsigned char)(h & 0xff);
    b[9] = (unsigned char)(h >> 8);
    memcpy(b + pre, dict, (size_t)n);
    memset(b + pre + n, ' ', h - (size_t)n - 1);
    b[total - 1] = '\n';
    for (int64_t i = 0; i < numel; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        unsigned char *e = b + total + (size_t)i * 4;
        e[0] = (unsigned char)u;
        e[1] = (unsigned char)(u >> 8);
        e[2] = (unsigned char)(u >> 16);
        e[3] = (unsigned char)(u >> 24);
    }
    *out = b;
    *size = total + bytes;
    return SN_OK;
}

sn_code sn_npy_write(const char *path, const float *data, int rank, const int64_t *shape,
                     sn_status *st) {
    unsigned char *b;
    size_t size;
    if (sn_npy_serialize(data, rank, shape, &b, &size, st)) return st->code;
    sn_write_file_atomic(path, b, size, st);
    free(b);
    return st->code;
}
