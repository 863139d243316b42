/* Credentials from the EC2 instance metadata service, as botocore's InstanceMetadataProvider and
 * InstanceMetadataFetcher (utils.py) get them:
 *
 *   PUT /latest/api/token  (x-aws-ec2-metadata-token-ttl-seconds: 21600)   -> token (IMDSv2)
 *   GET /latest/meta-data/iam/security-credentials/         -> role name
 *   GET /latest/meta-data/iam/security-credentials/<role>   -> JSON credentials
 *
 * Configuration, read at every get: AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (or AWS_IMDS_USE_IPV6), AWS_METADATA_SERVICE_TIMEOUT
 * (seconds, default 1), AWS_METADATA_SERVICE_NUM_ATTEMPTS (default 1),
 * AWS_EC2_METADATA_V1_DISABLED.
 *
 * Token (botocore's _fetch_metadata_token): 200 gives the token; 403/404/405, a read timeout, or
 * running out of attempts (other statuses, connection errors) fall back to IMDSv1 unless
 * AWS_EC2_METADATA_V1_DISABLED=true; 400 is an error. Unlike botocore the token is cached until
 * 120 s before its TTL ends (smithy-rs's TOKEN_REFRESH_BUFFER) and renewed once on a 401.
 *
 * GETs (botocore's _get_request): up to the configured attempts, each retried on a transport
 * error, a non-200 status or an empty body (and, for the credentials, a body that is not JSON).
 *
 * What "not found" means here (the chain moves on): IMDS disabled, nothing answered at all (not on
 * EC2), or no role attached (404 or an empty role list). Once the service has answered, a failure
 * is an error that names it; botocore turns all of these into "no credentials" and only logs.
 *
 * Static stability (botocore's _evaluate_expiration): credentials expiring within the refresh
 * window plus 2-10 minutes of jitter, expired ones included, get their expiration moved to now +
 * that offset, so an IMDS outage that keeps serving old credentials does not make every caller
 * refresh (or fail) at once. */
#include "credentials_internal.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "core/secret.h"
#include "credentials/http_fetch.h"

#define ENDPOINT_IPV4 "http://169.254.169.254"
#define ENDPOINT_IPV6 "http://[fd00:ec2::254]"
#define TOKEN_PATH "/latest/api/token"
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"
#define TOKEN_TTL_HEADER "x-aws-ec2-metadata-token-ttl-seconds"
#define TOKEN_HEADER "x-aws-ec2-metadata-token"
#define TOKEN_TTL_SECS 21600
#define TOKEN_REFRESH_BUFFER_SECS 120
/* botocore's create_credential_resolver passes ec2_credential_refresh_window = 15 min. */
#define EXTENSION_WINDOW_SECS (15 * 60)
#define EXTENSION_JITTER_MIN 120
#define EXTENSION_JITTER_MAX 600

struct imds {
    struct mantle_credentials_options opts;
    pthread_mutex_t mu; /* guards the token cache */
    char *token;        /* secret; NULL when none is cached */
    char *token_endpoint;
    int64_t token_refresh_at;
};

struct config {
    char *endpoint; /* without a trailing '/' */
    long timeout_ms;
    int attempts;
    bool v1_disabled;
};

/* One retrieval. */
struct fetch {
    struct imds *im;
    struct config cfg;
    char *token; /* this retrieval's copy; NULL: IMDSv1 */
    bool token_renewed;
    bool answered;      /* the service sent some HTTP response: it exists */
    char no_token[160]; /* why there is no token, for messages */
};

/* ---- configuration ---- */

static bool env_true(const struct mantle_credentials_options *o, const char *name)
{
    const char *v = creds_getenv(o, name);
    return v && strcasecmp(v, "true") == 0;
}

