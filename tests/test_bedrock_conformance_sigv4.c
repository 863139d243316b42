/* The openai-bedrock conformance signing cases: the `sigv4` kind of
 * $MANTLE_SHARED_DIR/testdata/openai-bedrock-conformance/cases.json (2 cases) and sigv4.json
 * (1 case). Both sign a Mantle Responses request with a signed X-Amz-Content-Sha256 header
 * (MANTLE_SIGV4_SIGN_BODY); the other kinds of cases.json belong to the client's tests. */
#include "testutil.h"

#include <jansson.h>
#include <mantle/sigv4.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/crypto.h"

#define SIGV4_KIND_CASES 2

static const char *str_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ISO 8601 UTC, with or without milliseconds: 2026-06-01T12:34:56Z, 2025-01-02T03:04:05.000Z. */
static int64_t parse_time(const char *s)
{
    assert_non_null(s);
    int y, mo, d, h, mi, se;
    assert_int_equal(sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se), 6);
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    assert_true(t > 0);
    return (int64_t)t;
}

static void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
    uint8_t digest[SHA256_LEN];
    assert_true(crypto_sha256(data, len, digest));
    hex_encode(digest, SHA256_LEN, out);
}

/* The last line of the canonical request is the payload hash that was signed. */
static const char *signed_payload_hash(const char *creq)
{
    const char *nl = strrchr(creq, '\n');
    assert_non_null(nl);
    return nl + 1;
}

/* Signs and checks the payload hash, the canonical request's SHA-256 (computed here and as the
 * string to sign's last line), and the added headers (exactly the expected set). */
static void sign_and_check(const char *id, const struct mantle_sigv4_request *rq,
                           const struct mantle_sigv4_credentials *cr, const char *region,
                           const char *service, int64_t when, const char *want_payload,
                           const char *want_creq_sha, json_t *want_headers)
{
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = region;
    pa.service = service;
    pa.signing_time = when;
    pa.flags = MANTLE_SIGV4_SIGN_BODY;
    struct mantle_sigv4_result *r = mantle_sigv4_result_new();
    assert_non_null(r);
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code rc = mantle_sigv4_sign(rq, cr, &pa, r, &err);
    if (rc != MANTLE_OK) fail_msg("%s: %s", id, err.message);

    char body_sha[SHA256_HEX_LEN + 1];
    sha256_hex(rq->payload, rq->payload_len, body_sha);
    assert_string_equal(body_sha, want_payload);
    const char *creq = mantle_sigv4_result_canonical_request(r);
    assert_string_equal(signed_payload_hash(creq), want_payload);
    char creq_sha[SHA256_HEX_LEN + 1];
    sha256_hex(creq, strlen(creq), creq_sha);
    if (strcmp(creq_sha, want_creq_sha) != 0) printf("%s: canonical request was:\n%s\n", id, creq);
    assert_string_equal(creq_sha, want_creq_sha);
    const char *sts = mantle_sigv4_result_string_to_sign(r);
    assert_string_equal(strrchr(sts, '\n') + 1, want_creq_sha);

    const char *name;
    json_t *value;
    size_t expected = 0;
    json_object_foreach(want_headers, name, value)
    {
        const char *got = mantle_sigv4_result_header(r, name);
        if (!got) fail_msg("%s: header %s was not added", id, name);
        assert_string_equal(got, json_string_value(value));
        expected++;
    }
    assert_int_equal(mantle_sigv4_result_header_count(r), expected);
    printf("ok %s\n", id);
    mantle_sigv4_result_free(r);
}

