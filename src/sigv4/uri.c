#include "uri.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static inline bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static inline int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool is_host_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Branch-free, so that the compiler vectorizes it: every new URL is scanned whole. */
static bool has_control_char(const char *s, size_t len)
{
    unsigned bad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)s[i];
        bad |= (c < 0x20) | (c == 0x7f);
    }
    return bad;
}

static bool is_ipv6_char(unsigned char c)
{
    return hex_value(c) >= 0 || c == ':' || c == '.';
}

bool url_parse(const char *url, struct url_parts *out, const char **why)
{
    memset(out, 0, sizeof *out);
    out->port = -1;
    if (has_control_char(url, strlen(url))) {
        *why = "the URL contains a control character";
        return false;
    }
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        *why = "the URL must start with http:// or https://";
        return false;
    }
    size_t auth_len = strcspn(p, "/?#");
    if (memchr(p, '@', auth_len)) {
        *why = "the URL must not contain user information (user@host)";
        return false;
    }
    const char *auth_end = p + auth_len;
    const char *port_start = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (!close) {
            *why = "the URL has an unterminated IPv6 address";
            return false;
        }
        out->host = p + 1;
        out->host_len = (size_t)(close - p - 1);
        out->ipv6 = true;
        for (size_t i = 0; i < out->host_len; i++)
            if (!is_ipv6_char((unsigned char)out->host[i])) {
                *why = "the URL has an invalid IPv6 address";
                return false;
            }
        if (close + 1 < auth_end) {
            if (close[1] != ':') {
                *why = "the URL has junk after its IPv6 address";
                return false;
            }
            port_start = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth_len);
        out->host = p;
        out->host_len = (size_t)((colon ? colon : auth_end) - p);
        for (size_t i = 0; i < out->host_len; i++)
            if (!is_host_char((unsigned char)out->host[i])) {
                *why = "the URL's host has an invalid character";
                return false;
            }
        if (colon) port_start = colon + 1;
    }
    if (out->host_len == 0) {
        *why = "the URL has no host";
        return false;
    }
    if (port_start) {
        long port = 0;
        size_t digits = (size_t)(auth_end - port_start);
        if (digits == 0 || digits > 5) {
            *why = "the URL's port is not a number from 1 to 65535";
            return false;
        }
        for (const char *d = port_start; d < auth_end; d++) {
            if (*d < '0' || *d > '9') {
                *why = "the URL's port is not a number from 1 to 65535";
                return false;
            }
            port = port * 10 + (*d - '0');
        }
        if (port < 1 || port > 65535) {
            *why = "the URL's port is not a number from 1 to 65535";
            return false;
        }
        out->port = (int)port;
    }
    const char *rest = auth_end;
    size_t path_len = strcspn(rest, "?#");
    out->path = rest;
    out->path_len = path_len;
    if (rest[path_len] == '?') {
        out->has_query = true;
        out->query = rest + path_len + 1;
        out->query_len = strcspn(out->query, "#");
    } else {
        out->query = rest + path_len;
    }
    return true;
}

