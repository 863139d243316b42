/* STS AssumeRole / AssumeRoleWithWebIdentity over the query protocol (form-encoded POST, XML
 * answer), on the blocking http_fetch helper: these calls run inside blocking providers, which
 * async callers already get on a worker thread. */
#include "sts.h"

#include <mantle/sigv4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/error_internal.h"
#include "core/secret.h"
#include "core/timeutil.h"
#include "credentials_internal.h"
#include "http_fetch.h"
#include "region.h"
#include "sts_xml.h"

/* botocore 1.29's LEGACY_GLOBAL_STS_REGIONS (args.py): with sts_regional_endpoints=legacy these
 * regions still use the global endpoint. */
static const char *const legacy_global[] = {
    "ap-northeast-1", "ap-south-1",   "ap-southeast-1", "ap-southeast-2",
    "aws-global",     "ca-central-1", "eu-central-1",   "eu-north-1",
    "eu-west-1",      "eu-west-2",    "eu-west-3",      "sa-east-1",
    "us-east-1",      "us-east-2",    "us-west-1",      "us-west-2"};

static bool is_legacy_global(const char *region)
{
    for (size_t i = 0; i < sizeof legacy_global / sizeof legacy_global[0]; i++)
        if (strcmp(region, legacy_global[i]) == 0) return true;
    return false;
}

mantle_code sts_endpoint_resolve(const struct mantle_credentials_options *o,
                                 const struct profile *profile, struct sts_endpoint *ep,
                                 struct mantle_error *err)
{
    const char *region = creds_getenv_nonempty(o, "AWS_REGION");
    const char *from = "AWS_REGION";
    if (!region) {
        region = creds_getenv_nonempty(o, "AWS_DEFAULT_REGION");
        from = "AWS_DEFAULT_REGION";
    }
    if (!region && profile) {
        region = profile_get(profile, "region");
        if (region && !*region) region = NULL;
        from = "the profile's region";
    }
    if (region && !region_is_valid(region))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "%s is not a valid AWS region name (expected e.g. us-east-1)",
                                from);
    snprintf(ep->region, sizeof ep->region, "%s", region ? region : "us-east-1");

    const char *mode = creds_getenv_nonempty(o, "AWS_STS_REGIONAL_ENDPOINTS");
    const char *mode_from = "AWS_STS_REGIONAL_ENDPOINTS";
    if (!mode && profile) {
        mode = profile_get(profile, "sts_regional_endpoints");
        mode_from = "sts_regional_endpoints in the profile";
    }
    if (mode && strcmp(mode, "legacy") != 0 && strcmp(mode, "regional") != 0)
        return mantle_error_set(err, MANTLE_E_CONFIG, "%s must be legacy or regional", mode_from);
    bool regional = mode && strcmp(mode, "regional") == 0;

    const char *ignore = creds_getenv_nonempty(o, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    const char *override = NULL;
    if (!ignore || strcasecmp(ignore, "true") != 0) {
        override = creds_getenv_nonempty(o, "AWS_ENDPOINT_URL_STS");
        if (!override) override = creds_getenv_nonempty(o, "AWS_ENDPOINT_URL");
    }
    int n;
    if (override) {
        if (strncmp(override, "http://", 7) != 0 && strncmp(override, "https://", 8) != 0)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "the STS endpoint URL override must be http:// or https://");
        const char *host = strstr(override, "://") + 3;
        bool has_path = strchr(host, '/') != NULL;
        n = snprintf(ep->url, sizeof ep->url, "%s%s", override, has_path ? "" : "/");
    } else if (!region || (!regional && is_legacy_global(region))) {
        snprintf(ep->region, sizeof ep->region, "us-east-1");
        n = snprintf(ep->url, sizeof ep->url, "https://sts.amazonaws.com/");
    } else {
        bool china = strncmp(region, "cn-", 3) == 0;
        n = snprintf(ep->url, sizeof ep->url, "https://sts.%s.amazonaws.com%s/", region,
                     china ? ".cn" : "");
    }
    if (n < 0 || (size_t)n >= sizeof ep->url)
        return mantle_error_set(err, MANTLE_E_CONFIG, "the STS endpoint URL is too long");
    return MANTLE_OK;
}

/* application/x-www-form-urlencoded as botocore's query serializer: RFC 3986 unreserved kept. */
static void form_add(struct buf *b, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (b->len) buf_append_char(b, '&');
    buf_append_str(b, key);
    buf_append_char(b, '=');
    for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.' || *s == '~') {
            buf_append_char(b, (char)*s);
        } else {
            char pct[3] = {'%', hex[*s >> 4], hex[*s & 15]};
            buf_append(b, pct, 3);
        }
    }
}

