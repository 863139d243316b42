#include "testutil.h"

#include <mantle/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials/profile_file.h"

#define SECRET "wJalrXUtnFEMI-SECRET"

/* Parses a config and a credentials text (either may be NULL); fails the test on error. */
static struct profile_set *parse_ok(const char *config, const char *credentials)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    assert_non_null(set);
    if (config) {
        mantle_code rc = profile_set_parse(set, PROFILE_SOURCE_CONFIG, "/home/u/.aws/config",
                                           config, strlen(config), &err);
        if (rc) fail_msg("config: %s", err.message);
    }
    if (credentials) {
        mantle_code rc = profile_set_parse(set, PROFILE_SOURCE_CREDENTIALS, "creds", credentials,
                                           strlen(credentials), &err);
        if (rc) fail_msg("credentials: %s", err.message);
    }
    return set;
}

static const char *get(const struct profile_set *set, const char *name, const char *key)
{
    return profile_get(profile_set_get(set, PROFILE_KIND_PROFILE, name), key);
}

/* Expects MANTLE_E_CONFIG with exactly that message, which must not contain SECRET. */
static void expect_error_n(enum profile_source source, const char *text, size_t len,
                           const char *message)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    assert_int_equal(profile_set_parse(set, source, "/p/config", text, len, &err), MANTLE_E_CONFIG);
    assert_int_equal(err.code, MANTLE_E_CONFIG);
    assert_string_equal(err.message, message);
    assert_null(strstr(err.message, SECRET));
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 0);
    profile_set_free(set);
}

static void expect_error(const char *text, const char *message)
{
    expect_error_n(PROFILE_SOURCE_CONFIG, text, strlen(text), message);
}

static void test_section_kinds(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[default]\nregion = us-east-1\n"
                                       "[profile dev]\nregion = eu-west-1\n"
                                       "[sso-session corp]\nsso_region = us-east-2\n"
                                       "[services local]\ns3 =\n  endpoint_url = http://x\n"
                                       "[plain]\nregion = ignored\n",
                                       "[dev]\naws_access_key_id = AKID\n"
                                       "[profile skipped]\nregion = no\n"
                                       "[only-creds]\nregion = ap-south-1\n");
    assert_string_equal(get(set, "default", "region"), "us-east-1");
    assert_string_equal(get(set, "dev", "region"), "eu-west-1");
    assert_string_equal(get(set, "dev", "aws_access_key_id"), "AKID");
    assert_string_equal(get(set, "only-creds", "region"), "ap-south-1");
    assert_null(profile_set_get(set, PROFILE_KIND_PROFILE, "plain"));
    assert_null(profile_set_get(set, PROFILE_KIND_PROFILE, "skipped"));
    assert_null(profile_set_get(set, PROFILE_KIND_PROFILE, "profile skipped"));
    const struct profile *sso = profile_set_get(set, PROFILE_KIND_SSO_SESSION, "corp");
    assert_string_equal(profile_get(sso, "sso_region"), "us-east-2");
    assert_int_equal(profile_kind(sso), PROFILE_KIND_SSO_SESSION);
    const struct profile *svc = profile_set_get(set, PROFILE_KIND_SERVICES, "local");
    assert_string_equal(profile_get_sub(svc, "s3", "endpoint_url"), "http://x");
    assert_null(profile_set_get(set, PROFILE_KIND_PROFILE, "corp"));
    /* listing keeps first-appearance order, config file first */
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 3);
    assert_string_equal(profile_set_name_at(set, PROFILE_KIND_PROFILE, 0), "default");
    assert_string_equal(profile_set_name_at(set, PROFILE_KIND_PROFILE, 1), "dev");
    assert_string_equal(profile_set_name_at(set, PROFILE_KIND_PROFILE, 2), "only-creds");
    assert_null(profile_set_name_at(set, PROFILE_KIND_PROFILE, 3));
    assert_string_equal(profile_set_file_name(set, PROFILE_SOURCE_CONFIG), "/home/u/.aws/config");
    assert_string_equal(profile_set_file_name(set, PROFILE_SOURCE_CREDENTIALS), "creds");
    profile_set_free(set);
}

