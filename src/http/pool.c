#include "http/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/error_internal.h"

struct http_pool {
    atomic_int refs;
    pthread_mutex_t lock; /* guards idle */
    struct http_slot *idle;
    size_t idle_count;
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    /* Never cleaned up: a library cannot know when the process is done with libcurl. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    struct http_pool *p = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&p->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct http_pool *p = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&p->share_locks[data]);
}

struct http_pool *http_pool_new(struct mantle_error *err)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        mantle_error_set(err, MANTLE_E_CONNECTION, "libcurl could not be initialized: %s",
                         curl_easy_strerror(global_rc));
        return NULL;
    }
    struct http_pool *p = calloc(1, sizeof *p);
    if (!p) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the connection pool");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&p->share_locks[i], NULL);
    p->share = curl_share_init();
    if (!p->share || curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(p->share, CURLSHOPT_USERDATA, p) ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
        mantle_error_set(err, MANTLE_E_NOMEM, "could not set up the libcurl share handle");
        http_pool_unref(p);
        return NULL;
    }
    return p;
}

struct http_pool *http_pool_ref(struct http_pool *p)
{
    if (p) atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

static void slot_free(struct http_slot *s)
{
    if (!s) return;
    if (s->multi && s->easy) curl_multi_remove_handle(s->multi, s->easy);
    if (s->easy) curl_easy_cleanup(s->easy);
    if (s->multi) curl_multi_cleanup(s->multi);
    http_easy_opts_clear(&s->opts);
    free(s->cainfo);
    free(s);
}

void http_pool_unref(struct http_pool *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    /* Easy handles go before the share they use (libcurl refuses to free a share in use). */
    while (p->idle) {
        struct http_slot *s = p->idle;
        p->idle = s->next;
        slot_free(s);
    }
    if (p->share) curl_share_cleanup(p->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&p->share_locks[i]);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

bool http_slot_apply_base(struct http_pool *p, struct http_slot *s)
{
    CURL *e = s->easy;
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_SHARE, p->share);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* A redirect would send a signature made for another URL (and maybe secrets elsewhere). */
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
#if LIBCURL_VERSION_NUM >= 0x075500
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (s->cainfo) rc |= curl_easy_setopt(e, CURLOPT_CAINFO, s->cainfo);
    return rc == CURLE_OK;
}

struct http_slot *http_pool_acquire(struct http_pool *p, struct mantle_error *err)
{
    pthread_mutex_lock(&p->lock);
    struct http_slot *s = p->idle;
    if (s) {
        p->idle = s->next;
        p->idle_count--;
    }
    pthread_mutex_unlock(&p->lock);
    if (s) {
        s->next = NULL;
        return s;
    }
    s = calloc(1, sizeof *s);
    if (s) {
        s->multi = curl_multi_init();
        s->easy = curl_easy_init();
    }
    if (!s || !s->multi || !s->easy || !http_slot_apply_base(p, s)) {
        slot_free(s);
        mantle_error_set(err, MANTLE_E_NOMEM, "could not create a libcurl handle");
        return NULL;
    }
    return s;
}

void http_pool_release(struct http_pool *p, struct http_slot *s, bool reusable)
{
    if (!s) return;
    if (reusable) {
        pthread_mutex_lock(&p->lock);
        if (p->idle_count < HTTP_POOL_MAX_IDLE) {
            s->next = p->idle;
            p->idle = s;
            p->idle_count++;
            s = NULL;
        }
        pthread_mutex_unlock(&p->lock);
    }
    slot_free(s);
}

size_t http_pool_idle_count(struct http_pool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->idle_count;
    pthread_mutex_unlock(&p->lock);
    return n;
}
