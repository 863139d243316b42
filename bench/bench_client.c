/* Client overhead: CPU time per request of mantle_responses_create() against mantle-emulator on
 * loopback, next to a bare libcurl easy loop sending the same pre-signed request (same headers,
 * same body) to the same emulator. Rounds alternate (client, bare, client, ...) in one process run
 * so both see the same machine state; CPU is getrusage(RUSAGE_SELF) user+sys, which leaves out
 * the emulator (a child process). Then SSE throughput through the client's stream path: the
 * recorded chat stream fed to it in 16 KiB chunks (SSE parse + jansson + event callback), and a
 * long streamed Responses answer from the emulator.
 *
 * Output: "name value unit" lines. Usage: bench_client [rounds] [requests_per_round] [only]
 * where only = "client", "bare" or "multi" runs just that loop (for profiling), and "requests" the
 * three request loops without the streaming figures. MANTLE_BUILD_DIR (or .)
 * locates tools/mantle-emulator. */
#define _GNU_SOURCE /* sched_setaffinity */
#include <curl/curl.h>
#include <jansson.h>
#include <mantle/mantle.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/client_internal.h"
#include "client/stream.h"
#include "core/buf.h"
#include "core/crypto.h"

#define AKID "AKIDBENCH"
#define SECRET "bench-secret"
#define BODY "{\"model\":\"openai.gpt-oss-120b\",\"input\":\"hello\"}"

static void die(const char *what)
{
    fprintf(stderr, "bench_client: %s\n", what);
    exit(1);
}

/* ---- the emulator ---- */

static pid_t emu_pid;
static int emu_in = -1, emu_out = -1;
static char emu_root[128], creds_path[64];

/* The client on CPU 0, the emulator on CPU 1, when there are two, so that every run has the
 * same placement (unpinned, the scheduler sometimes runs them on one CPU, which changes both
 * loops' costs). MANTLE_BENCH_NO_PIN=1 turns it off. */
static bool pin_to(int cpu)
{
    if (getenv("MANTLE_BENCH_NO_PIN") || sysconf(_SC_NPROCESSORS_ONLN) < 2) return false;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0;
}

static void emu_start(void)
{
    snprintf(creds_path, sizeof creds_path, "/tmp/mantle-bench-creds-XXXXXX");
    int fd = mkstemp(creds_path);
    if (fd < 0) die("mkstemp");
    const char *line = AKID " " SECRET "\n";
    if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) die("write");
    close(fd);
    char path[4096];
    const char *dir = getenv("MANTLE_BUILD_DIR");
    snprintf(path, sizeof path, "%s/tools/mantle-emulator", dir ? dir : ".");
    int in[2], out[2];
    if (pipe(in) || pipe(out)) die("pipe");
    emu_pid = fork();
    if (emu_pid < 0) die("fork");
    if (emu_pid == 0) {
        pin_to(1);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        char *argv[] = {path,  "--credentials", creds_path, "--lifetime",
                        "600", "--stdin-watch", NULL};
        execv(path, argv);
        _exit(127);
    }
    if (pin_to(0)) printf("# pinned: this process on CPU 0, the emulator on CPU 1\n");
    close(in[0]);
    close(out[1]);
    emu_in = in[1];
    emu_out = out[0];
    size_t n = 0;
    for (;;) {
        struct pollfd p = {emu_out, POLLIN, 0};
        char ch;
        if (poll(&p, 1, 20000) != 1 || read(emu_out, &ch, 1) != 1)
            die("the emulator did not start (set MANTLE_BUILD_DIR)");
        if (ch == '\n') break;
        if (n + 1 < sizeof emu_root) emu_root[n++] = ch;
    }
    emu_root[n] = '\0';
}

static void emu_stop(void)
{
    close(emu_in);
    kill(emu_pid, SIGTERM);
    int st;
    waitpid(emu_pid, &st, 0);
    close(emu_out);
    unlink(creds_path);
}

