/* The Responses API: create (JSON or stream), and the stored responses behind retrieve, delete,
 * cancel and input_items. A stored response is kept as JSON text; at most STORE_MAX of them,
 * the oldest dropped first. background=true creates a "queued" response that completes when it
 * is first retrieved, so cancel has something to cancel. */
#include "emulator.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX 1000

enum state { DONE, QUEUED, CANCELLED };

struct stored {
    char id[64];
    char *response; /* the completed response object */
    char *items;    /* the input items, oldest first */
    bool background;
    enum state state;
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stored store[STORE_MAX];
static size_t store_count; /* entries 0..count-1, oldest first */

/* ---- the request ---- */

struct input {
    struct buf last_user; /* the text echoed */
    size_t words;         /* input tokens */
    json_t *items;        /* input items with ids */
};

static json_t *text_part(const char *type, const char *text)
{
    return json_pack("{s:s, s:s}", "type", type, "text", text);
}

/* Normalizes one input item the way the service lists it back: an id, a type, array content. */
static json_t *input_item(const struct api_ctx *ctx, json_t *item, size_t index)
{
    json_t *out = json_deep_copy(item);
    if (!json_is_object(out)) return out;
    char id[64], salt[32];
    snprintf(salt, sizeof salt, "input-item-%zu", index);
    if (!json_is_string(json_object_get(out, "id"))) {
        make_id(id, sizeof id, "msg_", salt, ctx->rq);
        json_object_set_new(out, "id", json_string(id));
    }
    if (!json_object_get(out, "type") && json_object_get(out, "role"))
        json_object_set_new(out, "type", json_string("message"));
    json_t *content = json_object_get(out, "content");
    if (json_is_string(content))
        json_object_set_new(out, "content",
                            json_pack("[o]", text_part("input_text", json_string_value(content))));
    return out;
}

static bool read_input(const struct api_ctx *ctx, json_t *body, struct input *in, struct reply *r)
{
    json_t *input = json_object_get(body, "input");
    json_t *instructions = json_object_get(body, "instructions");
    in->items = json_array();
    if (json_is_string(instructions)) in->words += count_words(json_string_value(instructions));
    if (!input || json_is_string(input)) {
        const char *text = input ? json_string_value(input) : "";
        buf_append_str(&in->last_user, text);
        in->words += count_words(text);
        if (input) {
            json_t *item = json_pack("{s:s, s:s}", "role", "user", "content", text);
            json_array_append_new(in->items, input_item(ctx, item, 0));
            json_decref(item);
        }
        return true;
    }
    if (!json_is_array(input)) {
        reply_openai_error(r, 400, "invalid_request_error",
                           "Invalid type for 'input': expected a string or an array of input "
                           "items.",
                           "input", "invalid_type");
        return false;
    }
    size_t i;
    json_t *item;
    json_array_foreach(input, i, item)
    {
        struct buf text = BUF_INIT;
        append_content_text(&text, json_object_get(item, "content"));
        if (text.data) in->words += count_words(text.data);
        const char *role = json_string_value(json_object_get(item, "role"));
        if (role && strcmp(role, "user") == 0) {
            buf_reset(&in->last_user);
            buf_append_str(&in->last_user, text.data ? text.data : "");
        }
        buf_free(&text);
        json_array_append_new(in->items, input_item(ctx, item, i));
    }
    return true;
}

static json_t *or_default(json_t *body, const char *key, json_t *fallback)
{
    json_t *v = json_object_get(body, key);
    if (v) {
        json_decref(fallback);
        return json_incref(v);
    }
    return fallback;
}

static json_t *output_part(const char *text)
{
    return json_pack("{s:s, s:[], s:[], s:s}", "type", "output_text", "annotations", "logprobs",
                     "text", text);
}

static json_t *message_item(const char *id, const char *status, json_t *content)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", id, "type", "message", "status", status,
                     "content", content, "role", "assistant");
}

