/* mantle sign: sign an HTTP request with SigV4 and print what to add to it. */
#include "cli.h"

#include <getopt.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"

void cmd_sign_usage(FILE *out)
{
    fprintf(out,
            "usage: mantle sign [--method M] --url URL [-H 'Name: value']...\n"
            "                   [--data STRING | --data-file PATH] --region R --service S\n"
            "                   [--date YYYYMMDDTHHMMSSZ] [--unsigned-payload] [--sign-body]\n"
            "                   [--no-normalize-path] [--presign SECONDS] [--output text|json]\n"
            "                   [--profile P]\n"
            "\n"
            "Signs a request with AWS Signature Version 4 and prints the headers to add\n"
            "(text: one 'Name: value' per line; with --presign, the presigned URL).\n"
            "\n"
            "  --method M           HTTP method (default GET, or POST with --data/--data-file)\n"
            "  --url URL            absolute http(s) URL, as sent on the wire\n"
            "  -H, --header 'N: v'  a request header; may repeat, also with the same name\n"
            "  --data STRING        the request body\n"
            "  --data-file PATH     the request body, read from a file\n"
            "  --region R           signing region (default: AWS_REGION, AWS_DEFAULT_REGION)\n"
            "  --service S          signing service, e.g. bedrock-mantle\n"
            "  --date D             signing time, e.g. 20150830T123600Z (default: now)\n"
            "  --unsigned-payload   sign UNSIGNED-PAYLOAD instead of the body's SHA-256\n"
            "  --sign-body          add a signed X-Amz-Content-Sha256 header\n"
            "  --no-normalize-path  S3 rules: no path normalization, no double encoding\n"
            "  --presign SECONDS    print a presigned URL valid for 1..604800 seconds\n"
            "  --output text|json   json adds the canonical request and string to sign\n"
            "  --profile P          take the credentials from this profile (default chain)\n"
            "\n"
            "Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and\n"
            "AWS_SESSION_TOKEN; with --profile, or when those are not set, from the default\n"
            "chain (see 'mantle credentials which').\n"
            "Exit status: 0 on success, 2 on a usage error, 1 on any other error.\n");
}