/* ---- CPU time ---- */

static double cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the client ---- */

static struct mantle_client *client;

static void client_round(int n)
{
    for (int i = 0; i < n; i++) {
        struct mantle_response *r = NULL;
        struct mantle_error err = MANTLE_ERROR_INIT;
        if (mantle_responses_create(client, mantle_json_text(BODY), &r, &err) != MANTLE_OK) {
            fprintf(stderr, "client request failed: %s\n", err.message);
            exit(1);
        }
        mantle_response_free(r);
    }
}

/* ---- bare libcurl: one easy handle, the same request signed once ---- */

static CURL *bare;
static struct curl_slist *bare_headers;
static struct buf bare_body = BUF_INIT;

static size_t bare_write(char *p, size_t s, size_t n, void *ud)
{
    (void)ud;
    buf_append(&bare_body, p, s * n);
    return s * n;
}

static void bare_setup(void)
{
    char url[256];
    snprintf(url, sizeof url, "%s/openai/v1/responses", emu_root);
    char cl[16];
    snprintf(cl, sizeof cl, "%zu", strlen(BODY));
    struct mantle_header h[] = {{"Content-Type", "application/json"}, {"Content-Length", cl}};
    struct mantle_sigv4_request rq = {"POST", url,          h,   2, MANTLE_PAYLOAD_BYTES,
                                      BODY,   strlen(BODY), NULL};
    struct mantle_sigv4_credentials cr = {AKID, SECRET, NULL};
    struct mantle_sigv4_params pa = MANTLE_SIGV4_PARAMS_INIT;
    pa.region = "us-east-1";
    pa.service = "bedrock-mantle";
    pa.flags = MANTLE_SIGV4_SIGN_BODY;
    struct mantle_sigv4_result *res = mantle_sigv4_result_new();
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (mantle_sigv4_sign(&rq, &cr, &pa, res, &err) != MANTLE_OK) die(err.message);
    char line[1024];
    bare_headers = curl_slist_append(bare_headers, "Content-Type: application/json");
    snprintf(line, sizeof line, "Content-Length: %s", cl);
    bare_headers = curl_slist_append(bare_headers, line);
    bare_headers = curl_slist_append(bare_headers, "Accept: application/json");
    bare_headers = curl_slist_append(bare_headers, "User-Agent: mantle/" MANTLE_VERSION_STRING);
    const struct mantle_header *add = mantle_sigv4_result_headers(res);
    for (size_t i = 0; i < mantle_sigv4_result_header_count(res); i++) {
        snprintf(line, sizeof line, "%s: %s", add[i].name, add[i].value);
        bare_headers = curl_slist_append(bare_headers, line);
    }
    bare_headers = curl_slist_append(bare_headers, "Expect:");
    mantle_sigv4_result_free(res);
    bare = curl_easy_init();
    curl_easy_setopt(bare, CURLOPT_URL, url);
    curl_easy_setopt(bare, CURLOPT_HTTPHEADER, bare_headers);
    curl_easy_setopt(bare, CURLOPT_POSTFIELDS, BODY);
    curl_easy_setopt(bare, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(BODY));
    curl_easy_setopt(bare, CURLOPT_WRITEFUNCTION, bare_write);
    curl_easy_setopt(bare, CURLOPT_NOSIGNAL, 1L);
}

static void bare_round(int n)
{
    for (int i = 0; i < n; i++) {
        buf_reset(&bare_body);
        CURLcode rc = curl_easy_perform(bare);
        long status = 0;
        curl_easy_getinfo(bare, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != 200) {
            fprintf(stderr, "bare request failed: %s, HTTP %ld: %s\n", curl_easy_strerror(rc),
                    status, bare_body.data ? bare_body.data : "");
            exit(1);
        }
    }
}

/* The same request driven through a multi handle (add, perform/poll, remove), as the client's
 * engine does: tells the multi interface's own cost apart from the client's. */
static CURLM *bare_multi;

