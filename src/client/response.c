/* Responses: accessors and the helpers for the common reads. */
#include "client/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "client/jsonparse.h"

int mantle_response_status(const struct mantle_response *r)
{
    return r ? r->status : 0;
}

const char *mantle_response_header(const struct mantle_response *r, const char *name)
{
    return r && name ? http_headers_get(&r->headers, name) : NULL;
}

const char *mantle_response_body(const struct mantle_response *r, size_t *len)
{
    if (len) *len = r ? r->body_len : 0;
    return r ? r->body : NULL;
}

json_t *mantle_response_json(const struct mantle_response *r)
{
    if (!r) return NULL;
    json_t *j = atomic_load_explicit(&r->json, memory_order_acquire);
    if (j || !r->is_json) return j;
    /* Built on first use (most of a request's CPU would otherwise be jansson's); two threads
     * racing here both parse, one tree wins, the other is dropped. */
    j = client_json_parse(r->body, r->body_len, 0, NULL);
    if (!j) return NULL;
    json_t *none = NULL;
    struct mantle_response *w = (struct mantle_response *)r; /* the cache is not the value */
    if (!atomic_compare_exchange_strong_explicit(&w->json, &none, j, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        json_decref(j);
        j = none;
    }
    return j;
}

const char *mantle_response_request_id(const struct mantle_response *r)
{
    return r ? client_request_id(&r->headers) : NULL;
}

int mantle_response_attempts(const struct mantle_response *r)
{
    return r ? r->attempts : 0;
}

void mantle_response_free(struct mantle_response *r)
{
    if (!r) return;
    /* The headers and the body live in r's own block (make_response in request.c). */
    json_decref(atomic_load_explicit(&r->json, memory_order_relaxed));
    free(r);
}

/* Concatenates the "text" of the parts of `arr` whose "type" is `type`; NULL when none. */
static char *join_text_parts(const json_t *arr, const char *type, bool *found)
{
    struct buf b = BUF_INIT;
    size_t i;
    json_t *part;
    json_array_foreach(arr, i, part)
    {
        const char *t = json_string_value(json_object_get(part, "type"));
        const char *text = json_string_value(json_object_get(part, "text"));
        if (t && text && strcmp(t, type) == 0) {
            buf_append_str(&b, text);
            *found = true;
        }
    }
    return buf_steal(&b);
}

char *mantle_response_output_text(const struct mantle_response *r)
{
    json_t *j = mantle_response_json(r);
    if (!json_is_object(j)) return NULL;
    /* Some servers add the SDK's convenience field; otherwise walk output[].content[]. */
    const char *direct = json_string_value(json_object_get(j, "output_text"));
    if (direct) return strdup(direct);
    json_t *output = json_object_get(j, "output");
    if (!json_is_array(output)) return NULL;
    struct buf b = BUF_INIT;
    bool found = false;
    size_t i;
    json_t *item;
    json_array_foreach(output, i, item)
    {
        const char *t = json_string_value(json_object_get(item, "type"));
        if (!t || strcmp(t, "message") != 0) continue;
        char *s = join_text_parts(json_object_get(item, "content"), "output_text", &found);
        if (s) buf_append_str(&b, s);
        free(s);
    }
    if (!found) {
        buf_free(&b);
        return NULL;
    }
    return b.data ? buf_steal(&b) : strdup("");
}

const char *mantle_chat_message_content(const struct mantle_response *r)
{
    json_t *choice = json_array_get(json_object_get(mantle_response_json(r), "choices"), 0);
    return json_string_value(json_object_get(json_object_get(choice, "message"), "content"));
}

char *mantle_message_text(const struct mantle_response *r)
{
    json_t *content = json_object_get(mantle_response_json(r), "content");
    if (!json_is_array(content)) return NULL;
    bool found = false;
    char *s = join_text_parts(content, "text", &found);
    if (!found) {
        free(s);
        return NULL;
    }
    return s ? s : strdup("");
}

static int64_t int_field(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

void mantle_response_usage(const struct mantle_response *r, int64_t *input_tokens,
                           int64_t *output_tokens, int64_t *total_tokens)
{
    json_t *u = json_object_get(mantle_response_json(r), "usage");
    int64_t in = int_field(u, "input_tokens"), out = int_field(u, "output_tokens");
    if (in < 0) in = int_field(u, "prompt_tokens"); /* Chat Completions */
    if (out < 0) out = int_field(u, "completion_tokens");
    int64_t total = int_field(u, "total_tokens");
    if (total < 0 && in >= 0 && out >= 0) total = in + out; /* Anthropic has no total */
    if (input_tokens) *input_tokens = in;
    if (output_tokens) *output_tokens = out;
    if (total_tokens) *total_tokens = total;
}
