/* Credentials from IAM Identity Center (SSO), as botocore's SSOProvider and SSOCredentialFetcher:
 *
 *   profile: sso_account_id, sso_role_name, and either sso_session = NAME (with
 *            [sso-session NAME] holding sso_start_url and sso_region) or, legacy, sso_start_url and
 *            sso_region in the profile itself
 *   token:   $HOME/.aws/sso/cache/<sha1 hex of NAME, or of the start URL when legacy>.json,
 *            written by `aws sso login`: {"accessToken": ..., "expiresAt": ...}
 *   call:    GET https://portal.sso.<sso_region>.amazonaws.com/federation/credentials
 *                ?account_id=...&role_name=...   with header x-amz-sso_bearer_token: <token>
 *            -> {"roleCredentials": {accessKeyId, secretAccessKey, sessionToken, expiration (ms)}}
 *
 * Matched: a profile is SSO-configured as soon as it has sso_account_id or sso_role_name; then any
 * missing key is botocore's InvalidConfigError ('The profile "P" is configured to use SSO but is
 * missing required configuration: ...'), as are an undefined sso-session and a key whose value
 * differs between the profile and the sso-session. The merged view of both files is used (keys in
 * the credentials file count), as botocore's full_config.
 *
 * Deliberate differences:
 *   - The token is never refreshed. botocore's SSOTokenProvider (sso-session only) calls SSO-OIDC
 *     CreateToken with the refresh token and client registration cached next to the token when it
 *     is within 15 minutes of expiry, and writes the new token back. Here a token is used as long
 *     as it has not expired; after that the user is told to run `aws sso login`. Left open.
 *   - An expired legacy token fails here, before any request; botocore sends it and turns the
 *     portal's 401 into the same advice.
 *   - Role credentials are not cached in ~/.aws/cli/cache; the default chain's memory cache keeps
 *     them until they near expiry.
 *   - Endpoint overrides: only AWS_ENDPOINT_URL_SSO and AWS_ENDPOINT_URL (no endpoint_url in the
 *     config file or [services] sections).
 *   - Throttling and 5xx answers are retried (3 attempts, short backoff) rather than through
 *     botocore's retry handler (legacy mode: 5 attempts).
 *   - The profile is opts->profile, else AWS_DEFAULT_PROFILE, else AWS_PROFILE (botocore's order,
 *     as the other profile providers; the AWS CLI v2 reads AWS_PROFILE first).
 *   - HTTPS_PROXY/NO_PROXY apply (libcurl), AWS_CA_BUNDLE does not (http_fetch has no CA
 *     option). */
#include "sso.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "core/error_internal.h"
#include "core/secret.h"
#include "core/timeutil.h"
#include "credentials/http_fetch.h"
#include "credentials/profile_file.h"
#include "credentials/region.h"
#include "credentials_internal.h"

#define SSO "sso"
#define TOKEN_HEADER "x-amz-sso_bearer_token"
#define MAX_TOKEN_FILE (1024 * 1024) /* a real token file is about 2 KiB */
#define ATTEMPTS 3
#define CONNECT_TIMEOUT_MS 5000
#define TIMEOUT_MS 30000

static long sso_connect_ms = CONNECT_TIMEOUT_MS;
static long sso_total_ms = TIMEOUT_MS;

void sso_set_timeouts(long connect_ms, long total_ms)
{
    sso_connect_ms = connect_ms > 0 ? connect_ms : CONNECT_TIMEOUT_MS;
    sso_total_ms = total_ms > 0 ? total_ms : TIMEOUT_MS;
}
#define RETRY_BASE_MS 200

struct sso {
    struct mantle_credentials_options opts;
};

/* What the profile (merged with its sso-session) says; borrowed from the profile set. */
struct sso_config {
    const char *profile;
    const char *session; /* NULL: legacy */
    const char *start_url, *region, *account_id, *role_name;
};

/* ---- configuration ---- */

/* profile_file_path() takes a plain getenv; this routes it through the options' hook. A
 * thread-local because providers run concurrently on worker threads. */
static _Thread_local const struct mantle_credentials_options *tl_opts;

static char *opts_getenv(const char *name)
{
    return (char *)creds_getenv(tl_opts, name);
}

