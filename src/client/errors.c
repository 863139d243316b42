/* Error responses: which message, which AWS error type, which request id; clock-skew detection. */
#include "client/client_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "client/jsonparse.h"

const char *client_request_id(const struct http_headers *h)
{
    const char *id = http_headers_get(h, "x-amzn-requestid");
    if (!id) id = http_headers_get(h, "x-amzn-request-id");
    if (!id) id = http_headers_get(h, "x-request-id");
    return id;
}

struct error_info {
    char type[96];
    char message[400];
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static const char *json_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* "com.amazon.coral.service#ValidationException" and "Type:http://..." both give the name. */
static void set_aws_type(struct error_info *e, const char *t)
{
    if (!t || !*t) return;
    const char *hash = strrchr(t, '#');
    if (hash) t = hash + 1;
    size_t n = strcspn(t, ":");
    if (n >= sizeof e->type) n = sizeof e->type - 1;
    memcpy(e->type, t, n);
    e->type[n] = '\0';
}

static void parse_error(const struct http_headers *h, const char *body, size_t len,
                        struct error_info *e)
{
    e->type[0] = e->message[0] = '\0';
    json_t *j = NULL;
    if (body && len) j = client_json_parse(body, len, 0, NULL);
    if (json_is_object(j)) {
        json_t *inner = json_object_get(j, "error");
        if (json_is_object(inner)) { /* OpenAI and Anthropic */
            copy_str(e->message, sizeof e->message, json_str(inner, "message"));
            const char *t = json_str(inner, "type");
            if (!t) t = json_str(inner, "code");
            copy_str(e->type, sizeof e->type, t);
        } else if (json_is_string(inner)) {
            copy_str(e->message, sizeof e->message, json_string_value(inner));
        }
        if (!e->message[0]) { /* AWS JSON protocols */
            const char *m = json_str(j, "message");
            if (!m) m = json_str(j, "Message");
            copy_str(e->message, sizeof e->message, m);
        }
        if (!e->type[0]) {
            const char *t = json_str(j, "__type");
            if (!t) t = json_str(j, "code");
            if (!t) t = json_str(j, "Code");
            set_aws_type(e, t);
        }
    } else if (body && len) {
        /* Not JSON: show the start of it, on one line, printable only. */
        size_t n = 0;
        for (size_t i = 0; i < len && n < 200; i++) {
            unsigned char c = (unsigned char)body[i];
            e->message[n++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
        }
        while (n && e->message[n - 1] == ' ') n--;
        e->message[n] = '\0';
    }
    json_decref(j);
    if (!e->type[0]) set_aws_type(e, http_headers_get(h, "x-amzn-errortype"));
}

void client_error_from_response(struct mantle_error *err, int status, const struct http_headers *h,
                                const char *body, size_t len, int attempts)
{
    if (!err) return;
    struct error_info e;
    parse_error(h, body, len, &e);
    mantle_code code = mantle_code_for_status(status);
    if (code == MANTLE_OK) code = MANTLE_E_HTTP;
    if (e.type[0] && e.message[0])
        mantle_error_set(err, code, "HTTP %d %s: %s", status, e.type, e.message);
    else if (e.message[0])
        mantle_error_set(err, code, "HTTP %d: %s", status, e.message);
    else if (e.type[0])
        mantle_error_set(err, code, "HTTP %d %s", status, e.type);
    else
        mantle_error_set(err, code, "HTTP %d (%s)", status, mantle_strerror(code));
    err->http_status = status;
    err->attempts = attempts;
    copy_str(err->request_id, sizeof err->request_id, client_request_id(h));
}

static bool contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0) return true;
    return false;
}

bool client_is_clock_skew_error(int status, const struct http_headers *h, const char *body,
                                size_t len)
{
    if (status != 403 && status != 401 && status != 400) return false;
    struct error_info e;
    parse_error(h, body, len, &e);
    /* The definite ones (aws-sdk-js-v3 / .NET classification). */
    static const char *const types[] = {"RequestTimeTooSkewed", "RequestExpired",
                                        "RequestInTheFuture"};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(e.type, types[i]) == 0) return true;
    /* InvalidSignatureException / AuthFailure / SignatureDoesNotMatch are skew only when the
     * message says so: "Signature expired: ... is now earlier than ...", "Signature not yet
     * current: ... is still later than ...". */
    return contains_ci(e.message, "signature expired") ||
           contains_ci(e.message, "signature not yet current") ||
           contains_ci(e.message, "too skewed");
}
