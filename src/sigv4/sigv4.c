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
    const char *value;           /* or, when trimming changes nothing, the value as given (not
                                  * copied: a session token is ~1 KB); borrowed for the call */
    size_t order;                /* input position: repeated names keep it when joined */
};

/* What was derived from the last URL signed with a result. Clients sign the same endpoint over
 * and over: reusing the parse and the canonical host and path saves about a tenth of a GET's
 * signing time. Keyed by the URL's bytes (and the normalization flag, for the path). */
struct url_memo {
    struct buf url;         /* the URL as given */
    struct url_parts parts; /* its parse; pointers into `url` */
    struct buf host;        /* the Host value derived from it */
    struct buf path;        /* its canonical path */
    bool path_normalized;   /* the rule `path` was made with */
    bool valid;             /* url, parts and host are; path is if path_valid */
    bool path_valid;
};

/* The canonical header lines of the last signature and what they were made from. Clients sign
 * the same headers request after request; only X-Amz-Date and the payload hash change. When the
 * caller's headers (names and values, byte for byte), the Host value, the session token and the
 * flags are those of last time, the lines are copied and the two values written in, instead of
 * checking, lower-casing, trimming and sorting the headers again. In the client's request loop
 * (callgrind) that is 5,200 -> 3,000 instructions of the signature's own work besides hashing,
 * and 120 fewer instruction cache misses: the code that no longer runs. */
struct header_memo {
    struct buf key;      /* the Host value, then each header's name and value, NUL-separated */
    size_t header_count; /* of the caller's headers */
    unsigned shape;      /* the flags and payload kind the lines depend on (see memo_shape) */
    size_t token_len;    /* the session token signed into the lines: the result's `token` */
    struct buf lines;    /* "name:value\n...name:value", sorted; may hold the token */
    size_t date_at;      /* where X-Amz-Date's value is in `lines` */
    size_t sha_at;       /* where our X-Amz-Content-Sha256 value is; SIZE_MAX: none of ours */
    size_t sha_len;      /* of the payload hash signed */
    char user_sha[SHA256_HEX_LEN + 1]; /* a caller's X-Amz-Content-Sha256, trimmed */
    bool has_user_sha;
    bool add_sha;
    bool valid; /* everything above is; only ever after a successful signature */
};

struct mantle_sigv4_result {
    struct buf creq, sts, auth, url, token, scratch, signed_headers, query_store;
    struct url_memo memo;
    struct header_memo hmemo;
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
    struct mantle_sigv4_result *r = calloc(1, sizeof(struct mantle_sigv4_result));
    if (!r) return NULL;
    /* The buffers that can hold the session token (its header, the canonical request, a presigned
     * URL's query) never leave a copy behind when they grow. */
    r->creq.secure = r->token.secure = r->scratch.secure = true;
    r->url.secure = r->query_store.secure = true;
    r->hmemo.key.secure = r->hmemo.lines.secure = true;
    return r;
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
    buf_wipe(&r->memo.url);
    buf_wipe(&r->memo.host);
    buf_wipe(&r->memo.path);
    buf_wipe(&r->hmemo.key);
    buf_wipe(&r->hmemo.lines);
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
    /* `token` is kept: see set_token(). */
    buf_reset(&r->scratch);
    /* `signed_headers` is kept with the header memo: reset where the headers are collected. */
    buf_reset(&r->query_store);
    r->added_count = 0;
    r->signed_ok = false;
    r->presigned = false;
    r->signature[0] = r->content_sha256[0] = r->amz_date[0] = '\0';
}

