/* Static keys from the shared credentials file and from the config file (botocore's
 * SharedCredentialProvider and ConfigProvider), plus what every profile-based provider shares:
 * the selected profile name and loading the files through the injected environment.
 *
 * Each file provider reads only its own file, as botocore does: a profile whose key id is in
 * ~/.aws/credentials but whose secret is only in ~/.aws/config is a partial-credentials error,
 * not a merge. Key order for the token matches botocore's TOKENS (aws_security_token first). */
#include "profile_providers.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/secret.h"

/* ---- shared helpers ---- */

char *creds_profile_select(const struct mantle_credentials_options *o, bool *named)
{
    const char *name = o ? o->profile : NULL;
    /* botocore's env-var list for `profile` is AWS_DEFAULT_PROFILE then AWS_PROFILE. */
    if (!name || !*name) name = creds_getenv_nonempty(o, "AWS_DEFAULT_PROFILE");
    if (!name) name = creds_getenv_nonempty(o, "AWS_PROFILE");
    *named = name && *name;
    return strdup(*named ? name : "default");
}

static const char *opts_getenv(void *ud, const char *name)
{
    return creds_getenv(ud, name);
}

static mantle_code load_one(const struct mantle_credentials_options *o, enum profile_source src,
                            struct profile_set *set, struct mantle_error *err)
{
    const char *given = src == PROFILE_SOURCE_CONFIG ? o->config_file : o->credentials_file;
    char *path = NULL;
    if (given) {
        path = strdup(given);
        if (!path) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    } else {
        struct mantle_error perr = MANTLE_ERROR_INIT;
        /* The options struct is only read through creds_getenv, so dropping const is safe. */
        mantle_code rc = profile_file_path2(src, opts_getenv, (void *)(uintptr_t)o, &path, &perr);
        if (rc == MANTLE_E_CONFIG) return MANTLE_OK; /* "~" without HOME: no file, best effort */
        if (rc) {
            if (err) *err = perr;
            return rc;
        }
    }
    mantle_code rc = profile_set_load_file(set, src, path, err);
    free(path);
    return rc;
}

mantle_code creds_profile_load(const struct mantle_credentials_options *o, unsigned which,
                               struct profile_set **out, struct mantle_error *err)
{
    struct mantle_credentials_options none = MANTLE_CREDENTIALS_OPTIONS_INIT;
    if (!o) o = &none;
    *out = NULL;
    struct profile_set *set = profile_set_new();
    if (!set) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    mantle_code rc = MANTLE_OK;
    if (which & CREDS_LOAD_CONFIG) rc = load_one(o, PROFILE_SOURCE_CONFIG, set, err);
    if (!rc && (which & CREDS_LOAD_CREDENTIALS))
        rc = load_one(o, PROFILE_SOURCE_CREDENTIALS, set, err);
    if (rc) {
        profile_set_free(set);
        return rc;
    }
    *out = set;
    return MANTLE_OK;
}

mantle_code creds_profile_not_found_error(struct mantle_error *err, const char *name)
{
    return mantle_error_set(err, MANTLE_E_CONFIG, "The config profile (%s) could not be found",
                            name);
}

mantle_code creds_profile_region(void *ud, const struct mantle_credentials_options *opts,
                                 char **out, struct mantle_error *err)
{
    (void)ud;
    *out = NULL;
    bool named = false;
    char *name = creds_profile_select(opts, &named);
    if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct profile_set *set = NULL;
    mantle_code rc = creds_profile_load(opts, CREDS_LOAD_CONFIG, &set, err);
    if (!rc) {
        const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, name);
        const char *region = p ? profile_get(p, "region") : NULL;
        if (region && *region && !(*out = strdup(region)))
            rc = mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    }
    profile_set_free(set);
    free(name);
    return rc;
}

/* ---- the two static-key providers ---- */

struct file_impl {
    struct mantle_credentials_options opts;
    enum profile_source source;
};

