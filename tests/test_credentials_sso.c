/* The SSO (IAM Identity Center) credentials provider against the fake portal
 * (tests/servers/fake_aws.py --services sso): sso-session and legacy profiles, the token cache
 * (name, expiry, missing, invalid), the portal's errors (401, 403, 5xx retried, malformed or
 * incomplete documents) and botocore's InvalidConfigError cases. The environment (HOME,
 * AWS_CONFIG_FILE, AWS_ENDPOINT_URL_SSO...) is injected through the options' getenv hook. */
#include "testutil.h"

#include "fakeserver.h"

#include <jansson.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "credentials/credentials_internal.h"
#include "credentials/sso.h"

#define TOKEN "fake-sso-access-token"
#define ACCOUNT "111122223333"
#define ROLE "ReadOnly"
#define START_URL "https://my-sso-portal.awsapps.com/start"

/* ---- the fake server ---- */

static struct fakeserver fake;
static const char *sso_url; /* the fake's sso endpoint */

/* The portal's request log (json_decref it). */
static json_t *requests(void)
{
    return fakeserver_requests(&fake, "sso");
}

/* ---- files, environment ---- */

static char home[256], config_path[300];

static struct test_env env;

/* The cache file the AWS CLI would write for a session name or start URL. */
static void token_path(const char *key, char *out, size_t size)
{
    char hex[SHA1_HEX_LEN + 1];
    assert_true(crypto_sha1_hex(key, strlen(key), hex));
    snprintf(out, size, "%s/.aws/sso/cache/%s.json", home, hex);
}

/* Writes a token for key expiring `in` seconds from now (negative: already expired). */
static void write_token(const char *key, const char *token, long in)
{
    char path[512], when[32], text[1024];
    token_path(key, path, sizeof path);
    time_t t = time(NULL) + in;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    snprintf(text, sizeof text,
             "{\"startUrl\": \"" START_URL "\", \"region\": \"us-east-1\", \"accessToken\": "
             "\"%s\", \"expiresAt\": \"%s\"}",
             token, when);
    test_write_file(path, text);
}

static void remove_token(const char *key)
{
    char path[512];
    token_path(key, path, sizeof path);
    unlink(path);
}

static const char *session_config = "[profile dev]\n"
                                    "sso_session = my-sso\n"
                                    "sso_account_id = " ACCOUNT "\n"
                                    "sso_role_name = " ROLE "\n"
                                    "[sso-session my-sso]\n"
                                    "sso_start_url = " START_URL "\n"
                                    "sso_region = us-east-1\n"
                                    "[profile legacy]\n"
                                    "sso_start_url = " START_URL "\n"
                                    "sso_region = eu-west-1\n"
                                    "sso_account_id = " ACCOUNT "\n"
                                    "sso_role_name = Admin\n"
                                    "[profile plain]\n"
                                    "region = us-west-2\n";

static int setup(void **state)
{
    (void)state;
    snprintf(home, sizeof home, "/tmp/mantle-sso-test-XXXXXX");
    assert_non_null(mkdtemp(home));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/.aws", home);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.aws/sso", home);
    mkdir(dir, 0700);
    snprintf(dir, sizeof dir, "%s/.aws/sso/cache", home);
    mkdir(dir, 0700);
    snprintf(config_path, sizeof config_path, "%s/config", home);
    test_write_file(config_path, session_config);
    fakeserver_start_aws(&fake, "sso", "120");
    sso_url = fakeserver_url(&fake, "sso");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fakeserver_stop(&fake);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : 1;
}

/* Each test starts from the same fake, files and environment. */
static int reset(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/reset", "{}");
    test_write_file(config_path, session_config);
    write_token("my-sso", TOKEN, 3600);
    write_token(START_URL, TOKEN, 3600);
    env.n = 0;
    test_env_set(&env, "HOME", home);
    test_env_set(&env, "AWS_CONFIG_FILE", config_path);
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    test_env_set(&env, "AWS_ENDPOINT_URL_SSO", sso_url);
    return 0;
}

