/* Error messages from servers are scrubbed of the secrets the request carried. AWS quotes the
 * canonical request, x-amz-security-token line included, in InvalidSignatureException. */
#include "testutil.h"

#include <string.h>

#include "client/client_internal.h"

static const char *token = "IQoJb3JpZ2luX2VjEXAMPLETOKENVALUE1234567890";

static void test_quoted_canonical_request(void **state)
{
    (void)state;
    char msg[512];
    snprintf(msg, sizeof msg,
             "HTTP 403 InvalidSignatureException: The request signature we calculated does not "
             "match.\nThe Canonical String for this request should have been\n'POST\n/v1/x\n\n"
             "host:h\nx-amz-date:20260101T000000Z\nx-amz-security-token:%s\n\nhost;x-amz-date'",
             token);
    const char *secrets[] = {token, NULL};
    redact_message(msg, sizeof msg, secrets, 2);
    assert_null(strstr(msg, "IQoJb3Jp"));
    assert_non_null(strstr(msg, "x-amz-security-token:<redacted>"));
    assert_non_null(strstr(msg, "x-amz-date:20260101T000000Z")); /* the rest is kept */
}

static void test_unknown_token_after_label(void **state)
{
    (void)state;
    /* Even a token we did not send (or do not know) is dropped after its label. */
    char msg[256] =
        "bad X-Amz-Security-Token=SOMEOTHERTOKEN&x=1 and Authorization: AWS4-HMAC-SHA256 "
        "Credential=AKID/20260101/us-east-1/s/aws4_request, Signature=abcdef\nnext";
    redact_message(msg, sizeof msg, NULL, 0);
    assert_null(strstr(msg, "SOMEOTHERTOKEN"));
    assert_null(strstr(msg, "abcdef"));
    assert_non_null(strstr(msg, "&x=1"));
    assert_non_null(strstr(msg, "\nnext"));
}

static void test_truncated_secret_at_end(void **state)
{
    (void)state;
    /* The message was cut short inside the token: the visible prefix is still a secret. */
    char msg[128];
    snprintf(msg, sizeof msg, "quoted: %.20s", token);
    const char *secrets[] = {token};
    redact_message(msg, sizeof msg, secrets, 1);
    assert_string_equal(msg, "quoted: <redacted>");
}

static void test_api_key_anywhere(void **state)
{
    (void)state;
    char msg[128] =
        "key bedrock-api-key-QUJDREVGRzEyMw== rejected twice: bedrock-api-key-QUJDREVGRzEyMw==";
    const char *secrets[] = {"bedrock-api-key-QUJDREVGRzEyMw=="};
    redact_message(msg, sizeof msg, secrets, 1);
    assert_string_equal(msg, "key <redacted> rejected twice: <redacted>");
}

static void test_small_buffer_stays_terminated(void **state)
{
    (void)state;
    char msg[16] = "token SECRETXYZ";
    const char *secrets[] = {"SECRETXYZ"};
    redact_message(msg, 12, secrets, 1);
    assert_int_equal(strlen(msg), 11);
    assert_null(strstr(msg, "SECRET"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_canonical_request),
        cmocka_unit_test(test_unknown_token_after_label),
        cmocka_unit_test(test_truncated_secret_at_end),
        cmocka_unit_test(test_api_key_anywhere),
        cmocka_unit_test(test_small_buffer_stays_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
