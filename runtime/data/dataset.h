/* Image-classification datasets in their standard on-disk formats.
 *
 * CIFAR-10 binary: records of 1 label byte (0..9) + 3072 pixel bytes (1024 R, 1024 G,
 *   1024 B, row-major 32x32); train = data_batch_1.bin .. data_batch_5.bin (those that
 *   exist, in order, at least one), test = test_batch.bin.
 * CIFAR-100 binary: records of 1 coarse + 1 fine label byte + 3072 pixel bytes; train.bin /
 *   test.bin; the fine label (0..99) is used.
 * MNIST IDX: big-endian; images magic 0x00000803 [count, rows, cols] uint8, labels magic
 *   0x00000801 [count] uint8 (0..9); train-images-idx3-ubyte + train-labels-idx1-ubyte,
 *   t10k-images-idx3-ubyte + t10k-labels-idx1-ubyte (the ".idx3-ubyte" spelling is
 *   accepted too).
 *
 * Any whole number of records loads. A truncated file, a bad magic number, inconsistent
 * dimensions or counts, or an out-of-range label is an SN_ERR_INPUT naming the file and
 * the byte offset. */
#ifndef SN_DATASET_H
#define SN_DATASET_H

#include <stdint.h>

#include "../core/status.h"

typedef enum sn_data_format {
    SN_FMT_CIFAR10 = 0,
    SN_FMT_CIFAR100,
    SN_FMT_MNIST,
} sn_data_format;

typedef enum sn_split { SN_SPLIT_TRAIN = 0, SN_SPLIT_TEST } sn_split;

typedef struct sn_dataset {
    int64_t n;         /* images */
    int c, h, w;       /* per image, CHW */
    int num_classes;   /* 10 or 100 */
    uint8_t *pixels;   /* n * c*h*w bytes, each image CHW */
    int32_t *labels;   /* n */
    char source[1024]; /* directory or file it came from, for messages */
} sn_dataset;

/* `path` is the directory holding the files (or, for CIFAR, one .bin file). */
sn_code sn_dataset_load(sn_data_format fmt, const char *path, sn_split split, sn_dataset *out,
                        sn_status *st);
void sn_dataset_free(sn_dataset *ds);

/* Keeps only the first n images (n <= ds->n). */
void sn_dataset_truncate(sn_dataset *ds, int64_t n);

/* Moves the last n images of ds (0 < n < ds->n) into a new dataset `tail` (a copy; ds keeps
 * its first ds->n - n images): a held-out split of the training images. */
sn_code sn_dataset_split_tail(sn_dataset *ds, int64_t n, sn_dataset *tail, sn_status *st);

/* "CIFAR-10", "CIFAR-100", "MNIST". */
const char *sn_data_format_name(sn_data_format fmt);

/* The loaders behind sn_dataset_load (num_classes 10 or 100 for CIFAR). When `path` is a
 * directory without the expected files, its subdirectory named as in the official
 * archives ("cifar-10-batches-bin", "cifar-100-binary", "mnist") is tried too. */
sn_code sn_cifar_load(int num_classes, const char *path, sn_split split, sn_dataset *out,
                      sn_status *st);
sn_code sn_mnist_load(const char *path, sn_split split, sn_dataset *out, sn_status *st);

#endif
