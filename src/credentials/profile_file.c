/* Parser of the AWS shared config / credentials files (the model is in profile_set.c).
 *
 * The reference is botocore (configloader.py on top of configparser.RawConfigParser, and
 * session.full_config); the AWS CLI v2 vendors the same code. Our own implementation, rule by rule:
 *
 * Matched (botocore 1.29, Python 3.11; tests/test_profile_file_botocore.py checks it):
 * - Lines end at "\n", "\r\n" or a lone "\r" (Python's universal newlines). The text must be
 *   strict UTF-8 (botocore fails with UnicodeDecodeError otherwise). A byte-order mark is not
 *   skipped, so a file starting with one fails like in botocore (no section header first).
 * - "Whitespace" is Python's str.isspace() set (ASCII space, \t\n\v\f\r, \x1c-\x1f, U+0085, NBSP,
 *   U+1680, U+2000-200A, U+2028/9, U+202F, U+205F, U+3000); lines, keys and values are stripped of
 *   it, and indentation is counted in code points.
 * - Full-line comments start with '#' or ';' after leading whitespace, anywhere (also inside an
 *   indented block). There are no inline comments: "key = a # b" has the value "a # b".
 * - A header is '[' ... the last ']' of the line with at least one character between; text after
 *   that ']' is ignored ("[default] ; x" is [default]); the name is not trimmed ("[ default ]" is
 *   not the default profile). A line starting with '[' that is not a header is a key line.
 * - A key line splits at the first '=' or ':' ("a:b=c" is key "a", value "b=c"). Keys are
 *   lower-cased; an empty key is an error; a line with neither delimiter is an error.
 * - A line indented deeper than the last key (or header) line continues the current key's value
 *   (joined with "\n"; blank lines in between are kept, trailing ones dropped), even if it looks
 *   like a header or a key. A value that is empty on its key line and has continuation lines is a
 *   nested block: each continuation line (also split at \v \f \x1c-\x1e U+0085 U+2028 U+2029, as
 *   str.splitlines does) must be "k = v", split at the first '='; nested keys keep their case; a
 *   repeated nested key takes the last value.
 * - Within one file a repeated section name or a repeated key in a section is an error, as in
 *   configparser's strict mode: the AWS CLI fails on it, so we do (CRT and the Rust SDK merge).
 * - A key line before any header is an error (MissingSectionHeaderError).
 * - [DEFAULT] (exact case) is configparser's defaults section: it is not a profile, may repeat, and
 *   each of its keys is inherited by every other section of the same file that lacks the key. A
 *   malformed nested block in it is only an error if some section inherits it.
 * - Config file: a name starting with "profile" is split like shlex.split (quotes, backslashes) and
 *   is a profile when it gives exactly two words, the second being the name: [profile "a b"] is
 *   "a b", [profiles x] is "x", [profilefoo] and [profile a b] are ignored. The same for
 *   "sso-session" and "services" (services as in the AWS CLI v2; botocore 1.29 predates it).
 *   [default] is the default profile; other names are ignored. When two sections of one file give
 *   the same name, the later one replaces the earlier one entirely - also [default] versus
 *   [profile default]: whichever comes last wins, as in botocore and the AWS CLI (the CRT and Rust
 *   SDKs prefer [profile default] whatever the order; we follow the CLI).
 * - Credentials file: every section is a profile named by its raw header.
 * - Merging (full_config): a profile in both files gets each key set in the credentials file from
 *   there (dict.update: a nested block is replaced whole); other keys stay from the config file.
 *
 * Deliberate differences:
 * - A NUL byte is an error (botocore keeps it in the value; C strings cannot, and it only appears
 *   in binary junk). Lines over PROFILE_MAX_LINE_BYTES and texts over PROFILE_MAX_FILE_BYTES are
 *   errors (bounded memory on hostile input).
 * - Keys are lower-cased for ASCII letters only; botocore uses Unicode str.lower(). No AWS setting
 *   has a non-ASCII name, so only exotic keys differ (and their duplicate detection).
 * - Credentials file: a header "profile NAME" ("profile" then a space or tab) is skipped, as the
 *   SDKs' shared-config specification says; botocore would create a profile literally named
 *   "profile NAME", which no normal lookup reaches.
 * - Reading and locating (profile_set.c): a file that exists but cannot be read (permissions, a
 *   symlink loop) is MANTLE_E_IO, where botocore silently skips it. Paths expand $NAME / ${NAME}
 *   and then a leading "~" like botocore, but "~user" is left alone and an unset or empty HOME is
 *   an error (botocore falls back to the passwd entry, or uses "" and reads /.aws/config).
 * Error messages name the file, the line and at most a key or section name, never a value.
 */
