/* What a training run leaves in its directory: CSV tables, a JSON-lines log, and SVG
 * charts. Charts are written atomically (temporary, fsync, rename); the CSV and JSON-lines
 * files are appended one whole line at a time (a cut last line is repaired on reopen), so
 * a run killed at any moment leaves only complete rows. */
#ifndef SN_REPORT_H
#define SN_REPORT_H

#include <stdint.h>

#include "../core/status.h"

/* ---- SVG charts ---- */

typedef struct sn_series {
    const char *name; /* legend entry */
    const double *x, *y;
    int n;
} sn_series;

typedef struct sn_chart {
    const char *title;
    const char *xlabel, *ylabel;
    int log_y; /* logarithmic y axis (losses) */
    int log_x;
} sn_chart;

/* A line chart of one or more series (non-finite points are skipped; an empty series is
 * drawn as a note "no data"). Axis ticks at round numbers, a legend, a title. */
sn_code sn_svg_lines(const char *path, const sn_chart *c, const sn_series *s, int ns,
                     sn_status *st);

/* A bar chart: one group of bars per category, one bar per series (series[k].y[i] is the
 * value of series k for category i; x is ignored). Category labels under the bars. */
sn_code sn_svg_bars(const char *path, const sn_chart *c, const char *const *categories, int ncat,
                    const sn_series *s, int ns, sn_status *st);

/* ---- tables and logs ---- */

/* An append-only CSV file: the header is written when the file is created; each row is
 * appended and flushed. Reopening an existing file (resume) keeps its rows and checks the
 * header matches. */
typedef struct sn_csv sn_csv;
sn_code sn_csv_open(sn_csv **out, const char *path, const char *const *columns, int ncol,
                    sn_status *st);
/* Appends one row of ncol numbers (printed with %.9g; integers exactly). */
sn_code sn_csv_row(sn_csv *c, const double *values, sn_status *st);
/* Drops rows whose first column is >= first_value (resuming from a checkpoint taken before
 * those rows were written). */
sn_code sn_csv_truncate_from(sn_csv *c, double first_value, sn_status *st);
void sn_csv_close(sn_csv *c);

/* A JSON-lines log: one object per line, {"time": <unix seconds>, "event": ..., ...}. */
typedef struct sn_jsonl sn_jsonl;
sn_code sn_jsonl_open(sn_jsonl **out, const char *path, sn_status *st);
/* fields: a JSON object body without braces, e.g. "\"epoch\": 3, \"loss\": 0.5" (may be ""). */
sn_code sn_jsonl_event(sn_jsonl *l, const char *event, const char *fields, sn_status *st);
void sn_jsonl_close(sn_jsonl *l);

/* Reads back a CSV written by sn_csv (for plotting): columns by name. Returns the number of
 * rows; *cols receives ncol malloc'd arrays (free with sn_csv_free_columns). */
sn_code sn_csv_read(const char *path, const char *const *names, int ncol, double ***cols,
                    int *nrows, sn_status *st);
void sn_csv_free_columns(double **cols, int ncol);

#endif
