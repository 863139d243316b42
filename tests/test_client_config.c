/* The client's configuration (the seed PR's test list, in C, against the public API) and the pure
 * policy pieces under it: retry policy, HTTP dates, error bodies, clock-skew detection, redaction,
 * and the SSE -> event -> accumulator path over the recorded streams. No server needed: requests
 * that must reach the network go to a closed loopback port. */
#include "testutil.h"

#include <mantle/mantle.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "client/client_internal.h"
#include "client/jsoncheck.h"
#include "client/stream.h"
#include "http/httpdate.h"

/* A closed port on loopback: requests fail fast with a connection error. */
#define CLOSED_URL "http://127.0.0.1:1/openai/v1"

/* ---- an injected environment ---- */

struct env_opts {
    struct test_env env;
    struct mantle_credentials_options copts;
    struct mantle_client_options o;
};

/* Options over an empty (or given) environment: tests never see the real one. */
static void env_opts_init(struct env_opts *e)
{
    memset(e, 0, sizeof *e);
    struct mantle_credentials_options c = MANTLE_CREDENTIALS_OPTIONS_INIT;
    e->copts = c;
    e->copts.getenv_fn = test_env_getenv;
    e->copts.getenv_ud = &e->env;
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    e->o = o;
    e->o.credentials_options = &e->copts;
}

/* Appends, unlike test_env_set(): a name set twice keeps its first value. */
static void env_set(struct env_opts *e, const char *name, const char *value)
{
    e->env.names[e->env.n] = name;
    e->env.values[e->env.n++] = value;
}

static struct mantle_client *must_create(const struct mantle_client_options *o)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(o, &err);
    if (!c) fprintf(stderr, "unexpected: %s: %s\n", mantle_code_name(err.code), err.message);
    assert_non_null(c);
    return c;
}

static void expect_config_error(const struct mantle_client_options *o, const char *needle)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(o, &err);
    if (c) fprintf(stderr, "expected a config error containing '%s'\n", needle);
    assert_null(c);
    assert_int_equal(err.code, MANTLE_E_CONFIG);
    if (!strstr(err.message, needle))
        fprintf(stderr, "message '%s' lacks '%s'\n", err.message, needle);
    assert_non_null(strstr(err.message, needle));
}

/* ---- a counting custom provider ---- */

struct counting {
    int calls;
    const char *fail; /* non-NULL: fail with this message */
};

static mantle_code counting_get(void *impl, struct mantle_credentials **out,
                                struct mantle_error *err)
{
    struct counting *c = impl;
    c->calls++;
    if (c->fail) {
        err->code = MANTLE_E_CREDENTIALS;
        snprintf(err->message, sizeof err->message, "%s", c->fail);
        return MANTLE_E_CREDENTIALS;
    }
    *out = mantle_credentials_new("AKIDCOUNTING", "counting-secret", NULL, 0, err);
    return *out ? MANTLE_OK : err->code;
}

static struct mantle_credentials_provider *counting_provider(struct counting *c)
{
    static const struct mantle_credentials_provider_vtable vt = {counting_get, NULL, NULL};
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_custom(&vt, c, &err);
    assert_non_null(p);
    return p;
}

/* ---- base URL and region ---- */

static void test_region_derived_base_url(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-west-2";
    e.o.aws_access_key_id = "AKIDEXAMPLE";
    e.o.aws_secret_access_key = "secret";
    struct mantle_client *c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c),
                        "https://bedrock-mantle.us-west-2.api.aws/openai/v1");
    assert_string_equal(mantle_client_region(c), "us-west-2");
    assert_string_equal(mantle_client_signing_service(c), "bedrock-mantle");
    assert_int_equal(mantle_client_endpoint(c), MANTLE_ENDPOINT_MANTLE);
    assert_int_equal(mantle_client_auth_mode(c), MANTLE_AUTH_SIGV4);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_STATIC);
    mantle_client_free(c);
}

static void test_explicit_base_url(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = "https://proxy.example.com/bedrock/openai/v1/";
    struct mantle_client *c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), "https://proxy.example.com/bedrock/openai/v1");
    assert_string_equal(mantle_client_signing_service(c), "bedrock-mantle"); /* proxy: mantle */
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_DEFAULT);
    mantle_client_free(c);

    /* A pasted ".../responses" URL is cut back to the API root (openai-python does the same). */
    e.o.base_url = "https://proxy.example.com/openai/v1/responses";
    c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), "https://proxy.example.com/openai/v1");
    mantle_client_free(c);

    /* AWS_BEDROCK_BASE_URL when no option; the option wins over it. */
    env_opts_init(&e);
    env_set(&e, "AWS_REGION", "us-east-1");
    env_set(&e, "AWS_BEDROCK_BASE_URL", "https://env.example.com/openai/v1");
    c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), "https://env.example.com/openai/v1");
    mantle_client_free(c);
    e.o.base_url = "https://option.example.com/v1";
    c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), "https://option.example.com/v1");
    mantle_client_free(c);

    e.o.base_url = "ftp://x";
    expect_config_error(&e.o, "base_url");
    e.o.base_url = "https://x.example.com/v1?a=b";
    expect_config_error(&e.o, "query");
    e.o.base_url = "  ";
    expect_config_error(&e.o, "must not be empty");
}

