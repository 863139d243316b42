/* The container (ECS/EKS) credentials provider against the fake container endpoint
 * (tests/servers/fake_aws.py): relative and full URIs, the allowed hosts, the authorization token
 * (variable or file, re-read at every fetch), retries and bad documents. The relative URI is
 * pointed at the fake through the internal creds_container_new_with(), since 169.254.170.2 is not
 * reachable here. */
#include "testutil.h"

#include "fakeserver.h"

#include <curl/curl.h>
#include <jansson.h>
#include <mantle/credentials.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/http_fetch.h"

#define AKID "ASIAFAKEECS000000001"
#define SECRET "fakeEcsSecretAccessKey0000000000000000001"
#define TOKEN "fake-ecs-session-token-0001"
#define REL "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
#define FULL "AWS_CONTAINER_CREDENTIALS_FULL_URI"

/* ---- the fake server ---- */

static struct fakeserver fake;
static const char *ecs_url; /* the fake's ecs endpoint */

/* The container endpoint's request log (json_decref it). */
static json_t *requests(void)
{
    return fakeserver_requests(&fake, "ecs");
}

/* ---- environment, clock, provider ---- */

static struct test_env env;

/* A provider whose relative URI goes to the fake, with no pause between attempts. */
static struct mantle_credentials_provider *new_container(long timeout_ms)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = &env;
    const struct creds_container_params params = {ecs_url, 0, timeout_ms};
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = creds_container_new_with(&o, &params, &err);
    assert_non_null(p);
    return p;
}

static mantle_code get_once(struct mantle_credentials **out, struct mantle_error *err)
{
    struct mantle_credentials_provider *p = new_container(0);
    mantle_code code = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return code;
}

static void expect_error(mantle_code want, const char *needle)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = get_once(&c, &err);
    if (code != want) fail_msg("got code %d (%s), want %d", (int)code, err.message, (int)want);
    assert_null(c);
    if (needle && !strstr(err.message, needle)) fail_msg("'%s' not in '%s'", needle, err.message);
    assert_null(strstr(err.message, SECRET));
    assert_null(strstr(err.message, TOKEN));
    assert_null(strstr(err.message, "tok-")); /* the authorization tokens the tests use */
}

static void expect_ok(void)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = get_once(&c, &err);
    if (code != MANTLE_OK) fail_msg("got code %d: %s", (int)code, err.message);
    assert_string_equal(mantle_credentials_access_key_id(c), AKID);
    mantle_credentials_unref(c);
}

static char token_file[256];

static void write_token_file(const char *content)
{
    test_write_file(token_file, content);
}

static int setup(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/reset", "{}");
    env.n = 0;
    return 0;
}

/* ---- tests ---- */

static void test_relative_uri(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"ecs\": {\"path\": \"/v2/credentials/6a1b?x=1\"}}");
    test_env_set(&env, REL, "/v2/credentials/6a1b?x=1");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), AKID);
    assert_string_equal(mantle_credentials_secret_access_key(c), SECRET);
    assert_string_equal(mantle_credentials_session_token(c), TOKEN);
    assert_string_equal(mantle_credentials_account_id(c), "123456789012");
    int64_t left = mantle_credentials_expiration(c) - time(NULL);
    assert_true(left > 3500 && left <= 3605);
    char source[256];
    snprintf(source, sizeof source, "container (" REL ", %s)", ecs_url);
    assert_string_equal(mantle_credentials_source(c), source); /* no path: it is a capability */
    mantle_credentials_unref(c);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 1);
    json_t *r = json_array_get(log, 0);
    assert_string_equal(fakeserver_field(r, "method"), "GET");
    assert_string_equal(fakeserver_header(r, "accept"), "application/json");
    assert_null(fakeserver_header(r, "authorization"));
    json_decref(log);

    /* Without its leading '/', one is added (else "@host" could change the host). */
    setup(NULL);
    test_env_set(&env, REL, "v2/x");
    expect_ok();
    log = requests();
    assert_string_equal(fakeserver_field(json_array_get(log, 0), "path"), "/v2/x");
    json_decref(log);
}

