/* The client end to end against mantle-emulator (a child process on 127.0.0.1 that verifies
 * SigV4 like AWS): every endpoint as JSON and as a stream, SigV4 with static and session-token
 * credentials, the default chain from an injected environment, Bedrock API keys, every fault
 * option (retry-after honoured, x-should-retry, timeouts, drop mid-stream, malformed JSON, clock
 * skew), cancellation from the stream callback, and many threads sharing one client. */
#include "testutil.h"

#include "fakeserver.h"

#include <jansson.h>
#include <mantle/mantle.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "client/client_internal.h"

#define API_KEY "bedrock-api-key-emulator-test"

/* ---- the emulator as a child process ---- */

static struct fakeserver emu;
static char base_url[200];

static void emu_start(const char *identities, const char *const *extra)
{
    const char *args[32] = {"--api-key", API_KEY, NULL};
    size_t n = 2;
    for (size_t i = 0; extra && extra[i] && n < 31; i++) args[n++] = extra[i];
    args[n] = NULL;
    fakeserver_start_emulator(&emu, identities, args);
}

/* ---- clients ---- */

static struct test_env empty_env;
static struct mantle_credentials_options empty_copts = {NULL,       NULL, NULL, test_env_getenv,
                                                        &empty_env, NULL, NULL};

static struct mantle_client_options base_options(void)
{
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.base_url = base_url;
    o.credentials_options = &empty_copts;
    return o;
}

static struct mantle_client *make(const struct mantle_client_options *o)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(o, &err);
    if (!c) fprintf(stderr, "client: %s\n", err.message);
    assert_non_null(c);
    return c;
}

static struct mantle_client *static_client(void)
{
    struct mantle_client_options o = base_options();
    o.aws_access_key_id = "AKIDSTATIC";
    o.aws_secret_access_key = "static-secret";
    return make(&o);
}

static void expect_ok(mantle_code rc, const struct mantle_error *err)
{
    if (rc != MANTLE_OK) fprintf(stderr, "unexpected %s: %s\n", mantle_code_name(rc), err->message);
    assert_int_equal(rc, MANTLE_OK);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A request with the emulator's per-request fault header. */
static mantle_code faulty(struct mantle_client *c, const char *method, const char *path,
                          const char *body, const char *fault, struct mantle_response **out,
                          struct mantle_error *err)
{
    struct mantle_header h[] = {{"x-mantle-emulator-fault", fault}};
    struct mantle_request rq = {0};
    rq.method = method;
    rq.path = path;
    rq.headers = h;
    rq.header_count = fault ? 1 : 0;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    return mantle_client_request(c, &rq, out, err);
}

/* ---- stream collection ---- */

struct collect {
    struct mantle_accumulator *acc;
    int events;
    int stop_at;
};

static int collect_cb(void *ud, const struct mantle_stream_event *ev)
{
    struct collect *c = ud;
    c->events++;
    assert_non_null(ev->type);
    assert_non_null(ev->data);
    mantle_accumulator_add(c->acc, ev);
    return c->stop_at && c->events >= c->stop_at;
}

static mantle_code faulty_stream(struct mantle_client *c, const char *path, int from_root,
                                 const char *body, const char *fault, struct collect *col,
                                 struct mantle_error *err)
{
    struct mantle_header h[] = {{"x-mantle-emulator-fault", fault}};
    struct mantle_request rq = {0};
    rq.method = "POST";
    rq.path = path;
    rq.path_from_host_root = from_root;
    rq.headers = h;
    rq.header_count = fault ? 1 : 0;
    rq.body = body;
    rq.body_len = strlen(body);
    return mantle_client_stream(c, &rq, collect_cb, col, err);
}

/* ---- endpoints ---- */

static void test_responses(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    json_t *body = json_pack("{s:s, s:s}", "model", "openai.gpt-oss-120b", "input", "hello from C");
    expect_ok(mantle_responses_create(c, mantle_json_value(body), &r, &err), &err);
    assert_int_equal(mantle_response_status(r), 200);
    assert_int_equal(mantle_response_attempts(r), 1);
    char *text = mantle_response_output_text(r);
    assert_non_null(text);
    assert_non_null(strstr(text, "hello from C"));
    mantle_free(text);
    int64_t in, out, total;
    mantle_response_usage(r, &in, &out, &total);
    assert_true(in > 0 && out > 0 && total == in + out);
    assert_non_null(mantle_response_request_id(r));
    char id[128];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(mantle_response_json(r), "id")));
    mantle_response_free(r);

    expect_ok(mantle_responses_retrieve(c, id, &r, &err), &err);
    assert_string_equal(json_string_value(json_object_get(mantle_response_json(r), "id")), id);
    mantle_response_free(r);
    expect_ok(mantle_responses_input_items(c, id, "limit=5", &r, &err), &err);
    assert_true(json_is_array(json_object_get(mantle_response_json(r), "data")));
    mantle_response_free(r);
    /* cancel needs a background response; this one is done: a 400 with the server's reason */
    assert_int_equal(mantle_responses_cancel(c, id, &r, &err), MANTLE_E_BAD_REQUEST);
    assert_non_null(strstr(err.message, "background"));
    assert_null(r);
    expect_ok(mantle_responses_delete(c, id, &r, &err), &err);
    assert_true(json_is_true(json_object_get(mantle_response_json(r), "deleted")));
    mantle_response_free(r);
    assert_int_equal(mantle_responses_retrieve(c, id, &r, &err), MANTLE_E_NOT_FOUND);
    assert_int_equal(err.http_status, 404);

    /* background + cancel */
    json_object_set_new(body, "background", json_true());
    expect_ok(mantle_responses_create(c, mantle_json_value(body), &r, &err), &err);
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(mantle_response_json(r), "id")));
    mantle_response_free(r);
    expect_ok(mantle_responses_cancel(c, id, &r, &err), &err);
    assert_string_equal(json_string_value(json_object_get(mantle_response_json(r), "status")),
                        "cancelled");
    mantle_response_free(r);

    /* streaming, from JSON text */
    struct collect col = {mantle_accumulator_new(), 0, 0};
    expect_ok(mantle_responses_stream(
                  c,
                  mantle_json_text("{\"model\":\"openai.gpt-oss-120b\",\"input\":\"stream me\"}"),
                  collect_cb, &col, &err),
              &err);
    assert_true(col.events > 4);
    assert_non_null(strstr(mantle_accumulator_text(col.acc), "stream me"));
    json_t *fin = mantle_accumulator_final(col.acc);
    assert_non_null(fin);
    assert_string_equal(json_string_value(json_object_get(fin, "status")), "completed");
    mantle_accumulator_free(col.acc);
    json_decref(body);
    mantle_client_free(c);
}

