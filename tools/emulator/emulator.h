/* mantle-emulator: a local Amazon Bedrock Mantle server for offline tests.
 *
 * One HTTP request goes through: server.c (libmicrohttpd glue, request log) → faults.c (the
 * fault options of this request) → auth.c (SigV4 or API key) → api.c (routing) → responses.c,
 * chat.c, anthropic.c (the answers) → reply.c / stream.c (the bytes sent back). Requests are
 * served one thread per connection; shared state (request log, stored responses, fault counters)
 * is behind mutexes in the module that owns it. */
#ifndef MANTLE_EMULATOR_H
#define MANTLE_EMULATOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <mantle/common.h>

#include "core/buf.h"

#define EMU_NAME "mantle-emulator"
#define EMU_MAX_BODY ((size_t)16 << 20) /* larger request bodies get 413 */
#define EMU_FAULT_HEADER "x-mantle-emulator-fault"

/* ---- configuration (main.c, credentials.c) ---- */

struct identity {
    char *access_key_id;
    char *secret;        /* wiped when freed */
    char *session_token; /* NULL when the identity has none; wiped when freed */
    int64_t expires;     /* Unix time after which the token is expired; 0: never */
};

enum error_shape { SHAPE_AUTO = 0, SHAPE_OPENAI, SHAPE_ANTHROPIC, SHAPE_AWS };

/* Fault options: from the command line, then overridden item by item by the request's
 * x-mantle-emulator-fault header. */
struct faults {
    unsigned fail_status; /* 0: no injected failure */
    long fail_count;      /* -1: every request */
    long retry_after;     /* seconds for retry-after; -1: no header */
    long retry_after_ms;  /* for retry-after-ms; -1: no header */
    int x_should_retry;   /* -1: no header, 0: false, 1: true */
    long delay_ms;        /* before answering */
    long event_delay_ms;  /* before each streamed event but the first */
    long drop_mid_stream; /* close the connection after this many events; -1: never */
    bool malformed_json;  /* truncate the JSON answered */
    long clock_skew;      /* seconds added to the server clock */
    enum error_shape error_shape;
    const char *counter_key; /* fail-status counter: NULL = the global one, else the header */
};

struct config {
    char listen_host[64];
    unsigned listen_port;
    struct identity *identities;
    size_t identity_count;
    char **api_keys; /* wiped when freed */
    size_t api_key_count;
    const char *region;
    const char **services; /* the first is the one error messages name */
    size_t service_count;
    long lifetime; /* seconds; 0: no limit */
    bool stdin_watch;
    bool verbose;
    struct faults faults;
};

/* Loads identities from FILE (lines "AKID SECRET [TOKEN|- [EXPIRATION]]") or from the
 * environment ("env"), appending to cfg. On error prints "mantle-emulator: ..." (never a secret)
 * and returns false. */
bool credentials_load(struct config *cfg, const char *source);
void config_free(struct config *cfg);

/* Set by main when the emulator stops: long sleeps check it. */
extern atomic_bool emu_stopping;
/* Sleeps up to ms milliseconds, returning early when the emulator stops. */
void emu_sleep_ms(long ms);

/* ---- server.c ---- */

struct server;
/* Serves on listen_fd (already bound and listening) from libmicrohttpd's threads. */
struct server *server_start(const struct config *cfg, int listen_fd, bool ipv6);
/* Closes every connection, waits for their threads, frees all shared state. */
void server_stop(struct server *s);

/* ---- one exchange ---- */

struct request {
    const char *method;
    const char *target; /* the request target exactly as on the wire: path[?query] */
    const char *path;   /* raw path (not percent-decoded), NUL-terminated copy */
    const char *query;  /* raw query after '?', or NULL */
    const struct mantle_header *headers; /* every header as received, in order */
    size_t header_count;
    const char *body;
    size_t body_len;
    uint64_t seq; /* request counter, 1-based */
};

/* The first header of that name (any case), or NULL. */
const char *request_header(const struct request *rq, const char *name);

#define REPLY_MAX_HEADERS 16

struct sse;

struct reply {
    unsigned status;
    char *body; /* malloc'd, handed to libmicrohttpd; NULL when streaming */
    size_t body_len;
    const char *content_type;
    struct sse *stream; /* non-NULL: a text/event-stream body */
    size_t header_count;
    struct {
        char name[40];
        char value[256];
    } headers[REPLY_MAX_HEADERS];
};

