/* Server-sent-events parser; see sse.h for the rules and the memory contract.
 *
 * Lines that arrive whole inside one chunk are parsed in place; only a line cut by the end of a
 * chunk is copied (into p->line) until its end arrives. Line ends are found with memchr, and the
 * position of the next CR and of the next LF are each remembered for the rest of the chunk, so an
 * LF-only stream costs one memchr for CR per chunk plus one memchr for LF per line. */
#include "stream/sse.h"

#include "core/buf.h"
#include "core/error_internal.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sse_parser {
    sse_event_cb cb;
    sse_comment_cb comment_cb;
    void *ud;
    size_t max;            /* limit on one line and on one event's data */
    struct buf line;       /* a line cut by the end of a chunk; non-empty means "inside a line" */
    struct buf data;       /* this event's data lines, joined with '\n' */
    struct buf type;       /* this event's "event:" value; empty means "message" */
    struct buf id;         /* last event id buffer: persists across events */
    long retry_ms;         /* "retry:" seen in this event's block, -1 if none */
    long reconnect_ms;     /* latest valid "retry:" of the stream, -1 if none */
    bool has_data;         /* a data line was seen: an empty "data:" still dispatches */
    bool in_event;         /* a field line was seen since the last blank line */
    bool skip_lf;          /* the previous chunk ended with CR: an LF next is the same line end */
    bool bom_done;         /* past the point where a BOM may appear */
    unsigned char bom_pos; /* bytes of a BOM matched so far at the start of the stream */
    bool finished;
    mantle_code failed;       /* sticky error, MANTLE_OK if none */
    struct mantle_error last; /* its message, replayed on later calls */
};

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

struct sse_parser *sse_parser_new(sse_event_cb cb, void *ud, size_t max_event_size)
{
    if (!cb) return NULL;
    struct sse_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cb = cb;
    p->ud = ud;
    p->max = max_event_size ? max_event_size : SSE_DEFAULT_MAX_EVENT_SIZE;
    sse_parser_reset(p);
    return p;
}

void sse_parser_free(struct sse_parser *p)
{
    if (!p) return;
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->type);
    buf_free(&p->id);
    free(p);
}

void sse_parser_set_comment_cb(struct sse_parser *p, sse_comment_cb cb)
{
    if (p) p->comment_cb = cb;
}

void sse_parser_reset(struct sse_parser *p)
{
    if (!p) return;
    buf_reset(&p->line);
    buf_reset(&p->data);
    buf_reset(&p->type);
    buf_reset(&p->id);
    p->retry_ms = -1;
    p->reconnect_ms = -1;
    p->has_data = false;
    p->in_event = false;
    p->skip_lf = false;
    p->bom_done = false;
    p->bom_pos = 0;
    p->finished = false;
    p->failed = MANTLE_OK;
    mantle_error_clear(&p->last);
}

/* Records a sticky error and reports it. */
static mantle_code fail(struct sse_parser *p, struct mantle_error *err, mantle_code code,
                        const char *msg)
{
    p->failed = code;
    mantle_error_set(&p->last, code, "%s", msg);
    if (err) *err = p->last;
    return code;
}

static mantle_code fail_limit(struct sse_parser *p, struct mantle_error *err, const char *what)
{
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_error_set(&e, MANTLE_E_STREAM, "SSE %s exceeds the maximum event size (%zu bytes)", what,
                     p->max);
    return fail(p, err, MANTLE_E_STREAM, e.message);
}

static mantle_code fail_nomem(struct sse_parser *p, struct mantle_error *err)
{
    return fail(p, err, MANTLE_E_NOMEM, "out of memory buffering an SSE event");
}

static mantle_code fail_cancel(struct sse_parser *p, struct mantle_error *err)
{
    return fail(p, err, MANTLE_E_CANCELLED, "SSE parsing stopped by the event callback");
}

