/* libFuzzer target for the shared config / credentials parser. The first input byte picks the
 * mode: parse the rest as a config file, as a credentials file, or split it (at a point taken from
 * the second byte) into a config file and a credentials file merged into one set. Then every
 * section and property is walked and the invariants of the model are checked: one of value / nested
 * entries, lookups find what listing shows, errors are "file:line: reason" with a line that exists,
 * and parsing the same text again gives the same answer. */
#include "credentials/profile_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const char *s, size_t n)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'))) lines++;
    return lines;
}

static void check_error(const struct mantle_error *err, mantle_code rc, const char *file,
                        const char *text, size_t len)
{
    if (err->code != rc) abort();
    if (rc == MANTLE_E_NOMEM) return;
    if (rc != MANTLE_E_CONFIG) abort();
    size_t fl = strlen(file);
    if (strncmp(err->message, file, fl) != 0 || err->message[fl] != ':') abort();
    const char *p = err->message + fl + 1;
    if (*p == ' ') return; /* "file: larger than ..." has no line */
    char *end;
    unsigned long line = strtoul(p, &end, 10);
    if (end == p || strncmp(end, ": ", 2) != 0 || line == 0 || line > count_lines(text, len))
        abort();
}

static void check_set(const struct profile_set *set)
{
    for (int k = 0; k < PROFILE_KIND_COUNT; k++) {
        enum profile_kind kind = (enum profile_kind)k;
        for (size_t i = 0; i < profile_set_count(set, kind); i++) {
            const struct profile *p = profile_set_at(set, kind, i);
            if (!p || profile_set_get(set, kind, profile_name(p)) != p) abort();
            if (strcmp(profile_set_name_at(set, kind, i), profile_name(p)) != 0) abort();
            if (profile_kind(p) != kind) abort();
            for (size_t j = 0; j < profile_property_count(p); j++) {
                const struct profile_property *prop = profile_property_at(p, j);
                if (profile_find(p, prop->key) != prop || prop->line <= 0) abort();
                if (!prop->value == !prop->sub_count) abort();
                if (profile_get(p, prop->key) != prop->value) abort();
                for (const char *c = prop->key; *c; c++)
                    if (*c >= 'A' && *c <= 'Z') abort();
                for (size_t s = 0; s < prop->sub_count; s++) {
                    if (!prop->sub[s].value) abort();
                    if (profile_get_sub(p, prop->key, prop->sub[s].key) != prop->sub[s].value)
                        abort();
                }
            }
        }
    }
}

/* Parses the parts into a new set; returns it (NULL on error) and the first error. */
static struct profile_set *run(const char *cfg, size_t cfg_len, const char *cred, size_t cred_len,
                               mantle_code *rc_out, struct mantle_error *err)
{
    struct profile_set *set = profile_set_new();
    if (!set) abort();
    mantle_code rc = MANTLE_OK;
    if (cfg) {
        rc = profile_set_parse(set, PROFILE_SOURCE_CONFIG, "config", cfg, cfg_len, err);
        if (rc) check_error(err, rc, "config", cfg, cfg_len);
    }
    if (!rc && cred) {
        rc = profile_set_parse(set, PROFILE_SOURCE_CREDENTIALS, "credentials", cred, cred_len, err);
        if (rc) check_error(err, rc, "credentials", cred, cred_len);
    }
    check_set(set);
    *rc_out = rc;
    return set;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    const char *cfg = NULL, *cred = NULL;
    size_t cfg_len = 0, cred_len = 0;
    switch (data[0] % 3) {
    case 0:
        cfg = text;
        cfg_len = len;
        break;
    case 1:
        cred = text;
        cred_len = len;
        break;
    default:
        cfg = text;
        cfg_len = len ? (size_t)data[1] * len / 256 : 0;
        cred = text + cfg_len;
        cred_len = len - cfg_len;
    }
    struct mantle_error err1 = MANTLE_ERROR_INIT, err2 = MANTLE_ERROR_INIT;
    mantle_code rc1, rc2;
    struct profile_set *a = run(cfg, cfg_len, cred, cred_len, &rc1, &err1);
    struct profile_set *b = run(cfg, cfg_len, cred, cred_len, &rc2, &err2);
    if (rc1 != rc2 || strcmp(err1.message, err2.message) != 0) abort();
    for (int k = 0; k < PROFILE_KIND_COUNT; k++)
        if (profile_set_count(a, (enum profile_kind)k) !=
            profile_set_count(b, (enum profile_kind)k))
            abort();
    profile_set_free(a);
    profile_set_free(b);
    return 0;
}
