#include "http/headers.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void http_headers_reset(struct http_headers *h)
{
    buf_reset(&h->store);
    h->count = 0;
}

void http_headers_free(struct http_headers *h)
{
    buf_free(&h->store);
    free(h->offs);
    h->offs = NULL;
    h->count = h->cap = 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool http_headers_add(struct http_headers *h, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    while (value_len && is_blank(*value)) value++, value_len--;
    while (value_len && is_blank(value[value_len - 1])) value_len--;
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        size_t *n = realloc(h->offs, cap * 2 * sizeof *n);
        if (!n) return false;
        h->offs = n;
        h->cap = cap;
    }
    /* One reservation and two copies: this runs for every header of every response. */
    if (!buf_reserve(&h->store, name_len + value_len + 2)) return false;
    size_t name_off = h->store.len;
    char *o = h->store.data + name_off;
    memcpy(o, name, name_len);
    o[name_len] = '\0';
    size_t value_off = name_off + name_len + 1;
    o = h->store.data + value_off;
    if (value_len) memcpy(o, value, value_len);
    o[value_len] = '\0';
    h->store.len = value_off + value_len + 1;
    h->store.data[h->store.len] = '\0';
    h->offs[2 * h->count] = name_off;
    h->offs[2 * h->count + 1] = value_off;
    h->count++;
    return true;
}

bool http_headers_add_line(struct http_headers *h, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) return true; /* status line, blank line, junk */
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) return true;
    size_t name_len = (size_t)(colon - line);
    return http_headers_add(h, line, name_len, colon + 1, len - name_len - 1);
}

const char *http_headers_get(const struct http_headers *h, const char *name)
{
    for (size_t i = h->count; i-- > 0;)
        if (strcasecmp(http_headers_name(h, i), name) == 0) return http_headers_value(h, i);
    return NULL;
}

bool http_headers_copy(struct http_headers *dst, const struct http_headers *src)
{
    *dst = (struct http_headers)HTTP_HEADERS_INIT;
    if (!src->count) return true;
    dst->store.data = malloc(src->store.len + 1);
    dst->offs = malloc(src->count * 2 * sizeof *dst->offs);
    if (!dst->store.data || !dst->offs) {
        http_headers_free(dst);
        return false;
    }
    memcpy(dst->store.data, src->store.data, src->store.len + 1);
    dst->store.len = src->store.len;
    dst->store.cap = src->store.len + 1;
    memcpy(dst->offs, src->offs, src->count * 2 * sizeof *dst->offs);
    dst->count = dst->cap = src->count;
    return true;
}