__attribute__((noinline)) static void bare_multi_round(int n)
{
    if (!bare_multi) bare_multi = curl_multi_init();
    for (int i = 0; i < n; i++) {
        buf_reset(&bare_body);
        curl_multi_add_handle(bare_multi, bare);
        int running = 1;
        CURLcode rc = CURLE_OK;
        bool done = false;
        while (!done) {
            curl_multi_perform(bare_multi, &running);
            CURLMsg *m;
            int left;
            while ((m = curl_multi_info_read(bare_multi, &left)))
                if (m->msg == CURLMSG_DONE) {
                    rc = m->data.result;
                    done = true;
                }
            if (!done) curl_multi_poll(bare_multi, NULL, 0, 1000, NULL);
        }
        curl_multi_remove_handle(bare_multi, bare);
        if (rc != CURLE_OK) die("bare multi request failed");
    }
}

/* ---- SSE through the client's stream path ---- */

static long events_seen;

static int count_event(void *ud, const struct mantle_stream_event *ev)
{
    (void)ud;
    events_seen += ev->json != NULL || ev->data_len;
    return 0;
}

static void bench_sse_in_process(void)
{
    const char *src = getenv("MANTLE_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/sse/chat.sse", src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("# sse_in_process skipped: %s not found (set MANTLE_SOURCE_DIR)\n", path);
        return;
    }
    struct buf one = BUF_INIT;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&one, tmp, got);
    fclose(f);
    /* The chat stream without its [DONE], repeated to ~64 MB. */
    const char *done = strstr(one.data, "data: [DONE]");
    size_t unit = done ? (size_t)(done - one.data) : one.len;
    struct buf all = BUF_INIT;
    while (all.len < ((size_t)64 << 20)) buf_append(&all, one.data, unit);
    struct http_transfer t;
    http_transfer_init(&t);
    http_headers_add(&t.headers, "Content-Type", 12, "text/event-stream", 17);
    struct stream_state st;
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (stream_state_init(&st, count_event, NULL, &err) != MANTLE_OK) die("stream init");
    stream_state_reset(&st, &t);
    events_seen = 0;
    double c0 = cpu_us(), w0 = wall_s();
    for (size_t off = 0; off < all.len; off += 16384) {
        size_t n = all.len - off < 16384 ? all.len - off : 16384;
        if (stream_on_body(&st, all.data + off, n) != 0) die("stream error");
    }
    if (stream_finish(&st, &err) != MANTLE_OK) die(err.message);
    double cpu = (cpu_us() - c0) / 1e6, wall = wall_s() - w0;
    printf("sse_client_path_bytes %zu bytes\n", all.len);
    printf("sse_client_path_events %ld events\n", events_seen);
    printf("sse_client_path_events_per_second %.0f events/s\n", (double)events_seen / cpu);
    printf("sse_client_path_mb_per_second %.1f MB/s\n", (double)all.len / 1e6 / cpu);
    (void)wall;
    stream_state_free(&st);
    http_transfer_free(&t);
    buf_free(&one);
    buf_free(&all);
}

