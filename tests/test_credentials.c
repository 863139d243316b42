/* Credentials, the static/environment/custom providers, the chain, the public error form,
 * timeutil and region resolution. The cache has its own file (test_credentials_cache.c). */
#include "testutil.h"

#include <mantle/credentials.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "core/timeutil.h"
#include "credentials/credentials_internal.h"
#include "credentials/region.h"

/* ---- helpers ---- */

static struct mantle_credentials_options env_opts(struct test_env *e)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = test_env_getenv;
    o.getenv_ud = e;
    return o;
}

/* The shared collector, plus the check that every callback gets exactly one of credentials and
 * error. */
static void result_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    assert_true((creds == NULL) != (err == NULL)); /* exactly one of them */
    test_result_done(ud, creds, err);
}

static void result_free(struct test_result *r)
{
    creds_worker_quiesce(); /* a worker may still be unwinding after calling us */
    test_result_free(r);
}

/* A public get that must fail; returns the error for inspection. */
static struct mantle_error get_error(struct mantle_credentials_provider *p)
{
    struct mantle_credentials *c = (struct mantle_credentials *)1;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_not_equal(mantle_credentials_provider_get(p, &c, &err), MANTLE_OK);
    assert_null(c);
    return err;
}

static struct mantle_credentials *get_ok(struct mantle_credentials_provider *p)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code code = mantle_credentials_provider_get(p, &c, &err);
    if (code != MANTLE_OK) fail_msg("get failed: %s", err.message);
    assert_non_null(c);
    return c;
}

/* ---- credentials ---- */

static void test_credentials_copies(void **state)
{
    (void)state;
    char akid[] = "AKIDEXAMPLE", secret[] = "wJalrXUtnFEMI/K7MDENG", token[] = "tok";
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials *c = mantle_credentials_new(akid, secret, token, 1700000000, &err);
    assert_non_null(c);
    memset(akid, 'x', sizeof akid - 1);
    memset(secret, 'x', sizeof secret - 1);
    memset(token, 'x', sizeof token - 1);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDEXAMPLE");
    assert_string_equal(mantle_credentials_secret_access_key(c), "wJalrXUtnFEMI/K7MDENG");
    assert_string_equal(mantle_credentials_session_token(c), "tok");
    assert_int_equal(mantle_credentials_expiration(c), 1700000000);
    assert_null(mantle_credentials_account_id(c));
    assert_string_equal(mantle_credentials_source(c), "explicit");
    mantle_credentials_unref(c);

    /* NULL and "" both mean "no session token"; 0 means "never expires" */
    c = mantle_credentials_new("AKID", "SECRET", NULL, 0, NULL);
    assert_null(mantle_credentials_session_token(c));
    assert_int_equal(mantle_credentials_expiration(c), 0);
    assert_false(creds_expired(c, INT64_MAX));
    mantle_credentials_unref(c);
    c = mantle_credentials_new("AKID", "SECRET", "", 0, NULL);
    assert_null(mantle_credentials_session_token(c));
    mantle_credentials_unref(c);
}

static void test_credentials_refcount(void **state)
{
    (void)state;
    struct mantle_credentials *c = mantle_credentials_new("AKID", "SECRET", "T", 0, NULL);
    assert_ptr_equal(mantle_credentials_ref(c), c);
    assert_ptr_equal(mantle_credentials_ref(c), c);
    mantle_credentials_unref(c);
    mantle_credentials_unref(c);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKID"); /* one reference left */
    mantle_credentials_unref(c); /* freed: ASan would flag any later use or a leak */
    assert_null(mantle_credentials_ref(NULL));
    mantle_credentials_unref(NULL);
}

static void test_credentials_rejects_bad_input(void **state)
{
    (void)state;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_null(mantle_credentials_new("", "SECRET", NULL, 0, &err));
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
    assert_string_equal(err.message, "access key id is empty");
    assert_null(mantle_credentials_new(NULL, "SECRET", NULL, 0, &err));
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
    assert_null(mantle_credentials_new("AKID", "", NULL, 0, &err));
    assert_string_equal(err.message, "secret access key is empty");
    assert_null(mantle_credentials_new("AKID", NULL, NULL, 0, &err));
    assert_null(mantle_credentials_new("AKID", "SECRET", NULL, -5, &err));
    assert_string_equal(err.message, "expiration is negative");
    assert_null(mantle_credentials_new("", "", NULL, 0, NULL)); /* err may be NULL */
}

static void test_credentials_source_and_account(void **state)
{
    (void)state;
    const struct creds_fields f = {
        "AKID", "SECRET",       NULL,
        100,    "123456789012", "shared-credentials-file (~/.aws/credentials, profile dev)"};
    struct mantle_credentials *c = creds_new(&f, NULL);
    assert_non_null(c);
    assert_string_equal(mantle_credentials_account_id(c), "123456789012");
    assert_string_equal(mantle_credentials_source(c),
                        "shared-credentials-file (~/.aws/credentials, profile dev)");
    /* botocore's _is_expired: expired only once the expiry is in the past */
    assert_false(creds_expired(c, 99));
    assert_false(creds_expired(c, 100));
    assert_true(creds_expired(c, 101));
    mantle_credentials_unref(c);

    const struct creds_fields g = {"AKID", "SECRET", "", 0, "", NULL};
    c = creds_new(&g, NULL);
    assert_null(mantle_credentials_account_id(c));
    assert_string_equal(mantle_credentials_source(c), "explicit");
    mantle_credentials_unref(c);
}

