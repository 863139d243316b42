/* Secrets out of anything shown to people: header values and URL query parameters. */
#include "client/client_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const secret_headers[] = {
    "authorization", "proxy-authorization", "x-amz-security-token", "x-api-key", "api-key",
    "cookie",        "set-cookie",          "x-amz-signature",
};

static const char *const secret_params[] = {
    "x-amz-signature", "x-amz-security-token", "api-key",   "api_key", "apikey", "key",
    "token",           "access_token",         "signature",
};

bool redact_header_is_secret(const char *name)
{
    for (size_t i = 0; i < sizeof secret_headers / sizeof secret_headers[0]; i++)
        if (strcasecmp(name, secret_headers[i]) == 0) return true;
    return false;
}

const char *redact_header_value(const char *name, const char *value)
{
    if (redact_header_is_secret(name)) return REDACTED;
    /* A Bedrock API key pasted into any other header is still a secret. */
    if (value && strstr(value, "bedrock-api-key-")) return REDACTED;
    return value;
}

static bool param_is_secret(const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof secret_params / sizeof secret_params[0]; i++)
        if (strlen(secret_params[i]) == len && strncasecmp(key, secret_params[i], len) == 0)
            return true;
    return false;
}

void redact_append_url(struct buf *b, const char *url)
{
    const char *q = strchr(url, '?');
    if (!q) {
        buf_append_str(b, url);
        return;
    }
    buf_append(b, url, (size_t)(q + 1 - url));
    const char *p = q + 1;
    while (*p && *p != '#') {
        size_t len = strcspn(p, "&#");
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        if (eq && param_is_secret(p, klen)) {
            buf_append(b, p, klen + 1);
            buf_append_str(b, REDACTED);
        } else {
            buf_append(b, p, len);
        }
        p += len;
        if (*p == '&') buf_append_char(b, *p++);
    }
    buf_append_str(b, p);
}

/* Length of a label's value: up to a delimiter that cannot be part of a token or header value. */
static size_t value_len(const char *v)
{
    size_t n = 0;
    while (v[n] && !strchr(" \t\r\n,;&\"'", v[n])) n++;
    return n;
}

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

void redact_message(char *msg, size_t cap, const char *const *secrets, size_t n)
{
    static const char *const labels[] = {"x-amz-security-token", "authorization", "x-api-key",
                                         "x-amz-signature"};
    struct buf out = BUF_INIT;
    size_t len = strlen(msg);
    for (size_t i = 0; i < len;) {
        bool done = false;
        for (size_t s = 0; s < n && !done; s++) {
            const char *sec = secrets[s];
            size_t sl = sec ? strlen(sec) : 0;
            if (sl < 4) continue;
            size_t avail = len - i;
            /* Whole, or cut short by the end of the message (a truncated quote). */
            if (strncmp(msg + i, sec, avail < sl ? avail : sl) == 0 &&
                (avail >= sl || avail >= 4)) {
                buf_append_str(&out, REDACTED);
                i += avail < sl ? avail : sl;
                done = true;
            }
        }
        for (size_t l = 0; l < sizeof labels / sizeof *labels && !done; l++) {
            if (!starts_with_ci(msg + i, labels[l])) continue;
            size_t j = i + strlen(labels[l]);
            if (msg[j] != ':' && msg[j] != '=') continue;
            j++;
            while (msg[j] == ' ') j++;
            buf_append(&out, msg + i, j - i);
            size_t vl = value_len(msg + j);
            /* "Authorization: AWS4-HMAC-SHA256 Credential=..." has spaces: take the line. */
            if (l == 1) vl = strcspn(msg + j, "\r\n");
            if (vl) buf_append_str(&out, REDACTED);
            i = j + vl;
            done = true;
        }
        if (!done) buf_append_char(&out, msg[i++]);
    }
    if (!buf_failed(&out)) {
        size_t m = out.len < cap - 1 ? out.len : cap - 1;
        memcpy(msg, out.data, m);
        msg[m] = '\0';
    } else {
        snprintf(msg, cap, "(error message withheld: it could not be scrubbed of secrets)");
    }
    buf_wipe(&out);
}
