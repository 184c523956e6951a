/* A minimal test harness: CHECK macros count failures; each test file's main() runs its
 * tests with RUN() and returns sn_test_result(). */
#ifndef SN_CHECK_H
#define SN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

extern int sn_test_failures;
extern const char *sn_test_current;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s\n", __FILE__, __LINE__, sn_test_current, \
                    #cond);                                                                        \
            sn_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: [%s] CHECK failed: %s: ", __FILE__, __LINE__, sn_test_current, \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            sn_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                              \
    do {                                                                                           \
        double ca_ = (double)(a), cb_ = (double)(b);                                               \
        if (!(fabs(ca_ - cb_) <= (atol) + (rtol)*fabs(cb_))) {                                     \
            fprintf(stderr, "%s:%d: [%s] CHECK_CLOSE failed: %s = %.9g, %s = %.9g\n", __FILE__,    \
                    __LINE__, sn_test_current, #a, ca_, #b, cb_);                                  \
            sn_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long ca_ = (long long)(a), cb_ = (long long)(b);                                      \
        if (ca_ != cb_) {                                                                          \
            fprintf(stderr, "%s:%d: [%s] CHECK_EQ failed: %s = %lld, %s = %lld\n", __FILE__,       \
                    __LINE__, sn_test_current, #a, ca_, #b, cb_);                                  \
            sn_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/* Checks that string s contains substring sub. */
#define CHECK_CONTAINS(s, sub)                                                                     \
    do {                                                                                           \
        const char *cs_ = (s);                                                                     \
        if (!cs_ || !strstr(cs_, (sub))) {                                                         \
            fprintf(stderr, "%s:%d: [%s] expected \"%s\" in: %s\n", __FILE__, __LINE__,            \
                    sn_test_current, (sub), cs_ ? cs_ : "(null)");                                 \
            sn_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        sn_test_current = #fn;                                                                     \
        int before_ = sn_test_failures;                                                            \
        fn();                                                                                      \
        fprintf(stderr, "%s %s\n", sn_test_failures == before_ ? "ok  " : "FAIL", #fn);            \
    } while (0)

int sn_test_result(void);
/* Whether to run a reduced set (SNNC_TEST_QUICK is set: the sanitizer build). */
int sn_test_quick(void);
/* A scratch directory for this test binary (created), from $SNNC_TEST_TMP or /tmp. */
const char *sn_test_tmpdir(void);
/* The model files of the source tree (every .yaml file in models/) sorted by name: their full
 * paths, malloc'd, in paths[0..n). Returns n (after a failed CHECK, 0, if the folder cannot be
 * read). */
int sn_test_models(char **paths, int cap);
/* The file name part of a path. */
const char *sn_test_basename(const char *path);

#endif
