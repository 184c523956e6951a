/* Writing a set of output files all or nothing: they go to a staging directory inside the
 * output directory, then are renamed into place one by one (each rename atomic); on any
 * failure the staging directory is removed and the output directory keeps what it had.
 * Also the one external tool an artifact may need: the system C compiler, to link a shared
 * library from the static one. */
#ifndef SN_DEPLOY_STAGE_H
#define SN_DEPLOY_STAGE_H

#include <stddef.h>

#include "../../runtime/core/status.h"

#define SN_STAGE_MAX_FILES 16

typedef struct sn_stage {
    char out[4096]; /* the output directory */
    char dir[4096]; /* OUT/.snnc-TAG-XXXXXX */
    char names[SN_STAGE_MAX_FILES][128];
    int n;
} sn_stage;

/* Creates OUT (if needed) and the staging directory in it. */
sn_code sn_stage_open(sn_stage *sg, const char *out, const char *tag, sn_status *st);
/* The path of `name` in the staging directory. */
sn_code sn_stage_path(const sn_stage *sg, const char *name, char *path, size_t n, sn_status *st);
/* Writes a staged output file. */
sn_code sn_stage_file(sn_stage *sg, const char *name, const void *data, size_t size, sn_status *st);
/* Declares a file something else wrote into the staging directory as an output. */
sn_code sn_stage_add(sn_stage *sg, const char *name, sn_status *st);
/* Moves the outputs into OUT. */
sn_code sn_stage_commit(sn_stage *sg, sn_status *st);
/* Removes the staging directory and whatever is left in it (always call it). */
void sn_stage_close(sn_stage *sg);

/* Links staged `lib` (a static library) into the shared library `so` with the system C
 * compiler ($SNNC_CC, else $CC, else cc) exporting only the symbols PREFIX*, and declares it
 * an output. Every symbol must resolve (libm and pthreads are linked). */
sn_code sn_stage_link_shared(sn_stage *sg, const char *lib, const char *so, const char *prefix,
                             sn_status *st);

#endif
