/* driver_profile_file CONFIG CREDENTIALS
 * Loads both files (a missing file is fine) and prints the merged view as JSON, shaped like
 * botocore's session.full_config: {"profiles": {NAME: {KEY: VALUE or {SUBKEY: VALUE}}},
 * "sso_sessions": {...}, "services": {...}}. On an error prints {"error": {"code", "message"}}
 * and exits 1. Used by test_profile_file_botocore.py. */
#include <jansson.h>
#include <mantle/error.h>
#include <stdio.h>

#include "credentials/profile_file.h"

static json_t *profile_json(const struct profile *p)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < profile_property_count(p); i++) {
        const struct profile_property *prop = profile_property_at(p, i);
        json_t *value;
        if (prop->value) {
            value = json_string(prop->value);
        } else {
            value = json_object();
            for (size_t j = 0; j < prop->sub_count; j++)
                json_object_set_new(value, prop->sub[j].key, json_string(prop->sub[j].value));
        }
        json_object_set_new(obj, prop->key, value);
    }
    return obj;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONFIG CREDENTIALS\n", argv[0]);
        return 2;
    }
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct profile_set *set = profile_set_new();
    mantle_code rc = set ? MANTLE_OK : MANTLE_E_NOMEM;
    if (!rc) rc = profile_set_load_file(set, PROFILE_SOURCE_CONFIG, argv[1], &err);
    if (!rc) rc = profile_set_load_file(set, PROFILE_SOURCE_CREDENTIALS, argv[2], &err);
    json_t *out = json_object();
    if (rc) {
        json_object_set_new(
            out, "error",
            json_pack("{s:s, s:s}", "code", mantle_code_name(rc), "message", err.message));
    } else {
        static const char *const names[] = {"profiles", "sso_sessions", "services"};
        for (int k = 0; k < PROFILE_KIND_COUNT; k++) {
            json_t *kind = json_object();
            for (size_t i = 0; i < profile_set_count(set, (enum profile_kind)k); i++) {
                const struct profile *p = profile_set_at(set, (enum profile_kind)k, i);
                json_object_set_new(kind, profile_name(p), profile_json(p));
            }
            json_object_set_new(out, names[k], kind);
        }
    }
    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    profile_set_free(set);
    return rc ? 1 : 0;
}