/* A failed signature leaves nothing behind that could be mistaken for one. */
__attribute__((format(printf, 4, 5), cold)) static mantle_code fail(struct mantle_sigv4_result *r,
                                                                    struct mantle_error *err,
                                                                    mantle_code code,
                                                                    const char *fmt, ...)
{
    if (r) {
        /* Whatever got as far as a buffer (token, canonical request, URL) goes. */
        struct buf *all[] = {&r->creq,      &r->sts,        &r->auth,           &r->url,
                             &r->token,     &r->scratch,    &r->signed_headers, &r->query_store,
                             &r->hmemo.key, &r->hmemo.lines};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++)
            if (all[i]->data) secret_wipe(all[i]->data, all[i]->cap);
        buf_reset(&r->token);
        buf_reset(&r->signed_headers);
        buf_reset(&r->hmemo.key);
        buf_reset(&r->hmemo.lines);
        r->hmemo.valid = false;
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

/* `token` holds the session token of the last successful signature: the value of its
 * X-Amz-Security-Token header, kept until the next one. A session token is ~1 KB and usually the
 * same from one signature to the next: when it is the one in `token`, it was checked then and is
 * neither checked nor copied again. It is replaced (and the previous one wiped) by set_token(), and
 * wiped by fail(). */
static bool token_is_known(const struct mantle_sigv4_result *r, const char *token, size_t len)
{
    return r->token.len == len && (len == 0 || memcmp(r->token.data, token, len) == 0);
}

static void set_token(struct mantle_sigv4_result *r, const char *token, size_t len, bool known)
{
    if (known) return;
    size_t old = r->token.len;
    /* Growing the buffer may move it: leave no copy of the previous token behind. */
    if (r->token.data && len + 1 > r->token.cap) secret_wipe(r->token.data, r->token.cap);
    buf_reset(&r->token);
    buf_append(&r->token, token, len);
    if (!buf_failed(&r->token) && old > len) secret_wipe(r->token.data + len + 1, old - len);
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

/* The length of s if it is a valid region or service name, else 0. */
static size_t scope_name_len(const char *s)
{
    size_t len = strnlen(s, 64);
    if (len == 0 || len > 63) return 0;
    /* Branch-free, checked on every signature (twice). */
    unsigned ok = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)s[i];
        ok &= (c - 'a' < 26u) | (c - '0' < 10u) | (c == '-');
    }
    return ok ? len : 0;
}

/* Returns NULL if fine, else what is wrong with a header value or token. */
static const char *bad_field_value(const char *v)
{
    /* A session token is about 1 KB and checked on every signature: this branch-free pass is
     * vectorized by the compiler; the reason is worked out only when something is wrong. */
    const unsigned char *u = (const unsigned char *)v;
    size_t len = strlen(v);
    unsigned char bad = 0; /* a byte-wide accumulator: 16 bytes per vector step, not 4 */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = u[i];
        bad |= (unsigned char)(((c < 0x20) & (c != '\t')) | (c == 0x7f));
    }
    if (!bad) return NULL;
    for (const unsigned char *p = u; *p; p++) {
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
/* clang-format off */
#define NAME(s) {s, sizeof s - 1}
/* clang-format on */
static const struct {
    const char *name;
    size_t len; /* compared first: most names are ruled out without a string comparison */
} unsigned_headers[] = {
    NAME("accept-encoding"),
    NAME("authorization"),
    NAME("connection"),
    NAME("expect"),
    NAME("keep-alive"),
    NAME("proxy-authenticate"),
    NAME("proxy-authorization"),
    NAME("te"),
    NAME("trailer"),
    NAME("transfer-encoding"),
    NAME("upgrade"),
    NAME("user-agent"),
    NAME("x-amzn-trace-id"),
};
#undef NAME

static bool name_is_unsigned(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof unsigned_headers / sizeof *unsigned_headers; i++)
        if (unsigned_headers[i].len == len && strncasecmp(unsigned_headers[i].name, name, len) == 0)
            return true;
    return false;
}

int mantle_sigv4_header_is_unsigned(const char *name)
{
    return name && name_is_unsigned(name, strlen(name));
}

/* ---- output ----
 * The canonical request, the string to sign and the Authorization value are each a dozen or more
 * short pieces. Reserving the whole length once and copying through a cursor saves a call, a
 * capacity check and a terminator per piece: that was a fifth of a GET signature. */

/* Reserves `extra` bytes at the end of `b`; returns where to write them, or NULL (b failed). */
static char *buf_open(struct buf *b, size_t extra)
{
    return buf_reserve(b, extra) ? b->data + b->len : NULL;
}

/* Ends a write begun with buf_open: `end` is one past the last byte written. */
static void buf_close(struct buf *b, char *end)
{
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
}

