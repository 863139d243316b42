/* Role assumption configured in a profile (botocore's AssumeRoleProvider): role_arn plus exactly
 * one of source_profile (another profile's credentials, possibly itself assumed: a chain) or
 * credential_source (Environment, Ec2InstanceMetadata, EcsContainer), then STS AssumeRole.
 *
 * Matches botocore: the cycle rule (a profile may be its own source_profile only if it has static
 * keys; any other repeat is an infinite loop), a source profile's credentials come from its
 * web-identity / credentials-file / credential_process / config-file keys with the environment
 * ignored, role_session_name defaults to botocore-session-<unix time>, a duration_seconds that is
 * not an integer is ignored, a profile with web_identity_token_file is left to web identity.
 * Differences: mfa_serial is refused (a library cannot prompt for a code); the whole chain is
 * re-run at each refresh (the caller's cache decides when), where botocore keeps refreshable
 * intermediate credentials. */
#include "profile_providers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "sso.h"
#include "sts.h"

#define AR_MAX_CHAIN 16

struct ar_ctx {
    const struct mantle_credentials_options *opts;
    const struct profile_set *set;
    const struct sts_endpoint *ep;
    const char *visited[AR_MAX_CHAIN];
    size_t nvisited;
};

static bool has_static(const struct profile *p)
{
    return profile_get(p, "aws_access_key_id") || profile_get(p, "aws_secret_access_key");
}

static bool has_role_vars(const struct profile *p)
{
    return profile_get(p, "role_arn") && !profile_get(p, "web_identity_token_file");
}

static mantle_code first_of(struct mantle_credentials_provider *const *items, size_t n,
                            struct mantle_credentials **out, struct mantle_error *err)
{
    mantle_code rc = CREDS_NOT_FOUND;
    for (size_t i = 0; i < n && rc == CREDS_NOT_FOUND; i++) {
        if (!items[i]) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        rc = provider_get(items[i], out, err);
    }
    return rc;
}

/* Credentials of a source profile that is not itself an assume-role profile: botocore's
 * ProfileProviderBuilder.providers(profile, disable_env_vars=True). */
static mantle_code profile_chain(const struct ar_ctx *c, const char *name,
                                 struct mantle_credentials **out, struct mantle_error *err)
{
    struct mantle_credentials_options o = *c->opts;
    o.profile = name;
    struct mantle_credentials_provider *items[5] = {
        creds_web_identity_new_ex(&o, true, err), creds_sso_new(&o, err),
        creds_shared_file_new(&o, err), creds_process_new(&o, err), creds_config_file_new(&o, err)};
    mantle_code rc = first_of(items, 5, out, err);
    for (size_t i = 0; i < 5; i++) mantle_credentials_provider_unref(items[i]);
    if (rc == CREDS_NOT_FOUND)
        rc = mantle_error_set(err, MANTLE_E_CONFIG,
                              "The source profile \"%s\" must have credentials.", name);
    return rc;
}

static mantle_code from_credential_source(const struct ar_ctx *c, const char *profile_name,
                                          const char *source, struct mantle_credentials **out,
                                          struct mantle_error *err)
{
    struct mantle_credentials_provider *p = NULL;
    if (strcmp(source, "Environment") == 0)
        p = mantle_credentials_provider_new_environment(c->opts, err);
    else if (strcmp(source, "Ec2InstanceMetadata") == 0)
        p = mantle_credentials_provider_new_imds(c->opts, err);
    else if (strcmp(source, "EcsContainer") == 0)
        p = mantle_credentials_provider_new_container(c->opts, err);
    else
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "The credential source \"%s\" referenced in profile \"%s\" is not "
                                "valid (expected Environment, Ec2InstanceMetadata or EcsContainer)",
                                source, profile_name);
    if (!p) return err ? err->code : MANTLE_E_NOMEM;
    mantle_code rc = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    if (rc == CREDS_NOT_FOUND)
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "No credentials found in credential_source referenced in profile %s",
                              profile_name);
    return rc;
}

static bool visited(const struct ar_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->nvisited; i++)
        if (strcmp(c->visited[i], name) == 0) return true;
    return false;
}

