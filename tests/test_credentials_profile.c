/* The static-key profile providers (shared credentials file, config file), profile selection
 * (option > AWS_DEFAULT_PROFILE > AWS_PROFILE > default), missing profiles, partial keys, the
 * profile region hook, file locations through the injected environment, and how the default
 * chain orders them. Files live in a temporary directory; the environment is injected. */
#include "testutil.h"

#include <mantle/credentials.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/profile_providers.h"
#include "credentials/region.h"

struct fake_env {
    const char *names[24];
    const char *values[24];
    int n;
};

static const char *fake_getenv(void *ud, const char *name)
{
    struct fake_env *e = ud;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) return e->values[i];
    return NULL;
}

static void env_set(struct fake_env *e, const char *name, const char *value)
{
    for (int i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            e->values[i] = value;
            return;
        }
    }
    assert_true(e->n < 24);
    e->names[e->n] = name;
    e->values[e->n++] = value;
}

static char dir[256], config_path[300], creds_path[300];
static struct fake_env env;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mantle-profile-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    memset(&env, 0, sizeof env);
    env_set(&env, "HOME", dir);
    env_set(&env, "AWS_CONFIG_FILE", config_path);
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    env_set(&env, "AWS_EC2_METADATA_DISABLED", "true");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(config_path);
    unlink(creds_path);
    char other[320];
    snprintf(other, sizeof other, "%s/.aws/credentials", dir);
    unlink(other);
    snprintf(other, sizeof other, "%s/.aws", dir);
    rmdir(other);
    rmdir(dir);
    return 0;
}

static struct mantle_credentials_options opts(const char *profile)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.profile = profile;
    o.getenv_fn = fake_getenv;
    o.getenv_ud = &env;
    return o;
}

typedef struct mantle_credentials_provider *ctor(const struct mantle_credentials_options *,
                                                 struct mantle_error *);

static mantle_code get_with(ctor *make, const char *profile, struct mantle_credentials **out,
                            struct mantle_error *err)
{
    struct mantle_credentials_options o = opts(profile);
    struct mantle_credentials_provider *p = make(&o, err);
    assert_non_null(p);
    mantle_code rc = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return rc;
}

static const char both_files_config[] = "[default]\n"
                                        "aws_access_key_id = AKIDCONFIGDEFAULT\n"
                                        "aws_secret_access_key = configsecret\n"
                                        "region = eu-west-3\n"
                                        "[profile dev]\n"
                                        "aws_access_key_id = AKIDCONFIGDEV\n"
                                        "aws_secret_access_key = configdevsecret\n"
                                        "[profile onlyconfig]\n"
                                        "aws_access_key_id = AKIDONLYCONFIG\n"
                                        "aws_secret_access_key = onlyconfigsecret\n"
                                        "aws_account_id = 111122223333\n"
                                        "region = ap-south-1\n";
static const char both_files_creds[] = "[default]\n"
                                       "aws_access_key_id = AKIDCREDSDEFAULT\n"
                                       "aws_secret_access_key = credssecret\n"
                                       "aws_session_token = credstoken\n"
                                       "[dev]\n"
                                       "aws_access_key_id = AKIDCREDSDEV\n"
                                       "aws_secret_access_key = credsdevsecret\n"
                                       "aws_security_token = securitytoken\n"
                                       "aws_session_token = sessiontoken\n";

