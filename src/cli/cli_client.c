#include "cli_client.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "cli_util.h"

#define CLI_USER_AGENT_SUFFIX "cli"
#define CLI_MAX_OPTIONS 48

static const struct option global_options[] = {
    {"region", required_argument, NULL, CLI_OPT_REGION},
    {"profile", required_argument, NULL, CLI_OPT_PROFILE},
    {"endpoint", required_argument, NULL, CLI_OPT_ENDPOINT},
    {"base-url", required_argument, NULL, CLI_OPT_BASE_URL},
    {"api-key", required_argument, NULL, CLI_OPT_API_KEY},
    {"service", required_argument, NULL, CLI_OPT_SERVICE},
    {"max-retries", required_argument, NULL, CLI_OPT_MAX_RETRIES},
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},
    {"output", required_argument, NULL, CLI_OPT_OUTPUT},
    {"debug", no_argument, NULL, CLI_OPT_DEBUG},
    {"dry-run", no_argument, NULL, CLI_OPT_DRY_RUN},
    {"allow-insecure-http", no_argument, NULL, CLI_OPT_ALLOW_INSECURE_HTTP},
    {"help", no_argument, NULL, CLI_OPT_HELP},
    {NULL, 0, NULL, 0},
};

void cli_client_init(struct cli_client *g, const char *cmd, void (*usage)(FILE *out))
{
    static const struct mantle_client_options init = MANTLE_CLIENT_OPTIONS_INIT;
    memset(g, 0, sizeof *g);
    g->cmd = cmd;
    g->usage = usage;
    g->options = init;
    g->options.user_agent_suffix = CLI_USER_AGENT_SUFFIX;
}

void cli_client_usage_globals(FILE *out)
{
    fprintf(out,
            "global options (before or after the command's own):\n"
            "  --region R              AWS region (default: AWS_REGION, AWS_DEFAULT_REGION)\n"
            "  --profile NAME          sign with this profile of the shared AWS config files\n"
            "  --endpoint mantle|runtime  bedrock-mantle.{region}.api.aws (default) or\n"
            "                          bedrock-runtime.{region}.amazonaws.com\n"
            "  --base-url URL          API root, e.g. http://127.0.0.1:8080/openai/v1\n"
            "                          (default: AWS_BEDROCK_BASE_URL, else from the endpoint)\n"
            "  --api-key KEY           Bedrock API key (Bearer) instead of SigV4; prefer\n"
            "                          AWS_BEARER_TOKEN_BEDROCK: arguments show in `ps`\n"
            "  --service NAME          SigV4 signing service (default: from the endpoint)\n"
            "  --max-retries N         retries after the first attempt (default 2)\n"
            "  --timeout SECONDS       whole-request timeout, retries included (default 600)\n"
            "  --output text|json      text: the answer; json: the response JSON, or one\n"
            "                          event per line with --stream\n"
            "  --debug                 log requests and responses on stderr (secrets redacted)\n"
            "  --dry-run               print the signed request (secrets redacted), send nothing\n"
            "  --allow-insecure-http   allow plain http to a host that is not loopback\n"
            "  --help                  this help\n"
            "\n"
            "Without --api-key or --profile: AWS_BEARER_TOKEN_BEDROCK if set, else SigV4 with\n"
            "the default credential chain (environment, shared files, SSO, IMDS...).\n"
            "Exit status: 0 on success, 2 on a usage error, 1 on any other error.\n");
}

