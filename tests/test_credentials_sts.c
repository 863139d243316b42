/* Assume role and web identity against the fake STS (tests/servers/fake_aws.py, which checks
 * AssumeRole signatures with botocore): source_profile chains, credential_source, the cycle rule,
 * mfa_serial, parameters as sent (request log), STS errors and retries, the web identity token
 * re-read at every fetch, the STS endpoint rules, and the default chain's cache. */
#include "testutil.h"

#include <curl/curl.h>
#include <jansson.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

extern char **environ;

/* ---- the fake server ---- */

static struct {
    pid_t pid;
    int in_fd;
    char sts[128], control[128];
} fake;

static int group_setup(void **state)
{
    (void)state;
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char script[4096];
    snprintf(script, sizeof script, "%s", test_source_path("tests/servers/fake_aws.py"));
    char *argv[] = {"/usr/bin/python3", script, "--services",    "sts",
                    "--lifetime",       "300",  "--stdin-watch", NULL};
    assert_int_equal(posix_spawn(&fake.pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    fake.in_fd = in[1];
    FILE *f = fdopen(out[0], "r");
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    json_t *urls = json_loads(line, 0, NULL);
    assert_non_null(json_string_value(json_object_get(urls, "sts")));
    snprintf(fake.sts, sizeof fake.sts, "%s", json_string_value(json_object_get(urls, "sts")));
    snprintf(fake.control, sizeof fake.control, "%s",
             json_string_value(json_object_get(urls, "control")));
    json_decref(urls);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    creds_worker_quiesce();
    close(fake.in_fd);
    int status;
    waitpid(fake.pid, &status, 0);
    return 0;
}

struct body {
    char *p;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    char *p = realloc(b->p, b->len + size * n + 1);
    assert_non_null(p);
    memcpy(p + b->len, data, size * n);
    b->p = p;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static json_t *control(const char *method, const char *path, const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", fake.control, path);
    struct body b = {NULL, 0};
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    assert_int_equal(status, 200);
    json_t *doc = json_loads(b.p, 0, NULL);
    free(b.p);
    assert_non_null(doc);
    return doc;
}

static void control_post(const char *path, const char *body)
{
    json_decref(control("POST", path, body));
}

/* The STS request log (json_decref it). */
static json_t *requests(void)
{
    json_t *doc = control("GET", "/requests?service=sts", NULL);
    json_t *list = json_incref(json_object_get(doc, "requests"));
    json_decref(doc);
    return list;
}

static const char *param(json_t *r, const char *name)
{
    return json_string_value(json_object_get(json_object_get(r, "params"), name));
}

/* ---- files and environment ---- */

struct fake_env {
    const char *names[24];
    const char *values[24];
    int n;
};

static const char *fake_getenv(void *ud, const char *name)
{
    struct fake_env *e = ud;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) return e->values[i];
    return NULL;
}

static void env_set(struct fake_env *e, const char *name, const char *value)
{
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            e->values[i] = value;
            return;
        }
    }
    assert_true(e->n < 24);
    e->names[e->n] = name;
    e->values[e->n++] = value;
}

static char dir[256], config_path[300], creds_path[300], token_path[300];
static struct fake_env env;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    control_post("/reset", "{}");
    snprintf(dir, sizeof dir, "/tmp/mantle-sts-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    snprintf(token_path, sizeof token_path, "%s/token", dir);
    memset(&env, 0, sizeof env);
    env_set(&env, "HOME", dir);
    env_set(&env, "AWS_CONFIG_FILE", config_path);
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    env_set(&env, "AWS_EC2_METADATA_DISABLED", "true");
    env_set(&env, "AWS_ENDPOINT_URL_STS", fake.sts);
    write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
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

static struct mantle_credentials_options opts(const char *profile)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = profile;
    o.getenv_fn = fake_getenv;
    o.getenv_ud = &env;
    return o;
}

typedef struct mantle_credentials_provider *ctor(const struct mantle_credentials_options *,
                                                 struct mantle_error *);

static mantle_code get_with(ctor *make, const char *profile, struct mantle_credentials **out,
                            struct mantle_error *err)
{
    struct mantle_credentials_options o = opts(profile);
    struct mantle_credentials_provider *p = make(&o, err);
    assert_non_null(p);
    mantle_code rc = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return rc;
}

