/* The EC2 instance metadata provider against the fake IMDS (tests/servers/fake_aws.py): IMDSv2,
 * the IMDSv1 fallback, the token cache, retries, timeouts, bad documents, static stability and
 * the configuration variables. The fake is started once, as a child process, and reset before
 * every test through its control API. */
#include "testutil.h"

#include "fakeserver.h"

#include <jansson.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/http_fetch.h"

#define ROLE "mantle-imds-role"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define AKID "ASIAFAKEIMDS00000001"
#define SECRET "fakeImdsSecretAccessKey000000000000000001"
#define TOKEN "fake-imds-session-token-0001"

/* ---- the fake server ---- */

static struct fakeserver fake;
static const char *imds_url; /* the fake's imds endpoint */

/* The IMDS request log (json_decref it). */
static json_t *requests(void)
{
    return fakeserver_requests(&fake, "imds");
}

/* Requests with this method whose path starts with prefix. */
static size_t count(json_t *log, const char *method, const char *prefix)
{
    size_t n = 0, i;
    json_t *r;
    json_array_foreach(log, i, r)
    {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        if (strcmp(m, method) == 0 && strncmp(p, prefix, strlen(prefix)) == 0) n++;
    }
    return n;
}

/* ---- environment, clock, provider ---- */

static struct test_env env;

static int64_t clock_offset;

static int64_t fake_now(void *ud)
{
    (void)ud;
    return (int64_t)time(NULL) + clock_offset;
}

static struct mantle_credentials_provider *new_imds(void)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn =
        test_env_getenv_only; /* IMDS is the subject: no AWS_EC2_METADATA_DISABLED default */
    o.getenv_ud = &env;
    o.now_fn = fake_now;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_imds(&o, &err);
    assert_non_null(p);
    return p;
}

/* One get on a fresh provider: the internal (unwrapped) code. */
static mantle_code get_once(struct mantle_credentials **out, struct mantle_error *err)
{
    struct mantle_credentials_provider *p = new_imds();
    mantle_code code = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return code;
}

static void assert_no_secrets(const char *msg)
{
    assert_null(strstr(msg, SECRET));
    assert_null(strstr(msg, TOKEN));
    assert_null(strstr(msg, "AQAEA")); /* the fake's IMDS tokens */
}

static void expect_error(mantle_code want, const char *needle)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = get_once(&c, &err);
    if (code != want) fail_msg("got code %d (%s), want %d", (int)code, err.message, (int)want);
    assert_null(c);
    assert_int_equal(err.code, want);
    if (needle && !strstr(err.message, needle)) fail_msg("'%s' not in '%s'", needle, err.message);
    assert_no_secrets(err.message);
}

static int setup(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/reset", "{}");
    env.n = 0;
    clock_offset = 0;
    test_env_set(&env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_url);
    return 0;
}

/* ---- tests ---- */

static void test_v2_happy_path(void **state)
{
    (void)state;
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), AKID);
    assert_string_equal(mantle_credentials_secret_access_key(c), SECRET);
    assert_string_equal(mantle_credentials_session_token(c), TOKEN);
    assert_null(mantle_credentials_account_id(c));
    char source[256];
    snprintf(source, sizeof source, "imds (%s, role " ROLE ")", imds_url);
    assert_string_equal(mantle_credentials_source(c), source);
    int64_t left = mantle_credentials_expiration(c) - time(NULL); /* not extended */
    assert_true(left > 21600 - 60 && left <= 21600 + 5);
    mantle_credentials_unref(c);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_t *put = json_array_get(log, 0);
    assert_string_equal(fakeserver_field(put, "method"), "PUT");
    assert_string_equal(fakeserver_field(put, "path"), "/latest/api/token");
    assert_string_equal(fakeserver_header(put, "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    for (size_t i = 1; i < 3; i++) {
        json_t *r = json_array_get(log, i);
        assert_string_equal(fakeserver_field(r, "method"), "GET");
        assert_string_equal(fakeserver_field(r, "imds_auth"), "v2");
        assert_non_null(fakeserver_header(r, "x-aws-ec2-metadata-token"));
    }
    assert_string_equal(fakeserver_field(json_array_get(log, 1), "path"), CREDS_PATH);
    assert_string_equal(fakeserver_field(json_array_get(log, 2), "path"), CREDS_PATH ROLE);
    json_decref(log);
}

