/* SVG line and bar charts for training reports. See report.h.
 *
 * Every chart is a self-contained SVG 1.1 document of 720x450 user units: no scripts,
 * no external fonts or images. Layout: title on top, plot area with grid lines and
 * round-number ticks (1-2-5 steps on linear axes, decades on log axes), axis labels, and
 * a legend to the right of the plot. All text is XML-escaped (invalid UTF-8 and control
 * characters are replaced), and the file is written atomically. */
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define SVG_W 720.0
#define SVG_H 450.0
/* Average advance of an 11px sans-serif glyph, for layout estimates. */
#define CHAR_W 6.2
/* Values beyond this magnitude are treated like non-finite ones (their spans overflow). */
#define VALUE_MAX 1e300
#define MAX_TICKS 160
/* Longest legend entry / category label drawn, in characters (longer ones get "…"). */
#define LEGEND_CHARS   28
#define CATEGORY_CHARS 28
/* Series with at most this many points get point markers. */
#define MARKER_POINTS 60

static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static const char *series_color(int k) {
    return palette[k % 10];
}

/* Series beyond the palette repeat its colours with a dash pattern, so they stay distinct. */
static const char *series_dash(int k) {
    static const char *const dashes[4] = {"", "6,3", "2,2", "8,3,2,3"};
    return dashes[(k / 10) % 4];
}

/* ---- text ---- */

/* Length in bytes of the valid UTF-8 sequence at p that encodes an XML character, or 0. */
static int utf8_char(const unsigned char *p) {
    unsigned c = p[0];
    uint32_t cp;
    int len;
    if (c < 0x80) return c >= 0x20 ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
    if ((cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff) return 0;
    return len;
}

/* Number of characters of s as drawn by xml_text. */
static int text_chars(const char *s) {
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int k = utf8_char(p);
        p += k ? k : 1;
        n++;
    }
    return n;
}

/* Appends s escaped for XML text or attribute values. Characters XML cannot hold
 * (control characters, invalid UTF-8) become '?' (tabs and newlines a space). With
 * max_chars > 0, longer text is cut and ends with an ellipsis. */
static void xml_text(sn_strbuf *sb, const char *s, int max_chars) {
    if (!s) return;
    int total = text_chars(s);
    int limit = (max_chars > 0 && total > max_chars) ? max_chars - 1 : -1;
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        if (limit >= 0 && n == limit) {
            sn_sb_puts(sb, "\xe2\x80\xa6"); /* U+2026 */
            return;
        }
        int k = utf8_char(p);
        if (k == 0) {
            sn_sb_puts(sb, (*p == '\t' || *p == '\n' || *p == '\r') ? " " : "?");
            p++;
            continue;
        }
        switch (*p) {
        case '&':
            sn_sb_puts(sb, "&amp;");
            break;
        case '<':
            sn_sb_puts(sb, "&lt;");
            break;
        case '>':
            sn_sb_puts(sb, "&gt;");
            break;
        case '"':
            sn_sb_puts(sb, "&quot;");
            break;
        case '\'':
            sn_sb_puts(sb, "&apos;");
            break;
        default:
            sn_sb_append(sb, (const char *)p, (size_t)k);
        }
        p += k;
    }
}

static int has_text(const char *s) {
    return s && *s;
}

/* ---- axes ---- */

typedef struct axis {
    int log;
    double lo, hi; /* linear: values; log: decades (log10 of values) */
    int n;
    double pos[MAX_TICKS]; /* tick positions in axis units */
    int major[MAX_TICKS];  /* major ticks get a darker grid line */
    char label[MAX_TICKS][32];
    int label_chars; /* longest label */
} axis;

/* Data range collector: values outside the axis's domain are ignored. */
typedef struct range {
    int log, any, all_int;
    double min, max;
} range;

static void range_init(range *r, int log) {
    memset(r, 0, sizeof *r);
    r->log = log;
    r->all_int = 1;
}