static void test_chat(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "openai.gpt-oss-20b", "messages",
                             "role", "user", "content", "chat hello");
    expect_ok(mantle_chat_completions_create(c, mantle_json_value(body), &r, &err), &err);
    assert_non_null(strstr(mantle_chat_message_content(r), "chat hello"));
    int64_t in, out, total;
    mantle_response_usage(r, &in, &out, &total);
    assert_true(in > 0 && out > 0 && total > 0);
    mantle_response_free(r);

    struct collect col = {mantle_accumulator_new(), 0, 0};
    expect_ok(mantle_chat_completions_stream(c, mantle_json_value(body), collect_cb, &col, &err),
              &err);
    assert_true(col.events > 3);
    assert_non_null(strstr(mantle_accumulator_text(col.acc), "chat hello"));
    assert_non_null(mantle_accumulator_final(col.acc));
    mantle_accumulator_free(col.acc);
    /* the caller's object is not modified by the streaming call */
    assert_null(json_object_get(body, "stream"));
    json_decref(body);
    mantle_client_free(c);
}

static void test_models(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    assert_true(json_array_size(json_object_get(mantle_response_json(r), "data")) >= 3);
    mantle_response_free(r);
    expect_ok(mantle_models_retrieve(c, "openai.gpt-oss-120b-1:0", &r, &err), &err);
    assert_string_equal(json_string_value(json_object_get(mantle_response_json(r), "id")),
                        "openai.gpt-oss-120b-1:0");
    mantle_response_free(r);
    expect_ok(mantle_models_retrieve(c, "odd id/with?chars", &r, &err), &err);
    assert_string_equal(json_string_value(json_object_get(mantle_response_json(r), "id")),
                        "odd id/with?chars");
    mantle_response_free(r);
    assert_int_equal(mantle_models_retrieve(c, "does-not-exist", &r, &err), MANTLE_E_NOT_FOUND);
    assert_non_null(strstr(err.message, "does not exist"));
    assert_int_equal(err.attempts, 1);
    assert_true(err.request_id[0] != '\0');
    mantle_client_free(c);
}

