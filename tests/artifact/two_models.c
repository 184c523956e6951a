/* Two artifacts in one program (tests/cli/test_artifact.sh): LeNet and the LIF network,
 * both static or both shared, each with its own context, results as when linked alone
 * (the scores are written to the files named on the command line, for comparison). */
#include <stdio.h>
#include <stdlib.h>

#include "lenet_mnist.h"
#include "lif_fc_mnist.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: two_models LENET_OUT LIF_OUT\n");
        return 2;
    }
    static float xl[lenet_mnist_INPUT_FLOATS], yl[lenet_mnist_OUTPUT_FLOATS];
    static float xf[lif_fc_mnist_INPUT_FLOATS], yf[lif_fc_mnist_OUTPUT_FLOATS];
    for (int i = 0; i < lenet_mnist_INPUT_FLOATS; i++) xl[i] = (float)(i % 97) / 97.0f;
    for (int i = 0; i < lif_fc_mnist_INPUT_FLOATS; i++) xf[i] = (float)(i % 89) / 89.0f;
    char err[512];
    lenet_mnist_ctx *a;
    lif_fc_mnist_ctx *b;
    if (lenet_mnist_create(&a, NULL, err, sizeof err) ||
        lif_fc_mnist_create(&b, NULL, err, sizeof err)) {
        fprintf(stderr, "two_models: %s\n", err);
        return 1;
    }
    if (lenet_mnist_run(a, xl, lenet_mnist_INPUT_FLOATS, yl, lenet_mnist_OUTPUT_FLOATS) ||
        lif_fc_mnist_run(b, xf, lif_fc_mnist_INPUT_FLOATS, yf, lif_fc_mnist_OUTPUT_FLOATS)) {
        fprintf(stderr, "two_models: %s %s\n", lenet_mnist_error(a), lif_fc_mnist_error(b));
        return 1;
    }
    FILE *f1 = fopen(argv[1], "wb"), *f2 = fopen(argv[2], "wb");
    if (!f1 || !f2 || fwrite(yl, sizeof yl, 1, f1) != 1 || fwrite(yf, sizeof yf, 1, f2) != 1)
        return 1;
    fclose(f1);
    fclose(f2);
    printf("two_models: %s (%s) and %s (%s) ran\n", "lenet_mnist", lenet_mnist_variant(a),
           "lif_fc_mnist", lif_fc_mnist_variant(b));
    lenet_mnist_free(a);
    lif_fc_mnist_free(b);
    return 0;
}
