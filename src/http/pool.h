/* The connection pool behind a client and its copies: a CURLSH share (DNS cache and TLS session
 * cache, with one mutex per kind of shared data) and a small stack of idle "slots", each a curl
 * multi handle with one reusable easy handle. Ref-counted; every function is thread-safe.
 *
 * Why connections live in the slots and not in the share: libcurl documents that sharing the
 * connection cache (CURL_LOCK_DATA_CONNECT) "is not supported between multiple concurrent
 * threads" (CURLSHOPT_SHARE; crashes in curl issues #13347, #13840). A slot is used by one thread
 * at a time, and its multi handle keeps the connections its transfers opened, so a warm slot
 * reuses its connection, its TLS session and its easy handle: a request costs no handle setup.
 * With N threads requesting at once the pool grows to N slots (N warm connections). */
#ifndef MANTLE_HTTP_POOL_H
#define MANTLE_HTTP_POOL_H

#include <curl/curl.h>
#include <mantle/error.h>
#include <stdbool.h>

#include "http/transfer.h"

#define HTTP_POOL_MAX_IDLE 32

struct http_slot {
    CURLM *multi;
    CURL *easy;
    char *cainfo; /* the CA bundle the easy handle was set up with; NULL: the system's */
    struct http_easy_opts opts; /* what the easy handle was last given for a request */
    struct http_slot *next;
};

struct http_pool;

/* NULL with err filled when libcurl cannot be initialized or memory runs out. */
struct http_pool *http_pool_new(struct mantle_error *err);
struct http_pool *http_pool_ref(struct http_pool *p);
void http_pool_unref(struct http_pool *p); /* NULL is allowed; idle slots are closed at zero */

/* A slot for the caller's exclusive use (an idle one, else a new one). */
struct http_slot *http_pool_acquire(struct http_pool *p, struct mantle_error *err);
/* Gives the slot back; reusable=false closes it (e.g. after a handle error). */
void http_pool_release(struct http_pool *p, struct http_slot *s, bool reusable);

/* Restores the slot's easy handle to the pool's base options (after curl_easy_reset). */
bool http_slot_apply_base(struct http_pool *p, struct http_slot *s);

/* Idle slots right now (for tests). */
size_t http_pool_idle_count(struct http_pool *p);

#endif