static void test_messages(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    const char *body = "{\"model\":\"anthropic.claude-sonnet-4-5\",\"max_tokens\":64,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi claude\"}]}";
    expect_ok(mantle_messages_create(c, mantle_json_text(body), &r, &err), &err);
    char *text = mantle_message_text(r);
    assert_non_null(text);
    assert_non_null(strstr(text, "hi claude"));
    mantle_free(text);
    int64_t in, out, total;
    mantle_response_usage(r, &in, &out, &total);
    assert_true(in > 0 && out > 0 && total == in + out);
    mantle_response_free(r);

    struct collect col = {mantle_accumulator_new(), 0, 0};
    expect_ok(mantle_messages_stream(c, mantle_json_text(body), collect_cb, &col, &err), &err);
    assert_non_null(strstr(mantle_accumulator_text(col.acc), "hi claude"));
    json_t *fin = mantle_accumulator_final(col.acc);
    assert_non_null(fin);
    assert_string_equal(json_string_value(json_object_get(fin, "role")), "assistant");
    mantle_accumulator_free(col.acc);
    mantle_client_free(c);
}

/* ---- auth modes ---- */

static void test_session_token_and_bearer(void **state)
{
    (void)state;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    struct mantle_client_options o = base_options();
    o.aws_access_key_id = "ASIATEMP";
    o.aws_secret_access_key = "temp-secret";
    o.aws_session_token = "temp-session-token";
    struct mantle_client *c = make(&o);
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
    o.aws_session_token = "wrong-token";
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_PERMISSION_DENIED);
    assert_non_null(strstr(err.message, "security token"));
    mantle_client_free(c);
    o.aws_session_token = NULL;
    o.aws_access_key_id = "AKIDSTATIC";
    o.aws_secret_access_key = "wrong-secret";
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_PERMISSION_DENIED);
    assert_non_null(strstr(err.message, "signature"));
    mantle_client_free(c);

    /* Bedrock API key, explicit and from AWS_BEARER_TOKEN_BEDROCK, with no region */
    struct mantle_client_options b = MANTLE_CLIENT_OPTIONS_INIT;
    b.base_url = base_url;
    b.credentials_options = &empty_copts;
    b.api_key = API_KEY;
    c = make(&b);
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
    struct test_env fe = {{"AWS_BEARER_TOKEN_BEDROCK"}, {API_KEY}, 1, 0};
    struct mantle_credentials_options co = empty_copts;
    co.getenv_ud = &fe;
    b.api_key = NULL;
    b.credentials_options = &co;
    c = make(&b);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_ENVIRONMENT);
    expect_ok(mantle_messages_create(c,
                                     mantle_json_text("{\"model\":\"anthropic.claude-sonnet-4-5\","
                                                      "\"max_tokens\":8,\"messages\":[{\"role\":"
                                                      "\"user\",\"content\":\"k\"}]}"),
                                     &r, &err),
              &err);
    mantle_response_free(r);
    mantle_client_free(c);
    b.credentials_options = &empty_copts;
    b.api_key = "bedrock-api-key-wrong";
    c = make(&b);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_PERMISSION_DENIED);
    assert_non_null(strstr(err.message, "API Key"));
    mantle_client_free(c);
}

static int token_calls;
static mantle_code token_fn(void *ud, char *buf, size_t cap, struct mantle_error *err)
{
    (void)ud;
    (void)err;
    token_calls++;
    snprintf(buf, cap, "%s", API_KEY);
    return MANTLE_OK;
}

static void test_bearer_fn_per_attempt(void **state)
{
    (void)state;
    struct mantle_client_options o = base_options();
    o.bearer_token_fn = token_fn;
    struct mantle_client *c = make(&o);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    token_calls = 0;
    expect_ok(
        faulty(c, "GET", "/models", NULL, "fail-status=500:1, retry-after-ms=5, id=fn", &r, &err),
        &err);
    assert_int_equal(mantle_response_attempts(r), 2);
    assert_int_equal(token_calls, 2); /* asked again for the retry */
    mantle_response_free(r);
    mantle_client_free(c);
}

static void test_default_chain_environment(void **state)
{
    (void)state;
    struct test_env fe = {
        {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"},
        {"ASIATEMP", "temp-secret", "temp-session-token", "us-east-1"},
        4,
        0};
    struct mantle_credentials_options co = empty_copts;
    co.getenv_ud = &fe;
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.base_url = base_url;
    o.credentials_options = &co;
    struct mantle_client *c = make(&o);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_DEFAULT);
    assert_string_equal(mantle_client_region(c), "us-east-1");
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
}

