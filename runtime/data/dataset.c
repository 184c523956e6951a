/* Dataset dispatch and ownership. The format readers are in cifar.c and mnist.c. */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

const char *sn_data_format_name(sn_data_format fmt) {
    switch (fmt) {
    case SN_FMT_CIFAR10:
        return "CIFAR-10";
    case SN_FMT_CIFAR100:
        return "CIFAR-100";
    case SN_FMT_MNIST:
        return "MNIST";
    }
    return "?";
}

sn_code sn_dataset_load(sn_data_format fmt, const char *path, sn_split split, sn_dataset *out,
                        sn_status *st) {
    memset(out, 0, sizeof *out);
    if (split != SN_SPLIT_TRAIN && split != SN_SPLIT_TEST)
        return sn_fail(st, SN_ERR_INPUT, "unknown data split %d", (int)split);
    switch (fmt) {
    case SN_FMT_CIFAR10:
        return sn_cifar_load(10, path, split, out, st);
    case SN_FMT_CIFAR100:
        return sn_cifar_load(100, path, split, out, st);
    case SN_FMT_MNIST:
        return sn_mnist_load(path, split, out, st);
    }
    return sn_fail(st, SN_ERR_INPUT, "unknown data format %d", (int)fmt);
}

void sn_dataset_free(sn_dataset *ds) {
    if (!ds) return;
    free(ds->pixels);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

void sn_dataset_truncate(sn_dataset *ds, int64_t n) {
    if (!ds || n < 0 || n >= ds->n) return;
    ds->n = n;
}

sn_code sn_dataset_split_tail(sn_dataset *ds, int64_t n, sn_dataset *tail, sn_status *st) {
    memset(tail, 0, sizeof *tail);
    if (n <= 0 || n >= ds->n)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: cannot hold out %lld of %lld images (leave at least one to train on)",
                       ds->source, (long long)n, (long long)ds->n);
    size_t img = (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    int64_t keep = ds->n - n;
    tail->pixels = malloc((size_t)n * img);
    tail->labels = malloc((size_t)n * sizeof(int32_t));
    if (!tail->pixels || !tail->labels) {
        sn_dataset_free(tail);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory holding out %lld images", (long long)n);
    }
    memcpy(tail->pixels, ds->pixels + (size_t)keep * img, (size_t)n * img);
    memcpy(tail->labels, ds->labels + keep, (size_t)n * sizeof(int32_t));
    tail->n = n;
    tail->c = ds->c;
    tail->h = ds->h;
    tail->w = ds->w;
    tail->num_classes = ds->num_classes;
    sn_fmt(tail->source, sizeof tail->source, "%s (training images %lld-%lld held out)", ds->source,
           (long long)keep + 1, (long long)ds->n);
    ds->n = keep;
    return SN_OK;
}
