/* Options -> resolved configuration: region, base URL, endpoint, signing service, auth mode.
 * No I/O and no credential lookup: the provider is created (which reads nothing) and asked for
 * credentials only by the first request. The rules follow openai-python's Bedrock provider (see
 * include/mantle/client.h and the conformance cases). */
#include "client/client_internal.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error_internal.h"
#include "core/secret.h"
#include "credentials/profile_providers.h"
#include "credentials/region.h"
#include "sigv4/uri.h"

/* ---- small helpers ---- */

struct env {
    const char *(*fn)(void *, const char *);
    void *ud;
    bool enabled; /* copies never read the environment */
};

static const char *env_get(const struct env *e, const char *name)
{
    if (!e->enabled) return NULL;
    return e->fn ? e->fn(e->ud, name) : getenv(name);
}

/* A copy of s without surrounding blanks; *empty tells whether nothing was left. */
static char *dup_trimmed(const char *s, bool *empty)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    *empty = n == 0;
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

static bool is_token_char(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_header_name(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!is_token_char((unsigned char)*s)) return false;
    return true;
}

bool client_region_is_valid(const char *r)
{
    /* One rule for the whole library (credentials/region.c: botocore's host label, lower case
     * because SigV4 scopes are). */
    return region_is_valid(r);
}

static bool is_service_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-')) return false;
    return true;
}

/* ---- partitions and endpoints ---- */

struct partition {
    const char *prefix; /* region prefix */
    const char *dns;    /* DNS suffix (Runtime) */
    const char *dual;   /* dual-stack suffix (Mantle's api.* hosts) */
};

/* From the AWS partitions data (aws-sdk partitions.json); the first match wins, "" last. */
static const struct partition partitions[] = {
    {"cn-", "amazonaws.com.cn", "api.amazonwebservices.com.cn"},
    {"us-gov-", "amazonaws.com", "api.aws"},
    {"us-isob-", "sc2s.sgov.gov", "api.aws.scloud"},
    {"us-isof-", "csp.hci.ic.gov", "api.aws.hci.ic.gov"},
    {"us-iso-", "c2s.ic.gov", "api.aws.ic.gov"},
    {"eu-isoe-", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},
    {"eusc-", "amazonaws.eu", "api.amazonwebservices.eu"},
    {"", "amazonaws.com", "api.aws"},
};

static const struct partition *partition_for(const char *region)
{
    for (size_t i = 0;; i++)
        if (strncmp(region, partitions[i].prefix, strlen(partitions[i].prefix)) == 0)
            return &partitions[i];
}

char *client_derive_base_url(enum mantle_endpoint endpoint, const char *region)
{
    const struct partition *p = partition_for(region);
    struct buf b = BUF_INIT;
    if (endpoint == MANTLE_ENDPOINT_RUNTIME)
        buf_printf(&b, "https://bedrock-runtime.%s.%s/openai/v1", region, p->dns);
    else
        buf_printf(&b, "https://bedrock-mantle.%s.%s/openai/v1", region, p->dual);
    return buf_steal(&b);
}

static bool ends_with_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && s[len - n - 1] == '.' && strncasecmp(s + len - n, suffix, n) == 0;
}

