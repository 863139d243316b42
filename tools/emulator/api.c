/* Routing: the Mantle paths (also under /openai, the official OpenAI provider's API root), JSON
 * body parsing and the errors for unknown paths and methods. */
#include "emulator.h"

#include <stdio.h>
#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..len) into out; false when it does not fit. */
static bool decode(const char *s, size_t len, bool plus_is_space, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int hi, lo;
        if (c == '%' && i + 2 < len && (hi = hex_value(s[i + 1])) >= 0 &&
            (lo = hex_value(s[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (o + 1 >= outlen) return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

bool query_param(const struct request *rq, const char *key, char *out, size_t outlen)
{
    const char *q = rq->query;
    size_t klen = strlen(key);
    while (q && *q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        size_t nlen = eq ? (size_t)(eq - q) : len;
        char name[128];
        if (decode(q, nlen, true, name, sizeof name) && strlen(name) == klen &&
            memcmp(name, key, klen) == 0) {
            if (!eq) return decode("", 0, true, out, outlen);
            return decode(eq + 1, len - nlen - 1, true, out, outlen);
        }
        q += len;
        if (*q) q++;
    }
    return false;
}

static json_t *parse_body(const struct api_ctx *ctx, bool anthropic, struct reply *r)
{
    json_error_t e;
    json_t *body = json_loadb(ctx->rq->body ? ctx->rq->body : "", ctx->rq->body_len, 0, &e);
    char msg[400];
    if (!body)
        snprintf(msg, sizeof msg,
                 "We could not parse the JSON body of your request: %s (line %d, column %d).",
                 e.text, e.line, e.column);
    else if (!json_is_object(body))
        snprintf(msg, sizeof msg, "The request body must be a JSON object.");
    else
        return body;
    json_decref(body);
    if (anthropic)
        reply_anthropic_error(r, 400, "invalid_request_error", msg);
    else
        reply_openai_error(r, 400, "invalid_request_error", msg, NULL, NULL);
    return NULL;
}

const char *require_model(json_t *body, bool anthropic, struct reply *r)
{
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model) {
        if (anthropic)
            reply_anthropic_error(r, 400, "invalid_request_error", "model: Field required");
        else
            reply_openai_error(r, 400, "invalid_request_error",
                               "Missing required parameter: 'model'.", "model",
                               "missing_required_parameter");
        return NULL;
    }
    if (strcmp(model, MODEL_DOES_NOT_EXIST) == 0) {
        if (anthropic)
            reply_anthropic_error(r, 404, "not_found_error", "model: " MODEL_DOES_NOT_EXIST);
        else
            reply_openai_error(r, 404, "invalid_request_error",
                               "The model `" MODEL_DOES_NOT_EXIST
                               "` does not exist or you do not have access to it.",
                               "model", "model_not_found");
        return NULL;
    }
    return model;
}

static void not_found(const struct api_ctx *ctx, unsigned status, struct reply *r)
{
    char msg[300];
    snprintf(msg, sizeof msg, "Invalid URL (%s %.200s)", ctx->rq->method, ctx->rq->path);
    if (strncmp(ctx->rq->path, "/anthropic/", 11) == 0)
        reply_anthropic_error(r, status, "not_found_error", msg);
    else
        reply_openai_error(r, status, "invalid_request_error", msg, NULL, NULL);
}

static bool is(const char *method, const char *want)
{
    return strcmp(method, want) == 0;
}

/* /v1/responses/{id}[/cancel | /input_items] */
static void route_response(const struct api_ctx *ctx, const char *rest, struct reply *r)
{
    const char *m = ctx->rq->method;
    size_t id_len = strcspn(rest, "/");
    const char *tail = rest + id_len;
    char id[200];
    if (id_len == 0 || !decode(rest, id_len, false, id, sizeof id)) {
        not_found(ctx, 404, r);
        return;
    }
    if (*tail == '\0') {
        if (is(m, "GET"))
            responses_get(ctx, id, r);
        else if (is(m, "DELETE"))
            responses_delete(ctx, id, r);
        else
            not_found(ctx, 405, r);
    } else if (strcmp(tail, "/cancel") == 0) {
        if (is(m, "POST"))
            responses_cancel(ctx, id, r);
        else
            not_found(ctx, 405, r);
    } else if (strcmp(tail, "/input_items") == 0) {
        if (is(m, "GET"))
            responses_input_items(ctx, id, r);
        else
            not_found(ctx, 405, r);
    } else {
        not_found(ctx, 404, r);
    }
}

void api_handle(const struct api_ctx *ctx_in, struct reply *r)
{
    struct api_ctx ctx = *ctx_in;
    const char *p = ctx.rq->path, *m = ctx.rq->method;
    if (strncmp(p, "/openai/v1/", 11) == 0) p += 7; /* "/openai/v1/x" → "/v1/x" */
    ctx.path = p;
    json_t *body = NULL;
    if (strncmp(p, "/v1/responses/", 14) == 0) {
        route_response(&ctx, p + 14, r);
    } else if (strncmp(p, "/v1/models/", 11) == 0 && p[11]) {
        char id[256];
        if (!is(m, "GET"))
            not_found(&ctx, 405, r);
        else if (!decode(p + 11, strlen(p + 11), false, id, sizeof id))
            not_found(&ctx, 404, r);
        else
            models_get(&ctx, id, r);
    } else if (strcmp(p, "/v1/models") == 0) {
        if (is(m, "GET"))
            models_list(&ctx, r);
        else
            not_found(&ctx, 405, r);
    } else if (strcmp(p, "/anthropic/v1/messages") == 0) {
        if (!is(m, "POST"))
            not_found(&ctx, 405, r);
        else if (!request_header(ctx.rq, "anthropic-version"))
            reply_anthropic_error(r, 400, "invalid_request_error",
                                  "anthropic-version: header is required");
        else if ((body = parse_body(&ctx, true, r)) != NULL)
            anthropic_messages(&ctx, body, r);
    } else if (strcmp(p, "/v1/responses") == 0) {
        if (!is(m, "POST"))
            not_found(&ctx, 405, r);
        else if ((body = parse_body(&ctx, false, r)) != NULL)
            responses_create(&ctx, body, r);
    } else if (strcmp(p, "/v1/chat/completions") == 0) {
        if (!is(m, "POST"))
            not_found(&ctx, 405, r);
        else if ((body = parse_body(&ctx, false, r)) != NULL)
            chat_completions(&ctx, body, r);
    } else {
        not_found(&ctx, 404, r);
    }
    json_decref(body);
}