/* The completed (or incomplete, when max_output_tokens cut it) response object. */
static json_t *build_response(const struct api_ctx *ctx, json_t *body, const char *id,
                              const char *item_id, const struct echo *e, size_t input_words)
{
    json_t *usage =
        json_pack("{s:I, s:{s:i}, s:I, s:{s:i}, s:I}", "input_tokens", (json_int_t)input_words,
                  "input_tokens_details", "cached_tokens", 0, "output_tokens", (json_int_t)e->words,
                  "output_tokens_details", "reasoning_tokens", 0, "total_tokens",
                  (json_int_t)(input_words + e->words));
    const char *status = e->truncated ? "incomplete" : "completed";
    json_t *item = message_item(item_id, status, json_pack("[o]", output_part(e->text)));
    json_t *resp = json_object();
    json_object_set_new(resp, "id", json_string(id));
    json_object_set_new(resp, "object", json_string("response"));
    json_object_set_new(resp, "created_at", json_integer(ctx->now));
    json_object_set_new(resp, "status", json_string(status));
    json_object_set_new(resp, "background", or_default(body, "background", json_false()));
    json_object_set_new(resp, "error", json_null());
    json_object_set_new(resp, "incomplete_details",
                        e->truncated ? json_pack("{s:s}", "reason", "max_output_tokens")
                                     : json_null());
    json_object_set_new(resp, "instructions", or_default(body, "instructions", json_null()));
    json_object_set_new(resp, "max_output_tokens",
                        or_default(body, "max_output_tokens", json_null()));
    json_object_set_new(resp, "model", json_incref(json_object_get(body, "model")));
    json_object_set_new(resp, "output", json_pack("[o]", item));
    json_object_set_new(resp, "parallel_tool_calls",
                        or_default(body, "parallel_tool_calls", json_true()));
    json_object_set_new(resp, "previous_response_id",
                        or_default(body, "previous_response_id", json_null()));
    json_object_set_new(
        resp, "reasoning",
        or_default(body, "reasoning", json_pack("{s:n, s:n}", "effort", "summary")));
    json_object_set_new(resp, "store", or_default(body, "store", json_true()));
    json_object_set_new(resp, "temperature", or_default(body, "temperature", json_real(1.0)));
    json_object_set_new(resp, "text",
                        or_default(body, "text", json_pack("{s:{s:s}}", "format", "type", "text")));
    json_object_set_new(resp, "tool_choice", or_default(body, "tool_choice", json_string("auto")));
    json_object_set_new(resp, "tools", or_default(body, "tools", json_array()));
    json_object_set_new(resp, "top_p", or_default(body, "top_p", json_real(1.0)));
    json_object_set_new(resp, "truncation",
                        or_default(body, "truncation", json_string("disabled")));
    json_object_set_new(resp, "usage", usage);
    json_object_set_new(resp, "user", or_default(body, "user", json_null()));
    json_object_set_new(resp, "metadata", or_default(body, "metadata", json_object()));
    return resp;
}

/* The same response before any output: queued, in progress or cancelled. */
static json_t *without_output(json_t *resp, const char *status)
{
    json_t *copy = json_deep_copy(resp);
    json_object_set_new(copy, "status", json_string(status));
    json_object_set_new(copy, "incomplete_details", json_null());
    json_object_set_new(copy, "output", json_array());
    json_object_set_new(copy, "usage", json_null());
    return copy;
}

/* ---- the store ---- */

static void store_put(const char *id, json_t *resp, json_t *items, bool background)
{
    char *r = json_dumps(resp, JSON_COMPACT), *it = json_dumps(items, JSON_COMPACT);
    pthread_mutex_lock(&store_lock);
    size_t i = 0;
    while (i < store_count && strcmp(store[i].id, id) != 0) i++;
    if (i == store_count && store_count == STORE_MAX) { /* drop the oldest */
        free(store[0].response);
        free(store[0].items);
        memmove(store, store + 1, (STORE_MAX - 1) * sizeof *store);
        i = --store_count;
    }
    if (i == store_count)
        store_count++;
    else {
        free(store[i].response);
        free(store[i].items);
    }
    snprintf(store[i].id, sizeof store[i].id, "%s", id);
    store[i].response = r;
    store[i].items = it;
    store[i].background = background;
    store[i].state = background ? QUEUED : DONE;
    pthread_mutex_unlock(&store_lock);
}

static struct stored *store_find(const char *id) /* with store_lock held */
{
    for (size_t i = 0; i < store_count; i++)
        if (strcmp(store[i].id, id) == 0) return &store[i];
    return NULL;
}

