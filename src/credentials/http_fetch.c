/* A blocking HTTP exchange on a libcurl easy handle, for the metadata credential providers, and
 * the reading of their JSON credential documents. See http_fetch.h. */
#include "http_fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error_internal.h"
#include "core/secret.h"
#include "core/timeutil.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
    /* Never cleaned up: a library cannot know when the process is done with libcurl. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
    struct buf *body;
    size_t max;
    bool too_large;
};

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (len > s->max - s->body->len) {
        s->too_large = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    buf_append(s->body, data, len);
    return buf_failed(s->body) ? 0 : len;
}

/* Header lines hold secrets (the IMDS token, the container Authorization): wipe them before
 * libcurl frees its copies. */
static void free_header_list(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next) secret_wipe(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

static bool append_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next) *list = next;
    return next != NULL;
}

static struct curl_slist *build_headers(const struct http_fetch_request *req)
{
    struct curl_slist *list = NULL;
    struct buf line = BUF_INIT;
    bool ok = true;
    for (size_t i = 0; ok && i < req->header_count; i++) {
        buf_reset(&line);
        /* Appended piecewise, not printf'd: no stack copy of a secret value is left behind.
         * "Name;" is libcurl's way to send a header with an empty value. */
        buf_append_str(&line, req->headers[i].name);
        buf_append_str(&line, req->headers[i].value[0] ? ": " : ";");
        buf_append_str(&line, req->headers[i].value);
        ok = !buf_failed(&line) && append_line(&list, line.data);
    }
    /* A PUT body is not a form; and never wait for "100 Continue". */
    ok = ok && append_line(&list, "Content-Type:") && append_line(&list, "Expect:");
    buf_wipe(&line);
    if (!ok) {
        free_header_list(list);
        return NULL;
    }
    return list;
}

static mantle_code map_curl_error(CURLcode rc, const struct sink *sink, const char *errbuf,
                                  const struct http_fetch_request *req, struct mantle_error *err)
{
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (sink->too_large)
        return mantle_error_set(err, MANTLE_E_PROTOCOL, "the response is larger than %zu bytes",
                                sink->max);
    if (buf_failed(sink->body)) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return mantle_error_set(err, MANTLE_E_TIMEOUT, "timed out (connect %ld ms, total %ld ms)",
                                req->connect_timeout_ms, req->timeout_ms);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "bad URL: %s", detail);
    case CURLE_OUT_OF_MEMORY:
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    default:
        return mantle_error_set(err, MANTLE_E_CONNECTION, "%s", detail);
    }
}

static void capture_headers(CURL *e, const struct http_fetch_request *req,
                            struct http_fetch_response *resp)
{
    for (size_t i = 0; i < HTTP_FETCH_MAX_CAPTURE && req->capture[i]; i++) {
        struct curl_header *h = NULL;
        if (curl_easy_header(e, req->capture[i], 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h)
            resp->captured[i] = strdup(h->value); /* NULL when out of memory: as if absent */
    }
}

mantle_code http_fetch(const struct http_fetch_request *req, struct http_fetch_response *resp,
                       struct mantle_error *err)
{
    http_fetch_response_free(resp); /* a previous attempt's */
    resp->status = 0;
    resp->connected = false;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return mantle_error_set(err, MANTLE_E_CONNECTION, "libcurl could not be initialized: %s",
                                curl_easy_strerror(global_rc));
    CURL *e = curl_easy_init();
    struct curl_slist *headers = e ? build_headers(req) : NULL;
    if (!headers) {
        curl_easy_cleanup(e);
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory preparing a request");
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    struct sink sink = {&resp->body, req->max_body ? req->max_body : HTTP_FETCH_MAX_BODY, false};
    /* Room for a whole credential document up front: growing would leave unwiped copies. */
    buf_reserve(&resp->body, 4096);
    buf_append(&resp->body, "", 0); /* the body is a string even when empty */

    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(e, CURLOPT_URL, req->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* we run on worker threads */
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "mantle/" MANTLE_VERSION_STRING);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
    rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)sink.max);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    if (!req->use_proxy) rc |= curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (strcmp(req->method, "GET") == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        /* POSTFIELDS gives a Content-Length body (0 bytes too); the method is then replaced. */
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    }
    mantle_code code = MANTLE_OK;
    if (rc != CURLE_OK) {
        code = mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                                "libcurl refused an option for this request");
        goto out;
    }
    rc = curl_easy_perform(e);
    long connects = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    resp->connected = connects > 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    if (rc == CURLE_FILESIZE_EXCEEDED) sink.too_large = true;
    if (rc != CURLE_OK) {
        code = map_curl_error(rc, &sink, errbuf, req, err);
        goto out;
    }
    if (buf_failed(&resp->body)) {
        code = mantle_error_set(err, MANTLE_E_NOMEM, "out of memory reading a response");
        goto out;
    }
    capture_headers(e, req, resp);
out:
    curl_easy_cleanup(e);
    free_header_list(headers);
    return code;
}

void http_fetch_response_free(struct http_fetch_response *resp)
{
    if (!resp) return;
    buf_wipe(&resp->body);
    for (size_t i = 0; i < HTTP_FETCH_MAX_CAPTURE; i++) {
        free(resp->captured[i]);
        resp->captured[i] = NULL;
    }
}

void http_fetch_sleep_ms(long ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- credential documents ---- */

json_t *metadata_json_parse(const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static const char *member_string(json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));
    return s && s[0] ? s : NULL;
}

mantle_code metadata_creds_read(json_t *doc, const char *who, struct metadata_creds *out,
                                struct mantle_error *err)
{
    static const char *const required[] = {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"};
    const char *v[4];
    for (size_t i = 0; i < 4; i++) {
        if (!(v[i] = member_string(doc, required[i])))
            return mantle_error_set(err, MANTLE_E_PROTOCOL,
                                    "%s: the credentials document has no %s", who, required[i]);
    }
    out->access_key_id = v[0];
    out->secret_access_key = v[1];
    out->token = v[2];
    out->account_id = member_string(doc, "AccountId");
    if (!time_parse_iso8601(v[3], strlen(v[3]), &out->expiration) || out->expiration <= 0)
        return mantle_error_set(err, MANTLE_E_PROTOCOL,
                                "%s: the credentials document's Expiration is not an ISO 8601 "
                                "timestamp",
                                who);
    return MANTLE_OK;
}

static void wipe_member(json_t *doc, const char *name)
{
    json_t *s = json_object_get(doc, name);
    /* jansson owns a writable copy; const is only its API's promise to readers. */
    if (json_is_string(s)) secret_wipe((char *)json_string_value(s), json_string_length(s));
}

void metadata_json_release(json_t *doc)
{
    if (!doc) return;
    wipe_member(doc, "SecretAccessKey");
    wipe_member(doc, "Token");
    json_decref(doc);
}