static int value_ok(double v, int log) {
    if (!isfinite(v) || fabs(v) > VALUE_MAX) return 0;
    return !log || v > 0;
}

static void range_add(range *r, double v) {
    if (!r->any || v < r->min) r->min = v;
    if (!r->any || v > r->max) r->max = v;
    if (v != floor(v)) r->all_int = 0;
    r->any = 1;
}

/* 1, 2 or 5 times a power of ten, close to x (> 0). */
static double nice_step(double x) {
    double e = floor(log10(x));
    double p = pow(10.0, e);
    double f = x / p;
    double nf = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    return nf * p;
}

static void axis_add(axis *a, double pos, int major, const char *label) {
    if (a->n >= MAX_TICKS) return;
    a->pos[a->n] = pos;
    a->major[a->n] = major;
    sn_strlcpy(a->label[a->n], label ? label : "", sizeof a->label[a->n]);
    int len = text_chars(a->label[a->n]);
    if (len > a->label_chars) a->label_chars = len;
    a->n++;
}

/* Linear axis over [min, max] extended to whole steps; integer_only keeps steps >= 1. */
static void axis_linear(axis *a, double min, double max, int any, int integer_only) {
    memset(a, 0, sizeof *a);
    if (!any) {
        min = 0;
        max = 1;
    }
    double mag = SN_MAX(fabs(min), fabs(max));
    if (max - min <= 1e-12 * mag) { /* all equal: a range around the value */
        double d = mag > 0 ? mag * 0.1 : 1.0;
        if (integer_only && d < 1) d = 1;
        min -= d;
        max += d;
    }
    double step = nice_step((max - min) / 5.0);
    if (integer_only && step < 1) step = 1;
    double k0 = floor(min / step + 1e-9), k1 = ceil(max / step - 1e-9);
    if (k1 <= k0) k1 = k0 + 1;
    a->lo = k0 * step;
    a->hi = k1 * step;
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    mag = SN_MAX(fabs(a->lo), fabs(a->hi));
    int use_g = mag >= 1e6 || (decimals > 6 && mag < 1e-3);
    int prec = (int)ceil(log10(mag / step)) + 1;
    if (prec < 1) prec = 1;
    if (prec > 15) prec = 15;
    for (double k = k0; k <= k1 && a->n < MAX_TICKS; k++) {
        double v = k * step;
        if (fabs(v) < step * 1e-9) v = 0; /* no "-0" */
        char buf[32];
        if (use_g)
            snprintf(buf, sizeof buf, "%.*g", prec, v);
        else
            snprintf(buf, sizeof buf, "%.*f", decimals, v);
        axis_add(a, v, 1, buf);
    }
}

static void decade_label(char *buf, size_t n, int e) {
    if (e >= -4 && e <= 5)
        snprintf(buf, n, "%.*f", e < 0 ? -e : 0, pow(10.0, e));
    else
        snprintf(buf, n, "1e%d", e);
}

/* Logarithmic axis over whole decades covering [min, max] (both > 0). */
static void axis_log(axis *a, double min, double max, int any) {
    memset(a, 0, sizeof *a);
    a->log = 1;
    if (!any) min = max = 1;
    double lo = floor(log10(min) + 1e-9), hi = ceil(log10(max) - 1e-9);
    if (hi <= lo) hi = lo + 1;
    a->lo = lo;
    a->hi = hi;
    int decades = (int)(hi - lo);
    int every = decades > 8 ? (decades + 7) / 8 : 1;
    for (int e = (int)lo; e <= (int)hi; e++) {
        if ((e - (int)lo) % every == 0 || e == (int)hi) {
            char buf[32];
            decade_label(buf, sizeof buf, e);
            axis_add(a, e, 1, buf);
        }
        if (decades <= 6 && e < (int)hi) {
            for (int m = 2; m <= 9; m++) {
                char buf[32] = "";
                if (decades <= 2 && m == 5 && e >= -5 && e <= 5) {
                    double v = m * pow(10.0, e);
                    snprintf(buf, sizeof buf, "%.*f", e < 0 ? -e : 0, v);
                }
                if (decades <= 1 && (m == 2 || m == 3) && e >= -5 && e <= 5)
                    snprintf(buf, sizeof buf, "%.*f", e < 0 ? -e : 0, m * pow(10.0, e));
                axis_add(a, e + log10((double)m), 0, buf);
            }
        }
    }
}

