/* Request authentication as AWS does it: a Bedrock API key (Authorization: Bearer, or x-api-key
 * on the Anthropic path), or SigV4 verified by recomputing the signature with our own signer
 * over exactly what was received: the method, the raw request target, the signed headers as they
 * arrived and the body. Errors use AWS's JSON shape ({"message": ...}) and x-amzn-errortype.
 * Secrets (secret keys, tokens, API keys) never appear in a reply or a log line. */
#include "emulator.h"

#include <mantle/sigv4.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/crypto.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define MSG_MISMATCH                                                                               \
    "The request signature we calculated does not match the signature you provided. Check your "   \
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
#define MSG_BAD_TOKEN "The security token included in the request is invalid."
#define MSG_EXPIRED_TOKEN "The security token included in the request is expired"
#define MSG_BAD_API_KEY "Authentication failed: Please make sure your API Key is valid."

enum { SKEW_LIMIT = 300 }; /* AWS's 5 minutes */

struct authz {
    const char *credential, *signed_headers, *signature;
    size_t credential_len, signed_headers_len, signature_len;
};

static void fail(struct reply *r, unsigned status, const char *type, const char *message)
{
    reply_aws_error(r, status, type, message);
}

__attribute__((format(printf, 4, 5))) static void failf(struct reply *r, unsigned status,
                                                        const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    reply_aws_error(r, status, type, msg);
}

static bool equal_secret(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* ---- API keys ---- */

static bool check_api_key(const struct config *cfg, const char *key, size_t len,
                          struct auth_result *res, struct reply *r)
{
    bool ok = false;
    for (size_t i = 0; i < cfg->api_key_count; i++) ok |= equal_secret(key, len, cfg->api_keys[i]);
    if (!ok) {
        /* Bedrock answers a bad API key with a capitalized "Message". */
        reply_json(r, 403, json_pack("{s:s}", "Message", MSG_BAD_API_KEY));
        reply_header(r, "x-amzn-errortype", "UnrecognizedClientException");
        return false;
    }
    res->kind = AUTH_API_KEY;
    return true;
}

/* ---- SigV4 ---- */

/* Splits "Credential=..., SignedHeaders=..., Signature=..." (any order, blanks allowed). */
static void parse_authz(const char *s, struct authz *a)
{
    memset(a, 0, sizeof *a);
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        size_t len = strcspn(s, ",");
        const char *end = s + len;
        while (end > s && end[-1] == ' ') end--;
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (eq) {
            size_t nlen = (size_t)(eq - s), vlen = (size_t)(end - eq - 1);
            if (nlen == 10 && strncmp(s, "Credential", 10) == 0) {
                a->credential = eq + 1;
                a->credential_len = vlen;
            } else if (nlen == 13 && strncmp(s, "SignedHeaders", 13) == 0) {
                a->signed_headers = eq + 1;
                a->signed_headers_len = vlen;
            } else if (nlen == 9 && strncmp(s, "Signature", 9) == 0) {
                a->signature = eq + 1;
                a->signature_len = vlen;
            }
        }
        s += len;
    }
}

/* Strict YYYYMMDDTHHMMSSZ; rejects impossible dates by formatting the result back. */
static bool parse_amz_date(const char *s, int64_t *out)
{
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
    struct tm tm = {0};
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    struct tm want = tm;
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm normalizes 20260231 into March: a date that does not come back is impossible. */
    if (!gmtime_r(&t, &back) || back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
        back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
        back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
        return false;
    *out = (int64_t)t;
    return true;
}

static void format_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        strcpy(out, "?");
        return;
    }
    /* The modulos tell the compiler each field fits its width. */
    snprintf(out, 17, "%04u%02u%02uT%02u%02u%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
}

/* Is `name` (lower case) in the ';'-separated list? */
static bool list_has(const char *list, size_t len, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && list[j] != ';') j++;
        if (j - i == nlen && strncmp(list + i, name, nlen) == 0) return true;
        i = j + 1;
    }
    return false;
}

static const struct identity *find_identity(const struct config *cfg, const char *akid)
{
    for (size_t i = 0; i < cfg->identity_count; i++)
        if (strcmp(cfg->identities[i].access_key_id, akid) == 0) return &cfg->identities[i];
    return NULL;
}

