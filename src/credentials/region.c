#include "region.h"

#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"
#include "credentials_internal.h"

bool region_is_valid(const char *region)
{
    if (!region) return false;
    size_t len = strlen(region);
    if (len == 0 || len > REGION_MAX_LEN || region[0] == '-' || region[len - 1] == '-')
        return false;
    bool all_digits = true;
    for (size_t i = 0; i < len; i++) {
        char c = region[i];
        bool digit = c >= '0' && c <= '9';
        if (!digit && !(c >= 'a' && c <= 'z') && c != '-') return false;
        all_digits = all_digits && digit;
    }
    return !all_digits; /* a label of digits only would read as part of an IP address */
}

static mantle_code take(const char *value, const char *name, char out[REGION_MAX_LEN + 1],
                        const char **from, struct mantle_error *err)
{
    if (!region_is_valid(value))
        return mantle_error_set(err, MANTLE_E_CONFIG,
                                "%s is not a valid AWS region name (expected e.g. us-east-1)",
                                name);
    memcpy(out, value, strlen(value) + 1);
    if (from) *from = name;
    return MANTLE_OK;
}

mantle_code region_resolve(const char *explicit_region,
                           const struct mantle_credentials_options *opts,
                           region_profile_fn *profile_fn, void *profile_ud,
                           char out[REGION_MAX_LEN + 1], const char **from,
                           struct mantle_error *err)
{
    out[0] = '\0';
    if (from) *from = NULL;
    if (explicit_region && *explicit_region)
        return take(explicit_region, "explicit", out, from, err);
    const char *v;
    if ((v = creds_getenv_nonempty(opts, "AWS_REGION")))
        return take(v, "AWS_REGION", out, from, err);
    if ((v = creds_getenv_nonempty(opts, "AWS_DEFAULT_REGION")))
        return take(v, "AWS_DEFAULT_REGION", out, from, err);
    /* The profile lookup is creds_profile_region() (profile_providers.h): callers pass it as
     * profile_fn to read `region` from the config file of the profile named by opts->profile,
     * AWS_DEFAULT_PROFILE, AWS_PROFILE or "default". */
    if (profile_fn) {
        char *value = NULL;
        mantle_code code = profile_fn(profile_ud, opts, &value, err);
        if (code != MANTLE_OK) return code;
        if (value && *value) code = take(value, "profile", out, from, err);
        bool found = value && *value;
        free(value);
        if (found) return code;
    }
    return mantle_error_set(err, MANTLE_E_CONFIG,
                            "No AWS region: pass one, or set AWS_REGION or AWS_DEFAULT_REGION%s",
                            profile_fn ? ", or `region` in the profile" : "");
}
