/* Fault injection. The same names work as command-line options (--delay 200) and as items of
 * the x-mantle-emulator-fault request header ("delay=200, fail-status=503:2"), so one emulator
 * can serve a whole test file with a different fault per request.
 *
 * fail-status counts: with the command line, over all authenticated requests; with the header,
 * over the requests that carry exactly the same header value (add "id=..." to keep tests apart).
 * POST /__emulator/reset starts every count again. */
#include "emulator.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct counter {
    char *key; /* NULL: the command line's counter */
    long used;
    struct counter *next;
};

static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct counter *counters;

static bool parse_long(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        return false;                                                                              \
    } while (0)

bool faults_set(struct faults *f, const char *name, const char *value, char *err, size_t errlen)
{
    long v;
    if (strcmp(name, "fail-status") == 0) {
        /* CODE[:COUNT] */
        char code[16];
        const char *colon = value ? strchr(value, ':') : NULL;
        size_t n = colon ? (size_t)(colon - value) : (value ? strlen(value) : 0);
        if (n == 0 || n >= sizeof code) FAIL("fail-status: expected CODE[:COUNT], e.g. 503:2");
        memcpy(code, value, n);
        code[n] = '\0';
        if (!parse_long(code, 100, 599, &v)) FAIL("fail-status: the status must be 100 to 599");
        long count = -1;
        if (colon && !parse_long(colon + 1, 0, LONG_MAX, &count))
            FAIL("fail-status: COUNT must be a number of requests (0 or more)");
        f->fail_status = (unsigned)v;
        f->fail_count = count;
    } else if (strcmp(name, "retry-after") == 0) {
        if (!parse_long(value, 0, 86400, &f->retry_after))
            FAIL("retry-after: expected seconds (0 to 86400)");
    } else if (strcmp(name, "retry-after-ms") == 0) {
        if (!parse_long(value, 0, 86400000, &f->retry_after_ms))
            FAIL("retry-after-ms: expected milliseconds");
    } else if (strcmp(name, "x-should-retry") == 0) {
        if (value && strcasecmp(value, "true") == 0)
            f->x_should_retry = 1;
        else if (value && strcasecmp(value, "false") == 0)
            f->x_should_retry = 0;
        else
            FAIL("x-should-retry: expected true or false");
    } else if (strcmp(name, "delay") == 0) {
        if (!parse_long(value, 0, 600000, &f->delay_ms))
            FAIL("delay: expected milliseconds (0 to 600000)");
    } else if (strcmp(name, "event-delay") == 0) {
        if (!parse_long(value, 0, 600000, &f->event_delay_ms))
            FAIL("event-delay: expected milliseconds (0 to 600000)");
    } else if (strcmp(name, "drop-mid-stream") == 0) {
        if (!parse_long(value, 0, 1000000, &f->drop_mid_stream))
            FAIL("drop-mid-stream: expected a number of events");
    } else if (strcmp(name, "malformed-json") == 0) {
        if (!value || strcasecmp(value, "true") == 0)
            f->malformed_json = true;
        else if (strcasecmp(value, "false") == 0)
            f->malformed_json = false;
        else
            FAIL("malformed-json: takes no value (or true/false)");
    } else if (strcmp(name, "clock-skew") == 0) {
        if (!parse_long(value, -315360000, 315360000, &f->clock_skew))
            FAIL("clock-skew: expected seconds, e.g. -600 or 900");
    } else if (strcmp(name, "error-shape") == 0) {
        if (value && strcmp(value, "auto") == 0)
            f->error_shape = SHAPE_AUTO;
        else if (value && strcmp(value, "openai") == 0)
            f->error_shape = SHAPE_OPENAI;
        else if (value && strcmp(value, "anthropic") == 0)
            f->error_shape = SHAPE_ANTHROPIC;
        else if (value && strcmp(value, "aws") == 0)
            f->error_shape = SHAPE_AWS;
        else
            FAIL("error-shape: expected auto, openai, anthropic or aws");
    } else if (strcmp(name, "id") == 0) {
        /* Only makes the header value (the counter key) unique. */
    } else {
        FAIL("unknown fault '%s'", name);
    }
    return true;
}

static void trim(char **s, char **end)
{
    while (*s < *end && (**s == ' ' || **s == '\t')) (*s)++;
    while (*end > *s && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

bool faults_for_request(const struct config *cfg, const struct request *rq, struct faults *out,
                        char *err, size_t errlen)
{
    *out = cfg->faults;
    out->counter_key = NULL;
    const char *h = request_header(rq, EMU_FAULT_HEADER);
    if (!h) return true;
    char *copy = strdup(h);
    if (!copy) FAIL("out of memory");
    bool ok = true, sets_failure = false;
    char *p = copy;
    while (ok && *p) {
        char *end = p + strcspn(p, ",;");
        char next = *end;
        char *item = p, *item_end = end;
        trim(&item, &item_end);
        *item_end = '\0';
        if (*item) {
            char *eq = strchr(item, '=');
            char *value = NULL;
            if (eq) {
                char *name_end = eq;
                value = eq + 1;
                char *value_end = item_end;
                trim(&value, &value_end);
                *value_end = '\0';
                while (name_end > item && (name_end[-1] == ' ' || name_end[-1] == '\t')) name_end--;
                *name_end = '\0';
            }
            ok = faults_set(out, item, value, err, errlen);
            if (strcmp(item, "fail-status") == 0) sets_failure = true;
        }
        p = next ? end + 1 : end;
    }
    free(copy);
    if (ok && sets_failure) out->counter_key = h; /* borrowed: lives as long as the request */
    if (!ok) {
        char reason[200];
        snprintf(reason, sizeof reason, "%s", err);
        snprintf(err, errlen, "%s: %s", EMU_FAULT_HEADER, reason);
    }
    return ok;
}

bool faults_take_failure(const struct faults *f)
{
    if (!f->fail_status) return false;
    if (f->fail_count < 0) return true;
    bool fail = false;
    pthread_mutex_lock(&counters_lock);
    struct counter *c = counters;
    for (; c; c = c->next) {
        if (!c->key != !f->counter_key) continue;
        if (!c->key || strcmp(c->key, f->counter_key) == 0) break;
    }
    if (!c && (c = calloc(1, sizeof *c)) != NULL) {
        c->key = f->counter_key ? strdup(f->counter_key) : NULL;
        c->next = counters;
        counters = c;
    }
    if (c && c->used < f->fail_count) {
        c->used++;
        fail = true;
    }
    pthread_mutex_unlock(&counters_lock);
    return fail;
}

void faults_add_headers(const struct faults *f, bool injected, struct reply *r)
{
    if (injected && f->retry_after >= 0) reply_header(r, "retry-after", "%ld", f->retry_after);
    if (injected && f->retry_after_ms >= 0)
        reply_header(r, "retry-after-ms", "%ld", f->retry_after_ms);
    if (f->x_should_retry >= 0)
        reply_header(r, "x-should-retry", "%s", f->x_should_retry ? "true" : "false");
}

void faults_reset(void)
{
    pthread_mutex_lock(&counters_lock);
    while (counters) {
        struct counter *c = counters;
        counters = c->next;
        free(c->key);
        free(c);
    }
    pthread_mutex_unlock(&counters_lock);
}
