/* HTTP dates (RFC 9110 section 5.6.7): the Date and Retry-After headers. */
#ifndef MANTLE_HTTP_HTTPDATE_H
#define MANTLE_HTTP_HTTPDATE_H

#include <stdbool.h>
#include <stdint.h>

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the obsolete RFC 850 form
 * ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6 08:49:37 1994") into seconds since
 * the epoch. Surrounding blanks are allowed. False on anything else (*out untouched). */
bool http_date_parse(const char *s, int64_t *out);

#endif
