#include "rt_embed.h"

#ifndef SNNC_RT_DEPLOY_ARCHIVE
#error "SNNC_RT_DEPLOY_ARCHIVE must name libsnnc_rt_deploy.a (set by CMakeLists.txt)"
#endif

/* .incbin copies the file into .rodata at assembly time; the object is rebuilt when the
 * archive changes (OBJECT_DEPENDS in CMakeLists.txt). */
__asm__(".section .rodata.snnc_rt_deploy,\"a\",@progbits\n"
        ".balign 16\n"
        ".globl snnc_rt_deploy_begin\n"
        ".hidden snnc_rt_deploy_begin\n"
        ".globl snnc_rt_deploy_end\n"
        ".hidden snnc_rt_deploy_end\n"
        "snnc_rt_deploy_begin:\n"
        ".incbin \"" SNNC_RT_DEPLOY_ARCHIVE "\"\n"
        "snnc_rt_deploy_end:\n"
        ".previous\n");

extern const unsigned char snnc_rt_deploy_begin[] __asm__("snnc_rt_deploy_begin");
extern const unsigned char snnc_rt_deploy_end[] __asm__("snnc_rt_deploy_end");

const unsigned char *sn_rt_deploy_archive(size_t *size) {
    *size = (size_t)(snnc_rt_deploy_end - snnc_rt_deploy_begin);
    return snnc_rt_deploy_begin;
}
