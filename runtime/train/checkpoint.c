/* Checkpoints as one safetensors file. See checkpoint.h.
 *
 * Layout: the model's tensors under their own names (dtype and shape from the weight
 * store), then each optimizer slot's tensors as "optimizer.<slot>.<param name>", and the
 * metadata strings format ("snnc-checkpoint-1"), epoch, step, best (%.17g, exact), rng
 * (four 16-digit hex words separated by spaces) and model. sn_safetensors_write writes
 * atomically, so a checkpoint being replaced stays readable until the rename. */
#include "checkpoint.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

#define CKPT_FORMAT     "snnc-checkpoint-1"
#define OPT_PREFIX      "optimizer."
#define MAX_SLOTS       ((int)(sizeof(((sn_opt_state *)0)->slots) / sizeof(sn_weights *)))
#define MODEL_NAME_SIZE ((int)sizeof(((sn_ckpt_meta *)0)->model))

static size_t tensor_bytes(const sn_param_desc *d) {
    return (size_t)sn_shape_numel(&d->shape) * sn_dtype_size(d->dtype);
}

/* The parameter a slot store's tensor belongs to: the store's name without the
 * "optimizer.<slot>." prefix the trainer's stores carry (the plan's buffer names). */
static const char *slot_param(const char *slot, const char *name) {
    size_t n = strlen(slot);
    if (strncmp(name, OPT_PREFIX, strlen(OPT_PREFIX)) == 0 &&
        strncmp(name + strlen(OPT_PREFIX), slot, n) == 0 && name[strlen(OPT_PREFIX) + n] == '.')
        return name + strlen(OPT_PREFIX) + n + 1;
    return name;
}

/* "optimizer.<slot>.<param>" for a slot store's tensor, malloc'd. legacy: the name files
 * written before 2026-12 hold, with the prefix twice
 * ("optimizer.momentum.optimizer.momentum.features.0.weight"), still read. */
static char *slot_tensor_name_as(const char *slot, const char *store_name, int legacy) {
    const char *param = slot_param(slot, store_name);
    size_t n = 2 * (strlen(OPT_PREFIX) + strlen(slot) + 1) + strlen(param) + 1;
    char *s = malloc(n);
    if (s && legacy)
        snprintf(s, n, "%s%s.%s%s.%s", OPT_PREFIX, slot, OPT_PREFIX, slot, param);
    else if (s)
        snprintf(s, n, "%s%s.%s", OPT_PREFIX, slot, param);
    return s;
}

static char *slot_tensor_name(const char *slot, const char *store_name) {
    return slot_tensor_name_as(slot, store_name, 0);
}

/* The file's tensor for a slot store's tensor: the documented name, else the legacy one.
 * *name receives the name looked for last (malloc'd; NULL when out of memory). */
static const sn_st_tensor *find_slot_tensor(const sn_st_file *f, const char *slot,
                                            const char *store_name, char **name) {
    *name = slot_tensor_name_as(slot, store_name, 0);
    if (!*name) return NULL;
    const sn_st_tensor *t = sn_st_find(f, *name);
    if (t) return t;
    char *old = slot_tensor_name_as(slot, store_name, 1);
    if (!old) return NULL;
    t = sn_st_find(f, old);
    if (t) {
        free(*name);
        *name = old;
        return t;
    }
    free(old);
    return NULL;
}

static int model_name_len(const char *model) {
    const char *z = memchr(model, '\0', (size_t)MODEL_NAME_SIZE);
    return z ? (int)(z - model) : MODEL_NAME_SIZE;
}

/* Checks the optimizer state description (not the tensors). */
static sn_code check_opt(const char *path, const sn_opt_state *opt, sn_status *st) {
    if (!opt) return SN_OK;
    if (opt->nslots < 0 || opt->nslots > MAX_SLOTS)
        return sn_fail(st, SN_ERR_INPUT, "%s: bad optimizer state (%d slots; at most %d)", path,
                       opt->nslots, MAX_SLOTS);
    for (int s = 0; s < opt->nslots; s++) {
        const char *name = opt->slot_names[s];
        if (!name || !*name || strchr(name, '.') || !opt->slots[s])
            return sn_fail(st, SN_ERR_INPUT,
                           "%s: optimizer slot %d has no store or a bad name \"%s\" (non-empty, "
                           "without dots)",
                           path, s, name ? name : "(null)");
        for (int t = 0; t < s; t++)
            if (strcmp(opt->slot_names[t], name) == 0)
                return sn_fail(st, SN_ERR_INPUT, "%s: optimizer slot \"%s\" appears twice", path,
                               name);
    }
    return SN_OK;
}

