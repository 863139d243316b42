/* The internal side of credentials and providers: what every provider module (environment,
 * profile files, credential_process, STS, SSO, IMDS, container...) builds on.
 *
 * Writing a provider:
 *   1. Put its state in an impl struct and fill a struct mantle_credentials_provider_vtable:
 *      `get` (blocking) and/or `get_async` (must never block the calling thread; a provider that
 *      only has a blocking `get` gets a worker thread for async callers automatically).
 *   2. Create it with provider_new(). Creation must not do I/O or read anything: copy the options
 *      (creds_options_copy) and resolve at the first get.
 *   3. On success, build credentials with creds_new() (source + account id) and hand back the
 *      reference. When the source simply has nothing (variable unset, no file, no such profile, not
 *      on EC2...), return creds_not_found(): a chain then tries the next provider. Any other code
 * is a real error and stops a chain, as in botocore (e.g. a half-configured source).
 *   4. Messages name what was looked at (variable, file, profile, key, URL path), never a value.
 *
 * Results travel unwrapped inside the library (provider_get, provider_get_async); only the public
 * entry points (mantle_credentials_provider_get/_get_async) wrap errors into
 * "Failed to refresh AWS credentials: <cause>" and turn "not found" into "Unable to locate
 * credentials; tried: ...". Never call the public functions from inside a provider.
 */
#ifndef MANTLE_CREDENTIALS_INTERNAL_H
#define MANTLE_CREDENTIALS_INTERNAL_H

#include <mantle/credentials.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- credentials ---- */

/* Everything a credential set holds; borrowed, copied by creds_new(). */
struct creds_fields {
    const char *access_key_id;     /* required, non-empty */
    const char *secret_access_key; /* required, non-empty */
    const char *session_token;     /* NULL or "" when absent */
    int64_t expiration;            /* seconds since the epoch; 0: never expires */
    const char *account_id;        /* NULL or "" when unknown */
    const char *source;            /* for people, never secret, e.g. "env",
                                      "shared-credentials-file (~/.aws/credentials, profile dev)";
                                      NULL or "": "explicit" */
};

/* New credentials with one reference. On bad input returns NULL with MANTLE_E_INVALID_ARGUMENT
 * naming the empty field ("access key id is empty"); callers add context with mantle_error_prefix.
 * MANTLE_E_NOMEM on allocation failure. */
struct mantle_credentials *creds_new(const struct creds_fields *f, struct mantle_error *err);

/* Expired iff there is an expiration and it is before now (botocore's refresh_needed(0): a set
 * expiring exactly now is still usable). Credentials without an expiration never expire. */
bool creds_expired(const struct mantle_credentials *c, int64_t now);

/* ---- "not found" ---- */

/* Internal result code: "this source has no credentials", not an error. Never leaves the library
 * (the public entry points turn it into MANTLE_E_CREDENTIALS "Unable to locate credentials; ...").
 * Outside the public enum's range on purpose; compare with ==, never switch on it. */
#define CREDS_NOT_FOUND ((mantle_code)0x100)

/* Sets err to CREDS_NOT_FOUND with a message saying which source was tried and why it had
 * nothing, by convention "<source> (<why>)", e.g. "env (AWS_ACCESS_KEY_ID not set)". A chain joins
 * these with ", ". Returns CREDS_NOT_FOUND. */
mantle_code creds_not_found(struct mantle_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- providers ---- */

/* A provider over an internal vtable (copied) and impl. NULL on allocation failure (err filled;
 * impl is not destroyed: the caller still owns it). At least one of get/get_async must be set. */
struct mantle_credentials_provider *
provider_new(const struct mantle_credentials_provider_vtable *vt, void *impl,
             struct mantle_error *err);
void *provider_impl(const struct mantle_credentials_provider *p);
/* True if p was created with this vtable's get/get_async (to recognise a provider kind). */
bool provider_has_vtable(const struct mantle_credentials_provider *p,
                         const struct mantle_credentials_provider_vtable *vt);

/* Unwrapped blocking get: MANTLE_OK with a new reference in *out, CREDS_NOT_FOUND, or an error.
 * A provider with only get_async is waited for. */
mantle_code provider_get(struct mantle_credentials_provider *p, struct mantle_credentials **out,
                         struct mantle_error *err);
/* Unwrapped non-blocking get: returns MANTLE_OK iff done will be called exactly once; the err
 * passed to done may carry CREDS_NOT_FOUND. A provider with only a blocking get runs on an
 * internal worker thread, never on the caller's. Other return codes: MANTLE_E_NOMEM, or a
 * worker thread could not be started (MANTLE_E_CREDENTIALS). */
mantle_code provider_get_async(struct mantle_credentials_provider *p, mantle_credentials_cb *done,
                               void *user_data);

/* The public-boundary wrapping, exposed for callers that surface provider results themselves
 * (the client, the CLI): turns an internal result into the public one in place. */
void creds_error_to_public(struct mantle_error *err);

/* ---- the worker pool for blocking providers called asynchronously ---- */

/* At most this many worker threads exist at once; more jobs queue. Threads are started on demand,
 * detached, with every signal blocked, and exit as soon as the queue is empty, so an idle process
 * has none (nothing for LeakSanitizer or fork() to trip on). */
#define CREDS_WORKER_MAX 4

/* Runs fn(arg) on a worker thread. Returns false if the job could not be queued or no thread
 * could be started (fn is then not called). */
bool creds_worker_submit(void (*fn)(void *arg), void *arg);
/* Blocks until no job is queued or running (tests; orderly shutdown). */
void creds_worker_quiesce(void);

/* ---- options ---- */

/* A provider's own copy of the options: strings duplicated, hooks copied. opts may be NULL
 * (defaults). Returns false on allocation failure (dst then holds nothing to free). */
bool creds_options_copy(struct mantle_credentials_options *dst,
                        const struct mantle_credentials_options *opts);
void creds_options_free(struct mantle_credentials_options *o);
/* The variable through the injected getenv (or getenv); NULL when unset. */
const char *creds_getenv(const struct mantle_credentials_options *o, const char *name);
/* Same, but an empty value counts as unset (botocore's `environ.get(name, '')` then `if value`). */
const char *creds_getenv_nonempty(const struct mantle_credentials_options *o, const char *name);
/* The injected clock, or time(). */
int64_t creds_now(const struct mantle_credentials_options *o);

/* ---- composite providers ---- */

/* The refresh windows (botocore's _advisory_refresh_timeout / _mandatory_refresh_timeout). */
#define CREDS_ADVISORY_REFRESH_SECS (15 * 60)
#define CREDS_MANDATORY_REFRESH_SECS (10 * 60)

/* mantle_credentials_provider_new_cached with an injectable clock (now_fn NULL: time()). */
struct mantle_credentials_provider *creds_cached_new(struct mantle_credentials_provider *inner,
                                                     int64_t (*now_fn)(void *ud), void *now_ud,
                                                     struct mantle_error *err);
/* Callers currently waiting on the cache's in-flight refresh (blocking ones plus queued
 * callbacks); 0 if p is not a cache. For tests that must know every caller has arrived. */
size_t creds_cached_waiting(struct mantle_credentials_provider *p);

/* A chain: the first provider that finds credentials wins; CREDS_NOT_FOUND goes on to the next;
 * any other error stops the chain. Takes a reference to each provider. When every provider comes
 * up empty the result is CREDS_NOT_FOUND listing each one's message. */
struct mantle_credentials_provider *
creds_chain_new(struct mantle_credentials_provider *const *items, size_t count,
                struct mantle_error *err);

#endif