/* The provider never uses a proxy, whatever the process environment says. */
static void test_no_proxy(void **state)
{
    (void)state;
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    setenv("HTTP_PROXY", "http://127.0.0.1:9", 1);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = get_once(&c, &err);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    assert_int_equal(code, MANTLE_OK);
    mantle_credentials_unref(c);
}

static void test_token_cached_and_ttl(void **state)
{
    (void)state;
    struct mantle_credentials_provider *p = new_imds();
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    clock_offset = 21000; /* still more than 120 s before the 6 h TTL ends */
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(count(log, "PUT", "/"), 1);
    assert_int_equal(count(log, "GET", CREDS_PATH), 4);
    json_decref(log);

    clock_offset = 21600 - 100; /* inside the refresh buffer: a new token */
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    log = requests();
    assert_int_equal(count(log, "PUT", "/"), 2);
    json_decref(log);
    mantle_credentials_provider_unref(p);
}

/* A token whose TTL is within the refresh buffer is used once, never cached. */
static void test_short_token_ttl_not_reused(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"imds\": {\"token_ttl_override\": 60}}");
    struct mantle_credentials_provider *p = new_imds();
    for (int i = 0; i < 2; i++) {
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
        mantle_credentials_unref(c);
    }
    json_t *log = requests();
    assert_int_equal(count(log, "PUT", "/"), 2);
    json_decref(log);
    mantle_credentials_provider_unref(p);
}

/* The service forgets the token mid-life: the 401 gets a new token and the GET is repeated. */
static void test_token_expired_mid_life(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"imds\": {\"require_token\": true}}");
    struct mantle_credentials_provider *p = new_imds();
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    fakeserver_post(&fake, "/imds/expire-tokens", "{}");
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), AKID);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(count(log, "PUT", "/"), 2);
    size_t i, invalid = 0;
    json_t *r;
    json_array_foreach(log, i, r)
    {
        const char *auth = fakeserver_field(r, "imds_auth");
        if (auth && strcmp(auth, "invalid-token") == 0) invalid++;
        if (auth) assert_true(strcmp(auth, "v1") != 0);
    }
    assert_int_equal(invalid, 1);
    json_decref(log);
    mantle_credentials_provider_unref(p);
}

static void test_v1_fallback(void **state)
{
    (void)state;
    static const int statuses[] = {403, 404, 405};
    for (size_t k = 0; k < 3; k++) {
        setup(NULL);
        char rule[128];
        snprintf(rule, sizeof rule, "{\"imds\": {\"method\": \"PUT\", \"status\": %d}}",
                 statuses[k]);
        fakeserver_post(&fake, "/faults", rule);
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        assert_int_equal(get_once(&c, &err), MANTLE_OK);
        assert_string_equal(mantle_credentials_access_key_id(c), AKID);
        mantle_credentials_unref(c);
        json_t *log = requests();
        assert_int_equal(count(log, "GET", CREDS_PATH), 2);
        size_t i;
        json_t *r;
        json_array_foreach(log, i, r)
        {
            if (strcmp(fakeserver_field(r, "method"), "GET") != 0) continue;
            assert_string_equal(fakeserver_field(r, "imds_auth"), "v1");
            assert_null(fakeserver_header(r, "x-aws-ec2-metadata-token"));
        }
        json_decref(log);
    }
}

