/* Test tool: a deterministic CIFAR-10 binary data set of noise images.
 *
 *   make_cifar DIR N [SEED]
 *
 * writes DIR/data_batch_1.bin and DIR/test_batch.bin, N records each (label byte i % 10,
 * then 3072 pixel bytes from a xorshift generator seeded with SEED, the test split with
 * SEED + 1). Unlike real digits on a constant background, noise images have no region
 * where every pixel is equal, so small rounding differences between two equivalent
 * computations (one process or several) do not flip a whole region of ReLUs at once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int write_split(const char *dir, const char *name, long n, uint64_t seed) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (long i = 0; i < n; i++) {
        unsigned char rec[3073];
        rec[0] = (unsigned char)(i % 10);
        for (int k = 1; k < 3073; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rec[k] = (unsigned char)(x >> 56);
        }
        if (fwrite(rec, 1, sizeof rec, f) != sizeof rec) {
            perror(path);
            fclose(f);
            return 1;
        }
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: make_cifar DIR N [SEED]\n");
        return 2;
    }
    long n = strtol(argv[2], NULL, 10);
    uint64_t seed = argc == 4 ? strtoull(argv[3], NULL, 10) : 1;
    if (n < 1) return 2;
    return write_split(argv[1], "data_batch_1.bin", n, seed) ||
           write_split(argv[1], "test_batch.bin", n, seed + 1);
}
