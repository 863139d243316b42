#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *path_under(const char *env, const char *rel, char *out, size_t n)
{
    const char *base = getenv(env);
    if (!base) base = ".";
    snprintf(out, n, "%s/%s", base, rel);
    return out;
}

const char *test_shared_path(const char *rel)
{
    static char buf[4096];
    return path_under("MANTLE_SHARED_DIR", rel, buf, sizeof buf);
}

const char *test_source_path(const char *rel)
{
    static char buf[4096];
    return path_under("MANTLE_SOURCE_DIR", rel, buf, sizeof buf);
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *data = malloc(cap);
    for (;;) {
        if (!data) break;
        if (n + 1 >= cap) {
            char *p = realloc(data, cap * 2);
            if (!p) {
                free(data);
                data = NULL;
                break;
            }
            data = p;
            cap *= 2;
        }
        size_t got = fread(data + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    fclose(f);
    if (!data) return NULL;
    data[n] = '\0';
    if (len) *len = n;
    return data;
}

const char *test_env_default(const char *name)
{
    return strcmp(name, "AWS_EC2_METADATA_DISABLED") == 0 ? "true" : NULL;
}
