/* client_json_parse and client_json_check against jansson's json_loadb: hand-written cases for
 * every rule, every recorded SSE payload, random documents, and thousands of deterministic
 * mutations. The fast parser alone (client_json_parse_fast, no fallback) must agree with jansson
 * on accept/reject, and when both accept the values must be identical: type, content, key order,
 * integers, reals bit for bit. The response check must accept exactly what jansson accepts. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/jsoncheck.h"
#include "client/jsonparse.h"
#include "json_same.h"

/* ---- the comparison ---- */

static size_t compared, both_accepted;

static void show(const char *what, const char *s, size_t len, size_t flags)
{
    fprintf(stderr, "client_json_parse %s (flags %zu, %zu bytes): '", what, flags, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "'\n");
}

/* Compares the parser with jansson on one text; returns whether jansson accepted it. */
static bool agree(const char *s, size_t len, size_t flags)
{
    compared++;
    json_error_t theirs_err, mine_err;
    json_t *theirs = json_loadb(s, len, flags, &theirs_err);
    json_t *fast = client_json_parse_fast(s, len, flags);
    json_t *mine = client_json_parse(s, len, flags, &mine_err);
    bool ok = true;
    if (flags == 0) { /* the client's response check shares the rules (jsonscan.h) */
        bool unsure = false, checked = client_json_check(s, len, &unsure);
        if (checked != !!theirs && !(checked && unsure)) {
            show(checked ? "check accepts what jansson rejects"
                         : "check rejects what jansson accepts",
                 s, len, flags);
            ok = false;
        }
    }
    if (!fast != !theirs) {
        show(fast ? "accepts what jansson rejects" : "rejects what jansson accepts", s, len, flags);
        if (!theirs) fprintf(stderr, "  jansson: %s\n", theirs_err.text);
        ok = false;
    } else if (theirs) {
        both_accepted++;
        char *dt = json_dumps(theirs, JSON_COMPACT | JSON_ENCODE_ANY);
        char *df = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *dm = json_dumps(mine, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!json_equal(fast, theirs) || !json_equal(mine, theirs) || !dt || !df || !dm ||
            strcmp(dt, df) != 0 || strcmp(dt, dm) != 0 || !json_same_tree(fast, theirs) ||
            !json_same_tree(mine, theirs)) {
            show("builds a different value", s, len, flags);
            fprintf(stderr, "  jansson: %s\n  mine:    %s\n", dt ? dt : "?", df ? df : "?");
            ok = false;
        }
        free(dt);
        free(df);
        free(dm);
        if (mine_err.text[0] || mine_err.line != -1 || mine_err.position != 0) {
            show("leaves an error behind on success", s, len, flags);
            ok = false;
        }
    } else if (mine || strcmp(mine_err.text, theirs_err.text) != 0 ||
               mine_err.line != theirs_err.line || mine_err.column != theirs_err.column ||
               mine_err.position != theirs_err.position) {
        show("reports a different error", s, len, flags);
        fprintf(stderr, "  jansson: %s\n  mine:    %s\n", theirs_err.text, mine_err.text);
        ok = false;
    }
    json_decref(theirs);
    json_decref(fast);
    json_decref(mine);
    assert_true(ok);
    return theirs != NULL;
}

/* Both flag settings; returns whether jansson accepted it with flags 0. */
static bool agree_both(const char *s, size_t len)
{
    agree(s, len, JSON_DECODE_ANY);
    return agree(s, len, 0);
}

/* ---- hand-written cases ---- */

struct tcase {
    const char *text;
    int ok0;   /* jansson accepts it with flags 0 */
    int okany; /* with JSON_DECODE_ANY */
};