/* Adds a header (truncated to fit; dropped when the table is full). */
void reply_header(struct reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Serializes json (stolen) as the body. */
void reply_json(struct reply *r, unsigned status, json_t *json);
/* An AWS JSON-protocol error: {"message": ...} plus x-amzn-errortype. */
void reply_aws_error(struct reply *r, unsigned status, const char *type, const char *message);
/* {"error":{"message","type","param","code"}}; param/code may be NULL. */
void reply_openai_error(struct reply *r, unsigned status, const char *type, const char *message,
                        const char *param, const char *code);
/* {"type":"error","error":{"type","message"}}. */
void reply_anthropic_error(struct reply *r, unsigned status, const char *type, const char *message);
/* An error in the shape that suits the path (or the one forced by --error-shape), with a
 * generic type for the status. */
void reply_error_for(struct reply *r, const struct request *rq, enum error_shape shape,
                     unsigned status, const char *message);
/* The AWS error type (x-amzn-errortype) conventionally used for an HTTP status. */
const char *aws_error_type_for(unsigned status);
void reply_free(struct reply *r);

/* ---- auth.c ---- */

enum auth_kind { AUTH_NONE = 0, AUTH_SIGV4, AUTH_API_KEY };

struct auth_result {
    enum auth_kind kind;
    char access_key_id[129];
    char signed_headers[1024]; /* as received, e.g. "host;x-amz-date"; "" when none */
};

/* Verifies the request's SigV4 signature or API key. now: the (skewed) server clock.
 * Returns true when accepted; otherwise fills `reply` with the AWS error. */
bool auth_check(const struct config *cfg, const struct request *rq, int64_t now,
                struct auth_result *res, struct reply *reply);

/* ---- faults.c ---- */

/* Sets one fault option by name ("fail-status", "delay"...; the command-line option without its
 * dashes). value may be NULL for flags. Returns false with a reason in err. */
bool faults_set(struct faults *f, const char *name, const char *value, char *err, size_t errlen);
/* The faults for this request: the command line's, overridden by the fault header. */
bool faults_for_request(const struct config *cfg, const struct request *rq, struct faults *out,
                        char *err, size_t errlen);
/* True when this request must be answered with f->fail_status (and counts it). */
bool faults_take_failure(const struct faults *f);
/* Adds x-should-retry (every reply) and, on an injected failure, retry-after and
 * retry-after-ms, as configured. */
void faults_add_headers(const struct faults *f, bool injected, struct reply *r);
/* Forgets every fail-status count. */
void faults_reset(void);

/* ---- api.c and the handlers ---- */

struct api_ctx {
    const struct config *cfg;
    const struct request *rq;
    const struct faults *faults;
    int64_t now;
    const char *path; /* rq->path without the /openai prefix */
};

void api_handle(const struct api_ctx *ctx, struct reply *r);
/* The percent-decoded value of a query parameter ('+' is a space); false when absent or too
 * long. */
bool query_param(const struct request *rq, const char *key, char *out, size_t outlen);

/* The model named by the body; NULL (and an error reply, 400 or 404 for the reserved name) when
 * it is missing or does not exist. */
const char *require_model(json_t *body, bool anthropic, struct reply *r);

/* The handlers borrow `body` (a parsed JSON object) and fill `r`. */
void responses_create(const struct api_ctx *ctx, json_t *body, struct reply *r);
void responses_get(const struct api_ctx *ctx, const char *id, struct reply *r);
void responses_delete(const struct api_ctx *ctx, const char *id, struct reply *r);
void responses_cancel(const struct api_ctx *ctx, const char *id, struct reply *r);
void responses_input_items(const struct api_ctx *ctx, const char *id, struct reply *r);
void responses_reset(void);

void chat_completions(const struct api_ctx *ctx, json_t *body, struct reply *r);
void models_list(const struct api_ctx *ctx, struct reply *r);
void models_get(const struct api_ctx *ctx, const char *id, struct reply *r);

void anthropic_messages(const struct api_ctx *ctx, json_t *body, struct reply *r);

/* The reserved model name that does not exist. */
#define MODEL_DOES_NOT_EXIST "does-not-exist"

/* ---- text.c: deterministic answers ---- */

struct echo {
    char *text;     /* "Echo: " + the input, cut to the token limit */
    size_t *cuts;   /* word deltas: text[cuts[i]..cuts[i+1]) for i < words */
    size_t words;   /* output tokens */
    bool truncated; /* the limit cut it */
};

/* limit < 0: no limit. Returns false when out of memory. */
bool echo_make(const char *input, long limit, struct echo *out);
void echo_free(struct echo *e);
/* A delta as a new string. */
json_t *echo_delta(const struct echo *e, size_t i);
size_t count_words(const char *s);
/* prefix + 32 hex digits of SHA-256(salt, path, body): the same request gets the same id.
 * out: at least 64 bytes. */
void make_id(char *out, size_t outlen, const char *prefix, const char *salt,
             const struct request *rq);
/* Appends the text of a message content: a string, or an array of parts whose "text" strings
 * are taken, separated by a space. */
void append_content_text(struct buf *b, const json_t *content);
/* Walks a chat or Anthropic "messages" array: returns the words of all their contents (the
 * prompt's tokens) and leaves the content text of the last "user" message in last_user. */
size_t scan_messages(const json_t *messages, struct buf *last_user);

/* ---- stream.c ---- */

struct sse *sse_new(void);
/* Adds "event: name\ndata: <json>\n\n" (name may be NULL: data line only); json is stolen. */
void sse_add(struct sse *s, const char *name, json_t *json);
/* Adds an event whose data is the given text as is (e.g. "[DONE]"). */
void sse_add_raw(struct sse *s, const char *name, const char *data);
bool sse_failed(const struct sse *s);
/* Applies the stream faults: drop, event delay, malformed (the first event's JSON is cut). */
void sse_apply_faults(struct sse *s, const struct faults *f);
/* libmicrohttpd content reader and its free callback. */
ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max);
void sse_free(void *cls);
/* Makes the reply a text/event-stream of s (owned by the reply from now on). */
void reply_stream(struct reply *r, struct sse *s);

#endif
