/* NIR interchange (docs/nir.md): NIR graphs in and out of snnc.
 *
 * Import turns a NIR document (runtime/io/nir_doc.h) into a model YAML and the weights
 * that go with it, so every later stage runs an imported network unchanged; the continuous-
 * time neurons are discretized at a time step dt chosen here. Export turns a spiking model
 * and its weights into a NIR document that follows the reference reader's rules (explicit
 * Input and Output, array parameters, per-sample shapes, no extra fields) and records the
 * time step and the reset rule in its metadata. */
#ifndef SN_NIR_INTERCHANGE_H
#define SN_NIR_INTERCHANGE_H

#include "../../runtime/core/util.h"
#include "../../runtime/io/nir_doc.h"
#include "../../runtime/weights/weights.h"
#include "../frontend/spec.h"

/* Reset applied to IF/LIF nodes that have no v_reset (files older than NIR 1.0.6). */
typedef enum sn_nir_reset { SN_NIR_RESET_ZERO = 0, SN_NIR_RESET_SUBTRACT } sn_nir_reset;

typedef struct sn_nir_import_opts {
    double dt;          /* seconds; <= 0: the file's metadata dt, else required by LIF/LI */
    sn_nir_reset reset; /* for IF/LIF nodes without v_reset */
    int reset_given;    /* --reset was given (no warning about the choice then) */
    int exact;          /* discretize exactly (1 - exp(-dt/tau)) instead of forward Euler */
    int exact_given;    /* --discretization was given (else a file's metadata may choose) */
    int T;              /* snn.T of the model (time steps when run without --input); 0: the
                           file's metadata T, else 100 */
    const char *name;   /* model name */
} sn_nir_import_opts;

/* The imported model: YAML text (as written to model.yaml), the parsed spec and its weights,
 * and notes (the rules applied, warnings: one per line). `yaml_name` is the name the YAML is
 * parsed under (its future path, for messages). */
typedef struct sn_nir_imported {
    sn_strbuf yaml;
    sn_strbuf notes;
    sn_model_spec spec;
    sn_weights weights;
    int nlayers_in; /* NIR nodes imported (Input and Output included) */
} sn_nir_imported;

sn_code sn_nir_import(const sn_nir_doc *doc, const sn_nir_import_opts *o, const char *yaml_name,
                      sn_nir_imported *out, sn_status *st);
void sn_nir_imported_free(sn_nir_imported *m);

/* ---- export ---- */
typedef struct sn_nir_export_opts {
    double dt; /* <= 0: the dt of the model's nir_lif/nir_li layers, else 1e-4 s */
} sn_nir_export_opts;

/* Builds the NIR document of a spiking model with its weights. What NIR cannot express
 * (max pooling, ReLU, ...) is SN_ERR_INPUT naming the layer and why; what it expresses only
 * approximately is said in `notes` (and in the file's metadata). */
sn_code sn_nir_export(const sn_model_spec *spec, const sn_weights *w, const sn_nir_export_opts *o,
                      sn_nir_doc *out, sn_strbuf *notes, sn_status *st);

#endif
