/* AWS STS over the query protocol: AssumeRole (SigV4-signed with the source credentials) and
 * AssumeRoleWithWebIdentity (unsigned), for the assume-role and web-identity providers. */
#ifndef MANTLE_CREDENTIALS_STS_H
#define MANTLE_CREDENTIALS_STS_H

#include <mantle/credentials.h>
#include <mantle/error.h>

#include "profile_file.h"

#define STS_MAX_ATTEMPTS 3
#define STS_CONNECT_TIMEOUT_MS 10000
#define STS_TIMEOUT_MS 30000

/* Test hook: the per-attempt connect and total timeouts (0, 0 restores the defaults above), so a
 * hanging STS can be tested in seconds. Set before any call; not for concurrent use. */
void sts_set_timeouts(long connect_ms, long total_ms);

struct sts_endpoint {
    char url[512];   /* ends with '/' */
    char region[64]; /* the SigV4 scope region */
};

/* Where STS calls go, as botocore 1.29 decides with sts_regional_endpoints=legacy (its default):
 * the region is AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`; no region, or one of
 * the legacy global regions, goes to https://sts.amazonaws.com signed for us-east-1; others (or
 * every region with AWS_STS_REGIONAL_ENDPOINTS / the profile's sts_regional_endpoints = regional)
 * to https://sts.{region}.amazonaws.com. AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, override the
 * URL (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true). profile may be NULL. */
mantle_code sts_endpoint_resolve(const struct mantle_credentials_options *o,
                                 const struct profile *profile, struct sts_endpoint *ep,
                                 struct mantle_error *err);

struct sts_request {
    const char *action;             /* "AssumeRole" or "AssumeRoleWithWebIdentity" */
    const char *role_arn;           /* required */
    const char *role_session_name;  /* required */
    const char *external_id;        /* AssumeRole only; NULL: omitted */
    const char *web_identity_token; /* AssumeRoleWithWebIdentity only (secret) */
    long duration_seconds;          /* 0: omitted (STS default) */
};

/* One STS call with up to STS_MAX_ATTEMPTS attempts (connection errors, timeouts, 5xx, 429 and
 * throttling codes are retried with backoff). source signs AssumeRole (NULL for web identity).
 * label is used as the credentials' source and in messages. On an STS error the message is
 * "<label>: STS <action> failed: <Code>: <Message>" with http_status, request_id and attempts. */
mantle_code sts_call(const struct sts_endpoint *ep, const struct sts_request *req,
                     const struct mantle_credentials *source, const char *label,
                     struct mantle_credentials **out, struct mantle_error *err);

#endif
