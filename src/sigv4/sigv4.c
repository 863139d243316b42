/* AWS Signature Version 4: canonical request, string to sign, signature, headers or URL.
 * The steps follow the specification's order; every buffer lives in the reusable result, so a
 * warm result signs without allocating. */
#include <mantle/sigv4.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error_internal.h"
#include "core/secret.h"
#include "sigv4/signing_key.h"
#include "sigv4/uri.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

struct canon_header {
    size_t name_off, name_len;   /* lower-cased, in result->scratch */
    size_t value_off, value_len; /* trimmed, blanks collapsed, in result->scratch */
    size_t order;                /* input position: repeated names keep it when joined */
};

struct mantle_sigv4_result {
    struct buf creq, sts, auth, url, token, scratch, signed_headers, query_store;
    struct canon_header *hdrs;
    size_t hdr_cap;
    struct query_param *params;
    size_t param_cap;
    char amz_date[17];
    char content_sha256[SHA256_HEX_LEN + 1];
    char signature[SHA256_HEX_LEN + 1];
    struct mantle_header added[4];
    size_t added_count;
    bool signed_ok, presigned;
};

struct mantle_sigv4_result *mantle_sigv4_result_new(void)
{
    return calloc(1, sizeof(struct mantle_sigv4_result));
}

void mantle_sigv4_result_free(struct mantle_sigv4_result *r)
{
    if (!r) return;
    /* Anything may have held the session token or derived material: wipe it all. */
    buf_wipe(&r->creq);
    buf_wipe(&r->sts);
    buf_wipe(&r->auth);
    buf_wipe(&r->url);
    buf_wipe(&r->token);
    buf_wipe(&r->scratch);
    buf_wipe(&r->signed_headers);
    buf_wipe(&r->query_store);
    free(r->hdrs);
    free(r->params);
    secret_wipe(r, sizeof *r);
    free(r);
}

static void result_reset(struct mantle_sigv4_result *r)
{
    buf_reset(&r->creq);
    buf_reset(&r->sts);
    buf_reset(&r->auth);
    buf_reset(&r->url);
    if (r->token.len) secret_wipe(r->token.data, r->token.len);
    buf_reset(&r->token);
    buf_reset(&r->scratch);
    buf_reset(&r->signed_headers);
    buf_reset(&r->query_store);
    r->added_count = 0;
    r->signed_ok = false;
    r->presigned = false;
    r->signature[0] = r->content_sha256[0] = r->amz_date[0] = '\0';
}

/* A failed signature leaves nothing behind that could be mistaken for one. */
__attribute__((format(printf, 4, 5))) static mantle_code fail(struct mantle_sigv4_result *r,
                                                              struct mantle_error *err,
                                                              mantle_code code, const char *fmt,
                                                              ...)
{
    if (r) {
        if (r->creq.data) secret_wipe(r->creq.data, r->creq.cap);
        if (r->token.data) secret_wipe(r->token.data, r->token.cap);
        result_reset(r);
    }
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

/* ---- input validation ---- */

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters. */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *s, size_t max)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= max || !is_tchar((unsigned char)s[i])) return false;
    return i > 0;
}

static bool is_scope_name(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        char c = s[i];
        if (i >= 63 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return i > 0;
}

/* Returns NULL if fine, else what is wrong with a header value or token. */
static const char *bad_field_value(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '\r' || *p == '\n') return "contains CR or LF";
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return "contains a control character";
    }
    return NULL;
}

static bool is_access_key_id(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i >= 128 || c <= 0x20 || c >= 0x7f || c == '/' || c == ',' || c == '=') return false;
    }
    return i > 0;
}

static bool is_lower_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

/* Headers never signed: transports add or rewrite them after signing (botocore's list, the
 * seed's accept-encoding and connection), and Authorization carries the signature itself. */
static const char *const unsigned_headers[] = {
    "accept-encoding",
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static bool name_is_unsigned(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof unsigned_headers / sizeof *unsigned_headers; i++)
        if (strlen(unsigned_headers[i]) == len && strncasecmp(unsigned_headers[i], name, len) == 0)
            return true;
    return false;
}

int mantle_sigv4_header_is_unsigned(const char *name)
{
    return name && name_is_unsigned(name, strlen(name));
}

/* ---- time ---- */

