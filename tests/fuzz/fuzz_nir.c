/* libFuzzer target for the NIR importer: bytes -> a NIR document -> sn_nir_import.
 *
 * libhdf5 parses the files; what snnc owns is everything after: the checks of nodes, fields,
 * shapes and edges, the graph walk, the discretization and the model it writes. So the fuzzer
 * builds documents from a small line format rather than HDF5 bytes (libhdf5 is not hardened
 * against hostile files, and its crashes are not snnc's to find here):
 *   v VERSION                      the file's NIR version
 *   dt SECONDS                     --dt (absent: 0, the file's or none)
 *   n KEY TYPE                     a node
 *   f NAME D0,D1,.. V0 V1 ..       a float field of the last node (values repeat to fill)
 *   i NAME D0,D1,.. V0 V1 ..       an integer field ("-" as dims: a scalar)
 *   s NAME TEXT                    a string field
 *   e SRC DST                      an edge
 *   m NAME TEXT                    graph metadata (a string; "m dt 0.001" a number)
 * Besides "no crash, no leak, no undefined behaviour" it checks: an input error names the
 * document; an imported model exports to NIR and imports again into the same spec and
 * bit-identical weights.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSNNC_FUZZ=ON, then
 *   mkdir -p /tmp/fn && ./fuzz_nir -max_len=4096 /tmp/fn tests/fuzz/corpus_nir */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/interchange/nir.h"
#include "runtime/core/util.h"
#include "runtime/io/nir_doc.h"

#define MAX_NODES  64
#define MAX_FIELDS 16
#define MAX_VALUES 4096

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "fuzz_nir: %s\n%s\n", what, detail);
    abort();
}

