/* Creation, copies, getters and free. */
#include "client/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"

static struct mantle_client *client_create(const struct mantle_client_options *o,
                                           const struct mantle_client *base,
                                           struct mantle_error *err)
{
    if (err) mantle_error_clear(err);
    struct mantle_client_options defaults = MANTLE_CLIENT_OPTIONS_INIT;
    if (!o) o = &defaults;
    struct mantle_client *c = calloc(1, sizeof *c);
    if (!c) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&c->clock_offset, base ? client_clock_offset(base) : 0);
    pthread_mutex_init(&c->calls_lock, NULL);
    if (client_config_resolve(o, base, &c->cfg, &c->auth, &c->log, err) != MANTLE_OK) {
        mantle_client_free(c);
        return NULL;
    }
    c->pool = base ? http_pool_ref(base->pool) : http_pool_new(err);
    if (!c->pool) {
        mantle_client_free(c);
        return NULL;
    }
    if (base) c->hooks = base->hooks;
    return c;
}

struct mantle_client *mantle_client_new(const struct mantle_client_options *options,
                                        struct mantle_error *err)
{
    return client_create(options, NULL, err);
}

struct mantle_client *mantle_client_with_options(const struct mantle_client *base,
                                                 const struct mantle_client_options *overrides,
                                                 struct mantle_error *err)
{
    if (!base) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "base client is NULL");
        return NULL;
    }
    return client_create(overrides, base, err);
}

void mantle_client_free(struct mantle_client *c)
{
    if (!c) return;
    client_calls_free(c);
    pthread_mutex_destroy(&c->calls_lock);
    client_config_free(&c->cfg);
    client_auth_free(&c->auth);
    http_pool_unref(c->pool);
    free(c);
}

const char *mantle_client_base_url(const struct mantle_client *c)
{
    return c ? c->cfg.base_url : NULL;
}

const char *mantle_client_region(const struct mantle_client *c)
{
    return c ? c->cfg.region : NULL;
}

const char *mantle_client_signing_service(const struct mantle_client *c)
{
    return c ? c->cfg.signing_service : NULL;
}

enum mantle_auth_mode mantle_client_auth_mode(const struct mantle_client *c)
{
    return c ? c->auth.mode : MANTLE_AUTH_SIGV4;
}

enum mantle_auth_source mantle_client_auth_source(const struct mantle_client *c)
{
    return c ? c->auth.source : MANTLE_AUTH_SOURCE_DEFAULT;
}

enum mantle_endpoint mantle_client_endpoint(const struct mantle_client *c)
{
    return c ? c->cfg.endpoint : MANTLE_ENDPOINT_MANTLE;
}

void client_set_test_hooks(struct mantle_client *c, const struct client_test_hooks *hooks)
{
    if (hooks)
        c->hooks = *hooks;
    else
        memset(&c->hooks, 0, sizeof c->hooks);
}

struct mantle_credentials_provider *client_provider(const struct mantle_client *c)
{
    return c->auth.provider;
}

struct http_pool *client_pool(const struct mantle_client *c)
{
    return c->pool;
}

int64_t client_clock_offset(const struct mantle_client *c)
{
    return atomic_load_explicit(&((struct mantle_client *)c)->clock_offset, memory_order_relaxed);
}