static void test_cases(void **state)
{
    (void)state;
    static const struct tcase cases[] = {
        {"{}", 1, 1},
        {"[]", 1, 1},
        {" \t\r\n{\"a\":1} \t\r\n", 1, 1},
        {"\f{}", 0, 0},
        {"{}\f", 0, 0},
        {"\v[]", 0, 0},
        {"", 0, 0},
        {"   ", 0, 0},
        {"[1,2,3]", 1, 1},
        {"{\"a\":[true,false,null,-0.5e+3,\"x\"]}", 1, 1},
        {"[[[[[]]]]]", 1, 1},
        {"{\"a\":{\"b\":{}}}", 1, 1},
        {"{\"a\" : 1 , \"b\" : [ ] }", 1, 1},
        {"[ 1 , 2 ]", 1, 1},
        /* top-level scalars */
        {"1", 0, 1},
        {"-1", 0, 1},
        {"1.5", 0, 1},
        {"\"s\"", 0, 1},
        {"null", 0, 1},
        {"true", 0, 1},
        {"false", 0, 1},
        {" 1 ", 0, 1},
        {"1 2", 0, 0},
        {"nul", 0, 0},
        {"nulls", 0, 0},
        {"True", 0, 0},
        {"[truefalse]", 0, 0},
        {"[true1]", 0, 0},
        {"[null,]", 0, 0},
        /* structure */
        {"{", 0, 0},
        {"[", 0, 0},
        {"}", 0, 0},
        {"[1,]", 0, 0},
        {"[,1]", 0, 0},
        {"[1 2]", 0, 0},
        {"{\"a\"}", 0, 0},
        {"{\"a\":}", 0, 0},
        {"{\"a\" 1}", 0, 0},
        {"{,}", 0, 0},
        {"{\"a\":1,}", 0, 0},
        {"{\"a\":1 \"b\":2}", 0, 0},
        {"{1:2}", 0, 0},
        {"{'a':1}", 0, 0},
        {"[1]]", 0, 0},
        {"[1}", 0, 0},
        {"{\"a\":1]", 0, 0},
        {"[1] x", 0, 0},
        {"{\"a\":1}{}", 0, 0},
        /* duplicate keys: the later value replaces the earlier one in place */
        {"{\"a\":1,\"b\":2,\"a\":3}", 1, 1},
        {"{\"a\":{\"x\":1},\"b\":2,\"a\":[3],\"c\":4,\"b\":null}", 1, 1},
        {"{\"z\":1,\"y\":2,\"x\":3,\"w\":4}", 1, 1},
        {"{\"\":1,\"\":2}", 1, 1},
        /* numbers */
        {"[0]", 1, 1},
        {"[-0]", 1, 1},
        {"[-0.0]", 1, 1},
        {"[0.0]", 1, 1},
        {"[-0e0]", 1, 1},
        {"[01]", 0, 0},
        {"[-01]", 0, 0},
        {"[00]", 0, 0},
        {"[1.]", 0, 0},
        {"[.5]", 0, 0},
        {"[-]", 0, 0},
        {"[-a]", 0, 0},
        {"[--1]", 0, 0},
        {"[1e]", 0, 0},
        {"[1e+]", 0, 0},
        {"[1.e5]", 0, 0},
        {"[+1]", 0, 0},
        {"[1.5.3]", 0, 0},
        {"[0x10]", 0, 0},
        {"[1E5,1e+5,1e-5,1E-05]", 1, 1},
        {"[9223372036854775807]", 1, 1},
        {"[9223372036854775808]", 0, 0},
        {"[-9223372036854775808]", 1, 1},
        {"[-9223372036854775809]", 0, 0},
        {"[99999999999999999999]", 0, 0},
        {"[18446744073709551615]", 0, 0},
        {"[18446744073709551616]", 0, 0},
        {"[-18446744073709551617]", 0, 0},
        {"[1000000000000000000]", 1, 1},
        {"[9999999999999999999]", 0, 0},
        {"[-9999999999999999999]", 0, 0},
        {"[9223372036854775807.0]", 1, 1},
        {"[9223372036854775808e0]", 1, 1},
        {"[1e400]", 0, 0},
        {"[-1e400]", 0, 0},
        {"[1e-400]", 1, 1},
        {"[-1e-400]", 1, 1},
        {"[4.9e-324]", 1, 1},
        {"[2.4e-324]", 1, 1},
        {"[1.7976931348623157e308]", 1, 1},
        {"[1.7976931348623159e308]", 0, 0},
        {"[2.2250738585072011e-308]", 1, 1},
        {"[0.1,0.2,0.30000000000000004,1.0000000000000002,3.141592653589793]", 1, 1},
        {"[123456789012345678901234567890.123456789012345678901234567890123456789e-10]", 1, 1},
        {"[0.0000000000000000000000000000000000000000000000000000000000000000000001]", 1, 1},
        {"[1e99999999999999999999]", 0, 0},
        {"[1e-99999999999999999999]", 1, 1},
        {"9223372036854775808", 0, 0},
        {"-0", 0, 1},
        /* strings and escapes */
        {"[\"\"]", 1, 1},
        {"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 1, 1},
        {"[\"\\u00e9\\ud83d\\ude00\\n\\/\"]", 1, 1},
        {"[\"\\u0041\\u00E9\\u20aC\\uFFFF\\uffFe\"]", 1, 1},
        {"[\"\\ud800\\udc00\\udbff\\udfff\"]", 1, 1},
        {"[\"\\x\"]", 0, 0},
        {"[\"\\a\"]", 0, 0},
        {"[\"\\U0041\"]", 0, 0},
        {"[\"\\u41\"]", 0, 0},
        {"[\"\\u004\"]", 0, 0},
        {"[\"\\u00g1\"]", 0, 0},
        {"[\"\\", 0, 0},
        {"[\"\\u", 0, 0},
        {"[\"\\u00", 0, 0},
        {"[\"\\ud800\"]", 0, 0},
        {"[\"\\ud800x\"]", 0, 0},
        {"[\"\\ud800\\n\"]", 0, 0},
        {"[\"\\ud800\\u0041\"]", 0, 0},
        {"[\"\\ud800\\ud800\"]", 0, 0},
        {"[\"\\ud800\\udc0\"]", 0, 0},
        {"[\"\\ud800\\u", 0, 0},
        {"[\"\\udc00\"]", 0, 0},
        {"[\"\\udfff\\ud800\"]", 0, 0},
        {"[\"\\u0000\"]", 0, 0},
        {"[\"a\\u0000b\"]", 0, 0},
        {"{\"\\u0000\":1}", 0, 0},
        {"[\"\\u0001\\u001f\\u007f\"]", 1, 1},
        {"\"\\u0000\"", 0, 0},
        /* raw bytes: control characters, UTF-8 */
        {"[\"a\nb\"]", 0, 0},
        {"[\"a\tb\"]", 0, 0},
        {"[\"\x01\"]", 0, 0},
        {"[\"\x1f\"]", 0, 0},
        {"[\"\x7f\"]", 1, 1},
        {"[\"\xc3\xa9\"]", 1, 1},
        {"[\"\xe2\x82\xac\"]", 1, 1},
        {"[\"\xf0\x9f\x98\x80\"]", 1, 1},
        {"[\"\xf4\x8f\xbf\xbf\"]", 1, 1},
        {"[\"\xef\xbf\xbf\"]", 1, 1},
        {"[\"\xc0\x80\"]", 0, 0},
        {"[\"\xc1\xbf\"]", 0, 0},
        {"[\"\xe0\x80\x80\"]", 0, 0},
        {"[\"\xe0\x9f\xbf\"]", 0, 0},
        {"[\"\xf0\x80\x80\x80\"]", 0, 0},
        {"[\"\xf0\x8f\xbf\xbf\"]", 0, 0},
        {"[\"\xed\xa0\x80\"]", 0, 0},
        {"[\"\xed\xbf\xbf\"]", 0, 0},
        {"[\"\xed\x9f\xbf\"]", 1, 1},
        {"[\"\xf4\x90\x80\x80\"]", 0, 0},
        {"[\"\xf5\x80\x80\x80\"]", 0, 0},
        {"[\"\xff\"]", 0, 0},
        {"[\"\x80\"]", 0, 0},
        {"[\"\xbf\"]", 0, 0},
        {"[\"\xc3\"]", 0, 0},
        {"[\"\xc3", 0, 0},
        {"[\"\xe2\x82\"]", 0, 0},
        {"[\"\xf0\x9f\x98\"]", 0, 0},
        {"[\"\xc3\x28\"]", 0, 0},
        {"\xef\xbb\xbf[1]", 0, 0},
        {"[1]\xc3\xa9", 0, 0},
        {"[\xc3\xa9]", 0, 0},
        {"[\"unterminated", 0, 0},
        {"[\"unterminated and long enough for the word scan", 0, 0},
        /* keys with escapes and UTF-8 */
        {"{\"a\\nb\":1,\"\\u00e9\":2,\"\xc3\xa9\":3,\"\\ud83d\\ude00\":[]}", 1, 1},
        {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", 1, 1},
        {"{\"a\\\"b\":{\"c\\\\d\":{\"e\\/f\":\"g\\th\"}}}", 1, 1},
        {"{\"a\\x\":1}", 0, 0},
        {"{\"a\nb\":1}", 0, 0},
        /* strings around the 8-byte word boundaries */
        {"[\"1234567\",\"12345678\",\"123456789\",\"123456789012345\\n6\"]", 1, 1},
        {"[\"12345678\xc3\xa9\",\"1234567\\\"\",\"abcdefg\x01\"]", 0, 0},
        {"[\"12345678\xc3\xa9\",\"1234567\\\"\",\"abcdefgh\x7f\"]", 1, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct tcase *c = &cases[i];
        size_t len = strlen(c->text);
        bool ok0 = agree(c->text, len, 0), okany = agree(c->text, len, JSON_DECODE_ANY);
        if (ok0 != (c->ok0 != 0) || okany != (c->okany != 0))
            fprintf(stderr, "case %zu: jansson %d/%d, expected %d/%d: %s\n", i, ok0, okany, c->ok0,
                    c->okany, c->text);
        assert_int_equal(ok0, c->ok0 != 0);
        assert_int_equal(okany, c->okany != 0);
    }
    /* texts with NUL bytes */
    assert_false(agree_both("[1]\0", 4));
    assert_false(agree_both("[\"a\0b\"]", 7));
    assert_false(agree_both("\0[1]", 4));
    assert_false(agree_both("[1,\0 2]", 7));
    /* jansson loses one NUL byte right after a number or a literal (its lexer ungets it) */
    assert_true(agree("80\0", 3, JSON_DECODE_ANY));
    assert_true(agree_both("[1\0]", 4));
    assert_true(agree_both("[1\0,2]", 6));
    assert_true(agree_both("[-1.5e3\0,true\0,false\0,null\0]", 28));
    assert_true(agree_both("{\"a\":1\0}", 8));
    assert_false(agree_both("[1\0\0]", 5));
    assert_false(agree_both("[\"a\"\0]", 6));
    assert_false(agree_both("[1 \0]", 5));
    assert_false(agree_both("[[]\0]", 5));
    assert_false(agree_both("[1]\0", 4));
    assert_false(agree_both("{\"a\"\0:1}", 8));
    /* the values themselves, beyond the differential */
    json_t *j = client_json_parse("{\"a\":1,\"b\":2,\"a\":3}", 19, 0, NULL);
    assert_non_null(j);
    char *d = json_dumps(j, JSON_COMPACT);
    assert_string_equal(d, "{\"a\":3,\"b\":2}");
    free(d);
    json_decref(j);
    j = client_json_parse_fast("-0", 2, JSON_DECODE_ANY);
    assert_true(json_is_integer(j) && json_integer_value(j) == 0);
    json_decref(j);
    j = client_json_parse_fast("[-9223372036854775808,9223372036854775807,-0.0]", 47, 0);
    assert_non_null(j);
    assert_true(json_integer_value(json_array_get(j, 0)) == INT64_MIN);
    assert_true(json_integer_value(json_array_get(j, 1)) == INT64_MAX);
    double z = json_real_value(json_array_get(j, 2));
    assert_true(z == 0 && 1 / z < 0);
    json_decref(j);
    j = client_json_parse_fast("[\"a\\u00e9\\ud83d\\ude00\"]", 23, 0);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "a\xc3\xa9\xf0\x9f\x98\x80");
    json_decref(j);
    /* other flags go to jansson */
    j = client_json_parse("{\"a\":1,\"a\":2}", 13, JSON_REJECT_DUPLICATES, NULL);
    assert_null(j);
    assert_null(client_json_parse_fast("[1]", 3, JSON_REJECT_DUPLICATES));
    /* the error of a rejected text is jansson's */
    json_error_t e;
    assert_null(client_json_parse("[1,]", 4, 0, &e));
    assert_non_null(strstr(e.text, "unexpected token"));
}

/* Nesting: jansson counts every value, scalars too, against JSON_PARSER_MAX_DEPTH (2048). */
static void test_depth(void **state)
{
    (void)state;
    size_t cap = 8 * 2100 + 16;
    char *s = malloc(cap);
    assert_non_null(s);
    for (size_t depth = 2040; depth <= 2050; depth++) {
        /* [[...]] */
        memset(s, '[', depth);
        memset(s + depth, ']', depth);
        bool ok = agree_both(s, 2 * depth);
        assert_int_equal(ok, depth <= 2048);
        /* [[...[1]...]]: the scalar is one level more */
        memset(s, '[', depth);
        s[depth] = '1';
        memset(s + depth + 1, ']', depth);
        ok = agree_both(s, 2 * depth + 1);
        assert_int_equal(ok, depth + 1 <= 2048);
        /* [[...[{}]...]] */
        memset(s, '[', depth);
        memcpy(s + depth, "{}", 2);
        memset(s + depth + 2, ']', depth);
        agree_both(s, 2 * depth + 2);
        /* unclosed */
        memset(s, '[', depth);
        agree_both(s, depth);
    }
    /* objects: {"a":{"a":...{"a":1}...}} around the limit, and mixed with arrays */
    for (size_t depth = 1020; depth <= 2050; depth += (depth < 1030 || depth > 2040) ? 1 : 500) {
        size_t n = 0;
        for (size_t i = 0; i < depth; i++) {
            memcpy(s + n, i % 2 ? "[" : "{\"a\":", i % 2 ? 1 : 5);
            n += i % 2 ? 1 : 5;
        }
        s[n++] = '1';
        for (size_t i = depth; i-- > 0;) s[n++] = i % 2 ? ']' : '}';
        agree_both(s, n);
        n = 0;
        for (size_t i = 0; i < depth; i++) {
            memcpy(s + n, "{\"k\":", 5);
            n += 5;
        }
        memcpy(s + n, "{}", 2);
        n += 2;
        memset(s + n, '}', depth);
        agree_both(s, n + depth);
    }
    free(s);
}

/* Long strings: past the 8-byte scan, past the stack scratch buffers, with and without escapes. */
static void test_long_strings(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "a",    "\\n",      "\\u00e9", "\xc3\xa9", "\\ud83d\\ude00", "\xf0\x9f\x98\x80",
        "\\\"", "xyzxyzxyz"};
    size_t sizes[] = {7, 8, 9, 15, 16, 17, 255, 256, 257, 1023, 1024, 1025, 5000, 100000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
            size_t want = sizes[si], pl = strlen(pieces[pi]);
            char *s = malloc(2 * want + 64);
            assert_non_null(s);
            /* as a value and as a key, all escapes or one escape at the end */
            for (int form = 0; form < 4; form++) {
                size_t n = 0;
                memcpy(s + n, form < 2 ? "[\"" : "{\"", 2);
                n += 2;
                if (form % 2 == 0) {
                    while (n < want) {
                        memcpy(s + n, pieces[pi], pl);
                        n += pl;
                    }
                } else {
                    memset(s + n, 'b', want);
                    n += want;
                    memcpy(s + n, pieces[pi], pl);
                    n += pl;
                }
                const char *tail = form < 2 ? "\"]" : "\":\"v\\n\"}";
                memcpy(s + n, tail, strlen(tail));
                n += strlen(tail);
                assert_true(agree_both(s, n));
            }
            free(s);
        }
    }
}

