/* Server-sent events. A handler builds the whole event list up front (answers are small and
 * deterministic); libmicrohttpd then pulls it one event per call, which is where the stream
 * faults act: a delay between events, or a dropped connection after N events. */
#include "emulator.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct sse {
    char **events; /* each a complete "event: ...\ndata: ...\n\n" block */
    size_t count, cap;
    size_t next;   /* the event being sent */
    size_t offset; /* bytes of it already sent */
    long drop_after;
    long event_delay_ms;
    bool failed;
};

struct sse *sse_new(void)
{
    struct sse *s = calloc(1, sizeof *s);
    if (s) s->drop_after = -1;
    return s;
}

static void push(struct sse *s, const char *name, const char *data)
{
    if (s->failed) return;
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->events, ncap * sizeof *n);
        if (!n) {
            s->failed = true;
            return;
        }
        s->events = n;
        s->cap = ncap;
    }
    struct buf b = BUF_INIT;
    if (name) {
        buf_append_str(&b, "event: ");
        buf_append_str(&b, name);
        buf_append_char(&b, '\n');
    }
    buf_append_str(&b, "data: ");
    buf_append_str(&b, data);
    buf_append_str(&b, "\n\n");
    char *ev = buf_steal(&b);
    if (!ev) {
        s->failed = true;
        return;
    }
    s->events[s->count++] = ev;
}

void sse_add(struct sse *s, const char *name, json_t *json)
{
    char *data = json ? json_dumps(json, JSON_COMPACT) : NULL;
    json_decref(json);
    if (!data) {
        s->failed = true;
        return;
    }
    push(s, name, data);
    free(data);
}

void sse_add_raw(struct sse *s, const char *name, const char *data)
{
    push(s, name, data);
}

bool sse_failed(const struct sse *s)
{
    return s->failed;
}

/* Cuts the JSON on the event's (first) data line in half, keeping the event framing, so a
 * client sees a complete event whose data does not parse. */
static void cut_json(char *ev)
{
    char *data = strstr(ev, "data: ");
    if (!data) return;
    data += 6;
    char *end = strchr(data, '\n');
    if (!end) return;
    size_t len = (size_t)(end - data), keep = len / 2;
    memmove(data + keep, end, strlen(end) + 1);
}

void sse_apply_faults(struct sse *s, const struct faults *f)
{
    s->drop_after = f->drop_mid_stream;
    s->event_delay_ms = f->event_delay_ms;
    if (f->malformed_json && s->count) cut_json(s->events[0]);
}

ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *s = cls;
    if (s->offset == 0) {
        if (s->drop_after >= 0 && s->next >= (size_t)s->drop_after)
            return MHD_CONTENT_READER_END_WITH_ERROR; /* closes the connection mid-stream */
        if (s->next == s->count) return MHD_CONTENT_READER_END_OF_STREAM;
        if (s->next > 0 && s->event_delay_ms > 0) emu_sleep_ms(s->event_delay_ms);
        if (emu_stopping) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* At most one event per call, so each event leaves in its own chunk when it is due. */
    const char *ev = s->events[s->next];
    size_t left = strlen(ev + s->offset);
    size_t n = left < max ? left : max;
    memcpy(buf, ev + s->offset, n);
    s->offset += n;
    if (s->offset == strlen(ev)) {
        s->next++;
        s->offset = 0;
    }
    return (ssize_t)n;
}

void sse_free(void *cls)
{
    struct sse *s = cls;
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) free(s->events[i]);
    free(s->events);
    free(s);
}

void reply_stream(struct reply *r, struct sse *s)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    if (r->stream) sse_free(r->stream);
    r->stream = s;
    r->status = 200;
    r->content_type = "text/event-stream";
    reply_header(r, "Cache-Control", "no-cache");
}
