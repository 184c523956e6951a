/* The glue object of a deployable artifact (compiler/deploy/artifact.c): the model
 * description and the weights as constants, each CPU variant's table of kernel functions
 * (references the linker resolves to the kernel objects), the snrt_model that ties them
 * together (runtime/deploy/snrt.h), and the NAME_* functions of the artifact's API, each a
 * tail call into the runtime. Compiled for a baseline x86-64 CPU: it runs before the
 * runtime has picked a variant. Nothing in it but the NAME_* functions is global. */
#ifndef SN_GLUE_H
#define SN_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "../../../runtime/core/status.h"
#include "../../../runtime/deploy/desc.h"

typedef struct sn_glue_in {
    const char *name; /* the API prefix, a C identifier */
    const unsigned char *desc;
    size_t desc_size;
    const unsigned char *weights; /* NULL: the weights stay out of the library */
    size_t weights_size;
    int nvariants;
    const char *const *kernels[SNRT_MAX_VARIANTS]; /* symbols, in each variant's table order */
    int nkernels[SNRT_MAX_VARIANTS];
} sn_glue_in;

/* Emits the glue as an ELF object (malloc'd). */
sn_code sn_glue_emit(const sn_glue_in *in, unsigned char **obj, size_t *size, sn_status *st);

#endif
