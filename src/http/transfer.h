/* One HTTP exchange on a libcurl easy handle: the per-transfer state machine.
 *
 * It knows nothing about how it is driven. http_transfer_bind() puts the request on an easy handle;
 * whoever owns the multi handle (the blocking loop in engine.c, or later an event loop through
 * curl_multi_socket_action) adds the handle, lets libcurl run the callbacks below, and calls
 * http_transfer_complete() with the CURLcode from curl_multi_info_read(). The transfer then says
 * what happened (outcome), with the status, headers and (buffered) body.
 *
 * Bodies: a 2xx body goes to the request's on_body sink when it has one (streaming: nothing is
 * buffered); every other body is buffered, up to max_body bytes, for the error message. */
#ifndef MANTLE_HTTP_TRANSFER_H
#define MANTLE_HTTP_TRANSFER_H

#include <curl/curl.h>
#include <mantle/error.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "http/headers.h"

/* Receives a 2xx body chunk; return 0 to go on, non-zero to abort the transfer (outcome
 * HTTP_ABORTED). */
typedef int http_body_fn(void *ud, const char *data, size_t len);

struct http_request {
    const char *method; /* "GET", "POST", "DELETE", ... */
    const char *url;
    const struct curl_slist *headers; /* exactly what is sent, besides Host */
    const void *body;                 /* NULL: no body */
    size_t body_len;
    long connect_timeout_ms; /* libcurl's CONNECTTIMEOUT */
    long timeout_ms;         /* this attempt, whole exchange; > 0; kept by the driver */
    const char *ca_bundle;
    const char *proxy;    /* NULL: none; never the environment (the client read it: see config.c) */
    const char *no_proxy; /* hosts that bypass `proxy`, libcurl's syntax; NULL: none */
    http_body_fn *on_body; /* NULL: buffer 2xx bodies too */
    void *on_body_ud;
    size_t max_body; /* buffered bodies larger than this fail the transfer; 0: 64 MiB */
};

enum http_outcome {
    HTTP_RESPONSE = 0, /* a complete response (any status) */
    HTTP_CONNECTION,   /* DNS, TCP, TLS, or the connection dropped (maybe mid-body) */
    HTTP_TIMEOUT,      /* the attempt's connect or total timeout */
    HTTP_ABORTED,      /* on_body asked to stop */
    HTTP_TOO_LARGE,    /* a buffered body over max_body */
    HTTP_FAILED        /* anything else libcurl refused (bad URL, TLS setup, ...) */
};

struct http_transfer {
    const struct http_request *req;
    CURL *easy;
    int status; /* of the last status line; 0 before one arrives */
    struct http_headers headers;
    struct buf body;       /* buffered body */
    size_t body_delivered; /* bytes handed to on_body */
    bool header_done;
    bool aborted;
    bool too_large;
    CURLcode result;
    enum http_outcome outcome;
    char errbuf[CURL_ERROR_SIZE];
};

/* What an easy handle was last given by http_transfer_bind(), kept by the handle's owner next to
 * it. Options that are the same for the next request are not set again: each curl_easy_setopt
 * runs libcurl's long option switch, cold code, and a client sends the same URL, headers and
 * timeouts over and over (callgrind: -800 instructions, -30 L1i misses per request). libcurl's
 * error buffer lives here too, so that an idle handle never points into a finished transfer.
 * A zeroed struct is a handle nothing is known about. */
struct http_easy_opts {
    bool known;             /* false: nothing is known (a new handle, or after curl_easy_reset) */
    char *url;              /* a copy */
    char *proxy, *no_proxy; /* copies; NULL: none (the proxy may hold a password: wiped) */
    const struct curl_slist *headers;
    const void *body; /* NULL with !has_body: a GET-like request */
    size_t body_len;
    bool has_body;
    char custom[8]; /* CURLOPT_CUSTOMREQUEST; "" for none */
    long connect_timeout_ms;
    const struct http_transfer *callbacks_for; /* the transfer the callbacks' data points to */
    char errbuf[CURL_ERROR_SIZE];
};
/* Frees what `o` holds and marks it unknown: after curl_easy_reset, or with the handle. */
void http_easy_opts_clear(struct http_easy_opts *o);

void http_transfer_init(struct http_transfer *t);
/* Back to the initial state for another attempt, keeping the buffers' memory. */
void http_transfer_reset(struct http_transfer *t);
void http_transfer_free(struct http_transfer *t);

/* Sets the request on the easy handle (and the transfer as its callbacks' target), `opts` being
 * what the handle already has. The request's URL, headers and body are borrowed until the handle
 * is next bound or reset: libcurl reads them only during a transfer. MANTLE_OK, or
 * MANTLE_E_NOMEM / MANTLE_E_INVALID_ARGUMENT when libcurl refuses an option. */
mantle_code http_transfer_bind(struct http_transfer *t, const struct http_request *rq, CURL *easy,
                               struct http_easy_opts *opts, struct mantle_error *err);

/* Records the end of the transfer and computes t->outcome; `errbuf` is the handle's error buffer
 * (http_easy_opts), copied into the transfer. */
void http_transfer_complete(struct http_transfer *t, CURLcode rc, const char *errbuf);

/* Ends a transfer whose total timeout (req->timeout_ms, counted by the driver from when it added
 * the handle) ran out: outcome HTTP_TIMEOUT. The driver removes the handle from its multi, which
 * closes the connection of an unfinished exchange. */
void http_transfer_expired(struct http_transfer *t);

/* A short description of a failed outcome, for messages: libcurl's error buffer or strerror. */
const char *http_transfer_error_text(const struct http_transfer *t);

#endif
