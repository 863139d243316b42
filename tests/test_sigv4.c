/* Unit tests of the SigV4 signer: what the AWS test vectors (test_sigv4_suite) and the
 * differential test against botocore (test_sigv4_botocore.py) do not cover: input validation
 * and its messages, session tokens, payload kinds, excluded headers, Host derivation, header
 * and query canonicalization edge cases, result reuse, and the signing-key cache (also under
 * contention from many threads). */
#include "testutil.h"

#include <mantle/sigv4.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define AK "AKIDEXAMPLE"
#define SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLE+session/token=="
#define T0 1440938160 /* 2015-08-30T12:36:00Z, the suite's time */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define URL "https://example.amazonaws.com/"

/* ---- a request under construction ---- */

struct ctx {
    struct mantle_header hdrs[48];
    struct mantle_sigv4_request rq;
    struct mantle_sigv4_credentials cr;
    struct mantle_sigv4_params pa;
    struct mantle_sigv4_result *r;
    struct mantle_error err;
};

static void ctx_init(struct ctx *c, const char *url)
{
    memset(c, 0, sizeof *c);
    c->rq.method = "GET";
    c->rq.url = url;
    c->rq.headers = c->hdrs;
    c->rq.payload_kind = MANTLE_PAYLOAD_BYTES;
    c->cr.access_key_id = AK;
    c->cr.secret_access_key = SK;
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = "us-east-1";
    pa.service = "service";
    pa.signing_time = T0;
    c->pa = pa;
    c->r = mantle_sigv4_result_new();
    assert_non_null(c->r);
    struct mantle_error e = MANTLE_ERROR_INIT;
    c->err = e;
}

static void ctx_free(struct ctx *c)
{
    mantle_sigv4_result_free(c->r);
    c->r = NULL;
}

static void add_hdr(struct ctx *c, const char *name, const char *value)
{
    assert_true(c->rq.header_count < sizeof c->hdrs / sizeof *c->hdrs);
    c->hdrs[c->rq.header_count++] = (struct mantle_header){name, value};
}

static mantle_code sign(struct ctx *c)
{
    return mantle_sigv4_sign(&c->rq, &c->cr, &c->pa, c->r, &c->err);
}

static void sign_ok(struct ctx *c)
{
    mantle_code rc = sign(c);
    if (rc != MANTLE_OK) fail_msg("unexpected signing error %d: %s", rc, c->err.message);
}

/* ---- reading the canonical request ---- */

/* Line n (0-based) of s, copied into a rotating static buffer. */
static const char *line_of(const char *s, int n)
{
    static char bufs[4][16384];
    static int next;
    char *out = bufs[next++ % 4];
    for (int i = 0; i < n && s; i++) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    if (!s) return NULL;
    size_t len = strcspn(s, "\n");
    assert_true(len < sizeof bufs[0]);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static const char *creq(const struct ctx *c)
{
    const char *s = mantle_sigv4_result_canonical_request(c->r);
    assert_non_null(s);
    return s;
}

static const char *creq_path(const struct ctx *c)
{
    return line_of(creq(c), 1);
}

static const char *creq_query(const struct ctx *c)
{
    return line_of(creq(c), 2);
}

/* The signed-headers line: the canonical request's last line but one. */
static const char *signed_headers(const struct ctx *c)
{
    const char *s = creq(c);
    int lines = 0;
    for (const char *p = s; *p; p++) lines += *p == '\n';
    return line_of(s, lines - 1);
}

static const char *payload_line(const struct ctx *c)
{
    return strrchr(creq(c), '\n') + 1;
}

static bool is_signed(const struct ctx *c, const char *lname)
{
    const char *list = signed_headers(c);
    size_t n = strlen(lname);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ";");
        if (len == n && memcmp(p, lname, n) == 0) return true;
        p += len;
        if (*p) p++;
    }
    return false;
}

/* The canonical header line's value for a lower-case name, or NULL. */
static const char *canon_header(const struct ctx *c, const char *lname)
{
    const char *s = creq(c);
    for (int i = 3;; i++) {
        const char *l = line_of(s, i);
        if (!l || !*l) return NULL;
        size_t n = strlen(lname);
        if (strncmp(l, lname, n) == 0 && l[n] == ':') return l + n + 1;
    }
}

/* ---- errors ---- */

/* Fills r with a complete signature (token, presign off) so that emptiness after an error
 * means something. */
static void prime(struct mantle_sigv4_result *r)
{
    struct mantle_header h = {"X-Prime", "1"};
    struct mantle_sigv4_request rq = {.method = "POST",
                                      .url = "https://prime.example.com/a?b=c",
                                      .headers = &h,
                                      .header_count = 1,
                                      .payload_kind = MANTLE_PAYLOAD_BYTES,
                                      .payload = "x",
                                      .payload_len = 1};
    struct mantle_sigv4_credentials cr = {AK, SK, TOKEN};
    struct mantle_sigv4_params pa = {"us-east-1", "service", T0, MANTLE_SIGV4_SIGN_BODY, 0};
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, &err), MANTLE_OK);
    assert_non_null(mantle_sigv4_result_canonical_request(r));
}

static void assert_result_empty(const struct mantle_sigv4_result *r)
{
    assert_null(mantle_sigv4_result_canonical_request(r));
    assert_null(mantle_sigv4_result_string_to_sign(r));
    assert_null(mantle_sigv4_result_signature(r));
    assert_null(mantle_sigv4_result_url(r));
    assert_null(mantle_sigv4_result_headers(r));
    assert_int_equal(mantle_sigv4_result_header_count(r), 0);
    assert_null(mantle_sigv4_result_header(r, "Authorization"));
    assert_null(mantle_sigv4_result_header(r, "X-Amz-Security-Token"));
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return true;
    return n == 0;
}

/* Signs c expecting `code`; the message must name `needle`, must not hold the secret key, the
 * session token or any header value, and the result must be empty. */
static void expect_error(struct ctx *c, mantle_code code, const char *needle)
{
    prime(c->r);
    mantle_code rc = sign(c);
    if (rc != code)
        fail_msg("expected error %d naming '%s', got %d (%s)", code, needle, rc, c->err.message);
    assert_int_equal(c->err.code, code);
    if (!contains_ci(c->err.message, needle))
        fail_msg("message '%s' does not name '%s'", c->err.message, needle);
    assert_null(strstr(c->err.message, SK));
    assert_null(strstr(c->err.message, "EXAMPLEKEY"));
    assert_null(strstr(c->err.message, TOKEN));
    assert_null(strstr(c->err.message, "FwoGZXIv"));
    assert_null(strstr(c->err.message, "hv-"));
    for (size_t i = 0; i < c->rq.header_count; i++)
        if (c->hdrs[i].value && strlen(c->hdrs[i].value) >= 3)
            assert_null(strstr(c->err.message, c->hdrs[i].value));
    assert_result_empty(c->r);
    /* err may be NULL. */
    assert_int_equal(mantle_sigv4_sign(&c->rq, &c->cr, &c->pa, c->r, NULL), code);
    assert_result_empty(c->r);
}

/* A context whose credentials carry the token and whose headers carry distinct values, so that
 * expect_error can look for leaks. */
static void error_ctx(struct ctx *c, const char *url)
{
    ctx_init(c, url);
    c->cr.session_token = TOKEN;
    add_hdr(c, "Content-Type", "hv-application/json");
    add_hdr(c, "X-Api-Note", "hv-private-note");
}

static void test_error_header_crlf(void **state)
{
    (void)state;
    struct ctx c;
    error_ctx(&c, URL);
    add_hdr(&c, "X-Injected", "hv-value\r\nX-Evil: hv-1");
    expect_error(&c, MANTLE_E_SIGNING, "X-Injected");
    assert_non_null(strstr(c.err.message, "CR or LF"));
    assert_null(strstr(c.err.message, "X-Evil"));
    ctx_free(&c);

    error_ctx(&c, URL);
    add_hdr(&c, "X-Lf", "hv-value\nmore");
    expect_error(&c, MANTLE_E_SIGNING, "X-Lf");
    ctx_free(&c);

    error_ctx(&c, URL);
    add_hdr(&c, "X-Cr", "hv-value\r");
    expect_error(&c, MANTLE_E_SIGNING, "X-Cr");
    ctx_free(&c);

    /* CR/LF in a name: the name itself is not printed (it could smuggle a header). */
    error_ctx(&c, URL);
    add_hdr(&c, "X-Name\r\nX-Evil", "hv-v");
    expect_error(&c, MANTLE_E_SIGNING, "header name");
    assert_null(strstr(c.err.message, "X-Evil"));
    ctx_free(&c);

    error_ctx(&c, URL);
    add_hdr(&c, "X-Name\n", "hv-v");
    expect_error(&c, MANTLE_E_SIGNING, "header name");
    ctx_free(&c);
}

