/* The SSO (IAM Identity Center) credentials provider against the fake portal
 * (tests/servers/fake_aws.py --services sso): sso-session and legacy profiles, the token cache
 * (name, expiry, missing, invalid), the portal's errors (401, 403, 5xx retried, malformed or
 * incomplete documents) and botocore's InvalidConfigError cases. The environment (HOME,
 * AWS_CONFIG_FILE, AWS_ENDPOINT_URL_SSO...) is injected through the options' getenv hook. */
#include "testutil.h"

#include <curl/curl.h>
#include <jansson.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "credentials/credentials_internal.h"
#include "credentials/sso.h"

#define TOKEN "fake-sso-access-token"
#define ACCOUNT "111122223333"
#define ROLE "ReadOnly"
#define START_URL "https://my-sso-portal.awsapps.com/start"

extern char **environ;

/* ---- the fake server ---- */

static struct {
    pid_t pid;
    int in_fd; /* closing it stops the server (--stdin-watch) */
    char sso[128], control[128];
} fake;

static void fake_start(void)
{
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
    char *argv[] = {"/usr/bin/python3", script, "--services",    "sso",
                    "--lifetime",       "120",  "--stdin-watch", NULL};
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
    assert_non_null(json_string_value(json_object_get(urls, "sso")));
    snprintf(fake.sso, sizeof fake.sso, "%s", json_string_value(json_object_get(urls, "sso")));
    snprintf(fake.control, sizeof fake.control, "%s",
             json_string_value(json_object_get(urls, "control")));
    json_decref(urls);
}

static void fake_stop(void)
{
    close(fake.in_fd);
    int status;
    waitpid(fake.pid, &status, 0);
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

/* A control call; returns the parsed JSON answer (json_decref it). */
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

/* The portal's request log (json_decref it). */
static json_t *requests(void)
{
    json_t *doc = control("GET", "/requests?service=sso", NULL);
    json_t *list = json_incref(json_object_get(doc, "requests"));
    json_decref(doc);
    return list;
}

/* ---- files, environment ---- */

static char home[256], config_path[300];

static struct {
    const char *names[16];
    const char *values[16];
    int n;
} env;

static const char *fake_getenv(void *ud, const char *name)
{
    (void)ud;
    for (int i = 0; i < env.n; i++)
        if (strcmp(env.names[i], name) == 0) return env.values[i];
    return test_env_default(name);
}

static void env_set(const char *name, const char *value)
{
    for (int i = 0; i < env.n; i++) {
        if (strcmp(env.names[i], name) == 0) {
            env.values[i] = value;
            return;
        }
    }
    assert_true(env.n < 16);
    env.names[env.n] = name;
    env.values[env.n++] = value;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

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
    write_file(path, text);
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
    write_file(config_path, session_config);
    fake_start();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_stop();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    return system(cmd) == 0 ? 0 : 1;
}

/* Each test starts from the same fake, files and environment. */
static int reset(void **state)
{
    (void)state;
    control_post("/reset", "{}");
    write_file(config_path, session_config);
    write_token("my-sso", TOKEN, 3600);
    write_token(START_URL, TOKEN, 3600);
    env.n = 0;
    env_set("HOME", home);
    env_set("AWS_CONFIG_FILE", config_path);
    env_set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
    env_set("AWS_ENDPOINT_URL_SSO", fake.sso);
    return 0;
}

static mantle_code get(const char *profile, struct mantle_credentials **out,
                       struct mantle_error *err)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = profile;
    o.getenv_fn = fake_getenv;
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
    env_set("AWS_PROFILE", "dev");
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
    env_set("AWS_ENDPOINT_URL_SSO", NULL);
    env_set("AWS_ENDPOINT_URL", fake.sso);
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
    o.getenv_fn = fake_getenv;
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_default_chain(&o, NULL);
    struct mantle_credentials *c = NULL;
    assert_int_equal(mantle_credentials_provider_get(p, &c, NULL), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
}

/* Async callers get the blocking fetch on a worker thread. */
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

static void test_async(void **state)
{
    (void)state;
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = "dev";
    o.getenv_fn = fake_getenv;
    struct mantle_credentials_provider *p = creds_sso_new(&o, NULL);
    assert_non_null(p);
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL,
                             MANTLE_ERROR_INIT};
    assert_int_equal(provider_get_async(p, async_done, &r), MANTLE_OK);
    pthread_mutex_lock(&r.mu);
    while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    check_creds(r.creds, ROLE, "dev");
    mantle_credentials_unref(r.creds);
    mantle_credentials_provider_unref(p);
    creds_worker_quiesce();
}

