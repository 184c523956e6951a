/* Command-line parsing shared by every snnc command: a table of options per command,
 * --help generated from it, "--opt VALUE" and "--opt=VALUE" forms, did-you-mean for
 * unknown options, and checked number parsing. Usage errors exit with code 2. */
#ifndef SN_CLI_H
#define SN_CLI_H

#include <stdint.h>

#include "../../runtime/core/status.h"

#define SN_CLI_MAX_OPTS   40
#define SN_CLI_MAX_POS    8
#define SN_CLI_MAX_REPEAT 64

typedef struct sn_opt {
    const char *name;    /* "--data" */
    const char *metavar; /* "DIR"; NULL for a flag */
    const char *help;
    int repeatable;
} sn_opt;

typedef struct sn_cmd {
    const char *name;
    const char *usage; /* after "snnc NAME " */
    const char *summary;
    const char *details; /* extra help text, may be NULL */
    int min_pos, max_pos;
    sn_opt opts[SN_CLI_MAX_OPTS];
} sn_cmd;

typedef struct sn_args {
    const sn_cmd *cmd;
    const char *pos[SN_CLI_MAX_POS];
    int npos;
    int count[SN_CLI_MAX_OPTS];
    const char *value[SN_CLI_MAX_OPTS][SN_CLI_MAX_REPEAT];
    int help;
} sn_args;

/* Parses argv (after the command name). Returns SN_ERR_INPUT with a message for usage
 * errors; sets args->help when --help/-h was given (nothing else is checked then). */
sn_code sn_args_parse(const sn_cmd *cmd, int argc, char **argv, sn_args *args, sn_status *st);
void sn_cmd_print_help(const sn_cmd *cmd);

int sn_args_has(const sn_args *a, const char *name);
/* Last value of an option, or def. */
const char *sn_args_str(const sn_args *a, const char *name, const char *def);
/* All values of a repeatable option. */
int sn_args_all(const sn_args *a, const char *name, const char *const **values);
sn_code sn_args_int(const sn_args *a, const char *name, int64_t def, int64_t lo, int64_t hi,
                    int64_t *out, sn_status *st);
sn_code sn_args_float(const sn_args *a, const char *name, double def, double lo, double hi,
                      double *out, sn_status *st);
/* Value must be one of the NULL-terminated choices; returns its index. */
sn_code sn_args_choice(const sn_args *a, const char *name, const char *const *choices, int def,
                       int *out, sn_status *st);

/* Strict number parsing used above (whole string, range-checked). */
int sn_parse_i64(const char *s, int64_t *out);
int sn_parse_f64(const char *s, double *out);

/* Prints "snnc: error: MSG" (multi-line messages indented) to stderr; returns code. */
int sn_report(const char *cmd, const sn_status *st);
/* Whether stderr is a terminal (progress lines redraw in place there). */
int sn_stderr_is_tty(void);

#endif
