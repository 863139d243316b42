/* One API call, start to finish:
 *
 *   validate -> URL -> headers (built once) -> body SHA-256 (once)
 *   per attempt: credentials (asked again: the provider caches) or bearer token -> SigV4 over
 *                exactly the headers sent -> transfer (http/engine.c) -> decide:
 *                  2xx        response / end of stream
 *                  skew 403   learn the offset from Date, retry once (not counted as a retry)
 *                  retryable  wait (retry-after or backoff), next attempt
 *                  otherwise  error from the body
 *
 * The header list handed to libcurl is built in our own memory (struct curl_slist nodes over one
 * buffer), so an attempt allocates nothing once warm besides what the signer and jansson do.
 * libcurl adds only unsigned headers itself (Host, which the signer derives from the same URL;
 * User-Agent is ours and never signed); "Expect:" stops it adding Expect: 100-continue, and a
 * Content-Type is always given so it never adds its form default. */
#include "client/client_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mantle/sigv4.h>

#include "client/jsoncheck.h"
#include "client/stream.h"
#include "core/crypto.h"
#include "core/error_internal.h"
#include "core/timeutil.h"
#include "core/secret.h"
#include "http/engine.h"
#include "http/httpdate.h"

/* ---- time ---- */

static int64_t wall_now(const struct mantle_client *c)
{
    return c->hooks.now ? c->hooks.now(c->hooks.ud) : (int64_t)time(NULL);
}

static void sleep_ms(const struct mantle_client *c, long ms)
{
    if (ms <= 0) return;
    if (c->hooks.sleep_ms) {
        c->hooks.sleep_ms(c->hooks.ud, ms);
        return;
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static double jitter(const struct mantle_client *c)
{
    if (c->hooks.random) return c->hooks.random(c->hooks.ud);
    uint32_t r = 0;
    if (!crypto_random(&r, sizeof r)) return 0.5;
    return (double)r / 4294967296.0;
}

/* ---- headers ---- */

struct hdr_list {
    struct mantle_header *v;
    size_t n, cap;
};

static bool hdr_reserve(struct hdr_list *l, size_t extra)
{
    if (l->n + extra <= l->cap) return true;
    size_t cap = l->cap ? l->cap : 16;
    while (cap < l->n + extra) cap *= 2;
    struct mantle_header *v = realloc(l->v, cap * sizeof *v);
    if (!v) return false;
    l->v = v;
    l->cap = cap;
    return true;
}

/* Sets name to value, replacing an earlier header of the same name (later sources win). */
static bool hdr_set(struct hdr_list *l, const char *name, const char *value)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->v[i].name, name) == 0) {
            l->v[i].name = name;
            l->v[i].value = value;
            return true;
        }
    if (!hdr_reserve(l, 1)) return false;
    l->v[l->n].name = name;
    l->v[l->n].value = value;
    l->n++;
    return true;
}

static bool is_token_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Names the client owns: setting them would break the signature or the framing. */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {
        "authorization",        "host",   "content-length",    "x-amz-date",
        "x-amz-security-token", "expect", "transfer-encoding", "x-amz-content-sha256",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0) return true;
    return false;
}

static mantle_code check_header(const struct mantle_header *h, struct mantle_error *err)
{
    if (!h->name || !*h->name || !h->value)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "request header with a NULL or empty name or value");
    for (const char *p = h->name; *p; p++)
        if (!is_token_char((unsigned char)*p))
            return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                    "request header name has an invalid character");
    for (const char *p = h->value; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                    "request header %s: the value has a control character",
                                    h->name);
    if (reserved_header(h->name))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "request header %s is set by the client itself (it would "
                                "break the signature or the framing)",
                                h->name);
    return MANTLE_OK;
}

/* ---- the prepared request ---- */