static bool format_amz_date(int64_t t, char out[17])
{
    /* Formatting costs about as much as a small hash: reuse the last second's text. */
    static _Thread_local int64_t last_t = -1;
    static _Thread_local char last[17];
    if (t == last_t) {
        memcpy(out, last, 17);
        return true;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) return false;
    last_t = t;
    memcpy(last, out, 17);
    return true;
}

/* ---- canonical headers ---- */

static void append_lower(struct buf *b, const char *s, size_t len)
{
    if (!buf_reserve(b, len)) return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        o[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    b->len += len;
    b->data[b->len] = '\0';
}

/* Trimall: strip leading/trailing blanks and collapse inner runs to one space. */
static void append_trimmed(struct buf *b, const char *v)
{
    size_t len = strlen(v);
    if (!buf_reserve(b, len)) return;
    char *o = b->data + b->len;
    size_t n = 0;
    bool pending_space = false;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t') {
            pending_space = n > 0;
            continue;
        }
        if (pending_space) o[n++] = ' ';
        pending_space = false;
        o[n++] = c;
    }
    b->len += n;
    b->data[b->len] = '\0';
}

static struct canon_header *push_header(struct mantle_sigv4_result *r, size_t *count)
{
    if (*count == r->hdr_cap) {
        size_t ncap = r->hdr_cap ? r->hdr_cap * 2 : 16;
        struct canon_header *n = realloc(r->hdrs, ncap * sizeof *n);
        if (!n) return NULL;
        r->hdrs = n;
        r->hdr_cap = ncap;
    }
    struct canon_header *h = &r->hdrs[(*count)++];
    h->order = *count;
    return h;
}

static bool add_header(struct mantle_sigv4_result *r, size_t *count, const char *lname, size_t nlen,
                       const char *value, bool lower)
{
    struct canon_header *h = push_header(r, count);
    if (!h) return false;
    h->name_off = r->scratch.len;
    if (lower)
        append_lower(&r->scratch, lname, nlen);
    else
        buf_append(&r->scratch, lname, nlen);
    h->name_len = r->scratch.len - h->name_off;
    h->value_off = r->scratch.len;
    append_trimmed(&r->scratch, value);
    h->value_len = r->scratch.len - h->value_off;
    return !buf_failed(&r->scratch);
}

static int compare_headers(const struct canon_header *a, const struct canon_header *b,
                           const char *s)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(s + a->name_off, s + b->name_off, n);
    if (c) return c;
    if (a->name_len != b->name_len) return a->name_len < b->name_len ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void sort_headers(struct canon_header *h, size_t count, const char *s)
{
    /* Stable insertion sort: a request has a handful of headers. */
    for (size_t i = 1; i < count; i++) {
        struct canon_header x = h[i];
        size_t j = i;
        while (j > 0 && compare_headers(&h[j - 1], &x, s) > 0) {
            h[j] = h[j - 1];
            j--;
        }
        h[j] = x;
    }
}

static bool same_name(const struct canon_header *a, const struct canon_header *b, const char *s)
{
    return a->name_len == b->name_len && memcmp(s + a->name_off, s + b->name_off, a->name_len) == 0;
}

/* ---- the signature ---- */

struct sign_input {
    const struct mantle_sigv4_request *rq;
    const struct mantle_sigv4_credentials *cr;
    const struct mantle_sigv4_params *pa;
    struct url_parts url;
    char date[9];
    const char *payload_hash;
    bool has_token, token_signed;
    bool add_sha; /* we add X-Amz-Content-Sha256 */
};