/* Why the signed-header lists differ, for the error message. */
static void explain_header_lists(const struct request *rq, const struct authz *a, struct buf *why)
{
    char name[256];
    for (size_t i = 0; i < a->signed_headers_len;) {
        size_t j = i;
        while (j < a->signed_headers_len && a->signed_headers[j] != ';') j++;
        snprintf(name, sizeof name, "%.*s", (int)(j - i), a->signed_headers + i);
        i = j + 1;
        if (!request_header(rq, name))
            buf_printf(why, " (SignedHeaders lists '%s', which the request does not carry.)", name);
    }
}

/* The canonical request with the session token's value hidden (the reply may be logged). */
static void append_redacted(struct buf *b, const char *creq)
{
    const char *tok = strstr(creq, "\nx-amz-security-token:");
    if (!tok) {
        buf_append_str(b, creq);
        return;
    }
    tok += strlen("\nx-amz-security-token:");
    buf_append(b, creq, (size_t)(tok - creq));
    buf_append_str(b, "<redacted>");
    buf_append_str(b, tok + strcspn(tok, "\n"));
}

static void mismatch(struct reply *r, const struct mantle_sigv4_result *res, const char *extra)
{
    struct buf m = BUF_INIT;
    buf_append_str(&m, MSG_MISMATCH);
    if (extra) buf_append_str(&m, extra);
    const char *creq = res ? mantle_sigv4_result_canonical_request(res) : NULL;
    if (creq) {
        /* What AWS adds for SigV4 services: the strings we signed, to diff against the client's. */
        buf_append_str(&m, "\n\nThe Canonical String for this request should have been\n'");
        append_redacted(&m, creq);
        buf_append_str(&m, "'\n\nThe String-to-Sign should have been\n'");
        buf_append_str(&m, mantle_sigv4_result_string_to_sign(res));
        buf_append_str(&m, "'\n");
    }
    fail(r, 403, "InvalidSignatureException", buf_failed(&m) ? MSG_MISMATCH : m.data);
    buf_free(&m);
}

/* Recomputes the signature over the received request and compares. */
static bool verify_signature(const struct request *rq, const struct authz *a,
                             const struct identity *id, const char *region, const char *service,
                             int64_t signing_time, struct reply *r)
{
    struct mantle_header *hs = calloc(rq->header_count + 1, sizeof *hs);
    struct buf url = BUF_INIT;
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    bool ok = false;
    if (!hs || !res) goto done;
    size_t n = 0;
    char lower[256];
    for (size_t i = 0; i < rq->header_count; i++) {
        const char *name = rq->headers[i].name;
        size_t len = strlen(name);
        if (len >= sizeof lower) continue;
        for (size_t k = 0; k <= len; k++)
            lower[k] = (name[k] >= 'A' && name[k] <= 'Z') ? (char)(name[k] + 32) : name[k];
        if (list_has(a->signed_headers, a->signed_headers_len, lower)) hs[n++] = rq->headers[i];
    }
    /* The host part is irrelevant: the Host header as received is among the signed headers. */
    buf_append_str(&url, "http://mantle-emulator");
    buf_append_str(&url, rq->target);
    if (buf_failed(&url)) goto done;
    struct mantle_sigv4_request sreq = {
        .method = rq->method,
        .url = url.data,
        .headers = hs,
        .header_count = n,
        .payload_kind = MANTLE_PAYLOAD_BYTES,
        .payload = rq->body,
        .payload_len = rq->body_len,
    };
    struct mantle_sigv4_credentials cr = {id->access_key_id, id->secret, id->session_token};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = region;
    pa.service = service;
    pa.signing_time = signing_time;
    /* AWS verifies over whatever SignedHeaders lists, user-agent and the like included. */
    pa.flags = MANTLE_SIGV4_SIGN_GIVEN_HEADERS;
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (mantle_sigv4_sign(&sreq, &cr, &pa, res, &err) != MANTLE_OK) {
        char extra[600];
        snprintf(extra, sizeof extra, " (mantle-emulator could not sign the request: %s.)",
                 err.message);
        mismatch(r, NULL, extra);
        goto done;
    }
    const char *auth = mantle_sigv4_result_header(res, "Authorization");
    const char *sh = auth ? strstr(auth, "SignedHeaders=") : NULL;
    size_t sh_len = sh ? strcspn(sh += 14, ",") : 0;
    if (!sh || sh_len != a->signed_headers_len || memcmp(sh, a->signed_headers, sh_len) != 0) {
        struct buf why = BUF_INIT;
        explain_header_lists(rq, a, &why);
        mismatch(r, res, why.data);
        buf_free(&why);
        goto done;
    }
    const char *sig = mantle_sigv4_result_signature(res);
    if (a->signature_len != 64 || CRYPTO_memcmp(sig, a->signature, 64) != 0) {
        mismatch(r, res, NULL);
        goto done;
    }
    ok = true;
done:
    if (!ok && !r->body) fail(r, 500, "InternalServerException", "out of memory");
    mantle_sigv4_result_free(res);
    free(hs);
    buf_free(&url);
    return ok;
}

