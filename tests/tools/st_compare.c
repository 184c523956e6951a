/* Test tool: compares two safetensors files tensor by tensor.
 *
 *   st_compare [--weights] [--norm] A.safetensors B.safetensors [TOL]
 *
 * Every tensor of A must be in B with the same shape. Two measures of the difference:
 *   max_rel_diff: per tensor max|a - b| / max|a| (0 when both are zero), the largest over
 *                 the tensors (named);
 *   norm_rel_diff: ||a - b|| / ||a|| over all the compared values together (2-norm).
 * Both are printed. Exit 0 when the first (with --norm: the second) is at most TOL
 * (default 0: bit-identical values), 1 when above, 2 on unreadable or mismatched files.
 * --weights skips the optimizer state (tensors named optimizer.*). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/weights/safetensors.h"

int main(int argc, char **argv) {
    int weights_only = 0, norm = 0;
    for (;;) {
        if (argc > 1 && strcmp(argv[1], "--weights") == 0)
            weights_only = 1;
        else if (argc > 1 && strcmp(argv[1], "--norm") == 0)
            norm = 1;
        else
            break;
        argv++;
        argc--;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr,
                "usage: st_compare [--weights] [--norm] A.safetensors B.safetensors [TOL]\n");
        return 2;
    }
    double tol = argc == 4 ? strtod(argv[3], NULL) : 0.0;
    sn_status st;
    sn_status_init(&st);
    sn_st_file a, b;
    if (sn_safetensors_read(argv[1], &a, &st)) {
        fprintf(stderr, "st_compare: %s\n", st.msg);
        return 2;
    }
    if (sn_safetensors_read(argv[2], &b, &st)) {
        fprintf(stderr, "st_compare: %s\n", st.msg);
        sn_st_free(&a);
        return 2;
    }
    int rc = 0;
    double worst = 0.0, sum_d2 = 0.0, sum_a2 = 0.0;
    const char *where = "-";
    for (int i = 0; i < a.ntensors && rc != 2; i++) {
        const sn_st_tensor *ta = &a.tensors[i], *tb = sn_st_find(&b, ta->name);
        if (weights_only && strncmp(ta->name, "optimizer.", 10) == 0) continue;
        int64_t n = sn_shape_numel(&ta->shape);
        if (!tb || !sn_shape_eq(&ta->shape, &tb->shape)) {
            fprintf(stderr, "st_compare: %s: missing or reshaped in %s\n", ta->name, argv[2]);
            rc = 2;
            break;
        }
        float *xa = malloc(sizeof(float) * (size_t)(n ? n : 1));
        float *xb = malloc(sizeof(float) * (size_t)(n ? n : 1));
        if (!xa || !xb || sn_st_to_f32(ta, xa, &st) || sn_st_to_f32(tb, xb, &st)) {
            fprintf(stderr, "st_compare: %s: %s\n", ta->name, st.code ? st.msg : "out of memory");
            rc = 2;
        } else {
            double scale = 0.0, diff = 0.0;
            for (int64_t k = 0; k < n; k++) {
                double d = fabs((double)xa[k] - (double)xb[k]);
                if (isnan(d)) d = INFINITY;
                sum_d2 += d * d;
                sum_a2 += (double)xa[k] * (double)xa[k];
                if (d > diff) diff = d;
                if (fabs((double)xa[k]) > scale) scale = fabs((double)xa[k]);
            }
            double rel = diff == 0.0 ? 0.0 : scale > 0.0 ? diff / scale : INFINITY;
            if (rel > worst) {
                worst = rel;
                where = ta->name;
            }
        }
        free(xa);
        free(xb);
    }
    if (rc != 2) {
        double nrel = sum_d2 == 0.0 ? 0.0 : sum_a2 > 0.0 ? sqrt(sum_d2 / sum_a2) : INFINITY;
        printf("max_rel_diff %.3g (%s) norm_rel_diff %.3g\n", worst, where, nrel);
        rc = (norm ? nrel : worst) <= tol ? 0 : 1;
    }
    sn_st_free(&a);
    sn_st_free(&b);
    return rc;
}
