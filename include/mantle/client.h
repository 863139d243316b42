/*
 * mantle/client.h - the Bedrock Mantle client (blocking API).
 *
 * The C equivalent of openai-python's Bedrock provider (and of the seed PR's AwsOpenAI):
 * Responses, Chat Completions, Models and Anthropic Messages over the "mantle" endpoint
 * (https://bedrock-mantle.{region}.api.aws/openai/v1, signing service bedrock-mantle) or the
 * "runtime" endpoint (https://bedrock-runtime.{region}.amazonaws.com/openai/v1, signing service
 * bedrock), authenticated with SigV4 or a Bedrock API key (Bearer).
 *
 * Creation never does I/O and never resolves credentials: the first request does, and a
 * credentials failure comes back from that request as MANTLE_E_CREDENTIALS.
 *
 * Every request is signed per attempt (credentials asked again, a fresh X-Amz-Date,
 * X-Amz-Content-Sha256 sent and signed) after its body is final, over every header sent except
 * Accept and the transport headers (User-Agent, Expect...): for a Responses call that is exactly
 * content-length;content-type;host;x-amz-* as the official clients sign it. Retries follow
 * openai-python (default 2; connection errors, timeouts, 408, 409, 429, 5xx; x-should-retry;
 * retry-after-ms / retry-after up to 60 s; else 0.5 s * 2^n capped at 8 s, with jitter). A
 * signature rejected for clock skew is retried once with the offset taken from the server's Date
 * header.
 *
 * Thread-safety: one client may be used from many threads at once. Its connection pool (DNS
 * cache, TLS sessions, and warm connections with their libcurl handles: one per thread that is
 * requesting at the same time) is shared by all its requests and by copies made with
 * mantle_client_with_options. Redirects are never followed (a signature is for one URL).
 */
#ifndef MANTLE_CLIENT_H
#define MANTLE_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include "common.h"
#include "credentials.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mantle_endpoint {
    MANTLE_ENDPOINT_MANTLE =
        0, /* default: bedrock-mantle.{region}.api.aws, signs as bedrock-mantle */
    MANTLE_ENDPOINT_RUNTIME = 1 /* bedrock-runtime.{region}.{partition}, signs as bedrock */
};

/* A bearer token computed per attempt (e.g. a short-term Bedrock API key). Write a
 * NUL-terminated token of at most `cap` bytes into buf and return MANTLE_OK, or return an error
 * (filling err). Called before every attempt, retries included, from the requesting thread. */
typedef mantle_code mantle_bearer_token_fn(void *user_data, char *buf, size_t cap,
                                           struct mantle_error *err);

enum mantle_log_level { MANTLE_LOG_DEBUG = 0, MANTLE_LOG_INFO = 1, MANTLE_LOG_WARN = 2 };

/* Receives log lines (request and response lines, retries). Secrets are already redacted:
 * Authorization, X-Amz-Security-Token, X-Amz-Signature and API keys appear as <redacted>. */
typedef void mantle_log_fn(void *user_data, enum mantle_log_level level, const char *line);

#define MANTLE_RETRIES_NONE (-1)

/* Client options. Zero/NULL everywhere means "the default"; start from
 * MANTLE_CLIENT_OPTIONS_INIT. Strings are copied; nothing is kept after mantle_client_new. */
struct mantle_client_options {
    enum mantle_endpoint endpoint;
    /* NULL: AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region, then the region of
     * a canonical base_url (bedrock-mantle.{region}.api.aws, bedrock-runtime.{region}...) */
    const char *region;
    const char *base_url; /* NULL: AWS_BEDROCK_BASE_URL, then derived from endpoint and region */

    /* Explicit auth: at most one of the four groups below (else MANTLE_E_CONFIG). */
    const char *api_key; /* Bedrock API key, sent as Authorization: Bearer */
    mantle_bearer_token_fn *bearer_token_fn;
    void *bearer_token_user_data;
    const char *aws_access_key_id; /* static AWS keys (with the secret; token optional) */
    const char *aws_secret_access_key;
    const char *aws_session_token;
    const char *profile; /* a named profile of the shared config files */
    struct mantle_credentials_provider *credentials_provider; /* the client takes a reference */
    /* Without explicit auth: a non-empty AWS_BEARER_TOKEN_BEDROCK is used, unless this is set;
     * then the default credential chain. */
    int ignore_env_bearer_token;

