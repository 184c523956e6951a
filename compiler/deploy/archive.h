/* Static libraries without a system archiver: reading the symbols of ELF64 relocatable
 * objects, reading a GNU/System V `ar` archive, choosing the members a set of objects
 * needs (as a linker would), and writing an archive with the symbol index that GNU ld,
 * gold, lld and the compilers' drivers read. x86-64 ELF only (what the CPU backend emits). */
#ifndef SN_ARCHIVE_H
#define SN_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/core/status.h"

typedef struct sn_obj {
    char name[64];             /* member name */
    const unsigned char *data; /* not owned */
    size_t size;
    /* filled by sn_obj_scan: NUL-separated names (owned) */
    char *defined, *undefined;
    int ndefined, nundefined;
} sn_obj;

/* Reads the global and weak symbols an ELF64 object defines and the ones it needs. */
sn_code sn_obj_scan(sn_obj *o, sn_status *st);
void sn_obj_free(sn_obj *o);
/* 1 if o defines / needs `sym`. */
int sn_obj_defines(const sn_obj *o, const char *sym);

/* The members of an archive (pointing into its bytes; *members malloc'd). */
sn_code sn_ar_read(const char *what, const unsigned char *data, size_t size, sn_obj **members,
                   int *n, sn_status *st);

/* Marks in keep[] the library members needed to resolve the undefined symbols of `roots`
 * (transitively); symbols nothing defines are left for the final link (libc, libm) and
 * listed in *unresolved (NUL-terminated names ended by an empty one, malloc'd; NULL when
 * there are none). A symbol defined twice among
 * the roots and the members kept is an error. All objects must be scanned. */
sn_code sn_ar_select(const sn_obj *roots, int nroots, const sn_obj *lib, int nlib, int *keep,
                     char **unresolved, sn_status *st);

/* Writes objs (scanned) as an archive with a symbol index into *out (malloc'd). */
sn_code sn_ar_write(const sn_obj *objs, int n, unsigned char **out, size_t *size, sn_status *st);

#endif
