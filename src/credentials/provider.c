/* The provider object, the blocking/non-blocking adapters, custom (application) providers and the
 * public entry points, which are the only place errors get their public form. */
#include "credentials_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"

#define WRAP_PREFIX "Failed to refresh AWS credentials"
#define NOT_FOUND_PREFIX "Unable to locate credentials"

struct mantle_credentials_provider {
    atomic_uint refs;
    struct mantle_credentials_provider_vtable vt; /* a copy: callers may pass a temporary */
    void *impl;
};

struct mantle_credentials_provider *
provider_new(const struct mantle_credentials_provider_vtable *vt, void *impl,
             struct mantle_error *err)
{
    if (!vt || (!vt->get && !vt->get_async)) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                         "a credentials provider needs a get or a get_async function");
        return NULL;
    }
    struct mantle_credentials_provider *p = calloc(1, sizeof *p);
    if (!p) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating a credentials provider");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->vt = *vt;
    p->impl = impl;
    return p;
}

void *provider_impl(const struct mantle_credentials_provider *p)
{
    return p->impl;
}

bool provider_has_vtable(const struct mantle_credentials_provider *p,
                         const struct mantle_credentials_provider_vtable *vt)
{
    return p && p->vt.get == vt->get && p->vt.get_async == vt->get_async;
}

struct mantle_credentials_provider *
mantle_credentials_provider_ref(struct mantle_credentials_provider *p)
{
    if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void mantle_credentials_provider_unref(struct mantle_credentials_provider *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    if (p->vt.destroy) p->vt.destroy(p->impl);
    free(p);
}

/* ---- blocking get over an async-only provider: wait on a condition variable ---- */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct mantle_credentials *creds;
    struct mantle_error err;
};

static void waiter_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->creds = creds;
    if (!creds && err) w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static mantle_code wait_for_async(struct mantle_credentials_provider *p,
                                  struct mantle_credentials **out, struct mantle_error *err)
{
    struct waiter w = {.done = false, .creds = NULL, .err = MANTLE_ERROR_INIT};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    mantle_code code = p->vt.get_async(p->impl, waiter_done, &w);
    if (code == MANTLE_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        if (w.creds) {
            *out = w.creds;
        } else {
            code = w.err.code != MANTLE_OK ? w.err.code : MANTLE_E_CREDENTIALS;
            if (err) *err = w.err;
            if (err && !err->message[0]) mantle_error_set(err, code, "%s", mantle_strerror(code));
        }
    } else {
        mantle_error_set(err, code, "could not start the credentials fetch: %s",
                         mantle_strerror(code));
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return code;
}

mantle_code provider_get(struct mantle_credentials_provider *p, struct mantle_credentials **out,
                         struct mantle_error *err)
{
    *out = NULL;
    mantle_code code = p->vt.get ? p->vt.get(p->impl, out, err) : wait_for_async(p, out, err);
    if (code == MANTLE_OK && !*out)
        return mantle_error_set(err, MANTLE_E_CREDENTIALS, "the provider returned no credentials");
    return code;
}

/* ---- async get over a blocking-only provider: run it on a worker thread ---- */

struct job {
    struct mantle_credentials_provider *p; /* a reference, so it outlives the caller's */
    mantle_credentials_cb *done;
    void *ud;
};

static void run_job(void *arg)
{
    struct job *j = arg;
    struct mantle_credentials *creds = NULL;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = provider_get(j->p, &creds, &e);
    if (code == MANTLE_OK) {
        j->done(j->ud, creds, NULL);
    } else {
        e.code = code;
        j->done(j->ud, NULL, &e);
    }
    mantle_credentials_provider_unref(j->p);
    free(j);
}

mantle_code provider_get_async(struct mantle_credentials_provider *p, mantle_credentials_cb *done,
                               void *user_data)
{
    if (p->vt.get_async) return p->vt.get_async(p->impl, done, user_data);
    struct job *j = malloc(sizeof *j);
    if (!j) return MANTLE_E_NOMEM;
    j->p = mantle_credentials_provider_ref(p);
    j->done = done;
    j->ud = user_data;
    if (!creds_worker_submit(run_job, j)) {
        mantle_credentials_provider_unref(p);
        free(j);
        return MANTLE_E_NOMEM; /* no memory or no thread: the same remedy */
    }
    return MANTLE_OK;
}

/* ---- custom (application) providers: validate what they hand back ---- */

struct custom {
    struct mantle_credentials_provider_vtable user;
    void *impl;
};

static mantle_code custom_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct custom *c = impl;
    struct mantle_credentials *got = NULL;
    mantle_code code = c->user.get(c->impl, &got, err);
    if (code == MANTLE_OK) {
        *out = got;
        return got ? MANTLE_OK
                   : mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                      "the provider returned no credentials");
    }
    mantle_credentials_unref(got); /* an error with credentials: the error wins */
    if (err) err->code = code;
    return code;
}