    const char *signing_service; /* NULL: from the endpoint ("bedrock-mantle" / "bedrock") */
    long connect_timeout_ms;     /* 0: 10 s */
    long timeout_ms;             /* 0: 600 s: the whole request, retries and a stream included */
    int max_retries;             /* 0: the default (2); MANTLE_RETRIES_NONE: no retries */
    const struct mantle_header *default_headers; /* added to every request (copied) */
    size_t default_header_count;
    const char *default_query;     /* "k=v&k2=v2", already encoded, added to every request */
    const char *user_agent_suffix; /* appended to "mantle/<version>" */
    const char *ca_bundle;         /* PEM file of trusted CAs; NULL: the system's */
    /* SigV4 signatures, session tokens and API keys are never sent over plain http to a host
     * that is not loopback, unless this is set. */
    int allow_insecure_http;
    mantle_log_fn *log_fn; /* NULL: MANTLE_LOG=debug|info|warn logs to stderr, else nothing */
    void *log_user_data;
    /* Environment and clock hooks for the credential chain, the region and the proxies (tests,
     * embedders). Proxies come from http_proxy, https_proxy/HTTPS_PROXY, all_proxy/ALL_PROXY
     * and no_proxy/NO_PROXY (libcurl's rules; never HTTP_PROXY), read once by mantle_client_new;
     * copies keep them. */
    const struct mantle_credentials_options *credentials_options;
};

#define MANTLE_CLIENT_OPTIONS_INIT                                                                 \
    {                                                                                              \
        MANTLE_ENDPOINT_MANTLE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0,     \
            NULL, 0, 0, 0, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL                          \
    }

struct mantle_client;

/* Validates the options and resolves region, base URL, signing service and auth mode (no I/O,
 * no credential lookup). Returns NULL with MANTLE_E_CONFIG for: two explicit auth modes; SigV4
 * without any region (the message names AWS_REGION and AWS_DEFAULT_REGION); an invalid region;
 * a canonical base_url whose region differs from the configured one; a bearer client with
 * neither region nor base_url. Free with mantle_client_free. */
MANTLE_API struct mantle_client *mantle_client_new(const struct mantle_client_options *options,
                                                   struct mantle_error *err);

/* The seed's copy()/with_options(): a new client that keeps base's region, endpoint, auth mode,
 * credential provider (the same cache) and connection pool, except where `overrides` sets a
 * field (NULL/0 fields keep base's value; setting any auth field replaces the auth mode). */
MANTLE_API struct mantle_client *
mantle_client_with_options(const struct mantle_client *base,
                           const struct mantle_client_options *overrides, struct mantle_error *err);

/* Waits for nothing (no request may be in flight), wipes secrets, frees. NULL is allowed. */
MANTLE_API void mantle_client_free(struct mantle_client *client);

/* What the client resolved. Borrowed strings, valid until mantle_client_free. */
MANTLE_API const char *mantle_client_base_url(const struct mantle_client *client);
MANTLE_API const char *mantle_client_region(const struct mantle_client *client); /* may be NULL */
MANTLE_API const char *mantle_client_signing_service(const struct mantle_client *client);
/* The endpoint in use: the option's, or the one a canonical base_url selected. */
MANTLE_API enum mantle_endpoint mantle_client_endpoint(const struct mantle_client *client);
enum mantle_auth_mode { MANTLE_AUTH_SIGV4 = 0, MANTLE_AUTH_BEARER = 1 };
enum mantle_auth_source {
    MANTLE_AUTH_SOURCE_EXPLICIT = 0, /* api_key or bearer_token_fn */
    MANTLE_AUTH_SOURCE_STATIC = 1,   /* aws_access_key_id / aws_secret_access_key */
    MANTLE_AUTH_SOURCE_PROFILE = 2,
    MANTLE_AUTH_SOURCE_PROVIDER = 3,
    MANTLE_AUTH_SOURCE_ENVIRONMENT = 4, /* AWS_BEARER_TOKEN_BEDROCK */
    MANTLE_AUTH_SOURCE_DEFAULT = 5      /* the default credential chain */
};
MANTLE_API enum mantle_auth_mode mantle_client_auth_mode(const struct mantle_client *client);
MANTLE_API enum mantle_auth_source mantle_client_auth_source(const struct mantle_client *client);

/* ---- requests and responses ---- */

/* Reads up to `cap` bytes of a one-shot body into buf; returns the count, 0 at the end, or
 * (size_t)-1 on error. */
typedef size_t mantle_read_fn(void *user_data, char *buf, size_t cap);

