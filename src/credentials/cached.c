/* The caching provider: botocore's refresh windows with a single-flight refresh.
 *
 *   remaining = expiration - now       (credentials without an expiration are FRESH forever)
 *   FRESH      remaining >= 15 min     hand out the cached set
 *   ADVISORY   10 min <= remaining     one caller refreshes; everyone else keeps getting the
 *              < 15 min                cached set; a failed refresh is swallowed
 *   MANDATORY  remaining < 10 min,     every caller waits for the one in-flight refresh and gets
 *              or nothing cached       its result, error included
 *
 * One refresh at a time (`refreshing`). A blocking caller that starts one runs the inner provider
 * on its own thread; a non-blocking caller starts it through the inner's get_async (a worker
 * thread for blocking providers). Waiters: blocking callers sleep on `cv` until `generation`
 * moves; non-blocking callers are queued on `pending` (aws-c-auth's pending-query list) and are
 * answered after the lock is released. The lock is never held while the inner provider runs. */
#include "credentials_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/error_internal.h"

enum freshness { FRESH, ADVISORY, MANDATORY };

struct pending {
    mantle_credentials_cb *done;
    void *ud;
    struct pending *next;
};

struct cache {
    struct mantle_credentials_provider *inner;
    struct mantle_credentials_provider *self; /* back-pointer (no reference) for async refreshes */
    int64_t (*now_fn)(void *ud);
    void *now_ud;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* broadcast when a refresh ends */
    struct mantle_credentials *current;
    bool refreshing;
    uint64_t generation; /* refreshes ended so far */
    mantle_code last_code;
    struct mantle_error last_err; /* of the last refresh, for blocking waiters */
    struct pending *head, *tail;
    size_t pending_count, blocked;
};

static int64_t cache_now(const struct cache *c)
{
    return c->now_fn ? c->now_fn(c->now_ud) : (int64_t)time(NULL);
}

static enum freshness freshness(const struct mantle_credentials *cur, int64_t now)
{
    if (!cur) return MANDATORY;
    int64_t expiration = mantle_credentials_expiration(cur);
    if (expiration == 0) return FRESH;
    int64_t remaining = expiration - now;
    if (remaining >= CREDS_ADVISORY_REFRESH_SECS) return FRESH;
    if (remaining >= CREDS_MANDATORY_REFRESH_SECS) return ADVISORY;
    return MANDATORY;
}

/* Ends the in-flight refresh: installs `fresh` (its reference is taken) or records the error in
 * *e, wakes the blocking waiters and answers the queued callbacks outside the lock. On success
 * *mine (if not NULL) gets a reference for the caller. Returns the refresh's final code. */
static mantle_code finish_refresh(struct cache *c, mantle_code code,
                                  struct mantle_credentials *fresh, struct mantle_error *e,
                                  struct mantle_credentials **mine)
{
    struct mantle_credentials *old = NULL, *give = NULL;
    pthread_mutex_lock(&c->mu);
    /* Read under the lock: every waiter queued before this point read its clock earlier. */
    int64_t now = cache_now(c);
    if (code == MANTLE_OK && creds_expired(fresh, now)) {
        mantle_credentials_unref(fresh);
        code = mantle_error_set(e, MANTLE_E_CREDENTIALS,
                                "Credentials were refreshed, but the refreshed credentials are "
                                "still expired");
    }
    if (code == MANTLE_OK) {
        old = c->current;
        c->current = fresh;
        give = mantle_credentials_ref(fresh);
        if (mine) *mine = mantle_credentials_ref(fresh);
    } else {
        e->code = code;
        c->last_err = *e;
    }
    c->last_code = code;
    c->refreshing = false;
    c->generation++;
    struct pending *list = c->head;
    c->head = c->tail = NULL;
    c->pending_count = 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);

    mantle_credentials_unref(old);
    while (list) {
        struct pending *next = list->next;
        if (give)
            list->done(list->ud, mantle_credentials_ref(give), NULL);
        else
            list->done(list->ud, NULL, e);
        free(list);
        list = next;
    }
    mantle_credentials_unref(give);
    return code;
}

/* A blocking caller refreshes on its own thread (botocore's _protected_refresh). */
static mantle_code refresh_blocking(struct cache *c, struct mantle_credentials **out,
                                    struct mantle_error *err)
{
    struct mantle_credentials *fresh = NULL;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = provider_get(c->inner, &fresh, &e);
    code = finish_refresh(c, code, fresh, &e, out);
    if (code == MANTLE_OK) return MANTLE_OK;

    /* A failure is swallowed while the cached set is still outside the mandatory window (the
     * advisory case): keep serving it, as botocore does. Nothing is logged (the library has no
     * logger; botocore only warns), and the next caller in the window simply tries again. */
    pthread_mutex_lock(&c->mu);
    if (c->current && freshness(c->current, cache_now(c)) != MANDATORY) {
        *out = mantle_credentials_ref(c->current);
        pthread_mutex_unlock(&c->mu);
        return MANTLE_OK;
    }
    pthread_mutex_unlock(&c->mu);
    if (err) *err = e;
    return code;
}

