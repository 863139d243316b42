/* libmicrohttpd glue: one thread per connection, the raw request target (never unescaped, since
 * the signature covers the bytes on the wire), the body, the pipeline of one exchange, the
 * request log and the /__emulator/ test endpoints. */
#include "emulator.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct server {
    const struct config *cfg;
    struct MHD_Daemon *daemon;
};

/* One HTTP request while libmicrohttpd reads it. */
struct pending {
    char *target; /* raw request target, from the URI log callback */
    struct buf body;
    bool started, too_large;
};

/* ---- the request log (GET /__emulator/requests) ---- */

#define LOG_MAX 10000

struct log_entry {
    uint64_t seq;
    char *method, *path, *query, *signed_headers;
    enum auth_kind auth;
    char access_key_id[129];
    unsigned status;
    bool streamed, injected;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_entry *log_entries;
static size_t log_count;
static uint64_t request_seq;

static void log_entry_free(struct log_entry *e)
{
    free(e->method);
    free(e->path);
    free(e->query);
    free(e->signed_headers);
}

static uint64_t next_seq(void)
{
    pthread_mutex_lock(&log_lock);
    uint64_t seq = ++request_seq;
    pthread_mutex_unlock(&log_lock);
    return seq;
}

static void log_add(const struct request *rq, const struct auth_result *auth, const struct reply *r,
                    bool injected)
{
    struct log_entry e = {.seq = rq->seq,
                          .auth = auth->kind,
                          .status = r->status,
                          .streamed = r->stream != NULL,
                          .injected = injected};
    e.method = strdup(rq->method);
    e.path = strdup(rq->path);
    e.query = rq->query ? strdup(rq->query) : NULL;
    e.signed_headers = strdup(auth->signed_headers);
    snprintf(e.access_key_id, sizeof e.access_key_id, "%s", auth->access_key_id);
    pthread_mutex_lock(&log_lock);
    if (!log_entries) log_entries = calloc(LOG_MAX, sizeof *log_entries);
    if (log_entries && log_count == LOG_MAX) { /* keep the newest */
        log_entry_free(&log_entries[0]);
        memmove(log_entries, log_entries + 1, (LOG_MAX - 1) * sizeof *log_entries);
        log_count--;
    }
    if (log_entries)
        log_entries[log_count++] = e;
    else
        log_entry_free(&e);
    pthread_mutex_unlock(&log_lock);
}

static json_t *log_json(void)
{
    static const char *const kinds[] = {"none", "sigv4", "api-key"};
    json_t *list = json_array();
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < log_count; i++) {
        const struct log_entry *e = &log_entries[i];
        json_t *names = json_array();
        const char *sh = e->signed_headers ? e->signed_headers : "";
        while (*sh) {
            size_t len = strcspn(sh, ";");
            json_array_append_new(names, json_stringn(sh, len));
            sh += len + (sh[len] == ';');
        }
        json_array_append_new(
            list,
            json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:i, s:s, s:s?, s:b, s:b}", "seq",
                      (json_int_t)e->seq, "method", e->method, "path", e->path, "query", e->query,
                      "signed_headers", names, "status", (int)e->status, "auth", kinds[e->auth],
                      "access_key_id", e->access_key_id[0] ? e->access_key_id : NULL, "streamed",
                      e->streamed, "injected_failure", e->injected));
    }
    pthread_mutex_unlock(&log_lock);
    return list;
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < log_count; i++) log_entry_free(&log_entries[i]);
    free(log_entries);
    log_entries = NULL;
    log_count = 0;
    request_seq = 0;
    pthread_mutex_unlock(&log_lock);
}

/* ---- one exchange ---- */

const char *request_header(const struct request *rq, const char *name)
{
    for (size_t i = 0; i < rq->header_count; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0) return rq->headers[i].value;
    return NULL;
}

static const char *failure_message(unsigned status)
{
    switch (status) {
    case 408:
        return "Model has timed out in processing the request. Try your request again.";
    case 429:
        return "Too many requests, please wait before trying again.";
    case 500:
        return "The server had an error processing your request.";
    case 503:
        return "Bedrock is unable to process your request.";
    case 529:
        return "Overloaded";
    default:
        return "mantle-emulator: injected failure.";
    }
}

static void http_date(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm)) out[0] = 0;
}

/* Faults → authentication → injected failure → the API, then the headers every reply carries. */
static void process(const struct config *cfg, struct request *rq, bool too_large, struct reply *r)
{
    struct faults f;
    struct auth_result auth = {0};
    bool injected = false;
    char err[300];
    int64_t now = (int64_t)time(NULL) + cfg->faults.clock_skew;
    if (too_large) {
        f = cfg->faults;
        reply_error_for(r, rq, SHAPE_AUTO, 413, "Request body too large.");
        goto finish;
    }
    if (!faults_for_request(cfg, rq, &f, err, sizeof err)) {
        f = cfg->faults;
        reply_openai_error(r, 400, "invalid_request_error", err, EMU_FAULT_HEADER, NULL);
        goto finish;
    }
    if (f.delay_ms > 0) emu_sleep_ms(f.delay_ms);
    now = (int64_t)time(NULL) + f.clock_skew;
    if (!auth_check(cfg, rq, now, &auth, r)) goto finish;
    if (faults_take_failure(&f)) {
        injected = true;
        reply_error_for(r, rq, f.error_shape, f.fail_status, failure_message(f.fail_status));
        goto finish;
    }
    struct api_ctx ctx = {.cfg = cfg, .rq = rq, .faults = &f, .now = now, .path = rq->path};
    api_handle(&ctx, r);
    if (f.malformed_json && r->body && r->status < 300) r->body_len /= 2; /* cut the JSON */
    if (r->stream) sse_apply_faults(r->stream, &f);
finish:;
    char date[64];
    http_date(now, date, sizeof date);
    /* The (possibly skewed) server clock: what a client corrects its clock from. */
    reply_header(r, "Date", "%s", date);
    reply_header(r, "x-amzn-requestid", "00000000-0000-4000-8000-%012llx",
                 (unsigned long long)rq->seq);
    reply_header(r, "x-request-id", "req_%024llx", (unsigned long long)rq->seq);
    faults_add_headers(&f, injected, r);
    log_add(rq, &auth, r, injected);
    if (cfg->verbose)
        fprintf(stderr, EMU_NAME ": #%llu %s %s -> %u%s\n", (unsigned long long)rq->seq, rq->method,
                rq->path, r->status, r->stream ? " (stream)" : "");
}

