/* The streaming side of a request: the 2xx body goes, chunk by chunk as libcurl delivers it,
 * into the SSE parser, and each event becomes a mantle_stream_event (JSON parsed with jansson) for
 * the caller's callback. Nothing but the parser's reused buffers holds stream bytes. */
#ifndef MANTLE_CLIENT_STREAM_H
#define MANTLE_CLIENT_STREAM_H

#include <mantle/client.h>
#include <stdbool.h>

#include "core/buf.h"
#include "http/transfer.h"
#include "stream/sse.h"

struct stream_state {
    mantle_stream_cb *cb;
    void *ud;
    struct sse_parser *parser;
    const struct http_transfer *t; /* for the response's content-type */
    bool checked_type;
    bool not_sse; /* a 2xx that is not text/event-stream: buffered in raw */
    struct buf raw;
    long events;      /* delivered to cb */
    mantle_code code; /* why the stream stopped early (STREAM, PROTOCOL, CANCELLED...) */
    struct mantle_error detail;
};

mantle_code stream_state_init(struct stream_state *s, mantle_stream_cb *cb, void *ud,
                              struct mantle_error *err);
/* Before each attempt. */
void stream_state_reset(struct stream_state *s, const struct http_transfer *t);
void stream_state_free(struct stream_state *s);

/* The transfer's on_body sink (http_body_fn). */
int stream_on_body(void *ud, const char *data, size_t len);

/* After a complete 2xx response: MANTLE_OK, or MANTLE_E_STREAM for a stream cut mid-event,
 * MANTLE_E_PROTOCOL for a body that is not an event stream. Fills err's message. */
mantle_code stream_finish(struct stream_state *s, struct mantle_error *err);

#endif
