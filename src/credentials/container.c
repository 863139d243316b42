/* Credentials from the container endpoint (ECS task roles, EKS Pod Identity), as botocore's
 * ContainerProvider and ContainerMetadataFetcher (utils.py) get them:
 *
 *   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI   appended to http://169.254.170.2; wins over
 *   AWS_CONTAINER_CREDENTIALS_FULL_URI       any https URL, or http to an allowed host
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE   re-read at every fetch (EKS rotates it); wins over
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN        sent as "Authorization: <token>"; CR/LF is an error
 *
 * GET with Accept: application/json, 2 s timeout, 3 attempts with 1 s between them; every failure
 * is retried (transport, non-200, a body that is not JSON), as botocore does. The reply holds
 * AccessKeyId, SecretAccessKey, Token, Expiration and optionally AccountId. Neither URI variable
 * set means "not found"; anything else that goes wrong is an error (botocore raises). Variables
 * are read at every get; an empty one counts as unset. */
#include "credentials_internal.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "core/secret.h"
#include "credentials/http_fetch.h"

#define ECS_BASE "http://169.254.170.2"
#define VAR_RELATIVE "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
#define VAR_FULL "AWS_CONTAINER_CREDENTIALS_FULL_URI"
#define VAR_TOKEN "AWS_CONTAINER_AUTHORIZATION_TOKEN"
#define VAR_TOKEN_FILE "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
#define ATTEMPTS 3
#define MAX_TOKEN_BYTES (16 * 1024)

struct container {
    struct mantle_credentials_options opts;
    char *relative_base;
    long retry_delay_ms, timeout_ms;
};

/* ---- which URL ---- */

/* The FULL_URI check compares the literal host (botocore), not the addresses it resolves to (CRT,
 * smithy-rs): checking resolved addresses needs a DNS lookup of our own, whose answer may differ
 * from the one libcurl gets a moment later unless the address is pinned. A literal check needs no
 * DNS. The host is taken from libcurl's own parse and the URL libcurl then fetches is its
 * normalized form, so what is checked is what gets connected to ("127.1", "0x7f.0.0.1" and
 * "2130706433" all become 127.0.0.1). "localhost" never reaches DNS either: libcurl (since 7.78)
 * answers it with 127.0.0.1 and ::1 itself. */
static bool host_allowed(const char *host)
{
    char bare[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= sizeof bare) return false;
    memcpy(bare, host, n);
    bare[n] = '\0';
    unsigned char a[16];
    if (inet_pton(AF_INET, bare, a) == 1) {
        static const unsigned char ecs[4] = {169, 254, 170, 2}, eks[4] = {169, 254, 170, 23};
        return a[0] == 127 || memcmp(a, ecs, 4) == 0 || memcmp(a, eks, 4) == 0;
    }
    if (inet_pton(AF_INET6, bare, a) == 1) {
        static const unsigned char loop[16] = {[15] = 1};
        static const unsigned char eks[16] = {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x23};
        return memcmp(a, loop, 16) == 0 || memcmp(a, eks, 16) == 0;
    }
    return strcasecmp(bare, "localhost") == 0;
}