static void test_section_names_like_botocore(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[profile  two-spaces]\na=1\n"
                                       "[profile\ttab]\na=1\n"
                                       "[profile trailing ]\na=1\n"
                                       "[ profile leading]\na=1\n"
                                       "[profilejoined]\na=1\n"
                                       "[profile \"quoted name\"]\na=1\n"
                                       "[profile 'single']\na=1\n"
                                       "[profile esc\\ aped]\na=1\n"
                                       "[profile three words]\na=1\n"
                                       "[profile \"unclosed]\na=1\n"
                                       "[profiles loose]\na=1\n"
                                       "[profile x] ; comment after the header\na=1\n"
                                       "[ default ]\na=1\n"
                                       "[Default]\na=1\n"
                                       "[sso-session  s1 ]\na=1\n",
                                       "[ spaced ]\na=1\n[profile\tx]\na=1\n[profile]\na=1\n");
    const char *present[] = {"two-spaces", "tab",   "trailing", "quoted name", "single",
                             "esc aped",   "loose", "x",        " spaced ",    "profile"};
    for (size_t i = 0; i < sizeof present / sizeof present[0]; i++)
        if (!get(set, present[i], "a")) fail_msg("missing profile '%s'", present[i]);
    const char *absent[] = {"leading", "joined",  "profilejoined", "three",     "unclosed",
                            "default", "Default", "spaced",        "profile\tx"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (profile_set_get(set, PROFILE_KIND_PROFILE, absent[i]))
            fail_msg("unexpected profile '%s'", absent[i]);
    assert_non_null(profile_set_get(set, PROFILE_KIND_SSO_SESSION, "s1"));
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 10);
    profile_set_free(set);
}

static void test_keys_and_values(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("# leading comment\n"
                                       "; another\n"
                                       "[default]\n"
                                       "  indented_key = v\n"
                                       "Region = us-west-2\n"
                                       "output: json\n"
                                       "colon:first=second\n"
                                       "eq=first:second\n"
                                       "inline = a # not a comment\n"
                                       "semi = b ; kept\n"
                                       "hash = a#b\n"
                                       "empty =\n"
                                       "nbsp = \xc2\xa0value\xe3\x80\x80\n"
                                       "    # an indented comment is a comment\n"
                                       "AWS_Secret_Access_Key\t=\t" SECRET "\n",
                                       NULL);
    assert_string_equal(get(set, "default", "region"), "us-west-2");
    assert_null(get(set, "default", "Region"));
    assert_string_equal(get(set, "default", "output"), "json");
    assert_string_equal(get(set, "default", "colon"), "first=second");
    assert_string_equal(get(set, "default", "eq"), "first:second");
    assert_string_equal(get(set, "default", "indented_key"), "v");
    assert_string_equal(get(set, "default", "inline"), "a # not a comment");
    assert_string_equal(get(set, "default", "semi"), "b ; kept");
    assert_string_equal(get(set, "default", "hash"), "a#b");
    assert_string_equal(get(set, "default", "empty"), "");
    assert_string_equal(get(set, "default", "nbsp"), "value");
    assert_string_equal(get(set, "default", "aws_secret_access_key"), SECRET);
    const struct profile_property *prop =
        profile_find(profile_set_get(set, PROFILE_KIND_PROFILE, "default"), "region");
    assert_int_equal(prop->line, 5);
    assert_int_equal(prop->source, PROFILE_SOURCE_CONFIG);
    profile_set_free(set);
}