static mantle_code load_one(struct profile_set *set, enum profile_source source,
                            const char *explicit_path, const struct mantle_credentials_options *o,
                            struct mantle_error *err)
{
    char *path = NULL;
    if (explicit_path) {
        if (!(path = strdup(explicit_path)))
            return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
    } else {
        tl_opts = o;
        struct mantle_error perr = MANTLE_ERROR_INIT;
        mantle_code code = profile_file_path(source, opts_getenv, &path, &perr);
        tl_opts = NULL;
        /* No HOME for "~": as botocore with no file there, nothing to read. */
        if (code == MANTLE_E_CONFIG) return MANTLE_OK;
        if (code != MANTLE_OK) {
            if (err) *err = perr;
            return code;
        }
    }
    mantle_code code = profile_set_load_file(set, source, path, err);
    free(path);
    return code;
}

static mantle_code load_profiles(const struct mantle_credentials_options *o,
                                 struct profile_set **out, struct mantle_error *err)
{
    struct profile_set *set = profile_set_new();
    if (!set) return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
    /* Config first, then credentials: the latter's values win, as in botocore's full_config. */
    mantle_code code = load_one(set, PROFILE_SOURCE_CONFIG, o->config_file, o, err);
    if (code == MANTLE_OK)
        code = load_one(set, PROFILE_SOURCE_CREDENTIALS, o->credentials_file, o, err);
    if (code != MANTLE_OK) {
        profile_set_free(set);
        return code;
    }
    *out = set;
    return MANTLE_OK;
}

/* botocore's `profile` variable: AWS_DEFAULT_PROFILE before AWS_PROFILE (as the other profile
 * providers select it). */
static const char *profile_name_of(const struct mantle_credentials_options *o)
{
    if (o->profile) return o->profile;
    const char *env = creds_getenv_nonempty(o, "AWS_DEFAULT_PROFILE");
    if (!env) env = creds_getenv_nonempty(o, "AWS_PROFILE");
    return env ? env : "default";
}

/* The value of key in the profile, else in the session (which must agree when both have it). */
static mantle_code merged_get(const struct profile *p, const struct profile *session,
                              const char *key, const char **out, struct mantle_error *err)
{
    const char *pv = profile_get(p, key);
    const char *sv = session ? profile_get(session, key) : NULL;
    if (pv && sv && strcmp(pv, sv) != 0)
        /* botocore prints both values; these keys are URLs and regions, never secrets. */
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "The value for %s is inconsistent between profile (%s) and "
                                "sso-session (%s).",
                                key, pv, sv);
    *out = sv ? sv : pv;
    return MANTLE_OK;
}

/* CREDS_NOT_FOUND when the profile is not SSO-configured; MANTLE_E_CONFIG when it is, partially. */
static mantle_code read_config(const struct profile_set *set, const char *name,
                               struct sso_config *c, struct mantle_error *err)
{
    memset(c, 0, sizeof *c);
    c->profile = name;
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, name);
    if (!p) return creds_not_found(err, SSO " (no profile %s)", name);
    if (!profile_get(p, "sso_account_id") && !profile_get(p, "sso_role_name"))
        return creds_not_found(err, SSO " (profile %s has no sso_account_id or sso_role_name)",
                               name);

    const struct profile *session = NULL;
    c->session = profile_get(p, "sso_session");
    if (c->session) {
        session = profile_set_get(set, PROFILE_KIND_SSO_SESSION, c->session);
        if (!session)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "The specified sso-session does not exist: \"%s\"", c->session);
    }
    static const char *const keys[] = {"sso_role_name", "sso_account_id", "sso_start_url",
                                       "sso_region"};
    const char **dst[] = {&c->role_name, &c->account_id, &c->start_url, &c->region};
    char missing[256] = "";
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        mantle_code code = merged_get(p, session, keys[i], dst[i], err);
        if (code != MANTLE_OK) return code;
        if (!*dst[i]) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "", keys[i]);
        }
    }
    if (missing[0])
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "The profile \"%s\" is configured to use SSO but is missing "
                                "required configuration: %s",
                                name, missing);
    if (!region_is_valid(c->region))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                SSO ": profile %s: sso_region is not a valid AWS region name",
                                name);
    return MANTLE_OK;
}

/* Wipes every string in a parsed document, nested ones included, then releases it: token caches
 * and portal answers hold secrets at any depth. NULL is allowed. */