static mantle_code read_endpoint(const struct mantle_credentials_options *o, struct config *c,
                                 struct mantle_error *err)
{
    const char *v = creds_getenv_nonempty(o, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (v) {
        /* botocore's is_valid_uri; the endpoint wins over the mode, as there. */
        CURLU *u = curl_url();
        char *scheme = NULL;
        bool ok = u && curl_url_set(u, CURLUPART_URL, v, 0) == CURLUE_OK &&
                  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
                  (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
        curl_free(scheme);
        curl_url_cleanup(u);
        if (!ok)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "imds: AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http:// or "
                                    "https:// URL");
    } else {
        const char *mode = creds_getenv_nonempty(o, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        bool ipv6 = env_true(o, "AWS_IMDS_USE_IPV6");
        if (mode && strcasecmp(mode, "ipv4") != 0 && strcasecmp(mode, "ipv6") != 0)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "imds: AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or "
                                    "IPv6");
        if (mode) ipv6 = strcasecmp(mode, "ipv6") == 0;
        v = ipv6 ? ENDPOINT_IPV6 : ENDPOINT_IPV4;
    }
    size_t len = strlen(v);
    while (len > 0 && v[len - 1] == '/') len--;
    if (!(c->endpoint = strndup(v, len)))
        return mantle_error_set(err, MANTLE_E_NOMEM, "imds: out of memory");
    return MANTLE_OK;
}

static mantle_code read_config(const struct mantle_credentials_options *o, struct config *c,
                               struct mantle_error *err)
{
    c->timeout_ms = 1000;
    c->attempts = 1;
    c->v1_disabled = env_true(o, "AWS_EC2_METADATA_V1_DISABLED");
    const char *t = creds_getenv_nonempty(o, "AWS_METADATA_SERVICE_TIMEOUT");
    if (t) {
        /* botocore takes an int; fractions of a second are allowed here. */
        char *end;
        double secs = strtod(t, &end);
        if (*end || !(secs > 0 && secs <= 3600))
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "imds: AWS_METADATA_SERVICE_TIMEOUT must be a number of "
                                    "seconds above 0 and at most 3600");
        c->timeout_ms = (long)(secs * 1000 + 0.5);
        if (c->timeout_ms < 1) c->timeout_ms = 1;
    }
    const char *a = creds_getenv_nonempty(o, "AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    if (a) {
        char *end;
        long n = strtol(a, &end, 10);
        if (*end || n < 1 || n > 100)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "imds: AWS_METADATA_SERVICE_NUM_ATTEMPTS must be a whole "
                                    "number from 1 to 100");
        c->attempts = (int)n;
    }
    return read_endpoint(o, c, err);
}

/* ---- HTTP ---- */

static mantle_code request(struct fetch *f, const char *method, const char *path,
                           const struct mantle_header *h, size_t nh,
                           struct http_fetch_response *resp, struct mantle_error *err)
{
    struct buf url = BUF_INIT;
    buf_printf(&url, "%s%s", f->cfg.endpoint, path);
    if (buf_failed(&url)) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct http_fetch_request req = {
        .method = method,
        .url = url.data,
        .headers = h,
        .header_count = nh,
        .connect_timeout_ms = f->cfg.timeout_ms,
        /* urllib3 applies the timeout to the connect and to each read; for these tiny replies
         * one budget per attempt is the same, and bounds a hanging endpoint by it. */
        .timeout_ms = f->cfg.timeout_ms,
        .capture = {TOKEN_TTL_HEADER, NULL},
    };
    mantle_code code = http_fetch(&req, resp, err);
    if (code == MANTLE_OK) f->answered = true;
    buf_free(&url);
    return code;
}

static void cache_token(struct fetch *f, const char *ttl_header)
{
    struct imds *im = f->im;
    long ttl = ttl_header ? strtol(ttl_header, NULL, 10) : 0;
    if (ttl <= 0 || ttl > TOKEN_TTL_SECS) ttl = TOKEN_TTL_SECS;
    char *copy = secret_strdup(f->token), *endpoint = strdup(f->cfg.endpoint);
    pthread_mutex_lock(&im->mu);
    secret_free(im->token);
    free(im->token_endpoint);
    im->token = copy;
    im->token_endpoint = endpoint;
    im->token_refresh_at = creds_now(&im->opts) + ttl - TOKEN_REFRESH_BUFFER_SECS;
    pthread_mutex_unlock(&im->mu);
}