/* ---- static provider ---- */

static void test_static_provider(void **state)
{
    (void)state;
    struct mantle_credentials *c = mantle_credentials_new("AKID", "SECRET", NULL, 0, NULL);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_static(c, NULL);
    mantle_credentials_unref(c); /* the provider holds its own reference */
    struct mantle_credentials *got = get_ok(p);
    assert_ptr_equal(got, c);
    mantle_credentials_unref(got);

    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_int_equal(r.calls, 1);
    assert_ptr_equal(r.creds, c);
    result_free(&r);
    mantle_credentials_provider_unref(p);

    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_null(mantle_credentials_provider_new_static(NULL, &err));
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
}

/* ---- environment provider ---- */

static void test_env_basic(void **state)
{
    (void)state;
    struct test_env e = {0};
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRETENV");
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_environment(&o, NULL);
    assert_int_equal(atomic_load(&e.calls), 0); /* nothing is read at creation */
    struct mantle_credentials *c = get_ok(p);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDENV");
    assert_string_equal(mantle_credentials_secret_access_key(c), "SECRETENV");
    assert_null(mantle_credentials_session_token(c));
    assert_int_equal(mantle_credentials_expiration(c), 0);
    assert_null(mantle_credentials_account_id(c));
    assert_string_equal(mantle_credentials_source(c), "env");
    mantle_credentials_unref(c);

    /* Read at every get: a changed environment is seen */
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV2");
    test_env_set(&e, "AWS_ACCOUNT_ID", "123456789012");
    c = get_ok(p);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDENV2");
    assert_string_equal(mantle_credentials_account_id(c), "123456789012");
    mantle_credentials_unref(c);

    /* get_async answers inline: reading the environment never blocks */
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    assert_int_equal(r.calls, 1);
    assert_string_equal(mantle_credentials_access_key_id(r.creds), "AKIDENV2");
    result_free(&r);
    mantle_credentials_provider_unref(p);
}

static void test_env_session_token_order(void **state)
{
    (void)state;
    struct test_env e = {0};
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKID");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRET");
    test_env_set(&e, "AWS_SESSION_TOKEN", "session");
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_environment(&o, NULL);
    struct mantle_credentials *c = get_ok(p);
    assert_string_equal(mantle_credentials_session_token(c), "session");
    mantle_credentials_unref(c);
    /* botocore's TOKENS = ['AWS_SECURITY_TOKEN', 'AWS_SESSION_TOKEN']: the legacy name first */
    test_env_set(&e, "AWS_SECURITY_TOKEN", "security");
    c = get_ok(p);
    assert_string_equal(mantle_credentials_session_token(c), "security");
    mantle_credentials_unref(c);
    /* ... unless it is empty */
    test_env_set(&e, "AWS_SECURITY_TOKEN", "");
    c = get_ok(p);
    assert_string_equal(mantle_credentials_session_token(c), "session");
    mantle_credentials_unref(c);
    test_env_set(&e, "AWS_SESSION_TOKEN", "");
    c = get_ok(p);
    assert_null(mantle_credentials_session_token(c));
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
}

static void test_env_empty_is_absent(void **state)
{
    (void)state;
    struct test_env e = {0};
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_environment(&o, NULL);
    struct mantle_error err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(err.message,
                        "Unable to locate credentials; tried: env (AWS_ACCESS_KEY_ID not set)");

    test_env_set(&e, "AWS_ACCESS_KEY_ID", "");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRET");
    err = get_error(p);
    assert_string_equal(err.message,
                        "Unable to locate credentials; tried: env (AWS_ACCESS_KEY_ID not set)");

    /* The internal result is "not found", which a chain skips */
    struct mantle_credentials *c = NULL;
    struct mantle_error raw = MANTLE_ERROR_INIT;
    assert_int_equal(provider_get(p, &c, &raw), CREDS_NOT_FOUND);
    assert_int_equal(raw.code, CREDS_NOT_FOUND);
    assert_string_equal(raw.message, "env (AWS_ACCESS_KEY_ID not set)");
    mantle_credentials_provider_unref(p);
}

static void test_env_partial(void **state)
{
    (void)state;
    struct test_env e = {0};
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDPARTIAL");
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_environment(&o, NULL);
    struct mantle_error err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: Partial credentials "
                                     "found in env, missing: AWS_SECRET_ACCESS_KEY");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "");
    err = get_error(p);
    assert_non_null(strstr(err.message, "missing: AWS_SECRET_ACCESS_KEY"));
    assert_null(strstr(err.message, "AKIDPARTIAL"));
    /* a real error, not "not found": it would stop a chain */
    struct mantle_credentials *c = NULL;
    struct mantle_error raw = MANTLE_ERROR_INIT;
    assert_int_equal(provider_get(p, &c, &raw), MANTLE_E_CREDENTIALS);
    mantle_credentials_provider_unref(p);
}