static mantle_code validate(const struct sign_input *in, struct mantle_sigv4_result *r,
                            struct mantle_error *err)
{
    const struct mantle_sigv4_request *rq = in->rq;
    const struct mantle_sigv4_credentials *cr = in->cr;
    const struct mantle_sigv4_params *pa = in->pa;
    if (!rq->method || !is_token(rq->method, 32))
        return fail(r, err, MANTLE_E_SIGNING, "invalid HTTP method: expected a token like GET");
    if (!cr->access_key_id || !is_access_key_id(cr->access_key_id))
        return fail(r, err, MANTLE_E_SIGNING, "invalid access key id: empty or bad characters");
    if (!cr->secret_access_key || !cr->secret_access_key[0])
        return fail(r, err, MANTLE_E_SIGNING, "the secret access key is empty");
    if (cr->session_token && bad_field_value(cr->session_token))
        return fail(r, err, MANTLE_E_SIGNING, "the session token %s",
                    bad_field_value(cr->session_token));
    if (!pa->region || !is_scope_name(pa->region))
        return fail(r, err, MANTLE_E_SIGNING,
                    "invalid region: expected 1 to 63 characters from [a-z0-9-]");
    if (!pa->service || !is_scope_name(pa->service))
        return fail(r, err, MANTLE_E_SIGNING,
                    "invalid service: expected 1 to 63 characters from [a-z0-9-]");
    if (pa->presign_expires > MANTLE_SIGV4_MAX_EXPIRES)
        return fail(r, err, MANTLE_E_SIGNING,
                    "presign expiry (X-Amz-Expires) must be 1 to 604800 seconds");
    if (rq->header_count && !rq->headers)
        return fail(r, err, MANTLE_E_INVALID_ARGUMENT, "headers is NULL but header_count > 0");
    for (size_t i = 0; i < rq->header_count; i++) {
        const struct mantle_header *h = &rq->headers[i];
        if (!h->name || !h->value)
            return fail(r, err, MANTLE_E_INVALID_ARGUMENT, "a header has a NULL %s",
                        h->name ? "value" : "name");
        if (!is_token(h->name, 256)) {
            /* Only print a name that is itself printable and short. */
            if (bad_field_value(h->name) || strlen(h->name) > 64)
                return fail(r, err, MANTLE_E_SIGNING,
                            "a header name is not a valid token (it contains CR, LF or other "
                            "invalid bytes)");
            return fail(r, err, MANTLE_E_SIGNING, "header name '%s' is not a valid token", h->name);
        }
        const char *why = bad_field_value(h->value);
        if (why) {
            return fail(r, err, MANTLE_E_SIGNING, "the value of header '%.64s' %s", h->name, why);
        }
    }
    return MANTLE_OK;
}

static mantle_code collect_headers(struct sign_input *in, struct mantle_sigv4_result *r,
                                   size_t *count, struct mantle_error *err)
{
    const struct mantle_sigv4_request *rq = in->rq;
    bool has_host = false, presign = in->pa->presign_expires > 0;
    const char *user_sha = NULL;
    *count = 0;
    for (size_t i = 0; i < rq->header_count; i++) {
        const char *name = rq->headers[i].name;
        size_t nlen = strlen(name);
        if (name_is_unsigned(name, nlen) || strcasecmp(name, "x-amz-date") == 0) continue;
        if (in->has_token && strcasecmp(name, "x-amz-security-token") == 0) continue;
        if (strcasecmp(name, "host") == 0) has_host = true;
        /* A caller-supplied payload hash is the hash that is signed (botocore does the same). */
        if (strcasecmp(name, "x-amz-content-sha256") == 0) user_sha = rq->headers[i].value;
        if (!add_header(r, count, name, nlen, rq->headers[i].value, true)) goto nomem;
    }
    if (!has_host) {
        struct canon_header *h = push_header(r, count);
        if (!h) goto nomem;
        h->name_off = r->scratch.len;
        buf_append(&r->scratch, "host", 4);
        h->name_len = 4;
        h->value_off = r->scratch.len;
        url_append_host(&r->scratch, &in->url);
        h->value_len = r->scratch.len - h->value_off;
    }
    /* The hash that is signed: the caller's header if any, else ours. */
    const char *hash = user_sha ? user_sha : in->payload_hash;
    while (*hash == ' ' || *hash == '\t') hash++;
    size_t hlen = strlen(hash);
    while (hlen && (hash[hlen - 1] == ' ' || hash[hlen - 1] == '\t')) hlen--;
    if (hlen > SHA256_HEX_LEN)
        return fail(r, err, MANTLE_E_SIGNING,
                    "header X-Amz-Content-Sha256 is longer than a SHA-256 hash");
    memcpy(r->content_sha256, hash, hlen);
    r->content_sha256[hlen] = '\0';
    if (!presign) {
        if (!add_header(r, count, "x-amz-date", 10, r->amz_date, false)) goto nomem;
        if (in->token_signed &&
            !add_header(r, count, "x-amz-security-token", 20, in->cr->session_token, false))
            goto nomem;
        in->add_sha = !user_sha && ((in->pa->flags & MANTLE_SIGV4_SIGN_BODY) ||
                                    in->rq->payload_kind == MANTLE_PAYLOAD_UNSIGNED);
        if (in->add_sha &&
            !add_header(r, count, "x-amz-content-sha256", 20, r->content_sha256, false))
            goto nomem;
    }
    return buf_failed(&r->scratch) ? fail(r, err, MANTLE_E_NOMEM, "out of memory") : MANTLE_OK;
nomem:
    return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
}

