/* CIFAR-10 / CIFAR-100 binary version. See dataset.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/util.h"
#include "dataset.h"

#define CIFAR_SIDE   32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)
#define MAX_FILES    5
#define CHUNK        256 /* records read per fread */

typedef struct cifar_file {
    char path[1100];
    unsigned long long size;
} cifar_file;

static int is_regular(const char *path, unsigned long long *size) {
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    if (size) *size = (unsigned long long)sb.st_size;
    return 1;
}

/* Finds the split's files in dir; returns how many exist. */
static int find_files(const char *dir, int classes, sn_split split, cifar_file *files) {
    int nf = 0;
    char name[64];
    if (classes == 10 && split == SN_SPLIT_TRAIN) {
        for (int i = 1; i <= MAX_FILES; i++) {
            snprintf(name, sizeof name, "data_batch_%d.bin", i);
            sn_path_join(files[nf].path, sizeof files[nf].path, dir, name);
            if (is_regular(files[nf].path, &files[nf].size)) nf++;
        }
        return nf;
    }
    const char *only = classes == 10             ? "test_batch.bin"
                       : split == SN_SPLIT_TRAIN ? "train.bin"
                                                 : "test.bin";
    sn_path_join(files[0].path, sizeof files[0].path, dir, only);
    return is_regular(files[0].path, &files[0].size) ? 1 : 0;
}

static sn_code not_found(int classes, const char *dir, const char *sub, sn_split split,
                         sn_status *st) {
    const char *what = classes == 10 ? "CIFAR-10" : "CIFAR-100";
    const char *kind = split == SN_SPLIT_TRAIN ? "training" : "test";
    const char *names =
        classes == 10
            ? (split == SN_SPLIT_TRAIN ? "data_batch_1.bin .. data_batch_5.bin" : "test_batch.bin")
            : (split == SN_SPLIT_TRAIN ? "train.bin" : "test.bin");
    char probe[1100];
    const char *hint = "";
    if (classes == 10) {
        /* The python-pickle distribution has the same names without ".bin". */
        sn_path_join(probe, sizeof probe, dir,
                     split == SN_SPLIT_TRAIN ? "data_batch_1" : "test_batch");
        if (is_regular(probe, NULL))
            hint = " (found files of the CIFAR-10 python version; snnc reads the binary version, "
                   "cifar-10-binary.tar.gz)";
    }
    return sn_fail(st, SN_ERR_INPUT, "%s %s data not found: looked for %s in %s and in %s/%s%s",
                   what, kind, names, dir, dir, sub, hint);
}

static sn_code check_size(const cifar_file *f, int classes, size_t rec, sn_status *st) {
    if (f->size == 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the file is empty (0 bytes); expected %zu-byte %s records", f->path,
                       rec, classes == 10 ? "CIFAR-10" : "CIFAR-100");
    if (f->size % rec != 0) {
        unsigned long long last = f->size / rec * rec;
        size_t other = classes == 10 ? 3074 : 3073;
        const char *hint = "";
        if (f->size % other == 0)
            hint = classes == 10 ? " (the size fits CIFAR-100 records: is this a CIFAR-100 file?)"
                                 : " (the size fits CIFAR-10 records: is this a CIFAR-10 file?)";
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: %llu bytes is not a whole number of %zu-byte records: the last "
                       "record, at offset %llu, is truncated%s",
                       f->path, f->size, rec, last, hint);
    }
    return SN_OK;
}

