/* mantle chat: one call of the OpenAI Chat Completions API on Mantle. */
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_util.h"

void cmd_chat_usage(FILE *out)
{
    fprintf(out, "usage: mantle chat --model M [--system T] [--stream] [global options]\n"
                 "                   [MESSAGE | -]\n"
                 "\n"
                 "Sends one user message (POST /chat/completions) and prints the reply.\n"
                 "'-', or no MESSAGE with stdin not a terminal, reads the message from stdin.\n"
                 "\n"
                 "  --model M            model id, e.g. openai.gpt-oss-120b\n"
                 "  --system T           a system message first\n"
                 "  --stream             print the reply as it is generated\n"
                 "\n");
    cli_client_usage_globals(out);
}

static const struct option chat_options[] = {
    {"model", required_argument, NULL, CLI_PROMPT_MODEL},
    {"system", required_argument, NULL, CLI_PROMPT_SYSTEM},
    {"stream", no_argument, NULL, CLI_PROMPT_STREAM},
    {NULL, 0, NULL, 0},
};

static int print_content(const struct mantle_response *r)
{
    const char *text = mantle_chat_message_content(r);
    if (!text) {
        fprintf(stderr, "mantle chat: the completion has no message content\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

static const char *content_delta(const struct mantle_stream_event *ev)
{
    const json_t *choice = json_array_get(json_object_get(ev->json, "choices"), 0);
    return cli_json_string_at(choice, "delta", "content", NULL);
}

static const struct cli_api chat_api = {
    .method = "POST",
    .path = "/chat/completions",
    .create = mantle_chat_completions_create,
    .stream = mantle_chat_completions_stream,
    .print_text = print_content,
    .delta = content_delta,
};

/* {"model": M, "messages": [{"role": "system", ...}?, {"role": "user", ...}]} */
static json_t *chat_body(const void *ud, const char *message)
{
    const struct cli_prompt_args *a = ud;
    json_t *messages = json_array();
    if (a->system)
        json_array_append_new(messages,
                              json_pack("{s:s, s:s}", "role", "system", "content", a->system));
    json_array_append_new(messages, json_pack("{s:s, s:s}", "role", "user", "content", message));
    if (json_array_size(messages) != (a->system ? 2u : 1u)) { /* a string was not UTF-8 */
        json_decref(messages);
        return NULL;
    }
    return json_pack("{s:s, s:o}", "model", a->model, "messages", messages);
}

int cmd_chat(int argc, char **argv)
{
    struct cli_client g;
    struct cli_prompt_args a = {0};
    cli_client_init(&g, "chat", cmd_chat_usage);
    int rc = cli_client_parse(&g, argc, argv, chat_options, cli_prompt_option, &a);
    if (rc != CLI_CONTINUE) return rc;
    return cli_prompt_run(&g, &chat_api, &a, 0, "message", chat_body, &a);
}