/* Parses url with libcurl; on success *u holds it and *scheme its scheme (curl_free). */
static bool parse_url(const char *url, CURLU **u, char **scheme)
{
    *scheme = NULL;
    *u = curl_url();
    if (*u && curl_url_set(*u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(*u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
        (strcmp(*scheme, "http") == 0 || strcmp(*scheme, "https") == 0))
        return true;
    curl_free(*scheme);
    *scheme = NULL;
    curl_url_cleanup(*u);
    *u = NULL;
    return false;
}

bool creds_container_url_allowed(const char *url, char **normalized, struct mantle_error *err)
{
    CURLU *u;
    char *scheme, *host = NULL;
    *normalized = NULL;
    if (!parse_url(url, &u, &scheme)) {
        mantle_error_set(err, MANTLE_E_CONFIG,
                         "container: " VAR_FULL " is not an http:// or https:// URL");
        return false;
    }
    bool ok = curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              (strcmp(scheme, "https") == 0 || host_allowed(host));
    if (!ok)
        mantle_error_set(err, MANTLE_E_CONFIG,
                         "container: " VAR_FULL " host '%s' is not allowed over http; use https, "
                         "a loopback address, localhost, 169.254.170.2, 169.254.170.23 or "
                         "fd00:ec2::23",
                         host ? host : "");
    else if (curl_url_get(u, CURLUPART_URL, normalized, 0) != CURLUE_OK)
        ok = !mantle_error_set(err, MANTLE_E_NOMEM, "container: out of memory");
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

/* The URL to fetch (curl_free) and, for messages and the source, its scheme://host[:port]: the
 * path can be a capability (the ECS relative URI is a per-task secret-ish GUID). */
static mantle_code resolve_url(const struct container *c, char **url, const char **var,
                               char *origin, size_t size, struct mantle_error *err)
{
    const char *rel = creds_getenv_nonempty(&c->opts, VAR_RELATIVE);
    const char *full = rel ? NULL : creds_getenv_nonempty(&c->opts, VAR_FULL);
    *url = NULL;
    if (!rel && !full)
        return creds_not_found(err, "container (" VAR_RELATIVE " and " VAR_FULL " not set)");
    *var = rel ? VAR_RELATIVE : VAR_FULL;
    if (full && !creds_container_url_allowed(full, url, err))
        return err ? err->code : MANTLE_E_CONFIG;
    if (rel) {
        /* A missing leading '/' is added, or "@host/..." would change the host. */
        struct buf b = BUF_INIT;
        buf_printf(&b, "%s%s%s", c->relative_base ? c->relative_base : ECS_BASE,
                   rel[0] == '/' ? "" : "/", rel);
        CURLU *u;
        char *scheme;
        bool ok = !buf_failed(&b) && parse_url(b.data, &u, &scheme);
        buf_free(&b);
        if (!ok)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "container: " VAR_RELATIVE " does not make a valid URL");
        if (curl_url_get(u, CURLUPART_URL, url, 0) != CURLUE_OK) *url = NULL;
        curl_free(scheme);
        curl_url_cleanup(u);
        if (!*url) return mantle_error_set(err, MANTLE_E_NOMEM, "container: out of memory");
    }
    CURLU *u;
    char *scheme, *host = NULL, *port = NULL;
    if (parse_url(*url, &u, &scheme)) {
        curl_url_get(u, CURLUPART_HOST, &host, 0);
        curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when the URL names one */
        snprintf(origin, size, "%s://%s%s%s", scheme, host ? host : "", port ? ":" : "",
                 port ? port : "");
        curl_free(host);
        curl_free(port);
        curl_free(scheme);
        curl_url_cleanup(u);
    }
    return MANTLE_OK;
}

/* ---- the authorization token ---- */

static mantle_code read_token_file(const char *path, char **token, struct mantle_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mantle_error_set(err, MANTLE_E_IO,
                                "container: cannot open " VAR_TOKEN_FILE " (%s): %s", path,
                                strerror(errno));
    char *data = malloc(MAX_TOKEN_BYTES + 1);
    size_t n = data ? fread(data, 1, MAX_TOKEN_BYTES + 1, f) : 0;
    bool failed = data && ferror(f);
    fclose(f);
    mantle_code code = MANTLE_OK;
    if (!data)
        code = mantle_error_set(err, MANTLE_E_NOMEM, "container: out of memory");
    else if (failed)
        code = mantle_error_set(err, MANTLE_E_IO, "container: cannot read " VAR_TOKEN_FILE " (%s)",
                                path);
    else if (n > MAX_TOKEN_BYTES)
        code = mantle_error_set(err, MANTLE_E_CONFIG,
                                "container: " VAR_TOKEN_FILE " (%s) is larger than %d bytes", path,
                                MAX_TOKEN_BYTES);
    else if (memchr(data, '\0', n))
        code = mantle_error_set(err, MANTLE_E_CONFIG,
                                "container: " VAR_TOKEN_FILE " (%s) holds a NUL byte", path);
    if (code != MANTLE_OK) {
        if (data) secret_wipe(data, MAX_TOKEN_BYTES + 1);
        free(data);
        return code;
    }
    data[n] = '\0';
    *token = data;
    return MANTLE_OK;
}

/* *token: NULL when no token is configured. botocore's _build_headers and _validate_auth_token. */
static mantle_code read_token(const struct container *c, char **token, struct mantle_error *err)
{
    *token = NULL;
    const char *path = creds_getenv_nonempty(&c->opts, VAR_TOKEN_FILE);
    const char *var = path ? VAR_TOKEN_FILE : VAR_TOKEN;
    if (path) {
        mantle_code code = read_token_file(path, token, err);
        if (code != MANTLE_OK) return code;
    } else {
        const char *v = creds_getenv_nonempty(&c->opts, VAR_TOKEN);
        if (v && !(*token = secret_strdup(v)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "container: out of memory");
    }
    if (*token && strpbrk(*token, "\r\n")) {
        secret_free(*token);
        *token = NULL;
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "container: the authorization token from %s contains a CR or LF, "
                                "which a header cannot hold",
                                var);
    }
    return MANTLE_OK;
}

/* ---- fetching ---- */

/* The "code"/"message" of a JSON error reply, if any, made safe for a message; dropped if it
 * echoes the token. */
static void error_detail(const struct http_fetch_response *resp, const char *token, char *out,
                         size_t size)
{
    out[0] = '\0';
    json_t *doc = metadata_json_parse(resp->body.data, resp->body.len);
    const char *code = json_string_value(json_object_get(doc, "code"));
    const char *msg = json_string_value(json_object_get(doc, "message"));
    if (code || msg) {
        snprintf(out, size, ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
        for (char *p = out; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
        if (token && token[0] && strstr(out, token)) out[0] = '\0';
    }
    json_decref(doc);
}

static mantle_code fetch(const struct container *c, const char *url, const char *var,
                         const char *origin, const char *token, json_t **doc,
                         struct mantle_error *err)
{
    const struct mantle_header h[2] = {{"Accept", "application/json"},
                                       {"Authorization", token ? token : ""}};
    struct http_fetch_request req = {
        .method = "GET",
        .url = url,
        .headers = h,
        .header_count = token ? 2 : 1,
        .connect_timeout_ms = c->timeout_ms,
        .timeout_ms = c->timeout_ms, /* urllib3's per-read timeout, as one budget per attempt */
    };
    struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
    mantle_code code = MANTLE_OK;
    char detail[MANTLE_ERROR_MESSAGE_SIZE] = "";
    for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
        if (attempt > 1) http_fetch_sleep_ms(c->retry_delay_ms);
        struct mantle_error e = MANTLE_ERROR_INIT;
        code = http_fetch(&req, &resp, &e);
        if (code != MANTLE_OK) {
            snprintf(detail, sizeof detail, "%s", e.message);
        } else if (resp.status != 200) {
            code = mantle_code_for_status((int)resp.status);
            if (code == MANTLE_OK) code = MANTLE_E_HTTP;
            char body[200];
            error_detail(&resp, token, body, sizeof body);
            snprintf(detail, sizeof detail, "HTTP %ld%s", resp.status, body);
        } else if (!(*doc = metadata_json_parse(resp.body.data, resp.body.len))) {
            code = MANTLE_E_PROTOCOL;
            snprintf(detail, sizeof detail, "the response is not a JSON object");
        } else {
            http_fetch_response_free(&resp);
            return MANTLE_OK;
        }
    }
    http_fetch_response_free(&resp);
    mantle_error_set(err, code, "container: GET %s (from %s) failed after %d attempts: %s", origin,
                     var, ATTEMPTS, detail);
    if (err) err->http_status = (int)resp.status, err->attempts = ATTEMPTS;
    return code;
}

static mantle_code container_get(void *impl, struct mantle_credentials **out,
                                 struct mantle_error *err)
{
    const struct container *c = impl;
    char *url = NULL, *token = NULL;
    char origin[300] = "";
    json_t *doc = NULL;
    const char *var = NULL;
    mantle_code code = resolve_url(c, &url, &var, origin, sizeof origin, err);
    if (code == MANTLE_OK) code = read_token(c, &token, err);
    if (code == MANTLE_OK) code = fetch(c, url, var, origin, token, &doc, err);
    struct metadata_creds mc;
    if (code == MANTLE_OK) code = metadata_creds_read(doc, "container", &mc, err);
    if (code == MANTLE_OK) {
        char source[sizeof origin + 64];
        snprintf(source, sizeof source, "container (%s, %s)", var, origin);
        const struct creds_fields f = {mc.access_key_id, mc.secret_access_key, mc.token,
                                       mc.expiration,    mc.account_id,        source};
        struct mantle_error cerr = MANTLE_ERROR_INIT;
        if (!(*out = creds_new(&f, &cerr))) {
            code = cerr.code;
            if (err) *err = cerr;
            mantle_error_prefix(err, "container");
        }
    }
    metadata_json_release(doc);
    secret_free(token);
    curl_free(url);
    return code;
}

static void container_destroy(void *impl)
{
    struct container *c = impl;
    creds_options_free(&c->opts);
    free(c->relative_base);
    free(c);
}

static const struct mantle_credentials_provider_vtable container_vtable = {
    .get = container_get, /* blocking: async callers get a worker thread */
    .destroy = container_destroy,
};

struct mantle_credentials_provider *
creds_container_new_with(const struct mantle_credentials_options *opts,
                         const struct creds_container_params *params, struct mantle_error *err)
{
    struct container *c = calloc(1, sizeof *c);
    if (!c || !creds_options_copy(&c->opts, opts)) {
        free(c);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the container provider");
        return NULL;
    }
    c->retry_delay_ms = params && params->retry_delay_ms >= 0 ? params->retry_delay_ms : 1000;
    c->timeout_ms = params && params->timeout_ms > 0 ? params->timeout_ms : 2000;
    if (params && params->relative_base && !(c->relative_base = strdup(params->relative_base))) {
        container_destroy(c);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the container provider");
        return NULL;
    }
    struct mantle_credentials_provider *p = provider_new(&container_vtable, c, err);
    if (!p) container_destroy(c);
    return p;
}

struct mantle_credentials_provider *
mantle_credentials_provider_new_container(const struct mantle_credentials_options *opts,
                                          struct mantle_error *err)
{
    return creds_container_new_with(opts, NULL, err);
}
