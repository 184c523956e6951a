/* CSV tables and JSON-lines logs of a training run. See report.h.
 *
 * Appends are crash-safe at line granularity: each row or event is one write() of a whole
 * line to a file opened with O_APPEND (no fsync per line: the kernel has it once write
 * returns, so a killed process loses nothing; a power failure may lose the last lines).
 * If a line was cut short anyway (a full disk, a crash mid-write), reopening the file
 * truncates the incomplete last line away, so readers only ever see complete lines. */
#define _POSIX_C_SOURCE 200809L
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/json.h"
#include "../core/util.h"

struct sn_csv {
    char *path;
    int fd;
    int ncol;
};

struct sn_jsonl {
    char *path;
    int fd;
};

/* ---- shared file helpers ---- */

static int open_append(const char *path) {
    int fd;
    do {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0644);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/* Reads exactly n bytes at off (short only at end of file). Returns bytes read or -1. */
static ssize_t pread_full(int fd, char *buf, size_t n, off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, off + (off_t)got);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Writes all of buf (one write() unless the kernel takes less). On failure, cuts what
 * was written of it so that no partial line stays in the file. */
static sn_code append_line(int fd, const char *path, const char *buf, size_t n, sn_status *st) {
    if (fd < 0) return sn_fail(st, SN_ERR_RUNTIME, "%s: the file is not open", path);
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, buf + done, n - done);
        if (k < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            struct stat sb;
            if (done > 0 && fstat(fd, &sb) == 0 && sb.st_size >= (off_t)done) {
                if (ftruncate(fd, sb.st_size - (off_t)done) != 0) { /* best effort */
                }
            }
            return sn_fail(st, SN_ERR_RUNTIME, "%s: write failed: %s", path, strerror(e));
        }
        done += (size_t)k;
    }
    return SN_OK;
}

static sn_code file_size(int fd, const char *path, off_t *size, sn_status *st) {
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return sn_fail(st, SN_ERR_INPUT, "%s: not a regular file", path);
    *size = sb.st_size;
    return SN_OK;
}

/* Cuts an incomplete last line (one without a final newline). *size_out: the new size. */
static sn_code repair_tail(int fd, const char *path, off_t *size_out, sn_status *st) {
    off_t size = 0;
    if (file_size(fd, path, &size, st) != SN_OK) return st->code;
    *size_out = size;
    if (size == 0) return SN_OK;
    char buf[4096];
    if (pread_full(fd, buf, 1, size - 1) != 1)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: read failed: %s", path, strerror(errno));
    if (buf[0] == '\n') return SN_OK;
    off_t keep = 0, end = size;
    while (end > 0 && keep == 0) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t n = pread_full(fd, buf, (size_t)(end - start), start);
        if (n != end - start)
            return sn_fail(st, SN_ERR_RUNTIME, "%s: read failed: %s", path, strerror(errno));
        for (ssize_t i = n - 1; i >= 0; i--) {
            if (buf[i] == '\n') {
                keep = start + i + 1;
                break;
            }
        }
        end = start;
    }
    if (ftruncate(fd, keep) != 0)
        return sn_fail(st, SN_ERR_RUNTIME, "%s: cannot cut the incomplete last line: %s", path,
                       strerror(errno));
    *size_out = keep;
    return SN_OK;
}

/* The first line of the file without its newline (and a trailing '\r'); malloc'd.
 * *complete: whether it ends with a newline. */
static sn_code read_first_line(int fd, const char *path, off_t size, char **out, int *complete,
                               sn_status *st) {
    const size_t max = 1 << 20;
    size_t cap = 256, len = 0;
    char *line = malloc(cap);
    if (!line) return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    for (;;) {
        if (len == cap - 1) {
            if (cap >= max) {
                free(line);
                return sn_fail(st, SN_ERR_INPUT, "%s: the first line is longer than %zu bytes",
                               path, max);
            }
            char *nl = realloc(line, cap * 2);
            if (!nl) {
                free(line);
                return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
            }
            line = nl;
            cap *= 2;
        }
        size_t want = cap - 1 - len;
        if ((off_t)(len + want) > size) want = (size_t)(size - (off_t)len);
        ssize_t k = want ? pread_full(fd, line + len, want, (off_t)len) : 0;
        if (k < 0) {
            free(line);
            return sn_fail(st, SN_ERR_RUNTIME, "%s: read failed: %s", path, strerror(errno));
        }
        char *nlp = memchr(line + len, '\n', (size_t)k);
        len += (size_t)k;
        *complete = nlp != NULL;
        if (nlp || k == 0) {
            if (nlp) len = (size_t)(nlp - line);
            break;
        }
    }
    if (len > 0 && line[len - 1] == '\r') len--;
    line[len] = '\0';
    *out = line;
    return SN_OK;
}

