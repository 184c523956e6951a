/* Recoverable errors for library code.
 *
 * Every fallible function takes an `sn_status *` and returns an sn_code. The first
 * failure recorded wins (later calls to sn_fail on a failed status only append a
 * "while ..." context line), so callers can add context without losing the origin.
 * Nothing in library code aborts on user input.
 */
#ifndef SN_STATUS_H
#define SN_STATUS_H

#include <stddef.h>

typedef enum sn_code {
    SN_OK = 0,
    SN_ERR_RUNTIME = 1, /* something failed while running (I/O, out of memory, driver) */
    SN_ERR_INPUT = 2,   /* bad usage or bad input: YAML, data file, weights, flags */
} sn_code;

#define SN_STATUS_MSG_MAX 8192

typedef struct sn_status {
    sn_code code;
    char msg[SN_STATUS_MSG_MAX];
} sn_status;

void sn_status_init(sn_status *st);

/* Records a failure (printf-style message) unless one is already recorded; returns code. */
sn_code sn_fail(sn_status *st, sn_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a line to an already-failed status (e.g. "while loading weights"). */
void sn_status_context(sn_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a line to the message even if the status is OK (for multi-line reports). */
void sn_status_append(sn_status *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline int sn_ok(const sn_status *st) {
    return st->code == SN_OK;
}

#endif
