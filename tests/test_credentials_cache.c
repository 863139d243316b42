/* The caching provider: refresh windows under an injected clock, single flight for blocking and
 * non-blocking callers, and a many-thread hammer across several expiries. No timing assertions:
 * tests wait for states (calls made, callers queued), never for durations. */
#include "testutil.h"

#include <mantle/credentials.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "credentials/credentials_internal.h"

#define T0 1000000000LL
#define LIFETIME 3600

/* ---- an injected clock ---- */

static _Atomic int64_t fake_now = T0;

static int64_t clock_now(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

static void clock_set(int64_t t)
{
    atomic_store(&fake_now, t);
}

/* ---- a scripted inner provider ---- */

struct inner {
    atomic_int calls;
    atomic_bool fail;
    int64_t lifetime;         /* 0: credentials never expire */
    int64_t fixed_expiration; /* non-zero: use it instead */
    atomic_uint serial;
    /* gate: when closed, fetches block until opened */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool closed;
    /* what was produced, by serial (hammer test) */
    int64_t *produced;
    unsigned produced_cap;
    /* async-native mode: the one stashed callback */
    atomic_int async_calls;
    mantle_credentials_cb *stashed_done;
    void *stashed_ud;
};

static void inner_init(struct inner *in, int64_t lifetime)
{
    memset(in, 0, sizeof *in);
    in->lifetime = lifetime;
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
}

static void inner_close(struct inner *in)
{
    pthread_mutex_lock(&in->mu);
    in->closed = true;
    pthread_mutex_unlock(&in->mu);
}

static void inner_open(struct inner *in)
{
    pthread_mutex_lock(&in->mu);
    in->closed = false;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

static void inner_destroy(struct inner *in)
{
    pthread_cond_destroy(&in->cv);
    pthread_mutex_destroy(&in->mu);
}

static mantle_code make_creds(struct inner *in, struct mantle_credentials **out,
                              struct mantle_error *err)
{
    if (atomic_load(&in->fail)) return mantle_error_set(err, MANTLE_E_IO, "token expired");
    unsigned n = atomic_fetch_add(&in->serial, 1);
    int64_t now = clock_now(NULL);
    int64_t exp = in->fixed_expiration ? in->fixed_expiration
                  : in->lifetime       ? now + in->lifetime
                                       : 0;
    char akid[32], secret[32];
    snprintf(akid, sizeof akid, "AKID%08u", n);
    snprintf(secret, sizeof secret, "SECRET%08u", n);
    if (in->produced) {
        assert_true(n < in->produced_cap);
        in->produced[n] = exp;
    }
    const struct creds_fields f = {akid, secret, NULL, exp, NULL, "test"};
    *out = creds_new(&f, err);
    return *out ? MANTLE_OK : MANTLE_E_NOMEM;
}

static mantle_code inner_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct inner *in = impl;
    atomic_fetch_add(&in->calls, 1);
    pthread_mutex_lock(&in->mu);
    while (in->closed) pthread_cond_wait(&in->cv, &in->mu);
    pthread_mutex_unlock(&in->mu);
    return make_creds(in, out, err);
}

static mantle_code inner_get_async(void *impl, mantle_credentials_cb *done, void *ud)
{
    struct inner *in = impl;
    assert_int_equal(atomic_fetch_add(&in->async_calls, 1), 0); /* single flight */
    in->stashed_done = done;
    in->stashed_ud = ud;
    return MANTLE_OK;
}

static const struct mantle_credentials_provider_vtable inner_blocking_vt = {inner_get, NULL, NULL};
static const struct mantle_credentials_provider_vtable inner_async_vt = {NULL, inner_get_async,
                                                                         NULL};

/* A cache over `in`, using the injected clock. */
static struct mantle_credentials_provider *
cache_over(struct inner *in, const struct mantle_credentials_provider_vtable *vt)
{
    struct mantle_credentials_provider *ip = provider_new(vt, in, NULL);
    struct mantle_credentials_provider *p = creds_cached_new(ip, clock_now, NULL, NULL);
    assert_non_null(p);
    mantle_credentials_provider_unref(ip);
    return p;
}

/* ---- helpers ---- */

static struct mantle_credentials *get_ok(struct mantle_credentials_provider *p)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (mantle_credentials_provider_get(p, &c, &err) != MANTLE_OK)
        fail_msg("get failed: %s", err.message);
    return c;
}

static void get_fails(struct mantle_credentials_provider *p, const char *message)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(mantle_credentials_provider_get(p, &c, &err), MANTLE_E_CREDENTIALS);
    assert_null(c);
    assert_string_equal(err.message, message);
}