/* botocore also falls back when every token attempt failed otherwise (here a 500). */
static void test_v1_fallback_after_failed_attempts(void **state)
{
    (void)state;
    test_env_set(&env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"status\": 500}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(count(log, "PUT", "/"), 2);
    assert_string_equal(fakeserver_field(json_array_get(log, 2), "imds_auth"), "v1");
    json_decref(log);
}

static void test_v1_disabled(void **state)
{
    (void)state;
    test_env_set(&env, "AWS_EC2_METADATA_V1_DISABLED", "true");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"status\": 405}}");
    expect_error(MANTLE_E_CREDENTIALS, "IMDSv1 is disabled");
    json_t *log = requests();
    assert_int_equal(count(log, "GET", "/"), 0);
    json_decref(log);

    /* A token that times out is no reason to use v1 either. */
    setup(NULL);
    test_env_set(&env, "AWS_EC2_METADATA_V1_DISABLED", "TRUE");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"hang\": true}}");
    double t0 = test_monotonic();
    expect_error(MANTLE_E_CREDENTIALS, "timed out");
    assert_true(test_monotonic() - t0 < 1 + 4); /* 1 s timeout plus generous slack */
    fakeserver_post(&fake, "/faults", "{\"imds\": null}");
    log = requests();
    assert_int_equal(count(log, "GET", "/"), 0);
    json_decref(log);
}

static void test_token_400_is_error(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"status\": 400}}");
    expect_error(MANTLE_E_BAD_REQUEST, "HTTP 400");
    json_t *log = requests();
    assert_int_equal(count(log, "GET", "/"), 0);
    json_decref(log);
}

/* The token PUT hangs: a read timeout falls back to IMDSv1 within the timeout. */
static void test_token_timeout_falls_back(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"hang\": true}}");
    double t0 = test_monotonic();
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_true(test_monotonic() - t0 < 1 + 4);
    mantle_credentials_unref(c);
    fakeserver_post(&fake, "/faults", "{\"imds\": null}");
    json_t *log = requests();
    assert_string_equal(fakeserver_field(json_array_get(log, 1), "imds_auth"), "v1");
    json_decref(log);
}

/* Everything hangs: "not found" (nothing answered), bounded by the configured timeout per
 * request (the token PUT, then the v1 role GET). */
static void test_hanging_endpoint_bounded(void **state)
{
    (void)state;
    test_env_set(&env, "AWS_METADATA_SERVICE_TIMEOUT", "0.5");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"hang\": true}}");
    double t0 = test_monotonic();
    expect_error(CREDS_NOT_FOUND, "imds (no instance metadata service");
    assert_true(test_monotonic() - t0 < 2 * 0.5 + 4);
    fakeserver_post(&fake, "/faults", "{\"imds\": null}");
}

static void test_not_on_ec2(void **state)
{
    (void)state;
    /* A port nobody listens on. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    test_env_set(&env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    double t0 = test_monotonic();
    expect_error(CREDS_NOT_FOUND, "imds (no instance metadata service at http://127.0.0.1:");
    assert_true(test_monotonic() - t0 < 4);
}

static void test_no_role(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults",
                    "{\"imds\": {\"path_prefix\": \"" CREDS_PATH "\", \"status\": 404}}");
    expect_error(CREDS_NOT_FOUND, "no IAM role");
    setup(NULL);
    fakeserver_post(&fake, "/faults",
                    "{\"imds\": {\"path_prefix\": \"" CREDS_PATH "\", \"empty_body\": true}}");
    expect_error(CREDS_NOT_FOUND, "no IAM role");
}

static void test_server_errors_and_retries(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"GET\", \"status\": 500}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_E_SERVER);
    assert_int_equal(err.http_status, 500);
    assert_int_equal(err.attempts, 1);
    assert_non_null(strstr(err.message, "HTTP 500"));

    /* Two failures, three attempts: the third succeeds. */
    setup(NULL);
    test_env_set(&env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "3");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"GET\", \"fail_next\": 2}}");
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    json_t *log = requests();
    assert_int_equal(count(log, "GET", CREDS_PATH), 4);
    json_decref(log);
}