static void cached_token(struct fetch *f)
{
    struct imds *im = f->im;
    pthread_mutex_lock(&im->mu);
    if (im->token && im->token_endpoint && strcmp(im->token_endpoint, f->cfg.endpoint) == 0 &&
        creds_now(&im->opts) < im->token_refresh_at)
        f->token = secret_strdup(im->token); /* NULL when out of memory: fetch a new one */
    pthread_mutex_unlock(&im->mu);
}

static void drop_cached_token(struct fetch *f)
{
    struct imds *im = f->im;
    pthread_mutex_lock(&im->mu);
    if (im->token && f->token && strcmp(im->token, f->token) == 0) {
        secret_free(im->token);
        im->token = NULL;
    }
    pthread_mutex_unlock(&im->mu);
    secret_free(f->token);
    f->token = NULL;
}

/* botocore's _fetch_metadata_token. MANTLE_OK with f->token set, or NULL for the IMDSv1
 * fallback; an error for a 400 or when the fallback is disabled. */
static mantle_code fetch_token(struct fetch *f, struct mantle_error *err)
{
    const struct mantle_header ttl = {TOKEN_TTL_HEADER, "21600"};
    struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
    mantle_code code = MANTLE_OK;
    for (int attempt = 1; attempt <= f->cfg.attempts; attempt++) {
        struct mantle_error e = MANTLE_ERROR_INIT;
        code = request(f, "PUT", TOKEN_PATH, &ttl, 1, &resp, &e);
        if (code != MANTLE_OK) {
            snprintf(f->no_token, sizeof f->no_token, "the token request failed: %.120s",
                     e.message);
            /* A read timeout gives up at once (botocore's ReadTimeoutError); a connect timeout
             * or a connection error is retried. */
            if (code == MANTLE_E_TIMEOUT && resp.connected) break;
            continue;
        }
        long s = resp.status;
        /* A token goes into a header: one with a line break is not a token. */
        if (s == 200 && resp.body.len > 0 && !strpbrk(resp.body.data, "\r\n")) {
            f->token = secret_strdup(resp.body.data);
            if (!f->token) {
                code = mantle_error_set(err, MANTLE_E_NOMEM, "imds: out of memory");
                goto out;
            }
            cache_token(f, resp.captured[0]);
            goto out;
        }
        snprintf(f->no_token, sizeof f->no_token, "the token request returned HTTP %ld%s", s,
                 s == 200 ? " without a usable token" : "");
        if (s == 400) {
            code = mantle_error_set(err, MANTLE_E_BAD_REQUEST,
                                    "imds: PUT " TOKEN_PATH " at %s was refused as malformed "
                                    "(HTTP 400)",
                                    f->cfg.endpoint);
            if (err) err->http_status = 400, err->attempts = attempt;
            goto out;
        }
        if (s == 403 || s == 404 || s == 405 || s == 200) break;
    }
    code = MANTLE_OK;
    if (f->cfg.v1_disabled)
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "imds: no IMDSv2 token from %s (%s) and IMDSv1 is disabled "
                                "(AWS_EC2_METADATA_V1_DISABLED)",
                                f->cfg.endpoint, f->no_token);
out:
    http_fetch_response_free(&resp);
    return code;
}

