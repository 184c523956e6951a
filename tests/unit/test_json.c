/* Strict JSON reader: values, escapes, numbers, and every kind of malformed input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/json.h"
#include "runtime/core/rng.h"

static int parse_ok(const char *text, sn_json *j) {
    sn_status st;
    sn_status_init(&st);
    sn_code c = sn_json_parse("t.json", text, strlen(text), j, &st);
    if (c != SN_OK) fprintf(stderr, "unexpected error: %s\n", st.msg);
    return c == SN_OK;
}

/* Parses text (len bytes) expecting failure; checks the message holds each of the
 * NULL-terminated substrings. */
static void expect_err_n(const char *text, size_t len, const char *sub1, const char *sub2) {
    sn_status st;
    sn_status_init(&st);
    sn_json j;
    sn_code c = sn_json_parse("t.json", text, len, &j, &st);
    CHECK_MSG(c == SN_ERR_INPUT, "expected an error for: %.*s", (int)len, text);
    CHECK_EQ_INT(j.type, SN_JSON_NULL);
    CHECK(j.items == NULL && j.keys == NULL && j.string == NULL);
    CHECK_CONTAINS(st.msg, "t.json");
    if (sub1) CHECK_CONTAINS(st.msg, sub1);
    if (sub2) CHECK_CONTAINS(st.msg, sub2);
    sn_json_free(&j);
}

static void expect_err(const char *text, const char *sub1, const char *sub2) {
    expect_err_n(text, strlen(text), sub1, sub2);
}

static void test_values(void) {
    sn_json j;
    const char *text = " {\"a\": [1, -2.5, true, false, null, \"x\"], \"b\": {}, \"c\": [],\n"
                       "  \"d\": {\"e\": {\"f\": 3e2}}} ";
    CHECK(parse_ok(text, &j));
    CHECK_EQ_INT(j.type, SN_JSON_OBJECT);
    CHECK_EQ_INT(j.count, 4);
    CHECK_EQ_INT(j.offset, 1);
    const sn_json *a = sn_json_get(&j, "a");
    CHECK(a && a->type == SN_JSON_ARRAY && a->count == 6);
    if (a && a->count == 6) {
        CHECK(a->items[0].type == SN_JSON_NUMBER && a->items[0].is_int && a->items[0].integer == 1);
        CHECK_EQ_INT(a->items[0].offset, 8);
        CHECK(a->items[1].number == -2.5 && !a->items[1].is_int);
        CHECK(a->items[2].type == SN_JSON_BOOL && a->items[2].boolean == 1);
        CHECK(a->items[3].type == SN_JSON_BOOL && a->items[3].boolean == 0);
        CHECK(a->items[4].type == SN_JSON_NULL);
        CHECK(a->items[5].type == SN_JSON_STRING && strcmp(a->items[5].string, "x") == 0);
    }
    const sn_json *b = sn_json_get(&j, "b");
    CHECK(b && b->type == SN_JSON_OBJECT && b->count == 0);
    const sn_json *c = sn_json_get(&j, "c");
    CHECK(c && c->type == SN_JSON_ARRAY && c->count == 0);
    const sn_json *f = sn_json_get(sn_json_get(sn_json_get(&j, "d"), "e"), "f");
    CHECK(f && f->number == 300.0 && !f->is_int);
    CHECK(sn_json_get(&j, "zz") == NULL);
    CHECK(sn_json_get(a, "a") == NULL); /* not an object */
    CHECK(sn_json_get(NULL, "a") == NULL);
    sn_json_free(&j);
    CHECK(j.items == NULL && j.count == 0);

    /* scalars at top level */
    CHECK(parse_ok("  42  ", &j) && j.is_int && j.integer == 42);
    sn_json_free(&j);
    CHECK(parse_ok("\"\"", &j) && j.type == SN_JSON_STRING && j.string && j.string[0] == '\0');
    sn_json_free(&j);
    CHECK(parse_ok("null", &j) && j.type == SN_JSON_NULL);
    sn_json_free(&j);
    CHECK_EQ_INT(strcmp(sn_json_type_name(SN_JSON_OBJECT), "object"), 0);
}

