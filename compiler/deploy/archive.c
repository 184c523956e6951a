#include "archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"

/* ------------------------------------------------------------------- ELF64 ---- */

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int append_name(char **list, int *count, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s) + 1;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        while (c < *len + n) c *= 2;
        char *p = realloc(*list, c);
        if (!p) return 0;
        *list = p;
        *cap = c;
    }
    memcpy(*list + *len, s, n);
    *len += n;
    (*count)++;
    return 1;
}

sn_code sn_obj_scan(sn_obj *o, sn_status *st) {
    const unsigned char *d = o->data;
    size_t n = o->size;
    o->defined = o->undefined = NULL;
    o->ndefined = o->nundefined = 0;
    if (n < 64 || memcmp(d, "\177ELF", 4) != 0 || d[4] != 2 || d[5] != 1)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: not a 64-bit little-endian ELF object", o->name);
    if (le(d + 16, 2) != 1 || le(d + 18, 2) != 62)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: not an x86-64 relocatable object", o->name);
    uint64_t shoff = le(d + 0x28, 8), shentsize = le(d + 0x3A, 2), shnum = le(d + 0x3C, 2);
    if (shentsize != 64 || shoff > n || shoff + 64 > n)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: bad section header table", o->name);
    if (shnum == 0) shnum = le(d + shoff + 32, 8); /* extended numbering */
    if (shnum > (n - shoff) / 64)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: bad section header table", o->name);
    size_t dl = 0, dc = 0, ul = 0, uc = 0;
    for (uint64_t s = 0; s < shnum; s++) {
        const unsigned char *sh = d + shoff + s * 64;
        if (le(sh + 4, 4) != 2) continue; /* SHT_SYMTAB */
        uint64_t off = le(sh + 24, 8), size = le(sh + 32, 8), link = le(sh + 40, 4);
        uint64_t ent = le(sh + 56, 8);
        if (ent != 24 || off > n || size > n - off || link >= shnum)
            return sn_fail(st, SN_ERR_RUNTIME, "%s: bad symbol table", o->name);
        const unsigned char *strh = d + shoff + link * 64;
        uint64_t soff = le(strh + 24, 8), ssize = le(strh + 32, 8);
        if (soff > n || ssize > n - soff || ssize == 0 || d[soff + ssize - 1] != '\0')
            return sn_fail(st, SN_ERR_RUNTIME, "%s: bad string table", o->name);
        for (uint64_t k = 1; k < size / 24; k++) {
            const unsigned char *sy = d + off + k * 24;
            uint64_t name = le(sy, 4);
            int bind = sy[4] >> 4, type = sy[4] & 15;
            uint64_t shndx = le(sy + 6, 2);
            if (name >= ssize) return sn_fail(st, SN_ERR_RUNTIME, "%s: bad symbol", o->name);
            const char *nm = (const char *)d + soff + name;
            if (!*nm || type == 3 || type == 4) continue; /* section, file */
            if (bind != 1 && bind != 2 && bind != 10) continue;
            int ok = shndx != 0  ? append_name(&o->defined, &o->ndefined, &dl, &dc, nm)
                     : bind == 2 ? 1 /* weak reference: never pulls a member */
                                 : append_name(&o->undefined, &o->nundefined, &ul, &uc, nm);
            if (!ok) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        }
    }
    return SN_OK;
}

void sn_obj_free(sn_obj *o) {
    free(o->defined);
    free(o->undefined);
    o->defined = o->undefined = NULL;
    o->ndefined = o->nundefined = 0;
}

static int in_list(const char *list, int n, const char *sym) {
    for (int i = 0; i < n; i++, list += strlen(list) + 1)
        if (strcmp(list, sym) == 0) return 1;
    return 0;
}

int sn_obj_defines(const sn_obj *o, const char *sym) {
    return in_list(o->defined, o->ndefined, sym);
}

/* ---------------------------------------------------------------- archives ---- */

static int parse_dec(const unsigned char *p, int n, uint64_t *out) {
    uint64_t v = 0;
    int digits = 0;
    for (int i = 0; i < n && p[i] != ' '; i++) {
        if (p[i] < '0' || p[i] > '9') return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
        digits++;
    }
    *out = v;
    return digits > 0;
}

