/* Which AWS region the client talks to: explicit > AWS_REGION > AWS_DEFAULT_REGION > the
 * profile's `region` (the AWS CLI v2 / openai-python / anthropic order; botocore alone ignores
 * AWS_REGION). Empty values count as unset. */
#ifndef MANTLE_CREDENTIALS_REGION_H
#define MANTLE_CREDENTIALS_REGION_H

#include <mantle/credentials.h>
#include <mantle/error.h>
#include <stdbool.h>
#include <stddef.h>

#define REGION_MAX_LEN 63

/* Looks up the profile's `region` (the profile named by opts, AWS_PROFILE or "default"): sets
 * *out to a malloc'd copy, or NULL when the profile has none, or returns an error. Only called
 * when neither an explicit region nor the environment gives one. */
typedef mantle_code region_profile_fn(void *ud, const struct mantle_credentials_options *opts,
                                      char **out, struct mantle_error *err);

/* Resolves and validates the region into out. explicit_region may be NULL; opts supplies the
 * getenv hook (NULL: getenv); profile_fn may be NULL (no profile lookup). *from (if not NULL) is
 * set to a static name of the source: "explicit", "AWS_REGION", "AWS_DEFAULT_REGION", "profile".
 * Errors (MANTLE_E_CONFIG) name the source that held an invalid name, never the value. */
mantle_code region_resolve(const char *explicit_region,
                           const struct mantle_credentials_options *opts,
                           region_profile_fn *profile_fn, void *profile_ud,
                           char out[REGION_MAX_LEN + 1], const char **from,
                           struct mantle_error *err);

/* botocore's host-label rule (validate_region_name) narrowed to what SigV4 scopes accept:
 * 1-63 of [a-z0-9-], not starting or ending with '-', not all digits. */
bool region_is_valid(const char *region);

#endif
