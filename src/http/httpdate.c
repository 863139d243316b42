#include "http/httpdate.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"

static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static const char *skip_blanks(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/* Reads 1..max digits. */
static const char *digits(const char *s, int max, int *out)
{
    int v = 0, n = 0;
    while (n < max && isdigit((unsigned char)s[n])) v = v * 10 + (s[n++] - '0');
    if (n == 0) return NULL;
    *out = v;
    return s + n;
}

static const char *month(const char *s, int *out)
{
    for (int i = 0; i < 12; i++)
        if (strncasecmp(s, months[i], 3) == 0) {
            *out = i + 1;
            return s + 3;
        }
    return NULL;
}

/* "HH:MM:SS" */
static const char *clock_time(const char *s, int *h, int *m, int *sec)
{
    if (!(s = digits(s, 2, h)) || *s++ != ':') return NULL;
    if (!(s = digits(s, 2, m)) || *s++ != ':') return NULL;
    return digits(s, 2, sec);
}

static bool finish(int y, int mo, int d, int h, int mi, int sec, const char *rest, int64_t *out)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*skip_blanks(rest) != '\0') return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return false;
    *out = time_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    return true;
}

bool http_date_parse(const char *s, int64_t *out)
{
    if (!s) return false;
    s = skip_blanks(s);
    const char *comma = strchr(s, ',');
    int y, mo, d, h, mi, sec;
    if (comma) {
        const char *p = skip_blanks(comma + 1);
        if (!(p = digits(p, 2, &d))) return false;
        if (*p == '-') { /* RFC 850: 06-Nov-94 */
            if (!(p = month(p + 1, &mo)) || *p++ != '-' || !(p = digits(p, 4, &y))) return false;
            if (y < 100) y += y < 70 ? 2000 : 1900;
        } else {
            if (*p++ != ' ' || !(p = month(p, &mo)) || *p++ != ' ' || !(p = digits(p, 4, &y)))
                return false;
        }
        if (*p++ != ' ' || !(p = clock_time(p, &h, &mi, &sec))) return false;
        p = skip_blanks(p);
        if (strncasecmp(p, "GMT", 3) != 0 && strncasecmp(p, "UTC", 3) != 0) return false;
        return finish(y, mo, d, h, mi, sec, p + 3, out);
    }
    /* asctime: "Sun Nov  6 08:49:37 1994" */
    const char *p = s;
    while (isalpha((unsigned char)*p)) p++;
    p = skip_blanks(p);
    if (!(p = month(p, &mo))) return false;
    p = skip_blanks(p);
    if (!(p = digits(p, 2, &d)) || *p++ != ' ' || !(p = clock_time(p, &h, &mi, &sec))) return false;
    p = skip_blanks(p);
    if (!(p = digits(p, 4, &y))) return false;
    return finish(y, mo, d, h, mi, sec, p, out);
}
