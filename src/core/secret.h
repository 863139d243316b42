/* Secret material: wiped with OPENSSL_cleanse (which the compiler cannot optimize away)
 * before its memory is released. */
#ifndef MANTLE_CORE_SECRET_H
#define MANTLE_CORE_SECRET_H

#include <stddef.h>

void secret_wipe(void *p, size_t len);
/* Copies a NUL-terminated secret; NULL in gives NULL out (check errno-free: compare inputs). */
char *secret_strdup(const char *s);
/* Wipes strlen(s) bytes, then frees. NULL is allowed. */
void secret_free(char *s);

#endif
