#include "nir_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

void sn_nir_field_free(sn_nir_field *f) {
    if (f->s)
        for (int64_t i = 0; i < f->numel; i++) free(f->s[i]);
    free(f->s);
    free(f->f);
    free(f->i);
    memset(f, 0, sizeof *f);
}

static void free_fields(sn_nir_field *f, int n) {
    for (int i = 0; i < n; i++) sn_nir_field_free(&f[i]);
    free(f);
}

void sn_nir_graph_free(sn_nir_graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        sn_nir_node *n = &g->nodes[i];
        free_fields(n->fields, n->nfields);
        free_fields(n->meta, n->nmeta);
        if (n->sub) {
            sn_nir_graph_free(n->sub);
            free(n->sub);
        }
    }
    free(g->nodes);
    free(g->edges);
    free_fields(g->meta, g->nmeta);
    memset(g, 0, sizeof *g);
}

void sn_nir_doc_free(sn_nir_doc *d) {
    sn_nir_graph_free(&d->g);
    memset(d, 0, sizeof *d);
}

sn_nir_node *sn_nir_find_node(const sn_nir_graph *g, const char *key) {
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].key, key)) return &g->nodes[i];
    return NULL;
}

const sn_nir_field *sn_nir_find_field(const sn_nir_field *fields, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i].name, name)) return &fields[i];
    return NULL;
}

sn_nir_node *sn_nir_add_node(sn_nir_graph *g, const char *key, const char *type, sn_status *st) {
    if (strlen(key) >= SN_NIR_KEY_MAX || strlen(type) >= sizeof g->nodes->type) {
        sn_fail(st, SN_ERR_RUNTIME, "NIR node key '%s' is too long", key);
        return NULL;
    }
    if (!sn_grow((void **)&g->nodes, &g->cap_nodes, g->nnodes + 1, sizeof *g->nodes)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    sn_nir_node *n = &g->nodes[g->nnodes++];
    memset(n, 0, sizeof *n);
    sn_strlcpy(n->key, key, sizeof n->key);
    sn_strlcpy(n->type, type, sizeof n->type);
    return n;
}

sn_code sn_nir_add_edge(sn_nir_graph *g, const char *src, const char *dst, sn_status *st) {
    if (strlen(src) >= SN_NIR_KEY_MAX || strlen(dst) >= SN_NIR_KEY_MAX)
        return sn_fail(st, SN_ERR_RUNTIME, "NIR edge %s -> %s: key too long", src, dst);
    if (!sn_grow((void **)&g->edges, &g->cap_edges, g->nedges + 1, sizeof *g->edges))
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_nir_edge *e = &g->edges[g->nedges++];
    sn_strlcpy(e->src, src, sizeof e->src);
    sn_strlcpy(e->dst, dst, sizeof e->dst);
    return SN_OK;
}

static sn_nir_field *new_field(sn_nir_field **fields, int *n, const char *name, sn_nir_kind kind,
                               int rank, const int64_t *dims, sn_status *st) {
    if (strlen(name) >= SN_NIR_KEY_MAX || rank < 0 || rank > SN_NIR_MAX_RANK) {
        sn_fail(st, SN_ERR_RUNTIME, "NIR field '%s': bad name or rank", name);
        return NULL;
    }
    sn_nir_field *f = realloc(*fields, (size_t)(*n + 1) * sizeof **fields);
    if (!f) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    *fields = f;
    f = &f[(*n)++];
    memset(f, 0, sizeof *f);
    sn_strlcpy(f->name, name, sizeof f->name);
    f->kind = kind;
    f->rank = rank;
    f->numel = 1;
    for (int i = 0; i < rank; i++) {
        f->dims[i] = dims[i];
        f->numel *= dims[i];
    }
    size_t cnt = (size_t)(f->numel > 0 ? f->numel : 1);
    if (kind == SN_NIR_STRING)
        f->s = calloc(cnt, sizeof *f->s);
    else
        f->f = calloc(cnt, sizeof *f->f);
    if (kind == SN_NIR_INT) f->i = calloc(cnt, sizeof *f->i);
    if ((kind == SN_NIR_STRING && !f->s) || (kind != SN_NIR_STRING && !f->f) ||
        (kind == SN_NIR_INT && !f->i)) {
        sn_nir_field_free(f);
        (*n)--;
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    return f;
}

sn_code sn_nir_add_floats(sn_nir_field **fields, int *n, const char *name, int bits, int rank,
                          const int64_t *dims, const float *values, sn_status *st) {
    sn_nir_field *f = new_field(fields, n, name, SN_NIR_FLOAT, rank, dims, st);
    if (!f) return st->code;
    f->bits = bits == 64 ? 64 : 32;
    for (int64_t i = 0; i < f->numel; i++) f->f[i] = (double)values[i];
    return SN_OK;
}

sn_code sn_nir_add_doubles(sn_nir_field **fields, int *n, const char *name, int bits, int rank,
                           const int64_t *dims, const double *values, sn_status *st) {
    sn_nir_field *f = new_field(fields, n, name, SN_NIR_FLOAT, rank, dims, st);
    if (!f) return st->code;
    f->bits = bits == 32 ? 32 : 64;
    for (int64_t i = 0; i < f->numel; i++)
        f->f[i] = f->bits == 32 ? (double)(float)values[i] : values[i];
    return SN_OK;
}

sn_code sn_nir_add_ints(sn_nir_field **fields, int *n, const char *name, int rank,
                        const int64_t *dims, const int64_t *values, sn_status *st) {
    sn_nir_field *f = new_field(fields, n, name, SN_NIR_INT, rank, dims, st);
    if (!f) return st->code;
    f->bits = 64;
    for (int64_t i = 0; i < f->numel; i++) {
        f->i[i] = values[i];
        f->f[i] = (double)values[i];
    }
    return SN_OK;
}

sn_code sn_nir_add_string(sn_nir_field **fields, int *n, const char *name, const char *value,
                          sn_status *st) {
    sn_nir_field *f = new_field(fields, n, name, SN_NIR_STRING, 0, NULL, st);
    if (!f) return st->code;
    if (!(f->s[0] = sn_strdup(value))) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    return SN_OK;
}

const char *sn_nir_field_dtype(const sn_nir_field *f, char *buf, int n) {
    if (f->kind == SN_NIR_STRING)
        snprintf(buf, (size_t)n, "string");
    else
        snprintf(buf, (size_t)n, "%s%d", f->kind == SN_NIR_FLOAT ? "float" : "int", f->bits);
    return buf;
}