sn_code sn_ar_read(const char *what, const unsigned char *data, size_t size, sn_obj **members,
                   int *count, sn_status *st) {
    *members = NULL;
    *count = 0;
    if (size < 8 || memcmp(data, "!<arch>\n", 8) != 0)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: not an ar archive", what);
    const unsigned char *longnames = NULL;
    uint64_t longsize = 0;
    int cap = 0;
    size_t pos = 8;
    while (pos < size) {
        if (size - pos < 60 || data[pos + 58] != '`' || data[pos + 59] != '\n') {
            free(*members);
            *members = NULL;
            *count = 0;
            return sn_fail(st, SN_ERR_RUNTIME, "%s: bad member header at byte %zu", what, pos);
        }
        const unsigned char *h = data + pos;
        uint64_t msize;
        if (!parse_dec(h + 48, 10, &msize) || msize > size - pos - 60) {
            free(*members);
            *members = NULL;
            *count = 0;
            return sn_fail(st, SN_ERR_RUNTIME, "%s: bad member size at byte %zu", what, pos);
        }
        const unsigned char *body = h + 60;
        char name[64] = "";
        if (h[0] == '/' && h[1] == '/' && h[2] == ' ') {
            longnames = body;
            longsize = msize;
        } else if (h[0] == '/' && h[1] >= '0' && h[1] <= '9') {
            uint64_t off;
            if (!parse_dec(h + 1, 15, &off) || !longnames || off >= longsize) {
                free(*members);
                *members = NULL;
                *count = 0;
                return sn_fail(st, SN_ERR_RUNTIME, "%s: bad long member name", what);
            }
            size_t i = 0;
            while (off + i < longsize && longnames[off + i] != '/' && longnames[off + i] != '\n' &&
                   i + 1 < sizeof name) {
                name[i] = (char)longnames[off + i];
                i++;
            }
            name[i] = '\0';
        } else if (h[0] != '/') {
            size_t i = 0;
            while (i < 16 && h[i] != '/' && h[i] != ' ') {
                name[i] = (char)h[i];
                i++;
            }
            name[i] = '\0';
        }
        if (name[0]) {
            if (!sn_grow((void **)members, &cap, *count + 1, sizeof **members)) {
                free(*members);
                *members = NULL;
                *count = 0;
                return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            }
            sn_obj *o = &(*members)[(*count)++];
            memset(o, 0, sizeof *o);
            sn_strlcpy(o->name, name, sizeof o->name);
            o->data = body;
            o->size = (size_t)msize;
        }
        pos += 60 + (size_t)msize + (msize & 1);
    }
    return SN_OK;
}

static const char *defined_by_any(const sn_obj *objs, int n, const int *use, const char *sym) {
    for (int i = 0; i < n; i++)
        if ((!use || use[i]) && sn_obj_defines(&objs[i], sym)) return objs[i].name;
    return NULL;
}