sn_code sn_checkpoint_save(const char *path, const sn_weights *w, const sn_opt_state *opt,
                           const sn_ckpt_meta *meta, sn_status *st) {
    if (!path || !*path || !w || !meta)
        return sn_fail(st, SN_ERR_INPUT, "checkpoint: no path, weights or metadata");
    if (check_opt(path, opt, st) != SN_OK) return st->code;
    if (meta->epoch < 0 || meta->step < 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: checkpoint epoch %" PRId64 " / step %" PRId64 " must not be negative",
                       path, meta->epoch, meta->step);
    int nslots = opt ? opt->nslots : 0;
    int total = w->n;
    for (int s = 0; s < nslots; s++) total += opt->slots[s]->n;
    sn_st_tensor *ts = sn_calloc((size_t)total, sizeof *ts);
    char **owned = sn_calloc((size_t)total, sizeof *owned);
    sn_code rc = SN_OK;
    if (!ts || !owned) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory saving the checkpoint", path);
        goto done;
    }
    int k = 0;
    for (int i = 0; i < w->n; i++, k++) {
        ts[k].name = w->desc[i].name;
        ts[k].dtype = w->desc[i].dtype;
        ts[k].shape = w->desc[i].shape;
        ts[k].data = w->data[i];
        ts[k].nbytes = tensor_bytes(&w->desc[i]);
    }
    for (int s = 0; s < nslots; s++) {
        const sn_weights *sw = opt->slots[s];
        for (int i = 0; i < sw->n; i++, k++) {
            owned[k] = slot_tensor_name(opt->slot_names[s], sw->desc[i].name);
            if (!owned[k]) {
                rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory saving the checkpoint", path);
                goto done;
            }
            ts[k].name = owned[k];
            ts[k].dtype = sw->desc[i].dtype;
            ts[k].shape = sw->desc[i].shape;
            ts[k].data = sw->data[i];
            ts[k].nbytes = tensor_bytes(&sw->desc[i]);
        }
    }
    char epoch[32], step[32], best[40], rng[80], model[MODEL_NAME_SIZE + 1];
    snprintf(epoch, sizeof epoch, "%" PRId64, meta->epoch);
    snprintf(step, sizeof step, "%" PRId64, meta->step);
    snprintf(best, sizeof best, "%.17g", meta->best);
    snprintf(rng, sizeof rng, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
             meta->rng[0], meta->rng[1], meta->rng[2], meta->rng[3]);
    snprintf(model, sizeof model, "%.*s", model_name_len(meta->model), meta->model);
    sn_st_meta md[] = {
        {(char *)"format", (char *)CKPT_FORMAT},
        {(char *)"epoch", epoch},
        {(char *)"step", step},
        {(char *)"best", best},
        {(char *)"rng", rng},
        {(char *)"model", model},
    };
    rc = sn_safetensors_write(path, ts, total, md, (int)SN_ARRAY_LEN(md), st);
    if (rc != SN_OK) sn_status_context(st, "while saving the checkpoint %s", path);
done:
    if (owned)
        for (int i = 0; i < total; i++) free(owned[i]);
    free(owned);
    free(ts);
    return rc;
}

/* ---- loading ---- */

typedef struct problems {
    sn_strbuf sb;
    int n;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sn_sb_puts(&p->sb, "\n  ");
    sn_sb_vprintf(&p->sb, fmt, ap);
    va_end(ap);
    p->n++;
}

