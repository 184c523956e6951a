/* NIR files through libhdf5 (compiled only when snnc is built with HDF5; nir_hdf5_none.c
 * otherwise). Only API calls that exist unchanged from HDF5 1.10 to 1.14 are used (links
 * are enumerated by index rather than with H5Literate, whose callback type changed). */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdarg.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "nir_doc.h"

#define MAX_DEPTH    8         /* nested graphs */
#define MAX_LINKS    100000    /* children of one group */
#define MAX_ELEMENTS (1 << 27) /* values in one dataset */

int sn_nir_hdf5_available(void) {
    return 1;
}

/* HDF5 prints its error stack to stderr by default; snnc reports errors itself. */
static void quiet(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

typedef struct rd {
    const char *file;
    sn_status *st;
} rd;

static sn_code rfail(rd *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sn_code rfail(rd *r, const char *path, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sn_fail(r->st, SN_ERR_INPUT, "%s: %s: %s", r->file, path, msg);
}

/* Reads strings (scalar or array) of dataset ds with type t into f->s. */
static sn_code read_strings(rd *r, const char *path, hid_t ds, hid_t t, hid_t sp, sn_nir_field *f) {
    size_t n = (size_t)(f->numel > 0 ? f->numel : 1);
    f->s = calloc(n, sizeof *f->s);
    if (!f->s) return sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
    if (f->numel == 0) return SN_OK;
    hid_t mt = H5Tcopy(H5T_C_S1);
    sn_code c = SN_OK;
    if (H5Tis_variable_str(t) > 0) {
        char **buf = calloc(n, sizeof *buf);
        if (!buf || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(t)) < 0 ||
            H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            c = rfail(r, path, "cannot read the strings");
        } else {
            for (size_t i = 0; i < n; i++) {
                f->s[i] = sn_strdup(buf[i] ? buf[i] : "");
                if (!f->s[i]) c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
                if (buf[i]) H5free_memory(buf[i]);
            }
        }
        free(buf);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = sz > 0 && sz < (1u << 20) ? calloc(n, sz + 1) : NULL;
        if (!buf || H5Tset_size(mt, sz + 1) < 0 || H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 ||
            H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
            c = rfail(r, path, "cannot read the fixed-length strings");
        } else {
            for (size_t i = 0; i < n && !c; i++) {
                char *s = buf + i * (sz + 1);
                s[sz] = '\0';
                size_t len = strlen(s);
                while (len > 0 && s[len - 1] == ' ') s[--len] = '\0';
                if (!(f->s[i] = sn_strdup(s))) c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
            }
        }
        free(buf);
    }
    (void)sp;
    H5Tclose(mt);
    return c;
}

/* One dataset into a field. */
static sn_code read_dataset(rd *r, const char *path, hid_t ds, const char *name, sn_nir_field *f) {
    memset(f, 0, sizeof *f);
    if (strlen(name) >= sizeof f->name) return rfail(r, path, "name too long");
    sn_strlcpy(f->name, name, sizeof f->name);
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    sn_code c = SN_OK;
    if (t < 0 || sp < 0) {
        c = rfail(r, path, "cannot read the dataset's type or shape");
        goto done;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(sp);
    if (sc == H5S_NULL) {
        c = rfail(r, path, "the dataset holds no value (null dataspace)");
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(sp);
    if (rank < 0 || rank > SN_NIR_MAX_RANK) {
        c = rfail(r, path, "%d dimensions (at most %d are supported)", rank, SN_NIR_MAX_RANK);
        goto done;
    }
    hsize_t dims[SN_NIR_MAX_RANK];
    if (rank > 0 && H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        c = rfail(r, path, "cannot read the dataset's shape");
        goto done;
    }
    f->rank = rank;
    f->numel = 1;
    for (int i = 0; i < rank; i++) {
        f->dims[i] = (int64_t)dims[i];
        if (dims[i] > MAX_ELEMENTS || (dims[i] > 0 && f->numel > MAX_ELEMENTS / (int64_t)dims[i])) {
            c = rfail(r, path, "the dataset is too large (more than %d values)", MAX_ELEMENTS);
            goto done;
        }
        f->numel *= (int64_t)dims[i];
    }
    size_t n = (size_t)(f->numel > 0 ? f->numel : 1);
    H5T_class_t cls = H5Tget_class(t);
    if (cls == H5T_STRING) {
        f->kind = SN_NIR_STRING;
        c = read_strings(r, path, ds, t, sp, f);
    } else if (cls == H5T_FLOAT || cls == H5T_INTEGER) {
        f->kind = cls == H5T_FLOAT ? SN_NIR_FLOAT : SN_NIR_INT;
        f->bits = (int)H5Tget_size(t) * 8;
        f->f = calloc(n, sizeof *f->f);
        if (cls == H5T_INTEGER) f->i = calloc(n, sizeof *f->i);
        if (!f->f || (cls == H5T_INTEGER && !f->i)) {
            c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
            goto done;
        }
        if (f->numel > 0) {
            herr_t e = cls == H5T_FLOAT
                           ? H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->f)
                           : H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->i);
            if (e < 0) {
                c = rfail(r, path,
                          "cannot read the values (corrupt data, or a compression filter this "
                          "libhdf5 lacks)");
                goto done;
            }
            if (cls == H5T_INTEGER)
                for (size_t i = 0; i < n; i++) f->f[i] = (double)f->i[i];
        }
    } else {
        c = rfail(r, path,
                  "unsupported HDF5 datatype (%s): NIR parameters are float, integer or string "
                  "datasets",
                  cls == H5T_ENUM       ? "an enum, e.g. a bool array"
                  : cls == H5T_COMPOUND ? "a compound type"
                                        : "an array, opaque or reference type");
    }
done:
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (c) sn_nir_field_free(f);
    return c;
}

static sn_code read_group(rd *r, hid_t g, const char *path, int depth, int is_graph,
                          sn_nir_node *node, sn_nir_graph *graph);

/* Names of the hard links of group g (malloc'd array of malloc'd strings). */
static int list_children(rd *r, hid_t g, const char *path, char ***names) {
    *names = NULL;
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) {
        rfail(r, path, "cannot list the group");
        return -1;
    }
    if (info.nlinks > MAX_LINKS) {
        rfail(r, path, "the group has %llu members (at most %d)", (unsigned long long)info.nlinks,
              MAX_LINKS);
        return -1;
    }
    int n = (int)info.nlinks;
    char **out = calloc((size_t)(n ? n : 1), sizeof *out);
    if (!out) {
        sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, NULL, 0,
                                         H5P_DEFAULT);
        if (len < 0 || len >= SN_NIR_KEY_MAX) {
            if (len < 0)
                rfail(r, path, "cannot read the name of member %d", i);
            else
                rfail(r, path, "member %d has a name of %lld bytes (at most %d)", i, (long long)len,
                      SN_NIR_KEY_MAX - 1);
            for (int j = 0; j < i; j++) free(out[j]);
            free(out);
            return -1;
        }
        out[i] = calloc((size_t)len + 1, 1);
        if (!out[i] || H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, out[i],
                                          (size_t)len + 1, H5P_DEFAULT) < 0) {
            rfail(r, path, "cannot read the name of member %d", i);
            for (int j = 0; j <= i; j++) free(out[j]);
            free(out);
            return -1;
        }
        H5L_info_t li;
        if (H5Lget_info(g, out[i], &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD) {
            rfail(r, path,
                  "member '%s' is a soft or external link (NIR files hold plain groups "
                  "and datasets)",
                  out[i]);
            for (int j = 0; j <= i; j++) free(out[j]);
            free(out);
            return -1;
        }
    }
    *names = out;
    return n;
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The datasets of a metadata group (nested groups are skipped: the reference reader keeps
 * only datasets there). */