static void test_api_key_without_region(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    e.o.api_key = "bedrock-api-key-test";
    e.o.base_url = "https://proxy.example.com/openai/v1";
    struct mantle_client *c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_mode(c), MANTLE_AUTH_BEARER);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_EXPLICIT);
    assert_null(mantle_client_region(c));
    mantle_client_free(c);

    /* Without a base_url the region is needed to build one. */
    e.o.base_url = NULL;
    expect_config_error(&e.o, "region");
    e.o.region = "eu-west-1";
    c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c),
                        "https://bedrock-mantle.eu-west-1.api.aws/openai/v1");
    mantle_client_free(c);

    e.o.api_key = "   ";
    expect_config_error(&e.o, "must not be empty");
}

static mantle_code token_fn(void *ud, char *buf, size_t cap, struct mantle_error *err)
{
    (void)ud;
    (void)err;
    snprintf(buf, cap, "bedrock-api-key-from-fn");
    return MANTLE_OK;
}

static void test_mutual_exclusivity(void **state)
{
    (void)state;
    struct counting cnt = {0};
    struct mantle_credentials_provider *p = counting_provider(&cnt);
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.api_key = "k";
    e.o.aws_access_key_id = "AKID";
    e.o.aws_secret_access_key = "s";
    expect_config_error(&e.o, "bedrock_conflicting_auth");
    e.o.aws_access_key_id = e.o.aws_secret_access_key = NULL;
    e.o.bearer_token_fn = token_fn;
    expect_config_error(&e.o, "bedrock_conflicting_auth");
    e.o.api_key = NULL;
    e.o.profile = "dev";
    expect_config_error(&e.o, "bedrock_conflicting_auth");
    e.o.bearer_token_fn = NULL;
    e.o.credentials_provider = p;
    expect_config_error(&e.o, "bedrock_conflicting_auth");
    e.o.profile = NULL;
    e.o.aws_session_token = "tok"; /* a token alone is a half-configured static group */
    expect_config_error(&e.o, "bedrock_conflicting_auth");
    e.o.credentials_provider = NULL;
    expect_config_error(&e.o, "aws_access_key_id");
    e.o.aws_session_token = NULL;
    e.o.aws_access_key_id = "AKID";
    expect_config_error(&e.o, "aws_secret_access_key");

    /* one group is fine, and the source says which */
    e.o.aws_access_key_id = NULL;
    e.o.bearer_token_fn = token_fn;
    struct mantle_client *c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_mode(c), MANTLE_AUTH_BEARER);
    mantle_client_free(c);
    e.o.bearer_token_fn = NULL;
    e.o.credentials_provider = p;
    c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_PROVIDER);
    mantle_client_free(c);
    e.o.credentials_provider = NULL;
    e.o.profile = "dev";
    c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_PROFILE);
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
    assert_int_equal(cnt.calls, 0);
}

static void test_missing_region(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    expect_config_error(&e.o, "AWS_REGION");
    expect_config_error(&e.o, "AWS_DEFAULT_REGION");
    env_set(&e, "AWS_REGION", "   "); /* blank counts as unset */
    expect_config_error(&e.o, "AWS_DEFAULT_REGION");
    /* an explicit custom base_url does not give SigV4 a region */
    e.o.base_url = "https://proxy.example.com/v1";
    expect_config_error(&e.o, "AWS_REGION");
    e.o.region = "US-EAST-1";
    expect_config_error(&e.o, "Invalid AWS region");
    e.o.region = "";
    expect_config_error(&e.o, "must not be empty");
}

static void test_region_env_precedence(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    env_set(&e, "AWS_DEFAULT_REGION", "eu-central-1");
    struct mantle_client *c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "eu-central-1");
    mantle_client_free(c);
    env_set(&e, "AWS_REGION", "ap-south-1");
    c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "ap-south-1");
    assert_string_equal(mantle_client_base_url(c),
                        "https://bedrock-mantle.ap-south-1.api.aws/openai/v1");
    mantle_client_free(c);
    e.o.region = "us-west-2"; /* explicit beats both */
    c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "us-west-2");
    mantle_client_free(c);
}

/* ---- endpoints and partitions ---- */

static void check_endpoint(enum mantle_endpoint ep, const char *region, const char *url,
                           const char *service)
{
    struct env_opts e;
    env_opts_init(&e);
    e.o.endpoint = ep;
    e.o.region = region;
    struct mantle_client *c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), url);
    assert_string_equal(mantle_client_signing_service(c), service);
    assert_int_equal(mantle_client_endpoint(c), ep);
    mantle_client_free(c);
}

static void test_endpoints_and_partitions(void **state)
{
    (void)state;
    const enum mantle_endpoint M = MANTLE_ENDPOINT_MANTLE, R = MANTLE_ENDPOINT_RUNTIME;
    check_endpoint(M, "us-east-1", "https://bedrock-mantle.us-east-1.api.aws/openai/v1",
                   "bedrock-mantle");
    check_endpoint(R, "us-east-1", "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1",
                   "bedrock");
    check_endpoint(R, "cn-north-1", "https://bedrock-runtime.cn-north-1.amazonaws.com.cn/openai/v1",
                   "bedrock");
    check_endpoint(M, "cn-northwest-1",
                   "https://bedrock-mantle.cn-northwest-1.api.amazonwebservices.com.cn/openai/v1",
                   "bedrock-mantle");
    check_endpoint(R, "us-gov-west-1",
                   "https://bedrock-runtime.us-gov-west-1.amazonaws.com/openai/v1", "bedrock");
    check_endpoint(R, "us-iso-east-1", "https://bedrock-runtime.us-iso-east-1.c2s.ic.gov/openai/v1",
                   "bedrock");
    check_endpoint(R, "us-isob-east-1",
                   "https://bedrock-runtime.us-isob-east-1.sc2s.sgov.gov/openai/v1", "bedrock");
    check_endpoint(R, "eu-isoe-west-1",
                   "https://bedrock-runtime.eu-isoe-west-1.cloud.adc-e.uk/openai/v1", "bedrock");
    check_endpoint(R, "us-isof-south-1",
                   "https://bedrock-runtime.us-isof-south-1.csp.hci.ic.gov/openai/v1", "bedrock");
}

