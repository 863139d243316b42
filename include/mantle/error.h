/*
 * mantle/error.h - the one error type.
 *
 * Every fallible call returns a mantle_code and, when the caller passes a non-NULL
 * struct mantle_error *, fills it with the category, the HTTP status (when there was a response),
 * a human message, the server's request id and the number of attempts made. The struct is
 * caller-owned and fixed-size: nothing to free, safe to use from any thread or callback.
 *
 * Messages never contain secrets (secret keys, session tokens, API keys, signatures); they name
 * what was wrong: the file and line, the header, the field, the option.
 *
 * Codes are stable: a code is never renumbered or reused.
 */
#ifndef MANTLE_ERROR_H
#define MANTLE_ERROR_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mantle_code {
    MANTLE_OK = 0,
    MANTLE_E_INVALID_ARGUMENT = 1, /* API misuse: NULL where not allowed, out-of-range value */
    MANTLE_E_NOMEM = 2,            /* an allocation failed */
    MANTLE_E_CONFIG = 3,           /* options, environment variables, config/credentials files */
    MANTLE_E_CREDENTIALS = 4,      /* no credentials, or a provider failed to produce them */
    MANTLE_E_SIGNING = 5,          /* a request could not be signed (bad method, URL, header...) */
    MANTLE_E_CONNECTION = 6,       /* DNS, TCP, TLS or a connection dropped */
    MANTLE_E_TIMEOUT = 7,          /* connect or total timeout elapsed */
    MANTLE_E_BAD_REQUEST = 8,      /* HTTP 400 */
    MANTLE_E_AUTHENTICATION = 9,   /* HTTP 401 */
    MANTLE_E_PERMISSION_DENIED = 10, /* HTTP 403 */
    MANTLE_E_NOT_FOUND = 11,         /* HTTP 404 */
    MANTLE_E_CONFLICT = 12,          /* HTTP 409 */
    MANTLE_E_UNPROCESSABLE = 13,     /* HTTP 422 */
    MANTLE_E_RATE_LIMIT = 14,        /* HTTP 429 */
    MANTLE_E_SERVER = 15,            /* HTTP 5xx */
    MANTLE_E_HTTP = 16,              /* any other non-2xx status */
    MANTLE_E_STREAM = 17,            /* a malformed, failed or cut event stream */
    MANTLE_E_CANCELLED = 18,         /* cancelled by the caller */
    MANTLE_E_PROTOCOL = 19,          /* a response that cannot be understood (bad JSON, XML...) */
    MANTLE_E_IO = 20                 /* local I/O: reading a file, running a process */
} mantle_code;

#define MANTLE_ERROR_MESSAGE_SIZE 512
#define MANTLE_ERROR_REQUEST_ID_SIZE 128

struct mantle_error {
    mantle_code code;
    int http_status; /* 0 when no HTTP response was involved */
    int attempts;    /* HTTP attempts made, retries included; 0 when none was made */
    char request_id[MANTLE_ERROR_REQUEST_ID_SIZE]; /* x-amzn-requestid / x-request-id, or "" */
    char message[MANTLE_ERROR_MESSAGE_SIZE];       /* NUL-terminated, never holds secrets */
};

#define MANTLE_ERROR_INIT                                                                          \
    {                                                                                              \
        MANTLE_OK, 0, 0, {0},                                                                      \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Stable lower-case category name: "ok", "invalid_argument", "config", "credentials", "signing",
 * "connection", "timeout", "bad_request", "authentication", "permission_denied", "not_found",
 * "conflict", "unprocessable_entity", "rate_limit", "server", "http", "stream", "cancelled",
 * "protocol", "io", or "unknown". Static string. */
MANTLE_API const char *mantle_code_name(mantle_code code);

/* A short English description of the code. Static string. */
MANTLE_API const char *mantle_strerror(mantle_code code);

/* Resets *err to MANTLE_ERROR_INIT. NULL is allowed. */
MANTLE_API void mantle_error_clear(struct mantle_error *err);

/* The category an HTTP status maps to (400 -> MANTLE_E_BAD_REQUEST, 5xx -> MANTLE_E_SERVER, ...);
 * MANTLE_OK for 1xx-3xx. */
MANTLE_API mantle_code mantle_code_for_status(int http_status);

#ifdef __cplusplus
}
#endif

#endif /* MANTLE_ERROR_H */