static sn_code read_meta(rd *r, hid_t g, const char *path, sn_nir_field **out, int *nout) {
    char **names;
    int n = list_children(r, g, path, &names);
    if (n < 0) return r->st->code;
    sn_code c = SN_OK;
    for (int i = 0; i < n && !c; i++) {
        char p[1024];
        sn_fmt(p, sizeof p, "%s/%s", path, names[i]);
        hid_t o = H5Oopen(g, names[i], H5P_DEFAULT);
        if (o < 0) {
            c = rfail(r, p, "cannot open");
            break;
        }
        if (H5Iget_type(o) == H5I_DATASET) {
            sn_nir_field *f = realloc(*out, (size_t)(*nout + 1) * sizeof **out);
            if (!f) {
                c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
            } else {
                *out = f;
                if (!(c = read_dataset(r, p, o, names[i], &f[*nout]))) (*nout)++;
            }
        }
        H5Oclose(o);
    }
    free_names(names, n);
    return c;
}

static sn_code read_type_string(rd *r, hid_t g, const char *path, char *out, size_t n) {
    char p[1024];
    sn_fmt(p, sizeof p, "%s/type", path);
    if (H5Lexists(g, "type", H5P_DEFAULT) <= 0)
        return rfail(r, path, "the group has no 'type' dataset (every NIR node names its type)");
    hid_t ds = H5Dopen2(g, "type", H5P_DEFAULT);
    if (ds < 0) return rfail(r, p, "'type' is not a dataset");
    sn_nir_field f;
    sn_code c = read_dataset(r, p, ds, "type", &f);
    H5Dclose(ds);
    if (c) return c;
    if (f.kind != SN_NIR_STRING || f.rank != 0 || !f.s[0]) {
        sn_nir_field_free(&f);
        return rfail(r, p, "expected a scalar string (the node type, e.g. \"LIF\")");
    }
    if (strlen(f.s[0]) >= n) {
        sn_nir_field_free(&f);
        return rfail(r, p, "the type name is too long");
    }
    sn_strlcpy(out, f.s[0], n);
    sn_nir_field_free(&f);
    return SN_OK;
}

