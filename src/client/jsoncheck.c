#include "client/jsoncheck.h"

#include "client/jsonscan.h"

/* One value from p: returns where it ends, or NULL. Iterative over containers: a stack of bits
 * (1 = object) instead of recursion; `obj` caches the innermost container's bit. */
static const unsigned char *value(const unsigned char *p, const unsigned char *end, bool *unsure)
{
    unsigned char stack[JSONSCAN_MAX_DEPTH / 8];
    int depth = 0;
    bool escaped, obj = false;
    for (;;) {
        /* a value: jansson counts scalars against its depth limit too */
        p = jsonscan_skip_ws(p, end);
        if (p >= end || depth + 1 > JSONSCAN_MAX_DEPTH) return NULL;
        unsigned char c = *p;
        if (c == '"') { /* first: most values are strings */
            if (!(p = jsonscan_string(p + 1, end, &escaped))) return NULL;
            p++;
        } else if (c == '{' || c == '[') {
            obj = c == '{';
            if (obj)
                stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
            else
                stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            depth++;
            p = jsonscan_skip_ws(p + 1, end);
            if (p < end && *p == (obj ? '}' : ']')) {
                p++;
                depth--; /* an empty container is a whole value */
                obj = depth && (stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8)));
            } else if (obj) {
                if (p >= end || *p != '"' || !(p = jsonscan_string(p + 1, end, &escaped)))
                    return NULL;
                p = jsonscan_skip_ws(p + 1, end);
                if (p >= end || *p++ != ':') return NULL;
                continue; /* now the member's value */
            } else {
                continue; /* the first element */
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            struct jsonscan_number n;
            if (!(p = jsonscan_number(p, end, &n))) return NULL;
            json_int_t v;
            /* Up to 18 digits always fit a json_int_t: only longer ones need converting. */
            if (!n.real && n.ndigits > 18 && !jsonscan_integer(&n, &v)) return NULL;
            /* A real may overflow a double (an error to jansson): near 1e308, let jansson say. */
            if (n.real && (long)n.ndigits + n.exp10 >= 300) *unsure = true;
            p = jsonscan_after_scalar(p, end);
        } else {
            /* true, false, null: compared in place (end - p bytes are there to read) */
            size_t left = (size_t)(end - p), wl = c == 'f' ? 5 : 4;
            bool ok = left >= wl && (c == 't'   ? memcmp(p, "true", 4) == 0
                                     : c == 'f' ? memcmp(p, "false", 5) == 0
                                     : c == 'n' ? memcmp(p, "null", 4) == 0
                                                : false);
            if (!ok) return NULL;
            p = jsonscan_after_scalar(p + wl, end);
        }
        /* after a value: close containers or go to the next member/element */
        for (;;) {
            if (depth == 0) return p;
            p = jsonscan_skip_ws(p, end);
            if (p >= end) return NULL;
            if (*p == ',') {
                p++;
                if (obj) {
                    p = jsonscan_skip_ws(p, end);
                    if (p >= end || *p != '"' || !(p = jsonscan_string(p + 1, end, &escaped)))
                        return NULL;
                    p = jsonscan_skip_ws(p + 1, end);
                    if (p >= end || *p++ != ':') return NULL;
                }
                break; /* the next value */
            }
            if (*p != (obj ? '}' : ']')) return NULL;
            p++;
            depth--;
            obj = depth && (stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8)));
        }
    }
}

bool client_json_check(const char *text, size_t len, bool *unsure)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    bool dummy = false;
    if (!unsure) unsure = &dummy;
    *unsure = false;
    p = jsonscan_skip_ws(p, end);
    if (p >= end || (*p != '{' && *p != '[')) return false; /* flags 0: an object or an array */
    p = value(p, end, unsure);
    return p && jsonscan_skip_ws(p, end) == end; /* only blanks may follow */
}