/* Returns CLI_OK, or CLI_USAGE after reporting. */
static int global_option(struct cli_client *g, int opt, const char *arg)
{
    struct mantle_client_options *o = &g->options;
    char *end = NULL;
    switch (opt) {
    case CLI_OPT_REGION:
        o->region = arg;
        break;
    case CLI_OPT_PROFILE:
        o->profile = arg;
        break;
    case CLI_OPT_BASE_URL:
        o->base_url = arg;
        break;
    case CLI_OPT_API_KEY:
        o->api_key = arg;
        break;
    case CLI_OPT_SERVICE:
        o->signing_service = arg;
        break;
    case CLI_OPT_DEBUG:
        g->debug = true;
        break;
    case CLI_OPT_DRY_RUN:
        g->dry_run = true;
        break;
    case CLI_OPT_ALLOW_INSECURE_HTTP:
        o->allow_insecure_http = 1;
        break;
    case CLI_OPT_ENDPOINT:
        if (strcmp(arg, "mantle") == 0) {
            o->endpoint = MANTLE_ENDPOINT_MANTLE;
        } else if (strcmp(arg, "runtime") == 0) {
            o->endpoint = MANTLE_ENDPOINT_RUNTIME;
        } else {
            cli_usage_error(g->cmd, "--endpoint expects mantle or runtime");
            return CLI_USAGE;
        }
        break;
    case CLI_OPT_MAX_RETRIES: {
        errno = 0;
        long v = strtol(arg, &end, 10);
        if (!*arg || *end || errno || v < 0 || v > 100) {
            cli_usage_error(g->cmd, "--max-retries expects a number from 0 to 100");
            return CLI_USAGE;
        }
        /* 0 in the options means "the default"; the library spells "none" differently. */
        o->max_retries = v == 0 ? MANTLE_RETRIES_NONE : (int)v;
        break;
    }
    case CLI_OPT_TIMEOUT: {
        errno = 0;
        double v = strtod(arg, &end);
        if (!*arg || *end || errno || !isfinite(v) || v < 0.001 || v > 86400.0) {
            cli_usage_error(g->cmd, "--timeout expects seconds, from 0.001 to 86400");
            return CLI_USAGE;
        }
        o->timeout_ms = (long)(v * 1000.0 + 0.5);
        break;
    }
    case CLI_OPT_OUTPUT:
        if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0) {
            cli_usage_error(g->cmd, "--output expects text or json");
            return CLI_USAGE;
        }
        g->json = strcmp(arg, "json") == 0;
        break;
    default:
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_client_parse(struct cli_client *g, int argc, char **argv, const struct option *own,
                     cli_option_fn *fn, void *ud)
{
    struct option all[CLI_MAX_OPTIONS];
    size_t n = 0;
    for (const struct option *o = own; o && o->name && n < CLI_MAX_OPTIONS - 1; o++) all[n++] = *o;
    for (const struct option *o = global_options; o->name && n < CLI_MAX_OPTIONS - 1; o++)
        all[n++] = *o;
    all[n] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", all, NULL)) != -1) {
        if (c == ':' || c == '?') {
            cli_getopt_error(g->cmd, argv, c);
            return CLI_USAGE;
        }
        if (c == CLI_OPT_HELP) {
            g->usage(stdout);
            return CLI_OK;
        }
        int rc = c >= CLI_OPT_REGION ? global_option(g, c, optarg) : fn(ud, c, optarg);
        if (rc != CLI_OK) return rc;
    }
    if (g->options.api_key && g->options.profile) {
        cli_usage_error(g->cmd, "--api-key and --profile cannot be used together");
        return CLI_USAGE;
    }
    g->args = argv + optind;
    g->nargs = argc - optind;
    return CLI_CONTINUE;
}

char *cli_client_input(const struct cli_client *g, const char *arg, int *status)
{
    char *text;
    size_t len;
    *status = CLI_USAGE;
    if (arg && strcmp(arg, "-") != 0) {
        text = strdup(arg);
        len = text ? strlen(text) : 0;
    } else {
        if (!arg && isatty(STDIN_FILENO)) {
            cli_usage_error(g->cmd, "give the input as an argument, or '-' to read stdin");
            return NULL;
        }
        struct mantle_error err = MANTLE_ERROR_INIT;
        text = cli_read_file("-", &len, &err);
        if (!text) {
            fprintf(stderr, "mantle %s: stdin: %s\n", g->cmd, err.message);
            *status = CLI_ERROR;
            return NULL;
        }
        if (memchr(text, '\0', len)) {
            fprintf(stderr, "mantle %s: the input on stdin contains a NUL byte\n", g->cmd);
            free(text);
            *status = CLI_ERROR;
            return NULL;
        }
        /* `echo hi | mantle chat` means "hi", not "hi\n". */
        if (len && text[len - 1] == '\n') text[--len] = '\0';
        if (len && text[len - 1] == '\r') text[--len] = '\0';
    }
    if (!text) {
        fprintf(stderr, "mantle %s: out of memory\n", g->cmd);
        *status = CLI_ERROR;
        return NULL;
    }
    if (len == 0) {
        cli_usage_error(g->cmd, "the input is empty");
        free(text);
        return NULL;
    }
    return text;
}

static void log_line(void *ud, enum mantle_log_level level, const char *line)
{
    static const char *const names[] = {"debug", "info", "warn"};
    const struct cli_client *g = ud;
    unsigned i = (unsigned)level < 3 ? (unsigned)level : 0;
    fprintf(stderr, "mantle %s: %s: %s\n", g->cmd, names[i], line);
}

struct mantle_client *cli_client_new(struct cli_client *g)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (g->debug) {
        g->options.log_fn = log_line;
        g->options.log_user_data = g;
    }
    struct mantle_client *c = mantle_client_new(&g->options, &err);
    if (!c) cli_client_report(g, &err);
    return c;
}

