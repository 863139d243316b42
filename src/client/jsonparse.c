/* client_json_parse: jansson's json_loadb without its byte-at-a-time lexer (a function-pointer
 * call per byte, ~90% of its time on a streamed chunk). The lexical rules are jsonscan.h's
 * (jansson 2.14's, shared with jsoncheck.c); the values are built with
 * the calls jansson's parser makes (json_object_setn_new_nocheck, json_array_append_new, ...), so
 * key order and duplicate keys behave the same. Whatever this parser rejects goes to json_loadb,
 * which then produces the error (or, if we were wrongly strict, the value). */
#include "client/jsonparse.h"

#include "client/jsonscan.h"

#include <errno.h>
#include <langinfo.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INLINE_FRAMES 32 /* open containers before the stack moves to the heap */
#define KEY_SCRATCH 256  /* decoded keys with escapes, before the heap */
#define STR_SCRATCH 1024 /* decoded string values with escapes, before the heap */
#define REAL_TOKEN 64    /* reals longer than this are left to jansson */

/* A buffer for strings with escapes: the stack array first, the heap if a string is larger. */
struct scratch {
    char *p;
    size_t cap;
    char *heap;
};

static bool scratch_reserve(struct scratch *s, size_t n)
{
    if (n <= s->cap) return true;
    size_t cap = s->cap * 2 > n ? s->cap * 2 : n;
    char *h = realloc(s->heap, cap);
    if (!h) return false;
    s->heap = s->p = h;
    s->cap = cap;
    return true;
}

struct parser {
    const unsigned char *p, *end;
    struct scratch key, str;
};

/* Compact JSON has no blanks: the first compare settles the common case without a loop. */
static inline void skip_ws(struct parser *ps)
{
    ps->p = jsonscan_skip_ws(ps->p, ps->end);
}

/* Decodes the validated string body [p, q) into out (at least q - p bytes: decoding never
 * grows); returns the decoded length. */