/* The serial number an inner provider gave a credential set. */
static unsigned serial_of(const struct mantle_credentials *c)
{
    return (unsigned)strtoul(mantle_credentials_access_key_id(c) + 4, NULL, 10);
}

/* Checks one get returns set number `serial`. */
static void expect_serial(struct mantle_credentials_provider *p, unsigned serial)
{
    struct mantle_credentials *c = get_ok(p);
    assert_int_equal(serial_of(c), serial);
    mantle_credentials_unref(c);
}

static void sleep_briefly(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

/* An async get that must complete on the calling thread, before returning. */
static struct mantle_credentials *async_inline(struct mantle_credentials_provider *p)
{
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &r), MANTLE_OK);
    assert_int_equal(r.calls, 1);
    assert_true(pthread_equal(r.thread, pthread_self()));
    struct mantle_credentials *c = mantle_credentials_ref(r.creds);
    test_result_free(&r);
    assert_non_null(c);
    return c;
}

/* ---- windows ---- */

static void test_windows(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    expect_serial(p, 0);
    assert_int_equal(atomic_load(&in.calls), 1);

    clock_set(T0 + LIFETIME - 900); /* 15 min left exactly: still fresh */
    expect_serial(p, 0);
    assert_int_equal(atomic_load(&in.calls), 1);

    clock_set(T0 + LIFETIME - 899); /* advisory */
    expect_serial(p, 1);
    assert_int_equal(atomic_load(&in.calls), 2);
    int64_t exp1 = T0 + LIFETIME - 899 + LIFETIME;

    clock_set(exp1 - 900);
    expect_serial(p, 1);
    clock_set(exp1 - 599); /* mandatory */
    expect_serial(p, 2);
    assert_int_equal(atomic_load(&in.calls), 3);
    int64_t exp2 = exp1 - 599 + LIFETIME;

    clock_set(exp2 + 1); /* expired */
    expect_serial(p, 3);
    assert_int_equal(atomic_load(&in.calls), 4);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

static void test_advisory_failure_keeps_old(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    expect_serial(p, 0);
    atomic_store(&in.fail, true);
    clock_set(T0 + LIFETIME - 700); /* advisory */
    expect_serial(p, 0);            /* swallowed: the old set is still good */
    assert_int_equal(atomic_load(&in.calls), 2);
    expect_serial(p, 0); /* and retried on the next call, as botocore does */
    assert_int_equal(atomic_load(&in.calls), 3);
    atomic_store(&in.fail, false);
    expect_serial(p, 1);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

static void test_mandatory_failure_returned(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    expect_serial(p, 0);
    atomic_store(&in.fail, true);
    clock_set(T0 + LIFETIME - 599); /* mandatory */
    get_fails(p, "Failed to refresh AWS credentials: token expired");
    clock_set(T0 + LIFETIME + 1); /* expired */
    get_fails(p, "Failed to refresh AWS credentials: token expired");
    assert_int_equal(atomic_load(&in.calls), 3);
    atomic_store(&in.fail, false);
    expect_serial(p, 1);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

static void test_never_expiring(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, 0);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    expect_serial(p, 0);
    clock_set(T0 + 10LL * 365 * 86400);
    expect_serial(p, 0);
    struct mantle_credentials *c = async_inline(p);
    assert_int_equal(serial_of(c), 0);
    mantle_credentials_unref(c);
    assert_int_equal(atomic_load(&in.calls), 1);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

static void test_expired_new_credentials(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    in.fixed_expiration = T0 - 1;
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    get_fails(p, "Failed to refresh AWS credentials: Credentials were refreshed, but the "
                 "refreshed credentials are still expired");
    in.fixed_expiration = T0; /* expiring right now is not expired yet (botocore) */
    expect_serial(p, 1);
    in.fixed_expiration = 0;
    expect_serial(p, 2); /* that set was inside the mandatory window: refreshed again */

    /* in the advisory window an expired new set is a failed refresh, swallowed */
    clock_set(T0 + LIFETIME - 700);
    in.fixed_expiration = T0;
    expect_serial(p, 2);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

static void test_async_windows(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);

    /* nothing cached: the callback comes from the refresh, on a worker thread */
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_false(pthread_equal(r.thread, pthread_self()));
    assert_int_equal(serial_of(r.creds), 0);
    test_result_free(&r);
    creds_worker_quiesce();

    /* fresh: answered inline */
    struct mantle_credentials *c = async_inline(p);
    assert_int_equal(serial_of(c), 0);
    mantle_credentials_unref(c);

    /* advisory: the old set inline, a refresh in the background */
    clock_set(T0 + LIFETIME - 700);
    c = async_inline(p);
    assert_int_equal(serial_of(c), 0);
    mantle_credentials_unref(c);
    creds_worker_quiesce();
    assert_int_equal(atomic_load(&in.calls), 2);
    c = async_inline(p);
    assert_int_equal(serial_of(c), 1);
    mantle_credentials_unref(c);

    /* advisory failure: swallowed */
    atomic_store(&in.fail, true);
    clock_set(T0 + LIFETIME - 700 + LIFETIME - 700);
    c = async_inline(p);
    assert_int_equal(serial_of(c), 1);
    mantle_credentials_unref(c);
    creds_worker_quiesce();
    assert_int_equal(atomic_load(&in.calls), 3);

    /* mandatory failure: returned through the callback */
    clock_set(T0 + LIFETIME - 700 + LIFETIME - 500);
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &r), MANTLE_OK);
    test_result_wait(&r, 1);
    assert_null(r.creds);
    assert_int_equal(r.err.code, MANTLE_E_CREDENTIALS);
    assert_string_equal(r.err.message, "Failed to refresh AWS credentials: token expired");
    test_result_free(&r);
    creds_worker_quiesce();
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

/* ---- single flight ---- */

#define CALLERS 64

struct caller {
    struct mantle_credentials_provider *p;
    struct mantle_credentials *creds;
    struct mantle_error err;
    mantle_code code;
};

static void *blocking_caller(void *arg)
{
    struct caller *c = arg;
    c->code = mantle_credentials_provider_get(c->p, &c->creds, &c->err);
    return NULL;
}

static void wait_for(struct inner *in, int calls, struct mantle_credentials_provider *p,
                     size_t waiting)
{
    while (atomic_load(&in->calls) < calls || creds_cached_waiting(p) < waiting) sleep_briefly();
}

static void test_single_flight_blocking(void **state)
{
    (void)state;
    for (int failing = 0; failing < 2; failing++) {
        struct inner in;
        inner_init(&in, LIFETIME);
        atomic_store(&in.fail, failing);
        clock_set(T0);
        struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
        inner_close(&in);
        static struct caller callers[CALLERS];
        pthread_t threads[CALLERS];
        for (int i = 0; i < CALLERS; i++) {
            callers[i] = (struct caller){p, NULL, MANTLE_ERROR_INIT, MANTLE_OK};
            assert_int_equal(pthread_create(&threads[i], NULL, blocking_caller, &callers[i]), 0);
        }
        /* one caller is inside the inner provider; every other one is waiting for it */
        wait_for(&in, 1, p, CALLERS - 1);
        inner_open(&in);
        for (int i = 0; i < CALLERS; i++) pthread_join(threads[i], NULL);
        assert_int_equal(atomic_load(&in.calls), 1);
        for (int i = 0; i < CALLERS; i++) {
            if (failing) {
                assert_int_equal(callers[i].code, MANTLE_E_CREDENTIALS);
                assert_string_equal(callers[i].err.message,
                                    "Failed to refresh AWS credentials: token expired");
            } else {
                assert_int_equal(callers[i].code, MANTLE_OK);
                assert_ptr_equal(callers[i].creds, callers[0].creds);
            }
        }
        for (int i = 0; i < CALLERS; i++) mantle_credentials_unref(callers[i].creds);
        mantle_credentials_provider_unref(p);
        inner_destroy(&in);
    }
}

static struct mantle_credentials_provider *async_caller_provider;

static void *async_caller(void *arg)
{
    struct test_result *r = arg;
    assert_int_equal(
        mantle_credentials_provider_get_async(async_caller_provider, test_result_done, r),
        MANTLE_OK);
    return NULL;
}

static void test_single_flight_async(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    async_caller_provider = p;
    inner_close(&in);
    static struct test_result results[CALLERS];
    pthread_t threads[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        test_result_init(&results[i]);
        assert_int_equal(pthread_create(&threads[i], NULL, async_caller, &results[i]), 0);
    }
    for (int i = 0; i < CALLERS; i++) pthread_join(threads[i], NULL); /* none of them blocked */
    wait_for(&in, 1, p, CALLERS);                                     /* all queued */
    inner_open(&in);
    for (int i = 0; i < CALLERS; i++) test_result_wait(&results[i], 1);
    assert_int_equal(atomic_load(&in.calls), 1);
    for (int i = 0; i < CALLERS; i++) {
        assert_int_equal(results[i].calls, 1);
        assert_ptr_equal(results[i].creds, results[0].creds);
    }
    for (int i = 0; i < CALLERS; i++) test_result_free(&results[i]);
    creds_worker_quiesce();
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

/* An async-native inner: the cache queues 64 callbacks on one stashed fetch; completing it
 * answers all of them. */
static void test_single_flight_async_native(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_async_vt);
    static struct test_result results[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        test_result_init(&results[i]);
        assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &results[i]),
                         MANTLE_OK);
    }
    assert_int_equal(atomic_load(&in.async_calls), 1);
    assert_int_equal(creds_cached_waiting(p), CALLERS);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(make_creds(&in, &c, &err), MANTLE_OK);
    in.stashed_done(in.stashed_ud, c, NULL);
    for (int i = 0; i < CALLERS; i++) {
        assert_int_equal(results[i].calls, 1);
        assert_ptr_equal(results[i].creds, c);
        test_result_free(&results[i]);
    }
    assert_int_equal(creds_cached_waiting(p), 0);
    /* and the blocking get is served from the cache */
    expect_serial(p, 0);
    assert_int_equal(atomic_load(&in.async_calls), 1);
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

/* Blocking and non-blocking callers wait on the same refresh and get the same failure. */
static void test_single_flight_mixed_failure(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    atomic_store(&in.fail, true);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    inner_close(&in);
    enum { N = 8 };
    struct caller callers[N];
    pthread_t threads[N];
    struct test_result results[N];
    /* The first caller is non-blocking, so the refresh runs on a worker and every caller below,
     * blocking or not, ends up waiting for it. */
    for (int i = 0; i < N; i++) {
        test_result_init(&results[i]);
        assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &results[i]),
                         MANTLE_OK);
        if (i == 0) wait_for(&in, 1, p, 1);
    }
    for (int i = 0; i < N; i++) {
        callers[i] = (struct caller){p, NULL, MANTLE_ERROR_INIT, MANTLE_OK};
        assert_int_equal(pthread_create(&threads[i], NULL, blocking_caller, &callers[i]), 0);
    }
    wait_for(&in, 1, p, 2 * N);
    inner_open(&in);
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        test_result_wait(&results[i], 1);
        assert_int_equal(callers[i].code, MANTLE_E_CREDENTIALS);
        assert_string_equal(callers[i].err.message,
                            "Failed to refresh AWS credentials: token expired");
        assert_int_equal(results[i].err.code, MANTLE_E_CREDENTIALS);
        assert_string_equal(results[i].err.message,
                            "Failed to refresh AWS credentials: token expired");
        test_result_free(&results[i]);
    }
    assert_int_equal(atomic_load(&in.calls), 1);
    creds_worker_quiesce();
    mantle_credentials_provider_unref(p);
    inner_destroy(&in);
}