static bool retryable_code(const char *code)
{
    static const char *const codes[] = {"Throttling",
                                        "ThrottlingException",
                                        "ThrottledException",
                                        "RequestThrottledException",
                                        "TooManyRequestsException",
                                        "RequestLimitExceeded",
                                        "IDPCommunicationError",
                                        "InternalFailure",
                                        "ServiceUnavailable"};
    for (size_t i = 0; code && i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0) return true;
    return false;
}

/* "arn:aws:sts::123456789012:assumed-role/..." -> the account field, or "" */
static void account_from_arn(const char *arn, char out[32])
{
    out[0] = '\0';
    if (!arn) return;
    const char *p = arn;
    for (int field = 0; field < 4; field++) {
        p = strchr(p, ':');
        if (!p) return;
        p++;
    }
    const char *end = strchr(p, ':');
    size_t len = end ? (size_t)(end - p) : 0;
    if (len == 0 || len >= 32) return;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Reads a 200 answer into credentials. */
static mantle_code read_success(const struct sts_request *req, const struct buf *body,
                                const char *label, struct mantle_credentials **out,
                                struct mantle_error *err)
{
    static const char *const leaf[] = {"Credentials/AccessKeyId", "Credentials/SecretAccessKey",
                                       "Credentials/SessionToken", "Credentials/Expiration",
                                       "AssumedRoleUser/Arn"};
    enum { N = sizeof leaf / sizeof leaf[0] };
    char paths_store[N][160];
    const char *paths[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(paths_store[i], sizeof paths_store[i], "%sResponse/%sResult/%s", req->action,
                 req->action, leaf[i]);
        paths[i] = paths_store[i];
    }
    char *v[N] = {0};
    mantle_code rc = sts_xml_extract(body->data, body->len, paths, N, v, err);
    if (rc) {
        mantle_error_prefix(err, "%s: STS %s", label, req->action);
        return rc;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!v[i] || !*v[i]) {
            rc = mantle_error_set(err, MANTLE_E_PROTOCOL, "%s: the STS %s response has no %s",
                                  label, req->action, leaf[i]);
            goto out;
        }
    }
    int64_t expiration = 0;
    if (!time_parse_iso8601(v[3], strlen(v[3]), &expiration) || expiration <= 0) {
        rc = mantle_error_set(err, MANTLE_E_PROTOCOL,
                              "%s: the STS %s response has a malformed Credentials/Expiration",
                              label, req->action);
        goto out;
    }
    char account[32];
    account_from_arn(v[4], account);
    const struct creds_fields f = {v[0], v[1], v[2], expiration, account, label};
    if (!(*out = creds_new(&f, err))) {
        rc = err ? err->code : MANTLE_E_PROTOCOL;
        mantle_error_prefix(err, "%s: STS %s", label, req->action);
    }
out:
    sts_xml_values_free(v, N);
    return rc;
}

/* Fills err from an error answer; returns whether it is worth retrying. */
static bool read_failure(const struct sts_request *req, const struct http_fetch_response *resp,
                         const char *label, mantle_code *out_code, struct mantle_error *err)
{
    static const char *const paths[] = {"ErrorResponse/Error/Code", "ErrorResponse/Error/Message",
                                        "ErrorResponse/RequestId"};
    char *v[3] = {0};
    struct mantle_error xerr = MANTLE_ERROR_INIT;
    bool parsed = sts_xml_extract(resp->body.data, resp->body.len, paths, 3, v, &xerr) == 0;
    mantle_code code = mantle_code_for_status((int)resp->status);
    if (code == MANTLE_OK) code = MANTLE_E_HTTP;
    bool retry = resp->status >= 500 || resp->status == 429 || (parsed && retryable_code(v[0]));
    if (parsed && v[0]) {
        if (retryable_code(v[0]) && resp->status < 500) code = MANTLE_E_RATE_LIMIT;
        mantle_error_set(err, code, "%s: STS %s failed (HTTP %ld): %s: %s", label, req->action,
                         resp->status, v[0], v[1] ? v[1] : "");
    } else {
        mantle_error_set(err, code, "%s: STS %s failed with HTTP %ld", label, req->action,
                         resp->status);
    }
    if (err) {
        err->http_status = (int)resp->status;
        const char *rid = resp->captured[0] ? resp->captured[0] : (parsed ? v[2] : NULL);
        if (rid) snprintf(err->request_id, sizeof err->request_id, "%s", rid);
    }
    sts_xml_values_free(v, 3);
    *out_code = code;
    return retry;
}

