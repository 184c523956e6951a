/* compiler/deploy/archive.c on the runtime archive snnc embeds: its members read back, their
 * ELF symbols, the members a root object needs (as a linker would pick them), an archive
 * written and read again member for member (long names, odd sizes), duplicate definitions
 * caught, and damaged archives or objects refused without a crash. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compiler/deploy/archive.h"
#include "compiler/deploy/rt_embed.h"

static int find(const sn_obj *o, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(o[i].name, name)) return i;
    return -1;
}

static void test_embedded_runtime(void) {
    sn_status st;
    sn_status_init(&st);
    size_t size;
    const unsigned char *data = sn_rt_deploy_archive(&size);
    CHECK(size > 1000);
    sn_obj *m = NULL;
    int n = 0;
    CHECK_MSG(sn_ar_read("rt", data, size, &m, &n, &st) == SN_OK, "%s", st.msg);
    int snrt = find(m, n, "snrt.c.o"), plan = find(m, n, "plan.c.o"), pool = find(m, n, "pool.c.o");
    CHECK(snrt >= 0 && plan >= 0 && pool >= 0);
    for (int i = 0; i < n; i++) CHECK_MSG(sn_obj_scan(&m[i], &st) == SN_OK, "%s", st.msg);
    if (snrt < 0 || plan < 0 || pool < 0) {
        free(m);
        return;
    }
    CHECK(sn_obj_defines(&m[snrt], "snrt_create") && sn_obj_defines(&m[snrt], "snrt_run"));
    CHECK(sn_obj_defines(&m[plan], "sn_plan_run") && !sn_obj_defines(&m[plan], "snrt_run"));
    /* what snrt.c.o needs, transitively: the plan runner and the pool, not the JSON reader's
     * users that nothing asks for */
    int *keep = calloc((size_t)n, sizeof *keep);
    char *unres = NULL;
    CHECK_MSG(sn_ar_select(&m[snrt], 1, m, n, keep, &unres, &st) == SN_OK, "%s", st.msg);
    CHECK(keep[plan] && keep[pool] && !keep[snrt]); /* the root is not a library member here */
    int libc_needed = 0;
    for (const char *u = unres; u && *u; u += strlen(u) + 1) {
        libc_needed |= !strcmp(u, "mmap") || !strcmp(u, "pthread_create");
        CHECK_MSG(strncmp(u, "sn_", 3) != 0 && strncmp(u, "snrt_", 5) != 0,
                  "runtime symbol %s left unresolved", u);
    }
    CHECK(libc_needed);
    free(unres);
    /* a symbol defined twice */
    sn_obj twice[2] = {m[snrt], m[snrt]};
    sn_status_init(&st);
    CHECK(sn_ar_select(twice, 2, m, n, keep, NULL, &st) == SN_ERR_RUNTIME);
    CHECK_CONTAINS(st.msg, "defined more than once");

    /* write and read back, with a long member name and an odd-sized member */
    sn_obj out[3] = {m[plan], m[pool], m[snrt]};
    strcpy(out[0].name, "a_member_name_longer_than_fifteen.o");
    unsigned char odd[3] = {1, 2, 3};
    unsigned char *ar = NULL;
    size_t ar_size = 0;
    sn_status_init(&st);
    CHECK_MSG(sn_ar_write(out, 3, &ar, &ar_size, &st) == SN_OK, "%s", st.msg);
    sn_obj *back = NULL;
    int nb = 0;
    CHECK_MSG(sn_ar_read("written", ar, ar_size, &back, &nb, &st) == SN_OK, "%s", st.msg);
    CHECK_EQ_INT(nb, 3);
    for (int i = 0; i < nb && i < 3; i++) {
        CHECK(!strcmp(back[i].name, out[i].name));
        CHECK(back[i].size == out[i].size && !memcmp(back[i].data, out[i].data, out[i].size));
    }
    /* the symbol index: a big-endian count, then one offset per symbol */
    uint32_t nsym =
        (uint32_t)ar[68] << 24 | (uint32_t)ar[69] << 16 | (uint32_t)ar[70] << 8 | ar[71];
    CHECK_EQ_INT(nsym, m[plan].ndefined + m[pool].ndefined + m[snrt].ndefined);
    free(back);
    free(ar);
    sn_obj o2 = {"odd.o", odd, 3, NULL, NULL, 0, 0};
    CHECK(sn_ar_write(&o2, 1, &ar, &ar_size, &st) == SN_OK && ar_size % 2 == 0);
    CHECK(sn_ar_read("odd", ar, ar_size, &back, &nb, &st) == SN_OK && nb == 1 && back[0].size == 3);
    free(back);
    free(ar);

    /* damage: truncated archives and objects */
    int refused = 0, tried = 0;
    for (size_t cut = 8; cut < 4096 && cut < size; cut += 61) {
        sn_status s2;
        sn_status_init(&s2);
        sn_obj *t = NULL;
        int nt = 0;
        tried++;
        if (sn_ar_read("cut", data, cut, &t, &nt, &s2) != SN_OK) refused++;
        free(t);
    }
    CHECK(refused > 0 && refused <= tried);
    sn_obj cut = m[plan];
    for (size_t len = 0; len < m[plan].size; len += 97) {
        sn_status s2;
        sn_status_init(&s2);
        cut.size = len;
        cut.defined = cut.undefined = NULL;
        if (sn_obj_scan(&cut, &s2) == SN_OK) sn_obj_free(&cut);
    }
    unsigned char junk[64] = "\177ELF";
    sn_obj bad = {"junk.o", junk, sizeof junk, NULL, NULL, 0, 0};
    sn_status_init(&st);
    CHECK(sn_obj_scan(&bad, &st) == SN_ERR_RUNTIME);
    for (int i = 0; i < n; i++) sn_obj_free(&m[i]);
    free(keep);
    free(m);
}

int main(void) {
    RUN(test_embedded_runtime);
    return sn_test_result();
}