static void test_env_expiration(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int64_t want;
    } good[] = {
        {"2026-11-24T18:30:00Z", 1795545000},
        {"2026-11-24T18:30:00.123456Z", 1795545000},
        {"2026-11-24T20:30:00+02:00", 1795545000},
        {"2026-11-24T13:00:00-05:30", 1795545000},
    };
    struct test_env e = {0};
    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKID");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRET");
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_environment(&o, NULL);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        test_env_set(&e, "AWS_CREDENTIAL_EXPIRATION", good[i].value);
        struct mantle_credentials *c = get_ok(p);
        assert_int_equal(mantle_credentials_expiration(c), good[i].want);
        mantle_credentials_unref(c);
    }
    test_env_set(&e, "AWS_CREDENTIAL_EXPIRATION", ""); /* empty: no expiration */
    struct mantle_credentials *c = get_ok(p);
    assert_int_equal(mantle_credentials_expiration(c), 0);
    mantle_credentials_unref(c);

    static const char *const bad[] = {"tomorrow",   "2026-13-01T00:00:00Z", "2026-11-24T18:30:00",
                                      "1795545000", "2026-02-30T00:00:00Z", "1970-01-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_env_set(&e, "AWS_CREDENTIAL_EXPIRATION", bad[i]);
        struct mantle_error err = get_error(p);
        assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
        assert_non_null(strstr(err.message, "Failed to refresh AWS credentials: env: "
                                            "AWS_CREDENTIAL_EXPIRATION"));
        assert_null(strstr(err.message, bad[i])); /* names the variable, never the value */
    }
    mantle_credentials_provider_unref(p);
}

/* ---- custom providers ---- */

struct custom_state {
    atomic_int get_calls, async_calls, destroyed;
    pthread_t get_thread;
    mantle_code fail_code; /* MANTLE_OK: succeed */
    const char *fail_message;
    bool async_inline;        /* complete get_async on the calling thread */
    mantle_code async_return; /* what get_async returns (MANTLE_OK normally) */
};

/* get_thread is written by worker threads, several at once in one test */
static pthread_mutex_t thread_mu = PTHREAD_MUTEX_INITIALIZER;

static bool last_get_on_this_thread(struct custom_state *s)
{
    pthread_mutex_lock(&thread_mu);
    bool same = pthread_equal(s->get_thread, pthread_self());
    pthread_mutex_unlock(&thread_mu);
    return same;
}

static mantle_code custom_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct custom_state *s = impl;
    atomic_fetch_add(&s->get_calls, 1);
    pthread_mutex_lock(&thread_mu);
    s->get_thread = pthread_self();
    pthread_mutex_unlock(&thread_mu);
    if (s->fail_code != MANTLE_OK) {
        if (s->fail_message) mantle_error_set(err, s->fail_code, "%s", s->fail_message);
        return s->fail_code;
    }
    *out = mantle_credentials_new("AKIDCUSTOM", "SECRET", NULL, 0, err);
    return MANTLE_OK;
}

struct async_call {
    struct custom_state *s;
    mantle_credentials_cb *done;
    void *ud;
};

static void complete_call(struct async_call *a)
{
    if (a->s->fail_code != MANTLE_OK) {
        struct mantle_error err = MANTLE_ERROR_INIT;
        mantle_error_set(&err, a->s->fail_code, "%s", a->s->fail_message);
        a->done(a->ud, NULL, &err);
    } else {
        a->done(a->ud, mantle_credentials_new("AKIDASYNC", "SECRET", NULL, 0, NULL), NULL);
    }
    free(a);
}

static void *complete_thread(void *arg)
{
    complete_call(arg);
    return NULL;
}

static mantle_code custom_get_async(void *impl, mantle_credentials_cb *done, void *ud)
{
    struct custom_state *s = impl;
    atomic_fetch_add(&s->async_calls, 1);
    if (s->async_return != MANTLE_OK) return s->async_return;
    struct async_call *a = malloc(sizeof *a);
    *a = (struct async_call){s, done, ud};
    if (s->async_inline) {
        complete_call(a);
        return MANTLE_OK;
    }
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, complete_thread, a), 0);
    pthread_detach(t);
    return MANTLE_OK;
}

static void custom_destroy(void *impl)
{
    struct custom_state *s = impl;
    atomic_fetch_add(&s->destroyed, 1);
}

static const struct mantle_credentials_provider_vtable blocking_only = {custom_get, NULL,
                                                                        custom_destroy};
static const struct mantle_credentials_provider_vtable async_only = {NULL, custom_get_async,
                                                                     custom_destroy};
static const struct mantle_credentials_provider_vtable both = {custom_get, custom_get_async,
                                                               custom_destroy};

