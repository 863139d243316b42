#include "error_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    const char *text;
} code_info[] = {
    [MANTLE_OK] = {"ok", "success"},
    [MANTLE_E_INVALID_ARGUMENT] = {"invalid_argument", "invalid argument"},
    [MANTLE_E_NOMEM] = {"nomem", "out of memory"},
    [MANTLE_E_CONFIG] = {"config", "configuration error"},
    [MANTLE_E_CREDENTIALS] = {"credentials", "credentials error"},
    [MANTLE_E_SIGNING] = {"signing", "request could not be signed"},
    [MANTLE_E_CONNECTION] = {"connection", "connection error"},
    [MANTLE_E_TIMEOUT] = {"timeout", "request timed out"},
    [MANTLE_E_BAD_REQUEST] = {"bad_request", "bad request (HTTP 400)"},
    [MANTLE_E_AUTHENTICATION] = {"authentication", "authentication failed (HTTP 401)"},
    [MANTLE_E_PERMISSION_DENIED] = {"permission_denied", "permission denied (HTTP 403)"},
    [MANTLE_E_NOT_FOUND] = {"not_found", "not found (HTTP 404)"},
    [MANTLE_E_CONFLICT] = {"conflict", "conflict (HTTP 409)"},
    [MANTLE_E_UNPROCESSABLE] = {"unprocessable_entity", "unprocessable entity (HTTP 422)"},
    [MANTLE_E_RATE_LIMIT] = {"rate_limit", "rate limited (HTTP 429)"},
    [MANTLE_E_SERVER] = {"server", "server error (HTTP 5xx)"},
    [MANTLE_E_HTTP] = {"http", "unexpected HTTP status"},
    [MANTLE_E_STREAM] = {"stream", "event stream error"},
    [MANTLE_E_CANCELLED] = {"cancelled", "cancelled"},
    [MANTLE_E_PROTOCOL] = {"protocol", "malformed response"},
    [MANTLE_E_IO] = {"io", "local I/O error"},
};

#define CODE_COUNT (sizeof code_info / sizeof code_info[0])

const char *mantle_code_name(mantle_code code)
{
    if ((unsigned)code >= CODE_COUNT) return "unknown";
    return code_info[code].name;
}

const char *mantle_strerror(mantle_code code)
{
    if ((unsigned)code >= CODE_COUNT) return "unknown error";
    return code_info[code].text;
}

void mantle_error_clear(struct mantle_error *err)
{
    if (err) memset(err, 0, sizeof *err);
}

mantle_code mantle_code_for_status(int s)
{
    if (s >= 100 && s < 400) return MANTLE_OK;
    switch (s) {
    case 400:
        return MANTLE_E_BAD_REQUEST;
    case 401:
        return MANTLE_E_AUTHENTICATION;
    case 403:
        return MANTLE_E_PERMISSION_DENIED;
    case 404:
        return MANTLE_E_NOT_FOUND;
    case 409:
        return MANTLE_E_CONFLICT;
    case 422:
        return MANTLE_E_UNPROCESSABLE;
    case 429:
        return MANTLE_E_RATE_LIMIT;
    default:
        return (s >= 500 && s < 600) ? MANTLE_E_SERVER : MANTLE_E_HTTP;
    }
}

mantle_code mantle_error_set(struct mantle_error *err, mantle_code code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void mantle_error_prefix(struct mantle_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[MANTLE_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    /* Build "prefix: message" in place, truncating the old message to what fits. */
    size_t plen = strlen(prefix);
    if (plen + 2 >= sizeof err->message) plen = sizeof err->message - 3;
    size_t room = sizeof err->message - plen - 3;
    size_t mlen = strnlen(err->message, room);
    memmove(err->message + plen + 2, err->message, mlen);
    memcpy(err->message, prefix, plen);
    err->message[plen] = ':';
    err->message[plen + 1] = ' ';
    err->message[plen + 2 + mlen] = '\0';
}
