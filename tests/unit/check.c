#define _POSIX_C_SOURCE 200809L
#include "check.h"

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
