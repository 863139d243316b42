/* Response headers as received: an ordered list of (name, value) pairs kept in one buffer, so a
 * response costs two growable allocations however many headers it has. Names keep their case;
 * lookups ignore it. Not thread-safe (one list per transfer). */
#ifndef MANTLE_HTTP_HEADERS_H
#define MANTLE_HTTP_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct http_headers {
    struct buf store; /* "name\0value\0" pairs */
    size_t *offs;     /* 2 offsets per header: name, value */
    size_t count;
    size_t cap;
};

#define HTTP_HEADERS_INIT                                                                          \
    {                                                                                              \
        BUF_INIT, NULL, 0, 0                                                                       \
    }

/* Empties the list, keeping its memory. */
void http_headers_reset(struct http_headers *h);
void http_headers_free(struct http_headers *h);

/* Adds one header; the value is trimmed of surrounding blanks. False when out of memory. */
bool http_headers_add(struct http_headers *h, const char *name, size_t name_len, const char *value,
                      size_t value_len);

/* dst = a compact copy of src (exact-size allocations). False when out of memory (dst empty). */
bool http_headers_copy(struct http_headers *dst, const struct http_headers *src);

/* Parses one raw header line as libcurl delivers it ("Name: value\r\n"); status lines and the
 * blank line are ignored. False when out of memory. */
bool http_headers_add_line(struct http_headers *h, const char *line, size_t len);

/* The value of the last header of that name (case-insensitive), or NULL. Valid until the list
 * changes. */
const char *http_headers_get(const struct http_headers *h, const char *name);

static inline const char *http_headers_name(const struct http_headers *h, size_t i)
{
    return h->store.data + h->offs[2 * i];
}
static inline const char *http_headers_value(const struct http_headers *h, size_t i)
{
    return h->store.data + h->offs[2 * i + 1];
}

#endif
