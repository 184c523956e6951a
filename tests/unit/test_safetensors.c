/* safetensors: round trips, exact bytes, a file from an independent writer, malformed
 * files, and a byte-flipping fuzz loop. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/rng.h"
#include "runtime/core/util.h"
#include "runtime/weights/safetensors.h"

static sn_st_tensor T(const char *name, sn_dtype dt, sn_shape shape, const void *data) {
    sn_st_tensor t;
    memset(&t, 0, sizeof t);
    t.name = (char *)name;
    t.dtype = dt;
    t.shape = shape;
    t.data = (void *)data;
    t.nbytes = (size_t)sn_shape_numel(&shape) * sn_dtype_size(dt);
    return t;
}

static sn_shape scalar(void) {
    return sn_shape_make(0, NULL);
}

static void test_half(void) {
    CHECK(sn_half_to_float(0x3c00) == 1.0f);
    CHECK(sn_half_to_float(0xc000) == -2.0f);
    CHECK(sn_half_to_float(0x7bff) == 65504.0f);
    CHECK(sn_half_to_float(0x0001) == ldexpf(1.0f, -24));    /* smallest subnormal */
    CHECK(sn_half_to_float(0x03ff) == ldexpf(1023.0f, -24)); /* largest subnormal */
    CHECK(sn_half_to_float(0x0400) == ldexpf(1.0f, -14));    /* smallest normal */
    CHECK(sn_half_to_float(0x3555) == 0.333251953125f);
    CHECK(sn_half_to_float(0x7c00) == INFINITY);
    CHECK(sn_half_to_float(0xfc00) == -INFINITY);
    CHECK(isnan(sn_half_to_float(0x7e00)));
    CHECK(isnan(sn_half_to_float(0xfc01)));
    float nz = sn_half_to_float(0x8000);
    CHECK(nz == 0.0f && signbit(nz));
}