static mantle_code cache_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct cache *c = impl;
    int64_t now = cache_now(c);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        enum freshness f = freshness(c->current, now);
        if (f == FRESH || (f == ADVISORY && c->refreshing)) {
            *out = mantle_credentials_ref(c->current);
            pthread_mutex_unlock(&c->mu);
            return MANTLE_OK;
        }
        if (!c->refreshing) {
            c->refreshing = true;
            pthread_mutex_unlock(&c->mu);
            return refresh_blocking(c, out, err);
        }
        /* Mandatory, and someone else is refreshing: wait for that one refresh's outcome. */
        uint64_t gen = c->generation;
        c->blocked++;
        while (c->generation == gen) pthread_cond_wait(&c->cv, &c->mu);
        c->blocked--;
        if (c->last_code != MANTLE_OK) {
            mantle_code code = c->last_code;
            if (err) *err = c->last_err;
            pthread_mutex_unlock(&c->mu);
            return code;
        }
        now = cache_now(c);
        if (!creds_expired(c->current, now)) {
            *out = mantle_credentials_ref(c->current);
            pthread_mutex_unlock(&c->mu);
            return MANTLE_OK;
        }
        /* Expired again already (the clock jumped): go round and refresh. */
    }
}

static void on_refreshed(void *ud, struct mantle_credentials *creds, const struct mantle_error *err)
{
    struct cache *c = ud;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = MANTLE_OK;
    if (!creds) {
        if (err) e = *err;
        code = e.code != MANTLE_OK ? e.code : MANTLE_E_CREDENTIALS;
    }
    finish_refresh(c, code, creds, &e, NULL);
    mantle_credentials_provider_unref(c->self); /* may free c: last use */
}

/* Starts a refresh for non-blocking callers. The refresh holds a reference to the cache so that
 * queued callbacks are answered even if the application drops its own meanwhile. */
static void start_async_refresh(struct cache *c)
{
    mantle_credentials_provider_ref(c->self);
    mantle_code code = provider_get_async(c->inner, on_refreshed, c);
    if (code == MANTLE_OK) return;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_error_set(&e, code, "could not start refreshing credentials: %s", mantle_strerror(code));
    finish_refresh(c, code, NULL, &e, NULL);
    mantle_credentials_provider_unref(c->self);
}

static mantle_code cache_get_async(void *impl, mantle_credentials_cb *done, void *user_data)
{
    struct cache *c = impl;
    int64_t now = cache_now(c);
    pthread_mutex_lock(&c->mu);
    enum freshness f = freshness(c->current, now);
    bool start = !c->refreshing && f != FRESH;
    if (start) c->refreshing = true;
    if (f != MANDATORY) {
        struct mantle_credentials *cur = mantle_credentials_ref(c->current);
        pthread_mutex_unlock(&c->mu);
        if (start) start_async_refresh(c); /* advisory: refresh behind the caller's back */
        done(user_data, cur, NULL);        /* last: done may drop the application's reference */
        return MANTLE_OK;
    }
    struct pending *w = malloc(sizeof *w);
    if (!w) {
        if (start) c->refreshing = false;
        pthread_mutex_unlock(&c->mu);
        return MANTLE_E_NOMEM;
    }
    w->done = done;
    w->ud = user_data;
    w->next = NULL;
    if (c->tail)
        c->tail->next = w;
    else
        c->head = w;
    c->tail = w;
    c->pending_count++;
    pthread_mutex_unlock(&c->mu);
    if (start) start_async_refresh(c);
    return MANTLE_OK;
}

static void cache_destroy(void *impl)
{
    struct cache *c = impl;
    mantle_credentials_provider_unref(c->inner);
    mantle_credentials_unref(c->current);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static const struct mantle_credentials_provider_vtable cache_vtable = {
    .get = cache_get,
    .get_async = cache_get_async,
    .destroy = cache_destroy,
};

struct mantle_credentials_provider *creds_cached_new(struct mantle_credentials_provider *inner,
                                                     int64_t (*now_fn)(void *ud), void *now_ud,
                                                     struct mantle_error *err)
{
    if (!inner) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                         "mantle_credentials_provider_new_cached: inner provider is required");
        return NULL;
    }
    struct cache *c = calloc(1, sizeof *c);
    if (!c) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the credentials cache");
        return NULL;
    }
    c->now_fn = now_fn;
    c->now_ud = now_ud;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->inner = mantle_credentials_provider_ref(inner);
    struct mantle_credentials_provider *p = provider_new(&cache_vtable, c, err);
    if (!p) {
        cache_destroy(c);
        return NULL;
    }
    c->self = p;
    return p;
}

struct mantle_credentials_provider *
mantle_credentials_provider_new_cached(struct mantle_credentials_provider *inner,
                                       struct mantle_error *err)
{
    return creds_cached_new(inner, NULL, NULL, err);
}

size_t creds_cached_waiting(struct mantle_credentials_provider *p)
{
    if (!provider_has_vtable(p, &cache_vtable)) return 0;
    struct cache *c = provider_impl(p);
    pthread_mutex_lock(&c->mu);
    size_t n = c->blocked + c->pending_count;
    pthread_mutex_unlock(&c->mu);
    return n;
}
