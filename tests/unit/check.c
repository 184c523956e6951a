#define _POSIX_C_SOURCE 200809L
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sn_test_failures = 0;
const char *sn_test_current = "";

int sn_test_result(void) {
    if (sn_test_failures) fprintf(stderr, "%d check(s) failed\n", sn_test_failures);
    return sn_test_failures ? 1 : 0;
}

const char *sn_test_tmpdir(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    const char *base = getenv("SNNC_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof dir, "%s/t%ld", base, (long)getpid());
    mkdir(dir, 0755);
    return dir;
}

int sn_test_quick(void) {
    const char *q = getenv("SNNC_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static int by_path(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int sn_test_models(char **paths, int cap) {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/../models", SNNC_TEST_DIR);
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "cannot read %s", dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        size_t size = strlen(dir) + len + 2;
        paths[n] = malloc(size);
        if (!paths[n]) break;
        snprintf(paths[n++], size, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(paths, (size_t)n, sizeof *paths, by_path);
    return n;
}

const char *sn_test_basename(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}
