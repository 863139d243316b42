/* The openai-bedrock conformance cases ($MANTLE_SHARED_DIR/testdata/openai-bedrock-conformance/
 * cases.json), driven from the data file through the client:
 *   auth_selection  mantle_client_new + mantle_client_auth_mode/_source over an injected env
 *   sigv4           the client's own per-attempt signing (a test clock; the attempt is stopped
 *                   by a hook before it leaves): exact X-Amz-Date, X-Amz-Content-Sha256,
 *                   X-Amz-Security-Token and Authorization
 *   retry_signing   through mantle-emulator: fault 500 then 200, a custom provider returning
 *                   FIRSTACCESSKEY then SECONDACCESSKEY, the case's timestamps as signing clock
 *                   (the emulator's clock is skewed to match), every attempt checked
 *   body_replay     replayable bytes retried through the emulator; one-shot bodies refused with
 *                   no network attempt
 *   redaction       the redaction function, and the client's debug log of a real request
 * Each case prints "ok <id>" or "skip <id>: <reason>"; the number run is asserted. */
#include "testutil.h"

#include "fakeserver.h"

#include <fcntl.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client/client_internal.h"
#include "core/crypto.h"
#include "core/timeutil.h"

#define EXPECTED_CASES 14

/* ---- the emulator as a child process ---- */

/* GET/POST an /__emulator/ endpoint (no auth); returns the JSON. */
static json_t *emu_call(const struct fakeserver *e, const char *method, const char *what)
{
    char url[256];
    snprintf(url, sizeof url, "%s/__emulator/%s", e->root, what);
    return fakeserver_http(method, url, strcmp(method, "POST") == 0 ? "" : NULL);
}

/* ---- helpers ---- */

static json_t *cases;
static struct fakeserver emu;
static int ran, skipped;

static int64_t iso_time(const char *s)
{
    int64_t t = 0;
    assert_true(time_parse_iso8601(s, strlen(s), &t));
    return t;
}

static const char *str_at(json_t *o, const char *path_a, const char *path_b)
{
    json_t *v = json_object_get(o, path_a);
    if (path_b) v = json_object_get(v, path_b);
    return json_string_value(v);
}

struct fake_env {
    json_t *vars;
};

static const char *fake_getenv(void *ud, const char *name)
{
    struct fake_env *e = ud;
    const char *v = json_string_value(json_object_get(e->vars, name));
    return v ? v : test_env_default(name);
}

static void report(const char *id, const char *skip_reason)
{
    if (skip_reason) {
        printf("skip %s: %s\n", id, skip_reason);
        skipped++;
    } else {
        printf("ok %s\n", id);
        ran++;
    }
    fflush(stdout);
}

/* ---- a custom provider handing out one access key per call ---- */

struct key_seq {
    json_t *keys;
    size_t calls;
    const char *token;
};

static mantle_code key_seq_get(void *impl, struct mantle_credentials **out,
                               struct mantle_error *err)
{
    struct key_seq *k = impl;
    size_t i = k->calls < json_array_size(k->keys) ? k->calls : json_array_size(k->keys) - 1;
    k->calls++;
    *out = mantle_credentials_new(json_string_value(json_array_get(k->keys, i)),
                                  "conformance-secret", k->token, 0, err);
    return *out ? MANTLE_OK : err->code;
}

static struct mantle_credentials_provider *key_seq_provider(struct key_seq *k)
{
    static const struct mantle_credentials_provider_vtable vt = {key_seq_get, NULL, NULL};
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_custom(&vt, k, NULL);
    assert_non_null(p);
    return p;
}

/* ---- what each attempt sent, through the client's test hooks ---- */

struct attempt_log {
    int attempts;
    char amz_date[4][32];
    char content_sha[4][80];
    char authorization[4][512];
    char token[4][128];
    char content_length[4][16];
    char content_type[4][64];
    const int64_t *times; /* signing clock: one value per call */
    size_t ntimes, now_calls;
    int stop; /* non-zero: stop every attempt before it is sent */
    long slept_ms;
};