/* One API call. Everything is borrowed for the duration of the call. */
struct mantle_request {
    const char *method;      /* "GET", "POST", "DELETE" */
    const char *path;        /* below the API root, e.g. "/responses" */
    int path_from_host_root; /* path starts at the host root instead: "/anthropic/v1/messages" */
    const char *query;       /* "k=v&k2=v2", already encoded; may be NULL */
    const struct mantle_header *headers;
    size_t header_count;
    const void *body; /* replayable bytes, NULL for none */
    size_t body_len;
    /* A one-shot body can be neither hashed for SigV4 nor replayed on retry: a request that
     * has one is refused with MANTLE_E_INVALID_ARGUMENT before any attempt. */
    mantle_read_fn *body_reader;
    void *body_reader_user_data;
};

/* A response: status, headers, raw body and its parsed JSON. */
struct mantle_response;

MANTLE_API int mantle_response_status(const struct mantle_response *r);
/* A response header (case-insensitive; the last one if repeated), or NULL. Borrowed. */
MANTLE_API const char *mantle_response_header(const struct mantle_response *r, const char *name);
/* The raw body (NUL-terminated for convenience; *len gets its length if len is not NULL). */
MANTLE_API const char *mantle_response_body(const struct mantle_response *r, size_t *len);
/* The parsed JSON body, or NULL if the body is not JSON. Borrowed: json_incref to keep it.
 * The body's syntax was checked by the request (a malformed 2xx JSON body is MANTLE_E_PROTOCOL);
 * the jansson tree is built on the first call, which may come from any thread. */
MANTLE_API json_t *mantle_response_json(const struct mantle_response *r);
/* x-amzn-requestid, else x-request-id, else NULL. */
MANTLE_API const char *mantle_response_request_id(const struct mantle_response *r);
/* Attempts made, retries included. */
MANTLE_API int mantle_response_attempts(const struct mantle_response *r);
MANTLE_API void mantle_response_free(struct mantle_response *r);

/* Sends a request. On a 2xx status stores a new response in *out (free it); otherwise returns
 * the error category for the failure (HTTP status classes, connection, timeout, credentials...)
 * with err's message taken from the error body, its status, request id and attempts. Headers the
 * client owns (Authorization, Host, Content-Length, Expect, Transfer-Encoding, X-Amz-Date,
 * X-Amz-Security-Token, X-Amz-Content-Sha256) are refused with MANTLE_E_INVALID_ARGUMENT; a
 * request header replaces a default header or the client's Content-Type/Accept of the same name.
 * A path under /anthropic/ gets anthropic-version as mantle_messages_create does. */
MANTLE_API mantle_code mantle_client_request(struct mantle_client *client,
                                             const struct mantle_request *request,
                                             struct mantle_response **out,
                                             struct mantle_error *err);

/* ---- streaming ---- */

/* One server-sent event. Borrowed for the duration of the callback only. */
struct mantle_stream_event {
    const char *type; /* the SSE event name, or the JSON "type" field, or "message" */
    const char *data; /* the raw data (NUL-terminated), e.g. JSON or "[DONE]" */
    size_t data_len;
    json_t *json; /* the parsed data, or NULL (e.g. "[DONE]") */
};

/* Return 0 to continue, non-zero to cancel the stream (the call then returns
 * MANTLE_E_CANCELLED). */
typedef int mantle_stream_cb(void *user_data, const struct mantle_stream_event *event);

/* Sends a streaming request and calls on_event for each event as it arrives. Returns MANTLE_OK
 * when the stream ended properly, MANTLE_E_STREAM for an error event or a stream cut mid-event,
 * MANTLE_E_CANCELLED when the callback stopped it. Retries happen only before the first event. */
MANTLE_API mantle_code mantle_client_stream(struct mantle_client *client,
                                            const struct mantle_request *request,
                                            mantle_stream_cb *on_event, void *user_data,
                                            struct mantle_error *err);

/* Accumulates a stream into its final text and, for Responses, the final response object.
 * Feed it from your callback (mantle_stream_accumulate); works for Responses, Chat
 * Completions and Anthropic Messages events. */
struct mantle_accumulator;
MANTLE_API struct mantle_accumulator *mantle_accumulator_new(void);
MANTLE_API void mantle_accumulator_add(struct mantle_accumulator *acc,
                                       const struct mantle_stream_event *event);
