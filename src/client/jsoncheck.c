#include "client/jsoncheck.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_DEFAULT_MAX_DEPTH */

struct scan {
    const unsigned char *p, *end, *start;
    const char *why;
    bool unsure;
};

static bool fail(struct scan *s, const char *why)
{
    if (!s->why) s->why = why;
    return false;
}

static void skip_blanks(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Compact JSON has no blanks: the inlined first compare settles the common case (it runs
 * between every two tokens) without a call. */
static inline void skip_ws(struct scan *s)
{
    if (s->p < s->end && *s->p <= ' ') skip_blanks(s);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_u4(struct scan *s, unsigned *out)
{
    if (s->end - s->p < 4) return fail(s, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0) return fail(s, "invalid \\u escape");
        v = v * 16 + (unsigned)h;
    }
    s->p += 4;
    *out = v;
    return true;
}

/* One UTF-8 sequence starting at a byte >= 0x80 (no overlongs, no surrogates, <= U+10FFFF). */
static bool utf8_seq(struct scan *s)
{
    unsigned char c = *s->p;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return fail(s, "invalid UTF-8");
    }
    if ((size_t)(s->end - s->p) < n) return fail(s, "truncated UTF-8");
    for (size_t i = 1; i < n; i++) {
        if ((s->p[i] & 0xC0) != 0x80) return fail(s, "invalid UTF-8");
        cp = (cp << 6) | (s->p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return fail(s, "invalid UTF-8");
    s->p += n;
    return true;
}

/* The high bit of each byte of w that is not a plain string byte (printable ASCII but '"' and
 * '\\'), without a branch per byte: most of a response is keys, ids and text. The "has a byte less
 * than n" tricks can flag a plain byte, but only above a real hit (borrows carry upwards), so the
 * lowest flag is exact. */
static uint64_t word_hits(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORD_SCAN 1 /* the lowest flag is then the first byte in memory */
#endif

/* Inlined into its three callers: a response is mostly short strings, and the call was a tenth
 * of the check's time. */
static inline __attribute__((always_inline)) bool string(struct scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        /* The common case, plain ASCII, in tight loops: 8 bytes at a time, the tail byte by byte.
         */
        const unsigned char *p = s->p, *end = s->end;
#ifdef __SSE2__
        /* 16 at a time where x86-64 always has SSE2: most strings of a response (keys, ids)
         * then take one step. A signed compare below 0x20 also flags every byte >= 0x80. */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                       _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            unsigned mask = (unsigned)_mm_movemask_epi8(hit);
            if (mask) {
                p += __builtin_ctz(mask);
                goto found;
            }
            p += 16;
        }
#endif
#ifdef WORD_SCAN
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            uint64_t hits = word_hits(w);
            if (hits) {
                p += __builtin_ctzll(hits) / 8;
                break;
            }
            p += 8;
        }
#endif
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
#ifdef __SSE2__
    found:
#endif
        s->p = p;
        if (s->p >= s->end) break;
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20) return fail(s, "control character in a string");
        if (c >= 0x80) {
            if (!utf8_seq(s)) return false;
            continue;
        }
        s->p++;
        if (c != '\\') continue;
        if (s->p >= s->end) break;
        c = *s->p++;
        if (c == 'u') {
            unsigned u;
            if (!read_u4(s, &u)) return false;
            if (u == 0) return fail(s, "\\u0000 is not allowed");
            if (u >= 0xDC00 && u <= 0xDFFF) return fail(s, "lone low surrogate");
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return fail(s, "lone high surrogate");
                s->p += 2;
                if (!read_u4(s, &lo)) return false;
                if (lo < 0xDC00 || lo > 0xDFFF) return fail(s, "invalid surrogate pair");
            }
        } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                     c == 'r' || c == 't')) {
            return fail(s, "invalid escape");
        }
    }
    return fail(s, "unterminated string");
}

static bool digits(struct scan *s)
{
    const unsigned char *from = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    return s->p > from;
}

