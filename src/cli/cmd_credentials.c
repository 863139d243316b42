/* mantle credentials: what the default chain resolves. `export` prints the credentials the way
 * `aws configure export-credentials` does (so either can feed a credential_process or a shell);
 * `which` says where they came from without showing any secret. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "core/secret.h"
#include "core/timeutil.h"

void cmd_credentials_usage(FILE *out)
{
    fprintf(
        out,
        "usage: mantle credentials export [--profile P] [--format process|env|env-no-export]\n"
        "       mantle credentials which [--profile P]\n"
        "\n"
        "Resolves AWS credentials with the default chain (the AWS CLI's order: environment,\n"
        "assume role, web identity, SSO, shared files, credential_process, container, IMDS).\n"
        "\n"
        "  export   print the credentials, SECRETS INCLUDED, in the format of\n"
        "           `aws configure export-credentials`: process (JSON for a credential_process,\n"
        "           the default), env (`export AWS_ACCESS_KEY_ID=...` lines) or env-no-export\n"
        "  which    print which provider supplied them and from where, the access key id\n"
        "           partly masked, and when they expire; never a secret\n"
        "\n"
        "  --profile P   use this profile (then the AWS_* key variables are ignored, as with\n"
        "                the AWS CLI's --profile); default: AWS_PROFILE, else \"default\"\n"
        "\n"
        "Exit status: 0 on success, 2 on a usage error, 1 when no credentials resolve.\n");
}

enum { OPT_PROFILE = 256, OPT_FORMAT, OPT_HELP };

static const struct option cred_options[] = {
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* The AWS CLI prints expiry_time.isoformat() of a UTC datetime: "+00:00", not "Z". */
static void format_expiration(int64_t t, char out[32])
{
    char iso[TIME_ISO8601_SIZE];
    time_format_iso8601(t, iso);
    iso[strlen(iso) - (iso[0] ? 1 : 0)] = '\0';
    snprintf(out, 32, "%s+00:00", iso);
}

/* `credential_process = mantle credentials export --profile P` inside profile P would run itself
 * forever. Like `aws configure export-credentials`, and through the same variable so that loops
 * through either tool are caught, the profiles being resolved are passed down in
 * _AWS_CLI_PROFILE_CHAIN (comma-separated); a repeat, or a depth of 4, is refused. */
#define PROFILE_CHAIN_VAR "_AWS_CLI_PROFILE_CHAIN"
#define PROFILE_CHAIN_MAX 4

