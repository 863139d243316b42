/* Small helpers shared by the CLI commands. */
#ifndef MANTLE_CLI_UTIL_H
#define MANTLE_CLI_UTIL_H

#include <mantle/mantle.h>
#include <stddef.h>

/* Headers given with -H, as owned copies. */
struct cli_headers {
    struct mantle_header *items;
    size_t count, cap;
};

/* Parses "Name: value" (value trimmed of leading blanks). Returns 0, or -1 without ':'. */
int cli_headers_add(struct cli_headers *h, const char *arg);
void cli_headers_free(struct cli_headers *h);

void cli_usage_error(const char *cmd, const char *msg);
/* Reports getopt's ':' (missing argument) or '?' (unknown option) results. */
void cli_getopt_error(const char *cmd, char **argv, int c);
/* getenv, treating "" as unset. */
const char *cli_getenv_nonempty(const char *name);
/* Reads a whole file ("-" is stdin); returns a malloc'd NUL-terminated buffer or NULL + err. */
char *cli_read_file(const char *path, size_t *len, struct mantle_error *err);

#endif