static void test_profile_auth(void **state)
{
    (void)state;
    char creds[] = "/tmp/mantle-emu-profile-XXXXXX";
    test_write_temp(creds, "[default]\naws_access_key_id = AKIDWRONG\naws_secret_access_key = x\n"
                           "[emu]\naws_access_key_id = AKIDSTATIC\n"
                           "aws_secret_access_key = static-secret\n");
    struct mantle_credentials_options co = empty_copts;
    co.credentials_file = creds;
    co.config_file = "/nonexistent/mantle-test-config";
    struct mantle_client_options o = base_options();
    o.credentials_options = &co;
    o.profile = "emu";
    struct mantle_client *c = make(&o);
    assert_int_equal(mantle_client_auth_source(c), MANTLE_AUTH_SOURCE_PROFILE);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
    /* a profile that does not exist: a credentials error from the first request */
    o.profile = "missing";
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_CREDENTIALS);
    assert_int_equal(err.attempts, 0);
    mantle_client_free(c);
    unlink(creds);
}

static void test_signing_service_and_roots(void **state)
{
    (void)state;
    /* The emulator accepts bedrock-mantle and (for this test) bedrock; not bedrock-runtime. */
    struct mantle_client_options o = base_options();
    o.aws_access_key_id = "AKIDSTATIC";
    o.aws_secret_access_key = "static-secret";
    char v1[200];
    snprintf(v1, sizeof v1, "%s/v1", emu.root);
    o.base_url = v1; /* the seed's root */
    o.signing_service = "bedrock";
    struct mantle_client *c = make(&o);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
    o.signing_service = "bedrock-runtime";
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_PERMISSION_DENIED);
    assert_non_null(strstr(err.message, "service"));
    mantle_client_free(c);
    o.signing_service = NULL;
    o.region = "eu-west-1"; /* signed for the wrong region */
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_PERMISSION_DENIED);
    mantle_client_free(c);
}

/* ---- faults ---- */

struct log_lines {
    pthread_mutex_t lock;
    int warn, info, debug;
    char last_warn[512];
};

static void count_log(void *ud, enum mantle_log_level level, const char *line)
{
    struct log_lines *l = ud;
    pthread_mutex_lock(&l->lock);
    if (level == MANTLE_LOG_WARN) {
        l->warn++;
        snprintf(l->last_warn, sizeof l->last_warn, "%s", line);
    } else if (level == MANTLE_LOG_INFO) {
        l->info++;
    } else {
        l->debug++;
    }
    pthread_mutex_unlock(&l->lock);
}

struct sleeps {
    long ms[8];
    int n;
};

static void record_sleep(void *ud, long ms)
{
    struct sleeps *s = ud;
    if (s->n < 8) s->ms[s->n++] = ms;
}

static double no_jitter(void *ud)
{
    (void)ud;
    return 0.0;
}