static void test_custom_blocking_only(void **state)
{
    (void)state;
    struct custom_state s = {0};
    struct mantle_credentials_provider *p =
        mantle_credentials_provider_new_custom(&blocking_only, &s, NULL);
    assert_int_equal(atomic_load(&s.get_calls), 0); /* lazy */
    struct mantle_credentials *c = get_ok(p);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCUSTOM");
    assert_true(last_get_on_this_thread(&s));
    mantle_credentials_unref(c);

    /* get_async runs the blocking get on a worker thread, never on ours */
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_false(last_get_on_this_thread(&s));
    assert_false(pthread_equal(r.thread, pthread_self()));
    assert_string_equal(mantle_credentials_access_key_id(r.creds), "AKIDCUSTOM");
    assert_int_equal(atomic_load(&s.get_calls), 2);
    result_free(&r);
    assert_int_equal(r.calls, 1); /* exactly once */

    /* many at once: more jobs than workers queue up and all complete */
    struct test_result many;
    test_result_init(&many);
    for (int i = 0; i < 3 * CREDS_WORKER_MAX; i++)
        assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &many), MANTLE_OK);
    test_result_wait(&many, 3 * CREDS_WORKER_MAX);
    result_free(&many);
    assert_int_equal(many.calls, 3 * CREDS_WORKER_MAX);

    mantle_credentials_provider_unref(p);
    assert_int_equal(atomic_load(&s.destroyed), 1);
}

static void test_custom_async_only(void **state)
{
    (void)state;
    for (int inl = 0; inl < 2; inl++) {
        struct custom_state s = {0};
        s.async_inline = inl;
        struct mantle_credentials_provider *p =
            mantle_credentials_provider_new_custom(&async_only, &s, NULL);
        /* the blocking get waits for the callback */
        struct mantle_credentials *c = get_ok(p);
        assert_string_equal(mantle_credentials_access_key_id(c), "AKIDASYNC");
        mantle_credentials_unref(c);
        struct test_result r;
        test_result_init(&r);
        assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
        test_result_wait(&r, 1);
        assert_string_equal(mantle_credentials_access_key_id(r.creds), "AKIDASYNC");
        assert_int_equal(atomic_load(&s.async_calls), 2);
        result_free(&r);

        s.fail_code = MANTLE_E_TIMEOUT;
        s.fail_message = "async refresh failed";
        struct mantle_error err = get_error(p);
        assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
        assert_string_equal(err.message, "Failed to refresh AWS credentials: async refresh failed");
        mantle_credentials_provider_unref(p);
        assert_int_equal(atomic_load(&s.destroyed), 1);
    }
}

static void test_custom_both(void **state)
{
    (void)state;
    struct custom_state s = {0};
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_custom(&both, &s, NULL);
    struct mantle_credentials *c = get_ok(p);
    mantle_credentials_unref(c);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    result_free(&r);
    assert_int_equal(atomic_load(&s.get_calls), 1);   /* blocking get for the blocking caller */
    assert_int_equal(atomic_load(&s.async_calls), 1); /* and the provider's own async path */
    mantle_credentials_provider_unref(p);
}

static void test_custom_error_wrapping(void **state)
{
    (void)state;
    struct custom_state s = {0};
    s.fail_code = MANTLE_E_IO;
    s.fail_message = "token expired";
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_custom(&both, &s, NULL);
    struct mantle_error err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: token expired");

    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_int_equal(r.err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(r.err.message, "Failed to refresh AWS credentials: token expired");
    result_free(&r);
    assert_int_equal(r.calls, 1);

    /* not wrapped twice */
    s.fail_message = "Failed to refresh AWS credentials: token expired";
    err = get_error(p);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: token expired");

    /* an error without a message gets the code's description */
    s.fail_message = NULL;
    err = get_error(p);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: local I/O error");
    mantle_credentials_provider_unref(p);
}

/* A custom provider that passes on what another provider's public get said. */
static mantle_code delegating_get(void *impl, struct mantle_credentials **out,
                                  struct mantle_error *err)
{
    return mantle_credentials_provider_get(impl, out, err);
}

static void test_custom_delegating_not_double_wrapped(void **state)
{
    (void)state;
    struct custom_state s = {0};
    s.fail_code = MANTLE_E_IO;
    s.fail_message = "token expired";
    struct mantle_credentials_provider *inner =
        mantle_credentials_provider_new_custom(&blocking_only, &s, NULL);
    const struct mantle_credentials_provider_vtable vt = {delegating_get, NULL, NULL};
    struct mantle_credentials_provider *outer =
        mantle_credentials_provider_new_custom(&vt, inner, NULL);
    struct mantle_error err = get_error(outer);
    assert_string_equal(err.message, "Failed to refresh AWS credentials: token expired");

    struct test_env e = {0};
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *env = mantle_credentials_provider_new_environment(&o, NULL);
    struct mantle_credentials_provider *outer2 =
        mantle_credentials_provider_new_custom(&vt, env, NULL);
    err = get_error(outer2);
    assert_string_equal(err.message,
                        "Unable to locate credentials; tried: env (AWS_ACCESS_KEY_ID not set)");
    mantle_credentials_provider_unref(outer2);
    mantle_credentials_provider_unref(env);
    mantle_credentials_provider_unref(outer);
    mantle_credentials_provider_unref(inner);
}

static mantle_code null_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    (void)impl, (void)out, (void)err;
    return MANTLE_OK; /* a bug: success without credentials */
}

