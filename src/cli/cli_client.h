/* What the commands that call Mantle (responses, chat, models, messages) share: the global
 * options and the client they configure, the request input, the output in both formats,
 * --dry-run, and error reports. */
#ifndef MANTLE_CLI_CLIENT_H
#define MANTLE_CLI_CLIENT_H

#include <getopt.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdbool.h>
#include <stdio.h>

/* Option values of the global options; a command's own options use values below this. */
enum {
    CLI_OPT_REGION = 1000,
    CLI_OPT_PROFILE,
    CLI_OPT_ENDPOINT,
    CLI_OPT_BASE_URL,
    CLI_OPT_API_KEY,
    CLI_OPT_SERVICE,
    CLI_OPT_MAX_RETRIES,
    CLI_OPT_TIMEOUT,
    CLI_OPT_OUTPUT,
    CLI_OPT_DEBUG,
    CLI_OPT_DRY_RUN,
    CLI_OPT_ALLOW_INSECURE_HTTP,
    CLI_OPT_HELP
};

/* cli_client_parse's result when the command should go on (any other value is an exit status). */
#define CLI_CONTINUE (-1)

struct cli_client {
    const char *cmd; /* the command family, as messages name it: "responses" */
    void (*usage)(FILE *out);
    struct mantle_client_options options;
    bool json; /* --output json */
    bool debug;
    bool dry_run;
    char **args; /* the positional arguments, after parsing */
    int nargs;
};

void cli_client_init(struct cli_client *g, const char *cmd, void (*usage)(FILE *out));

/* A command's own option: returns CLI_OK, or CLI_USAGE after reporting the problem. */
typedef int cli_option_fn(void *ud, int opt, const char *arg);

/* Parses argv (argv[0] is the command) with the command's own options (`own`, ended by a NULL
 * name) and the global ones, in any order; fills g->args/g->nargs with the rest. Returns
 * CLI_CONTINUE, or the exit status (0 after --help, CLI_USAGE after a reported error). */
int cli_client_parse(struct cli_client *g, int argc, char **argv, const struct option *own,
                     cli_option_fn *fn, void *ud);

/* The help text of the global options. */
void cli_client_usage_globals(FILE *out);

/* The request text: arg, or stdin when arg is "-" or (NULL and stdin is not a terminal), one
 * trailing newline removed. Returns a malloc'd string, or NULL with *status set (reported). */
char *cli_client_input(const struct cli_client *g, const char *arg, int *status);

/* A client for the global options, or NULL after reporting why. */
struct mantle_client *cli_client_new(struct cli_client *g);

/* "mantle <cmd>: <category>: <message> (HTTP 403, request id ...)" on stderr. */
void cli_client_report(const struct cli_client *g, const struct mantle_error *err);

/* One API call, described for the generic runner and for --dry-run. */
struct cli_api {
    const char *method;
    const char *path; /* below the base URL, or the host root with from_host_root */
    bool from_host_root;
    bool anthropic; /* sends anthropic-version */
    mantle_code (*create)(struct mantle_client *c, struct mantle_json_body body,
                          struct mantle_response **out, struct mantle_error *err);
    mantle_code (*stream)(struct mantle_client *c, struct mantle_json_body body,
                          mantle_stream_cb *on_event, void *user_data, struct mantle_error *err);
    /* Prints a response as text; returns an exit status. */
    int (*print_text)(const struct mantle_response *r);
    /* The text a stream event adds to the answer, or NULL. Borrowed from the event. */
    const char *(*delta)(const struct mantle_stream_event *ev);
};

/* Creates the client and runs a JSON-body call (streamed or not), printing the result in the
 * chosen format, or the request with --dry-run. body is borrowed (stream adds "stream": true). */
int cli_client_run(struct cli_client *g, const struct cli_api *api, json_t *body, bool stream);

/* For calls without a body (models): --dry-run output of `api` on client c. */
int cli_client_dry_run(struct cli_client *g, struct mantle_client *c, const struct cli_api *api,
                       const json_t *body, bool stream);
/* Prints a finished call's response (freeing it) or reports its error; returns an exit status. */
int cli_client_output(struct cli_client *g, mantle_code code, struct mantle_response *r,
                      const struct mantle_error *err,
                      int (*print_text)(const struct mantle_response *r));

/* ---- the prompt commands (responses create, chat, messages) ---- */

/* Their option values: each command's table names CLI_PROMPT_SYSTEM its own way (--system,
 * --instructions) and adds what only it has. */
enum { CLI_PROMPT_MODEL = 256, CLI_PROMPT_SYSTEM, CLI_PROMPT_STREAM, CLI_PROMPT_OWN };

struct cli_prompt_args {
    const char *model, *system;
    bool stream;
};

/* A cli_option_fn for the shared options; ud is a struct cli_prompt_args. */
int cli_prompt_option(void *ud, int opt, const char *arg);

/* Builds the request body for the input text; NULL when a string is not valid UTF-8. */
typedef json_t *cli_prompt_body_fn(const void *ud, const char *input);

/* The rest of a prompt command after parsing: the input is the positional argument at index
 * `first` (at most one there; `what` names it in messages: "message"), --model is required; the
 * body from make_body(ud, input) goes to cli_client_run(). Returns the exit status. */
int cli_prompt_run(struct cli_client *g, const struct cli_api *api, const struct cli_prompt_args *a,
                   int first, const char *what, cli_prompt_body_fn *make_body, const void *ud);

/* json[key] as a string, following a path of object keys (NULL-terminated), or NULL. */
const char *cli_json_string_at(const json_t *json, ...);

#endif
