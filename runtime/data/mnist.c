/* MNIST IDX files. See dataset.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/util.h"
#include "dataset.h"

#define IDX_IMAGES 0x00000803u
#define IDX_LABELS 0x00000801u

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int is_regular(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Looks for "<prefix>-<kind>-idxN-ubyte" or "<prefix>-<kind>.idxN-ubyte" in dir. */
static int find_idx(const char *dir, const char *prefix, const char *kind, int dims, char *out,
                    size_t n) {
    char name[96];
    snprintf(name, sizeof name, "%s-%s-idx%d-ubyte", prefix, kind, dims);
    sn_path_join(out, n, dir, name);
    if (is_regular(out)) return 1;
    snprintf(name, sizeof name, "%s-%s.idx%d-ubyte", prefix, kind, dims);
    sn_path_join(out, n, dir, name);
    return is_regular(out);
}

static sn_code not_found(const char *dir, const char *prefix, const char *kind, int dims,
                         sn_split split, sn_status *st) {
    char gz[1200], name[96];
    const char *hint = "";
    snprintf(name, sizeof name, "%s-%s-idx%d-ubyte.gz", prefix, kind, dims);
    sn_path_join(gz, sizeof gz, dir, name);
    if (is_regular(gz)) hint = " (a .gz file is there: decompress it with gunzip)";
    return sn_fail(st, SN_ERR_INPUT,
                   "MNIST %s %s not found: looked for %s-%s-idx%d-ubyte and %s-%s.idx%d-ubyte in "
                   "%s and in %s/mnist%s",
                   split == SN_SPLIT_TRAIN ? "training" : "test", kind, prefix, kind, dims, prefix,
                   kind, dims, dir, dir, hint);
}

static const char *magic_hint(uint32_t magic, uint32_t expected, const unsigned char *p) {
    if (p[0] == 0x1f && p[1] == 0x8b) return " (the file is gzip-compressed: decompress it first)";
    if (expected == IDX_IMAGES && magic == IDX_LABELS) return " (this is an IDX label file)";
    if (expected == IDX_LABELS && magic == IDX_IMAGES) return " (this is an IDX image file)";
    return "";
}

static sn_code load_labels(const char *path, uint32_t *count, int32_t **labels, sn_status *st) {
    unsigned char *buf;
    size_t size;
    *labels = NULL;
    if (sn_read_file(path, &buf, &size, st) != SN_OK) return st->code;
    sn_code rc = SN_OK;
    if (size == 0) {
        rc = sn_fail(st, SN_ERR_INPUT, "%s: the file is empty (0 bytes); expected MNIST IDX labels",
                     path);
    } else if (size < 8) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: %zu bytes is too short for the 8-byte IDX label header (truncated at "
                     "offset %zu)",
                     path, size, size);
    } else if (be32(buf) != IDX_LABELS) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: bad magic number at offset 0: found 0x%08x, expected 0x%08x (IDX "
                     "unsigned-byte labels, 1 dimension)%s",
                     path, be32(buf), IDX_LABELS, magic_hint(be32(buf), IDX_LABELS, buf));
    } else {
        uint32_t n = be32(buf + 4);
        if (n == 0) {
            rc = sn_fail(st, SN_ERR_INPUT, "%s: the header (offset 4) says 0 labels", path);
        } else if ((unsigned long long)n + 8 != size) {
            rc = sn_fail(st, SN_ERR_INPUT,
                         "%s: the header (offset 4) says %u labels, but the file has %zu bytes "
                         "after the 8-byte header%s",
                         path, n, size - 8,
                         (unsigned long long)n + 8 > size ? " (truncated)" : " (trailing bytes)");
        } else {
            *labels = sn_calloc(n, sizeof **labels);
            if (!*labels) rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
            for (uint32_t i = 0; rc == SN_OK && i < n; i++) {
                int v = buf[8 + (size_t)i];
                if (v > 9) {
                    rc = sn_fail(st, SN_ERR_INPUT,
                                 "%s: label %d at byte offset %llu (image %u) is out of range 0..9",
                                 path, v, 8ULL + i, i);
                    break;
                }
                (*labels)[i] = v;
            }
            *count = n;
        }
    }
    free(buf);
    if (rc != SN_OK) {
        free(*labels);
        *labels = NULL;
    }
    return rc;
}