void responses_reset(void)
{
    pthread_mutex_lock(&store_lock);
    for (size_t i = 0; i < store_count; i++) {
        free(store[i].response);
        free(store[i].items);
    }
    store_count = 0;
    pthread_mutex_unlock(&store_lock);
}

static void not_found(const char *id, struct reply *r)
{
    char msg[300];
    snprintf(msg, sizeof msg, "Response with id '%.200s' not found.", id);
    reply_openai_error(r, 404, "invalid_request_error", msg, NULL, NULL);
}

/* ---- create ---- */

static void add_event(struct sse *s, const char *type, int *seq, json_t *fields)
{
    json_t *ev = json_pack("{s:s, s:i}", "type", type, "sequence_number", (*seq)++);
    json_object_update(ev, fields);
    json_decref(fields);
    sse_add(s, type, ev);
}

static void stream_response(json_t *resp, const char *item_id, const struct echo *e,
                            struct reply *r)
{
    struct sse *s = sse_new();
    if (!s) {
        reply_json(r, 500, NULL);
        return;
    }
    int seq = 0;
    const char *status = json_string_value(json_object_get(resp, "status"));
    add_event(s, "response.created", &seq,
              json_pack("{s:o}", "response", without_output(resp, "in_progress")));
    add_event(s, "response.in_progress", &seq,
              json_pack("{s:o}", "response", without_output(resp, "in_progress")));
    add_event(s, "response.output_item.added", &seq,
              json_pack("{s:i, s:o}", "output_index", 0, "item",
                        message_item(item_id, "in_progress", json_array())));
    add_event(s, "response.content_part.added", &seq,
              json_pack("{s:s, s:i, s:i, s:o}", "item_id", item_id, "output_index", 0,
                        "content_index", 0, "part", output_part("")));
    for (size_t i = 0; i < e->words; i++)
        add_event(s, "response.output_text.delta", &seq,
                  json_pack("{s:s, s:i, s:i, s:o, s:[]}", "item_id", item_id, "output_index", 0,
                            "content_index", 0, "delta", echo_delta(e, i), "logprobs"));
    add_event(s, "response.output_text.done", &seq,
              json_pack("{s:s, s:i, s:i, s:s, s:[]}", "item_id", item_id, "output_index", 0,
                        "content_index", 0, "text", e->text, "logprobs"));
    add_event(s, "response.content_part.done", &seq,
              json_pack("{s:s, s:i, s:i, s:o}", "item_id", item_id, "output_index", 0,
                        "content_index", 0, "part", output_part(e->text)));
    add_event(s, "response.output_item.done", &seq,
              json_pack("{s:i, s:O}", "output_index", 0, "item",
                        json_array_get(json_object_get(resp, "output"), 0)));
    add_event(s, strcmp(status, "incomplete") == 0 ? "response.incomplete" : "response.completed",
              &seq, json_pack("{s:O}", "response", resp));
    if (sse_failed(s)) {
        sse_free(s);
        reply_json(r, 500, NULL);
        return;
    }
    reply_stream(r, s);
}

void responses_create(const struct api_ctx *ctx, json_t *body, struct reply *r)
{
    if (!require_model(body, false, r)) return;
    struct input in = {BUF_INIT, 0, NULL};
    struct echo e = {0};
    json_t *resp = NULL;
    if (!read_input(ctx, body, &in, r)) goto done;
    json_t *max = json_object_get(body, "max_output_tokens");
    long limit =
        json_is_integer(max) && json_integer_value(max) > 0 ? (long)json_integer_value(max) : -1;
    if (!echo_make(in.last_user.data ? in.last_user.data : "", limit, &e)) {
        reply_json(r, 500, NULL);
        goto done;
    }
    char id[64], item_id[64];
    make_id(id, sizeof id, "resp_", "response", ctx->rq);
    make_id(item_id, sizeof item_id, "msg_", "output-item", ctx->rq);
    resp = build_response(ctx, body, id, item_id, &e, in.words);
    bool stream = json_is_true(json_object_get(body, "stream"));
    bool background = !stream && json_is_true(json_object_get(body, "background"));
    if (!json_is_false(json_object_get(body, "store"))) store_put(id, resp, in.items, background);
    if (stream)
        stream_response(resp, item_id, &e, r);
    else
        reply_json(r, 200, background ? without_output(resp, "queued") : json_incref(resp));
done:
    json_decref(resp);
    json_decref(in.items);
    buf_free(&in.last_user);
    echo_free(&e);
}

