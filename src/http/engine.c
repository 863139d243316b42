#include "http/engine.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "core/error_internal.h"
#include "core/timeutil.h"

/* Makes the slot's easy handle use the request's CA bundle. Changing it is rare (a client option),
 * so the handle is reset and set up again rather than tracking every option. */
static bool use_ca_bundle(struct http_pool *pool, struct http_slot *s, const char *ca)
{
    if (ca == s->cainfo || (ca && s->cainfo && strcmp(ca, s->cainfo) == 0)) return true;
    char *copy = NULL;
    if (ca && !(copy = strdup(ca))) return false;
    free(s->cainfo);
    s->cainfo = copy;
    curl_easy_reset(s->easy);
    http_easy_opts_clear(&s->opts); /* the reset cleared them all */
    return http_slot_apply_base(pool, s);
}

mantle_code http_perform(struct http_pool *pool, const struct http_request *rq,
                         struct http_transfer *t, struct mantle_error *err)
{
    struct http_slot *s = http_pool_acquire(pool, err);
    if (!s) return err ? err->code : MANTLE_E_NOMEM;
    if (!use_ca_bundle(pool, s, rq->ca_bundle)) {
        http_pool_release(pool, s, false);
        return mantle_error_set(err, MANTLE_E_NOMEM, "could not set the CA bundle");
    }
    mantle_code rc = http_transfer_bind(t, rq, s->easy, &s->opts, err);
    if (rc != MANTLE_OK) {
        http_pool_release(pool, s, false);
        return rc;
    }
    CURLMcode mc = curl_multi_add_handle(s->multi, s->easy);
    bool done = false, expired = false;
    CURLcode result = CURLE_OK;
    int64_t deadline = time_monotonic_ms() + rq->timeout_ms;
    while (mc == CURLM_OK && !done) {
        int running = 0;
        mc = curl_multi_perform(s->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(s->multi, &left)))
            if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
                result = m->data.result;
                done = true;
            }
        if (mc != CURLM_OK || done) break;
        if (!running) { /* cannot happen without a DONE message; do not spin */
            result = CURLE_GOT_NOTHING;
            done = true;
            break;
        }
        int64_t remaining_ms = deadline - time_monotonic_ms();
        if (remaining_ms <= 0) { /* the total timeout: ours, not libcurl's (see transfer.c) */
            expired = done = true;
            break;
        }
        mc = curl_multi_poll(s->multi, NULL, 0, remaining_ms < 1000 ? (int)remaining_ms : 1000,
                             NULL);
    }
    curl_multi_remove_handle(s->multi, s->easy);
    if (mc != CURLM_OK) {
        http_pool_release(pool, s, false);
        return mantle_error_set(err, MANTLE_E_CONNECTION, "libcurl multi handle failed: %s",
                                curl_multi_strerror(mc));
    }
    if (expired)
        http_transfer_expired(t);
    else
        http_transfer_complete(t, result, s->opts.errbuf);
    http_pool_release(pool, s, true);
    return MANTLE_OK;
}