/* Only ASCII digits, at least one; saturates rather than overflowing. */
static bool parse_retry(const char *v, size_t n, long *out)
{
    if (n == 0) return false;
    long r = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return false;
        int d = v[i] - '0';
        r = r > (LONG_MAX - d) / 10 ? LONG_MAX : r * 10 + d;
    }
    *out = r;
    return true;
}

static mantle_code dispatch(struct sse_parser *p, struct mantle_error *err)
{
    p->in_event = false;
    if (!p->has_data) {
        /* The spec: an empty data buffer dispatches nothing and clears the type. */
        buf_reset(&p->type);
        p->retry_ms = -1;
        return MANTLE_OK;
    }
    struct sse_event ev;
    if (p->type.len) {
        ev.type = p->type.data;
        ev.type_len = p->type.len;
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.data = p->data.data ? p->data.data : "";
    ev.data_len = p->data.len;
    ev.id = p->id.data ? p->id.data : "";
    ev.id_len = p->id.len;
    ev.retry_ms = p->retry_ms;
    int stop = p->cb(p->ud, &ev);
    buf_reset(&p->data);
    buf_reset(&p->type);
    p->has_data = false;
    p->retry_ms = -1;
    return stop ? fail_cancel(p, err) : MANTLE_OK;
}

static mantle_code append_data(struct sse_parser *p, const char *v, size_t n,
                               struct mantle_error *err)
{
    size_t add = n + (p->has_data ? 1 : 0);
    if (add > p->max || p->data.len > p->max - add) return fail_limit(p, err, "event data");
    if (!buf_reserve(&p->data, add)) return fail_nomem(p, err);
    char *w = p->data.data + p->data.len;
    if (p->has_data) *w++ = '\n';
    if (n) memcpy(w, v, n);
    p->data.len += add;
    p->data.data[p->data.len] = '\0';
    p->has_data = true;
    return MANTLE_OK;
}

static mantle_code set_buf(struct sse_parser *p, struct buf *b, const char *v, size_t n,
                           struct mantle_error *err)
{
    buf_reset(b);
    buf_append(b, v, n);
    return buf_failed(b) ? fail_nomem(p, err) : MANTLE_OK;
}

/* One complete line, without its terminator. */
static mantle_code process_line(struct sse_parser *p, const char *s, size_t n,
                                struct mantle_error *err)
{
    if (n == 0) return dispatch(p, err);
    if (s[0] == ':') {
        if (!p->comment_cb) return MANTLE_OK;
        const char *t = s + 1;
        size_t tn = n - 1;
        if (tn && *t == ' ') t++, tn--;
        return p->comment_cb(p->ud, t, tn) ? fail_cancel(p, err) : MANTLE_OK;
    }
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vn = n - name_len - (colon ? 1 : 0);
    if (vn && *v == ' ') v++, vn--;
    p->in_event = true;
    switch (name_len) {
    case 4:
        if (memcmp(s, "data", 4) == 0) return append_data(p, v, vn, err);
        break;
    case 5:
        if (memcmp(s, "event", 5) == 0) return set_buf(p, &p->type, v, vn, err);
        if (memcmp(s, "retry", 5) == 0) {
            long r;
            if (parse_retry(v, vn, &r)) p->retry_ms = p->reconnect_ms = r;
        }
        break;
    case 2:
        if (s[0] == 'i' && s[1] == 'd' && !memchr(v, '\0', vn))
            return set_buf(p, &p->id, v, vn, err);
        break;
    default:
        break;
    }
    return MANTLE_OK; /* unknown field: ignored */
}

static mantle_code feed_lines(struct sse_parser *p, const char *s, size_t n,
                              struct mantle_error *err)
{
    size_t i = 0;
    if (p->skip_lf) {
        p->skip_lf = false;
        if (s[0] == '\n') i = 1;
    }
    /* Offsets of the next LF / CR at or after i (n when there is none), searched lazily. */
    size_t lf = 0, cr = 0;
    bool lf_known = false, cr_known = false;
    while (i < n) {
        if (!lf_known || lf < i) {
            const char *q = memchr(s + i, '\n', n - i);
            lf = q ? (size_t)(q - s) : n;
            lf_known = true;
        }
        if (!cr_known || cr < i) {
            const char *q = memchr(s + i, '\r', n - i);
            cr = q ? (size_t)(q - s) : n;
            cr_known = true;
        }
        size_t eol = lf < cr ? lf : cr;
        size_t piece = eol - i;
        /* Same limit whether or not the line was cut by a chunk boundary, so the outcome does not
         * depend on how the bytes were split. */
        if (piece > p->max || p->line.len > p->max - piece) return fail_limit(p, err, "line");
        if (eol == n) {
            buf_append(&p->line, s + i, piece);
            return buf_failed(&p->line) ? fail_nomem(p, err) : MANTLE_OK;
        }
        size_t next = eol + 1;
        if (s[eol] == '\r') {
            if (next == n)
                p->skip_lf = true;
            else if (s[next] == '\n')
                next++;
        }
        mantle_code rc;
        if (p->line.len) {
            buf_append(&p->line, s + i, piece);
            if (buf_failed(&p->line)) return fail_nomem(p, err);
            rc = process_line(p, p->line.data, p->line.len, err);
            buf_reset(&p->line);
        } else {
            rc = process_line(p, s + i, piece, err);
        }
        if (rc != MANTLE_OK) return rc;
        i = next;
    }
    return MANTLE_OK;
}

mantle_code sse_parser_feed(struct sse_parser *p, const char *data, size_t len,
                            struct mantle_error *err)
{
    if (!p) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "sse_parser_feed: NULL parser");
    if (p->failed) {
        if (err) *err = p->last;
        return p->failed;
    }
    if (p->finished)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "sse_parser_feed called after sse_parser_finish");
    if (len == 0) return MANTLE_OK;
    if (!data)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "sse_parser_feed: NULL data");
    const char *s = data;
    if (!p->bom_done) {
        /* The BOM may itself be split across chunks: match it byte by byte. */
        while (len && p->bom_pos < 3 && (unsigned char)*s == utf8_bom[p->bom_pos]) {
            p->bom_pos++;
            s++;
            len--;
        }
        if (p->bom_pos == 3) {
            p->bom_done = true;
        } else if (len) {
            /* Not a BOM after all: the bytes matched so far are ordinary line content. */
            p->bom_done = true;
            if (p->bom_pos) {
                mantle_code rc = feed_lines(p, (const char *)utf8_bom, p->bom_pos, err);
                if (rc != MANTLE_OK) return rc;
            }
        }
        if (!len) return MANTLE_OK;
    }
    return feed_lines(p, s, len, err);
}