static void expect_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) fail_msg("'%s' not in '%s'", needle, hay);
}

/* ---- assume role ---- */

static void test_source_profile_one_hop(void **state)
{
    (void)state;
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
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
    assert_int_equal(get_with(creds_assume_role_new, "base", &c, &err), CREDS_NOT_FOUND);
}

static void test_chain_three_hops_and_params(void **state)
{
    (void)state;
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                            "[profile r2]\nrole_arn = " ROLE2 "\nsource_profile = r1\n"
                            "external_id = ext-123\n"
                            "[profile r3]\nrole_arn = " ROLE3 "\nsource_profile = r2\n"
                            "duration_seconds = 1800\nrole_session_name = my-session\n"
                            "region = eu-west-1\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(get_with(creds_assume_role_new, "r3", &c, &err), MANTLE_OK);
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
    control_post("/reset", "{}");
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n"
                            "duration_seconds = soon\n");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    log = requests();
    assert_null(param(json_array_get(log, 0), "DurationSeconds"));
    json_decref(log);
}

static void test_credential_source_environment(void **state)
{
    (void)state;
    write_file(config_path,
               "[profile envrole]\nrole_arn = " ROLE1 "\ncredential_source = Environment\n"
               "[profile badsrc]\nrole_arn = " ROLE1 "\ncredential_source = Nope\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    /* no variables: an error, not "nothing" */
    assert_int_equal(get_with(creds_assume_role_new, "envrole", &c, &err), MANTLE_E_CREDENTIALS);
    expect_contains(err.message, "No credentials found in credential_source");
    env_set(&env, "AWS_ACCESS_KEY_ID", SRC_AKID);
    env_set(&env, "AWS_SECRET_ACCESS_KEY", SRC_SECRET);
    assert_int_equal(get_with(creds_assume_role_new, "envrole", &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Source=" SRC_AKID);
    mantle_credentials_unref(c);
    assert_int_equal(get_with(creds_assume_role_new, "badsrc", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "is not valid");
}

static void test_config_errors(void **state)
{
    (void)state;
    write_file(config_path,
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

    assert_int_equal(get_with(creds_assume_role_new, "a", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "Infinite loop");
    expect_contains(err.message, "a -> b");
    assert_int_equal(get_with(creds_assume_role_new, "selfnokeys", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "Infinite loop");
    /* a profile may source itself when it has static keys */
    assert_int_equal(get_with(creds_assume_role_new, "selfkeys", &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Source=" SRC_AKID);
    mantle_credentials_unref(c);

    assert_int_equal(get_with(creds_assume_role_new, "both", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "contains both source_profile and credential_source");
    assert_int_equal(get_with(creds_assume_role_new, "neither", &c, &err), MANTLE_E_CREDENTIALS);
    expect_contains(err.message, "source_profile or credential_source");
    assert_int_equal(get_with(creds_assume_role_new, "ghost", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "The source_profile \"nowhere\"");
    assert_int_equal(get_with(creds_assume_role_new, "fromempty", &c, &err), MANTLE_E_CONFIG);
    expect_contains(err.message, "The source profile \"empty\" must have credentials.");
    assert_int_equal(get_with(creds_assume_role_new, "mfa", &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "profile mfa requires an MFA code (mfa_serial); mantle cannot prompt: use "
                        "a credential_process or get a session token first");
    assert_int_equal(get_with(creds_assume_role_new, "missing", &c, &err), MANTLE_E_CONFIG);
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
    write_file(config_path, text);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
}

/* ---- STS errors ---- */

static void test_signature_does_not_match(void **state)
{
    (void)state;
    write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
                           "\naws_secret_access_key = wrongSecretWrongSecret\n");
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PERMISSION_DENIED);
    expect_contains(err.message, "SignatureDoesNotMatch");
    expect_contains(err.message, "profile r1");
    assert_null(strstr(err.message, "wrongSecret"));
    assert_int_equal(err.http_status, 403);
    assert_int_equal(err.attempts, 1); /* not retried */
    assert_true(err.request_id[0] != '\0');

    /* a role the caller may not assume */
    write_file(creds_path, "[base]\naws_access_key_id = " SRC_AKID
                           "\naws_secret_access_key = " SRC_SECRET "\n");
    control_post("/config", "{\"sts\": {\"roles\": [\"" ROLE2 "\"]}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PERMISSION_DENIED);
    expect_contains(err.message, "AccessDenied");
}

static void test_throttling_and_5xx_retried(void **state)
{
    (void)state;
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    /* two throttled answers, then success */
    control_post("/faults",
                 "{\"sts\": {\"fail_next\": 2, \"fail_status\": 400, "
                 "\"error_code\": \"Throttling\", \"error_message\": \"Rate exceeded\"}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);

    /* always throttled: gives up after the attempts */
    control_post("/reset", "{}");
    control_post("/faults", "{\"sts\": {\"throttle\": true}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_RATE_LIMIT);
    expect_contains(err.message, "Throttling");
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);

    /* 500 once, then success; always 500: MANTLE_E_SERVER */
    control_post("/reset", "{}");
    control_post("/faults", "{\"sts\": {\"fail_next\": 1, \"fail_status\": 500}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    control_post("/faults", "{\"sts\": {\"status\": 500}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_SERVER);
    expect_contains(err.message, "InternalFailure");
    assert_int_equal(err.http_status, 500);
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);
}

static void test_bad_responses(void **state)
{
    (void)state;
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    control_post("/faults", "{\"sts\": {\"malformed\": true}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "not well-formed");
    control_post("/faults", "{\"sts\": {\"missing_fields\": [\"SessionToken\"]}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "Credentials/SessionToken");
    control_post("/faults", "{\"sts\": {\"missing_fields\": [\"Credentials\"]}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PROTOCOL);
    expect_contains(err.message, "Credentials/AccessKeyId");
    control_post("/faults", "{\"sts\": {\"empty_body\": true}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_PROTOCOL);
    /* AssumedRoleUser missing: fine, just no account id */
    control_post("/faults", "{\"sts\": {\"missing_fields\": [\"AssumedRoleUser\"]}}");
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_OK);
    assert_null(mantle_credentials_account_id(c));
    mantle_credentials_unref(c);
}

/* A hanging STS: every attempt ends at its timeout, the call gives up after the attempts, and the
 * caller gets a timeout error, in bounded time (only a generous upper bound is asserted). */
static void test_hanging_sts_bounded(void **state)
{
    (void)state;
    write_file(config_path, "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    sts_set_timeouts(500, 700);
    control_post("/faults", "{\"sts\": {\"hang\": true}}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(get_with(creds_assume_role_new, "r1", &c, &err), MANTLE_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_null(c);
    expect_contains(err.message, "STS AssumeRole");
    assert_int_equal(err.attempts, STS_MAX_ATTEMPTS);
    assert_true(t1.tv_sec - t0.tv_sec < 30); /* 3 x 0.7 s plus backoff, with lots of slack */
    control_post("/faults", "{\"sts\": null}");
    sts_set_timeouts(0, 0);
}

/* ---- web identity ---- */

static void test_web_identity_env_and_reread(void **state)
{
    (void)state;
    write_file(token_path, "token-one");
    control_post("/config", "{\"sts\": {\"web_identity_token\": \"token-one\"}}");
    env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", token_path);
    env_set(&env, "AWS_ROLE_ARN", ROLE1);
    env_set(&env, "AWS_ROLE_SESSION_NAME", "wi-session");
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = creds_web_identity_new(&o, &err);
    assert_non_null(p);
    struct mantle_credentials *c = NULL;
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    expect_contains(mantle_credentials_session_token(c), "Action=AssumeRoleWithWebIdentity");
    expect_contains(mantle_credentials_source(c), "assume-role-with-web-identity");
    mantle_credentials_unref(c);

    /* the issuer rotates the token: the next fetch reads the new one */
    write_file(token_path, "token-two");
    control_post("/config", "{\"sts\": {\"web_identity_token\": \"token-two\"}}");
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
    write_file(token_path, "token-bad");
    assert_int_equal(get_with(creds_web_identity_new, NULL, &c, &err), MANTLE_E_BAD_REQUEST);
    expect_contains(err.message, "InvalidIdentityToken");
    assert_null(strstr(err.message, "token-bad"));
}

static void test_web_identity_profile(void **state)
{
    (void)state;
    write_file(token_path, "fake-web-identity-token");
    char text[1024];
    snprintf(text, sizeof text,
             "[profile wi]\nweb_identity_token_file = %s\nrole_arn = " ROLE2 "\n"
             "[profile chained]\nrole_arn = " ROLE1 "\nsource_profile = wi\n",
             token_path);
    write_file(config_path, text);
    /* the environment names another role: ignored for an explicit profile */
    env_set(&env, "AWS_ROLE_ARN", ROLE3);
    env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_web_identity_new, "wi", &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    /* assume-role leaves a web identity profile alone */
    assert_int_equal(get_with(creds_assume_role_new, "wi", &c, &err), CREDS_NOT_FOUND);
    /* a web identity profile as a role chain's source */
    assert_int_equal(get_with(creds_assume_role_new, "chained", &c, &err), MANTLE_OK);
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
    write_file(config_path, "[default]\nrole_arn = " ROLE1 "\nsource_profile = base\n");
    struct mantle_credentials_options o = opts(NULL);
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

struct async_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct mantle_credentials *creds;
    struct mantle_error err;
};

static void async_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct async_result *r = ud;
    pthread_mutex_lock(&r->mu);
    r->creds = creds;
    if (err) r->err = *err;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void test_default_chain_async(void **state)
{
    (void)state;
    /* a process source profile for a role: STS and a child process run on a worker thread */
    write_file(config_path,
               "[profile r1]\nrole_arn = " ROLE1 "\nsource_profile = proc\n"
               "[profile proc]\ncredential_process = /bin/echo '{\"Version\":1,"
               "\"AccessKeyId\":\"" SRC_AKID "\",\"SecretAccessKey\":\"" SRC_SECRET "\"}'\n");
    struct mantle_credentials_options o = opts("r1");
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_non_null(chain);
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL,
                             MANTLE_ERROR_INIT};
    assert_int_equal(mantle_credentials_provider_get_async(chain, async_done, &r), MANTLE_OK);
    pthread_mutex_lock(&r.mu);
    while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    if (!r.creds) fail_msg("async get failed: %s", r.err.message);
    expect_contains(mantle_credentials_source(r.creds), "assume-role (profile r1)");
    mantle_credentials_unref(r.creds);
    mantle_credentials_provider_unref(chain);
    creds_worker_quiesce();
}

/* ---- endpoint rules ---- */

static void expect_endpoint(const char *url, const char *region)
{
    struct mantle_credentials_options o = opts(NULL);
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
    env_set(&env, "AWS_DEFAULT_REGION", "eu-west-1");
    expect_endpoint("https://sts.amazonaws.com/", "us-east-1");
    env_set(&env, "AWS_REGION", "ap-east-1"); /* AWS_REGION first; not a legacy global region */
    expect_endpoint("https://sts.ap-east-1.amazonaws.com/", "ap-east-1");
    env_set(&env, "AWS_REGION", "us-west-2");
    env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", "regional");
    expect_endpoint("https://sts.us-west-2.amazonaws.com/", "us-west-2");
    env_set(&env, "AWS_REGION", "cn-north-1");
    expect_endpoint("https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1");
    env_set(&env, "AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    expect_endpoint("http://127.0.0.1:9/", "cn-north-1");
    env_set(&env, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:10/sts");
    expect_endpoint("http://127.0.0.1:10/sts", "cn-north-1");
    env_set(&env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    expect_endpoint("https://sts.cn-north-1.amazonaws.com.cn/", "cn-north-1");

    struct mantle_credentials_options o = opts(NULL);
    struct sts_endpoint ep;
    struct mantle_error err = MANTLE_ERROR_INIT;
    env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", "sometimes");
    assert_int_equal(sts_endpoint_resolve(&o, NULL, &ep, &err), MANTLE_E_CONFIG);
    env_set(&env, "AWS_STS_REGIONAL_ENDPOINTS", NULL);
    env_set(&env, "AWS_REGION", "evil.example.com/x");
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
