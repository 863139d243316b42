/* A chain of providers (botocore's CredentialResolver): the first that finds credentials wins,
 * CREDS_NOT_FOUND moves on to the next, and any other error stops the chain. The non-blocking
 * get walks the same list through each provider's get_async, so no step blocks the caller. */
#include "credentials_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error_internal.h"

struct chain {
    struct mantle_credentials_provider *self; /* back-pointer (no reference) for async walks */
    size_t count;
    struct mantle_credentials_provider *items[];
};

/* Adds one provider's "not found" message to the list of what was tried (truncating to fit). */
static void note_tried(char *tried, const struct mantle_error *e)
{
    size_t len = strlen(tried), room = MANTLE_ERROR_MESSAGE_SIZE - 1 - len;
    if (!e->message[0]) return;
    if (len) {
        if (room < 2) return;
        memcpy(tried + len, ", ", 2);
        len += 2;
        room -= 2;
    }
    size_t n = strnlen(e->message, room);
    memcpy(tried + len, e->message, n);
    tried[len + n] = '\0';
}

static mantle_code nothing_found(struct mantle_error *err, const char *tried)
{
    if (!tried[0])
        return creds_not_found(err, "Unable to locate credentials (no credential sources "
                                    "configured)");
    return creds_not_found(err, "%s", tried);
}

static mantle_code chain_get(void *impl, struct mantle_credentials **out, struct mantle_error *err)
{
    struct chain *ch = impl;
    char tried[MANTLE_ERROR_MESSAGE_SIZE] = "";
    for (size_t i = 0; i < ch->count; i++) {
        struct mantle_error e = MANTLE_ERROR_INIT;
        mantle_code code = provider_get(ch->items[i], out, &e);
        if (code == MANTLE_OK) return MANTLE_OK;
        if (code != CREDS_NOT_FOUND) {
            e.code = code;
            if (err) *err = e;
            return code;
        }
        note_tried(tried, &e);
    }
    return nothing_found(err, tried);
}

/* ---- the non-blocking walk ---- */

struct walk {
    struct chain *ch; /* kept alive by a reference to ch->self */
    size_t next;
    mantle_credentials_cb *done;
    void *ud;
    char tried[MANTLE_ERROR_MESSAGE_SIZE];
};

static void walk_finish(struct walk *w, struct mantle_credentials *creds,
                        const struct mantle_error *e)
{
    struct mantle_credentials_provider *self = w->ch->self;
    mantle_credentials_cb *done = w->done;
    void *ud = w->ud;
    free(w);
    done(ud, creds, e);
    mantle_credentials_provider_unref(self);
}

static void walk_step(struct walk *w);

static void walk_on_result(void *ud, struct mantle_credentials *creds,
                           const struct mantle_error *err)
{
    struct walk *w = ud;
    if (creds) {
        walk_finish(w, creds, NULL);
    } else if (err && err->code == CREDS_NOT_FOUND) {
        note_tried(w->tried, err);
        walk_step(w);
    } else {
        struct mantle_error e = MANTLE_ERROR_INIT;
        if (err) e = *err;
        if (e.code == MANTLE_OK) e.code = MANTLE_E_CREDENTIALS;
        walk_finish(w, NULL, &e);
    }
}

/* Starts the next provider; a provider that completes inline recurses through walk_on_result,
 * at most twice per provider in the chain. */
static void walk_step(struct walk *w)
{
    if (w->next == w->ch->count) {
        struct mantle_error e = MANTLE_ERROR_INIT;
        nothing_found(&e, w->tried);
        walk_finish(w, NULL, &e);
        return;
    }
    mantle_code code = provider_get_async(w->ch->items[w->next++], walk_on_result, w);
    if (code != MANTLE_OK) {
        struct mantle_error e = MANTLE_ERROR_INIT;
        mantle_error_set(&e, code, "could not start a credentials provider: %s",
                         mantle_strerror(code));
        walk_finish(w, NULL, &e);
    }
}

static mantle_code chain_get_async(void *impl, mantle_credentials_cb *done, void *user_data)
{
    struct chain *ch = impl;
    struct walk *w = malloc(sizeof *w);
    if (!w) return MANTLE_E_NOMEM;
    w->ch = ch;
    w->next = 0;
    w->done = done;
    w->ud = user_data;
    w->tried[0] = '\0';
    mantle_credentials_provider_ref(ch->self);
    walk_step(w);
    return MANTLE_OK;
}

static void chain_destroy(void *impl)
{
    struct chain *ch = impl;
    for (size_t i = 0; i < ch->count; i++) mantle_credentials_provider_unref(ch->items[i]);
    free(ch);
}

static const struct mantle_credentials_provider_vtable chain_vtable = {
    .get = chain_get,
    .get_async = chain_get_async,
    .destroy = chain_destroy,
};

struct mantle_credentials_provider *
creds_chain_new(struct mantle_credentials_provider *const *items, size_t count,
                struct mantle_error *err)
{
    for (size_t i = 0; i < count; i++) {
        if (!items[i]) {
            mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT,
                             "credentials chain: provider %zu is NULL", i);
            return NULL;
        }
    }
    struct chain *ch = calloc(1, sizeof *ch + count * sizeof ch->items[0]);
    if (!ch) {
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating a credentials chain");
        return NULL;
    }
    for (size_t i = 0; i < count; i++) ch->items[i] = mantle_credentials_provider_ref(items[i]);
    ch->count = count;
    struct mantle_credentials_provider *p = provider_new(&chain_vtable, ch, err);
    if (!p) {
        chain_destroy(ch);
        return NULL;
    }
    ch->self = p;
    return p;
}
