/* Web identity (botocore's AssumeRoleWithWebIdentityProvider): an OIDC token in a file (EKS IRSA,
 * GitHub Actions...) exchanged with STS AssumeRoleWithWebIdentity, which needs no signature.
 *
 * Each setting comes from its variable (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
 * AWS_ROLE_SESSION_NAME) or else the profile's key, per key as botocore's _get_config does; the
 * variables are ignored when a profile was given explicitly. The token file is read at every
 * fetch because the issuer rotates it (EKS: hourly). */
#include "profile_providers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error_internal.h"
#include "core/secret.h"
#include "sts.h"

#define WEB_TOKEN_MAX_BYTES (64 * 1024) /* JWTs are a few KiB */

struct wi_impl {
    struct mantle_credentials_options opts;
    bool disable_env;
};

static const char *setting(const struct wi_impl *wi, const struct profile *p, const char *env,
                           const char *key)
{
    if (!wi->disable_env) {
        /* botocore checks `env_key in os.environ`: a set but empty variable still counts. */
        const char *v = creds_getenv(&wi->opts, env);
        if (v) return v;
    }
    return p ? profile_get(p, key) : NULL;
}

/* Reads the token file (bounded). The token is a secret: wiped by the caller. */
static mantle_code read_token(const char *path, struct buf *out, struct mantle_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mantle_error_set(err, MANTLE_E_IO, "cannot read the web identity token file %s: %s",
                                path, strerror(errno));
    char chunk[4096];
    mantle_code rc = MANTLE_OK;
    for (;;) {
        ssize_t got = read(fd, chunk, sizeof chunk);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc =
                mantle_error_set(err, MANTLE_E_IO, "cannot read the web identity token file %s: %s",
                                 path, strerror(errno));
            break;
        }
        if (got == 0) break;
        if (out->len + (size_t)got > WEB_TOKEN_MAX_BYTES) {
            rc = mantle_error_set(err, MANTLE_E_CONFIG,
                                  "the web identity token file %s is larger than %d bytes", path,
                                  WEB_TOKEN_MAX_BYTES);
            break;
        }
        buf_append(out, chunk, (size_t)got);
    }
    secret_wipe(chunk, sizeof chunk);
    close(fd);
    buf_append(out, "", 0);
    if (!rc && buf_failed(out)) rc = mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    return rc;
}

static mantle_code wi_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    const struct wi_impl *wi = impl;
    bool named = false;
    char *name = creds_profile_select(&wi->opts, &named);
    if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct profile_set *set = NULL;
    struct buf token = BUF_INIT;
    char *token_file = NULL, *role_arn = NULL, *session_name = NULL;
    char label[300];
    snprintf(label, sizeof label, "assume-role-with-web-identity (profile %s)", name);

    mantle_code rc =
        creds_profile_load(&wi->opts, CREDS_LOAD_CONFIG | CREDS_LOAD_CREDENTIALS, &set, err);
    if (rc) {
        mantle_error_prefix(err, "%s", label);
        goto out;
    }
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, name);
    /* Copies: an injected getenv's strings only live for its call. */
    const char *v = setting(wi, p, "AWS_WEB_IDENTITY_TOKEN_FILE", "web_identity_token_file");
    if (!v || !*v) {
        rc = creds_not_found(err,
                             "assume-role-with-web-identity (profile %s: no "
                             "AWS_WEB_IDENTITY_TOKEN_FILE or web_identity_token_file)",
                             name);
        goto out;
    }
    if (!(token_file = strdup(v))) goto nomem;
    if ((v = setting(wi, p, "AWS_ROLE_ARN", "role_arn")) && !(role_arn = strdup(v))) goto nomem;
    if ((v = setting(wi, p, "AWS_ROLE_SESSION_NAME", "role_session_name")) &&
        !(session_name = strdup(v)))
        goto nomem;
    if (!role_arn || !*role_arn) {
        rc = mantle_error_set(err, MANTLE_E_CONFIG,
                              "%s: a web identity token file is configured but no role ARN: set "
                              "role_arn in the profile or AWS_ROLE_ARN",
                              label);
        goto out;
    }
    if ((rc = read_token(token_file, &token, err))) {
        mantle_error_prefix(err, "%s", label);
        goto out;
    }
    struct sts_endpoint ep;
    if ((rc = sts_endpoint_resolve(&wi->opts, p, &ep, err))) {
        mantle_error_prefix(err, "%s", label);
        goto out;
    }
    char session[64];
    if (!session_name || !*session_name) {
        snprintf(session, sizeof session, "botocore-session-%lld", (long long)creds_now(&wi->opts));
    }
    const struct sts_request req = {
        .action = "AssumeRoleWithWebIdentity",
        .role_arn = role_arn,
        .role_session_name = session_name && *session_name ? session_name : session,
        .web_identity_token = token.data,
    };
    rc = sts_call(&ep, &req, NULL, label, out, err);
    goto out;
nomem:
    rc = mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
out:
    buf_wipe(&token);
    free(token_file);
    free(role_arn);
    free(session_name);
    profile_set_free(set);
    free(name);
    return rc;
}

static void wi_destroy(void *impl)
{
    struct wi_impl *wi = impl;
    creds_options_free(&wi->opts);
    free(wi);
}

static const struct mantle_credentials_provider_vtable wi_vtable = {
    .get = wi_get,
    .destroy = wi_destroy,
};

struct mantle_credentials_provider *
creds_web_identity_new_ex(const struct mantle_credentials_options *o, bool disable_env,
                          struct mantle_error *err)
{
    struct wi_impl *wi = calloc(1, sizeof *wi);
    if (!wi || !creds_options_copy(&wi->opts, o)) {
        free(wi);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the web identity provider");
        return NULL;
    }
    wi->disable_env = disable_env;
    struct mantle_credentials_provider *p = provider_new(&wi_vtable, wi, err);
    if (!p) wi_destroy(wi);
    return p;
}

struct mantle_credentials_provider *
creds_web_identity_new(const struct mantle_credentials_options *o, struct mantle_error *err)
{
    return creds_web_identity_new_ex(o, o && o->profile, err);
}
