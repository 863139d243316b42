#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"

static const char *path_under(const char *env, const char *rel, char *out, size_t n)
{
    const char *base = getenv(env);
    if (!base) base = ".";
    snprintf(out, n, "%s/%s", base, rel);
    return out;
}

const char *test_shared_path(const char *rel)
{
    static char buf[4096];
    return path_under("MANTLE_SHARED_DIR", rel, buf, sizeof buf);
}

const char *test_source_path(const char *rel)
{
    static char buf[4096];
    return path_under("MANTLE_SOURCE_DIR", rel, buf, sizeof buf);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    for (;;) {
        if (!data) break;
        if (n + 1 >= cap) {
            char *p = realloc(data, cap * 2);
            if (!p) {
                free(data);
                data = NULL;
                break;
            }
            data = p;
            cap *= 2;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    if (!data) return NULL;
    data[n] = '\0';
    if (len) *len = n;
    return data;
}

unsigned char *test_b64_decode(const char *in, size_t *out_len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in);
    unsigned char *out = malloc(n / 4 * 3 + 4);
    assert_non_null(out);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && in[i] != '='; i++) {
        const char *p = strchr(alphabet, in[i]);
        assert_non_null(p);
        acc = (acc << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

double test_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *test_env_default(const char *name)
{
    return strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0 ? "true" : NULL;
}

void test_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

void test_write_temp(char *tmpl, const char *text)
{
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

void test_env_set(struct test_env *e, const char *name, const char *value)
{
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            e->values[i] = value;
            return;
        }
    }
    assert_true(e->n < TEST_ENV_MAX);
    e->names[e->n] = name;
    e->values[e->n++] = value;
}

static const char *env_lookup(struct test_env *e, const char *name, int *found)
{
    *found = 0;
    if (!e) return NULL;
    atomic_fetch_add(&e->calls, 1);
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            *found = 1;
            return e->values[i];
        }
    }
    return NULL;
}

const char *test_env_getenv(void *ud, const char *name)
{
    int found;
    const char *v = env_lookup(ud, name, &found);
    return found ? v : test_env_default(name);
}

const char *test_env_getenv_only(void *ud, const char *name)
{
    int found;
    return env_lookup(ud, name, &found);
}

struct mantle_credentials_options test_env_options(struct test_env *e, const char *profile)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = profile;
    o.getenv_fn = test_env_getenv_only;
    o.getenv_ud = e;
    return o;
}

mantle_code test_get_with(test_provider_ctor *make, struct test_env *e, const char *profile,
                          struct mantle_credentials **out, struct mantle_error *err)
{
    struct mantle_credentials_options o = test_env_options(e, profile);
    struct mantle_credentials_provider *p = make(&o, err);
    assert_non_null(p);
    mantle_code rc = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return rc;
}

void test_result_init(struct test_result *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

void test_result_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct test_result *r = ud;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->thread = pthread_self();
    if (creds) {
        mantle_credentials_unref(r->creds);
        r->creds = creds;
    } else {
        r->err = *err;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void test_result_wait(struct test_result *r, int calls)
{
    pthread_mutex_lock(&r->mu);
    while (r->calls < calls) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

void test_result_free(struct test_result *r)
{
    mantle_credentials_unref(r->creds);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}