static void test_credentials_file_over_config_file(void **state)
{
    (void)state;
    write_file(config_path, both_files_config);
    write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    assert_string_equal(mantle_credentials_session_token(c), "credstoken");
    assert_int_equal(mantle_credentials_expiration(c), 0);
    assert_non_null(strstr(mantle_credentials_source(c), "shared-credentials-file"));
    assert_non_null(strstr(mantle_credentials_source(c), "profile default"));
    mantle_credentials_unref(c);

    assert_int_equal(get_with(creds_config_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCONFIGDEFAULT");
    assert_null(mantle_credentials_session_token(c));
    mantle_credentials_unref(c);

    /* the default chain: the credentials file comes first */
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_non_null(chain);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);

    /* aws_security_token is preferred to aws_session_token, as botocore's TOKENS order */
    assert_int_equal(get_with(creds_shared_file_new, "dev", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_session_token(c), "securitytoken");
    mantle_credentials_unref(c);
}

static void test_config_file_only_profile(void **state)
{
    (void)state;
    write_file(config_path, both_files_config);
    write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    /* exists in the config file only: the credentials-file provider has nothing, no error */
    assert_int_equal(get_with(creds_shared_file_new, "onlyconfig", &c, &err), CREDS_NOT_FOUND);
    assert_null(c);
    assert_int_equal(get_with(creds_config_file_new, "onlyconfig", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDONLYCONFIG");
    assert_string_equal(mantle_credentials_account_id(c), "111122223333");
    assert_non_null(strstr(mantle_credentials_source(c), "config-file"));
    mantle_credentials_unref(c);

    struct mantle_credentials_options o = opts("onlyconfig");
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDONLYCONFIG");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
}

static void test_profile_selection(void **state)
{
    (void)state;
    write_file(config_path, both_files_config);
    write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    env_set(&env, "AWS_PROFILE", "dev");
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEV");
    mantle_credentials_unref(c);

    /* botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE */
    env_set(&env, "AWS_DEFAULT_PROFILE", "onlyconfig");
    assert_int_equal(get_with(creds_config_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDONLYCONFIG");
    mantle_credentials_unref(c);

    /* the option beats both */
    assert_int_equal(get_with(creds_shared_file_new, "default", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);

    /* empty variables count as unset */
    env_set(&env, "AWS_DEFAULT_PROFILE", "");
    env_set(&env, "AWS_PROFILE", "");
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);
}

static void test_missing_profile(void **state)
{
    (void)state;
    write_file(config_path, "[profile other]\nregion = us-west-2\n");
    write_file(creds_path, "[other]\naws_access_key_id = A\naws_secret_access_key = B\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    /* "default" absent and not asked for: nothing, the chain moves on */
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), CREDS_NOT_FOUND);
    assert_int_equal(get_with(creds_config_file_new, NULL, &c, &err), CREDS_NOT_FOUND);
    assert_int_equal(get_with(creds_assume_role_new, NULL, &c, &err), CREDS_NOT_FOUND);
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Unable to locate credentials"));
    mantle_credentials_provider_unref(chain);

    /* asked for (option or variable): botocore's ProfileNotFound */
    assert_int_equal(get_with(creds_shared_file_new, "nope", &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "The config profile (nope) could not be found");
    env_set(&env, "AWS_PROFILE", "nope2");
    assert_int_equal(get_with(creds_config_file_new, NULL, &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "The config profile (nope2) could not be found");
    chain = mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "The config profile (nope2) could not be found"));
    mantle_credentials_provider_unref(chain);
    env_set(&env, "AWS_PROFILE", NULL);

    /* no files at all */
    unlink(config_path);
    unlink(creds_path);
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), CREDS_NOT_FOUND);
}

static void test_partial_keys(void **state)
{
    (void)state;
    write_file(config_path, "[profile half]\naws_secret_access_key = onlysecret\n");
    write_file(creds_path, "[default]\naws_access_key_id = AKIDHALF\n"
                           "[secretonly]\naws_secret_access_key = s3cr3tvalue\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Partial credentials"));
    assert_non_null(strstr(err.message, creds_path));
    assert_non_null(strstr(err.message, "aws_secret_access_key"));
    assert_null(strstr(err.message, "AKIDHALF"));
    /* a secret without a key id: this source has nothing (botocore looks for the key id) */
    assert_int_equal(get_with(creds_shared_file_new, "secretonly", &c, &err), CREDS_NOT_FOUND);
    /* the chain stops at the partial profile instead of moving on */
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Partial credentials"));
    mantle_credentials_provider_unref(chain);
    /* the files are not merged: key id in one, secret in the other, is partial */
    write_file(creds_path, "[half]\naws_access_key_id = AKIDHALF\n");
    assert_int_equal(get_with(creds_shared_file_new, "half", &c, &err), MANTLE_E_CREDENTIALS);
    assert_null(strstr(err.message, "onlysecret"));
}

static void test_env_before_files_and_explicit_profile(void **state)
{
    (void)state;
    write_file(creds_path, both_files_creds);
    env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    env_set(&env, "AWS_SECRET_ACCESS_KEY", "envsecret");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDENV");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
    /* an explicit profile drops the environment provider (botocore) */
    o = opts("dev");
    chain = mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEV");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
}

static void test_file_paths_from_injected_env(void **state)
{
    (void)state;
    /* AWS_SHARED_CREDENTIALS_FILE unset: ~/.aws/credentials with the injected HOME */
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", NULL);
    char aws_dir[300], path[320];
    snprintf(aws_dir, sizeof aws_dir, "%s/.aws", dir);
    assert_int_equal(mkdir(aws_dir, 0700), 0);
    snprintf(path, sizeof path, "%s/credentials", aws_dir);
    write_file(path, "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = h\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDHOME");
    mantle_credentials_unref(c);
    /* $VAR expansion through the injected environment */
    env_set(&env, "MY_DIR", aws_dir);
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", "${MY_DIR}/credentials");
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    /* the explicit option beats the variable */
    write_file(creds_path, "[default]\naws_access_key_id = AKIDOPT\naws_secret_access_key = o\n");
    struct mantle_credentials_options o = opts(NULL);
    o.credentials_file = creds_path;
    struct mantle_credentials_provider *p = creds_shared_file_new(&o, &err);
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDOPT");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
    /* no HOME and no variable: no file, not an error */
    env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", NULL);
    env_set(&env, "HOME", NULL);
    assert_int_equal(get_with(creds_shared_file_new, NULL, &c, &err), CREDS_NOT_FOUND);
}

static void test_profile_region(void **state)
{
    (void)state;
    write_file(config_path, both_files_config);
    struct mantle_credentials_options o = opts(NULL);
    struct mantle_error err = MANTLE_ERROR_INIT;
    char *region = NULL;
    assert_int_equal(creds_profile_region(NULL, &o, &region, &err), MANTLE_OK);
    assert_string_equal(region, "eu-west-3");
    free(region);
    o.profile = "onlyconfig";
    assert_int_equal(creds_profile_region(NULL, &o, &region, &err), MANTLE_OK);
    assert_string_equal(region, "ap-south-1");
    free(region);
    o.profile = "dev";
    assert_int_equal(creds_profile_region(NULL, &o, &region, &err), MANTLE_OK);
    assert_null(region);

    /* as region_resolve's hook: the environment still comes first */
    char out[REGION_MAX_LEN + 1];
    const char *from = NULL;
    o.profile = "onlyconfig";
    assert_int_equal(region_resolve(NULL, &o, creds_profile_region, NULL, out, &from, &err),
                     MANTLE_OK);
    assert_string_equal(out, "ap-south-1");
    assert_string_equal(from, "profile");
    env_set(&env, "AWS_DEFAULT_REGION", "us-west-1");
    assert_int_equal(region_resolve(NULL, &o, creds_profile_region, NULL, out, &from, &err),
                     MANTLE_OK);
    assert_string_equal(out, "us-west-1");
    o.profile = "dev";
    env_set(&env, "AWS_DEFAULT_REGION", NULL);
    assert_int_equal(region_resolve(NULL, &o, creds_profile_region, NULL, out, &from, &err),
                     MANTLE_E_CONFIG);
}

static void test_web_identity_not_configured(void **state)
{
    (void)state;
    write_file(config_path, "[profile wi]\nweb_identity_token_file = /nonexistent/token\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_with(creds_web_identity_new, NULL, &c, &err), CREDS_NOT_FOUND);
    /* a token file without a role is a configuration error */
    assert_int_equal(get_with(creds_web_identity_new, "wi", &c, &err), MANTLE_E_CONFIG);
    assert_non_null(strstr(err.message, "role_arn"));
    /* explicit profile: the environment is ignored */
    env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/env-token");
    env_set(&env, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/env");
    write_file(config_path, "[profile plain]\nregion = us-east-1\n");
    assert_int_equal(get_with(creds_web_identity_new, "plain", &c, &err), CREDS_NOT_FOUND);
    /* not explicit: the environment is used, and the missing token file is an I/O error */
    assert_int_equal(get_with(creds_web_identity_new, NULL, &c, &err), MANTLE_E_IO);
    assert_non_null(strstr(err.message, "/nonexistent/env-token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_credentials_file_over_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_only_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_selection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_before_files_and_explicit_profile, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_paths_from_injected_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_web_identity_not_configured, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
