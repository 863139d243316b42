/* A small blocking HTTP client for the metadata credential providers (EC2 IMDS, ECS/EKS container
 * endpoint), plus what those two share: reading their JSON credential documents, and the
 * test-only hooks of the container provider.
 *
 * Why not the client's transfer engine: these providers are blocking by design (async callers run
 * them on a credentials worker thread), talk to one fixed endpoint a few times a day, and must not
 * depend on the client's configuration (proxy, retries, CA bundle). A libcurl easy handle per
 * request is enough. Requests never follow redirects, only speak http/https, and by default never
 * use a proxy (CURLOPT_NOPROXY "*"), as the SDKs do for link-local and loopback metadata
 * addresses. */
#ifndef MANTLE_CREDENTIALS_HTTP_FETCH_H
#define MANTLE_CREDENTIALS_HTTP_FETCH_H

#include <jansson.h>
#include <mantle/common.h>
#include <mantle/credentials.h>
#include <mantle/error.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HTTP_FETCH_MAX_BODY (64 * 1024) /* credential documents are well under 2 KiB */
#define HTTP_FETCH_MAX_CAPTURE 4

struct http_fetch_request {
    const char *method;                  /* "GET", "PUT", ... */
    const char *url;                     /* absolute http:// or https:// URL */
    const struct mantle_header *headers; /* values may be secret: they never reach a message */
    size_t header_count;
    const void *body; /* NULL: no body (a PUT/POST then sends Content-Length: 0) */
    size_t body_len;
    long connect_timeout_ms; /* > 0 */
    long timeout_ms;         /* the whole exchange; > 0 */
    size_t max_body;         /* 0: HTTP_FETCH_MAX_BODY */
    bool use_proxy;          /* false: never a proxy, whatever the environment says */
    /* Response headers to hand back (case-insensitive names), NULL-terminated. */
    const char *capture[HTTP_FETCH_MAX_CAPTURE + 1];
};

struct http_fetch_response {
    long status;     /* 0 when no response arrived */
    bool connected;  /* a connection was made (tells a read timeout from a connect timeout) */
    struct buf body; /* NUL-terminated; wiped when freed: it may hold credentials */
    char *captured[HTTP_FETCH_MAX_CAPTURE]; /* values, in capture[] order; NULL when absent */
};

#define HTTP_FETCH_RESPONSE_INIT                                                                   \
    {                                                                                              \
        0, false, BUF_INIT,                                                                        \
        {                                                                                          \
            NULL                                                                                   \
        }                                                                                          \
    }

/* Performs one exchange. MANTLE_OK means a complete response arrived, whatever its status (the
 * caller judges it). Otherwise: MANTLE_E_TIMEOUT, MANTLE_E_CONNECTION (DNS, TCP, TLS, a dropped
 * connection), MANTLE_E_PROTOCOL (a body over max_body), MANTLE_E_INVALID_ARGUMENT (a URL libcurl
 * refuses) or MANTLE_E_NOMEM. Messages say what failed, never a header value or the URL (callers
 * add the context they know is safe). *resp is filled as far as the exchange got; free it with
 * http_fetch_response_free in every case. */
mantle_code http_fetch(const struct http_fetch_request *req, struct http_fetch_response *resp,
                       struct mantle_error *err);
void http_fetch_response_free(struct http_fetch_response *resp);

/* Sleeps for ms milliseconds (between attempts), resuming after signals. */
void http_fetch_sleep_ms(long ms);

/* ---- the JSON credential documents of IMDS and the container endpoint ---- */

/* Borrowed from the parsed document; valid until metadata_json_release. */
struct metadata_creds {
    const char *access_key_id;
    const char *secret_access_key;
    const char *token;
    const char *account_id; /* NULL when absent (IMDS never sends one) */
    int64_t expiration;     /* seconds since the epoch */
};

/* Parses body as a JSON object. Returns NULL when it is not one. */
json_t *metadata_json_parse(const char *body, size_t len);
/* Reads AccessKeyId, SecretAccessKey, Token, Expiration (all required, non-empty strings; the
 * expiration ISO 8601) and the optional AccountId. On a missing or bad member returns
 * MANTLE_E_PROTOCOL "<who>: the credentials document has no <member>" (names, never values). */
mantle_code metadata_creds_read(json_t *doc, const char *who, struct metadata_creds *out,
                                struct mantle_error *err);
/* Wipes the secret strings inside doc, then releases it. NULL is allowed. */
void metadata_json_release(json_t *doc);

/* ---- container provider internals, exposed for tests ---- */

/* Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be fetched: https to any host; plain http only
 * to a loopback address (127.0.0.0/8, ::1), localhost, 169.254.170.2 (ECS), 169.254.170.23 or
 * fd00:ec2::23 (EKS Pod Identity). On success *normalized (free with curl_free) is the URL as
 * libcurl will fetch it. On refusal returns false with MANTLE_E_CONFIG in err. */
bool creds_container_url_allowed(const char *url, char **normalized, struct mantle_error *err);

/* What the public container constructor fixes, made adjustable for tests: the base that
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is appended to (NULL: http://169.254.170.2, which is not
 * reachable off ECS), the pause between attempts (< 0: 1000 ms) and the per-attempt timeout
 * (<= 0: 2000 ms). */
struct creds_container_params {
    const char *relative_base;
    long retry_delay_ms;
    long timeout_ms;
};

struct mantle_credentials_provider *
creds_container_new_with(const struct mantle_credentials_options *opts,
                         const struct creds_container_params *params, struct mantle_error *err);

#endif
