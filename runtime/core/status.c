#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void sn_status_init(sn_status *st) {
    st->code = SN_OK;
    st->msg[0] = '\0';
}

static void vappend(sn_status *st, const char *fmt, va_list ap) {
    size_t len = strlen(st->msg);
    if (len >= sizeof st->msg - 1) return;
    vsnprintf(st->msg + len, sizeof st->msg - len, fmt, ap);
}

sn_code sn_fail(sn_status *st, sn_code code, const char *fmt, ...) {
    if (st->code != SN_OK) return st->code;
    st->code = code;
    st->msg[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vappend(st, fmt, ap);
    va_end(ap);
    return code;
}

void sn_status_context(sn_status *st, const char *fmt, ...) {
    if (st->code == SN_OK) return;
    size_t len = strlen(st->msg);
    if (len + 2 < sizeof st->msg) {
        st->msg[len] = '\n';
        st->msg[len + 1] = '\0';
    }
    va_list ap;
    va_start(ap, fmt);
    vappend(st, fmt, ap);
    va_end(ap);
}

void sn_status_append(sn_status *st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vappend(st, fmt, ap);
    va_end(ap);
}
