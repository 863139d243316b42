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
/* The commands that call Mantle (cmd_responses.c, cmd_chat.c, cmd_messages.c, cmd_models.c). */
int cmd_responses(int argc, char **argv);
void cmd_responses_usage(FILE *out);
int cmd_chat(int argc, char **argv);
void cmd_chat_usage(FILE *out);
int cmd_messages(int argc, char **argv);
void cmd_messages_usage(FILE *out);
int cmd_models(int argc, char **argv);
void cmd_models_usage(FILE *out);

/* mantle credentials export|which (cmd_credentials.c). */
int cmd_credentials(int argc, char **argv);
void cmd_credentials_usage(FILE *out);

#endif
