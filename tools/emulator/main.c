/* mantle-emulator: options, the listening socket (loopback only), and the lifetime: it stops
 * after --lifetime seconds, on SIGINT/SIGTERM, or when stdin closes (--stdin-watch), so a
 * crashed test never leaves a server behind. */
#include "emulator.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <mantle/sigv4.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/secret.h"

enum { EXIT_USAGE = 2 };

atomic_bool emu_stopping;
static int signal_pipe[2] = {-1, -1};

void emu_sleep_ms(long ms)
{
    /* Small steps, so a stopping emulator never waits for a long fault delay. */
    while (ms > 0 && !emu_stopping) {
        long step = ms < 20 ? ms : 20;
        struct timespec ts = {0, step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void usage(FILE *out)
{
    fputs("usage: mantle-emulator [options]\n"
          "\n"
          "A local Amazon Bedrock Mantle server (OpenAI Responses, Chat Completions, Models,\n"
          "Anthropic Messages) that verifies SigV4 like AWS. Prints its base URL on the first\n"
          "line of stdout, then serves until its lifetime ends, SIGINT/SIGTERM, or stdin EOF\n"
          "(with --stdin-watch).\n"
          "\n"
          "  --listen HOST:PORT      loopback address to bind (default 127.0.0.1:0 = any port)\n"
          "  --credentials FILE|env  accepted identities: FILE has lines\n"
          "                          'ACCESS_KEY_ID SECRET [SESSION_TOKEN|- [EXPIRATION]]';\n"
          "                          env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,\n"
          "                          AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION (repeatable)\n"
          "  --api-key KEY|env       accepted Bedrock API key (Authorization: Bearer KEY);\n"
          "                          env: AWS_BEARER_TOKEN_BEDROCK (repeatable)\n"
          "  --region REGION         signing region (default us-east-1)\n"
          "  --service NAME          signing service (default bedrock-mantle; repeatable)\n"
          "  --lifetime SECONDS      stop after this long (default 600; 0: no limit)\n"
          "  --stdin-watch           stop when stdin reaches EOF\n"
          "  --verbose               one line per request on stderr (never secrets)\n"
          "\n"
          "fault options (also per request: header 'x-mantle-emulator-fault: name=value, ...'):\n"
          "  --fail-status CODE[:COUNT]  answer CODE to the first COUNT requests (default all)\n"
          "  --retry-after S             retry-after header on injected failures\n"
          "  --retry-after-ms MS         retry-after-ms header on injected failures\n"
          "  --x-should-retry true|false x-should-retry header on every reply\n"
          "  --delay MS                  wait before answering\n"
          "  --event-delay MS            wait before each streamed event but the first\n"
          "  --drop-mid-stream N         close the connection after N streamed events\n"
          "  --malformed-json            answer truncated JSON\n"
          "  --clock-skew SECONDS        skew the server clock (5-minute check, Date header)\n"
          "  --error-shape auto|openai|anthropic|aws  body of injected failures\n",
          out);
}

static bool valid_scope_name(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-')) return false;
    return true;
}

static bool add_api_key(struct config *cfg, const char *key)
{
    if (strcmp(key, "env") == 0) {
        key = getenv("AWS_BEARER_TOKEN_BEDROCK");
        if (!key || !*key) {
            fprintf(stderr, EMU_NAME ": --api-key env needs AWS_BEARER_TOKEN_BEDROCK\n");
            return false;
        }
    }
    if (!*key) {
        fprintf(stderr, EMU_NAME ": --api-key needs a non-empty key\n");
        return false;
    }
    char **n = realloc(cfg->api_keys, (cfg->api_key_count + 1) * sizeof *n);
    if (!n) return false;
    cfg->api_keys = n;
    n[cfg->api_key_count] = secret_strdup(key);
    return n[cfg->api_key_count++] != NULL;
}

static bool add_service(struct config *cfg, const char *name)
{
    if (!valid_scope_name(name)) {
        fprintf(stderr, EMU_NAME ": --service: expected [a-z0-9-]+\n");
        return false;
    }
    const char **n = realloc(cfg->services, (cfg->service_count + 1) * sizeof *n);
    if (!n) return false;
    cfg->services = n;
    n[cfg->service_count++] = name;
    return true;
}

/* HOST:PORT with HOST 127.x.x.x, localhost or [::1]. */
static bool parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len, bool *v6)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg) {
        fprintf(stderr, EMU_NAME ": --listen: expected HOST:PORT, e.g. 127.0.0.1:0\n");
        return false;
    }
    char host[64];
    size_t hlen = (size_t)(colon - arg);
    if (hlen >= sizeof host) hlen = sizeof host - 1;
    memcpy(host, arg, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) {
        fprintf(stderr, EMU_NAME ": --listen: the port must be 0 to 65535\n");
        return false;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 &&
            IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons((uint16_t)port);
            *len = sizeof *in6;
            *v6 = true;
            return true;
        }
    } else if (inet_pton(AF_INET, host, &in4->sin_addr) == 1 &&
               (ntohl(in4->sin_addr.s_addr) >> 24) == 127) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        *v6 = false;
        return true;
    }
    fprintf(stderr,
            EMU_NAME ": refusing to listen on '%s': only loopback addresses (127.0.0.0/8, "
                     "localhost, [::1]) are allowed\n",
            arg);
    return false;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, unsigned *port)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    if (write(signal_pipe[1], "x", 1) < 0) { /* nothing to do: the pipe is full already */
    }
    errno = saved;
}