/* ---- retrieve, delete, cancel, input items ---- */

void responses_get(const struct api_ctx *ctx, const char *id, struct reply *r)
{
    (void)ctx;
    pthread_mutex_lock(&store_lock);
    struct stored *s = store_find(id);
    json_t *resp = s ? json_loads(s->response, 0, NULL) : NULL;
    if (s && s->state == QUEUED) s->state = DONE; /* a background response completes */
    enum state state = s ? s->state : DONE;
    pthread_mutex_unlock(&store_lock);
    if (!resp) {
        not_found(id, r);
        return;
    }
    if (state == CANCELLED) {
        json_t *c = without_output(resp, "cancelled");
        json_decref(resp);
        resp = c;
    }
    reply_json(r, 200, resp);
}

void responses_delete(const struct api_ctx *ctx, const char *id, struct reply *r)
{
    (void)ctx;
    pthread_mutex_lock(&store_lock);
    struct stored *s = store_find(id);
    if (s) {
        free(s->response);
        free(s->items);
        size_t i = (size_t)(s - store);
        memmove(store + i, store + i + 1, (store_count - i - 1) * sizeof *store);
        store_count--;
    }
    pthread_mutex_unlock(&store_lock);
    if (!s) {
        not_found(id, r);
        return;
    }
    reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "response", "deleted", 1));
}

void responses_cancel(const struct api_ctx *ctx, const char *id, struct reply *r)
{
    (void)ctx;
    pthread_mutex_lock(&store_lock);
    struct stored *s = store_find(id);
    json_t *resp = s ? json_loads(s->response, 0, NULL) : NULL;
    const char *problem = NULL;
    if (s && !s->background)
        problem = "Only responses created with background=true can be cancelled.";
    else if (s && s->state == DONE)
        problem = "Cannot cancel a response that has already completed.";
    else if (s)
        s->state = CANCELLED;
    pthread_mutex_unlock(&store_lock);
    if (!resp) {
        not_found(id, r);
        return;
    }
    if (problem) {
        json_decref(resp);
        reply_openai_error(r, 400, "invalid_request_error", problem, NULL, NULL);
        return;
    }
    reply_json(r, 200, without_output(resp, "cancelled"));
    json_decref(resp);
}

void responses_input_items(const struct api_ctx *ctx, const char *id, struct reply *r)
{
    pthread_mutex_lock(&store_lock);
    struct stored *s = store_find(id);
    json_t *items = s ? json_loads(s->items, 0, NULL) : NULL;
    pthread_mutex_unlock(&store_lock);
    if (!items) {
        not_found(id, r);
        return;
    }
    char order[16] = "desc", limit_s[16] = "20", after[128] = "";
    query_param(ctx->rq, "order", order, sizeof order);
    query_param(ctx->rq, "limit", limit_s, sizeof limit_s);
    query_param(ctx->rq, "after", after, sizeof after);
    long limit = strtol(limit_s, NULL, 10);
    if (limit < 1 || limit > 100 || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)) {
        json_decref(items);
        reply_openai_error(r, 400, "invalid_request_error",
                           "limit must be 1 to 100 and order asc or desc.", NULL, NULL);
        return;
    }
    size_t n = json_array_size(items), i;
    json_t *data = json_array(), *item;
    bool skipping = after[0] != '\0', more = false;
    for (size_t k = 0; k < n; k++) {
        i = strcmp(order, "asc") == 0 ? k : n - 1 - k;
        item = json_array_get(items, i);
        if (skipping) {
            const char *item_id = json_string_value(json_object_get(item, "id"));
            skipping = !item_id || strcmp(item_id, after) != 0;
            continue;
        }
        if (json_array_size(data) == (size_t)limit) {
            more = true;
            break;
        }
        json_array_append(data, item);
    }
    size_t dn = json_array_size(data);
    json_t *first = dn ? json_object_get(json_array_get(data, 0), "id") : NULL;
    json_t *last = dn ? json_object_get(json_array_get(data, dn - 1), "id") : NULL;
    reply_json(r, 200,
               json_pack("{s:s, s:o, s:O, s:O, s:b}", "object", "list", "data", data, "first_id",
                         first ? first : json_null(), "last_id", last ? last : json_null(),
                         "has_more", more));
    json_decref(items);
}