static void test_canonical_base_url(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    /* A Runtime URL selects the runtime endpoint and its service by itself, and its region. */
    e.o.base_url = "https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1";
    struct mantle_client *c = must_create(&e.o);
    assert_int_equal(mantle_client_endpoint(c), MANTLE_ENDPOINT_RUNTIME);
    assert_string_equal(mantle_client_signing_service(c), "bedrock");
    assert_string_equal(mantle_client_region(c), "us-west-2");
    mantle_client_free(c);
    e.o.base_url = "https://bedrock-runtime.cn-north-1.amazonaws.com.cn/openai/v1";
    c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "cn-north-1");
    assert_string_equal(mantle_client_signing_service(c), "bedrock");
    mantle_client_free(c);
    e.o.base_url = "https://bedrock-mantle.eu-west-1.api.aws/openai/v1";
    e.o.region = "eu-west-1";
    c = must_create(&e.o);
    assert_int_equal(mantle_client_endpoint(c), MANTLE_ENDPOINT_MANTLE);
    assert_string_equal(mantle_client_signing_service(c), "bedrock-mantle");
    mantle_client_free(c);

    /* A region that disagrees with the URL's is a config error. */
    e.o.region = "us-east-1";
    expect_config_error(&e.o, "does not match");
    /* So is asking for runtime with a Mantle URL. */
    e.o.region = NULL;
    e.o.endpoint = MANTLE_ENDPOINT_RUNTIME;
    expect_config_error(&e.o, "endpoint");

    /* The seed's /v1 root and its `bedrock` service stay reachable explicitly. */
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = "https://bedrock-mantle.us-east-1.api.aws/v1";
    e.o.signing_service = "bedrock";
    c = must_create(&e.o);
    assert_string_equal(mantle_client_base_url(c), "https://bedrock-mantle.us-east-1.api.aws/v1");
    assert_string_equal(mantle_client_signing_service(c), "bedrock");
    mantle_client_free(c);
    e.o.signing_service = "Bedrock";
    expect_config_error(&e.o, "signing_service");

    /* the host parser itself */
    enum mantle_endpoint ep;
    char region[64];
    const char *h = "bedrock-mantle.us-east-1.api.aws.evil.com";
    assert_false(client_canonical_host(h, strlen(h), &ep, region, sizeof region));
    h = "bedrock-runtime.us-isob-east-1.sc2s.sgov.gov";
    assert_true(client_canonical_host(h, strlen(h), &ep, region, sizeof region));
    assert_string_equal(region, "us-isob-east-1");
    h = "bedrock-mantle.a.b.api.aws";
    assert_false(client_canonical_host(h, strlen(h), &ep, region, sizeof region));
}

/* ---- auth selection from the environment ---- */

static void test_environment_bearer(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    env_set(&e, "AWS_REGION", "us-east-1");
    env_set(&e, "AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-env");
    struct mantle_client *c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_mode(c), MANTLE_AUTH_BEARER);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_ENVIRONMENT);
    mantle_client_free(c);
    e.o.ignore_env_bearer_token = 1;
    c = must_create(&e.o);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_DEFAULT);
    mantle_client_free(c);
}

/* ---- lazy credentials, error wrapping ---- */

static void test_lazy_credentials(void **state)
{
    (void)state;
    struct counting cnt = {0};
    struct mantle_credentials_provider *p = counting_provider(&cnt);
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = CLOSED_URL;
    e.o.credentials_provider = p;
    e.o.max_retries = MANTLE_RETRIES_NONE;
    struct mantle_client *c = must_create(&e.o);
    mantle_credentials_provider_unref(p); /* the client holds its own reference */
    assert_int_equal(cnt.calls, 0);       /* creation resolved nothing */
    struct mantle_response *r = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_CONNECTION);
    assert_null(r);
    assert_int_equal(cnt.calls, 1); /* the first request asked */
    assert_int_equal(err.attempts, 1);
    mantle_client_free(c);
}

static void test_provider_error_wrapping(void **state)
{
    (void)state;
    struct counting cnt = {0, "token expired"};
    struct mantle_credentials_provider *p = counting_provider(&cnt);
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = CLOSED_URL;
    e.o.credentials_provider = p;
    struct mantle_client *c = must_create(&e.o);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    assert_int_equal(mantle_responses_create(c, mantle_json_text("{\"model\":\"m\"}"), &r, &err),
                     MANTLE_E_CREDENTIALS);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: token expired");
    assert_int_equal(err.attempts, 0); /* nothing went out */
    assert_int_equal(cnt.calls, 1);    /* and no retry of a credentials failure */
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
}