bool client_canonical_host(const char *host, size_t len, enum mantle_endpoint *endpoint,
                           char *region, size_t region_cap)
{
    static const struct {
        const char *label;
        enum mantle_endpoint endpoint;
    } services[] = {{"bedrock-mantle.", MANTLE_ENDPOINT_MANTLE},
                    {"bedrock-runtime.", MANTLE_ENDPOINT_RUNTIME},
                    {"bedrock-runtime-fips.", MANTLE_ENDPOINT_RUNTIME}};
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        size_t ln = strlen(services[i].label);
        if (len <= ln || strncasecmp(host, services[i].label, ln) != 0) continue;
        const char *rest = host + ln;
        size_t rest_len = len - ln;
        const char *dot = memchr(rest, '.', rest_len);
        if (!dot) return false;
        size_t rlen = (size_t)(dot - rest);
        for (size_t k = 0; k < sizeof partitions / sizeof partitions[0]; k++) {
            const struct partition *p = &partitions[k];
            bool mantle = services[i].endpoint == MANTLE_ENDPOINT_MANTLE;
            /* Mantle lives on the dual-stack names; Runtime on both. */
            bool match =
                ends_with_suffix(rest, rest_len, p->dual) && rest_len - strlen(p->dual) - 1 == rlen;
            if (!mantle && !match)
                match = ends_with_suffix(rest, rest_len, p->dns) &&
                        rest_len - strlen(p->dns) - 1 == rlen;
            if (!match) continue;
            if (rlen == 0 || rlen >= region_cap) return false;
            for (size_t c = 0; c < rlen; c++) region[c] = (char)tolower((unsigned char)rest[c]);
            region[rlen] = '\0';
            *endpoint = services[i].endpoint;
            return true;
        }
        return false;
    }
    return false;
}

bool client_host_is_loopback(const char *host, size_t len)
{
    if (len == 9 && strncasecmp(host, "localhost", 9) == 0) return true;
    if (len > 10 && strncasecmp(host + len - 10, ".localhost", 10) == 0) return true;
    if (len == 3 && memcmp(host, "::1", 3) == 0) return true;
    /* 127.0.0.0/8 as a dotted quad */
    if (len < 7 || len > 15 || strncmp(host, "127.", 4) != 0) return false;
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (host[i] == '.')
            dots++;
        else if (!isdigit((unsigned char)host[i]))
            return false;
    }
    return dots == 3;
}

/* openai-python's _normalize_base_url: no trailing '/', and a pasted ".../responses[/...]"
 * cut back to the API root. */