/* jansson refuses integers outside json_int_t ("too big integer") and reals that overflow a
 * double; those are rare enough to leave to jansson: flag the text as unsure. */
static bool number(struct scan *s)
{
    if (*s->p == '-') s->p++;
    const unsigned char *int_start = s->p;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!digits(s))
        return fail(s, "invalid number");
    size_t int_digits = (size_t)(s->p - int_start);
    bool real = false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        real = true;
        if (!digits(s)) return fail(s, "invalid number");
    }
    long exp = 0;
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        real = true;
        bool neg = false;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) neg = *s->p++ == '-';
        const unsigned char *e = s->p;
        if (!digits(s)) return fail(s, "invalid number");
        for (; e < s->p; e++) exp = exp < 100000 ? exp * 10 + (*e - '0') : exp;
        if (neg) exp = -exp;
    }
    if (!real ? int_digits >= 19 : (long)int_digits + exp >= 300) s->unsure = true;
    return true;
}

static bool literal(struct scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n) return fail(s, "invalid token");
    for (size_t i = 0; i < n; i++)
        if (s->p[i] != (unsigned char)word[i]) return fail(s, "invalid token");
    s->p += n;
    return true;
}

/* Iterative over containers: a stack of bits (1 = object) instead of recursion. */
static bool value(struct scan *s)
{
    unsigned char stack[MAX_DEPTH / 8];
    int depth = 0;
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end) return fail(s, "unexpected end of input");
        unsigned char c = *s->p;
        if (c == '{' || c == '[') {
            if (depth == MAX_DEPTH) return fail(s, "nesting too deep");
            bool obj = c == '{';
            if (obj)
                stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
            else
                stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            depth++;
            s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
                s->p++;
                depth--; /* an empty container is a whole value */
            } else if (obj) {
                if (s->p >= s->end || *s->p != '"') return fail(s, "expected a key");
                if (!string(s)) return false;
                skip_ws(s);
                if (s->p >= s->end || *s->p++ != ':') return fail(s, "expected ':'");
                continue; /* now the member's value */
            } else {
                continue; /* the first element */
            }
        } else if (c == '"') {
            if (!string(s)) return false;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if (!number(s)) return false;
        } else if (c == 't') {
            if (!literal(s, "true", 4)) return false;
        } else if (c == 'f') {
            if (!literal(s, "false", 5)) return false;
        } else if (c == 'n') {
            if (!literal(s, "null", 4)) return false;
        } else {
            return fail(s, "invalid token");
        }
        /* after a value: close containers or go to the next member/element */
        for (;;) {
            if (depth == 0) return true;
            bool obj = stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
            skip_ws(s);
            if (s->p >= s->end) return fail(s, "unexpected end of input");
            if (*s->p == ',') {
                s->p++;
                if (obj) {
                    skip_ws(s);
                    if (s->p >= s->end || *s->p != '"') return fail(s, "expected a key");
                    if (!string(s)) return false;
                    skip_ws(s);
                    if (s->p >= s->end || *s->p++ != ':') return fail(s, "expected ':'");
                }
                break; /* the next value */
            }
            if (*s->p != (obj ? '}' : ']'))
                return fail(s, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            s->p++;
            depth--;
        }
    }
}

bool json_check(const char *text, size_t len, const char **why, size_t *at, bool *unsure)
{
    struct scan s = {(const unsigned char *)text, (const unsigned char *)text + len,
                     (const unsigned char *)text, NULL, false};
    skip_ws(&s);
    bool ok = s.p < s.end && (*s.p == '{' || *s.p == '[');
    if (!ok) fail(&s, "'[' or '{' expected");
    if (ok) ok = value(&s);
    if (ok) {
        skip_ws(&s);
        if (s.p != s.end) ok = fail(&s, "end of file expected");
    }
    if (!ok) {
        if (why) *why = s.why;
        if (at) *at = (size_t)(s.p - s.start);
    }
    if (unsure) *unsure = ok && s.unsure;
    return ok;
}
