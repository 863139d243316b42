/* Shared helpers for the C tests (cmocka). */
#ifndef MANTLE_TESTUTIL_H
#define MANTLE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path under the shared/ folder (MANTLE_SHARED_DIR); returns a static buffer. */
const char *test_shared_path(const char *rel);
/* Path under the source tree (MANTLE_SOURCE_DIR); returns a static buffer. */
const char *test_source_path(const char *rel);
/* Reads a whole file; returns a malloc'd NUL-terminated buffer or NULL. *len may be NULL. */
char *test_read_file(const char *path, size_t *len);

/* The value a test's injected environment falls back to for names it does not set: "true" for
 * AWS_EC2_METADATA_DISABLED, so no test can reach the real instance metadata service (only
 * loopback is allowed), else NULL. */
const char *test_env_default(const char *name);

#endif
