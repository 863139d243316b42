/* Credentials from environment variables, read at every get (never at creation), as botocore's
 * EnvProvider: an empty variable counts as unset; AWS_SECURITY_TOKEN is tried before
 * AWS_SESSION_TOKEN (botocore's TOKENS order); AWS_CREDENTIAL_EXPIRATION makes them expire (the
 * cache then re-reads the environment ahead of it); AWS_ACCOUNT_ID fills the account id. */
#include "credentials_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/secret.h"
#include "core/timeutil.h"

#define ENV_SOURCE "env"

/* A private copy of a non-empty variable: the injected getenv's strings are only guaranteed for
 * the duration of its own call. Returns false only when out of memory. */
static bool env_copy(const struct mantle_credentials_options *o, const char *name, char **out)
{
    const char *v = creds_getenv_nonempty(o, name);
    *out = v ? secret_strdup(v) : NULL;
    return !v || *out;
}

static mantle_code env_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    const struct mantle_credentials_options *o = impl;
    char *akid = NULL, *secret = NULL, *token = NULL, *expiry = NULL, *account = NULL;
    mantle_code code = MANTLE_OK;

    if (!env_copy(o, "AWS_ACCESS_KEY_ID", &akid)) goto nomem;
    if (!akid) return creds_not_found(err, ENV_SOURCE " (AWS_ACCESS_KEY_ID not set)");
    if (!env_copy(o, "AWS_SECRET_ACCESS_KEY", &secret)) goto nomem;
    if (!secret) {
        code = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "Partial credentials found in " ENV_SOURCE
                                ", missing: AWS_SECRET_ACCESS_KEY");
        goto out;
    }
    if (!env_copy(o, "AWS_SECURITY_TOKEN", &token)) goto nomem;
    if (!token && !env_copy(o, "AWS_SESSION_TOKEN", &token)) goto nomem;
    if (!env_copy(o, "AWS_CREDENTIAL_EXPIRATION", &expiry)) goto nomem;
    if (!env_copy(o, "AWS_ACCOUNT_ID", &account)) goto nomem;

    int64_t expiration = 0;
    if (expiry && !time_parse_iso8601(expiry, strlen(expiry), &expiration)) {
        code =
            mantle_error_set(err, MANTLE_E_CONFIG,
                             ENV_SOURCE ": AWS_CREDENTIAL_EXPIRATION is not an ISO 8601 "
                                        "timestamp with a time zone (e.g. 2026-01-02T03:04:05Z)");
        goto out;
    }
    if (expiry && expiration <= 0) {
        code = mantle_error_set(err, MANTLE_E_CONFIG,
                                ENV_SOURCE ": AWS_CREDENTIAL_EXPIRATION must be after 1970");
        goto out;
    }
    const struct creds_fields f = {akid, secret, token, expiration, account, ENV_SOURCE};
    struct mantle_error cerr = MANTLE_ERROR_INIT;
    *out = creds_new(&f, &cerr);
    if (!*out) {
        code = cerr.code;
        if (err) *err = cerr;
        mantle_error_prefix(err, ENV_SOURCE);
    }
    goto out;
nomem:
    code = mantle_error_set(err, MANTLE_E_NOMEM, ENV_SOURCE ": out of memory");
out:
    secret_free(akid);
    secret_free(secret);
    secret_free(token);
    free(expiry);
    free(account);
    return code;
}

/* Reading the environment never blocks, so async callers get their answer inline. */
static mantle_code env_get_async(void *impl, mantle_credentials_cb *done, void *user_data)
{
    struct mantle_credentials *c = NULL;
    struct mantle_error e = MANTLE_ERROR_INIT;
    mantle_code code = env_get(impl, &c, &e);
    if (code == MANTLE_OK) {
        done(user_data, c, NULL);
    } else {
        e.code = code;
        done(user_data, NULL, &e);
    }
    return MANTLE_OK;
}

static void env_destroy(void *impl)
{
    creds_options_free(impl);
    free(impl);
}

static const struct mantle_credentials_provider_vtable env_vtable = {
    .get = env_get,
    .get_async = env_get_async,
    .destroy = env_destroy,
};

struct mantle_credentials_provider *
mantle_credentials_provider_new_environment(const struct mantle_credentials_options *opts,
                                            struct mantle_error *err)
{
    struct mantle_credentials_options *o = malloc(sizeof *o);
    if (!o || !creds_options_copy(o, opts)) {
        free(o);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the environment provider");
        return NULL;
    }
    struct mantle_credentials_provider *p = provider_new(&env_vtable, o, err);
    if (!p) env_destroy(o);
    return p;
}