static void append_credential(struct buf *b, const struct sign_input *in)
{
    buf_append_str(b, in->cr->access_key_id);
    buf_append_char(b, '/');
    buf_append(b, in->date, 8);
    buf_append_char(b, '/');
    buf_append_str(b, in->pa->region);
    buf_append_char(b, '/');
    buf_append_str(b, in->pa->service);
    buf_append_str(b, "/aws4_request");
}

static bool add_query_param(struct mantle_sigv4_result *r, size_t *count, const char *key,
                            const char *value, size_t value_len)
{
    if (*count == r->param_cap) {
        size_t ncap = r->param_cap ? r->param_cap * 2 : 16;
        struct query_param *np = realloc(r->params, ncap * sizeof *np);
        if (!np) return false;
        r->params = np;
        r->param_cap = ncap;
    }
    struct query_param *q = &r->params[(*count)++];
    q->key_off = r->query_store.len;
    buf_append_str(&r->query_store, key);
    q->key_len = r->query_store.len - q->key_off;
    q->value_off = r->query_store.len;
    uri_append_encoded(&r->query_store, value, value_len);
    q->value_len = r->query_store.len - q->value_off;
    return !buf_failed(&r->query_store);
}

/* The canonical query; for presigning it includes the X-Amz-* authentication parameters. */
static bool build_query(const struct sign_input *in, struct mantle_sigv4_result *r, size_t *count)
{
    *count = 0;
    if (!query_collect(in->url.query, in->url.query_len, &r->query_store, &r->params, count,
                       &r->param_cap))
        return false;
    if (in->pa->presign_expires) {
        char expires[16];
        int n = snprintf(expires, sizeof expires, "%u", in->pa->presign_expires);
        struct buf cred = BUF_INIT;
        append_credential(&cred, in);
        bool ok = !buf_failed(&cred) &&
                  add_query_param(r, count, "X-Amz-Algorithm", ALGORITHM, strlen(ALGORITHM)) &&
                  add_query_param(r, count, "X-Amz-Credential", cred.data, cred.len) &&
                  add_query_param(r, count, "X-Amz-Date", r->amz_date, 16) &&
                  add_query_param(r, count, "X-Amz-Expires", expires, (size_t)n) &&
                  add_query_param(r, count, "X-Amz-SignedHeaders", r->signed_headers.data,
                                  r->signed_headers.len) &&
                  (!in->token_signed ||
                   add_query_param(r, count, "X-Amz-Security-Token", in->cr->session_token,
                                   strlen(in->cr->session_token)));
        buf_free(&cred);
        if (!ok) return false;
    }
    query_sort(r->params, *count, r->query_store.data);
    return true;
}

static void append_query(struct buf *b, const struct mantle_sigv4_result *r, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct query_param *q = &r->params[i];
        if (i) buf_append_char(b, '&');
        buf_append(b, r->query_store.data + q->key_off, q->key_len);
        buf_append_char(b, '=');
        buf_append(b, r->query_store.data + q->value_off, q->value_len);
    }
}

static void append_upper(struct buf *b, const char *s)
{
    size_t len = strlen(s);
    if (!buf_reserve(b, len)) return;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        b->data[b->len + i] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    b->len += len;
    b->data[b->len] = '\0';
}

mantle_code mantle_sigv4_sign(const struct mantle_sigv4_request *rq,
                              const struct mantle_sigv4_credentials *cr,
                              const struct mantle_sigv4_params *pa, struct mantle_sigv4_result *r,
                              struct mantle_error *err)
{
    if (!rq || !cr || !pa || !r)
        return fail(r, err, MANTLE_E_INVALID_ARGUMENT, "mantle_sigv4_sign: %s is NULL",
                    !rq   ? "request"
                    : !cr ? "credentials"
                    : !pa ? "params"
                          : "result");
    result_reset(r);
    struct sign_input in = {.rq = rq, .cr = cr, .pa = pa};
    mantle_code rc = validate(&in, r, err);
    if (rc) return rc;
    if (!rq->url) return fail(r, err, MANTLE_E_SIGNING, "the URL is %s", "missing");
    const char *why = NULL;
    if (!url_parse(rq->url, &in.url, &why))
        return fail(r, err, MANTLE_E_SIGNING, "invalid URL: %s", why);