static void test_round_trip(void) {
    const float f32[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-20f, -7.0f};
    const uint16_t f16[3] = {0x3c00, 0x0001, 0xfc00}; /* 1, 2^-24, -inf */
    const uint16_t bf16[2] = {0x3f80, 0xc0a0};        /* 1, -5 */
    const double f64[2] = {0.1, -1e10};
    const int64_t count = 12345678901LL;
    const int32_t i32[2] = {-3, 2147483647};
    const int8_t i8[3] = {-128, 0, 127};
    const uint8_t bools[2] = {1, 0};
    int64_t d3[3] = {2, 0, 3};
    sn_st_tensor ts[] = {
        T("features.0.weight", SN_F32, sn_shape2(2, 3), f32),
        T("h", SN_F16, sn_shape1(3), f16),
        T("b", SN_BF16, sn_shape1(2), bf16),
        T("d", SN_F64, sn_shape1(2), f64),
        T("bn.num_batches_tracked", SN_I64, scalar(), &count),
        T("i", SN_I32, sn_shape4(2, 1, 1, 1), i32),
        T("c", SN_I8, sn_shape1(3), i8),
        T("empty", SN_U8, sn_shape1(0), NULL),
        T("mask", SN_BOOL, sn_shape1(2), bools),
        T("empty3", SN_F32, sn_shape_make(3, d3), NULL),
    };
    int n = (int)SN_ARRAY_LEN(ts);
    sn_st_meta meta[2] = {{"format", "pt"}, {"note", "quote \" and \xc3\xa9"}};
    char path[1200];
    snprintf(path, sizeof path, "%s/rt.safetensors", sn_test_tmpdir());
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, n, meta, 2, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);

    unsigned char *raw, *ser;
    size_t rsize, ssize;
    CHECK(sn_read_file(path, &raw, &rsize, &st) == SN_OK);
    CHECK(sn_safetensors_serialize(ts, n, meta, 2, &ser, &ssize, &st) == SN_OK);
    CHECK(rsize == ssize && memcmp(raw, ser, rsize) == 0);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    CHECK_EQ_INT((8 + hlen) % 8, 0); /* data section 8-byte aligned */
    CHECK(memcmp(raw + 8, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0);
    free(raw);
    free(ser);

    sn_st_file f;
    CHECK(sn_safetensors_read(path, &f, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK_EQ_INT(f.ntensors, n);
    CHECK_EQ_INT(f.nmeta, 2);
    CHECK(sn_st_meta_get(&f, "format") && strcmp(sn_st_meta_get(&f, "format"), "pt") == 0);
    CHECK(sn_st_meta_get(&f, "note") &&
          strcmp(sn_st_meta_get(&f, "note"), "quote \" and \xc3\xa9") == 0);
    CHECK(sn_st_meta_get(&f, "nope") == NULL);
    for (int i = 0; i < n && f.ntensors == n; i++) {
        const sn_st_tensor *t = &f.tensors[i];
        CHECK(strcmp(t->name, ts[i].name) == 0); /* order kept */
        CHECK_EQ_INT(t->dtype, ts[i].dtype);
        CHECK(sn_shape_eq(&t->shape, &ts[i].shape));
        CHECK_EQ_INT(t->nbytes, ts[i].nbytes);
        CHECK(t->data != NULL);
        if (t->nbytes) CHECK(memcmp(t->data, ts[i].data, t->nbytes) == 0);
    }
    const sn_st_tensor *s = sn_st_find(&f, "bn.num_batches_tracked");
    CHECK(s && s->shape.rank == 0 && s->nbytes == 8);
    if (s) {
        int64_t v;
        memcpy(&v, s->data, 8);
        CHECK(v == 12345678901LL);
        float fv = 0;
        CHECK(sn_st_to_f32(s, &fv, &st) == SN_OK && fv == 12345678901.0f);
    }
    CHECK(sn_st_find(&f, "missing") == NULL);
    float out[6];
    CHECK(sn_st_to_f32(sn_st_find(&f, "features.0.weight"), out, &st) == SN_OK);
    CHECK(memcmp(out, f32, sizeof f32) == 0);
    CHECK(sn_st_to_f32(sn_st_find(&f, "h"), out, &st) == SN_OK);
    CHECK(out[0] == 1.0f && out[1] == ldexpf(1.0f, -24) && out[2] == -INFINITY);
    CHECK(sn_st_to_f32(sn_st_find(&f, "b"), out, &st) == SN_OK);
    CHECK(out[0] == 1.0f && out[1] == -5.0f);
    CHECK(sn_st_to_f32(sn_st_find(&f, "d"), out, &st) == SN_OK);
    CHECK(out[0] == 0.1f && out[1] == -1e10f);
    CHECK(sn_st_to_f32(sn_st_find(&f, "i"), out, &st) == SN_OK);
    CHECK(out[0] == -3.0f && out[1] == 2147483647.0f);
    CHECK(sn_st_to_f32(sn_st_find(&f, "c"), out, &st) == SN_OK);
    CHECK(out[0] == -128.0f && out[1] == 0.0f && out[2] == 127.0f);
    CHECK(sn_st_to_f32(sn_st_find(&f, "mask"), out, &st) == SN_OK);
    CHECK(out[0] == 1.0f && out[1] == 0.0f);
    CHECK(sn_st_to_f32(sn_st_find(&f, "empty3"), out, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    sn_st_free(&f);
    CHECK(f.tensors == NULL && f.ntensors == 0);

    /* no tensors, no metadata */
    CHECK(sn_safetensors_write(path, NULL, 0, NULL, 0, &st) == SN_OK);
    CHECK(sn_safetensors_read(path, &f, &st) == SN_OK && f.ntensors == 0 && f.nmeta == 0);
    sn_st_free(&f);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

static void test_exact_bytes(void) {
    const float x[2] = {1.0f, -2.0f};
    const int64_t nb = 7;
    sn_st_tensor ts[2] = {T("x", SN_F32, sn_shape1(2), x), T("n", SN_I64, scalar(), &nb)};
    sn_st_meta meta = {"a", "b"};
    static const char header[] = "{\"__metadata__\":{\"a\":\"b\"},"
                                 "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                 "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[8,16]}"
                                 "}    "; /* 132 bytes + 4 spaces of padding */
    unsigned char expect[8 + 136 + 16];
    memset(expect, 0, sizeof expect);
    expect[0] = 136;
    CHECK_EQ_INT(strlen(header), 136);
    memcpy(expect + 8, header, 136);
    static const unsigned char data[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0, 0, 0, 0, 0};
    memcpy(expect + 144, data, 16);
    char path[1200];
    snprintf(path, sizeof path, "%s/exact.safetensors", sn_test_tmpdir());
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, &meta, 1, &st) == SN_OK);
    unsigned char *raw;
    size_t size;
    CHECK(sn_read_file(path, &raw, &size, &st) == SN_OK);
    CHECK_EQ_INT(size, sizeof expect);
    CHECK(size == sizeof expect && memcmp(raw, expect, size) == 0);
    if (size == sizeof expect && memcmp(raw, expect, size) != 0)
        fprintf(stderr, "  got header: %.*s\n", 136, (const char *)raw + 8);
    free(raw);
    /* and the reader takes the hand-built bytes */
    sn_st_file f;
    CHECK(sn_safetensors_parse("expect", expect, sizeof expect, &f, &st) == SN_OK);
    CHECK(f.ntensors == 2 && f.nmeta == 1);
    sn_st_free(&f);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
}

/* Written by tests/golden/make_safetensors_golden.py (Python json + struct). */
static void test_golden(void) {
    sn_status st;
    sn_status_init(&st);
    sn_st_file f;
    const char *path = SNNC_TEST_DIR "/golden/small.safetensors";
    if (sn_safetensors_read(path, &f, &st) != SN_OK) {
        CHECK_MSG(0, "%s", st.msg);
        return;
    }
    CHECK_EQ_INT(f.ntensors, 11);
    CHECK_EQ_INT(f.nmeta, 2);
    CHECK(strcmp(f.tensors[0].name, "u8") == 0); /* header order, not data order */
    CHECK(sn_st_meta_get(&f, "format") && strcmp(sn_st_meta_get(&f, "format"), "pt") == 0);
    /* "\ud83d\ude42" in the JSON decodes to U+1F642 */
    CHECK(sn_st_meta_get(&f, "note") &&
          strcmp(sn_st_meta_get(&f, "note"), "smile \xf0\x9f\x99\x82") == 0);
    float v[8];
    const sn_st_tensor *t = sn_st_find(&f, "conv.weight");
    CHECK(t && t->dtype == SN_F32 && t->shape.rank == 2 && t->shape.d[0] == 2 &&
          t->shape.d[1] == 3);
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) {
        CHECK(v[0] == 0.5f && v[1] == -1.25f && v[2] == 3.0f && v[3] == 1e-3f && v[5] == 100.0f);
        CHECK(v[4] == 0.0f && signbit(v[4]));
    }
    t = sn_st_find(&f, "half");
    CHECK(t && t->dtype == SN_F16 && t->nbytes == 14);
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) {
        CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f);
        CHECK(v[3] == ldexpf(1.0f, -24) && v[4] == ldexpf(1.0f, -14));
        CHECK(v[5] == INFINITY && isnan(v[6]));
    }
    t = sn_st_find(&f, "bf16");
    CHECK(t && t->dtype == SN_BF16);
    if (t && sn_st_to_f32(t, v, &st) == SN_OK)
        CHECK(v[0] == 1.0f && v[1] == -3.5f && v[2] == 0.15625f && v[3] == ldexpf(1.0f, 100));
    t = sn_st_find(&f, "bn.num_batches_tracked");
    CHECK(t && t->dtype == SN_I64 && t->shape.rank == 0 && t->nbytes == 8);
    if (t) {
        int64_t c;
        memcpy(&c, t->data, 8);
        CHECK(c == 12345678901LL);
    }
    t = sn_st_find(&f, "f64");
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) CHECK(v[0] == 0.1f && v[1] == 2.5f && v[2] == -7.0f);
    t = sn_st_find(&f, "i32");
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) CHECK(v[0] == -7.0f && v[1] == 2147483647.0f);
    t = sn_st_find(&f, "i8");
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) CHECK(v[0] == -128.0f && v[1] == 127.0f);
    t = sn_st_find(&f, "u8");
    CHECK(t && t->shape.rank == 3 && t->shape.d[2] == 3);
    if (t && sn_st_to_f32(t, v, &st) == SN_OK)
        CHECK(v[0] == 0.0f && v[1] == 128.0f && v[2] == 255.0f);
    t = sn_st_find(&f, "mask");
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) CHECK(v[0] == 1.0f && v[1] == 0.0f);
    t = sn_st_find(&f, "empty");
    CHECK(t && t->nbytes == 0 && t->shape.rank == 2 && t->shape.d[0] == 0 && t->shape.d[1] == 4);
    t = sn_st_find(&f, "gewicht.\xce\xbc"); /* "\u03bc" in the JSON */
    if (t && sn_st_to_f32(t, v, &st) == SN_OK) CHECK(v[0] == -2.0f);
    CHECK(t != NULL);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    sn_st_free(&f);
}