void url_append_host(struct buf *b, const struct url_parts *u)
{
    if (!buf_reserve(b, u->host_len + 8)) return;
    /* Locals throughout: a store through a char pointer could change b->len or u->host_len,
     * which would then be read again on every byte, and the loop would not vectorize. */
    const char *host = u->host;
    size_t n = u->host_len;
    char *o = b->data + b->len;
    if (u->ipv6) *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        o[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    o += n;
    if (u->ipv6) *o++ = ']';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    int default_port = u->https ? 443 : 80;
    if (u->port >= 0 && u->port != default_port) buf_printf(b, ":%d", u->port);
}

void uri_append_encoded(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    while (run < len && is_unreserved((unsigned char)s[run])) run++;
    if (run == len) { /* the common case: nothing to encode */
        buf_append(b, s, len);
        return;
    }
    if (!buf_reserve(b, run + (len - run) * 3)) return;
    memcpy(b->data + b->len, s, run);
    char *o = b->data + b->len + run;
    for (size_t i = run; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

/* Percent-decodes in place into `out` (which has room for len bytes); invalid escapes stay. */
static size_t percent_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hex_value((unsigned char)s[i + 1])) >= 0 &&
            (lo = hex_value((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* Encodes after decoding, through a small stack buffer when it fits. */
static bool append_decoded_encoded(struct buf *b, const char *s, size_t len)
{
    if (!memchr(s, '%', len)) {
        uri_append_encoded(b, s, len);
        return !buf_failed(b);
    }
    char small[256];
    small[0] = '\0'; /* GCC 12 -O3 reports a false maybe-uninitialized without it */
    char *tmp = len <= sizeof small ? small : malloc(len);
    if (!tmp) {
        b->failed = true;
        return false;
    }
    size_t n = percent_decode(s, len, tmp);
    uri_append_encoded(b, tmp, n);
    if (tmp != small) free(tmp);
    return !buf_failed(b);
}

/* True when `path` is its own canonical form: every byte unreserved or '/' and, when
 * normalizing, no segment that normalization drops (empty, "." or ".."; to keep this simple, any
 * segment starting with '.'). The usual API path, e.g. /v1/responses, is then copied as is. */
static bool path_is_canonical(const char *path, size_t len, bool normalize)
{
    bool ok = true;
    for (size_t i = 0; i < len && ok; i++) {
        unsigned char c = (unsigned char)path[i];
        bool segment_start = i == 0 || path[i - 1] == '/';
        ok = (c == '/' || is_unreserved(c)) &&
             !(normalize && segment_start && (c == '.' || (c == '/' && i > 0)));
    }
    return ok;
}

bool uri_append_canonical_path(struct buf *b, const char *path, size_t len, bool normalize)
{
    if (len == 0) {
        buf_append_char(b, '/');
        return !buf_failed(b);
    }
    if (path_is_canonical(path, len, normalize)) {
        buf_append(b, path, len);
        return !buf_failed(b);
    }
    if (!normalize) {
        /* S3 rules: the path's bytes, encoded exactly once. */
        size_t start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i == len || path[i] == '/') {
                if (!append_decoded_encoded(b, path + start, i - start)) return false;
                if (i < len) buf_append_char(b, '/');
                start = i + 1;
            }
        }
        return !buf_failed(b);
    }
    /* RFC 3986 remove_dot_segments, also dropping empty segments as AWS services require
     * (botocore's normalize_url_path). Segments are kept as (start, len) on a stack array. */
    size_t small_stack[64][2];
    size_t(*seg)[2] = small_stack;
    size_t max_segs = 1;
    for (size_t i = 0; i < len; i++) max_segs += path[i] == '/';
    if (max_segs > 64) {
        seg = malloc(max_segs * sizeof *seg);
        if (!seg) {
            b->failed = true;
            return false;
        }
    }
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/') continue;
        size_t sl = i - start;
        const char *s = path + start;
        if (sl == 0 || (sl == 1 && s[0] == '.')) {
            /* skip */
        } else if (sl == 2 && s[0] == '.' && s[1] == '.') {
            if (n > 0) n--;
        } else {
            seg[n][0] = start;
            seg[n][1] = sl;
            n++;
        }
        start = i + 1;
    }
    if (path[0] == '/') buf_append_char(b, '/');
    for (size_t i = 0; i < n; i++) {
        if (i) buf_append_char(b, '/');
        uri_append_encoded(b, path + seg[i][0], seg[i][1]);
    }
    if (path[len - 1] == '/' && n > 0) buf_append_char(b, '/');
    if (seg != small_stack) free(seg);
    return !buf_failed(b);
}

bool query_collect(const char *query, size_t len, struct buf *store, struct query_param **params,
                   size_t *count, size_t *cap)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && query[i] != '&') continue;
        const char *piece = query + start;
        size_t plen = i - start;
        start = i + 1;
        if (plen == 0) continue; /* "a&&b": an empty piece is no parameter */
        const char *eq = memchr(piece, '=', plen);
        size_t klen = eq ? (size_t)(eq - piece) : plen;
        if (*count == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            struct query_param *np = realloc(*params, ncap * sizeof *np);
            if (!np) return false;
            *params = np;
            *cap = ncap;
        }
        struct query_param *qp = &(*params)[(*count)++];
        qp->key_off = store->len;
        if (!append_decoded_encoded(store, piece, klen)) return false;
        qp->key_len = store->len - qp->key_off;
        qp->value_off = store->len;
        if (eq && !append_decoded_encoded(store, eq + 1, plen - klen - 1)) return false;
        qp->value_len = store->len - qp->value_off;
    }
    return true;
}

static int compare_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

static int compare_params(const struct query_param *a, const struct query_param *b,
                          const char *store)
{
    int c = compare_bytes(store + a->key_off, a->key_len, store + b->key_off, b->key_len);
    if (c) return c;
    return compare_bytes(store + a->value_off, a->value_len, store + b->value_off, b->value_len);
}

static void insertion_sort(struct query_param *params, size_t count, const char *store)
{
    for (size_t i = 1; i < count; i++) {
        struct query_param x = params[i];
        size_t j = i;
        while (j > 0 && compare_params(&params[j - 1], &x, store) > 0) {
            params[j] = params[j - 1];
            j--;
        }
        params[j] = x;
    }
}

void query_sort(struct query_param *params, size_t count, const char *store)
{
    /* Queries are short: insertion sort needs no context pointer (qsort has none). Long ones
     * get a bottom-up merge sort, O(n log n) whatever the input. */
    struct query_param *tmp = count > 32 ? malloc(count * sizeof *tmp) : NULL;
    if (!tmp) { /* short, or no memory: the quadratic sort rather than a failure */
        insertion_sort(params, count, store);
        return;
    }
    for (size_t width = 1; width < count; width *= 2) {
        for (size_t lo = 0; lo < count; lo += 2 * width) {
            size_t mid = lo + width < count ? lo + width : count;
            size_t hi = lo + 2 * width < count ? lo + 2 * width : count;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] =
                    compare_params(&params[j], &params[i], store) < 0 ? params[j++] : params[i++];
            while (i < mid) tmp[k++] = params[i++];
            while (j < hi) tmp[k++] = params[j++];
        }
        memcpy(params, tmp, count * sizeof *tmp);
    }
    free(tmp);
}