    int64_t t = pa->signing_time ? pa->signing_time : (int64_t)time(NULL);
    if (t < 0 || !format_amz_date(t, r->amz_date))
        return fail(r, err, MANTLE_E_SIGNING, "the signing time %s", "is out of range");
    memcpy(in.date, r->amz_date, 8);
    in.date[8] = '\0';
    in.has_token = cr->session_token && cr->session_token[0];
    in.token_signed = in.has_token && !(pa->flags & MANTLE_SIGV4_OMIT_SESSION_TOKEN);

    /* Payload hash. */
    char body_hash[SHA256_HEX_LEN + 1];
    switch (rq->payload_kind) {
    case MANTLE_PAYLOAD_BYTES:
        if (rq->payload_len == 0) {
            in.payload_hash = EMPTY_SHA256;
        } else {
            uint8_t digest[SHA256_LEN];
            if (!rq->payload)
                return fail(r, err, MANTLE_E_INVALID_ARGUMENT, "payload is NULL%s",
                            " but payload_len > 0");
            if (!crypto_sha256(rq->payload, rq->payload_len, digest))
                return fail(r, err, MANTLE_E_SIGNING, "SHA-256 %s", "failed");
            hex_encode(digest, SHA256_LEN, body_hash);
            in.payload_hash = body_hash;
        }
        break;
    case MANTLE_PAYLOAD_SHA256:
        if (!rq->payload_sha256 || !is_lower_hex64(rq->payload_sha256))
            return fail(r, err, MANTLE_E_SIGNING, "payload_sha256 %s",
                        "must be 64 lower-case hex digits");
        in.payload_hash = rq->payload_sha256;
        break;
    case MANTLE_PAYLOAD_UNSIGNED:
        in.payload_hash = UNSIGNED_PAYLOAD;
        break;
    default:
        return fail(r, err, MANTLE_E_INVALID_ARGUMENT, "unknown payload_kind");
    }

    size_t hcount = 0;
    rc = collect_headers(&in, r, &hcount, err);
    if (rc) return rc;
    sort_headers(r->hdrs, hcount, r->scratch.data);

    /* Signed header names, needed before the query when presigning. */
    for (size_t i = 0; i < hcount; i++) {
        if (i && same_name(&r->hdrs[i - 1], &r->hdrs[i], r->scratch.data)) continue;
        if (r->signed_headers.len) buf_append_char(&r->signed_headers, ';');
        buf_append(&r->signed_headers, r->scratch.data + r->hdrs[i].name_off, r->hdrs[i].name_len);
    }

    size_t qcount = 0;
    if (!build_query(&in, r, &qcount))
        return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");

    /* Canonical request. */
    struct buf *c = &r->creq;
    append_upper(c, rq->method);
    buf_append_char(c, '\n');
    if (!uri_append_canonical_path(c, in.url.path, in.url.path_len,
                                   !(pa->flags & MANTLE_SIGV4_NO_NORMALIZE_PATH)))
        return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
    buf_append_char(c, '\n');
    append_query(c, r, qcount);
    buf_append_char(c, '\n');
    for (size_t i = 0; i < hcount; i++) {
        const struct canon_header *h = &r->hdrs[i];
        bool continues = i && same_name(&r->hdrs[i - 1], h, r->scratch.data);
        if (continues) {
            buf_append_char(c, ',');
        } else {
            if (i) buf_append_char(c, '\n');
            buf_append(c, r->scratch.data + h->name_off, h->name_len);
            buf_append_char(c, ':');
        }
        buf_append(c, r->scratch.data + h->value_off, h->value_len);
    }
    buf_append_str(c, "\n\n");
    buf_append(c, r->signed_headers.data, r->signed_headers.len);
    buf_append_char(c, '\n');
    buf_append_str(c, r->content_sha256);