static sn_code read_edges(rd *r, hid_t g, const char *path, sn_nir_graph *graph) {
    char p[1024];
    sn_fmt(p, sizeof p, "%s/edges", path);
    if (H5Lexists(g, "edges", H5P_DEFAULT) <= 0)
        return rfail(r, path, "the graph has no 'edges' dataset");
    hid_t ds = H5Dopen2(g, "edges", H5P_DEFAULT);
    if (ds < 0) return rfail(r, p, "'edges' is not a dataset");
    sn_nir_field f;
    sn_code c = read_dataset(r, p, ds, "edges", &f);
    H5Dclose(ds);
    if (c) return c;
    int empty = f.numel == 0;
    if (f.kind != SN_NIR_STRING || (!empty && (f.rank != 2 || f.dims[1] != 2))) {
        char dims[96] = "";
        size_t o = 0;
        for (int i = 0; i < f.rank && o + 24 < sizeof dims; i++)
            o += (size_t)snprintf(dims + o, sizeof dims - o, "%s%lld", i ? ", " : "",
                                  (long long)f.dims[i]);
        c = rfail(r, p, "expected an E x 2 array of strings (source, target), got %s [%s]",
                  f.kind == SN_NIR_STRING ? "strings" : "numbers", dims);
        sn_nir_field_free(&f);
        return c;
    }
    for (int64_t e = 0; !empty && e < f.dims[0] && !c; e++) {
        const char *s = f.s[2 * e], *t = f.s[2 * e + 1];
        if (strlen(s) >= SN_NIR_KEY_MAX || strlen(t) >= SN_NIR_KEY_MAX)
            c = rfail(r, p, "edge %lld names a node key longer than %d bytes", (long long)e,
                      SN_NIR_KEY_MAX - 1);
        else
            c = sn_nir_add_edge(graph, s, t, r->st);
    }
    sn_nir_field_free(&f);
    return c;
}

