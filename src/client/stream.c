#include "client/stream.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "client/jsonparse.h"

#define MAX_NON_SSE_BODY ((size_t)16 << 20)

static int on_event(void *ud, const struct sse_event *ev);

mantle_code stream_state_init(struct stream_state *s, mantle_stream_cb *cb, void *ud,
                              struct mantle_error *err)
{
    memset(s, 0, sizeof *s);
    s->cb = cb;
    s->ud = ud;
    s->parser = sse_parser_new(on_event, s, 0);
    if (!s->parser) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    return MANTLE_OK;
}

void stream_state_reset(struct stream_state *s, const struct http_transfer *t)
{
    sse_parser_reset(s->parser);
    s->t = t;
    s->checked_type = s->not_sse = false;
    buf_reset(&s->raw);
    s->events = 0;
    s->code = MANTLE_OK;
    mantle_error_clear(&s->detail);
}

void stream_state_free(struct stream_state *s)
{
    sse_parser_free(s->parser);
    buf_free(&s->raw);
}

static void stop(struct stream_state *s, mantle_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void stop(struct stream_state *s, mantle_code code, const char *fmt, ...)
{
    if (s->code != MANTLE_OK) return; /* the first reason wins */
    s->code = code;
    s->detail.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail.message, sizeof s->detail.message, fmt, ap);
    va_end(ap);
}

/* An error carried by the stream: an "error" event, or data with a top-level "error" object
 * (OpenAI), or {"type":"error"} (Anthropic, Responses). */
static bool stream_error(struct stream_state *s, const char *sse_type, json_t *json)
{
    json_t *inner = json_object_get(json, "error");
    const char *jtype = json_string_value(json_object_get(json, "type"));
    bool is_error = strcmp(sse_type, "error") == 0 || (inner && !json_is_null(inner)) ||
                    (jtype && strcmp(jtype, "error") == 0);
    if (!is_error) return false;
    const char *msg = NULL, *kind = NULL;
    if (json_is_object(inner)) {
        msg = json_string_value(json_object_get(inner, "message"));
        kind = json_string_value(json_object_get(inner, "type"));
        if (!kind) kind = json_string_value(json_object_get(inner, "code"));
    } else if (json_is_string(inner)) {
        msg = json_string_value(inner);
    }
    if (!msg) msg = json_string_value(json_object_get(json, "message"));
    if (!kind) kind = json_string_value(json_object_get(json, "code"));
    if (kind)
        stop(s, MANTLE_E_STREAM, "stream error event: %s: %s", kind, msg ? msg : "(no message)");
    else
        stop(s, MANTLE_E_STREAM, "stream error event%s%s", msg ? ": " : "", msg ? msg : "");
    return true;
}

static int on_event(void *ud, const struct sse_event *ev)
{
    struct stream_state *s = ud;
    json_t *json = NULL;
    bool done = ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
    if (!done && ev->data_len) {
        json_error_t jerr;
        json = client_json_parse(ev->data, ev->data_len, JSON_DECODE_ANY, &jerr);
        if (!json) {
            stop(s, MANTLE_E_PROTOCOL, "event %ld of the stream is not valid JSON: %s",
                 s->events + 1, jerr.text);
            return 1;
        }
    }
    const char *type = ev->type;
    if (strcmp(type, "message") == 0) {
        const char *jt = json_string_value(json_object_get(json, "type"));
        if (jt) type = jt;
    }
    if (json && stream_error(s, ev->type, json)) {
        json_decref(json);
        return 1;
    }
    if (!json && strcmp(ev->type, "error") == 0) {
        stop(s, MANTLE_E_STREAM, "stream error event%s%s", ev->data_len ? ": " : "", ev->data);
        return 1;
    }
    struct mantle_stream_event e = {type, ev->data, ev->data_len, json};
    int r = s->cb(s->ud, &e);
    json_decref(json);
    s->events++;
    if (r != 0) {
        stop(s, MANTLE_E_CANCELLED, "the stream callback cancelled the stream");
        return 1;
    }
    return 0;
}

int stream_on_body(void *ud, const char *data, size_t len)
{
    struct stream_state *s = ud;
    if (!s->checked_type) {
        s->checked_type = true;
        const char *ct = http_headers_get(&s->t->headers, "content-type");
        /* No content-type at all: take the server at its word that it streams. */
        s->not_sse = ct && strncasecmp(ct, "text/event-stream", 17) != 0;
    }
    if (s->not_sse) {
        if (len > MAX_NON_SSE_BODY - s->raw.len) {
            stop(s, MANTLE_E_PROTOCOL, "the response is not an event stream and too large");
            return 1;
        }
        buf_append(&s->raw, data, len);
        return buf_failed(&s->raw) ? 1 : 0;
    }
    struct mantle_error perr = MANTLE_ERROR_INIT;
    mantle_code rc = sse_parser_feed(s->parser, data, len, &perr);
    if (rc == MANTLE_OK) return 0;
    if (rc != MANTLE_E_CANCELLED) stop(s, rc, "%s", perr.message);
    return 1;
}

mantle_code stream_finish(struct stream_state *s, struct mantle_error *err)
{
    if (s->not_sse) {
        const char *ct = http_headers_get(&s->t->headers, "content-type");
        return mantle_error_set(err, MANTLE_E_PROTOCOL,
                                "expected an event stream (text/event-stream) but got %s",
                                ct ? ct : "no content-type");
    }
    struct mantle_error perr = MANTLE_ERROR_INIT;
    mantle_code rc = sse_parser_finish(s->parser, &perr);
    if (rc == MANTLE_OK) return MANTLE_OK;
    return mantle_error_set(err, MANTLE_E_STREAM, "%s after %ld events", perr.message, s->events);
}
