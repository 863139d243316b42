/* The default chain: botocore's create_credential_resolver order, wrapped in the cache. */
#include "credentials_internal.h"

#include "core/error_internal.h"
#include "profile_providers.h"
#include "sso.h"

#define DEFAULT_CHAIN_MAX 16

struct mantle_credentials_provider *
mantle_credentials_provider_new_default_chain(const struct mantle_credentials_options *opts,
                                              struct mantle_error *err)
{
    struct mantle_credentials_provider *items[DEFAULT_CHAIN_MAX] = {0};
    size_t n = 0;

    /* Ordered as botocore's create_credential_resolver. Every constructor only copies options:
     * nothing is read until the first get. Add each new provider at its place, returning
     * CREDS_NOT_FOUND when its source is not configured (see credentials_internal.h). */

    /* 1. env. botocore drops it when a profile is given explicitly (a Session(profile=...)
     *    argument, here opts->profile; AWS_PROFILE does not count): the profile then wins. */
    if (!opts || !opts->profile) {
        if (!(items[n] = mantle_credentials_provider_new_environment(opts, err))) goto fail;
        n++;
    }
    /* 2. assume-role (profile role_arn + source_profile / credential_source) */
    if (!(items[n] = creds_assume_role_new(opts, err))) goto fail;
    n++;
    /* 3. web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the profile's keys) */
    if (!(items[n] = creds_web_identity_new(opts, err))) goto fail;
    n++;
    /* 4. SSO (profile sso_session / legacy sso_start_url). */
    if (!(items[n] = creds_sso_new(opts, err))) goto fail;
    n++;
    /* 5. shared-credentials-file (~/.aws/credentials) */
    if (!(items[n] = creds_shared_file_new(opts, err))) goto fail;
    n++;
    /*    (botocore's "login" provider sits here; not planned) */
    /* 6. credential_process (profile key) */
    if (!(items[n] = creds_process_new(opts, err))) goto fail;
    n++;
    /* 7. config-file (static keys in ~/.aws/config) */
    if (!(items[n] = creds_config_file_new(opts, err))) goto fail;
    n++;
    /*    (botocore's legacy ec2-credentials-file and boto2 config sit here; not planned) */
    /* 8. container (ECS/EKS: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI) */
    if (!(items[n] = mantle_credentials_provider_new_container(opts, err))) goto fail;
    n++;
    /* 9. IMDS (EC2 instance metadata, IMDSv2 then v1; AWS_EC2_METADATA_DISABLED=true skips it) */
    if (!(items[n] = mantle_credentials_provider_new_imds(opts, err))) goto fail;
    n++;

    struct mantle_credentials_provider *chain = creds_chain_new(items, n, err);
    for (size_t i = 0; i < n; i++) mantle_credentials_provider_unref(items[i]);
    if (!chain) return NULL;
    struct mantle_credentials_provider *cached =
        creds_cached_new(chain, opts ? opts->now_fn : NULL, opts ? opts->now_ud : NULL, err);
    mantle_credentials_provider_unref(chain);
    return cached;

fail:
    for (size_t i = 0; i < n; i++) mantle_credentials_provider_unref(items[i]);
    return NULL;
}
