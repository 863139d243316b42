/* Assume role and web identity against the fake STS (tests/servers/fake_aws.py, which checks
 * AssumeRole signatures with botocore): source_profile chains, credential_source, the cycle rule,
 * mfa_serial, parameters as sent (request log), STS errors and retries, the web identity token
 * re-read at every fetch, the STS endpoint rules, and the default chain's cache. */
#include "testutil.h"

#include "fakeserver.h"

#include <jansson.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/profile_providers.h"
#include "credentials/sts.h"

#define SRC_AKID "AKIAFAKESOURCE000001"
#define SRC_SECRET "fakeSourceSecretAccessKey00000000000001"
#define ROLE1 "arn:aws:iam::123456789012:role/mantle-one"
#define ROLE2 "arn:aws:iam::210987654321:role/mantle-two"
#define ROLE3 "arn:aws:iam::123456789012:role/mantle-three"

/* ---- the fake server ---- */

static struct fakeserver fake;
static const char *sts_url; /* the fake's sts endpoint */

static int group_setup(void **state)
{
    (void)state;
    fakeserver_start_aws(&fake, "sts", "300");
    sts_url = fakeserver_url(&fake, "sts");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    creds_worker_quiesce();
    fakeserver_stop(&fake);
    return 0;
}

/* The STS request log (json_decref it). */
static json_t *requests(void)
{
    return fakeserver_requests(&fake, "sts");
}

static const char *param(json_t *r, const char *name)
{
    return json_string_value(json_object_get(json_object_get(r, "params"), name));
}

/* ---- files and environment ---- */

static char dir[256], config_path[300], creds_path[300], token_path[300];
static struct test_env env;

static int setup(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/reset", "{}");
    snprintf(dir, sizeof dir, "/tmp/mantle-sts-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    snprintf(token_path, sizeof token_path, "%s/token", dir);
    memset(&env, 0, sizeof env);
    test_env_set(&env, "HOME", dir);
    test_env_set(&env, "AWS_CONFIG_FILE", config_path);
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    test_env_set(&env, "AWS_EC2_METADATA_DISABLED", "true");
    test_env_set(&env, "AWS_ENDPOINT_URL_STS", sts_url);
    test_write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
                                "\naws_secret_access_key = " SRC_SECRET "\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config_path);
    unlink(creds_path);
    unlink(token_path);
    rmdir(dir);
    return 0;
}

static void expect_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("'%s' not in '%s'", needle, hay);
}

/* ---- assume role ---- */

static void test_source_profile_one_hop(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    assert_true(strncmp(mantle_credentials_access_key_id(c), "ASIA", 4) == 0);
    expect_contains(mantle_credentials_session_token(c), "Source=" SRC_AKID);
    int64_t exp = mantle_credentials_expiration(c);
    assert_true(exp >= before + 3600 - 5 && exp <= before + 3600 + 60);
    assert_string_equal(mantle_credentials_account_id(c), "123456789012");
    expect_contains(mantle_credentials_source(c), "assume-role (profile r1)");
    mantle_credentials_unref(c);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 1);
    json_t *r = json_array_get(log, 0);
    assert_string_equal(param(r, "Action"), "AssumeRole");
    assert_string_equal(param(r, "Version"), "2011-06-15");
    assert_string_equal(param(r, "RoleArn"), ROLE1);
    assert_true(strncmp(param(r, "RoleSessionName"), "botocore-session-", 17) == 0);
    assert_null(param(r, "ExternalId"));
    assert_null(param(r, "DurationSeconds"));
    json_t *sig = json_object_get(r, "sigv4");
    assert_true(json_is_true(json_object_get(sig, "valid")));
    assert_string_equal(json_string_value(json_object_get(sig, "service")), "sts");
    assert_string_equal(json_string_value(json_object_get(sig, "region")), "us-east-1");
    json_decref(log);

    /* not an assume-role profile: nothing */
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "base", &c, &err), CREDS_NOT_FOUND);
}

