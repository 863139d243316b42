/* Internal helpers for filling struct mantle_error. */
#ifndef MANTLE_CORE_ERROR_INTERNAL_H
#define MANTLE_CORE_ERROR_INTERNAL_H

#include <mantle/error.h>

/* Sets err->code and a printf-formatted message (truncated to fit); err may be NULL.
 * Returns `code` so callers can `return mantle_error_set(err, ...)`. Never pass secrets.
 * Cold: the compiler moves the paths that call it out of the hot functions (.text.unlikely),
 * so a request's code is denser and touches fewer instruction cache lines. */
mantle_code mantle_error_set(struct mantle_error *err, mantle_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold));

/* Puts "prefix: " in front of the existing message (used to add context such as a file name). */
void mantle_error_prefix(struct mantle_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