static void test_retries_and_retry_after(void **state)
{
    (void)state;
    struct log_lines logs = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, ""};
    struct mantle_client_options o = base_options();
    o.aws_access_key_id = "AKIDSTATIC";
    o.aws_secret_access_key = "static-secret";
    o.log_fn = count_log;
    o.log_user_data = &logs;
    struct mantle_client *c = make(&o);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;

    /* The waits are checked through the client's sleep hook (recorded, not slept): no timing
     * assertion, and the test does not wait. The jitter source is fixed at 0 (no jitter). */
    struct sleeps sl = {{0}, 0};
    struct client_test_hooks hk = {0};
    hk.sleep_ms = record_sleep;
    hk.random = no_jitter;
    hk.ud = &sl;
    client_set_test_hooks(c, &hk);

    /* retry-after-ms honoured (far below the 0.5 s backoff) */
    expect_ok(
        faulty(c, "GET", "/models", NULL, "fail-status=503:2, retry-after-ms=60, id=a", &r, &err),
        &err);
    assert_int_equal(mantle_response_attempts(r), 3);
    assert_int_equal(sl.n, 2);
    assert_int_equal(sl.ms[0], 60);
    assert_int_equal(sl.ms[1], 60);
    mantle_response_free(r);
    assert_int_equal(logs.warn, 2);
    assert_non_null(strstr(logs.last_warn, "in 60 ms"));

    /* retry-after in seconds */
    sl.n = 0;
    expect_ok(faulty(c, "GET", "/models", NULL, "fail-status=429:1, retry-after=1, id=b", &r, &err),
              &err);
    assert_int_equal(mantle_response_attempts(r), 2);
    assert_int_equal(sl.n, 1);
    assert_int_equal(sl.ms[0], 1000); /* not the 0.5 s backoff */
    mantle_response_free(r);

    /* no header: 0.5 s * 2^n, jitter (fixed at 0 here) taking off up to 25% */
    sl.n = 0;
    expect_ok(faulty(c, "POST", "/responses", "{\"model\":\"m\",\"input\":\"x\"}",
                     "fail-status=500:1, id=c", &r, &err),
              &err);
    assert_int_equal(mantle_response_attempts(r), 2);
    assert_int_equal(sl.n, 1);
    assert_int_equal(sl.ms[0], 500);
    mantle_response_free(r);

    /* out of retries: the last error, with every attempt counted */
    assert_int_equal(
        faulty(c, "GET", "/models", NULL, "fail-status=502, retry-after-ms=5, id=d", &r, &err),
        MANTLE_E_SERVER);
    assert_int_equal(err.attempts, 3);
    assert_int_equal(err.http_status, 502);

    /* x-should-retry: false stops a retryable status; true retries a final one */
    assert_int_equal(faulty(c, "GET", "/models", NULL,
                            "fail-status=503:1, x-should-retry=false, id=e", &r, &err),
                     MANTLE_E_SERVER);
    assert_int_equal(err.attempts, 1);
    expect_ok(faulty(c, "GET", "/models", NULL,
                     "fail-status=400:1, x-should-retry=true, retry-after-ms=5, id=f", &r, &err),
              &err);
    assert_int_equal(mantle_response_attempts(r), 2);
    mantle_response_free(r);
    /* a 400 is final */
    assert_int_equal(faulty(c, "GET", "/models", NULL, "fail-status=400:1, id=g", &r, &err),
                     MANTLE_E_BAD_REQUEST);
    assert_int_equal(err.attempts, 1);
    /* error shapes: AWS type and message, request id */
    assert_int_equal(faulty(c, "GET", "/models", NULL,
                            "fail-status=429:1, error-shape=aws, x-should-retry=false, id=h", &r,
                            &err),
                     MANTLE_E_RATE_LIMIT);
    assert_non_null(strstr(err.message, "HTTP 429 "));
    assert_true(err.request_id[0] != '\0');
    assert_true(logs.info > 0);
    mantle_client_free(c);

    /* max_retries: MANTLE_RETRIES_NONE */
    o.max_retries = MANTLE_RETRIES_NONE;
    o.log_fn = NULL;
    c = make(&o);
    assert_int_equal(faulty(c, "GET", "/models", NULL, "fail-status=503:1, id=i", &r, &err),
                     MANTLE_E_SERVER);
    assert_int_equal(err.attempts, 1);
    mantle_client_free(c);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct mantle_client_options o = base_options();
    o.aws_access_key_id = "AKIDSTATIC";
    o.aws_secret_access_key = "static-secret";
    o.timeout_ms = 400;
    struct mantle_client *c = make(&o);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    int64_t t0 = now_ms();
    assert_int_equal(faulty(c, "GET", "/models", NULL, "delay=3000, id=t", &r, &err),
                     MANTLE_E_TIMEOUT);
    assert_true(now_ms() - t0 < 2500); /* the total budget, retries included */
    assert_true(err.attempts >= 1);
    expect_ok(faulty(c, "GET", "/models", NULL, "delay=50, id=t2", &r, &err), &err);
    mantle_response_free(r);

    /* the total timeout also ends a stream that started: events came, then the deadline (the
     * engine's, not libcurl's) cut it; a started stream is never retried */
    struct collect col = {mantle_accumulator_new(), 0, 0};
    t0 = now_ms();
    assert_int_equal(faulty_stream(c, "/responses", 0,
                                   "{\"model\":\"openai.gpt-oss-120b\",\"stream\":true,"
                                   "\"input\":\"one two three four five six seven eight\"}",
                                   "event-delay=150, id=t3", &col, &err),
                     MANTLE_E_TIMEOUT);
    assert_true(col.events >= 1);
    assert_int_equal(err.attempts, 1);
    assert_non_null(strstr(err.message, "no complete response within"));
    assert_true(now_ms() - t0 < 2500);
    mantle_accumulator_free(col.acc);
    mantle_client_free(c);

    /* a connection error is retried, then reported */
    o.timeout_ms = 0;
    o.base_url = "http://127.0.0.1:1/openai/v1";
    o.max_retries = 1;
    c = make(&o);
    assert_int_equal(mantle_models_list(c, &r, &err), MANTLE_E_CONNECTION);
    assert_int_equal(err.attempts, 2);
    mantle_client_free(c);
}