sn_code sn_ar_select(const sn_obj *roots, int nroots, const sn_obj *lib, int nlib, int *keep,
                     char **unresolved, sn_status *st) {
    for (int i = 0; i < nlib; i++) keep[i] = 0;
    if (unresolved) *unresolved = NULL;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int pass = 0; pass < 2; pass++) {
            const sn_obj *set = pass == 0 ? roots : lib;
            int n = pass == 0 ? nroots : nlib;
            for (int i = 0; i < n; i++) {
                if (pass == 1 && !keep[i]) continue;
                const char *u = set[i].undefined;
                for (int k = 0; k < set[i].nundefined; k++, u += strlen(u) + 1) {
                    if (defined_by_any(roots, nroots, NULL, u) ||
                        defined_by_any(lib, nlib, keep, u))
                        continue;
                    for (int m = 0; m < nlib; m++)
                        if (!keep[m] && sn_obj_defines(&lib[m], u)) {
                            keep[m] = 1;
                            changed = 1;
                            break;
                        }
                }
            }
        }
    }
    /* every symbol defined once; collect what is left for the final link */
    size_t ul = 0, uc = 0;
    int un = 0;
    char *list = NULL;
    for (int pass = 0; pass < 2; pass++) {
        const sn_obj *set = pass == 0 ? roots : lib;
        int n = pass == 0 ? nroots : nlib;
        for (int i = 0; i < n; i++) {
            if (pass == 1 && !keep[i]) continue;
            const char *dsym = set[i].defined;
            for (int k = 0; k < set[i].ndefined; k++, dsym += strlen(dsym) + 1) {
                int count = 0;
                for (int r = 0; r < nroots; r++) count += sn_obj_defines(&roots[r], dsym);
                for (int m = 0; m < nlib; m++) count += keep[m] && sn_obj_defines(&lib[m], dsym);
                if (count > 1) {
                    free(list);
                    return sn_fail(st, SN_ERR_RUNTIME,
                                   "internal error: symbol %s is defined more than once in the "
                                   "artifact (in %s and another object)",
                                   dsym, set[i].name);
                }
            }
            const char *u = set[i].undefined;
            for (int k = 0; k < set[i].nundefined; k++, u += strlen(u) + 1)
                if (!defined_by_any(roots, nroots, NULL, u) &&
                    !defined_by_any(lib, nlib, keep, u) && !in_list(list, un, u) &&
                    !append_name(&list, &un, &ul, &uc, u)) {
                    free(list);
                    return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
                }
        }
    }
    /* an empty name ends the list */
    if (list && !append_name(&list, &un, &ul, &uc, "")) {
        free(list);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    if (unresolved)
        *unresolved = list;
    else
        free(list);
    return SN_OK;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* A 60-byte member header. */
static void header(unsigned char *h, const char *name, uint64_t size) {
    char buf[128];
    snprintf(buf, sizeof buf, "%-16s%-12s%-6s%-6s%-8s%-10llu`\n", name, "0", "0", "0", "644",
             (unsigned long long)size);
    memcpy(h, buf, 60);
}

sn_code sn_ar_write(const sn_obj *objs, int n, unsigned char **out, size_t *out_size,
                    sn_status *st) {
    *out = NULL;
    *out_size = 0;
    /* long names (longer than 15 characters) */
    uint64_t longsize = 0;
    for (int i = 0; i < n; i++)
        if (strlen(objs[i].name) > 15) longsize += strlen(objs[i].name) + 2;
    uint64_t nsyms = 0, strsize = 0;
    for (int i = 0; i < n; i++) {
        const char *s = objs[i].defined;
        for (int k = 0; k < objs[i].ndefined; k++, s += strlen(s) + 1) {
            nsyms++;
            strsize += strlen(s) + 1;
        }
    }
    uint64_t symsize = 4 + 4 * nsyms + strsize;
    uint64_t total = 8 + 60 + symsize + (symsize & 1);
    if (longsize) total += 60 + longsize + (longsize & 1);
    uint64_t first_member = total;
    for (int i = 0; i < n; i++) total += 60 + objs[i].size + (objs[i].size & 1);
    if (total > UINT32_MAX)
        return sn_fail(st, SN_ERR_INPUT,
                       "the static library would be %.1f GiB, over the 4 GiB an ar symbol index "
                       "can address: keep the weights out of it (--weights-file)",
                       (double)total / 1073741824.0);
    unsigned char *a = malloc((size_t)total);
    if (!a) return sn_fail(st, SN_ERR_RUNTIME, "out of memory for the archive");
    memset(a, '\n', (size_t)total);
    memcpy(a, "!<arch>\n", 8);
    size_t pos = 8;
    header(a + pos, "/", symsize);
    pos += 60;
    put_be32(a + pos, (uint32_t)nsyms);
    unsigned char *offs = a + pos + 4;
    char *names = (char *)(offs + 4 * nsyms);
    uint64_t moff = first_member;
    size_t si = 0;
    for (int i = 0; i < n; i++) {
        const char *s = objs[i].defined;
        for (int k = 0; k < objs[i].ndefined; k++, s += strlen(s) + 1) {
            put_be32(offs + 4 * si++, (uint32_t)moff);
            size_t l = strlen(s) + 1;
            memcpy(names, s, l);
            names += l;
        }
        moff += 60 + objs[i].size + (objs[i].size & 1);
    }
    pos += (size_t)(symsize + (symsize & 1));
    uint64_t *longoff = calloc((size_t)(n ? n : 1), sizeof *longoff);
    if (!longoff) {
        free(a);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory for the archive");
    }
    if (longsize) {
        header(a + pos, "//", longsize);
        pos += 60;
        uint64_t lo = 0;
        for (int i = 0; i < n; i++) {
            size_t l = strlen(objs[i].name);
            if (l <= 15) continue;
            longoff[i] = lo;
            memcpy(a + pos + lo, objs[i].name, l);
            a[pos + lo + l] = '/';
            a[pos + lo + l + 1] = '\n';
            lo += l + 2;
        }
        pos += (size_t)(longsize + (longsize & 1));
    }
    for (int i = 0; i < n; i++) {
        char name[80];
        if (strlen(objs[i].name) > 15)
            snprintf(name, sizeof name, "/%llu", (unsigned long long)longoff[i]);
        else
            snprintf(name, sizeof name, "%s/", objs[i].name);
        header(a + pos, name, objs[i].size);
        pos += 60;
        memcpy(a + pos, objs[i].data, objs[i].size);
        pos += objs[i].size + (objs[i].size & 1);
    }
    free(longoff);
    *out = a;
    *out_size = (size_t)total;
    return SN_OK;
}