static void test_nested_blocks(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[default]\n"
                                       "s3 =\n"
                                       "  max_concurrent_requests = 10\n"
                                       "\n"
                                       "  # comment inside\n"
                                       "  Addressing_Style=path\n"
                                       "  k = a = b\n"
                                       "  k = last\n"
                                       "  v = 1\x0bw = 2\n"
                                       "region = us-east-1\n"
                                       "api =\n"
                                       "\n"
                                       "next = x\n",
                                       NULL);
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, "default");
    assert_null(profile_get(p, "s3"));
    assert_string_equal(profile_get_sub(p, "s3", "max_concurrent_requests"), "10");
    assert_string_equal(profile_get_sub(p, "s3", "Addressing_Style"), "path");
    assert_null(profile_get_sub(p, "s3", "addressing_style"));
    assert_string_equal(profile_get_sub(p, "s3", "k"), "last");
    assert_string_equal(profile_get_sub(p, "s3", "v"), "1");
    assert_string_equal(profile_get_sub(p, "s3", "w"), "2");
    const struct profile_property *s3 = profile_find(p, "s3");
    assert_int_equal(s3->sub_count, 5);
    assert_null(s3->value);
    assert_string_equal(profile_get(p, "region"), "us-east-1");
    assert_string_equal(profile_get(p, "api"), ""); /* no indented lines: a plain empty value */
    assert_string_equal(profile_get(p, "next"), "x");
    assert_null(profile_get_sub(p, "region", "x"));
    profile_set_free(set);
}

static void test_continuation_lines(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[default]\n"
                                       "a = one\n"
                                       "  two\n"
                                       "\n"
                                       "\t[profile looks-like-a-header]\n"
                                       "   k = v\n"
                                       "\n"
                                       "\n"
                                       "b = x\n"
                                       "  [c] = y\n"
                                       "[profile looks-like-a-header]\n"
                                       "z = 1\n",
                                       NULL);
    assert_string_equal(get(set, "default", "a"),
                        "one\ntwo\n\n[profile looks-like-a-header]\nk = v");
    assert_string_equal(get(set, "default", "b"), "x\n[c] = y");
    assert_string_equal(get(set, "looks-like-a-header", "z"), "1");
    profile_set_free(set);
}

static void test_line_endings(void **state)
{
    (void)state;
    struct profile_set *set =
        parse_ok("[default]\r\na = 1\r\nb = 2\rc = 3\r\r\nd =\r  x = 4\r\n", NULL);
    assert_string_equal(get(set, "default", "a"), "1");
    assert_string_equal(get(set, "default", "b"), "2");
    assert_string_equal(get(set, "default", "c"), "3");
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, "default");
    assert_string_equal(profile_get_sub(p, "d", "x"), "4");
    assert_int_equal(profile_find(p, "d")->line, 6); /* "\r\r\n" is two line ends */
    profile_set_free(set);
    expect_error("[default]\r\na = 1\rjunk\r\n", "/p/config:3: expected 'key = value'");
}

static void test_default_precedence(void **state)
{
    (void)state;
    /* botocore and the AWS CLI: whichever section comes last replaces the other entirely */
    struct profile_set *set =
        parse_ok("[default]\na = plain\nb = 1\n[profile default]\na = prefixed\n", NULL);
    assert_string_equal(get(set, "default", "a"), "prefixed");
    assert_null(get(set, "default", "b"));
    profile_set_free(set);
    set = parse_ok("[profile default]\na = prefixed\nb = 1\n[default]\na = plain\n", NULL);
    assert_string_equal(get(set, "default", "a"), "plain");
    assert_null(get(set, "default", "b"));
    profile_set_free(set);
    set = parse_ok("[profile dev]\na = 1\n[profile  dev]\nb = 2\n", NULL);
    assert_null(get(set, "dev", "a"));
    assert_string_equal(get(set, "dev", "b"), "2");
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 1);
    profile_set_free(set);
}

