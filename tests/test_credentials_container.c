/* The container (ECS/EKS) credentials provider against the fake container endpoint
 * (tests/servers/fake_aws.py): relative and full URIs, the allowed hosts, the authorization token
 * (variable or file, re-read at every fetch), retries and bad documents. The relative URI is
 * pointed at the fake through the internal creds_container_new_with(), since 169.254.170.2 is not
 * reachable here. */
#include "testutil.h"

#include <curl/curl.h>
#include <jansson.h>
#include <mantle/credentials.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/http_fetch.h"

#define AKID "ASIAFAKEECS000000001"
#define SECRET "fakeEcsSecretAccessKey0000000000000000001"
#define TOKEN "fake-ecs-session-token-0001"
#define REL "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
#define FULL "AWS_CONTAINER_CREDENTIALS_FULL_URI"

extern char **environ;

/* ---- the fake server ---- */

static struct {
    pid_t pid;
    int in_fd; /* closing it stops the server (--stdin-watch) */
    char ecs[128], control[128];
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
    char *argv[] = {"/usr/bin/python3", script, "--services",    "imds,ecs",
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
    assert_non_null(json_string_value(json_object_get(urls, "ecs")));
    snprintf(fake.ecs, sizeof fake.ecs, "%s", json_string_value(json_object_get(urls, "ecs")));
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

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct buf {
        char *p;
        size_t len;
    } *b = ud;
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
    struct {
        char *p;
        size_t len;
    } b = {NULL, 0};
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

/* The container endpoint's request log (json_decref it). */
static json_t *requests(void)
{
    json_t *doc = control("GET", "/requests?service=ecs", NULL);
    json_t *list = json_incref(json_object_get(doc, "requests"));
    json_decref(doc);
    return list;
}

static const char *field(json_t *r, const char *name)
{
    return json_string_value(json_object_get(r, name));
}

static const char *header(json_t *r, const char *name)
{
    return json_string_value(json_object_get(json_object_get(r, "headers"), name));
}

/* ---- environment, clock, provider ---- */

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

/* A provider whose relative URI goes to the fake, with no pause between attempts. */
static struct mantle_credentials_provider *new_container(long timeout_ms)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = fake_getenv;
    const struct creds_container_params params = {fake.ecs, 0, timeout_ms};
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

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char token_file[256];

static void write_token_file(const char *content)
{
    FILE *f = fopen(token_file, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    control_post("/reset", "{}");
    env.n = 0;
    return 0;
}

/* ---- tests ---- */

static void test_relative_uri(void **state)
{
    (void)state;
    control_post("/config", "{\"ecs\": {\"path\": \"/v2/credentials/6a1b?x=1\"}}");
    env_set(REL, "/v2/credentials/6a1b?x=1");
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
    snprintf(source, sizeof source, "container (" REL ", %s)", fake.ecs);
    assert_string_equal(mantle_credentials_source(c), source); /* no path: it is a capability */
    mantle_credentials_unref(c);

    json_t *log = requests();
    assert_int_equal(json_array_size(log), 1);
    json_t *r = json_array_get(log, 0);
    assert_string_equal(field(r, "method"), "GET");
    assert_string_equal(header(r, "accept"), "application/json");
    assert_null(header(r, "authorization"));
    json_decref(log);

    /* Without its leading '/', one is added (else "@host" could change the host). */
    setup(NULL);
    env_set(REL, "v2/x");
    expect_ok();
    log = requests();
    assert_string_equal(field(json_array_get(log, 0), "path"), "/v2/x");
    json_decref(log);
}

static void test_relative_wins_over_full(void **state)
{
    (void)state;
    char full[256];
    snprintf(full, sizeof full, "%s/full", fake.ecs);
    env_set(FULL, full);
    env_set(REL, "/relative");
    expect_ok();
    json_t *log = requests();
    assert_string_equal(field(json_array_get(log, 0), "path"), "/relative");
    json_decref(log);
}

static void test_not_configured(void **state)
{
    (void)state;
    expect_error(CREDS_NOT_FOUND, "container (" REL " and " FULL " not set)");
    env_set(REL, "");
    env_set(FULL, ""); /* empty counts as unset */
    expect_error(CREDS_NOT_FOUND, "not set");
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 0);
    json_decref(log);
}

static void test_full_uri_allowed(void **state)
{
    (void)state;
    const char *port = strrchr(fake.ecs, ':') + 1;
    char url[256];
    /* host part, then the fake's port, then the path */
    const char *forms[][2] = {{"http://127.0.0.1:", "/full?a=b"},
                              {"http://localhost:", "/full"},
                              {"http://127.1:", "/full"},
                              {"HTTP://2130706433:", "/full"}};
    for (size_t i = 0; i < 4; i++) {
        setup(NULL);
        snprintf(url, sizeof url, "%s%s%s", forms[i][0], port, forms[i][1]);
        env_set(FULL, url);
        expect_ok();
    }
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    snprintf(url, sizeof url, "%s/full", fake.ecs);
    env_set(FULL, url);
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    char source[256];
    snprintf(source, sizeof source, "container (" FULL ", %s)", fake.ecs);
    assert_string_equal(mantle_credentials_source(c), source);
    mantle_credentials_unref(c);
}

/* Refused hosts are never contacted; 0.0.0.0 and the IPv4-mapped loopback would reach the fake. */
static void test_full_uri_refused(void **state)
{
    (void)state;
    const char *port = strrchr(fake.ecs, ':') + 1;
    const char *hosts[] = {"0.0.0.0",     "[::ffff:127.0.0.1]", "169.254.169.254",
                           "example.com", "localhost.",         "127.0.0.1.nip.io"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        char url[256];
        snprintf(url, sizeof url, "http://%s:%s/x", hosts[i], port);
        env_set(FULL, url);
        expect_error(MANTLE_E_CONFIG, "is not allowed over http");
    }
    env_set(FULL, "ftp://127.0.0.1/x");
    expect_error(MANTLE_E_CONFIG, "not an http:// or https:// URL");
    env_set(FULL, "/just/a/path");
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
    const char *port = strrchr(fake.ecs, ':') + 1;
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%s/x", port);
    env_set(FULL, url);
    expect_error(MANTLE_E_CONNECTION, "failed after 3 attempts");
}

static void test_token_from_env(void **state)
{
    (void)state;
    control_post("/config", "{\"ecs\": {\"authorization\": \"Bearer tok-env\"}}");
    env_set(REL, "/creds");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer tok-env");
    expect_ok();
    json_t *log = requests();
    assert_string_equal(header(json_array_get(log, 0), "authorization"), "Bearer tok-env");
    json_decref(log);

    /* A wrong token: 401, retried as botocore does, and the message keeps the token out. */
    setup(NULL);
    env_set(REL, "/creds");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-wrong");
    control_post("/config", "{\"ecs\": {\"authorization\": \"tok-right\"}}");
    expect_error(MANTLE_E_AUTHENTICATION, "HTTP 401");
}

/* The file wins over the variable and is read again at every fetch (EKS rotates it). */
static void test_token_file_reread(void **state)
{
    (void)state;
    env_set(REL, "/creds");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-env");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
    struct mantle_credentials_provider *p = new_container(0);
    const char *tokens[] = {"tok-1", "tok-2"};
    for (int i = 0; i < 2; i++) {
        write_token_file(tokens[i]);
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"ecs\": {\"authorization\": \"%s\"}}", tokens[i]);
        control_post("/config", cfg);
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
        mantle_credentials_unref(c);
    }
    mantle_credentials_provider_unref(p);
    json_t *log = requests();
    assert_int_equal(json_array_size(log), 2);
    assert_string_equal(header(json_array_get(log, 0), "authorization"), "tok-1");
    assert_string_equal(header(json_array_get(log, 1), "authorization"), "tok-2");
    json_decref(log);

    setup(NULL);
    env_set(REL, "/creds");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/mantle/token");
    expect_error(MANTLE_E_IO, "/nonexistent/mantle/token");
}

static void test_token_crlf_refused(void **state)
{
    (void)state;
    env_set(REL, "/creds");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-a\r\nX-Injected: 1");
    expect_error(MANTLE_E_CONFIG, "CR or LF");
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-a\nb");
    expect_error(MANTLE_E_CONFIG, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    write_token_file("tok-file\n"); /* botocore does not strip a trailing newline either */
    env_set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file);
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
    snprintf(url, sizeof url, "%s/creds", fake.ecs);
    env_set(FULL, url);
    control_post("/faults", "{\"ecs\": {\"status\": 500}}");
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = fake_getenv;
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
    env_set(REL, "/creds");
    control_post("/faults", "{\"ecs\": {\"fail_next\": 2, \"fail_status\": 503}}");
    expect_ok();
    log = requests();
    assert_int_equal(json_array_size(log), 3);
    json_decref(log);
}

static void test_malformed_json(void **state)
{
    (void)state;
    env_set(REL, "/creds");
    control_post("/faults", "{\"ecs\": {\"malformed\": true}}");
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
        env_set(REL, "/creds");
        char rule[160], want[64];
        snprintf(rule, sizeof rule, "{\"ecs\": {\"missing_fields\": [\"%s\"]}}", fields[i]);
        control_post("/faults", rule);
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
    env_set(REL, "/creds");
    control_post("/config", "{\"ecs\": {\"account_id\": \"210987654321\"}}");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_account_id(c), "210987654321");
    mantle_credentials_unref(c);
    control_post("/config", "{\"ecs\": {\"account_id\": null}}");
    assert_int_equal(get_once(&c, &err), MANTLE_OK);
    assert_null(mantle_credentials_account_id(c));
    mantle_credentials_unref(c);
}

/* A hanging endpoint: each attempt is bounded by the timeout. */
static void test_hanging_endpoint_bounded(void **state)
{
    (void)state;
    env_set(REL, "/creds");
    control_post("/faults", "{\"ecs\": {\"hang\": true}}");
    struct mantle_credentials_provider *p = new_container(300);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    double t0 = monotonic();
    assert_int_equal(provider_get(p, &c, &err), MANTLE_E_TIMEOUT);
    assert_true(monotonic() - t0 < 3 * 0.3 + 4);
    mantle_credentials_provider_unref(p);
    control_post("/faults", "{\"ecs\": null}");

    /* A slow answer within the default 2 s is fine. */
    control_post("/faults", "{\"ecs\": {\"delay\": 0.5}}");
    expect_ok();
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(token_file, sizeof token_file, "/tmp/mantle-test-container-token-%d", (int)getpid());
    fake_start();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_stop();
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
