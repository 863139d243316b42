/* mantle messages: one call of the Anthropic Messages API on Mantle. */
#include <errno.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_util.h"

#define DEFAULT_MAX_TOKENS 1024

void cmd_messages_usage(FILE *out)
{
    fprintf(out,
            "usage: mantle messages --model M [--max-tokens N] [--system T] [--stream]\n"
            "                       [global options] [MESSAGE | -]\n"
            "\n"
            "Sends one user message with the Anthropic Messages API on Mantle\n"
            "(POST /anthropic/v1/messages) and prints the reply.\n"
            "'-', or no MESSAGE with stdin not a terminal, reads the message from stdin.\n"
            "\n"
            "  --model M            model id, e.g. anthropic.claude-sonnet-4-5\n"
            "  --max-tokens N       the most tokens to generate (default %d)\n"
            "  --system T           system prompt\n"
            "  --stream             print the reply as it is generated\n"
            "\n",
            DEFAULT_MAX_TOKENS);
    cli_client_usage_globals(out);
}

enum { OPT_MAX_TOKENS = CLI_PROMPT_OWN };

static const struct option messages_options[] = {
    {"model", required_argument, NULL, CLI_PROMPT_MODEL},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"system", required_argument, NULL, CLI_PROMPT_SYSTEM},
    {"stream", no_argument, NULL, CLI_PROMPT_STREAM},
    {NULL, 0, NULL, 0},
};

struct messages_args {
    struct cli_prompt_args prompt;
    long max_tokens;
};

static int messages_option(void *ud, int opt, const char *arg)
{
    struct messages_args *a = ud;
    if (opt != OPT_MAX_TOKENS) return cli_prompt_option(&a->prompt, opt, arg);
    char *end = NULL;
    errno = 0;
    a->max_tokens = strtol(arg, &end, 10);
    if (!*arg || *end || errno || a->max_tokens < 1 || a->max_tokens > 1000000) {
        cli_usage_error("messages", "--max-tokens expects a number from 1 to 1000000");
        return CLI_USAGE;
    }
    return CLI_OK;
}

static int print_text(const struct mantle_response *r)
{
    char *text = mantle_message_text(r);
    if (!text) {
        fprintf(stderr, "mantle messages: the message has no text content\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    mantle_free(text);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

/* content_block_delta events with a text_delta carry the text; the rest is bookkeeping. */
static const char *text_delta(const struct mantle_stream_event *ev)
{
    const char *type = cli_json_string_at(ev->json, "type", NULL);
    const char *delta_type = cli_json_string_at(ev->json, "delta", "type", NULL);
    if (!type || strcmp(type, "content_block_delta") != 0 || !delta_type ||
        strcmp(delta_type, "text_delta") != 0)
        return NULL;
    return cli_json_string_at(ev->json, "delta", "text", NULL);
}

static const struct cli_api messages_api = {
    .method = "POST",
    .path = "/anthropic/v1/messages",
    .from_host_root = true,
    .anthropic = true,
    .create = mantle_messages_create,
    .stream = mantle_messages_stream,
    .print_text = print_text,
    .delta = text_delta,
};

/* {"model": M, "max_tokens": N, "messages": [{"role": "user", ...}], "system": T?} */
static json_t *messages_body(const void *ud, const char *message)
{
    const struct messages_args *a = ud;
    json_t *body =
        json_pack("{s:s, s:I, s:[{s:s, s:s}]}", "model", a->prompt.model, "max_tokens",
                  (json_int_t)a->max_tokens, "messages", "role", "user", "content", message);
    if (body && a->prompt.system &&
        json_object_set_new(body, "system", json_string(a->prompt.system)) != 0) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

int cmd_messages(int argc, char **argv)
{
    struct cli_client g;
    struct messages_args a = {.max_tokens = DEFAULT_MAX_TOKENS};
    cli_client_init(&g, "messages", cmd_messages_usage);
    int rc = cli_client_parse(&g, argc, argv, messages_options, messages_option, &a);
    if (rc != CLI_CONTINUE) return rc;
    return cli_prompt_run(&g, &messages_api, &a.prompt, 0, "message", messages_body, &a);
}
