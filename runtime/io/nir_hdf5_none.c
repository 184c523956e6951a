/* NIR file access in a build without libhdf5 (compiled instead of nir_hdf5.c): every call
 * says how to get it. NIR documents built in memory still import and export. */
#include "nir_doc.h"

#include <string.h>

#define NO_HDF5 "snnc was built without HDF5 (install libhdf5-dev and rebuild)"

int sn_nir_hdf5_available(void) {
    return 0;
}

sn_code sn_nir_read(const char *path, sn_nir_doc *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot read NIR files: " NO_HDF5, path);
}

sn_code sn_nir_write(const char *path, const sn_nir_doc *d, sn_status *st) {
    (void)d;
    return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot write NIR files: " NO_HDF5, path);
}