/* Turns the last failure of a GET into the provider's answer (see the top of the file). */
static mantle_code get_failed(struct fetch *f, const char *path, mantle_code code, long status,
                              const char *detail, int attempts, bool role_list,
                              struct mantle_error *err)
{
    if (!f->answered)
        return creds_not_found(err, "imds (no instance metadata service at %s: %s)",
                               f->cfg.endpoint, detail);
    if (role_list && (status == 404 || (status == 200 && code == MANTLE_E_PROTOCOL)))
        return creds_not_found(err, "imds (no IAM role attached: GET %s at %s %s)", path,
                               f->cfg.endpoint, status == 404 ? "returned 404" : "was empty");
    const char *hint = "";
    if (status == 401 && !f->token)
        hint = " (IMDSv1 refused and no IMDSv2 token; in a container, the instance's metadata "
               "hop limit may need to be 2)";
    mantle_error_set(err, code, "imds: GET %s at %s: %s%s%s%s", path, f->cfg.endpoint, detail, hint,
                     f->token ? "" : "; ", f->token ? "" : f->no_token);
    if (err) err->http_status = (int)status, err->attempts = attempts;
    return code;
}

/* botocore's _get_request: up to the configured attempts. With doc set, the body must also be a
 * JSON object, returned in *doc. */
static mantle_code get(struct fetch *f, const char *path, bool role_list,
                       struct http_fetch_response *resp, json_t **doc, struct mantle_error *err)
{
    mantle_code code = MANTLE_OK;
    long status = 0;
    char detail[MANTLE_ERROR_MESSAGE_SIZE] = "";
    int attempt = 0;
    while (attempt < f->cfg.attempts) {
        attempt++;
        struct mantle_header h = {TOKEN_HEADER, f->token ? f->token : ""};
        struct mantle_error e = MANTLE_ERROR_INIT;
        code = request(f, "GET", path, &h, f->token ? 1 : 0, resp, &e);
        status = resp->status;
        if (code != MANTLE_OK) {
            snprintf(detail, sizeof detail, "%s", e.message);
            continue;
        }
        if (status == 401 && f->token && !f->token_renewed) {
            /* The token expired early, or IMDS restarted: renew it once, for free. */
            drop_cached_token(f);
            f->token_renewed = true;
            if ((code = fetch_token(f, err)) != MANTLE_OK) return code;
            attempt--;
            continue;
        }
        if (status != 200) {
            code = mantle_code_for_status((int)status);
            if (code == MANTLE_OK) code = MANTLE_E_HTTP;
            snprintf(detail, sizeof detail, "HTTP %ld", status);
            continue;
        }
        code = MANTLE_E_PROTOCOL;
        if (resp->body.len == 0) {
            snprintf(detail, sizeof detail, "empty response");
            continue;
        }
        if (doc && !(*doc = metadata_json_parse(resp->body.data, resp->body.len))) {
            snprintf(detail, sizeof detail, "the response is not a JSON object");
            continue;
        }
        return MANTLE_OK;
    }
    return get_failed(f, path, code, status, detail, attempt, role_list, err);
}

/* ---- credentials ---- */

/* The first line of the role list, if it is a valid IAM role name (it goes into a URL path). */
static bool parse_role(char *body, char **role)
{
    size_t n = strcspn(body, "\r\n");
    while (n > 0 && (body[n - 1] == ' ' || body[n - 1] == '\t')) n--;
    body[n] = '\0';
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = body[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  strchr("+=,.@_-", c);
        if (!ok) return false;
    }
    *role = body;
    return true;
}

/* A service-written string made safe and short for a message. */
static void sanitize(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in && in[i] && i + 1 < size; i++) out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    out[i] = '\0';
}

static int64_t jitter(void)
{
    unsigned r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof r) != 1) r = (unsigned)rand();
    return EXTENSION_JITTER_MIN + (int64_t)(r % (EXTENSION_JITTER_MAX - EXTENSION_JITTER_MIN + 1));
}