/* Reads one file's records into pixels/labels (which have room for them). */
static sn_code read_file(const cifar_file *f, int classes, size_t rec, uint8_t *pixels,
                         int32_t *labels, sn_status *st) {
    FILE *fp = fopen(f->path, "rb");
    if (!fp) return sn_fail(st, SN_ERR_INPUT, "%s: cannot open: %s", f->path, strerror(errno));
    unsigned char *buf = malloc(rec * CHUNK);
    if (!buf) {
        fclose(fp);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", f->path);
    }
    unsigned long long nrec = f->size / rec, done = 0;
    sn_code rc = SN_OK;
    while (done < nrec && rc == SN_OK) {
        size_t k = (size_t)SN_MIN((unsigned long long)CHUNK, nrec - done);
        size_t got = fread(buf, rec, k, fp);
        if (got != k) {
            rc = sn_fail(st, SN_ERR_INPUT,
                         "%s: read error at offset %llu (the file is shorter than the %llu bytes "
                         "it had when the load started)",
                         f->path, (done + got) * rec, f->size);
            break;
        }
        for (size_t i = 0; i < k; i++) {
            const unsigned char *r = buf + i * rec;
            unsigned long long idx = done + i, off = idx * rec;
            if (classes == 100 && r[0] > 19) {
                rc = sn_fail(st, SN_ERR_INPUT,
                             "%s: record %llu (byte offset %llu): coarse label %d is out of "
                             "range 0..19",
                             f->path, idx, off, r[0]);
                break;
            }
            int lab = classes == 100 ? r[1] : r[0];
            if (lab >= classes) {
                rc = sn_fail(st, SN_ERR_INPUT,
                             "%s: record %llu (byte offset %llu): %slabel %d is out of range 0..%d",
                             f->path, idx, classes == 100 ? off + 1 : off,
                             classes == 100 ? "fine " : "", lab, classes - 1);
                break;
            }
            labels[idx] = lab;
            memcpy(pixels + idx * CIFAR_PIXELS, r + (rec - CIFAR_PIXELS), CIFAR_PIXELS);
        }
        done += k;
    }
    free(buf);
    fclose(fp);
    return rc;
}

sn_code sn_cifar_load(int classes, const char *path, sn_split split, sn_dataset *out,
                      sn_status *st) {
    memset(out, 0, sizeof *out);
    if (classes != 10 && classes != 100)
        return sn_fail(st, SN_ERR_INPUT, "CIFAR has 10 or 100 classes, not %d", classes);
    if (!path || !*path) return sn_fail(st, SN_ERR_INPUT, "CIFAR-%d: no data path given", classes);
    sn_strlcpy(out->source, path, sizeof out->source);
    const size_t rec = classes == 10 ? 3073 : 3074;
    const char *sub = classes == 10 ? "cifar-10-batches-bin" : "cifar-100-binary";

    cifar_file files[MAX_FILES];
    int nf = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sn_fail(st, SN_ERR_INPUT, "%s: cannot open CIFAR-%d data: %s", path, classes,
                       strerror(errno));
    if (S_ISREG(sb.st_mode)) {
        sn_strlcpy(files[0].path, path, sizeof files[0].path);
        files[0].size = (unsigned long long)sb.st_size;
        nf = 1;
    } else if (S_ISDIR(sb.st_mode)) {
        nf = find_files(path, classes, split, files);
        if (nf == 0) {
            char alt[1100];
            sn_path_join(alt, sizeof alt, path, sub);
            nf = find_files(alt, classes, split, files);
            if (nf > 0) sn_strlcpy(out->source, alt, sizeof out->source);
        }
        if (nf == 0) return not_found(classes, path, sub, split, st);
    } else {
        return sn_fail(st, SN_ERR_INPUT, "%s: not a file or directory", path);
    }

    unsigned long long total = 0;
    for (int i = 0; i < nf; i++) {
        if (check_size(&files[i], classes, rec, st) != SN_OK) return st->code;
        total += files[i].size / rec;
    }
    if (total > (unsigned long long)(SIZE_MAX / CIFAR_PIXELS))
        return sn_fail(st, SN_ERR_RUNTIME, "%s: too many records (%llu)", path, total);
    out->pixels = malloc((size_t)total * CIFAR_PIXELS);
    out->labels = sn_calloc((size_t)total, sizeof *out->labels);
    if (!out->pixels || !out->labels) {
        sn_dataset_free(out);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory for %llu CIFAR images", path, total);
    }
    unsigned long long at = 0;
    for (int i = 0; i < nf; i++) {
        if (read_file(&files[i], classes, rec, out->pixels + at * CIFAR_PIXELS, out->labels + at,
                      st) != SN_OK) {
            sn_dataset_free(out);
            return st->code;
        }
        at += files[i].size / rec;
    }
    out->n = (int64_t)total;
    out->c = 3;
    out->h = CIFAR_SIDE;
    out->w = CIFAR_SIDE;
    out->num_classes = classes;
    return SN_OK;
}