/* Parses YYYYMMDDTHHMMSSZ as UTC. */
static int parse_amz_date(const char *s, int64_t *out)
{
    struct tm tm = {0};
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return -1;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9')) return -1;
    char part[5];
    int v[6];
    static const int offs[6][2] = {{0, 4}, {4, 2}, {6, 2}, {9, 2}, {11, 2}, {13, 2}};
    for (int i = 0; i < 6; i++) {
        memcpy(part, s + offs[i][0], (size_t)offs[i][1]);
        part[offs[i][1]] = '\0';
        v[i] = atoi(part);
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return -1;
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    tm.tm_hour = v[3];
    tm.tm_min = v[4];
    tm.tm_sec = v[5];
    time_t t = timegm(&tm);
    if (t <= 0) return -1;
    *out = (int64_t)t;
    return 0;
}

enum {
    OPT_METHOD = 256,
    OPT_URL,
    OPT_DATA,
    OPT_DATA_FILE,
    OPT_REGION,
    OPT_SERVICE,
    OPT_DATE,
    OPT_UNSIGNED,
    OPT_SIGN_BODY,
    OPT_NO_NORMALIZE,
    OPT_PRESIGN,
    OPT_OUTPUT,
    OPT_PROFILE,
    OPT_HELP
};

static const struct option sign_options[] = {
    {"method", required_argument, NULL, OPT_METHOD},
    {"url", required_argument, NULL, OPT_URL},
    {"header", required_argument, NULL, 'H'},
    {"data", required_argument, NULL, OPT_DATA},
    {"data-file", required_argument, NULL, OPT_DATA_FILE},
    {"region", required_argument, NULL, OPT_REGION},
    {"service", required_argument, NULL, OPT_SERVICE},
    {"date", required_argument, NULL, OPT_DATE},
    {"unsigned-payload", no_argument, NULL, OPT_UNSIGNED},
    {"sign-body", no_argument, NULL, OPT_SIGN_BODY},
    {"no-normalize-path", no_argument, NULL, OPT_NO_NORMALIZE},
    {"presign", required_argument, NULL, OPT_PRESIGN},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int print_json(const struct mantle_sigv4_result *res)
{
    json_t *root = json_object(), *headers = json_object();
    size_t n = mantle_sigv4_result_header_count(res);
    const struct mantle_header *h = mantle_sigv4_result_headers(res);
    for (size_t i = 0; i < n; i++) json_object_set_new(headers, h[i].name, json_string(h[i].value));
    json_object_set_new(root, "headers", headers);
    json_object_set_new(root, "canonical_request",
                        json_string(mantle_sigv4_result_canonical_request(res)));
    json_object_set_new(root, "string_to_sign",
                        json_string(mantle_sigv4_result_string_to_sign(res)));
    json_object_set_new(root, "signature", json_string(mantle_sigv4_result_signature(res)));
    if (mantle_sigv4_result_url(res))
        json_object_set_new(root, "url", json_string(mantle_sigv4_result_url(res)));
    int rc = json_dumpf(root, stdout, JSON_INDENT(2)) == 0 ? CLI_OK : CLI_ERROR;
    fputc('\n', stdout);
    json_decref(root);
    return rc;
}

int cmd_sign(int argc, char **argv)
{
    struct mantle_sigv4_request rq = {0};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    struct cli_headers headers = {0};
    const char *data = NULL, *data_file = NULL, *output = "text", *profile = NULL;
    struct mantle_credentials *chain_creds = NULL;
    char *file_body = NULL;
    size_t file_len = 0;
    int rc = CLI_USAGE;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":H:", sign_options, NULL)) != -1) {
        switch (c) {
        case OPT_METHOD:
            rq.method = optarg;
            break;
        case OPT_URL:
            rq.url = optarg;
            break;
        case 'H':
            if (cli_headers_add(&headers, optarg) != 0) {
                cli_usage_error("sign", "-H expects 'Name: value', got a header without ':'");
                goto out;
            }
            break;
        case OPT_DATA:
            data = optarg;
            break;
        case OPT_DATA_FILE:
            data_file = optarg;
            break;
        case OPT_REGION:
            pa.region = optarg;
            break;
        case OPT_SERVICE:
            pa.service = optarg;
            break;
        case OPT_DATE:
            if (parse_amz_date(optarg, &pa.signing_time) != 0) {
                cli_usage_error("sign", "--date expects YYYYMMDDTHHMMSSZ, e.g. 20150830T123600Z");
                goto out;
            }
            break;
        case OPT_UNSIGNED:
            rq.payload_kind = MANTLE_PAYLOAD_UNSIGNED;
            break;
        case OPT_SIGN_BODY:
            pa.flags |= MANTLE_SIGV4_SIGN_BODY;
            break;
        case OPT_NO_NORMALIZE:
            pa.flags |= MANTLE_SIGV4_NO_NORMALIZE_PATH;
            break;
        case OPT_PRESIGN: {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > (long)MANTLE_SIGV4_MAX_EXPIRES) {
                cli_usage_error("sign", "--presign expects a number of seconds from 1 to 604800");
                goto out;
            }
            pa.presign_expires = (unsigned)v;
            break;
        }
        case OPT_OUTPUT:
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
                cli_usage_error("sign", "--output expects text or json");
                goto out;
            }
            output = optarg;
            break;
        case OPT_PROFILE:
            profile = optarg;
            break;
        case OPT_HELP:
            cmd_sign_usage(stdout);
            rc = CLI_OK;
            goto out;
        default:
            cli_getopt_error("sign", argv, c);
            goto out;
        }
    }
    if (optind < argc) {
        cli_usage_error("sign", "unexpected argument");
        goto out;
    }
    if (!rq.url) {
        cli_usage_error("sign", "--url is required");
        goto out;
    }
    if (data && data_file) {
        cli_usage_error("sign", "--data and --data-file cannot be used together");
        goto out;
    }
    if (!pa.region) pa.region = cli_getenv_nonempty("AWS_REGION");
    if (!pa.region) pa.region = cli_getenv_nonempty("AWS_DEFAULT_REGION");
    if (!pa.region) {
        cli_usage_error("sign", "--region is required (or set AWS_REGION / AWS_DEFAULT_REGION)");
        goto out;
    }
    if (!pa.service) {
        cli_usage_error("sign", "--service is required (e.g. bedrock-mantle)");
        goto out;
    }
    rc = CLI_ERROR;
    if (data_file) {
        struct mantle_error ferr = MANTLE_ERROR_INIT;
        file_body = cli_read_file(data_file, &file_len, &ferr);
        if (!file_body) {
            fprintf(stderr, "mantle sign: %s\n", ferr.message);
            goto out;
        }
        rq.payload = file_body;
        rq.payload_len = file_len;
    } else if (data) {
        rq.payload = data;
        rq.payload_len = strlen(data);
    }
    if (!rq.method) rq.method = (data || data_file) ? "POST" : "GET";
    rq.headers = headers.items;
    rq.header_count = headers.count;

    struct mantle_sigv4_credentials cr = {
        .access_key_id = cli_getenv_nonempty("AWS_ACCESS_KEY_ID"),
        .secret_access_key = cli_getenv_nonempty("AWS_SECRET_ACCESS_KEY"),
        .session_token = cli_getenv_nonempty("AWS_SESSION_TOKEN"),
    };
    /* --profile, or no keys in the environment: the default chain (which reports a half-set
     * environment itself). Otherwise the environment as before. */
    if (profile || !cr.access_key_id || !cr.secret_access_key) {
        struct mantle_credentials_options copts = MANTLE_CREDENTIALS_OPTIONS_INIT;
        copts.profile = profile && *profile ? profile : NULL;
        struct mantle_error cerr = MANTLE_ERROR_INIT;
        struct mantle_credentials_provider *prov =
            mantle_credentials_provider_new_default_chain(&copts, &cerr);
        if (prov) mantle_credentials_provider_get(prov, &chain_creds, &cerr);
        mantle_credentials_provider_unref(prov);
        if (!chain_creds) {
            fprintf(stderr, "mantle sign: no credentials: %s\n", cerr.message);
            goto out;
        }
        cr.access_key_id = mantle_credentials_access_key_id(chain_creds);
        cr.secret_access_key = mantle_credentials_secret_access_key(chain_creds);
        cr.session_token = mantle_credentials_session_token(chain_creds);
    }

    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (!res) {
        fprintf(stderr, "mantle sign: out of memory\n");
        goto out;
    }
    if (mantle_sigv4_sign(&rq, &cr, &pa, res, &err) != MANTLE_OK) {
        fprintf(stderr, "mantle sign: %s\n", err.message);
    } else if (strcmp(output, "json") == 0) {
        rc = print_json(res);
    } else {
        if (mantle_sigv4_result_url(res)) printf("%s\n", mantle_sigv4_result_url(res));
        size_t n = mantle_sigv4_result_header_count(res);
        const struct mantle_header *h = mantle_sigv4_result_headers(res);
        for (size_t i = 0; i < n; i++) printf("%s: %s\n", h[i].name, h[i].value);
        rc = CLI_OK;
    }
    mantle_sigv4_result_free(res);
out:
    mantle_credentials_unref(chain_creds);
    cli_headers_free(&headers);
    free(file_body);
    return rc;
}
