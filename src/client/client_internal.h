/* The client's insides, shared by the files of src/client/:
 *   config.c   options (+ environment, + a base client for copies) -> resolved config and auth
 *   client.c   creation, copies, getters, free
 *   request.c  one API call: URL, headers, per-attempt signing, the retry loop, errors
 *   retry.c    openai-python's retry policy (which statuses, how long to wait)
 *   errors.c   error bodies (OpenAI, AWS, Anthropic shapes) and clock-skew detection
 *   redact.c   secrets out of log lines
 *   log.c      MANTLE_LOG / log_fn
 *   stream.c   SSE -> events for mantle_client_stream
 *   accumulator.c, response.c, api.c   the public helpers and the API surface
 *
 * Thread-safety: after creation a client is read-only except clock_offset (atomic); the pool is
 * locked internally; the provider is thread-safe. So many threads may use one client at once. */
#ifndef MANTLE_CLIENT_INTERNAL_H
#define MANTLE_CLIENT_INTERNAL_H

#include <mantle/client.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "http/headers.h"
#include "http/pool.h"

#define CLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define CLIENT_DEFAULT_TIMEOUT_MS 600000L
#define CLIENT_DEFAULT_MAX_RETRIES 2
#define CLIENT_ANTHROPIC_VERSION "2023-06-01"
#define CLIENT_BEARER_TOKEN_MAX 16384 /* short-term Bedrock API keys are a few KB */

struct client_header {
    char *name;
    char *value;
};

struct client_config {
    enum mantle_endpoint endpoint;
    char *region;           /* NULL only for a bearer client given a base_url */
    char *base_url;         /* normalized: no trailing '/' */
    size_t host_root_len;   /* base_url[0, host_root_len) is "scheme://authority" */
    bool base_url_explicit; /* from the options or AWS_BEDROCK_BASE_URL (copies keep it) */
    char *signing_service;
    bool service_explicit;
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;     /* resolved: retries after the first attempt */
    int max_retries_opt; /* as given, for copies */
    struct client_header *default_headers;
    size_t default_header_count;
    char *default_query; /* NULL or non-empty, without a leading '?' */
    char *ua_suffix;
    char *user_agent; /* "mantle/<version>[ suffix]" */
    char *ca_bundle;
    bool allow_insecure_http;
    /* Proxies from the environment, read once when the client is created, by libcurl's rules
     * (client_config_resolve): libcurl would otherwise read five variables for every request.
     * Copies keep them. May hold a proxy password: wiped on free. NULL: none. */
    char *proxy_http, *proxy_https, *no_proxy;
    const char *proxy; /* proxy_http or proxy_https, by base_url's scheme */
};

struct client_auth {
    enum mantle_auth_mode mode;
    enum mantle_auth_source source;
    struct mantle_credentials_provider *provider; /* SigV4 (a reference) */
    char *bearer_token;                           /* api_key or AWS_BEARER_TOKEN_BEDROCK (wiped) */
    mantle_bearer_token_fn *bearer_fn;
    void *bearer_ud;
};

struct client_log {
    mantle_log_fn *fn; /* NULL: logging off */
    void *ud;
    int min_level; /* enum mantle_log_level */
};

/* Test and embedding hooks (internal, not in the public header): a signing clock, the retry
 * sleep, the jitter source, and an observer of each attempt's final headers. */
struct client_test_hooks {
    int64_t (*now)(void *ud);            /* seconds since the epoch for signing; NULL: time() */
    void (*sleep_ms)(void *ud, long ms); /* NULL: nanosleep */
    double (*random)(void *ud);          /* in [0, 1); NULL: crypto-random */
    /* Called before each attempt is sent with every header sent (Authorization included: tests
     * only) and the attempt number (1-based). Non-zero stops the request before this attempt
     * goes out (MANTLE_E_CANCELLED). */
    int (*on_attempt)(void *ud, int attempt, const char *url, const struct mantle_header *h,
                      size_t n);
    void *ud;
};

struct call; /* request.c */

struct mantle_client {
    struct client_config cfg;
    struct client_auth auth;
    struct client_log log;
    struct http_pool *pool;
    _Atomic int64_t clock_offset; /* server time - local time (s), learnt from a skew error */
    struct client_test_hooks hooks;
    pthread_mutex_t calls_lock; /* guards calls: per-request scratch kept warm */
    struct call *calls;
    size_t call_count;
};

/* ---- config.c ---- */

/* Resolves options (for a copy: on top of base, without reading the environment). */
mantle_code client_config_resolve(const struct mantle_client_options *o,
                                  const struct mantle_client *base, struct client_config *cfg,
                                  struct client_auth *auth, struct client_log *log,
                                  struct mantle_error *err);
void client_config_free(struct client_config *cfg);
void client_auth_free(struct client_auth *auth);