static void test_credentials_override_config(void **state)
{
    (void)state;
    struct profile_set *set =
        parse_ok("[profile dev]\nregion = eu-west-1\naws_access_key_id = CONFIG_KEY\n"
                 "s3 =\n  a = 1\n  b = 2\n",
                 "[dev]\naws_access_key_id = CRED_KEY\ns3 =\n  a = 9\n");
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, "dev");
    assert_string_equal(profile_get(p, "region"), "eu-west-1");
    assert_string_equal(profile_get(p, "aws_access_key_id"), "CRED_KEY");
    assert_int_equal(profile_find(p, "aws_access_key_id")->source, PROFILE_SOURCE_CREDENTIALS);
    assert_int_equal(profile_find(p, "aws_access_key_id")->line, 2);
    assert_int_equal(profile_find(p, "region")->source, PROFILE_SOURCE_CONFIG);
    assert_string_equal(profile_get_sub(p, "s3", "a"), "9");
    assert_null(profile_get_sub(p, "s3", "b")); /* a nested block is replaced whole */
    assert_int_equal(profile_property_count(p), 3);
    assert_string_equal(profile_property_at(p, 0)->key, "region");
    assert_null(profile_property_at(p, 3));
    profile_set_free(set);
}

static void test_defaults_section(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[DEFAULT]\nregion = from-defaults\nx = 1\n"
                                       "[default]\nregion = own\n"
                                       "[profile dev]\n"
                                       "[DEFAULT]\ny = 2\n",
                                       "[DEFAULT]\naws_access_key_id = K\n[other]\n");
    assert_string_equal(get(set, "default", "region"), "own");
    assert_string_equal(get(set, "default", "x"), "1");
    assert_string_equal(get(set, "default", "y"), "2");
    assert_string_equal(get(set, "dev", "region"), "from-defaults");
    assert_null(get(set, "dev", "aws_access_key_id")); /* defaults stay within their file */
    assert_string_equal(get(set, "other", "aws_access_key_id"), "K");
    assert_null(profile_set_get(set, PROFILE_KIND_PROFILE, "DEFAULT"));
    profile_set_free(set);
    /* a malformed nested block in [DEFAULT] only matters once a section inherits it */
    set = parse_ok("[DEFAULT]\ns3 =\n  " SECRET "\n", NULL);
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 0);
    profile_set_free(set);
    set = parse_ok("[DEFAULT]\ns3 =\n  " SECRET "\n[default]\ns3 = own\n", NULL);
    assert_string_equal(get(set, "default", "s3"), "own");
    profile_set_free(set);
    expect_error("[DEFAULT]\ns3 =\n  " SECRET "\n[default]\n",
                 "/p/config:3: expected 'key = value' in the nested block of 's3'");
    expect_error("[DEFAULT]\na = 1\n[DEFAULT]\nA = 2\n",
                 "/p/config:4: duplicate key 'a' in section [DEFAULT]");
}

static void test_malformed(void **state)
{
    (void)state;
    expect_error("[default]\nregion = x\n" SECRET "\n", "/p/config:3: expected 'key = value'");
    expect_error("\n# c\naws_secret_access_key = " SECRET "\n[default]\n",
                 "/p/config:3: expected a section header such as [default] before any setting");
    expect_error(SECRET "\n", "/p/config:1: expected a section header such as [default] before "
                              "any setting");
    expect_error("[profile dev\n", "/p/config:1: expected a section header such as [default] "
                                   "before any setting");
    expect_error("[default]\n[profile dev\n", "/p/config:2: expected 'key = value'");
    expect_error("[default]\n[]\n", "/p/config:2: expected 'key = value'");
    expect_error("[default]\n= " SECRET "\n", "/p/config:2: missing key name before '='");
    expect_error("[default]\n : " SECRET "\n", "/p/config:2: missing key name before ':'");
    expect_error("[default]\na = 1\n\n[profile x]\n[default]\n",
                 "/p/config:5: duplicate section [default]");
    expect_error("[default]\nRegion = " SECRET "\nregion = " SECRET "\n",
                 "/p/config:3: duplicate key 'region' in section [default]");
    expect_error("[default]\ns3 =\n  a = 1\n  " SECRET "\n",
                 "/p/config:4: expected 'key = value' in the nested block of 's3'");
    expect_error("[default]\ns3 =\n  a = 1 \x0c " SECRET "\nb = 2\n",
                 "/p/config:3: expected 'key = value' in the nested block of 's3'");
    expect_error("\xef\xbb\xbf[default]\n", "/p/config:1: expected a section header such as "
                                            "[default] before any setting");
    /* section names in messages are shown printable and short */
    expect_error("[a\x01"
                 "b]\n[a\x01"
                 "b]\n",
                 "/p/config:2: duplicate section [a?b]");
    static const char with_nul[] = "[default]\nk = a\0" SECRET "\n";
    expect_error_n(PROFILE_SOURCE_CREDENTIALS, with_nul, sizeof with_nul - 1,
                   "/p/config:2: NUL byte");
    expect_error_n(PROFILE_SOURCE_CONFIG, "\0", 1, "/p/config:1: NUL byte");
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff",
        "\xc0\xaf", /* overlong '/' */
        "\xe0\x80\xaf",
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\x80",
        "\xe2\x82", /* cut short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[default]\r\nk = " SECRET "%s\n", bad[i]);
        expect_error(text, "/p/config:2: invalid UTF-8");
    }
    expect_error("[default]\nk = \xe2\x82", "/p/config:2: invalid UTF-8"); /* cut by the end */
    struct profile_set *set =
        parse_ok("[profile \xc3\xbc\xf0\x9f\x98\x80]\nk = \xe6\x97\xa5\n", NULL);
    assert_string_equal(get(set, "\xc3\xbc\xf0\x9f\x98\x80", "k"), "\xe6\x97\xa5");
    profile_set_free(set);
}