/* A node group (is_graph: the group holds a graph: nodes/, edges). */
static sn_code read_group(rd *r, hid_t g, const char *path, int depth, int is_graph,
                          sn_nir_node *node, sn_nir_graph *graph) {
    if (depth > MAX_DEPTH) return rfail(r, path, "graphs nested more than %d deep", MAX_DEPTH);
    char **names;
    int n = list_children(r, g, path, &names);
    if (n < 0) return r->st->code;
    sn_code c = SN_OK;
    for (int i = 0; i < n && !c; i++) {
        const char *nm = names[i];
        char p[1024];
        sn_fmt(p, sizeof p, "%s/%s", path, nm);
        if (!strcmp(nm, "type")) continue;
        hid_t o = H5Oopen(g, nm, H5P_DEFAULT);
        if (o < 0) {
            c = rfail(r, p, "cannot open");
            break;
        }
        H5I_type_t it = H5Iget_type(o);
        if (!strcmp(nm, "metadata") && it == H5I_GROUP) {
            c = is_graph ? read_meta(r, o, p, &graph->meta, &graph->nmeta)
                         : read_meta(r, o, p, &node->meta, &node->nmeta);
        } else if (is_graph && !strcmp(nm, "nodes") && it == H5I_GROUP) {
            char **keys;
            int nk = list_children(r, o, p, &keys);
            if (nk < 0) c = r->st->code;
            for (int k = 0; k < nk && !c; k++) {
                char q[1024];
                sn_fmt(q, sizeof q, "%s/%s", p, keys[k]);
                hid_t ng = H5Oopen(o, keys[k], H5P_DEFAULT);
                if (ng < 0 || H5Iget_type(ng) != H5I_GROUP) {
                    c = rfail(r, q, "a node must be a group (with a 'type' dataset)");
                } else {
                    char type[64];
                    sn_nir_node *nn = NULL;
                    if (!(c = read_type_string(r, ng, q, type, sizeof type)) &&
                        (nn = sn_nir_add_node(graph, keys[k], type, r->st))) {
                        if (!strcmp(type, "NIRGraph")) {
                            nn->sub = calloc(1, sizeof *nn->sub);
                            if (!nn->sub)
                                c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
                            else
                                c = read_group(r, ng, q, depth + 1, 1, nn, nn->sub);
                        } else {
                            c = read_group(r, ng, q, depth + 1, 0, nn, NULL);
                        }
                    } else if (!c) {
                        c = r->st->code;
                    }
                }
                if (ng >= 0) H5Oclose(ng);
            }
            if (nk >= 0) free_names(keys, nk);
        } else if (is_graph && !strcmp(nm, "edges")) {
            /* read below */
        } else if (it == H5I_DATASET) {
            if (is_graph) {
                c = rfail(r, p,
                          "unexpected dataset in a graph (a graph holds type, nodes, edges "
                          "and metadata)");
            } else {
                sn_nir_field *f = realloc(node->fields, (size_t)(node->nfields + 1) * sizeof *f);
                if (!f) {
                    c = sn_fail(r->st, SN_ERR_RUNTIME, "out of memory");
                } else {
                    node->fields = f;
                    if (!(c = read_dataset(r, p, o, nm, &f[node->nfields]))) node->nfields++;
                }
            }
        } else {
            c = rfail(r, p, "unexpected %s (a node holds datasets and a metadata group)",
                      it == H5I_GROUP ? "group" : "object");
        }
        H5Oclose(o);
    }
    free_names(names, n);
    if (!c && is_graph) {
        if (H5Lexists(g, "nodes", H5P_DEFAULT) <= 0)
            c = rfail(r, path, "the graph has no 'nodes' group");
        else
            c = read_edges(r, g, path, graph);
    }
    return c;
}

