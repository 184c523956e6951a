/* Reports: SVG charts are well-formed self-contained XML with the title, labels, legend
 * and round ticks (linear and log axes, empty and NaN series, bars); CSV tables append,
 * resume, repair cut lines, truncate and read back; JSON-lines logs hold valid objects. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "runtime/core/json.h"
#include "runtime/core/util.h"
#include "runtime/train/report.h"

static void path_for(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", sn_test_tmpdir(), name);
}

static char *slurp(const char *path) {
    sn_status st;
    sn_status_init(&st);
    unsigned char *data;
    size_t size;
    if (sn_read_file(path, &data, &size, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return NULL;
    }
    return (char *)data;
}

static void spit(const char *path, const char *text) {
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_write_file_atomic(path, text, strlen(text), &st) == SN_OK);
}

static int count(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

/* ---- a tiny XML well-formedness checker ---- */

static int valid_utf8(const unsigned char *s) {
    while (*s) {
        int len = *s < 0x80         ? 1
                  : (*s >> 5) == 6  ? 2
                  : (*s >> 4) == 14 ? 3
                  : (*s >> 3) == 30 ? 4
                                    : 0;
        if (!len || (len == 2 && *s < 0xc2)) return 0;
        for (int i = 1; i < len; i++)
            if ((s[i] & 0xc0) != 0x80) return 0;
        s += len;
    }
    return 1;
}

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '.';
}

/* '&' must start one of the five named entities or a character reference. */
static int entity_ok(const char *p) {
    static const char *const names[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t i = 0; i < SN_ARRAY_LEN(names); i++)
        if (strncmp(p, names[i], strlen(names[i])) == 0) return 1;
    if (p[1] == '#') {
        const char *q = p + 2;
        while (name_char(*q)) q++;
        return *q == ';' && q > p + 2;
    }
    return 0;
}

/* Returns NULL when doc is a well-formed single-rooted <svg> document, else a reason. */
static const char *xml_check(const char *doc) {
    static char why[200];
    const char *stack[64];
    size_t lens[64];
    int depth = 0, roots = 0;
    if (!valid_utf8((const unsigned char *)doc)) return "not UTF-8";
    for (const char *p = doc; *p;) {
        if (*p == '&') {
            if (!entity_ok(p)) return "bad entity in text";
            p++;
            continue;
        }
        if (*p == '>') return "stray '>' in text";
        if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r')
            return "control character";
        if (*p != '<') {
            if (depth == 0 && *p != '\n' && *p != ' ') return "text outside the root";
            p++;
            continue;
        }
        if (strncmp(p, "<?", 2) == 0) {
            const char *e = strstr(p, "?>");
            if (!e || p != doc) return "bad processing instruction";
            p = e + 2;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            const char *e = strstr(p, "-->");
            if (!e) return "unterminated comment";
            p = e + 3;
            continue;
        }
        int closing = p[1] == '/';
        const char *nb = p + 1 + closing, *ne = nb;
        while (name_char(*ne)) ne++;
        if (ne == nb) return "tag without a name";
        size_t nlen = (size_t)(ne - nb);
        /* attributes: name="value" pairs */
        const char *q = ne;
        int self_closing = 0;
        for (;;) {
            while (*q == ' ' || *q == '\n') q++;
            if (*q == '>') break;
            if (q[0] == '/' && q[1] == '>') {
                self_closing = 1;
                q++;
                break;
            }
            if (closing) return "attributes on a closing tag";
            const char *an = q;
            while (name_char(*q)) q++;
            if (q == an || *q != '=' || (q[1] != '"' && q[1] != '\'')) return "bad attribute";
            char quote = q[1];
            q += 2;
            while (*q && *q != quote) {
                if (*q == '<') return "'<' in an attribute";
                if (*q == '&' && !entity_ok(q)) return "bad entity in an attribute";
                q++;
            }
            if (!*q) return "unterminated attribute";
            q++;
        }
        if (closing) {
            if (depth == 0 || lens[depth - 1] != nlen || strncmp(stack[depth - 1], nb, nlen) != 0) {
                snprintf(why, sizeof why, "mismatched </%.*s>", (int)nlen, nb);
                return why;
            }
            depth--;
        } else {
            if (depth == 0) {
                if (roots++ || nlen != 3 || strncmp(nb, "svg", 3) != 0) return "root is not <svg>";
            }
            if (!self_closing) {
                if (depth == 64) return "too deep";
                stack[depth] = nb;
                lens[depth] = nlen;
                depth++;
            }
        }
        p = q + 1;
    }
    if (depth) return "unclosed element";
    if (!roots) return "no root";
    return NULL;
}

