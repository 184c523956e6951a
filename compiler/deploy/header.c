#include "header.h"

#include <string.h>

/* Appends text with every "@N@" replaced by the prefix. */
static void put(sn_strbuf *o, const char *name, const char *text) {
    for (const char *p = text; *p;) {
        const char *q = strstr(p, "@N@");
        if (!q) {
            sn_sb_puts(o, p);
            break;
        }
        sn_sb_append(o, p, (size_t)(q - p));
        sn_sb_puts(o, name);
        p = q + 3;
    }
}

void sn_header_write(const sn_header_in *h, sn_strbuf *o) {
    const char *n = h->name;
    sn_sb_printf(o, "/* %s.h: model %s compiled ahead of time by snnc %s from %s.\n", n, h->model,
                 SNNC_VERSION, h->source);
    put(o, n,
        " *\n"
        " * A C library for one model: lib@N@.a (static) or lib@N@.so (shared, exporting only\n"
        " * @N@_*), holding the generated kernels for each CPU variant below, the plan that\n"
        " * runs them, ");
    sn_sb_puts(o, h->embedded ? "the weights, " : "");
    put(o, n,
        "and snnc's small runtime (thread pool, weight packing, plan\n"
        " * runner). Nothing else is needed: link with\n"
        " *\n"
        " *     cc -O2 app.c -I DIR DIR/lib@N@.a -lm -lpthread\n"
        " *     cc -O2 app.c -I DIR -L DIR -l@N@ -Wl,-rpath,DIR -lm -lpthread\n"
        " *\n");
    sn_sb_printf(o,
                 " * Input: up to %lld images of %lld x %lld x %lld floats (NCHW), as 'snnc eval' "
                 "feeds\n"
                 " * the model after its preprocessing (%s_preprocess does it for 8-bit images).\n"
                 " * Output: %lld scores per image.",
                 (long long)h->batch, (long long)h->channels, (long long)h->height,
                 (long long)h->width, n, (long long)h->classes);
    if (h->T > 1 || h->streaming) {
        sn_sb_printf(o, " A spiking network over T = %d time steps, ", h->T);
        if (h->streaming)
            sn_sb_printf(o, "run whole (%s_run)\n * or streamed one step at a time (%s_step).", n,
                         n);
        else
            sn_sb_printf(o, "compiled layer-major\n * (%s_run only).", n);
    }
    put(o, n,
        "\n *\n * CPU variants (the first this CPU runs is used; @N@_options.variant forces "
        "one):\n");
    for (int i = 0; i < h->nvariants; i++) sn_sb_printf(o, " *   %s\n", h->variant_lines[i]);
    put(o, n,
        " *\n"
        " * Memory: @N@_create makes one allocation of at most @N@_CONTEXT_BYTES (the plan's\n"
        " * tables, packed weights, activations and spiking state; plus @N@_WEIGHT_BYTES when\n"
        " * the weights come from a file) and starts the context's worker threads; @N@_run and\n"
        " * @N@_step allocate nothing. A context is used by one thread at a time (a concurrent\n"
        " * call returns @N@_ERR_STATE); contexts are independent, so threads may each run\n"
        " * their own.\n"
        " *\n"
        " * Errors: every function returns @N@_OK (0) or a @N@_ERR_* code; @N@_error(ctx)\n"
        " * says what went wrong in words, @N@_strerror(code) what the code means. */\n");
    sn_sb_printf(o, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", n,
                 n);
    sn_sb_puts(o, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sn_sb_printf(o, "#define %s_BATCH          %lld /* images per run (a run may take fewer) */\n",
                 n, (long long)h->batch);
    sn_sb_printf(o, "#define %s_CHANNELS       %lld\n", n, (long long)h->channels);
    sn_sb_printf(o, "#define %s_HEIGHT         %lld\n", n, (long long)h->height);
    sn_sb_printf(o, "#define %s_WIDTH          %lld\n", n, (long long)h->width);
    sn_sb_printf(o, "#define %s_IMAGE_FLOATS   %lld /* floats per input image */\n", n,
                 (long long)(h->channels * h->height * h->width));
    sn_sb_printf(o, "#define %s_INPUT_FLOATS   %lld /* floats per full batch */\n", n,
                 (long long)(h->batch * h->channels * h->height * h->width));
    sn_sb_printf(o, "#define %s_CLASSES        %lld\n", n, (long long)h->classes);
    sn_sb_printf(o, "#define %s_OUTPUT_FLOATS  %lld /* scores per full batch */\n", n,
                 (long long)(h->batch * h->classes));
    sn_sb_printf(o, "#define %s_TIME_STEPS     %d\n", n, h->T);
    sn_sb_printf(o, "#define %s_STREAMING      %d /* %s_step and %s_reset work */\n", n,
                 h->streaming, n, n);
    sn_sb_printf(o, "#define %s_WEIGHTS_EMBEDDED %d\n", n, h->embedded);
    sn_sb_printf(o, "#define %s_WEIGHT_BYTES   %lluull\n", n, (unsigned long long)h->weight_bytes);
    sn_sb_printf(o, "#define %s_CONTEXT_BYTES  %lluull /* the largest variant's */\n", n,
                 (unsigned long long)h->context_bytes);
    sn_sb_printf(o, "#define %s_VARIANTS       \"%s\"\n\n", n, h->variant_names);
    put(o, n,
        "enum {\n"
        "    @N@_OK = 0,\n"
        "    @N@_ERR_ARG = 1,      /* a NULL pointer or a bad option */\n"
        "    @N@_ERR_SIZE = 2,     /* an input or output count the model does not take */\n"
        "    @N@_ERR_WEIGHTS = 3,  /* a weights file that cannot be read or is for another "
        "model */\n"
        "    @N@_ERR_CPU = 4,      /* no variant of the library runs on this CPU */\n"
        "    @N@_ERR_MEMORY = 5,   /* out of memory, or worker threads could not start */\n"
        "    @N@_ERR_INPUT = 6,    /* input values the model rejects (Poisson encoders take "
        "[0, 1]) */\n"
        "    @N@_ERR_STATE = 7,    /* not now: streaming past T, not a streaming model, or the\n"
        "                              context is in use by another thread */\n"
        "    @N@_ERR_ARTIFACT = 8, /* the library itself is damaged */\n"
        "};\n\n"
        "typedef struct @N@_ctx @N@_ctx;\n\n"
        "typedef struct @N@_options {\n"
        "    int threads;              /* worker threads, the caller included; 0: one per core */\n"
        "    const char *weights_path; /* safetensors weights to load instead of the embedded "
        "ones\n"
        "                                 (required when the library holds none) */\n"
        "    const char *variant;      /* force a CPU variant by name; NULL: the best this CPU "
        "runs */\n"
        "} @N@_options;\n\n"
        "typedef struct @N@_info {\n"
        "    const char *name;\n"
        "    int64_t batch, channels, height, width, classes, time_steps, streaming;\n"
        "    int64_t image_floats, input_floats, output_floats;\n"
        "    int64_t variants, weights_embedded, weight_bytes;\n"
        "} @N@_info;\n\n"
        "/* Creates a context: picks the CPU variant, allocates its memory, loads the weights\n"
        " * (options->weights_path) or uses the embedded ones, and packs them. options may be\n"
        " * NULL (defaults); on failure *ctx is NULL and error (if not NULL) receives the reason. "
        "*/\n"
        "int @N@_create(@N@_ctx **ctx, const @N@_options *options, char *error, size_t "
        "error_size);\n"
        "void @N@_free(@N@_ctx *ctx);\n"
        "/* The sizes above, at run time (for bindings such as python/snnc_artifact.py). */\n"
        "int @N@_get_info(@N@_info *info);\n\n"
        "/* Runs n images, 1 <= n <= @N@_BATCH: input holds n * @N@_IMAGE_FLOATS floats\n"
        " * (input_count), output room for n * @N@_CLASSES scores (output_count, at least). A\n"
        " * spiking model runs all its time steps (and its streaming state ends at step T). */\n"
        "int @N@_run(@N@_ctx *ctx, const float *input, size_t input_count, float *output,\n"
        "             size_t output_count);\n"
        "/* Streaming (@N@_STREAMING): runs the next time step of the current sequence on input\n"
        " * (which may change from step to step), keeping membrane potentials in the context;\n"
        " * output receives the readout so far. After the T-th step it equals @N@_run's output\n"
        " * for the same input, bit for bit; a further step fails until @N@_reset. */\n"
        "int @N@_step(@N@_ctx *ctx, const float *input, size_t input_count, float *output,\n"
        "              size_t output_count);\n"
        "/* Starts a new sequence (time step 0). */\n"
        "int @N@_reset(@N@_ctx *ctx);\n"
        "/* The seed of stochastic encoders (Poisson spikes) for the following runs; default 0.\n"
        " * 'snnc eval --seed S' uses @N@_batch_seed(S, i) for the batch starting at image i. */\n"
        "int @N@_set_seed(@N@_ctx *ctx, uint64_t seed);\n"
        "uint64_t @N@_batch_seed(uint64_t seed, uint64_t first_image);\n"
        "/* 8-bit images [count][channels][height][width] (at least the model's size; larger ones\n"
        " * are centre-cropped) -> count * @N@_IMAGE_FLOATS input floats, scaled and normalized\n"
        " * as the model's data section says, exactly as 'snnc eval' prepares them. */\n"
        "int @N@_preprocess(@N@_ctx *ctx, const uint8_t *images, size_t count, size_t "
        "channels,\n"
        "                    size_t height, size_t width, float *input, size_t input_count);\n"
        "/* The last failure of ctx in words (\"\" after a success). */\n"
        "const char *@N@_error(const @N@_ctx *ctx);\n"
        "const char *@N@_strerror(int code);\n"
        "/* The variant ctx runs (one of @N@_VARIANTS). */\n"
        "const char *@N@_variant(const @N@_ctx *ctx);\n\n");
    sn_sb_puts(o, "/* Generic names, for programs written against any artifact (see "
                  "snnc_model.h). */\n#ifdef SNNC_GENERIC_NAMES\n");
    static const char *const fns[] = {"create",     "free",  "get_info", "run",
                                      "step",       "reset", "set_seed", "batch_seed",
                                      "preprocess", "error", "strerror", "variant"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        sn_sb_printf(o, "#define snnc_%s %s_%s\n", fns[i], n, fns[i]);
    static const char *const consts[] = {"BATCH",         "CHANNELS",         "HEIGHT",
                                         "WIDTH",         "IMAGE_FLOATS",     "INPUT_FLOATS",
                                         "CLASSES",       "OUTPUT_FLOATS",    "TIME_STEPS",
                                         "STREAMING",     "WEIGHTS_EMBEDDED", "WEIGHT_BYTES",
                                         "CONTEXT_BYTES", "VARIANTS",         "OK",
                                         "ERR_ARG",       "ERR_SIZE",         "ERR_WEIGHTS",
                                         "ERR_CPU",       "ERR_MEMORY",       "ERR_INPUT",
                                         "ERR_STATE",     "ERR_ARTIFACT"};
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
        sn_sb_printf(o, "#define SNNC_%s %s_%s\n", consts[i], n, consts[i]);
    sn_sb_printf(o, "#define SNNC_MODEL_NAME \"%s\"\n", n);
    put(o, n,
        "typedef @N@_ctx snnc_ctx;\n"
        "typedef @N@_options snnc_options;\n"
        "typedef @N@_info snnc_info;\n"
        "#endif\n\n"
        "#ifdef __cplusplus\n}\n#endif\n\n");
    sn_sb_printf(o, "#endif /* %s_H */\n", n);
}

void sn_header_generic(const char *name, sn_strbuf *o) {
    put(o, name,
        "/* snnc_model.h: the artifact @N@ under generic names (snnc_create, snnc_run,\n"
        " * SNNC_BATCH, ...), for programs written against any artifact, such as snnc's\n"
        " * examples/. Include it instead of @N@.h; one model per program this way. */\n"
        "#ifndef SNNC_MODEL_H\n"
        "#define SNNC_MODEL_H\n"
        "#define SNNC_GENERIC_NAMES 1\n"
        "#include \"@N@.h\"\n"
        "#endif\n");
}