#include "credentials/profile_file.h"

#include "core/error_internal.h"
#include "core/secret.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- text as Python sees it (the text is already validated UTF-8) ---- */

static bool py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* str.splitlines() boundaries other than \n and \r (which never reach a line). */
static bool py_islinebreak(uint32_t c)
{
    return c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) || c == 0x85 || c == 0x2028 ||
           c == 0x2029;
}

/* Byte length of the valid UTF-8 sequence at s (n bytes available), or 0. As strict as Python's
 * decoder: no overlong forms, surrogates or code points above U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

static uint32_t utf8_decode(const char *p, size_t *len)
{
    const unsigned char *s = (const unsigned char *)p;
    if (s[0] < 0x80) {
        *len = 1;
        return s[0];
    }
    if (s[0] < 0xe0) {
        *len = 2;
        return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
    }
    if (s[0] < 0xf0) {
        *len = 3;
        return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
    }
    *len = 4;
    return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
           ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
}

/* Skips leading whitespace; returns how many code points were skipped (the indentation). */
static size_t lstrip(const char **s, size_t *n)
{
    size_t count = 0, l;
    while (*n && py_isspace(utf8_decode(*s, &l))) {
        *s += l;
        *n -= l;
        count++;
    }
    return count;
}

static void rstrip(const char *s, size_t *n)
{
    while (*n) {
        size_t start = *n - 1, l;
        while (start > 0 && ((unsigned char)s[start] & 0xc0) == 0x80) start--;
        if (!py_isspace(utf8_decode(s + start, &l))) return;
        *n = start;
    }
}

static void strip(const char **s, size_t *n)
{
    lstrip(s, n);
    rstrip(*s, n);
}

