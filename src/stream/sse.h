/*
 * A server-sent-events (text/event-stream) parser: sans-I/O, push-style.
 *
 * The transfer layer feeds whatever byte chunks it receives; the events produced are the same for
 * every way of splitting the bytes. Parsing follows the WHATWG HTML "event stream interpretation"
 * rules:
 *   - lines end with CR, LF or CRLF (a CRLF split across two chunks is one line ending);
 *   - one UTF-8 BOM at the very start of the stream is skipped;
 *   - "field: value" (one optional space after the colon is removed), "field" alone has an empty
 *     value, lines starting with ':' are comments, unknown fields are ignored;
 *   - "data" appends to the data buffer (lines joined with '\n'), "event" sets the type, "id" sets
 *     the last event id (ignored if the value contains NUL), "retry" with only ASCII digits sets
 * the reconnection time;
 *   - a blank line dispatches the event if at least one "data" line was seen (even an empty one);
 *     a block with only "event:"/"id:"/"retry:" lines is not dispatched. The type defaults to
 *     "message".
 * Bytes are bytes: invalid UTF-8 and NULs are passed through with explicit lengths (the spec's
 * decoder would turn invalid UTF-8 into U+FFFD; callers parse the data as JSON anyway).
 *
 * Memory: one set of growable buffers per parser, reused for every event; once they have grown to
 * the largest event seen, parsing allocates nothing. max_event_size bounds both any single line and
 * the data of one event, so a hostile server cannot make the parser allocate without bound.
 *
 * Not thread-safe: one parser per stream. Callbacks must not call sse_parser_feed/finish/reset/free
 * on the parser that is calling them (the getters below are fine).
 */
#ifndef MANTLE_STREAM_SSE_H
#define MANTLE_STREAM_SSE_H

#include <mantle/error.h>

#include <stddef.h>

#define SSE_DEFAULT_MAX_EVENT_SIZE ((size_t)16 << 20) /* 16 MiB */

/* One dispatched event. Borrowed: every pointer is valid only during the callback. type, data and
 * id are never NULL and are NUL-terminated (they may also contain NULs: use the lengths). */
struct sse_event {
    const char *type; /* "message" unless an "event:" line said otherwise */
    size_t type_len;
    const char *data; /* the "data:" lines joined with '\n' */
    size_t data_len;
    const char *id; /* the last event id (persists across events, as the spec says); "" if none */
    size_t id_len;
    long retry_ms; /* the "retry:" value seen in this event's block, -1 if none */
};

/* Called for each dispatched event; return non-zero to stop parsing (sse_parser_feed then returns
 * MANTLE_E_CANCELLED and no further event is delivered until sse_parser_reset). */
typedef int (*sse_event_cb)(void *ud, const struct sse_event *ev);

/* Called for each comment line (": ping" keep-alives). text is what follows the ':' with one
 * leading space removed; NOT NUL-terminated, borrowed for the call. Non-zero stops, as above. */
typedef int (*sse_comment_cb)(void *ud, const char *text, size_t len);

struct sse_parser;

/* cb must not be NULL. max_event_size 0 means SSE_DEFAULT_MAX_EVENT_SIZE. NULL on bad arguments
 * or out of memory. */
struct sse_parser *sse_parser_new(sse_event_cb cb, void *ud, size_t max_event_size);
void sse_parser_free(struct sse_parser *p); /* NULL is allowed */

/* Optional comment callback (NULL to remove); it gets the parser's ud. */
void sse_parser_set_comment_cb(struct sse_parser *p, sse_comment_cb cb);

/* Back to the start of a new stream (BOM allowed again, no last event id, no reconnection time,
 * no error), keeping the buffers' memory. */
void sse_parser_reset(struct sse_parser *p);

/* Parses len bytes (data may be NULL when len is 0). Returns MANTLE_OK, MANTLE_E_CANCELLED (a
 * callback asked to stop), MANTLE_E_STREAM (a line or an event's data exceeded max_event_size),
 * MANTLE_E_NOMEM, or MANTLE_E_INVALID_ARGUMENT (NULL data, or called after finish). Errors are
 * sticky: later calls return the same code until sse_parser_reset. Fills err (may be NULL). */
mantle_code sse_parser_feed(struct sse_parser *p, const char *data, size_t len,
                            struct mantle_error *err);

/* Call at end of input. MANTLE_OK if the stream ended between events (after a blank line, or
 * after nothing but comments); MANTLE_E_STREAM "stream ended in the middle of an event" if it
 * was cut inside a line or after field lines with no blank line to end them (the pending event is
 * discarded, as the spec says). Returns the sticky code if feed had failed. After finish the parser
 * accepts no more input until sse_parser_reset. */
mantle_code sse_parser_finish(struct sse_parser *p, struct mantle_error *err);

/* The last event id seen so far (persists across events, even ones never dispatched); "" if none.
 * Valid until the next feed/reset. len may be NULL. */
const char *sse_parser_last_event_id(const struct sse_parser *p, size_t *len);

/* The reconnection time set by the latest valid "retry:" line, or -1 if none. */
long sse_parser_retry_ms(const struct sse_parser *p);

/* Bytes of buffer memory the parser holds (for tests: constant once warmed up means no allocation
 * per event). */
size_t sse_parser_capacity(const struct sse_parser *p);

#endif
