/* Dataset dispatch and ownership. The format readers are in cifar.c and mnist.c. */
#include "dataset.h"

#include <stdlib.h>
#include <string.h>

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