static void test_chain_three_hops_and_params(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                                 "[profile r2]\nrole_arn = " ROLE2 "\nsource_profile = r1\n"
                                 "external_id = ext-123\n"
                                 "[profile r3]\nrole_arn = " ROLE3 "\nsource_profile = r2\n"
                                 "duration_seconds = 1800\nrole_session_name = my-session\n"
                                 "region = eu-west-1\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r3", &c, &err), MANTLE_OK);
    int64_t exp = mantle_credentials_expiration(c);
    assert_true(exp >= before + 1800 - 5 && exp <= before + 1800 + 60);
    mantle_credentials_unref(c);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_t *r1 = json_array_get(log, 0), *r2 = json_array_get(log, 1), *r3 = json_array_get(log, 2);
    assert_string_equal(param(r1, "RoleArn"), ROLE1);
    assert_string_equal(param(r2, "RoleArn"), ROLE2);
    assert_string_equal(param(r2, "ExternalId"), "ext-123");
    assert_string_equal(param(r3, "RoleArn"), ROLE3);
    assert_string_equal(param(r3, "DurationSeconds"), "1800");
    assert_string_equal(param(r3, "RoleSessionName"), "my-session");
    /* each hop is signed by the previous hop's credentials */
    const char *k1 = json_string_value(
        json_object_get(json_object_get(json_array_get(log, 0), "issued"), "AccessKeyId"));
    const char *signer3 =
        json_string_value(json_object_get(json_object_get(r3, "sigv4"), "access_key_id"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r2, "sigv4"), "access_key_id")), k1);
    assert_true(strncmp(signer3, "ASIA", 4) == 0 && strcmp(signer3, k1) != 0);
    /* the top profile's region signs: with an endpoint URL override botocore never switches to
     * the global endpoint's us-east-1 (see test_endpoint_rules for the no-override case) */
    assert_string_equal(json_string_value(json_object_get(json_object_get(r3, "sigv4"), "region")),
                        "eu-west-1");
    json_decref(log);

    /* a bad duration_seconds is ignored, as botocore's int() failure is */
    fakeserver_post(&fake, "/reset", "{}");
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                                 "duration_seconds = soon\n");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    log = requests();
    assert_null(param(json_array_get(log, 0), "DurationSeconds"));
    json_decref(log);
}

static void test_credential_source_environment(void **state)
{
    (void)state;
    test_write_file(config_path,
                    "[profile envrole]\nrole_arn = " ROLE1 "\ncredential_source = Environment\n"
                    "[profile badsrc]\nrole_arn = " ROLE1 "\ncredential_source = Nope\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    /* no variables: an error, not "nothing" */
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "envrole", &c, &err),
                     MANTLE_E_CREDENTIALS);
    expect_contains(err.message, "No credentials found in credential_source");
    test_env_set(&env, "AWS_ACCESS_KEY_ID", SRC_AKID);
    test_env_set(&env, "AWS_SECRET_ACCESS_KEY", SRC_SECRET);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "envrole", &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Source=" SRC_AKID);
    mantle_credentials_unref(c);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "badsrc", &c, &err),
                     MANTLE_E_CONFIG);
    expect_contains(err.message, "is not valid");
}