static void test_stream_faults(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    const char *body = "{\"model\":\"openai.gpt-oss-120b\",\"input\":\"one two three four five "
                       "six\",\"stream\":true}";
    /* dropped mid-stream: MANTLE_E_STREAM, never retried once events flowed */
    struct collect col = {mantle_accumulator_new(), 0, 0};
    assert_int_equal(
        faulty_stream(c, "/responses", 0, body, "drop-mid-stream=3, id=s1", &col, &err),
        MANTLE_E_STREAM);
    assert_int_equal(col.events, 3);
    assert_int_equal(err.attempts, 1);
    mantle_accumulator_free(col.acc);

    /* malformed JSON in an event: MANTLE_E_PROTOCOL */
    struct collect bad = {mantle_accumulator_new(), 0, 0};
    assert_int_equal(faulty_stream(c, "/responses", 0, body, "malformed-json, id=s2", &bad, &err),
                     MANTLE_E_PROTOCOL);
    assert_non_null(strstr(err.message, "not valid JSON"));
    mantle_accumulator_free(bad.acc);

    /* retried before the first byte: a 503 then the stream */
    struct collect retry = {mantle_accumulator_new(), 0, 0};
    expect_ok(faulty_stream(c, "/chat/completions", 0,
                            "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
                            "\"content\":\"again\"}]}",
                            "fail-status=503:1, retry-after-ms=5, id=s3", &retry, &err),
              &err);
    assert_non_null(strstr(mantle_accumulator_text(retry.acc), "again"));
    mantle_accumulator_free(retry.acc);

    /* cancelled from the callback, with events still to come (event-delay keeps them coming) */
    struct collect stop = {mantle_accumulator_new(), 0, 2};
    int64_t t0 = now_ms();
    assert_int_equal(faulty_stream(c, "/anthropic/v1/messages", 1,
                                   "{\"model\":\"anthropic.claude-sonnet-4-5\",\"max_tokens\":64,"
                                   "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
                                   "\"a b c d e f g h\"}]}",
                                   "event-delay=200, id=s4", &stop, &err),
                     MANTLE_E_CANCELLED);
    assert_int_equal(stop.events, 2);
    assert_true(now_ms() - t0 < 2500); /* did not wait for the rest (~3 s) */
    mantle_accumulator_free(stop.acc);
    /* and the client is fine afterwards */
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    mantle_client_free(c);
}

static void test_malformed_json(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    assert_int_equal(faulty(c, "POST", "/responses", "{\"model\":\"m\",\"input\":\"x\"}",
                            "malformed-json, id=m1", &r, &err),
                     MANTLE_E_PROTOCOL);
    assert_null(r);
    assert_int_equal(err.http_status, 200);
    assert_non_null(strstr(err.message, "not valid JSON"));
    mantle_client_free(c);
}

static void test_clock_skew(void **state)
{
    (void)state;
    long skews[] = {900, -900};
    for (int i = 0; i < 2; i++) {
        struct mantle_client *c = static_client();
        struct mantle_error err = MANTLE_ERROR_INIT;
        struct mantle_response *r = NULL;
        char fault[64];
        snprintf(fault, sizeof fault, "clock-skew=%ld", skews[i]);
        expect_ok(faulty(c, "GET", "/models", NULL, fault, &r, &err), &err);
        assert_int_equal(mantle_response_attempts(r), 2); /* one corrected retry */
        mantle_response_free(r);
        int64_t off = client_clock_offset(c);
        assert_true(off > skews[i] - 5 && off < skews[i] + 5);
        /* the offset stays: the next request is right the first time */
        expect_ok(
            faulty(c, "POST", "/responses", "{\"model\":\"m\",\"input\":\"x\"}", fault, &r, &err),
            &err);
        assert_int_equal(mantle_response_attempts(r), 1);
        mantle_response_free(r);
        /* copies start from it too */
        struct mantle_client_options none = MANTLE_CLIENT_OPTIONS_INIT;
        struct mantle_client *copy = mantle_client_with_options(c, &none, &err);
        expect_ok(faulty(copy, "GET", "/models", NULL, fault, &r, &err), &err);
        assert_int_equal(mantle_response_attempts(r), 1);
        mantle_response_free(r);
        mantle_client_free(copy);
        mantle_client_free(c);
    }
}

/* ---- threads ---- */

struct worker {
    struct mantle_client *c;
    int id;
    int ok;
    char failure[700];
};