/* Position of value v along the axis, 0 at lo and 1 at hi. */
static double axis_frac(const axis *a, double v) {
    double u = a->log ? log10(v) : v;
    return (u - a->lo) / (a->hi - a->lo);
}

/* ---- document ---- */

typedef struct plot {
    sn_strbuf sb;
    double x0, y0, w, h; /* plot area: left, top, width, height */
} plot;

static double px(const plot *p, const axis *a, double v) {
    return p->x0 + axis_frac(a, v) * p->w;
}

static double py(const plot *p, const axis *a, double v) {
    return p->y0 + p->h - axis_frac(a, v) * p->h;
}

static void doc_begin(plot *p, const sn_chart *c) {
    sn_strbuf *sb = &p->sb;
    sn_sb_puts(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    sn_sb_printf(sb,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                 "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, "
                 "Helvetica, sans-serif\" font-size=\"11\">\n",
                 SVG_W, SVG_H, SVG_W, SVG_H);
    if (has_text(c->title)) {
        sn_sb_puts(sb, "<title>");
        xml_text(sb, c->title, 0);
        sn_sb_puts(sb, "</title>\n");
    }
    sn_sb_printf(sb, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
                 SVG_W, SVG_H);
    if (has_text(c->title)) {
        sn_sb_printf(sb,
                     "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
                     "font-weight=\"bold\" fill=\"#222222\">",
                     SVG_W / 2);
        xml_text(sb, c->title, 90);
        sn_sb_puts(sb, "</text>\n");
    }
}

/* Chooses the plot area from the y tick labels, the legend and the bottom margin. */
static void layout(plot *p, const sn_chart *c, const axis *ya, double legend_w, double bottom,
                   double min_left) {
    double left = 16 + ya->label_chars * CHAR_W + (has_text(c->ylabel) ? 22 : 0);
    if (left < 48) left = 48;
    if (left < min_left) left = min_left;
    double right = legend_w > 0 ? legend_w + 24 : 24;
    double top = has_text(c->title) ? 44 : 20;
    p->x0 = left;
    p->y0 = top;
    p->w = SVG_W - left - right;
    p->h = SVG_H - top - bottom;
}

/* Horizontal grid lines, the y tick labels and the y axis label. */
static void draw_y_axis(plot *p, const sn_chart *c, const axis *ya) {
    sn_strbuf *sb = &p->sb;
    sn_sb_puts(sb, "<g stroke-width=\"1\">\n");
    for (int i = 0; i < ya->n; i++) {
        double y = p->y0 + p->h - (ya->pos[i] - ya->lo) / (ya->hi - ya->lo) * p->h;
        sn_sb_printf(sb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n",
                     p->x0, y, p->x0 + p->w, y, ya->major[i] ? "#dddddd" : "#f0f0f0");
    }
    sn_sb_puts(sb, "</g>\n<g fill=\"#333333\" text-anchor=\"end\">\n");
    for (int i = 0; i < ya->n; i++) {
        if (!ya->label[i][0]) continue;
        double y = p->y0 + p->h - (ya->pos[i] - ya->lo) / (ya->hi - ya->lo) * p->h;
        sn_sb_printf(sb, "<text x=\"%.2f\" y=\"%.2f\">", p->x0 - 6, y + 4);
        xml_text(sb, ya->label[i], 0);
        sn_sb_puts(sb, "</text>\n");
    }
    sn_sb_puts(sb, "</g>\n");
    if (has_text(c->ylabel)) {
        double x = 16, y = p->y0 + p->h / 2;
        sn_sb_printf(sb,
                     "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"12\" "
                     "fill=\"#222222\" transform=\"rotate(-90 %.2f %.2f)\">",
                     x, y, x, y);
        xml_text(sb, c->ylabel, 60);
        sn_sb_puts(sb, "</text>\n");
    }
}

static void draw_x_axis(plot *p, const axis *xa) {
    sn_strbuf *sb = &p->sb;
    sn_sb_puts(sb, "<g stroke-width=\"1\">\n");
    for (int i = 0; i < xa->n; i++) {
        double x = p->x0 + (xa->pos[i] - xa->lo) / (xa->hi - xa->lo) * p->w;
        sn_sb_printf(sb, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n",
                     x, p->y0, x, p->y0 + p->h, xa->major[i] ? "#dddddd" : "#f0f0f0");
    }
    sn_sb_puts(sb, "</g>\n<g fill=\"#333333\" text-anchor=\"middle\">\n");
    for (int i = 0; i < xa->n; i++) {
        if (!xa->label[i][0]) continue;
        double x = p->x0 + (xa->pos[i] - xa->lo) / (xa->hi - xa->lo) * p->w;
        sn_sb_printf(sb, "<text x=\"%.2f\" y=\"%.2f\">", x, p->y0 + p->h + 16);
        xml_text(sb, xa->label[i], 0);
        sn_sb_puts(sb, "</text>\n");
    }
    sn_sb_puts(sb, "</g>\n");
}

/* The axis lines (drawn over the grid and the data) and the x axis label. */
static void draw_frame(plot *p, const sn_chart *c) {
    sn_strbuf *sb = &p->sb;
    sn_sb_printf(sb,
                 "<path d=\"M%.2f %.2fV%.2fH%.2f\" fill=\"none\" stroke=\"#333333\" "
                 "stroke-width=\"1\"/>\n",
                 p->x0, p->y0, p->y0 + p->h, p->x0 + p->w);
    if (has_text(c->xlabel)) {
        sn_sb_printf(sb,
                     "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"12\" "
                     "fill=\"#222222\">",
                     p->x0 + p->w / 2, SVG_H - 10);
        xml_text(sb, c->xlabel, 100);
        sn_sb_puts(sb, "</text>\n");
    }
}

static const char *series_name(const sn_series *s, int k, char *buf, size_t n) {
    if (has_text(s[k].name)) return s[k].name;
    snprintf(buf, n, "series %d", k + 1);
    return buf;
}

/* Width the legend needs (0 when there are no series). */
static double legend_width(const sn_series *s, int ns, const int *has_data) {
    if (ns <= 0) return 0;
    int chars = 0;
    for (int k = 0; k < ns; k++) {
        char buf[32];
        int len = text_chars(series_name(s, k, buf, sizeof buf));
        if (len > LEGEND_CHARS) len = LEGEND_CHARS;
        if (!has_data[k]) len += 10; /* " (no data)" */
        if (len > chars) chars = len;
    }
    return 30 + chars * CHAR_W;
}

/* Legend to the right of the plot; bars = 1 draws swatches instead of line samples. */
static void draw_legend(plot *p, const sn_series *s, int ns, const int *has_data, int bars) {
    sn_strbuf *sb = &p->sb;
    double x = p->x0 + p->w + 16, y = p->y0 + 4;
    int fit = (int)((p->h - 8) / 18);
    if (fit < 1) fit = 1;
    sn_sb_puts(sb, "<g>\n");
    for (int k = 0; k < ns; k++) {
        double cy = y + 18 * k + 9;
        if (k == fit - 1 && ns > fit) {
            sn_sb_printf(sb, "<text x=\"%.2f\" y=\"%.2f\" fill=\"#555555\">+%d more</text>\n", x,
                         cy + 4, ns - k);
            break;
        }
        const char *col = series_color(k);
        if (bars) {
            sn_sb_printf(sb,
                         "<rect x=\"%.2f\" y=\"%.2f\" width=\"18\" height=\"10\" fill=\"%s\"/>\n",
                         x, cy - 5, col);
        } else {
            sn_sb_printf(sb,
                         "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                         "stroke-width=\"2\"",
                         x, cy, x + 18, cy, col);
            if (*series_dash(k)) sn_sb_printf(sb, " stroke-dasharray=\"%s\"", series_dash(k));
            sn_sb_puts(sb, "/>\n");
        }
        char buf[32];
        sn_sb_printf(sb, "<text x=\"%.2f\" y=\"%.2f\" fill=\"%s\">", x + 24, cy + 4,
                     has_data[k] ? "#222222" : "#888888");
        xml_text(sb, series_name(s, k, buf, sizeof buf), LEGEND_CHARS);
        if (!has_data[k]) sn_sb_puts(sb, " (no data)");
        sn_sb_puts(sb, "</text>\n");
    }
    sn_sb_puts(sb, "</g>\n");
}

static void draw_no_data(plot *p) {
    sn_sb_printf(&p->sb,
                 "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"14\" "
                 "fill=\"#888888\">no data</text>\n",
                 p->x0 + p->w / 2, p->y0 + p->h / 2);
}

static sn_code doc_finish(plot *p, const char *path, sn_status *st) {
    sn_sb_puts(&p->sb, "</svg>\n");
    sn_code rc;
    if (p->sb.oom)
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory building the chart", path);
    else
        rc = sn_write_file_atomic(path, p->sb.data, p->sb.len, st);
    sn_sb_free(&p->sb);
    return rc;
}

static sn_code check_args(const char *path, const sn_series *s, int ns, sn_status *st) {
    if (!path || !*path) return sn_fail(st, SN_ERR_INPUT, "chart: no output path");
    if (ns < 0 || (ns > 0 && !s))
        return sn_fail(st, SN_ERR_INPUT, "%s: chart: bad series list (%d series)", path, ns);
    for (int k = 0; k < ns; k++)
        if (s[k].n < 0 || (s[k].n > 0 && !s[k].y))
            return sn_fail(st, SN_ERR_INPUT, "%s: chart: series %d has no values", path, k + 1);
    return SN_OK;
}

/* ---- line charts ---- */

static double point_x(const sn_series *s, int i) {
    return s->x ? s->x[i] : (double)i;
}

sn_code sn_svg_lines(const char *path, const sn_chart *c, const sn_series *s, int ns,
                     sn_status *st) {
    static const sn_chart none;
    if (!c) c = &none;
    if (check_args(path, s, ns, st) != SN_OK) return st->code;
    int *has_data = sn_calloc((size_t)(ns > 0 ? ns : 1), sizeof *has_data);
    if (!has_data) return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);

    range rx, ry;
    range_init(&rx, c->log_x);
    range_init(&ry, c->log_y);
    for (int k = 0; k < ns; k++) {
        for (int i = 0; i < s[k].n; i++) {
            double x = point_x(&s[k], i), y = s[k].y[i];
            if (!value_ok(x, c->log_x) || !value_ok(y, c->log_y)) continue;
            range_add(&rx, x);
            range_add(&ry, y);
            has_data[k]++;
        }
    }
    axis *xa = sn_calloc(2, sizeof *xa);
    if (!xa) {
        free(has_data);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    }
    axis *ya = xa + 1;
    if (c->log_x)
        axis_log(xa, rx.min, rx.max, rx.any);
    else
        axis_linear(xa, rx.min, rx.max, rx.any, rx.any && rx.all_int);
    if (c->log_y)
        axis_log(ya, ry.min, ry.max, ry.any);
    else
        axis_linear(ya, ry.min, ry.max, ry.any, 0);

    plot p;
    memset(&p, 0, sizeof p);
    sn_sb_init(&p.sb);
    doc_begin(&p, c);
    layout(&p, c, ya, legend_width(s, ns, has_data), has_text(c->xlabel) ? 50 : 34, 0);
    draw_y_axis(&p, c, ya);
    draw_x_axis(&p, xa);
    if (!rx.any) draw_no_data(&p);

    for (int k = 0; k < ns; k++) {
        if (!has_data[k]) continue;
        const char *col = series_color(k);
        sn_strbuf *sb = &p.sb;
        sn_sb_printf(sb, "<g stroke=\"%s\" fill=\"%s\">\n", col, col);
        if (has_data[k] > 1) {
            sn_sb_puts(sb, "<polyline fill=\"none\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
                           "stroke-linecap=\"round\"");
            if (*series_dash(k)) sn_sb_printf(sb, " stroke-dasharray=\"%s\"", series_dash(k));
            sn_sb_puts(sb, " points=\"");
            int first = 1;
            for (int i = 0; i < s[k].n; i++) {
                double x = point_x(&s[k], i), y = s[k].y[i];
                if (!value_ok(x, c->log_x) || !value_ok(y, c->log_y)) continue;
                sn_sb_printf(sb, "%s%.2f,%.2f", first ? "" : " ", px(&p, xa, x), py(&p, ya, y));
                first = 0;
            }
            sn_sb_puts(sb, "\"/>\n");
        }
        if (has_data[k] <= MARKER_POINTS) {
            for (int i = 0; i < s[k].n; i++) {
                double x = point_x(&s[k], i), y = s[k].y[i];
                if (!value_ok(x, c->log_x) || !value_ok(y, c->log_y)) continue;
                sn_sb_printf(sb, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%s\" stroke=\"none\"/>\n",
                             px(&p, xa, x), py(&p, ya, y), has_data[k] == 1 ? "3.5" : "2.5");
            }
        }
        sn_sb_puts(sb, "</g>\n");
    }
    draw_frame(&p, c);
    draw_legend(&p, s, ns, has_data, 0);
    free(xa);
    free(has_data);
    return doc_finish(&p, path, st);
}

