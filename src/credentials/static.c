/* A provider that always hands out the same credentials. */
#include "credentials_internal.h"

#include "core/error_internal.h"

static mantle_code static_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    (void)err;
    *out = mantle_credentials_ref(impl);
    return MANTLE_OK;
}

/* Nothing to wait for, so the callback runs right away on the caller's thread. */
static mantle_code static_get_async(void *impl, mantle_credentials_cb *done, void *user_data)
{
    done(user_data, mantle_credentials_ref(impl), NULL);
    return MANTLE_OK;
}

static void static_destroy(void *impl)
{
    mantle_credentials_unref(impl);
}

static const struct mantle_credentials_provider_vtable static_vtable = {
    .get = static_get,
    .get_async = static_get_async,
    .destroy = static_destroy,
};

struct mantle_credentials_provider *
mantle_credentials_provider_new_static(struct mantle_credentials *c, struct mantle_error *err)
{
    if (!c) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                         "mantle_credentials_provider_new_static: credentials are required");
        return NULL;
    }
    struct mantle_credentials_provider *p =
        provider_new(&static_vtable, mantle_credentials_ref(c), err);
    if (!p) mantle_credentials_unref(c);
    return p;
}
