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

static char dir[256], config_path[300], creds_path[300];
static struct test_env env;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mantle-profile-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    memset(&env, 0, sizeof env);
    test_env_set(&env, "HOME", dir);
    test_env_set(&env, "AWS_CONFIG_FILE", config_path);
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", creds_path);
    test_env_set(&env, "AWS_EC2_METADATA_DISABLED", "true");
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
    test_write_file(config_path, both_files_config);
    test_write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    assert_string_equal(mantle_credentials_session_token(c), "credstoken");
    assert_int_equal(mantle_credentials_expiration(c), 0);
    assert_non_null(strstr(mantle_credentials_source(c), "shared-credentials-file"));
    assert_non_null(strstr(mantle_credentials_source(c), "profile default"));
    mantle_credentials_unref(c);

    assert_int_equal(test_get_with(creds_config_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCONFIGDEFAULT");
    assert_null(mantle_credentials_session_token(c));
    mantle_credentials_unref(c);

    /* the default chain: the credentials file comes first */
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_non_null(chain);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);

    /* aws_security_token is preferred to aws_session_token, as botocore's TOKENS order */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "dev", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_session_token(c), "securitytoken");
    mantle_credentials_unref(c);
}

static void test_config_file_only_profile(void **state)
{
    (void)state;
    test_write_file(config_path, both_files_config);
    test_write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    /* exists in the config file only: the credentials-file provider has nothing, no error */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "onlyconfig", &c, &err),
                     CREDS_NOT_FOUND);
    assert_null(c);
    assert_int_equal(test_get_with(creds_config_file_new, &env, "onlyconfig", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDONLYCONFIG");
    assert_string_equal(mantle_credentials_account_id(c), "111122223333");
    assert_non_null(strstr(mantle_credentials_source(c), "config-file"));
    mantle_credentials_unref(c);

    struct mantle_credentials_options o = test_env_options(&env, "onlyconfig");
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
    test_write_file(config_path, both_files_config);
    test_write_file(creds_path, both_files_creds);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    test_env_set(&env, "AWS_PROFILE", "dev");
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEV");
    mantle_credentials_unref(c);

    /* botocore reads AWS_DEFAULT_PROFILE before AWS_PROFILE */
    test_env_set(&env, "AWS_DEFAULT_PROFILE", "onlyconfig");
    assert_int_equal(test_get_with(creds_config_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDONLYCONFIG");
    mantle_credentials_unref(c);

    /* the option beats both */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "default", &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);

    /* empty variables count as unset */
    test_env_set(&env, "AWS_DEFAULT_PROFILE", "");
    test_env_set(&env, "AWS_PROFILE", "");
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDSDEFAULT");
    mantle_credentials_unref(c);
}

static void test_missing_profile(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile other]\nregion = us-west-2\n");
    test_write_file(creds_path, "[other]\naws_access_key_id = A\naws_secret_access_key = B\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    /* "default" absent and not asked for: nothing, the chain moves on */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
    assert_int_equal(test_get_with(creds_config_file_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
    assert_int_equal(test_get_with(creds_assume_role_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Unable to locate credentials"));
    mantle_credentials_provider_unref(chain);

    /* asked for (option or variable): botocore's ProfileNotFound */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "nope", &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "The config profile (nope) could not be found");
    test_env_set(&env, "AWS_PROFILE", "nope2");
    assert_int_equal(test_get_with(creds_config_file_new, &env, NULL, &c, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "The config profile (nope2) could not be found");
    chain = mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "The config profile (nope2) could not be found"));
    mantle_credentials_provider_unref(chain);
    test_env_set(&env, "AWS_PROFILE", NULL);

    /* no files at all */
    unlink(config_path);
    unlink(creds_path);
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
}

static void test_partial_keys(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile half]\naws_secret_access_key = onlysecret\n");
    test_write_file(creds_path, "[default]\naws_access_key_id = AKIDHALF\n"
                                "[secretonly]\naws_secret_access_key = s3cr3tvalue\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err),
                     MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Partial credentials"));
    assert_non_null(strstr(err.message, creds_path));
    assert_non_null(strstr(err.message, "aws_secret_access_key"));
    assert_null(strstr(err.message, "AKIDHALF"));
    /* a secret without a key id: this source has nothing (botocore looks for the key id) */
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "secretonly", &c, &err),
                     CREDS_NOT_FOUND);
    /* the chain stops at the partial profile instead of moving on */
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_E_CREDENTIALS);
    assert_non_null(strstr(err.message, "Partial credentials"));
    mantle_credentials_provider_unref(chain);
    /* the files are not merged: key id in one, secret in the other, is partial */
    test_write_file(creds_path, "[half]\naws_access_key_id = AKIDHALF\n");
    assert_int_equal(test_get_with(creds_shared_file_new, &env, "half", &c, &err),
                     MANTLE_E_CREDENTIALS);
    assert_null(strstr(err.message, "onlysecret"));
}

static void test_env_before_files_and_explicit_profile(void **state)
{
    (void)state;
    test_write_file(creds_path, both_files_creds);
    test_env_set(&env, "AWS_ACCESS_KEY_ID", "AKIDENV");
    test_env_set(&env, "AWS_SECRET_ACCESS_KEY", "envsecret");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDENV");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
    /* an explicit profile drops the environment provider (botocore) */
    o = test_env_options(&env, "dev");
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
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", NULL);
    char aws_dir[300], path[320];
    snprintf(aws_dir, sizeof aws_dir, "%s/.aws", dir);
    assert_int_equal(mkdir(aws_dir, 0700), 0);
    snprintf(path, sizeof path, "%s/credentials", aws_dir);
    test_write_file(path, "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = h\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDHOME");
    mantle_credentials_unref(c);
    /* $VAR expansion through the injected environment */
    test_env_set(&env, "MY_DIR", aws_dir);
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", "${MY_DIR}/credentials");
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    /* the explicit option beats the variable */
    test_write_file(creds_path,
                    "[default]\naws_access_key_id = AKIDOPT\naws_secret_access_key = o\n");
    struct mantle_credentials_options o = test_env_options(&env, NULL);
    o.credentials_file = creds_path;
    struct mantle_credentials_provider *p = creds_shared_file_new(&o, &err);
    assert_int_equal(provider_get(p, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDOPT");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(p);
    /* no HOME and no variable: no file, not an error */
    test_env_set(&env, "AWS_SHARED_CREDENTIALS_FILE", NULL);
    test_env_set(&env, "HOME", NULL);
    assert_int_equal(test_get_with(creds_shared_file_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
}

static void test_profile_region(void **state)
{
    (void)state;
    test_write_file(config_path, both_files_config);
    struct mantle_credentials_options o = test_env_options(&env, NULL);
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
    test_env_set(&env, "AWS_DEFAULT_REGION", "us-west-1");
    assert_int_equal(region_resolve(NULL, &o, creds_profile_region, NULL, out, &from, &err),
                     MANTLE_OK);
    assert_string_equal(out, "us-west-1");
    o.profile = "dev";
    test_env_set(&env, "AWS_DEFAULT_REGION", NULL);
    assert_int_equal(region_resolve(NULL, &o, creds_profile_region, NULL, out, &from, &err),
                     MANTLE_E_CONFIG);
}

static void test_web_identity_not_configured(void **state)
{
    (void)state;
    test_write_file(config_path, "[profile wi]\nweb_identity_token_file = /nonexistent/token\n");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(test_get_with(creds_web_identity_new, &env, NULL, &c, &err), CREDS_NOT_FOUND);
    /* a token file without a role is a configuration error */
    assert_int_equal(test_get_with(creds_web_identity_new, &env, "wi", &c, &err), MANTLE_E_CONFIG);
    assert_non_null(strstr(err.message, "role_arn"));
    /* explicit profile: the environment is ignored */
    test_env_set(&env, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/env-token");
    test_env_set(&env, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/env");
    test_write_file(config_path, "[profile plain]\nregion = us-east-1\n");
    assert_int_equal(test_get_with(creds_web_identity_new, &env, "plain", &c, &err),
                     CREDS_NOT_FOUND);
    /* not explicit: the environment is used, and the missing token file is an I/O error */
    assert_int_equal(test_get_with(creds_web_identity_new, &env, NULL, &c, &err), MANTLE_E_IO);
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
