/* Weights of an artifact read from a safetensors file (the NAME.weights that
 * 'snnc compile --emit lib --weights-file' writes, or any file with the same tensors, such
 * as a 'snnc train' checkpoint): every tensor of the model's weight table must be present
 * with its dtype and shape; other tensors are ignored. The data is read straight into the
 * context's memory (only the JSON header is parsed in temporary memory). */
#ifndef SN_DEPLOY_WEIGHTS_FILE_H
#define SN_DEPLOY_WEIGHTS_FILE_H

#include "desc.h"

/* Reads the tensors of d's weight table from `path` into dst (d->weight_bytes bytes, laid
 * out as the table says). A missing, unreadable, truncated or mismatching file is an
 * SN_ERR_INPUT naming the file and every problem (up to a dozen). */
sn_code snrt_weights_file_read(const snrt_desc *d, const char *path, unsigned char *dst,
                               sn_status *st);

#endif