char *profile_copy_text(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        if (n) memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* A growable string for values: growing wipes the old block, unlike realloc. */
struct sbuf {
    char *data;
    size_t len, cap;
};

static bool sbuf_append(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = malloc(cap);
        if (!p) return false;
        if (b->len) memcpy(p, b->data, b->len);
        if (b->data) secret_wipe(b->data, b->cap);
        free(b->data);
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

static void sbuf_wipe(struct sbuf *b)
{
    if (b->data) secret_wipe(b->data, b->cap);
    free(b->data);
    *b = (struct sbuf){0};
}

/* ---- section names ---- */

/* Splits like Python's shlex.split(s) in POSIX mode and returns the word count (stopping at 3),
 * the second word in *second; -1 for an unclosed quote or a trailing backslash. */
static int shlex_words(const char *s, size_t n, struct sbuf *second)
{
    enum { WS, WORD, SQUOTE, DQUOTE } st = WS;
    int words = 0;
    for (size_t i = 0; i < n && words < 3; i++) {
        char c = s[i];
        bool keep = words == 1;
        if (st == SQUOTE) {
            if (c == '\'')
                st = WORD;
            else if (keep && !sbuf_append(second, &c, 1))
                return -2;
            continue;
        }
        if (st == DQUOTE) {
            if (c == '"') {
                st = WORD;
                continue;
            }
            if (c == '\\') {
                if (++i == n) return -1;
                /* inside "...", a backslash only escapes '"' and '\' */
                if (s[i] != '"' && s[i] != '\\' && keep && !sbuf_append(second, "\\", 1)) return -2;
                c = s[i];
            }
            if (keep && !sbuf_append(second, &c, 1)) return -2;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (st == WORD) words++;
            st = WS;
        } else if (c == '\'' || c == '"') {
            st = c == '\'' ? SQUOTE : DQUOTE;
        } else {
            if (c == '\\') {
                if (++i == n) return -1;
                c = s[i];
            }
            st = WORD;
            if (keep && !sbuf_append(second, &c, 1)) return -2;
        }
    }
    if (st == SQUOTE || st == DQUOTE) return -1;
    if (st == WORD) words++;
    return words;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Which section a raw config-file header names: *name is set (malloc'd) when it is one we keep. */
static bool classify_config(const char *raw, enum profile_kind *kind, char **name)
{
    static const struct {
        const char *prefix;
        enum profile_kind kind;
    } prefixes[] = {{"profile", PROFILE_KIND_PROFILE},
                    {"sso-session", PROFILE_KIND_SSO_SESSION},
                    {"services", PROFILE_KIND_SERVICES}};
    *name = NULL;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (!has_prefix(raw, prefixes[i].prefix)) continue;
        struct sbuf word = {0};
        int words = shlex_words(raw, strlen(raw), &word);
        if (words == -2) {
            sbuf_wipe(&word);
            return false;
        }
        *kind = prefixes[i].kind;
        if (words == 2)
            *name = word.data ? word.data : calloc(1, 1);
        else
            sbuf_wipe(&word);
        return words != 2 || *name;
    }
    if (strcmp(raw, "default") == 0) {
        *kind = PROFILE_KIND_PROFILE;
        *name = profile_copy_text(raw, strlen(raw));
        return *name != NULL;
    }
    return true;
}

/* ---- the parser ---- */

struct parser {
    const char *file;
    enum profile_source source;
    struct mantle_error *err;
    struct profile_set *sections; /* the file's sections by raw header (as profiles), in order */
    struct profile *defaults;     /* [DEFAULT] */
    struct profile *cur;          /* the section being read; NULL before the first header */
    size_t indent;                /* indentation of the last header or key line */
    /* the key being read, until the next header or key line */
    bool in_key, first_empty, nested;
    char *key;
    int key_line, bad_line; /* bad_line: first malformed line of a nested block */
    size_t blanks;          /* blank lines not yet known to be inside the value */
    struct sbuf value;
    struct profile *subs; /* the entries of a nested block, while it is read */
};

/* Copies a name into out for a message: printable ASCII only, shortened. */
static const char *safe_name(char *out, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 4 < cap; i++) out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

static mantle_code fail(struct parser *ps, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static mantle_code fail(struct parser *ps, int line, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return mantle_error_set(ps->err, MANTLE_E_CONFIG, "%s:%d: %s", ps->file, line, reason);
}

static mantle_code fail_nomem(struct parser *ps)
{
    return mantle_error_set(ps->err, MANTLE_E_NOMEM, "%s: out of memory while parsing", ps->file);
}

static void reset_key(struct parser *ps)
{
    secret_free(ps->key);
    sbuf_wipe(&ps->value);
    profile_free(ps->subs);
    ps->subs = NULL;
    ps->key = NULL;
    ps->in_key = ps->first_empty = ps->nested = false;
    ps->bad_line = 0;
    ps->blanks = 0;
}

/* Stores the key being read into its section. */
static mantle_code finish_key(struct parser *ps)
{
    if (!ps->in_key) return MANTLE_OK;
    char name[80];
    struct profile_property prop = {.key = ps->key, .source = ps->source, .line = ps->key_line};
    ps->key = NULL;
    if (!ps->nested) {
        prop.value = ps->value.data ? ps->value.data : calloc(1, 1);
        ps->value = (struct sbuf){0};
    } else if (ps->bad_line && ps->cur != ps->defaults) {
        int line = ps->bad_line;
        safe_name(name, sizeof name, prop.key);
        profile_property_clear(&prop);
        reset_key(ps);
        return fail(ps, line, "expected 'key = value' in the nested block of '%s'", name);
    } else if (ps->bad_line) {
        /* [DEFAULT] only fails if a section inherits this key: keep a marker (no value, no
         * entries, line = the bad line) until the end of the file. */
        prop.line = ps->bad_line;
    } else {
        prop.sub = profile_take_properties(ps->subs, &prop.sub_count);
    }
    bool ok = (prop.value || ps->nested) && profile_put(ps->cur, &prop);
    profile_property_clear(&prop);
    reset_key(ps);
    return ok ? MANTLE_OK : fail_nomem(ps);
}

/* Parses one continuation line of a nested block: "k = v" pieces (str.splitlines on the line). */
static mantle_code add_nested(struct parser *ps, const char *s, size_t n, int lineno)
{
    while (n && !ps->bad_line) {
        size_t len = 0, l = 0;
        while (len < n && !py_islinebreak(utf8_decode(s + len, &l))) len += l;
        const char *piece = s, *eq;
        size_t pn = len;
        s += len < n ? len + l : len;
        n -= len < n ? len + l : len;
        strip(&piece, &pn);
        if (!pn) continue;
        if (!(eq = memchr(piece, '=', pn))) {
            ps->bad_line = lineno;
            break;
        }
        const char *k = piece, *v = eq + 1;
        size_t kn = (size_t)(eq - piece), vn = pn - kn - 1;
        strip(&k, &kn);
        strip(&v, &vn);
        struct profile_property prop = {.source = ps->source, .line = lineno};
        prop.key = profile_copy_text(k, kn);
        prop.value = profile_copy_text(v, vn);
        if (!prop.key || !prop.value) {
            profile_property_clear(&prop);
            return fail_nomem(ps);
        }
        if (!ps->subs && !(ps->subs = profile_new("", 0))) {
            profile_property_clear(&prop);
            return fail_nomem(ps);
        }
        if (!profile_put(ps->subs, &prop)) return fail_nomem(ps);
    }
    return MANTLE_OK;
}

static mantle_code add_continuation(struct parser *ps, const char *s, size_t n, int lineno)
{
    if (ps->first_empty) ps->nested = true;
    if (ps->nested) {
        ps->blanks = 0;
        return add_nested(ps, s, n, lineno);
    }
    for (; ps->blanks; ps->blanks--)
        if (!sbuf_append(&ps->value, "\n", 1)) return fail_nomem(ps);
    if (!sbuf_append(&ps->value, "\n", 1) || !sbuf_append(&ps->value, s, n)) return fail_nomem(ps);
    return MANTLE_OK;
}

static mantle_code open_section(struct parser *ps, const char *name, size_t n, int lineno)
{
    mantle_code rc = finish_key(ps);
    if (rc) return rc;
    if (n == 7 && memcmp(name, "DEFAULT", 7) == 0) {
        if (!ps->defaults && !(ps->defaults = profile_new(name, n))) return fail_nomem(ps);
        ps->cur = ps->defaults;
        return MANTLE_OK;
    }
    struct profile *p = profile_new(name, n);
    if (!p) return fail_nomem(ps);
    if (profile_set_get(ps->sections, PROFILE_KIND_PROFILE, profile_name(p))) {
        char safe[80];
        safe_name(safe, sizeof safe, profile_name(p));
        profile_free(p);
        return fail(ps, lineno, "duplicate section [%s]", safe);
    }
    if (!profile_set_store(ps->sections, p, false)) return fail_nomem(ps);
    ps->cur = p;
    return MANTLE_OK;
}

static mantle_code start_key(struct parser *ps, const char *s, size_t n, int lineno)
{
    const char *d = s;
    while (d < s + n && *d != '=' && *d != ':') d++;
    if (d == s + n) return fail(ps, lineno, "expected 'key = value'");
    size_t kn = (size_t)(d - s), vn = n - kn - 1;
    const char *v = d + 1;
    rstrip(s, &kn);
    lstrip(&v, &vn);
    if (!kn) return fail(ps, lineno, "missing key name before '%c'", *d);
    mantle_code rc = finish_key(ps);
    if (rc) return rc;
    char *key = profile_copy_text(s, kn);
    if (!key) return fail_nomem(ps);
    for (char *c = key; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    if (profile_find(ps->cur, key)) {
        char name[80], section[80];
        safe_name(name, sizeof name, key);
        safe_name(section, sizeof section, profile_name(ps->cur));
        secret_free(key);
        return fail(ps, lineno, "duplicate key '%s' in section [%s]", name, section);
    }
    ps->key = key;
    ps->key_line = lineno;
    ps->in_key = true;
    ps->first_empty = vn == 0;
    if (!sbuf_append(&ps->value, v, vn)) return fail_nomem(ps);
    return MANTLE_OK;
}

static mantle_code parse_line(struct parser *ps, const char *line, size_t len, int lineno)
{
    const char *s = line;
    size_t n = len;
    size_t indent = lstrip(&s, &n);
    rstrip(s, &n);
    if (n && (s[0] == '#' || s[0] == ';')) return MANTLE_OK;
    if (!n) {
        if (ps->in_key) ps->blanks++;
        return MANTLE_OK;
    }
    if (ps->in_key && indent > ps->indent) return add_continuation(ps, s, n, lineno);
    ps->indent = indent;
    if (s[0] == '[') {
        size_t close = n - 1;
        while (close > 0 && s[close] != ']') close--;
        if (close >= 2) return open_section(ps, s + 1, close - 1, lineno);
    }
    if (!ps->cur)
        return fail(ps, lineno, "expected a section header such as [default] before any setting");
    return start_key(ps, s, n, lineno);
}

/* Gives a section the [DEFAULT] keys it lacks. */
static mantle_code inherit_defaults(struct parser *ps, struct profile *p)
{
    for (size_t j = 0; j < profile_property_count(ps->defaults); j++) {
        const struct profile_property *d = profile_property_at(ps->defaults, j);
        if (profile_find(p, d->key)) continue;
        if (!d->value && !d->sub_count) {
            char name[80];
            return fail(ps, d->line, "expected 'key = value' in the nested block of '%s'",
                        safe_name(name, sizeof name, d->key));
        }
        struct profile_property copy;
        if (!profile_property_copy(&copy, d) || !profile_put(p, &copy)) return fail_nomem(ps);
    }
    return MANTLE_OK;
}

/* Turns the file's sections into profiles / sso-sessions / services, moving them into `out`. */
static mantle_code resolve_sections(struct parser *ps, struct profile_set *out)
{
    for (size_t i = 0; i < profile_set_count(ps->sections, PROFILE_KIND_PROFILE); i++) {
        struct profile *p = profile_set_take(ps->sections, PROFILE_KIND_PROFILE, i);
        const char *raw = profile_name(p);
        enum profile_kind kind = PROFILE_KIND_PROFILE;
        char *name = NULL;
        mantle_code rc = ps->defaults ? inherit_defaults(ps, p) : MANTLE_OK;
        if (rc) {
            profile_free(p);
            return rc;
        }
        if (ps->source == PROFILE_SOURCE_CONFIG) {
            if (!classify_config(raw, &kind, &name)) {
                profile_free(p);
                return fail_nomem(ps);
            }
        } else if (!(has_prefix(raw, "profile") && (raw[7] == ' ' || raw[7] == '\t'))) {
            if (!(name = profile_copy_text(raw, strlen(raw)))) {
                profile_free(p);
                return fail_nomem(ps);
            }
        }
        if (!name) { /* not a section we keep */
            profile_free(p);
            continue;
        }
        profile_rename(p, kind, name);
        if (!profile_set_store(out, p, true)) return fail_nomem(ps);
    }
    return MANTLE_OK;
}

mantle_code profile_set_parse(struct profile_set *set, enum profile_source source,
                              const char *file_name, const char *text, size_t len,
                              struct mantle_error *err)
{
    const char *file =
        file_name ? file_name : (source == PROFILE_SOURCE_CONFIG ? "config" : "credentials");
    if (!set || (!text && len) ||
        (source != PROFILE_SOURCE_CONFIG && source != PROFILE_SOURCE_CREDENTIALS))
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "profile_set_parse: bad argument");
    if (len > PROFILE_MAX_FILE_BYTES)
        return mantle_error_set(err, MANTLE_E_CONFIG, "%s: larger than %u bytes", file,
                                PROFILE_MAX_FILE_BYTES);
    struct parser ps = {.file = file, .source = source, .err = err};
    mantle_code rc = (ps.sections = profile_set_new()) ? MANTLE_OK : fail_nomem(&ps);
    size_t pos = 0;
    int lineno = 0;
    while (!rc && pos < len) {
        size_t start = pos;
        lineno++;
        while (pos < len && text[pos] != '\n' && text[pos] != '\r') {
            size_t l = utf8_valid_len((const unsigned char *)text + pos, len - pos);
            if (!text[pos])
                rc = fail(&ps, lineno, "NUL byte");
            else if (!l)
                rc = fail(&ps, lineno, "invalid UTF-8");
            else if (pos - start >= PROFILE_MAX_LINE_BYTES)
                rc = fail(&ps, lineno, "line longer than %u bytes", PROFILE_MAX_LINE_BYTES);
            if (rc) break;
            pos += l;
        }
        if (rc) break;
        size_t end = pos;
        if (pos < len) pos += (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n') ? 2 : 1;
        rc = parse_line(&ps, text + start, end - start, lineno);
    }
    if (!rc) rc = finish_key(&ps);
    struct profile_set *parsed = NULL;
    if (!rc && !(parsed = profile_set_new())) rc = fail_nomem(&ps);
    if (!rc) rc = resolve_sections(&ps, parsed);
    if (!rc && !profile_set_set_file_name(set, source, file)) rc = fail_nomem(&ps);
    /* only now does the set change: a malformed file leaves it as it was */
    for (int k = 0; k < PROFILE_KIND_COUNT && parsed; k++) {
        enum profile_kind kind = (enum profile_kind)k;
        for (size_t i = 0; i < profile_set_count(parsed, kind); i++) {
            struct profile *p = profile_set_take(parsed, kind, i);
            if (rc)
                profile_free(p);
            else if (!profile_set_store(set, p, false))
                rc = fail_nomem(&ps);
        }
    }
    reset_key(&ps);
    profile_set_free(ps.sections);
    profile_free(ps.defaults);
    profile_set_free(parsed);
    return rc;
}