struct call {
    struct mantle_client *c;
    const struct mantle_request *rq;
    const struct client_call_opts *opts;
    const char *method;
    struct buf url;
    struct hdr_list base; /* every header but the auth ones */
    struct hdr_list sign; /* the signed subset of base: all but Accept and User-Agent */
    struct hdr_list wire; /* base + auth, for this attempt */
    char content_length[24];
    char body_sha256[SHA256_HEX_LEN + 1];
    struct buf lines;         /* "Name: value" lines for libcurl (may hold secrets: wiped) */
    struct curl_slist *nodes; /* over lines */
    size_t *offs;             /* where each line starts (lines may move while growing) */
    size_t node_cap;
    /* base, sign and the first base_lines bytes of lines (base's lines) depend only on these when
     * the request has no headers of its own, so a call like the previous one on this struct (the
     * common case: the same API call again) keeps them instead of building them again. */
    bool prepared;
    bool prep_has_body, prep_stream, prep_anthropic;
    size_t prep_body_len;
    size_t base_lines;
    struct mantle_sigv4_result *sig;
    char *token; /* bearer token scratch (wiped) */
    int64_t started_ms;
    struct http_transfer t;
    struct call *next; /* in the client's cache */
};

static mantle_code build_url(struct call *k, struct mantle_error *err)
{
    const struct client_config *cfg = &k->c->cfg;
    const struct mantle_request *rq = k->rq;
    size_t root = rq->path_from_host_root ? cfg->host_root_len : strlen(cfg->base_url);
    buf_append(&k->url, cfg->base_url, root);
    buf_append_str(&k->url, rq->path);
    const char *q = rq->query;
    if (q && *q == '?') q++;
    if (q && (strpbrk(q, " #") || strchr(q, '\n') || strchr(q, '\r')))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "the query must be already encoded (no spaces or '#')");
    bool has_q = false;
    if (cfg->default_query) {
        buf_append_char(&k->url, '?');
        buf_append_str(&k->url, cfg->default_query);
        has_q = true;
    }
    if (q && *q) {
        buf_append_char(&k->url, has_q ? '&' : '?');
        buf_append_str(&k->url, q);
    }
    if (buf_failed(&k->url)) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    return MANTLE_OK;
}

static mantle_code build_headers(struct call *k, struct mantle_error *err)
{
    const struct client_config *cfg = &k->c->cfg;
    const struct mantle_request *rq = k->rq;
    bool stream = k->opts->kind == CALL_STREAM;
    bool has_body = rq->body != NULL || strcmp(k->method, "POST") == 0 ||
                    strcmp(k->method, "PUT") == 0 || strcmp(k->method, "PATCH") == 0;
    size_t body_len = rq->body ? rq->body_len : 0;
    if (k->prepared && rq->header_count == 0 && k->prep_has_body == has_body &&
        k->prep_stream == stream && k->prep_anthropic == k->opts->anthropic &&
        k->prep_body_len == body_len)
        return MANTLE_OK;
    k->prepared = false;
    k->base.n = k->sign.n = 0;
    k->base_lines = 0;
    struct hdr_list *l = &k->base;
    bool ok = true;
    if (has_body) {
        /* by hand: printf costs as much as the rest of this function */
        size_t v = rq->body ? rq->body_len : 0, i = sizeof k->content_length - 1;
        k->content_length[i] = '\0';
        do k->content_length[--i] = (char)('0' + v % 10);
        while ((v /= 10) && i);
        memmove(k->content_length, k->content_length + i, sizeof k->content_length - i);
        ok &= hdr_set(l, "Content-Type", "application/json");
        ok &= hdr_set(l, "Content-Length", k->content_length);
    }
    ok &= hdr_set(l, "Accept", stream ? "text/event-stream" : "application/json");
    if (k->opts->anthropic) ok &= hdr_set(l, "anthropic-version", CLIENT_ANTHROPIC_VERSION);
    for (size_t i = 0; i < cfg->default_header_count; i++)
        ok &= hdr_set(l, cfg->default_headers[i].name, cfg->default_headers[i].value);
    for (size_t i = 0; i < rq->header_count; i++) {
        mantle_code rc = check_header(&rq->headers[i], err);
        if (rc != MANTLE_OK) return rc;
        ok &= hdr_set(l, rq->headers[i].name, rq->headers[i].value);
    }
    ok &= hdr_set(l, "User-Agent", cfg->user_agent);
    /* Accept is content negotiation, like the transport headers the signer skips: sent but not
     * signed, so a Mantle request signs exactly what the official clients sign (content-length,
     * content-type, host, x-amz-*: the conformance cases), byte for byte. */
    for (size_t i = 0; ok && i < l->n; i++)
        if (strcasecmp(l->v[i].name, "Accept") != 0 && strcasecmp(l->v[i].name, "User-Agent") != 0)
            ok &= hdr_set(&k->sign, l->v[i].name, l->v[i].value);
    if (!ok) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    /* Per-request headers point into the caller's memory: never kept for the next call. */
    k->prepared = rq->header_count == 0;
    k->prep_has_body = has_body;
    k->prep_stream = stream;
    k->prep_anthropic = k->opts->anthropic;
    k->prep_body_len = body_len;
    return MANTLE_OK;
}