/* ---- libmicrohttpd ---- */

struct header_vec {
    struct mantle_header *items;
    size_t count, cap;
    bool failed;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)key_size;
    (void)value_size;
    struct header_vec *v = cls;
    if (v->count == v->cap) {
        size_t ncap = v->cap ? v->cap * 2 : 32;
        struct mantle_header *n = realloc(v->items, ncap * sizeof *n);
        if (!n) {
            v->failed = true;
            return MHD_NO;
        }
        v->items = n;
        v->cap = ncap;
    }
    v->items[v->count++] = (struct mantle_header){key, value ? value : ""};
    return MHD_YES;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
    struct MHD_Response *resp;
    if (r->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, r->stream,
                                                 sse_free);
        if (resp) r->stream = NULL; /* libmicrohttpd frees it */
    } else {
        resp = MHD_create_response_from_buffer_with_free_callback(r->body_len,
                                                                  r->body ? r->body : NULL, free);
        if (resp) r->body = NULL;
    }
    if (!resp) return MHD_NO;
    if (r->content_type) MHD_add_response_header(resp, "Content-Type", r->content_type);
    for (size_t i = 0; i < r->header_count; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void emulator_endpoint(const char *method, const char *path, struct reply *r)
{
    if (strcmp(path, "/__emulator/requests") == 0 && strcmp(method, "GET") == 0) {
        reply_json(r, 200, log_json());
    } else if (strcmp(path, "/__emulator/reset") == 0 && strcmp(method, "POST") == 0) {
        log_reset();
        faults_reset();
        responses_reset();
        reply_json(r, 200, json_pack("{s:b}", "reset", 1));
    } else {
        reply_json(r, 404, json_pack("{s:s}", "message", "unknown emulator endpoint"));
    }
}

static enum MHD_Result respond(struct server *s, struct MHD_Connection *c, struct pending *p,
                               const char *method)
{
    struct reply r = {0};
    char *path = strndup(p->target, strcspn(p->target, "?"));
    const char *q = strchr(p->target, '?');
    struct header_vec hv = {0};
    enum MHD_Result ret = MHD_NO;
    if (!path) goto done;
    if (strncmp(path, "/__emulator/", 12) == 0) {
        emulator_endpoint(method, path, &r);
    } else if (p->target[0] != '/') {
        /* absolute-form or '*': nothing this server serves */
        reply_json(&r, 400, json_pack("{s:s}", "message", "the request target must be a path"));
    } else {
        MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_header, &hv);
        if (hv.failed) goto done;
        struct request rq = {.method = method,
                             .target = p->target,
                             .path = path,
                             .query = q ? q + 1 : NULL,
                             .headers = hv.items,
                             .header_count = hv.count,
                             .body = p->body.data,
                             .body_len = p->body.len,
                             .seq = next_seq()};
        process(s->cfg, &rq, p->too_large, &r);
    }
    ret = send_reply(c, &r);
done:
    reply_free(&r);
    free(hv.items);
    free(path);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    struct pending *p = *req_cls;
    if (!p) { /* the URI log callback could not allocate */
        p = calloc(1, sizeof *p);
        if (!p || !(p->target = strdup(url))) {
            free(p);
            return MHD_NO;
        }
        *req_cls = p;
    }
    if (!p->started) {
        p->started = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (p->body.len + *upload_data_size > EMU_MAX_BODY)
            p->too_large = true;
        else
            buf_append(&p->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return buf_failed(&p->body) ? MHD_NO : MHD_YES;
    }
    return respond(cls, c, p, method);
}

/* Called before libmicrohttpd parses the target: the only place it is still the raw bytes
 * (path and query) that the client signed. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct pending *p = calloc(1, sizeof *p);
    if (p && !(p->target = strdup(uri))) {
        free(p);
        p = NULL;
    }
    return p;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct pending *p = *req_cls;
    if (!p) return;
    free(p->target);
    buf_free(&p->body);
    free(p);
    *req_cls = NULL;
}

/* Keep the path and query arguments escaped: routing decodes ids itself, and nothing is
 * decoded twice. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const struct config *cfg = cls;
    if (!cfg->verbose) return;
    fputs(EMU_NAME ": libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

struct server *server_start(const struct config *cfg, int listen_fd, bool ipv6)
{
    struct server *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cfg = cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        (void *)cfg, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)256 * 1024, MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return NULL;
    }
    return s;
}

void server_stop(struct server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    free(s);
    log_reset();
    faults_reset();
    responses_reset();
}
