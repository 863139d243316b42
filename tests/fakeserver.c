#include "fakeserver.h"

#include "testutil.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void fakeserver_start(struct fakeserver *fs, char *const argv[])
{
    memset(fs, 0, sizeof *fs);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    /* posix_spawn rather than fork: the tests are multi-threaded and run under ASan. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[0]);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    posix_spawn_file_actions_addclose(&fa, out[1]);
    assert_int_equal(posix_spawn(&fs->pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    fs->in_fd = in[1];
    fs->out_fd = out[0];
    /* Byte by byte, so nothing after the line is consumed; bounded, so a child that never
     * announces itself fails the test instead of hanging it. */
    size_t n = 0;
    for (;;) {
        struct pollfd p = {fs->out_fd, POLLIN, 0};
        assert_true(poll(&p, 1, 20000) == 1);
        char ch;
        assert_int_equal(read(fs->out_fd, &ch, 1), 1);
        if (ch == '\n') break;
        assert_true(n + 1 < sizeof fs->line);
        fs->line[n++] = ch;
    }
    fs->line[n] = '\0';
}

void fakeserver_start_aws(struct fakeserver *fs, const char *services, const char *lifetime)
{
    char script[4096];
    snprintf(script, sizeof script, "%s", test_source_path("tests/servers/fake_aws.py"));
    char *argv[] = {"/usr/bin/python3", script,           "--services",    (char *)services,
                    "--lifetime",       (char *)lifetime, "--stdin-watch", NULL};
    fakeserver_start(fs, argv);
    fs->info = json_loads(fs->line, 0, NULL);
    assert_non_null(fs->info);
    (void)fakeserver_url(fs, "control");
}

void fakeserver_start_emulator(struct fakeserver *fs, const char *identities,
                               const char *const *args)
{
    char creds[64] = "/tmp/mantle-emu-creds-XXXXXX";
    test_write_temp(creds, identities);
    char path[4096];
    const char *dir = getenv("MANTLE_BUILD_DIR");
    snprintf(path, sizeof path, "%s/tools/mantle-emulator", dir ? dir : "..");
    char *argv[32] = {path, "--credentials", creds};
    size_t n = 3;
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(n < 32 - 4);
        argv[n++] = (char *)args[i];
    }
    argv[n++] = "--lifetime";
    argv[n++] = "120";
    argv[n++] = "--stdin-watch";
    argv[n] = NULL;
    fakeserver_start(fs, argv);
    memcpy(fs->identities, creds, sizeof creds);
    assert_true(strncmp(fs->line, "http://127.0.0.1:", 17) == 0);
    assert_true(strlen(fs->line) < sizeof fs->root);
    strcpy(fs->root, fs->line);
}

const char *fakeserver_url(const struct fakeserver *fs, const char *name)
{
    const char *s = json_string_value(json_object_get(fs->info, name));
    if (!s) fail_msg("no \"%s\" in the fake's announcement: %s", name, fs->line);
    return s;
}

struct body {
    char *p;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ud)
{
    struct body *b = ud;
    char *p = realloc(b->p, b->len + size * n + 1);
    assert_non_null(p);
    memcpy(p + b->len, data, size * n);
    b->p = p;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

json_t *fakeserver_http(const char *method, const char *url, const char *body)
{
    struct body b = {NULL, 0};
    CURL *e = curl_easy_init();
    assert_non_null(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    assert_int_equal(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    assert_int_equal(status, 200);
    json_t *doc = json_loads(b.p ? b.p : "", 0, NULL);
    free(b.p);
    assert_non_null(doc);
    return doc;
}

json_t *fakeserver_control(const struct fakeserver *fs, const char *method, const char *path,
                           const char *body)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", fakeserver_url(fs, "control"), path);
    return fakeserver_http(method, url, body);
}

void fakeserver_post(const struct fakeserver *fs, const char *path, const char *body)
{
    json_decref(fakeserver_control(fs, "POST", path, body));
}

json_t *fakeserver_requests(const struct fakeserver *fs, const char *service)
{
    char path[128];
    snprintf(path, sizeof path, "/requests?service=%s", service);
    json_t *doc = fakeserver_control(fs, "GET", path, NULL);
    json_t *list = json_incref(json_object_get(doc, "requests"));
    json_decref(doc);
    return list;
}

const char *fakeserver_field(const json_t *r, const char *name)
{
    return json_string_value(json_object_get(r, name));
}

const char *fakeserver_header(const json_t *r, const char *name)
{
    return json_string_value(json_object_get(json_object_get(r, "headers"), name));
}

void fakeserver_stop(struct fakeserver *fs)
{
    close(fs->in_fd);
    kill(fs->pid, SIGTERM);
    int status;
    waitpid(fs->pid, &status, 0);
    close(fs->out_fd);
    json_decref(fs->info);
    fs->info = NULL;
    if (fs->identities[0]) unlink(fs->identities);
}