static void test_throttling(void **state)
{
    (void)state;
    test_env_set(&env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"GET\", \"throttle\": true}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_E_RATE_LIMIT);
    assert_int_equal(err.http_status, 429);
    assert_int_equal(err.attempts, 2);
    json_t *log = requests();
    assert_int_equal(count(log, "GET", CREDS_PATH), 2);
    json_decref(log);
}

static void test_malformed_json(void **state)
{
    (void)state;
    test_env_set(&env, "AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2");
    fakeserver_post(&fake, "/faults",
                    "{\"imds\": {\"path_prefix\": \"" CREDS_PATH ROLE "\", \"malformed\": true}}");
    expect_error(MANTLE_E_PROTOCOL, "not a JSON object");
    json_t *log = requests();
    assert_int_equal(count(log, "GET", CREDS_PATH ROLE), 2); /* retried, as botocore */
    json_decref(log);
}

static void test_missing_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"};
    for (size_t i = 0; i < 4; i++) {
        setup(NULL);
        char rule[160];
        snprintf(rule, sizeof rule, "{\"imds\": {\"missing_fields\": [\"%s\"]}}", fields[i]);
        fakeserver_post(&fake, "/faults", rule);
        char want[64];
        snprintf(want, sizeof want, "has no %s", fields[i]);
        expect_error(MANTLE_E_PROTOCOL, want);
    }
}

/* A 200 whose document says Code != Success (e.g. EC2 is not a trusted entity of the role). */
static void test_body_code(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/faults",
                    "{\"imds\": {\"body_code\": \"AssumeRoleUnauthorizedAccess\"}}");
    expect_error(MANTLE_E_CREDENTIALS, "Code AssumeRoleUnauthorizedAccess");
}

/* botocore's static stability: expiring or expired credentials are served with an expiration
 * pushed to now + 15 min + 2..10 min, so refreshes are spaced out during an outage. */
static void test_static_stability(void **state)
{
    (void)state;
    const char *rules[] = {"{\"imds\": {\"expired\": true}}", NULL};
    for (int k = 0; k < 2; k++) {
        setup(NULL);
        if (rules[k])
            fakeserver_post(&fake, "/faults", rules[k]);
        else
            fakeserver_post(&fake, "/config",
                            "{\"imds\": {\"expires_in\": 1000}}"); /* inside 17 min */
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        int64_t before = time(NULL);
        assert_int_equal(get_once(&c, &err), MANTLE_OK);
        int64_t exp = mantle_credentials_expiration(c);
        assert_true(exp >= before + 900 + 120);
        assert_true(exp <= time(NULL) + 900 + 600);
        mantle_credentials_unref(c);
    }
    /* Far from expiry: untouched (the happy-path test checks the 6 h case). */
    setup(NULL);
    fakeserver_post(&fake, "/config", "{\"imds\": {\"expires_in\": 1600}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    int64_t left = mantle_credentials_expiration(c) - time(NULL);
    assert_true(left > 1500 && left <= 1605);
    mantle_credentials_unref(c);
}

static void test_disabled(void **state)
{
    (void)state;
    const char *values[] = {"true", "TRUE", "True"};
    for (int i = 0; i < 3; i++) {
        test_env_set(&env, "AWS_EC2_METADATA_DISABLED", values[i]);
        expect_error(CREDS_NOT_FOUND, "imds (AWS_EC2_METADATA_DISABLED=true)");
    }
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
    /* botocore disables only on "true". */
    const char *enabled[] = {"false", "1", "yes"};
    for (int i = 0; i < 3; i++) {
        test_env_set(&env, "AWS_EC2_METADATA_DISABLED", enabled[i]);
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        assert_int_equal(get_once(&c, &err), MANTLE_OK);
        mantle_credentials_unref(c);
    }
}

static void test_configuration(void **state)
{
    (void)state;
    /* The endpoint wins over the mode; a trailing slash is fine. */
    char url[160];
    snprintf(url, sizeof url, "%s/", imds_url);
    test_env_set(&env, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
    test_env_set(&env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_non_null(strstr(mantle_credentials_source(c), imds_url));
    assert_null(strstr(mantle_credentials_source(c), "/,"));
    mantle_credentials_unref(c);

    static const struct {
        const char *name, *value, *needle;
    } bad[] = {
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "not a url", "AWS_EC2_METADATA_SERVICE_ENDPOINT"},
        {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "ftp://127.0.0.1/", "http://"},
        {"AWS_METADATA_SERVICE_TIMEOUT", "abc", "AWS_METADATA_SERVICE_TIMEOUT"},
        {"AWS_METADATA_SERVICE_TIMEOUT", "0", "AWS_METADATA_SERVICE_TIMEOUT"},
        {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "0", "AWS_METADATA_SERVICE_NUM_ATTEMPTS"},
        {"AWS_METADATA_SERVICE_NUM_ATTEMPTS", "2x", "AWS_METADATA_SERVICE_NUM_ATTEMPTS"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        test_env_set(&env, bad[i].name, bad[i].value);
        expect_error(MANTLE_E_CONFIG, bad[i].needle);
    }
    setup(NULL);
    env.n = 0; /* no endpoint: the mode is checked */
    test_env_set(&env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv5");
    expect_error(MANTLE_E_CONFIG, "IPv4 or IPv6");
}

/* IMDSv2 required, but no token (the PUT is refused): the v1 GET's 401 is an error that says
 * why. */
static void test_v1_refused(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"imds\": {\"require_token\": true}}");
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"method\": \"PUT\", \"status\": 403}}");
    expect_error(MANTLE_E_AUTHENTICATION, "hop limit");
}

struct async_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct mantle_credentials *creds;
};

static void on_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct async_result *r = ud;
    (void)err;
    pthread_mutex_lock(&r->mu);
    r->creds = creds;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void test_async(void **state)
{
    (void)state;
    struct mantle_credentials_provider *p = new_imds();
    struct async_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, NULL};
    assert_int_equal(mantle_credentials_provider_get_async(p, on_done, &r), MANTLE_OK);
    pthread_mutex_lock(&r.mu);
    while (!r.done) pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    assert_non_null(r.creds);
    assert_string_equal(mantle_credentials_access_key_id(r.creds), AKID);
    mantle_credentials_unref(r.creds);
    mantle_credentials_provider_unref(p);
    creds_worker_quiesce();
}

