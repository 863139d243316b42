#include "cli.h"
int cmd_sign(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "mantle sign: being written\n");
    return CLI_ERROR;
}
void cmd_sign_usage(FILE *out)
{
    fprintf(out, "usage: mantle sign ...\n");
}