/* Checks that tensor `name` is in f with exactly the dtype and shape of d. */
static void expect_tensor(problems *p, const sn_st_file *f, const char *name,
                          const sn_param_desc *d) {
    char a[128], b[128];
    const sn_st_tensor *t = sn_st_find(f, name);
    if (!t) {
        problem(p, "missing tensor: %s (expected %s%s)", name, sn_dtype_name(d->dtype),
                sn_shape_str(&d->shape, a, sizeof a));
        return;
    }
    if (t->dtype != d->dtype || !sn_shape_eq(&t->shape, &d->shape) || t->nbytes != tensor_bytes(d))
        problem(p, "mismatched tensor: %s is %s%s, expected %s%s", name, sn_dtype_name(t->dtype),
                sn_shape_str(&t->shape, a, sizeof a), sn_dtype_name(d->dtype),
                sn_shape_str(&d->shape, b, sizeof b));
}

/* Whether a tensor name is expected: a model tensor or an optimizer slot tensor (under
 * its documented or its legacy name). */
static int expected_name(const char *name, const sn_weights *w, const sn_opt_state *opt) {
    if (sn_weights_find(w, name) >= 0) return 1;
    if (!opt) return 0;
    for (int s = 0; s < opt->nslots; s++) {
        const char *slot = opt->slot_names[s];
        const char *param = slot_param(slot, name);
        if (param == name) continue;
        param = slot_param(slot, param); /* the legacy doubled prefix */
        const sn_weights *sw = opt->slots[s];
        for (int i = 0; i < sw->n; i++)
            if (strcmp(slot_param(slot, sw->desc[i].name), param) == 0) return 1;
    }
    return 0;
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Non-negative decimal integer, digits only, no overflow. */
static int parse_count(const char *s, int64_t *out) {
    if (!*s) return 0;
    int64_t v = 0;
    for (; *s; s++) {
        if (!is_digit(*s)) return 0;
        int d = *s - '0';
        if (v > (INT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* A whole string as a double (as printed by %.17g: also "nan", "inf", "-inf"). */
static int parse_double(const char *s, double *out) {
    if (!*s || *s == ' ' || *s == '\t' || *s == '\n') return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || errno == ERANGE) return 0;
    *out = v;
    return 1;
}

/* Exactly four words of 16 hex digits separated by single spaces. */
static int parse_rng(const char *s, uint64_t out[4]) {
    if (strlen(s) != 4 * 16 + 3) return 0;
    for (int w = 0; w < 4; w++) {
        const char *p = s + w * 17;
        if (w < 3 && p[16] != ' ') return 0;
        uint64_t v = 0;
        for (int i = 0; i < 16; i++) {
            int h = hex_value(p[i]);
            if (h < 0) return 0;
            v = v << 4 | (uint64_t)h;
        }
        out[w] = v;
    }
    return 1;
}

static const char *need_meta(problems *p, const sn_st_file *f, const char *key) {
    const char *v = sn_st_meta_get(f, key);
    if (!v) problem(p, "missing metadata \"%s\"", key);
    return v;
}

static void parse_meta(problems *p, const sn_st_file *f, sn_ckpt_meta *m) {
    memset(m, 0, sizeof *m);
    const char *v;
    if ((v = need_meta(p, f, "epoch")) && !parse_count(v, &m->epoch))
        problem(p, "bad metadata \"epoch\": \"%.80s\" is not a non-negative integer", v);
    if ((v = need_meta(p, f, "step")) && !parse_count(v, &m->step))
        problem(p, "bad metadata \"step\": \"%.80s\" is not a non-negative integer", v);
    if ((v = need_meta(p, f, "best")) && !parse_double(v, &m->best))
        problem(p, "bad metadata \"best\": \"%.80s\" is not a number", v);
    if ((v = need_meta(p, f, "rng")) && !parse_rng(v, m->rng))
        problem(p, "bad metadata \"rng\": \"%.80s\" is not four 16-digit hex words", v);
    if ((v = need_meta(p, f, "model"))) {
        if (strlen(v) >= (size_t)MODEL_NAME_SIZE)
            problem(p, "bad metadata \"model\": \"%.80s\" is longer than %d bytes", v,
                    MODEL_NAME_SIZE - 1);
        else
            sn_strlcpy(m->model, v, sizeof m->model);
    }
}

sn_code sn_checkpoint_load(const char *path, sn_weights *w, sn_opt_state *opt, sn_ckpt_meta *meta,
                           sn_status *st) {
    if (!path || !w || !meta)
        return sn_fail(st, SN_ERR_INPUT, "checkpoint: no path, weights or metadata");
    if (check_opt(path, opt, st) != SN_OK) return st->code;
    sn_st_file f;
    if (sn_safetensors_read(path, &f, st) != SN_OK) {
        sn_status_context(st, "while loading the checkpoint %s", path);
        return st->code;
    }
    sn_code rc = SN_OK;
    const char *format = sn_st_meta_get(&f, "format");
    if (!format || strcmp(format, CKPT_FORMAT) != 0) {
        rc = sn_fail(st, SN_ERR_INPUT,
                     "%s: not an snnc checkpoint: metadata \"format\" is %s%.80s%s, expected "
                     "\"%s\"",
                     path, format ? "\"" : "", format ? format : "missing", format ? "\"" : "",
                     CKPT_FORMAT);
        sn_st_free(&f);
        return rc;
    }
    problems p;
    memset(&p, 0, sizeof p);
    sn_sb_init(&p.sb);
    int nslots = opt ? opt->nslots : 0;
    for (int i = 0; i < w->n; i++) expect_tensor(&p, &f, w->desc[i].name, &w->desc[i]);
    for (int s = 0; s < nslots && !p.sb.oom; s++) {
        const sn_weights *sw = opt->slots[s];
        for (int i = 0; i < sw->n; i++) {
            char *name = NULL;
            find_slot_tensor(&f, opt->slot_names[s], sw->desc[i].name, &name);
            if (!name) {
                p.sb.oom = 1;
                break;
            }
            expect_tensor(&p, &f, name, &sw->desc[i]);
            free(name);
        }
    }
    for (int i = 0; i < f.ntensors; i++) {
        if (!expected_name(f.tensors[i].name, w, opt)) {
            char a[128];
            problem(&p, "unexpected tensor: %s %s%s (not in this model or optimizer)",
                    f.tensors[i].name, sn_dtype_name(f.tensors[i].dtype),
                    sn_shape_str(&f.tensors[i].shape, a, sizeof a));
        }
    }
    sn_ckpt_meta m;
    parse_meta(&p, &f, &m);
    if (p.sb.oom) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory checking the checkpoint", path);
    } else if (p.n) {
        rc = sn_fail(st, SN_ERR_INPUT, "%s: the checkpoint does not fit this run (%d problem%s):%s",
                     path, p.n, p.n == 1 ? "" : "s", sn_sb_cstr(&p.sb));
    } else {
        /* Everything matches: only now are w and opt written. */
        for (int i = 0; i < w->n; i++) {
            const sn_st_tensor *t = sn_st_find(&f, w->desc[i].name);
            if (t->nbytes) memcpy(w->data[i], t->data, t->nbytes);
        }
        for (int s = 0; s < nslots && rc == SN_OK; s++) {
            sn_weights *sw = opt->slots[s];
            for (int i = 0; i < sw->n; i++) {
                char *name = NULL;
                const sn_st_tensor *t =
                    find_slot_tensor(&f, opt->slot_names[s], sw->desc[i].name, &name);
                free(name);
                if (!t) {
                    rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
                    break;
                }
                if (t->nbytes) memcpy(sw->data[i], t->data, t->nbytes);
            }
        }
        if (rc == SN_OK) *meta = m;
    }
    sn_sb_free(&p.sb);
    sn_st_free(&f);
    return rc;
}

sn_code sn_checkpoint_load_weights(const char *path, sn_weights *w, sn_status *st) {
    if (!path || !w) return sn_fail(st, SN_ERR_INPUT, "weights: no path or weight store");
    sn_st_file f;
    if (sn_safetensors_read(path, &f, st) != SN_OK) return st->code;
    /* A view of the file without the optimizer tensors (sharing their data). */
    sn_st_file view = f;
    view.tensors = sn_calloc((size_t)(f.ntensors > 0 ? f.ntensors : 1), sizeof *view.tensors);
    sn_code rc;
    if (!view.tensors) {
        rc = sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", path);
    } else {
        view.ntensors = 0;
        for (int i = 0; i < f.ntensors; i++)
            if (strncmp(f.tensors[i].name, OPT_PREFIX, strlen(OPT_PREFIX)) != 0)
                view.tensors[view.ntensors++] = f.tensors[i];
        rc = sn_weights_from_file(w, &view, path, st);
    }
    free(view.tensors);
    sn_st_free(&f);
    return rc;
}
