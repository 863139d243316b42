/* The lexical rules of jansson 2.14's json_loadb, shared by the two places that read JSON without
 * jansson's lexer: jsoncheck.c (validates a response, builds nothing) and jsonparse.c (builds the
 * same jansson values json_loadb would). One copy of the rules, so the two cannot drift apart.
 * Everything here is static inline: these run for every string and number of every body. */
#ifndef MANTLE_CLIENT_JSONSCAN_H
#define MANTLE_CLIENT_JSONSCAN_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* jansson counts every value against it, scalars too: 2048 nested arrays are fine, the same
 * around a number are one level too deep. */
#ifdef JSON_PARSER_MAX_DEPTH
#define JSONSCAN_MAX_DEPTH JSON_PARSER_MAX_DEPTH
#else
#define JSONSCAN_MAX_DEPTH 2048
#endif

/* Only these four are whitespace to jansson. */
static inline bool jsonscan_is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Compact JSON has no blanks: the first compare settles the common case without a loop. */
static inline const unsigned char *jsonscan_skip_ws(const unsigned char *p,
                                                    const unsigned char *end)
{
    if (p < end && *p <= ' ')
        while (p < end && jsonscan_is_blank(*p)) p++;
    return p;
}

/* Four hex digits at p (the caller checked that 4 bytes are there), or -1. */
static inline long jsonscan_hex4(const unsigned char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int h = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* The length of the valid UTF-8 sequence at p (a byte >= 0x80), or 0: no overlongs, no
 * surrogates, nothing above U+10FFFF (jansson's utf8_check_first/utf8_check_full). */
static inline size_t jsonscan_utf8(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = *p;
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
        return 0;
    }
    if ((size_t)(end - p) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The first byte in [p, end) that is not a plain string byte (printable ASCII but '"' and '\\'),
 * or end. Most of a body is keys, ids and text: 16 bytes a step with SSE2 (always there on
 * x86-64; a signed compare below 0x20 also flags every byte >= 0x80), else 8 with a word trick,
 * then byte by byte. */
static inline const unsigned char *jsonscan_plain(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                   _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
        unsigned mask = (unsigned)_mm_movemask_epi8(hit);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The high bit of each byte that is not plain, without a branch per byte. The "has a byte
     * less than n" tricks can flag a plain byte, but only above a real hit (borrows carry
     * upwards), so the lowest flag, the first byte in memory on little-endian, is exact. */
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t hits =
            (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
        if (hits) return p + __builtin_ctzll(hits) / 8;
        p += 8;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
    return p;
}

/* Validates a string body as jansson does, from p (just after the opening quote): returns its
 * closing quote, or NULL. *escaped tells whether it holds a backslash (then it needs decoding).
 * Control characters, invalid UTF-8, unknown escapes, \u0000 (jansson without JSON_ALLOW_NUL),
 * lone or reversed surrogates: rejected. */
static inline const unsigned char *jsonscan_string(const unsigned char *p, const unsigned char *end,
                                                   bool *escaped)
{
    *escaped = false;
    for (;;) {
        p = jsonscan_plain(p, end);
        if (p >= end) return NULL; /* unterminated */
        unsigned char c = *p;
        if (c == '"') return p;
        if (c < 0x20) return NULL;
        if (c >= 0x80) {
            size_t n = jsonscan_utf8(p, end);
            if (!n) return NULL;
            p += n;
            continue;
        }
        *escaped = true; /* a backslash */
        if (end - p < 2) return NULL;
        c = p[1];
        p += 2;
        if (c == 'u') {
            if (end - p < 4) return NULL;
            long u = jsonscan_hex4(p);
            p += 4;
            if (u <= 0) return NULL;                     /* bad hex, or \u0000 */
            if (u >= 0xDC00 && u <= 0xDFFF) return NULL; /* a lone low surrogate */
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return NULL;
                long lo = jsonscan_hex4(p + 2);
                if (lo < 0xDC00 || lo > 0xDFFF) return NULL;
                p += 6;
            }
        } else if (!(c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                     c == 'r' || c == 't')) {
            return NULL;
        }
    }
}

/* A number token, read by the JSON grammar as jansson's lex_scan_number reads it. */
struct jsonscan_number {
    const unsigned char *digits; /* the integer part, after any '-' */
    size_t ndigits;
    bool negative, real; /* real: has a fraction or an exponent */
    long exp10;          /* the exponent's value, clamped to +-100000 (0 if none) */
};

/* The token at p (a '-' or a digit): returns its end, or NULL if the grammar rejects it. */
static inline const unsigned char *jsonscan_number(const unsigned char *p, const unsigned char *end,
                                                   struct jsonscan_number *n)
{
    n->negative = p < end && *p == '-';
    if (n->negative) p++;
    n->digits = p;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9') p++;
    else
        return NULL;
    n->ndigits = (size_t)(p - n->digits);
    n->real = false;
    n->exp10 = 0;
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return NULL;
        while (p < end && *p >= '0' && *p <= '9') p++;
        n->real = true;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool neg = false;
        if (p < end && (*p == '+' || *p == '-')) neg = *p++ == '-';
        if (p >= end || *p < '0' || *p > '9') return NULL;
        long e = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) e = e < 100000 ? e * 10 + (*p - '0') : e;
        n->exp10 = neg ? -e : e;
        n->real = true;
    }
    return p;
}

/* An integer token's value; false if it is outside json_int_t (jansson's strtoll then fails:
 * "too big integer"). */
static inline bool jsonscan_integer(const struct jsonscan_number *n, json_int_t *out)
{
    /* Without a leading zero, 20+ digits are >= 10^19: out of range. 19 cannot overflow. */
    if (n->ndigits > 19) return false;
    uint64_t u = 0;
    for (size_t i = 0; i < n->ndigits; i++) u = u * 10 + (uint64_t)(n->digits[i] - '0');
    const uint64_t max = (uint64_t)INT64_MAX;
    if (u > max + (n->negative ? 1 : 0)) return false;
    *out = !n->negative ? (json_int_t)u : u == max + 1 ? (json_int_t)INT64_MIN : -(json_int_t)u;
    return true;
}

/* jansson reads the byte after a number or a literal and puts it back; a NUL put back is lost
 * (its stream takes a NUL in the buffer for "refill"), so to jansson "[1\0]" is [1]. Returns p
 * past such a NUL. */
static inline const unsigned char *jsonscan_after_scalar(const unsigned char *p,
                                                         const unsigned char *end)
{
    return p < end && *p == '\0' ? p + 1 : p;
}

#endif