static void test_config_errors(void **state)
{
    (void)state;
    test_write_file(config_path,
                    "[profile a]\nrole_arn = " ROLE1 "\nsource_profile = b\n"
                    "[profile b]\nrole_arn = " ROLE2 "\nsource_profile = a\n"
                    "[profile selfkeys]\nrole_arn = " ROLE1 "\nsource_profile = selfkeys\n"
                    "aws_access_key_id = " SRC_AKID "\naws_secret_access_key = " SRC_SECRET "\n"
                    "[profile selfnokeys]\nrole_arn = " ROLE1 "\nsource_profile = selfnokeys\n"
                    "[profile both]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                    "credential_source = Environment\n"
                    "[profile neither]\nrole_arn = " ROLE1 "\n"
                    "[profile ghost]\nrole_arn = " ROLE1 "\nsource_profile = nowhere\n"
                    "[profile empty]\nregion = us-west-2\n"
                    "[profile fromempty]\nrole_arn = " ROLE1 "\nsource_profile = empty\n"
                    "[profile mfa]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                    "mfa_serial = arn:aws:iam::123456789012:mfa/me\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    assert_int_equal(test_get_with(creds_assume_role_new, &env, "a", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "Infinite loop");
    expect_contains(err.message, "a -> b");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "selfnokeys", &c, &err),
                     MANTLE_E_CONFIG);
    expect_contains(err.message, "Infinite loop");
    /* a profile may source itself when it has static keys */
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "selfkeys", &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Source=" SRC_AKID);
    mantle_credentials_unref(c);

    assert_int_equal(test_get_with(creds_assume_role_new, &env, "both", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "contains both source_profile and credential_source");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "neither", &c, &err),
                     MANTLE_E_CREDENTIALS);
    expect_contains(err.message, "source_profile or credential_source");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "ghost", &c, &err),
                     MANTLE_E_CONFIG);
    expect_contains(err.message, "The source_profile \"nowhere\"");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "fromempty", &c, &err),
                     MANTLE_E_CONFIG);
    expect_contains(err.message, "The source profile \"empty\" must have credentials.");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "mfa", &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "profile mfa requires an MFA code (mfa_serial); mantle cannot prompt: use "
                        "a credential_process or get a session token first");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "missing", &c, &err),
                     MANTLE_E_CONFIG);
    assert_string_equal(err.message, "The config profile (missing) could not be found");

    /* none of these reached STS except selfkeys */
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 1);
    json_decref(log);
}

static void test_source_profile_with_credential_process(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = proc\n"
             "[profile proc]\ncredential_process = /bin/echo '{\"Version\":1,"
             "\"AccessKeyId\":\"" SRC_AKID "\",\"SecretAccessKey\":\"" SRC_SECRET "\"}'\n");
    test_write_file(config_path, text);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
}

/* ---- STS errors ---- */

static void test_signature_does_not_match(void **state)
{
    (void)state;
    test_write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
                                "\naws_secret_access_key = wrongSecretWrongSecret\n");
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err),
                     MANTLE_E_PERMISSION_DENIED);
    expect_contains(err.message, "SignatureDoesNotMatch");
    expect_contains(err.message, "profile r1");
    assert_null(strstr(err.message, "wrongSecret"));
    assert_int_equal(err.http_status, 403);
    assert_int_equal(err.attempts, 1); /* not retried */
    assert_true(err.request_id[0] != '\0');

    /* a role the caller may not assume */
    test_write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
                                "\naws_secret_access_key = " SRC_SECRET "\n");
    fakeserver_post(&fake, "/config", "{\"sts\": {\"roles\": [\"" ROLE2 "\"]}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err),
                     MANTLE_E_PERMISSION_DENIED);
    expect_contains(err.message, "AccessDenied");
}

static void test_throttling_and_5xx_retried(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    /* two throttled answers, then success */
    fakeserver_post(&fake, "/faults",
                    "{\"sts\": {\"fail_next\": 2, \"fail_status\": 400, "
                    "\"error_code\": \"Throttling\", \"error_message\": \"Rate exceeded\"}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);

    /* always throttled: gives up after the attempts */
    fakeserver_post(&fake, "/reset", "{}");
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"throttle\": true}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err),
                     MANTLE_E_RATE_LIMIT);
    expect_contains(err.message, "Throttling");
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);

    /* 500 once, then success; always 500: MANTLE_E_SERVER */
    fakeserver_post(&fake, "/reset", "{}");
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"fail_next\": 1, \"fail_status\": 500}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"status\": 500}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_SERVER);
    expect_contains(err.message, "InternalFailure");
    assert_int_equal(err.http_status, 500);
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);
}

