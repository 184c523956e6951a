/* .npy reading and writing (runtime/io/npy.c): files NumPy writes (hand-assembled here, byte
 * for byte as numpy.save lays them out), every supported dtype in both byte orders, written
 * files read back, and malformed files rejected with a message that says what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/core/util.h"
#include "runtime/io/npy.h"

/* An .npy image: v1.0 header (dict padded to 64 bytes with '\n') + data bytes. */
static size_t make(unsigned char *buf, const char *dict, const void *data, size_t n) {
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64, h = total - 10;
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, dict, dl);
    memset(buf + 10 + dl, ' ', h - dl - 1);
    buf[total - 1] = '\n';
    memcpy(buf + total, data, n);
    return total + n;
}

static void test_dtypes(void) {
    unsigned char buf[512];
    sn_status st;
    sn_npy a;
    /* float32 little-endian, shape (2, 3) */
    float f[6] = {0.5f, -1.0f, 3.25f, 1e-30f, -0.0f, 7.0f};
    size_t n =
        make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, sizeof f);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("a.npy", buf, n, &a, &st), SN_OK);
    CHECK_EQ_INT(a.rank, 2);
    CHECK_EQ_INT(a.shape[0], 2);
    CHECK_EQ_INT(a.shape[1], 3);
    CHECK(memcmp(a.data, f, sizeof f) == 0);
    sn_npy_free(&a);
    /* float64 big-endian (a scalar-free 1-D array), converted to float32 */
    unsigned char be[16];
    double d[2] = {0.1, -2.5};
    for (int i = 0; i < 2; i++) {
        unsigned char le[8];
        memcpy(le, &d[i], 8);
        for (int j = 0; j < 8; j++) be[i * 8 + j] = le[7 - j];
    }
    n = make(buf, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be, sizeof be);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("b.npy", buf, n, &a, &st), SN_OK);
    CHECK_EQ_INT(a.rank, 1);
    CHECK(a.data[0] == (float)0.1 && a.data[1] == -2.5f);
    sn_npy_free(&a);
    /* uint8 and bool (any nonzero byte is true), keys in another order, double quotes */
    unsigned char u[4] = {0, 1, 255, 7};
    n = make(buf, "{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"|u1\"}", u, 4);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("c.npy", buf, n, &a, &st), SN_OK);
    CHECK(a.data[2] == 255.0f && a.data[3] == 7.0f);
    sn_npy_free(&a);
    n = make(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", u, 4);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("d.npy", buf, n, &a, &st), SN_OK);
    CHECK(a.data[0] == 0.0f && a.data[1] == 1.0f && a.data[2] == 1.0f && a.data[3] == 1.0f);
    sn_npy_free(&a);
    /* a 0-d array and an empty one */
    n = make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", f, 4);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("e.npy", buf, n, &a, &st), SN_OK);
    CHECK(a.rank == 0 && a.numel == 1 && a.data[0] == 0.5f);
    sn_npy_free(&a);
    n = make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", f, 0);
    sn_status_init(&st);
    CHECK_EQ_INT(sn_npy_parse("f.npy", buf, n, &a, &st), SN_OK);
    CHECK(a.numel == 0);
    sn_npy_free(&a);
}

static void test_write_read(void) {
    char path[1024];
    sn_path_join(path, sizeof path, sn_test_tmpdir(), "w.npy");
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.25f - 3.0f;
    sn_status st;
    sn_status_init(&st);
    for (int rank = 0; rank <= 4; rank++) {
        int64_t shapes[5][4] = {{0}, {24}, {4, 6}, {2, 3, 4}, {1, 2, 3, 4}};
        CHECK_EQ_INT(sn_npy_write(path, v, rank, shapes[rank], &st), SN_OK);
        sn_npy a;
        CHECK_EQ_INT(sn_npy_read(path, &a, &st), SN_OK);
        CHECK_EQ_INT(a.rank, rank);
        for (int i = 0; i < rank; i++) CHECK_EQ_INT(a.shape[i], shapes[rank][i]);
        CHECK(memcmp(a.data, v, (size_t)a.numel * sizeof(float)) == 0);
        CHECK(!strcmp(a.descr, "<f4"));
        sn_npy_free(&a);
        /* the header is what numpy.save writes: a multiple of 64 bytes, ending in '\n' */
        unsigned char *buf;
        size_t size;
        CHECK_EQ_INT(sn_read_file(path, &buf, &size, &st), SN_OK);
        size_t h = 10 + (size_t)(buf[8] | buf[9] << 8);
        CHECK(h % 64 == 0 && buf[h - 1] == '\n');
        char hdr[256];
        memcpy(hdr, buf + 10, h - 10 < sizeof hdr ? h - 10 : sizeof hdr - 1);
        hdr[h - 10 < sizeof hdr ? h - 10 : sizeof hdr - 1] = '\0';
        const char *want[5] = {"'shape': ()", "'shape': (24,)", "'shape': (4, 6)",
                               "'shape': (2, 3, 4)", "'shape': (1, 2, 3, 4)"};
        CHECK_CONTAINS(hdr, want[rank]);
        free(buf);
    }
}