/* ---- recorded payloads ---- */

struct corpus {
    char **text;
    size_t *len;
    size_t n, cap;
};

static void corpus_add(struct corpus *c, const char *s, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->text = realloc(c->text, c->cap * sizeof *c->text);
        c->len = realloc(c->len, c->cap * sizeof *c->len);
        assert_non_null(c->text);
        assert_non_null(c->len);
    }
    c->text[c->n] = malloc(len + 1);
    assert_non_null(c->text[c->n]);
    memcpy(c->text[c->n], s, len);
    c->text[c->n][len] = '\0';
    c->len[c->n++] = len;
}

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    free(c->len);
}

/* Every "data:" line of every .sse file in tests/data/sse (one space after the colon dropped, CR
 * and LF line ends), and every .json file in tests/data, if any. */
static void load_corpus(struct corpus *c)
{
    static const char *const dirs[] = {"tests/data/sse", "tests/data"};
    for (size_t di = 0; di < 2; di++) {
        char dirpath[4096];
        snprintf(dirpath, sizeof dirpath, "%s", test_source_path(dirs[di]));
        DIR *d = opendir(dirpath);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t nl = strlen(e->d_name);
            bool sse = di == 0 && nl > 4 && strcmp(e->d_name + nl - 4, ".sse") == 0;
            bool json = nl > 5 && strcmp(e->d_name + nl - 5, ".json") == 0;
            if (!sse && !json) continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dirpath, e->d_name);
            size_t len;
            char *text = test_read_file(path, &len);
            assert_non_null(text);
            if (json) {
                corpus_add(c, text, len);
            } else {
                for (size_t at = 0; at < len;) {
                    size_t eol = at;
                    while (eol < len && text[eol] != '\n' && text[eol] != '\r') eol++;
                    if (eol - at >= 5 && memcmp(text + at, "data:", 5) == 0) {
                        size_t from = at + 5 + (eol > at + 5 && text[at + 5] == ' ');
                        corpus_add(c, text + from, eol - from);
                    }
                    at = eol + 1;
                }
            }
            free(text);
        }
        closedir(d);
    }
}