static void test_cases_json(void **state)
{
    (void)state;
    const char *path = test_shared_path("testdata/openai-bedrock-conformance/cases.json");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) fail_msg("%s: %s", path, jerr.text);
    json_t *cases = json_object_get(root, "cases");
    assert_true(json_is_array(cases));
    size_t i, run = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *kind = str_of(c, "kind");
        if (!kind || strcmp(kind, "sigv4") != 0) continue; /* other kinds: the client's tests */
        const char *id = str_of(c, "id");
        json_t *given = json_object_get(c, "given");
        json_t *expected = json_object_get(c, "expected");
        json_t *creds = json_object_get(given, "credentials");
        json_t *signing = json_object_get(given, "signing");
        json_t *request = json_object_get(given, "request");
        assert_non_null(id);
        assert_non_null(creds);
        assert_non_null(signing);
        assert_non_null(request);

        json_t *hdrs = json_object_get(request, "headers");
        size_t nh = json_object_size(hdrs), k = 0;
        struct mantle_header *h = calloc(nh ? nh : 1, sizeof *h);
        assert_non_null(h);
        const char *name;
        json_t *value;
        json_object_foreach(hdrs, name, value)
        {
            h[k++] = (struct mantle_header){name, json_string_value(value)};
        }
        size_t body_len = 0;
        unsigned char *body = test_b64_decode(str_of(request, "body_base64"), &body_len);
        struct mantle_sigv4_request rq = {.method = str_of(request, "method"),
                                          .url = str_of(request, "url"),
                                          .headers = h,
                                          .header_count = nh,
                                          .payload_kind = MANTLE_PAYLOAD_BYTES,
                                          .payload = body,
                                          .payload_len = body_len};
        struct mantle_sigv4_credentials cr = {str_of(creds, "access_key_id"),
                                              str_of(creds, "secret_access_key"),
                                              str_of(creds, "session_token")};
        sign_and_check(id, &rq, &cr, str_of(signing, "region"), str_of(signing, "service"),
                       parse_time(str_of(signing, "timestamp")), str_of(expected, "payload_sha256"),
                       str_of(expected, "canonical_request_sha256"),
                       json_object_get(expected, "headers"));
        free(body);
        free(h);
        run++;
    }
    json_decref(root);
    assert_int_equal(run, SIGV4_KIND_CASES);
}

static void test_sigv4_json(void **state)
{
    (void)state;
    const char *path = test_shared_path("testdata/openai-bedrock-conformance/sigv4.json");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) fail_msg("%s: %s", path, jerr.text);
    json_t *creds = json_object_get(root, "credentials");
    json_t *request = json_object_get(root, "request");
    json_t *expected = json_object_get(root, "expected");
    assert_non_null(creds);
    assert_non_null(request);
    assert_non_null(expected);
    const char *body = str_of(request, "body");
    assert_non_null(body);
    /* The request carries only its content type; Host comes from the URL. */
    struct mantle_header h[1] = {{"Content-Type", str_of(request, "contentType")}};
    struct mantle_sigv4_request rq = {.method = str_of(request, "method"),
                                      .url = str_of(request, "url"),
                                      .headers = h,
                                      .header_count = 1,
                                      .payload_kind = MANTLE_PAYLOAD_BYTES,
                                      .payload = body,
                                      .payload_len = strlen(body)};
    struct mantle_sigv4_credentials cr = {str_of(creds, "accessKeyId"),
                                          str_of(creds, "secretAccessKey"),
                                          str_of(creds, "sessionToken")};
    json_t *want = json_object();
    json_object_set_new(want, "x-amz-date", json_string(str_of(expected, "date")));
    json_object_set_new(want, "x-amz-content-sha256", json_string(str_of(expected, "payloadHash")));
    json_object_set_new(want, "x-amz-security-token", json_string(cr.session_token));
    json_object_set_new(want, "authorization", json_string(str_of(expected, "authorization")));
    sign_and_check("sigv4.json", &rq, &cr, str_of(root, "region"), str_of(root, "service"),
                   parse_time(str_of(root, "signingDate")), str_of(expected, "payloadHash"),
                   str_of(expected, "canonicalRequestHash"), want);
    json_decref(want);
    json_decref(root);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_json),
        cmocka_unit_test(test_sigv4_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