static mantle_code get(const char *profile, struct mantle_credentials **out,
                       struct mantle_error *err)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = profile;
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = &env;
    struct mantle_credentials_provider *p = creds_sso_new(&o, err);
    assert_non_null(p);
    *out = NULL;
    mantle_code code = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return code;
}

static void expect_error(const char *profile, mantle_code want, const char *needle)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = get(profile, &c, &err);
    if (code != want) fail_msg("got code %d (%s), want %d", (int)code, err.message, (int)want);
    assert_null(c);
    if (needle && !strstr(err.message, needle)) fail_msg("'%s' not in '%s'", needle, err.message);
    if (strstr(err.message, TOKEN)) fail_msg("the token leaked into '%s'", err.message);
}

static size_t request_count(void)
{
    json_t *list = requests();
    size_t n = json_array_size(list);
    json_decref(list);
    return n;
}

/* ---- tests ---- */

static void test_sha1(void **state)
{
    (void)state;
    char hex[SHA1_HEX_LEN + 1];
    assert_true(crypto_sha1_hex("abc", 3, hex));
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_true(crypto_sha1_hex("", 0, hex));
    assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void check_creds(struct mantle_credentials *c, const char *role, const char *profile)
{
    assert_non_null(c);
    const char *akid = mantle_credentials_access_key_id(c);
    assert_int_equal(strlen(akid), 20);
    assert_memory_equal(akid, "ASIA", 4);
    assert_int_equal(strlen(mantle_credentials_secret_access_key(c)), 40);
    char want[256];
    snprintf(want, sizeof want, "fakesso:AccountId=%s&RoleName=%s&Serial=", ACCOUNT, role);
    assert_non_null(mantle_credentials_session_token(c));
    assert_memory_equal(mantle_credentials_session_token(c), want, strlen(want));
    int64_t left = mantle_credentials_expiration(c) - (int64_t)time(NULL);
    assert_true(left > 3590 && left <= 3601);
    assert_string_equal(mantle_credentials_account_id(c), ACCOUNT);
    snprintf(want, sizeof want, "sso (profile %s, account %s, role %s)", profile, ACCOUNT, role);
    assert_string_equal(mantle_credentials_source(c), want);
}

static void test_sso_session(void **state)
{
    (void)state;
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("dev", &c, &err), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);

    json_t *list = requests();
    assert_int_equal(json_array_size(list), 1);
    json_t *r = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(r, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(r, "path")),
                        "/federation/credentials?account_id=" ACCOUNT "&role_name=" ROLE);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "headers"), "x-amz-sso_bearer_token")),
        TOKEN);
    json_decref(list);

    /* AWS_PROFILE names the profile when the options do not. */
    test_env_set(&env, "AWS_PROFILE", "dev");
    assert_int_equal(get(NULL, &c, &err), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);
}

static void test_legacy(void **state)
{
    (void)state;
    /* The legacy token is keyed by the start URL: remove the session's to prove it. */
    remove_token("my-sso");
    /* AWS_ENDPOINT_URL is the fallback override. */
    test_env_set(&env, "AWS_ENDPOINT_URL_SSO", NULL);
    test_env_set(&env, "AWS_ENDPOINT_URL", sso_url);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("legacy", &c, &err), MANTLE_OK);
    check_creds(c, "Admin", "legacy");
    mantle_credentials_unref(c);
}