/* ---- malformed files ----------------------------------------------------------------------- */

/* 8-byte length (of header, or `len` when len_override >= 0) + header + data. */
static unsigned char *build(const char *header, const void *data, size_t dlen,
                            long long len_override, size_t *size) {
    size_t h = strlen(header);
    *size = 8 + h + dlen;
    unsigned char *b = malloc(*size + 1);
    uint64_t n = len_override >= 0 ? (uint64_t)len_override : h;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, header, h);
    if (dlen) memcpy(b + 8 + h, data, dlen);
    return b;
}

static void expect_bad(const char *header, size_t dlen, long long len_override, const char *sub1,
                       const char *sub2) {
    static const unsigned char zeros[64];
    size_t size;
    unsigned char *b = build(header, zeros, dlen, len_override, &size);
    sn_status st;
    sn_status_init(&st);
    sn_st_file f;
    CHECK_MSG(sn_safetensors_parse("bad.safetensors", b, size, &f, &st) == SN_ERR_INPUT,
              "accepted: %s", header);
    CHECK(f.tensors == NULL && f.ntensors == 0 && f.meta == NULL);
    CHECK_CONTAINS(st.msg, "bad.safetensors");
    if (sub1) CHECK_CONTAINS(st.msg, sub1);
    if (sub2) CHECK_CONTAINS(st.msg, sub2);
    sn_st_free(&f);
    free(b);
}