static void append_line(struct buf *b, const struct mantle_header *h)
{
    /* "Name;" is libcurl's way to send a header with an empty value. */
    buf_append_str(b, h->name);
    if (*h->value) {
        buf_append(b, ": ", 2);
        buf_append_str(b, h->value);
    } else {
        buf_append_char(b, ';');
    }
    buf_append_char(b, '\0');
}

/* Lays the wire headers out as a curl_slist in our own memory: base's lines once per prepared
 * call, then this attempt's auth lines after them. */
static mantle_code build_lines(struct call *k, struct mantle_error *err)
{
    size_t need = k->wire.n + 1;
    if (need > k->node_cap) {
        struct curl_slist *n = realloc(k->nodes, need * sizeof *n);
        if (n) k->nodes = n;
        size_t *o = n ? realloc(k->offs, need * sizeof *o) : NULL;
        if (!o) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        k->offs = o;
        k->node_cap = need;
    }
    size_t *offs = k->offs;
    size_t i = 0;
    if (k->base_lines && k->lines.len >= k->base_lines) { /* offs[0, base.n) are still right */
        k->lines.len = k->base_lines;
        k->lines.data[k->lines.len] = '\0';
        i = k->base.n;
    } else {
        buf_reset(&k->lines);
    }
    for (; i < k->wire.n; i++) {
        offs[i] = k->lines.len;
        append_line(&k->lines, &k->wire.v[i]);
        if (i + 1 == k->base.n && k->prepared) k->base_lines = k->lines.len;
    }
    offs[k->wire.n] = k->lines.len;
    buf_append_str(&k->lines, "Expect:"); /* no 100-continue round trip */
    buf_append_char(&k->lines, '\0');
    if (buf_failed(&k->lines)) {
        k->prepared = false;
        k->base_lines = 0;
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    for (i = 0; i < need; i++) {
        k->nodes[i].data = k->lines.data + offs[i];
        k->nodes[i].next = i + 1 < need ? &k->nodes[i + 1] : NULL;
    }
    return MANTLE_OK;
}

/* Credentials or token for this attempt, and the signature over exactly the headers sent. */
static mantle_code authorize(struct call *k, struct mantle_error *err)
{
    struct mantle_client *c = k->c;
    k->wire.n = 0;
    if (!hdr_reserve(&k->wire, k->base.n + 4))
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    memcpy(k->wire.v, k->base.v, k->base.n * sizeof *k->base.v);
    k->wire.n = k->base.n;

    if (c->auth.mode == MANTLE_AUTH_BEARER) {
        const char *tok = c->auth.bearer_token;
        if (!tok) {
            if (!k->token && !(k->token = calloc(1, CLIENT_BEARER_TOKEN_MAX + 8)))
                return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
            char *t = k->token + 7; /* room for "Bearer " in front */
            t[0] = '\0';
            struct mantle_error ferr = MANTLE_ERROR_INIT;
            mantle_code rc =
                c->auth.bearer_fn(c->auth.bearer_ud, t, CLIENT_BEARER_TOKEN_MAX, &ferr);
            if (rc != MANTLE_OK) {
                mantle_error_set(err, rc, "Failed to get a Bedrock bearer token: %s",
                                 ferr.message[0] ? ferr.message : mantle_strerror(rc));
                return rc;
            }
            size_t n = strnlen(t, CLIENT_BEARER_TOKEN_MAX);
            bool bad = n == 0 || n == CLIENT_BEARER_TOKEN_MAX;
            for (size_t i = 0; i < n && !bad; i++) bad = (unsigned char)t[i] < 0x20 || t[i] == 0x7f;
            if (bad)
                return mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                        "The bearer token function returned an empty, too long "
                                        "or invalid token");
            memcpy(k->token, "Bearer ", 7);
        } else {
            size_t n = strlen(tok);
            char *p = k->token;
            if (!p && !(p = k->token = malloc(n + 8)))
                return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
            memcpy(p, "Bearer ", 7);
            memcpy(p + 7, tok, n + 1);
        }
        k->wire.v[k->wire.n++] = (struct mantle_header){"Authorization", k->token};
        return MANTLE_OK;
    }

    struct mantle_credentials *creds = NULL;
    mantle_code rc = mantle_credentials_provider_get(c->auth.provider, &creds, err);
    if (rc != MANTLE_OK) return rc;
    if (!k->sig && !(k->sig = mantle_sigv4_result_new())) {
        mantle_credentials_unref(creds);
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    struct mantle_sigv4_request sr = {k->method, k->url.data,           k->sign.v,
                                      k->sign.n, MANTLE_PAYLOAD_SHA256, NULL,
                                      0,         k->body_sha256};
    struct mantle_sigv4_credentials sc = {mantle_credentials_access_key_id(creds),
                                          mantle_credentials_secret_access_key(creds),
                                          mantle_credentials_session_token(creds)};
    struct mantle_sigv4_params sp = MANTLE_SIGV4_PARAMS_INIT;
    sp.region = c->cfg.region;
    sp.service = c->cfg.signing_service;
    sp.signing_time = wall_now(c) + atomic_load_explicit(&c->clock_offset, memory_order_relaxed);
    sp.flags = MANTLE_SIGV4_SIGN_BODY;
    rc = mantle_sigv4_sign(&sr, &sc, &sp, k->sig, err);
    mantle_credentials_unref(creds);
    if (rc != MANTLE_OK) return rc;
    size_t n = mantle_sigv4_result_header_count(k->sig);
    const struct mantle_header *add = mantle_sigv4_result_headers(k->sig);
    if (!hdr_reserve(&k->wire, n)) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) k->wire.v[k->wire.n++] = add[i];
    return MANTLE_OK;
}

