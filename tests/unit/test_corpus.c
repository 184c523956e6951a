/* Replays the malformed-YAML corpus (every .yaml file in tests/corpus): every file must give
 * SN_ERR_INPUT with a message that says where (FILE:LINE:COL, or the "--set KEY" it came
 * from), never a crash. A corpus file may start with comment lines
 *   # --set KEY=VALUE     an override to apply
 *   # expect: TEXT        text the message must contain
 * Also parses every model in models/, and every truncation of each, which must either parse or
 * fail cleanly with a position. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/frontend/spec.h"
#include "runtime/core/util.h"

#define CORPUS_DIR SNNC_TEST_DIR "/corpus"
#define MODELS_DIR SNNC_SOURCE_DIR "/models"
#define MAX_FILES  1024

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the *.yaml files in dir; returns the count (names freed by the caller). */
static int list_yaml(const char *dir, char **names) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_FILES) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".yaml") == 0) names[n++] = sn_strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

/* Does msg hold "NAME:LINE:COL" (NAME = the name given to the parser)? */
static int has_position(const char *msg, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = strstr(msg, name); p; p = strstr(p + 1, name)) {
        const char *q = p + nl;
        if (*q++ != ':') continue;
        if (*q < '0' || *q > '9') continue;
        while (*q >= '0' && *q <= '9') q++;
        if (*q++ != ':') continue;
        if (*q < '0' || *q > '9') continue;
        return 1;
    }
    return 0;
}

static int has_where(const char *msg, const char *name) {
    return has_position(msg, name) || strncmp(msg, "--set ", 6) == 0;
}

/* Collects "# --set" and "# expect:" header lines. */
static int read_header(const char *text, char sets[][512], int max_sets, char *expect,
                       size_t expect_size) {
    int n = 0;
    expect[0] = '\0';
    const char *p = text;
    while (*p == '#') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > 8 && strncmp(p, "# --set ", 8) == 0 && n < max_sets && len - 8 < 512) {
            memcpy(sets[n], p + 8, len - 8);
            sets[n][len - 8] = '\0';
            n++;
        } else if (len > 10 && strncmp(p, "# expect: ", 10) == 0 && len - 10 < expect_size) {
            memcpy(expect, p + 10, len - 10);
            expect[len - 10] = '\0';
        }
        if (!eol) break;
        p = eol + 1;
    }
    return n;
}

static void test_corpus_rejected_with_position(void) {
    char *names[MAX_FILES];
    int n = list_yaml(CORPUS_DIR, names);
    CHECK_MSG(n >= 40, "only %d corpus files in %s", n, CORPUS_DIR);
    for (int i = 0; i < n; i++) {
        char path[2048];
        sn_path_join(path, sizeof path, CORPUS_DIR, names[i]);
        unsigned char *text = NULL;
        size_t size = 0;
        sn_status st;
        sn_status_init(&st);
        CHECK(sn_read_file(path, &text, &size, &st) == SN_OK);
        char sets[8][512], expect[512];
        int nsets = read_header(text ? (const char *)text : "", sets, 8, expect, sizeof expect);
        const char *setp[8];
        for (int k = 0; k < nsets; k++) setp[k] = sets[k];
        sn_model_spec s;
        sn_status_init(&st);
        sn_code rc = sn_spec_parse(names[i], (const char *)text, size, setp, nsets, &s, &st);
        CHECK_MSG(rc == SN_ERR_INPUT, "%s: expected SN_ERR_INPUT, got %d: %s", names[i], rc,
                  st.msg);
        CHECK_MSG(has_where(st.msg, names[i]), "%s: no position in: %s", names[i], st.msg);
        if (expect[0])
            CHECK_MSG(strstr(st.msg, expect) != NULL, "%s: expected \"%s\" in: %s", names[i],
                      expect, st.msg);
        CHECK(s.layers == NULL);
        sn_spec_free(&s);
        free(text);
        free(names[i]);
    }
}

static void test_models_parse(void) {
    char *names[MAX_FILES];
    int n = list_yaml(MODELS_DIR, names);
    CHECK(n >= 9);
    for (int i = 0; i < n; i++) {
        char path[2048];
        sn_path_join(path, sizeof path, MODELS_DIR, names[i]);
        sn_model_spec s;
        sn_status st;
        sn_status_init(&st);
        CHECK_MSG(sn_spec_load(path, NULL, 0, &s, &st) == SN_OK, "%s: %s", names[i], st.msg);
        CHECK(s.nlayers > 0);
        sn_spec_free(&s);

        /* every prefix of the file parses or fails cleanly, with a position */
        unsigned char *text = NULL;
        size_t size = 0;
        CHECK(sn_read_file(path, &text, &size, &st) == SN_OK);
        int failures = 0;
        for (size_t cut = 0; text && cut < size && failures < 5; cut++) {
            sn_status_init(&st);
            sn_code rc = sn_spec_parse(names[i], (const char *)text, cut, NULL, 0, &s, &st);
            if (rc == SN_OK) {
                sn_spec_free(&s);
                continue;
            }
            if (rc != SN_ERR_INPUT || !has_position(st.msg, names[i])) {
                CHECK_MSG(0, "%s cut at %zu: rc %d, message: %s", names[i], cut, rc, st.msg);
                failures++;
            }
        }
        free(text);
        free(names[i]);
    }
}

int main(void) {
    RUN(test_corpus_rejected_with_position);
    RUN(test_models_parse);
    return sn_test_result();
}