static bool setup_signals(void)
{
    if (pipe(signal_pipe) != 0) return false;
    for (int i = 0; i < 2; i++) {
        fcntl(signal_pipe[i], F_SETFL, fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the server */
    return true;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns why it stopped. */
static const char *wait_for_stop(const struct config *cfg)
{
    int64_t deadline = cfg->lifetime ? monotonic_ms() + cfg->lifetime * 1000 : 0;
    bool watch = cfg->stdin_watch;
    for (;;) {
        int timeout = 1000;
        if (deadline) {
            int64_t left = deadline - monotonic_ms();
            if (left <= 0) return "its lifetime ended";
            if (left < timeout) timeout = (int)left;
        }
        struct pollfd fds[2] = {{signal_pipe[0], POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        int n = poll(fds, watch ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR) return "poll failed";
        if (n <= 0) continue;
        if (fds[0].revents) return "it got a signal";
        if (watch && fds[1].revents) {
            char sink[4096];
            ssize_t got = read(STDIN_FILENO, sink, sizeof sink);
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
                return "stdin was closed";
        }
    }
}

enum {
    OPT_LISTEN = 256,
    OPT_CREDENTIALS,
    OPT_API_KEY,
    OPT_REGION,
    OPT_SERVICE,
    OPT_LIFETIME,
    OPT_STDIN_WATCH,
    OPT_VERBOSE,
    OPT_HELP,
    OPT_VERSION,
    OPT_FAULT, /* every fault option: faults_set() takes the option's name */
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"credentials", required_argument, NULL, OPT_CREDENTIALS},
    {"api-key", required_argument, NULL, OPT_API_KEY},
    {"region", required_argument, NULL, OPT_REGION},
    {"service", required_argument, NULL, OPT_SERVICE},
    {"lifetime", required_argument, NULL, OPT_LIFETIME},
    {"stdin-watch", no_argument, NULL, OPT_STDIN_WATCH},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {"fail-status", required_argument, NULL, OPT_FAULT},
    {"retry-after", required_argument, NULL, OPT_FAULT},
    {"retry-after-ms", required_argument, NULL, OPT_FAULT},
    {"x-should-retry", required_argument, NULL, OPT_FAULT},
    {"delay", required_argument, NULL, OPT_FAULT},
    {"event-delay", required_argument, NULL, OPT_FAULT},
    {"drop-mid-stream", required_argument, NULL, OPT_FAULT},
    {"malformed-json", no_argument, NULL, OPT_FAULT},
    {"clock-skew", required_argument, NULL, OPT_FAULT},
    {"error-shape", required_argument, NULL, OPT_FAULT},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to run, or the exit status. */
static int parse_args(int argc, char **argv, struct config *cfg, const char **listen_arg)
{
    int opt, index = 0;
    char err[256];
    while ((opt = getopt_long(argc, argv, "h", options, &index)) != -1) {
        bool ok = true;
        char *end;
        switch (opt) {
        case OPT_LISTEN:
            *listen_arg = optarg;
            break;
        case OPT_CREDENTIALS:
            ok = credentials_load(cfg, optarg);
            break;
        case OPT_API_KEY:
            ok = add_api_key(cfg, optarg);
            break;
        case OPT_REGION:
            cfg->region = optarg;
            if (!valid_scope_name(optarg)) {
                fprintf(stderr, EMU_NAME ": --region: expected [a-z0-9-]+\n");
                ok = false;
            }
            break;
        case OPT_SERVICE:
            ok = add_service(cfg, optarg);
            break;
        case OPT_LIFETIME:
            cfg->lifetime = strtol(optarg, &end, 10);
            if (!*optarg || *end || cfg->lifetime < 0 || cfg->lifetime > 31536000) {
                fprintf(stderr, EMU_NAME ": --lifetime: expected seconds (0: no limit)\n");
                ok = false;
            }
            break;
        case OPT_STDIN_WATCH:
            cfg->stdin_watch = true;
            break;
        case OPT_VERBOSE:
            cfg->verbose = true;
            break;
        case OPT_HELP:
        case 'h':
            usage(stdout);
            return -1;
        case OPT_VERSION:
            printf(EMU_NAME " %s\n", mantle_version());
            return -1;
        case OPT_FAULT:
            ok = faults_set(&cfg->faults, options[index].name, optarg, err, sizeof err);
            if (!ok) fprintf(stderr, EMU_NAME ": --%s\n", err);
            break;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, EMU_NAME ": unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!cfg->identity_count && !cfg->api_key_count) {
        fprintf(stderr, EMU_NAME ": give --credentials FILE|env and/or --api-key KEY: the "
                                 "emulator accepts no request otherwise\n");
        return EXIT_USAGE;
    }
    if (!cfg->service_count && !add_service(cfg, "bedrock-mantle")) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg = {
        .region = "us-east-1",
        .lifetime = 600,
        .faults = {.fail_count = -1,
                   .retry_after = -1,
                   .retry_after_ms = -1,
                   .x_should_retry = -1,
                   .drop_mid_stream = -1},
    };
    const char *listen_arg = "127.0.0.1:0";
    int rc = parse_args(argc, argv, &cfg, &listen_arg);
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    bool v6 = false;
    if (rc == 0 && !parse_listen(listen_arg, &ss, &sslen, &v6)) rc = EXIT_USAGE;
    if (rc != 0) {
        config_free(&cfg);
        return rc < 0 ? 0 : rc;
    }
    unsigned port = 0;
    int fd = open_listener(&ss, sslen, &port);
    if (fd < 0) {
        fprintf(stderr, EMU_NAME ": cannot listen on %s: %s\n", listen_arg, strerror(errno));
        config_free(&cfg);
        return 1;
    }
    struct server *srv = setup_signals() ? server_start(&cfg, fd, v6) : NULL;
    if (!srv) {
        fprintf(stderr, EMU_NAME ": cannot start the HTTP server\n");
        close(fd);
        config_free(&cfg);
        return 1;
    }
    char host[INET6_ADDRSTRLEN];
    if (v6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    printf(v6 ? "http://[%s]:%u\n" : "http://%s:%u\n", host, port);
    fflush(stdout);

    const char *why = wait_for_stop(&cfg);
    atomic_store(&emu_stopping, true);
    if (cfg.verbose) fprintf(stderr, EMU_NAME ": stopping: %s\n", why);
    server_stop(srv); /* closes the listening socket too */
    mantle_sigv4_key_cache_clear();
    config_free(&cfg);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    return 0;
}