/* The application drops its reference while a refresh is in flight: the refresh keeps the cache
 * alive, the callback still comes, and nothing leaks (ASan checks). */
static void test_unref_during_async_refresh(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    inner_close(&in);
    struct test_result r;
    test_result_init(&r);
    assert_int_equal(mantle_credentials_provider_get_async(p, test_result_done, &r), MANTLE_OK);
    mantle_credentials_provider_unref(p);
    while (atomic_load(&in.calls) < 1) sleep_briefly();
    inner_open(&in);
    test_result_wait(&r, 1);
    assert_int_equal(serial_of(r.creds), 0);
    test_result_free(&r);
    creds_worker_quiesce();
    inner_destroy(&in);
}

static void test_public_constructor(void **state)
{
    (void)state;
    struct mantle_credentials *c = mantle_credentials_new("AKID", "SECRET", NULL, 0, NULL);
    struct mantle_credentials_provider *s = mantle_credentials_provider_new_static(c, NULL);
    struct mantle_credentials_provider *p = mantle_credentials_provider_new_cached(s, NULL);
    mantle_credentials_provider_unref(s);
    struct mantle_credentials *got = get_ok(p);
    assert_ptr_equal(got, c);
    mantle_credentials_unref(got);
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_null(mantle_credentials_provider_new_cached(NULL, &err));
    assert_int_equal(err.code, MANTLE_E_INVALID_ARGUMENT);
    assert_int_equal(creds_cached_waiting(NULL), 0);
}