static void test_relative_wins_over_full(void **state)
{
    (void)state;
    char full[256];
    snprintf(full, sizeof full, "%s/full", ecs_url);
    test_env_set(&env, FULL, full);
    test_env_set(&env, REL, "/relative");
    expect_ok();
    json_t *log = requests();
    assert_string_equal(fakeserver_field(json_array_get(log, 0), "path"), "/relative");
    json_decref(log);
}

static void test_not_configured(void **state)
{
    (void)state;
    expect_error(CREDS_NOT_FOUND, "container (" REL " and " FULL " not set)");
    test_env_set(&env, REL, "");
    test_env_set(&env, FULL, ""); /* empty counts as unset */
    expect_error(CREDS_NOT_FOUND, "not set");
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

static void test_full_uri_allowed(void **state)
{
    (void)state;
    const char *port = strrchr(ecs_url, ':') + 1;
    char url[256];
    /* host part, then the fake's port, then the path */
    const char *forms[][2] = {{"http://127.0.0.1:", "/full?a=b"},
                              {"http://localhost:", "/full"},
                              {"http://127.1:", "/full"},
                              {"HTTP://2130706433:", "/full"}};
    for (size_t i = 0; i < 4; i++) {
        setup(NULL);
        snprintf(url, sizeof url, "%s%s%s", forms[i][0], port, forms[i][1]);
        test_env_set(&env, FULL, url);
        expect_ok();
    }
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    snprintf(url, sizeof url, "%s/full", ecs_url);
    test_env_set(&env, FULL, url);
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    char source[256];
    snprintf(source, sizeof source, "container (" FULL ", %s)", ecs_url);
    assert_string_equal(mantle_credentials_source(c), source);
    mantle_credentials_unref(c);
}

/* Refused hosts are never contacted; 0.0.0.0 and the IPv4-mapped loopback would reach the fake. */
static void test_full_uri_refused(void **state)
{
    (void)state;
    const char *port = strrchr(ecs_url, ':') + 1;
    const char *hosts[] = {"0.0.0.0",     "[::ffff:127.0.0.1]", "169.254.169.254",
                           "example.com", "localhost.",         "127.0.0.1.nip.io"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char url[256];
        snprintf(url, sizeof url, "http://%s:%s/x", hosts[i], port);
        test_env_set(&env, FULL, url);
        expect_error(MANTLE_E_CONFIG, "is not allowed over http");
    }
    test_env_set(&env, FULL, "ftp://127.0.0.1/x");
    expect_error(MANTLE_E_CONFIG, "not an http:// or https:// URL");
    test_env_set(&env, FULL, "/just/a/path");
    expect_error(MANTLE_E_CONFIG, "not an http:// or https:// URL");
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

static void test_url_allowed_table(void **state)
{
    (void)state;
    static const char *const allowed[] = {
        "http://169.254.170.2/v2/credentials/x",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
        "http://[fd00:ec2:0:0:0:0:0:23]:80/",
        "http://[::1]:8080/",
        "http://[0:0:0:0:0:0:0:1]/",
        "http://127.255.255.254/",
        "http://LocalHost:1/",
        "https://example.com/creds",
        "https://169.254.169.254/",
    };
    static const char *const refused[] = {
        "http://169.254.170.3/",         "http://[fd00:ec2::24]/", "http://10.0.0.1/",
        "http://localhost.localdomain/", "http://128.0.0.1/",      "http://[::]/",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        char *norm = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        if (!creds_container_url_allowed(allowed[i], &norm, &err))
            fail_msg("%s refused: %s", allowed[i], err.message);
        assert_non_null(norm);
        curl_free(norm);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *norm = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        if (creds_container_url_allowed(refused[i], &norm, &err))
            fail_msg("%s allowed", refused[i]);
        assert_null(norm);
        assert_int_equal(err.code, MANTLE_E_CONFIG);
    }
}

/* https is allowed to any host: it is attempted (the fake speaks plain http, so TLS fails). */
static void test_https_attempted(void **state)
{
    (void)state;
    const char *port = strrchr(ecs_url, ':') + 1;
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%s/x", port);
    test_env_set(&env, FULL, url);
    expect_error(MANTLE_E_CONNECTION, "failed after 3 attempts");
}

static void test_token_from_env(void **state)
{
    (void)state;
    fakeserver_post(&fake, "/config", "{\"ecs\": {\"authorization\": \"Bearer tok-env\"}}");
    test_env_set(&env, REL, "/creds");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer tok-env");
    expect_ok();
    json_t *log = requests();
    assert_string_equal(fakeserver_header(json_array_get(log, 0), "authorization"),
                        "Bearer tok-env");
    json_decref(log);

    /* A wrong token: 401, retried as botocore does, and the message keeps the token out. */
    setup(NULL);
    test_env_set(&env, REL, "/creds");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-wrong");
    fakeserver_post(&fake, "/config", "{\"ecs\": {\"authorization\": \"tok-right\"}}");
    expect_error(MANTLE_E_AUTHENTICATION, "HTTP 401");
}

/* The file wins over the variable and is read again at every fetch (EKS rotates it). */
static void test_token_file_reread(void **state)
{
    (void)state;
    test_env_set(&env, REL, "/creds");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-env");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
    struct mantle_credentials_provider *p = new_container(0);
    const char *tokens[] = {"tok-1", "tok-2"};
    for (int i = 0; i < 2; i++) {
        write_token_file(tokens[i]);
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"ecs\": {\"authorization\": \"%s\"}}", tokens[i]);
        fakeserver_post(&fake, "/config", cfg);
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
        mantle_credentials_unref(c);
    }
    mantle_credentials_provider_unref(p);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 2);
    assert_string_equal(fakeserver_header(json_array_get(log, 0), "authorization"), "tok-1");
    assert_string_equal(fakeserver_header(json_array_get(log, 1), "authorization"), "tok-2");
    json_decref(log);

    setup(NULL);
    test_env_set(&env, REL, "/creds");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/mantle/token");
    expect_error(MANTLE_E_IO, "/nonexistent/mantle/token");
}