/* ---- copies ---- */

static void test_copy_keeps_and_overrides(void **state)
{
    (void)state;
    struct counting cnt = {0};
    struct mantle_credentials_provider *p = counting_provider(&cnt);
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.credentials_provider = p;
    struct mantle_header dh[] = {{"x-team", "a"}, {"x-keep", "1"}};
    e.o.default_headers = dh;
    e.o.default_header_count = 2;
    e.o.timeout_ms = 1234;
    struct mantle_client *base = must_create(&e.o);

    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client_options none = MANTLE_CLIENT_OPTIONS_INIT;
    struct mantle_client *same = mantle_client_with_options(base, &none, &err);
    assert_non_null(same);
    assert_string_equal(mantle_client_region(same), "us-east-1");
    assert_ptr_equal(client_provider(same), p); /* the same provider object (same cache) */
    assert_ptr_equal(client_pool(same), client_pool(base)); /* the same connection pool */
    assert_int_equal(mantle_client_auth_source(same), MANTLE_AUTH_SOURCE_PROVIDER);
    assert_int_equal(same->cfg.timeout_ms, 1234);

    struct mantle_client_options ov = MANTLE_CLIENT_OPTIONS_INIT;
    ov.region = "eu-west-1";
    struct mantle_header dh2[] = {{"X-Team", "b"}};
    ov.default_headers = dh2;
    ov.default_header_count = 1;
    struct mantle_client *moved = mantle_client_with_options(base, &ov, &err);
    assert_non_null(moved);
    assert_string_equal(mantle_client_region(moved), "eu-west-1");
    assert_string_equal(mantle_client_base_url(moved),
                        "https://bedrock-mantle.eu-west-1.api.aws/openai/v1");
    assert_ptr_equal(client_provider(moved), p);
    assert_ptr_equal(client_pool(moved), client_pool(base));
    assert_int_equal(moved->cfg.default_header_count, 2); /* merged, X-Team replaced */
    assert_string_equal(moved->cfg.default_headers[0].value, "b");

    struct counting cnt2 = {0};
    struct mantle_credentials_provider *p2 = counting_provider(&cnt2);
    struct mantle_client_options ov2 = MANTLE_CLIENT_OPTIONS_INIT;
    ov2.credentials_provider = p2;
    struct mantle_client *other = mantle_client_with_options(moved, &ov2, &err);
    assert_non_null(other);
    assert_ptr_equal(client_provider(other), p2);
    assert_string_equal(mantle_client_region(other), "eu-west-1");
    assert_ptr_equal(client_pool(other), client_pool(base));
    mantle_credentials_provider_unref(p2);

    /* Setting an auth field replaces the auth mode. */
    struct mantle_client_options ov3 = MANTLE_CLIENT_OPTIONS_INIT;
    ov3.api_key = "bedrock-api-key-copy";
    struct mantle_client *bearer = mantle_client_with_options(base, &ov3, &err);
    assert_non_null(bearer);
    assert_int_equal(mantle_client_auth_mode(bearer), MANTLE_AUTH_BEARER);
    assert_null(client_provider(bearer));

    /* The base may go first: copies hold their own references. */
    mantle_client_free(base);
    mantle_client_free(same);
    mantle_client_free(moved);
    mantle_client_free(other);
    mantle_client_free(bearer);
    mantle_credentials_provider_unref(p);
    assert_int_equal(cnt.calls, 0);
    assert_int_equal(cnt2.calls, 0);
}

/* ---- plain http, one-shot bodies, bad requests ---- */

static void test_insecure_http(void **state)
{
    (void)state;
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = "http://bedrock.example.com/openai/v1";
    expect_config_error(&e.o, "allow_insecure_http");
    e.o.aws_access_key_id = NULL;
    e.o.api_key = "bedrock-api-key-x";
    expect_config_error(&e.o, "API key");
    e.o.allow_insecure_http = 1;
    struct mantle_client *c = must_create(&e.o);
    mantle_client_free(c);
    e.o.allow_insecure_http = 0;
    const char *loopbacks[] = {"http://127.0.0.1:8080/v1", "http://localhost/v1",
                               "http://[::1]:9/v1", "http://127.1.2.3/v1"};
    for (size_t i = 0; i < 4; i++) {
        e.o.base_url = loopbacks[i];
        c = must_create(&e.o);
        mantle_client_free(c);
    }
    e.o.base_url = "http://127.0.0.1.example.com/v1";
    expect_config_error(&e.o, "allow_insecure_http");
}

static size_t one_shot_reader(void *ud, char *buf, size_t cap)
{
    int *calls = ud;
    (*calls)++;
    (void)buf;
    (void)cap;
    return 0;
}