#define W2 "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

static void test_malformed(void) {
    sn_status st;
    sn_status_init(&st);
    sn_st_file f;
    /* shorter than the length field */
    CHECK(sn_safetensors_parse("bad.safetensors", (const unsigned char *)"\x05\0\0\0\0", 5, &f,
                               &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "bad.safetensors: 5 bytes is too short");
    sn_st_free(&f);
    /* truncated header / N larger than the file */
    expect_bad("{\"a\":" W2 "}", 8, 1000, "header length 1000",
               "truncated or not a safetensors file");
    expect_bad("{}", 0, 3, "header length 3", "truncated");
    expect_bad("{}", 0, 200LL * 1024 * 1024, "100 MB", NULL);
    expect_bad("{}", 0, -2 /* unused */ + 0x7fffffffffffffffLL, "exceeds the 100 MB limit", NULL);
    /* JSON errors: offsets are file offsets (header starts at byte 8) */
    expect_bad("{\"a\": }", 0, -1, "invalid JSON at byte 14", "expected a value");
    expect_bad("", 0, -1, "invalid JSON at byte 8", "end of input");
    expect_bad("{\"a\":" W2 ",}", 8, -1, "trailing comma", NULL);
    expect_bad("[]", 0, -1, "header at byte 8 is an array, expected a JSON object", NULL);
    /* entries */
    expect_bad("{\"a\": 5}", 0, -1, "tensor \"a\" (byte 14)", "found a number");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, -1, "tensor \"a\"",
               "has no \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, -1,
               "unexpected key \"x\"", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
               "unknown dtype \"F8\" at byte 22", "F32 F16 BF16");
    expect_bad("{\"a\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, -1,
               "\"dtype\" (byte 22) must be a string", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, -1,
               "shape[0] at byte 37 must be a non-negative integer", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, -1,
               "shape[0]", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, -1,
               "\"shape\" (byte 36) must be an array", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 8,
               -1, "rank 7", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
               "\"data_offsets\":[0,4]}}",
               8, -1, "tensor \"a\": shape [4294967296, 4294967296, 4294967296]", "too large");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, -1,
               "tensor \"a\": data_offsets [0, 16]",
               "reach past the end of the 8-byte data section");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, -1,
               "begin is after end", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, -1,
               "data_offsets [0, 4] (byte 55) hold 4 bytes, but F32 [2] needs 8", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, -1,
               "must be [begin, end]", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, -1,
               "must be [begin, end]", NULL);
    expect_bad("{\"a\":" W2 ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
               -1, "tensors \"a\" (data_offsets [0, 8]) and \"b\" (data_offsets [4, 12]) overlap",
               NULL);
    expect_bad("{\"a\":" W2 ",\"a\":" W2 "}", 8, -1, "duplicate key \"a\"", "first at byte 9");
    expect_bad("{\"__metadata__\":{\"k\":1},"
               "\"a\":" W2 "}",
               8, -1, "\"__metadata__\" entry \"k\" (byte 29) must be a string, found a number",
               NULL);
    expect_bad("{\"__metadata__\":[\"x\"]}", 0, -1, "\"__metadata__\" (byte 24) must be an object",
               NULL);
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, -1, "duplicate key \"k\"", NULL);

    /* what is accepted: zero-size tensors anywhere, spaces after the JSON, gaps */
    sn_status_init(&st);
    size_t size;
    unsigned char *b = build("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                             "\"a\":" W2 "}   ",
                             "\1\2\3\4\5\6\7\10", 8, -1, &size);
    CHECK(sn_safetensors_parse("ok", b, size, &f, &st) == SN_OK);
    CHECK_MSG(sn_ok(&st), "%s", st.msg);
    CHECK(f.ntensors == 2 && f.tensors[1].nbytes == 8 &&
          ((unsigned char *)f.tensors[1].data)[7] == 8);
    sn_st_free(&f);
    free(b);
    /* bytes no tensor refers to (here 0..3 and 8..11) are tolerated */
    b = build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              "\1\2\3\4\5\6\7\10\11\12\13\14", 12, -1, &size);
    CHECK(sn_safetensors_parse("ok", b, size, &f, &st) == SN_OK);
    CHECK(f.ntensors == 1 && ((unsigned char *)f.tensors[0].data)[0] == 5);
    sn_st_free(&f);
    free(b);

    /* a missing file names the path */
    sn_status_init(&st);
    char path[1200];
    snprintf(path, sizeof path, "%s/none.safetensors", sn_test_tmpdir());
    CHECK(sn_safetensors_read(path, &f, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "none.safetensors");
    /* and a file from disk names it too */
    sn_status_init(&st);
    b = build("{\"a\":7}", NULL, 0, -1, &size);
    sn_write_file_atomic(path, b, size, &st);
    free(b);
    CHECK(sn_safetensors_read(path, &f, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, path);
    CHECK_CONTAINS(st.msg, "tensor \"a\"");
}

static void test_writer_errors(void) {
    const float x[2] = {1, 2};
    sn_status st;
    sn_st_tensor ts[2] = {T("a", SN_F32, sn_shape1(2), x), T("a", SN_F32, sn_shape1(2), x)};
    char path[1200];
    snprintf(path, sizeof path, "%s/w.safetensors", sn_test_tmpdir());
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, NULL, 0, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "tensor name \"a\" appears twice");
    CHECK_CONTAINS(st.msg, "w.safetensors");
    CHECK(!sn_file_exists(path));
    ts[1].name = "b";
    ts[1].nbytes = 4;
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, NULL, 0, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "tensor \"b\": 4 bytes of data, but F32 [2] needs 8");
    ts[1].nbytes = 8;
    ts[1].name = "__metadata__";
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, NULL, 0, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "__metadata__");
    ts[1].name = "b";
    ts[1].shape = sn_shape1(-2);
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, NULL, 0, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "negative");
    ts[1].shape = sn_shape1(2);
    ts[1].name = "bad\xff";
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, NULL, 0, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "UTF-8");
    ts[1].name = "b";
    sn_st_meta meta[2] = {{"k", "1"}, {"k", "2"}};
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, meta, 2, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "metadata key \"k\" appears twice");
    sn_status_init(&st);
    CHECK(sn_safetensors_write(path, ts, 2, meta, 1, &st) == SN_OK);
    CHECK(sn_file_exists(path));
    /* sn_st_to_f32 checks the byte count */
    sn_st_tensor bad = T("z", SN_F16, sn_shape1(3), x);
    bad.nbytes = 8;
    float out[4];
    sn_status_init(&st);
    CHECK(sn_st_to_f32(&bad, out, &st) == SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "tensor \"z\": 8 bytes of data, but F16 [3] needs 6");
}

