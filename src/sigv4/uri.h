/* URL parsing and the SigV4 canonical forms of a path and a query string. */
#ifndef MANTLE_SIGV4_URI_H
#define MANTLE_SIGV4_URI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct url_parts {
    bool https;
    const char *host; /* without brackets for IPv6 */
    size_t host_len;
    bool ipv6;
    int port;         /* -1 when absent */
    const char *path; /* may be empty */
    size_t path_len;
    const char *query; /* after '?', before '#'; may be empty */
    size_t query_len;
    bool has_query;
};

/* Parses an absolute http(s) URL. On failure returns false and sets *why to a static reason. */
bool url_parse(const char *url, struct url_parts *out, const char **why);

/* Appends the Host header value derived from the URL: lower-cased host, IPv6 in brackets, the
 * port only when it is not the scheme's default. */
void url_append_host(struct buf *b, const struct url_parts *u);

/* Appends the canonical URI. normalize: remove dot segments and empty segments, then encode every
 * byte but unreserved and '/' (a second encoding of the wire path). Otherwise (S3 rules) the path
 * is kept as given, with only bytes that cannot appear in a URL percent-encoded. */
bool uri_append_canonical_path(struct buf *b, const char *path, size_t len, bool normalize);

/* RFC 3986 encoding of every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~). */
void uri_append_encoded(struct buf *b, const char *s, size_t len);

/* One query parameter in canonical form: offsets into a caller's buffer. */
struct query_param {
    size_t key_off, key_len;
    size_t value_off, value_len;
};

/* Splits a raw query on '&', percent-decodes each key and value and re-encodes it canonically
 * into `store`, appending one entry per parameter to *params (grown with realloc).
 * Returns false on allocation failure. */
bool query_collect(const char *query, size_t len, struct buf *store, struct query_param **params,
                   size_t *count, size_t *cap);

/* Sorts by key, then value (byte order), as the specification requires. */
void query_sort(struct query_param *params, size_t count, const char *store);

#endif