static int count_events(void *ud, const struct mantle_stream_event *ev)
{
    (void)ev;
    (*(int *)ud)++;
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 12; i++) {
        struct mantle_error err = MANTLE_ERROR_INIT;
        struct mantle_response *r = NULL;
        mantle_code rc;
        char input[64];
        snprintf(input, sizeof input, "thread %d request %d", w->id, i);
        json_t *body = json_pack("{s:s, s:s}", "model", "openai.gpt-oss-120b", "input", input);
        switch (i % 3) {
        case 0:
            rc = mantle_models_list(w->c, &r, &err);
            break;
        case 1:
            rc = mantle_responses_create(w->c, mantle_json_value(body), &r, &err);
            if (rc == MANTLE_OK) {
                char *t = mantle_response_output_text(r);
                if (!t || !strstr(t, input)) rc = MANTLE_E_PROTOCOL;
                mantle_free(t);
            }
            break;
        default: {
            int events = 0;
            rc =
                mantle_responses_stream(w->c, mantle_json_value(body), count_events, &events, &err);
            if (rc == MANTLE_OK && events < 3) rc = MANTLE_E_STREAM;
        }
        }
        json_decref(body);
        mantle_response_free(r);
        if (rc != MANTLE_OK) {
            snprintf(w->failure, sizeof w->failure, "%s: %s", mantle_code_name(rc), err.message);
            return NULL;
        }
        w->ok++;
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    enum { N = 8 };
    pthread_t th[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){c, i, 0, ""};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        if (w[i].failure[0]) fprintf(stderr, "thread %d: %s\n", i, w[i].failure);
        assert_int_equal(w[i].ok, 12);
    }
    size_t idle = http_pool_idle_count(client_pool(c));
    assert_true(idle >= 1 && idle <= N);
    mantle_client_free(c);
}

/* New connections the last transfer on the client's (single) idle slot had to open. */
static long last_transfer_new_connections(struct mantle_client *c)
{
    struct http_slot *slot = http_pool_acquire(client_pool(c), NULL);
    assert_non_null(slot);
    long n = -1;
    assert_int_equal(curl_easy_getinfo(slot->easy, CURLINFO_NUM_CONNECTS, &n), CURLE_OK);
    http_pool_release(client_pool(c), slot, true);
    return n;
}

static void test_connection_reuse(void **state)
{
    (void)state;
    struct mantle_client *c = static_client();
    struct mantle_error err = MANTLE_ERROR_INIT;
    for (int i = 0; i < 20; i++) {
        struct mantle_response *r = NULL;
        expect_ok(mantle_models_list(c, &r, &err), &err);
        mantle_response_free(r);
    }
    /* one thread, one warm slot (handle + connection) reused throughout */
    assert_int_equal(http_pool_idle_count(client_pool(c)), 1);
    /* ...and the TCP connection too: the last transfer opened none */
    assert_int_equal(last_transfer_new_connections(c), 0);
    mantle_client_free(c);

    /* the check can fail: a fresh client's first request opens one */
    c = static_client();
    struct mantle_response *r = NULL;
    expect_ok(mantle_models_list(c, &r, &err), &err);
    mantle_response_free(r);
    assert_int_equal(last_transfer_new_connections(c), 1);
    mantle_client_free(c);
}

/* ---- proxies from the environment ---- */

/* A loopback port nothing listens on (bound, then closed). */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Which way one request of a client of a dead URL went. Through a proxy (the emulator itself),
 * an http request reaches the emulator, which refuses the proxy's absolute-form target with a
 * 400, and an https one asks for a tunnel, which the emulator refuses; directly, it cannot
 * connect. */
enum route { DIRECT, PROXIED, TUNNEL };
static int dead_port;
static enum route route_of(struct mantle_client *c)
{
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *r = NULL;
    mantle_code rc = mantle_models_list(c, &r, &err);
    mantle_response_free(r);
    if (rc == MANTLE_E_CONNECTION) {
        if (strstr(err.message, "CONNECT")) return TUNNEL;
        /* libcurl's own words (its error buffer), naming the port: not just curl_easy_strerror */
        char port[16];
        snprintf(port, sizeof port, "port %d", dead_port);
        if (!strstr(err.message, port)) fail_msg("no port in: %s", err.message);
        return DIRECT;
    }
    assert_int_equal(err.http_status, 400);
    assert_non_null(strstr(err.message, "request target must be a path"));
    return PROXIED;
}

static struct mantle_client *env_client(const char *url, struct test_env *fe)
{
    static struct mantle_credentials_options co;
    co = empty_copts;
    co.getenv_fn = test_env_getenv_only;
    co.getenv_ud = fe;
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.base_url = url;
    o.api_key = API_KEY;
    o.max_retries = MANTLE_RETRIES_NONE;
    o.credentials_options = &co;
    return make(&o);
}

