/* Physical layouts of activations in the CPU backend.
 *
 *  blocked  [N][ceil(C/vl)][H+2h][W+2h][vl]  channels in blocks of the vector width, so a
 *           vector load reads vl channels of one pixel; channels past C are zero.
 *  plain    [N][C][H+2h][W+2h]               NCHW (the network input, flat [N, K] tensors
 *           with H = W = 1).
 * h is the halo: a zero border kept around each map so that a consumer convolution with
 * padding <= h never tests bounds. Producers write the zeros (the arena is reused, so the
 * border cannot be cleared once). */
#ifndef SN_CPU_LAYOUT_H
#define SN_CPU_LAYOUT_H

#include <stdint.h>
#include <stdio.h>

typedef struct sn_cpu_layout {
    int blocked;
    int vl;      /* block width (blocked) */
    int C, H, W; /* logical */
    int halo;
} sn_cpu_layout;

static inline int sn_lay_cb(const sn_cpu_layout *l) {
    return l->blocked ? (l->C + l->vl - 1) / l->vl : l->C;
}
static inline int64_t sn_lay_hp(const sn_cpu_layout *l) {
    return l->H + 2 * l->halo;
}
static inline int64_t sn_lay_wp(const sn_cpu_layout *l) {
    return l->W + 2 * l->halo;
}
/* floats between consecutive pixels of a row */
static inline int64_t sn_lay_pix(const sn_cpu_layout *l) {
    return l->blocked ? l->vl : 1;
}
static inline int64_t sn_lay_row(const sn_cpu_layout *l) {
    return sn_lay_wp(l) * sn_lay_pix(l);
}
/* floats between channel blocks (blocked) or channels (plain) */
static inline int64_t sn_lay_plane(const sn_cpu_layout *l) {
    return sn_lay_hp(l) * sn_lay_row(l);
}
static inline int64_t sn_lay_image(const sn_cpu_layout *l) {
    return sn_lay_cb(l) * sn_lay_plane(l);
}
/* offset of channel c, interior row y, column x (y, x may be negative down to -halo) */
static inline int64_t sn_lay_at(const sn_cpu_layout *l, int c, int y, int x) {
    int64_t base = (int64_t)(y + l->halo) * sn_lay_row(l) + (int64_t)(x + l->halo) * sn_lay_pix(l);
    return l->blocked ? (c / l->vl) * sn_lay_plane(l) + base + c % l->vl
                      : c * sn_lay_plane(l) + base;
}

/* The name a plan buffer records for its layout ("NCHW16c+h1", "NCHW+h0", "NC"), and the
 * layout of a C x H x W map back from it; any other name (the reference backend's "") is
 * plain NCHW without halo. */
static inline void sn_lay_name(const sn_cpu_layout *l, char *out, size_t n) {
    if (l->blocked)
        snprintf(out, n, "NCHW%dc+h%d", l->vl, l->halo);
    else if (l->H == 1 && l->W == 1)
        snprintf(out, n, "NC");
    else
        snprintf(out, n, "NCHW+h%d", l->halo);
}

static inline sn_cpu_layout sn_lay_parse(const char *name, int C, int H, int W) {
    sn_cpu_layout l = {0, 1, C, H, W, 0};
    int vl = 0, h = 0;
    if (sscanf(name, "NCHW%dc+h%d", &vl, &h) == 2 && vl > 0) {
        l.blocked = 1;
        l.vl = vl;
        l.halo = h;
    } else if (sscanf(name, "NCHW+h%d", &h) == 1) {
        l.halo = h;
    }
    return l;
}

#endif
