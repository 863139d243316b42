/* What the client puts on the wire, seen through its attempt hook, and that it never follows a
 * redirect under SigV4 (a redirect would carry the signature to another URL). */
#include "testutil.h"

#include <arpa/inet.h>
#include <mantle/mantle.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_internal.h"

static struct mantle_client *sigv4_client(const char *base_url, const char *query,
                                          const char *ua_suffix)
{
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.base_url = base_url;
    o.region = "us-east-1";
    o.aws_access_key_id = "AKIDWIRE";
    o.aws_secret_access_key = "wire-secret";
    o.default_query = query;
    o.user_agent_suffix = ua_suffix;
    o.max_retries = MANTLE_RETRIES_NONE;
    struct mantle_error err = MANTLE_ERROR_INIT;
    struct mantle_client *c = mantle_client_new(&o, &err);
    if (!c) fail_msg("client: %s", err.message);
    return c;
}

/* ---- default query and user agent ---- */

struct seen {
    char url[512];
    char user_agent[256];
    char signed_headers[256];
};

static int capture(void *ud, int attempt, const char *url, const struct mantle_header *h, size_t n)
{
    (void)attempt;
    struct seen *s = ud;
    snprintf(s->url, sizeof s->url, "%s", url);
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "User-Agent") == 0)
            snprintf(s->user_agent, sizeof s->user_agent, "%s", h[i].value);
        if (strcasecmp(h[i].name, "Authorization") == 0) {
            const char *sh = strstr(h[i].value, "SignedHeaders=");
            if (sh) snprintf(s->signed_headers, sizeof s->signed_headers, "%s", sh);
        }
    }
    return 1; /* stop before anything is sent */
}

static void test_default_query_and_user_agent(void **state)
{
    (void)state;
    struct mantle_client *c =
        sigv4_client("http://127.0.0.1:1/openai/v1", "api-version=2026-01-01", "myapp/1.2");
    struct seen s = {{0}, {0}, {0}};
    struct client_test_hooks hk = {0};
    hk.on_attempt = capture;
    hk.ud = &s;
    client_set_test_hooks(c, &hk);
    struct mantle_response *r = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    assert_int_equal(mantle_responses_input_items(c, "resp_1", "limit=2", &r, &err),
                     MANTLE_E_CANCELLED);
    assert_null(r);
    assert_non_null(strstr(s.url, "/openai/v1/responses/resp_1/input_items?"));
    assert_non_null(strstr(s.url, "api-version=2026-01-01"));
    assert_non_null(strstr(s.url, "limit=2"));
    assert_string_equal(s.user_agent, "mantle/" MANTLE_VERSION_STRING " myapp/1.2");
    /* the user agent is sent but never signed (proxies rewrite it) */
    assert_non_null(strstr(s.signed_headers, "host;x-amz-content-sha256;x-amz-date"));
    assert_null(strstr(s.signed_headers, "user-agent"));
    mantle_client_free(c);
}

/* ---- redirects ---- */

struct redirector {
    int fd;
    int port;
};

/* Answers one request with a 302 to a closed port, then closes. */
static void *redirect_once(void *ud)
{
    struct redirector *rd = ud;
    int conn = accept(rd->fd, NULL, NULL);
    if (conn < 0) return NULL;
    char buf[8192];
    ssize_t got = recv(conn, buf, sizeof buf, 0); /* the request head (and a small body) */
    (void)got;
    static const char reply[] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
    ssize_t sent = send(conn, reply, sizeof reply - 1, 0);
    (void)sent;
    close(conn);
    return NULL;
}

static void test_redirect_not_followed(void **state)
{
    (void)state;
    struct redirector rd = {socket(AF_INET, SOCK_STREAM, 0), 0};
    assert_true(rd.fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    assert_int_equal(bind(rd.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(rd.fd, 1), 0);
    assert_int_equal(getsockname(rd.fd, (struct sockaddr *)&a, &alen), 0);
    rd.port = ntohs(a.sin_port);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, redirect_once, &rd), 0);

    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/openai/v1", rd.port);
    struct mantle_client *c = sigv4_client(base, NULL, NULL);
    struct mantle_response *r = NULL;
    struct mantle_error err = MANTLE_ERROR_INIT;
    mantle_code rc = mantle_models_list(c, &r, &err);
    /* Followed, it would reach the closed port: a connection error. Not followed: the 302. */
    assert_int_equal(rc, MANTLE_E_HTTP);
    assert_int_equal(err.http_status, 302);
    assert_int_equal(err.attempts, 1);
    assert_null(r);
    mantle_client_free(c);
    pthread_join(th, NULL);
    close(rd.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_query_and_user_agent),
        cmocka_unit_test(test_redirect_not_followed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