/* Reads the image header, checks it against the labels and reads the pixels. */
static sn_code load_images(const char *path, const char *lpath, uint32_t nlabels, sn_dataset *out,
                           sn_status *st) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return sn_fail(st, SN_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    unsigned char h[16];
    sn_code rc = SN_OK;
    unsigned long long size = 0;
    if (fstat(fileno(fp), &sb) != 0) {
        rc = sn_fail(st, SN_ERR_INPUT, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    size = (unsigned long long)sb.st_size;
    if (size == 0) {
        rc = sn_fail(st, SN_ERR_INPUT, "%s: the file is empty (0 bytes); expected MNIST IDX images",
                     path);
        goto done;
    }
    if (size < 16) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: %llu bytes is too short for the 16-byte IDX image header (truncated at "
                     "offset %llu)",
                     path, size, size);
        goto done;
    }
    if (fread(h, 1, 16, fp) != 16) {
        rc = sn_fail(st, SN_ERR_INPUT, "%s: read error in the header", path);
        goto done;
    }
    uint32_t magic = be32(h), n = be32(h + 4), rows = be32(h + 8), cols = be32(h + 12);
    if (magic != IDX_IMAGES) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: bad magic number at offset 0: found 0x%08x, expected 0x%08x (IDX "
                     "unsigned-byte images, 3 dimensions)%s",
                     path, magic, IDX_IMAGES, magic_hint(magic, IDX_IMAGES, h));
        goto done;
    }
    if (n == 0 || rows == 0 || cols == 0) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: the header (offsets 4, 8, 12) says %u images of %ux%u: nothing to load",
                     path, n, rows, cols);
        goto done;
    }
    unsigned long long per = (unsigned long long)rows * cols;
    unsigned long long body = size - 16;
    if (per > body / n || per * n != body || rows > INT_MAX || cols > INT_MAX) {
        int overflow = per > ULLONG_MAX / n;
        char need[64];
        if (overflow)
            snprintf(need, sizeof need, "more than 2^64");
        else
            snprintf(need, sizeof need, "%llu", per * n);
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: the header (offsets 4, 8, 12) says %u images of %ux%u = %s pixel bytes "
                     "after the 16-byte header, but the file has %llu bytes after it%s",
                     path, n, rows, cols, need, body,
                     !overflow && per * n > body ? " (truncated)" : "");
        goto done;
    }
    if (n != nlabels) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "MNIST image/label count mismatch: %s has %u images but %s has %u labels",
                     path, n, lpath, nlabels);
        goto done;
    }
    if (body > SIZE_MAX) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: too large for this machine", path);
        goto done;
    }
    out->pixels = malloc((size_t)body);
    if (!out->pixels) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory for %llu bytes of pixels", path, body);
        goto done;
    }
    size_t got = fread(out->pixels, 1, (size_t)body, fp);
    if (got != body) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: read error at offset %llu (the file is shorter than the %llu bytes it "
                     "had when the load started)",
                     path, 16ULL + got, size);
        goto done;
    }
    out->n = n;
    out->c = 1;
    out->h = (int)rows;
    out->w = (int)cols;
done:
    fclose(fp);
    return rc;
}

sn_code sn_mnist_load(const char *path, sn_split split, sn_dataset *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    if (!path || !*path) return sn_fail(st, SN_ERR_INPUT, "MNIST: no data path given");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sn_fail(st, SN_ERR_INPUT, "%s: cannot open MNIST data: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: MNIST needs the directory holding the IDX files, not a file", path);
    const char *prefix = split == SN_SPLIT_TRAIN ? "train" : "t10k";
    char dir[1100], ipath[1200], lpath[1200];
    sn_strlcpy(dir, path, sizeof dir);
    int hi = find_idx(dir, prefix, "images", 3, ipath, sizeof ipath);
    int hl = find_idx(dir, prefix, "labels", 1, lpath, sizeof lpath);
    if (!hi && !hl) {
        char alt[1100];
        sn_path_join(alt, sizeof alt, path, "mnist");
        char ip2[1200], lp2[1200];
        int hi2 = find_idx(alt, prefix, "images", 3, ip2, sizeof ip2);
        int hl2 = find_idx(alt, prefix, "labels", 1, lp2, sizeof lp2);
        if (hi2 || hl2) {
            sn_strlcpy(dir, alt, sizeof dir);
            hi = hi2;
            hl = hl2;
            memcpy(ipath, ip2, sizeof ipath);
            memcpy(lpath, lp2, sizeof lpath);
        }
    }
    if (!hi) return not_found(path, prefix, "images", 3, split, st);
    if (!hl) return not_found(path, prefix, "labels", 1, split, st);
    sn_strlcpy(out->source, dir, sizeof out->source);

    uint32_t nlabels = 0;
    if (load_labels(lpath, &nlabels, &out->labels, st) != SN_OK) return st->code;
    if (load_images(ipath, lpath, nlabels, out, st) != SN_OK) {
        sn_dataset_free(out);
        return st->code;
    }
    out->num_classes = 10;
    return SN_OK;
}
