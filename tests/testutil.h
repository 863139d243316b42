/* Shared helpers for the C tests (cmocka). */
#ifndef MANTLE_TESTUTIL_H
#define MANTLE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <mantle/credentials.h>
#include <pthread.h>
#include <stdatomic.h>

/* Path under the shared/ folder (MANTLE_SHARED_DIR); returns a static buffer. */
const char *test_shared_path(const char *rel);
/* Path under the source tree (MANTLE_SOURCE_DIR); returns a static buffer. */
const char *test_source_path(const char *rel);
/* Reads a whole file; returns a malloc'd NUL-terminated buffer or NULL. *len may be NULL. */
char *test_read_file(const char *path, size_t *len);

/* Writes text to path (created or truncated); asserts success. */
void test_write_file(const char *path, const char *text);
/* Creates a file from tmpl (a mkstemp() template, rewritten to the name) holding text. */
void test_write_temp(char *tmpl, const char *text);

/* Decodes standard base64 (padding optional; anything else outside the alphabet fails the test).
 * Returns a malloc'd buffer, NUL-terminated after its *out_len bytes. */
unsigned char *test_b64_decode(const char *in, size_t *out_len);

/* CLOCK_MONOTONIC in seconds, for bounding how long a call took. */
double test_monotonic(void);

/* The value a test's injected environment falls back to for names it does not set: "true" for
 * AWS_EC2_METADATA_DISABLED, so no test can reach the real instance metadata service (only
 * loopback is allowed), else NULL. */
const char *test_env_default(const char *name);

/* An injected environment for the credentials options' getenv_fn hook (ud: the table), so that
 * tests never see the real one. */
#define TEST_ENV_MAX 32
struct test_env {
    const char *names[TEST_ENV_MAX];
    const char *values[TEST_ENV_MAX];
    int n;
    atomic_int calls; /* lookups so far, for laziness checks */
};
/* Sets name, replacing an earlier value. */
void test_env_set(struct test_env *e, const char *name, const char *value);
/* The hook: the table's value (the first entry of that name), else test_env_default(). ud may be
 * NULL (an empty table). */
const char *test_env_getenv(void *ud, const char *name);
/* The same, but names the table does not set are NULL (not even test_env_default()). */
const char *test_env_getenv_only(void *ud, const char *name);

/* Credentials options over e alone (test_env_getenv_only()) for profile (NULL: the default). */
struct mantle_credentials_options test_env_options(struct test_env *e, const char *profile);

typedef struct mantle_credentials_provider *
test_provider_ctor(const struct mantle_credentials_options *o, struct mantle_error *err);
/* One internal get (provider_get) on a provider made by make() (which must succeed) over
 * test_env_options(e, profile); the provider is released. Returns the get's code. */
mantle_code test_get_with(test_provider_ctor *make, struct test_env *e, const char *profile,
                          struct mantle_credentials **out, struct mantle_error *err);

/* Collects the callbacks of asynchronous credential gets, which may come from another thread. */
struct test_result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    struct mantle_credentials *creds; /* the last credentials delivered (owned) */
    struct mantle_error err;          /* the last error delivered */
    pthread_t thread;                 /* the thread of the last call */
};
void test_result_init(struct test_result *r);
/* The completion callback; ud is the struct test_result. */
void test_result_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err);
/* Waits until at least calls callbacks have come. */
void test_result_wait(struct test_result *r, int calls);
void test_result_free(struct test_result *r);

#endif
