/* The API surface: Responses, Chat Completions, Models, Anthropic Messages, over
 * client_execute(). Bodies are built with jansson (a "stream": true is set on a copy of the
 * caller's object, never spliced into text). */
#include "client/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "client/jsonparse.h"
#include "core/buf.h"
#include "core/error_internal.h"

static bool is_anthropic_path(const struct mantle_request *rq)
{
    return rq && rq->path && strncmp(rq->path, "/anthropic/", 11) == 0;
}

mantle_code mantle_client_request(struct mantle_client *client,
                                  const struct mantle_request *request,
                                  struct mantle_response **out, struct mantle_error *err)
{
    struct client_call_opts o = {CALL_JSON, NULL, NULL, is_anthropic_path(request)};
    return client_execute(client, request, &o, out, err);
}

mantle_code mantle_client_stream(struct mantle_client *client, const struct mantle_request *request,
                                 mantle_stream_cb *on_event, void *user_data,
                                 struct mantle_error *err)
{
    struct client_call_opts o = {CALL_STREAM, on_event, user_data, is_anthropic_path(request)};
    return client_execute(client, request, &o, NULL, err);
}

/* The body as bytes to send: the caller's text as is, or serialized JSON (*owned, free()). With
 * stream, the object gets "stream": true. */
static mantle_code body_bytes(struct mantle_json_body b, bool stream, char **owned,
                              const char **text, struct mantle_error *err)
{
    *owned = NULL;
    if ((b.text == NULL) == (b.value == NULL))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "the JSON body needs exactly one of text and value");
    if (!stream && b.text) {
        *text = b.text;
        return MANTLE_OK;
    }
    json_t *obj;
    if (b.text) {
        json_error_t jerr;
        obj = client_json_parse(b.text, strlen(b.text), 0, &jerr);
        if (!obj)
            return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                    "the JSON body is not valid JSON: %s", jerr.text);
    } else {
        /* A shallow copy: the caller's object is never modified. */
        obj = stream ? json_copy((json_t *)b.value) : json_incref((json_t *)b.value);
        if (!obj) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    if (stream && (!json_is_object(obj) || json_object_set_new(obj, "stream", json_true()))) {
        json_decref(obj);
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "a streaming request body must be a JSON object");
    }
    *owned = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!*owned) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "cannot serialize body");
    *text = *owned;
    return MANTLE_OK;
}

static mantle_code post_json(struct mantle_client *c, const char *path, bool from_root,
                             struct mantle_json_body body, bool anthropic,
                             mantle_stream_cb *on_event, void *ud, struct mantle_response **out,
                             struct mantle_error *err)
{
    bool stream = on_event != NULL;
    if (out) *out = NULL;
    char *owned = NULL;
    const char *text = NULL;
    mantle_code rc = body_bytes(body, stream, &owned, &text, err);
    if (rc != MANTLE_OK) return rc;
    struct mantle_request rq = {0};
    rq.method = "POST";
    rq.path = path;
    rq.path_from_host_root = from_root;
    rq.body = text;
    rq.body_len = strlen(text);
    struct client_call_opts o = {stream ? CALL_STREAM : CALL_JSON, on_event, ud, anthropic};
    rc = client_execute(c, &rq, &o, out, err);
    free(owned);
    return rc;
}

/* "/prefix/{id}/suffix" with id percent-encoded as one path segment (':' and '@' kept, as in
 * model ids such as "openai.gpt-oss-120b-1:0"). */
static char *path_with_id(const char *prefix, const char *id, const char *suffix,
                          struct mantle_error *err)
{
    if (!id || !*id) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "the id must not be empty");
        return NULL;
    }
    static const char hex[] = "0123456789ABCDEF";
    struct buf b = BUF_INIT;
    buf_append_str(&b, prefix);
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~:@", *p)) {
            buf_append_char(&b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(&b, e, 3);
        }
    }
    if (suffix) buf_append_str(&b, suffix);
    char *s = buf_steal(&b);
    if (!s) mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    return s;
}