static void test_not_configured(void **state)
{
    (void)state;
    expect_error("plain", CREDS_NOT_FOUND, "sso (profile plain has no sso_account_id");
    expect_error("nosuch", CREDS_NOT_FOUND, "sso (no profile nosuch)");
    /* No config file at all. */
    env_set("AWS_CONFIG_FILE", "/nonexistent/config");
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
    write_file(path, "{\"accessToken\": \"" TOKEN "\"}");
    expect_error("dev", MANTLE_E_CREDENTIALS, "is invalid");
    write_file(path, "not json");
    expect_error("dev", MANTLE_E_CREDENTIALS, "is invalid");
    write_file(path, "{\"accessToken\": \"" TOKEN "\", \"expiresAt\": \"tomorrow\"}");
    expect_error("dev", MANTLE_E_CREDENTIALS, "not an ISO 8601 time");
    /* Without HOME there is no cache to look in. */
    write_token("my-sso", TOKEN, 3600);
    env_set("HOME", NULL);
    expect_error("dev", MANTLE_E_CONFIG, "HOME is not set");
    assert_int_equal(request_count(), 0);
}

static void test_portal_401(void **state)
{
    (void)state;
    control_post("/config", "{\"sso\": {\"access_token_expired\": true}}");
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
    control_post("/reset", "{}");
    write_token("my-sso", "some-other-token", 3600);
    expect_error("dev", MANTLE_E_AUTHENTICATION, "aws sso login");
}

static void test_portal_errors(void **state)
{
    (void)state;
    control_post("/config", "{\"sso\": {\"role_name\": \"SomeoneElse\"}}");
    expect_error("dev", MANTLE_E_PERMISSION_DENIED, "HTTP 403 ForbiddenException: No access");
    control_post("/reset", "{}");
    /* Throttling and 5xx are retried. */
    control_post("/faults", "{\"sso\": {\"fail_next\": 2, \"fail_status\": 503}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get("dev", &c, &err), MANTLE_OK);
    check_creds(c, ROLE, "dev");
    mantle_credentials_unref(c);
    assert_int_equal(request_count(), 3);
    control_post("/faults", "{\"sso\": {\"throttle\": true}}");
    expect_error("dev", MANTLE_E_RATE_LIMIT, "TooManyRequestsException");
}

static void test_malformed(void **state)
{
    (void)state;
    control_post("/faults", "{\"sso\": {\"malformed\": true}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "not a JSON object");
    control_post("/faults", "{\"sso\": {\"empty_body\": true}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "not a JSON object");
    control_post("/faults", "{\"sso\": {\"missing_fields\": [\"secretAccessKey\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials.secretAccessKey");
    control_post("/faults", "{\"sso\": {\"missing_fields\": [\"roleCredentials\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials");
    control_post("/faults", "{\"sso\": {\"missing_fields\": [\"expiration\"]}}");
    expect_error("dev", MANTLE_E_PROTOCOL, "has no roleCredentials.expiration");
}

static void test_partial_config(void **state)
{
    (void)state;
    write_file(config_path, "[profile a]\nsso_account_id = " ACCOUNT "\n"
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
    write_file(creds_path, "[fromcreds]\nsso_start_url = " START_URL "\nsso_region = us-east-1\n"
                           "sso_account_id = " ACCOUNT "\nsso_role_name = " ROLE "\n");
    env_set("AWS_SHARED_CREDENTIALS_FILE", creds_path);
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
        cmocka_unit_test_setup(test_malformed, reset),
        cmocka_unit_test_setup(test_partial_config, reset),
        cmocka_unit_test_setup(test_credentials_file_counts, reset),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    creds_worker_quiesce();
    return rc;
}
