/* mantle - command-line tool. Commands live in cmd_*.c; this file dispatches. */
#include "cli.h"

#include <mantle/mantle.h>
#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
    {"sign", "Sign an HTTP request with AWS SigV4 and print the headers", cmd_sign, cmd_sign_usage},
    {"responses", "Create a model response (OpenAI Responses API)", cmd_responses,
     cmd_responses_usage},
    {"chat", "Send a chat message (OpenAI Chat Completions API)", cmd_chat, cmd_chat_usage},
    {"messages", "Send a message with the Anthropic Messages API", cmd_messages,
     cmd_messages_usage},
    {"models", "List the models, or show one", cmd_models, cmd_models_usage},
    {"credentials", "Show (which) or export the AWS credentials the default chain finds",
     cmd_credentials, cmd_credentials_usage},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: mantle [--version] <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-12s %s\n", "help", "Show help for a command: mantle help <command>");
    fprintf(out, "\nEvery command takes --help.\n");
}

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("mantle %s\n", mantle_version());
        return CLI_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        const struct cli_command *c = find_command(argv[2]);
        if (!c) {
            fprintf(stderr, "mantle: unknown command '%s'\n", argv[2]);
            return CLI_USAGE;
        }
        c->usage(stdout);
        return CLI_OK;
    }
    const struct cli_command *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "mantle: unknown command '%s' (see 'mantle --help')\n", cmd);
        return CLI_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