static mantle_code simple(struct mantle_client *c, const char *method, const char *prefix,
                          const char *id, const char *suffix, const char *query,
                          struct mantle_response **out, struct mantle_error *err)
{
    if (out) *out = NULL;
    char *path = id ? path_with_id(prefix, id, suffix, err) : strdup(prefix);
    if (!path) return err && err->code ? err->code : MANTLE_E_NOMEM;
    struct mantle_request rq = {0};
    rq.method = method;
    rq.path = path;
    rq.query = query;
    mantle_code rc = mantle_client_request(c, &rq, out, err);
    free(path);
    return rc;
}

mantle_code mantle_responses_create(struct mantle_client *c, struct mantle_json_body body,
                                    struct mantle_response **out, struct mantle_error *err)
{
    return post_json(c, "/responses", false, body, false, NULL, NULL, out, err);
}

mantle_code mantle_responses_stream(struct mantle_client *c, struct mantle_json_body body,
                                    mantle_stream_cb *on_event, void *user_data,
                                    struct mantle_error *err)
{
    if (!on_event) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "on_event is NULL");
    return post_json(c, "/responses", false, body, false, on_event, user_data, NULL, err);
}

mantle_code mantle_responses_retrieve(struct mantle_client *c, const char *response_id,
                                      struct mantle_response **out, struct mantle_error *err)
{
    return simple(c, "GET", "/responses/", response_id, NULL, NULL, out, err);
}

mantle_code mantle_responses_delete(struct mantle_client *c, const char *response_id,
                                    struct mantle_response **out, struct mantle_error *err)
{
    return simple(c, "DELETE", "/responses/", response_id, NULL, NULL, out, err);
}

mantle_code mantle_responses_cancel(struct mantle_client *c, const char *response_id,
                                    struct mantle_response **out, struct mantle_error *err)
{
    return simple(c, "POST", "/responses/", response_id, "/cancel", NULL, out, err);
}

mantle_code mantle_responses_input_items(struct mantle_client *c, const char *response_id,
                                         const char *query, struct mantle_response **out,
                                         struct mantle_error *err)
{
    return simple(c, "GET", "/responses/", response_id, "/input_items", query, out, err);
}

mantle_code mantle_chat_completions_create(struct mantle_client *c, struct mantle_json_body body,
                                           struct mantle_response **out, struct mantle_error *err)
{
    return post_json(c, "/chat/completions", false, body, false, NULL, NULL, out, err);
}

mantle_code mantle_chat_completions_stream(struct mantle_client *c, struct mantle_json_body body,
                                           mantle_stream_cb *on_event, void *user_data,
                                           struct mantle_error *err)
{
    if (!on_event) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "on_event is NULL");
    return post_json(c, "/chat/completions", false, body, false, on_event, user_data, NULL, err);
}

mantle_code mantle_models_list(struct mantle_client *c, struct mantle_response **out,
                               struct mantle_error *err)
{
    return simple(c, "GET", "/models", NULL, NULL, NULL, out, err);
}

mantle_code mantle_models_retrieve(struct mantle_client *c, const char *model_id,
                                   struct mantle_response **out, struct mantle_error *err)
{
    return simple(c, "GET", "/models/", model_id, NULL, NULL, out, err);
}

mantle_code mantle_messages_create(struct mantle_client *c, struct mantle_json_body body,
                                   struct mantle_response **out, struct mantle_error *err)
{
    return post_json(c, "/anthropic/v1/messages", true, body, true, NULL, NULL, out, err);
}

mantle_code mantle_messages_stream(struct mantle_client *c, struct mantle_json_body body,
                                   mantle_stream_cb *on_event, void *user_data,
                                   struct mantle_error *err)
{
    if (!on_event) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "on_event is NULL");
    return post_json(c, "/anthropic/v1/messages", true, body, true, on_event, user_data, NULL, err);
}
