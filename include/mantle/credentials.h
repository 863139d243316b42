/*
 * mantle/credentials.h - AWS credentials and the providers that produce them.
 *
 * Credentials are immutable and reference-counted. Providers are reference-counted objects
 * behind one interface with a blocking get and a non-blocking get that completes through a
 * callback; the default chain resolves what botocore and the AWS CLI resolve, in their order.
 *
 * Laziness: creating a provider never does I/O and never resolves anything; the first get does.
 * Caching: mantle_credentials_provider_new_cached() (and the default chain, which is wrapped in
 * one) reuses credentials until they near expiry, refreshes ahead of it (botocore's windows:
 * advisory 15 minutes, mandatory 10 minutes before expiry), and lets exactly one caller fetch
 * while the others wait (mandatory) or keep using the still-valid credentials (advisory).
 *
 * Thread-safety: every function here may be called from any thread; providers may be shared.
 * Secrets are wiped from memory when the last reference is released and never appear in error
 * messages or logs.
 */
#ifndef MANTLE_CREDENTIALS_H
#define MANTLE_CREDENTIALS_H

#include <stdint.h>
#include "common.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- credentials ---- */

struct mantle_credentials;

/* New credentials with one reference. Strings are copied; session_token may be NULL or "";
 * expiration is seconds since the epoch, 0 for "never expires". Their source is "explicit" and
 * they carry no account id. Returns NULL on bad input (MANTLE_E_INVALID_ARGUMENT: empty or NULL
 * key id or secret, negative expiration) or no memory, with err filled. */
MANTLE_API struct mantle_credentials *
mantle_credentials_new(const char *access_key_id, const char *secret_access_key,
                       const char *session_token, int64_t expiration, struct mantle_error *err);
/* Adds a reference; returns c. NULL is allowed. */
MANTLE_API struct mantle_credentials *mantle_credentials_ref(struct mantle_credentials *c);
/* Drops a reference; at zero the secrets are wiped and the memory freed. NULL is allowed. */
MANTLE_API void mantle_credentials_unref(struct mantle_credentials *c);

/* Borrowed views, valid while the caller holds a reference. session_token is NULL when absent. */
MANTLE_API const char *mantle_credentials_access_key_id(const struct mantle_credentials *c);
MANTLE_API const char *mantle_credentials_secret_access_key(const struct mantle_credentials *c);
MANTLE_API const char *mantle_credentials_session_token(const struct mantle_credentials *c);
/* Seconds since the epoch; 0 when the credentials do not expire. */
MANTLE_API int64_t mantle_credentials_expiration(const struct mantle_credentials *c);
/* The AWS account id when the source reported one, else NULL. */
MANTLE_API const char *mantle_credentials_account_id(const struct mantle_credentials *c);
/* Which provider produced them and from where, for people (never secret), e.g.
 * "shared-credentials-file (~/.aws/credentials, profile dev)". Never NULL. */
MANTLE_API const char *mantle_credentials_source(const struct mantle_credentials *c);

/* ---- providers ---- */

struct mantle_credentials_provider;

/* Completion of a non-blocking get. Exactly one of creds and err is non-NULL. creds is a new
 * reference the callback owns (unref it); err is borrowed for the duration of the call. The
 * callback may run on another thread than the one that started the get. */
typedef void mantle_credentials_cb(void *user_data, struct mantle_credentials *creds,
                                   const struct mantle_error *err);

/* An application's own provider (the seed's credential_provider). Give `get` (blocking), or
 * `get_async` (non-blocking), or both. With only `get`, non-blocking callers run it on a worker
 * thread, never on their event loop (an internal pool of at most 4 threads, started on demand,
 * signals blocked, gone when idle; more concurrent fetches queue). With only `get_async`,
 * blocking callers wait for it. get_async has no error out-parameter: to report why a fetch
 * failed, return MANTLE_OK and call `done` with the error (possibly before returning); a non-OK
 * return reaches the caller as a bare code. */
struct mantle_credentials_provider_vtable {
    /* Store a new reference in *out, or return an error (filling err). */
    mantle_code (*get)(void *impl, struct mantle_credentials **out, struct mantle_error *err);
    /* Start a fetch; return MANTLE_OK iff `done` will be called, exactly once. */
    mantle_code (*get_async)(void *impl, mantle_credentials_cb *done, void *user_data);
    /* Called once when the provider's last reference goes. May be NULL. */
    void (*destroy)(void *impl);
};

/* The vtable is copied; impl is passed back to every call and to destroy. Returns NULL
 * (MANTLE_E_INVALID_ARGUMENT) when neither get nor get_async is given, or on no memory; impl then
 * stays the caller's (destroy is not called). */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_custom(const struct mantle_credentials_provider_vtable *vtable,
                                       void *impl, struct mantle_error *err);