static mantle_code build_creds(struct fetch *f, const char *role, json_t *doc,
                               struct mantle_credentials **out, struct mantle_error *err)
{
    const char *code = json_string_value(json_object_get(doc, "Code"));
    if (code && strcmp(code, "Success") != 0) {
        char c[64], m[200];
        sanitize(code, c, sizeof c);
        sanitize(json_string_value(json_object_get(doc, "Message")), m, sizeof m);
        return mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "imds: the credentials for role %s came back with Code %s%s%s",
                                role, c, m[0] ? ": " : "", m);
    }
    struct metadata_creds mc;
    mantle_code rc = metadata_creds_read(doc, "imds", &mc, err);
    if (rc != MANTLE_OK) return rc;

    int64_t now = creds_now(&f->im->opts);
    int64_t offset = EXTENSION_WINDOW_SECS + jitter();
    if (now >= mc.expiration - offset) mc.expiration = now + offset;

    struct buf source = BUF_INIT;
    buf_printf(&source, "imds (%s, role %s)", f->cfg.endpoint, role);
    if (buf_failed(&source)) return mantle_error_set(err, MANTLE_E_NOMEM, "imds: out of memory");
    const struct creds_fields fields = {
        mc.access_key_id, mc.secret_access_key, mc.token, mc.expiration, NULL, source.data};
    struct mantle_error cerr = MANTLE_ERROR_INIT;
    *out = creds_new(&fields, &cerr);
    buf_free(&source);
    if (*out) return MANTLE_OK;
    if (err) *err = cerr;
    mantle_error_prefix(err, "imds");
    return cerr.code;
}

static mantle_code imds_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct fetch f = {.im = impl};
    if (env_true(&f.im->opts, "AWS_EC2_METADATA_DISABLED"))
        return creds_not_found(err, "imds (AWS_EC2_METADATA_DISABLED=true)");
    struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
    struct buf path = BUF_INIT;
    json_t *doc = NULL;
    char *role = NULL;
    mantle_code code = read_config(&f.im->opts, &f.cfg, err);
    if (code != MANTLE_OK) goto out;

    cached_token(&f);
    if (!f.token && (code = fetch_token(&f, err)) != MANTLE_OK) goto out;
    if ((code = get(&f, CREDS_PATH, true, &resp, NULL, err)) != MANTLE_OK) goto out;
    if (!parse_role(resp.body.data, &role)) {
        code = mantle_error_set(err, MANTLE_E_PROTOCOL,
                                "imds: GET " CREDS_PATH " at %s did not return an IAM role name",
                                f.cfg.endpoint);
        goto out;
    }
    if (!(role = strdup(role))) {
        code = mantle_error_set(err, MANTLE_E_NOMEM, "imds: out of memory");
        goto out;
    }
    buf_printf(&path, CREDS_PATH "%s", role);
    if (buf_failed(&path)) {
        code = mantle_error_set(err, MANTLE_E_NOMEM, "imds: out of memory");
        goto out;
    }
    if ((code = get(&f, path.data, false, &resp, &doc, err)) != MANTLE_OK) goto out;
    code = build_creds(&f, role, doc, out, err);
out:
    metadata_json_release(doc);
    http_fetch_response_free(&resp);
    buf_free(&path);
    free(role);
    secret_free(f.token);
    free(f.cfg.endpoint);
    return code;
}

static void imds_destroy(void *impl)
{
    struct imds *im = impl;
    secret_free(im->token);
    free(im->token_endpoint);
    pthread_mutex_destroy(&im->mu);
    creds_options_free(&im->opts);
    free(im);
}

static const struct mantle_credentials_provider_vtable imds_vtable = {
    .get = imds_get, /* blocking: async callers get a worker thread */
    .destroy = imds_destroy,
};

struct mantle_credentials_provider *
mantle_credentials_provider_new_imds(const struct mantle_credentials_options *opts,
                                     struct mantle_error *err)
{
    struct imds *im = calloc(1, sizeof *im);
    if (!im || !creds_options_copy(&im->opts, opts)) {
        free(im);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the IMDS provider");
        return NULL;
    }
    pthread_mutex_init(&im->mu, NULL);
    struct mantle_credentials_provider *p = provider_new(&imds_vtable, im, err);
    if (!p) imds_destroy(im);
    return p;
}