/* Calls are cached per client (buffers, header lists, the signer's result, the transfer's
 * buffers keep their capacity), so a warm request allocates little besides its response. */
#define CALL_CACHE_MAX 16

static void call_destroy(struct call *k)
{
    buf_free(&k->url);
    free(k->base.v);
    free(k->sign.v);
    free(k->wire.v);
    buf_wipe(&k->lines);
    free(k->nodes);
    free(k->offs);
    mantle_sigv4_result_free(k->sig);
    http_transfer_free(&k->t);
    free(k);
}

void client_calls_free(struct mantle_client *c)
{
    while (c->calls) {
        struct call *k = c->calls;
        c->calls = k->next;
        call_destroy(k);
    }
    c->call_count = 0;
}

static struct call *call_acquire(struct mantle_client *c)
{
    pthread_mutex_lock(&c->calls_lock);
    struct call *k = c->calls;
    if (k) {
        c->calls = k->next;
        c->call_count--;
    }
    pthread_mutex_unlock(&c->calls_lock);
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return NULL;
        http_transfer_init(&k->t);
    }
    buf_reset(&k->url);
    k->wire.n = 0; /* base and sign stay: build_headers() decides whether they still apply */
    k->token = NULL;
    k->next = NULL;
    return k;
}

static void call_release(struct mantle_client *c, struct call *k)
{
    /* Secrets out: the wire lines held Authorization (and maybe a token); the bearer scratch.
     * base's lines stay for the next call when prepared: the client's configuration, which
     * holds the same values for its whole life, and no per-request header. */
    size_t keep = k->prepared && k->base_lines <= k->lines.len ? k->base_lines : 0;
    if (k->lines.data) secret_wipe(k->lines.data + keep, k->lines.len - keep);
    k->lines.len = keep;
    if (!keep) {
        buf_reset(&k->lines);
        k->base_lines = 0;
    }
    if (k->token) {
        secret_wipe(k->token,
                    c->auth.bearer_token ? strlen(k->token) : CLIENT_BEARER_TOKEN_MAX + 8);
        free(k->token);
        k->token = NULL;
    }
    http_transfer_reset(&k->t);
    pthread_mutex_lock(&c->calls_lock);
    if (c->call_count < CALL_CACHE_MAX) {
        k->next = c->calls;
        c->calls = k;
        c->call_count++;
        k = NULL;
    }
    pthread_mutex_unlock(&c->calls_lock);
    if (k) call_destroy(k);
}