/* Blocking get: stores a new reference in *out (NULL on failure). Errors from the provider come
 * back as MANTLE_E_CREDENTIALS with "Failed to refresh AWS credentials: <cause>" (a cause that is
 * already such a message is not wrapped twice; http_status, request_id and attempts are kept).
 * When no source had any credentials the message is "Unable to locate credentials; tried:
 * <each source and why>", also MANTLE_E_CREDENTIALS. MANTLE_E_INVALID_ARGUMENT for NULL p/out. */
MANTLE_API mantle_code mantle_credentials_provider_get(struct mantle_credentials_provider *p,
                                                       struct mantle_credentials **out,
                                                       struct mantle_error *err);

/* Non-blocking get: returns MANTLE_OK iff `done` will be called exactly once (possibly before
 * this returns, on the calling thread, e.g. for cached credentials; possibly on another thread).
 * Never blocks the calling thread on I/O. Errors passed to `done` have the same form as the
 * blocking get's. Otherwise returns MANTLE_E_INVALID_ARGUMENT (NULL p or done), MANTLE_E_NOMEM
 * (no memory or no worker thread), or the code a custom get_async returned. */
MANTLE_API mantle_code mantle_credentials_provider_get_async(struct mantle_credentials_provider *p,
                                                             mantle_credentials_cb *done,
                                                             void *user_data);

MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_ref(struct mantle_credentials_provider *p);
MANTLE_API void mantle_credentials_provider_unref(struct mantle_credentials_provider *p);

/* Fixed credentials (takes its own reference to c). */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_static(struct mantle_credentials *c, struct mantle_error *err);

/* Wraps `inner` (takes a reference) in a cache with single-flight refresh. Credentials without
 * an expiration are kept forever. In the advisory window a failed refresh is ignored (the cached
 * credentials are still valid); in the mandatory window, or with nothing cached, its error goes to
 * every caller waiting for it. A refresh that yields already-expired credentials is an error.
 * Non-blocking callers never wait on a lock held during a fetch: they are queued on the
 * in-flight refresh and called back when it ends. */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_cached(struct mantle_credentials_provider *inner,
                                       struct mantle_error *err);

/* Where the default chain and the file-based providers look. Every field is optional: NULL/0
 * means the standard source (environment variables, ~/.aws files, the real endpoints). The
 * hooks exist so tests (and embedders) can inject an environment and a clock. */
struct mantle_credentials_options {
    const char *profile;          /* NULL: AWS_PROFILE, else "default" */
    const char *config_file;      /* NULL: AWS_CONFIG_FILE, else ~/.aws/config */
    const char *credentials_file; /* NULL: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials */
    /* Environment lookup; NULL means getenv. The returned string is only read during the call. */
    const char *(*getenv_fn)(void *ud, const char *name);
    void *getenv_ud;
    /* Wall clock in seconds since the epoch; NULL means time(). */
    int64_t (*now_fn)(void *ud);
    void *now_ud;
};

#define MANTLE_CREDENTIALS_OPTIONS_INIT                                                            \
    {                                                                                              \
        NULL, NULL, NULL, NULL, NULL, NULL, NULL                                                   \
    }

/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (AWS_SECURITY_TOKEN first, as
 * botocore), AWS_CREDENTIAL_EXPIRATION (RFC 3339, e.g. 2026-01-02T03:04:05Z), AWS_ACCOUNT_ID; read
 * at every get, never at creation (wrap it in a cache to read once). Empty variables count as
 * unset. No AWS_ACCESS_KEY_ID: "not found" (a chain moves on); a key id without a secret, or a
 * malformed expiration, is an error naming the variable. Source "env". Only opts' getenv hook is
 * used (opts may be NULL). */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_environment(const struct mantle_credentials_options *opts,
                                            struct mantle_error *err);

/* Container credentials (ECS task role, EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 * or _FULL_URI (plain http only to loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23),
 * with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at every fetch) or _TOKEN. Not configured:
 * the default chain moves on. */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_container(const struct mantle_credentials_options *opts,
                                          struct mantle_error *err);

/* EC2 instance metadata (IMDSv2, falling back to IMDSv1 as botocore does unless
 * AWS_EC2_METADATA_V1_DISABLED=true). Honours AWS_EC2_METADATA_DISABLED,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE), AWS_METADATA_SERVICE_TIMEOUT and _NUM_ATTEMPTS. */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_imds(const struct mantle_credentials_options *opts,
                                     struct mantle_error *err);

/* The AWS default chain in botocore's order, wrapped in a cache (using opts->now_fn). opts may be
 * NULL. An explicit opts->profile drops the environment provider, as botocore does for
 * Session(profile=...); AWS_PROFILE does not. Nothing is read until the first get. */
MANTLE_API struct mantle_credentials_provider *
mantle_credentials_provider_new_default_chain(const struct mantle_credentials_options *opts,
                                              struct mantle_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MANTLE_CREDENTIALS_H */
