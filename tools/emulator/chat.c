/* Chat Completions (JSON or chat.completion.chunk stream ending in [DONE]) and the models list. */
#include "emulator.h"

#include <stdio.h>
#include <string.h>

/* Any model name is served except the reserved one; the list only names a few. */
static const char *const listed_models[] = {
    "openai.gpt-oss-120b",
    "openai.gpt-oss-20b",
    "openai.gpt-oss-safeguard-120b",
    "anthropic.claude-sonnet-4-5",
};
#define MODELS_CREATED 1754352000 /* fixed, so the list is deterministic */

static json_t *chunk(const char *id, const struct api_ctx *ctx, json_t *model, json_t *choices,
                     bool with_usage_field)
{
    json_t *c = json_pack("{s:s, s:s, s:I, s:O, s:s, s:n, s:o}", "id", id, "object",
                          "chat.completion.chunk", "created", (json_int_t)ctx->now, "model", model,
                          "service_tier", "default", "system_fingerprint", "choices", choices);
    if (with_usage_field) json_object_set_new(c, "usage", json_null());
    return c;
}

static json_t *delta_choice(json_t *delta, const char *finish_reason)
{
    return json_pack("[{s:i, s:o, s:n, s:o}]", "index", 0, "delta", delta, "logprobs",
                     "finish_reason", finish_reason ? json_string(finish_reason) : json_null());
}

static void stream_chat(const struct api_ctx *ctx, json_t *body, const char *id,
                        const struct echo *e, json_t *usage, struct reply *r)
{
    json_t *model = json_object_get(body, "model");
    bool include_usage =
        json_is_true(json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    struct sse *s = sse_new();
    if (!s) {
        reply_json(r, 500, NULL);
        return;
    }
    sse_add(s, NULL,
            chunk(id, ctx, model,
                  delta_choice(
                      json_pack("{s:s, s:s, s:n}", "role", "assistant", "content", "", "refusal"),
                      NULL),
                  include_usage));
    for (size_t i = 0; i < e->words; i++)
        sse_add(s, NULL,
                chunk(id, ctx, model,
                      delta_choice(json_pack("{s:o}", "content", echo_delta(e, i)), NULL),
                      include_usage));
    sse_add(s, NULL,
            chunk(id, ctx, model, delta_choice(json_object(), e->truncated ? "length" : "stop"),
                  include_usage));
    if (include_usage) {
        json_t *c = chunk(id, ctx, model, json_array(), false);
        json_object_set(c, "usage", usage);
        sse_add(s, NULL, c);
    }
    sse_add_raw(s, NULL, "[DONE]");
    if (sse_failed(s)) {
        sse_free(s);
        reply_json(r, 500, NULL);
        return;
    }
    reply_stream(r, s);
}

void chat_completions(const struct api_ctx *ctx, json_t *body, struct reply *r)
{
    if (!require_model(body, false, r)) return;
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_array(messages)) {
        reply_openai_error(r, 400, "invalid_request_error",
                           "Missing required parameter: 'messages'.", "messages",
                           "missing_required_parameter");
        return;
    }
    struct buf last_user = BUF_INIT;
    size_t words = scan_messages(messages, &last_user);
    json_t *max = json_object_get(body, "max_completion_tokens");
    if (!max) max = json_object_get(body, "max_tokens");
    long limit =
        json_is_integer(max) && json_integer_value(max) > 0 ? (long)json_integer_value(max) : -1;
    struct echo e;
    if (!echo_make(last_user.data ? last_user.data : "", limit, &e)) {
        buf_free(&last_user);
        reply_json(r, 500, NULL);
        return;
    }
    buf_free(&last_user);
    char id[64];
    make_id(id, sizeof id, "chatcmpl-", "chat", ctx->rq);
    json_t *usage =
        json_pack("{s:I, s:I, s:I, s:{s:i}, s:{s:i}}", "prompt_tokens", (json_int_t)words,
                  "completion_tokens", (json_int_t)e.words, "total_tokens",
                  (json_int_t)(words + e.words), "prompt_tokens_details", "cached_tokens", 0,
                  "completion_tokens_details", "reasoning_tokens", 0);
    if (json_is_true(json_object_get(body, "stream"))) {
        stream_chat(ctx, body, id, &e, usage, r);
    } else {
        json_t *message = json_pack("{s:s, s:s, s:n, s:[]}", "role", "assistant", "content", e.text,
                                    "refusal", "annotations");
        reply_json(r, 200,
                   json_pack("{s:s, s:s, s:I, s:O, s:[{s:i, s:o, s:n, s:s}], s:O, s:s, s:n}", "id",
                             id, "object", "chat.completion", "created", (json_int_t)ctx->now,
                             "model", json_object_get(body, "model"), "choices", "index", 0,
                             "message", message, "logprobs", "finish_reason",
                             e.truncated ? "length" : "stop", "usage", usage, "service_tier",
                             "default", "system_fingerprint"));
    }
    json_decref(usage);
    echo_free(&e);
}

static json_t *model_object(const char *id)
{
    const char *dot = strchr(id, '.');
    char owner[64];
    snprintf(owner, sizeof owner, "%.*s", dot ? (int)(dot - id) : 6, dot ? id : "system");
    return json_pack("{s:s, s:s, s:i, s:s}", "id", id, "object", "model", "created", MODELS_CREATED,
                     "owned_by", owner);
}

void models_list(const struct api_ctx *ctx, struct reply *r)
{
    (void)ctx;
    json_t *data = json_array();
    for (size_t i = 0; i < sizeof listed_models / sizeof *listed_models; i++)
        json_array_append_new(data, model_object(listed_models[i]));
    reply_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

void models_get(const struct api_ctx *ctx, const char *id, struct reply *r)
{
    (void)ctx;
    if (strcmp(id, MODEL_DOES_NOT_EXIST) == 0) {
        reply_openai_error(r, 404, "invalid_request_error",
                           "The model `" MODEL_DOES_NOT_EXIST
                           "` does not exist or you do not have access to it.",
                           "model", "model_not_found");
        return;
    }
    reply_json(r, 200, model_object(id));
}
