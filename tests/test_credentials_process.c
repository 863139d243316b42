/* credential_process: the shlex-compatible command-line split, running without a shell, the JSON
 * document (Version 1, required and optional members), failures with exit status and stderr, the
 * run-time bound (process group killed), and its place in the default chain. The commands are
 * small shell scripts written to a temporary directory. */
#include "testutil.h"

#include <mantle/credentials.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "credentials/credentials_internal.h"
#include "credentials/profile_providers.h"

static char dir[256], config_path[300], creds_path[300];
static struct test_env env;

static void write_file(const char *path, const char *text, mode_t mode)
{
    test_write_file(path, text);
    assert_int_equal(chmod(path, mode), 0);
}

/* Writes dir/name as an executable shell script. */
static void script(const char *name, const char *body)
{
    char path[400], text[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
    write_file(path, text, 0755);
}

/* Writes the config file with one profile whose credential_process is cmd ("@" = the dir). */
static void config_with(const char *profile_extra, const char *cmd_tmpl)
{
    char cmd[1024], text[2048];
    size_t n = 0;
    for (const char *t = cmd_tmpl; *t && n + sizeof dir < sizeof cmd; t++) {
        if (*t == '@') {
            memcpy(cmd + n, dir, strlen(dir));
            n += strlen(dir);
        } else {
            cmd[n++] = *t;
        }
    }
    cmd[n] = '\0';
    snprintf(text, sizeof text, "[default]\ncredential_process = %s\n%s", cmd,
             profile_extra ? profile_extra : "");
    write_file(config_path, text, 0644);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mantle process-XXXXXX"); /* a space, to test quoting */
    assert_non_null(mkdtemp(dir));
    snprintf(config_path, sizeof config_path, "%s/config", dir);
    snprintf(creds_path, sizeof creds_path, "%s/credentials", dir);
    memset(&env, 0, sizeof env);
    env.names[0] = "HOME";
    env.values[0] = dir;
    env.names[1] = "AWS_CONFIG_FILE";
    env.values[1] = config_path;
    env.names[2] = "AWS_SHARED_CREDENTIALS_FILE";
    env.values[2] = creds_path;
    env.names[3] = "AWS_EC2_METADATA_DISABLED";
    env.values[3] = "true";
    env.n = 4;
    script("good.sh", "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", "
                      "\"SecretAccessKey\": \"procsecret\", \"SessionToken\": \"proctoken\", "
                      "\"Expiration\": \"2099-01-02T03:04:05Z\"}'");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static mantle_code get_process(long timeout_ms, struct mantle_credentials **out,
                               struct mantle_error *err)
{
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = test_env_getenv_only;
    o.getenv_ud = &env;
    struct mantle_credentials_provider *p = creds_process_new_with(&o, timeout_ms, err);
    assert_non_null(p);
    mantle_code rc = provider_get(p, out, err);
    mantle_credentials_provider_unref(p);
    return rc;
}

/* ---- splitting ---- */

static void expect_split(const char *line, const char *const *want, size_t n)
{
    char **argv = NULL;
    size_t argc = 0;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(creds_process_split(line, &argv, &argc, &err), MANTLE_OK);
    assert_int_equal(argc, n);
    for (size_t i = 0; i < n; i++) assert_string_equal(argv[i], want[i]);
    assert_null(argv[n]);
    creds_process_argv_free(argv);
}

static void test_split_like_shlex(void **state)
{
    (void)state;
    /* expected values are Python's shlex.split output */
    expect_split("a \"b c\" 'd e' f\\ g", (const char *[]){"a", "b c", "d e", "f g"}, 4);
    expect_split("a\"b\"c", (const char *[]){"abc"}, 1);
    expect_split("\"\"", (const char *[]){""}, 1);
    expect_split("\"a\\\"b\"", (const char *[]){"a\"b"}, 1);
    expect_split("\"a\\nb\"", (const char *[]){"a\\nb"}, 1);
    expect_split("'a\\b'", (const char *[]){"a\\b"}, 1);
    expect_split("a\\\\b", (const char *[]){"a\\b"}, 1);
    expect_split("\"a\\\\b\"", (const char *[]){"a\\b"}, 1);
    expect_split("x;y", (const char *[]){"x;y"}, 1);
    expect_split("  a\tb\n c  ", (const char *[]){"a", "b", "c"}, 3);
    expect_split("a # b", (const char *[]){"a", "#", "b"}, 3);
    expect_split("", NULL, 0);
    char **argv = NULL;
    size_t argc = 0;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(creds_process_split("a \"unclosed", &argv, &argc, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "No closing quotation");
    assert_int_equal(creds_process_split("a 'unclosed", &argv, &argc, &err), MANTLE_E_CONFIG);
    assert_int_equal(creds_process_split("trailing\\", &argv, &argc, &err), MANTLE_E_CONFIG);
    assert_string_equal(err.message, "No escaped character");
    assert_null(argv);
}

/* ---- running ---- */

static void test_good_document(void **state)
{
    (void)state;
    config_with("aws_account_id = 999988887777\n", "\"@/good.sh\"");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_process(10000, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDPROC");
    assert_string_equal(mantle_credentials_secret_access_key(c), "procsecret");
    assert_string_equal(mantle_credentials_session_token(c), "proctoken");
    assert_int_equal(mantle_credentials_expiration(c), 4071006245);        /* refreshable */
    assert_string_equal(mantle_credentials_account_id(c), "999988887777"); /* from the profile */
    assert_non_null(strstr(mantle_credentials_source(c), "process (profile default)"));
    mantle_credentials_unref(c);

    /* minimal document: no token, no expiration; AccountId in the document wins */
    script("min.sh", "printf '{\"Version\":1,\"AccessKeyId\":\"A2\",\"SecretAccessKey\":\"S2\","
                     "\"AccountId\":\"123456789012\"}'");
    config_with("aws_account_id = 999988887777\n", "'@/min.sh'");
    assert_int_equal(get_process(10000, &c, &err), MANTLE_OK);
    assert_null(mantle_credentials_session_token(c));
    assert_int_equal(mantle_credentials_expiration(c), 0);
    assert_string_equal(mantle_credentials_account_id(c), "123456789012");
    mantle_credentials_unref(c);
}

static void expect_error(const char *body, mantle_code code, const char *needle)
{
    script("bad.sh", body);
    config_with(NULL, "\"@/bad.sh\"");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_process(10000, &c, &err), code);
    assert_null(c);
    if (!strstr(err.message, needle)) fail_msg("'%s' not in '%s'", needle, err.message);
    assert_non_null(strstr(err.message, "profile default"));
}

static void test_bad_documents(void **state)
{
    (void)state;
    expect_error(
        "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"topsecret\"}'",
        MANTLE_E_CREDENTIALS, "Version");
    expect_error("echo '{\"Version\": \"1\", \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'",
                 MANTLE_E_CREDENTIALS, "Version");
    expect_error("echo '{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\"}'",
                 MANTLE_E_CREDENTIALS, "Version");
    expect_error("echo '{\"Version\": 1, \"AccessKeyId\": \"A\"}'", MANTLE_E_CREDENTIALS,
                 "SecretAccessKey");
    expect_error("echo '{\"Version\": 1, \"SecretAccessKey\": \"topsecret\"}'",
                 MANTLE_E_CREDENTIALS, "AccessKeyId");
    expect_error("echo '{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", "
                 "\"Expiration\": \"tomorrow\"}'",
                 MANTLE_E_CREDENTIALS, "Expiration");
    expect_error("echo 'not json topsecret'", MANTLE_E_CREDENTIALS, "not a JSON object");
    expect_error("echo", MANTLE_E_CREDENTIALS, "not a JSON object");
    /* the secret never reaches the message */
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    script("bad.sh",
           "echo '{\"Version\": 2, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"topsecret\"}'");
    assert_int_equal(get_process(10000, &c, &err), MANTLE_E_CREDENTIALS);
    assert_null(strstr(err.message, "topsecret"));
    /* too much output */
    expect_error("head -c 100000 /dev/zero | tr '\\0' x", MANTLE_E_CREDENTIALS, "more than");
}

static void test_nonzero_exit(void **state)
{
    (void)state;
    expect_error("echo 'token expired: run login' >&2; exit 3", MANTLE_E_CREDENTIALS,
                 "exited with status 3: token expired: run login");
    /* stderr is bounded and its control characters do not reach the message raw */
    expect_error("printf 'line1\\nline2\\033[31m' >&2; head -c 200000 /dev/zero | tr '\\0' e >&2; "
                 "exit 1",
                 MANTLE_E_CREDENTIALS, "line1 line2 [31m");
    expect_error("kill -TERM $$", MANTLE_E_CREDENTIALS, "signal 15");
    /* cannot be started */
    config_with(NULL, "\"@/does-not-exist\"");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_process(10000, &c, &err), MANTLE_E_IO);
    assert_non_null(strstr(err.message, "could not be started"));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_hanging_command_killed(void **state)
{
    (void)state;
    char body[600];
    /* a helper in the background keeps stdout open: the whole group must go */
    snprintf(body, sizeof body, "sleep 60 & echo $! > '%s/child.pid'; sleep 60", dir);
    script("hang.sh", body);
    config_with(NULL, "\"@/hang.sh\"");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    int64_t t0 = now_ms();
    assert_int_equal(get_process(500, &c, &err), MANTLE_E_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_true(took < 10000); /* generous: the bound is 0.5 s */
    assert_non_null(strstr(err.message, "killed"));
    /* the background helper was in the group: it is gone (or a zombie awaiting its reaper) */
    char path[400];
    snprintf(path, sizeof path, "%s/child.pid", dir);
    char *pidtext = test_read_file(path, NULL);
    assert_non_null(pidtext);
    pid_t child = (pid_t)atoi(pidtext);
    free(pidtext);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        char stat[64];
        snprintf(stat, sizeof stat, "/proc/%d/stat", (int)child);
        char *st = test_read_file(stat, NULL);
        gone = !st || strstr(st, ") Z ") != NULL;
        free(st);
        if (!gone) usleep(20000);
    }
    assert_true(gone);
}

static void test_arguments_without_shell(void **state)
{
    (void)state;
    char body[800];
    snprintf(body, sizeof body,
             "for a in \"$@\"; do printf '[%%s]' \"$a\"; done > '%s/args.out'\n"
             "exec '%s/good.sh'",
             dir, dir);
    script("args.sh", body);
    /* quoting, an escaped space, and shell syntax that must stay plain text */
    config_with(NULL, "\"@/args.sh\" \"two words\" 'single q' back\\ slash ; echo $HOME | x");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_process(10000, &c, &err), MANTLE_OK);
    mantle_credentials_unref(c);
    char path[400];
    snprintf(path, sizeof path, "%s/args.out", dir);
    char *got = test_read_file(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, "[two words][single q][back slash][;][echo][$HOME][|][x]");
    free(got);
}

/* A command that runs mantle again (directly or through another SDK) must not recurse without
 * bound: each level tells its child its depth, and the fourth level refuses. */
static void test_nesting_depth_bounded(void **state)
{
    (void)state;
    script("depth.sh", "printf '{\"Version\":1,\"AccessKeyId\":\"DEPTH%s\",'"
                       " \"$MANTLE_CREDENTIAL_PROCESS_DEPTH\"; "
                       "printf '\"SecretAccessKey\":\"S\"}'");
    config_with(NULL, "\"@/depth.sh\"");
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;

    unsetenv("MANTLE_CREDENTIAL_PROCESS_DEPTH");
    assert_int_equal(get_process(10000, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "DEPTH1");
    mantle_credentials_unref(c);

    setenv("MANTLE_CREDENTIAL_PROCESS_DEPTH", "2", 1);
    assert_int_equal(get_process(10000, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "DEPTH3");
    mantle_credentials_unref(c);

    setenv("MANTLE_CREDENTIAL_PROCESS_DEPTH", "4", 1);
    assert_int_equal(get_process(10000, &c, &err), MANTLE_E_CONFIG);
    assert_null(c);
    if (!strstr(err.message, "nested 4 deep")) fail_msg("unexpected: %s", err.message);
    unsetenv("MANTLE_CREDENTIAL_PROCESS_DEPTH");
}

static void test_not_configured_and_chain(void **state)
{
    (void)state;
    write_file(config_path, "[default]\nregion = us-east-1\n", 0644);
    struct mantle_credentials *c = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(get_process(10000, &c, &err), CREDS_NOT_FOUND);
    /* an empty credential_process is an error, not "nothing" */
    write_file(config_path, "[default]\ncredential_process =\n", 0644);
    assert_int_equal(get_process(10000, &c, &err), MANTLE_E_CONFIG);

    /* in the default chain: after the credentials file, before the config file's keys */
    char text[1024];
    snprintf(text, sizeof text,
             "[default]\ncredential_process = \"%s/good.sh\"\n"
             "aws_access_key_id = AKIDCONFIG\naws_secret_access_key = s\n",
             dir);
    write_file(config_path, text, 0644);
    struct mantle_credentials_options o = MANTLE_CREDENTIALS_OPTIONS_INIT;
    o.getenv_fn = test_env_getenv_only;
    o.getenv_ud = &env;
    struct mantle_credentials_provider *chain =
        mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDPROC");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
    write_file(creds_path, "[default]\naws_access_key_id = AKIDCREDS\naws_secret_access_key = s\n",
               0600);
    chain = mantle_credentials_provider_new_default_chain(&o, &err);
    assert_int_equal(mantle_credentials_provider_get(chain, &c, &err), MANTLE_OK);
    assert_string_equal(mantle_credentials_access_key_id(c), "AKIDCREDS");
    mantle_credentials_unref(c);
    mantle_credentials_provider_unref(chain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_like_shlex),
        cmocka_unit_test_setup_teardown(test_good_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonzero_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_command_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arguments_without_shell, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nesting_depth_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_configured_and_chain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