static void test_limits(void **state)
{
    (void)state;
    size_t n = PROFILE_MAX_LINE_BYTES + 64;
    char *text = malloc(n);
    assert_non_null(text);
    memcpy(text, "[default]\nk = ", 14);
    memset(text + 14, 'x', n - 15);
    text[n - 1] = '\n';
    expect_error_n(PROFILE_SOURCE_CONFIG, text, n, "/p/config:2: line longer than 65536 bytes");
    /* exactly the limit is fine */
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    size_t ok_len = 10 + PROFILE_MAX_LINE_BYTES;
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, "c", text, ok_len, &err),
                     MANTLE_OK);
    assert_int_equal(strlen(get(set, "default", "k")), PROFILE_MAX_LINE_BYTES - 4);
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, "big", text,
                                       (size_t)PROFILE_MAX_FILE_BYTES + 1, &err),
                     MANTLE_E_CONFIG);
    assert_string_equal(err.message, "big: larger than 16777216 bytes");
    profile_set_free(set);
    free(text);
}

static void test_many_sections_and_keys(void **state)
{
    (void)state;
    /* hashing keeps this linear: 50k sections and a section with 50k keys */
    size_t n = 50000, cap = n * 40 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "[profile p%zu]\nk=%zu\n", i, i);
    len += (size_t)sprintf(text + len, "[default]\n");
    for (size_t i = 0; i < n; i++) len += (size_t)sprintf(text + len, "k%zu=%zu\n", i, i);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, "c", text, len, &err),
                     MANTLE_OK);
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), n + 1);
    assert_string_equal(get(set, "p49999", "k"), "49999");
    assert_string_equal(get(set, "default", "k12345"), "12345");
    /* the same text as credentials merges into every profile key by key */
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CREDENTIALS, "k", text, len, &err),
                     MANTLE_OK);
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), n + 1);
    profile_set_free(set);
    free(text);
}

static void test_error_leaves_set_unchanged(void **state)
{
    (void)state;
    struct profile_set *set = parse_ok("[default]\nregion = a\n", NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    const char *bad = "[default]\nregion = b\n[x]\nnot a setting\n";
    assert_int_equal(
        profile_set_parse(set, PROFILE_SOURCE_CREDENTIALS, "cr", bad, strlen(bad), &err),
        MANTLE_E_CONFIG);
    assert_string_equal(err.message, "cr:4: expected 'key = value'");
    assert_string_equal(get(set, "default", "region"), "a");
    assert_null(profile_set_file_name(set, PROFILE_SOURCE_CREDENTIALS));
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, NULL, "x", 1, NULL),
                     MANTLE_E_CONFIG);
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, NULL, "x", 1, &err),
                     MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "config:1: expected a section header such as [default] before any setting");
    assert_int_equal(profile_set_parse(NULL, PROFILE_SOURCE_CONFIG, NULL, "", 0, &err),
                     MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(profile_set_parse(set, PROFILE_SOURCE_CONFIG, NULL, NULL, 0, &err), MANTLE_OK);
    assert_null(profile_set_get(NULL, PROFILE_KIND_PROFILE, "default"));
    assert_null(profile_get(NULL, "region"));
    assert_int_equal(profile_set_count(NULL, PROFILE_KIND_PROFILE), 0);
    profile_set_free(set);
    profile_set_free(NULL);
}