    /* String to sign. */
    struct buf *s = &r->sts;
    buf_append_str(s, ALGORITHM "\n");
    buf_append(s, r->amz_date, 16);
    buf_append_char(s, '\n');
    buf_append(s, in.date, 8);
    buf_append_char(s, '/');
    buf_append_str(s, pa->region);
    buf_append_char(s, '/');
    buf_append_str(s, pa->service);
    buf_append_str(s, "/aws4_request\n");
    if (buf_failed(c) || buf_failed(s) || buf_failed(&r->signed_headers))
        return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
    uint8_t digest[SHA256_LEN];
    char creq_hash[SHA256_HEX_LEN + 1];
    if (!crypto_sha256(c->data, c->len, digest))
        return fail(r, err, MANTLE_E_SIGNING, "SHA-256 %s", "failed");
    hex_encode(digest, SHA256_LEN, creq_hash);
    buf_append(s, creq_hash, SHA256_HEX_LEN);

    /* Signature. */
    uint8_t key[SHA256_LEN];
    bool ok = signing_key_get(cr->secret_access_key, in.date, pa->region, pa->service,
                              !(pa->flags & MANTLE_SIGV4_NO_KEY_CACHE), key) &&
              crypto_hmac_sha256(key, SHA256_LEN, s->data, s->len, digest);
    secret_wipe(key, sizeof key);
    if (!ok || buf_failed(s)) return fail(r, err, MANTLE_E_SIGNING, "HMAC-SHA-256 %s", "failed");
    hex_encode(digest, SHA256_LEN, r->signature);

    if (pa->presign_expires) {
        struct buf *u = &r->url;
        buf_append(u, rq->url, (size_t)(in.url.path - rq->url)); /* scheme://authority as given */
        if (in.url.path_len)
            buf_append(u, in.url.path, in.url.path_len);
        else
            buf_append_char(u, '/');
        buf_append_char(u, '?');
        append_query(u, r, qcount);
        buf_append_str(u, "&X-Amz-Signature=");
        buf_append(u, r->signature, SHA256_HEX_LEN);
        if (in.has_token && !in.token_signed) {
            buf_append_str(u, "&X-Amz-Security-Token=");
            uri_append_encoded(u, cr->session_token, strlen(cr->session_token));
        }
        r->presigned = true;
    } else {
        struct buf *a = &r->auth;
        buf_append_str(a, ALGORITHM " Credential=");
        append_credential(a, &in);
        buf_append_str(a, ", SignedHeaders=");
        buf_append(a, r->signed_headers.data, r->signed_headers.len);
        buf_append_str(a, ", Signature=");
        buf_append(a, r->signature, SHA256_HEX_LEN);
    }
    if (in.has_token) buf_append_str(&r->token, cr->session_token);
    if (buf_failed(&r->url) || buf_failed(&r->auth) || buf_failed(&r->token))
        return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");

    /* The headers to add; pointers are taken now that no buffer will move. */
    if (!pa->presign_expires) {
        r->added[r->added_count++] = (struct mantle_header){"X-Amz-Date", r->amz_date};
        if (in.has_token)
            r->added[r->added_count++] =
                (struct mantle_header){"X-Amz-Security-Token", r->token.data};
        if (in.add_sha)
            r->added[r->added_count++] =
                (struct mantle_header){"X-Amz-Content-Sha256", r->content_sha256};
        r->added[r->added_count++] = (struct mantle_header){"Authorization", r->auth.data};
    }
    r->signed_ok = true;
    return MANTLE_OK;
}

size_t mantle_sigv4_result_header_count(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok ? r->added_count : 0;
}

const struct mantle_header *mantle_sigv4_result_headers(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok ? r->added : NULL;
}

const char *mantle_sigv4_result_header(const struct mantle_sigv4_result *r, const char *name)
{
    if (!r || !r->signed_ok || !name) return NULL;
    for (size_t i = 0; i < r->added_count; i++)
        if (strcasecmp(r->added[i].name, name) == 0) return r->added[i].value;
    return NULL;
}

const char *mantle_sigv4_result_canonical_request(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok ? r->creq.data : NULL;
}

const char *mantle_sigv4_result_string_to_sign(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok ? r->sts.data : NULL;
}

const char *mantle_sigv4_result_signature(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok ? r->signature : NULL;
}

const char *mantle_sigv4_result_url(const struct mantle_sigv4_result *r)
{
    return r && r->signed_ok && r->presigned ? r->url.data : NULL;
}