/* ---- CSV ---- */

static void fmt_number(sn_strbuf *sb, double v) {
    if (isnan(v))
        sn_sb_puts(sb, "nan");
    else if (isinf(v))
        sn_sb_puts(sb, v > 0 ? "inf" : "-inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* integers exactly */
        sn_sb_printf(sb, "%.0f", v == 0 ? 0.0 : v);
    else
        sn_sb_printf(sb, "%.9g", v);
}

sn_code sn_csv_open(sn_csv **out, const char *path, const char *const *columns, int ncol,
                    sn_status *st) {
    *out = NULL;
    if (!path || !*path) return sn_fail(st, SN_ERR_INPUT, "CSV: no file name");
    if (ncol <= 0 || !columns)
        return sn_fail(st, SN_ERR_INPUT, "%s: a CSV table needs at least one column", path);
    sn_strbuf header;
    sn_sb_init(&header);
    for (int i = 0; i < ncol; i++) {
        const char *name = columns[i];
        if (!name || !*name || strpbrk(name, ",\"\r\n")) {
            sn_sb_free(&header);
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: bad CSV column name \"%s\" (must be non-empty, without commas, "
                           "quotes or newlines)",
                           path, name ? name : "(null)");
        }
        sn_sb_printf(&header, "%s%s", i ? "," : "", name);
    }
    sn_sb_puts(&header, "\n");
    sn_csv *c = sn_calloc(1, sizeof *c);
    if (c) c->path = sn_strdup(path);
    if (!c || !c->path || header.oom) {
        if (c) free(c->path);
        free(c);
        sn_sb_free(&header);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    }
    c->ncol = ncol;
    c->fd = open_append(path);
    if (c->fd < 0) {
        sn_fail(st, SN_ERR_RUNTIME, "%s: cannot open for appending: %s", path, strerror(errno));
        goto fail;
    }
    /* The header first, so that a file of another configuration is left untouched. */
    off_t size = 0;
    if (file_size(c->fd, path, &size, st) != SN_OK) goto fail;
    if (size > 0) {
        char *first = NULL;
        int complete = 0;
        if (read_first_line(c->fd, path, size, &first, &complete, st) != SN_OK) goto fail;
        header.data[header.len - 1] = '\0'; /* compared without the newline */
        /* A cut header (killed while creating the file) must be the start of ours. */
        int same = complete ? strcmp(first, header.data) == 0
                            : strncmp(first, header.data, strlen(first)) == 0;
        if (!same)
            sn_fail(st, SN_ERR_INPUT,
                    "%s: the existing file's header does not match the columns of this run:\n"
                    "  in the file: %s\n  expected:    %s\n"
                    "(move the file away, or resume with the same configuration)",
                    path, first, header.data);
        header.data[header.len - 1] = '\n';
        free(first);
        if (!same) goto fail;
    }
    /* Then an incomplete last line (a cut row, or a cut header) goes. */
    if (repair_tail(c->fd, path, &size, st) != SN_OK) goto fail;
    if (size == 0) {
        /* New (or empty) file: the header first, durably, so that it never gets lost. */
        if (append_line(c->fd, path, header.data, header.len, st) != SN_OK) goto fail;
        if (fsync(c->fd) != 0) {
            sn_fail(st, SN_ERR_RUNTIME, "%s: fsync failed: %s", path, strerror(errno));
            goto fail;
        }
    }
    sn_sb_free(&header);
    *out = c;
    return SN_OK;
fail:
    sn_sb_free(&header);
    sn_csv_close(c);
    return st->code;
}

sn_code sn_csv_row(sn_csv *c, const double *values, sn_status *st) {
    if (!c || !values) return sn_fail(st, SN_ERR_INPUT, "CSV: no table or no values");
    sn_strbuf line;
    sn_sb_init(&line);
    for (int i = 0; i < c->ncol; i++) {
        if (i) sn_sb_puts(&line, ",");
        fmt_number(&line, values[i]);
    }
    sn_sb_puts(&line, "\n");
    sn_code rc = line.oom ? sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", c->path)
                          : append_line(c->fd, c->path, line.data, line.len, st);
    sn_sb_free(&line);
    return rc;
}

/* Parses a whole field as a number (surrounding spaces allowed). */
static int parse_field(const char *b, const char *e, double *v) {
    while (b < e && (*b == ' ' || *b == '\t')) b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
    char buf[80];
    size_t n = (size_t)(e - b);
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, b, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (end != buf + n) return 0;
    *v = x;
    return 1;
}