static const char *source_label(enum profile_source s)
{
    return s == PROFILE_SOURCE_CREDENTIALS ? "shared-credentials-file" : "config-file";
}

static mantle_code file_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    const struct file_impl *fi = impl;
    const char *label = source_label(fi->source);
    bool named = false;
    char *name = creds_profile_select(&fi->opts, &named);
    if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");

    /* Both files are read so that "does the profile exist" means what it means to botocore (a
     * profile may live in either file); the keys come from this provider's file only. */
    struct profile_set *mine = NULL, *other = NULL;
    unsigned my_bit =
        fi->source == PROFILE_SOURCE_CONFIG ? CREDS_LOAD_CONFIG : CREDS_LOAD_CREDENTIALS;
    mantle_code rc = creds_profile_load(&fi->opts, my_bit, &mine, err);
    if (!rc)
        rc = creds_profile_load(&fi->opts, (CREDS_LOAD_CONFIG | CREDS_LOAD_CREDENTIALS) ^ my_bit,
                                &other, err);
    if (rc) {
        mantle_error_prefix(err, "%s", label);
        goto out;
    }
    const struct profile *p = profile_set_get(mine, PROFILE_KIND_PROFILE, name);
    if (!p && named && !profile_set_get(other, PROFILE_KIND_PROFILE, name)) {
        rc = creds_profile_not_found_error(err, name);
        goto out;
    }
    const char *file = profile_set_file_name(mine, fi->source);
    if (!file) {
        rc = creds_not_found(err, "%s (no %s file)", label,
                             fi->source == PROFILE_SOURCE_CONFIG ? "config" : "credentials");
        goto out;
    }
    const char *akid = p ? profile_get(p, "aws_access_key_id") : NULL;
    if (!akid) {
        rc = creds_not_found(err, "%s (%s, profile %s: %s)", label, file, name,
                             p ? "no aws_access_key_id" : "no such profile");
        goto out;
    }
    const char *secret = profile_get(p, "aws_secret_access_key");
    if (!secret) {
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "Partial credentials found in %s (%s, profile %s), missing: "
                              "aws_secret_access_key",
                              label, file, name);
        goto out;
    }
    const char *token = profile_get(p, "aws_security_token");
    if (!token) token = profile_get(p, "aws_session_token");
    char source[512];
    snprintf(source, sizeof source, "%s (%s, profile %s)", label, file, name);
    const struct creds_fields f = {akid,  secret, token, 0, profile_get(p, "aws_account_id"),
                                   source};
    *out = creds_new(&f, err);
    if (!*out) {
        rc = err ? err->code : MANTLE_E_INVALID_ARGUMENT;
        mantle_error_prefix(err, "%s (%s, profile %s)", label, file, name);
    }
out:
    profile_set_free(mine);
    profile_set_free(other);
    free(name);
    return rc;
}

static void file_destroy(void *impl)
{
    struct file_impl *fi = impl;
    creds_options_free(&fi->opts);
    free(fi);
}

static const struct mantle_credentials_provider_vtable file_vtable = {
    .get = file_get,
    .destroy = file_destroy,
};

static struct mantle_credentials_provider *file_new(const struct mantle_credentials_options *o,
                                                    enum profile_source source,
                                                    struct mantle_error *err)
{
    struct file_impl *fi = calloc(1, sizeof *fi);
    if (!fi || !creds_options_copy(&fi->opts, o)) {
        free(fi);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the %s provider",
                         source_label(source));
        return NULL;
    }
    fi->source = source;
    struct mantle_credentials_provider *p = provider_new(&file_vtable, fi, err);
    if (!p) file_destroy(fi);
    return p;
}

struct mantle_credentials_provider *
creds_shared_file_new(const struct mantle_credentials_options *o, struct mantle_error *err)
{
    return file_new(o, PROFILE_SOURCE_CREDENTIALS, err);
}

struct mantle_credentials_provider *
creds_config_file_new(const struct mantle_credentials_options *o, struct mantle_error *err)
{
    return file_new(o, PROFILE_SOURCE_CONFIG, err);
}