mantle_code sse_parser_finish(struct sse_parser *p, struct mantle_error *err)
{
    if (!p)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "sse_parser_finish: NULL parser");
    if (p->failed) {
        if (err) *err = p->last;
        return p->failed;
    }
    bool in_line = p->line.len > 0 || (!p->bom_done && p->bom_pos > 0);
    bool in_event = p->in_event;
    p->finished = true;
    /* The spec discards an event that no blank line completed. */
    buf_reset(&p->line);
    buf_reset(&p->data);
    buf_reset(&p->type);
    p->has_data = false;
    p->in_event = false;
    if (in_line)
        return fail(p, err, MANTLE_E_STREAM,
                    "stream ended in the middle of an event (inside a line)");
    if (in_event)
        return fail(p, err, MANTLE_E_STREAM,
                    "stream ended in the middle of an event (no blank line after its fields)");
    return MANTLE_OK;
}

const char *sse_parser_last_event_id(const struct sse_parser *p, size_t *len)
{
    if (len) *len = p && p->id.data ? p->id.len : 0;
    return p && p->id.data ? p->id.data : "";
}

long sse_parser_retry_ms(const struct sse_parser *p)
{
    return p ? p->reconnect_ms : -1;
}

size_t sse_parser_capacity(const struct sse_parser *p)
{
    if (!p) return 0;
    return p->line.cap + p->data.cap + p->type.cap + p->id.cap;
}