static size_t decode_string(const unsigned char *p, const unsigned char *q, char *out)
{
    char *o = out;
    while (p < q) {
        const unsigned char *bs = memchr(p, '\\', (size_t)(q - p));
        size_t run = (size_t)((bs ? bs : q) - p);
        memcpy(o, p, run);
        o += run;
        p += run;
        if (!bs) break;
        unsigned char c = p[1];
        p += 2;
        switch (c) {
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            uint32_t cp = (uint32_t)jsonscan_hex4(p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* jsonscan_string checked the low half */
                cp = ((cp - 0xD800) << 10) + ((uint32_t)jsonscan_hex4(p + 2) - 0xDC00) + 0x10000;
                p += 6;
            }
            if (cp < 0x80) {
                *o++ = (char)cp;
            } else if (cp < 0x800) {
                *o++ = (char)(0xC0 | (cp >> 6));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *o++ = (char)(0xE0 | (cp >> 12));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *o++ = (char)(0xF0 | (cp >> 18));
                *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *o++ = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            *o++ = (char)c;
            break; /* '"', '\\', '/' */
        }
    }
    return (size_t)(o - out);
}

/* The string at ps->p (its opening quote): *s and *n get its bytes, pointing into the input when
 * it has no escapes, else into buf. False if jansson would reject it. */
static bool string(struct parser *ps, struct scratch *buf, const char **s, size_t *n)
{
    const unsigned char *from = ps->p + 1;
    bool esc;
    const unsigned char *q = jsonscan_string(from, ps->end, &esc);
    if (!q) return false;
    ps->p = q + 1;
    if (!esc) {
        *s = (const char *)from;
        *n = (size_t)(q - from);
        return true;
    }
    if (!scratch_reserve(buf, (size_t)(q - from))) return false;
    *s = buf->p;
    *n = decode_string(from, q, buf->p);
    return true;
}

/* A real: the same strtod call jansson makes (jsonp_strtod), when that is provably the same. */
static json_t *real(const unsigned char *tok, size_t len)
{
    /* jansson swaps '.' for the locale's decimal point before strtod; with a "." locale both
     * run strtod on the very same text. Other locales and long tokens: let jansson do it. */
    /* nl_langinfo, not localeconv (what jansson asks): the same LC_NUMERIC answer, but
     * localeconv fills one static struct and is not thread-safe; streams run on many threads. */
    const char *point = nl_langinfo(RADIXCHAR);
    if (len >= REAL_TOKEN || !point || strcmp(point, ".") != 0)
        return json_loadb((const char *)tok, len, JSON_DECODE_ANY, NULL);
    char buf[REAL_TOKEN];
    memcpy(buf, tok, len);
    buf[len] = '\0';
    char *endp;
    int saved = errno;
    errno = 0;
    double v = strtod(buf, &endp);
    bool overflow = (v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE;
    errno = saved;
    if (overflow || endp != buf + len) return NULL; /* jansson: "real number overflow" */
    return json_real(v);
}

/* A number token (jsonscan_number); integers are built here, reals by real(). NULL if jansson
 * would reject it. */
static json_t *number(struct parser *ps)
{
    struct jsonscan_number n;
    const unsigned char *tok = ps->p, *p = jsonscan_number(tok, ps->end, &n);
    if (!p) return NULL;
    ps->p = p;
    if (n.real) return real(tok, (size_t)(p - tok));
    json_int_t v;
    return jsonscan_integer(&n, &v) ? json_integer(v) : NULL;
}

static bool literal(struct parser *ps, const char *word, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return false;
    ps->p += n;
    return true;
}

/* ':' after a key, then blanks. */
static bool colon(struct parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') return false;
    ps->p++;
    return true;
}

/* An object member's key (at ps->p after blanks) and its ':'. */
static bool member_key(struct parser *ps, const char **key, size_t *key_len)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return false;
    return string(ps, &ps->key, key, key_len) && colon(ps);
}

/* The whole text; NULL if jansson would reject it (or on allocation failure). Iterative: open
 * containers live on an explicit stack, each already attached to its parent (attaching it when it
 * opens or when it closes gives the same key order: nothing else touches the parent meanwhile). */
static json_t *parse(struct parser *ps, size_t flags)
{
    json_t *frames_inline[INLINE_FRAMES];
    json_t **stack = frames_inline;
    size_t depth = 0, cap = INLINE_FRAMES;
    json_t *root = NULL;
    const char *key = NULL;
    size_t key_len = 0;

    skip_ws(ps);
    if (ps->p >= ps->end) goto fail;
    if (!(flags & JSON_DECODE_ANY) && *ps->p != '{' && *ps->p != '[') goto fail;
    for (;;) {
        /* a value: jansson counts every value, scalars too, against its depth limit */
        skip_ws(ps);
        if (ps->p >= ps->end || depth + 1 > JSONSCAN_MAX_DEPTH) goto fail;
        json_t *v;
        bool open = false;
        const unsigned char *tok = ps->p;
        switch (*ps->p) {
        case '{':
            v = json_object();
            open = true;
            ps->p++;
            break;
        case '[':
            v = json_array();
            open = true;
            ps->p++;
            break;
        case '"': {
            const char *s;
            size_t n;
            if (!string(ps, &ps->str, &s, &n)) goto fail;
            v = json_stringn_nocheck(s, n);
            break;
        }
        case 't':
            v = literal(ps, "true", 4) ? json_true() : NULL;
            break;
        case 'f':
            v = literal(ps, "false", 5) ? json_false() : NULL;
            break;
        case 'n':
            v = literal(ps, "null", 4) ? json_null() : NULL;
            break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            v = number(ps);
            break;
        default:
            v = NULL;
            break;
        }
        if (!v) goto fail;
        if (!open && *tok != '"') ps->p = jsonscan_after_scalar(ps->p, ps->end);
        /* the _new calls release v themselves if they fail */
        if (depth == 0)
            root = v;
        else if (json_is_object(stack[depth - 1])) {
            if (json_object_setn_new_nocheck(stack[depth - 1], key, key_len, v)) goto fail;
        } else if (json_array_append_new(stack[depth - 1], v)) {
            goto fail;
        }
        if (open) {
            if (depth == cap) {
                size_t ncap = cap * 2;
                json_t **ns = stack == frames_inline ? malloc(ncap * sizeof *ns)
                                                     : realloc(stack, ncap * sizeof *ns);
                if (!ns) goto fail;
                if (stack == frames_inline) memcpy(ns, stack, depth * sizeof *ns);
                stack = ns;
                cap = ncap;
            }
            stack[depth++] = v;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == (json_is_object(v) ? '}' : ']')) {
                ps->p++;
                depth--; /* empty: a whole value, fall through to what follows it */
            } else {
                if (json_is_object(v) && !member_key(ps, &key, &key_len)) goto fail;
                continue; /* the first member's value, or the first element */
            }
        }
        /* after a value: close containers, or go on to the next member or element */
        for (;;) {
            if (depth == 0) goto done;
            bool obj = json_is_object(stack[depth - 1]);
            skip_ws(ps);
            if (ps->p >= ps->end) goto fail;
            if (*ps->p == ',') {
                ps->p++;
                if (obj && !member_key(ps, &key, &key_len)) goto fail;
                break;
            }
            if (*ps->p != (obj ? '}' : ']')) goto fail;
            ps->p++;
            depth--;
        }
    }
done:
    skip_ws(ps);
    if (ps->p != ps->end) goto fail; /* only blanks may follow */
    if (stack != frames_inline) free(stack);
    return root;
fail:
    if (stack != frames_inline) free(stack);
    json_decref(root);
    return NULL;
}

json_t *client_json_parse_fast(const char *text, size_t len, size_t flags)
{
    if (!text || (flags & ~(size_t)JSON_DECODE_ANY)) return NULL;
    char key_buf[KEY_SCRATCH], str_buf[STR_SCRATCH];
    struct parser ps = {(const unsigned char *)text,
                        (const unsigned char *)text + len,
                        {key_buf, sizeof key_buf, NULL},
                        {str_buf, sizeof str_buf, NULL}};
    json_t *j = parse(&ps, flags);
    free(ps.key.heap);
    free(ps.str.heap);
    return j;
}

json_t *client_json_parse(const char *text, size_t len, size_t flags, json_error_t *error)
{
    json_t *j = client_json_parse_fast(text, len, flags);
    if (!j) return json_loadb(text, len, flags, error); /* jansson's verdict and message */
    if (error) { /* what json_loadb leaves on success (jsonp_error_init) */
        memset(error->text, 0, sizeof error->text);
        error->line = error->column = -1;
        error->position = 0;
        snprintf(error->source, sizeof error->source, "%s", "<buffer>");
    }
    return j;
}