/* Exposed for tests: AWS region syntax; the derived base URL for an endpoint and region
 * (malloc'd); the canonical endpoint/region of a host (false for a custom host). */
bool client_region_is_valid(const char *region);
char *client_derive_base_url(enum mantle_endpoint endpoint, const char *region);
bool client_canonical_host(const char *host, size_t len, enum mantle_endpoint *endpoint,
                           char *region, size_t region_cap);
bool client_host_is_loopback(const char *host, size_t len);

/* ---- client.c ---- */

void client_set_test_hooks(struct mantle_client *c, const struct client_test_hooks *hooks);
struct mantle_credentials_provider *client_provider(const struct mantle_client *c);
struct http_pool *client_pool(const struct mantle_client *c);
int64_t client_clock_offset(const struct mantle_client *c);

/* ---- request.c ---- */

enum client_call { CALL_JSON = 0, CALL_STREAM = 1 };

/* The one request path. For CALL_STREAM, on_event/user_data receive the events and *out is not
 * used; the Accept header follows the kind. anthropic: add anthropic-version. */
struct client_call_opts {
    enum client_call kind;
    mantle_stream_cb *on_event;
    void *user_data;
    bool anthropic;
};
mantle_code client_execute(struct mantle_client *c, const struct mantle_request *rq,
                           const struct client_call_opts *opts, struct mantle_response **out,
                           struct mantle_error *err);
/* Frees the cached per-request scratch (at client free). */
void client_calls_free(struct mantle_client *c);

/* ---- retry.c ---- */

/* openai-python's _should_retry: x-should-retry true/false wins; else 408, 409, 429 and >= 500. */
bool retry_should_retry_status(int status, const char *x_should_retry);
/* The server's wish in seconds from retry-after-ms, else retry-after (seconds or HTTP date),
 * taken from the first of them that parses; false when neither does. */
bool retry_after_seconds(const struct http_headers *h, int64_t now, double *out);
/* Milliseconds before retry number n (0-based): the server's wish when 0 < it <= 60 s, else
 * min(0.5 * 2^n, 8) s * (1 - 0.25 * rnd). h may be NULL (a connection error). */
long retry_delay_ms(const struct http_headers *h, int n, int64_t now, double rnd);

/* ---- errors.c ---- */

/* Fills err for a non-2xx response: category from the status, message from the body (OpenAI
 * {"error":{"message"}}, AWS {"message"}/{"Message"} and x-amzn-errortype, Anthropic
 * {"type":"error","error":{...}}), request id, attempts. */
void client_error_from_response(struct mantle_error *err, int status, const struct http_headers *h,
                                const char *body, size_t len, int attempts);
/* True for a 401/403 saying the signature expired or the request time is skewed. */
bool client_is_clock_skew_error(int status, const struct http_headers *h, const char *body,
                                size_t len);
/* x-amzn-requestid, else x-request-id, else NULL. */
const char *client_request_id(const struct http_headers *h);

/* ---- redact.c ---- */

#define REDACTED "<redacted>"
/* True for headers that carry secrets (Authorization, X-Amz-Security-Token, API keys...). */
bool redact_header_is_secret(const char *name);
/* The value to show for a header: the value itself, or "<redacted>". */
const char *redact_header_value(const char *name, const char *value);
/* Appends url with the values of secret query parameters (X-Amz-Signature,
 * X-Amz-Security-Token, api keys...) replaced by "<redacted>". */
void redact_append_url(struct buf *b, const char *url);
/* Scrubs a message a server wrote (AWS quotes the canonical request, token line included, in
 * signature errors): every occurrence of each of the `n` secrets (NULL entries skipped), a secret
 * cut short by the message's end, and any value after "x-amz-security-token", "authorization"
 * or "x-api-key" labels become "<redacted>". In place, truncating to cap. */
void redact_message(char *msg, size_t cap, const char *const *secrets, size_t n);

/* ---- log.c ---- */

/* Sets log from the options: fn (NULL: stderr when level_name is set, else off) and the
 * minimum level named by MANTLE_LOG's value level_name ("debug", "info", "warn"; NULL: every
 * level for fn). */
void client_log_init(struct client_log *log, mantle_log_fn *fn, void *ud, const char *level_name);
static inline bool client_log_on(const struct mantle_client *c, enum mantle_log_level level)
{
    return c->log.fn && (int)level >= c->log.min_level;
}
void client_log(const struct mantle_client *c, enum mantle_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- response.c ---- */

/* One allocation: the headers' offsets and text and the body follow the struct (request.c). */
struct mantle_response {
    int status;
    int attempts;
    struct http_headers headers;
    char *body; /* NUL-terminated */
    size_t body_len;
    bool is_json; /* the body passed client_json_check: the tree is built on first demand */
    _Atomic(json_t *) json;
};

#endif