static void test_default_chain_uses_sso(void **state)
{
    (void)state;
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = "dev";
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = &env;
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_default_chain(&o, NULL);
    struct mantle_credentials *c = NULL;
    assert_int_equal(mantle_credentials_provider_get(p, &c, NULL), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
}

/* Async callers get the blocking fetch on a worker thread. */
static void test_async(void **state)
{
    (void)state;
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = "dev";
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = &env;
    struct mantle_credentials_provider *p = creds_sso_new(&o, NULL);
    assert_non_null(p);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(provider_get_async(p, test_result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    check_creds(r.creds, ROLE, "dev");
    test_result_free(&r);
    mantle_credentials_provider_unref(p);
    creds_worker_quiesce();
}

static void test_not_configured(void **state)
{
    (void)state;
    expect_error("plain", CREDS_NOT_FOUND, "sso (profile plain has no sso_account_id");
    expect_error("nosuch", CREDS_NOT_FOUND, "sso (no profile nosuch)");
    /* No config file at all. */
    test_env_set(&env, "AWS_CONFIG_FILE", "/nonexistent/config");
    expect_error("dev", CREDS_NOT_FOUND, "sso (no profile dev)");
    assert_int_equal(request_count(), 0);
}

static void test_expired_token(void **state)
{
    (void)state;
    write_token("my-sso", TOKEN, -60);
    expect_error("dev", MANTLE_E_CREDENTIALS, "has expired");
    expect_error("dev", MANTLE_E_CREDENTIALS, "aws sso login --profile dev");
    expect_error("dev", MANTLE_E_CREDENTIALS, "aws sso login --sso-session my-sso");
    write_token(START_URL, TOKEN, -1);
    expect_error("legacy", MANTLE_E_CREDENTIALS, "aws sso login --profile legacy");
    assert_int_equal(request_count(), 0);
}

static void test_missing_or_invalid_token(void **state)
{
    (void)state;
    remove_token("my-sso");
    expect_error("dev", MANTLE_E_CREDENTIALS, "Token for my-sso does not exist");
    expect_error("dev", MANTLE_E_CREDENTIALS, "aws sso login --profile dev");
    remove_token(START_URL);
    expect_error("legacy", MANTLE_E_CREDENTIALS, "Token for " START_URL " does not exist");

    char path[512];
    token_path("my-sso", path, sizeof path);
    test_write_file(path, "{\"accessToken\": \"" TOKEN "\"}");
    expect_error("dev", MANTLE_E_CREDENTIALS, "is invalid");
    test_write_file(path, "not json");
    expect_error("dev", MANTLE_E_CREDENTIALS, "is invalid");
    test_write_file(path, "{\"accessToken\": \"" TOKEN "\", \"expiresAt\": \"tomorrow\"}");
    expect_error("dev", MANTLE_E_CREDENTIALS, "not an ISO 8601 time");
    /* Without HOME there is no cache to look in. */
    write_token("my-sso", TOKEN, 3600);
    test_env_set(&env, "HOME", NULL);
    expect_error("dev", MANTLE_E_CONFIG, "HOME is not set");
    assert_int_equal(request_count(), 0);
}

static void test_portal_401(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"sso\": {\"access_token_expired\": true}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("dev", &c, &err), MANTLE_E_AUTHENTICATION);
    assert_null(c);
    assert_int_equal(err.http_status, 401);
    assert_non_null(strstr(err.message, "expired or is otherwise invalid"));
    assert_non_null(strstr(err.message, "aws sso login --profile dev"));
    assert_true(err.request_id[0] != '\0');
    assert_int_equal(request_count(), 1); /* not retried */

    /* A token the portal does not know is the same answer. */
    fakeserver_post(&fake, "/reset", "{}");
    write_token("my-sso", "some-other-token", 3600);
    expect_error("dev", MANTLE_E_AUTHENTICATION, "aws sso login");
}

static void test_portal_errors(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"sso\": {\"role_name\": \"SomeoneElse\"}}");
    expect_error("dev", MANTLE_E_PERMISSION_DENIED, "HTTP 403 ForbiddenException: No access");
    fakeserver_post(&fake, "/reset", "{}");
    /* Throttling and 5xx are retried. */
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"fail_next\": 2, \"fail_status\": 503}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("dev", &c, &err), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);
    assert_int_equal(request_count(), 3);
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"throttle\": true}}");
    expect_error("dev", MANTLE_E_RATE_LIMIT, "TooManyRequestsException");
}

/* A hanging portal: each attempt ends at its timeout and the caller gets a timeout error in
 * bounded time (only a generous upper bound is asserted). */
static void test_portal_hang_bounded(void **state)
{
    (void)state;
    sso_set_timeouts(500, 700);
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"hang\": true}}");
    double t0 = test_monotonic();
    expect_error("dev", MANTLE_E_TIMEOUT, NULL);
    assert_true(test_monotonic() - t0 < 30.0);
    fakeserver_post(&fake, "/faults", "{\"sso\": null}");
    sso_set_timeouts(0, 0);
}

