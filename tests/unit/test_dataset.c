/* Dataset loaders: exact values from small generated files, every error case, and (when
 * /work/shared/data is present) the real CIFAR-10 and MNIST subsets. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "runtime/core/util.h"
#include "runtime/data/dataset.h"

#define REC10  3073
#define REC100 3074

static char g_path[1200];

/* tmpdir/rel; the directories on the way are created. */
static const char *tpath(const char *rel) {
    snprintf(g_path, sizeof g_path, "%s/%s", sn_test_tmpdir(), rel);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", g_path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        sn_status st;
        sn_status_init(&st);
        sn_mkdirs(dir, &st);
    }
    return g_path;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (!f) return;
    if (n) CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static uint8_t pix(int image, int k) {
    return (uint8_t)((image * 31 + k * 7 + (k >> 10)) & 255);
}

/* n CIFAR records with labels[i] (and coarse labels for CIFAR-100); image ids from id0. */
static unsigned char *make_cifar(int classes, int n, const int *labels, const int *coarse, int id0,
                                 size_t *size) {
    size_t rec = classes == 10 ? REC10 : REC100;
    unsigned char *b = calloc(rec * (size_t)n + 16, 1); /* + room for extra bytes */
    for (int i = 0; i < n; i++) {
        unsigned char *r = b + rec * (size_t)i;
        if (classes == 100) {
            r[0] = (unsigned char)coarse[i];
            r[1] = (unsigned char)labels[i];
        } else {
            r[0] = (unsigned char)labels[i];
        }
        for (int k = 0; k < 3072; k++) r[rec - 3072 + (size_t)k] = pix(id0 + i, k);
    }
    *size = rec * (size_t)n;
    return b;
}

static void write_cifar(const char *path, int classes, int n, const int *labels, const int *coarse,
                        int id0) {
    size_t size;
    unsigned char *b = make_cifar(classes, n, labels, coarse, id0, &size);
    write_bytes(path, b, size);
    free(b);
}

static int check_image(const sn_dataset *ds, int64_t i, int id) {
    const uint8_t *p = ds->pixels + (size_t)i * 3072;
    for (int k = 0; k < 3072; k++)
        if (p[k] != pix(id, k)) return 0;
    return 1;
}

/* Loads expecting an SN_ERR_INPUT whose message holds sub1 and sub2 (if given). */
static void expect_load_err(sn_data_format fmt, const char *path, sn_split split, const char *sub1,
                            const char *sub2) {
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    sn_code c = sn_dataset_load(fmt, path, split, &ds, &st);
    CHECK_MSG(c == SN_ERR_INPUT, "expected an error loading %s", path);
    CHECK(ds.pixels == NULL && ds.labels == NULL && ds.n == 0);
    if (sub1) CHECK_CONTAINS(st.msg, sub1);
    if (sub2) CHECK_CONTAINS(st.msg, sub2);
    sn_dataset_free(&ds);
}

static const int L1[7] = {3, 0, 9, 1, 5, 7, 2};
static const int L2[3] = {4, 8, 6};
static const int L4[2] = {9, 0};
static const int LT[4] = {1, 2, 3, 4};