/* ---- files ---- */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static void test_load_file(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/mantle-profile-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, tmp_path("missing"), &err),
                     MANTLE_OK);
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, "", &err), MANTLE_OK);
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, tmpdir, &err), MANTLE_OK);
    test_write_file(tmp_path("config"), "[default]\nregion = r1\n");
    test_write_file(tmp_path("credentials"), "[default]\naws_access_key_id = AK\n");
    /* a path through a regular file is ENOTDIR: missing, like botocore's isfile() */
    char through[160];
    snprintf(through, sizeof through, "%s/x", tmp_path("config"));
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, through, &err), MANTLE_OK);
    assert_int_equal(profile_set_count(set, PROFILE_KIND_PROFILE), 0);
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, tmp_path("config"), &err),
                     MANTLE_OK);
    assert_int_equal(
        profile_set_load_file(set, PROFILE_SOURCE_CREDENTIALS, tmp_path("credentials"), &err),
        MANTLE_OK);
    assert_string_equal(get(set, "default", "region"), "r1");
    assert_string_equal(get(set, "default", "aws_access_key_id"), "AK");
    assert_string_equal(profile_set_file_name(set, PROFILE_SOURCE_CONFIG), tmp_path("config"));

    test_write_file(tmp_path("bad"), "[default]\n\n" SECRET "\n");
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, tmp_path("bad"), &err),
                     MANTLE_E_CONFIG);
    char expected[200];
    snprintf(expected, sizeof expected, "%s:3: expected 'key = value'", tmp_path("bad"));
    assert_string_equal(err.message, expected);

    /* other failures are I/O errors (a symlink loop works even as root) */
    assert_int_equal(symlink("loop", tmp_path("loop")), 0);
    assert_int_equal(profile_set_load_file(set, PROFILE_SOURCE_CONFIG, tmp_path("loop"), &err),
                     MANTLE_E_IO);
    assert_int_equal(err.code, MANTLE_E_IO);
    snprintf(expected, sizeof expected, "%s: cannot open: ", tmp_path("loop"));
    assert_memory_equal(err.message, expected, strlen(expected));
    unlink(tmp_path("loop"));
    if (geteuid() != 0) { /* root reads anything */
        chmod(tmp_path("credentials"), 0);
        assert_int_equal(
            profile_set_load_file(set, PROFILE_SOURCE_CREDENTIALS, tmp_path("credentials"), &err),
            MANTLE_E_IO);
        assert_non_null(strstr(err.message, tmp_path("credentials")));
    }
    profile_set_free(set);
    unlink(tmp_path("config"));
    unlink(tmp_path("credentials"));
    unlink(tmp_path("bad"));
    rmdir(tmpdir);
}

/* ---- paths ---- */

static const char *fake_env[16][2];

static char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < 16 && fake_env[i][0]; i++)
        if (strcmp(fake_env[i][0], name) == 0) return (char *)fake_env[i][1];
    return NULL;
}

static void set_env(const char *const pairs[][2], size_t n)
{
    memset(fake_env, 0, sizeof fake_env);
    for (size_t i = 0; i < n; i++) {
        fake_env[i][0] = pairs[i][0];
        fake_env[i][1] = pairs[i][1];
    }
}

static void expect_path(enum profile_source source, const char *expected)
{
    char *path = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code rc = profile_file_path(source, fake_getenv, &path, &err);
    if (rc) fail_msg("profile_file_path: %s", err.message);
    assert_string_equal(path, expected);
    free(path);
}