static void test_malformed(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"malformed\": true}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "not a JSON object");
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"empty_body\": true}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "not a JSON object");
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"missing_fields\": [\"secretAccessKey\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials.secretAccessKey");
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"missing_fields\": [\"roleCredentials\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials");
    fakeserver_post(&fake, "/faults", "{\"sso\": {\"missing_fields\": [\"expiration\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials.expiration");
}

static void test_partial_config(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile a]\nsso_account_id = " ACCOUNT "\n"
                                 "[profile b]\nsso_role_name = R\nsso_account_id = 1\n"
                                 "sso_start_url = " START_URL "\n"
                                 "[profile c]\nsso_session = nope\nsso_role_name = R\n"
                                 "[profile d]\nsso_session = s\nsso_role_name = R\n"
                                 "sso_account_id = 1\n"
                                 "[profile e]\nsso_session = s2\nsso_role_name = R\n"
                                 "sso_account_id = 1\nsso_region = eu-west-1\n"
                                 "[profile f]\nsso_role_name = R\nsso_account_id = 1\n"
                                 "sso_start_url = u\nsso_region = not/a/region\n"
                                 "[sso-session s]\nsso_start_url = " START_URL "\n"
                                 "[sso-session s2]\nsso_start_url = " START_URL "\n"
                                 "sso_region = us-east-1\n");
    expect_error("a", MANTLE_E_CONFIG,
                 "The profile \"a\" is configured to use SSO but is missing required "
                 "configuration: sso_role_name, sso_start_url, sso_region");
    expect_error("b", MANTLE_E_CONFIG, "missing required configuration: sso_region");
    expect_error("c", MANTLE_E_CONFIG, "The specified sso-session does not exist: \"nope\"");
    expect_error("d", MANTLE_E_CONFIG,
                 "The profile \"d\" is configured to use SSO but is missing required "
                 "configuration: sso_region");
    expect_error("e", MANTLE_E_CONFIG,
                 "The value for sso_region is inconsistent between profile (eu-west-1) and "
                 "sso-session (us-east-1).");
    expect_error("f", MANTLE_E_CONFIG, "sso_region is not a valid AWS region name");
    assert_int_equal(request_count(), 0);
}

static void test_credentials_file_counts(void **state)
{
    (void)state;
    /* botocore reads the merged view: SSO keys in the credentials file count too. */
    char creds_path[400];
    snprintf(creds_path, sizeof creds_path, "%s/credentials", home);
    test_write_file(creds_path,
                    "[fromcreds]\nsso_start_url = " START_URL "\nsso_region = us-east-1\n"
                    "sso_account_id = " ACCOUNT "\nsso_role_name = " ROLE "\n");
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("fromcreds", &c, &err), MANTLE_OK);
    check_creds(c, ROLE, "fromcreds");
    mantle_credentials_unref(c);
    unlink(creds_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha1),
        cmocka_unit_test_setup(test_sso_session, reset),
        cmocka_unit_test_setup(test_legacy, reset),
        cmocka_unit_test_setup(test_default_chain_uses_sso, reset),
        cmocka_unit_test_setup(test_async, reset),
        cmocka_unit_test_setup(test_not_configured, reset),
        cmocka_unit_test_setup(test_expired_token, reset),
        cmocka_unit_test_setup(test_missing_or_invalid_token, reset),
        cmocka_unit_test_setup(test_portal_401, reset),
        cmocka_unit_test_setup(test_portal_errors, reset),
        cmocka_unit_test_setup(test_portal_hang_bounded, reset),
        cmocka_unit_test_setup(test_malformed, reset),
        cmocka_unit_test_setup(test_partial_config, reset),
        cmocka_unit_test_setup(test_credentials_file_counts, reset),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    creds_worker_quiesce();
    return rc;
}
