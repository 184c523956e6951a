#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../runtime/core/util.h"

static int find_opt(const sn_cmd *cmd, const char *name, size_t len) {
    for (int i = 0; i < SN_CLI_MAX_OPTS && cmd->opts[i].name; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    return -1;
}

sn_code sn_args_parse(const sn_cmd *cmd, int argc, char **argv, sn_args *a, sn_status *st) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            a->help = 1;
            return SN_OK;
        }
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            const char *eq = strchr(arg, '=');
            size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
            int k = find_opt(cmd, arg, len);
            if (k < 0) {
                const char *names[SN_CLI_MAX_OPTS + 1];
                int n = 0;
                for (; n < SN_CLI_MAX_OPTS && cmd->opts[n].name; n++) names[n] = cmd->opts[n].name;
                names[n] = NULL;
                char word[128];
                sn_strlcpy(word, arg, len + 1 < sizeof word ? len + 1 : sizeof word);
                const char *s = sn_suggest(word, names);
                return sn_fail(st, SN_ERR_INPUT, "unknown option '%s'%s%s%s (see 'snnc %s --help')",
                               word, s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "",
                               cmd->name);
            }
            const sn_opt *o = &cmd->opts[k];
            const char *val = NULL;
            if (o->metavar) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else
                    return sn_fail(st, SN_ERR_INPUT, "option %s needs a value (%s)", o->name,
                                   o->metavar);
            } else if (eq) {
                return sn_fail(st, SN_ERR_INPUT, "option %s takes no value", o->name);
            }
            if (a->count[k] > 0 && !o->repeatable)
                return sn_fail(st, SN_ERR_INPUT, "option %s given more than once", o->name);
            if (a->count[k] >= SN_CLI_MAX_REPEAT)
                return sn_fail(st, SN_ERR_INPUT, "option %s given too many times", o->name);
            a->value[k][a->count[k]++] = val;
            continue;
        }
        if (a->npos >= SN_CLI_MAX_POS || a->npos >= cmd->max_pos)
            return sn_fail(st, SN_ERR_INPUT, "unexpected argument '%s' (usage: snnc %s %s)", arg,
                           cmd->name, cmd->usage);
        a->pos[a->npos++] = arg;
    }
    if (a->npos < cmd->min_pos)
        return sn_fail(st, SN_ERR_INPUT, "missing argument (usage: snnc %s %s)", cmd->name,
                       cmd->usage);
    return SN_OK;
}

void sn_cmd_print_help(const sn_cmd *cmd) {
    printf("usage: snnc %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
    if (cmd->details) printf("\n%s\n", cmd->details);
    printf("\noptions:\n");
    for (int i = 0; i < SN_CLI_MAX_OPTS && cmd->opts[i].name; i++) {
        const sn_opt *o = &cmd->opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        printf("  %-24s %s%s\n", left, o->help, o->repeatable ? " (repeatable)" : "");
    }
    printf("  %-24s %s\n", "-h, --help", "show this help");
}

static int opt_index(const sn_args *a, const char *name) {
    return find_opt(a->cmd, name, strlen(name));
}

int sn_args_has(const sn_args *a, const char *name) {
    int k = opt_index(a, name);
    return k >= 0 && a->count[k] > 0;
}

const char *sn_args_str(const sn_args *a, const char *name, const char *def) {
    int k = opt_index(a, name);
    return k >= 0 && a->count[k] > 0 ? a->value[k][a->count[k] - 1] : def;
}

int sn_args_all(const sn_args *a, const char *name, const char *const **values) {
    int k = opt_index(a, name);
    if (k < 0) {
        *values = NULL;
        return 0;
    }
    *values = a->value[k];
    return a->count[k];
}

int sn_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s) return 0;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return 0;
    *out = v;
    return 1;
}

int sn_parse_f64(const char *s, double *out) {
    if (!s || !*s) return 0;
    errno = 0;
    char *end = NULL;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

sn_code sn_args_int(const sn_args *a, const char *name, int64_t def, int64_t lo, int64_t hi,
                    int64_t *out, sn_status *st) {
    const char *s = sn_args_str(a, name, NULL);
    if (!s) {
        *out = def;
        return SN_OK;
    }
    int64_t v;
    if (!sn_parse_i64(s, &v))
        return sn_fail(st, SN_ERR_INPUT, "%s: expected an integer, got '%s'", name, s);
    if (v < lo || v > hi)
        return sn_fail(st, SN_ERR_INPUT, "%s: %lld is out of range [%lld, %lld]", name,
                       (long long)v, (long long)lo, (long long)hi);
    *out = v;
    return SN_OK;
}

sn_code sn_args_float(const sn_args *a, const char *name, double def, double lo, double hi,
                      double *out, sn_status *st) {
    const char *s = sn_args_str(a, name, NULL);
    if (!s) {
        *out = def;
        return SN_OK;
    }
    double v;
    if (!sn_parse_f64(s, &v))
        return sn_fail(st, SN_ERR_INPUT, "%s: expected a number, got '%s'", name, s);
    if (v < lo || v > hi)
        return sn_fail(st, SN_ERR_INPUT, "%s: %g is out of range [%g, %g]", name, v, lo, hi);
    *out = v;
    return SN_OK;
}

sn_code sn_args_choice(const sn_args *a, const char *name, const char *const *choices, int def,
                       int *out, sn_status *st) {
    const char *s = sn_args_str(a, name, NULL);
    if (!s) {
        *out = def;
        return SN_OK;
    }
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return SN_OK;
        }
    sn_strbuf sb;
    sn_sb_init(&sb);
    for (int i = 0; choices[i]; i++) sn_sb_printf(&sb, "%s%s", i ? ", " : "", choices[i]);
    const char *sug = sn_suggest(s, choices);
    sn_fail(st, SN_ERR_INPUT, "%s: '%s' is not one of: %s%s%s%s", name, s, sn_sb_cstr(&sb),
            sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
    sn_sb_free(&sb);
    return st->code;
}

int sn_report(const char *cmd, const sn_status *st) {
    if (st->code == SN_OK) return 0;
    fprintf(stderr, "snnc %s: error: ", cmd);
    for (const char *p = st->msg; *p; p++) {
        fputc(*p, stderr);
        if (*p == '\n') fputs("  ", stderr);
    }
    fputc('\n', stderr);
    return (int)st->code;
}

int sn_stderr_is_tty(void) {
    return isatty(2);
}
