/* Stream accumulation: text deltas appended to one growing buffer (amortized: no allocation per
 * event once it has grown), plus the final object, for the three APIs:
 *   Responses  response.output_text.delta -> text; response.completed (or .incomplete/.failed)
 *              -> final = its "response"
 *   Chat       choices[0].delta.content -> text; at [DONE] a chat.completion is assembled from the
 *              first chunk's id/model/created, the finish_reason and the usage chunk
 *   Anthropic  content_block_delta/text_delta -> text; at message_stop the message_start message
 *              with the text as its content and message_delta's stop_reason and usage */
#include <mantle/client.h>

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct mantle_accumulator {
    struct buf text;
    json_t *final;
    json_t *message;     /* Anthropic: a copy of message_start's message */
    json_t *chat_first;  /* Chat: the first chunk */
    json_t *chat_finish; /* Chat: the finish_reason */
    json_t *chat_usage;  /* Chat: the usage object */
};

struct mantle_accumulator *mantle_accumulator_new(void)
{
    return calloc(1, sizeof(struct mantle_accumulator));
}

void mantle_accumulator_free(struct mantle_accumulator *acc)
{
    if (!acc) return;
    buf_free(&acc->text);
    json_decref(acc->final);
    json_decref(acc->message);
    json_decref(acc->chat_first);
    json_decref(acc->chat_finish);
    json_decref(acc->chat_usage);
    free(acc);
}

const char *mantle_accumulator_text(const struct mantle_accumulator *acc)
{
    if (!acc) return NULL;
    return acc->text.data ? acc->text.data : "";
}

json_t *mantle_accumulator_final(const struct mantle_accumulator *acc)
{
    return acc ? acc->final : NULL;
}

static void set_final(struct mantle_accumulator *acc, json_t *v /* stolen */)
{
    json_decref(acc->final);
    acc->final = v;
}

static void keep(json_t **slot, json_t *v)
{
    if (!v || json_is_null(v)) return;
    json_decref(*slot);
    *slot = json_incref(v);
}

static void chat_chunk(struct mantle_accumulator *acc, json_t *j)
{
    if (!acc->chat_first) acc->chat_first = json_incref(j);
    json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    const char *delta =
        json_string_value(json_object_get(json_object_get(choice, "delta"), "content"));
    if (delta) buf_append_str(&acc->text, delta);
    keep(&acc->chat_finish, json_object_get(choice, "finish_reason"));
    keep(&acc->chat_usage, json_object_get(j, "usage"));
}

static void chat_done(struct mantle_accumulator *acc)
{
    json_t *first = acc->chat_first;
    json_t *message = json_pack("{s:s, s:s}", "role", "assistant", "content",
                                acc->text.data ? acc->text.data : "");
    json_t *choice = json_pack("{s:i, s:o, s:O}", "index", 0, "message", message, "finish_reason",
                               acc->chat_finish ? acc->chat_finish : json_null());
    json_t *out = json_pack("{s:s, s:[o]}", "object", "chat.completion", "choices", choice);
    if (!out) return;
    static const char *const copied[] = {"id", "model", "created", "system_fingerprint"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *v = json_object_get(first, copied[i]);
        if (v) json_object_set(out, copied[i], v);
    }
    if (acc->chat_usage) json_object_set(out, "usage", acc->chat_usage);
    set_final(acc, out);
}

static void anthropic_event(struct mantle_accumulator *acc, const char *type, json_t *j)
{
    if (strcmp(type, "message_start") == 0) {
        json_decref(acc->message);
        acc->message = json_deep_copy(json_object_get(j, "message"));
    } else if (strcmp(type, "content_block_delta") == 0) {
        json_t *d = json_object_get(j, "delta");
        const char *dt = json_string_value(json_object_get(d, "type"));
        const char *text = json_string_value(json_object_get(d, "text"));
        if (dt && strcmp(dt, "text_delta") == 0 && text) buf_append_str(&acc->text, text);
    } else if (strcmp(type, "message_delta") == 0 && json_is_object(acc->message)) {
        json_t *d = json_object_get(j, "delta");
        const char *k;
        json_t *v;
        json_object_foreach(d, k, v) json_object_set(acc->message, k, v);
        json_t *usage = json_object_get(j, "usage");
        json_t *mu = json_object_get(acc->message, "usage");
        if (json_is_object(usage) && json_is_object(mu)) json_object_update(mu, usage);
    } else if (strcmp(type, "message_stop") == 0 && json_is_object(acc->message)) {
        json_t *out = json_deep_copy(acc->message);
        if (!out) return;
        json_object_set_new(out, "content",
                            json_pack("[{s:s, s:s}]", "type", "text", "text",
                                      acc->text.data ? acc->text.data : ""));
        set_final(acc, out);
    }
}

void mantle_accumulator_add(struct mantle_accumulator *acc, const struct mantle_stream_event *ev)
{
    if (!acc || !ev || !ev->type) return;
    json_t *j = ev->json;
    if (!j) {
        if (ev->data && strcmp(ev->data, "[DONE]") == 0 && acc->chat_first) chat_done(acc);
        return;
    }
    const char *type = ev->type;
    if (strcmp(type, "response.output_text.delta") == 0) {
        const char *delta = json_string_value(json_object_get(j, "delta"));
        if (delta) buf_append_str(&acc->text, delta);
    } else if (strcmp(type, "response.completed") == 0 ||
               strcmp(type, "response.incomplete") == 0 || strcmp(type, "response.failed") == 0) {
        json_t *resp = json_object_get(j, "response");
        if (resp) set_final(acc, json_incref(resp));
    } else if (json_is_array(json_object_get(j, "choices"))) {
        chat_chunk(acc, j);
    } else {
        anthropic_event(acc, type, j);
    }
}