/* Reads an SVG, checks it is well-formed and self-contained, returns it (caller frees). */
static char *read_svg(const char *path) {
    char *doc = slurp(path);
    if (!doc) return NULL;
    const char *why = xml_check(doc);
    CHECK_MSG(why == NULL, "%s: %s", path, why);
    CHECK(strstr(doc, "<script") == NULL && strstr(doc, "href") == NULL);
    CHECK(strstr(doc, "url(") == NULL && strstr(doc, "@import") == NULL);
    CHECK_CONTAINS(doc, "width=\"720\" height=\"450\"");
    /* no NaN / infinite coordinates leaked into the drawing */
    CHECK(strstr(doc, "nan") == NULL && strstr(doc, "inf") == NULL);
    return doc;
}

static void test_xml_checker(void) {
    CHECK(xml_check("<svg a=\"1\"><g><text>x &amp; y</text></g><rect/></svg>\n") == NULL);
    CHECK(xml_check("<svg><g></svg>") != NULL);
    CHECK(xml_check("<svg><text>a & b</text></svg>") != NULL);
    CHECK(xml_check("<svg><text>a < b</text></svg>") != NULL);
    CHECK(xml_check("<svg x=\"<\"/>") != NULL);
    CHECK(xml_check("<svg/><svg/>") != NULL);
    CHECK(xml_check("<svg>\xff</svg>") != NULL);
}

/* ---- line charts ---- */