sn_code sn_nir_read(const char *path, sn_nir_doc *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    sn_strlcpy(out->source, path, sizeof out->source);
    quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) return sn_fail(st, SN_ERR_INPUT, "%s: cannot open the file", path);
    fclose(probe);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: not an HDF5 file, so not a NIR file (NIR graphs are HDF5 files written "
                       "by nir.write)",
                       path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return sn_fail(st, SN_ERR_INPUT, "%s: libhdf5 cannot open the file (corrupt?)", path);
    rd r = {path, st};
    sn_code c = SN_OK;
    if (H5Lexists(f, "version", H5P_DEFAULT) > 0) {
        hid_t ds = H5Dopen2(f, "version", H5P_DEFAULT);
        sn_nir_field v;
        if (ds < 0) {
            c = rfail(&r, "/version", "not a dataset");
        } else if (!(c = read_dataset(&r, "/version", ds, "version", &v))) {
            if (v.kind != SN_NIR_STRING || v.rank != 0)
                c = rfail(&r, "/version", "expected a scalar string such as \"1.0.7\"");
            else
                sn_strlcpy(out->version, v.s[0], sizeof out->version);
            sn_nir_field_free(&v);
        }
        if (ds >= 0) H5Dclose(ds);
    }
    if (!c && H5Lexists(f, "node", H5P_DEFAULT) <= 0)
        c = rfail(&r, "/", "no '/node' group: not a NIR file");
    if (!c) {
        hid_t g = H5Oopen(f, "node", H5P_DEFAULT);
        char type[64];
        if (g < 0 || H5Iget_type(g) != H5I_GROUP)
            c = rfail(&r, "/node", "not a group");
        else if (!(c = read_type_string(&r, g, "/node", type, sizeof type)) &&
                 strcmp(type, "NIRGraph") != 0)
            c = rfail(&r, "/node/type", "the top node is a %s; a NIR file holds a NIRGraph", type);
        if (!c) c = read_group(&r, g, "/node", 0, 1, NULL, &out->g);
        if (g >= 0) H5Oclose(g);
    }
    H5Fclose(f);
    if (c) {
        sn_nir_doc_free(out);
        sn_strlcpy(out->source, path, sizeof out->source);
    }
    return c;
}

/* ---- writing --------------------------------------------------------------------------- */

typedef struct wr {
    const char *file;
    sn_status *st;
    int deflate;
} wr;

static sn_code wfail(wr *w, const char *what) {
    return sn_fail(w->st, SN_ERR_RUNTIME, "%s: writing %s failed (libhdf5)", w->file, what);
}

static hid_t str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static sn_code write_field(wr *w, hid_t g, const sn_nir_field *f) {
    hsize_t dims[SN_NIR_MAX_RANK];
    for (int i = 0; i < f->rank; i++) dims[i] = (hsize_t)f->dims[i];
    hid_t sp = f->rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(f->rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    sn_code c = SN_OK;
    if (sp < 0 || dcpl < 0) {
        c = wfail(w, f->name);
        goto done;
    }
    if (w->deflate && f->rank > 0 && f->numel >= 16 && f->kind != SN_NIR_STRING) {
        if (H5Pset_chunk(dcpl, f->rank, dims) < 0 || H5Pset_deflate(dcpl, 4) < 0) {
            c = wfail(w, f->name);
            goto done;
        }
    }
    if (f->kind == SN_NIR_STRING) {
        hid_t t = str_type();
        hid_t ds = H5Dcreate2(g, f->name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->s) < 0)
            c = wfail(w, f->name);
        if (ds >= 0) H5Dclose(ds);
        H5Tclose(t);
    } else if (f->kind == SN_NIR_INT) {
        hid_t ds = H5Dcreate2(g, f->name, H5T_STD_I64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->i) < 0)
            c = wfail(w, f->name);
        if (ds >= 0) H5Dclose(ds);
    } else {
        hid_t ft = f->bits == 64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
        hid_t ds = H5Dcreate2(g, f->name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, f->f) < 0)
            c = wfail(w, f->name);
        if (ds >= 0) H5Dclose(ds);
    }