static void test_proxies_from_environment(void **state)
{
    (void)state;
    char dead[64], proxy[sizeof base_url];
    dead_port = closed_port();
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", dead_port);
    snprintf(proxy, sizeof proxy, "%s", base_url);
    char *path = strchr(proxy + strlen("http://"), '/');
    if (path) *path = '\0'; /* the emulator's scheme://host:port */
    char dead_https[80];
    snprintf(dead_https, sizeof dead_https, "https%s", dead + strlen("http"));
    static const struct {
        bool https;
        const char *names[3], *values[3];
        enum route want;
    } cases[] = {
        {false, {NULL}, {NULL}, DIRECT},                             /* the control */
        {false, {"http_proxy"}, {"@"}, PROXIED},                     /* "@": the emulator */
        {false, {"HTTP_PROXY"}, {"@"}, DIRECT},                      /* httpoxy: never upper-case */
        {false, {"https_proxy", "HTTPS_PROXY"}, {"@", "@"}, DIRECT}, /* another scheme's */
        {false, {"all_proxy"}, {"@"}, PROXIED},                      /* the fallback */
        {false, {"ALL_PROXY"}, {"@"}, PROXIED},
        {false, {"http_proxy", "all_proxy"}, {"", "@"}, PROXIED},        /* empty is unset */
        {false, {"http_proxy", "no_proxy"}, {"@", "127.0.0.1"}, DIRECT}, /* bypassed */
        {false, {"http_proxy", "NO_PROXY"}, {"@", "example.com,127.0.0.1"}, DIRECT},
        {false, {"http_proxy", "no_proxy"}, {"@", "example.com"}, PROXIED},
        {true, {NULL}, {NULL}, DIRECT},
        {true, {"https_proxy"}, {"@"}, TUNNEL},
        {true, {"HTTPS_PROXY"}, {"@"}, TUNNEL}, /* upper-case is fine for https */
        {true, {"http_proxy"}, {"@"}, DIRECT},
        {true, {"https_proxy", "ALL_PROXY"}, {"", "@"}, TUNNEL},
        {true, {"https_proxy", "no_proxy"}, {"@", "127.0.0.1"}, DIRECT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct test_env fe = {{NULL}, {NULL}, 0, 0};
        for (int j = 0; j < 3 && cases[i].names[j]; j++)
            test_env_set(&fe, cases[i].names[j],
                         strcmp(cases[i].values[j], "@") == 0 ? proxy : cases[i].values[j]);
        struct mantle_client *c = env_client(cases[i].https ? dead_https : dead, &fe);
        if (route_of(c) != cases[i].want) fail_msg("case %zu routed the wrong way", i);
        mantle_client_free(c);
    }

    /* Read when the client is created, as httpx and botocore do: later changes are not seen,
     * and a copy keeps its base's proxies without reading the environment again. */
    struct test_env fe = {{NULL}, {NULL}, 0, 0};
    struct mantle_client *direct = env_client(dead, &fe);
    test_env_set(&fe, "http_proxy", proxy);
    assert_int_equal(route_of(direct), DIRECT);
    struct mantle_client *proxied = env_client(dead, &fe);
    test_env_set(&fe, "http_proxy", "");
    assert_int_equal(route_of(proxied), PROXIED);
    struct mantle_client_options none = MANTLE_CLIENT_OPTIONS_INIT;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *copy = mantle_client_with_options(proxied, &none, &err);
    assert_non_null(copy);
    assert_int_equal(route_of(copy), PROXIED);
    /* One pool, one slot, two settings: a copy for https has no https proxy, and the slot's
     * handle switches back and forth with the client that uses it. */
    struct mantle_client_options https = MANTLE_CLIENT_OPTIONS_INIT;
    https.base_url = dead_https;
    struct mantle_client *copy_direct = mantle_client_with_options(proxied, &https, &err);
    assert_non_null(copy_direct);
    assert_int_equal(route_of(copy_direct), DIRECT);
    assert_int_equal(route_of(proxied), PROXIED);
    assert_int_equal(route_of(copy_direct), DIRECT);
    mantle_client_free(copy_direct);
    mantle_client_free(copy);
    mantle_client_free(proxied);
    mantle_client_free(direct);
}

/* ---- setup ---- */

static int setup(void **state)
{
    (void)state;
    static const char *const extra[] = {"--service", "bedrock-mantle", "--service", "bedrock",
                                        NULL};
    emu_start("AKIDSTATIC static-secret\n"
              "ASIATEMP temp-secret temp-session-token\n",
              extra);
    snprintf(base_url, sizeof base_url, "%s/openai/v1", emu.root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fakeserver_stop(&emu);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_chat),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_session_token_and_bearer),
        cmocka_unit_test(test_bearer_fn_per_attempt),
        cmocka_unit_test(test_default_chain_environment),
        cmocka_unit_test(test_profile_auth),
        cmocka_unit_test(test_signing_service_and_roots),
        cmocka_unit_test(test_retries_and_retry_after),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_stream_faults),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_clock_skew),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_connection_reuse),
        cmocka_unit_test(test_proxies_from_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
