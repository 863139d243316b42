/* openai-python's retry policy (_base_client.py: _should_retry, _calculate_retry_timeout). */
#include "client/client_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/httpdate.h"

#define INITIAL_RETRY_DELAY 0.5
#define MAX_RETRY_DELAY 8.0
#define MAX_SERVER_DELAY 60.0

bool retry_should_retry_status(int status, const char *x_should_retry)
{
    if (x_should_retry) {
        if (strcmp(x_should_retry, "true") == 0) return true;
        if (strcmp(x_should_retry, "false") == 0) return false;
    }
    return status == 408 || status == 409 || status == 429 || status >= 500;
}

/* Python's float(): decimal or exponent notation, surrounding blanks allowed, nothing else. */
static bool parse_float(const char *s, double *out)
{
    if (!s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE) return false;
    while (*end == ' ' || *end == '\t') end++;
    if (*end || v != v) return false; /* NaN */
    *out = v;
    return true;
}

bool retry_after_seconds(const struct http_headers *h, int64_t now, double *out)
{
    if (!h) return false;
    double v;
    if (parse_float(http_headers_get(h, "retry-after-ms"), &v)) {
        *out = v / 1000.0;
        return true;
    }
    const char *ra = http_headers_get(h, "retry-after");
    if (parse_float(ra, &v)) {
        *out = v;
        return true;
    }
    int64_t when;
    if (ra && http_date_parse(ra, &when)) {
        *out = (double)(when - now);
        return true;
    }
    return false;
}

long retry_delay_ms(const struct http_headers *h, int n, int64_t now, double rnd)
{
    double s;
    if (retry_after_seconds(h, now, &s) && s > 0 && s <= MAX_SERVER_DELAY) {
        double ms = s * 1000.0;
        long whole = (long)ms;
        return whole + (ms > (double)whole); /* rounded up: never earlier than asked */
    }
    /* min(0.5 * 2^n, 8) without libm: the cap is reached at n = 4. */
    double d = INITIAL_RETRY_DELAY;
    for (int i = 0; i < n && d < MAX_RETRY_DELAY; i++) d *= 2.0;
    if (d > MAX_RETRY_DELAY) d = MAX_RETRY_DELAY;
    d *= 1.0 - 0.25 * rnd;
    return d > 0 ? (long)(d * 1000.0) : 0;
}
