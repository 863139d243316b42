/* Options shared by the providers (environment and clock hooks, file locations) and the
 * "not found" result. */
#include "credentials_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool dup_opt(const char **dst, const char *src)
{
    *dst = NULL;
    if (!src) return true;
    *dst = strdup(src);
    return *dst != NULL;
}

bool creds_options_copy(struct mantle_credentials_options *dst,
                        const struct mantle_credentials_options *opts)
{
    static const struct mantle_credentials_options defaults = MANTLE_CREDENTIALS_OPTIONS_INIT;
    if (!opts) opts = &defaults;
    *dst = *opts;
    dst->profile = dst->config_file = dst->credentials_file = NULL;
    if (!dup_opt(&dst->profile, opts->profile) || !dup_opt(&dst->config_file, opts->config_file) ||
        !dup_opt(&dst->credentials_file, opts->credentials_file)) {
        creds_options_free(dst);
        return false;
    }
    return true;
}

void creds_options_free(struct mantle_credentials_options *o)
{
    if (!o) return;
    /* The copies are ours (creds_options_copy); the public struct just declares them const. */
    free((char *)o->profile);
    free((char *)o->config_file);
    free((char *)o->credentials_file);
    o->profile = o->config_file = o->credentials_file = NULL;
}

const char *creds_getenv(const struct mantle_credentials_options *o, const char *name)
{
    if (o && o->getenv_fn) return o->getenv_fn(o->getenv_ud, name);
    return getenv(name);
}

const char *creds_getenv_nonempty(const struct mantle_credentials_options *o, const char *name)
{
    const char *v = creds_getenv(o, name);
    return v && *v ? v : NULL;
}

int64_t creds_now(const struct mantle_credentials_options *o)
{
    if (o && o->now_fn) return o->now_fn(o->now_ud);
    return (int64_t)time(NULL);
}

mantle_code creds_not_found(struct mantle_error *err, const char *fmt, ...)
{
    if (!err) return CREDS_NOT_FOUND;
    err->code = CREDS_NOT_FOUND;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return CREDS_NOT_FOUND;
}