static void bench_sse_emulator(void)
{
    /* One long streamed answer: the emulator echoes the input one word per delta event. */
    struct buf input = BUF_INIT;
    for (int i = 0; i < 20000; i++) buf_append_str(&input, "word ");
    json_t *body = json_pack("{s:s, s:s, s:i}", "model", "openai.gpt-oss-120b", "input", input.data,
                             "max_output_tokens", 100000);
    events_seen = 0;
    double c0 = cpu_us(), w0 = wall_s();
    struct mantle_error err = MANTLE_ERROR_INIT;
    if (mantle_responses_stream(client, mantle_json_value(body), count_event, NULL, &err) !=
        MANTLE_OK)
        die(err.message);
    double cpu = (cpu_us() - c0) / 1e6, wall = wall_s() - w0;
    printf("sse_emulator_events %ld events\n", events_seen);
    printf("sse_emulator_events_per_cpu_second %.0f events/s\n", (double)events_seen / cpu);
    printf("sse_emulator_events_per_wall_second %.0f events/s\n", (double)events_seen / wall);
    json_decref(body);
    buf_free(&input);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    int per_round = argc > 2 ? atoi(argv[2]) : 300;
    const char *only = argc > 3 ? argv[3] : "";
    bool sse = !*only;
    if (strcmp(only, "requests") == 0) only = "";
    if (rounds < 1 || per_round < 1) die("usage: bench_client [rounds] [requests_per_round]");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    emu_start();

    char base[200];
    snprintf(base, sizeof base, "%s/openai/v1", emu_root);
    struct mantle_client_options o = MANTLE_CLIENT_OPTIONS_INIT;
    o.region = "us-east-1";
    o.base_url = base;
    o.aws_access_key_id = AKID;
    o.aws_secret_access_key = SECRET;
    struct mantle_error err = MANTLE_ERROR_INIT;
    client = mantle_client_new(&o, &err);
    if (!client) die(err.message);
    bare_setup();

    /* warm both: connections, TLS-free loopback, caches */
    client_round(50);
    bare_round(50);
    double client_cpu = 0, bare_cpu = 0, client_wall = 0, bare_wall = 0, multi_cpu = 0;
    double *ratios = calloc((size_t)rounds, sizeof *ratios);
    if (!ratios) die("out of memory");
    for (int r = 0; r < rounds; r++) {
        double round_client = client_cpu, round_bare = bare_cpu;
        double c0 = cpu_us(), w0 = wall_s();
        if (!*only || strcmp(only, "client") == 0) client_round(per_round);
        client_cpu += cpu_us() - c0;
        client_wall += wall_s() - w0;
        c0 = cpu_us(), w0 = wall_s();
        if (strcmp(only, "client") != 0 && strcmp(only, "multi") != 0) bare_round(per_round);
        bare_cpu += cpu_us() - c0;
        bare_wall += wall_s() - w0;
        c0 = cpu_us();
        if (!*only || strcmp(only, "multi") == 0) bare_multi_round(per_round);
        multi_cpu += cpu_us() - c0;
        round_bare = bare_cpu - round_bare;
        ratios[r] = round_bare > 0 ? (client_cpu - round_client) / round_bare : 0;
    }
    /* The median of the rounds' ratios: a burst of load on a shared machine moves one round, not
     * the median. */
    for (int i = 1; i < rounds; i++)
        for (int j = i; j > 0 && ratios[j - 1] > ratios[j]; j--) {
            double x = ratios[j];
            ratios[j] = ratios[j - 1];
            ratios[j - 1] = x;
        }
    double median =
        rounds % 2 ? ratios[rounds / 2] : (ratios[rounds / 2 - 1] + ratios[rounds / 2]) / 2;
    free(ratios);
    double n = (double)rounds * per_round;
    printf("requests_per_mode %.0f requests\n", n);
    printf("client_cpu_us_per_request %.1f us\n", client_cpu / n);
    printf("bare_curl_cpu_us_per_request %.1f us\n", bare_cpu / n);
    printf("client_to_bare_cpu_ratio %.3f x\n", client_cpu / bare_cpu);
    printf("client_to_bare_cpu_ratio_median_of_rounds %.3f x\n", median);
    printf("bare_curl_multi_cpu_us_per_request %.1f us\n", multi_cpu / n);
    printf("client_wall_us_per_request %.1f us\n", client_wall / n * 1e6);
    printf("bare_curl_wall_us_per_request %.1f us\n", bare_wall / n * 1e6);

    if (sse) {
        bench_sse_in_process();
        bench_sse_emulator();
    }

    mantle_client_free(client);
    if (bare_multi) curl_multi_cleanup(bare_multi);
    curl_easy_cleanup(bare);
    curl_slist_free_all(bare_headers);
    buf_free(&bare_body);
    emu_stop();
    return 0;
}