static void test_lines(void) {
    char path[1200];
    path_for(path, sizeof path, "lines.svg");
    double x[10], train[10], test[10];
    for (int i = 0; i < 10; i++) {
        x[i] = i + 1;
        train[i] = 0.9 - 0.08 * i;
        test[i] = 0.2 + 0.07 * i;
    }
    test[4] = NAN; /* skipped */
    sn_series s[2] = {{"train <loss>", x, train, 10}, {"test \"acc\" & 'more'", x, test, 10}};
    sn_chart c = {"Loss & <accuracy>", "epoch", "value", 0, 0};
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_svg_lines(path, &c, s, 2, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    char *doc = read_svg(path);
    if (!doc) return;
    CHECK_CONTAINS(doc, ">Loss &amp; &lt;accuracy&gt;</text>");
    CHECK_CONTAINS(doc, "<title>Loss &amp; &lt;accuracy&gt;</title>");
    CHECK_CONTAINS(doc, ">epoch</text>");
    CHECK_CONTAINS(doc, ">value</text>");
    CHECK_CONTAINS(doc, ">train &lt;loss&gt;</text>");
    CHECK_CONTAINS(doc, ">test &quot;acc&quot; &amp; &apos;more&apos;</text>");
    CHECK_EQ_INT(count(doc, "<polyline"), 2);
    CHECK_EQ_INT(count(doc, "<circle"), 19); /* markers: few points; the NaN skipped */
    /* round ticks: y 0.0 .. 1.0 by 0.2, x 0 .. 10 by 2 (integers) */
    CHECK_CONTAINS(doc, ">0.2</text>");
    CHECK_CONTAINS(doc, ">0.8</text>");
    CHECK_CONTAINS(doc, ">10</text>");
    CHECK_CONTAINS(doc, ">4</text>");
    CHECK(strstr(doc, ">0.25</text>") == NULL && strstr(doc, ">2.5</text>") == NULL);
    CHECK(strstr(doc, "(no data)") == NULL);
    /* the second series' polyline has 9 points */
    const char *pl = strstr(doc, "<polyline");
    pl = pl ? strstr(pl + 1, "<polyline") : NULL;
    if (pl) {
        const char *pts = strstr(pl, "points=\"");
        const char *end = pts ? strchr(pts + 8, '"') : NULL;
        int commas = 0;
        for (const char *q = pts; q && q < end; q++) commas += *q == ',';
        CHECK_EQ_INT(commas, 9);
    }
    free(doc);

    /* many points: no markers; distinct colours; series beyond the palette dashed */
    enum { N = 500, NS = 30 };
    static double xs[N], ys[NS][N];
    sn_series many[NS];
    char names[NS][16];
    for (int i = 0; i < N; i++) xs[i] = i * 0.01;
    for (int k = 0; k < NS; k++) {
        for (int i = 0; i < N; i++) ys[k][i] = sin(i * 0.01 + k) * (k + 1);
        snprintf(names[k], sizeof names[k], "s%d", k);
        many[k] = (sn_series){names[k], xs, ys[k], N};
    }
    CHECK(sn_svg_lines(path, &c, many, NS, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_EQ_INT(count(doc, "<circle"), 0);
        CHECK_EQ_INT(count(doc, "<polyline"), NS);
        CHECK_CONTAINS(doc, "#1f77b4");
        CHECK_CONTAINS(doc, "#ff7f0e");
        CHECK_CONTAINS(doc, "stroke-dasharray");
        CHECK_CONTAINS(doc, ">s11</text>");
        CHECK_CONTAINS(doc, " more</text>"); /* a legend too long for the plot is cut */
        free(doc);
    }
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_log_axis(void) {
    char path[1200];
    path_for(path, sizeof path, "log.svg");
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {5.0, 1.2, 0.3, 0.04, 0.002, 0.0011};
    sn_series s = {"loss", x, y, 6};
    sn_chart c = {"Training loss", "epoch", "loss", 1, 0};
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_svg_lines(path, &c, &s, 1, &st) == SN_OK);
    char *doc = read_svg(path);
    if (doc) {
        /* decades 0.001 .. 10 */
        CHECK_CONTAINS(doc, ">0.001</text>");
        CHECK_CONTAINS(doc, ">0.01</text>");
        CHECK_CONTAINS(doc, ">0.1</text>");
        CHECK_CONTAINS(doc, ">1</text>");
        CHECK_CONTAINS(doc, ">10</text>");
        CHECK(strstr(doc, ">100</text>") == NULL && strstr(doc, ">0.0001</text>") == NULL);
        CHECK_EQ_INT(count(doc, "<circle"), 6);
        free(doc);
    }
    /* zero and negative values cannot be drawn on a log axis: skipped */
    double y2[6] = {0, -1, 1e-9, 1e3, NAN, INFINITY};
    s.y = y2;
    CHECK(sn_svg_lines(path, &c, &s, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">1e-9</text>");
        CHECK_CONTAINS(doc, ">1000</text>");
        CHECK_EQ_INT(count(doc, "<circle"), 2);
        free(doc);
    }
    /* log x and log y, all values equal */
    double same[3] = {0.5, 0.5, 0.5};
    sn_series s3 = {"flat", same, same, 3};
    sn_chart c2 = {"both", NULL, NULL, 1, 1};
    CHECK(sn_svg_lines(path, &c2, &s3, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">0.1</text>");
        CHECK_CONTAINS(doc, ">1</text>");
        free(doc);
    }
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_empty_and_degenerate(void) {
    char path[1200];
    path_for(path, sizeof path, "empty.svg");
    sn_status st;
    sn_status_init(&st);
    double x[3] = {0, 1, 2}, nan3[3] = {NAN, NAN, NAN}, ok[3] = {1, 2, 3};
    sn_series s[3] = {{"all NaN", x, nan3, 3}, {"empty", NULL, NULL, 0}, {"fine", x, ok, 3}};
    sn_chart c = {"Partly empty", "x", "y", 0, 0};
    CHECK(sn_svg_lines(path, &c, s, 3, &st) == SN_OK);
    char *doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">all NaN (no data)</text>");
        CHECK_CONTAINS(doc, ">empty (no data)</text>");
        CHECK_CONTAINS(doc, ">fine</text>");
        CHECK_EQ_INT(count(doc, "<polyline"), 1);
        CHECK(strstr(doc, ">no data</text>") == NULL);
        free(doc);
    }
    /* nothing at all to draw: axes and a "no data" note */
    CHECK(sn_svg_lines(path, &c, s, 2, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">no data</text>");
        CHECK_EQ_INT(count(doc, "<polyline"), 0);
        free(doc);
    }
    CHECK(sn_svg_lines(path, NULL, NULL, 0, &st) == SN_OK);
    doc = read_svg(path);
    free(doc);
    /* all-equal values: a sensible range around them */
    double flat[3] = {0.5, 0.5, 0.5};
    sn_series f = {"flat", x, flat, 3};
    CHECK(sn_svg_lines(path, &c, &f, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">0.50</text>");
        CHECK_CONTAINS(doc, ">0.46</text>");
        free(doc);
    }
    double zero[3] = {0, 0, 0};
    f.y = zero;
    CHECK(sn_svg_lines(path, &c, &f, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">0.0</text>");
        CHECK_CONTAINS(doc, ">-1.0</text>");
        free(doc);
    }
    /* one point; x omitted (index used); huge values */
    double one = 3.0;
    sn_series s1 = {"one", NULL, &one, 1};
    CHECK(sn_svg_lines(path, &c, &s1, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_EQ_INT(count(doc, "<circle"), 1);
        free(doc);
    }
    double big[3] = {-1e250, 1e250, 3e12};
    f.y = big;
    CHECK(sn_svg_lines(path, &c, &f, 1, &st) == SN_OK);
    doc = read_svg(path);
    free(doc);
    /* text that XML cannot hold: control characters and invalid UTF-8 replaced; long
     * legend names cut with an ellipsis */
    sn_series odd = {"bad\x01name\xff\xfe and a very very very long legend entry", x, ok, 3};
    sn_chart co = {"caf\xc3\xa9 \xe2\x9c\x93\ttab", NULL, NULL, 0, 0};
    CHECK(sn_svg_lines(path, &co, &odd, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, "caf\xc3\xa9 \xe2\x9c\x93 tab");
        CHECK_CONTAINS(doc, "bad?name?? and a very very \xe2\x80\xa6</text>");
        free(doc);
    }
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    /* errors */
    CHECK(sn_svg_lines(path, &c, NULL, 2, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    sn_series bad = {"bad", x, NULL, 3};
    CHECK(sn_svg_lines(path, &c, &bad, 1, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    path_for(path, sizeof path, "no/such/dir/x.svg");
    CHECK(sn_svg_lines(path, &c, s, 3, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "no/such/dir");
}

static void test_bars(void) {
    char path[1200];
    path_for(path, sizeof path, "bars.svg");
    const char *cats[3] = {"relu", "lif", "if"};
    double a[3] = {0.91, 0.88, 0.7}, b[3] = {0.93, NAN, 0.75};
    sn_series s[2] = {{"cpu", NULL, a, 3}, {"cuda", NULL, b, 3}};
    sn_chart c = {"Top-1 by neuron", "neuron", "accuracy", 0, 0};
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_svg_bars(path, &c, cats, 3, s, 2, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    char *doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">Top-1 by neuron</text>");
        CHECK_CONTAINS(doc, ">relu</text>");
        CHECK_CONTAINS(doc, ">lif</text>");
        CHECK_CONTAINS(doc, ">cpu</text>");
        CHECK_CONTAINS(doc, ">cuda</text>");
        CHECK_CONTAINS(doc, ">accuracy</text>");
        CHECK_CONTAINS(doc, ">neuron</text>");
        CHECK_CONTAINS(doc, ">0.91</text>"); /* value labels on few bars */
        CHECK(strstr(doc, "rotate(-40") == NULL);
        /* background + 5 bars (one NaN) + 2 legend swatches */
        CHECK_EQ_INT(count(doc, "<rect"), 1 + 5 + 2);
        CHECK_CONTAINS(doc, ">0.0</text>"); /* the axis starts at zero */
        free(doc);
    }
    /* many long category names: rotated; negative values: a zero line */
    enum { NC = 20 };
    const char *longcats[NC];
    char buf[NC][48];
    double v[NC];
    for (int i = 0; i < NC; i++) {
        snprintf(buf[i], sizeof buf[i], "category <%d> with a long name", i);
        longcats[i] = buf[i];
        v[i] = i - 5.5;
    }
    sn_series one = {"delta", NULL, v, NC};
    CHECK(sn_svg_bars(path, &c, longcats, NC, &one, 1, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, "rotate(-40");
        CHECK_CONTAINS(doc, ">category &lt;19&gt; with a long n\xe2\x80\xa6</text>");
        CHECK_CONTAINS(doc, ">-5</text>");
        CHECK_EQ_INT(count(doc, "<rect"), 1 + NC + 1);
        free(doc);
    }
    /* log y; a series with fewer values than categories; a series with no data */
    double lat[2] = {120, 3.5e4}, none[3] = {NAN, NAN, NAN};
    sn_series ls[2] = {{"latency us", NULL, lat, 2}, {"missing", NULL, none, 3}};
    sn_chart cl = {"Latency", NULL, "us", 1, 0};
    CHECK(sn_svg_bars(path, &cl, cats, 3, ls, 2, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">100</text>");
        CHECK_CONTAINS(doc, ">100000</text>");
        CHECK_CONTAINS(doc, ">missing (no data)</text>");
        CHECK_EQ_INT(count(doc, "<rect"), 1 + 2 + 2);
        free(doc);
    }
    /* no categories at all */
    CHECK(sn_svg_bars(path, &c, NULL, 0, NULL, 0, &st) == SN_OK);
    doc = read_svg(path);
    if (doc) {
        CHECK_CONTAINS(doc, ">no data</text>");
        free(doc);
    }
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(sn_svg_bars(path, &c, NULL, 3, s, 2, &st) == SN_ERR_INPUT);
}

/* ---- CSV ---- */

static const char *const COLS[3] = {"epoch", "loss", "acc"};

static void test_csv_write(void) {
    char path[1200];
    path_for(path, sizeof path, "metrics.csv");
    unlink(path);
    sn_status st;
    sn_status_init(&st);
    sn_csv *c;
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    if (!c) return;
    double r1[3] = {1, 1.0 / 3.0, 0.25}, r2[3] = {2, NAN, INFINITY},
           r3[3] = {123456789012.0, -0.0, -1e20};
    CHECK(sn_csv_row(c, r1, &st) == SN_OK);
    CHECK(sn_csv_row(c, r2, &st) == SN_OK);
    char *text = slurp(path); /* rows are in the file before close */
    if (text) CHECK(strcmp(text, "epoch,loss,acc\n1,0.333333333,0.25\n2,nan,inf\n") == 0);
    free(text);
    sn_csv_close(c);

    /* reopen: same header, rows appended */
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    if (c) {
        CHECK(sn_csv_row(c, r3, &st) == SN_OK);
        sn_csv_close(c);
    }
    text = slurp(path);
    if (text)
        CHECK_MSG(strcmp(text, "epoch,loss,acc\n1,0.333333333,0.25\n2,nan,inf\n"
                               "123456789012,0,-1e+20\n") == 0,
                  "%s", text);
    free(text);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    /* a different header: an error naming the file and both headers; file unchanged */
    const char *other[2] = {"epoch", "lr"};
    c = (sn_csv *)1;
    CHECK(sn_csv_open(&c, path, other, 2, &st) == SN_ERR_INPUT);
    CHECK(c == NULL);
    CHECK_CONTAINS(st.msg, path);
    CHECK_CONTAINS(st.msg, "epoch,loss,acc");
    CHECK_CONTAINS(st.msg, "epoch,lr");
    sn_status_init(&st);
    text = slurp(path);
    if (text) CHECK(count(text, "\n") == 4);
    free(text);

    /* nothing is repaired in a file of another configuration */
    char other_path[1200];
    path_for(other_path, sizeof other_path, "other.csv");
    const char *cut_rows[2] = {"epoch,lr\n1,0.1\n2,0.", "step,lo"};
    for (int i = 0; i < 2; i++) {
        spit(other_path, cut_rows[i]);
        CHECK(sn_csv_open(&c, other_path, COLS, 3, &st) == SN_ERR_INPUT);
        CHECK_CONTAINS(st.msg, other_path);
        sn_status_init(&st);
        text = slurp(other_path);
        if (text) CHECK(strcmp(text, cut_rows[i]) == 0);
        free(text);
    }

    /* bad column names */
    const char *bad[2] = {"a,b", "c"};
    CHECK(sn_csv_open(&c, path, bad, 2, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    CHECK(sn_csv_open(&c, path, COLS, 0, &st) == SN_ERR_INPUT);
    sn_status_init(&st);
    path_for(path, sizeof path, "no/such/dir/m.csv");
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "no/such/dir");
}

static void test_csv_repair(void) {
    char path[1200];
    path_for(path, sizeof path, "repair.csv");
    sn_status st;
    sn_status_init(&st);
    /* a row cut short by a kill */
    spit(path, "epoch,loss,acc\n1,0.5,0.1\n2,0.4");
    sn_csv *c;
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    double r[3] = {2, 0.375, 0.5};
    if (c) {
        CHECK(sn_csv_row(c, r, &st) == SN_OK);
        sn_csv_close(c);
    }
    char *text = slurp(path);
    if (text) CHECK(strcmp(text, "epoch,loss,acc\n1,0.5,0.1\n2,0.375,0.5\n") == 0);
    free(text);
    /* a header cut short, and an empty file: the header is (re)written */
    spit(path, "epoch,lo");
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    sn_csv_close(c);
    text = slurp(path);
    if (text) CHECK(strcmp(text, "epoch,loss,acc\n") == 0);
    free(text);
    spit(path, "");
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    sn_csv_close(c);
    text = slurp(path);
    if (text) CHECK(strcmp(text, "epoch,loss,acc\n") == 0);
    free(text);
    /* a long cut line (more than one read chunk) */
    sn_strbuf sb;
    sn_sb_init(&sb);
    sn_sb_puts(&sb, "epoch,loss,acc\r\n1,2,3\n4,");
    for (int i = 0; i < 10000; i++) sn_sb_puts(&sb, "5");
    spit(path, sn_sb_cstr(&sb));
    sn_sb_free(&sb);
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK); /* CRLF header accepted */
    sn_csv_close(c);
    text = slurp(path);
    if (text) CHECK(strcmp(text, "epoch,loss,acc\r\n1,2,3\n") == 0);
    free(text);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_csv_truncate(void) {
    char path[1200];
    path_for(path, sizeof path, "trunc.csv");
    unlink(path);
    sn_status st;
    sn_status_init(&st);
    sn_csv *c;
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    if (!c) return;
    for (int e = 1; e <= 5; e++) {
        double r[3] = {e, 1.0 / e, e * 0.125};
        CHECK(sn_csv_row(c, r, &st) == SN_OK);
    }
    /* resume from a checkpoint after epoch 2: rows of epochs 3.. go */
    CHECK(sn_csv_truncate_from(c, 3, &st) == SN_OK);
    double r3[3] = {3, 0.3, 0.3};
    CHECK(sn_csv_row(c, r3, &st) == SN_OK); /* appends to the rewritten file */
    char *text = slurp(path);
    if (text)
        CHECK_MSG(strcmp(text, "epoch,loss,acc\n1,1,0.125\n2,0.5,0.25\n3,0.3,0.3\n") == 0, "%s",
                  text);
    free(text);
    CHECK(sn_csv_truncate_from(c, 100, &st) == SN_OK); /* nothing to drop */
    CHECK(sn_csv_truncate_from(c, -1, &st) == SN_OK);  /* everything */
    sn_csv_close(c);
    text = slurp(path);
    if (text) CHECK(strcmp(text, "epoch,loss,acc\n") == 0);
    free(text);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_csv_read(void) {
    char path[1200];
    path_for(path, sizeof path, "read.csv");
    sn_status st;
    sn_status_init(&st);
    spit(path, "epoch,loss,acc\n1,0.5,0.25\n2,nan,\n\n3, 1e-3 ,-inf\r\n4,0.1,0.9");
    const char *names[2] = {"acc", "epoch"};
    double **cols;
    int n;
    CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(n, 4); /* an unterminated last line that parses is kept */
    if (cols && n == 4) {
        CHECK(cols[0][0] == 0.25 && isnan(cols[0][1]) && cols[0][2] == -INFINITY);
        CHECK(cols[0][3] == 0.9);
        CHECK(cols[1][0] == 1 && cols[1][1] == 2 && cols[1][2] == 3 && cols[1][3] == 4);
    }
    sn_csv_free_columns(cols, 2);
    const char *loss[1] = {"loss"};
    CHECK(sn_csv_read(path, loss, 1, &cols, &n, &st) == SN_OK);
    if (cols && n == 4) CHECK(isnan(cols[0][1]) && cols[0][2] == 1e-3);
    sn_csv_free_columns(cols, 1);

    /* a cut last line is not an error */
    spit(path, "epoch,loss,acc\n1,0.5,0.25\n2,0.");
    CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_OK);
    CHECK_EQ_INT(n, 1);
    sn_csv_free_columns(cols, 2);
    /* header only */
    spit(path, "epoch,loss,acc\n");
    CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_OK);
    CHECK(n == 0 && cols != NULL);
    sn_csv_free_columns(cols, 2);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    /* errors: file:line */
    struct {
        const char *text, *expect;
    } bad[] = {
        {"epoch,loss,acc\n1,0.5,0.25\n2,0.1,1x\n", ":3: column \"acc\"|\"1x\""},
        {"epoch,loss,acc\n1,0.5,0.25\n2,0.1,0.2\n3,0.1\n", ":4: expected 3 fields, found 2"},
        {"epoch,loss,acc\n1,0.5,0.25,9\n", ":2: expected 3 fields, found 4"},
        {"epoch,loss\n1,0.5\n", ":1: no column \"acc\""},
        {"", ":1: no header"},
    };
    for (size_t i = 0; i < SN_ARRAY_LEN(bad); i++) {
        spit(path, bad[i].text);
        sn_status_init(&st);
        cols = (double **)1;
        n = -1;
        CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_ERR_INPUT);
        CHECK(cols == NULL && n == 0);
        CHECK_CONTAINS(st.msg, path);
        char expect[80];
        sn_strlcpy(expect, bad[i].expect, sizeof expect);
        char *bar = strchr(expect, '|');
        if (bar) *bar = '\0';
        CHECK_CONTAINS(st.msg, expect);
        if (bar) CHECK_CONTAINS(st.msg, bar + 1);
    }
    /* "abc" is in the acc column only when acc is asked for */
    spit(path, "epoch,loss,acc\n1,0.5,0.25\n2,0.1,abc\n");
    sn_status_init(&st);
    CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, ":3: column \"acc\"");
    sn_status_init(&st);
    path_for(path, sizeof path, "missing.csv");
    CHECK(sn_csv_read(path, names, 2, &cols, &n, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
}

/* A writer killed mid-run leaves only complete rows. */
static void test_csv_kill(void) {
    char path[1200];
    path_for(path, sizeof path, "kill.csv");
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sn_status st;
        sn_status_init(&st);
        sn_csv *c;
        if (sn_csv_open(&c, path, COLS, 3, &st) != SN_OK) _exit(1);
        for (int64_t e = 0;; e++) {
            double r[3] = {(double)e, 1.0 / 3.0 + e, 2.0 / 3.0 * e};
            if (sn_csv_row(c, r, &st) != SN_OK) _exit(1);
        }
    }
    CHECK(pid > 0);
    if (pid <= 0) return;
    struct timespec nap = {0, 100 * 1000 * 1000};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    sn_status st;
    sn_status_init(&st);
    sn_csv *c;
    CHECK(sn_csv_open(&c, path, COLS, 3, &st) == SN_OK);
    sn_csv_close(c);
    char *text = slurp(path);
    CHECK(text && text[strlen(text) - 1] == '\n');
    free(text);
    const char *names[3] = {"epoch", "loss", "acc"};
    double **cols;
    int n;
    CHECK(sn_csv_read(path, names, 3, &cols, &n, &st) == SN_OK);
    CHECK_MSG(n > 10, "only %d rows written", n);
    for (int i = 0; i < n && cols; i++) {
        double loss = 1.0 / 3.0 + i, acc = 2.0 / 3.0 * i;
        if (cols[0][i] != i || fabs(cols[1][i] - loss) > 1e-8 * loss ||
            fabs(cols[2][i] - acc) > 1e-8 * acc) {
            CHECK_MSG(0, "row %d", i);
            break;
        }
    }
    sn_csv_free_columns(cols, 3);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

/* ---- JSON lines ---- */

static void test_jsonl(void) {
    char path[1200];
    path_for(path, sizeof path, "log.jsonl");
    unlink(path);
    sn_status st;
    sn_status_init(&st);
    sn_jsonl *l;
    CHECK(sn_jsonl_open(&l, path, &st) == SN_OK);
    if (!l) return;
    CHECK(sn_jsonl_event(l, "start", "", &st) == SN_OK);
    CHECK(sn_jsonl_event(l, "epoch", "\"epoch\": 3, \"loss\": 0.5,\n \"name\": \"a\\nb\"", &st) ==
          SN_OK);
    CHECK(sn_jsonl_event(l, "say \"hi\"\n", NULL, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    /* invalid fields: rejected, nothing written */
    CHECK(sn_jsonl_event(l, "bad", "\"epoch\": ", &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
    sn_status_init(&st);
    CHECK(sn_jsonl_event(l, "bad", "\"time\": 1", &st) == SN_ERR_INPUT); /* repeated key */
    sn_status_init(&st);
    sn_jsonl_close(l);
    /* a cut line from a killed run is removed on reopen; then appends continue */
    char *text = slurp(path);
    if (text) {
        sn_strbuf sb;
        sn_sb_init(&sb);
        sn_sb_puts(&sb, text);
        sn_sb_puts(&sb, "{\"time\": 17638, \"ev");
        spit(path, sn_sb_cstr(&sb));
        sn_sb_free(&sb);
    }
    free(text);
    CHECK(sn_jsonl_open(&l, path, &st) == SN_OK);
    if (l) {
        CHECK(sn_jsonl_event(l, "resume", "\"epoch\": 3", &st) == SN_OK);
        sn_jsonl_close(l);
    }
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    text = slurp(path);
    if (!text) return;
    CHECK_EQ_INT(count(text, "\n"), 4);
    const char *events[4] = {"start", "epoch", "say \"hi\"\n", "resume"};
    int i = 0;
    for (char *line = text; *line && i < 4; i++) {
        char *nl = strchr(line, '\n');
        if (!nl) break;
        sn_json j;
        CHECK(sn_json_parse("line", line, (size_t)(nl - line), &j, &st) == SN_OK);
        CHECK_MSG(sn_ok(&st), "%s", st.msg);
        CHECK(strncmp(line, "{\"time\": ", 9) == 0);
        const sn_json *t = sn_json_get(&j, "time"), *e = sn_json_get(&j, "event");
        CHECK(t && t->type == SN_JSON_NUMBER && t->number > 1.6e9);
        CHECK(e && e->type == SN_JSON_STRING && strcmp(e->string, events[i]) == 0);
        if (i == 1) {
            const sn_json *ep = sn_json_get(&j, "epoch"), *nm = sn_json_get(&j, "name");
            CHECK(ep && ep->is_int && ep->integer == 3);
            CHECK(nm && nm->type == SN_JSON_STRING && strcmp(nm->string, "a\nb") == 0);
        }
        sn_json_free(&j);
        line = nl + 1;
    }
    CHECK_EQ_INT(i, 4);
    free(text);

    path_for(path, sizeof path, "no/such/dir/log.jsonl");
    sn_status_init(&st);
    l = (sn_jsonl *)1;
    CHECK(sn_jsonl_open(&l, path, &st) == SN_ERR_RUNTIME);
    CHECK(l == NULL);
    CHECK_CONTAINS(st.msg, "no/such/dir");
}

int main(void) {
    RUN(test_xml_checker);
    RUN(test_lines);
    RUN(test_log_axis);
    RUN(test_empty_and_degenerate);
    RUN(test_bars);
    RUN(test_csv_write);
    RUN(test_csv_repair);
    RUN(test_csv_truncate);
    RUN(test_csv_read);
    RUN(test_csv_kill);
    RUN(test_jsonl);
    return sn_test_result();
}
