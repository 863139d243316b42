/* mantle responses create: one call of the OpenAI Responses API on Mantle. */
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_util.h"

void cmd_responses_usage(FILE *out)
{
    fprintf(out, "usage: mantle responses create --model M [--stream] [--instructions T]\n"
                 "                               [global options] [INPUT | -]\n"
                 "\n"
                 "Creates a model response (POST /responses) and prints its output text.\n"
                 "INPUT is the prompt; '-', or no INPUT with stdin not a terminal, reads stdin.\n"
                 "\n"
                 "  --model M            model id, e.g. openai.gpt-oss-120b\n"
                 "  --instructions T     system instructions\n"
                 "  --stream             print the answer as it is generated\n"
                 "\n");
    cli_client_usage_globals(out);
}

static const struct option responses_options[] = {
    {"model", required_argument, NULL, CLI_PROMPT_MODEL},
    {"instructions", required_argument, NULL, CLI_PROMPT_SYSTEM},
    {"stream", no_argument, NULL, CLI_PROMPT_STREAM},
    {NULL, 0, NULL, 0},
};

static int print_output_text(const struct mantle_response *r)
{
    char *text = mantle_response_output_text(r);
    if (!text) {
        fprintf(stderr, "mantle responses: the response has no output text\n");
        return CLI_ERROR;
    }
    printf("%s\n", text);
    mantle_free(text);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

static const char *output_text_delta(const struct mantle_stream_event *ev)
{
    const char *type = cli_json_string_at(ev->json, "type", NULL);
    if (!type || strcmp(type, "response.output_text.delta") != 0) return NULL;
    return cli_json_string_at(ev->json, "delta", NULL);
}

static const struct cli_api responses_api = {
    .method = "POST",
    .path = "/responses",
    .create = mantle_responses_create,
    .stream = mantle_responses_stream,
    .print_text = print_output_text,
    .delta = output_text_delta,
};

/* {"model": M, "input": INPUT, "instructions": T?} */
static json_t *responses_body(const void *ud, const char *input)
{
    const struct cli_prompt_args *a = ud;
    json_t *body = json_pack("{s:s, s:s}", "model", a->model, "input", input);
    if (body && a->system &&
        json_object_set_new(body, "instructions", json_string(a->system)) != 0) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

int cmd_responses(int argc, char **argv)
{
    struct cli_client g;
    struct cli_prompt_args a = {0};
    cli_client_init(&g, "responses", cmd_responses_usage);
    int rc = cli_client_parse(&g, argc, argv, responses_options, cli_prompt_option, &a);
    if (rc != CLI_CONTINUE) return rc;
    if (g.nargs == 0) {
        cli_usage_error(g.cmd, "expected a subcommand: create");
        return CLI_USAGE;
    }
    if (strcmp(g.args[0], "create") != 0) {
        fprintf(stderr,
                "mantle responses: unknown subcommand '%s', expected create (see 'mantle "
                "responses --help')\n",
                g.args[0]);
        return CLI_USAGE;
    }
    return cli_prompt_run(&g, &responses_api, &a, 1, "input", responses_body, &a);
}
