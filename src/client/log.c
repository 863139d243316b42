/* Logging: a caller's log_fn, or stderr when MANTLE_LOG=debug|info|warn. Lines arrive already
 * redacted (request.c passes every header and URL through redact.c). */
#include "client/client_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

static void log_stderr(void *ud, enum mantle_log_level level, const char *line)
{
    (void)ud;
    static const char *const names[] = {"debug", "info", "warn"};
    fprintf(stderr, "mantle %s: %s\n", names[level], line);
}

static int parse_level(const char *s)
{
    if (!s || !*s) return -1;
    if (strcasecmp(s, "debug") == 0 || strcasecmp(s, "trace") == 0) return MANTLE_LOG_DEBUG;
    if (strcasecmp(s, "info") == 0) return MANTLE_LOG_INFO;
    if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0) return MANTLE_LOG_WARN;
    return -1;
}

void client_log_init(struct client_log *log, mantle_log_fn *fn, void *ud, const char *level_name)
{
    int level = parse_level(level_name);
    log->fn = fn;
    log->ud = ud;
    log->min_level = level < 0 ? MANTLE_LOG_DEBUG : level;
    if (!fn && level >= 0) {
        log->fn = log_stderr;
        log->ud = NULL;
    }
}

void client_log(const struct mantle_client *c, enum mantle_log_level level, const char *fmt, ...)
{
    if (!client_log_on(c, level)) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    c->log.fn(c->log.ud, level, line);
}