static void test_bad_responses(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"malformed\": true}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "not well-formed");
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"missing_fields\": [\"SessionToken\"]}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "Credentials/SessionToken");
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"missing_fields\": [\"Credentials\"]}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "Credentials/AccessKeyId");
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"empty_body\": true}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_PROTOCOL);
    /* AssumedRoleUser missing: fine, just no account id */
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"missing_fields\": [\"AssumedRoleUser\"]}}");
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_OK);
    assert_null(mantle_credentials_account_id(c));
    mantle_credentials_unref(c);
}

/* A hanging STS: every attempt ends at its timeout, the call gives up after the attempts, and the
 * caller gets a timeout error, in bounded time (only a generous upper bound is asserted). */
static void test_hanging_sts_bounded(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    sts_set_timeouts(500, 700);
    fakeserver_post(&fake, "/faults", "{\"sts\": {\"hang\": true}}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "r1", &c, &err), MANTLE_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(c);
    expect_contains(err.message, "STS AssumeRole");
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);
    assert_true(t1.tv_sec - t0.tv_sec < 30); /* 3 x 0.7 s plus backoff, with lots of slack */
    fakeserver_post(&fake, "/faults", "{\"sts\": null}");
    sts_set_timeouts(0, 0);
}

/* ---- web identity ---- */

static void test_web_identity_env_and_reread(void **state)
{
    (void)state;
    test_write_file(token_path, "token-one");
    fakeserver_post(&fake, "/config", "{\"sts\": {\"web_identity_token\": \"token-one\"}}");
    test_env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", token_path);
    test_env_set(&env, "AWS_ROLE_ARN", ROLE1);
    test_env_set(&env, "AWS_ROLE_SESSION_NAME", "wi-session");
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = creds_web_identity_new(&o, &err);
    assert_non_null(p);
    struct mantle_credentials *c = NULL;
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Action=AssumeRoleWithWebIdentity");
    expect_contains(mantle_credentials_source(c), "assume-role-with-web-identity");
    mantle_credentials_unref(c);

    /* the issuer rotates the token: the next fetch reads the new one */
    test_write_file(token_path, "token-two");
    fakeserver_post(&fake, "/config", "{\"sts\": {\"web_identity_token\": \"token-two\"}}");
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 2);
    json_t *r1 = json_array_get(log, 0), *r2 = json_array_get(log, 1);
    assert_string_equal(param(r1, "Action"), "AssumeRoleWithWebIdentity");
    assert_string_equal(param(r1, "WebIdentityToken"), "token-one");
    assert_string_equal(param(r2, "WebIdentityToken"), "token-two");
    assert_string_equal(param(r2, "RoleArn"), ROLE1);
    assert_string_equal(param(r2, "RoleSessionName"), "wi-session");
    /* unsigned */
    assert_null(json_object_get(json_object_get(r1, "headers"), "authorization"));
    json_decref(log);

    /* a token STS refuses */
    test_write_file(token_path, "token-bad");
    assert_int_equal(test_get_with(creds_web_identity_new, &env, NULL, &c, &err),
                     MANTLE_E_BAD_REQUEST);
    expect_contains(err.message, "InvalidIdentityToken");
    assert_null(strstr(err.message, "token-bad"));
}

