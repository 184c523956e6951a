/* A NIR file held in memory: the tree of the HDF5 file, typed but not yet interpreted
 * (docs/nir.md, ../shared/docs/spec-nir.md). The HDF5 reader and writer (nir_hdf5.c, built
 * when libhdf5 is found) convert between this and files; the importer and exporter
 * (compiler/interchange/) convert between this and snnc models. Keeping the two apart lets
 * the importer's checks run (and be fuzzed) on documents built in memory.
 *
 * A node is a group with a `type` string and one dataset per parameter. Numbers keep the
 * file's class (float or integer) and width; values are held as doubles (every float32 and
 * every integer up to 2^53 converts exactly) and, for integers, as int64 too. */
#ifndef SN_NIR_DOC_H
#define SN_NIR_DOC_H

#include <stdint.h>

#include "../core/status.h"

#define SN_NIR_MAX_RANK 8
#define SN_NIR_KEY_MAX  128

typedef enum sn_nir_kind { SN_NIR_FLOAT = 0, SN_NIR_INT, SN_NIR_STRING } sn_nir_kind;

typedef struct sn_nir_field {
    char name[SN_NIR_KEY_MAX];
    sn_nir_kind kind;
    int bits; /* width in the file (32, 64, ...); strings 0 */
    int rank; /* 0: a scalar */
    int64_t dims[SN_NIR_MAX_RANK];
    int64_t numel;
    double *f;  /* FLOAT and INT: numel values */
    int64_t *i; /* INT: numel values */
    char **s;   /* STRING: numel UTF-8 strings */
} sn_nir_field;

struct sn_nir_graph;

typedef struct sn_nir_node {
    char key[SN_NIR_KEY_MAX];
    char type[64];
    sn_nir_field *fields; /* the parameters (not `type`, not `metadata`) */
    int nfields;
    struct sn_nir_graph *sub; /* type NIRGraph: the nested graph */
    sn_nir_field *meta;       /* the node's metadata/ group (datasets) */
    int nmeta;
} sn_nir_node;

typedef struct sn_nir_edge {
    char src[SN_NIR_KEY_MAX], dst[SN_NIR_KEY_MAX];
} sn_nir_edge;

typedef struct sn_nir_graph {
    sn_nir_node *nodes;
    int nnodes, cap_nodes;
    sn_nir_edge *edges;
    int nedges, cap_edges;
    sn_nir_field *meta; /* the graph's metadata/ group */
    int nmeta;
} sn_nir_graph;

typedef struct sn_nir_doc {
    char version[64];  /* /version */
    char source[1024]; /* the file (for messages) */
    sn_nir_graph g;    /* /node */
} sn_nir_doc;

void sn_nir_doc_free(sn_nir_doc *d);
void sn_nir_graph_free(sn_nir_graph *g);
void sn_nir_field_free(sn_nir_field *f);

/* Lookup (NULL when absent). */
sn_nir_node *sn_nir_find_node(const sn_nir_graph *g, const char *key);
const sn_nir_field *sn_nir_find_field(const sn_nir_field *fields, int n, const char *name);

/* ---- building documents (the exporter, tests) ---- */
/* Appends a node; returns it (NULL: out of memory, recorded in st). */
sn_nir_node *sn_nir_add_node(sn_nir_graph *g, const char *key, const char *type, sn_status *st);
sn_code sn_nir_add_edge(sn_nir_graph *g, const char *src, const char *dst, sn_status *st);
/* Fields: a float array (written as float32 when bits == 32, else float64), an integer
 * array (int64), a scalar integer, a scalar string. Each appends to (*fields, *n). */
sn_code sn_nir_add_floats(sn_nir_field **fields, int *n, const char *name, int bits, int rank,
                          const int64_t *dims, const float *values, sn_status *st);
sn_code sn_nir_add_doubles(sn_nir_field **fields, int *n, const char *name, int bits, int rank,
                           const int64_t *dims, const double *values, sn_status *st);
sn_code sn_nir_add_ints(sn_nir_field **fields, int *n, const char *name, int rank,
                        const int64_t *dims, const int64_t *values, sn_status *st);
sn_code sn_nir_add_string(sn_nir_field **fields, int *n, const char *name, const char *value,
                          sn_status *st);
/* A field's dtype as NumPy would print it ("float32", "int64", "string"). */
const char *sn_nir_field_dtype(const sn_nir_field *f, char *buf, int n);

/* ---- files (libhdf5; only when snnc was built with it) ---- */
/* Whether this build can read and write NIR files. */
int sn_nir_hdf5_available(void);
/* Reads a NIR file. Not HDF5, missing /node or /version, unreadable datasets, unsupported
 * dtypes: SN_ERR_INPUT naming the file and the HDF5 path. */
sn_code sn_nir_read(const char *path, sn_nir_doc *out, sn_status *st);
/* Writes a NIR file (temporary file, fsync, rename): /version, /node with type NIRGraph,
 * nodes/, edges (E x 2 variable-length UTF-8 strings), metadata/; arrays gzip-compressed. */
sn_code sn_nir_write(const char *path, const sn_nir_doc *d, sn_status *st);

#endif