/* Flip random bytes of a valid file: the parser must never crash, leak or accept data it
 * cannot back (ASan/UBSan check the first two). */
static void test_fuzz(void) {
    const float w[6] = {1, 2, 3, 4, 5, 6};
    const uint16_t h[2] = {0x3c00, 0x7c00};
    const int64_t c = 3;
    sn_st_tensor ts[3] = {T("conv.weight", SN_F32, sn_shape2(2, 3), w),
                          T("h", SN_F16, sn_shape1(2), h),
                          T("bn.num_batches_tracked", SN_I64, scalar(), &c)};
    sn_st_meta meta = {"format", "pt"};
    unsigned char *good;
    size_t size;
    sn_status st;
    sn_status_init(&st);
    CHECK(sn_safetensors_serialize(ts, 3, &meta, 1, &good, &size, &st) == SN_OK);
    unsigned char *buf = malloc(size);
    int accepted = 0;
    for (uint64_t it = 0; it < 2000; it++) {
        memcpy(buf, good, size);
        int flips = 1 + (int)(sn_rand_u01(99, 0, it) * 3);
        for (int k = 0; k < flips; k++) {
            uint64_t r = it * 4 + (uint64_t)k;
            /* mostly the length and header, sometimes the data */
            size_t span = sn_rand_u01(99, 1, r) < 0.9f ? size - 24 - 8 : size;
            size_t at = (size_t)(sn_rand_u01(99, 2, r) * (float)span);
            if (at >= size) at = size - 1;
            buf[at] = (unsigned char)(sn_rand_u01(99, 3, r) * 256.0f);
        }
        size_t n = it % 7 == 0 ? (size_t)(sn_rand_u01(99, 4, it) * (float)size) : size;
        sn_status_init(&st);
        sn_st_file f;
        if (sn_safetensors_parse("fuzz", buf, n, &f, &st) == SN_OK) {
            accepted++;
            for (int i = 0; i < f.ntensors; i++) {
                float *o =
                    malloc(sizeof(float) * ((size_t)sn_shape_numel(&f.tensors[i].shape) + 1));
                sn_status s2;
                sn_status_init(&s2);
                CHECK(sn_st_to_f32(&f.tensors[i], o, &s2) == SN_OK);
                free(o);
            }
        } else {
            CHECK(strstr(st.msg, "fuzz") != NULL);
        }
        sn_st_free(&f);
    }
    fprintf(stderr, "  fuzz: %d of 2000 mutated files still parsed\n", accepted);
    free(buf);
    free(good);
}

int main(void) {
    RUN(test_half);
    RUN(test_round_trip);
    RUN(test_exact_bytes);
    RUN(test_golden);
    RUN(test_malformed);
    RUN(test_writer_errors);
    RUN(test_fuzz);
    return sn_test_result();
}