static void test_error_header_control_chars(void **state)
{
    (void)state;
    static const char *const bad_values[] = {"hv-a\x01z", "hv-\x7f", "hv-\x1b[31m", "hv-\x0b",
                                             "hv-nul\x1f"};
    for (size_t i = 0; i < sizeof bad_values / sizeof *bad_values; i++) {
        struct ctx c;
        error_ctx(&c, URL);
        add_hdr(&c, "X-Ctl", bad_values[i]);
        expect_error(&c, MANTLE_E_SIGNING, "X-Ctl");
        assert_non_null(strstr(c.err.message, "control character"));
        ctx_free(&c);
    }
    /* A tab and UTF-8 bytes are fine in a value. */
    struct ctx c;
    ctx_init(&c, URL);
    add_hdr(&c, "X-Tab", "a\tb");
    add_hdr(&c, "X-Utf8", "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
    sign_ok(&c);
    assert_string_equal(canon_header(&c, "x-tab"), "a b");
    assert_string_equal(canon_header(&c, "x-utf8"), "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
    ctx_free(&c);
}

static void test_error_header_name_not_token(void **state)
{
    (void)state;
    static const char *const bad_names[] = {
        "X Bad", "X:Bad", "X(Bad)", "X/Bad",  "X@Bad", "X\"Bad", "X,Bad",
        "X;Bad", "X=Bad", "X{Bad}", "X[Bad]", "X?Bad", "X\\Bad", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        struct ctx c;
        error_ctx(&c, URL);
        add_hdr(&c, bad_names[i], "hv-v");
        expect_error(&c, MANTLE_E_SIGNING, "header name");
        ctx_free(&c);
    }
    struct ctx c;
    error_ctx(&c, URL);
    add_hdr(&c, "X Bad", "hv-v");
    expect_error(&c, MANTLE_E_SIGNING, "'X Bad'"); /* a printable name is quoted */
    ctx_free(&c);

    error_ctx(&c, URL);
    add_hdr(&c, "", "hv-v");
    expect_error(&c, MANTLE_E_SIGNING, "header name");
    ctx_free(&c);

    /* Every token character is accepted. */
    ctx_init(&c, URL);
    add_hdr(&c, "x!#$%&'*+-.^_`|~Y09", "v");
    sign_ok(&c);
    assert_true(is_signed(&c, "x!#$%&'*+-.^_`|~y09"));
    ctx_free(&c);
}

static void test_error_null_header_parts(void **state)
{
    (void)state;
    struct ctx c;
    error_ctx(&c, URL);
    add_hdr(&c, NULL, "hv-v");
    expect_error(&c, MANTLE_E_INVALID_ARGUMENT, "name");
    ctx_free(&c);

    error_ctx(&c, URL);
    add_hdr(&c, "X-Null", NULL);
    expect_error(&c, MANTLE_E_INVALID_ARGUMENT, "value");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.rq.headers = NULL;
    c.rq.header_count = 2;
    expect_error(&c, MANTLE_E_INVALID_ARGUMENT, "headers");
    ctx_free(&c);

    /* headers NULL with count 0 is an empty list. */
    ctx_init(&c, URL);
    c.rq.headers = NULL;
    sign_ok(&c);
    ctx_free(&c);
}

static void test_error_method(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",      "GE T",  "GET\r\n",   "GET\n",
        "G(ET)", "GET/1", "\xc3\x89T", "0123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ctx c;
        error_ctx(&c, URL);
        c.rq.method = bad[i];
        expect_error(&c, MANTLE_E_SIGNING, "method");
        ctx_free(&c);
    }
    struct ctx c;
    error_ctx(&c, URL);
    c.rq.method = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "method");
    ctx_free(&c);

    /* Any token is a method; it is upper-cased for signing. */
    ctx_init(&c, URL);
    c.rq.method = "m-search";
    sign_ok(&c);
    assert_string_equal(line_of(creq(&c), 0), "M-SEARCH");
    ctx_free(&c);
}

static void test_error_url(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "example.com/",
        "//example.com/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "https:/example.com/",
        "https://user:hv-password@example.com/",
        "https://hv-user@example.com/",
        "https:///path",
        "https://",
        "https://?a=b",
        "https://:443/",
        "https://example.com:0/",
        "https://example.com:65536/",
        "https://example.com:123456/",
        "https://example.com:-1/",
        "https://example.com:abc/",
        "https://example.com:/",
        "https://example.com:44 3/",
        "https://exa mple.com/",
        "https://exa%41mple.com/",
        "https://example.com/\x01",
        "https://example.com/a\r\nb",
        "https://example.com/a\nb",
        "https://example.com/\x7f",
        "https://example.com/a?b=\tc",
        "https://[::1/",
        "https://[zz::1]/",
        "https://[::1]x/",
        "https://[::1]:/",
        "https://[]/",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ctx c;
        error_ctx(&c, bad[i]);
        expect_error(&c, MANTLE_E_SIGNING, "URL");
        assert_null(strstr(c.err.message, "password"));
        ctx_free(&c);
    }
    struct ctx c;
    error_ctx(&c, NULL);
    expect_error(&c, MANTLE_E_SIGNING, "URL");
    ctx_free(&c);

    /* The edges that are fine: upper-case scheme, port 1 and 65535, no path, a fragment. */
    static const char *const good[] = {"HTTPS://example.com/",       "https://example.com:1/",
                                       "https://example.com:65535/", "https://example.com",
                                       "http://example.com?a=b",     "https://example.com/#frag",
                                       "https://[::ffff:127.0.0.1]/"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ctx_init(&c, good[i]);
        sign_ok(&c);
        ctx_free(&c);
    }
}

static void test_error_credentials(void **state)
{
    (void)state;
    struct ctx c;
    error_ctx(&c, URL);
    c.cr.access_key_id = "";
    expect_error(&c, MANTLE_E_SIGNING, "access key");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.cr.access_key_id = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "access key");
    ctx_free(&c);

    static const char *const bad_ak[] = {"AKID EXAMPLE", "AKID/EXAMPLE", "AKID,X",  "AKID=X",
                                         "AKID\r\n",     "AKID\x01",     "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_ak / sizeof *bad_ak; i++) {
        error_ctx(&c, URL);
        c.cr.access_key_id = bad_ak[i];
        expect_error(&c, MANTLE_E_SIGNING, "access key");
        ctx_free(&c);
    }

    error_ctx(&c, URL);
    c.cr.secret_access_key = "";
    expect_error(&c, MANTLE_E_SIGNING, "secret");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.cr.secret_access_key = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "secret");
    ctx_free(&c);

    /* A session token that could split a header. */
    error_ctx(&c, URL);
    c.cr.session_token = TOKEN "\r\nX-Evil: 1";
    expect_error(&c, MANTLE_E_SIGNING, "session token");
    assert_null(strstr(c.err.message, "X-Evil"));
    ctx_free(&c);

    error_ctx(&c, URL);
    c.cr.session_token = TOKEN "\x01";
    expect_error(&c, MANTLE_E_SIGNING, "session token");
    ctx_free(&c);

    /* An empty token is no token. */
    ctx_init(&c, URL);
    c.cr.session_token = "";
    sign_ok(&c);
    assert_null(mantle_sigv4_result_header(c.r, "X-Amz-Security-Token"));
    assert_false(is_signed(&c, "x-amz-security-token"));
    ctx_free(&c);
}

