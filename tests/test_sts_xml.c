/* The STS response reader (src/credentials/sts_xml.c): real response shapes, entities, namespaces,
 * and the strictness that keeps truncated or hostile input from yielding credentials. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "credentials/sts_xml.h"

#define P_AKID "AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId"
#define P_SECRET "AssumeRoleResponse/AssumeRoleResult/Credentials/SecretAccessKey"
#define P_TOKEN "AssumeRoleResponse/AssumeRoleResult/Credentials/SessionToken"
#define P_EXP "AssumeRoleResponse/AssumeRoleResult/Credentials/Expiration"

static const char *const cred_paths[] = {P_AKID, P_SECRET, P_TOKEN, P_EXP};

static const char good[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>x</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/demo/s</Arn>\n"
    "      <AssumedRoleId>ARO123EXAMPLE123:s</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <SessionToken>fakests:Action=AssumeRole&amp;RoleArn=a%3Ab</SessionToken>\n"
    "      <Expiration>2026-11-25T18:00:00Z</Expiration>\n"
    "    </Credentials>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
    "</ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static mantle_code extract(const char *xml, size_t len, char **v, struct mantle_error *err)
{
    return sts_xml_extract(xml, len, cred_paths, 4, v, err);
}

static void test_assume_role_response(void **state)
{
    (void)state;
    char *v[4];
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(extract(good, strlen(good), v, &err), MANTLE_OK);
    assert_string_equal(v[0], "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(v[1], "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_string_equal(v[2], "fakests:Action=AssumeRole&RoleArn=a%3Ab");
    assert_string_equal(v[3], "2026-11-25T18:00:00Z");
    sts_xml_values_free(v, 4);
    assert_null(v[0]);
}

static void test_error_response(void **state)
{
    (void)state;
    static const char xml[] =
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        "<Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature we calculated does not match the signature you "
        "provided. Check your AWS Secret Access Key &amp; signing method.</Message></Error>"
        "<RequestId>abc-123</RequestId></ErrorResponse>";
    static const char *const paths[] = {"ErrorResponse/Error/Code", "ErrorResponse/Error/Message",
                                        "ErrorResponse/RequestId", "ErrorResponse/Missing"};
    char *v[4];
    assert_int_equal(sts_xml_extract(xml, strlen(xml), paths, 4, v, NULL), MANTLE_OK);
    assert_string_equal(v[0], "SignatureDoesNotMatch");
    assert_non_null(strstr(v[1], "Key & signing"));
    assert_string_equal(v[2], "abc-123");
    assert_null(v[3]);
    sts_xml_values_free(v, 4);
}

static void test_entities_cdata_prefixes(void **state)
{
    (void)state;
    static const char xml[] = "<!-- c --><s:A xmlns:s=\"u\" a='x>y' b=\"<\"><s:B>&lt;&#65;&#x42;"
                              "&#xe9;&quot;&apos;<![CDATA[<raw&>]]></s:B><C/></s:A>";
    /* b="<" is refused (not well-formed XML): check that first */
    static const char *const paths[] = {"A/B", "A/C"};
    char *v[2];
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(sts_xml_extract(xml, strlen(xml), paths, 2, v, &err), MANTLE_E_PROTOCOL);
    static const char ok[] = "<!-- c --><s:A xmlns:s=\"u\" a='x>y'><s:B>&lt;&#65;&#x42;"
                             "&#xe9;&quot;&apos;<![CDATA[<raw&>]]></s:B><C/></s:A>";
    assert_int_equal(sts_xml_extract(ok, strlen(ok), paths, 2, v, &err), MANTLE_OK);
    assert_string_equal(v[0], "<AB\xc3\xa9\"'<raw&>");
    assert_string_equal(v[1], "");
    sts_xml_values_free(v, 2);
}

static void expect_malformed(const char *xml, size_t len)
{
    char *v[4] = {(char *)1, (char *)1, (char *)1, (char *)1};
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(extract(xml, len, v, &err), MANTLE_E_PROTOCOL);
    for (int i = 0; i < 4; i++) assert_null(v[i]);
    assert_non_null(strstr(err.message, "STS response"));
    /* never quotes the input */
    assert_null(strstr(err.message, "wJalr"));
}

static void test_malformed(void **state)
{
    (void)state;
    /* every truncation of a real response is refused */
    size_t len = strlen(good);
    size_t end = (size_t)(strrchr(good, '>') - good) + 1; /* after the root's end tag */
    for (size_t cut = 0; cut < end; cut++) expect_malformed(good, cut);
    expect_malformed("<A><B></A></B>", 14);
    expect_malformed("<A></A><B></B>", 14);
    expect_malformed("text<A/>", 8);
    expect_malformed("<A>&bogus;</A>", 14);
    expect_malformed("<A>&#0;</A>", 11);
    expect_malformed("<A>&#xD800;</A>", 15);
    expect_malformed("<A>&#99999999999;</A>", 21);
    expect_malformed("<!DOCTYPE A [<!ENTITY x \"y\">]><A>&x;</A>", 40);
    expect_malformed("<A><1/></A>", 11);
    expect_malformed("<A>\0</A>", 8);
    expect_malformed("", 0);
    /* a duplicated credential element is refused rather than guessed */
    static const char dup[] = "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
                              "<AccessKeyId>A</AccessKeyId><AccessKeyId>B</AccessKeyId>"
                              "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
    expect_malformed(dup, strlen(dup));
    (void)len;
}

static void test_depth_and_size_bounds(void **state)
{
    (void)state;
    char deep[1024] = "";
    for (int i = 0; i < STS_XML_MAX_DEPTH + 1; i++) strcat(deep, "<a>");
    for (int i = 0; i < STS_XML_MAX_DEPTH + 1; i++) strcat(deep, "</a>");
    expect_malformed(deep, strlen(deep));
    size_t big = STS_XML_MAX_BYTES + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    expect_malformed(huge, big);
    free(huge);
    char longname[STS_XML_MAX_NAME + 16];
    memset(longname, 'n', sizeof longname);
    longname[0] = '<';
    longname[sizeof longname - 2] = '/';
    longname[sizeof longname - 1] = '>';
    expect_malformed(longname, sizeof longname);
}

static void test_mixed_content_has_no_text(void **state)
{
    (void)state;
    static const char xml[] = "<A>x<B>y</B>z</A>";
    static const char *const paths[] = {"A", "A/B"};
    char *v[2];
    assert_int_equal(sts_xml_extract(xml, strlen(xml), paths, 2, v, NULL), MANTLE_OK);
    assert_null(v[0]);
    assert_string_equal(v[1], "y");
    sts_xml_values_free(v, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assume_role_response),
        cmocka_unit_test(test_error_response),
        cmocka_unit_test(test_entities_cdata_prefixes),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth_and_size_bounds),
        cmocka_unit_test(test_mixed_content_has_no_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
