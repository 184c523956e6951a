/* The deployable runtime (libsnnc_rt_deploy.a: runtime/ compiled as position-independent
 * -O2 code without sanitizers), embedded in snnc at build time so that an artifact's
 * runtime always comes from the same sources and build as the compiler that generated its
 * kernels (the kernels read sn_kctx and sn_plan structures by offset), with nothing to
 * look up on disk. See CMakeLists.txt and docs/artifacts.md. */
#ifndef SN_RT_EMBED_H
#define SN_RT_EMBED_H

#include <stddef.h>

/* The archive's bytes (a GNU ar archive of ELF objects). */
const unsigned char *sn_rt_deploy_archive(size_t *size);

#endif