/* "3,4" -> dims; "-" -> a scalar. Returns the rank or -1. */
static int parse_dims(char *s, int64_t *d, int64_t *numel) {
    *numel = 1;
    if (!strcmp(s, "-")) return 0;
    int r = 0;
    char *save = NULL;
    for (char *p = strtok_r(s, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (r >= 4) return -1;
        long v = strtol(p, NULL, 10);
        if (v < 0 || v > MAX_VALUES) return -1;
        d[r++] = v;
        *numel *= v;
        if (*numel > MAX_VALUES) return -1;
    }
    return r;
}

static void build(const uint8_t *data, size_t size, sn_nir_doc *doc, double *dt, sn_status *st) {
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = '\0';
    sn_nir_node *cur = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char a[SN_NIR_KEY_MAX], b[SN_NIR_KEY_MAX];
        char *rest = NULL;
        if (sscanf(line, "n %127s %127s", a, b) == 2) {
            cur = doc->g.nnodes < MAX_NODES ? sn_nir_add_node(&doc->g, a, b, st) : NULL;
        } else if (sscanf(line, "e %127s %127s", a, b) == 2) {
            if (doc->g.nedges < 4 * MAX_NODES) sn_nir_add_edge(&doc->g, a, b, st);
        } else if (sscanf(line, "v %63s", a) == 1) {
            snprintf(doc->version, sizeof doc->version, "%s", a);
        } else if (sscanf(line, "dt %127s", a) == 1) {
            *dt = strtod(a, NULL);
        } else if ((line[0] == 'f' || line[0] == 'i') && line[1] == ' ' && cur &&
                   cur->nfields < MAX_FIELDS && sscanf(line + 2, "%127s %127s", a, b) == 2) {
            int64_t d[4], numel;
            int rank = parse_dims(b, d, &numel);
            if (rank < 0) continue;
            rest = strstr(line + 2, " ");
            rest = rest ? strstr(rest + 1, " ") : NULL;
            double *v = calloc((size_t)(numel ? numel : 1), sizeof *v);
            int64_t *iv = calloc((size_t)(numel ? numel : 1), sizeof *iv);
            int nv = 0;
            for (char *p = rest; p && *p && nv < numel;) {
                char *end;
                double x = strtod(p, &end);
                if (end == p) break;
                v[nv++] = x;
                p = end;
            }
            for (int64_t k = 0; k < numel; k++) {
                v[k] = nv ? v[k % nv] : 0.0;
                iv[k] = (int64_t)(isfinite(v[k]) && fabs(v[k]) < 1e15 ? v[k] : 0);
            }
            if (line[0] == 'f')
                sn_nir_add_doubles(&cur->fields, &cur->nfields, a, 32, rank, d, v, st);
            else
                sn_nir_add_ints(&cur->fields, &cur->nfields, a, rank, d, iv, st);
            free(v);
            free(iv);
        } else if (line[0] == 's' && line[1] == ' ' && cur && cur->nfields < MAX_FIELDS &&
                   sscanf(line + 2, "%127s %127s", a, b) == 2) {
            sn_nir_add_string(&cur->fields, &cur->nfields, a, b, st);
        } else if (line[0] == 'm' && line[1] == ' ' && doc->g.nmeta < MAX_FIELDS &&
                   sscanf(line + 2, "%127s %127s", a, b) == 2) {
            char *end;
            double x = strtod(b, &end);
            if (*end == '\0')
                sn_nir_add_doubles(&doc->g.meta, &doc->g.nmeta, a, 64, 0, NULL, &x, st);
            else
                sn_nir_add_string(&doc->g.meta, &doc->g.nmeta, a, b, st);
        }
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    sn_nir_doc doc;
    memset(&doc, 0, sizeof doc);
    snprintf(doc.source, sizeof doc.source, "fuzz.nir");
    sn_status st;
    sn_status_init(&st);
    double dt = 0;
    build(data, size, &doc, &dt, &st);
    if (st.code) { /* out of memory while building: nothing to test */
        sn_nir_doc_free(&doc);
        return 0;
    }
    sn_nir_import_opts o = {.dt = isfinite(dt) ? dt : 0, .T = 3, .name = "fz"};
    sn_nir_imported m;
    sn_code rc = sn_nir_import(&doc, &o, "fz.yaml", &m, &st);
    sn_nir_doc_free(&doc);
    if (rc == SN_ERR_INPUT) {
        if (!strstr(st.msg, "fuzz.nir"))
            fail("an import error that does not name the file", st.msg);
        return 0;
    }
    if (rc != SN_OK) return 0;
    /* export and import again: the same model and the same weights */
    sn_nir_doc out;
    sn_strbuf notes;
    sn_sb_init(&notes);
    sn_nir_export_opts eo = {0};
    sn_status es;
    sn_status_init(&es);
    if (sn_nir_export(&m.spec, &m.weights, &eo, &out, &notes, &es) != SN_OK) {
        if (!strstr(es.msg, "no strict float32 equivalent"))
            fail("an imported model does not export", es.msg);
    } else {
        snprintf(out.source, sizeof out.source, "fuzz.nir");
        sn_nir_import_opts o2 = {.name = "fz"};
        sn_nir_imported m2;
        sn_status s2;
        sn_status_init(&s2);
        if (sn_nir_import(&out, &o2, "fz.yaml", &m2, &s2) != SN_OK)
            fail("an exported model does not import", s2.msg);
        char why[256];
        m2.spec.snn.T = m.spec.snn.T;
        if (!sn_spec_equal(&m.spec, &m2.spec, why, sizeof why))
            fail("export + import changed the model", why);
        if (m.weights.n != m2.weights.n) fail("export + import changed the weights", "count");
        for (int i = 0; i < m.weights.n; i++) {
            int64_t n = sn_shape_numel(&m.weights.desc[i].shape);
            if (strcmp(m.weights.desc[i].name, m2.weights.desc[i].name) ||
                memcmp(m.weights.data[i], m2.weights.data[i], (size_t)n * sizeof(float)))
                fail("export + import changed the weights", m.weights.desc[i].name);
        }
        sn_nir_imported_free(&m2);
        sn_nir_doc_free(&out);
    }
    sn_sb_free(&notes);
    sn_nir_imported_free(&m);
    return 0;
}