struct custom_call {
    mantle_credentials_cb *done;
    void *ud;
};

static void custom_done(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct custom_call call = *(struct custom_call *)ud;
    free(ud);
    if (creds) {
        call.done(call.ud, creds, NULL);
        return;
    }
    struct mantle_error e = MANTLE_ERROR_INIT;
    if (err) e = *err;
    if (e.code == MANTLE_OK) {
        e.code = MANTLE_E_CREDENTIALS;
        if (!e.message[0]) mantle_error_set(&e, e.code, "the provider returned no credentials");
    }
    call.done(call.ud, NULL, &e);
}

static mantle_code custom_get_async(void *impl, mantle_credentials_cb *done, void *user_data)
{
    struct custom *c = impl;
    struct custom_call *call = malloc(sizeof *call);
    if (!call) return MANTLE_E_NOMEM;
    call->done = done;
    call->ud = user_data;
    mantle_code code = c->user.get_async(c->impl, custom_done, call);
    if (code != MANTLE_OK) free(call);
    return code;
}

static void custom_destroy(void *impl)
{
    struct custom *c = impl;
    if (c->user.destroy) c->user.destroy(c->impl);
    free(c);
}

struct mantle_credentials_provider *
mantle_credentials_provider_new_custom(const struct mantle_credentials_provider_vtable *vtable,
                                       void *impl, struct mantle_error *err)
{
    if (!vtable || (!vtable->get && !vtable->get_async)) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                         "a custom credentials provider needs get or get_async");
        return NULL;
    }
    struct custom *c = malloc(sizeof *c);
    if (!c) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating a credentials provider");
        return NULL;
    }
    c->user = *vtable;
    c->impl = impl;
    const struct mantle_credentials_provider_vtable vt = {
        .get = vtable->get ? custom_get : NULL,
        .get_async = vtable->get_async ? custom_get_async : NULL,
        .destroy = custom_destroy,
    };
    struct mantle_credentials_provider *p = provider_new(&vt, c, err);
    if (!p) free(c); /* not custom_destroy: on failure the caller keeps its impl */
    return p;
}

/* ---- the public boundary ---- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void creds_error_to_public(struct mantle_error *err)
{
    if (!err) return;
    if (err->code == CREDS_NOT_FOUND) {
        err->code = MANTLE_E_CREDENTIALS;
        if (starts_with(err->message, NOT_FOUND_PREFIX)) return;
        if (err->message[0])
            mantle_error_prefix(err, NOT_FOUND_PREFIX "; tried");
        else
            mantle_error_set(err, MANTLE_E_CREDENTIALS, NOT_FOUND_PREFIX);
        return;
    }
    mantle_code code = err->code;
    err->code = MANTLE_E_CREDENTIALS;
    /* Never wrap twice: a custom provider may pass on what another provider's public get said. */
    if (starts_with(err->message, WRAP_PREFIX ": ") || starts_with(err->message, NOT_FOUND_PREFIX))
        return;
    if (!err->message[0])
        mantle_error_set(err, MANTLE_E_CREDENTIALS, WRAP_PREFIX ": %s",
                         mantle_strerror(code == MANTLE_OK ? MANTLE_E_CREDENTIALS : code));
    else
        mantle_error_prefix(err, WRAP_PREFIX);
}

mantle_code mantle_credentials_provider_get(struct mantle_credentials_provider *p,
                                            struct mantle_credentials **out,
                                            struct mantle_error *err)
{
    if (out) *out = NULL;
    if (!p || !out)
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "mantle_credentials_provider_get: provider and out are required");
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = provider_get(p, out, &e);
    if (code == MANTLE_OK) return MANTLE_OK;
    e.code = code;
    creds_error_to_public(&e);
    if (err) *err = e;
    return e.code;
}

struct boundary_call {
    mantle_credentials_cb *done;
    void *ud;
};

static void boundary_done(void *ud, struct mantle_credentials *creds,
                          const struct mantle_error *err)
{
    struct boundary_call call = *(struct boundary_call *)ud;
    free(ud);
    if (creds) {
        call.done(call.ud, creds, NULL);
        return;
    }
    struct mantle_error e = MANTLE_ERROR_INIT;
    if (err) e = *err;
    creds_error_to_public(&e);
    call.done(call.ud, NULL, &e);
}

mantle_code mantle_credentials_provider_get_async(struct mantle_credentials_provider *p,
                                                  mantle_credentials_cb *done, void *user_data)
{
    if (!p || !done) return MANTLE_E_INVALID_ARGUMENT;
    struct boundary_call *call = malloc(sizeof *call);
    if (!call) return MANTLE_E_NOMEM;
    call->done = done;
    call->ud = user_data;
    mantle_code code = provider_get_async(p, boundary_done, call);
    if (code == MANTLE_OK) return MANTLE_OK; /* call may already be freed: done may have run */
    free(call);
    return code == CREDS_NOT_FOUND ? MANTLE_E_CREDENTIALS : code;
}