static void test_recorded(void **state)
{
    (void)state;
    struct corpus c = {0};
    load_corpus(&c);
    assert_true(c.n >= 20);
    size_t accepted = 0;
    for (size_t i = 0; i < c.n; i++) {
        agree(c.text[i], c.len[i], JSON_DECODE_ANY);
        accepted += agree(c.text[i], c.len[i], 0);
    }
    fprintf(stderr, "recorded: %zu payloads, %zu valid JSON documents\n", c.n, accepted);
    assert_true(accepted >= 20);
    corpus_free(&c);
}

/* ---- random documents and mutations (fixed seed) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15u); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

struct out {
    char *p;
    size_t n, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->n + n + 1 > o->cap) {
        o->cap = (o->n + n + 1) * 2;
        o->p = realloc(o->p, o->cap);
        assert_non_null(o->p);
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void gen_string(struct out *o)
{
    static const char *const bits[] = {"a",
                                       "key",
                                       "Hello",
                                       " ",
                                       "\\n",
                                       "\\\"",
                                       "\\\\",
                                       "\\/",
                                       "\\b\\f\\r\\t",
                                       "\\u00e9",
                                       "\\u20AC",
                                       "\\ud83d\\ude00",
                                       "\\u0001",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\x7f",
                                       "0123456789abcdef",
                                       "id",
                                       "content"};
    put(o, "\"", 1);
    size_t k = below(6);
    for (size_t i = 0; i < k; i++) puts_(o, bits[below(sizeof bits / sizeof bits[0])]);
    put(o, "\"", 1);
}

static void gen_number(struct out *o)
{
    char b[64];
    switch (below(8)) {
    case 0:
        snprintf(b, sizeof b, "%lld", (long long)(rnd() >> below(64)));
        break;
    case 1:
        snprintf(b, sizeof b, "-%llu", (unsigned long long)(rnd() >> below(64)));
        break;
    case 2:
        snprintf(b, sizeof b, "%lld", (long long)(INT64_MAX - (int64_t)below(3)));
        break;
    case 3:
        snprintf(b, sizeof b, "%lld", (long long)(INT64_MIN + (int64_t)below(3)));
        break;
    case 4: {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (d != d || d - d != 0) d = 1.5; /* NaN, infinity */
        snprintf(b, sizeof b, "%.*g", (int)below(18) + 1, d);
        if (!strpbrk(b, ".e")) strcat(b, ".0");
        break;
    }
    case 5:
        snprintf(b, sizeof b, "%.17g", (double)rnd() / (double)(rnd() | 1));
        break;
    case 6:
        snprintf(b, sizeof b, "%llu.%llue%s%d", (unsigned long long)below(100000),
                 (unsigned long long)below(1000), below(2) ? "-" : "+", (int)below(400));
        break;
    default:
        snprintf(b, sizeof b, "%d", (int)below(1000) - 500);
        break;
    }
    puts_(o, b);
}