/* ---- logging ---- */

static void log_request(const struct call *k, int attempt)
{
    const struct mantle_client *c = k->c;
    if (!client_log_on(c, MANTLE_LOG_DEBUG)) return;
    struct buf b = BUF_INIT;
    redact_append_url(&b, k->url.data);
    client_log(c, MANTLE_LOG_DEBUG, "> %s %s (attempt %d)", k->method, b.data ? b.data : "",
               attempt);
    for (size_t i = 0; i < k->wire.n; i++)
        client_log(c, MANTLE_LOG_DEBUG, "> %s: %s", k->wire.v[i].name,
                   redact_header_value(k->wire.v[i].name, k->wire.v[i].value));
    buf_free(&b);
}

static void log_response(const struct call *k, const struct http_transfer *t)
{
    const struct mantle_client *c = k->c;
    if (!client_log_on(c, MANTLE_LOG_DEBUG)) return;
    if (t->outcome != HTTP_RESPONSE && !t->status) {
        client_log(c, MANTLE_LOG_DEBUG, "< (no response: %s)", http_transfer_error_text(t));
        return;
    }
    client_log(c, MANTLE_LOG_DEBUG, "< HTTP %d", t->status);
    for (size_t i = 0; i < t->headers.count; i++) {
        const char *n = http_headers_name(&t->headers, i);
        client_log(c, MANTLE_LOG_DEBUG, "< %s: %s", n,
                   redact_header_value(n, http_headers_value(&t->headers, i)));
    }
}

static void log_done(const struct call *k, int status, int attempts, mantle_code rc)
{
    const struct mantle_client *c = k->c;
    if (!client_log_on(c, MANTLE_LOG_INFO)) return;
    struct buf b = BUF_INIT;
    redact_append_url(&b, k->url.data);
    long ms = (long)(time_monotonic_ms() - k->started_ms);
    if (rc == MANTLE_OK)
        client_log(c, MANTLE_LOG_INFO, "%s %s -> %d (%d attempt%s, %ld ms)", k->method,
                   b.data ? b.data : "", status, attempts, attempts == 1 ? "" : "s", ms);
    else
        client_log(c, MANTLE_LOG_INFO, "%s %s -> %s%s%.0d (%d attempt%s, %ld ms)", k->method,
                   b.data ? b.data : "", mantle_code_name(rc), status ? " HTTP " : "", status,
                   attempts, attempts == 1 ? "" : "s", ms);
    buf_free(&b);
}

/* ---- results ---- */

