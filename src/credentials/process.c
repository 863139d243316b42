/* credential_process (botocore's ProcessProvider): the profile names a command whose stdout is a
 * JSON credential document.
 *
 * As botocore, the command line is split like shlex.split (POSIX rules) and run without a shell,
 * so `;`, `|` or `$VAR` are plain argument text. Unlike botocore, which waits forever, the run is
 * bounded (60 s, the Go SDK's limit): on timeout the whole process group is killed, so helpers the
 * command started do not linger. stdin is /dev/null (a library cannot hand over a terminal), stdout
 * is capped at 64 KiB, and stderr is only used, trimmed, in the error of a failed run (botocore
 * puts it there too). */
#define _GNU_SOURCE /* pipe2 */
#include "profile_providers.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error_internal.h"
#include "core/secret.h"
#include "core/timeutil.h"

extern char **environ;

/* ---- shlex.split ---- */

void creds_process_argv_free(char **argv)
{
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Python's shlex with posix=True, whitespace_split=True, comments off. The cases that matter:
 * quotes join with adjacent text ("a"b -> ab), '' gives an empty argument, a backslash outside
 * quotes escapes any character, inside double quotes only `"` and `\`, inside single quotes
 * nothing. */
mantle_code creds_process_split(const char *line, char ***argv_out, size_t *argc_out,
                                struct mantle_error *err)
{
    *argv_out = NULL;
    *argc_out = 0;
    size_t cap = 8, n = 0;
    char **argv = calloc(cap, sizeof *argv);
    struct buf tok = BUF_INIT;
    if (!argv) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    const char *s = line;
    mantle_code rc = MANTLE_OK;
    while (*s) {
        while (is_blank(*s)) s++;
        if (!*s) break;
        buf_reset(&tok);
        buf_append(&tok, "", 0); /* an empty argument ('') still needs storage */
        while (*s && !is_blank(*s)) {
            char c = *s++;
            if (c == '\\') {
                if (!*s) {
                    rc = mantle_error_set(err, MANTLE_E_CONFIG, "No escaped character");
                    goto fail;
                }
                buf_append_char(&tok, *s++);
            } else if (c == '\'') {
                while (*s && *s != '\'') buf_append_char(&tok, *s++);
                if (!*s) goto unclosed;
                s++;
            } else if (c == '"') {
                while (*s && *s != '"') {
                    if (*s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
                    buf_append_char(&tok, *s++);
                }
                if (!*s) goto unclosed;
                s++;
            } else {
                buf_append_char(&tok, c);
            }
        }
        if (n + 2 > cap) {
            char **grown = realloc(argv, cap * 2 * sizeof *argv);
            if (!grown) goto nomem;
            argv = grown;
            cap *= 2;
        }
        if (!(argv[n] = buf_steal(&tok))) goto nomem;
        argv[++n] = NULL;
    }
    buf_free(&tok);
    *argv_out = argv;
    *argc_out = n;
    return MANTLE_OK;
unclosed:
    rc = mantle_error_set(err, MANTLE_E_CONFIG, "No closing quotation");
    goto fail;
nomem:
    rc = mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
fail:
    buf_free(&tok);
    argv[n] = NULL;
    creds_process_argv_free(argv);
    return rc;
}

/* ---- running the command ---- */

struct run_result {
    struct buf out; /* stdout; wiped: it holds the secret */
    char err[CREDS_PROCESS_MAX_STDERR + 1];
    size_t err_len;
    int status; /* waitpid status */
    bool timed_out, too_big;
};

static void kill_group(pid_t pid)
{
    kill(-pid, SIGKILL); /* the group: the command and anything it started */
    kill(pid, SIGKILL);  /* in case it left the group */
}

/* A credential_process command may itself run mantle (or another SDK) whose chain runs the same
 * command again: without a bound that is a fork bomb. Every child gets its nesting depth in the
 * environment, and a provider already this deep refuses to start another level. */
#define DEPTH_VAR "MANTLE_CREDENTIAL_PROCESS_DEPTH"
#define MAX_DEPTH 4

static int current_depth(void)
{
    const char *v = getenv(DEPTH_VAR); /* the real environment: it is about this process */
    int d = v ? atoi(v) : 0;
    return d < 0 ? 0 : d;
}

/* environ with DEPTH_VAR replaced by depth + 1. NULL when out of memory. */
static char **child_environ(char *depth_entry, size_t cap)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **envp = malloc((n + 2) * sizeof *envp);
    if (!envp) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], DEPTH_VAR "=", sizeof DEPTH_VAR) != 0) envp[k++] = environ[i];
    snprintf(depth_entry, cap, DEPTH_VAR "=%d", current_depth() + 1);
    envp[k++] = depth_entry;
    envp[k] = NULL;
    return envp;
}

static mantle_code spawn(char **argv, int out_w, int err_w, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&fa)) return MANTLE_E_NOMEM;
    if (posix_spawnattr_init(&attr)) {
        posix_spawn_file_actions_destroy(&fa);
        return MANTLE_E_NOMEM;
    }
    int rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc |= posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    rc |= posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    /* Own process group (to kill it whole on timeout); the worker threads we may run on block
     * every signal, and the child must not inherit that mask nor ignored signals. */
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    static const int defsigs[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGTERM, SIGHUP,
                                  SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof defsigs / sizeof defsigs[0]; i++)
        sigaddset(&defaults, defsigs[i]);
    rc |= posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    rc |= posix_spawnattr_setpgroup(&attr, 0);
    rc |= posix_spawnattr_setsigmask(&attr, &empty);
    rc |= posix_spawnattr_setsigdefault(&attr, &defaults);
    char depth_entry[64];
    char **envp = rc ? NULL : child_environ(depth_entry, sizeof depth_entry);
    if (envp)
        rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, envp);
    else
        rc = ENOMEM;
    free(envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    errno = rc;
    return rc ? MANTLE_E_IO : MANTLE_OK;
}

/* Runs argv, filling r. Returns MANTLE_OK once the process has been reaped (whatever its status),
 * or MANTLE_E_IO if it could not be started (errno kept in *start_errno). */
static mantle_code run(char **argv, long timeout_ms, struct run_result *r, int *start_errno)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
        *start_errno = errno;
        if (outp[0] >= 0) {
            close(outp[0]);
            close(outp[1]);
        }
        return MANTLE_E_IO;
    }
    pid_t pid = -1;
    mantle_code rc = spawn(argv, outp[1], errp[1], &pid);
    *start_errno = errno;
    close(outp[1]);
    close(errp[1]);
    if (rc) {
        close(outp[0]);
        close(errp[0]);
        return rc;
    }
    int64_t deadline = time_monotonic_ms() + timeout_ms;
    struct pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
    int open_fds = 2;
    char chunk[4096];
    while (open_fds > 0 && !r->too_big) {
        int64_t left = deadline - time_monotonic_ms();
        if (left <= 0) {
            r->timed_out = true;
            break;
        }
        int pr = poll(fds, 2, left > 1000 ? 1000 : (int)left);
        if (pr < 0 && errno != EINTR) break;
        for (int i = 0; i < 2 && pr > 0; i++) {
            if (fds[i].fd < 0 || !fds[i].revents) continue;
            ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                if (r->out.len + (size_t)got > CREDS_PROCESS_MAX_STDOUT)
                    r->too_big = true;
                else
                    buf_append(&r->out, chunk, (size_t)got);
            } else {
                size_t room = CREDS_PROCESS_MAX_STDERR - r->err_len;
                size_t take = (size_t)got < room ? (size_t)got : room; /* drain the rest */
                memcpy(r->err + r->err_len, chunk, take);
                r->err_len += take;
            }
        }
    }
    secret_wipe(chunk, sizeof chunk);
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    /* Both pipes closed: the command normally exits now; give it what is left of the bound. */
    for (;;) {
        if (r->timed_out || r->too_big) {
            kill_group(pid);
            while (waitpid(pid, &r->status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        pid_t w = waitpid(pid, &r->status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) { /* e.g. SIGCHLD ignored by the application: no status */
            r->status = 0;
            break;
        }
        if (time_monotonic_ms() >= deadline) {
            r->timed_out = true;
            continue;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    r->err[r->err_len] = '\0';
    return MANTLE_OK;
}

/* stderr for a message: control characters become spaces, blanks trimmed. */
static const char *tidy_stderr(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
    while (*s == ' ') s++;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == ' ') s[--len] = '\0';
    return s;
}

/* ---- the JSON document ---- */

static void wipe_strings(json_t *doc)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        if (json_is_string(v)) secret_wipe((char *)json_string_value(v), json_string_length(v));
    }
}

static mantle_code member(json_t *doc, const char *name, bool required, const char **out,
                          const char *who, struct mantle_error *err)
{
    json_t *v = json_object_get(doc, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return MANTLE_OK;
        return mantle_error_set(err, MANTLE_E_CREDENTIALS, "%s: the output has no %s (required)",
                                who, name);
    }
    if (!json_is_string(v))
        return mantle_error_set(err, MANTLE_E_CREDENTIALS, "%s: %s in the output is not a string",
                                who, name);
    *out = json_string_value(v);
    return MANTLE_OK;
}

static mantle_code parse_output(const struct buf *out, const char *who, const char *profile_acct,
                                struct mantle_credentials **creds, struct mantle_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loadb(out->data ? out->data : "", out->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return mantle_error_set(err, MANTLE_E_CREDENTIALS, "%s: the output is not a JSON object",
                                who);
    }
    mantle_code rc = MANTLE_OK;
    json_t *version = json_object_get(doc, "Version");
    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "%s: unsupported Version in the output (supported versions: 1)", who);
        goto out;
    }
    const char *akid, *secret, *token, *expiry, *account;
    if ((rc = member(doc, "AccessKeyId", true, &akid, who, err)) ||
        (rc = member(doc, "SecretAccessKey", true, &secret, who, err)) ||
        (rc = member(doc, "SessionToken", false, &token, who, err)) ||
        (rc = member(doc, "Expiration", false, &expiry, who, err)) ||
        (rc = member(doc, "AccountId", false, &account, who, err)))
        goto out;
    int64_t expiration = 0;
    if (expiry && (!time_parse_iso8601(expiry, strlen(expiry), &expiration) || expiration <= 0)) {
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "%s: Expiration in the output is not an ISO 8601 timestamp", who);
        goto out;
    }
    if (!account || !*account) account = profile_acct;
    const struct creds_fields f = {akid, secret, token, expiration, account, who};
    if (!(*creds = creds_new(&f, err))) {
        rc = err ? err->code : MANTLE_E_CREDENTIALS;
        mantle_error_prefix(err, "%s", who);
    }
out:
    wipe_strings(doc);
    json_decref(doc);
    return rc;
}

/* ---- the provider ---- */

struct process_impl {
    struct mantle_credentials_options opts;
    long timeout_ms;
};

static mantle_code process_get(void *impl, struct mantle_credentials **out,
                               struct mantle_error *err)
{
    const struct process_impl *pi = impl;
    bool named = false;
    char *name = creds_profile_select(&pi->opts, &named);
    if (!name) return mantle_error_set(err, MANTLE_E_NOMEM, "out of memory");
    struct profile_set *set = NULL;
    char **argv = NULL;
    size_t argc = 0;
    struct run_result r = {BUF_INIT, {0}, 0, 0, false, false};
    char who[300];
    snprintf(who, sizeof who, "process (profile %s)", name);
    mantle_code rc =
        creds_profile_load(&pi->opts, CREDS_LOAD_CONFIG | CREDS_LOAD_CREDENTIALS, &set, err);
    if (rc) {
        mantle_error_prefix(err, "%s", who);
        goto out;
    }
    const struct profile *p = profile_set_get(set, PROFILE_KIND_PROFILE, name);
    const char *cmd = p ? profile_get(p, "credential_process") : NULL;
    if (!cmd) {
        rc = creds_not_found(err, "process (profile %s: no credential_process)", name);
        goto out;
    }
    if ((rc = creds_process_split(cmd, &argv, &argc, err))) {
        mantle_error_prefix(err, "%s: credential_process cannot be split into arguments", who);
        goto out;
    }
    if (argc == 0) {
        rc = mantle_error_set(err, MANTLE_E_CONFIG, "%s: credential_process is empty", who);
        goto out;
    }
    if (current_depth() >= MAX_DEPTH) {
        rc = mantle_error_set(err, MANTLE_E_CONFIG,
                              "%s: credential_process commands are nested %d deep (does the "
                              "command run mantle with the same profile?); refusing to go deeper",
                              who, current_depth());
        goto out;
    }
    int start_errno = 0;
    if (run(argv, pi->timeout_ms, &r, &start_errno)) {
        rc = mantle_error_set(err, MANTLE_E_IO, "%s: the command could not be started: %s", who,
                              strerror(start_errno));
        goto out;
    }
    const char *why = tidy_stderr(r.err);
    if (r.timed_out) {
        rc = mantle_error_set(err, MANTLE_E_TIMEOUT,
                              "%s: the command did not finish within %ld s and was killed", who,
                              pi->timeout_ms / 1000);
    } else if (r.too_big) {
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "%s: the command wrote more than %d bytes to stdout", who,
                              CREDS_PROCESS_MAX_STDOUT);
    } else if (WIFSIGNALED(r.status)) {
        rc = mantle_error_set(err, MANTLE_E_CREDENTIALS,
                              "%s: the command was killed by signal %d%s%s", who,
                              WTERMSIG(r.status), *why ? ": " : "", why);
    } else if (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0) {
        rc =
            mantle_error_set(err, MANTLE_E_CREDENTIALS, "%s: the command exited with status %d%s%s",
                             who, WEXITSTATUS(r.status), *why ? ": " : "", why);
    } else {
        rc = parse_output(&r.out, who, profile_get(p, "aws_account_id"), out, err);
    }
out:
    buf_wipe(&r.out);
    secret_wipe(r.err, sizeof r.err);
    creds_process_argv_free(argv);
    profile_set_free(set);
    free(name);
    return rc;
}

static void process_destroy(void *impl)
{
    struct process_impl *pi = impl;
    creds_options_free(&pi->opts);
    free(pi);
}

static const struct mantle_credentials_provider_vtable process_vtable = {
    .get = process_get,
    .destroy = process_destroy,
};

struct mantle_credentials_provider *
creds_process_new_with(const struct mantle_credentials_options *o, long timeout_ms,
                       struct mantle_error *err)
{
    if (timeout_ms <= 0) {
        mantle_error_set(err, MANTLE_E_INVALID_ARGUMENT, "process provider: bad timeout");
        return NULL;
    }
    struct process_impl *pi = calloc(1, sizeof *pi);
    if (!pi || !creds_options_copy(&pi->opts, o)) {
        free(pi);
        mantle_error_set(err, MANTLE_E_NOMEM, "out of memory creating the process provider");
        return NULL;
    }
    pi->timeout_ms = timeout_ms;
    struct mantle_credentials_provider *p = provider_new(&process_vtable, pi, err);
    if (!p) process_destroy(pi);
    return p;
}

struct mantle_credentials_provider *creds_process_new(const struct mantle_credentials_options *o,
                                                      struct mantle_error *err)
{
    return creds_process_new_with(o, CREDS_PROCESS_TIMEOUT_MS, err);
}