static void gen_value(struct out *o, int depth)
{
    static const char *const ws[] = {"", "", "", " ", "\n", "\t", "\r\n  "};
    size_t k = depth > 6 ? 3 + below(4) : below(7);
    switch (k) {
    case 0:
    case 1: {
        put(o, "{", 1);
        size_t n = below(5);
        for (size_t i = 0; i < n; i++) {
            if (i) put(o, ",", 1);
            puts_(o, ws[below(7)]);
            if (below(3) == 0) {
                static const char *const dup[] = {"\"a\"", "\"b\"", "\"\""};
                puts_(o, dup[below(3)]);
            } else {
                gen_string(o);
            }
            puts_(o, ws[below(7)]);
            put(o, ":", 1);
            gen_value(o, depth + 1);
        }
        puts_(o, ws[below(7)]);
        put(o, "}", 1);
        break;
    }
    case 2: {
        put(o, "[", 1);
        size_t n = below(5);
        for (size_t i = 0; i < n; i++) {
            if (i) put(o, ",", 1);
            gen_value(o, depth + 1);
        }
        put(o, "]", 1);
        break;
    }
    case 3:
        gen_string(o);
        break;
    case 4:
    case 5:
        gen_number(o);
        break;
    default: {
        static const char *const lit[] = {"true", "false", "null"};
        puts_(o, lit[below(3)]);
    }
    }
    puts_(o, ws[below(7)]);
}

