/* mantle models list | get ID: the models the endpoint offers. */
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_util.h"

void cmd_models_usage(FILE *out)
{
    fprintf(out, "usage: mantle models list [global options]\n"
                 "       mantle models get ID [global options]\n"
                 "\n"
                 "list: prints the id of every model (GET /models), one per line.\n"
                 "get:  prints one model's fields (GET /models/ID), one 'name: value' per line.\n"
                 "\n");
    cli_client_usage_globals(out);
}

static int no_own_option(void *ud, int opt, const char *arg)
{
    (void)ud, (void)opt, (void)arg;
    return CLI_USAGE;
}

static int print_list(const struct mantle_response *r)
{
    const json_t *data = json_object_get(mantle_response_json(r), "data");
    if (!json_is_array(data)) {
        fprintf(stderr, "mantle models: the response has no model list\n");
        return CLI_ERROR;
    }
    size_t i;
    const json_t *m;
    json_array_foreach(data, i, m)
    {
        const char *id = cli_json_string_at(m, "id", NULL);
        if (id) printf("%s\n", id);
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

static int print_model(const struct mantle_response *r)
{
    const json_t *model = mantle_response_json(r);
    if (!json_is_object(model)) {
        fprintf(stderr, "mantle models: the response is not a model object\n");
        return CLI_ERROR;
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)model, key, v)
    {
        if (json_is_string(v)) {
            printf("%s: %s\n", key, json_string_value(v));
        } else { /* numbers, booleans, nested values: as compact JSON */
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (s) printf("%s: %s\n", key, s);
            free(s);
        }
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

/* "/models/" + id percent-encoded as the library does (unreserved characters, ':' and '@'
 * kept: "openai.gpt-oss-120b-1:0"). NULL: no memory. */
static char *model_path(const char *id)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(id);
    char *p = malloc(sizeof "/models/" + 3 * n);
    if (!p) return NULL;
    char *o = p + sprintf(p, "/models/");
    for (const unsigned char *s = (const unsigned char *)id; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            strchr("-._~:@", *s)) {
            *o++ = (char)*s;
        } else {
            *o++ = '%';
            *o++ = hex[*s >> 4];
            *o++ = hex[*s & 15];
        }
    }
    *o = '\0';
    return p;
}

int cmd_models(int argc, char **argv)
{
    static const struct option none[] = {{NULL, 0, NULL, 0}};
    struct cli_client g;
    cli_client_init(&g, "models", cmd_models_usage);
    int rc = cli_client_parse(&g, argc, argv, none, no_own_option, NULL);
    if (rc != CLI_CONTINUE) return rc;
    const char *sub = g.nargs ? g.args[0] : NULL;
    bool list = sub && strcmp(sub, "list") == 0, get = sub && strcmp(sub, "get") == 0;
    if (!sub) {
        cli_usage_error(g.cmd, "expected a subcommand: list or get");
        return CLI_USAGE;
    }
    if (!list && !get) {
        fprintf(stderr,
                "mantle models: unknown subcommand '%s', expected list or get (see 'mantle "
                "models --help')\n",
                sub);
        return CLI_USAGE;
    }
    if (get && (g.nargs < 2 || !*g.args[1])) {
        cli_usage_error(g.cmd, "get expects a model ID");
        return CLI_USAGE;
    }
    if (g.nargs > (list ? 1 : 2)) {
        cli_usage_error(g.cmd, "unexpected argument");
        return CLI_USAGE;
    }
    const char *id = get ? g.args[1] : NULL;

    struct mantle_client *c = cli_client_new(&g);
    if (!c) return CLI_ERROR;
    if (g.dry_run) {
        char *path = id ? model_path(id) : NULL;
        struct cli_api api = {.method = "GET", .path = id ? path : "/models"};
        if (id && !path) {
            fprintf(stderr, "mantle models: out of memory\n");
            rc = CLI_ERROR;
        } else {
            rc = cli_client_dry_run(&g, c, &api, NULL, false);
        }
        free(path);
    } else {
        struct mantle_error err = MANTLE_ERROR_INIT;
        struct mantle_response *r = NULL;
        mantle_code code =
            id ? mantle_models_retrieve(c, id, &r, &err) : mantle_models_list(c, &r, &err);
        rc = cli_client_output(&g, code, r, &err, id ? print_model : print_list);
    }
    mantle_client_free(c);
    return rc;
}