static mantle_code loop_error(const struct ar_ctx *c, const char *name, struct mantle_error *err)
{
    char chain[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < c->nvisited && used < sizeof chain; i++) {
        int w = snprintf(chain + used, sizeof chain - used, "%s%s", i ? " -> " : "", c->visited[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return mantle_error_set(err, MANTLE_E_CONFIG,
                            "Infinite loop in credential configuration detected. Attempting to "
                            "load from profile %s which has already been visited. Visited "
                            "profiles: %s",
                            name, chain);
}

static mantle_code assume(struct ar_ctx *c, const char *name, struct mantle_credentials **out,
                          struct mantle_error *err);

/* The credentials that sign this profile's AssumeRole. */
static mantle_code source_credentials(struct ar_ctx *c, const char *name, const struct profile *p,
                                      struct mantle_credentials **out, struct mantle_error *err)
{
    const char *src_profile = profile_get(p, "source_profile");
    const char *cred_source = profile_get(p, "credential_source");
    if (src_profile && cred_source)
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "The profile \"%s\" contains both source_profile and "
                                "credential_source.",
                                name);
    if (!src_profile && !cred_source)
        return mantle_error_set(err, MANTLE_E_CREDENTIALS,
                                "Partial credentials found in assume-role (profile %s), missing: "
                                "source_profile or credential_source",
                                name);
    if (cred_source) return from_credential_source(c, name, cred_source, out, err);

    const struct profile *sp = profile_set_get(c->set, PROFILE_KIND_PROFILE, src_profile);
    if (!sp)
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "The source_profile \"%s\" referenced in the profile \"%s\" does "
                                "not exist.",
                                src_profile, name);
    if (visited(c, src_profile)) {
        /* Only a profile naming itself, with static keys, may repeat: its keys are the source. */
        if (strcmp(src_profile, name) != 0 || !has_static(sp))
            return loop_error(c, src_profile, err);
    }
    if (c->nvisited >= AR_MAX_CHAIN)
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "profile %s: the source_profile chain is longer than %d profiles",
                                name, AR_MAX_CHAIN);
    c->visited[c->nvisited++] = profile_name(sp);
    if (has_static(sp) || !has_role_vars(sp)) return profile_chain(c, src_profile, out, err);
    return assume(c, src_profile, out, err);
}

static long parse_duration(const char *s)
{
    if (!s) return 0;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    while (end && (*end == ' ' || *end == '\t')) end++;
    if (errno || end == s || (end && *end) || v <= 0) return 0; /* botocore: int() fails, ignored */
    return v;
}

static mantle_code assume(struct ar_ctx *c, const char *name, struct mantle_credentials **out,
                          struct mantle_error *err)
{
    const struct profile *p = profile_set_get(c->set, PROFILE_KIND_PROFILE, name);
    if (profile_get(p, "mfa_serial"))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "profile %s requires an MFA code (mfa_serial); mantle cannot "
                                "prompt: use a credential_process or get a session token first",
                                name);
    struct mantle_credentials *source = NULL;
    mantle_code rc = source_credentials(c, name, p, &source, err);
    if (rc) return rc;

    char label[300], session[64];
    snprintf(label, sizeof label, "assume-role (profile %s)", name);
    const char *session_name = profile_get(p, "role_session_name");
    if (!session_name) {
        snprintf(session, sizeof session, "botocore-session-%lld", (long long)creds_now(c->opts));
        session_name = session;
    }
    const struct sts_request req = {
        .action = "AssumeRole",
        .role_arn = profile_get(p, "role_arn"),
        .role_session_name = session_name,
        .external_id = profile_get(p, "external_id"),
        .duration_seconds = parse_duration(profile_get(p, "duration_seconds")),
    };
    rc = sts_call(c->ep, &req, source, label, out, err);
    mantle_credentials_unref(source);
    return rc;
}

struct ar_impl {
    struct mantle_credentials_options opts;
};

static mantle_code ar_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct ar_impl *ai = impl;
    bool named = false;
    char *name = creds_profile_select(&ai->opts, &named);
    if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct profile_set *set = NULL;
    mantle_code rc =
        creds_profile_load(&ai->opts, CREDS_LOAD_CONFIG | CREDS_LOAD_CREDENTIALS, &set, err);
    if (rc) {
        mantle_error_prefix(err, "assume-role");
        goto out;
    }
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, name);
    if (!p) {
        rc = named ? creds_profile_not_found_error(err, name)
                   : creds_not_found(err, "assume-role (profile %s: no such profile)", name);
        goto out;
    }
    if (!has_role_vars(p)) {
        rc = creds_not_found(err, "assume-role (profile %s: no role_arn)", name);
        goto out;
    }
    struct sts_endpoint ep;
    if ((rc = sts_endpoint_resolve(&ai->opts, p, &ep, err))) {
        mantle_error_prefix(err, "assume-role (profile %s)", name);
        goto out;
    }
    struct ar_ctx c = {.opts = &ai->opts, .set = set, .ep = &ep};
    c.visited[c.nvisited++] = profile_name(p);
    rc = assume(&c, name, out, err);
out:
    profile_set_free(set);
    free(name);
    return rc;
}

static void ar_destroy(void *impl)
{
    struct ar_impl *ai = impl;
    creds_options_free(&ai->opts);
    free(ai);
}

static const struct mantle_credentials_provider_vtable ar_vtable = {
    .get = ar_get,
    .destroy = ar_destroy,
};

struct mantle_credentials_provider *
creds_assume_role_new(const struct mantle_credentials_options *o, struct mantle_error *err)
{
    struct ar_impl *ai = calloc(1, sizeof *ai);
    if (!ai || !creds_options_copy(&ai->opts, o)) {
        free(ai);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the assume-role provider");
        return NULL;
    }
    struct mantle_credentials_provider *p = provider_new(&ar_vtable, ai, err);
    if (!p) ar_destroy(ai);
    return p;
}