/* Server messages can quote the canonical request (AWS's InvalidSignatureException does), whose
 * x-amz-security-token line holds the session token: the rest of such a line is never shown. */
static void scrub_token_lines(const char *in, char *out, size_t cap)
{
    static const char key[] = "x-amz-security-token";
    size_t o = 0;
    while (*in && o + 1 < cap) {
        if (strncasecmp(in, key, sizeof key - 1) == 0) {
            in += sizeof key - 1;
            size_t n = strcspn(in, "\n'\"");
            o += (size_t)snprintf(out + o, cap - o, "%s%.1s%s", key, in, n > 1 ? "<redacted>" : "");
            in += n;
            if (o >= cap) o = cap - 1;
        } else {
            out[o++] = *in++;
        }
    }
    out[o] = '\0';
}

void cli_client_report(const struct cli_client *g, const struct mantle_error *err)
{
    char msg[sizeof err->message + 64];
    scrub_token_lines(err->message[0] ? err->message : mantle_strerror(err->code), msg, sizeof msg);
    /* The status goes in the parentheses: drop the library's "HTTP 403 " prefix. */
    const char *text = msg;
    char prefix[24];
    int plen = snprintf(prefix, sizeof prefix, "HTTP %d ", err->http_status);
    if (err->http_status && strncmp(text, prefix, (size_t)plen) == 0 && text[plen]) text += plen;
    fprintf(stderr, "mantle %s: %s: %s", g->cmd, mantle_code_name(err->code), text);
    if (err->http_status || err->request_id[0] || err->attempts > 1) {
        const char *sep = " (";
        if (err->http_status) {
            fprintf(stderr, "%sHTTP %d", sep, err->http_status);
            sep = ", ";
        }
        if (err->request_id[0]) {
            fprintf(stderr, "%srequest id %s", sep, err->request_id);
            sep = ", ";
        }
        if (err->attempts > 1) fprintf(stderr, "%s%d attempts", sep, err->attempts);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

const char *cli_json_string_at(const json_t *json, ...)
{
    va_list ap;
    va_start(ap, json);
    const char *key;
    while (json && (key = va_arg(ap, const char *)) != NULL) json = json_object_get(json, key);
    va_end(ap);
    return json_string_value(json);
}

/* ---- output ---- */

static int print_json(const json_t *json, size_t flags)
{
    if (json_dumpf(json, stdout, flags | JSON_ENCODE_ANY) != 0) return CLI_ERROR;
    fputc('\n', stdout);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

int cli_client_output(struct cli_client *g, mantle_code code, struct mantle_response *r,
                      const struct mantle_error *err,
                      int (*print_text)(const struct mantle_response *r))
{
    if (code != MANTLE_OK) {
        cli_client_report(g, err);
        mantle_response_free(r);
        return CLI_ERROR;
    }
    int rc;
    if (!g->json) {
        rc = print_text(r);
    } else if (mantle_response_json(r)) {
        rc = print_json(mantle_response_json(r), JSON_INDENT(2));
    } else { /* not JSON: the body as it came is the most faithful output */
        size_t len = 0;
        const char *body = mantle_response_body(r, &len);
        rc = fwrite(body, 1, len, stdout) == len && fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
    }
    mantle_response_free(r);
    return rc;
}

struct stream_state {
    const struct cli_client *g;
    const struct cli_api *api;
    bool wrote_text; /* a delta is on the current line */
};

static int on_event(void *user_data, const struct mantle_stream_event *ev)
{
    struct stream_state *s = user_data;
    if (s->g->json) {
        /* Non-JSON data ("[DONE]") ends Chat Completions streams: not an event to print. */
        if (ev->json) print_json(ev->json, JSON_COMPACT);
        return 0;
    }
    const char *delta = s->api->delta(ev);
    if (delta && *delta) {
        fputs(delta, stdout);
        fflush(stdout); /* the point of --stream: show the answer as it arrives */
        s->wrote_text = true;
    }
    return 0;
}

int cli_client_run(struct cli_client *g, const struct cli_api *api, json_t *body, bool stream)
{
    struct mantle_client *c = cli_client_new(g);
    if (!c) return CLI_ERROR;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int rc;
    if (g->dry_run) {
        rc = cli_client_dry_run(g, c, api, body, stream);
    } else if (stream) {
        struct stream_state s = {g, api, false};
        mantle_code code = api->stream(c, mantle_json_value(body), on_event, &s, &err);
        if (!g->json && (s.wrote_text || code == MANTLE_OK)) fputc('\n', stdout);
        fflush(stdout);
        rc = CLI_OK;
        if (code != MANTLE_OK) {
            cli_client_report(g, &err);
            rc = CLI_ERROR;
        }
    } else {
        struct mantle_response *r = NULL;
        mantle_code code = api->create(c, mantle_json_value(body), &r, &err);
        rc = cli_client_output(g, code, r, &err, api->print_text);
    }
    mantle_client_free(c);
    return rc;
}

/* ---- --dry-run ---- */

/* The request as the client would send it: the client's resolved URL, region, service and auth
 * mode, and a SigV4 signature made with the public signer and the credentials the client would
 * use (the CLI only ever selects the default chain, with or without a profile). Secrets are
 * shown as "<redacted>": a fresh signature could be replayed for minutes. */

struct dry_headers {
    struct mantle_header items[12];
    size_t count;
};

static void dry_add(struct dry_headers *h, const char *name, const char *value)
{
    if (h->count < sizeof h->items / sizeof h->items[0])
        h->items[h->count++] = (struct mantle_header){name, value};
}

/* The value to show. A SigV4 Authorization keeps its scope and signed headers (what --dry-run
 * is for: checking region, service and headers) without the key id and the signature. */
static const char *dry_shown(const struct mantle_header *h, char *buf, size_t cap)
{
    if (strcasecmp(h->name, "x-amz-security-token") == 0) return "<redacted>";
    if (strcasecmp(h->name, "authorization") != 0) return h->value;
    static const char scheme[] = "AWS4-HMAC-SHA256 Credential=";
    if (strncmp(h->value, scheme, sizeof scheme - 1) == 0) {
        const char *scope = strchr(h->value, '/');
        const char *sig = strstr(h->value, ", Signature=");
        if (scope && sig && scope < sig) {
            snprintf(buf, cap, "%s<redacted>%.*s, Signature=<redacted>", scheme, (int)(sig - scope),
                     scope);
            return buf;
        }
        return "AWS4-HMAC-SHA256 <redacted>";
    }
    if (strncasecmp(h->value, "Bearer ", 7) == 0) return "Bearer <redacted>";
    return "<redacted>";
}

static int dry_print(const struct cli_client *g, const char *method, const char *url,
                     const struct dry_headers *h, const json_t *body, const char *body_text)
{
    char shown[1024];
    if (g->json) {
        json_t *headers = json_object();
        for (size_t i = 0; i < h->count; i++)
            json_object_set_new(headers, h->items[i].name,
                                json_string(dry_shown(&h->items[i], shown, sizeof shown)));
        json_t *root = json_pack("{s:s, s:s, s:o, s:O?}", "method", method, "url", url, "headers",
                                 headers, "body", body);
        int rc = root ? print_json(root, JSON_INDENT(2)) : CLI_ERROR;
        json_decref(root);
        return rc;
    }
    printf("%s %s\n", method, url);
    for (size_t i = 0; i < h->count; i++)
        printf("%s: %s\n", h->items[i].name, dry_shown(&h->items[i], shown, sizeof shown));
    if (body_text) printf("\n%s\n", body_text);
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

/* Signs rq into res with the credentials the client would use; reports failures. */
static int dry_sign(struct cli_client *g, struct mantle_client *c,
                    const struct mantle_sigv4_request *rq, struct mantle_sigv4_result *res)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_options co = MANTLE_CREDENTIALS_OPTIONS_INIT;
    co.profile = g->options.profile;
    struct mantle_credentials_provider *p =
        mantle_credentials_provider_new_default_chain(&co, &err);
    struct mantle_credentials *cr = NULL;
    if (p && mantle_credentials_provider_get(p, &cr, &err) == MANTLE_OK) {
        struct mantle_sigv4_credentials sc = {mantle_credentials_access_key_id(cr),
                                              mantle_credentials_secret_access_key(cr),
                                              mantle_credentials_session_token(cr)};
        struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
        pa.region = mantle_client_region(c);
        pa.service = mantle_client_signing_service(c);
        pa.flags = MANTLE_SIGV4_SIGN_BODY;
        mantle_sigv4_sign(rq, &sc, &pa, res, &err);
    }
    mantle_credentials_unref(cr);
    mantle_credentials_provider_unref(p);
    if (err.code == MANTLE_OK) return CLI_OK;
    cli_client_report(g, &err);
    return CLI_ERROR;
}

int cli_client_dry_run(struct cli_client *g, struct mantle_client *c, const struct cli_api *api,
                       const json_t *body, bool stream)
{
    const char *base = mantle_client_base_url(c);
    const char *scheme = strstr(base, "://");
    const char *authority = scheme ? scheme + 3 : base;
    size_t authority_len = strcspn(authority, "/");
    /* from_host_root: the path replaces everything after scheme://authority. */
    size_t prefix_len =
        api->from_host_root ? (size_t)(authority - base) + authority_len : strlen(base);
    char host[256], ua[64];
    snprintf(host, sizeof host, "%.*s", (int)authority_len, authority);
    snprintf(ua, sizeof ua, "mantle/%s %s", mantle_version(), CLI_USER_AGENT_SUFFIX);

    size_t url_len = prefix_len + strlen(api->path) + 1;
    char *url = malloc(url_len);
    json_t *sent = body ? json_deep_copy(body) : NULL;
    char *body_text = NULL;
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    int rc = CLI_ERROR;
    if (!url || !res || (body && !sent)) {
        fprintf(stderr, "mantle %s: out of memory\n", g->cmd);
        goto out;
    }
    snprintf(url, url_len, "%.*s%s", (int)prefix_len, base, api->path);
    if (sent && stream) json_object_set_new(sent, "stream", json_true());
    if (sent && !(body_text = json_dumps(sent, JSON_COMPACT))) {
        fprintf(stderr, "mantle %s: out of memory\n", g->cmd);
        goto out;
    }

    /* The library's headers, in its order; it signs all but Accept and User-Agent. */
    char length[24];
    snprintf(length, sizeof length, "%zu", body_text ? strlen(body_text) : (size_t)0);
    bool has_body = body_text || strcmp(api->method, "POST") == 0;
    struct dry_headers h = {0}, sign = {0};
    dry_add(&h, "Host", host);
    if (has_body) {
        dry_add(&h, "Content-Type", "application/json");
        dry_add(&h, "Content-Length", length);
    }
    dry_add(&h, "Accept", stream ? "text/event-stream" : "application/json");
    if (api->anthropic) dry_add(&h, "anthropic-version", "2023-06-01");
    dry_add(&h, "User-Agent", ua);
    for (size_t i = 1; i < h.count; i++) /* Host: the signer takes it from the URL */
        if (strcmp(h.items[i].name, "Accept") != 0 && strcmp(h.items[i].name, "User-Agent") != 0)
            dry_add(&sign, h.items[i].name, h.items[i].value);

    if (mantle_client_auth_mode(c) == MANTLE_AUTH_BEARER) {
        dry_add(&h, "Authorization", "Bearer <redacted>");
    } else {
        struct mantle_sigv4_request rq = {
            .method = api->method,
            .url = url,
            .headers = sign.items,
            .header_count = sign.count,
            .payload = body_text,
            .payload_len = body_text ? strlen(body_text) : 0,
        };
        if (dry_sign(g, c, &rq, res) != CLI_OK) goto out;
        size_t n = mantle_sigv4_result_header_count(res);
        const struct mantle_header *added = mantle_sigv4_result_headers(res);
        for (size_t i = 0; i < n; i++) dry_add(&h, added[i].name, added[i].value);
    }
    rc = dry_print(g, api->method, url, &h, sent, body_text);
out:
    mantle_sigv4_result_free(res);
    free(body_text);
    json_decref(sent);
    free(url);
    return rc;
}

int cli_prompt_option(void *ud, int opt, const char *arg)
{
    struct cli_prompt_args *a = ud;
    switch (opt) {
    case CLI_PROMPT_MODEL:
        a->model = arg;
        break;
    case CLI_PROMPT_SYSTEM:
        a->system = arg;
        break;
    case CLI_PROMPT_STREAM:
        a->stream = true;
        break;
    default:
        return CLI_USAGE;
    }
    return CLI_OK;
}

int cli_prompt_run(struct cli_client *g, const struct cli_api *api, const struct cli_prompt_args *a,
                   int first, const char *what, cli_prompt_body_fn *make_body, const void *ud)
{
    if (g->nargs > first + 1) {
        char msg[128];
        snprintf(msg, sizeof msg, "unexpected argument (quote the %s, or pipe it on stdin)", what);
        cli_usage_error(g->cmd, msg);
        return CLI_USAGE;
    }
    if (!a->model) {
        cli_usage_error(g->cmd, "--model is required");
        return CLI_USAGE;
    }
    int rc;
    char *input = cli_client_input(g, g->nargs > first ? g->args[first] : NULL, &rc);
    if (!input) return rc;
    json_t *body = make_body(ud, input);
    if (body) {
        rc = cli_client_run(g, api, body, a->stream);
    } else {
        fprintf(stderr, "mantle %s: the arguments or the %s are not valid UTF-8\n", g->cmd, what);
        rc = CLI_ERROR;
    }
    json_decref(body);
    free(input);
    return rc;
}