static void test_error_scope(void **state)
{
    (void)state;
    static const char *const bad[] = {"US-EAST-1",
                                      "us_east_1",
                                      "",
                                      "us east 1",
                                      "us-east-1\n",
                                      "\xc3\xa9",
                                      "a123456789012345678901234567890123456789012345678901234567"
                                      "89012345"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ctx c;
        error_ctx(&c, URL);
        c.pa.region = bad[i];
        expect_error(&c, MANTLE_E_SIGNING, "region");
        ctx_free(&c);

        error_ctx(&c, URL);
        c.pa.service = bad[i];
        expect_error(&c, MANTLE_E_SIGNING, "service");
        ctx_free(&c);
    }
    struct ctx c;
    error_ctx(&c, URL);
    c.pa.region = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "region");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.pa.service = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "service");
    ctx_free(&c);

    /* 63 characters is the most. */
    ctx_init(&c, URL);
    c.pa.region = "a12345678901234567890123456789012345678901234567890123456789012";
    c.pa.service = "bedrock-mantle";
    sign_ok(&c);
    assert_non_null(strstr(mantle_sigv4_result_string_to_sign(c.r),
                           "/a12345678901234567890123456789012345678901234567890123456789012/"
                           "bedrock-mantle/aws4_request\n"));
    ctx_free(&c);
}

static void test_presign_expiry_bounds(void **state)
{
    (void)state;
    struct ctx c;
    /* 0 means header signing. */
    ctx_init(&c, URL);
    c.pa.presign_expires = 0;
    sign_ok(&c);
    assert_null(mantle_sigv4_result_url(c.r));
    assert_non_null(mantle_sigv4_result_header(c.r, "Authorization"));
    ctx_free(&c);

    static const unsigned good[] = {1, 3600, MANTLE_SIGV4_MAX_EXPIRES};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        ctx_init(&c, URL);
        c.pa.presign_expires = good[i];
        sign_ok(&c);
        char want[64];
        snprintf(want, sizeof want, "X-Amz-Expires=%u&", good[i]);
        assert_non_null(strstr(mantle_sigv4_result_url(c.r), want));
        assert_non_null(strstr(creq_query(&c), want));
        assert_int_equal(mantle_sigv4_result_header_count(c.r), 0);
        assert_null(mantle_sigv4_result_header(c.r, "Authorization"));
        ctx_free(&c);
    }

    static const unsigned bad[] = {MANTLE_SIGV4_MAX_EXPIRES + 1, 1000000, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        error_ctx(&c, URL);
        c.pa.presign_expires = bad[i];
        expect_error(&c, MANTLE_E_SIGNING, "604800");
        ctx_free(&c);
    }
}

static void test_error_payload_sha256(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",  /* upper case */
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",   /* 63 */
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", /* 65 */
        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "",
        "UNSIGNED-PAYLOAD",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct ctx c;
        error_ctx(&c, URL);
        c.rq.payload_kind = MANTLE_PAYLOAD_SHA256;
        c.rq.payload_sha256 = bad[i];
        expect_error(&c, MANTLE_E_SIGNING, "payload_sha256");
        ctx_free(&c);
    }
    struct ctx c;
    error_ctx(&c, URL);
    c.rq.payload_kind = MANTLE_PAYLOAD_SHA256;
    c.rq.payload_sha256 = NULL;
    expect_error(&c, MANTLE_E_SIGNING, "payload_sha256");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.rq.payload_kind = (enum mantle_payload_kind)7;
    expect_error(&c, MANTLE_E_INVALID_ARGUMENT, "payload_kind");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.rq.payload = NULL;
    c.rq.payload_len = 5;
    expect_error(&c, MANTLE_E_INVALID_ARGUMENT, "payload");
    ctx_free(&c);

    /* A caller's X-Amz-Content-Sha256 longer than a hash is refused, without its value. */
    error_ctx(&c, URL);
    add_hdr(&c, "X-Amz-Content-Sha256",
            "hv-0123456789012345678901234567890123456789012345678901234567890123456789");
    expect_error(&c, MANTLE_E_SIGNING, "X-Amz-Content-Sha256");
    ctx_free(&c);

    /* The signing time must be representable. */
    error_ctx(&c, URL);
    c.pa.signing_time = -1;
    expect_error(&c, MANTLE_E_SIGNING, "time");
    ctx_free(&c);

    error_ctx(&c, URL);
    c.pa.signing_time = 253402300800; /* year 10000 */
    expect_error(&c, MANTLE_E_SIGNING, "time");
    ctx_free(&c);
}

static void test_error_null_arguments(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    prime(c.r);
    assert_int_equal(mantle_sigv4_sign(NULL, &c.cr, &c.pa, c.r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "request"));
    assert_result_empty(c.r);
    prime(c.r);
    assert_int_equal(mantle_sigv4_sign(&c.rq, NULL, &c.pa, c.r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "credentials"));
    assert_result_empty(c.r);
    prime(c.r);
    assert_int_equal(mantle_sigv4_sign(&c.rq, &c.cr, NULL, c.r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "params"));
    assert_result_empty(c.r);
    assert_int_equal(mantle_sigv4_sign(&c.rq, &c.cr, &c.pa, NULL, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "result"));
    assert_int_equal(mantle_sigv4_sign(NULL, NULL, NULL, NULL, NULL), MANTLE_E_INVALID_ARGUMENT);

    /* The accessors accept NULL. */
    assert_result_empty(NULL);
    mantle_sigv4_result_free(NULL);
    assert_int_equal(mantle_sigv4_header_is_unsigned(NULL), 0);
    prime(c.r);
    assert_null(mantle_sigv4_result_header(c.r, NULL));
    ctx_free(&c);
}

/* ---- session tokens ---- */