/* Time, credential scope and signed-header rules, in the order AWS applies them. */
static bool check_sigv4(const struct config *cfg, const struct request *rq, const char *authz,
                        int64_t now, struct auth_result *out, struct reply *r)
{
    struct authz a;
    parse_authz(authz + strlen(ALGORITHM), &a);
    const char *amz_date = request_header(rq, "x-amz-date");
    if (!a.credential || !a.signed_headers || !a.signature || !amz_date) {
        struct buf m = BUF_INIT;
        if (!a.credential)
            buf_append_str(&m, "Authorization header requires 'Credential' parameter. ");
        if (!a.signature)
            buf_append_str(&m, "Authorization header requires 'Signature' parameter. ");
        if (!a.signed_headers)
            buf_append_str(&m, "Authorization header requires 'SignedHeaders' parameter. ");
        if (!amz_date)
            buf_append_str(&m, request_header(rq, "date")
                                   ? "mantle-emulator requires the 'X-Amz-Date' header (signing "
                                     "with 'Date' is not supported). "
                                   : "Authorization header requires existence of either a "
                                     "'X-Amz-Date' or a 'Date' header. ");
        buf_printf(&m, "Authorization=%s", authz);
        fail(r, 400, "IncompleteSignatureException", buf_failed(&m) ? "bad Authorization" : m.data);
        buf_free(&m);
        return false;
    }
    snprintf(out->signed_headers, sizeof out->signed_headers, "%.*s", (int)a.signed_headers_len,
             a.signed_headers);
    int64_t t;
    if (!parse_amz_date(amz_date, &t)) {
        failf(r, 400, "IncompleteSignatureException",
              "Date must be in ISO-8601 'basic format'. Got '%.64s'. See "
              "http://en.wikipedia.org/wiki/ISO_8601",
              amz_date);
        return false;
    }
    /* Credential = AKID/DATE/REGION/SERVICE/aws4_request */
    char cred[512], *parts[6];
    int nparts = 0;
    if (a.credential_len >= sizeof cred) a.credential_len = sizeof cred - 1;
    memcpy(cred, a.credential, a.credential_len);
    cred[a.credential_len] = '\0';
    for (char *p = cred; nparts < 6;) {
        parts[nparts++] = p;
        char *slash = strchr(p, '/');
        if (!slash) break;
        *slash = '\0';
        p = slash + 1;
    }
    if (nparts != 5) {
        failf(r, 400, "IncompleteSignatureException",
              "Credential must have exactly 5 slash-delimited elements, e.g. "
              "keyid/date/region/service/term, got '%.*s'",
              (int)a.credential_len, a.credential);
        return false;
    }
    snprintf(out->access_key_id, sizeof out->access_key_id, "%.128s", parts[0]);
    char req_s[17], lim_s[17], now_s[17];
    format_amz_date(t, req_s);
    format_amz_date(now, now_s);
    if (t < now - SKEW_LIMIT || t > now + SKEW_LIMIT) {
        bool past = t < now - SKEW_LIMIT;
        format_amz_date(past ? now - SKEW_LIMIT : now + SKEW_LIMIT, lim_s);
        failf(r, 403, "InvalidSignatureException",
              past ? "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                   : "Signature not yet current: %s is still later than %s (%s + 5 min.)",
              req_s, lim_s, now_s);
        return false;
    }
    struct buf m = BUF_INIT;
    if (strcmp(parts[2], cfg->region) != 0)
        buf_printf(&m, "Credential should be scoped to a valid region, not '%.64s'. ", parts[2]);
    const char *service = NULL;
    for (size_t i = 0; i < cfg->service_count; i++)
        if (strcmp(parts[3], cfg->services[i]) == 0) service = cfg->services[i];
    if (!service)
        buf_printf(&m, "Credential should be scoped to correct service: '%s'. ", cfg->services[0]);
    if (strcmp(parts[4], "aws4_request") != 0)
        buf_printf(&m,
                   "Credential should be scoped with a valid terminator: 'aws4_request', not "
                   "'%.64s'. ",
                   parts[4]);
    if (strncmp(parts[1], req_s, 8) != 0 || strlen(parts[1]) != 8)
        buf_printf(&m,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                   "date from HTTP: '%.64s' != '%.8s', from '%s'. ",
                   parts[1], req_s, req_s);
    if (m.len) {
        m.data[--m.len] = '\0'; /* the last blank */
        fail(r, 403, "InvalidSignatureException", buf_failed(&m) ? "bad scope" : m.data);
        buf_free(&m);
        return false;
    }
    buf_free(&m);
    if (!list_has(a.signed_headers, a.signed_headers_len, "host")) {
        fail(r, 400, "IncompleteSignatureException",
             "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        return false;
    }
    if (!list_has(a.signed_headers, a.signed_headers_len, "x-amz-date")) {
        fail(r, 400, "IncompleteSignatureException",
             "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
        return false;
    }
    const struct identity *id = find_identity(cfg, parts[0]);
    if (!id) {
        fail(r, 403, "UnrecognizedClientException", MSG_BAD_TOKEN);
        return false;
    }
    const char *token = request_header(rq, "x-amz-security-token");
    if (!id->session_token != !token ||
        (token && !equal_secret(token, strlen(token), id->session_token))) {
        fail(r, 403, "UnrecognizedClientException", MSG_BAD_TOKEN);
        return false;
    }
    if (token && !list_has(a.signed_headers, a.signed_headers_len, "x-amz-security-token")) {
        fail(r, 400, "IncompleteSignatureException",
             "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.");
        return false;
    }
    if (id->expires && now >= id->expires) {
        fail(r, 403, "ExpiredTokenException", MSG_EXPIRED_TOKEN);
        return false;
    }
    const char *sent_hash = request_header(rq, "x-amz-content-sha256");
    if (sent_hash) {
        uint8_t digest[SHA256_LEN];
        char hex[SHA256_HEX_LEN + 1];
        crypto_sha256(rq->body_len ? rq->body : "", rq->body_len, digest);
        hex_encode(digest, SHA256_LEN, hex);
        if (strcmp(sent_hash, hex) != 0) {
            mismatch(r, NULL, " (the X-Amz-Content-Sha256 header is not the SHA-256 of the body.)");
            return false;
        }
    }
    if (!verify_signature(rq, &a, id, parts[2], service, t, r)) return false;
    out->kind = AUTH_SIGV4;
    return true;
}

bool auth_check(const struct config *cfg, const struct request *rq, int64_t now,
                struct auth_result *res, struct reply *r)
{
    memset(res, 0, sizeof *res);
    const char *authz = request_header(rq, "authorization");
    if (!authz) {
        const char *key = strncmp(rq->path, "/anthropic/", 11) == 0
                              ? request_header(rq, "x-api-key")
                              : NULL; /* the Anthropic SDKs' header */
        if (key) return check_api_key(cfg, key, strlen(key), res, r);
        fail(r, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        return false;
    }
    if (strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *key = authz + 7;
        while (*key == ' ') key++;
        return check_api_key(cfg, key, strlen(key), res, r);
    }
    if (strncmp(authz, ALGORITHM " ", strlen(ALGORITHM) + 1) == 0)
        return check_sigv4(cfg, rq, authz, now, res, r);
    /* Never echo an unknown scheme's value: it may be a credential. */
    fail(r, 400, "IncompleteSignatureException",
         "Authorization header requires 'Credential' parameter. Authorization header requires "
         "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
         "(unsupported authorization scheme)");
    return false;
}