static long sts_connect_ms = STS_CONNECT_TIMEOUT_MS;
static long sts_total_ms = STS_TIMEOUT_MS;

void sts_set_timeouts(long connect_ms, long total_ms)
{
    sts_connect_ms = connect_ms > 0 ? connect_ms : STS_CONNECT_TIMEOUT_MS;
    sts_total_ms = total_ms > 0 ? total_ms : STS_TIMEOUT_MS;
}

mantle_code sts_call(const struct sts_endpoint *ep, const struct sts_request *req,
                     const struct mantle_credentials *source, const char *label,
                     struct mantle_credentials **out, struct mantle_error *err)
{
    *out = NULL;
    bool web = strcmp(req->action, "AssumeRoleWithWebIdentity") == 0;
    struct buf body = BUF_INIT;
    form_add(&body, "Action", req->action);
    form_add(&body, "Version", "2011-06-15");
    form_add(&body, "RoleArn", req->role_arn);
    form_add(&body, "RoleSessionName", req->role_session_name);
    if (web && req->web_identity_token)
        form_add(&body, "WebIdentityToken", req->web_identity_token);
    if (!web && req->external_id) form_add(&body, "ExternalId", req->external_id);
    if (req->duration_seconds > 0) {
        char d[24];
        snprintf(d, sizeof d, "%ld", req->duration_seconds);
        form_add(&body, "DurationSeconds", d);
    }
    if (buf_failed(&body)) {
        buf_wipe(&body);
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }

    static const struct mantle_header content_type = {
        "Content-Type", "application/x-www-form-urlencoded; charset=utf-8"};
    struct mantle_sigv4_result *sig = mantle_sigv4_result_new();
    if (!sig) {
        buf_wipe(&body);
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    mantle_code rc = MANTLE_OK;
    int attempt = 0;
    for (attempt = 1; attempt <= STS_MAX_ATTEMPTS; attempt++) {
        if (attempt > 1) http_fetch_sleep_ms(100L << (attempt - 2)); /* 100, 200 ms */
        struct mantle_header headers[6];
        size_t nh = 0;
        headers[nh++] = content_type;
        if (source) {
            /* Signed afresh each attempt: X-Amz-Date must stay current. */
            const struct mantle_sigv4_request sreq = {
                "POST", ep->url, &content_type, 1, MANTLE_PAYLOAD_BYTES, body.data, body.len, NULL};
            const struct mantle_sigv4_credentials sc = {
                mantle_credentials_access_key_id(source),
                mantle_credentials_secret_access_key(source),
                mantle_credentials_session_token(source)};
            struct mantle_sigv4_params params = MANTLE_SIGV4_PARAMS_INIT;
            params.region = ep->region;
            params.service = "sts";
            if ((rc = mantle_sigv4_sign(&sreq, &sc, &params, sig, err))) {
                mantle_error_prefix(err, "%s: signing the STS request", label);
                break;
            }
            size_t k = mantle_sigv4_result_header_count(sig);
            const struct mantle_header *h = mantle_sigv4_result_headers(sig);
            for (size_t i = 0; i < k && nh < 6; i++) headers[nh++] = h[i];
        }
        struct http_fetch_request hreq = {
            .method = "POST",
            .url = ep->url,
            .headers = headers,
            .header_count = nh,
            .body = body.data,
            .body_len = body.len,
            .connect_timeout_ms = sts_connect_ms,
            .timeout_ms = sts_total_ms,
            .use_proxy = true, /* a real AWS endpoint: honour HTTPS_PROXY as botocore does */
            .capture = {"x-amzn-RequestId", NULL},
        };
        struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
        struct mantle_error ferr = MANTLE_ERROR_INIT;
        rc = http_fetch(&hreq, &resp, &ferr);
        bool retry = false;
        if (rc) {
            retry = rc == MANTLE_E_CONNECTION || rc == MANTLE_E_TIMEOUT;
            if (err) *err = ferr;
            mantle_error_prefix(err, "%s: STS %s", label, req->action);
        } else if (resp.status == 200) {
            rc = read_success(req, &resp.body, label, out, err);
        } else {
            retry = read_failure(req, &resp, label, &rc, err);
        }
        http_fetch_response_free(&resp);
        if (rc == MANTLE_OK || !retry) break;
    }
    if (err && rc) err->attempts = attempt > STS_MAX_ATTEMPTS ? STS_MAX_ATTEMPTS : attempt;
    mantle_sigv4_result_free(sig);
    buf_wipe(&body);
    return rc;
}