/* The text so far (borrowed, NUL-terminated). */
MANTLE_API const char *mantle_accumulator_text(const struct mantle_accumulator *acc);
/* The final response object (response.completed / message_stop...), or NULL. Borrowed. */
MANTLE_API json_t *mantle_accumulator_final(const struct mantle_accumulator *acc);
MANTLE_API void mantle_accumulator_free(struct mantle_accumulator *acc);

/* ---- the API surface ---- */

/* A JSON request body: text or a jansson value (exactly one). */
struct mantle_json_body {
    const char *text; /* NUL-terminated JSON text */
    const json_t *value;
};
static inline struct mantle_json_body mantle_json_text(const char *text)
{
    struct mantle_json_body b = {text, NULL};
    return b;
}
static inline struct mantle_json_body mantle_json_value(const json_t *value)
{
    struct mantle_json_body b = {NULL, value};
    return b;
}

/* POST /responses. With "stream": true in the body use mantle_responses_stream instead. */
MANTLE_API mantle_code mantle_responses_create(struct mantle_client *c,
                                               struct mantle_json_body body,
                                               struct mantle_response **out,
                                               struct mantle_error *err);
/* POST /responses with "stream": true added. */
MANTLE_API mantle_code mantle_responses_stream(struct mantle_client *c,
                                               struct mantle_json_body body,
                                               mantle_stream_cb *on_event, void *user_data,
                                               struct mantle_error *err);
MANTLE_API mantle_code mantle_responses_retrieve(struct mantle_client *c, const char *response_id,
                                                 struct mantle_response **out,
                                                 struct mantle_error *err);
MANTLE_API mantle_code mantle_responses_delete(struct mantle_client *c, const char *response_id,
                                               struct mantle_response **out,
                                               struct mantle_error *err);
MANTLE_API mantle_code mantle_responses_cancel(struct mantle_client *c, const char *response_id,
                                               struct mantle_response **out,
                                               struct mantle_error *err);
/* GET /responses/{id}/input_items; query ("limit=10&after=...") may be NULL. */
MANTLE_API mantle_code mantle_responses_input_items(struct mantle_client *c,
                                                    const char *response_id, const char *query,
                                                    struct mantle_response **out,
                                                    struct mantle_error *err);

/* POST /chat/completions, and its streaming form ("stream": true added). */
MANTLE_API mantle_code mantle_chat_completions_create(struct mantle_client *c,
                                                      struct mantle_json_body body,
                                                      struct mantle_response **out,
                                                      struct mantle_error *err);
MANTLE_API mantle_code mantle_chat_completions_stream(struct mantle_client *c,
                                                      struct mantle_json_body body,
                                                      mantle_stream_cb *on_event, void *user_data,
                                                      struct mantle_error *err);

/* GET /models and GET /models/{id}. */
MANTLE_API mantle_code mantle_models_list(struct mantle_client *c, struct mantle_response **out,
                                          struct mantle_error *err);
MANTLE_API mantle_code mantle_models_retrieve(struct mantle_client *c, const char *model_id,
                                              struct mantle_response **out,
                                              struct mantle_error *err);

/* Anthropic Messages on Mantle: POST {host}/anthropic/v1/messages with anthropic-version
 * (2023-06-01 unless the caller sends its own), and its streaming form. */
MANTLE_API mantle_code mantle_messages_create(struct mantle_client *c, struct mantle_json_body body,
                                              struct mantle_response **out,
                                              struct mantle_error *err);
MANTLE_API mantle_code mantle_messages_stream(struct mantle_client *c, struct mantle_json_body body,
                                              mantle_stream_cb *on_event, void *user_data,
                                              struct mantle_error *err);

/* ---- helpers for the common reads (borrowed results; NULL when absent) ---- */

/* A Responses object's output text: the concatenated output_text parts (new string: free
 * with mantle_free). */
MANTLE_API char *mantle_response_output_text(const struct mantle_response *r);
/* A chat completion's first choice message content. */
MANTLE_API const char *mantle_chat_message_content(const struct mantle_response *r);
/* An Anthropic message's concatenated text blocks (new string: free with mantle_free). */
MANTLE_API char *mantle_message_text(const struct mantle_response *r);
/* Token usage of any of the three shapes; fields not present are set to -1. Without a total in
 * the response (Anthropic), total is input + output when both are present. */
MANTLE_API void mantle_response_usage(const struct mantle_response *r, int64_t *input_tokens,
                                      int64_t *output_tokens, int64_t *total_tokens);

#ifdef __cplusplus
}
#endif

#endif /* MANTLE_CLIENT_H */