static inline char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
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
static void append_trimmed(struct buf *b, const char *v, size_t len)
{
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
                       const char *value, size_t vlen, bool lower)
{
    struct canon_header *h = push_header(r, count);
    if (!h) return false;
    h->name_off = r->scratch.len;
    if (lower)
        append_lower(&r->scratch, lname, nlen);
    else
        buf_append(&r->scratch, lname, nlen);
    h->name_len = r->scratch.len - h->name_off;
    if (!memchr(value, ' ', vlen) && !memchr(value, '\t', vlen)) {
        /* Most values have no blank at all: nothing to trim, used where they are. */
        h->value = value;
        h->value_off = 0;
        h->value_len = vlen;
    } else {
        h->value = NULL;
        h->value_off = r->scratch.len;
        append_trimmed(&r->scratch, value, vlen);
        h->value_len = r->scratch.len - h->value_off;
    }
    return !buf_failed(&r->scratch);
}

/* A header whose name and value are already canonical (host, x-amz-date). The value is borrowed:
 * it must stay in place until the canonical request is built. */
static bool add_own_header(struct mantle_sigv4_result *r, size_t *count, const char *name,
                           size_t nlen, const char *value, size_t vlen)
{
    struct canon_header *h = push_header(r, count);
    if (!h) return false;
    h->name_off = r->scratch.len;
    h->name_len = nlen;
    h->value = value;
    h->value_off = 0;
    h->value_len = vlen;
    buf_append(&r->scratch, name, nlen);
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

/* ---- the URL ---- */

/* Parses `url` into *out, or takes the memo's parse when it is the same URL. Also makes sure the
 * memo holds its Host value and its canonical path (for `normalize`). Returns MANTLE_OK, or
 * MANTLE_E_SIGNING with *why set, or MANTLE_E_NOMEM. */
static mantle_code url_lookup(struct url_memo *m, const char *url, bool normalize,
                              struct url_parts *out, const char **why)
{
    size_t len = strlen(url);
    if (!(m->valid && m->url.len == len && memcmp(m->url.data, url, len) == 0)) {
        m->valid = m->path_valid = false;
        if (!url_parse(url, out, why)) return MANTLE_E_SIGNING;
        buf_reset(&m->url);
        buf_append(&m->url, url, len);
        buf_reset(&m->host);
        url_append_host(&m->host, out);
        if (buf_failed(&m->url) || buf_failed(&m->host)) return MANTLE_E_NOMEM;
        m->parts = *out;
        const char *base = m->url.data;
        m->parts.host = base + (out->host - url);
        m->parts.path = base + (out->path - url);
        m->parts.query = base + (out->query - url);
        m->valid = true;
    } else {
        /* The memo's parse, pointing into this URL: the presigned URL is built from it. */
        const char *base = m->url.data;
        *out = m->parts;
        out->host = url + (m->parts.host - base);
        out->path = url + (m->parts.path - base);
        out->query = url + (m->parts.query - base);
    }
    if (!m->path_valid || m->path_normalized != normalize) {
        buf_reset(&m->path);
        m->path_valid = false;
        if (!uri_append_canonical_path(&m->path, out->path, out->path_len, normalize))
            return MANTLE_E_NOMEM;
        m->path_normalized = normalize;
        m->path_valid = true;
    }
    return MANTLE_OK;
}

/* ---- the signature ---- */

/* Region and service are at most 63 characters each (validated). */
#define SCOPE_MAX (8 + 1 + 63 + 1 + 63 + sizeof "/aws4_request")

struct sign_input {
    const struct mantle_sigv4_request *rq;
    const struct mantle_sigv4_credentials *cr;
    const struct mantle_sigv4_params *pa;
    const struct url_parts *url; /* not a member: `in`'s initializer would clear it every time */
    char date[9];
    const char *scope; /* date/region/service/aws4_request */
    size_t scope_len;
    size_t region_len, service_len;
    const char *payload_hash;
    size_t content_sha256_len; /* of r->content_sha256 */
    size_t token_len;
    bool has_token, token_signed;
    bool token_known; /* the result's token from last time: see set_token() */
    bool add_sha;     /* we add X-Amz-Content-Sha256 */
    bool user_sha;    /* the caller gave X-Amz-Content-Sha256 */
};

static mantle_code validate(struct sign_input *in, struct mantle_sigv4_result *r,
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
    if (cr->session_token && !in->token_known && bad_field_value(cr->session_token))
        return fail(r, err, MANTLE_E_SIGNING, "the session token %s",
                    bad_field_value(cr->session_token));
    if (!pa->region || !(in->region_len = scope_name_len(pa->region)))
        return fail(r, err, MANTLE_E_SIGNING,
                    "invalid region: expected 1 to 63 characters from [a-z0-9-]");
    if (!pa->service || !(in->service_len = scope_name_len(pa->service)))
        return fail(r, err, MANTLE_E_SIGNING,
                    "invalid service: expected 1 to 63 characters from [a-z0-9-]");
    if (pa->presign_expires > MANTLE_SIGV4_MAX_EXPIRES)
        return fail(r, err, MANTLE_E_SIGNING,
                    "presign expiry (X-Amz-Expires) must be 1 to 604800 seconds");
    return MANTLE_OK;
}

/* The caller's headers: skipped when the header memo holds them (checked then, same bytes). */
static mantle_code validate_headers(const struct mantle_sigv4_request *rq,
                                    struct mantle_sigv4_result *r, struct mantle_error *err)
{
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
/* The length first: most names are ruled out without a string comparison. */
#define NAME_IS(name, nlen, lit) ((nlen) == sizeof lit - 1 && strncasecmp(name, lit, nlen) == 0)
    bool given = in->pa->flags & MANTLE_SIGV4_SIGN_GIVEN_HEADERS;
    for (size_t i = 0; i < rq->header_count; i++) {
        const char *name = rq->headers[i].name, *value = rq->headers[i].value;
        size_t nlen = strlen(name);
        if (given ? NAME_IS(name, nlen, "authorization") : name_is_unsigned(name, nlen)) continue;
        if (NAME_IS(name, nlen, "x-amz-date")) continue;
        if (in->has_token && NAME_IS(name, nlen, "x-amz-security-token")) continue;
        if (NAME_IS(name, nlen, "host")) has_host = true;
        /* A caller-supplied payload hash is the hash that is signed (botocore does the same). */
        if (NAME_IS(name, nlen, "x-amz-content-sha256")) user_sha = value;
        if (!add_header(r, count, name, nlen, value, strlen(value), true)) goto nomem;
    }
#undef NAME_IS
    in->user_sha = user_sha != NULL;
    if (!has_host && !add_own_header(r, count, "host", 4, r->memo.host.data, r->memo.host.len))
        goto nomem;
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
    in->content_sha256_len = hlen;
    if (!presign) {
        /* In sorted order, which saves the sort some moves (the caller's headers never have
         * these names: see above). */
        in->add_sha = !user_sha && ((in->pa->flags & MANTLE_SIGV4_SIGN_BODY) ||
                                    in->rq->payload_kind == MANTLE_PAYLOAD_UNSIGNED);
        if (in->add_sha &&
            !add_header(r, count, "x-amz-content-sha256", 20, r->content_sha256, hlen, false))
            goto nomem;
        if (!add_own_header(r, count, "x-amz-date", 10, r->amz_date, 16)) goto nomem;
        if (in->token_signed && !add_header(r, count, "x-amz-security-token", 20,
                                            in->cr->session_token, in->token_len, false))
            goto nomem;
    }
    return buf_failed(&r->scratch) ? fail(r, err, MANTLE_E_NOMEM, "out of memory") : MANTLE_OK;
nomem:
    return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
}

/* ---- the header memo ---- */

/* What besides the headers, the Host value and the token shapes the lines: which headers are
 * left out, which are added. */
static unsigned memo_shape(const struct sign_input *in)
{
    const unsigned flags =
        MANTLE_SIGV4_SIGN_GIVEN_HEADERS | MANTLE_SIGV4_SIGN_BODY | MANTLE_SIGV4_OMIT_SESSION_TOKEN;
    return (in->pa->flags & flags) | (unsigned)in->rq->payload_kind << 8;
}

/* Whether the caller's headers, token and flags are the memo's (the Host value is compared
 * later, once the URL is parsed). A NULL name or value is never a match: it is then checked. */
static bool memo_headers_match(const struct header_memo *m, const struct sign_input *in)
{
    const struct mantle_sigv4_request *rq = in->rq;
    if (!m->valid || in->pa->presign_expires || m->shape != memo_shape(in) ||
        m->header_count != rq->header_count || !in->token_known || m->token_len != in->token_len ||
        (rq->header_count && !rq->headers))
        return false;
    const char *k = m->key.data + strlen(m->key.data) + 1, *end = m->key.data + m->key.len;
    for (size_t i = 0; i < rq->header_count; i++) {
        const char *f[2] = {rq->headers[i].name, rq->headers[i].value};
        for (int j = 0; j < 2; j++) {
            if (!f[j]) return false;
            size_t n = strlen(f[j]) + 1;
            if ((size_t)(end - k) < n || memcmp(k, f[j], n) != 0) return false;
            k += n;
        }
    }
    return k == end;
}

static bool memo_host_matches(const struct header_memo *m, const struct buf *host)
{
    return strlen(m->key.data) == host->len && memcmp(m->key.data, host->data, host->len) == 0;
}

/* Keys the memo to this signature's inputs; `lines` and the offsets are already written. Valid
 * only once the signature succeeds (sign() sets it). */
static bool memo_store(struct mantle_sigv4_result *r, const struct sign_input *in)
{
    const struct mantle_sigv4_request *rq = in->rq;
    struct header_memo *m = &r->hmemo;
    const struct buf *host = &r->memo.host;
    buf_reset(&m->key);
    buf_append(&m->key, host->data, host->len + 1);
    for (size_t i = 0; i < rq->header_count; i++) {
        buf_append(&m->key, rq->headers[i].name, strlen(rq->headers[i].name) + 1);
        buf_append(&m->key, rq->headers[i].value, strlen(rq->headers[i].value) + 1);
    }
    m->header_count = rq->header_count;
    m->shape = memo_shape(in);
    m->token_len = in->token_len;
    m->add_sha = in->add_sha;
    m->sha_len = in->content_sha256_len;
    m->has_user_sha = in->user_sha;
    memcpy(m->user_sha, r->content_sha256, in->content_sha256_len + 1);
    return !buf_failed(&m->key);
}

/* Takes the memo's decisions for this signature, if its Host value and payload hash length are
 * this one's: the payload hash signed (a caller's header, else ours) and whether we add it. */
static bool memo_apply(struct sign_input *in, struct mantle_sigv4_result *r)
{
    const struct header_memo *m = &r->hmemo;
    if (!memo_host_matches(m, &r->memo.host)) return false;
    const char *hash = m->has_user_sha ? m->user_sha : in->payload_hash;
    size_t hlen = strlen(hash);
    if (hlen != m->sha_len) return false;
    memcpy(r->content_sha256, hash, hlen + 1);
    in->content_sha256_len = hlen;
    in->add_sha = m->add_sha;
    return true;
}

/* Writes access-key-id/scope (the access key id is at most 128 characters, validated). */
#define CREDENTIAL_MAX (128 + 1 + SCOPE_MAX)
static size_t format_credential(char *out, const struct sign_input *in)
{
    size_t klen = strlen(in->cr->access_key_id);
    char *o = put(out, in->cr->access_key_id, klen);
    *o++ = '/';
    o = put(o, in->scope, in->scope_len);
    return (size_t)(o - out);
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
    if (in->url->query_len && !query_collect(in->url->query, in->url->query_len, &r->query_store,
                                             &r->params, count, &r->param_cap))
        return false;
    if (in->pa->presign_expires) {
        char expires[16];
        int n = snprintf(expires, sizeof expires, "%u", in->pa->presign_expires);
        char cred[CREDENTIAL_MAX];
        size_t cred_len = format_credential(cred, in);
        bool ok = add_query_param(r, count, "X-Amz-Algorithm", ALGORITHM, strlen(ALGORITHM)) &&
                  add_query_param(r, count, "X-Amz-Credential", cred, cred_len) &&
                  add_query_param(r, count, "X-Amz-Date", r->amz_date, 16) &&
                  add_query_param(r, count, "X-Amz-Expires", expires, (size_t)n) &&
                  add_query_param(r, count, "X-Amz-SignedHeaders", r->signed_headers.data,
                                  r->signed_headers.len) &&
                  (!in->token_signed ||
                   add_query_param(r, count, "X-Amz-Security-Token", in->cr->session_token,
                                   strlen(in->cr->session_token)));
        if (!ok) return false;
    }
    if (*count > 1) query_sort(r->params, *count, r->query_store.data);
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

/* Signed header names: sorted, lower-case, repeated names once, joined with ';'. */
static bool build_signed_headers(struct mantle_sigv4_result *r, size_t hcount)
{
    const char *s = r->scratch.data;
    size_t need = 0;
    for (size_t i = 0; i < hcount; i++) need += r->hdrs[i].name_len + 1;
    char *start = buf_open(&r->signed_headers, need), *o = start;
    if (!o) return false;
    for (size_t i = 0; i < hcount; i++) {
        if (i && same_name(&r->hdrs[i - 1], &r->hdrs[i], s)) continue;
        if (o != start) *o++ = ';';
        o = put(o, s + r->hdrs[i].name_off, r->hdrs[i].name_len);
    }
    buf_close(&r->signed_headers, o);
    return true;
}

/* The canonical header lines, sorted, into the header memo: "name:value" joined by '\n', a
 * repeated name's values joined by ','. Notes where X-Amz-Date's value and our payload hash are,
 * which change from one signature to the next. */
static bool build_lines(struct mantle_sigv4_result *r, size_t hcount)
{
    struct header_memo *m = &r->hmemo;
    const char *s = r->scratch.data;
    size_t need = 0;
    for (size_t i = 0; i < hcount; i++) need += r->hdrs[i].name_len + r->hdrs[i].value_len + 2;
    buf_reset(&m->lines);
    char *start = buf_open(&m->lines, need), *o = start;
    if (!o) return false;
    m->date_at = m->sha_at = SIZE_MAX;
    for (size_t i = 0; i < hcount; i++) {
        const struct canon_header *h = &r->hdrs[i];
        if (i && same_name(&r->hdrs[i - 1], h, s)) {
            *o++ = ','; /* a repeated name: its values joined in the order given */
        } else {
            if (i) *o++ = '\n';
            o = put(o, s + h->name_off, h->name_len);
            *o++ = ':';
        }
        if (h->value == r->amz_date) m->date_at = (size_t)(o - start);
        if (h->value == r->content_sha256) m->sha_at = (size_t)(o - start);
        o = put(o, h->value ? h->value : s + h->value_off, h->value_len);
    }
    buf_close(&m->lines, o);
    return true;
}

/* Method, path, query, headers, signed header names and payload hash, one per line. */
static bool build_canonical_request(const struct sign_input *in, struct mantle_sigv4_result *r,
                                    size_t qcount)
{
    const char *method = in->rq->method, *store = r->query_store.data;
    const struct buf *path = &r->memo.path, *signed_headers = &r->signed_headers;
    const struct header_memo *m = &r->hmemo;
    size_t mlen = strlen(method), sha_len = in->content_sha256_len;
    size_t need =
        mlen + 1 + path->len + 1 + 1 + m->lines.len + 2 + signed_headers->len + 1 + sha_len;
    for (size_t i = 0; i < qcount; i++) need += r->params[i].key_len + r->params[i].value_len + 2;
    char *o = buf_open(&r->creq, need);
    if (!o) return false;

    for (size_t i = 0; i < mlen; i++) {
        char c = method[i];
        *o++ = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    *o++ = '\n';
    o = put(o, path->data, path->len);
    *o++ = '\n';
    for (size_t i = 0; i < qcount; i++) {
        const struct query_param *q = &r->params[i];
        if (i) *o++ = '&';
        o = put(o, store + q->key_off, q->key_len);
        *o++ = '=';
        o = put(o, store + q->value_off, q->value_len);
    }
    *o++ = '\n';
    char *lines = o;
    o = put(o, m->lines.data, m->lines.len);
    /* This signature's values, where the memo's lines (maybe from an earlier one) have theirs. */
    if (m->date_at != SIZE_MAX) memcpy(lines + m->date_at, r->amz_date, 16);
    if (m->sha_at != SIZE_MAX) memcpy(lines + m->sha_at, r->content_sha256, sha_len);
    o = put(o, "\n\n", 2);
    o = put(o, signed_headers->data, signed_headers->len);
    *o++ = '\n';
    o = put(o, r->content_sha256, sha_len);
    buf_close(&r->creq, o);
    return true;
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
    struct url_parts url;
    struct sign_input in = {.rq = rq, .cr = cr, .pa = pa, .url = &url};
    in.token_len = cr->session_token ? strlen(cr->session_token) : 0;
    in.token_known = token_is_known(r, cr->session_token, in.token_len);
    in.has_token = cr->session_token && cr->session_token[0];
    in.token_signed = in.has_token && !(pa->flags & MANTLE_SIGV4_OMIT_SESSION_TOKEN);
    mantle_code rc = validate(&in, r, err);
    if (rc) return rc;
    /* The same headers as the memo's were checked then. */
    bool memo_match = memo_headers_match(&r->hmemo, &in);
    if (!memo_match && (rc = validate_headers(rq, r, err))) return rc;
    if (!rq->url) return fail(r, err, MANTLE_E_SIGNING, "the URL is %s", "missing");
    const char *why = NULL;
    rc = url_lookup(&r->memo, rq->url, !(pa->flags & MANTLE_SIGV4_NO_NORMALIZE_PATH), &url, &why);
    if (rc == MANTLE_E_SIGNING) return fail(r, err, rc, "invalid URL: %s", why);
    if (rc) return fail(r, err, rc, "out of memory while signing");

    int64_t t = pa->signing_time ? pa->signing_time : (int64_t)time(NULL);
    if (t < 0 || !format_amz_date(t, r->amz_date))
        return fail(r, err, MANTLE_E_SIGNING, "the signing time %s", "is out of range");
    memcpy(in.date, r->amz_date, 8);
    in.date[8] = '\0';
    char scope[SCOPE_MAX]; /* not in `in`, whose initializer would clear it every time */
    {
        char *o = put(scope, in.date, 8);
        *o++ = '/';
        o = put(o, pa->region, in.region_len);
        *o++ = '/';
        o = put(o, pa->service, in.service_len);
        o = put(o, "/aws4_request", 13);
        in.scope = scope;
        in.scope_len = (size_t)(o - scope);
    }

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

    /* The headers: the memo's lines and signed names, else collected, sorted and remembered. */
    bool memo_used = memo_match && memo_apply(&in, r), memo_stored = false;
    if (!memo_used) {
        r->hmemo.valid = false;
        buf_reset(&r->signed_headers);
        size_t hcount = 0;
        rc = collect_headers(&in, r, &hcount, err);
        if (rc) return rc;
        sort_headers(r->hdrs, hcount, r->scratch.data);
        /* Signed header names, needed before the query when presigning. */
        if (!build_signed_headers(r, hcount) || !build_lines(r, hcount))
            return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
        memo_stored = !pa->presign_expires && memo_store(r, &in);
    }
    size_t qcount = 0;
    if (!build_query(&in, r, &qcount) || !build_canonical_request(&in, r, qcount))
        return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
    const struct buf *c = &r->creq;

    uint8_t digest[SHA256_LEN];
    if (!crypto_sha256(c->data, c->len, digest))
        return fail(r, err, MANTLE_E_SIGNING, "SHA-256 %s", "failed");

    /* String to sign. */
    struct buf *s = &r->sts;
    char *o = buf_open(s, sizeof ALGORITHM + 16 + 1 + in.scope_len + 1 + SHA256_HEX_LEN);
    if (!o) return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
    o = put(o, ALGORITHM "\n", sizeof ALGORITHM);
    o = put(o, r->amz_date, 16);
    *o++ = '\n';
    o = put(o, in.scope, in.scope_len);
    *o++ = '\n';
    hex_encode(digest, SHA256_LEN, o); /* the canonical request's hash */
    buf_close(s, o + SHA256_HEX_LEN);

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
        buf_append(u, rq->url, (size_t)(url.path - rq->url)); /* scheme://authority as given */
        if (url.path_len)
            buf_append(u, url.path, url.path_len);
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
        static const char cred[] = ALGORITHM " Credential=", sh[] = ", SignedHeaders=",
                          sig[] = ", Signature=";
        struct buf *a = &r->auth;
        o = buf_open(a, sizeof cred + CREDENTIAL_MAX + sizeof sh + r->signed_headers.len +
                            sizeof sig + SHA256_HEX_LEN);
        if (!o) return fail(r, err, MANTLE_E_NOMEM, "out of memory while signing");
        o = put(o, cred, sizeof cred - 1);
        o += format_credential(o, &in);
        o = put(o, sh, sizeof sh - 1);
        o = put(o, r->signed_headers.data, r->signed_headers.len);
        o = put(o, sig, sizeof sig - 1);
        o = put(o, r->signature, SHA256_HEX_LEN);
        buf_close(a, o);
    }
    set_token(r, in.has_token ? cr->session_token : "", in.token_len, in.token_known);
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
    r->hmemo.valid = memo_used || memo_stored;
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
