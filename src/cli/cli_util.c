#include "cli_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error_internal.h"

int cli_headers_add(struct cli_headers *h, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (!colon || colon == arg) return -1;
    if (h->count == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 8;
        struct mantle_header *n = realloc(h->items, ncap * sizeof *n);
        if (!n) return -1;
        h->items = n;
        h->cap = ncap;
    }
    const char *value = colon + 1;
    while (*value == ' ' || *value == '\t') value++;
    char *name = strndup(arg, (size_t)(colon - arg));
    char *val = strdup(value);
    if (!name || !val) {
        free(name);
        free(val);
        return -1;
    }
    h->items[h->count++] = (struct mantle_header){name, val};
    return 0;
}

void cli_headers_free(struct cli_headers *h)
{
    for (size_t i = 0; i < h->count; i++) {
        free((char *)h->items[i].name);
        free((char *)h->items[i].value);
    }
    free(h->items);
    *h = (struct cli_headers){0};
}

void cli_usage_error(const char *cmd, const char *msg)
{
    fprintf(stderr, "mantle %s: %s (see 'mantle %s --help')\n", cmd, msg, cmd);
}

void cli_getopt_error(const char *cmd, char **argv, int c)
{
    const char *opt = argv[optind - 1];
    if (c == ':')
        fprintf(stderr, "mantle %s: option '%s' needs a value (see 'mantle %s --help')\n", cmd, opt,
                cmd);
    else
        fprintf(stderr, "mantle %s: unknown option '%s' (see 'mantle %s --help')\n", cmd, opt, cmd);
}

const char *cli_getenv_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

char *cli_read_file(const char *path, size_t *len, struct mantle_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        mantle_error_set(err, MANTLE_E_IO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct buf b = BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    int failed = ferror(f);
    if (f != stdin) fclose(f);
    if (failed || buf_failed(&b)) {
        mantle_error_set(err, MANTLE_E_IO, "%s: read error", path);
        buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return buf_steal(&b);
}
