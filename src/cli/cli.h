/* Shared declarations of the command-line tool. */
#ifndef MANTLE_CLI_H
#define MANTLE_CLI_H

#include <stdio.h>

enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    void (*usage)(FILE *out);
};

int cmd_sign(int argc, char **argv);
void cmd_sign_usage(FILE *out);

#endif