/* The end of the default chain: env, container, IMDS. */
static void test_chain_tail(void **state)
{
    (void)state;
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn =
        test_env_getenv_only; /* IMDS is the subject: no AWS_EC2_METADATA_DISABLED default */
    o.getenv_ud = &env;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *items[3] = {
        mantle_credentials_provider_new_environment(&o, &err),
        mantle_credentials_provider_new_container(&o, &err),
        mantle_credentials_provider_new_imds(&o, &err),
    };
    struct mantle_credentials_provider *chain = creds_chain_new(items, 3, &err);
    for (int i = 0; i < 3; i++) mantle_credentials_provider_unref(items[i]);
    assert_non_null(chain);
    struct mantle_credentials *c = NULL;
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_non_null(strstr(mantle_credentials_source(c), "imds ("));
    mantle_credentials_unref(c);

    test_env_set(&env, "AWS_EC2_METADATA_DISABLED", "true");
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Unable to locate credentials"));
    assert_non_null(strstr(err.message, "container ("));
    assert_non_null(strstr(err.message, "imds (AWS_EC2_METADATA_DISABLED=true)"));
    mantle_credentials_provider_unref(chain);
}

static void *concurrent_worker(void *arg)
{
    struct mantle_credentials_provider *p = arg;
    for (int i = 0; i < 3; i++) {
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        if (provider_get(p, &c, &err) != MANTLE_OK) return (void *)1;
        mantle_credentials_unref(c);
    }
    return NULL;
}

/* One provider shared by threads while its token is invalidated: the token cache is shared
 * state. */
static void test_concurrent_gets(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"imds\": {\"require_token\": true}}");
    struct mantle_credentials_provider *p = new_imds();
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&t[i], NULL, concurrent_worker, p), 0);
    fakeserver_post(&fake, "/imds/expire-tokens", "{}");
    for (int i = 0; i < 6; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    mantle_credentials_provider_unref(p);
}

