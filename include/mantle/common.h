/*
 * mantle/common.h - version, export macro and the few types every header shares.
 *
 * Thread-safety: everything declared here is safe to call from any thread.
 */
#ifndef MANTLE_COMMON_H
#define MANTLE_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define MANTLE_API __attribute__((visibility("default")))
#else
#define MANTLE_API
#endif

#define MANTLE_VERSION_MAJOR 0
#define MANTLE_VERSION_MINOR 1
#define MANTLE_VERSION_PATCH 0
#define MANTLE_VERSION_STRING "0.1.0"
/* 0xMMmmpp, for compile-time checks (as LIBCURL_VERSION_NUM). */
#define MANTLE_VERSION_NUM 0x000100

/* The library's version at run time, e.g. "0.1.0". Static string; never free it. */
MANTLE_API const char *mantle_version(void);

/* One HTTP header as two NUL-terminated strings. Borrowed: the library never keeps the pointers
 * past the call that receives them. */
struct mantle_header {
    const char *name;
    const char *value;
};

/* Frees a string or buffer the library handed out and documented as "free with mantle_free".
 * NULL is allowed. */
MANTLE_API void mantle_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* MANTLE_COMMON_H */