static void test_custom_misuse(void **state)
{
    (void)state;
    struct mantle_error err = MANTLE_ERROR_INIT;
    const struct mantle_credentials_provider_vtable none = {NULL, NULL, custom_destroy};
    struct custom_state s = {0};
    assert_null(mantle_credentials_provider_new_custom(&none, &s, &err));
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(atomic_load(&s.destroyed), 0); /* impl stays the caller's on failure */
    assert_null(mantle_credentials_provider_new_custom(NULL, &s, &err));

    const struct mantle_credentials_provider_vtable nul = {null_get, NULL, NULL};
    struct mantle_credentials_provider *p =
        mantle_credentials_provider_new_custom(&nul, NULL, NULL);
    err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(err.message,
                        "Failed to refresh AWS credentials: the provider returned no credentials");
    mantle_credentials_provider_unref(p);

    /* a get_async that fails to start: its code comes back and the callback never runs */
    s.async_return = MANTLE_E_NOMEM;
    p = mantle_credentials_provider_new_custom(&async_only, &s, NULL);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_E_NOMEM);
    err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "out of memory"));
    result_free(&r);
    assert_int_equal(r.calls, 0);
    mantle_credentials_provider_unref(p);

    struct mantle_credentials *c = NULL;
    assert_int_equal(mantle_credentials_provider_get(NULL, &c, &err), MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(mantle_credentials_provider_get_async(NULL, result_done, NULL),
                     MANTLE_E_INVALID_ARGUMENT);
    assert_null(mantle_credentials_provider_ref(NULL));
    mantle_credentials_provider_unref(NULL);
}

/* ---- laziness ---- */

static int64_t counting_clock(void *ud)
{
    atomic_fetch_add((atomic_int *)ud, 1);
    return 1700000000;
}

static void test_creation_is_lazy(void **state)
{
    (void)state;
    struct test_env e = {0};
    atomic_int clock_calls = 0;
    struct mantle_credentials_options o = env_opts(&e);
    o.now_fn = counting_clock;
    o.now_ud = &clock_calls;
    struct custom_state s = {0};
    struct mantle_credentials_provider *custom =
        mantle_credentials_provider_new_custom(&both, &s, NULL);
    struct mantle_credentials_provider *cached =
        mantle_credentials_provider_new_cached(custom, NULL);
    struct mantle_credentials_provider *env = mantle_credentials_provider_new_environment(&o, NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, NULL);
    assert_int_equal(atomic_load(&e.calls), 0);
    assert_int_equal(atomic_load(&clock_calls), 0);
    assert_int_equal(atomic_load(&s.get_calls) + atomic_load(&s.async_calls), 0);

    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKID");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRET");
    struct mantle_credentials *c = get_ok(chain);
    assert_true(atomic_load(&e.calls) > 0);
    assert_true(atomic_load(&clock_calls) > 0);
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
    mantle_credentials_provider_unref(env);
    mantle_credentials_provider_unref(cached);
    mantle_credentials_provider_unref(custom);
}

/* ---- chain ---- */

enum fake_mode { FAKE_FOUND, FAKE_NOT_FOUND, FAKE_ERROR };

struct fake_provider {
    enum fake_mode mode;
    const char *name;
    atomic_int calls;
};

static mantle_code fake_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct fake_provider *f = impl;
    atomic_fetch_add(&f->calls, 1);
    switch (f->mode) {
    case FAKE_NOT_FOUND:
        return creds_not_found(err, "%s (nothing here)", f->name);
    case FAKE_ERROR:
        return mantle_error_set(err, MANTLE_E_CONFIG, "%s: broken", f->name);
    default: {
        const struct creds_fields fl = {"AKID", "SECRET", NULL, 0, NULL, f->name};
        *out = creds_new(&fl, err);
        return MANTLE_OK;
    }
    }
}

/* The same provider through an internal async path that answers inline. */
static mantle_code fake_get_async(void *impl, mantle_credentials_cb *done, void *ud)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = fake_get(impl, &c, &e);
    e.code = code;
    done(ud, c, code == MANTLE_OK ? NULL : &e);
    return MANTLE_OK;
}

static const struct mantle_credentials_provider_vtable fake_blocking_vt = {fake_get, NULL, NULL};
static const struct mantle_credentials_provider_vtable fake_both_vt = {fake_get, fake_get_async,
                                                                       NULL};

static struct mantle_credentials_provider *chain_of(struct fake_provider *f, size_t n, bool async)
{
    struct mantle_credentials_provider *items[8];
    for (size_t i = 0; i < n; i++) {
        /* mix both kinds: odd ones only block (run on workers when called async) */
        const struct mantle_credentials_provider_vtable *vt =
            async && i % 2 == 0 ? &fake_both_vt : &fake_blocking_vt;
        items[i] = provider_new(vt, &f[i], NULL);
    }
    struct mantle_credentials_provider *ch = creds_chain_new(items, n, NULL);
    for (size_t i = 0; i < n; i++) mantle_credentials_provider_unref(items[i]);
    return ch;
}