done:
    if (sp >= 0) H5Sclose(sp);
    if (dcpl >= 0) H5Pclose(dcpl);
    return c;
}

static sn_code write_string(wr *w, hid_t g, const char *name, const char *value) {
    sn_nir_field f;
    memset(&f, 0, sizeof f);
    sn_strlcpy(f.name, name, sizeof f.name);
    f.kind = SN_NIR_STRING;
    f.numel = 1;
    char *v = (char *)value;
    f.s = &v;
    return write_field(w, g, &f);
}

static sn_code write_meta(wr *w, hid_t g, const sn_nir_field *m, int n) {
    if (n == 0) return SN_OK;
    hid_t mg = H5Gcreate2(g, "metadata", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (mg < 0) return wfail(w, "metadata");
    sn_code c = SN_OK;
    for (int i = 0; i < n && !c; i++) c = write_field(w, mg, &m[i]);
    H5Gclose(mg);
    return c;
}

static sn_code write_graph(wr *w, hid_t g, const sn_nir_graph *graph) {
    if (write_string(w, g, "type", "NIRGraph")) return w->st->code;
    hid_t nodes = H5Gcreate2(g, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (nodes < 0) return wfail(w, "nodes");
    sn_code c = SN_OK;
    for (int i = 0; i < graph->nnodes && !c; i++) {
        const sn_nir_node *n = &graph->nodes[i];
        hid_t ng = H5Gcreate2(nodes, n->key, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (ng < 0) {
            c = wfail(w, n->key);
            break;
        }
        if (n->sub) {
            c = write_graph(w, ng, n->sub);
        } else {
            c = write_string(w, ng, "type", n->type);
            for (int k = 0; k < n->nfields && !c; k++) c = write_field(w, ng, &n->fields[k]);
        }
        if (!c) c = write_meta(w, ng, n->meta, n->nmeta);
        H5Gclose(ng);
    }
    H5Gclose(nodes);
    if (c) return c;
    /* edges: E x 2 variable-length strings */
    hsize_t dims[2] = {(hsize_t)graph->nedges, 2};
    const char **s = calloc((size_t)graph->nedges * 2 + 1, sizeof *s);
    if (!s) return sn_fail(w->st, SN_ERR_RUNTIME, "out of memory");
    for (int e = 0; e < graph->nedges; e++) {
        s[2 * e] = graph->edges[e].src;
        s[2 * e + 1] = graph->edges[e].dst;
    }
    hid_t t = str_type(), sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(g, "edges", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (ds < 0 || (graph->nedges > 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, s) < 0))
        c = wfail(w, "edges");
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    free(s);
    if (!c) c = write_meta(w, g, graph->meta, graph->nmeta);
    return c;
}

sn_code sn_nir_write(const char *path, const sn_nir_doc *d, sn_status *st) {
    quiet();
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot create the file", tmp);
    wr w = {path, st, H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0};
    sn_code c = write_string(&w, f, "version", d->version);
    if (!c) {
        hid_t g = H5Gcreate2(f, "node", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        c = g < 0 ? wfail(&w, "/node") : write_graph(&w, g, &d->g);
        if (g >= 0) H5Gclose(g);
    }
    if (H5Fclose(f) < 0 && !c) c = wfail(&w, "the file");
    if (!c) {
        int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            c = sn_fail(st, SN_ERR_RUNTIME, "%s: cannot flush the file to disk", tmp);
        if (fd >= 0) close(fd);
    }
    if (!c && rename(tmp, path) != 0)
        c = sn_fail(st, SN_ERR_RUNTIME, "%s: cannot rename the temporary file into place", path);
    if (c) remove(tmp);
    return c;
}