static void normalize_base_url(char *u)
{
    size_t n = strlen(u);
    while (n && u[n - 1] == '/') u[--n] = '\0';
    const char *scheme_end = strstr(u, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    if (path) {
        const char *r = strstr(path, "/responses");
        while (r) {
            char after = r[10];
            if (after == '\0' || after == '/') {
                u[r - u] = '\0';
                break;
            }
            r = strstr(r + 1, "/responses");
        }
    }
    n = strlen(u);
    while (n && u[n - 1] == '/') u[--n] = '\0';
}

/* ---- auth ---- */

static mantle_code conflict(struct mantle_error *err)
{
    return mantle_error_set(
        err, MANTLE_E_CONFIG,
        "Bedrock authentication is ambiguous: configure exactly one explicit mode (api_key or "
        "bearer_token_fn, static AWS keys, profile, or credentials_provider) "
        "(bedrock_conflicting_auth)");
}

static mantle_code resolve_auth(const struct mantle_client_options *o,
                                const struct mantle_client *base, const struct env *env,
                                struct client_auth *a, struct mantle_error *err)
{
    bool has_key = o->api_key != NULL, has_fn = o->bearer_token_fn != NULL;
    bool has_static = o->aws_access_key_id || o->aws_secret_access_key || o->aws_session_token;
    bool has_profile = o->profile != NULL, has_provider = o->credentials_provider != NULL;
    if (has_key && has_fn) return conflict(err);
    int groups = (has_key || has_fn) + has_static + has_profile + has_provider;
    if (groups > 1) return conflict(err);

    const struct mantle_credentials_options *copts = o->credentials_options;
    if (has_key) {
        bool empty;
        char *t = dup_trimmed(o->api_key, &empty);
        if (!t) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        if (empty || has_ctl(t)) {
            secret_free(t);
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    empty ? "The Bedrock api_key must not be empty"
                                          : "The Bedrock api_key contains control characters");
        }
        a->mode = MANTLE_AUTH_BEARER;
        a->source = MANTLE_AUTH_SOURCE_EXPLICIT;
        a->bearer_token = t;
        return MANTLE_OK;
    }
    if (has_fn) {
        a->mode = MANTLE_AUTH_BEARER;
        a->source = MANTLE_AUTH_SOURCE_EXPLICIT;
        a->bearer_fn = o->bearer_token_fn;
        a->bearer_ud = o->bearer_token_user_data;
        return MANTLE_OK;
    }
    if (has_static) {
        const char *ak = o->aws_access_key_id, *sk = o->aws_secret_access_key;
        if (!ak || !sk)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "Static AWS credentials require both aws_access_key_id and "
                                    "aws_secret_access_key; aws_session_token may only be used "
                                    "with both");
        if (!*ak || !*sk)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "Static AWS credentials require non-empty aws_access_key_id "
                                    "and aws_secret_access_key");
        if (o->aws_session_token && !*o->aws_session_token)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "aws_session_token must not be empty when given");
        struct mantle_credentials *c = mantle_credentials_new(ak, sk, o->aws_session_token, 0, err);
        if (!c) return err ? (err->code = MANTLE_E_CONFIG) : MANTLE_E_CONFIG;
        a->provider = mantle_credentials_provider_new_static(c, err);
        mantle_credentials_unref(c);
        if (!a->provider) return err ? err->code : MANTLE_E_NOMEM;
        a->mode = MANTLE_AUTH_SIGV4;
        a->source = MANTLE_AUTH_SOURCE_STATIC;
        return MANTLE_OK;
    }
    if (has_profile) {
        bool empty;
        char *name = dup_trimmed(o->profile, &empty);
        if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        if (empty) {
            free(name);
            return mantle_error_set(err, MANTLE_E_CONFIG, "The AWS profile must not be empty");
        }
        struct mantle_credentials_options po = MANTLE_CREDENTIALS_OPTIONS_INIT;
        if (copts) po = *copts;
        po.profile = name;
        /* The default chain with an explicit profile: botocore's Session(profile=...) order
         * (the environment keys are skipped, the profile's sources are used). */
        a->provider = mantle_credentials_provider_new_default_chain(&po, err);
        free(name);
        if (!a->provider) return err ? err->code : MANTLE_E_NOMEM;
        a->mode = MANTLE_AUTH_SIGV4;
        a->source = MANTLE_AUTH_SOURCE_PROFILE;
        return MANTLE_OK;
    }
    if (has_provider) {
        a->provider = mantle_credentials_provider_ref(o->credentials_provider);
        a->mode = MANTLE_AUTH_SIGV4;
        a->source = MANTLE_AUTH_SOURCE_PROVIDER;
        return MANTLE_OK;
    }
    if (base) { /* a copy without auth fields keeps its base's auth (the same provider) */
        a->mode = base->auth.mode;
        a->source = base->auth.source;
        a->provider = mantle_credentials_provider_ref(base->auth.provider);
        a->bearer_fn = base->auth.bearer_fn;
        a->bearer_ud = base->auth.bearer_ud;
        if (base->auth.bearer_token && !(a->bearer_token = secret_strdup(base->auth.bearer_token)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        return MANTLE_OK;
    }
    const char *envtok =
        o->ignore_env_bearer_token ? NULL : env_get(env, "AWS_BEARER_TOKEN_BEDROCK");
    if (envtok && *envtok) {
        bool empty;
        char *t = dup_trimmed(envtok, &empty);
        if (!t) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        if (!empty && !has_ctl(t)) {
            a->mode = MANTLE_AUTH_BEARER;
            a->source = MANTLE_AUTH_SOURCE_ENVIRONMENT;
            a->bearer_token = t;
            return MANTLE_OK;
        }
        secret_free(t); /* blank: as if unset */
    }
    a->provider = mantle_credentials_provider_new_default_chain(copts, err);
    if (!a->provider) return err ? err->code : MANTLE_E_NOMEM;
    a->mode = MANTLE_AUTH_SIGV4;
    a->source = MANTLE_AUTH_SOURCE_DEFAULT;
    return MANTLE_OK;
}

void client_auth_free(struct client_auth *a)
{
    mantle_credentials_provider_unref(a->provider);
    secret_free(a->bearer_token);
    memset(a, 0, sizeof *a);
}

/* ---- headers ---- */

static bool add_default_header(struct client_config *cfg, const char *name, const char *value,
                               struct mantle_error *err)
{
    if (!is_header_name(name) || !value || has_ctl(value)) {
        mantle_error_set(err, MANTLE_E_CONFIG,
                         "default header %s: invalid name or value (control characters?)",
                         is_header_name(name) ? name : "(invalid name)");
        return false;
    }
    for (size_t i = 0; i < cfg->default_header_count; i++) {
        struct client_header *h = &cfg->default_headers[i];
        if (strcasecmp(h->name, name) == 0) { /* later wins: overrides replace base values */
            char *v = strdup(value);
            if (!v) goto nomem;
            free(h->value);
            h->value = v;
            return true;
        }
    }
    struct client_header *n =
        realloc(cfg->default_headers, (cfg->default_header_count + 1) * sizeof *n);
    if (!n) goto nomem;
    cfg->default_headers = n;
    n[cfg->default_header_count].name = strdup(name);
    n[cfg->default_header_count].value = strdup(value);
    cfg->default_header_count++;
    if (!n[cfg->default_header_count - 1].name || !n[cfg->default_header_count - 1].value)
        goto nomem;
    return true;
nomem:
    mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    return false;
}

void client_config_free(struct client_config *cfg)
{
    free(cfg->region);
    free(cfg->base_url);
    free(cfg->signing_service);
    for (size_t i = 0; i < cfg->default_header_count; i++) {
        free(cfg->default_headers[i].name);
        free(cfg->default_headers[i].value);
    }
    free(cfg->default_headers);
    free(cfg->default_query);
    free(cfg->ua_suffix);
    free(cfg->user_agent);
    free(cfg->ca_bundle);
    secret_free(cfg->proxy_http);
    secret_free(cfg->proxy_https);
    free(cfg->no_proxy);
    memset(cfg, 0, sizeof *cfg);
}

static bool dup_opt(char **dst, const char *src, struct mantle_error *err)
{
    if (!src) return true;
    if (!(*dst = strdup(src))) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        return false;
    }
    return true;
}