static void json_wipe_release(json_t *doc)
{
    if (!doc) return;
    if (json_is_string(doc)) {
        secret_wipe((char *)json_string_value(doc), json_string_length(doc));
    } else if (json_is_object(doc)) {
        const char *k;
        json_t *v;
        json_object_foreach(doc, k, v) json_wipe_release(json_incref(v));
    } else if (json_is_array(doc)) {
        for (size_t i = 0; i < json_array_size(doc); i++)
            json_wipe_release(json_incref(json_array_get(doc, i)));
    }
    json_decref(doc);
}

/* ---- the cached token ---- */

/* How to get a new token, for messages. */
static void login_hint(const struct sso_config *c, char *out, size_t size)
{
    if (c->session)
        snprintf(out, size,
                 "run `aws sso login --profile %s` (or `aws sso login --sso-session %s`)",
                 c->profile, c->session);
    else
        snprintf(out, size, "run `aws sso login --profile %s`", c->profile);
}

/* Reads at most MAX_TOKEN_FILE bytes; ENOENT is reported as such through *missing. */
static mantle_code read_token_file(const char *path, struct buf *out, bool *missing,
                                   struct mantle_error *err)
{
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = true;
            return MANTLE_OK;
        }
        return mantle_error_set(err, MANTLE_E_IO, SSO ": cannot read the token cache %s: %s", path,
                                strerror(errno));
    }
    /* Room up front: growing would leave unwiped copies of the token behind (a cache file with a
     * refresh token and client registration is 2-4 KiB). */
    buf_reserve(out, 16384);
    char chunk[1024];
    size_t n;
    bool too_big = false;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->len + n > MAX_TOKEN_FILE) {
            too_big = true;
            break;
        }
        buf_append(out, chunk, n);
    }
    bool failed = ferror(f);
    fclose(f);
    secret_wipe(chunk, sizeof chunk);
    if (buf_failed(out)) return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
    if (failed) return mantle_error_set(err, MANTLE_E_IO, SSO ": error reading %s", path);
    if (too_big)
        return mantle_error_set(err, MANTLE_E_CONFIG, SSO ": %s is larger than %d bytes", path,
                                MAX_TOKEN_FILE);
    return MANTLE_OK;
}

/* The access token (a secret copy in *token) if the cache holds one that has not expired. */
static mantle_code load_token(const struct mantle_credentials_options *o,
                              const struct sso_config *c, char **token, struct mantle_error *err)
{
    char hint[512];
    login_hint(c, hint, sizeof hint);
    const char *home = creds_getenv_nonempty(o, "HOME");
    if (!home)
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                SSO ": HOME is not set, so the SSO token cache (~/.aws/sso/cache) "
                                    "cannot be found");
    const char *key_src = c->session ? c->session : c->start_url;
    char key[SHA1_HEX_LEN + 1];
    if (!crypto_sha1_hex(key_src, strlen(key_src), key))
        return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": SHA-1 is unavailable");

    struct buf path = BUF_INIT;
    size_t home_len = strlen(home);
    while (home_len > 1 && home[home_len - 1] == '/') home_len--;
    buf_append(&path, home, home_len);
    buf_printf(&path, "/.aws/sso/cache/%s.json", key);
    if (buf_failed(&path)) {
        buf_free(&path);
        return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
    }

    struct buf text = BUF_INIT;
    bool missing = false;
    json_t *doc = NULL;
    mantle_code code = read_token_file(path.data, &text, &missing, err);
    if (code != MANTLE_OK) goto out;
    if (missing) {
        /* botocore: SSOTokenLoadError "Token for <name> does not exist". */
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "Error loading SSO Token: Token for %s does not exist (looked for "
                                "%s); %s",
                                key_src, path.data, hint);
        goto out;
    }
    doc = json_loadb(text.data, text.len, 0, NULL);
    const char *access = json_string_value(json_object_get(doc, "accessToken"));
    const char *expires = json_string_value(json_object_get(doc, "expiresAt"));
    if (!json_is_object(doc) || !access || !*access || !expires) {
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "Error loading SSO Token: Token for %s is invalid (%s has no "
                                "accessToken or expiresAt); %s",
                                key_src, path.data, hint);
        goto out;
    }
    int64_t expiry = 0;
    if (!time_parse_iso8601(expires, strlen(expires), &expiry)) {
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "Error loading SSO Token: the expiresAt of the token for %s is not "
                                "an ISO 8601 time; %s",
                                key_src, hint);
        goto out;
    }
    if (creds_now(o) >= expiry) {
        char when[TIME_ISO8601_SIZE];
        time_format_iso8601(expiry, when);
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "The SSO session associated with this profile has expired or is "
                                "otherwise invalid (the cached token for %s expired at %s). To "
                                "refresh this SSO session %s.",
                                key_src, when, hint);
        goto out;
    }
    if (!(*token = secret_strdup(access)))
        code = mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
