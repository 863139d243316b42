/* The STS response reader: one pass over the document with a stack of element names. See
 * sts_xml.h for what is accepted and why. */
#include "sts_xml.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error_internal.h"
#include "core/secret.h"

struct parser {
    const char *s;
    size_t len, pos;
    struct buf path;                    /* "A/B/C" of the open elements */
    size_t path_len[STS_XML_MAX_DEPTH]; /* path.len before each element was pushed */
    bool has_child[STS_XML_MAX_DEPTH];  /* mixed content: text is then ignored */
    int depth;
    bool seen_root;
    struct buf text; /* text of the innermost element */
    const char *const *paths;
    size_t n;
    char **values;
    struct mantle_error *err;
};

static mantle_code fail(struct parser *p, const char *why)
{
    return mantle_error_set(p->err, MANTLE_E_PROTOCOL,
                            "STS response is not well-formed XML (offset %zu: %s)", p->pos, why);
}

static bool starts(const struct parser *p, const char *lit)
{
    size_t l = strlen(lit);
    return p->len - p->pos >= l && memcmp(p->s + p->pos, lit, l) == 0;
}

static bool skip_past(struct parser *p, const char *lit)
{
    size_t l = strlen(lit);
    for (size_t i = p->pos; i + l <= p->len; i++) {
        if (memcmp(p->s + i, lit, l) == 0) {
            p->pos = i + l;
            return true;
        }
    }
    return false;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool name_start(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
}

static bool name_char(unsigned char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Reads a name at pos; *local points past any "prefix:". */
static mantle_code read_name(struct parser *p, const char **name, size_t *nlen)
{
    size_t start = p->pos;
    if (p->pos >= p->len || !name_start((unsigned char)p->s[p->pos]))
        return fail(p, "expected an element name");
    while (p->pos < p->len && name_char((unsigned char)p->s[p->pos])) p->pos++;
    size_t l = p->pos - start;
    if (l > STS_XML_MAX_NAME) return fail(p, "element name too long");
    const char *n = p->s + start;
    const char *colon = memchr(n, ':', l);
    if (colon) {
        l -= (size_t)(colon + 1 - n);
        n = colon + 1;
        if (l == 0) return fail(p, "empty local name");
    }
    *name = n;
    *nlen = l;
    return MANTLE_OK;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t k;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    buf_append(b, u, k);
}

/* Decodes the entity at pos ('&') into the text buffer. */
static mantle_code entity(struct parser *p)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (starts(p, named[i].name)) {
            buf_append_char(&p->text, named[i].c);
            p->pos += strlen(named[i].name);
            return MANTLE_OK;
        }
    }
    if (!starts(p, "&#")) return fail(p, "unknown entity");
    p->pos += 2;
    bool hex = p->pos < p->len && p->s[p->pos] == 'x';
    if (hex) p->pos++;
    uint32_t cp = 0;
    size_t digits = 0;
    while (p->pos < p->len && p->s[p->pos] != ';') {
        char c = p->s[p->pos];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (hex && c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (hex && c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return fail(p, "bad character reference");
        cp = cp * (hex ? 16u : 10u) + d;
        if (++digits > 8 || cp > 0x10FFFF) return fail(p, "bad character reference");
        p->pos++;
    }
    if (p->pos >= p->len || digits == 0 || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail(p, "bad character reference");
    p->pos++; /* ';' */
    put_utf8(&p->text, cp);
    return MANTLE_OK;
}

static mantle_code open_element(struct parser *p, const char *name, size_t nlen)
{
    if (p->depth == 0 && p->seen_root) return fail(p, "more than one root element");
    if (p->depth >= STS_XML_MAX_DEPTH) return fail(p, "nested too deeply");
    if (p->depth > 0) p->has_child[p->depth - 1] = true;
    p->path_len[p->depth] = p->path.len;
    if (p->depth > 0) buf_append_char(&p->path, '/');
    buf_append(&p->path, name, nlen);
    p->has_child[p->depth] = false;
    p->depth++;
    p->seen_root = true;
    buf_reset(&p->text);
    return buf_failed(&p->path) ? mantle_error_set(p->err, MANTLE_E_NOMEM, "out of memory")
                                : MANTLE_OK;
}

static mantle_code close_element(struct parser *p)
{
    int d = p->depth - 1;
    if (!p->has_child[d]) {
        for (size_t i = 0; i < p->n; i++) {
            if (strcmp(p->paths[i], p->path.data) != 0) continue;
            if (p->values[i]) return fail(p, "an expected element occurs twice");
            buf_append(&p->text, "", 0);
            if (buf_failed(&p->text) || !(p->values[i] = secret_strdup(p->text.data)))
                return mantle_error_set(p->err, MANTLE_E_NOMEM, "out of memory");
        }
    }
    p->path.len = p->path_len[d];
    p->path.data[p->path.len] = '\0';
    p->depth = d;
    buf_reset(&p->text);
    return MANTLE_OK;
}

static mantle_code parse(struct parser *p)
{
    mantle_code rc;
    if (starts(p, "\xEF\xBB\xBF")) p->pos += 3;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != '<') {
            if (c == '&') {
                if (p->depth == 0) return fail(p, "text outside the root element");
                if ((rc = entity(p))) return rc;
                continue;
            }
            if (p->depth == 0 && !is_ws(c)) return fail(p, "text outside the root element");
            if (c == '\0') return fail(p, "NUL byte");
            if (p->depth > 0) buf_append_char(&p->text, c);
            p->pos++;
            continue;
        }
        if (starts(p, "<?")) {
            if (!skip_past(p, "?>")) return fail(p, "unterminated processing instruction");
        } else if (starts(p, "<!--")) {
            p->pos += 4;
            if (!skip_past(p, "-->")) return fail(p, "unterminated comment");
        } else if (starts(p, "<![CDATA[")) {
            if (p->depth == 0) return fail(p, "CDATA outside the root element");
            size_t from = p->pos + 9;
            p->pos = from;
            if (!skip_past(p, "]]>")) return fail(p, "unterminated CDATA section");
            buf_append(&p->text, p->s + from, p->pos - 3 - from);
        } else if (starts(p, "<!")) {
            return fail(p, "DOCTYPE and declarations are not accepted");
        } else if (starts(p, "</")) {
            p->pos += 2;
            const char *name;
            size_t nlen;
            if ((rc = read_name(p, &name, &nlen))) return rc;
            while (p->pos < p->len && is_ws(p->s[p->pos])) p->pos++;
            if (p->pos >= p->len || p->s[p->pos] != '>') return fail(p, "bad end tag");
            if (p->depth == 0) return fail(p, "end tag without a start tag");
            size_t start = p->path_len[p->depth - 1] + (p->depth > 1 ? 1 : 0);
            if (p->path.len - start != nlen || memcmp(p->path.data + start, name, nlen) != 0)
                return fail(p, "mismatched end tag");
            p->pos++;
            if ((rc = close_element(p))) return rc;
        } else {
            p->pos++;
            const char *name;
            size_t nlen;
            if ((rc = read_name(p, &name, &nlen))) return rc;
            if ((rc = open_element(p, name, nlen))) return rc;
            /* Attributes are skipped, quotes respected. */
            char quote = 0;
            bool self_closing = false;
            for (;;) {
                if (p->pos >= p->len) return fail(p, "unterminated start tag");
                char a = p->s[p->pos++];
                if (quote) {
                    if (a == quote)
                        quote = 0;
                    else if (a == '<')
                        return fail(p, "'<' in an attribute value");
                } else if (a == '"' || a == '\'') {
                    quote = a;
                } else if (a == '>') {
                    break;
                } else if (a == '/' && p->pos < p->len && p->s[p->pos] == '>') {
                    p->pos++;
                    self_closing = true;
                    break;
                } else if (a == '<') {
                    return fail(p, "'<' inside a start tag");
                }
            }
            if (self_closing && (rc = close_element(p))) return rc;
        }
        if (buf_failed(&p->text)) return mantle_error_set(p->err, MANTLE_E_NOMEM, "out of memory");
    }
    if (!p->seen_root) return fail(p, "no root element");
    if (p->depth != 0) return fail(p, "the document ends inside an element");
    return MANTLE_OK;
}

mantle_code sts_xml_extract(const char *xml, size_t len, const char *const *paths, size_t n,
                            char **values, struct mantle_error *err)
{
    for (size_t i = 0; i < n; i++) values[i] = NULL;
    if (!xml && len) return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "sts_xml: no input");
    if (len > STS_XML_MAX_BYTES)
        return mantle_error_set(err, MANTLE_E_PROTOCOL, "STS response is too large (%zu bytes)",
                                len);
    struct parser p = {.s = xml, .len = len, .paths = paths, .n = n, .values = values, .err = err};
    p.path = (struct buf)BUF_INIT;
    p.text = (struct buf)BUF_INIT;
    buf_append(&p.path, "", 0);
    mantle_code rc =
        buf_failed(&p.path) ? mantle_error_set(err, MANTLE_E_NOMEM, "out of memory") : parse(&p);
    buf_free(&p.path);
    buf_wipe(&p.text);
    if (rc) sts_xml_values_free(values, n);
    return rc;
}

void sts_xml_values_free(char **values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        secret_free(values[i]);
        values[i] = NULL;
    }
}