/* Runs one public get, blocking or async, and returns the code; *c or *err filled. */
static mantle_code chain_get(struct mantle_credentials_provider *p, bool async,
                             struct mantle_credentials **c, struct mantle_error *err)
{
    if (!async) return mantle_credentials_provider_get(p, c, err);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    *c = mantle_credentials_ref(r.creds);
    *err = r.err;
    result_free(&r);
    return *c ? MANTLE_OK : err->code;
}

static void test_chain_semantics(void **state)
{
    (void)state;
    for (int async = 0; async < 2; async++) {
        struct mantle_credentials *c = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;

        /* not found goes on; the first that finds wins; later ones are never asked */
        struct fake_provider f1[3] = {
            {FAKE_NOT_FOUND, "a", 0}, {FAKE_FOUND, "b", 0}, {FAKE_FOUND, "c", 0}};
        struct mantle_credentials_provider *ch = chain_of(f1, 3, async);
        assert_int_equal(chain_get(ch, async, &c, &err), MANTLE_OK);
        assert_string_equal(mantle_credentials_source(c), "b");
        assert_int_equal(atomic_load(&f1[0].calls), 1);
        assert_int_equal(atomic_load(&f1[1].calls), 1);
        assert_int_equal(atomic_load(&f1[2].calls), 0);
        mantle_credentials_unref(c);
        mantle_credentials_provider_unref(ch);

        /* a real error stops the chain */
        struct fake_provider f2[3] = {
            {FAKE_NOT_FOUND, "a", 0}, {FAKE_ERROR, "b", 0}, {FAKE_FOUND, "c", 0}};
        ch = chain_of(f2, 3, async);
        assert_int_equal(chain_get(ch, async, &c, &err), MANTLE_E_CREDENTIALS);
        assert_string_equal(err.message, "Failed to refresh AWS credentials: b: broken");
        assert_int_equal(atomic_load(&f2[2].calls), 0);
        mantle_credentials_provider_unref(ch);

        /* nothing anywhere: every source is listed */
        struct fake_provider f3[3] = {
            {FAKE_NOT_FOUND, "a", 0}, {FAKE_NOT_FOUND, "b", 0}, {FAKE_NOT_FOUND, "c", 0}};
        ch = chain_of(f3, 3, async);
        assert_int_equal(chain_get(ch, async, &c, &err), MANTLE_E_CREDENTIALS);
        assert_string_equal(err.message, "Unable to locate credentials; tried: a (nothing here), "
                                         "b (nothing here), c (nothing here)");
        /* a chain inside a chain is "not found" too, and its list carries on */
        struct mantle_credentials_provider *outer = creds_chain_new(&ch, 1, NULL);
        assert_int_equal(chain_get(outer, async, &c, &err), MANTLE_E_CREDENTIALS);
        assert_string_equal(err.message, "Unable to locate credentials; tried: a (nothing here), "
                                         "b (nothing here), c (nothing here)");
        mantle_credentials_provider_unref(outer);
        mantle_credentials_provider_unref(ch);

        ch = creds_chain_new(NULL, 0, NULL);
        assert_int_equal(chain_get(ch, async, &c, &err), MANTLE_E_CREDENTIALS);
        assert_string_equal(err.message,
                            "Unable to locate credentials (no credential sources configured)");
        mantle_credentials_provider_unref(ch);
    }
}

static void test_default_chain(void **state)
{
    (void)state;
    struct test_env e = {0};
    struct mantle_credentials_options o = env_opts(&e);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_default_chain(&o, NULL);
    struct mantle_error err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    /* Every source of botocore's chain is tried, in its order, and named. */
    static const char *const tried[] = {
        "Unable to locate credentials; tried: env (AWS_ACCESS_KEY_ID not set), assume-role",
        "assume-role-with-web-identity",
        "sso",
        "shared-credentials-file",
        "process",
        "config-file",
        "container"};
    const char *at = err.message;
    for (size_t i = 0; i < sizeof tried / sizeof *tried; i++) {
        const char *hit = strstr(at, tried[i]);
        if (!hit) fail_msg("'%s' missing (in order) from: %s", tried[i], err.message);
        at = hit + strlen(tried[i]);
    }

    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_string_equal(r.err.message, err.message);
    result_free(&r);

    test_env_set(&e, "AWS_ACCESS_KEY_ID", "AKID");
    test_env_set(&e, "AWS_SECRET_ACCESS_KEY", "SECRET");
    struct mantle_credentials *c = get_ok(p);
    assert_string_equal(mantle_credentials_source(c), "env");
    mantle_credentials_unref(c);
    /* cached: without an expiration, the environment is not read again */
    int calls = atomic_load(&e.calls);
    c = get_ok(p);
    mantle_credentials_unref(c);
    assert_int_equal(atomic_load(&e.calls), calls);
    mantle_credentials_provider_unref(p);

    /* An explicit profile removes the environment provider (botocore), and a profile that was
     * asked for but does not exist is an error, not "not found" (botocore's ProfileNotFound). */
    o.profile = "dev";
    p = mantle_credentials_provider_new_default_chain(&o, NULL);
    err = get_error(p);
    assert_int_equal(err.code, MANTLE_E_CREDENTIALS);
    if (!strstr(err.message, "The config profile (dev) could not be found"))
        fail_msg("unexpected: %s", err.message);
    assert_null(strstr(err.message, "env ("));
    mantle_credentials_provider_unref(p);
}