/* The shared HTTP helper on its own: a PUT with a captured header, the size cap, a refused
 * connection and a read timeout. */
static void test_http_fetch(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url, "%s/latest/api/token", imds_url);
    const struct mantle_header h = {"x-aws-ec2-metadata-token-ttl-seconds", "300"};
    struct http_fetch_request req = {.method = "PUT",
                                     .url = url,
                                     .headers = &h,
                                     .header_count = 1,
                                     .connect_timeout_ms = 2000,
                                     .timeout_ms = 2000,
                                     .capture = {"X-AWS-EC2-Metadata-Token-TTL-Seconds", NULL}};
    struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(http_fetch(&req, &resp, &err), MANTLE_OK);
    assert_int_equal(resp.status, 200);
    assert_true(resp.connected);
    assert_true(resp.body.len > 0);
    assert_string_equal(resp.captured[0], "300");

    /* Over the cap: an error, not a truncated body. */
    snprintf(url, sizeof url, "%s" CREDS_PATH ROLE, imds_url);
    req.method = "GET";
    req.header_count = 0;
    req.max_body = 10;
    assert_int_equal(http_fetch(&req, &resp, &err), MANTLE_E_PROTOCOL);
    assert_non_null(strstr(err.message, "larger than 10 bytes"));

    /* A hanging server: a timeout after connecting. */
    fakeserver_post(&fake, "/faults", "{\"imds\": {\"hang\": true}}");
    req.max_body = 0;
    req.timeout_ms = 300;
    double t0 = test_monotonic();
    assert_int_equal(http_fetch(&req, &resp, &err), MANTLE_E_TIMEOUT);
    assert_true(resp.connected);
    assert_true(test_monotonic() - t0 < 0.3 + 3);
    fakeserver_post(&fake, "/faults", "{\"imds\": null}");

    snprintf(url, sizeof url, "http://127.0.0.1:1/");
    assert_int_equal(http_fetch(&req, &resp, &err), MANTLE_E_CONNECTION);
    assert_false(resp.connected);
    assert_int_equal(resp.status, 0);
    http_fetch_response_free(&resp);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    fakeserver_start_aws(&fake, "imds,ecs", "300");
    imds_url = fakeserver_url(&fake, "imds");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fakeserver_stop(&fake);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_v2_happy_path, setup),
        cmocka_unit_test_setup(test_no_proxy, setup),
        cmocka_unit_test_setup(test_token_cached_and_ttl, setup),
        cmocka_unit_test_setup(test_short_token_ttl_not_reused, setup),
        cmocka_unit_test_setup(test_token_expired_mid_life, setup),
        cmocka_unit_test_setup(test_v1_fallback, setup),
        cmocka_unit_test_setup(test_v1_fallback_after_failed_attempts, setup),
        cmocka_unit_test_setup(test_v1_disabled, setup),
        cmocka_unit_test_setup(test_token_400_is_error, setup),
        cmocka_unit_test_setup(test_token_timeout_falls_back, setup),
        cmocka_unit_test_setup(test_hanging_endpoint_bounded, setup),
        cmocka_unit_test_setup(test_not_on_ec2, setup),
        cmocka_unit_test_setup(test_no_role, setup),
        cmocka_unit_test_setup(test_server_errors_and_retries, setup),
        cmocka_unit_test_setup(test_throttling, setup),
        cmocka_unit_test_setup(test_malformed_json, setup),
        cmocka_unit_test_setup(test_missing_fields, setup),
        cmocka_unit_test_setup(test_body_code, setup),
        cmocka_unit_test_setup(test_static_stability, setup),
        cmocka_unit_test_setup(test_disabled, setup),
        cmocka_unit_test_setup(test_configuration, setup),
        cmocka_unit_test_setup(test_v1_refused, setup),
        cmocka_unit_test_setup(test_async, setup),
        cmocka_unit_test_setup(test_chain_tail, setup),
        cmocka_unit_test_setup(test_http_fetch, setup),
        cmocka_unit_test_setup(test_concurrent_gets, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
