/* The IAM Identity Center (SSO) credential provider: botocore's SSOProvider + SSOCredentialFetcher,
 * reading the token `aws sso login` left in ~/.aws/sso/cache. See sso.c for what is matched and
 * what is not (notably: no token refresh through SSO-OIDC CreateToken). */
#ifndef MANTLE_CREDENTIALS_SSO_H
#define MANTLE_CREDENTIALS_SSO_H

#include <mantle/credentials.h>
#include <mantle/error.h>

/* A provider for the profile named by opts->profile (else AWS_DEFAULT_PROFILE, else AWS_PROFILE,
 * else "default"), which is SSO-configured when it has sso_account_id or sso_role_name. Not
 * configured: CREDS_NOT_FOUND. Copies opts; no I/O until the first get. Another provider that
 * needs SSO credentials for some profile (e.g. a source_profile) can pass options naming that
 * profile.
 *
 * Read through opts' getenv: AWS_DEFAULT_PROFILE, AWS_PROFILE, AWS_CONFIG_FILE,
 * AWS_SHARED_CREDENTIALS_FILE, HOME (the token cache is $HOME/.aws/sso/cache), AWS_ENDPOINT_URL_SSO
 * then AWS_ENDPOINT_URL (replace https://portal.sso.<sso_region>.amazonaws.com; tests point them at
 * a local fake). */
struct mantle_credentials_provider *creds_sso_new(const struct mantle_credentials_options *opts,
                                                  struct mantle_error *err);

/* Test hook: the per-attempt connect and total timeouts of the portal call (0, 0 restores the
 * defaults), so a hanging portal can be tested in seconds. Not for concurrent use. */
void sso_set_timeouts(long connect_ms, long total_ms);

#endif
