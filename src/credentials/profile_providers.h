/* The providers that read the AWS config and credentials files (botocore's
 * SharedCredentialProvider, ConfigProvider, ProcessProvider, AssumeRoleProvider,
 * AssumeRoleWithWebIdentityProvider), and the helpers they share: which profile is selected,
 * loading the files through the options' injected environment.
 *
 * Every constructor only copies the options; the files are read at each get (wrap the provider
 * in a cache, as the default chain does, to read them once per credential lifetime). */
#ifndef MANTLE_CREDENTIALS_PROFILE_PROVIDERS_H
#define MANTLE_CREDENTIALS_PROFILE_PROVIDERS_H

#include <mantle/credentials.h>
#include <stdbool.h>
#include <stddef.h>

#include "credentials_internal.h"
#include "profile_file.h"

/* ---- shared helpers (shared_file.c) ---- */

/* The selected profile, as botocore: opts->profile, else AWS_DEFAULT_PROFILE, else AWS_PROFILE
 * (non-empty), else "default". *named is true when the name was asked for (option or variable):
 * such a profile must exist (botocore's ProfileNotFound); a missing "default" is just "nothing".
 * Returns a malloc'd string, NULL when out of memory. */
char *creds_profile_select(const struct mantle_credentials_options *o, bool *named);

/* Which files creds_profile_load reads. */
#define CREDS_LOAD_CONFIG 0x1u
#define CREDS_LOAD_CREDENTIALS 0x2u

/* Loads the selected files (config first, then credentials, so the latter wins as in botocore's
 * full_config) into a new set. Paths: opts->config_file / credentials_file, else
 * AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE through the injected getenv, else ~/.aws/...
 * A missing file is an empty one; an unset HOME means "no file". */
mantle_code creds_profile_load(const struct mantle_credentials_options *o, unsigned which,
                               struct profile_set **out, struct mantle_error *err);

/* The botocore ProfileNotFound message, as MANTLE_E_CONFIG. */
mantle_code creds_profile_not_found_error(struct mantle_error *err, const char *name);

/* A region_profile_fn (see region.h): the `region` of the selected profile in the config file.
 * ud is unused. */
mantle_code creds_profile_region(void *ud, const struct mantle_credentials_options *opts,
                                 char **out, struct mantle_error *err);

/* ---- providers ---- */

/* Static keys of the selected profile in the credentials file / in the config file. */
struct mantle_credentials_provider *
creds_shared_file_new(const struct mantle_credentials_options *o, struct mantle_error *err);
struct mantle_credentials_provider *
creds_config_file_new(const struct mantle_credentials_options *o, struct mantle_error *err);

/* credential_process of the selected profile. */
#define CREDS_PROCESS_TIMEOUT_MS 60000 /* Go SDK's DefaultTimeout */
#define CREDS_PROCESS_MAX_STDOUT (64 * 1024)
#define CREDS_PROCESS_MAX_STDERR 1024 /* what reaches an error message, trimmed */
struct mantle_credentials_provider *creds_process_new(const struct mantle_credentials_options *o,
                                                      struct mantle_error *err);
/* Same with a run-time bound (ms, > 0), for tests. */
struct mantle_credentials_provider *
creds_process_new_with(const struct mantle_credentials_options *o, long timeout_ms,
                       struct mantle_error *err);

/* Splits a command line as Python's shlex.split (POSIX mode, comments off), which botocore's
 * compat_shell_split uses off Windows. On success *argv is a NULL-terminated malloc'd array of
 * malloc'd strings (free with creds_process_argv_free) and *argc its length. An unclosed quote or
 * a trailing backslash is MANTLE_E_CONFIG (shlex's "No closing quotation"/"No escaped
 * character"). */
mantle_code creds_process_split(const char *line, char ***argv, size_t *argc,
                                struct mantle_error *err);
void creds_process_argv_free(char **argv);

/* Role assumption from the selected profile (role_arn + source_profile / credential_source). */
struct mantle_credentials_provider *
creds_assume_role_new(const struct mantle_credentials_options *o, struct mantle_error *err);

/* Web identity: env AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN / AWS_ROLE_SESSION_NAME, then the
 * profile keys. The environment is ignored when o->profile is given (botocore). */
struct mantle_credentials_provider *
creds_web_identity_new(const struct mantle_credentials_options *o, struct mantle_error *err);
/* With an explicit choice about the environment (the source-profile chain disables it). */
struct mantle_credentials_provider *
creds_web_identity_new_ex(const struct mantle_credentials_options *o, bool disable_env,
                          struct mantle_error *err);

#endif