static void test_token_crlf_refused(void **state)
{
    (void)state;
    test_env_set(&env, REL, "/creds");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-a\r\nX-Injected: 1");
    expect_error(MANTLE_E_CONFIG, "CR or LF");
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-a\nb");
    expect_error(MANTLE_E_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    write_token_file("tok-file\n"); /* botocore does not strip a trailing newline either */
    test_env_set(&env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
    expect_error(MANTLE_E_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

/* The public constructor: 3 attempts, 1 s apart (botocore's RETRY_ATTEMPTS and SLEEP_TIME). */
static void test_three_attempts_on_500(void **state)
{
    (void)state;
    char url[256];
    snprintf(url, sizeof url, "%s/creds", ecs_url);
    test_env_set(&env, FULL, url);
    fakeserver_post(&fake, "/faults", "{\"ecs\": {\"status\": 500}}");
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = &env;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_container(&o, &err);
    struct mantle_credentials *c = NULL;
    assert_int_equal(provider_get(p, &c, &err), MANTLE_E_SERVER);
    mantle_credentials_provider_unref(p);
    assert_int_equal(err.http_status, 500);
    assert_int_equal(err.attempts, 3);
    assert_non_null(strstr(err.message, "HTTP 500: InternalServerError"));
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    for (size_t i = 1; i < 3; i++) {
        double gap = json_real_value(json_object_get(json_array_get(log, i), "time")) -
                     json_real_value(json_object_get(json_array_get(log, i - 1), "time"));
        assert_true(gap >= 0.9);
    }
    json_decref(log);

    /* Two failures, then an answer. */
    setup(NULL);
    test_env_set(&env, REL, "/creds");
    fakeserver_post(&fake, "/faults", "{\"ecs\": {\"fail_next\": 2, \"fail_status\": 503}}");
    expect_ok();
    log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);
}

static void test_malformed_json(void **state)
{
    (void)state;
    test_env_set(&env, REL, "/creds");
    fakeserver_post(&fake, "/faults", "{\"ecs\": {\"malformed\": true}}");
    expect_error(MANTLE_E_PROTOCOL, "not a JSON object");
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);
}

static void test_missing_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"};
    for (size_t i = 0; i < 4; i++) {
        setup(NULL);
        test_env_set(&env, REL, "/creds");
        char rule[160], want[64];
        snprintf(rule, sizeof rule, "{\"ecs\": {\"missing_fields\": [\"%s\"]}}", fields[i]);
        fakeserver_post(&fake, "/faults", rule);
        snprintf(want, sizeof want, "has no %s", fields[i]);
        expect_error(MANTLE_E_PROTOCOL, want);
        json_t *log = requests();
        assert_int_equal(json_array_size(log), 1); /* not retried: botocore's KeyError */
        json_decref(log);
    }
}

static void test_account_id(void **state)
{
    (void)state;
    test_env_set(&env, REL, "/creds");
    fakeserver_post(&fake, "/config", "{\"ecs\": {\"account_id\": \"210987654321\"}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_account_id(c), "210987654321");
    mantle_credentials_unref(c);
    fakeserver_post(&fake, "/config", "{\"ecs\": {\"account_id\": null}}");
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_null(mantle_credentials_account_id(c));
    mantle_credentials_unref(c);
}

/* A hanging endpoint: each attempt is bounded by the timeout. */
static void test_hanging_endpoint_bounded(void **state)
{
    (void)state;
    test_env_set(&env, REL, "/creds");
    fakeserver_post(&fake, "/faults", "{\"ecs\": {\"hang\": true}}");
    struct mantle_credentials_provider *p = new_container(300);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    double t0 = test_monotonic();
    assert_int_equal(provider_get(p, &c, &err), MANTLE_E_TIMEOUT);
    assert_true(test_monotonic() - t0 < 3 * 0.3 + 4);
    mantle_credentials_provider_unref(p);
    fakeserver_post(&fake, "/faults", "{\"ecs\": null}");

    /* A slow answer within the default 2 s is fine. */
    fakeserver_post(&fake, "/faults", "{\"ecs\": {\"delay\": 0.5}}");
    expect_ok();
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(token_file, sizeof token_file, "/tmp/mantle-test-container-token-%d", (int)getpid());
    fakeserver_start_aws(&fake, "imds,ecs", "300");
    ecs_url = fakeserver_url(&fake, "ecs");
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fakeserver_stop(&fake);
    unlink(token_file);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_relative_uri, setup),
        cmocka_unit_test_setup(test_relative_wins_over_full, setup),
        cmocka_unit_test_setup(test_not_configured, setup),
        cmocka_unit_test_setup(test_full_uri_allowed, setup),
        cmocka_unit_test_setup(test_full_uri_refused, setup),
        cmocka_unit_test_setup(test_url_allowed_table, setup),
        cmocka_unit_test_setup(test_https_attempted, setup),
        cmocka_unit_test_setup(test_token_from_env, setup),
        cmocka_unit_test_setup(test_token_file_reread, setup),
        cmocka_unit_test_setup(test_token_crlf_refused, setup),
        cmocka_unit_test_setup(test_three_attempts_on_500, setup),
        cmocka_unit_test_setup(test_malformed_json, setup),
        cmocka_unit_test_setup(test_missing_fields, setup),
        cmocka_unit_test_setup(test_account_id, setup),
        cmocka_unit_test_setup(test_hanging_endpoint_bounded, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