static void test_random_documents(void **state)
{
    (void)state;
    rng_state = 20261125;
    struct out o = {0};
    size_t accepted = 0;
    for (int i = 0; i < 3000; i++) {
        o.n = 0;
        put(&o, "", 0);
        gen_value(&o, 0);
        accepted += agree(o.p, o.n, JSON_DECODE_ANY);
        agree(o.p, o.n, 0);
    }
    fprintf(stderr, "random documents: 3000, %zu accepted by jansson\n", accepted);
    assert_true(accepted > 2500); /* nearly all: only out-of-range numbers are errors */
    free(o.p);
}

static void test_mutations(void **state)
{
    (void)state;
    struct corpus c = {0};
    load_corpus(&c);
    /* hand-made seeds too, for the rules recordings do not exercise */
    static const char *const extra[] = {
        "{\"a\":[1,-0,0.5,-1e-3,1E+2,9223372036854775807,-9223372036854775808],\"b\":{}}",
        "[\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\",\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]",
        "{\"k\\n\":{\"k\":[[],{},\"\"]},\"k\":true,\"z\":false,\"n\":null}",
        " [ 1 , { \"a\" : 2 } ] ",
        "\"top\"",
        "123",
        "-0.0",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        corpus_add(&c, extra[i], strlen(extra[i]));
    rng_state = 12345;
    static const char alphabet[] =
        "{}[]\":,\\ \t\n0123456789-+.eEtfnulrsa/bu\x80\xc3\xa9\xed\xf0\x01";
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t accepted = 0, rounds = 30000;
    for (size_t round = 0; round < rounds; round++) {
        size_t which = below(c.n);
        size_t m = c.len[which] < cap / 2 ? c.len[which] : cap / 2;
        memcpy(buf, c.text[which], m);
        size_t edits = 1 + below(3);
        for (size_t k = 0; k < edits; k++) {
            size_t at = below(m + 1);
            char ch = below(4) ? alphabet[below(sizeof alphabet - 1)] : (char)below(256);
            switch (below(6)) {
            case 0: /* flip / replace a byte */
                if (at < m) buf[at] = below(2) ? ch : (char)(buf[at] ^ (1 << below(8)));
                break;
            case 1: /* insert */
                if (m + 1 < cap) {
                    memmove(buf + at + 1, buf + at, m - at);
                    buf[at] = ch;
                    m++;
                }
                break;
            case 2: /* delete a run */
                if (at < m) {
                    size_t n = 1 + below(m - at < 8 ? m - at : 8);
                    memmove(buf + at, buf + at + n, m - at - n);
                    m -= n;
                }
                break;
            case 3: /* truncate */
                m = at;
                break;
            case 4: { /* splice: a piece of another payload in */
                size_t o = below(c.n), from = below(c.len[o] + 1);
                size_t n = below(c.len[o] - from + 1);
                if (n > 64) n = 64;
                if (m + n < cap) {
                    memmove(buf + at + n, buf + at, m - at);
                    memcpy(buf + at, c.text[o] + from, n);
                    m += n;
                }
                break;
            }
            default: { /* duplicate a run (repeats keys, nests deeper) */
                size_t n = below(m - at + 1);
                if (n > 64) n = 64;
                if (m + n < cap) {
                    memmove(buf + at + n, buf + at, m - at);
                    memcpy(buf + at, buf + at + n, n);
                    m += n;
                }
            }
            }
        }
        accepted += agree(buf, m, round % 2 ? JSON_DECODE_ANY : 0);
    }
    fprintf(stderr, "mutations: %zu texts, %zu accepted by jansson\n", rounds, accepted);
    assert_true(accepted > rounds / 20); /* the comparison of values is exercised too */
    free(buf);
    corpus_free(&c);
}

/* The parser's own allocations (jansson's values are jansson's: libjansson calls malloc from its
 * own library, which this link-time wrap does not see). -Wl,--wrap=... in tests/CMakeLists.txt. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
static bool counting;
static size_t own_allocations;
void *__wrap_malloc(size_t n)
{
    own_allocations += counting;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    own_allocations += counting;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    own_allocations += counting;
    return __real_realloc(p, n);
}

/* A stream event allocates nothing but its jansson values: every recorded payload parses without
 * one allocation of the parser's own; a string larger than the scratch buffer does allocate (so
 * the count works). */
static void test_no_own_allocation(void **state)
{
    (void)state;
    struct corpus c = {0};
    load_corpus(&c);
    size_t parsed = 0;
    for (size_t i = 0; i < c.n; i++) {
        own_allocations = 0;
        counting = true;
        json_t *j = client_json_parse_fast(c.text[i], c.len[i], JSON_DECODE_ANY);
        counting = false;
        if (!j) continue;
        parsed++;
        if (own_allocations) fprintf(stderr, "payload %zu: %zu allocations\n", i, own_allocations);
        assert_int_equal(own_allocations, 0);
        json_decref(j);
    }
    assert_true(parsed >= 20);
    corpus_free(&c);

    size_t n = 5000;
    char *big = malloc(n + 8);
    assert_non_null(big);
    memcpy(big, "[\"", 2);
    for (size_t i = 2; i < n; i += 2) memcpy(big + i, "\\n", 2);
    memcpy(big + n, "\"]", 2);
    own_allocations = 0;
    counting = true;
    json_t *j = client_json_parse_fast(big, n + 2, 0);
    counting = false;
    assert_non_null(j);
    assert_true(own_allocations > 0);
    json_decref(j);
    free(big);
}

/* Reals under a locale whose decimal point is ',': jansson swaps '.' for it before strtod, and
 * the parser hands such tokens to jansson; both must still read 1.5 as 1.5. The locale is compiled
 * into a temporary directory (localedef, Debian's "locales" sources, which scripts/deps.sh
 * installs); the test is skipped where that is impossible. */
static void test_comma_locale(void **state)
{
    (void)state;
    char dir[] = "/tmp/mantle-locale-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[256];
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    bool built = system(cmd) == 0;
    const char *old_path = getenv("LOCPATH");
    char *saved_path = old_path ? strdup(old_path) : NULL;
    setenv("LOCPATH", dir, 1);
    char *old = strdup(setlocale(LC_NUMERIC, NULL));
    bool comma = built && setlocale(LC_NUMERIC, "de_DE.UTF-8") &&
                 strcmp(localeconv()->decimal_point, ",") == 0;
    if (comma) {
        static const char *const texts[] = {"[1.5]", "[-0.25,1e3,2.5E-3]",
                                            "{\"a\":3.14159,\"b\":[0.1,0.2]}", "[1e400]", "[1,5]"};
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            agree_both(texts[i], strlen(texts[i]));
        json_t *j = client_json_parse("[1.5]", 5, 0, NULL);
        assert_non_null(j);
        assert_true(json_real_value(json_array_get(j, 0)) == 1.5);
        json_decref(j);
    }
    setlocale(LC_NUMERIC, old);
    free(old);
    if (saved_path)
        setenv("LOCPATH", saved_path, 1);
    else
        unsetenv("LOCPATH");
    free(saved_path);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (!comma) skip();
}

static void test_totals(void **state)
{
    (void)state;
    fprintf(stderr, "total: %zu comparisons, %zu where both accepted\n", compared, both_accepted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_recorded),
        cmocka_unit_test(test_random_documents),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_comma_locale),
        cmocka_unit_test(test_no_own_allocation),
        cmocka_unit_test(test_totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
