/* Timestamps as AWS services write them: RFC 3339 / ISO 8601 date-times in UTC or with an offset
 * (AWS_CREDENTIAL_EXPIRATION, IMDS and container "Expiration", STS <Expiration>,
 * credential_process "Expiration", SSO token caches). Pure functions: no locale, no time zone
 * database, no global state, so any thread may call them. */
#ifndef MANTLE_CORE_TIMEUTIL_H
#define MANTLE_CORE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SSZ" plus its NUL. */
#define TIME_ISO8601_SIZE 21

/* Parses `len` bytes of s (no NUL needed) as
 *     YYYY-MM-DD ( "T" | "t" | " " ) HH:MM:SS [ "." digits ] zone
 *     zone = "Z" | "z" | "UTC" | ( "+" | "-" ) HH [ [":"] MM ]
 * into seconds since the Unix epoch (fractional seconds are truncated toward the past; second 60,
 * a leap second, counts as the next minute's 0). Every field is range-checked (day against the
 * month, leap years included); a missing zone, surrounding blanks or trailing bytes are errors,
 * because a credential expiry read in the wrong zone would be off by hours. "UTC" is what older
 * AWS CLI v2 releases wrote in SSO caches. Returns false on malformed input (*out untouched). */
bool time_parse_iso8601(const char *s, size_t len, int64_t *out);

/* Formats t as "YYYY-MM-DDTHH:MM:SSZ". Returns false (writing "") for times before year 0 or
 * after year 9999, which the format cannot hold. */
bool time_format_iso8601(int64_t t, char out[TIME_ISO8601_SIZE]);

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and durations, never for dates. */
int64_t time_monotonic_ms(void);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; no range check). */
int64_t time_days_from_civil(int64_t year, unsigned month, unsigned day);

#endif
