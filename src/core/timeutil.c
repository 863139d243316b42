#include "timeutil.h"

#include <stdio.h>
#include <time.h>

/* Calendar arithmetic on 400-year eras (146097 days each), which makes the Gregorian leap rules
 * regular; March-based years put the leap day last. No libc: timegm() is not in C11 or POSIX. */
int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                      /* [0, 399] */
    int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9; /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;              /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              /* [0, 146096] */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

static void civil_from_days(int64_t z, int64_t *year, unsigned *month, unsigned *day)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits at *p (bounded by end). */
static bool digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    if (end - *p < n) return false;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c) return false;
    (*p)++;
    return true;
}

/* The zone designator; *offset is what to subtract from local time to get UTC, in seconds. */
static bool parse_zone(const char *p, const char *end, int64_t *offset)
{
    if (end - p == 1 && (*p == 'Z' || *p == 'z')) {
        *offset = 0;
        return true;
    }
    if (end - p == 3 && p[0] == 'U' && p[1] == 'T' && p[2] == 'C') {
        *offset = 0;
        return true;
    }
    if (p >= end || (*p != '+' && *p != '-')) return false;
    int sign = *p++ == '-' ? -1 : 1;
    unsigned hh, mm = 0;
    if (!digits(&p, end, 2, &hh) || hh > 23) return false;
    if (p < end) {
        if (*p == ':') p++;
        if (!digits(&p, end, 2, &mm) || mm > 59) return false;
    }
    if (p != end) return false;
    *offset = sign * (int64_t)(hh * 3600 + mm * 60);
    return true;
}

bool time_parse_iso8601(const char *s, size_t len, int64_t *out)
{
    if (!s || !out) return false;
    const char *p = s, *end = s + len;
    unsigned year, month, day, hour, minute, second;
    if (!digits(&p, end, 4, &year) || !expect(&p, end, '-') || !digits(&p, end, 2, &month) ||
        !expect(&p, end, '-') || !digits(&p, end, 2, &day))
        return false;
    if (p >= end || (*p != 'T' && *p != 't' && *p != ' ')) return false;
    p++;
    if (!digits(&p, end, 2, &hour) || !expect(&p, end, ':') || !digits(&p, end, 2, &minute) ||
        !expect(&p, end, ':') || !digits(&p, end, 2, &second))
        return false;
    if (p < end && *p == '.') {
        const char *frac = ++p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == frac) return false; /* "." needs at least one digit */
    }
    int64_t offset;
    if (!parse_zone(p, end, &offset)) return false;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;
    int64_t days = time_days_from_civil(year, month, day);
    *out = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    return true;
}

bool time_format_iso8601(int64_t t, char out[TIME_ISO8601_SIZE])
{
    /* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
    if (t < -62167219200 || t > 253402300799) {
        out[0] = '\0';
        return false;
    }
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    snprintf(out, TIME_ISO8601_SIZE, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)year, month, day,
             (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    return true;
}

int64_t time_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