static void test_session_token(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    c.cr.session_token = TOKEN;
    add_hdr(&c, "X-Amz-Security-Token", "stale-token"); /* replaced, not signed twice */
    sign_ok(&c);
    assert_string_equal(mantle_sigv4_result_header(c.r, "x-amz-security-token"), TOKEN);
    assert_true(is_signed(&c, "x-amz-security-token"));
    assert_string_equal(canon_header(&c, "x-amz-security-token"), TOKEN);
    assert_string_equal(signed_headers(&c), "host;x-amz-date;x-amz-security-token");
    /* The order of the added headers. */
    const struct mantle_header *h = mantle_sigv4_result_headers(c.r);
    assert_int_equal(mantle_sigv4_result_header_count(c.r), 3);
    assert_string_equal(h[0].name, "X-Amz-Date");
    assert_string_equal(h[1].name, "X-Amz-Security-Token");
    assert_string_equal(h[2].name, "Authorization");
    assert_non_null(strstr(h[2].value, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    ctx_free(&c);

    /* OMIT: the header is added, but after signing. */
    ctx_init(&c, URL);
    c.cr.session_token = TOKEN;
    c.pa.flags = MANTLE_SIGV4_OMIT_SESSION_TOKEN;
    sign_ok(&c);
    assert_string_equal(mantle_sigv4_result_header(c.r, "X-Amz-Security-Token"), TOKEN);
    assert_false(is_signed(&c, "x-amz-security-token"));
    assert_null(canon_header(&c, "x-amz-security-token"));
    assert_null(strstr(creq(&c), TOKEN));
    assert_string_equal(signed_headers(&c), "host;x-amz-date");
    ctx_free(&c);

    /* Without a token, a caller's X-Amz-Security-Token is an ordinary header. */
    ctx_init(&c, URL);
    add_hdr(&c, "X-Amz-Security-Token", "callers");
    sign_ok(&c);
    assert_null(mantle_sigv4_result_header(c.r, "X-Amz-Security-Token"));
    assert_string_equal(canon_header(&c, "x-amz-security-token"), "callers");
    ctx_free(&c);
}

static void test_session_token_presign(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    c.cr.session_token = TOKEN;
    c.pa.presign_expires = 900;
    sign_ok(&c);
    const char *enc = "X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLE%2Bsession%2Ftoken%3D%3D";
    assert_non_null(strstr(creq_query(&c), enc));
    const char *url = mantle_sigv4_result_url(c.r);
    assert_non_null(strstr(url, enc));
    assert_true(strstr(url, enc) < strstr(url, "X-Amz-Signature="));
    assert_int_equal(mantle_sigv4_result_header_count(c.r), 0);
    ctx_free(&c);

    /* OMIT: appended to the URL after the signature, not in the canonical query. */
    ctx_init(&c, URL);
    c.cr.session_token = TOKEN;
    c.pa.presign_expires = 900;
    c.pa.flags = MANTLE_SIGV4_OMIT_SESSION_TOKEN;
    sign_ok(&c);
    assert_null(strstr(creq_query(&c), "X-Amz-Security-Token"));
    url = mantle_sigv4_result_url(c.r);
    assert_non_null(strstr(url, enc));
    assert_true(strstr(url, enc) > strstr(url, "X-Amz-Signature="));
    ctx_free(&c);
}

/* ---- payloads ---- */

static void test_unsigned_payload(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    c.rq.method = "PUT";
    c.rq.payload_kind = MANTLE_PAYLOAD_UNSIGNED;
    c.rq.payload = "ignored";
    c.rq.payload_len = 7;
    sign_ok(&c);
    assert_string_equal(mantle_sigv4_result_header(c.r, "X-Amz-Content-Sha256"),
                        "UNSIGNED-PAYLOAD");
    assert_true(is_signed(&c, "x-amz-content-sha256"));
    assert_string_equal(canon_header(&c, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    assert_string_equal(payload_line(&c), "UNSIGNED-PAYLOAD");
    const struct mantle_header *h = mantle_sigv4_result_headers(c.r);
    assert_int_equal(mantle_sigv4_result_header_count(c.r), 3);
    assert_string_equal(h[0].name, "X-Amz-Date");
    assert_string_equal(h[1].name, "X-Amz-Content-Sha256");
    assert_string_equal(h[2].name, "Authorization");
    ctx_free(&c);

    /* Presigned: the literal is signed, nothing is added. */
    ctx_init(&c, URL);
    c.rq.payload_kind = MANTLE_PAYLOAD_UNSIGNED;
    c.pa.presign_expires = 60;
    sign_ok(&c);
    assert_string_equal(payload_line(&c), "UNSIGNED-PAYLOAD");
    assert_int_equal(mantle_sigv4_result_header_count(c.r), 0);
    ctx_free(&c);
}

static void test_precomputed_sha256(void **state)
{
    (void)state;
    static const char body[] = "{\"model\":\"gpt-4o\",\"input\":\"hello\"}";
    static const char body_sha[] =
        "50329e51ad520f21b77bad0b01999930ff556cd1bf18434701251ba6c9f877bc";
    for (int flags = 0; flags < 2; flags++) {
        struct ctx a, b;
        ctx_init(&a, URL);
        a.rq.method = "POST";
        a.rq.payload = body;
        a.rq.payload_len = strlen(body);
        a.pa.flags = flags ? MANTLE_SIGV4_SIGN_BODY : 0;
        sign_ok(&a);
        ctx_init(&b, URL);
        b.rq.method = "POST";
        b.rq.payload_kind = MANTLE_PAYLOAD_SHA256;
        b.rq.payload_sha256 = body_sha;
        b.pa.flags = a.pa.flags;
        sign_ok(&b);
        assert_string_equal(payload_line(&a), body_sha);
        assert_string_equal(creq(&a), creq(&b));
        assert_string_equal(mantle_sigv4_result_signature(a.r), mantle_sigv4_result_signature(b.r));
        if (flags) {
            assert_string_equal(mantle_sigv4_result_header(a.r, "X-Amz-Content-Sha256"), body_sha);
            assert_string_equal(mantle_sigv4_result_header(b.r, "X-Amz-Content-Sha256"), body_sha);
            assert_true(is_signed(&a, "x-amz-content-sha256"));
        } else {
            assert_null(mantle_sigv4_result_header(a.r, "X-Amz-Content-Sha256"));
            assert_false(is_signed(&a, "x-amz-content-sha256"));
        }
        ctx_free(&a);
        ctx_free(&b);
    }
    /* An empty body, with or without a pointer. */
    struct ctx c;
    ctx_init(&c, URL);
    c.rq.payload = NULL;
    c.rq.payload_len = 0;
    sign_ok(&c);
    assert_string_equal(payload_line(&c), EMPTY_SHA);
    ctx_free(&c);
}

static void test_caller_content_sha256(void **state)
{
    (void)state;
    /* A caller's X-Amz-Content-Sha256 is the payload hash that is signed (as botocore does),
     * and no second one is added. */
    struct ctx c;
    ctx_init(&c, URL);
    c.rq.method = "PUT";
    c.rq.payload = "abc";
    c.rq.payload_len = 3;
    c.pa.flags = MANTLE_SIGV4_SIGN_BODY;
    add_hdr(&c, "x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    sign_ok(&c);
    assert_string_equal(payload_line(&c), "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    assert_null(mantle_sigv4_result_header(c.r, "X-Amz-Content-Sha256"));
    assert_string_equal(canon_header(&c, "x-amz-content-sha256"),
                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER");
    ctx_free(&c);
}

/* ---- headers ---- */

static const char *const excluded[] = {
    "accept-encoding",
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
};

static void test_excluded_headers(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    c.rq.method = "POST";
    char upper[sizeof excluded / sizeof *excluded][64];
    for (size_t i = 0; i < sizeof excluded / sizeof *excluded; i++) {
        assert_int_equal(mantle_sigv4_header_is_unsigned(excluded[i]), 1);
        snprintf(upper[i], sizeof upper[i], "%s", excluded[i]);
        for (char *p = upper[i]; *p; p++)
            if (p == upper[i] || p[-1] == '-') *p = (char)(*p - 32);
        assert_int_equal(mantle_sigv4_header_is_unsigned(upper[i]), 1);
        add_hdr(&c, i % 2 ? upper[i] : excluded[i], "some value");
    }
    static const char *const signed_names[] = {"Content-Type",
                                               "Content-Length",
                                               "Accept",
                                               "X-Stainless-Lang",
                                               "X-Stainless-Package-Version",
                                               "x-stainless-retry-count",
                                               "OpenAI-Beta",
                                               "Idempotency-Key",
                                               "X-Amz-Target"};
    for (size_t i = 0; i < sizeof signed_names / sizeof *signed_names; i++) {
        assert_int_equal(mantle_sigv4_header_is_unsigned(signed_names[i]), 0);
        add_hdr(&c, signed_names[i], "v");
    }
    /* Near misses are ordinary headers. */
    assert_int_equal(mantle_sigv4_header_is_unsigned("user-agentx"), 0);
    assert_int_equal(mantle_sigv4_header_is_unsigned("t"), 0);
    assert_int_equal(mantle_sigv4_header_is_unsigned(""), 0);
    assert_int_equal(mantle_sigv4_header_is_unsigned("x-amz-date"), 0);
    sign_ok(&c);
    for (size_t i = 0; i < sizeof excluded / sizeof *excluded; i++) {
        assert_false(is_signed(&c, excluded[i]));
        assert_null(canon_header(&c, excluded[i]));
    }
    assert_string_equal(signed_headers(&c),
                        "accept;content-length;content-type;host;idempotency-key;openai-beta;"
                        "x-amz-date;x-amz-target;x-stainless-lang;x-stainless-package-version;"
                        "x-stainless-retry-count");
    /* Our Authorization is the only one added. */
    assert_string_not_equal(mantle_sigv4_result_header(c.r, "Authorization"), "some value");
    ctx_free(&c);

    /* The same when presigning. */
    ctx_init(&c, URL);
    add_hdr(&c, "User-Agent", "x");
    add_hdr(&c, "Authorization", "x");
    add_hdr(&c, "Accept", "x");
    c.pa.presign_expires = 10;
    sign_ok(&c);
    assert_string_equal(signed_headers(&c), "accept;host");
    assert_non_null(strstr(creq_query(&c), "X-Amz-SignedHeaders=accept%3Bhost"));
    ctx_free(&c);

    /* A caller's X-Amz-Date is ignored: ours is signed. */
    ctx_init(&c, URL);
    add_hdr(&c, "X-Amz-Date", "19990101T000000Z");
    sign_ok(&c);
    assert_string_equal(canon_header(&c, "x-amz-date"), "20150830T123600Z");
    assert_string_equal(mantle_sigv4_result_header(c.r, "X-Amz-Date"), "20150830T123600Z");
    ctx_free(&c);
}

static void test_host_from_url(void **state)
{
    (void)state;
    static const struct {
        const char *url, *host;
    } cases[] = {
        {"https://EXAMPLE.Amazonaws.COM/", "example.amazonaws.com"},
        {"https://example.com:443/", "example.com"},
        {"http://example.com:80/", "example.com"},
        {"https://example.com:80/", "example.com:80"},
        {"http://example.com:443/", "example.com:443"},
        {"https://example.com:8443/", "example.com:8443"},
        {"https://example.com:00443/", "example.com"},
        {"http://localhost:8080", "localhost:8080"},
        {"https://127.0.0.1/", "127.0.0.1"},
        {"https://[::1]/", "[::1]"},
        {"https://[2001:DB8::1]:8443/x", "[2001:db8::1]:8443"},
        {"https://[2001:db8::1]:443/", "[2001:db8::1]"},
        {"http://[::ffff:10.0.0.1]:80/", "[::ffff:10.0.0.1]"},
        {"https://my_bucket.s3.amazonaws.com/", "my_bucket.s3.amazonaws.com"},
        {"https://example.com?x=1", "example.com"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct ctx c;
        ctx_init(&c, cases[i].url);
        sign_ok(&c);
        const char *got = canon_header(&c, "host");
        if (!got || strcmp(got, cases[i].host) != 0)
            fail_msg("%s: host '%s', want '%s'", cases[i].url, got ? got : "(none)", cases[i].host);
        ctx_free(&c);
    }
    /* A caller's Host header wins over the URL's, trimmed but otherwise as given. */
    struct ctx c;
    ctx_init(&c, "https://127.0.0.1:8443/");
    add_hdr(&c, "HOST", "  Bedrock-Mantle.us-east-1.api.aws ");
    sign_ok(&c);
    assert_string_equal(canon_header(&c, "host"), "Bedrock-Mantle.us-east-1.api.aws");
    assert_string_equal(signed_headers(&c), "host;x-amz-date");
    ctx_free(&c);

    /* The presigned URL keeps the authority as given. */
    ctx_init(&c, "https://EXAMPLE.com:443/a%20b?x=1");
    c.pa.presign_expires = 5;
    sign_ok(&c);
    assert_true(strncmp(mantle_sigv4_result_url(c.r), "https://EXAMPLE.com:443/a%20b?", 30) == 0);
    ctx_free(&c);
}

static void test_repeated_headers_and_trimming(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    add_hdr(&c, "X-Rep", "first");
    add_hdr(&c, "Zeta", "z");
    add_hdr(&c, "x-rep", "  second  ");
    add_hdr(&c, "Alpha", "a");
    add_hdr(&c, "X-REP", "third");
    add_hdr(&c, "x-rep", "");
    add_hdr(&c, "X-Trim", "  a   b  ");
    add_hdr(&c, "X-Tabs", "\ta\t\tb\t");
    add_hdr(&c, "X-Mixed", " \t a \t  b\t c \t");
    add_hdr(&c, "X-Empty", "");
    add_hdr(&c, "X-Blank", " \t \t");
    add_hdr(&c, "X-Quoted", "\"a   b   c\"");
    sign_ok(&c);
    assert_string_equal(canon_header(&c, "x-rep"), "first,second,third,");
    assert_string_equal(canon_header(&c, "x-trim"), "a b");
    assert_string_equal(canon_header(&c, "x-tabs"), "a b");
    assert_string_equal(canon_header(&c, "x-mixed"), "a b c");
    assert_string_equal(canon_header(&c, "x-empty"), "");
    assert_string_equal(canon_header(&c, "x-blank"), "");
    assert_string_equal(canon_header(&c, "x-quoted"), "\"a b c\"");
    assert_string_equal(signed_headers(&c), "alpha;host;x-amz-date;x-blank;x-empty;x-mixed;"
                                            "x-quoted;x-rep;x-tabs;x-trim;zeta");
    /* Sorted by name; a name that is a prefix of another comes first. */
    ctx_free(&c);
    ctx_init(&c, URL);
    add_hdr(&c, "x-a-b", "2");
    add_hdr(&c, "x-a", "1");
    add_hdr(&c, "X-A_", "3");
    sign_ok(&c);
    assert_string_equal(signed_headers(&c), "host;x-a;x-a-b;x-a_;x-amz-date");
    ctx_free(&c);
}

/* ---- query strings and paths ---- */

static void check_query(const char *query, const char *want)
{
    char url[1024];
    snprintf(url, sizeof url, "https://example.com/%s", query);
    struct ctx c;
    ctx_init(&c, url);
    sign_ok(&c);
    const char *got = creq_query(&c);
    if (strcmp(got, want) != 0) fail_msg("query '%s': got '%s', want '%s'", query, got, want);
    ctx_free(&c);
}

static void test_query_edge_cases(void **state)
{
    (void)state;
    check_query("", "");
    check_query("?", "");
    check_query("?b=2&a=1&a=0", "a=0&a=1&b=2");                         /* repeated, unsorted */
    check_query("?a=b&a=B&a=a&a=", "a=&a=B&a=a&a=b");                   /* values sorted too */
    check_query("?a=&b", "a=&b=");                                      /* empty, no '=' */
    check_query("?a&&b&", "a=&b=");                                     /* empty pieces */
    check_query("?=x&=&a", "=&=x&a=");                                  /* empty keys */
    check_query("?Z=1&a=1&_=1&~=1&-=1&.=1", "-=1&.=1&Z=1&_=1&a=1&~=1"); /* byte order */
    check_query("?Param2=v&Param10=v&param1=v", "Param10=v&Param2=v&param1=v");
    check_query("?a%20b=1&a-b=2", "a%20b=1&a-b=2"); /* sorted after encoding */
    check_query("?k=%2F%3F%26%3D%23", "k=%2F%3F%26%3D%23");
    check_query("?k=a/b:c@d!$'()*,;", "k=a%2Fb%3Ac%40d%21%24%27%28%29%2A%2C%3B");
    check_query("?k=a=b=c", "k=a%3Db%3Dc");
    check_query("?k=%2f%3a%e1%88%b4", "k=%2F%3A%E1%88%B4");    /* lower-case hex */
    check_query("?\xe1\x88\xb4=\xc3\xa9", "%E1%88%B4=%C3%A9"); /* raw UTF-8 */
    check_query("?%E1%88%B4=%C3%A9", "%E1%88%B4=%C3%A9");
    check_query("?a=b+c&d=%2B&e=%20&f=b c", "a=b%2Bc&d=%2B&e=%20&f=b%20c"); /* '+' is '+' */
    check_query("?a=%zz&b=%&c=%4&d=%%41", "a=%25zz&b=%25&c=%254&d=%25A");   /* bad escapes */
    check_query("?-._~AZaz09=-._~AZaz09", "-._~AZaz09=-._~AZaz09");
    check_query("?a=1#frag&b=2", "a=1");    /* the fragment is not sent */
    check_query("?x=%FF%00y", "x=%FF%00y"); /* bytes that are not UTF-8, and NUL, survive */
    check_query("?[]=<>", "%5B%5D=%3C%3E");
}

/* A query long enough for the merge sort (over 32 parameters), checked against the order the
 * short-query sort gives for each prefix. */
static void test_query_long(void **state)
{
    (void)state;
    char url[8192] = "https://example.com/?";
    char want[8192] = "";
    for (int i = 99; i >= 0; i--) {
        char piece[32];
        snprintf(piece, sizeof piece, "%sk%02d=%d", i == 99 ? "" : "&", i, i % 7);
        strcat(url, piece);
    }
    strcat(url, "&k50=0&k50=9");
    for (int i = 0; i < 100; i++) {
        char piece[32];
        if (i == 50) {
            strcat(want, "&k50=0&k50=1&k50=9");
            continue;
        }
        snprintf(piece, sizeof piece, "%sk%02d=%d", i ? "&" : "", i, i % 7);
        strcat(want, piece);
    }
    struct ctx c;
    ctx_init(&c, url);
    sign_ok(&c);
    assert_string_equal(creq_query(&c), want);
    ctx_free(&c);
}

static void check_path(const char *path, bool normalize, const char *want)
{
    char url[1024];
    snprintf(url, sizeof url, "https://example.com%s", path);
    struct ctx c;
    ctx_init(&c, url);
    c.pa.flags = normalize ? 0 : MANTLE_SIGV4_NO_NORMALIZE_PATH;
    sign_ok(&c);
    const char *got = creq_path(&c);
    if (strcmp(got, want) != 0)
        fail_msg("path '%s' (%s): got '%s', want '%s'", path, normalize ? "normalized" : "S3", got,
                 want);
    ctx_free(&c);
}

static void test_paths(void **state)
{
    (void)state;
    /* Normal services: dot and empty segments removed, then the wire path encoded again. */
    check_path("", true, "/");
    check_path("/", true, "/");
    check_path("//", true, "/");
    check_path("/a/./b/../c//d/", true, "/a/c/d/");
    check_path("/a/b/..", true, "/a");
    check_path("/a/b/.", true, "/a/b");
    check_path("/../../a", true, "/a");
    check_path("/a/..", true, "/");
    check_path("/a/../b", true, "/b");
    check_path("/a/b/../../c/", true, "/c/");
    check_path("/a%20b", true, "/a%2520b");
    check_path("/a b", true, "/a%20b");
    check_path("/%2F/x", true, "/%252F/x");
    check_path("/a%2fb", true, "/a%252fb");
    check_path("/$delete!*'()", true, "/%24delete%21%2A%27%28%29");
    check_path("/\xe1\x88\xb4", true, "/%E1%88%B4");
    check_path("/%E1%88%B4", true, "/%25E1%2588%25B4");
    check_path("/-._~AZaz09", true, "/-._~AZaz09");
    check_path("/a+b", true, "/a%2Bb");
    check_path("/.../a", true, "/.../a");
    /* S3: as given, each segment decoded and encoded once. */
    check_path("", false, "/");
    check_path("/", false, "/");
    check_path("//a//b/../c/./", false, "//a//b/../c/./");
    check_path("/a%20b", false, "/a%20b");
    check_path("/a b", false, "/a%20b");
    check_path("/a%2fb", false, "/a%2Fb");
    check_path("/%41%7e", false, "/A~");
    check_path("/$delete", false, "/%24delete");
    check_path("/\xe1\x88\xb4/%E1%88%B4", false, "/%E1%88%B4/%E1%88%B4");
    check_path("/50%", false, "/50%25");
    check_path("/a+b", false, "/a%2Bb");
}

/* ---- result reuse ---- */

struct variant {
    const char *method, *url, *token;
    unsigned flags, presign;
    enum mantle_payload_kind kind;
    const char *body;
    int headers;     /* how many of the sample headers */
    bool make_error; /* an invalid header, to interleave failures */
    int header_set;  /* 0: the sample headers; else a change made to them (see sign_variant) */
    int64_t dt;      /* seconds after the usual signing time */
};

static const struct mantle_header sample_headers[] = {
    {"Content-Type", "application/json"}, {"X-Rep", "1"},       {"x-rep", " 2 "},
    {"Accept", "text/event-stream"},      {"User-Agent", "ua"}, {"X-Stainless-Lang", "c"},
};

static void sign_variant(const struct variant *v, struct mantle_sigv4_result *r, mantle_code *rc)
{
    struct mantle_header h[8];
    size_t n = 0;
    for (int i = 0; i < v->headers; i++) h[n++] = sample_headers[i];
    /* Each a change the header memo must see (same count, one byte, a NULL, ...). */
    /* clang-format off */
    switch (v->header_set) {
    case 1: h[0].value = "application/json; charset=utf-8"; break;
    case 2: h[0].name = "content-type"; break; /* the same canonical header, other bytes */
    case 3: h[n - 1] = (struct mantle_header){"X-Amz-Content-Sha256", "  " EMPTY_SHA "  "}; break;
    case 4: h[n - 1] = (struct mantle_header){"x-amz-content-sha256", " \t "}; break;
    case 5: h[1].value = NULL; break;
    case 6: h[2].value = " 2  "; break; /* trimmed, it is the same value */
    case 7: h[0].value = "application/jsom"; break; /* one byte, the same length */
    case 8: h[1].name = "X-Req"; break;
    }
    /* clang-format on */
    if (v->make_error) h[n++] = (struct mantle_header){"X-Bad", "a\nb"};
    struct mantle_sigv4_request rq = {.method = v->method,
                                      .url = v->url,
                                      .headers = h,
                                      .header_count = n,
                                      .payload_kind = v->kind,
                                      .payload = v->body,
                                      .payload_len = v->body ? strlen(v->body) : 0};
    struct mantle_sigv4_credentials cr = {AK, SK, v->token};
    struct mantle_sigv4_params pa = {"eu-west-1", "bedrock-mantle", T0 + 86400 * 3 + v->dt,
                                     v->flags, v->presign};
    *rc = mantle_sigv4_sign(&rq, &cr, &pa, r, NULL);
}

static char *snapshot(const struct mantle_sigv4_result *r)
{
    char *out = malloc(65536);
    assert_non_null(out);
    const char *cr = mantle_sigv4_result_canonical_request(r);
    const char *sts = mantle_sigv4_result_string_to_sign(r);
    const char *sig = mantle_sigv4_result_signature(r);
    const char *url = mantle_sigv4_result_url(r);
    int n = snprintf(out, 65536, "%s\n--\n%s\n--\n%s\n--\n%s\n--\n", cr ? cr : "(null)",
                     sts ? sts : "(null)", sig ? sig : "(null)", url ? url : "(null)");
    const struct mantle_header *h = mantle_sigv4_result_headers(r);
    for (size_t i = 0; i < mantle_sigv4_result_header_count(r); i++)
        n += snprintf(out + n, 65536 - (size_t)n, "%s: %s\n", h[i].name, h[i].value);
    return out;
}

static void test_result_reuse(void **state)
{
    (void)state;
    static const struct variant variants[] = {
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"GET", "https://example.com/a/../b?z=1&a=2", NULL, 0, 0, MANTLE_PAYLOAD_BYTES, NULL, 0,
         false, 0, 0},
        {"PUT", "https://bucket.s3.amazonaws.com/k//x%20y", TOKEN, MANTLE_SIGV4_NO_NORMALIZE_PATH,
         0, MANTLE_PAYLOAD_UNSIGNED, NULL, 2, false, 0, 0},
        {"GET", "https://example.com/presign?x=1", TOKEN, 0, 3600, MANTLE_PAYLOAD_BYTES, NULL, 3,
         false, 0, 0},
        {"POST", "https://example.com/", NULL, 0, 0, MANTLE_PAYLOAD_BYTES, "x", 4, true, 0, 0},
        {"GET", "https://example.com/presign", TOKEN, MANTLE_SIGV4_OMIT_SESSION_TOKEN, 60,
         MANTLE_PAYLOAD_BYTES, NULL, 1, false, 0, 0},
        {"DELETE", "http://localhost:8080/x", TOKEN, MANTLE_SIGV4_OMIT_SESSION_TOKEN, 0,
         MANTLE_PAYLOAD_BYTES, NULL, 5, false, 0, 0},
        {"PATCH", "ftp://bad/", NULL, 0, 0, MANTLE_PAYLOAD_BYTES, NULL, 0, false, 0, 0},
    /* Variant 0 changed in one thing each: what the header memo is keyed by, or what it
     * writes into its lines (the date, the payload hash). */
#define V0(...)                                                                                    \
    {"POST",                                                                                       \
     "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses",                               \
     TOKEN,                                                                                        \
     MANTLE_SIGV4_SIGN_BODY,                                                                       \
     0,                                                                                            \
     MANTLE_PAYLOAD_BYTES,                                                                         \
     "{\"input\":\"hi\"}",                                                                         \
     6,                                                                                            \
     false,                                                                                        \
     __VA_ARGS__}
        V0(0, 1),
        V0(0, 86400),
        V0(1, 0),
        V0(2, 0),
        V0(3, 0),
        V0(4, 0),
        V0(5, 0),
        V0(6, 0),
        V0(7, 0),
        V0(8, 0),
#undef V0
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"ho\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN "2",
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", NULL,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY | MANTLE_SIGV4_OMIT_SESSION_TOKEN, 0, MANTLE_PAYLOAD_BYTES,
         "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY | MANTLE_SIGV4_SIGN_GIVEN_HEADERS, 0, MANTLE_PAYLOAD_BYTES,
         "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN, 0, 0,
         MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_UNSIGNED, NULL, 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-2.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/other", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 5, false, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 0, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, true, 0, 0},
        {"POST", "https://bedrock-mantle.eu-west-1.api.aws/openai/v1/responses", TOKEN,
         MANTLE_SIGV4_SIGN_BODY, 300, MANTLE_PAYLOAD_BYTES, "{\"input\":\"hi\"}", 6, false, 0, 0},
    };
    size_t nv = sizeof variants / sizeof *variants;
    char *fresh[sizeof variants / sizeof *variants];
    mantle_code fresh_rc[sizeof variants / sizeof *variants];
    for (size_t i = 0; i < nv; i++) {
        struct mantle_sigv4_result *r = mantle_sigv4_result_new();
        assert_non_null(r);
        sign_variant(&variants[i], r, &fresh_rc[i]);
        fresh[i] = snapshot(r);
        mantle_sigv4_result_free(r);
    }
    assert_int_equal(fresh_rc[4], MANTLE_E_SIGNING);
    assert_int_equal(fresh_rc[7], MANTLE_E_SIGNING);
    assert_int_equal(fresh_rc[14], MANTLE_E_INVALID_ARGUMENT); /* the NULL value */
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_non_null(r);
    /* From variant 0 to each one and back, twice in a row each: the header memo taken when
     * it applies, and never when it does not. */
    for (size_t j = 0; j < nv; j++) {
        const size_t seq[] = {0, j, j, 0, 0};
        for (size_t q = 0; q < sizeof seq / sizeof *seq; q++) {
            size_t i = seq[q];
            mantle_code rc;
            sign_variant(&variants[i], r, &rc);
            assert_int_equal(rc, fresh_rc[i]);
            char *got = snapshot(r);
            if (strcmp(got, fresh[i]) != 0)
                fail_msg("variant %zu after %zu:\n%s\nvs fresh:\n%s", i, q ? seq[q - 1] : i, got,
                         fresh[i]);
            free(got);
        }
    }
    for (size_t round = 0; round < 500; round++) {
        size_t i = (round * 5 + round / 7) % nv;
        mantle_code rc;
        sign_variant(&variants[i], r, &rc);
        assert_int_equal(rc, fresh_rc[i]);
        char *s = snapshot(r);
        if (strcmp(s, fresh[i]) != 0)
            fail_msg("round %zu variant %zu:\n%s\nvs fresh:\n%s", round, i, s, fresh[i]);
        free(s);
    }
    mantle_sigv4_result_free(r);
    for (size_t i = 0; i < nv; i++) free(fresh[i]);
}

/* ---- the signing-key cache ---- */

static void sign_with(const char *secret, const char *region, int64_t t, unsigned flags,
                      char out[65])
{
    struct mantle_sigv4_request rq = {
        .method = "GET", .url = URL, .payload_kind = MANTLE_PAYLOAD_BYTES};
    struct mantle_sigv4_credentials cr = {AK, secret, NULL};
    struct mantle_sigv4_params pa = {region, "service", t, flags, 0};
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_non_null(r);
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (mantle_sigv4_sign(&rq, &cr, &pa, r, &err) != MANTLE_OK) fail_msg("%s", err.message);
    memcpy(out, mantle_sigv4_result_signature(r), 65);
    mantle_sigv4_result_free(r);
}

static void test_key_cache(void **state)
{
    (void)state;
    /* The suite's get-vanilla signature, cached, uncached, and after a clear. */
    const char *vanilla = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    char sig[65];
    mantle_sigv4_key_cache_clear();
    for (int i = 0; i < 3; i++) {
        sign_with(SK, "us-east-1", T0, 0, sig);
        assert_string_equal(sig, vanilla);
        sign_with(SK, "us-east-1", T0, MANTLE_SIGV4_NO_KEY_CACHE, sig);
        assert_string_equal(sig, vanilla);
        mantle_sigv4_key_cache_clear();
    }

    /* More distinct secrets, regions and dates than the cache holds, several rounds in
     * different orders: always the uncached signature. */
    enum { N = 3 * MANTLE_SIGV4_KEY_CACHE_SIZE };
    char secrets[N][48], regions[N][16];
    char want[N][65];
    for (int i = 0; i < N; i++) {
        snprintf(secrets[i], sizeof secrets[i], "secret-%02d/K7MDENG+bPxRfiCY", i % 13);
        snprintf(regions[i], sizeof regions[i], "region-%d", i % 5);
        sign_with(secrets[i], regions[i], T0 + (int64_t)(i % 4) * 86400, MANTLE_SIGV4_NO_KEY_CACHE,
                  want[i]);
    }
    for (int round = 0; round < 6; round++) {
        for (int k = 0; k < N; k++) {
            int i = round % 2 ? N - 1 - k : (k * 7 + round) % N;
            sign_with(secrets[i], regions[i], T0 + (int64_t)(i % 4) * 86400, 0, sig);
            if (strcmp(sig, want[i]) != 0)
                fail_msg("round %d entry %d: cached key differs", round, i);
            /* The same entry twice in a row: a hit. */
            sign_with(secrets[i], regions[i], T0 + (int64_t)(i % 4) * 86400, 0, sig);
            assert_string_equal(sig, want[i]);
        }
        if (round == 3) mantle_sigv4_key_cache_clear();
    }
    /* Secrets that share a prefix, and a long one, are distinct keys. */
    char long_secret[300];
    memset(long_secret, 'k', sizeof long_secret - 1);
    long_secret[sizeof long_secret - 1] = '\0';
    char a[65], b[65], c[65], d[65];
    sign_with("abc", "us-east-1", T0, 0, a);
    sign_with("abcd", "us-east-1", T0, 0, b);
    sign_with(long_secret, "us-east-1", T0, 0, c);
    sign_with(long_secret, "us-east-1", T0, MANTLE_SIGV4_NO_KEY_CACHE, d);
    assert_string_not_equal(a, b);
    assert_string_equal(c, d);
    /* The same secret and region on another service is another key. */
    struct mantle_sigv4_request rq = {
        .method = "GET", .url = URL, .payload_kind = MANTLE_PAYLOAD_BYTES};
    struct mantle_sigv4_credentials cr = {AK, "abc", NULL};
    struct mantle_sigv4_params pa = {"us-east-1", "other", T0, 0, 0};
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, NULL), MANTLE_OK);
    char e[65];
    memcpy(e, mantle_sigv4_result_signature(r), 65);
    pa.flags = MANTLE_SIGV4_NO_KEY_CACHE;
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, NULL), MANTLE_OK);
    assert_string_equal(e, mantle_sigv4_result_signature(r));
    assert_string_not_equal(e, a);
    mantle_sigv4_result_free(r);
    mantle_sigv4_key_cache_clear();
}

static void sign_scope(const char *secret, const char *region, const char *service, int64_t t,
                       unsigned flags, char out[65])
{
    struct mantle_sigv4_request rq = {
        .method = "GET", .url = URL, .payload_kind = MANTLE_PAYLOAD_BYTES};
    struct mantle_sigv4_credentials cr = {AK, secret, NULL};
    struct mantle_sigv4_params pa = {region, service, t, flags, 0};
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_non_null(r);
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, NULL), MANTLE_OK);
    memcpy(out, mantle_sigv4_result_signature(r), 65);
    mantle_sigv4_result_free(r);
}

/* Every part of a cache entry's key matters: entries that differ in only one part (secret,
 * date, region or service; near-identical values) never stand in for each other. */
static void test_key_cache_components(void **state)
{
    (void)state;
    static const struct {
        const char *secret, *region, *service;
        int64_t t;
    } keys[] = {
        {"secret-A", "us-east-1", "bedrock", T0},
        {"secret-B", "us-east-1", "bedrock", T0},         /* secret */
        {"secret-A", "us-east-1", "bedrock", T0 + 86400}, /* date */
        {"secret-A", "us-east-1", "bedrock", T0 + 3600},  /* same date: same key */
        {"secret-A", "us-east-2", "bedrock", T0},         /* region */
        {"secret-A", "us-east-1", "bedrock-mantle", T0},  /* service */
        {"secret-A", "us-east-1", "bedrocks", T0},        /* service, one more byte */
        {"secret-A", "us-east-10", "bedrock", T0},        /* region, one more byte */
        {"secret-A ", "us-east-1", "bedrock", T0},        /* secret, one more byte */
    };
    enum { NK = sizeof keys / sizeof *keys };
    char want[NK][65];
    for (int i = 0; i < NK; i++)
        sign_scope(keys[i].secret, keys[i].region, keys[i].service, keys[i].t,
                   MANTLE_SIGV4_NO_KEY_CACHE, want[i]);
    for (int round = 0; round < 4; round++) {
        if (round == 2) mantle_sigv4_key_cache_clear();
        for (int k = 0; k < NK; k++) {
            int i = round % 2 ? NK - 1 - k : k;
            char sig[65];
            sign_scope(keys[i].secret, keys[i].region, keys[i].service, keys[i].t, 0, sig);
            if (strcmp(sig, want[i]) != 0) fail_msg("round %d, key %d: wrong cached key", round, i);
        }
    }
    mantle_sigv4_key_cache_clear();
}

/* ---- many threads ---- */

#define THREADS 12
#define PER_THREAD 2500
#define N_SECRETS 4
#define N_DATES 3
#define N_REGIONS 2
#define COMBOS (N_SECRETS * N_DATES * N_REGIONS) /* 24: more than the cache holds */

static const char *const thread_secrets[N_SECRETS] = {
    SK, "secret-one", "secret-two/+=", "a-much-longer-secret-key-0123456789"};
static const char *const thread_regions[N_REGIONS] = {"us-east-1", "eu-central-1"};
static char expected_sigs[COMBOS][2][65]; /* [combo][body variant] */

static void thread_sign(int combo, int variant, struct mantle_sigv4_result *r, unsigned flags,
                        char out[65])
{
    int s = combo % N_SECRETS, d = (combo / N_SECRETS) % N_DATES, g = combo / (N_SECRETS * N_DATES);
    struct mantle_header h[2] = {{"Content-Type", "application/json"}, {"X-N", "1"}};
    const char *body = variant ? "{\"input\":\"thread\"}" : "";
    struct mantle_sigv4_request rq = {.method = "POST",
                                      .url = "https://bedrock-mantle.us-east-1.api.aws/v1/x",
                                      .headers = h,
                                      .header_count = 2,
                                      .payload_kind = MANTLE_PAYLOAD_BYTES,
                                      .payload = body,
                                      .payload_len = strlen(body)};
    struct mantle_sigv4_credentials cr = {AK, thread_secrets[s], variant ? TOKEN : NULL};
    struct mantle_sigv4_params pa = {thread_regions[g], "bedrock-mantle",
                                     T0 + (int64_t)d * 86400 + variant, flags, 0};
    if (mantle_sigv4_sign(&rq, &cr, &pa, r, NULL) != MANTLE_OK) {
        out[0] = '\0';
        return;
    }
    memcpy(out, mantle_sigv4_result_signature(r), 65);
}

struct worker {
    int id;
    int mismatches;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    if (!r) {
        w->mismatches = -1;
        return NULL;
    }
    unsigned x = (unsigned)w->id * 2654435761u + 1;
    for (int i = 0; i < PER_THREAD; i++) {
        x = x * 1103515245u + 12345u;
        int combo = (int)((x >> 8) % COMBOS), variant = (int)((x >> 20) & 1);
        char sig[65];
        thread_sign(combo, variant, r, 0, sig);
        if (strcmp(sig, expected_sigs[combo][variant]) != 0) w->mismatches++;
        /* One thread also clears the cache now and then, under everyone's feet. */
        if (w->id == 0 && i % 500 == 250) mantle_sigv4_key_cache_clear();
    }
    mantle_sigv4_result_free(r);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_non_null(r);
    for (int combo = 0; combo < COMBOS; combo++)
        for (int v = 0; v < 2; v++) {
            thread_sign(combo, v, r, MANTLE_SIGV4_NO_KEY_CACHE, expected_sigs[combo][v]);
            assert_int_equal(strlen(expected_sigs[combo][v]), 64);
        }
    mantle_sigv4_result_free(r);
    pthread_t tids[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){i, 0};
        assert_int_equal(pthread_create(&tids[i], NULL, worker_main, &workers[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(tids[i], NULL), 0);
        if (workers[i].mismatches) printf("thread %d: %d mismatches\n", i, workers[i].mismatches);
        total += workers[i].mismatches;
    }
    assert_int_equal(total, 0);
    mantle_sigv4_key_cache_clear();
}

/* ---- signing time ---- */

static void test_signing_time(void **state)
{
    (void)state;
    struct ctx c;
    ctx_init(&c, URL);
    c.pa.signing_time = 0; /* now */
    time_t before = time(NULL);
    sign_ok(&c);
    time_t after = time(NULL);
    const char *date = mantle_sigv4_result_header(c.r, "X-Amz-Date");
    assert_non_null(date);
    char lo[17], hi[17];
    struct tm tm;
    strftime(lo, sizeof lo, "%Y%m%dT%H%M%SZ", gmtime_r(&before, &tm));
    strftime(hi, sizeof hi, "%Y%m%dT%H%M%SZ", gmtime_r(&after, &tm));
    assert_true(strcmp(date, lo) >= 0 && strcmp(date, hi) <= 0);
    ctx_free(&c);

    static const struct {
        int64_t t;
        const char *date;
    } cases[] = {{1, "19700101T000001Z"},
                 {951782400, "20000229T000000Z"},
                 {2147483648, "20380119T031408Z"},
                 {4102444799, "20991231T235959Z"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ctx_init(&c, URL);
        c.pa.signing_time = cases[i].t;
        sign_ok(&c);
        assert_string_equal(mantle_sigv4_result_header(c.r, "X-Amz-Date"), cases[i].date);
        assert_string_equal(canon_header(&c, "x-amz-date"), cases[i].date);
        assert_string_equal(line_of(mantle_sigv4_result_string_to_sign(c.r), 1), cases[i].date);
        char scope[16];
        snprintf(scope, sizeof scope, "%.8s/", cases[i].date);
        assert_int_equal(strncmp(line_of(mantle_sigv4_result_string_to_sign(c.r), 2), scope, 9), 0);
        ctx_free(&c);
    }
}

/* MANTLE_SIGV4_SIGN_GIVEN_HEADERS (for verifiers): the transport headers are signed when given,
 * Authorization never is. */
static void test_sign_given_headers(void **state)
{
    (void)state;
    struct mantle_header hs[] = {{"User-Agent", "ua/1"},
                                 {"Accept-Encoding", "gzip"},
                                 {"Authorization", "Bearer x"},
                                 {"Content-Type", "application/json"}};
    struct mantle_sigv4_request rq = {
        .method = "GET", .url = "https://example.amazonaws.com/", .headers = hs, .header_count = 4};
    struct mantle_sigv4_credentials cr = {"AKIDEXAMPLE", "secret", NULL};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = "us-east-1";
    pa.service = "service";
    pa.signing_time = 1440938160;
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, NULL), MANTLE_OK);
    assert_non_null(strstr(mantle_sigv4_result_header(r, "Authorization"),
                           "SignedHeaders=content-type;host;x-amz-date,"));
    pa.flags = MANTLE_SIGV4_SIGN_GIVEN_HEADERS;
    assert_int_equal(mantle_sigv4_sign(&rq, &cr, &pa, r, NULL), MANTLE_OK);
    assert_non_null(
        strstr(mantle_sigv4_result_header(r, "Authorization"),
               "SignedHeaders=accept-encoding;content-type;host;user-agent;x-amz-date,"));
    assert_non_null(strstr(mantle_sigv4_result_canonical_request(r), "\nuser-agent:ua/1\n"));
    mantle_sigv4_result_free(r);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_given_headers),
        cmocka_unit_test(test_error_header_crlf),
        cmocka_unit_test(test_error_header_control_chars),
        cmocka_unit_test(test_error_header_name_not_token),
        cmocka_unit_test(test_error_null_header_parts),
        cmocka_unit_test(test_error_method),
        cmocka_unit_test(test_error_url),
        cmocka_unit_test(test_error_credentials),
        cmocka_unit_test(test_error_scope),
        cmocka_unit_test(test_presign_expiry_bounds),
        cmocka_unit_test(test_error_payload_sha256),
        cmocka_unit_test(test_error_null_arguments),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_session_token_presign),
        cmocka_unit_test(test_unsigned_payload),
        cmocka_unit_test(test_precomputed_sha256),
        cmocka_unit_test(test_caller_content_sha256),
        cmocka_unit_test(test_excluded_headers),
        cmocka_unit_test(test_host_from_url),
        cmocka_unit_test(test_repeated_headers_and_trimming),
        cmocka_unit_test(test_query_edge_cases),
        cmocka_unit_test(test_query_long),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_result_reuse),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_key_cache_components),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_signing_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
