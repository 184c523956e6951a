/* 'snnc compile --emit lib': a model as a C library (docs/artifacts.md).
 *
 *   DIR/NAME.h          the model's C API, sizes and CPU variants, documented
 *   DIR/snnc_model.h    NAME.h with generic names (snnc_create, ...) for programs written
 *                       against any artifact, such as examples/
 *   DIR/libNAME.a       glue (model description, weights, API), every variant's kernels and
 *                       the runtime members they use (written here, no system archiver)
 *   DIR/libNAME.so      the same as a shared library exporting only NAME_* (linked by the
 *                       system C compiler: $SNNC_CC, $CC or cc)
 *   DIR/NAME.weights    with --weights-file: the weights as safetensors, out of the library
 *   DIR/NAME.json       manifest: variants, kernels, sizes, what the final link must supply
 *
 * The kernels come from the CPU backend's ordinary lowering (a plan per variant, through
 * sn_lower_cpu), so every kernel the backend can generate is available to artifacts; the
 * plans are written as runtime/deploy/plan_blob.h descriptions. */
#ifndef SN_ARTIFACT_H
#define SN_ARTIFACT_H

#include <stdint.h>

#include "../../runtime/data/transform.h"
#include "../../runtime/weights/weights.h"
#include "../frontend/spec.h"

#define SN_ARTIFACT_NAME_MAX 48

typedef struct sn_artifact_opts {
    const char *dir;
    const char *name; /* API prefix (a C identifier); NULL: from the model's name */
    const char *cpus; /* comma-separated CPU variants; NULL: "x86-64-v3,host" */
    int64_t batch;
    int fusion;
    int direct_conv;  /* no Winograd convolutions (smaller packed weights, faster create) */
    int schedule;     /* SN_SCHED_* of a spiking model (auto: step-major, for streaming) */
    int weights_file; /* write DIR/NAME.weights instead of embedding the weights */
    int shared;       /* also link DIR/libNAME.so */
    sn_transform tf;  /* the model's evaluation preprocessing */
    /* called at each stage ("variant host: ...", "writing libNAME.a ..."); may be NULL */
    void (*progress)(void *arg, const char *stage);
    void *progress_arg;
} sn_artifact_opts;

typedef struct sn_artifact_report {
    char name[SN_ARTIFACT_NAME_MAX + 1];
    int nvariants;
    char variants[8][160]; /* "host (icelake-client, avx512): 25 kernels, 412 KiB context" */
    int64_t static_bytes, shared_bytes, weight_bytes, code_bytes;
    int step_major;
    double seconds;
} sn_artifact_report;

/* The CPU names --cpu accepts (NULL-terminated). */
extern const char *const sn_artifact_cpu_names[];

/* Makes NAME from a model name: non-alphanumerics become '_', a leading digit gets '_'. */
void sn_artifact_default_name(const char *model, char *out, size_t n);

sn_code sn_artifact_write(const sn_model_spec *spec, const sn_weights *w, const sn_artifact_opts *o,
                          sn_artifact_report *rep, sn_status *st);

#endif