static int64_t hook_now(void *ud)
{
    struct attempt_log *l = ud;
    size_t i = l->now_calls < l->ntimes ? l->now_calls : l->ntimes - 1;
    l->now_calls++;
    return l->times[i];
}

static void hook_sleep(void *ud, long ms)
{
    struct attempt_log *l = ud;
    l->slept_ms += ms;
}

static void copy_header(char *dst, size_t cap, const struct mantle_header *h, size_t n,
                        const char *name)
{
    dst[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0) snprintf(dst, cap, "%s", h[i].value);
}

static int hook_attempt(void *ud, int attempt, const char *url, const struct mantle_header *h,
                        size_t n)
{
    (void)url;
    struct attempt_log *l = ud;
    int i = attempt - 1;
    assert_true(i >= 0 && i < 4);
    l->attempts = attempt;
    copy_header(l->amz_date[i], sizeof l->amz_date[i], h, n, "x-amz-date");
    copy_header(l->content_sha[i], sizeof l->content_sha[i], h, n, "x-amz-content-sha256");
    copy_header(l->authorization[i], sizeof l->authorization[i], h, n, "authorization");
    copy_header(l->token[i], sizeof l->token[i], h, n, "x-amz-security-token");
    copy_header(l->content_length[i], sizeof l->content_length[i], h, n, "content-length");
    copy_header(l->content_type[i], sizeof l->content_type[i], h, n, "content-type");
    return l->stop;
}

static void install_hooks(struct mantle_client *c, struct attempt_log *l)
{
    struct client_test_hooks hk = {0};
    if (l->times) hk.now = hook_now;
    hk.sleep_ms = hook_sleep;
    hk.on_attempt = hook_attempt;
    hk.ud = l;
    client_set_test_hooks(c, &hk);
}

/* ---- the kinds ---- */