/* ---- hammer ---- */

#define HAMMER_THREADS 16
#define HAMMER_ASYNC_THREADS 4 /* of which use get_async */
#define HAMMER_STEP 5          /* seconds each call moves the clock */
#define HAMMER_MIN_SETS 5      /* run until at least this many sets were produced... */
#define HAMMER_MAX_SETS 100000 /* ...and stop before the registry is full */
#define HAMMER_WALL_NS 1000000000LL

struct hammer {
    struct mantle_credentials_provider *p;
    struct inner *in;
    bool async;
    long gets;
    const char *failure; /* first problem seen, or NULL */
    int64_t start_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Why this never flakes: every call first moves the clock by HAMMER_STEP, and once the cached
 * set is inside the mandatory window every caller blocks until the refresh ends, so the clock
 * can move at most HAMMER_THREADS * HAMMER_STEP = 80 s past the start of that window (600 s
 * before expiry) during a refresh. A fresh set (3600 s) therefore never arrives expired and no
 * get can fail. */
static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    unsigned last = 0;
    for (;;) {
        unsigned made = atomic_load(&h->in->serial);
        if (made >= HAMMER_MAX_SETS - 2 * HAMMER_THREADS) break;
        if (made >= HAMMER_MIN_SETS && mono_ns() - h->start_ns >= HAMMER_WALL_NS) break;
        int64_t t0 = atomic_fetch_add(&fake_now, HAMMER_STEP) + HAMMER_STEP;
        struct mantle_credentials *c = NULL;
        if (h->async) {
            struct test_result r;
            test_result_init(&r);
            if (mantle_credentials_provider_get_async(h->p, test_result_done, &r) != MANTLE_OK) {
                h->failure = "get_async failed to start";
                break;
            }
            test_result_wait(&r, 1);
            c = mantle_credentials_ref(r.creds);
            test_result_free(&r);
        } else {
            struct mantle_error err = MANTLE_ERROR_INIT;
            mantle_credentials_provider_get(h->p, &c, &err);
        }
        h->gets++;
        if (!c) {
            h->failure = "a get failed";
            break;
        }
        unsigned n = serial_of(c);
        char want[32];
        snprintf(want, sizeof want, "SECRET%08u", n);
        if (n >= atomic_load(&h->in->serial) ||
            strcmp(mantle_credentials_secret_access_key(c), want) != 0 ||
            mantle_credentials_expiration(c) != h->in->produced[n])
            h->failure = "credentials the inner provider never produced";
        else if (mantle_credentials_expiration(c) < t0)
            h->failure = "expired credentials";
        else if (n < last)
            h->failure = "an older set after a newer one";
        last = n;
        mantle_credentials_unref(c);
        if (h->failure) break;
    }
    return NULL;
}