static void test_cifar10(void) {
    write_cifar(tpath("c10/data_batch_1.bin"), 10, 7, L1, NULL, 0);
    write_cifar(tpath("c10/data_batch_2.bin"), 10, 3, L2, NULL, 100);
    write_cifar(tpath("c10/data_batch_4.bin"), 10, 2, L4, NULL, 200); /* gap: no 3 */
    write_cifar(tpath("c10/test_batch.bin"), 10, 4, LT, NULL, 300);
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    CHECK(sn_dataset_load(SN_FMT_CIFAR10, tpath("c10"), SN_SPLIT_TRAIN, &ds, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(ds.n, 12);
    CHECK(ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.num_classes == 10);
    CHECK_CONTAINS(ds.source, "c10");
    for (int i = 0; i < 12 && ds.n == 12; i++) {
        int lab = i < 7 ? L1[i] : i < 10 ? L2[i - 7] : L4[i - 10];
        int id = i < 7 ? i : i < 10 ? 100 + i - 7 : 200 + i - 10;
        CHECK_EQ_INT(ds.labels[i], lab);
        CHECK_MSG(check_image(&ds, i, id), "image %d", i);
    }
    /* CHW: byte 0 = R(0,0), byte 1024 = G(0,0), byte 2048 = B(0,0) */
    CHECK_EQ_INT(ds.pixels[3072 + 1024], pix(1, 1024));
    /* hold out the last 3 images: a copy of images 9..11, the rest stays */
    sn_dataset tail;
    CHECK(sn_dataset_split_tail(&ds, 3, &tail, &st) == SN_OK);
    CHECK_EQ_INT(ds.n, 9);
    CHECK_EQ_INT(tail.n, 3);
    CHECK(tail.c == 3 && tail.h == 32 && tail.w == 32 && tail.num_classes == 10);
    CHECK_CONTAINS(tail.source, "training images 10-12 held out");
    for (int i = 0; i < 3 && tail.n == 3; i++) {
        CHECK_EQ_INT(tail.labels[i], i < 1 ? L2[2] : L4[i - 1]);
        CHECK_MSG(check_image(&tail, i, i < 1 ? 102 : 200 + i - 1), "held-out image %d", i);
    }
    sn_dataset_free(&tail);
    CHECK(sn_dataset_split_tail(&ds, 9, &tail, &st) == SN_ERR_INPUT); /* nothing left */
    CHECK_CONTAINS(st.msg, "cannot hold out 9 of 9 images");
    CHECK(tail.pixels == NULL && tail.n == 0 && ds.n == 9);
    sn_status_init(&st);
    CHECK(sn_dataset_split_tail(&ds, 0, &tail, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    sn_dataset_truncate(&ds, 5);
    CHECK_EQ_INT(ds.n, 5);
    sn_dataset_truncate(&ds, 50); /* larger: unchanged */
    CHECK_EQ_INT(ds.n, 5);
    sn_dataset_free(&ds);
    CHECK(ds.pixels == NULL && ds.n == 0);

    CHECK(sn_dataset_load(SN_FMT_CIFAR10, tpath("c10"), SN_SPLIT_TEST, &ds, &st) == SN_OK);
    CHECK_EQ_INT(ds.n, 4);
    for (int i = 0; i < 4 && ds.n == 4; i++) {
        CHECK_EQ_INT(ds.labels[i], LT[i]);
        CHECK(check_image(&ds, i, 300 + i));
    }
    sn_dataset_free(&ds);

    /* a single .bin file (the split does not matter) */
    CHECK(sn_dataset_load(SN_FMT_CIFAR10, tpath("c10/data_batch_2.bin"), SN_SPLIT_TEST, &ds, &st) ==
          SN_OK);
    CHECK_EQ_INT(ds.n, 3);
    if (ds.n == 3) CHECK(ds.labels[2] == 6 && check_image(&ds, 2, 102));
    sn_dataset_free(&ds);

    /* the parent directory of cifar-10-batches-bin works too */
    write_cifar(tpath("parent/cifar-10-batches-bin/test_batch.bin"), 10, 4, LT, NULL, 300);
    CHECK(sn_dataset_load(SN_FMT_CIFAR10, tpath("parent"), SN_SPLIT_TEST, &ds, &st) == SN_OK);
    CHECK_EQ_INT(ds.n, 4);
    CHECK_CONTAINS(ds.source, "cifar-10-batches-bin");
    sn_dataset_free(&ds);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_cifar10_errors(void) {
    size_t size;
    char msg[256];
    /* truncated by one byte */
    unsigned char *b = make_cifar(10, 7, L1, NULL, 0, &size);
    write_bytes(tpath("c10t/data_batch_1.bin"), b, size - 1);
    snprintf(msg, sizeof msg,
             "%s: 21510 bytes is not a whole number of 3073-byte records: the "
             "last record, at offset 18438, is truncated",
             tpath("c10t/data_batch_1.bin"));
    expect_load_err(SN_FMT_CIFAR10, tpath("c10t"), SN_SPLIT_TRAIN, msg, NULL);
    /* one extra byte */
    write_bytes(tpath("c10x/test_batch.bin"), b, 3074);
    expect_load_err(SN_FMT_CIFAR10, tpath("c10x"), SN_SPLIT_TEST, "3074 bytes",
                    "at offset 3073, is truncated");
    /* shorter than one record */
    write_bytes(tpath("c10s.bin"), b, 100);
    expect_load_err(SN_FMT_CIFAR10, tpath("c10s.bin"), SN_SPLIT_TEST, "c10s.bin: 100 bytes",
                    "at offset 0, is truncated");
    /* a CIFAR-100 file given as CIFAR-10 gets a hint */
    free(b);
    int lab100[3] = {1, 2, 3}, co[3] = {0, 0, 0};
    b = make_cifar(100, 3, lab100, co, 0, &size);
    write_bytes(tpath("c10h.bin"), b, size);
    expect_load_err(SN_FMT_CIFAR10, tpath("c10h.bin"), SN_SPLIT_TEST, "9222 bytes",
                    "CIFAR-100 file?");
    free(b);
    /* label 10 in record 4 (of the second file) */
    int bad[7] = {3, 0, 9, 1, 10, 7, 2};
    write_cifar(tpath("c10l/data_batch_1.bin"), 10, 2, L1, NULL, 0);
    write_cifar(tpath("c10l/data_batch_2.bin"), 10, 7, bad, NULL, 0);
    snprintf(msg, sizeof msg, "%s: record 4 (byte offset 12292): label 10 is out of range 0..9",
             tpath("c10l/data_batch_2.bin"));
    expect_load_err(SN_FMT_CIFAR10, tpath("c10l"), SN_SPLIT_TRAIN, msg, NULL);
    /* empty file */
    write_bytes(tpath("c10e/data_batch_1.bin"), "", 0);
    expect_load_err(SN_FMT_CIFAR10, tpath("c10e"), SN_SPLIT_TRAIN, "data_batch_1.bin", "empty");
    /* missing files: say what was looked for */
    tpath("c10none/x");
    expect_load_err(SN_FMT_CIFAR10, tpath("c10none"), SN_SPLIT_TRAIN,
                    "data_batch_1.bin .. data_batch_5.bin", "c10none");
    expect_load_err(SN_FMT_CIFAR10, tpath("c10t"), SN_SPLIT_TEST, "test_batch.bin", "c10t");
    expect_load_err(SN_FMT_CIFAR10, tpath("does-not-exist"), SN_SPLIT_TRAIN, "does-not-exist",
                    "cannot open");
    /* python version files */
    write_bytes(tpath("c10py/data_batch_1"), "x", 1);
    expect_load_err(SN_FMT_CIFAR10, tpath("c10py"), SN_SPLIT_TRAIN, "python version", NULL);
}

static void test_cifar100(void) {
    int fine[5] = {0, 99, 42, 7, 63}, coarse[5] = {4, 19, 0, 11, 3};
    write_cifar(tpath("c100/train.bin"), 100, 5, fine, coarse, 50);
    write_cifar(tpath("c100/test.bin"), 100, 2, fine, coarse, 60);
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    CHECK(sn_dataset_load(SN_FMT_CIFAR100, tpath("c100"), SN_SPLIT_TRAIN, &ds, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(ds.n, 5);
    CHECK_EQ_INT(ds.num_classes, 100);
    for (int i = 0; i < 5 && ds.n == 5; i++) {
        CHECK_EQ_INT(ds.labels[i], fine[i]);
        CHECK(check_image(&ds, i, 50 + i));
    }
    sn_dataset_free(&ds);
    CHECK(sn_dataset_load(SN_FMT_CIFAR100, tpath("c100"), SN_SPLIT_TEST, &ds, &st) == SN_OK);
    CHECK_EQ_INT(ds.n, 2);
    sn_dataset_free(&ds);

    int badf[3] = {1, 100, 2}, badc[3] = {0, 0, 20};
    write_cifar(tpath("c100b/train.bin"), 100, 3, badf, coarse, 0);
    expect_load_err(SN_FMT_CIFAR100, tpath("c100b"), SN_SPLIT_TRAIN,
                    "record 1 (byte offset 3075): fine label 100 is out of range 0..99",
                    "c100b/train.bin");
    write_cifar(tpath("c100c/train.bin"), 100, 3, fine, badc, 0);
    expect_load_err(SN_FMT_CIFAR100, tpath("c100c"), SN_SPLIT_TRAIN,
                    "record 2 (byte offset 6148): coarse label 20", NULL);
    expect_load_err(SN_FMT_CIFAR100, tpath("c10"), SN_SPLIT_TRAIN, "train.bin", "cifar-100-binary");
    size_t size;
    unsigned char *b = make_cifar(100, 2, fine, coarse, 0, &size);
    write_bytes(tpath("c100t/test.bin"), b, size + 5);
    free(b);
    expect_load_err(SN_FMT_CIFAR100, tpath("c100t"), SN_SPLIT_TEST,
                    "6153 bytes is not a whole number of 3074-byte records",
                    "at offset 6148, is truncated");
}

/* ---- MNIST ----------------------------------------------------------------------------- */

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint8_t mpix(int i, int k) {
    return (uint8_t)((i * 53 + k * 3) & 255);
}

/* An IDX image file whose header says n x rows x cols, followed by `body` pixel bytes. */
static void write_idx_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows,
                             uint32_t cols, size_t body) {
    unsigned char *b = calloc(16 + body, 1);
    be32(b, magic);
    be32(b + 4, n);
    be32(b + 8, rows);
    be32(b + 12, cols);
    size_t per = (size_t)rows * cols;
    for (size_t i = 0; i < body; i++) b[16 + i] = mpix((int)(i / per), (int)(i % per));
    write_bytes(path, b, 16 + body);
    free(b);
}

static void write_idx_labels(const char *path, uint32_t magic, uint32_t n, const int *labels,
                             int real_n) {
    unsigned char b[64];
    be32(b, magic);
    be32(b + 4, n);
    for (int i = 0; i < real_n; i++) b[8 + i] = (unsigned char)labels[i];
    write_bytes(path, b, 8 + (size_t)real_n);
}

static const int ML[5] = {7, 2, 1, 0, 4};

static void test_mnist(void) {
    write_idx_images(tpath("mn/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("mn/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    /* the ".idx3-ubyte" spelling, and a non-square size */
    write_idx_images(tpath("mn/t10k-images.idx3-ubyte"), 0x803, 3, 4, 6, 3 * 24);
    write_idx_labels(tpath("mn/t10k-labels.idx1-ubyte"), 0x801, 3, ML, 3);
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    CHECK(sn_dataset_load(SN_FMT_MNIST, tpath("mn"), SN_SPLIT_TRAIN, &ds, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(ds.n, 5);
    CHECK(ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.num_classes == 10);
    int bad = 0;
    for (int i = 0; i < 5 && ds.n == 5; i++) {
        CHECK_EQ_INT(ds.labels[i], ML[i]);
        for (int k = 0; k < 784; k++) bad += ds.pixels[i * 784 + k] != mpix(i, k);
    }
    CHECK_EQ_INT(bad, 0);
    sn_dataset_free(&ds);
    CHECK(sn_dataset_load(SN_FMT_MNIST, tpath("mn"), SN_SPLIT_TEST, &ds, &st) == SN_OK);
    CHECK(ds.n == 3 && ds.h == 4 && ds.w == 6);
    if (ds.n == 3) CHECK(ds.labels[2] == 1 && ds.pixels[2 * 24 + 5] == mpix(2, 5));
    sn_dataset_free(&ds);
    /* parent directory holding mnist/ */
    write_idx_images(tpath("mparent/mnist/t10k-images-idx3-ubyte"), 0x803, 3, 4, 6, 3 * 24);
    write_idx_labels(tpath("mparent/mnist/t10k-labels-idx1-ubyte"), 0x801, 3, ML, 3);
    CHECK(sn_dataset_load(SN_FMT_MNIST, tpath("mparent"), SN_SPLIT_TEST, &ds, &st) == SN_OK);
    CHECK_EQ_INT(ds.n, 3);
    sn_dataset_free(&ds);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_mnist_errors(void) {
    char msg[300];
    /* bad magic in the image file */
    write_idx_images(tpath("m1/train-images-idx3-ubyte"), 0x802, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("m1/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    snprintf(msg, sizeof msg,
             "%s: bad magic number at offset 0: found 0x00000802, expected 0x00000803",
             tpath("m1/train-images-idx3-ubyte"));
    expect_load_err(SN_FMT_MNIST, tpath("m1"), SN_SPLIT_TRAIN, msg, NULL);
    /* labels and images swapped */
    write_idx_images(tpath("m2/train-labels-idx1-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("m2/train-images-idx3-ubyte"), 0x801, 5, ML, 5);
    expect_load_err(SN_FMT_MNIST, tpath("m2"), SN_SPLIT_TRAIN,
                    "found 0x00000803, expected 0x00000801", "this is an IDX image file");
    /* image file one byte short: dimensions disagree with the size */
    write_idx_images(tpath("m3/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784 - 1);
    write_idx_labels(tpath("m3/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    snprintf(msg, sizeof msg,
             "%s: the header (offsets 4, 8, 12) says 5 images of 28x28 = 3920 pixel bytes after "
             "the 16-byte header, but the file has 3919 bytes after it (truncated)",
             tpath("m3/train-images-idx3-ubyte"));
    expect_load_err(SN_FMT_MNIST, tpath("m3"), SN_SPLIT_TRAIN, msg, NULL);
    /* huge dimensions do not overflow */
    write_idx_images(tpath("m3b/train-images-idx3-ubyte"), 0x803, 0xffffffffu, 0xffffffffu,
                     0xffffffffu, 784);
    write_idx_labels(tpath("m3b/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    expect_load_err(SN_FMT_MNIST, tpath("m3b"), SN_SPLIT_TRAIN, "more than 2^64", NULL);
    /* label count disagrees with the label file size */
    write_idx_images(tpath("m4/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("m4/train-labels-idx1-ubyte"), 0x801, 6, ML, 5);
    expect_load_err(
        SN_FMT_MNIST, tpath("m4"), SN_SPLIT_TRAIN,
        "train-labels-idx1-ubyte: the header (offset 4) says 6 labels, but the file has "
        "5 bytes after the 8-byte header",
        NULL);
    /* image/label count mismatch between the files */
    write_idx_images(tpath("m5/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("m5/train-labels-idx1-ubyte"), 0x801, 4, ML, 4);
    expect_load_err(SN_FMT_MNIST, tpath("m5"), SN_SPLIT_TRAIN, "has 5 images but",
                    "train-labels-idx1-ubyte has 4 labels");
    /* label out of range */
    int badl[5] = {1, 2, 3, 12, 4};
    write_idx_images(tpath("m6/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_idx_labels(tpath("m6/train-labels-idx1-ubyte"), 0x801, 5, badl, 5);
    expect_load_err(SN_FMT_MNIST, tpath("m6"), SN_SPLIT_TRAIN,
                    "train-labels-idx1-ubyte: label 12 at byte offset 11 (image 3) is out of range",
                    NULL);
    /* empty files */
    write_bytes(tpath("m7/train-images-idx3-ubyte"), "", 0);
    write_idx_labels(tpath("m7/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    expect_load_err(SN_FMT_MNIST, tpath("m7"), SN_SPLIT_TRAIN,
                    "train-images-idx3-ubyte: the file is empty", NULL);
    write_idx_images(tpath("m8/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_bytes(tpath("m8/train-labels-idx1-ubyte"), "", 0);
    expect_load_err(SN_FMT_MNIST, tpath("m8"), SN_SPLIT_TRAIN,
                    "train-labels-idx1-ubyte: the file is empty", NULL);
    /* truncated header */
    write_bytes(tpath("m9/train-images-idx3-ubyte"), "\0\0\x08\x03\0\0", 6);
    write_idx_labels(tpath("m9/train-labels-idx1-ubyte"), 0x801, 5, ML, 5);
    expect_load_err(SN_FMT_MNIST, tpath("m9"), SN_SPLIT_TRAIN, "6 bytes is too short",
                    "truncated at offset 6");
    /* missing files, with the names looked for */
    expect_load_err(SN_FMT_MNIST, tpath("m9"), SN_SPLIT_TEST,
                    "t10k-images-idx3-ubyte and t10k-images.idx3-ubyte", "m9");
    write_idx_images(tpath("m10/train-images-idx3-ubyte"), 0x803, 5, 28, 28, 5 * 784);
    write_bytes(tpath("m10/train-labels-idx1-ubyte.gz"), "\x1f\x8b", 2);
    expect_load_err(SN_FMT_MNIST, tpath("m10"), SN_SPLIT_TRAIN, "train-labels-idx1-ubyte",
                    "gunzip");
    expect_load_err(SN_FMT_MNIST, tpath("mn/train-images-idx3-ubyte"), SN_SPLIT_TRAIN,
                    "needs the directory", NULL);
    expect_load_err(SN_FMT_MNIST, tpath("nope"), SN_SPLIT_TRAIN, "nope", "cannot open");
    /* zero images */
    write_idx_images(tpath("m11/train-images-idx3-ubyte"), 0x803, 0, 28, 28, 0);
    write_idx_labels(tpath("m11/train-labels-idx1-ubyte"), 0x801, 1, ML, 1);
    expect_load_err(SN_FMT_MNIST, tpath("m11"), SN_SPLIT_TRAIN, "nothing to load", NULL);
}

/* ---- the real subsets, when present ------------------------------------------------------ */

#define SHARED SNNC_SOURCE_DIR "/../shared/data"

static void test_real_data(void) {
    struct stat sb;
    if (stat(SHARED, &sb) != 0) {
        fprintf(stderr, "  skipped: %s not present\n", SHARED);
        return;
    }
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    const char *c10 = SHARED "/cifar-10-batches-bin";
    if (sn_dataset_load(SN_FMT_CIFAR10, c10, SN_SPLIT_TRAIN, &ds, &st) == SN_OK) {
        CHECK_EQ_INT(ds.n, 5 * 1017);
        const int first[10] = {6, 9, 9, 4, 1, 1, 2, 7, 8, 3};
        for (int i = 0; i < 10; i++) CHECK_EQ_INT(ds.labels[i], first[i]);
        CHECK(ds.pixels[0] == 59 && ds.pixels[1] == 43 && ds.pixels[2] == 50 && ds.pixels[3] == 68);
        CHECK_EQ_INT(ds.labels[1016], 6);
        CHECK_EQ_INT(ds.labels[1017], 1); /* first record of data_batch_2 */
        const uint8_t *p = ds.pixels + (size_t)1017 * 3072;
        CHECK(p[0] == 35 && p[1024] == 25 && p[2048] == 26);
        sn_dataset_free(&ds);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
    sn_status_init(&st);
    if (sn_dataset_load(SN_FMT_CIFAR10, c10, SN_SPLIT_TEST, &ds, &st) == SN_OK) {
        CHECK_EQ_INT(ds.n, 1017);
        const int first[10] = {3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
        for (int i = 0; i < 10; i++) CHECK_EQ_INT(ds.labels[i], first[i]);
        CHECK(ds.pixels[0] == 158 && ds.pixels[3] == 166);
        sn_dataset_free(&ds);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
    sn_status_init(&st);
    if (sn_dataset_load(SN_FMT_CIFAR10, SHARED "/cifar-10-batches-bin/data_batch_1.bin",
                        SN_SPLIT_TRAIN, &ds, &st) == SN_OK) {
        CHECK_EQ_INT(ds.n, 1017);
        const uint8_t *p = ds.pixels + (size_t)1016 * 3072;
        CHECK(ds.labels[1016] == 6 && p[0] == 89 && p[1] == 99 && p[2] == 84 && p[3] == 64);
        sn_dataset_free(&ds);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
    sn_status_init(&st);
    /* the parent directory: found through mnist/ */
    if (sn_dataset_load(SN_FMT_MNIST, SHARED, SN_SPLIT_TRAIN, &ds, &st) == SN_OK) {
        CHECK_EQ_INT(ds.n, 8000);
        CHECK(ds.c == 1 && ds.h == 28 && ds.w == 28);
        const int first[10] = {8, 0, 2, 0, 0, 0, 9, 6, 4, 1};
        for (int i = 0; i < 10; i++) CHECK_EQ_INT(ds.labels[i], first[i]);
        CHECK_EQ_INT(ds.labels[7999], 6);
        long sum = 0;
        for (int k = 0; k < 784; k++) sum += ds.pixels[k];
        CHECK_EQ_INT(sum, 24984);
        CHECK(ds.pixels[157] == 0 && ds.pixels[158] == 30 && ds.pixels[159] == 77);
        sn_dataset_free(&ds);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
    sn_status_init(&st);
    if (sn_dataset_load(SN_FMT_MNIST, SHARED "/mnist", SN_SPLIT_TEST, &ds, &st) == SN_OK) {
        CHECK_EQ_INT(ds.n, 1000);
        const int first[10] = {9, 8, 7, 4, 2, 6, 9, 9, 4, 5};
        for (int i = 0; i < 10; i++) CHECK_EQ_INT(ds.labels[i], first[i]);
        long sum = 0;
        for (int k = 0; k < 784; k++) sum += ds.pixels[k];
        CHECK_EQ_INT(sum, 26022);
        sn_dataset_free(&ds);
    } else {
        CHECK_MSG(0, "%s", st.msg);
    }
}

static void test_misc(void) {
    sn_status st;
    sn_status_init(&st);
    sn_dataset ds;
    CHECK(sn_dataset_load((sn_data_format)9, "x", SN_SPLIT_TRAIN, &ds, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "unknown data format");
    CHECK(strcmp(sn_data_format_name(SN_FMT_CIFAR100), "CIFAR-100") == 0);
    sn_dataset_free(NULL);
}

int main(void) {
    RUN(test_cifar10);
    RUN(test_cifar10_errors);
    RUN(test_cifar100);
    RUN(test_mnist);
    RUN(test_mnist_errors);
    RUN(test_real_data);
    RUN(test_misc);
    return sn_test_result();
}