sn_code sn_csv_truncate_from(sn_csv *c, double first_value, sn_status *st) {
    if (!c) return sn_fail(st, SN_ERR_INPUT, "CSV: no table");
    unsigned char *data;
    size_t size;
    if (sn_read_file(c->path, &data, &size, st) != SN_OK) return st->code;
    const char *text = (const char *)data;
    sn_strbuf kept;
    sn_sb_init(&kept);
    int dropped = 0, first_line = 1;
    for (size_t pos = 0; pos < size;) {
        const char *b = text + pos;
        const char *nl = memchr(b, '\n', size - pos);
        if (!nl) { /* incomplete last line: dropped */
            dropped = 1;
            break;
        }
        size_t len = (size_t)(nl - b) + 1;
        pos += len;
        if (!first_line) {
            const char *comma = memchr(b, ',', len - 1);
            const char *fe = comma ? comma : nl;
            if (fe > b && fe[-1] == '\r') fe--;
            double v;
            if (parse_field(b, fe, &v) && v >= first_value) {
                dropped = 1;
                continue;
            }
        }
        first_line = 0;
        sn_sb_append(&kept, b, len);
    }
    sn_code rc = SN_OK;
    if (kept.oom) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", c->path);
    } else if (dropped) {
        rc = sn_write_file_atomic(c->path, kept.data ? kept.data : "", kept.len, st);
        if (rc == SN_OK) {
            /* The file was replaced: append to the new one. */
            close(c->fd);
            c->fd = open_append(c->path);
            if (c->fd < 0)
                rc = sn_fail(st, SN_ERR_RUNTIME, "%s: cannot reopen for appending: %s", c->path,
                             strerror(errno));
        }
    }
    sn_sb_free(&kept);
    free(data);
    return rc;
}

void sn_csv_close(sn_csv *c) {
    if (!c) return;
    if (c->fd >= 0) {
        fsync(c->fd); /* best effort: the rows are complete either way */
        close(c->fd);
    }
    free(c->path);
    free(c);
}

/* ---- JSON lines ---- */

sn_code sn_jsonl_open(sn_jsonl **out, const char *path, sn_status *st) {
    *out = NULL;
    if (!path || !*path) return sn_fail(st, SN_ERR_INPUT, "log: no file name");
    sn_jsonl *l = sn_calloc(1, sizeof *l);
    if (l) l->path = sn_strdup(path);
    if (!l || !l->path) {
        if (l) free(l->path);
        free(l);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    }
    l->fd = open_append(path);
    off_t size = 0;
    if (l->fd < 0) {
        sn_fail(st, SN_ERR_RUNTIME, "%s: cannot open for appending: %s", path, strerror(errno));
    } else if (repair_tail(l->fd, path, &size, st) == SN_OK) {
        *out = l;
        return SN_OK;
    }
    sn_jsonl_close(l);
    return st->code;
}

sn_code sn_jsonl_event(sn_jsonl *l, const char *event, const char *fields, sn_status *st) {
    if (!l || !event) return sn_fail(st, SN_ERR_INPUT, "log: no log or no event name");
    if (!fields) fields = "";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    sn_strbuf line;
    sn_sb_init(&line);
    sn_sb_printf(&line, "{\"time\": %.3f, \"event\": ", now);
    sn_sb_json_str(&line, event);
    const char *p = fields;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (*p) {
        sn_sb_puts(&line, ", ");
        size_t start = line.len;
        sn_sb_puts(&line, p);
        /* A raw newline can only be whitespace between tokens in valid JSON (strings
         * hold them escaped): keep the event on one line. */
        for (size_t i = start; i < line.len && !line.oom; i++)
            if (line.data[i] == '\n' || line.data[i] == '\r') line.data[i] = ' ';
    }
    sn_sb_puts(&line, "}");
    sn_code rc = SN_OK;
    if (line.oom) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", l->path);
    } else {
        sn_status js;
        sn_status_init(&js);
        sn_json parsed;
        if (sn_json_parse("event", line.data, line.len, &parsed, &js) != SN_OK)
            rc = sn_fail(st, SN_ERR_INPUT,
                         "%s: event \"%s\": the fields are not a valid JSON object body (%s): %s",
                         l->path, event, js.msg, fields);
        sn_json_free(&parsed);
    }
    if (rc == SN_OK) {
        sn_sb_puts(&line, "\n");
        rc = line.oom ? sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", l->path)
                      : append_line(l->fd, l->path, line.data, line.len, st);
    }
    sn_sb_free(&line);
    return rc;
}

void sn_jsonl_close(sn_jsonl *l) {
    if (!l) return;
    if (l->fd >= 0) {
        fsync(l->fd);
        close(l->fd);
    }
    free(l->path);
    free(l);
}

/* ---- reading CSV ---- */

typedef struct field {
    const char *b, *e;
} field;