static mantle_code make_response(struct http_transfer *t, int attempts,
                                 struct mantle_response **out, struct mantle_error *err)
{
    /* Copies of exact size (the transfer's buffers stay warm in the call cache), all in one
     * block after the struct: header offsets, header text, body. One malloc and free per
     * response instead of four; mantle_response_free() knows the layout. */
    const struct http_headers *h = &t->headers;
    size_t offs_size = h->count * 2 * sizeof *h->offs;
    size_t store_size = h->count ? h->store.len + 1 : 0;
    size_t body_len = t->body.len;
    if (body_len > SIZE_MAX - sizeof(struct mantle_response) - offs_size - store_size - 1)
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct mantle_response *r =
        malloc(sizeof *r + offs_size + store_size + body_len + 1); /* offs: aligned as r */
    if (!r) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    memset(r, 0, sizeof *r);
    atomic_init(&r->json, NULL);
    r->status = t->status;
    r->attempts = attempts;
    char *p = (char *)(r + 1);
    if (h->count) {
        r->headers.offs = (size_t *)(void *)p;
        memcpy(p, h->offs, offs_size);
        p += offs_size;
        r->headers.store.data = p;
        memcpy(p, h->store.data, store_size);
        p += store_size;
        r->headers.store.len = h->store.len;
        r->headers.store.cap = store_size;
        r->headers.count = r->headers.cap = h->count;
    }
    r->body = p;
    r->body_len = body_len;
    if (body_len) memcpy(r->body, t->body.data, body_len);
    r->body[body_len] = '\0';
    const char *ct = http_headers_get(&r->headers, "content-type");
    bool looks_json = r->body_len && (r->body[0] == '{' || r->body[0] == '[');
    bool says_json = ct && strstr(ct, "json");
    if (r->body_len && (says_json || looks_json)) {
        bool unsure = false;
        if (!client_json_check(r->body, r->body_len, &unsure) || unsure) {
            /* Malformed, or a real at the edge of a double: jansson decides, and names the
             * error (the check stays small and gives no reasons). */
            json_error_t jerr;
            json_t *j = json_loadb(r->body, r->body_len, 0, &jerr);
            if (!j) {
                mantle_error_set(err, MANTLE_E_PROTOCOL,
                                 "the response is not valid JSON: %s at byte %zu of %zu", jerr.text,
                                 (size_t)jerr.position, r->body_len);
                if (err) {
                    const char *id = client_request_id(&r->headers);
                    err->http_status = r->status;
                    err->attempts = attempts;
                    snprintf(err->request_id, sizeof err->request_id, "%s", id ? id : "");
                }
                mantle_response_free(r);
                return MANTLE_E_PROTOCOL;
            }
            atomic_store_explicit(&r->json, j, memory_order_relaxed);
        }
        r->is_json = true;
    }
    if (out)
        *out = r;
    else
        mantle_response_free(r);
    return MANTLE_OK;
}

static mantle_code fail(struct mantle_error *err, const struct http_transfer *t, int attempts,
                        mantle_code code, const char *what)
{
    mantle_error_set(err, code, "%s: %s", what, http_transfer_error_text(t));
    if (err) {
        err->attempts = attempts;
        err->http_status = t->status;
        const char *id = client_request_id(&t->headers);
        snprintf(err->request_id, sizeof err->request_id, "%s", id ? id : "");
    }
    return code;
}

/* ---- the call ---- */

static mantle_code validate(const struct mantle_request *rq, const struct client_call_opts *opts,
                            struct mantle_error *err)
{
    if (!rq || !rq->method || !rq->path)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "the request needs a method and a path");
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    bool known = false;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        known |= strcmp(rq->method, methods[i]) == 0;
    if (!known)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "unsupported method (GET, POST, PUT, PATCH or DELETE)");
    if (rq->path[0] != '/' || strpbrk(rq->path, " ?#\r\n"))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "the path must start with '/' and hold no spaces, '?' or '#'");
    if (rq->body_reader)
        return mantle_error_set(
            err, MANTLE_E_INVALID_ARGUMENT,
            "Bedrock requests need a replayable body: a one-shot body_reader can neither be "
            "hashed for SigV4 nor replayed on retry; pass the bytes in body "
            "(bedrock_non_replayable_body)");
    if (rq->header_count && !rq->headers)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "headers is NULL");
    if (rq->body_len && !rq->body)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "body is NULL");
    if (opts->kind == CALL_STREAM && !opts->on_event)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "on_event is NULL");
    return MANTLE_OK;
}

