#define _POSIX_C_SOURCE 200809L
#include "weights_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"

#define MAX_HEADER   (100ull * 1024 * 1024)
#define MAX_PROBLEMS 12

static int shape_matches(const sn_json *a, const sn_shape *s) {
    if (!a || a->type != SN_JSON_ARRAY || a->count != s->rank) return 0;
    for (int i = 0; i < s->rank; i++)
        if (a->items[i].type != SN_JSON_NUMBER || !a->items[i].is_int ||
            a->items[i].integer != s->d[i])
            return 0;
    return 1;
}

static void shape_text(const sn_json *a, char *out, size_t n) {
    size_t l = 0;
    l += (size_t)snprintf(out, n, "[");
    for (int i = 0; a && a->type == SN_JSON_ARRAY && i < a->count && l < n; i++)
        l += (size_t)snprintf(out + l, n - l, "%s%lld", i ? ", " : "",
                              (long long)a->items[i].integer);
    if (l < n) snprintf(out + l, n - l, "]");
}

sn_code snrt_weights_file_read(const snrt_desc *d, const char *path, unsigned char *dst,
                               sn_status *st) {
    FILE *f = fopen(path, "rb");
    if (!f) return sn_fail(st, SN_ERR_INPUT, "weights file %s: %s", path, strerror(errno));
    sn_json root;
    memset(&root, 0, sizeof root);
    char *header = NULL;
    unsigned char len8[8];
    long long fsize = -1;
    if (fseek(f, 0, SEEK_END) == 0) fsize = ftell(f);
    if (fsize < 0 || fseek(f, 0, SEEK_SET) != 0) {
        sn_fail(st, SN_ERR_INPUT, "weights file %s: cannot determine its size", path);
        goto done;
    }
    if (fsize < 8 || fread(len8, 1, 8, f) != 8) {
        sn_fail(st, SN_ERR_INPUT, "weights file %s: %lld bytes is too short for a safetensors file",
                path, fsize);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen < 2 || hlen > MAX_HEADER || hlen > (uint64_t)fsize - 8) {
        sn_fail(st, SN_ERR_INPUT,
                "weights file %s: header length %llu does not fit the %lld-byte file (not a "
                "safetensors file, or truncated)",
                path, (unsigned long long)hlen, fsize);
        goto done;
    }
    header = malloc((size_t)hlen);
    if (!header) {
        sn_fail(st, SN_ERR_RUNTIME, "weights file %s: out of memory for the header", path);
        goto done;
    }
    if (fread(header, 1, (size_t)hlen, f) != (size_t)hlen) {
        sn_fail(st, SN_ERR_INPUT, "weights file %s: truncated header", path);
        goto done;
    }
    if (sn_json_parse_at(path, header, (size_t)hlen, 8, &root, st)) goto done;
    if (root.type != SN_JSON_OBJECT) {
        sn_fail(st, SN_ERR_INPUT, "weights file %s: the header is not a JSON object", path);
        goto done;
    }
    uint64_t data0 = 8 + hlen, avail = (uint64_t)fsize - data0;
    int problems = 0;
    /* check everything first, so a bad file reports every problem and writes nothing */
    for (int pass = 0; pass < 2 && problems == 0; pass++)
        for (int i = 0; i < d->nweights; i++) {
            snrt_weight_desc w;
            snrt_desc_weight(d, i, &w);
            const sn_json *e = sn_json_get(&root, w.name);
            const sn_json *dt = e ? sn_json_get(e, "dtype") : NULL;
            const sn_json *sh = e ? sn_json_get(e, "shape") : NULL;
            const sn_json *off = e ? sn_json_get(e, "data_offsets") : NULL;
            char want[96], got[96];
            sn_shape_str(&w.shape, want, sizeof want);
            const char *problem = NULL;
            char msg[512];
            uint64_t b = 0, en = 0;
            if (!e || e->type != SN_JSON_OBJECT) {
                problem = "missing";
            } else if (!dt || dt->type != SN_JSON_STRING ||
                       strcmp(dt->string, sn_dtype_name(w.dtype)) != 0) {
                snprintf(msg, sizeof msg, "dtype %s, but the model needs %s",
                         dt && dt->type == SN_JSON_STRING ? dt->string : "?",
                         sn_dtype_name(w.dtype));
                problem = msg;
            } else if (!shape_matches(sh, &w.shape)) {
                shape_text(sh, got, sizeof got);
                snprintf(msg, sizeof msg, "shape %s, but the model needs %s", got, want);
                problem = msg;
            } else if (!off || off->type != SN_JSON_ARRAY || off->count != 2 ||
                       off->items[0].type != SN_JSON_NUMBER || !off->items[0].is_int ||
                       off->items[1].type != SN_JSON_NUMBER || !off->items[1].is_int ||
                       off->items[0].integer < 0 || off->items[1].integer < off->items[0].integer) {
                problem = "bad data_offsets";
            } else {
                b = (uint64_t)off->items[0].integer;
                en = (uint64_t)off->items[1].integer;
                if (en - b != w.nbytes) {
                    problem = "data_offsets disagree with its shape";
                } else if (en > avail) {
                    snprintf(msg, sizeof msg,
                             "its data ends at byte %llu, past the end of the file (%lld bytes): "
                             "the file is truncated",
                             (unsigned long long)(data0 + en), fsize);
                    problem = msg;
                }
            }
            if (problem) {
                if (problems == 0)
                    sn_fail(st, SN_ERR_INPUT, "weights file %s does not fit model %s:", path,
                            d->name);
                if (problems < MAX_PROBLEMS)
                    sn_status_append(st, "\n  tensor %s: %s", w.name, problem);
                problems++;
                continue;
            }
            if (pass == 1) {
                if (fseek(f, (long)(data0 + b), SEEK_SET) != 0 ||
                    fread(dst + w.offset, 1, (size_t)w.nbytes, f) != (size_t)w.nbytes) {
                    sn_fail(st, SN_ERR_INPUT, "weights file %s: cannot read tensor %s (%s)", path,
                            w.name, ferror(f) ? strerror(errno) : "unexpected end");
                    goto done;
                }
            }
        }
    if (problems > MAX_PROBLEMS) sn_status_append(st, "\n  ... %d problems in all", problems);
done:
    sn_json_free(&root);
    free(header);
    fclose(f);
    return st->code;
}