/* Splits [b, e) at commas into f[0..cap); returns the number of fields. */
static int split_fields(const char *b, const char *e, field *f, int cap) {
    int n = 0;
    const char *s = b;
    for (const char *p = b;; p++) {
        if (p == e || *p == ',') {
            if (n < cap) {
                f[n].b = s;
                f[n].e = p;
            }
            n++;
            s = p + 1;
            if (p == e) break;
        }
    }
    return n;
}

void sn_csv_free_columns(double **cols, int ncol) {
    if (!cols) return;
    for (int i = 0; i < ncol; i++) free(cols[i]);
    free(cols);
}

sn_code sn_csv_read(const char *path, const char *const *names, int ncol, double ***cols,
                    int *nrows, sn_status *st) {
    *cols = NULL;
    *nrows = 0;
    if (!path || ncol < 0 || (ncol > 0 && !names))
        return sn_fail(st, SN_ERR_INPUT, "CSV: bad arguments to read %s", path ? path : "(null)");
    unsigned char *data;
    size_t size;
    if (sn_read_file(path, &data, &size, st) != SN_OK) return st->code;
    const char *text = (const char *)data, *end = text + size;
    double **out = NULL;
    field *f = NULL;
    int *idx = NULL;
    int rows = 0;
    sn_code rc = SN_ERR_INPUT; /* until the end is reached */

    const char *nl = memchr(text, '\n', size);
    const char *hb = text, *he = nl ? nl : end;
    if (he > hb && he[-1] == '\r') he--;
    if (he == hb) {
        sn_fail(st, SN_ERR_INPUT, "%s:1: no header line", path);
        goto done;
    }
    int nh = split_fields(hb, he, NULL, 0);
    f = sn_calloc((size_t)nh, sizeof *f);
    idx = sn_calloc((size_t)(ncol > 0 ? ncol : 1), sizeof *idx);
    out = sn_calloc((size_t)(ncol > 0 ? ncol : 1), sizeof *out);
    if (!f || !idx || !out) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
        goto done;
    }
    split_fields(hb, he, f, nh);
    for (int j = 0; j < ncol; j++) {
        idx[j] = -1;
        const char *want = names[j] ? names[j] : "";
        for (int i = 0; i < nh && idx[j] < 0; i++)
            if ((size_t)(f[i].e - f[i].b) == strlen(want) &&
                memcmp(f[i].b, want, (size_t)(f[i].e - f[i].b)) == 0)
                idx[j] = i;
        if (idx[j] < 0) {
            sn_fail(st, SN_ERR_INPUT, "%s:1: no column \"%s\" (the columns are: %.*s)", path, want,
                    (int)(he - hb), hb);
            goto done;
        }
    }
    /* Upper bound on the number of rows: the number of lines. */
    size_t maxrows = 1;
    for (const char *p = text; p < end; p++)
        if (*p == '\n') maxrows++;
    for (int j = 0; j < ncol; j++) {
        out[j] = sn_calloc(maxrows, sizeof **out);
        if (!out[j]) {
            rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
            goto done;
        }
    }
    int lineno = 1;
    for (const char *b = nl ? nl + 1 : end; b < end;) {
        lineno++;
        const char *e = memchr(b, '\n', (size_t)(end - b));
        int complete = e != NULL;
        if (!e) e = end;
        const char *next = complete ? e + 1 : end;
        if (e > b && e[-1] == '\r') e--;
        if (e == b) { /* blank line */
            b = next;
            continue;
        }
        int n = split_fields(b, e, f, nh);
        if (n != nh) {
            if (!complete) break; /* a row being written or cut off: not there yet */
            sn_fail(st, SN_ERR_INPUT, "%s:%d: expected %d fields, found %d", path, lineno, nh, n);
            goto done;
        }
        int bad = -1;
        for (int j = 0; j < ncol && bad < 0; j++) {
            const field *fj = &f[idx[j]];
            double v = NAN; /* an empty field is a missing value */
            const char *fb = fj->b;
            while (fb < fj->e && (*fb == ' ' || *fb == '\t')) fb++;
            if (fb < fj->e && !parse_field(fj->b, fj->e, &v)) bad = j;
            out[j][rows] = v;
        }
        if (bad >= 0) {
            if (!complete) break;
            const field *fj = &f[idx[bad]];
            sn_fail(st, SN_ERR_INPUT, "%s:%d: column \"%s\": \"%.*s\" is not a number", path,
                    lineno, names[bad], (int)SN_MIN(fj->e - fj->b, 60), fj->b);
            goto done;
        }
        rows++;
        b = next;
    }
    *cols = out;
    *nrows = rows;
    out = NULL;
    rc = SN_OK;
done:
    sn_csv_free_columns(out, ncol);
    free(f);
    free(idx);
    free(data);
    return rc;
}