static void test_one_shot_body_refused(void **state)
{
    (void)state;
    struct counting cnt = {0};
    struct mantle_credentials_provider *p = counting_provider(&cnt);
    struct env_opts e;
    env_opts_init(&e);
    e.o.region = "us-east-1";
    e.o.base_url = CLOSED_URL;
    e.o.credentials_provider = p;
    struct mantle_client *c = must_create(&e.o);
    int reads = 0;
    struct mantle_request rq = {0};
    rq.method = "POST";
    rq.path = "/responses";
    rq.body_reader = one_shot_reader;
    rq.body_reader_user_data = &reads;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    assert_int_equal(mantle_client_request(c, &rq, &r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(err.attempts, 0);
    assert_non_null(strstr(err.message, "bedrock_non_replayable_body"));
    assert_int_equal(reads, 0);
    assert_int_equal(cnt.calls, 0);

    /* Headers the client owns are refused too, before any attempt. */
    struct mantle_header bad[] = {{"Authorization", "Bearer x"}};
    memset(&rq, 0, sizeof rq);
    rq.method = "GET";
    rq.path = "/models";
    rq.headers = bad;
    rq.header_count = 1;
    assert_int_equal(mantle_client_request(c, &rq, &r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "Authorization"));
    rq.header_count = 0;
    rq.method = "HEAD";
    assert_int_equal(mantle_client_request(c, &rq, &r, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(cnt.calls, 0);
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
}

/* ---- retry policy (openai-python) ---- */

static void headers_of(struct http_headers *h, const char *name, const char *value)
{
    http_headers_reset(h);
    if (name) assert_true(http_headers_add(h, name, strlen(name), value, strlen(value)));
}

static void test_retry_policy(void **state)
{
    (void)state;
    int retry[] = {408, 409, 429, 500, 502, 503, 504, 599};
    int final[] = {400, 401, 403, 404, 422, 301};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++)
        assert_true(retry_should_retry_status(retry[i], NULL));
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
        assert_false(retry_should_retry_status(final[i], NULL));
    assert_true(retry_should_retry_status(400, "true"));
    assert_false(retry_should_retry_status(503, "false"));
    assert_true(retry_should_retry_status(503, "maybe"));

    struct http_headers h = HTTP_HEADERS_INIT;
    int64_t now = 1780000000;
    headers_of(&h, NULL, NULL);
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 500);
    assert_int_equal(retry_delay_ms(&h, 1, now, 0.0), 1000);
    assert_int_equal(retry_delay_ms(&h, 3, now, 0.0), 4000);
    assert_int_equal(retry_delay_ms(&h, 4, now, 0.0), 8000);
    assert_int_equal(retry_delay_ms(&h, 50, now, 0.0), 8000);
    assert_int_equal(retry_delay_ms(NULL, 0, now, 1.0), 375); /* jitter takes off up to 25% */
    assert_int_equal(retry_delay_ms(NULL, 2, now, 0.5), 1750);
    headers_of(&h, "retry-after-ms", "250");
    assert_int_equal(retry_delay_ms(&h, 3, now, 0.9), 250);
    headers_of(&h, "retry-after", "2");
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.9), 2000);
    headers_of(&h, "retry-after", "1.5");
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 1500);
    headers_of(&h, "retry-after", "0"); /* not 0 < x <= 60: backoff */
    assert_int_equal(retry_delay_ms(&h, 1, now, 0.0), 1000);
    headers_of(&h, "retry-after", "61");
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 500);
    headers_of(&h, "retry-after", "60");
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 60000);
    char date[64];
    time_t when = (time_t)(now + 3);
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    headers_of(&h, "retry-after", date);
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 3000);
    /* retry-after-ms is read first, even when its value is then out of range */
    headers_of(&h, "retry-after-ms", "70000");
    assert_true(http_headers_add(&h, "retry-after", 11, "2", 1));
    assert_int_equal(retry_delay_ms(&h, 0, now, 0.0), 500);
    http_headers_free(&h);
}