/* ---- timeutil ---- */

static int64_t parse(const char *s)
{
    int64_t t = -12345;
    if (!time_parse_iso8601(s, strlen(s), &t)) fail_msg("did not parse: %s", s);
    return t;
}

static void test_time_parse(void **state)
{
    (void)state;
    assert_int_equal(parse("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse("2026-11-24T18:30:00Z"), 1795545000);
    assert_int_equal(parse("2026-11-24t18:30:00z"), 1795545000);
    assert_int_equal(parse("2026-11-24 18:30:00Z"), 1795545000);
    assert_int_equal(parse("2026-11-24T18:30:00UTC"), 1795545000);
    assert_int_equal(parse("2026-11-24T18:30:00.999999999Z"), 1795545000);
    assert_int_equal(parse("2026-11-24T18:30:00.5+00:00"), 1795545000);
    assert_int_equal(parse("2026-11-24T18:30:00-00:00"), 1795545000);
    assert_int_equal(parse("2026-11-24T20:30:00+02:00"), 1795545000);
    assert_int_equal(parse("2026-11-24T20:30:00+0200"), 1795545000);
    assert_int_equal(parse("2026-11-24T20:30:00+02"), 1795545000);
    assert_int_equal(parse("2026-11-24T13:00:00-05:30"), 1795545000);
    assert_int_equal(parse("2026-11-25T00:00:00+05:30"), 1795545000);
    assert_int_equal(parse("2000-02-29T12:00:00Z"), 951825600);
    assert_int_equal(parse("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(parse("2038-01-19T03:14:08Z"), 2147483648LL);
    assert_int_equal(parse("9999-12-31T23:59:59Z"), 253402300799LL);
    assert_int_equal(parse("1600-03-01T00:00:00Z"), -11670912000LL);
    assert_int_equal(parse("2016-12-31T23:59:60Z"), parse("2017-01-01T00:00:00Z"));
    /* the length bounds the parse: no NUL needed */
    int64_t t;
    assert_true(time_parse_iso8601("2026-11-24T18:30:00Zjunk", 20, &t));
    assert_int_equal(t, 1795545000);
}

static void test_time_parse_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11-24",
        "2026-11-24T18:30:00", /* no zone */
        "2026-11-24T18:30Z",
        "2026-1-24T18:30:00Z",
        "26-11-24T18:30:00Z",
        "2026-11-24T18:30:00.Z",
        "2026-11-24T24:00:00Z",
        "2026-11-24T18:60:00Z",
        "2026-11-24T18:30:61Z",
        "2026-11-31T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        " 2026-11-24T18:30:00Z",
        "2026-11-24T18:30:00Z ",
        "2026-11-24T18:30:00Zx",
        "2026-11-24T18:30:00+24:00",
        "2026-11-24T18:30:00+02:60",
        "2026-11-24T18:30:00+2:00",
        "2026-11-24T18:30:00+02:0",
        "2026-11-24T18:30:00+",
        "2026-11-24T18:30:00UT",
        "2026-11-24X18:30:00Z",
        "2026/11/24T18:30:00Z",
        "+2026-11-24T18:30:00Z",
        "2026-11-24T18:30:00GMT",
        "1795545000",
        "tomorrow",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t = 42;
        if (time_parse_iso8601(bad[i], strlen(bad[i]), &t)) fail_msg("accepted: '%s'", bad[i]);
        assert_int_equal(t, 42);
    }
    int64_t t;
    assert_false(time_parse_iso8601(NULL, 0, &t));
}

static void test_time_format_round_trip(void **state)
{
    (void)state;
    char buf[TIME_ISO8601_SIZE];
    assert_true(time_format_iso8601(0, buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    assert_true(time_format_iso8601(1795545000, buf));
    assert_string_equal(buf, "2026-11-24T18:30:00Z");
    assert_true(time_format_iso8601(-1, buf));
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    assert_true(time_format_iso8601(951825600, buf));
    assert_string_equal(buf, "2000-02-29T12:00:00Z");
    assert_true(time_format_iso8601(253402300799LL, buf));
    assert_string_equal(buf, "9999-12-31T23:59:59Z");
    assert_true(time_format_iso8601(-62167219200LL, buf));
    assert_string_equal(buf, "0000-01-01T00:00:00Z");
    assert_false(time_format_iso8601(253402300800LL, buf));
    assert_string_equal(buf, "");
    assert_false(time_format_iso8601(-62167219201LL, buf));

    /* parse(format(t)) == t across the whole range, and agrees with libc's gmtime */
    for (int64_t t = -62167219200LL; t <= 253402300799LL; t += 7777777) {
        assert_true(time_format_iso8601(t, buf));
        int64_t back = 0;
        assert_true(time_parse_iso8601(buf, strlen(buf), &back));
        assert_int_equal(back, t);
        if (t >= 0 && t < 4102444800LL) { /* 1970..2100 */
            time_t tt = (time_t)t;
            struct tm tm;
            char want[TIME_ISO8601_SIZE];
            gmtime_r(&tt, &tm);
            strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
            assert_string_equal(buf, want);
        }
    }
    assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
}

/* ---- region ---- */

static mantle_code profile_region(void *ud, const struct mantle_credentials_options *opts,
                                  char **out, struct mantle_error *err)
{
    (void)opts, (void)err;
    *out = ud ? strdup(ud) : NULL;
    return MANTLE_OK;
}

static void test_region_resolution(void **state)
{
    (void)state;
    struct test_env e = {0};
    struct mantle_credentials_options o = env_opts(&e);
    char region[REGION_MAX_LEN + 1];
    const char *from = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    assert_int_equal(region_resolve(NULL, &o, NULL, NULL, region, &from, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "No AWS region: pass one, or set AWS_REGION or AWS_DEFAULT_REGION");
    assert_int_equal(region_resolve(NULL, &o, profile_region, "eu-west-3", region, &from, &err),
                     MANTLE_OK);
    assert_string_equal(region, "eu-west-3");
    assert_string_equal(from, "profile");

    test_env_set(&e, "AWS_DEFAULT_REGION", "us-west-2");
    assert_int_equal(region_resolve(NULL, &o, profile_region, "eu-west-3", region, &from, &err),
                     MANTLE_OK);
    assert_string_equal(region, "us-west-2");
    assert_string_equal(from, "AWS_DEFAULT_REGION");

    test_env_set(&e, "AWS_REGION", "us-east-2");
    assert_int_equal(region_resolve(NULL, &o, NULL, NULL, region, &from, &err), MANTLE_OK);
    assert_string_equal(region, "us-east-2");
    assert_string_equal(from, "AWS_REGION");

    assert_int_equal(region_resolve("ap-south-1", &o, NULL, NULL, region, &from, &err), MANTLE_OK);
    assert_string_equal(region, "ap-south-1");
    assert_string_equal(from, "explicit");

    /* empty values are unset */
    test_env_set(&e, "AWS_REGION", "");
    assert_int_equal(region_resolve("", &o, NULL, NULL, region, &from, &err), MANTLE_OK);
    assert_string_equal(region, "us-west-2");

    /* an invalid name is an error naming its source, not its value */
    test_env_set(&e, "AWS_REGION", "us-east-1.evil.example");
    assert_int_equal(region_resolve(NULL, &o, NULL, NULL, region, &from, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "AWS_REGION is not a valid AWS region name (expected e.g. us-east-1)");
    assert_int_equal(region_resolve("US EAST", &o, NULL, NULL, region, &from, &err),
                     MANTLE_E_CONFIG);
    assert_non_null(strstr(err.message, "explicit"));
    test_env_set(&e, "AWS_REGION", "");
    test_env_set(&e, "AWS_DEFAULT_REGION", "");
    assert_int_equal(region_resolve(NULL, &o, profile_region, "bad/region", region, &from, &err),
                     MANTLE_E_CONFIG);
    assert_string_equal(err.message,
                        "profile is not a valid AWS region name (expected e.g. us-east-1)");
}

static void test_region_validator(void **state)
{
    (void)state;
    static const char *const good[] = {"us-east-1",      "eu-central-2",
                                       "us-gov-west-1",  "cn-northwest-1",
                                       "us-isob-east-1", "a",
                                       "aws-global",     "1a"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!region_is_valid(good[i])) fail_msg("rejected %s", good[i]);
    char long_ok[64], too_long[65];
    memset(long_ok, 'a', 63);
    long_ok[63] = '\0';
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_true(region_is_valid(long_ok));
    static const char *const bad[] = {"",           "-us-east-1", "us-east-1-", "US-EAST-1",
                                      "us_east_1",  "us.east.1",  "us east 1",  "123",
                                      "us-east-1/", "us-east-1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (region_is_valid(bad[i])) fail_msg("accepted '%s'", bad[i]);
    assert_false(region_is_valid(too_long));
    assert_false(region_is_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_credentials_copies),
        cmocka_unit_test(test_credentials_refcount),
        cmocka_unit_test(test_credentials_rejects_bad_input),
        cmocka_unit_test(test_credentials_source_and_account),
        cmocka_unit_test(test_static_provider),
        cmocka_unit_test(test_env_basic),
        cmocka_unit_test(test_env_session_token_order),
        cmocka_unit_test(test_env_empty_is_absent),
        cmocka_unit_test(test_env_partial),
        cmocka_unit_test(test_env_expiration),
        cmocka_unit_test(test_custom_blocking_only),
        cmocka_unit_test(test_custom_async_only),
        cmocka_unit_test(test_custom_both),
        cmocka_unit_test(test_custom_error_wrapping),
        cmocka_unit_test(test_custom_delegating_not_double_wrapped),
        cmocka_unit_test(test_custom_misuse),
        cmocka_unit_test(test_creation_is_lazy),
        cmocka_unit_test(test_chain_semantics),
        cmocka_unit_test(test_default_chain),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_parse_malformed),
        cmocka_unit_test(test_time_format_round_trip),
        cmocka_unit_test(test_region_resolution),
        cmocka_unit_test(test_region_validator),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    creds_worker_quiesce();
    return rc;
}