static int enter_profile_chain(const char *profile)
{
    const char *name = profile;
    if (!name) name = cli_getenv_nonempty("AWS_PROFILE");
    if (!name) name = cli_getenv_nonempty("AWS_DEFAULT_PROFILE");
    if (!name) name = "default";
    const char *chain = cli_getenv_nonempty(PROFILE_CHAIN_VAR);
    int depth = 0;
    for (const char *p = chain; p && *p;) {
        size_t len = strcspn(p, ",");
        depth++;
        if (len == strlen(name) && strncmp(p, name, len) == 0) {
            fprintf(stderr,
                    "mantle credentials export: credential process resolution detected an "
                    "infinite loop, profile cycle: %s,%s\n",
                    chain, name);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    if (depth >= PROFILE_CHAIN_MAX) {
        fprintf(stderr,
                "mantle credentials export: maximum recursive credential process resolution "
                "reached (%d); profiles seen: %s\n",
                PROFILE_CHAIN_MAX, chain);
        return -1;
    }
    char value[1024];
    int n = snprintf(value, sizeof value, "%s%s%s", chain ? chain : "", chain ? "," : "", name);
    if (n < 0 || (size_t)n >= sizeof value || setenv(PROFILE_CHAIN_VAR, value, 1) != 0) {
        fprintf(stderr, "mantle credentials export: the profile chain is too long\n");
        return -1;
    }
    return 0;
}

/* Resolves with the default chain; prints the error and returns NULL on failure. */
static struct mantle_credentials *resolve(const char *cmd, const char *profile)
{
    struct mantle_credentials_options opts = MANTLE_CREDENTIALS_OPTIONS_INIT;
    opts.profile = profile;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_credentials_provider *p =
        mantle_credentials_provider_new_default_chain(&opts, &err);
    struct mantle_credentials *c = NULL;
    if (p) mantle_credentials_provider_get(p, &c, &err);
    mantle_credentials_provider_unref(p);
    if (!c) fprintf(stderr, "mantle credentials %s: %s\n", cmd, err.message);
    return c;
}

/* Sets a string member, then wipes jansson's copy on the way out (see wipe_strings). */
static void set_str(json_t *obj, const char *key, const char *value)
{
    json_object_set_new(obj, key, json_string(value));
}

static void wipe_strings(json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (json_is_string(v)) secret_wipe((char *)json_string_value(v), json_string_length(v));
    }
}

static int export_process(const struct mantle_credentials *c)
{
    json_t *o = json_object();
    if (!o) return CLI_ERROR;
    json_object_set_new(o, "Version", json_integer(1));
    set_str(o, "AccessKeyId", mantle_credentials_access_key_id(c));
    set_str(o, "SecretAccessKey", mantle_credentials_secret_access_key(c));
    if (mantle_credentials_session_token(c))
        set_str(o, "SessionToken", mantle_credentials_session_token(c));
    if (mantle_credentials_expiration(c)) {
        char when[32];
        format_expiration(mantle_credentials_expiration(c), when);
        set_str(o, "Expiration", when);
    }
    /* Python's json.dumps(indent=2): ASCII only, members in insertion order. */
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    wipe_strings(o);
    json_decref(o);
    if (!text) return CLI_ERROR;
    int rc = (fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF) ? CLI_OK : CLI_ERROR;
    secret_free(text);
    return rc;
}

static int export_env(const struct mantle_credentials *c, const char *prefix)
{
    printf("%sAWS_ACCESS_KEY_ID=%s\n", prefix, mantle_credentials_access_key_id(c));
    printf("%sAWS_SECRET_ACCESS_KEY=%s\n", prefix, mantle_credentials_secret_access_key(c));
    if (mantle_credentials_session_token(c))
        printf("%sAWS_SESSION_TOKEN=%s\n", prefix, mantle_credentials_session_token(c));
    if (mantle_credentials_expiration(c)) {
        char when[32];
        format_expiration(mantle_credentials_expiration(c), when);
        printf("%sAWS_CREDENTIAL_EXPIRATION=%s\n", prefix, when);
    }
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

static int which(const struct mantle_credentials *c)
{
    const char *akid = mantle_credentials_access_key_id(c);
    size_t len = strlen(akid);
    char masked[32];
    /* Enough to tell keys apart (the AKIA/ASIA prefix says permanent or temporary), not to use. */
    if (len > 12)
        snprintf(masked, sizeof masked, "%.4s\u2026%s", akid, akid + len - 4);
    else
        snprintf(masked, sizeof masked, "\u2026 (%zu characters)", len);
    printf("source:        %s\n", mantle_credentials_source(c));
    printf("access key id: %s\n", masked);
    printf("session token: %s\n", mantle_credentials_session_token(c) ? "yes" : "no");
    int64_t exp = mantle_credentials_expiration(c);
    if (exp) {
        char when[TIME_ISO8601_SIZE];
        time_format_iso8601(exp, when);
        long long left = (long long)(exp - (int64_t)time(NULL));
        if (left >= 0)
            printf("expires:       %s (in %lldh%02lldm)\n", when, left / 3600, left % 3600 / 60);
        else
            printf("expires:       %s (expired)\n", when);
    } else {
        printf("expires:       never\n");
    }
    if (mantle_credentials_account_id(c))
        printf("account id:    %s\n", mantle_credentials_account_id(c));
    return fflush(stdout) == 0 ? CLI_OK : CLI_ERROR;
}

int cmd_credentials(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage_error("credentials", "expected a subcommand: export or which");
        return CLI_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        cmd_credentials_usage(stdout);
        return CLI_OK;
    }
    bool is_export = strcmp(sub, "export") == 0;
    if (!is_export && strcmp(sub, "which") != 0) {
        cli_usage_error("credentials", "unknown subcommand (expected export or which)");
        return CLI_USAGE;
    }
    const char *profile = NULL, *format = "process";
    optind = 1;
    opterr = 0;
    int c;
    /* argv + 1: getopt starts at index 1, after the subcommand. */
    while ((c = getopt_long(argc - 1, argv + 1, ":", cred_options, NULL)) != -1) {
        switch (c) {
        case OPT_PROFILE:
            if (!*optarg) {
                cli_usage_error("credentials", "--profile needs a non-empty name");
                return CLI_USAGE;
            }
            profile = optarg;
            break;
        case OPT_FORMAT:
            if (!is_export) {
                cli_usage_error("credentials", "--format is only for export");
                return CLI_USAGE;
            }
            if (strcmp(optarg, "process") != 0 && strcmp(optarg, "env") != 0 &&
                strcmp(optarg, "env-no-export") != 0) {
                cli_usage_error("credentials", "--format expects process, env or env-no-export");
                return CLI_USAGE;
            }
            format = optarg;
            break;
        case OPT_HELP:
            cmd_credentials_usage(stdout);
            return CLI_OK;
        default:
            cli_getopt_error("credentials", argv + 1, c);
            return CLI_USAGE;
        }
    }
    if (optind < argc - 1) {
        cli_usage_error("credentials", "unexpected argument");
        return CLI_USAGE;
    }
    if (is_export && enter_profile_chain(profile) != 0) return CLI_ERROR;
    struct mantle_credentials *creds = resolve(sub, profile);
    if (!creds) return CLI_ERROR;
    int rc;
    if (!is_export)
        rc = which(creds);
    else if (strcmp(format, "process") == 0)
        rc = export_process(creds);
    else
        rc = export_env(creds, strcmp(format, "env") == 0 ? "export " : "");
    mantle_credentials_unref(creds);
    return rc;
}