static void test_http_dates(void **state)
{
    (void)state;
    int64_t t = 0;
    assert_true(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(http_date_parse("Sun Nov  6 08:49:37 1994", &t));
    assert_int_equal(t, 784111777);
    assert_true(http_date_parse(" Mon, 01 Jun 2026 12:34:56 GMT ", &t));
    assert_int_equal(t, 1780317296);
    assert_false(http_date_parse("Sun, 06 Nov 1994 08:49:37 PST", &t));
    assert_false(http_date_parse("Sun, 31 Feb 1994 08:49:37 GMT", &t));
    assert_false(http_date_parse("yesterday", &t));
    assert_false(http_date_parse("", &t));
}

/* ---- error bodies, request ids, clock skew ---- */

static void test_error_bodies(void **state)
{
    (void)state;
    struct http_headers h = HTTP_HEADERS_INIT;
    struct mantle_error err = MANTLE_ERROR_INIT;
    const char *openai = "{\"error\":{\"message\":\"bad model\",\"type\":\"invalid_request_error\","
                         "\"param\":null,\"code\":null}}";
    headers_of(&h, "x-request-id", "req_1");
    client_error_from_response(&err, 400, &h, openai, strlen(openai), 1);
    assert_int_equal(err.code, MANTLE_E_BAD_REQUEST);
    assert_string_equal(err.message, "HTTP 400 invalid_request_error: bad model");
    assert_string_equal(err.request_id, "req_1");
    assert_int_equal(err.http_status, 400);

    const char *aws = "{\"message\":\"Too many requests\"}";
    headers_of(&h, "x-amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/coral/");
    assert_true(http_headers_add(&h, "x-amzn-RequestId", 16, "aws-req-9", 9));
    client_error_from_response(&err, 429, &h, aws, strlen(aws), 3);
    assert_int_equal(err.code, MANTLE_E_RATE_LIMIT);
    assert_string_equal(err.message, "HTTP 429 ThrottlingException: Too many requests");
    assert_string_equal(err.request_id, "aws-req-9");
    assert_int_equal(err.attempts, 3);

    const char *cap = "{\"Message\":\"Authentication failed\"}";
    headers_of(&h, NULL, NULL);
    client_error_from_response(&err, 403, &h, cap, strlen(cap), 1);
    assert_int_equal(err.code, MANTLE_E_PERMISSION_DENIED);
    assert_string_equal(err.message, "HTTP 403: Authentication failed");

    const char *anth = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
                       "\"Overloaded\"}}";
    client_error_from_response(&err, 529, &h, anth, strlen(anth), 1);
    assert_int_equal(err.code, MANTLE_E_SERVER);
    assert_string_equal(err.message, "HTTP 529 overloaded_error: Overloaded");

    const char *typed = "{\"__type\":\"com.amazon.coral#ValidationException\",\"message\":\"x\"}";
    client_error_from_response(&err, 422, &h, typed, strlen(typed), 1);
    assert_string_equal(err.message, "HTTP 422 ValidationException: x");
    client_error_from_response(&err, 502, &h, "<html>\nBad gateway</html>", 25, 1);
    assert_string_equal(err.message, "HTTP 502: <html> Bad gateway</html>");
    client_error_from_response(&err, 418, &h, "", 0, 1);
    assert_int_equal(err.code, MANTLE_E_HTTP);

    /* clock skew: the definite types, and InvalidSignatureException only with its message */
    const char *expired = "{\"message\":\"Signature expired: 20260601T123456Z is now earlier "
                          "than 20260601T124000Z (20260601T124500Z - 5 min.)\"}";
    headers_of(&h, "x-amzn-errortype", "InvalidSignatureException");
    assert_true(client_is_clock_skew_error(403, &h, expired, strlen(expired)));
    const char *mismatch = "{\"message\":\"The request signature we calculated does not match\"}";
    assert_false(client_is_clock_skew_error(403, &h, mismatch, strlen(mismatch)));
    headers_of(&h, "x-amzn-errortype", "RequestTimeTooSkewed");
    assert_true(client_is_clock_skew_error(403, &h, "{}", 2));
    assert_false(client_is_clock_skew_error(500, &h, "{}", 2));
    http_headers_free(&h);
}

/* ---- redaction ---- */

static void test_redaction_units(void **state)
{
    (void)state;
    assert_string_equal(redact_header_value("Authorization", "AWS4-HMAC-SHA256 x"), REDACTED);
    assert_string_equal(redact_header_value("x-amz-security-token", "tok"), REDACTED);
    assert_string_equal(redact_header_value("X-Api-Key", "k"), REDACTED);
    assert_string_equal(redact_header_value("x-request-id", "req_1"), "req_1");
    assert_string_equal(redact_header_value("x-custom", "bedrock-api-key-abc"), REDACTED);
    struct buf b = BUF_INIT;
    redact_append_url(&b, "https://h/p?X-Amz-Signature=abc&limit=2&X-Amz-Security-Token=t&a");
    assert_string_equal(b.data,
                        "https://h/p?X-Amz-Signature=<redacted>&limit=2&X-Amz-Security-Token="
                        "<redacted>&a");
    buf_free(&b);
    redact_append_url(&b, "https://h/p");
    assert_string_equal(b.data, "https://h/p");
    buf_free(&b);
}

/* ---- SSE -> events -> accumulator, over the recorded streams ---- */

struct collect {
    struct mantle_accumulator *acc;
    int events;
    int done_events;
    int stop_at;
    char types[2048];
};

static int collect_cb(void *ud, const struct mantle_stream_event *ev)
{
    struct collect *c = ud;
    c->events++;
    if (!ev->json) c->done_events++;
    size_t n = strlen(c->types);
    snprintf(c->types + n, sizeof c->types - n, "%s%s", n ? "," : "", ev->type);
    mantle_accumulator_add(c->acc, ev);
    return c->stop_at && c->events == c->stop_at;
}

/* Feeds a recorded stream through the client's stream path in chunks of `chunk` bytes. */
static mantle_code run_recorded(const char *file, size_t chunk, struct collect *c,
                                struct mantle_error *err)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/sse/%s", file);
    size_t len;
    char *data = test_read_file(test_source_path(rel), &len);
    assert_non_null(data);
    struct http_transfer t;
    http_transfer_init(&t);
    assert_true(http_headers_add(&t.headers, "Content-Type", 12, "text/event-stream", 17));
    struct stream_state st;
    assert_int_equal(stream_state_init(&st, collect_cb, c, err), MANTLE_OK);
    stream_state_reset(&st, &t);
    mantle_code rc = MANTLE_OK;
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        if (stream_on_body(&st, data + off, n) != 0) {
            rc = st.code;
            *err = st.detail;
            break;
        }
    }
    if (rc == MANTLE_OK) rc = stream_finish(&st, err);
    stream_state_free(&st);
    http_transfer_free(&t);
    free(data);
    return rc;
}

