/* The identities the emulator accepts: a file of "AKID SECRET [TOKEN|- [EXPIRATION]]" lines, or
 * the AWS_* environment variables. Secrets are kept in wiped buffers and never printed. */
#include "emulator.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/secret.h"

/* "2026-01-02T03:04:05Z" (fractional seconds allowed) or Unix seconds. */
static bool parse_expiration(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6) {
        const char *rest = s + n;
        if (*rest == '.')
            for (rest++; isdigit((unsigned char)*rest);) rest++;
        if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0) return false;
        struct tm tm = {.tm_year = y - 1900,
                        .tm_mon = mo - 1,
                        .tm_mday = d,
                        .tm_hour = h,
                        .tm_min = mi,
                        .tm_sec = sec};
        if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
        *out = (int64_t)timegm(&tm);
        return true;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0) return false;
    *out = (int64_t)v;
    return true;
}

static bool add_identity(struct config *cfg, const char *akid, const char *secret,
                         const char *token, const char *expiration, const char *where)
{
    for (size_t i = 0; i < cfg->identity_count; i++)
        if (strcmp(cfg->identities[i].access_key_id, akid) == 0) {
            fprintf(stderr, EMU_NAME ": %s: access key id '%s' is listed twice\n", where, akid);
            return false;
        }
    int64_t expires = 0;
    if (expiration && *expiration && !parse_expiration(expiration, &expires)) {
        fprintf(stderr,
                EMU_NAME ": %s: the expiration must look like 2026-01-02T03:04:05Z or be Unix "
                         "seconds\n",
                where);
        return false;
    }
    struct identity *n =
        realloc(cfg->identities, (cfg->identity_count + 1) * sizeof *cfg->identities);
    if (!n) return false;
    cfg->identities = n;
    struct identity *id = &n[cfg->identity_count];
    id->access_key_id = strdup(akid);
    id->secret = secret_strdup(secret);
    id->session_token = token && *token ? secret_strdup(token) : NULL;
    id->expires = expires;
    cfg->identity_count++;
    if (!id->access_key_id || !id->secret || (token && *token && !id->session_token)) {
        fprintf(stderr, EMU_NAME ": out of memory\n");
        return false;
    }
    return true;
}

static bool load_env(struct config *cfg)
{
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!akid || !*akid || !secret || !*secret) {
        fprintf(stderr, EMU_NAME ": --credentials env needs AWS_ACCESS_KEY_ID and "
                                 "AWS_SECRET_ACCESS_KEY\n");
        return false;
    }
    return add_identity(cfg, akid, secret, getenv("AWS_SESSION_TOKEN"),
                        getenv("AWS_CREDENTIAL_EXPIRATION"), "environment");
}

static bool load_file(struct config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, EMU_NAME ": cannot read credentials file %s: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    size_t before = cfg->identity_count;
    while (ok && getline(&line, &cap, f) >= 0) {
        lineno++;
        char where[512];
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        char *fields[5] = {0};
        int n = 0;
        for (char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save); tok;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (n == 0 && tok[0] == '#') break;
            if (n == 5) break;
            fields[n++] = tok;
        }
        if (n == 0) continue;
        if (n < 2 || n > 4) {
            fprintf(stderr,
                    EMU_NAME ": %s: expected ACCESS_KEY_ID SECRET [SESSION_TOKEN|- "
                             "[EXPIRATION]]\n",
                    where);
            ok = false;
            break;
        }
        const char *token = n >= 3 && strcmp(fields[2], "-") != 0 ? fields[2] : NULL;
        ok = add_identity(cfg, fields[0], fields[1], token, n == 4 ? fields[3] : NULL, where);
    }
    if (line) secret_wipe(line, cap); /* it held secrets */
    free(line);
    fclose(f);
    if (ok && cfg->identity_count == before) {
        fprintf(stderr, EMU_NAME ": %s holds no identity\n", path);
        ok = false;
    }
    return ok;
}

bool credentials_load(struct config *cfg, const char *source)
{
    return strcmp(source, "env") == 0 ? load_env(cfg) : load_file(cfg, source);
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->identity_count; i++) {
        free(cfg->identities[i].access_key_id);
        secret_free(cfg->identities[i].secret);
        secret_free(cfg->identities[i].session_token);
    }
    free(cfg->identities);
    for (size_t i = 0; i < cfg->api_key_count; i++) secret_free(cfg->api_keys[i]);
    free(cfg->api_keys);
    free(cfg->services);
    cfg->identities = NULL;
    cfg->api_keys = NULL;
    cfg->services = NULL;
    cfg->identity_count = cfg->api_key_count = cfg->service_count = 0;
}