static void test_hammer(void **state)
{
    (void)state;
    struct inner in;
    inner_init(&in, LIFETIME);
    in.produced_cap = HAMMER_MAX_SETS;
    in.produced = calloc(HAMMER_MAX_SETS, sizeof in.produced[0]);
    clock_set(T0);
    struct mantle_credentials_provider *p = cache_over(&in, &inner_blocking_vt);
    struct hammer h[HAMMER_THREADS];
    pthread_t threads[HAMMER_THREADS];
    int64_t start = mono_ns();
    for (int i = 0; i < HAMMER_THREADS; i++) {
        h[i] = (struct hammer){p, &in, i < HAMMER_ASYNC_THREADS, 0, NULL, start};
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_thread, &h[i]), 0);
    }
    long gets = 0;
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(threads[i], NULL);
        if (h[i].failure) fail_msg("thread %d: %s", i, h[i].failure);
        gets += h[i].gets;
    }
    unsigned sets = atomic_load(&in.serial);
    assert_true(sets >= HAMMER_MIN_SETS);
    /* single flight: one fetch per set, never more */
    assert_int_equal(atomic_load(&in.calls), (int)sets);
    printf("# hammer: %ld gets, %u credential sets, virtual time %lld s\n", gets, sets,
           (long long)(atomic_load(&fake_now) - T0));
    creds_worker_quiesce();
    mantle_credentials_provider_unref(p);
    free(in.produced);
    inner_destroy(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_advisory_failure_keeps_old),
        cmocka_unit_test(test_mandatory_failure_returned),
        cmocka_unit_test(test_never_expiring),
        cmocka_unit_test(test_expired_new_credentials),
        cmocka_unit_test(test_async_windows),
        cmocka_unit_test(test_single_flight_blocking),
        cmocka_unit_test(test_single_flight_async),
        cmocka_unit_test(test_single_flight_async_native),
        cmocka_unit_test(test_single_flight_mixed_failure),
        cmocka_unit_test(test_unref_during_async_refresh),
        cmocka_unit_test(test_public_constructor),
        cmocka_unit_test(test_hammer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    creds_worker_quiesce();
    return rc;
}
