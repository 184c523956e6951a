/* The C header of an artifact (NAME.h) and its generic-name companion (snnc_model.h). */
#ifndef SN_DEPLOY_HEADER_H
#define SN_DEPLOY_HEADER_H

#include <stdint.h>

#include "../../runtime/core/util.h"

typedef struct sn_header_in {
    const char *name;   /* the API prefix */
    const char *model;  /* the model's own name */
    const char *source; /* the model file it was compiled from */
    int64_t batch, channels, height, width, classes;
    int T, streaming, embedded;
    uint64_t weight_bytes;
    uint64_t context_bytes; /* the largest variant's, with embedded weights */
    int nvariants;
    const char *variant_names; /* "host,x86-64-v3" */
    const char *variant_lines[8];
} sn_header_in;

void sn_header_write(const sn_header_in *h, sn_strbuf *out);
void sn_header_generic(const char *name, sn_strbuf *out);

#endif