static void run_auth_selection(const char *id, json_t *given, json_t *expected)
{
    struct fake_env fe = {json_object_get(given, "environment")};
    struct mantle_credentials_options copts = MANTLE_CREDENTIALS_OPTIONS_INIT;
    copts.getenv_fn = fake_getenv;
    copts.getenv_ud = &fe;
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.credentials_options = &copts;
    o.region = "us-east-1"; /* the cases are about auth; SigV4 needs some region */
    json_t *ex = json_object_get(given, "explicit");
    o.api_key = str_at(ex, "bearer", NULL);
    o.aws_access_key_id = str_at(ex, "aws", "access_key_id");
    o.aws_secret_access_key = str_at(ex, "aws", "secret_access_key");
    o.aws_session_token = str_at(ex, "aws", "session_token");
    o.profile = str_at(ex, "profile", NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(&o, &err);
    const char *want_error = str_at(expected, "error", NULL);
    if (want_error) {
        assert_null(c);
        assert_int_equal(err.code, MANTLE_E_CONFIG);
        assert_non_null(strstr(err.message, want_error));
    } else {
        assert_non_null(c);
        const char *mode = mantle_client_auth_mode(c) == MANTLE_AUTH_BEARER ? "bearer" : "sigv4";
        static const char *const sources[] = {"explicit", "static",      "profile",
                                              "provider", "environment", "default"};
        assert_string_equal(mode, str_at(expected, "auth_mode", NULL));
        assert_string_equal(sources[mantle_client_auth_source(c)],
                            str_at(expected, "auth_source", NULL));
        mantle_client_free(c);
    }
    report(id, NULL);
}

static void run_sigv4(const char *id, json_t *given, json_t *expected)
{
    json_t *cr = json_object_get(given, "credentials"), *sg = json_object_get(given, "signing"),
           *rq = json_object_get(given, "request");
    const char *url = str_at(rq, "url", NULL);
    const char *prefix = "https://bedrock-mantle.us-east-1.api.aws/openai/v1";
    if (strcmp(str_at(sg, "service", NULL), "bedrock-mantle") != 0 ||
        strncmp(url, prefix, strlen(prefix)) != 0 || strcmp(str_at(rq, "method", NULL), "POST")) {
        report(id, "not a POST to the default Mantle API root");
        return;
    }
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    struct mantle_credentials_options copts = MANTLE_CREDENTIALS_OPTIONS_INIT;
    struct fake_env fe = {NULL};
    copts.getenv_fn = fake_getenv;
    copts.getenv_ud = &fe;
    o.credentials_options = &copts;
    o.region = str_at(sg, "region", NULL);
    o.aws_access_key_id = str_at(cr, "access_key_id", NULL);
    o.aws_secret_access_key = str_at(cr, "secret_access_key", NULL);
    o.aws_session_token = str_at(cr, "session_token", NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(&o, &err);
    assert_non_null(c);
    int64_t t = iso_time(str_at(sg, "timestamp", NULL));
    struct attempt_log log = {0};
    log.times = &t;
    log.ntimes = 1;
    log.stop = 1; /* sign, look, never send */
    install_hooks(c, &log);
    size_t body_len;
    unsigned char *body = test_b64_decode(str_at(rq, "body_base64", NULL), &body_len);
    struct mantle_request r = {0};
    r.method = "POST";
    r.path = url + strlen(prefix);
    r.body = body;
    r.body_len = body_len;
    struct mantle_response *resp = NULL;
    assert_int_equal(mantle_client_request(c, &r, &resp, &err), MANTLE_E_CANCELLED);
    assert_int_equal(err.attempts, 0);
    assert_int_equal(log.attempts, 1);
    /* what the client sends is the case's request */
    json_t *hdrs = json_object_get(rq, "headers");
    assert_string_equal(log.content_length[0], str_at(hdrs, "content-length", NULL));
    assert_string_equal(log.content_type[0], str_at(hdrs, "content-type", NULL));
    /* and its signature is the case's, byte for byte */
    json_t *eh = json_object_get(expected, "headers");
    assert_string_equal(log.content_sha[0], str_at(expected, "payload_sha256", NULL));
    assert_string_equal(log.content_sha[0], str_at(eh, "x-amz-content-sha256", NULL));
    assert_string_equal(log.amz_date[0], str_at(eh, "x-amz-date", NULL));
    assert_string_equal(log.authorization[0], str_at(eh, "authorization", NULL));
    const char *tok = str_at(eh, "x-amz-security-token", NULL);
    assert_string_equal(log.token[0], tok ? tok : "");
    free(body);
    mantle_client_free(c);
    report(id, NULL);
}

/* The request log's entries from index `from` on. */
static json_t *log_since(size_t from)
{
    json_t *all = emu_call(&emu, "GET", "requests");
    json_t *out = json_array();
    for (size_t i = from; i < json_array_size(all); i++)
        json_array_append(out, json_array_get(all, i));
    json_decref(all);
    return out;
}

static size_t log_size(void)
{
    json_t *all = emu_call(&emu, "GET", "requests");
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static struct mantle_client *emulator_client(struct mantle_credentials_provider *p, int retries)
{
    char base[200];
    snprintf(base, sizeof base, "%s/openai/v1", emu.root);
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    struct mantle_credentials_options copts = MANTLE_CREDENTIALS_OPTIONS_INIT;
    static struct fake_env fe = {NULL};
    copts.getenv_fn = fake_getenv;
    copts.getenv_ud = &fe;
    o.credentials_options = &copts;
    o.region = "us-east-1";
    o.base_url = base;
    o.credentials_provider = p;
    o.max_retries = retries;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(&o, &err);
    assert_non_null(c);
    return c;
}

/* "fail-status=500:1" for statuses [500, 200]: fail the first len-1 with the first status. */
static void fault_for_statuses(json_t *statuses, const char *id, const char *extra, char *out,
                               size_t cap)
{
    size_t n = json_array_size(statuses);
    assert_true(n >= 1);
    assert_int_equal(json_integer_value(json_array_get(statuses, n - 1)), 200);
    for (size_t i = 0; i + 1 < n; i++)
        assert_int_equal(json_integer_value(json_array_get(statuses, i)),
                         json_integer_value(json_array_get(statuses, 0)));
    snprintf(out, cap, "fail-status=%lld:%zu, id=%s%s%s",
             (long long)json_integer_value(json_array_get(statuses, 0)), n - 1, id,
             extra ? ", " : "", extra ? extra : "");
}

static void run_retry_signing(const char *id, json_t *given, json_t *expected)
{
    json_t *ts = json_object_get(given, "timestamps");
    size_t nts = json_array_size(ts);
    int64_t times[8];
    assert_true(nts >= 1 && nts <= 8);
    for (size_t i = 0; i < nts; i++) times[i] = iso_time(json_string_value(json_array_get(ts, i)));
    struct key_seq ks = {json_object_get(given, "access_key_ids"), 0, NULL};
    struct mantle_credentials_provider *p = key_seq_provider(&ks);
    struct mantle_client *c = emulator_client(p, 0);
    struct attempt_log log = {0};
    log.times = times;
    log.ntimes = nts;
    install_hooks(c, &log);

    /* The emulator checks the 5-minute window against its clock: skew it to the case's time. */
    char skew[64], fault[256];
    snprintf(skew, sizeof skew, "clock-skew=%lld", (long long)(times[0] - (int64_t)time(NULL)));
    fault_for_statuses(json_object_get(given, "response_statuses"), id, skew, fault, sizeof fault);
    struct mantle_header h[] = {{"x-mantle-emulator-fault", fault}};
    size_t body_len;
    unsigned char *body = test_b64_decode(str_at(given, "body_base64", NULL), &body_len);
    struct mantle_request r = {0};
    r.method = "POST";
    r.path = "/responses";
    r.headers = h;
    r.header_count = 1;
    r.body = body;
    r.body_len = body_len;
    size_t before = log_size();
    struct mantle_response *resp = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code rc = mantle_client_request(c, &r, &resp, &err);
    if (rc != MANTLE_OK) fprintf(stderr, "%s: %s\n", id, err.message);
    assert_int_equal(rc, MANTLE_OK);
    int attempts = (int)json_integer_value(json_object_get(expected, "attempts"));
    assert_int_equal(mantle_response_attempts(resp), attempts);
    assert_int_equal(log.attempts, attempts);
    assert_int_equal((int)ks.calls, (int)json_integer_value(
                                        json_object_get(expected, "credential_provider_calls")));
    json_t *dates = json_object_get(expected, "x_amz_dates");
    json_t *shas = json_object_get(expected, "body_sha256");
    for (int i = 0; i < attempts; i++) {
        assert_string_equal(log.amz_date[i], json_string_value(json_array_get(dates, (size_t)i)));
        assert_string_equal(log.content_sha[i], json_string_value(json_array_get(shas, (size_t)i)));
        const char *key = json_string_value(json_array_get(ks.keys, (size_t)i));
        char want[128];
        snprintf(want, sizeof want, "Credential=%s/", key);
        assert_non_null(strstr(log.authorization[i], want));
    }
    /* The server saw both attempts, each verified with its own key. */
    json_t *seen = log_since(before);
    assert_int_equal(json_array_size(seen), (size_t)attempts);
    for (int i = 0; i < attempts; i++) {
        json_t *e = json_array_get(seen, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(e, "access_key_id")),
                            json_string_value(json_array_get(ks.keys, (size_t)i)));
        int want = (int)json_integer_value(
            json_array_get(json_object_get(given, "response_statuses"), (size_t)i));
        assert_int_equal(json_integer_value(json_object_get(e, "status")), want);
    }
    json_decref(seen);
    mantle_response_free(resp);
    free(body);
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
    report(id, NULL);
}

static size_t one_shot(void *ud, char *buf, size_t cap)
{
    json_t *chunks = ud;
    (void)buf;
    (void)cap;
    fail_msg("the one-shot body was read (%zu chunks given)", json_array_size(chunks));
    return 0;
}

static void run_body_replay(const char *id, json_t *given, json_t *expected)
{
    const char *kind = str_at(given, "body_kind", NULL);
    const char *result = str_at(expected, "result", NULL);
    json_t *mr = json_object_get(given, "max_retries");
    int retries =
        mr ? (json_integer_value(mr) == 0 ? MANTLE_RETRIES_NONE : (int)json_integer_value(mr)) : 0;
    struct key_seq ks = {json_pack("[s]", "FIRSTACCESSKEY"), 0, NULL};
    struct mantle_credentials_provider *p = key_seq_provider(&ks);
    struct mantle_client *c = emulator_client(p, retries);
    struct attempt_log log = {0};
    install_hooks(c, &log);
    size_t before = log_size();
    struct mantle_request r = {0};
    r.method = "POST";
    r.path = "/responses";
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_response *resp = NULL;
    if (strcmp(kind, "bytes") == 0) {
        char fault[128];
        fault_for_statuses(json_object_get(given, "response_statuses"), id, NULL, fault,
                           sizeof fault);
        struct mantle_header h[] = {{"x-mantle-emulator-fault", fault}};
        size_t body_len;
        unsigned char *body = test_b64_decode(str_at(given, "body_base64", NULL), &body_len);
        r.body = body;
        r.body_len = body_len;
        r.headers = h;
        r.header_count = 1;
        assert_int_equal(mantle_client_request(c, &r, &resp, &err), MANTLE_OK);
        assert_string_equal(result, "replayed");
        int attempts = (int)json_integer_value(json_object_get(expected, "attempts"));
        assert_int_equal(mantle_response_attempts(resp), attempts);
        assert_int_equal(log_size() - before, (size_t)attempts);
        /* the same bytes each time */
        for (int i = 1; i < attempts; i++)
            assert_string_equal(log.content_sha[i], log.content_sha[0]);
        mantle_response_free(resp);
        free(body);
    } else {
        assert_string_equal(kind, "one_shot_stream");
        r.body_reader = one_shot;
        r.body_reader_user_data = json_object_get(given, "chunks_base64");
        assert_int_equal(mantle_client_request(c, &r, &resp, &err), MANTLE_E_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, result));
        int net = (int)json_integer_value(json_object_get(expected, "network_attempts"));
        assert_int_equal(err.attempts, net);
        assert_int_equal(log.attempts, net);
        assert_int_equal(log_size() - before, (size_t)net);
        assert_int_equal(ks.calls, 0);
    }
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
    json_decref(ks.keys);
    report(id, NULL);
}

struct captured {
    struct buf text;
    int lines;
};

static void capture_log(void *ud, enum mantle_log_level level, const char *line)
{
    struct captured *c = ud;
    (void)level;
    buf_append_str(&c->text, line);
    buf_append_char(&c->text, '\n');
    c->lines++;
}

static void run_redaction(const char *id, json_t *given, json_t *expected)
{
    json_t *in = json_object_get(given, "headers"), *want = json_object_get(expected, "headers");
    json_t *forbidden = json_object_get(expected, "forbidden_substrings");
    const char *k;
    json_t *v;
    struct buf shown = BUF_INIT;
    json_object_foreach(in, k, v)
    {
        const char *out = redact_header_value(k, json_string_value(v));
        assert_string_equal(out, str_at(want, k, NULL));
        buf_printf(&shown, "%s: %s\n", k, out);
    }
    size_t i;
    json_array_foreach(forbidden, i, v) assert_null(strstr(shown.data, json_string_value(v)));
    buf_free(&shown);

    /* The same through the client's debug log of a real signed request with a session token. */
    const char *token = str_at(in, "x-amz-security-token", NULL);
    struct key_seq ks = {json_pack("[s]", "ASIACONFORMANCE"), 0, token};
    struct mantle_credentials_provider *p = key_seq_provider(&ks);
    char base[200];
    snprintf(base, sizeof base, "%s/openai/v1", emu.root);
    struct captured cap = {BUF_INIT, 0};
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.base_url = base;
    o.credentials_provider = p;
    o.log_fn = capture_log;
    o.log_user_data = &cap;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(&o, &err);
    assert_non_null(c);
    struct mantle_header h[] = {{"x-request-id", str_at(in, "x-request-id", NULL)}};
    struct mantle_request r = {0};
    r.method = "GET";
    r.path = "/models";
    r.headers = h;
    r.header_count = 1;
    struct mantle_response *resp = NULL;
    assert_int_equal(mantle_client_request(c, &r, &resp, &err), MANTLE_OK);
    mantle_response_free(resp);
    assert_true(cap.lines > 5);
    assert_non_null(strstr(cap.text.data, "> Authorization: <redacted>"));
    assert_non_null(strstr(cap.text.data, "> X-Amz-Security-Token: <redacted>"));
    char line[128];
    snprintf(line, sizeof line, "> x-request-id: %s", str_at(want, "x-request-id", NULL));
    assert_non_null(strstr(cap.text.data, line));
    assert_null(strstr(cap.text.data, "AWS4-HMAC-SHA256"));
    json_array_foreach(forbidden, i, v) assert_null(strstr(cap.text.data, json_string_value(v)));
    buf_free(&cap.text);
    mantle_client_free(c);
    mantle_credentials_provider_unref(p);
    json_decref(ks.keys);
    report(id, NULL);
}

/* ---- the driver ---- */

static int setup(void **state)
{
    (void)state;
    json_error_t jerr;
    cases = json_load_file(test_shared_path("testdata/openai-bedrock-conformance/cases.json"), 0,
                           &jerr);
    if (!cases) {
        fprintf(stderr, "cases.json: %s\n", jerr.text);
        return -1;
    }
    fakeserver_start_emulator(&emu,
                              "FIRSTACCESSKEY conformance-secret\n"
                              "SECONDACCESSKEY conformance-secret\n"
                              "ASIACONFORMANCE conformance-secret fixture-session-token\n",
                              NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fakeserver_stop(&emu);
    json_decref(cases);
    return 0;
}

static void test_all_cases(void **state)
{
    (void)state;
    assert_int_equal(json_integer_value(json_object_get(cases, "schema_version")), 1);
    assert_string_equal(str_at(cases, "suite", NULL), "aws-bedrock-auth");
    json_t *list = json_object_get(cases, "cases");
    size_t i;
    json_t *cs;
    json_array_foreach(list, i, cs)
    {
        const char *id = str_at(cs, "id", NULL), *kind = str_at(cs, "kind", NULL);
        json_t *given = json_object_get(cs, "given"), *expected = json_object_get(cs, "expected");
        if (strcmp(kind, "auth_selection") == 0)
            run_auth_selection(id, given, expected);
        else if (strcmp(kind, "sigv4") == 0)
            run_sigv4(id, given, expected);
        else if (strcmp(kind, "retry_signing") == 0)
            run_retry_signing(id, given, expected);
        else if (strcmp(kind, "body_replay") == 0)
            run_body_replay(id, given, expected);
        else if (strcmp(kind, "redaction") == 0)
            run_redaction(id, given, expected);
        else
            report(id, "unknown kind");
    }
    printf("%d run, %d skipped\n", ran, skipped);
    assert_int_equal(ran, EXPECTED_CASES);
    assert_int_equal(skipped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_all_cases)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