static void test_numbers(void) {
    sn_json j;
    CHECK(parse_ok("9223372036854775807", &j) && j.is_int && j.integer == INT64_MAX);
    sn_json_free(&j);
    CHECK(parse_ok("-9223372036854775808", &j) && j.is_int && j.integer == INT64_MIN);
    sn_json_free(&j);
    CHECK(parse_ok("9223372036854775808", &j) && !j.is_int && j.number == 9223372036854775808.0);
    sn_json_free(&j);
    CHECK(parse_ok("123456789012345678901234567890", &j) && !j.is_int && j.number > 1e29);
    sn_json_free(&j);
    CHECK(parse_ok("-0", &j) && j.is_int && j.integer == 0);
    sn_json_free(&j);
    CHECK(parse_ok("0.125", &j) && j.number == 0.125 && !j.is_int);
    sn_json_free(&j);
    CHECK(parse_ok("1E-2", &j) && j.number == 0.01);
    sn_json_free(&j);
    CHECK(parse_ok("2e+3", &j) && j.number == 2000.0 && !j.is_int);
    sn_json_free(&j);
    CHECK(parse_ok("1e-400", &j) && j.number == 0.0); /* underflow is fine */
    sn_json_free(&j);
    CHECK(parse_ok("12345678901", &j) && j.is_int && j.integer == 12345678901LL);
    sn_json_free(&j);

    expect_err("01", "byte 0", "leading zeros");
    expect_err("-", "byte 1", "expected a digit after '-'");
    expect_err("1.", "byte 2", "expected a digit after '.'");
    expect_err("[1.e3]", "byte 3", "expected a digit after '.'");
    expect_err(".5", "byte 0", "expected a value");
    expect_err("+1", "byte 0", "expected a value");
    expect_err("1e", "byte 2", "exponent");
    expect_err("1e+", "byte 3", "exponent");
    expect_err("1e999", "byte 0", "too large");
    expect_err("NaN", "byte 0", "expected a value");
    expect_err("[Infinity]", "byte 1", "expected a value");
    expect_err("0x10", "byte 1", "expected end of input");
    expect_err("- 1", "byte 1", "digit");
}

static void test_strings(void) {
    sn_json j;
    CHECK(parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &j));
    CHECK(j.string && strcmp(j.string, "a\"b\\c/d\b\f\n\r\t") == 0);
    sn_json_free(&j);
    CHECK(parse_ok("\"\\u00e9\\u20AC\"", &j));
    CHECK(j.string && strcmp(j.string, "\xc3\xa9\xe2\x82\xac") == 0);
    sn_json_free(&j);
    /* surrogate pair -> one 4-byte UTF-8 sequence (U+1F600) */
    CHECK(parse_ok("\"\\ud83d\\ude00!\"", &j));
    CHECK(j.string && strcmp(j.string, "\xf0\x9f\x98\x80!") == 0);
    sn_json_free(&j);
    /* raw UTF-8 passes through */
    CHECK(parse_ok("\"gr\xc3\xbc\xc3\x9f \xf0\x9f\x99\x82\"", &j));
    CHECK(j.string && strcmp(j.string, "gr\xc3\xbc\xc3\x9f \xf0\x9f\x99\x82") == 0);
    sn_json_free(&j);
    CHECK(parse_ok("\"\\u007f\\u0001\"", &j) && j.string && strcmp(j.string, "\x7f\x01") == 0);
    sn_json_free(&j);

    expect_err("\"abc", "byte 4", "unterminated string");
    expect_err("\"a\nb\"", "byte 2", "control character 0x0a");
    expect_err("\"a\tb\"", "byte 2", "control character 0x09");
    expect_err("\"\\x41\"", "byte 2", "invalid escape");
    expect_err("\"\\u12\"", "byte 5", "4 hex digits");
    expect_err("\"\\ud83d\"", "byte 1", "lone high surrogate");
    expect_err("\"\\ud83dx\"", "byte 1", "lone high surrogate");
    expect_err("\"\\ud83d\\u0041\"", "byte 7", "low surrogate");
    expect_err("\"\\ude00\"", "byte 1", "lone low surrogate");
    expect_err("\"\\u0000\"", "byte 1", "\\u0000");
    expect_err("\"\xff\"", "byte 1", "invalid UTF-8");
    expect_err("\"\xc0\x80\"", "byte 1", "invalid UTF-8");         /* overlong NUL */
    expect_err("\"\xed\xa0\x80\"", "byte 1", "invalid UTF-8");     /* encoded surrogate */
    expect_err("\"\xf4\x90\x80\x80\"", "byte 1", "invalid UTF-8"); /* > U+10FFFF */
    expect_err("\"\xe2\x82\"", "byte 1", "invalid UTF-8");         /* truncated sequence */
    expect_err("'a'", "byte 0", "expected a value");
    expect_err_n("\"a\0b\"", 5, "byte 2", "control character 0x00");
}

static void test_structure_errors(void) {
    expect_err("", "byte 0", "expected a value, found end of input");
    expect_err("   ", "byte 3", "end of input");
    expect_err("[1, 2,]", "byte 6", "trailing comma");
    expect_err("{\"a\": 1,}", "byte 8", "trailing comma");
    expect_err("[1 2]", "byte 3", "expected ',' or ']'");
    expect_err("{\"a\" 1}", "byte 5", "expected ':'");
    expect_err("{\"a\": 1 \"b\": 2}", "byte 8", "expected ',' or '}'");
    expect_err("{a: 1}", "byte 1", "expected a string key");
    expect_err("{1: 1}", "byte 1", "expected a string key");
    expect_err("[1] // comment", "byte 4", "expected end of input");
    expect_err("/* c */ 1", "byte 0", "expected a value");
    expect_err("{\"a\": 1} x", "byte 9", "expected end of input");
    expect_err("[", "byte 1", "end of input");
    expect_err("{", "byte 1", "expected a string key");
    expect_err("{\"a\":", "byte 5", "expected a value");
    expect_err("[,1]", "byte 1", "expected a value");
    expect_err("tru", "byte 0", "true");
    expect_err("nul", "byte 0", "null");
    expect_err("True", "byte 0", "expected a value");
    expect_err("\xef\xbb\xbf{}", "byte 0", "byte order mark");
    expect_err_n("[1]\0", 4, "byte 3", "byte 0x00");
    /* multi-line text adds line and column */
    expect_err("{\n  \"a\": 1,\n  \"b\": ]\n}", "line 3, column 8", "byte 19");
}

