/* libFuzzer target for the frontend: YAML bytes -> sn_spec_parse.
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks on every input: an input
 * error always says where (FILE:LINE:COL or the --set override); every layer of a parsed
 * spec has a source position; and a spec that parses prints to YAML that parses back into an
 * equal spec. A first line "# --set KEY=VALUE" is also applied as an override, so overrides
 * get fuzzed too.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSNNC_FUZZ=ON, then (libFuzzer adds new inputs to
 * the first directory, so keep the checked-in seeds second):
 *   mkdir -p /tmp/fz && ./fuzz_frontend -dict=tests/fuzz/fuzz_frontend.dict -max_len=8192 \
 *       /tmp/fz tests/fuzz/corpus_frontend */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/frontend/spec.h"
#include "runtime/core/util.h"

static void fail(const char *what, const char *detail, const char *text) {
    fprintf(stderr, "fuzz_frontend: %s\n%s\n--- printed ---\n%s\n", what, detail, text ? text : "");
    abort();
}

/* "fuzz.yaml:LINE:COL" somewhere in msg. */
static int has_position(const char *msg) {
    for (const char *p = strstr(msg, "fuzz.yaml:"); p; p = strstr(p + 1, "fuzz.yaml:")) {
        const char *q = p + 10;
        if (*q < '0' || *q > '9') continue;
        while (*q >= '0' && *q <= '9') q++;
        if (*q == ':' && q[1] >= '0' && q[1] <= '9') return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char set[512];
    const char *sets[1];
    int nsets = 0;
    if (size > 8 && memcmp(data, "# --set ", 8) == 0) {
        size_t i = 8;
        while (i < size && data[i] != '\n' && i - 8 < sizeof set - 1) i++;
        memcpy(set, data + 8, i - 8);
        set[i - 8] = '\0';
        if (strlen(set) == i - 8) {
            sets[0] = set;
            nsets = 1;
        }
    }
    sn_status st;
    sn_status_init(&st);
    sn_model_spec spec;
    sn_code rc = sn_spec_parse("fuzz.yaml", (const char *)data, size, sets, nsets, &spec, &st);
    if (rc == SN_ERR_INPUT) {
        if (!has_position(st.msg) && strncmp(st.msg, "--set ", 6) != 0)
            fail("an input error without a position", st.msg, NULL);
        if (spec.layers || spec.nlayers) fail("a failed parse left layers behind", st.msg, NULL);
        return 0;
    }
    if (rc != SN_OK) return 0; /* out of memory */

    /* every layer knows where it was written (for shape errors later) */
    for (int i = 0; i < spec.nlayers && nsets == 0; i++)
        if (spec.layers[i].loc.line < 1 || spec.layers[i].loc.col < 1)
            fail("a layer without a source position", spec.layers[i].module, NULL);

    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_spec_print_yaml(&spec, &sb);
    sn_model_spec again;
    sn_status st2;
    sn_status_init(&st2);
    if (sn_spec_parse("printed.yaml", sn_sb_cstr(&sb), sb.len, NULL, 0, &again, &st2) != SN_OK)
        fail("the printed spec does not parse", st2.msg, sn_sb_cstr(&sb));
    char why[256];
    if (!sn_spec_equal(&spec, &again, why, sizeof why))
        fail("the printed spec parses into a different spec", why, sn_sb_cstr(&sb));
    sn_spec_free(&again);
    sn_sb_free(&sb);
    sn_spec_free(&spec);
    return 0;
}