/* ---- bar charts ---- */

static double bar_value(const sn_series *s, int i) {
    return i < s->n ? s->y[i] : NAN;
}

sn_code sn_svg_bars(const char *path, const sn_chart *c, const char *const *categories, int ncat,
                    const sn_series *s, int ns, sn_status *st) {
    static const sn_chart none;
    if (!c) c = &none;
    if (check_args(path, s, ns, st) != SN_OK) return st->code;
    if (ncat < 0 || (ncat > 0 && !categories))
        return sn_fail(st, SN_ERR_INPUT, "%s: chart: bad category list (%d categories)", path,
                       ncat);
    int *has_data = sn_calloc((size_t)(ns > 0 ? ns : 1), sizeof *has_data);
    axis *ya = sn_calloc(1, sizeof *ya);
    if (!has_data || !ya) {
        free(has_data);
        free(ya);
        return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    }

    range ry;
    range_init(&ry, c->log_y);
    for (int k = 0; k < ns; k++) {
        for (int i = 0; i < ncat; i++) {
            double v = bar_value(&s[k], i);
            if (!value_ok(v, c->log_y)) continue;
            range_add(&ry, v);
            has_data[k]++;
        }
    }
    if (c->log_y) {
        axis_log(ya, ry.min, ry.max, ry.any);
    } else {
        /* Bars start at zero, so the axis includes it. */
        double lo = ry.any ? SN_MIN(ry.min, 0.0) : 0, hi = ry.any ? SN_MAX(ry.max, 0.0) : 1;
        if (lo == 0 && hi == 0) hi = 1;
        axis_linear(ya, lo, hi, 1, 0);
    }

    /* Category labels: horizontal when they fit under their group, else rotated. */
    int label_chars = 0;
    for (int i = 0; i < ncat; i++) {
        int len = categories[i] ? text_chars(categories[i]) : 0;
        if (len > CATEGORY_CHARS) len = CATEGORY_CHARS;
        if (len > label_chars) label_chars = len;
    }
    double legend_w = legend_width(s, ns, has_data);
    double approx_w = SVG_W - 70 - (legend_w > 0 ? legend_w + 24 : 24);
    double group_w0 = ncat > 0 ? approx_w / ncat : approx_w;
    int rotate = label_chars * CHAR_W > group_w0 - 4;
    const double angle = 40.0, rad = angle * 3.14159265358979323846 / 180.0;
    double label_h = rotate ? label_chars * CHAR_W * sin(rad) + 14 : 0;
    /* A rotated first label reaches left of its bar group: keep it inside the image. */
    double min_left = rotate ? label_chars * CHAR_W * cos(rad) - group_w0 / 2 + 4 : 0;
    double bottom = (rotate ? 18 + label_h : 34) + (has_text(c->xlabel) ? 18 : 0);

    plot p;
    memset(&p, 0, sizeof p);
    sn_sb_init(&p.sb);
    doc_begin(&p, c);
    layout(&p, c, ya, legend_w, bottom, min_left);
    draw_y_axis(&p, c, ya);
    if (!ry.any) draw_no_data(&p);

    sn_strbuf *sb = &p.sb;
    double group_w = ncat > 0 ? p.w / ncat : p.w;
    double bar_w = ns > 0 ? group_w * 0.8 / ns : 0;
    double base = c->log_y ? p.y0 + p.h : py(&p, ya, 0.0);
    int value_labels = ns * ncat <= 24 && bar_w >= 16;
    for (int k = 0; k < ns; k++) {
        if (!has_data[k]) continue;
        sn_sb_printf(sb, "<g fill=\"%s\">\n", series_color(k));
        for (int i = 0; i < ncat; i++) {
            double v = bar_value(&s[k], i);
            if (!value_ok(v, c->log_y)) continue;
            double x = p.x0 + group_w * i + group_w * 0.1 + bar_w * k;
            double y = py(&p, ya, v);
            double top = SN_MIN(y, base), h = fabs(y - base);
            sn_sb_printf(sb, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>\n", x,
                         top, bar_w > 1.5 ? bar_w - 1 : bar_w, h);
            if (value_labels) {
                char buf[32];
                snprintf(buf, sizeof buf, "%.3g", v);
                double ty = v >= 0 || c->log_y ? top - 3 : top + h + 11;
                sn_sb_printf(sb,
                             "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"9\" "
                             "fill=\"#333333\">%s</text>\n",
                             x + bar_w / 2, ty, buf);
            }
        }
        sn_sb_puts(sb, "</g>\n");
    }

    /* Category labels; when they are too dense even rotated, only every few are drawn. */
    int every = 1;
    if (rotate && group_w < 12) every = (int)ceil(12 / group_w);
    sn_sb_puts(sb, "<g fill=\"#333333\">\n");
    for (int i = 0; i < ncat; i += every) {
        double x = p.x0 + group_w * (i + 0.5), y = p.y0 + p.h + 16;
        if (rotate)
            sn_sb_printf(sb,
                         "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" "
                         "transform=\"rotate(-%.0f %.2f %.2f)\">",
                         x + 4, y - 4, angle, x + 4, y - 4);
        else
            sn_sb_printf(sb, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x, y);
        xml_text(sb, categories[i] ? categories[i] : "", CATEGORY_CHARS);
        sn_sb_puts(sb, "</text>\n");
    }
    sn_sb_puts(sb, "</g>\n");
    if (!c->log_y && ya->lo < 0) /* zero line */
        sn_sb_printf(sb,
                     "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#333333\" "
                     "stroke-width=\"1\"/>\n",
                     p.x0, base, p.x0 + p.w, base);
    draw_frame(&p, c);
    draw_legend(&p, s, ns, has_data, 1);
    free(ya);
    free(has_data);
    return doc_finish(&p, path, st);
}