typedef struct bad_case {
    const char *name;
    const char *dict; /* NULL: raw bytes below */
    const char *raw;
    size_t rawlen;
    size_t data; /* data bytes after the header */
    const char *expect;
} bad_case;

static void test_malformed(void) {
    static const bad_case cases[] = {
        {"magic", NULL, "PK\x03\x04 not numpy at all", 22, 0, "not a NumPy .npy file"},
        {"short", NULL, "\x93NUMPY", 6, 0, "not a NumPy .npy file"},
        {"version", NULL, "\x93NUMPY\x09\x00\x10\x00{}", 12, 0,
         "unsupported .npy format version 9"},
        {"header_past_end", NULL, "\x93NUMPY\x01\x00\xff\x00{'descr'", 18, 0,
         "truncated .npy file"},
        {"fortran", "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", NULL, 0, 8,
         "Fortran order"},
        {"dtype_i8", "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", NULL, 0, 16,
         "unsupported dtype '<i8'"},
        {"dtype_struct", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", NULL,
         0, 8, "structured dtypes are not supported"},
        {"truncated_data", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", NULL, 0,
         40, "truncated .npy file: the shape needs 48 bytes"},
        {"trailing", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", NULL, 0, 12,
         "4 bytes after the array data"},
        {"no_shape", "{'descr': '<f4', 'fortran_order': False, }", NULL, 0, 0, "no 'shape' key"},
        {"bad_shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", NULL, 0, 8,
         "not a whole number"},
        {"unknown_key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", NULL, 0,
         8, "unknown key"},
        {"huge", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
         NULL, 0, 8, "too large"},
        {"rank9", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", NULL,
         0, 4, "more than 8 dimensions"},
        {"garbage_after", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} xyz", NULL, 0, 4,
         "text after the closing"},
    };
    unsigned char buf[1024];
    unsigned char zeros[64] = {0};
    for (size_t i = 0; i < SN_ARRAY_LEN(cases); i++) {
        const bad_case *c = &cases[i];
        size_t n;
        if (c->dict) {
            n = make(buf, c->dict, zeros, c->data);
        } else {
            memcpy(buf, c->raw, c->rawlen);
            n = c->rawlen;
        }
        sn_status st;
        sn_status_init(&st);
        sn_npy a;
        CHECK_MSG(sn_npy_parse(c->name, buf, n, &a, &st) == SN_ERR_INPUT, "%s", c->name);
        CHECK_CONTAINS(st.msg, c->expect);
        CHECK_CONTAINS(st.msg, c->name);
        sn_npy_free(&a);
    }
    /* every truncation of a valid file fails cleanly */
    float f[6] = {1, 2, 3, 4, 5, 6};
    size_t n =
        make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, sizeof f);
    for (size_t cut = 0; cut < n; cut++) {
        sn_status st;
        sn_status_init(&st);
        sn_npy a;
        CHECK_EQ_INT(sn_npy_parse("cut", buf, cut, &a, &st), SN_ERR_INPUT);
        sn_npy_free(&a);
    }
    sn_status st;
    sn_status_init(&st);
    sn_npy a;
    CHECK_EQ_INT(sn_npy_read("/nonexistent/x.npy", &a, &st), SN_ERR_INPUT);
    CHECK_CONTAINS(st.msg, "/nonexistent/x.npy");
}

int main(void) {
    RUN(test_dtypes);
    RUN(test_write_read);
    RUN(test_malformed);
    return sn_test_result();
}
