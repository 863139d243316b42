/*
 * mantle/sigv4.h - AWS Signature Version 4 (header and query-string/presigned forms).
 *
 * A pure function over plain data: no I/O, no global configuration, an injectable signing time.
 * It follows the AWS specification and matches botocore byte for byte:
 *  - the URL is taken as it goes on the wire (already percent-encoded); its path is normalized
 *    (dot segments and repeated slashes removed) and URI-encoded again, except with
 *    MANTLE_SIGV4_NO_NORMALIZE_PATH (the S3 rules: path used as given, encoded once);
 *  - query parameters are decoded, re-encoded RFC 3986 style and sorted by key, then value;
 *  - header names are lower-cased, values trimmed with inner runs of blanks collapsed, repeated
 *    names joined with ',' in the order given; Host is derived from the URL when absent (a
 *    non-default port kept); Host and X-Amz-Date are always signed;
 *  - headers that transports add or rewrite after signing are never signed: see
 *    mantle_sigv4_header_is_unsigned().
 *
 * Thread-safety: mantle_sigv4_sign may be called from many threads at once, each with its own
 * result object. The derived-key cache it uses is internal, locked, and holds at most
 * MANTLE_SIGV4_KEY_CACHE_SIZE entries; its keys are wiped when evicted or cleared.
 */
#ifndef MANTLE_SIGV4_H
#define MANTLE_SIGV4_H

#include <stdint.h>
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Borrowed credentials for one signature. session_token may be NULL or "". */
struct mantle_sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
};

enum mantle_payload_kind {
    MANTLE_PAYLOAD_BYTES = 0,   /* hash `payload`, `payload_len` bytes (NULL/0: empty body) */
    MANTLE_PAYLOAD_SHA256 = 1,  /* `payload_sha256` is the body's SHA-256, 64 hex digits */
    MANTLE_PAYLOAD_UNSIGNED = 2 /* sign the literal UNSIGNED-PAYLOAD */
};

/* The request to sign. Everything is borrowed for the duration of the call. */
struct mantle_sigv4_request {
    const char *method; /* e.g. "POST"; an HTTP token, upper-cased for signing */
    const char *url;    /* absolute http(s) URL as sent on the wire */
    const struct mantle_header *headers;
    size_t header_count;
    enum mantle_payload_kind payload_kind;
    const void *payload;
    size_t payload_len;
    const char *payload_sha256;
};

/* Flags for mantle_sigv4_params.flags */
/* Add a signed X-Amz-Content-Sha256 header. */
#define MANTLE_SIGV4_SIGN_BODY 0x1u
/* S3 rules: no path normalization, no second encoding of the path. */
#define MANTLE_SIGV4_NO_NORMALIZE_PATH 0x2u
/* Add X-Amz-Security-Token after signing: the token is sent but not signed. */
#define MANTLE_SIGV4_OMIT_SESSION_TOKEN 0x4u
/* Derive the signing key afresh instead of using the cache (benchmarks, tests). */
#define MANTLE_SIGV4_NO_KEY_CACHE 0x8u
/* Sign exactly the headers given: none is left out as transport-added (Authorization still is).
 * For verifiers that recompute a received signature over its SignedHeaders list. */
#define MANTLE_SIGV4_SIGN_GIVEN_HEADERS 0x10u

#define MANTLE_SIGV4_MAX_EXPIRES 604800u /* 7 days, the SigV4 maximum for presigned URLs */
#define MANTLE_SIGV4_KEY_CACHE_SIZE 8

struct mantle_sigv4_params {
    const char *region;       /* [a-z0-9-]+, e.g. "us-east-1" */
    const char *service;      /* [a-z0-9-]+, e.g. "bedrock-mantle" */
    int64_t signing_time;     /* seconds since the Unix epoch, UTC; 0 means "now" */
    unsigned flags;           /* MANTLE_SIGV4_* */
    unsigned presign_expires; /* 0: sign with headers; 1..604800: presigned URL, X-Amz-Expires */
};

#define MANTLE_SIGV4_PARAMS_INIT                                                                   \
    {                                                                                              \
        NULL, NULL, 0, 0u, 0u                                                                      \
    }

/* The output of a signature. Opaque and reusable: sign many requests with one result object and
 * its buffers are reused (no allocation once warm). Not shared between threads. */
struct mantle_sigv4_result;

/* Returns a new empty result, or NULL when out of memory. Free with mantle_sigv4_result_free. */
MANTLE_API struct mantle_sigv4_result *mantle_sigv4_result_new(void);

/* Wipes (the result may hold a session token) and frees. NULL is allowed. */
MANTLE_API void mantle_sigv4_result_free(struct mantle_sigv4_result *result);

/*
 * Signs `request`. On success the result holds the headers to add to the request. On failure the
 * result is emptied (never a partial signature), `err` (may be NULL) names the offending item, and
 * the code is MANTLE_E_SIGNING for bad input (CR/LF or control characters in a header, a header
 * name that is not a token, a bad method or URL, an empty access key or secret, a region or service
 * outside [a-z0-9-], an expiry outside 1..604800), MANTLE_E_INVALID_ARGUMENT for NULL arguments, or
 * MANTLE_E_NOMEM.
 */
MANTLE_API mantle_code mantle_sigv4_sign(const struct mantle_sigv4_request *request,
                                         const struct mantle_sigv4_credentials *credentials,
                                         const struct mantle_sigv4_params *params,
                                         struct mantle_sigv4_result *result,
                                         struct mantle_error *err);

/* The headers to add, in this order: X-Amz-Date, X-Amz-Security-Token (when there is a token),
 * X-Amz-Content-Sha256 (with MANTLE_SIGV4_SIGN_BODY, or for UNSIGNED-PAYLOAD), Authorization.
 * For a presigned URL: none (X-Amz-Security-Token only with MANTLE_SIGV4_OMIT_SESSION_TOKEN is
 * appended to the URL instead). Borrowed: valid until the result is reused or freed. */
MANTLE_API size_t mantle_sigv4_result_header_count(const struct mantle_sigv4_result *result);
MANTLE_API const struct mantle_header *
mantle_sigv4_result_headers(const struct mantle_sigv4_result *result);

/* The value of one added header (case-insensitive name), or NULL. Borrowed as above. */
MANTLE_API const char *mantle_sigv4_result_header(const struct mantle_sigv4_result *result,
                                                  const char *name);

/* Debugging views, borrowed as above: the canonical request, the string to sign, the signature
 * (64 hex digits) and, for presigning, the presigned URL (NULL otherwise). */
MANTLE_API const char *mantle_sigv4_result_canonical_request(const struct mantle_sigv4_result *r);
MANTLE_API const char *mantle_sigv4_result_string_to_sign(const struct mantle_sigv4_result *r);
MANTLE_API const char *mantle_sigv4_result_signature(const struct mantle_sigv4_result *r);
MANTLE_API const char *mantle_sigv4_result_url(const struct mantle_sigv4_result *r);

/* Non-zero when a header of this name (any case) is never signed because transports add or
 * rewrite it after signing: accept-encoding, connection, expect, keep-alive, proxy-authenticate,
 * proxy-authorization, te, trailer, transfer-encoding, upgrade, user-agent, x-amzn-trace-id.
 * Authorization is never signed either (it carries the signature). */
MANTLE_API int mantle_sigv4_header_is_unsigned(const char *name);

/* Wipes and drops every cached signing key (e.g. after rotating credentials). */
MANTLE_API void mantle_sigv4_key_cache_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* MANTLE_SIGV4_H */