static void test_stream_recorded(void **state)
{
    (void)state;
    size_t chunks[] = {1, 7, 100000};
    for (size_t i = 0; i < 3; i++) {
        struct mantle_error err = MANTLE_ERROR_INIT;
        struct collect c = {mantle_accumulator_new(), 0, 0, 0, ""};
        assert_int_equal(run_recorded("responses.sse", chunks[i], &c, &err), MANTLE_OK);
        assert_int_equal(c.events, 17);
        assert_string_equal(mantle_accumulator_text(c.acc),
                            "Mantle is Amazon Bedrock's OpenAI-compatible endpoint.");
        json_t *fin = mantle_accumulator_final(c.acc);
        assert_non_null(fin);
        assert_string_equal(json_string_value(json_object_get(fin, "status")), "completed");
        assert_non_null(strstr(c.types, "response.created,response.in_progress"));
        mantle_accumulator_free(c.acc);

        struct collect ch = {mantle_accumulator_new(), 0, 0, 0, ""};
        assert_int_equal(run_recorded("chat.sse", chunks[i], &ch, &err), MANTLE_OK);
        assert_int_equal(ch.events, 13);
        assert_int_equal(ch.done_events, 1); /* [DONE] arrives with json NULL */
        assert_string_equal(mantle_accumulator_text(ch.acc), "Hello! How can I help you today?");
        fin = mantle_accumulator_final(ch.acc);
        assert_non_null(fin);
        json_t *msg =
            json_object_get(json_array_get(json_object_get(fin, "choices"), 0), "message");
        assert_string_equal(json_string_value(json_object_get(msg, "content")),
                            "Hello! How can I help you today?");
        assert_non_null(json_object_get(fin, "usage"));
        mantle_accumulator_free(ch.acc);

        struct collect an = {mantle_accumulator_new(), 0, 0, 0, ""};
        assert_int_equal(run_recorded("anthropic.sse", chunks[i], &an, &err), MANTLE_OK);
        assert_int_equal(an.events, 10);
        assert_string_equal(mantle_accumulator_text(an.acc),
                            "Hello! I'm Claude, an AI assistant made by Anthropic.");
        fin = mantle_accumulator_final(an.acc);
        assert_non_null(fin);
        assert_string_equal(json_string_value(json_object_get(fin, "stop_reason")), "end_turn");
        mantle_accumulator_free(an.acc);
    }
}

static void test_stream_errors(void **state)
{
    (void)state;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct collect c = {mantle_accumulator_new(), 0, 0, 0, ""};
    assert_int_equal(run_recorded("error.sse", 5, &c, &err), MANTLE_E_STREAM);
    assert_int_equal(c.events, 4); /* the error event itself is not delivered */
    assert_non_null(strstr(err.message, "Overloaded"));
    mantle_accumulator_free(c.acc);

    struct collect o = {mantle_accumulator_new(), 0, 0, 0, ""};
    assert_int_equal(run_recorded("error_openai.sse", 3, &o, &err), MANTLE_E_STREAM);
    assert_int_equal(o.events, 3);
    assert_non_null(strstr(err.message, "The server had an error"));
    mantle_accumulator_free(o.acc);

    struct collect cut = {mantle_accumulator_new(), 0, 0, 0, ""};
    assert_int_equal(run_recorded("cut.sse", 9, &cut, &err), MANTLE_E_STREAM);
    assert_int_equal(cut.events, 1);
    assert_non_null(strstr(err.message, "middle of an event"));
    mantle_accumulator_free(cut.acc);

    struct collect stop = {mantle_accumulator_new(), 0, 0, 2, ""};
    assert_int_equal(run_recorded("chat.sse", 64, &stop, &err), MANTLE_E_CANCELLED);
    assert_int_equal(stop.events, 2);
    mantle_accumulator_free(stop.acc);
}

/* ---- the JSON syntax check agrees with jansson ---- */

static bool jansson_accepts(const char *s, size_t len)
{
    json_t *j = json_loadb(s, len, 0, NULL);
    json_decref(j);
    return j != NULL;
}

static void check_agrees(const char *s, size_t len)
{
    bool unsure = false, mine = client_json_check(s, len, &unsure);
    bool theirs = jansson_accepts(s, len);
    if (unsure) mine = theirs; /* what the client does: jansson decides the edge numbers */
    if (mine != theirs)
        fprintf(stderr, "client_json_check %s, jansson %s: '%.*s'\n", mine ? "accepts" : "rejects",
                theirs ? "accepts" : "rejects", (int)len, s);
    assert_int_equal(mine, theirs);
}

