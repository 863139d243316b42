#include "http/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/secret.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)

void http_transfer_init(struct http_transfer *t)
{
    memset(t, 0, sizeof *t);
}

void http_transfer_reset(struct http_transfer *t)
{
    t->req = NULL;
    t->easy = NULL;
    t->status = 0;
    http_headers_reset(&t->headers);
    buf_reset(&t->body);
    t->body_delivered = 0;
    t->header_done = t->aborted = t->too_large = false;
    t->result = CURLE_OK;
    t->outcome = HTTP_RESPONSE;
    t->errbuf[0] = '\0';
}

void http_transfer_free(struct http_transfer *t)
{
    http_headers_free(&t->headers);
    buf_free(&t->body);
}

/* "HTTP/1.1 200 OK", "HTTP/2 404" */
static int parse_status_line(const char *p, size_t len)
{
    const char *sp = memchr(p, ' ', len);
    if (!sp) return 0;
    size_t at = (size_t)(sp - p) + 1;
    if (len < at + 3) return 0;
    int v = 0;
    for (int i = 0; i < 3; i++) {
        char c = p[at + (size_t)i];
        if (c < '0' || c > '9') return 0;
        v = v * 10 + (c - '0');
    }
    return v;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after 1xx, or a retry inside libcurl): forget the previous one. */
        http_headers_reset(&t->headers);
        t->status = parse_status_line(p, len);
        t->header_done = false;
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        t->header_done = true;
        return len;
    }
    return http_headers_add_line(&t->headers, p, len) ? len : 0;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    struct http_transfer *t = ud;
    size_t len = size * n;
    const struct http_request *rq = t->req;
    if (rq->on_body && t->status >= 200 && t->status < 300) {
        if (rq->on_body(rq->on_body_ud, p, len) != 0) {
            t->aborted = true;
            return 0;
        }
        t->body_delivered += len;
        return len;
    }
    size_t max = rq->max_body ? rq->max_body : DEFAULT_MAX_BODY;
    if (len > max - t->body.len) {
        t->too_large = true;
        return 0;
    }
    buf_append(&t->body, p, len);
    return buf_failed(&t->body) ? 0 : len;
}

void http_easy_opts_clear(struct http_easy_opts *o)
{
    free(o->url);
    secret_free(o->proxy);
    free(o->no_proxy);
    o->url = o->proxy = o->no_proxy = NULL;
    o->known = false;
}

static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Sets a string option unless the handle has it already; *have keeps a copy. An empty proxy or
 * no-proxy list is set too: NULL would make libcurl read http_proxy, no_proxy and three more
 * variables for every transfer. */
static CURLcode set_text(CURL *e, CURLoption opt, char **have, const char *want, bool known,
                         bool secret)
{
    if (known && same_text(*have, want)) return CURLE_OK;
    char *copy = want ? strdup(want) : NULL;
    if (want && !copy) return CURLE_OUT_OF_MEMORY;
    if (secret)
        secret_free(*have);
    else
        free(*have);
    *have = copy;
    return curl_easy_setopt(e, opt, want ? want : "");
}

mantle_code http_transfer_bind(struct http_transfer *t, const struct http_request *rq, CURL *e,
                               struct http_easy_opts *o, struct mantle_error *err)
{
    t->req = rq;
    t->easy = e;
    CURLcode rc = CURLE_OK;
    bool known = o->known;
    if (!known) {
        /* Once per handle (and after curl_easy_reset): the error buffer; the rest below. */
        o->callbacks_for = NULL;
        o->errbuf[0] = '\0';
        rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, o->errbuf);
    }
    if (o->callbacks_for != t) { /* another transfer (a call of another client) uses the handle */
        rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
        rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
        o->callbacks_for = t;
    }
    rc |= set_text(e, CURLOPT_URL, &o->url, rq->url, known, false);
    rc |= set_text(e, CURLOPT_PROXY, &o->proxy, rq->proxy, known, true);
    rc |= set_text(e, CURLOPT_NOPROXY, &o->no_proxy, rq->no_proxy, known, false);
    if (o->headers != rq->headers || !known) {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)rq->headers);
        o->headers = rq->headers;
    }
    bool has_body = rq->body || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
                    strcmp(rq->method, "PATCH") == 0;
    const char *custom = strcmp(rq->method, has_body ? "POST" : "GET") != 0 ? rq->method : "";
    const void *body = has_body ? (rq->body ? rq->body : "") : NULL;
    size_t body_len = has_body ? rq->body_len : 0;
    if (!known || has_body != o->has_body || body != o->body || body_len != o->body_len ||
        strcmp(custom, o->custom) != 0) {
        if (has_body) {
            /* POSTFIELDS never NULL: libcurl would then read the body from a read callback. */
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        } else {
            rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        }
        rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, *custom ? custom : NULL);
        o->has_body = has_body;
        o->body = body;
        o->body_len = body_len;
        /* A method too long to remember is set every time ("\n" matches no method). */
        snprintf(o->custom, sizeof o->custom, "%s",
                 strlen(custom) < sizeof o->custom ? custom : "\n");
    }
    if (!known || o->connect_timeout_ms != rq->connect_timeout_ms) {
        rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
        o->connect_timeout_ms = rq->connect_timeout_ms;
    }
    /* The attempt's total timeout is kept by the driver (http_transfer_expired), not by libcurl:
     * its timers cost about 1 µs per request, a tenth of the client's overhead over bare libcurl
     * (bench/run_client_bench.sh, with and without). */
    o->known = rc == CURLE_OK;
    if (rc != CURLE_OK)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "libcurl refused an option for this request");
    return MANTLE_OK;
}

void http_transfer_expired(struct http_transfer *t)
{
    snprintf(t->errbuf, sizeof t->errbuf, "no complete response within %ld ms",
             t->req ? t->req->timeout_ms : 0L);
    http_transfer_complete(t, CURLE_OPERATION_TIMEDOUT, NULL);
}

void http_transfer_complete(struct http_transfer *t, CURLcode rc, const char *errbuf)
{
    if (errbuf && errbuf[0]) snprintf(t->errbuf, sizeof t->errbuf, "%s", errbuf);
    t->result = rc;
    switch (rc) {
    case CURLE_OK:
        t->outcome = t->status ? HTTP_RESPONSE : HTTP_CONNECTION;
        break;
    case CURLE_WRITE_ERROR:
        t->outcome = t->aborted ? HTTP_ABORTED : t->too_large ? HTTP_TOO_LARGE : HTTP_FAILED;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        t->outcome = HTTP_TIMEOUT;
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
        t->outcome = HTTP_CONNECTION;
        break;
    default:
        t->outcome = HTTP_FAILED;
        break;
    }
}

const char *http_transfer_error_text(const struct http_transfer *t)
{
    if (t->outcome == HTTP_ABORTED) return "cancelled by the callback";
    if (t->outcome == HTTP_TOO_LARGE) return "response body too large";
    if (t->result == CURLE_OK && !t->status) return "no HTTP response";
    return t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result);
}
