/* The snnc subcommands. Each returns the process exit code (0 ok, 1 runtime failure,
 * 2 bad usage or input). */
#ifndef SN_COMMANDS_H
#define SN_COMMANDS_H

#include "cli.h"

typedef struct sn_command {
    const sn_cmd *spec;
    int (*run)(const sn_args *a);
} sn_command;

extern const sn_command sn_cmd_inspect;
extern const sn_command sn_cmd_eval;
extern const sn_command sn_cmd_compile;
extern const sn_command sn_cmd_bench;
extern const sn_command sn_cmd_train;
extern const sn_command sn_cmd_init;
extern const sn_command sn_cmd_demo;
extern const sn_command sn_cmd_convert;
extern const sn_command sn_cmd_snn;
extern const sn_command sn_cmd_import;
extern const sn_command sn_cmd_export;

#endif