static void test_json_check(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}",
        "[]",
        " {\"a\":1} ",
        "[1,2,3]",
        "{\"a\":[true,false,null,-0.5e+3,\"x\"]}",
        "[[[[[]]]]]",
        "{\"a\":{\"b\":{}}}",
        "[\"\\u00e9\\ud83d\\ude00\\n\\/\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xf0\x9f\x98\x80\"]",
        "",
        "1",
        "\"s\"",
        "null",
        "{",
        "[1,]",
        "{\"a\"}",
        "{\"a\":}",
        "{,}",
        "[01]",
        "[1.]",
        "[.5]",
        "[-]",
        "[1e]",
        "[+1]",
        "[tru]",
        "[\"\\x\"]",
        "[\"a\nb\"]",
        "[\"\\ud800\"]",
        "[\"\\udc00\"]",
        "[\"\\u0000\"]",
        "[\"\xc0\x80\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xff\"]",
        "[1] x",
        "[1]]",
        "{\"a\":1,}",
        "[\"unterminated",
        "{\"a\" : 1 , \"b\" : [ ] }",
        "[1,\n2]\r\n",
        "{\"a\":1}{}",
        "[1e400]",
        "[1e-400]",
        "[99999999999999999999]",
        "[-9223372036854775808]",
        "[1.5e307]",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_agrees(cases[i], strlen(cases[i]));
    /* nesting: jansson's limit is 2048 */
    char deep[2 * 2100 + 1];
    for (size_t depth = 2047; depth <= 2049; depth++) {
        memset(deep, '[', depth);
        memset(deep + depth, ']', depth);
        check_agrees(deep, 2 * depth);
    }
    /* each kind of special byte at every offset of strings up to 40 bytes: the scanner takes 16
     * and 8 bytes at a time, and a hit must be found wherever it falls in a block */
    static const char *const specials[] = {"\\n",      "\\u00e9", "\x01",         "\x7f", "\x80",
                                           "\xc3\xa9", "\xc3",    "\xe2\x82\xac", "\""};
    char str[64];
    for (size_t sp = 0; sp < sizeof specials / sizeof specials[0]; sp++)
        for (size_t slen = 1; slen <= 40; slen++)
            for (size_t at = 0; at < slen; at++) {
                size_t k = 0, sl = strlen(specials[sp]);
                str[k++] = '[';
                str[k++] = '"';
                memset(str + k, 'a', at);
                k += at;
                memcpy(str + k, specials[sp], sl);
                k += sl;
                memset(str + k, 'b', slen - at - 1);
                k += slen - at - 1;
                str[k++] = '"';
                str[k++] = ']';
                check_agrees(str, k);
            }
    /* mutations of a real response: flip, drop and insert bytes */
    size_t len;
    char *orig = test_read_file(test_source_path("tests/data/sse/responses.sse"), &len);
    assert_non_null(orig);
    const char *start = strstr(orig, "data: {") + 6;
    size_t n = strcspn(start, "\n");
    char *buf = malloc(n + 2);
    assert_non_null(buf);
    static const char alphabet[] = "{}[]\":,\\ 0-.eE\x80\xc3\x01tnu";
    unsigned seed = 12345;
    for (int round = 0; round < 3000; round++) {
        memcpy(buf, start, n);
        size_t m = n;
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % n;
        seed = seed * 1103515245u + 12345u;
        char ch = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
        switch (round % 3) {
        case 0:
            buf[at] = ch;
            break;
        case 1:
            memmove(buf + at, buf + at + 1, n - at - 1);
            m--;
            break;
        default:
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = ch;
            m++;
        }
        check_agrees(buf, m);
    }
    free(buf);
    free(orig);
}

/* Region: option > AWS_REGION > AWS_DEFAULT_REGION > the profile's `region` (config file). */
static void test_region_from_profile(void **state)
{
    (void)state;
    char dir[] = "/tmp/mantle-region-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char config[64], bad[64];
    snprintf(config, sizeof config, "%s/config", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fputs("[default]\nregion = eu-west-3\n[profile dev]\nregion = ap-south-1\n", f);
    fclose(f);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("[default]\nregion = eu-west-3\nthis line has no equals sign\n", f);
    fclose(f);

    struct env_opts e;
    env_opts_init(&e);
    env_set(&e, "HOME", dir);
    env_set(&e, "AWS_CONFIG_FILE", config);
    struct mantle_client *c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "eu-west-3");
    assert_string_equal(mantle_client_base_url(c),
                        "https://bedrock-mantle.eu-west-3.api.aws/openai/v1");
    mantle_client_free(c);

    e.o.profile = "dev"; /* the selected profile's region */
    c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "ap-south-1");
    mantle_client_free(c);

    env_set(&e, "AWS_DEFAULT_REGION", "us-west-2"); /* the environment beats the profile */
    c = must_create(&e.o);
    assert_string_equal(mantle_client_region(c), "us-west-2");
    mantle_client_free(c);

    struct env_opts m; /* a malformed config file is an error naming file and line */
    env_opts_init(&m);
    env_set(&m, "HOME", dir);
    env_set(&m, "AWS_CONFIG_FILE", bad);
    expect_config_error(&m.o, "bad:3");

    struct env_opts none; /* no HOME, no file: no region, the usual message */
    env_opts_init(&none);
    expect_config_error(&none.o, "AWS_DEFAULT_REGION");

    remove(config);
    remove(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_derived_base_url),
        cmocka_unit_test(test_explicit_base_url),
        cmocka_unit_test(test_api_key_without_region),
        cmocka_unit_test(test_mutual_exclusivity),
        cmocka_unit_test(test_missing_region),
        cmocka_unit_test(test_region_env_precedence),
        cmocka_unit_test(test_endpoints_and_partitions),
        cmocka_unit_test(test_canonical_base_url),
        cmocka_unit_test(test_environment_bearer),
        cmocka_unit_test(test_lazy_credentials),
        cmocka_unit_test(test_provider_error_wrapping),
        cmocka_unit_test(test_copy_keeps_and_overrides),
        cmocka_unit_test(test_insecure_http),
        cmocka_unit_test(test_one_shot_body_refused),
        cmocka_unit_test(test_retry_policy),
        cmocka_unit_test(test_http_dates),
        cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_redaction_units),
        cmocka_unit_test(test_stream_recorded),
        cmocka_unit_test(test_stream_errors),
        cmocka_unit_test(test_json_check),
        cmocka_unit_test(test_region_from_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
