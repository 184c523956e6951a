/* snnc: the command-line driver. */
#include <stdio.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "commands.h"

static const sn_command *const commands[] = {
    &sn_cmd_train, &sn_cmd_eval,    &sn_cmd_inspect, &sn_cmd_init,   &sn_cmd_compile, &sn_cmd_bench,
    &sn_cmd_demo,  &sn_cmd_convert, &sn_cmd_snn,     &sn_cmd_import, &sn_cmd_export,
};

static void usage(FILE *f) {
    fprintf(f, "snnc %s: a graph compiler for VGG-style ANNs and spiking neural networks\n\n",
            SNNC_VERSION);
    fprintf(f,
            "usage: snnc COMMAND [options]   (snnc COMMAND --help for its options)\n\ncommands:\n");
    for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++) {
        const char *s = commands[i]->spec->summary, *nl = strchr(s, '\n');
        /* the first line of the summary; `snnc COMMAND --help` shows all of it */
        fprintf(f, "  %-10s %.*s\n", commands[i]->spec->name, nl ? (int)(nl - s) : (int)strlen(s),
                s);
    }
    fprintf(f, "\nexit codes: 0 success, 1 runtime failure, 2 bad usage or bad input\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++)
                if (strcmp(commands[i]->spec->name, argv[2]) == 0) {
                    sn_cmd_print_help(commands[i]->spec);
                    return 0;
                }
        }
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("snnc %s\n", SNNC_VERSION);
        /* what this build can do (optional dependencies) */
        printf("built with:%s%s%s\n",
#ifdef SNNC_HAVE_LLVM
               " llvm",
#else
               "",
#endif
#ifdef SNNC_HAVE_CUDA
               " cuda",
#else
               "",
#endif
#ifdef SNNC_HAVE_MPI
               " mpi"
#else
               ""
#endif
        );
        return 0;
    }
    for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++) {
        const sn_command *c = commands[i];
        if (strcmp(c->spec->name, name) != 0) continue;
        sn_args args;
        sn_status st;
        sn_status_init(&st);
        if (sn_args_parse(c->spec, argc - 2, argv + 2, &args, &st) != SN_OK)
            return sn_report(name, &st);
        if (args.help) {
            sn_cmd_print_help(c->spec);
            return 0;
        }
        return c->run(&args);
    }
    const char *names[SN_ARRAY_LEN(commands) + 1];
    for (size_t i = 0; i < SN_ARRAY_LEN(commands); i++) names[i] = commands[i]->spec->name;
    names[SN_ARRAY_LEN(commands)] = NULL;
    const char *s = sn_suggest(name, names);
    fprintf(stderr, "snnc: unknown command '%s'%s%s%s (see snnc --help)\n", name,
            s ? "; did you mean '" : "", s ? s : "", s ? "'?" : "");
    return 2;
}