mantle_code client_execute(struct mantle_client *c, const struct mantle_request *rq,
                           const struct client_call_opts *opts, struct mantle_response **out,
                           struct mantle_error *err)
{
    if (out) *out = NULL;
    if (err) { /* the fields, not the whole 650 bytes: this runs per request */
        err->code = MANTLE_OK;
        err->http_status = err->attempts = 0;
        err->request_id[0] = err->message[0] = '\0';
    }
    if (!c) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "client is NULL");
    mantle_code rc = validate(rq, opts, err);
    if (rc != MANTLE_OK) return rc;

    struct call *k = call_acquire(c);
    if (!k) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    k->c = c;
    k->rq = rq;
    k->opts = opts;
    k->method = rq->method;
    k->started_ms = time_monotonic_ms();
    struct http_transfer *t = &k->t;
    struct stream_state st;
    bool streaming = opts->kind == CALL_STREAM;
    if (streaming && (rc = stream_state_init(&st, opts->on_event, opts->user_data, err))) {
        call_release(c, k);
        return rc;
    }

    int attempt = 0, retries = 0, status = 0;
    bool skew_retried = false;
    int64_t deadline = k->started_ms + c->cfg.timeout_ms;
    if ((rc = build_url(k, err)) || (rc = build_headers(k, err))) goto done;
    if (c->auth.mode == MANTLE_AUTH_SIGV4) { /* hashed once, signed per attempt */
        uint8_t digest[SHA256_LEN];
        if (!crypto_sha256(rq->body, rq->body ? rq->body_len : 0, digest)) {
            rc = mantle_error_set(err, MANTLE_E_SIGNING, "could not hash the body");
            goto done;
        }
        hex_encode(digest, SHA256_LEN, k->body_sha256);
    }

    for (;;) {
        attempt++;
        http_transfer_reset(t);
        if (streaming) stream_state_reset(&st, t);
        if ((rc = authorize(k, err)) || (rc = build_lines(k, err))) {
            if (err) err->attempts = attempt - 1;
            goto done;
        }
        long remaining = (long)(deadline - time_monotonic_ms());
        if (remaining <= 0) {
            rc = mantle_error_set(err, MANTLE_E_TIMEOUT, "the request timed out after %ld ms",
                                  c->cfg.timeout_ms);
            if (err) err->attempts = attempt - 1;
            goto done;
        }
        if (c->hooks.on_attempt &&
            c->hooks.on_attempt(c->hooks.ud, attempt, k->url.data, k->wire.v, k->wire.n) != 0) {
            rc = mantle_error_set(err, MANTLE_E_CANCELLED, "stopped before attempt %d by a hook",
                                  attempt);
            if (err) err->attempts = attempt - 1;
            goto done;
        }
        log_request(k, attempt);
        struct http_request hr = {
            .method = k->method,
            .url = k->url.data,
            .headers = k->nodes,
            .body = rq->body,
            .body_len = rq->body ? rq->body_len : 0,
            .connect_timeout_ms = c->cfg.connect_timeout_ms,
            .timeout_ms = remaining,
            .ca_bundle = c->cfg.ca_bundle,
            .proxy = c->cfg.proxy,
            .no_proxy = c->cfg.no_proxy,
            .on_body = streaming ? stream_on_body : NULL,
            .on_body_ud = streaming ? &st : NULL,
        };
        if ((rc = http_perform(c->pool, &hr, t, err)) != MANTLE_OK) {
            if (err) err->attempts = attempt;
            goto done;
        }
        log_response(k, t);
        status = t->status;

        const struct http_headers *retry_headers = NULL;
        mantle_code failure;
        switch (t->outcome) {
        case HTTP_RESPONSE:
            if (t->status >= 200 && t->status < 300) {
                if (streaming) {
                    rc = stream_finish(&st, err);
                    if (rc != MANTLE_OK && err) {
                        err->attempts = attempt;
                        err->http_status = t->status;
                    }
                } else {
                    rc = make_response(t, attempt, out, err);
                }
                goto done;
            }
            client_error_from_response(err, t->status, &t->headers, t->body.data, t->body.len,
                                       attempt);
            if (err) { /* servers quote what they got back, secrets included */
                const char *sent[] = {
                    k->sig ? mantle_sigv4_result_header(k->sig, "X-Amz-Security-Token") : NULL,
                    k->token ? k->token + 7 : NULL, c->auth.bearer_token};
                redact_message(err->message, sizeof err->message, sent, 3);
            }
            failure = err ? err->code : mantle_code_for_status(t->status);
            if (!skew_retried && c->auth.mode == MANTLE_AUTH_SIGV4 &&
                client_is_clock_skew_error(t->status, &t->headers, t->body.data, t->body.len)) {
                int64_t server;
                const char *date = http_headers_get(&t->headers, "date");
                if (date && http_date_parse(date, &server)) {
                    int64_t offset = server - wall_now(c);
                    atomic_store_explicit(&c->clock_offset, offset, memory_order_relaxed);
                    skew_retried = true;
                    client_log(c, MANTLE_LOG_WARN,
                               "clock skew: the server's clock is %+lld s from ours; signing "
                               "again with the corrected time",
                               (long long)offset);
                    continue; /* once, and not counted against max_retries */
                }
            }
            if (!retry_should_retry_status(t->status,
                                           http_headers_get(&t->headers, "x-should-retry"))) {
                rc = failure;
                goto done;
            }
            retry_headers = &t->headers;
            break;
        case HTTP_CONNECTION:
        case HTTP_TIMEOUT:
            failure = t->outcome == HTTP_TIMEOUT ? MANTLE_E_TIMEOUT : MANTLE_E_CONNECTION;
            if (streaming && t->body_delivered > 0) { /* never retried once the stream started */
                rc = fail(err, t, attempt, failure == MANTLE_E_TIMEOUT ? failure : MANTLE_E_STREAM,
                          "the stream was cut");
                goto done;
            }
            fail(err, t, attempt, failure,
                 failure == MANTLE_E_TIMEOUT ? "the request timed out" : "connection error");
            break;
        case HTTP_ABORTED:
            if (!streaming) {
                rc = fail(err, t, attempt, MANTLE_E_CONNECTION, "the request failed");
                goto done;
            }
            rc = st.code ? st.code : MANTLE_E_CANCELLED;
            if (err) {
                *err = st.detail;
                err->code = rc;
                err->attempts = attempt;
                err->http_status = t->status;
                const char *id = client_request_id(&t->headers);
                snprintf(err->request_id, sizeof err->request_id, "%s", id ? id : "");
            }
            goto done;
        case HTTP_TOO_LARGE:
            rc = fail(err, t, attempt, MANTLE_E_PROTOCOL, "the response was refused");
            goto done;
        case HTTP_FAILED:
        default:
            rc = fail(err, t, attempt, MANTLE_E_CONNECTION, "the request failed");
            goto done;
        }

        /* A retryable failure. */
        if (retries >= c->cfg.max_retries) {
            rc = failure;
            goto done;
        }
        long delay = retry_delay_ms(retry_headers, retries, (int64_t)time(NULL), jitter(c));
        if (time_monotonic_ms() + delay >= deadline) {
            rc = failure;
            goto done;
        }
        retries++;
        if (client_log_on(c, MANTLE_LOG_WARN)) {
            struct buf b = BUF_INIT;
            redact_append_url(&b, k->url.data);
            client_log(c, MANTLE_LOG_WARN, "retrying %s %s in %ld ms after %s (retry %d of %d)",
                       k->method, b.data ? b.data : "", delay,
                       err && err->message[0] ? err->message : mantle_code_name(failure), retries,
                       c->cfg.max_retries);
            buf_free(&b);
        }
        sleep_ms(c, delay);
    }

done:
    if (rc == MANTLE_OK && err) { /* no trace of the failed attempts before the success */
        err->code = MANTLE_OK;
        err->http_status = status;
        err->attempts = attempt;
        err->request_id[0] = err->message[0] = '\0';
    }
    log_done(k, status, attempt, rc);
    if (streaming) stream_state_free(&st);
    call_release(c, k);
    return rc;
}