/* The first of `names` set to a non-empty value, copied (or NULL); false when out of memory. */
static bool env_first(const struct env *env, const char *const *names, size_t n, char **out)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *v = env_get(env, names[i]);
        if (v && *v) return (*out = strdup(v)) != NULL;
    }
    return true;
}

/* Proxies, by libcurl's rules for its environment variables (url.c, detect_proxy): the scheme's
 * lower-case variable, then its upper-case one except HTTP_PROXY (a CGI environment lets a
 * request's "Proxy:" header set it: httpoxy), then all_proxy / ALL_PROXY; no_proxy / NO_PROXY
 * for the exceptions, which libcurl still matches against the host. Read once here and handed
 * to libcurl as options, as httpx (openai-python) and botocore read them once per client. */
static mantle_code resolve_proxies(const struct mantle_client *base, const struct env *env,
                                   struct client_config *cfg, struct mantle_error *err)
{
    if (base) { /* copies never read the environment */
        if (!dup_opt(&cfg->proxy_http, base->cfg.proxy_http, err) ||
            !dup_opt(&cfg->proxy_https, base->cfg.proxy_https, err) ||
            !dup_opt(&cfg->no_proxy, base->cfg.no_proxy, err))
            return MANTLE_E_NOMEM;
    } else {
        static const char *const http[] = {"http_proxy"};
        static const char *const https[] = {"https_proxy", "HTTPS_PROXY"};
        static const char *const all[] = {"all_proxy", "ALL_PROXY"};
        static const char *const no[] = {"no_proxy", "NO_PROXY"};
        bool ok = env_first(env, http, 1, &cfg->proxy_http) &&
                  (cfg->proxy_http || env_first(env, all, 2, &cfg->proxy_http)) &&
                  env_first(env, https, 2, &cfg->proxy_https) &&
                  (cfg->proxy_https || env_first(env, all, 2, &cfg->proxy_https)) &&
                  env_first(env, no, 2, &cfg->no_proxy);
        if (!ok) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    cfg->proxy = strncasecmp(cfg->base_url, "https:", 6) == 0 ? cfg->proxy_https : cfg->proxy_http;
    return MANTLE_OK;
}

/* ---- the resolution ---- */

#define MISSING_REGION                                                                             \
    "Bedrock requires an AWS region for SigV4. Pass `region`, or set AWS_REGION or "               \
    "AWS_DEFAULT_REGION (or `region` in the profile)"

/* The `region` of the selected profile in the shared config file (botocore's Session falls back
 * to it too). Read at creation only when neither the option nor AWS_REGION/AWS_DEFAULT_REGION gives
 * a region: a small local file, never the network, never credentials. A profile or file that is
 * missing gives no region; a malformed file is a config error naming file and line. */
static mantle_code profile_region(const struct mantle_client_options *o, const struct env *env,
                                  char **out, struct mantle_error *err)
{
    struct mantle_credentials_options copts = MANTLE_CREDENTIALS_OPTIONS_INIT;
    if (o->credentials_options) copts = *o->credentials_options;
    copts.getenv_fn = env->fn;
    copts.getenv_ud = env->ud;
    if (o->profile) copts.profile = o->profile;
    struct mantle_error perr = MANTLE_ERROR_INIT;
    mantle_code rc = creds_profile_region(NULL, &copts, out, &perr);
    if (rc == MANTLE_E_CONFIG && !strstr(perr.message, "HOME")) { /* a malformed file */
        mantle_error_set(err, rc, "%s", perr.message);
        return rc;
    }
    if (rc == MANTLE_E_NOMEM) return mantle_error_set(err, rc, "out of memory");
    return MANTLE_OK; /* no HOME, no file, no such profile, no region: none */
}

static mantle_code resolve_region(const struct mantle_client_options *o,
                                  const struct mantle_client *base, const struct env *env,
                                  struct client_config *cfg, struct mantle_error *err)
{
    bool empty = true;
    if (o->region) {
        if (!(cfg->region = dup_trimmed(o->region, &empty)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        if (empty)
            return mantle_error_set(err, MANTLE_E_CONFIG, "The AWS region must not be empty");
    } else if (base) {
        if (base->cfg.region && !(cfg->region = strdup(base->cfg.region)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        return MANTLE_OK;
    } else {
        static const char *const vars[] = {"AWS_REGION", "AWS_DEFAULT_REGION"};
        for (size_t i = 0; i < 2 && !cfg->region; i++) {
            const char *v = env_get(env, vars[i]);
            if (!v) continue;
            char *r = dup_trimmed(v, &empty);
            if (!r) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
            if (empty)
                free(r); /* set but blank: as if unset */
            else
                cfg->region = r;
        }
        mantle_code rc;
        if (!cfg->region && (rc = profile_region(o, env, &cfg->region, err)) != MANTLE_OK)
            return rc;
        if (!cfg->region) return MANTLE_OK;
    }
    if (!client_region_is_valid(cfg->region))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "Invalid AWS region '%.64s': expected lower-case letters, digits "
                                "and '-', e.g. us-east-1",
                                cfg->region);
    return MANTLE_OK;
}

mantle_code client_config_resolve(const struct mantle_client_options *o,
                                  const struct mantle_client *base, struct client_config *cfg,
                                  struct client_auth *auth, struct client_log *log,
                                  struct mantle_error *err)
{
    const struct mantle_credentials_options *copts = o->credentials_options;
    struct env env = {copts ? copts->getenv_fn : NULL, copts ? copts->getenv_ud : NULL, !base};
    mantle_code rc;

    if (o->endpoint != MANTLE_ENDPOINT_MANTLE && o->endpoint != MANTLE_ENDPOINT_RUNTIME)
        return mantle_error_set(err, MANTLE_E_CONFIG, "Unknown endpoint %d", (int)o->endpoint);
    cfg->endpoint = o->endpoint != MANTLE_ENDPOINT_MANTLE ? o->endpoint
                    : base                                ? base->cfg.endpoint
                                                          : MANTLE_ENDPOINT_MANTLE;
    bool endpoint_explicit = o->endpoint != MANTLE_ENDPOINT_MANTLE;

    if ((rc = resolve_region(o, base, &env, cfg, err)) != MANTLE_OK) return rc;
    if ((rc = resolve_auth(o, base, &env, auth, err)) != MANTLE_OK) return rc;

    /* base_url: option > base's explicit one > AWS_BEDROCK_BASE_URL > derived */
    const char *url = o->base_url;
    if (!url && base && base->cfg.base_url_explicit) url = base->cfg.base_url;
    if (!url) {
        const char *v = env_get(&env, "AWS_BEDROCK_BASE_URL");
        if (v && *v) url = v;
    }
    if (url) {
        bool empty;
        if (!(cfg->base_url = dup_trimmed(url, &empty)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        if (empty) return mantle_error_set(err, MANTLE_E_CONFIG, "The base_url must not be empty");
        normalize_base_url(cfg->base_url);
        cfg->base_url_explicit = true;
        struct url_parts u;
        const char *why = NULL;
        if (has_ctl(cfg->base_url) || strchr(cfg->base_url, ' ') ||
            !url_parse(cfg->base_url, &u, &why) || u.host_len == 0)
            return mantle_error_set(err, MANTLE_E_CONFIG, "Invalid base_url: %s",
                                    why ? why : "expected http(s)://host[:port][/path]");
        if (u.has_query || strchr(cfg->base_url, '#'))
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "The base_url must not have a query or fragment (use "
                                    "default_query)");
        cfg->host_root_len = (size_t)(u.path - cfg->base_url);
        enum mantle_endpoint url_endpoint;
        char url_region[64];
        if (client_canonical_host(u.host, u.host_len, &url_endpoint, url_region,
                                  sizeof url_region)) {
            /* A canonical Mantle/Runtime URL selects endpoint and service by itself. */
            if (endpoint_explicit && url_endpoint != cfg->endpoint)
                return mantle_error_set(
                    err, MANTLE_E_CONFIG,
                    "The base_url host is a %s endpoint but endpoint is set "
                    "to %s",
                    url_endpoint == MANTLE_ENDPOINT_RUNTIME ? "runtime" : "mantle",
                    cfg->endpoint == MANTLE_ENDPOINT_RUNTIME ? "runtime" : "mantle");
            cfg->endpoint = url_endpoint;
            if (cfg->region && strcmp(cfg->region, url_region) != 0)
                return mantle_error_set(err, MANTLE_E_CONFIG,
                                        "The Bedrock endpoint region '%s' does not match the "
                                        "configured region '%s'",
                                        url_region, cfg->region);
            if (!cfg->region && !(cfg->region = strdup(url_region)))
                return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        }
        bool insecure = !u.https && !client_host_is_loopback(u.host, u.host_len);
        cfg->allow_insecure_http =
            o->allow_insecure_http || (base && base->cfg.allow_insecure_http);
        if (insecure && !cfg->allow_insecure_http)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "Refusing to send %s over plain http to a host that is not "
                                    "loopback; use https or set allow_insecure_http",
                                    auth->mode == MANTLE_AUTH_SIGV4 ? "AWS signatures"
                                                                    : "a Bedrock API key");
    } else {
        cfg->allow_insecure_http =
            o->allow_insecure_http || (base && base->cfg.allow_insecure_http);
        if (!cfg->region)
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    auth->mode == MANTLE_AUTH_SIGV4
                                        ? MISSING_REGION
                                        : "Bedrock requires an AWS region or a base_url. Pass "
                                          "`region` or `base_url`, or set AWS_REGION or "
                                          "AWS_DEFAULT_REGION");
        if (!(cfg->base_url = client_derive_base_url(cfg->endpoint, cfg->region)))
            return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        cfg->host_root_len = (size_t)(strchr(cfg->base_url + 8, '/') - cfg->base_url);
    }
    if (auth->mode == MANTLE_AUTH_SIGV4 && !cfg->region)
        return mantle_error_set(err, MANTLE_E_CONFIG, MISSING_REGION);

    /* signing service: option > base's explicit one > from the endpoint */
    const char *svc = o->signing_service;
    if (!svc && base && base->cfg.service_explicit) svc = base->cfg.signing_service;
    cfg->service_explicit = svc != NULL;
    if (!svc) svc = cfg->endpoint == MANTLE_ENDPOINT_RUNTIME ? "bedrock" : "bedrock-mantle";
    if (!is_service_name(svc))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "Invalid signing_service: expected lower-case letters, digits "
                                "and '-'");
    if (!dup_opt(&cfg->signing_service, svc, err)) return MANTLE_E_NOMEM;

    /* limits */
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->max_retries < MANTLE_RETRIES_NONE)
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "Timeouts must be >= 0 and max_retries >= MANTLE_RETRIES_NONE");
    cfg->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
                              : base                ? base->cfg.connect_timeout_ms
                                                    : CLIENT_DEFAULT_CONNECT_TIMEOUT_MS;
    cfg->timeout_ms = o->timeout_ms ? o->timeout_ms
                      : base        ? base->cfg.timeout_ms
                                    : CLIENT_DEFAULT_TIMEOUT_MS;
    cfg->max_retries_opt = o->max_retries ? o->max_retries : base ? base->cfg.max_retries_opt : 0;
    cfg->max_retries = cfg->max_retries_opt == MANTLE_RETRIES_NONE ? 0
                       : cfg->max_retries_opt == 0                 ? CLIENT_DEFAULT_MAX_RETRIES
                                                                   : cfg->max_retries_opt;

