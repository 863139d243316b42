/* Immutable, reference-counted credentials. Nothing changes after creds_new() returns, so the
 * getters need no lock; only the count is shared state. */
#include "credentials_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/secret.h"

struct mantle_credentials {
    atomic_uint refs;
    char *access_key_id; /* not secret by AWS's rules, but wiped like the rest: cheap */
    char *secret_access_key;
    char *session_token; /* NULL when absent */
    char *account_id;    /* NULL when unknown */
    char *source;
    int64_t expiration;
};

static void creds_free(struct mantle_credentials *c)
{
    secret_free(c->access_key_id);
    secret_free(c->secret_access_key);
    secret_free(c->session_token);
    free(c->account_id);
    free(c->source);
    free(c);
}

struct mantle_credentials *creds_new(const struct creds_fields *f, struct mantle_error *err)
{
    if (!f || !f->access_key_id || !*f->access_key_id) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "access key id is empty");
        return NULL;
    }
    if (!f->secret_access_key || !*f->secret_access_key) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "secret access key is empty");
        return NULL;
    }
    if (f->expiration < 0) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "expiration is negative");
        return NULL;
    }
    struct mantle_credentials *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    atomic_init(&c->refs, 1);
    c->expiration = f->expiration;
    c->access_key_id = secret_strdup(f->access_key_id);
    c->secret_access_key = secret_strdup(f->secret_access_key);
    c->source = strdup(f->source && *f->source ? f->source : "explicit");
    if (!c->access_key_id || !c->secret_access_key || !c->source) goto nomem;
    if (f->session_token && *f->session_token) {
        c->session_token = secret_strdup(f->session_token);
        if (!c->session_token) goto nomem;
    }
    if (f->account_id && *f->account_id) {
        c->account_id = strdup(f->account_id);
        if (!c->account_id) goto nomem;
    }
    return c;
nomem:
    if (c) creds_free(c);
    mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating credentials");
    return NULL;
}

bool creds_expired(const struct mantle_credentials *c, int64_t now)
{
    return c->expiration != 0 && c->expiration < now;
}

struct mantle_credentials *mantle_credentials_new(const char *access_key_id,
                                                  const char *secret_access_key,
                                                  const char *session_token, int64_t expiration,
                                                  struct mantle_error *err)
{
    const struct creds_fields f = {access_key_id, secret_access_key, session_token, expiration,
                                   NULL,          "explicit"};
    return creds_new(&f, err);
}

struct mantle_credentials *mantle_credentials_ref(struct mantle_credentials *c)
{
    /* Relaxed: a new reference can only be made from an existing one, which already orders it. */
    if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void mantle_credentials_unref(struct mantle_credentials *c)
{
    /* Release on every drop, acquire on the last, so the freeing thread sees all prior uses. */
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) creds_free(c);
}

const char *mantle_credentials_access_key_id(const struct mantle_credentials *c)
{
    return c ? c->access_key_id : NULL;
}

const char *mantle_credentials_secret_access_key(const struct mantle_credentials *c)
{
    return c ? c->secret_access_key : NULL;
}

const char *mantle_credentials_session_token(const struct mantle_credentials *c)
{
    return c ? c->session_token : NULL;
}

int64_t mantle_credentials_expiration(const struct mantle_credentials *c)
{
    return c ? c->expiration : 0;
}

const char *mantle_credentials_account_id(const struct mantle_credentials *c)
{
    return c ? c->account_id : NULL;
}

const char *mantle_credentials_source(const struct mantle_credentials *c)
{
    return c ? c->source : "";
}