static void test_web_identity_profile(void **state)
{
    (void)state;
    test_write_file(token_path, "fake-web-identity-token");
    char text[1024];
    snprintf(text, sizeof text,
             "[profile wi]\nweb_identity_token_file = %s\nrole_arn = " ROLE2 "\n"
             "[profile chained]\nrole_arn = " ROLE1 "\nsource_profile = wi\n",
             token_path);
    test_write_file(config_path, text);
    /* the environment names another role: ignored for an explicit profile */
    test_env_set(&env, "AWS_ROLE_ARN", ROLE3);
    test_env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_web_identity_new, &env, "wi", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    /* assume-role leaves a web identity profile alone */
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "wi", &c, &err), CREDS_NOT_FOUND);
    /* a web identity profile as a role chain's source */
    assert_int_equal(test_get_with(creds_assume_role_new, &env, "chained", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    assert_string_equal(param(json_array_get(log, 0), "RoleArn"), ROLE2);
    assert_string_equal(param(json_array_get(log, 1), "Action"), "AssumeRoleWithWebIdentity");
    assert_string_equal(param(json_array_get(log, 2), "RoleArn"), ROLE1);
    json_decref(log);
}

/* ---- the default chain ---- */

static void test_default_chain_caches(void **state)
{
    (void)state;
    test_write_file(config_path, "[default]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_non_null(chain);
    struct mantle_credentials *c1 = NULL, *c2 = NULL;
    assert_int_equal(mantle_credentials_provider_get(chain, &c1, &err), MANTLE_OK);
    assert_int_equal(mantle_credentials_provider_get(chain, &c2, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c1), mantle_credentials_access_key_id(c2));
    mantle_credentials_unref(c1);
    mantle_credentials_unref(c2);
    mantle_credentials_provider_unref(chain);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 1);
    json_decref(log);
}

static void test_default_chain_async(void **state)
{
    (void)state;
    /* a process source profile for a role: STS and a child process run on a worker thread */
    test_write_file(config_path,
                    "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = proc\n"
                    "[profile proc]\ncredential_process = /bin/echo '{\"Version\":1,"
                    "\"AccessKeyId\":\"" SRC_AKID "\",\"SecretAccessKey\":\"" SRC_SECRET "\"}'\n");
    struct mantle_credentials_options o = test_env_options(&env, "r1");
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_non_null(chain);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(chain, test_result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    if (!r.creds) fail_msg("async get failed: %s", r.err.message);
    expect_contains(mantle_credentials_source(r.creds), "assume-role (profile r1)");
    test_result_free(&r);
    mantle_credentials_provider_unref(chain);
    creds_worker_quiesce();
}

/* ---- endpoint rules ---- */

static void expect_endpoint(const char *url, const char *region)
{
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct sts_endpoint ep;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(sts_endpoint_resolve(&o, NULL, &ep, &err), MANTLE_OK);
    assert_string_equal(ep.url, url);
    assert_string_equal(ep.region, region);
}

static void test_endpoint_rules(void **state)
{
    (void)state;
    memset(&env, 0, sizeof env);
    expect_endpoint("https://sts.amazonaws.com/", "us-east-1");
    test_env_set(&env, "AWS_DEFAULT_REGION", "eu-west-1");
    expect_endpoint("https://sts.amazonaws.com/", "us-east-1");
    test_env_set(&env, "AWS_REGION",
                 "ap-east-1"); /* AWS_REGION first; not a legacy global region */
    expect_endpoint("https://sts.ap-east-1.amazonaws.com/", "ap-east-1");
    test_env_set(&env, "AWS_REGION", "us-west-2");
    test_env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", "regional");
    expect_endpoint("https://sts.us-west-2.amazonaws.com/", "us-west-2");
    test_env_set(&env, "AWS_REGION", "cn-north-1");
    expect_endpoint("https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1");
    test_env_set(&env, "AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    expect_endpoint("http://127.0.0.1:9/", "cn-north-1");
    test_env_set(&env, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:10/sts");
    expect_endpoint("http://127.0.0.1:10/sts", "cn-north-1");
    test_env_set(&env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    expect_endpoint("https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1");

    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct sts_endpoint ep;
    struct mantle_error err = MANTLE_ERROR_INIT;
    test_env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", "sometimes");
    assert_int_equal(sts_endpoint_resolve(&o, NULL, &ep, &err), MANTLE_E_CONFIG);
    test_env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", NULL);
    test_env_set(&env, "AWS_REGION", "evil.example.com/x");
    assert_int_equal(sts_endpoint_resolve(&o, NULL, &ep, &err), MANTLE_E_CONFIG);
    assert_null(strstr(err.message, "evil"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_source_profile_one_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_three_hops_and_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_source_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_profile_with_credential_process, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signature_does_not_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttling_and_5xx_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_sts_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_env_and_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_chain_caches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_chain_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