    /* default headers: the base's, then the overrides' (same name replaced) */
    if (base)
        for (size_t i = 0; i < base->cfg.default_header_count; i++)
            if (!add_default_header(cfg, base->cfg.default_headers[i].name,
                                    base->cfg.default_headers[i].value, err))
                return err ? err->code : MANTLE_E_NOMEM;
    if (o->default_header_count && !o->default_headers)
        return mantle_error_set(err, MANTLE_E_CONFIG, "default_headers is NULL");
    for (size_t i = 0; i < o->default_header_count; i++) {
        const char *n = o->default_headers[i].name;
        if (n && (strcasecmp(n, "authorization") == 0 || strcasecmp(n, "host") == 0 ||
                  strncasecmp(n, "x-amz-", 6) == 0))
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "default header %s is set by the client itself", n);
        if (!add_default_header(cfg, n, o->default_headers[i].value, err))
            return err ? err->code : MANTLE_E_NOMEM;
    }

    const char *q = o->default_query ? o->default_query : base ? base->cfg.default_query : NULL;
    if (q && *q == '?') q++;
    if (q && *q) {
        if (has_ctl(q) || strchr(q, ' ') || strchr(q, '#'))
            return mantle_error_set(err, MANTLE_E_CONFIG,
                                    "default_query must be already encoded (no spaces, control "
                                    "characters or '#')");
        if (!dup_opt(&cfg->default_query, q, err)) return MANTLE_E_NOMEM;
    }

    const char *suffix = o->user_agent_suffix ? o->user_agent_suffix
                         : base               ? base->cfg.ua_suffix
                                              : NULL;
    if (suffix && has_ctl(suffix))
        return mantle_error_set(err, MANTLE_E_CONFIG, "user_agent_suffix has control characters");
    if (!dup_opt(&cfg->ua_suffix, suffix, err)) return MANTLE_E_NOMEM;
    struct buf ua = BUF_INIT;
    buf_append_str(&ua, "mantle/" MANTLE_VERSION_STRING);
    if (suffix && *suffix) buf_printf(&ua, " %s", suffix);
    if (!(cfg->user_agent = buf_steal(&ua)))
        return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");

    const char *ca = o->ca_bundle ? o->ca_bundle : base ? base->cfg.ca_bundle : NULL;
    if (!dup_opt(&cfg->ca_bundle, ca, err)) return MANTLE_E_NOMEM;
    if ((rc = resolve_proxies(base, &env, cfg, err)) != MANTLE_OK) return rc;

    if (o->log_fn || !base)
        client_log_init(log, o->log_fn, o->log_user_data, env_get(&env, "MANTLE_LOG"));
    else
        *log = base->log;
    return MANTLE_OK;
}