out:
    json_wipe_release(doc); /* the token, and any refresh token and client secret */
    buf_wipe(&text);
    buf_free(&path);
    return code;
}

/* ---- GetRoleCredentials ---- */

static void append_query_value(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            buf_append_char(b, (char)ch);
        } else {
            char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            buf_append(b, enc, 3);
        }
    }
}

static char *build_url(const struct mantle_credentials_options *o, const struct sso_config *c)
{
    struct buf url = BUF_INIT;
    const char *base = creds_getenv_nonempty(o, "AWS_ENDPOINT_URL_SSO");
    if (!base) base = creds_getenv_nonempty(o, "AWS_ENDPOINT_URL");
    if (base) {
        size_t len = strlen(base);
        while (len > 0 && base[len - 1] == '/') len--;
        buf_append(&url, base, len);
    } else {
        buf_printf(&url, "https://portal.sso.%s.amazonaws.com", c->region);
    }
    buf_append_str(&url, "/federation/credentials?account_id=");
    append_query_value(&url, c->account_id);
    buf_append_str(&url, "&role_name=");
    append_query_value(&url, c->role_name);
    return buf_steal(&url);
}

/* The error of a non-200 answer: the portal's rest-json {"message"} and x-amzn-ErrorType code. */
static mantle_code portal_error(const struct http_fetch_response *resp, const struct sso_config *c,
                                struct mantle_error *err)
{
    char hint[512];
    login_hint(c, hint, sizeof hint);
    json_t *doc = json_loadb(resp->body.data, resp->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    if (!msg) msg = json_string_value(json_object_get(doc, "Message"));
    char type[96] = "";
    if (resp->captured[0]) {
        snprintf(type, sizeof type, "%s", resp->captured[0]);
        type[strcspn(type, ":")] = '\0'; /* "Code:http://internal.amazon.com/..." */
    }
    mantle_code code = mantle_code_for_status((int)resp->status);
    if (code == MANTLE_OK) code = MANTLE_E_HTTP;
    if (resp->status == 401) /* botocore's UnauthorizedSSOTokenError, with the command to run. */
        mantle_error_set(err, code,
                         "The SSO session associated with this profile has expired or is "
                         "otherwise invalid. To refresh this SSO session %s.",
                         hint);
    else
        mantle_error_set(
            err, code, SSO ": GetRoleCredentials for account %s, role %s failed: HTTP %ld%s%s%s%s",
            c->account_id, c->role_name, resp->status, type[0] ? " " : "", type, msg ? ": " : "",
            msg ? msg : "");
    json_decref(doc);
    if (err) {
        err->http_status = (int)resp->status;
        if (resp->captured[1])
            snprintf(err->request_id, sizeof err->request_id, "%s", resp->captured[1]);
    }
    return code;
}

static mantle_code parse_role_credentials(const struct http_fetch_response *resp,
                                          const struct sso_config *c,
                                          struct mantle_credentials **out, struct mantle_error *err)
{
    json_t *doc = metadata_json_parse(resp->body.data, resp->body.len);
    if (!doc)
        return mantle_error_set(err, MANTLE_E_PROTOCOL,
                                SSO ": the GetRoleCredentials response is not a JSON object");
    json_t *rc = json_object_get(doc, "roleCredentials");
    const char *akid = json_string_value(json_object_get(rc, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(rc, "secretAccessKey"));
    const char *token = json_string_value(json_object_get(rc, "sessionToken"));
    json_t *exp = json_object_get(rc, "expiration");
    const char *missing = !json_is_object(rc)    ? "roleCredentials"
                          : !akid || !*akid      ? "roleCredentials.accessKeyId"
                          : !secret || !*secret  ? "roleCredentials.secretAccessKey"
                          : !token || !*token    ? "roleCredentials.sessionToken"
                          : !json_is_number(exp) ? "roleCredentials.expiration"
                                                 : NULL;
    mantle_code code;
    if (missing) {
        code = mantle_error_set(err, MANTLE_E_PROTOCOL,
                                SSO ": the GetRoleCredentials response has no %s", missing);
        goto out;
    }
    /* Epoch milliseconds; botocore keeps whole seconds too (strftime of fromtimestamp). */
    double ms = json_number_value(exp);
    if (!(ms > 0 && ms < 253402300800000.0)) {
        code = mantle_error_set(err, MANTLE_E_PROTOCOL,
                                SSO ": roleCredentials.expiration is out of range");
        goto out;
    }
    char source[512];
    snprintf(source, sizeof source, SSO " (profile %s, account %s, role %s)", c->profile,
             c->account_id, c->role_name);
    const struct creds_fields f = {akid,          secret, token, (int64_t)(ms / 1000.0),
                                   c->account_id, source};
    *out = creds_new(&f, err);
    code = *out ? MANTLE_OK : (err ? err->code : MANTLE_E_INVALID_ARGUMENT);
    if (!*out) mantle_error_prefix(err, SSO);
out:
    json_wipe_release(doc);
    return code;
}

static bool retryable(mantle_code code, long status)
{
    if (code == MANTLE_E_CONNECTION || code == MANTLE_E_TIMEOUT) return true;
    return code == MANTLE_OK && (status == 429 || status >= 500);
}

static mantle_code get_role_credentials(const struct mantle_credentials_options *o,
                                        const struct sso_config *c, const char *token,
                                        struct mantle_credentials **out, struct mantle_error *err)
{
    char *url = build_url(o, c);
    if (!url) return mantle_error_set(err, MANTLE_E_NOMEM, SSO ": out of memory");
    const struct mantle_header headers[] = {{TOKEN_HEADER, token}};
    struct http_fetch_request req = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .header_count = 1,
        .connect_timeout_ms = sso_connect_ms,
        .timeout_ms = sso_total_ms,
        /* The portal is a public endpoint: HTTPS_PROXY/NO_PROXY apply, as for botocore. */
        .use_proxy = true,
        .capture = {"x-amzn-ErrorType", "x-amzn-RequestId", NULL},
    };
    struct http_fetch_response resp = HTTP_FETCH_RESPONSE_INIT;
    mantle_code code = MANTLE_OK;
    int attempt = 0;
    for (;;) {
        attempt++;
        code = http_fetch(&req, &resp, err);
        if (attempt >= ATTEMPTS || !retryable(code, resp.status)) break;
        http_fetch_sleep_ms(RETRY_BASE_MS << (attempt - 1));
    }
    if (code != MANTLE_OK) {
        mantle_error_prefix(err, SSO ": GetRoleCredentials (portal for %s)", c->region);
    } else if (resp.status != 200) {
        code = portal_error(&resp, c, err);
    } else {
        code = parse_role_credentials(&resp, c, out, err);
    }
    if (err && code != MANTLE_OK) err->attempts = attempt;
    http_fetch_response_free(&resp);
    free(url);
    return code;
}

/* ---- the provider ---- */

static mantle_code sso_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    const struct mantle_credentials_options *o = &((struct sso *)impl)->opts;
    *out = NULL;
    struct profile_set *set = NULL;
    mantle_code code = load_profiles(o, &set, err);
    if (code != MANTLE_OK) return code;
    struct sso_config c;
    code = read_config(set, profile_name_of(o), &c, err);
    char *token = NULL;
    if (code == MANTLE_OK) code = load_token(o, &c, &token, err);
    if (code == MANTLE_OK) code = get_role_credentials(o, &c, token, out, err);
    secret_free(token);
    profile_set_free(set);
    return code;
}

static void sso_destroy(void *impl)
{
    struct sso *s = impl;
    creds_options_free(&s->opts);
    free(s);
}

static const struct mantle_credentials_provider_vtable sso_vtable = {
    .get = sso_get,
    .destroy = sso_destroy,
};

struct mantle_credentials_provider *creds_sso_new(const struct mantle_credentials_options *opts,
                                                  struct mantle_error *err)
{
    struct sso *s = calloc(1, sizeof *s);
    if (!s || !creds_options_copy(&s->opts, opts)) {
        free(s);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the SSO provider");
        return NULL;
    }
    struct mantle_credentials_provider *p = provider_new(&sso_vtable, s, err);
    if (!p) sso_destroy(s);
    return p;
}
