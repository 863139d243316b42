/* Anthropic Messages on /anthropic/v1/messages: a message object, or the message_start ...
 * content_block_delta ... message_stop stream. Errors use Anthropic's shape. */
#include "emulator.h"

#include <string.h>

static json_t *usage_object(size_t input, size_t output)
{
    return json_pack("{s:I, s:i, s:i, s:I}", "input_tokens", (json_int_t)input,
                     "cache_creation_input_tokens", 0, "cache_read_input_tokens", 0,
                     "output_tokens", (json_int_t)output);
}

static void stream_message(json_t *message, const struct echo *e, struct reply *r)
{
    struct sse *s = sse_new();
    if (!s) {
        reply_json(r, 500, NULL);
        return;
    }
    json_t *start = json_deep_copy(message);
    json_object_set_new(start, "content", json_array());
    json_object_set_new(start, "stop_reason", json_null());
    json_object_set_new(start, "stop_sequence", json_null());
    json_object_set_new(json_object_get(start, "usage"), "output_tokens", json_integer(1));
    sse_add(s, "message_start", json_pack("{s:s, s:o}", "type", "message_start", "message", start));
    sse_add(s, "content_block_start",
            json_pack("{s:s, s:i, s:{s:s, s:s}}", "type", "content_block_start", "index", 0,
                      "content_block", "type", "text", "text", ""));
    sse_add_raw(s, "ping", "{\"type\": \"ping\"}"); /* with the space, as Anthropic sends it */
    for (size_t i = 0; i < e->words; i++)
        sse_add(s, "content_block_delta",
                json_pack("{s:s, s:i, s:{s:s, s:o}}", "type", "content_block_delta", "index", 0,
                          "delta", "type", "text_delta", "text", echo_delta(e, i)));
    sse_add(s, "content_block_stop",
            json_pack("{s:s, s:i}", "type", "content_block_stop", "index", 0));
    sse_add(s, "message_delta",
            json_pack("{s:s, s:{s:O, s:n}, s:{s:I}}", "type", "message_delta", "delta",
                      "stop_reason", json_object_get(message, "stop_reason"), "stop_sequence",
                      "usage", "output_tokens", (json_int_t)e->words));
    sse_add(s, "message_stop", json_pack("{s:s}", "type", "message_stop"));
    if (sse_failed(s)) {
        sse_free(s);
        reply_json(r, 500, NULL);
        return;
    }
    reply_stream(r, s);
}

void anthropic_messages(const struct api_ctx *ctx, json_t *body, struct reply *r)
{
    const char *model = require_model(body, true, r);
    if (!model) return;
    json_t *messages = json_object_get(body, "messages");
    json_t *max = json_object_get(body, "max_tokens");
    if (!json_is_array(messages) || !json_is_integer(max) || json_integer_value(max) < 1) {
        reply_anthropic_error(r, 400, "invalid_request_error",
                              !json_is_array(messages) ? "messages: Field required"
                                                       : "max_tokens: Field required");
        return;
    }
    struct buf last_user = BUF_INIT, system = BUF_INIT;
    append_content_text(&system, json_object_get(body, "system"));
    size_t words = system.data ? count_words(system.data) : 0;
    buf_free(&system);
    words += scan_messages(messages, &last_user);
    struct echo e;
    bool ok = echo_make(last_user.data ? last_user.data : "", (long)json_integer_value(max), &e);
    buf_free(&last_user);
    if (!ok) {
        reply_json(r, 500, NULL);
        return;
    }
    char id[64];
    make_id(id, sizeof id, "msg_", "anthropic", ctx->rq);
    json_t *message =
        json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:n, s:o}", "id", id, "type",
                  "message", "role", "assistant", "model", model, "content", "type", "text", "text",
                  e.text, "stop_reason", e.truncated ? "max_tokens" : "end_turn", "stop_sequence",
                  "usage", usage_object(words, e.words));
    if (json_is_true(json_object_get(body, "stream")))
        stream_message(message, &e, r);
    else
        reply_json(r, 200, json_incref(message));
    json_decref(message);
    echo_free(&e);
}