static void test_duplicates(void) {
    expect_err("{\"a\": 1, \"b\": 2, \"a\": 3}", "duplicate key \"a\"", "first at byte 1");
    expect_err("{\"x\": {\"k\": 1, \"k\": 1}}", "byte 15", "duplicate key \"k\"");
    /* keys differing only after an escape are different */
    sn_json j;
    CHECK(parse_ok("{\"a\": 1, \"\\u0061b\": 2, \"A\": 3}", &j) && j.count == 3);
    sn_json_free(&j);
    /* many keys: sorted check finds the duplicate */
    char buf[8192];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "\"k%d\":%d,", i, i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "\"k17\":0}");
    expect_err(buf, "duplicate key \"k17\"", "first at byte");
    memcpy(buf + n - 7, "zz", 2); /* "k17" -> "zz7": now unique */
    CHECK(parse_ok(buf, &j) && j.count == 301);
    sn_json_free(&j);
}

static void test_depth(void) {
    char buf[512];
    for (int depth = 63; depth <= 65; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) buf[n++] = '[';
        for (int i = 0; i < depth; i++) buf[n++] = ']';
        buf[n] = '\0';
        sn_status st;
        sn_status_init(&st);
        sn_json j;
        sn_code c = sn_json_parse("deep", buf, n, &j, &st);
        if (depth <= SN_JSON_MAX_DEPTH) {
            CHECK_MSG(c == SN_OK, "depth %d: %s", depth, st.msg);
        } else {
            CHECK(c == SN_ERR_INPUT);
            CHECK_CONTAINS(st.msg, "nested deeper than 64");
            CHECK_CONTAINS(st.msg, "byte 64");
        }
        sn_json_free(&j);
    }
    /* objects count too */
    size_t n = 0;
    for (int i = 0; i < 70; i++) n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"a\":");
    expect_err(buf, "nested deeper", NULL);
}

static void test_base_offset(void) {
    sn_status st;
    sn_status_init(&st);
    sn_json j;
    const char *t = "{\"a\": [1, 2,]}";
    CHECK(sn_json_parse_at("file.st", t, strlen(t), 8, &j, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "file.st: invalid JSON at byte 20");
    sn_status_init(&st);
    CHECK(sn_json_parse_at("file.st", "{\"a\": 5}", 8, 8, &j, &st) == SN_OK);
    CHECK_EQ_INT(j.offset, 8);
    CHECK_EQ_INT(j.items[0].offset, 14);
    sn_json_free(&j);
    /* len bounds the text: the rest is not read */
    sn_status_init(&st);
    CHECK(sn_json_parse("p", "[1]xyz", 3, &j, &st) == SN_OK && j.count == 1);
    sn_json_free(&j);
}

/* Random byte flips and truncations of a valid document never crash or leak. */
static void test_fuzz(void) {
    const char *doc = "{\"__metadata__\": {\"format\": \"pt\"}, \"w\": {\"dtype\": \"F32\", "
                      "\"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"s\": \"\\u00e9\\ud83d"
                      "\\ude00\", \"n\": [-1.5e3, true, false, null, {}, []]}";
    size_t len = strlen(doc);
    char *buf = malloc(len);
    int oks = 0;
    for (uint64_t it = 0; it < 4000; it++) {
        memcpy(buf, doc, len);
        int flips = 1 + (int)(sn_rand_u01(7, 1, it) * 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(sn_rand_u01(7, 2, it * 8 + (uint64_t)k) * (float)len);
            if (at >= len) at = len - 1;
            const char *pool = "{}[],:\"\\u0123456789.eE-+ tfn\x01\xff\xc3\xed";
            float u = sn_rand_u01(7, 3, it * 8 + (uint64_t)k);
            buf[at] = u < 0.5f ? pool[(size_t)(u * 2 * (float)strlen(pool)) % strlen(pool)]
                               : (char)(int)(sn_rand_u01(7, 4, it * 8 + (uint64_t)k) * 256);
        }
        size_t n = it % 5 == 0 ? (size_t)(sn_rand_u01(7, 5, it) * (float)len) : len;
        sn_status st;
        sn_status_init(&st);
        sn_json j;
        if (sn_json_parse("fuzz", buf, n, &j, &st) == SN_OK)
            oks++;
        else
            CHECK(strstr(st.msg, "byte") != NULL);
        sn_json_free(&j);
    }
    free(buf);
    fprintf(stderr, "  fuzz: %d of 4000 mutations still parsed\n", oks);
}

int main(void) {
    RUN(test_values);
    RUN(test_numbers);
    RUN(test_strings);
    RUN(test_structure_errors);
    RUN(test_duplicates);
    RUN(test_depth);
    RUN(test_base_offset);
    RUN(test_fuzz);
    return sn_test_result();
}