static void test_paths(void **state)
{
    (void)state;
    const char *const home[][2] = {{"HOME", "/home/u"}};
    set_env(home, 1);
    expect_path(PROFILE_SOURCE_CONFIG, "/home/u/.aws/config");
    expect_path(PROFILE_SOURCE_CREDENTIALS, "/home/u/.aws/credentials");

    const char *const slash[][2] = {{"HOME", "/home/u//"}, {"AWS_CONFIG_FILE", "~"}};
    set_env(slash, 2);
    expect_path(PROFILE_SOURCE_CONFIG, "/home/u");
    const char *const root[][2] = {{"HOME", "/"}};
    set_env(root, 1);
    expect_path(PROFILE_SOURCE_CONFIG, "/.aws/config");

    const char *const vars[][2] = {{"HOME", "/h"},
                                   {"AWS_CONFIG_FILE", "$XDG/aws/${NAME}-$MISSING-${}-$-~/x"},
                                   {"AWS_SHARED_CREDENTIALS_FILE", "${TILDE}/creds"},
                                   {"XDG", "/xdg"},
                                   {"NAME", "cfg"},
                                   {"TILDE", "~"}};
    set_env(vars, 6);
    expect_path(PROFILE_SOURCE_CONFIG, "/xdg/aws/cfg-$MISSING-${}-$-~/x");
    expect_path(PROFILE_SOURCE_CREDENTIALS, "/h/creds"); /* variables first, then '~' */

    const char *const other[][2] = {{"HOME", "/h"},
                                    {"AWS_CONFIG_FILE", "~other/config"},
                                    {"AWS_SHARED_CREDENTIALS_FILE", "rel/~/c"}};
    set_env(other, 3);
    expect_path(PROFILE_SOURCE_CONFIG, "~other/config");
    expect_path(PROFILE_SOURCE_CREDENTIALS, "rel/~/c");

    const char *const empty[][2] = {{"AWS_CONFIG_FILE", ""},
                                    {"AWS_SHARED_CREDENTIALS_FILE", "/abs"}};
    set_env(empty, 2);
    expect_path(PROFILE_SOURCE_CONFIG, ""); /* set but empty: no file, as in botocore */
    expect_path(PROFILE_SOURCE_CREDENTIALS, "/abs");

    const char *const nohome[][2] = {{"HOME", ""}};
    set_env(nohome, 1);
    char *path = (char *)"untouched";
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(profile_file_path(PROFILE_SOURCE_CREDENTIALS, fake_getenv, &path, &err),
                     MANTLE_E_CONFIG);
    assert_null(path);
    assert_string_equal(err.message,
                        "cannot expand '~' in the credentials path (default): HOME is not set");
    set_env(nohome, 0);
    assert_int_equal(profile_file_path(PROFILE_SOURCE_CONFIG, fake_getenv, &path, &err),
                     MANTLE_E_CONFIG);
    assert_int_equal(profile_file_path(PROFILE_SOURCE_CONFIG, fake_getenv, NULL, &err),
                     MANTLE_E_INVALID_ARGUMENT);
    /* NULL means the real getenv */
    assert_int_equal(setenv("AWS_CONFIG_FILE", "/real/env", 1), 0);
    assert_int_equal(profile_file_path(PROFILE_SOURCE_CONFIG, NULL, &path, &err), MANTLE_OK);
    assert_string_equal(path, "/real/env");
    free(path);
    unsetenv("AWS_CONFIG_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_section_kinds),
        cmocka_unit_test(test_section_names_like_botocore),
        cmocka_unit_test(test_keys_and_values),
        cmocka_unit_test(test_nested_blocks),
        cmocka_unit_test(test_continuation_lines),
        cmocka_unit_test(test_line_endings),
        cmocka_unit_test(test_default_precedence),
        cmocka_unit_test(test_credentials_override_config),
        cmocka_unit_test(test_defaults_section),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_sections_and_keys),
        cmocka_unit_test(test_error_leaves_set_unchanged),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
